//! Behavioural tests of the whole model: determinism, monotonicity, day/hour consistency, DST,
//! rollover, replacement, plausibility of volumes, faults, radio ids, the cursor and the
//! transmission schedule. Property tests use proptest; a few fleet-wide checks are plain tests.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::calendar::{TZ, day_bounds, day_start, hours_in_day, local_day};
use super::*;

// ----- helpers -----

fn at(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Fleet starts between 2023 and 2027.
fn any_start() -> impl Strategy<Value = DateTime<Utc>> {
    (1_672_531_200i64..1_798_761_600).prop_map(at)
}

/// Rates high enough that a few months of a meter show every kind of fault.
fn busy_faults() -> FaultRates {
    FaultRates {
        leaks_per_year: 6.0,
        bursts_per_year: 4.0,
        reverse_flows_per_year: 8.0,
        tampers_per_year: 4.0,
        dry_pipes_per_year: 8.0,
        low_battery_per_year: 1.0,
        replacements_per_year: 2.0,
        rollover_fraction: 0.3,
        gap_day_probability: 0.1,
        duplicate_probability: 0.1,
        late_probability: 0.1,
    }
}

fn spec(seed: u64, start: DateTime<Utc>, faults: FaultRates) -> FleetSpec {
    FleetSpec {
        faults,
        ..FleetSpec::new(seed, start)
    }
}

fn reverse_flow_in(m: &MeterModel, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    m.fault_episodes(from, to)
        .iter()
        .any(|e| e.fault.kind() == FaultKind::ReverseFlow)
}

fn replaced_in(m: &MeterModel, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    m.replacement().is_some_and(|r| from < r.at && r.at <= to)
}

/// The last Sunday of `month`.
fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let mut d = date(year, month, 31);
    while d.weekday() != Weekday::Sun {
        d = d.pred_opt().unwrap();
    }
    d
}

// ----- properties -----

