//! The `ebok` command line: one binary, one subcommand per part of the system, or all at once.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use ebok_common::Config;
use secrecy::ExposeSecret;

use crate::run::{self, Services};
use crate::stack::{self, LocalStack, Wanted};

#[derive(Debug, Parser)]
#[command(
    name = "ebok",
    version,
    about = "eBOK of a water and sewage utility, with its smart-meter pipeline",
    long_about = "eBOK of a water and sewage utility, with its smart-meter pipeline.\n\n\
        Configuration comes from defaults, then ebok.toml (or --config), then EBOK__… environment \
        variables (EBOK__DATABASE__URL sets database.url). Without database.url or mqtt.url, the \
        commands that run the system start a private PostgreSQL and Mosquitto under .ebok/."
)]
pub struct Cli {
    /// Configuration file (TOML); default: ./ebok.toml when it exists.
    #[arg(long, global = true, env = "EBOK_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the whole system with a demo utility and simulated meters, until Ctrl-C.
    ///
    /// Starts the local stack when no external services are configured, applies migrations,
    /// creates the demo utilities (once; later runs reuse them and fill in readings up to today),
    /// then serves the portal and API and prints the URL and demo logins.
    Demo(DemoArgs),
    /// Run every part (API, ingest, notification dispatch) in one process, until Ctrl-C.
    Serve,
    /// Run only the HTTP API and web portal.
    Api,
    /// Run only meter-reading ingest (MQTT and Modbus).
    Ingest,
    /// Run only what talks to the outside: the notification dispatcher (outbox → push through
    /// FCM and e-mail over SMTP; see `[notify]`) and the sender of invoices to KSeF (`[ksef]`).
    Notify,
    /// Run simulated meter fleets publishing to the broker (and serving Modbus bulk meters).
    ///
    /// By default the 2,500 meters of the demo utility Gmina Młynary (seed 2026), hourly, in real
    /// time, in a mix of the own JSON, gateway batches and wmbusmeters JSON. On the local stack's
    /// broker it publishes as the utility's gateway `sim` (re-keyed at start).
    Sim(SimArgs),
    /// Manage the MQTT accounts of a utility's gateways (each may publish only under its
    /// utility's topics).
    #[command(subcommand)]
    Gateway(crate::gateway::GatewayCommand),
    /// Show or rotate the keys that sign the mobile app's access tokens (`api.token_key_file`).
    #[command(subcommand)]
    TokenKeys(crate::token_keys::TokenKeysCommand),
    /// Apply database migrations.
    Migrate(MigrateArgs),
    /// Print the current code of an authenticator key (base32, as the demo banner prints it),
    /// as an authenticator app would show it: for signing in to the demo's back office without
    /// a phone.
    Totp {
        /// The key, e.g. `MVBE 6SZN …` (spaces and case do not matter).
        key: String,
    },
    /// Bill a month, or export an issued invoice's PDF or FA(3) XML.
    #[command(subcommand)]
    Billing(crate::billing::BillingCommand),
    /// Manage the private local PostgreSQL and Mosquitto under the data folder.
    #[command(subcommand)]
    Stack(StackCommand),
    /// Measure performance on this machine against the real stack (build with --release).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// End-to-end ingest throughput (published → committed) through the real broker, compared
    /// with a raw COPY of the same rows. Last line:
    /// `ingest single_msgs_per_s=N batch_readings_per_s=N raw_copy_rows_per_s=N batch_ratio=R`.
    Ingest(crate::bench::IngestBenchArgs),
    /// Fan-out of one outage notice to registered devices through a local server that speaks
    /// the FCM HTTP v1 protocol. Last line: `push sends_per_s=N p99_ms=N`.
    Push(crate::bench::push::PushBenchArgs),
    /// Przelewy24 notifications at once, half of them replays: checked, verified, booked once,
    /// compared with plain requests to the API; then a bank statement's import, compared with
    /// storing its lines alone. Last line: `payments notifications_per_s=N floor_per_s=N
    /// statement_lines_per_s=N statement_floor_per_s=N`.
    Payments(crate::bench::payments::PaymentsBenchArgs),
    /// The resident API's hot reads (reading on a day, a year of daily history) over HTTP with
    /// concurrent clients, and staff's customer search, on 100,000 meters × 365 days. Last line:
    /// `api reading_on_day_p99_ms=N history_year_p99_ms=N rps=N staff_address_p99_ms=N
    /// staff_serial_p99_ms=N`.
    Api(crate::bench::api::ApiBenchArgs),
    /// A monthly billing run for 100,000 customers with daily readings, compared with a raw
    /// insert of the same rows, then the PDF pass. Last line: `billing invoices_per_s=N
    /// pdf_per_s=N raw_invoices_per_s=N pdf_render_only_per_s=N`.
    Billing(crate::bench::billing::BillingBenchArgs),
    /// The daily water balance of a year for 300,000 customer meters in 300 zones, compared
    /// with a raw scan of the same day rows. Last line: `balance zone_days_per_s=N
    /// meter_days_per_s=N ratio=R`.
    Balance(crate::bench::balance::BalanceBenchArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed of the demo data and the simulated meters (same seed, same data).
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Number of supply points (each with a customer and a meter) of the main demo utility.
    #[arg(long, default_value_t = 2500)]
    pub supply_points: u32,
    /// Days of daily readings generated before today.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// Set up the demo, print its summary and exit instead of serving.
    #[arg(long)]
    pub no_serve: bool,
    /// Seed the demo into a configured database (`database.url`) rather than the local stack's.
    /// The demo's accounts, staff included, share one password printed in this repository:
    /// never on a database that anyone else can reach.
    #[arg(long)]
    pub into_configured_database: bool,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// The utility (slug) of the topics `ebok/<utility>/readings` and
    /// `wmbusmeters/<utility>/<meter>`.
    #[arg(long, default_value = "mlynary")]
    pub utility: String,
    /// The gateway of that utility to publish as (on the local stack's broker it is created or
    /// re-keyed at start; on another broker mqtt.username and mqtt.password are used).
    #[arg(long, default_value = "sim")]
    pub gateway: String,
    /// Fleet seed: 2026 is the demo's Gmina Młynary, 2027 Gmina Pieniężno.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// How many meters, starting at --first-meter.
    #[arg(long, default_value_t = 2500)]
    pub meters: u64,
    #[arg(long, default_value_t = 0)]
    pub first_meter: u64,
    /// Simulated start: an RFC 3339 instant or "now".
    #[arg(long)]
    pub from: Option<String>,
    /// Stop after this many simulated days (default: run until Ctrl-C).
    #[arg(long)]
    pub days: Option<u32>,
    /// Simulated seconds per real second, or "max" (90 days at 12960 take ten minutes).
    #[arg(long, default_value = "1")]
    pub speed: String,
    /// Telegrams per meter per day.
    #[arg(long, default_value_t = 24)]
    pub per_day: u32,
    /// mix, single, batch or wmbusmeters.
    #[arg(long, default_value = "mix")]
    pub format: String,
    /// Probability per reading of each kind of bad input (malformed JSON, unknown meter, …).
    #[arg(long, default_value_t = 0.0)]
    pub garbage: f64,
    /// Messages per second at most.
    #[arg(long)]
    pub rate_limit: Option<f64>,
    /// Also serve the fleet's bulk meters over Modbus TCP on this address.
    #[arg(long)]
    pub modbus_listen: Option<String>,
}

#[derive(Debug, Args)]
struct MigrateArgs {
    /// Only report whether the schema is current; exit with 1 when it is not.
    #[arg(long)]
    check: bool,
}

#[derive(Debug, Subcommand)]
enum StackCommand {
    /// Start (or reuse) PostgreSQL and Mosquitto, print their URLs, and keep them up until Ctrl-C.
    Up,
    /// Start (or reuse) the stack, run a command with its settings in the environment
    /// (EBOK__DATABASE__URL, DATABASE_URL, EBOK__MQTT__URL with ingest's EBOK__MQTT__USERNAME and
    /// EBOK__MQTT__PASSWORD, EBOK__STACK__DATA_DIR, and EBOK_STACK_BROKER_DIR where the broker's
    /// account files are), then stop what was started. Exits with the command's status.
    Run {
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Show whether the stack's services run, and where.
    Status,
    /// Print `export` lines for a running stack (for `eval "$(ebok stack env)"`).
    Env,
}

pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = run::install_signal_handlers() {
        eprintln!("error: {error:#}");
        return ExitCode::FAILURE;
    }
    match dispatch(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    if let Command::Totp { key } = &cli.command {
        return print_totp(key);
    }
    let config = Config::load(cli.config.as_deref())?;
    crate::telemetry::init_logs(&config.log);
    match cli.command {
        Command::Demo(args) => crate::demo::run(config, args)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Serve => run::serve(config, Services::all())
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Api => run::serve(config, Services::api_only())
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Ingest => run::serve(config, Services::ingest_only())
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Notify => run::serve(config, Services::dispatch_only())
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Sim(args) => crate::sim::run(config, args)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Gateway(command) => crate::gateway::run(config, command)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::TokenKeys(command) => {
            crate::token_keys::run(&config, command).map(|()| ExitCode::SUCCESS)
        }
        Command::Migrate(args) => migrate(config, args).await,
        Command::Billing(command) => crate::billing::run(config, command)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Totp { .. } => unreachable!("answered before the configuration is read"),
        Command::Stack(command) => stack_command(config, command).await,
        Command::Bench(BenchCommand::Ingest(args)) => crate::bench::ingest(config, args)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Bench(BenchCommand::Payments(args)) => crate::bench::payments::run(config, args)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Bench(BenchCommand::Push(args)) => crate::bench::push::run(config, args)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Bench(BenchCommand::Api(args)) => crate::bench::api::run(config, args)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Bench(BenchCommand::Balance(args)) => crate::bench::balance::run(config, args)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Bench(BenchCommand::Billing(args)) => crate::bench::billing::run(config, args)
            .await
            .map(|()| ExitCode::SUCCESS),
    }
}

async fn migrate(config: Config, args: MigrateArgs) -> Result<ExitCode> {
    let config = run::attach_local_stack(config)?;
    let pool = ebok_common::db::connect(&config.database, "ebok-migrate").await?;
    if args.check {
        let state = ebok_common::db::migration_state(&pool).await?;
        println!("migrations: {}", state.describe());
        return Ok(if state.is_current() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    ebok_common::db::migrate(&pool).await?;
    println!("migrations: current");
    Ok(ExitCode::SUCCESS)
}

async fn stack_command(config: Config, command: StackCommand) -> Result<ExitCode> {
    let everything = Wanted {
        postgres: true,
        mosquitto: true,
    };
    let broker = stack::BrokerSettings::for_ingest(&config.ingest);
    match command {
        StackCommand::Up => {
            let stack = LocalStack::start_with(&config.stack, everything, broker).await?;
            print_exports(&config, &stack.endpoints)?;
            eprintln!("ebok: local stack up; Ctrl-C stops what this command started");
            run::wait_for_shutdown_signal().await;
            stack.stop().await;
            Ok(ExitCode::SUCCESS)
        }
        StackCommand::Run { command } => {
            let stack = LocalStack::start_with(&config.stack, everything, broker).await?;
            let mut child = tokio::process::Command::new(&command[0]);
            child.args(&command[1..]);
            for (key, value) in exports(&config, &stack.endpoints)? {
                child.env(key, value);
            }
            let status = child
                .status()
                .await
                .with_context(|| format!("running {}", command[0]));
            stack.stop().await;
            let status = status?;
            Ok(ExitCode::from(
                status.code().unwrap_or(1).clamp(0, 255) as u8
            ))
        }
        StackCommand::Status => {
            let endpoints = stack::attach(&config.stack)?;
            let show = |name: &str, url: Option<String>| match url {
                Some(url) => println!("{name}: running at {url}"),
                None => println!("{name}: not running"),
            };
            show(
                "postgres",
                endpoints
                    .database_url
                    .as_ref()
                    .map(|u| ebok_common::config::redact_url(u.expose_secret())),
            );
            show("mosquitto", endpoints.mqtt_url.clone());
            Ok(ExitCode::SUCCESS)
        }
        StackCommand::Env => {
            let endpoints = stack::attach(&config.stack)?;
            if endpoints.database_url.is_none() && endpoints.mqtt_url.is_none() {
                anyhow::bail!("the local stack is not running (start it with `ebok stack up`)");
            }
            print_exports(&config, &endpoints)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The environment that points a process at the stack: its URLs, ingest's broker login, the
/// data folder (absolute, so a process started elsewhere finds the same stack) and the broker's
/// account folder (for tests that add gateway accounts).
fn exports(config: &Config, endpoints: &stack::Endpoints) -> Result<Vec<(&'static str, String)>> {
    let mut vars = Vec::new();
    if let Some(url) = &endpoints.database_url {
        vars.push(("EBOK__DATABASE__URL", url.expose_secret().to_string()));
        vars.push(("DATABASE_URL", url.expose_secret().to_string()));
    }
    if let Some(url) = &endpoints.mqtt_url {
        vars.push(("EBOK__MQTT__URL", url.clone()));
    }
    if let (Some(user), Some(password)) = (&endpoints.mqtt_username, &endpoints.mqtt_password) {
        vars.push(("EBOK__MQTT__USERNAME", user.clone()));
        vars.push(("EBOK__MQTT__PASSWORD", password.expose_secret().to_string()));
    }
    let layout = stack::Layout::new(&config.stack.data_dir)?;
    vars.push((
        "EBOK__STACK__DATA_DIR",
        layout.root.to_string_lossy().into_owned(),
    ));
    if let Some(dir) = &endpoints.broker_dir {
        vars.push(("EBOK_STACK_BROKER_DIR", dir.to_string_lossy().into_owned()));
    }
    Ok(vars)
}

fn print_exports(config: &Config, endpoints: &stack::Endpoints) -> Result<()> {
    for (key, value) in exports(config, endpoints)? {
        println!("export {key}='{value}'");
    }
    Ok(())
}

/// `ebok totp <key>`: the code of now and how long it stays.
fn print_totp(key: &str) -> Result<ExitCode> {
    use ebok_api::staff::totp;
    let secret = totp::parse_secret(key)
        .filter(|s| s.len() >= 16)
        .ok_or_else(|| anyhow::anyhow!("not an authenticator key (base32, at least 26 letters)"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let left = totp::STEP_SECS - now % totp::STEP_SECS;
    println!("{}", totp::code_at(&secret, now));
    eprintln!("(valid for {left} more seconds, and the 30 after)");
    Ok(ExitCode::SUCCESS)
}
