//! Statutory interest for late payment, computed on request from a dated table of rates.
//!
//! Which rate: a consumer (and a housing community, which is not an entrepreneur) owes the
//! statutory interest for delay of art. 481 § 2 of the Civil Code, the NBP reference rate plus
//! 5.5 percentage points, changing on the days the reference rate changes. A business (and a
//! public institution) owes the interest for delay in commercial transactions (act of 8 March
//! 2013, art. 4 pt 3 and art. 8): the reference rate plus 10 points, fixed for a half-year by
//! the reference rate of its first day (1 January, 1 July). Both are rows of
//! `statutory_interest_rates` (migration 0025): a rate applies from its `valid_from` until the
//! next row's; the Ministry of Justice's and the Minister of Economy's notices (Monitor Polski)
//! are the source of each row, and an admin adds a row when a rate changes.
//!
//! How much: interest runs from the day after the due date through the day the money came
//! (a bank transfer's value date; an online payment's day of booking, Warsaw time) or the day it
//! is computed for, on what was still unpaid each day, at the rate of that day, on a year of
//! 365 days (the courts' and the calculators' convention, leap years too). The debt's history
//! is cut into periods where the unpaid amount and the rate stay the same; each period's
//! interest is rounded half up to the grosz and the total is the sum of the periods, so a note
//! that lists the periods adds up.

use chrono::NaiveDate;
use ebok_common::domain::Money;
use serde::Serialize;

/// Which table of rates applies to a debtor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateKind {
    /// Art. 481 § 2 KC: reference rate + 5.5 pp.
    Consumer,
    /// Commercial transactions: reference rate + 10 pp, per half-year.
    Commercial,
}

impl RateKind {
    /// The database name (`interest_kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            RateKind::Consumer => "consumer",
            RateKind::Commercial => "commercial",
        }
    }

    /// The rate for a kind of customer (`customer_kind`): people and housing communities are
    /// owed the statutory rate, companies and public institutions the commercial one.
    pub fn for_customer_kind(kind: &str) -> RateKind {
        match kind {
            "company" | "public_institution" => RateKind::Commercial,
            _ => RateKind::Consumer,
        }
    }

    /// What a note calls it, Polish.
    pub fn label_pl(self) -> &'static str {
        match self {
            RateKind::Consumer => "odsetki ustawowe za opóźnienie (art. 481 § 2 KC)",
            RateKind::Commercial => "odsetki ustawowe za opóźnienie w transakcjach handlowych",
        }
    }
}

/// A yearly rate in force from a day until the next rate's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub valid_from: NaiveDate,
    /// Hundredths of a percent: 950 is 9.50 % a year.
    pub basis_points: u32,
}

/// An amount owed from a due date, and what paid it when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debt {
    pub due_date: NaiveDate,
    pub amount: Money,
    /// Day and amount of each payment (or correction downwards), any order.
    pub payments: Vec<(NaiveDate, Money)>,
}

/// Days with the same unpaid amount and the same rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    /// First and last day, both inclusive.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: i64,
    pub principal: Money,
    pub basis_points: u32,
    pub interest: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterestError {
    #[error("no interest rate is known for {0}: add the rate in force that day")]
    NoRate(NaiveDate),
}

/// Days in the interest year.
const YEAR_DAYS: i128 = 365;

