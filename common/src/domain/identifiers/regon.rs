//! REGON, the statistical number of a business in the Polish national business register.
//!
//! A REGON has 9 digits (a business) or 14 digits (a local unit of one: the business's 9-digit
//! REGON followed by 4 digits of unit number and a check digit). Both check digits are a
//! weighted sum modulo 11 with 10 counted as 0: weights 8,9,2,3,4,5,6,7 for the 9-digit form
//! and 2,4,8,5,0,9,7,3,6,1,2,4,8 for the 14-digit one, whose first 9 digits must themselves be a
//! valid 9-digit REGON.
//!
//! Because a remainder of 10 and of 0 both give the check digit 0, REGON (unlike PESEL, NIP
//! and NRB) does not catch every single-digit typo.

use super::{
    IdentifierError, IdentifierKind, InvalidReason, digit_at, require_digits, weighted_sum,
};

const KIND: IdentifierKind = IdentifierKind::Regon;
const SHORT: usize = 9;
const LONG: usize = 14;
const WEIGHTS_SHORT: [u32; 8] = [8, 9, 2, 3, 4, 5, 6, 7];
const WEIGHTS_LONG: [u32; 13] = [2, 4, 8, 5, 0, 9, 7, 3, 6, 1, 2, 4, 8];

/// A valid REGON of 9 or 14 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Regon(String);

impl Regon {
    /// Parses a 9- or 14-digit REGON. Surrounding whitespace is trimmed; nothing else is
    /// normalised.
    pub fn parse(input: &str) -> Result<Self, IdentifierError> {
        let digits = input.trim();
        require_digits(KIND, digits, &[SHORT, LONG])?;
        let short_ok =
            check_digit(&digits[..SHORT - 1], &WEIGHTS_SHORT) == digit_at(digits, SHORT - 1);
        let long_ok = digits.len() == SHORT
            || check_digit(&digits[..LONG - 1], &WEIGHTS_LONG) == digit_at(digits, LONG - 1);
        if !(short_ok && long_ok) {
            return Err(IdentifierError::new(KIND, InvalidReason::BadChecksum));
        }
        Ok(Self(digits.to_owned()))
    }

