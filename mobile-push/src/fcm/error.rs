//! What FCM's answers mean for a delivery: the documented error body of `messages:send`
//! (`{"error": {"code", "message", "status", "details": [FcmError, BadRequest, …]}}`), the OAuth
//! token endpoint's errors, and `Retry-After`. Pure: each answer becomes an [`Outcome`].

use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::channel::Outcome;

/// `@type` of the FCM-specific detail that carries `errorCode`.
pub const FCM_ERROR_TYPE: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
/// `@type` of the detail that names the offending fields.
pub const BAD_REQUEST_TYPE: &str = "type.googleapis.com/google.rpc.BadRequest";

/// Why no access token could be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// The token endpoint said no (4xx: a wrong or revoked key, a bad assertion). Retrying the
    /// same key will not help.
    #[error("token endpoint refused the service-account assertion: {0}")]
    Refused(String),
    /// The token endpoint was unreachable, slow or failing (5xx): try later.
    #[error("token endpoint unavailable: {reason}")]
    Unavailable {
        after: Option<Duration>,
        reason: String,
    },
    /// The assertion could not be signed.
    #[error("could not sign the service-account assertion: {0}")]
    Signing(String),
}

impl TokenError {
    pub fn to_outcome(&self) -> Outcome {
        match self {
            TokenError::Unavailable { after, .. } => Outcome::Retry {
                after: *after,
                reason: self.to_string(),
            },
            TokenError::Refused(_) | TokenError::Signing(_) => Outcome::Failed {
                reason: self.to_string(),
            },
        }
    }
}

/// The OAuth 2 error body: `{"error": "invalid_grant", "error_description": "…"}`.
#[derive(Debug, Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// The token endpoint's non-success answer as a [`TokenError`].
pub fn classify_token_error(status: u16, retry_after: Option<Duration>, body: &[u8]) -> TokenError {
    let text = match serde_json::from_slice::<OAuthError>(body) {
        Ok(OAuthError {
            error,
            error_description: Some(d),
        }) => format!("{error}: {d}"),
        Ok(OAuthError {
            error,
            error_description: None,
        }) => error,
        Err(_) => format!("HTTP {status}: {}", snippet(body)),
    };
    if status >= 500 || status == 429 || status == 408 {
        TokenError::Unavailable {
            after: retry_after,
            reason: text,
        }
    } else {
        TokenError::Refused(text)
    }
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: GoogleError,
}

#[derive(Debug, Default, Deserialize)]
struct GoogleError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    details: Vec<Detail>,
}

#[derive(Debug, Deserialize)]
struct Detail {
    #[serde(rename = "@type", default)]
    type_url: String,
    #[serde(rename = "errorCode", default)]
    error_code: Option<String>,
    #[serde(rename = "fieldViolations", default)]
    field_violations: Vec<FieldViolation>,
}

#[derive(Debug, Deserialize)]
struct FieldViolation {
    #[serde(default)]
    field: String,
}

