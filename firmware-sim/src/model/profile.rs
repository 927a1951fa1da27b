//! Consumption profiles: who is behind a meter (household, business, housing community, public
//! institution, farm), how much water they use on average, how that depends on the kind of day
//! and the season, how a day's volume is spread over its hours, and the mix of profiles in a
//! fleet.
//!
//! Levels are typical for a small Polish municipality: about 100 litres per person per day in
//! households (90–110 l is the national range), business use concentrated on workdays, schools
//! nearly idle in July–August and at weekends, farms large with a summer peak (livestock and
//! gardens).

use std::f64::consts::TAU;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::calendar::{DayKind, day_kind, is_school_day};
use super::noise::Draws;

/// What kind of business a business meter serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusinessKind {
    /// A shop: open on workdays and Saturday mornings.
    Shop,
    /// An office: workdays only.
    Office,
    /// A workshop (car repair, carpentry, bakery…): workdays, some Saturdays.
    Workshop,
}

/// The consumer behind a meter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "profile", rename_all = "snake_case")]
pub enum Profile {
    /// A household of 1–6 residents.
    Household { residents: u8 },
    /// A small business.
    Business { kind: BusinessKind },
    /// A bulk meter of a housing community (wspólnota mieszkaniowa) with 10–80 flats.
    HousingCommunity { flats: u16 },
    /// A public institution with a school calendar (pupils and staff).
    PublicInstitution { occupants: u16 },
    /// A farm: a farming family plus livestock (0 cattle for crop farms).
    Farm { cattle: u16 },
}

/// Litres per resident per day a household uses on average.
pub const HOUSEHOLD_LITRES_PER_PERSON: f64 = 100.0;

impl Profile {
    /// A short name of the profile kind (`household`, `business`, …).
    /// Bulk meters in technical rooms (housing communities, public institutions) are read over
    /// Modbus TCP; the others transmit by radio.
    pub fn read_over_modbus(&self) -> bool {
        matches!(
            self,
            Profile::HousingCommunity { .. } | Profile::PublicInstitution { .. }
        )
    }

