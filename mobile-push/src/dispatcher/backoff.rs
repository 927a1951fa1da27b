//! When to try a failed delivery again: exponential back-off with jitter, never sooner than the
//! service asked (`Retry-After`).

use std::time::Duration;

use ebok_common::backoff::Backoff;

/// The wait after the `attempt`-th failure (1-based): `base · 2^(attempt-1)` capped at `max`,
/// jittered into its upper half ([`Backoff::random`]), and at least `retry_after`.
pub fn delay(
    attempt: u32,
    base: Duration,
    max: Duration,
    retry_after: Option<Duration>,
) -> Duration {
    Backoff::new(base, max)
        .random(attempt.max(1))
        .max(retry_after.unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_and_stay_capped() {
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(60);
        for _ in 0..200 {
            let first = delay(1, base, max, None);
            assert!(
                first >= Duration::from_secs(1) && first <= base,
                "{first:?}"
            );
            let third = delay(3, base, max, None);
            assert!(third >= Duration::from_secs(4) && third <= Duration::from_secs(8));
            let late = delay(20, base, max, None);
            assert!(late >= max / 2 && late <= max);
        }
    }

    #[test]
    fn retry_after_is_honoured() {
        let wait = delay(
            1,
            Duration::from_millis(100),
            Duration::from_secs(1),
            Some(Duration::from_secs(30)),
        );
        assert_eq!(wait, Duration::from_secs(30));
    }
}
