//! What the writer folds into the read models for the readings it stores, and the one COPY
//! that makes those folds its own.
//!
//! - `meter_latest_readings`: each meter's newest reading, coalesced in memory ([`Pending`]) and
//!   upserted at most every `latest_flush` (one row per meter per flush, not one per reading);
//!   it only moves forward.
//! - `meter_day_readings` (each meter's first and last reading of each Warsaw day, migrations
//!   0012 and 0020): the table's trigger folds every insert into `meter_readings`, except the
//!   writer's COPY, which tells it to stand aside (`ebok.day_readings = 'deferred'`). The writer
//!   refolds, in the same flush, only the days that a newest reading opened or closed or a late
//!   copied reading touched, from the stored readings: two day-row writes per meter per day
//!   instead of one per batch (with the trigger on every COPY, gateway batches fell from 188,000
//!   to 94,000 readings a second). The open day's row holds its first reading; its last may lag
//!   behind the latest reading, which readers take when newer. Readings on the careful path go
//!   through the trigger.
//! - Each flush records the writer's watermark; after a crash, [`repair_latest`] replays readings
//!   received since the oldest watermark into both tables, so neither is lost nor moves back.
//!
//! **The switch cannot be half used.** Standing the trigger aside and owing the fold are one act:
//! [`copy_deferred`] is the only COPY into `meter_readings` in the writer and the only code that
//! sets `ebok.day_readings`; it copies exactly [`Plan::copied`], and a reading gets there only
//! through the plan's `copy`, which records the day fold the reading owes in the same plan's
//! [`Pending`] (a newest reading owes its latest row, its day when it opens the day, and its day
//! again once a newer reading closes it). The pending folds are written by the batch's own transaction or kept until one does
//! (`Writer::applied`). So a COPY without the setting (the days folded twice) or a setting
//! without the fold (days lost) would have to be written into this module on purpose;
//! `ingest/tests/day_folds.rs` fails on either, and the plan's property tests check that every
//! copied reading's day is owed or carried by its latest reading.
//!
//! Why not a check in the database (a commit-time constraint trigger refusing deferred rows
//! whose fold did not run): the fold is coalesced across transactions by design (a batch's folds
//! may go out with a later batch's flush), so the database could only check that
//! *a* fold statement ran, which an empty one satisfies, at the cost of folding per batch and a
//! ledger table. Why not drop the switch: see docs/ingest.md ("Day readings fold with the same
//! flush"), measured again for this change.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use ebok_common::domain::ReadingSource;
use ebok_common::domain::time::day_start;
use sqlx::{PgConnection, PgPool};

use super::plan::Plan;
use crate::copy::{COPY_READINGS, ReadingsCopy, source_label};

/// A meter's newest reading on its way to `meter_latest_readings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LatestRow {
    pub measured_at: DateTime<Utc>,
    pub litres: i64,
    pub source: ReadingSource,
    pub flags: i32,
}

