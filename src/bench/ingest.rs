//! `ebok bench ingest` creates a fresh `ebok_bench` database with a fleet of meters, then:
//! 1. copies the rows of the batch load straight into `meter_readings` with one binary `COPY`
//!    (the raw limit of this database on this machine), `--repeats` times into an empty table;
//! 2. starts ingest in this process and publishes single-reading messages through the real
//!    broker (pre-encoded, over several connections, QoS 1), timing from the first publish to the
//!    moment the last reading is committed;
//! 3. does the same with gateway batches of 10,000 readings;
//! 4. and, before ingest starts, measures the broker's own floor for the single-reading load:
//!    the same publisher and messages through Mosquitto to a subscriber with ingest's MQTT
//!    settings that only acknowledges (QoS 1 pass-through). Ingest's figures are printed as
//!    ratios of these two limits, `single_ratio` and `batch_ratio`;
//! 5. reports the bytes a stored reading takes on the store (`--store plain|timescale`), as
//!    ingest wrote it and after compression (TimescaleDB's; plain PostgreSQL has none).
//!
//! The loads are published as the bench utility's gateway `bench` (re-keyed at start, see
//! `crate::gateway`). Each load uses its own later time window, so every reading is new to
//! ingest (the fast path a live stream takes). Faults are off: a fresh fleet's first readings would otherwise raise every
//! active alarm at once, which a live stream does once per episode. Medians are printed; the
//! last line is machine-readable.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Args;
use ebok_common::Config;
use ebok_common::domain::ReadingSource;
use ebok_ingest::copy::{COPY_READINGS, ReadingsCopy};
use firmware_sim::model::{FaultRates, FleetSpec};
use firmware_sim::publish::{BlastConfig, BlastLoad, Broker, blast, blast_readings};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::store::{self, Store};

#[derive(Debug, Args)]
pub struct IngestBenchArgs {
    /// Meters of the bench fleet.
    #[arg(long, default_value_t = 100_000)]
    pub meters: u64,
    /// Single-reading messages per repeat.
    #[arg(long, default_value_t = 200_000)]
    pub singles: usize,
    /// Gateway batches per repeat.
    #[arg(long, default_value_t = 80)]
    pub batches: usize,
    /// Readings per gateway batch (at most 10,000).
    #[arg(long, default_value_t = 10_000)]
    pub batch_readings: usize,
    /// Parallel publisher connections.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Ingest writer shards.
    #[arg(long, default_value_t = 2)]
    pub writers: usize,
    /// Measurements of each figure; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Keep the bench database afterwards.
    #[arg(long)]
    pub keep: bool,
    /// The time-series store to measure (default: whatever the stack or server has).
    #[arg(long, value_enum)]
    pub store: Option<Store>,
}

pub async fn ingest(mut config: Config, args: IngestBenchArgs) -> Result<()> {
    if let Some(store) = args.store {
        store.configure(&mut config);
    }
    let (config, stack) = crate::run::start_local_stack(config, true).await?;
    let result = run_ingest(config, &args).await;
    if let Some(stack) = stack {
        stack.stop().await;
    }
    result
}

