//! Przelewy24 REST v1, the way a Polish utility is paid online (BLIK, pay-by-link, cards).
//! Written over reqwest: no maintained Rust crate speaks it. The protocol, from P24's OpenAPI
//! document (v1.0.16):
//!
//! 1. `POST /api/v1/transaction/register` (HTTP Basic: pos id and API key) with the amount in
//!    grosze, our `sessionId`, where to send the resident back (`urlReturn`) and where to notify
//!    us (`urlStatus`), signed ([`signatures::p24_register_sign`]) → a token;
//! 2. the resident pays at `/trnRequest/{token}` (`channel` 8192 offers BLIK alone);
//! 3. P24 posts a signed notification to `urlStatus` ([`P24Notification`]) — and resends it
//!    after 3, 5, 15, 30, 60, 150 and 450 minutes until we verify;
//! 4. `PUT /api/v1/transaction/verify` (signed with the order id) confirms we accept the money;
//!    unverified money goes back to the payer. Only a verified payment is booked.
//!
//! [`emulator`] is a local server speaking the same protocol, for the tests, the benchmark and
//! the demo.

pub mod emulator;

use std::time::Duration;

use ebok_common::backoff::Backoff;
use ebok_common::config::Przelewy24Config;
use ebok_common::domain::Money;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub use crate::signatures::P24Notification;
use crate::signatures::{p24_register_sign, p24_verify_sign};

/// The `channel` bit that offers BLIK alone; 16 offers every method available around the clock.
pub const CHANNEL_BLIK: i64 = 8192;
pub const CHANNEL_ALL: i64 = 16;
/// The `methodId` of BLIK in P24's list of methods.
pub const METHOD_BLIK: i64 = 154;

/// Attempts of one call when P24 does not answer or answers 5xx/429.
const ATTEMPTS: u32 = 3;
const RETRY: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));

/// Why a call to Przelewy24 failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum P24Error {
    /// P24 answered with an error (4xx): the request is wrong and retrying will not help.
    #[error("Przelewy24 refused the request (HTTP {status}, code {code:?}): {message}")]
    Refused {
        status: u16,
        code: Option<i64>,
        message: String,
    },
    /// No answer, or 5xx/429, after every attempt.
    #[error("Przelewy24 is unavailable: {0}")]
    Unavailable(String),
}

/// A transaction to register.
#[derive(Debug, Clone)]
pub struct Register<'a> {
    pub session_id: &'a str,
    pub amount: Money,
    /// What the resident sees at P24, e.g. "Opłata za wodę – klient 000123".
    pub description: &'a str,
    pub email: &'a str,
    pub url_return: &'a str,
    pub url_status: &'a str,
    /// BLIK only, or every method.
    pub blik_only: bool,
    /// The title of the transfer on the utility's statement (≤ 20 characters).
    pub transfer_label: &'a str,
}

/// A client of one merchant's shop.
#[derive(Clone)]
pub struct Przelewy24 {
    http: reqwest::Client,
    base_url: String,
    merchant_id: i64,
    pos_id: i64,
    api_key: SecretString,
    crc: SecretString,
}

impl std::fmt::Debug for Przelewy24 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Przelewy24")
            .field("base_url", &self.base_url)
            .field("merchant_id", &self.merchant_id)
            .field("pos_id", &self.pos_id)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RegisterBody<'a> {
    merchant_id: i64,
    pos_id: i64,
    session_id: &'a str,
    amount: i64,
    currency: &'a str,
    description: &'a str,
    email: &'a str,
    country: &'a str,
    language: &'a str,
    url_return: &'a str,
    url_status: &'a str,
    channel: i64,
    transfer_label: &'a str,
    encoding: &'a str,
    sign: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VerifyBody<'a> {
    merchant_id: i64,
    pos_id: i64,
    session_id: &'a str,
    amount: i64,
    currency: &'a str,
    order_id: i64,
    sign: String,
}

#[derive(Deserialize)]
struct TokenData {
    token: String,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<serde_json::Value>,
    code: Option<i64>,
}

impl Przelewy24 {
    pub fn new(config: &Przelewy24Config) -> Przelewy24 {
        // The workspace builds rustls with ring only; make it the process's provider if nobody
        // has yet (the binary does at start; a test may not have).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let timeout = Duration::from_millis(config.timeout_ms.max(100));
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .expect("an HTTP client with rustls builds");
        Przelewy24 {
            http,
            base_url: config.base_url.trim_end_matches('/').to_string(),
            merchant_id: config.merchant_id,
            pos_id: config.pos_id(),
            api_key: config.api_key.clone(),
            crc: config.crc.clone(),
        }
    }

