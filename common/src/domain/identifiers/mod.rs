//! Polish identifiers as "parse, don't validate" newtypes.
//!
//! This module owns the identifier types a resident or a company gives us — [`Pesel`], [`Nip`],
//! [`Regon`], [`Nrb`] (bank account number) and [`PostalCode`] — and the one error type their
//! parsers return, [`IdentifierError`], with its English `Display` and the Polish sentence shown
//! to residents ([`IdentifierError::message_pl`]).
//!
//! Every value of these types is valid by construction: the only ways to get one are `parse`
//! (which `FromStr`, serde deserialisation and sqlx decoding all go through) and the documented
//! constructors for demo data. Each type keeps its canonical text form, which is what `Display`,
//! serde and the database (a PostgreSQL `text` column) see.

use std::fmt;

/// Implements the text plumbing every identifier shares, given `parse(&str)` and `as_str()`:
/// `Display` and `FromStr`, serde as the canonical string, and sqlx (PostgreSQL `text`).
macro_rules! text_identifier_impls {
    ($ty:ident, $kind:expr) => {
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::domain::identifiers::IdentifierError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                struct TextVisitor;

                impl ::serde::de::Visitor<'_> for TextVisitor {
                    type Value = $ty;

                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        write!(f, "a {} as a string", $kind)
                    }

                    fn visit_str<E: ::serde::de::Error>(self, value: &str) -> Result<$ty, E> {
                        $ty::parse(value).map_err(E::custom)
                    }
                }

                deserializer.deserialize_str(TextVisitor)
            }
        }

        impl ::sqlx::Type<::sqlx::Postgres> for $ty {
            fn type_info() -> ::sqlx::postgres::PgTypeInfo {
                <String as ::sqlx::Type<::sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &::sqlx::postgres::PgTypeInfo) -> bool {
                <String as ::sqlx::Type<::sqlx::Postgres>>::compatible(ty)
            }
        }

        impl ::sqlx::postgres::PgHasArrayType for $ty {
            fn array_type_info() -> ::sqlx::postgres::PgTypeInfo {
                <String as ::sqlx::postgres::PgHasArrayType>::array_type_info()
            }

            fn array_compatible(ty: &::sqlx::postgres::PgTypeInfo) -> bool {
                <String as ::sqlx::postgres::PgHasArrayType>::array_compatible(ty)
            }
        }

        impl ::sqlx::Encode<'_, ::sqlx::Postgres> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut ::sqlx::postgres::PgArgumentBuffer,
            ) -> Result<::sqlx::encode::IsNull, ::sqlx::error::BoxDynError> {
                <&str as ::sqlx::Encode<'_, ::sqlx::Postgres>>::encode(self.as_str(), buf)
            }

            fn size_hint(&self) -> usize {
                self.as_str().len()
            }
        }

        impl<'r> ::sqlx::Decode<'r, ::sqlx::Postgres> for $ty {
            fn decode(
                value: ::sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, ::sqlx::error::BoxDynError> {
                let text = <&str as ::sqlx::Decode<'r, ::sqlx::Postgres>>::decode(value)?;
                Ok(Self::parse(text)?)
            }
        }
    };
}

mod nip;
mod nrb;
mod pesel;
mod postal_code;
mod regon;

pub use nip::Nip;
pub use nrb::Nrb;
pub use pesel::{Pesel, Sex};
pub use postal_code::PostalCode;
pub use regon::Regon;

/// Which identifier failed to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentifierKind {
    /// [`Pesel`], the national identification number of a person.
    Pesel,
    /// [`Nip`], the tax identification number.
    Nip,
    /// [`Regon`], the statistical number of a business.
    Regon,
    /// [`Nrb`], a Polish bank account number.
    Nrb,
    /// [`PostalCode`], a Polish postal code.
    PostalCode,
}

impl IdentifierKind {
    /// The subject of the Polish error sentence, capitalised ("Numer PESEL", "Kod pocztowy").
    /// Every subject is grammatically masculine, which the sentences in
    /// [`IdentifierError::message_pl`] rely on.
    fn subject_pl(self) -> &'static str {
        match self {
            Self::Pesel => "Numer PESEL",
            Self::Nip => "Numer NIP",
            Self::Regon => "Numer REGON",
            Self::Nrb => "Numer rachunku bankowego",
            Self::PostalCode => "Kod pocztowy",
        }
    }
}

