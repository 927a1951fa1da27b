//! What a batch writes, decided before its transaction starts: a pure function of the meters'
//! states, the batch, the clock passed in and the path late readings take. No I/O.
//!
//! Each item of the batch lands in exactly one place of the [`Plan`]:
//! - a reading to store: copied ([`Plan::copied`], the fast path) or inserted carefully
//!   ([`Plan::careful`], `INSERT … ON CONFLICT DO NOTHING`, whose misses the database then tells
//!   apart as duplicates or conflicts);
//! - a duplicate settled here (the same meter, instant and value again in the batch, or the
//!   meter's newest reading again): counted in [`Plan::duplicates_in_batch`];
//! - a conflict settled here (another value for an instant the batch already holds): the kept
//!   row is flagged, the offered value becomes a rejection, counted in
//!   [`Plan::conflicts_in_batch`];
//! - a rejection with its reason (validation, or the source's own rejection);
//! - a quarantined reading.
//!
//! The plan also carries what the batch owes the read models ([`Pending`]): each meter's newest
//! reading for `meter_latest_readings` (it only moves forward), and the Warsaw days to refold in
//! `meter_day_readings`: the day a newer reading closed, the day it opened (for the day's first
//! reading), and the day of each late reading that is copied. A copied reading's day is
//! therefore either owed a fold here or is its meter's open day, carried by the pending latest
//! reading (the property tests below check both).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use ebok_common::domain::time::local_day;
use ebok_common::domain::{ReadingFlags, ReadingSource};

use super::folds::{LatestRow, Pending};
use super::{Provenance, Work};
use crate::alarms::{self, AlarmState, FlowRules, Transition};
use crate::reading::{RawReading, RejectReason, Rejection};
use crate::validate::{self, MeterInfo, Newest, Rules, Verdict};

/// What the writer keeps per meter between batches.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct MeterState {
    pub newest: Option<Newest>,
    pub alarms: AlarmState,
}

/// The rules a plan applies (from [`super::WriterConfig`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Policy {
    pub rules: Rules,
    pub flow: FlowRules,
    /// Meters whose previous reading is older than this may carry a "no data" alarm, which their
    /// next reading clears.
    pub no_data_after: chrono::Duration,
}

/// Which readings take the careful path (`INSERT … ON CONFLICT`) instead of the COPY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Paths {
    /// Everything new or late is copied; a late reading that turns out stored already makes the
    /// COPY fail, and the batch is planned again with [`Paths::AllCareful`].
    Copy,
    /// Late readings go the careful way (for a while after one was found stored already).
    LateCareful,
    /// Every reading goes the careful way (the retry after a COPY met a stored reading).
    AllCareful,
}

/// A reading row on its way to `meter_readings`.
#[derive(Debug, Clone)]
pub(super) struct Row {
    pub meter_id: i64,
    pub utility_id: i64,
    pub measured_at: DateTime<Utc>,
    pub litres: i64,
    pub source: ReadingSource,
    pub flags: i32,
    pub from: Arc<Provenance>,
    pub meter_ref: String,
}

#[derive(Debug)]
pub(super) struct RejectRow {
    pub utility_id: Option<i64>,
    pub meter_id: Option<i64>,
    pub from: Arc<Provenance>,
    pub rejection: Rejection,
}

#[derive(Debug)]
pub(super) struct QuarantineRow {
    pub utility_id: Option<i64>,
    pub from: Arc<Provenance>,
    pub reading: RawReading,
    pub detail: String,
}

/// Everything a batch will write, decided before the transaction starts.
#[derive(Debug, Default)]
pub(super) struct Plan {
    /// Readings for the COPY; only [`Plan::copy`] adds to them.
    copied: Vec<Row>,
    pub careful: Vec<Row>,
    pub rejections: Vec<RejectRow>,
    pub quarantine: Vec<QuarantineRow>,
    /// (utility, meter, instant, transition)
    pub transitions: Vec<(i64, i64, DateTime<Utc>, Transition)>,
    /// Meters that were silent long enough to carry a "no data" alarm: (utility, meter, instant).
    pub maybe_no_data: Vec<(i64, i64, DateTime<Utc>)>,
    /// The meters' states after the batch (only the meters whose newest reading moved).
    pub states: HashMap<i64, MeterState>,
    /// What the batch owes `meter_latest_readings` and `meter_day_readings`.
    pub pending: Pending,
    pub duplicates_in_batch: u64,
    pub conflicts_in_batch: u64,
}

