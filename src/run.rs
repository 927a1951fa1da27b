//! Composition of the long-running parts in one process: boots the services (local stack or
//! configured ones), the pool and metrics, starts the parts as tasks sharing one shutdown token,
//! and on Ctrl-C or SIGTERM (or a part failing) stops them in order: parts first, then the pool,
//! then the local stack this process started.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use ebok_common::Config;
use mobile_push::channel::{MailSender, PushSender};
use mobile_push::dispatcher::Dispatcher;
use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::stack::{self, BrokerSettings, LocalStack, Wanted};

/// What a caller can watch of a running ingest part.
#[derive(Clone)]
pub struct IngestHandle {
    pub stats: std::sync::Arc<ebok_ingest::writer::Stats>,
    pub link: tokio::sync::watch::Receiver<ebok_ingest::mqtt::Link>,
}

/// Which parts `ebok serve` (or `ebok api`, `ebok ingest`) runs.
#[derive(Debug, Clone, Copy)]
pub struct Services {
    pub api: bool,
    pub ingest: bool,
    /// The outbox dispatcher (push and e-mail notifications).
    pub dispatch: bool,
    /// Start the local stack when services are not configured, and apply migrations.
    pub manage: bool,
}

impl Services {
    pub fn all() -> Self {
        Services {
            api: true,
            ingest: true,
            dispatch: true,
            manage: true,
        }
    }

    pub fn api_only() -> Self {
        Services {
            api: true,
            ingest: false,
            dispatch: false,
            manage: false,
        }
    }

    pub fn dispatch_only() -> Self {
        Services {
            api: false,
            ingest: false,
            dispatch: true,
            manage: false,
        }
    }

    pub fn ingest_only() -> Self {
        Services {
            api: false,
            ingest: true,
            dispatch: false,
            manage: false,
        }
    }
}

/// How to boot.
#[derive(Debug, Clone, Copy)]
pub struct Boot {
    /// Start the local stack for services without a configured URL (else only attach to one).
    pub start_stack: bool,
    pub migrate: bool,
    /// When a configured listen address is taken, use a free port instead of failing.
    pub port_fallback: bool,
    pub application_name: &'static str,
}

/// A running process: its services, pool, parts and shutdown token.
pub struct System {
    pub config: Config,
    pub pool: PgPool,
    pub shutdown: CancellationToken,
    pub metrics_addr: Option<SocketAddr>,
    /// Where e-mail goes instead of an SMTP server: the demo's mailbox, shown at
    /// `/demo/poczta`.
    pub mailbox: Option<Arc<mobile_push::email::Mailbox>>,
    /// The database is the local stack's (no `database.url`): this machine is the whole
    /// installation, so a missing access-token key file may be created here.
    pub single_machine: bool,
    stack: Option<LocalStack>,
    tasks: JoinSet<(&'static str, Result<()>)>,
}

impl System {
    pub async fn boot(config: Config, boot: Boot) -> Result<System> {
        let single_machine = config.database.url.is_none();
        let (config, stack) = if boot.start_stack {
            start_local_stack(config, true).await?
        } else {
            (attach_local_stack(config)?, None)
        };
        let pool = match ebok_common::db::connect(&config.database, boot.application_name).await {
            Ok(pool) => pool,
            Err(e) => {
                if let Some(stack) = stack {
                    stack.stop().await;
                }
                return Err(e.into());
            }
        };
        if boot.migrate {
            ebok_common::db::migrate(&pool).await?;
        } else {
            let state = ebok_common::db::migration_state(&pool).await?;
            if !state.is_current() {
                tracing::warn!(
                    migrations = %state.describe(),
                    "schema is not current; /readyz answers 503 until `ebok migrate` runs"
                );
            }
        }
        let metrics_addr = crate::telemetry::start_metrics(&config.metrics, boot.port_fallback)?;
        if let Some(dir) = &config.documents.dir {
            let directory = ebok_cases::documents::Directory::new(dir);
            // Booted once per process: a second boot (tests) keeps the first choice.
            let _ = ebok_cases::documents::keep_in(std::sync::Arc::new(directory));
            tracing::info!(dir = %dir.display(), "new case documents are kept in a directory");
        }
        Ok(System {
            config,
            pool,
            shutdown: CancellationToken::new(),
            metrics_addr,
            mailbox: None,
            single_machine,
            stack,
            tasks: JoinSet::new(),
        })
    }

