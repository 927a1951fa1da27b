//! Where payment providers tell us about money: `POST /hooks/przelewy24/{slug}` takes
//! Przelewy24's transaction notification (`urlStatus`) for the utility's shop. Not part of the
//! `/api/v1` contract: the provider's protocol defines it. The answer tells the provider
//! whether to send it again: 200 when it is settled (booked now or before, or kept for staff as
//! a mismatch), 503 when the money could not be verified yet (P24 resends), 400 for a forged
//! one, 422 (problem+json) for an unreadable one, 404 for a utility or payment we do not know.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ebok_payments::online::{self, Notified, Provider};
use ebok_payments::przelewy24::P24Notification;

use crate::accounts;
use crate::error::ApiError;
use crate::state::AppState;

/// `POST /hooks/przelewy24/{slug}`.
pub async fn przelewy24(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let utility = accounts::utility_by_slug(&state.pool, &slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    let Some(Provider::Przelewy24(p24)) = state.payments.of(&utility.slug) else {
        return Err(ApiError::NotFound);
    };
    let notification: P24Notification = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid("body", format!("not a Przelewy24 notification: {e}")))?;
    Ok(
        match online::przelewy24_notification(&state.pool, utility.id, p24, &notification).await? {
            Notified::Booked { .. }
            | Notified::AlreadyBooked { .. }
            | Notified::Mismatch { .. } => StatusCode::OK,
            Notified::Forged => StatusCode::BAD_REQUEST,
            Notified::Unknown => StatusCode::NOT_FOUND,
            Notified::VerifyFailed { .. } => StatusCode::SERVICE_UNAVAILABLE,
        },
    )
}
