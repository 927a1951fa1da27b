//! What the portal, the API and the back office share about outage notices and failure
//! reports ([`ebok_outages`]): a refusal as the error each of them shows; a report filed or
//! joined, by a resident or by somebody with only an e-mail address (limited per account, or
//! per address and per client), with its photos told by content and stripped of metadata; the
//! staff's steps, each in a transaction of its own.

use std::net::IpAddr;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use ebok_outages::photos::{self, CleanPhoto};
use ebok_outages::reports::store::{self as reports, Acting};
use ebok_outages::reports::{NewReport, ReportError, Reporter};
use ebok_outages::store::{OutageError, Staff};

use crate::accounts::throttle;
use crate::error::{ApiError, FieldProblem};
use crate::staff::StaffRole;
use crate::state::AppState;

/// How a staff member acts on reports: a technician as their crew (only the jobs sent to
/// them), everybody else as the office.
pub fn acting(role: StaffRole) -> Acting {
    if role == StaffRole::Technician {
        Acting::Crew
    } else {
        Acting::Office
    }
}

/// The staff member acting now.
pub fn staff(utility_id: i64, account_id: i64) -> Staff {
    Staff {
        utility_id,
        account_id,
        now: Utc::now(),
    }
}

/// A coordinate as typed or as a browser fills it ("54.194" or "54,194").
pub fn coordinate(text: &str) -> Option<f64> {
    text.trim().replace(',', ".").parse::<f64>().ok()
}

/// A report's photo as its content type says; kept by no cache, like every personal answer.
pub fn photo_response(content_type: String, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}

fn fields(problems: Vec<(&'static str, String)>) -> ApiError {
    ApiError::Fields(
        problems
            .into_iter()
            .map(|(field, detail)| FieldProblem {
                field: field.to_string(),
                detail,
            })
            .collect(),
    )
}

impl From<OutageError> for ApiError {
    fn from(error: OutageError) -> Self {
        match error {
            OutageError::NotFound => ApiError::NotFound,
            OutageError::Invalid(problems) => fields(problems),
            OutageError::Ended => ApiError::Conflict {
                field: None,
                detail: "Ten komunikat jest już zakończony.".into(),
            },
            OutageError::Db(e) => e.into(),
        }
    }
}

impl From<ReportError> for ApiError {
    fn from(error: ReportError) -> Self {
        match error {
            ReportError::NotFound => ApiError::NotFound,
            ReportError::Invalid(problems) => fields(problems),
            ReportError::Step(state) => ApiError::Conflict {
                field: None,
                detail: format!(
                    "Zgłoszenie jest teraz w stanie „{}”: tego kroku nie można już zrobić.",
                    state.polish()
                ),
            },
            ReportError::Outage(e) => e.into(),
            ReportError::Db(e) => e.into(),
        }
    }
}

/// The photos sent with a report, told by content and stripped of metadata; a refusal names
/// the field `photos` and the photo by its position.
pub fn clean_photos(sent: &[Vec<u8>]) -> Result<Vec<CleanPhoto>, ApiError> {
    if sent.len() > photos::MAX_PHOTOS {
        return Err(ApiError::invalid(
            "photos",
            format!("Dołącz najwyżej {} zdjęć.", photos::MAX_PHOTOS),
        ));
    }
    sent.iter()
        .enumerate()
        .map(|(i, bytes)| {
            photos::clean(bytes).map_err(|refused| {
                ApiError::invalid("photos", format!("Zdjęcie {}: {refused}", i + 1))
            })
        })
        .collect()
}

/// A report filed or joined is counted: somebody without an account under their address and
/// their client, a resident under their account; over any limit it is refused
/// (`TooManyRequests`).
async fn count(
    state: &AppState,
    reporter: &Reporter,
    client: Option<IpAddr>,
) -> Result<(), ApiError> {
    let client_key = client.map(crate::client::throttle_key);
    let reporter_key = match reporter {
        Reporter::Email(email) => email.trim().to_lowercase(),
        Reporter::Account(account) => account.to_string(),
    };
    let mut keys = match reporter {
        Reporter::Email(_) => vec![(throttle::FAILURE_REPORT_PER_EMAIL, reporter_key.as_str())],
        Reporter::Account(_) => vec![(throttle::FAILURE_REPORT_PER_ACCOUNT, reporter_key.as_str())],
    };
    if let (Reporter::Email(_), Some(client)) = (reporter, &client_key) {
        keys.push((throttle::FAILURE_REPORT_PER_CLIENT, client.as_str()));
    }
    let counted = throttle::reserve(&state.pool, &keys)
        .await?
        .map_err(|retry_after| ApiError::TooManyRequests { retry_after })?;
    // Every report counts, received or not: the limit is on reports, not on mistakes.
    throttle::failed(counted);
    Ok(())
}

/// Files `report` in utility `utility_id`; its id.
pub async fn file(
    state: &AppState,
    utility_id: i64,
    report: &NewReport,
    client: Option<IpAddr>,
) -> Result<i64, ApiError> {
    let problems = ebok_outages::reports::problems(report);
    if !problems.is_empty() {
        return Err(fields(problems));
    }
    count(state, &report.reporter, client).await?;
    let mut tx = state.pool.begin().await?;
    let id = reports::file(&mut tx, utility_id, Utc::now(), report).await?;
    tx.commit().await?;
    Ok(id)
}

/// Adds `reporter` to open report `id` ("this is already reported").
pub async fn join(
    state: &AppState,
    utility_id: i64,
    id: i64,
    reporter: &Reporter,
    client: Option<IpAddr>,
) -> Result<(), ApiError> {
    count(state, reporter, client).await?;
    let mut tx = state.pool.begin().await?;
    reports::join(&mut tx, utility_id, id, reporter, Utc::now()).await?;
    tx.commit().await?;
    Ok(())
}

/// A staff member's step on a report.
#[derive(Debug, Clone)]
pub enum StaffStep {
    Verify,
    Reject { reason: String },
    Dispatch { technician: i64 },
    Fix,
}

/// Takes `step` on report `id` in a transaction of its own.
pub async fn take(
    state: &AppState,
    staff: Staff,
    id: i64,
    step: StaffStep,
    by: Acting,
) -> Result<(), ApiError> {
    let mut tx = state.pool.begin().await?;
    match step {
        StaffStep::Verify => reports::verify(&mut tx, staff, id).await?,
        StaffStep::Reject { reason } => reports::reject(&mut tx, staff, id, &reason, by).await?,
        StaffStep::Dispatch { technician } => {
            reports::dispatch(&mut tx, staff, id, technician).await?
        }
        StaffStep::Fix => reports::fix(&mut tx, staff, id, by).await?,
    }
    tx.commit().await?;
    Ok(())
}

/// Adds a photo from the spot to report `id`, in a transaction of its own; the photo's id.
pub async fn add_photo(
    state: &AppState,
    staff: Staff,
    id: i64,
    photo: &CleanPhoto,
    by: Acting,
) -> Result<i64, ApiError> {
    let mut tx = state.pool.begin().await?;
    let photo_id = reports::add_staff_photo(&mut tx, staff, id, photo, by).await?;
    tx.commit().await?;
    Ok(photo_id)
}
