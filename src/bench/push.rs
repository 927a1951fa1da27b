//! `ebok bench push`: one outage notice fanned out to every registered device of an area.
//!
//! A fresh `ebok_bench_push` database gets `--devices` resident accounts in one town, each with
//! a customer, a supply point, a contract, the notification consent and one registered device.
//! A local server that speaks the FCM HTTP v1 protocol (OAuth2 token exchange with a verified
//! RS256 assertion, the send endpoint with its schema checks) runs in this process, and the real
//! client and dispatcher send to it over loopback HTTP. Each repeat enqueues one
//! `outage.announced` event for the town and times from its commit to the settling of the last
//! delivery: recipient expansion, inbox rows, deliveries, sends and their settling all count.
//! The emulator's count of accepted messages must equal the devices (none lost, none doubled).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use clap::Args;
use ebok_common::Config;
use ebok_common::config::DispatcherConfig;
use ebok_common::outbox::{self, Addressee, Event, Outage, OutboxEvent};
use mobile_push::channel::PushSender;
use mobile_push::dispatcher::Dispatcher;
use mobile_push::fcm::FcmClient;
use mobile_push::fcm::emulator::FcmEmulator;
use serde_json::json;
use sqlx::PgPool;

#[derive(Debug, Args)]
pub struct PushBenchArgs {
    /// Registered devices (one per resident account) in the outage area.
    #[arg(long, default_value_t = 100_000)]
    pub devices: i64,
    /// Repeats (one outage notice each); the median is reported.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Dispatch loops in this process.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Sends in flight per loop.
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
    /// Deliveries claimed per step.
    #[arg(long, default_value_t = 2_000)]
    pub batch: usize,
}

pub async fn run(config: Config, args: PushBenchArgs) -> Result<()> {
    let (config, stack) = crate::run::start_local_stack(config, false).await?;
    let result = bench(config, &args).await;
    if let Some(stack) = stack {
        stack.stop().await;
    }
    result
}

async fn bench(config: Config, args: &PushBenchArgs) -> Result<()> {
    let pool = super::fresh_database(&config, "ebok_bench_push", 16).await?;
    eprintln!(
        "bench: registering {} residents with a device each",
        args.devices
    );
    let utility_id = seed(&pool, args.devices).await?;

    let emulator = FcmEmulator::start();
    emulator.set_recording(false);
    let client = FcmClient::from_config(&emulator.config()).context("FCM client")?;
    let push: Arc<dyn PushSender> = Arc::new(client);
    let dispatcher = Arc::new(Dispatcher::new(
        pool.clone(),
        DispatcherConfig {
            workers: args.workers,
            batch: args.batch,
            concurrency: args.concurrency,
            poll_ms: 5,
            ..DispatcherConfig::default()
        },
        Some(push),
        None,
        "http://127.0.0.1:8080",
    ));

    let mut rates = Vec::new();
    let mut p99s = Vec::new();
    for repeat in 0..args.repeats {
        let accepted_before = emulator.accepted_count();
        let cpu_before = super::cpu_by_program();
        let started = Instant::now();
        enqueue_outage(&pool, utility_id, repeat).await?;
        let (sent, mut latencies) = drain(&dispatcher, args.workers, args.devices as usize).await?;
        let took = started.elapsed();
        let accepted = emulator.accepted_count() - accepted_before;
        ensure!(
            sent == args.devices as usize && accepted == sent as u64,
            "repeat {repeat}: {sent} settled as sent, {accepted} accepted by the emulator, {} devices",
            args.devices
        );
        latencies.sort();
        let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
        let p50 = latencies[latencies.len() / 2];
        let rate = sent as f64 / took.as_secs_f64();
        eprintln!(
            "bench: repeat {}: {sent} sends in {:.2} s = {rate:.0} sends/s; send latency p50 {:.1} ms, p99 {:.1} ms; CPU: {}",
            repeat + 1,
            took.as_secs_f64(),
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            super::cpu_delta(&cpu_before, &super::cpu_by_program()),
        );
        rates.push(rate);
        p99s.push(p99.as_secs_f64() * 1e3);
    }
    println!(
        "push sends_per_s={:.0} p99_ms={:.1}",
        super::median(rates),
        super::median(p99s)
    );
    Ok(())
}

