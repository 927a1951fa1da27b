//! A supply contract from offer to the customer card: the resident reads the contract PDF and
//! signs it with their password (a wrong one is refused at the field); anyone holding the PDF
//! checks it on the public page (a changed file is not found); the clerk concludes it into
//! billing and the contract appears on the staff customer card; internal notes stay with staff;
//! the resident rates the finished case. Another resident, another utility and a technician
//! reach none of it.

use crate::support;

use chrono::Utc;
use ebok_cases::form::Answers;
use ebok_cases::lifecycle::Action;
use ebok_cases::store::{self, Acting, Details};
use ebok_common::domain::time::local_day;
use ebok_testkit::fixtures;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, ORIGIN};
use reqwest::multipart::{Form, Part};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use support::{App, PASSWORD, PORTAL_ORIGIN, html_page, resident, staff, utility};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n%%EOF\n";

/// A supply-contract case of the resident, approved and its contract offered by `clerk`.
async fn offered(
    pool: &PgPool,
    utility_id: i64,
    account_id: i64,
    customer_id: i64,
    clerk: i64,
) -> i64 {
    let today = local_day(Utc::now());
    let mut tx = pool.begin().await.unwrap();
    let id = store::start_draft(
        &mut tx,
        utility_id,
        "supply_contract",
        account_id,
        Some(customer_id),
        None,
    )
    .await
    .unwrap();
    let resident = Acting::Resident { account_id };
    let answers: Answers = [
        ("applicant_kind", "person"),
        ("applicant_name", "Jan Kowalski"),
        ("pesel", "44051401359"),
        ("street", "Polna 1"),
        ("postal_code", "14-420"),
        ("city", "Młynary"),
        ("supply_address", "Polna 3, Młynary"),
        ("services", "water,sewage"),
        ("legal_title_kind", "ownership"),
        ("start_on", &(today + chrono::Days::new(10)).to_string()),
        ("email", "jan@example.pl"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    store::save_answers(&mut tx, utility_id, id, resident, &answers)
        .await
        .unwrap();
    for rule in ["legal_title", "id_document"] {
        store::attach(&mut tx, utility_id, id, resident, rule, "skan.pdf", PDF)
            .await
            .unwrap();
    }
    store::submit(&mut tx, utility_id, id, resident, today)
        .await
        .unwrap();
    let clerk = Acting::Staff {
        account_id: clerk,
        manager: false,
    };
    for action in [Action::Assign, Action::Approve, Action::OfferContract] {
        store::act(
            &mut tx,
            utility_id,
            id,
            clerk,
            action,
            &Details::default(),
            today,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    id
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

#[tokio::test]
async fn a_contract_is_signed_with_the_password_checked_in_public_and_concluded_onto_the_card() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    let ewa = staff(app.pool(), utility_id, "mlynary", "clerk").await;
    let id = offered(
        app.pool(),
        utility_id,
        jan.account_id,
        jan.customer_id,
        ewa.account_id,
    )
    .await;
    let page = format!("/u/mlynary/sprawy/{id}");
    let jan_cookie = app.web_login("mlynary", &jan.email).await;

    // The resident reads the contract and the acknowledgement before signing.
    let case = html_page(app.web_get(&jan_cookie, &page).await).await;
    assert!(
        case.contains("Umowa do podpisu") && case.contains("name=\"haslo\""),
        "{case}"
    );
    let doc: i64 = sqlx::query_scalar(
        "SELECT document_id FROM case_events WHERE case_id = $1 AND document_kind = 'contract'",
    )
    .bind(id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    let letter = format!("{page}/dokumenty/{doc}");
    assert!(case.contains(&letter));
    let got = app.web_get(&jan_cookie, &letter).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()[CONTENT_TYPE], "application/pdf");
    let contract_pdf = got.bytes().await.unwrap().to_vec();
    assert!(contract_pdf.starts_with(b"%PDF-"));
    // Another resident of the utility: not found, as for an unknown case.
    let ola = resident(app.pool(), utility_id, "mlynary", "ola@example.pl", 0).await;
    let ola_cookie = app.web_login("mlynary", &ola.email).await;
    assert_eq!(app.web_get(&ola_cookie, &letter).await.status(), 404);

    // A wrong password: refused at the field, nothing signed.
    let csrf = app.web_csrf(&jan_cookie, &page).await;
    let sign = |password: &str| {
        Form::new()
            .text("csrf", csrf.clone())
            .text("czynnosc", "podpisz")
            .text("haslo", password.to_string())
    };
    let wrong = send(
        &app,
        Some(&jan_cookie),
        &format!("{page}/czynnosc"),
        sign("nie to hasło"),
    )
    .await;
    assert_eq!(wrong.status(), 422);
    assert!(html_page(wrong).await.contains("Hasło jest nieprawidłowe."));
    let signatures = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM signatures WHERE case_id = $1")
            .bind(id)
            .fetch_one(app.pool())
            .await
            .unwrap()
    };
    assert_eq!(signatures().await, 0);
    let signed = send(
        &app,
        Some(&jan_cookie),
        &format!("{page}/czynnosc"),
        sign(PASSWORD),
    )
    .await;
    assert_eq!(signed.status(), 303);
    let (sha, method): (Vec<u8>, String) =
        sqlx::query_as("SELECT sha256, method FROM signatures WHERE case_id = $1")
            .bind(id)
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(sha, Sha256::digest(&contract_pdf).to_vec());
    assert_eq!(method, "password");
    let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
    let case = html_page(app.web_get(&jan_cookie, &page).await).await;
    assert!(
        case.contains("Umowa podpisana") && case.contains(&hex),
        "{case}"
    );

    // Anyone checks the PDF, or its hash, without logging in; a changed file is not found.
    let check = "/u/mlynary/weryfikacja-dokumentu";
    let home = html_page(
        app.server
            .client
            .get(app.url("/u/mlynary/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(home.contains(check));
    let upload =
        |bytes: Vec<u8>| Form::new().part("plik", Part::bytes(bytes).file_name("umowa.pdf"));
    let same = send(&app, None, check, upload(contract_pdf.clone())).await;
    assert_eq!(same.status(), 200);
    let same = html_page(same).await;
    assert!(
        same.contains("Dokument jest zgodny")
            && same.contains("Umowa")
            && same.contains("Mieszkaniec"),
        "{same}"
    );
    let mut changed = contract_pdf.clone();
    changed.extend_from_slice(b"\n% dopisek\n");
    let other = send(&app, None, check, upload(changed)).await;
    assert_eq!(other.status(), 404);
    assert!(
        html_page(other)
            .await
            .contains("Nie znaleziono takiego dokumentu")
    );
    let by_hash = send(
        &app,
        None,
        check,
        Form::new().text("skrot", hex.to_uppercase()),
    )
    .await;
    assert_eq!(by_hash.status(), 200);
    let garbled = send(&app, None, check, Form::new().text("skrot", "abc")).await;
    assert_eq!(garbled.status(), 422);
    assert!(html_page(garbled).await.contains("64 znaki"));
    // Another utility never issued it.
    fixtures::utility(app.pool(), "paslek").await;
    let elsewhere = send(
        &app,
        None,
        "/u/paslek/weryfikacja-dokumentu",
        upload(contract_pdf),
    )
    .await;
    assert_eq!(elsewhere.status(), 404);

    // The clerk concludes it: a wrong point is named, then the contract is on the card.
    let staff_page = format!("/panel/mlynary/sprawy/{id}");
    let ewa_cookie = app.staff_web_login(&ewa, 0).await;
    let office = html_page(app.web_get(&ewa_cookie, &staff_page).await).await;
    assert!(office.contains("Zawarcie umowy"), "{office}");
    let customer_number: String =
        sqlx::query_scalar("SELECT customer_number FROM customers WHERE id = $1")
            .bind(jan.customer_id)
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert!(office.contains(&format!("value=\"{customer_number}\"")));
    let point = fixtures::supply_point(app.pool(), utility_id).await;
    let point_code: String = sqlx::query_scalar("SELECT code FROM supply_points WHERE id = $1")
        .bind(point)
        .fetch_one(app.pool())
        .await
        .unwrap();
    let staff_csrf = app.web_csrf(&ewa_cookie, &staff_page).await;
    let from = (local_day(Utc::now()) + chrono::Days::new(10)).to_string();
    let conclude = |point: &str| {
        vec![
            ("csrf", staff_csrf.clone()),
            ("klient", customer_number.clone()),
            ("punkt", point.to_string()),
            ("taryfa", "G1".to_string()),
            ("od", from.clone()),
        ]
    };
    let post = |path: String, fields: Vec<(&'static str, String)>, cookie: String| {
        let request = app
            .server
            .client
            .post(app.url(&path))
            .header(COOKIE, cookie)
            .header(ORIGIN, PORTAL_ORIGIN)
            .form(&fields);
        async move { request.send().await.unwrap() }
    };
    let no_point = post(
        format!("{staff_page}/umowa"),
        conclude("PP-NIE-MA"),
        ewa_cookie.clone(),
    )
    .await;
    assert_eq!(no_point.status(), 422);
    assert!(
        html_page(no_point)
            .await
            .contains("Nie ma punktu poboru o tym kodzie.")
    );
    // A technician may not; another utility's clerk does not find the case.
    let tech = staff(app.pool(), utility_id, "mlynary", "technician").await;
    let tech_cookie = app.staff_web_login(&tech, 0).await;
    let tech_csrf = app.web_csrf(&tech_cookie, "/panel/mlynary/").await;
    let mut as_tech = conclude(&point_code);
    as_tech[0].1 = tech_csrf;
    assert_eq!(
        post(format!("{staff_page}/umowa"), as_tech, tech_cookie)
            .await
            .status(),
        403
    );
    let paslek_id: i64 = sqlx::query_scalar("SELECT id FROM utilities WHERE slug = 'paslek'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    let stranger = staff(app.pool(), paslek_id, "paslek", "admin").await;
    let stranger_cookie = app.staff_web_login(&stranger, 0).await;
    assert_eq!(
        app.web_get(&stranger_cookie, &format!("/panel/paslek/sprawy/{id}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.web_get(
            &stranger_cookie,
            &format!("/panel/paslek/sprawy/{id}/dokumenty/{doc}")
        )
        .await
        .status(),
        404
    );
    // Only the applicant's customer, from the day the resident signed.
    let ola_number: String =
        sqlx::query_scalar("SELECT customer_number FROM customers WHERE id = $1")
            .bind(ola.customer_id)
            .fetch_one(app.pool())
            .await
            .unwrap();
    let mut someone_else = conclude(&point_code);
    someone_else[1].1 = ola_number;
    let refused = post(
        format!("{staff_page}/umowa"),
        someone_else,
        ewa_cookie.clone(),
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(
        html_page(refused)
            .await
            .contains("Wniosek dotyczy innego klienta")
    );
    let mut another_day = conclude(&point_code);
    another_day[4].1 = (local_day(Utc::now()) + chrono::Days::new(11)).to_string();
    let refused = post(
        format!("{staff_page}/umowa"),
        another_day,
        ewa_cookie.clone(),
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(
        html_page(refused)
            .await
            .contains("Podpisana umowa obowiązuje od")
    );
    let linked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM account_customers WHERE account_id = $1 AND customer_id = $2",
    )
    .bind(jan.account_id)
    .bind(ola.customer_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(linked, 0, "nobody else's customer is linked");
    let done = post(
        format!("{staff_page}/umowa"),
        conclude(&point_code),
        ewa_cookie.clone(),
    )
    .await;
    assert_eq!(done.status(), 303, "{}", html_page(done).await);
    let (state, contract): (String, String) = sqlx::query_as(
        "SELECT c.state::text, k.number FROM cases c JOIN contracts k ON k.id = c.contract_id
         WHERE c.id = $1",
    )
    .bind(id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(state, "concluded");
    let card = html_page(
        app.web_get(
            &ewa_cookie,
            &format!("/panel/mlynary/klienci/{}", jan.customer_id),
        )
        .await,
    )
    .await;
    assert!(
        card.contains(&contract) && card.contains(&point_code),
        "{card}"
    );

    // An internal note: on the staff page, never on the resident's.
    let noted = post(
        format!("{staff_page}/notatki"),
        vec![
            ("csrf", staff_csrf.clone()),
            ("notatka", "Klient prosił o kontakt po 16.".to_string()),
        ],
        ewa_cookie.clone(),
    )
    .await;
    assert_eq!(noted.status(), 303);
    assert!(
        html_page(app.web_get(&ewa_cookie, &staff_page).await)
            .await
            .contains("Klient prosił o kontakt po 16.")
    );
    let case = html_page(app.web_get(&jan_cookie, &page).await).await;
    assert!(!case.contains("Klient prosił o kontakt"));
    assert!(case.contains(&contract));

    // Closed, the resident rates it once; staff read the rating.
    let closed = post(
        staff_page.clone(),
        vec![
            ("csrf", staff_csrf.clone()),
            ("czynnosc", "zakoncz".to_string()),
        ],
        ewa_cookie.clone(),
    )
    .await;
    assert_eq!(closed.status(), 303);
    let rate = Form::new()
        .text("csrf", csrf.clone())
        .text("czynnosc", "ocen")
        .text("ocena", "5")
        .text("komentarz", "Szybko i bez wizyty w biurze.");
    let rated = send(&app, Some(&jan_cookie), &format!("{page}/czynnosc"), rate).await;
    assert_eq!(rated.status(), 303);
    assert!(
        html_page(app.web_get(&ewa_cookie, &staff_page).await)
            .await
            .contains("5 z 5")
    );
    assert!(
        rated.headers()[LOCATION]
            .to_str()
            .unwrap()
            .ends_with("?zrobione=1")
    );
}
