//! Paying through Stripe Checkout, over HTTP against the emulator: the session in PLN with
//! BLIK, Przelewy24 and card, the webhook checked by its signature (a wrong secret, a stale
//! timestamp refused; the previous secret accepted during a rotation), asynchronous methods
//! booked at `async_payment_succeeded` and failed ones never. Each test asserts the ledger.

use crate::support;

use chrono::{Datelike, Months, Utc};
use ebok_billing::run::{self, RunRequest};
use ebok_common::domain::time::local_day;
use ebok_payments::online::{Provider, Providers};
use ebok_payments::stripe::Stripe;
use ebok_payments::stripe::emulator::{Faults, StripeEmulator, WEBHOOK_SECRET};
use serde_json::{Value, json};
use support::{App, billing_ready, resident, utility};

struct Paying {
    app: App,
    stripe: StripeEmulator,
    jan: support::Resident,
    token: String,
}

/// A utility paid through Stripe, whose endpoint secret is being rotated when `previous` is
/// given, and Jan with last month's invoice.
async fn paying(previous: Option<&str>) -> Paying {
    let stripe = StripeEmulator::start().await.unwrap();
    let mut config = stripe.config();
    if let Some(old) = previous {
        config.previous_webhook_secret = Some(old.into());
    }
    let app = App::with_payments(
        Providers::default().with("mlynary", Provider::Stripe(Stripe::new(&config))),
    )
    .await;
    stripe.set_webhook(&app.url("/hooks/stripe/mlynary"));
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 70).await;
    billing_ready(app.pool(), u).await;
    let today = local_day(Utc::now());
    run::run(
        app.pool(),
        &RunRequest {
            utility_id: u,
            month: today.with_day(1).unwrap() - Months::new(1),
            issue_date: today,
            started_by: None,
            batch: 100,
        },
        |_| {},
    )
    .await
    .unwrap();
    let token = app.login("mlynary", &jan.email).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    Paying {
        app,
        stripe,
        jan,
        token,
    }
}

impl Paying {
    /// Starts paying what is owed; (payment id, Checkout Session id).
    async fn start(&self) -> (i64, String) {
        let response = self
            .app
            .post(Some(&self.token), "/api/v1/payments", json!({}))
            .await;
        assert_eq!(response.status(), 201);
        let started: Value = response.json().await.unwrap();
        let url = started["redirect_url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("{}/c/pay/cs_test_", self.stripe.url())),
            "{url}"
        );
        (
            started["payment_id"].as_i64().unwrap(),
            url.rsplit('/').next().unwrap().to_string(),
        )
    }

    async fn owed(&self) -> i64 {
        sqlx::query_scalar("SELECT balance_grosze FROM customer_balances WHERE customer_id = $1")
            .bind(self.jan.customer_id)
            .fetch_one(self.app.pool())
            .await
            .unwrap()
    }

    async fn booked(&self) -> Vec<(i64, String)> {
        support::payments_booked(self.app.pool(), self.jan.customer_id).await
    }

    async fn status(&self, id: i64) -> String {
        sqlx::query_scalar("SELECT status::text FROM payments WHERE id = $1")
            .bind(id)
            .fetch_one(self.app.pool())
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_signed_completed_checkout_is_booked_once() {
    let t = paying(None).await;
    let owed = t.owed().await;
    let (id, session) = t.start().await;
    t.stripe.pay(&session, "blik").await.unwrap();
    let sent = t.stripe.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, "checkout.session.completed");
    assert_eq!(sent[0].answer, Some(200));
    assert_eq!(t.status(id).await, "booked");
    let entries = t.booked().await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].0, -owed);
    assert!(entries[0].1.starts_with("stripe:pi_emul"), "{entries:?}");
    assert_eq!(t.owed().await, 0);
    // Stripe delivers at least once: the same event again books nothing.
    assert_eq!(
        t.stripe
            .resend(&session, "checkout.session.completed")
            .await,
        Some(200)
    );
    assert_eq!(t.booked().await.len(), 1);
}

