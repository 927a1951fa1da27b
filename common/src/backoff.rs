//! Waiting after failures, the one implementation behind every retry loop: ingest's MQTT
//! connection, Modbus polling, the notification dispatcher and its deliveries, the alarm-rule
//! evaluator, the API's revocation listener. The wait doubles with each failure in a row, from
//! `base` up to `max`; jitter spreads out the many clients that fail together (a broker or a
//! database restarting), so they do not come back in lockstep, while each one's wait still grows.

use std::time::Duration;

use rand::Rng;

/// `base · 2^(failures−1)`, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, max: Duration) -> Backoff {
        Backoff { base, max }
    }

    /// The wait after `failures` (≥ 1) failures in a row; 0 failures wait nothing.
    pub fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let doubling = 1u32 << (failures - 1).min(30);
        self.base.saturating_mul(doubling).min(self.max)
    }

    /// [`delay`](Self::delay) shortened by up to half by `jitter` (in `0.0 ..= 1.0`): between
    /// half the wait and the whole of it.
    pub fn jittered(&self, failures: u32, jitter: f64) -> Duration {
        self.delay(failures)
            .mul_f64(1.0 - jitter.clamp(0.0, 1.0) / 2.0)
    }

    /// [`jittered`](Self::jittered) with a random jitter.
    pub fn random(&self, failures: u32) -> Duration {
        self.jittered(failures, rand::rng().random_range(0.0..=1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn waits_double_up_to_the_cap() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let waits: Vec<u64> = (0..=7).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(waits, [0, 1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(30));
        assert_eq!(b.jittered(3, 1.0), Duration::from_secs(2));
        assert_eq!(b.jittered(3, 0.5), Duration::from_secs(3));
        assert_eq!(b.jittered(3, 7.0), Duration::from_secs(2));
    }

    proptest! {
        #[test]
        fn a_jittered_wait_lies_between_half_and_the_whole(
            base_ms in 1u64..10_000, max_ms in 1u64..600_000, failures in 1u32..100,
            jitter in 0.0f64..=1.0,
        ) {
            let b = Backoff::new(Duration::from_millis(base_ms), Duration::from_millis(max_ms));
            let whole = b.delay(failures);
            let wait = b.jittered(failures, jitter);
            prop_assert!(wait <= whole && wait >= whole / 2);
            prop_assert!(b.delay(failures + 1) >= whole);
        }
    }
}
