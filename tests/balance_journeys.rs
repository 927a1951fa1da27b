//! The water balance in a real headless Chromium at a phone's width: two zones of a simulated
//! fleet (firmware-sim's households and zone inlets), a burst in one of them four nights ago;
//! the balance computed as the running system computes it. A technician signs in, opens the
//! zone ranking from the menu, finds the zone with the burst on top with its night-flow alarm,
//! opens it, and its chart and tables show the jump; then the meters to check. On every page:
//! no serious or critical axe-core violation, nothing scrolling sideways, fingertip-sized
//! controls.

use chrono::{DateTime, Days, Duration, Utc};
use ebok_balance::network::{self, Channel, NewBoundaryMeter};
use ebok_balance::run::{self, Settings};
use ebok_common::audit::ByStaff;
use ebok_common::domain::time::{day_start, local_day};
use ebok_testkit::browser::Browser;
use ebok_testkit::{TestDb, fixtures};
use firmware_sim::model::{Burst, FaultRates, FleetSpec, ZoneInlet, ZoneSpec};
use sqlx::PgPool;

use crate::journeys::{self, Office};

async fn insert(pool: &PgPool, meter: i64, rows: &[(DateTime<Utc>, i64)], source: &str) {
    let (at, litres): (Vec<DateTime<Utc>>, Vec<i64>) = rows.iter().copied().unzip();
    sqlx::query(
        "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
         SELECT $1, t, v, $4::reading_source FROM unnest($2::timestamptz[], $3::bigint[]) AS u (t, v)",
    )
    .bind(meter)
    .bind(&at)
    .bind(&litres)
    .bind(source)
    .execute(pool)
    .await
    .unwrap();
    let (last_at, last) = rows.last().copied().unwrap();
    sqlx::query(
        "INSERT INTO meter_latest_readings (meter_id, measured_at, volume_litres, source, received_at)
         VALUES ($1, $2, $3, $4::reading_source, now())",
    )
    .bind(meter)
    .bind(last_at)
    .bind(last)
    .bind(source)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_technician_finds_the_zone_with_the_burst_on_top_and_its_chart_shows_the_jump() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let office = Office::start(pool).await;
    let utility = office.utility_id;
    // The office's clerk looks after the network here.
    sqlx::query("UPDATE user_accounts SET role = 'technician' WHERE id = $1")
        .bind(office.clerk)
        .execute(pool)
        .await
        .unwrap();
    let staff = ByStaff {
        utility_id: utility,
        account_id: office.clerk,
    };

    let today = local_day(Utc::now());
    let start = day_start(today - Days::new(40));
    let fleet = FleetSpec {
        faults: FaultRates::none(),
        ..FleetSpec::new(23, start)
    };
    let burst_night = today - Days::new(4);
    let mut conn = pool.acquire().await.unwrap();
    for (code, name, meters, bursts) in [
        ("zachod", "Zachód", 0..30u64, Vec::new()),
        (
            "wschod",
            "Wschód",
            30..60,
            vec![Burst {
                from: day_start(burst_night) - Duration::hours(1),
                until: None,
                litres_per_hour: 2_000,
            }],
        ),
    ] {
        let zone = fixtures::network_zone(pool, utility, code, name, None).await;
        // Each household reads its register at midnight.
        for index in meters.clone() {
            let meter = fixtures::meter_in_zone(pool, utility, zone).await;
            let model = fleet.meter(index);
            let mut cursor = model.cursor(start);
            let rows: Vec<(DateTime<Utc>, i64)> = (0..=40)
                .map(|d| {
                    let at = day_start(local_day(start) + Days::new(d));
                    (at, cursor.advance_to(at).litres as i64)
                })
                .collect();
            insert(pool, meter, &rows, "radio").await;
            sqlx::query(
                "UPDATE meters SET installed_at = $2, install_reading_litres = $3 WHERE id = $1",
            )
            .bind(meter)
            .bind(rows[0].0)
            .bind(rows[0].1)
            .execute(pool)
            .await
            .unwrap();
        }
        let inlet = network::add_boundary_meter(
            &mut conn,
            staff,
            &NewBoundaryMeter {
                serial: format!("ZU-{code}"),
                channel: Channel::Modbus,
                radio_id: None,
                diameter_mm: Some(80),
                register_max_litres: 9_999_999_999,
                from_zone: None,
                into_zone: Some(zone),
                installed_at: start,
            },
        )
        .await
        .unwrap();
        let model = ZoneInlet::new(
            &fleet,
            ZoneSpec {
                meters: meters.collect(),
                background_litres_per_hour: 60,
                bursts,
                initial_litres: 500_000,
            },
        );
        let mut cursor = model.cursor(start);
        let hours = (day_start(today) - start).num_hours();
        let rows: Vec<(DateTime<Utc>, i64)> = (0..=hours)
            .map(|h| {
                let at = start + Duration::hours(h);
                (at, cursor.advance_to(at) as i64)
            })
            .collect();
        insert(pool, inlet, &rows, "modbus").await;
    }
    let settings = Settings {
        every: std::time::Duration::from_secs(3600),
        recompute_days: 7,
        rule: Default::default(),
    };
    let round = run::bring_up_to_date(pool, utility, today - Days::new(1), &settings)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(round.alarms.raised, 1);

    // On the narrowest phone: every page is also checked not to scroll sideways and to have
    // controls a fingertip hits.
    let browser = Browser::start_phone().await;
    office.clerk_signs_in(&browser).await;
    let problems = std::cell::RefCell::new(Vec::<String>::new());
    let fits = async |name: &str| {
        let found = browser.phone_layout_problems().await;
        problems
            .borrow_mut()
            .extend(found.into_iter().map(|p| format!("{name}: {p}")));
    };
    browser.click_and_wait("nav a[href$='/bilans']").await;
    assert_eq!(
        browser.current_path().await,
        format!("/panel/{}/bilans", journeys::SLUG)
    );
    browser
        .assert_no_serious_violations("water balance ranking")
        .await;
    fits("bilans").await;
    let first = browser.text("table.ranking tbody tr:first-child th").await;
    assert!(
        first.contains("Wschód") && first.contains("alarm nocny"),
        "{first}"
    );
    browser
        .click_and_wait("table.ranking tbody tr:first-child th a")
        .await;
    browser
        .assert_no_serious_violations("a zone's balance")
        .await;
    fits("a zone").await;
    let main = browser.text("main").await;
    assert!(main.contains("Alarm nocny trwa"), "{main}");
    // The chart says in words where the losses were largest: a day since the burst.
    let desc = browser.text("svg.balance-chart desc").await;
    let since: Vec<String> = (0..4)
        .map(|d| ebok_common::polish::day(burst_night + Days::new(d)))
        .collect();
    assert!(
        since.iter().any(|day| desc.contains(&format!("({day})"))),
        "{desc}"
    );
    // And its bars: the losses two days before the burst and on its first whole day.
    let losses: Vec<String> = browser
        .client()
        .execute(
            "return Array.from(
                 document.querySelector('svg.balance-chart')
                     .querySelectorAll(\"rect[fill='#b3261e'] title\"),
                 t => t.textContent);",
            vec![],
        )
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let litres_of = |day: chrono::NaiveDate| -> i64 {
        let name = ebok_common::polish::day(day);
        let tip = losses
            .iter()
            .find(|t| t.starts_with(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no losses bar for {name}: {losses:?}"));
        // "3 grudnia 2026: straty 1,440 m³ z …"
        let m3 = tip
            .split("straty ")
            .nth(1)
            .unwrap()
            .split("\u{a0}m³")
            .next()
            .unwrap();
        ebok_common::polish::parse_m3(m3).unwrap()
    };
    let before = litres_of(burst_night - Days::new(2));
    let after = litres_of(burst_night);
    assert!(
        after >= before + 20 * 2_000,
        "losses {before} l before the burst, {after} l after"
    );
    browser.goto(&office.panel("bilans/liczniki")).await;
    browser
        .assert_no_serious_violations("meters to check")
        .await;
    fits("bilans/liczniki").await;
    assert!(problems.borrow().is_empty(), "{:#?}", problems.borrow());
    browser.close().await;
    office.stop().await;
}
