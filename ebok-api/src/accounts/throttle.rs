//! Throttling of guessable secrets: failed logins per account and per client address, failed
//! customer link codes per account. Attempts are rows in `security_attempts`, so every process of
//! the installation sees the same counts; a success does not erase failures (an attacker who
//! owns one account cannot reset the counter of another).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

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

/// `Some(wait)` when `key` is over the limit now: how long until the oldest counted failure
/// leaves the window.
pub async fn blocked(
    db: impl PgExecutor<'_>,
    limit: Limit,
    key: &str,
) -> sqlx::Result<Option<Duration>> {
    let window = limit.window.as_secs_f64();
    let row = sqlx::query!(
        r#"SELECT count(*) AS "failures!", min(at) AS oldest
           FROM security_attempts
           WHERE scope = $1 AND key = $2 AND NOT succeeded
             AND at > now() - make_interval(secs => $3)"#,
        limit.scope,
        key,
        window,
    )
    .fetch_one(db)
    .await?;
    if row.failures < limit.failures {
        return Ok(None);
    }
    let oldest: DateTime<Utc> = row.oldest.unwrap_or_else(Utc::now);
    let free_at = oldest + chrono::Duration::from_std(limit.window).unwrap_or_default();
    let wait = (free_at - Utc::now())
        .to_std()
        .unwrap_or(Duration::from_secs(1));
    Ok(Some(wait.max(Duration::from_secs(1))))
}

/// Records one attempt under `limit`'s scope.
pub async fn record(
    db: impl PgExecutor<'_>,
    limit: Limit,
    key: &str,
    succeeded: bool,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO security_attempts (scope, key, succeeded) VALUES ($1, $2, $3)",
        limit.scope,
        key,
        succeeded,
    )
    .execute(db)
    .await?;
    Ok(())
}