impl fmt::Display for IdentifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pesel => "PESEL",
            Self::Nip => "NIP",
            Self::Regon => "REGON",
            Self::Nrb => "bank account number (NRB)",
            Self::PostalCode => "postal code",
        })
    }
}

/// Why an identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InvalidReason {
    /// Nothing but whitespace (or separators) was given.
    Empty,
    /// Something other than digits (and the separators the identifier allows) was given.
    NotDigits,
    /// The number of digits is not one of the `expected` lengths.
    WrongLength {
        /// The accepted numbers of digits (REGON accepts two).
        expected: &'static [usize],
        /// The number of digits given.
        found: usize,
    },
    /// The check digit(s) do not match the rest of the number.
    BadChecksum,
    /// The embedded date (the PESEL birth date) is not a real calendar date.
    BadDate,
    /// The number cannot have been issued: a NIP's first three digits are a tax office's code,
    /// which never starts with 0 nor has 0 as both its second and third digit (the pattern
    /// of the Ministry's schemas, e.g. KSeF's FA(3)).
    NotIssued,
}

impl fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the value is empty"),
            Self::NotDigits => f.write_str("it contains characters other than digits"),
            Self::WrongLength { expected, found } => {
                write!(
                    f,
                    "it must have {} digits, found {found}",
                    join(expected, " or ")
                )
            }
            Self::BadChecksum => f.write_str("the checksum does not match"),
            Self::BadDate => f.write_str("it does not encode a valid date"),
            Self::NotIssued => f.write_str("no such number is ever issued"),
        }
    }
}

/// An identifier that failed to parse: which kind it was and why.
///
/// `Display` is English, for logs and API clients; [`message_pl`](Self::message_pl) is the
/// Polish sentence a resident reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct IdentifierError {
    kind: IdentifierKind,
    reason: InvalidReason,
}

impl IdentifierError {
    fn new(kind: IdentifierKind, reason: InvalidReason) -> Self {
        Self { kind, reason }
    }

    /// Which identifier was rejected.
    pub fn kind(&self) -> IdentifierKind {
        self.kind
    }

    /// Why it was rejected.
    pub fn reason(&self) -> &InvalidReason {
        &self.reason
    }

    /// The Polish sentence shown to a resident, e.g.
    /// "Numer PESEL musi mieć 11 cyfr (podano 10)." or "Numer NIP ma błędną cyfrę kontrolną."
    pub fn message_pl(&self) -> String {
        let subject = self.kind.subject_pl();
        match (&self.reason, self.kind) {
            (InvalidReason::Empty, _) => format!("{subject} nie może być pusty."),
            (InvalidReason::NotDigits, IdentifierKind::PostalCode) => {
                format!("{subject} musi mieć postać NN-NNN, np. 00-950.")
            }
            (InvalidReason::NotDigits, IdentifierKind::Nip) => {
                format!("{subject} może zawierać tylko cyfry, myślniki i spacje.")
            }
            (InvalidReason::NotDigits, IdentifierKind::Nrb) => {
                format!("{subject} może zawierać tylko cyfry i spacje.")
            }
            (InvalidReason::NotDigits, _) => format!("{subject} może zawierać tylko cyfry."),
            (InvalidReason::WrongLength { expected, found }, _) => {
                let last = expected.last().copied().unwrap_or(0);
                format!(
                    "{subject} musi mieć {} {} (podano {found}).",
                    join(expected, " lub "),
                    digits_word_pl(last)
                )
            }
            (InvalidReason::BadChecksum, IdentifierKind::Nrb) => {
                format!("{subject} ma błędne cyfry kontrolne.")
            }
            (InvalidReason::BadChecksum, _) => format!("{subject} ma błędną cyfrę kontrolną."),
            (InvalidReason::BadDate, IdentifierKind::Pesel) => {
                format!("{subject} zawiera nieprawidłową datę urodzenia.")
            }
            (InvalidReason::BadDate, _) => format!("{subject} zawiera nieprawidłową datę."),
            (InvalidReason::NotIssued, _) => format!(
                "{subject}: taki numer nie istnieje (pierwsze trzy cyfry to kod urzędu skarbowego, \
                 który nie zaczyna się od 0 ani nie ma dwóch zer po pierwszej cyfrze)."
            ),
        }
    }
}