    /// The 9 or 14 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_identifier_impls!(Regon, IdentifierKind::Regon);

/// The check digit: weighted sum modulo 11, with 10 counted as 0.
fn check_digit(digits: &str, weights: &[u32]) -> u32 {
    weighted_sum(digits, weights) % 11 % 10
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::identifiers::test_support::{any_text, digit_string, with_digit_changed};
    use proptest::prelude::*;

    fn reason(input: &str) -> InvalidReason {
        Regon::parse(input).unwrap_err().reason().clone()
    }

    /// `data` followed by its check digit for `weights`.
    fn completed(data: &str, weights: &[u32]) -> String {
        format!("{data}{}", check_digit(data, weights))
    }

    #[test]
    fn known_valid_regon_parses() {
        assert_eq!(Regon::parse("123456785").unwrap().as_str(), "123456785");
        assert_eq!(Regon::parse(" 123456785 ").unwrap().as_str(), "123456785");
    }

    #[test]
    fn fourteen_digit_regon_extends_a_valid_nine_digit_one() {
        // 123456785 then unit 0002: 2+8+24+20+0+54+49+24+30+0+0+0+16 = 227, 227 % 11 = 7.
        assert_eq!(completed("1234567850002", &WEIGHTS_LONG), "12345678500027");
        assert_eq!(
            Regon::parse("12345678500027").unwrap().as_str(),
            "12345678500027"
        );
    }

    #[test]
    fn fourteen_digit_regon_with_invalid_nine_digit_prefix_is_rejected() {
        // The prefix 123456784 is not a valid REGON, though the 14-digit check digit matches.
        let long = completed("1234567840001", &WEIGHTS_LONG);
        assert_eq!(reason(&long), InvalidReason::BadChecksum);
    }

    #[test]
    fn regon_check_digit_counts_remainder_ten_as_zero() {
        // 00000001: 7 % 11 = 7; 00000002: 14 % 11 = 3; 00000003: 21 % 11 = 10 → 0.
        assert_eq!(completed("00000003", &WEIGHTS_SHORT), "000000030");
        assert!(Regon::parse("000000030").is_ok());
    }

    #[test]
    fn regon_single_digit_typo_goes_undetected_when_the_checksum_wraps_to_zero() {
        // A property of REGON itself, documented here so nobody relies on it: 000000030
        // (remainder 10) and 000000000 (remainder 0) are both valid and differ in one digit.
        assert!(Regon::parse("000000030").is_ok());
        assert!(Regon::parse("000000000").is_ok());
    }

    #[test]
    fn regon_with_bad_check_digit_is_rejected() {
        let err = Regon::parse("123456784").unwrap_err();
        assert_eq!(err.reason(), &InvalidReason::BadChecksum);
        assert_eq!(err.message_pl(), "Numer REGON ma błędną cyfrę kontrolną.");
        assert_eq!(reason("12345678500028"), InvalidReason::BadChecksum);
    }

    #[test]
    fn regon_with_wrong_length_is_rejected() {
        let err = Regon::parse("1234567850").unwrap_err();
        assert_eq!(
            err.reason(),
            &InvalidReason::WrongLength {
                expected: &[9, 14],
                found: 10
            }
        );
        assert_eq!(
            err.message_pl(),
            "Numer REGON musi mieć 9 lub 14 cyfr (podano 10)."
        );
    }

    #[test]
    fn regon_with_non_digits_or_nothing_is_rejected() {
        assert_eq!(reason("123-456-785"), InvalidReason::NotDigits);
        assert_eq!(reason("12345678O"), InvalidReason::NotDigits);
        assert_eq!(reason(""), InvalidReason::Empty);
    }

    #[test]
    fn invalid_regon_json_is_rejected_with_the_english_reason() {
        let err = serde_json::from_str::<Regon>(r#""123456784""#).unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid REGON: the checksum does not match"),
            "{err}"
        );
        assert!(serde_json::from_str::<Regon>("123456785").is_err());
    }

    /// Check digit for `data`, but only if the remainder is neither 0 nor 10: for such
    /// REGONs every single-digit change is caught (see the wrap-to-zero test above).
    fn strict_check_digit(data: &str, weights: &[u32]) -> Option<u32> {
        let remainder = weighted_sum(data, weights) % 11;
        (1..=9).contains(&remainder).then_some(remainder)
    }

    fn valid_short_regon() -> impl Strategy<Value = Regon> {
        digit_string(SHORT - 1)
            .prop_map(|data| Regon::parse(&completed(&data, &WEIGHTS_SHORT)).unwrap())
    }

    fn valid_long_regon() -> impl Strategy<Value = Regon> {
        (valid_short_regon(), digit_string(LONG - SHORT - 1)).prop_map(|(short, unit)| {
            let data = format!("{short}{unit}");
            Regon::parse(&completed(&data, &WEIGHTS_LONG)).unwrap()
        })
    }

    fn valid_regon() -> impl Strategy<Value = Regon> {
        prop_oneof![valid_short_regon(), valid_long_regon()]
    }

    /// `data` followed by its check digit for `weights`, leaving out data whose remainder is
    /// 0 or 10.
    fn strictly_completed(
        data: impl Strategy<Value = String>,
        weights: &'static [u32],
    ) -> impl Strategy<Value = String> {
        data.prop_filter_map("remainder 0 or 10", move |data| {
            strict_check_digit(&data, weights).map(|check| format!("{data}{check}"))
        })
    }

    /// Valid REGONs (either length) whose check digits come from remainders 1..=9.
    fn strictly_checked_regon() -> impl Strategy<Value = Regon> {
        let short = || strictly_completed(digit_string(SHORT - 1), &WEIGHTS_SHORT);
        let long_data = (short(), digit_string(LONG - SHORT - 1))
            .prop_map(|(short, unit)| format!("{short}{unit}"));
        let long = strictly_completed(long_data, &WEIGHTS_LONG);
        prop_oneof![short(), long].prop_map(|digits: String| Regon::parse(&digits).unwrap())
    }

    proptest! {
        #[test]
        fn regon_with_changed_digit_is_rejected(
            regon in strictly_checked_regon(), index in 0usize..LONG, delta in 1u8..=9,
        ) {
            let index = index % regon.as_str().len();
            let changed = with_digit_changed(regon.as_str(), index, delta);
            prop_assert!(Regon::parse(&changed).is_err(), "{} accepted", changed);
        }

        #[test]
        fn regon_display_round_trips_through_parse(regon in valid_regon()) {
            prop_assert_eq!(Regon::parse(&regon.to_string()).unwrap(), regon);
        }

        #[test]
        fn regon_json_round_trips(regon in valid_regon()) {
            let json = serde_json::to_string(&regon).unwrap();
            prop_assert_eq!(serde_json::from_str::<Regon>(&json).unwrap(), regon);
        }

        #[test]
        fn regon_json_accepts_exactly_what_parse_accepts(text in any_text()) {
            let from_json = serde_json::from_value::<Regon>(serde_json::Value::String(text.clone()));
            match Regon::parse(&text) {
                Ok(regon) => prop_assert_eq!(from_json.unwrap(), regon),
                Err(err) => {
                    let json_err = from_json.unwrap_err().to_string();
                    prop_assert!(json_err.contains(&err.to_string()), "{}", json_err);
                }
            }
        }
    }
}
