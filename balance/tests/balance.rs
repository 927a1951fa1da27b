//! The water balance against a real PostgreSQL: readings stored as ingest stores them, the days
//! and nights computed by the store, and balances read back, on a network small enough to
//! compute by hand; and the simulator's burst in one zone raising exactly one alarm, for that
//! zone's staff.

use std::collections::BTreeSet;

use chrono::{DateTime, Days, Duration, NaiveDate, TimeZone, Utc};
use ebok_balance::alarms;
use ebok_balance::network::{self, Channel, NewBoundaryMeter, UnbilledKind, UnbilledUse};
use ebok_balance::night::NightRule;
use ebok_balance::run::{self, Settings};
use ebok_balance::store::{self, Step};
use ebok_common::audit::ByStaff;
use ebok_common::domain::time::day_start;
use ebok_testkit::{TestDb, fixtures};
use firmware_sim::model::{Burst, FleetSpec, ZoneInlet, ZoneSpec};
use sqlx::PgPool;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Stores readings of one meter as ingest does: raw rows (their trigger folds the day rows)
/// and the newest reading.
async fn readings(pool: &PgPool, meter: i64, samples: &[(DateTime<Utc>, i64)]) {
    let (at, litres): (Vec<DateTime<Utc>>, Vec<i64>) = samples.iter().copied().unzip();
    sqlx::query(
        "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
         SELECT $1, * , 'radio' FROM unnest($2::timestamptz[], $3::bigint[])",
    )
    .bind(meter)
    .bind(&at)
    .bind(&litres)
    .execute(pool)
    .await
    .unwrap();
    let (last_at, last_litres) = samples.iter().max_by_key(|s| s.0).copied().unwrap();
    sqlx::query(
        "INSERT INTO meter_latest_readings (meter_id, measured_at, volume_litres, source, received_at)
         VALUES ($1, $2, $3, 'radio', now())",
    )
    .bind(meter)
    .bind(last_at)
    .bind(last_litres)
    .execute(pool)
    .await
    .unwrap();
}

/// Hourly readings of a steady flow from `from` to `to` (both whole hours).
fn hourly(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    start: i64,
    per_hour: i64,
) -> Vec<(DateTime<Utc>, i64)> {
    let hours = (to - from).num_hours();
    (0..=hours)
        .map(|h| (from + Duration::hours(h), start + h * per_hour))
        .collect()
}

async fn zone(pool: &PgPool, utility: i64, code: &str, parent: Option<i64>) -> i64 {
    fixtures::network_zone(pool, utility, code, &format!("Strefa {code}"), parent).await
}

async fn staff_account(pool: &PgPool, utility: i64, email: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO user_accounts (utility_id, email, role, status, display_name, activated_at)
         VALUES ($1, $2, 'technician', 'active', 'Technik', now()) RETURNING id",
    )
    .bind(utility)
    .bind(email)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn boundary(
    pool: &PgPool,
    staff: ByStaff,
    serial: &str,
    from: Option<i64>,
    into: Option<i64>,
) -> i64 {
    let mut conn = pool.acquire().await.unwrap();
    network::add_boundary_meter(
        &mut conn,
        staff,
        &NewBoundaryMeter {
            serial: serial.into(),
            channel: Channel::Modbus,
            radio_id: None,
            diameter_mm: Some(150),
            register_max_litres: 999_999_999_999,
            from_zone: from,
            into_zone: into,
            installed_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        },
    )
    .await
    .unwrap()
}

