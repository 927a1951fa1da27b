//! `ebok bench api`: the resident API's two hot reads under load, over real HTTP.
//!
//! A database `ebok_bench_api` holds `--meters` meters (each with its resident account, customer,
//! supply point and contract) and `--days` daily readings of each (100,000 × 365 = 36.5 million
//! rows by default). It is generated once and kept: a later run with the same sizes reuses it
//! (`--regenerate` rebuilds it). The API runs in this process on a loopback port with its own
//! pool; `--clients` concurrent clients (each one a loop: request, wait for the answer, next) send
//! bearer-authenticated requests for random meters of their own accounts:
//!
//! - **reading on a day**: `GET /api/v1/meters/{id}/reading?day=…` for a random day of the year;
//! - **one year of daily history**: `GET /api/v1/meters/{id}/history?from=…&to=…` (365 points).
//!
//! For comparison the same on-day lookup is also timed without HTTP, through the library
//! function at the same concurrency (`raw`): the difference is what HTTP, JSON and the token
//! cost. Access tokens are minted with the installation's key, as a login would. Last line:
//! `api reading_on_day_p99_ms=N history_year_p99_ms=N rps=N` (rps of the on-day scenario).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use chrono::{Days, Utc};
use clap::Args;
use ebok_common::Config;
use ebok_common::domain::time::local_day;
use rand::{Rng, SeedableRng};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Args)]
pub struct ApiBenchArgs {
    /// Meters, each with its own resident account.
    #[arg(long, default_value_t = 100_000)]
    pub meters: i64,
    /// Daily readings per meter.
    #[arg(long, default_value_t = 365)]
    pub days: i64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Seconds measured per scenario and repeat (after a warm-up of a quarter of it).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Repeats; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Database connections of the API.
    #[arg(long, default_value_t = 16)]
    pub connections: u32,
    /// Rebuild the dataset even if one of the same size exists.
    #[arg(long)]
    pub regenerate: bool,
}

const DATABASE: &str = "ebok_bench_api";

pub async fn run(config: Config, args: ApiBenchArgs) -> Result<()> {
    let (config, stack) = crate::run::start_local_stack(config).await?;
    let result = bench(config, &args).await;
    if let Some(stack) = stack {
        stack.stop().await;
    }
    result
}

