//! The local stack: a private PostgreSQL cluster and a private Mosquitto broker under the
//! project's data folder (`.ebok/`, git-ignored), on free loopback ports, so that a fresh Debian
//! machine needs nothing but the Rust toolchain. It never touches a system service: it installs
//! missing packages, but runs its own server processes with their own data.
//!
//! The first `ebok` process that finds a service not running starts it, owns it and stops it when
//! it exits; later processes (a second terminal, the test runner) reuse what is running and leave
//! it alone. A service is started only when its URL is not configured
//! (`EBOK__DATABASE__URL`, `EBOK__MQTT__URL`).
//!
//! All service processes are spawned from one supervisor thread, which lives exactly as long as
//! they should (see [`process`] on why that matters).

mod layout;
mod mosquitto;
mod packages;
mod postgres;
mod process;

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use ebok_common::config::{IngestConfig, StackConfig, TimescaleMode};
use ebok_ingest::gateways::{Account, INGEST_USERNAME, LocalBroker, PasswordHash};
use secrecy::{ExposeSecret, SecretString};
use sqlx::Connection;

pub use layout::Layout;
use process::{RunAs, Service};

/// Which services the caller needs from the local stack.
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    pub postgres: bool,
    pub mosquitto: bool,
}

/// What the local broker enforces that follows the system's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerSettings {
    /// Larger packets are refused before being read whole (`max_packet_size`).
    pub max_packet_size: u32,
}

impl BrokerSettings {
    /// The settings that match ingest's: packets up to its payload limit plus headers.
    pub fn for_ingest(ingest: &IngestConfig) -> BrokerSettings {
        BrokerSettings {
            max_packet_size: ebok_ingest::mqtt::max_packet_size(ingest.max_payload_bytes),
        }
    }
}

impl Default for BrokerSettings {
    fn default() -> Self {
        BrokerSettings::for_ingest(&IngestConfig::default())
    }
}

/// Where the stack's services answer, and with which credentials.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    pub database_url: Option<SecretString>,
    pub mqtt_url: Option<String>,
    /// Ingest's login on the broker (`ebok-ingest` and its remembered password).
    pub mqtt_username: Option<String>,
    pub mqtt_password: Option<SecretString>,
    /// The broker's folder, where its account files are (see [`Endpoints::broker`]).
    pub broker_dir: Option<std::path::PathBuf>,
}

impl Endpoints {
    /// The local broker's accounts, for adding and removing gateways; `None` without a broker.
    pub fn broker(&self) -> Option<LocalBroker> {
        LocalBroker::at_url(self.broker_dir.clone()?, self.mqtt_url.as_deref()?).ok()
    }
}

/// A started (or reused) local stack. Dropping it stops what it started.
pub struct LocalStack {
    pub endpoints: Endpoints,
    /// Names of the services this process started (and will stop).
    pub owned: Vec<&'static str>,
    commands: Option<mpsc::Sender<Command>>,
    supervisor: Option<JoinHandle<()>>,
}

/// What the supervisor thread can be asked to do (closing the channel means "stop").
enum Command {
    Restart(&'static str, tokio::sync::oneshot::Sender<Result<()>>),
}

/// How to start a service again: its program, folder, user and port.
enum Recipe {
    Postgres {
        bin: packages::PostgresBin,
        dir: std::path::PathBuf,
        run_as: Option<RunAs>,
        port: u16,
        timescale: bool,
    },
    Mosquitto {
        program: std::path::PathBuf,
        dir: std::path::PathBuf,
        run_as: Option<RunAs>,
        port: u16,
        settings: BrokerSettings,
        ingest_password: String,
    },
}

impl Recipe {
    fn name(&self) -> &'static str {
        match self {
            Recipe::Postgres { .. } => "postgres",
            Recipe::Mosquitto { .. } => "mosquitto",
        }
    }