    pub fn merchant_id(&self) -> i64 {
        self.merchant_id
    }

    pub fn pos_id(&self) -> i64 {
        self.pos_id
    }

    /// `scheme://host[:port]` of the payment pages.
    pub fn origin(&self) -> String {
        match self.base_url.find("://") {
            Some(i) => match self.base_url[i + 3..].find('/') {
                Some(j) => self.base_url[..i + 3 + j].to_string(),
                None => self.base_url.clone(),
            },
            None => self.base_url.clone(),
        }
    }

    /// Where the resident pays a registered transaction.
    pub fn payment_page(&self, token: &str) -> String {
        format!("{}/trnRequest/{token}", self.base_url)
    }

    /// Registers a transaction; its token.
    pub async fn register(&self, r: &Register<'_>) -> Result<String, P24Error> {
        let crc = self.crc.expose_secret();
        let amount = r.amount.grosze();
        let body = RegisterBody {
            merchant_id: self.merchant_id,
            pos_id: self.pos_id,
            session_id: r.session_id,
            amount,
            currency: "PLN",
            description: r.description,
            email: r.email,
            country: "PL",
            language: "pl",
            url_return: r.url_return,
            url_status: r.url_status,
            channel: if r.blik_only {
                CHANNEL_BLIK
            } else {
                CHANNEL_ALL
            },
            transfer_label: r.transfer_label,
            encoding: "UTF-8",
            sign: p24_register_sign(r.session_id, self.merchant_id, amount, "PLN", crc),
        };
        let data: TokenData = self
            .call(reqwest::Method::POST, "/api/v1/transaction/register", &body)
            .await?;
        Ok(data.token)
    }

    /// Whether a notification comes from P24 for this shop: signed with our CRC key, for our
    /// merchant and shop.
    pub fn is_genuine(&self, n: &P24Notification) -> bool {
        n.is_signed(self.crc.expose_secret())
            && n.merchant_id == self.merchant_id
            && n.pos_id == self.pos_id
    }

    /// Accepts the money of a notified transaction: `amount` is ours (what we registered).
    pub async fn verify(
        &self,
        session_id: &str,
        order_id: i64,
        amount: Money,
    ) -> Result<(), P24Error> {
        let body = VerifyBody {
            merchant_id: self.merchant_id,
            pos_id: self.pos_id,
            session_id,
            amount: amount.grosze(),
            currency: "PLN",
            order_id,
            sign: p24_verify_sign(
                session_id,
                order_id,
                amount.grosze(),
                "PLN",
                self.crc.expose_secret(),
            ),
        };
        #[derive(Deserialize)]
        struct Status {
            status: String,
        }
        let status: Status = self
            .call(reqwest::Method::PUT, "/api/v1/transaction/verify", &body)
            .await?;
        if status.status == "success" {
            Ok(())
        } else {
            Err(P24Error::Refused {
                status: 200,
                code: None,
                message: format!("verification status {}", status.status),
            })
        }
    }

    /// One API call with its retries: 5xx, 429 and no answer are tried again after a wait, a
    /// 4xx is P24's final word.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, P24Error> {
        let url = format!("{}{path}", self.base_url);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(RETRY.random(attempt - 1)).await;
            }
            let sent = self
                .http
                .request(method.clone(), &url)
                .basic_auth(self.pos_id, Some(self.api_key.expose_secret()))
                .json(body)
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    last = format!("{path}: {e}");
                    continue;
                }
            };
            let status = response.status();
            let bytes = response.bytes().await.unwrap_or_default();
            if status.is_success() {
                return serde_json::from_slice::<Envelope<T>>(&bytes)
                    .map(|e| e.data)
                    .map_err(|e| P24Error::Refused {
                        status: status.as_u16(),
                        code: None,
                        message: format!("unexpected answer to {path}: {e}"),
                    });
            }
            let error = serde_json::from_slice::<ErrorBody>(&bytes).ok();
            let message = error
                .as_ref()
                .and_then(|e| e.error.as_ref())
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect());
            if status.is_server_error() || status.as_u16() == 429 {
                last = format!("{path}: HTTP {status}: {message}");
                continue;
            }
            return Err(P24Error::Refused {
                status: status.as_u16(),
                code: error.and_then(|e| e.code),
                message,
            });
        }
        Err(P24Error::Unavailable(last))
    }
}