/// A town (its own pipes and two households) with a district (three households) inside it.
/// On 10 November 2026 the plant sends 1,000 l/h into the town and the town 400 l/h into the
/// district; in the town the households use 100 and 50 l/h; in the district one uses 150 l/h
/// (hourly readings), one 20 l/h but sent nothing that day (daily readings at noon on the days
/// around: estimated), and one fell silent days before (unknown). Staff entered 1,000 l of
/// flushing in the district.
#[tokio::test]
async fn a_hand_computed_network_balances_to_the_litre() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, "bilans").await;
    let clerk = staff_account(pool, utility, "technik@bilans.pl").await;
    let staff = ByStaff {
        utility_id: utility,
        account_id: clerk,
    };
    let town = zone(pool, utility, "miasto", None).await;
    let district = zone(pool, utility, "osiedle", Some(town)).await;
    let plant = boundary(pool, staff, "ZU-1", None, Some(town)).await;
    let feed = boundary(pool, staff, "ZU-2", Some(town), Some(district)).await;

    let day = d("2026-11-10");
    let (from, to) = (day_start(day - Days::new(2)), day_start(day + Days::new(2)));
    readings(pool, plant, &hourly(from, to, 10_000_000, 1_000)).await;
    readings(pool, feed, &hourly(from, to, 3_000_000, 400)).await;
    for (zone_id, per_hour) in [(town, 100), (town, 50), (district, 150)] {
        let meter = fixtures::meter_in_zone(pool, utility, zone_id).await;
        readings(pool, meter, &hourly(from, to, 1_000, per_hour)).await;
    }
    let daily = fixtures::meter_in_zone(pool, utility, district).await;
    let noon = |d: NaiveDate| day_start(d) + Duration::hours(12);
    readings(
        pool,
        daily,
        &[
            (noon(day - Days::new(1)), 5_000),
            (noon(day + Days::new(1)), 5_960),
        ],
    )
    .await;
    let silent = fixtures::meter_in_zone(pool, utility, district).await;
    readings(
        pool,
        silent,
        &hourly(from - Duration::days(5), from - Duration::days(4), 0, 30),
    )
    .await;
    let mut conn = pool.acquire().await.unwrap();
    network::enter_unbilled_use(
        &mut conn,
        staff,
        &UnbilledUse {
            zone_id: district,
            day,
            kind: UnbilledKind::Flushing,
            litres: 1_000,
            note: Some("płukanie po wymianie zasuwy".into()),
        },
        day,
    )
    .await
    .unwrap();

    let computed = store::compute_days(&mut conn, utility, day, day)
        .await
        .unwrap();
    assert_eq!((computed.meters, computed.boundary_meters), (5, 2));
    let nights = store::compute_nights(&mut conn, utility, day, day)
        .await
        .unwrap();
    assert_eq!(nights, 2);

    let read = store::zone_periods(&mut conn, utility, day, day, Step::Day)
        .await
        .unwrap();
    let d_ = read[&district][0];
    assert!(d_.input_known);
    assert_eq!(d_.balance.system_input_litres, 9_600);
    assert_eq!(d_.balance.billed_metered_litres, 3_600 + 480);
    assert_eq!(d_.balance.unbilled_authorised_litres, 1_000);
    assert_eq!(d_.losses_litres(), Some(4_520));
    assert_eq!(
        (
            d_.balance.meters,
            d_.balance.meters_reported,
            d_.balance.meters_estimated
        ),
        (3, 1, 1)
    );
    let t = read[&town][0];
    assert_eq!(t.balance.system_input_litres, 24_000);
    assert_eq!(t.balance.billed_metered_litres, 2_400 + 1_200 + 3_600 + 480);
    assert_eq!(t.losses_litres(), Some(24_000 - 7_680 - 1_000));
    assert_eq!((t.balance.meters, t.balance.meters_reported), (5, 3));
    assert!((t.balance.coverage() - 0.6).abs() < 1e-9);

    let night: Vec<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT zone_id, min_litres_per_hour FROM zone_nights WHERE day = $1 ORDER BY zone_id",
    )
    .bind(day)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(night, vec![(town, Some(1_000)), (district, Some(400))]);

    // A month read back is the sum of its computed days: here, the three around the 10th.
    store::compute_days(&mut conn, utility, day - Days::new(1), day + Days::new(1))
        .await
        .unwrap();
    let month = store::zone_periods(&mut conn, utility, day, day, Step::Month)
        .await
        .unwrap();
    let m = month[&district][0];
    assert_eq!((m.first_day, m.days_computed), (d("2026-11-01"), 3));
    assert_eq!(m.balance.system_input_litres, 3 * 9_600);
    let days = store::zone_periods(
        &mut conn,
        utility,
        day - Days::new(1),
        day + Days::new(1),
        Step::Day,
    )
    .await
    .unwrap();
    let sum = |f: fn(&store::ZonePeriod) -> i64| days[&district].iter().map(f).sum::<i64>();
    assert_eq!(
        m.balance.billed_metered_litres,
        sum(|p| p.balance.billed_metered_litres)
    );
    assert_eq!(m.losses_litres(), Some(sum(|p| p.losses_litres().unwrap())));
}

