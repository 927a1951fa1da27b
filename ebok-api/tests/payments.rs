//! Paying online with Przelewy24, over HTTP against the emulator of its REST v1 protocol: the
//! resident starts a payment (API or portal), the emulator notifies the API's hook, the API
//! verifies and books. Each test asserts the ledger afterwards: a payment is booked once
//! however often it is notified, never when forged, for another amount or unverified, and what
//! it pays goes to the oldest invoices first with the rest kept as credit.

use crate::support;

use chrono::{Datelike, Months, Utc};
use ebok_billing::manual::{self, ManualLine};
use ebok_billing::run::{self, RunRequest};
use ebok_common::domain::Money;
use ebok_common::domain::time::local_day;
use ebok_payments::online::{Provider, Providers};
use ebok_payments::przelewy24::emulator::{Faults, NotificationFault, Przelewy24Emulator};
use ebok_payments::przelewy24::{METHOD_BLIK, P24Notification, Przelewy24};
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION};
use serde_json::{Value, json};
use sqlx::PgPool;
use support::{App, billing_ready, payments_booked, resident, utility};

struct Paying {
    app: App,
    p24: Przelewy24Emulator,
    jan: support::Resident,
    token: String,
}

/// A utility paid through the emulator, and Jan with last month's invoice to pay.
async fn paying() -> Paying {
    let p24 = Przelewy24Emulator::start().await.unwrap();
    let providers = Providers::default().with(
        "mlynary",
        Provider::Przelewy24(Przelewy24::new(&p24.config())),
    );
    let app = App::with_payments(providers).await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 70).await;
    billing_ready(app.pool(), u).await;
    bill_last_month(app.pool(), u).await;
    let token = app.login("mlynary", &jan.email).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    Paying {
        app,
        p24,
        jan,
        token,
    }
}

async fn bill_last_month(pool: &PgPool, utility_id: i64) {
    let today = local_day(Utc::now());
    let outcome = run::run(
        pool,
        &RunRequest {
            utility_id,
            month: today.with_day(1).unwrap() - Months::new(1),
            issue_date: today,
            started_by: None,
            batch: 100,
        },
        |_| {},
    )
    .await
    .unwrap();
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
}

