//! The resident's inbox: the notifications the dispatcher wrote (one per event and account),
//! newest first, read and unread. Every query is scoped by utility and account, so nobody reads
//! another's notices.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgExecutor;

/// One notice in the inbox.
#[derive(Debug, Clone, Serialize)]
pub struct InboxItem {
    pub id: i64,
    /// `meter_alarms`, `invoices_payments`, `case_stages`, `outages`, `bookings`.
    pub category: String,
    /// The event, e.g. `meter_alarm.raised`.
    pub kind: String,
    pub title: String,
    pub body: String,
    /// Where the notice leads in the portal.
    pub link: Option<String>,
    /// Label and value pairs shown under the body.
    pub details: serde_json::Value,
    pub urgent: bool,
    /// A document (invoice, decision) waits in the eBOK.
    pub document_waiting: bool,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// The newest `limit` notices, older than `before` (an id) when paging.
pub async fn list(
    db: impl PgExecutor<'_>,
    utility_id: i64,
    account_id: i64,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<InboxItem>> {
    sqlx::query_as!(
        InboxItem,
        r#"SELECT id, category::text AS "category!", kind, title, body, link, details, urgent,
                  document_waiting, created_at, read_at
           FROM notifications
           WHERE utility_id = $1 AND account_id = $2 AND ($3::bigint IS NULL OR id < $3)
           ORDER BY id DESC
           LIMIT $4"#,
        utility_id,
        account_id,
        before,
        limit.clamp(1, 200),
    )
    .fetch_all(db)
    .await
}

/// One notice of the account, `None` when it has no such notice.
pub async fn get(
    db: impl PgExecutor<'_>,
    utility_id: i64,
    account_id: i64,
    id: i64,
) -> sqlx::Result<Option<InboxItem>> {
    sqlx::query_as!(
        InboxItem,
        r#"SELECT id, category::text AS "category!", kind, title, body, link, details, urgent,
                  document_waiting, created_at, read_at
           FROM notifications
           WHERE id = $1 AND utility_id = $2 AND account_id = $3"#,
        id,
        utility_id,
        account_id,
    )
    .fetch_optional(db)
    .await
}

impl InboxItem {
    /// The notice's label and value pairs ("Wodomierz", "…"), in order.
    pub fn detail_pairs(&self) -> Vec<(String, String)> {
        detail_pairs(&self.details)
    }
}

/// Label and value pairs as stored (`[["Wodomierz", "…"], …]`); anything else is skipped.
pub fn detail_pairs(value: &serde_json::Value) -> Vec<(String, String)> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|pair| {
            Some((
                pair.get(0)?.as_str()?.to_string(),
                pair.get(1)?.as_str()?.to_string(),
            ))
        })
        .collect()
}

/// How many notices are unread.
pub async fn unread(
    db: impl PgExecutor<'_>,
    utility_id: i64,
    account_id: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM notifications
           WHERE utility_id = $1 AND account_id = $2 AND read_at IS NULL"#,
        utility_id,
        account_id,
    )
    .fetch_one(db)
    .await
}

/// Marks one notice read; `false` when the account has no such notice.
pub async fn mark_read(
    db: impl PgExecutor<'_>,
    utility_id: i64,
    account_id: i64,
    id: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        r#"UPDATE notifications SET read_at = coalesce(read_at, now())
           WHERE id = $1 AND utility_id = $2 AND account_id = $3"#,
        id,
        utility_id,
        account_id,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks every notice of the account read; returns how many changed.
pub async fn mark_all_read(
    db: impl PgExecutor<'_>,
    utility_id: i64,
    account_id: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        r#"UPDATE notifications SET read_at = now()
           WHERE utility_id = $1 AND account_id = $2 AND read_at IS NULL"#,
        utility_id,
        account_id,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Erases what was addressed to an account, when it is closed (GDPR art. 17): the events
/// addressed to it (locked first, so that no dispatcher turns one into a notice meanwhile), its
/// notices with their deliveries, then the events.
pub async fn erase_account(
    conn: &mut sqlx::PgConnection,
    utility_id: i64,
    account_id: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT id FROM outbox WHERE utility_id = $1 AND recipient_account_id = $2 FOR UPDATE",
        utility_id,
        account_id
    )
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query!(
        "DELETE FROM notification_deliveries WHERE notification_id IN
             (SELECT id FROM notifications WHERE utility_id = $1 AND account_id = $2)",
        utility_id,
        account_id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "DELETE FROM notifications WHERE utility_id = $1 AND account_id = $2",
        utility_id,
        account_id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "DELETE FROM outbox WHERE utility_id = $1 AND recipient_account_id = $2",
        utility_id,
        account_id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
