//! A local server that speaks Przelewy24's documented REST v1 protocol, for the tests, `ebok
//! bench payments` and the demo (so a resident in the demo can pay):
//!
//! - `GET /api/v1/testAccess`, `POST /api/v1/transaction/register`, `PUT
//!   /api/v1/transaction/verify`: HTTP Basic (pos id, API key) checked, required fields and the
//!   `sign` checked, errors in P24's shape (`{"error": "…", "code": 400}`, 401 for bad
//!   credentials);
//! - `GET /trnRequest/{token}`: a payment page (BLIK code or a test bank), and its form, which
//!   pays and sends the signed notification to the shop's `urlStatus` before sending the payer
//!   back to `urlReturn`; [`Przelewy24Emulator::pay`] does the same for a test without a page.
//!
//! On demand ([`Faults`]) it is down for the next requests (503), refuses verification, or
//! sends a notification forged (a wrong sign), with another amount (signed correctly, as a
//! shop whose CRC key leaked would see), twice, or late; [`Przelewy24Emulator::resend`] sends a
//! transaction's notification again, as P24 does until it is verified. Every notification sent
//! and the shop's answer is recorded, and so is every verification.
//!
//! Its credentials are [`MERCHANT_ID`], [`API_KEY`] and [`CRC`]: test values for this emulator
//! only.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use ebok_common::config::Przelewy24Config;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::signatures::{P24Notification, p24_register_sign, p24_verify_sign};

pub const MERCHANT_ID: i64 = 100_100;
pub const API_KEY: &str = "emulator-api-key-0123456789";
pub const CRC: &str = "emulator-crc-0123";
use super::METHOD_BLIK;
/// The method id the emulator's test bank pays with.
pub const METHOD_TRANSFER: i64 = 25;

/// How the next notification is sent, or what the API does instead of its work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// The next this many API requests answer 503.
    pub down_for: u32,
    /// Verification answers 400 (as for a transaction P24 does not know as paid).
    pub verify_refused: bool,
    pub notification: NotificationFault,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NotificationFault {
    #[default]
    None,
    /// Signed with another key.
    Forged,
    /// Another amount, correctly signed.
    AmountChanged(i64),
    /// Sent this many times more, one after the other.
    Replayed(u32),
    /// Sent after this long (the payer is sent back first).
    Delayed(Duration),
}

/// A notification the emulator sent and what the shop answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentNotification {
    pub notification: P24Notification,
    /// The HTTP status of the shop's answer; `None` when it did not answer.
    pub answer: Option<u16>,
}

#[derive(Debug, Clone)]
struct Transaction {
    session_id: String,
    amount: i64,
    currency: String,
    description: String,
    url_return: String,
    url_status: String,
    channel: i64,
    order_id: Option<i64>,
    method_id: Option<i64>,
    verified: bool,
}

struct Shared {
    /// By session id.
    transactions: Mutex<HashMap<String, Transaction>>,
    /// Token → session id.
    tokens: Mutex<HashMap<String, String>>,
    faults: Mutex<Faults>,
    sent: Mutex<Vec<SentNotification>>,
    verified: Mutex<Vec<(String, i64)>>,
    next_order: AtomicI64,
    next_token: AtomicU32,
    http: reqwest::Client,
}

impl Shared {
    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running emulator; stopped when dropped.
pub struct Przelewy24Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl Drop for Przelewy24Emulator {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Przelewy24Emulator {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start() -> anyhow::Result<Przelewy24Emulator> {
        Self::start_on("127.0.0.1:0".parse().expect("an address")).await
    }

