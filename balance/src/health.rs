//! Meter health: the customer meters a replacement campaign starts from, because what they
//! measure is no longer the water that flows (apparent losses, in the IWA's terms):
//!
//! - **stopped**: installed, read by radio or Modbus, and silent for [`STOPPED_DAYS`] days;
//! - **standing still**: still reporting, but its register has not moved for
//!   [`STILL_DAYS`] days, at a supply point with a contract in force, where water was used
//!   before it stood still (at least [`USED_BEFORE_LITRES`] in the [`STILL_DAYS`] days before):
//!   a household that lives there and suddenly uses nothing is a stuck meter far more often
//!   than an empty home;
//! - **running backwards**: its register went down from one day to the next in the last
//!   [`STILL_DAYS`] days by more than a rollover could explain (the day rule's own test);
//! - **legalisation passed**: its legalisation period (`legalised_until`) has ended.
//!
//! Each meter comes once, with every problem it has. Read on request from the day table, the
//! latest readings and the meters: one statement per problem, scoped by the utility.

use chrono::{DateTime, Days, NaiveDate, Utc};
use ebok_common::domain::time::day_start;
use sqlx::PgConnection;

/// A meter silent this long has stopped.
pub const STOPPED_DAYS: u64 = 7;
/// A register unchanged this long stands still; the days looked back at for running backwards.
pub const STILL_DAYS: u64 = 30;
/// Water used before a standstill that says somebody lives there.
pub const USED_BEFORE_LITRES: i64 = 1_000;

/// What is wrong with a meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Nothing received since (or since its installation).
    Stopped { since: DateTime<Utc> },
    /// Its register has shown the same value since this day.
    StandingStill { since: NaiveDate },
    /// Its register went down on this day.
    Backwards { on: NaiveDate },
    /// Its legalisation ended on this day.
    LegalisationPassed { on: NaiveDate },
}

impl Problem {
    /// As staff read it.
    pub fn polish(&self) -> &'static str {
        match self {
            Problem::Stopped { .. } => "nie przysyła odczytów",
            Problem::StandingStill { .. } => "stoi, choć wcześniej liczył",
            Problem::Backwards { .. } => "cofa się",
            Problem::LegalisationPassed { .. } => "po terminie legalizacji",
        }
    }
}

/// A meter with its problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterHealth {
    pub meter_id: i64,
    pub serial: String,
    pub supply_point: String,
    pub address: String,
    pub zone: Option<String>,
    pub problems: Vec<Problem>,
}

/// Every installed main, garden or sewage meter of the utility with a problem on `today`,
/// by zone and address.
pub async fn meter_health(
    conn: &mut PgConnection,
    utility_id: i64,
    today: NaiveDate,
) -> sqlx::Result<Vec<MeterHealth>> {
    let stopped_before = day_start(today - Days::new(STOPPED_DAYS));
    let window_start = today - Days::new(STILL_DAYS);
    let meters = sqlx::query!(
        r#"SELECT m.id, m.serial, sp.code, concat_ws(' ', sp.city, sp.street, sp.building_no)
                  || coalesce('/' || sp.apartment_no, '') AS "address!",
                  z.name AS "zone?", m.legalised_until, m.channel::text AS "channel!",
                  m.installed_at AS "installed_at!", l.measured_at AS "latest?",
                  l.volume_litres AS "latest_litres?"
           FROM meters m
           JOIN supply_points sp ON sp.id = m.supply_point_id
           LEFT JOIN network_zones z ON z.id = sp.zone_id
           LEFT JOIN meter_latest_readings l ON l.meter_id = m.id
           WHERE m.utility_id = $1 AND m.removed_at IS NULL
             AND m.purpose IN ('main', 'garden', 'sewage')
           ORDER BY z.name NULLS LAST, sp.city, sp.street, sp.building_no, m.id"#,
        utility_id
    )
    .fetch_all(&mut *conn)
    .await?;
    // Registers that went down from one day row to the next in the window, beyond what a
    // rollover (a wrap near the register's end) explains.
    let backwards = sqlx::query!(
        r#"SELECT meter_id AS "meter_id!", min(day) AS "on!"
           FROM (SELECT d.meter_id, d.day, d.volume_litres,
                        lag(d.volume_litres) OVER (PARTITION BY d.meter_id ORDER BY d.day) AS before,
                        m.register_max_litres
                 FROM meter_day_readings d JOIN meters m ON m.id = d.meter_id
                 WHERE m.utility_id = $1 AND m.removed_at IS NULL AND d.day >= $2) w
           WHERE volume_litres < before
             AND NOT (before > register_max_litres * 9 / 10
                      AND volume_litres < register_max_litres / 10)
           GROUP BY meter_id"#,
        utility_id,
        window_start
    )
    .fetch_all(&mut *conn)
    .await?;
    // Registers unchanged since the window's start, where water was used in the window before.
    let still = sqlx::query!(
        r#"SELECT m.id AS "meter_id!",
                  (SELECT min(d.day) FROM meter_day_readings d
                   WHERE d.meter_id = m.id AND d.volume_litres = l.volume_litres) AS "since!"
           FROM meters m
           JOIN meter_latest_readings l ON l.meter_id = m.id
           CROSS JOIN LATERAL (
               SELECT d.day, d.volume_litres FROM meter_day_readings d
               WHERE d.meter_id = m.id AND d.day <= $2
               ORDER BY d.day DESC LIMIT 1) s
           CROSS JOIN LATERAL (
               SELECT d.volume_litres FROM meter_day_readings d
               WHERE d.meter_id = m.id AND d.day >= $2 - $3::int
               ORDER BY d.day LIMIT 1) e
           WHERE m.utility_id = $1 AND m.removed_at IS NULL AND m.purpose = 'main'
             AND l.measured_at >= $4
             AND l.volume_litres = s.volume_litres
             AND s.volume_litres - e.volume_litres >= $5
             AND EXISTS (SELECT 1 FROM contracts c
                         WHERE c.supply_point_id = m.supply_point_id AND c.status = 'active')"#,
        utility_id,
        window_start,
        STILL_DAYS as i32,
        stopped_before,
        USED_BEFORE_LITRES,
    )
    .fetch_all(&mut *conn)
    .await?;
    let backwards: std::collections::HashMap<i64, NaiveDate> =
        backwards.into_iter().map(|r| (r.meter_id, r.on)).collect();
    let still: std::collections::HashMap<i64, NaiveDate> =
        still.into_iter().map(|r| (r.meter_id, r.since)).collect();

    Ok(meters
        .into_iter()
        .filter_map(|m| {
            let mut problems = Vec::new();
            let heard = m.latest.unwrap_or(m.installed_at);
            if m.channel != "manual" && heard < stopped_before {
                problems.push(Problem::Stopped { since: heard });
            }
            if let Some(&since) = still.get(&m.id) {
                problems.push(Problem::StandingStill { since });
            }
            if let Some(&on) = backwards.get(&m.id) {
                problems.push(Problem::Backwards { on });
            }
            if let Some(on) = m.legalised_until.filter(|d| *d < today) {
                problems.push(Problem::LegalisationPassed { on });
            }
            (!problems.is_empty()).then_some(MeterHealth {
                meter_id: m.id,
                serial: m.serial,
                supply_point: m.code,
                address: m.address,
                zone: m.zone,
                problems,
            })
        })
        .collect())
}
