//! Cases in the back office: a clerk takes a case from the queue and asks for a supplement
//! (with the reason the resident is told), another clerk may not decide it, an admin reassigns
//! it; files are downloaded by the utility's staff and the case's resident only; a technician
//! has no case pages.

use crate::support;

use chrono::Utc;
use ebok_cases::form::Answers;
use ebok_cases::store::{self, Acting};
use ebok_common::domain::time::local_day;
use reqwest::header::{CONTENT_DISPOSITION, LOCATION};
use sqlx::PgPool;
use support::{App, html_page, resident, staff, utility};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n%%EOF\n";

/// A submitted general letter of the resident with one file: (case id, attachment id).
async fn letter(pool: &PgPool, utility_id: i64, account_id: i64) -> (i64, i64) {
    let mut tx = pool.begin().await.unwrap();
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
    let acting = Acting::Resident { account_id };
    let answers: Answers = [
        ("subject", "Przyłącze"),
        ("content", "Proszę o informację."),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    store::save_answers(&mut tx, utility_id, id, acting, &answers)
        .await
        .unwrap();
    let file = store::attach(
        &mut tx,
        utility_id,
        id,
        acting,
        "files",
        "zażółć mapa.pdf",
        PDF,
    )
    .await
    .unwrap();
    store::submit(&mut tx, utility_id, id, acting, local_day(Utc::now()))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (id, file)
}

#[tokio::test]
async fn clerks_take_and_handle_cases_and_admins_reassign_them() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    let (id, file) = letter(app.pool(), utility_id, jan.account_id).await;
    let ewa = staff(app.pool(), utility_id, "mlynary", "clerk").await;
    let ola = staff(app.pool(), utility_id, "mlynary", "clerk").await;
    let szef = staff(app.pool(), utility_id, "mlynary", "admin").await;
    let tech = staff(app.pool(), utility_id, "mlynary", "technician").await;
    let page = format!("/panel/mlynary/sprawy/{id}");

    let tech_cookie = app.staff_web_login(&tech, 0).await;
    assert_eq!(
        app.web_get(&tech_cookie, "/panel/mlynary/sprawy")
            .await
            .status(),
        403
    );
    assert_eq!(app.web_get(&tech_cookie, &page).await.status(), 403);

    let ewa_cookie = app.staff_web_login(&ewa, 0).await;
    let fresh = html_page(
        app.web_get(&ewa_cookie, "/panel/mlynary/sprawy?widok=nowe")
            .await,
    )
    .await;
    assert!(
        fresh.contains("PIS/") && fresh.contains("Przyjęty"),
        "{fresh}"
    );
    let csrf = app.web_csrf(&ewa_cookie, &page).await;
    let taken = app
        .web_post(
            &ewa_cookie,
            &page,
            &[("csrf", &csrf), ("czynnosc", "przydziel")],
        )
        .await;
    assert_eq!(taken.status(), 303);
    assert_eq!(taken.headers()[LOCATION], format!("{page}?zapisano=1"));
    let mine = html_page(app.web_get(&ewa_cookie, "/panel/mlynary/sprawy").await).await;
    assert!(
        mine.contains(&format!("/panel/mlynary/sprawy/{id}\"")),
        "{mine}"
    );

    // A supplement needs its reason.
    let bare = app
        .web_post(
            &ewa_cookie,
            &page,
            &[("csrf", &csrf), ("czynnosc", "uzupelnienie")],
        )
        .await;
    assert_eq!(bare.status(), 422);
    assert!(html_page(bare).await.contains("Podaj uzasadnienie"));
    let asked = app
        .web_post(
            &ewa_cookie,
            &page,
            &[
                ("csrf", &csrf),
                ("czynnosc", "uzupelnienie"),
                ("uzasadnienie", "Brak podpisu."),
            ],
        )
        .await;
    assert_eq!(asked.status(), 303);
    let told: serde_json::Value = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE recipient_account_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(jan.account_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(told["note"], "Brak podpisu.");

    // Another clerk may see it but not decide it; the admin hands it to her.
    let ola_cookie = app.staff_web_login(&ola, 0).await;
    let ola_csrf = app.web_csrf(&ola_cookie, &page).await;
    let refused = app
        .web_post(
            &ola_cookie,
            &page,
            &[
                ("csrf", &ola_csrf),
                ("czynnosc", "przedluz"),
                ("uzasadnienie", "x"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    assert!(
        html_page(refused)
            .await
            .contains("Sprawę prowadzi inna osoba")
    );
    let szef_cookie = app.staff_web_login(&szef, 0).await;
    let szef_csrf = app.web_csrf(&szef_cookie, &page).await;
    let handed = app
        .web_post(
            &szef_cookie,
            &page,
            &[
                ("csrf", &szef_csrf),
                ("czynnosc", "przydziel"),
                ("pracownik", &ola.account_id.to_string()),
            ],
        )
        .await;
    assert_eq!(handed.status(), 303);
    let assigned: Option<i64> = sqlx::query_scalar("SELECT assigned_to FROM cases WHERE id = $1")
        .bind(id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(assigned, Some(ola.account_id));

    // The file: the utility's staff and the resident download it, nobody else.
    let path = format!("{page}/pliki/{file}");
    let got = app.web_get(&ewa_cookie, &path).await;
    assert_eq!(got.status(), 200);
    let disposition = got.headers()[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.contains("filename*=UTF-8''za%C5%BC%C3%B3%C5%82%C4%87%20mapa.pdf"),
        "{disposition}"
    );
    assert_eq!(got.bytes().await.unwrap().as_ref(), PDF);
    let jan_cookie = app.web_login("mlynary", &jan.email).await;
    assert_eq!(
        app.web_get(&jan_cookie, &format!("/u/mlynary/sprawy/{id}/pliki/{file}"))
            .await
            .status(),
        200
    );
    let ewa_resident = resident(app.pool(), utility_id, "mlynary", "ewa.m@example.pl", 0).await;
    let other_cookie = app.web_login("mlynary", &ewa_resident.email).await;
    assert_eq!(
        app.web_get(
            &other_cookie,
            &format!("/u/mlynary/sprawy/{id}/pliki/{file}")
        )
        .await
        .status(),
        404
    );
    let paslek = utility(app.pool(), "paslek").await;
    let foreign = staff(app.pool(), paslek, "paslek", "admin").await;
    let foreign_cookie = app.staff_web_login(&foreign, 0).await;
    assert_eq!(
        app.web_get(
            &foreign_cookie,
            &format!("/panel/paslek/sprawy/{id}/pliki/{file}")
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        app.web_get(&foreign_cookie, &format!("/panel/paslek/sprawy/{id}"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn an_admin_words_the_letters_previews_them_and_goes_back_to_the_default() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let clerk = staff(app.pool(), utility_id, "mlynary", "clerk").await;
    let admin = staff(app.pool(), utility_id, "mlynary", "admin").await;
    let list = "/panel/mlynary/sprawy/szablony";
    let page = "/panel/mlynary/sprawy/szablony/approval";

    // A clerk reads the ratings but does not word the letters.
    let clerk_cookie = app.staff_web_login(&clerk, 0).await;
    assert_eq!(app.web_get(&clerk_cookie, list).await.status(), 403);
    assert_eq!(app.web_get(&clerk_cookie, page).await.status(), 403);
    let ratings = app
        .web_get(&clerk_cookie, "/panel/mlynary/sprawy/opinie")
        .await;
    assert_eq!(ratings.status(), 200);
    assert!(html_page(ratings).await.contains("Nikt jeszcze nie ocenił"));

    let cookie = app.staff_web_login(&admin, 0).await;
    let listed = html_page(app.web_get(&cookie, list).await).await;
    assert!(listed.contains("Decyzja pozytywna") && listed.contains("domyślna"));
    let form = html_page(app.web_get(&cookie, page).await).await;
    // The built-in wording, in the textarea (the list of fields names them too).
    assert!(
        form.contains("{przedsiebiorstwo} uwzględnia wniosek."),
        "{form}"
    );
    let csrf = app.web_csrf(&cookie, page).await;
    let send = |title: &str, body: &str, action: &str| {
        let fields = vec![
            ("csrf", csrf.clone()),
            ("tytul", title.to_string()),
            ("tresc", body.to_string()),
            ("czynnosc", action.to_string()),
        ];
        let request = app
            .server
            .client
            .post(app.url(page))
            .header(reqwest::header::COOKIE, cookie.clone())
            .header(reqwest::header::ORIGIN, support::PORTAL_ORIGIN)
            .form(&fields);
        async move { request.send().await.unwrap() }
    };
    // An unknown placeholder is named at its field; nothing is saved.
    let wrong = send("Decyzja {numer}", "Treść.", "zapisz").await;
    assert_eq!(wrong.status(), 422);
    let wrong = html_page(wrong).await;
    assert!(wrong.contains("Nieznane pola: {numer}"), "{wrong}");
    let saved: i64 = sqlx::query_scalar("SELECT count(*) FROM case_templates")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(saved, 0);
    // The preview is the PDF the letter will be.
    let preview = send(
        "Decyzja nr {numer_sprawy}",
        "Wniosek rozpatrzono pozytywnie.\n\n## Uzasadnienie\n\n{uzasadnienie}",
        "podglad",
    )
    .await;
    assert_eq!(preview.status(), 200);
    assert_eq!(
        preview.headers()[reqwest::header::CONTENT_TYPE],
        "application/pdf"
    );
    assert!(preview.bytes().await.unwrap().starts_with(b"%PDF-"));
    let done = send(
        "Decyzja nr {numer_sprawy}",
        "Wniosek rozpatrzono pozytywnie.\n\n## Uzasadnienie\n\n{uzasadnienie}",
        "zapisz",
    )
    .await;
    assert_eq!(done.status(), 303);
    let listed = html_page(app.web_get(&cookie, list).await).await;
    assert!(listed.contains("własna przedsiębiorstwa"), "{listed}");
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'case_template.saved'")
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(audited, 1);
    // Back to the default.
    let reset = send("", "", "domyslny").await;
    assert_eq!(reset.status(), 303);
    let form = html_page(app.web_get(&cookie, page).await).await;
    assert!(form.contains("{przedsiebiorstwo} uwzględnia wniosek."));
    // Another utility's admin words only their own.
    let other = utility(app.pool(), "paslek").await;
    let stranger = staff(app.pool(), other, "paslek", "admin").await;
    let stranger_cookie = app.staff_web_login(&stranger, 0).await;
    let theirs = html_page(
        app.web_get(&stranger_cookie, "/panel/paslek/sprawy/szablony")
            .await,
    )
    .await;
    assert!(!theirs.contains("własna przedsiębiorstwa"));
}

#[tokio::test]
async fn a_clerk_fills_an_application_in_the_residents_name_and_only_the_resident_submits_it() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    let ola_home = resident(app.pool(), utility_id, "mlynary", "ola@example.pl", 0).await;
    let ewa = staff(app.pool(), utility_id, "mlynary", "clerk").await;
    let other_clerk = staff(app.pool(), utility_id, "mlynary", "clerk").await;
    let billing = staff(app.pool(), utility_id, "mlynary", "billing").await;
    let card = format!("/panel/mlynary/klienci/{}", jan.customer_id);
    let cookie = app.staff_web_login(&ewa, 0).await;
    let html = html_page(app.web_get(&cookie, &card).await).await;
    assert!(
        html.contains("Wniosek w imieniu klienta") && html.contains("value=\"general_letter\""),
        "{html}"
    );
    let csrf = app.web_csrf(&cookie, &card).await;
    let start = |account: i64| {
        let fields = vec![
            ("csrf", csrf.clone()),
            ("konto", account.to_string()),
            ("typ", "general_letter".to_string()),
        ];
        let request = app
            .server
            .client
            .post(app.url(&format!("{card}/wniosek")))
            .header(reqwest::header::COOKIE, cookie.clone())
            .header(reqwest::header::ORIGIN, support::PORTAL_ORIGIN)
            .form(&fields);
        async move { request.send().await.unwrap() }
    };
    // Only for an account of this customer.
    assert_eq!(start(ola_home.account_id).await.status(), 404);
    let started = start(jan.account_id).await;
    assert_eq!(started.status(), 303);
    let draft = started.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(draft.ends_with("/wniosek"), "{draft}");
    let id: i64 = draft.split('/').rev().nth(1).unwrap().parse().unwrap();
    let form = html_page(app.web_get(&cookie, &draft).await).await;
    assert!(form.contains("name=\"f_subject\"") && form.contains("name=\"plik_files\""));
    // Another clerk's draft is not found; billing staff may not act for residents.
    let other_cookie = app.staff_web_login(&other_clerk, 0).await;
    assert_eq!(app.web_get(&other_cookie, &draft).await.status(), 404);
    let billing_cookie = app.staff_web_login(&billing, 0).await;
    assert_eq!(app.web_get(&billing_cookie, &draft).await.status(), 403);

    let send = |form: reqwest::multipart::Form| {
        let request = app
            .server
            .client
            .post(app.url(&draft))
            .header(reqwest::header::COOKIE, cookie.clone())
            .header(reqwest::header::ORIGIN, support::PORTAL_ORIGIN)
            .multipart(form);
        async move { request.send().await.unwrap() }
    };
    let fields = |action: &str| {
        reqwest::multipart::Form::new()
            .text("csrf", csrf.clone())
            .text("czynnosc", action.to_string())
    };
    // Incomplete: not handed over, the missing fields named.
    let incomplete = send(fields("przekaz")).await;
    assert_eq!(incomplete.status(), 422);
    assert!(
        html_page(incomplete)
            .await
            .contains("Wniosek jest niekompletny")
    );
    let handed = send(
        fields("przekaz")
            .text("f_subject", "Zmiana terminu odczytu")
            .text("f_content", "Proszę o odczyt po 16:00.")
            .part(
                "plik_files",
                reqwest::multipart::Part::bytes(PDF.to_vec()).file_name("prosba.pdf"),
            ),
    )
    .await;
    assert_eq!(handed.status(), 303);
    // Handed over, it is the resident's to change: the clerk's edits are refused.
    let late = send(fields("zapisz").text("f_subject", "Coś innego")).await;
    assert_eq!(late.status(), 422);
    assert!(
        html_page(late)
            .await
            .contains("Wniosek przekazano już klientowi")
    );
    let told: String = sqlx::query_scalar(
        "SELECT kind FROM outbox WHERE recipient_account_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(jan.account_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(told, "case.draft_prepared");
    // The clerk cannot submit it: it is still a draft, now on the customer card.
    let state: String = sqlx::query_scalar("SELECT state::text FROM cases WHERE id = $1")
        .bind(id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(state, "draft");
    assert!(
        html_page(app.web_get(&cookie, &card).await)
            .await
            .contains("czeka na złożenie przez klienta")
    );

    // The resident sees who prepared it, and submits it.
    let jan_cookie = app.web_login("mlynary", &jan.email).await;
    let page = format!("/u/mlynary/sprawy/{id}");
    let mine = html_page(app.web_get(&jan_cookie, &page).await).await;
    assert!(
        mine.contains("przygotował w Twoim imieniu") && mine.contains("Zmiana terminu odczytu"),
        "{mine}"
    );
    let jan_csrf = app.web_csrf(&jan_cookie, &page).await;
    let submitted = app
        .server
        .client
        .post(app.url(&page))
        .header(reqwest::header::COOKIE, jan_cookie.clone())
        .header(reqwest::header::ORIGIN, support::PORTAL_ORIGIN)
        .multipart(
            reqwest::multipart::Form::new()
                .text("csrf", jan_csrf)
                .text("czynnosc", "zloz")
                .text("f_subject", "Zmiana terminu odczytu")
                .text("f_content", "Proszę o odczyt po 16:00."),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 303);
    // Both in the audit log: the clerk for the resident, then the resident.
    let trail: Vec<(String, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT action, actor_account_id, on_behalf_of_account_id FROM audit_log
         WHERE entity_type = 'case' AND entity_id = $1 ORDER BY id",
    )
    .bind(id.to_string())
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(
        trail,
        [
            (
                "case.draft_prepared".into(),
                Some(ewa.account_id),
                Some(jan.account_id)
            ),
            (
                "case.draft_handed_over".into(),
                Some(ewa.account_id),
                Some(jan.account_id)
            ),
            ("case.submitted".into(), Some(jan.account_id), None),
        ]
    );
    let prepared_by: Option<i64> = sqlx::query_scalar(
        "SELECT (details->'details'->>'prepared_by')::bigint FROM audit_log
         WHERE entity_id = $1 AND action = 'case.submitted'",
    )
    .bind(id.to_string())
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(prepared_by, Some(ewa.account_id));
}

#[tokio::test]
async fn an_admin_rewords_a_form_and_withdraws_it_without_code() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    let clerk = staff(app.pool(), utility_id, "mlynary", "clerk").await;
    let admin = staff(app.pool(), utility_id, "mlynary", "admin").await;
    let page = "/panel/mlynary/sprawy/formularze/general_letter";
    let clerk_cookie = app.staff_web_login(&clerk, 0).await;
    assert_eq!(app.web_get(&clerk_cookie, page).await.status(), 403);
    let cookie = app.staff_web_login(&admin, 0).await;
    let list = html_page(
        app.web_get(&cookie, "/panel/mlynary/sprawy/formularze")
            .await,
    )
    .await;
    assert!(list.contains("Pismo ogólne"), "{list}");
    let form = html_page(app.web_get(&cookie, page).await).await;
    assert!(form.contains("name=\"etykieta_subject\"") && form.contains("name=\"mb_files\""));
    let csrf = app.web_csrf(&cookie, page).await;
    let send = |fields: Vec<(&'static str, String)>| {
        let request = app
            .server
            .client
            .post(app.url(page))
            .header(reqwest::header::COOKIE, cookie.clone())
            .header(reqwest::header::ORIGIN, support::PORTAL_ORIGIN)
            .form(&fields);
        async move { request.send().await.unwrap() }
    };
    let edit = |subject: &str, files: &str, active: bool| {
        let mut fields = vec![
            ("csrf", csrf.clone()),
            ("nazwa", "Pismo do wodociągów".to_string()),
            (
                "opis",
                "Sprawa, na którą nie ma osobnego wniosku.".to_string(),
            ),
            ("etykieta_subject", subject.to_string()),
            ("podpowiedz_subject", "Krótko, czego dotyczy.".to_string()),
            ("wymagane_subject", "on".to_string()),
            ("etykieta_content", "Treść".to_string()),
            ("wymagane_content", "on".to_string()),
            ("etykieta_files", "Załączniki".to_string()),
            ("pliki_files", files.to_string()),
            ("mb_files", "5".to_string()),
        ];
        if active {
            fields.push(("aktywny", "on".to_string()));
        }
        fields
    };
    // Faults are named at their fields; nothing is saved.
    let wrong = send(edit("", "0", true)).await;
    assert_eq!(wrong.status(), 422);
    let wrong = html_page(wrong).await;
    assert!(
        wrong.contains("Wpisz treść pytania") && wrong.contains("Podaj liczbę plików od 1 do 20."),
        "{wrong}"
    );
    let saved = send(edit("Temat pisma", "3", false)).await;
    assert_eq!(saved.status(), 303);
    let mut conn = app.pool().acquire().await.unwrap();
    let t = ebok_cases::types::get(&mut conn, utility_id, "general_letter")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.name, "Pismo do wodociągów");
    assert!(!t.active);
    assert_eq!(t.form.fields[0].label, "Temat pisma");
    assert_eq!(
        t.form.fields[0].help.as_deref(),
        Some("Krótko, czego dotyczy.")
    );
    assert_eq!(
        (
            t.form.attachments[0].max_files,
            t.form.attachments[0].max_bytes
        ),
        (3, 5 * 1024 * 1024)
    );
    drop(conn);
    // Withdrawn: no longer offered to residents.
    let jan_cookie = app.web_login("mlynary", &jan.email).await;
    let offered = html_page(app.web_get(&jan_cookie, "/u/mlynary/sprawy").await).await;
    assert!(!offered.contains("value=\"general_letter\""));
    assert!(offered.contains("value=\"connection_conditions\""));
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'application_type.updated'",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(audited, 1);
}
