//! Staff sessions of the back office: the same `sessions` rows as residents' web sessions
//! (token hashed, CSRF synchroniser token), shorter — four hours at most, twenty minutes idle —
//! in their own cookie scoped to the utility's back office (`/panel/<slug>/`), so a resident's
//! cookie never reaches it and a staff cookie never reaches the resident pages. A session
//! resolves only for a staff account of the utility of the path that is still active.

use axum_extra::extract::cookie::{Cookie, SameSite};
use sqlx::PgPool;

use super::roles::{Permission, StaffRole};
use crate::secret;

pub const COOKIE: &str = "ebok_panel";
/// The cookie of a half-done sign-in (password checked, second factor awaited).
pub const SIGN_IN_COOKIE: &str = "ebok_panel_login";
/// A staff web session ends this long after sign-in whatever happens (seconds)…
pub const ABSOLUTE_SECS: i64 = 4 * 3600;
/// …or after this long without a request (seconds).
pub const IDLE_SECS: i64 = 20 * 60;

/// A signed-in staff member of the back office.
#[derive(Debug, Clone)]
pub struct StaffSession {
    pub session_id: i64,
    pub account_id: i64,
    pub utility_id: i64,
    pub role: StaffRole,
    pub display_name: String,
    pub email: String,
    /// The synchroniser token every form of this session carries as `csrf`.
    pub csrf: String,
}

impl StaffSession {
    pub fn may(&self, what: Permission) -> bool {
        self.role.may(what)
    }

    /// Who the audit log names for this staff member's changes.
    pub fn by(&self) -> super::ByStaff {
        super::ByStaff {
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

/// The live staff session of `utility_id` behind a cookie value, touching its idle clock.
pub async fn resolve(
    pool: &PgPool,
    utility_id: i64,
    token: &str,
) -> sqlx::Result<Option<StaffSession>> {
    let row = sqlx::query!(
        r#"UPDATE sessions s SET last_used_at = now()
           FROM user_accounts a
           WHERE s.token_hash = $1 AND s.utility_id = $2 AND s.kind = 'web'
             AND s.revoked_at IS NULL AND s.expires_at > now()
             AND s.last_used_at > now() - make_interval(secs => $3)
             AND a.id = s.account_id AND a.status = 'active' AND a.role <> 'resident'
           RETURNING s.id AS session_id, s.account_id, s.utility_id, a.display_name, a.email,
                     a.role::text AS "role!", s.csrf_token AS "csrf!""#,
        secret::digest(token),
        utility_id,
        IDLE_SECS as f64,
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|r| {
        Some(StaffSession {
            session_id: r.session_id,
            account_id: r.account_id,
            utility_id: r.utility_id,
            role: StaffRole::parse(&r.role)?,
            display_name: r.display_name,
            email: r.email,
            csrf: r.csrf,
        })
    }))
}

/// A cookie of the utility's back office.
pub fn cookie(name: &'static str, value: String, slug: &str, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .path(format!("/panel/{slug}/"))
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .build()
}

/// A cookie that deletes the back office's cookie `name`.
pub fn removal(name: &'static str, slug: &str) -> Cookie<'static> {
    let mut c = Cookie::build((name, ""))
        .path(format!("/panel/{slug}/"))
        .build();
    c.make_removal();
    c
}
