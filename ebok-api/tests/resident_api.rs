//! The resident API against a real PostgreSQL (and a real SMTP server for account e-mails):
//! accounts and tokens, and for every endpoint that another resident of the same utility and a
//! resident of another utility get 404 (or a refusal naming the field) and none of the data.

use crate::support;

use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use support::{App, PASSWORD, problem, reading, resident, utility};

fn token(login: &Value) -> String {
    login["access_token"].as_str().unwrap().to_string()
}

/// The path and query of the first link in a text e-mail that contains `needle`.
fn link_in(text: &str, needle: &str) -> String {
    let start = text.find(needle).expect("link in the e-mail");
    let line_start = text[..start].rfind("http").unwrap();
    let link: String = text[line_start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let url = url::Url::parse(&link).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

#[tokio::test]
async fn registration_activation_and_login_through_the_api() {
    let (app, smtp) = App::with_smtp().await;
    utility(app.pool(), "mlynary").await;

    let form = json!({ "email": "ewa@example.pl", "display_name": "Ewa Lis",
                       "password": PASSWORD, "password_repeat": PASSWORD, "accept_terms": true });
    let response = app
        .post(None, "/api/v1/utilities/mlynary/accounts", form.clone())
        .await;
    assert_eq!(response.status(), 202);
    let mails = smtp.wait_for(1, Duration::from_secs(10)).await;
    assert!(
        mails[0].subject().contains("Aktywuj konto"),
        "{}",
        mails[0].subject()
    );
    let link = link_in(mails[0].text().unwrap(), "/aktywuj?token=");
    let activation_token = link.split("token=").nth(1).unwrap().to_string();

    // Not yet active: login refused with the reason.
    let response = app
        .post(
            None,
            "/api/v1/utilities/mlynary/token",
            json!({ "email": "ewa@example.pl", "password": PASSWORD }),
        )
        .await;
    assert_eq!(response.status(), 409);

    // The link alone does not activate: the registration's password goes with it.
    let response = app
        .post(
            None,
            "/api/v1/utilities/mlynary/accounts/activate",
            json!({ "token": activation_token, "password": "nie to hasło wcale" }),
        )
        .await;
    assert_eq!(problem(response).await["field"], "password");
    let response = app
        .post(
            None,
            "/api/v1/utilities/mlynary/accounts/activate",
            json!({ "token": activation_token, "password": PASSWORD }),
        )
        .await;
    assert_eq!(response.status(), 204);
    // A link works once.
    let response = app
        .post(
            None,
            "/api/v1/utilities/mlynary/accounts/activate",
            json!({ "token": activation_token, "password": PASSWORD }),
        )
        .await;
    assert_eq!(problem(response).await["field"], "token");

    let login = app.login("mlynary", "ewa@example.pl").await;
    assert_eq!(login["token_type"], "Bearer");
    let me: Value = app
        .get(&token(&login), "/api/v1/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "ewa@example.pl");
    assert_eq!(me["utility_slug"], "mlynary");

    // Registering a taken address answers the same and tells the owner by e-mail.
    let response = app
        .post(None, "/api/v1/utilities/mlynary/accounts", form)
        .await;
    assert_eq!(response.status(), 202);
    let mails = smtp.wait_for(2, Duration::from_secs(10)).await;
    assert!(mails[1].text().unwrap().contains("konto już istnieje"));
}

/// Somebody registers an address that is waiting for activation, with a password of their own:
/// the new link (which the address's owner receives) still activates only with the password of
/// the first registration, so the other party's password never becomes the account's.
#[tokio::test]
async fn registering_a_pending_address_again_does_not_change_what_its_link_activates() {
    let (app, smtp) = App::with_smtp().await;
    utility(app.pool(), "mlynary").await;
    let register = |password: &str| {
        json!({ "email": "ewa@example.pl", "display_name": "Ewa Lis", "password": password,
                "password_repeat": password, "accept_terms": true })
    };
    let owners = app
        .post(
            None,
            "/api/v1/utilities/mlynary/accounts",
            register(PASSWORD),
        )
        .await;
    assert_eq!(owners.status(), 202);
    let intruders = "hasło kogoś obcego 1";
    let again = app
        .post(
            None,
            "/api/v1/utilities/mlynary/accounts",
            register(intruders),
        )
        .await;
    assert_eq!(again.status(), 202);
    let mails = smtp.wait_for(2, Duration::from_secs(10)).await;
    let newest = link_in(mails[1].text().unwrap(), "/aktywuj?token=");
    let token = newest.split("token=").nth(1).unwrap().to_string();
    let by_intruder = app
        .post(
            None,
            "/api/v1/utilities/mlynary/accounts/activate",
            json!({ "token": token, "password": intruders }),
        )
        .await;
    assert_eq!(problem(by_intruder).await["field"], "password");
    let by_owner = app
        .post(
            None,
            "/api/v1/utilities/mlynary/accounts/activate",
            json!({ "token": token, "password": PASSWORD }),
        )
        .await;
    assert_eq!(by_owner.status(), 204);
    app.login("mlynary", "ewa@example.pl").await;
    let intruder_login = app
        .post(
            None,
            "/api/v1/utilities/mlynary/token",
            json!({ "email": "ewa@example.pl", "password": intruders }),
        )
        .await;
    assert_eq!(intruder_login.status(), 422);
}

/// An address registered by somebody else (who chose the password) cannot be activated by its
/// owner without that password; the owner's way in is the password reset, which activates the
/// account with a password only the owner knows.
#[tokio::test]
async fn the_owner_of_an_address_registered_by_somebody_else_activates_it_by_a_reset() {
    let (app, smtp) = App::with_smtp().await;
    utility(app.pool(), "mlynary").await;
    let intruders = "hasło kogoś obcego 1";
    let registered = app
        .post(
            None,
            "/api/v1/utilities/mlynary/accounts",
            json!({ "email": "ewa@example.pl", "display_name": "Ewa Lis",
                    "password": intruders, "password_repeat": intruders, "accept_terms": true }),
        )
        .await;
    assert_eq!(registered.status(), 202);
    let asked = app
        .post(
            None,
            "/api/v1/utilities/mlynary/password-reset",
            json!({ "email": "ewa@example.pl" }),
        )
        .await;
    assert_eq!(asked.status(), 202);
    let mails = smtp.wait_for(2, Duration::from_secs(10)).await;
    let link = link_in(mails[1].text().unwrap(), "/haslo/nowe?token=");
    let reset = link.split("token=").nth(1).unwrap().to_string();
    let done = app
        .post(
            None,
            "/api/v1/utilities/mlynary/password-reset/confirm",
            json!({ "token": reset, "password": PASSWORD, "password_repeat": PASSWORD }),
        )
        .await;
    assert_eq!(done.status(), 204);
    app.login("mlynary", "ewa@example.pl").await;
    let intruder_login = app
        .post(
            None,
            "/api/v1/utilities/mlynary/token",
            json!({ "email": "ewa@example.pl", "password": intruders }),
        )
        .await;
    assert_eq!(intruder_login.status(), 422);
}

#[tokio::test]
async fn bad_registration_input_names_the_field() {
    let (app, _smtp) = App::with_smtp().await;
    utility(app.pool(), "mlynary").await;
    let cases = [
        (
            json!({ "email": "nie-adres", "display_name": "A", "password": PASSWORD,
                 "password_repeat": PASSWORD, "accept_terms": true }),
            "email",
        ),
        (
            json!({ "email": "a@b.pl", "display_name": "A", "password": "krótkie",
                 "password_repeat": "krótkie", "accept_terms": true }),
            "password",
        ),
        (
            json!({ "email": "a@b.pl", "display_name": "A", "password": PASSWORD,
                 "password_repeat": "inne hasło całkiem", "accept_terms": true }),
            "password_repeat",
        ),
        (
            json!({ "email": "a@b.pl", "display_name": "A", "password": PASSWORD,
                 "password_repeat": PASSWORD, "accept_terms": false }),
            "accept_terms",
        ),
        (
            json!({ "email": "a@b.pl", "display_name": "A", "password": PASSWORD,
                 "password_repeat": PASSWORD }),
            "accept_terms",
        ),
        (
            json!({ "email": "a@b.pl", "display_name": "A", "password": PASSWORD,
                 "password_repeat": PASSWORD, "accept_terms": "tak" }),
            "accept_terms",
        ),
    ];
    for (body, field) in cases {
        let response = app
            .post(None, "/api/v1/utilities/mlynary/accounts", body.clone())
            .await;
        assert_eq!(response.status(), 422, "{body}");
        let p = problem(response).await;
        assert_eq!(p["field"], field, "{body} → {p}");
        assert!(!p["detail"].as_str().unwrap().is_empty());
    }
    let response = app
        .server
        .client
        .post(app.url("/api/v1/utilities/mlynary/accounts"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(response).await["field"], "body");
    // An unknown utility is not found.
    let valid = json!({ "email": "a@b.pl", "display_name": "A", "password": PASSWORD,
                        "password_repeat": PASSWORD, "accept_terms": true });
    let response = app
        .post(None, "/api/v1/utilities/nie-ma/accounts", valid)
        .await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn logins_are_throttled_per_account() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    resident(app.pool(), u, "mlynary", "jan@example.pl", 0).await;
    for _ in 0..5 {
        let response = app
            .post(
                None,
                "/api/v1/utilities/mlynary/token",
                json!({ "email": "jan@example.pl", "password": "złe hasło całkiem" }),
            )
            .await;
        assert_eq!(problem(response).await["field"], "password");
    }
    // Even the right password waits now.
    let response = app
        .post(
            None,
            "/api/v1/utilities/mlynary/token",
            json!({ "email": "jan@example.pl", "password": PASSWORD }),
        )
        .await;
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900, "{retry}");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replayed_one_revokes_the_session() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    resident(app.pool(), u, "mlynary", "jan@example.pl", 0).await;
    let first = app.login("mlynary", "jan@example.pl").await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let second: Value = app
        .post(
            None,
            "/api/v1/token/refresh",
            json!({ "refresh_token": r1 }),
        )
        .await
        .json()
        .await
        .unwrap();
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    assert_eq!(app.get(&token(&second), "/api/v1/me").await.status(), 200);
    // r1 again: someone copied it. The session ends for both holders.
    let replay = app
        .post(
            None,
            "/api/v1/token/refresh",
            json!({ "refresh_token": r1 }),
        )
        .await;
    assert_eq!(replay.status(), 401);
    let after = app
        .post(
            None,
            "/api/v1/token/refresh",
            json!({ "refresh_token": r2 }),
        )
        .await;
    assert_eq!(after.status(), 401);
    // Logout revokes: a fresh session's refresh token stops working.
    let third = app.login("mlynary", "jan@example.pl").await;
    let r3 = third["refresh_token"].as_str().unwrap();
    let out = app
        .post(None, "/api/v1/token/revoke", json!({ "refresh_token": r3 }))
        .await;
    assert_eq!(out.status(), 204);
    let after = app
        .post(
            None,
            "/api/v1/token/refresh",
            json!({ "refresh_token": r3 }),
        )
        .await;
    assert_eq!(after.status(), 401);
}

#[tokio::test]
async fn requests_without_a_valid_token_are_refused() {
    let app = App::start().await;
    let response = app.server.get("/api/v1/meters").await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let response = app.get("not-a-token", "/api/v1/meters").await;
    assert_eq!(problem(response).await["status"], 401);
    // A token signed with another key is refused.
    let forged = ebok_api::auth::keys::Keys::generate().sign(1, 1, 1, "resident");
    assert_eq!(app.get(&forged, "/api/v1/me").await.status(), 401);
}

#[tokio::test]
async fn linking_a_customer_needs_the_printed_code_and_uses_it_once() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 0).await;
    let ola = resident(app.pool(), u, "mlynary", "ola@example.pl", 0).await;
    let customer = ebok_testkit::fixtures::person(app.pool(), u).await;
    let number: String = sqlx::query_scalar("SELECT customer_number FROM customers WHERE id = $1")
        .bind(customer)
        .fetch_one(app.pool())
        .await
        .unwrap();
    let code = ebok_api::issue_link_code(app.pool(), u, customer)
        .await
        .unwrap();
    let jan_token = token(&app.login("mlynary", &jan.email).await);
    let wrong = app
        .post(
            Some(&jan_token),
            "/api/v1/me/customers",
            json!({ "customer_number": number, "code": "AAAA-BBBB-CCCC" }),
        )
        .await;
    assert_eq!(problem(wrong).await["field"], "code");
    let typed = code.to_lowercase().replace('-', " ");
    let ok = app
        .post(
            Some(&jan_token),
            "/api/v1/me/customers",
            json!({ "customer_number": number, "code": typed }),
        )
        .await;
    assert_eq!(ok.status(), 201);
    let ola_token = token(&app.login("mlynary", &ola.email).await);
    let reuse = app
        .post(
            Some(&ola_token),
            "/api/v1/me/customers",
            json!({ "customer_number": number, "code": code }),
        )
        .await;
    assert_eq!(problem(reuse).await["field"], "code");
    let me: Value = app
        .get(&ola_token, "/api/v1/me")
        .await
        .json()
        .await
        .unwrap();
    assert!(!me.to_string().contains(&number), "{me}");
}

#[tokio::test]
async fn meters_and_readings_answer_for_their_resident() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 40).await;
    let t = token(&app.login("mlynary", &jan.email).await);
    let meters: Value = app.get(&t, "/api/v1/meters").await.json().await.unwrap();
    assert_eq!(meters.as_array().unwrap().len(), 1);
    assert_eq!(meters[0]["id"], jan.meter_id);
    assert_eq!(meters[0]["latest_litres"], 100_000 + 40 * 150);

    let yesterday = (Utc::now() - chrono::Duration::days(1)).date_naive();
    let on_day: Value = app
        .get(
            &t,
            &format!("/api/v1/meters/{}/reading?day={yesterday}", jan.meter_id),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(on_day["reading"]["litres"], 100_000 + 39 * 150, "{on_day}");
    assert!(
        on_day["reading"]["measured_at"]
            .as_str()
            .unwrap()
            .starts_with(&yesterday.to_string())
    );

    // Ten days ending the day before yesterday, whose end midnight lies between two readings a
    // day apart (today's reading may be earlier than 06:00); a day of 24 hours used 150 l.
    let to = yesterday - chrono::Days::new(1);
    let history: Value = app
        .get(
            &t,
            &format!(
                "/api/v1/meters/{}/history?from={}&to={to}",
                jan.meter_id,
                to - chrono::Days::new(9)
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    let points = history["points"].as_array().unwrap();
    assert_eq!(points.len(), 10);
    for p in points {
        let day: chrono::NaiveDate = p["period_start"].as_str().unwrap().parse().unwrap();
        let hours = (ebok_common::domain::time::day_start(day + chrono::Days::new(1))
            - ebok_common::domain::time::day_start(day))
        .num_hours();
        if hours == 24 {
            assert_eq!(p["consumption_litres"], 150, "{history}");
            assert_eq!(p["consumption_interpolated"], true, "{history}");
        }
    }

    let csv = app
        .get(
            &t,
            &format!(
                "/api/v1/meters/{}/history.csv?from={yesterday}&to={yesterday}",
                jan.meter_id
            ),
        )
        .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let body = csv.text().await.unwrap();
    assert!(body.starts_with('\u{feff}'));
    assert!(body.contains(';'));

    let bad = app
        .get(
            &t,
            &format!("/api/v1/meters/{}/reading?day=wczoraj", jan.meter_id),
        )
        .await;
    assert_eq!(problem(bad).await["field"], "day");
    let long = app
        .get(
            &t,
            &format!(
                "/api/v1/meters/{}/history?from=2020-01-01&to=2026-01-01",
                jan.meter_id
            ),
        )
        .await;
    assert_eq!(long.status(), 422);
}

/// Every resident endpoint, called by `who` against `owner`'s resources, must answer 404 (or
/// a refusal naming the field) and leak nothing of the owner's.
async fn nothing_of_theirs(
    app: &App,
    who: &str,
    owner: &support::Resident,
    rule_id: i64,
    notification_id: i64,
    session_id: i64,
) {
    let meter = owner.meter_id;
    let day = Utc::now().date_naive();
    for path in [
        format!("/api/v1/meters/{meter}/current"),
        format!("/api/v1/meters/{meter}/reading?day={day}"),
        format!("/api/v1/meters/{meter}/history"),
        format!("/api/v1/meters/{meter}/billing-readings"),
        format!("/api/v1/meters/{meter}/history.csv"),
        format!("/api/v1/alarm-rules/{rule_id}"),
        format!("/api/v1/alarm-triggers?rule_id={rule_id}"),
    ] {
        let response = app.get(who, &path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body = response.text().await.unwrap();
        assert!(
            !body.contains(&owner.email) && !body.contains("100"),
            "{path}: {body}"
        );
    }
    let lists: Vec<Value> = futures_lists(app, who).await;
    for list in &lists {
        let text = list.to_string();
        assert!(
            !text.contains(&format!("\"id\":{meter}"))
                && !text.contains(&format!("\"meter_id\":{meter}")),
            "{text}"
        );
        assert!(
            !text.contains(&format!("\"id\":{rule_id}"))
                && !text.contains(&format!("\"id\":{notification_id}")),
            "{text}"
        );
        assert!(!text.contains(&owner.email), "{text}");
    }
    let self_reading = app
        .post(
            Some(who),
            &format!("/api/v1/meters/{meter}/readings"),
            json!({ "litres": 999_999 }),
        )
        .await;
    assert_eq!(self_reading.status(), 404);
    let rule = app
        .post(
            Some(who),
            "/api/v1/alarm-rules",
            json!({ "meter_id": meter, "kind": "daily_above", "litres": 10 }),
        )
        .await;
    assert_eq!(problem(rule).await["field"], "meter_id");
    for (method, path, body) in [
        (
            Method::DELETE,
            format!("/api/v1/alarm-rules/{rule_id}"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/alarm-rules/{rule_id}/enabled"),
            Some(json!({ "enabled": false })),
        ),
        (
            Method::POST,
            format!("/api/v1/notifications/{notification_id}/read"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/me/sessions/{session_id}"),
            None,
        ),
        (
            Method::DELETE,
            "/api/v1/consents/notifications".to_string(),
            None,
        ),
        (
            Method::POST,
            "/api/v1/devices/unregister".to_string(),
            Some(json!({ "token": "owner-phone-token-1" })),
        ),
    ] {
        let response = app.send(method.clone(), Some(who), &path, body).await;
        assert_eq!(response.status(), 404, "{method} {path}");
    }
}

async fn futures_lists(app: &App, who: &str) -> Vec<Value> {
    let mut lists = Vec::new();
    for path in [
        "/api/v1/meters",
        "/api/v1/alarm-rules",
        "/api/v1/alarm-triggers",
        "/api/v1/notifications",
        "/api/v1/consents",
        "/api/v1/me",
        "/api/v1/notification-preferences",
    ] {
        let response = app.get(who, path).await;
        assert_eq!(response.status(), 200, "{path}");
        lists.push(response.json().await.unwrap());
    }
    lists
}

#[tokio::test]
async fn another_resident_and_another_utility_get_nothing_of_a_residents_data() {
    let app = App::start().await;
    let a = utility(app.pool(), "mlynary").await;
    let b = utility(app.pool(), "tolkmicko").await;
    let jan = resident(app.pool(), a, "mlynary", "jan@example.pl", 10).await;
    let ola = resident(app.pool(), a, "mlynary", "ola@example.pl", 10).await;
    let eva = resident(app.pool(), b, "tolkmicko", "eva@example.pl", 10).await;
    let jan_t = token(&app.login("mlynary", &jan.email).await);

    // Jan's own data: a rule, a notification, a consent, a device.
    let rule: Value = app
        .post(
            Some(&jan_t),
            "/api/v1/alarm-rules",
            json!({ "meter_id": jan.meter_id, "kind": "daily_above", "litres": 500 }),
        )
        .await
        .json()
        .await
        .unwrap();
    let rule_id = rule["id"].as_i64().expect("rule created");
    let notification_id = support::notification(app.pool(), a, jan.account_id).await;
    let consents: Value = app
        .get(&jan_t, "/api/v1/consents")
        .await
        .json()
        .await
        .unwrap();
    let version = consents["forms"][1]["version"].as_str().unwrap();
    let granted = app
        .post(
            Some(&jan_t),
            "/api/v1/consents",
            json!({ "kind": "notifications", "form_version": version, "accept": true }),
        )
        .await;
    assert_eq!(granted.status(), 201);
    let device = app
        .post(
            Some(&jan_t),
            "/api/v1/devices",
            json!({ "token": "owner-phone-token-1", "platform": "android", "app_version": "1.0" }),
        )
        .await;
    assert_eq!(device.status(), 201);
    // Jan sees all of it.
    let inbox: Value = app
        .get(&jan_t, "/api/v1/notifications")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(inbox["unread"], 1);
    assert_eq!(
        app.get(&jan_t, &format!("/api/v1/alarm-rules/{rule_id}"))
            .await
            .status(),
        200
    );

    let jan_sessions: Value = app
        .get(&jan_t, "/api/v1/me/sessions")
        .await
        .json()
        .await
        .unwrap();
    let jan_session = jan_sessions[0]["id"].as_i64().unwrap();
    for other in [&ola, &eva] {
        let t = token(&app.login(&other.slug, &other.email).await);
        nothing_of_theirs(&app, &t, &jan, rule_id, notification_id, jan_session).await;
        let theirs: Value = app
            .get(&t, "/api/v1/me/sessions")
            .await
            .json()
            .await
            .unwrap();
        assert!(
            theirs
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["id"] != jan_session),
            "{theirs}"
        );
    }
    // And Jan's things are untouched.
    assert_eq!(app.get(&jan_t, "/api/v1/me").await.status(), 200);
    let still: Value = app
        .get(&jan_t, "/api/v1/me/sessions")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        still
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == jan_session)
    );
    assert_eq!(
        app.get(&jan_t, &format!("/api/v1/alarm-rules/{rule_id}"))
            .await
            .status(),
        200
    );
    let inbox: Value = app
        .get(&jan_t, "/api/v1/notifications")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(inbox["unread"], 1);
    let consents: Value = app
        .get(&jan_t, "/api/v1/consents")
        .await
        .json()
        .await
        .unwrap();
    assert!(consents["history"][0]["withdrawn_at"].is_null());
    let logged_in_elsewhere = app
        .post(
            None,
            "/api/v1/utilities/tolkmicko/token",
            json!({ "email": jan.email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        logged_in_elsewhere.status(),
        422,
        "an account belongs to one utility"
    );
}

#[tokio::test]
async fn consents_are_granted_withdrawn_and_kept_in_history() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 0).await;
    let t = token(&app.login("mlynary", &jan.email).await);
    let stale = app
        .post(
            Some(&t),
            "/api/v1/consents",
            json!({ "kind": "e_invoice", "form_version": "2001-01", "accept": true }),
        )
        .await;
    assert_eq!(problem(stale).await["field"], "form_version");
    let forms: Value = app.get(&t, "/api/v1/consents").await.json().await.unwrap();
    let version = forms["forms"][0]["version"].as_str().unwrap().to_string();
    let unticked = app
        .post(
            Some(&t),
            "/api/v1/consents",
            json!({ "kind": "e_invoice", "form_version": version, "accept": false }),
        )
        .await;
    assert_eq!(problem(unticked).await["field"], "accept");
    for _ in 0..2 {
        let granted = app
            .post(
                Some(&t),
                "/api/v1/consents",
                json!({ "kind": "e_invoice", "form_version": version, "accept": true }),
            )
            .await;
        assert_eq!(granted.status(), 201);
    }
    let withdrawn = app
        .send(Method::DELETE, Some(&t), "/api/v1/consents/e_invoice", None)
        .await;
    assert_eq!(withdrawn.status(), 204);
    let again = app
        .send(Method::DELETE, Some(&t), "/api/v1/consents/e_invoice", None)
        .await;
    assert_eq!(again.status(), 404);
    let history: Value = app.get(&t, "/api/v1/consents").await.json().await.unwrap();
    let entries = history["history"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        1,
        "granting twice keeps one grant: {history}"
    );
    assert!(entries[0]["withdrawn_at"].is_string());
}

/// A batch of preferences with one unknown category is refused as a whole, naming the element,
/// and nothing of it is stored; a valid batch is stored and read back.
#[tokio::test]
async fn notification_preferences_refuse_an_unknown_category_and_store_nothing() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 0).await;
    let t = token(&app.login("mlynary", &jan.email).await);
    let before: Value = app
        .get(&t, "/api/v1/notification-preferences")
        .await
        .json()
        .await
        .unwrap();
    let outages = |prefs: &Value| -> Value {
        prefs
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["category"] == "outages")
            .cloned()
            .unwrap()
    };
    let flipped = !outages(&before)["push"].as_bool().unwrap();
    let refused = app
        .send(
            Method::PUT,
            Some(&t),
            "/api/v1/notification-preferences",
            Some(json!([
                { "category": "outages", "push": flipped, "email": true },
                { "category": "lottery", "push": true, "email": true },
            ])),
        )
        .await;
    assert_eq!(refused.status(), 422);
    assert_eq!(problem(refused).await["field"], "[1].category");
    let after: Value = app
        .get(&t, "/api/v1/notification-preferences")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after, before, "nothing of a refused batch is stored");

    let stored = app
        .send(
            Method::PUT,
            Some(&t),
            "/api/v1/notification-preferences",
            Some(json!([{ "category": "outages", "push": flipped, "email": true }])),
        )
        .await;
    assert_eq!(stored.status(), 200);
    let now: Value = stored.json().await.unwrap();
    assert_eq!(outages(&now)["push"], flipped);
    assert_eq!(outages(&now)["email"], true);
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = App::start().await;
    let response = app.server.get("/api/openapi.json").await;
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/utilities/{slug}/token",
        "/meters",
        "/meters/{id}/reading",
        "/meters/{id}/history",
        "/alarm-rules",
        "/consents",
        "/notifications",
        "/devices",
        "/failure-reports",
        "/utilities/{slug}/failure-reports",
        "/staff/failure-reports/jobs",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // The browsable page is served from the binary (no CDN).
    let page = app.server.get("/api/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(!html.contains("cdn.") && !html.contains("unpkg"), "{html}");
}

