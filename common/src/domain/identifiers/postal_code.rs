//! Polish postal codes, "NN-NNN" (e.g. "00-950").
//!
//! Five digits with a dash after the second. People also type the five digits without the
//! dash; both are accepted and the canonical form always has the dash. There is no check
//! digit, so any five digits are a valid code as far as this type knows.

use super::{IdentifierError, IdentifierKind, require_digits};

const KIND: IdentifierKind = IdentifierKind::PostalCode;
const DIGITS: usize = 5;

/// A Polish postal code, stored as "NN-NNN".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PostalCode(String);

impl PostalCode {
    /// Parses "NN-NNN" or "NNNNN". Surrounding whitespace is trimmed; a dash anywhere but
    /// after the second digit, or any other separator, is rejected.
    pub fn parse(input: &str) -> Result<Self, IdentifierError> {
        let trimmed = input.trim();
        let digits = match (trimmed.get(..2), trimmed.get(2..3), trimmed.get(3..)) {
            (Some(head), Some("-"), Some(tail)) => format!("{head}{tail}"),
            _ => trimmed.to_owned(),
        };
        require_digits(KIND, &digits, &[DIGITS])?;
        Ok(Self(format!("{}-{}", &digits[..2], &digits[2..])))
    }

    /// The code as "NN-NNN".
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_identifier_impls!(PostalCode, IdentifierKind::PostalCode);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::identifiers::InvalidReason;
    use crate::domain::identifiers::test_support::{any_text, digit_string};
    use proptest::prelude::*;

    fn reason(input: &str) -> InvalidReason {
        PostalCode::parse(input).unwrap_err().reason().clone()
    }

    #[test]
    fn postal_code_with_or_without_dash_is_normalised_to_dashed() {
        for input in ["00-950", "00950", " 00-950 ", "\t00950\n"] {
            assert_eq!(
                PostalCode::parse(input).unwrap().as_str(),
                "00-950",
                "{input}"
            );
        }
    }

    #[test]
    fn postal_code_with_misplaced_or_other_separator_is_rejected() {
        for input in [
            "009-50", "0-0950", "00 950", "00–950", "00-9-50", "00_950", "0O-950",
        ] {
            assert_eq!(reason(input), InvalidReason::NotDigits, "{input}");
        }
        assert_eq!(
            PostalCode::parse("009-50").unwrap_err().message_pl(),
            "Kod pocztowy musi mieć postać NN-NNN, np. 00-950."
        );
    }

    #[test]
    fn postal_code_with_wrong_number_of_digits_is_rejected() {
        let err = PostalCode::parse("00-95").unwrap_err();
        assert_eq!(
            err.reason(),
            &InvalidReason::WrongLength {
                expected: &[5],
                found: 4
            }
        );
        assert_eq!(
            err.message_pl(),
            "Kod pocztowy musi mieć 5 cyfr (podano 4)."
        );
        assert_eq!(
            reason("009500"),
            InvalidReason::WrongLength {
                expected: &[5],
                found: 6
            }
        );
    }

    #[test]
    fn empty_postal_code_is_rejected() {
        assert_eq!(reason(""), InvalidReason::Empty);
        assert_eq!(reason("  "), InvalidReason::Empty);
        assert_eq!(
            PostalCode::parse("").unwrap_err().message_pl(),
            "Kod pocztowy nie może być pusty."
        );
    }

    #[test]
    fn postal_code_json_is_the_dashed_form() {
        let code = PostalCode::parse("00950").unwrap();
        assert_eq!(serde_json::to_string(&code).unwrap(), r#""00-950""#);
        let err = serde_json::from_str::<PostalCode>(r#""0095""#).unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid postal code: it must have 5 digits, found 4"),
            "{err}"
        );
    }

    fn valid_postal_code() -> impl Strategy<Value = PostalCode> {
        digit_string(DIGITS).prop_map(|digits| PostalCode::parse(&digits).unwrap())
    }

    proptest! {
        #[test]
        fn any_five_digits_parse_with_or_without_dash(digits in digit_string(DIGITS)) {
            let dashed = format!("{}-{}", &digits[..2], &digits[2..]);
            let bare = PostalCode::parse(&digits).unwrap();
            prop_assert_eq!(bare.as_str(), dashed.as_str());
            prop_assert_eq!(PostalCode::parse(&dashed).unwrap(), bare);
        }

        #[test]
        fn postal_code_display_round_trips_through_parse(code in valid_postal_code()) {
            prop_assert_eq!(PostalCode::parse(&code.to_string()).unwrap(), code);
        }

        #[test]
        fn postal_code_json_round_trips(code in valid_postal_code()) {
            let json = serde_json::to_string(&code).unwrap();
            prop_assert_eq!(serde_json::from_str::<PostalCode>(&json).unwrap(), code);
        }

        #[test]
        fn postal_code_json_accepts_exactly_what_parse_accepts(text in any_text()) {
            let from_json =
                serde_json::from_value::<PostalCode>(serde_json::Value::String(text.clone()));
            match PostalCode::parse(&text) {
                Ok(code) => prop_assert_eq!(from_json.unwrap(), code),
                Err(err) => {
                    let json_err = from_json.unwrap_err().to_string();
                    prop_assert!(json_err.contains(&err.to_string()), "{}", json_err);
                }
            }
        }
    }
}
