//! The pure core of alarm rules: given a rule, the meter's recent readings (oldest first, the
//! newest last) and its register, is the condition true now, and what does the trigger say?
//! No I/O; the [`Evaluator`](super::Evaluator) loads the window each kind needs and stores the
//! [`Decision`].
//!
//! - `daily_above X`: litres used in a Warsaw day by the day rule of history and billing
//!   (`ebok_common::domain::boundary`): from the register at the day's start midnight
//!   (interpolated between the readings around it, else the last reading before it, else the
//!   day's first reading) to the newest reading, step by step so a register rollover counts and a
//!   decrease does not. True above X; the episode is the day, so it triggers at most once per day
//!   and ends with the day. The day of the newest reading is checked as it goes; the day before
//!   it is checked whole (to the register at its end midnight) once a reading after that
//!   midnight has come, which is how a meter that reports once a day, after midnight, ever shows
//!   a day above X.
//! - `continuous_flow N`: the trailing run of intervals that each used water and are at most
//!   [`FLOW_MAX_GAP`] long started at least N hours before the newest reading. Daily readings
//!   never show it. The episode ends at the first interval without use; a gap in the data (or a
//!   decrease) says nothing either way and ends nothing.
//! - `no_consumption N`: every reading from one at or before N days before the newest shows the
//!   newest's value, and the newest is at most [`NO_CONSUMPTION_FRESH`] old (readings keep
//!   arriving: a silent meter is "no data", not "no consumption"). The episode is the still
//!   register value and ends at the first reading showing another value.
//! - `device_alarm` is not a condition over readings (see the module above); [`decide`] never
//!   opens it.

use chrono::{DateTime, Duration, Utc};
use ebok_common::domain::Register;
use ebok_common::domain::boundary::{self, Sample};
use ebok_common::domain::time::{day_bounds, local_day};

use crate::{RuleKind, describe, polish};

/// Readings further apart than this are not interval data. An hour, plus the jitter of meters
/// that transmit "hourly" (a few minutes late, now and then).
pub const FLOW_MAX_GAP: Duration = Duration::minutes(65);

/// `no_consumption` needs a newest reading at most this old.
pub const NO_CONSUMPTION_FRESH: Duration = Duration::days(2);

/// The most water any meter passes in an hour (twice the Q3 of a DN150 meter), for telling a
/// register rollover from a decrease.
const MAX_FLOW_LITRES_PER_HOUR: i64 = 500_000;

/// One reading of the meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub at: DateTime<Utc>,
    pub litres: i64,
}

/// The rule's open episode, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenEpisode {
    pub episode: String,
    pub since: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub ends_by: Option<DateTime<Utc>>,
    pub litres: Option<i64>,
}

/// A new episode to record (and announce).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    /// Unique within the rule: `day:2026-11-21`, `flow:<start>`, `still:<litres>`.
    pub episode: String,
    /// When the condition began, as far as the readings show.
    pub since: DateTime<Utc>,
    /// The reading that made it true.
    pub at: DateTime<Utc>,
    /// When it ends by itself (the end of the day of `daily_above`).
    pub ends_by: Option<DateTime<Utc>>,
    pub litres: Option<i64>,
    /// For the resident, Polish: the notice's "Szczegóły" and the portal's history.
    pub detail: String,
}

/// What to do with the rule's episodes: end the open one (at that instant), then open a new one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    pub close_at: Option<DateTime<Utc>>,
    pub open: Option<Episode>,
}

/// Litres used from `a` to `b` (a later reading): a rise, or a rollover past the register's
/// maximum when the water it implies could have flowed; `None` for a decrease.
pub fn used(register: Register, a: &Reading, b: &Reading) -> Option<i64> {
    let max = register.max_litres();
    let hours = ((b.at - a.at).num_seconds().max(0) as f64 / 3600.0).max(1.0);
    let by_flow = (MAX_FLOW_LITRES_PER_HOUR as f64 * hours).min(i64::MAX as f64 / 2.0) as i64;
    let plausible = by_flow.min(max / 2);
    register
        .step(a.litres.clamp(0, max), b.litres.clamp(0, max), plausible)
        .consumption()
}