impl Plan {
    /// The readings for the COPY.
    pub fn copied(&self) -> &[Row] {
        &self.copied
    }

    /// Adds a reading to the COPY, with the day fold it owes now (a late reading's day; `None`
    /// for a newest reading, whose day is the open day: owed when the reading opens it and
    /// again when a newer reading closes it, and carried by the latest reading meanwhile).
    fn copy(&mut self, row: Row, refold: Option<NaiveDate>) {
        if let Some(day) = refold {
            self.pending.days.insert((row.meter_id, day));
        }
        self.copied.push(row);
    }
}

/// Decides what `batch` writes, given the meters' states before it (`states`; a meter missing
/// there has no reading yet) and the clock (`now`, for readings from the future).
pub(super) fn plan(
    states: &HashMap<i64, MeterState>,
    batch: &[Work],
    now: DateTime<Utc>,
    paths: Paths,
    policy: &Policy,
) -> Plan {
    let mut plan = Plan::default();
    let mut readings: Vec<(&Arc<MeterInfo>, &RawReading, &Arc<Provenance>)> = Vec::new();
    for work in batch {
        match work {
            Work::Reading {
                meter,
                reading,
                from,
                ..
            } => readings.push((meter, reading, from)),
            Work::Quarantine {
                utility_id,
                reading,
                detail,
                from,
                ..
            } => plan.quarantine.push(QuarantineRow {
                utility_id: *utility_id,
                from: from.clone(),
                reading: reading.clone(),
                detail: detail.clone(),
            }),
            Work::Reject {
                utility_id,
                rejection,
                from,
                ..
            } => plan.rejections.push(RejectRow {
                utility_id: *utility_id,
                meter_id: None,
                from: from.clone(),
                rejection: rejection.clone(),
            }),
        }
    }
    // Each meter's readings in time order, so a batch of interval readings validates as a
    // sequence instead of as late arrivals.
    readings.sort_by_key(|(m, r, _)| (m.id, r.measured_at));

    let mut previous_key: Option<(i64, DateTime<Utc>)> = None;
    for (meter, reading, from) in readings {
        let state = plan
            .states
            .get(&meter.id)
            .copied()
            .or_else(|| states.get(&meter.id).copied())
            .unwrap_or_default();
        let key = (meter.id, reading.measured_at);
        if previous_key == Some(key)
            && let Some(kept) = plan
                .copied
                .iter_mut()
                .chain(plan.careful.iter_mut())
                .rev()
                .find(|r| r.meter_id == meter.id && r.measured_at == reading.measured_at)
        {
            // The same meter and instant twice in this batch: the first one stays.
            if kept.litres == reading.litres {
                plan.duplicates_in_batch += 1;
            } else {
                kept.flags |= ReadingFlags::CONFLICT;
                plan.conflicts_in_batch += 1;
                plan.rejections
                    .push(conflict(meter, reading, from, kept.litres));
            }
            continue;
        }
        previous_key = Some(key);
        match validate::validate(meter, state.newest, reading, now, &policy.rules) {
            Verdict::Reject(reason, detail) => {
                let mut rejection =
                    Rejection::new(reason, detail).with_meter(reading.meter.clone());
                rejection.measured_at = Some(reading.measured_at);
                plan.rejections.push(RejectRow {
                    utility_id: Some(meter.utility_id),
                    meter_id: Some(meter.id),
                    from: from.clone(),
                    rejection,
                });
            }
            Verdict::Store {
                flags,
                newest,
                consumption,
            } => {
                let row = Row {
                    meter_id: meter.id,
                    utility_id: meter.utility_id,
                    measured_at: reading.measured_at,
                    litres: reading.litres,
                    source: reading.source,
                    flags: flags.0,
                    from: from.clone(),
                    meter_ref: reading.meter.as_str().to_string(),
                };
                if !newest {
                    let repeats_newest = state
                        .newest
                        .filter(|n| n.measured_at == reading.measured_at);
                    match repeats_newest {
                        // The newest reading again (a repeater, a second receiver): the same
                        // value is settled here, another value is a conflict.
                        Some(n) if n.litres == reading.litres => plan.duplicates_in_batch += 1,
                        Some(_) => plan.careful.push(row),
                        // A late reading is almost never stored already: copy it, and let a
                        // unique violation send the batch down the careful path.
                        None if paths == Paths::Copy => {
                            plan.copy(row, Some(local_day(reading.measured_at)));
                        }
                        None => plan.careful.push(row),
                    }
                    continue;
                }
                let previous_at = state.newest.map(|n| n.measured_at);
                // A newest reading on a later day closes the previous newest reading's day and
                // opens its own: fold both (the closed day's last reading, the open day's first,
                // which the day rule needs at the midnight between them).
                let opened = local_day(reading.measured_at);
                match previous_at.map(local_day) {
                    Some(closed) if closed < opened => {
                        plan.pending.days.insert((meter.id, closed));
                        plan.pending.days.insert((meter.id, opened));
                    }
                    None => {
                        plan.pending.days.insert((meter.id, opened));
                    }
                    Some(_) => {}
                }
                let silent_since = previous_at.unwrap_or(DateTime::<Utc>::MIN_UTC);
                if reading.measured_at - silent_since >= policy.no_data_after {
                    plan.maybe_no_data
                        .push((meter.utility_id, meter.id, reading.measured_at));
                }
                // A zone boundary meter always flows: no continuous-flow alarm for it.
                let flow = if meter.network { None } else { consumption };
                let (alarms, transitions) = alarms::on_newest_reading(
                    state.alarms,
                    flags,
                    reading.measured_at,
                    previous_at,
                    flow,
                    &policy.flow,
                );
                for t in transitions {
                    plan.transitions
                        .push((meter.utility_id, meter.id, reading.measured_at, t));
                }
                plan.states.insert(
                    meter.id,
                    MeterState {
                        newest: Some(Newest {
                            measured_at: reading.measured_at,
                            litres: reading.litres,
                        }),
                        alarms,
                    },
                );
                plan.pending.latest.insert(
                    meter.id,
                    LatestRow {
                        measured_at: reading.measured_at,
                        litres: reading.litres,
                        source: reading.source,
                        flags: flags.0,
                    },
                );
                if paths == Paths::AllCareful {
                    plan.careful.push(row);
                } else {
                    plan.copy(row, None);
                }
            }
        }
    }
    plan
}

