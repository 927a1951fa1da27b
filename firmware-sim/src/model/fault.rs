//! Faults and meter events: the configurable rates ([`FaultRates`]), the episodes a meter lives
//! through (leaks, bursts, reverse flow, magnetic tamper, dry pipe), the status flags a meter
//! reports ([`StatusFlags`]) and meter replacement ([`Replacement`]).
//!
//! Episodes are scheduled without state: time is cut into windows of [`WINDOW_DAYS`] local days
//! (aligned on 1970-01-01, independent of the fleet start) and each (meter, fault kind, window)
//! hashes to "no episode" or to one episode starting inside the window. Finding the episodes
//! around an instant therefore costs a few hashes per fault kind, and at most one episode of a
//! kind starts in a window (rates far above one per window saturate).
//!
//! Effects on the register: leaks and bursts add a constant flow (litres per hour) while they
//! last; dry pipe and reverse flow episodes stop all forward flow for whole hours of one local
//! day (the day's base volume is used in its other hours); a reverse flow episode also runs the
//! register backwards by a few tens of litres at most; tamper and low battery only set flags.
//! Transmission faults (gaps, duplicates, late sends) are in the `transmit` module.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::calendar::{DAY, HOUR, day_from_number, day_start_ts, hours_in_day, utc};
use super::fleet::{RadioId, SerialNumber};
use super::noise::{Draws, Purpose, hash, probability_within, threshold};

/// Length in days of the windows in which fault episodes are scheduled.
pub const WINDOW_DAYS: i64 = 32;

/// How often things go wrong. Episode rates are expected episodes per meter and year; at most
/// one episode of a kind starts in a [`WINDOW_DAYS`]-day window.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRates {
    /// Leaks: 2–60 l/h of continuous extra flow for 1–40 days until repaired.
    pub leaks_per_year: f64,
    /// Bursts: 300–2,500 l/h for 1–6 hours.
    pub bursts_per_year: f64,
    /// Reverse flow: 1–2 night hours without forward flow, the register running back 3–40 l.
    pub reverse_flows_per_year: f64,
    /// Magnetic tamper: a flag for 10 minutes to 4 days.
    pub tampers_per_year: f64,
    /// Dry pipe (supply interruption): 1–8 hours of one day without flow.
    pub dry_pipes_per_year: f64,
    /// Rate of the battery going low (once per meter, from then on until replacement).
    pub low_battery_per_year: f64,
    /// Rate of meter replacement (once per meter: new serial, register restarting near 0).
    pub replacements_per_year: f64,
    /// Fraction of meters whose register starts near its maximum and wraps within ~60 days.
    pub rollover_fraction: f64,
    /// Probability that a meter transmits nothing on a given day (tripled on low battery).
    pub gap_day_probability: f64,
    /// Probability that a transmission is received twice.
    pub duplicate_probability: f64,
    /// Probability that a transmission is sent late, after later measurements (out of order).
    pub late_probability: f64,
}

impl FaultRates {
    /// No faults at all: no episodes, no low battery, no replacement, no rollover meters, no
    /// transmission gaps, duplicates or late transmissions.
    pub fn none() -> Self {
        FaultRates {
            leaks_per_year: 0.0,
            bursts_per_year: 0.0,
            reverse_flows_per_year: 0.0,
            tampers_per_year: 0.0,
            dry_pipes_per_year: 0.0,
            low_battery_per_year: 0.0,
            replacements_per_year: 0.0,
            rollover_fraction: 0.0,
            gap_day_probability: 0.0,
            duplicate_probability: 0.0,
            late_probability: 0.0,
        }
    }

    /// Whether no fault of any kind can happen.
    pub fn is_none(&self) -> bool {
        [
            self.leaks_per_year,
            self.bursts_per_year,
            self.reverse_flows_per_year,
            self.tampers_per_year,
            self.dry_pipes_per_year,
            self.low_battery_per_year,
            self.replacements_per_year,
            self.rollover_fraction,
            self.gap_day_probability,
            self.duplicate_probability,
            self.late_probability,
        ]
        .iter()
        .all(|&r| r.is_nan() || r <= 0.0)
    }

    pub(crate) fn per_year(&self, kind: FaultKind) -> f64 {
        match kind {
            FaultKind::Leak => self.leaks_per_year,
            FaultKind::Burst => self.bursts_per_year,
            FaultKind::ReverseFlow => self.reverse_flows_per_year,
            FaultKind::MagneticTamper => self.tampers_per_year,
            FaultKind::DryPipe => self.dry_pipes_per_year,
        }
    }
}

