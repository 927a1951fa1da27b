//! Validation of one reading of a known meter, against the meter itself (installation period,
//! register size, nominal flow) and its newest committed reading. Pure: the writer supplies the
//! state and applies the verdict.
//!
//! Only impossible values are rejected (negative, above the register, in the future, outside the
//! installation). Values that are possible but suspicious — a register going down, a rollover, a
//! jump beyond the meter's flow — are stored with a flag for staff: rejecting them would also
//! reject every later reading compared against the same stale neighbour.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ebok_common::domain::{ReadingFlags, Register, Step};

use crate::reading::{RawReading, RejectReason};

/// What ingest knows about a meter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterInfo {
    pub id: i64,
    pub utility_id: i64,
    pub register: Register,
    pub installed_at: Option<DateTime<Utc>>,
    pub removed_at: Option<DateTime<Utc>>,
    /// The most the meter can pass in an hour, litres (from its nominal diameter).
    pub max_flow_litres_per_hour: i64,
    /// A meter on a network zone's boundary (`zone_inlet`, `zone_outlet`): water flows through
    /// it day and night, so continuous flow is no alarm there (its night flow is the water
    /// balance's business).
    pub network: bool,
}

impl MeterInfo {
    /// See [`ebok_common::domain::max_flow_litres_per_hour`].
    pub fn max_flow_for_diameter(diameter_mm: Option<i16>) -> i64 {
        ebok_common::domain::max_flow_litres_per_hour(diameter_mm)
    }
}

/// A meter's newest committed reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Newest {
    pub measured_at: DateTime<Utc>,
    pub litres: i64,
}

#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Readings measured further in the future are rejected (clock skew allowance).
    pub future_tolerance: Duration,
    /// A reading may be measured this long before installation or after removal (a meter
    /// read just before it is mounted, or when taken off).
    pub installation_grace: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            future_tolerance: Duration::minutes(10),
            installation_grace: Duration::hours(1),
        }
    }
}

/// What to do with a reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Store {
        /// Device flags plus what validation found.
        flags: ReadingFlags,
        /// Newer than the meter's newest reading: it moves "latest" forward. Otherwise it is a
        /// late (or repeated) reading and must be checked against what is stored.
        newest: bool,
        /// Litres consumed since the previous reading, when it is the newest and the step is
        /// consumption.
        consumption: Option<i64>,
    },
    Reject(RejectReason, String),
}

/// The earliest instant any reading can have.
pub fn earliest_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .expect("valid")
}

