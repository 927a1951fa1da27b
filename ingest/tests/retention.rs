//! Stored rejections and quarantined readings are pruned once older than their retention, in
//! bounded batches, oldest first; newer rows stay. The scheduled loop does it on its own. Raw
//! readings past `ingest.raw_retention_days` go a whole month partition or TimescaleDB chunk at a
//! time, and the daily register values billing reads stay; on TimescaleDB old chunks are
//! compressed by its policy and still take late readings.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ebok_ingest::maintenance::{self, Pruned, Retention};
use ebok_testkit::db::{Store, expected_store, store};
use ebok_testkit::{TestDb, fixtures};
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
            quarantined: 2,
            reading_chunks: 0
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

/// Two readings a day (06:00 and 18:00 UTC) for `days` days up to yesterday.
async fn twice_daily(pool: &PgPool, meter: i64, days: i64) -> DateTime<Utc> {
    let today = Utc::now().date_naive();
    let first = today - chrono::Days::new(days as u64);
    sqlx::query(
        "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
         SELECT $1, t, (extract(epoch FROM t - $2::date) / 360)::bigint, 'radio'
         FROM generate_series($2::date + interval '6 hours', $3::date - interval '1 hour',
                              interval '12 hours') t",
    )
    .bind(meter)
    .bind(first)
    .bind(today)
    .execute(pool)
    .await
    .unwrap();
    first.and_hms_opt(0, 0, 0).unwrap().and_utc()
}

async fn reading_on(pool: &PgPool, meter: i64, day: chrono::NaiveDate) -> (DateTime<Utc>, i64) {
    sqlx::query_as("SELECT measured_at, volume_litres FROM meter_reading_by_day($1, $2)")
        .bind(meter)
        .bind(day)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// How many chunks (TimescaleDB) or partitions (plain) of the readings end by `cutoff`, read
/// from the catalogue of each (the partitions' bounds, not their names).
async fn pieces_before(pool: &PgPool, store: Store, cutoff: DateTime<Utc>) -> i64 {
    let sql = match store {
        Store::Timescale => {
            "SELECT count(*) FROM timescaledb_information.chunks
             WHERE hypertable_name = 'meter_readings' AND range_end <= $1"
        }
        Store::Plain => {
            "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'meter_readings'::regclass
               AND substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \\(''([^'']+)''\\)')
                   ::timestamptz <= $1"
        }
    };
    sqlx::query_scalar(sql)
        .bind(cutoff)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn raw_readings_past_their_retention_go_whole_chunks_and_the_daily_registers_stay() {
    let db = TestDb::new().await;
    let store = store(&db.pool).await;
    if let Some(expected) = expected_store() {
        assert_eq!(store, expected, "the store the test runner asked for");
    }
    let u = fixtures::utility(&db.pool, "alfa").await;
    let point = fixtures::supply_point(&db.pool, u).await;
    let meter = fixtures::meter(&db.pool, u, Some(point)).await;
    twice_daily(&db.pool, meter, 200).await;
    let now = Utc::now();
    let old_day = (now - chrono::Duration::days(170)).date_naive();
    let billed_before = reading_on(&db.pool, meter, old_day).await;
    let days_before = count(&db.pool, "SELECT count(*) FROM meter_day_readings").await;
    assert!(days_before >= 199, "{days_before} day rows");

    let retention = Retention {
        raw_readings: Some(chrono::Duration::days(120)),
        ..Retention::from_days(90, 30)
    };
    let cutoff = now - chrono::Duration::days(120);
    let before_cutoff = pieces_before(&db.pool, store, cutoff).await;
    assert!(
        before_cutoff >= 10,
        "{store:?}: {before_cutoff} pieces before the cutoff"
    );
    let pruned = maintenance::prune(&db.pool, retention, now).await.unwrap();
    assert_eq!(pruned.reading_chunks, before_cutoff as u64);
    assert_eq!(pieces_before(&db.pool, store, cutoff).await, 0);
    let (oldest, kept_after_cutoff): (DateTime<Utc>, i64) = sqlx::query_as(
        "SELECT min(measured_at), count(*) FILTER (WHERE measured_at >= $1) FROM meter_readings",
    )
    .bind(cutoff)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(oldest < cutoff, "the piece holding the cutoff stays entire");
    let piece = match store {
        Store::Timescale => chrono::Duration::days(7),
        Store::Plain => chrono::Duration::days(31),
    };
    assert!(
        oldest >= cutoff - piece,
        "oldest raw reading left: {oldest}"
    );
    let expected_after_cutoff: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM generate_series($1::date + interval '6 hours',
                                              current_date - interval '1 hour',
                                              interval '12 hours') t
         WHERE t >= $2",
    )
    .bind((now - chrono::Duration::days(200)).date_naive())
    .bind(cutoff)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        kept_after_cutoff, expected_after_cutoff,
        "nothing newer lost"
    );

    // What billing and history read is untouched.
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM meter_day_readings").await,
        days_before
    );
    assert_eq!(reading_on(&db.pool, meter, old_day).await, billed_before);
    let again = maintenance::prune(&db.pool, retention, now).await.unwrap();
    assert_eq!(again.reading_chunks, 0, "nothing left to drop");
}

