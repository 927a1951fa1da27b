//! Sessions of the mobile app: a short JWT access token and a rotating refresh token.
//!
//! The access token (HS256, 10 minutes) lets the API answer without a database lookup, which
//! keeps the hot reads cheap; the signing key is an installation secret in the database, so every
//! process of the installation shares it without configuration. The refresh token is random and
//! stored hashed; each use replaces it, and the replaced one is remembered: presenting it again
//! means two parties hold the token, so the session is revoked for both.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::accounts::LoggedIn;
use crate::secret;

/// Access tokens live this long (seconds).
pub const ACCESS_TTL_SECS: i64 = 600;
/// Refresh tokens (and so app sessions without use) live this long (seconds).
pub const REFRESH_TTL_SECS: i64 = 60 * 24 * 3600;

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

/// The key that signs and checks access tokens.
#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(redacted)")
    }
}

impl Keys {
    /// The installation's key, created by the first process that asks.
    pub async fn load(pool: &PgPool) -> sqlx::Result<Keys> {
        sqlx::query!(
            r#"INSERT INTO installation_secrets (name, secret) VALUES ('access_token_key', $1)
               ON CONFLICT (name) DO NOTHING"#,
            &secret::random_bytes::<64>()[..],
        )
        .execute(pool)
        .await?;
        let secret = sqlx::query_scalar!(
            "SELECT secret FROM installation_secrets WHERE name = 'access_token_key'"
        )
        .fetch_one(pool)
        .await?;
        Ok(Keys::from_secret(&secret))
    }

    pub fn from_secret(secret: &[u8]) -> Keys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn sign(&self, account_id: i64, utility_id: i64, session_id: i64, role: &str) -> String {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: account_id.to_string(),
            uid: utility_id,
            sid: session_id,
            role: role.to_string(),
            iat: now,
            exp: now + ACCESS_TTL_SECS,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    pub fn verify(&self, token: &str) -> Result<Verified, jsonwebtoken::errors::Error> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)?;
        let sub = data
            .claims
            .sub
            .parse()
            .map_err(|_| jsonwebtoken::errors::ErrorKind::InvalidSubject)?;
        Ok(Verified {
            sub,
            uid: data.claims.uid,
            sid: data.claims.sid,
            role: data.claims.role,
        })
    }
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

/// Starts an app session for a checked login.
pub async fn start(
    pool: &PgPool,
    keys: &Keys,
    who: &LoggedIn,
    client: Option<&str>,
) -> sqlx::Result<TokenPair> {
    let refresh = secret::new_token();
    let client = client.map(|c| c.chars().take(200).collect::<String>());
    let session_id = sqlx::query_scalar!(
        r#"INSERT INTO sessions (utility_id, account_id, kind, token_hash, client, expires_at)
           VALUES ($1, $2, 'app', $3, $4, now() + make_interval(secs => $5))
           RETURNING id"#,
        who.utility_id,
        who.account_id,
        secret::digest(&refresh),
        client,
        REFRESH_TTL_SECS as f64,
    )
    .fetch_one(pool)
    .await?;
    Ok(pair(
        keys,
        who.account_id,
        who.utility_id,
        session_id,
        &who.role,
        refresh,
    ))
}

/// Exchanges a refresh token for a new pair; the old refresh token stops working.
pub async fn refresh(pool: &PgPool, keys: &Keys, token: &str) -> Result<TokenPair, RefreshError> {
    let hash = secret::digest(token.trim());
    let next = secret::new_token();
    let mut tx = pool.begin().await?;
    let rotated = sqlx::query!(
        r#"UPDATE sessions s SET previous_token_hash = s.token_hash, token_hash = $2,
                  last_used_at = now(), expires_at = now() + make_interval(secs => $3)
           FROM user_accounts a
           WHERE s.token_hash = $1 AND s.kind = 'app' AND s.revoked_at IS NULL
             AND s.expires_at > now() AND a.id = s.account_id AND a.status = 'active'
           RETURNING s.id, s.account_id, s.utility_id, a.role::text AS "role!""#,
        hash,
        secret::digest(&next),
        REFRESH_TTL_SECS as f64,
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
) -> TokenPair {
    TokenPair {
        access_token: keys.sign(account_id, utility_id, session_id, role),
        token_type: "Bearer".into(),
        expires_in: ACCESS_TTL_SECS,
        refresh_token: refresh,
        refresh_expires_in: REFRESH_TTL_SECS,
    }
}
