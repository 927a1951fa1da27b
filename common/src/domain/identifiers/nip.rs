//! NIP, the Polish tax identification number of a business (or a person who runs one).
//!
//! A NIP has 10 digits; the last is the weighted sum of the first nine (weights
//! 6,5,7,2,3,4,5,6,7) modulo 11. Numbers whose sum leaves 10 are never issued, so they are never
//! valid. The first three digits are the code of the tax office that gave the number: never
//! starting with 0, never with 0 as both the second and third digit (the pattern KSeF's FA(3)
//! schema checks, `[1-9]((\d[1-9])|([1-9]\d))\d{7}`), so such numbers are refused too. People write NIPs with dashes or spaces and sometimes with the EU prefix "PL"; all of
//! that is accepted and the canonical form is the 10 bare digits.

use super::{
    IdentifierError, IdentifierKind, InvalidReason, digit_at, require_digits, strip_pl_prefix,
    weighted_sum, without,
};

const KIND: IdentifierKind = IdentifierKind::Nip;
const LEN: usize = 10;
const WEIGHTS: [u32; 9] = [6, 5, 7, 2, 3, 4, 5, 6, 7];

/// A valid NIP, stored as its 10 bare digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nip(String);

impl Nip {
    /// Parses a NIP such as "1234563218", "123-456-32-18", "123 456 32 18" or
    /// "PL1234563218". Surrounding whitespace, an optional leading "PL" (any letter case) and
    /// any dashes and spaces are dropped before the digits are checked.
    pub fn parse(input: &str) -> Result<Self, IdentifierError> {
        let digits = without(strip_pl_prefix(input.trim()), &['-', ' ']);
        require_digits(KIND, &digits, &[LEN])?;
        if check_digit(&digits[..LEN - 1]) != Some(digit_at(&digits, LEN - 1)) {
            return Err(IdentifierError::new(KIND, InvalidReason::BadChecksum));
        }
        if !tax_office_code(&digits) {
            return Err(IdentifierError::new(KIND, InvalidReason::NotIssued));
        }
        Ok(Self(digits))
    }

    /// The 10 bare digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The NIP whose first nine digits are `digits` (zero-padded), for tests and demo data.
    ///
    /// `None` when those nine digits have no valid check digit (the weighted sum leaves 10),
    /// cannot start a NIP (see [`Nip::parse`]) or are more than nine digits.
    pub fn from_first_nine(digits: u32) -> Option<Self> {
        if digits >= 1_000_000_000 {
            return None;
        }
        let first_nine = format!("{digits:09}");
        if !tax_office_code(&first_nine) {
            return None;
        }
        let check = check_digit(&first_nine)?;
        Some(Self(format!("{first_nine}{check}")))
    }
}

text_identifier_impls!(Nip, IdentifierKind::Nip);

/// Do the first three digits look like a tax office's code?
fn tax_office_code(digits: &str) -> bool {
    let b = digits.as_bytes();
    b[0] != b'0' && !(b[1] == b'0' && b[2] == b'0')
}

