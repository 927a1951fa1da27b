//! What the staff's pages and exports read: the zones ranked by their losses over a range, and
//! one zone's nights with their baseline, its alarms, boundary meters and staff. Every read is
//! scoped by the utility: a zone of another utility is not found.

use chrono::{DateTime, Days, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::night::{NightRule, baseline_before};
use crate::store::{self, BalanceError, Step, ZonePeriod};

/// A zone as the pages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneInfo {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub parent: Option<(i64, String)>,
}

/// One zone of the utility, or `None` when it is not the utility's.
pub async fn zone(
    conn: &mut PgConnection,
    utility_id: i64,
    zone_id: i64,
) -> sqlx::Result<Option<ZoneInfo>> {
    let row = sqlx::query!(
        r#"SELECT z.id, z.code, z.name, p.id AS "parent_id?", p.name AS "parent_name?"
           FROM network_zones z LEFT JOIN network_zones p ON p.id = z.parent_id
           WHERE z.utility_id = $1 AND z.id = $2"#,
        utility_id,
        zone_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| ZoneInfo {
        id: r.id,
        code: r.code,
        name: r.name,
        parent: r.parent_id.zip(r.parent_name),
    }))
}

/// A zone's place in the ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub zone: ZoneInfo,
    pub period: ZonePeriod,
    /// The zone has an alarm open now.
    pub alarm_open: bool,
}

/// Every zone of the utility with its balance over `from ..= to`, the largest losses per
/// connection and day first (a small village losing a burst's water outranks a town losing
/// more in all through its many old pipes), then by losses; zones whose losses are not known
/// (no boundary meters, or one silent) last, by name.
pub async fn ranking(
    conn: &mut PgConnection,
    utility_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Ranked>, BalanceError> {
    let periods = store::zone_periods(conn, utility_id, from, to, Step::Whole).await?;
    let zones = sqlx::query!(
        r#"SELECT z.id, z.code, z.name, p.id AS "parent_id?", p.name AS "parent_name?",
                  EXISTS (SELECT 1 FROM zone_alarms a
                          WHERE a.zone_id = z.id AND a.cleared_on IS NULL) AS "alarm_open!"
           FROM network_zones z LEFT JOIN network_zones p ON p.id = z.parent_id
           WHERE z.utility_id = $1"#,
        utility_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut ranked: Vec<Ranked> = zones
        .into_iter()
        .filter_map(|z| {
            let period = *periods.get(&z.id)?.first()?;
            Some(Ranked {
                zone: ZoneInfo {
                    id: z.id,
                    code: z.code,
                    name: z.name,
                    parent: z.parent_id.zip(z.parent_name),
                },
                period,
                alarm_open: z.alarm_open,
            })
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.period
            .losses_per_connection_day()
            .cmp(&a.period.losses_per_connection_day())
            .then_with(|| b.period.losses_litres().cmp(&a.period.losses_litres()))
            .then_with(|| a.zone.name.cmp(&b.zone.name))
    });
    Ok(ranked)
}

/// One night of a zone with the baseline it was judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Night {
    pub day: NaiveDate,
    pub min_litres_per_hour: Option<i64>,
    pub baseline_litres_per_hour: Option<i64>,
}

/// A zone's nights of `from ..= to`, one per day (unknown when not computed or not measured).
pub async fn nights(
    conn: &mut PgConnection,
    zone_id: i64,
    from: NaiveDate,
    to: NaiveDate,
    rule: &NightRule,
) -> sqlx::Result<Vec<Night>> {
    let first = from - Days::new(rule.baseline_nights as u64);
    let rows = sqlx::query!(
        r#"SELECT day, min_litres_per_hour FROM zone_nights
           WHERE zone_id = $1 AND day BETWEEN $2 AND $3 ORDER BY day"#,
        zone_id,
        first,
        to
    )
    .fetch_all(conn)
    .await?;
    let mut all: Vec<(NaiveDate, Option<i64>)> = Vec::new();
    let mut rows = rows.into_iter().peekable();
    let mut day = first;
    while day <= to {
        let value = rows
            .next_if(|r| r.day == day)
            .and_then(|r| r.min_litres_per_hour);
        all.push((day, value));
        day = day + Days::new(1);
    }
    Ok(all
        .iter()
        .enumerate()
        .filter(|(_, (day, _))| *day >= from)
        .map(|(i, &(day, value))| Night {
            day,
            min_litres_per_hour: value,
            baseline_litres_per_hour: baseline_before(&all, i, rule),
        })
        .collect())
}

/// A night-flow alarm of a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    pub id: i64,
    pub first_night: NaiveDate,
    pub raised_on: NaiveDate,
    pub cleared_on: Option<NaiveDate>,
    pub baseline_litres_per_hour: i64,
    pub observed_litres_per_hour: i64,
}