proptest! {
    // No regression files: this module must not write outside its sources.
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn same_seed_index_and_time_give_the_same_reading_in_any_query_order(
        seed in any::<u64>(),
        index in 0u64..100_000,
        start in any_start(),
        offsets in prop::collection::vec(0i64..200 * 86_400, 1..10),
    ) {
        let a = spec(seed, start, busy_faults());
        let b = spec(seed, start, busy_faults());
        // Touch other meters first in one of the fleets: meters do not influence each other.
        let _ = b.meter(index + 1);
        let _ = b.meter(index / 2);
        let (ma, mb) = (a.meter(index), b.meter(index));
        prop_assert_eq!(&ma, &mb);
        let times: Vec<_> = offsets.iter().map(|o| start + Duration::seconds(*o)).collect();
        let forward: Vec<_> = times.iter().map(|t| ma.register_at(*t)).collect();
        let mut backward: Vec<_> = times.iter().rev().map(|t| mb.register_at(*t)).collect();
        backward.reverse();
        prop_assert_eq!(&forward, &backward);
        for t in &times {
            let day = local_day(*t);
            prop_assert_eq!(ma.daily_volume(day), mb.daily_volume(day));
            prop_assert_eq!(ma.hourly_volumes(day), mb.hourly_volumes(day));
        }
    }

    #[test]
    fn register_never_decreases_except_at_wraps_replacements_and_reverse_flow(
        seed in any::<u64>(),
        index in 0u64..100_000,
        start in any_start(),
        mut offsets in prop::collection::vec(0i64..120 * 86_400, 2..12),
    ) {
        let m = spec(seed, start, busy_faults()).meter(index);
        offsets.sort_unstable();
        let modulus = m.register_max() + 1;
        for w in offsets.windows(2) {
            let (t1, t2) = (start + Duration::seconds(w[0]), start + Duration::seconds(w[1]));
            if replaced_in(&m, t1, t2) || reverse_flow_in(&m, t1, t2) {
                continue;
            }
            let (r1, r2) = (m.register_at(t1).litres, m.register_at(t2).litres);
            let used = m.consumed_between(t1, t2);
            prop_assert_eq!(r2, (r1 + used) % modulus);
            prop_assert!(r2 >= r1 || r1 + used >= modulus, "{r1} -> {r2} without a wrap");
        }
    }

    #[test]
    fn register_difference_over_a_day_equals_daily_volume_and_the_sum_of_its_hours(
        seed in any::<u64>(),
        index in 0u64..100_000,
        start in any_start(),
        day_offset in 1i64..150,
    ) {
        let m = spec(seed, start, busy_faults()).meter(index);
        let day = local_day(start) + Duration::days(day_offset);
        let (s, e) = day_bounds(day);
        let daily = m.daily_volume(day);
        let hourly = m.hourly_volumes(day);
        prop_assert_eq!(hourly.len() as u32, hours_in_day(day));
        prop_assert_eq!(hourly.iter().map(|h| h.litres).sum::<u64>(), daily);
        prop_assert_eq!(m.consumed_between(s, e), daily);
        if !replaced_in(&m, s, e) && !reverse_flow_in(&m, s, e) {
            let (rs, re) = (m.register_at(s).litres, m.register_at(e).litres);
            if re >= rs {
                prop_assert_eq!(re - rs, daily);
            } else {
                // Wrapped at the register size.
                prop_assert_eq!(re + m.register_max() + 1 - rs, daily);
            }
        }
    }

    #[test]
    fn dst_days_spread_their_volume_over_23_and_25_real_hours(
        seed in any::<u64>(),
        index in 0u64..100_000,
        year in 2024i32..2030,
    ) {
        let start = day_start(date(year, 1, 1));
        let m = spec(seed, start, FaultRates::none()).meter(index);
        for (day, hours) in [(last_sunday(year, 3), 23), (last_sunday(year, 10), 25)] {
            let hourly = m.hourly_volumes(day);
            prop_assert_eq!(hourly.len(), hours);
            for pair in hourly.windows(2) {
                prop_assert_eq!(pair[1].start - pair[0].start, Duration::hours(1));
            }
            let (s, e) = day_bounds(day);
            prop_assert_eq!(hourly[0].start, s);
            prop_assert_eq!((e - s).num_hours(), hours as i64);
            let daily = m.daily_volume(day);
            prop_assert_eq!(hourly.iter().map(|h| h.litres).sum::<u64>(), daily);
            prop_assert_eq!(m.register_at(e).litres - m.register_at(s).litres, daily);
        }
    }

    #[test]
    fn rollover_meters_wrap_to_zero_and_stay_below_the_register_size(
        seed in any::<u64>(),
        index in 0u64..100_000,
        start in any_start(),
    ) {
        let faults = FaultRates { rollover_fraction: 1.0, ..FaultRates::none() };
        let m = spec(seed, start, faults).meter(index);
        let max = m.register_max();
        prop_assert!(m.initial_register() <= max);
        let mut previous = m.initial_register();
        let mut wrapped = false;
        for hours in (6..=150 * 24).step_by(6) {
            let t = start + Duration::hours(hours);
            let r = m.register_at(t).litres;
            prop_assert!(r <= max);
            if r < previous {
                // Wrapped exactly once, continuing from 0.
                prop_assert!(!wrapped, "wrapped twice");
                let used = m.consumed_between(start, t);
                prop_assert_eq!(r + max + 1, m.initial_register() + used);
                wrapped = true;
            }
            previous = r;
        }
        prop_assert!(wrapped, "no wrap within 150 days from {}", m.initial_register());
    }

    #[test]
    fn replacement_switches_the_serial_and_restarts_the_register_near_zero(
        seed in any::<u64>(),
        index in 0u64..100_000,
        start in any_start(),
    ) {
        let faults = FaultRates { replacements_per_year: 20.0, ..FaultRates::none() };
        let m = spec(seed, start, faults).meter(index);
        let Some(r) = m.replacement() else { return Ok(()); };
        prop_assert!(r.at > start);
        prop_assert_ne!(r.old_serial, r.new_serial);
        prop_assert_eq!(m.serial(), r.old_serial);
        prop_assert_eq!(m.register_at(r.at - Duration::seconds(1)).serial, r.old_serial);
        let after = m.register_at(r.at);
        prop_assert_eq!(after.serial, r.new_serial);
        prop_assert_eq!(after.litres, r.new_initial_litres);
        prop_assert!(r.new_initial_litres <= 30);
        let later = r.at + Duration::hours(30);
        prop_assert_eq!(
            m.register_at(later).litres,
            r.new_initial_litres + m.consumed_between(r.at, later)
        );
        let removed = m.removed_register().unwrap();
        prop_assert_eq!(
            removed,
            (m.initial_register() + m.consumed_between(start, r.at)) % (m.register_max() + 1)
        );
        let local = r.at.with_timezone(&TZ);
        prop_assert!(!matches!(local.weekday(), Weekday::Sat | Weekday::Sun));
        prop_assert!((8..15).contains(&local.hour()));
        prop_assert_eq!(u32::from(r.new_serial.year), local.year() as u32 % 100);
    }

    #[test]
    fn household_fleet_uses_70_to_140_litres_per_person_per_day_on_average(
        seed in any::<u64>(),
        start in any_start(),
    ) {
        let fleet = FleetSpec {
            mix: ProfileMix::households_only(),
            ..spec(seed, start, FaultRates::none())
        };
        let first = local_day(start) + Duration::days(1);
        let (mut litres, mut person_days) = (0u64, 0u64);
        for m in fleet.meters(0..300) {
            let Profile::Household { residents } = m.profile() else {
                panic!("not a household: {:?}", m.profile());
            };
            prop_assert!((1..=6).contains(&residents));
            for d in 0..30 {
                litres += m.daily_volume(first + Duration::days(d));
                person_days += u64::from(residents);
            }
        }
        let per_person = litres as f64 / person_days as f64;
        prop_assert!((70.0..=140.0).contains(&per_person), "{per_person} l/person/day");
    }

    #[test]
    fn no_fault_rates_give_no_faults_flags_gaps_duplicates_or_late_telegrams(
        seed in any::<u64>(),
        index in 0u64..100_000,
        start in any_start(),
    ) {
        let m = spec(seed, start, FaultRates::none()).meter(index);
        let year = start + Duration::days(365);
        prop_assert!(m.fault_episodes(start - Duration::days(60), year).is_empty());
        prop_assert!(m.replacement().is_none());
        prop_assert!(m.low_battery_from().is_none());
        prop_assert!(m.initial_register() <= m.register_max() / 10 * 6);
        for h in (0..365 * 24).step_by(37) {
            let r = m.register_at(start + Duration::hours(h));
            prop_assert!(r.status.is_empty() && r.alarms_24h.is_empty());
            prop_assert_eq!(r.serial, m.serial());
        }
        let first = local_day(start) + Duration::days(1);
        for d in 0..365 {
            prop_assert!(!m.is_transmission_gap(first + Duration::days(d)));
        }
        let from = day_start(first);
        let to = day_start(first + Duration::days(30));
        let txs: Vec<_> = m.transmissions(from, to, 2).collect();
        prop_assert_eq!(txs.len(), 60);
        prop_assert!(txs.iter().all(|t| !t.duplicate && !t.late && t.sent_at == t.measured_at));
    }

    #[test]
    fn radio_ids_and_serial_numbers_are_unique_within_a_fleet(
        seed in any::<u64>(),
        base in 2_500u64..(FleetSpec::MAX_METERS - 2_500),
    ) {
        let fleet = spec(seed, at(1_735_689_600), FaultRates {
            replacements_per_year: 5.0,
            ..FaultRates::default()
        });
        let mut radios = HashSet::new();
        let mut serials = HashSet::new();
        for m in fleet.meters(0..2_500).chain(fleet.meters(base..base + 2_500)) {
            prop_assert!(radios.insert(m.radio_id()), "radio id {} repeated", m.radio_id());
            prop_assert_eq!(m.radio_id().to_string().len(), 8);
            prop_assert!(serials.insert(m.serial().number));
            prop_assert_eq!(m.serial().to_string().len(), 11);
            if let Some(r) = m.replacement() {
                prop_assert!(serials.insert(r.new_serial.number));
                prop_assert!(radios.insert(r.new_radio_id), "replacement radio id repeated");
                prop_assert_eq!(m.radio_id_at(r.at), r.new_radio_id);
                prop_assert_eq!(m.register_at(r.at).radio_id, r.new_radio_id);
            }
        }
    }

    #[test]
    fn transmissions_are_sorted_skip_gap_days_and_flag_duplicates_and_late_ones(
        seed in any::<u64>(),
        index in 0u64..100_000,
        start in any_start(),
        per_day in prop::sample::select(vec![1u32, 3, 24]),
        from_day in 0i64..20,
    ) {
        let m = spec(seed, start, busy_faults()).meter(index);
        let from = start + Duration::days(from_day);
        let to = from + Duration::days(12);
        let txs: Vec<_> = m.transmissions(from, to, per_day).collect();
        let slot = 86_400 / i64::from(per_day);
        for pair in txs.windows(2) {
            prop_assert!(pair[0].sent_at <= pair[1].sent_at);
        }
        let originals: HashMap<_, _> = txs
            .iter()
            .filter(|t| !t.duplicate)
            .map(|t| (t.measured_at, *t))
            .collect();
        let mut per_measured_day: HashMap<NaiveDate, u32> = HashMap::new();
        for t in &txs {
            prop_assert!(from <= t.sent_at && t.sent_at < to);
            prop_assert!(t.measured_at >= start);
            prop_assert!(!m.is_transmission_gap(local_day(t.measured_at)));
            prop_assert_eq!(t.reading, m.register_at(t.measured_at));
            if t.late {
                prop_assert!((t.sent_at - t.measured_at).num_seconds() >= slot * 6 / 5);
            } else if !t.duplicate {
                prop_assert_eq!(t.sent_at, t.measured_at);
            }
            if t.duplicate {
                if let Some(o) = originals.get(&t.measured_at) {
                    prop_assert_eq!(o.reading, t.reading);
                    prop_assert!(o.sent_at < t.sent_at);
                    prop_assert!((t.sent_at - o.sent_at).num_seconds() <= 120);
                }
            } else {
                *per_measured_day.entry(local_day(t.measured_at)).or_default() += 1;
            }
        }
        for (day, n) in per_measured_day {
            prop_assert!(n <= per_day, "{n} telegrams measured on {day}");
        }
    }

    #[test]
    fn transmissions_do_not_depend_on_how_the_time_range_is_split(
        seed in any::<u64>(),
        index in 0u64..100_000,
        start in any_start(),
        split in 1i64..20 * 24,
    ) {
        let m = spec(seed, start, busy_faults()).meter(index);
        let (a, c) = (start + Duration::days(2), start + Duration::days(22));
        let b = a + Duration::hours(split);
        let whole: Vec<_> = m.transmissions(a, c, 4).collect();
        let parts: Vec<_> = m.transmissions(a, b, 4).chain(m.transmissions(b, c, 4)).collect();
        prop_assert_eq!(whole, parts);
    }
}

