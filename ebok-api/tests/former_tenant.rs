//! A former tenant and the household after them: once a contract ends, what the meter measures is
//! the next household's. The former tenant sees the meter as it stood on the contract's last day
//! through every endpoint and page, cannot set or switch on alarms for it, and no rule of theirs
//! fires on the next household's water; the next household sees nothing from before its own
//! first day. The same data fires the next household's own rules, so the former tenant's
//! silence is the window's doing, not the data's.

use crate::support;

use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};
use ebok_alarm_rules::{Evaluator, EvaluatorConfig};
use ebok_common::domain::time::{day_start, local_day};
use serde_json::{Value, json};
use sqlx::PgPool;
use support::{App, problem, reading, resident, utility};

fn token(login: &Value) -> String {
    login["access_token"].as_str().unwrap().to_string()
}

/// Noon (Warsaw) of `day`.
fn noon(day: NaiveDate) -> DateTime<Utc> {
    day_start(day) + chrono::Duration::hours(12)
}

async fn step(evaluator: &Evaluator) {
    evaluator.try_once().await.expect("evaluator step");
}

async fn count(pool: &PgPool, sql: &str, id: i64) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn rule(app: &App, token: &str, meter_id: i64, kind: Value) -> reqwest::Response {
    let mut body = json!({ "meter_id": meter_id });
    body.as_object_mut()
        .unwrap()
        .extend(kind.as_object().unwrap().clone());
    app.post(Some(token), "/api/v1/alarm-rules", body).await
}

fn the_rules() -> [Value; 3] {
    [
        json!({ "kind": "daily_above", "litres": 1000 }),
        json!({ "kind": "no_consumption", "days": 1 }),
        json!({ "kind": "device_alarm" }),
    ]
}

