//! Periodic work beside the stream:
//!
//! - **Quarantine replay**: readings held for unknown meters are fed back through the normal
//!   path once a meter with that serial or radio id exists in their utility, or staff [`assign`]
//!   the reference to a meter; they are released when their batch commits (a crash in between
//!   replays them again, which is harmless: identical readings are idempotent). A reading held
//!   for a utility that does not exist waits for staff: it is never guessed into another one.
//! - **No-data scan**: raises "no data" for installed meters silent for `no_data_days` (the next
//!   reading clears it, in the writer).
//! - **Month packing**: once a Warsaw month has closed, packs every meter's days of it into one
//!   row (`meter_month_readings`, migration 0013), which history reads instead of the month's
//!   day rows.
//! - **Retention**: deletes stored rejections and quarantined readings older than
//!   `ingest.rejection_retention_days` / `ingest.quarantine_retention_days`, oldest first, in
//!   bounded batches (each its own short statement), so neither table grows without end; and,
//!   when `ingest.raw_retention_days` is set, drops the raw readings' month partitions or
//!   TimescaleDB chunks that lie wholly before it (`ebok_drop_old_readings`, migration 0033).
//!   Daily register values stay: billing and history read those.
//! - **Compression** (TimescaleDB only): [`set_compression`] gives the readings' hypertable
//!   TimescaleDB's own compression policy at start; its background job does the work.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ebok_common::domain::{ReadingFlags, ReadingSource};
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::ack::Ack;
use crate::alarm_store;
use crate::alarms::AlarmKind;
use crate::pipeline::{Envelope, Origin};
use crate::reading::{Decoded, MeterRef, RawReading};

/// How many held readings one replay round takes.
const REPLAY_BATCH: i64 = 5_000;

/// Assigns every held reading with this reference to `meter_id`; they are replayed into it on
/// the next round. A reading held for another utility is left alone. Returns how many.
pub async fn assign(pool: &PgPool, meter: &MeterRef, meter_id: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        r#"UPDATE ingest_quarantine q SET assigned_meter_id = m.id
           FROM meters m
           WHERE m.id = $3 AND q.released_at IS NULL
             AND q.meter_ref_kind = $1 AND q.meter_ref = $2
             AND (q.utility_id IS NULL OR q.utility_id = m.utility_id)"#,
        meter.kind(),
        meter.as_str(),
        meter_id
    )
    .execute(pool)
    .await?
    .rows_affected())
}

/// One replay round: sends what can be resolved now; returns how many readings it sent.
pub async fn replay_round(
    pool: &PgPool,
    out: &mpsc::Sender<Envelope>,
    released: &mpsc::UnboundedSender<Vec<i64>>,
    in_flight: &mut HashSet<i64>,
) -> anyhow::Result<usize> {
    let skip: Vec<i64> = in_flight.iter().copied().collect();
    // A held reading resolves when staff assigned it, or a meter of its utility now carries its
    // reference. Assigned readings replay under the assigned meter's serial and utility.
    let rows = sqlx::query!(
        r#"SELECT q.id, q.measured_at, q.volume_litres, q.flags,
                  q.reading_source::text AS "reading_source!",
                  coalesce(am.serial, q.meter_ref) AS "meter_ref!",
                  CASE WHEN am.id IS NULL THEN q.meter_ref_kind ELSE 'serial' END AS "kind!",
                  coalesce(au.slug, u.slug) AS "slug!"
           FROM ingest_quarantine q
           LEFT JOIN utilities u ON u.id = q.utility_id
           LEFT JOIN meters am ON am.id = q.assigned_meter_id
           LEFT JOIN utilities au ON au.id = am.utility_id
           WHERE q.released_at IS NULL AND q.id <> ALL($1)
             AND (q.assigned_meter_id IS NOT NULL OR EXISTS (
                  SELECT 1 FROM meters m
                  WHERE m.utility_id = q.utility_id
                    AND CASE q.meter_ref_kind WHEN 'serial' THEN m.serial = q.meter_ref
                                              ELSE m.radio_id = q.meter_ref END))
           ORDER BY q.id
           LIMIT $2"#,
        &skip,
        REPLAY_BATCH
    )
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    // One envelope per utility scope, released together when all of its readings committed.
    let mut groups: std::collections::BTreeMap<String, (Vec<i64>, Vec<RawReading>)> =
        Default::default();
    for row in rows {
        let meter = if row.kind == "serial" {
            MeterRef::Serial(row.meter_ref)
        } else {
            MeterRef::RadioId(row.meter_ref)
        };
        let source = match row.reading_source.as_str() {
            "modbus" => ReadingSource::Modbus,
            "manual" => ReadingSource::Manual,
            "estimate" => ReadingSource::Estimate,
            _ => ReadingSource::Radio,
        };
        let group = groups.entry(row.slug).or_default();
        group.0.push(row.id);
        group.1.push(RawReading {
            meter,
            measured_at: row.measured_at,
            litres: row.volume_litres,
            device_flags: ReadingFlags(row.flags).device(),
            source,
        });
    }
    let mut sent = 0;
    for (utility, (ids, readings)) in groups {
        sent += readings.len();
        in_flight.extend(ids.iter().copied());
        let released = released.clone();
        let envelope = Envelope {
            origin: Origin::Quarantine,
            utility,
            decoded: Decoded {
                readings,
                rejected: Vec::new(),
            },
            ack: Some(Ack::new(move |settled| {
                if settled {
                    let _ = released.send(ids);
                }
            })),
        };
        if out.send(envelope).await.is_err() {
            break;
        }
    }
    Ok(sent)
}

