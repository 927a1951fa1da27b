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
use crate::staff::customers::{self, CustomerCard, FoundCustomer, SearchTerms};
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
