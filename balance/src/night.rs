//! Night flow: the water a zone takes in when nearly everybody sleeps. Between 2 and 4 in the
//! morning consumption is at its lowest and steadiest, so what still flows in is mostly leakage;
//! a new burst shows as a step up in it, days before it surfaces or shows in a month's balance.
//!
//! - [`night_hours`]: the two real hours before 04:00 Warsaw time (on the night the clocks go
//!   forward, 01:00 to 04:00 on the wall clock; it is still two hours of water);
//! - [`zone_night_flows`]: each zone's smallest hourly net input in those hours, from what its
//!   boundary meters passed hour by hour (a zone with its sub-zones, as [`crate::water`]
//!   counts input);
//! - [`NightRule`] and [`next_step`]: the baseline of a zone (the median of its recent nights)
//!   and when a night flow above it is a new burst: above the baseline by a margin, for
//!   `nights` nights in a row. An alarm stays open until a night is back under the threshold it
//!   was raised against, so one burst is one alarm even after the baseline has caught up.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use ebok_common::domain::time::local_instant;

use crate::water::{BoundaryFlow, Zone, ZoneError, balances, zones_crossed};

/// The boundaries of the night's two hours: 02:00, 03:00 and 04:00 of `day`, counted back in
/// real hours from 04:00 Warsaw time.
pub fn night_hours(day: NaiveDate) -> [DateTime<Utc>; 3] {
    let four = NaiveTime::from_hms_opt(4, 0, 0).expect("a time");
    let end = local_instant(day, four).expect("04:00 exists on every day in Warsaw");
    [end - Duration::hours(2), end - Duration::hours(1), end]
}

/// One boundary meter's water in each of the night's two hours (`None`: unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NightMeter {
    pub from: Option<i64>,
    pub into: Option<i64>,
    pub hours: [Option<i64>; 2],
}

/// Each zone's minimum night flow in litres per hour: the smaller of its two hours' net input.
/// `None` for a zone without boundary meters, or when a meter on its boundary lacks an hour.
pub fn zone_night_flows(
    zones: &[Zone],
    meters: &[NightMeter],
) -> Result<BTreeMap<i64, Option<i64>>, ZoneError> {
    let mut least: BTreeMap<i64, Option<i64>> = BTreeMap::new();
    for hour in 0..2 {
        let flows: Vec<BoundaryFlow> = meters
            .iter()
            .map(|m| BoundaryFlow {
                from: m.from,
                into: m.into,
                litres: m.hours[hour].unwrap_or(0),
            })
            .collect();
        let inputs = balances(zones, &flows, &BTreeMap::new())?;
        for (zone, balance) in inputs {
            let value = Some(balance.system_input_litres);
            let slot = least.entry(zone).or_insert(value);
            *slot = slot.zip(value).map(|(a, b)| a.min(b));
        }
    }
    let mut metered: BTreeSet<i64> = BTreeSet::new();
    for meter in meters {
        let unknown = meter.hours.iter().any(Option::is_none);
        for zone in zones_crossed(zones, meter.from, meter.into) {
            metered.insert(zone);
            if unknown {
                least.insert(zone, None);
            }
        }
    }
    for (zone, value) in least.iter_mut() {
        if !metered.contains(zone) {
            *value = None;
        }
    }
    Ok(least)
}

/// When a zone's night flow is a new burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NightRule {
    /// How far above the baseline a night must be, in per cent of the baseline...
    pub margin_percent: i64,
    /// ...and at least this many litres per hour (a small zone's baseline is small).
    pub min_excess_litres_per_hour: i64,
    /// Nights in a row above the threshold before the alarm is raised.
    pub nights: usize,
    /// How many earlier nights the baseline is the median of (at least half of them known).
    pub baseline_nights: usize,
}

impl Default for NightRule {
    fn default() -> Self {
        NightRule {
            margin_percent: 30,
            min_excess_litres_per_hour: 500,
            nights: 2,
            baseline_nights: 14,
        }
    }
}

