//! Cases end to end in a real headless Chromium, resident and clerk at the same portal:
//! - a resident files a connection-conditions application with its attachments (and is stopped
//!   while the site plan is missing), the clerk asks for a supplement, the resident sends it,
//!   the clerk approves, the resident downloads the decision; the clerk starts a letter in the
//!   resident's name, which is not handed over while incomplete;
//! - a resident signs the offered supply contract with their password and the clerk concludes
//!   it: the contract is on the customer card.
//!
//! axe-core checks every page on the way: none may have a serious or critical violation.

use chrono::{Days, Utc};
use ebok_cases::form::Answers;
use ebok_cases::lifecycle::Action;
use ebok_cases::store::{self, Acting, Details};
use ebok_common::domain::time::local_day;
use ebok_testkit::browser::Browser;
use ebok_testkit::{TestDb, fixtures};

use crate::journeys;

use journeys::{EMAIL, Office, RESIDENT_PASSWORD, fetch, link_to};

/// The files a resident attaches.
fn files() -> tempfile::TempDir {
    let files = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("akt.pdf", b"%PDF-1.7\n% akt notarialny\n%%EOF\n".as_slice()),
        ("mapa.pdf", b"%PDF-1.7\n% mapa 1:500\n%%EOF\n".as_slice()),
        (
            "mapa-poprawiona.pdf",
            b"%PDF-1.7\n% mapa z przebiegiem\n%%EOF\n".as_slice(),
        ),
    ] {
        std::fs::write(files.path().join(name), bytes).unwrap();
    }
    files
}

fn file(files: &tempfile::TempDir, name: &str) -> String {
    files.path().join(name).to_string_lossy().into_owned()
}

/// Chooses `path` for the file input named `name`, as a person picks a file.
async fn attach(browser: &Browser, name: &str, path: &str) {
    browser
        .find(&format!("input[type=file][name={name}]"))
        .await
        .send_keys(path)
        .await
        .unwrap_or_else(|e| panic!("choosing {path} for {name}: {e}"));
}

