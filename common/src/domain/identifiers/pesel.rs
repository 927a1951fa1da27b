//! PESEL, the Polish national identification number of a person, and [`Sex`] as it encodes it.
//!
//! A PESEL has 11 digits: the birth date as `YYMMDD` with the century folded into the month
//! (+80 for the 1800s, +0 for the 1900s, +20 for the 2000s, +40 for the 2100s, +60 for the
//! 2200s), a three-digit serial, a sex digit (odd for men) and a check digit computed with the
//! weights 1,3,7,9,1,3,7,9,1,3.

use chrono::{Datelike, NaiveDate};

use super::{
    IdentifierError, IdentifierKind, InvalidReason, digit_at, require_digits, weighted_sum,
};

const KIND: IdentifierKind = IdentifierKind::Pesel;
const LEN: usize = 11;
const WEIGHTS: [u32; 10] = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];

/// Sex as recorded in a PESEL (its 10th digit: odd for men, even for women).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// Even 10th digit.
    Female,
    /// Odd 10th digit.
    Male,
}

/// A valid PESEL: 11 digits with a matching check digit and a real birth date.
///
/// `Debug` masks all but the last two digits: a PESEL is personal data and must not reach logs
/// or panic messages. `Display` and `as_str` give the full number on purpose.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pesel {
    digits: String,
    birth_date: NaiveDate,
}

impl std::fmt::Debug for Pesel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pesel(*********{})", &self.digits[9..])
    }
}

impl Pesel {
    /// Parses a PESEL. Surrounding whitespace is trimmed; nothing else is normalised, so
    /// inner spaces or dashes are rejected.
    pub fn parse(input: &str) -> Result<Self, IdentifierError> {
        let digits = input.trim();
        require_digits(KIND, digits, &[LEN])?;
        if check_digit(&digits[..LEN - 1]) != digit_at(digits, LEN - 1) {
            return Err(IdentifierError::new(KIND, InvalidReason::BadChecksum));
        }
        let birth_date = encoded_birth_date(digits)
            .ok_or_else(|| IdentifierError::new(KIND, InvalidReason::BadDate))?;
        Ok(Self {
            digits: digits.to_owned(),
            birth_date,
        })
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.digits
    }

