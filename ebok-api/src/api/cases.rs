//! Cases without logging in: the status of a case by its number and the applicant's PESEL or
//! NIP ([`crate::case_status`]), the twin of the page `/u/{slug}/status-sprawy`.

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::case_status;
use crate::client::ClientAddr;
use crate::error::{ApiError, Problem};
use crate::extract::Json;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CaseStatusRequest {
    /// The case number, as on the acknowledgement.
    #[schema(example = "WTP/2026/000123", min_length = 1, max_length = 40)]
    pub number: String,
    /// The applicant's PESEL (a person) or NIP (a company, a housing community).
    #[schema(example = "44051401359", min_length = 1, max_length = 20)]
    pub identifier: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseStatusAnswer {
    pub number: String,
    /// The stage: draft, registered, assigned, awaiting_supplement, approved, refused,
    /// appealed, contract_offered, contract_signed, concluded, closed or withdrawn.
    pub status: String,
    /// The stage in Polish.
    pub status_label: String,
    /// Since when the case is at this stage.
    pub since: DateTime<Utc>,
}

/// The stage of a case and since when, for its number and the applicant's PESEL or NIP.
/// A wrong identifier and an unknown number are both 404; lookups that find nothing are limited
/// per client address and per case number (429 with `Retry-After`).
#[utoipa::path(post, path = "/utilities/{slug}/case-status", tag = "public",
    params(("slug" = String, Path, description = "The utility's slug")),
    request_body = CaseStatusRequest,
    responses((status = 200, body = CaseStatusAnswer),
              (status = 404, body = Problem, description = "No such case with this identifier"),
              (status = 429, body = Problem, description = "Too many lookups that found nothing")))]
pub async fn case_status(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ClientAddr(client): ClientAddr,
    Json(body): Json<CaseStatusRequest>,
) -> Result<axum::Json<CaseStatusAnswer>, ApiError> {
    let utility = super::auth::utility(&state, &slug).await?;
    if body.number.trim().is_empty() || body.number.len() > 40 {
        return Err(ApiError::invalid(
            "number",
            "Podaj numer sprawy, np. WTP/2026/000123.",
        ));
    }
    if body.identifier.trim().is_empty() || body.identifier.len() > 20 {
        return Err(ApiError::invalid(
            "identifier",
            "Podaj PESEL albo NIP wnioskodawcy.",
        ));
    }
    let found = case_status::look_up(
        &state.pool,
        utility.id,
        &body.number,
        &body.identifier,
        client,
    )
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(CaseStatusAnswer {
        number: found.number,
        status: serde_json::to_value(found.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        status_label: found.state.polish().to_string(),
        since: found.since,
    }))
}
