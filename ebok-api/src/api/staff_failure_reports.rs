//! Failure reports for the technicians' app and other staff tools
//! ([`Permission::HandleFailureReports`]): a technician's jobs (the reports their crew was sent
//! to) with where to go, one report with its steps and photos, the step taken (fixed, or not a
//! failure with a reason), a photo from the spot. A technician acts as the crew
//! ([`Acting::Crew`]): any report not given to them does not exist for them (404). The office's
//! roles reach every report of their utility and also verify it and send a crew. Steps go
//! through [`crate::outages::take`]; the resident's side is [`super::failure_reports`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use ebok_outages::photos;
use ebok_outages::reports::store::Acting;
use ebok_outages::reports::views::{self, Detail, Filter, HistoryRow, Summary};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::failure_reports::{
    FailureCategory, FailureReportStep, FailureReportSummary, FailureState, MAX_PHOTO_BASE64,
    action, at_most, base64_photo, point,
};
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{Json, Path, Query};
use crate::outages::{self, StaffStep};
use crate::staff::{Permission, StaffCaller};
use crate::state::AppState;

/// A staff photo's body: one photo at its largest, and room for the rest.
pub const PHOTO_BODY_LIMIT: usize = MAX_PHOTO_BASE64 + 4 * 1024;
/// The longest reason of a rejection taken.
const MAX_REASON: usize = 1000;
/// The jobs a list holds at most.
const JOBS_LIMIT: i64 = 200;

/// A report of a technician's list of jobs: the report as residents list it, and its distance.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailureJob {
    #[serde(flatten)]
    pub report: FailureReportSummary,
    /// Metres from the point the list was asked about, when both have one.
    pub distance_m: Option<f64>,
}

impl From<Summary> for FailureJob {
    fn from(s: Summary) -> Self {
        let distance_m = s.distance_m.map(f64::round);
        FailureJob {
            report: s.into(),
            distance_m,
        }
    }
}

/// A step in a report's life as staff read it: who took it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffFailureReportStep {
    #[serde(flatten)]
    pub step: FailureReportStep,
    /// The staff member who took it, by name; none for a reporter's step.
    pub staff: Option<String>,
}

