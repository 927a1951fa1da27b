//! The staff API under `/staff/…`, for the technicians' app and other staff tools: sign-in
//! with the password and a code of the authenticator app in one request, then the same work
//! as the back office's pages, each operation checked against the caller's role
//! ([`Permission`]) and scoped to the caller's utility. A resident's token gets 403; a
//! customer of another utility is not found (404).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::accounts::{self, Door};
use crate::auth::app::{self, Lifetime, STAFF_MAX_SECS, TokenPair};
use crate::client::ClientAddr;
use crate::error::{ApiError, Problem};
use crate::extract::{Json, Path, Query};
use crate::staff::alarms::{self, AlarmFilter, AlarmItem, Handling};
use crate::staff::customers::{self, CustomerCard, FoundCustomer, SearchTerms};
use crate::staff::meters::{self, MeterCard, Replacement};
use crate::staff::quarantine::{self, Assigned, HeldGroup};
use crate::staff::records::{self, ContractDraft, CustomerDraft, PointDraft};
use crate::staff::{Permission, StaffCaller, sign_in};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct StaffLoginRequest {
    #[schema(min_length = 1, max_length = 254)]
    pub email: String,
    #[schema(min_length = 1, max_length = 128)]
    pub password: String,
    /// The six digits the authenticator app shows now, or one of the recovery codes.
    #[schema(min_length = 6, max_length = 20)]
    pub code: String,
    /// Shown in the staff member's list of sessions, e.g. "Tablet brygady 2".
    pub client: Option<String>,
}

/// Sign in a staff member (the technicians' app): password and second factor in one request.
/// The session ends 12 hours after sign-in however often it is refreshed. An account that has
/// not set up its authenticator app does so in the back office first (422 at `code`).
#[utoipa::path(post, path = "/staff/utilities/{slug}/token", tag = "staff",
    params(("slug" = String, Path)), request_body = StaffLoginRequest,
    responses((status = 200, body = TokenPair), (status = 422, body = Problem),
              (status = 409, body = Problem, description = "Account not active"),
              (status = 429, body = Problem),
              (status = 503, body = Problem, description = "Too many logins at once; retry")))]
