//! Readings of meters nobody registered, held by ingest (`ingest_quarantine`), as staff see
//! them: grouped by the radio id or serial they came with ([`held`]), and assigned to a meter
//! of the utility ([`assign`]). Ingest's replay (`ebok_ingest::maintenance::run_replay`, every
//! 30 seconds by default) then feeds the assigned readings through the normal validation into
//! that meter and releases them. Assigning a radio id to a meter without one also gives the
//! meter that radio id, so its next telegrams go straight to it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::staff::ByStaff;

/// The held readings of one reference.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HeldGroup {
    /// `radio_id` or `serial`.
    pub kind: String,
    pub meter_ref: String,
    pub readings: i64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// The newest held register (litres).
    pub last_litres: i64,
    /// Why they are held, as ingest wrote it.
    pub detail: String,
    /// The meter they were assigned to and are waiting to be replayed into.
    pub assigned_meter_id: Option<i64>,
    pub assigned_serial: Option<String>,
}

/// The utility's held readings, grouped by reference, most readings first (at most 200).
pub async fn held(pool: &PgPool, utility_id: i64) -> sqlx::Result<Vec<HeldGroup>> {
    sqlx::query_as!(
        HeldGroup,
        r#"SELECT q.meter_ref_kind AS kind, q.meter_ref, count(*) AS "readings!",
                  min(q.measured_at) AS "first_at!", max(q.measured_at) AS "last_at!",
                  (array_agg(q.volume_litres ORDER BY q.measured_at DESC))[1] AS "last_litres!",
                  min(q.detail) AS "detail!",
                  max(q.assigned_meter_id) AS assigned_meter_id,
                  max(m.serial) AS assigned_serial
           FROM ingest_quarantine q
           LEFT JOIN meters m ON m.id = q.assigned_meter_id
           WHERE q.utility_id = $1 AND q.released_at IS NULL
           GROUP BY q.meter_ref_kind, q.meter_ref
           ORDER BY count(*) DESC, q.meter_ref
           LIMIT 200"#,
        utility_id,
    )
    .fetch_all(pool)
    .await
}

/// What an assignment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Assigned {
    pub meter_id: i64,
    /// Held readings now waiting to be replayed into the meter.
    pub readings: u64,
    /// Whether the meter took the radio id (it had none).
    pub radio_id_set: bool,
}

/// Assigns the held readings of `kind`/`meter_ref` to the utility's meter `serial`.
pub async fn assign(
    pool: &PgPool,
    by: ByStaff,
    kind: &str,
    meter_ref: &str,
    serial: &str,
) -> Result<Assigned, ApiError> {
    if !matches!(kind, "radio_id" | "serial") {
        return Err(ApiError::invalid("kind", "Nieznany rodzaj identyfikatora."));
    }
    let mut tx = pool.begin().await?;
    let meter = sqlx::query!(
        r#"SELECT id, radio_id FROM meters
           WHERE utility_id = $1 AND serial = $2
             AND supply_point_id IS NOT NULL AND removed_at IS NULL
           FOR UPDATE"#,
        by.utility_id,
        serial.trim(),
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        ApiError::invalid(
            "serial",
            "Nie ma zamontowanego wodomierza o tym numerze fabrycznym (ingest odrzuciłby odczyty \
             wodomierza w magazynie albo zdjętego). Najpierw zamontuj go w punkcie poboru.",
        )
    })?;
    let readings = sqlx::query!(
        r#"UPDATE ingest_quarantine SET assigned_meter_id = $4
           WHERE utility_id = $1 AND meter_ref_kind = $2 AND meter_ref = $3
             AND released_at IS NULL"#,
        by.utility_id,
        kind,
        meter_ref,
        meter.id,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if readings == 0 {
        return Err(ApiError::NotFound);
    }
    let radio_id_set = if kind == "radio_id" && meter.radio_id.is_none() {
        let taken = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM meters WHERE utility_id = $1 AND radio_id = $2)
               AS "taken!""#,
            by.utility_id,
            meter_ref,
        )
        .fetch_one(&mut *tx)
        .await?;
        if !taken {
            sqlx::query!(
                "UPDATE meters SET radio_id = $2 WHERE id = $1",
                meter.id,
                meter_ref
            )
            .execute(&mut *tx)
            .await?;
        }
        !taken
    } else {
        false
    };
    by.audit(
        &mut tx,
        "ingest_quarantine.assigned",
        "meter",
        meter.id,
        json!({
            "kind": kind,
            "meter_ref": meter_ref,
            "readings": readings,
            "radio_id_set": radio_id_set,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Assigned {
        meter_id: meter.id,
        readings,
        radio_id_set,
    })
}
