//! A local server that speaks the part of Stripe's API that Checkout needs, for the tests and
//! the demo:
//!
//! - `POST /v1/checkout/sessions` (form-encoded, `Authorization: Bearer` the secret key,
//!   `Idempotency-Key` honoured): the session with its `url`; errors in Stripe's shape
//!   (`{"error": {"type", "message", "param"}}`, 401 for a wrong key);
//! - `GET /c/pay/{id}`: a checkout page (BLIK, Przelewy24, card) whose form pays, sends the
//!   signed webhook events to the shop and sends the payer to `success_url`:
//!   `checkout.session.completed` with `payment_status` `paid` for BLIK and card, and for
//!   Przelewy24 (which confirms later) `completed` with `unpaid` then
//!   `checkout.session.async_payment_succeeded`. [`StripeEmulator::pay`] does the same for a test.
//!
//! On demand ([`Faults`]) it is down (503), signs with another secret, with a stale timestamp,
//! or with two secrets as during a rotation, or reports another amount;
//! [`StripeEmulator::resend`] sends an event again, [`StripeEmulator::fail`] sends
//! `async_payment_failed`. Test credentials: [`SECRET_KEY`], [`WEBHOOK_SECRET`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ebok_common::config::StripeConfig;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::signatures::stripe_signature;

pub const SECRET_KEY: &str = "sk_test_emulator_0123456789";
pub const WEBHOOK_SECRET: &str = "whsec_emulator_0123456789";

/// What the emulator does instead of its plain work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// The next this many API requests answer 503.
    pub down_for: u32,
    /// Events are signed with this secret instead of [`WEBHOOK_SECRET`].
    pub signing_secret: Option<String>,
    /// …and also with this one (two `v1`, as during a rotation).
    pub second_secret: Option<String>,
    /// Events are stamped this many seconds in the past.
    pub stale_by_secs: i64,
    /// Events report this amount instead of the session's.
    pub amount_total: Option<i64>,
}

/// An event the emulator sent and the shop's HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentEvent {
    pub kind: String,
    pub session: String,
    pub answer: Option<u16>,
}

#[derive(Debug, Clone)]
struct CheckoutSession {
    id: String,
    amount: i64,
    currency: String,
    name: String,
    client_reference_id: String,
    success_url: String,
    payment_intent: Option<String>,
    paid: bool,
}

struct Shared {
    sessions: Mutex<HashMap<String, CheckoutSession>>,
    by_key: Mutex<HashMap<String, String>>,
    faults: Mutex<Faults>,
    sent: Mutex<Vec<SentEvent>>,
    webhook_url: Mutex<Option<String>>,
    /// `http://127.0.0.1:port`, where the checkout pages are.
    base: String,
    next: AtomicU32,
    http: reqwest::Client,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running emulator; stopped when dropped.
pub struct StripeEmulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl Drop for StripeEmulator {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl StripeEmulator {
    pub async fn start() -> anyhow::Result<StripeEmulator> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            sessions: Mutex::default(),
            by_key: Mutex::default(),
            faults: Mutex::default(),
            sent: Mutex::default(),
            webhook_url: Mutex::default(),
            base: format!("http://{addr}"),
            next: AtomicU32::new(1),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
        });
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/c/pay/{id}", get(checkout_page).post(checkout_form))
            .with_state(shared.clone());
        let stop = CancellationToken::new();
        let until = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(until.cancelled_owned())
                .await;
        });
        Ok(StripeEmulator { addr, shared, stop })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where events are sent (the endpoint registered in Stripe's dashboard, in production).
    pub fn set_webhook(&self, url: &str) {
        *lock(&self.shared.webhook_url) = Some(url.to_string());
    }

    /// The shop's configuration for this emulator.
    pub fn config(&self) -> StripeConfig {
        StripeConfig {
            api_base_url: self.url(),
            secret_key: SECRET_KEY.into(),
            webhook_secret: WEBHOOK_SECRET.into(),
            previous_webhook_secret: None,
            timeout_ms: 10_000,
        }
    }

    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }

    /// The Checkout Session created for our `client_reference_id`.
    pub fn session_of(&self, client_reference_id: &str) -> Option<String> {
        lock(&self.shared.sessions)
            .values()
            .find(|s| s.client_reference_id == client_reference_id)
            .map(|s| s.id.clone())
    }

    /// Pays session `id` with `method` (`blik`, `p24` or `card`) and sends the events.
    pub async fn pay(&self, id: &str, method: &str) -> Option<String> {
        pay(&self.shared, id, method).await
    }

    /// Sends `kind` for session `id` again.
    pub async fn resend(&self, id: &str, kind: &str) -> Option<u16> {
        let s = lock(&self.shared.sessions).get(id).cloned()?;
        send(&self.shared, &s, kind).await
    }

    /// Sends `checkout.session.async_payment_failed` for session `id`.
    pub async fn fail(&self, id: &str) -> Option<u16> {
        self.resend(id, "checkout.session.async_payment_failed")
            .await
    }

    pub fn sent(&self) -> Vec<SentEvent> {
        lock(&self.shared.sent).clone()
    }
}