pub async fn token(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ClientAddr(peer): ClientAddr,
    Json(body): Json<StaffLoginRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    let utility = super::auth::utility(&state, &slug).await?;
    let who = accounts::login(
        &state.pool,
        &state.hasher,
        utility.id,
        &body.email,
        &body.password,
        peer,
        Door::Staff,
    )
    .await?;
    sign_in::check_second_factor(&state.pool, &who, &body.code).await?;
    let lifetime = Lifetime {
        max_age: std::time::Duration::from_secs(STAFF_MAX_SECS as u64),
    };
    Ok(Json(
        app::start(
            &state.pool,
            &state.keys,
            lifetime,
            &who,
            body.client.as_deref(),
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchQuery {
    /// The start of a name or of an address ("Długa 5"), a customer number, a PESEL or NIP,
    /// a meter's serial or radio id; at least 2 characters.
    #[param(min_length = 2, max_length = 200)]
    pub q: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerSearch {
    /// At most 50, exact identifiers first.
    pub customers: Vec<FoundCustomer>,
}

/// Find customers of the caller's utility.
#[utoipa::path(get, path = "/staff/customers", tag = "staff", security(("bearer" = [])),
    params(SearchQuery),
    responses((status = 200, body = CustomerSearch), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn search(
    State(state): State<AppState>,
    who: StaffCaller,
    Query(q): Query<SearchQuery>,
) -> Result<Json<CustomerSearch>, ApiError> {
    who.require(Permission::ViewCustomers)?;
    let terms = SearchTerms::parse(&q.q)
        .ok_or_else(|| ApiError::invalid("q", "Wpisz co najmniej 2 znaki (najwyżej 200)."))?;
    Ok(Json(CustomerSearch {
        customers: customers::search(&state.pool, who.utility_id, &terms).await?,
    }))
}

/// A customer's card: identity, linked accounts, consents with history, contracts, meters with
/// their latest readings, open alarms, notices sent.
#[utoipa::path(get, path = "/staff/customers/{id}", tag = "staff", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = CustomerCard), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn customer(
    State(state): State<AppState>,
    who: StaffCaller,
    Path(id): Path<i64>,
) -> Result<Json<CustomerCard>, ApiError> {
    who.require(Permission::ViewCustomers)?;
    customers::card(&state.pool, who.utility_id, id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// A meter: where it stands, its chain, its newest readings.
#[utoipa::path(get, path = "/staff/meters/{id}", tag = "staff", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = MeterCard), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn meter(
    State(state): State<AppState>,
    who: StaffCaller,
    Path(id): Path<i64>,
) -> Result<Json<MeterCard>, ApiError> {
    who.require(Permission::ViewCustomers)?;
    meters::card(&state.pool, who.utility_id, id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReplacementRequest {
    /// The instant of the swap (not in the future, after the old meter's last reading).
    pub at: chrono::DateTime<chrono::Utc>,
    /// The old meter's register when it came off, litres.
    #[schema(minimum = 0)]
    pub final_litres: i64,
    #[schema(min_length = 1, max_length = 40)]
    pub serial: String,
    /// Eight hexadecimal digits; required for a radio meter.
    #[schema(pattern = "^[0-9a-fA-F]{8}$")]
    pub radio_id: Option<String>,
    /// `wmbus`, `modbus` or `manual`.
    #[schema(pattern = "^(wmbus|modbus|manual)$")]
    pub channel: String,
    pub legalised_until: Option<chrono::NaiveDate>,
    /// The new meter's register when it went on, litres.
    #[schema(minimum = 0)]
    pub initial_litres: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Replaced {
    /// The new meter.
    pub meter_id: i64,
}

/// Replace a meter: the old one comes off with its final register, the new one goes on at the
/// same instant with its initial register.
#[utoipa::path(post, path = "/staff/meters/{id}/replacement", tag = "staff",
    security(("bearer" = [])), params(("id" = i64, Path)), request_body = ReplacementRequest,
    responses((status = 201, body = Replaced), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn replace_meter(
    State(state): State<AppState>,
    who: StaffCaller,
    Path(id): Path<i64>,
    Json(body): Json<ReplacementRequest>,
) -> Result<(axum::http::StatusCode, Json<Replaced>), ApiError> {
    who.require(Permission::ManageMeters)?;
    let replacement = Replacement {
        old_meter_id: id,
        at: body.at,
        final_litres: body.final_litres,
        serial: body.serial,
        radio_id: body.radio_id.map(|r| r.to_ascii_lowercase()),
        channel: body.channel,
        legalised_until: body.legalised_until,
        initial_litres: body.initial_litres,
    };
    let meter_id = meters::replace(&state.pool, who.by(), &replacement).await?;
    Ok((axum::http::StatusCode::CREATED, Json(Replaced { meter_id })))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmList {
    /// Newest first, at most 200.
    pub alarms: Vec<AlarmItem>,
}

/// The utility's meter alarms, open ones by default.
#[utoipa::path(get, path = "/staff/alarms", tag = "staff", security(("bearer" = [])),
    params(AlarmFilter),
    responses((status = 200, body = AlarmList), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn alarm_list(
    State(state): State<AppState>,
    who: StaffCaller,
    Query(filter): Query<AlarmFilter>,
) -> Result<Json<AlarmList>, ApiError> {
    who.require(Permission::HandleAlarms)?;
    Ok(Json(AlarmList {
        alarms: alarms::list(&state.pool, who.utility_id, &filter).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AlarmNote {
    /// Optional to acknowledge; to clear, why the alarm is over.
    #[schema(max_length = 1000)]
    #[serde(default)]
    pub note: String,
}

/// Acknowledge an alarm (someone is on it).
#[utoipa::path(post, path = "/staff/alarms/{id}/acknowledge", tag = "staff",
    security(("bearer" = [])), params(("id" = i64, Path)), request_body = AlarmNote,
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn acknowledge_alarm(
    State(state): State<AppState>,
    who: StaffCaller,
    Path(id): Path<i64>,
    Json(body): Json<AlarmNote>,
) -> Result<axum::http::StatusCode, ApiError> {
    who.require(Permission::HandleAlarms)?;
    alarms::handle(&state.pool, who.by(), id, Handling::Acknowledge, &body.note).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Clear an alarm with a note saying why it is over.
#[utoipa::path(post, path = "/staff/alarms/{id}/clear", tag = "staff",
    security(("bearer" = [])), params(("id" = i64, Path)), request_body = AlarmNote,
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn clear_alarm(
    State(state): State<AppState>,
    who: StaffCaller,
    Path(id): Path<i64>,
    Json(body): Json<AlarmNote>,
) -> Result<axum::http::StatusCode, ApiError> {
    who.require(Permission::HandleAlarms)?;
    alarms::handle(&state.pool, who.by(), id, Handling::Clear, &body.note).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Quarantine {
    /// Held readings by reference, most first (at most 200 references).
    pub held: Vec<HeldGroup>,
}

/// Readings of meters nobody registered, held by ingest, by radio id or serial.
#[utoipa::path(get, path = "/staff/quarantine", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = Quarantine), (status = 401, body = Problem),
              (status = 403, body = Problem)))]
pub async fn quarantine_list(
    State(state): State<AppState>,
    who: StaffCaller,
) -> Result<Json<Quarantine>, ApiError> {
    who.require(Permission::HandleIngestProblems)?;
    Ok(Json(Quarantine {
        held: quarantine::held(&state.pool, who.utility_id).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignRequest {
    /// `radio_id` or `serial`: what the held readings came with.
    #[schema(pattern = "^(radio_id|serial)$")]
    pub kind: String,
    #[schema(min_length = 1, max_length = 100)]
    pub meter_ref: String,
    /// The serial of the utility's meter that gets them.
    #[schema(min_length = 1, max_length = 40)]
    pub serial: String,
}

/// Assign the held readings of a reference to a meter; ingest replays them into it.
#[utoipa::path(post, path = "/staff/quarantine/assignments", tag = "staff",
    security(("bearer" = [])), request_body = AssignRequest,
    responses((status = 200, body = Assigned), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn quarantine_assign(
    State(state): State<AppState>,
    who: StaffCaller,
    Json(body): Json<AssignRequest>,
) -> Result<Json<Assigned>, ApiError> {
    who.require(Permission::HandleIngestProblems)?;
    Ok(Json(
        quarantine::assign(
            &state.pool,
            who.by(),
            &body.kind,
            &body.meter_ref,
            &body.serial,
        )
        .await?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

/// Register a customer (a person, a company, a housing community, a public institution); the
/// customer number is assigned (`K` and seven digits). Every field is checked (PESEL, NIP and
/// REGON check digits, postal code); a PESEL or NIP another customer has is refused naming them.
#[utoipa::path(post, path = "/staff/customers", tag = "staff", security(("bearer" = [])),
    request_body = CustomerDraft,
    responses((status = 201, body = Created), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_customer(
    State(state): State<AppState>,
    who: StaffCaller,
    Json(body): Json<CustomerDraft>,
) -> Result<(axum::http::StatusCode, Json<Created>), ApiError> {
    who.require(Permission::EditCustomers)?;
    let id = records::create_customer(&state.pool, who.by(), &body).await?;
    Ok((axum::http::StatusCode::CREATED, Json(Created { id })))
}

/// Change a customer's data (all fields, as on the form).
#[utoipa::path(put, path = "/staff/customers/{id}", tag = "staff", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = CustomerDraft,
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_customer(
    State(state): State<AppState>,
    who: StaffCaller,
    Path(id): Path<i64>,
    Json(body): Json<CustomerDraft>,
) -> Result<axum::http::StatusCode, ApiError> {
    who.require(Permission::EditCustomers)?;
    records::update_customer(&state.pool, who.by(), id, &body).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Register a supply point (water supplied; sewage collected when `sewage`); its code is
/// assigned (`PP` and seven digits).
#[utoipa::path(post, path = "/staff/supply-points", tag = "staff", security(("bearer" = [])),
    request_body = PointDraft,
    responses((status = 201, body = Created), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_point(
    State(state): State<AppState>,
    who: StaffCaller,
    Json(body): Json<PointDraft>,
) -> Result<(axum::http::StatusCode, Json<Created>), ApiError> {
    who.require(Permission::EditCustomers)?;
    let id = records::create_point(&state.pool, who.by(), &body).await?;
    Ok((axum::http::StatusCode::CREATED, Json(Created { id })))
}

/// Start a customer's contract on a supply point (signed now). One binding contract per point
/// and day: an overlapping one is refused (422 at `valid_from`) naming the contract in force.
#[utoipa::path(post, path = "/staff/customers/{id}/contracts", tag = "staff",
    security(("bearer" = [])), params(("id" = i64, Path)), request_body = ContractDraft,
    responses((status = 201, body = Created), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn start_contract(
    State(state): State<AppState>,
    who: StaffCaller,
    Path(id): Path<i64>,
    Json(body): Json<ContractDraft>,
) -> Result<(axum::http::StatusCode, Json<Created>), ApiError> {
    who.require(Permission::EditCustomers)?;
    let id = records::start_contract(&state.pool, who.by(), id, &body).await?;
    Ok((axum::http::StatusCode::CREATED, Json(Created { id })))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EndRequest {
    /// The contract's last day (inclusive, Warsaw).
    pub last_day: chrono::NaiveDate,
}

/// End a contract on its last day; terminated once that day has come.
#[utoipa::path(post, path = "/staff/contracts/{id}/end", tag = "staff",
    security(("bearer" = [])), params(("id" = i64, Path)), request_body = EndRequest,
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn end_contract(
    State(state): State<AppState>,
    who: StaffCaller,
    Path(id): Path<i64>,
    Json(body): Json<EndRequest>,
) -> Result<axum::http::StatusCode, ApiError> {
    who.require(Permission::EditCustomers)?;
    records::end_contract(&state.pool, who.by(), id, body.last_day).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InstallRequest {
    /// The supply point's code.
    #[schema(min_length = 1, max_length = 40)]
    pub supply_point: String,
    #[schema(min_length = 1, max_length = 40)]
    pub serial: String,
    #[schema(pattern = "^[0-9a-fA-F]{8}$")]
    pub radio_id: Option<String>,
    #[schema(pattern = "^(wmbus|modbus|manual)$")]
    pub channel: String,
    #[schema(pattern = "^(main|garden|sewage)$")]
    pub purpose: String,
    /// The register's capacity: it wraps to 0 after this many litres.
    #[schema(minimum = 1000, maximum = 999_999_999_999_i64)]
    pub register_max_litres: i64,
    pub legalised_until: Option<chrono::NaiveDate>,
    pub at: chrono::DateTime<chrono::Utc>,
    #[schema(minimum = 0)]
    pub initial_litres: i64,
}

/// Install a new meter at a supply point with its initial register; one meter of each purpose
/// per point at a time (422 at `supply_point` naming the one there).
#[utoipa::path(post, path = "/staff/meters", tag = "staff", security(("bearer" = [])),
    request_body = InstallRequest,
    responses((status = 201, body = Created), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn install_meter(
    State(state): State<AppState>,
    who: StaffCaller,
    Json(body): Json<InstallRequest>,
) -> Result<(axum::http::StatusCode, Json<Created>), ApiError> {
    who.require(Permission::ManageMeters)?;
    let installation = meters::Installation {
        supply_point: body.supply_point,
        serial: body.serial,
        radio_id: body.radio_id.map(|r| r.to_ascii_lowercase()),
        channel: body.channel,
        purpose: body.purpose,
        register_max_litres: body.register_max_litres,
        legalised_until: body.legalised_until,
        at: body.at,
        initial_litres: body.initial_litres,
    };
    let id = meters::install(&state.pool, who.by(), &installation).await?;
    Ok((axum::http::StatusCode::CREATED, Json(Created { id })))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RemovalRequest {
    pub at: chrono::DateTime<chrono::Utc>,
    #[schema(minimum = 0)]
    pub final_litres: i64,
}

/// Take a meter off its supply point without a successor, with its final register.
#[utoipa::path(post, path = "/staff/meters/{id}/removal", tag = "staff",
    security(("bearer" = [])), params(("id" = i64, Path)), request_body = RemovalRequest,
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn remove_meter(
    State(state): State<AppState>,
    who: StaffCaller,
    Path(id): Path<i64>,
    Json(body): Json<RemovalRequest>,
) -> Result<axum::http::StatusCode, ApiError> {
    who.require(Permission::ManageMeters)?;
    meters::remove(&state.pool, who.by(), id, body.at, body.final_litres).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StaffReading {
    pub at: chrono::DateTime<chrono::Utc>,
    #[schema(minimum = 0)]
    pub litres: i64,
}

/// A reading a staff member read from the dial (source `manual`; who entered it is audited):
/// while the meter stood at its point, between the readings around it.
#[utoipa::path(post, path = "/staff/meters/{id}/readings", tag = "staff",
    security(("bearer" = [])), params(("id" = i64, Path)), request_body = StaffReading,
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn enter_reading(
    State(state): State<AppState>,
    who: StaffCaller,
    Path(id): Path<i64>,
    Json(body): Json<StaffReading>,
) -> Result<axum::http::StatusCode, ApiError> {
    who.require(Permission::ManageMeters)?;
    meters::enter_reading(&state.pool, who.by(), id, body.at, body.litres, None).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DueQuery {
    /// Legalisation ending within this many months (1 to 36, default 3).
    #[param(minimum = 1, maximum = 36)]
    pub months: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DueMeters {
    /// Ended first, then soonest; meters without a date last; at most 1,000.
    pub meters: Vec<meters::DueMeter>,
}

/// Installed meters whose legalisation ends within the months asked (a replacement campaign).
#[utoipa::path(get, path = "/staff/meters/legalisation", tag = "staff",
    security(("bearer" = [])), params(DueQuery),
    responses((status = 200, body = DueMeters), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn legalisation(
    State(state): State<AppState>,
    who: StaffCaller,
    Query(q): Query<DueQuery>,
) -> Result<Json<DueMeters>, ApiError> {
    who.require(Permission::ManageMeters)?;
    let months = q.months.unwrap_or(3);
    if !(1..=36).contains(&months) {
        return Err(ApiError::invalid("months", "Od 1 do 36 miesięcy."));
    }
    Ok(Json(DueMeters {
        meters: meters::due_for_legalisation(&state.pool, who.utility_id, months, 1_000).await?,
    }))
}
