//! The request extractors of the API, wrapping axum's so that a malformed body, path or query
//! answers with problem+json naming the field (axum's own rejections are plain text).

use axum::extract::FromRequest;
use axum::extract::FromRequestParts;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};

use crate::error::ApiError;

/// A JSON body.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

/// Serialized into a `Vec`: serde_json writes a value in many small pieces, which a `Vec` takes
/// faster than the `BytesMut` writer of `axum::Json` (a year of history is about 44 kB in
/// thousands of pieces; `ebok bench api` profiled). A value that cannot be serialized is a 500.
impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => json_response(body),
            Err(error) => ApiError::Internal(error.into()).into_response(),
        }
    }
}

/// A 200 response with a JSON body already written.
pub fn json_response(body: Vec<u8>) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Path parameters.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// Query parameters.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let text = rejection.body_text();
        let detail = match &rejection {
            JsonRejection::MissingJsonContentType(_) => {
                return ApiError::invalid(
                    "body",
                    "Treść żądania musi być w formacie JSON (Content-Type: application/json).",
                );
            }
            JsonRejection::JsonSyntaxError(_) => {
                return ApiError::invalid("body", "Treść żądania nie jest poprawnym JSON-em.");
            }
            _ => text,
        };
        ApiError::invalid(field_of(&detail), polish(&detail))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        let _ = rejection;
        ApiError::NotFound
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let text = rejection.body_text();
        ApiError::invalid(field_of(&text), polish(&text))
    }
}

/// The field a serde error names: `path.to.field: message`, or "missing field `x`".
fn field_of(text: &str) -> String {
    let tail = text.split_once(": ").map_or(text, |(_, t)| t);
    if let Some(start) = tail.find("field `") {
        let rest = &tail[start + 7..];
        if let Some(end) = rest.find('`') {
            let path = tail.split(": ").next().unwrap_or("");
            let name = &rest[..end];
            return if path.is_empty() || path == "." || path.contains(' ') {
                name.to_string()
            } else {
                format!("{path}.{name}")
            };
        }
    }
    match tail.split_once(": ") {
        Some((path, _)) if !path.contains(' ') && path != "." => path.to_string(),
        _ => "body".to_string(),
    }
}

fn polish(text: &str) -> String {
    let tail = text.split_once(": ").map_or(text, |(_, t)| t);
    format!("Nieprawidłowa wartość ({tail}).")
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn the_field_is_found_in_serde_messages() {
        assert_eq!(
            field_of(
                "Failed to deserialize the JSON body into the target type: missing field `email` at line 1 column 2"
            ),
            "email"
        );
        assert_eq!(
            field_of(
                "Failed to deserialize the JSON body into the target type: accept_terms: invalid type: string \"x\", expected a boolean at line 1 column 20"
            ),
            "accept_terms"
        );
        assert_eq!(
            field_of("Failed to deserialize query string: day: input contains invalid characters"),
            "day"
        );
    }
}