/// "1 or 2 or 3" style list of numbers.
fn join(numbers: &[usize], separator: &str) -> String {
    numbers
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(separator)
}

/// The accusative of "cyfra" after a number: "1 cyfrę", "2 cyfry", "5 cyfr", "22 cyfry".
fn digits_word_pl(n: usize) -> &'static str {
    if n == 1 {
        "cyfrę"
    } else if (2..=4).contains(&(n % 10)) && !(12..=14).contains(&(n % 100)) {
        "cyfry"
    } else {
        "cyfr"
    }
}

/// Checks that `s` is non-empty, only ASCII digits and one of the `expected` lengths, in that
/// order, so the reason reported is the first thing wrong.
fn require_digits(
    kind: IdentifierKind,
    s: &str,
    expected: &'static [usize],
) -> Result<(), IdentifierError> {
    if s.is_empty() {
        return Err(IdentifierError::new(kind, InvalidReason::Empty));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdentifierError::new(kind, InvalidReason::NotDigits));
    }
    if !expected.contains(&s.len()) {
        return Err(IdentifierError::new(
            kind,
            InvalidReason::WrongLength {
                expected,
                found: s.len(),
            },
        ));
    }
    Ok(())
}

/// The value of the ASCII digit at byte `index` of `digits` (already checked to be digits).
fn digit_at(digits: &str, index: usize) -> u32 {
    u32::from(digits.as_bytes()[index] - b'0')
}

/// Sum of the ASCII digits of `digits` times `weights`, pairwise (extra digits are ignored).
fn weighted_sum(digits: &str, weights: &[u32]) -> u32 {
    digits
        .bytes()
        .zip(weights)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum()
}

/// `s` without a leading country prefix "PL" (any letter case), if it has one.
fn strip_pl_prefix(s: &str) -> &str {
    match s.get(..2) {
        Some(prefix) if prefix.eq_ignore_ascii_case("PL") => &s[2..],
        _ => s,
    }
}

/// `s` without any of the `separators`.
fn without(s: &str, separators: &[char]) -> String {
    s.chars().filter(|c| !separators.contains(c)).collect()
}

#[cfg(test)]
mod test_support {
    //! Helpers the identifier tests share.

    use proptest::prelude::*;

    /// `digits` with the digit at `index` changed by `delta` (1..=9, modulo 10), so it always
    /// differs from the original.
    pub(super) fn with_digit_changed(digits: &str, index: usize, delta: u8) -> String {
        assert!((1..=9).contains(&delta), "delta must change the digit");
        let mut bytes = digits.as_bytes().to_vec();
        bytes[index] = b'0' + (bytes[index] - b'0' + delta) % 10;
        String::from_utf8(bytes).expect("digits are ASCII")
    }

    /// A string of exactly `len` random ASCII digits.
    pub(super) fn digit_string(len: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(0u8..10, len)
            .prop_map(|ds| ds.into_iter().map(|d| char::from(b'0' + d)).collect())
    }

