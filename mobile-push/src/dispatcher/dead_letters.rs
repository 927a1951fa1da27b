//! What could not be delivered, for staff: dead deliveries (retries exhausted) and dead outbox
//! events (a payload nobody can read), newest first, and putting a dead delivery or event back
//! in line once the cause is fixed (a mail server back up, a new release that reads the event).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    /// `delivery` or `event`.
    pub what: String,
    pub id: i64,
    pub kind: String,
    /// `push` / `email` for deliveries.
    pub channel: Option<String>,
    pub account_id: Option<i64>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub at: DateTime<Utc>,
}

/// The utility's dead letters, newest first.
pub async fn dead_letters(
    conn: &mut PgConnection,
    utility_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<DeadLetter>> {
    sqlx::query_as!(
        DeadLetter,
        r#"SELECT what AS "what!", id AS "id!", kind AS "kind!", channel, account_id,
                  attempts AS "attempts!", last_error, at AS "at!"
           FROM (
               SELECT 'delivery' AS what, nd.id, n.kind, nd.channel::text AS channel,
                      n.account_id, nd.attempts, nd.last_error, nd.settled_at AS at
               FROM notification_deliveries nd JOIN notifications n ON n.id = nd.notification_id
               WHERE nd.utility_id = $1 AND nd.status = 'dead'
               UNION ALL
               SELECT 'event', o.id, o.kind, NULL, o.recipient_account_id, o.attempts,
                      o.last_error, o.processed_at
               FROM outbox o WHERE o.utility_id = $1 AND o.status = 'dead'
           ) d
           ORDER BY at DESC LIMIT $2"#,
        utility_id,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Puts a dead delivery of the utility back in line with fresh attempts; returns whether it was
/// dead.
pub async fn requeue_dead(
    conn: &mut PgConnection,
    utility_id: i64,
    delivery_id: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        r#"UPDATE notification_deliveries
           SET status = 'pending', attempts = 0, next_attempt_at = now(), settled_at = NULL
           WHERE utility_id = $1 AND id = $2 AND status = 'dead'"#,
        utility_id,
        delivery_id,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Puts a dead outbox event of the utility back in line with fresh attempts (after a release
/// that reads it); returns whether it was dead.
pub async fn requeue_dead_event(
    conn: &mut PgConnection,
    utility_id: i64,
    outbox_id: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        r#"UPDATE outbox
           SET status = 'pending', attempts = 0, next_attempt_at = now(), processed_at = NULL
           WHERE utility_id = $1 AND id = $2 AND status = 'dead'"#,
        utility_id,
        outbox_id,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
