//! A resident's own data (GDPR art. 15 and 20) and closing the account (art. 17), through the
//! API and the portal: everything about the account and nothing of anybody else's, and closing
//! that erases the account's personal data while the utility's records stay.

use crate::support;

use std::time::Duration;

use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, SET_COOKIE};
use serde_json::{Value, json};
use support::*;

fn token(login: &Value) -> String {
    login["access_token"].as_str().unwrap().to_string()
}

/// A rule, a consent and a registered phone for `resident`, through the API.
/// A visit booked and a failure report filed by `resident`, and a report they joined.
async fn book_and_report(app: &App, resident: &Resident, words: &str) {
    let slot: i64 = sqlx::query_scalar(
        "WITH c AS (INSERT INTO booking_calendars (utility_id, code, name, rules)
                    VALUES ($1, 'wizyta_' || $2, 'Wymiana wodomierza', '{}') RETURNING id)
         INSERT INTO booking_slots (utility_id, calendar_id, starts_at, ends_at, capacity, taken)
         SELECT $1, id, now() + interval '2 days', now() + interval '2 days 1 hour', 1, 1 FROM c
         RETURNING id",
    )
    .bind(resident.utility_id)
    .bind(resident.account_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    sqlx::query("INSERT INTO bookings (utility_id, slot_id, account_id) VALUES ($1, $2, $3)")
        .bind(resident.utility_id)
        .bind(slot)
        .bind(resident.account_id)
        .execute(app.pool())
        .await
        .unwrap();
    for (filed, description) in [
        (true, words.to_string()),
        (false, format!("{words} (cudze)")),
    ] {
        sqlx::query(
            "WITH f AS (INSERT INTO failure_reports (utility_id, category, description, address)
                        VALUES ($1, 'no_water', $3, 'Lipowa 1, Testowo') RETURNING id)
             INSERT INTO failure_reporters (report_id, account_id, filed)
             SELECT id, $2, $4 FROM f",
        )
        .bind(resident.utility_id)
        .bind(resident.account_id)
        .bind(description)
        .bind(filed)
        .execute(app.pool())
        .await
        .unwrap();
    }
}

