//! Money: an integer number of grosze (1/100 zł), never a float. Arithmetic is exact;
//! [`Money::parse`] reads an amount as people type it ("1 234,56", "1234.5", "12 zł"), and
//! [`crate::polish::money`] writes it ("1 234,56 zł"). In JSON an amount is its grosze, an
//! integer.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

use serde::{Deserialize, Serialize};

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(i64);

/// Why a typed amount was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("no amount")]
    Empty,
    #[error("not an amount: {0}")]
    NotAnAmount(String),
    #[error("more than two decimal places")]
    TooPrecise,
    #[error("too large")]
    TooLarge,
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_grosze(grosze: i64) -> Money {
        Money(grosze)
    }

    /// Whole złoty.
    pub fn from_zloty(zloty: i64) -> Option<Money> {
        zloty.checked_mul(100).map(Money)
    }

    pub const fn grosze(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    pub fn checked_mul(self, factor: i64) -> Option<Money> {
        self.0.checked_mul(factor).map(Money)
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub const fn abs(self) -> Money {
        Money(self.0.abs())
    }

    /// An amount as typed: optional sign, digits grouped with spaces (also no-break ones) or
    /// not, a decimal comma or point with at most two digits, an optional "zł". "12,5" is
    /// 12,50 zł.
    pub fn parse(raw: &str) -> Result<Money, MoneyError> {
        let text: String = raw
            .trim()
            .trim_end_matches("zł")
            .chars()
            .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
            .collect();
        if text.is_empty() {
            return Err(MoneyError::Empty);
        }
        let bad = || MoneyError::NotAnAmount(raw.trim().to_string());
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let (whole, fraction) = match unsigned.split_once([',', '.']) {
            Some((w, f)) => (w, f),
            None => (unsigned, ""),
        };
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if fraction.len() > 2 {
            return Err(MoneyError::TooPrecise);
        }
        let zloty: i64 = whole.parse().map_err(|_| MoneyError::TooLarge)?;
        let grosze: i64 = match fraction.len() {
            0 => 0,
            1 => fraction.parse::<i64>().expect("a digit") * 10,
            _ => fraction.parse().expect("two digits"),
        };
        let amount = zloty
            .checked_mul(100)
            .and_then(|z| z.checked_add(grosze))
            .ok_or(MoneyError::TooLarge)?;
        Ok(Money(if negative { -amount } else { amount }))
    }
}

impl Add for Money {
    type Output = Money;
    /// Panics on overflow (an amount beyond 92 trillion złoty is a bug, not money).
    fn add(self, other: Money) -> Money {
        self.checked_add(other).expect("money overflow")
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, other: Money) {
        *self = *self + other;
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, other: Money) -> Money {
        self.checked_sub(other).expect("money overflow")
    }
}

impl SubAssign for Money {
    fn sub_assign(&mut self, other: Money) {
        *self = *self - other;
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Money {
    /// Polish, as residents read it: "1 234,56 zł".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::polish::money(*self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_are_read_as_people_type_them() {
        for (typed, grosze) in [
            ("1 234,56", 123_456),
            ("1\u{a0}234,56 zł", 123_456),
            ("1234.5", 123_450),
            ("12", 1_200),
            ("0,07", 7),
            ("-3,20", -320),
        ] {
            assert_eq!(
                Money::parse(typed),
                Ok(Money::from_grosze(grosze)),
                "{typed}"
            );
        }
        assert_eq!(Money::parse(" "), Err(MoneyError::Empty));
        assert_eq!(Money::parse("1,234"), Err(MoneyError::TooPrecise));
        assert!(matches!(
            Money::parse("12a"),
            Err(MoneyError::NotAnAmount(_))
        ));
        assert!(matches!(
            Money::parse(",5"),
            Err(MoneyError::NotAnAmount(_))
        ));
        assert_eq!(
            Money::parse("99999999999999999999"),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn in_json_an_amount_is_its_grosze() {
        assert_eq!(
            serde_json::to_string(&Money::from_grosze(12345)).unwrap(),
            "12345"
        );
        assert_eq!(
            serde_json::from_str::<Money>("-7").unwrap(),
            Money::from_grosze(-7)
        );
    }

    proptest! {
        #[test]
        fn what_is_written_reads_back(grosze in -1_000_000_000_000i64..1_000_000_000_000) {
            let money = Money::from_grosze(grosze);
            prop_assert_eq!(Money::parse(&money.to_string()), Ok(money));
        }

        #[test]
        fn sums_are_exact(a in -1_000_000_000i64..1_000_000_000, b in -1_000_000_000i64..1_000_000_000) {
            let (x, y) = (Money::from_grosze(a), Money::from_grosze(b));
            prop_assert_eq!((x + y).grosze(), a + b);
            prop_assert_eq!((x + y) - y, x);
            prop_assert_eq!([x, y].into_iter().sum::<Money>(), x + y);
        }
    }
}