async fn balance(pool: &PgPool, customer_id: i64) -> i64 {
    sqlx::query_scalar("SELECT balance_grosze FROM customer_balances WHERE customer_id = $1")
        .bind(customer_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn status(pool: &PgPool, payment_id: i64) -> (String, Option<String>) {
    sqlx::query_as("SELECT status::text, problem FROM payments WHERE id = $1")
        .bind(payment_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn audited(pool: &PgPool, action: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(pool)
        .await
        .unwrap()
}

impl Paying {
    /// Starts a payment through the API; (payment id, the emulator's token).
    async fn start(&self, body: Value) -> (i64, String) {
        let response = self
            .app
            .post(Some(&self.token), "/api/v1/payments", body)
            .await;
        assert_eq!(response.status(), 201);
        let started: Value = response.json().await.unwrap();
        let url = started["redirect_url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("{}/trnRequest/", self.p24.url())),
            "{url}"
        );
        let token = url.rsplit('/').next().unwrap().to_string();
        (started["payment_id"].as_i64().unwrap(), token)
    }

    async fn session_of(&self, payment_id: i64) -> String {
        sqlx::query_scalar("SELECT session_id FROM payments WHERE id = $1")
            .bind(payment_id)
            .fetch_one(self.app.pool())
            .await
            .unwrap()
    }

    async fn owed(&self) -> i64 {
        balance(self.app.pool(), self.jan.customer_id).await
    }
}

#[tokio::test]
async fn a_blik_payment_is_verified_booked_once_and_announced() {
    let t = paying().await;
    let owed = t.owed().await;
    assert!(owed > 0);
    let (id, token) = t.start(json!({ "method": "blik" })).await;
    let order = t.p24.pay(&token, METHOD_BLIK).await.unwrap();

    let sent = t.p24.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].answer, Some(200));
    assert_eq!(sent[0].notification.amount, owed);
    let session = t.session_of(id).await;
    assert_eq!(t.p24.verified(), vec![(session.clone(), order)]);
    assert_eq!(status(t.app.pool(), id).await.0, "booked");
    assert_eq!(
        payments_booked(t.app.pool(), t.jan.customer_id).await,
        vec![(-owed, format!("przelewy24:{order}"))]
    );
    assert_eq!(t.owed().await, 0);
    let open: i64 = sqlx::query_scalar(
        "SELECT (sum(i.amount_due_grosze) - coalesce((SELECT sum(amount_grosze) FROM invoice_allocations), 0))::bigint
         FROM invoices i WHERE customer_id = $1",
    )
    .bind(t.jan.customer_id)
    .fetch_one(t.app.pool())
    .await
    .unwrap();
    assert_eq!(open, 0, "the invoice is paid");
    let announced: Value = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE kind = 'payment.received' AND recipient_customer_id = $1",
    )
    .bind(t.jan.customer_id)
    .fetch_one(t.app.pool())
    .await
    .unwrap();
    assert_eq!(announced["payment_id"], id);
    assert_eq!(announced["amount_grosze"], owed);
    assert_eq!(audited(t.app.pool(), "payment.started").await, 1);
    assert_eq!(audited(t.app.pool(), "payment.booked").await, 1);

    // P24 sends it again (it resends until verified; a late copy crosses the verification):
    // nothing more is booked or verified.
    assert_eq!(t.p24.resend(&session).await, Some(200));
    assert_eq!(
        payments_booked(t.app.pool(), t.jan.customer_id).await.len(),
        1
    );
    assert_eq!(t.p24.verified().len(), 1);

    // The resident sees it.
    let mine: Value = t
        .app
        .get(&t.token, &format!("/api/v1/payments/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["status"], "booked");
    assert_eq!(mine["amount_grosze"], owed);
}

#[tokio::test]
async fn replayed_notifications_even_at_once_book_the_payment_once() {
    let t = paying().await;
    let owed = t.owed().await;
    t.p24.set_faults(Faults {
        notification: NotificationFault::Replayed(3),
        ..Faults::default()
    });
    let (id, token) = t.start(json!({})).await;
    t.p24.pay(&token, METHOD_BLIK).await.unwrap();
    let sent = t.p24.sent();
    assert_eq!(sent.len(), 4);
    assert!(sent.iter().all(|s| s.answer == Some(200)), "{sent:?}");

    // Twenty copies at the same moment.
    let session = t.session_of(id).await;
    let answers = futures::future::join_all((0..20).map(|_| t.p24.resend(&session))).await;
    assert!(answers.iter().all(|a| *a == Some(200)), "{answers:?}");
    assert_eq!(
        payments_booked(t.app.pool(), t.jan.customer_id).await.len(),
        1
    );
    assert_eq!(t.owed().await, 0);
    let announced: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE kind = 'payment.received'")
            .fetch_one(t.app.pool())
            .await
            .unwrap();
    assert_eq!(announced, 1);
    let _ = owed;
}

#[tokio::test]
async fn a_forged_or_unknown_notification_is_refused_logged_and_books_nothing() {
    let t = paying().await;
    let owed = t.owed().await;
    t.p24.set_faults(Faults {
        notification: NotificationFault::Forged,
        ..Faults::default()
    });
    let (id, token) = t.start(json!({})).await;
    t.p24.pay(&token, METHOD_BLIK).await.unwrap();
    assert_eq!(t.p24.sent()[0].answer, Some(400));
    assert_eq!(status(t.app.pool(), id).await.0, "started");
    assert!(t.p24.verified().is_empty());
    assert!(
        payments_booked(t.app.pool(), t.jan.customer_id)
            .await
            .is_empty()
    );
    assert_eq!(t.owed().await, owed);
    assert_eq!(
        audited(t.app.pool(), "payment.notification_forged").await,
        1
    );

    // Signed with the shop's key, but no payment of ours has the session: 404, logged.
    let mut n = P24Notification {
        merchant_id: ebok_payments::przelewy24::emulator::MERCHANT_ID,
        pos_id: ebok_payments::przelewy24::emulator::MERCHANT_ID,
        session_id: "ebok-00000000000000000000000000000000".into(),
        amount: 100,
        origin_amount: 100,
        currency: "PLN".into(),
        order_id: 1,
        method_id: METHOD_BLIK,
        statement: "p24-X".into(),
        sign: String::new(),
    };
    n.sign = n.expected_sign(ebok_payments::przelewy24::emulator::CRC);
    let response = t
        .app
        .server
        .client
        .post(t.app.url("/hooks/przelewy24/mlynary"))
        .json(&n)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        audited(t.app.pool(), "payment.notification_unknown").await,
        1
    );
    // Garbage is a 422 problem naming the body; another utility's hook does not exist.
    let response = t
        .app
        .server
        .client
        .post(t.app.url("/hooks/przelewy24/mlynary"))
        .body("{\"merchantId\": \"x\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(support::problem(response).await["field"], "body");
    let response = t
        .app
        .server
        .client
        .post(t.app.url("/hooks/przelewy24/tolkmicko"))
        .json(&n)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn an_amount_mismatch_is_never_verified_or_booked_and_waits_for_staff() {
    let t = paying().await;
    let owed = t.owed().await;
    t.p24.set_faults(Faults {
        notification: NotificationFault::AmountChanged(1),
        ..Faults::default()
    });
    let (id, token) = t.start(json!({})).await;
    t.p24.pay(&token, METHOD_BLIK).await.unwrap();
    assert_eq!(
        t.p24.sent()[0].answer,
        Some(200),
        "settled: not to be resent"
    );
    let (state, problem) = status(t.app.pool(), id).await;
    assert_eq!(state, "mismatch");
    assert!(
        problem.unwrap().contains("0,01"),
        "the amount reported is named"
    );
    assert!(t.p24.verified().is_empty());
    assert!(
        payments_booked(t.app.pool(), t.jan.customer_id)
            .await
            .is_empty()
    );
    assert_eq!(t.owed().await, owed);
    let to_check = ebok_payments::history::to_check(t.app.pool(), t.jan.utility_id)
        .await
        .unwrap();
    assert_eq!(to_check.len(), 1);
    assert_eq!(to_check[0].id, id);
    assert_eq!(audited(t.app.pool(), "payment.amount_mismatch").await, 1);
}

#[tokio::test]
async fn a_failed_verification_is_tried_again_with_the_next_notification() {
    let t = paying().await;
    t.p24.set_faults(Faults {
        verify_refused: true,
        ..Faults::default()
    });
    let (id, token) = t.start(json!({})).await;
    t.p24.pay(&token, METHOD_BLIK).await.unwrap();
    assert_eq!(t.p24.sent()[0].answer, Some(503), "P24 is asked to resend");
    let (state, problem) = status(t.app.pool(), id).await;
    assert_eq!(state, "started");
    assert!(problem.unwrap().contains("Weryfikacja"));
    assert!(
        payments_booked(t.app.pool(), t.jan.customer_id)
            .await
            .is_empty()
    );
    assert_eq!(audited(t.app.pool(), "payment.verify_failed").await, 1);

    t.p24.set_faults(Faults::default());
    assert_eq!(t.p24.resend(&t.session_of(id).await).await, Some(200));
    assert_eq!(status(t.app.pool(), id).await, ("booked".to_string(), None));
    assert_eq!(
        payments_booked(t.app.pool(), t.jan.customer_id).await.len(),
        1
    );
    assert_eq!(t.owed().await, 0);
}

#[tokio::test]
async fn the_provider_down_is_retried_and_when_it_stays_down_the_resident_is_told() {
    let t = paying().await;
    // Down for two requests: the third attempt registers, and verification also retries.
    t.p24.set_faults(Faults {
        down_for: 2,
        ..Faults::default()
    });
    let (id, token) = t.start(json!({})).await;
    t.p24.set_faults(Faults {
        down_for: 2,
        ..Faults::default()
    });
    t.p24.pay(&token, METHOD_BLIK).await.unwrap();
    assert_eq!(t.p24.sent()[0].answer, Some(200));
    assert_eq!(status(t.app.pool(), id).await.0, "booked");

    // Down for longer than the retries: 503 with a Polish problem, the payment failed.
    t.p24.set_faults(Faults {
        down_for: 100,
        ..Faults::default()
    });
    let response = t
        .app
        .post(
            Some(&t.token),
            "/api/v1/payments",
            json!({ "amount_grosze": 1000 }),
        )
        .await;
    assert_eq!(response.status(), 503);
    let problem = support::problem(response).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Operator płatności"),
        "{problem}"
    );
    let failed: (String, String) =
        sqlx::query_as("SELECT status::text, problem FROM payments WHERE id <> $1")
            .bind(id)
            .fetch_one(t.app.pool())
            .await
            .unwrap();
    assert_eq!(failed.0, "failed");
    assert_eq!(audited(t.app.pool(), "payment.register_failed").await, 1);
}

#[tokio::test]
async fn payments_go_to_the_chosen_then_the_oldest_invoices_and_the_rest_is_credit() {
    let t = paying().await;
    let periodic = t.owed().await;
    let service = manual::issue(
        t.app.pool(),
        t.jan.utility_id,
        t.jan.customer_id,
        local_day(Utc::now()),
        &[ManualLine {
            name: "Wymiana zaworu".into(),
            unit: "usł.".into(),
            quantity_milli: 1000,
            unit_price: Money::from_grosze(10_000),
            vat_rate: 8,
        }],
    )
    .await
    .unwrap();
    let service_due: i64 =
        sqlx::query_scalar("SELECT amount_due_grosze FROM invoices WHERE id = $1")
            .bind(service)
            .fetch_one(t.app.pool())
            .await
            .unwrap();
    assert_eq!(service_due, 10_800);

    // 50 zł for the service invoice, chosen: it goes there, not to the older one.
    let (first, token) = t
        .start(json!({ "invoice_id": service, "amount_grosze": 5000 }))
        .await;
    t.p24.pay(&token, METHOD_BLIK).await.unwrap();
    let allocated: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT a.invoice_id, a.amount_grosze FROM invoice_allocations a
         JOIN payments p ON p.ledger_entry_id = a.ledger_entry_id WHERE p.id = $1",
    )
    .bind(first)
    .fetch_all(t.app.pool())
    .await
    .unwrap();
    assert_eq!(allocated, vec![(service, 5000)]);

    // Then everything owed plus 20 zł: the periodic invoice (older), the rest of the service
    // invoice, and 20 zł of credit.
    let owed = t.owed().await;
    assert_eq!(owed, periodic + 10_800 - 5000);
    let (second, token) = t.start(json!({ "amount_grosze": owed + 2000 })).await;
    t.p24.pay(&token, METHOD_BLIK).await.unwrap();
    let mut allocated: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT a.invoice_id, a.amount_grosze FROM invoice_allocations a
         JOIN payments p ON p.ledger_entry_id = a.ledger_entry_id WHERE p.id = $1",
    )
    .bind(second)
    .fetch_all(t.app.pool())
    .await
    .unwrap();
    allocated.sort();
    let periodic_id: i64 =
        sqlx::query_scalar("SELECT id FROM invoices WHERE customer_id = $1 AND kind = 'periodic'")
            .bind(t.jan.customer_id)
            .fetch_one(t.app.pool())
            .await
            .unwrap();
    let mut expected = vec![(periodic_id, periodic), (service, 5800)];
    expected.sort();
    assert_eq!(allocated, expected);
    assert_eq!(
        t.owed().await,
        -2000,
        "overpaid: credit for the next invoice"
    );
    let invoices: Value = t
        .app
        .get(&t.token, "/api/v1/invoices")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        invoices
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["open_grosze"] == 0),
        "{invoices}"
    );
    // Nothing owed: a payment without an amount has nothing to pay.
    let response = t
        .app
        .post(Some(&t.token), "/api/v1/payments", json!({}))
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(support::problem(response).await["field"], "amount_grosze");
}

