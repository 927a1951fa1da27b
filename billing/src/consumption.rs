//! Consumption for an invoice: how many litres each meter passed in each priced piece of the
//! billed period, from the registers at the period's ends (the pure core of billing's readings).
//!
//! The registers come from the day rule of `ebok_common::domain::boundary`, the same as the
//! resident's history: the register at a Warsaw midnight read or interpolated there. A meter's
//! billing starts where its previous invoice ended ([`Point`] of source `Billed`), at its
//! installation reading when installed in the period, or at the register at the period's first
//! midnight; it ends at the register at the last midnight, at its final reading when taken off
//! in the period (a replacement: the old meter's final and the new meter's initial reading), or
//! at an estimate ([`estimate`]) when the meter has not reported since. An estimate is kept as
//! the billed register with how much of it was estimated, so the next real reading settles it:
//! the next invoice counts from the estimated register, and if the estimate was too high the
//! difference comes back as negative consumption there.
//!
//! Between two known registers the water is the register's advance (a rollover past the
//! register's maximum counts when the meter could have passed that much in the time). Where a
//! tariff changes inside the period the register at that midnight splits the water when it is
//! known; otherwise the water between the known registers is shared by time, to the litre, with
//! the remainder going to the pieces with the largest fractions ([`allocate`]). Known water is
//! never invented or lost: the pieces add up to the register's advance.

use chrono::{DateTime, Utc};
use ebok_common::domain::{Register, Step};
use serde::{Deserialize, Serialize};

/// Where a register value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A reading exactly at the boundary.
    Read,
    /// Interpolated at the boundary between the readings around it.
    Interpolated,
    /// The last reading before the boundary (none after it yet, or too far after).
    LastReading,
    /// The meter's installation reading.
    Installation,
    /// The meter's final reading when taken off.
    Removal,
    /// Where the previous invoice of the meter ended.
    Billed,
    /// Estimated from the meter's average daily consumption.
    Estimate,
}

impl Source {
    /// As printed on the invoice's readings ([`crate::document::MeterReading`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Read | Source::LastReading => "read",
            Source::Interpolated => "interpolated",
            Source::Installation => "installation",
            Source::Removal => "removal",
            Source::Billed => "billed",
            Source::Estimate => "estimate",
        }
    }
}

/// A register value at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub litres: i64,
    pub source: Source,
    /// How much of `litres` was estimated on top of the last real reading (0 when all read).
    pub estimated_litres: i64,
}

impl Point {
    pub fn real(at: DateTime<Utc>, litres: i64, source: Source) -> Point {
        Point {
            at,
            litres,
            source,
            estimated_litres: 0,
        }
    }
}

/// The register went down by more than a rollover or a settled estimate explains (reverse
/// flow, a wrong reading, a swapped meter): the water is unknown and the contract is left for
/// staff to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the register went down from {from} l to {to} l")]
pub struct Backward {
    pub from: i64,
    pub to: i64,
}

/// Litres between two registers of one meter: the advance, a plausible rollover, or an
/// over-estimate settled (negative).
pub fn delta(
    register: Register,
    max_flow_litres_per_hour: i64,
    from: Point,
    to: Point,
) -> Result<i64, Backward> {
    if to.litres < from.litres && from.litres - to.litres <= from.estimated_litres {
        return Ok(to.litres - from.litres);
    }
    let seconds = (to.at - from.at).num_seconds().max(3_600);
    let plausible = max_flow_litres_per_hour.saturating_mul(seconds) / 3_600;
    match register.step(from.litres, to.litres, plausible) {
        Step::Forward(l) | Step::Rollover(l) => Ok(l),
        Step::Backward(_) => Err(Backward {
            from: from.litres,
            to: to.litres,
        }),
    }
}

/// The register at `at` estimated from `base` (the last known register) and an average daily
/// consumption: the litres of the elapsed time rounded half-up, marked as an estimate.
pub fn estimate(register: Register, base: Point, at: DateTime<Utc>, daily_litres: i64) -> Point {
    let seconds = (at - base.at).num_seconds().max(0);
    let added = crate::amounts::div_round(i128::from(daily_litres) * i128::from(seconds), 86_400);
    let added = i64::try_from(added).expect("an estimate fits in i64");
    Point {
        at,
        litres: register.advance(base.litres, added),
        source: Source::Estimate,
        estimated_litres: base.estimated_litres + added,
    }
}