#[tokio::test]
async fn every_operation_declares_the_problems_it_can_answer_as_problem_json() {
    let app = App::start().await;
    let doc: Value = app
        .server
        .get("/api/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let at = format!("{method} {path}");
            let responses = op["responses"].as_object().unwrap();
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let in_place = |place: &str| params.iter().any(|p| p["in"] == place);
            let bearer = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let input = in_place("query") || op.get("requestBody").is_some();
            for (status, expected) in [
                ("401", bearer),
                ("404", in_place("path")),
                ("422", input),
                ("500", true),
            ] {
                if expected {
                    assert!(responses.contains_key(status), "{at} lacks {status}");
                }
            }
            for (status, response) in responses {
                assert!(
                    !response["description"].as_str().unwrap_or("").is_empty(),
                    "{at} {status} has no description"
                );
                if status.starts_with('4') || status.starts_with('5') {
                    let content = response["content"].as_object().unwrap();
                    assert_eq!(
                        content.keys().collect::<Vec<_>>(),
                        ["application/problem+json"],
                        "{at} {status}"
                    );
                    assert_eq!(
                        content["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem",
                        "{at} {status}"
                    );
                }
            }
        }
    }
    assert!(operations > 30, "{operations}");
    // What the document promises is what a client gets.
    let answer = app.server.get("/api/v1/meters").await;
    assert_eq!(answer.status(), 401);
    assert_eq!(answer.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn the_documents_enumerations_are_the_values_the_api_sends_and_takes() {
    let app = App::start().await;
    let doc: Value = app
        .server
        .get("/api/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    // Each field carrying a database enumeration is its database type's text.
    for (schema, db_type, extra) in [
        ("MeterChannel", "meter_channel", None),
        ("MeterPurpose", "meter_purpose", None),
        ("ReadingSource", "reading_source", None),
        ("HistorySource", "reading_source", Some("installation")),
        ("ConsentKind", "consent_kind", None),
        ("DevicePlatform", "device_platform", None),
        ("NotificationCategory", "notification_category", None),
        ("SessionKind", "session_kind", None),
        ("FailureCategory", "failure_category", None),
        ("FailureState", "failure_state", None),
    ] {
        let labels: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT unnest(enum_range(NULL::{db_type}))::text"
        )))
        .fetch_all(app.pool())
        .await
        .unwrap();
        let mut expected: Vec<Value> = labels.into_iter().map(Value::from).collect();
        expected.extend(extra.map(Value::from));
        assert_eq!(
            schemas[schema]["enum"].as_array().unwrap(),
            &expected,
            "{schema} against {db_type}"
        );
    }
    let referenced = |schema: &str, property: &str, name: &str| {
        let p = &schemas[schema]["properties"][property];
        let text = p.to_string();
        assert!(
            text.contains(&format!("#/components/schemas/{name}")),
            "{schema}.{property}: {p}"
        );
    };
    referenced("VisibleMeter", "channel", "MeterChannel");
    referenced("VisibleMeter", "purpose", "MeterPurpose");
    referenced("VisibleMeter", "latest_source", "ReadingSource");
    referenced("Reading", "source", "HistorySource");
    referenced("Grant", "kind", "ConsentKind");
    referenced("ConsentEntry", "kind", "ConsentKind");
    referenced("DeviceRequest", "platform", "DevicePlatform");
    referenced("Preference", "category", "NotificationCategory");
    referenced("SessionSummary", "kind", "SessionKind");
    referenced("NewFailureReport", "category", "FailureCategory");
    referenced("FailureReport", "state", "FailureState");
    // And the API sends the channel's database label (the document said "radio" before).
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 1).await;
    let t = token(&app.login("mlynary", &jan.email).await);
    let meters: Value = app.get(&t, "/api/v1/meters").await.json().await.unwrap();
    assert_eq!(meters[0]["channel"], "wmbus", "{meters}");
}

