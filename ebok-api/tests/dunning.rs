//! Reminders and debts over HTTP: a resident chooses when to be reminded (API and portal), and
//! staff who see invoices see the overdue customers and their interest notes — not a
//! technician, not another utility's staff, not a resident — while only billing staff record a
//! demand sent on paper.

use crate::support;

use chrono::{Datelike, Days, Months, Utc};
use ebok_billing::run::{self, RunRequest};
use ebok_common::domain::time::local_day;
use serde_json::json;
use sqlx::PgPool;
use support::{App, billing_ready, problem, resident, utility};

/// Bills the month before last with an issue date early last month, so the invoices are
/// overdue today.
async fn bill_overdue(pool: &PgPool, utility_id: i64) {
    let today = local_day(Utc::now());
    let last_month = today.with_day(1).unwrap() - Months::new(1);
    let outcome = run::run(
        pool,
        &RunRequest {
            utility_id,
            month: last_month - Months::new(1),
            issue_date: last_month + Days::new(1),
            started_by: None,
            batch: 100,
        },
        |_| {},
    )
    .await
    .unwrap();
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    assert!(outcome.invoices_issued > 0);
}

#[tokio::test]
async fn a_resident_chooses_when_to_be_reminded_in_the_api_and_the_portal() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 1).await;
    let ola = resident(app.pool(), u, "mlynary", "ola@example.pl", 1).await;
    let token = app.login("mlynary", &jan.email).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let ola_token = app.login("mlynary", &ola.email).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();

    let get = app.get(&token, "/api/v1/payment-reminders").await;
    assert_eq!(get.status(), 200);
    assert_eq!(
        get.json::<serde_json::Value>().await.unwrap(),
        json!({ "days_before": 3 })
    );
    let put = |body| {
        app.send(
            reqwest::Method::PUT,
            Some(&token),
            "/api/v1/payment-reminders",
            Some(body),
        )
    };
    let bad = put(json!({ "days_before": 20 })).await;
    assert_eq!(bad.status(), 422);
    let p = problem(bad).await;
    assert_eq!(p["field"], "days_before", "{p}");
    assert_eq!(put(json!({ "days_before": null })).await.status(), 200);
    let now = app.get(&token, "/api/v1/payment-reminders").await;
    assert_eq!(
        now.json::<serde_json::Value>().await.unwrap(),
        json!({ "days_before": null })
    );
    // Ola's choice is her own.
    let hers = app.get(&ola_token, "/api/v1/payment-reminders").await;
    assert_eq!(
        hers.json::<serde_json::Value>().await.unwrap(),
        json!({ "days_before": 3 })
    );
    assert_eq!(
        app.get("no-token", "/api/v1/payment-reminders")
            .await
            .status(),
        401
    );

    // The portal's notification settings show the choice and change it.
    let cookie = app.web_login("mlynary", &jan.email).await;
    let html = app
        .web_get(&cookie, "/u/mlynary/ustawienia/powiadomienia")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"<option value="nie" selected>Nie przypominaj</option>"#),
        "{html}"
    );
    let csrf = app
        .web_csrf(&cookie, "/u/mlynary/ustawienia/powiadomienia")
        .await;
    let saved = app
        .web_post(
            &cookie,
            "/u/mlynary/ustawienia/powiadomienia",
            &[
                ("csrf", &csrf),
                ("push-invoices_payments", "on"),
                ("przypomnienie", "7"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let html = app
        .web_get(&cookie, "/u/mlynary/ustawienia/powiadomienia?ok=1")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"<option value="7" selected>7 dni przed terminem</option>"#),
        "{html}"
    );
    let now = app.get(&token, "/api/v1/payment-reminders").await;
    assert_eq!(
        now.json::<serde_json::Value>().await.unwrap(),
        json!({ "days_before": 7 })
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'payment_reminder_preference.set'",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn staff_who_see_invoices_see_debts_and_interest_and_billing_records_the_letter() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 70).await;
    billing_ready(app.pool(), u).await;
    bill_overdue(app.pool(), u).await;
    let customer_number: String =
        sqlx::query_scalar("SELECT customer_number FROM customers WHERE id = $1")
            .bind(jan.customer_id)
            .fetch_one(app.pool())
            .await
            .unwrap();
    let clerk = support::staff(app.pool(), u, "mlynary", "clerk").await;
    let billing = support::staff(app.pool(), u, "mlynary", "billing").await;
    let technician = support::staff(app.pool(), u, "mlynary", "technician").await;
    let tolkmicko = utility(app.pool(), "tolkmicko").await;
    let other = support::staff(app.pool(), tolkmicko, "tolkmicko", "billing").await;
    let note_path = format!("/panel/mlynary/zaleglosci/{}", jan.customer_id);

    let web = app.staff_web_login(&clerk, 1).await;
    let list = app.web_get(&web, "/panel/mlynary/zaleglosci").await;
    assert_eq!(list.status(), 200);
    let html = list.text().await.unwrap();
    assert!(html.contains(&customer_number), "{html}");
    assert!(
        html.contains("nie wysłano"),
        "no reminder went out yet: {html}"
    );
    let note = app.web_get(&web, &note_path).await;
    assert_eq!(note.status(), 200);
    let html = note.text().await.unwrap();
    assert!(html.contains("Nota odsetkowa"));
    assert!(html.contains("9,50%"), "the consumer rate: {html}");
    assert!(html.contains("Razem odsetki"), "{html}");
    // A clerk does not record letters.
    let csrf = app.web_csrf(&web, &note_path).await;
    assert!(
        !app.web_get(&web, &note_path)
            .await
            .text()
            .await
            .unwrap()
            .contains("Wezwanie wysłane listem")
    );
    let refused = app
        .web_post(&web, &format!("{note_path}/list"), &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status(), 403);

    let web = app.staff_web_login(&billing, 1).await;
    let csrf = app.web_csrf(&web, &note_path).await;
    let done = app
        .web_post(&web, &format!("{note_path}/list"), &[("csrf", &csrf)])
        .await;
    assert_eq!(done.status(), 303);
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'payment_demand.sent_on_paper'",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(audited, 1);

    let web = app.staff_web_login(&technician, 1).await;
    assert_eq!(
        app.web_get(&web, "/panel/mlynary/zaleglosci")
            .await
            .status(),
        403
    );
    assert_eq!(app.web_get(&web, &note_path).await.status(), 403);

    let web = app.staff_web_login(&other, 1).await;
    let html = app
        .web_get(&web, "/panel/tolkmicko/zaleglosci")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Nikt nie zalega"), "{html}");
    assert_eq!(
        app.web_get(
            &web,
            &format!("/panel/tolkmicko/zaleglosci/{}", jan.customer_id)
        )
        .await
        .status(),
        404
    );
    let csrf = app.web_csrf(&web, "/panel/tolkmicko/zaleglosci").await;
    assert_eq!(
        app.web_post(
            &web,
            &format!("/panel/tolkmicko/zaleglosci/{}/list", jan.customer_id),
            &[("csrf", &csrf)],
        )
        .await
        .status(),
        404
    );

    // A resident's session is no staff session.
    let cookie = app.web_login("mlynary", &jan.email).await;
    let page = app.web_get(&cookie, "/panel/mlynary/zaleglosci").await;
    assert_ne!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(!html.contains(&customer_number));
}