// ----- plain tests -----

#[test]
fn cursor_agrees_with_register_at_at_many_random_instants() {
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let start = at(1_740_000_000);
    let fleet = spec(77, start, busy_faults());
    let mut checked = 0;
    for index in 0..40 {
        let m = fleet.meter(index);
        let mut t = start - Duration::hours(rng.random_range(0..72));
        let mut cursor = m.cursor(t);
        for _ in 0..150 {
            // Mostly forward, sometimes far, sometimes a step back (the cursor restarts).
            let step = match rng.random_range(0..10) {
                0 => -rng.random_range(0..86_400 * 3),
                1 => rng.random_range(0..86_400 * 20),
                _ => rng.random_range(0..86_400),
            };
            t += Duration::seconds(step);
            assert_eq!(
                cursor.advance_to(t),
                m.register_at(t),
                "meter {index} at {t}"
            );
            assert_eq!(cursor.position(), t);
            checked += 1;
        }
    }
    assert_eq!(checked, 6_000);
}

#[test]
fn cursor_handles_the_replacement_instant_and_reverse_flow_exactly() {
    let start = at(1_740_000_000);
    let fleet = spec(5, start, busy_faults());
    let mut with_replacement = 0;
    for index in 0..200 {
        let m = fleet.meter(index);
        let Some(r) = m.replacement() else { continue };
        if r.at > start + Duration::days(200) {
            continue;
        }
        with_replacement += 1;
        let mut cursor = m.cursor(start);
        for t in [r.at - Duration::seconds(1), r.at, r.at + Duration::hours(5)] {
            assert_eq!(cursor.advance_to(t), m.register_at(t));
        }
        for ep in m.fault_episodes(start, start + Duration::days(200)) {
            if ep.fault.kind() != FaultKind::ReverseFlow {
                continue;
            }
            let mut c = m.cursor(ep.start - Duration::hours(1));
            for t in [ep.start, ep.start + Duration::minutes(30), ep.end] {
                assert_eq!(c.advance_to(t), m.register_at(t));
            }
        }
    }
    assert!(with_replacement > 20, "{with_replacement}");
}

