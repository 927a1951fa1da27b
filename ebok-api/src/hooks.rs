//! Where payment providers tell us about money: `POST /hooks/przelewy24/{slug}` takes
//! Przelewy24's transaction notification (`urlStatus`) for the utility's shop, `POST
//! /hooks/stripe/{slug}` the utility's Stripe webhook events. Not part of the `/api/v1`
//! contract: the providers' protocols define them. The answer tells the provider whether to
//! send it again: 200 when it is settled (booked now or before, kept for staff as a mismatch,
//! failed, pending or of no interest), 503 when the money could not be verified yet (P24
//! resends), 400 for a forged one, 422 (problem+json) for an unreadable one, 404 for a utility
//! or payment we do not know.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use ebok_payments::online::{self, Notified, Provider};
use ebok_payments::przelewy24::P24Notification;

use crate::error::ApiError;
use crate::state::AppState;

/// `POST /hooks/przelewy24/{slug}`.
pub async fn przelewy24(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    // A utility without this provider has no such hook (no database needed to say so).
    let Some(Provider::Przelewy24(p24)) = state.payments.of(&slug) else {
        return Err(ApiError::NotFound);
    };
    let notification: P24Notification = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid("body", format!("not a Przelewy24 notification: {e}")))?;
    answer(online::przelewy24_notification(&state.pool, &slug, p24, &notification).await?)
}

/// `POST /hooks/stripe/{slug}`.
pub async fn stripe(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let Some(Provider::Stripe(stripe)) = state.payments.of(&slug) else {
        return Err(ApiError::NotFound);
    };
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    answer(online::stripe_event(&state.pool, &slug, stripe, signature, &body, now).await?)
}

fn answer(notified: Notified) -> Result<StatusCode, ApiError> {
    Ok(match notified {
        Notified::Booked { .. }
        | Notified::AlreadyBooked { .. }
        | Notified::Mismatch { .. }
        | Notified::Pending { .. }
        | Notified::Failed { .. }
        | Notified::Ignored => StatusCode::OK,
        Notified::Forged => StatusCode::BAD_REQUEST,
        Notified::Unreadable => {
            return Err(ApiError::invalid("body", "not an event we can read"));
        }
        Notified::Unknown => StatusCode::NOT_FOUND,
        Notified::VerifyFailed { .. } => StatusCode::SERVICE_UNAVAILABLE,
    })
}