    fn start(&self) -> Result<Service> {
        match self {
            Recipe::Postgres {
                bin,
                dir,
                run_as,
                port,
                timescale,
            } => postgres::Cluster {
                bin,
                dir: dir.clone(),
                run_as: run_as.as_ref(),
                timescale: *timescale,
            }
            .start(*port),
            Recipe::Mosquitto {
                program,
                dir,
                run_as,
                port,
                settings,
                ingest_password,
            } => mosquitto::Broker {
                program,
                dir: dir.clone(),
                run_as: run_as.as_ref(),
            }
            .start(*port, *settings, ingest_password),
        }
    }
}

impl LocalStack {
    /// Installs what is missing, then starts or reuses the wanted services and waits until they
    /// answer. Creates the `ebok` database when it does not exist. A broker it starts has
    /// [`BrokerSettings::default`].
    pub async fn start(config: &StackConfig, wanted: Wanted) -> Result<LocalStack> {
        LocalStack::start_with(config, wanted, BrokerSettings::default()).await
    }

    /// [`LocalStack::start`] with the settings of a broker it starts.
    pub async fn start_with(
        config: &StackConfig,
        wanted: Wanted,
        broker: BrokerSettings,
    ) -> Result<LocalStack> {
        let supervised = config.clone();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (commands_tx, commands_rx) = mpsc::channel::<Command>();
        let supervisor = std::thread::Builder::new()
            .name("ebok-stack".into())
            .spawn(move || supervise(supervised, wanted, broker, ready_tx, commands_rx))
            .context("starting the stack supervisor thread")?;
        let started = ready_rx
            .await
            .map_err(|_| anyhow!("the stack supervisor stopped unexpectedly"))?;
        let (endpoints, owned) = match started {
            Ok(ok) => ok,
            Err(e) => {
                let _ = supervisor.join();
                return Err(e);
            }
        };
        let stack = LocalStack {
            endpoints,
            owned,
            commands: Some(commands_tx),
            supervisor: Some(supervisor),
        };
        if let Some(url) = &stack.endpoints.database_url {
            let timescale = ensure_database(url).await?;
            if config.timescaledb == TimescaleMode::On && !timescale {
                anyhow::bail!(
                    "stack.timescaledb is on, but the running cluster under {} was started \
                     without TimescaleDB; stop the ebok process that runs it first",
                    config.data_dir.display()
                );
            }
        }
        Ok(stack)
    }

    /// Stops one service this process started and starts it again on the same port (fault
    /// tests: a broker or database restart under a running system).
    pub async fn restart(&self, service: &'static str) -> Result<()> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.commands
            .as_ref()
            .context("the stack is stopping")?
            .send(Command::Restart(service, reply))
            .map_err(|_| anyhow!("the stack supervisor is gone"))?;
        answer
            .await
            .map_err(|_| anyhow!("the stack supervisor is gone"))?
    }