#[test]
fn household_yearly_mean_is_close_to_100_litres_per_person() {
    let fleet = FleetSpec {
        mix: ProfileMix::households_only(),
        ..spec(11, at(1_735_689_600), FaultRates::none())
    };
    let first = date(2025, 1, 1);
    let (mut litres, mut person_days) = (0u64, 0u64);
    for m in fleet.meters(0..150) {
        let Profile::Household { residents } = m.profile() else {
            unreachable!()
        };
        for d in 0..365 {
            litres += m.daily_volume(first + Duration::days(d));
            person_days += u64::from(residents);
        }
    }
    let per_person = litres as f64 / person_days as f64;
    assert!((90.0..=112.0).contains(&per_person), "{per_person}");
}

#[test]
fn profiles_follow_weekdays_school_calendar_and_seasons() {
    let total = |mix: ProfileMix, days: &[NaiveDate]| -> u64 {
        let fleet = FleetSpec {
            mix,
            ..spec(3, at(1_704_067_200), FaultRates::none())
        };
        fleet
            .meters(0..200)
            .map(|m| days.iter().map(|d| m.daily_volume(*d)).sum::<u64>())
            .sum()
    };
    let only = |f: fn(&mut ProfileMix)| {
        let mut mix = ProfileMix {
            household: 0,
            ..ProfileMix::rural_gmina()
        };
        mix.business = 0;
        mix.housing_community = 0;
        mix.public_institution = 0;
        mix.farm = 0;
        f(&mut mix);
        mix
    };
    let business = only(|m| m.business = 1);
    let school = only(|m| m.public_institution = 1);
    let farm = only(|m| m.farm = 1);
    // 2025-05-18 is a Sunday, 2025-05-14 a Wednesday.
    let sunday = total(business, &[date(2025, 5, 18)]);
    let wednesday = total(business, &[date(2025, 5, 14)]);
    assert!(sunday * 10 < wednesday, "business {sunday} vs {wednesday}");
    let july = total(school, &[date(2025, 7, 16)]);
    let may = total(school, &[date(2025, 5, 14)]);
    assert!(july * 10 < may, "school {july} vs {may}");
    let summer: Vec<_> = (0..14)
        .map(|d| date(2025, 7, 10) + Duration::days(d))
        .collect();
    let winter: Vec<_> = (0..14)
        .map(|d| date(2025, 1, 10) + Duration::days(d))
        .collect();
    let (s, w) = (total(farm, &summer), total(farm, &winter));
    assert!(s as f64 > 1.3 * w as f64, "farm summer {s} vs winter {w}");
}