fn sample(r: &Reading) -> Sample {
    Sample {
        at: r.at,
        litres: r.litres,
    }
}

/// The register at the Warsaw midnight `at` by the day rule: interpolated between the readings
/// around it, else the last reading before it; `None` with no reading before it.
fn register_at(register: Register, readings: &[Reading], at: DateTime<Utc>) -> Option<Reading> {
    let next = readings.partition_point(|r| r.at < at);
    let before = next.checked_sub(1).map(|i| sample(&readings[i]));
    let after = readings.get(next).map(sample);
    boundary::register_at(register, MAX_FLOW_LITRES_PER_HOUR, at, before, after).map(|r| Reading {
        at: r.at,
        litres: r.litres,
    })
}

/// For each reading of the Warsaw `day` (up to the last in `readings`), the litres used since
/// the register at the day's start midnight (by the day rule; the day's first reading when
/// nothing was read before the day).
pub fn day_cumulative(
    register: Register,
    readings: &[Reading],
    day: chrono::NaiveDate,
) -> Vec<(DateTime<Utc>, i64)> {
    let (start, end) = day_bounds(day);
    let first_in_day = readings.partition_point(|r| r.at < start);
    let mut previous = register_at(register, readings, start);
    let mut out = Vec::new();
    let mut total = 0i64;
    for r in readings[first_in_day..].iter().take_while(|r| r.at < end) {
        if let Some(p) = previous
            && r.at > p.at
        {
            total += used(register, &p, r).unwrap_or(0);
        }
        out.push((r.at, total));
        previous = Some(*r);
    }
    out
}

/// Litres used in the whole Warsaw `day`, from the register at its start midnight to the
/// register at its end midnight (the day rule); `None` until a reading after the day's end has
/// come, or when nothing was read before the day.
pub fn whole_day_consumption(
    register: Register,
    readings: &[Reading],
    day: chrono::NaiveDate,
) -> Option<i64> {
    let (start, end) = day_bounds(day);
    readings.last().filter(|r| r.at >= end)?;
    let from = register_at(register, readings, start)?;
    let to = register_at(register, readings, end)?;
    if to.at <= from.at {
        return Some(0);
    }
    // Step by step through the day's readings, as the cumulative count does.
    let mut total = 0;
    let mut previous = from;
    for r in readings
        .iter()
        .filter(|r| r.at > from.at && r.at < to.at)
        .chain(std::iter::once(&to))
    {
        total += used(register, &previous, r).unwrap_or(0);
        previous = *r;
    }
    Some(total)
}

/// Litres used in the Warsaw `day` so far; `None` without a reading in the day.
pub fn day_consumption(
    register: Register,
    readings: &[Reading],
    day: chrono::NaiveDate,
) -> Option<i64> {
    day_cumulative(register, readings, day)
        .last()
        .map(|(_, l)| *l)
}

/// Start of the trailing run of flowing intervals (each used water, none longer than
/// [`FLOW_MAX_GAP`]) ending at the newest reading; `None` when the last interval did not flow.
pub fn flowing_since(register: Register, readings: &[Reading]) -> Option<DateTime<Utc>> {
    let mut since = None;
    for pair in readings.windows(2).rev() {
        let (a, b) = (&pair[0], &pair[1]);
        let flowed = b.at - a.at <= FLOW_MAX_GAP && used(register, a, b).is_some_and(|l| l > 0);
        if !flowed {
            break;
        }
        since = Some(a.at);
    }
    since
}

/// The end of the first interval without any use that ends after `after`: a real pause in the
/// flow, however long.
pub fn first_pause_after(
    register: Register,
    readings: &[Reading],
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    readings
        .windows(2)
        .find(|p| p[1].at > after && used(register, &p[0], &p[1]) == Some(0))
        .map(|p| p[1].at)
}

