//! Counter-based randomness for the model: a SplitMix64-style mixer, keys derived from
//! (fleet seed, meter index, counter, purpose tag), a small stream of draws seeded from one such
//! key, and the keyed bijections used for radio ids and serial numbers.
//!
//! Nothing here keeps state between calls: every random quantity of the model is a pure function
//! of its key, so meters and days can be evaluated in any order and give the same results.

/// The 64-bit golden ratio increment of SplitMix64.
pub(crate) const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// The SplitMix64 finaliser: a bijection of `u64` with good avalanche.
#[inline]
pub(crate) const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What a random quantity is for. Each purpose gets an independent family of hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Per-meter attributes: profile, habits, register, serial, replacement, battery.
    Meter,
    /// Day-to-day noise of the base daily volume.
    DayNoise,
    /// Household holiday absences (one draw per absence block).
    Absence,
    /// Hour-to-hour jitter of the hourly pattern.
    HourJitter,
    /// Fleet-wide weather (garden watering), shared by all meters of a fleet.
    Weather,
    Leak,
    Burst,
    ReverseFlow,
    Tamper,
    Dry,
    /// Transmission gap days.
    Gap,
    /// Per-transmission-slot draws (time jitter, late, duplicate).
    Slot,
    /// Key of the radio id bijection.
    Radio,
    /// Key of the serial number bijection.
    Serial,
}

impl Purpose {
    const fn salt(self) -> u64 {
        // Arbitrary distinct odd constants, mixed once more when used.
        match self {
            Purpose::Meter => 0x243f_6a88_85a3_08d3,
            Purpose::DayNoise => 0x1319_8a2e_0370_7345,
            Purpose::Absence => 0xa409_3822_299f_31d1,
            Purpose::HourJitter => 0x082e_fa98_ec4e_6c89,
            Purpose::Weather => 0x4528_21e6_38d0_1377,
            Purpose::Leak => 0xbe54_66cf_34e9_0c6d,
            Purpose::Burst => 0xc0ac_29b7_c97c_50dd,
            Purpose::ReverseFlow => 0x3f84_d5b5_b547_0917,
            Purpose::Tamper => 0x9216_d5d9_8979_fb1b,
            Purpose::Dry => 0xd131_0ba6_98df_b5ad,
            Purpose::Gap => 0x2ffd_72db_d01a_dfb7,
            Purpose::Slot => 0xb8e1_afed_6a26_7e97,
            Purpose::Radio => 0x24a1_9947_b391_6cf7,
            Purpose::Serial => 0x0801_f2e2_858e_fc17,
        }
    }
}

/// The key of one meter of one fleet. Injective in `index` for a fixed seed.
pub(crate) const fn meter_key(seed: u64, index: u64) -> u64 {
    mix64(mix64(seed ^ 0x5851_f42d_4c95_7f2d).wrapping_add(index.wrapping_mul(GOLDEN)))
}

/// The key of quantities shared by the whole fleet (weather).
pub(crate) const fn fleet_key(seed: u64) -> u64 {
    mix64(seed ^ 0x6a09_e667_f3bc_c909)
}

/// A hash of (key, purpose, counter); for a fixed key and purpose it is injective in `counter`.
#[inline]
pub(crate) const fn hash(key: u64, purpose: Purpose, counter: i64) -> u64 {
    mix64(mix64(key ^ purpose.salt()).wrapping_add((counter as u64).wrapping_mul(GOLDEN)))
}

/// A probability turned into a threshold: an event with probability `p` happens when a uniform
/// `u64` hash is below the threshold. Exact and float-free at the point of use.
pub(crate) fn threshold(p: f64) -> u64 {
    if p.is_nan() || p <= 0.0 {
        0
    } else if p >= 1.0 {
        u64::MAX
    } else {
        // 2^64 as f64 is exact; the product is below 2^64.
        (p * 18_446_744_073_709_551_616.0) as u64
    }
}

/// The probability that at least one event of a Poisson process with `per_year` events a year
/// happens within `days` days.
pub(crate) fn probability_within(per_year: f64, days: f64) -> f64 {
    if per_year.is_nan() || per_year <= 0.0 {
        0.0
    } else {
        1.0 - (-per_year * days / 365.25).exp()
    }
}

/// A short SplitMix64 stream seeded from one hash: several draws from one key.
#[derive(Clone, Debug)]
pub(crate) struct Draws(u64);

