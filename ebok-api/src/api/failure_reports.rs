//! Failure reports for the app (seed 004 "zgłaszanie awarii", issue 21): a resident files what
//! is wrong and where (the phone's position, an address, or both) with up to five photos sent
//! as base64, after asking which open reports of the kind are nearby ("already reported") and
//! joining one of those instead; they read their reports with every step and photo. Anybody
//! without an account files or joins with an e-mail address through the utility's public
//! endpoints, and hears back only the report's number and state. The twins of the portal's
//! `/u/{slug}/awarie`; the shared glue (photos cleaned, anonymous reporters limited) is
//! [`crate::outages`], the domain [`ebok_outages::reports`]. The technicians' and the office's
//! side is [`super::staff_failure_reports`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use chrono::{DateTime, Utc};
use ebok_outages::photos::{self, CleanPhoto};
use ebok_outages::reports::views::{self, Detail, Filter, HistoryRow, PhotoRow, Summary};
use ebok_outages::reports::{
    self, Category, MAX_ADDRESS, MAX_DESCRIPTION, NewReport, Place, Reporter,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Resident;
use crate::client::ClientAddr;
use crate::error::{ApiError, Problem};
use crate::extract::{Json, Path, Query};
use crate::outages;
use crate::state::AppState;

/// The longest base64 text of one photo ([`photos::MAX_BYTES`] encoded).
pub const MAX_PHOTO_BASE64: usize = photos::MAX_BYTES.div_ceil(3) * 4;
/// A report's body: its photos at their largest, and room for the rest.
pub const REPORT_BODY_LIMIT: usize = photos::MAX_PHOTOS * MAX_PHOTO_BASE64 + 64 * 1024;
/// The longest e-mail address taken.
const MAX_EMAIL: usize = 254;
/// The reports a list holds at most.
const LIST_LIMIT: i64 = 100;

/// `failure_category`: what is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureCategory {
    BurstPipe,
    NoWater,
    LowPressure,
    WaterQuality,
    SewerBlockage,
    DamagedHydrant,
}

impl From<Category> for FailureCategory {
    fn from(c: Category) -> Self {
        match c {
            Category::BurstPipe => FailureCategory::BurstPipe,
            Category::NoWater => FailureCategory::NoWater,
            Category::LowPressure => FailureCategory::LowPressure,
            Category::WaterQuality => FailureCategory::WaterQuality,
            Category::SewerBlockage => FailureCategory::SewerBlockage,
            Category::DamagedHydrant => FailureCategory::DamagedHydrant,
        }
    }
}

impl From<FailureCategory> for Category {
    fn from(c: FailureCategory) -> Self {
        match c {
            FailureCategory::BurstPipe => Category::BurstPipe,
            FailureCategory::NoWater => Category::NoWater,
            FailureCategory::LowPressure => Category::LowPressure,
            FailureCategory::WaterQuality => Category::WaterQuality,
            FailureCategory::SewerBlockage => Category::SewerBlockage,
            FailureCategory::DamagedHydrant => Category::DamagedHydrant,
        }
    }
}

/// `failure_state`: where a report is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureState {
    Reported,
    Verified,
    Rejected,
    Dispatched,
    Fixed,
}

impl From<reports::State> for FailureState {
    fn from(s: reports::State) -> Self {
        use reports::State as S;
        match s {
            S::Reported => FailureState::Reported,
            S::Verified => FailureState::Verified,
            S::Rejected => FailureState::Rejected,
            S::Dispatched => FailureState::Dispatched,
            S::Fixed => FailureState::Fixed,
        }
    }
}

/// The point of `lat` and `lon`: both or neither, each in its range.
pub(crate) fn point(lat: Option<f64>, lon: Option<f64>) -> Result<Option<(f64, f64)>, ApiError> {
    let both = "Podaj obie współrzędne: szerokość (lat) i długość (lon).";
    match (lat, lon) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(ApiError::invalid("lon", both)),
        (None, Some(_)) => Err(ApiError::invalid("lat", both)),
        (Some(lat), Some(lon)) => {
            if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
                return Err(ApiError::invalid(
                    "lat",
                    "Szerokość geograficzna musi być liczbą od -90 do 90.",
                ));
            }
            if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
                return Err(ApiError::invalid(
                    "lon",
                    "Długość geograficzna musi być liczbą od -180 do 180.",
                ));
            }
            Ok(Some((lat, lon)))
        }
    }
}

