//! Stored rejections and quarantined readings are pruned once older than their retention, in
//! bounded batches, oldest first; newer rows stay. The scheduled loop does it on its own.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ebok_ingest::maintenance::{self, Pruned, Retention};
use ebok_testkit::TestDb;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

async fn rejection(pool: &PgPool, received_at: DateTime<Utc>) {
    sqlx::query(
        "INSERT INTO ingest_rejections (received_at, source, origin, reason, detail)
         VALUES ($1, 'mqtt', 't/x', 'malformed_payload', 'test')",
    )
    .bind(received_at)
    .execute(pool)
    .await
    .unwrap();
}

async fn quarantined(pool: &PgPool, received_at: DateTime<Utc>, released: bool) {
    sqlx::query(
        "INSERT INTO ingest_quarantine (received_at, source, origin, meter_ref_kind, meter_ref,
                                        measured_at, volume_litres, flags, reading_source,
                                        detail, released_at)
         VALUES ($1, 'mqtt', 't/x', 'serial', 'X', $1, 1, 0, 'radio', 'test',
                 CASE WHEN $2 THEN $1 END)",
    )
    .bind(received_at)
    .bind(released)
    .execute(pool)
    .await
    .unwrap();
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn rows_past_their_retention_are_pruned_in_batches_and_newer_ones_kept() {
    let db = TestDb::new().await;
    let now = Utc::now();
    let days = |d: i64| now - chrono::Duration::days(d);
    for _ in 0..7 {
        rejection(&db.pool, days(91)).await;
    }
    rejection(&db.pool, days(89)).await;
    quarantined(&db.pool, days(31), true).await;
    quarantined(&db.pool, days(45), false).await;
    quarantined(&db.pool, days(29), false).await;

    let retention = Retention {
        batch: 3,
        ..Retention::from_days(90, 30)
    };
    let pruned = maintenance::prune(&db.pool, retention, now).await.unwrap();
    assert_eq!(
        pruned,
        Pruned {
            rejections: 7,
            quarantined: 2
        }
    );
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM ingest_rejections").await,
        1
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM ingest_quarantine WHERE received_at > now() - interval '30 days'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM ingest_quarantine").await,
        1
    );
    let again = maintenance::prune(&db.pool, retention, now).await.unwrap();
    assert_eq!(again, Pruned::default(), "nothing left to prune");
}

#[tokio::test]
async fn the_scheduled_pruning_removes_old_rows_on_its_own() {
    let db = TestDb::new().await;
    rejection(&db.pool, Utc::now() - chrono::Duration::days(100)).await;
    quarantined(&db.pool, Utc::now() - chrono::Duration::days(40), false).await;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(maintenance::run_retention(
        db.pool.clone(),
        Retention::from_days(90, 30),
        Duration::from_millis(50),
        shutdown.clone(),
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = count(
            &db.pool,
            "SELECT (SELECT count(*) FROM ingest_rejections) + (SELECT count(*) FROM ingest_quarantine)",
        )
        .await;
        if left == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{left} rows left");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    task.await.unwrap();
}
