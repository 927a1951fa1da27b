//! "Where am I logged in": an account's live sessions (web and app) and ending one of them, e.g.
//! the phone that was lost. Ending an app session stops its refresh token at once; an access
//! token it already holds lives out its 10 minutes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

/// A live session as its owner sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionSummary {
    pub id: i64,
    /// `web` (the portal) or `app` (the mobile app).
    #[schema(value_type = crate::api::names::SessionKind)]
    pub kind: String,
    /// The browser or the app's own description, as it introduced itself.
    pub client: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
}

/// The account's live sessions, most recently used first.
pub async fn list(
    pool: &PgPool,
    utility_id: i64,
    account_id: i64,
) -> sqlx::Result<Vec<SessionSummary>> {
    sqlx::query_as!(
        SessionSummary,
        r#"SELECT id, kind::text AS "kind!", client, created_at, last_used_at
           FROM sessions
           WHERE utility_id = $1 AND account_id = $2 AND revoked_at IS NULL
             AND expires_at > now()
           ORDER BY last_used_at DESC"#,
        utility_id,
        account_id,
    )
    .fetch_all(pool)
    .await
}

/// Ends one of the account's sessions; `false` when the account has no such live session.
pub async fn end(
    pool: &PgPool,
    utility_id: i64,
    account_id: i64,
    session_id: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        r#"UPDATE sessions SET revoked_at = now(), revoked_reason = 'ended by the account holder'
           WHERE id = $1 AND utility_id = $2 AND account_id = $3 AND revoked_at IS NULL"#,
        session_id,
        utility_id,
        account_id,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