    pub async fn start_on(addr: SocketAddr) -> anyhow::Result<Przelewy24Emulator> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            transactions: Mutex::default(),
            tokens: Mutex::default(),
            faults: Mutex::default(),
            sent: Mutex::default(),
            verified: Mutex::default(),
            next_order: AtomicI64::new(300_000_001),
            next_token: AtomicU32::new(1),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
        });
        let app = Router::new()
            .route("/api/v1/testAccess", get(test_access))
            .route("/api/v1/transaction/register", post(register))
            .route("/api/v1/transaction/verify", put(verify))
            .route("/trnRequest/{token}", get(payment_page).post(payment_form))
            .with_state(shared.clone());
        let stop = CancellationToken::new();
        let until = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(until.cancelled_owned())
                .await;
        });
        Ok(Przelewy24Emulator { addr, shared, stop })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A shop configuration that talks to this emulator.
    pub fn config(&self) -> Przelewy24Config {
        Przelewy24Config {
            base_url: self.url(),
            merchant_id: MERCHANT_ID,
            pos_id: None,
            api_key: API_KEY.into(),
            crc: CRC.into(),
            timeout_ms: 10_000,
        }
    }

    pub fn set_faults(&self, faults: Faults) {
        *Shared::lock(&self.shared.faults) = faults;
    }

    /// The token of the transaction registered with `session_id`.
    pub fn token_of(&self, session_id: &str) -> Option<String> {
        Shared::lock(&self.shared.tokens)
            .iter()
            .find(|(_, s)| *s == session_id)
            .map(|(token, _)| token.clone())
    }

    /// Pays transaction `token` with `method_id` as a payer would, notifying the shop (with the
    /// faults set); the order id.
    pub async fn pay(&self, token: &str, method_id: i64) -> Option<i64> {
        pay(&self.shared, token, method_id).await.map(|(o, _)| o)
    }

    /// A transaction registered and paid by BLIK as if through the API and the payment page,
    /// whose signed notification is returned for the caller to send (the benchmark sends many
    /// at once) instead of being sent.
    pub fn paid_unnotified(&self, session_id: &str, amount: i64) -> P24Notification {
        let order_id = self.shared.next_order.fetch_add(1, Ordering::Relaxed);
        let t = Transaction {
            session_id: session_id.to_string(),
            amount,
            currency: "PLN".into(),
            description: String::new(),
            url_return: String::new(),
            url_status: String::new(),
            channel: super::CHANNEL_BLIK,
            order_id: Some(order_id),
            method_id: Some(METHOD_BLIK),
            verified: false,
        };
        let n = notification_of(&t, amount, CRC).expect("paid");
        Shared::lock(&self.shared.transactions).insert(session_id.to_string(), t);
        n
    }

    /// Sends the notification of a paid transaction again (P24 does until it is verified).
    pub async fn resend(&self, session_id: &str) -> Option<u16> {
        let (n, url) = {
            let transactions = Shared::lock(&self.shared.transactions);
            let t = transactions.get(session_id)?;
            (notification_of(t, t.amount, CRC)?, t.url_status.clone())
        };
        notify(&self.shared, &url, n).await
    }

    /// Every notification sent, in order.
    pub fn sent(&self) -> Vec<SentNotification> {
        Shared::lock(&self.shared.sent).clone()
    }

    /// Every verification accepted: (session id, order id).
    pub fn verified(&self) -> Vec<(String, i64)> {
        Shared::lock(&self.shared.verified).clone()
    }
}

/// An error answer in P24's shape: `{"error": "…", "code": 400}`.
struct Refusal {
    status: StatusCode,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": self.message, "code": self.status.as_u16() })),
        )
            .into_response()
    }
}

fn p24_error(status: StatusCode, message: &str) -> Refusal {
    Refusal {
        status,
        message: message.to_string(),
    }
}

/// The API's gate: down (503) while a fault says so, then HTTP Basic with our pos id and key.
fn gate(shared: &Shared, headers: &HeaderMap) -> Result<(), Refusal> {
    {
        let mut faults = Shared::lock(&shared.faults);
        if faults.down_for > 0 {
            faults.down_for -= 1;
            return Err(p24_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service temporarily unavailable",
            ));
        }
    }
    use base64::Engine as _;
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{MERCHANT_ID}:{API_KEY}"));
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    if given != Some(expected.as_str()) {
        return Err(p24_error(
            StatusCode::UNAUTHORIZED,
            "Incorrect authentication",
        ));
    }
    Ok(())
}

async fn test_access(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = gate(&shared, &headers) {
        return r.into_response();
    }
    Json(json!({ "data": true, "error": "" })).into_response()
}

fn field<'a>(body: &'a Value, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|v| !v.is_null())
}

fn string(body: &Value, name: &str) -> Result<String, Refusal> {
    field(body, name)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| p24_error(StatusCode::BAD_REQUEST, &format!("Invalid {name}")))
}

fn int(body: &Value, name: &str) -> Result<i64, Refusal> {
    field(body, name)
        .and_then(Value::as_i64)
        .ok_or_else(|| p24_error(StatusCode::BAD_REQUEST, &format!("Invalid {name}")))
}

async fn register(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    match register_inner(&shared, &headers, &body) {
        Ok(token) => Json(json!({ "data": { "token": token }, "responseCode": 0 })).into_response(),
        Err(r) => r.into_response(),
    }
}