async fn use_the_account(app: &App, token: &str, resident: &Resident) {
    let created = app
        .post(
            Some(token),
            "/api/v1/alarm-rules",
            json!({ "meter_id": resident.meter_id, "kind": "daily_above", "litres": 500,
                    "label": "Dom" }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let forms: Value = app
        .get(token, "/api/v1/consents")
        .await
        .json()
        .await
        .unwrap();
    let version = forms["forms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "notifications")
        .unwrap()["version"]
        .as_str()
        .unwrap()
        .to_string();
    let granted = app
        .post(
            Some(token),
            "/api/v1/consents",
            json!({ "kind": "notifications", "form_version": version, "accept": true }),
        )
        .await;
    assert!(granted.status().is_success(), "{}", granted.status());
    let device = app
        .post(
            Some(token),
            "/api/v1/devices",
            json!({ "token": format!("fcm-token-{}", resident.account_id), "platform": "android",
                    "app_version": "1.4" }),
        )
        .await;
    assert!(device.status().is_success(), "{}", device.status());
    notification(app.pool(), resident.utility_id, resident.account_id).await;
}

#[tokio::test]
async fn a_resident_downloads_everything_about_the_account_and_nothing_of_anybody_else() {
    let app = App::start().await;
    let mlynary = utility(app.pool(), "mlynary").await;
    let pieniezno = utility(app.pool(), "pieniezno").await;
    let jan = resident(app.pool(), mlynary, "mlynary", "jan@example.pl", 5).await;
    let ola = resident(app.pool(), mlynary, "mlynary", "ola@example.pl", 3).await;
    let piotr = resident(app.pool(), pieniezno, "pieniezno", "piotr@example.pl", 3).await;
    let t = token(&app.login("mlynary", &jan.email).await);
    use_the_account(&app, &t, &jan).await;
    let ola_token = token(&app.login("mlynary", &ola.email).await);
    use_the_account(&app, &ola_token, &ola).await;
    book_and_report(&app, &jan, "Nie ma wody od rana").await;
    book_and_report(&app, &ola, "Cieknie hydrant").await;

    let (number, pesel): (String, String) = sqlx::query_as(
        "UPDATE customers SET pesel = '44051401359' WHERE id = $1
         RETURNING customer_number, pesel",
    )
    .bind(jan.customer_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    let data: Value = app.get(&t, "/api/v1/me/data").await.json().await.unwrap();
    assert_eq!(data["account"]["email"], jan.email);
    assert_eq!(data["customers"][0]["customer_number"], number);
    // The PESEL masked: a customer linked to the account may be another person.
    assert_eq!(
        data["customers"][0]["pesel"],
        format!("*******{}", &pesel[7..])
    );
    assert_eq!(data["meters"].as_array().unwrap().len(), 1);
    assert_eq!(data["meters"][0]["readings"].as_array().unwrap().len(), 5);
    assert_eq!(data["alarm_rules"][0]["label"], "Dom");
    assert_eq!(data["consents"][0]["kind"], "notifications");
    assert_eq!(data["notifications"].as_array().unwrap().len(), 1);
    assert_eq!(data["devices"][0]["app_version"], "1.4");
    assert!(
        !data.to_string().contains("fcm-token"),
        "a device's push token is a credential"
    );
    assert!(!data["sessions"].as_array().unwrap().is_empty());
    assert_eq!(data["bookings"].as_array().unwrap().len(), 1);
    assert_eq!(data["bookings"][0]["calendar"], "Wymiana wodomierza");
    let reports = data["failure_reports"].as_array().unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["description"], "Nie ma wody od rana");
    assert_eq!(
        reports[1]["description"],
        Value::Null,
        "a report joined is not the resident's words"
    );
    assert!(!data.to_string().contains("Cieknie hydrant"));
    // Nothing of the other resident of the utility, nor of another utility's.
    let text = data.to_string();
    for other in [&ola, &piotr] {
        let (number, serial): (String, String) = sqlx::query_as(
            "SELECT c.customer_number, m.serial FROM customers c, meters m
             WHERE c.id = $1 AND m.id = $2",
        )
        .bind(other.customer_id)
        .bind(other.meter_id)
        .fetch_one(app.pool())
        .await
        .unwrap();
        assert!(!text.contains(&other.email), "{}", other.email);
        assert!(!text.contains(&number) && !text.contains(&serial));
    }
    assert_eq!(
        app.send(reqwest::Method::GET, None, "/api/v1/me/data", None)
            .await
            .status(),
        401
    );

    // The portal: the readable page and the same JSON as a file.
    let cookie = app.web_login("mlynary", &jan.email).await;
    let page = html_page(app.web_get(&cookie, "/u/mlynary/konto/dane").await).await;
    assert!(page.contains(&number_of(&app, jan.customer_id).await));
    assert!(
        page.contains("*******1359") && !page.contains(&pesel),
        "{page}"
    );
    assert!(page.contains("Dom"), "{page}");
    assert!(page.contains("Zgłoszenia awarii") && page.contains("Nie ma wody od rana"));
    assert!(page.contains("Wymiana wodomierza"));
    assert!(!page.contains(&ola.email));
    let file = app.web_get(&cookie, "/u/mlynary/konto/dane.json").await;
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()[CONTENT_TYPE], "application/json");
    assert!(
        file.headers()[CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"ebok-moje-dane-")
    );
    let file: Value = file.json().await.unwrap();
    assert_eq!(file["account"]["email"], jan.email);
    assert_eq!(file["meters"][0]["readings"].as_array().unwrap().len(), 5);
    // Another utility's portal does not take this utility's session.
    let elsewhere = app.web_get(&cookie, "/u/pieniezno/konto/dane").await;
    assert_eq!(elsewhere.status(), 303);
    let elsewhere = app.web_get(&cookie, "/u/pieniezno/konto/dane.json").await;
    assert_eq!(elsewhere.status(), 303);
}

async fn number_of(app: &App, customer_id: i64) -> String {
    sqlx::query_scalar("SELECT customer_number FROM customers WHERE id = $1")
        .bind(customer_id)
        .fetch_one(app.pool())
        .await
        .unwrap()
}

async fn count(app: &App, sql: &str, account_id: i64) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(account_id)
        .fetch_one(app.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn closing_the_account_erases_its_personal_data_and_keeps_the_utilitys_records() {
    let (app, smtp) = App::with_smtp().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 5).await;
    let ola = resident(app.pool(), u, "mlynary", "ola@example.pl", 3).await;
    let t = token(&app.login("mlynary", &jan.email).await);
    use_the_account(&app, &t, &jan).await;
    let ola_token = token(&app.login("mlynary", &ola.email).await);
    use_the_account(&app, &ola_token, &ola).await;

    // The password is required.
    let refused = app
        .post(
            Some(&t),
            "/api/v1/me/close",
            json!({ "password": "nie to hasło" }),
        )
        .await;
    assert_eq!(problem(refused).await["field"], "password");
    let closed = app
        .post(
            Some(&t),
            "/api/v1/me/close",
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(closed.status(), 204);

    // Signed out everywhere, and the old login no longer works.
    assert_eq!(app.get(&t, "/api/v1/me").await.status(), 401);
    let login = app
        .post(
            None,
            "/api/v1/utilities/mlynary/token",
            json!({ "email": jan.email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(login.status(), 422);

    // The account's personal data is gone...
    let (email, name, status, hash): (String, String, String, Option<String>) = sqlx::query_as(
        "SELECT email, display_name, status::text, password_hash FROM user_accounts WHERE id = $1",
    )
    .bind(jan.account_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(status, "closed");
    assert!(
        !email.contains("jan") && email.ends_with(".invalid"),
        "{email}"
    );
    assert_eq!(name, "Konto zamknięte");
    assert_eq!(hash, None);
    for table in [
        "account_customers",
        "notifications",
        "notification_preferences",
        "push_devices",
        "resident_alarm_rules",
        "account_tokens",
    ] {
        let left = count(
            &app,
            &format!("SELECT count(*) FROM {table} WHERE account_id = $1"),
            jan.account_id,
        )
        .await;
        assert_eq!(left, 0, "{table}");
    }
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM sessions WHERE account_id = $1
             AND (revoked_at IS NULL OR client IS NOT NULL)",
            jan.account_id
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM consents WHERE account_id = $1 AND withdrawn_at IS NULL",
            jan.account_id
        )
        .await,
        0,
        "consents withdrawn (their history stays as proof)"
    );
    // ...the utility's records stay...
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM meter_readings WHERE meter_id = $1",
            jan.meter_id
        )
        .await,
        5
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM customers WHERE id = $1",
            jan.customer_id
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'account.closed'
             AND entity_id = $1::bigint::text",
            jan.account_id
        )
        .await,
        1
    );
    // ...and nobody else's data was touched.
    for table in [
        "account_customers",
        "notifications",
        "resident_alarm_rules",
        "push_devices",
    ] {
        let kept = count(
            &app,
            &format!("SELECT count(*) FROM {table} WHERE account_id = $1"),
            ola.account_id,
        )
        .await;
        assert!(kept > 0, "{table} of another resident");
    }
    assert_eq!(app.get(&ola_token, "/api/v1/me").await.status(), 200);

    // The old address is told, and is free to register again.
    let mails = smtp.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails[0].rcpt_to, std::slice::from_ref(&jan.email));
    assert!(
        mails[0].subject().contains("zamknięte"),
        "{}",
        mails[0].subject()
    );
    let again = app
        .post(
            None,
            "/api/v1/utilities/mlynary/accounts",
            json!({ "email": jan.email, "display_name": "Jan Nowy", "password": PASSWORD,
                    "password_repeat": PASSWORD, "accept_terms": true }),
        )
        .await;
    assert_eq!(again.status(), 202);
    let mails = smtp.wait_for(2, Duration::from_secs(10)).await;
    assert!(
        mails[1].subject().contains("Aktywuj konto"),
        "a new account, not 'already registered': {}",
        mails[1].subject()
    );
}

#[tokio::test]
async fn closing_the_account_in_the_portal_needs_the_password_and_the_tick() {
    let (app, _smtp) = App::with_smtp().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 1).await;
    let cookie = app.web_login("mlynary", &jan.email).await;
    let page = html_page(app.web_get(&cookie, "/u/mlynary/konto/zamknij").await).await;
    assert!(page.contains("Umowa na dostawę wody trwa nadal"));
    let csrf = app.web_csrf(&cookie, "/u/mlynary/konto/zamknij").await;

    let unticked = app
        .web_post(
            &cookie,
            "/u/mlynary/konto/zamknij",
            &[("csrf", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(unticked.status(), 422);
    let html = html_page(unticked).await;
    assert!(html.contains(r#"id="understood-error""#), "{html}");
    let wrong = app
        .web_post(
            &cookie,
            "/u/mlynary/konto/zamknij",
            &[
                ("csrf", &csrf),
                ("password", "nie to"),
                ("understood", "on"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    assert!(html_page(wrong).await.contains(r#"id="password-error""#));

    let done = app
        .web_post(
            &cookie,
            "/u/mlynary/konto/zamknij",
            &[
                ("csrf", &csrf),
                ("password", PASSWORD),
                ("understood", "on"),
            ],
        )
        .await;
    assert_eq!(done.status(), 200);
    let removal = done.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert!(html_page(done).await.contains("Konto zostało zamknięte"));
    let status: String = sqlx::query_scalar("SELECT status::text FROM user_accounts WHERE id = $1")
        .bind(jan.account_id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(status, "closed");
    // The old session cookie leads to signing in.
    let after = app.web_get(&cookie, "/u/mlynary/konto").await;
    assert_eq!(after.status(), 303);
}