/// One row per simulated inlet reading, hourly from `from` to `to`.
fn inlet_readings(
    inlet: &ZoneInlet,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, i64)> {
    let mut cursor = inlet.cursor(from);
    (0..=(to - from).num_hours())
        .map(|h| {
            let at = from + Duration::hours(h);
            (at, cursor.advance_to(at) as i64)
        })
        .collect()
}

/// Two zones of a simulated fleet, each with its own technician and inlet; a burst of 3 m³/h
/// starts in the north zone on the night of 20 October. The balance loop, run as the system
/// runs it, raises exactly one alarm, for the north zone, told to the north's technician only;
/// running it again raises nothing more.
#[tokio::test]
async fn the_simulators_burst_raises_one_night_flow_alarm_for_that_zones_staff_only() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, "burst").await;
    let north_tech = staff_account(pool, utility, "polnoc@burst.pl").await;
    let south_tech = staff_account(pool, utility, "poludnie@burst.pl").await;
    let staff = ByStaff {
        utility_id: utility,
        account_id: north_tech,
    };
    let north = zone(pool, utility, "polnoc", None).await;
    let south = zone(pool, utility, "poludnie", None).await;
    let mut conn = pool.acquire().await.unwrap();
    network::name_zone_staff(&mut conn, staff, north, north_tech)
        .await
        .unwrap();
    network::name_zone_staff(&mut conn, staff, south, south_tech)
        .await
        .unwrap();
    let north_inlet = boundary(pool, staff, "ZU-N", None, Some(north)).await;
    let south_inlet = boundary(pool, staff, "ZU-S", None, Some(south)).await;

    let start = Utc.with_ymd_and_hms(2026, 9, 30, 22, 0, 0).unwrap(); // 1 October, Warsaw
    let fleet = FleetSpec::new(2026, start);
    let burst = Utc.with_ymd_and_hms(2026, 10, 19, 21, 0, 0).unwrap(); // 23:00 Warsaw
    let models = [
        (
            north_inlet,
            (0..40).collect::<Vec<u64>>(),
            vec![Burst {
                from: burst,
                until: None,
                litres_per_hour: 3_000,
            }],
        ),
        (south_inlet, (40..80).collect(), Vec::new()),
    ];
    let end = day_start(d("2026-11-01"));
    for (meter, meters, bursts) in models {
        let inlet = ZoneInlet::new(
            &fleet,
            ZoneSpec {
                meters,
                background_litres_per_hour: 150,
                bursts,
                initial_litres: 1_000_000,
            },
        );
        readings(pool, meter, &inlet_readings(&inlet, start, end)).await;
    }

    let settings = Settings {
        every: std::time::Duration::from_secs(3600),
        recompute_days: 7,
        rule: NightRule::default(),
    };
    let today = d("2026-11-01");
    let round = run::bring_up_to_date(pool, utility, today - Days::new(1), &settings)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(round.alarms.raised, 1);

    let alarms: Vec<(i64, NaiveDate, NaiveDate, i64, i64)> = sqlx::query_as(
        "SELECT zone_id, first_night, raised_on, baseline_litres_per_hour, observed_litres_per_hour
         FROM zone_alarms WHERE utility_id = $1",
    )
    .bind(utility)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    let (zone_id, first_night, raised_on, baseline, observed) = alarms[0];
    assert_eq!(zone_id, north);
    // The first night with the burst is the night of the 20th; the second one raises it.
    assert_eq!((first_night, raised_on), (d("2026-10-20"), d("2026-10-21")));
    assert!(observed >= baseline + 2_500, "{baseline} → {observed}");

    let told: Vec<(i64, String)> = sqlx::query_as(
        "SELECT recipient_account_id, kind FROM outbox WHERE utility_id = $1 ORDER BY id",
    )
    .bind(utility)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(told, vec![(north_tech, "zone_alarm.raised".to_string())]);

    // Walking the same nights again, and the next round, raise nothing more.
    let walked = alarms::evaluate(
        &mut conn,
        utility,
        &settings.rule,
        d("2026-10-01"),
        d("2026-10-31"),
    )
    .await
    .unwrap();
    assert_eq!(walked, alarms::Evaluated::default());
    let again = run::bring_up_to_date(pool, utility, today, &settings)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.alarms.raised, 0);
    let zones: BTreeSet<i64> = sqlx::query_scalar("SELECT zone_id FROM zone_alarms")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(zones, BTreeSet::from([north]));
    assert!(!zones.contains(&south));
}

