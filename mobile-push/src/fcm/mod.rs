//! Firebase Cloud Messaging over the HTTP v1 API: [`FcmClient`], the production
//! [`PushSender`], and [`emulator::FcmEmulator`], a local server that speaks the same protocol
//! for tests, `ebok bench push` and the demo.
//!
//! Hand-written on purpose, over `reqwest` and `jsonwebtoken`: the `fcm` crate speaks the
//! legacy HTTP API that Google shut down in 2024, and the crates for the v1 API are stale or
//! minimal (no error mapping, no token caching under concurrency, fixed endpoints). The v1
//! protocol is small: an OAuth 2 token from a service-account key ([`auth`]), one `POST` per
//! message ([`message`]), and a documented error body ([`error`]). Both base URLs are
//! configurable ([`FcmConfig`]), which is what lets the tests run against the emulator over
//! real HTTP.
//!
//! Each send answers an [`Outcome`]: `UNREGISTERED`, an invalid token and `SENDER_ID_MISMATCH`
//! mean the device is gone; quota, 5xx, timeouts and connection errors are retried after
//! `Retry-After`; other 4xx fail. Metrics: `push_fcm_sends_total{outcome}` and
//! `push_fcm_send_seconds`.

pub mod auth;
pub mod emulator;
pub mod error;
pub mod message;

use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use axum::body::Bytes;
use ebok_common::config::FcmConfig;
use futures::future::BoxFuture;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde::Deserialize;

pub use auth::ServiceAccountKey;
use auth::TokenSource;
use error::{classify_send_error, parse_retry_after};
use message::encode_send_body;

use crate::channel::{Outcome, PushMessage, PushSender};

/// Idle connections kept per host: enough for thousands of sends per second over HTTP/1.1.
const POOL_MAX_IDLE_PER_HOST: usize = 512;

/// Sends push notifications through FCM HTTP v1 for one Firebase project.
pub struct FcmClient {
    http: reqwest::Client,
    project_id: String,
    send_url: String,
    tokens: TokenSource,
}

impl std::fmt::Debug for FcmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FcmClient")
            .field("project_id", &self.project_id)
            .field("send_url", &self.send_url)
            .field("token_url", &self.tokens.token_url())
            .finish_non_exhaustive()
    }
}

/// The answer to one `POST`, before it is judged.
struct Answer {
    status: StatusCode,
    retry_after: Option<Duration>,
    body: Bytes,
}

impl FcmClient {
    /// A client from the `[notify.fcm]` configuration: reads the key file `credentials_file`;
    /// `token_url`, when set, overrides the key's `token_uri`.
    pub fn from_config(config: &FcmConfig) -> anyhow::Result<FcmClient> {
        let path = config
            .credentials_file
            .as_deref()
            .context("notify.fcm.credentials_file is not set")?;
        let key = ServiceAccountKey::from_file(path)?;
        FcmClient::new(
            key,
            config.send_base_url.clone(),
            config.token_url.clone(),
            Duration::from_millis(config.timeout_ms),
        )
    }

    /// A client for `key`'s project, sending to `{send_base_url}/v1/projects/{project}/messages:send`
    /// and fetching tokens from `token_url` (default: the key's `token_uri`). `timeout` bounds
    /// each request.
    pub fn new(
        key: ServiceAccountKey,
        send_base_url: impl Into<String>,
        token_url: Option<String>,
        timeout: Duration,
    ) -> anyhow::Result<FcmClient> {
        let send_base_url = send_base_url.into();
        let mut send_url = url::Url::parse(&send_base_url)
            .with_context(|| format!("bad FCM send base URL {send_base_url:?}"))?;
        send_url
            .path_segments_mut()
            .map_err(|()| {
                anyhow::anyhow!("FCM send base URL {send_base_url:?} cannot have a path")
            })?
            .pop_if_empty()
            .extend(["v1", "projects", &key.project_id, "messages:send"]);

        // The workspace builds rustls with ring only; make it the process's provider if nobody
        // has yet (the binary does at start; a test or another embedder may not have).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .tcp_keepalive(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ebok-mobile-push/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the FCM HTTP client")?;
        let token_url = token_url.unwrap_or_else(|| key.token_uri.clone());
        let tokens = TokenSource::new(&key, token_url, http.clone())?;
        Ok(FcmClient {
            http,
            project_id: key.project_id,
            send_url: send_url.into(),
            tokens,
        })
    }

