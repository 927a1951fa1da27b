//! A few connections taken from the pool once and kept, for the hottest reads.
//!
//! sqlx pings every connection it takes back into its pool (`Sync`, then wait for
//! `ReadyForQuery`), unconditionally: one more round trip and one more wake-up of the PostgreSQL
//! backend per statement. On the resident API's two hot reads `ebok bench api` measured that ping
//! at about as much of the database's CPU as the statement itself. [`KeptConnections`] hands out
//! connections that never go back to the pool: each waits in its slot between uses, is pinged
//! only after [`PING_AFTER_IDLE`] without use (the pool's own rule on the way out, see
//! [`super::pool_options`]), and is dropped after any database error or when the work using it
//! is cancelled, so the next use opens a fresh one (taken from the pool, with its set-up). Kept
//! connections use generic plans for their prepared statements (see [`open`]).
//!
//! Written here rather than taken from a crate: the pools that can skip the check (deadpool's
//! `RecyclingMethod::Fast`, bb8's `test_on_check_out(false)`) come with adapters for
//! tokio-postgres connections, not sqlx's, and this is a semaphore and a stack of slots.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::PING_AFTER_IDLE;

/// What [`KeptConnections::run`] runs: a boxed future borrowing the connection (a closure
/// returning `Box::pin(async move { … })`; an `async` closure cannot promise `Send` yet).
pub type Work<'c, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>;

/// Whether an error came from the database or its connection (so the connection may be broken),
/// as opposed to an answer of the work itself (not found, invalid input).
pub trait DatabaseFault {
    fn is_database_fault(&self) -> bool;
}

impl DatabaseFault for sqlx::Error {
    fn is_database_fault(&self) -> bool {
        true
    }
}

/// At most `size` connections, each used by one piece of work at a time; cheap to clone.
#[derive(Clone)]
pub struct KeptConnections {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    permits: Arc<Semaphore>,
    slots: Mutex<Vec<Slot>>,
}

#[derive(Default)]
struct Slot {
    conn: Option<PgConnection>,
    used: Option<Instant>,
}

impl std::fmt::Debug for KeptConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeptConnections")
            .field("available", &self.inner.permits.available_permits())
            .finish()
    }
}

impl KeptConnections {
    /// Up to `size` (at least one) connections, opened from `pool` when first needed.
    pub fn new(pool: PgPool, size: usize) -> Self {
        let size = size.max(1);
        Self {
            inner: Arc::new(Inner {
                pool,
                permits: Arc::new(Semaphore::new(size)),
                slots: Mutex::new((0..size).map(|_| Slot::default()).collect()),
            }),
        }
    }

    /// Waits for a free connection (first come, first served).
    pub async fn lease(&self) -> Lease {
        let permit = self
            .inner
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let slot = self
            .inner
            .slots
            .lock()
            .expect("slots lock")
            .pop()
            .expect("a slot for every permit");
        Lease {
            inner: self.inner.clone(),
            slot: Some(slot),
            _permit: permit,
        }
    }

    /// Runs `work` on a kept connection: [`Self::lease`] then [`Lease::run`].
    pub async fn run<T, E>(
        &self,
        work: impl for<'c> FnOnce(&'c mut PgConnection) -> Work<'c, T, E>,
    ) -> Result<T, E>
    where
        E: From<sqlx::Error> + DatabaseFault,
    {
        self.lease().await.run(work).await
    }
}

/// The right to use one kept connection; gives its slot back when dropped.
pub struct Lease {
    inner: Arc<Inner>,
    slot: Option<Slot>,
    _permit: OwnedSemaphorePermit,
}

impl Lease {
    /// Runs `work` on the connection (opening one if the slot has none, pinging it if it sat
    /// idle). The connection is kept for the next use unless `work` failed with a
    /// [`DatabaseFault`] or was cancelled.
    pub async fn run<T, E>(
        mut self,
        work: impl for<'c> FnOnce(&'c mut PgConnection) -> Work<'c, T, E>,
    ) -> Result<T, E>
    where
        E: From<sqlx::Error> + DatabaseFault,
    {
        let slot = self.slot.as_mut().expect("a lease holds its slot");
        let idle = slot
            .used
            .is_some_and(|used| used.elapsed() > PING_AFTER_IDLE);
        // Taken out of the slot while in use: if this future is dropped mid-statement, the
        // connection goes with it and the slot is given back empty.
        let mut conn = slot.conn.take();
        if idle
            && let Some(c) = conn.as_mut()
            && c.ping().await.is_err()
        {
            conn = None;
        }
        let mut conn = match conn {
            Some(conn) => conn,
            None => open(&self.inner.pool).await?,
        };
        let result = work(&mut conn).await;
        let slot = self.slot.as_mut().expect("a lease holds its slot");
        slot.used = Some(Instant::now());
        if !result.as_ref().is_err_and(DatabaseFault::is_database_fault) {
            slot.conn = Some(conn);
        }
        result
    }
}

/// A connection of the pool's, detached from it, that plans its prepared statements once.
///
/// PostgreSQL plans a prepared statement afresh for its first five executions and then keeps
/// doing so whenever that custom plan looks cheaper than the generic one, as it does for an
/// array of one lookup: `ebok bench api` saw 0.2 ms of planning for each such execution, more
/// than the execution itself. The statements run here are index probes by parameter, for which
/// the generic plan is the plan.
async fn open(pool: &PgPool) -> sqlx::Result<PgConnection> {
    let mut conn = pool.acquire().await?.detach();
    sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
        .execute(&mut conn)
        .await?;
    Ok(conn)
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.inner.slots.lock().expect("slots lock").push(slot);
        }
    }
}
