//! Writing one reading that did not come through ingest — a resident's self-reading, a clerk's
//! reading, a meter's last and first register at a replacement — as ingest would: the row
//! (source `manual`), and the meter's latest reading moved forward, never back. The day read
//! model follows by the table's triggers.

use chrono::{DateTime, Utc};
use ebok_common::domain::ReadingFlags;
use sqlx::PgConnection;

/// What happened to a recorded reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored; `latest` tells whether it became the meter's latest reading.
    Stored { latest: bool },
    /// The meter already has a reading at that instant: nothing was written.
    Duplicate,
}

/// Stores a `manual` reading of `meter_id` at `at` (its monthly partition must exist:
/// `ebok_ensure_reading_partitions`, outside the caller's transaction).
pub async fn record_manual(
    conn: &mut PgConnection,
    meter_id: i64,
    at: DateTime<Utc>,
    litres: i64,
    flags: ReadingFlags,
) -> sqlx::Result<Recorded> {
    let inserted = sqlx::query!(
        r#"INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source, flags)
           VALUES ($1, $2, $3, 'manual', $4)
           ON CONFLICT (meter_id, measured_at) DO NOTHING"#,
        meter_id,
        at,
        litres,
        flags.0,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(Recorded::Duplicate);
    }
    let latest = sqlx::query!(
        r#"INSERT INTO meter_latest_readings AS l
               (meter_id, measured_at, volume_litres, source, flags, received_at)
           VALUES ($1, $2, $3, 'manual', $4, now())
           ON CONFLICT (meter_id) DO UPDATE
               SET measured_at = EXCLUDED.measured_at, volume_litres = EXCLUDED.volume_litres,
                   source = EXCLUDED.source, flags = EXCLUDED.flags,
                   received_at = EXCLUDED.received_at
               WHERE l.measured_at < EXCLUDED.measured_at"#,
        meter_id,
        at,
        litres,
        flags.0,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    Ok(Recorded::Stored { latest })
}
