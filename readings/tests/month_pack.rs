//! Packed months (`meter_month_readings`, migration 0013) against a real PostgreSQL: the SQL
//! packing and the Rust decoding agree, a change in a packed month repacks it, and concurrent
//! writers and the packer lose no day, whichever comes first.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use ebok_common::domain::ReadingSource;
use ebok_readings::month_pack::{self, PackedDay};
use ebok_testkit::{TestDb, fixtures};
use sqlx::{Connection, PgConnection, PgPool};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

async fn meter(db: &TestDb) -> i64 {
    let utility = fixtures::utility(&db.pool, "alfa").await;
    sqlx::query("SELECT ebok_ensure_reading_partitions('2025-12-01', '2026-12-31')")
        .execute(&db.pool)
        .await
        .unwrap();
    fixtures::meter(&db.pool, utility, None).await
}

async fn insert(conn: &mut PgConnection, meter: i64, at: &str, litres: i64, source: &str) {
    sqlx::query(
        "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
         VALUES ($1, $2, $3, $4::reading_source)",
    )
    .bind(meter)
    .bind(t(at))
    .bind(litres)
    .bind(source)
    .execute(conn)
    .await
    .unwrap();
}

async fn pack(pool: &PgPool) -> i32 {
    sqlx::query_scalar("SELECT meter_month_readings_pack()")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The meter's packed month, decoded.
async fn packed(pool: &PgPool, meter: i64, month: NaiveDate) -> Vec<PackedDay> {
    let bytes: Vec<u8> = sqlx::query_scalar(
        "SELECT days FROM meter_month_readings WHERE meter_id = $1 AND month = $2",
    )
    .bind(meter)
    .bind(month)
    .fetch_one(pool)
    .await
    .unwrap();
    month_pack::decode(&bytes).unwrap()
}

/// The meter's day rows of a month, as packed days.
async fn day_rows(pool: &PgPool, meter: i64, month: NaiveDate) -> Vec<PackedDay> {
    type Row = (
        NaiveDate,
        DateTime<Utc>,
        i64,
        ReadingSource,
        DateTime<Utc>,
        i64,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT day, measured_at, volume_litres, source, first_measured_at, first_volume_litres
         FROM meter_day_readings
         WHERE meter_id = $1 AND day >= $2 AND day < ($2 + interval '1 month')::date
         ORDER BY day",
    )
    .bind(meter)
    .bind(month)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(
            |(day, measured_at, litres, source, first_measured_at, first_litres)| PackedDay {
                day,
                measured_at,
                litres,
                source,
                first_measured_at,
                first_litres,
            },
        )
        .collect()
}

#[tokio::test]
async fn packed_months_decode_to_their_day_rows() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let meter = meter(&db).await;
    let mut conn = pool.acquire().await.unwrap();
    // Every source, microseconds, the last instant of a Warsaw day, and the clocks going
    // forward (29 March) within one month.
    insert(&mut conn, meter, "2026-03-01T00:00:00.000001Z", 10, "radio").await;
    insert(
        &mut conn,
        meter,
        "2026-03-14T22:59:59.999999Z",
        20,
        "modbus",
    )
    .await;
    insert(&mut conn, meter, "2026-03-29T00:30:00Z", 30, "manual").await;
    insert(&mut conn, meter, "2026-03-29T21:59:59Z", 40, "estimate").await;
    insert(&mut conn, meter, "2026-04-02T08:00:00Z", 50, "radio").await;
    drop(conn);
    assert!(pack(pool).await >= 2, "March and April are closed");
    let march = packed(pool, meter, d(2026, 3, 1)).await;
    assert_eq!(march, day_rows(pool, meter, d(2026, 3, 1)).await);
    let days: Vec<_> = march.iter().map(|p| p.day).collect();
    // 14 March 22:59:59 UTC is 23:59:59 in Warsaw; 29 March 21:59:59 UTC is 23:59:59 (CEST).
    assert_eq!(days, vec![d(2026, 3, 1), d(2026, 3, 14), d(2026, 3, 29)]);
    assert_eq!(march[2].source, ReadingSource::Estimate);
    assert_eq!(
        packed(pool, meter, d(2026, 4, 1)).await,
        day_rows(pool, meter, d(2026, 4, 1)).await
    );

    // Every source in the database has the code this crate decodes.
    let codes: Vec<(ReadingSource, i32)> = sqlx::query_as(
        "SELECT s, reading_source_code(s) FROM unnest(enum_range(NULL::reading_source)) s",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(codes.len(), 4);
    for (source, code) in codes {
        assert_eq!(
            i32::from(month_pack::source_code(source)),
            code,
            "{source:?}"
        );
    }
}

#[tokio::test]
async fn only_closed_months_are_packed_and_a_late_reading_repacks_its_month() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let meter = meter(&db).await;
    let mut conn = pool.acquire().await.unwrap();
    insert(&mut conn, meter, "2026-01-10T08:00:00Z", 100, "radio").await;
    insert(&mut conn, meter, "2026-02-10T08:00:00Z", 200, "radio").await;
    // As of 15 February in Warsaw, only January has closed.
    let packed_months: i32 = sqlx::query_scalar("SELECT meter_month_readings_pack($1)")
        .bind(t("2026-02-15T12:00:00Z"))
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(packed_months, 1);
    let mark: Option<NaiveDate> =
        sqlx::query_scalar("SELECT through FROM meter_month_readings_packed")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(mark, Some(d(2026, 1, 1)));
    // A late reading in January (packed), and one in February (not yet packed).
    insert(&mut conn, meter, "2026-01-20T08:00:00Z", 150, "manual").await;
    insert(&mut conn, meter, "2026-02-20T08:00:00Z", 250, "radio").await;
    let january = packed(pool, meter, d(2026, 1, 1)).await;
    assert_eq!(january.len(), 2);
    assert_eq!(january, day_rows(pool, meter, d(2026, 1, 1)).await);
    let february: Option<i64> =
        sqlx::query_scalar("SELECT meter_id FROM meter_month_readings WHERE month = '2026-02-01'")
            .fetch_optional(pool)
            .await
            .unwrap();
    assert_eq!(
        february, None,
        "February is not packed before the mark reaches it"
    );
    // A day row removed from a packed month leaves it packed without that day.
    sqlx::query("DELETE FROM meter_day_readings WHERE meter_id = $1 AND day = '2026-01-10'")
        .bind(meter)
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(packed(pool, meter, d(2026, 1, 1)).await.len(), 1);
}