async fn run_ingest(config: Config, args: &IngestBenchArgs) -> Result<()> {
    let broker_url = config.mqtt.url.clone().context("no broker")?;
    let pool = super::fresh_database(&config, "ebok_bench", 24).await?;
    let store = store::of(&pool, args.store).await?;
    eprintln!("bench: readings stored on {}", store.name());

    let mut fleet = FleetSpec::new(4242, crate::demo::seed::fleet_start());
    fleet.faults = FaultRates::none();
    eprintln!("bench: registering {} meters", args.meters);
    let meter_ids = register_meters(&pool, &fleet, args.meters).await?;

    let base = Utc::now() - chrono::Duration::days(40);
    let window = |k: usize| base + chrono::Duration::hours(12 * k as i64);
    let prefix = format!("bench/{}/", std::process::id());
    let load = |k: usize, load: BlastLoad| BlastConfig {
        fleet,
        meters: 0..args.meters,
        utility: "bench".into(),
        topic_prefix: prefix.clone(),
        from: window(k),
        per_day: 24,
        load,
        connections: args.connections,
        max_in_flight: 1000,
        manifest: false,
    };

    // 1. The raw limit: one binary COPY of the batch load's rows into an empty table.
    let rows = blast_readings(&load(
        0,
        BlastLoad::Batches {
            batches: args.batches,
            readings_per_batch: args.batch_readings,
        },
    ));
    // Two ways of copying: the whole load in one COPY, and one COPY per 10,000 rows, each in its
    // own transaction (how ingest writes). The faster is the raw limit we compare against.
    let mut raw = Vec::new();
    for _ in 0..args.repeats {
        let mut best: f64 = 0.0;
        for chunk in [rows.len(), args.batch_readings] {
            reset(&pool).await?;
            let mut conn = pool.acquire().await?;
            let started = Instant::now();
            let mut copied = 0;
            for part in rows.chunks(chunk) {
                let mut copy = ReadingsCopy::with_capacity(part.len());
                for r in part {
                    copy.push(
                        meter_ids[r.meter_index as usize],
                        r.measured_at,
                        r.litres as i64,
                        ReadingSource::Radio,
                        0,
                    );
                }
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                // A plain COPY: without the day-readings trigger's fold (migration 0012), which
                // ingest also skips for its COPY (it folds coalesced, in its flush).
                sqlx::query("SELECT set_config('ebok.day_readings', 'deferred', true)")
                    .execute(&mut *tx)
                    .await?;
                let mut sink = tx.copy_in_raw(COPY_READINGS).await?;
                sink.send(copy.finish()).await?;
                copied += sink.finish().await?;
                tx.commit().await?;
            }
            let rate = copied as f64 / started.elapsed().as_secs_f64();
            eprintln!(
                "bench: raw COPY of {copied} rows, {chunk} rows per transaction: {rate:.0} rows/s"
            );
            best = best.max(rate);
        }
        raw.push(best);
    }
    reset(&pool).await?;

    // 2 and 3. Through the broker and ingest.
    let shutdown = CancellationToken::new();
    let mut ingest_config = config.ingest.clone();
    ingest_config.client_id = format!("ebok-bench-{}", std::process::id());
    ingest_config.topics = vec![format!("{prefix}ebok/+/readings")];
    ingest_config.wmbusmeters_topics = vec![format!("{prefix}wmbusmeters/+/#")];
    ingest_config.writers = args.writers;
    ingest_config.batch_size = 10_000;
    ingest_config.queue_capacity = 200_000;
    ingest_config.session_expiry_secs = 60;
    // The bench fleet has no history; a no-data scan would raise an alarm for every meter.
    ingest_config.no_data_days = 3650;
    let filters: Vec<&str> = ingest_config
        .topics
        .iter()
        .chain(&ingest_config.wmbusmeters_topics)
        .map(String::as_str)
        .collect();
    let login = crate::gateway::publisher_login(&config, &pool, "bench", "bench", &filters).await?;

    // 4. The broker's floor, before ingest subscribes (its session does not exist yet, so the
    //    broker keeps nothing of these messages for it).
    let mut floors = Vec::new();
    for rep in 0..args.repeats {
        let rate = broker_floor(
            &ingest_config,
            &config.mqtt,
            load(
                1 + 2 * rep,
                BlastLoad::Singles {
                    messages: args.singles,
                },
            ),
            &broker_url,
            login.clone(),
        )
        .await?;
        eprintln!(
            "bench: broker alone, {} single-reading messages: {rate:.0} messages/s",
            args.singles
        );
        floors.push(rate);
    }
    let mut ingest = ebok_ingest::service::start(
        pool.clone(),
        ingest_config,
        config.mqtt.clone(),
        ebok_ingest::service::Intervals::default(),
        shutdown.clone(),
    )
    .await?;
    tokio::time::timeout(Duration::from_secs(30), ingest.subscribed())
        .await
        .context("ingest did not subscribe within 30 s")?;

    let mut singles = Vec::new();
    let mut batches = Vec::new();
    for rep in 0..args.repeats {
        let rate = through_ingest(
            &ingest.stats,
            load(
                1 + 2 * rep,
                BlastLoad::Singles {
                    messages: args.singles,
                },
            ),
            &broker_url,
            login.clone(),
        )
        .await?;
        eprintln!(
            "bench: {} single-reading messages: {rate:.0} messages/s",
            args.singles
        );
        singles.push(rate);
        let rate = through_ingest(
            &ingest.stats,
            load(
                2 + 2 * rep,
                BlastLoad::Batches {
                    batches: args.batches,
                    readings_per_batch: args.batch_readings,
                },
            ),
            &broker_url,
            login.clone(),
        )
        .await?;
        eprintln!(
            "bench: {} batches of {} readings: {rate:.0} readings/s",
            args.batches, args.batch_readings
        );
        batches.push(rate);
    }
    shutdown.cancel();
    let _ = ingest.task.await;
    // 5. What a reading costs on disk, as ingest wrote it and compressed.
    let bytes = store::bytes_per_reading(&pool, store).await?;
    let compressed = store::compressed_bytes_per_reading(&pool, store).await?;
    pool.close().await;
    if !args.keep {
        super::drop_database(&config, "ebok_bench").await?;
    }

    let (single, batch, raw, floor) = (
        super::median(singles),
        super::median(batches),
        super::median(raw),
        super::median(floors),
    );
    println!(
        "ingest benchmark ({} repeats, medians; broker, database and simulator on this machine; \
         readings on {})",
        args.repeats,
        store.name()
    );
    println!("  single-reading messages, published → committed : {single:>10.0} messages/s");
    println!("  the same through the broker alone (QoS 1)      : {floor:>10.0} messages/s");
    println!(
        "  single / broker alone                          : {:>10.2}",
        single / floor
    );
    println!(
        "  gateway batches of {:>5} readings              : {batch:>10.0} readings/s",
        args.batch_readings
    );
    println!("  raw binary COPY of the same rows               : {raw:>10.0} rows/s");
    println!(
        "  batch / raw COPY                               : {:>10.2}",
        batch / raw
    );
    println!("  bytes per stored reading, as written           : {bytes:>10.1}");
    println!("  bytes per stored reading, compressed           : {compressed:>10.1}");
    println!(
        "ingest store={} single_msgs_per_s={single:.0} broker_floor_msgs_per_s={floor:.0} \
         single_ratio={:.2} batch_readings_per_s={batch:.0} raw_copy_rows_per_s={raw:.0} \
         batch_ratio={:.2} bytes_per_reading={bytes:.1} compressed_bytes_per_reading={compressed:.1}",
        store.name(),
        single / floor,
        batch / raw
    );
    Ok(())
}