fn register_inner(shared: &Shared, headers: &HeaderMap, body: &Value) -> Result<String, Refusal> {
    gate(shared, headers)?;
    let merchant_id = int(body, "merchantId")?;
    let pos_id = int(body, "posId")?;
    if merchant_id != MERCHANT_ID || pos_id != MERCHANT_ID {
        return Err(p24_error(
            StatusCode::BAD_REQUEST,
            "Invalid merchantId or posId",
        ));
    }
    let session_id = string(body, "sessionId")?;
    if session_id.is_empty() || session_id.len() > 100 {
        return Err(p24_error(StatusCode::BAD_REQUEST, "Invalid sessionId"));
    }
    let amount = int(body, "amount")?;
    if amount < 1 {
        return Err(p24_error(StatusCode::BAD_REQUEST, "Invalid amount"));
    }
    let currency = string(body, "currency")?;
    let description = string(body, "description")?;
    string(body, "email")?;
    string(body, "country")?;
    string(body, "language")?;
    let url_return = string(body, "urlReturn")?;
    let url_status = field(body, "urlStatus")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let sign = string(body, "sign")?;
    if sign != p24_register_sign(&session_id, merchant_id, amount, &currency, CRC) {
        return Err(p24_error(StatusCode::BAD_REQUEST, "Incorrect sign"));
    }
    let mut transactions = Shared::lock(&shared.transactions);
    if transactions.contains_key(&session_id) {
        return Err(p24_error(
            StatusCode::BAD_REQUEST,
            "Transaction with this sessionId already exists",
        ));
    }
    let n = shared.next_token.fetch_add(1, Ordering::Relaxed);
    let token = format!(
        "{:08X}-EMUL-{n:06}-{:08X}",
        rand::random::<u32>(),
        rand::random::<u32>()
    );
    Shared::lock(&shared.tokens).insert(token.clone(), session_id.clone());
    transactions.insert(
        session_id.clone(),
        Transaction {
            session_id,
            amount,
            currency,
            description,
            url_return,
            url_status,
            channel: field(body, "channel").and_then(Value::as_i64).unwrap_or(16),
            order_id: None,
            method_id: None,
            verified: false,
        },
    );
    Ok(token)
}

async fn verify(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let outcome = (|| {
        gate(&shared, &headers)?;
        let session_id = string(&body, "sessionId")?;
        let order_id = int(&body, "orderId")?;
        let amount = int(&body, "amount")?;
        let currency = string(&body, "currency")?;
        if int(&body, "merchantId")? != MERCHANT_ID || int(&body, "posId")? != MERCHANT_ID {
            return Err(p24_error(
                StatusCode::BAD_REQUEST,
                "Invalid merchantId or posId",
            ));
        }
        if string(&body, "sign")? != p24_verify_sign(&session_id, order_id, amount, &currency, CRC)
        {
            return Err(p24_error(StatusCode::BAD_REQUEST, "Incorrect sign"));
        }
        if Shared::lock(&shared.faults).verify_refused {
            return Err(p24_error(StatusCode::BAD_REQUEST, "Transaction not found"));
        }
        let mut transactions = Shared::lock(&shared.transactions);
        let t = transactions
            .get_mut(&session_id)
            .filter(|t| t.order_id == Some(order_id))
            .ok_or_else(|| p24_error(StatusCode::BAD_REQUEST, "Transaction not found"))?;
        if t.amount != amount || t.currency != currency {
            return Err(p24_error(StatusCode::BAD_REQUEST, "Invalid amount"));
        }
        t.verified = true;
        Shared::lock(&shared.verified).push((session_id, order_id));
        Ok(())
    })();
    match outcome {
        Ok(()) => {
            Json(json!({ "data": { "status": "success" }, "responseCode": 0 })).into_response()
        }
        Err(r) => r.into_response(),
    }
}

fn notification_of(t: &Transaction, amount: i64, crc: &str) -> Option<P24Notification> {
    let mut n = P24Notification {
        merchant_id: MERCHANT_ID,
        pos_id: MERCHANT_ID,
        session_id: t.session_id.clone(),
        amount,
        origin_amount: amount,
        currency: t.currency.clone(),
        order_id: t.order_id?,
        method_id: t.method_id?,
        statement: format!("p24-E{:07}", t.order_id? % 10_000_000),
        sign: String::new(),
    };
    n.sign = n.expected_sign(crc);
    Some(n)
}

