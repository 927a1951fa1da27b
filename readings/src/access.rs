//! Which meters an account may see: those that stood at a supply point while a signed contract of
//! a customer linked to the account was in force there. The `account_meters` view (migration
//! 0008) defines it; `account_meter_windows` (migration 0012) is that view kept as a table by
//! triggers, one row per account and meter with the first and last contract day. Every
//! resident-facing query goes through here or joins the same table, so a meter of another
//! resident or another utility is simply not found.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgExecutor;

/// Who is asking: a resident account of one utility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub utility_id: i64,
    pub account_id: i64,
}

/// A meter as its resident sees it, with the newest reading if any.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisibleMeter {
    pub id: i64,
    pub serial: String,
    /// "radio", "modbus" or "manual" (read by the resident or a reader).
    pub channel: String,
    /// "main", "garden" or "sewage".
    pub purpose: String,
    pub supply_point_id: i64,
    pub supply_point_code: String,
    pub address: String,
    pub installed_at: Option<DateTime<Utc>>,
    pub removed_at: Option<DateTime<Utc>>,
    pub legalised_until: Option<NaiveDate>,
    pub register_max_litres: i64,
    pub latest_at: Option<DateTime<Utc>>,
    pub latest_litres: Option<i64>,
    pub latest_source: Option<String>,
}

/// Whether `viewer` may see `meter_id`.
pub async fn can_see(db: impl PgExecutor<'_>, viewer: Viewer, meter_id: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM account_meter_windows
                          WHERE account_id = $1 AND utility_id = $2 AND meter_id = $3) AS "ok!""#,
        viewer.account_id,
        viewer.utility_id,
        meter_id,
    )
    .fetch_one(db)
    .await
}

/// The meters `viewer` may see, current ones first, then by address and purpose.
pub async fn meters(db: impl PgExecutor<'_>, viewer: Viewer) -> sqlx::Result<Vec<VisibleMeter>> {
    sqlx::query_as!(
        VisibleMeter,
        r#"SELECT m.id, m.serial, m.channel::text AS "channel!", m.purpose::text AS "purpose!",
                  sp.id AS supply_point_id, sp.code AS supply_point_code,
                  concat_ws(' ', sp.street, sp.building_no
                            || coalesce('/' || sp.apartment_no, ''))
                    || ', ' || sp.postal_code || ' ' || sp.city AS "address!",
                  m.installed_at, m.removed_at, m.legalised_until, m.register_max_litres,
                  l.measured_at AS "latest_at?", l.volume_litres AS "latest_litres?",
                  l.source::text AS "latest_source?"
           FROM meters m
           JOIN supply_points sp ON sp.id = m.supply_point_id
           LEFT JOIN meter_latest_readings l ON l.meter_id = m.id
           WHERE m.id IN (SELECT meter_id FROM account_meter_windows
                          WHERE account_id = $1 AND utility_id = $2)
           ORDER BY m.removed_at IS NOT NULL, sp.city, sp.street, sp.building_no, sp.apartment_no,
                    m.purpose, m.installed_at DESC"#,
        viewer.account_id,
        viewer.utility_id,
    )
    .fetch_all(db)
    .await
}