/// Daily readings at noon over the last 60 days (up to today), the register given per day back.
fn daily(register: impl Fn(u64) -> i64) -> Vec<(DateTime<Utc>, i64)> {
    let today = ebok_common::domain::time::local_day(Utc::now());
    (0..60u64)
        .rev()
        .map(|back| {
            let at = day_start(today - Days::new(back)) + Duration::hours(12);
            (at.min(Utc::now()), register(back))
        })
        .collect()
}

/// Five households: one in order, one silent for ten days, one standing still for 40 days
/// after using water, one whose register went down five days ago, one past its legalisation.
/// The list has the four, each with its problem and its day, and not the first.
#[tokio::test]
async fn meter_health_lists_the_stopped_the_still_the_backwards_and_the_expired() {
    use ebok_balance::health::{self, Problem};
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, "zdrowie").await;
    let today = ebok_common::domain::time::local_day(Utc::now());
    let mut homes = Vec::new();
    for name in ["ok", "cichy", "stoi", "cofa", "stary"] {
        let home = fixtures::household(pool, utility, &format!("{name}@zdrowie.pl")).await;
        homes.push(home.meter_id);
    }
    let [ok, silent, still, backwards, old] = homes[..] else {
        unreachable!()
    };
    readings(pool, ok, &daily(|back| 100_000 - back as i64 * 300)).await;
    let quiet: Vec<_> = daily(|back| 100_000 - back as i64 * 300)
        .into_iter()
        .filter(|(at, _)| *at < Utc::now() - Duration::days(10))
        .collect();
    readings(pool, silent, &quiet).await;
    readings(
        pool,
        still,
        &daily(|back| 100_000 - back.saturating_sub(40) as i64 * 300),
    )
    .await;
    readings(
        pool,
        backwards,
        &daily(|back| 100_000 - back as i64 * 300 - if back <= 5 { 5_000 } else { 0 }),
    )
    .await;
    readings(pool, old, &daily(|back| 100_000 - back as i64 * 300)).await;
    sqlx::query("UPDATE meters SET legalised_until = $2 WHERE id = $1")
        .bind(old)
        .bind(today - Days::new(1))
        .execute(pool)
        .await
        .unwrap();

    let mut conn = pool.acquire().await.unwrap();
    let list = health::meter_health(&mut conn, utility, today)
        .await
        .unwrap();
    let found: Vec<(i64, Vec<Problem>)> =
        list.into_iter().map(|m| (m.meter_id, m.problems)).collect();
    assert!(found.iter().all(|(id, _)| *id != ok), "{found:?}");
    let of = |meter: i64| {
        found
            .iter()
            .find(|(id, _)| *id == meter)
            .unwrap_or_else(|| panic!("meter {meter} not listed: {found:?}"))
            .1
            .clone()
    };
    assert!(
        matches!(of(silent)[..], [Problem::Stopped { .. }]),
        "{found:?}"
    );
    assert_eq!(
        of(still),
        vec![Problem::StandingStill {
            since: today - Days::new(40)
        }]
    );
    assert_eq!(
        of(backwards),
        vec![Problem::Backwards {
            on: today - Days::new(5)
        }]
    );
    assert_eq!(
        of(old),
        vec![Problem::LegalisationPassed {
            on: today - Days::new(1)
        }]
    );
    assert_eq!(found.len(), 4);
}