async fn bench(config: Config, args: &ApiBenchArgs) -> Result<()> {
    let pool = dataset(&config, args).await?;
    let utility_id: i64 = sqlx::query_scalar("SELECT id FROM utilities WHERE slug = 'bench'")
        .fetch_one(&pool)
        .await?;
    // (meter, account) pairs: each client asks for its own account's meter.
    let pairs: Vec<(i64, i64)> =
        sqlx::query_as("SELECT meter_id, account_id FROM account_meters WHERE utility_id = $1")
            .bind(utility_id)
            .fetch_all(&pool)
            .await?;
    ensure!(
        pairs.len() as i64 == args.meters,
        "dataset has {} visible meters, expected {}",
        pairs.len(),
        args.meters
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let state = ebok_api::AppState::new(pool.clone(), &format!("http://{addr}")).await?;
    let keys = state.keys.clone();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(ebok_api::serve(listener, state, shutdown.clone()));
    let tokens: Arc<Vec<(i64, String)>> = Arc::new(
        pairs
            .iter()
            .map(|(meter, account)| (*meter, keys.sign(*account, utility_id, 0, "resident")))
            .collect(),
    );

    let today = local_day(Utc::now());
    let first_day = today - Days::new(args.days as u64);
    let base = format!("http://{addr}/api/v1");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients * 2)
        .tcp_nodelay(true)
        .build()?;

    // A sanity check that the answers are right before timing them.
    let (meter, token) = &tokens[0];
    let check: serde_json::Value = client
        .get(format!(
            "{base}/meters/{meter}/reading?day={}",
            today - Days::new(1)
        ))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    ensure!(
        check["reading"]["litres"].is_i64(),
        "unexpected answer: {check}"
    );

    let mut on_day = Vec::new();
    let mut history = Vec::new();
    let mut raw = Vec::new();
    for repeat in 1..=args.repeats {
        let days = args.days;
        let r = measure(args, {
            let (client, base, tokens) = (client.clone(), base.clone(), tokens.clone());
            move |rng: &mut rand_chacha::ChaCha8Rng| {
                let (meter, token) = &tokens[rng.random_range(0..tokens.len())];
                let day = first_day + Days::new(rng.random_range(1..=days) as u64);
                let request = client
                    .get(format!("{base}/meters/{meter}/reading?day={day}"))
                    .bearer_auth(token);
                async move {
                    let response = request.send().await?;
                    ensure!(response.status() == 200, "status {}", response.status());
                    response.bytes().await?;
                    Ok(())
                }
            }
        })
        .await?;
        eprintln!("bench: repeat {repeat} reading on a day: {}", r.describe());
        on_day.push(r);

        let r = measure(args, {
            let (client, base, tokens) = (client.clone(), base.clone(), tokens.clone());
            move |rng: &mut rand_chacha::ChaCha8Rng| {
                let (meter, token) = &tokens[rng.random_range(0..tokens.len())];
                let request = client
                    .get(format!(
                        "{base}/meters/{meter}/history?from={}&to={today}",
                        today - Days::new(364)
                    ))
                    .bearer_auth(token);
                async move {
                    let response = request.send().await?;
                    ensure!(response.status() == 200, "status {}", response.status());
                    response.bytes().await?;
                    Ok(())
                }
            }
        })
        .await?;
        eprintln!(
            "bench: repeat {repeat} one year of daily history: {}",
            r.describe()
        );
        history.push(r);

        let r = measure(args, {
            let (pool, pairs) = (pool.clone(), Arc::new(pairs.clone()));
            move |rng: &mut rand_chacha::ChaCha8Rng| {
                let (meter, account) = pairs[rng.random_range(0..pairs.len())];
                let day = first_day + Days::new(rng.random_range(1..=days) as u64);
                let pool = pool.clone();
                async move {
                    let viewer = ebok_readings::access::Viewer {
                        utility_id,
                        account_id: account,
                    };
                    ebok_readings::history::on_day(&pool, viewer, meter, day).await?;
                    Ok(())
                }
            }
        })
        .await?;
        eprintln!(
            "bench: repeat {repeat} on-day lookup without HTTP (raw): {}",
            r.describe()
        );
        raw.push(r);
    }
    shutdown.cancel();
    let _ = server.await;

    let med = |rs: &[Run], f: fn(&Run) -> f64| super::median(rs.iter().map(f).collect());
    println!(
        "api dataset: {} meters × {} days; {} clients; {} s per scenario, {} repeats (medians)",
        args.meters, args.days, args.clients, args.seconds, args.repeats
    );
    println!(
        "api reading on a day: p50 {:.2} ms, p99 {:.2} ms, {:.0} requests/s",
        med(&on_day, |r| r.p50_ms),
        med(&on_day, |r| r.p99_ms),
        med(&on_day, |r| r.rps)
    );
    println!(
        "api one year of daily history: p50 {:.2} ms, p99 {:.2} ms, {:.0} requests/s",
        med(&history, |r| r.p50_ms),
        med(&history, |r| r.p99_ms),
        med(&history, |r| r.rps)
    );
    println!(
        "api raw on-day lookup (library, no HTTP): p50 {:.2} ms, p99 {:.2} ms, {:.0} lookups/s",
        med(&raw, |r| r.p50_ms),
        med(&raw, |r| r.p99_ms),
        med(&raw, |r| r.rps)
    );
    println!(
        "api reading_on_day_p99_ms={:.2} history_year_p99_ms={:.2} rps={:.0}",
        med(&on_day, |r| r.p99_ms),
        med(&history, |r| r.p99_ms),
        med(&on_day, |r| r.rps)
    );
    Ok(())
}

/// One scenario's figures.
#[derive(Debug, Clone)]
struct Run {
    p50_ms: f64,
    p99_ms: f64,
    rps: f64,
    requests: usize,
    /// CPU used by each program during the scenario (warm-up included).
    cpu: String,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, {:.0}/s ({} requests; CPU {})",
            self.p50_ms, self.p99_ms, self.rps, self.requests, self.cpu
        )
    }
}

