//! The balance's tables (migration 0035): computing each Warsaw day's figures of a utility from
//! the readings, and reading balances back for any range of days or months.
//!
//! **What a day stores.** For each zone, its own part's customer side (`zone_days`): the main
//! meters at its supply points, their consumption by the day rule ([`crate::days`]) and how
//! many were expected, reported or estimated. For each boundary meter, what it passed
//! (`zone_boundary_days`). For each zone with boundary meters, its minimum night flow
//! (`zone_nights`). Unbilled use is read as staff entered it. A balance is then put together
//! when read ([`zone_periods`]): the nesting and the ratios are [`crate::water`]'s, over sums
//! of days, so a month is exactly the sum of its days.
//!
//! **Where the readings come from.** The day table (`meter_day_readings`: each meter's first
//! and last reading of each day), the newest reading, and the last reading before and first
//! after the range: the same records history reads, so a zone's consumption is its residents'
//! history added up. A supply point counts in the zone it is in now. Meters are read in batches
//! of [`BATCH_METERS`], so a utility of any size is computed in bounded memory.
//!
//! **Night flow** needs the hourly readings of the boundary meters, read raw from
//! `meter_readings` for the night hours (within the raw retention, at least 90 days).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, Utc};
use ebok_common::domain::boundary::{self, Sample};
use ebok_common::domain::{Register, max_flow_litres_per_hour};
use sqlx::PgConnection;

use crate::days::{DayRange, MeterReadings, meter_days_in};
use crate::night::{NightMeter, night_hours, zone_night_flows};
use crate::water::{Balance, BoundaryFlow, OwnUse, Zone, ZoneError, balances, zones_crossed};

/// Meters read per statement.
pub const BATCH_METERS: i64 = 2_000;

/// Days read on each side of the range, so that the midnights at its ends can be interpolated
/// (the day rule interpolates across at most 50 hours).
const SLACK_DAYS: u64 = 3;

#[derive(Debug, thiserror::Error)]
pub enum BalanceError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("the utility's network zones: {0}")]
    Zones(#[from] ZoneError),
}

/// What one [`compute_days`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Computed {
    /// Customer meters and the meter-days computed for them.
    pub meters: u64,
    pub meter_days: u64,
    pub boundary_meters: u64,
    /// Zone-days written.
    pub zone_days: u64,
}

/// The utility's zones.
pub async fn zones(conn: &mut PgConnection, utility_id: i64) -> sqlx::Result<Vec<Zone>> {
    let rows = sqlx::query!(
        "SELECT id, parent_id FROM network_zones WHERE utility_id = $1 ORDER BY id",
        utility_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Zone {
            id: r.id,
            parent: r.parent_id,
        })
        .collect())
}

/// A boundary meter and the zones on its two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundaryMeter {
    pub meter_id: i64,
    pub from: Option<i64>,
    pub into: Option<i64>,
    pub register: Register,
    pub max_flow_litres_per_hour: i64,
}

/// The utility's boundary meters.
pub async fn boundary_meters(
    conn: &mut PgConnection,
    utility_id: i64,
) -> sqlx::Result<Vec<BoundaryMeter>> {
    let rows = sqlx::query!(
        r#"SELECT b.meter_id, b.from_zone_id, b.into_zone_id, m.register_max_litres,
                  m.diameter_mm
           FROM zone_boundary_meters b
           JOIN meters m ON m.id = b.meter_id
           WHERE b.utility_id = $1
           ORDER BY b.meter_id"#,
        utility_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| BoundaryMeter {
            meter_id: r.meter_id,
            from: r.from_zone_id,
            into: r.into_zone_id,
            register: Register::new(r.register_max_litres).expect("register_max_litres > 0"),
            max_flow_litres_per_hour: max_flow_litres_per_hour(r.diameter_mm),
        })
        .collect())
}