    /// The Firebase project messages are sent for.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// Sends one message and says what became of it; never panics, never returns early
    /// without an [`Outcome`].
    pub async fn send_message(&self, message: &PushMessage) -> Outcome {
        let started = Instant::now();
        let outcome = self.send_once(message).await;
        let label = match &outcome {
            Outcome::Sent { .. } => "sent",
            Outcome::TargetGone { .. } => "target_gone",
            Outcome::Retry { .. } => "retry",
            Outcome::Failed { .. } => "failed",
        };
        metrics::counter!("push_fcm_sends_total", "outcome" => label).increment(1);
        metrics::histogram!("push_fcm_send_seconds").record(started.elapsed().as_secs_f64());
        match &outcome {
            Outcome::Sent { .. } => tracing::trace!(outcome = label, "FCM send"),
            Outcome::TargetGone { reason }
            | Outcome::Retry { reason, .. }
            | Outcome::Failed { reason } => {
                tracing::debug!(outcome = label, reason = %reason, "FCM send not delivered");
            }
        }
        outcome
    }

    async fn send_once(&self, message: &PushMessage) -> Outcome {
        let body = match encode_send_body(message) {
            Ok(body) => Bytes::from(body),
            // Over the payload limit: FCM would refuse it, so it is not sent at all.
            Err(e) => {
                return Outcome::Failed {
                    reason: e.to_string(),
                };
            }
        };
        let token = match self.tokens.get().await {
            Ok(token) => token,
            Err(e) => return e.to_outcome(),
        };
        let mut answer = match self.post(body.clone(), &token).await {
            Ok(answer) => answer,
            Err(outcome) => return outcome,
        };
        if answer.status == StatusCode::UNAUTHORIZED && !is_third_party_auth_error(&answer.body) {
            // The token was revoked or expired early: one new token, one more try.
            let token = match self.tokens.replace(&token).await {
                Ok(token) => token,
                Err(e) => return e.to_outcome(),
            };
            answer = match self.post(body, &token).await {
                Ok(answer) => answer,
                Err(outcome) => return outcome,
            };
        }
        if answer.status.is_success() {
            #[derive(Deserialize)]
            struct Sent {
                name: String,
            }
            let provider_id = serde_json::from_slice::<Sent>(&answer.body)
                .ok()
                .map(|s| s.name);
            return Outcome::Sent { provider_id };
        }
        classify_send_error(answer.status.as_u16(), answer.retry_after, &answer.body)
    }

    async fn post(&self, body: Bytes, token: &str) -> Result<Answer, Outcome> {
        let request = self
            .http
            .post(&self.send_url)
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .header(CONTENT_TYPE, "application/json; charset=UTF-8")
            .body(body);
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) if e.is_builder() => {
                return Err(Outcome::Failed {
                    reason: describe_http_error(&e),
                });
            }
            Err(e) => {
                return Err(Outcome::Retry {
                    after: None,
                    reason: describe_http_error(&e),
                });
            }
        };
        let status = response.status();
        let retry_after = retry_after_of(response.headers());
        match response.bytes().await {
            Ok(body) => Ok(Answer {
                status,
                retry_after,
                body,
            }),
            Err(e) => Err(Outcome::Retry {
                after: retry_after,
                reason: describe_http_error(&e),
            }),
        }
    }
}

impl PushSender for FcmClient {
    fn send<'a>(&'a self, message: &'a PushMessage) -> BoxFuture<'a, Outcome> {
        Box::pin(self.send_message(message))
    }
}

/// A 401 about APNs or Web Push credentials (uploaded in the Firebase console) is not about
/// the access token: a new token would not help.
fn is_third_party_auth_error(body: &[u8]) -> bool {
    std::str::from_utf8(body).is_ok_and(|b| b.contains("THIRD_PARTY_AUTH_ERROR"))
}

/// `Retry-After` of a response, if it has a readable one.
pub(crate) fn retry_after_of(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// A reqwest error with its causes ("timed out", "connection refused"), for a reason string.
pub(crate) fn describe_http_error(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut text = format!("{kind}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