/// Refuses `text` at `field` when it is longer than `max` characters as sent (the domain counts
/// them trimmed; the document promises the limit on what is sent).
pub(crate) fn at_most(
    field: &str,
    text: Option<&str>,
    max: usize,
    detail: &str,
) -> Result<(), ApiError> {
    match text {
        Some(text) if text.chars().count() > max => Err(ApiError::invalid(field, detail)),
        _ => Ok(()),
    }
}

/// The bytes of a photo sent as standard base64 (line breaks and spaces ignored), or `None`.
pub(crate) fn base64_photo(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}

/// The photos of a report, decoded and cleaned ([`outages::clean_photos`]).
fn photos_of(sent: &[String]) -> Result<Vec<CleanPhoto>, ApiError> {
    let bytes = sent
        .iter()
        .enumerate()
        .map(|(i, text)| {
            base64_photo(text).ok_or_else(|| {
                ApiError::invalid(
                    "photos",
                    format!("Zdjęcie {}: to nie jest poprawny tekst base64.", i + 1),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    outages::clean_photos(&bytes)
}

/// The new report in `body`, by `reporter`, checked at the edge (what the domain cannot name
/// exactly: one coordinate without the other, lengths as sent, the photos' encoding); the
/// domain's own checks follow in [`outages::file`].
fn new_report(body: NewFailureReport, reporter: Reporter) -> Result<NewReport, ApiError> {
    at_most(
        "description",
        Some(&body.description),
        MAX_DESCRIPTION,
        &format!("Opis może mieć najwyżej {MAX_DESCRIPTION} znaków."),
    )?;
    at_most(
        "address",
        body.address.as_deref(),
        MAX_ADDRESS,
        &format!("Adres może mieć najwyżej {MAX_ADDRESS} znaków."),
    )?;
    let point = point(body.lat, body.lon)?;
    Ok(NewReport {
        category: body.category.into(),
        description: body.description,
        place: Place {
            point,
            address: body.address,
        },
        reporter,
        photos: photos_of(&body.photos)?,
    })
}

/// The e-mail address of somebody without an account, as sent (its form is the domain's check).
fn email(text: &str) -> Result<Reporter, ApiError> {
    at_most(
        "email",
        Some(text),
        MAX_EMAIL,
        "Adres e-mail może mieć najwyżej 254 znaki.",
    )?;
    Ok(Reporter::Email(text.to_string()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewFailureReport {
    pub category: FailureCategory,
    /// What is happening, in the reporter's words.
    #[schema(min_length = 1, max_length = 4000)]
    pub description: String,
    /// Where, from the phone's GPS (WGS 84 degrees); with `lon`. A point, an address or both.
    #[schema(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    #[schema(minimum = -180, maximum = 180)]
    pub lon: Option<f64>,
    /// Where, as the reporter says it: "Lipowa 5, Młynary", "przy przystanku na Polnej".
    #[schema(max_length = 300)]
    pub address: Option<String>,
    /// Up to five photos, each the standard base64 of a JPEG, PNG or WebP file of up to 8 MB.
    /// Their metadata (the EXIF position, the device, the time) is removed before anyone sees
    /// them.
    #[serde(default)]
    #[schema(max_items = 5)]
    pub photos: Vec<String>,
}

/// A report by somebody without an account: the fields of `NewFailureReport` and an e-mail
/// address (side by side, not nested, so that a refusal names the very field).
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewFailureReportByEmail {
    /// Where the reporter is told each step of the report. At most 3 reports (filed or
    /// joined) an hour from one address. Erased 30 days after the report is closed.
    #[schema(min_length = 3, max_length = 254)]
    pub email: String,
    pub category: FailureCategory,
    /// What is happening, in the reporter's words.
    #[schema(min_length = 1, max_length = 4000)]
    pub description: String,
    /// Where, from the phone's GPS (WGS 84 degrees); with `lon`. A point, an address or both.
    #[schema(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    #[schema(minimum = -180, maximum = 180)]
    pub lon: Option<f64>,
    /// Where, as the reporter says it.
    #[schema(max_length = 300)]
    pub address: Option<String>,
    /// Up to five photos, each the standard base64 of a JPEG, PNG or WebP file of up to 8 MB;
    /// their metadata is removed before anyone sees them.
    #[serde(default)]
    #[schema(max_items = 5)]
    pub photos: Vec<String>,
}

impl NewFailureReportByEmail {
    fn split(self) -> (String, NewFailureReport) {
        (
            self.email,
            NewFailureReport {
                category: self.category,
                description: self.description,
                lat: self.lat,
                lon: self.lon,
                address: self.address,
                photos: self.photos,
            },
        )
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct JoinByEmail {
    /// Where the reporter is told each step of the report from now on.
    #[schema(min_length = 3, max_length = 254)]
    pub email: String,
}

/// A report in the resident's list.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailureReportSummary {
    pub id: i64,
    pub category: FailureCategory,
    /// The category in Polish.
    pub category_label: String,
    pub state: FailureState,
    /// The state in Polish.
    pub state_label: String,
    pub description: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: Option<String>,
    pub created_at: DateTime<Utc>,
    /// How many reported it (who filed it and everybody who joined).
    pub reporters: i64,
    pub photos: i64,
}

impl From<Summary> for FailureReportSummary {
    fn from(s: Summary) -> Self {
        FailureReportSummary {
            id: s.id,
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
            photos: s.photos,
        }
    }
}

/// An open report offered as "already reported": where and what, never who nor their words.
#[derive(Debug, Serialize, ToSchema)]
pub struct NearbyFailureReport {
    pub id: i64,
    pub category: FailureCategory,
    pub category_label: String,
    pub state: FailureState,
    pub state_label: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: Option<String>,
    /// Metres from the point asked about, when both have one.
    pub distance_m: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub reporters: i64,
    /// The caller reported or joined it already.
    pub mine: bool,
}

/// A step in a report's life, as its reporters read it (staff are not named).
#[derive(Debug, Serialize, ToSchema)]
pub struct FailureReportStep {
    pub at: DateTime<Utc>,
    /// `reported`, `joined`, `verified`, `rejected`, `dispatched`, `fixed` or
    /// `outage_announced`.
    pub action: String,
    /// The state after it.
    pub state: FailureState,
    pub state_label: String,
    /// The reason of a rejection; the title of the outage notice announced.
    pub note: Option<String>,
}

/// The action of a history row without its `failure_report.` prefix.
pub(crate) fn action(row: &HistoryRow) -> String {
    row.action
        .strip_prefix("failure_report.")
        .unwrap_or(&row.action)
        .to_string()
}

impl From<HistoryRow> for FailureReportStep {
    fn from(row: HistoryRow) -> Self {
        FailureReportStep {
            action: action(&row),
            at: row.at,
            state: row.to.into(),
            state_label: row.to.polish().to_string(),
            note: row.note,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FailureReportPhoto {
    pub id: i64,
    /// Added by the utility's staff or crew (else by a reporter).
    pub by_staff: bool,
    /// Where its bytes are (`GET`, with the same token).
    pub url: String,
}

/// A report with its steps and photos, as a resident who reported it reads it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailureReport {
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
    /// Why it was closed without a repair.
    pub rejection_reason: Option<String>,
    /// The outage notice announced for it.
    pub outage_id: Option<i64>,
    /// Oldest first.
    pub history: Vec<FailureReportStep>,
    pub photos: Vec<FailureReportPhoto>,
}

fn photo_out(id: i64, photo: PhotoRow) -> FailureReportPhoto {
    FailureReportPhoto {
        url: format!("/api/v1/failure-reports/{id}/photos/{}", photo.id),
        id: photo.id,
        by_staff: photo.by_staff,
    }
}

impl From<Detail> for FailureReport {
    fn from(d: Detail) -> Self {
        let s = d.summary;
        FailureReport {
            id: s.id,
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
            outage_id: s.outage_id,
            history: d.history.into_iter().map(FailureReportStep::from).collect(),
            photos: d.photos.into_iter().map(|p| photo_out(s.id, p)).collect(),
        }
    }
}

/// What somebody without an account hears back: the report's number and state, nothing more.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailureReportReceived {
    pub id: i64,
    pub state: FailureState,
    pub state_label: String,
}

/// Report `id` as the resident `who` reads it: only one they reported or joined (else 404).
async fn resident_report(
    state: &AppState,
    who: &Resident,
    id: i64,
) -> Result<FailureReport, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let detail = views::for_reporter(&mut conn, who.utility_id, id, who.account_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(detail.into())
}

/// The resident's reports, those they filed and those they joined, newest first.
#[utoipa::path(get, path = "/failure-reports", tag = "failure-reports",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<FailureReportSummary>), (status = 401, body = Problem)))]
pub async fn my_reports(
    State(state): State<AppState>,
    who: Resident,
) -> Result<Json<Vec<FailureReportSummary>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let list = views::list(
        &mut conn,
        who.utility_id,
        &Filter {
            reporter: Some(who.account_id),
            limit: LIST_LIMIT,
            ..Filter::default()
        },
    )
    .await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct NearbyQuery {
    pub category: FailureCategory,
    /// The phone's position (with `lon`): reports within 300 m of it.
    #[param(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    #[param(minimum = -180, maximum = 180)]
    pub lon: Option<f64>,
    /// Or at this address (the same words, whatever their case).
    #[param(max_length = 300)]
    pub address: Option<String>,
}

/// Open reports of the category near a point (300 m) or at an address, nearest first (at most
/// five): offered before filing as "already reported", to be joined instead. Empty without a
/// point or an address.
#[utoipa::path(get, path = "/failure-reports/nearby", tag = "failure-reports",
    security(("bearer" = [])), params(NearbyQuery),
    responses((status = 200, body = Vec<NearbyFailureReport>), (status = 401, body = Problem),
              (status = 422, body = Problem)))]
pub async fn nearby(
    State(state): State<AppState>,
    who: Resident,
    Query(q): Query<NearbyQuery>,
) -> Result<Json<Vec<NearbyFailureReport>>, ApiError> {
    at_most(
        "address",
        q.address.as_deref(),
        MAX_ADDRESS,
        &format!("Adres może mieć najwyżej {MAX_ADDRESS} znaków."),
    )?;
    let place = Place {
        point: point(q.lat, q.lon)?,
        address: q.address,
    };
    let mut conn = state.pool.acquire().await?;
    let found = views::nearby_open(&mut conn, who.utility_id, q.category.into(), &place).await?;
    let me = Reporter::Account(who.account_id);
    let mut out = Vec::with_capacity(found.len());
    for s in found {
        out.push(NearbyFailureReport {
            mine: views::is_reporter(&mut conn, s.id, &me).await?,
            id: s.id,
            category: s.category.into(),
            category_label: s.category.polish().to_string(),
            state: s.state.into(),
            state_label: s.state.polish().to_string(),
            lat: s.place.point.map(|p| p.0),
            lon: s.place.point.map(|p| p.1),
            address: s.place.address,
            distance_m: s.distance_m.map(f64::round),
            created_at: s.created_at,
            reporters: s.reporters,
        });
    }
    Ok(Json(out))
}

/// File a failure report. Ask `GET /failure-reports/nearby` first: when the failure is already
/// reported, join that report instead. Photos lose their metadata before they are stored.
#[utoipa::path(post, path = "/failure-reports", tag = "failure-reports",
    security(("bearer" = [])), request_body = NewFailureReport,
    responses((status = 201, body = FailureReport), (status = 401, body = Problem),
              (status = 422, body = Problem),
              (status = 429, body = Problem, description = "Too many reports from this account")))]
pub async fn file_report(
    State(state): State<AppState>,
    who: Resident,
    ClientAddr(client): ClientAddr,
    Json(body): Json<NewFailureReport>,
) -> Result<(StatusCode, Json<FailureReport>), ApiError> {
    let report = new_report(body, Reporter::Account(who.account_id))?;
    let id = outages::file(&state, who.utility_id, &report, client).await?;
    Ok((
        StatusCode::CREATED,
        Json(resident_report(&state, &who, id).await?),
    ))
}

/// One of the resident's reports (filed or joined) with its steps and photos; any other is not
/// found.
#[utoipa::path(get, path = "/failure-reports/{id}", tag = "failure-reports",
    security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = FailureReport), (status = 404, body = Problem)))]
pub async fn report(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
) -> Result<Json<FailureReport>, ApiError> {
    Ok(Json(resident_report(&state, &who, id).await?))
}

/// A photo of one of the resident's reports, without its metadata.
#[utoipa::path(get, path = "/failure-reports/{id}/photos/{photo_id}", tag = "failure-reports",
    security(("bearer" = [])), params(("id" = i64, Path), ("photo_id" = i64, Path)),
    responses((status = 200, description = "Zdjęcie · the photo", content(
                  (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "image/webp"))),
              (status = 404, body = Problem)))]
