//! Outbox events become inbox notifications and deliveries. Each step takes a few due events
//! (`FOR UPDATE SKIP LOCKED`, so several workers share the outbox), renders each event's notice
//! once, resolves the next slice of its recipients, and writes for every recipient one
//! notification and one delivery per target the recipient's preferences allow — all in the
//! transaction that advances the event's cursor, so a crash repeats a slice, never loses or
//! doubles one (both inserts are idempotent on their unique keys).

use serde_json::{Value, json};
use sqlx::{Acquire, PgConnection, PgPool};

use crate::content::{self, ContentError, StoredEvent};
use crate::notice::Category;
use crate::recipients::{self, Addressee, RecipientError};

use super::deliver::Claim;
use super::{Dispatcher, StepReport, backoff};

/// Events taken per step.
const EVENTS_PER_STEP: i64 = 16;

/// Expands due events one slice further; returns the deliveries created, leased to the caller.
pub(super) async fn step(
    d: &Dispatcher,
    pool: &PgPool,
    report: &mut StepReport,
) -> anyhow::Result<Vec<Claim>> {
    let mut created = Vec::new();
    let mut tx = pool.begin().await?;
    let events = sqlx::query!(
        r#"SELECT o.id, o.utility_id, o.kind, o.payload, o.recipient_account_id,
                  o.recipient_customer_id, o.audience, o.attempts, o.expanded_through_account,
                  u.slug
           FROM outbox o JOIN utilities u ON u.id = o.utility_id
           WHERE o.status = 'pending' AND o.next_attempt_at <= now()
           ORDER BY o.next_attempt_at, o.id
           LIMIT $1
           FOR UPDATE OF o SKIP LOCKED"#,
        EVENTS_PER_STEP,
    )
    .fetch_all(&mut *tx)
    .await?;
    for row in events {
        let to = match (
            row.recipient_account_id,
            row.recipient_customer_id,
            row.audience,
        ) {
            (Some(id), _, _) => Addressee::Account(id),
            (_, Some(id), _) => Addressee::Customer(id),
            (_, _, Some(spec)) => Addressee::Audience(spec),
            _ => unreachable!("the one_addressee constraint"),
        };
        let event = StoredEvent {
            id: row.id,
            utility_id: row.utility_id,
            kind: row.kind,
            payload: row.payload,
        };
        let portal = format!("{}/u/{}", d.portal_base, row.slug);
        let cursor = row.expanded_through_account.unwrap_or(0);
        let mut savepoint = tx.begin().await?;
        match expand_event(d, &mut savepoint, &event, &to, &portal, cursor).await {
            Ok(done) => {
                savepoint.commit().await?;
                report.events += 1;
                report.notifications += done.notifications;
                report.deliveries_created += done.deliveries.len();
                created.extend(done.deliveries);
            }
            Err(error) => {
                savepoint.rollback().await?;
                let permanent = match &error {
                    ExpandError::Content(e) => e.is_permanent(),
                    ExpandError::Recipients(RecipientError::BadAudience(_)) => true,
                    _ => false,
                };
                let attempts = row.attempts + 1;
                let dead = permanent || attempts as u32 >= d.config.max_attempts;
                tracing::warn!(outbox_id = event.id, kind = %event.kind, %error, dead,
                               "outbox event not expanded");
                let wait = backoff::delay(attempts as u32, d.backoff_base(), d.backoff_max(), None);
                sqlx::query!(
                    r#"UPDATE outbox SET attempts = $2, last_error = $3,
                              status = CASE WHEN $4 THEN 'dead'::outbox_status ELSE status END,
                              processed_at = CASE WHEN $4 THEN now() END,
                              next_attempt_at = now() + make_interval(secs => $5)
                       WHERE id = $1"#,
                    event.id,
                    attempts,
                    error.to_string(),
                    dead,
                    wait.as_secs_f64(),
                )
                .execute(&mut *tx)
                .await?;
                if dead {
                    report.dead += 1;
                    metrics::counter!("push_outbox_dead_total").increment(1);
                }
            }
        }
    }
    tx.commit().await?;
    Ok(created)
}

