//! Fleets: the [`FleetSpec`] that defines a fleet (seed, start, profile mix, fault rates) and the
//! deterministic assignment of everything that is fixed per meter: profile and habits, register
//! size and initial value, serial number, wM-Bus radio id, replacement and low-battery onset.
//!
//! Meter `i` of a fleet depends only on the spec and `i`, never on other meters, so meters can be
//! created in any order, in parallel, or again later with identical results.

use std::fmt;
use std::ops::Range;

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};

use super::calendar::{DAY, TZ, day_from_number, day_number, local_day};
use super::fault::{EpisodeThresholds, FaultRates, Replacement, WINDOW_DAYS};
use super::meter::{MeterModel, Thresholds};
use super::noise::{
    DECIMAL8, Draws, Purpose, fleet_key, hash, meter_key, permute_decimal8, permute_u32,
    probability_within, threshold,
};
use super::profile::{Habits, Profile, ProfileMix};

/// A meter's serial number as printed on it: a manufacturer letter, the two-digit year of
/// manufacture and eight digits, e.g. `A1912345678`. Unique within a fleet (including the serials
/// of replacement meters) for indexes below [`FleetSpec::MAX_METERS`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SerialNumber {
    /// Manufacturer letter (ASCII uppercase).
    pub manufacturer: char,
    /// Year of manufacture modulo 100.
    pub year: u8,
    /// Eight decimal digits (below 10^8).
    pub number: u32,
}

impl fmt::Display for SerialNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:02}{:08}", self.manufacturer, self.year, self.number)
    }
}

impl fmt::Debug for SerialNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SerialNumber({self})")
    }
}

/// A wM-Bus radio id: 32 bits shown as 8 hex digits. A bijection of (meter index, original or
/// replacement) within a fleet, so distinct meters always get distinct ids.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RadioId(pub u32);

impl fmt::Display for RadioId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08X}", self.0)
    }
}

impl fmt::Debug for RadioId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RadioId({self})")
    }
}

/// The definition of a simulated fleet.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetSpec {
    /// Seed of everything random in the fleet.
    pub seed: u64,
    /// When the registers start: no consumption is registered before this instant.
    pub start: DateTime<Utc>,
    /// Which consumers the meters serve.
    pub mix: ProfileMix,
    /// How often things go wrong.
    pub faults: FaultRates,
}

/// Manufacturer letters and their weights.
const MANUFACTURERS: [char; 3] = ['A', 'B', 'C'];
const MANUFACTURER_WEIGHTS: [u32; 3] = [60, 25, 15];

impl FleetSpec {
    /// Meter indexes must be below this (serial numbers of original and replacement meters are
    /// drawn without collision from 10^8 eight-digit numbers).
    pub const MAX_METERS: u64 = (DECIMAL8 / 2) as u64;

    /// A fleet with the default profile mix (rural gmina) and default fault rates.
    pub fn new(seed: u64, start: DateTime<Utc>) -> Self {
        FleetSpec {
            seed,
            start,
            mix: ProfileMix::default(),
            faults: FaultRates::default(),
        }
    }