pub async fn report_photo(
    State(state): State<AppState>,
    who: Resident,
    Path((id, photo_id)): Path<(i64, i64)>,
) -> Result<Response, ApiError> {
    let mut conn = state.pool.acquire().await?;
    if !views::is_reporter(&mut conn, id, &Reporter::Account(who.account_id)).await? {
        return Err(ApiError::NotFound);
    }
    let (content_type, bytes) = views::photo(
        &mut conn,
        who.utility_id,
        id,
        photo_id,
        Some(who.account_id),
    )
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok(outages::photo_response(content_type, bytes))
}

/// "Me too": the resident joins an open report instead of filing it again, and is told its
/// steps from now on. Joining twice changes nothing. A closed report cannot be joined (409).
#[utoipa::path(post, path = "/failure-reports/{id}/join", tag = "failure-reports",
    security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = FailureReport), (status = 404, body = Problem),
              (status = 409, body = Problem),
              (status = 429, body = Problem, description = "Too many reports from this account")))]
pub async fn join_report(
    State(state): State<AppState>,
    who: Resident,
    ClientAddr(client): ClientAddr,
    Path(id): Path<i64>,
) -> Result<Json<FailureReport>, ApiError> {
    let me = Reporter::Account(who.account_id);
    outages::join(&state, who.utility_id, id, &me, client).await?;
    Ok(Json(resident_report(&state, &who, id).await?))
}