impl From<HistoryRow> for StaffFailureReportStep {
    fn from(row: HistoryRow) -> Self {
        StaffFailureReportStep {
            staff: row.staff.clone(),
            step: FailureReportStep {
                action: action(&row),
                at: row.at,
                state: row.to.into(),
                state_label: row.to.polish().to_string(),
                note: row.note,
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffFailureReportPhoto {
    pub id: i64,
    /// Added by staff or a crew (else by a reporter).
    pub by_staff: bool,
    /// Where its bytes are (`GET`, with the same token).
    pub url: String,
}

/// A report with everything staff see of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffFailureReport {
    pub id: i64,
    pub category: FailureCategory,
    pub category_label: String,
    pub state: FailureState,
    pub state_label: String,
    pub description: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: Option<String>,
    pub created_at: DateTime<Utc>,
    pub reporters: i64,
    pub rejection_reason: Option<String>,
    /// The technician whose crew was sent.
    pub technician_id: Option<i64>,
    /// Their name.
    pub technician: Option<String>,
    /// The outage notice announced for it.
    pub outage_id: Option<i64>,
    /// Oldest first.
    pub history: Vec<StaffFailureReportStep>,
    pub photos: Vec<StaffFailureReportPhoto>,
}

impl From<Detail> for StaffFailureReport {
    fn from(d: Detail) -> Self {
        let s = d.summary;
        let id = s.id;
        StaffFailureReport {
            id,
            category: s.category.into(),
            category_label: s.category.polish().to_string(),
            state: s.state.into(),
            state_label: s.state.polish().to_string(),
            description: s.description,
            lat: s.place.point.map(|p| p.0),
            lon: s.place.point.map(|p| p.1),
            address: s.place.address,
            created_at: s.created_at,
            reporters: s.reporters,
            rejection_reason: d.rejection_reason,
            technician_id: d.assigned_to_id,
            technician: s.assigned_to,
            outage_id: s.outage_id,
            history: d.history.into_iter().map(Into::into).collect(),
            photos: d
                .photos
                .into_iter()
                .map(|p| StaffFailureReportPhoto {
                    url: format!("/api/v1/staff/failure-reports/{id}/photos/{}", p.id),
                    id: p.id,
                    by_staff: p.by_staff,
                })
                .collect(),
        }
    }
}

/// Report `id` as `who` reaches it: a technician only a job given to them, the office any of
/// the utility; else not found.
async fn reachable(state: &AppState, who: &StaffCaller, id: i64) -> Result<Detail, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let detail = views::detail(&mut conn, who.utility_id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if outages::acting(who.role) == Acting::Crew && detail.assigned_to_id != Some(who.account_id) {
        return Err(ApiError::NotFound);
    }
    Ok(detail)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct JobsQuery {
    /// Where the crew is now (with `lon`): the jobs nearest first, with their distance.
    #[param(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    #[param(minimum = -180, maximum = 180)]
    pub lon: Option<f64>,
}

/// The caller's jobs: the reports their crew was sent to and has not closed yet, nearest
/// first when the crew's position is given, else newest first.
#[utoipa::path(get, path = "/staff/failure-reports/jobs", tag = "staff",
    security(("bearer" = [])), params(JobsQuery),
    responses((status = 200, body = Vec<FailureJob>), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn jobs(
    State(state): State<AppState>,
    who: StaffCaller,
    Query(q): Query<JobsQuery>,
) -> Result<Json<Vec<FailureJob>>, ApiError> {
    who.require(Permission::HandleFailureReports)?;
    let from = point(q.lat, q.lon)?;
    let mut conn = state.pool.acquire().await?;
    let jobs = views::list(
        &mut conn,
        who.utility_id,
        &Filter {
            assigned_to: Some(who.account_id),
            from,
            limit: JOBS_LIMIT,
            ..Filter::default()
        },
    )
    .await?;
    Ok(Json(jobs.into_iter().map(Into::into).collect()))
}

/// A report with its steps (who took them) and photos. A technician reaches only the jobs
/// given to them.
#[utoipa::path(get, path = "/staff/failure-reports/{id}", tag = "staff",
    security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = StaffFailureReport), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn staff_report(
    State(state): State<AppState>,
    who: StaffCaller,
    Path(id): Path<i64>,
) -> Result<Json<StaffFailureReport>, ApiError> {
    who.require(Permission::HandleFailureReports)?;
    Ok(Json(reachable(&state, &who, id).await?.into()))
}

/// A photo of a report (a reporter's or a crew's), without its metadata.
#[utoipa::path(get, path = "/staff/failure-reports/{id}/photos/{photo_id}", tag = "staff",
    security(("bearer" = [])), params(("id" = i64, Path), ("photo_id" = i64, Path)),
    responses((status = 200, description = "Zdjęcie · the photo", content(
                  (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "image/webp"))),
              (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem)))]
pub async fn staff_report_photo(
    State(state): State<AppState>,
    who: StaffCaller,
    Path((id, photo_id)): Path<(i64, i64)>,
) -> Result<Response, ApiError> {
    who.require(Permission::HandleFailureReports)?;
    reachable(&state, &who, id).await?;
    let mut conn = state.pool.acquire().await?;
    let (content_type, bytes) = views::photo(&mut conn, who.utility_id, id, photo_id, None)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(outages::photo_response(content_type, bytes))
}

/// The state a step leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureStepTo {
    Verified,
    Rejected,
    Dispatched,
    Fixed,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FailureStateChange {
    /// `fixed` (repaired) or `rejected` (not a failure, or not the utility's: with `reason`),
    /// by the crew or the office; `verified` and `dispatched` (with `technician_id`) by the
    /// office only.
    pub state: FailureStepTo,
    /// Why it is closed without a repair: every reporter reads it.
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
    /// The technician whose crew is sent (an active technician of the utility).
    pub technician_id: Option<i64>,
}

/// The domain names the technician `technician`; the API's body names it `technician_id`.
fn as_body(error: ApiError) -> ApiError {
    match error {
        ApiError::Fields(problems) => ApiError::Fields(
            problems
                .into_iter()
                .map(|p| FieldProblem {
                    field: if p.field == "technician" {
                        "technician_id".to_string()
                    } else {
                        p.field
                    },
                    detail: p.detail,
                })
                .collect(),
        ),
        other => other,
    }
}

/// Take a step on a report: a technician marks their job `fixed`, or `rejected` with the reason
/// its reporters read; the office also `verified` and `dispatched` (sends a technician's
/// crew, or another crew instead). Every reporter is told. A step the report's state does not
/// allow is a 409; a technician asking for an office's step gets 403.
#[utoipa::path(post, path = "/staff/failure-reports/{id}/status", tag = "staff",
    security(("bearer" = [])), params(("id" = i64, Path)), request_body = FailureStateChange,
    responses((status = 200, body = StaffFailureReport), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "Not a step from the report's state"),
              (status = 422, body = Problem)))]
