//! The back office's door and the staff API: sign-in with a password and a second factor
//! (enrolment with a QR code, codes accepted once, recovery codes, throttling), shorter
//! sessions, separate doors for residents and staff, and the customer search and card, each
//! scoped to the staff member's utility.

use crate::support;

use ebok_api::staff::totp;
use reqwest::header::{COOKIE, LOCATION, ORIGIN};
use serde_json::{Value, json};
use support::{App, PASSWORD, PORTAL_ORIGIN, StaffMember, cookie_of, html_page, problem};

async fn form(
    app: &App,
    cookie: Option<&str>,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app
        .server
        .client
        .post(app.url(path))
        .header(ORIGIN, PORTAL_ORIGIN)
        .form(fields);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.send().await.unwrap()
}

async fn get(app: &App, cookie: &str, path: &str) -> reqwest::Response {
    app.web_get(cookie, path).await
}

/// The password step; returns the half-done sign-in's cookie.
async fn password_step(app: &App, slug: &str, email: &str) -> String {
    let response = form(
        app,
        None,
        &format!("/panel/{slug}/logowanie"),
        &[("email", email), ("password", PASSWORD), ("next", "")],
    )
    .await;
    assert_eq!(response.status(), 303, "password of {email}");
    cookie_of(&response, "ebok_panel_login")
}

async fn audit_actions(app: &App, account_id: i64) -> Vec<String> {
    sqlx::query_scalar("SELECT action FROM audit_log WHERE actor_account_id = $1 ORDER BY id")
        .bind(account_id)
        .fetch_all(app.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_first_sign_in_sets_up_the_authenticator_and_shows_recovery_codes_once() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let who = support::staff(app.pool(), utility, "mlynary", "clerk").await;
    sqlx::query("DELETE FROM staff_authenticators WHERE account_id = $1")
        .bind(who.account_id)
        .execute(app.pool())
        .await
        .unwrap();

    let pending = password_step(&app, "mlynary", &who.email).await;
    let response = get(&app, &pending, "/panel/mlynary/logowanie/kod").await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()[LOCATION],
        "/panel/mlynary/logowanie/aplikacja?next="
    );
    let html = html_page(get(&app, &pending, "/panel/mlynary/logowanie/aplikacja").await).await;
    assert!(html.contains("<svg role=\"img\""), "a QR code: {html}");
    let typed = html
        .split("<code class=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the secret to type by hand");
    let secret = totp::parse_secret(typed).expect("base32");

    // A mistyped code shows the same secret again.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let wrong = if totp::code_at(&secret, now) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let response = form(
        &app,
        Some(&pending),
        "/panel/mlynary/logowanie/aplikacja",
        &[("code", wrong), ("next", "")],
    )
    .await;
    assert_eq!(response.status(), 422);
    let html = html_page(response).await;
    assert!(html.contains("Kod jest nieprawidłowy"), "{html}");
    assert!(html.contains(typed), "the same secret: {html}");

    let response = form(
        &app,
        Some(&pending),
        "/panel/mlynary/logowanie/aplikacja",
        &[("code", &totp::code_at(&secret, now)), ("next", "")],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let session = cookie_of(&response, "ebok_panel");
    let html = html_page(response).await;
    let codes: Vec<String> = html
        .split("<li><code>")
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10, "{html}");
    assert_eq!(get(&app, &session, "/panel/mlynary/").await.status(), 200);
    // The half-done sign-in is over: its cookie no longer leads anywhere.
    let response = get(&app, &pending, "/panel/mlynary/logowanie/aplikacja").await;
    assert_eq!(
        response.headers()[LOCATION],
        "/panel/mlynary/logowanie?powod=wygaslo"
    );

    // Later, without the phone: a recovery code works once.
    for (attempt, expected) in [(1, 303), (2, 422)] {
        let pending = password_step(&app, "mlynary", &who.email).await;
        let response = form(
            &app,
            Some(&pending),
            "/panel/mlynary/logowanie/kod",
            &[
                ("code", &codes[0].to_lowercase().replace('-', " ")),
                ("next", ""),
            ],
        )
        .await;
        assert_eq!(response.status(), expected, "attempt {attempt}");
    }
    assert_eq!(
        audit_actions(&app, who.account_id).await,
        [
            "staff.sign_in_failed",
            "staff.authenticator_enrolled",
            "staff.signed_in",
            "staff.recovery_code_used",
            "staff.signed_in",
            "staff.sign_in_failed"
        ]
    );
}

#[tokio::test]
async fn a_code_is_accepted_once_and_wrong_codes_end_the_sign_in_and_then_the_account_waits() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let who = support::staff(app.pool(), utility, "mlynary", "technician").await;
    app.staff_web_login(&who, 0).await;

    // The same code again (a shoulder-surfer, a replayed request) is refused.
    let pending = password_step(&app, "mlynary", &who.email).await;
    let response = form(
        &app,
        Some(&pending),
        "/panel/mlynary/logowanie/kod",
        &[("code", &who.code(0)), ("next", "")],
    )
    .await;
    assert_eq!(response.status(), 422);

    // Four more wrong codes: the half-done sign-in is over…
    for _ in 0..4 {
        let response = form(
            &app,
            Some(&pending),
            "/panel/mlynary/logowanie/kod",
            &[("code", "12345"), ("next", "")],
        )
        .await;
        assert_eq!(response.status(), 422);
    }
    let response = get(&app, &pending, "/panel/mlynary/logowanie/kod").await;
    assert_eq!(
        response.headers()[LOCATION],
        "/panel/mlynary/logowanie?powod=wygaslo"
    );
    // …and the account takes no code for a while, even a right one.
    let pending = password_step(&app, "mlynary", &who.email).await;
    let response = form(
        &app,
        Some(&pending),
        "/panel/mlynary/logowanie/kod",
        &[("code", &who.code(1)), ("next", "")],
    )
    .await;
    assert_eq!(response.status(), 422);
    assert!(
        html_page(response).await.contains("Zbyt wiele"),
        "the wait is explained"
    );
}

