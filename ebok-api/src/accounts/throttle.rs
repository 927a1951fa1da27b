//! Throttling of guessable secrets and of e-mails: failed logins per account and per client
//! address, failed customer link codes per account, e-mails per target address and per client
//! address. Attempts are rows in `security_attempts`, so every process of the installation sees
//! the same counts; a success does not erase failures (an attacker who owns one account cannot
//! reset the counter of another).
//!
//! An attempt is [`reserve`]d — recorded as a failure — before the secret is checked, in a
//! transaction that holds a lock per key: concurrent attempts on one key are counted one after
//! another, so a burst cannot slip past the limit while its checks (an argon2 verify takes tens
//! of milliseconds) are still running. A check that succeeds then marks its attempt
//! [`succeeded`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// A limit: at most `failures` failed attempts within `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub scope: &'static str,
    pub failures: i64,
    pub window: Duration,
}

/// Logins for one account: 5 failures in 15 minutes.
pub const LOGIN_PER_ACCOUNT: Limit = Limit {
    scope: "login.account",
    failures: 5,
    window: Duration::from_secs(15 * 60),
};
/// Logins from one address (a household or an office shares one): 30 failures in 15 minutes.
pub const LOGIN_PER_ADDRESS: Limit = Limit {
    scope: "login.address",
    failures: 30,
    window: Duration::from_secs(15 * 60),
};
/// Customer link codes typed by one account: 5 failures an hour.
pub const LINK_PER_ACCOUNT: Limit = Limit {
    scope: "link.account",
    failures: 5,
    window: Duration::from_secs(60 * 60),
};
/// E-mails (activation, reset) requested for one address: 5 an hour.
pub const MAIL_PER_ADDRESS: Limit = Limit {
    scope: "mail.address",
    failures: 5,
    window: Duration::from_secs(60 * 60),
};
/// Registrations and reset requests from one client address, whatever their target: 20 an
/// hour (a household registering its members stays far below).
pub const MAIL_PER_CLIENT: Limit = Limit {
    scope: "mail.client",
    failures: 20,
    window: Duration::from_secs(60 * 60),
};

/// Case status lookups without logging in from one address that found nothing: 10 in 15
/// minutes (a resident mistyping stays far below; trying numbers one after another does not).
pub const CASE_STATUS_PER_ADDRESS: Limit = Limit {
    scope: "case_status.address",
    failures: 10,
    window: Duration::from_secs(15 * 60),
};
/// Lookups of one case number with a wrong identifier, from anywhere: 10 an hour (guessing the
/// PESEL that goes with a known number).
pub const CASE_STATUS_PER_NUMBER: Limit = Limit {
    scope: "case_status.number",
    failures: 10,
    window: Duration::from_secs(60 * 60),
};

/// Failure reports filed or joined without an account, by one e-mail address: 3 an hour (a
/// passer-by reports what they see; a flood is somebody else's).
pub const FAILURE_REPORT_PER_EMAIL: Limit = Limit {
    scope: "failure_report.email",
    failures: 3,
    window: Duration::from_secs(60 * 60),
};
/// Failure reports filed or joined by one resident account: 20 an hour (a storm floods a
/// street; a script floods the crews).
pub const FAILURE_REPORT_PER_ACCOUNT: Limit = Limit {
    scope: "failure_report.account",
    failures: 20,
    window: Duration::from_secs(60 * 60),
};
/// ... and from one client address, whatever the e-mail: 10 an hour.
pub const FAILURE_REPORT_PER_CLIENT: Limit = Limit {
    scope: "failure_report.client",
    failures: 10,
    window: Duration::from_secs(60 * 60),
};

/// The longest window of any limit: attempts older than this count for nothing (housekeeping
/// deletes them).
pub const LONGEST_WINDOW: Duration = Duration::from_secs(60 * 60);

/// Attempts recorded as failed, one per key; see [`succeeded`].
#[derive(Debug)]
#[must_use = "a reserved attempt counts as failed unless marked succeeded"]
pub struct Reservation {
    ids: Vec<i64>,
}

/// Records an attempt as failed under every `(limit, key)`, unless one of them is over its
/// limit already: then nothing is recorded and the answer is how long until that key is free
/// again (the longest such wait).
pub async fn reserve(
    pool: &PgPool,
    keys: &[(Limit, &str)],
) -> sqlx::Result<Result<Reservation, Duration>> {
    let mut keys: Vec<(Limit, &str)> = keys.to_vec();
    // Locks are taken in one order by every caller, so two attempts never wait for each other.
    keys.sort_by(|a, b| (a.0.scope, a.1).cmp(&(b.0.scope, b.1)));
    let mut tx = pool.begin().await?;
    let mut wait: Option<Duration> = None;
    for (limit, key) in &keys {
        sqlx::query!(
            "SELECT pg_advisory_xact_lock(hashtextextended('security_attempts:' || $1 || ':' || $2, 0))",
            limit.scope,
            key,
        )
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query!(
            r#"SELECT count(*) AS "failures!", min(at) AS oldest
               FROM security_attempts
               WHERE scope = $1 AND key = $2 AND NOT succeeded
                 AND at > now() - make_interval(secs => $3)"#,
            limit.scope,
            key,
            limit.window.as_secs_f64(),
        )
        .fetch_one(&mut *tx)
        .await?;
        if row.failures >= limit.failures {
            let this = free_in(limit, row.oldest);
            wait = Some(wait.map_or(this, |w| w.max(this)));
        }
    }
    if let Some(wait) = wait {
        tx.rollback().await?;
        return Ok(Err(wait));
    }
    let mut ids = Vec::with_capacity(keys.len());
    for (limit, key) in &keys {
        ids.push(
            sqlx::query_scalar!(
                "INSERT INTO security_attempts (scope, key, succeeded) VALUES ($1, $2, false)
                 RETURNING id",
                limit.scope,
                key,
            )
            .fetch_one(&mut *tx)
            .await?,
        );
    }
    tx.commit().await?;
    Ok(Ok(Reservation { ids }))
}

/// Marks reserved attempts as succeeded: they no longer count against their limits.
pub async fn succeeded(pool: &PgPool, reservation: Reservation) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE security_attempts SET succeeded = true WHERE id = ANY($1)",
        &reservation.ids,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Takes reserved attempts back: the check they guarded never ran (no turn for a hash).
pub async fn cancel(pool: &PgPool, reservation: &Reservation) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM security_attempts WHERE id = ANY($1)",
        &reservation.ids
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Keeps reserved attempts as failures (the check they guarded failed).
pub fn failed(reservation: Reservation) {
    drop(reservation);
}

/// How long until the oldest counted failure leaves the window (at least a second).
fn free_in(limit: &Limit, oldest: Option<DateTime<Utc>>) -> Duration {
    let oldest = oldest.unwrap_or_else(Utc::now);
    let free_at = oldest + chrono::Duration::from_std(limit.window).unwrap_or_default();
    (free_at - Utc::now())
        .to_std()
        .unwrap_or(Duration::from_secs(1))
        .max(Duration::from_secs(1))
}