pub fn validate(
    meter: &MeterInfo,
    newest: Option<Newest>,
    reading: &RawReading,
    now: DateTime<Utc>,
    rules: &Rules,
) -> Verdict {
    let at = reading.measured_at;
    if reading.litres < 0 {
        return Verdict::Reject(
            RejectReason::NegativeValue,
            format!("register {} litres is below zero", reading.litres),
        );
    }
    if at > now + rules.future_tolerance {
        return Verdict::Reject(
            RejectReason::FutureTimestamp,
            format!(
                "measured at {at}, {} s in the future",
                (at - now).num_seconds()
            ),
        );
    }
    if at < earliest_instant() {
        return Verdict::Reject(
            RejectReason::TimestampOutOfRange,
            format!("measured at {at}, before 2000"),
        );
    }
    match (meter.installed_at, meter.removed_at) {
        (None, _) => {
            return Verdict::Reject(
                RejectReason::MeterNotInstalled,
                "the meter is not installed at any supply point".into(),
            );
        }
        (Some(installed), _) if at < installed - rules.installation_grace => {
            return Verdict::Reject(
                RejectReason::MeterNotInstalled,
                format!("measured at {at}, before installation at {installed}"),
            );
        }
        (_, Some(removed)) if at > removed + rules.installation_grace => {
            return Verdict::Reject(
                RejectReason::MeterNotInstalled,
                format!("measured at {at}, after removal at {removed}"),
            );
        }
        _ => {}
    }
    if !meter.register.holds(reading.litres) {
        return Verdict::Reject(
            RejectReason::AboveRegisterMax,
            format!(
                "register {} litres exceeds the meter's maximum {}",
                reading.litres,
                meter.register.max_litres()
            ),
        );
    }
    let mut flags = reading.device_flags.device();
    let Some(previous) = newest.filter(|n| n.measured_at < at) else {
        // First reading of the meter, or a late one: no neighbour to compare with here.
        return Verdict::Store {
            flags,
            newest: newest.is_none(),
            consumption: None,
        };
    };
    let hours = ((at - previous.measured_at).num_seconds() as f64 / 3600.0).max(1.0);
    let plausible = (meter.max_flow_litres_per_hour as f64 * hours) as i64;
    let previous_litres = previous.litres.clamp(0, meter.register.max_litres());
    let step = meter
        .register
        .step(previous_litres, reading.litres, plausible);
    let consumption = match step {
        Step::Forward(litres) => {
            if litres > plausible {
                flags = flags.with(ReadingFlags::IMPLAUSIBLE);
            }
            Some(litres)
        }
        Step::Rollover(litres) => {
            flags = flags.with(ReadingFlags::ROLLOVER);
            Some(litres)
        }
        Step::Backward(_) => {
            flags = flags.with(ReadingFlags::DECREASE);
            None
        }
    };
    Verdict::Store {
        flags,
        newest: true,
        consumption,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::MeterRef;
    use ebok_common::domain::ReadingSource;
    use proptest::prelude::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn meter() -> MeterInfo {
        MeterInfo {
            id: 1,
            utility_id: 1,
            register: Register::new(99_999_999).unwrap(),
            installed_at: Some(t("2024-01-01T00:00:00Z")),
            removed_at: None,
            max_flow_litres_per_hour: MeterInfo::max_flow_for_diameter(Some(15)),
            network: false,
        }
    }

    fn reading(at: &str, litres: i64) -> RawReading {
        RawReading {
            meter: MeterRef::Serial("A1".into()),
            measured_at: t(at),
            litres,
            device_flags: ReadingFlags::default(),
            source: ReadingSource::Radio,
        }
    }

    const NOW: &str = "2026-11-21T12:00:00Z";

    fn check(newest: Option<(&str, i64)>, r: RawReading) -> Verdict {
        let newest = newest.map(|(at, litres)| Newest {
            measured_at: t(at),
            litres,
        });
        validate(&meter(), newest, &r, t(NOW), &Rules::default())
    }

    fn reason(v: Verdict) -> RejectReason {
        match v {
            Verdict::Reject(reason, _) => reason,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn first_reading_of_a_meter_is_stored_as_newest() {
        assert_eq!(
            check(None, reading("2026-11-21T02:00:00Z", 1000)),
            Verdict::Store {
                flags: ReadingFlags::default(),
                newest: true,
                consumption: None
            }
        );
    }

    #[test]
    fn reading_after_the_newest_counts_consumption() {
        let v = check(
            Some(("2026-11-20T02:00:00Z", 1000)),
            reading("2026-11-21T02:00:00Z", 1350),
        );
        assert_eq!(
            v,
            Verdict::Store {
                flags: ReadingFlags::default(),
                newest: true,
                consumption: Some(350)
            }
        );
    }

    #[test]
    fn late_reading_is_stored_but_not_newest() {
        let v = check(
            Some(("2026-11-21T02:00:00Z", 1350)),
            reading("2026-11-20T02:00:00Z", 1000),
        );
        assert!(matches!(v, Verdict::Store { newest: false, .. }));
    }

    #[test]
    fn same_instant_as_the_newest_is_not_newest() {
        let v = check(
            Some(("2026-11-21T02:00:00Z", 1350)),
            reading("2026-11-21T02:00:00Z", 1350),
        );
        assert!(matches!(v, Verdict::Store { newest: false, .. }));
    }

    #[test]
    fn register_wrapping_near_its_maximum_is_a_rollover() {
        let v = check(
            Some(("2026-11-20T02:00:00Z", 99_999_800)),
            reading("2026-11-21T02:00:00Z", 300),
        );
        let Verdict::Store {
            flags, consumption, ..
        } = v
        else {
            panic!()
        };
        assert!(flags.contains(ReadingFlags::ROLLOVER));
        assert_eq!(consumption, Some(500));
    }

    #[test]
    fn register_going_down_elsewhere_is_kept_and_flagged() {
        let v = check(
            Some(("2026-11-20T02:00:00Z", 5_000_000)),
            reading("2026-11-21T02:00:00Z", 4_000_000),
        );
        let Verdict::Store {
            flags, consumption, ..
        } = v
        else {
            panic!()
        };
        assert!(flags.contains(ReadingFlags::DECREASE));
        assert_eq!(consumption, None);
    }

    #[test]
    fn jump_beyond_the_meters_flow_is_kept_and_flagged() {
        // DN15: at most 5,000 l/h; 200,000 litres in one hour is not water through this meter.
        let v = check(
            Some(("2026-11-21T01:00:00Z", 1_000)),
            reading("2026-11-21T02:00:00Z", 201_000),
        );
        let Verdict::Store { flags, .. } = v else {
            panic!()
        };
        assert!(flags.contains(ReadingFlags::IMPLAUSIBLE));
    }

    #[test]
    fn negative_register_is_rejected() {
        assert_eq!(
            reason(check(None, reading("2026-11-21T02:00:00Z", -1))),
            RejectReason::NegativeValue
        );
    }

    #[test]
    fn register_above_its_maximum_is_rejected() {
        assert_eq!(
            reason(check(None, reading("2026-11-21T02:00:00Z", 100_000_000))),
            RejectReason::AboveRegisterMax
        );
    }

    #[test]
    fn instant_beyond_the_future_tolerance_is_rejected() {
        assert_eq!(
            reason(check(None, reading("2026-11-21T12:11:00Z", 1))),
            RejectReason::FutureTimestamp
        );
        assert!(matches!(
            check(None, reading("2026-11-21T12:09:00Z", 1)),
            Verdict::Store { .. }
        ));
    }

    #[test]
    fn instant_before_2000_is_out_of_range() {
        assert_eq!(
            reason(check(None, reading("1999-12-31T23:59:59Z", 1))),
            RejectReason::TimestampOutOfRange
        );
    }

    #[test]
    fn reading_outside_the_installation_is_rejected() {
        assert_eq!(
            reason(check(None, reading("2023-12-31T22:00:00Z", 1))),
            RejectReason::MeterNotInstalled
        );
        let mut removed = meter();
        removed.removed_at = Some(t("2026-06-01T10:00:00Z"));
        let v = validate(
            &removed,
            None,
            &reading("2026-06-02T10:00:00Z", 1),
            t(NOW),
            &Rules::default(),
        );
        assert_eq!(reason(v), RejectReason::MeterNotInstalled);
        let mut in_stock = meter();
        in_stock.installed_at = None;
        let v = validate(
            &in_stock,
            None,
            &reading("2026-06-02T10:00:00Z", 1),
            t(NOW),
            &Rules::default(),
        );
        assert_eq!(reason(v), RejectReason::MeterNotInstalled);
    }

    #[test]
    fn device_flags_pass_through_and_validation_bits_from_payloads_do_not() {
        let mut r = reading("2026-11-21T02:00:00Z", 10);
        r.device_flags = ReadingFlags(ReadingFlags::LEAK | ReadingFlags::CONFLICT);
        let Verdict::Store { flags, .. } = check(None, r) else {
            panic!()
        };
        assert_eq!(flags, ReadingFlags(ReadingFlags::LEAK));
    }

    proptest! {
        #[test]
        fn consumption_plus_previous_gives_the_register_modulo_its_size(
            previous in 0i64..99_999_999,
            used in 0i64..100_000,
        ) {
            let register = Register::new(99_999_999).unwrap();
            let next = register.advance(previous, used);
            let v = check(Some(("2026-11-19T02:00:00Z", previous)), reading("2026-11-21T02:00:00Z", next));
            let Verdict::Store { consumption, newest, .. } = v else { panic!("{v:?}") };
            prop_assert!(newest);
            prop_assert_eq!(consumption, Some(used));
        }
    }
}
