//! A resident's applications in the portal: a draft started from the list of e-services,
//! stopped while an attachment is missing (named at its field, the file already sent kept),
//! submitted and numbered; a requested supplement sent back with a file; another resident and
//! another utility's resident get 404.

use crate::support;

use chrono::{Datelike, Utc};
use ebok_cases::lifecycle::Action;
use ebok_cases::store::{self, Acting, Details};
use ebok_common::domain::time::local_day;
use reqwest::header::{COOKIE, LOCATION, ORIGIN};
use reqwest::multipart::{Form, Part};
use support::{App, PORTAL_ORIGIN, html_page, resident, utility};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n%%EOF\n";

fn answers(csrf: &str, action: &str) -> Form {
    let mut form = Form::new()
        .text("csrf", csrf.to_string())
        .text("czynnosc", action.to_string());
    for (k, v) in [
        ("applicant_kind", "person"),
        ("applicant_name", "Jan Kowalski"),
        ("pesel", "44051401359"),
        ("street", "Polna 1"),
        ("postal_code", "14-420"),
        ("city", "Młynary"),
        ("property_address", "Polna 3, Młynary"),
        ("plot_number", "dz. 12/3, obręb 0005"),
        ("purpose", "single_family"),
        ("water_demand", "0,5"),
    ] {
        form = form.text(format!("f_{k}"), v.to_string());
    }
    form.text("f_services.water", "on")
}

fn file(name: &str, bytes: &[u8]) -> Part {
    Part::bytes(bytes.to_vec()).file_name(name.to_string())
}