    /// The birth date the PESEL encodes.
    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// The sex the PESEL encodes (odd 10th digit: male).
    pub fn sex(&self) -> Sex {
        if digit_at(&self.digits, 9) % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Builds a valid PESEL, for tests and demo data.
    ///
    /// Digits 7–9 are `serial`; the 10th (sex) digit is derived from `serial` and `sex`
    /// (`serial % 5 * 2`, plus one for men) so demo data does not all end alike. The same
    /// arguments always give the same PESEL, and different serials give different ones.
    ///
    /// # Panics
    ///
    /// If `serial` is over 999, or the birth year is outside 1800–2299 (a PESEL cannot encode
    /// it). Both are programming errors in the caller.
    pub fn generate(birth_date: NaiveDate, sex: Sex, serial: u16) -> Self {
        assert!(serial <= 999, "PESEL serial must be 0..=999, got {serial}");
        let year = birth_date.year();
        let month_offset = match year {
            1800..=1899 => 80,
            1900..=1999 => 0,
            2000..=2099 => 20,
            2100..=2199 => 40,
            2200..=2299 => 60,
            _ => panic!("a PESEL can only encode birth years 1800–2299, got {year}"),
        };
        let sex_digit = serial % 5 * 2
            + match sex {
                Sex::Female => 0,
                Sex::Male => 1,
            };
        let mut digits = format!(
            "{:02}{:02}{:02}{serial:03}{sex_digit}",
            year % 100,
            birth_date.month() + month_offset,
            birth_date.day(),
        );
        digits.push(char::from_digit(check_digit(&digits), 10).expect("a check digit is 0..=9"));
        Self { digits, birth_date }
    }
}

text_identifier_impls!(Pesel, IdentifierKind::Pesel);

/// The check digit for the first 10 digits.
fn check_digit(first_ten: &str) -> u32 {
    (10 - weighted_sum(first_ten, &WEIGHTS) % 10) % 10
}

/// The birth date encoded in the first six digits, if it is a real date.
fn encoded_birth_date(digits: &str) -> Option<NaiveDate> {
    let two = |at: usize| digit_at(digits, at) * 10 + digit_at(digits, at + 1);
    let (year_in_century, encoded_month, day) = (two(0), two(2), two(4));
    let (century, month) = match encoded_month {
        81..=92 => (1800, encoded_month - 80),
        1..=12 => (1900, encoded_month),
        21..=32 => (2000, encoded_month - 20),
        41..=52 => (2100, encoded_month - 40),
        61..=72 => (2200, encoded_month - 60),
        _ => return None,
    };
    let year = i32::try_from(century + year_in_century).ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_output_masks_the_number() {
        let pesel = Pesel::parse("44051401359").unwrap();
        assert_eq!(format!("{pesel:?}"), "Pesel(*********59)");
        assert_eq!(pesel.to_string(), "44051401359");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::identifiers::test_support::{any_text, with_digit_changed};
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// The first ten digits plus their correct check digit, whatever they encode.
    fn with_check_digit(first_ten: &str) -> String {
        format!("{first_ten}{}", check_digit(first_ten))
    }

    fn reason(input: &str) -> InvalidReason {
        Pesel::parse(input).unwrap_err().reason().clone()
    }

    #[test]
    fn known_valid_pesels_parse_with_their_birth_date_and_sex() {
        let p = Pesel::parse("44051401359").unwrap();
        assert_eq!(p.as_str(), "44051401359");
        assert_eq!(p.birth_date(), date(1944, 5, 14));
        assert_eq!(p.sex(), Sex::Male);

        let p = Pesel::parse("02070803628").unwrap();
        assert_eq!(p.birth_date(), date(1902, 7, 8));
        assert_eq!(p.sex(), Sex::Female);
    }

    #[test]
    fn pesel_surrounding_whitespace_is_trimmed() {
        let p = Pesel::parse(" \t44051401359\n").unwrap();
        assert_eq!(p.as_str(), "44051401359");
    }

    #[test]
    fn pesel_with_inner_separators_is_rejected() {
        assert_eq!(reason("440514 01359"), InvalidReason::NotDigits);
        assert_eq!(reason("440514-01359"), InvalidReason::NotDigits);
    }

    #[test]
    fn empty_pesel_is_rejected() {
        assert_eq!(reason(""), InvalidReason::Empty);
        assert_eq!(reason("   "), InvalidReason::Empty);
    }

    #[test]
    fn pesel_with_letters_is_rejected() {
        let err = Pesel::parse("4405140135X").unwrap_err();
        assert_eq!(err.kind(), IdentifierKind::Pesel);
        assert_eq!(err.reason(), &InvalidReason::NotDigits);
        assert_eq!(reason("４４０５１４０１３５９"), InvalidReason::NotDigits);
    }

    #[test]
    fn pesel_with_wrong_length_is_rejected() {
        let err = Pesel::parse("4405140135").unwrap_err();
        assert_eq!(
            err.reason(),
            &InvalidReason::WrongLength {
                expected: &[11],
                found: 10
            }
        );
        assert_eq!(
            err.message_pl(),
            "Numer PESEL musi mieć 11 cyfr (podano 10)."
        );
        assert_eq!(
            reason("440514013590"),
            InvalidReason::WrongLength {
                expected: &[11],
                found: 12
            }
        );
    }

    #[test]
    fn pesel_with_bad_check_digit_is_rejected() {
        let err = Pesel::parse("44051401358").unwrap_err();
        assert_eq!(err.reason(), &InvalidReason::BadChecksum);
        assert_eq!(err.message_pl(), "Numer PESEL ma błędną cyfrę kontrolną.");
    }

    #[test]
    fn pesel_with_impossible_birth_date_is_rejected() {
        // 30 February, month 13 (no century), day 0, month 0 — all with correct check digits.
        for first_ten in ["4402300135", "4413140135", "4405000135", "4400140135"] {
            assert_eq!(reason(&with_check_digit(first_ten)), InvalidReason::BadDate);
        }
        // 1900 was not a leap year, 2000 was.
        assert_eq!(
            reason(&with_check_digit("0002290135")),
            InvalidReason::BadDate
        );
        let leap = Pesel::parse(&with_check_digit("0022290135")).unwrap();
        assert_eq!(leap.birth_date(), date(2000, 2, 29));
    }

    #[test]
    fn pesel_century_is_encoded_in_the_month() {
        let cases = [
            ("9992310135", date(1899, 12, 31)),
            ("0001010135", date(1900, 1, 1)),
            ("0021010135", date(2000, 1, 1)),
            ("0041010135", date(2100, 1, 1)),
            ("9972310135", date(2299, 12, 31)),
        ];
        for (first_ten, expected) in cases {
            let pesel = Pesel::parse(&with_check_digit(first_ten)).unwrap();
            assert_eq!(pesel.birth_date(), expected, "{first_ten}");
        }
    }

    #[test]
    fn generated_pesel_matches_a_hand_checked_one() {
        // 1944-05-14, serial 013, male: sex digit 13 % 5 * 2 + 1 = 7;
        // check: 4+12+0+45+1+12+0+9+3+21 = 107, (10 - 7) % 10 = 3.
        let p = Pesel::generate(date(1944, 5, 14), Sex::Male, 13);
        assert_eq!(p.as_str(), "44051401373");
        assert_eq!(Pesel::parse(p.as_str()).unwrap(), p);
    }

    #[test]
    #[should_panic(expected = "birth years 1800–2299")]
    fn generating_pesel_for_unencodable_year_panics() {
        let _ = Pesel::generate(date(1799, 12, 31), Sex::Female, 0);
    }

    #[test]
    #[should_panic(expected = "serial must be 0..=999")]
    fn generating_pesel_with_four_digit_serial_panics() {
        let _ = Pesel::generate(date(1990, 1, 1), Sex::Female, 1000);
    }

    #[test]
    fn pesel_json_is_the_digit_string() {
        let p = Pesel::parse("44051401359").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), r#""44051401359""#);
        let back: Pesel = serde_json::from_str(r#"" 44051401359 ""#).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn invalid_pesel_json_is_rejected_with_the_english_reason() {
        let err = serde_json::from_str::<Pesel>(r#""44051401358""#).unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid PESEL: the checksum does not match"),
            "{err}"
        );
        assert!(serde_json::from_str::<Pesel>("44051401359").is_err());
        assert!(serde_json::from_str::<Pesel>("null").is_err());
    }

    #[test]
    fn pesel_from_str_and_display_agree_with_parse() {
        let p: Pesel = "44051401359".parse().unwrap();
        assert_eq!(p.to_string(), "44051401359");
        assert!("4405140135".parse::<Pesel>().is_err());
    }

    fn birth_date() -> impl Strategy<Value = NaiveDate> {
        let first = date(1800, 1, 1).num_days_from_ce();
        let last = date(2299, 12, 31).num_days_from_ce();
        (first..=last).prop_map(|days| NaiveDate::from_num_days_from_ce_opt(days).unwrap())
    }

    fn sex() -> impl Strategy<Value = Sex> {
        prop_oneof![Just(Sex::Female), Just(Sex::Male)]
    }

    fn valid_pesel() -> impl Strategy<Value = Pesel> {
        (birth_date(), sex(), 0u16..=999).prop_map(|(d, s, n)| Pesel::generate(d, s, n))
    }

    proptest! {
        #[test]
        fn generated_pesel_parses_back_with_same_birth_date_and_sex(
            date in birth_date(), sex in sex(), serial in 0u16..=999,
        ) {
            let generated = Pesel::generate(date, sex, serial);
            let parsed = Pesel::parse(generated.as_str()).unwrap();
            prop_assert_eq!(parsed.birth_date(), date);
            prop_assert_eq!(parsed.sex(), sex);
            prop_assert_eq!(&parsed, &generated);
        }

        #[test]
        fn pesel_with_changed_digit_is_rejected(
            pesel in valid_pesel(), index in 0usize..LEN, delta in 1u8..=9,
        ) {
            let changed = with_digit_changed(pesel.as_str(), index, delta);
            prop_assert!(Pesel::parse(&changed).is_err(), "{} accepted", changed);
        }

        #[test]
        fn pesel_display_round_trips_through_parse(pesel in valid_pesel()) {
            prop_assert_eq!(Pesel::parse(&pesel.to_string()).unwrap(), pesel);
        }

        #[test]
        fn pesel_json_round_trips(pesel in valid_pesel()) {
            let json = serde_json::to_string(&pesel).unwrap();
            prop_assert_eq!(serde_json::from_str::<Pesel>(&json).unwrap(), pesel);
        }

        #[test]
        fn pesel_json_accepts_exactly_what_parse_accepts(text in any_text()) {
            let from_json = serde_json::from_value::<Pesel>(serde_json::Value::String(text.clone()));
            match Pesel::parse(&text) {
                Ok(pesel) => prop_assert_eq!(from_json.unwrap(), pesel),
                Err(err) => {
                    let json_err = from_json.unwrap_err().to_string();
                    prop_assert!(json_err.contains(&err.to_string()), "{}", json_err);
                }
            }
        }
    }
}