/// Replays held readings every `interval` until shutdown.
pub async fn run_replay(
    pool: PgPool,
    out: mpsc::Sender<Envelope>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let (released_tx, mut released) = mpsc::unbounded_channel::<Vec<i64>>();
    let mut in_flight = HashSet::new();
    let mut tick = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            Some(ids) = released.recv() => {
                let result = sqlx::query!(
                    "UPDATE ingest_quarantine SET released_at = now() WHERE id = ANY($1)",
                    &ids
                )
                .execute(&pool)
                .await;
                match result {
                    Ok(_) => {
                        for id in &ids {
                            in_flight.remove(id);
                        }
                    }
                    // Left in flight until the next start; replaying them again is harmless.
                    Err(e) => tracing::warn!(error = %e, "releasing replayed quarantine failed"),
                }
            }
            _ = tick.tick() => {
                match replay_round(&pool, &out, &released_tx, &mut in_flight).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(readings = n, "replaying quarantined readings"),
                    Err(e) => tracing::warn!(error = %e, "quarantine replay failed"),
                }
            }
        }
    }
}

/// Raises "no data" for installed, automatically read meters silent for `days`. Returns how
/// many alarms it raised.
pub async fn scan_no_data(pool: &PgPool, days: u32, now: DateTime<Utc>) -> sqlx::Result<u64> {
    let silent = sqlx::query!(
        r#"SELECT m.id, m.utility_id, coalesce(l.measured_at, m.installed_at) AS "since!"
           FROM meters m
           LEFT JOIN meter_latest_readings l ON l.meter_id = m.id
           WHERE m.installed_at IS NOT NULL AND m.removed_at IS NULL AND m.channel <> 'manual'
             AND coalesce(l.measured_at, m.installed_at) < $2::timestamptz - make_interval(days => $1::int)
             AND NOT EXISTS (SELECT 1 FROM meter_alarms a
                             WHERE a.meter_id = m.id AND a.kind = 'no_data' AND a.state <> 'cleared')
           ORDER BY m.id
           LIMIT 10000"#,
        days as i32,
        now
    )
    .fetch_all(pool)
    .await?;
    let mut raised = 0;
    for chunk in silent.chunks(500) {
        let mut tx = pool.begin().await?;
        for meter in chunk {
            let details = serde_json::json!({ "silent_since": meter.since, "days": days });
            if alarm_store::raise(
                &mut tx,
                meter.utility_id,
                meter.id,
                AlarmKind::NoData,
                now,
                details,
            )
            .await?
            .is_some()
            {
                raised += 1;
            }
        }
        tx.commit().await?;
    }
    Ok(raised)
}

/// Scans every `interval`, the first time one interval after start: a backlog queued in the
/// broker while ingest was away must be written before anyone is declared silent.
pub async fn run_no_data_scan(
    pool: PgPool,
    days: u32,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => match scan_no_data(&pool, days, Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(alarms = n, "meters without data"),
                Err(e) => tracing::warn!(error = %e, "no-data scan failed"),
            }
        }
    }
}

/// Packs every closed Warsaw month after the packing mark, for every meter, and moves the mark
/// (`meter_month_readings_pack`, migration 0013). Returns how many months it packed: usually
/// none, one just after a month has ended, all closed months on the first run over old data.
pub async fn pack_closed_months(pool: &PgPool) -> sqlx::Result<i32> {
    sqlx::query_scalar!(r#"SELECT meter_month_readings_pack() AS "months!""#)
        .fetch_one(pool)
        .await
}

/// How long rejections, quarantined readings and raw readings are kept, and how many rows one
/// delete takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub rejections: chrono::Duration,
    pub quarantine: chrono::Duration,
    /// `None` keeps raw readings for ever.
    pub raw_readings: Option<chrono::Duration>,
    pub batch: i64,
}