    /// Binds the API address (or a free port with `port_fallback`) and serves the API and
    /// portal as a part. Returns the bound address.
    pub async fn start_api(&mut self, port_fallback: bool) -> Result<SocketAddr> {
        let configured = self.config.api.listen;
        let listener = match tokio::net::TcpListener::bind(configured).await {
            Ok(l) => l,
            Err(e) if port_fallback && e.kind() == std::io::ErrorKind::AddrInUse => {
                let mut any = configured;
                any.set_port(0);
                tokio::net::TcpListener::bind(any).await?
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("binding api.listen (EBOK__API__LISTEN) address {configured}")
                });
            }
        };
        let addr = listener.local_addr()?;
        let public_url = self.portal_base(Some(addr));
        let settings = ebok_api::state::Settings::from_config(
            &self.config.api,
            &self.config.stack,
            &public_url,
            self.single_machine,
        )?;
        let mut state = ebok_api::AppState::new(self.pool.clone(), settings)
            .await
            .with_payments(ebok_payments::online::Providers::from_config(
                &self.config.payments,
            ));
        if let Some(mailbox) = &self.mailbox {
            state = state.with_mailbox(mailbox.clone());
        } else if self.config.notify.email.enabled {
            state = state.with_mailer(Arc::new(
                mobile_push::email::SmtpMailer::from_config(&self.config.notify.email)
                    .context("notify.email")?,
            ));
        } else {
            tracing::warn!(
                "e-mail is not configured (notify.email.host, EBOK__NOTIFY__EMAIL__HOST): \
                 registration, password reset and change of e-mail are refused until it is"
            );
        }
        let shutdown = self.shutdown.clone();
        self.tasks.spawn(async move {
            let result = ebok_api::serve(listener, state, shutdown).await;
            ("api", result.map_err(Into::into))
        });
        // Attempts, ended sessions and spent links are deleted hourly.
        let (pool, shutdown) = (self.pool.clone(), self.shutdown.clone());
        self.spawn_part("housekeeping", async move {
            ebok_api::housekeeping::run(
                pool,
                ebok_api::housekeeping::Retention::default(),
                std::time::Duration::from_secs(3600),
                shutdown,
            )
            .await;
            Ok(())
        });
        // Payment reminders due today are sent every quarter of an hour in the daytime.
        let (pool, shutdown) = (self.pool.clone(), self.shutdown.clone());
        self.spawn_part("payment reminders", async move {
            ebok_payments::dunning::reminders::run(
                pool,
                std::time::Duration::from_secs(900),
                shutdown,
            )
            .await;
            Ok(())
        });
        // Cases past their deadline are announced to their clerk and the managers hourly.
        let (pool, shutdown) = (self.pool.clone(), self.shutdown.clone());
        self.spawn_part("overdue cases", async move {
            ebok_cases::overdue::run(pool, std::time::Duration::from_secs(3600), shutdown).await;
            Ok(())
        });
        // The water balance of the network zones: closed days, nights and burst alarms.
        let (pool, shutdown) = (self.pool.clone(), self.shutdown.clone());
        let balance = ebok_balance::run::Settings::from_config(&self.config.balance);
        self.spawn_part("water balance", async move {
            ebok_balance::run::run(pool, balance, shutdown).await;
            Ok(())
        });
        // Visits of tomorrow are reminded of from 18:00 (checked every ten minutes).
        let (pool, shutdown) = (self.pool.clone(), self.shutdown.clone());
        self.spawn_part("booking reminders", async move {
            ebok_bookings::reminders::run(pool, std::time::Duration::from_secs(600), shutdown)
                .await;
            Ok(())
        });
        tracing::info!(%addr, "api listening");
        Ok(addr)
    }

    /// Starts meter-reading ingest (MQTT, Modbus, writers) as a part. Returns its counters and
    /// a handle that resolves once MQTT subscriptions stand.
    pub async fn start_ingest(&mut self) -> Result<IngestHandle> {
        let running = ebok_ingest::service::start(
            self.pool.clone(),
            self.config.ingest.clone(),
            self.config.mqtt.clone(),
            ebok_ingest::service::Intervals::default(),
            self.shutdown.clone(),
        )
        .await
        .context("starting ingest")?;
        let handle = IngestHandle {
            stats: running.stats.clone(),
            link: running.link.clone(),
        };
        let task = running.task;
        self.tasks.spawn(async move {
            let result = match task.await {
                Ok(result) => result,
                Err(e) => Err(anyhow::anyhow!("ingest task failed: {e}")),
            };
            ("ingest", result)
        });
        Ok(handle)
    }

    /// Starts the outbox dispatcher as a part: push through FCM when `notify.fcm.enabled`,
    /// e-mail over SMTP when `notify.email.enabled`; links in notices point at `portal_base`.
    pub fn start_dispatcher(&mut self, portal_base: &str) -> Result<()> {
        let notify = &self.config.notify;
        let push: Option<Arc<dyn PushSender>> = if notify.fcm.enabled {
            Some(Arc::new(
                mobile_push::fcm::FcmClient::from_config(&notify.fcm).context("notify.fcm")?,
            ))
        } else {
            None
        };
        let mail: Option<Arc<dyn MailSender>> = if let Some(mailbox) = &self.mailbox {
            Some(mailbox.clone())
        } else if notify.email.enabled {
            Some(Arc::new(
                mobile_push::email::SmtpMailer::from_config(&notify.email)
                    .context("notify.email")?,
            ))
        } else {
            None
        };
        tracing::info!(
            push = push.is_some(),
            email = mail.is_some(),
            workers = notify.dispatcher.workers,
            "notification dispatcher started"
        );
        let workers = notify.dispatcher.workers;
        let dispatcher = Arc::new(Dispatcher::new(
            self.pool.clone(),
            notify.dispatcher.clone(),
            push,
            mail,
            portal_base,
        ));
        let shutdown = self.shutdown.clone();
        self.spawn_part("dispatcher", async move {
            dispatcher.run(workers, shutdown).await;
            Ok(())
        });
        Ok(())
    }

    /// Starts the KSeF sender as a part when a utility has `[ksef.<slug>]` (several processes
    /// may run one: each invoice is claimed by one).
    pub async fn start_ksef_sender(&mut self) -> Result<()> {
        if self.config.ksef.is_empty() {
            return Ok(());
        }
        let sender =
            ebok_ksef::sender::Sender::from_config(self.pool.clone(), &self.config.ksef).await?;
        if sender.is_empty() {
            return Ok(());
        }
        tracing::info!(utilities = self.config.ksef.len(), "KSeF sender started");
        let shutdown = self.shutdown.clone();
        self.spawn_part("ksef", async move {
            sender.run(shutdown).await;
            Ok(())
        });
        Ok(())
    }

    /// Starts the evaluator of residents' alarm rules as a part (several processes may run one).
    pub fn start_rule_evaluator(&mut self) {
        let evaluator = ebok_alarm_rules::Evaluator::new(
            self.pool.clone(),
            ebok_alarm_rules::EvaluatorConfig::default(),
        );
        let shutdown = self.shutdown.clone();
        self.spawn_part("alarm rules", async move {
            evaluator.run(shutdown).await;
            Ok(())
        });
    }

    /// The address residents use, for links in notices.
    pub fn portal_base(&self, bound: Option<SocketAddr>) -> String {
        match (&self.config.api.public_url, bound) {
            (Some(url), _) => url.clone(),
            (None, Some(addr)) => format!("http://{addr}"),
            (None, None) => format!("http://{}", self.config.api.listen),
        }
    }

    /// Runs a part until shutdown; the part must return when the token is cancelled.
    pub fn spawn_part<F>(&mut self, name: &'static str, part: F)
    where
        F: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        self.tasks.spawn(async move { (name, part.await) });
    }

    /// Waits for Ctrl-C, SIGTERM, cancellation of `shutdown`, or any part ending, then stops
    /// everything in order.
    pub async fn run_until_shutdown(mut self) -> Result<()> {
        let mut failure = None;
        let requested = self.shutdown.clone();
        tokio::select! {
            _ = wait_for_shutdown_signal() => tracing::info!("shutting down"),
            _ = requested.cancelled() => {}
            Some(ended) = self.tasks.join_next() => {
                match ended {
                    Ok((name, Ok(()))) => tracing::warn!(part = name, "part ended; shutting down"),
                    Ok((name, Err(e))) => failure = Some(e.context(format!("{name} failed"))),
                    Err(e) => failure = Some(anyhow::anyhow!("a part panicked: {e}")),
                }
            }
        }
        self.shutdown.cancel();
        while let Some(ended) = self.tasks.join_next().await {
            if let Ok((name, Err(e))) = ended {
                tracing::warn!(
                    part = name,
                    error = format!("{e:#}"),
                    "part failed while stopping"
                );
            }
        }
        self.pool.close().await;
        if let Some(stack) = self.stack.take() {
            stack.stop().await;
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// `ebok serve` / `ebok api`.
pub async fn serve(config: Config, services: Services) -> Result<()> {
    let mut system = System::boot(
        config,
        Boot {
            start_stack: services.manage,
            migrate: services.manage,
            port_fallback: false,
            application_name: if services.api {
                "ebok-serve"
            } else if services.ingest {
                "ebok-ingest"
            } else {
                "ebok-notify"
            },
        },
    )
    .await?;
    let mut bound = None;
    if services.api {
        bound = Some(system.start_api(false).await?);
    }
    if services.ingest {
        system.start_ingest().await?;
        // Residents' alarm rules follow the readings ingest writes.
        system.start_rule_evaluator();
    }
    if services.dispatch && system.config.notify.dispatcher.enabled {
        let portal = system.portal_base(bound);
        system.start_dispatcher(&portal)?;
    }
    if services.dispatch {
        system.start_ksef_sender().await?;
    }
    system.run_until_shutdown().await
}

/// Fills unset service URLs from the local stack, starting it for what is missing: PostgreSQL
/// always, Mosquitto only for a caller that uses the broker (`uses_broker`). A broker URL from
/// the stack comes with ingest's login on it.
pub async fn start_local_stack(
    mut config: Config,
    uses_broker: bool,
) -> Result<(Config, Option<LocalStack>)> {
    let wanted = Wanted {
        postgres: config.database.url.is_none(),
        mosquitto: uses_broker && config.mqtt.url.is_none(),
    };
    if !wanted.postgres && !wanted.mosquitto {
        return Ok((config, None));
    }
    let stack = LocalStack::start_with(
        &config.stack,
        wanted,
        BrokerSettings::for_ingest(&config.ingest),
    )
    .await?;
    fill_from(&mut config, &stack.endpoints);
    Ok((config, Some(stack)))
}

/// Fills unset service URLs from a local stack another process runs, if any.
pub fn attach_local_stack(mut config: Config) -> Result<Config> {
    if config.database.url.is_some() && config.mqtt.url.is_some() {
        return Ok(config);
    }
    let endpoints = stack::attach(&config.stack)?;
    fill_from(&mut config, &endpoints);
    Ok(config)
}

/// Takes the stack's URLs for the services the configuration does not name; the broker's comes
/// with ingest's login.
fn fill_from(config: &mut Config, endpoints: &stack::Endpoints) {
    if config.database.url.is_none() {
        config.database.url = endpoints.database_url.clone();
    }
    if config.mqtt.url.is_none()
        && let Some(url) = &endpoints.mqtt_url
    {
        config.mqtt.url = Some(url.clone());
        config.mqtt.username = endpoints.mqtt_username.clone();
        config.mqtt.password = endpoints.mqtt_password.clone();
    }
}

static SHUTDOWN_SIGNAL: std::sync::OnceLock<tokio::sync::watch::Receiver<bool>> =
    std::sync::OnceLock::new();

/// Registers the SIGINT (Ctrl-C) and SIGTERM handlers now. Until a handler is registered the
/// default action kills the process, so this runs first thing: a signal that arrives at any
/// moment afterwards, even before anything waits for it, becomes a graceful shutdown.
pub fn install_signal_handlers() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("handling SIGTERM")?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        let _ = tx.send(true);
    });
    let _ = SHUTDOWN_SIGNAL.set(rx);
    Ok(())
}

/// Resolves once Ctrl-C (SIGINT) or SIGTERM has arrived (also if it arrived earlier).
pub async fn wait_for_shutdown_signal() {
    match SHUTDOWN_SIGNAL.get() {
        Some(rx) => {
            let mut rx = rx.clone();
            let _ = rx.wait_for(|signalled| *signalled).await;
        }
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