async fn send(app: &App, cookie: &str, path: &str, form: Form) -> reqwest::Response {
    app.server
        .client
        .post(app.url(path))
        .header(COOKIE, cookie)
        .header(ORIGIN, PORTAL_ORIGIN)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_resident_files_an_application_completes_it_and_sends_a_supplement() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    let cookie = app.web_login("mlynary", &jan.email).await;

    let list = html_page(app.web_get(&cookie, "/u/mlynary/sprawy").await).await;
    assert!(list.contains("Warunki techniczne przyłączenia") && list.contains("Pismo ogólne"));
    let csrf = app.web_csrf(&cookie, "/u/mlynary/sprawy").await;
    let started = app
        .web_post(
            &cookie,
            "/u/mlynary/sprawy/nowa",
            &[("csrf", &csrf), ("typ", "connection_conditions")],
        )
        .await;
    assert_eq!(started.status(), 303);
    let page = started.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(page.starts_with("/u/mlynary/sprawy/"), "{page}");
    let form = html_page(app.web_get(&cookie, &page).await).await;
    assert!(form.contains("name=\"f_pesel\"") && form.contains("name=\"plik_site_plan\""));

    // Submitted without the site plan: shown again, the plan named, the title deed kept.
    let first = send(
        &app,
        &cookie,
        &page,
        answers(&csrf, "zloz").part("plik_legal_title", file("akt.pdf", PDF)),
    )
    .await;
    assert_eq!(first.status(), 422);
    let again = html_page(first).await;
    assert!(
        again.contains("Dołącz: mapa sytuacyjna w skali 1:500 lub 1:1000."),
        "{again}"
    );
    assert!(again.contains("akt.pdf"));
    assert!(again.contains("value=\"Jan Kowalski\""));
    // A file that is not what it says it is: refused at its field.
    let fake = send(
        &app,
        &cookie,
        &page,
        answers(&csrf, "zapisz").part("plik_site_plan", file("mapa.pdf", b"MZ\x90\x00")),
    )
    .await;
    assert_eq!(fake.status(), 422);
    assert!(html_page(fake).await.contains("sprawdzamy zawartość pliku"));

    let done = send(
        &app,
        &cookie,
        &page,
        answers(&csrf, "zloz").part("plik_site_plan", file("mapa.pdf", PDF)),
    )
    .await;
    assert_eq!(done.status(), 303);
    assert!(
        done.headers()[LOCATION]
            .to_str()
            .unwrap()
            .ends_with("?zlozono=1")
    );
    let year = local_day(Utc::now()).year();
    let case = html_page(app.web_get(&cookie, &page).await).await;
    assert!(
        case.contains(&format!("WTP/{year}/000001")) && case.contains("Przyjęty"),
        "{case}"
    );
    assert!(case.contains("Termin załatwienia"));

    // Staff ask for a supplement; the resident sees why and sends a file.
    let id: i64 = page.rsplit('/').next().unwrap().parse().unwrap();
    let clerk = support::staff(app.pool(), utility_id, "mlynary", "clerk").await;
    let mut tx = app.pool().begin().await.unwrap();
    let acting = Acting::Staff {
        account_id: clerk.account_id,
        manager: false,
    };
    let today = local_day(Utc::now());
    store::act(
        &mut tx,
        utility_id,
        id,
        acting,
        Action::Assign,
        &Details::default(),
        today,
    )
    .await
    .unwrap();
    let why = Details {
        note: Some("Mapa jest nieczytelna."),
        ..Details::default()
    };
    store::act(
        &mut tx,
        utility_id,
        id,
        acting,
        Action::RequestSupplement,
        &why,
        today,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let waiting = html_page(app.web_get(&cookie, &page).await).await;
    assert!(waiting.contains("Mapa jest nieczytelna.") && waiting.contains("Wyślij uzupełnienie"));
    let act = format!("{page}/czynnosc");
    let empty = send(
        &app,
        &cookie,
        &act,
        Form::new()
            .text("csrf", csrf.clone())
            .text("czynnosc", "uzupelnij"),
    )
    .await;
    assert_eq!(empty.status(), 422);
    let sent = send(
        &app,
        &cookie,
        &act,
        Form::new()
            .text("csrf", csrf.clone())
            .text("czynnosc", "uzupelnij")
            .part(
                "plik_site_plan",
                file("mapa-2.pdf", b"%PDF-1.7\n% a sharper scan\n%%EOF\n"),
            ),
    )
    .await;
    assert_eq!(sent.status(), 303);
    let back = html_page(app.web_get(&cookie, &page).await).await;
    assert!(
        back.contains("W realizacji") && back.contains("mapa-2.pdf</a> (1 kB) — uzupełnienie"),
        "{back}"
    );

    // Nobody else sees it.
    let ewa = resident(app.pool(), utility_id, "mlynary", "ewa@example.pl", 0).await;
    let ewa_cookie = app.web_login("mlynary", &ewa.email).await;
    assert_eq!(app.web_get(&ewa_cookie, &page).await.status(), 404);
    let ewa_csrf = app.web_csrf(&ewa_cookie, "/u/mlynary/sprawy").await;
    let taken = send(
        &app,
        &ewa_cookie,
        &act,
        Form::new()
            .text("csrf", ewa_csrf)
            .text("czynnosc", "wycofaj"),
    )
    .await;
    assert_eq!(taken.status(), 404);
    let other = utility(app.pool(), "paslek").await;
    let ola = resident(app.pool(), other, "paslek", "ola@example.pl", 0).await;
    let ola_cookie = app.web_login("paslek", &ola.email).await;
    assert_eq!(
        app.web_get(&ola_cookie, &format!("/u/paslek/sprawy/{id}"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn the_history_gathers_a_residents_cases_and_letters_and_no_one_elses() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    let ola = resident(app.pool(), utility_id, "mlynary", "ola@example.pl", 0).await;
    let today = local_day(Utc::now());
    let acting = Acting::Resident {
        account_id: jan.account_id,
    };
    let mut tx = app.pool().begin().await.unwrap();
    let id = store::start_draft(
        &mut tx,
        utility_id,
        "general_letter",
        jan.account_id,
        None,
        None,
    )
    .await
    .unwrap();
    let answers: ebok_cases::form::Answers =
        [("subject", "Pytanie o taryfę"), ("content", "Treść.")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    store::save_answers(&mut tx, utility_id, id, acting, &answers)
        .await
        .unwrap();
    let number = store::submit(&mut tx, utility_id, id, acting, today)
        .await
        .unwrap()
        .to_string();
    tx.commit().await.unwrap();
    // A notice in the inbox, as the dispatcher writes them.
    sqlx::query(
        "INSERT INTO notifications (utility_id, account_id, outbox_id, category, kind, title, body)
         SELECT $1, $2, o.id, 'case_stages', o.kind, 'Sprawa przyjęta', 'Treść powiadomienia.'
         FROM outbox o WHERE o.recipient_account_id = $2 ORDER BY o.id LIMIT 1",
    )
    .bind(utility_id)
    .bind(jan.account_id)
    .execute(app.pool())
    .await
    .unwrap();

    let cookie = app.web_login("mlynary", &jan.email).await;
    let all = html_page(app.web_get(&cookie, "/u/mlynary/historia").await).await;
    assert!(all.contains(&number) && all.contains("Przyjęty"), "{all}");
    assert!(all.contains("Potwierdzenie złożenia wniosku w sprawie"));
    assert!(all.contains("Sprawa przyjęta"));
    let documents = html_page(
        app.web_get(&cookie, "/u/mlynary/historia?rodzaj=dokumenty")
            .await,
    )
    .await;
    assert!(documents.contains(&format!("potwierdzenie-{}.pdf", number.replace('/', "-"))));
    assert!(!documents.contains("Sprawa przyjęta"));
    let notices = html_page(
        app.web_get(&cookie, "/u/mlynary/historia?rodzaj=powiadomienia")
            .await,
    )
    .await;
    assert!(notices.contains("Sprawa przyjęta") && !notices.contains(&number));
    // Another resident's history has none of it; without a session, the sign-in page.
    let other = app.web_login("mlynary", &ola.email).await;
    let theirs = html_page(app.web_get(&other, "/u/mlynary/historia").await).await;
    assert!(!theirs.contains(&number) && !theirs.contains("Sprawa przyjęta"));
    let anonymous = app
        .server
        .client
        .get(app.url("/u/mlynary/historia"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
}
