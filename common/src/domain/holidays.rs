//! Polish public holidays (ustawa z dnia 18 stycznia 1951 r. o dniach wolnych od pracy, as
//! amended: 6 January from 2011, 24 December from 2025) and working days. Deadlines that end on
//! a day off move to the next working day (Kodeks postępowania administracyjnego, art. 57 § 4);
//! booking calendars close on these days.

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// Easter Sunday of `year` (the Gregorian computus, the "anonymous" algorithm).
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("Easter is a real day")
}

/// The holiday `day` is, by its Polish name; `None` on other days.
pub fn holiday(day: NaiveDate) -> Option<&'static str> {
    let fixed = match (day.month(), day.day()) {
        (1, 1) => Some("Nowy Rok"),
        (1, 6) if day.year() >= 2011 => Some("Święto Trzech Króli"),
        (5, 1) => Some("Święto Pracy"),
        (5, 3) => Some("Święto Konstytucji 3 Maja"),
        (8, 15) => Some("Wniebowzięcie Najświętszej Maryi Panny"),
        (11, 1) => Some("Wszystkich Świętych"),
        (11, 11) => Some("Narodowe Święto Niepodległości"),
        (12, 24) if day.year() >= 2025 => Some("Wigilia Bożego Narodzenia"),
        (12, 25) => Some("Boże Narodzenie"),
        (12, 26) => Some("Drugi dzień Bożego Narodzenia"),
        _ => None,
    };
    fixed.or_else(|| {
        let after_easter = (day - easter(day.year())).num_days();
        match after_easter {
            0 => Some("Wielkanoc"),
            1 => Some("Poniedziałek Wielkanocny"),
            49 => Some("Zielone Świątki"),
            60 => Some("Boże Ciało"),
            _ => None,
        }
    })
}

/// Whether offices work on `day`: not a Saturday, a Sunday or a public holiday.
pub fn is_working_day(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && holiday(day).is_none()
}

/// `day` itself if offices work then, else the next day they do.
pub fn this_or_next_working_day(day: NaiveDate) -> NaiveDate {
    let mut d = day;
    while !is_working_day(d) {
        d = d + Days::new(1);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn easter_falls_where_the_calendar_has_it() {
        for (year, m, day) in [
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2038, 4, 25),
        ] {
            assert_eq!(easter(year), d(year, m, day));
        }
    }

    #[test]
    fn the_movable_and_fixed_holidays_of_2026() {
        assert_eq!(holiday(d(2026, 4, 6)), Some("Poniedziałek Wielkanocny"));
        assert_eq!(holiday(d(2026, 6, 4)), Some("Boże Ciało"));
        assert_eq!(holiday(d(2026, 5, 24)), Some("Zielone Świątki"));
        assert_eq!(holiday(d(2026, 12, 24)), Some("Wigilia Bożego Narodzenia"));
        assert_eq!(holiday(d(2024, 12, 24)), None);
        assert_eq!(holiday(d(2026, 12, 23)), None);
        // 14 holidays in 2026, 8 of them on weekdays: 261 − 8 working days.
        let days: Vec<NaiveDate> = d(2026, 1, 1).iter_days().take(365).collect();
        assert_eq!(days.iter().filter(|&&x| holiday(x).is_some()).count(), 14);
        assert_eq!(days.iter().filter(|&&x| is_working_day(x)).count(), 253);
    }

    #[test]
    fn a_day_off_moves_to_the_next_working_day() {
        // Thursday 24 December 2026 → Monday 28 December (25, 26 holidays; 27 a Sunday).
        assert_eq!(this_or_next_working_day(d(2026, 12, 24)), d(2026, 12, 28));
        assert_eq!(this_or_next_working_day(d(2026, 12, 28)), d(2026, 12, 28));
        // Saturday 31 October 2026 → Monday 2 November (1 November a Sunday and a holiday).
        assert_eq!(this_or_next_working_day(d(2026, 10, 31)), d(2026, 11, 2));
    }
}