    /// Arbitrary strings, biased toward digit-like input so some of them are near misses.
    pub(super) fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[0-9]{0,30}",
            "[0-9 PLpl-]{0,32}",
            "[0-9]{2}-[0-9]{3}",
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo};
    use sqlx::{Encode, Postgres, Type};

    fn error(kind: IdentifierKind, reason: InvalidReason) -> IdentifierError {
        IdentifierError::new(kind, reason)
    }

    #[test]
    fn error_display_names_kind_and_reason_in_english() {
        let e = error(
            IdentifierKind::Pesel,
            InvalidReason::WrongLength {
                expected: &[11],
                found: 10,
            },
        );
        assert_eq!(
            e.to_string(),
            "invalid PESEL: it must have 11 digits, found 10"
        );
        let e = error(IdentifierKind::Nip, InvalidReason::BadChecksum);
        assert_eq!(e.to_string(), "invalid NIP: the checksum does not match");
        let e = error(
            IdentifierKind::Regon,
            InvalidReason::WrongLength {
                expected: &[9, 14],
                found: 12,
            },
        );
        assert_eq!(
            e.to_string(),
            "invalid REGON: it must have 9 or 14 digits, found 12"
        );
    }

    #[test]
    fn polish_messages_read_as_sentences_for_every_reason() {
        use IdentifierKind as K;
        use InvalidReason as R;
        let cases = [
            (
                K::Pesel,
                R::WrongLength {
                    expected: &[11],
                    found: 10,
                },
                "Numer PESEL musi mieć 11 cyfr (podano 10).",
            ),
            (
                K::Regon,
                R::WrongLength {
                    expected: &[9, 14],
                    found: 3,
                },
                "Numer REGON musi mieć 9 lub 14 cyfr (podano 3).",
            ),
            (
                K::Nip,
                R::BadChecksum,
                "Numer NIP ma błędną cyfrę kontrolną.",
            ),
            (
                K::Nrb,
                R::BadChecksum,
                "Numer rachunku bankowego ma błędne cyfry kontrolne.",
            ),
            (
                K::Pesel,
                R::BadDate,
                "Numer PESEL zawiera nieprawidłową datę urodzenia.",
            ),
            (K::Pesel, R::Empty, "Numer PESEL nie może być pusty."),
            (K::PostalCode, R::Empty, "Kod pocztowy nie może być pusty."),
            (
                K::Pesel,
                R::NotDigits,
                "Numer PESEL może zawierać tylko cyfry.",
            ),
            (
                K::Nip,
                R::NotDigits,
                "Numer NIP może zawierać tylko cyfry, myślniki i spacje.",
            ),
            (
                K::PostalCode,
                R::NotDigits,
                "Kod pocztowy musi mieć postać NN-NNN, np. 00-950.",
            ),
        ];
        for (kind, reason, expected) in cases {
            assert_eq!(error(kind, reason).message_pl(), expected);
        }
    }

    #[test]
    fn polish_digit_word_agrees_with_the_number() {
        assert_eq!(digits_word_pl(1), "cyfrę");
        assert_eq!(digits_word_pl(2), "cyfry");
        assert_eq!(digits_word_pl(4), "cyfry");
        assert_eq!(digits_word_pl(5), "cyfr");
        assert_eq!(digits_word_pl(11), "cyfr");
        assert_eq!(digits_word_pl(12), "cyfr");
        assert_eq!(digits_word_pl(22), "cyfry");
        assert_eq!(digits_word_pl(26), "cyfr");
    }

    #[test]
    fn pl_prefix_is_stripped_in_any_case_and_only_at_the_start() {
        assert_eq!(strip_pl_prefix("PL123"), "123");
        assert_eq!(strip_pl_prefix("pl123"), "123");
        assert_eq!(strip_pl_prefix("123PL"), "123PL");
        assert_eq!(strip_pl_prefix("ł"), "ł");
        assert_eq!(strip_pl_prefix(""), "");
    }

    fn assert_stored_as_text<T>(value: T, expected: &str)
    where
        T: Type<Postgres> + PgHasArrayType + for<'q> Encode<'q, Postgres>,
    {
        assert_eq!(T::type_info(), <String as Type<Postgres>>::type_info());
        assert!(T::compatible(&<String as Type<Postgres>>::type_info()));
        assert!(T::compatible(&PgTypeInfo::with_name("citext")));
        assert!(!T::compatible(&<i64 as Type<Postgres>>::type_info()));
        assert!(!T::compatible(
            &<chrono::NaiveDate as Type<Postgres>>::type_info()
        ));
        assert_eq!(
            T::array_type_info(),
            <String as PgHasArrayType>::array_type_info()
        );

        let mut buf = PgArgumentBuffer::default();
        let is_null = value.encode_by_ref(&mut buf).expect("encodes");
        assert!(!is_null.is_null());
        assert_eq!(buf.as_slice(), expected.as_bytes());
    }

    #[test]
    fn identifiers_are_stored_in_postgres_as_canonical_text() {
        assert_stored_as_text(Pesel::parse(" 44051401359 ").unwrap(), "44051401359");
        assert_stored_as_text(Nip::parse("PL 123-456-32-18").unwrap(), "1234563218");
        assert_stored_as_text(Regon::parse("123456785").unwrap(), "123456785");
        assert_stored_as_text(
            Nrb::parse("PL61 1090 1014 0000 0712 1981 2874").unwrap(),
            "61109010140000071219812874",
        );
        assert_stored_as_text(PostalCode::parse("00950").unwrap(), "00-950");
    }
}