#[derive(Debug, thiserror::Error)]
enum ExpandError {
    #[error(transparent)]
    Content(#[from] ContentError),
    #[error(transparent)]
    Recipients(#[from] RecipientError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

struct Expanded {
    notifications: usize,
    deliveries: Vec<Claim>,
}

async fn expand_event(
    d: &Dispatcher,
    conn: &mut PgConnection,
    event: &StoredEvent,
    to: &Addressee,
    portal: &str,
    cursor: i64,
) -> Result<Expanded, ExpandError> {
    let notice = content::notice_for(conn, event, portal).await?;
    let limit = d.config.expand_batch.max(1) as i64;
    let require_consent = notice.category == Category::Outages;
    let accounts =
        recipients::next_batch(conn, event.utility_id, to, require_consent, cursor, limit).await?;
    // Addressees without an account (by e-mail only) are written with the first slice.
    let addresses = if cursor == 0 {
        recipients::addresses(conn, event.utility_id, to).await?
    } else {
        Vec::new()
    };
    let details: Value = notice.details.iter().map(|(k, v)| json!([k, v])).collect();
    let data = serde_json::to_value(&notice.data).expect("string map");
    let mut notifications = sqlx::query_scalar!(
        r#"INSERT INTO notifications (utility_id, account_id, outbox_id, category, kind, title, body,
                                      link, details, data, urgent, document_waiting)
           SELECT $1, a, $2, $3::text::notification_category, $4, $5, $6, $7, $8, $9, $10, $11
           FROM unnest($12::bigint[]) AS a
           ON CONFLICT (outbox_id, account_id) DO NOTHING
           RETURNING id"#,
        event.utility_id,
        event.id,
        notice.category.as_str(),
        event.kind,
        notice.title,
        notice.body,
        notice.link,
        details,
        data,
        notice.urgent,
        notice.document_waiting,
        &accounts,
    )
    .fetch_all(&mut *conn)
    .await?;
    if !addresses.is_empty() {
        // No link: the portal's page of the matter needs an account they do not have.
        notifications.extend(
            sqlx::query_scalar!(
                r#"INSERT INTO notifications (utility_id, email, outbox_id, category, kind, title,
                                              body, details, data, urgent, document_waiting)
                   SELECT $1, a, $2, $3::text::notification_category, $4, $5, $6, $7, $8, $9,
                          $10
                   FROM unnest($11::text[]) AS a
                   ON CONFLICT (outbox_id, lower(email)) WHERE email IS NOT NULL DO NOTHING
                   RETURNING id"#,
                event.utility_id,
                event.id,
                notice.category.as_str(),
                event.kind,
                notice.title,
                notice.body,
                details,
                data,
                notice.urgent,
                notice.document_waiting,
                &addresses,
            )
            .fetch_all(&mut *conn)
            .await?,
        );
    }
    // New deliveries are created leased to this worker ('sending', first attempt), which sends
    // them in this step: no second write to claim them. Should it die, the lease lapses and
    // another worker takes them.
    let lease = d.config.lease_secs as f64;
    let mut deliveries = Vec::new();
    if d.push.is_some() {
        deliveries.extend(sqlx::query_as!(
            Claim,
            r#"INSERT INTO notification_deliveries (utility_id, notification_id, channel, device_id,
                                                    idempotency_key, status, attempts, next_attempt_at)
               SELECT n.utility_id, n.id, 'push', pd.id, n.id || ':push:' || pd.id,
                      'sending', 1, now() + make_interval(secs => $2)
               FROM notifications n
               JOIN push_devices pd ON pd.account_id = n.account_id AND pd.removed_at IS NULL
               LEFT JOIN notification_preferences p ON p.account_id = n.account_id
                                                   AND p.category = n.category
               WHERE n.id = ANY($1) AND coalesce(p.push, true)
               ON CONFLICT (idempotency_key) DO NOTHING
               RETURNING id, notification_id, channel::text AS "channel!", device_id, email,
                         attempts, idempotency_key"#,
            &notifications,
            lease,
        )
        .fetch_all(&mut *conn)
        .await?);
    }
    if d.mail.is_some() {
        deliveries.extend(sqlx::query_as!(
            Claim,
            r#"INSERT INTO notification_deliveries (utility_id, notification_id, channel, email,
                                                    idempotency_key, status, attempts, next_attempt_at)
               SELECT n.utility_id, n.id, 'email', coalesce(ua.email, n.email),
                      n.id || ':email:' || lower(coalesce(ua.email, n.email)),
                      'sending', 1, now() + make_interval(secs => $2)
               FROM notifications n
               LEFT JOIN user_accounts ua ON ua.id = n.account_id
               LEFT JOIN notification_preferences p ON p.account_id = n.account_id
                                                   AND p.category = n.category
               WHERE n.id = ANY($1) AND coalesce(p.email, n.category <> 'outages')
               ON CONFLICT (idempotency_key) DO NOTHING
               RETURNING id, notification_id, channel::text AS "channel!", device_id, email,
                         attempts, idempotency_key"#,
            &notifications,
            lease,
        )
        .fetch_all(&mut *conn)
        .await?);
    }
    if (accounts.len() as i64) < limit {
        sqlx::query!(
            r#"UPDATE outbox SET status = 'done', processed_at = now(),
                      expanded_through_account = coalesce($2, expanded_through_account)
               WHERE id = $1"#,
            event.id,
            accounts.last().copied(),
        )
        .execute(&mut *conn)
        .await?;
    } else {
        sqlx::query!(
            "UPDATE outbox SET expanded_through_account = $2 WHERE id = $1",
            event.id,
            accounts.last().copied(),
        )
        .execute(&mut *conn)
        .await?;
    }
    metrics::counter!("push_notifications_total").increment(notifications.len() as u64);
    Ok(Expanded {
        notifications: notifications.len(),
        deliveries,
    })
}
