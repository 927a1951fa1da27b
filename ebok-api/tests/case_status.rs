//! The status of a case without logging in, through the API and the page: the right number and
//! identifier show the stage; a wrong identifier, an unknown number and another utility's
//! case read the same; lookups that find nothing are limited (429).

use crate::support;

use chrono::NaiveDate;
use ebok_api::case_status::look_up;
use ebok_cases::form::Answers;
use ebok_cases::store::{self, Acting};
use serde_json::json;
use sqlx::PgPool;
use support::{App, html_page, problem, resident, utility};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n%%EOF\n";

/// A general letter of the resident, submitted: its number ("PIS/2026/000001").
async fn submitted_letter(
    pool: &PgPool,
    utility_id: i64,
    account_id: i64,
    customer_id: i64,
) -> String {
    let mut tx = pool.begin().await.unwrap();
    let id = store::start_draft(
        &mut tx,
        utility_id,
        "general_letter",
        account_id,
        Some(customer_id),
        None,
    )
    .await
    .unwrap();
    let acting = Acting::Resident { account_id };
    let answers: Answers = [("subject", "Pytanie"), ("content", "Treść pisma.")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    store::save_answers(&mut tx, utility_id, id, acting, &answers)
        .await
        .unwrap();
    store::attach(&mut tx, utility_id, id, acting, "files", "pismo.pdf", PDF)
        .await
        .unwrap();
    let number = store::submit(
        &mut tx,
        utility_id,
        id,
        acting,
        NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    number.to_string()
}

/// Gives the customer a PESEL (the fixture's has none); it.
async fn pesel(pool: &PgPool, customer_id: i64) -> String {
    sqlx::query_scalar("UPDATE customers SET pesel = '44051401359' WHERE id = $1 RETURNING pesel")
        .bind(customer_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_api_answers_the_right_pair_only_and_limits_the_rest() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    let pesel = pesel(app.pool(), jan.customer_id).await;
    let number = submitted_letter(app.pool(), utility_id, jan.account_id, jan.customer_id).await;
    let path = "/api/v1/utilities/mlynary/case-status";

    let right = app
        .post(
            None,
            path,
            json!({"number": number.to_lowercase(), "identifier": pesel}),
        )
        .await;
    assert_eq!(right.status(), 200);
    let body: serde_json::Value = right.json().await.unwrap();
    assert_eq!(body["number"], number);
    assert_eq!(body["status"], "registered");
    assert_eq!(body["status_label"], "Przyjęty");
    assert_eq!(body.as_object().unwrap().len(), 4, "nothing more: {body}");

    // A wrong PESEL, an unknown number, not a number, another utility: the same 404.
    let other = utility(app.pool(), "paslek").await;
    assert!(other > 0);
    let mut answers = Vec::new();
    for (slug, n, id) in [
        ("mlynary", number.as_str(), "44051401358"),
        ("mlynary", "PIS/2026/000002", pesel.as_str()),
        ("mlynary", "to nie numer", pesel.as_str()),
        ("paslek", number.as_str(), pesel.as_str()),
    ] {
        let r = app
            .post(
                None,
                &format!("/api/v1/utilities/{slug}/case-status"),
                json!({"number": n, "identifier": id}),
            )
            .await;
        assert_eq!(r.status(), 404, "{slug} {n} {id}");
        let mut p = problem(r).await;
        p.as_object_mut().unwrap().remove("instance");
        answers.push(p);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");

    // An empty identifier is named.
    let r = app
        .post(None, path, json!({"number": number, "identifier": " "}))
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(problem(r).await["field"], "identifier");

    // Ten lookups that found nothing from one address in 15 minutes (four above): the
    // eleventh is refused, even with the right pair.
    for i in 0..6 {
        let r = app
            .post(
                None,
                path,
                json!({"number": number, "identifier": format!("9{i}")}),
            )
            .await;
        assert_eq!(r.status(), 404, "try {i}");
    }
    let r = app
        .post(None, path, json!({"number": number, "identifier": pesel}))
        .await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn guessing_the_identifier_of_one_number_from_many_addresses_is_limited_too() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    let pesel = pesel(app.pool(), jan.customer_id).await;
    let number = submitted_letter(app.pool(), utility_id, jan.account_id, jan.customer_id).await;
    let from = |n: u8| Some(std::net::IpAddr::from([10, 0, 0, n]));
    for n in 1..=10 {
        let found = look_up(app.pool(), utility_id, &number, "44051401358", from(n))
            .await
            .unwrap();
        assert!(found.is_none());
    }
    let refused = look_up(app.pool(), utility_id, &number, &pesel, from(11))
        .await
        .unwrap_err();
    assert!(matches!(
        refused,
        ebok_api::error::ApiError::TooManyRequests { .. }
    ));
    // Another case's number is not held up by it.
    assert!(
        look_up(app.pool(), utility_id, "PIS/2026/000002", &pesel, from(11))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn the_page_shows_the_stage_or_the_same_not_found_and_names_empty_fields() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    let pesel = pesel(app.pool(), jan.customer_id).await;
    let number = submitted_letter(app.pool(), utility_id, jan.account_id, jan.customer_id).await;
    let page = "/u/mlynary/status-sprawy";
    let form = html_page(app.server.client.get(app.url(page)).send().await.unwrap()).await;
    assert!(form.contains("Sprawdź status sprawy"));
    let home = html_page(
        app.server
            .client
            .get(app.url("/u/mlynary/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(home.contains(page));

    let post = |fields: Vec<(&'static str, String)>| {
        let request = app.server.client.post(app.url(page)).form(&fields);
        async move { request.send().await.unwrap() }
    };
    let found = post(vec![
        ("number", number.clone()),
        ("identifier", pesel.clone()),
    ])
    .await;
    assert_eq!(found.status(), 200);
    let html = html_page(found).await;
    assert!(
        html.contains(&format!("Sprawa {number}")) && html.contains("Przyjęty"),
        "{html}"
    );

    let wrong = post(vec![
        ("number", number.clone()),
        ("identifier", "44051401358".into()),
    ])
    .await;
    assert_eq!(wrong.status(), 404);
    let wrong = html_page(wrong).await;
    let unknown = html_page(
        post(vec![
            ("number", "PIS/2026/000009".into()),
            ("identifier", pesel.clone()),
        ])
        .await,
    )
    .await;
    let says = "Nie znaleziono sprawy o tym numerze";
    assert!(wrong.contains(says) && unknown.contains(says));
    assert!(!wrong.contains("Przyjęty"));

    let empty = post(vec![
        ("number", String::new()),
        ("identifier", String::new()),
    ])
    .await;
    assert_eq!(empty.status(), 422);
    let empty = html_page(empty).await;
    assert!(empty.contains("Podaj numer sprawy") && empty.contains("Podaj PESEL albo NIP"));
}

#[tokio::test]
async fn the_app_reads_the_residents_own_cases_and_nobody_elses() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    pesel(app.pool(), jan.customer_id).await;
    let number = submitted_letter(app.pool(), utility_id, jan.account_id, jan.customer_id).await;
    let token = app.login("mlynary", &jan.email).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let list: serde_json::Value = app.get(&token, "/api/v1/cases").await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["number"], number);
    assert_eq!(list[0]["status"], "registered");
    let id = list[0]["id"].as_i64().unwrap();
    let case: serde_json::Value = app
        .get(&token, &format!("/api/v1/cases/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(case["type_code"], "general_letter");
    assert_eq!(case["answers"]["subject"], "Pytanie");
    assert_eq!(case["history"][0]["status_label"], "Przyjęty");
    assert_eq!(case["files"][0]["file_name"], "pismo.pdf");
    assert!(case["due"].is_string(), "{case}");

    let ewa = resident(app.pool(), utility_id, "mlynary", "ewa@example.pl", 0).await;
    let other = app.login("mlynary", &ewa.email).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs: serde_json::Value = app.get(&other, "/api/v1/cases").await.json().await.unwrap();
    assert_eq!(theirs, json!([]));
    assert_eq!(
        app.get(&other, &format!("/api/v1/cases/{id}"))
            .await
            .status(),
        404
    );
    assert_eq!(app.get("", "/api/v1/cases").await.status(), 401);
}
