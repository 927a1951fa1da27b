//! NRB, the Polish bank account number, and its IBAN form.
//!
//! An NRB has 26 digits: two check digits, eight digits of bank and branch, and sixteen of
//! account. The IBAN is "PL" followed by those 26 digits, and the check digits are the IBAN ones
//! (ISO 13616, mod 97): move "PL" and the check digits to the end, write P as 25 and L as 21, and
//! the resulting number leaves 1 when divided by 97. The remainder is computed piecewise, one
//! digit at a time, in integers — the number is far too long for any machine type or a float.

use super::{
    IdentifierError, IdentifierKind, InvalidReason, require_digits, strip_pl_prefix, without,
};

const KIND: IdentifierKind = IdentifierKind::Nrb;
const LEN: usize = 26;
const BANK_BRANCH_LEN: usize = 8;
const ACCOUNT_LEN: usize = 16;
/// "PL" as IBAN digits: P = 25, L = 21.
const COUNTRY_DIGITS: &str = "2521";

/// A valid Polish bank account number, stored as its 26 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nrb(String);

impl Nrb {
    /// Parses an NRB or a Polish IBAN, e.g. "61109010140000071219812874" or
    /// "PL61 1090 1014 0000 0712 1981 2874". Surrounding whitespace, an optional leading "PL"
    /// (any letter case) and any spaces are dropped before the digits are checked.
    pub fn parse(input: &str) -> Result<Self, IdentifierError> {
        let digits = without(strip_pl_prefix(input.trim()), &[' ']);
        require_digits(KIND, &digits, &[LEN])?;
        let rearranged = format!("{}{COUNTRY_DIGITS}{}", &digits[2..], &digits[..2]);
        if mod_97(&rearranged) != 1 {
            return Err(IdentifierError::new(KIND, InvalidReason::BadChecksum));
        }
        Ok(Self(digits))
    }

    /// Builds the NRB for a bank/branch number and an account number by computing the two
    /// check digits — how virtual accounts for residents are made.
    ///
    /// `bank_branch` must be exactly 8 digits and `account` exactly 16, with no spaces; the
    /// error (of kind [`IdentifierKind::Nrb`]) says which length was wrong.
    pub fn from_bank_and_account(
        bank_branch: &str,
        account: &str,
    ) -> Result<Self, IdentifierError> {
        require_digits(KIND, bank_branch, &[BANK_BRANCH_LEN])?;
        require_digits(KIND, account, &[ACCOUNT_LEN])?;
        let remainder = mod_97(&format!("{bank_branch}{account}{COUNTRY_DIGITS}00"));
        let check = 98 - remainder;
        Ok(Self(format!("{check:02}{bank_branch}{account}")))
    }

    /// The 26 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The IBAN: "PL" followed by the 26 digits.
    pub fn to_iban(&self) -> String {
        format!("PL{}", self.0)
    }

    /// The IBAN in groups of four for people to read, e.g.
    /// "PL61 1090 1014 0000 0712 1981 2874".
    pub fn formatted(&self) -> String {
        let iban = self.to_iban();
        let mut out = String::with_capacity(iban.len() + iban.len() / 4);
        for (i, c) in iban.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push(' ');
            }
            out.push(c);
        }
        out
    }
}

text_identifier_impls!(Nrb, IdentifierKind::Nrb);