/// Steps the dispatcher in `workers` loops until `expected` deliveries are sent; returns the
/// count and every send's latency.
async fn drain(
    dispatcher: &Arc<Dispatcher>,
    workers: usize,
    expected: usize,
) -> Result<(usize, Vec<Duration>)> {
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers.max(1) {
        let dispatcher = dispatcher.clone();
        let sent = sent.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(600);
            while sent.load(std::sync::atomic::Ordering::Relaxed) < expected {
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "fan-out did not finish in 10 minutes"
                );
                let report = dispatcher.try_dispatch_once().await?;
                anyhow::ensure!(report.failed + report.dead == 0, "sends failed: {report:?}");
                sent.fetch_add(report.sent, std::sync::atomic::Ordering::Relaxed);
                let idle = report.is_idle();
                latencies.extend(report.send_latencies);
                if idle {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done??);
    }
    Ok((sent.load(std::sync::atomic::Ordering::Relaxed), latencies))
}

async fn enqueue_outage(pool: &PgPool, utility_id: i64, repeat: usize) -> Result<()> {
    let mut tx = pool.begin().await?;
    outbox::enqueue(
        &mut tx,
        &OutboxEvent {
            utility_id,
            event: Event::OutageAnnounced(Outage {
                outage_id: repeat as i64 + 1,
                kind: "failure".into(),
                title: "Awaria magistrali przy ul. Długiej".into(),
                area: "Benchowo".into(),
                starts_at: chrono::Utc::now(),
                ends_at: Some(chrono::Utc::now() + chrono::Duration::hours(6)),
                description: None,
            }),
            to: Addressee::Audience(json!({ "residents_in_area": { "cities": ["Benchowo"] } })),
            dedup_key: Some(format!("bench-outage-{repeat}")),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One utility with `n` residents in the town Benchowo, each fully linked, consenting and with
/// one device.
async fn seed(pool: &PgPool, n: i64) -> Result<i64> {
    let utility_id: i64 = sqlx::query_scalar(
        "INSERT INTO utilities (slug, municipality, name, city)
         VALUES ('bench', 'Gmina Benchowo', 'Wodociągi Benchowo', 'Benchowo') RETURNING id",
    )
    .fetch_one(pool)
    .await?;
    let statements = [
        "INSERT INTO tariff_groups (utility_id, code, name)
         SELECT $1, 'G1', 'Gospodarstwa domowe' WHERE $2::bigint > 0",
        "INSERT INTO customers (utility_id, customer_number, kind, first_name, last_name, name, city)
         SELECT $1, 'K' || i, 'person', 'Jan', 'Kowalski', 'Jan Kowalski', 'Benchowo'
         FROM generate_series(1, $2) i",
        "INSERT INTO supply_points (utility_id, code, street, building_no, postal_code, city)
         SELECT $1, 'PP' || i, 'Długa', i::text, '14-420', 'Benchowo' FROM generate_series(1, $2) i",
        "INSERT INTO contracts (utility_id, number, customer_id, supply_point_id, tariff_group_id,
                                valid_from, status, signed_at)
         SELECT $1, 'U' || c.id, c.id, sp.id, (SELECT id FROM tariff_groups WHERE utility_id = $1),
                current_date - 30, 'active', now()
         FROM customers c JOIN supply_points sp
           ON sp.utility_id = c.utility_id AND substr(sp.code, 3) = substr(c.customer_number, 2)
         WHERE c.utility_id = $1 AND $2 > 0",
        "INSERT INTO user_accounts (utility_id, email, role, status, display_name, activated_at)
         SELECT $1, 'mieszkaniec' || i || '@bench.example', 'resident', 'active', 'Mieszkaniec ' || i, now()
         FROM generate_series(1, $2) i",
        "INSERT INTO account_customers (utility_id, account_id, customer_id, linked_via)
         SELECT $1, ua.id, c.id, 'activation_code'
         FROM user_accounts ua JOIN customers c
           ON c.utility_id = ua.utility_id
          AND c.customer_number = 'K' || substring(ua.email FROM '^mieszkaniec([0-9]+)@')
         WHERE ua.utility_id = $1 AND $2 > 0",
        "INSERT INTO consents (utility_id, account_id, kind, form_version)
         SELECT $1, id, 'notifications', 'bench' FROM user_accounts WHERE utility_id = $1 AND $2 > 0",
        "INSERT INTO push_devices (utility_id, account_id, token, platform, app_version)
         SELECT $1, id, 'bench-device-' || id || '-' || md5(id::text), 'android', '1.0.0'
         FROM user_accounts WHERE utility_id = $1 AND $2 > 0",
    ];
    for statement in statements {
        sqlx::query(statement)
            .bind(utility_id)
            .bind(n)
            .execute(pool)
            .await
            .with_context(|| format!("seeding: {}", statement.lines().next().unwrap_or("")))?;
    }
    sqlx::query("ANALYZE").execute(pool).await?;
    Ok(utility_id)
}