impl Default for FaultRates {
    /// Rates that give a 2,500-meter fleet a few dozen of each event in 90 days.
    fn default() -> Self {
        FaultRates {
            leaks_per_year: 0.25,
            bursts_per_year: 0.02,
            reverse_flows_per_year: 0.5,
            tampers_per_year: 0.03,
            dry_pipes_per_year: 0.3,
            low_battery_per_year: 0.03,
            replacements_per_year: 0.07,
            rollover_fraction: 0.004,
            gap_day_probability: 0.02,
            duplicate_probability: 0.01,
            late_probability: 0.005,
        }
    }
}

/// The kind of a fault episode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Leak,
    Burst,
    ReverseFlow,
    MagneticTamper,
    DryPipe,
}

impl FaultKind {
    /// All kinds, in a fixed order.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Leak,
        FaultKind::Burst,
        FaultKind::ReverseFlow,
        FaultKind::MagneticTamper,
        FaultKind::DryPipe,
    ];

    /// The status flag a meter raises during an episode of this kind.
    pub fn flag(self) -> StatusFlags {
        match self {
            FaultKind::Leak => StatusFlags::LEAK,
            FaultKind::Burst => StatusFlags::BURST,
            FaultKind::ReverseFlow => StatusFlags::REVERSE_FLOW,
            FaultKind::MagneticTamper => StatusFlags::TAMPER,
            FaultKind::DryPipe => StatusFlags::DRY,
        }
    }

    fn purpose(self) -> Purpose {
        match self {
            FaultKind::Leak => Purpose::Leak,
            FaultKind::Burst => Purpose::Burst,
            FaultKind::ReverseFlow => Purpose::ReverseFlow,
            FaultKind::MagneticTamper => Purpose::Tamper,
            FaultKind::DryPipe => Purpose::Dry,
        }
    }

    /// How many days after its start day an episode of this kind may still be running.
    fn max_span_days(self) -> i64 {
        match self {
            FaultKind::Leak => 41,
            FaultKind::Burst => 1,
            FaultKind::ReverseFlow | FaultKind::DryPipe => 0,
            FaultKind::MagneticTamper => 5,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A fault with its intensity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// Continuous extra flow.
    Leak { litres_per_hour: u32 },
    /// Very high flow.
    Burst { litres_per_hour: u32 },
    /// No forward flow; the register runs back by `litres` over the episode.
    ReverseFlow { litres: u32 },
    /// A magnet on the meter (flag only).
    MagneticTamper,
    /// Empty pipe: no flow (supply interruption).
    DryPipe,
}

impl Fault {
    /// The kind of this fault.
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Leak { .. } => FaultKind::Leak,
            Fault::Burst { .. } => FaultKind::Burst,
            Fault::ReverseFlow { .. } => FaultKind::ReverseFlow,
            Fault::MagneticTamper => FaultKind::MagneticTamper,
            Fault::DryPipe => FaultKind::DryPipe,
        }
    }
}

/// One fault episode of one meter: active on `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FaultEpisode {
    pub fault: Fault,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The internal form of an episode, in Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Episode {
    pub kind: FaultKind,
    pub start: i64,
    pub end: i64,
    /// Litres per hour for leaks and bursts, total litres for reverse flow, 0 otherwise.
    pub amount: u32,
}

impl Episode {
    pub(crate) fn overlaps(&self, from: i64, to: i64) -> bool {
        self.start < to && self.end > from
    }

    pub(crate) fn active_at(&self, t: i64) -> bool {
        self.start <= t && t < self.end
    }

    /// Leaks and bursts add flow.
    pub(crate) fn adds_flow(&self) -> bool {
        matches!(self.kind, FaultKind::Leak | FaultKind::Burst)
    }

    /// Dry pipe and reverse flow stop forward flow.
    pub(crate) fn stops_flow(&self) -> bool {
        matches!(self.kind, FaultKind::ReverseFlow | FaultKind::DryPipe)
    }

    /// Litres the register has run back by `t` (reverse flow only).
    pub(crate) fn backflow_until(&self, t: i64) -> u64 {
        if self.kind != FaultKind::ReverseFlow || t <= self.start {
            return 0;
        }
        let dur = (self.end - self.start).max(1);
        let done = (t - self.start).min(dur);
        (u64::from(self.amount) * done as u64) / dur as u64
    }