#[test]
fn household_holidays_drop_use_to_nearly_zero() {
    let fleet = FleetSpec {
        mix: ProfileMix::households_only(),
        ..spec(9, at(1_735_689_600), FaultRates::none())
    };
    let mut holiday_days = 0;
    for m in fleet.meters(0..200) {
        for d in 0..365 {
            let day = date(2025, 1, 2) + Duration::days(d);
            if m.is_on_holiday(day) {
                holiday_days += 1;
                assert!(
                    m.daily_volume(day) < 60,
                    "{} l on holiday",
                    m.daily_volume(day)
                );
            }
        }
    }
    // About 1.5 absences of 3–14 days a year.
    assert!((1_500..=4_500).contains(&holiday_days), "{holiday_days}");
}

#[test]
fn a_leak_adds_its_flow_to_every_full_day_it_covers() {
    let start = at(1_735_689_600);
    let leaky = spec(
        21,
        start,
        FaultRates {
            leaks_per_year: 10.0,
            ..FaultRates::none()
        },
    );
    let dry = spec(21, start, FaultRates::none());
    let mut checked = 0;
    for index in 0..100 {
        let (m, base) = (leaky.meter(index), dry.meter(index));
        let horizon = start + Duration::days(120);
        for ep in m.fault_episodes(start, horizon) {
            let Fault::Leak { litres_per_hour } = ep.fault else {
                panic!("only leaks expected")
            };
            let day = local_day(ep.start) + Duration::days(1);
            let (s, e) = day_bounds(day);
            if s < start || e > ep.end || m.fault_episodes(s, e).len() != 1 || e > horizon {
                continue;
            }
            let hours = u64::from(hours_in_day(day));
            assert_eq!(
                m.daily_volume(day),
                base.daily_volume(day) + u64::from(litres_per_hour) * hours
            );
            assert!(
                m.status_at(s + Duration::hours(3))
                    .contains(StatusFlags::LEAK)
            );
            checked += 1;
        }
    }
    assert!(checked > 30, "{checked}");
}

