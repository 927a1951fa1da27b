//! The outbox dispatcher: outbox events → inbox notifications → deliveries over push and e-mail.
//!
//! [`Dispatcher::try_dispatch_once`] is one step (expand a few due events a slice of recipients
//! further, then send one batch of due deliveries and settle them); tests call it directly.
//! [`Dispatcher::run`] repeats it in a few workers until cancelled; workers share the tables
//! through `FOR UPDATE SKIP LOCKED`, so several processes can run it too.
//!
//! Delivery is at least once: a delivery is leased before it is sent and settled after, and a
//! lapsed lease makes it due again. Each (notification, device or address) has one delivery row
//! with an idempotency key, so a retry never creates a second target, and a crash between send
//! and settle repeats that target once, under the same key.
//!
//! Failures: temporary ones (quota, 5xx, network) back off exponentially with jitter and honour
//! `Retry-After`; after `max_attempts` the delivery is dead-lettered (see [`dead_letters`]); a
//! device FCM calls gone is removed with the reason; other refusals are recorded as failed.

mod backoff;
pub mod dead_letters;
mod deliver;
mod expand;

use std::sync::Arc;
use std::time::Duration;

use ebok_common::config::DispatcherConfig;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::channel::{MailSender, PushSender};

pub use dead_letters::{DeadLetter, dead_letters, requeue_dead, requeue_dead_event};

/// Runs the outbox → notification → delivery pipeline.
pub struct Dispatcher {
    pool: PgPool,
    config: DispatcherConfig,
    push: Option<Arc<dyn PushSender>>,
    mail: Option<Arc<dyn MailSender>>,
    /// The public address of the portal (no trailing slash); links are `<base>/u/<slug>/…`.
    portal_base: String,
}

/// What one step did.
#[derive(Debug, Default, Clone)]
pub struct StepReport {
    /// Outbox events expanded a slice further (or completed).
    pub events: usize,
    pub notifications: usize,
    pub deliveries_created: usize,
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub dead: usize,
    pub cancelled: usize,
    pub targets_removed: usize,
    /// How long each send of this step took.
    pub send_latencies: Vec<Duration>,
}

impl StepReport {
    /// Nothing was due.
    pub fn is_idle(&self) -> bool {
        self.events == 0 && self.claimed == 0 && self.dead == 0
    }
}

impl Dispatcher {
    /// A dispatcher; a channel left `None` is off (no deliveries are created for it).
    pub fn new(
        pool: PgPool,
        config: DispatcherConfig,
        push: Option<Arc<dyn PushSender>>,
        mail: Option<Arc<dyn MailSender>>,
        portal_base: &str,
    ) -> Dispatcher {
        Dispatcher {
            pool,
            config,
            push,
            mail,
            portal_base: portal_base.trim_end_matches('/').to_string(),
        }
    }

    /// One step: expand due outbox events by one slice of recipients, then send and settle one
    /// batch of due deliveries.
    pub async fn try_dispatch_once(&self) -> anyhow::Result<StepReport> {
        let mut report = StepReport::default();
        let created = expand::step(self, &self.pool, &mut report).await?;
        deliver::step(self, &self.pool, created, &mut report).await?;
        Ok(report)
    }

    /// Steps until `cancel`, in `workers` parallel loops. Idle loops wait `poll_ms`; a failing
    /// step (the database is away) is logged and retried with back-off; the loop never ends on
    /// an error.
    pub async fn run(self: Arc<Self>, workers: usize, cancel: CancellationToken) {
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..workers.max(1) {
            let me = self.clone();
            let cancel = cancel.clone();
            tasks.spawn(async move {
                let idle = Duration::from_millis(me.config.poll_ms.max(1));
                let mut failures = 0u32;
                while !cancel.is_cancelled() {
                    let wait = match me.try_dispatch_once().await {
                        Ok(report) if report.is_idle() => {
                            failures = 0;
                            Some(idle)
                        }
                        Ok(_) => {
                            failures = 0;
                            None
                        }
                        Err(error) => {
                            failures += 1;
                            tracing::warn!(worker, %error, failures, "dispatch step failed");
                            Some(backoff::delay(
                                failures,
                                Duration::from_millis(200),
                                Duration::from_secs(30),
                                None,
                            ))
                        }
                    };
                    if let Some(wait) = wait {
                        tokio::select! {
                            _ = cancel.cancelled() => break,
                            _ = tokio::time::sleep(wait) => {}
                        }
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }

    fn backoff_base(&self) -> Duration {
        Duration::from_millis(self.config.backoff_base_ms)
    }

    fn backoff_max(&self) -> Duration {
        Duration::from_secs(self.config.backoff_max_secs)
    }
}
