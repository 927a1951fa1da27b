//! The model's calendar: Europe/Warsaw local days and their UTC bounds (23, 24 or 25 hours
//! long), Polish public holidays, the kind of day (workday, Saturday, Sunday or holiday) and a
//! simple school calendar.
//!
//! Every day of the model is a Warsaw local calendar day. Warsaw's UTC offsets are whole hours
//! and its DST switches happen at 02:00/03:00 local time, so local midnight always exists and is
//! unambiguous, and the real hours of a local day are whole UTC hours.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// The model's time zone.
pub const TZ: Tz = chrono_tz::Europe::Warsaw;

/// Seconds in an hour.
pub(crate) const HOUR: i64 = 3_600;
/// Seconds in a nominal day.
pub(crate) const DAY: i64 = 86_400;

/// 1970-01-01 as days from the common era, to number days.
const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// The Warsaw local day that contains the instant `t`.
pub fn local_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&TZ).date_naive()
}

/// The Warsaw local day that contains the Unix second `ts`.
pub(crate) fn local_day_ts(ts: i64) -> NaiveDate {
    local_day(utc(ts))
}

/// The UTC instant of local midnight starting `day`.
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_time(NaiveTime::MIN);
    match TZ.from_local_datetime(&midnight).earliest() {
        Some(t) => t.with_timezone(&Utc),
        // Not reachable for Warsaw; a zone whose clocks skip midnight starts the day an hour later.
        None => TZ
            .from_local_datetime(&(midnight + Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| midnight.and_utc()),
    }
}

/// The UTC bounds `[start, end)` of the local day `day`.
pub fn day_bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    (day_start(day), day_start(next_day(day)))
}

/// The number of real hours of the local day: 24, or 23 / 25 on DST change days.
pub fn hours_in_day(day: NaiveDate) -> u32 {
    let (s, e) = day_bounds(day);
    ((e - s).num_seconds() / HOUR) as u32
}

/// The start of `day` as a Unix second.
pub(crate) fn day_start_ts(day: NaiveDate) -> i64 {
    day_start(day).timestamp()
}

/// The day after `day` (saturating at chrono's maximum date).
pub(crate) fn next_day(day: NaiveDate) -> NaiveDate {
    day.succ_opt().unwrap_or(day)
}

/// Days since 1970-01-01 (negative before).
pub(crate) fn day_number(day: NaiveDate) -> i64 {
    i64::from(day.num_days_from_ce()) - UNIX_EPOCH_DAYS_FROM_CE
}

/// The day with the given day number.
pub(crate) fn day_from_number(n: i64) -> NaiveDate {
    let ce = (n + UNIX_EPOCH_DAYS_FROM_CE).clamp(i64::from(i32::MIN), i64::from(i32::MAX));
    NaiveDate::from_num_days_from_ce_opt(ce as i32).unwrap_or(NaiveDate::MAX)
}

/// A Unix second as a UTC instant (saturating outside chrono's range).
pub(crate) fn utc(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).unwrap_or(if ts < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// Easter Sunday of `year` in the Gregorian calendar (anonymous Gregorian algorithm).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap_or(NaiveDate::MIN)
}

/// Whether `day` is a statutory day off in Poland (Sundays are not counted here).
pub fn is_public_holiday(day: NaiveDate) -> bool {
    let fixed = matches!(
        (day.month(), day.day()),
        (1, 1) | (1, 6) | (5, 1) | (5, 3) | (8, 15) | (11, 1) | (11, 11) | (12, 25) | (12, 26)
    ) || (day.month() == 12 && day.day() == 24 && day.year() >= 2025);
    if fixed {
        return true;
    }
    // Movable feasts: Easter Sunday and Monday, Pentecost Sunday, Corpus Christi.
    if !(3..=6).contains(&day.month()) {
        return false;
    }
    let offset = (day - easter_sunday(day.year())).num_days();
    matches!(offset, 0 | 1 | 49 | 60)
}

/// The kind of day for consumption patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DayKind {
    /// Monday to Friday, not a public holiday.
    Workday,
    /// Saturday, not a public holiday.
    Saturday,
    /// Sunday or a public holiday.
    SundayOrHoliday,
}