#[tokio::test]
async fn the_document_states_the_limits_the_server_enforces() {
    let app = App::start().await;
    let doc: Value = app
        .server
        .get("/api/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let register = &doc["components"]["schemas"]["RegisterRequest"]["properties"];
    assert_eq!(register["email"]["maxLength"], 254);
    assert_eq!(register["display_name"]["minLength"], 1);
    assert_eq!(register["display_name"]["maxLength"], 100);
    assert_eq!(register["password"]["minLength"], 10);
    assert_eq!(register["password"]["maxLength"], 128);
    let pattern = |path: &str, name: &str| {
        let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
        let p = params.iter().find(|p| p["name"] == name).unwrap();
        let re = regex::Regex::new(p["schema"]["pattern"].as_str().unwrap()).unwrap();
        move |text: &str| re.is_match(text)
    };
    for (path, name) in [
        ("/meters/{id}/reading", "day"),
        ("/meters/{id}/history", "from"),
        ("/meters/{id}/history", "to"),
    ] {
        let accepts = pattern(path, name);
        assert!(
            accepts("2000-01-01") && accepts("2099-12-31"),
            "{path} {name}"
        );
        assert!(
            !accepts("1999-12-31") && !accepts("2100-01-01"),
            "{path} {name}"
        );
    }
    // The server refuses what the document rules out, at the field.
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 1).await;
    let t = token(&app.login("mlynary", &jan.email).await);
    let old = app
        .get(
            &t,
            &format!("/api/v1/meters/{}/reading?day=1999-12-31", jan.meter_id),
        )
        .await;
    assert_eq!(problem(old).await["field"], "day");
    let long_name = "x".repeat(101);
    let refused = app
        .post(
            None,
            "/api/v1/utilities/mlynary/accounts",
            json!({ "email": "a@b.pl", "display_name": long_name, "password": PASSWORD,
                    "password_repeat": PASSWORD, "accept_terms": true }),
        )
        .await;
    assert_eq!(problem(refused).await["field"], "display_name");

    // The other bodies' limits, each refused at its field when broken.
    let schemas = &doc["components"]["schemas"];
    // A property of a schema, also when the schema is an `allOf` (NewRule: its kind's fields
    // sit beside its own).
    let property = |schema: &str, property: &str| -> Value {
        let s = &schemas[schema];
        std::iter::once(s)
            .chain(s["allOf"].as_array().into_iter().flatten())
            .map(|part| part["properties"][property].clone())
            .find(|p| !p.is_null())
            .unwrap_or_else(|| panic!("{schema}.{property} in {s}"))
    };
    let limits = |schema: &str, name: &str| {
        let p = property(schema, name);
        (p["minLength"].as_u64(), p["maxLength"].as_u64())
    };
    assert_eq!(limits("LoginRequest", "email"), (Some(1), Some(254)));
    assert_eq!(limits("LoginRequest", "password"), (Some(1), Some(128)));
    assert_eq!(limits("Activation", "password"), (Some(1), Some(128)));
    assert_eq!(limits("ResetRequest", "email"), (Some(1), Some(254)));
    assert_eq!(limits("NewPassword", "password"), (Some(10), Some(128)));
    assert_eq!(limits("EmailChange", "email"), (Some(3), Some(254)));
    assert_eq!(limits("EmailChange", "password"), (Some(1), Some(128)));
    assert_eq!(
        limits("PasswordChange", "current_password"),
        (Some(1), Some(128))
    );
    assert_eq!(limits("PasswordChange", "password"), (Some(10), Some(128)));
    assert_eq!(limits("DeviceRequest", "app_version"), (None, Some(64)));
    assert_eq!(limits("NewRule", "label"), (None, Some(100)));
    let pattern = |schema: &str, name: &str| {
        regex::Regex::new(property(schema, name)["pattern"].as_str().unwrap()).unwrap()
    };
    let device_token = pattern("DeviceRequest", "token");
    assert!(device_token.is_match("fcm:APA91bH-x_y.z"));
    assert!(!device_token.is_match("short") && !device_token.is_match("with space inside"));
    let label = pattern("NewRule", "label");
    assert!(label.is_match("Mieszkanie na górze") && !label.is_match("tab\there"));

    let refused = app
        .post(
            Some(&t),
            "/api/v1/devices",
            json!({ "token": " fcm-token-with-a-space", "platform": "android" }),
        )
        .await;
    assert_eq!(problem(refused).await["field"], "token");
    let refused = app
        .post(
            Some(&t),
            "/api/v1/devices",
            json!({ "token": "fcm-token", "platform": "android", "app_version": "9".repeat(65) }),
        )
        .await;
    assert_eq!(problem(refused).await["field"], "app_version");
    let refused = app
        .post(
            Some(&t),
            "/api/v1/alarm-rules",
            json!({ "meter_id": jan.meter_id, "kind": "daily_above", "litres": 500,
                    "label": "ł".repeat(101) }),
        )
        .await;
    assert_eq!(problem(refused).await["field"], "label");
    let refused = app
        .post(
            Some(&t),
            "/api/v1/me/password",
            json!({ "current_password": PASSWORD, "password": "krótkie",
                    "password_repeat": "krótkie" }),
        )
        .await;
    assert_eq!(problem(refused).await["field"], "password");
    let kind = &schemas["RuleKind"].to_string();
    for bound in [r#""maximum":1000000"#, r#""maximum":72"#, r#""maximum":60"#] {
        assert!(kind.contains(bound), "{bound} in {kind}");
    }

    // A default never breaks a request nor blames a parameter the client did not send.
    for query in ["to=2000-01-01", "from=2099-12-31"] {
        let history = app
            .get(
                &t,
                &format!("/api/v1/meters/{}/history?{query}", jan.meter_id),
            )
            .await;
        assert_eq!(history.status(), 200, "{query}");
    }
}

