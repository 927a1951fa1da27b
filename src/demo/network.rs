//! The demo's water network, for the water balance (docs/balance.md): the gmina is one zone fed
//! by its treatment plant, and each locality a zone inside it, fed from the gmina's mains
//! through its own inlet meter; every supply point lies in its locality's zone, and the
//! technician looks after the gmina (so after every zone in it).
//!
//! The inlets are firmware-sim's zone model (`ZoneInlet`): the customers' water plus the pipes'
//! losses: a couple of litres an hour per connection everywhere, more in the older villages,
//! and in Młynary a burst in [`BURST_IN`] from 23:00 five days before the demo's first day (its
//! first night is four nights back), so the ranking has a zone whose losses jump and the night
//! flow an alarm.
//! Their hourly readings are seeded like the customers' telegrams (and topped up on the next
//! run); while the demo runs, they are served over Modbus TCP and polled by ingest like any
//! bulk meter.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{DateTime, Days, Duration, DurationRound, Utc};
use ebok_common::domain::time::{day_start, local_day};
use firmware_sim::model::{Burst, FleetSpec, ZoneInlet, ZoneSpec};
use sqlx::PgPool;

use super::seed::UtilitySpec;

/// The village of Młynary with the burst.
pub const BURST_IN: &str = "Kurowo";
/// The burst's flow.
const BURST_LITRES_PER_HOUR: u32 = 2_500;
/// The code of the zone of the whole gmina.
const GMINA: &str = "gmina";

/// A boundary meter of the demo and its model.
pub struct DemoInlet {
    pub serial: String,
    pub inlet: ZoneInlet,
}

/// A zone code from a Polish name: "Kwitajny Wielkie" → "kwitajny-wielkie".
fn code_of(name: &str) -> String {
    super::names::ascii_lower(name, '-')
}

/// When the demo's burst began: 23:00 Warsaw time, five days before the first run's day.
fn burst_start(first_run: DateTime<Utc>) -> DateTime<Utc> {
    day_start(local_day(first_run) - Days::new(4)) - Duration::hours(1)
}

