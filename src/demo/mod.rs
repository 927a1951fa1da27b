//! `ebok demo`: the whole system with demo utilities, for a first look and for manual testing.
//!
//! Starts the local stack when no services are configured, applies migrations, creates the demo
//! utilities (Gmina Młynary with 2,500 supply points, and a smaller Gmina Pieniężno so the
//! municipality picker has a choice) with 90 days of daily readings from the firmware-sim model,
//! then serves the portal and API and prints the URL and the demo logins, until Ctrl-C.
//! A second run reuses the data and fills in readings up to now.

mod names;
pub mod seed;

use anyhow::Result;
use chrono::Utc;
use ebok_common::Config;

use crate::cli::DemoArgs;
use crate::run::{Boot, System};
use seed::{DEMO_PASSWORD, Seeded, UtilitySpec};

/// The demo utilities; the main one's size comes from the command line.
pub fn utilities(args: &DemoArgs) -> [UtilitySpec; 2] {
    [
        UtilitySpec {
            slug: "mlynary",
            municipality: "Gmina Młynary",
            name: "Zakład Gospodarki Komunalnej w Młynarach",
            nip_first_nine: 578_305_112,
            street: "Dworcowa",
            building_no: "29",
            postal_code: "14-420",
            city: "Młynary",
            phone: "+48 55 248 60 10",
            domain: "zgk-mlynary.example",
            localities: names::MLYNARY,
            supply_points: args.supply_points,
            seed: args.seed,
        },
        UtilitySpec {
            slug: "pieniezno",
            municipality: "Gmina Pieniężno",
            name: "Wodociągi i Kanalizacja w Pieniężnie sp. z o.o.",
            nip_first_nine: 582_160_338,
            street: "Generalska",
            building_no: "8",
            postal_code: "14-520",
            city: "Pieniężno",
            phone: "+48 55 242 90 00",
            domain: "wik-pieniezno.example",
            localities: names::PIENIEZNO,
            supply_points: (args.supply_points / 8).max(10),
            seed: args.seed.wrapping_add(1),
        },
    ]
}

pub async fn run(config: Config, args: DemoArgs) -> Result<()> {
    let mut system = System::boot(
        config,
        Boot {
            start_stack: true,
            migrate: true,
            port_fallback: true,
            application_name: "ebok-demo",
        },
    )
    .await?;
    let mut seeded = Vec::new();
    for spec in utilities(&args) {
        let started = std::time::Instant::now();
        let result = seed::ensure_utility(&system.pool, &spec, args.days, Utc::now()).await;
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                system.shutdown.cancel();
                system.run_until_shutdown().await.ok();
                return Err(e.context(format!("creating demo utility {}", spec.slug)));
            }
        };
        tracing::info!(
            utility = spec.slug,
            created = result.created,
            readings_added = result.readings_added,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "demo utility ready"
        );
        seeded.push((spec, result));
    }
    if args.no_serve {
        print_banner(&system, None, &seeded);
        system.shutdown.cancel();
        return system.run_until_shutdown().await;
    }
    let api = system.start_api(true).await?;
    system.start_ingest().await?;
    print_banner(&system, Some(api), &seeded);
    system.run_until_shutdown().await
}

fn print_banner(
    system: &System,
    api: Option<std::net::SocketAddr>,
    seeded: &[(UtilitySpec, Seeded)],
) {
    let mut out = String::new();
    out.push_str("\n  eBOK demo\n");
    if let Some(api) = api {
        let url = system
            .config
            .api
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{api}"));
        out.push_str(&format!("  portal:    {url}/\n"));
        out.push_str(&format!("  readiness: {url}/readyz\n"));
        out.push_str(&format!("  API:       {url}/api/v1/utilities\n"));
    }
    if let Some(metrics) = system.metrics_addr {
        out.push_str(&format!("  metrics:   http://{metrics}/metrics\n"));
    }
    if let Some(db) = system.config.database.redacted_url() {
        out.push_str(&format!("  database:  {db}\n"));
    }
    if let Some(mqtt) = &system.config.mqtt.url {
        out.push_str(&format!("  broker:    {mqtt}\n"));
    }
    for (spec, result) in seeded {
        out.push_str(&format!(
            "\n  {} ({}): {} supply points, {} readings {}\n",
            spec.municipality,
            spec.slug,
            spec.supply_points,
            result.readings_added,
            if result.created {
                "generated"
            } else {
                "added since the last run"
            }
        ));
        for login in &result.logins {
            out.push_str(&format!(
                "    {:<10} {:<48} {}\n",
                login.role, login.email, login.note
            ));
        }
    }
    out.push_str(&format!(
        "\n  Every demo account's password: {DEMO_PASSWORD}\n  Ctrl-C stops the demo.\n"
    ));
    eprintln!("{out}");
}