/// State of report `id` of the utility, for somebody without an account.
async fn received(
    state: &AppState,
    utility_id: i64,
    id: i64,
) -> Result<Json<FailureReportReceived>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let detail = views::detail(&mut conn, utility_id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let state = detail.summary.state;
    Ok(Json(FailureReportReceived {
        id,
        state: state.into(),
        state_label: state.polish().to_string(),
    }))
}

/// File a failure report without an account: each step is told at the e-mail address. The
/// answer is the report's number and state. At most 3 reports (filed or joined) an hour from
/// one address and 10 from one client (429 with `Retry-After`).
#[utoipa::path(post, path = "/utilities/{slug}/failure-reports", tag = "failure-reports",
    params(("slug" = String, Path, description = "The utility's slug")),
    request_body = NewFailureReportByEmail,
    responses((status = 201, body = FailureReportReceived), (status = 404, body = Problem),
              (status = 422, body = Problem),
              (status = 429, body = Problem, description = "Too many reports from this address or client")))]
pub async fn file_by_email(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ClientAddr(client): ClientAddr,
    Json(body): Json<NewFailureReportByEmail>,
) -> Result<(StatusCode, Json<FailureReportReceived>), ApiError> {
    let utility = super::auth::utility(&state, &slug).await?;
    let (address, body) = body.split();
    let report = new_report(body, email(&address)?)?;
    let id = outages::file(&state, utility.id, &report, client).await?;
    Ok((StatusCode::CREATED, received(&state, utility.id, id).await?))
}