impl Draws {
    pub(crate) const fn new(seed: u64) -> Self {
        // Mix the seed once so that a hash compared against a threshold and then used as a seed
        // gives draws independent of the comparison.
        Draws(mix64(seed ^ 0xd1b5_4a32_d192_ed03))
    }

    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix64(self.0)
    }

    /// Uniform in [0, 1).
    #[inline]
    pub(crate) fn unit(&mut self) -> f64 {
        unit(self.next_u64())
    }

    /// Uniform in [0, n) (0 when n is 0).
    #[inline]
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in [lo, hi] (inclusive).
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        debug_assert!(lo <= hi);
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in [lo, hi).
    pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Log-uniform in [lo, hi] (both positive).
    pub(crate) fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo * (hi / lo).powf(self.unit())
    }

    /// A standard normal variate (Box–Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let a = self.next_u64();
        let b = self.next_u64();
        normal_from(a, b)
    }

    /// A log-normal factor with mean 1 and log-standard-deviation `sigma`.
    pub(crate) fn lognormal_mean_one(&mut self, sigma: f64) -> f64 {
        (sigma * self.normal() - 0.5 * sigma * sigma).exp()
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.next_u64() < threshold(p)
    }

    /// An index chosen with the given non-negative integer weights (0 when all are 0).
    pub(crate) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        if total == 0 {
            return 0;
        }
        let mut pick = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if pick < u64::from(w) {
                return i;
            }
            pick -= u64::from(w);
        }
        weights.len() - 1
    }
}

/// A `u64` hash mapped to [0, 1).
#[inline]
pub(crate) fn unit(x: u64) -> f64 {
    (x >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
}

/// A standard normal variate from two uniform hashes (Box–Muller, cosine branch).
#[inline]
pub(crate) fn normal_from(a: u64, b: u64) -> f64 {
    // (0, 1]: never 0, so the logarithm is finite.
    let u1 = ((a >> 11) as f64 + 1.0) * (1.0 / 9_007_199_254_740_992.0);
    let u2 = unit(b);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A keyed bijection of `u32` (used for radio ids): xor with round keys, multiply by odd
/// constants, xor-shift; each step is invertible, so distinct inputs give distinct outputs.
pub(crate) fn permute_u32(mut x: u32, key: u64) -> u32 {
    for round in 0..3u64 {
        let k = mix64(key.wrapping_add(round.wrapping_mul(GOLDEN)));
        x ^= k as u32;
        x = x.wrapping_mul(0x7feb_352d);
        x ^= x >> 15;
        x = x.wrapping_mul(0x846c_a68b);
        x ^= x >> 16;
        x = x.wrapping_add((k >> 32) as u32);
    }
    x
}

/// The size of the decimal domain of [`permute_decimal8`].
pub(crate) const DECIMAL8: u32 = 100_000_000;

/// A keyed bijection of `[0, 10^8)` (used for the 8 digits of serial numbers): a balanced Feistel
/// network over two halves in `[0, 10^4)` with addition modulo 10^4.
pub(crate) fn permute_decimal8(x: u32, key: u64) -> u32 {
    debug_assert!(x < DECIMAL8);
    const HALF: u64 = 10_000;
    let mut left = u64::from(x) / HALF;
    let mut right = u64::from(x) % HALF;
    for round in 0..6u64 {
        let f = mix64(key ^ (round << 56) ^ right.wrapping_mul(GOLDEN)) % HALF;
        (left, right) = (right, (left + f) % HALF);
    }
    (left * HALF + right) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn decimal_permutation_is_a_bijection_on_a_sample_and_stays_in_range() {
        let key = 0x1234_5678;
        let mut seen = HashSet::new();
        for x in (0..DECIMAL8).step_by(997).take(100_000) {
            let y = permute_decimal8(x, key);
            assert!(y < DECIMAL8);
            assert!(seen.insert(y), "collision at {x}");
        }
    }

    #[test]
    fn u32_permutation_has_no_collisions_on_a_prefix() {
        let mut seen = HashSet::new();
        for x in 0..200_000u32 {
            assert!(seen.insert(permute_u32(x, 42)));
        }
    }

    #[test]
    fn lognormal_factor_has_mean_close_to_one() {
        let mut d = Draws::new(7);
        let n = 200_000;
        let mean: f64 = (0..n).map(|_| d.lognormal_mean_one(0.3)).sum::<f64>() / f64::from(n);
        assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
    }

    #[test]
    fn thresholds_match_probabilities() {
        assert_eq!(threshold(0.0), 0);
        assert_eq!(threshold(1.0), u64::MAX);
        let mut d = Draws::new(9);
        let hits = (0..100_000).filter(|_| d.chance(0.2)).count();
        assert!((19_000..21_000).contains(&hits), "{hits}");
    }
}
