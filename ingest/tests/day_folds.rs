//! Ingest's COPY tells `meter_day_readings`' trigger to stand aside, and the writer folds the
//! days itself (`ingest/src/writer/folds.rs`): each day's first and last reading, when a newest
//! reading opens the day and when a newer day closes it. Both halves are checked here, through
//! the real writer and PostgreSQL, whether the folds go out with each batch or only when the
//! writer stops: a COPY without the setting would let the trigger move the open day's last
//! reading with every batch, and a setting without the writer's fold would leave days missing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, NaiveDate, Utc};
use ebok_common::domain::time::{day_start, local_day};
use ebok_common::domain::{ReadingFlags, ReadingSource, Register};
use ebok_ingest::alarms::FlowRules;
use ebok_ingest::pipeline::Origin;
use ebok_ingest::reading::{MeterRef, RawReading};
use ebok_ingest::validate::{MeterInfo, Rules};
use ebok_ingest::writer::{Provenance, Stats, Work, Writer, WriterConfig};
use ebok_testkit::{TestDb, fixtures};
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Per meter and day: its first reading and its last, each (instant, litres).
type DayRows = BTreeMap<(i64, NaiveDate), [(DateTime<Utc>, i64); 2]>;

/// `hour` o'clock in Warsaw, `back` days before today there.
fn warsaw(back: u64, hour: i64) -> DateTime<Utc> {
    day_start(local_day(Utc::now()) - Days::new(back)) + chrono::Duration::hours(hour)
}

async fn stored_days(pool: &PgPool) -> DayRows {
    type Row = (i64, NaiveDate, DateTime<Utc>, i64, DateTime<Utc>, i64);
    sqlx::query_as::<_, Row>(
        "SELECT meter_id, day, first_measured_at, first_volume_litres, measured_at, volume_litres
         FROM meter_day_readings",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(meter, day, first_at, first, at, litres)| {
        ((meter, day), [(first_at, first), (at, litres)])
    })
    .collect()
}

/// Writes `batches` one after another (each committed before the next is sent) through a
/// writer whose folds go out every `latest_flush`, then stops it (its last flush).
async fn write(
    pool: &PgPool,
    meter: &Arc<MeterInfo>,
    latest_flush: Duration,
    batches: &[&[(DateTime<Utc>, i64)]],
) {
    let stats = Arc::new(Stats::default());
    let writer = Writer::new(
        pool.clone(),
        WriterConfig {
            name: format!("day-folds/{}", latest_flush.as_millis()),
            batch_size: 100,
            batch_delay: Duration::from_millis(20),
            latest_flush,
            rules: Rules::default(),
            flow: FlowRules::default(),
            no_data_after: chrono::Duration::days(30),
        },
        stats.clone(),
    );
    let (tx, rx) = mpsc::channel(100);
    let task = tokio::spawn(writer.run(rx, CancellationToken::new()));
    let from = Arc::new(Provenance {
        origin: Origin::Quarantine,
        received: Instant::now(),
    });
    let mut sent = 0;
    for batch in batches {
        for &(measured_at, litres) in *batch {
            let reading = RawReading {
                meter: MeterRef::Serial("DAYS".into()),
                measured_at,
                litres,
                device_flags: ReadingFlags::default(),
                source: ReadingSource::Radio,
            };
            let work = Work::Reading {
                meter: meter.clone(),
                reading,
                from: from.clone(),
                ack: None,
            };
            tx.send(work).await.unwrap();
        }
        sent += batch.len() as u64;
        let deadline = Instant::now() + Duration::from_secs(10);
        while stats.stored.load(Ordering::Relaxed) < sent {
            assert!(Instant::now() < deadline, "the writer stored its readings");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    drop(tx);
    task.await.unwrap();
}

#[tokio::test]
async fn the_writers_copies_fold_each_day_when_it_opens_and_when_it_closes() {
    for latest_flush in [Duration::ZERO, Duration::from_secs(3600)] {
        let db = TestDb::new().await;
        let utility = fixtures::utility(&db.pool, "alfa").await;
        let point = fixtures::supply_point(&db.pool, utility).await;
        let id = fixtures::meter(&db.pool, utility, Some(point)).await;
        let meter = Arc::new(MeterInfo {
            id,
            utility_id: utility,
            register: Register::new(99_999_999).unwrap(),
            installed_at: Some(Utc::now() - chrono::Duration::days(365)),
            removed_at: None,
            max_flow_litres_per_hour: MeterInfo::max_flow_for_diameter(Some(15)),
            network: false,
        });
        let today = warsaw(0, 0) + chrono::Duration::minutes(1);
        let later_today = today + chrono::Duration::seconds(30);
        let batches: [&[(DateTime<Utc>, i64)]; 5] = [
            // Three days ago, in one batch.
            &[(warsaw(3, 8), 1_000), (warsaw(3, 12), 1_040)],
            // The day before yesterday closes it.
            &[(warsaw(2, 9), 1_100)],
            // Yesterday closes that one; today is the open day (its reading a minute after
            // midnight is in the past, or within the minutes of clock skew ingest accepts).
            &[(warsaw(1, 7), 1_200), (today, 1_260)],
            // Late: a new last reading of three days ago, and an earlier one of yesterday.
            &[(warsaw(3, 21), 1_090), (warsaw(1, 5), 1_190)],
            // The open day goes on.
            &[(later_today, 1_265)],
        ];
        write(&db.pool, &meter, latest_flush, &batches).await;

        let mut days = DayRows::new();
        for &(at, litres) in batches.iter().copied().flatten() {
            let [first, last] = days.entry((id, local_day(at))).or_insert([(at, litres); 2]);
            if at < first.0 {
                *first = (at, litres);
            }
            if at > last.0 {
                *last = (at, litres);
            }
        }
        // The open day was folded when its first reading came; its last reading moves only
        // when the writer folds it again (here: when it stops, if it had not flushed before).
        let open_day = (id, local_day(today));
        let open = days[&open_day][1];
        if latest_flush.is_zero() {
            days.get_mut(&open_day).unwrap()[1] = (today, 1_260);
        }
        assert_eq!(
            stored_days(&db.pool).await,
            days,
            "every day folded, the open one when it opened (latest_flush {latest_flush:?})"
        );
        let latest: (DateTime<Utc>, i64) = sqlx::query_as(
            "SELECT measured_at, volume_litres FROM meter_latest_readings WHERE meter_id = $1",
        )
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(latest, open, "the open day is the latest reading");
    }
}