/// Average daily litres between two real registers at least a week apart (rounded half-up), or
/// `None` when they are closer or the register went down.
pub fn daily_average(
    register: Register,
    max_flow_litres_per_hour: i64,
    older: Point,
    newer: Point,
) -> Option<i64> {
    let seconds = (newer.at - older.at).num_seconds();
    if seconds < 7 * 86_400 {
        return None;
    }
    let litres = delta(
        register,
        max_flow_litres_per_hour,
        Point {
            estimated_litres: 0,
            ..older
        },
        newer,
    )
    .ok()?;
    let average = crate::amounts::div_round(i128::from(litres) * 86_400, i128::from(seconds));
    i64::try_from(average).ok()
}

/// Shares the litres of each span between consecutive `points` (one meter's known registers, in
/// time order) among the pieces `cuts[i] .. cuts[i + 1]` by the time each span spends in each
/// piece. A span outside the cuts counts in the nearest piece. Returns the litres per piece
/// (`cuts.len() - 1` of them), which add up to the registers' total advance.
pub fn allocate(
    register: Register,
    max_flow_litres_per_hour: i64,
    points: &[Point],
    cuts: &[DateTime<Utc>],
) -> Result<Vec<i64>, Backward> {
    assert!(cuts.len() >= 2, "at least one piece");
    let pieces = cuts.len() - 1;
    let mut out = vec![0i64; pieces];
    let first = cuts[0];
    let last = cuts[pieces];
    for pair in points.windows(2) {
        let (p, q) = (pair[0], pair[1]);
        let litres = delta(register, max_flow_litres_per_hour, p, q)?;
        if litres == 0 {
            continue;
        }
        let from = p.at.clamp(first, last);
        let to = q.at.clamp(first, last);
        let weights: Vec<i64> = (0..pieces)
            .map(|i| {
                let start = from.max(cuts[i]);
                let end = to.min(cuts[i + 1]);
                (end - start).num_seconds().max(0)
            })
            .collect();
        let total: i64 = weights.iter().sum();
        if total == 0 {
            // The whole span lies at one instant (or outside the cuts): the piece it touches.
            let piece = (0..pieces)
                .find(|&i| from < cuts[i + 1])
                .unwrap_or(pieces - 1);
            out[piece] += litres;
            continue;
        }
        share(litres, &weights, total, &mut out);
    }
    Ok(out)
}

