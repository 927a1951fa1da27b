//! The same answers on both stores. `scripts/test.sh` runs this module on plain PostgreSQL and
//! again on PostgreSQL with TimescaleDB, with the plain server still up beside it
//! (`EBOK_TEST_PLAIN_DATABASE_URL`): the same readings go through ingest's real writer into a
//! database on each, TimescaleDB compresses its older chunks, late readings land in them, the
//! closed months are packed, and then every read the residents, billing and staff make must
//! answer the same on both, to the litre and the microsecond.
//!
//! Run on one store alone (the plain pass, or by hand), it checks the same scenario against the
//! figures written here.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use ebok_common::domain::time::day_start;
use ebok_common::domain::{ReadingFlags, ReadingSource, Register};
use ebok_ingest::alarms::FlowRules;
use ebok_ingest::maintenance;
use ebok_ingest::pipeline::Origin;
use ebok_ingest::reading::{MeterRef, RawReading};
use ebok_ingest::validate::{MeterInfo, Rules};
use ebok_ingest::writer::{Provenance, Stats, Work, Writer, WriterConfig};
use ebok_readings::access::Viewer;
use ebok_readings::history::{self, Step};
use ebok_testkit::db::{Store, expected_store, plain_server_url, store};
use ebok_testkit::{TestDb, fixtures};
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

const FIRST: (i32, u32, u32) = (2026, 1, 1);
const LAST: (i32, u32, u32) = (2026, 5, 31);

/// One household's meter, with its viewer.
struct Home {
    viewer: Viewer,
    meter: Arc<MeterInfo>,
}

async fn home(pool: &PgPool, utility: i64, email: &str) -> Home {
    let h = fixtures::household(pool, utility, email).await;
    Home {
        viewer: Viewer {
            utility_id: utility,
            account_id: h.account_id,
        },
        meter: Arc::new(MeterInfo {
            id: h.meter_id,
            utility_id: utility,
            register: Register::new(99_999).unwrap(),
            installed_at: Some("2025-01-01T00:00:00Z".parse().unwrap()),
            removed_at: None,
            max_flow_litres_per_hour: MeterInfo::max_flow_for_diameter(Some(15)),
            network: false,
        }),
    }
}