#[tokio::test]
async fn nobody_else_sees_or_pays_through_a_residents_payment() {
    let t = paying().await;
    let (id, _) = t.start(json!({})).await;
    let own_invoice: i64 = sqlx::query_scalar("SELECT id FROM invoices WHERE customer_id = $1")
        .bind(t.jan.customer_id)
        .fetch_one(t.app.pool())
        .await
        .unwrap();
    // Ola, of the same utility, and Eva, of another.
    let ola = resident(
        t.app.pool(),
        t.jan.utility_id,
        "mlynary",
        "ola@example.pl",
        5,
    )
    .await;
    let tolkmicko = utility(t.app.pool(), "tolkmicko").await;
    let eva = resident(t.app.pool(), tolkmicko, "tolkmicko", "eva@example.pl", 5).await;
    for (who, slug) in [(&ola, "mlynary"), (&eva, "tolkmicko")] {
        let token = t.app.login(slug, &who.email).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            t.app
                .get(&token, &format!("/api/v1/payments/{id}"))
                .await
                .status(),
            404
        );
        let list: Value = t
            .app
            .get(&token, "/api/v1/payments")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(list, json!([]));
        // Paying Jan's invoice is refused at the field.
        let response = t
            .app
            .post(
                Some(&token),
                "/api/v1/payments",
                json!({ "invoice_id": own_invoice, "amount_grosze": 100 }),
            )
            .await;
        let status = response.status();
        let problem = support::problem(response).await;
        if slug == "mlynary" {
            assert_eq!(status, 422);
            assert_eq!(problem["field"], "invoice_id");
        } else {
            // Tolkmicko takes no payments online at all.
            assert_eq!(status, 409, "{problem}");
        }
        let cookie = t.app.web_login(slug, &who.email).await;
        assert_eq!(
            t.app
                .web_get(&cookie, &format!("/u/{slug}/platnosci/{id}"))
                .await
                .status(),
            404
        );
    }
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM payments")
            .fetch_one(t.app.pool())
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn the_portal_sends_the_resident_to_przelewy24_and_shows_the_payment_booked() {
    let t = paying().await;
    let owed = t.owed().await;
    let cookie = t.app.web_login("mlynary", &t.jan.email).await;
    let page = t.app.web_get(&cookie, "/u/mlynary/platnosci").await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains(&format!("form-action 'self' {}", t.p24.url())),
        "the form may lead to the provider: {csp}"
    );
    let html = page.text().await.unwrap();
    let typed = format!("{},{:02}", owed / 100, owed % 100);
    assert!(
        html.contains(&format!("value=\"{typed}\"")),
        "the amount owed is proposed"
    );

    // A bad amount: the form again with the message at the field.
    let csrf = t.app.web_csrf(&cookie, "/u/mlynary/platnosci").await;
    let again = t
        .app
        .web_post(
            &cookie,
            "/u/mlynary/platnosci",
            &[
                ("csrf", &csrf),
                ("kwota", "dwadzieścia"),
                ("metoda", "blik"),
            ],
        )
        .await;
    assert_eq!(again.status(), 422);
    let html = again.text().await.unwrap();
    assert!(html.contains("id=\"kwota-error\""), "{html}");

    let sent = t
        .app
        .web_post(
            &cookie,
            "/u/mlynary/platnosci",
            &[("csrf", &csrf), ("kwota", &typed), ("metoda", "blik")],
        )
        .await;
    assert_eq!(sent.status(), 303);
    let at_p24 = sent.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(
        at_p24.starts_with(&format!("{}/trnRequest/", t.p24.url())),
        "{at_p24}"
    );

    // The emulator's page, then its BLIK form, which sends the payer back.
    let client = &t.app.server.client;
    let page = client
        .get(&at_p24)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Kod BLIK"));
    let back = client
        .post(&at_p24)
        .form(&[("method", "blik"), ("blik_code", "777123")])
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 303);
    let back_to = back.headers()[LOCATION].to_str().unwrap().to_string();
    let path = back_to.strip_prefix(support::PORTAL_ORIGIN).unwrap();
    assert!(path.starts_with("/u/mlynary/platnosci/"), "{back_to}");
    let html = t.app.web_get(&cookie, path).await.text().await.unwrap();
    assert!(html.contains("Dziękujemy, płatność zaksięgowana"), "{html}");
    assert_eq!(t.owed().await, 0);
}

