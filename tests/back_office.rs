//! The back office in a real headless Chromium, with the real ingest behind it: a clerk signs
//! in with a password and a code of the authenticator app, finds a customer by the meter's
//! serial, replaces the meter (final and initial register at one instant) and the resident's
//! history stays whole across it; then assigns readings quarantined under an unknown radio id
//! to a meter, and ingest replays them into it. axe-core checks every page on the way: none may
//! have a serious or critical violation.

use std::time::Duration;

use chrono::{Datelike, Days, Utc};
use ebok_api::AppState;
use ebok_common::config::IngestConfig;
use ebok_common::domain::time::local_day;
use ebok_ingest::service::{self, Intervals};
use ebok_readings::access::Viewer;
use ebok_readings::history::Step;
use ebok_testkit::browser::Browser;
use ebok_testkit::{TestDb, fixtures, mqtt};
use rumqttc::{AsyncClient, QoS};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::journeys;

use journeys::{SLUG, STAFF_PASSWORD as PASSWORD};

#[tokio::test]
async fn a_clerk_signs_in_with_a_code_replaces_a_meter_and_assigns_quarantined_readings() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, SLUG).await;
    let home = fixtures::household(pool, utility, "anna@example.pl").await;
    let serial: String = sqlx::query_scalar("SELECT serial FROM meters WHERE id = $1")
        .bind(home.meter_id)
        .fetch_one(pool)
        .await
        .unwrap();
    let now = Utc::now();
    for days_ago in (1..=3).rev() {
        let at = (now - chrono::Duration::days(days_ago))
            .date_naive()
            .and_hms_opt(6, 0, 0)
            .unwrap()
            .and_utc();
        fixtures::radio_reading(pool, home.meter_id, at, 100_000 + (4 - days_ago) * 150).await;
    }
    // A second household whose meter went in without its radio id.
    let second = fixtures::household(pool, utility, "jan@example.pl").await;
    let second_serial: String = sqlx::query_scalar("SELECT serial FROM meters WHERE id = $1")
        .bind(second.meter_id)
        .fetch_one(pool)
        .await
        .unwrap();
    let (_, secret) = journeys::clerk(pool, utility, "bok@mlynary.example").await;

    // The portal and ingest, as in production.
    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(
        pool.clone(),
        ebok_api::state::Settings::new(&url, ebok_api::auth::keys::Keys::generate()),
    )
    .await;
    let portal = tokio::spawn(ebok_api::serve(listener, state, shutdown.clone()));
    let prefix = format!("t/{}", mqtt::unique("office"));
    let wmbus = format!("{prefix}-wmbus/+/#");
    let mut ingest = service::start(
        pool.clone(),
        IngestConfig {
            client_id: mqtt::unique("ingest"),
            topics: vec![format!("{prefix}/+/readings")],
            wmbusmeters_topics: vec![wmbus.clone()],
            batch_delay_ms: 20,
            latest_flush_ms: 100,
            ..IngestConfig::default()
        },
        mqtt::ingest_config(),
        Intervals {
            replay: Duration::from_millis(200),
            ..Intervals::default()
        },
        shutdown.clone(),
    )
    .await
    .unwrap();
    tokio::time::timeout(Duration::from_secs(10), ingest.subscribed())
        .await
        .expect("subscribed");

    let browser = Browser::start().await;
    let page = |path: &str| format!("{url}/panel/{SLUG}/{path}");

    // Sign in: the password, then the code the app shows now.
    browser.goto(&page("")).await;
    assert_eq!(
        browser.current_path().await,
        format!("/panel/{SLUG}/logowanie")
    );
    browser.assert_no_serious_violations("staff sign-in").await;
    browser.fill("email", "bok@mlynary.example").await;
    browser.fill("password", PASSWORD).await;
    browser.click_submit().await;
    assert_eq!(
        browser.current_path().await,
        format!("/panel/{SLUG}/logowanie/kod")
    );
    browser.assert_no_serious_violations("second factor").await;
    browser.fill("code", &journeys::code_now(&secret)).await;
    browser.click_submit().await;
    assert_eq!(browser.current_path().await, format!("/panel/{SLUG}/"));
    browser
        .assert_no_serious_violations("back office home")
        .await;

    // Find the customer by the meter's serial, open the card, then the meter.
    browser.fill("q", &serial).await;
    browser.click_submit().await;
    browser
        .assert_no_serious_violations("customer search")
        .await;
    browser
        .click_and_wait(&format!("a[href$='/klienci/{}']", home.customer_id))
        .await;
    browser
        .assert_no_serious_violations("customer card with its forms")
        .await;
    assert!(browser.text("main").await.contains("Anna Nowak"));
    // The form of a new customer, sent empty: every error at its field.
    browser.goto(&page("klienci/nowy")).await;
    browser.assert_no_serious_violations("new customer").await;
    browser.click_submit().await;
    browser.wait_for_text("main", "Podaj imię.").await;
    browser
        .assert_no_serious_violations("new customer with errors")
        .await;
    browser
        .goto(&page(&format!("klienci/{}", home.customer_id)))
        .await;
    browser
        .click_and_wait(&format!("a[href$='/liczniki/{}']", home.meter_id))
        .await;
    browser.assert_no_serious_violations("meter").await;

    // Replace it now: the old meter's final register, the new one's initial register.
    let local = Utc::now().with_timezone(&chrono_tz::Europe::Warsaw);
    browser
        .fill("day", &local.format("%Y-%m-%d").to_string())
        .await;
    browser
        .fill("time", &local.format("%H:%M").to_string())
        .await;
    browser.fill("final", "100,600").await;
    browser.fill("serial", "NOWY-2026-1").await;
    browser.fill("channel", "manual").await;
    browser.fill("radio_id", "").await;
    browser.fill("initial", "0,004").await;
    browser.click_submit().await;
    browser.wait_for_text("main", "Wodomierz wymieniony").await;
    browser
        .assert_no_serious_violations("replacement meter")
        .await;
    let new_meter: i64 = sqlx::query_scalar("SELECT id FROM meters WHERE replaces_meter_id = $1")
        .bind(home.meter_id)
        .fetch_one(pool)
        .await
        .unwrap();

    // The resident's history: the old meter's today ends at its final register and counts
    // from yesterday's; the new meter starts at its initial register with nothing used.
    let viewer = Viewer {
        utility_id: utility,
        account_id: home.account_id,
    };
    let today = local_day(Utc::now());
    let mut conn = pool.acquire().await.unwrap();
    let old = ebok_readings::history::history(
        &mut conn,
        viewer,
        home.meter_id,
        today - Days::new(1),
        today,
        Step::Day,
    )
    .await
    .unwrap();
    let (yesterday, today_point) = (&old[0], &old[1]);
    assert_eq!(today_point.end.unwrap().litres, 100_600);
    assert_eq!(
        today_point.consumption_litres,
        Some(100_600 - yesterday.end.unwrap().litres)
    );
    let new =
        ebok_readings::history::history(&mut conn, viewer, new_meter, today, today, Step::Day)
            .await
            .unwrap();
    assert_eq!(new[0].end.unwrap().litres, 4);
    assert_eq!(new[0].consumption_litres.unwrap_or(0), 0);
    drop(conn);

    // The replacement campaign's list and the installation form.
    browser
        .goto(&page("liczniki/legalizacja?miesiace=12"))
        .await;
    browser
        .assert_no_serious_violations("legalisation list")
        .await;
    browser.goto(&page("liczniki/nowy")).await;
    browser
        .assert_no_serious_violations("meter installation")
        .await;

    // The utility's meter alarms, acknowledged from the list.
    sqlx::query(
        "INSERT INTO meter_alarms (utility_id, meter_id, kind, raised_at)
         VALUES ($1, $2, 'leak', now() - interval '1 hour')",
    )
    .bind(utility)
    .bind(second.meter_id)
    .execute(pool)
    .await
    .unwrap();
    browser.goto(&page("alarmy")).await;
    browser.assert_no_serious_violations("meter alarms").await;
    browser.fill("note", "Jadę na miejsce").await;
    browser.submit("form.inline").await;
    browser.wait_for_text("main", "Alarm przyjęty").await;
    browser
        .assert_no_serious_violations("meter alarms after acknowledging")
        .await;

    // Telegrams of a radio id nobody has registered are held, not lost…
    let gateway = mqtt::Gateway::new(SLUG, &[&wmbus]).await;
    let (client, mut events) = AsyncClient::new(gateway.options(&mqtt::unique("radio")), 16);
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    for (hours_ago, m3) in [(3, 20.015), (2, 20.115), (1, 20.215)] {
        let at = (Utc::now() - chrono::Duration::hours(hours_ago)).to_rfc3339();
        let telegram = json!({
            "_": "telegram", "media": "cold water", "meter": "multical21", "name": "nowy",
            "id": "0badf00d", "total_m3": m3, "status": "OK", "timestamp": at
        });
        client
            .publish(
                format!("{prefix}-wmbus/{SLUG}/nowy"),
                QoS::AtLeastOnce,
                false,
                telegram.to_string(),
            )
            .await
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let held: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM ingest_quarantine WHERE meter_ref = '0badf00d'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if held == 3 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{held} held within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // …until the clerk assigns them to the second household's meter.
    browser.goto(&page("kwarantanna")).await;
    browser.assert_no_serious_violations("quarantine").await;
    assert!(browser.text("main").await.contains("0badf00d"));
    browser.fill("serial", &second_serial).await;
    browser.click_submit().await;
    browser.wait_for_text("main", "Przypisano 3 odczyty").await;
    browser
        .assert_no_serious_violations("quarantine after assigning")
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        browser
            .goto(&page(&format!("liczniki/{}", second.meter_id)))
            .await;
        if browser.text("main").await.contains("20,215") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the assigned readings did not appear within 20 s: {}",
            browser.text("main").await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Rejections by reason, and the notices that could not be delivered.
    browser.goto(&page("odrzucone")).await;
    browser
        .assert_no_serious_violations("rejected readings")
        .await;
    browser.goto(&page("niedostarczone")).await;
    browser.assert_no_serious_violations("dead letters").await;

    // A resident's letter waits in the cases queue: the clerk opens it and takes it.
    let acting = ebok_cases::store::Acting::Resident {
        account_id: home.account_id,
    };
    let mut tx = pool.begin().await.unwrap();
    let letter = ebok_cases::store::start_draft(
        &mut tx,
        utility,
        "general_letter",
        home.account_id,
        Some(home.customer_id),
        None,
    )
    .await
    .unwrap();
    let answers: ebok_cases::form::Answers =
        [("subject", "Przyłącze"), ("content", "Proszę o kontakt.")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    ebok_cases::store::save_answers(&mut tx, utility, letter, acting, &answers)
        .await
        .unwrap();
    ebok_cases::store::submit(
        &mut tx,
        utility,
        letter,
        acting,
        ebok_common::domain::time::local_day(Utc::now()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    browser.goto(&page("sprawy?widok=nowe")).await;
    browser.assert_no_serious_violations("cases queue").await;
    browser.goto(&page(&format!("sprawy/{letter}"))).await;
    browser.assert_no_serious_violations("case").await;
    browser.click_and_wait("button[value=przydziel]").await;
    assert!(
        browser.text("main").await.contains("Zapisano"),
        "{}",
        browser.text("main").await
    );
    browser.assert_no_serious_violations("case taken").await;

    let radio: Option<String> = sqlx::query_scalar("SELECT radio_id FROM meters WHERE id = $1")
        .bind(second.meter_id)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(radio.as_deref(), Some("0badf00d"));

    browser.close().await;
    shutdown.cancel();
    let _ = ingest.task.await;
    let _ = portal.await;
}

#[tokio::test]
async fn a_first_sign_in_enrols_the_authenticator_app_on_accessible_pages() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, SLUG).await;
    sqlx::query(
        "INSERT INTO user_accounts (utility_id, email, password_hash, role, status, display_name,
                                    activated_at)
         VALUES ($1, 'admin@mlynary.example', $2, 'admin', 'active', 'Adam Admin', now())",
    )
    .bind(utility)
    .bind(ebok_api::password::hash(PASSWORD).unwrap())
    .execute(pool)
    .await
    .unwrap();
    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(
        pool.clone(),
        ebok_api::state::Settings::new(&url, ebok_api::auth::keys::Keys::generate()),
    )
    .await;
    let portal = tokio::spawn(ebok_api::serve(listener, state, shutdown.clone()));
    let browser = Browser::start().await;
    browser.goto(&format!("{url}/panel/{SLUG}/logowanie")).await;
    browser.fill("email", "admin@mlynary.example").await;
    browser.fill("password", PASSWORD).await;
    browser.click_submit().await;
    assert_eq!(
        browser.current_path().await,
        format!("/panel/{SLUG}/logowanie/aplikacja")
    );
    browser
        .assert_no_serious_violations("authenticator enrolment")
        .await;
    let key = browser.text("code.secret").await;
    let secret = ebok_api::staff::totp::parse_secret(&key).expect("the key as text");
    browser.fill("code", &journeys::code_now(&secret)).await;
    browser.click_submit().await;
    browser.wait_for_text("main", "Kody odzyskiwania").await;
    browser.assert_no_serious_violations("recovery codes").await;
    browser.click_and_wait("main p.link a").await;
    assert_eq!(browser.current_path().await, format!("/panel/{SLUG}/"));
    // The admin reads the audit log: the enrolment and the sign-in are in it.
    browser.goto(&format!("{url}/panel/{SLUG}/dziennik")).await;
    browser.assert_no_serious_violations("audit log").await;
    let log = browser.text("main").await;
    assert!(log.contains("staff.authenticator_enrolled"), "{log}");
    browser.goto(&format!("{url}/panel/{SLUG}/zespol")).await;
    browser.assert_no_serious_violations("staff accounts").await;
    browser
        .goto(&format!("{url}/panel/{SLUG}/ustawienia"))
        .await;
    browser
        .assert_no_serious_violations("utility settings")
        .await;

    // Billing: the tariffs (a new one with its errors first), a month's run followed to its
    // end, and the invoice on the customer's card.
    let home = fixtures::household(pool, utility, "anna@example.pl").await;
    let today = local_day(Utc::now());
    let month = today.with_day(1).unwrap() - chrono::Months::new(1);
    sqlx::query(
        "UPDATE utilities SET nip = '5260250274', street = 'Wodna', building_no = '1',
                postal_code = '14-420', city = 'Młynary' WHERE id = $1",
    )
    .bind(utility)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO tariffs (utility_id, tariff_group_id, valid_from, water_price_grosze,
                              sewage_price_grosze, subscription_grosze, garden_subscription_grosze, vat_rate)
         SELECT $1, id, '2020-01-01', 512, 790, 950, 300, 8 FROM tariff_groups WHERE utility_id = $1",
    )
    .bind(utility)
    .execute(pool)
    .await
    .unwrap();
    for (day, litres) in [(month, 10_000), (month + chrono::Months::new(1), 14_321)] {
        fixtures::radio_reading(
            pool,
            home.meter_id,
            ebok_common::domain::time::day_start(day),
            litres,
        )
        .await;
    }
    browser.goto(&format!("{url}/panel/{SLUG}/taryfy")).await;
    browser.assert_no_serious_violations("tariffs").await;
    browser.fill("water_price", "pięć").await;
    browser.submit("main form[action$='/taryfy']").await;
    browser.find("div.error-summary").await;
    browser
        .assert_no_serious_violations("new tariff with errors")
        .await;
    browser
        .goto(&format!("{url}/panel/{SLUG}/rozliczenia"))
        .await;
    browser.assert_no_serious_violations("billing runs").await;
    // The month is last month's by default.
    assert_eq!(
        browser
            .find("#period")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some(month.format("%Y-%m").to_string().as_str())
    );
    browser.submit("main form[action$='/rozliczenia']").await;
    let mut state = String::new();
    for _ in 0..50 {
        state = browser.text("main").await;
        if state.contains("zakończone") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        browser.goto(&browser.current_url().await).await;
    }
    assert!(
        state.contains("Wystawione faktury") && state.contains("zakończone"),
        "{state}"
    );
    browser.assert_no_serious_violations("billing run").await;
    browser
        .goto(&format!("{url}/panel/{SLUG}/klienci/{}", home.customer_id))
        .await;
    let card = browser.text("main").await;
    assert!(
        card.contains("Rozliczenia") && card.contains("FV/"),
        "{card}"
    );
    browser
        .assert_no_serious_violations("customer card with invoices")
        .await;
    let invoice: i64 = sqlx::query_scalar("SELECT id FROM invoices WHERE customer_id = $1")
        .bind(home.customer_id)
        .fetch_one(pool)
        .await
        .unwrap();
    browser
        .goto(&format!("{url}/panel/{SLUG}/faktury/{invoice}/korekta"))
        .await;
    browser.fill("reason", "Błędny odczyt").await;
    browser.submit("form[action$='/korekta/podglad']").await;
    browser.find("div.error-summary").await;
    browser
        .assert_no_serious_violations("invoice correction")
        .await;
    // Money in: payments, statements, debts and a customer's interest note.
    for (path, name) in [
        ("platnosci".to_string(), "payments"),
        ("wyciagi".to_string(), "bank statements"),
        ("zaleglosci".to_string(), "overdue customers"),
        (format!("zaleglosci/{}", home.customer_id), "interest note"),
        ("ksef".to_string(), "KSeF"),
    ] {
        browser.goto(&format!("{url}/panel/{SLUG}/{path}")).await;
        browser.find("main h1").await;
        browser.assert_no_serious_violations(name).await;
    }
    let xml: String = sqlx::query_scalar("SELECT ksef_xml FROM invoices WHERE id = $1")
        .bind(invoice)
        .fetch_one(pool)
        .await
        .unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), xml).unwrap();
    let valid = std::process::Command::new("xmllint")
        .args(["--noout", "--schema", ebok_billing::ksef::FA3_SCHEMA])
        .arg(file.path())
        .output()
        .expect("xmllint (libxml2-utils) must be installed: scripts/test-tools.sh installs it");
    assert!(
        valid.status.success(),
        "{}",
        String::from_utf8_lossy(&valid.stderr)
    );
    browser.close().await;
    shutdown.cancel();
    let _ = portal.await;
}