impl Retention {
    /// Rows deleted per statement: small enough to hold locks and write WAL briefly.
    pub const BATCH: i64 = 5_000;

    pub fn from_days(rejections: u32, quarantine: u32) -> Retention {
        Retention {
            rejections: chrono::Duration::days(rejections.into()),
            quarantine: chrono::Duration::days(quarantine.into()),
            raw_readings: None,
            batch: Retention::BATCH,
        }
    }

    /// The retention `ingest.*_retention_days` ask for.
    pub fn from_config(config: &ebok_common::config::IngestConfig) -> Retention {
        Retention {
            raw_readings: config
                .raw_retention_days
                .map(|days| chrono::Duration::days(days.into())),
            ..Retention::from_days(
                config.rejection_retention_days,
                config.quarantine_retention_days,
            )
        }
    }
}

/// What one pruning removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub rejections: u64,
    pub quarantined: u64,
    /// Month partitions or TimescaleDB chunks of raw readings dropped.
    pub reading_chunks: u64,
}

/// Deletes rejections and quarantined readings received before `now` minus their retention,
/// oldest first, `retention.batch` rows per statement until none is left.
pub async fn prune(
    pool: &PgPool,
    retention: Retention,
    now: DateTime<Utc>,
) -> sqlx::Result<Pruned> {
    let mut pruned = Pruned::default();
    let cutoff = now - retention.rejections;
    loop {
        let deleted = sqlx::query!(
            "DELETE FROM ingest_rejections WHERE id IN (
                 SELECT id FROM ingest_rejections WHERE received_at < $1
                 ORDER BY received_at LIMIT $2)",
            cutoff,
            retention.batch
        )
        .execute(pool)
        .await?
        .rows_affected();
        pruned.rejections += deleted;
        if deleted < retention.batch as u64 {
            break;
        }
    }
    let cutoff = now - retention.quarantine;
    loop {
        let deleted = sqlx::query!(
            "DELETE FROM ingest_quarantine WHERE id IN (
                 SELECT id FROM ingest_quarantine WHERE received_at < $1
                 ORDER BY received_at LIMIT $2)",
            cutoff,
            retention.batch
        )
        .execute(pool)
        .await?
        .rows_affected();
        pruned.quarantined += deleted;
        if deleted < retention.batch as u64 {
            break;
        }
    }
    if let Some(keep) = retention.raw_readings {
        let dropped = sqlx::query_scalar!(
            r#"SELECT ebok_drop_old_readings($1) AS "dropped!""#,
            now - keep
        )
        .fetch_one(pool)
        .await?;
        pruned.reading_chunks = u64::try_from(dropped).unwrap_or(0);
    }
    Ok(pruned)
}

/// Gives the readings TimescaleDB's compression policy for chunks older than `after_days`
/// (0: no policy). Returns whether the store compresses at all: false on plain PostgreSQL,
/// where this does nothing.
pub async fn set_compression(pool: &PgPool, after_days: u32) -> sqlx::Result<bool> {
    let after = (after_days > 0).then_some(sqlx::postgres::types::PgInterval {
        months: 0,
        days: after_days as i32,
        microseconds: 0,
    });
    sqlx::query_scalar!(
        r#"SELECT ebok_readings_compression($1) AS "compresses!""#,
        after
    )
    .fetch_one(pool)
    .await
}

/// Prunes every `interval`, the first time at start, until shutdown.
pub async fn run_retention(
    pool: PgPool,
    retention: Retention,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => match prune(&pool, retention, Utc::now()).await {
                Ok(Pruned { rejections: 0, quarantined: 0, reading_chunks: 0 }) => {}
                Ok(pruned) => tracing::info!(
                    rejections = pruned.rejections,
                    quarantined = pruned.quarantined,
                    reading_chunks = pruned.reading_chunks,
                    "old rejections, quarantined and raw readings pruned"
                ),
                Err(e) => tracing::warn!(error = %e, "pruning old rejections failed"),
            },
        }
    }
}

/// Packs closed months every `interval`, the first time at start, until shutdown.
pub async fn run_month_packing(pool: PgPool, interval: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => match pack_closed_months(&pool).await {
                Ok(0) => {}
                Ok(months) => tracing::info!(months, "day readings of closed months packed"),
                Err(e) => tracing::warn!(error = %e, "packing closed months failed"),
            },
        }
    }
}
