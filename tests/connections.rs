//! The connections the API reads on, against the real PostgreSQL.
//!
//! - The pool pings a connection only once it has sat idle for `PING_AFTER_IDLE`, and that ping
//!   still notices a connection the server ended.
//! - Kept connections (`KeptConnections`, the meter reads and the reading-on-a-day lookups) stay
//!   out of the pool, are reused, are used by at most `size` pieces of work at once, plan their
//!   statements generically, and are replaced after a database fault, a cancelled run or an end
//!   by the server, but not after an answer that is not a fault.

use std::collections::BTreeSet;
use std::time::Duration;

use ebok_common::db::{DatabaseFault, KeptConnections, PING_AFTER_IDLE, pool_options};
use ebok_testkit::TestDb;
use sqlx::{PgConnection, Postgres};

async fn pid(conn: &mut PgConnection) -> sqlx::Result<i32> {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(conn)
        .await
}

/// The one value `sql` answers, on a kept connection.
async fn kept_scalar<T>(kept: &KeptConnections, sql: &'static str) -> sqlx::Result<T>
where
    T: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres> + Send + Unpin + 'static,
{
    kept.run(move |conn| Box::pin(async move { sqlx::query_scalar(sql).fetch_one(conn).await }))
        .await
}

/// The backend behind the next kept connection handed out.
async fn kept_pid(kept: &KeptConnections) -> i32 {
    let next = kept_scalar(kept, "SELECT pg_backend_pid()");
    tokio::time::timeout(Duration::from_secs(10), next)
        .await
        .expect("a kept connection within 10 s")
        .expect("the statement answers")
}

/// Ends a backend from the server side and waits until it is gone.
async fn terminate(db: &TestDb, pid: i32) {
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1, 5000)")
        .bind(pid)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(ended, "backend {pid} ended");
}

#[tokio::test]
async fn a_kept_connection_is_reused_and_stays_out_of_the_pool() {
    let db = TestDb::new().await;
    let kept = KeptConnections::new(db.pool.clone(), 1);
    let first = kept_pid(&kept).await;
    assert_eq!(kept_pid(&kept).await, first);
    for _ in 0..8 {
        let pooled = pid(&mut db.pool.acquire().await.unwrap()).await.unwrap();
        assert_ne!(pooled, first, "the pool handed out a kept connection");
    }
    assert_eq!(kept_pid(&kept).await, first);
}

#[tokio::test]
async fn kept_connections_plan_their_statements_generically() {
    let db = TestDb::new().await;
    let kept = KeptConnections::new(db.pool.clone(), 1);
    let mode: String = kept_scalar(&kept, "SELECT current_setting('plan_cache_mode')")
        .await
        .unwrap();
    assert_eq!(mode, "force_generic_plan");
}

#[tokio::test]
async fn at_most_size_runs_at_once_each_on_its_own_connection() {
    let db = TestDb::new().await;
    let kept = KeptConnections::new(db.pool.clone(), 2);
    let runs =
        (0..6).map(|_| kept_scalar::<i32>(&kept, "SELECT pg_backend_pid() FROM pg_sleep(0.05)"));
    let pids: BTreeSet<i32> = futures::future::join_all(runs)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(pids.len(), 2, "six runs on two connections: {pids:?}");
}

#[tokio::test]
async fn a_database_fault_replaces_the_connection() {
    let db = TestDb::new().await;
    let kept = KeptConnections::new(db.pool.clone(), 1);
    let first = kept_pid(&kept).await;
    let failed = kept_scalar::<i32>(&kept, "SELECT 1 / 0").await;
    assert!(failed.is_err());
    assert_ne!(kept_pid(&kept).await, first);
}

/// An error of the work's own, like "meter not found".
#[derive(Debug)]
enum Answer {
    NotFound,
    Db(#[allow(dead_code)] sqlx::Error),
}

impl From<sqlx::Error> for Answer {
    fn from(error: sqlx::Error) -> Self {
        Answer::Db(error)
    }
}

impl DatabaseFault for Answer {
    fn is_database_fault(&self) -> bool {
        matches!(self, Answer::Db(_))
    }
}

#[tokio::test]
async fn an_answer_that_is_not_a_fault_keeps_the_connection() {
    let db = TestDb::new().await;
    let kept = KeptConnections::new(db.pool.clone(), 1);
    let first = kept_pid(&kept).await;
    let answer = kept
        .run(|conn| {
            Box::pin(async move {
                pid(conn).await?;
                Err::<(), _>(Answer::NotFound)
            })
        })
        .await;
    assert!(matches!(answer, Err(Answer::NotFound)));
    assert_eq!(kept_pid(&kept).await, first);
}

#[tokio::test]
async fn a_cancelled_run_gives_its_slot_back_without_the_connection() {
    let db = TestDb::new().await;
    let kept = KeptConnections::new(db.pool.clone(), 1);
    let first = kept_pid(&kept).await;
    let slow = kept.run(|conn| {
        Box::pin(async move {
            sqlx::query("SELECT pg_sleep(30)")
                .execute(conn)
                .await
                .map(|_| ())
        })
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(200), slow)
            .await
            .is_err(),
        "the slow statement was cut short"
    );
    // The only slot is free again (kept_pid would time out otherwise), with a fresh connection:
    // the cancelled one may be in the middle of a statement.
    assert_ne!(kept_pid(&kept).await, first);
}

#[tokio::test]
async fn an_idle_kept_connection_the_server_ended_is_replaced_before_use() {
    let db = TestDb::new().await;
    let kept = KeptConnections::new(db.pool.clone(), 1);
    let first = kept_pid(&kept).await;
    terminate(&db, first).await;
    tokio::time::sleep(PING_AFTER_IDLE + Duration::from_millis(200)).await;
    // Pinged, found dead, replaced: the work itself never sees the dead connection.
    assert_ne!(kept_pid(&kept).await, first);
}

#[tokio::test]
async fn a_busy_kept_connection_the_server_ended_fails_one_run_then_is_replaced() {
    let db = TestDb::new().await;
    let kept = KeptConnections::new(db.pool.clone(), 1);
    let first = kept_pid(&kept).await;
    terminate(&db, first).await;
    // Used again at once (no ping within PING_AFTER_IDLE): that run fails...
    assert!(kept.run(|conn| Box::pin(pid(conn))).await.is_err());
    // ...and the next gets a fresh connection.
    assert_ne!(kept_pid(&kept).await, first);
}

#[tokio::test]
async fn the_pool_pings_a_connection_that_sat_idle() {
    let db = TestDb::new().await;
    let pool = pool_options(1)
        .connect_with(db.connect_options())
        .await
        .unwrap();
    let first = pid(&mut pool.acquire().await.unwrap()).await.unwrap();
    terminate(&db, first).await;
    tokio::time::sleep(PING_AFTER_IDLE + Duration::from_millis(200)).await;
    let next = pid(&mut pool.acquire().await.unwrap())
        .await
        .expect("the dead connection was pinged and replaced before use");
    assert_ne!(next, first);
}
