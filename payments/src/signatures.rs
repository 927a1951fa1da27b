//! The signatures the payment providers put on what they send and ask of what they receive:
//! the clients, the notification endpoints and the emulators all sign and check with these.
//!
//! - **Przelewy24** REST v1: `sign` is the SHA-384 hex of a compact JSON object with the fields
//!   in a fixed order per message (integers as numbers, strings unescaped beyond JSON's own
//!   rules, no spaces). serde_json writes exactly that from a struct whose fields are in that
//!   order, so each message is a struct here.
//! - **Stripe** webhooks: the `Stripe-Signature` header `t=<unix>,v1=<hex>[,v1=…]` holds
//!   HMAC-SHA256 with the endpoint's secret over `"{t}.{raw body}"`; several `v1` during a
//!   secret's rotation; too old a `t` (300 s by default) is refused, so a captured
//!   notification cannot be replayed later.
//!
//! Written here because no maintained crate does Przelewy24, and Stripe's own crates bring a
//! whole API client for these few lines. Comparisons of signatures are constant-time.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256, Sha384};

/// Lower-case hex of `bytes` (signatures, statement line keys).
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn sha384_of_json(fields: &impl Serialize) -> String {
    let json = serde_json::to_string(fields).expect("plain fields serialise");
    hex(&Sha384::digest(json.as_bytes()))
}

/// Whether two strings are equal, in time that depends only on their lengths.
fn equal_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Przelewy24: the `sign` of `POST /transaction/register`.
pub fn p24_register_sign(
    session_id: &str,
    merchant_id: i64,
    amount: i64,
    currency: &str,
    crc: &str,
) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Fields<'a> {
        session_id: &'a str,
        merchant_id: i64,
        amount: i64,
        currency: &'a str,
        crc: &'a str,
    }
    sha384_of_json(&Fields {
        session_id,
        merchant_id,
        amount,
        currency,
        crc,
    })
}

/// Przelewy24: the `sign` of `PUT /transaction/verify`.
pub fn p24_verify_sign(
    session_id: &str,
    order_id: i64,
    amount: i64,
    currency: &str,
    crc: &str,
) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Fields<'a> {
        session_id: &'a str,
        order_id: i64,
        amount: i64,
        currency: &'a str,
        crc: &'a str,
    }
    sha384_of_json(&Fields {
        session_id,
        order_id,
        amount,
        currency,
        crc,
    })
}

/// A Przelewy24 transaction notification (`urlStatus`), as it arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct P24Notification {
    pub merchant_id: i64,
    pub pos_id: i64,
    pub session_id: String,
    pub amount: i64,
    pub origin_amount: i64,
    pub currency: String,
    pub order_id: i64,
    pub method_id: i64,
    pub statement: String,
    pub sign: String,
}

impl P24Notification {
    /// The `sign` the notification should carry, with the shop's CRC key.
    pub fn expected_sign(&self, crc: &str) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Fields<'a> {
            merchant_id: i64,
            pos_id: i64,
            session_id: &'a str,
            amount: i64,
            origin_amount: i64,
            currency: &'a str,
            order_id: i64,
            method_id: i64,
            statement: &'a str,
            crc: &'a str,
        }
        sha384_of_json(&Fields {
            merchant_id: self.merchant_id,
            pos_id: self.pos_id,
            session_id: &self.session_id,
            amount: self.amount,
            origin_amount: self.origin_amount,
            currency: &self.currency,
            order_id: self.order_id,
            method_id: self.method_id,
            statement: &self.statement,
            crc,
        })
    }

    /// Whether the notification was signed with the shop's CRC key (a forged one is not).
    pub fn is_signed(&self, crc: &str) -> bool {
        equal_in_constant_time(
            self.expected_sign(crc).as_bytes(),
            self.sign.to_ascii_lowercase().as_bytes(),
        )
    }
}

/// Why a Stripe webhook's signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeSignatureError {
    #[error("no t= or v1= in the Stripe-Signature header")]
    Malformed,
    #[error("the signature is {age_seconds} s old, more than the {tolerance_seconds} s allowed")]
    TooOld {
        age_seconds: i64,
        tolerance_seconds: i64,
    },
    #[error("no v1 signature matches the endpoint's secrets")]
    NoMatch,
}