/// The interest on `debt` for every day of delay up to and including `until`, period by
/// period. `rates` in any order. Nothing is owed for a debt paid by its due date.
pub fn periods(
    debt: &Debt,
    rates: &[Rate],
    until: NaiveDate,
) -> Result<Vec<Period>, InterestError> {
    let Some(first_late) = debt.due_date.succ_opt() else {
        return Ok(Vec::new());
    };
    // A payment lowers the debt from the day after it came: the day the money came is still
    // a day of delay.
    let effects: Vec<(NaiveDate, Money)> = debt
        .payments
        .iter()
        .map(|(day, amount)| (day.succ_opt().unwrap_or(*day), *amount))
        .collect();
    let unpaid_on = |day: NaiveDate| -> Money {
        debt.amount
            - effects
                .iter()
                .filter(|(effect, _)| *effect <= day)
                .map(|(_, amount)| *amount)
                .sum::<Money>()
    };
    // The days where something changes: a rate starts, or a payment takes effect.
    let mut starts: Vec<NaiveDate> = rates
        .iter()
        .map(|r| r.valid_from)
        .chain(effects.iter().map(|(effect, _)| *effect))
        .filter(|day| *day > first_late && *day <= until)
        .collect();
    starts.push(first_late);
    starts.sort();
    starts.dedup();

    let mut out = Vec::new();
    for (i, &from) in starts.iter().enumerate() {
        if from > until {
            break;
        }
        let to = match starts.get(i + 1) {
            Some(next) => next.pred_opt().expect("a later day has a day before it"),
            None => until,
        };
        let principal = unpaid_on(from);
        if principal <= Money::ZERO {
            continue;
        }
        let rate = rates
            .iter()
            .filter(|r| r.valid_from <= from)
            .max_by_key(|r| r.valid_from)
            .ok_or(InterestError::NoRate(from))?;
        let days = (to - from).num_days() + 1;
        out.push(Period {
            from,
            to,
            days,
            principal,
            basis_points: rate.basis_points,
            interest: interest(principal, rate.basis_points, days),
        });
    }
    Ok(out)
}

/// Interest on `principal` for `days` days at `basis_points` a year, rounded half up.
pub fn interest(principal: Money, basis_points: u32, days: i64) -> Money {
    let numerator = principal.grosze() as i128 * basis_points as i128 * days as i128;
    let denominator = 10_000 * YEAR_DAYS;
    let rounded = (numerator + denominator / 2).div_euclid(denominator);
    Money::from_grosze(i64::try_from(rounded).unwrap_or(i64::MAX))
}

