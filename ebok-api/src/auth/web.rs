//! Sessions of the web portal: a random token in a cookie scoped to the utility's pages, the
//! session row holding the synchroniser token its forms must echo (CSRF), an absolute lifetime
//! and an idle timeout. The database keeps only the token's hash.

use axum_extra::extract::cookie::{Cookie, SameSite};
use sqlx::PgPool;

use crate::accounts::LoggedIn;
use crate::secret;

pub const COOKIE: &str = "ebok_session";
/// A web session ends this long after login whatever happens (seconds)…
pub const ABSOLUTE_SECS: i64 = 8 * 3600;
/// …or after this long without a request (seconds).
pub const IDLE_SECS: i64 = 3600;

/// A logged-in resident of the portal.
#[derive(Debug, Clone)]
pub struct PortalSession {
    pub session_id: i64,
    pub account_id: i64,
    pub utility_id: i64,
    pub display_name: String,
    pub email: String,
    /// The synchroniser token every form of this session carries as `csrf`.
    pub csrf: String,
}

impl PortalSession {
    pub fn viewer(&self) -> ebok_readings::access::Viewer {
        ebok_readings::access::Viewer {
            utility_id: self.utility_id,
            account_id: self.account_id,
        }
    }

    /// Whether a submitted form's `csrf` field is this session's token (constant time).
    pub fn csrf_matches(&self, submitted: &str) -> bool {
        let (a, b) = (self.csrf.as_bytes(), submitted.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// Starts a web session ending at the latest `absolute_secs` from now (residents':
/// [`ABSOLUTE_SECS`]); returns the cookie value.
pub async fn start(
    pool: &PgPool,
    who: &LoggedIn,
    client: Option<&str>,
    absolute_secs: i64,
) -> sqlx::Result<String> {
    let token = secret::new_token();
    let client = client.map(|c| c.chars().take(200).collect::<String>());
    sqlx::query!(
        r#"INSERT INTO sessions (utility_id, account_id, kind, token_hash, csrf_token, client,
                                 expires_at)
           VALUES ($1, $2, 'web', $3, $4, $5, now() + make_interval(secs => $6))"#,
        who.utility_id,
        who.account_id,
        secret::digest(&token),
        secret::new_token(),
        client,
        absolute_secs as f64,
    )
    .execute(pool)
    .await?;
    Ok(token)
}

/// The live session of `utility_id` behind a cookie value, touching its idle clock.
pub async fn resolve(
    pool: &PgPool,
    utility_id: i64,
    token: &str,
) -> sqlx::Result<Option<PortalSession>> {
    sqlx::query_as!(
        PortalSession,
        r#"UPDATE sessions s SET last_used_at = now()
           FROM user_accounts a
           WHERE s.token_hash = $1 AND s.utility_id = $2 AND s.kind = 'web'
             AND s.revoked_at IS NULL AND s.expires_at > now()
             AND s.last_used_at > now() - make_interval(secs => $3)
             AND a.id = s.account_id AND a.status = 'active' AND a.role = 'resident'
           RETURNING s.id AS session_id, s.account_id, s.utility_id, a.display_name, a.email,
                     s.csrf_token AS "csrf!""#,
        secret::digest(token),
        utility_id,
        IDLE_SECS as f64,
    )
    .fetch_optional(pool)
    .await
}

/// Ends the session behind a cookie value (logout).
pub async fn end(pool: &PgPool, token: &str) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE sessions SET revoked_at = now(), revoked_reason = 'logout'
           WHERE token_hash = $1 AND kind = 'web' AND revoked_at IS NULL"#,
        secret::digest(token),
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The session cookie for the utility's pages.
pub fn cookie(value: String, slug: &str, secure: bool) -> Cookie<'static> {
    Cookie::build((COOKIE, value))
        .path(format!("/u/{slug}/"))
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .build()
}

/// A cookie that deletes the session cookie.
pub fn removal(slug: &str) -> Cookie<'static> {
    let mut c = Cookie::build((COOKIE, ""))
        .path(format!("/u/{slug}/"))
        .build();
    c.make_removal();
    c
}