/// Sends readings through ingest's writer (COPY, its own day folds), waits until each is
/// settled, and returns how many were duplicates (none may be refused).
async fn write(pool: &PgPool, readings: Vec<(Arc<MeterInfo>, DateTime<Utc>, i64)>) -> u64 {
    let stats = Arc::new(Stats::default());
    let writer = Writer::new(
        pool.clone(),
        WriterConfig {
            name: "stores".into(),
            batch_size: 500,
            batch_delay: Duration::from_millis(20),
            latest_flush: Duration::from_millis(50),
            rules: Rules::default(),
            flow: FlowRules::default(),
            no_data_after: chrono::Duration::days(30),
        },
        stats.clone(),
    );
    let (tx, rx) = mpsc::channel(1000);
    let task = tokio::spawn(writer.run(rx, CancellationToken::new()));
    let from = Arc::new(Provenance {
        origin: Origin::Quarantine,
        received: Instant::now(),
    });
    let sent = readings.len() as u64;
    for (meter, measured_at, litres) in readings {
        let reading = RawReading {
            meter: MeterRef::Serial("STORES".into()),
            measured_at,
            litres,
            device_flags: ReadingFlags::default(),
            source: ReadingSource::Radio,
        };
        tx.send(Work::Reading {
            meter,
            reading,
            from: from.clone(),
            ack: None,
        })
        .await
        .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while stats.settled() < sent {
        assert!(Instant::now() < deadline, "the writer settled its readings");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(tx);
    task.await.unwrap();
    let refused =
        stats.rejected.load(Ordering::Relaxed) + stats.quarantined.load(Ordering::Relaxed);
    assert_eq!(refused, 0, "every reading of the scenario is plausible");
    stats.duplicates.load(Ordering::Relaxed)
}

/// Loads the scenario into `pool` and returns every answer, printed.
async fn scenario(pool: &PgPool) -> Vec<String> {
    let utility = fixtures::utility(pool, "alfa").await;
    let a = home(pool, utility, "a@example.pl").await;
    let b = home(pool, utility, "b@example.pl").await;
    sqlx::query("UPDATE meters SET installed_at = '2025-01-01T00:00:00Z'")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE contracts SET valid_from = '2025-01-01'")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("SELECT ebok_ensure_reading_partitions('2025-12-01', '2026-07-01')")
        .execute(pool)
        .await
        .unwrap();

    // Meter A every hour, 10–40 litres an hour by the time of day; meter B every six hours,
    // silent for a week in March (across the spring clock change, 29 March).
    let mut readings = Vec::new();
    let (mut litres_a, mut litres_b) = (1_000i64, 50_000i64);
    let mut at = day_start(d(FIRST.0, FIRST.1, FIRST.2));
    let end = day_start(d(LAST.0, LAST.1, LAST.2).succ_opt().unwrap());
    let gap = (day_start(d(2026, 3, 25)), day_start(d(2026, 4, 1)));
    let mut hour = 0i64;
    while at < end {
        litres_a += 10 + (hour % 24) + (hour % 7);
        readings.push((a.meter.clone(), at, litres_a));
        if hour % 6 == 0 {
            litres_b += 60 + (hour % 11) * 3;
            if !(gap.0..gap.1).contains(&at) {
                readings.push((b.meter.clone(), at, litres_b));
            }
        }
        at += chrono::Duration::hours(1);
        hour += 1;
    }
    let total = readings.len();
    assert_eq!(write(pool, readings).await, 0);

    // TimescaleDB compresses what is older than 30 days (all of it, here); plain does nothing.
    if maintenance::set_compression(pool, 30).await.unwrap() {
        let job: i32 = sqlx::query_scalar(
            "SELECT job_id FROM timescaledb_information.jobs
             WHERE proc_name = 'policy_compression' AND hypertable_name = 'meter_readings'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CALL run_job({job})")))
            .execute(pool)
            .await
            .unwrap();
        let compressed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM timescaledb_information.chunks
             WHERE hypertable_name = 'meter_readings' AND is_compressed",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        assert!(compressed >= 20, "{compressed} chunks compressed");
    }
    // Late readings into old (compressed) chunks: meter B's silent week arrives after all, with a
    // duplicate of a stored reading that must not count twice.
    // (60 litres each six hours: never past what B read after the week.)
    let mut litres: i64 = sqlx::query_scalar(
        "SELECT volume_litres FROM meter_readings WHERE meter_id = $1 AND measured_at < $2
         ORDER BY measured_at DESC LIMIT 1",
    )
    .bind(b.meter.id)
    .bind(gap.0)
    .fetch_one(pool)
    .await
    .unwrap();
    let mut late = Vec::new();
    let mut at = gap.0;
    while at < gap.1 {
        litres += 60;
        late.push((b.meter.clone(), at, litres));
        at += chrono::Duration::hours(6);
    }
    let duplicate: (DateTime<Utc>, i64) = sqlx::query_as(
        "SELECT measured_at, volume_litres FROM meter_readings WHERE meter_id = $1
         ORDER BY measured_at LIMIT 1",
    )
    .bind(a.meter.id)
    .fetch_one(pool)
    .await
    .unwrap();
    late.push((a.meter.clone(), duplicate.0, duplicate.1));
    let late_count = late.len() - 1;
    assert_eq!(write(pool, late).await, 1, "the duplicate");
    maintenance::pack_closed_months(pool).await.unwrap();

    let mut answers = Vec::new();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM meter_readings")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(stored as usize, total + late_count, "stored once each");
    answers.push(format!("stored {stored}"));
    let mut conn = pool.acquire().await.unwrap();
    let (from, to) = (d(FIRST.0, FIRST.1, FIRST.2), d(LAST.0, LAST.1, LAST.2));
    for h in [&a, &b] {
        let (v, m) = (h.viewer, h.meter.id);
        answers.push(format!("{:?}", history::current(&mut conn, v, m).await));
        for step in [Step::Day, Step::Month] {
            let points = history::history(&mut conn, v, m, from, to, step).await;
            answers.push(format!("{step:?} {points:?}"));
        }
        answers.push(format!(
            "billing {:?}",
            history::billing_readings(&mut conn, v, m, from, to).await
        ));
        let mut day = from;
        while day <= to {
            answers.push(format!(
                "{day} {:?}",
                history::on_day(&mut conn, v, m, day).await
            ));
            day = day.succ_opt().unwrap();
        }
    }
    // The raw rows as staff and the alarm rules read them: per meter and Warsaw day.
    let raw: Vec<(i64, NaiveDate, i64, i64, i64)> = sqlx::query_as(
        "SELECT meter_id, (measured_at AT TIME ZONE 'Europe/Warsaw')::date AS day, count(*),
                min(volume_litres), max(volume_litres)
         FROM meter_readings GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    answers.push(format!("raw {raw:?}"));
    answers
}

#[tokio::test]
async fn every_read_answers_the_same_on_plain_postgresql_and_on_timescaledb() {
    let db = TestDb::new().await;
    let this = store(&db.pool).await;
    let here = scenario(&db.pool).await;

    // Figures of the scenario, on any store: 151 days of hourly readings of A (less the hour
    // the spring clock change skips), every sixth of them for B (its silent week filled late),
    // the duplicate ignored.
    assert_eq!(here[0], format!("stored {}", (151 * 24 - 1) + 604));
    assert!(here[1].contains("litres"), "{}", here[1]);

    let other = match (this, plain_server_url()) {
        (Store::Timescale, Some(plain)) => TestDb::on(plain).await,
        (Store::Timescale, None) if expected_store() == Some(Store::Timescale) => {
            panic!(
                "the TimescaleDB pass compares with plain PostgreSQL: no EBOK_TEST_PLAIN_DATABASE_URL"
            )
        }
        _ => return,
    };
    assert_eq!(store(&other.pool).await, Store::Plain);
    let there = scenario(&other.pool).await;
    assert_eq!(here.len(), there.len());
    for (timescale, plain) in here.iter().zip(&there) {
        assert_eq!(
            timescale, plain,
            "TimescaleDB (left) and plain PostgreSQL (right)"
        );
    }
}