fn conflict(
    meter: &MeterInfo,
    reading: &RawReading,
    from: &Arc<Provenance>,
    kept: i64,
) -> RejectRow {
    let mut rejection = Rejection::new(
        RejectReason::ConflictingDuplicate,
        format!(
            "{} litres offered for an instant that also came with {kept}",
            reading.litres
        ),
    )
    .with_meter(reading.meter.clone());
    rejection.measured_at = Some(reading.measured_at);
    RejectRow {
        utility_id: Some(meter.utility_id),
        meter_id: Some(meter.id),
        from: from.clone(),
        rejection,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};
    use std::time::Instant;

    use chrono::Duration;
    use ebok_common::domain::Register;
    use proptest::prelude::*;

    use super::*;
    use crate::pipeline::Origin;
    use crate::reading::MeterRef;

    /// The writer's clock in these tests: a little after the instants readings are taken at.
    fn now() -> DateTime<Utc> {
        "2026-11-20T12:00:00Z".parse().unwrap()
    }

    /// Instants around three Warsaw midnights, often equal, so that batches repeat instants,
    /// close days and bring late readings; some lie in the future (rejected).
    fn instant(hours: i64) -> DateTime<Utc> {
        now() - Duration::hours(72) + Duration::hours(hours)
    }

    fn meter(id: i64) -> Arc<MeterInfo> {
        Arc::new(MeterInfo {
            id,
            utility_id: 1,
            register: Register::new(99_999_999).unwrap(),
            installed_at: Some("2024-01-01T00:00:00Z".parse().unwrap()),
            removed_at: None,
            max_flow_litres_per_hour: MeterInfo::max_flow_for_diameter(Some(15)),
            network: false,
        })
    }

    fn from() -> Arc<Provenance> {
        Arc::new(Provenance {
            origin: Origin::Quarantine,
            received: Instant::now(),
        })
    }

    fn raw(meter: i64, hours: i64, litres: i64) -> RawReading {
        RawReading {
            meter: MeterRef::Serial(format!("M{meter}")),
            measured_at: instant(hours),
            litres,
            device_flags: ReadingFlags::default(),
            source: ReadingSource::Radio,
        }
    }

    /// An item as generated: (kind, meter, hour, litres); kind 0–7 a reading, 8 quarantined,
    /// 9 rejected by its source.
    type Item = (u8, i64, i64, i64);

    fn work((kind, meter_id, hours, litres): Item) -> Work {
        match kind {
            0..=7 => Work::Reading {
                meter: meter(meter_id),
                reading: raw(meter_id, hours, litres),
                from: from(),
                ack: None,
            },
            8 => Work::Quarantine {
                utility_id: Some(1),
                reading: raw(meter_id, hours, litres),
                detail: "unknown meter".into(),
                from: from(),
                ack: None,
            },
            _ => Work::Reject {
                utility_id: Some(1),
                rejection: Rejection::new(RejectReason::MalformedPayload, "not JSON"),
                from: from(),
                ack: None,
            },
        }
    }

    fn item() -> impl Strategy<Value = Item> {
        // Litres from a few values (equal values make duplicates), sometimes negative
        // (rejected); hours up to 80 (the last ones in the future, rejected).
        (
            0u8..10,
            1i64..4,
            0i64..80,
            prop_oneof![9 => (0i64..4).prop_map(|k| 1_000 + 10 * k), 1 => Just(-1i64)],
        )
    }

    fn batch() -> impl Strategy<Value = Vec<Item>> {
        prop::collection::vec(item(), 0..40)
    }

    /// Each meter's newest reading before the batch (none for some).
    fn states() -> impl Strategy<Value = HashMap<i64, MeterState>> {
        prop::collection::vec(prop::option::of((0i64..72, 0i64..4)), 3).prop_map(|newest| {
            newest
                .into_iter()
                .zip(1i64..)
                .filter_map(|(n, id)| {
                    n.map(|(hours, k)| {
                        let state = MeterState {
                            newest: Some(Newest {
                                measured_at: instant(hours),
                                litres: 1_000 + 10 * k,
                            }),
                            alarms: AlarmState::default(),
                        };
                        (id, state)
                    })
                })
                .collect()
        })
    }

    fn paths() -> impl Strategy<Value = Paths> {
        prop_oneof![
            Just(Paths::Copy),
            Just(Paths::LateCareful),
            Just(Paths::AllCareful)
        ]
    }

    fn policy() -> Policy {
        Policy {
            rules: Rules::default(),
            flow: FlowRules::default(),
            no_data_after: Duration::days(1),
        }
    }

    fn newest_of(states: &HashMap<i64, MeterState>, meter: i64) -> Option<Newest> {
        states.get(&meter).and_then(|s| s.newest)
    }

    fn rows(plan: &Plan) -> impl Iterator<Item = &Row> {
        plan.copied().iter().chain(&plan.careful)
    }

    proptest! {
        /// Stored (copied or inserted carefully), duplicate, conflict, rejected or quarantined:
        /// one fate per item. Readings of one meter and instant are told apart by count: at
        /// most one of them is stored, each other one is a duplicate of it (or of the meter's
        /// newest reading) or a rejection naming that instant.
        #[test]
        fn every_reading_lands_in_exactly_one_outcome(
            states in states(),
            items in batch(),
            paths in paths(),
        ) {
            let batch: Vec<Work> = items.iter().copied().map(work).collect();
            let plan = plan(&states, &batch, now(), paths, &policy());

            let quarantined = items.iter().filter(|i| i.0 == 8).count();
            let rejected_by_source = items.iter().filter(|i| i.0 == 9).count();
            prop_assert_eq!(plan.quarantine.len(), quarantined);
            prop_assert_eq!(
                plan.rejections.iter().filter(|r| r.meter_id.is_none()).count(),
                rejected_by_source
            );

            let mut groups: BTreeMap<(i64, DateTime<Utc>), Vec<i64>> = BTreeMap::new();
            for &(kind, meter, hours, litres) in &items {
                if kind <= 7 {
                    groups.entry((meter, instant(hours))).or_default().push(litres);
                }
            }
            let mut stored_keys = HashSet::new();
            for row in rows(&plan) {
                prop_assert!(
                    stored_keys.insert((row.meter_id, row.measured_at)),
                    "a meter and instant stored twice: {:?}", row
                );
            }
            let mut duplicates = 0;
            for ((meter, at), litres) in &groups {
                let stored: Vec<&Row> = rows(&plan)
                    .filter(|r| r.meter_id == *meter && r.measured_at == *at)
                    .collect();
                let refused = plan
                    .rejections
                    .iter()
                    .filter(|r| {
                        r.meter_id == Some(*meter) && r.rejection.measured_at == Some(*at)
                    })
                    .count();
                for row in &stored {
                    prop_assert!(litres.contains(&row.litres), "stored a value never offered");
                }
                let settled = stored.len() + refused;
                prop_assert!(settled <= litres.len(), "{} fates for {} readings", settled, litres.len());
                let repeats = litres.len() - settled;
                if repeats > 0 {
                    let newest = newest_of(&states, *meter).filter(|n| n.measured_at == *at);
                    prop_assert!(
                        !stored.is_empty() || newest.is_some(),
                        "a duplicate of nothing stored"
                    );
                }
                duplicates += repeats as u64;
            }
            prop_assert_eq!(plan.duplicates_in_batch, duplicates);
            let conflicts = plan
                .rejections
                .iter()
                .filter(|r| r.meter_id.is_some())
                .filter(|r| r.rejection.reason == RejectReason::ConflictingDuplicate)
                .count();
            prop_assert_eq!(plan.conflicts_in_batch, conflicts as u64);
        }

        /// Over any run of batches, on any paths, a meter's newest reading never moves back, and
        /// the pending latest reading is always the meter's newest.
        #[test]
        fn a_meters_newest_reading_only_moves_forward(
            mut states in states(),
            batches in prop::collection::vec((batch(), paths()), 1..6),
        ) {
            let mut pending = Pending::default();
            for (items, paths) in batches {
                let batch: Vec<Work> = items.into_iter().map(work).collect();
                let plan = plan(&states, &batch, now(), paths, &policy());
                for (meter, after) in &plan.states {
                    let after = after.newest.expect("a moved meter has a newest reading");
                    if let Some(before) = newest_of(&states, *meter) {
                        prop_assert!(after.measured_at > before.measured_at);
                    }
                    let stored_newest = rows(&plan)
                        .filter(|r| r.meter_id == *meter)
                        .map(|r| r.measured_at)
                        .max();
                    prop_assert_eq!(stored_newest, Some(after.measured_at));
                }
                states.extend(plan.states);
                pending.merge(plan.pending);
                for (meter, latest) in &pending.latest {
                    let newest = newest_of(&states, *meter).expect("latest of a known meter");
                    prop_assert_eq!(latest.measured_at, newest.measured_at);
                    prop_assert_eq!(latest.litres, newest.litres);
                }
            }
        }

        /// The COPY stands the day trigger aside, so whatever it copies must reach
        /// `meter_day_readings` through the writer: after any run of batches, each copied
        /// reading's day is owed a fold, or is its meter's open day, carried by the pending
        /// latest reading.
        #[test]
        fn every_copied_reading_owes_its_day_or_is_the_open_day_of_the_latest_reading(
            mut states in states(),
            batches in prop::collection::vec((batch(), paths()), 1..6),
        ) {
            let mut pending = Pending::default();
            let mut copied: Vec<Row> = Vec::new();
            for (items, paths) in batches {
                let batch: Vec<Work> = items.into_iter().map(work).collect();
                let plan = plan(&states, &batch, now(), paths, &policy());
                if paths == Paths::AllCareful {
                    prop_assert!(plan.copied().is_empty());
                }
                for row in plan.copied() {
                    let before = newest_of(&states, row.meter_id);
                    if paths == Paths::LateCareful {
                        prop_assert!(before.is_none_or(|n| n.measured_at < row.measured_at));
                    }
                }
                copied.extend(plan.copied().iter().cloned());
                states.extend(plan.states);
                pending.merge(plan.pending);
            }
            for row in &copied {
                let day = local_day(row.measured_at);
                let owed = pending.days.contains(&(row.meter_id, day));
                let open = pending.latest.get(&row.meter_id).is_some_and(|l| {
                    local_day(l.measured_at) == day && l.measured_at >= row.measured_at
                });
                prop_assert!(owed || open, "{:?} is neither owed nor open", row);
            }
        }

        /// A newer reading on a later day closes the day of the meter's previous newest
        /// reading, whichever path it takes: that day is owed a fold.
        #[test]
        fn the_days_a_newer_reading_closes_and_opens_are_owed_a_fold(
            states in states(),
            items in batch(),
            paths in paths(),
        ) {
            let batch: Vec<Work> = items.into_iter().map(work).collect();
            let plan = plan(&states, &batch, now(), paths, &policy());
            for (meter, after) in &plan.states {
                let after = after.newest.expect("moved");
                let opened = local_day(after.measured_at);
                match newest_of(&states, *meter) {
                    Some(before) if local_day(before.measured_at) < opened => {
                        prop_assert!(plan.pending.days.contains(&(*meter, local_day(before.measured_at))));
                        prop_assert!(plan.pending.days.contains(&(*meter, opened)));
                    }
                    // A meter's first reading opens its day.
                    None => prop_assert!(plan.pending.days.contains(&(*meter, opened))),
                    Some(_) => {}
                }
            }
        }
    }

    #[test]
    fn a_zone_inlet_flowing_day_and_night_raises_no_continuous_flow_a_household_does() {
        let hourly = |meter: Arc<MeterInfo>| -> Vec<Work> {
            (0..30)
                .map(|h| Work::Reading {
                    meter: meter.clone(),
                    reading: raw(meter.id, h, 1_000 + 50 * h),
                    from: from(),
                    ack: None,
                })
                .collect()
        };
        let household = plan(
            &HashMap::new(),
            &hourly(meter(1)),
            now(),
            Paths::Copy,
            &policy(),
        );
        assert!(
            household
                .transitions
                .iter()
                .any(|t| t.3 == Transition::Raise(alarms::AlarmKind::ContinuousFlow))
        );
        let inlet = Arc::new(MeterInfo {
            network: true,
            ..(*meter(2)).clone()
        });
        let inlet = plan(
            &HashMap::new(),
            &hourly(inlet),
            now(),
            Paths::Copy,
            &policy(),
        );
        assert_eq!(inlet.copied().len(), 30);
        assert!(inlet.transitions.is_empty(), "{:?}", inlet.transitions);
    }

    #[test]
    fn interval_readings_of_one_batch_validate_as_a_sequence_not_as_late_arrivals() {
        // Sent newest first; planned in time order, each one newer than the one before.
        let batch: Vec<Work> = [(0, 1, 30, 1_020), (0, 1, 20, 1_010), (0, 1, 10, 1_000)]
            .into_iter()
            .map(work)
            .collect();
        let plan = plan(&HashMap::new(), &batch, now(), Paths::Copy, &policy());
        let copied: Vec<i64> = plan.copied().iter().map(|r| r.litres).collect();
        assert_eq!(copied, [1_000, 1_010, 1_020]);
        assert!(plan.careful.is_empty() && plan.rejections.is_empty());
        assert_eq!(plan.pending.latest[&1].litres, 1_020);
    }

    #[test]
    fn another_value_for_an_instant_in_the_same_batch_keeps_the_first_and_flags_it() {
        let batch: Vec<Work> = [(0, 1, 10, 1_000), (0, 1, 10, 1_030), (0, 1, 10, 1_000)]
            .into_iter()
            .map(work)
            .collect();
        let plan = plan(&HashMap::new(), &batch, now(), Paths::Copy, &policy());
        assert_eq!(plan.copied().len(), 1);
        assert_eq!(plan.copied()[0].litres, 1_000);
        assert_ne!(plan.copied()[0].flags & ReadingFlags::CONFLICT, 0);
        assert_eq!((plan.conflicts_in_batch, plan.duplicates_in_batch), (1, 1));
        assert_eq!(
            plan.rejections[0].rejection.reason,
            RejectReason::ConflictingDuplicate
        );
    }

    #[test]
    fn the_newest_reading_again_with_its_value_is_a_duplicate_and_with_another_goes_carefully() {
        let states = HashMap::from([(
            1,
            MeterState {
                newest: Some(Newest {
                    measured_at: instant(10),
                    litres: 1_000,
                }),
                alarms: AlarmState::default(),
            },
        )]);
        let same = [work((0, 1, 10, 1_000))];
        let plan_same = plan(&states, &same, now(), Paths::Copy, &policy());
        assert_eq!(plan_same.duplicates_in_batch, 1);
        assert!(plan_same.copied().is_empty() && plan_same.careful.is_empty());

        let other = [work((0, 1, 10, 1_010))];
        let plan_other = plan(&states, &other, now(), Paths::Copy, &policy());
        assert_eq!(plan_other.careful.len(), 1);
        assert!(plan_other.copied().is_empty());
    }
}
