//! The portal's pages over HTTP (the browser tests drive the same pages in Chromium): session
//! cookies, CSRF and same-origin checks, that another resident or another utility's resident
//! cannot open or change a resident's meters, rules or settings, and that whatever goes wrong
//! a browser gets the portal's Polish error page, never problem+json.

use crate::support;

use ebok_api::auth::keys::Keys;
use ebok_api::state::Settings;
use ebok_api::{AppState, router};
use ebok_testkit::TestServer;
use reqwest::header::{COOKIE, LOCATION, ORIGIN};
use support::{App, PORTAL_ORIGIN, error_id, html_page, notification, resident, utility};

#[tokio::test]
async fn pages_need_a_login_and_logout_ends_the_session() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 3).await;
    let anonymous = app.server.get("/u/mlynary/pulpit").await;
    assert_eq!(anonymous.status(), 303);
    assert!(
        anonymous.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/u/mlynary/logowanie?next=")
    );
    let wrong = app
        .server
        .client
        .post(app.url("/u/mlynary/logowanie"))
        .form(&[
            ("email", jan.email.as_str()),
            ("password", "zupełnie nie to hasło"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("Nieprawidłowy adres e-mail lub hasło")
    );

    let cookie = app.web_login("mlynary", &jan.email).await;
    let page = app.web_get(&cookie, "/u/mlynary/pulpit").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("current-reading") && html.contains("m³"),
        "{html}"
    );
    let token = app.web_csrf(&cookie, "/u/mlynary/pulpit").await;
    let out = app
        .web_post(&cookie, "/u/mlynary/wyloguj", &[("csrf", &token)])
        .await;
    assert_eq!(out.status(), 303);
    assert_eq!(
        app.web_get(&cookie, "/u/mlynary/pulpit").await.status(),
        303,
        "session ended"
    );
}

#[tokio::test]
async fn forms_without_the_sessions_token_or_from_another_site_are_refused() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 3).await;
    let cookie = app.web_login("mlynary", &jan.email).await;
    let meter = jan.meter_id.to_string();
    let form = [
        ("meter_id", meter.as_str()),
        ("kind", "daily_above"),
        ("litres", "500"),
    ];
    let missing = app.web_post(&cookie, "/u/mlynary/alarmy", &form).await;
    assert_eq!(missing.status(), 403);
    let token = app.web_csrf(&cookie, "/u/mlynary/alarmy").await;
    let mut with_token = form.to_vec();
    with_token.push(("csrf", &token));
    let cross_site = app
        .server
        .client
        .post(app.url("/u/mlynary/alarmy"))
        .header(COOKIE, &cookie)
        .header(ORIGIN, "https://evil.example")
        .form(&with_token)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let rules: i64 = sqlx::query_scalar("SELECT count(*) FROM resident_alarm_rules")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(rules, 0, "refused forms change nothing");
    let ok = app
        .web_post(&cookie, "/u/mlynary/alarmy", &with_token)
        .await;
    assert_eq!(ok.status(), 303);
    let page = app
        .web_get(&cookie, "/u/mlynary/alarmy?ok=dodano")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Zużycie dobowe powyżej 500"), "{page}");
}

