//! After a crash, `meter_latest_readings` may miss updates the writer had committed readings for
//! but not yet flushed, and `meter_day_readings` the day rows of its copies. `repair_latest`
//! replays readings received since the oldest watermark into both.

use ebok_ingest::writer::repair_latest;
use ebok_testkit::{TestDb, fixtures};

#[tokio::test]
async fn repair_moves_latest_to_readings_committed_after_the_watermark_but_never_back() {
    let db = TestDb::new().await;
    let u = fixtures::utility(&db.pool, "alfa").await;
    let point = fixtures::supply_point(&db.pool, u).await;
    let meter = fixtures::meter(&db.pool, u, Some(point)).await;
    // What the writer had flushed before the crash.
    sqlx::query(
        "INSERT INTO meter_latest_readings (meter_id, measured_at, volume_litres, source, received_at)
         VALUES ($1, '2026-11-20T02:00:00Z', 100, 'radio', now() - interval '1 minute')",
    )
    .bind(meter)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO ingest_latest_watermarks (writer, flushed_through) VALUES ('w/0', now() - interval '10 seconds')",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    // Committed after the watermark by a writer that folds its own day rows, never reflected:
    // a newer one and a late one.
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("SELECT set_config('ebok.day_readings', 'deferred', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
         VALUES ($1, '2026-11-21T02:00:00Z', 180, 'radio'), ($1, '2026-11-19T02:00:00Z', 50, 'radio')",
    )
    .bind(meter)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let days = |pool: sqlx::PgPool| async move {
        sqlx::query_as::<_, (chrono::NaiveDate, i64)>(
            "SELECT day, volume_litres FROM meter_day_readings ORDER BY day",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    assert!(
        days(db.pool.clone()).await.is_empty(),
        "deferred: not folded"
    );

    assert_eq!(repair_latest(&db.pool).await.unwrap(), 1);
    let litres: i64 =
        sqlx::query_scalar("SELECT volume_litres FROM meter_latest_readings WHERE meter_id = $1")
            .bind(meter)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        litres, 180,
        "moved forward to the newest, not to the late one"
    );
    assert_eq!(
        days(db.pool.clone()).await,
        vec![
            (chrono::NaiveDate::from_ymd_opt(2026, 11, 19).unwrap(), 50),
            (chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(), 180),
        ],
        "both days folded"
    );
    assert_eq!(repair_latest(&db.pool).await.unwrap(), 0, "idempotent");
}

#[tokio::test]
async fn without_watermarks_repair_does_nothing() {
    let db = TestDb::new().await;
    assert_eq!(repair_latest(&db.pool).await.unwrap(), 0);
}