#[tokio::test]
async fn a_connection_application_goes_through_a_supplement_to_a_decision_the_resident_downloads() {
    let db = TestDb::new().await;
    let office = Office::start(&db.pool).await;
    let files = files();
    let browser = Browser::start().await;

    // The resident starts the application from the list of e-services.
    office.resident_signs_in(&browser).await;
    browser.goto(&office.portal("sprawy")).await;
    browser.assert_no_serious_violations("cases").await;
    browser
        .submit("form:has(input[value=connection_conditions])")
        .await;
    let case_path = browser.current_path().await;
    browser
        .assert_no_serious_violations("application form")
        .await;
    for (field, value) in [
        ("f_applicant_kind", "person"),
        ("f_applicant_name", "Jan Kowalski"),
        ("f_pesel", "44051401359"),
        ("f_street", "Polna 1"),
        ("f_postal_code", "14-420"),
        ("f_city", "Młynary"),
        ("f_property_address", "Polna 3, Młynary"),
        ("f_plot_number", "dz. 12/3, obręb 0005"),
        ("f_purpose", "single_family"),
        ("f_water_demand", "0,5"),
    ] {
        browser.fill(field, value).await;
    }
    browser.check("f_services.water").await;
    attach(&browser, "plik_legal_title", &file(&files, "akt.pdf")).await;
    // Without the site plan: stopped, the plan named at its place, the rest kept.
    browser.click_and_wait("button[value=zloz]").await;
    let stopped = browser
        .wait_for_text("main", "Dołącz: mapa sytuacyjna")
        .await;
    assert!(stopped.contains("akt.pdf"), "{stopped}");
    browser
        .assert_no_serious_violations("application with an attachment missing")
        .await;
    attach(&browser, "plik_site_plan", &file(&files, "mapa.pdf")).await;
    browser.click_and_wait("button[value=zloz]").await;
    let year = chrono::Datelike::year(&local_day(Utc::now()));
    let number = format!("WTP/{year}/000001");
    let submitted = browser.wait_for_text("main", &number).await;
    assert!(submitted.contains("Przyjęty"), "{submitted}");
    assert!(submitted.contains("Potwierdzenie złożenia wniosku"));
    browser.assert_no_serious_violations("case submitted").await;
    let id: i64 = case_path.rsplit('/').next().unwrap().parse().unwrap();

    // The clerk takes it and asks for a supplement, with the reason.
    office.clerk_signs_in(&browser).await;
    browser.goto(&office.panel("sprawy?widok=nowe")).await;
    browser
        .click_and_wait(&format!("a[href$='/sprawy/{id}']"))
        .await;
    browser.click_and_wait("button[value=przydziel]").await;
    browser
        .fill(
            "uzasadnienie",
            "Na mapie brakuje przebiegu przyłącza: prosimy o mapę z zaznaczonym przebiegiem.",
        )
        .await;
    browser.click_and_wait("button[value=uzupelnienie]").await;
    browser
        .wait_for_text("main", "Oczekuje na uzupełnienie")
        .await;
    browser
        .assert_no_serious_violations("supplement requested")
        .await;

    // The resident reads why and sends the corrected plan.
    browser.goto(&format!("{}{case_path}", office.url)).await;
    let asked = browser.text("main").await;
    assert!(asked.contains("brakuje przebiegu przyłącza"), "{asked}");
    browser
        .assert_no_serious_violations("case awaiting a supplement")
        .await;
    attach(
        &browser,
        "plik_site_plan",
        &file(&files, "mapa-poprawiona.pdf"),
    )
    .await;
    browser.click_and_wait("button[value=uzupelnij]").await;
    let sent = browser.wait_for_text("main", "mapa-poprawiona.pdf").await;
    assert!(sent.contains("W realizacji"), "{sent}");

    // The clerk approves; the decision is a letter of the case.
    browser.goto(&office.panel(&format!("sprawy/{id}"))).await;
    browser
        .fill(
            "uzasadnienie",
            "Sieć wodociągowa w ulicy Polnej ma wolną przepustowość.",
        )
        .await;
    browser.click_and_wait("button[value=pozytywnie]").await;
    browser
        .wait_for_text("main", "Rozpatrzony pozytywnie")
        .await;
    browser.assert_no_serious_violations("case approved").await;

    // The resident downloads the decision; another resident could not.
    browser.goto(&format!("{}{case_path}", office.url)).await;
    browser
        .wait_for_text("main", "Rozpatrzony pozytywnie")
        .await;
    browser.assert_no_serious_violations("case decided").await;
    let decision = link_to(&browser, "decyzja-WTP").await;
    let (status, head) = fetch(&browser, &decision).await;
    assert_eq!((status, &head[..5]), (200, b"%PDF-".as_slice()));
    let neighbour = fixtures::household(&db.pool, office.utility_id, "ola@example.pl").await;
    let mut conn = db.pool.acquire().await.unwrap();
    let doc: i64 = decision.rsplit('/').next().unwrap().parse().unwrap();
    assert!(
        ebok_cases::views::letter(
            &mut conn,
            office.utility_id,
            id,
            doc,
            ebok_cases::views::Scope::Resident {
                account_id: neighbour.account_id
            },
        )
        .await
        .unwrap()
        .is_none()
    );
    drop(conn);

    // The clerk fills a letter in the resident's name from the customer card: incomplete, it
    // is not handed over, each field to put right named.
    browser
        .goto(&office.panel(&format!("klienci/{}", office.home.customer_id)))
        .await;
    browser.fill("typ", "general_letter").await;
    browser.submit("form[action$='/wniosek']").await;
    browser.find("input[name=f_subject]").await;
    browser
        .assert_no_serious_violations("application in the resident's name")
        .await;
    browser.click_and_wait("button[value=przekaz]").await;
    browser
        .wait_for_text("main", "Wniosek jest niekompletny")
        .await;
    browser
        .assert_no_serious_violations("application in the resident's name, incomplete")
        .await;

    browser.close().await;
    office.stop().await;
}

