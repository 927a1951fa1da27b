//! Invoices and balance through the API and the portal, after a real billing run: the resident
//! sees the invoice, the balance and the ledger, downloads the PDF and the FA(3) XML (the same
//! bytes every time, with the stored SHA-256); another resident of the same utility and a
//! resident of another utility get 404 for every invoice endpoint and page, and none of it in
//! their lists.

use crate::support;

use chrono::{Datelike, Months, Utc};
use ebok_billing::run::{self, RunRequest};
use ebok_common::domain::time::local_day;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use support::{App, billing_ready, resident, utility};

fn token(login: &Value) -> String {
    login["access_token"].as_str().unwrap().to_string()
}

/// Bills last month for the utility; the invoices' ids.
async fn bill_last_month(pool: &PgPool, utility_id: i64) -> Vec<i64> {
    let today = local_day(Utc::now());
    let month = today.with_day(1).unwrap() - Months::new(1);
    let outcome = run::run(
        pool,
        &RunRequest {
            utility_id,
            month,
            issue_date: today,
            started_by: None,
            batch: 100,
        },
        |_| {},
    )
    .await
    .unwrap();
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    sqlx::query_scalar("SELECT id FROM invoices WHERE billing_run_id = $1 ORDER BY id")
        .bind(outcome.run_id)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_resident_sees_and_downloads_their_invoices_and_no_one_else_does() {
    let app = App::start().await;
    let a = utility(app.pool(), "mlynary").await;
    let b = utility(app.pool(), "tolkmicko").await;
    let jan = resident(app.pool(), a, "mlynary", "jan@example.pl", 70).await;
    let ola = resident(app.pool(), a, "mlynary", "ola@example.pl", 70).await;
    let eva = resident(app.pool(), b, "tolkmicko", "eva@example.pl", 70).await;
    billing_ready(app.pool(), a).await;
    billing_ready(app.pool(), b).await;
    let issued = bill_last_month(app.pool(), a).await;
    assert_eq!(issued.len(), 2, "Jan and Ola");
    bill_last_month(app.pool(), b).await;
    let jan_invoice: i64 = sqlx::query_scalar("SELECT id FROM invoices WHERE customer_id = $1")
        .bind(jan.customer_id)
        .fetch_one(app.pool())
        .await
        .unwrap();

    // Jan: the list, the invoice, the balance, the documents.
    let jan_t = token(&app.login("mlynary", &jan.email).await);
    let list: Value = app
        .get(&jan_t, "/api/v1/invoices")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], jan_invoice);
    let gross = list[0]["gross_grosze"].as_i64().unwrap();
    // 150 l a day at 5,12 + 7,90 zł per m³ (the fixture's point takes water only), plus the fee.
    assert!(gross > 950, "{list}");
    let one: Value = app
        .get(&jan_t, &format!("/api/v1/invoices/{jan_invoice}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        one["document"]["lines"][0]["name"]
            .as_str()
            .unwrap()
            .split(' ')
            .next(),
        Some("Dostawa")
    );
    let balance: Value = app
        .get(&jan_t, "/api/v1/balance")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        balance["customers"][0]["balance_grosze"], gross,
        "{balance}"
    );
    assert_eq!(balance["ledger"][0]["invoice_id"], jan_invoice, "{balance}");

    let pdf = app
        .get(&jan_t, &format!("/api/v1/invoices/{jan_invoice}/pdf"))
        .await;
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let pdf = pdf.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let again = app
        .get(&jan_t, &format!("/api/v1/invoices/{jan_invoice}/pdf"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(pdf, again, "a document never changes once issued");
    let xml = app
        .get(&jan_t, &format!("/api/v1/invoices/{jan_invoice}/xml"))
        .await
        .text()
        .await
        .unwrap();
    assert!(xml.contains("<P_2>"), "{xml}");
    let stored: (Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT ksef_xml_sha256, pdf_sha256 FROM invoices WHERE id = $1")
            .bind(jan_invoice)
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(stored.0, Sha256::digest(xml.as_bytes()).to_vec());
    assert_eq!(stored.1, Sha256::digest(&pdf).to_vec());

    // The portal: the list, the page, the downloads, the dashboard's balance.
    let jan_web = app.web_login("mlynary", &jan.email).await;
    let number = list[0]["number"].as_str().unwrap();
    let page = app
        .web_get(&jan_web, "/u/mlynary/faktury")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(number), "{page}");
    assert!(page.contains("Do zapłaty"), "{page}");
    let dashboard = app
        .web_get(&jan_web, "/u/mlynary/pulpit")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        dashboard.contains("Do zapłaty") && dashboard.contains(number),
        "{dashboard}"
    );
    let page = app
        .web_get(&jan_web, &format!("/u/mlynary/faktury/{jan_invoice}"))
        .await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Słownie") && page.contains("Odczyty wodomierzy"),
        "{page}"
    );
    let web_pdf = app
        .web_get(&jan_web, &format!("/u/mlynary/faktury/{jan_invoice}/pdf"))
        .await;
    assert_eq!(web_pdf.bytes().await.unwrap(), pdf);
    let web_xml = app
        .web_get(&jan_web, &format!("/u/mlynary/faktury/{jan_invoice}/xml"))
        .await;
    assert_eq!(web_xml.text().await.unwrap(), xml);

    // Ola (same utility) and Eva (another utility): nothing of Jan's.
    for (other, slug) in [(&ola, "mlynary"), (&eva, "tolkmicko")] {
        let t = token(&app.login(slug, &other.email).await);
        let theirs: Value = app.get(&t, "/api/v1/invoices").await.json().await.unwrap();
        assert!(
            theirs
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["id"] != jan_invoice),
            "{theirs}"
        );
        let balance: Value = app.get(&t, "/api/v1/balance").await.json().await.unwrap();
        assert!(
            balance["ledger"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["invoice_id"] != jan_invoice),
            "{balance}"
        );
        for path in ["", "/pdf", "/xml"] {
            let r = app
                .get(&t, &format!("/api/v1/invoices/{jan_invoice}{path}"))
                .await;
            assert_eq!(r.status(), 404, "{} at {path}", other.email);
        }
        let web = app.web_login(slug, &other.email).await;
        for path in ["", "/pdf", "/xml"] {
            let r = app
                .web_get(&web, &format!("/u/{slug}/faktury/{jan_invoice}{path}"))
                .await;
            assert_eq!(r.status(), 404, "{} at {path}", other.email);
        }
        let list = app
            .web_get(&web, &format!("/u/{slug}/faktury"))
            .await
            .text()
            .await
            .unwrap();
        // (Numbers are per utility: Eva's own first invoice has Jan's number in her utility.)
        assert!(
            !list.contains(&format!("/faktury/{jan_invoice}\"")),
            "{list}"
        );
    }
    // Without a token or a session: nothing.
    let anonymous = app
        .get("", &format!("/api/v1/invoices/{jan_invoice}/pdf"))
        .await;
    assert_eq!(anonymous.status(), 401);
    let anonymous = app
        .web_get("", &format!("/u/mlynary/faktury/{jan_invoice}/pdf"))
        .await;
    assert_ne!(anonymous.status(), 200);
    support::validate_every_fa3(app.pool()).await;
}