/// Runs `statement` on a new connection in a task and reports whether it finished within
/// 300 ms (it should not, while another transaction holds what it needs).
async fn blocked(
    pool: &PgPool,
    statement: &'static str,
    meter: i64,
) -> tokio::task::JoinHandle<PgConnection> {
    let mut conn = PgConnection::connect_with(&pool.connect_options())
        .await
        .unwrap();
    let task = tokio::spawn(async move {
        sqlx::query(statement)
            .bind(meter)
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!task.is_finished(), "expected to wait: {statement}");
    task
}

#[tokio::test]
async fn two_writers_of_one_packed_month_both_count() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let meter = meter(&db).await;
    let mut conn = pool.acquire().await.unwrap();
    insert(&mut conn, meter, "2026-01-05T08:00:00Z", 100, "radio").await;
    drop(conn);
    pack(pool).await;
    // The first writer repacks January and holds its row until it commits; the second waits
    // for it, then repacks from a snapshot that sees the first one's day.
    let mut first = pool.begin().await.unwrap();
    insert(&mut first, meter, "2026-01-06T08:00:00Z", 110, "radio").await;
    let second = blocked(
        pool,
        "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
         VALUES ($1, '2026-01-07T08:00:00Z', 120, 'radio')",
        meter,
    )
    .await;
    first.commit().await.unwrap();
    second.await.unwrap();
    let days: Vec<_> = packed(pool, meter, d(2026, 1, 1))
        .await
        .iter()
        .map(|p| p.day)
        .collect();
    assert_eq!(days, vec![d(2026, 1, 5), d(2026, 1, 6), d(2026, 1, 7)]);
}

#[tokio::test]
async fn a_writer_and_the_packer_lose_no_day_whichever_goes_first() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let meter = meter(&db).await;

    // A writer of January before anything is packed: the first packing (as of 15 February, so
    // January only) waits for it and packs its day.
    let mut writer = pool.begin().await.unwrap();
    insert(&mut writer, meter, "2026-01-05T08:00:00Z", 100, "radio").await;
    let packer = blocked(
        pool,
        "SELECT meter_month_readings_pack('2026-02-15T12:00:00Z') + $1 * 0",
        meter,
    )
    .await;
    writer.commit().await.unwrap();
    packer.await.unwrap();
    assert_eq!(packed(pool, meter, d(2026, 1, 1)).await.len(), 1);

    // The packer holding February (as of 15 March; its transaction still open): a writer of
    // February waits, then finds February packed and repacks it with its day.
    let mut conn = pool.acquire().await.unwrap();
    insert(&mut conn, meter, "2026-02-05T08:00:00Z", 200, "radio").await;
    drop(conn);
    let mut packer = pool.begin().await.unwrap();
    sqlx::query("SELECT meter_month_readings_pack('2026-03-15T12:00:00Z')")
        .execute(&mut *packer)
        .await
        .unwrap();
    let writer = blocked(
        pool,
        "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
         VALUES ($1, '2026-02-06T08:00:00Z', 210, 'radio')",
        meter,
    )
    .await;
    packer.commit().await.unwrap();
    writer.await.unwrap();
    let february = packed(pool, meter, d(2026, 2, 1)).await;
    assert_eq!(february, day_rows(pool, meter, d(2026, 2, 1)).await);
    assert_eq!(february.len(), 2);
}
