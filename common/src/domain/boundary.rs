//! The day rule: what a day's and a month's consumption is, for history, alarms and billing.
//!
//! Meters report when they report: hourly, daily at 00:30, monthly when a resident reads the
//! dial. A day is a Europe/Warsaw calendar day, so what matters is the register at each Warsaw
//! midnight (a *boundary*), and a period's consumption is the register at its end boundary
//! minus the register at its start boundary. The register at a boundary comes from the last
//! reading before it and the first reading at or after it ([`register_at`]):
//!
//! - a reading exactly at the boundary is the register there;
//! - otherwise, when both readings exist, are at most [`INTERPOLATION_MAX_GAP`] apart and the
//!   step between them is consumption (forward, or a plausible rollover), the register is
//!   interpolated linearly in time between them, *marked as interpolated*;
//! - otherwise it is the last reading before the boundary, with that reading's own time (the
//!   water after it is counted in the period where readings resume);
//! - with no reading before, it is unknown.
//!
//! So a meter that reports daily at 00:30 gives day D about 23.5/24 of the water between its
//! readings of D+1 and D, not the water of D−1, and November's register is the one interpolated
//! at 1 December 00:00, not the reading of 30 November 00:31. Because the end boundary of a day
//! is the start boundary of the next, known consumptions add up over any range to the
//! register's advance between the range's own boundaries: nothing is invented and nothing lost.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::Register;

/// The longest span between two readings across which the register at a midnight is
/// interpolated: one missed daily transmission (48 h) and two hours of jitter. Hourly meters
/// are affected only by outages of two days or more; a meter read by hand once a month is never
/// interpolated.
pub const INTERPOLATION_MAX_GAP: Duration = Duration::hours(50);

/// One reading of a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub litres: i64,
}

/// The register at a boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterAt {
    /// The boundary, when the register was read or interpolated there; otherwise the time of
    /// the reading used (the last one before the boundary).
    #[serde(serialize_with = "crate::json::instant")]
    pub at: DateTime<Utc>,
    pub litres: i64,
    /// Interpolated between the readings around the boundary.
    pub interpolated: bool,
}

/// Litres consumed between two readings of one register, or `None` when that is unknown: the
/// register went down and the wrap-around it would imply is more than the meter could pass in
/// the elapsed time (at least an hour's worth), a value lies outside the register, or the
/// readings are not in time order.
pub fn litres_between(
    register: Register,
    max_flow_litres_per_hour: i64,
    from: Sample,
    to: Sample,
) -> Option<i64> {
    if !register.holds(from.litres) || !register.holds(to.litres) || to.at <= from.at {
        return None;
    }
    let seconds = (to.at - from.at).num_seconds().max(3_600);
    let plausible = max_flow_litres_per_hour.saturating_mul(seconds) / 3_600;
    register
        .step(from.litres, to.litres, plausible)
        .consumption()
}

/// The register at `boundary` by the rule of the module docs, from the last reading before it
/// (`before.at < boundary`) and the first at or after it (`after.at >= boundary`).
pub fn register_at(
    register: Register,
    max_flow_litres_per_hour: i64,
    boundary: DateTime<Utc>,
    before: Option<Sample>,
    after: Option<Sample>,
) -> Option<RegisterAt> {
    debug_assert!(before.is_none_or(|b| b.at < boundary));
    debug_assert!(after.is_none_or(|a| a.at >= boundary));
    if let Some(a) = after
        && a.at == boundary
    {
        return Some(RegisterAt {
            at: boundary,
            litres: a.litres,
            interpolated: false,
        });
    }
    let b = before?;
    let fallback = RegisterAt {
        at: b.at,
        litres: b.litres,
        interpolated: false,
    };
    let Some(a) = after.filter(|a| a.at - b.at <= INTERPOLATION_MAX_GAP) else {
        return Some(fallback);
    };
    let Some(used) = litres_between(register, max_flow_litres_per_hour, b, a) else {
        return Some(fallback);
    };
    let span = micros(a.at - b.at);
    let elapsed = micros(boundary - b.at);
    // Rounded down, so the register never passes a reading and stays monotone in time.
    let share = (i128::from(used) * i128::from(elapsed) / i128::from(span)) as i64;
    Some(RegisterAt {
        at: boundary,
        litres: register.advance(b.litres, share),
        interpolated: true,
    })
}

fn micros(d: Duration) -> i64 {
    d.num_microseconds()
        .expect("spans of readings fit in microseconds")
}