/// Adds `litres × weight / total` to each piece, rounded down, and the remaining litres one
/// each to the pieces with the largest remainders (the earlier piece on a tie).
fn share(litres: i64, weights: &[i64], total: i64, out: &mut [i64]) {
    let sign = litres.signum();
    let abs = i128::from(litres.abs());
    let mut given = 0i128;
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (i, &w) in weights.iter().enumerate() {
        let exact = abs * i128::from(w);
        let whole = exact / i128::from(total);
        given += whole;
        out[i] += sign * whole as i64;
        remainders.push((exact % i128::from(total), i));
    }
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take((abs - given) as usize) {
        out[i] += sign;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    const FLOW: i64 = 5_000;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn reg() -> Register {
        Register::new(99_999_999).unwrap()
    }

    fn read(at: &str, litres: i64) -> Point {
        Point::real(t(at), litres, Source::Read)
    }

    #[test]
    fn without_a_register_between_the_water_is_shared_by_time() {
        // 30 days, a change after 10: 3 000 l is 1 000 and 2 000.
        let cuts = [
            t("2026-11-01T00:00:00Z"),
            t("2026-11-11T00:00:00Z"),
            t("2026-12-01T00:00:00Z"),
        ];
        let points = [
            read("2026-11-01T00:00:00Z", 10_000),
            read("2026-12-01T00:00:00Z", 13_000),
        ];
        assert_eq!(
            allocate(reg(), FLOW, &points, &cuts).unwrap(),
            [1_000, 2_000]
        );
    }

    #[test]
    fn a_register_at_the_change_splits_the_water_exactly() {
        let cuts = [
            t("2026-11-01T00:00:00Z"),
            t("2026-11-11T00:00:00Z"),
            t("2026-12-01T00:00:00Z"),
        ];
        let points = [
            read("2026-11-01T00:00:00Z", 10_000),
            read("2026-11-11T00:00:00Z", 12_500),
            read("2026-12-01T00:00:00Z", 13_000),
        ];
        assert_eq!(allocate(reg(), FLOW, &points, &cuts).unwrap(), [2_500, 500]);
    }

    #[test]
    fn a_rollover_is_water_and_a_drop_is_not() {
        let small = Register::new(99_999).unwrap();
        let cuts = [t("2026-11-01T00:00:00Z"), t("2026-12-01T00:00:00Z")];
        let rolled = [
            read("2026-11-01T00:00:00Z", 99_000),
            read("2026-12-01T00:00:00Z", 500),
        ];
        assert_eq!(allocate(small, FLOW, &rolled, &cuts).unwrap(), [1_500]);
        let dropped = [
            read("2026-11-01T00:00:00Z", 50_000_000),
            read("2026-12-01T00:00:00Z", 500),
        ];
        assert_eq!(
            allocate(reg(), FLOW, &dropped, &cuts),
            Err(Backward {
                from: 50_000_000,
                to: 500
            })
        );
    }

    #[test]
    fn an_over_estimate_is_settled_as_negative_water() {
        let base = read("2026-10-15T00:00:00Z", 1_000);
        let estimated = estimate(reg(), base, t("2026-11-01T00:00:00Z"), 100);
        // 17 days at 100 l.
        assert_eq!(
            (estimated.litres, estimated.estimated_litres),
            (2_700, 1_700)
        );
        let real = read("2026-12-01T00:00:00Z", 2_500);
        assert_eq!(delta(reg(), FLOW, estimated, real), Ok(-200));
        // Beyond what was estimated a drop is still a drop.
        let wrong = read("2026-12-01T00:00:00Z", 900);
        assert!(delta(reg(), FLOW, estimated, wrong).is_err());
    }

    #[test]
    fn the_average_needs_a_week() {
        let older = read("2026-08-01T00:00:00Z", 0);
        assert_eq!(
            daily_average(reg(), FLOW, older, read("2026-08-05T00:00:00Z", 400)),
            None
        );
        assert_eq!(
            daily_average(reg(), FLOW, older, read("2026-10-30T00:00:00Z", 9_000)),
            Some(100)
        );
    }

    proptest! {
        /// Water is never invented nor lost: the pieces add up to the registers' advance, and
        /// with every register going forward no piece is negative.
        #[test]
        fn pieces_add_up_and_are_never_negative(
            steps in proptest::collection::vec((1i64..20 * 86_400, 0i64..5_000), 1..8),
            cut_offsets in proptest::collection::vec(1i64..40 * 86_400, 0..4),
        ) {
            let start = t("2026-03-01T00:00:00Z");
            let mut points = vec![Point::real(start, 1_000, Source::Read)];
            for (dt, used) in &steps {
                let p = *points.last().unwrap();
                points.push(Point::real(p.at + Duration::seconds(*dt), p.litres + used, Source::Read));
            }
            let end = points.last().unwrap().at;
            let mut cuts = vec![start];
            let mut inner: Vec<_> = cut_offsets.iter().map(|o| start + Duration::seconds(*o)).filter(|c| *c < end).collect();
            inner.sort();
            inner.dedup();
            cuts.extend(inner);
            cuts.push(end);
            let pieces = allocate(reg(), FLOW, &points, &cuts).unwrap();
            prop_assert_eq!(pieces.iter().sum::<i64>(), points.last().unwrap().litres - 1_000);
            prop_assert!(pieces.iter().all(|l| *l >= 0));
        }

        /// Splitting a period at any instant and adding the parts gives the whole.
        #[test]
        fn a_split_period_is_the_sum_of_its_parts(
            used in 0i64..1_000_000, split in 1i64..(30 * 86_400 - 1), second_split in 1i64..(30 * 86_400 - 1)
        ) {
            let start = t("2026-10-01T00:00:00Z");
            let end = start + Duration::days(30);
            let points = [Point::real(start, 0, Source::Read), Point::real(end, used, Source::Read)];
            let whole = allocate(reg(), FLOW, &points, &[start, end]).unwrap();
            let (a, b) = (split.min(second_split), split.max(second_split));
            let mut cuts = vec![start, start + Duration::seconds(a)];
            if b > a { cuts.push(start + Duration::seconds(b)); }
            cuts.push(end);
            let parts = allocate(reg(), FLOW, &points, &cuts).unwrap();
            prop_assert_eq!(parts.iter().sum::<i64>(), whole[0]);
        }

        /// An estimate settled by any later real reading: what was billed over the two periods
        /// is the real advance.
        #[test]
        fn an_estimate_settles_to_the_real_advance(daily in 0i64..2_000, real_used in 0i64..100_000) {
            let base = read("2026-10-20T00:00:00Z", 5_000);
            let boundary = t("2026-11-01T00:00:00Z");
            let estimated = estimate(reg(), base, boundary, daily);
            let first = delta(reg(), FLOW, base, estimated).unwrap();
            let real = read("2026-12-01T00:00:00Z", 5_000 + real_used);
            let second = delta(reg(), FLOW, estimated, real);
            // A real reading below the estimate is settled; the total is the real water.
            if let Ok(second) = second {
                prop_assert_eq!(first + second, real_used);
            } else {
                prop_assert!(real_used < first - estimated.estimated_litres);
            }
        }
    }
}