#[tokio::test]
async fn a_resident_sees_where_they_are_logged_in_and_ends_a_lost_phones_session() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 0).await;
    let tablet = app.login("mlynary", &jan.email).await;
    let phone = app.login("mlynary", &jan.email).await;
    let t = token(&tablet);
    let sessions: Value = app
        .get(&t, "/api/v1/me/sessions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 2, "{sessions}");
    assert!(
        sessions
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["kind"] == "app" && s["client"] == "test")
    );
    // The phone's session is the one the tablet did not start: end it.
    let tablet_claims = app.state.keys.verify(&t).unwrap();
    let lost = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .find(|id| *id != tablet_claims.sid)
        .unwrap();
    let ended = app
        .send(
            Method::DELETE,
            Some(&t),
            &format!("/api/v1/me/sessions/{lost}"),
            None,
        )
        .await;
    assert_eq!(ended.status(), 204);
    let refresh = app
        .post(
            None,
            "/api/v1/token/refresh",
            json!({ "refresh_token": phone["refresh_token"] }),
        )
        .await;
    assert_eq!(
        refresh.status(),
        401,
        "the lost phone cannot renew its access"
    );
    let again = app
        .send(
            Method::DELETE,
            Some(&t),
            &format!("/api/v1/me/sessions/{lost}"),
            None,
        )
        .await;
    assert_eq!(again.status(), 404);
    let sessions: Value = app
        .get(&t, "/api/v1/me/sessions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_password_reset_by_email_sets_the_new_password_and_ends_every_session() {
    let (app, smtp) = App::with_smtp().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 0).await;
    let before = app.login("mlynary", &jan.email).await;
    // An unknown address answers the same and sends nothing.
    let unknown = app
        .post(
            None,
            "/api/v1/utilities/mlynary/password-reset",
            json!({ "email": "nikt@example.pl" }),
        )
        .await;
    assert_eq!(unknown.status(), 202);
    let asked = app
        .post(
            None,
            "/api/v1/utilities/mlynary/password-reset",
            json!({ "email": jan.email }),
        )
        .await;
    assert_eq!(asked.status(), 202);
    let mails = smtp.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].rcpt_to, vec![jan.email.clone()]);
    let link = link_in(mails[0].text().unwrap(), "/haslo/nowe?token=");
    let reset_token = link.split("token=").nth(1).unwrap().to_string();
    let new_password = "nowe hasło do eBOK 2026";
    let done = app
        .post(None, "/api/v1/utilities/mlynary/password-reset/confirm",
              json!({ "token": reset_token, "password": new_password, "password_repeat": new_password }))
        .await;
    assert_eq!(done.status(), 204);
    let refresh = app
        .post(
            None,
            "/api/v1/token/refresh",
            json!({ "refresh_token": before["refresh_token"] }),
        )
        .await;
    assert_eq!(refresh.status(), 401, "sessions end with a reset");
    let access = before["access_token"].as_str().unwrap();
    assert_eq!(app.get(access, "/api/v1/me").await.status(), 401);
    let old = app
        .post(
            None,
            "/api/v1/utilities/mlynary/token",
            json!({ "email": jan.email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(old.status(), 422);
    let new = app
        .post(
            None,
            "/api/v1/utilities/mlynary/token",
            json!({ "email": jan.email, "password": new_password }),
        )
        .await;
    assert_eq!(new.status(), 200);
    let reused = app
        .post(None, "/api/v1/utilities/mlynary/password-reset/confirm",
              json!({ "token": reset_token, "password": new_password, "password_repeat": new_password }))
        .await;
    assert_eq!(problem(reused).await["field"], "token");
}

#[tokio::test]
async fn a_change_of_email_waits_for_the_link_sent_to_the_new_address() {
    let (app, smtp) = App::with_smtp().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 0).await;
    let t = token(&app.login("mlynary", &jan.email).await);
    // A session alone (a phone left unlocked) is not enough: the password is asked for.
    let without = app
        .post(
            Some(&t),
            "/api/v1/me/email",
            json!({ "email": "jan.nowy@example.pl", "password": "zgadywane hasło" }),
        )
        .await;
    assert_eq!(problem(without).await["field"], "password");
    let missing = app
        .post(
            Some(&t),
            "/api/v1/me/email",
            json!({ "email": "jan.nowy@example.pl" }),
        )
        .await;
    assert_eq!(missing.status(), 422);
    let asked = app
        .post(
            Some(&t),
            "/api/v1/me/email",
            json!({ "email": "jan.nowy@example.pl", "password": PASSWORD }),
        )
        .await;
    assert_eq!(asked.status(), 202);
    let mails = smtp.wait_for(2, Duration::from_secs(10)).await;
    let to_new = mails
        .iter()
        .find(|m| m.rcpt_to == vec!["jan.nowy@example.pl".to_string()])
        .unwrap();
    let to_old = mails
        .iter()
        .find(|m| m.rcpt_to == vec![jan.email.clone()])
        .unwrap();
    assert!(
        to_old.text().unwrap().contains("jan.nowy@example.pl"),
        "the old address is told"
    );
    // Nothing changes until the link is opened.
    let me: Value = app.get(&t, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["email"], jan.email);
    let link = link_in(to_new.text().unwrap(), "/konto/email?token=");
    let opened = app.server.get(&link).await;
    assert_eq!(opened.status(), 303);
    assert!(
        opened.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("logowanie?email=1")
    );
    let me: Value = app.get(&t, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["email"], "jan.nowy@example.pl");
    app.login("mlynary", "jan.nowy@example.pl").await;
    let old = app
        .post(
            None,
            "/api/v1/utilities/mlynary/token",
            json!({ "email": jan.email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(old.status(), 422);
}

#[tokio::test]
async fn a_change_of_email_to_an_address_in_use_answers_as_for_a_free_one_and_tells_its_owner() {
    let (app, smtp) = App::with_smtp().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 0).await;
    resident(app.pool(), u, "mlynary", "zajety@example.pl", 0).await;
    let t = token(&app.login("mlynary", &jan.email).await);
    let free = app
        .post(
            Some(&t),
            "/api/v1/me/email",
            json!({ "email": "wolny@example.pl", "password": PASSWORD }),
        )
        .await;
    let taken = app
        .post(
            Some(&t),
            "/api/v1/me/email",
            json!({ "email": "Zajety@example.pl", "password": PASSWORD }),
        )
        .await;
    assert_eq!(taken.status(), free.status());
    assert_eq!(taken.status(), 202);
    assert_eq!(
        taken.bytes().await.unwrap(),
        free.bytes().await.unwrap(),
        "the answer does not tell a taken address from a free one"
    );
    let mails = smtp.wait_for(4, Duration::from_secs(10)).await;
    let to = |address: &str| {
        mails
            .iter()
            .filter(|m| m.rcpt_to == vec![address.to_string()])
            .map(|m| m.text().unwrap())
            .collect::<Vec<_>>()
    };
    let owner = to("Zajety@example.pl");
    assert_eq!(owner.len(), 1, "the owner of the address is told once");
    assert!(owner[0].contains("nic się nie zmieniło"), "{}", owner[0]);
    assert!(!owner[0].contains("token="), "and gets no link");
    assert!(to("wolny@example.pl")[0].contains("/konto/email?token="));
    assert_eq!(
        to(&jan.email).len(),
        2,
        "the old address is told both times"
    );
    // The account keeps its address, and the other account its own.
    let me: Value = app.get(&t, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["email"], jan.email);
    app.login("mlynary", "zajety@example.pl").await;
}

#[tokio::test]
async fn a_body_or_query_that_does_not_fit_is_told_in_polish_at_its_own_field() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 2).await;
    let t = token(&app.login("mlynary", &jan.email).await);
    let meter = jan.meter_id;
    let posts = [
        (
            "/api/v1/alarm-rules",
            json!({ "meter_id": meter, "kind": "weekly", "litres": 5 }),
            "kind",
        ),
        (
            "/api/v1/alarm-rules",
            json!({ "meter_id": meter, "kind": "daily_above" }),
            "litres",
        ),
        (
            "/api/v1/alarm-rules",
            json!({ "meter_id": "siedem", "kind": "device_alarm" }),
            "meter_id",
        ),
        ("/api/v1/me/email", json!({ "email": "a@b.pl" }), "password"),
        ("/api/v1/me/email", json!("napis"), "body"),
    ];
    let gets = [
        (
            format!("/api/v1/meters/{meter}/history?from=2026-01-01&to=2026-01-31&step=week"),
            "step",
        ),
        (format!("/api/v1/meters/{meter}/reading?day=wczoraj"), "day"),
        (format!("/api/v1/meters/{meter}/reading"), "day"),
    ];
    let mut problems = Vec::new();
    for (path, body, field) in posts {
        let response = app.post(Some(&t), path, body.clone()).await;
        assert_eq!(response.status(), 422, "{path} {body}");
        problems.push((field, problem(response).await));
    }
    for (path, field) in &gets {
        let response = app.get(&t, path).await;
        assert_eq!(response.status(), 422, "{path}");
        problems.push((field, problem(response).await));
    }
    for (field, p) in problems {
        assert_eq!(p["field"], field, "{p}");
        let detail = p["detail"].as_str().unwrap();
        for english in [
            "`", "field", "variant", "expected", "line", "invalid", "type:",
        ] {
            assert!(
                !detail.contains(english),
                "serde's words reached a client: {p}"
            );
        }
    }
}

#[tokio::test]
async fn a_firing_rule_and_a_meter_alarm_are_both_active_alarms_in_the_api_and_on_the_dashboard() {
    let app = App::start().await;
    let pool = app.pool();
    let u = utility(pool, "mlynary").await;
    let jan = resident(pool, u, "mlynary", "jan@example.pl", 3).await;
    let kasia = resident(pool, u, "mlynary", "kasia@example.pl", 3).await;
    let t = token(&app.login("mlynary", &jan.email).await);
    let none: Value = app.get(&t, "/api/v1/alarms").await.json().await.unwrap();
    assert_eq!(none, json!([]));
    // 300 l since the last reading, today, against a limit of 100 l a day.
    reading(
        pool,
        jan.meter_id,
        chrono::Utc::now() - chrono::Duration::seconds(30),
        100_000 + 3 * 150 + 300,
    )
    .await;
    let rule: Value = app
        .post(
            Some(&t),
            "/api/v1/alarm-rules",
            json!({ "meter_id": jan.meter_id, "kind": "daily_above", "litres": 100,
                    "label": "Dom" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let evaluator = ebok_alarm_rules::Evaluator::new(
        pool.clone(),
        ebok_alarm_rules::EvaluatorConfig {
            poll: Duration::from_millis(20),
            batch: 100,
            recheck: Duration::from_secs(600),
        },
    );
    evaluator.try_once().await.unwrap();
    sqlx::query(
        "INSERT INTO meter_alarms (utility_id, meter_id, kind, raised_at)
         VALUES ($1, $2, 'leak', now() - interval '1 minute')",
    )
    .bind(u)
    .bind(jan.meter_id)
    .execute(pool)
    .await
    .unwrap();
    let active: Value = app.get(&t, "/api/v1/alarms").await.json().await.unwrap();
    let list = active.as_array().unwrap();
    assert_eq!(list.len(), 2, "{active}");
    let by = |source: &str| list.iter().find(|a| a["source"] == source).unwrap();
    assert_eq!(by("meter")["title"], "Wyciek wody");
    assert_eq!(by("meter")["urgent"], true);
    assert_eq!(by("rule")["rule_id"], rule["id"]);
    assert!(
        by("rule")["title"]
            .as_str()
            .unwrap()
            .starts_with("Dom: zużycie dobowe"),
        "{active}"
    );
    assert!(by("rule")["detail"].as_str().unwrap().contains("l"));
    // The dashboard shows both.
    let cookie = app.web_login("mlynary", &jan.email).await;
    let page = app
        .web_get(&cookie, "/u/mlynary/pulpit")
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("Brak aktywnych alarmów"), "{page}");
    assert!(page.contains("Wyciek wody"));
    assert!(page.contains("Dom: zużycie dobowe"));
    // Another resident has none of them.
    let k = token(&app.login("mlynary", &kasia.email).await);
    let theirs: Value = app.get(&k, "/api/v1/alarms").await.json().await.unwrap();
    assert_eq!(theirs, json!([]));
    // Nor a resident of another utility.
    let other = utility(pool, "kurowo").await;
    let ola = resident(pool, other, "kurowo", "ola@example.pl", 3).await;
    let o = token(&app.login("kurowo", &ola.email).await);
    let elsewhere: Value = app.get(&o, "/api/v1/alarms").await.json().await.unwrap();
    assert_eq!(elsewhere, json!([]));
}