    /// Stops the services this process started and waits until they are gone.
    pub async fn stop(mut self) {
        let stop = self.commands.take();
        let supervisor = self.supervisor.take();
        drop(stop);
        if let Some(handle) = supervisor {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        drop(self.commands.take());
        if let Some(handle) = self.supervisor.take() {
            let _ = handle.join();
        }
    }
}

type Started = Result<(Endpoints, Vec<&'static str>)>;

/// The supervisor thread: start, report, wait for the stop request (or the sender's drop), stop.
fn supervise(
    config: StackConfig,
    wanted: Wanted,
    broker: BrokerSettings,
    ready: tokio::sync::oneshot::Sender<Started>,
    commands: mpsc::Receiver<Command>,
) {
    let mut services: Vec<(Recipe, Service)> = Vec::new();
    let started = bring_up(&config, wanted, broker, &mut services);
    let failed = started.is_err();
    let owned = started.as_ref().map(|(_, o)| o.clone()).unwrap_or_default();
    if ready.send(started).is_err() || failed {
        stop_all(services);
        return;
    }
    if !owned.is_empty() {
        tracing::info!(services = ?owned, "local stack started");
    }
    // Serves commands until LocalStack::stop or its drop closes the channel.
    while let Ok(command) = commands.recv() {
        match command {
            Command::Restart(name, reply) => {
                let result = match services.iter().position(|(r, _)| r.name() == name) {
                    None => Err(anyhow!("{name} was not started by this process")),
                    Some(i) => {
                        let (recipe, service) = services.remove(i);
                        let _ = service.stop(Duration::from_secs(30));
                        match recipe.start() {
                            Ok(service) => {
                                services.insert(i, (recipe, service));
                                Ok(())
                            }
                            Err(e) => Err(e),
                        }
                    }
                };
                let _ = reply.send(result);
            }
        }
    }
    stop_all(services);
}

fn stop_all(services: Vec<(Recipe, Service)>) {
    for (_, service) in services.into_iter().rev() {
        let name = service.name;
        if let Err(e) = service.stop(Duration::from_secs(30)) {
            tracing::warn!(service = name, error = %e, "stopping failed");
        } else {
            tracing::info!(service = name, "stopped");
        }
    }
}

fn bring_up(
    config: &StackConfig,
    wanted: Wanted,
    settings: BrokerSettings,
    services: &mut Vec<(Recipe, Service)>,
) -> Started {
    let layout = Layout::new(&config.data_dir)?;
    let _lock = layout.lock()?;
    let mut remembered = layout.remembered();
    let root = nix::unistd::geteuid().is_root();

    let mut missing = Vec::new();
    if wanted.postgres && packages::find_postgres().is_none() {
        missing.push("postgresql");
    }
    if wanted.mosquitto && packages::find_mosquitto().is_none() {
        missing.push("mosquitto");
    }
    if !missing.is_empty() {
        if !config.install_packages {
            anyhow::bail!(
                "{} not installed and stack.install_packages is off; install them or set \
                 EBOK__DATABASE__URL / EBOK__MQTT__URL",
                missing.join(" and ")
            );
        }
        packages::apt_install(&missing, &layout.apt_log())?;
    }
    let mut endpoints = Endpoints::default();
    let mut owned = Vec::new();

    if wanted.postgres {
        let bin = packages::find_postgres()
            .ok_or_else(|| anyhow!("PostgreSQL server programs not found after installation"))?;
        let run_as = service_user(root, "postgres")?;
        let dir = layout.prepare_service_dir("postgres", run_as.as_ref())?;
        let timescale = match config.timescaledb {
            TimescaleMode::Off => false,
            TimescaleMode::Auto => bin.has_timescaledb(),
            TimescaleMode::On if bin.has_timescaledb() => true,
            TimescaleMode::On => anyhow::bail!(
                "stack.timescaledb is on, but TimescaleDB is not installed for PostgreSQL {}; \
                 install it (README, \"TimescaleDB\") or set EBOK__STACK__TIMESCALEDB=auto",
                bin.major
            ),
        };
        let cluster = postgres::Cluster {
            bin: &bin,
            dir,
            run_as: run_as.as_ref(),
            timescale,
        };
        let password = remembered
            .postgres_password
            .get_or_insert_with(layout::generate_password)
            .clone();
        let port = match cluster.running() {
            Some((_pid, port)) => port,
            None => {
                cluster.init(&password)?;
                let port = layout::free_port(remembered.postgres_port)?;
                let recipe = Recipe::Postgres {
                    bin: bin.clone(),
                    dir: cluster.dir.clone(),
                    run_as: run_as.clone(),
                    port,
                    timescale,
                };
                services.push((recipe, cluster.start(port)?));
                owned.push("postgres");
                port
            }
        };
        remembered.postgres_port = Some(port);
        endpoints.database_url = Some(SecretString::from(format!(
            "postgres://{}:{password}@127.0.0.1:{port}/{}",
            postgres::USER,
            postgres::DATABASE
        )));
    }

    if wanted.mosquitto {
        let program = packages::find_mosquitto()
            .ok_or_else(|| anyhow!("Mosquitto not found after installation"))?;
        let run_as = service_user(root, "mosquitto")?;
        let dir = layout.prepare_service_dir("mosquitto", run_as.as_ref())?;
        let broker = mosquitto::Broker {
            program: &program,
            dir,
            run_as: run_as.as_ref(),
        };
        let ingest_password = remembered
            .mosquitto_ingest_password
            .get_or_insert_with(ebok_ingest::gateways::generate_password)
            .clone();
        let port = match (broker.running(), remembered.mosquitto_port) {
            (Some(_), Some(port)) if mosquitto::answers_connect(port) => {
                // Reused: its files may predate ingest's account (or lost it); put it back.
                broker.accounts(port).ensure_blocking(
                    &Account::ingest(PasswordHash::new(&ingest_password)),
                    &ingest_password,
                )?;
                port
            }
            _ => {
                let port = layout::free_port(remembered.mosquitto_port)?;
                let recipe = Recipe::Mosquitto {
                    program: program.clone(),
                    dir: broker.dir.clone(),
                    run_as: run_as.clone(),
                    port,
                    settings,
                    ingest_password: ingest_password.clone(),
                };
                services.push((recipe, broker.start(port, settings, &ingest_password)?));
                owned.push("mosquitto");
                port
            }
        };
        remembered.mosquitto_port = Some(port);
        endpoints.mqtt_url = Some(format!("mqtt://127.0.0.1:{port}"));
        endpoints.mqtt_username = Some(INGEST_USERNAME.to_string());
        endpoints.mqtt_password = Some(SecretString::from(ingest_password));
        endpoints.broker_dir = Some(broker.dir.clone());
    }

    layout.remember(&remembered)?;
    Ok((endpoints, owned))
}

/// Whether this machine's PostgreSQL (the one the stack would run) has TimescaleDB installed.
pub fn timescaledb_installed() -> bool {
    packages::find_postgres().is_some_and(|bin| bin.has_timescaledb())
}

/// As root, services run as their Debian system user; otherwise as the current user.
fn service_user(root: bool, name: &str) -> Result<Option<RunAs>> {
    if !root {
        return Ok(None);
    }
    match RunAs::lookup(name)? {
        Some(user) => Ok(Some(user)),
        None => anyhow::bail!(
            "running as root, but there is no system user `{name}` to run {name} as \
             (Debian's package creates it)"
        ),
    }
}

/// The endpoints of a local stack some other `ebok` process runs, for commands that use the
/// stack but do not start it. `None` when nothing runs.
pub fn attach(config: &StackConfig) -> Result<Endpoints> {
    let layout = Layout::new(&config.data_dir)?;
    let remembered = layout.remembered();
    let mut endpoints = Endpoints::default();
    if let (Some(bin), Some(password)) = (packages::find_postgres(), &remembered.postgres_password)
    {
        let cluster = postgres::Cluster {
            bin: &bin,
            dir: layout.service_dir("postgres"),
            run_as: None,
            timescale: false,
        };
        if let Some((_, port)) = cluster.running() {
            endpoints.database_url = Some(SecretString::from(format!(
                "postgres://{}:{password}@127.0.0.1:{port}/{}",
                postgres::USER,
                postgres::DATABASE
            )));
        }
    }
    if let Some(port) = remembered.mosquitto_port
        && mosquitto::answers_connect(port)
    {
        endpoints.mqtt_url = Some(format!("mqtt://127.0.0.1:{port}"));
        if let Some(password) = remembered.mosquitto_ingest_password {
            endpoints.mqtt_username = Some(INGEST_USERNAME.to_string());
            endpoints.mqtt_password = Some(SecretString::from(password));
        }
        endpoints.broker_dir = Some(layout.service_dir("mosquitto"));
    }
    Ok(endpoints)
}

/// Creates the system's database in a fresh cluster. Returns whether the server preloads
/// TimescaleDB.
async fn ensure_database(url: &SecretString) -> Result<bool> {
    let mut admin_url = url::Url::parse(url.expose_secret())?;
    admin_url.set_path("/postgres");
    let mut conn = sqlx::PgConnection::connect(admin_url.as_str())
        .await
        .context("connecting to the local cluster")?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(postgres::DATABASE)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        // The name is a constant; sqlx wants dynamic SQL marked as audited.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {}",
            postgres::DATABASE
        )))
        .execute(&mut conn)
        .await?;
    }
    let preloaded: String =
        sqlx::query_scalar("SELECT current_setting('shared_preload_libraries')")
            .fetch_one(&mut conn)
            .await?;
    conn.close().await?;
    Ok(preloaded.contains("timescaledb"))
}