/// Every way a boundary meter can be wrong is refused at its field, in Polish, and leaves
/// nothing behind: no side, the same zone on both, another utility's zone, a radio meter
/// without an 8-hex-digit address, a register or diameter out of range, a serial or radio
/// address taken.
#[tokio::test]
async fn a_wrong_boundary_meter_is_refused_at_its_field_and_stores_nothing() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, "granice").await;
    let staff = ByStaff {
        utility_id: utility,
        account_id: staff_account(pool, utility, "technik@granice.pl").await,
    };
    let town = zone(pool, utility, "miasto", None).await;
    let other = fixtures::utility(pool, "obce").await;
    let foreign = zone(pool, other, "obca", None).await;
    boundary(pool, staff, "ZU-1", None, Some(town)).await;
    let mut conn = pool.acquire().await.unwrap();
    let radio = NewBoundaryMeter {
        serial: "ZU-R".into(),
        channel: Channel::Radio,
        radio_id: Some("1A2B3C4D".into()),
        diameter_mm: Some(100),
        register_max_litres: 99_999_999_999,
        from_zone: None,
        into_zone: Some(town),
        installed_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    };
    // The right one is taken, and stored with its address in lower case.
    let first = network::add_boundary_meter(&mut conn, staff, &radio)
        .await
        .unwrap();
    let stored: Option<String> = sqlx::query_scalar("SELECT radio_id FROM meters WHERE id = $1")
        .bind(first)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(stored.as_deref(), Some("1a2b3c4d"));

    let wrong = |change: &dyn Fn(&mut NewBoundaryMeter)| {
        let mut meter = NewBoundaryMeter {
            serial: "ZU-NEW".into(),
            radio_id: Some("5e6f7a8b".into()),
            ..radio.clone()
        };
        change(&mut meter);
        meter
    };
    let cases: Vec<(&str, NewBoundaryMeter, &str, &str)> = vec![
        (
            "no serial",
            wrong(&|m| m.serial = "  ".into()),
            "serial",
            "Podaj numer fabryczny",
        ),
        (
            "no side",
            wrong(&|m| m.into_zone = None),
            "into_zone_id",
            "Wskaż strefę",
        ),
        (
            "the same zone on both sides",
            wrong(&|m| m.from_zone = Some(town)),
            "into_zone_id",
            "tej samej strefy",
        ),
        (
            "another utility's zone",
            wrong(&|m| m.from_zone = Some(foreign)),
            "from_zone_id",
            "Nie ma takiej strefy.",
        ),
        (
            "a radio meter without an address",
            wrong(&|m| m.radio_id = None),
            "radio_id",
            "8 cyfr szesnastkowych",
        ),
        (
            "an address that is not hexadecimal",
            wrong(&|m| m.radio_id = Some("1a2b3c4g".into())),
            "radio_id",
            "8 cyfr szesnastkowych",
        ),
        (
            "a register too small",
            wrong(&|m| m.register_max_litres = 999),
            "register_max_litres",
            "od 1 m³",
        ),
        (
            "a diameter too large",
            wrong(&|m| m.diameter_mm = Some(2_001)),
            "diameter_mm",
            "od 15 do 2000 mm",
        ),
        (
            "a serial taken",
            wrong(&|m| m.serial = "ZU-1".into()),
            "serial",
            "już jest",
        ),
        (
            "a radio address taken",
            wrong(&|m| m.radio_id = Some("1A2B3C4D".into())),
            "serial",
            "adresie radiowym już jest",
        ),
    ];
    let meters_before: i64 = sqlx::query_scalar("SELECT count(*) FROM meters")
        .fetch_one(pool)
        .await
        .unwrap();
    for (what, meter, field, message) in cases {
        match network::add_boundary_meter(&mut conn, staff, &meter).await {
            Err(network::NetworkError::Invalid(problems)) => {
                assert_eq!(problems.len(), 1, "{what}: {problems:?}");
                assert_eq!(problems[0].0, field, "{what}: {problems:?}");
                assert!(problems[0].1.contains(message), "{what}: {problems:?}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    let (meters, boundaries, audited): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM meters), (SELECT count(*) FROM zone_boundary_meters),
                (SELECT count(*) FROM audit_log WHERE action = 'zone_boundary_meter.added')",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((meters, boundaries, audited), (meters_before, 2, 2));
}
