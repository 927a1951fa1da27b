//! The request extractors of the API. A body, path or query that does not fit its type answers
//! with problem+json naming the field, in Polish: serde's own words ("missing field `password`
//! at line 1 column 19", "unknown variant `week`") never reach a client.
//!
//! Bodies and queries are deserialized through `serde_path_to_error`, which knows the path of the
//! value that did not fit (`preferences[0].channel`); what did not fit is read from serde's
//! standard error texts ("missing field", "unknown variant", "invalid type" …, the
//! `serde::de::Error` constructors' fixed wording) and told in Polish ([`data_error`]). An
//! unknown tag of an internally tagged body (`{"kind": "weekly", …}`, whose fields sit beside the
//! others) names `kind`, the API's one tag name.

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body (`Content-Type: application/json` or `application/…+json`).
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::invalid(
                "body",
                "Treść żądania musi być w formacie JSON (Content-Type: application/json).",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::invalid("body", "Treść żądania jest za duża.")
            } else {
                ApiError::invalid("body", "Nie udało się odczytać treści żądania.")
            }
        })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = field_path(e.path());
            let inner = e.into_inner();
            match inner.classify() {
                serde_json::error::Category::Data => data_error(&path, &without_position(&inner)),
                _ => not_json(),
            }
        })?;
        de.end().map_err(|_| not_json())?;
        Ok(Json(value))
    }
}

fn not_json() -> ApiError {
    ApiError::invalid("body", "Treść żądania nie jest poprawnym JSON-em.")
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// serde_json's message without its " at line L column C".
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) if error.line() > 0 => text[..at].to_string(),
        _ => text,
    }
}

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

/// Path parameters. One that does not fit (`/meters/abc`) names no resource: 404.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        let _ = rejection;
        ApiError::NotFound
    }
}

/// Query parameters.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| data_error(&field_path(e.path()), &e.into_inner().to_string()))
    }
}

/// The API's name of the value at `path`: `preferences[0].channel`; empty for the whole body.
fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// The first `` `…` `` in `text`, and what follows it.
fn quoted(text: &str) -> Option<(&str, &str)> {
    let (_, rest) = text.split_once('`')?;
    rest.split_once('`')
}

/// What a client is told about a value at `path` (empty: the whole body) that did not fit its
/// type, from serde's `message`.
fn data_error(path: &str, message: &str) -> ApiError {
    let whole = || if path.is_empty() { "body" } else { path };
    if let Some(rest) = message.strip_prefix("missing field ")
        && let Some((name, _)) = quoted(rest)
    {
        return ApiError::invalid(join(path, name), "To pole jest wymagane.");
    }
    if let Some(rest) = message.strip_prefix("duplicate field ")
        && let Some((name, _)) = quoted(rest)
    {
        return ApiError::invalid(join(path, name), "To pole podano więcej niż raz.");
    }
    if let Some(rest) = message.strip_prefix("unknown field ")
        && let Some((name, _)) = quoted(rest)
    {
        return ApiError::invalid(join(path, name), "Nieznane pole.");
    }
    if let Some(rest) = message.strip_prefix("unknown variant ")
        && let Some((value, expected)) = quoted(rest)
    {
        let field = if path.is_empty() {
            "kind".to_string()
        } else {
            path.to_string()
        };
        let allowed: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let detail = if allowed.is_empty() {
            format!("Nieznana wartość „{value}”.")
        } else {
            format!(
                "Nieznana wartość „{value}”. Dozwolone: {}.",
                allowed.join(", ")
            )
        };
        return ApiError::invalid(field, detail);
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let expected = rest.split_once(", expected ").map_or("", |(_, e)| e);
        return ApiError::invalid(
            whole(),
            format!(
                "Nieprawidłowy typ wartości: oczekiwano {}.",
                expected_in_polish(expected)
            ),
        );
    }
    if message.starts_with("invalid value: ") {
        return ApiError::invalid(whole(), "Wartość spoza dozwolonego zakresu.");
    }
    if message.starts_with("invalid length ") {
        return ApiError::invalid(whole(), "Nieprawidłowa liczba elementów.");
    }
    ApiError::invalid(whole(), "Nieprawidłowa wartość.")
}

/// serde's "expected …" (a Rust type or a `Visitor`'s words) as a Polish noun phrase.
fn expected_in_polish(expected: &str) -> &'static str {
    let e = expected.to_ascii_lowercase();
    let integer = [
        "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "integer",
    ];
    if e.contains("bool") {
        "wartości true albo false"
    } else if integer
        .iter()
        .any(|t| e.split(|c: char| !c.is_alphanumeric()).any(|w| w == *t))
    {
        "liczby całkowitej"
    } else if e.contains("f32") || e.contains("f64") || e.contains("float") || e.contains("number")
    {
        "liczby"
    } else if e.contains("sequence") || e.contains("array") || e.contains("vec") {
        "listy"
    } else if e.contains("struct") || e.contains("map") || e.contains("object") {
        "obiektu"
    } else if e.contains("str") || e.contains("date") || e.contains("char") {
        "tekstu"
    } else {
        "innego typu"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    fn told(path: &str, message: &str) -> (String, String) {
        let response = data_error(path, message).into_response();
        let body = futures::executor::block_on(axum::body::to_bytes(response.into_body(), 10_000))
            .unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        (
            problem["field"].as_str().unwrap().to_string(),
            problem["detail"].as_str().unwrap().to_string(),
        )
    }

    #[test]
    fn serde_messages_become_a_field_and_a_polish_sentence() {
        let cases = [
            (
                "",
                "missing field `password`",
                "password",
                "To pole jest wymagane.",
            ),
            (
                "rules[2]",
                "missing field `litres`",
                "rules[2].litres",
                "To pole jest wymagane.",
            ),
            (
                "",
                "unknown variant `weekly`, expected one of `daily_above`, `device_alarm`",
                "kind",
                "Nieznana wartość „weekly”. Dozwolone: daily_above, device_alarm.",
            ),
            (
                "step",
                "unknown variant `week`, expected `day` or `month`",
                "step",
                "Nieznana wartość „week”. Dozwolone: day, month.",
            ),
            (
                "accept_terms",
                "invalid type: string \"tak\", expected a boolean",
                "accept_terms",
                "Nieprawidłowy typ wartości: oczekiwano wartości true albo false.",
            ),
            (
                "meter_id",
                "invalid type: string \"7\", expected i64",
                "meter_id",
                "Nieprawidłowy typ wartości: oczekiwano liczby całkowitej.",
            ),
            (
                "",
                "invalid type: sequence, expected struct NewRule",
                "body",
                "Nieprawidłowy typ wartości: oczekiwano obiektu.",
            ),
            (
                "hours",
                "invalid value: integer `-1`, expected i32",
                "hours",
                "Wartość spoza dozwolonego zakresu.",
            ),
            (
                "day",
                "input contains invalid characters",
                "day",
                "Nieprawidłowa wartość.",
            ),
        ];
        for (path, message, field, detail) in cases {
            assert_eq!(
                told(path, message),
                (field.to_string(), detail.to_string()),
                "{message}"
            );
        }
    }

    #[test]
    fn the_position_is_cut_from_serde_jsons_message() {
        let error = serde_json::from_str::<Vec<u8>>("[1, \"x\"]").unwrap_err();
        assert_eq!(
            without_position(&error),
            "invalid type: string \"x\", expected u8"
        );
    }
}