/// Creates the utility's zones, boundary meters and the technician's watch if missing, and
/// seeds the inlets' hourly readings up to `now` (from `days` back the first time); the inlets,
/// to be served live.
pub async fn ensure_network(
    pool: &PgPool,
    spec: &UtilitySpec,
    fleet: &FleetSpec,
    utility_id: i64,
    days: u32,
    now: DateTime<Utc>,
) -> Result<Vec<DemoInlet>> {
    let mut tx = pool.begin().await?;
    let exists = sqlx::query_scalar!(
        "SELECT id FROM network_zones WHERE utility_id = $1 AND code = $2",
        utility_id,
        GMINA
    )
    .fetch_optional(&mut *tx)
    .await?
    .is_some();
    if !exists {
        create_zones(&mut tx, spec, utility_id).await?;
    }
    // The fleet's indexes in each locality's zone (a supply point's code is PP-<index + 1>).
    let points = sqlx::query!(
        r#"SELECT sp.code, z.code AS zone_code, z.id AS zone_id
           FROM supply_points sp JOIN network_zones z ON z.id = sp.zone_id
           WHERE sp.utility_id = $1"#,
        utility_id
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut indexes: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for p in points {
        if let Some(index) = p
            .code
            .strip_prefix("PP-")
            .and_then(|n| n.parse::<u64>().ok())
        {
            indexes.entry(p.zone_code).or_default().push(index - 1);
        }
    }
    // The first run's start, kept as the burst meter's creation time.
    let first_run: DateTime<Utc> = sqlx::query_scalar!(
        r#"SELECT min(m.created_at) AS "at!" FROM zone_boundary_meters b
           JOIN meters m ON m.id = b.meter_id WHERE b.utility_id = $1"#,
        utility_id
    )
    .fetch_one(&mut *tx)
    .await?;
    let mut inlets = Vec::new();
    let mut mains = ZoneSpec {
        meters: Vec::new(),
        background_litres_per_hour: 150,
        bursts: Vec::new(),
        initial_litres: 40_000_000,
    };
    for (k, locality) in spec.localities.iter().enumerate() {
        let code = code_of(locality.name);
        let meters = indexes.remove(&code).unwrap_or_default();
        // Older pipes in some villages: 1 to 4 l/h per connection.
        let per_connection = 1 + (k as u32 * 7 + 3) % 4;
        let zone = ZoneSpec {
            background_litres_per_hour: per_connection * meters.len() as u32,
            bursts: if spec.slug == "mlynary" && locality.name == BURST_IN {
                vec![Burst {
                    from: burst_start(first_run),
                    until: None,
                    litres_per_hour: BURST_LITRES_PER_HOUR,
                }]
            } else {
                Vec::new()
            },
            initial_litres: 1_000_000 * (k as u64 + 1),
            meters,
        };
        mains.meters.extend(&zone.meters);
        mains.background_litres_per_hour += zone.background_litres_per_hour;
        mains.bursts.extend(&zone.bursts);
        inlets.push(DemoInlet {
            serial: format!("ZU-{}", code.to_uppercase()),
            inlet: ZoneInlet::new(fleet, zone),
        });
    }
    inlets.insert(
        0,
        DemoInlet {
            serial: format!("SUW-{}", spec.slug.to_uppercase()),
            inlet: ZoneInlet::new(fleet, mains),
        },
    );
    let from_default = now - Duration::days(i64::from(days));
    for demo in &inlets {
        let meter: i64 = sqlx::query_scalar!(
            "SELECT id FROM meters WHERE utility_id = $1 AND serial = $2",
            utility_id,
            demo.serial
        )
        .fetch_one(&mut *tx)
        .await?;
        let newest: Option<DateTime<Utc>> = sqlx::query_scalar!(
            "SELECT measured_at FROM meter_latest_readings WHERE meter_id = $1",
            meter
        )
        .fetch_optional(&mut *tx)
        .await?;
        let first = newest
            .map_or(from_default, |n| n + Duration::hours(1))
            .duration_trunc(Duration::hours(1))?;
        let mut cursor = demo.inlet.cursor(first);
        let (mut at, mut litres) = (Vec::new(), Vec::new());
        let mut t = first;
        while t <= now {
            at.push(t);
            litres.push(cursor.advance_to(t) as i64);
            t += Duration::hours(1);
        }
        let Some((&last_at, &last_litres)) = at.last().zip(litres.last()) else {
            continue;
        };
        sqlx::query!(
            "SELECT ebok_ensure_reading_partitions($1, $2)",
            first,
            last_at
        )
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query!(
            r#"INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
               SELECT $1, t, v, 'modbus' FROM unnest($2::timestamptz[], $3::bigint[]) AS u (t, v)
               ON CONFLICT DO NOTHING"#,
            meter,
            &at,
            &litres
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            r#"INSERT INTO meter_latest_readings AS l
                   (meter_id, measured_at, volume_litres, source, received_at)
               VALUES ($1, $2, $3, 'modbus', now())
               ON CONFLICT (meter_id) DO UPDATE
                   SET measured_at = excluded.measured_at,
                       volume_litres = excluded.volume_litres, source = excluded.source,
                       received_at = excluded.received_at
                   WHERE l.measured_at < excluded.measured_at"#,
            meter,
            last_at,
            last_litres
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(inlets)
}

/// The gmina's zone, one per locality inside it with its supply points, their inlet meters
/// (Modbus, no supply point), and the technician named for the gmina.
async fn create_zones(
    tx: &mut sqlx::PgConnection,
    spec: &UtilitySpec,
    utility_id: i64,
) -> Result<()> {
    let gmina: i64 = sqlx::query_scalar!(
        "INSERT INTO network_zones (utility_id, code, name) VALUES ($1, $2, $3) RETURNING id",
        utility_id,
        GMINA,
        spec.municipality
    )
    .fetch_one(&mut *tx)
    .await?;
    boundary_meter(
        tx,
        utility_id,
        &format!("SUW-{}", spec.slug.to_uppercase()),
        None,
        gmina,
        200,
    )
    .await?;
    for locality in spec.localities {
        let code = code_of(locality.name);
        let zone: i64 = sqlx::query_scalar!(
            r#"INSERT INTO network_zones (utility_id, code, name, parent_id)
               VALUES ($1, $2, $3, $4) RETURNING id"#,
            utility_id,
            code,
            locality.name,
            gmina
        )
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE supply_points SET zone_id = $3 WHERE utility_id = $1 AND city = $2",
            utility_id,
            locality.name,
            zone
        )
        .execute(&mut *tx)
        .await?;
        boundary_meter(
            tx,
            utility_id,
            &format!("ZU-{}", code.to_uppercase()),
            Some(gmina),
            zone,
            100,
        )
        .await?;
    }
    sqlx::query!(
        r#"INSERT INTO network_zone_staff (utility_id, zone_id, account_id)
           SELECT $1, $2, id FROM user_accounts
           WHERE utility_id = $1 AND role = 'technician'"#,
        utility_id,
        gmina
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn boundary_meter(
    tx: &mut sqlx::PgConnection,
    utility_id: i64,
    serial: &str,
    from: Option<i64>,
    into: i64,
    diameter_mm: i16,
) -> Result<()> {
    let meter: i64 = sqlx::query_scalar!(
        r#"INSERT INTO meters (utility_id, serial, manufacturer, model, channel, purpose,
                               register_max_litres, diameter_mm, installed_at)
           VALUES ($1, $2, 'Apator Powogaz', 'MWN130', 'modbus', 'zone_inlet', 999999999999, $3,
                   '2024-06-01T00:00:00+02:00')
           RETURNING id"#,
        utility_id,
        serial,
        diameter_mm
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO zone_boundary_meters (meter_id, utility_id, from_zone_id, into_zone_id)
           VALUES ($1, $2, $3, $4)"#,
        meter,
        utility_id,
        from,
        into
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_codes_are_the_names_without_polish_letters() {
        assert_eq!(code_of("Kwitajny Wielkie"), "kwitajny-wielkie");
        assert_eq!(code_of("Żywkowo"), "zywkowo");
        assert_eq!(code_of("Błudowo"), "bludowo");
    }
}