/// The remainder of the decimal number `digits` (ASCII digits only) divided by 97.
fn mod_97(digits: &str) -> u32 {
    digits.bytes().fold(0, |remainder, b| {
        (remainder * 10 + u32::from(b - b'0')) % 97
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::identifiers::test_support::{any_text, digit_string, with_digit_changed};
    use proptest::prelude::*;

    const KNOWN: &str = "61109010140000071219812874";

    fn reason(input: &str) -> InvalidReason {
        Nrb::parse(input).unwrap_err().reason().clone()
    }

    #[test]
    fn known_valid_nrb_parses_in_every_written_form() {
        for input in [
            KNOWN,
            "61 1090 1014 0000 0712 1981 2874",
            "PL61109010140000071219812874",
            "PL61 1090 1014 0000 0712 1981 2874",
            "  pl 61 1090 1014 0000 0712 1981 2874 ",
        ] {
            assert_eq!(Nrb::parse(input).unwrap().as_str(), KNOWN, "{input}");
        }
    }

    #[test]
    fn nrb_iban_and_formatted_forms() {
        let nrb = Nrb::parse(KNOWN).unwrap();
        assert_eq!(nrb.to_iban(), "PL61109010140000071219812874");
        assert_eq!(nrb.formatted(), "PL61 1090 1014 0000 0712 1981 2874");
        assert_eq!(nrb.to_string(), KNOWN);
    }

    #[test]
    fn nrb_from_bank_and_account_computes_the_check_digits() {
        let nrb = Nrb::from_bank_and_account("10901014", "0000071219812874").unwrap();
        assert_eq!(nrb.as_str(), KNOWN);
    }

    #[test]
    fn nrb_from_bank_and_account_pads_small_check_digits() {
        // Whatever the check digits, they are two digits (02..=98) and the result is valid.
        for account in 0..200u32 {
            let nrb = Nrb::from_bank_and_account("10901014", &format!("{account:016}")).unwrap();
            assert_eq!(nrb.as_str().len(), LEN);
            assert_eq!(Nrb::parse(nrb.as_str()).unwrap(), nrb);
        }
    }

    #[test]
    fn nrb_from_bank_and_account_rejects_wrong_parts() {
        let err = Nrb::from_bank_and_account("1090101", "0000071219812874").unwrap_err();
        assert_eq!(
            err.reason(),
            &InvalidReason::WrongLength {
                expected: &[8],
                found: 7
            }
        );
        let err = Nrb::from_bank_and_account("10901014", "0000 0712 1981 2874").unwrap_err();
        assert_eq!(err.reason(), &InvalidReason::NotDigits);
        let err = Nrb::from_bank_and_account("10901014", "").unwrap_err();
        assert_eq!(err.reason(), &InvalidReason::Empty);
    }

    #[test]
    fn nrb_with_bad_check_digits_is_rejected() {
        let err = Nrb::parse("62109010140000071219812874").unwrap_err();
        assert_eq!(err.kind(), IdentifierKind::Nrb);
        assert_eq!(err.reason(), &InvalidReason::BadChecksum);
        assert_eq!(
            err.message_pl(),
            "Numer rachunku bankowego ma błędne cyfry kontrolne."
        );
    }

    #[test]
    fn nrb_with_swapped_neighbouring_digits_is_rejected() {
        assert_eq!(
            reason("61109010140000071219812847"),
            InvalidReason::BadChecksum
        );
    }

    #[test]
    fn nrb_with_wrong_length_is_rejected() {
        let err = Nrb::parse("PL61 1090 1014 0000 0712 1981 287").unwrap_err();
        assert_eq!(
            err.reason(),
            &InvalidReason::WrongLength {
                expected: &[26],
                found: 25
            }
        );
        assert_eq!(
            err.message_pl(),
            "Numer rachunku bankowego musi mieć 26 cyfr (podano 25)."
        );
    }

    #[test]
    fn nrb_with_other_characters_or_country_is_rejected() {
        assert_eq!(
            reason("61-1090-1014-0000-0712-1981-2874"),
            InvalidReason::NotDigits
        );
        assert_eq!(reason("DE89370400440532013000"), InvalidReason::NotDigits);
        assert_eq!(reason(""), InvalidReason::Empty);
        assert_eq!(reason("PL"), InvalidReason::Empty);
    }

    #[test]
    fn invalid_nrb_json_is_rejected_with_the_english_reason() {
        let err = serde_json::from_str::<Nrb>(r#""62109010140000071219812874""#).unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid bank account number (NRB): the checksum does not match"),
            "{err}"
        );
    }

    #[test]
    fn nrb_json_is_the_26_digits() {
        let nrb = Nrb::parse("PL61 1090 1014 0000 0712 1981 2874").unwrap();
        assert_eq!(serde_json::to_string(&nrb).unwrap(), format!("\"{KNOWN}\""));
    }

    fn valid_nrb() -> impl Strategy<Value = Nrb> {
        (digit_string(BANK_BRANCH_LEN), digit_string(ACCOUNT_LEN))
            .prop_map(|(bank, account)| Nrb::from_bank_and_account(&bank, &account).unwrap())
    }

    proptest! {
        #[test]
        fn nrb_from_bank_and_account_always_parses_back(
            bank in digit_string(BANK_BRANCH_LEN), account in digit_string(ACCOUNT_LEN),
        ) {
            let nrb = Nrb::from_bank_and_account(&bank, &account).unwrap();
            prop_assert_eq!(&nrb.as_str()[2..], format!("{bank}{account}"));
            prop_assert_eq!(Nrb::parse(&nrb.to_iban()).unwrap(), nrb.clone());
            prop_assert_eq!(Nrb::parse(&nrb.formatted()).unwrap(), nrb);
        }

        #[test]
        fn nrb_with_changed_digit_is_rejected(
            nrb in valid_nrb(), index in 0usize..LEN, delta in 1u8..=9,
        ) {
            let changed = with_digit_changed(nrb.as_str(), index, delta);
            prop_assert!(Nrb::parse(&changed).is_err(), "{} accepted", changed);
        }

        #[test]
        fn nrb_display_round_trips_through_parse(nrb in valid_nrb()) {
            prop_assert_eq!(Nrb::parse(&nrb.to_string()).unwrap(), nrb);
        }

        #[test]
        fn nrb_json_round_trips(nrb in valid_nrb()) {
            let json = serde_json::to_string(&nrb).unwrap();
            prop_assert_eq!(serde_json::from_str::<Nrb>(&json).unwrap(), nrb);
        }

        #[test]
        fn nrb_json_accepts_exactly_what_parse_accepts(text in any_text()) {
            let from_json = serde_json::from_value::<Nrb>(serde_json::Value::String(text.clone()));
            match Nrb::parse(&text) {
                Ok(nrb) => prop_assert_eq!(from_json.unwrap(), nrb),
                Err(err) => {
                    let json_err = from_json.unwrap_err().to_string();
                    prop_assert!(json_err.contains(&err.to_string()), "{}", json_err);
                }
            }
        }
    }
}
