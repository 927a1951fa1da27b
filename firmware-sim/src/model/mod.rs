//! The pure consumption and fault model of simulated water meters: what the register of meter
//! `i` of a fleet shows at any instant, what it consumed on any day or hour, which faults it
//! lives through and when it transmits. No I/O, no clocks, no shared state: plain functions over
//! plain types, used by `ebok demo` (90 days of daily readings for the 2,500 meters of Gmina
//! Młynary), by the MQTT simulator (10 to 1,000,000 meters, accelerated time), tests and
//! benchmarks.
//!
//! # Shape
//!
//! * [`FleetSpec`] (seed, start, [`ProfileMix`], [`FaultRates`]) → [`FleetSpec::meter`] →
//!   [`MeterModel`]: profile, register size and initial value, [`SerialNumber`], [`RadioId`],
//!   fault schedule, [`Replacement`].
//! * [`MeterModel::register_at`] → [`RegisterReading`] (litres as displayed, serial, flags);
//!   [`MeterModel::daily_volume`], [`MeterModel::hourly_volumes`], [`MeterModel::cursor`] →
//!   [`MeterCursor`]; [`MeterModel::transmissions`] → [`Transmission`]s sorted by send time.
//!
//! # Determinism
//!
//! Everything is a pure function of (fleet spec, meter index, time). Random quantities come from
//! a SplitMix64-style hash of (seed, meter index, counter, purpose), where the counter is a day
//! number, a 32-day window number or a transmission slot; there is no RNG whose state must be
//! replayed, so results do not depend on the order in which meters, days or instants are
//! queried. (Floating point is used inside the noise maths with `exp`, `ln` and `cos` from the
//! platform's libm and rounded once per day; results are reproducible on one platform.)
//!
//! # Units and consistency
//!
//! Volumes are integer litres. A day's base volume is rounded once and split over the real hours
//! of the Warsaw day (23/24/25) by integer cumulative rounding, so the register difference
//! between two local midnights equals the sum of that day's hourly volumes and equals
//! [`MeterModel::daily_volume`], unless the register wrapped, the meter was replaced or reverse
//! flow ran it backwards that day. The register is non-decreasing except at those three events.
//!
//! # Costs (release build, one core of the development machine)
//!
//! * [`FleetSpec::meter`]: constant, about 0.5 µs (a few dozen hashes, a few time zone lookups).
//! * [`MeterModel::register_at`], [`MeterModel::consumed_between`], [`MeterModel::cursor`]:
//!   linear in the days since the fleet start (or since the replacement): per day three hashes,
//!   a cosine and two exponentials, per 32-day window five hashes, plus two full day models and
//!   a status lookup; about 0.1 µs per day, 40 µs for a year of history.
//! * [`MeterModel::daily_volume`], [`MeterModel::hourly_volumes`]: constant, about 1 µs.
//!   [`MeterModel::status_at`]: constant, about 0.1 µs.
//! * [`MeterCursor::advance_to`] forward: constant within a day, about 0.6 µs per local day
//!   crossed including a reading. This is what the simulator and the demo generator should use:
//!   a fleet-day of 1,000,000 meters costs under a second of CPU.
//! * [`MeterModel::transmissions`]: one cursor creation, then constant per telegram; the demo's
//!   2,500 meters × 90 days of daily telegrams take about 0.25 s.
//!
//! # Files
//!
//! `calendar` (Warsaw days, Polish holidays, school calendar), `noise` (hashing), `profile`
//! (consumers), `fault` (episodes, flags, rates), `fleet` (per-meter assignment), `meter`
//! (register, volumes, cursor), `transmit` (telegram schedule), `zone` (the inlet meter of a
//! network zone: its customers' water and the pipes' losses, bursts included).

pub mod calendar;
mod fault;
mod fleet;
mod meter;
mod noise;
mod profile;
mod transmit;
mod zone;

#[cfg(test)]
mod tests;

pub use calendar::DayKind;
pub use fault::{
    Fault, FaultEpisode, FaultKind, FaultRates, Replacement, StatusFlags, WINDOW_DAYS,
};
pub use fleet::{FleetSpec, RadioId, SerialNumber};
pub use meter::{HourlyVolume, MeterCursor, MeterModel, RegisterReading};
pub use profile::{BusinessKind, HOUSEHOLD_LITRES_PER_PERSON, Profile, ProfileMix};
pub use transmit::{MAX_PER_DAY, Transmission, Transmissions};
pub use zone::{Burst, ZoneInlet, ZoneInletCursor, ZoneSpec};
