//! The simulation clock: simulated time running at `speed` times the real clock from a chosen
//! simulated start ([`SimClock`]). The publisher walks the fleet's transmissions against it and
//! the Modbus server answers with the registers at its `now()`.
//!
//! Real time is measured with [`tokio::time::Instant`], so tests may pause and advance tokio's
//! clock. A speed of `f64::INFINITY` means "as fast as possible": every simulated instant has
//! already passed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// Simulated time: `start_sim + (real − start_real) × speed`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimClock {
    /// The simulated instant at `start_real`.
    pub start_sim: DateTime<Utc>,
    /// The real instant at which the simulation is at `start_sim`.
    pub start_real: Instant,
    /// Simulated seconds per real second: 1.0 is real time, `f64::INFINITY` is unbounded.
    pub speed: f64,
}

/// The error of a clock speed that is not a positive number.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error("the clock speed must be positive (f64::INFINITY for unbounded), got {0}")]
pub struct InvalidSpeed(pub f64);

impl SimClock {
    /// A clock at `start_sim` now, running at `speed`.
    pub fn new(start_sim: DateTime<Utc>, speed: f64) -> Result<Self, InvalidSpeed> {
        Self::starting_at(start_sim, Instant::now(), speed)
    }

    /// A clock that is at `start_sim` at the real instant `start_real`.
    pub fn starting_at(
        start_sim: DateTime<Utc>,
        start_real: Instant,
        speed: f64,
    ) -> Result<Self, InvalidSpeed> {
        if speed.is_nan() || speed <= 0.0 {
            return Err(InvalidSpeed(speed));
        }
        Ok(SimClock {
            start_sim,
            start_real,
            speed,
        })
    }

    /// A real-time clock (speed 1) at `start_sim` now.
    pub fn real_time(start_sim: DateTime<Utc>) -> Self {
        SimClock {
            start_sim,
            start_real: Instant::now(),
            speed: 1.0,
        }
    }

    /// Whether simulated time is unbounded (every simulated instant has passed).
    pub fn is_unbounded(&self) -> bool {
        self.speed.is_infinite()
    }

    /// The simulated instant now.
    pub fn now(&self) -> DateTime<Utc> {
        self.at(Instant::now())
    }

    /// The simulated instant at the real instant `real` (before `start_real`, time runs
    /// backwards from `start_sim` at the same speed). Saturates at chrono's range.
    pub fn at(&self, real: Instant) -> DateTime<Utc> {
        if self.is_unbounded() {
            return DateTime::<Utc>::MAX_UTC;
        }
        let (elapsed, sign) = if real >= self.start_real {
            (real - self.start_real, 1.0)
        } else {
            (self.start_real - real, -1.0)
        };
        let nanos = elapsed.as_nanos() as f64 * self.speed * sign;
        let nanos = nanos.clamp(i64::MIN as f64, i64::MAX as f64) as i64;
        self.start_sim
            .checked_add_signed(chrono::Duration::nanoseconds(nanos))
            .unwrap_or(if nanos < 0 {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            })
    }

    /// The real instant at which the simulation reaches `sim` (in the past for instants already
    /// passed; `start_real` for every instant when unbounded).
    pub fn real_at(&self, sim: DateTime<Utc>) -> Instant {
        if self.is_unbounded() {
            return self.start_real;
        }
        let delta = sim - self.start_sim;
        let sim_ns = delta
            .num_nanoseconds()
            .map(|n| n as f64)
            .unwrap_or(delta.num_milliseconds() as f64 * 1e6);
        // Rounded up, so that the simulation has reached `sim` at the returned instant; capped
        // at ~100 years of real time so the Instant arithmetic cannot overflow.
        let real_ns = (sim_ns.abs() / self.speed).ceil().min(3.2e18);
        let d = Duration::from_nanos(real_ns as u64);
        if sim_ns >= 0.0 {
            self.start_real + d
        } else {
            self.start_real.checked_sub(d).unwrap_or(self.start_real)
        }
    }

    /// How long in real time until the simulation reaches `sim` (zero if it has).
    pub fn real_until(&self, sim: DateTime<Utc>) -> Duration {
        self.real_at(sim).saturating_duration_since(Instant::now())
    }

    /// Waits until the simulation reaches `sim`.
    pub async fn sleep_until(&self, sim: DateTime<Utc>) {
        tokio::time::sleep_until(self.real_at(sim)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_clock_maps_real_time_to_simulated_time_at_its_speed() {
        let real = Instant::now();
        let clock = SimClock::starting_at(t("2026-01-01T00:00:00Z"), real, 3_600.0).unwrap();
        assert_eq!(clock.at(real), t("2026-01-01T00:00:00Z"));
        // One real second is one simulated hour.
        assert_eq!(
            clock.at(real + Duration::from_secs(1)),
            t("2026-01-01T01:00:00Z")
        );
        assert_eq!(
            clock.at(real + Duration::from_millis(250)),
            t("2026-01-01T00:15:00Z")
        );
        // And back.
        assert_eq!(
            clock.real_at(t("2026-01-01T02:00:00Z")),
            real + Duration::from_secs(2)
        );
        assert_eq!(
            clock.real_at(t("2025-12-31T23:00:00Z")),
            real - Duration::from_secs(1)
        );
    }

    #[test]
    fn speed_one_is_real_time() {
        let real = Instant::now();
        let clock = SimClock::starting_at(t("2026-03-29T00:59:00Z"), real, 1.0).unwrap();
        assert_eq!(
            clock.at(real + Duration::from_secs(90)),
            t("2026-03-29T01:00:30Z")
        );
    }

    #[test]
    fn non_positive_speeds_are_refused_and_infinite_speed_is_unbounded() {
        let start = t("2026-01-01T00:00:00Z");
        assert!(SimClock::new(start, 0.0).is_err());
        assert!(SimClock::new(start, -2.0).is_err());
        assert!(SimClock::new(start, f64::NAN).is_err());
        let fast = SimClock::new(start, f64::INFINITY).unwrap();
        assert!(fast.is_unbounded());
        assert_eq!(fast.now(), DateTime::<Utc>::MAX_UTC);
        assert_eq!(fast.real_until(t("2100-01-01T00:00:00Z")), Duration::ZERO);
    }

    #[tokio::test]
    async fn now_follows_the_real_clock_and_sleep_until_wakes_at_the_simulated_instant() {
        // One real millisecond is one simulated minute.
        let clock = SimClock::new(t("2026-01-01T00:00:00Z"), 60_000.0).unwrap();
        let target = t("2026-01-01T02:00:00Z");
        clock.sleep_until(target).await;
        let now = clock.now();
        assert!(now >= target, "{now}");
        assert!(now < target + chrono::Duration::minutes(100), "{now}");
    }
}
