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
//! `meter_day_readings`: the day a newer reading closed, and the day of each late reading that is
//! copied. A copied reading's day is therefore either owed a fold here or is its meter's open day,
//! carried by the pending latest reading (the property tests below check both).

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
    /// for a newest reading, whose day is the open day, carried by the latest reading and owed
    /// when a newer reading closes it).
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
                // The previous newest reading's day is closed once a newer one is on a later
                // day: fold it (the open day is the latest reading).
                if let Some(previous) = previous_at {
                    let closed = local_day(previous);
                    if closed < local_day(reading.measured_at) {
                        plan.pending.days.insert((meter.id, closed));
                    }
                }
                let silent_since = previous_at.unwrap_or(DateTime::<Utc>::MIN_UTC);
                if reading.measured_at - silent_since >= policy.no_data_after {
                    plan.maybe_no_data
                        .push((meter.utility_id, meter.id, reading.measured_at));
                }
                let (alarms, transitions) = alarms::on_newest_reading(
                    state.alarms,
                    flags,
                    reading.measured_at,
                    previous_at,
                    consumption,
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