#[tokio::test]
async fn old_chunks_are_compressed_on_timescaledb_and_still_take_late_readings() {
    let db = TestDb::new().await;
    let compresses = maintenance::set_compression(&db.pool, 30).await.unwrap();
    let store = store(&db.pool).await;
    assert_eq!(compresses, store == Store::Timescale);
    if store == Store::Plain {
        // Nothing to compress on plain PostgreSQL, and nothing was changed.
        return;
    }
    // Calling it again with the same age keeps the one policy; another age replaces it.
    assert!(maintenance::set_compression(&db.pool, 30).await.unwrap());
    let policies = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT config ->> 'compress_after' FROM timescaledb_information.jobs
             WHERE proc_name = 'policy_compression' AND hypertable_name = 'meter_readings'",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap()
    };
    assert_eq!(policies().await, ["30 days"]);
    assert!(maintenance::set_compression(&db.pool, 45).await.unwrap());
    assert_eq!(policies().await, ["45 days"]);

    let u = fixtures::utility(&db.pool, "alfa").await;
    let point = fixtures::supply_point(&db.pool, u).await;
    let meter = fixtures::meter(&db.pool, u, Some(point)).await;
    twice_daily(&db.pool, meter, 100).await;
    let old_day = (Utc::now() - chrono::Duration::days(80)).date_naive();
    let before = reading_on(&db.pool, meter, old_day).await;
    // The policy's job, run now instead of waiting for the scheduler.
    let job: i32 = sqlx::query_scalar(
        "SELECT job_id FROM timescaledb_information.jobs
         WHERE proc_name = 'policy_compression' AND hypertable_name = 'meter_readings'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    // A procedure that commits as it goes: the simple protocol, outside any transaction.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CALL run_job({job})")))
        .execute(&db.pool)
        .await
        .unwrap();
    let (compressed, open): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE is_compressed), count(*) FILTER (WHERE NOT is_compressed)
         FROM timescaledb_information.chunks WHERE hypertable_name = 'meter_readings'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(compressed >= 7, "{compressed} chunks compressed");
    assert!(
        open >= 6,
        "the last 45 days stay uncompressed: {open} chunks"
    );
    assert_eq!(reading_on(&db.pool, meter, old_day).await, before);

    // A late reading into a compressed chunk is stored once, and moves the day's register.
    let late = old_day.and_hms_opt(21, 0, 0).unwrap().and_utc();
    let insert = || {
        sqlx::query(
            "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
             VALUES ($1, $2, $3, 'manual') ON CONFLICT DO NOTHING",
        )
        .bind(meter)
        .bind(late)
        .bind(before.1 + 10)
        .execute(&db.pool)
    };
    assert_eq!(insert().await.unwrap().rows_affected(), 1);
    assert_eq!(insert().await.unwrap().rows_affected(), 0, "a duplicate");
    assert_eq!(
        reading_on(&db.pool, meter, old_day).await,
        (late, before.1 + 10)
    );
}