fn stripe_error(status: StatusCode, kind: &str, message: &str, param: Option<&str>) -> Response {
    (
        status,
        Json(json!({ "error": { "type": kind, "message": message, "param": param } })),
    )
        .into_response()
}

async fn create_session(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    {
        let mut faults = lock(&shared.faults);
        if faults.down_for > 0 {
            faults.down_for -= 1;
            return stripe_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "api_error",
                "Stripe is temporarily unavailable.",
                None,
            );
        }
    }
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if key != Some(SECRET_KEY) {
        return stripe_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "Invalid API Key provided.",
            None,
        );
    }
    let idempotency = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(k) = &idempotency
        && let Some(id) = lock(&shared.by_key).get(k).cloned()
        && let Some(s) = lock(&shared.sessions).get(&id).cloned()
    {
        return Json(session_json(&shared, &s)).into_response();
    }
    let get = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let missing = |param: &str| {
        stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            &format!("Missing required param: {param}."),
            Some(param),
        )
    };
    if get("mode").as_deref() != Some("payment") {
        return missing("mode");
    }
    let Some(success_url) = get("success_url") else {
        return missing("success_url");
    };
    let Some(amount) =
        get("line_items[0][price_data][unit_amount]").and_then(|a| a.parse::<i64>().ok())
    else {
        return missing("line_items[0][price_data][unit_amount]");
    };
    if amount < 200 {
        // Stripe's minimum charge in PLN is 2,00 zł.
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "The Checkout Session's total amount due must add up to at least zł2.00 pln",
            Some("line_items[0][price_data][unit_amount]"),
        );
    }
    let Some(currency) = get("line_items[0][price_data][currency]") else {
        return missing("line_items[0][price_data][currency]");
    };
    let n = shared.next.fetch_add(1, Ordering::Relaxed);
    let id = format!("cs_test_emul{n:06}{:08x}", rand::random::<u32>());
    let s = CheckoutSession {
        id: id.clone(),
        amount,
        currency,
        name: get("line_items[0][price_data][product_data][name]").unwrap_or_default(),
        client_reference_id: get("client_reference_id").unwrap_or_default(),
        success_url,
        payment_intent: None,
        paid: false,
    };
    lock(&shared.sessions).insert(id.clone(), s.clone());
    if let Some(k) = idempotency {
        lock(&shared.by_key).insert(k, id);
    }
    Json(session_json(&shared, &s)).into_response()
}

fn session_json(shared: &Shared, s: &CheckoutSession) -> Value {
    json!({
        "id": s.id,
        "object": "checkout.session",
        "amount_total": s.amount,
        "currency": s.currency,
        "client_reference_id": s.client_reference_id,
        "mode": "payment",
        "payment_status": if s.paid { "paid" } else { "unpaid" },
        "status": if s.paid { "complete" } else { "open" },
        "url": format!("{}/c/pay/{}", shared.base, s.id),
    })
}