/// Join an open report without an account ("me too"): its steps are told at the e-mail address
/// from now on. Counted under the same limits as filing.
#[utoipa::path(post, path = "/utilities/{slug}/failure-reports/{id}/join", tag = "failure-reports",
    params(("slug" = String, Path, description = "The utility's slug"), ("id" = i64, Path)),
    request_body = JoinByEmail,
    responses((status = 200, body = FailureReportReceived), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "The report is closed"),
              (status = 422, body = Problem),
              (status = 429, body = Problem, description = "Too many reports from this address or client")))]
pub async fn join_by_email(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, i64)>,
    ClientAddr(client): ClientAddr,
    Json(body): Json<JoinByEmail>,
) -> Result<Json<FailureReportReceived>, ApiError> {
    let utility = super::auth::utility(&state, &slug).await?;
    let reporter = email(&body.email)?;
    outages::join(&state, utility.id, id, &reporter, client).await?;
    received(&state, utility.id, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apis_names_are_the_domains() {
        for c in Category::ALL {
            let named = serde_json::to_value(FailureCategory::from(c)).unwrap();
            assert_eq!(named, c.as_str());
            assert_eq!(Category::from(FailureCategory::from(c)), c);
        }
        for s in reports::State::ALL {
            let named = serde_json::to_value(FailureState::from(s)).unwrap();
            assert_eq!(named, s.as_str());
        }
    }

    #[test]
    fn a_point_is_both_coordinates_in_their_ranges() {
        assert_eq!(point(None, None).unwrap(), None);
        assert_eq!(
            point(Some(54.194), Some(19.675)).unwrap(),
            Some((54.194, 19.675))
        );
        let field = |e: ApiError| match e {
            ApiError::Invalid { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(point(Some(54.0), None).unwrap_err()), "lon");
        assert_eq!(field(point(None, Some(19.0)).unwrap_err()), "lat");
        assert_eq!(field(point(Some(90.5), Some(19.0)).unwrap_err()), "lat");
        assert_eq!(field(point(Some(54.0), Some(f64::NAN)).unwrap_err()), "lon");
    }

    #[test]
    fn a_photo_is_standard_base64_whatever_its_line_breaks() {
        assert_eq!(base64_photo("aGVs\nbG8=").unwrap(), b"hello");
        assert!(base64_photo("aGVsbG8").is_none());
        assert!(base64_photo("not base64!").is_none());
        assert_eq!(MAX_PHOTO_BASE64, 11_184_812);
    }
}