/// A zone's alarms, the newest first.
pub async fn alarms(conn: &mut PgConnection, zone_id: i64, limit: i64) -> sqlx::Result<Vec<Alarm>> {
    sqlx::query_as!(
        Alarm,
        r#"SELECT id, first_night, raised_on, cleared_on, baseline_litres_per_hour,
                  observed_litres_per_hour
           FROM zone_alarms WHERE zone_id = $1
           ORDER BY raised_on DESC, id DESC LIMIT $2"#,
        zone_id,
        limit
    )
    .fetch_all(conn)
    .await
}

/// A meter on a zone's boundary, as seen from the zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundaryMeterView {
    pub meter_id: i64,
    pub serial: String,
    pub channel: String,
    /// Into this zone (else out of it).
    pub inlet: bool,
    /// The zone on the other side; `None` outside the network.
    pub other_side: Option<String>,
    pub last_reading: Option<(DateTime<Utc>, i64)>,
}

/// The boundary meters with the zone on one side.
pub async fn boundary_meters(
    conn: &mut PgConnection,
    zone_id: i64,
) -> sqlx::Result<Vec<BoundaryMeterView>> {
    let rows = sqlx::query!(
        r#"SELECT b.meter_id, m.serial, m.channel::text AS "channel!",
                  (b.into_zone_id IS NOT DISTINCT FROM $1) AS "inlet!",
                  o.name AS "other_side?", l.measured_at AS "measured_at?",
                  l.volume_litres AS "volume_litres?"
           FROM zone_boundary_meters b
           JOIN meters m ON m.id = b.meter_id
           LEFT JOIN network_zones o
                  ON o.id = CASE WHEN b.into_zone_id = $1 THEN b.from_zone_id
                                 ELSE b.into_zone_id END
           LEFT JOIN meter_latest_readings l ON l.meter_id = b.meter_id
           WHERE b.from_zone_id = $1 OR b.into_zone_id = $1
           ORDER BY m.serial"#,
        zone_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| BoundaryMeterView {
            meter_id: r.meter_id,
            serial: r.serial,
            channel: r.channel,
            inlet: r.inlet,
            other_side: r.other_side,
            last_reading: r.measured_at.zip(r.volume_litres),
        })
        .collect())
}

/// The staff named for a zone: (account id, name).
pub async fn zone_staff(conn: &mut PgConnection, zone_id: i64) -> sqlx::Result<Vec<(i64, String)>> {
    let rows = sqlx::query!(
        r#"SELECT a.id, coalesce(a.display_name, a.email) AS "name!"
           FROM network_zone_staff s JOIN user_accounts a ON a.id = s.account_id
           WHERE s.zone_id = $1 ORDER BY 2"#,
        zone_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.name)).collect())
}

/// A customer's meter in a zone with an open leak or continuous-flow alarm: water runs behind
/// it all the time (ingest raises these from the meter's own leak flag, and from hourly
/// readings that show flow without a pause for a day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerLeak {
    pub meter_id: i64,
    pub serial: String,
    pub address: String,
    /// `leak` (the meter's flag) or `continuous_flow` (seen in its readings).
    pub kind: String,
    pub since: DateTime<Utc>,
}

/// The customer meters of the zone (and the zones in it) with water running behind them.
pub async fn customer_leaks(
    conn: &mut PgConnection,
    utility_id: i64,
    zone_id: i64,
) -> sqlx::Result<Vec<CustomerLeak>> {
    sqlx::query_as!(
        CustomerLeak,
        r#"WITH RECURSIVE inside (id) AS (
               SELECT id FROM network_zones WHERE id = $2 AND utility_id = $1
               UNION
               SELECT z.id FROM network_zones z JOIN inside ON z.parent_id = inside.id)
           SELECT DISTINCT ON (m.id) m.id AS "meter_id!", m.serial AS "serial!",
                  concat_ws(' ', sp.city, sp.street, sp.building_no)
                      || coalesce('/' || sp.apartment_no, '') AS "address!",
                  a.kind::text AS "kind!", a.raised_at AS "since!"
           FROM meter_alarms a
           JOIN meters m ON m.id = a.meter_id
           JOIN supply_points sp ON sp.id = m.supply_point_id
           JOIN inside ON inside.id = sp.zone_id
           WHERE a.utility_id = $1 AND a.state <> 'cleared'
             AND a.kind IN ('leak', 'continuous_flow')
           ORDER BY m.id, a.raised_at"#,
        utility_id,
        zone_id
    )
    .fetch_all(conn)
    .await
}