/// The check digit for the first nine digits, or `None` if the remainder is 10.
fn check_digit(first_nine: &str) -> Option<u32> {
    let remainder = weighted_sum(first_nine, &WEIGHTS) % 11;
    (remainder < 10).then_some(remainder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::identifiers::test_support::{any_text, digit_string, with_digit_changed};
    use proptest::prelude::*;

    fn reason(input: &str) -> InvalidReason {
        Nip::parse(input).unwrap_err().reason().clone()
    }

    #[test]
    fn known_valid_nip_parses() {
        assert_eq!(Nip::parse("1234563218").unwrap().as_str(), "1234563218");
    }

    #[test]
    fn nip_separators_and_pl_prefix_are_dropped() {
        for input in [
            "123-456-32-18",
            "123 456 32 18",
            "12-34-56-32-18",
            "PL1234563218",
            "pl 123-456-32-18",
            "  PL 123 456 32 18  ",
        ] {
            assert_eq!(Nip::parse(input).unwrap().as_str(), "1234563218", "{input}");
        }
    }

    #[test]
    fn nip_with_other_characters_is_rejected() {
        assert_eq!(reason("123/456/32/18"), InvalidReason::NotDigits);
        assert_eq!(reason("123.456.32.18"), InvalidReason::NotDigits);
        assert_eq!(reason("DE1234563218"), InvalidReason::NotDigits);
        assert_eq!(reason("1234563218PL"), InvalidReason::NotDigits);
        assert_eq!(
            Nip::parse("12345x3218").unwrap_err().message_pl(),
            "Numer NIP może zawierać tylko cyfry, myślniki i spacje."
        );
    }

    #[test]
    fn empty_nip_is_rejected() {
        assert_eq!(reason(""), InvalidReason::Empty);
        assert_eq!(reason(" - "), InvalidReason::Empty);
        assert_eq!(reason("PL"), InvalidReason::Empty);
    }

    #[test]
    fn nip_with_wrong_length_is_rejected() {
        let err = Nip::parse("123-456-32-1").unwrap_err();
        assert_eq!(
            err.reason(),
            &InvalidReason::WrongLength {
                expected: &[10],
                found: 9
            }
        );
        assert_eq!(err.message_pl(), "Numer NIP musi mieć 10 cyfr (podano 9).");
    }

    #[test]
    fn nip_with_bad_check_digit_is_rejected() {
        let err = Nip::parse("1234563217").unwrap_err();
        assert_eq!(err.kind(), IdentifierKind::Nip);
        assert_eq!(err.reason(), &InvalidReason::BadChecksum);
        assert_eq!(err.message_pl(), "Numer NIP ma błędną cyfrę kontrolną.");
    }

    #[test]
    fn a_nip_no_tax_office_gives_is_refused() {
        // Right check digits, but no tax office code starts with 0 or is X00.
        for nip in ["3000036637", "0123456789"] {
            let first_nine: u32 = nip[..9].parse().unwrap();
            if let Some(made) = Nip::from_first_nine(first_nine) {
                panic!("{made:?} made from {first_nine}");
            }
        }
        assert_eq!(reason("3000036637"), InvalidReason::NotIssued);
        assert!(
            Nip::parse("3000036637")
                .unwrap_err()
                .message_pl()
                .contains("urzędu skarbowego")
        );
        assert!(Nip::parse("5260250274").is_ok());
    }

    #[test]
    fn nip_whose_checksum_would_be_ten_is_never_valid() {
        // 123456789: 6+10+21+8+15+24+35+48+63 = 230, 230 % 11 = 10.
        assert_eq!(Nip::from_first_nine(123_456_789), None);
        for last in 0..=9 {
            assert_eq!(
                reason(&format!("123456789{last}")),
                InvalidReason::BadChecksum
            );
        }
    }

    #[test]
    fn nip_from_first_nine_appends_the_check_digit() {
        assert_eq!(
            Nip::from_first_nine(123_456_321).unwrap().as_str(),
            "1234563218"
        );
        // No tax office's code starts with 0.
        assert_eq!(Nip::from_first_nine(1), None);
        assert_eq!(Nip::from_first_nine(1_000_000_000), None);
    }

    #[test]
    fn nip_json_is_the_bare_digits() {
        let nip = Nip::parse("PL 123-456-32-18").unwrap();
        assert_eq!(serde_json::to_string(&nip).unwrap(), r#""1234563218""#);
        let back: Nip = serde_json::from_str(r#""123-456-32-18""#).unwrap();
        assert_eq!(back, nip);
    }

    #[test]
    fn invalid_nip_json_is_rejected_with_the_english_reason() {
        let err = serde_json::from_str::<Nip>(r#""1234563217""#).unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid NIP: the checksum does not match"),
            "{err}"
        );
        assert!(serde_json::from_str::<Nip>("1234563218").is_err());
    }

    fn valid_nip() -> impl Strategy<Value = Nip> {
        (0u32..1_000_000_000).prop_filter_map("checksum would be 10", Nip::from_first_nine)
    }

    proptest! {
        #[test]
        fn nip_from_first_nine_is_some_exactly_when_the_checksum_is_a_digit_and_the_office_real(
            first_nine in digit_string(9),
        ) {
            let number: u32 = first_nine.parse().unwrap();
            let remainder = weighted_sum(&first_nine, &WEIGHTS) % 11;
            let nip = Nip::from_first_nine(number);
            let office = !first_nine.starts_with('0') && &first_nine[1..3] != "00";
            prop_assert_eq!(nip.is_some(), remainder != 10 && office);
            if let Some(nip) = nip {
                prop_assert!(nip.as_str().starts_with(&first_nine));
                prop_assert_eq!(Nip::parse(nip.as_str()).unwrap(), nip);
            }
        }

        #[test]
        fn nip_with_changed_digit_is_rejected(
            nip in valid_nip(), index in 0usize..LEN, delta in 1u8..=9,
        ) {
            let changed = with_digit_changed(nip.as_str(), index, delta);
            prop_assert!(Nip::parse(&changed).is_err(), "{} accepted", changed);
        }

        #[test]
        fn nip_display_round_trips_through_parse(nip in valid_nip()) {
            prop_assert_eq!(Nip::parse(&nip.to_string()).unwrap(), nip);
        }

        #[test]
        fn nip_json_round_trips(nip in valid_nip()) {
            let json = serde_json::to_string(&nip).unwrap();
            prop_assert_eq!(serde_json::from_str::<Nip>(&json).unwrap(), nip);
        }

        #[test]
        fn nip_json_accepts_exactly_what_parse_accepts(text in any_text()) {
            let from_json = serde_json::from_value::<Nip>(serde_json::Value::String(text.clone()));
            match Nip::parse(&text) {
                Ok(nip) => prop_assert_eq!(from_json.unwrap(), nip),
                Err(err) => {
                    let json_err = from_json.unwrap_err().to_string();
                    prop_assert!(json_err.contains(&err.to_string()), "{}", json_err);
                }
            }
        }
    }
}
