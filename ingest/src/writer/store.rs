//! The database side of a batch: the meters' states it starts from, and the one transaction that
//! writes a [`Plan`] (readings, rejections, quarantine, alarm transitions with their outbox
//! events, and the pending folds when their flush is due). Also what a database error means for
//! the batch: retry it, retry it carefully, or split it.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use ebok_common::domain::ReadingFlags;
use sqlx::{PgConnection, PgPool};

use super::folds::{self, Pending};
use super::plan::{MeterState, Plan, QuarantineRow, RejectRow, Row};
use crate::alarm_store;
use crate::alarms::{AlarmKind, AlarmSet, AlarmState, Transition};
use crate::copy::source_label;
use crate::reading::{RejectReason, Rejection};
use crate::validate::Newest;

/// What the transaction found out.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    pub stored: u64,
    pub duplicates: u64,
    pub conflicts: u64,
    /// The pending latest readings and days went out in this batch's transaction. Decided once,
    /// in [`commit`]: deciding again after the commit, with a later clock, once threw away
    /// pending folds that the transaction had not written.
    pub flushed: bool,
}

/// The pending folds a transaction writes along with its batch: the writer's and its name.
pub(super) struct Flush<'a> {
    pub pending: &'a Pending,
    pub writer: &'a str,
}

/// The newest reading and open alarms of `meters`, from the database.
pub(super) async fn load_states(
    pool: &PgPool,
    meters: &[i64],
) -> sqlx::Result<Vec<(i64, MeterState)>> {
    let rows = sqlx::query!(
        r#"SELECT m.id AS "id!", l.measured_at AS "measured_at?", l.volume_litres AS "litres?",
                      ARRAY(SELECT a.kind::text FROM meter_alarms a
                            WHERE a.meter_id = m.id AND a.state <> 'cleared') AS "open!: Vec<String>"
               FROM unnest($1::bigint[]) AS m(id)
               LEFT JOIN meter_latest_readings l ON l.meter_id = m.id"#,
        meters
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
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
            let state = MeterState {
                newest,
                alarms: AlarmState {
                    open,
                    flowing_since: None,
                },
            };
            (row.id, state)
        })
        .collect())
}

/// Writes `plan` in one transaction, with the pending folds when `flush` is given.
pub(super) async fn commit(
    pool: &PgPool,
    plan: &Plan,
    flush: Option<Flush<'_>>,
) -> sqlx::Result<Outcome> {
    let mut tx = pool.begin().await?;
    let mut outcome = Outcome {
        duplicates: plan.duplicates_in_batch,
        conflicts: plan.conflicts_in_batch,
        ..Outcome::default()
    };
    outcome.stored += folds::copy_deferred(&mut tx, plan).await?;
    let mut late_conflicts = Vec::new();
    if !plan.careful.is_empty() {
        let (stored, duplicates, conflicts) = insert_or_classify(&mut tx, &plan.careful).await?;
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
    if let Some(flush) = flush {
        let mut merged = flush.pending.clone();
        merged.merge(plan.pending.clone());
        merged.flush(&mut tx, flush.writer).await?;
        outcome.flushed = true;
    }
    tx.commit().await?;
    Ok(outcome)
}

pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

/// Whether retrying the same statement can succeed: connection problems, resource shortage,
/// server restarts, serialization failures and deadlocks. Anything else (invalid data, a
/// violated constraint) fails again on retry.
pub(super) fn is_transient(e: &sqlx::Error) -> bool {
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

pub(super) fn sqlstate(e: &sqlx::Error) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_character_becomes_the_replacement_character_and_other_text_stays() {
        assert_eq!(db_text("a\0b"), "a\u{FFFD}b");
        assert_eq!(db_text("zażółć"), "zażółć");
    }
}
