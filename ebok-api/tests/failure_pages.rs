//! Failure reports in the portal and the back office, over HTTP: a resident reports with a
//! photo and a position (a bad form is shown again with each error at its field), a passer-by
//! reporting nearby is offered it and joins by e-mail, the photo comes back without its
//! metadata and only to whoever sent it (and staff); the counter lists reports by distance
//! from a point, verifies one and sends a crew, the technician sees only their job and marks it
//! fixed; a confirmed failure becomes an outage notice from the notice form. Billing, another
//! technician and another utility reach nothing.

use crate::support;

use reqwest::header::{COOKIE, LOCATION, ORIGIN};
use reqwest::multipart::{Form, Part};
use support::{App, PORTAL_ORIGIN, html_page, resident, staff, utility};

/// Lipowa 1 in Testowo (the fixtures' households live there), and a point there.
const LAT: &str = "54,194000";
const LON: &str = "19,675000";

/// The report form as sent by a browser, with `photo` in the photos field if given.
fn report_form(csrf: &str, fields: &[(&str, &str)], photo: Option<Vec<u8>>) -> Form {
    let mut form = Form::new().text("csrf", csrf.to_string());
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    match photo {
        Some(bytes) => form.part(
            "photos",
            Part::bytes(bytes)
                .file_name("IMG_2041.png")
                .mime_str("image/png")
                .unwrap(),
        ),
        None => form.part("photos", Part::bytes(Vec::new()).file_name("")),
    }
}

async fn send(app: &App, cookie: Option<&str>, path: &str, form: Form) -> reqwest::Response {
    let mut request = app
        .server
        .client
        .post(app.url(path))
        .header(ORIGIN, PORTAL_ORIGIN)
        .multipart(form);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.send().await.unwrap()
}

