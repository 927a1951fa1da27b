//! The water balance in the back office: a technician ranks the zones by their losses (the
//! leaky one first), opens a zone with its charts, downloads CSV, enters unbilled use (a wrong
//! amount named at its field) and adds a boundary meter. A resident, the counter, billing and
//! another utility's admin reach none of it.

use chrono::{DateTime, Days, Duration, Utc};
use ebok_balance::network::{self, Channel, NewBoundaryMeter};
use ebok_balance::store;
use ebok_common::audit::ByStaff;
use ebok_common::domain::time::{day_start, local_day};
use ebok_testkit::fixtures;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use sqlx::PgPool;

use crate::support::{self, App, html_page, staff, utility};

/// Hourly readings of a steady flow over the last four days, and the newest one.
async fn steady(pool: &PgPool, meter: i64, per_hour: i64) {
    let today = local_day(Utc::now());
    let from = day_start(today - Days::new(4));
    let hours = (day_start(today) - from).num_hours();
    let at: Vec<DateTime<Utc>> = (0..=hours).map(|h| from + Duration::hours(h)).collect();
    let litres: Vec<i64> = (0..=hours).map(|h| 1_000 + h * per_hour).collect();
    sqlx::query(
        "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
         SELECT $1, *, 'radio' FROM unnest($2::timestamptz[], $3::bigint[])",
    )
    .bind(meter)
    .bind(&at)
    .bind(&litres)
    .execute(pool)
    .await
    .unwrap();
    // The newest reading, as ingest keeps it.
    sqlx::query(
        "INSERT INTO meter_latest_readings (meter_id, measured_at, volume_litres, source, received_at)
         VALUES ($1, $2, $3, 'radio', now())",
    )
    .bind(meter)
    .bind(at[at.len() - 1])
    .bind(litres[litres.len() - 1])
    .execute(pool)
    .await
    .unwrap();
}

/// A zone fed by an inlet of `input` l/h with one household using `used` l/h.
async fn metered_zone(
    pool: &PgPool,
    staff: ByStaff,
    code: &str,
    name: &str,
    input: i64,
    used: i64,
) -> i64 {
    let id = fixtures::network_zone(pool, staff.utility_id, code, name, None).await;
    let customer = fixtures::meter_in_zone(pool, staff.utility_id, id).await;
    steady(pool, customer, used).await;
    let mut conn = pool.acquire().await.unwrap();
    let inlet = network::add_boundary_meter(
        &mut conn,
        staff,
        &NewBoundaryMeter {
            serial: format!("ZU-{code}"),
            channel: Channel::Modbus,
            radio_id: None,
            diameter_mm: Some(100),
            register_max_litres: 9_999_999_999,
            from_zone: None,
            into_zone: Some(id),
            installed_at: Utc::now() - Duration::days(30),
        },
    )
    .await
    .unwrap();
    steady(pool, inlet, input).await;
    id
}

