//! The batch writer: one task per shard (meters are routed to shards by id, so each meter's
//! readings are written in order by one task). It collects work until `batch_size` items or
//! `batch_delay`, validates readings against each meter's newest committed reading, and commits
//! everything of the batch in one transaction, then settles the messages' acknowledgements.
//!
//! Writing a batch:
//! - readings newer than their meter's newest go in one binary `COPY` (the fast path);
//! - late readings and readings at an instant already stored go through
//!   `INSERT … ON CONFLICT DO NOTHING`, and the ones not inserted are compared with what is stored:
//!   the same value is an idempotent duplicate, a different value a conflict (kept value flagged,
//!   offered value stored as a rejection). If another process wrote a "newer" reading first, the
//!   COPY meets a unique violation and the batch is retried with every reading on the slow path;
//! - rejections, quarantined readings and alarm transitions (with their outbox events) go in the
//!   same transaction;
//! - `meter_latest_readings` is updated from a coalesced map of each meter's newest reading at
//!   most every `latest_flush` (one upsert per meter per flush instead of one per reading);
//! - `meter_day_readings` (each meter's last reading of each closed Warsaw day, migration 0012)
//!   in the same flush: the COPY tells that table's trigger that the writer folds its rows
//!   itself, and the flush refolds from the stored readings only the days that a newer reading
//!   closed or a late reading touched, so a meter costs one day row a day, not one per batch.
//!   The open day is the latest reading. Readings on the careful path go through the trigger;
//! - each flush records a watermark; after a crash, [`repair_latest`] replays readings received
//!   since the oldest watermark into both tables, so neither is ever lost nor moves back.
//!
//! A failed commit (database down) is retried with back-off until it succeeds: nothing is
//! acknowledged before, so nothing is lost. Only at shutdown does a writer give up, leaving the
//! messages unacknowledged for the broker to deliver again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use ebok_common::domain::time::{day_start, local_day};
use ebok_common::domain::{ReadingFlags, ReadingSource};
use sqlx::{PgConnection, PgPool};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::ack::Ack;
use crate::alarm_store;
use crate::alarms::{self, AlarmKind, AlarmSet, AlarmState, FlowRules, Transition};
use crate::copy::{COPY_READINGS, ReadingsCopy, source_label};
use crate::pipeline::Origin;
use crate::reading::{RawReading, RejectReason, Rejection};
use crate::validate::{self, MeterInfo, Newest, Rules, Verdict};

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

#[derive(Debug, Clone, Copy, Default)]
struct MeterState {
    newest: Option<Newest>,
    alarms: AlarmState,
}

#[derive(Debug, Clone)]
struct LatestRow {
    measured_at: DateTime<Utc>,
    litres: i64,
    source: ReadingSource,
    flags: i32,
}

pub struct Writer {
    pool: PgPool,
    config: WriterConfig,
    stats: Arc<Stats>,
    states: HashMap<i64, MeterState>,
    pending: Pending,
    last_flush: Instant,
    /// Batches left during which late readings take the slow path (set after a late reading
    /// turned out to be stored already).
    careful_batches: u32,
}

/// How long late readings take the slow path after one was found already stored.
const CAREFUL_AFTER_DUPLICATE: u32 = 20;

/// A reading row on its way to `meter_readings`.
#[derive(Debug, Clone)]
struct Row {
    meter_id: i64,
    utility_id: i64,
    measured_at: DateTime<Utc>,
    litres: i64,
    source: ReadingSource,
    flags: i32,
    from: Arc<Provenance>,
    meter_ref: String,
}

#[derive(Debug)]
struct RejectRow {
    utility_id: Option<i64>,
    meter_id: Option<i64>,
    from: Arc<Provenance>,
    rejection: Rejection,
}

#[derive(Debug)]
struct QuarantineRow {
    utility_id: Option<i64>,
    from: Arc<Provenance>,
    reading: RawReading,
    detail: String,
}

