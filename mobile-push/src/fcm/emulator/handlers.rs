//! The emulator's two endpoints over HTTP: the token endpoint and `messages:send`. They parse,
//! ask [`super::assertion`] and [`super::schema`], consult the per-token behaviour and answer in
//! Google's shapes.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use serde_json::{Value, json};

use super::schema::{self, Target};
use super::{AcceptedMessage, Fault, State, assertion};
use crate::fcm::auth::JWT_BEARER_GRANT;
use crate::fcm::error::{BAD_REQUEST_TYPE, FCM_ERROR_TYPE};

const JSON: HeaderValue = HeaderValue::from_static("application/json; charset=UTF-8");

pub(super) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/token", post(token))
        .route("/v1/projects/{project}/messages:send", post(send))
        .with_state(state)
}

fn json_response(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    let mut response = (status, body.into()).into_response();
    response.headers_mut().insert(CONTENT_TYPE, JSON);
    response
}

/// An OAuth 2 error, as Google's token endpoint gives it.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    json_response(status, body.to_string())
}

async fn token(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    state
        .token_requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if state.take_token_failure() {
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "internal_failure",
            "Backend Error (emulated)",
        );
    }
    let mut grant_type = None;
    let mut assertion = None;
    for (name, value) in url::form_urlencoded::parse(&body) {
        match &*name {
            "grant_type" => grant_type = Some(value.into_owned()),
            "assertion" => assertion = Some(value.into_owned()),
            _ => {}
        }
    }
    if grant_type.as_deref() != Some(JWT_BEARER_GRANT) {
        let description = format!("Invalid grant_type: {}", grant_type.unwrap_or_default());
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &description,
        );
    }
    let Some(assertion) = assertion else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: assertion",
        );
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    if let Err(refusal) = assertion::verify(&assertion, &state.account, &state.token_url, now) {
        return oauth_error(StatusCode::BAD_REQUEST, refusal.error, &refusal.description);
    }
    let (access_token, lifetime) = state.issue_access_token();
    let body = json!({"access_token": access_token, "expires_in": lifetime.as_secs(), "token_type": "Bearer"});
    json_response(StatusCode::OK, body.to_string())
}

/// A Google API error: `{"error": {"code", "message", "status", "details"}}`, with the FCM
/// `errorCode` and a field violation when given.
fn google_error(
    status: StatusCode,
    message: &str,
    error_code: Option<&str>,
    violation: Option<(&str, &str)>,
) -> Response {
    let status_name = match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        503 => "UNAVAILABLE",
        _ => "UNKNOWN",
    };
    let mut error = json!({"code": status.as_u16(), "message": message, "status": status_name});
    let mut details = Vec::new();
    if let Some(code) = error_code {
        details.push(json!({"@type": FCM_ERROR_TYPE, "errorCode": code}));
    }
    if let Some((field, description)) = violation {
        details.push(json!({"@type": BAD_REQUEST_TYPE, "fieldViolations": [{"field": field, "description": description}]}));
    }
    if !details.is_empty() {
        error["details"] = Value::Array(details);
    }
    json_response(status, json!({ "error": error }).to_string())
}

