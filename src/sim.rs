//! `ebok sim`: simulated meter fleets publishing to the broker (the same fleets as the demo
//! utilities: same seeds, same fleet start, so live readings continue the demo's history), and
//! optionally a Modbus TCP server for the fleet's bulk meters. It publishes as a gateway of its
//! utility (`--gateway`, re-keyed at start on the local stack's broker, see `crate::gateway`).

use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use ebok_common::Config;
use firmware_sim::clock::SimClock;
use firmware_sim::encode::FormatKind;
use firmware_sim::garbage::GarbageRates;
use firmware_sim::model::FleetSpec;
use firmware_sim::publish::{self, Broker, FormatMix, SimConfig};
use tokio_util::sync::CancellationToken;

use crate::cli::SimArgs;

/// The fleet of a demo seed: the demo utilities are `--seed 2026` (Młynary) and 2027 (Pieniężno).
pub fn fleet(seed: u64) -> FleetSpec {
    FleetSpec::new(seed, crate::demo::seed::fleet_start())
}

pub fn config_from(args: &SimArgs, from: DateTime<Utc>) -> Result<SimConfig> {
    let mut config = SimConfig::new(
        fleet(args.seed),
        args.first_meter..args.first_meter + args.meters,
        args.utility.clone(),
        from,
    );
    config.per_day = args.per_day;
    config.speed = match args.speed.as_str() {
        "max" => f64::INFINITY,
        s => s
            .parse::<f64>()
            .ok()
            .filter(|v| *v > 0.0)
            .with_context(|| format!("--speed {s:?}: a positive number or \"max\""))?,
    };
    config.until = args
        .days
        .map(|d| from + chrono::Duration::days(i64::from(d)));
    config.mix = match args.format.as_str() {
        "mix" => FormatMix::default(),
        "single" => FormatMix::only(FormatKind::Single),
        "batch" => FormatMix::only(FormatKind::Batch),
        "wmbusmeters" => FormatMix::only(FormatKind::Wmbusmeters),
        other => anyhow::bail!("--format {other:?}: mix, single, batch or wmbusmeters"),
    };
    config.garbage = GarbageRates::uniform(args.garbage);
    config.garbage_seed = args.seed;
    config.rate_limit = args.rate_limit;
    Ok(config)
}

/// Serves the fleet's bulk meters (those read over Modbus) on `listener`; returns the serials
/// in register order (meter k at holding registers 10k..10k+3, status at 10k+4).
pub fn spawn_modbus(
    fleet: &FleetSpec,
    meters: std::ops::Range<u64>,
    listener: tokio::net::TcpListener,
    clock: SimClock,
    shutdown: CancellationToken,
) -> (Vec<String>, tokio::task::JoinHandle<Result<()>>) {
    let bulk: Vec<_> = fleet
        .meters(meters)
        .filter(|m| m.profile().read_over_modbus())
        .collect();
    let serials = bulk
        .iter()
        .map(|m| m.serial_at(clock.now()).to_string())
        .collect();
    let task = tokio::spawn(firmware_sim::modbus::serve_meters(
        listener, bulk, clock, shutdown,
    ));
    (serials, task)
}

pub async fn run(config: Config, args: SimArgs) -> Result<()> {
    let config = crate::run::attach_local_stack(config)?;
    let url = config.mqtt.url.clone().context(
        "no broker: set mqtt.url (EBOK__MQTT__URL) or start the local stack (`ebok stack up`)",
    )?;
    let from = match args.from.as_deref() {
        None | Some("now") => Utc::now(),
        Some(s) => s
            .parse::<DateTime<Utc>>()
            .with_context(|| format!("--from {s:?}: an RFC 3339 instant or \"now\""))?,
    };
    let sim = config_from(&args, from)?;
    let shutdown = CancellationToken::new();
    let mut modbus = None;
    if let Some(addr) = &args.modbus_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding --modbus-listen {addr}"))?;
        let clock = SimClock::new(from, sim.speed.min(1e9))?;
        let (serials, task) = spawn_modbus(
            &sim.fleet,
            sim.meters.clone(),
            listener,
            clock,
            shutdown.clone(),
        );
        eprintln!(
            "ebok sim: {} bulk meters on Modbus TCP {addr} (meter k at registers 10k..10k+3, status 10k+4)",
            serials.len()
        );
        modbus = Some(task);
    }
    let login = match crate::gateway::broker_of(&config)? {
        crate::gateway::Broker::Local(_) => {
            let pool = ebok_common::db::connect(&config.database, "ebok-sim").await?;
            let login = crate::gateway::publisher_login(
                &config,
                &pool,
                &args.utility,
                &args.gateway,
                &crate::gateway::filters(&config),
            )
            .await;
            pool.close().await;
            login?
        }
        crate::gateway::Broker::External(_) => crate::gateway::configured_login(&config),
    };
    eprintln!(
        "ebok sim: meters {}..{} of fleet seed {} for {} to {url} as {}, {} telegrams a day, speed {}",
        sim.meters.start,
        sim.meters.end,
        args.seed,
        args.utility,
        login
            .as_ref()
            .map_or("an anonymous client", |(user, _)| user.as_str()),
        sim.per_day,
        args.speed
    );
    let mut broker = Broker::from_url(&url, format!("ebok-sim-{}", std::process::id()))?;
    broker.credentials = login;
    let stop = shutdown.clone();
    tokio::spawn(async move {
        crate::run::wait_for_shutdown_signal().await;
        stop.cancel();
    });
    let report = publish::run(sim, broker, shutdown.clone()).await?;
    shutdown.cancel();
    if let Some(task) = modbus {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    eprintln!(
        "ebok sim: {} messages, {} readings ({} duplicates, {} late), {} garbage, {} reconnects; simulated time reached {}",
        report.total_messages(),
        report.readings,
        report.duplicates,
        report.late,
        report.garbage.values().sum::<u64>(),
        report.reconnects,
        report.reached
    );
    Ok(())
}