/// The first reading of the trailing run showing the newest reading's value.
pub fn still_since(readings: &[Reading]) -> Option<DateTime<Utc>> {
    let newest = readings.last()?;
    readings
        .iter()
        .rev()
        .take_while(|r| r.litres == newest.litres)
        .last()
        .map(|r| r.at)
}

/// What a rule remembers between evaluations.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory<'a> {
    /// The key of its newest episode, open or not.
    pub last_episode: Option<&'a str>,
    /// The newest reading it has evaluated; `None` for a rule new or switched on again.
    pub evaluated_through: Option<DateTime<Utc>>,
}

/// Decides what a rule's episodes do, given its open one, what it remembers, the meter's
/// readings in the window the kind needs (oldest first) and the current time.
pub fn decide(
    kind: RuleKind,
    register: Register,
    readings: &[Reading],
    open: Option<&OpenEpisode>,
    memory: Memory<'_>,
    now: DateTime<Utc>,
) -> Decision {
    let Some(newest) = readings.last() else {
        return Decision {
            close_at: open.and_then(|o| o.ends_by.filter(|e| *e <= now)),
            open: None,
        };
    };
    match kind {
        RuleKind::DailyAbove { litres } => {
            daily_above(litres, register, readings, open, memory, now)
        }
        RuleKind::ContinuousFlow { hours } => {
            continuous_flow(hours, register, readings, newest, open)
        }
        RuleKind::NoConsumption { days } => no_consumption(days, readings, newest, open, now),
        RuleKind::DeviceAlarm => Decision::default(),
    }
}

fn daily_above(
    threshold: i64,
    register: Register,
    readings: &[Reading],
    open: Option<&OpenEpisode>,
    memory: Memory<'_>,
    now: DateTime<Utc>,
) -> Decision {
    let newest = readings.last().expect("checked by decide");
    let day = local_day(newest.at);
    let episode = format!("day:{day}");
    let close_at = open.and_then(|o| {
        o.ends_by
            .filter(|e| *e <= now || *e <= newest.at || o.episode != episode)
    });
    let mut decision = Decision {
        close_at,
        open: None,
    };
    if open.is_some_and(|o| close_at.is_none() || o.episode == episode) {
        return decision;
    }
    let cumulative = day_cumulative(register, readings, day);
    let Some(&(_, total)) = cumulative.last() else {
        return decision;
    };
    if total <= threshold {
        // The day before, whole, now that its end is known: if the rule was watching it (it had
        // evaluated a reading of that day; not a rule new or switched on again today), and it
        // has no episode for it already (then that is the rule's newest: today has none).
        let previous = day.pred_opt().expect("a day before");
        let previous_key = format!("day:{previous}");
        let watching = memory
            .evaluated_through
            .is_some_and(|t| t >= day_bounds(previous).0);
        if watching
            && memory.last_episode != Some(previous_key.as_str())
            && let Some(whole) = whole_day_consumption(register, readings, previous)
            && whole > threshold
        {
            let (start, end) = day_bounds(previous);
            let first_after = readings
                .iter()
                .find(|r| r.at >= end)
                .expect("checked by whole_day_consumption");
            decision.open = Some(Episode {
                episode: previous_key,
                since: start,
                at: first_after.at,
                // Over already: it ends as it is recorded.
                ends_by: Some(first_after.at.max(end)),
                litres: Some(whole),
                detail: format!(
                    "W dobie {} zużyto {}; próg alarmu to {}.",
                    ebok_common::polish::day(previous),
                    ebok_common::polish::litres(whole),
                    ebok_common::polish::litres(threshold)
                ),
            });
        }
        return decision;
    }
    let (crossed_at, _) = *cumulative
        .iter()
        .find(|(_, l)| *l > threshold)
        .expect("the total is above the threshold");
    let (start, end) = day_bounds(day);
    decision.open = Some(Episode {
        episode,
        since: start,
        at: crossed_at,
        ends_by: Some(end),
        litres: Some(total),
        detail: format!(
            "Od początku doby ({}) do {} zużyto {}; próg alarmu to {}.",
            ebok_common::polish::day(day),
            ebok_common::polish::clock(newest.at),
            ebok_common::polish::litres(total),
            ebok_common::polish::litres(threshold)
        ),
    });
    decision
}

