//! Accounts and login for the mobile app and other API clients: registration, activation,
//! tokens (login, refresh, logout) and password reset. The utility is named by its slug in the
//! path of the calls made before login; after login the token carries it.

use crate::extract::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::accounts::{self, Registration, UtilityRef};
use crate::auth::app::{self, RefreshError, TokenPair};
use crate::client::ClientAddr;
use crate::error::{ApiError, Problem};
use crate::state::AppState;

pub(crate) async fn utility(state: &AppState, slug: &str) -> Result<UtilityRef, ApiError> {
    accounts::utility_by_slug(&state.pool, slug)
        .await?
        .ok_or(ApiError::NotFound)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(min_length = 3, max_length = 254)]
    pub email: String,
    #[schema(min_length = 1, max_length = 100)]
    pub display_name: String,
    /// 10 to 128 characters, not the e-mail, not a password everybody tries first.
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
    #[schema(min_length = 10, max_length = 128)]
    pub password_repeat: String,
    /// The resident accepts the eBOK terms of use.
    pub accept_terms: bool,
}

/// Register a resident account; an activation link is e-mailed. The answer is the same whether
/// or not the address already has an account.
#[utoipa::path(post, path = "/utilities/{slug}/accounts", tag = "accounts",
    params(("slug" = String, Path, description = "The utility's slug")),
    request_body = RegisterRequest,
    responses((status = 202, description = "Registered; check the inbox"),
              (status = 404, body = Problem), (status = 422, body = Problem),
              (status = 429, body = Problem, description = "Too many from this client address"),
              (status = 503, body = Problem,
               description = "The e-mail could not be sent, or e-mail is not configured")))]
pub async fn register(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ClientAddr(client): ClientAddr,
    Json(body): Json<RegisterRequest>,
) -> Result<StatusCode, ApiError> {
    let utility = utility(&state, &slug).await?;
    accounts::register(
        &state.pool,
        &state.hasher,
        &state.mailer,
        &utility,
        &Registration {
            email: &body.email,
            display_name: &body.display_name,
            password: &body.password,
            password_repeat: &body.password_repeat,
            accept_terms: body.accept_terms,
        },
        client,
    )
    .await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Activation {
    /// The token from the e-mailed link.
    #[schema(min_length = 1)]
    pub token: String,
    /// The password chosen at registration: the link alone does not activate.
    #[schema(min_length = 1, max_length = 128)]
    pub password: String,
}

/// Activate an account with the token from the e-mailed link and the password chosen at
/// registration. A wrong password counts as a failed login (422 at `password`; 429 when there
/// were too many); whoever does not know it sets a new one through the password reset, which
/// activates the account too.
#[utoipa::path(post, path = "/utilities/{slug}/accounts/activate", tag = "accounts",
    params(("slug" = String, Path)), request_body = Activation,
    responses((status = 204), (status = 422, body = Problem), (status = 429, body = Problem),
              (status = 503, body = Problem)))]
pub async fn activate(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ClientAddr(client): ClientAddr,
    Json(body): Json<Activation>,
) -> Result<StatusCode, ApiError> {
    let utility = utility(&state, &slug).await?;
    accounts::activate(
        &state.pool,
        &state.hasher,
        utility.id,
        &body.token,
        &body.password,
        client,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(min_length = 1, max_length = 254)]
    pub email: String,
    #[schema(min_length = 1, max_length = 128)]
    pub password: String,
    /// Shown in the resident's list of sessions, e.g. "Pixel 8, aplikacja 1.4"; what is longer
    /// than 200 characters is cut there.
    pub client: Option<String>,
}

/// Log in (the mobile app): an access token and a refresh token. Throttled per account and
/// per client address (429 with `Retry-After`).
#[utoipa::path(post, path = "/utilities/{slug}/token", tag = "accounts",
    params(("slug" = String, Path)), request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 422, body = Problem),
              (status = 409, body = Problem, description = "Account not activated"),
              (status = 429, body = Problem),
              (status = 503, body = Problem, description = "Too many logins at once; retry")))]
pub async fn token(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ClientAddr(peer): ClientAddr,
    Json(body): Json<LoginRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    let utility = utility(&state, &slug).await?;
    let who = accounts::login(
        &state.pool,
        &state.hasher,
        utility.id,
        &body.email,
        &body.password,
        peer,
        accounts::Door::Residents,
    )
    .await?;
    Ok(Json(
        app::start(
            &state.pool,
            &state.keys,
            state.app_sessions,
            &who,
            body.client.as_deref(),
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchange a refresh token for a new pair. A refresh token works once: presenting one that
/// was already exchanged revokes the whole session.
#[utoipa::path(post, path = "/token/refresh", tag = "accounts", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = Problem)))]
pub async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    match app::refresh(
        &state.pool,
        &state.keys,
        state.app_sessions,
        &body.refresh_token,
    )
    .await
    {
        Ok(pair) => Ok(Json(pair)),
        Err(RefreshError::Invalid) => Err(ApiError::Unauthorized),
        Err(RefreshError::Reused) => {
            state.revoked.catch_up(&state.pool).await?;
            Err(ApiError::Unauthorized)
        }
        Err(RefreshError::Db(e)) => Err(e.into()),
    }
}

/// Log out: the session of this refresh token ends, and its access tokens stop working.
#[utoipa::path(post, path = "/token/revoke", tag = "accounts", request_body = RefreshRequest,
    responses((status = 204)))]
pub async fn revoke(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    if app::logout(&state.pool, &body.refresh_token).await? {
        state.revoked.catch_up(&state.pool).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetRequest {
    #[schema(min_length = 1, max_length = 254)]
    pub email: String,
}

/// Ask for a password reset link. Same answer whether or not the address has an account. An
/// account still waiting for activation becomes active when the new password is set.
#[utoipa::path(post, path = "/utilities/{slug}/password-reset", tag = "accounts",
    params(("slug" = String, Path)), request_body = ResetRequest,
    responses((status = 202), (status = 422, body = Problem),
              (status = 429, body = Problem, description = "Too many from this client address"),
              (status = 503, body = Problem, description = "E-mail is not configured")))]
pub async fn request_reset(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ClientAddr(client): ClientAddr,
    Json(body): Json<ResetRequest>,
) -> Result<StatusCode, ApiError> {
    let utility = utility(&state, &slug).await?;
    accounts::request_password_reset(&state.pool, &state.mailer, &utility, &body.email, client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPassword {
    #[schema(min_length = 1)]
    pub token: String,
    /// 10 to 128 characters, as at registration.
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
    #[schema(min_length = 10, max_length = 128)]
    pub password_repeat: String,
}

/// Set a new password with the token from the reset link; all sessions end.
#[utoipa::path(post, path = "/utilities/{slug}/password-reset/confirm", tag = "accounts",
    params(("slug" = String, Path)), request_body = NewPassword,
    responses((status = 204), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn confirm_reset(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Json(body): Json<NewPassword>,
) -> Result<StatusCode, ApiError> {
    let utility = utility(&state, &slug).await?;
    accounts::reset_password(
        &state.pool,
        &state.hasher,
        utility.id,
        &body.token,
        &body.password,
        &body.password_repeat,
    )
    .await?;
    state.revoked.catch_up(&state.pool).await?;
    Ok(StatusCode::NO_CONTENT)
}