#[tokio::test]
async fn a_former_tenant_sees_nothing_of_the_next_household_and_no_rule_of_theirs_fires() {
    let app = App::start().await;
    let pool = app.pool();
    let evaluator = Evaluator::new(
        pool.clone(),
        EvaluatorConfig {
            poll: Duration::from_millis(20),
            batch: 100,
            recheck: Duration::from_secs(600),
        },
    );
    let u = utility(pool, "mlynary").await;
    let jan = resident(pool, u, "mlynary", "jan@example.pl", 0).await;
    let today = local_day(Utc::now());
    let last_day = today - Days::new(5);
    let first_of_ola = last_day + Days::new(1);

    // Jan's years in the flat: 150 litres a day, up to his last day.
    let mut litres = 100_000;
    for back in (5..=20).rev() {
        reading(pool, jan.meter_id, noon(today - Days::new(back)), litres).await;
        litres += 150;
    }
    let jan_last = litres - 150;
    let jan_token = token(&app.login("mlynary", &jan.email).await);
    let mut jan_rules = Vec::new();
    for kind in the_rules() {
        let created = rule(&app, &jan_token, jan.meter_id, kind).await;
        assert_eq!(created.status(), 201);
        jan_rules.push(
            created.json::<Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap(),
        );
    }
    step(&evaluator).await;

    // Jan moves out; Ola moves in the next day, with her own account.
    sqlx::query(
        "UPDATE contracts SET valid_until = $2, status = 'terminated' WHERE customer_id = $1",
    )
    .bind(jan.customer_id)
    .bind(last_day)
    .execute(pool)
    .await
    .unwrap();
    let ola = ebok_testkit::fixtures::person(pool, u).await;
    sqlx::query(
        "INSERT INTO contracts (utility_id, number, customer_id, supply_point_id, tariff_group_id,
                                valid_from, status, signed_at)
         SELECT $1, 'U/2/2026', $2, $3, id, $4, 'active', now()
         FROM tariff_groups WHERE utility_id = $1",
    )
    .bind(u)
    .bind(ola)
    .bind(jan.supply_point_id)
    .bind(first_of_ola)
    .execute(pool)
    .await
    .unwrap();
    let ola_account = ebok_testkit::fixtures::resident_account(pool, u, "ola@example.pl").await;
    sqlx::query("UPDATE user_accounts SET password_hash = $2 WHERE id = $1")
        .bind(ola_account)
        .bind(ebok_api::password::hash(support::PASSWORD).unwrap())
        .execute(pool)
        .await
        .unwrap();
    ebok_testkit::fixtures::link_customer(pool, u, ola_account, ola).await;
    let ola_token = token(&app.login("mlynary", "ola@example.pl").await);

    // Ola's first days: the flat stands still (what a `no_consumption` rule would tell), and the
    // meter reports a leak.
    for back in (1..=4).rev() {
        reading(pool, jan.meter_id, noon(today - Days::new(back)), jan_last).await;
    }
    sqlx::query(
        "INSERT INTO meter_alarms (utility_id, meter_id, kind, raised_at)
         VALUES ($1, $2, 'leak', $3)",
    )
    .bind(u)
    .bind(jan.meter_id)
    .bind(noon(today - Days::new(3)))
    .execute(pool)
    .await
    .unwrap();
    step(&evaluator).await;
    for kind in the_rules() {
        assert_eq!(
            rule(&app, &ola_token, jan.meter_id, kind).await.status(),
            201
        );
    }
    step(&evaluator).await;
    // Today: a big day, counted from the register at its midnight (read exactly then, so that
    // the day's start does not depend on the hour the test runs).
    reading(pool, jan.meter_id, day_start(today), jan_last).await;
    let ola_today = jan_last + 6_000;
    reading(
        pool,
        jan.meter_id,
        Utc::now() - chrono::Duration::seconds(1),
        ola_today,
    )
    .await;
    step(&evaluator).await;
    step(&evaluator).await;

    // The same water fired every rule of Ola's...
    let ola_triggers: Value = app
        .get(&ola_token, "/api/v1/alarm-triggers")
        .await
        .json()
        .await
        .unwrap();
    let mut fired: Vec<String> = ola_triggers
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rule"].as_str().unwrap().to_string())
        .collect();
    fired.sort();
    fired.dedup();
    assert_eq!(fired.len(), 3, "{ola_triggers}");
    // ...and none of Jan's: no trigger, no notice.
    let jan_triggers: Value = app
        .get(&jan_token, "/api/v1/alarm-triggers")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jan_triggers, json!([]));
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM resident_alarm_triggers t
             JOIN resident_alarm_rules r ON r.id = t.rule_id WHERE r.account_id = $1",
            jan.account_id
        )
        .await,
        0
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM outbox WHERE recipient_account_id = $1",
            jan.account_id
        )
        .await,
        0
    );

    // Jan sees the meter as it stood at the end of his last day, wherever he looks.
    let meters: Value = app
        .get(&jan_token, "/api/v1/meters")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(meters[0]["latest_litres"], jan_last, "{meters}");
    assert_eq!(
        meters[0]["visible_until"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        day_start(first_of_ola)
    );
    let path = |rest: &str| format!("/api/v1/meters/{}/{rest}", jan.meter_id);
    let current: Value = app
        .get(&jan_token, &path("current"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(current["reading"]["litres"], jan_last, "{current}");
    let on_day: Value = app
        .get(&jan_token, &path(&format!("reading?day={today}")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(on_day["reading"]["litres"], jan_last, "{on_day}");
    let history: Value = app
        .get(
            &jan_token,
            &path(&format!(
                "history?from={}&to={today}",
                today - Days::new(10)
            )),
        )
        .await
        .json()
        .await
        .unwrap();
    for point in history["points"].as_array().unwrap() {
        let day: NaiveDate = point["period_start"].as_str().unwrap().parse().unwrap();
        if day > last_day {
            assert!(point["reading"].is_null(), "{point}");
            assert!(point["consumption_litres"].is_null(), "{point}");
        }
    }
    let csv = app
        .get(
            &jan_token,
            &path(&format!(
                "history.csv?from={}&to={today}",
                today - Days::new(10)
            )),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(!csv.contains("108,250"), "{csv}");
    assert!(csv.contains("102,250"), "{csv}");
    // No new alarms, and no switching an old one back on.
    let refused = rule(
        &app,
        &jan_token,
        jan.meter_id,
        json!({ "kind": "daily_above", "litres": 500 }),
    )
    .await;
    assert_eq!(problem(refused).await["field"], "meter_id");
    let off = app
        .send(
            reqwest::Method::PUT,
            Some(&jan_token),
            &format!("/api/v1/alarm-rules/{}/enabled", jan_rules[0]),
            Some(json!({ "enabled": false })),
        )
        .await;
    assert_eq!(off.status(), 200);
    let on = app
        .send(
            reqwest::Method::PUT,
            Some(&jan_token),
            &format!("/api/v1/alarm-rules/{}/enabled", jan_rules[0]),
            Some(json!({ "enabled": true })),
        )
        .await;
    assert_eq!(problem(on).await["field"], "meter_id");

    // The portal tells the same.
    let cookie = app.web_login("mlynary", &jan.email).await;
    for page in [
        "/u/mlynary/pulpit".to_string(),
        format!("/u/mlynary/liczniki/{}", jan.meter_id),
        "/u/mlynary/alarmy".to_string(),
    ] {
        let html = app.web_get(&cookie, &page).await.text().await.unwrap();
        assert!(!html.contains("108,250"), "{page}");
        assert!(!html.contains("wyciek wody od"), "{page}");
        assert!(!html.contains("Wodomierz zgłosił"), "{page}");
    }
    let dashboard = app
        .web_get(&cookie, "/u/mlynary/pulpit")
        .await
        .text()
        .await
        .unwrap();
    assert!(dashboard.contains("102,250"));
    assert!(dashboard.contains("Brak aktywnych alarmów"));

    // And Ola sees nothing from before her first day.
    let before: Value = app
        .get(
            &ola_token,
            &path(&format!("reading?day={}", last_day - Days::new(1))),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(before["reading"].is_null(), "{before}");
    let ola_meters: Value = app
        .get(&ola_token, "/api/v1/meters")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ola_meters[0]["latest_litres"], ola_today);
    assert!(ola_meters[0]["visible_until"].is_null());
}

/// A contract signed ahead of the move: until its first day the meter's water is the present
/// household's, and the next one sees none of it, in any view.
#[tokio::test]
async fn a_tenant_whose_contract_begins_later_sees_nothing_of_the_present_household() {
    let app = App::start().await;
    let pool = app.pool();
    let u = utility(pool, "mlynary").await;
    let jan = resident(pool, u, "mlynary", "jan@example.pl", 20).await;
    let today = local_day(Utc::now());
    sqlx::query("UPDATE contracts SET valid_until = $2 WHERE customer_id = $1")
        .bind(jan.customer_id)
        .bind(today + Days::new(4))
        .execute(pool)
        .await
        .unwrap();
    let ola = ebok_testkit::fixtures::person(pool, u).await;
    sqlx::query(
        "INSERT INTO contracts (utility_id, number, customer_id, supply_point_id, tariff_group_id,
                                valid_from, status, signed_at)
         SELECT $1, 'U/2/2026', $2, $3, id, $4, 'active', now()
         FROM tariff_groups WHERE utility_id = $1",
    )
    .bind(u)
    .bind(ola)
    .bind(jan.supply_point_id)
    .bind(today + Days::new(5))
    .execute(pool)
    .await
    .unwrap();
    let account = ebok_testkit::fixtures::resident_account(pool, u, "ola@example.pl").await;
    sqlx::query("UPDATE user_accounts SET password_hash = $2 WHERE id = $1")
        .bind(account)
        .bind(ebok_api::password::hash(support::PASSWORD).unwrap())
        .execute(pool)
        .await
        .unwrap();
    ebok_testkit::fixtures::link_customer(pool, u, account, ola).await;
    let ola_token = token(&app.login("mlynary", "ola@example.pl").await);

    let meters: Value = app
        .get(&ola_token, "/api/v1/meters")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(meters[0]["id"], jan.meter_id, "{meters}");
    assert!(meters[0]["latest_litres"].is_null(), "{meters}");
    let path = |rest: &str| format!("/api/v1/meters/{}/{rest}", jan.meter_id);
    let current: Value = app
        .get(&ola_token, &path("current"))
        .await
        .json()
        .await
        .unwrap();
    assert!(current["reading"].is_null(), "{current}");
    let on_day: Value = app
        .get(&ola_token, &path(&format!("reading?day={today}")))
        .await
        .json()
        .await
        .unwrap();
    assert!(on_day["reading"].is_null(), "{on_day}");
    for step in ["day", "month"] {
        let history: Value = app
            .get(
                &ola_token,
                &path(&format!(
                    "history?from={}&to={today}&step={step}",
                    today - Days::new(40)
                )),
            )
            .await
            .json()
            .await
            .unwrap();
        for point in history["points"].as_array().unwrap() {
            assert!(point["reading"].is_null(), "{step}: {point}");
        }
    }
    let cookie = app.web_login("mlynary", "ola@example.pl").await;
    let dashboard = app
        .web_get(&cookie, "/u/mlynary/pulpit")
        .await
        .text()
        .await
        .unwrap();
    // Jan's newest register, 103,000 m³, appears nowhere.
    assert!(!dashboard.contains("103,000"), "{dashboard}");
}