    /// The meters with indexes in `indexes`.
    pub fn meters(&self, indexes: Range<u64>) -> impl Iterator<Item = MeterModel> + '_ {
        indexes.map(|i| self.meter(i))
    }

    /// Meter number `index` of the fleet. Costs a few dozen hashes and a few time zone
    /// conversions.
    ///
    /// # Panics
    /// If `index >= FleetSpec::MAX_METERS`.
    pub fn meter(&self, index: u64) -> MeterModel {
        assert!(
            index < Self::MAX_METERS,
            "meter index {index} is not below {}",
            Self::MAX_METERS
        );
        let key = meter_key(self.seed, index);
        let fleet = fleet_key(self.seed);
        let start = self.start.timestamp();
        let start_day = local_day(self.start);
        // Independent streams per attribute, so changing one rate does not reshuffle the others.
        let draws = |stream: i64| Draws::new(hash(key, Purpose::Meter, stream));

        let mut d = draws(0);
        let profile = Profile::draw(&self.mix, &mut d);
        let habits = Habits::draw(&profile, &mut d);

        // Register: an old meter with years of consumption, or one about to wrap.
        let register_max = profile.register_max();
        let typical = habits.typical_daily_litres().max(1.0);
        let mut d = draws(1);
        let rollover = d.chance(self.faults.rollover_fraction);
        let age_years = d.uniform(0.5, 9.0);
        let days_to_wrap = d.uniform(0.2, 60.0);
        let (initial, age_years) = if rollover {
            let headroom = (days_to_wrap * typical).round() as u64;
            (register_max - headroom.min(register_max), age_years + 8.0)
        } else {
            let used = (age_years * 365.25 * typical).round() as u64;
            (used.min(register_max / 10 * 6), age_years)
        };

        // Serial numbers: a fleet-wide bijection of 2·index (original) and 2·index+1 (new).
        let serial_key = hash(fleet, Purpose::Serial, 0);
        let mut d = draws(2);
        let manufacturer = MANUFACTURERS[d.weighted(&MANUFACTURER_WEIGHTS)];
        let new_manufacturer = MANUFACTURERS[d.weighted(&MANUFACTURER_WEIGHTS)];
        let year = (start_day.year() - age_years.ceil() as i32).rem_euclid(100) as u8;
        let serial = SerialNumber {
            manufacturer,
            year,
            number: permute_decimal8(2 * index as u32, serial_key),
        };

        // Radio ids: a bijection of 2·index (original meter) and 2·index+1 (its replacement). The
        // radio module is part of the meter, so a replacement brings a new address.
        let radio_key = hash(fleet, Purpose::Radio, 0);
        let radio_id = RadioId(permute_u32(2 * index as u32, radio_key));
        let new_radio_id = RadioId(permute_u32(2 * index as u32 + 1, radio_key));

        // Replacement: exponential waiting time, on a workday between 08:00 and 15:00.
        let mut d = draws(3);
        let wait_days = exponential_days(d.unit(), self.faults.replacements_per_year);
        let minutes = d.below(7 * 60) as i64;
        let new_initial_litres = d.range(0, 30);
        let replacement = wait_days.map(|w| {
            let mut day = day_from_number(day_number(start_day) + 1 + w.floor() as i64);
            match day.weekday() {
                Weekday::Sat => day += Duration::days(2),
                Weekday::Sun => day += Duration::days(1),
                _ => {}
            }
            let eight = day.and_time(NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN));
            let at = TZ
                .from_local_datetime(&eight)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| eight.and_utc())
                + Duration::minutes(minutes);
            Replacement {
                at,
                old_serial: serial,
                new_serial: SerialNumber {
                    manufacturer: new_manufacturer,
                    year: day.year().rem_euclid(100) as u8,
                    number: permute_decimal8(2 * index as u32 + 1, serial_key),
                },
                new_initial_litres,
                old_radio_id: radio_id,
                new_radio_id,
            }
        });

        // Low battery: exponential waiting time from the start, at any second of the day.
        let mut d = draws(4);
        let low_battery_from = exponential_days(d.unit(), self.faults.low_battery_per_year)
            .map(|w| start + (w * DAY as f64).round() as i64);

        let tx_phase = draws(5).unit();

        let absence_threshold = if profile.takes_holidays() {
            threshold(probability_within(
                self.mix.household_absences_per_year,
                WINDOW_DAYS as f64,
            ))
        } else {
            0
        };
        let gap = self.faults.gap_day_probability;
        MeterModel {
            index,
            key,
            fleet_key: fleet,
            start,
            profile,
            habits,
            register_max,
            initial,
            serial,
            radio_id,
            replacement,
            low_battery_from,
            tx_phase,
            thresholds: Thresholds {
                episodes: EpisodeThresholds::new(&self.faults),
                absence: absence_threshold,
                gap: threshold(gap),
                gap_low_battery: threshold((gap * 3.0).min(1.0)),
                duplicate: threshold(self.faults.duplicate_probability),
                late: threshold(self.faults.late_probability),
            },
        }
    }
}

/// An exponential waiting time in days for an event with `per_year` occurrences a year, from a
/// uniform `u`; `None` when the event never happens (rate 0) or only after two centuries.
fn exponential_days(u: f64, per_year: f64) -> Option<f64> {
    if per_year.is_nan() || per_year <= 0.0 {
        return None;
    }
    let days = -(1.0 - u).ln() / per_year * 365.25;
    (days.is_finite() && days < 200.0 * 365.25).then_some(days)
}