/// Everything a batch will write, decided before the transaction starts.
#[derive(Debug, Default)]
struct Plan {
    fast: Vec<Row>,
    slow: Vec<Row>,
    rejections: Vec<RejectRow>,
    quarantine: Vec<QuarantineRow>,
    /// (utility, meter, instant, transition)
    transitions: Vec<(i64, i64, DateTime<Utc>, Transition)>,
    /// Meters that were silent long enough to carry a "no data" alarm: (utility, meter, instant).
    maybe_no_data: Vec<(i64, i64, DateTime<Utc>)>,
    states: HashMap<i64, MeterState>,
    pending: Pending,
    duplicates_in_batch: u64,
    conflicts_in_batch: u64,
}

/// What the transaction found out.
#[derive(Debug, Default)]
struct Outcome {
    stored: u64,
    duplicates: u64,
    conflicts: u64,
    /// The pending latest readings and days went out in this batch's transaction. Decided once,
    /// in [`Writer::commit`]: deciding again after the commit, with a later clock, once threw
    /// away pending folds that the transaction had not written.
    flushed: bool,
}

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
        let mut all_slow = false;
        loop {
            let result = async {
                self.load_states(&batch).await?;
                let plan = self.plan(&batch, Utc::now(), all_slow);
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
                Err(e) if !all_slow && is_unique_violation(&e) => {
                    // A reading copied as new was stored already (a late duplicate, or another
                    // writer was first): redo the batch on the slow path, which tells duplicates
                    // from conflicts, and stay careful with late readings for a while.
                    tracing::debug!("a copied reading was already stored; retrying slowly");
                    self.states.clear();
                    self.careful_batches = CAREFUL_AFTER_DUPLICATE;
                    all_slow = true;
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
                    let wait = Duration::from_millis(100 * 2u64.pow(attempt.min(6)))
                        .min(Duration::from_secs(5));
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
        let rows = sqlx::query!(
            r#"SELECT m.id AS "id!", l.measured_at AS "measured_at?", l.volume_litres AS "litres?",
                      ARRAY(SELECT a.kind::text FROM meter_alarms a
                            WHERE a.meter_id = m.id AND a.state <> 'cleared') AS "open!: Vec<String>"
               FROM unnest($1::bigint[]) AS m(id)
               LEFT JOIN meter_latest_readings l ON l.meter_id = m.id"#,
            &missing
        )
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let newest = row
                .measured_at
                .zip(row.litres)
                .map(|(measured_at, litres)| Newest {
                    measured_at,
                    litres,
                });
            let open: AlarmSet = row
                .open
                .iter()
                .filter_map(|k| AlarmKind::parse(k))
                // "No data" is cleared by SQL for silent meters (see `maybe_no_data`).
                .filter(|k| *k != AlarmKind::NoData)
                .collect();
            self.states.insert(
                row.id,
                MeterState {
                    newest,
                    alarms: AlarmState {
                        open,
                        flowing_since: None,
                    },
                },
            );
        }
        Ok(())
    }

    /// Decides what the batch writes. Pure apart from reading `self.states`.
    fn plan(&self, batch: &[Work], now: DateTime<Utc>, all_slow: bool) -> Plan {
        let mut plan = Plan::default();
        let mut readings: Vec<(&Arc<MeterInfo>, &RawReading, &Arc<Provenance>)> = Vec::new();
        for work in batch {
            match work {
                Work::Reading {
                    meter,
                    reading,
                    from,
                    ..
                } => readings.push((meter, reading, from)),
                Work::Quarantine {
                    utility_id,
                    reading,
                    detail,
                    from,
                    ..
                } => plan.quarantine.push(QuarantineRow {
                    utility_id: *utility_id,
                    from: from.clone(),
                    reading: reading.clone(),
                    detail: detail.clone(),
                }),
                Work::Reject {
                    utility_id,
                    rejection,
                    from,
                    ..
                } => plan.rejections.push(RejectRow {
                    utility_id: *utility_id,
                    meter_id: None,
                    from: from.clone(),
                    rejection: rejection.clone(),
                }),
            }
        }
        // Each meter's readings in time order, so a batch of interval readings validates as a
        // sequence instead of as late arrivals.
        readings.sort_by_key(|(m, r, _)| (m.id, r.measured_at));

        let mut previous_key: Option<(i64, DateTime<Utc>)> = None;
        for (meter, reading, from) in readings {
            let state = plan
                .states
                .get(&meter.id)
                .copied()
                .or_else(|| self.states.get(&meter.id).copied())
                .unwrap_or_default();
            let key = (meter.id, reading.measured_at);
            if previous_key == Some(key)
                && let Some(kept) = plan
                    .fast
                    .iter_mut()
                    .chain(plan.slow.iter_mut())
                    .rev()
                    .find(|r| r.meter_id == meter.id && r.measured_at == reading.measured_at)
            {
                // The same meter and instant twice in this batch: the first one stays.
                if kept.litres == reading.litres {
                    plan.duplicates_in_batch += 1;
                } else {
                    kept.flags |= ReadingFlags::CONFLICT;
                    plan.conflicts_in_batch += 1;
                    plan.rejections
                        .push(conflict(meter, reading, from, kept.litres));
                }
                continue;
            }
            previous_key = Some(key);
            match validate::validate(meter, state.newest, reading, now, &self.config.rules) {
                Verdict::Reject(reason, detail) => {
                    let mut rejection =
                        Rejection::new(reason, detail).with_meter(reading.meter.clone());
                    rejection.measured_at = Some(reading.measured_at);
                    plan.rejections.push(RejectRow {
                        utility_id: Some(meter.utility_id),
                        meter_id: Some(meter.id),
                        from: from.clone(),
                        rejection,
                    });
                }
                Verdict::Store {
                    flags,
                    newest,
                    consumption,
                } => {
                    let row = Row {
                        meter_id: meter.id,
                        utility_id: meter.utility_id,
                        measured_at: reading.measured_at,
                        litres: reading.litres,
                        source: reading.source,
                        flags: flags.0,
                        from: from.clone(),
                        meter_ref: reading.meter.as_str().to_string(),
                    };
                    if !newest {
                        let repeats_newest = state
                            .newest
                            .filter(|n| n.measured_at == reading.measured_at);
                        match repeats_newest {
                            // The newest reading again (a repeater, a second receiver): the
                            // same value is settled here, another value is a conflict.
                            Some(n) if n.litres == reading.litres => plan.duplicates_in_batch += 1,
                            Some(_) => plan.slow.push(row),
                            // A late reading is almost never stored already: copy it, and let a
                            // unique violation send the batch down the slow path.
                            None if !all_slow && self.careful_batches == 0 => {
                                plan.pending
                                    .days
                                    .insert((meter.id, local_day(reading.measured_at)));
                                plan.fast.push(row);
                            }
                            None => plan.slow.push(row),
                        }
                        continue;
                    }
                    let previous_at = state.newest.map(|n| n.measured_at);
                    // The previous newest reading's day is closed once a newer one is on a later
                    // day: fold it (the open day is the latest reading).
                    if let Some(previous) = previous_at {
                        let closed = local_day(previous);
                        if closed < local_day(reading.measured_at) {
                            plan.pending.days.insert((meter.id, closed));
                        }
                    }
                    let silent_since = previous_at.unwrap_or(DateTime::<Utc>::MIN_UTC);
                    if reading.measured_at - silent_since >= self.config.no_data_after {
                        plan.maybe_no_data
                            .push((meter.utility_id, meter.id, reading.measured_at));
                    }
                    let (alarms, transitions) = alarms::on_newest_reading(
                        state.alarms,
                        flags,
                        reading.measured_at,
                        previous_at,
                        consumption,
                        &self.config.flow,
                    );
                    for t in transitions {
                        plan.transitions
                            .push((meter.utility_id, meter.id, reading.measured_at, t));
                    }
                    plan.states.insert(
                        meter.id,
                        MeterState {
                            newest: Some(Newest {
                                measured_at: reading.measured_at,
                                litres: reading.litres,
                            }),
                            alarms,
                        },
                    );
                    plan.pending.latest.insert(
                        meter.id,
                        LatestRow {
                            measured_at: reading.measured_at,
                            litres: reading.litres,
                            source: reading.source,
                            flags: flags.0,
                        },
                    );
                    if all_slow {
                        plan.slow.push(row);
                    } else {
                        plan.fast.push(row);
                    }
                }
            }
        }
        plan
    }

    async fn commit(&self, plan: &Plan) -> sqlx::Result<Outcome> {
        let mut tx = self.pool.begin().await?;
        let mut outcome = Outcome {
            duplicates: plan.duplicates_in_batch,
            conflicts: plan.conflicts_in_batch,
            ..Outcome::default()
        };
        if !plan.fast.is_empty() {
            // This writer folds the copied rows into `meter_day_readings` itself, coalesced.
            fold_days_here(&mut tx, true).await?;
            let mut data = ReadingsCopy::with_capacity(plan.fast.len());
            for r in &plan.fast {
                data.push(r.meter_id, r.measured_at, r.litres, r.source, r.flags);
            }
            let mut copy = tx.copy_in_raw(COPY_READINGS).await?;
            copy.send(data.finish()).await?;
            outcome.stored += copy.finish().await?;
        }
        let mut late_conflicts = Vec::new();
        if !plan.slow.is_empty() {
            if !plan.fast.is_empty() {
                fold_days_here(&mut tx, false).await?;
            }
            let (stored, duplicates, conflicts) = insert_or_classify(&mut tx, &plan.slow).await?;
            outcome.stored += stored;
            outcome.duplicates += duplicates;
            outcome.conflicts += conflicts.len() as u64;
            late_conflicts = conflicts;
        }
        let late_rejections: Vec<RejectRow> = late_conflicts
            .into_iter()
            .map(|(row, stored_litres)| RejectRow {
                utility_id: Some(row.utility_id),
                meter_id: Some(row.meter_id),
                from: row.from.clone(),
                rejection: Rejection {
                    reason: RejectReason::ConflictingDuplicate,
                    detail: format!(
                        "{} litres offered for an instant already stored with {stored_litres}",
                        row.litres
                    ),
                    meter: None,
                    measured_at: Some(row.measured_at),
                    sample: Some(row.meter_ref.clone()),
                },
            })
            .collect();
        insert_rejections(
            &mut tx,
            plan.rejections.iter().chain(late_rejections.iter()),
        )
        .await?;
        insert_quarantine(&mut tx, &plan.quarantine).await?;
        if !plan.maybe_no_data.is_empty() {
            alarm_store::clear_no_data(&mut tx, &plan.maybe_no_data).await?;
        }
        for &(utility_id, meter_id, at, transition) in &plan.transitions {
            match transition {
                Transition::Raise(kind) => {
                    alarm_store::raise(
                        &mut tx,
                        utility_id,
                        meter_id,
                        kind,
                        at,
                        serde_json::json!({}),
                    )
                    .await?;
                }
                Transition::Clear(kind) => {
                    alarm_store::clear(&mut tx, utility_id, meter_id, kind, at).await?;
                }
            }
        }
        if self.last_flush.elapsed() >= self.config.latest_flush {
            let mut merged = self.pending.clone();
            merged.merge(plan.pending.clone());
            merged.flush(&mut tx, &self.config.name).await?;
            outcome.flushed = true;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    fn applied(&mut self, plan: Plan, outcome: Outcome, batch: &[Work], started: Instant) {
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
            fast = plan.fast.len(),
            slow = plan.slow.len(),
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
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt.min(25))))
                        .await;
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

fn conflict(
    meter: &MeterInfo,
    reading: &RawReading,
    from: &Arc<Provenance>,
    kept: i64,
) -> RejectRow {
    let mut rejection = Rejection::new(
        RejectReason::ConflictingDuplicate,
        format!(
            "{} litres offered for an instant that also came with {kept}",
            reading.litres
        ),
    )
    .with_meter(reading.meter.clone());
    rejection.measured_at = Some(reading.measured_at);
    RejectRow {
        utility_id: Some(meter.utility_id),
        meter_id: Some(meter.id),
        from: from.clone(),
        rejection,
    }
}

/// Readings committed but not yet folded into `meter_latest_readings` and `meter_day_readings`.
#[derive(Debug, Clone, Default)]
struct Pending {
    /// Each meter's newest reading.
    latest: HashMap<i64, LatestRow>,
    /// Warsaw days of copied readings to refold: closed by a newer reading, or touched late.
    days: HashSet<(i64, NaiveDate)>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.latest.is_empty() && self.days.is_empty()
    }

    fn merge(&mut self, other: Pending) {
        for (meter, row) in other.latest {
            keep_newest(&mut self.latest, meter, row);
        }
        self.days.extend(other.days);
    }

    /// Moves both tables forward (never back) and records this writer's watermark.
    async fn flush(&self, conn: &mut PgConnection, writer: &str) -> sqlx::Result<()> {
        flush_days(conn, &self.days).await?;
        flush_latest(conn, writer, &self.latest).await
    }
}

