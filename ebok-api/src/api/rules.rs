//! Residents' alarm rules (seed 004 "zakładanie alarmów"): daily use above a limit, continuous
//! flow (a leak), no use for days (an elderly relative), any device alarm; and what they
//! triggered. Evaluated as readings arrive by `ebok_alarm_rules::Evaluator`.

use axum::extract::State;
use axum::http::StatusCode;
use ebok_alarm_rules::{self as rules, ActiveAlarm, NewRule, Rule, RuleError, Trigger};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Resident;
use crate::error::{ApiError, Problem};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

impl From<RuleError> for ApiError {
    fn from(error: RuleError) -> Self {
        match error {
            RuleError::MeterNotFound => ApiError::invalid(
                "meter_id",
                "Nie znaleziono takiego wodomierza na Twoim koncie.",
            ),
            RuleError::NotFound => ApiError::NotFound,
            RuleError::Invalid { field, detail } => ApiError::invalid(field, detail),
            RuleError::TooMany => ApiError::Conflict {
                field: None,
                detail: format!(
                    "Możesz mieć najwyżej {} reguł alarmowych. Usuń którąś, aby dodać nową.",
                    rules::MAX_RULES_PER_ACCOUNT
                ),
            },
            RuleError::Db(e) => e.into(),
        }
    }
}

/// What alarms the resident now, newest first: their meters' open alarms (`source: meter`) and
/// the triggers of their own rules that last now (`source: rule`), in one list.
#[utoipa::path(get, path = "/alarms", tag = "alarms", security(("bearer" = [])),
    responses((status = 200, body = Vec<ActiveAlarm>)))]
pub async fn active(
    State(state): State<AppState>,
    who: Resident,
) -> Result<Json<Vec<ActiveAlarm>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(rules::active(&mut conn, who.viewer()).await?))
}

/// The account's alarm rules.
#[utoipa::path(get, path = "/alarm-rules", tag = "alarms", security(("bearer" = [])),
    responses((status = 200, body = Vec<Rule>), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    who: Resident,
) -> Result<Json<Vec<Rule>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(rules::list(&mut conn, who.viewer()).await?))
}

/// Set an alarm rule on one of the account's meters. The kind's parameter sits beside the
/// others: `{"meter_id": 7, "kind": "daily_above", "litres": 500}`,
/// `{"kind": "continuous_flow", "hours": 6}`, `{"kind": "no_consumption", "days": 2}`,
/// `{"kind": "device_alarm"}`.
#[utoipa::path(post, path = "/alarm-rules", tag = "alarms", security(("bearer" = [])),
    request_body = NewRule,
    responses((status = 201, body = Rule), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    who: Resident,
    Json(body): Json<NewRule>,
) -> Result<(StatusCode, Json<Rule>), ApiError> {
    let mut conn = state.pool.acquire().await?;
    let rule = rules::create(&mut conn, who.viewer(), &body, None).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// One rule.
#[utoipa::path(get, path = "/alarm-rules/{id}", tag = "alarms", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Rule), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
) -> Result<Json<Rule>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(rules::get(&mut conn, who.viewer(), id).await?))
}

/// Delete a rule (notices already sent stay in the inbox).
#[utoipa::path(delete, path = "/alarm-rules/{id}", tag = "alarms", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let mut conn = state.pool.acquire().await?;
    rules::delete(&mut conn, who.viewer(), id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Enabled {
    pub enabled: bool,
}

/// Switch a rule on or off.
#[utoipa::path(put, path = "/alarm-rules/{id}/enabled", tag = "alarms",
    security(("bearer" = [])), params(("id" = i64, Path)), request_body = Enabled,
    responses((status = 200, body = Rule), (status = 404, body = Problem)))]
pub async fn set_enabled(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
    Json(body): Json<Enabled>,
) -> Result<Json<Rule>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        rules::set_enabled(&mut conn, who.viewer(), id, body.enabled, None).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TriggerQuery {
    /// Only this rule's triggers.
    pub rule_id: Option<i64>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<i64>,
}

/// What the account's rules triggered, newest first.
#[utoipa::path(get, path = "/alarm-triggers", tag = "alarms", security(("bearer" = [])),
    params(TriggerQuery),
    responses((status = 200, body = Vec<Trigger>), (status = 404, body = Problem)))]
pub async fn triggers(
    State(state): State<AppState>,
    who: Resident,
    Query(q): Query<TriggerQuery>,
) -> Result<Json<Vec<Trigger>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    Ok(Json(
        rules::triggers(&mut conn, who.viewer(), q.rule_id, limit).await?,
    ))
}
