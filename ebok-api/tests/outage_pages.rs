//! Outage notices over HTTP: a clerk announces a notice for a street from the back office (a
//! line that cannot be read is named at its field), the public page and its Atom and iCalendar
//! feeds show it without a login, the clerk ends it; zones are made and filled. Staff without
//! the role and another utility's clerk reach nothing; another utility's public page does not
//! show it.

use crate::support;

use reqwest::header::{CONTENT_TYPE, LOCATION};
use support::{App, html_page, resident, staff, utility};

/// Now and `offset`, Warsaw time, as a `datetime-local` field takes it.
fn local(offset: chrono::Duration) -> String {
    (chrono::Utc::now() + offset)
        .with_timezone(&chrono_tz::Europe::Warsaw)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

#[tokio::test]
async fn a_clerk_announces_and_ends_a_notice_the_public_reads_it_and_nobody_else_reaches_it() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    // The fixtures' households are at Lipowa 1, Testowo.
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    let clerk = staff(app.pool(), utility_id, "mlynary", "clerk").await;
    let billing = staff(app.pool(), utility_id, "mlynary", "billing").await;
    let other = utility(app.pool(), "inne").await;
    let foreign = staff(app.pool(), other, "inne", "clerk").await;
    let clerk_c = app.staff_web_login(&clerk, 1).await;
    let billing_c = app.staff_web_login(&billing, 1).await;
    let foreign_c = app.staff_web_login(&foreign, 1).await;

    let csrf = app
        .web_csrf(&clerk_c, "/panel/mlynary/komunikaty/nowy")
        .await;
    let form = |streets: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("rodzaj", "failure".to_string()),
            ("tytul", "Awaria sieci na ul. Lipowej".to_string()),
            ("opis", "Beczkowóz przy szkole.".to_string()),
            ("od", local(chrono::Duration::hours(-1))),
            ("do", local(chrono::Duration::hours(6))),
            ("ulice", streets.to_string()),
            ("miejscowosci", String::new()),
        ]
    };
    let send = |cookie: String, path: String, fields: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.web_post(&cookie, &path, &fields).await
        }
    };
    let refused = send(
        clerk_c.clone(),
        "/panel/mlynary/komunikaty/nowy".into(),
        form("Testowo, Lipowa, jeden"),
    )
    .await;
    assert_eq!(refused.status(), 422);
    let page = html_page(refused).await;
    assert!(
        page.contains("id=\"ulice-error\"") && page.contains("numery domów"),
        "{page}"
    );
    let announced = send(
        clerk_c.clone(),
        "/panel/mlynary/komunikaty/nowy".into(),
        form("Testowo, Lipowa, 1-15 nieparzyste"),
    )
    .await;
    assert_eq!(announced.status(), 303);
    let location = announced.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(
        location.ends_with("?opublikowano=1"),
        "{location}: Jan's account is in the area"
    );
    let id: i64 = location
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let recorded: Vec<i64> =
        sqlx::query_scalar("SELECT account_id FROM outage_recipients WHERE outage_id = $1")
            .bind(id)
            .fetch_all(app.pool())
            .await
            .unwrap();
    assert_eq!(recorded, [jan.account_id]);

    // The public page and feeds, without a login.
    let public = app.server.get("/u/mlynary/komunikaty").await;
    assert_eq!(public.status(), 200);
    let page = public.text().await.unwrap();
    assert!(
        page.contains("Awaria sieci na ul. Lipowej")
            && page.contains("Testowo: ul. Lipowa 1–15 (nieparzyste)")
    );
    assert!(page.contains("application/atom+xml"));
    let atom = app.server.get("/u/mlynary/komunikaty.atom").await;
    assert!(
        atom.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml")
    );
    assert!(
        atom.text()
            .await
            .unwrap()
            .contains("Awaria sieci na ul. Lipowej")
    );
    let ics = app.server.get("/u/mlynary/komunikaty.ics").await;
    assert!(
        ics.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    assert!(
        ics.text()
            .await
            .unwrap()
            .contains(&format!("UID:outage-{id}@"))
    );
    assert_eq!(
        app.server
            .get(&format!("/u/mlynary/komunikaty/{id}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.server
            .get(&format!("/u/inne/komunikaty/{id}"))
            .await
            .status(),
        404
    );
    assert!(
        !app.server
            .get("/u/inne/komunikaty.atom")
            .await
            .text()
            .await
            .unwrap()
            .contains("Lipowej")
    );

    // Billing has no business here; another utility's clerk reaches nothing.
    assert_eq!(
        app.web_get(&billing_c, "/panel/mlynary/komunikaty")
            .await
            .status(),
        403
    );
    assert_eq!(
        app.web_get(&billing_c, "/panel/mlynary/strefy")
            .await
            .status(),
        403
    );
    let foreign_csrf = app.web_csrf(&foreign_c, "/panel/inne/").await;
    assert_eq!(
        app.web_get(&foreign_c, &format!("/panel/inne/komunikaty/{id}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.web_post(
            &foreign_c,
            &format!("/panel/inne/komunikaty/{id}/zakoncz"),
            &[("csrf", &foreign_csrf)]
        )
        .await
        .status(),
        404
    );

    // A zone, filled with Lipowa's points; another utility's clerk cannot fill it.
    let made = app
        .web_post(
            &clerk_c,
            "/panel/mlynary/strefy",
            &[
                ("csrf", &csrf),
                ("kod", "polnoc"),
                ("nazwa", "Północ"),
                ("nadrzedna", ""),
            ],
        )
        .await;
    assert_eq!(made.status(), 303);
    let zone: i64 = sqlx::query_scalar("SELECT id FROM network_zones WHERE code = 'polnoc'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    let filled = app
        .web_post(
            &clerk_c,
            &format!("/panel/mlynary/strefy/{zone}/punkty"),
            &[
                ("csrf", &csrf),
                ("miejscowosc", "Testowo"),
                ("ulica", "Lipowa"),
            ],
        )
        .await;
    assert_eq!(
        filled.headers()[LOCATION],
        "/panel/mlynary/strefy?przypisano=1"
    );
    assert_eq!(
        app.web_post(
            &foreign_c,
            &format!("/panel/inne/strefy/{zone}/punkty"),
            &[
                ("csrf", &foreign_csrf),
                ("miejscowosc", "Testowo"),
                ("ulica", "")
            ],
        )
        .await
        .status(),
        404
    );

    // The clerk ends it: the public page says so.
    let ended = app
        .web_post(
            &clerk_c,
            &format!("/panel/mlynary/komunikaty/{id}/zakoncz"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(ended.status(), 303);
    let page = app
        .server
        .get(&format!("/u/mlynary/komunikaty/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Zakończone"), "{page}");
    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM outbox WHERE kind LIKE 'outage.%' ORDER BY id")
            .fetch_all(app.pool())
            .await
            .unwrap();
    assert_eq!(kinds, ["outage.announced", "outage.ended"]);
}
