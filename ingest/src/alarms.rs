//! Meter alarms as a state machine over a meter's newest readings: which alarms a reading raises
//! and which it clears. Pure; the writer stores the transitions (with an outbox event each) in the
//! same transaction as the reading.
//!
//! - Device alarms (leak, burst, backflow, tamper, dry, low battery, device error) follow the
//!   flags of the newest reading: raised when a flag appears, cleared when it is gone.
//! - No data: raised by a periodic check (see `scan`), cleared by the next reading.
//! - Continuous flow: when readings come at most `max_interval` apart and every interval since
//!   `since` used water, for at least `threshold`: a dripping tap or a leak behind the meter.
//!   Daily readings cannot show it and never raise it.
//!
//! Late readings (older than the newest) never change alarm state.

use chrono::{DateTime, Duration, Utc};
use ebok_common::domain::ReadingFlags;

pub use ebok_common::domain::AlarmKind;

/// A kind's bit in an [`AlarmSet`].
fn bit(kind: AlarmKind) -> u16 {
    1 << (kind as u16)
}

/// The set of a meter's open (raised or acknowledged) alarms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlarmSet(u16);

impl AlarmSet {
    pub fn contains(self, kind: AlarmKind) -> bool {
        self.0 & bit(kind) != 0
    }

    pub fn insert(&mut self, kind: AlarmKind) {
        self.0 |= bit(kind);
    }

    pub fn remove(&mut self, kind: AlarmKind) {
        self.0 &= !bit(kind);
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<AlarmKind> for AlarmSet {
    fn from_iter<I: IntoIterator<Item = AlarmKind>>(iter: I) -> Self {
        let mut set = AlarmSet::default();
        for kind in iter {
            set.insert(kind);
        }
        set
    }
}

/// A change of a meter's alarms, at the instant of the reading that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Raise(AlarmKind),
    Clear(AlarmKind),
}

#[derive(Debug, Clone, Copy)]
pub struct FlowRules {
    /// Readings further apart than this are not interval data; the run of flow restarts.
    pub max_interval: Duration,
    /// Uninterrupted flow for this long raises "continuous flow".
    pub threshold: Duration,
}

impl Default for FlowRules {
    fn default() -> Self {
        FlowRules {
            max_interval: Duration::hours(2),
            threshold: Duration::hours(24),
        }
    }
}

/// Everything the alarm machine keeps per meter between readings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlarmState {
    pub open: AlarmSet,
    /// Start of the current run of intervals that all used water, when readings are interval
    /// data; `None` when unknown or the last interval used nothing.
    pub flowing_since: Option<DateTime<Utc>>,
}

