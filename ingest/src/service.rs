//! Ingest as one running service: repairs "latest" readings after a crash, then runs the MQTT
//! source, the Modbus pollers and the quarantine replay feeding the router, the writer shards,
//! the no-data scan, the month packing and the pruning of old rejections and quarantine. On shutdown it stops taking messages, lets the writers commit what they
//! hold, acknowledges it, and only then disconnects from the broker.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use ebok_common::config::{IngestConfig, MqttConfig};
use sqlx::PgPool;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::alarms::FlowRules;
use crate::directory::Directory;
use crate::mqtt::{Link, MqttSource};
use crate::validate::Rules;
use crate::writer::{self, Stats, Writer, WriterConfig};
use crate::{maintenance, modbus, router};

/// A started ingest service.
pub struct Running {
    pub stats: Arc<Stats>,
    /// MQTT connection state (stays `Connecting` when MQTT is off).
    pub link: watch::Receiver<Link>,
    /// Ends after an orderly shutdown (cancel the token given to [`start`]).
    pub task: JoinHandle<Result<()>>,
}

impl Running {
    /// Waits until the MQTT subscriptions are acknowledged.
    pub async fn subscribed(&mut self) {
        let _ = self.link.wait_for(|l| *l == Link::Subscribed).await;
    }
}

/// How often held readings are retried, how often silent meters are looked for, how often
/// closed months are looked for to pack, and how often old rejections and quarantine are pruned.
#[derive(Debug, Clone, Copy)]
pub struct Intervals {
    pub replay: Duration,
    pub no_data_scan: Duration,
    pub month_packing: Duration,
    pub retention: Duration,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals {
            replay: Duration::from_secs(30),
            no_data_scan: Duration::from_secs(600),
            month_packing: Duration::from_secs(600),
            retention: Duration::from_secs(3600),
        }
    }
}

pub async fn start(
    pool: PgPool,
    config: IngestConfig,
    mqtt: MqttConfig,
    intervals: Intervals,
    shutdown: CancellationToken,
) -> Result<Running> {
    let repaired = writer::repair_latest(&pool).await?;
    if repaired > 0 {
        tracing::info!(
            meters = repaired,
            "latest readings repaired after an unclean stop"
        );
    }
    match maintenance::set_compression(&pool, config.compress_after_days).await {
        Ok(true) => tracing::info!(
            after_days = config.compress_after_days,
            "readings on TimescaleDB: chunks are compressed by its policy"
        ),
        Ok(false) => {}
        // Another process may hold the policy's lock for long; ingest runs without it.
        Err(e) => tracing::warn!(error = %e, "setting the readings' compression policy failed"),
    }
    let stats = Arc::new(Stats::default());
    let (link_tx, link) = watch::channel(Link::Connecting);

    let shards = config.writers.max(1);
    let per_shard = (config.queue_capacity / shards).max(config.batch_size);
    let mut shard_txs = Vec::with_capacity(shards);
    let mut writers = Vec::with_capacity(shards);
    for i in 0..shards {
        let (tx, rx) = mpsc::channel(per_shard);
        shard_txs.push(tx);
        let writer = Writer::new(
            pool.clone(),
            WriterConfig {
                name: format!("{}/{i}", config.client_id),
                batch_size: config.batch_size,
                batch_delay: Duration::from_millis(config.batch_delay_ms),
                latest_flush: Duration::from_millis(config.latest_flush_ms.max(1)),
                rules: Rules {
                    future_tolerance: chrono::Duration::seconds(
                        config.future_tolerance_secs.into(),
                    ),
                    ..Rules::default()
                },
                flow: FlowRules {
                    threshold: chrono::Duration::hours(config.continuous_flow_hours.into()),
                    ..FlowRules::default()
                },
                no_data_after: chrono::Duration::days((config.no_data_days.max(1) - 1).into()),
            },
            stats.clone(),
        );
        writers.push(tokio::spawn(writer.run(rx, shutdown.clone())));
    }

    let (inbox_tx, inbox) = mpsc::channel(256);
    let router = tokio::spawn(router::run(
        Directory::new(pool.clone()),
        inbox,
        shard_txs,
        shutdown.clone(),
    ));

    let writers_done = CancellationToken::new();
    let mqtt_task = match (&mqtt.url, config.mqtt_enabled) {
        (Some(_), true) => {
            let source = MqttSource {
                ingest: config.clone(),
                mqtt,
            };
            Some(tokio::spawn(source.run(
                inbox_tx.clone(),
                link_tx,
                shutdown.clone(),
                writers_done.clone(),
            )))
        }
        _ => {
            tracing::info!("MQTT ingest is off (no mqtt.url or ingest.mqtt_enabled = false)");
            None
        }
    };
    let pollers = modbus::spawn_all(&config.modbus, inbox_tx.clone(), shutdown.clone());
    let replay = tokio::spawn(maintenance::run_replay(
        pool.clone(),
        inbox_tx.clone(),
        intervals.replay,
        shutdown.clone(),
    ));
    let scan = tokio::spawn(maintenance::run_no_data_scan(
        pool.clone(),
        config.no_data_days,
        intervals.no_data_scan,
        shutdown.clone(),
    ));
    let packing = tokio::spawn(maintenance::run_month_packing(
        pool.clone(),
        intervals.month_packing,
        shutdown.clone(),
    ));
    let retention = tokio::spawn(maintenance::run_retention(
        pool.clone(),
        maintenance::Retention::from_config(&config),
        intervals.retention,
        shutdown.clone(),
    ));
    drop(inbox_tx);

    let task = tokio::spawn(async move {
        shutdown.cancelled().await;
        // Sources stop on the token and drop their senders; the router then drains and closes
        // the shards; the writers commit what they hold and end.
        for poller in pollers {
            let _ = poller.await;
        }
        let _ = replay.await;
        let _ = scan.await;
        let _ = packing.await;
        let _ = retention.await;
        let _ = router.await;
        for writer in writers {
            let _ = writer.await;
        }
        writers_done.cancel();
        if let Some(mqtt) = mqtt_task {
            mqtt.await??;
        }
        Ok(())
    });
    Ok(Running { stats, link, task })
}
