//! The bulk meter at the inlet of a network zone (a district metered area): it measures what
//! the zone's customers take (their meters' forward flow, leaks behind their meters included)
//! plus what the zone's pipes lose: background leakage all the time, and bursts that start at
//! an instant and run until repaired. What the water balance must find is exactly that
//! difference.
//!
//! Pure like the rest of the model: the inlet's water in any hour is a function of the fleet,
//! the zone's meters and its [`ZoneSpec`]. The pipes' losses are integer litres by cumulative
//! rounding, so the hours add up to the days and the register never runs backwards.

use chrono::{DateTime, NaiveDate, Utc};

use super::calendar::{day_start_ts, local_day_ts, next_day, utc};
use super::{FleetSpec, HourlyVolume, MeterModel};

const HOUR: i64 = 3_600;

/// A burst in the zone's pipes: `litres_per_hour` more from `from` until `until` (repaired), or
/// for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub litres_per_hour: u32,
}

/// A zone as its inlet meter sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSpec {
    /// The fleet's meters inside the zone (their indexes).
    pub meters: Vec<u64>,
    /// What the zone's pipes lose all the time.
    pub background_litres_per_hour: u32,
    pub bursts: Vec<Burst>,
    /// The inlet's register at the fleet start.
    pub initial_litres: u64,
}

/// The inlet meter of one zone.
#[derive(Debug, Clone)]
pub struct ZoneInlet {
    spec: ZoneSpec,
    models: Vec<MeterModel>,
    start: i64,
}

impl ZoneInlet {
    pub fn new(fleet: &FleetSpec, spec: ZoneSpec) -> ZoneInlet {
        let models = spec.meters.iter().map(|&i| fleet.meter(i)).collect();
        ZoneInlet {
            spec,
            models,
            start: fleet.start.timestamp(),
        }
    }

    pub fn spec(&self) -> &ZoneSpec {
        &self.spec
    }

    /// The pipes' losses from the fleet start to `ts`, in whole litres.
    fn lost_until(&self, ts: i64) -> u64 {
        let lasted = |from: i64, until: Option<i64>| -> i64 {
            let end = until.map_or(ts, |u| u.min(ts));
            (end - from.max(self.start)).max(0)
        };
        let background =
            i128::from(self.spec.background_litres_per_hour) * i128::from(lasted(self.start, None));
        let bursts: i128 = self
            .spec
            .bursts
            .iter()
            .map(|b| {
                i128::from(b.litres_per_hour)
                    * i128::from(lasted(b.from.timestamp(), b.until.map(|u| u.timestamp())))
            })
            .sum();
        ((background + bursts) / i128::from(HOUR)) as u64
    }

    /// What the pipes lost in `[from, to)`.
    pub fn lost_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
        self.lost_until(to.timestamp())
            .saturating_sub(self.lost_until(from.timestamp()))
    }

    /// The zone's customers' forward flow in each real hour of the Warsaw `day`.
    fn customers_hourly(&self, day: NaiveDate) -> Vec<HourlyVolume> {
        let mut hours: Vec<HourlyVolume> = Vec::new();
        for model in &self.models {
            for (i, h) in model.hourly_volumes(day).into_iter().enumerate() {
                match hours.get_mut(i) {
                    Some(sum) => sum.litres += h.litres,
                    None => hours.push(h),
                }
            }
        }
        if hours.is_empty() {
            let start = day_start_ts(day);
            let hours_in_day = (day_start_ts(next_day(day)) - start) / HOUR;
            hours = (0..hours_in_day)
                .map(|i| HourlyVolume {
                    start: utc(start + i * HOUR),
                    litres: 0,
                })
                .collect();
        }
        hours
    }

    /// The water through the inlet in each real hour of the Warsaw `day`: the customers' and the
    /// pipes' losses.
    pub fn hourly_volumes(&self, day: NaiveDate) -> Vec<HourlyVolume> {
        self.customers_hourly(day)
            .into_iter()
            .map(|h| HourlyVolume {
                start: h.start,
                litres: h.litres + self.lost_between(h.start, h.start + chrono::Duration::hours(1)),
            })
            .collect()
    }

    /// A cursor at `at` (it keeps a copy of the inlet). Creating it costs like the meters'
    /// [`MeterModel::consumed_between`] since the fleet start; moving it forward costs the
    /// meters' hourly volumes once per day crossed (about a microsecond per meter).
    pub fn cursor(&self, at: DateTime<Utc>) -> ZoneInletCursor {
        let day = local_day_ts(at.timestamp().max(self.start));
        let day_begins = utc(day_start_ts(day));
        let customers_before_day = self
            .models
            .iter()
            .map(|m| m.consumed_between(utc(self.start), day_begins))
            .sum();
        ZoneInletCursor {
            inlet: self.clone(),
            day,
            customers_before_day,
            hours: self.customers_hourly(day),
        }
    }
}