fn with_retry_after(mut response: Response, secs: Option<u64>) -> Response {
    if let Some(secs) = secs {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn unauthenticated() -> Response {
    let mut response = google_error(
        StatusCode::UNAUTHORIZED,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other \
         valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        None,
        None,
    );
    response.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static(
            r#"Bearer realm="https://accounts.google.com/", error="invalid_token""#,
        ),
    );
    response
}

fn invalid_argument(violation: &schema::Violation) -> Response {
    let error_code = violation.fcm_error.then_some("INVALID_ARGUMENT");
    google_error(
        StatusCode::BAD_REQUEST,
        &violation.message,
        error_code,
        Some((violation.field.as_str(), violation.message.as_str())),
    )
}

fn fault_response(fault: &Fault, project: &str) -> Response {
    match fault {
        Fault::Unregistered => google_error(
            StatusCode::NOT_FOUND,
            "Requested entity was not found.",
            Some("UNREGISTERED"),
            None,
        ),
        Fault::InvalidToken => {
            let v = schema::invalid_registration_token();
            google_error(
                StatusCode::BAD_REQUEST,
                &v.message,
                Some("INVALID_ARGUMENT"),
                Some(("message.token", "Invalid registration token")),
            )
        }
        Fault::SenderIdMismatch => google_error(
            StatusCode::FORBIDDEN,
            "SenderId mismatch",
            Some("SENDER_ID_MISMATCH"),
            None,
        ),
        Fault::QuotaExceeded { retry_after_secs } => {
            let message = format!(
                "Quota exceeded for quota metric 'Send requests' and limit 'Send requests per minute' of service \
                 'fcm.googleapis.com' for consumer 'project:{project}'."
            );
            let response = google_error(
                StatusCode::TOO_MANY_REQUESTS,
                &message,
                Some("QUOTA_EXCEEDED"),
                None,
            );
            with_retry_after(response, *retry_after_secs)
        }
        Fault::Unavailable { retry_after_secs } => {
            let response = google_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is currently unavailable.",
                Some("UNAVAILABLE"),
                None,
            );
            with_retry_after(response, *retry_after_secs)
        }
        Fault::Internal => google_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error encountered.",
            Some("INTERNAL"),
            None,
        ),
        Fault::ThirdPartyAuthError => google_error(
            StatusCode::UNAUTHORIZED,
            "Auth error from APNS or Web Push Service",
            Some("THIRD_PARTY_AUTH_ERROR"),
            None,
        ),
    }
}

async fn send(
    AxumState(state): AxumState<Arc<State>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received_at = Utc::now();
    let parsed = serde_json::from_slice::<Value>(&body);
    let (device, collapse_key) = match &parsed {
        Ok(v) => (
            v["message"]["token"].as_str(),
            v["message"]["android"]["collapse_key"].as_str(),
        ),
        Err(_) => (None, None),
    };
    let device = device.map(str::to_owned);
    if let Some(mut released) = state.record_attempt(device.as_deref(), collapse_key, received_at) {
        tokio::select! {
            _ = released.wait_for(|released| *released) => {}
            () = state.closed.cancelled() => return fault_response(&Fault::Unavailable { retry_after_secs: None }, &project),
        }
    }

    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(access_token) = bearer.filter(|t| state.access_token_valid(t)) else {
        return unauthenticated();
    };
    if project != state.project_id {
        let message = format!(
            "Permission 'cloudmessaging.messages.create' denied on resource \
             '//cloudmessaging.googleapis.com/projects/{project}' (or it may not exist)."
        );
        return google_error(StatusCode::FORBIDDEN, &message, None, None);
    }
    let body = match parsed {
        Ok(body) => body,
        Err(e) => {
            let message = format!("Invalid JSON payload received. {e}");
            return google_error(
                StatusCode::BAD_REQUEST,
                &message,
                None,
                Some(("", &message)),
            );
        }
    };
    let request = match schema::validate(body) {
        Ok(request) => request,
        Err(violation) => return invalid_argument(&violation),
    };
    if let Target::Token(device) = &request.message.target
        && let Some(fault) = state.take_fault(device)
    {
        return fault_response(&fault, &project);
    }
    if request.validate_only {
        return json_response(
            StatusCode::OK,
            format!(r#"{{"name":"projects/{project}/messages/fake_message_id"}}"#),
        );
    }

    let id = state
        .next_message_id
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("projects/{project}/messages/{id}");
    let answer = format!(r#"{{"name":"{name}"}}"#);
    let message = request.message;
    state.record_accepted(AcceptedMessage {
        name,
        message,
        access_token: access_token.to_owned(),
        received_at,
    });
    json_response(StatusCode::OK, answer)
}