impl NightRule {
    /// The night flow above which a night counts against `baseline`.
    pub fn threshold(&self, baseline: i64) -> i64 {
        baseline + (baseline * self.margin_percent / 100).max(self.min_excess_litres_per_hour)
    }
}

/// What one night does to a zone's alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing changes.
    Stay,
    /// A new burst: the night flow stayed above the threshold since `first_night`.
    Raise {
        first_night: NaiveDate,
        baseline: i64,
        threshold: i64,
        /// The smallest night flow of the nights above the threshold.
        observed: i64,
    },
    /// The open alarm's zone is back under the threshold it was raised against.
    Clear,
}

/// The step for night `i` of `nights` (a zone's nights in day order, one per day, `None` when
/// unknown), with `open` the threshold of the zone's open alarm if it has one.
pub fn next_step(
    nights: &[(NaiveDate, Option<i64>)],
    i: usize,
    open: Option<i64>,
    rule: &NightRule,
) -> Step {
    let Some(&(_, tonight)) = nights.get(i) else {
        return Step::Stay;
    };
    if let Some(threshold) = open {
        return match tonight {
            Some(flow) if flow <= threshold => Step::Clear,
            _ => Step::Stay,
        };
    }
    let n = rule.nights.max(1);
    let Some(first) = (i + 1).checked_sub(n) else {
        return Step::Stay;
    };
    let Some(run) = nights[first..=i]
        .iter()
        .map(|(_, v)| *v)
        .collect::<Option<Vec<i64>>>()
    else {
        return Step::Stay;
    };
    let Some(baseline) = baseline_before(nights, first, rule) else {
        return Step::Stay;
    };
    let threshold = rule.threshold(baseline);
    let observed = *run.iter().min().expect("at least one night");
    if observed > threshold {
        Step::Raise {
            first_night: nights[first].0,
            baseline,
            threshold,
            observed,
        }
    } else {
        Step::Stay
    }
}

/// A zone's baseline before night `i`: the median of the known ones among the
/// `rule.baseline_nights` nights before it, when at least half of them are known.
pub fn baseline_before(
    nights: &[(NaiveDate, Option<i64>)],
    i: usize,
    rule: &NightRule,
) -> Option<i64> {
    let earlier: Vec<i64> = nights[i.saturating_sub(rule.baseline_nights)..i.min(nights.len())]
        .iter()
        .filter_map(|(_, v)| *v)
        .collect();
    median(earlier, rule.baseline_nights.div_ceil(2).max(1))
}

