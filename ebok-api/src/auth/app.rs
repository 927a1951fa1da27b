//! Sessions of the mobile app: a short JWT access token and a rotating refresh token.
//!
//! The access token (HS256, 10 minutes) lets the API answer without a database lookup, which
//! keeps the hot reads cheap; its keys live in a key file, not in the database ([`super::keys`]),
//! and a session that ends stops its access tokens at once ([`super::revoked`]). The refresh
//! token is random and stored hashed; each use replaces it, and the replaced one is remembered:
//! presenting it again means two parties hold the token, so the session is revoked for both. A
//! refresh extends the session by [`REFRESH_TTL_SECS`], but never past its absolute lifetime
//! (`api.app_session_max_days` after the login).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::keys::Keys;
use crate::accounts::LoggedIn;
use crate::secret;

/// Access tokens live this long (seconds).
pub const ACCESS_TTL_SECS: i64 = 600;
/// Refresh tokens (and so app sessions without use) live this long (seconds).
pub const REFRESH_TTL_SECS: i64 = 60 * 24 * 3600;
/// A staff member's app session (a technician's shift) ends this long after sign-in, however
/// often it is refreshed (seconds).
pub const STAFF_MAX_SECS: i64 = 12 * 3600;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The account id.
    pub sub: String,
    /// The utility id.
    pub uid: i64,
    /// The session id.
    pub sid: i64,
    pub role: String,
    pub iat: i64,
    pub exp: i64,
}

/// Verified claims, with the account id parsed.
#[derive(Debug, Clone)]
pub struct Verified {
    pub sub: i64,
    pub uid: i64,
    pub sid: i64,
    pub role: String,
}

/// What the app gets at login and at every refresh (OAuth 2.0 token response shape).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token is valid.
    pub expires_in: i64,
    pub refresh_token: String,
    /// Seconds the refresh token is valid if not used.
    pub refresh_expires_in: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("refresh token unknown, expired or revoked")]
    Invalid,
    #[error("refresh token used twice: session revoked")]
    Reused,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// How long app sessions live.
#[derive(Debug, Clone, Copy)]
pub struct Lifetime {
    /// From the login, however often the session is refreshed.
    pub max_age: Duration,
}

impl Default for Lifetime {
    fn default() -> Self {
        Lifetime {
            max_age: Duration::from_secs(180 * 24 * 3600),
        }
    }
}

/// Starts an app session for a checked login.
pub async fn start(
    pool: &PgPool,
    keys: &Keys,
    lifetime: Lifetime,
    who: &LoggedIn,
    client: Option<&str>,
) -> sqlx::Result<TokenPair> {
    let refresh = secret::new_token();
    let client = client.map(|c| c.chars().take(200).collect::<String>());
    let session = sqlx::query!(
        r#"INSERT INTO sessions (utility_id, account_id, kind, token_hash, client, expires_at)
           VALUES ($1, $2, 'app', $3, $4,
                   now() + make_interval(secs => least($5::float8, $6::float8)))
           RETURNING id, extract(epoch FROM expires_at - now())::bigint AS "expires_in!""#,
        who.utility_id,
        who.account_id,
        secret::digest(&refresh),
        client,
        REFRESH_TTL_SECS as f64,
        lifetime.max_age.as_secs_f64(),
    )
    .fetch_one(pool)
    .await?;
    Ok(pair(
        keys,
        who.account_id,
        who.utility_id,
        session.id,
        &who.role,
        refresh,
        session.expires_in,
    ))
}

/// Exchanges a refresh token for a new pair; the old refresh token stops working. The session
/// is extended, but not past its absolute lifetime; once there, the refresh token is refused and
/// the app logs in again.
pub async fn refresh(
    pool: &PgPool,
    keys: &Keys,
    lifetime: Lifetime,
    token: &str,
) -> Result<TokenPair, RefreshError> {
    let hash = secret::digest(token.trim());
    let next = secret::new_token();
    let mut tx = pool.begin().await?;
    let rotated = sqlx::query!(
        r#"UPDATE sessions s SET previous_token_hash = s.token_hash, token_hash = $2,
                  last_used_at = now(),
                  expires_at = least(now() + make_interval(secs => $3),
                                     s.created_at + make_interval(secs =>
                                         CASE WHEN a.role = 'resident' THEN $4::float8 ELSE $5::float8 END))
           FROM user_accounts a
           WHERE s.token_hash = $1 AND s.kind = 'app' AND s.revoked_at IS NULL
             AND s.expires_at > now()
             AND s.created_at + make_interval(secs =>
                     CASE WHEN a.role = 'resident' THEN $4::float8 ELSE $5::float8 END) > now()
             AND a.id = s.account_id AND a.status = 'active'
           RETURNING s.id, s.account_id, s.utility_id, a.role::text AS "role!",
                     extract(epoch FROM s.expires_at - now())::bigint AS "expires_in!""#,
        hash,
        secret::digest(&next),
        REFRESH_TTL_SECS as f64,
        lifetime.max_age.as_secs_f64(),
        STAFF_MAX_SECS as f64,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = rotated {
        tx.commit().await?;
        return Ok(pair(
            keys,
            row.account_id,
            row.utility_id,
            row.id,
            &row.role,
            next,
            row.expires_in,
        ));
    }
    let replayed = sqlx::query_scalar!(
        r#"UPDATE sessions SET revoked_at = now(), revoked_reason = 'refresh token reused'
           WHERE previous_token_hash = $1 AND revoked_at IS NULL
           RETURNING id"#,
        hash,
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    match replayed {
        Some(session) => {
            tracing::warn!(session, "refresh token reused: session revoked");
            Err(RefreshError::Reused)
        }
        None => Err(RefreshError::Invalid),
    }
}

/// Ends the app session that holds `refresh_token` (logout on the phone).
pub async fn logout(pool: &PgPool, refresh_token: &str) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        r#"UPDATE sessions SET revoked_at = now(), revoked_reason = 'logout'
           WHERE token_hash = $1 AND kind = 'app' AND revoked_at IS NULL"#,
        secret::digest(refresh_token.trim()),
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

fn pair(
    keys: &Keys,
    account_id: i64,
    utility_id: i64,
    session_id: i64,
    role: &str,
    refresh: String,
    refresh_expires_in: i64,
) -> TokenPair {
    TokenPair {
        access_token: keys.sign(account_id, utility_id, session_id, role),
        token_type: "Bearer".into(),
        expires_in: ACCESS_TTL_SECS,
        refresh_token: refresh,
        refresh_expires_in,
    }
}
