//! The batch writer: one task per shard (meters are routed to shards by id, so each meter's
//! readings are written in order by one task). It collects work until `batch_size` items or
//! `batch_delay`, validates readings against each meter's newest committed reading, and commits
//! everything of the batch in one transaction, then settles the messages' acknowledgements.
//!
//! This module owns the loop: batching, retries, splitting a batch the database refuses, the
//! meters' states between batches, when the pending folds are flushed, counters and metrics.
//! What a batch writes is decided by `plan` (pure: states, batch and clock in, plan out), written
//! by `store` in one transaction, and folded into the read models by `folds`.
//!
//! Writing a batch:
//! - readings newer than their meter's newest go in one binary `COPY` (the fast path);
//! - late readings and readings at an instant already stored go through
//!   `INSERT … ON CONFLICT DO NOTHING`, and the ones not inserted are compared with what is stored:
//!   the same value is an idempotent duplicate, a different value a conflict (kept value flagged,
//!   offered value stored as a rejection). If another process wrote a "newer" reading first, the
//!   COPY meets a unique violation and the batch is retried with every reading on the careful
//!   path;
//! - rejections, quarantined readings and alarm transitions (with their outbox events) go in the
//!   same transaction;
//! - `meter_latest_readings` is updated from a coalesced map of each meter's newest reading at
//!   most every `latest_flush` (one upsert per meter per flush instead of one per reading);
//! - `meter_day_readings` (each meter's first and last reading of each Warsaw day, migrations
//!   0012 and 0020) in the same flush: the COPY tells that table's trigger that the writer folds
//!   its rows itself, and the flush refolds from the stored readings only the days that a
//!   newest reading opened or closed or a late reading touched, so a meter costs two day-row
//!   writes a day, not one per batch. The open day's last reading is the latest reading.
//!   Readings on the careful path go through the trigger.
//!   Setting the trigger aside and owing the fold are one act (see `folds`);
//! - each flush records a watermark; after a crash, [`repair_latest`] replays readings received
//!   since the oldest watermark into both tables, so neither is ever lost nor moves back.
//!
//! A failed commit (database down) is retried with back-off until it succeeds: nothing is
//! acknowledged before, so nothing is lost. Only at shutdown does a writer give up, leaving the
//! messages unacknowledged for the broker to deliver again.

mod folds;
mod plan;
mod store;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use ebok_common::backoff::Backoff;
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::ack::Ack;
use crate::alarms::FlowRules;
use crate::pipeline::Origin;
use crate::reading::{RawReading, RejectReason, Rejection};
use crate::validate::{MeterInfo, Rules};

use folds::Pending;
pub use folds::repair_latest;
use plan::{MeterState, Paths, Plan, Policy};
use store::{Flush, Outcome, is_transient, is_unique_violation, sqlstate};

/// How long to wait before retrying after the database failed (down, restarting).
const RETRY: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));

/// Where a piece of work came from, and when it arrived.
#[derive(Debug)]
pub struct Provenance {
    pub origin: Origin,
    pub received: Instant,
}

/// One unit of work for a writer shard.
#[derive(Debug)]
pub enum Work {
    Reading {
        meter: Arc<MeterInfo>,
        reading: RawReading,
        from: Arc<Provenance>,
        ack: Option<Ack>,
    },
    Quarantine {
        utility_id: Option<i64>,
        reading: RawReading,
        detail: String,
        from: Arc<Provenance>,
        ack: Option<Ack>,
    },
    Reject {
        utility_id: Option<i64>,
        rejection: Rejection,
        from: Arc<Provenance>,
        ack: Option<Ack>,
    },
}

impl Work {
    fn take_ack(&mut self) -> Option<Ack> {
        match self {
            Work::Reading { ack, .. } | Work::Quarantine { ack, .. } | Work::Reject { ack, .. } => {
                ack.take()
            }
        }
    }
}

/// Counters shared by all writers of a process (tests and benchmarks read them).
#[derive(Debug, Default)]
pub struct Stats {
    pub stored: AtomicU64,
    pub duplicates: AtomicU64,
    /// Of the rejections, those offering another value for a stored meter and instant.
    pub conflicts: AtomicU64,
    pub rejected: AtomicU64,
    pub quarantined: AtomicU64,
    pub batches: AtomicU64,
    pub retries: AtomicU64,
}