#[tokio::test]
async fn staff_who_see_invoices_see_the_payments_to_check_and_no_one_else_does() {
    let t = paying().await;
    t.p24.set_faults(Faults {
        notification: NotificationFault::AmountChanged(1),
        ..Faults::default()
    });
    let (_, token) = t.start(json!({})).await;
    t.p24.pay(&token, METHOD_BLIK).await.unwrap();
    let customer_number: String =
        sqlx::query_scalar("SELECT customer_number FROM customers WHERE id = $1")
            .bind(t.jan.customer_id)
            .fetch_one(t.app.pool())
            .await
            .unwrap();
    let u = t.jan.utility_id;
    let clerk = support::staff(t.app.pool(), u, "mlynary", "clerk").await;
    let technician = support::staff(t.app.pool(), u, "mlynary", "technician").await;
    let tolkmicko = utility(t.app.pool(), "tolkmicko").await;
    let other = support::staff(t.app.pool(), tolkmicko, "tolkmicko", "billing").await;

    let web = t.app.staff_web_login(&clerk, 1).await;
    let page = t.app.web_get(&web, "/panel/mlynary/platnosci").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let to_check =
        &html[html.find("Do wyjaśnienia").unwrap()..html.find("Ostatnie płatności").unwrap()];
    assert!(to_check.contains(&customer_number), "{to_check}");
    assert!(
        to_check.contains("0,01"),
        "the amount the provider reported: {to_check}"
    );

    let web = t.app.staff_web_login(&technician, 1).await;
    assert_eq!(
        t.app
            .web_get(&web, "/panel/mlynary/platnosci")
            .await
            .status(),
        403
    );
    let web = t.app.staff_web_login(&other, 1).await;
    let page = t.app.web_get(&web, "/panel/tolkmicko/platnosci").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Nie ma płatności do wyjaśnienia"), "{html}");
    assert!(!html.contains(&customer_number));
}