    pub(crate) fn to_public(self) -> FaultEpisode {
        let fault = match self.kind {
            FaultKind::Leak => Fault::Leak {
                litres_per_hour: self.amount,
            },
            FaultKind::Burst => Fault::Burst {
                litres_per_hour: self.amount,
            },
            FaultKind::ReverseFlow => Fault::ReverseFlow {
                litres: self.amount,
            },
            FaultKind::MagneticTamper => Fault::MagneticTamper,
            FaultKind::DryPipe => Fault::DryPipe,
        };
        FaultEpisode {
            fault,
            start: utc(self.start),
            end: utc(self.end),
        }
    }
}

/// Per-window episode thresholds of one fleet, by [`FaultKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EpisodeThresholds([u64; 5]);

impl EpisodeThresholds {
    pub(crate) fn new(rates: &FaultRates) -> Self {
        let mut t = [0; 5];
        for kind in FaultKind::ALL {
            t[kind.index()] =
                threshold(probability_within(rates.per_year(kind), WINDOW_DAYS as f64));
        }
        EpisodeThresholds(t)
    }

    fn get(&self, kind: FaultKind) -> u64 {
        self.0[kind.index()]
    }

    pub(crate) fn any(&self) -> bool {
        self.0.iter().any(|&t| t > 0)
    }
}

/// The episode of `kind` starting in `window`, if any.
pub(crate) fn episode_in_window(
    key: u64,
    kind: FaultKind,
    thresholds: &EpisodeThresholds,
    window: i64,
) -> Option<Episode> {
    let h = hash(key, kind.purpose(), window);
    if h >= thresholds.get(kind) {
        return None;
    }
    let mut d = Draws::new(h);
    let day = day_from_number(window * WINDOW_DAYS + d.below(WINDOW_DAYS as u64) as i64);
    let s = day_start_ts(day);
    let hours = u64::from(hours_in_day(day));
    let day_secs = hours * HOUR as u64;
    let (start, end, amount) = match kind {
        FaultKind::Leak => {
            let start = s + d.below(day_secs) as i64;
            let dur = d.log_uniform(DAY as f64, 40.0 * DAY as f64).round() as i64;
            let rate = d.log_uniform(2.0, 60.0).round() as u32;
            (start, start + dur, rate)
        }
        FaultKind::Burst => {
            let start = s + d.below(day_secs) as i64;
            let dur = d.range(HOUR as u64, 6 * HOUR as u64) as i64;
            let rate = d.log_uniform(300.0, 2_500.0).round() as u32;
            (start, start + dur, rate)
        }
        FaultKind::ReverseFlow => {
            // Night hours (the first four real hours of the day), whole hours.
            let first = d.below(4) as i64;
            let dur = d.range(1, 2) as i64;
            let litres = d.range(3, 40) as u32;
            (s + first * HOUR, s + (first + dur) * HOUR, litres)
        }
        FaultKind::MagneticTamper => {
            let start = s + d.below(day_secs) as i64;
            let dur = d.log_uniform(600.0, 4.0 * DAY as f64).round() as i64;
            (start, start + dur, 0)
        }
        FaultKind::DryPipe => {
            let dur = d.range(1, 8);
            let first = d.below(hours - dur + 1) as i64;
            (s + first * HOUR, s + (first + dur as i64) * HOUR, 0)
        }
    };
    Some(Episode {
        kind,
        start,
        end: end.max(start + 1),
        amount,
    })
}

/// Appends to `out` every episode of the meter overlapping `[from, to)`, sorted by start.
pub(crate) fn episodes_overlapping(
    key: u64,
    thresholds: &EpisodeThresholds,
    from: i64,
    to: i64,
    out: &mut Vec<Episode>,
) {
    out.clear();
    if to <= from || !thresholds.any() {
        return;
    }
    // UTC day numbers with a day of slack cover the local days of the range.
    let day_lo = from.div_euclid(DAY) - 1;
    let day_hi = (to - 1).div_euclid(DAY) + 1;
    for kind in FaultKind::ALL {
        if thresholds.get(kind) == 0 {
            continue;
        }
        let first = (day_lo - kind.max_span_days()).div_euclid(WINDOW_DAYS);
        let last = day_hi.div_euclid(WINDOW_DAYS);
        for window in first..=last {
            if let Some(e) = episode_in_window(key, kind, thresholds, window)
                && e.overlaps(from, to)
            {
                out.push(e);
            }
        }
    }
    out.sort_by_key(|e| (e.start, e.kind));
}

