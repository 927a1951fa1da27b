//! A case's deadline, as Polish administrative procedure counts it: 30 days from the day the
//! application is complete; the days the utility waits for a supplement do not count (Kodeks
//! postępowania administracyjnego, art. 35 § 5); extended once by 14 days, with a reason the
//! resident is told; a deadline that ends on a day off moves to the next working day (art. 57
//! § 4). A decision may be appealed for 14 days after it is delivered, counted the same way.

use chrono::{Days, NaiveDate};
use ebok_common::domain::holidays::this_or_next_working_day;

pub const DAYS_TO_DECIDE: u64 = 30;
pub const EXTENSION_DAYS: u64 = 14;
pub const APPEAL_DAYS: u64 = 14;

/// What a case's deadline depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// The day the application was complete (submitted complete, or the day it was).
    pub complete_on: NaiveDate,
    /// Days spent waiting for the resident's supplements.
    pub paused_days: u32,
    pub extended: bool,
}

impl Clock {
    /// The last day the utility has to decide.
    pub fn due(&self) -> NaiveDate {
        let days = DAYS_TO_DECIDE
            + u64::from(self.paused_days)
            + if self.extended { EXTENSION_DAYS } else { 0 };
        this_or_next_working_day(self.complete_on + Days::new(days))
    }

    /// Whether the deadline has passed on `today` (the day after the due day).
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        today > self.due()
    }

    /// Days left until the deadline (0 on the due day, negative when overdue).
    pub fn days_left(&self, today: NaiveDate) -> i64 {
        (self.due() - today).num_days()
    }
}

/// The last day to appeal a decision delivered on `delivered_on`.
pub fn appeal_until(delivered_on: NaiveDate) -> NaiveDate {
    this_or_next_working_day(delivered_on + Days::new(APPEAL_DAYS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn thirty_days_plus_the_waiting_plus_the_extension_to_a_working_day() {
        let clock = Clock {
            complete_on: d(2026, 11, 2),
            paused_days: 0,
            extended: false,
        };
        assert_eq!(clock.due(), d(2026, 12, 2));
        assert_eq!(clock.days_left(d(2026, 11, 30)), 2);
        assert!(!clock.is_overdue(d(2026, 12, 2)));
        assert!(clock.is_overdue(d(2026, 12, 3)));
        // 7 days waiting for a supplement: 9 December (a Wednesday).
        let waited = Clock {
            paused_days: 7,
            ..clock
        };
        assert_eq!(waited.due(), d(2026, 12, 9));
        // Extended as well: 23 December.
        assert_eq!(
            Clock {
                extended: true,
                ..waited
            }
            .due(),
            d(2026, 12, 23)
        );
        // One day later it would be Christmas Eve: then Monday 28 December.
        let eve = Clock {
            paused_days: 8,
            extended: true,
            ..clock
        };
        assert_eq!(eve.due(), d(2026, 12, 28));
    }

    #[test]
    fn the_time_to_appeal_ends_on_a_working_day() {
        assert_eq!(appeal_until(d(2026, 12, 1)), d(2026, 12, 15));
        // 14 days after 17 October 2026 is Saturday 31 October; 1 November is a Sunday and a
        // holiday: Monday 2 November.
        assert_eq!(appeal_until(d(2026, 10, 17)), d(2026, 11, 2));
    }
}