/// Reads an inlet's register forward in time.
#[derive(Debug, Clone)]
pub struct ZoneInletCursor {
    inlet: ZoneInlet,
    day: NaiveDate,
    /// The customers' water from the fleet start to the start of `day`.
    customers_before_day: u64,
    /// The customers' hourly water on `day`.
    hours: Vec<HourlyVolume>,
}

impl ZoneInletCursor {
    /// The register at `t` (not before the cursor's day): the customers' water, spread evenly
    /// within each hour, and the pipes' losses.
    pub fn advance_to(&mut self, t: DateTime<Utc>) -> u64 {
        let ts = t.timestamp().max(self.inlet.start);
        let day = local_day_ts(ts);
        while self.day < day {
            self.customers_before_day += self.hours.iter().map(|h| h.litres).sum::<u64>();
            self.day = next_day(self.day);
            self.hours = self.inlet.customers_hourly(self.day);
        }
        let mut customers = self.customers_before_day;
        for h in &self.hours {
            let start = h.start.timestamp();
            if ts >= start + HOUR {
                customers += h.litres;
            } else if ts > start {
                customers += h.litres * (ts - start) as u64 / HOUR as u64;
            }
        }
        self.inlet.spec.initial_litres + customers + self.inlet.lost_until(ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn fleet() -> FleetSpec {
        FleetSpec::new(7, Utc.with_ymd_and_hms(2026, 2, 28, 23, 0, 0).unwrap())
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_inlet_measures_the_customers_and_the_pipes_losses_and_its_register_adds_up() {
        let fleet = fleet();
        let burst_at = Utc.with_ymd_and_hms(2026, 3, 10, 13, 30, 0).unwrap();
        let inlet = ZoneInlet::new(
            &fleet,
            ZoneSpec {
                meters: (0..20).collect(),
                background_litres_per_hour: 120,
                bursts: vec![Burst {
                    from: burst_at,
                    until: None,
                    litres_per_hour: 3_000,
                }],
                initial_litres: 5_000_000,
            },
        );
        let customers: u64 = (0..20)
            .map(|i| fleet.meter(i).daily_volume(d("2026-03-09")))
            .sum();
        let hours = inlet.hourly_volumes(d("2026-03-09"));
        assert_eq!(hours.len(), 24);
        assert_eq!(
            hours.iter().map(|h| h.litres).sum::<u64>(),
            customers + 24 * 120
        );
        // The burst starts at 14:30 Warsaw time: 9 h 30 min of it that day.
        let customers: u64 = (0..20)
            .map(|i| fleet.meter(i).daily_volume(d("2026-03-10")))
            .sum();
        let burst_day: u64 = inlet
            .hourly_volumes(d("2026-03-10"))
            .iter()
            .map(|h| h.litres)
            .sum();
        assert_eq!(burst_day, customers + 24 * 120 + 28_500);
        // The register at the hours is the start plus every hour before.
        let mut cursor = inlet.cursor(fleet.start);
        let mut expected = 5_000_000;
        for day in [d("2026-03-01"), d("2026-03-02")] {
            for h in inlet.hourly_volumes(day) {
                assert_eq!(cursor.advance_to(h.start), expected, "at {}", h.start);
                expected += h.litres;
            }
        }
        let later = inlet.cursor(Utc.with_ymd_and_hms(2026, 3, 2, 23, 0, 0).unwrap());
        assert_eq!(
            later
                .clone()
                .advance_to(Utc.with_ymd_and_hms(2026, 3, 2, 23, 0, 0).unwrap()),
            expected
        );
    }
}
