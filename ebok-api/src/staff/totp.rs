//! The arithmetic of the second factor, without I/O: a TOTP secret (RFC 6238: HMAC-SHA1, six
//! digits, 30-second steps, the one setting every authenticator app reads), the `otpauth://`
//! URI and its QR code, which step a typed code belongs to (one step of clock drift either
//! way), and recovery codes. The codes themselves are `totp-rs`'s; the QR code is `qrcode`'s,
//! drawn as SVG so a page can show it inline.

use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::secret;

/// Seconds a code stands for.
pub const STEP_SECS: u64 = 30;
const DIGITS: usize = 6;
/// Steps either side of the current one that are still accepted (a phone's clock drifts).
const SKEW: u16 = 1;
/// Recovery codes in a set.
pub const RECOVERY_CODES: usize = 10;

/// A fresh secret: 160 random bits, RFC 4226's recommended length.
pub fn new_secret() -> Vec<u8> {
    secret::random_bytes::<20>().to_vec()
}

/// The secret as a person types it into an app that cannot scan: base32 in groups of four.
pub fn typed_secret(secret: &[u8]) -> String {
    let base32 = Secret::from(secret).to_base32();
    base32
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The secret back from its base32 text (spaces and case ignored); `None` if it is not base32.
pub fn parse_secret(text: &str) -> Option<Vec<u8>> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    Secret::try_from_base32(compact)
        .ok()
        .map(|s| s.as_ref().to_vec())
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Totp {
    // The otpauth label may not contain ':' (it separates issuer and account).
    let issuer: String = issuer.replace(':', " ");
    let account: String = account.replace(':', " ");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS as u8)
        .with_step_duration(STEP_SECS)
        .with_skew(SKEW)
        .with_secret(secret.to_vec())
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()
        .expect("a 160-bit secret, six digits and a 30 s step are valid")
}

/// The URI an authenticator app reads from the QR code: the app shows the code under
/// `issuer` (the utility) and `account` (the staff member's e-mail).
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    totp(secret, issuer, account)
        .to_url()
        .expect("an account name is set")
}

/// The QR code of `uri` as an inline SVG element with a text alternative.
pub fn qr_svg(uri: &str) -> String {
    crate::qr::svg(
        uri,
        "Kod QR do zeskanowania aplikacją uwierzytelniającą",
        220,
    )
    .expect("an otpauth URI fits a QR code")
}

/// The code of the step that contains `unix_secs` (the demo and tests make codes with it).
pub fn code_at(secret: &[u8], unix_secs: u64) -> String {
    totp(secret, "eBOK", "staff")
        .generate(unix_secs)
        .to_string()
}

/// The step a typed code belongs to, if it is the code of the step containing `unix_secs` or
/// of one next to it. Spaces in the typed code are ignored ("123 456").
pub fn matching_step(secret: &[u8], typed: &str, unix_secs: u64) -> Option<u64> {
    let code: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    totp(secret, "eBOK", "staff").check(&code, unix_secs)
}

/// Whether what was typed looks like a recovery code rather than a six-digit code.
pub fn looks_like_recovery_code(typed: &str) -> bool {
    typed.chars().filter(char::is_ascii_alphanumeric).count() == 12
}

/// A new set of recovery codes (as shown once) with what the database keeps of each.
pub fn new_recovery_codes() -> Vec<(String, Vec<u8>)> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let code = secret::new_typed_code();
            let hash = secret::typed_code_digest(&code);
            (code, hash)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 secret "12345678901234567890" (its last six digits).
    #[test]
    fn codes_are_those_of_rfc_6238() {
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59), "287082");
        assert_eq!(code_at(secret, 1_111_111_109), "081804");
        assert_eq!(code_at(secret, 1_234_567_890), "005924");
        assert_eq!(code_at(secret, 2_000_000_000), "279037");
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_no_further() {
        let secret = new_secret();
        let now = 1_800_000_015;
        let step = now / STEP_SECS;
        for (offset, accepted) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let at = (now as i64 + offset * STEP_SECS as i64) as u64;
            let code = code_at(&secret, at);
            let matched = matching_step(&secret, &code, now);
            if accepted {
                assert_eq!(matched, Some((step as i64 + offset) as u64), "{offset}");
            } else {
                // A code of a far step may by chance equal a near one's (1 in 10^6).
                assert!(
                    matched.is_none() || code_at(&secret, now) == code,
                    "{offset}"
                );
            }
        }
    }

    #[test]
    fn typed_codes_may_have_spaces_but_not_letters_or_other_lengths() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let code = code_at(&secret, now);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(matching_step(&secret, &spaced, now).is_some());
        assert!(matching_step(&secret, &code[..5], now).is_none());
        assert!(matching_step(&secret, "12a456", now).is_none());
        assert!(matching_step(&secret, "", now).is_none());
    }

    #[test]
    fn the_secret_round_trips_through_its_typed_form() {
        let secret = new_secret();
        let typed = typed_secret(&secret);
        assert_eq!(typed.replace(' ', "").len(), 32);
        assert_eq!(parse_secret(&typed.to_lowercase()).unwrap(), secret);
        assert!(parse_secret("not base32!").is_none());
    }

    #[test]
    fn the_uri_names_the_utility_and_the_account_and_its_qr_code_is_an_svg() {
        let uri = otpauth_uri(&new_secret(), "Wodociągi: Młynary", "bok@mlynary.pl");
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(
            uri.contains("bok%40mlynary.pl") || uri.contains("bok@mlynary.pl"),
            "{uri}"
        );
        assert!(uri.contains("issuer="), "{uri}");
        assert!(
            uri.contains("period=30") || !uri.contains("period="),
            "{uri}"
        );
        let svg = qr_svg(&uri);
        assert!(svg.starts_with("<svg role=\"img\""), "{}", &svg[..80]);
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_recognised_as_such() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut hashes: Vec<_> = codes.iter().map(|(_, h)| h.clone()).collect();
        hashes.dedup();
        assert_eq!(hashes.len(), RECOVERY_CODES);
        assert!(looks_like_recovery_code(&codes[0].0));
        assert!(!looks_like_recovery_code("123456"));
    }
}