/// The sum of the periods' interest: the total a note shows.
pub fn total(periods: &[Period]) -> Money {
    periods.iter().map(|p| p.interest).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn zl(grosze: i64) -> Money {
        Money::from_grosze(grosze)
    }

    const RATES: [Rate; 2] = [
        Rate {
            valid_from: NaiveDate::from_ymd_opt(2025, 11, 6).unwrap(),
            basis_points: 975,
        },
        Rate {
            valid_from: NaiveDate::from_ymd_opt(2025, 12, 4).unwrap(),
            basis_points: 950,
        },
    ];

    #[test]
    fn paid_by_the_due_date_owes_nothing() {
        let debt = Debt {
            due_date: d(2026, 1, 15),
            amount: zl(10_000),
            payments: vec![(d(2026, 1, 15), zl(10_000))],
        };
        assert_eq!(periods(&debt, &RATES, d(2026, 3, 1)).unwrap(), vec![]);
    }

    #[test]
    fn hand_computed_year_at_one_rate() {
        // 1,000.00 zł unpaid for 365 days at 9.50 %: 95.00 zł.
        let debt = Debt {
            due_date: d(2026, 1, 1),
            amount: zl(100_000),
            payments: vec![],
        };
        let p = periods(&debt, &RATES, d(2027, 1, 1)).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].from, p[0].to, p[0].days),
            (d(2026, 1, 2), d(2027, 1, 1), 365)
        );
        assert_eq!(total(&p), zl(9_500));
    }

    #[test]
    fn a_rate_change_and_a_part_payment_cut_periods() {
        // 1,200.00 zł due 20 Nov 2025; 500.00 paid on 10 Dec; computed for 31 Dec.
        let debt = Debt {
            due_date: d(2025, 11, 20),
            amount: zl(120_000),
            payments: vec![(d(2025, 12, 10), zl(50_000))],
        };
        let p = periods(&debt, &RATES, d(2025, 12, 31)).unwrap();
        let shape: Vec<_> = p
            .iter()
            .map(|p| (p.from, p.to, p.days, p.principal, p.basis_points))
            .collect();
        assert_eq!(
            shape,
            vec![
                (d(2025, 11, 21), d(2025, 12, 3), 13, zl(120_000), 975),
                (d(2025, 12, 4), d(2025, 12, 10), 7, zl(120_000), 950),
                (d(2025, 12, 11), d(2025, 12, 31), 21, zl(70_000), 950),
            ]
        );
        // 1200 × 9.75 % × 13/365 = 4.1671 → 4.17; 1200 × 9.5 % × 7/365 = 2.1863 → 2.19;
        // 700 × 9.5 % × 21/365 = 3.8260 → 3.83.
        let each: Vec<_> = p.iter().map(|p| p.interest).collect();
        assert_eq!(each, vec![zl(417), zl(219), zl(383)]);
        assert_eq!(total(&p), zl(1_019));
    }

    #[test]
    fn paid_in_full_late_stops_on_the_payment_day() {
        let debt = Debt {
            due_date: d(2026, 2, 10),
            amount: zl(36_500),
            payments: vec![(d(2026, 2, 20), zl(36_500))],
        };
        let p = periods(&debt, &RATES, d(2026, 6, 1)).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].from, p[0].to, p[0].days),
            (d(2026, 2, 11), d(2026, 2, 20), 10)
        );
        // 365 zł × 9.5 % × 10/365 = 0.95 zł.
        assert_eq!(total(&p), zl(95));
    }

    #[test]
    fn a_day_before_the_first_rate_is_named() {
        let debt = Debt {
            due_date: d(2025, 1, 1),
            amount: zl(100),
            payments: vec![],
        };
        assert_eq!(
            periods(&debt, &RATES, d(2025, 2, 1)),
            Err(InterestError::NoRate(d(2025, 1, 2)))
        );
    }

    #[test]
    fn customer_kinds() {
        assert_eq!(RateKind::for_customer_kind("person"), RateKind::Consumer);
        assert_eq!(
            RateKind::for_customer_kind("housing_community"),
            RateKind::Consumer
        );
        assert_eq!(RateKind::for_customer_kind("company"), RateKind::Commercial);
        assert_eq!(
            RateKind::for_customer_kind("public_institution"),
            RateKind::Commercial
        );
    }

    proptest! {
        /// The periods cover the late days exactly once while something is unpaid, their
        /// principal is what was unpaid that day, and the interest is never negative nor more
        /// than the whole amount at the highest rate for every day.
        #[test]
        fn periods_are_the_unpaid_days(
            amount in 1i64..10_000_000,
            paid in proptest::collection::vec((0i64..400, 1i64..5_000_000), 0..5),
            horizon in 0i64..500,
        ) {
            let due = d(2025, 12, 1);
            let debt = Debt {
                due_date: due,
                amount: zl(amount),
                payments: paid
                    .iter()
                    .map(|(offset, a)| (due + chrono::Duration::days(*offset - 30), zl(*a)))
                    .collect(),
            };
            let until = due + chrono::Duration::days(horizon);
            let p = periods(&debt, &RATES, until).unwrap();
            let mut expected_day = due.succ_opt().unwrap();
            for period in &p {
                prop_assert_eq!(period.from, expected_day);
                prop_assert!(period.to >= period.from && period.to <= until);
                prop_assert_eq!(period.days, (period.to - period.from).num_days() + 1);
                // Unpaid that day: the amount less the payments that came before it.
                let unpaid = amount - debt.payments.iter()
                    .filter(|(day, _)| *day < period.from)
                    .map(|(_, a)| a.grosze()).sum::<i64>();
                prop_assert_eq!(period.principal.grosze(), unpaid);
                prop_assert!(unpaid > 0);
                prop_assert!(period.interest >= Money::ZERO);
                expected_day = period.to.succ_opt().unwrap();
            }
            let late_days = (until - due).num_days().max(0);
            prop_assert!(total(&p) <= interest(zl(amount), 975, late_days) + zl(p.len() as i64));
        }
    }
}