async fn notify(shared: &Shared, url: &str, n: P24Notification) -> Option<u16> {
    let answer = shared
        .http
        .post(url)
        .json(&n)
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16());
    Shared::lock(&shared.sent).push(SentNotification {
        notification: n,
        answer,
    });
    answer
}

/// Marks the transaction paid and notifies the shop as the faults say; the order id and where
/// to send the payer back.
async fn pay(shared: &Arc<Shared>, token: &str, method_id: i64) -> Option<(i64, String)> {
    let (t, order_id) = {
        let session = Shared::lock(&shared.tokens).get(token).cloned()?;
        let mut transactions = Shared::lock(&shared.transactions);
        let t = transactions.get_mut(&session)?;
        let order_id = match t.order_id {
            Some(o) => o,
            None => {
                let o = shared.next_order.fetch_add(1, Ordering::Relaxed);
                t.order_id = Some(o);
                t.method_id = Some(method_id);
                o
            }
        };
        (t.clone(), order_id)
    };
    let fault = Shared::lock(&shared.faults).notification.clone();
    let (n, copies, delay) = match fault {
        NotificationFault::None => (notification_of(&t, t.amount, CRC)?, 1, None),
        NotificationFault::Forged => (notification_of(&t, t.amount, "not-the-crc")?, 1, None),
        NotificationFault::AmountChanged(amount) => (notification_of(&t, amount, CRC)?, 1, None),
        NotificationFault::Replayed(more) => (notification_of(&t, t.amount, CRC)?, 1 + more, None),
        NotificationFault::Delayed(d) => (notification_of(&t, t.amount, CRC)?, 1, Some(d)),
    };
    match delay {
        Some(d) => {
            let shared = shared.clone();
            let url = t.url_status.clone();
            tokio::spawn(async move {
                tokio::time::sleep(d).await;
                notify(&shared, &url, n).await;
            });
        }
        None => {
            for _ in 0..copies {
                notify(shared, &t.url_status, n.clone()).await;
            }
        }
    }
    Some((order_id, t.url_return))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn payment_page(State(shared): State<Arc<Shared>>, Path(token): Path<String>) -> Response {
    let session = Shared::lock(&shared.tokens).get(&token).cloned();
    let Some(t) = session.and_then(|s| Shared::lock(&shared.transactions).get(&s).cloned()) else {
        return (
            StatusCode::NOT_FOUND,
            Html("<h1>Nie znaleziono transakcji</h1>"),
        )
            .into_response();
    };
    let zloty = format!("{},{:02} zł", t.amount / 100, t.amount % 100);
    let transfer = if t.channel == super::CHANNEL_BLIK {
        ""
    } else {
        r#"<p>lub</p><button type="submit" name="method" value="transfer">Zapłać przelewem (bank testowy)</button>"#
    };
    Html(format!(
        r#"<!doctype html><html lang="pl"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Przelewy24 (emulator) – płatność</title>
<style>body{{font-family:sans-serif;max-width:28rem;margin:1rem auto;padding:0 1rem}}
input,button{{font-size:1.25rem;padding:.5rem;width:100%;box-sizing:border-box;margin:.25rem 0}}</style>
</head><body><main>
<h1>Przelewy24 <small>(emulator)</small></h1>
<p>{description}</p>
<p>Kwota: <strong>{zloty}</strong></p>
<form method="post">
<label for="blik">Kod BLIK (6 cyfr)</label>
<input id="blik" name="blik_code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{{6}}">
<button type="submit" name="method" value="blik">Zapłać BLIKIEM</button>
{transfer}
</form></main></body></html>"#,
        description = escape(&t.description),
    ))
    .into_response()
}

#[derive(Deserialize)]
struct PaymentForm {
    method: String,
    #[serde(default)]
    blik_code: String,
}

async fn payment_form(
    State(shared): State<Arc<Shared>>,
    Path(token): Path<String>,
    Form(form): Form<PaymentForm>,
) -> Response {
    let method_id = match form.method.as_str() {
        "blik" => {
            let code = form.blik_code.trim();
            if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Html("<p>Kod BLIK ma 6 cyfr. <a href=\"\">Wróć</a></p>"),
                )
                    .into_response();
            }
            METHOD_BLIK
        }
        _ => METHOD_TRANSFER,
    };
    match pay(&shared, &token, method_id).await {
        Some((_, url_return)) => Redirect::to(&url_return).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Html("<h1>Nie znaleziono transakcji</h1>"),
        )
            .into_response(),
    }
}