#[tokio::test]
async fn a_supply_contract_is_signed_in_the_browser_and_lands_on_the_customer_card() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let office = Office::start(pool).await;
    let today = local_day(Utc::now());
    let start = today + Days::new(14);
    // The application, approved and its contract offered.
    let resident = Acting::Resident {
        account_id: office.home.account_id,
    };
    let mut tx = pool.begin().await.unwrap();
    let id = store::start_draft(
        &mut tx,
        office.utility_id,
        "supply_contract",
        office.home.account_id,
        Some(office.home.customer_id),
        None,
    )
    .await
    .unwrap();
    let answers: Answers = [
        ("applicant_kind", "person"),
        ("applicant_name", "Jan Kowalski"),
        ("pesel", "44051401359"),
        ("street", "Polna 1"),
        ("postal_code", "14-420"),
        ("city", "Młynary"),
        ("supply_address", "Polna 3, Młynary"),
        ("services", "water"),
        ("legal_title_kind", "ownership"),
        ("start_on", &start.to_string()),
        ("email", EMAIL),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    store::save_answers(&mut tx, office.utility_id, id, resident, &answers)
        .await
        .unwrap();
    for rule in ["legal_title", "id_document"] {
        store::attach(
            &mut tx,
            office.utility_id,
            id,
            resident,
            rule,
            "skan.pdf",
            b"%PDF-1.7\n%%EOF\n",
        )
        .await
        .unwrap();
    }
    store::submit(&mut tx, office.utility_id, id, resident, today)
        .await
        .unwrap();
    let clerk = Acting::Staff {
        account_id: office.clerk,
        manager: false,
    };
    for action in [Action::Assign, Action::Approve, Action::OfferContract] {
        store::act(
            &mut tx,
            office.utility_id,
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
    let point = fixtures::supply_point(pool, office.utility_id).await;
    let point_code: String = sqlx::query_scalar("SELECT code FROM supply_points WHERE id = $1")
        .bind(point)
        .fetch_one(pool)
        .await
        .unwrap();

    // The resident reads the contract, then signs it with the password.
    let browser = Browser::start().await;
    office.resident_signs_in(&browser).await;
    browser.goto(&office.portal(&format!("sprawy/{id}"))).await;
    browser.wait_for_text("main", "Umowa do podpisu").await;
    browser
        .assert_no_serious_violations("contract to sign")
        .await;
    let contract = link_to(&browser, "umowa-UMW").await;
    let (status, head) = fetch(&browser, &contract).await;
    assert_eq!((status, &head[..5]), (200, b"%PDF-".as_slice()));
    browser.fill("haslo", "nie to hasło").await;
    browser.click_and_wait("button[value=podpisz]").await;
    browser
        .wait_for_text("main", "Hasło jest nieprawidłowe.")
        .await;
    browser
        .assert_no_serious_violations("contract with a wrong password")
        .await;
    browser.fill("haslo", RESIDENT_PASSWORD).await;
    browser.click_and_wait("button[value=podpisz]").await;
    let signed = browser.wait_for_text("main", "Umowa podpisana").await;
    assert!(signed.contains("SHA-256"), "{signed}");
    browser
        .assert_no_serious_violations("contract signed")
        .await;

    // The clerk concludes it into billing and finds it on the customer card.
    office.clerk_signs_in(&browser).await;
    browser.goto(&office.panel(&format!("sprawy/{id}"))).await;
    browser.wait_for_text("main", "Zawarcie umowy").await;
    browser
        .assert_no_serious_violations("case with a signed contract")
        .await;
    browser.fill("punkt", &point_code).await;
    browser.fill("taryfa", "G1").await;
    browser.submit("form[action$='/umowa']").await;
    browser.wait_for_text("main", "Umowa zawarta").await;
    browser
        .assert_no_serious_violations("contract concluded")
        .await;
    let number: String = sqlx::query_scalar(
        "SELECT k.number FROM cases c JOIN contracts k ON k.id = c.contract_id WHERE c.id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap();
    browser
        .click_and_wait(&format!(
            "main a[href$='/klienci/{}']",
            office.home.customer_id
        ))
        .await;
    let card = browser.wait_for_text("main", &number).await;
    assert!(card.contains(&point_code), "{card}");
    browser
        .assert_no_serious_violations("customer card with the new contract")
        .await;

    browser.close().await;
    office.stop().await;
}
