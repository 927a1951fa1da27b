//! App sessions that ended while their access tokens may still be unexpired: a token of one of
//! them is refused at once, not after its ten minutes.
//!
//! Checking the session in the database on every request would cost the hot reads a round trip
//! each, so each process keeps the set in memory instead (a hash-set probe per request):
//! - filled at start, and again after every reconnect of its listener, with the app sessions
//!   revoked within the last access-token lifetime ([`RevokedSessions::catch_up`]);
//! - told of every later revocation in any process by PostgreSQL: a trigger on `sessions`
//!   (migration 0014) sends each revoked id on the channel [`CHANNEL`] when the revoking
//!   transaction commits, and a listener task adds it;
//! - caught up by the handler that revoked a session before it answers, so within the process
//!   that did it the token stops working before the client hears of the logout;
//! - pruned of ids whose tokens have all expired.
//!
//! A listener that loses its connection catches up when it is back, so a notification missed in
//! between is not lost; and every [`CATCH_UP_EVERY`] it catches up anyway, so a connection that
//! died silently delays a revocation by that much at most. A session's tokens all expire [`ACCESS_TTL_SECS`] after the last one was
//! signed, so an id older than that plus the clock leeway is no longer needed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ebok_common::backoff::Backoff;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use super::app::ACCESS_TTL_SECS;

/// The longest a process goes without reading the revocations from the table itself.
const CATCH_UP_EVERY: Duration = Duration::from_secs(30);

/// The channel the `sessions` trigger notifies.
pub const CHANNEL: &str = "ebok_sessions_revoked";

/// How long an id is kept: a token's lifetime, the verifier's leeway and a margin.
fn keep() -> chrono::Duration {
    chrono::Duration::seconds(ACCESS_TTL_SECS + 60)
}

/// The set; cloning shares it.
#[derive(Clone, Default)]
pub struct RevokedSessions {
    ids: Arc<RwLock<HashMap<i64, DateTime<Utc>>>>,
}

impl RevokedSessions {
    pub fn contains(&self, session_id: i64) -> bool {
        self.ids
            .read()
            .expect("revoked sessions lock")
            .contains_key(&session_id)
    }

    fn add(&self, ids: impl IntoIterator<Item = (i64, DateTime<Utc>)>) {
        let mut set = self.ids.write().expect("revoked sessions lock");
        set.extend(ids);
        let cutoff = Utc::now() - keep();
        set.retain(|_, at| *at > cutoff);
    }

    /// Adds every app session revoked within the tokens' lifetime.
    pub async fn catch_up(&self, pool: &PgPool) -> sqlx::Result<()> {
        let rows = sqlx::query!(
            r#"SELECT id, revoked_at AS "revoked_at!" FROM sessions
               WHERE kind = 'app' AND revoked_at > now() - make_interval(secs => $1)"#,
            keep().num_seconds() as f64,
        )
        .fetch_all(pool)
        .await?;
        self.add(rows.into_iter().map(|r| (r.id, r.revoked_at)));
        Ok(())
    }

    /// Starts listening and catches up (both before returning, when the database answers;
    /// otherwise the listener keeps trying and catches up once it is connected), then follows
    /// the revocations of every process until the set is dropped everywhere else. Must be
    /// called within a Tokio runtime.
    pub async fn follow(&self, pool: PgPool) {
        let first = match subscribe(&pool).await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::warn!(%error, "listening for revoked sessions failed; retrying");
                None
            }
        };
        if let Err(error) = self.catch_up(&pool).await {
            tracing::warn!(%error, "revoked sessions not read yet; the listener will retry");
        }
        let weak = Arc::downgrade(&self.ids);
        tokio::spawn(async move {
            let mut listener = first;
            let mut failures = 0u32;
            loop {
                let Some(ids) = weak.upgrade() else {
                    return;
                };
                let set = RevokedSessions { ids };
                let connected = match listener.take() {
                    Some(listener) => Ok(listener),
                    None => match subscribe(&pool).await {
                        // Whatever was revoked while nobody listened.
                        Ok(listener) => set.catch_up(&pool).await.map(|()| listener),
                        Err(error) => Err(error),
                    },
                };
                let result = match connected {
                    Ok(listener) => {
                        failures = 0;
                        listen(&set, &pool, listener, &weak).await
                    }
                    Err(error) => Err(error),
                };
                drop(set);
                match result {
                    Ok(()) => return,
                    Err(error) => {
                        failures = failures.saturating_add(1);
                        tracing::warn!(%error, failures, "listening for revoked sessions failed");
                    }
                }
                let wait = Backoff::new(Duration::from_millis(200), Duration::from_secs(15))
                    .delay(failures + 1);
                tokio::time::sleep(wait).await;
            }
        });
    }
}

/// A connection listening on [`CHANNEL`].
async fn subscribe(pool: &PgPool) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.ignore_pool_close_event(true);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Adds what arrives on `listener`. Returns when the set is dropped (`Ok`) or the connection
/// fails for good.
async fn listen(
    set: &RevokedSessions,
    pool: &PgPool,
    mut listener: PgListener,
    weak: &std::sync::Weak<RwLock<HashMap<i64, DateTime<Utc>>>>,
) -> sqlx::Result<()> {
    let mut caught_up = tokio::time::Instant::now();
    loop {
        // Wake now and then to notice that the state was dropped (a test's server ended), and
        // to catch up every CATCH_UP_EVERY whatever the notifications say: a connection that
        // died without a word (a NAT timeout, a failover) delivers nothing and reports no error.
        if caught_up.elapsed() >= CATCH_UP_EVERY {
            set.catch_up(pool).await?;
            caught_up = tokio::time::Instant::now();
        }
        let Ok(next) = tokio::time::timeout(Duration::from_secs(5), listener.try_recv()).await
        else {
            if weak.strong_count() <= 1 {
                return Ok(());
            }
            continue;
        };
        match next? {
            Some(notification) => {
                if let Ok(id) = notification.payload().parse() {
                    set.add([(id, Utc::now())]);
                }
            }
            // The connection was lost and re-established: something may have been missed.
            None => set.catch_up(pool).await?,
        }
    }
}