/// The consumption between two boundaries' registers: `None` when unknown (a decrease that is
/// not a rollover) or when nothing was read inside the period (`end` is not later than
/// `start`: both fell back to the same reading before a long gap). The flag says whether either
/// register was interpolated.
pub fn between(
    register: Register,
    max_flow_litres_per_hour: i64,
    start: RegisterAt,
    end: RegisterAt,
) -> (Option<i64>, bool) {
    let interpolated = start.interpolated || end.interpolated;
    if end.at <= start.at {
        return (None, interpolated);
    }
    let from = Sample {
        at: start.at,
        litres: start.litres,
    };
    let to = Sample {
        at: end.at,
        litres: end.litres,
    };
    (
        litres_between(register, max_flow_litres_per_hour, from, to),
        interpolated,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FLOW: i64 = 3_125;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn s(at: &str, litres: i64) -> Sample {
        Sample { at: t(at), litres }
    }

    fn reg() -> Register {
        Register::new(99_999_999).unwrap()
    }

    #[test]
    fn a_reading_exactly_at_midnight_is_the_register_there() {
        let at = register_at(
            reg(),
            FLOW,
            t("2026-11-30T23:00:00Z"),
            Some(s("2026-11-30T22:00:00Z", 100)),
            Some(s("2026-11-30T23:00:00Z", 150)),
        );
        assert_eq!(
            at,
            Some(RegisterAt {
                at: t("2026-11-30T23:00:00Z"),
                litres: 150,
                interpolated: false
            })
        );
    }

    #[test]
    fn a_daily_meter_at_half_past_midnight_is_interpolated_to_midnight() {
        // Readings at 00:30 Warsaw (23:30 UTC in winter), 240 l apart; midnight is 23.5 h after
        // the first.
        let at = register_at(
            reg(),
            FLOW,
            t("2026-11-30T23:00:00Z"),
            Some(s("2026-11-29T23:30:00Z", 1_000)),
            Some(s("2026-11-30T23:30:00Z", 1_240)),
        )
        .unwrap();
        assert_eq!(at.litres, 1_235);
        assert!(at.interpolated);
        assert_eq!(at.at, t("2026-11-30T23:00:00Z"));
    }

    #[test]
    fn the_gap_limit_is_inclusive_and_beyond_it_the_reading_before_counts() {
        let b = s("2026-11-01T00:00:00Z", 0);
        let midnight = t("2026-11-02T00:00:00Z");
        let within = Sample {
            at: b.at + INTERPOLATION_MAX_GAP,
            litres: 5_000,
        };
        assert!(
            register_at(reg(), FLOW, midnight, Some(b), Some(within))
                .unwrap()
                .interpolated
        );
        let beyond = Sample {
            at: within.at + Duration::microseconds(1),
            litres: 5_000,
        };
        assert_eq!(
            register_at(reg(), FLOW, midnight, Some(b), Some(beyond)),
            Some(RegisterAt {
                at: b.at,
                litres: 0,
                interpolated: false
            })
        );
    }

    #[test]
    fn a_rollover_is_interpolated_through_the_wrap_and_a_decrease_is_not() {
        let register = Register::new(999).unwrap();
        let rolled = register_at(
            register,
            FLOW,
            t("2026-01-02T00:00:00Z"),
            Some(s("2026-01-01T00:00:00Z", 900)),
            Some(s("2026-01-03T00:00:00Z", 100)),
        )
        .unwrap();
        // 200 l over two days: 100 by the midnight between, wrapping past 999.
        assert_eq!((rolled.litres, rolled.interpolated), (0, true));
        let dropped = register_at(
            reg(),
            FLOW,
            t("2026-01-02T00:00:00Z"),
            Some(s("2026-01-01T23:00:00Z", 50_000_000)),
            Some(s("2026-01-02T01:00:00Z", 100)),
        )
        .unwrap();
        assert_eq!((dropped.litres, dropped.interpolated), (50_000_000, false));
    }

    #[test]
    fn without_a_reading_before_the_register_is_unknown() {
        assert_eq!(
            register_at(
                reg(),
                FLOW,
                t("2026-01-02T00:00:00Z"),
                None,
                Some(s("2026-01-02T01:00:00Z", 100))
            ),
            None
        );
    }

    #[test]
    fn nothing_read_inside_a_period_is_unknown_consumption() {
        let before = RegisterAt {
            at: t("2026-01-01T12:00:00Z"),
            litres: 100,
            interpolated: false,
        };
        assert_eq!(between(reg(), FLOW, before, before), (None, false));
    }

    proptest! {
        /// Between two readings the interpolated register never goes back and stays between
        /// them.
        #[test]
        fn interpolation_is_monotone_and_within_the_readings(
            used in 0i64..500_000,
            span_s in 60i64..(50 * 3_600),
            a in 1i64..(50 * 3_600),
            b in 1i64..(50 * 3_600),
        ) {
            let first = s("2026-03-28T12:00:00Z", 1_000);
            let second = Sample { at: first.at + Duration::seconds(span_s), litres: 1_000 + used };
            let at = |offset: i64| {
                let boundary = first.at + Duration::seconds(offset.min(span_s));
                if boundary == first.at {
                    return first.litres;
                }
                register_at(reg(), 10_000_000, boundary, Some(first), Some(second)).unwrap().litres
            };
            let (x, y) = (at(a.min(b)), at(a.max(b)));
            prop_assert!(first.litres <= x && x <= y && y <= second.litres);
        }
    }
}
