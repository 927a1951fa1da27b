//! Tariffs as Polish water law shapes them (act on collective water supply, art. 26–27; tariff
//! regulation, Dz.U. 2018 poz. 472): per tariff group a net price per m³ of water and of sewage,
//! a subscription fee per supply point and month (and one per garden sub-meter), and a VAT rate.
//! A tariff is in force from its first day until the day before the group's next tariff starts;
//! a billed period is cut where a tariff changes and where a month ends ([`segments`]), and each
//! piece is priced by its own tariff.

use chrono::{Datelike, Days, NaiveDate};
use ebok_common::domain::Money;
use serde::{Deserialize, Serialize};

/// One tariff of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tariff {
    pub id: i64,
    pub valid_from: NaiveDate,
    /// Net per m³.
    pub water_price: Money,
    /// Net per m³.
    pub sewage_price: Money,
    /// Net per supply point and month.
    pub subscription: Money,
    /// Net per garden sub-meter and month.
    pub garden_subscription: Money,
    /// Percent.
    pub vat_rate: u8,
}

/// Days `first ..= last` priced by one tariff, all in one calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'t> {
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub tariff: &'t Tariff,
}

impl Segment<'_> {
    pub fn days(&self) -> i64 {
        (self.last - self.first).num_days() + 1
    }

    /// Days of the calendar month the segment lies in.
    pub fn month_days(&self) -> i64 {
        days_in_month(self.first)
    }
}

/// No tariff is in force on a billed day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no tariff in force on {0}")]
pub struct NoTariff(pub NaiveDate);

/// The pieces of `first ..= last` (inclusive, `first <= last`) with one tariff each and within
/// one month each, in order. `tariffs` are the group's, in any order.
pub fn segments(
    tariffs: &[Tariff],
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<Segment<'_>>, NoTariff> {
    assert!(first <= last, "a period runs forwards");
    let mut sorted: Vec<&Tariff> = tariffs.iter().collect();
    sorted.sort_by_key(|t| t.valid_from);
    let mut out = Vec::new();
    let mut day = first;
    while day <= last {
        let Some(index) = sorted.iter().rposition(|t| t.valid_from <= day) else {
            return Err(NoTariff(day));
        };
        let tariff = sorted[index];
        let tariff_end = sorted
            .get(index + 1)
            .map(|next| next.valid_from - Days::new(1))
            .unwrap_or(NaiveDate::MAX);
        let month_end = last_of_month(day);
        let end = last.min(tariff_end).min(month_end);
        out.push(Segment {
            first: day,
            last: end,
            tariff,
        });
        day = end + Days::new(1);
    }
    Ok(out)
}

pub fn days_in_month(day: NaiveDate) -> i64 {
    let first = day.with_day(1).expect("day 1 exists");
    (last_of_month(day) - first).num_days() + 1
}

pub fn last_of_month(day: NaiveDate) -> NaiveDate {
    let first = day.with_day(1).expect("day 1 exists");
    first
        .checked_add_months(chrono::Months::new(1))
        .expect("a month after")
        - Days::new(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn tariff(id: i64, from: NaiveDate) -> Tariff {
        Tariff {
            id,
            valid_from: from,
            water_price: Money::from_grosze(500),
            sewage_price: Money::from_grosze(700),
            subscription: Money::from_grosze(900),
            garden_subscription: Money::from_grosze(300),
            vat_rate: 8,
        }
    }

    #[test]
    fn a_change_inside_a_month_cuts_it_at_the_first_day_of_the_new_tariff() {
        let tariffs = [tariff(2, d(2026, 11, 16)), tariff(1, d(2025, 1, 1))];
        let s = segments(&tariffs, d(2026, 11, 1), d(2026, 11, 30)).unwrap();
        let cut: Vec<_> = s.iter().map(|s| (s.first, s.last, s.tariff.id)).collect();
        assert_eq!(
            cut,
            [
                (d(2026, 11, 1), d(2026, 11, 15), 1),
                (d(2026, 11, 16), d(2026, 11, 30), 2)
            ]
        );
        assert_eq!((s[0].days(), s[1].days(), s[0].month_days()), (15, 15, 30));
    }

    #[test]
    fn a_day_before_the_first_tariff_has_none() {
        let tariffs = [tariff(1, d(2026, 11, 10))];
        assert_eq!(
            segments(&tariffs, d(2026, 11, 1), d(2026, 11, 30)),
            Err(NoTariff(d(2026, 11, 1)))
        );
    }

    #[test]
    fn a_period_over_months_is_cut_at_each_month() {
        let tariffs = [tariff(1, d(2020, 1, 1))];
        let s = segments(&tariffs, d(2026, 1, 20), d(2026, 3, 5)).unwrap();
        let cut: Vec<_> = s
            .iter()
            .map(|s| (s.first, s.last, s.month_days()))
            .collect();
        assert_eq!(
            cut,
            [
                (d(2026, 1, 20), d(2026, 1, 31), 31),
                (d(2026, 2, 1), d(2026, 2, 28), 28),
                (d(2026, 3, 1), d(2026, 3, 5), 31)
            ]
        );
    }

    proptest! {
        /// The segments cover the period exactly, in order, without overlap.
        #[test]
        fn segments_tile_the_period(
            start in 0u64..800, len in 0u64..400, changes in proptest::collection::vec(1u64..1200, 0..5)
        ) {
            let base = d(2024, 1, 1);
            let mut tariffs = vec![tariff(0, base)];
            for (i, c) in changes.iter().enumerate() {
                if tariffs.iter().all(|t| t.valid_from != base + Days::new(*c)) {
                    tariffs.push(tariff(i as i64 + 1, base + Days::new(*c)));
                }
            }
            let first = base + Days::new(start);
            let last = first + Days::new(len);
            let s = segments(&tariffs, first, last).unwrap();
            prop_assert_eq!(s[0].first, first);
            prop_assert_eq!(s.last().unwrap().last, last);
            for pair in s.windows(2) {
                prop_assert_eq!(pair[0].last + Days::new(1), pair[1].first);
            }
            let total: i64 = s.iter().map(|s| s.days()).sum();
            prop_assert_eq!(total, len as i64 + 1);
            for seg in &s {
                prop_assert!(seg.tariff.valid_from <= seg.first);
                prop_assert_eq!(seg.first.month(), seg.last.month());
            }
        }
    }
}