/// The median of `values` (the lower one of an even count), when there are at least `least`.
fn median(mut values: Vec<i64>, least: usize) -> Option<i64> {
    if values.len() < least || values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values[(values.len() - 1) / 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Days;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn nights(values: &[Option<i64>]) -> Vec<(NaiveDate, Option<i64>)> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (d("2026-05-01") + Days::new(i as u64), *v))
            .collect()
    }

    /// Walks every night as the store does: one open alarm at most.
    fn walk(values: &[Option<i64>], rule: &NightRule) -> Vec<(usize, Step)> {
        let nights = nights(values);
        let mut open = None;
        let mut steps = Vec::new();
        for i in 0..nights.len() {
            let step = next_step(&nights, i, open, rule);
            match step {
                Step::Raise { threshold, .. } => open = Some(threshold),
                Step::Clear => open = None,
                Step::Stay => continue,
            }
            steps.push((i, step));
        }
        steps
    }

    #[test]
    fn the_night_is_the_two_real_hours_before_four_also_when_the_clocks_change() {
        let [a, b, c] = night_hours(d("2026-03-29"));
        assert_eq!(c.to_rfc3339(), "2026-03-29T02:00:00+00:00");
        assert_eq!((b - a, c - b), (Duration::hours(1), Duration::hours(1)));
        assert_eq!(
            night_hours(d("2026-10-25"))[2].to_rfc3339(),
            "2026-10-25T03:00:00+00:00"
        );
        assert_eq!(
            night_hours(d("2026-07-01"))[0].to_rfc3339(),
            "2026-07-01T00:00:00+00:00"
        );
    }

    #[test]
    fn a_burst_that_stays_raises_one_alarm_on_its_second_night_and_clears_when_repaired() {
        let rule = NightRule::default();
        // Fourteen ordinary nights around 2,000 l/h, a burst of +1,500 l/h for 20 nights, then
        // repaired.
        let mut values: Vec<Option<i64>> = (0..14).map(|i| Some(1_950 + (i % 5) * 25)).collect();
        values.extend((0..20).map(|_| Some(3_500)));
        values.extend((0..5).map(|_| Some(2_000)));
        let steps = walk(&values, &rule);
        assert_eq!(
            steps,
            vec![
                (
                    15,
                    Step::Raise {
                        first_night: d("2026-05-15"),
                        baseline: 2_000,
                        threshold: 2_600,
                        observed: 3_500,
                    }
                ),
                (34, Step::Clear),
            ]
        );
    }

    #[test]
    fn one_high_night_a_gap_or_too_little_history_raises_nothing() {
        let rule = NightRule::default();
        let mut values: Vec<Option<i64>> = vec![Some(1_000); 14];
        values.push(Some(9_000));
        values.push(Some(1_000));
        values.push(Some(9_000));
        values.push(None);
        values.push(Some(9_000));
        assert!(walk(&values, &rule).is_empty());
        assert!(walk(&[Some(1_000), Some(1_000), Some(9_000), Some(9_000)], &rule).is_empty());
    }

    #[test]
    fn the_margin_has_a_floor_in_litres_for_small_zones() {
        let rule = NightRule::default();
        assert_eq!(rule.threshold(100), 600);
        assert_eq!(rule.threshold(10_000), 13_000);
    }

    #[test]
    fn a_zone_night_is_its_net_input_and_unknown_when_a_boundary_meter_missed_an_hour() {
        // Town 1 with district 2; the plant feeds 1, 1 feeds 2.
        let zones = [
            Zone {
                id: 1,
                parent: None,
            },
            Zone {
                id: 2,
                parent: Some(1),
            },
            Zone {
                id: 3,
                parent: None,
            },
        ];
        let plant = NightMeter {
            from: None,
            into: Some(1),
            hours: [Some(5_000), Some(4_000)],
        };
        let district = NightMeter {
            from: Some(1),
            into: Some(2),
            hours: [Some(1_000), Some(1_500)],
        };
        let flows = zone_night_flows(&zones, &[plant, district]).unwrap();
        assert_eq!(flows[&1], Some(4_000));
        assert_eq!(flows[&2], Some(1_000));
        // Zone 3 has no boundary meter.
        assert_eq!(flows[&3], None);
        let gap = NightMeter {
            hours: [Some(1_000), None],
            ..district
        };
        let flows = zone_night_flows(&zones, &[plant, gap]).unwrap();
        // The district's meter is internal to the town: the town's night is still known.
        assert_eq!((flows[&1], flows[&2]), (Some(4_000), None));
    }

    proptest! {
        /// However the nights go, at most one alarm is open at a time, and alarms and clears
        /// alternate.
        #[test]
        fn raises_and_clears_alternate(
            values in prop::collection::vec(prop::option::weighted(0.9, 0i64..10_000), 0..80),
        ) {
            let steps = walk(&values, &NightRule::default());
            for (k, (_, step)) in steps.iter().enumerate() {
                let raise = matches!(step, Step::Raise { .. });
                prop_assert_eq!(raise, k % 2 == 0);
                if let Step::Raise { baseline, threshold, observed, .. } = step {
                    prop_assert!(observed > threshold && threshold > baseline);
                }
            }
        }
    }
}
