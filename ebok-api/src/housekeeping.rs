//! What the account side keeps only for a while, deleted on a schedule: login and link-code
//! attempts (the throttling windows are an hour at most; a week is kept for looking into an
//! attack), sessions that ended a month ago (nobody is shown them; the audit log keeps what
//! happened to the account), and e-mailed links that were used or expired a week ago (they only
//! let a link say "already used" for a while). Deleted in batches, so a large backlog never
//! holds a long lock. Several API processes may run it at once: the deletes are idempotent.
//!
//! And the e-mail addresses of people who reported a failure without an account, 30 days after
//! the report was closed (the failure form tells them so): erased from the reporter
//! (`ebok_outages`) and from the notices sent to them (`mobile_push`) in one transaction,
//! the rows themselves kept.

use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// How long each kind of row is kept after it stopped mattering.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub attempts: Duration,
    pub ended_sessions: Duration,
    pub spent_links: Duration,
    /// After a failure report is closed, its reporters' e-mail addresses.
    pub reporter_addresses: Duration,
}

/// Days a closed failure report's reporters' addresses are kept, as the failure form says.
pub const REPORTER_ADDRESS_DAYS: u64 = 30;

impl Default for Retention {
    fn default() -> Self {
        const DAY: u64 = 24 * 3600;
        Retention {
            attempts: Duration::from_secs(7 * DAY),
            ended_sessions: Duration::from_secs(30 * DAY),
            spent_links: Duration::from_secs(7 * DAY),
            reporter_addresses: Duration::from_secs(REPORTER_ADDRESS_DAYS * DAY),
        }
    }
}

/// Rows deleted by one [`prune`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub attempts: u64,
    pub sessions: u64,
    pub links: u64,
    /// Failure reports whose reporters' addresses were erased.
    pub reporter_addresses: u64,
}

/// Rows deleted by one statement at most.
const BATCH: i64 = 10_000;

/// Deletes what `retention` no longer keeps.
pub async fn prune(pool: &PgPool, retention: &Retention) -> sqlx::Result<Pruned> {
    let mut pruned = Pruned::default();
    loop {
        let n = sqlx::query!(
            r#"DELETE FROM security_attempts WHERE id IN (
                   SELECT id FROM security_attempts
                   WHERE at < now() - make_interval(secs => $1) LIMIT $2)"#,
            retention.attempts.as_secs_f64(),
            BATCH,
        )
        .execute(pool)
        .await?
        .rows_affected();
        pruned.attempts += n;
        if n < BATCH as u64 {
            break;
        }
    }
    loop {
        let n = sqlx::query!(
            r#"DELETE FROM sessions WHERE id IN (
                   SELECT id FROM sessions
                   WHERE revoked_at < now() - make_interval(secs => $1)
                      OR expires_at < now() - make_interval(secs => $1)
                   LIMIT $2)"#,
            retention.ended_sessions.as_secs_f64(),
            BATCH,
        )
        .execute(pool)
        .await?
        .rows_affected();
        pruned.sessions += n;
        if n < BATCH as u64 {
            break;
        }
    }
    loop {
        let n = sqlx::query!(
            r#"DELETE FROM account_tokens WHERE id IN (
                   SELECT id FROM account_tokens
                   WHERE expires_at < now() - make_interval(secs => $1)
                      OR used_at < now() - make_interval(secs => $1)
                   LIMIT $2)"#,
            retention.spent_links.as_secs_f64(),
            BATCH,
        )
        .execute(pool)
        .await?
        .rows_affected();
        pruned.links += n;
        if n < BATCH as u64 {
            break;
        }
    }
    loop {
        let closed_before = Utc::now()
            - chrono::Duration::from_std(retention.reporter_addresses)
                .unwrap_or(chrono::Duration::MAX);
        let mut tx = pool.begin().await?;
        let reports =
            ebok_outages::reports::store::erase_closed_addresses(&mut tx, closed_before, BATCH)
                .await?;
        mobile_push::recipients::forget_reporter_addresses(&mut tx, &reports).await?;
        tx.commit().await?;
        pruned.reporter_addresses += reports.len() as u64;
        if reports.len() < BATCH as usize {
            break;
        }
    }
    for (what, n) in [
        ("security_attempts", pruned.attempts),
        ("sessions", pruned.sessions),
        ("account_tokens", pruned.links),
        ("failure_reporter_addresses", pruned.reporter_addresses),
    ] {
        metrics::counter!("housekeeping_pruned_rows_total", "table" => what).increment(n);
    }
    Ok(pruned)
}

/// Prunes now and then every `every` until `shutdown`; a failure is logged and tried again at
/// the next round.
pub async fn run(pool: PgPool, retention: Retention, every: Duration, shutdown: CancellationToken) {
    loop {
        match prune(&pool, &retention).await {
            Ok(pruned) if pruned != Pruned::default() => {
                tracing::info!(?pruned, "housekeeping: old rows deleted")
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "housekeeping failed; trying again later"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