/// Status flags a meter reports with a reading.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StatusFlags(u8);

impl StatusFlags {
    pub const NONE: StatusFlags = StatusFlags(0);
    pub const LEAK: StatusFlags = StatusFlags(1);
    pub const BURST: StatusFlags = StatusFlags(1 << 1);
    pub const REVERSE_FLOW: StatusFlags = StatusFlags(1 << 2);
    pub const TAMPER: StatusFlags = StatusFlags(1 << 3);
    pub const DRY: StatusFlags = StatusFlags(1 << 4);
    pub const LOW_BATTERY: StatusFlags = StatusFlags(1 << 5);

    const NAMES: [(StatusFlags, &'static str); 6] = [
        (StatusFlags::LEAK, "leak"),
        (StatusFlags::BURST, "burst"),
        (StatusFlags::REVERSE_FLOW, "reverse_flow"),
        (StatusFlags::TAMPER, "tamper"),
        (StatusFlags::DRY, "dry"),
        (StatusFlags::LOW_BATTERY, "low_battery"),
    ];

    /// The raw bits (bit 0 leak, 1 burst, 2 reverse flow, 3 tamper, 4 dry, 5 low battery).
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Flags from raw bits; unknown bits are dropped.
    pub const fn from_bits_truncate(bits: u8) -> Self {
        StatusFlags(bits & 0b11_1111)
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether all flags of `other` are set.
    pub const fn contains(self, other: StatusFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn insert(&mut self, other: StatusFlags) {
        self.0 |= other.0;
    }

    pub fn remove(&mut self, other: StatusFlags) {
        self.0 &= !other.0;
    }

    /// The names of the set flags (`leak`, `burst`, `reverse_flow`, `tamper`, `dry`,
    /// `low_battery`).
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| n)
    }
}

impl BitOr for StatusFlags {
    type Output = StatusFlags;
    fn bitor(self, rhs: StatusFlags) -> StatusFlags {
        StatusFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for StatusFlags {
    fn bitor_assign(&mut self, rhs: StatusFlags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for StatusFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

/// A meter replacement: at `at` the old meter is removed and a new one, with its own serial and
/// radio id and a register starting at `new_initial_litres`, is fitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Replacement {
    pub at: DateTime<Utc>,
    pub old_serial: SerialNumber,
    pub new_serial: SerialNumber,
    pub new_initial_litres: u64,
    pub old_radio_id: RadioId,
    pub new_radio_id: RadioId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn episodes_have_the_documented_shapes() {
        let th = EpisodeThresholds::new(&FaultRates {
            leaks_per_year: 50.0,
            bursts_per_year: 50.0,
            reverse_flows_per_year: 50.0,
            tampers_per_year: 50.0,
            dry_pipes_per_year: 50.0,
            ..FaultRates::none()
        });
        let mut seen = [0; 5];
        for key in 0..50u64 {
            for window in 600..620 {
                for kind in FaultKind::ALL {
                    let Some(e) = episode_in_window(key, kind, &th, window) else {
                        continue;
                    };
                    seen[kind.index()] += 1;
                    let hours = (e.end - e.start) as f64 / HOUR as f64;
                    match kind {
                        FaultKind::Leak => {
                            assert!((24.0..=960.0).contains(&hours));
                            assert!((2..=60).contains(&e.amount));
                        }
                        FaultKind::Burst => assert!((1.0..=6.0).contains(&hours)),
                        FaultKind::ReverseFlow => {
                            assert!(hours == 1.0 || hours == 2.0);
                            assert!((3..=40).contains(&e.amount));
                        }
                        FaultKind::MagneticTamper => assert!(hours <= 96.0),
                        FaultKind::DryPipe => assert!((1.0..=8.0).contains(&hours)),
                    }
                }
            }
        }
        assert!(seen.iter().all(|&n| n > 100), "{seen:?}");
    }

    #[test]
    fn status_flags_combine_and_name_themselves() {
        let f = StatusFlags::LEAK | StatusFlags::LOW_BATTERY;
        assert!(f.contains(StatusFlags::LEAK) && !f.contains(StatusFlags::DRY));
        assert_eq!(f.names().collect::<Vec<_>>(), ["leak", "low_battery"]);
        assert_eq!(format!("{f:?}"), r#"{"leak", "low_battery"}"#);
        assert_eq!(StatusFlags::from_bits_truncate(0xff).bits(), 0b11_1111);
    }
}