/// Readings committed but not yet folded into `meter_latest_readings` and `meter_day_readings`.
#[derive(Debug, Clone, Default)]
pub(super) struct Pending {
    /// Each meter's newest reading.
    pub latest: HashMap<i64, LatestRow>,
    /// Warsaw days of copied readings to refold: opened or closed by a newest reading, or
    /// touched late.
    pub days: HashSet<(i64, NaiveDate)>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty() && self.days.is_empty()
    }

    pub fn merge(&mut self, other: Pending) {
        for (meter, row) in other.latest {
            keep_newest(&mut self.latest, meter, row);
        }
        self.days.extend(other.days);
    }

    /// Moves both tables forward (never back) and records this writer's watermark.
    pub async fn flush(&self, conn: &mut PgConnection, writer: &str) -> sqlx::Result<()> {
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

/// Copies the plan's readings for the COPY ([`Plan::copied`]) into `meter_readings` with the
/// day trigger standing aside for this statement only: the days they owe are in the plan's
/// [`Pending`] folds. Returns the rows copied.
pub(super) async fn copy_deferred(conn: &mut PgConnection, plan: &Plan) -> sqlx::Result<u64> {
    let rows = plan.copied();
    if rows.is_empty() {
        return Ok(0);
    }
    let mut data = ReadingsCopy::with_capacity(rows.len());
    for r in rows {
        data.push(r.meter_id, r.measured_at, r.litres, r.source, r.flags);
    }
    day_trigger_stands_aside(conn, true).await?;
    let mut copy = conn.copy_in_raw(COPY_READINGS).await?;
    copy.send(data.finish()).await?;
    let copied = copy.finish().await?;
    day_trigger_stands_aside(conn, false).await?;
    Ok(copied)
}

/// Tells `meter_day_readings`' trigger (migration 0012) whether this transaction's next inserts
/// into `meter_readings` are folded by the writer (`true`) or by the trigger.
async fn day_trigger_stands_aside(conn: &mut PgConnection, aside: bool) -> sqlx::Result<()> {
    let value = if aside { "deferred" } else { "" };
    sqlx::query_scalar!(
        r#"SELECT set_config('ebok.day_readings', $1, true) AS "set!""#,
        value
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(())
}

/// Refolds the given meters' days from the stored readings: each day's last reading, moved
/// forward only, and its first, moved back only, in key order (so writers lock rows in the same
/// order).
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
        r#"INSERT INTO meter_day_readings AS d (meter_id, day, measured_at, volume_litres, source,
                                                first_measured_at, first_volume_litres)
           SELECT u.m, u.day, r.measured_at, r.volume_litres, r.source, f.measured_at,
                  f.volume_litres
           FROM unnest($1::bigint[], $2::date[], $3::timestamptz[], $4::timestamptz[])
                WITH ORDINALITY AS u(m, day, from_at, to_at, i)
           CROSS JOIN LATERAL (
               SELECT measured_at, volume_litres, source FROM meter_readings
               WHERE meter_id = u.m AND measured_at >= u.from_at AND measured_at < u.to_at
               ORDER BY measured_at DESC
               LIMIT 1) r
           CROSS JOIN LATERAL (
               SELECT measured_at, volume_litres FROM meter_readings
               WHERE meter_id = u.m AND measured_at >= u.from_at AND measured_at < u.to_at
               ORDER BY measured_at
               LIMIT 1) f
           ORDER BY u.i
           ON CONFLICT (meter_id, day) DO UPDATE
               SET (measured_at, volume_litres, source) =
                       (CASE WHEN EXCLUDED.measured_at > d.measured_at
                             THEN EXCLUDED.measured_at ELSE d.measured_at END,
                        CASE WHEN EXCLUDED.measured_at > d.measured_at
                             THEN EXCLUDED.volume_litres ELSE d.volume_litres END,
                        CASE WHEN EXCLUDED.measured_at > d.measured_at
                             THEN EXCLUDED.source ELSE d.source END),
                   (first_measured_at, first_volume_litres) =
                       (CASE WHEN EXCLUDED.first_measured_at < d.first_measured_at
                             THEN EXCLUDED.first_measured_at ELSE d.first_measured_at END,
                        CASE WHEN EXCLUDED.first_measured_at < d.first_measured_at
                             THEN EXCLUDED.first_volume_litres ELSE d.first_volume_litres END)
               WHERE EXCLUDED.measured_at > d.measured_at
                  OR EXCLUDED.first_measured_at < d.first_measured_at"#,
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
        r#"INSERT INTO meter_day_readings AS d (meter_id, day, measured_at, volume_litres, source,
                                                first_measured_at, first_volume_litres)
           SELECT l.meter_id, l.day, l.measured_at, l.volume_litres, l.source, f.measured_at,
                  f.volume_litres
           FROM (SELECT DISTINCT ON (meter_id, day)
                        meter_id, (measured_at AT TIME ZONE 'Europe/Warsaw')::date AS day,
                        measured_at, volume_litres, source
                 FROM meter_readings WHERE received_at >= $1
                 ORDER BY meter_id, day, measured_at DESC) l
           JOIN (SELECT DISTINCT ON (meter_id, day)
                        meter_id, (measured_at AT TIME ZONE 'Europe/Warsaw')::date AS day,
                        measured_at, volume_litres
                 FROM meter_readings WHERE received_at >= $1
                 ORDER BY meter_id, day, measured_at) f USING (meter_id, day)
           ORDER BY 1, 2
           ON CONFLICT (meter_id, day) DO UPDATE
               SET (measured_at, volume_litres, source) =
                       (CASE WHEN EXCLUDED.measured_at > d.measured_at
                             THEN EXCLUDED.measured_at ELSE d.measured_at END,
                        CASE WHEN EXCLUDED.measured_at > d.measured_at
                             THEN EXCLUDED.volume_litres ELSE d.volume_litres END,
                        CASE WHEN EXCLUDED.measured_at > d.measured_at
                             THEN EXCLUDED.source ELSE d.source END),
                   (first_measured_at, first_volume_litres) =
                       (CASE WHEN EXCLUDED.first_measured_at < d.first_measured_at
                             THEN EXCLUDED.first_measured_at ELSE d.first_measured_at END,
                        CASE WHEN EXCLUDED.first_measured_at < d.first_measured_at
                             THEN EXCLUDED.first_volume_litres ELSE d.first_volume_litres END)
               WHERE EXCLUDED.measured_at > d.measured_at
                  OR EXCLUDED.first_measured_at < d.first_measured_at"#,
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
    use chrono::Duration;
    use proptest::prelude::*;

    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        "2026-11-20T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(minutes)
    }

    /// Pending folds as a batch leaves them: a reading's value follows from its instant (one
    /// meter and instant is one stored reading).
    fn pending() -> impl Strategy<Value = Pending> {
        (
            prop::collection::vec((1i64..5, 0i64..5_000), 0..8),
            prop::collection::hash_set((1i64..5, 0u32..5), 0..6),
        )
            .prop_map(|(latest, days)| {
                let mut p = Pending::default();
                for (meter, minutes) in latest {
                    let row = LatestRow {
                        measured_at: at(minutes),
                        litres: minutes * 3,
                        source: ReadingSource::Radio,
                        flags: 0,
                    };
                    keep_newest(&mut p.latest, meter, row);
                }
                let first = NaiveDate::from_ymd_opt(2026, 11, 18).unwrap();
                p.days = days
                    .into_iter()
                    .map(|(meter, d)| (meter, first + chrono::Days::new(d.into())))
                    .collect();
                p
            })
    }

    proptest! {
        /// Folds carried from batch to batch keep each meter's newest reading and every day,
        /// whatever order the batches merge in.
        #[test]
        fn merged_folds_keep_each_meters_newest_reading_and_every_day(
            a in pending(),
            b in pending(),
        ) {
            let mut ab = a.clone();
            ab.merge(b.clone());
            let mut ba = b.clone();
            ba.merge(a.clone());
            prop_assert_eq!(&ab.latest, &ba.latest);
            prop_assert_eq!(&ab.days, &ba.days);
            for (meter, row) in a.latest.iter().chain(&b.latest) {
                prop_assert!(ab.latest[meter].measured_at >= row.measured_at);
            }
            prop_assert!(a.days.is_subset(&ab.days) && b.days.is_subset(&ab.days));
        }
    }
}
