//! `ebok demo`: the whole system with demo utilities, for a first look and for manual testing.
//!
//! Starts the local stack when no services are configured, applies migrations, creates the demo
//! utilities (Gmina Młynary with 2,500 supply points, and a smaller Gmina Pieniężno so the
//! municipality picker has a choice) with 90 days of daily readings from the firmware-sim model,
//! then serves the portal and API and prints the URL and the demo logins, until Ctrl-C.
//! A second run reuses the data and fills in readings up to now.
//!
//! While it runs, the simulator plays the same fleets live: every meter sends hourly telegrams
//! through the broker (own JSON, gateway batches and wmbusmeters JSON) as its utility's gateway
//! `demo` (re-keyed at each start, see `crate::gateway`), and the bulk meters of housing
//! communities and institutions are served over Modbus TCP and polled by ingest, so current
//! readings and alarms move in the portal as they would in a utility.

mod billing;
mod cases;
mod names;
mod network;
pub mod seed;
mod services;

use anyhow::Result;
use chrono::Utc;
use ebok_common::Config;

use crate::cli::DemoArgs;
use crate::run::{Boot, System};
use seed::{DEMO_PASSWORD, DEMO_TOTP_SECRET, Seeded, UtilitySpec};

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
            // Its business customers' invoices go to KSeF (the demo's emulator).
            ksef_scope: "with_nip",
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
            ksef_scope: "off",
        },
    ]
}