/// Computes and stores every day of `from ..= to` for the utility: each zone's own customer
/// side and each boundary meter's water. Days already stored are replaced.
pub async fn compute_days(
    conn: &mut PgConnection,
    utility_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Computed, BalanceError> {
    let mut computed = Computed::default();
    let Some(count) = day_count(from, to) else {
        return Ok(computed);
    };
    let zones = zones(conn, utility_id).await?;
    let slot: HashMap<i64, usize> = zones.iter().enumerate().map(|(i, z)| (z.id, i)).collect();
    let mut own = vec![OwnUse::default(); zones.len() * count];
    let range = DayRange::new(from, to);
    let (range_start, range_end) = (
        ebok_common::domain::time::day_start(from),
        ebok_common::domain::time::day_start(to + Days::new(1)),
    );

    let mut after_id = 0;
    loop {
        let batch = sqlx::query!(
            r#"SELECT m.id, sp.zone_id AS "zone_id!", m.register_max_litres, m.diameter_mm,
                      m.installed_at AS "installed_at!", m.install_reading_litres,
                      m.removed_at, m.removal_reading_litres
               FROM meters m
               JOIN supply_points sp ON sp.id = m.supply_point_id
               WHERE m.utility_id = $1 AND m.purpose = 'main' AND sp.zone_id IS NOT NULL
                 AND m.installed_at < $3 AND (m.removed_at IS NULL OR m.removed_at > $2)
                 AND m.id > $4
               ORDER BY m.id
               LIMIT $5"#,
            utility_id,
            range_start,
            range_end,
            after_id,
            BATCH_METERS,
        )
        .fetch_all(&mut *conn)
        .await?;
        let Some(last) = batch.last() else { break };
        after_id = last.id;
        let ids: Vec<i64> = batch.iter().map(|m| m.id).collect();
        let mut samples = load_samples(conn, &ids, from, to).await?;
        for m in &batch {
            let mut readings = samples.remove(&m.id).unwrap_or_default();
            if let (Some(at), Some(litres)) = (m.removed_at, m.removal_reading_litres) {
                readings.push(Sample { at, litres });
            }
            readings.sort_by_key(|s| s.at);
            readings.dedup_by_key(|s| s.at);
            let meter = MeterReadings {
                register: Register::new(m.register_max_litres).expect("register_max_litres > 0"),
                max_flow_litres_per_hour: max_flow_litres_per_hour(m.diameter_mm),
                installed_at: Some(m.installed_at),
                installed: m.install_reading_litres.map(|litres| Sample {
                    at: m.installed_at,
                    litres,
                }),
                removed_at: m.removed_at,
                samples: readings,
            };
            let zone = slot[&m.zone_id];
            for (i, day) in meter_days_in(&meter, &range).into_iter().enumerate() {
                let Some(day) = day else { continue };
                let sum = &mut own[zone * count + i];
                sum.meters += 1;
                sum.meters_reported += u32::from(day.reported);
                sum.meters_estimated += u32::from(day.estimated());
                sum.billed_metered_litres += day.litres.unwrap_or(0);
                computed.meter_days += 1;
            }
            computed.meters += 1;
        }
        if batch.len() < BATCH_METERS as usize {
            break;
        }
    }

    let mut zone_ids = Vec::with_capacity(own.len());
    let mut days = Vec::with_capacity(own.len());
    let (mut litres, mut meters, mut reported, mut estimated) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (z, zone) in zones.iter().enumerate() {
        for i in 0..count {
            let sum = &own[z * count + i];
            zone_ids.push(zone.id);
            days.push(from + Days::new(i as u64));
            litres.push(sum.billed_metered_litres);
            meters.push(sum.meters as i32);
            reported.push(sum.meters_reported as i32);
            estimated.push(sum.meters_estimated as i32);
        }
    }
    computed.zone_days = sqlx::query!(
        r#"INSERT INTO zone_days AS z (utility_id, zone_id, day, billed_metered_litres, meters,
                                       meters_reported, meters_estimated)
           SELECT $1, * FROM unnest($2::bigint[], $3::date[], $4::bigint[], $5::int[], $6::int[],
                                    $7::int[])
           ON CONFLICT (zone_id, day) DO UPDATE
               SET billed_metered_litres = excluded.billed_metered_litres,
                   meters = excluded.meters, meters_reported = excluded.meters_reported,
                   meters_estimated = excluded.meters_estimated, computed_at = now()"#,
        utility_id,
        &zone_ids,
        &days,
        &litres,
        &meters,
        &reported,
        &estimated,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();

    let boundary = boundary_meters(conn, utility_id).await?;
    let ids: Vec<i64> = boundary.iter().map(|b| b.meter_id).collect();
    let mut samples = load_samples(conn, &ids, from, to).await?;
    let (mut meter_ids, mut days, mut litres) = (Vec::new(), Vec::new(), Vec::new());
    for b in &boundary {
        let mut readings = samples.remove(&b.meter_id).unwrap_or_default();
        readings.sort_by_key(|s| s.at);
        readings.dedup_by_key(|s| s.at);
        let meter = MeterReadings {
            register: b.register,
            max_flow_litres_per_hour: b.max_flow_litres_per_hour,
            installed_at: None,
            installed: None,
            removed_at: None,
            samples: readings,
        };
        for (i, day) in meter_days_in(&meter, &range).into_iter().enumerate() {
            meter_ids.push(b.meter_id);
            days.push(from + Days::new(i as u64));
            litres.push(day.and_then(|d| d.litres));
        }
        computed.boundary_meters += 1;
    }
    sqlx::query!(
        r#"INSERT INTO zone_boundary_days AS b (meter_id, day, litres)
           SELECT * FROM unnest($1::bigint[], $2::date[], $3::bigint[])
           ON CONFLICT (meter_id, day) DO UPDATE
               SET litres = excluded.litres, computed_at = now()"#,
        &meter_ids,
        &days,
        &litres as &[Option<i64>],
    )
    .execute(&mut *conn)
    .await?;
    Ok(computed)
}

/// Every reading of `meters` the day rule needs for `from ..= to`: the first and last reading
/// of each day from a few days before to a few after, the last one before and the first one
/// after those, and the newest one (the open day's row may lag behind it). Unsorted.
async fn load_samples(
    conn: &mut PgConnection,
    meters: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> sqlx::Result<HashMap<i64, Vec<Sample>>> {
    let rows = sqlx::query!(
        r#"SELECT r.meter_id AS "meter_id!", r.first_at AS "first_at!",
                  r.first_litres AS "first_litres!", r.last_at AS "last_at!",
                  r.last_litres AS "last_litres!"
           FROM (
               SELECT meter_id, coalesce(first_measured_at, measured_at) AS first_at,
                      coalesce(first_volume_litres, volume_litres) AS first_litres,
                      measured_at AS last_at, volume_litres AS last_litres
               FROM meter_day_readings
               WHERE meter_id = ANY($1) AND day BETWEEN $2 AND $3
               UNION ALL
               SELECT u.id, b.measured_at, b.volume_litres, b.measured_at, b.volume_litres
               FROM unnest($1::bigint[]) AS u (id)
               CROSS JOIN LATERAL (
                   SELECT measured_at, volume_litres FROM meter_day_readings
                   WHERE meter_id = u.id AND day < $2
                   ORDER BY day DESC LIMIT 1) b
               UNION ALL
               SELECT u.id, a.at, a.litres, a.at, a.litres
               FROM unnest($1::bigint[]) AS u (id)
               CROSS JOIN LATERAL (
                   SELECT coalesce(first_measured_at, measured_at) AS at,
                          coalesce(first_volume_litres, volume_litres) AS litres
                   FROM meter_day_readings
                   WHERE meter_id = u.id AND day > $3
                   ORDER BY day LIMIT 1) a
               UNION ALL
               SELECT meter_id, measured_at, volume_litres, measured_at, volume_litres
               FROM meter_latest_readings
               WHERE meter_id = ANY($1)
           ) r"#,
        meters,
        from - Days::new(SLACK_DAYS),
        to + Days::new(SLACK_DAYS),
    )
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<i64, Vec<Sample>> = HashMap::with_capacity(meters.len());
    for r in rows {
        let samples = out.entry(r.meter_id).or_default();
        samples.push(Sample {
            at: r.first_at,
            litres: r.first_litres,
        });
        if r.last_at != r.first_at {
            samples.push(Sample {
                at: r.last_at,
                litres: r.last_litres,
            });
        }
    }
    Ok(out)
}

/// Computes and stores the minimum night flow of every zone with boundary meters, for the
/// nights of `from ..= to`; how many zone-nights were written.
pub async fn compute_nights(
    conn: &mut PgConnection,
    utility_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<u64, BalanceError> {
    let Some(count) = day_count(from, to) else {
        return Ok(0);
    };
    let zones = zones(conn, utility_id).await?;
    let boundary = boundary_meters(conn, utility_id).await?;
    let metered: BTreeSet<i64> = boundary
        .iter()
        .flat_map(|b| zones_crossed(&zones, b.from, b.into))
        .collect();
    if metered.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = boundary.iter().map(|b| b.meter_id).collect();
    let rows = sqlx::query!(
        r#"SELECT meter_id, measured_at, volume_litres FROM meter_readings
           WHERE meter_id = ANY($1) AND measured_at >= $2 AND measured_at < $3
           ORDER BY meter_id, measured_at"#,
        &ids,
        night_hours(from)[0] - Duration::hours(2),
        night_hours(to)[2] + Duration::hours(2),
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut readings: HashMap<i64, Vec<Sample>> = HashMap::new();
    for r in rows {
        readings.entry(r.meter_id).or_default().push(Sample {
            at: r.measured_at,
            litres: r.volume_litres,
        });
    }
    let (mut zone_ids, mut days, mut flows) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..count {
        let day = from + Days::new(i as u64);
        let hours = night_hours(day);
        let meters: Vec<NightMeter> = boundary
            .iter()
            .map(|b| {
                let samples = readings.get(&b.meter_id).map_or(&[][..], Vec::as_slice);
                let at = hours.map(|h| register_near(b, samples, h));
                let hour = |k: usize| -> Option<i64> {
                    let (start, end) = (at[k]?, at[k + 1]?);
                    boundary::litres_between(
                        b.register,
                        b.max_flow_litres_per_hour,
                        Sample {
                            at: hours[k],
                            litres: start,
                        },
                        Sample {
                            at: hours[k + 1],
                            litres: end,
                        },
                    )
                };
                NightMeter {
                    from: b.from,
                    into: b.into,
                    hours: [hour(0), hour(1)],
                }
            })
            .collect();
        for (zone, flow) in zone_night_flows(&zones, &meters)? {
            if metered.contains(&zone) {
                zone_ids.push(zone);
                days.push(day);
                flows.push(flow);
            }
        }
    }
    let written = sqlx::query!(
        r#"INSERT INTO zone_nights (utility_id, zone_id, day, min_litres_per_hour)
           SELECT $1, * FROM unnest($2::bigint[], $3::date[], $4::bigint[])
           ON CONFLICT (zone_id, day) DO UPDATE
               SET min_litres_per_hour = excluded.min_litres_per_hour, computed_at = now()"#,
        utility_id,
        &zone_ids,
        &days,
        &flows as &[Option<i64>],
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(written)
}

/// The register of a boundary meter at `at`, when a reading at most an hour away lies on each
/// side of it (or one is exactly at it): a night's hour needs readings by the hour.
fn register_near(meter: &BoundaryMeter, samples: &[Sample], at: DateTime<Utc>) -> Option<i64> {
    let next = samples.partition_point(|s| s.at < at);
    let after = samples
        .get(next)
        .filter(|s| s.at - at <= Duration::hours(1))?;
    let before = next
        .checked_sub(1)
        .map(|i| samples[i])
        .filter(|s| at - s.at <= Duration::hours(1));
    if before.is_none() && after.at != at {
        return None;
    }
    boundary::register_at(
        meter.register,
        meter.max_flow_litres_per_hour,
        at,
        before,
        Some(*after),
    )
    .filter(|r| r.at == at)
    .map(|r| r.litres)
}

/// A period of a balance read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Day,
    Month,
    /// The whole range as one period.
    Whole,
}

/// One zone's balance for one period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZonePeriod {
    pub first_day: NaiveDate,
    pub balance: Balance,
    /// The zone has boundary meters and each one its input counts has a figure for every
    /// computed day of the period (else its input, and so its losses, are not known).
    pub input_known: bool,
    /// Days of the period computed so far (a day is computed once it is over): every figure
    /// is the sum over these days.
    pub days_computed: u32,
}

impl ZonePeriod {
    /// The losses, when the input is known.
    pub fn losses_litres(&self) -> Option<i64> {
        self.input_known.then(|| self.balance.losses_litres())
    }

    /// The losses per customer connection and day, in litres: the IWA's indicator for
    /// comparing zones of different sizes (the losses over the meter-days expected).
    pub fn losses_per_connection_day(&self) -> Option<i64> {
        let losses = self.losses_litres()?;
        (self.balance.meters > 0).then(|| losses / i64::from(self.balance.meters))
    }
}

/// Every zone's balance for each day or month of `from ..= to` (months whole), by zone id.
pub async fn zone_periods(
    conn: &mut PgConnection,
    utility_id: i64,
    from: NaiveDate,
    to: NaiveDate,
    step: Step,
) -> Result<BTreeMap<i64, Vec<ZonePeriod>>, BalanceError> {
    let (from, to) = match step {
        Step::Day | Step::Whole => (from, to),
        Step::Month => (
            from.with_day(1).expect("day 1"),
            (to.with_day(1).expect("day 1") + chrono::Months::new(1)) - Days::new(1),
        ),
    };
    let period_of = |day: NaiveDate| match step {
        Step::Day => day,
        Step::Whole => from,
        Step::Month => day.with_day(1).expect("day 1"),
    };
    let zones = zones(conn, utility_id).await?;
    let boundary = boundary_meters(conn, utility_id).await?;
    let mut periods: Vec<NaiveDate> = Vec::new();
    let mut day = from;
    while day <= to {
        let p = period_of(day);
        if periods.last() != Some(&p) {
            periods.push(p);
        }
        day = day + Days::new(1);
    }
    let index: HashMap<NaiveDate, usize> =
        periods.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let mut own: Vec<BTreeMap<i64, OwnUse>> = vec![BTreeMap::new(); periods.len()];
    let mut computed: Vec<BTreeSet<NaiveDate>> = vec![BTreeSet::new(); periods.len()];
    let rows = sqlx::query!(
        r#"SELECT zone_id, day, billed_metered_litres, meters, meters_reported, meters_estimated
           FROM zone_days WHERE utility_id = $1 AND day BETWEEN $2 AND $3"#,
        utility_id,
        from,
        to
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let p = index[&period_of(r.day)];
        let sum = own[p].entry(r.zone_id).or_default();
        sum.billed_metered_litres += r.billed_metered_litres;
        sum.meters += r.meters as u32;
        sum.meters_reported += r.meters_reported as u32;
        sum.meters_estimated += r.meters_estimated as u32;
        computed[p].insert(r.day);
    }
    let rows = sqlx::query!(
        r#"SELECT zone_id, day, sum(litres)::bigint AS "litres!"
           FROM zone_unbilled_use WHERE utility_id = $1 AND day BETWEEN $2 AND $3
           GROUP BY zone_id, day"#,
        utility_id,
        from,
        to
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let p = index[&period_of(r.day)];
        own[p]
            .entry(r.zone_id)
            .or_default()
            .unbilled_authorised_litres += r.litres;
    }
    // Boundary meters: litres per period, and whether every day was known.
    let ids: Vec<i64> = boundary.iter().map(|b| b.meter_id).collect();
    let rows = sqlx::query!(
        r#"SELECT meter_id, day, litres FROM zone_boundary_days
           WHERE meter_id = ANY($1) AND day BETWEEN $2 AND $3"#,
        &ids,
        from,
        to
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut passed: HashMap<(i64, usize), (i64, u32)> = HashMap::new();
    for r in rows {
        let p = index[&period_of(r.day)];
        let entry = passed.entry((r.meter_id, p)).or_default();
        if let Some(litres) = r.litres
            && computed[p].contains(&r.day)
        {
            entry.0 += litres;
            entry.1 += 1;
        }
    }
    let mut out: BTreeMap<i64, Vec<ZonePeriod>> = zones
        .iter()
        .map(|z| (z.id, Vec::with_capacity(periods.len())))
        .collect();
    for (p, &first_day) in periods.iter().enumerate() {
        let days_computed = computed[p].len() as u32;
        let mut flows = Vec::with_capacity(boundary.len());
        let mut unknown: BTreeSet<i64> = BTreeSet::new();
        for b in &boundary {
            let (litres, known_days) = passed.get(&(b.meter_id, p)).copied().unwrap_or_default();
            if known_days < days_computed {
                unknown.extend(zones_crossed(&zones, b.from, b.into));
            }
            flows.push(BoundaryFlow {
                from: b.from,
                into: b.into,
                litres,
            });
        }
        let metered: BTreeSet<i64> = boundary
            .iter()
            .flat_map(|b| zones_crossed(&zones, b.from, b.into))
            .collect();
        let sums = balances(&zones, &flows, &own[p])?;
        for zone in &zones {
            out.get_mut(&zone.id).expect("every zone").push(ZonePeriod {
                first_day,
                balance: sums[&zone.id],
                input_known: metered.contains(&zone.id) && !unknown.contains(&zone.id),
                days_computed,
            });
        }
    }
    Ok(out)
}

fn day_count(from: NaiveDate, to: NaiveDate) -> Option<usize> {
    usize::try_from((to - from).num_days() + 1)
        .ok()
        .filter(|n| *n > 0)
}