#[tokio::test]
async fn a_technician_ranks_the_zones_opens_the_leaky_one_and_enters_flushing_nobody_else_can() {
    let app = App::start().await;
    let pool = app.pool();
    let utility_id = utility(pool, "mlynary").await;
    let tech = staff(pool, utility_id, "mlynary", "technician").await;
    let staff_ = ByStaff {
        utility_id,
        account_id: tech.account_id,
    };
    let leaky = metered_zone(pool, staff_, "polnoc", "Północ", 1_000, 100).await;
    let tight = metered_zone(pool, staff_, "poludnie", "Południe", 500, 400).await;
    let yesterday = local_day(Utc::now()) - Days::new(1);
    let mut conn = pool.acquire().await.unwrap();
    store::compute_days(&mut conn, utility_id, yesterday - Days::new(2), yesterday)
        .await
        .unwrap();
    store::compute_nights(&mut conn, utility_id, yesterday - Days::new(2), yesterday)
        .await
        .unwrap();
    let cookie = app.staff_web_login(&tech, 1).await;

    // The ranking: the leaky zone first, 90 % of its input lost; the other 20 %.
    let page = html_page(app.web_get(&cookie, "/panel/mlynary/bilans").await).await;
    let (north, south) = (page.find("Północ").unwrap(), page.find("Południe").unwrap());
    assert!(north < south, "{page}");
    assert!(
        page.contains("90,0% wpływu") && page.contains("20,0% wpływu"),
        "{page}"
    );
    // A range that cannot be read, or runs backwards, is refused with what to type.
    for (query, words) in [
        ("od=wczoraj", "Od: podaj datę w postaci RRRR-MM-DD."),
        ("od=2026-11-10&do=2026-11-01", "„od” nie może być po „do”"),
    ] {
        let refused = app
            .web_get(&cookie, &format!("/panel/mlynary/bilans?{query}"))
            .await;
        assert_eq!(refused.status(), 422, "{query}");
        let page = html_page(refused).await;
        assert!(page.contains(words), "{query}: {page}");
    }
    let csv = app.web_get(&cookie, "/panel/mlynary/bilans.csv").await;
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with('\u{feff}'), "{csv}");
    assert!(lines[1].starts_with("Północ;polnoc;;nie;"), "{csv}");
    // Three days of 24,000 l in and 2,400 l sold: 64,800 l lost.
    assert!(
        lines[1].contains(";72,000;7,200;0,000;64,800;90,00;21600;"),
        "{csv}"
    );

    // Its household's water has run without a pause for a day (ingest's alarm).
    let raised = sqlx::query(
        "INSERT INTO meter_alarms (utility_id, meter_id, kind, raised_at)
         SELECT m.utility_id, m.id, 'continuous_flow', now() - interval '2 hours'
         FROM meters m JOIN supply_points sp ON sp.id = m.supply_point_id WHERE sp.zone_id = $1",
    )
    .bind(leaky)
    .execute(pool)
    .await
    .unwrap();
    assert_eq!(raised.rows_affected(), 1);

    // The zone: its charts and nights, and the household with water running.
    let zone_path = format!("/panel/mlynary/bilans/{leaky}");
    let page = html_page(app.web_get(&cookie, &zone_path).await).await;
    assert!(page.contains("<svg") && page.contains("Bilans strefy Północ dzień po dniu"));
    assert!(page.contains("Przepływ nocny w strefie Północ"), "{page}");
    assert!(
        page.contains("1,000\u{a0}m³/h"),
        "the night flow of 1,000 l/h: {page}"
    );
    assert!(page.contains("woda płynie bez przerwy od doby"), "{page}");
    let days = app
        .web_get(&cookie, &format!("{zone_path}/dni.csv"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(days.lines().count(), 1 + 30, "{days}");

    // The meters to check: the fixtures' meters are in order.
    let health = html_page(app.web_get(&cookie, "/panel/mlynary/bilans/liczniki").await).await;
    assert!(
        health.contains("Wszystkie wodomierze są w porządku."),
        "{health}"
    );

    // Unbilled use: a wrong amount is named at its field; a right one is in the balance at
    // once.
    let csrf = app.web_csrf(&cookie, &zone_path).await;
    let post = |amount: &'static str| {
        let (app, cookie, csrf, path) = (
            &app,
            cookie.clone(),
            csrf.clone(),
            format!("{zone_path}/zuzycie"),
        );
        async move {
            app.web_post(
                &cookie,
                &path,
                &[
                    ("csrf", csrf.as_str()),
                    ("dzien", &yesterday.to_string()),
                    ("rodzaj", "flushing"),
                    ("ilosc", amount),
                    ("uwagi", "płukanie"),
                ],
            )
            .await
        }
    };
    let refused = post("dużo").await;
    assert_eq!(refused.status(), 422);
    let page = html_page(refused).await;
    assert!(page.contains("id=\"ilosc-error\""), "{page}");
    let saved = post("4,8").await;
    assert_eq!(saved.status(), 303);
    assert!(
        saved.headers()[LOCATION]
            .to_str()
            .unwrap()
            .ends_with("?zapisano=zuzycie")
    );
    let page = html_page(app.web_get(&cookie, &zone_path).await).await;
    assert!(page.contains("płukanie sieci"), "{page}");
    let csv = app
        .web_get(&cookie, "/panel/mlynary/bilans.csv")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains(";72,000;7,200;4,800;60,000;83,33;20000;"),
        "{csv}"
    );

    // A boundary meter from the form.
    let added = app
        .web_post(
            &cookie,
            &format!("/panel/mlynary/bilans/{tight}/wodomierze"),
            &[
                ("csrf", csrf.as_str()),
                ("numer", "ZU-9"),
                ("kanal", "modbus"),
                ("adres_radiowy", ""),
                ("srednica", "80"),
                ("skad", &leaky.to_string()),
                ("dokad", &tight.to_string()),
            ],
        )
        .await;
    assert_eq!(added.status(), 303);
    let page = html_page(
        app.web_get(&cookie, &format!("/panel/mlynary/bilans/{tight}"))
            .await,
    )
    .await;
    assert!(
        page.contains("ZU-9") && page.contains("wpływ ze strefy Północ"),
        "{page}"
    );

    // Nobody else: a resident's cookie is no staff session, the counter and billing have no
    // such role, another utility's admin finds no such zone.
    support::resident(pool, utility_id, "mlynary", "anna@example.pl", 0).await;
    let resident = app.web_login("mlynary", "anna@example.pl").await;
    let clerk = app
        .staff_web_login(&staff(pool, utility_id, "mlynary", "clerk").await, 1)
        .await;
    let billing = app
        .staff_web_login(&staff(pool, utility_id, "mlynary", "billing").await, 1)
        .await;
    let other = utility(pool, "inne").await;
    let stranger = app
        .staff_web_login(&staff(pool, other, "inne", "admin").await, 1)
        .await;
    for path in [
        "/panel/mlynary/bilans".to_string(),
        "/panel/mlynary/bilans.csv".into(),
        zone_path.clone(),
        format!("{zone_path}/dni.csv"),
        "/panel/mlynary/bilans/liczniki".into(),
        "/panel/mlynary/bilans/liczniki.csv".into(),
    ] {
        assert_eq!(
            app.web_get(&resident, &path).await.status(),
            303,
            "resident: {path}"
        );
        assert_eq!(
            app.web_get(&clerk, &path).await.status(),
            403,
            "clerk: {path}"
        );
        assert_eq!(
            app.web_get(&billing, &path).await.status(),
            403,
            "billing: {path}"
        );
    }
    for path in [
        format!("/panel/inne/bilans/{leaky}"),
        format!("/panel/inne/bilans/{leaky}/dni.csv"),
    ] {
        assert_eq!(
            app.web_get(&stranger, &path).await.status(),
            404,
            "another utility: {path}"
        );
    }
    let ranking = html_page(app.web_get(&stranger, "/panel/inne/bilans").await).await;
    assert!(!ranking.contains("Północ"), "{ranking}");
    let stranger_csrf = app.web_csrf(&stranger, "/panel/inne/bilans").await;
    let clerk_csrf = app.web_csrf(&clerk, "/panel/mlynary/klienci").await;
    let form = |csrf: &str| {
        vec![
            ("csrf".to_string(), csrf.to_string()),
            ("dzien".into(), yesterday.to_string()),
            ("rodzaj".into(), "fire_fighting".into()),
            ("ilosc".into(), "100".into()),
        ]
    };
    let send = |cookie: &String, path: String, fields: Vec<(String, String)>| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            let fields: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            app.web_post(&cookie, &path, &fields).await.status()
        }
    };
    assert_eq!(
        send(
            &stranger,
            format!("/panel/inne/bilans/{leaky}/zuzycie"),
            form(&stranger_csrf)
        )
        .await,
        404
    );
    assert_eq!(
        send(&clerk, format!("{zone_path}/zuzycie"), form(&clerk_csrf)).await,
        403
    );
    let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM zone_unbilled_use")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(entries, 1);
}