async fn send(shared: &Shared, s: &CheckoutSession, kind: &str) -> Option<u16> {
    let url = lock(&shared.webhook_url).clone()?;
    let faults = lock(&shared.faults).clone();
    let paid = kind != "checkout.session.completed" || s.paid;
    let event = json!({
        "id": format!("evt_emul{:010x}", rand::random::<u64>() >> 24),
        "object": "event",
        "type": kind,
        "created": chrono::Utc::now().timestamp(),
        "data": { "object": {
            "id": s.id,
            "object": "checkout.session",
            "client_reference_id": s.client_reference_id,
            "amount_total": faults.amount_total.unwrap_or(s.amount),
            "currency": s.currency,
            "payment_status": if paid && kind != "checkout.session.async_payment_failed" { "paid" } else { "unpaid" },
            "payment_intent": s.payment_intent,
        }},
    });
    let body = serde_json::to_vec(&event).expect("json");
    let t = chrono::Utc::now().timestamp() - faults.stale_by_secs;
    let secret = faults
        .signing_secret
        .clone()
        .unwrap_or_else(|| WEBHOOK_SECRET.to_string());
    let mut signature = format!("t={t},v1={}", stripe_signature(&secret, t, &body));
    if let Some(second) = &faults.second_secret {
        signature.push_str(&format!(",v1={}", stripe_signature(second, t, &body)));
    }
    let answer = shared
        .http
        .post(&url)
        .header("Stripe-Signature", signature)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16());
    lock(&shared.sent).push(SentEvent {
        kind: kind.to_string(),
        session: s.id.clone(),
        answer,
    });
    answer
}

/// Marks the session paid by `method` and sends its events; where the payer goes next.
async fn pay(shared: &Shared, id: &str, method: &str) -> Option<String> {
    let s = {
        let mut sessions = lock(&shared.sessions);
        let s = sessions.get_mut(id)?;
        if s.payment_intent.is_none() {
            s.payment_intent = Some(format!("pi_emul{:016x}", rand::random::<u64>()));
        }
        // Przelewy24 through Stripe confirms later: the session completes unpaid first.
        s.paid = method != "p24";
        s.clone()
    };
    send(shared, &s, "checkout.session.completed").await;
    if method == "p24" {
        let paid = {
            let mut sessions = lock(&shared.sessions);
            let s = sessions.get_mut(id)?;
            s.paid = true;
            s.clone()
        };
        send(shared, &paid, "checkout.session.async_payment_succeeded").await;
    }
    Some(s.success_url.replace("{CHECKOUT_SESSION_ID}", id))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn checkout_page(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let Some(s) = lock(&shared.sessions).get(&id).cloned() else {
        return (StatusCode::NOT_FOUND, Html("<h1>Session not found</h1>")).into_response();
    };
    Html(format!(
        r#"<!doctype html><html lang="pl"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stripe Checkout (emulator)</title></head><body><main>
<h1>Stripe Checkout <small>(emulator)</small></h1>
<p>{name}</p><p>Kwota: <strong>{zl},{gr:02} zł</strong></p>
<form method="post">
<label for="blik">Kod BLIK</label> <input id="blik" name="blik_code" inputmode="numeric">
<button type="submit" name="method" value="blik">Zapłać BLIKIEM</button>
<button type="submit" name="method" value="p24">Przelewy24</button>
<button type="submit" name="method" value="card">Karta</button>
</form></main></body></html>"#,
        name = escape(&s.name),
        zl = s.amount / 100,
        gr = s.amount % 100,
    ))
    .into_response()
}

#[derive(Deserialize)]
struct CheckoutForm {
    method: String,
}

async fn checkout_form(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Form(form): Form<CheckoutForm>,
) -> Response {
    match pay(&shared, &id, &form.method).await {
        Some(to) => Redirect::to(&to).into_response(),
        None => (StatusCode::NOT_FOUND, Html("<h1>Session not found</h1>")).into_response(),
    }
}