    pub fn kind_name(&self) -> &'static str {
        match self {
            Profile::Household { .. } => "household",
            Profile::Business { .. } => "business",
            Profile::HousingCommunity { .. } => "housing_community",
            Profile::PublicInstitution { .. } => "public_institution",
            Profile::Farm { .. } => "farm",
        }
    }

    /// The typical daily volume in litres on an ordinary day (day factor 1, no season), before
    /// the per-meter level that makes meters of the same profile differ.
    pub fn nominal_daily_litres(&self) -> u64 {
        self.nominal_litres().round() as u64
    }

    fn nominal_litres(&self) -> f64 {
        match *self {
            Profile::Household { residents } => f64::from(residents) * HOUSEHOLD_LITRES_PER_PERSON,
            Profile::Business { kind } => match kind {
                BusinessKind::Shop => 200.0,
                BusinessKind::Office => 350.0,
                BusinessKind::Workshop => 700.0,
            },
            Profile::HousingCommunity { flats } => f64::from(flats) * 2.3 * 95.0,
            Profile::PublicInstitution { occupants } => f64::from(occupants) * 18.0,
            Profile::Farm { cattle } => 400.0 + f64::from(cattle) * 60.0,
        }
    }

    /// How much of the nominal daily volume is used on `day` because of the kind of day
    /// (weekday, Saturday, Sunday or holiday, school calendar).
    pub fn day_factor(&self, day: NaiveDate) -> f64 {
        let kind = day_kind(day);
        match *self {
            Profile::Household { .. } => match kind {
                DayKind::Workday => 0.97,
                DayKind::Saturday => 1.08,
                DayKind::SundayOrHoliday => 1.06,
            },
            Profile::Business { kind: business } => match (business, kind) {
                (_, DayKind::Workday) => 1.0,
                (BusinessKind::Shop, DayKind::Saturday) => 0.75,
                (BusinessKind::Office, DayKind::Saturday) => 0.08,
                (BusinessKind::Workshop, DayKind::Saturday) => 0.4,
                (_, DayKind::SundayOrHoliday) => 0.03,
            },
            Profile::HousingCommunity { .. } => match kind {
                DayKind::Workday => 0.98,
                _ => 1.04,
            },
            Profile::PublicInstitution { .. } => {
                if is_school_day(day) {
                    1.0
                } else {
                    0.04
                }
            }
            Profile::Farm { .. } => 1.0,
        }
    }

    fn seasonal_amplitude(&self) -> f64 {
        match self {
            Profile::Household { .. } => 0.08,
            Profile::Business { .. } => 0.05,
            Profile::HousingCommunity { .. } => 0.06,
            Profile::PublicInstitution { .. } => 0.0,
            Profile::Farm { .. } => 0.25,
        }
    }

    /// The seasonal factor of `day` (1 on average over a year, highest in mid-July), without
    /// garden watering, which depends on the meter.
    pub fn seasonal_factor(&self, day: NaiveDate) -> f64 {
        1.0 + self.seasonal_amplitude() * season_cos(day)
    }

    /// The 24 hourly weights of `day`, indexed by local hour (0 = 00:00–01:00). On DST days each
    /// real hour takes the weight of its local hour label (the repeated 02 hour twice, the
    /// skipped one not at all), and the day's volume is spread over the hours the day has.
    pub fn hourly_weights(&self, day: NaiveDate) -> [u16; 24] {
        let kind = day_kind(day);
        match self {
            Profile::Household { .. } => match kind {
                DayKind::Workday => HOUSEHOLD_WORKDAY,
                _ => HOUSEHOLD_WEEKEND,
            },
            Profile::Business { .. } => match kind {
                DayKind::Workday => BUSINESS_WORKDAY,
                DayKind::Saturday => BUSINESS_SATURDAY,
                DayKind::SundayOrHoliday => FLAT,
            },
            Profile::HousingCommunity { .. } => match kind {
                DayKind::Workday => COMMUNITY_WORKDAY,
                _ => COMMUNITY_WEEKEND,
            },
            Profile::PublicInstitution { .. } => {
                if is_school_day(day) {
                    SCHOOL_DAY
                } else {
                    FLAT
                }
            }
            Profile::Farm { .. } => FARM,
        }
    }

    /// The register size (largest displayed value, litres) of the meter type fitted for this
    /// consumer: 99,999.999 m³ for ordinary meters, 999,999.999 m³ for bulk meters.
    pub fn register_max(&self) -> u64 {
        match self {
            Profile::HousingCommunity { .. } => 999_999_999,
            _ => 99_999_999,
        }
    }

    /// Whether this consumer goes away on holiday (the volume drops to ~0 for several days).
    pub(crate) fn takes_holidays(&self) -> bool {
        matches!(self, Profile::Household { .. })
    }

    /// Draws a profile of the mix.
    pub(crate) fn draw(mix: &ProfileMix, d: &mut Draws) -> Profile {
        let weights = [
            mix.household,
            mix.business,
            mix.housing_community,
            mix.public_institution,
            mix.farm,
        ];
        match d.weighted(&weights) {
            1 => Profile::Business {
                kind: [
                    BusinessKind::Shop,
                    BusinessKind::Office,
                    BusinessKind::Workshop,
                ][d.weighted(&[45, 30, 25])],
            },
            2 => Profile::HousingCommunity {
                flats: d.log_uniform(10.0, 80.0).round() as u16,
            },
            3 => Profile::PublicInstitution {
                occupants: d.log_uniform(40.0, 400.0).round() as u16,
            },
            4 => Profile::Farm {
                cattle: if d.chance(0.3) {
                    0
                } else {
                    d.log_uniform(3.0, 120.0).round() as u16
                },
            },
            // Household shares of 1..6 residents (Polish census, rural bias).
            _ => Profile::Household {
                residents: 1 + d.weighted(&[24, 27, 20, 16, 8, 5]) as u8,
            },
        }
    }
}

/// cos of the year phase, 1 in mid-July, -1 in mid-January.
fn season_cos(day: NaiveDate) -> f64 {
    (TAU * (f64::from(day.ordinal0()) - 196.0) / 365.25).cos()
}

/// Per-meter consumption habits drawn once per meter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Habits {
    /// Mean litres a day at day factor 1 and seasonal factor 1.
    pub mean_litres: f64,
    /// Summer garden watering at its peak, as a fraction of `mean_litres` (0 without a garden).
    pub garden: f64,
    /// Log-standard-deviation of the day-to-day noise.
    pub sigma: f64,
    /// Half-width of the multiplicative hour-to-hour jitter of the hourly pattern.
    pub hour_jitter: f64,
}

impl Habits {
    pub(crate) fn draw(profile: &Profile, d: &mut Draws) -> Habits {
        let (level_sigma, garden, sigma, hour_jitter) = match *profile {
            Profile::Household { residents } => {
                let garden = if d.chance(0.35) {
                    d.uniform(0.2, 0.6)
                } else {
                    0.0
                };
                (0.18, garden, 0.32 / f64::from(residents).powf(0.25), 0.6)
            }
            Profile::Business { .. } => (0.5, 0.0, 0.35, 0.4),
            Profile::HousingCommunity { flats } => {
                (0.1, 0.0, 0.05 + 0.3 / f64::from(flats).sqrt(), 0.15)
            }
            Profile::PublicInstitution { .. } => (0.2, 0.0, 0.15, 0.3),
            Profile::Farm { .. } => (0.2, d.uniform(0.15, 0.35), 0.18, 0.3),
        };
        Habits {
            mean_litres: profile.nominal_litres() * d.lognormal_mean_one(level_sigma),
            garden,
            sigma,
            hour_jitter,
        }
    }