#[tokio::test]
async fn a_customer_transfers_to_their_own_virtual_account_printed_on_the_invoice() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 70).await;
    billing_ready(app.pool(), u).await;
    sqlx::query(
        "UPDATE utilities SET virtual_account_sort_code = '10201026', virtual_account_prefix = '77'
         WHERE id = $1",
    )
    .bind(u)
    .execute(app.pool())
    .await
    .unwrap();
    bill_last_month(app.pool(), u).await;
    let expected =
        ebok_billing::transfer::virtual_account("10201026", "77", jan.customer_id).unwrap();
    let (document, xml): (Value, String) =
        sqlx::query_as("SELECT document::jsonb, ksef_xml FROM invoices WHERE customer_id = $1")
            .bind(jan.customer_id)
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(document["bank_account"], expected.as_str());
    assert!(
        xml.contains(expected.as_str()),
        "the FA(3) XML names the account"
    );

    let cookie = app.web_login("mlynary", &jan.email).await;
    let html = app
        .web_get(&cookie, "/u/mlynary/platnosci")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(&expected.formatted()), "{html}");
    assert!(html.contains("indywidualny numer rachunku"));
    assert!(html.contains(r#"<svg role="img" aria-label="Kod QR przelewu"#));
    // Online payments are off here: the page says so and offers the transfer.
    assert!(html.contains("Płatności online nie są jeszcze dostępne"));
}

#[tokio::test]
async fn billing_staff_import_a_statement_and_assign_what_was_not_matched() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 70).await;
    billing_ready(app.pool(), u).await;
    sqlx::query(
        "UPDATE utilities SET virtual_account_sort_code = '10201026', virtual_account_prefix = '77'
         WHERE id = $1",
    )
    .bind(u)
    .execute(app.pool())
    .await
    .unwrap();
    bill_last_month(app.pool(), u).await;
    let jan_account =
        ebok_billing::transfer::virtual_account("10201026", "77", jan.customer_id).unwrap();
    let customer_number: String =
        sqlx::query_scalar("SELECT customer_number FROM customers WHERE id = $1")
            .bind(jan.customer_id)
            .fetch_one(app.pool())
            .await
            .unwrap();
    let file = format!(
        ":20:X\n:25:/PL61109010140000071219812874\n:28C:1/1\n\
         :61:261201C30,00NTRF//A\n:86:020~20Woda~38PL{}\n\
         :61:261201C12,34NTRF//B\n:86:020~20Nie wiem za co~32ANNA\n:62F:C261201PLN42,34\n-",
        jan_account.as_str()
    );
    let billing = support::staff(app.pool(), u, "mlynary", "billing").await;
    let clerk = support::staff(app.pool(), u, "mlynary", "clerk").await;
    let tolkmicko = utility(app.pool(), "tolkmicko").await;
    let other = support::staff(app.pool(), tolkmicko, "tolkmicko", "billing").await;

    let upload = |cookie: String, csrf: String, slug: &'static str| {
        let form = reqwest::multipart::Form::new().text("csrf", csrf).part(
            "plik",
            reqwest::multipart::Part::bytes(file.clone().into_bytes()).file_name("wyciag.sta"),
        );
        app.server
            .client
            .post(app.url(&format!("/panel/{slug}/wyciagi")))
            .header(reqwest::header::COOKIE, cookie)
            .header(reqwest::header::ORIGIN, support::PORTAL_ORIGIN)
            .multipart(form)
            .send()
    };
    let web = app.staff_web_login(&billing, 1).await;
    let csrf = app.web_csrf(&web, "/panel/mlynary/wyciagi").await;
    let page = upload(web.clone(), csrf.clone(), "mlynary").await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("zaksięgowano 1, do przypisania 1, wypłaty 0"),
        "{html}"
    );
    assert!(html.contains("Nie wiem za co"));
    // Again: nothing twice.
    let html = upload(web.clone(), csrf.clone(), "mlynary")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("zaksięgowano 0, do przypisania 0"), "{html}");
    assert!(html.contains("wczytane już wcześniej 2"), "{html}");

    let line: i64 =
        sqlx::query_scalar("SELECT id FROM bank_statement_lines WHERE status = 'unmatched'")
            .fetch_one(app.pool())
            .await
            .unwrap();
    // A customer number nobody has: the form again with the message at the line.
    let wrong = app
        .web_post(
            &web,
            &format!("/panel/mlynary/wyciagi/{line}/przypisz"),
            &[("csrf", &csrf), ("klient", "999999999")],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains(&format!("id=\"klient-{line}-error\""))
    );
    // A clerk may not, another utility's billing staff cannot find it.
    let counter = app.staff_web_login(&clerk, 1).await;
    assert_eq!(
        app.web_get(&counter, "/panel/mlynary/wyciagi")
            .await
            .status(),
        403
    );
    let counter_csrf = app.web_csrf(&counter, "/panel/mlynary/platnosci").await;
    let refused = app
        .web_post(
            &counter,
            &format!("/panel/mlynary/wyciagi/{line}/przypisz"),
            &[("csrf", &counter_csrf), ("klient", &customer_number)],
        )
        .await;
    assert_eq!(refused.status(), 403);
    let theirs = app.staff_web_login(&other, 1).await;
    let their_csrf = app.web_csrf(&theirs, "/panel/tolkmicko/wyciagi").await;
    let foreign = app
        .web_post(
            &theirs,
            &format!("/panel/tolkmicko/wyciagi/{line}/przypisz"),
            &[("csrf", &their_csrf), ("klient", &customer_number)],
        )
        .await;
    assert_eq!(foreign.status(), 422, "their customer numbers are not ours");

    let assigned = app
        .web_post(
            &web,
            &format!("/panel/mlynary/wyciagi/{line}/przypisz"),
            &[("csrf", &csrf), ("klient", &customer_number)],
        )
        .await;
    assert_eq!(assigned.status(), 303);
    let paid: Vec<i64> = sqlx::query_scalar(
        "SELECT amount_grosze FROM ledger_entries WHERE customer_id = $1 AND kind = 'payment' ORDER BY id",
    )
    .bind(jan.customer_id)
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(paid, vec![-3_000, -1_234]);
}