#[tokio::test]
async fn another_resident_and_another_utility_cannot_open_or_change_a_residents_pages() {
    let app = App::start().await;
    let a = utility(app.pool(), "mlynary").await;
    let b = utility(app.pool(), "tolkmicko").await;
    let jan = resident(app.pool(), a, "mlynary", "jan@example.pl", 5).await;
    let ola = resident(app.pool(), a, "mlynary", "ola@example.pl", 5).await;
    let eva = resident(app.pool(), b, "tolkmicko", "eva@example.pl", 5).await;
    let jan_cookie = app.web_login("mlynary", &jan.email).await;
    let token = app.web_csrf(&jan_cookie, "/u/mlynary/alarmy").await;
    let meter = jan.meter_id.to_string();
    app.web_post(
        &jan_cookie,
        "/u/mlynary/alarmy",
        &[
            ("csrf", &token),
            ("meter_id", &meter),
            ("kind", "no_consumption"),
            ("days", "2"),
        ],
    )
    .await;
    let rule_id: i64 = sqlx::query_scalar("SELECT id FROM resident_alarm_rules")
        .fetch_one(app.pool())
        .await
        .unwrap();
    let jan_page = app
        .web_get(&jan_cookie, &format!("/u/mlynary/liczniki/{meter}"))
        .await;
    assert_eq!(jan_page.status(), 200);
    let serial: String = sqlx::query_scalar("SELECT serial FROM meters WHERE id = $1")
        .bind(jan.meter_id)
        .fetch_one(app.pool())
        .await
        .unwrap();

    let ola_cookie = app.web_login("mlynary", &ola.email).await;
    let ola_token = app.web_csrf(&ola_cookie, "/u/mlynary/alarmy").await;
    for path in [
        format!("/u/mlynary/liczniki/{meter}"),
        format!("/u/mlynary/liczniki/{meter}?dzien=2026-01-01"),
        format!("/u/mlynary/liczniki/{meter}/odczyty.csv"),
    ] {
        let response = app.web_get(&ola_cookie, &path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert!(!response.text().await.unwrap().contains(&serial), "{path}");
    }
    for page in ["/u/mlynary/pulpit", "/u/mlynary/alarmy"] {
        let html = app.web_get(&ola_cookie, page).await.text().await.unwrap();
        assert!(!html.contains(&serial), "{page} shows Jan's meter");
    }
    let delete = app
        .web_post(
            &ola_cookie,
            &format!("/u/mlynary/alarmy/{rule_id}/usun"),
            &[("csrf", &ola_token)],
        )
        .await;
    assert_eq!(delete.status(), 404);
    let foreign_rule = app
        .web_post(
            &ola_cookie,
            "/u/mlynary/alarmy",
            &[
                ("csrf", &ola_token),
                ("meter_id", &meter),
                ("kind", "daily_above"),
                ("litres", "5"),
            ],
        )
        .await;
    assert_eq!(foreign_rule.status(), 422);
    let self_reading = app
        .server
        .client
        .post(app.url(&format!("/u/mlynary/liczniki/{meter}/odczyt")))
        .header(COOKIE, &ola_cookie)
        .header(ORIGIN, PORTAL_ORIGIN)
        .multipart(
            reqwest::multipart::Form::new()
                .text("csrf", ola_token.clone())
                .text("stan", "999,000"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(self_reading.status(), 404);
    let rules: i64 = sqlx::query_scalar("SELECT count(*) FROM resident_alarm_rules")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(rules, 1, "Jan's rule stands, nobody else's was made");
    let jan_session: i64 =
        sqlx::query_scalar("SELECT id FROM sessions WHERE account_id = $1 AND revoked_at IS NULL")
            .bind(jan.account_id)
            .fetch_one(app.pool())
            .await
            .unwrap();
    let end = app
        .web_post(
            &ola_cookie,
            &format!("/u/mlynary/konto/sesje/{jan_session}/zakoncz"),
            &[("csrf", &ola_token)],
        )
        .await;
    assert_eq!(end.status(), 404);
    assert_eq!(
        app.web_get(&jan_cookie, "/u/mlynary/konto").await.status(),
        200,
        "Jan stays logged in"
    );

    // A resident of another utility: their session does not open this utility's pages.
    let eva_cookie = app.web_login("tolkmicko", &eva.email).await;
    let response = app
        .web_get(&eva_cookie, &format!("/u/mlynary/liczniki/{meter}"))
        .await;
    assert_eq!(response.status(), 303, "not logged in here");
    let response = app
        .web_get(&eva_cookie, &format!("/u/tolkmicko/liczniki/{meter}"))
        .await;
    assert_eq!(response.status(), 404);

    // Jan's notice and rule, by id, from another resident of his utility and from another
    // utility's resident on their own utility's pages: not found, nothing changed.
    let notice = notification(app.pool(), a, jan.account_id).await;
    let eva_token = app.web_csrf(&eva_cookie, "/u/tolkmicko/alarmy").await;
    for (cookie, slug, token) in [
        (&ola_cookie, "mlynary", &ola_token),
        (&eva_cookie, "tolkmicko", &eva_token),
    ] {
        let page = app
            .web_get(cookie, &format!("/u/{slug}/powiadomienia/{notice}"))
            .await;
        assert_eq!(page.status(), 404, "{slug}");
        for path in [
            format!("/u/{slug}/powiadomienia/{notice}/przeczytane"),
            format!("/u/{slug}/alarmy/{rule_id}/wylacz"),
            format!("/u/{slug}/alarmy/{rule_id}/wlacz"),
        ] {
            let response = app.web_post(cookie, &path, &[("csrf", token)]).await;
            assert_eq!(response.status(), 404, "{path}");
        }
        let data = app.web_get(cookie, &format!("/u/{slug}/konto/dane")).await;
        assert_eq!(data.status(), 200, "{slug}");
        assert!(!data.text().await.unwrap().contains(&serial), "{slug}");
    }
    let (read, enabled): (Option<chrono::DateTime<chrono::Utc>>, bool) = sqlx::query_as(
        "SELECT n.read_at, r.enabled FROM notifications n, resident_alarm_rules r
         WHERE n.id = $1 AND r.id = $2",
    )
    .bind(notice)
    .bind(rule_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!((read, enabled), (None, true));
}

#[tokio::test]
async fn the_self_reading_form_stores_a_reading_and_explains_an_implausible_one() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 3).await;
    sqlx::query("UPDATE meters SET channel = 'manual' WHERE id = $1")
        .bind(jan.meter_id)
        .execute(app.pool())
        .await
        .unwrap();
    let cookie = app.web_login("mlynary", &jan.email).await;
    let path = format!("/u/mlynary/liczniki/{}", jan.meter_id);
    let token = app.web_csrf(&cookie, &path).await;
    let send = |stan: &'static str| {
        app.server
            .client
            .post(app.url(&format!("{path}/odczyt")))
            .header(COOKIE, &cookie)
            .header(ORIGIN, PORTAL_ORIGIN)
            .multipart(
                reqwest::multipart::Form::new()
                    .text("csrf", token.clone())
                    .text("stan", stan),
            )
            .send()
    };
    // The last reading is 100,450 l; lower is refused with the reason.
    let lower = send("99,000").await.unwrap();
    assert_eq!(lower.status(), 422);
    let html = lower.text().await.unwrap();
    assert!(
        html.contains("field-error") && html.contains("stan-error"),
        "{html}"
    );
    let junk = send("sto").await.unwrap();
    assert_eq!(junk.status(), 422);
    let ok = send("100,700").await.unwrap();
    assert_eq!(ok.status(), 303);
    let (litres, source): (i64, String) = sqlx::query_as(
        "SELECT volume_litres, source::text FROM meter_latest_readings WHERE meter_id = $1",
    )
    .bind(jan.meter_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!((litres, source.as_str()), (100_700, "manual"));
}

async fn rule_count(app: &App) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM resident_alarm_rules")
        .fetch_one(app.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_form_without_the_sessions_token_is_refused_with_the_portals_page() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 3).await;
    let cookie = app.web_login("mlynary", &jan.email).await;
    let meter = jan.meter_id.to_string();
    let form = [("meter_id", meter.as_str()), ("kind", "device_alarm")];
    let mut forged = form.to_vec();
    forged.push(("csrf", "nie-ten-token"));
    for sent in [form.to_vec(), forged] {
        let refused = app.web_post(&cookie, "/u/mlynary/alarmy", &sent).await;
        assert_eq!(refused.status(), 403, "{sent:?}");
        let html = html_page(refused).await;
        assert!(html.contains("Formularz wygasł"), "{html}");
    }
    assert_eq!(rule_count(&app).await, 0, "refused forms change nothing");
}

#[tokio::test]
async fn a_form_from_another_origin_is_refused_with_the_portals_page() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 3).await;
    let cookie = app.web_login("mlynary", &jan.email).await;
    let token = app.web_csrf(&cookie, "/u/mlynary/alarmy").await;
    let meter = jan.meter_id.to_string();
    for origin in ["https://evil.example", "null", "http://127.0.0.1:1"] {
        let refused = app
            .server
            .client
            .post(app.url("/u/mlynary/alarmy"))
            .header(COOKIE, &cookie)
            .header(ORIGIN, origin)
            .form(&[
                ("csrf", token.as_str()),
                ("meter_id", &meter),
                ("kind", "device_alarm"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "{origin}");
        let html = html_page(refused).await;
        assert!(html.contains("Formularz wygasł"), "{html}");
    }
    // A public form too: another site cannot log a browser in to an account of its choosing.
    let login = app
        .server
        .client
        .post(app.url("/u/mlynary/logowanie"))
        .header(ORIGIN, "https://evil.example")
        .form(&[
            ("email", jan.email.as_str()),
            ("password", support::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 403);
    html_page(login).await;
    assert_eq!(rule_count(&app).await, 0, "refused forms change nothing");
}

#[tokio::test]
async fn a_residents_form_sent_after_the_session_ended_goes_to_the_login_page_and_back() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 3).await;
    let cookie = app.web_login("mlynary", &jan.email).await;
    let token = app.web_csrf(&cookie, "/u/mlynary/pulpit").await;
    let out = app
        .web_post(&cookie, "/u/mlynary/wyloguj", &[("csrf", &token)])
        .await;
    assert_eq!(out.status(), 303);

    let meter = jan.meter_id.to_string();
    let rule = app
        .web_post(
            &cookie,
            "/u/mlynary/alarmy",
            &[
                ("csrf", &token),
                ("meter_id", &meter),
                ("kind", "device_alarm"),
            ],
        )
        .await;
    assert_eq!(rule.status(), 303);
    assert_eq!(
        rule.headers()[LOCATION],
        "/u/mlynary/logowanie?next=%2Fu%2Fmlynary%2Falarmy"
    );
    // A form of a page with a parameter comes back to that page, not to where it was sent.
    let reading = app
        .server
        .client
        .post(app.url(&format!("/u/mlynary/liczniki/{meter}/odczyt")))
        .header(COOKIE, &cookie)
        .header(ORIGIN, PORTAL_ORIGIN)
        .multipart(
            reqwest::multipart::Form::new()
                .text("csrf", token.clone())
                .text("stan", "100,700"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(reading.status(), 303);
    assert_eq!(
        reading.headers()[LOCATION],
        format!("/u/mlynary/logowanie?next=%2Fu%2Fmlynary%2Fliczniki%2F{meter}")
    );
    assert_eq!(
        rule_count(&app).await,
        0,
        "nothing was done without a session"
    );
}

/// The database failing under a page: the browser gets the portal's page with an error id (the
/// log has the cause under it), nothing of the cause, and no problem+json.
#[tokio::test]
async fn a_failure_behind_a_page_or_a_form_is_a_polish_page_with_an_error_id() {
    // Nothing listens on port 1; the pool connects lazily and fails on use.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy("postgres://ebok:x@127.0.0.1:1/none")
        .unwrap();
    let server = TestServer::start(router(
        AppState::new(pool, Settings::new(PORTAL_ORIGIN, Keys::generate())).await,
    ))
    .await;
    let page = server.get("/u/mlynary/logowanie").await;
    let form = server
        .client
        .post(server.url("/u/mlynary/logowanie"))
        .header(ORIGIN, PORTAL_ORIGIN)
        .form(&[("email", "jan@example.pl"), ("password", "hasło")])
        .send()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for response in [page, form] {
        assert_eq!(response.status(), 500);
        let html = html_page(response).await;
        assert!(html.contains("Wystąpił błąd po naszej stronie"), "{html}");
        assert!(
            !html.contains("127.0.0.1:1"),
            "no cause on the page: {html}"
        );
        let id = error_id(&html);
        assert!(!id.is_empty(), "{html}");
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1], "every failure has its own id");
}

/// A resident's form whose store fails (here a trigger refuses every new rule, as a full disk
/// or a broken replica would).
#[tokio::test]
async fn a_residents_form_whose_store_fails_is_a_polish_page_with_an_error_id() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 3).await;
    let cookie = app.web_login("mlynary", &jan.email).await;
    let token = app.web_csrf(&cookie, "/u/mlynary/alarmy").await;
    for statement in [
        "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS
         $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$",
        "CREATE TRIGGER test_refuse BEFORE INSERT ON resident_alarm_rules
         FOR EACH ROW EXECUTE FUNCTION test_refuse()",
    ] {
        sqlx::query(statement).execute(app.pool()).await.unwrap();
    }
    let meter = jan.meter_id.to_string();
    let failed = app
        .web_post(
            &cookie,
            "/u/mlynary/alarmy",
            &[
                ("csrf", &token),
                ("meter_id", &meter),
                ("kind", "device_alarm"),
            ],
        )
        .await;
    assert_eq!(failed.status(), 500);
    let html = html_page(failed).await;
    assert!(
        !html.contains("No space left"),
        "no cause on the page: {html}"
    );
    assert!(!error_id(&html).is_empty(), "{html}");
}