fn keep_newest(into: &mut HashMap<i64, LatestRow>, meter: i64, row: LatestRow) {
    match into.get(&meter) {
        Some(existing) if existing.measured_at >= row.measured_at => {}
        _ => {
            into.insert(meter, row);
        }
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

/// Whether retrying the same statement can succeed: connection problems, resource shortage,
/// server restarts, serialization failures and deadlocks. Anything else (invalid data, a
/// violated constraint) fails again on retry.
fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            ["08", "40", "53", "55", "57", "58", "XX"]
                .iter()
                .any(|class| code.starts_with(class))
        }),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

fn sqlstate(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => format!("SQLSTATE {}", db.code().unwrap_or_default()),
        other => other.to_string(),
    }
}

/// Text as PostgreSQL stores it: a NUL character is not allowed in `text`, so it becomes U+FFFD.
fn db_text(s: &str) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{FFFD}")
    } else {
        s.to_string()
    }
}

/// Inserts rows that may already exist; returns (stored, identical duplicates, conflicts with
/// the stored litres). Conflicting stored readings get the CONFLICT flag.
async fn insert_or_classify(
    conn: &mut PgConnection,
    rows: &[Row],
) -> sqlx::Result<(u64, u64, Vec<(Row, i64)>)> {
    let meter_ids: Vec<i64> = rows.iter().map(|r| r.meter_id).collect();
    let instants: Vec<DateTime<Utc>> = rows.iter().map(|r| r.measured_at).collect();
    let litres: Vec<i64> = rows.iter().map(|r| r.litres).collect();
    let sources: Vec<String> = rows
        .iter()
        .map(|r| source_label(r.source).to_string())
        .collect();
    let flags: Vec<i32> = rows.iter().map(|r| r.flags).collect();
    let inserted = sqlx::query!(
        r#"INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source, flags)
           SELECT m, t, v, s::reading_source, f
           FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[], $4::text[], $5::int[])
                AS u(m, t, v, s, f)
           ON CONFLICT (meter_id, measured_at) DO NOTHING
           RETURNING meter_id, measured_at"#,
        &meter_ids,
        &instants,
        &litres,
        &sources,
        &flags,
    )
    .fetch_all(&mut *conn)
    .await?;
    let inserted: HashSet<(i64, DateTime<Utc>)> = inserted
        .into_iter()
        .map(|r| (r.meter_id, r.measured_at))
        .collect();
    let not_inserted: Vec<&Row> = rows
        .iter()
        .filter(|r| !inserted.contains(&(r.meter_id, r.measured_at)))
        .collect();
    if not_inserted.is_empty() {
        return Ok((inserted.len() as u64, 0, Vec::new()));
    }
    let ids: Vec<i64> = not_inserted.iter().map(|r| r.meter_id).collect();
    let ats: Vec<DateTime<Utc>> = not_inserted.iter().map(|r| r.measured_at).collect();
    let stored: HashMap<(i64, DateTime<Utc>), i64> = sqlx::query!(
        r#"SELECT r.meter_id, r.measured_at, r.volume_litres
           FROM meter_readings r
           JOIN unnest($1::bigint[], $2::timestamptz[]) AS k(m, t)
             ON r.meter_id = k.m AND r.measured_at = k.t"#,
        &ids,
        &ats
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| ((r.meter_id, r.measured_at), r.volume_litres))
    .collect();
    let mut duplicates = 0;
    let mut conflicts = Vec::new();
    for row in not_inserted {
        match stored.get(&(row.meter_id, row.measured_at)) {
            Some(&litres) if litres == row.litres => duplicates += 1,
            Some(&litres) => conflicts.push((row.clone(), litres)),
            // Not inserted yet not found: a duplicate of a row earlier in the same statement.
            None => duplicates += 1,
        }
    }
    if !conflicts.is_empty() {
        let ids: Vec<i64> = conflicts.iter().map(|(r, _)| r.meter_id).collect();
        let ats: Vec<DateTime<Utc>> = conflicts.iter().map(|(r, _)| r.measured_at).collect();
        sqlx::query!(
            r#"UPDATE meter_readings r SET flags = r.flags | $3
               FROM unnest($1::bigint[], $2::timestamptz[]) AS k(m, t)
               WHERE r.meter_id = k.m AND r.measured_at = k.t"#,
            &ids,
            &ats,
            ReadingFlags::CONFLICT,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok((inserted.len() as u64, duplicates, conflicts))
}

async fn insert_rejections<'a>(
    conn: &mut PgConnection,
    rows: impl Iterator<Item = &'a RejectRow>,
) -> sqlx::Result<()> {
    let mut utility = Vec::new();
    let mut meter = Vec::new();
    let mut source = Vec::new();
    let mut origin = Vec::new();
    let mut reason = Vec::new();
    let mut detail = Vec::new();
    let mut meter_ref = Vec::new();
    let mut measured_at = Vec::new();
    let mut sample = Vec::new();
    for row in rows {
        utility.push(row.utility_id);
        meter.push(row.meter_id);
        source.push(row.from.origin.source().to_string());
        origin.push(db_text(row.from.origin.name()));
        reason.push(row.rejection.reason.as_str().to_string());
        detail.push(db_text(&row.rejection.detail));
        meter_ref.push(row.rejection.meter.as_ref().map(|m| db_text(m.as_str())));
        measured_at.push(row.rejection.measured_at);
        sample.push(row.rejection.sample.as_deref().map(db_text));
    }
    if reason.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"INSERT INTO ingest_rejections (utility_id, meter_id, source, origin, reason, detail,
                                          meter_ref, measured_at, sample)
           SELECT u, m, s, o, r::ingest_reject_reason, d, mr, t, sa
           FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                       $6::text[], $7::text[], $8::timestamptz[], $9::text[])
                AS x(u, m, s, o, r, d, mr, t, sa)"#,
        &utility as &[Option<i64>],
        &meter as &[Option<i64>],
        &source,
        &origin,
        &reason,
        &detail,
        &meter_ref as &[Option<String>],
        &measured_at as &[Option<DateTime<Utc>>],
        &sample as &[Option<String>],
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn insert_quarantine(conn: &mut PgConnection, rows: &[QuarantineRow]) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let utility: Vec<Option<i64>> = rows.iter().map(|r| r.utility_id).collect();
    let source: Vec<String> = rows
        .iter()
        .map(|r| r.from.origin.source().to_string())
        .collect();
    let origin: Vec<String> = rows.iter().map(|r| db_text(r.from.origin.name())).collect();
    let kind: Vec<String> = rows
        .iter()
        .map(|r| r.reading.meter.kind().to_string())
        .collect();
    let meter_ref: Vec<String> = rows
        .iter()
        .map(|r| db_text(r.reading.meter.as_str()))
        .collect();
    let at: Vec<DateTime<Utc>> = rows.iter().map(|r| r.reading.measured_at).collect();
    let litres: Vec<i64> = rows.iter().map(|r| r.reading.litres).collect();
    let flags: Vec<i32> = rows
        .iter()
        .map(|r| r.reading.device_flags.device().0)
        .collect();
    let reading_source: Vec<String> = rows
        .iter()
        .map(|r| source_label(r.reading.source).to_string())
        .collect();
    let detail: Vec<String> = rows.iter().map(|r| db_text(&r.detail)).collect();
    sqlx::query!(
        r#"INSERT INTO ingest_quarantine (utility_id, source, origin, meter_ref_kind, meter_ref,
                                          measured_at, volume_litres, flags, reading_source, detail)
           SELECT u, s, o, k, r, t, v, f, rs::reading_source, d
           FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                       $6::timestamptz[], $7::bigint[], $8::int[], $9::text[], $10::text[])
                AS x(u, s, o, k, r, t, v, f, rs, d)"#,
        &utility as &[Option<i64>],
        &source,
        &origin,
        &kind,
        &meter_ref,
        &at,
        &litres,
        &flags,
        &reading_source,
        &detail,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Tells `meter_day_readings`' trigger (migration 0012) whether this transaction's next inserts