fn id_in(location: &str) -> i64 {
    location
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_resident_reports_with_a_photo_a_passer_by_joins_it_and_only_reporters_see_it() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    let ola = resident(app.pool(), utility_id, "mlynary", "ola@example.pl", 0).await;
    let jan_c = app.web_login("mlynary", &jan.email).await;
    let ola_c = app.web_login("mlynary", &ola.email).await;
    let csrf = app.web_csrf(&jan_c, "/u/mlynary/awarie/zglos").await;

    // Nothing chosen, nothing described, nowhere: each said at its field.
    let refused = send(
        &app,
        Some(&jan_c),
        "/u/mlynary/awarie/zglos",
        report_form(&csrf, &[("description", "")], None),
    )
    .await;
    assert_eq!(refused.status(), 422);
    let page = html_page(refused).await;
    assert!(page.contains("id=\"category-error\""), "{page}");
    let refused = send(
        &app,
        Some(&jan_c),
        "/u/mlynary/awarie/zglos",
        report_form(
            &csrf,
            &[
                ("category", "burst_pipe"),
                ("description", " "),
                ("lat", "54,1"),
            ],
            None,
        ),
    )
    .await;
    assert_eq!(refused.status(), 422);
    let page = html_page(refused).await;
    assert!(page.contains("id=\"description-error\"") && page.contains("id=\"lat-error\""));
    // A text file named like a photo is told by its content.
    let refused = send(
        &app,
        Some(&jan_c),
        "/u/mlynary/awarie/zglos",
        report_form(
            &csrf,
            &[
                ("category", "burst_pipe"),
                ("description", "Woda bije spod asfaltu."),
                ("address", "Lipowa 1, Testowo"),
            ],
            Some(b"not a picture at all".to_vec()),
        ),
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(html_page(refused).await.contains("id=\"photos-error\""));

    let filed = send(
        &app,
        Some(&jan_c),
        "/u/mlynary/awarie/zglos",
        report_form(
            &csrf,
            &[
                ("category", "burst_pipe"),
                ("description", "Woda bije spod asfaltu przed domem."),
                ("address", "Lipowa 1, Testowo"),
                ("lat", LAT),
                ("lon", LON),
            ],
            Some(ebok_testkit::fixtures::png_photo("54.1940 N, 19.6750 E")),
        ),
    )
    .await;
    assert_eq!(filed.status(), 303);
    let location = filed.headers()[LOCATION].to_str().unwrap().to_string();
    let id = id_in(&location);
    let page = app.web_get(&jan_c, &location).await.text().await.unwrap();
    assert!(
        page.contains("przyjęte") && page.contains("Pęknięta rura"),
        "{page}"
    );
    let photo_path = {
        let at = page.find("/zdjecia/").expect("the photo");
        let start = page[..at].rfind('"').unwrap() + 1;
        page[start..].split('"').next().unwrap().to_string()
    };
    let photo = app.web_get(&jan_c, &photo_path).await;
    assert_eq!(photo.status(), 200);
    assert_eq!(photo.headers()["content-type"], "image/png");
    let bytes = photo.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\x89PNG"));
    assert!(!bytes.windows(11).any(|w| w == b"GPSPosition"));
    assert!(
        app.web_get(&jan_c, "/u/mlynary/awarie")
            .await
            .text()
            .await
            .unwrap()
            .contains(&format!("/u/mlynary/awarie/{id}"))
    );

    // A passer-by 40 m away, without an account: offered Jan's report, joins it by e-mail.
    let offered = send(
        &app,
        None,
        "/u/mlynary/awarie/zglos",
        report_form(
            "",
            &[
                ("category", "burst_pipe"),
                ("description", "Wyciek na chodniku."),
                ("lat", "54,194360"),
                ("lon", LON),
                ("email", "przechodzien@example.pl"),
            ],
            None,
        ),
    )
    .await;
    assert_eq!(offered.status(), 200);
    let page = html_page(offered).await;
    assert!(page.contains("Czy to ta sama awaria?"), "{page}");
    // They are told how long their address is kept, as housekeeping keeps it.
    assert!(
        page.contains(&format!(
            "Adres usuniemy z naszych danych {} dni po zamknięciu zgłoszenia.",
            ebok_api::housekeeping::REPORTER_ADDRESS_DAYS
        )),
        "{page}"
    );
    assert!(page.contains(&format!("/u/mlynary/awarie/{id}/dolacz")));
    let joined = app
        .server
        .client
        .post(app.url(&format!("/u/mlynary/awarie/{id}/dolacz")))
        .header(ORIGIN, PORTAL_ORIGIN)
        .form(&[("email", "przechodzien@example.pl")])
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 200);
    assert!(
        html_page(joined)
            .await
            .contains(&format!("Dołączyliśmy Cię do zgłoszenia nr {id}"))
    );
    let reporters: i64 =
        sqlx::query_scalar("SELECT count(*) FROM failure_reporters WHERE report_id = $1")
            .bind(id)
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(reporters, 2);

    // Ola, another resident, and anybody without a session reach nothing of it.
    for path in [format!("/u/mlynary/awarie/{id}"), photo_path.clone()] {
        assert_eq!(app.web_get(&ola_c, &path).await.status(), 404, "{path}");
        let anonymous = app.server.get(&path).await;
        assert_eq!(anonymous.status(), 303, "{path}: to the login page");
    }
    // Once Ola joins, she follows the report, but another reporter's photo stays theirs.
    let ola_csrf = app.web_csrf(&ola_c, "/u/mlynary/awarie/zglos").await;
    let joined = app
        .web_post(
            &ola_c,
            &format!("/u/mlynary/awarie/{id}/dolacz"),
            &[("csrf", &ola_csrf)],
        )
        .await;
    assert_eq!(joined.status(), 303);
    let page = app
        .web_get(&ola_c, &format!("/u/mlynary/awarie/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Zgłaszających</dt><dd>3") && !page.contains("/zdjecia/"),
        "{page}"
    );
    assert_eq!(app.web_get(&ola_c, &photo_path).await.status(), 404);
    assert!(
        !page.contains("Woda bije spod asfaltu"),
        "the filer's words are theirs"
    );
    let other = utility(app.pool(), "inne").await;
    let foreign = resident(app.pool(), other, "inne", "obcy@example.pl", 0).await;
    let foreign_c = app.web_login("inne", &foreign.email).await;
    assert_eq!(
        app.web_get(&foreign_c, &format!("/u/inne/awarie/{id}"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn the_counter_sends_a_crew_the_technician_fixes_it_and_a_notice_is_made_of_a_failure() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    let clerk = staff(app.pool(), utility_id, "mlynary", "clerk").await;
    let crew = staff(app.pool(), utility_id, "mlynary", "technician").await;
    let other_crew = staff(app.pool(), utility_id, "mlynary", "technician").await;
    let billing = staff(app.pool(), utility_id, "mlynary", "billing").await;
    let clerk_c = app.staff_web_login(&clerk, 1).await;
    let crew_c = app.staff_web_login(&crew, 1).await;
    let other_crew_c = app.staff_web_login(&other_crew, 1).await;
    let billing_c = app.staff_web_login(&billing, 1).await;
    let jan_c = app.web_login("mlynary", &jan.email).await;
    let csrf = app.web_csrf(&jan_c, "/u/mlynary/awarie/zglos").await;
    let mut ids = Vec::new();
    for (category, lat) in [("no_water", LAT), ("sewer_blockage", "54,203000")] {
        let filed = send(
            &app,
            Some(&jan_c),
            "/u/mlynary/awarie/zglos",
            report_form(
                &csrf,
                &[
                    ("category", category),
                    ("description", "Od rana nie ma wody."),
                    ("address", "Lipowa 1, Testowo"),
                    ("lat", lat),
                    ("lon", LON),
                    ("different", "on"),
                ],
                None,
            ),
        )
        .await;
        assert_eq!(filed.status(), 303);
        ids.push(id_in(filed.headers()[LOCATION].to_str().unwrap()));
    }
    let (near, far) = (ids[1], ids[0]);

    // Nearest first from a point by the sewer report.
    let list = app
        .web_get(&clerk_c, "/panel/mlynary/awarie?lat=54,2031&lon=19,675")
        .await;
    assert_eq!(list.status(), 200);
    let page = list.text().await.unwrap();
    let (a, b) = (
        page.find(&format!("/panel/mlynary/awarie/{near}\""))
            .unwrap(),
        page.find(&format!("/panel/mlynary/awarie/{far}\""))
            .unwrap(),
    );
    assert!(a < b, "the nearer report first");
    assert!(page.contains("11 m") && page.contains("1,0 km"), "{page}");

    let report = format!("/panel/mlynary/awarie/{far}");
    let clerk_csrf = app.web_csrf(&clerk_c, &report).await;
    let step = |cookie: String, csrf: String, fields: Vec<(&'static str, String)>| {
        let app = &app;
        let path = format!("{report}/krok");
        async move {
            let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
            form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
            app.web_post(&cookie, &path, &form).await
        }
    };
    let verified = step(
        clerk_c.clone(),
        clerk_csrf.clone(),
        vec![("step", "verify".into())],
    )
    .await;
    assert_eq!(verified.status(), 303);
    let refused = step(
        clerk_c.clone(),
        clerk_csrf.clone(),
        vec![("step", "dispatch".into()), ("technician", "".into())],
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(html_page(refused).await.contains("id=\"technician-error\""));
    let dispatched = step(
        clerk_c.clone(),
        clerk_csrf.clone(),
        vec![
            ("step", "dispatch".into()),
            ("technician", crew.account_id.to_string()),
        ],
    )
    .await;
    assert_eq!(dispatched.status(), 303);

    // The crew sees its job; the other crew neither sees nor reaches it.
    let jobs = app.web_get(&crew_c, "/panel/mlynary/awarie").await;
    let page = jobs.text().await.unwrap();
    assert!(page.contains("Moje zlecenia") && page.contains(&report));
    assert!(!page.contains(&format!("/panel/mlynary/awarie/{near}\"")));
    assert_eq!(app.web_get(&other_crew_c, &report).await.status(), 404);
    let other_csrf = app.web_csrf(&other_crew_c, "/panel/mlynary/awarie").await;
    assert_eq!(
        step(
            other_crew_c.clone(),
            other_csrf,
            vec![("step", "fix".into())]
        )
        .await
        .status(),
        404
    );
    // A crew neither makes a notice of a report nor reads one through the notice form.
    assert_eq!(
        app.web_get(
            &crew_c,
            &format!("/panel/mlynary/komunikaty/nowy?zgloszenie={near}")
        )
        .await
        .status(),
        403
    );
    // A crew does not verify or send crews.
    let crew_csrf = app.web_csrf(&crew_c, &report).await;
    assert_eq!(
        step(
            crew_c.clone(),
            crew_csrf.clone(),
            vec![("step", "verify".into())]
        )
        .await
        .status(),
        403
    );

    // The counter makes a notice of the confirmed failure: the notice form, filled from it.
    let form = app
        .web_get(
            &clerk_c,
            &format!("/panel/mlynary/komunikaty/nowy?zgloszenie={far}"),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(form.contains("Brak wody: Lipowa 1, Testowo"), "{form}");
    let start = (chrono::Utc::now() - chrono::Duration::minutes(5))
        .with_timezone(&chrono_tz::Europe::Warsaw)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let announced = app
        .web_post(
            &clerk_c,
            "/panel/mlynary/komunikaty/nowy",
            &[
                ("csrf", &clerk_csrf),
                ("rodzaj", "failure"),
                ("tytul", "Brak wody: Lipowa 1, Testowo"),
                ("opis", "Ekipa na miejscu."),
                ("od", &start),
                ("do", ""),
                ("ulice", "Testowo, Lipowa"),
                ("miejscowosci", ""),
                ("zgloszenie", &far.to_string()),
            ],
        )
        .await;
    assert_eq!(announced.status(), 303);
    let outage: Option<i64> =
        sqlx::query_scalar("SELECT outage_id FROM failure_reports WHERE id = $1")
            .bind(far)
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert!(outage.is_some(), "the report links its notice");

    let fixed = step(crew_c.clone(), crew_csrf, vec![("step", "fix".into())]).await;
    assert_eq!(fixed.status(), 303);
    let page = app
        .web_get(&jan_c, &format!("/u/mlynary/awarie/{far}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("usunięte") && page.contains("Komunikat dla mieszkańców"),
        "{page}"
    );

    // Billing has no business here; another utility's clerk reaches nothing.
    assert_eq!(
        app.web_get(&billing_c, "/panel/mlynary/awarie")
            .await
            .status(),
        403
    );
    assert_eq!(app.web_get(&billing_c, &report).await.status(), 403);
    let other = utility(app.pool(), "inne").await;
    let foreign = staff(app.pool(), other, "inne", "clerk").await;
    let foreign_c = app.staff_web_login(&foreign, 1).await;
    assert_eq!(
        app.web_get(&foreign_c, &format!("/panel/inne/awarie/{far}"))
            .await
            .status(),
        404
    );
    let page = app
        .web_get(&foreign_c, "/panel/inne/awarie?wszystkie=on")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Nie ma zgłoszeń."));
}
