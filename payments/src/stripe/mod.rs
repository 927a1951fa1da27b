//! Stripe Checkout, the second provider (for utilities that use Stripe): a Checkout Session in
//! PLN with BLIK, Przelewy24 and card for the amount to pay, the resident sent to its `url`,
//! and the webhook events that settle it (`checkout.session.completed` with `payment_status`
//! `paid`; for methods that confirm later, `checkout.session.async_payment_succeeded` or
//! `…_failed`; `checkout.session.expired` when abandoned). Events are believed only with a
//! valid `Stripe-Signature` ([`crate::signatures::stripe_check`]: HMAC-SHA256, 300 s
//! tolerance, the previous secret too while one is rotated).
//!
//! Written over reqwest: async-stripe 1.0 is a release candidate split into many crates, and
//! these two calls are all we need. [`emulator`] speaks the same protocol locally.

pub mod emulator;

use std::time::Duration;

use ebok_common::backoff::Backoff;
use ebok_common::config::StripeConfig;
use ebok_common::domain::Money;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::signatures::{StripeSignatureError, stripe_check};

/// How old a signed event may be.
pub const TOLERANCE_SECONDS: i64 = 300;
const ATTEMPTS: u32 = 3;
const RETRY: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));

/// Why a call to Stripe failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered with an error (4xx other than 429).
    #[error("Stripe refused the request (HTTP {status}, {kind}): {message}")]
    Refused {
        status: u16,
        kind: String,
        message: String,
    },
    /// No answer, or 5xx/429, after every attempt.
    #[error("Stripe is unavailable: {0}")]
    Unavailable(String),
}

/// A Checkout Session to create.
#[derive(Debug, Clone)]
pub struct Checkout<'a> {
    /// Ours: `client_reference_id` and the idempotency key.
    pub session_id: &'a str,
    pub amount: Money,
    pub description: &'a str,
    pub email: &'a str,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

/// A created Checkout Session: its id and where the payer goes.
#[derive(Debug, Clone, Deserialize)]
pub struct Session {
    pub id: String,
    pub url: String,
}

/// A webhook event as far as we read it.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: CheckoutObject,
}

/// The Checkout Session inside a `checkout.session.*` event.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutObject {
    pub id: String,
    pub client_reference_id: Option<String>,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: Option<String>,
    pub payment_intent: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
}

/// A client of one Stripe account.
#[derive(Clone)]
pub struct Stripe {
    http: reqwest::Client,
    api_base_url: String,
    secret_key: SecretString,
    webhook_secrets: Vec<SecretString>,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe")
            .field("api_base_url", &self.api_base_url)
            .finish_non_exhaustive()
    }
}

impl Stripe {
    pub fn new(config: &StripeConfig) -> Stripe {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let timeout = Duration::from_millis(config.timeout_ms.max(100));
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .expect("an HTTP client with rustls builds");
        let mut webhook_secrets = vec![config.webhook_secret.clone()];
        webhook_secrets.extend(config.previous_webhook_secret.clone());
        Stripe {
            http,
            api_base_url: config.api_base_url.trim_end_matches('/').to_string(),
            secret_key: config.secret_key.clone(),
            webhook_secrets,
        }
    }

    /// Creates a Checkout Session (idempotent per our session id).
    pub async fn checkout(&self, c: &Checkout<'_>) -> Result<Session, StripeError> {
        let amount = c.amount.grosze().to_string();
        let form: Vec<(&str, &str)> = vec![
            ("mode", "payment"),
            ("payment_method_types[0]", "blik"),
            ("payment_method_types[1]", "p24"),
            ("payment_method_types[2]", "card"),
            ("line_items[0][quantity]", "1"),
            ("line_items[0][price_data][currency]", "pln"),
            ("line_items[0][price_data][unit_amount]", &amount),
            (
                "line_items[0][price_data][product_data][name]",
                c.description,
            ),
            ("client_reference_id", c.session_id),
            ("metadata[ebok_session]", c.session_id),
            ("customer_email", c.email),
            ("locale", "pl"),
            ("success_url", c.success_url),
            ("cancel_url", c.cancel_url),
        ];
        let url = format!("{}/v1/checkout/sessions", self.api_base_url);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(RETRY.random(attempt - 1)).await;
            }
            let sent = self
                .http
                .post(&url)
                .bearer_auth(self.secret_key.expose_secret())
                .header("Idempotency-Key", c.session_id)
                .form(&form)
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let status = response.status();
            let bytes = response.bytes().await.unwrap_or_default();
            if status.is_success() {
                return serde_json::from_slice(&bytes).map_err(|e| StripeError::Refused {
                    status: status.as_u16(),
                    kind: "unexpected_answer".into(),
                    message: e.to_string(),
                });
            }
            let error = serde_json::from_slice::<ErrorEnvelope>(&bytes).ok();
            let kind = error
                .as_ref()
                .and_then(|e| e.error.kind.clone())
                .unwrap_or_default();
            let message = error
                .and_then(|e| e.error.message)
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect());
            if status.is_server_error() || status.as_u16() == 429 {
                last = format!("HTTP {status}: {message}");
                continue;
            }
            return Err(StripeError::Refused {
                status: status.as_u16(),
                kind,
                message,
            });
        }
        Err(StripeError::Unavailable(last))
    }

    /// The event of a webhook request whose signature holds, at Unix time `now`.
    pub fn event(
        &self,
        signature: &str,
        body: &[u8],
        now: i64,
    ) -> Result<Result<Event, serde_json::Error>, StripeSignatureError> {
        let secrets: Vec<&str> = self
            .webhook_secrets
            .iter()
            .map(|s| s.expose_secret())
            .collect();
        stripe_check(signature, body, &secrets, now, TOLERANCE_SECONDS)?;
        Ok(serde_json::from_slice(body))
    }

    /// `scheme://host[:port]` of the checkout pages (Stripe's own host in production).
    pub fn checkout_origin(&self) -> String {
        if self.api_base_url == "https://api.stripe.com" {
            "https://checkout.stripe.com".into()
        } else {
            self.api_base_url.clone()
        }
    }
}
