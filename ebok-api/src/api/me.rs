//! The logged-in resident's own account: profile, change of e-mail and password, the customers
//! the account acts for (linking with the code from a paper invoice).

use crate::extract::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::{self, LinkedCustomer};
use crate::auth::Resident;
use crate::auth::sessions::{self, SessionSummary};
use crate::error::{ApiError, Problem};
use crate::extract::Path;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub account_id: i64,
    pub email: String,
    pub display_name: String,
    pub utility_slug: String,
    pub utility_name: String,
    pub customers: Vec<LinkedCustomer>,
}

/// The account, its utility and the customers it acts for.
#[utoipa::path(get, path = "/me", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn me(State(state): State<AppState>, who: Resident) -> Result<Json<Me>, ApiError> {
    let row = sqlx::query!(
        r#"SELECT a.email, a.display_name, u.slug, u.name
           FROM user_accounts a JOIN utilities u ON u.id = a.utility_id
           WHERE a.id = $1 AND a.utility_id = $2"#,
        who.account_id,
        who.utility_id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::Unauthorized)?;
    Ok(Json(Me {
        account_id: who.account_id,
        email: row.email,
        display_name: row.display_name,
        utility_slug: row.slug,
        utility_name: row.name,
        customers: accounts::linked_customers(&state.pool, who.utility_id, who.account_id).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LinkRequest {
    /// The customer number printed on invoices.
    #[schema(min_length = 1)]
    pub customer_number: String,
    /// The one-time code printed on a paper invoice or letter.
    #[schema(min_length = 1)]
    pub code: String,
}

/// Link the account to a customer with the customer number and the code from a paper invoice.
/// Wrong codes are throttled (5 an hour).
#[utoipa::path(post, path = "/me/customers", tag = "account", security(("bearer" = [])),
    request_body = LinkRequest,
    responses((status = 201, body = LinkedCustomer), (status = 422, body = Problem),
              (status = 429, body = Problem)))]
pub async fn link(
    State(state): State<AppState>,
    who: Resident,
    Json(body): Json<LinkRequest>,
) -> Result<(StatusCode, Json<LinkedCustomer>), ApiError> {
    let linked = accounts::link_customer(
        &state.pool,
        who.utility_id,
        who.account_id,
        &body.customer_number,
        &body.code,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(linked)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EmailChange {
    #[schema(min_length = 3, max_length = 254)]
    pub email: String,
    /// The account's current password.
    #[schema(min_length = 1, max_length = 128)]
    pub password: String,
}

/// Change the account's e-mail: the current password is required; a confirmation link goes to
/// the new address, a notice to the old one; nothing changes until the link is opened.
#[utoipa::path(post, path = "/me/email", tag = "account", security(("bearer" = [])),
    request_body = EmailChange,
    responses((status = 202), (status = 422, body = Problem), (status = 429, body = Problem),
              (status = 503, body = Problem,
               description = "Bez serwera poczty albo serwer chwilowo przeciążony · no mail server, or busy")))]
pub async fn change_email(
    State(state): State<AppState>,
    who: Resident,
    Json(body): Json<EmailChange>,
) -> Result<StatusCode, ApiError> {
    let utility = utility_of(&state, who.utility_id).await?;
    accounts::request_email_change(
        &state.pool,
        &state.hasher,
        &state.mailer,
        &utility,
        who.account_id,
        &body.email,
        &body.password,
    )
    .await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    #[schema(min_length = 1, max_length = 128)]
    pub current_password: String,
    /// 10 to 128 characters, not the e-mail, not a password everybody tries first.
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
    #[schema(min_length = 10, max_length = 128)]
    pub password_repeat: String,
}

/// Change the password; every other session of the account ends.
#[utoipa::path(post, path = "/me/password", tag = "account", security(("bearer" = [])),
    request_body = PasswordChange,
    responses((status = 204), (status = 422, body = Problem), (status = 429, body = Problem),
              (status = 503, body = Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    who: Resident,
    Json(body): Json<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    accounts::change_password(
        &state.pool,
        &state.hasher,
        who.utility_id,
        who.account_id,
        Some(who.session_id),
        &body.current_password,
        &body.password,
        &body.password_repeat,
    )
    .await?;
    state.revoked.catch_up(&state.pool).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn utility_of(
    state: &AppState,
    utility_id: i64,
) -> Result<accounts::UtilityRef, ApiError> {
    sqlx::query_as!(
        accounts::UtilityRef,
        "SELECT id, slug, name FROM utilities WHERE id = $1",
        utility_id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::NotFound)
}

/// Where the account is logged in: its live sessions (the portal and the app).
#[utoipa::path(get, path = "/me/sessions", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = Vec<SessionSummary>), (status = 401, body = Problem)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    who: Resident,
) -> Result<Json<Vec<SessionSummary>>, ApiError> {
    Ok(Json(
        sessions::list(&state.pool, who.utility_id, who.account_id).await?,
    ))
}

/// End one of the account's sessions (e.g. a lost phone): its refresh token and access tokens
/// stop working.
#[utoipa::path(delete, path = "/me/sessions/{id}", tag = "account", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn end_session(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if sessions::end(&state.pool, who.utility_id, who.account_id, id).await? {
        state.revoked.catch_up(&state.pool).await?;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Everything the eBOK holds about the account (GDPR art. 15 and 20), as one JSON document:
/// the account, its customers, the meters it sees with their readings, its own readings, alarm
/// rules and what they recorded, consents, notices, devices and sessions.
#[utoipa::path(get, path = "/me/data", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = crate::personal_data::PersonalData),
              (status = 401, body = Problem)))]
pub async fn personal_data(
    State(state): State<AppState>,
    who: Resident,
) -> Result<Json<crate::personal_data::PersonalData>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        crate::personal_data::gather(&mut conn, who.viewer(), crate::personal_data::Readings::All)
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CloseAccount {
    /// The account's current password.
    #[schema(min_length = 1, max_length = 128)]
    pub password: String,
}

/// Close the account (GDPR art. 17): its personal data is erased and every session ends. The
/// customers, contracts, readings and invoices stay with the utility, as the law requires; the
/// supply contract is not ended by this.
#[utoipa::path(post, path = "/me/close", tag = "account", security(("bearer" = [])),
    request_body = CloseAccount,
    responses((status = 204), (status = 401, body = Problem), (status = 422, body = Problem),
              (status = 429, body = Problem)))]
pub async fn close(
    State(state): State<AppState>,
    who: Resident,
    Json(body): Json<CloseAccount>,
) -> Result<StatusCode, ApiError> {
    let utility = utility_of(&state, who.utility_id).await?;
    accounts::close_account(
        &state.pool,
        &state.hasher,
        &state.mailer,
        &utility,
        who.account_id,
        &body.password,
    )
    .await?;
    state.revoked.catch_up(&state.pool).await?;
    Ok(StatusCode::NO_CONTENT)
}