#[tokio::test]
async fn what_a_portal_page_refuses_is_a_polish_page_never_problem_json() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 3).await;
    let cookie = app.web_login("mlynary", &jan.email).await;
    let meter = jan.meter_id;
    // The export of a range whose end comes before its start.
    let reversed = app
        .web_get(
            &cookie,
            &format!("/u/mlynary/liczniki/{meter}/odczyty.csv?od=2026-02-01&do=2026-01-01"),
        )
        .await;
    assert_eq!(reversed.status(), 422);
    let html = html_page(reversed).await;
    assert!(html.contains("Zamień je miejscami"), "{html}");
    for path in [
        "/u/nieznana/".to_string(),
        "/u/nieznana/pulpit".to_string(),
        "/u/mlynary/liczniki/siedem".to_string(),
        format!("/u/mlynary/liczniki/{}", meter + 1000),
    ] {
        let response = app.web_get(&cookie, &path).await;
        assert_eq!(response.status(), 404, "{path}");
        let html = html_page(response).await;
        assert!(html.contains("Nie znaleziono strony"), "{path}: {html}");
    }
}

#[tokio::test]
async fn a_mistyped_portal_address_is_a_polish_page_and_the_site_has_its_icon() {
    let app = App::start().await;
    utility(app.pool(), "mlynary").await;
    for path in [
        "/u/mlynary/rachunki",
        "/u/mlynary/pulpit/x",
        "/zly-adres",
        "/static/nic.css",
    ] {
        let response = app.server.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        let html = html_page(response).await;
        assert!(html.contains("Nie znaleziono strony"), "{path}: {html}");
    }
    // A program that mistypes an API path still gets problem+json.
    let api = app.server.get("/api/v1/faktury").await;
    assert_eq!(api.status(), 404);
    assert_eq!(api.headers()["content-type"], "application/problem+json");
    let ico = app.server.get("/favicon.ico").await;
    assert_eq!(ico.status(), 200);
    assert_eq!(ico.headers()["content-type"], "image/x-icon");
    let bytes = ico.bytes().await.unwrap();
    assert_eq!(&bytes[..4], &[0, 0, 1, 0], "an ICO file");
    assert_eq!(&bytes[22..26], b"\x89PNG", "holding a PNG image");
    let svg = app.server.get("/static/favicon.svg").await;
    assert_eq!(svg.status(), 200);
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    let page = app.server.get("/").await.text().await.unwrap();
    assert!(page.contains(r#"<link rel="icon" href="/static/favicon.svg""#));
}

#[tokio::test]
async fn a_day_to_come_and_a_reversed_range_are_told_not_shown_as_data() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 3).await;
    let cookie = app.web_login("mlynary", &jan.email).await;
    let meter = jan.meter_id;
    let to_come = chrono::Utc::now().date_naive() + chrono::Days::new(2);
    let page = html_page(
        app.web_get(
            &cookie,
            &format!("/u/mlynary/liczniki/{meter}?dzien={to_come}"),
        )
        .await,
    )
    .await;
    assert!(page.contains("Ten dzień jeszcze nie nadszedł"), "{page}");
    assert!(page.contains(r#"id="dzien-error""#));
    let reversed = html_page(
        app.web_get(
            &cookie,
            &format!("/u/mlynary/liczniki/{meter}?od=2026-02-01&do=2026-01-01"),
        )
        .await,
    )
    .await;
    assert!(reversed.contains(r#"id="zakres-error""#), "{reversed}");
    assert!(!reversed.contains(r#"id="wykres""#), "no chart of nothing");
    assert!(!reversed.contains("Razem:"), "no total of nothing");
    assert!(!reversed.contains(r#"id="csv""#), "no CSV of nothing");
    // The API refuses the day to come too, at its field.
    let t = app.login("mlynary", &jan.email).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = app
        .get(&t, &format!("/api/v1/meters/{meter}/reading?day={to_come}"))
        .await;
    assert_eq!(answer.status(), 422);
    let problem: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(problem["field"], "day");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("jeszcze nie nadszedł")
    );
}

#[tokio::test]
async fn sessions_name_the_browser_as_people_do_and_the_pages_speak_polish_only() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 0).await;
    let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like \
                   Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
    let login = app
        .server
        .client
        .post(app.url("/u/mlynary/logowanie"))
        .header(ORIGIN, PORTAL_ORIGIN)
        .header(reqwest::header::USER_AGENT, android)
        .form(&[
            ("email", jan.email.as_str()),
            ("password", support::PASSWORD),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = html_page(app.web_get(&cookie, "/u/mlynary/konto").await).await;
    assert!(page.contains("Chrome na Androidzie"), "{page}");
    assert!(!page.contains("Mozilla/5.0"), "no raw User-Agent");
    assert!(!page.contains(r#"lang="en""#), "no English on the page");
}

#[tokio::test]
async fn a_meter_tells_its_legalisation_and_warns_when_it_has_passed_or_ends_soon() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 1).await;
    let cookie = app.web_login("mlynary", &jan.email).await;
    let meter = jan.meter_id;
    let today = chrono::Utc::now().date_naive();
    let set = |until: chrono::NaiveDate| {
        sqlx::query("UPDATE meters SET legalised_until = $2 WHERE id = $1")
            .bind(meter)
            .bind(until)
            .execute(app.pool())
    };
    let pages = || async {
        (
            html_page(app.web_get(&cookie, "/u/mlynary/pulpit").await).await,
            html_page(
                app.web_get(&cookie, &format!("/u/mlynary/liczniki/{meter}"))
                    .await,
            )
            .await,
        )
    };
    set(today + chrono::Days::new(400)).await.unwrap();
    let (dashboard, page) = pages().await;
    assert!(page.contains("Legalizacja wodomierza ważna do"), "{page}");
    assert!(
        !dashboard.contains("Legalizacja"),
        "no warning while it is valid"
    );
    set(today + chrono::Days::new(30)).await.unwrap();
    let (dashboard, page) = pages().await;
    assert!(
        dashboard.contains("Legalizacja wodomierza kończy się"),
        "{dashboard}"
    );
    assert!(page.contains(r#"class="warning""#));
    set(today - chrono::Days::new(2)).await.unwrap();
    let (dashboard, page) = pages().await;
    assert!(
        dashboard.contains("Legalizacja wodomierza wygasła"),
        "{dashboard}"
    );
    assert!(page.contains("Legalizacja wodomierza wygasła"));
}

#[tokio::test]
async fn a_notice_has_its_own_page_which_marks_it_read_and_one_can_be_marked_read_alone() {
    let app = App::start().await;
    let pool = app.pool();
    let u = utility(pool, "mlynary").await;
    let jan = resident(pool, u, "mlynary", "jan@example.pl", 0).await;
    let kasia = resident(pool, u, "mlynary", "kasia@example.pl", 0).await;
    let first = support::notification(pool, u, jan.account_id).await;
    let second = support::notification(pool, u, jan.account_id).await;
    sqlx::query("UPDATE notifications SET details = $2 WHERE id = $1")
        .bind(first)
        .bind(serde_json::json!([
            ["Kwota", "123,45 zł"],
            ["Faktura", "FV/2026/12/0001"]
        ]))
        .execute(pool)
        .await
        .unwrap();
    let unread = |id: i64| async move {
        sqlx::query_scalar::<_, bool>("SELECT read_at IS NULL FROM notifications WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap()
    };
    let cookie = app.web_login("mlynary", &jan.email).await;
    let list = html_page(app.web_get(&cookie, "/u/mlynary/powiadomienia").await).await;
    assert!(
        list.contains(&format!("/u/mlynary/powiadomienia/{first}\"")),
        "{list}"
    );
    let page = html_page(
        app.web_get(&cookie, &format!("/u/mlynary/powiadomienia/{first}"))
            .await,
    )
    .await;
    assert!(page.contains("Wpłata zaksięgowana"));
    assert!(page.contains("<dt>Kwota</dt><dd>123,45 zł</dd>"), "{page}");
    assert!(!unread(first).await, "opening it marked it read");
    assert!(unread(second).await);
    let csrf = app.web_csrf(&cookie, "/u/mlynary/powiadomienia").await;
    let marked = app
        .web_post(
            &cookie,
            &format!("/u/mlynary/powiadomienia/{second}/przeczytane"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(marked.status(), 303);
    assert!(!unread(second).await);
    // Another resident can neither open nor mark it.
    let theirs = support::notification(pool, u, kasia.account_id).await;
    let opened = app
        .web_get(&cookie, &format!("/u/mlynary/powiadomienia/{theirs}"))
        .await;
    assert_eq!(opened.status(), 404);
    let refused = app
        .web_post(
            &cookie,
            &format!("/u/mlynary/powiadomienia/{theirs}/przeczytane"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(refused.status(), 404);
    assert!(unread(theirs).await);
}

#[tokio::test]
async fn a_rule_is_switched_off_and_on_in_the_portal_and_its_history_outlives_it() {
    let app = App::start().await;
    let pool = app.pool();
    let u = utility(pool, "mlynary").await;
    let jan = resident(pool, u, "mlynary", "jan@example.pl", 3).await;
    let cookie = app.web_login("mlynary", &jan.email).await;
    let csrf = app.web_csrf(&cookie, "/u/mlynary/alarmy").await;
    let meter = jan.meter_id.to_string();
    // A continuous-flow rule cannot work on a meter that reports once a day: said at `kind`.
    let flow = app
        .web_post(
            &cookie,
            "/u/mlynary/alarmy",
            &[
                ("csrf", csrf.as_str()),
                ("meter_id", meter.as_str()),
                ("kind", "continuous_flow"),
                ("hours", "3"),
            ],
        )
        .await;
    assert_eq!(flow.status(), 422);
    let page = html_page(flow).await;
    assert!(page.contains(r#"id="kind-error""#), "{page}");
    assert!(page.contains("co godzinę"), "{page}");
    assert_eq!(rule_count(&app).await, 0);
    // 300 l used since the last reading, today, against 100 l a day: the rule fires.
    let added = app
        .web_post(
            &cookie,
            "/u/mlynary/alarmy",
            &[
                ("csrf", csrf.as_str()),
                ("meter_id", meter.as_str()),
                ("kind", "daily_above"),
                ("litres", "100"),
            ],
        )
        .await;
    assert_eq!(added.status(), 303);
    let rule: i64 = sqlx::query_scalar("SELECT id FROM resident_alarm_rules")
        .fetch_one(pool)
        .await
        .unwrap();
    let evaluator = ebok_alarm_rules::Evaluator::new(
        pool.clone(),
        ebok_alarm_rules::EvaluatorConfig {
            poll: std::time::Duration::from_millis(20),
            batch: 100,
            recheck: std::time::Duration::from_secs(600),
        },
    );
    support::reading(
        pool,
        jan.meter_id,
        chrono::Utc::now() - chrono::Duration::seconds(30),
        100_000 + 3 * 150 + 300,
    )
    .await;
    evaluator.try_once().await.unwrap();
    let off = app
        .web_post(
            &cookie,
            &format!("/u/mlynary/alarmy/{rule}/wylacz"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(off.status(), 303);
    let page = html_page(app.web_get(&cookie, "/u/mlynary/alarmy?ok=wylaczono").await).await;
    assert!(page.contains("wyłączona"), "{page}");
    assert!(page.contains(&format!("/u/mlynary/alarmy/{rule}/wlacz")));
    let on = app
        .web_post(
            &cookie,
            &format!("/u/mlynary/alarmy/{rule}/wlacz"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(on.status(), 303);
    let enabled: bool = sqlx::query_scalar("SELECT enabled FROM resident_alarm_rules")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(enabled);
    // Deleted: gone from the rules, its history stays, marked.
    let deleted = app
        .web_post(
            &cookie,
            &format!("/u/mlynary/alarmy/{rule}/usun"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(deleted.status(), 303);
    let page = html_page(app.web_get(&cookie, "/u/mlynary/alarmy").await).await;
    assert!(page.contains("Nie masz jeszcze żadnych reguł"), "{page}");
    assert!(page.contains("(reguła usunięta)"), "{page}");
    // A deleted rule cannot be switched on again.
    let again = app
        .web_post(
            &cookie,
            &format!("/u/mlynary/alarmy/{rule}/wlacz"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(again.status(), 404);
}

#[tokio::test]
async fn registration_shows_every_wrong_field_at_once_each_at_its_field() {
    let app = App::start().await;
    utility(app.pool(), "mlynary").await;
    let response = app
        .server
        .client
        .post(app.url("/u/mlynary/rejestracja"))
        .header(ORIGIN, PORTAL_ORIGIN)
        .form(&[
            ("email", "nie-adres"),
            ("display_name", " "),
            ("password", "krótkie"),
            ("password_repeat", "inne"),
        ])
        .send()
        .await
        .unwrap();
    let page = html_page(response).await;
    for field in [
        "email",
        "display_name",
        "password",
        "password_repeat",
        "accept_terms",
    ] {
        assert!(
            page.contains(&format!(r##"<a href="#{field}">"##)),
            "the summary links to {field}: {page}"
        );
        assert!(
            page.contains(&format!(r#"id="{field}-error""#)),
            "{field}'s message at its field"
        );
    }
    // And no account was made.
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM user_accounts")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(accounts, 0);
}

#[tokio::test]
async fn the_utility_tells_its_office_emergency_number_terms_and_privacy_clause() {
    let app = App::start().await;
    let pool = app.pool();
    let u = utility(pool, "mlynary").await;
    let home = html_page(app.server.get("/u/mlynary/").await).await;
    assert!(home.contains("Pogotowie wodociągowe (całą dobę)"), "{home}");
    assert!(
        home.contains(r#"href="tel:994""#),
        "994 when the utility has no number"
    );
    let terms = html_page(app.server.get("/u/mlynary/regulamin").await).await;
    assert!(terms.contains("<h1>Regulamin eBOK</h1>"));
    assert!(terms.contains("Konto w eBOK jest"), "the default terms");
    let privacy = html_page(app.server.get("/u/mlynary/ochrona-danych").await).await;
    assert!(privacy.contains("Administratorem Twoich danych osobowych jest"));
    // What the utility sets replaces the defaults.
    sqlx::query(
        "UPDATE utilities SET street = 'Kolejowa', building_no = '3', postal_code = '14-420',
                city = 'Młynary', office_hours = 'pon.–pt. 7:00–15:00',
                emergency_phone = '55 248 60 00',
                terms_text = E'Pierwszy akapit.\n\nDrugi akapit.' WHERE id = $1",
    )
    .bind(u)
    .execute(pool)
    .await
    .unwrap();
    let home = html_page(app.server.get("/u/mlynary/").await).await;
    assert!(home.contains("Kolejowa 3, 14-420 Młynary"), "{home}");
    assert!(home.contains("pon.–pt. 7:00–15:00"));
    assert!(home.contains(r#"href="tel:552486000""#));
    let terms = html_page(app.server.get("/u/mlynary/regulamin").await).await;
    assert!(terms.contains("<p>Pierwszy akapit.</p>") && terms.contains("<p>Drugi akapit.</p>"));
    // Registration links to both.
    let register = html_page(app.server.get("/u/mlynary/rejestracja").await).await;
    assert!(register.contains(r#"href="/u/mlynary/regulamin""#));
    assert!(register.contains(r#"href="/u/mlynary/ochrona-danych""#));
    let unknown = app.server.get("/u/nieznana/regulamin").await;
    assert_eq!(unknown.status(), 404);
}
