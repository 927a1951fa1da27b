//! `ebok demo` as a resident or operator meets it: it creates the demo utilities, serves a ready
//! portal and API, stops cleanly on Ctrl-C, and a second run reuses the data.

use crate::support;

use chrono::Utc;
use ebok::cli::DemoArgs;
use ebok::demo::{seed, utilities};
use ebok_common::domain::identifiers::{Nip, Pesel};
use ebok_testkit::{TestDb, mqtt};
use secrecy::ExposeSecret;
use support::{ebok, interrupt, read_until, stderr_lines};

fn demo_command(db: &TestDb, extra: &[&str]) -> tokio::process::Command {
    demo_command_sized(db, "40", extra)
}

fn demo_command_sized(db: &TestDb, supply_points: &str, extra: &[&str]) -> tokio::process::Command {
    // Topics and client ids of its own: demo tests share the test broker. Ingest logs in as
    // itself; the simulator as each utility's gateway `demo`, made on the test stack's broker
    // (found through the stack's data folder).
    let prefix = format!("t/{}/", mqtt::unique("demo"));
    let (username, password) = mqtt::ingest_login();
    let mut command = ebok();
    command
        .env("EBOK__INGEST__CLIENT_ID", mqtt::unique("demo-ingest"))
        .env(
            "EBOK__INGEST__TOPICS",
            format!(r#"["{prefix}ebok/+/readings"]"#),
        )
        .env(
            "EBOK__INGEST__WMBUSMETERS_TOPICS",
            format!(r#"["{prefix}wmbusmeters/+/#"]"#),
        )
        .arg("demo")
        .args(["--supply-points", supply_points, "--days", "7"])
        .arg("--into-configured-database")
        .args(extra)
        .env("EBOK__DATABASE__URL", db.url().expose_secret())
        .env("EBOK__MQTT__URL", mqtt::broker_url())
        .env("EBOK__MQTT__USERNAME", username)
        .env("EBOK__MQTT__PASSWORD", password)
        .env(
            "EBOK__STACK__DATA_DIR",
            std::env::var("EBOK__STACK__DATA_DIR").expect("set by `ebok stack run`"),
        )
        .env("EBOK__API__LISTEN", "127.0.0.1:0")
        .env("EBOK__METRICS__LISTEN", "127.0.0.1:0")
        .stderr(std::process::Stdio::piped());
    command
}

fn url_after(lines: &[String], label: &str) -> String {
    lines
        .iter()
        .find_map(|l| l.trim().strip_prefix(label).map(|u| u.trim().to_string()))
        .unwrap_or_else(|| panic!("no {label} line in:\n{}", lines.join("\n")))
}

#[tokio::test]
async fn demo_serves_a_ready_portal_with_both_utilities_and_stops_on_ctrl_c() {
    let db = TestDb::new().await;
    // 300 supply points include a few bulk meters, which the demo serves over Modbus.
    let mut child = demo_command_sized(&db, "300", &[]).spawn().unwrap();
    let mut lines = stderr_lines(&mut child);
    let banner = read_until(&mut lines, "Ctrl-C stops the demo").await;

    let http = ebok_testkit::http_client();
    let readyz = url_after(&banner, "readiness:");
    let response = http.get(&readyz).send().await.unwrap();
    assert_eq!(response.status(), 200, "{readyz}");

    let api = url_after(&banner, "API:");
    let utilities: Vec<serde_json::Value> =
        http.get(&api).send().await.unwrap().json().await.unwrap();
    let slugs: Vec<&str> = utilities
        .iter()
        .map(|u| u["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["mlynary", "pieniezno"]);

    let metrics = url_after(&banner, "metrics:");
    let text = http
        .get(&metrics)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("http_requests_total"), "{text}");

    assert!(banner.iter().any(|l| l.contains("bok@zgk-mlynary.example")));
    assert!(banner.iter().any(|l| l.contains(seed::DEMO_PASSWORD)));

    // Staff sign in with the banner's authenticator key: its current code opens the staff API.
    let staff_page = url_after(&banner, "staff:");
    assert!(
        staff_page.ends_with("/panel/mlynary/logowanie"),
        "{staff_page}"
    );
    let key_line = banner
        .iter()
        .find(|l| l.contains("authenticator app"))
        .expect("the banner prints the demo's authenticator key");
    let key = key_line
        .split("add the key ")
        .nth(1)
        .and_then(|rest| rest.split(" to an").next())
        .unwrap();
    let secret = ebok_api::staff::totp::parse_secret(key).expect("a base32 key");
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signed_in = http
        .post(api.replace("/utilities", "/staff/utilities/mlynary/token"))
        .json(&serde_json::json!({
            "email": "bok@zgk-mlynary.example", "password": seed::DEMO_PASSWORD,
            "code": ebok_api::staff::totp::code_at(&secret, seconds)
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);

    // The demo has planned works on its busiest street, on the public page and in the feed.
    let notices = http
        .get(portal_url(&api, "/u/mlynary/komunikaty.atom"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(notices.contains("Płukanie sieci wodociągowej"), "{notices}");

    // Without a mail server, a resident's e-mail lands on the demo's mailbox page.
    let mailbox = url_after(&banner, "mailbox:");
    let mailbox = mailbox.split_whitespace().next().unwrap().to_string();
    let registered = http
        .post(api.replace("/utilities", "/utilities/mlynary/accounts"))
        .json(&serde_json::json!({
            "email": "nowa@example.pl", "display_name": "Nowa Mieszkanka",
            "password": "zielona łódka na Wiśle", "password_repeat": "zielona łódka na Wiśle",
            "accept_terms": true
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 202);
    let page = http
        .get(&mailbox)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("nowa@example.pl"), "{page}");
    assert!(page.contains("/u/mlynary/aktywuj?token="), "{page}");

    // Each utility has a letter waiting for a clerk and an application waiting for a supplement.
    let cases: Vec<(String, String)> = sqlx::query_as(
        "SELECT u.slug, c.state::text FROM cases c JOIN utilities u ON u.id = c.utility_id
         ORDER BY u.slug, c.state::text",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let expected: Vec<(String, String)> = ["mlynary", "pieniezno"]
        .iter()
        .flat_map(|u| {
            [
                (u.to_string(), "awaiting_supplement".to_string()),
                (u.to_string(), "registered".to_string()),
            ]
        })
        .collect();
    assert_eq!(cases, expected);

    // The simulators publish as each utility's gateway `demo`, made on the test broker.
    let gateways: Vec<String> = sqlx::query_scalar(
        "SELECT mqtt_username FROM mqtt_gateways WHERE revoked_at IS NULL ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(gateways, ["mlynary.demo", "pieniezno.demo"]);
    let accounts = ebok_testkit::mqtt::test_broker().read().unwrap();
    assert!(
        accounts
            .rules_of("mlynary.demo")
            .iter()
            .any(|r| r.starts_with("topic write t/") && r.ends_with("/ebok/mlynary/readings")),
        "{:?}",
        accounts.rules_of("mlynary.demo")
    );

    // The bulk meters are polled over Modbus right away: their readings arrive while it runs.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let polled: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM meter_readings WHERE source = 'modbus'
             AND received_at > now() - interval '5 minutes'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if polled > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no Modbus reading within 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    let status = interrupt(&mut child).await;
    assert!(status.success(), "demo exited with {status}");
}

/// The demo's accounts share a published password: it seeds them into the local stack's
/// database only, unless told that a configured database is private.
#[tokio::test]
async fn demo_refuses_a_configured_database_unless_told_it_is_private() {
    let db = TestDb::new().await;
    let output = ebok()
        .arg("demo")
        .args(["--supply-points", "10", "--days", "1", "--no-serve"])
        .env("EBOK__DATABASE__URL", db.url().expose_secret())
        .env("EBOK__MQTT__URL", mqtt::broker_url())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--into-configured-database"), "{stderr}");
    assert!(stderr.contains("EBOK__DATABASE__URL"), "{stderr}");
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM user_accounts")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(accounts, 0, "nothing seeded");
}

#[tokio::test]
async fn second_demo_run_reuses_the_data() {
    let db = TestDb::new().await;
    let count = |sql: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let first = demo_command(&db, &["--no-serve"]).output().await.unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stderr).contains("readings generated"));
    let customers = count("SELECT count(*) FROM customers").await;
    let readings = count("SELECT count(*) FROM meter_readings").await;
    assert!(readings > 0);

    let second = demo_command(&db, &["--no-serve"]).output().await.unwrap();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(String::from_utf8_lossy(&second.stderr).contains("added since the last run"));
    assert_eq!(count("SELECT count(*) FROM utilities").await, 2);
    assert_eq!(count("SELECT count(*) FROM customers").await, customers);
    assert!(count("SELECT count(*) FROM meter_readings").await >= readings);
}

/// The full-size demo utility, generated in-process: what an operator gets from `ebok demo`.
#[tokio::test]
async fn demo_utility_has_2500_supply_points_with_customers_meters_and_90_days_of_readings() {
    let db = TestDb::new().await;
    let args = DemoArgs {
        seed: 2026,
        supply_points: 2500,
        days: 90,
        no_serve: true,
        into_configured_database: true,
    };
    let [mlynary, _] = utilities(&args);
    let now = Utc::now();
    let seeded = seed::ensure_utility(&db.pool, &mlynary, 90, now)
        .await
        .unwrap();
    assert!(seeded.created);
    let one = |sql: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    // The simulated 2,500 and the household with a meter without radio.
    assert_eq!(one("SELECT count(*) FROM supply_points").await, 2501);
    assert_eq!(
        one("SELECT count(*) FROM contracts WHERE status = 'active'").await,
        2501
    );
    assert_eq!(
        one("SELECT count(*) FROM meters WHERE removed_at IS NULL").await,
        2501,
        "one installed meter per supply point"
    );
    for kind in [
        "person",
        "company",
        "housing_community",
        "public_institution",
    ] {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM customers WHERE kind::text = $1")
            .bind(kind)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert!(n > 0, "no {kind} customers");
    }
    assert!(one("SELECT count(*) FROM meters WHERE channel = 'modbus'").await > 0);
    assert_eq!(
        one("SELECT count(*) FROM user_accounts WHERE role <> 'resident'").await,
        4
    );
    assert!(one("SELECT count(*) FROM account_customers").await >= 2);
    // The leaking household's resident sees its leak as a meter alarm (as the banner says).
    assert!(
        one("SELECT count(*) FROM meter_alarms a
             JOIN meters m ON m.id = a.meter_id
             JOIN contracts c ON c.supply_point_id = m.supply_point_id
             JOIN account_customers ac ON ac.customer_id = c.customer_id
             WHERE a.kind = 'leak'")
        .await
            >= 1
    );

    // A resident reads a meter without radio and enters it: a village house, addressed as
    // villages are, whose monthly self-readings are there, and which is outside the simulated
    // fleet (no radio id, so no telegram can be meant for it).
    let (radio_id, address, code, entered, stored): (Option<String>, String, String, i64, i64) =
        sqlx::query_as(
            "SELECT m.radio_id,
                    ebok_address(sp.street, sp.building_no, sp.apartment_no, sp.postal_code,
                                 sp.city, sp.post_town),
                    sp.code,
                    (SELECT count(*) FROM self_readings s WHERE s.meter_id = m.id),
                    (SELECT count(*) FROM meter_readings r
                     WHERE r.meter_id = m.id AND r.source = 'manual')
             FROM meters m JOIN supply_points sp ON sp.id = m.supply_point_id
             JOIN contracts c ON c.supply_point_id = sp.id
             JOIN account_customers ac ON ac.customer_id = c.customer_id
             WHERE m.channel = 'manual'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(radio_id, None);
    assert!(
        address.starts_with("Kurowo ") && address.ends_with(", 14-420 Młynary"),
        "{address}"
    );
    assert!(code.as_str() > "PP-002500", "{code}");
    assert!(
        entered >= 2 && entered == stored,
        "{entered} entered, {stored} stored"
    );
    assert!(
        seeded
            .logins
            .iter()
            .any(|l| l.note.contains("wodomierz bez radia")),
        "the banner names the household that reads its own meter"
    );

    // Daily readings: nearly every meter on nearly every day (radio gaps are part of the model).
    let readings = one("SELECT count(*) FROM meter_readings").await;
    assert_eq!(readings as u64, seeded.readings_added);
    assert!(readings > 2500 * 85, "{readings} readings");
    assert_eq!(
        one("SELECT count(*) FROM meter_readings WHERE measured_at > now()").await,
        0
    );
    // "Latest" is really the newest reading of each meter.
    assert_eq!(
        one("SELECT count(*) FROM meter_latest_readings l
             WHERE l.measured_at <> (SELECT max(measured_at) FROM meter_readings r
                                     WHERE r.meter_id = l.meter_id)")
        .await,
        0
    );
    // Identifiers are valid, not just well-shaped.
    let pesels: Vec<String> =
        sqlx::query_scalar("SELECT pesel FROM customers WHERE pesel IS NOT NULL")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert!(pesels.len() > 2000);
    assert!(pesels.iter().all(|p| Pesel::parse(p).is_ok()));
    let nips: Vec<String> = sqlx::query_scalar("SELECT nip FROM customers WHERE nip IS NOT NULL")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert!(nips.iter().all(|n| Nip::parse(n).is_ok()));
    let hashes: Vec<String> = sqlx::query_scalar("SELECT password_hash FROM user_accounts")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert!(
        hashes
            .iter()
            .all(|h| ebok_api::password::verify(seed::DEMO_PASSWORD, h))
    );
}

/// The portal's address of `path`, from the API's address in the banner (`…/api/v1/utilities`).
fn portal_url(api: &str, path: &str) -> String {
    format!("{}{path}", api.split("/api/").next().unwrap())
}