fn continuous_flow(
    hours: i32,
    register: Register,
    readings: &[Reading],
    newest: &Reading,
    open: Option<&OpenEpisode>,
) -> Decision {
    let needed = Duration::hours(hours.into());
    let close_at = open.and_then(|o| first_pause_after(register, readings, o.since));
    let mut decision = Decision {
        close_at,
        open: None,
    };
    if open.is_some() && close_at.is_none() {
        return decision;
    }
    let Some(since) = flowing_since(register, readings) else {
        return decision;
    };
    if newest.at - since < needed {
        return decision;
    }
    let episode = format!("flow:{}", since.to_rfc3339());
    if open.is_some_and(|o| o.episode == episode) {
        return decision;
    }
    let from = readings.partition_point(|r| r.at < since);
    let run = &readings[from..];
    let reached = run
        .iter()
        .find(|r| r.at - since >= needed)
        .expect("the run is long enough");
    let litres: i64 = run
        .windows(2)
        .filter_map(|p| used(register, &p[0], &p[1]))
        .sum();
    let flowing_hours = (newest.at - since).num_hours().clamp(0, i32::MAX.into()) as i32;
    decision.open = Some(Episode {
        episode,
        since,
        at: reached.at,
        ends_by: None,
        litres: Some(litres),
        detail: format!(
            "Od {} woda płynęła bez przerwy przez co najmniej {}; zużyto w tym czasie {}. \
             Sprawdź krany i spłuczki; jeśli nikt nie pobiera wody, zakręć zawór główny.",
            ebok_common::polish::instant(since),
            polish::hours(flowing_hours.max(hours)),
            ebok_common::polish::litres(litres)
        ),
    });
    decision
}

fn no_consumption(
    days: i32,
    readings: &[Reading],
    newest: &Reading,
    open: Option<&OpenEpisode>,
    now: DateTime<Utc>,
) -> Decision {
    let needed = Duration::days(days.into());
    let close_at = open.and_then(|o| {
        readings
            .iter()
            .find(|r| r.at > o.started_at && Some(r.litres) != o.litres)
            .map(|r| r.at)
    });
    let mut decision = Decision {
        close_at,
        open: None,
    };
    if open.is_some() && close_at.is_none() {
        return decision;
    }
    if now - newest.at > NO_CONSUMPTION_FRESH {
        return decision;
    }
    let Some(since) = still_since(readings) else {
        return decision;
    };
    if newest.at - since < needed {
        return decision;
    }
    let episode = format!("still:{}", newest.litres);
    if open.is_some_and(|o| o.episode == episode) {
        return decision;
    }
    let reached = readings
        .iter()
        .find(|r| r.at >= since && r.at - since >= needed)
        .expect("the standstill is long enough");
    decision.open = Some(Episode {
        episode,
        since,
        at: reached.at,
        ends_by: None,
        litres: Some(newest.litres),
        detail: format!(
            "Stan wodomierza ({}) nie zmienia się co najmniej od {}; ostatni odczyt {}.",
            ebok_common::polish::volume(newest.litres),
            ebok_common::polish::instant(since),
            ebok_common::polish::instant(newest.at)
        ),
    });
    decision
}