#[tokio::test]
async fn a_resident_settles_up_to_yesterday_after_a_preview_and_no_one_else_can_settle_their_contract()
 {
    let app = App::start().await;
    let a = utility(app.pool(), "mlynary").await;
    let b = utility(app.pool(), "tolkmicko").await;
    let jan = resident(app.pool(), a, "mlynary", "jan@example.pl", 70).await;
    let ola = resident(app.pool(), a, "mlynary", "ola@example.pl", 70).await;
    let eva = resident(app.pool(), b, "tolkmicko", "eva@example.pl", 70).await;
    billing_ready(app.pool(), a).await;
    billing_ready(app.pool(), b).await;
    // Jan's contract began on the first day of last month (a settlement covers at most the
    // months since the last one; older unbilled months are the monthly runs').
    let contract: i64 = sqlx::query_scalar(
        "UPDATE contracts SET valid_from = date_trunc('month', current_date - interval '1 month')
         WHERE customer_id = $1 RETURNING id",
    )
    .bind(jan.customer_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    let yesterday = local_day(Utc::now()) - chrono::Days::new(1);
    let body = serde_json::json!({ "contract_id": contract, "through": yesterday });

    // Others: not found, before anything is read of the contract.
    for (other, slug) in [(&ola, "mlynary"), (&eva, "tolkmicko")] {
        let t = token(&app.login(slug, &other.email).await);
        let theirs: Value = app
            .get(&t, "/api/v1/settlements")
            .await
            .json()
            .await
            .unwrap();
        assert!(
            theirs
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["contract_id"] != contract),
            "{theirs}"
        );
        for path in ["/api/v1/settlements/preview", "/api/v1/settlements"] {
            let r = app.post(Some(&t), path, body.clone()).await;
            assert_eq!(r.status(), 404, "{} at {path}", other.email);
        }
        let web = app.web_login(slug, &other.email).await;
        let csrf = app
            .web_csrf(&web, &format!("/u/{slug}/faktury/rozliczenie"))
            .await;
        let page = app
            .web_post(
                &web,
                &format!("/u/{slug}/faktury/rozliczenie"),
                &[
                    ("csrf", &csrf),
                    ("umowa", &contract.to_string()),
                    ("dzien", &yesterday.to_string()),
                ],
            )
            .await;
        assert_eq!(page.status(), 422, "{}", other.email);
        assert!(page.text().await.unwrap().contains("Wybierz umowę z listy"));
    }
    let none: i64 = sqlx::query_scalar("SELECT count(*) FROM invoices")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(none, 0);

    // Jan: the day must be over; then a preview, then the invoice, which is the preview.
    let jan_t = token(&app.login("mlynary", &jan.email).await);
    let today = serde_json::json!({ "contract_id": contract, "through": local_day(Utc::now()) });
    let refused = app
        .post(Some(&jan_t), "/api/v1/settlements/preview", today)
        .await;
    let status = refused.status();
    let problem = support::problem(refused).await;
    assert_eq!(
        (status.as_u16(), &problem["field"]),
        (422, &serde_json::json!("through")),
        "{problem}"
    );
    let options: Value = app
        .get(&jan_t, "/api/v1/settlements")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(options[0]["contract_id"], contract, "{options}");
    let preview: Value = app
        .post(Some(&jan_t), "/api/v1/settlements/preview", body.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(preview["through"], yesterday.to_string(), "{preview}");
    let issued = app
        .post(Some(&jan_t), "/api/v1/settlements", body.clone())
        .await;
    assert_eq!(issued.status(), 201);
    let id = issued.json::<Value>().await.unwrap()["invoice_id"]
        .as_i64()
        .unwrap();
    let invoice: Value = app
        .get(&jan_t, &format!("/api/v1/invoices/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(invoice["invoice"]["kind"], "settlement");
    assert_eq!(invoice["document"]["gross"], preview["document"]["gross"]);
    assert_eq!(invoice["invoice"]["period_to"], yesterday.to_string());
    // A second time: nothing left to settle through that day.
    let again = app.post(Some(&jan_t), "/api/v1/settlements", body).await;
    assert_eq!(again.status(), 422);

    // The portal's form says the same.
    let web = app.web_login("mlynary", &jan.email).await;
    let page = app
        .web_get(&web, "/u/mlynary/faktury/rozliczenie")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Nie masz umów do rozliczenia"), "{page}");
    support::validate_every_fa3(app.pool()).await;
}
