//! Time in the billing sense: instants are stored in UTC, but a billing day or month is a
//! calendar day or month in Europe/Warsaw, 23 or 25 hours long on the days the clocks change.

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// The time zone of every billing day and month.
pub const BILLING_TZ: Tz = chrono_tz::Europe::Warsaw;

/// The instant a Warsaw calendar day starts. Polish clocks change at 02:00/03:00, so local
/// midnight always exists exactly once.
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    BILLING_TZ
        .from_local_datetime(&midnight)
        .earliest()
        .expect("midnight is never skipped in Europe/Warsaw")
        .with_timezone(&Utc)
}

/// `[start, end)` of a Warsaw calendar day.
pub fn day_bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    (day_start(day), day_start(day + Days::new(1)))
}

/// The instant of a Warsaw wall-clock time, as a person enters it; the earlier one of the hour
/// that repeats in October, `None` for the hour skipped in March.
pub fn local_instant(day: NaiveDate, time: chrono::NaiveTime) -> Option<DateTime<Utc>> {
    BILLING_TZ
        .from_local_datetime(&day.and_time(time))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// The Warsaw calendar day an instant falls on.
pub fn local_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&BILLING_TZ).date_naive()
}

/// `[start, end)` of the Warsaw calendar month containing `day`.
pub fn month_bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let first = day.with_day(1).expect("day 1 exists");
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .expect("month after exists");
    (day_start(first), day_start(next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn winter_day_starts_at_23_utc_the_day_before() {
        assert_eq!(
            day_start(date(2026, 1, 15)).to_rfc3339(),
            "2026-01-14T23:00:00+00:00"
        );
    }

    #[test]
    fn spring_forward_day_has_23_hours() {
        let (start, end) = day_bounds(date(2026, 3, 29));
        assert_eq!((end - start).num_hours(), 23);
    }

    #[test]
    fn fall_back_day_has_25_hours() {
        let (start, end) = day_bounds(date(2026, 10, 25));
        assert_eq!((end - start).num_hours(), 25);
    }

    #[test]
    fn instant_just_before_local_midnight_belongs_to_that_day() {
        let t = "2026-07-31T21:59:59Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(local_day(t), date(2026, 7, 31));
        let t = "2026-07-31T22:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(local_day(t), date(2026, 8, 1));
    }

    #[test]
    fn october_month_bounds_span_the_clock_change() {
        let (start, end) = month_bounds(date(2026, 10, 10));
        assert_eq!(start.to_rfc3339(), "2026-09-30T22:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2026-10-31T23:00:00+00:00");
    }
}