/// The transitions a newest reading causes, and the state after it. `previous_at` is the instant
/// of the meter's previous newest reading, `consumption` the litres since then (`None` when the
/// register went down or there was no previous reading).
pub fn on_newest_reading(
    state: AlarmState,
    flags: ReadingFlags,
    at: DateTime<Utc>,
    previous_at: Option<DateTime<Utc>>,
    consumption: Option<i64>,
    rules: &FlowRules,
) -> (AlarmState, Vec<Transition>) {
    let mut next = state;
    let mut transitions = Vec::new();
    for (kind, flag) in AlarmKind::DEVICE {
        let shown = flags.contains(flag);
        if shown && !next.open.contains(kind) {
            next.open.insert(kind);
            transitions.push(Transition::Raise(kind));
        } else if !shown && next.open.contains(kind) {
            next.open.remove(kind);
            transitions.push(Transition::Clear(kind));
        }
    }
    if next.open.contains(AlarmKind::NoData) {
        next.open.remove(AlarmKind::NoData);
        transitions.push(Transition::Clear(AlarmKind::NoData));
    }

    let interval = previous_at.map(|p| at - p);
    next.flowing_since = match (interval, consumption) {
        (Some(gap), Some(used)) if gap <= rules.max_interval && used > 0 => Some(
            state
                .flowing_since
                .unwrap_or(previous_at.expect("interval has a start")),
        ),
        _ => None,
    };
    let flowing_long = next
        .flowing_since
        .is_some_and(|since| at - since >= rules.threshold);
    if flowing_long && !next.open.contains(AlarmKind::ContinuousFlow) {
        next.open.insert(AlarmKind::ContinuousFlow);
        transitions.push(Transition::Raise(AlarmKind::ContinuousFlow));
    } else if next.flowing_since.is_none()
        && consumption == Some(0)
        && next.open.contains(AlarmKind::ContinuousFlow)
    {
        // Only a real pause (an interval without flow) ends a continuous-flow alarm; a gap in
        // the data says nothing either way.
        next.open.remove(AlarmKind::ContinuousFlow);
        transitions.push(Transition::Clear(AlarmKind::ContinuousFlow));
    }
    (next, transitions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        "2026-11-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::hours(h)
    }

    fn run(readings: &[(i64, i64, i32)]) -> (AlarmState, Vec<(i64, Transition)>) {
        let mut state = AlarmState::default();
        let mut all = Vec::new();
        let mut previous: Option<(i64, i64)> = None;
        for &(hour, litres, flags) in readings {
            let consumption = previous.map(|(_, l)| litres - l).filter(|c| *c >= 0);
            let (next, transitions) = on_newest_reading(
                state,
                ReadingFlags(flags),
                t(hour),
                previous.map(|(h, _)| t(h)),
                consumption,
                &FlowRules::default(),
            );
            all.extend(transitions.into_iter().map(|tr| (hour, tr)));
            state = next;
            previous = Some((hour, litres));
        }
        (state, all)
    }

    #[test]
    fn a_leak_seen_in_many_readings_is_one_alarm() {
        let leak = ReadingFlags::LEAK;
        let (state, transitions) =
            run(&[(0, 0, 0), (24, 100, leak), (48, 300, leak), (72, 500, leak)]);
        assert_eq!(transitions, [(24, Transition::Raise(AlarmKind::Leak))]);
        assert!(state.open.contains(AlarmKind::Leak));
    }

    #[test]
    fn a_flag_that_disappears_clears_its_alarm() {
        let (_, transitions) = run(&[(0, 0, ReadingFlags::DRY), (24, 0, 0)]);
        assert_eq!(
            transitions,
            [
                (0, Transition::Raise(AlarmKind::Dry)),
                (24, Transition::Clear(AlarmKind::Dry))
            ]
        );
    }

    #[test]
    fn every_device_flag_raises_its_own_kind() {
        for (kind, flag) in AlarmKind::DEVICE {
            let (_, transitions) = run(&[(0, 0, flag)]);
            assert_eq!(transitions, [(0, Transition::Raise(kind))]);
        }
    }

    #[test]
    fn hourly_flow_without_pause_for_a_day_raises_continuous_flow_once() {
        let readings: Vec<(i64, i64, i32)> = (0..=30).map(|h| (h, h * 7, 0)).collect();
        let (state, transitions) = run(&readings);
        assert_eq!(
            transitions,
            [(24, Transition::Raise(AlarmKind::ContinuousFlow))]
        );
        assert!(state.open.contains(AlarmKind::ContinuousFlow));
    }

    #[test]
    fn an_hour_without_flow_resets_and_clears_continuous_flow() {
        let mut readings: Vec<(i64, i64, i32)> = (0..=25).map(|h| (h, h * 7, 0)).collect();
        readings.push((26, 25 * 7, 0)); // no water in the 26th hour
        readings.extend((27..=40).map(|h| (h, (h - 1) * 7, 0)));
        let (state, transitions) = run(&readings);
        assert_eq!(
            transitions,
            [
                (24, Transition::Raise(AlarmKind::ContinuousFlow)),
                (26, Transition::Clear(AlarmKind::ContinuousFlow))
            ]
        );
        assert!(!state.open.contains(AlarmKind::ContinuousFlow));
    }

    #[test]
    fn daily_readings_never_raise_continuous_flow() {
        let readings: Vec<(i64, i64, i32)> = (0..30).map(|d| (d * 24, d * 500, 0)).collect();
        let (_, transitions) = run(&readings);
        assert!(transitions.is_empty(), "{transitions:?}");
    }

    #[test]
    fn the_next_reading_clears_no_data() {
        let state = AlarmState {
            open: [AlarmKind::NoData].into_iter().collect(),
            flowing_since: None,
        };
        let (next, transitions) = on_newest_reading(
            state,
            ReadingFlags::default(),
            t(0),
            None,
            None,
            &FlowRules::default(),
        );
        assert_eq!(transitions, [Transition::Clear(AlarmKind::NoData)]);
        assert!(next.open.is_empty());
    }

    #[test]
    fn kinds_round_trip_through_their_database_names() {
        for kind in AlarmKind::ALL {
            assert_eq!(AlarmKind::parse(kind.as_str()), Some(kind));
        }
    }
}
