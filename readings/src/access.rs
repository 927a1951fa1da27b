//! Which meters an account may see, and over which days: those that stood at a supply point while
//! a signed contract of a customer linked to the account was in force there, over the account's
//! latest stay there. The `account_meter_spans` view (migration 0014) defines it;
//! `account_meter_windows` is that view kept as a table by triggers, one row per account and
//! meter with the first and last contract day. Every resident-facing query goes through here or
//! joins the same table, so a meter of another resident or another utility is simply not found,
//! and nothing measured after the window's last day (the next household's water) is shown: a
//! former tenant sees their meters as they were when the contract ended.

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
    /// `meter_channel`: "wmbus", "modbus" or "manual" (read by the resident or a reader).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::MeterChannel))]
    pub channel: String,
    /// `meter_purpose`: "main", "garden" or "sewage".
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::MeterPurpose))]
    pub purpose: String,
    pub supply_point_id: i64,
    pub supply_point_code: String,
    pub address: String,
    pub installed_at: Option<DateTime<Utc>>,
    /// When the meter was taken off, if that happened while the viewer could see it.
    pub removed_at: Option<DateTime<Utc>>,
    pub legalised_until: Option<NaiveDate>,
    pub register_max_litres: i64,
    /// The end of the viewer's contract window (midnight after its last day, Warsaw), if it has
    /// one: nothing measured from then on is shown.
    pub visible_until: Option<DateTime<Utc>>,
    /// The newest reading measured before `visible_until`; none before the contract begins.
    pub latest_at: Option<DateTime<Utc>>,
    pub latest_litres: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<ebok_common::domain::ReadingSource>))]
    pub latest_source: Option<String>,
}

/// The meters `viewer` may see, current ones first, then by address and purpose; each with its
/// newest reading within the viewer's window.
pub async fn meters(db: impl PgExecutor<'_>, viewer: Viewer) -> sqlx::Result<Vec<VisibleMeter>> {
    sqlx::query_as!(
        VisibleMeter,
        r#"SELECT m.id, m.serial, m.channel::text AS "channel!", m.purpose::text AS "purpose!",
                  sp.id AS supply_point_id, sp.code AS supply_point_code,
                  ebok_address(sp.street, sp.building_no, sp.apartment_no, sp.postal_code,
                               sp.city, sp.post_town) AS "address!",
                  m.installed_at,
                  CASE WHEN coalesce(m.removed_at < e.until, true) THEN m.removed_at END
                    AS removed_at,
                  m.legalised_until, m.register_max_litres,
                  e.until AS visible_until,
                  l.measured_at AS "latest_at?", l.volume_litres AS "latest_litres?",
                  l.source::text AS "latest_source?"
           FROM account_meter_windows w
           CROSS JOIN LATERAL (SELECT (w.last_day + 1)::timestamp AT TIME ZONE 'Europe/Warsaw'
                                        AS until) e
           JOIN meters m ON m.id = w.meter_id
           JOIN supply_points sp ON sp.id = m.supply_point_id
           LEFT JOIN LATERAL meter_reading_by_day(m.id, coalesce(w.last_day, 'infinity')) l
             ON w.first_day <= (now() AT TIME ZONE 'Europe/Warsaw')::date
           WHERE w.account_id = $1 AND w.utility_id = $2
           ORDER BY coalesce(m.removed_at < e.until, m.removed_at IS NOT NULL)
                      OR coalesce(e.until <= now(), false),
                    sp.city, sp.street, sp.building_no, sp.apartment_no, m.purpose,
                    m.installed_at DESC"#,
        viewer.account_id,
        viewer.utility_id,
    )
    .fetch_all(db)
    .await
}

/// A meter alarm that is open now, as its resident sees it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpenAlarm {
    pub meter_id: i64,
    pub meter_serial: String,
    /// `meter_alarm_kind`: "leak", "burst", "backflow", "tamper", "dry", "low_battery",
    /// "device_error", "no_data", "continuous_flow".
    #[cfg_attr(feature = "openapi", schema(value_type = ebok_common::domain::AlarmKind))]
    pub kind: String,
    pub raised_at: DateTime<Utc>,
}

/// The meter alarms open now on the meters `viewer` may see today, raised within the viewer's
/// contract window, newest first (at most 20). A former tenant's meters have none (whether one
/// is open now is the present household's business), and a new one does not see the previous
/// one's.
pub async fn open_alarms(db: impl PgExecutor<'_>, viewer: Viewer) -> sqlx::Result<Vec<OpenAlarm>> {
    sqlx::query_as!(
        OpenAlarm,
        r#"SELECT m.id AS meter_id, m.serial AS meter_serial, a.kind::text AS "kind!",
                  a.raised_at
           FROM account_meter_windows w
           JOIN meter_alarms a ON a.meter_id = w.meter_id AND a.utility_id = w.utility_id
           JOIN meters m ON m.id = a.meter_id
           WHERE w.account_id = $1 AND w.utility_id = $2 AND a.state <> 'cleared'
             AND (w.last_day IS NULL
                  OR w.last_day >= (now() AT TIME ZONE 'Europe/Warsaw')::date)
             AND a.raised_at >= w.first_day::timestamp AT TIME ZONE 'Europe/Warsaw'
           ORDER BY a.raised_at DESC LIMIT 20"#,
        viewer.account_id,
        viewer.utility_id,
    )
    .fetch_all(db)
    .await
}