pub async fn set_report_state(
    State(state): State<AppState>,
    who: StaffCaller,
    Path(id): Path<i64>,
    Json(body): Json<FailureStateChange>,
) -> Result<Json<StaffFailureReport>, ApiError> {
    who.require(Permission::HandleFailureReports)?;
    let by = outages::acting(who.role);
    let step = match body.state {
        FailureStepTo::Fixed => StaffStep::Fix,
        FailureStepTo::Rejected => {
            at_most(
                "reason",
                body.reason.as_deref(),
                MAX_REASON,
                &format!("Powód może mieć najwyżej {MAX_REASON} znaków."),
            )?;
            StaffStep::Reject {
                reason: body.reason.unwrap_or_default(),
            }
        }
        FailureStepTo::Verified | FailureStepTo::Dispatched if by == Acting::Crew => {
            return Err(ApiError::Forbidden);
        }
        FailureStepTo::Verified => StaffStep::Verify,
        FailureStepTo::Dispatched => StaffStep::Dispatch {
            technician: body.technician_id.ok_or_else(|| {
                ApiError::invalid("technician_id", "Wybierz technika, którego ekipa pojedzie.")
            })?,
        },
    };
    outages::take(
        &state,
        outages::staff(who.utility_id, who.account_id),
        id,
        step,
        by,
    )
    .await
    .map_err(as_body)?;
    Ok(Json(reachable(&state, &who, id).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewStaffPhoto {
    /// The standard base64 of a JPEG, PNG or WebP file of up to 8 MB; its metadata is removed
    /// before it is stored. A report carries at most five photos from staff.
    #[schema(min_length = 1, max_length = 11184812)]
    pub photo: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffPhotoAdded {
    pub id: i64,
    /// Where its bytes are.
    pub url: String,
}

/// Add a photo from the spot to a report (a technician: to their job).
#[utoipa::path(post, path = "/staff/failure-reports/{id}/photos", tag = "staff",
    security(("bearer" = [])), params(("id" = i64, Path)), request_body = NewStaffPhoto,
    responses((status = 201, body = StaffPhotoAdded), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn add_report_photo(
    State(state): State<AppState>,
    who: StaffCaller,
    Path(id): Path<i64>,
    Json(body): Json<NewStaffPhoto>,
) -> Result<(StatusCode, Json<StaffPhotoAdded>), ApiError> {
    who.require(Permission::HandleFailureReports)?;
    let bytes = base64_photo(&body.photo)
        .ok_or_else(|| ApiError::invalid("photo", "To nie jest poprawny tekst base64."))?;
    let photo = photos::clean(&bytes).map_err(|refused| ApiError::invalid("photo", refused.0))?;
    let photo_id = outages::add_photo(
        &state,
        outages::staff(who.utility_id, who.account_id),
        id,
        &photo,
        outages::acting(who.role),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(StaffPhotoAdded {
            id: photo_id,
            url: format!("/api/v1/staff/failure-reports/{id}/photos/{photo_id}"),
        }),
    ))
}