impl Stats {
    /// Items whose fate is sealed: readings stored, ignored as duplicates or quarantined, and
    /// rejections stored (conflicts included; a rejected message counts once).
    pub fn settled(&self) -> u64 {
        self.stored.load(Ordering::Relaxed)
            + self.duplicates.load(Ordering::Relaxed)
            + self.rejected.load(Ordering::Relaxed)
            + self.quarantined.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Names this writer's watermark; stable per process and shard.
    pub name: String,
    pub batch_size: usize,
    pub batch_delay: Duration,
    pub latest_flush: Duration,
    pub rules: Rules,
    pub flow: FlowRules,
    /// Meters whose previous reading is older than this may carry a "no data" alarm, which their
    /// next reading clears.
    pub no_data_after: chrono::Duration,
}

impl WriterConfig {
    fn policy(&self) -> Policy {
        Policy {
            rules: self.rules,
            flow: self.flow,
            no_data_after: self.no_data_after,
        }
    }
}

pub struct Writer {
    pool: PgPool,
    config: WriterConfig,
    stats: Arc<Stats>,
    states: HashMap<i64, MeterState>,
    pending: Pending,
    last_flush: Instant,
    /// Batches left during which late readings take the careful path (set after a late reading
    /// turned out to be stored already).
    careful_batches: u32,
}

/// How long late readings take the careful path after one was found already stored.
const CAREFUL_AFTER_DUPLICATE: u32 = 20;

impl Writer {
    pub fn new(pool: PgPool, config: WriterConfig, stats: Arc<Stats>) -> Self {
        Writer {
            pool,
            config,
            stats,
            states: HashMap::new(),
            pending: Pending::default(),
            last_flush: Instant::now(),
            careful_batches: 0,
        }
    }

    /// Runs until the channel closes (all senders gone), then flushes and returns. `shutdown`
    /// only stops retrying a batch the database keeps refusing.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Work>, shutdown: CancellationToken) {
        let mut batch = Vec::with_capacity(self.config.batch_size);
        loop {
            let flush_in = self
                .config
                .latest_flush
                .saturating_sub(self.last_flush.elapsed());
            tokio::select! {
                n = rx.recv_many(&mut batch, self.config.batch_size) => {
                    if n == 0 {
                        break;
                    }
                }
                _ = tokio::time::sleep(flush_in), if !self.pending.is_empty() => {
                    self.flush_latest_alone(&shutdown).await;
                    continue;
                }
            }
            let deadline = tokio::time::Instant::now() + self.config.batch_delay;
            while batch.len() < self.config.batch_size {
                let room = self.config.batch_size - batch.len();
                tokio::select! {
                    n = rx.recv_many(&mut batch, room) => if n == 0 { break },
                    _ = tokio::time::sleep_until(deadline) => break,
                }
            }
            self.write(std::mem::take(&mut batch), &shutdown).await;
        }
        self.flush_latest_alone(&shutdown).await;
    }