/// Runs `args.clients` closed loops of `make(rng)` requests: a warm-up, then `args.seconds`
/// measured. Any failed request fails the bench.
async fn measure<F, Fut>(args: &ApiBenchArgs, make: F) -> Result<Run>
where
    F: Fn(&mut rand_chacha::ChaCha8Rng) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let cpu_before = super::cpu_by_program();
    let warmup = Duration::from_millis(args.seconds * 250);
    let measured = Duration::from_secs(args.seconds);
    let start = Instant::now() + warmup;
    let end = start + measured;
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..args.clients {
        let make = make.clone();
        tasks.spawn(async move {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(client as u64 + 1);
            let mut latencies = Vec::with_capacity(1 << 14);
            loop {
                let began = Instant::now();
                if began >= end {
                    break;
                }
                make(&mut rng).await?;
                if began >= start {
                    latencies.push(began.elapsed());
                }
            }
            anyhow::Ok(latencies)
        });
    }
    let mut all = Vec::new();
    while let Some(result) = tasks.join_next().await {
        all.extend(result.context("client task")??);
    }
    ensure!(!all.is_empty(), "no requests completed");
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1e3;
    Ok(Run {
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        rps: all.len() as f64 / measured.as_secs_f64(),
        requests: all.len(),
        cpu: super::cpu_delta(&cpu_before, &super::cpu_by_program()),
    })
}