#[tokio::test]
async fn a_wrong_secret_or_a_stale_timestamp_is_refused_and_books_nothing() {
    let t = paying(None).await;
    let owed = t.owed().await;
    let (id, session) = t.start().await;
    t.stripe.set_faults(Faults {
        signing_secret: Some("whsec_someone_else".into()),
        ..Faults::default()
    });
    t.stripe.pay(&session, "card").await.unwrap();
    t.stripe.set_faults(Faults {
        stale_by_secs: 301,
        ..Faults::default()
    });
    t.stripe
        .resend(&session, "checkout.session.completed")
        .await
        .unwrap();
    let answers: Vec<Option<u16>> = t.stripe.sent().iter().map(|s| s.answer).collect();
    assert_eq!(answers, vec![Some(400), Some(400)]);
    assert_eq!(t.status(id).await, "started");
    assert!(t.booked().await.is_empty());
    assert_eq!(t.owed().await, owed);
    let forged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'payment.notification_forged'",
    )
    .fetch_one(t.app.pool())
    .await
    .unwrap();
    assert_eq!(forged, 2);
    // No signature at all.
    let response = t
        .app
        .server
        .client
        .post(t.app.url("/hooks/stripe/mlynary"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // Within the tolerance, signed right: booked.
    t.stripe.set_faults(Faults {
        stale_by_secs: 120,
        ..Faults::default()
    });
    assert_eq!(
        t.stripe
            .resend(&session, "checkout.session.completed")
            .await,
        Some(200)
    );
    assert_eq!(t.booked().await.len(), 1);
}

#[tokio::test]
async fn during_a_rotation_events_signed_with_the_previous_secret_are_accepted() {
    let old = "whsec_previous_secret";
    let t = paying(Some(old)).await;
    // Stripe signs with both while the endpoint rolls: the old one alone must do as well.
    t.stripe.set_faults(Faults {
        signing_secret: Some(old.into()),
        ..Faults::default()
    });
    let (first, session) = t.start().await;
    t.stripe.pay(&session, "blik").await.unwrap();
    assert_eq!(t.status(first).await, "booked");
    // Both secrets, two v1 values.
    t.stripe.set_faults(Faults {
        signing_secret: Some("whsec_unknown".into()),
        second_secret: Some(WEBHOOK_SECRET.into()),
        ..Faults::default()
    });
    let response = t
        .app
        .post(
            Some(&t.token),
            "/api/v1/payments",
            json!({ "amount_grosze": 2500 }),
        )
        .await;
    let started: Value = response.json().await.unwrap();
    let second = started["payment_id"].as_i64().unwrap();
    let session = started["redirect_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    t.stripe.pay(&session, "card").await.unwrap();
    assert_eq!(t.status(second).await, "booked");
    assert_eq!(t.booked().await.len(), 2);
}

#[tokio::test]
async fn przelewy24_through_stripe_is_booked_when_it_succeeds_and_a_failure_never() {
    let t = paying(None).await;
    let owed = t.owed().await;
    let (id, session) = t.start().await;
    t.stripe.pay(&session, "p24").await.unwrap();
    let kinds: Vec<(String, Option<u16>)> = t
        .stripe
        .sent()
        .into_iter()
        .map(|s| (s.kind, s.answer))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("checkout.session.completed".into(), Some(200)),
            ("checkout.session.async_payment_succeeded".into(), Some(200)),
        ]
    );
    assert_eq!(t.status(id).await, "booked");
    assert_eq!(t.owed().await, 0);

    // Another payment whose method fails later: never booked, marked failed.
    let response = t
        .app
        .post(
            Some(&t.token),
            "/api/v1/payments",
            json!({ "amount_grosze": 5000 }),
        )
        .await;
    let started: Value = response.json().await.unwrap();
    let failing = started["payment_id"].as_i64().unwrap();
    let session = started["redirect_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(t.stripe.fail(&session).await, Some(200));
    assert_eq!(t.status(failing).await, "failed");
    assert_eq!(t.booked().await.len(), 1);
    let _ = owed;
}

#[tokio::test]
async fn another_amount_in_a_signed_event_waits_for_staff() {
    let t = paying(None).await;
    let owed = t.owed().await;
    let (id, session) = t.start().await;
    t.stripe.set_faults(Faults {
        amount_total: Some(owed - 1),
        ..Faults::default()
    });
    t.stripe.pay(&session, "card").await.unwrap();
    assert_eq!(t.status(id).await, "mismatch");
    assert!(t.booked().await.is_empty());
    assert_eq!(t.owed().await, owed);
}