/// Publishes a load and returns readings per second from the first publish to the commit of
/// the last reading.
async fn through_ingest(
    stats: &ebok_ingest::writer::Stats,
    load: BlastConfig,
    broker_url: &str,
    login: Option<(String, String)>,
) -> Result<f64> {
    use std::sync::atomic::Ordering;
    let before = stats.stored.load(Ordering::Relaxed);
    let mut broker =
        Broker::from_url(broker_url, format!("ebok-bench-pub-{}", std::process::id()))?;
    broker.credentials = login;
    let cpu_before = super::cpu_by_program();
    let report = blast(load, broker, CancellationToken::new()).await?;
    if let Some(rate) = report.readings_per_second() {
        eprintln!("bench:   published (broker acknowledged) at {rate:.0} readings/s");
    }
    anyhow::ensure!(
        report.failed == 0 && report.refused == 0,
        "the broker refused messages"
    );
    let target = before + report.readings;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut last_report = Instant::now();
    while stats.stored.load(Ordering::Relaxed) < target {
        let committed = stats.stored.load(Ordering::Relaxed) - before;
        anyhow::ensure!(
            Instant::now() < deadline,
            "ingest did not commit the load within 10 minutes ({committed} of {} readings)",
            report.readings
        );
        if last_report.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "bench: waiting for ingest: {committed} of {} readings committed, {} items settled",
                report.readings,
                stats.settled()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = report.started.elapsed().as_secs_f64();
    eprintln!(
        "bench:   {elapsed:.2} s wall; CPU used: {}",
        super::cpu_delta(&cpu_before, &super::cpu_by_program())
    );
    Ok(report.readings as f64 / elapsed)
}

/// The single-reading load through the broker alone: the same publisher and messages, received
/// by a subscriber with ingest's MQTT settings (its flow control and packet limit) whose client
/// acknowledges each message as it arrives, doing nothing else. Messages per second from the
/// first publish to the last message received.
async fn broker_floor(
    ingest: &ebok_common::config::IngestConfig,
    mqtt: &ebok_common::config::MqttConfig,
    load: BlastConfig,
    broker_url: &str,
    login: Option<(String, String)>,
) -> Result<f64> {
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::mqttbytes::v5::Packet;
    use rumqttc::v5::{AsyncClient, Event};

    let mut floor = ingest.clone();
    floor.client_id = format!("ebok-bench-floor-{}", std::process::id());
    let mut options = ebok_ingest::mqtt::client_options(&floor, mqtt)?;
    options.set_clean_start(true).set_manual_acks(false);
    let (client, mut events) = AsyncClient::new(options, 10_000);
    for filter in &ingest.topics {
        client.subscribe(filter.clone(), QoS::AtLeastOnce).await?;
    }
    let mut acked = 0;
    while acked < ingest.topics.len() {
        if let Event::Incoming(Packet::SubAck(_)) = events.poll().await? {
            acked += 1;
        }
    }
    let expected = match load.load {
        BlastLoad::Singles { messages } => messages as u64,
        BlastLoad::Batches { batches, .. } => batches as u64,
    };
    let receiver = tokio::spawn(async move {
        let mut received = 0u64;
        let mut last = Instant::now();
        while received < expected {
            if let Event::Incoming(Packet::Publish(_)) = events.poll().await? {
                received += 1;
                last = Instant::now();
            }
        }
        // Let the last acknowledgements go out before the connection is dropped.
        let _ = tokio::time::timeout(Duration::from_millis(200), async {
            loop {
                events.poll().await?;
            }
            #[allow(unreachable_code)]
            Ok::<(), rumqttc::v5::ConnectionError>(())
        })
        .await;
        Ok::<Instant, rumqttc::v5::ConnectionError>(last)
    });
    let mut broker =
        Broker::from_url(broker_url, format!("ebok-bench-pub-{}", std::process::id()))?;
    broker.credentials = login;
    let report = blast(load, broker, CancellationToken::new()).await?;
    anyhow::ensure!(
        report.failed == 0 && report.refused == 0 && report.messages == expected,
        "the broker refused messages"
    );
    let last = tokio::time::timeout(Duration::from_secs(120), receiver)
        .await
        .context("the broker did not deliver the load within 2 minutes")???;
    let _ = client.disconnect().await;
    Ok(report.messages as f64 / (last - report.started.into_std()).as_secs_f64())
}

/// Empties the readings and checkpoints, so each measurement starts from the same state.
async fn reset(pool: &PgPool) -> Result<()> {
    sqlx::query("TRUNCATE meter_readings, meter_latest_readings, meter_day_readings")
        .execute(pool)
        .await?;
    sqlx::query("CHECKPOINT").execute(pool).await?;
    Ok(())
}

/// Inserts the fleet's meters as installed radio meters; returns their ids by fleet index.
async fn register_meters(pool: &PgPool, fleet: &FleetSpec, n: u64) -> Result<Vec<i64>> {
    let utility: i64 = sqlx::query_scalar(
        "INSERT INTO utilities (slug, municipality, name) VALUES ('bench', 'Benchmark', 'Benchmark')
         RETURNING id",
    )
    .fetch_one(pool)
    .await?;
    let models: Vec<_> = fleet.meters(0..n).collect();
    let serials: Vec<String> = models.iter().map(|m| m.serial().to_string()).collect();
    let radios: Vec<String> = models
        .iter()
        .map(|m| format!("{:08x}", m.radio_id().0))
        .collect();
    let maxima: Vec<i64> = models.iter().map(|m| m.register_max() as i64).collect();
    let inserted: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO meters (utility_id, serial, radio_id, channel, register_max_litres,
                             diameter_mm)
         SELECT $1, s, r, 'wmbus', x, 20
         FROM unnest($2::text[], $3::text[], $4::bigint[]) AS u(s, r, x)
         RETURNING id, serial",
    )
    .bind(utility)
    .bind(&serials)
    .bind(&radios)
    .bind(&maxima)
    .fetch_all(pool)
    .await?;
    let by_serial: std::collections::HashMap<String, i64> =
        inserted.into_iter().map(|(id, s)| (s, id)).collect();
    let ids: Vec<i64> = serials.iter().map(|s| by_serial[s]).collect();
    // Installed at one supply point each, long before the bench windows.
    sqlx::query(
        "WITH p AS (
             INSERT INTO supply_points (utility_id, code, building_no, postal_code, city)
             SELECT $1, 'B-' || m.id, '1', '00-001', 'Bench' FROM meters m WHERE m.utility_id = $1
             RETURNING id, code)
         UPDATE meters m SET supply_point_id = p.id, installed_at = $2
         FROM p WHERE p.code = 'B-' || m.id",
    )
    .bind(utility)
    .bind(fleet.start - chrono::Duration::days(1))
    .execute(pool)
    .await?;
    anyhow::ensure!(
        ids.len() as u64 == n,
        "registered {} of {n} meters",
        ids.len()
    );
    Ok(ids)
}
