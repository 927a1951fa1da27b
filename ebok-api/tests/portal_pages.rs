//! The portal's pages over HTTP (the browser tests drive the same pages in Chromium): session
//! cookies, CSRF and same-origin checks, and that another resident or another utility's
//! resident cannot open or change a resident's meters, rules or settings.

mod support;

use reqwest::header::{COOKIE, LOCATION, ORIGIN};
use support::{App, PORTAL_ORIGIN, resident, utility};

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