    /// The expected volume of `day` in litres for this meter (before day noise and absences);
    /// `weather` scales garden watering (fleet-wide, 1 on average).
    pub(crate) fn expected_litres(&self, profile: &Profile, day: NaiveDate, weather: f64) -> f64 {
        let c = season_cos(day);
        let summer = if c > 0.0 { c * c } else { 0.0 };
        self.mean_litres
            * (profile.day_factor(day) * profile.seasonal_factor(day)
                + self.garden * summer * weather)
    }

    /// A rough long-run mean of the daily volume, for sizing initial register values.
    pub(crate) fn typical_daily_litres(&self) -> f64 {
        self.mean_litres * (1.0 + self.garden * 0.25)
    }
}

/// The mix of profiles in a fleet: relative integer weights (per mille in the presets; all zero
/// means households only) plus the household holiday behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileMix {
    pub household: u32,
    pub business: u32,
    pub housing_community: u32,
    pub public_institution: u32,
    pub farm: u32,
    /// Expected holiday absences per household per year (each 3–14 days of ~0 use).
    pub household_absences_per_year: f64,
}

impl ProfileMix {
    /// A rural Polish gmina such as Młynary: mostly single-family houses, some farms, a few
    /// shops and workshops, a handful of blocks of flats and schools.
    pub fn rural_gmina() -> Self {
        ProfileMix {
            household: 870,
            business: 35,
            housing_community: 8,
            public_institution: 7,
            farm: 80,
            household_absences_per_year: 1.5,
        }
    }

    /// Households only (tests, benchmarks).
    pub fn households_only() -> Self {
        ProfileMix {
            household: 1,
            business: 0,
            housing_community: 0,
            public_institution: 0,
            farm: 0,
            household_absences_per_year: 1.5,
        }
    }
}

impl Default for ProfileMix {
    fn default() -> Self {
        Self::rural_gmina()
    }
}

// Hourly patterns by local hour, in arbitrary integer units.
const HOUSEHOLD_WORKDAY: [u16; 24] = [
    10, 5, 4, 4, 6, 20, 60, 80, 50, 35, 30, 30, 35, 35, 30, 35, 45, 55, 70, 75, 70, 60, 40, 20,
];
const HOUSEHOLD_WEEKEND: [u16; 24] = [
    15, 8, 5, 4, 4, 6, 15, 35, 65, 80, 75, 60, 55, 55, 45, 40, 45, 50, 60, 65, 65, 55, 40, 25,
];
const BUSINESS_WORKDAY: [u16; 24] = [
    3, 3, 3, 3, 3, 3, 5, 20, 60, 80, 80, 80, 90, 80, 80, 70, 60, 40, 20, 10, 5, 3, 3, 3,
];
const BUSINESS_SATURDAY: [u16; 24] = [
    3, 3, 3, 3, 3, 3, 5, 20, 50, 60, 60, 55, 45, 25, 10, 5, 3, 3, 3, 3, 3, 3, 3, 3,
];
const COMMUNITY_WORKDAY: [u16; 24] = [
    18, 15, 14, 14, 15, 25, 53, 67, 46, 36, 32, 32, 36, 36, 32, 36, 43, 50, 60, 64, 60, 53, 39, 25,
];
const COMMUNITY_WEEKEND: [u16; 24] = [
    22, 17, 15, 14, 14, 15, 22, 36, 57, 67, 64, 53, 50, 50, 43, 39, 43, 46, 53, 57, 57, 50, 39, 29,
];
const SCHOOL_DAY: [u16; 24] = [
    2, 2, 2, 2, 2, 2, 5, 30, 80, 90, 100, 90, 100, 80, 60, 40, 20, 10, 5, 3, 2, 2, 2, 2,
];
const FARM: [u16; 24] = [
    8, 8, 8, 8, 20, 80, 100, 80, 50, 40, 40, 40, 50, 40, 40, 40, 60, 90, 100, 70, 40, 30, 20, 10,
];
const FLAT: [u16; 24] = [10; 24];

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn business_is_near_zero_on_sundays_and_school_in_july() {
        let shop = Profile::Business {
            kind: BusinessKind::Shop,
        };
        assert!(shop.day_factor(d(2025, 5, 18)) < 0.05);
        assert!(shop.day_factor(d(2025, 5, 19)) > 0.9);
        let school = Profile::PublicInstitution { occupants: 200 };
        assert!(school.day_factor(d(2025, 7, 16)) < 0.05);
        assert!(school.day_factor(d(2025, 5, 14)) > 0.9);
    }

    #[test]
    fn household_patterns_peak_in_the_morning_and_evening() {
        let h = Profile::Household { residents: 3 };
        let w = h.hourly_weights(d(2025, 5, 14));
        assert!(w[7] > w[3] * 10 && w[19] > w[13]);
    }

    #[test]
    fn farms_use_more_in_summer_than_in_winter() {
        let farm = Profile::Farm { cattle: 20 };
        assert!(farm.seasonal_factor(d(2025, 7, 15)) > farm.seasonal_factor(d(2025, 1, 15)) + 0.4);
    }
}
