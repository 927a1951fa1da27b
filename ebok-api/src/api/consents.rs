//! Consents (seed 004): the forms, what is in force, the history, granting and withdrawing.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ebok_common::audit::Actor;
use ebok_common::consent::{self, ConsentKind, ConsentRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Resident;
use crate::consent_forms::{self, ConsentForm};
use crate::error::{ApiError, Problem};
use crate::extract::{Json, Path};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentEntry {
    pub id: i64,
    #[schema(value_type = super::names::ConsentKind)]
    pub kind: String,
    pub form_version: String,
    pub granted_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
}

impl From<ConsentRecord> for ConsentEntry {
    fn from(r: ConsentRecord) -> Self {
        ConsentEntry {
            id: r.id,
            kind: r.kind.as_str().to_string(),
            form_version: r.form_version,
            granted_at: r.granted_at,
            withdrawn_at: r.withdrawn_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Consents {
    /// The current wording of each form.
    pub forms: Vec<ConsentForm>,
    /// Every grant, newest first; open ones have no `withdrawn_at`.
    pub history: Vec<ConsentEntry>,
}

/// The consent forms and the account's history of grants and withdrawals.
#[utoipa::path(get, path = "/consents", tag = "consents", security(("bearer" = [])),
    responses((status = 200, body = Consents), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    who: Resident,
) -> Result<Json<Consents>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let history = consent::history(&mut conn, who.utility_id, who.account_id).await?;
    Ok(Json(Consents {
        forms: consent_forms::ALL.to_vec(),
        history: history.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Grant {
    /// `e_invoice` or `notifications`.
    #[schema(value_type = super::names::ConsentKind)]
    pub kind: String,
    /// The version of the form shown to the resident; must be the current one.
    pub form_version: String,
    /// The resident ticked "I agree".
    pub accept: bool,
}

/// Grant a consent on the current form. Granting one in force changes nothing.
#[utoipa::path(post, path = "/consents", tag = "consents", security(("bearer" = [])),
    request_body = Grant,
    responses((status = 201, body = ConsentEntry), (status = 422, body = Problem)))]
pub async fn grant(
    State(state): State<AppState>,
    who: Resident,
    Json(body): Json<Grant>,
) -> Result<(StatusCode, Json<ConsentEntry>), ApiError> {
    let kind = parse_kind(&body.kind)?;
    let form = consent_forms::for_kind(kind);
    if body.form_version != form.version {
        return Err(ApiError::invalid(
            "form_version",
            "Treść zgody zmieniła się. Odśwież formularz i przeczytaj nową treść.",
        ));
    }
    if !body.accept {
        return Err(ApiError::invalid(
            "accept",
            "Zaznacz pole „Wyrażam zgodę”, aby ją udzielić.",
        ));
    }
    let mut conn = state.pool.acquire().await?;
    let record = consent::grant(
        &mut conn,
        who.utility_id,
        who.account_id,
        kind,
        form.version,
        Actor::Resident {
            account_id: who.account_id,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}

/// Withdraw a consent; 404 when none is in force.
#[utoipa::path(delete, path = "/consents/{kind}", tag = "consents", security(("bearer" = [])),
    params(("kind" = super::names::ConsentKind, Path, description = "`e_invoice` or `notifications`")),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn withdraw(
    State(state): State<AppState>,
    who: Resident,
    Path(kind): Path<String>,
) -> Result<StatusCode, ApiError> {
    let kind = parse_kind(&kind).map_err(|_| ApiError::NotFound)?;
    let mut conn = state.pool.acquire().await?;
    let was = consent::withdraw(
        &mut conn,
        who.utility_id,
        who.account_id,
        kind,
        Actor::Resident {
            account_id: who.account_id,
        },
    )
    .await?;
    if was {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

pub(crate) fn parse_kind(raw: &str) -> Result<ConsentKind, ApiError> {
    ConsentKind::parse(raw.trim()).ok_or_else(|| {
        ApiError::invalid(
            "kind",
            "Nieznany rodzaj zgody (e_invoice albo notifications).",
        )
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProxyActs {
    /// What customer service did in the account's name: awaiting acceptance first.
    pub acts: Vec<crate::proxy_acts::ProxyAct>,
}

/// What customer service did in the account's name (a consent given or withdrawn at the
/// counter or on the phone); an awaiting one takes effect only when accepted here.
#[utoipa::path(get, path = "/me/proxy-acts", tag = "consents", security(("bearer" = [])),
    responses((status = 200, body = ProxyActs), (status = 401, body = Problem)))]
pub async fn proxy_acts(
    State(state): State<AppState>,
    who: Resident,
) -> Result<Json<ProxyActs>, ApiError> {
    Ok(Json(ProxyActs {
        acts: crate::proxy_acts::list(&state.pool, who.utility_id, Some(who.account_id), None)
            .await?,
    }))
}

/// Accept an act awaiting acceptance: it takes effect now, as the account holder's own.
#[utoipa::path(post, path = "/me/proxy-acts/{id}/accept", tag = "consents",
    security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "The consent's wording changed since")))]
pub async fn accept_proxy_act(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    crate::proxy_acts::decide(&state.pool, who.utility_id, who.account_id, id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Decline an act awaiting acceptance: nothing changes.
#[utoipa::path(post, path = "/me/proxy-acts/{id}/decline", tag = "consents",
    security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn decline_proxy_act(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    crate::proxy_acts::decide(&state.pool, who.utility_id, who.account_id, id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
