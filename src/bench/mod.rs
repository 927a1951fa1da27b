//! `ebok bench …`: performance figures measured on the machine at hand, against the real stack.
//! Each bench works in its own fresh database of the (local or configured) server, prints its
//! medians, and ends with one machine-readable line.

pub mod api;
pub mod balance;
pub mod billing;
pub mod ingest;
pub mod payments;
pub mod push;
pub mod store;

pub use ingest::{IngestBenchArgs, ingest};

use anyhow::{Context, Result};
use ebok_common::Config;
use secrecy::ExposeSecret;
use sqlx::{Connection, PgPool};

/// Drops and re-creates database `name` on the configured server, migrated, and returns a pool
/// of `connections` to it.
pub async fn fresh_database(config: &Config, name: &str, connections: u32) -> Result<PgPool> {
    drop_database(config, name).await?;
    let (mut admin, url) = admin_connection(config, name).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    let pool = ebok_common::db::pool_options(connections)
        .connect(url.as_str())
        .await?;
    ebok_common::db::migrate(&pool).await?;
    Ok(pool)
}

/// Drops database `name` (a bench's own; names are constants of this module's callers).
pub async fn drop_database(config: &Config, name: &str) -> Result<()> {
    let (mut admin, _) = admin_connection(config, name).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    Ok(())
}

/// The URL of database `name` on the configured server.
fn database_url(config: &Config, name: &str) -> Result<url::Url> {
    let mut url = url::Url::parse(
        config
            .database
            .url
            .as_ref()
            .context("no database")?
            .expose_secret(),
    )?;
    url.set_path(&format!("/{name}"));
    Ok(url)
}

/// A connection to the server's `postgres` database, and the URL of database `name`.
async fn admin_connection(config: &Config, name: &str) -> Result<(sqlx::PgConnection, url::Url)> {
    let admin_url = database_url(config, "postgres")?;
    Ok((
        sqlx::PgConnection::connect(admin_url.as_str()).await?,
        database_url(config, name)?,
    ))
}

/// A pool of `connections` to database `name` kept from an earlier run, when it exists and
/// its schema is current (the caller checks that its dataset is the one asked for).
pub async fn kept_database(config: &Config, name: &str, connections: u32) -> Result<PgPool> {
    let pool = ebok_common::db::pool_options(connections)
        .connect(database_url(config, name)?.as_str())
        .await?;
    let state = ebok_common::db::migration_state(&pool).await?;
    anyhow::ensure!(state.is_current(), "schema not current");
    Ok(pool)
}

/// Runs `sql` over the ids `min..=max` in slices of 5,000, two slices at a time (the server
/// generates the rows; two workers keep both cores busy): `$1` is a slice's first id, `$2` its
/// last, `$3` is `days`. How the benches generate their readings.
pub async fn in_slices(
    pool: &PgPool,
    (min, max): (i64, i64),
    sql: &'static str,
    days: i32,
) -> Result<()> {
    const SLICE: usize = 5_000;
    let mut starts: Vec<i64> = (min..=max).step_by(SLICE).collect();
    starts.reverse();
    let starts = std::sync::Arc::new(std::sync::Mutex::new(starts));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let (pool, starts) = (pool.clone(), starts.clone());
        workers.spawn(async move {
            loop {
                let Some(first) = starts.lock().expect("lock").pop() else {
                    return anyhow::Ok(());
                };
                sqlx::query(sql)
                    .bind(first)
                    .bind((first + SLICE as i64 - 1).min(max))
                    .bind(days)
                    .execute(&pool)
                    .await?;
            }
        });
    }
    while let Some(result) = workers.join_next().await {
        result??;
    }
    Ok(())
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

/// CPU seconds used so far by each process of the programs measured, by (program, pid) (from
/// /proc; Linux only).
pub fn cpu_by_program() -> std::collections::BTreeMap<(String, u32), f64> {
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let mut cpu = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        // Processes only: /proc/self and /proc/thread-self would count this process again.
        if !entry
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state … utime stime are fields 14 and 15.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if !["ebok", "mosquitto", "postgres"].contains(&name) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let used: f64 = fields
            .get(11..13)
            .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
            .unwrap_or(0.0);
        cpu.insert((name.to_string(), pid), used / ticks);
    }
    cpu
}

/// CPU seconds each program used between two [`cpu_by_program`] readings: the processes alive
/// at the second one (a process that ended in between is left out, not subtracted).
pub fn cpu_delta(
    before: &std::collections::BTreeMap<(String, u32), f64>,
    after: &std::collections::BTreeMap<(String, u32), f64>,
) -> String {
    let mut by_program = std::collections::BTreeMap::<&str, f64>::new();
    for (key, used) in after {
        *by_program.entry(&key.0).or_insert(0.0) += used - before.get(key).copied().unwrap_or(0.0);
    }
    by_program
        .iter()
        .map(|(program, used)| format!("{program} {used:.1} s"))
        .collect::<Vec<_>>()
        .join(", ")
}