/// The bench database, generated unless one of the same size exists.
async fn dataset(config: &Config, args: &ApiBenchArgs) -> Result<PgPool> {
    if !args.regenerate
        && let Ok(pool) = existing(config, args).await
    {
        eprintln!(
            "bench: reusing {DATABASE} ({} meters × {} days)",
            args.meters, args.days
        );
        return Ok(pool);
    }
    let pool = super::fresh_database(config, DATABASE, args.connections.max(4)).await?;
    let started = Instant::now();
    eprintln!(
        "bench: generating {} meters × {} daily readings (kept for later runs)",
        args.meters, args.days
    );
    let utility_id: i64 = sqlx::query_scalar(
        "INSERT INTO utilities (slug, municipality, name, city)
         VALUES ('bench', 'Gmina Benchowo', 'Wodociągi Benchowo', 'Benchowo') RETURNING id",
    )
    .fetch_one(&pool)
    .await?;
    let n = args.meters;
    let statements = [
        "INSERT INTO tariff_groups (utility_id, code, name) VALUES ($1, 'G1', 'Gospodarstwa domowe')",
        "INSERT INTO customers (utility_id, customer_number, kind, first_name, last_name, name, city)
         SELECT $1, 'K' || i, 'person', 'Jan', 'Kowalski', 'Jan Kowalski', 'Benchowo'
         FROM generate_series(1, $2) i",
        "INSERT INTO supply_points (utility_id, code, street, building_no, postal_code, city)
         SELECT $1, 'PP' || i, 'Długa', i::text, '14-420', 'Benchowo' FROM generate_series(1, $2) i",
        "INSERT INTO contracts (utility_id, number, customer_id, supply_point_id, tariff_group_id,
                                valid_from, status, signed_at)
         SELECT $1, 'U' || c.id, c.id, sp.id, (SELECT id FROM tariff_groups WHERE utility_id = $1),
                current_date - ($3::int + 30), 'active', now()
         FROM customers c JOIN supply_points sp
           ON sp.utility_id = c.utility_id AND substr(sp.code, 3) = substr(c.customer_number, 2)
         WHERE c.utility_id = $1 AND $2 > 0",
        "INSERT INTO meters (utility_id, serial, channel, register_max_litres, supply_point_id,
                             installed_at, install_reading_litres)
         SELECT $1, 'SN' || substr(code, 3), 'wmbus', 99999999, id,
                now() - make_interval(days => $3::int + 30), 0
         FROM supply_points WHERE utility_id = $1 AND $2 > 0",
        "INSERT INTO user_accounts (utility_id, email, role, status, display_name, activated_at)
         SELECT $1, 'mieszkaniec' || i || '@bench.example', 'resident', 'active', 'Mieszkaniec ' || i, now()
         FROM generate_series(1, $2) i",
        "INSERT INTO account_customers (utility_id, account_id, customer_id, linked_via)
         SELECT $1, ua.id, c.id, 'activation_code'
         FROM user_accounts ua JOIN customers c
           ON c.utility_id = ua.utility_id
          AND c.customer_number = 'K' || substring(ua.email FROM '^mieszkaniec([0-9]+)@')
         WHERE ua.utility_id = $1 AND $2 > 0",
    ];
    for statement in statements {
        sqlx::query(statement)
            .bind(utility_id)
            .bind(n)
            .bind(args.days as i32)
            .execute(&pool)
            .await
            .with_context(|| format!("seeding: {}", statement.lines().next().unwrap_or("")))?;
        // Fresh statistics, so the next statement's join is planned as a hash join.
        sqlx::query("ANALYZE").execute(&pool).await?;
    }
    // Readings: one a day at 06:00 UTC (about 07:00–08:00 in Warsaw), 150–450 litres apart,
    // generated by the server in slices of meters, two at a time.
    let (min, max): (i64, i64) = sqlx::query_as("SELECT min(id), max(id) FROM meters")
        .fetch_one(&pool)
        .await?;
    let slice = 5_000;
    let mut starts: Vec<i64> = (min..=max).step_by(slice).collect();
    starts.reverse();
    let starts = Arc::new(std::sync::Mutex::new(starts));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let (pool, starts, days) = (pool.clone(), starts.clone(), args.days);
        workers.spawn(async move {
            loop {
                let Some(from) = starts.lock().expect("lock").pop() else {
                    return anyhow::Ok(());
                };
                sqlx::query(
                    "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
                     SELECT m, (current_date - d) + time '06:00',
                            (m % 997) * 1000 + ($3 - d) * 150 + ((m * 31 + d * 17) % 7) * 50,
                            'radio'
                     FROM generate_series($1::bigint, $2::bigint) m,
                          generate_series(1, $3::int) d",
                )
                .bind(from)
                .bind((from + slice as i64 - 1).min(max))
                .bind(days as i32)
                .execute(&pool)
                .await?;
            }
        });
    }
    while let Some(result) = workers.join_next().await {
        result??;
    }
    sqlx::query(
        "INSERT INTO meter_latest_readings (meter_id, measured_at, volume_litres, source, received_at)
         SELECT DISTINCT ON (meter_id) meter_id, measured_at, volume_litres, source, now()
         FROM meter_readings ORDER BY meter_id, measured_at DESC",
    )
    .execute(&pool)
    .await?;
    sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
    sqlx::query("CREATE TABLE bench_api_dataset (meters bigint NOT NULL, days bigint NOT NULL)")
        .execute(&pool)
        .await?;
    sqlx::query("INSERT INTO bench_api_dataset VALUES ($1, $2)")
        .bind(args.meters)
        .bind(args.days)
        .execute(&pool)
        .await?;
    eprintln!(
        "bench: dataset ready in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(pool)
}

/// The kept dataset, if it exists, is complete and has the asked sizes.
async fn existing(config: &Config, args: &ApiBenchArgs) -> Result<PgPool> {
    let mut url = url::Url::parse(
        config
            .database
            .url
            .as_ref()
            .context("no database")?
            .expose_secret(),
    )?;
    url.set_path(&format!("/{DATABASE}"));
    let pool = ebok_common::db::pool_options(args.connections.max(4))
        .connect(url.as_str())
        .await?;
    let (meters, days): (i64, i64) = sqlx::query_as("SELECT meters, days FROM bench_api_dataset")
        .fetch_one(&pool)
        .await?;
    ensure!(meters == args.meters && days == args.days, "another size");
    let state = ebok_common::db::migration_state(&pool).await?;
    ensure!(state.is_current(), "schema not current");
    Ok(pool)
}