#[tokio::test]
async fn residents_and_staff_each_have_their_own_door() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let resident = support::resident(app.pool(), utility, "mlynary", "jan@example.pl", 3).await;
    let clerk = support::staff(app.pool(), utility, "mlynary", "clerk").await;

    // A resident's password does not open the back office, and a staff password does not
    // open the resident portal or the residents' API: both answer as for a wrong password.
    let response = form(
        &app,
        None,
        "/panel/mlynary/logowanie",
        &[
            ("email", "jan@example.pl"),
            ("password", PASSWORD),
            ("next", ""),
        ],
    )
    .await;
    assert_eq!(response.status(), 422);
    let response = form(
        &app,
        None,
        "/u/mlynary/logowanie",
        &[
            ("email", &clerk.email),
            ("password", PASSWORD),
            ("next", ""),
        ],
    )
    .await;
    assert_eq!(response.status(), 422);
    let response = app
        .post(
            None,
            "/api/v1/utilities/mlynary/token",
            json!({ "email": clerk.email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(response.status(), 422);

    // Tokens and cookies of one kind do not work at the other's endpoints.
    let resident_token = app.login("mlynary", &resident.email).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let staff_token = app.staff_token(&clerk, 0).await;
    let response = app
        .get(&resident_token, "/api/v1/staff/customers?q=Nowak")
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(problem(response).await["status"], 403);
    assert_eq!(app.get(&staff_token, "/api/v1/me").await.status(), 403);
    assert_eq!(app.get(&staff_token, "/api/v1/meters").await.status(), 403);
    let resident_cookie = app.web_login("mlynary", &resident.email).await;
    let response = get(&app, &resident_cookie, "/panel/mlynary/klienci").await;
    assert_eq!(response.status(), 303);
    assert!(
        response.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/panel/mlynary/logowanie?next="),
    );
    let staff_cookie = app.staff_web_login(&clerk, 1).await;
    let response = get(&app, &staff_cookie, "/u/mlynary/pulpit").await;
    assert_eq!(response.status(), 303);
    assert!(
        response.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/u/mlynary/logowanie"),
    );
}

#[tokio::test]
async fn a_staff_member_of_one_utility_sees_nothing_of_another() {
    let app = App::start().await;
    let a = support::utility(app.pool(), "mlynary").await;
    let b = support::utility(app.pool(), "kurowo").await;
    let theirs = support::resident(app.pool(), b, "kurowo", "ola@example.pl", 3).await;
    let serial: String = sqlx::query_scalar("SELECT serial FROM meters WHERE id = $1")
        .bind(theirs.meter_id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    let admin = support::staff(app.pool(), a, "mlynary", "admin").await;
    let cookie = app.staff_web_login(&admin, 0).await;
    let token = app.staff_token(&admin, 1).await;

    // The cookie is not a session of the other utility's back office.
    let response = get(&app, &cookie, "/panel/kurowo/").await;
    assert_eq!(response.status(), 303);
    let response = get(
        &app,
        &cookie,
        &format!("/panel/mlynary/klienci/{}", theirs.customer_id),
    )
    .await;
    assert_eq!(response.status(), 404);
    let response = app
        .get(
            &token,
            &format!("/api/v1/staff/customers/{}", theirs.customer_id),
        )
        .await;
    assert_eq!(response.status(), 404);
    for q in [serial.as_str(), "Nowak", "Lipowa 1"] {
        let body: Value = app
            .get(
                &token,
                &format!("/api/v1/staff/customers?q={}", urlencode(q)),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["customers"], json!([]), "{q}");
    }
    // Signing in to the other utility's back office with this account fails too.
    let response = form(
        &app,
        None,
        "/panel/kurowo/logowanie",
        &[
            ("email", &admin.email),
            ("password", PASSWORD),
            ("next", ""),
        ],
    )
    .await;
    assert_eq!(response.status(), 422);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn a_clerk_finds_a_customer_by_what_the_counter_hears_and_opens_the_card() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let home = support::resident(app.pool(), utility, "mlynary", "anna@example.pl", 3).await;
    let (number, serial): (String, String) = sqlx::query_as(
        "SELECT c.customer_number, m.serial FROM customers c, meters m
         WHERE c.id = $1 AND m.id = $2",
    )
    .bind(home.customer_id)
    .bind(home.meter_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    sqlx::query("UPDATE customers SET pesel = '85010112345' WHERE id = $1")
        .bind(home.customer_id)
        .execute(app.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE meters SET radio_id = '1a2b3c4d' WHERE id = $1")
        .bind(home.meter_id)
        .execute(app.pool())
        .await
        .unwrap();
    let community: i64 = sqlx::query_scalar(
        "INSERT INTO customers (utility_id, customer_number, kind, name, nip, city)
         VALUES ($1, 'W-1', 'housing_community', 'Wspólnota Mieszkaniowa Dworcowa 5',
                 '1234563218', 'Młynary') RETURNING id",
    )
    .bind(utility)
    .fetch_one(app.pool())
    .await
    .unwrap();
    let clerk = support::staff(app.pool(), utility, "mlynary", "clerk").await;
    let token = app.staff_token(&clerk, 0).await;

    for (q, id, matched) in [
        ("nowak", home.customer_id, "name"),
        ("Anna No", home.customer_id, "name"),
        ("lipowa 1", home.customer_id, "address"),
        (serial.as_str(), home.customer_id, "meter"),
        ("1A2B3C4D", home.customer_id, "meter"),
        (number.as_str(), home.customer_id, "number"),
        ("850 101 123 45", home.customer_id, "pesel"),
        ("123-456-32-18", community, "nip"),
        ("wspólnota", community, "name"),
    ] {
        let response = app
            .get(
                &token,
                &format!("/api/v1/staff/customers?q={}", urlencode(q)),
            )
            .await;
        assert_eq!(response.status(), 200, "{q}");
        let body: Value = response.json().await.unwrap();
        let found = body["customers"].as_array().unwrap();
        assert_eq!(found.len(), 1, "{q}: {body}");
        assert_eq!(found[0]["id"], id, "{q}");
        assert_eq!(found[0]["matched"], matched, "{q}");
    }
    let response = app.get(&token, "/api/v1/staff/customers?q=x").await;
    assert_eq!(response.status(), 422);
    assert_eq!(problem(response).await["field"], "q");

    let card: Value = app
        .get(
            &token,
            &format!("/api/v1/staff/customers/{}", home.customer_id),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(card["customer"]["pesel"], "85010112345");
    assert_eq!(card["meters"][0]["serial"], serial.as_str());
    assert_eq!(card["meters"][0]["latest_litres"], 100_450);
    assert_eq!(card["accounts"][0]["email"], "anna@example.pl");
    assert_eq!(card["contracts"].as_array().unwrap().len(), 1);

    let cookie = app.staff_web_login(&clerk, 1).await;
    let html = html_page(
        get(
            &app,
            &cookie,
            &format!("/panel/mlynary/klienci?q={}", urlencode(&serial)),
        )
        .await,
    )
    .await;
    assert!(
        html.contains(&format!("/panel/mlynary/klienci/{}", home.customer_id)),
        "{html}"
    );
    let html = html_page(
        get(
            &app,
            &cookie,
            &format!("/panel/mlynary/klienci/{}", home.customer_id),
        )
        .await,
    )
    .await;
    assert!(html.contains("Anna Nowak"), "{html}");
    assert!(html.contains(&serial), "{html}");
    assert!(html.contains("100,450\u{a0}m³"), "{html}");
}

#[tokio::test]
async fn staff_sessions_end_after_twenty_idle_minutes_or_four_hours() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let who = support::staff(app.pool(), utility, "mlynary", "clerk").await;
    for (step, change) in [
        (
            0,
            "UPDATE sessions SET last_used_at = now() - interval '21 minutes'
             WHERE account_id = $1 AND revoked_at IS NULL",
        ),
        (
            1,
            "UPDATE sessions SET created_at = now() - interval '5 hours',
                                 expires_at = now() - interval '1 hour'
             WHERE account_id = $1 AND revoked_at IS NULL",
        ),
    ] {
        let cookie = app.staff_web_login(&who, step).await;
        assert_eq!(get(&app, &cookie, "/panel/mlynary/").await.status(), 200);
        sqlx::query(change)
            .bind(who.account_id)
            .execute(app.pool())
            .await
            .unwrap();
        assert_eq!(
            get(&app, &cookie, "/panel/mlynary/").await.status(),
            303,
            "{change}"
        );
    }
    let expires: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM max(expires_at - created_at))::float8 FROM sessions
         WHERE account_id = $1",
    )
    .bind(who.account_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert!(expires <= 4.0 * 3600.0 + 1.0, "{expires}");
}

#[tokio::test]
async fn the_staff_api_wants_the_code_and_its_sessions_end_within_a_shift() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let who: StaffMember = support::staff(app.pool(), utility, "mlynary", "technician").await;
    for code in ["", "000000x", "123"] {
        let response = app
            .post(
                None,
                "/api/v1/staff/utilities/mlynary/token",
                json!({ "email": who.email, "password": PASSWORD, "code": code }),
            )
            .await;
        assert_eq!(response.status(), 422, "{code:?}");
        assert_eq!(problem(response).await["field"], "code");
    }
    let response = app
        .post(
            None,
            "/api/v1/staff/utilities/mlynary/token",
            json!({ "email": who.email, "password": PASSWORD, "code": who.code(0) }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let pair: Value = response.json().await.unwrap();
    assert!(pair["refresh_expires_in"].as_i64().unwrap() <= 12 * 3600);
    sqlx::query(
        "UPDATE sessions SET created_at = now() - interval '13 hours' WHERE account_id = $1",
    )
    .bind(who.account_id)
    .execute(app.pool())
    .await
    .unwrap();
    let response = app
        .post(
            None,
            "/api/v1/token/refresh",
            json!({ "refresh_token": pair["refresh_token"] }),
        )
        .await;
    assert_eq!(response.status(), 401);
    let failures: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE actor_account_id = $1
           AND action = 'staff.sign_in_failed' AND details->>'via' = 'api'",
    )
    .bind(who.account_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(failures, 3);
}

#[tokio::test]
async fn a_failed_sign_in_of_an_unknown_address_is_audited_as_such() {
    let app = App::start().await;
    support::utility(app.pool(), "mlynary").await;
    let response = form(
        &app,
        None,
        "/panel/mlynary/logowanie",
        &[
            ("email", "Nikt@Example.pl"),
            ("password", "zgadywane-haslo"),
            ("next", ""),
        ],
    )
    .await;
    assert_eq!(response.status(), 422);
    let (actor, email): (String, String) = sqlx::query_as(
        "SELECT actor::text, details->>'unknown_email' FROM audit_log
         WHERE action = 'staff.sign_in_failed'",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(
        (actor.as_str(), email.as_str()),
        ("system", "nikt@example.pl")
    );
}

/// The replacement form's fields for a swap now (Warsaw time, to the minute).
fn replacement_now(serial: &str, final_m3: &str, initial_m3: &str) -> Vec<(String, String)> {
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Warsaw);
    [
        ("day", now.format("%Y-%m-%d").to_string()),
        ("time", now.format("%H:%M").to_string()),
        ("final", final_m3.to_string()),
        ("serial", serial.to_string()),
        ("channel", "wmbus".to_string()),
        ("radio_id", "0badcafe".to_string()),
        ("initial", initial_m3.to_string()),
        ("legalised_until", "2031-12-31".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

async fn staff_form(
    app: &App,
    cookie: &str,
    path: &str,
    fields: &[(String, String)],
) -> reqwest::Response {
    let csrf = app.web_csrf(cookie, path.rsplit_once('/').unwrap().0).await;
    let mut all: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.push(("csrf", &csrf));
    app.web_post(cookie, path, &all).await
}

#[tokio::test]
async fn a_replaced_meter_ends_at_its_final_register_and_the_new_one_counts_from_its_first() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let home = support::resident(app.pool(), utility, "mlynary", "anna@example.pl", 5).await;
    let clerk = support::staff(app.pool(), utility, "mlynary", "clerk").await;
    let cookie = app.staff_web_login(&clerk, 0).await;
    let path = format!("/panel/mlynary/liczniki/{}/wymiana", home.meter_id);

    // A final register below the last reading is refused at its field.
    let response = staff_form(
        &app,
        &cookie,
        &path,
        &replacement_now("NOWY-1", "100,7", "0,012"),
    )
    .await;
    assert_eq!(response.status(), 422);
    let html = html_page(response).await;
    assert!(
        html.contains("Stan końcowy jest mniejszy niż ostatni odczyt"),
        "{html}"
    );

    let response = staff_form(
        &app,
        &cookie,
        &path,
        &replacement_now("NOWY-1", "100,800", "0,012"),
    )
    .await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    let location = response.headers()[LOCATION].to_str().unwrap().to_string();
    let new_id: i64 = sqlx::query_scalar("SELECT id FROM meters WHERE replaces_meter_id = $1")
        .bind(home.meter_id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(
        location,
        format!("/panel/mlynary/liczniki/{new_id}?wymieniono=1")
    );
    let html = html_page(get(&app, &cookie, &location).await).await;
    assert!(html.contains("Wodomierz wymieniony"), "{html}");
    assert!(html.contains("Zastąpił"), "{html}");

    // The old meter is off: a second replacement of it is refused.
    let response = staff_form(
        &app,
        &cookie,
        &path,
        &replacement_now("NOWY-2", "100,900", "0"),
    )
    .await;
    assert_eq!(response.status(), 422);
    assert!(html_page(response).await.contains("został już zdjęty"));

    // The resident sees both meters; the old one's last day ends at its final register, the
    // new one's first day starts at its initial register.
    let token = app.login("mlynary", "anna@example.pl").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let meters: Value = app
        .get(&token, "/api/v1/meters")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = meters
        .as_array()
        .or_else(|| meters["meters"].as_array())
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().or_else(|| m["meter_id"].as_i64()).unwrap())
        .collect();
    assert!(
        ids.contains(&home.meter_id) && ids.contains(&new_id),
        "{meters}"
    );
    let history = |id: i64| {
        let app = &app;
        let token = token.clone();
        async move {
            let body: Value = app
                .get(&token, &format!("/api/v1/meters/{id}/history"))
                .await
                .json()
                .await
                .unwrap();
            body["points"].as_array().unwrap().clone()
        }
    };
    let old = history(home.meter_id).await;
    let (yesterday, today) = (&old[old.len() - 2], &old[old.len() - 1]);
    assert_eq!(today["end"]["litres"], 100_800, "{today}");
    assert_eq!(
        today["consumption_litres"].as_i64().unwrap(),
        100_800 - yesterday["end"]["litres"].as_i64().unwrap(),
        "{yesterday} {today}"
    );
    let new = history(new_id).await;
    let first = new
        .iter()
        .find(|p| !p["end"].is_null())
        .expect("the new meter has a register");
    assert_eq!(first["end"]["litres"], 12, "{first}");
    assert!(
        new.iter()
            .all(|p| p["consumption_litres"].as_i64().unwrap_or(0) == 0),
        "nothing used on the new meter yet: {new:?}"
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'meter.replaced'
           AND actor_account_id = $1 AND (details->>'new_meter_id')::bigint = $2",
    )
    .bind(clerk.account_id)
    .bind(new_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn only_roles_that_manage_meters_replace_them_and_only_in_their_utility() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let other = support::utility(app.pool(), "kurowo").await;
    let home = support::resident(app.pool(), utility, "mlynary", "anna@example.pl", 3).await;
    let theirs = support::resident(app.pool(), other, "kurowo", "ola@example.pl", 3).await;
    let billing = support::staff(app.pool(), utility, "mlynary", "billing").await;
    let cookie = app.staff_web_login(&billing, 0).await;
    // Billing sees the meter but is not offered the form, and its request is refused.
    let html = html_page(
        get(
            &app,
            &cookie,
            &format!("/panel/mlynary/liczniki/{}", home.meter_id),
        )
        .await,
    )
    .await;
    assert!(!html.contains("Wymiana wodomierza"), "{html}");
    let csrf = app.web_csrf(&cookie, "/panel/mlynary/klienci").await;
    let mut fields = replacement_now("NOWY-1", "100,800", "0");
    fields.push(("csrf".into(), csrf.clone()));
    let all: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let response = app
        .web_post(
            &cookie,
            &format!("/panel/mlynary/liczniki/{}/wymiana", home.meter_id),
            &all,
        )
        .await;
    assert_eq!(response.status(), 403);
    assert!(html_page(response).await.contains("Brak uprawnień"));

    // A technician of this utility cannot reach the other utility's meter.
    let technician = support::staff(app.pool(), utility, "mlynary", "technician").await;
    let cookie = app.staff_web_login(&technician, 1).await;
    let response = get(
        &app,
        &cookie,
        &format!("/panel/mlynary/liczniki/{}", theirs.meter_id),
    )
    .await;
    assert_eq!(response.status(), 404);
    let csrf = app.web_csrf(&cookie, "/panel/mlynary/klienci").await;
    let mut fields = replacement_now("NOWY-1", "100,800", "0");
    fields.push(("csrf".into(), csrf));
    let all: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let response = app
        .web_post(
            &cookie,
            &format!("/panel/mlynary/liczniki/{}/wymiana", theirs.meter_id),
            &all,
        )
        .await;
    assert_eq!(response.status(), 404);
    let removed: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT removed_at FROM meters WHERE id = $1")
            .bind(theirs.meter_id)
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(removed, None);
}

async fn hold(app: &App, utility_id: i64, radio_id: &str, litres: i64) {
    sqlx::query(
        "INSERT INTO ingest_quarantine (utility_id, source, origin, meter_ref_kind, meter_ref,
                                        measured_at, volume_litres, flags, reading_source, detail)
         VALUES ($1, 'mqtt', 'test', 'radio_id', $2, now() - interval '1 hour', $3, 0, 'radio',
                 'unknown meter')",
    )
    .bind(utility_id)
    .bind(radio_id)
    .bind(litres)
    .execute(app.pool())
    .await
    .unwrap();
}

#[tokio::test]
async fn the_quarantine_is_the_utilitys_own_and_for_roles_that_handle_ingest_problems() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let other = support::utility(app.pool(), "kurowo").await;
    let ours = support::resident(app.pool(), utility, "mlynary", "anna@example.pl", 1).await;
    let theirs = support::resident(app.pool(), other, "kurowo", "ola@example.pl", 1).await;
    hold(&app, utility, "0badf00d", 20_015).await;
    hold(&app, other, "cafebabe", 7_000).await;
    let their_serial: String = sqlx::query_scalar("SELECT serial FROM meters WHERE id = $1")
        .bind(theirs.meter_id)
        .fetch_one(app.pool())
        .await
        .unwrap();

    let billing = support::staff(app.pool(), utility, "mlynary", "billing").await;
    let cookie = app.staff_web_login(&billing, 0).await;
    let response = get(&app, &cookie, "/panel/mlynary/kwarantanna").await;
    assert_eq!(response.status(), 403);

    let technician = support::staff(app.pool(), utility, "mlynary", "technician").await;
    let cookie = app.staff_web_login(&technician, 1).await;
    let html = html_page(get(&app, &cookie, "/panel/mlynary/kwarantanna").await).await;
    assert!(html.contains("0badf00d"), "{html}");
    assert!(
        !html.contains("cafebabe"),
        "another utility's held readings: {html}"
    );
    let csrf = app.web_csrf(&cookie, "/panel/mlynary/kwarantanna").await;
    // Neither another utility's held readings nor another utility's meter can be reached.
    for (meter_ref, serial, status) in [
        ("cafebabe", "SN-X", 422),
        ("0badf00d", their_serial.as_str(), 422),
        ("cafebabe", their_serial.as_str(), 422),
    ] {
        let response = app
            .web_post(
                &cookie,
                "/panel/mlynary/kwarantanna/przypisz",
                &[
                    ("csrf", &csrf),
                    ("kind", "radio_id"),
                    ("meter_ref", meter_ref),
                    ("serial", serial),
                ],
            )
            .await;
        assert_eq!(response.status(), status, "{meter_ref} → {serial}");
    }
    let assigned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ingest_quarantine WHERE assigned_meter_id IS NOT NULL",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(assigned, 0);
    let our_serial: String = sqlx::query_scalar("SELECT serial FROM meters WHERE id = $1")
        .bind(ours.meter_id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    let response = app
        .web_post(
            &cookie,
            "/panel/mlynary/kwarantanna/przypisz",
            &[
                ("csrf", &csrf),
                ("kind", "radio_id"),
                ("meter_ref", "cafebabe"),
                ("serial", &our_serial),
            ],
        )
        .await;
    assert_eq!(
        response.status(),
        404,
        "another utility's held readings are not found"
    );
    let response = app
        .web_post(
            &cookie,
            "/panel/mlynary/kwarantanna/przypisz",
            &[
                ("csrf", &csrf),
                ("kind", "radio_id"),
                ("meter_ref", "0badf00d"),
                ("serial", &our_serial),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()[LOCATION],
        "/panel/mlynary/kwarantanna?przypisano=1&radio=1"
    );
}

async fn alarm(app: &App, utility_id: i64, meter_id: i64, kind: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO meter_alarms (utility_id, meter_id, kind, raised_at)
         VALUES ($1, $2, $3::text::meter_alarm_kind, now() - interval '2 hours') RETURNING id",
    )
    .bind(utility_id)
    .bind(meter_id)
    .bind(kind)
    .fetch_one(app.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn staff_acknowledge_an_alarm_and_clear_it_with_a_note() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let home = support::resident(app.pool(), utility, "mlynary", "anna@example.pl", 1).await;
    let leak = alarm(&app, utility, home.meter_id, "leak").await;
    let battery = alarm(&app, utility, home.meter_id, "low_battery").await;
    let technician = support::staff(app.pool(), utility, "mlynary", "technician").await;
    let token = app.staff_token(&technician, 0).await;

    let list: Value = app
        .get(&token, "/api/v1/staff/alarms?kind=leak")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["alarms"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["alarms"][0]["customer_name"], "Anna Nowak");
    let post = |path: String, note: &str| {
        let body = json!({ "note": note });
        let app = &app;
        let token = token.clone();
        async move { app.post(Some(&token), &path, body).await }
    };
    let ack = format!("/api/v1/staff/alarms/{leak}/acknowledge");
    assert_eq!(post(ack.clone(), "").await.status(), 204);
    assert_eq!(post(ack, "").await.status(), 409);
    let clear = format!("/api/v1/staff/alarms/{leak}/clear");
    let response = post(clear.clone(), "  ").await;
    assert_eq!(response.status(), 422);
    assert_eq!(problem(response).await["field"], "note");
    assert_eq!(
        post(clear.clone(), "Wyciek usunięty, wymieniono zawór.")
            .await
            .status(),
        204
    );
    assert_eq!(post(clear, "again").await.status(), 409);

    let list: Value = app
        .get(&token, "/api/v1/staff/alarms?state=cleared")
        .await
        .json()
        .await
        .unwrap();
    let cleared = &list["alarms"][0];
    assert_eq!(cleared["id"], leak);
    assert_eq!(
        cleared["cleared_note"],
        "Wyciek usunięty, wymieniono zawór."
    );
    assert_eq!(cleared["cleared_by"], "Pracownik technician");
    assert!(cleared["acknowledged_at"].is_string());
    let open: Value = app
        .get(&token, "/api/v1/staff/alarms")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = open["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [battery]);
    let response = app.get(&token, "/api/v1/staff/alarms?kind=flood").await;
    assert_eq!(response.status(), 422);

    // The same in the back office's page.
    let cookie = app.staff_web_login(&technician, 1).await;
    let csrf = app.web_csrf(&cookie, "/panel/mlynary/alarmy").await;
    let response = app
        .web_post(
            &cookie,
            &format!("/panel/mlynary/alarmy/{battery}/zamknij"),
            &[
                ("csrf", &csrf),
                ("note", ""),
                ("rodzaj", ""),
                ("stan", "open"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(
        html_page(response)
            .await
            .contains("dlaczego zamykasz alarm")
    );
    let response = app
        .web_post(
            &cookie,
            &format!("/panel/mlynary/alarmy/{battery}/przyjmij"),
            &[
                ("csrf", &csrf),
                ("note", "Bateria do wymiany w przyszłym tygodniu"),
                ("rodzaj", ""),
                ("stan", "open"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let html = html_page(get(&app, &cookie, "/panel/mlynary/alarmy").await).await;
    assert!(html.contains("Bateria do wymiany"), "{html}");
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE entity_type = 'meter_alarm' ORDER BY id",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(
        audited,
        [
            "meter_alarm.acknowledged",
            "meter_alarm.cleared_by_staff",
            "meter_alarm.acknowledged"
        ]
    );
}

/// Every staff endpoint and page: who may reach it. A resident's token or cookie never does; a
/// role without the permission gets 403 and nothing; a staff member of another utility does
/// not find the other utility's records (404) or sees an empty list.
#[tokio::test]
async fn every_staff_endpoint_and_page_refuses_residents_other_roles_and_other_utilities() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let other = support::utility(app.pool(), "kurowo").await;
    let home = support::resident(app.pool(), utility, "mlynary", "anna@example.pl", 2).await;
    let leak = alarm(&app, utility, home.meter_id, "leak").await;
    hold(&app, utility, "0badf00d", 1_000).await;
    let contract = support_contract(&app, home.customer_id).await;
    let point_code: String = sqlx::query_scalar("SELECT code FROM supply_points WHERE id = $1")
        .bind(home.supply_point_id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    let resident = app.login("mlynary", "anna@example.pl").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let resident_cookie = app.web_login("mlynary", "anna@example.pl").await;
    let case = submitted_letter(&app, utility, home.account_id).await;
    let billing = support::staff(app.pool(), utility, "mlynary", "billing").await;
    let billing_token = app.staff_token(&billing, 0).await;
    let billing_cookie = app.staff_web_login(&billing, 1).await;
    let stranger = support::staff(app.pool(), other, "kurowo", "admin").await;
    let stranger_token = app.staff_token(&stranger, 0).await;

    // (method, path, body, may billing?, what another utility's admin gets)
    let replacement = json!({
        "at": chrono::Utc::now(), "final_litres": 200_000, "serial": "X-1",
        "radio_id": "12345678", "channel": "wmbus", "initial_litres": 0
    });
    let api: Vec<(reqwest::Method, String, Option<Value>, bool, u16)> = vec![
        (
            reqwest::Method::POST,
            "/api/v1/staff/customers".into(),
            Some(
                json!({"kind": "person", "first_name": "Ewa", "last_name": "Lis", "building_no": "2",
                     "postal_code": "14-420", "city": "Młynary"}),
            ),
            true,
            201,
        ),
        (
            reqwest::Method::POST,
            "/api/v1/staff/supply-points".into(),
            Some(json!({"building_no": "3", "postal_code": "14-420", "city": "Młynary"})),
            true,
            201,
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/staff/contracts/{contract}/end"),
            Some(json!({"last_day": "2030-01-01"})),
            true,
            404,
        ),
        (
            reqwest::Method::POST,
            "/api/v1/staff/meters".into(),
            Some(
                json!({"supply_point": point_code, "serial": "X-2", "channel": "manual",
                     "purpose": "garden", "register_max_litres": 99_999_999,
                     "at": chrono::Utc::now(), "initial_litres": 0}),
            ),
            false,
            422,
        ),
        (
            reqwest::Method::GET,
            "/api/v1/staff/customers?q=Nowak".into(),
            None,
            true,
            200,
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/staff/customers/{}", home.customer_id),
            None,
            true,
            404,
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/staff/meters/{}", home.meter_id),
            None,
            true,
            404,
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/staff/meters/{}/replacement", home.meter_id),
            Some(replacement),
            false,
            404,
        ),
        (
            reqwest::Method::GET,
            "/api/v1/staff/alarms".into(),
            None,
            false,
            200,
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/staff/alarms/{leak}/acknowledge"),
            Some(json!({})),
            false,
            404,
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/staff/alarms/{leak}/clear"),
            Some(json!({"note": "x"})),
            false,
            404,
        ),
        (
            reqwest::Method::GET,
            "/api/v1/staff/quarantine".into(),
            None,
            false,
            200,
        ),
        (
            reqwest::Method::POST,
            "/api/v1/staff/quarantine/assignments".into(),
            Some(json!({"kind": "radio_id", "meter_ref": "0badf00d", "serial": "SN-1"})),
            false,
            422,
        ),
    ];
    for (method, path, body, billing_may, stranger_gets) in api {
        let response = app
            .send(method.clone(), Some(&resident), &path, body.clone())
            .await;
        assert_eq!(response.status(), 403, "resident: {method} {path}");
        let response = app.send(method.clone(), None, &path, body.clone()).await;
        assert_eq!(response.status(), 401, "nobody: {method} {path}");
        if !billing_may {
            let response = app
                .send(method.clone(), Some(&billing_token), &path, body.clone())
                .await;
            assert_eq!(response.status(), 403, "billing: {method} {path}");
        }
        let response = app
            .send(method.clone(), Some(&stranger_token), &path, body.clone())
            .await;
        assert_eq!(
            response.status(),
            stranger_gets,
            "another utility: {method} {path}"
        );
        if stranger_gets == 200 {
            let body: Value = response.json().await.unwrap();
            let list = body
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()
                .as_array()
                .unwrap()
                .clone();
            assert!(
                list.is_empty(),
                "another utility sees: {method} {path}: {body}"
            );
        }
    }
    // Nothing changed by any of them.
    let (state, removed): (String, Option<chrono::DateTime<chrono::Utc>>) = sqlx::query_as(
        "SELECT a.state::text, m.removed_at FROM meter_alarms a JOIN meters m ON m.id = a.meter_id
         WHERE a.id = $1",
    )
    .bind(leak)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!((state.as_str(), removed), ("raised", None));

    // Pages: a resident's cookie is no staff session; billing may not open these.
    for path in [
        "/panel/mlynary/".to_string(),
        "/panel/mlynary/klienci?q=Nowak".into(),
        format!("/panel/mlynary/klienci/{}", home.customer_id),
        format!("/panel/mlynary/liczniki/{}", home.meter_id),
        "/panel/mlynary/alarmy".into(),
        "/panel/mlynary/kwarantanna".into(),
        "/panel/mlynary/dziennik".into(),
        "/panel/mlynary/dziennik.csv".into(),
        "/panel/mlynary/liczniki/legalizacja".into(),
        "/panel/mlynary/liczniki/nowy".into(),
        "/panel/mlynary/klienci/nowy".into(),
        format!("/panel/mlynary/klienci/{}/edycja", home.customer_id),
        "/panel/mlynary/sprawy".into(),
        format!("/panel/mlynary/sprawy/{case}"),
        "/panel/mlynary/sprawy/szablony".into(),
        "/panel/mlynary/sprawy/szablony/approval".into(),
        "/panel/mlynary/sprawy/opinie".into(),
        "/panel/mlynary/wizyty".into(),
        "/panel/mlynary/wizyty/nowy".into(),
        "/panel/mlynary/komunikaty".into(),
        "/panel/mlynary/komunikaty/nowy".into(),
        "/panel/mlynary/strefy".into(),
        "/panel/mlynary/awarie".into(),
        "/panel/mlynary/bilans".into(),
        "/panel/mlynary/bilans.csv".into(),
    ] {
        let response = get(&app, &resident_cookie, &path).await;
        assert_eq!(response.status(), 303, "resident: {path}");
        let billing_may = ![
            "alarmy",
            "kwarantanna",
            "dziennik",
            "liczniki/legalizacja",
            "liczniki/nowy",
            "sprawy",
            "wizyty",
            "komunikaty",
            "strefy",
            "awarie",
            "bilans",
        ]
        .iter()
        .any(|p| path.contains(p));
        let response = get(&app, &billing_cookie, &path).await;
        assert_eq!(
            response.status(),
            if billing_may { 200 } else { 403 },
            "billing: {path}"
        );
    }
    let csrf = app
        .web_csrf(&billing_cookie, "/panel/mlynary/klienci")
        .await;
    for path in [
        format!("/panel/mlynary/liczniki/{}/zdjecie", home.meter_id),
        format!("/panel/mlynary/liczniki/{}/odczyt", home.meter_id),
        format!("/panel/mlynary/liczniki/{}/wymiana", home.meter_id),
        "/panel/mlynary/liczniki/nowy".to_string(),
        format!("/panel/mlynary/alarmy/{leak}/przyjmij"),
        format!("/panel/mlynary/alarmy/{leak}/zamknij"),
        "/panel/mlynary/kwarantanna/przypisz".to_string(),
        format!("/panel/mlynary/sprawy/{case}"),
        format!("/panel/mlynary/sprawy/{case}/umowa"),
        format!("/panel/mlynary/sprawy/{case}/notatki"),
        "/panel/mlynary/sprawy/szablony/approval".to_string(),
    ] {
        let response = app
            .web_post(&billing_cookie, &path, &[("csrf", &csrf), ("note", "x")])
            .await;
        assert_eq!(response.status(), 403, "billing: {path}");
    }
    // Another utility's admin does not find the case's page, letters or files.
    let stranger_cookie = app.staff_web_login(&stranger, 1).await;
    let acknowledgement: i64 = sqlx::query_scalar(
        "SELECT document_id FROM case_events WHERE case_id = $1 AND document_id IS NOT NULL",
    )
    .bind(case)
    .fetch_one(app.pool())
    .await
    .unwrap();
    for path in [
        format!("/panel/kurowo/sprawy/{case}"),
        format!("/panel/kurowo/sprawy/{case}/dokumenty/{acknowledgement}"),
    ] {
        let response = get(&app, &stranger_cookie, &path).await;
        assert_eq!(response.status(), 404, "another utility: {path}");
    }
    let notes: i64 = sqlx::query_scalar("SELECT count(*) FROM case_notes WHERE case_id = $1")
        .bind(case)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(notes, 0);
}

/// A general letter the resident submitted: its case id.
async fn submitted_letter(app: &App, utility_id: i64, account_id: i64) -> i64 {
    use ebok_cases::store::{self, Acting};
    let acting = Acting::Resident { account_id };
    let mut tx = app.pool().begin().await.unwrap();
    let id = store::start_draft(
        &mut tx,
        utility_id,
        "general_letter",
        account_id,
        None,
        None,
    )
    .await
    .unwrap();
    let answers: ebok_cases::form::Answers = [("subject", "Pytanie"), ("content", "Treść.")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    store::save_answers(&mut tx, utility_id, id, acting, &answers)
        .await
        .unwrap();
    store::attach(
        &mut tx,
        utility_id,
        id,
        acting,
        "files",
        "pismo.pdf",
        b"%PDF-1.7\n%%EOF\n",
    )
    .await
    .unwrap();
    store::submit(
        &mut tx,
        utility_id,
        id,
        acting,
        chrono::Utc::now().date_naive(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

#[tokio::test]
async fn admins_read_the_audit_log_by_staff_member_customer_action_and_period_and_as_csv() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let other = support::utility(app.pool(), "kurowo").await;
    let home = support::resident(app.pool(), utility, "mlynary", "anna@example.pl", 1).await;
    let neighbour = support::resident(app.pool(), utility, "mlynary", "jan@example.pl", 1).await;
    let clerk = support::staff(app.pool(), utility, "mlynary", "clerk").await;
    let admin = support::staff(app.pool(), utility, "mlynary", "admin").await;
    let stranger = support::staff(app.pool(), other, "kurowo", "admin").await;
    let clerk_token = app.staff_token(&clerk, 0).await;
    // The clerk handles an alarm on Anna's meter and one on Jan's.
    for meter in [home.meter_id, neighbour.meter_id] {
        let id = alarm(&app, utility, meter, "leak").await;
        let response = app
            .post(
                Some(&clerk_token),
                &format!("/api/v1/staff/alarms/{id}/acknowledge"),
                json!({ "note": format!("licznik {meter}") }),
            )
            .await;
        assert_eq!(response.status(), 204);
    }
    let number: String = sqlx::query_scalar("SELECT customer_number FROM customers WHERE id = $1")
        .bind(home.customer_id)
        .fetch_one(app.pool())
        .await
        .unwrap();

    let cookie = app.staff_web_login(&admin, 0).await;
    let html = html_page(get(&app, &cookie, "/panel/mlynary/dziennik").await).await;
    assert!(html.contains("meter_alarm.acknowledged"), "{html}");
    assert!(html.contains("staff.signed_in"), "{html}");
    let html = html_page(
        get(
            &app,
            &cookie,
            &format!(
                "/panel/mlynary/dziennik?pracownik={}&akcja=meter_alarm",
                clerk.account_id
            ),
        )
        .await,
    )
    .await;
    assert_eq!(
        html.matches("<code>meter_alarm.acknowledged</code>")
            .count(),
        2,
        "{html}"
    );
    assert!(!html.contains("<code>staff.signed_in</code>"), "{html}");

    let response = get(&app, &cookie, "/panel/mlynary/dziennik.csv?klient=NIE-MA").await;
    assert_eq!(response.status(), 422);
    let html = html_page(get(&app, &cookie, "/panel/mlynary/dziennik?klient=NIE-MA").await).await;
    assert!(html.contains("Nie ma klienta o tym numerze"), "{html}");

    let response = get(
        &app,
        &cookie,
        &format!(
            "/panel/mlynary/dziennik.csv?klient={}&akcja=meter_alarm",
            urlencode(&number)
        ),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"dziennik-mlynary-"),
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert!(lines[0].starts_with("\u{feff}Czas;Kto;Rola"), "{csv}");
    // About Anna: her meter's alarm, not Jan's.
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].contains(&format!("licznik {}", home.meter_id)) && lines[1].contains(";clerk;"),
        "{csv}"
    );

    // A period with nothing in it, and a clerk, and another utility's admin.
    let html = html_page(
        get(
            &app,
            &cookie,
            "/panel/mlynary/dziennik?od=2020-01-01&do=2020-01-31",
        )
        .await,
    )
    .await;
    assert!(html.contains("Brak zdarzeń"), "{html}");
    let clerk_cookie = app.staff_web_login(&clerk, 1).await;
    for path in ["/panel/mlynary/dziennik", "/panel/mlynary/dziennik.csv"] {
        assert_eq!(get(&app, &clerk_cookie, path).await.status(), 403, "{path}");
    }
    let stranger_cookie = app.staff_web_login(&stranger, 1).await;
    let html = html_page(get(&app, &stranger_cookie, "/panel/kurowo/dziennik").await).await;
    assert!(!html.contains("meter_alarm.acknowledged"), "{html}");
}

/// A staff form sent with the session's CSRF token (taken from `page`).
async fn send_form(
    app: &App,
    cookie: &str,
    page: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = app.web_csrf(cookie, page).await;
    let mut all = fields.to_vec();
    all.push(("csrf", &csrf));
    app.web_post(cookie, path, &all).await
}

#[tokio::test]
async fn a_clerk_registers_a_customer_a_supply_point_and_a_contract_and_ends_it() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let existing = support::resident(app.pool(), utility, "mlynary", "anna@example.pl", 1).await;
    sqlx::query("UPDATE customers SET pesel = '44051401359' WHERE id = $1")
        .bind(existing.customer_id)
        .execute(app.pool())
        .await
        .unwrap();
    let clerk = support::staff(app.pool(), utility, "mlynary", "clerk").await;
    let cookie = app.staff_web_login(&clerk, 0).await;
    let new = "/panel/mlynary/klienci/nowy";

    // Every wrong field at its place, in Polish; then a PESEL another customer has.
    let mut person = vec![
        ("kind", "person"),
        ("first_name", "Jan"),
        ("last_name", ""),
        ("pesel", "44051401358"),
        ("street", "Dworcowa"),
        ("building_no", "5"),
        ("apartment_no", "2"),
        ("postal_code", "14-42"),
        ("city", "Młynary"),
        ("email", ""),
        ("phone", "55 123 45 67"),
    ];
    let response = send_form(&app, &cookie, new, new, &person).await;
    assert_eq!(response.status(), 422);
    let html = html_page(response).await;
    for message in [
        "Podaj nazwisko.",
        "cyfrę kontrolną",
        "Kod pocztowy musi mieć 5 cyfr",
    ] {
        assert!(html.contains(message), "{message}: {html}");
    }
    assert!(
        html.contains("value=\"Dworcowa\""),
        "what was typed stays: {html}"
    );
    person[2] = ("last_name", "Kowalski");
    person[3] = ("pesel", "44051401359");
    person[7] = ("postal_code", "14-420");
    let response = send_form(&app, &cookie, new, new, &person).await;
    assert_eq!(response.status(), 422);
    assert!(
        html_page(response)
            .await
            .contains("Ten numer ma już klient Anna Nowak")
    );
    person[3] = ("pesel", "");
    let response = send_form(&app, &cookie, new, new, &person).await;
    assert_eq!(response.status(), 303);
    let card = response.headers()[LOCATION].to_str().unwrap().to_string();
    let id: i64 = card
        .trim_start_matches("/panel/mlynary/klienci/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let number: String = sqlx::query_scalar("SELECT customer_number FROM customers WHERE id = $1")
        .bind(id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(number, format!("K{id:07}"));

    // A change of one field is audited as that field.
    let edit = format!("/panel/mlynary/klienci/{id}/edycja");
    let mut changed = person.clone();
    changed[10] = ("phone", "600 100 200");
    let response = send_form(&app, &cookie, &edit, &edit, &changed).await;
    assert_eq!(response.status(), 303);
    let fields: Value = sqlx::query_scalar(
        "SELECT details->'changed' FROM audit_log WHERE action = 'customer.updated'",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(fields, json!(["phone"]));

    // A supply point, then a contract on it from today.
    let card_path = format!("/panel/mlynary/klienci/{id}");
    let response = send_form(
        &app,
        &cookie,
        &card_path,
        &format!("{card_path}/punkty"),
        &[
            ("street", "Dworcowa"),
            ("building_no", "5"),
            ("apartment_no", "2"),
            ("postal_code", "14-420"),
            ("city", "Młynary"),
            ("sewage", "on"),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let location = response.headers()[LOCATION].to_str().unwrap().to_string();
    let code = location.split("punkt=").nth(1).unwrap().to_string();
    assert!(code.starts_with("PP"), "{location}");
    let html = html_page(get(&app, &cookie, &location).await).await;
    assert!(
        html.contains(&format!("value=\"{code}\"")),
        "the new point in the form: {html}"
    );
    sqlx::query(
        "INSERT INTO tariff_groups (utility_id, code, name) VALUES ($1, 'G1', 'Gospodarstwa domowe')
         ON CONFLICT DO NOTHING",
    )
    .bind(utility)
    .execute(app.pool())
    .await
    .unwrap();
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Warsaw)
        .date_naive();
    let contract = |from: String| {
        let code = code.clone();
        vec![
            ("supply_point", code),
            ("tariff_group", "G1".to_string()),
            ("valid_from", from),
        ]
    };
    let send_contract = |customer: i64, from: String| {
        let fields = contract(from);
        let (app, cookie) = (&app, cookie.clone());
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let page = format!("/panel/mlynary/klienci/{customer}");
            send_form(app, &cookie, &page, &format!("{page}/umowy"), &fields).await
        }
    };
    let response = send_contract(id, today.to_string()).await;
    assert_eq!(response.status(), 303);
    let (contract_id, contract_number): (i64, String) =
        sqlx::query_as("SELECT id, number FROM contracts WHERE customer_id = $1")
            .bind(id)
            .fetch_one(app.pool())
            .await
            .unwrap();

    // Another customer cannot take the point while the contract is in force: the message
    // names the contract in the way.
    let response = send_contract(
        existing.customer_id,
        (today + chrono::Days::new(10)).to_string(),
    )
    .await;
    assert_eq!(response.status(), 422);
    let html = html_page(response).await;
    assert!(
        html.contains(&format!("umowę nr {contract_number}")),
        "{html}"
    );
    assert!(html.contains("Jan Kowalski"), "{html}");

    // Ended on its ninth day, the point is free from the tenth.
    let last_day = (today + chrono::Days::new(9)).to_string();
    let response = send_form(
        &app,
        &cookie,
        &card_path,
        &format!("/panel/mlynary/umowy/{contract_id}/zakoncz"),
        &[("last_day", &last_day)],
    )
    .await;
    assert_eq!(response.status(), 303);
    let response = send_contract(
        existing.customer_id,
        (today + chrono::Days::new(10)).to_string(),
    )
    .await;
    assert_eq!(response.status(), 303);
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE actor_account_id = $1 AND action NOT LIKE 'staff.%'
         ORDER BY id",
    )
    .bind(clerk.account_id)
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(
        actions,
        [
            "customer.created",
            "customer.updated",
            "supply_point.created",
            "contract.started",
            "contract.ended",
            "contract.started"
        ]
    );
}

#[tokio::test]
async fn only_roles_that_edit_customers_change_them_and_only_their_utilitys() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let other = support::utility(app.pool(), "kurowo").await;
    let theirs = support::resident(app.pool(), other, "kurowo", "ola@example.pl", 1).await;
    let ours = support::resident(app.pool(), utility, "mlynary", "anna@example.pl", 1).await;
    let technician = support::staff(app.pool(), utility, "mlynary", "technician").await;
    let cookie = app.staff_web_login(&technician, 0).await;
    assert_eq!(
        get(&app, &cookie, "/panel/mlynary/klienci/nowy")
            .await
            .status(),
        403
    );
    let html = html_page(
        get(
            &app,
            &cookie,
            &format!("/panel/mlynary/klienci/{}", ours.customer_id),
        )
        .await,
    )
    .await;
    assert!(
        !html.contains("Nowa umowa") && !html.contains("Zmień dane klienta"),
        "{html}"
    );
    let response = send_form(
        &app,
        &cookie,
        "/panel/mlynary/klienci",
        &format!(
            "/panel/mlynary/umowy/{}/zakoncz",
            support_contract(&app, ours.customer_id).await
        ),
        &[("last_day", "2030-01-01")],
    )
    .await;
    assert_eq!(response.status(), 403);

    let billing = support::staff(app.pool(), utility, "mlynary", "billing").await;
    let cookie = app.staff_web_login(&billing, 1).await;
    assert_eq!(
        get(&app, &cookie, "/panel/mlynary/klienci/nowy")
            .await
            .status(),
        200
    );
    for path in [format!(
        "/panel/mlynary/klienci/{}/edycja",
        theirs.customer_id
    )] {
        assert_eq!(get(&app, &cookie, &path).await.status(), 404, "{path}");
    }
    let their_contract = support_contract(&app, theirs.customer_id).await;
    let response = send_form(
        &app,
        &cookie,
        "/panel/mlynary/klienci",
        &format!("/panel/mlynary/umowy/{their_contract}/zakoncz"),
        &[("last_day", "2030-01-01")],
    )
    .await;
    assert_eq!(response.status(), 404);
    let response = send_form(
        &app,
        &cookie,
        "/panel/mlynary/klienci",
        &format!("/panel/mlynary/klienci/{}/umowy", theirs.customer_id),
        &[
            ("supply_point", "PP-1"),
            ("tariff_group", "G1"),
            ("valid_from", "2030-01-01"),
        ],
    )
    .await;
    assert_eq!(response.status(), 404);
    let until: Option<chrono::NaiveDate> =
        sqlx::query_scalar("SELECT valid_until FROM contracts WHERE id = $1")
            .bind(their_contract)
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(until, None);
}

async fn support_contract(app: &App, customer_id: i64) -> i64 {
    sqlx::query_scalar("SELECT id FROM contracts WHERE customer_id = $1")
        .bind(customer_id)
        .fetch_one(app.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_technician_takes_a_meter_off_installs_another_and_enters_a_reading() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let home = support::resident(app.pool(), utility, "mlynary", "anna@example.pl", 3).await;
    let code: String = sqlx::query_scalar("SELECT code FROM supply_points WHERE id = $1")
        .bind(home.supply_point_id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    let technician = support::staff(app.pool(), utility, "mlynary", "technician").await;
    let cookie = app.staff_web_login(&technician, 0).await;
    let local = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Warsaw);
    let (day, time) = (
        local.format("%Y-%m-%d").to_string(),
        local.format("%H:%M").to_string(),
    );
    let install = |serial: &'static str| {
        vec![
            ("supply_point", code.clone()),
            ("purpose", "main".to_string()),
            ("serial", serial.to_string()),
            ("channel", "manual".to_string()),
            ("radio_id", String::new()),
            ("register_max", "99 999,999".to_string()),
            ("legalised_until", "2031-12-31".to_string()),
            ("day", day.clone()),
            ("time", time.clone()),
            ("initial", "0,005".to_string()),
        ]
    };
    let post_install = |serial: &'static str| {
        let fields = install(serial);
        let (app, cookie) = (&app, cookie.clone());
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            send_form(
                app,
                &cookie,
                "/panel/mlynary/liczniki/nowy",
                "/panel/mlynary/liczniki/nowy",
                &fields,
            )
            .await
        }
    };
    // The point has its main meter: a second is refused naming it.
    let response = post_install("NOWY-1").await;
    assert_eq!(response.status(), 422);
    let html = html_page(response).await;
    assert!(
        html.contains("W tym punkcie stoi już wodomierz tego rodzaju"),
        "{html}"
    );

    // Off with it: a final register below its last reading is refused at its field.
    let meter_page = format!("/panel/mlynary/liczniki/{}", home.meter_id);
    let remove = format!("{meter_page}/zdjecie");
    let response = send_form(
        &app,
        &cookie,
        &meter_page,
        &remove,
        &[
            ("remove_day", &day),
            ("remove_time", &time),
            ("remove_final", "100"),
        ],
    )
    .await;
    assert_eq!(response.status(), 422);
    assert!(
        html_page(response)
            .await
            .contains("id=\"remove_final-error\"")
    );
    let response = send_form(
        &app,
        &cookie,
        &meter_page,
        &remove,
        &[
            ("remove_day", &day),
            ("remove_time", &time),
            ("remove_final", "100,600"),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);

    // Now the new one goes on, and the technician enters a reading of it an hour on.
    let response = post_install("NOWY-1").await;
    assert_eq!(
        response.status(),
        303,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let new_id: i64 = sqlx::query_scalar("SELECT id FROM meters WHERE serial = 'NOWY-1'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    let new_page = format!("/panel/mlynary/liczniki/{new_id}");
    let reading = format!("{new_page}/odczyt");
    // A few minutes on (a clock a little ahead is allowed): never below the initial register.
    let later = local + chrono::Duration::minutes(5);
    let (later_day, later_time) = (
        later.format("%Y-%m-%d").to_string(),
        later.format("%H:%M").to_string(),
    );
    let response = send_form(
        &app,
        &cookie,
        &new_page,
        &reading,
        &[
            ("reading_day", &later_day),
            ("reading_time", &later_time),
            ("reading_m3", "0,001"),
        ],
    )
    .await;
    assert_eq!(response.status(), 422, "below the initial register");
    assert!(
        html_page(response)
            .await
            .contains("mniejszy niż poprzedni odczyt")
    );
    let response = send_form(
        &app,
        &cookie,
        &new_page,
        &reading,
        &[
            ("reading_day", &later_day),
            ("reading_time", &later_time),
            ("reading_m3", "0,008"),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let (source, litres): (String, i64) = sqlx::query_as(
        "SELECT source::text, volume_litres FROM meter_readings WHERE meter_id = $1
         ORDER BY measured_at DESC LIMIT 1",
    )
    .bind(new_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!((source.as_str(), litres), ("manual", 8));
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE actor_account_id = $1 AND action LIKE 'meter%'
         ORDER BY id",
    )
    .bind(technician.account_id)
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(
        actions,
        ["meter.removed", "meter.installed", "meter_reading.entered"]
    );
}

#[tokio::test]
async fn the_legalisation_list_shows_what_ends_within_the_months_asked_ended_first() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let mut meters = Vec::new();
    for (email, until) in [
        ("a@example.pl", Some("current_date - 10")),
        ("b@example.pl", Some("current_date + 60")),
        ("c@example.pl", Some("current_date + 300")),
        ("d@example.pl", None),
    ] {
        let home = support::resident(app.pool(), utility, "mlynary", email, 1).await;
        if let Some(until) = until {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE meters SET legalised_until = {until} WHERE id = $1"
            )))
            .bind(home.meter_id)
            .execute(app.pool())
            .await
            .unwrap();
        }
        let serial: String = sqlx::query_scalar("SELECT serial FROM meters WHERE id = $1")
            .bind(home.meter_id)
            .fetch_one(app.pool())
            .await
            .unwrap();
        meters.push(serial);
    }
    let clerk = support::staff(app.pool(), utility, "mlynary", "clerk").await;
    let cookie = app.staff_web_login(&clerk, 0).await;
    let html = html_page(
        get(
            &app,
            &cookie,
            "/panel/mlynary/liczniki/legalizacja?miesiace=3",
        )
        .await,
    )
    .await;
    let at = |serial: &str| html.find(serial);
    assert!(
        at(&meters[0]).unwrap() < at(&meters[1]).unwrap(),
        "ended first"
    );
    assert!(
        at(&meters[1]).unwrap() < at(&meters[3]).unwrap(),
        "without a date last"
    );
    assert!(
        at(&meters[2]).is_none(),
        "ten months away is not due: {html}"
    );
    assert!(html.contains("po terminie"), "{html}");
    let html = html_page(
        get(
            &app,
            &cookie,
            "/panel/mlynary/liczniki/legalizacja?miesiace=12",
        )
        .await,
    )
    .await;
    assert!(html.contains(&meters[2]), "{html}");
    let billing = support::staff(app.pool(), utility, "mlynary", "billing").await;
    let cookie = app.staff_web_login(&billing, 1).await;
    for path in [
        "/panel/mlynary/liczniki/legalizacja",
        "/panel/mlynary/liczniki/nowy",
    ] {
        assert_eq!(get(&app, &cookie, path).await.status(), 403, "{path}");
    }
}

#[tokio::test]
async fn staff_see_rejections_by_reason_and_requeue_dead_letters_of_their_utility_only() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let other = support::utility(app.pool(), "kurowo").await;
    let home = support::resident(app.pool(), utility, "mlynary", "anna@example.pl", 1).await;
    let theirs = support::resident(app.pool(), other, "kurowo", "ola@example.pl", 1).await;
    for (u, reason, n) in [
        (utility, "negative_value", 3),
        (utility, "future_timestamp", 1),
        (other, "malformed_payload", 5),
    ] {
        for _ in 0..n {
            sqlx::query(
                "INSERT INTO ingest_rejections (utility_id, source, origin, reason, detail,
                                                meter_ref, sample)
                 VALUES ($1, 'mqtt', 'ebok/x/readings', $2::text::ingest_reject_reason,
                         'litres must not be negative', 'SN-1', '{\"litres\":-5}')",
            )
            .bind(u)
            .bind(reason)
            .execute(app.pool())
            .await
            .unwrap();
        }
    }
    let dead = |utility_id: i64, account_id: i64, key: &'static str| {
        let app = &app;
        async move {
            let notification = support::notification(app.pool(), utility_id, account_id).await;
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO notification_deliveries (utility_id, notification_id, channel, email,
                     idempotency_key, status, attempts, settled_at, last_error)
                 VALUES ($1, $2, 'email', 'x@example.pl', $3, 'dead', 8, now(), '550 mailbox full')
                 RETURNING id",
            )
            .bind(utility_id)
            .bind(notification)
            .bind(key)
            .fetch_one(app.pool())
            .await
            .unwrap()
        }
    };
    let ours = dead(utility, home.account_id, "k1").await;
    let foreign = dead(other, theirs.account_id, "k2").await;

    let clerk = support::staff(app.pool(), utility, "mlynary", "clerk").await;
    let cookie = app.staff_web_login(&clerk, 0).await;
    let html = html_page(get(&app, &cookie, "/panel/mlynary/odrzucone").await).await;
    assert!(html.contains("<code>negative_value</code>: 3"), "{html}");
    assert!(html.contains("<code>future_timestamp</code>: 1"), "{html}");
    assert!(
        !html.contains("malformed_payload</code>:"),
        "another utility's: {html}"
    );
    assert!(html.contains("litres must not be negative"), "{html}");
    let response = get(&app, &cookie, "/panel/mlynary/odrzucone?powod=flood").await;
    assert_eq!(response.status(), 422);

    let html = html_page(get(&app, &cookie, "/panel/mlynary/niedostarczone").await).await;
    assert!(html.contains("550 mailbox full"), "{html}");
    assert!(
        html.contains(&format!("name=\"id\" value=\"{ours}\"")),
        "{html}"
    );
    assert!(
        !html.contains(&format!("name=\"id\" value=\"{foreign}\"")),
        "{html}"
    );
    let page = "/panel/mlynary/niedostarczone";
    let requeue = "/panel/mlynary/niedostarczone/ponow";
    let foreign_id = foreign.to_string();
    let response = send_form(
        &app,
        &cookie,
        page,
        requeue,
        &[("what", "delivery"), ("id", &foreign_id)],
    )
    .await;
    assert_eq!(response.status(), 404);
    let ours_id = ours.to_string();
    let response = send_form(
        &app,
        &cookie,
        page,
        requeue,
        &[("what", "delivery"), ("id", &ours_id)],
    )
    .await;
    assert_eq!(response.status(), 303);
    let statuses: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, status::text FROM notification_deliveries ORDER BY id")
            .fetch_all(app.pool())
            .await
            .unwrap();
    assert_eq!(
        statuses,
        [(ours, "pending".to_string()), (foreign, "dead".to_string())]
    );

    let billing = support::staff(app.pool(), utility, "mlynary", "billing").await;
    let cookie = app.staff_web_login(&billing, 1).await;
    for path in ["/panel/mlynary/odrzucone", "/panel/mlynary/niedostarczone"] {
        assert_eq!(get(&app, &cookie, path).await.status(), 403, "{path}");
    }
}

#[tokio::test]
async fn an_admin_invites_a_staff_member_changes_their_role_switches_them_off_and_forgets_their_phone()
 {
    let (app, smtp) = App::with_smtp().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let other = support::utility(app.pool(), "kurowo").await;
    let admin = support::staff(app.pool(), utility, "mlynary", "admin").await;
    let stranger = support::staff(app.pool(), other, "kurowo", "clerk").await;
    let cookie = app.staff_web_login(&admin, 0).await;
    let page = "/panel/mlynary/zespol";

    // The admin cannot change their own role or switch themselves off.
    let own = admin.account_id.to_string();
    for action in ["rola", "wylacz"] {
        let response = send_form(
            &app,
            &cookie,
            page,
            &format!("/panel/mlynary/zespol/{own}/{action}"),
            &[("role", "clerk")],
        )
        .await;
        assert_eq!(response.status(), 422, "{action}");
    }
    // Another utility's staff member is not found.
    let response = send_form(
        &app,
        &cookie,
        page,
        &format!("/panel/mlynary/zespol/{}/wylacz", stranger.account_id),
        &[],
    )
    .await;
    assert_eq!(response.status(), 404);

    // A new clerk, invited by e-mail.
    let response = send_form(
        &app,
        &cookie,
        page,
        "/panel/mlynary/zespol/nowy",
        &[
            ("email", "nowa@mlynary.example"),
            ("display_name", "Nowa Pracownica"),
            ("role", "clerk"),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let mails = smtp.wait_for(1, std::time::Duration::from_secs(10)).await;
    assert!(
        mails[0].subject().contains("Konto pracownika"),
        "{}",
        mails[0].subject()
    );
    let text = mails[0].text().unwrap();
    let start = text.find("/haslo/nowe?token=").expect("the link");
    let token: String = text[start + 18..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let response = app
        .server
        .client
        .post(app.url("/u/mlynary/haslo/nowe"))
        .header(ORIGIN, PORTAL_ORIGIN)
        .form(&[
            ("token", token.as_str()),
            ("password", PASSWORD),
            ("password_repeat", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()[LOCATION],
        "/panel/mlynary/logowanie?powod=haslo"
    );
    let new_id: i64 =
        sqlx::query_scalar("SELECT id FROM user_accounts WHERE email = 'nowa@mlynary.example'")
            .fetch_one(app.pool())
            .await
            .unwrap();
    // Her first sign-in sets up the app.
    let pending = password_step(&app, "mlynary", "nowa@mlynary.example").await;
    let response = get(&app, &pending, "/panel/mlynary/logowanie/kod").await;
    assert_eq!(
        response.headers()[LOCATION],
        "/panel/mlynary/logowanie/aplikacja?next="
    );

    // A technician now: the role changes and her sessions end.
    let member = StaffMember {
        account_id: new_id,
        utility_id: utility,
        slug: "mlynary".into(),
        email: "nowa@mlynary.example".into(),
        secret: totp::new_secret(),
    };
    sqlx::query(
        "INSERT INTO staff_authenticators (account_id, utility_id, secret, confirmed_at)
         VALUES ($1, $2, $3, now())",
    )
    .bind(new_id)
    .bind(utility)
    .bind(&member.secret)
    .execute(app.pool())
    .await
    .unwrap();
    let her = app.staff_web_login(&member, 0).await;
    let response = send_form(
        &app,
        &cookie,
        page,
        &format!("/panel/mlynary/zespol/{new_id}/rola"),
        &[("role", "technician")],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        get(&app, &her, "/panel/mlynary/").await.status(),
        303,
        "signed out"
    );
    let role: String = sqlx::query_scalar("SELECT role::text FROM user_accounts WHERE id = $1")
        .bind(new_id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(role, "technician");

    // Her phone is lost: the authenticator is forgotten and the next sign-in sets it up again.
    let response = send_form(
        &app,
        &cookie,
        page,
        &format!("/panel/mlynary/zespol/{new_id}/aplikacja"),
        &[],
    )
    .await;
    assert_eq!(response.status(), 303);
    let pending = password_step(&app, "mlynary", "nowa@mlynary.example").await;
    let response = get(&app, &pending, "/panel/mlynary/logowanie/kod").await;
    assert_eq!(
        response.headers()[LOCATION],
        "/panel/mlynary/logowanie/aplikacja?next="
    );

    // Switched off, she cannot sign in; switched on again, she can.
    let response = send_form(
        &app,
        &cookie,
        page,
        &format!("/panel/mlynary/zespol/{new_id}/wylacz"),
        &[],
    )
    .await;
    assert_eq!(response.status(), 303);
    let response = form(
        &app,
        None,
        "/panel/mlynary/logowanie",
        &[
            ("email", "nowa@mlynary.example"),
            ("password", PASSWORD),
            ("next", ""),
        ],
    )
    .await;
    assert_eq!(response.status(), 422);
    let response = send_form(
        &app,
        &cookie,
        page,
        &format!("/panel/mlynary/zespol/{new_id}/wlacz"),
        &[],
    )
    .await;
    assert_eq!(response.status(), 303);
    password_step(&app, "mlynary", "nowa@mlynary.example").await;

    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE actor_account_id = $1 AND action LIKE 'staff.%'
           AND action NOT LIKE 'staff.sign%' ORDER BY id",
    )
    .bind(admin.account_id)
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(
        actions,
        [
            "staff.account_created",
            "staff.role_changed",
            "staff.authenticator_reset",
            "staff.account_disabled",
            "staff.account_enabled"
        ]
    );

    // Nobody but an admin manages staff.
    let clerk = support::staff(app.pool(), utility, "mlynary", "clerk").await;
    let clerk_cookie = app.staff_web_login(&clerk, 1).await;
    assert_eq!(get(&app, &clerk_cookie, page).await.status(), 403);
    let response = send_form(
        &app,
        &clerk_cookie,
        "/panel/mlynary/klienci",
        &format!("/panel/mlynary/zespol/{new_id}/wylacz"),
        &[],
    )
    .await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_consent_given_in_a_residents_name_takes_effect_only_when_the_resident_accepts_it() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let other = support::utility(app.pool(), "kurowo").await;
    let anna = support::resident(app.pool(), utility, "mlynary", "anna@example.pl", 1).await;
    let jan = support::resident(app.pool(), utility, "mlynary", "jan@example.pl", 1).await;
    let theirs = support::resident(app.pool(), other, "kurowo", "ola@example.pl", 1).await;
    let clerk = support::staff(app.pool(), utility, "mlynary", "clerk").await;
    let cookie = app.staff_web_login(&clerk, 0).await;
    let card = format!("/panel/mlynary/klienci/{}", anna.customer_id);
    let propose = |customer: i64, account: i64, act: &'static str| {
        let (app, cookie, card) = (&app, cookie.clone(), card.clone());
        async move {
            let account = account.to_string();
            send_form(
                app,
                &cookie,
                &card,
                &format!("/panel/mlynary/klienci/{customer}/w-imieniu"),
                &[
                    ("account", &account),
                    ("act", act),
                    ("note", "przy okienku"),
                ],
            )
            .await
        }
    };
    // Jan's account is not Anna's customer's; the other utility's customer is not found.
    assert_eq!(
        propose(anna.customer_id, jan.account_id, "grant:e_invoice")
            .await
            .status(),
        422
    );
    assert_eq!(
        propose(theirs.customer_id, theirs.account_id, "grant:e_invoice")
            .await
            .status(),
        404
    );
    // Withdrawing what is not in force is refused at the consent.
    assert_eq!(
        propose(anna.customer_id, anna.account_id, "withdraw:e_invoice")
            .await
            .status(),
        422
    );
    let response = propose(anna.customer_id, anna.account_id, "grant:e_invoice").await;
    assert_eq!(response.status(), 303);
    let html = html_page(get(&app, &cookie, &card).await).await;
    assert!(html.contains("czeka na akceptację klienta"), "{html}");

    // Not in force yet.
    let in_force: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM consents WHERE account_id = $1 AND withdrawn_at IS NULL",
    )
    .bind(anna.account_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(in_force, 0);
    let act: i64 = sqlx::query_scalar("SELECT id FROM proxy_acts")
        .fetch_one(app.pool())
        .await
        .unwrap();

    // Jan cannot decide it; Anna sees it on her consents page and accepts.
    let jan_token = app.login("mlynary", "jan@example.pl").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let response = app
        .post(
            Some(&jan_token),
            &format!("/api/v1/me/proxy-acts/{act}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(response.status(), 404);
    let resident = app.web_login("mlynary", "anna@example.pl").await;
    let html = html_page(app.web_get(&resident, "/u/mlynary/zgody").await).await;
    assert!(html.contains("Do Twojej akceptacji"), "{html}");
    assert!(
        html.contains("Udzielenie zgody: Zgoda na fakturę elektroniczną"),
        "{html}"
    );
    let csrf = app.web_csrf(&resident, "/u/mlynary/zgody").await;
    let response = app
        .web_post(
            &resident,
            &format!("/u/mlynary/zgody/wnioski/{act}/akceptuj"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(response.status(), 303);
    let version: String = sqlx::query_scalar(
        "SELECT form_version FROM consents WHERE account_id = $1 AND kind = 'e_invoice'
           AND withdrawn_at IS NULL",
    )
    .bind(anna.account_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(version, ebok_api::consent_forms::E_INVOICE.version);

    // A withdrawal proposed next, declined through the API: the consent stays.
    assert_eq!(
        propose(anna.customer_id, anna.account_id, "withdraw:e_invoice")
            .await
            .status(),
        303
    );
    let anna_token = app.login("mlynary", "anna@example.pl").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let acts: Value = app
        .get(&anna_token, "/api/v1/me/proxy-acts")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(acts["acts"][0]["state"], "awaiting");
    assert_eq!(acts["acts"][0]["kind"], "consent.withdraw");
    let withdrawal = acts["acts"][0]["id"].as_i64().unwrap();
    let response = app
        .post(
            Some(&anna_token),
            &format!("/api/v1/me/proxy-acts/{withdrawal}/decline"),
            json!({}),
        )
        .await;
    assert_eq!(response.status(), 204);
    let response = app
        .post(
            Some(&anna_token),
            &format!("/api/v1/me/proxy-acts/{withdrawal}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(response.status(), 404, "decided already");
    let still: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM consents WHERE account_id = $1 AND withdrawn_at IS NULL",
    )
    .bind(anna.account_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(still, 1);
    // Her data export lists both, with their outcome.
    let data: Value = app
        .get(&anna_token, "/api/v1/me/data")
        .await
        .json()
        .await
        .unwrap();
    let states: Vec<&str> = data["proxy_acts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["accepted", "declined"], "{data}");

    // Both steps are audited: who, when, for whom.
    let entries: Vec<(String, String, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT action, actor::text, actor_account_id, on_behalf_of_account_id FROM audit_log
         WHERE action LIKE 'proxy_act.%' OR action LIKE 'consent.%' ORDER BY id",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(
        entries,
        [
            (
                "proxy_act.proposed".into(),
                "staff".into(),
                Some(clerk.account_id),
                Some(anna.account_id)
            ),
            (
                "consent.granted".into(),
                "resident".into(),
                Some(anna.account_id),
                None
            ),
            (
                "proxy_act.accepted".into(),
                "resident".into(),
                Some(anna.account_id),
                None
            ),
            (
                "proxy_act.proposed".into(),
                "staff".into(),
                Some(clerk.account_id),
                Some(anna.account_id)
            ),
            (
                "proxy_act.declined".into(),
                "resident".into(),
                Some(anna.account_id),
                None
            ),
        ]
    );

    // Roles that do not act for residents are refused.
    let technician = support::staff(app.pool(), utility, "mlynary", "technician").await;
    let cookie = app.staff_web_login(&technician, 1).await;
    let account = anna.account_id.to_string();
    let response = send_form(
        &app,
        &cookie,
        &card,
        &format!("{card}/w-imieniu"),
        &[("account", &account), ("act", "grant:notifications")],
    )
    .await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn an_admin_sets_what_the_portal_tells_residents_about_the_utility() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let admin = support::staff(app.pool(), utility, "mlynary", "admin").await;
    let cookie = app.staff_web_login(&admin, 0).await;
    let page = "/panel/mlynary/ustawienia";
    let response = send_form(
        &app,
        &cookie,
        page,
        page,
        &[
            ("email", "bok@"),
            ("phone", "55 248 10 20"),
            ("website", "wodociagi.pl"),
            ("office_hours", "pon.–pt. 7:00–15:00"),
            ("emergency_phone", "tel. 994"),
            ("terms_text", ""),
            ("privacy_text", ""),
        ],
    )
    .await;
    assert_eq!(response.status(), 422);
    let html = html_page(response).await;
    for field in ["email-error", "website-error", "emergency_phone-error"] {
        assert!(html.contains(field), "{field}: {html}");
    }
    let response = send_form(
        &app,
        &cookie,
        page,
        page,
        &[
            ("email", "bok@mlynary.example"),
            ("phone", "55 248 10 20"),
            ("website", "https://mlynary.example"),
            ("office_hours", "pon.–pt. 7:00–15:00"),
            ("emergency_phone", "55 248 10 99"),
            (
                "terms_text",
                "Pierwszy akapit regulaminu.\r\n\r\nDrugi akapit.",
            ),
            ("privacy_text", ""),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let home = html_page(app.server.get("/u/mlynary/").await).await;
    assert!(
        home.contains("pon.–pt. 7:00–15:00") && home.contains("55 248 10 99"),
        "{home}"
    );
    let terms = html_page(app.server.get("/u/mlynary/regulamin").await).await;
    assert!(
        terms.contains("Pierwszy akapit regulaminu.") && terms.contains("Drugi akapit."),
        "{terms}"
    );
    let changed: Value = sqlx::query_scalar(
        "SELECT details->'changed' FROM audit_log WHERE action = 'utility.settings_changed'",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(
        changed,
        json!([
            "email",
            "phone",
            "website",
            "office_hours",
            "emergency_phone",
            "terms_text"
        ])
    );
    let clerk = support::staff(app.pool(), utility, "mlynary", "clerk").await;
    let cookie = app.staff_web_login(&clerk, 1).await;
    assert_eq!(get(&app, &cookie, page).await.status(), 403);
}

#[tokio::test]
async fn an_admin_sets_the_accounts_the_utility_is_paid_to_until_invoices_carry_them() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let anna = support::resident(app.pool(), utility, "mlynary", "anna@example.pl", 1).await;
    let admin = support::staff(app.pool(), utility, "mlynary", "admin").await;
    let cookie = app.staff_web_login(&admin, 0).await;
    let page = "/panel/mlynary/ustawienia";
    let form = |account: &'static str, sort_code: &'static str, prefix: &'static str| {
        vec![
            ("email", ""),
            ("phone", ""),
            ("website", ""),
            ("office_hours", ""),
            ("emergency_phone", ""),
            ("terms_text", ""),
            ("privacy_text", ""),
            ("bank_account", account),
            ("virtual_account_sort_code", sort_code),
            ("virtual_account_prefix", prefix),
        ]
    };
    // A wrong check digit in the account and in the sort code, a prefix too long.
    let response = send_form(
        &app,
        &cookie,
        page,
        page,
        &form("61109010140000071219812875", "10201027", "1234567"),
    )
    .await;
    assert_eq!(response.status(), 422);
    let html = html_page(response).await;
    for field in [
        "bank_account-error",
        "virtual_account_sort_code-error",
        "virtual_account_prefix-error",
    ] {
        assert!(html.contains(field), "{field}: {html}");
    }
    let response = send_form(
        &app,
        &cookie,
        page,
        page,
        &form("PL61 1090 1014 0000 0712 1981 2874", "10201026", "77"),
    )
    .await;
    assert_eq!(response.status(), 303);
    let stored: (Option<String>, Option<String>, String) = sqlx::query_as(
        "SELECT bank_account, virtual_account_sort_code, virtual_account_prefix
         FROM utilities WHERE id = $1",
    )
    .bind(utility)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(
        stored,
        (
            Some("61109010140000071219812874".into()),
            Some("10201026".into()),
            "77".into()
        )
    );
    // The reminder days: the demand after the reminder.
    let mut days = form("PL61 1090 1014 0000 0712 1981 2874", "10201026", "77");
    days.extend([
        ("reminder_overdue_days", "5"),
        ("reminder_demand_days", "4"),
    ]);
    let response = send_form(&app, &cookie, page, page, &days).await;
    assert_eq!(response.status(), 422);
    assert!(
        html_page(response)
            .await
            .contains("reminder_demand_days-error")
    );
    days.pop();
    days.push(("reminder_demand_days", "21"));
    assert_eq!(
        send_form(&app, &cookie, page, page, &days).await.status(),
        303
    );
    let stored: (i16, i16) = sqlx::query_as(
        "SELECT reminder_overdue_days, reminder_demand_days FROM utilities WHERE id = $1",
    )
    .bind(utility)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(stored, (5, 21));
    // Once an invoice carries a virtual account, the scheme stays.
    support::billing_ready(app.pool(), utility).await;
    ebok_billing::manual::issue(
        app.pool(),
        utility,
        anna.customer_id,
        ebok_common::domain::time::local_day(chrono::Utc::now()),
        &[ebok_billing::manual::ManualLine {
            name: "Usługa".into(),
            unit: "usł.".into(),
            quantity_milli: 1000,
            unit_price: ebok_common::domain::Money::from_grosze(1_000),
            vat_rate: 8,
        }],
    )
    .await
    .unwrap();
    let response = send_form(
        &app,
        &cookie,
        page,
        page,
        &form("PL61 1090 1014 0000 0712 1981 2874", "11402004", "77"),
    )
    .await;
    assert_eq!(response.status(), 422);
    assert!(
        html_page(response)
            .await
            .contains("na wystawionych fakturach")
    );
    // Another utility's admin changes only their own.
    let other = support::utility(app.pool(), "tolkmicko").await;
    let theirs = support::staff(app.pool(), other, "tolkmicko", "admin").await;
    let cookie = app.staff_web_login(&theirs, 0).await;
    let page = "/panel/tolkmicko/ustawienia";
    assert_eq!(
        send_form(&app, &cookie, page, page, &form("", "11402004", ""))
            .await
            .status(),
        303
    );
    let ours: Option<String> =
        sqlx::query_scalar("SELECT virtual_account_sort_code FROM utilities WHERE id = $1")
            .bind(utility)
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(ours.as_deref(), Some("10201026"));
}

#[tokio::test]
async fn a_reading_the_customer_gives_on_the_phone_is_entered_in_their_name() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let anna = support::resident(app.pool(), utility, "mlynary", "anna@example.pl", 2).await;
    let jan = support::resident(app.pool(), utility, "mlynary", "jan@example.pl", 2).await;
    let clerk = support::staff(app.pool(), utility, "mlynary", "clerk").await;
    let cookie = app.staff_web_login(&clerk, 0).await;
    let card = format!("/panel/mlynary/klienci/{}", anna.customer_id);
    let later =
        chrono::Utc::now().with_timezone(&chrono_tz::Europe::Warsaw) + chrono::Duration::minutes(5);
    let (day, time) = (
        later.format("%Y-%m-%d").to_string(),
        later.format("%H:%M").to_string(),
    );
    // Jan's meter is not Anna's.
    let jans = jan.meter_id.to_string();
    let response = send_form(
        &app,
        &cookie,
        &card,
        &format!("{card}/odczyt"),
        &[
            ("meter", &jans),
            ("reading_day", &day),
            ("reading_time", &time),
            ("reading_m3", "100,900"),
        ],
    )
    .await;
    assert_eq!(response.status(), 422);
    assert!(
        html_page(response)
            .await
            .contains("nie jest wodomierz w punkcie obecnej umowy klienta")
    );
    let annas = anna.meter_id.to_string();
    let response = send_form(
        &app,
        &cookie,
        &card,
        &format!("{card}/odczyt"),
        &[
            ("meter", &annas),
            ("reading_day", &day),
            ("reading_time", &time),
            ("reading_m3", "100,900"),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let (actor, behalf, customer): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT actor_account_id, on_behalf_of_account_id,
                (details->>'reported_by_customer')::bigint
         FROM audit_log WHERE action = 'meter_reading.entered'",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(
        (actor, behalf, customer),
        (
            clerk.account_id,
            Some(anna.account_id),
            Some(anna.customer_id)
        )
    );
    let latest: i64 =
        sqlx::query_scalar("SELECT volume_litres FROM meter_latest_readings WHERE meter_id = $1")
            .bind(anna.meter_id)
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(latest, 100_900);
    let billing = support::staff(app.pool(), utility, "mlynary", "billing").await;
    let cookie = app.staff_web_login(&billing, 1).await;
    let response = send_form(
        &app,
        &cookie,
        &card,
        &format!("{card}/odczyt"),
        &[
            ("meter", &annas),
            ("reading_day", &day),
            ("reading_time", &time),
            ("reading_m3", "101"),
        ],
    )
    .await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn two_admins_cannot_take_each_others_rights_away_and_leave_the_utility_without_one() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let a = support::staff(app.pool(), utility, "mlynary", "admin").await;
    let b = support::staff(app.pool(), utility, "mlynary", "admin").await;
    let by = |who: &StaffMember| ebok_api::staff::ByStaff {
        utility_id: utility,
        account_id: who.account_id,
    };
    // A demotes B; B's request in flight (authenticated before) then finds B no admin.
    ebok_api::staff::team::set_role(app.pool(), by(&a), b.account_id, "clerk")
        .await
        .unwrap();
    let refused = ebok_api::staff::team::set_role(app.pool(), by(&b), a.account_id, "clerk").await;
    assert!(refused.is_err());
    let refused = ebok_api::staff::team::set_active(app.pool(), by(&b), a.account_id, false).await;
    assert!(refused.is_err());
    let admins: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM user_accounts WHERE utility_id = $1 AND role = 'admin' AND status = 'active'",
    )
    .bind(utility)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(admins, 1);
}

#[tokio::test]
async fn quarantined_readings_go_only_to_an_installed_meter_and_a_duplicate_nip_is_named_at_nip() {
    let app = App::start().await;
    let utility = support::utility(app.pool(), "mlynary").await;
    let home = support::resident(app.pool(), utility, "mlynary", "anna@example.pl", 1).await;
    hold(&app, utility, "0badf00d", 1_000).await;
    sqlx::query(
        "UPDATE meters SET removed_at = now(), removal_reading_litres = 100150 WHERE id = $1",
    )
    .bind(home.meter_id)
    .execute(app.pool())
    .await
    .unwrap();
    let serial: String = sqlx::query_scalar("SELECT serial FROM meters WHERE id = $1")
        .bind(home.meter_id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    let clerk = support::staff(app.pool(), utility, "mlynary", "clerk").await;
    let cookie = app.staff_web_login(&clerk, 0).await;
    let page = "/panel/mlynary/kwarantanna";
    let response = send_form(
        &app,
        &cookie,
        page,
        "/panel/mlynary/kwarantanna/przypisz",
        &[
            ("kind", "radio_id"),
            ("meter_ref", "0badf00d"),
            ("serial", &serial),
        ],
    )
    .await;
    assert_eq!(
        response.status(),
        422,
        "a removed meter takes no held readings"
    );

    let new = "/panel/mlynary/klienci/nowy";
    let company = [
        ("kind", "company"),
        ("name", "Piekarnia Kłos"),
        ("nip", "123-456-32-18"),
        ("building_no", "5"),
        ("postal_code", "14-420"),
        ("city", "Młynary"),
    ];
    assert_eq!(
        send_form(&app, &cookie, new, new, &company).await.status(),
        303
    );
    let response = send_form(&app, &cookie, new, new, &company).await;
    assert_eq!(response.status(), 422);
    let html = html_page(response).await;
    assert!(
        html.contains("id=\"nip-error\"") && html.contains("Piekarnia Kłos"),
        "{html}"
    );
}