pub async fn run(config: Config, args: DemoArgs) -> Result<()> {
    if config.database.url.is_some() && !args.into_configured_database {
        anyhow::bail!(
            "the demo seeds accounts (staff included) whose password is published with eBOK, and \
             {} points at a database of your own, not the local stack's; unset it to use the \
             local stack, or add --into-configured-database if that database is private to you",
            ebok_common::config::DatabaseConfig::SETTING
        );
    }
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
    let mut networks = Vec::new();
    for spec in utilities(&args) {
        let started = std::time::Instant::now();
        let result = seed::ensure_utility(&system.pool, &spec, args.days, Utc::now()).await;
        let result = match result {
            Ok(mut r) => {
                // The months the demo's readings cover (earlier ones were billed by an earlier
                // run, or have no readings).
                let from = (Utc::now() - chrono::Duration::days(i64::from(args.days)))
                    .max(seed::fleet_start());
                match billing::ensure_billed(&system.pool, r.utility_id, from, Utc::now()).await {
                    Ok(issued) => r.invoices_issued = issued,
                    Err(e) => {
                        system.shutdown.cancel();
                        system.run_until_shutdown().await.ok();
                        return Err(e.context(format!("billing demo utility {}", spec.slug)));
                    }
                }
                if let Err(e) = cases::ensure_cases(&system.pool, r.utility_id).await {
                    system.shutdown.cancel();
                    system.run_until_shutdown().await.ok();
                    return Err(e.context(format!("cases of demo utility {}", spec.slug)));
                }
                match network::ensure_network(
                    &system.pool,
                    &spec,
                    &crate::sim::fleet(spec.seed),
                    r.utility_id,
                    args.days,
                    Utc::now(),
                )
                .await
                {
                    Ok(inlets) => networks.push((spec.slug, inlets)),
                    Err(e) => {
                        system.shutdown.cancel();
                        system.run_until_shutdown().await.ok();
                        return Err(e.context(format!("network of demo utility {}", spec.slug)));
                    }
                }
                if let Err(e) = services::ensure_services(&system.pool, r.utility_id).await {
                    system.shutdown.cancel();
                    system.run_until_shutdown().await.ok();
                    return Err(e.context(format!(
                        "calendars and notices of demo utility {}",
                        spec.slug
                    )));
                }
                r
            }
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
    // The demo is one machine, whatever database it was told to use.
    system.single_machine = true;
    if !system.config.notify.email.enabled {
        // No mail server: residents' e-mails (activation, password reset, notices) are shown on
        // the demo's mailbox page instead of being sent or logged.
        system.mailbox = Some(std::sync::Arc::new(mobile_push::email::Mailbox::new(500)));
    }
    let payments = DemoPayments::start(&mut system).await?;
    let api = system.start_api(true).await?;
    payments.listen(&system.portal_base(Some(api)));
    let now = Utc::now();
    let bulk = serve_bulk_meters(&mut system, &args, now).await?;
    let inlets = serve_zone_inlets(&mut system, networks, now).await?;
    let mut ingest = system.start_ingest().await?;
    system.start_rule_evaluator();
    if system.config.mqtt.url.is_some()
        && tokio::time::timeout(
            std::time::Duration::from_secs(30),
            ingest
                .link
                .wait_for(|l| *l == ebok_ingest::mqtt::Link::Subscribed),
        )
        .await
        .is_err()
    {
        tracing::warn!("ingest has not subscribed within 30 s; starting the simulators anyway");
    }
    let publishing = start_simulators(&mut system, &args, now).await?;
    let phones = start_notifications(&mut system, api).await?;
    let ksef = DemoKsef::start(&mut system).await?;
    print_banner(&system, Some(api), &seeded);
    if let Some(phones) = &phones {
        eprintln!(
            "  push:      FCM emulator {} (stands in for Firebase); {} demo residents have a phone registered",
            phones.emulator.url(),
            phones.registered
        );
    }
    payments.print();
    ksef.print();
    eprintln!(
        "  live meters: {publishing} publishing hourly; {} bulk meters on Modbus TCP {}; \
         {inlets} zone inlet meters on Modbus TCP too\n",
        bulk.meters, bulk.address
    );
    system.run_until_shutdown().await
}

/// The stand-ins for the payment providers: Młynary takes payments through a Przelewy24
/// emulator, Pieniężno through a Stripe emulator, unless the configuration names a provider
/// for them (`[payments.<slug>]`). Residents of the demo pay on their pages (BLIK code: any six
/// digits) and the payment is booked through the same notification path as in production.
struct DemoPayments {
    p24: Option<ebok_payments::przelewy24::emulator::Przelewy24Emulator>,
    stripe: Option<ebok_payments::stripe::emulator::StripeEmulator>,
}

impl DemoPayments {
    const P24_UTILITY: &str = "mlynary";
    const STRIPE_UTILITY: &str = "pieniezno";

    async fn start(system: &mut System) -> Result<DemoPayments> {
        use ebok_common::config::PaymentProviderConfig;
        let mut out = DemoPayments {
            p24: None,
            stripe: None,
        };
        if !system.config.payments.contains_key(Self::P24_UTILITY) {
            let p24 = ebok_payments::przelewy24::emulator::Przelewy24Emulator::start().await?;
            system.config.payments.insert(
                Self::P24_UTILITY.into(),
                PaymentProviderConfig::Przelewy24(p24.config()),
            );
            out.p24 = Some(p24);
        }
        if !system.config.payments.contains_key(Self::STRIPE_UTILITY) {
            let stripe = ebok_payments::stripe::emulator::StripeEmulator::start().await?;
            system.config.payments.insert(
                Self::STRIPE_UTILITY.into(),
                PaymentProviderConfig::Stripe(stripe.config()),
            );
            out.stripe = Some(stripe);
        }
        Ok(out)
    }

    /// Points the Stripe emulator's webhook at the API (`callback` is its public URL).
    fn listen(&self, callback: &str) {
        if let Some(stripe) = &self.stripe {
            stripe.set_webhook(&format!(
                "{}/hooks/stripe/{}",
                callback.trim_end_matches('/'),
                Self::STRIPE_UTILITY
            ));
        }
    }

    fn print(&self) {
        if let Some(p24) = &self.p24 {
            eprintln!(
                "  payments:  {} pays through a Przelewy24 emulator {} (BLIK: any six digits)",
                Self::P24_UTILITY,
                p24.url()
            );
        }
        if let Some(stripe) = &self.stripe {
            eprintln!(
                "             {} through a Stripe Checkout emulator {}",
                Self::STRIPE_UTILITY,
                stripe.url()
            );
        }
    }
}

/// The stand-in for KSeF: Młynary sends its business customers' invoices (`ksef_scope`
/// `with_nip`) to a KSeF 2.0 emulator with a demo token, unless the configuration names KSeF
/// for it (`[ksef.mlynary]`), and the sender runs in the demo's process.
struct DemoKsef {
    emulator: Option<ebok_ksef::emulator::KsefEmulator>,
}

impl DemoKsef {
    const UTILITY: &str = "mlynary";
    const TOKEN: &str = "demo-ksef-token";

    async fn start(system: &mut System) -> Result<DemoKsef> {
        let mut out = DemoKsef { emulator: None };
        if !system.config.ksef.contains_key(Self::UTILITY) {
            let nip: Option<String> =
                sqlx::query_scalar("SELECT nip FROM utilities WHERE slug = $1")
                    .bind(Self::UTILITY)
                    .fetch_optional(&system.pool)
                    .await?
                    .flatten();
            if let Some(nip) = nip {
                let emulator = ebok_ksef::emulator::KsefEmulator::start().await?;
                emulator.accept_token(Self::TOKEN, &nip);
                system.config.ksef.insert(
                    Self::UTILITY.into(),
                    ebok_common::config::KsefConfig {
                        base_url: Some(emulator.base_url()),
                        token: Self::TOKEN.to_string().into(),
                        timeout_ms: 30_000,
                        interval_s: 5,
                    },
                );
                out.emulator = Some(emulator);
            }
        }
        system.start_ksef_sender().await?;
        Ok(out)
    }

    fn print(&self) {
        if let Some(emulator) = &self.emulator {
            eprintln!(
                "  KSeF:      {} sends its business customers' invoices to a KSeF 2.0 emulator {}",
                Self::UTILITY,
                emulator.base_url()
            );
        }
    }
}

/// The stand-in for Firebase and the phones registered with it.
struct DemoPhones {
    emulator: mobile_push::fcm::emulator::FcmEmulator,
    registered: usize,
}

/// Starts the notification dispatcher. Without a configured FCM project, push goes to a local
/// FCM emulator, and every demo resident gets a simulated phone and the notification consent,
/// so meter alarms and outage notices travel the whole way (outbox → inbox → push).
async fn start_notifications(
    system: &mut System,
    api: std::net::SocketAddr,
) -> Result<Option<DemoPhones>> {
    if !system.config.notify.dispatcher.enabled {
        return Ok(None);
    }
    let mut phones = None;
    if !system.config.notify.fcm.enabled {
        let emulator = mobile_push::fcm::emulator::FcmEmulator::start();
        system.config.notify.fcm = emulator.config();
        let registered = register_demo_phones(&system.pool).await?;
        phones = Some(DemoPhones {
            emulator,
            registered,
        });
    }
    let portal = system.portal_base(Some(api));
    system.start_dispatcher(&portal)?;
    Ok(phones)
}

/// A phone (FCM token) and the notification consent for every demo resident who has none.
async fn register_demo_phones(pool: &sqlx::PgPool) -> Result<usize> {
    let residents: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT utility_id, id FROM user_accounts WHERE role = 'resident' AND status = 'active'",
    )
    .fetch_all(pool)
    .await?;
    let mut tx = pool.begin().await?;
    for (utility, account) in &residents {
        let token = format!("demo-phone-of-account-{account}");
        mobile_push::registry::register_device(
            &mut tx,
            *utility,
            *account,
            &mobile_push::registry::DeviceRegistration {
                token: &token,
                platform: mobile_push::registry::Platform::Android,
                app_version: Some("demo"),
            },
        )
        .await?;
        ebok_common::consent::grant(
            &mut tx,
            *utility,
            *account,
            ebok_common::consent::ConsentKind::Notifications,
            "demo",
            ebok_common::audit::Actor::Resident {
                account_id: *account,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(residents.len())
}

/// The bulk meters the demo serves over Modbus TCP.
struct BulkMeters {
    meters: usize,
    address: std::net::SocketAddr,
}

/// Serves Młynary's bulk meters over Modbus TCP and points ingest at them (before ingest
/// starts: it reads its devices at start).
async fn serve_bulk_meters(
    system: &mut System,
    args: &DemoArgs,
    now: chrono::DateTime<Utc>,
) -> Result<BulkMeters> {
    let [mlynary, _] = utilities(args);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let clock = firmware_sim::clock::SimClock::real_time(now);
    let (serials, server) = crate::sim::spawn_modbus(
        &crate::sim::fleet(mlynary.seed),
        0..u64::from(mlynary.supply_points),
        listener,
        clock,
        system.shutdown.clone(),
    );
    system.spawn_part("modbus simulator", async move { server.await? });
    if serials.is_empty() {
        return Ok(BulkMeters { meters: 0, address });
    }
    let meters = serials
        .iter()
        .enumerate()
        .map(|(k, serial)| ebok_common::config::ModbusMeter {
            serial: serial.clone(),
            register: (10 * k) as u16,
            kind: ebok_common::config::RegisterKind::U64,
            word_order: ebok_common::config::WordOrder::Big,
            scale: "1".into(),
            status_register: Some((10 * k + 4) as u16),
        })
        .collect();
    system
        .config
        .ingest
        .modbus
        .push(ebok_common::config::ModbusDevice {
            name: "demo-bulk-meters-mlynary".into(),
            address: address.to_string(),
            unit_id: 1,
            utility: mlynary.slug.into(),
            poll_interval_secs: 60,
            timeout_ms: 2000,
            retries: 2,
            meters,
        });
    Ok(BulkMeters {
        meters: serials.len(),
        address,
    })
}

/// Serves every demo utility's zone inlet meters over Modbus TCP, one server each, and points
/// ingest at them (before ingest starts); how many.
async fn serve_zone_inlets(
    system: &mut System,
    networks: Vec<(&'static str, Vec<network::DemoInlet>)>,
    now: chrono::DateTime<Utc>,
) -> Result<usize> {
    let mut served = 0;
    for (slug, inlets) in networks {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let clock = firmware_sim::clock::SimClock::real_time(now);
        let models: Vec<_> = inlets.iter().map(|i| i.inlet.clone()).collect();
        let source = firmware_sim::modbus::ZoneInlets::new(&models, clock);
        let shutdown = system.shutdown.clone();
        system.spawn_part("zone inlet simulator", async move {
            firmware_sim::modbus::serve(listener, source, shutdown).await
        });
        let meters = inlets
            .iter()
            .enumerate()
            .map(|(k, inlet)| ebok_common::config::ModbusMeter {
                serial: inlet.serial.clone(),
                register: (10 * k) as u16,
                kind: ebok_common::config::RegisterKind::U64,
                word_order: ebok_common::config::WordOrder::Big,
                scale: "1".into(),
                status_register: None,
            })
            .collect();
        served += inlets.len();
        system
            .config
            .ingest
            .modbus
            .push(ebok_common::config::ModbusDevice {
                name: format!("demo-zone-inlets-{slug}"),
                address: address.to_string(),
                unit_id: 1,
                utility: slug.into(),
                poll_interval_secs: 300,
                timeout_ms: 2000,
                retries: 2,
                meters,
            });
    }
    Ok(served)
}

/// Starts the simulator for every demo utility, publishing under the prefix of the first
/// configured own-format topic (`<prefix>ebok/+/readings`), so it always reaches this ingest,
/// logged in as each utility's gateway `demo`. Returns how many meters publish.
///
/// Called once ingest is subscribed: re-keying the gateways reloads the broker, and Mosquitto
/// 2.0.11 treats a session it restored from persistence as a client that failed its login on
/// every reload (it has the username but not the password) and lists it for expiry once more
/// each time; ingest taking its session over before any reload keeps that off its session.
async fn start_simulators(
    system: &mut System,
    args: &DemoArgs,
    now: chrono::DateTime<Utc>,
) -> Result<u64> {
    let Some(broker) = system.config.mqtt.url.clone() else {
        return Ok(0);
    };
    let Some(prefix) = system
        .config
        .ingest
        .topics
        .first()
        .and_then(|t| t.strip_suffix("ebok/+/readings"))
        .map(str::to_string)
    else {
        tracing::warn!("ingest.topics does not end in ebok/+/readings; no live simulator");
        return Ok(0);
    };
    let mut publishing = 0;
    let filters: Vec<String> = crate::gateway::filters(&system.config)
        .into_iter()
        .map(str::to_string)
        .collect();
    let filters: Vec<&str> = filters.iter().map(String::as_str).collect();
    for spec in utilities(args) {
        let mut sim = firmware_sim::publish::SimConfig::new(
            crate::sim::fleet(spec.seed),
            0..u64::from(spec.supply_points),
            spec.slug,
            now,
        );
        sim.per_day = 24;
        sim.topic_prefix = prefix.clone();
        publishing += u64::from(spec.supply_points);
        let client_id = format!("{}-sim-{}", system.config.ingest.client_id, spec.slug);
        let mut broker = firmware_sim::publish::Broker::from_url(&broker, client_id)?;
        broker.credentials = crate::gateway::publisher_login(
            &system.config,
            &system.pool,
            spec.slug,
            "demo",
            &filters,
        )
        .await?;
        let shutdown = system.shutdown.clone();
        system.spawn_part("simulator", async move {
            firmware_sim::publish::run(sim, broker, shutdown)
                .await
                .map(|_| ())
        });
    }
    Ok(publishing)
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
        if system.mailbox.is_some() {
            out.push_str(&format!(
                "  mailbox:   {url}/demo/poczta (no mail server: residents' e-mails land here)\n"
            ));
        }
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
            "\n  {} ({}): {} supply points, {} readings {}, {} invoices issued\n",
            spec.municipality,
            spec.slug,
            spec.supply_points,
            result.readings_added,
            if result.created {
                "generated"
            } else {
                "added since the last run"
            },
            result.invoices_issued
        ));
        for login in &result.logins {
            out.push_str(&format!(
                "    {:<10} {:<48} {}\n",
                login.role, login.email, login.note
            ));
        }
        if let Some(api) = api {
            let url = system
                .config
                .api
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{api}"));
            out.push_str(&format!("    residents: {url}/u/{}/logowanie\n", spec.slug));
            out.push_str(&format!(
                "    staff:     {url}/panel/{}/logowanie\n",
                spec.slug
            ));
        }
        if let Some((number, code)) = &result.link_code {
            out.push_str(&format!(
                "    to link a new account: customer number {number}, code {code}\n"
            ));
        }
    }
    let key = ebok_api::staff::totp::typed_secret(DEMO_TOTP_SECRET);
    out.push_str(&format!(
        "\n  Every demo account's password: {DEMO_PASSWORD}\n  \
         Staff's second factor (demo only): add the key {key} to an authenticator app,\n  \
         or print the current code with: cargo run -- totp '{key}'\n  \
         Ctrl-C stops the demo.\n"
    ));
    eprintln!("{out}");
}