/// The text of the notice's `rule` field: the description, with the resident's label if any.
pub fn notice_rule(kind: &RuleKind, label: Option<&str>) -> String {
    match label {
        Some(label) => format!("{} – {label}", describe(kind)),
        None => describe(kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebok_common::domain::time::day_start;
    use proptest::prelude::*;

    const MAX: i64 = 99_999_999;

    fn register() -> Register {
        Register::new(MAX).unwrap()
    }

    /// 2026-11-10 00:00 in Warsaw (23:00 UTC the day before), plus `minutes`.
    fn t(minutes: i64) -> DateTime<Utc> {
        day_start(chrono::NaiveDate::from_ymd_opt(2026, 11, 10).unwrap())
            + Duration::minutes(minutes)
    }

    fn series(points: &[(i64, i64)]) -> Vec<Reading> {
        points
            .iter()
            .map(|&(m, litres)| Reading { at: t(m), litres })
            .collect()
    }

    /// Feeds readings as they arrive (each batch a prefix of the series), applying decisions
    /// like the evaluator does; returns every episode ever opened, with when it closed.
    fn simulate(
        kind: RuleKind,
        readings: &[Reading],
        batch: usize,
        now_after: Duration,
    ) -> Vec<(Episode, Option<DateTime<Utc>>)> {
        let mut episodes: Vec<(Episode, Option<DateTime<Utc>>)> = Vec::new();
        let mut end = 0;
        let mut evaluated_through = None;
        while end < readings.len() {
            end = (end + batch.max(1)).min(readings.len());
            let window = &readings[..end];
            let now = window.last().unwrap().at + now_after;
            let open = episodes
                .iter()
                .find(|(_, closed)| closed.is_none())
                .map(|(e, _)| OpenEpisode {
                    episode: e.episode.clone(),
                    since: e.since,
                    started_at: e.at,
                    ends_by: e.ends_by,
                    litres: e.litres,
                });
            let memory = Memory {
                last_episode: episodes.last().map(|(e, _)| e.episode.as_str()),
                evaluated_through: evaluated_through.take(),
            };
            let decision = decide(kind, register(), window, open.as_ref(), memory, now);
            evaluated_through = window.last().map(|r| r.at);
            if let Some(at) = decision.close_at {
                let (_, closed) = episodes
                    .iter_mut()
                    .find(|(_, c)| c.is_none())
                    .expect("close only an open episode");
                *closed = Some(at);
            }
            if let Some(e) = decision.open {
                assert!(
                    episodes.iter().all(|(_, c)| c.is_some()),
                    "opened while another is open"
                );
                if episodes.iter().all(|(old, _)| old.episode != e.episode) {
                    episodes.push((e, None));
                }
            }
        }
        episodes
    }

    #[test]
    fn daily_consumption_counts_from_the_register_at_midnight() {
        let r = series(&[(-60, 1_000), (60, 1_100), (600, 1_400), (1500, 2_000)]);
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 10).unwrap();
        // Midnight falls halfway between 1,000 and 1,100: the day so far used 1,400 − 1,050.
        assert_eq!(day_consumption(register(), &r, day), Some(350));
        // Its end midnight is 840 of the 900 minutes from 1,400 to 2,000: 1,960.
        assert_eq!(whole_day_consumption(register(), &r, day), Some(910));
        let next = chrono::NaiveDate::from_ymd_opt(2026, 11, 11).unwrap();
        assert_eq!(day_consumption(register(), &r, next), Some(40));
        assert_eq!(
            whole_day_consumption(register(), &r, next),
            None,
            "not over yet"
        );
    }

    #[test]
    fn daily_consumption_counts_a_rollover_and_ignores_a_decrease() {
        let r = series(&[(-60, MAX - 50), (60, 100)]);
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 10).unwrap();
        // 151 l over two hours, 75 of them before midnight.
        assert_eq!(day_consumption(register(), &r, day), Some(76));
        let r = series(&[(-60, 5_000), (60, 4_000), (120, 4_300)]);
        assert_eq!(day_consumption(register(), &r, day), Some(300));
    }

    #[test]
    fn the_day_before_is_checked_whole_only_by_a_rule_that_was_watching_it() {
        // A meter that reports once a day, after midnight: 900 l on 10 November, seen whole
        // when the reading of 11 November 00:10 comes.
        let kind = RuleKind::DailyAbove { litres: 500 };
        let r = series(&[(-1430, 100), (10, 1_000), (1450, 1_900)]);
        let watching = Memory {
            last_episode: None,
            evaluated_through: Some(t(10)),
        };
        let d = decide(kind, register(), &r, None, watching, t(1451));
        let e = d.open.expect("the day before is over the limit");
        assert_eq!(e.episode, "day:2026-11-10");
        assert!(
            e.detail.starts_with("W dobie 10 listopada 2026 zużyto"),
            "{}",
            e.detail
        );
        // A rule made (or switched on again) today did not watch yesterday.
        let new = decide(kind, register(), &r, None, Memory::default(), t(1451));
        assert_eq!(new.open, None);
        // Nor does a day that has its episode already trigger again.
        let done = Memory {
            last_episode: Some("day:2026-11-10"),
            evaluated_through: Some(t(10)),
        };
        assert_eq!(decide(kind, register(), &r, None, done, t(1451)).open, None);
    }

    #[test]
    fn daily_above_triggers_once_per_day_at_the_crossing_reading() {
        let kind = RuleKind::DailyAbove { litres: 500 };
        let points: Vec<(i64, i64)> = (0..48).map(|h| (h * 60, h * 40)).collect();
        let episodes = simulate(kind, &series(&points), 3, Duration::minutes(1));
        assert_eq!(episodes.len(), 2, "{episodes:?}");
        // 13 hours × 40 l = 520 l > 500 l on the first day.
        assert_eq!(episodes[0].0.at, t(13 * 60));
        assert_eq!(episodes[0].0.episode, "day:2026-11-10");
        assert_eq!(episodes[0].1, Some(t(24 * 60)), "ends with its day");
        // The second day starts with a reading at its midnight: 13 × 40 = 520 l at 37:00.
        assert_eq!(episodes[1].0.episode, "day:2026-11-11");
        assert!(episodes[1].0.detail.contains("próg alarmu to 500\u{a0}l"));
    }

    #[test]
    fn continuous_flow_needs_the_whole_window_of_hourly_flow() {
        let kind = RuleKind::ContinuousFlow { hours: 3 };
        let flowing = series(&[(0, 0), (60, 10), (120, 20), (180, 30)]);
        assert!(
            decide(
                kind,
                register(),
                &flowing[..3],
                None,
                Memory::default(),
                t(200)
            )
            .open
            .is_none()
        );
        let d = decide(kind, register(), &flowing, None, Memory::default(), t(200));
        let e = d.open.expect("three hours of flow");
        assert_eq!((e.since, e.at, e.litres), (t(0), t(180), Some(30)));
    }

    #[test]
    fn daily_readings_never_show_continuous_flow() {
        let kind = RuleKind::ContinuousFlow { hours: 1 };
        let points: Vec<(i64, i64)> = (0..30).map(|d| (d * 1440, d * 300)).collect();
        assert!(simulate(kind, &series(&points), 1, Duration::zero()).is_empty());
    }

    #[test]
    fn a_pause_ends_continuous_flow_and_a_new_run_rearms_it() {
        let kind = RuleKind::ContinuousFlow { hours: 2 };
        let mut points: Vec<(i64, i64)> = (0..=5).map(|h| (h * 60, h * 5)).collect();
        points.push((360, 25)); // an hour without water
        points.extend((7..=10).map(|h| (h * 60, (h - 1) * 5)));
        let episodes = simulate(kind, &series(&points), 2, Duration::zero());
        assert_eq!(episodes.len(), 2, "{episodes:?}");
        assert_eq!(episodes[0].1, Some(t(360)));
        assert_eq!(episodes[1].0.since, t(360));
        assert_eq!(episodes[1].1, None);
    }

    #[test]
    fn a_data_gap_neither_ends_nor_starts_continuous_flow() {
        let kind = RuleKind::ContinuousFlow { hours: 2 };
        let mut points: Vec<(i64, i64)> = (0..=3).map(|h| (h * 60, h * 5)).collect();
        points.push((600, 80)); // seven hours without readings, water used
        points.push((660, 90));
        let episodes = simulate(kind, &series(&points), 1, Duration::zero());
        assert_eq!(episodes.len(), 1);
        assert_eq!(episodes[0].1, None);
    }

    #[test]
    fn no_consumption_triggers_after_n_still_days_and_clears_on_use() {
        let kind = RuleKind::NoConsumption { days: 2 };
        let day = 1440;
        let points = [
            (0, 100),
            (day, 150),
            (2 * day, 150),
            (3 * day, 150),
            (4 * day, 150),
            (5 * day, 160),
            (6 * day, 160),
            (7 * day, 160),
            (8 * day, 160),
        ];
        let episodes = simulate(kind, &series(&points), 1, Duration::hours(1));
        assert_eq!(episodes.len(), 2, "{episodes:?}");
        assert_eq!(episodes[0].0.since, t(day));
        assert_eq!(episodes[0].0.at, t(3 * day));
        assert_eq!(episodes[0].1, Some(t(5 * day)));
        assert_eq!(episodes[1].0.at, t(7 * day));
    }

    #[test]
    fn no_consumption_needs_readings_that_keep_arriving() {
        let kind = RuleKind::NoConsumption { days: 1 };
        let r = series(&[(0, 100), (1440, 100), (2880, 100)]);
        assert!(
            decide(
                kind,
                register(),
                &r,
                None,
                Memory::default(),
                t(2880) + Duration::hours(1)
            )
            .open
            .is_some()
        );
        assert!(
            decide(
                kind,
                register(),
                &r,
                None,
                Memory::default(),
                t(2880) + Duration::days(3)
            )
            .open
            .is_none()
        );
    }

    #[test]
    fn an_open_day_episode_ends_by_itself_without_readings() {
        let open = OpenEpisode {
            episode: "day:2026-11-10".into(),
            since: t(0),
            started_at: t(600),
            ends_by: Some(t(1440)),
            litres: Some(600),
        };
        let kind = RuleKind::DailyAbove { litres: 500 };
        assert_eq!(
            decide(
                kind,
                register(),
                &[],
                Some(&open),
                Memory::default(),
                t(1441)
            )
            .close_at,
            Some(t(1440))
        );
        assert_eq!(
            decide(
                kind,
                register(),
                &[],
                Some(&open),
                Memory::default(),
                t(1000)
            )
            .close_at,
            None
        );
    }

    fn arb_series() -> impl Strategy<Value = Vec<Reading>> {
        // Steps of 10..=90 minutes using 0..=3 litres (often nothing), over a few days.
        prop::collection::vec(
            (10i64..=90, prop_oneof![Just(0i64), 0i64..=3, 0i64..=400]),
            1..200,
        )
        .prop_map(|steps| {
            let mut at = 0;
            let mut litres = MAX - 2_000; // rolls over on the way
            steps
                .into_iter()
                .map(|(dt, used)| {
                    at += dt;
                    litres = register().advance(litres, used);
                    Reading { at: t(at), litres }
                })
                .collect()
        })
    }

    /// The litres of the first step of `readings` (across a rollover).
    fn used_in_day_first_step(readings: &[Reading]) -> i64 {
        used(register(), &readings[0], &readings[1]).unwrap()
    }

    fn arb_kind() -> impl Strategy<Value = RuleKind> {
        prop_oneof![
            (1i64..=3_000).prop_map(|litres| RuleKind::DailyAbove { litres }),
            (1i32..=6).prop_map(|hours| RuleKind::ContinuousFlow { hours }),
            (1i32..=2).prop_map(|days| RuleKind::NoConsumption { days }),
        ]
    }

    proptest! {
        #[test]
        fn episodes_never_overlap_and_never_repeat(
            kind in arb_kind(),
            readings in arb_series(),
            batch in 1usize..8,
        ) {
            let episodes = simulate(kind, &readings, batch, Duration::minutes(5));
            for (i, (e, closed)) in episodes.iter().enumerate() {
                prop_assert!(e.since <= e.at);
                if let Some(c) = closed {
                    prop_assert!(*c >= e.at, "{e:?} closed at {c}");
                }
                for (later, _) in &episodes[i + 1..] {
                    prop_assert_ne!(&e.episode, &later.episode);
                    prop_assert!(closed.is_some_and(|c| c <= later.at), "{e:?} then {later:?}");
                }
            }
            prop_assert!(episodes.iter().filter(|(_, c)| c.is_none()).count() <= 1);
        }

        #[test]
        fn batching_does_not_change_whether_a_daily_threshold_is_crossed(
            threshold in 1i64..=3_000,
            readings in arb_series(),
        ) {
            let kind = RuleKind::DailyAbove { litres: threshold };
            let one_by_one = simulate(kind, &readings, 1, Duration::zero());
            // A day is over the threshold by its readings so far, or whole once the next
            // day's first reading has come (unless that reading put the next day over at once).
            let upto = |d: chrono::NaiveDate, next_first: bool| -> Vec<Reading> {
                let mut upto: Vec<Reading> =
                    readings.iter().copied().filter(|r| local_day(r.at) <= d).collect();
                if next_first {
                    upto.extend(readings.iter().copied().find(|r| local_day(r.at) > d));
                }
                upto
            };
            let so_far = |d: chrono::NaiveDate| {
                day_consumption(register(), &upto(d, false), d).is_some_and(|l| l > threshold)
            };
            let days_over: std::collections::BTreeSet<_> = readings
                .iter()
                .map(|r| local_day(r.at))
                .filter(|d| {
                    let next = upto(*d, true);
                    let next_day = next.last().map(|r| local_day(r.at)).filter(|n| n > d);
                    let whole = whole_day_consumption(register(), &next, *d)
                        .is_some_and(|l| l > threshold);
                    so_far(*d)
                        || (whole
                            && next_day.is_some_and(|n| {
                                day_consumption(register(), &next, n).is_none_or(|l| l <= threshold)
                            }))
                })
                .map(|d| format!("day:{d}"))
                .collect();
            let opened: std::collections::BTreeSet<_> =
                one_by_one.iter().map(|(e, _)| e.episode.clone()).collect();
            prop_assert_eq!(opened, days_over);
        }

        #[test]
        fn day_consumption_is_what_was_advanced(
            steps in prop::collection::vec((1i64..=120, 0i64..=5_000), 1..60),
            start in 0i64..=MAX,
        ) {
            let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 10).unwrap();
            let mut readings = vec![Reading { at: t(-5), litres: start }];
            let mut used_in_day = 0;
            let mut at = 0;
            for (dt, used) in steps {
                at += dt;
                if at >= 1440 { break; }
                let litres = register().advance(readings.last().unwrap().litres, used);
                readings.push(Reading { at: t(at), litres });
                used_in_day += used;
            }
            // The first step's water before midnight (five of its minutes) is the day before's.
            let before_midnight = readings.get(1).map_or(0, |first| {
                let minutes = (first.at - readings[0].at).num_minutes();
                let used = used_in_day_first_step(&readings);
                used * 5 / minutes
            });
            let expected = (readings.len() > 1).then_some(used_in_day - before_midnight);
            prop_assert_eq!(day_consumption(register(), &readings, day), expected);
        }

        #[test]
        fn still_since_starts_the_run_of_the_newest_value(readings in arb_series()) {
            let since = still_since(&readings).unwrap();
            let newest = readings.last().unwrap();
            let from = readings.iter().position(|r| r.at == since).unwrap();
            prop_assert!(readings[from..].iter().all(|r| r.litres == newest.litres));
            if from > 0 {
                prop_assert_ne!(readings[from - 1].litres, newest.litres);
            }
        }

        #[test]
        fn flowing_since_starts_a_run_of_short_flowing_intervals(readings in arb_series()) {
            if let Some(since) = flowing_since(register(), &readings) {
                let from = readings.iter().position(|r| r.at == since).unwrap();
                for p in readings[from..].windows(2) {
                    prop_assert!(p[1].at - p[0].at <= FLOW_MAX_GAP);
                    prop_assert!(used(register(), &p[0], &p[1]).unwrap() > 0);
                }
            }
        }
    }
}
