//! A water meter's legalisation (cecha legalizacyjna): a cold-water meter may be used for
//! billing until the end of the period its legalisation mark gives (five years in Poland), after
//! which the utility must replace or re-legalise it. Residents are told when it has passed or
//! is near; the staff's replacement campaign uses the same rule.

use chrono::NaiveDate;

/// How long before the end a legalisation counts as ending soon: a quarter, the time a utility
/// needs to plan a replacement visit.
pub const ENDING_SOON_DAYS: i64 = 90;

/// Where a meter's legalisation stands on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legalisation {
    /// Valid until the day, more than [`ENDING_SOON_DAYS`] ahead.
    Valid { until: NaiveDate },
    /// Valid until the day, within [`ENDING_SOON_DAYS`] (the day itself included).
    EndingSoon { until: NaiveDate },
    /// Its last valid day has passed.
    Expired { until: NaiveDate },
}

impl Legalisation {
    /// The state of a legalisation valid through `until` (inclusive), on `today`; `None` when
    /// the date is not known.
    pub fn on(until: Option<NaiveDate>, today: NaiveDate) -> Option<Legalisation> {
        let until = until?;
        Some(if until < today {
            Legalisation::Expired { until }
        } else if (until - today).num_days() <= ENDING_SOON_DAYS {
            Legalisation::EndingSoon { until }
        } else {
            Legalisation::Valid { until }
        })
    }

    /// Worth a warning: expired or ending soon.
    pub fn needs_attention(self) -> bool {
        !matches!(self, Legalisation::Valid { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_legalisation_is_valid_then_ending_soon_then_expired() {
        let until = d(2027, 3, 31);
        let on = |today| Legalisation::on(Some(until), today);
        assert_eq!(on(d(2026, 12, 30)), Some(Legalisation::Valid { until }));
        assert_eq!(
            on(d(2026, 12, 31)),
            Some(Legalisation::EndingSoon { until })
        );
        assert_eq!(on(d(2027, 3, 31)), Some(Legalisation::EndingSoon { until }));
        assert_eq!(on(d(2027, 4, 1)), Some(Legalisation::Expired { until }));
        assert_eq!(Legalisation::on(None, d(2027, 4, 1)), None);
        assert!(!on(d(2026, 12, 30)).unwrap().needs_attention());
        assert!(on(d(2027, 4, 1)).unwrap().needs_attention());
    }
}
