//! The one error type of the API. Every API handler returns `Result<_, ApiError>`; each
//! variant maps to a status and an RFC 9457 `application/problem+json` body. The `detail` is
//! Polish (residents and clerks read it), `title` is the English status phrase, and a problem
//! about one input names it in `field`. A 500 tells the client nothing internal: the cause chain
//! goes to the log, tagged with an id the client also gets. The portal's pages answer browsers
//! with HTML instead: `portal::PageError` gives these same errors their pages.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    /// No valid credentials: 401 with `WWW-Authenticate: Bearer`.
    #[error("unauthorized")]
    Unauthorized,
    /// Credentials valid, but not for this.
    #[error("forbidden")]
    Forbidden,
    #[error("too many requests")]
    TooManyRequests { retry_after: std::time::Duration },
    #[error("invalid input in {field}: {detail}")]
    Invalid { field: String, detail: String },
    /// Several inputs to put right at once (an application's fields and attachments): the
    /// first one is the problem's `field`, all of them its `errors`.
    #[error("{} inputs to put right", .0.len())]
    Fields(Vec<FieldProblem>),
    #[error("conflict: {detail}")]
    Conflict {
        field: Option<String>,
        detail: String,
    },
    #[error("service unavailable: {detail}")]
    Unavailable { detail: String },
    /// Too busy for this now: 503 with `Retry-After`.
    #[error("busy")]
    Busy { retry_after: std::time::Duration },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::Invalid {
            field: field.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Invalid { .. } | ApiError::Fields(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unavailable { .. } | ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told, in Polish. An internal error's cause is never told: it goes to
    /// the log under an id the client gets ([`log_with_id`]).
    pub(crate) fn detail(&self) -> String {
        match self {
            ApiError::NotFound => "Nie znaleziono.".to_string(),
            ApiError::Unauthorized => {
                "Zaloguj się ponownie (brak ważnego tokenu dostępu).".to_string()
            }
            ApiError::Forbidden => "Brak uprawnień do tej operacji.".to_string(),
            ApiError::TooManyRequests { retry_after } => format!(
                "Zbyt wiele prób. Spróbuj ponownie za {} min.",
                retry_after.as_secs().div_ceil(60).max(1)
            ),
            ApiError::Invalid { detail, .. }
            | ApiError::Conflict { detail, .. }
            | ApiError::Unavailable { detail } => detail.clone(),
            ApiError::Fields(problems) => match problems.as_slice() {
                [one] => one.detail.clone(),
                many => format!("Popraw wskazane pola ({}).", many.len()),
            },
            ApiError::Busy { .. } => {
                "Serwer jest chwilowo przeciążony. Spróbuj ponownie za chwilę.".to_string()
            }
            ApiError::Internal(_) => {
                "Wystąpił błąd po naszej stronie. Spróbuj ponownie za chwilę.".to_string()
            }
        }
    }
}

/// The request field a database constraint guards, for constraints a client's input can
/// violate where the handler does not check first. A constraint not listed here names no field:
/// its name is the schema's business, never the client's.
const CONSTRAINT_FIELDS: &[(&str, &str)] = &[
    ("user_accounts_email_key", "email"),
    ("user_accounts_email_check", "email"),
    ("push_devices_active_token", "token"),
    ("push_devices_token_check", "token"),
    ("resident_alarm_rules_label_check", "label"),
    ("meters_utility_id_serial_key", "serial"),
    ("meters_radio_id_key", "radio_id"),
];

fn constraint_field(constraint: Option<&str>) -> Option<String> {
    let constraint = constraint?;
    CONSTRAINT_FIELDS
        .iter()
        .find(|(name, _)| *name == constraint)
        .map(|(_, field)| field.to_string())
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            let field = constraint_field(db.constraint());
            // The constraint's name stays in the log, tied to nothing the client sees.
            match db.code().as_deref() {
                // unique_violation
                Some("23505") => {
                    tracing::info!(
                        constraint = db.constraint(),
                        "request refused by a unique constraint"
                    );
                    return ApiError::Conflict {
                        field,
                        detail: "Taki zapis już istnieje.".into(),
                    };
                }
                // foreign_key_violation, check_violation, exclusion_violation
                Some("23503" | "23514" | "23P01") => {
                    tracing::info!(
                        constraint = db.constraint(),
                        "request refused by a constraint"
                    );
                    return ApiError::Invalid {
                        field: field.unwrap_or_default(),
                        detail: "Dane są niespójne z zapisami w systemie.".into(),
                    };
                }
                _ => {}
            }
        }
        ApiError::Internal(error.into())
    }
}