/// The `v1` signature Stripe puts on a webhook body sent at Unix time `t` (the emulator signs
/// with it; [`stripe_check`] compares with it).
pub fn stripe_signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

/// Checks a Stripe webhook: `header` is the `Stripe-Signature` value, `body` the raw request
/// body, `secrets` the endpoint's signing secrets (several while one is rotated), `now` the
/// current Unix time. `v0` (test-mode) signatures are ignored.
pub fn stripe_check(
    header: &str,
    body: &[u8],
    secrets: &[&str],
    now: i64,
    tolerance_seconds: i64,
) -> Result<(), StripeSignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => signatures.push(sig.to_ascii_lowercase()),
            _ => {}
        }
    }
    let (Some(t), false) = (timestamp, signatures.is_empty()) else {
        return Err(StripeSignatureError::Malformed);
    };
    let age = now - t;
    if age > tolerance_seconds {
        return Err(StripeSignatureError::TooOld {
            age_seconds: age,
            tolerance_seconds,
        });
    }
    for secret in secrets {
        let expected = stripe_signature(secret, t, body);
        if signatures
            .iter()
            .any(|s| equal_in_constant_time(expected.as_bytes(), s.as_bytes()))
        {
            return Ok(());
        }
    }
    Err(StripeSignatureError::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test vectors of shared/notes/billing-facts.md, computed with Python's hashlib over the
    // exact bytes shown there.
    #[test]
    fn przelewy24_register_and_verify_signs_match_the_reference_vectors() {
        assert_eq!(
            p24_register_sign("FV/2026/000123", 111_111, 12_345, "PLN", "0123456789abcdef"),
            "bb61391b4a0bf5958f9432f1ccec767574f151f3f7e1d716a16414ed6cf38488cbcd48f5bbdf6b1e2d1bfc5d12a7e4d8"
        );
        assert_eq!(
            p24_verify_sign(
                "FV/2026/000123",
                987_654_321,
                12_345,
                "PLN",
                "0123456789abcdef"
            ),
            "cb328def612cded72ac90e7c4c9094244a5ff21e511b78a4f116d114a49914192978135177521b1ad9f5d79a9daeb505"
        );
    }

    #[test]
    fn a_przelewy24_notification_is_signed_only_with_the_right_key_and_amount() {
        let mut n = P24Notification {
            merchant_id: 111_111,
            pos_id: 111_111,
            session_id: "FV/2026/12/000001".into(),
            amount: 12_345,
            origin_amount: 12_345,
            currency: "PLN".into(),
            order_id: 987_654_321,
            method_id: 154,
            statement: "p24-A1-B2-C3".into(),
            sign: String::new(),
        };
        n.sign = n.expected_sign("0123456789abcdef");
        assert!(n.is_signed("0123456789abcdef"));
        assert!(!n.is_signed("another-key"));
        n.amount = 1;
        assert!(
            !n.is_signed("0123456789abcdef"),
            "an amount changed on the way"
        );
    }

    #[test]
    fn stripe_signatures_match_the_reference_vector_rotation_and_age() {
        let header =
            "t=1700000000,v1=c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925";
        let body = br#"{"id":"evt_1"}"#;
        assert_eq!(
            stripe_check(header, body, &["whsec_test"], 1_700_000_100, 300),
            Ok(())
        );
        // During a rotation the old secret still checks.
        assert_eq!(
            stripe_check(
                header,
                body,
                &["whsec_new", "whsec_test"],
                1_700_000_100,
                300
            ),
            Ok(())
        );
        assert_eq!(
            stripe_check(header, body, &["whsec_other"], 1_700_000_100, 300),
            Err(StripeSignatureError::NoMatch)
        );
        assert_eq!(
            stripe_check(
                header,
                br#"{"id":"evt_2"}"#,
                &["whsec_test"],
                1_700_000_100,
                300
            ),
            Err(StripeSignatureError::NoMatch)
        );
        assert!(matches!(
            stripe_check(header, body, &["whsec_test"], 1_700_000_301, 300),
            Err(StripeSignatureError::TooOld { .. })
        ));
        assert_eq!(
            stripe_check("v1=abc", body, &["whsec_test"], 1_700_000_000, 300),
            Err(StripeSignatureError::Malformed)
        );
    }
}