/// into `meter_readings` are folded by the writer (`true`) or by the trigger.
async fn fold_days_here(conn: &mut PgConnection, here: bool) -> sqlx::Result<()> {
    let value = if here { "deferred" } else { "" };
    sqlx::query_scalar!(
        r#"SELECT set_config('ebok.day_readings', $1, true) AS "set!""#,
        value
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(())
}

/// Refolds the given meters' days from the stored readings: each day's last reading, moved
/// forward only, in key order (so writers lock rows in the same order).
async fn flush_days(conn: &mut PgConnection, days: &HashSet<(i64, NaiveDate)>) -> sqlx::Result<()> {
    if days.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<(i64, NaiveDate)> = days.iter().copied().collect();
    keys.sort_unstable();
    let ids: Vec<i64> = keys.iter().map(|(id, _)| *id).collect();
    let dates: Vec<NaiveDate> = keys.iter().map(|(_, day)| *day).collect();
    let starts: Vec<DateTime<Utc>> = dates.iter().map(|d| day_start(*d)).collect();
    let ends: Vec<DateTime<Utc>> = dates
        .iter()
        .map(|d| day_start(*d + chrono::Days::new(1)))
        .collect();
    sqlx::query!(
        r#"INSERT INTO meter_day_readings AS d (meter_id, day, measured_at, volume_litres, source)
           SELECT u.m, u.day, r.measured_at, r.volume_litres, r.source
           FROM unnest($1::bigint[], $2::date[], $3::timestamptz[], $4::timestamptz[])
                WITH ORDINALITY AS u(m, day, from_at, to_at, i)
           CROSS JOIN LATERAL (
               SELECT measured_at, volume_litres, source FROM meter_readings
               WHERE meter_id = u.m AND measured_at >= u.from_at AND measured_at < u.to_at
               ORDER BY measured_at DESC
               LIMIT 1) r
           ORDER BY u.i
           ON CONFLICT (meter_id, day) DO UPDATE
               SET measured_at = EXCLUDED.measured_at, volume_litres = EXCLUDED.volume_litres,
                   source = EXCLUDED.source
               WHERE d.measured_at < EXCLUDED.measured_at"#,
        &ids,
        &dates,
        &starts,
        &ends,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves `meter_latest_readings` forward (never back) and records this writer's watermark.
async fn flush_latest(
    conn: &mut PgConnection,
    writer: &str,
    latest: &HashMap<i64, LatestRow>,
) -> sqlx::Result<()> {
    if !latest.is_empty() {
        let mut ids = Vec::with_capacity(latest.len());
        let mut ats = Vec::with_capacity(latest.len());
        let mut litres = Vec::with_capacity(latest.len());
        let mut sources = Vec::with_capacity(latest.len());
        let mut flags = Vec::with_capacity(latest.len());
        for (id, row) in latest {
            ids.push(*id);
            ats.push(row.measured_at);
            litres.push(row.litres);
            sources.push(source_label(row.source).to_string());
            flags.push(row.flags);
        }
        sqlx::query!(
            r#"INSERT INTO meter_latest_readings AS l
                   (meter_id, measured_at, volume_litres, source, flags, received_at)
               SELECT m, t, v, s::reading_source, f, now()
               FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[], $4::text[], $5::int[])
                    AS u(m, t, v, s, f)
               ON CONFLICT (meter_id) DO UPDATE
                   SET measured_at = EXCLUDED.measured_at, volume_litres = EXCLUDED.volume_litres,
                       source = EXCLUDED.source, flags = EXCLUDED.flags,
                       received_at = EXCLUDED.received_at
                   WHERE l.measured_at < EXCLUDED.measured_at"#,
            &ids,
            &ats,
            &litres,
            &sources,
            &flags,
        )
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query!(
        r#"INSERT INTO ingest_latest_watermarks (writer, flushed_through) VALUES ($1, now())
           ON CONFLICT (writer) DO UPDATE SET flushed_through = now(), updated_at = now()"#,
        writer
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// After a crash some committed readings may not be reflected in `meter_latest_readings` and
/// `meter_day_readings` yet: replays everything received since the oldest writer watermark into
/// both (cheap: BRIN on received_at), then forgets watermarks of writers gone for a day. Returns
/// the meters whose latest reading moved.
pub async fn repair_latest(pool: &PgPool) -> sqlx::Result<u64> {
    let since: Option<DateTime<Utc>> =
        sqlx::query_scalar!("SELECT min(flushed_through) FROM ingest_latest_watermarks")
            .fetch_one(pool)
            .await?;
    let Some(since) = since else { return Ok(0) };
    sqlx::query!(
        r#"INSERT INTO meter_day_readings AS d (meter_id, day, measured_at, volume_litres, source)
           SELECT DISTINCT ON (meter_id, day)
                  meter_id, (measured_at AT TIME ZONE 'Europe/Warsaw')::date AS day, measured_at,
                  volume_litres, source
           FROM meter_readings WHERE received_at >= $1
           ORDER BY meter_id, day, measured_at DESC
           ON CONFLICT (meter_id, day) DO UPDATE
               SET measured_at = EXCLUDED.measured_at, volume_litres = EXCLUDED.volume_litres,
                   source = EXCLUDED.source
               WHERE d.measured_at < EXCLUDED.measured_at"#,
        since
    )
    .execute(pool)
    .await?;
    let updated = sqlx::query!(
        r#"INSERT INTO meter_latest_readings AS l
               (meter_id, measured_at, volume_litres, source, flags, received_at)
           SELECT DISTINCT ON (meter_id) meter_id, measured_at, volume_litres, source, flags,
                  received_at
           FROM meter_readings WHERE received_at >= $1
           ORDER BY meter_id, measured_at DESC
           ON CONFLICT (meter_id) DO UPDATE
               SET measured_at = EXCLUDED.measured_at, volume_litres = EXCLUDED.volume_litres,
                   source = EXCLUDED.source, flags = EXCLUDED.flags,
                   received_at = EXCLUDED.received_at
               WHERE l.measured_at < EXCLUDED.measured_at"#,
        since
    )
    .execute(pool)
    .await?
    .rows_affected();
    sqlx::query!(
        "DELETE FROM ingest_latest_watermarks WHERE updated_at < now() - interval '1 day'"
    )
    .execute(pool)
    .await?;
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

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