    /// Writes a batch until it is committed. A permanent error (the database refuses the data,
    /// not the connection) splits the batch so that one bad item cannot hold the others back.
    async fn write(&mut self, mut batch: Vec<Work>, shutdown: &CancellationToken) {
        let started = Instant::now();
        let mut attempt = 0u32;
        let mut all_careful = false;
        loop {
            let result = async {
                self.load_states(&batch).await?;
                let paths = self.paths(all_careful);
                let plan = plan::plan(
                    &self.states,
                    &batch,
                    Utc::now(),
                    paths,
                    &self.config.policy(),
                );
                let outcome = self.commit(&plan).await?;
                Ok::<_, sqlx::Error>((plan, outcome))
            }
            .await;
            match result {
                Ok((plan, outcome)) => {
                    self.careful_batches = self.careful_batches.saturating_sub(1);
                    self.applied(plan, outcome, &batch, started);
                    for ack in batch.iter_mut().filter_map(Work::take_ack) {
                        ack.settle();
                    }
                    return;
                }
                Err(e) if !all_careful && is_unique_violation(&e) => {
                    // A reading copied as new was stored already (a late duplicate, or another
                    // writer was first): redo the batch on the careful path, which tells
                    // duplicates from conflicts, and stay careful with late readings for a while.
                    tracing::debug!("a copied reading was already stored; retrying carefully");
                    self.states.clear();
                    self.careful_batches = CAREFUL_AFTER_DUPLICATE;
                    all_careful = true;
                }
                Err(e) if !is_transient(&e) => {
                    self.isolate(batch, e, shutdown).await;
                    return;
                }
                Err(e) => {
                    attempt += 1;
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("ingest_batch_retries_total").increment(1);
                    if shutdown.is_cancelled() && attempt >= 3 {
                        tracing::warn!(
                            error = %e,
                            items = batch.len(),
                            "giving up a batch at shutdown; its messages stay unacknowledged"
                        );
                        return; // acks dropped unsettled: the broker delivers them again
                    }
                    let wait = RETRY.random(attempt);
                    tracing::warn!(error = %e, attempt, wait_ms = wait.as_millis() as u64, "batch not committed; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// The database refused something in `batch` for good. Writes the items one by one; an item
    /// refused on its own is stored as a bare rejection, or, if even that fails, logged and
    /// dropped: retrying could never succeed, and holding it would stall the stream.
    async fn isolate(
        &mut self,
        batch: Vec<Work>,
        error: sqlx::Error,
        shutdown: &CancellationToken,
    ) {
        metrics::counter!("ingest_batch_splits_total").increment(1);
        if batch.len() > 1 {
            tracing::warn!(error = %error, items = batch.len(), "batch refused; writing its items one by one");
            for work in batch {
                Box::pin(self.write(vec![work], shutdown)).await;
            }
            return;
        }
        let Some(mut work) = batch.into_iter().next() else {
            return;
        };
        let (utility_id, from) = match &work {
            Work::Reading { meter, from, .. } => (Some(meter.utility_id), from.clone()),
            Work::Quarantine {
                utility_id, from, ..
            }
            | Work::Reject {
                utility_id, from, ..
            } => (*utility_id, from.clone()),
        };
        if matches!(&work, Work::Reject { rejection, .. } if rejection.reason == RejectReason::MalformedPayload && rejection.sample.is_none())
        {
            tracing::error!(error = %error, "an item the database refuses even as a bare rejection was dropped");
            metrics::counter!("ingest_dropped_total").increment(1);
            if let Some(ack) = work.take_ack() {
                ack.settle();
            }
            return;
        }
        tracing::warn!(error = %error, "an item the database refuses is stored as a rejection");
        let bare = Work::Reject {
            utility_id,
            rejection: Rejection::new(
                RejectReason::MalformedPayload,
                format!("the database refused this item: {}", sqlstate(&error)),
            ),
            from,
            ack: work.take_ack(),
        };
        Box::pin(self.write(vec![bare], shutdown)).await;
    }

    /// Loads the newest reading and open alarms of meters this writer has not seen yet.
    async fn load_states(&mut self, batch: &[Work]) -> sqlx::Result<()> {
        let missing: Vec<i64> = batch
            .iter()
            .filter_map(|w| match w {
                Work::Reading { meter, .. } if !self.states.contains_key(&meter.id) => {
                    Some(meter.id)
                }
                _ => None,
            })
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        self.states
            .extend(store::load_states(&self.pool, &missing).await?);
        Ok(())
    }

    /// Which readings take the careful path in the next plan.
    fn paths(&self, all_careful: bool) -> Paths {
        if all_careful {
            Paths::AllCareful
        } else if self.careful_batches > 0 {
            Paths::LateCareful
        } else {
            Paths::Copy
        }
    }

    /// Writes `plan` in one transaction, with the pending folds when their flush is due.
    async fn commit(&self, plan: &Plan) -> sqlx::Result<Outcome> {
        let flush = (self.last_flush.elapsed() >= self.config.latest_flush).then_some(Flush {
            pending: &self.pending,
            writer: &self.config.name,
        });
        store::commit(&self.pool, plan, flush).await
    }

    fn applied(&mut self, plan: Plan, outcome: Outcome, batch: &[Work], started: Instant) {
        let copied = plan.copied().len();
        self.states.extend(plan.states);
        if outcome.flushed {
            self.pending = Pending::default();
            self.last_flush = Instant::now();
        } else {
            self.pending.merge(plan.pending);
        }
        // Conflicts found against stored readings add rejections beyond the planned ones.
        let late_conflicts = outcome.conflicts - plan.conflicts_in_batch;
        let rejected = plan.rejections.len() as u64 + late_conflicts;
        let stats = &self.stats;
        stats.stored.fetch_add(outcome.stored, Ordering::Relaxed);
        stats
            .duplicates
            .fetch_add(outcome.duplicates, Ordering::Relaxed);
        stats
            .conflicts
            .fetch_add(outcome.conflicts, Ordering::Relaxed);
        stats.rejected.fetch_add(rejected, Ordering::Relaxed);
        stats
            .quarantined
            .fetch_add(plan.quarantine.len() as u64, Ordering::Relaxed);
        stats.batches.fetch_add(1, Ordering::Relaxed);

        metrics::counter!("ingest_readings_total", "outcome" => "stored").increment(outcome.stored);
        metrics::counter!("ingest_readings_total", "outcome" => "duplicate")
            .increment(outcome.duplicates);
        metrics::counter!("ingest_readings_total", "outcome" => "quarantined")
            .increment(plan.quarantine.len() as u64);
        for r in &plan.rejections {
            metrics::counter!("ingest_rejections_total", "reason" => r.rejection.reason.as_str())
                .increment(1);
        }
        if late_conflicts > 0 {
            metrics::counter!("ingest_rejections_total", "reason" => RejectReason::ConflictingDuplicate.as_str())
                .increment(late_conflicts);
        }
        tracing::debug!(
            writer = %self.config.name,
            items = batch.len(),
            fast = copied,
            slow = plan.careful.len(),
            transitions = plan.transitions.len(),
            maybe_no_data = plan.maybe_no_data.len(),
            stored = outcome.stored,
            ms = started.elapsed().as_millis() as u64,
            "batch committed"
        );
        metrics::histogram!("ingest_batch_items").record(batch.len() as f64);
        metrics::histogram!("ingest_batch_seconds").record(started.elapsed().as_secs_f64());
        if let Some(oldest) = batch.iter().map(provenance).map(|p| p.received).min() {
            metrics::histogram!("ingest_commit_lag_seconds").record(oldest.elapsed().as_secs_f64());
        }
    }

    /// Flushes pending latest readings in a transaction of their own (when the writer is idle).
    async fn flush_latest_alone(&mut self, shutdown: &CancellationToken) {
        if self.pending.is_empty() {
            self.last_flush = Instant::now();
            return;
        }
        let mut attempt = 0u32;
        loop {
            let result = async {
                let mut tx = self.pool.begin().await?;
                self.pending.flush(&mut tx, &self.config.name).await?;
                tx.commit().await
            }
            .await;
            match result {
                Ok(()) => {
                    self.pending = Pending::default();
                    self.last_flush = Instant::now();
                    return;
                }
                Err(e) => {
                    attempt += 1;
                    if shutdown.is_cancelled() && attempt >= 3 {
                        // Readings are committed; the watermark lets the next start repair this.
                        tracing::warn!(error = %e, "latest readings not flushed at shutdown; repaired at next start");
                        return;
                    }
                    tracing::warn!(error = %e, "flushing latest readings failed; retrying");
                    tokio::time::sleep(RETRY.random(attempt)).await;
                }
            }
        }
    }
}

fn provenance(work: &Work) -> &Arc<Provenance> {
    match work {
        Work::Reading { from, .. } | Work::Quarantine { from, .. } | Work::Reject { from, .. } => {
            from
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebok_common::domain::ReadingSource;
    use ebok_common::domain::time::local_day;
    use folds::LatestRow;

    fn writer() -> Writer {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .expect("a lazy pool never connects here");
        let config = WriterConfig {
            name: "test/0".into(),
            batch_size: 10,
            batch_delay: Duration::from_millis(1),
            latest_flush: Duration::from_millis(50),
            rules: Rules::default(),
            flow: FlowRules::default(),
            no_data_after: chrono::Duration::days(1),
        };
        Writer::new(pool, config, Arc::new(Stats::default()))
    }

    fn plan_with_latest(meter: i64) -> Plan {
        let mut plan = Plan::default();
        plan.pending.latest.insert(
            meter,
            LatestRow {
                measured_at: Utc::now(),
                litres: 1_000,
                source: ReadingSource::Radio,
                flags: 0,
            },
        );
        plan.pending.days.insert((meter, local_day(Utc::now())));
        plan
    }

    /// Whether a batch's pending folds were written is what its transaction did, not what the
    /// clock says afterwards: a commit that started just before the flush was due, and ended
    /// after, once dropped them unwritten (meter_latest_readings and the day rows never caught
    /// up; seen as a rare timeout in the pipeline tests under load).
    #[tokio::test]
    async fn pending_folds_stay_until_a_transaction_writes_them() {
        let mut w = writer();
        // The flush came due while the transaction ran; the transaction did not flush.
        w.last_flush = Instant::now() - Duration::from_secs(1);
        w.applied(plan_with_latest(7), Outcome::default(), &[], Instant::now());
        assert!(w.pending.latest.contains_key(&7));
        assert!(w.pending.days.iter().any(|(meter, _)| *meter == 7));

        // A later transaction flushed them together with its own.
        let flushed = Outcome {
            flushed: true,
            ..Outcome::default()
        };
        w.applied(plan_with_latest(8), flushed, &[], Instant::now());
        assert!(w.pending.is_empty());
        assert!(w.last_flush.elapsed() < Duration::from_secs(1));
    }
}
