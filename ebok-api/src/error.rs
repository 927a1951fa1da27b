//! The one error type of the HTTP boundary. Every handler returns `Result<_, ApiError>`; each
//! variant maps to a status and an RFC 9457 `application/problem+json` body. The `detail` is Polish
//! (residents and clerks read it), `title` is the English status phrase, and a problem about one
//! input names it in `field`. A 500 tells the client nothing internal: the cause chain goes to the
//! log, tagged with an id the client also gets.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    #[error("invalid input in {field}: {detail}")]
    Invalid { field: String, detail: String },
    #[error("conflict: {detail}")]
    Conflict {
        field: Option<String>,
        detail: String,
    },
    #[error("service unavailable: {detail}")]
    Unavailable { detail: String },
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

    fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            let field = db.constraint().map(str::to_owned);
            match db.code().as_deref() {
                // unique_violation
                Some("23505") => {
                    return ApiError::Conflict {
                        field,
                        detail: "Taki zapis już istnieje.".into(),
                    };
                }
                // foreign_key_violation, check_violation, exclusion_violation
                Some("23503" | "23514" | "23P01") => {
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

/// The problem+json body.
#[derive(Debug, Serialize)]
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
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (detail, field, error_id) = match self {
            ApiError::NotFound => ("Nie znaleziono.".to_string(), None, None),
            ApiError::Invalid { field, detail } => (detail, Some(field), None),
            ApiError::Conflict { field, detail } => (detail, field, None),
            ApiError::Unavailable { detail } => (detail, None, None),
            ApiError::Internal(error) => {
                let id = error_id();
                tracing::error!(error_id = %id, error = format!("{error:#}"), "request failed");
                (
                    "Wystąpił błąd po naszej stronie. Spróbuj ponownie za chwilę.".to_string(),
                    None,
                    Some(id),
                )
            }
        };
        let body = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail,
            field,
            error_id,
        };
        let mut response = (status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
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
