//! Meter register arithmetic: how much water passed between two readings of one register that
//! counts `0 ..= max_litres` and then wraps to zero. A decrease is either a rollover (the register
//! passed its maximum, which is consumption) or a genuine decrease (reverse flow, a wrong
//! reading, a swapped meter), which is never turned into consumption.

/// A meter's register: the largest value it shows before wrapping to 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Register {
    max_litres: i64,
}

/// What happened to the register between two readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The register moved up (or stayed) by this many litres.
    Forward(i64),
    /// The register passed its maximum and wrapped; this many litres were consumed.
    Rollover(i64),
    /// The register went down by this many litres without a plausible rollover.
    Backward(i64),
}

impl Step {
    /// Litres consumed, if the step is consumption at all.
    pub fn consumption(self) -> Option<i64> {
        match self {
            Step::Forward(l) | Step::Rollover(l) => Some(l),
            Step::Backward(_) => None,
        }
    }
}

impl Register {
    /// `None` for a non-positive maximum.
    pub fn new(max_litres: i64) -> Option<Self> {
        (max_litres > 0).then_some(Self { max_litres })
    }

    pub fn max_litres(self) -> i64 {
        self.max_litres
    }

    /// Whether `value` can be shown by this register at all.
    pub fn holds(self, value: i64) -> bool {
        (0..=self.max_litres).contains(&value)
    }

    /// Classifies the move from `prev` to `next`. A decrease counts as a rollover only when the
    /// consumption it implies, `(max - prev) + 1 + next`, is at most `plausible_litres` (the caller
    /// bounds it from the elapsed time and the meter's maximum flow); otherwise it is a decrease.
    /// Both values must be within the register (`holds`).
    pub fn step(self, prev: i64, next: i64, plausible_litres: i64) -> Step {
        debug_assert!(self.holds(prev) && self.holds(next));
        if next >= prev {
            return Step::Forward(next - prev);
        }
        let wrapped = (self.max_litres - prev) + 1 + next;
        if wrapped <= plausible_litres {
            Step::Rollover(wrapped)
        } else {
            Step::Backward(prev - next)
        }
    }

    /// The value shown after `litres` more flowed through from `value`.
    pub fn advance(self, value: i64, litres: i64) -> i64 {
        (value + litres).rem_euclid(self.max_litres + 1)
    }
}

/// The most water a meter of nominal diameter `diameter_mm` passes in an hour, in litres: twice
/// the permanent flow rate Q3 of EN ISO 4064 meters, more than a meter passes for long without
/// breaking. Unknown diameters count as DN15 (the household meter). Ingest validates increases
/// with it; the read side tells a rollover from a wrong reading with it.
pub fn max_flow_litres_per_hour(diameter_mm: Option<i16>) -> i64 {
    let q3_litres_per_hour = match diameter_mm.unwrap_or(15) {
        ..=15 => 2_500,
        16..=20 => 4_000,
        21..=25 => 6_300,
        26..=32 => 10_000,
        33..=40 => 16_000,
        41..=50 => 25_000,
        51..=80 => 63_000,
        81..=100 => 100_000,
        _ => 250_000,
    };
    2 * q3_litres_per_hour
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FIVE_DIGITS: i64 = 99_999_999; // 99,999.999 m³

    #[test]
    fn increase_is_forward_consumption() {
        let r = Register::new(FIVE_DIGITS).unwrap();
        assert_eq!(r.step(1_000, 1_250, 0), Step::Forward(250));
        assert_eq!(r.step(1_000, 1_000, 0), Step::Forward(0));
    }

    #[test]
    fn wrap_near_maximum_is_rollover_consumption() {
        let r = Register::new(FIVE_DIGITS).unwrap();
        // 99 litres up to the maximum, 1 to wrap to zero, 150 after it.
        assert_eq!(r.step(99_999_900, 150, 10_000), Step::Rollover(250));
    }

    #[test]
    fn decrease_far_from_maximum_is_backward_not_consumption() {
        let r = Register::new(FIVE_DIGITS).unwrap();
        let step = r.step(5_000_000, 4_999_990, 10_000);
        assert_eq!(step, Step::Backward(10));
        assert_eq!(step.consumption(), None);
    }

    #[test]
    fn non_positive_register_is_refused() {
        assert!(Register::new(0).is_none());
        assert!(Register::new(-5).is_none());
    }

    proptest! {
        #[test]
        fn advancing_then_stepping_recovers_the_consumption(
            max in 1_000i64..=FIVE_DIGITS,
            start_frac in 0.0f64..1.0,
            used_frac in 0.0f64..0.5,
        ) {
            let r = Register::new(max).unwrap();
            let start = ((max as f64) * start_frac) as i64;
            let used = ((max as f64) * used_frac) as i64;
            let next = r.advance(start, used);
            prop_assert!(r.holds(next));
            prop_assert_eq!(r.step(start, next, used).consumption(), Some(used));
        }

        #[test]
        fn consumption_is_never_negative(
            max in 1i64..=FIVE_DIGITS,
            a in 0i64..=FIVE_DIGITS,
            b in 0i64..=FIVE_DIGITS,
            plausible in 0i64..=FIVE_DIGITS,
        ) {
            let r = Register::new(max).unwrap();
            let (a, b) = (a % (max + 1), b % (max + 1));
            if let Some(c) = r.step(a, b, plausible).consumption() {
                prop_assert!(c >= 0);
                prop_assert_eq!(r.advance(a, c), b);
            }
        }
    }
}