/// A non-success answer of `messages:send` as an [`Outcome`]:
///
/// - `UNREGISTERED`, `SENDER_ID_MISMATCH` and an `INVALID_ARGUMENT` about `message.token` mean
///   the device token is gone or never was valid: [`Outcome::TargetGone`];
/// - 429 (`QUOTA_EXCEEDED`), 5xx (`INTERNAL`, `UNAVAILABLE`) and 408: [`Outcome::Retry`], not
///   before `Retry-After`;
/// - any other 4xx: [`Outcome::Failed`].
pub fn classify_send_error(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Outcome {
    let error = serde_json::from_slice::<ErrorBody>(body)
        .map(|b| b.error)
        .ok();
    let error_code = error.as_ref().and_then(|e| {
        e.details
            .iter()
            .filter(|d| d.type_url == FCM_ERROR_TYPE)
            .find_map(|d| d.error_code.clone())
    });
    let names_token = error.as_ref().is_some_and(|e| {
        e.details
            .iter()
            .filter(|d| d.type_url == BAD_REQUEST_TYPE)
            .flat_map(|d| &d.field_violations)
            .any(|v| v.field == "message.token")
    });
    let code = error_code
        .clone()
        .or_else(|| {
            error
                .as_ref()
                .map(|e| e.status.clone())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| format!("HTTP {status}"));
    let reason = match &error {
        Some(e) if !e.message.is_empty() => format!("{code}: {}", e.message),
        Some(_) => code.clone(),
        None => format!("{code}: {}", snippet(body)),
    };

    match error_code.as_deref() {
        Some("UNREGISTERED" | "SENDER_ID_MISMATCH") => return Outcome::TargetGone { reason },
        Some("QUOTA_EXCEEDED" | "UNAVAILABLE" | "INTERNAL") => {
            return Outcome::Retry {
                after: retry_after,
                reason,
            };
        }
        _ => {}
    }
    let invalid_argument = error_code.as_deref() == Some("INVALID_ARGUMENT")
        || error
            .as_ref()
            .is_some_and(|e| e.status == "INVALID_ARGUMENT");
    if invalid_argument && names_token {
        return Outcome::TargetGone { reason };
    }
    // A 404 without the FCM detail is about the URL (a wrong project), not the device: Failed.
    match status {
        408 | 429 | 500..=599 => Outcome::Retry {
            after: retry_after,
            reason,
        },
        _ => Outcome::Failed { reason },
    }
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3), measured from `now`. A
/// date in the past is no delay; anything unreadable is ignored.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::from(at.with_timezone(&chrono::Utc));
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The start of a body that is not the documented JSON, for a reason string.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".to_owned()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(
        code: u16,
        status: &str,
        message: &str,
        error_code: Option<&str>,
        field: Option<&str>,
    ) -> Vec<u8> {
        let mut details = Vec::new();
        if let Some(c) = error_code {
            details.push(serde_json::json!({"@type": FCM_ERROR_TYPE, "errorCode": c}));
        }
        if let Some(f) = field {
            details.push(serde_json::json!({"@type": BAD_REQUEST_TYPE,
                "fieldViolations": [{"field": f, "description": "bad"}]}));
        }
        serde_json::to_vec(&serde_json::json!({"error": {
            "code": code, "message": message, "status": status, "details": details}}))
        .unwrap()
    }

    #[test]
    fn unregistered_is_target_gone_with_code_and_message() {
        let b = body(
            404,
            "NOT_FOUND",
            "Requested entity was not found.",
            Some("UNREGISTERED"),
            None,
        );
        assert_eq!(
            classify_send_error(404, None, &b),
            Outcome::TargetGone {
                reason: "UNREGISTERED: Requested entity was not found.".into()
            }
        );
    }

    #[test]
    fn invalid_argument_about_the_token_is_target_gone_and_others_failed() {
        let b = body(
            400,
            "INVALID_ARGUMENT",
            "bad token",
            Some("INVALID_ARGUMENT"),
            Some("message.token"),
        );
        assert!(matches!(
            classify_send_error(400, None, &b),
            Outcome::TargetGone { .. }
        ));
        let b = body(
            400,
            "INVALID_ARGUMENT",
            "bad data",
            Some("INVALID_ARGUMENT"),
            Some("message.data"),
        );
        assert!(matches!(
            classify_send_error(400, None, &b),
            Outcome::Failed { .. }
        ));
        let b = body(
            400,
            "INVALID_ARGUMENT",
            "Invalid value",
            None,
            Some("message.data[0].value"),
        );
        assert!(matches!(
            classify_send_error(400, None, &b),
            Outcome::Failed { .. }
        ));
    }

    #[test]
    fn sender_id_mismatch_is_target_gone() {
        let b = body(
            403,
            "PERMISSION_DENIED",
            "SenderId mismatch",
            Some("SENDER_ID_MISMATCH"),
            None,
        );
        assert!(matches!(
            classify_send_error(403, None, &b),
            Outcome::TargetGone { .. }
        ));
    }

    #[test]
    fn quota_and_server_errors_are_retried_after_the_given_delay() {
        let after = Some(Duration::from_secs(7));
        let b = body(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded",
            Some("QUOTA_EXCEEDED"),
            None,
        );
        assert_eq!(
            classify_send_error(429, after, &b),
            Outcome::Retry {
                after,
                reason: "QUOTA_EXCEEDED: Quota exceeded".into()
            }
        );
        let b = body(
            503,
            "UNAVAILABLE",
            "The service is currently unavailable.",
            Some("UNAVAILABLE"),
            None,
        );
        assert!(matches!(
            classify_send_error(503, None, &b),
            Outcome::Retry { after: None, .. }
        ));
        assert!(matches!(
            classify_send_error(502, None, b"<html>Bad Gateway</html>"),
            Outcome::Retry { .. }
        ));
    }

    #[test]
    fn other_client_errors_fail() {
        let b = body(
            401,
            "UNAUTHENTICATED",
            "THIRD_PARTY_AUTH_ERROR",
            Some("THIRD_PARTY_AUTH_ERROR"),
            None,
        );
        assert!(matches!(
            classify_send_error(401, None, &b),
            Outcome::Failed { .. }
        ));
        let b = body(403, "PERMISSION_DENIED", "Permission denied", None, None);
        assert_eq!(
            classify_send_error(403, None, &b),
            Outcome::Failed {
                reason: "PERMISSION_DENIED: Permission denied".into()
            }
        );
        assert_eq!(
            classify_send_error(400, None, b""),
            Outcome::Failed {
                reason: "HTTP 400: (empty body)".into()
            }
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00 UTC
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn token_errors_split_into_refused_and_unavailable() {
        let b = br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#;
        let e = classify_token_error(400, None, b);
        assert!(
            matches!(&e, TokenError::Refused(t) if t == "invalid_grant: Invalid JWT Signature.")
        );
        assert!(matches!(e.to_outcome(), Outcome::Failed { .. }));
        let e = classify_token_error(503, Some(Duration::from_secs(3)), b"down");
        assert!(
            matches!(e.to_outcome(), Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(3))
        );
    }
}