/// The kind of `day`.
pub fn day_kind(day: NaiveDate) -> DayKind {
    if day.weekday() == Weekday::Sun || is_public_holiday(day) {
        DayKind::SundayOrHoliday
    } else if day.weekday() == Weekday::Sat {
        DayKind::Saturday
    } else {
        DayKind::Workday
    }
}

/// Whether pupils are at school on `day`: a workday outside the summer break (July and August),
/// the Christmas break (23 December to 1 January) and the Easter break (Thursday before Easter to
/// the Tuesday after). Winter breaks differ by voivodeship and year and are not modelled.
pub fn is_school_day(day: NaiveDate) -> bool {
    if day_kind(day) != DayKind::Workday {
        return false;
    }
    if matches!(day.month(), 7 | 8) || (day.month() == 12 && day.day() >= 23) {
        return false;
    }
    if (3..=5).contains(&day.month()) {
        let offset = (day - easter_sunday(day.year())).num_days();
        if (-3..=2).contains(&offset) {
            return false;
        }
    }
    true
}

/// The local hour label (0–23) of each real hour of `day`, in order: 24 labels on ordinary days,
/// 23 on the spring DST day (02 is missing), 25 on the autumn DST day (02 appears twice).
pub(crate) fn hour_labels(day: NaiveDate, start_ts: i64, hours: u32) -> [u8; 25] {
    let mut labels = [0u8; 25];
    if hours == 24 {
        for (i, l) in labels.iter_mut().enumerate().take(24) {
            *l = i as u8;
        }
    } else {
        for (i, l) in labels.iter_mut().enumerate().take(hours as usize) {
            let local = utc(start_ts + i as i64 * HOUR).with_timezone(&TZ);
            // A real hour starting on the previous or next day cannot happen; guard anyway.
            *l = if local.date_naive() == day {
                chrono::Timelike::hour(&local) as u8
            } else {
                23
            };
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn easter_sundays_match_known_dates() {
        assert_eq!(easter_sunday(2024), d(2024, 3, 31));
        assert_eq!(easter_sunday(2025), d(2025, 4, 20));
        assert_eq!(easter_sunday(2026), d(2026, 4, 5));
        assert_eq!(easter_sunday(2027), d(2027, 3, 28));
    }

    #[test]
    fn polish_holidays_include_fixed_and_movable_feasts() {
        assert!(is_public_holiday(d(2025, 11, 11)));
        assert!(is_public_holiday(d(2025, 4, 21))); // Easter Monday
        assert!(is_public_holiday(d(2025, 6, 19))); // Corpus Christi
        assert!(is_public_holiday(d(2025, 12, 24)));
        assert!(!is_public_holiday(d(2024, 12, 24)));
        assert!(!is_public_holiday(d(2025, 6, 18)));
    }

    #[test]
    fn dst_days_have_23_and_25_hours_and_labels_follow_the_local_clock() {
        let spring = d(2025, 3, 30);
        let autumn = d(2025, 10, 26);
        assert_eq!(hours_in_day(spring), 23);
        assert_eq!(hours_in_day(autumn), 25);
        assert_eq!(hours_in_day(d(2025, 7, 1)), 24);
        let labels = hour_labels(spring, day_start_ts(spring), 23);
        assert_eq!(&labels[..4], &[0, 1, 3, 4]);
        let labels = hour_labels(autumn, day_start_ts(autumn), 25);
        assert_eq!(&labels[..5], &[0, 1, 2, 2, 3]);
        assert_eq!(labels[24], 23);
    }

    #[test]
    fn day_numbers_round_trip() {
        let day = d(2025, 3, 30);
        assert_eq!(day_number(d(1970, 1, 1)), 0);
        assert_eq!(day_from_number(day_number(day)), day);
        assert_eq!(local_day_ts(day_start_ts(day)), day);
        assert_eq!(local_day_ts(day_start_ts(day) - 1), d(2025, 3, 29));
    }

    #[test]
    fn school_is_closed_in_summer_and_on_weekends() {
        assert!(is_school_day(d(2025, 5, 14)));
        assert!(!is_school_day(d(2025, 7, 15)));
        assert!(!is_school_day(d(2025, 5, 17)));
        assert!(!is_school_day(d(2025, 4, 17))); // Maundy Thursday
    }
}
