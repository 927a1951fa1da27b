//! Overdue alerts: a case the utility has not decided by its deadline is announced once to the
//! clerk handling it and to the utility's managers (outbox `case.overdue`), and again if an
//! extended deadline passes too. The queue marks such cases *po terminie* all along; the alert
//! is what makes somebody look. An appeal's own time is not tracked yet, so appealed cases are
//! not alerted (the first instance's deadline says nothing about them).

use chrono::{NaiveDate, Utc};
use ebok_common::domain::time::local_day;
use ebok_common::outbox::{self, Addressee, CaseOverdue, Event, OutboxEvent};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::store;

/// Announces every case that is overdue on `today` (a Warsaw day) and was not announced since
/// its current deadline passed; how many cases were announced.
pub async fn alert(conn: &mut PgConnection, today: NaiveDate) -> sqlx::Result<u64> {
    // Thirty days at least pass before any deadline: older cases only are candidates.
    let candidates = sqlx::query!(
        r#"SELECT c.id, c.utility_id, c.number AS "number!", c.complete_on AS "complete_on!",
                  c.paused_days, c.extended, c.assigned_to, c.overdue_alerted_on
           FROM cases c
           WHERE c.state IN ('registered', 'assigned')
             AND c.complete_on <= $1::date - 30
           ORDER BY c.id
           FOR UPDATE OF c SKIP LOCKED"#,
        today
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut announced = 0;
    for c in candidates {
        let due = store::clock(c.complete_on, c.paused_days, c.extended).due();
        if today <= due || c.overdue_alerted_on.is_some_and(|on| on > due) {
            continue;
        }
        let managers = sqlx::query_scalar!(
            r#"SELECT id FROM user_accounts
               WHERE utility_id = $1 AND role = 'admin' AND status = 'active'"#,
            c.utility_id
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut to: Vec<i64> = c.assigned_to.into_iter().chain(managers).collect();
        to.sort_unstable();
        to.dedup();
        for account in to {
            outbox::enqueue(
                conn,
                &OutboxEvent {
                    utility_id: c.utility_id,
                    event: Event::CaseOverdue(CaseOverdue {
                        case_id: c.id,
                        number: c.number.clone(),
                        due,
                    }),
                    to: Addressee::Account(account),
                    dedup_key: Some(format!("case_overdue:{}:{due}:{account}", c.id)),
                },
            )
            .await?;
        }
        sqlx::query!(
            "UPDATE cases SET overdue_alerted_on = $2 WHERE id = $1",
            c.id,
            today
        )
        .execute(&mut *conn)
        .await?;
        announced += 1;
    }
    Ok(announced)
}

async fn alert_in_transaction(pool: &PgPool, today: NaiveDate) -> sqlx::Result<u64> {
    let mut tx = pool.begin().await?;
    let n = alert(&mut tx, today).await?;
    tx.commit().await?;
    Ok(n)
}

/// Looks for overdue cases every `every` until `shutdown`.
pub async fn run(pool: PgPool, every: std::time::Duration, shutdown: CancellationToken) {
    loop {
        let today = local_day(Utc::now());
        match alert_in_transaction(&pool, today).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(cases = n, %today, "overdue cases announced"),
            Err(error) => tracing::warn!(%error, "overdue cases not announced; trying again later"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