#[test]
fn dry_pipe_hours_have_no_flow_and_reverse_flow_runs_the_register_back() {
    let start = at(1_735_689_600);
    let fleet = spec(
        31,
        start,
        FaultRates {
            dry_pipes_per_year: 10.0,
            reverse_flows_per_year: 10.0,
            ..FaultRates::none()
        },
    );
    let (mut dry, mut reverse) = (0, 0);
    for index in 0..60 {
        let m = fleet.meter(index);
        for ep in m.fault_episodes(start + Duration::days(1), start + Duration::days(200)) {
            let mid = ep.start + (ep.end - ep.start) / 2;
            let hours = m.hourly_volumes(local_day(ep.start));
            for h in hours
                .iter()
                .filter(|h| ep.start <= h.start && h.start < ep.end)
            {
                assert_eq!(h.litres, 0, "flow during {:?}", ep.fault);
            }
            match ep.fault {
                Fault::DryPipe => {
                    assert!(m.status_at(mid).contains(StatusFlags::DRY));
                    dry += 1;
                }
                Fault::ReverseFlow { litres } => {
                    assert!(m.status_at(mid).contains(StatusFlags::REVERSE_FLOW));
                    let before = m.register_at(ep.start).litres;
                    let after = m.register_at(ep.end).litres;
                    let modulus = m.register_max() + 1;
                    assert_eq!((after + u64::from(litres)) % modulus, before);
                    reverse += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert!(dry > 50 && reverse > 50, "{dry} {reverse}");
}

#[test]
fn status_flags_are_active_during_episodes_and_latched_for_24_hours() {
    let start = at(1_735_689_600);
    let fleet = spec(
        41,
        start,
        FaultRates {
            bursts_per_year: 10.0,
            tampers_per_year: 10.0,
            ..FaultRates::none()
        },
    );
    let mut checked = 0;
    for index in 0..40 {
        let m = fleet.meter(index);
        for ep in m.fault_episodes(start, start + Duration::days(300)) {
            let flag = ep.fault.kind().flag();
            let reading = m.register_at(ep.start);
            assert!(reading.status.contains(flag) && reading.alarms_24h.contains(flag));
            let after = m.register_at(ep.end + Duration::hours(12));
            assert!(after.alarms_24h.contains(flag));
            let others = m.fault_episodes(ep.end, ep.end + Duration::days(3));
            if others.iter().all(|o| o.fault.kind() != ep.fault.kind()) {
                assert!(!m.register_at(ep.end).status.contains(flag));
                let long_after = m.register_at(ep.end + Duration::hours(24));
                assert!(!long_after.alarms_24h.contains(flag));
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn low_battery_lasts_until_the_meter_is_replaced() {
    let start = at(1_735_689_600);
    let fleet = spec(
        51,
        start,
        FaultRates {
            low_battery_per_year: 5.0,
            replacements_per_year: 1.0,
            ..FaultRates::none()
        },
    );
    let mut checked = 0;
    for index in 0..100 {
        let m = fleet.meter(index);
        let Some(on) = m.low_battery_from() else {
            continue;
        };
        let replaced = m.replacement().map(|r| r.at);
        if replaced.is_some_and(|r| r <= on) {
            assert!(!m.status_at(on).contains(StatusFlags::LOW_BATTERY));
            continue;
        }
        assert!(
            !m.status_at(on - Duration::seconds(1))
                .contains(StatusFlags::LOW_BATTERY)
        );
        assert!(m.status_at(on).contains(StatusFlags::LOW_BATTERY));
        assert!(
            m.status_at(on + Duration::days(30))
                .contains(StatusFlags::LOW_BATTERY)
                || replaced.is_some_and(|r| r <= on + Duration::days(30))
        );
        if let Some(r) = replaced {
            assert!(!m.status_at(r).contains(StatusFlags::LOW_BATTERY));
        }
        checked += 1;
    }
    assert!(checked > 30, "{checked}");
}

#[test]
fn daily_meters_measure_between_0005_and_0400_local_time() {
    let start = at(1_735_689_600);
    let fleet = spec(61, start, FaultRates::none());
    for index in 0..50 {
        let m = fleet.meter(index);
        let from = start + Duration::days(1);
        let txs: Vec<_> = m
            .transmissions(from, from + Duration::days(10), 1)
            .collect();
        assert!(txs.len() >= 9);
        for t in txs {
            let secs = (t.measured_at - day_start(local_day(t.measured_at))).num_seconds();
            assert!((300..14_400).contains(&secs), "{secs}");
        }
    }
}

#[test]
fn default_fleet_of_mlynary_shows_every_kind_of_event_in_90_days() {
    let start = at(1_735_689_600);
    let fleet = FleetSpec::new(2025, start);
    let end = start + Duration::days(90);
    let mut kinds = HashSet::new();
    let (mut replaced, mut rollovers, mut profiles) = (0, 0, HashSet::new());
    for m in fleet.meters(0..2_500) {
        profiles.insert(m.profile().kind_name());
        for ep in m.fault_episodes(start, end) {
            kinds.insert(ep.fault.kind());
        }
        if m.replacement().is_some_and(|r| r.at < end) {
            replaced += 1;
        }
        if m.initial_register() > m.register_max() / 10 * 9 {
            rollovers += 1;
        }
    }
    assert_eq!(kinds.len(), FaultKind::ALL.len(), "{kinds:?}");
    assert_eq!(profiles.len(), 5, "{profiles:?}");
    assert!((10..=100).contains(&replaced), "{replaced}");
    assert!((2..=30).contains(&rollovers), "{rollovers}");
}
