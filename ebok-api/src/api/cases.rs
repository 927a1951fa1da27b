//! Cases in the API: without logging in, the status of a case by its number and the
//! applicant's PESEL or NIP ([`crate::case_status`], the twin of the page
//! `/u/{slug}/status-sprawy`); for a logged-in resident, their cases and drafts and one case
//! with its answers, history and files (the twins of `/u/{slug}/sprawy`).

use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, Utc};
use ebok_cases::lifecycle::State as State_;
use ebok_cases::views::{self, Scope};
use ebok_common::domain::time::local_day;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Resident;
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
        status: status(found.state).0,
        status_label: found.state.polish().to_string(),
        since: found.since,
    }))
}

/// A case (or a draft) of the account, as the app lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseSummary {
    pub id: i64,
    /// `None` while a draft.
    pub number: Option<String>,
    /// The application type's name, Polish.
    pub type_name: String,
    pub status: String,
    pub status_label: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A step of a case's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseStep {
    pub at: DateTime<Utc>,
    pub status: String,
    pub status_label: String,
    /// The reason the resident was told, if any.
    pub note: Option<String>,
}

/// A file attached to a case.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseFile {
    pub id: i64,
    /// The form's attachment it answers.
    pub rule: String,
    pub file_name: String,
    pub bytes: i64,
    /// Sent as a supplement.
    pub supplement: bool,
}

/// One case of the account with its answers, history and files.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseDetail {
    pub id: i64,
    pub number: Option<String>,
    /// The application type's code (`connection_conditions`, …) and name.
    pub type_code: String,
    pub type_name: String,
    pub status: String,
    pub status_label: String,
    /// The answers by field, as submitted (or as saved while a draft).
    pub answers: std::collections::BTreeMap<String, String>,
    /// The last day the utility has to decide, while it is its turn.
    pub due: Option<NaiveDate>,
    /// The last day to appeal the decision, while it may be.
    pub appeal_until: Option<NaiveDate>,
    pub history: Vec<CaseStep>,
    pub files: Vec<CaseFile>,
}

fn status(state: State_) -> (String, String) {
    (
        serde_json::to_value(state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        state.polish().to_string(),
    )
}

/// The account's cases and drafts, the latest first.
#[utoipa::path(get, path = "/cases", tag = "cases", security(("bearer" = [])),
    responses((status = 200, body = Vec<CaseSummary>), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    who: Resident,
) -> Result<axum::Json<Vec<CaseSummary>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let lines = views::of_account(&mut conn, who.utility_id, who.account_id).await?;
    Ok(axum::Json(
        lines
            .into_iter()
            .map(|c| {
                let (status, status_label) = status(c.state);
                CaseSummary {
                    id: c.id,
                    number: c.number,
                    type_name: c.type_name,
                    status,
                    status_label,
                    submitted_at: c.submitted_at,
                    updated_at: c.updated_at,
                }
            })
            .collect(),
    ))
}

/// One case of the account; 404 for another's, as for an unknown one.
#[utoipa::path(get, path = "/cases/{id}", tag = "cases", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = CaseDetail), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    who: Resident,
    crate::extract::Path(id): crate::extract::Path<i64>,
) -> Result<axum::Json<CaseDetail>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let scope = Scope::Resident {
        account_id: who.account_id,
    };
    let view = views::case(&mut conn, who.utility_id, id, scope, local_day(Utc::now()))
        .await?
        .ok_or(ApiError::NotFound)?;
    let (status_code, status_label) = status(view.state);
    Ok(axum::Json(CaseDetail {
        id: view.id,
        number: view.number,
        type_code: view.type_code,
        type_name: view.type_name,
        status: status_code,
        status_label,
        answers: view.answers,
        due: view.due,
        appeal_until: view.appeal_until,
        history: view
            .events
            .into_iter()
            .map(|e| {
                let (status, status_label) = status(e.to_state);
                CaseStep {
                    at: e.at,
                    status,
                    status_label,
                    note: e.note,
                }
            })
            .collect(),
        files: view
            .attachments
            .into_iter()
            .map(|a| CaseFile {
                id: a.id,
                rule: a.rule,
                file_name: a.file_name,
                bytes: a.bytes,
                supplement: a.supplement,
            })
            .collect(),
    }))
}