impl From<crate::accounts::AccountError> for ApiError {
    fn from(error: crate::accounts::AccountError) -> Self {
        use crate::accounts::AccountError as E;
        match error {
            E::Invalid { field, detail } => ApiError::invalid(field, detail),
            E::BadCredentials => ApiError::Invalid {
                field: "password".into(),
                detail: "Nieprawidłowy adres e-mail lub hasło.".into(),
            },
            E::NotActive => ApiError::Conflict {
                field: Some("email".into()),
                detail: "Konto nie jest aktywne. Otwórz link aktywacyjny z e-maila.".into(),
            },
            E::Throttled { retry_after } => ApiError::TooManyRequests { retry_after },
            E::Busy { retry_after } => ApiError::Busy { retry_after },
            E::MailDisabled => {
                tracing::error!(
                    "refused: e-mail is not configured (notify.email.host, EBOK__NOTIFY__EMAIL__HOST)"
                );
                ApiError::Unavailable {
                    detail: "Ta usługa wymaga wysłania e-maila, a wysyłka poczty nie jest \
                             skonfigurowana. Skontaktuj się z biurem obsługi klienta."
                        .into(),
                }
            }
            E::LinkInvalid => {
                ApiError::invalid("token", "Link jest nieważny, wygasł albo został już użyty.")
            }
            E::MailNotSent => ApiError::Unavailable {
                detail: "Nie udało się wysłać e-maila. Spróbuj ponownie za kilka minut.".into(),
            },
            E::Db(e) => e.into(),
            E::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// The problem+json body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Quote it to the helpdesk; the log has the cause under the same id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
    /// Every input to put right, when there are several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldProblem>>,
}

/// One input to put right, and why (Polish).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub detail: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match &self {
            ApiError::TooManyRequests { retry_after } | ApiError::Busy { retry_after } => {
                Some(retry_after.as_secs().max(1))
            }
            _ => None,
        };
        let detail = self.detail();
        let (field, error_id, errors) = match self {
            ApiError::Invalid { field, .. } => ((!field.is_empty()).then_some(field), None, None),
            ApiError::Fields(problems) => (
                problems.first().map(|p| p.field.clone()),
                None,
                Some(problems),
            ),
            ApiError::Conflict { field, .. } => (field, None, None),
            ApiError::Internal(error) => (None, Some(log_with_id(&error)), None),
            _ => (None, None, None),
        };
        let body = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail,
            field,
            error_id,
            errors,
        };
        let mut response = (status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Logs an internal error with its whole cause chain under a new id, and returns the id: the
/// client is shown it to quote to the helpdesk (the API in its problem, the portal on its page).
pub(crate) fn log_with_id(error: &anyhow::Error) -> String {
    let id = error_id();
    tracing::error!(error_id = %id, error = format!("{error:#}"), "request failed");
    id
}

fn error_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    format!("{now:x}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use sqlx::error::{DatabaseError, ErrorKind};

    use super::*;

    /// A database error as PostgreSQL reports a violated constraint.
    #[derive(Debug)]
    struct Violation {
        code: &'static str,
        constraint: &'static str,
    }

    impl std::fmt::Display for Violation {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "violates {}", self.constraint)
        }
    }

    impl std::error::Error for Violation {}

    impl DatabaseError for Violation {
        fn message(&self) -> &str {
            "violation"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.code))
        }
        fn constraint(&self) -> Option<&str> {
            Some(self.constraint)
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    fn answer(code: &'static str, constraint: &'static str) -> (StatusCode, serde_json::Value) {
        let error = ApiError::from(sqlx::Error::Database(Box::new(Violation {
            code,
            constraint,
        })));
        let response = error.into_response();
        let status = response.status();
        let body = body_of(response);
        (status, body)
    }

    fn body_of(response: Response) -> serde_json::Value {
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(response.into_body(), 1 << 16))
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn a_violated_constraint_names_the_field_never_the_constraint() {
        let (status, body) = answer("23505", "user_accounts_email_key");
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["field"], "email");
        let (status, body) = answer("23514", "push_devices_token_check");
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field"], "token");
        for (code, expected) in [
            ("23505", StatusCode::CONFLICT),
            ("23514", StatusCode::UNPROCESSABLE_ENTITY),
            ("23503", StatusCode::UNPROCESSABLE_ENTITY),
            ("23P01", StatusCode::UNPROCESSABLE_ENTITY),
        ] {
            let (status, body) = answer(code, "one_contract_per_point_and_day");
            assert_eq!(status, expected, "{code}");
            assert!(body.get("field").is_none(), "{code}: {body}");
            assert!(!body.to_string().contains("one_contract"), "{body}");
        }
    }
}
