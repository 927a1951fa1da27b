//! The emulator's check of a service-account assertion (the `assertion` of a JWT bearer grant),
//! as Google's token endpoint makes it: RS256 with the account's key, the right issuer, scope
//! and audience, issued now and for at most an hour. Pure: the time is passed in.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::fcm::auth::{AssertionClaims, FCM_SCOPE, MAX_ASSERTION_LIFETIME};

/// Clock skew tolerated on `iat` and `exp`.
pub const LEEWAY_SECS: u64 = 30;

/// The service account the emulator knows.
pub struct Account {
    pub client_email: String,
    pub private_key_id: String,
    pub public_key: DecodingKey,
}

/// Why an assertion is refused: the OAuth `error` and `error_description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: &'static str,
    pub description: String,
}

fn invalid_grant(description: impl Into<String>) -> Refusal {
    Refusal {
        error: "invalid_grant",
        description: description.into(),
    }
}

const BAD_TIMES: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable \
                         timeframe. Check your iat and exp values in the JWT claim.";

/// Checks `assertion` for `account` at `token_url`, `now` seconds after the epoch.
pub fn verify(
    assertion: &str,
    account: &Account,
    token_url: &str,
    now: u64,
) -> Result<(), Refusal> {
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|e| invalid_grant(format!("Invalid JWT: {e}")))?;
    if header.alg != Algorithm::RS256 {
        return Err(invalid_grant(format!(
            "Invalid JWT: unsupported algorithm {:?}, expected RS256",
            header.alg
        )));
    }
    if header
        .kid
        .as_deref()
        .is_some_and(|kid| kid != account.private_key_id)
    {
        return Err(invalid_grant("Invalid JWT Signature."));
    }
    let mut validation = Validation::new(Algorithm::RS256);
    // Times, audience and issuer are checked below, with Google's own messages.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims =
        jsonwebtoken::decode::<AssertionClaims>(assertion, &account.public_key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    invalid_grant("Invalid JWT Signature.")
                }
                _ => invalid_grant(format!("Invalid JWT: {e}")),
            })?
            .claims;
    if claims.iss != account.client_email {
        return Err(invalid_grant("Invalid grant: account not found"));
    }
    if claims.aud != token_url {
        return Err(invalid_grant(format!(
            "Invalid JWT: Failed audience check. The expected value was {token_url} but the actual value was {}",
            claims.aud
        )));
    }
    let times_ok = claims.iat <= now + LEEWAY_SECS
        && claims.exp > claims.iat
        && claims.exp - claims.iat <= MAX_ASSERTION_LIFETIME.as_secs()
        && claims.exp + LEEWAY_SECS > now;
    if !times_ok {
        return Err(invalid_grant(BAD_TIMES));
    }
    if !claims
        .scope
        .split_whitespace()
        .any(|s| s == FCM_SCOPE || s == "https://www.googleapis.com/auth/cloud-platform")
    {
        return Err(Refusal {
            error: "invalid_scope",
            description: format!("Invalid OAuth scope: {}", claims.scope),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use secrecy::ExposeSecret as _;

    use super::*;
    use crate::fcm::emulator::{EMULATOR_PUBLIC_KEY, emulator_key};

    const URL: &str = "http://127.0.0.1:9/token";
    const NOW: u64 = 1_800_000_000;

    fn account() -> Account {
        let key = emulator_key();
        Account {
            client_email: key.client_email,
            private_key_id: key.private_key_id,
            public_key: DecodingKey::from_rsa_pem(EMULATOR_PUBLIC_KEY.as_bytes()).unwrap(),
        }
    }

    fn sign(claims: &AssertionClaims) -> String {
        let key = emulator_key();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(key.private_key_id.clone());
        let signing =
            EncodingKey::from_rsa_pem(key.private_key.expose_secret().as_bytes()).unwrap();
        jsonwebtoken::encode(&header, claims, &signing).unwrap()
    }

    fn claims() -> AssertionClaims {
        AssertionClaims {
            iss: emulator_key().client_email,
            scope: FCM_SCOPE.into(),
            aud: URL.into(),
            iat: NOW,
            exp: NOW + 3600,
        }
    }

    #[test]
    fn a_proper_assertion_passes() {
        assert_eq!(verify(&sign(&claims()), &account(), URL, NOW + 10), Ok(()));
    }

    #[test]
    fn more_than_an_hour_expired_or_future_is_refused() {
        let mut c = claims();
        c.exp = c.iat + 3601;
        assert_eq!(
            verify(&sign(&c), &account(), URL, NOW)
                .unwrap_err()
                .description,
            BAD_TIMES
        );
        assert!(verify(&sign(&claims()), &account(), URL, NOW + 3600 + LEEWAY_SECS).is_err());
        assert!(verify(&sign(&claims()), &account(), URL, NOW - LEEWAY_SECS - 1).is_err());
    }

    #[test]
    fn wrong_audience_issuer_or_scope_is_refused() {
        let mut c = claims();
        c.aud = "https://oauth2.googleapis.com/token".into();
        assert!(
            verify(&sign(&c), &account(), URL, NOW)
                .unwrap_err()
                .description
                .contains("audience")
        );
        let mut c = claims();
        c.iss = "someone@else.iam.gserviceaccount.com".into();
        assert_eq!(
            verify(&sign(&c), &account(), URL, NOW).unwrap_err().error,
            "invalid_grant"
        );
        let mut c = claims();
        c.scope = "https://www.googleapis.com/auth/userinfo.email".into();
        assert_eq!(
            verify(&sign(&c), &account(), URL, NOW).unwrap_err().error,
            "invalid_scope"
        );
    }

    #[test]
    fn a_tampered_token_fails_the_signature_check() {
        let token = sign(&claims());
        let mut parts: Vec<&str> = token.split('.').collect();
        let mut c = claims();
        c.iat = NOW + 1;
        let forged = sign(&c);
        parts[1] = forged.split('.').nth(1).unwrap();
        let refusal = verify(&parts.join("."), &account(), URL, NOW).unwrap_err();
        assert_eq!(refusal.description, "Invalid JWT Signature.");
    }
}
