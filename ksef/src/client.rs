//! A client of the KSeF 2.0 API (`https://api[-test|-demo].ksef.mf.gov.pl/v2`), over reqwest:
//! the Ministry publishes an OpenAPI document and clients in C# and Java, no Rust crate exists,
//! and a utility needs a dozen calls of it. JSON field names are the API's (camelCase).
//!
//! - [`KsefClient::authenticate`]: `POST /auth/challenge`, the KSeF token with the challenge's
//!   `timestampMs` encrypted for the `KsefTokenEncryption` certificate
//!   (`GET /security/public-key-certificates`), `POST /auth/ksef-token` (202), the operation
//!   polled at `GET /auth/{ref}` until 200, `POST /auth/token/redeem` → access and refresh
//!   tokens; [`KsefClient::refresh`] renews the access token.
//! - [`KsefClient::open_session`]: an online session for FA (3) with a fresh AES-256 key
//!   encrypted for the `SymmetricKeyEncryption` certificate (201); [`KsefClient::send`] one
//!   invoice encrypted with it (202, the invoice's reference); [`KsefClient::close`] (204).
//! - [`KsefClient::invoice_status`] (the verdict: 200 with the KSeF number, 100/150 still
//!   processing, 440 a duplicate with the original's number, other 4xx refused) and
//!   [`KsefClient::upo`], the official receipt (XML).
//!
//! Every call is retried on no answer, 5xx and 429 (after `Retry-After`), a few times with
//! back-off; an error body of the API (`exception.exceptionDetailList`) is kept in the error.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ebok_common::backoff::Backoff;
use reqwest::StatusCode;
use rsa::RsaPublicKey;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crypto;

/// The API of each KSeF environment (`utilities.ksef_environment`).
pub fn api_base(environment: &str) -> &'static str {
    match environment {
        "production" => "https://api.ksef.mf.gov.pl/v2",
        "demo" => "https://api-demo.ksef.mf.gov.pl/v2",
        _ => "https://api-test.ksef.mf.gov.pl/v2",
    }
}

/// Attempts of one call when KSeF does not answer, or answers 5xx or 429.
const ATTEMPTS: u32 = 4;
const RETRY: Backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(4));
/// The longest `Retry-After` waited for within a call; longer, and the call fails (the sender
/// tries again later).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Polls of an authentication operation before giving up.
const AUTH_POLLS: u32 = 20;

#[derive(Debug, thiserror::Error)]
pub enum KsefError {
    /// KSeF refused the request (4xx): the request or the credentials are wrong.
    #[error("KSeF refused the request (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    /// No answer, or 5xx/429, after every attempt.
    #[error("KSeF is unavailable: {0}")]
    Unavailable(String),
    /// Authentication ended with a failure status (e.g. 450: a wrong or revoked token).
    #[error("KSeF authentication failed ({code}): {description}")]
    AuthenticationFailed { code: i32, description: String },
    /// An answer that does not follow the protocol.
    #[error("unexpected answer from KSeF: {0}")]
    Protocol(String),
    #[error(transparent)]
    Crypto(#[from] crypto::CryptoError),
}

impl KsefError {
    /// Will the same call later probably succeed?
    pub fn is_transient(&self) -> bool {
        matches!(self, KsefError::Unavailable(_))
    }
}

/// Access to the API once authenticated.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: SecretString,
    pub access_until: DateTime<Utc>,
    pub refresh: SecretString,
    pub refresh_until: DateTime<Utc>,
}

impl Tokens {
    /// Is the access token good for another minute?
    pub fn fresh(&self, now: DateTime<Utc>) -> bool {
        self.access_until > now + chrono::Duration::seconds(60)
    }
}

/// An open online session: its reference and the key its invoices are encrypted with.
#[derive(Clone)]
pub struct Session {
    pub reference: String,
    key: [u8; 32],
    iv: [u8; 16],
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

/// KSeF's verdict on one invoice (`GET /sessions/{ref}/invoices/{invoiceRef}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceStatus {
    pub reference_number: String,
    #[serde(default)]
    pub ksef_number: Option<String>,
    #[serde(default)]
    pub acquisition_date: Option<DateTime<Utc>>,
    pub status: StatusInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusInfo {
    pub code: i32,
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<serde_json::Map<String, Value>>,
}

impl StatusInfo {
    /// An extension's text (`originalKsefNumber` of a duplicate).
    pub fn extension(&self, name: &str) -> Option<&str> {
        self.extensions.as_ref()?.get(name)?.as_str()
    }

    /// The description with its details, for staff.
    pub fn explained(&self) -> String {
        if self.details.is_empty() {
            self.description.clone()
        } else {
            format!("{}: {}", self.description, self.details.join("; "))
        }
    }
}

/// The Ministry's keys, by use.
#[derive(Debug, Clone)]
struct PublicKeys {
    token: RsaPublicKey,
    symmetric: RsaPublicKey,
}

/// A client of one utility's KSeF context (its NIP and KSeF token).
#[derive(Clone)]
pub struct KsefClient {
    http: reqwest::Client,
    base_url: String,
    nip: String,
    token: SecretString,
}

impl std::fmt::Debug for KsefClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KsefClient")
            .field("base_url", &self.base_url)
            .field("nip", &self.nip)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Challenge {
    challenge: String,
    timestamp_ms: i64,
}

#[derive(Deserialize)]
struct TokenInfo {
    token: String,
    #[serde(rename = "validUntil")]
    valid_until: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthInit {
    reference_number: String,
    authentication_token: TokenInfo,
}

#[derive(Deserialize)]
struct AuthStatus {
    status: StatusInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Redeemed {
    access_token: TokenInfo,
    refresh_token: TokenInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Refreshed {
    access_token: TokenInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Certificate {
    certificate: String,
    valid_from: DateTime<Utc>,
    valid_to: DateTime<Utc>,
    usage: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reference {
    reference_number: String,
}

impl KsefClient {
    /// A client of `base_url` (…/v2) for the context `nip` with its KSeF `token`.
    pub fn new(
        base_url: &str,
        nip: &str,
        token: SecretString,
        timeout: Duration,
    ) -> anyhow::Result<KsefClient> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(KsefClient {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .user_agent(concat!("ebok/", env!("CARGO_PKG_VERSION")))
                .build()?,
            base_url: base_url.trim_end_matches('/').to_string(),
            nip: nip.to_string(),
            token,
        })
    }

    pub fn nip(&self) -> &str {
        &self.nip
    }

    /// One call, retried while KSeF does not answer or answers 5xx/429. `Ok` carries the
    /// status and the body of any answer below 500 but 429.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&SecretString>,
        body: Option<&Value>,
    ) -> Result<(StatusCode, String), KsefError> {
        let url = format!("{}{path}", self.base_url);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header("Accept", "application/json");
            if let Some(token) = bearer {
                request = request.bearer_auth(token.expose_secret());
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let mut wait = RETRY.random(attempt);
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = response.text().await.unwrap_or_default();
                    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                        last = format!("HTTP {status}: {}", error_message(&text));
                        if let Some(after) = retry_after {
                            if after > MAX_RETRY_AFTER {
                                return Err(KsefError::Unavailable(last));
                            }
                            wait = after;
                        }
                    } else {
                        return Ok((status, text));
                    }
                }
                Err(e) => last = e.to_string(),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(wait).await;
            }
        }
        Err(KsefError::Unavailable(last))
    }

    /// A call whose success is `expected`, its JSON answer read as `T`.
    async fn json<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&SecretString>,
        body: Option<&Value>,
        expected: StatusCode,
    ) -> Result<T, KsefError> {
        let (status, text) = self.call(method, path, bearer, body).await?;
        if status != expected {
            return Err(refused(status, &text));
        }
        serde_json::from_str(&text)
            .map_err(|e| KsefError::Protocol(format!("{path}: {e}: {}", clip(&text))))
    }

    async fn public_keys(&self) -> Result<PublicKeys, KsefError> {
        let certificates: Vec<Certificate> = self
            .json(
                reqwest::Method::GET,
                "/security/public-key-certificates",
                None,
                None,
                StatusCode::OK,
            )
            .await?;
        let now = Utc::now();
        let pick = |usage: &str| -> Result<RsaPublicKey, KsefError> {
            let newest = certificates
                .iter()
                .filter(|c| c.usage.iter().any(|u| u == usage))
                .filter(|c| c.valid_from <= now && now < c.valid_to)
                .max_by_key(|c| c.valid_from)
                .ok_or_else(|| KsefError::Protocol(format!("no valid {usage} certificate")))?;
            Ok(crypto::public_key_of_certificate(&crypto::unbase64(
                &newest.certificate,
            )?)?)
        };
        Ok(PublicKeys {
            token: pick("KsefTokenEncryption")?,
            symmetric: pick("SymmetricKeyEncryption")?,
        })
    }

    /// Signs in with the KSeF token: access and refresh tokens.
    pub async fn authenticate(&self) -> Result<Tokens, KsefError> {
        let keys = self.public_keys().await?;
        let challenge: Challenge = self
            .json(
                reqwest::Method::POST,
                "/auth/challenge",
                None,
                None,
                StatusCode::OK,
            )
            .await?;
        let plain = format!("{}|{}", self.token.expose_secret(), challenge.timestamp_ms);
        let encrypted = crypto::rsa_oaep_encrypt(&keys.token, plain.as_bytes())?;
        let init: AuthInit = self
            .json(
                reqwest::Method::POST,
                "/auth/ksef-token",
                None,
                Some(&serde_json::json!({
                    "challenge": challenge.challenge,
                    "contextIdentifier": { "type": "Nip", "value": self.nip },
                    "encryptedToken": crypto::base64(&encrypted),
                })),
                StatusCode::ACCEPTED,
            )
            .await?;
        let operation = SecretString::from(init.authentication_token.token);
        let path = format!("/auth/{}", init.reference_number);
        let mut polls = 0;
        loop {
            let status: AuthStatus = self
                .json(
                    reqwest::Method::GET,
                    &path,
                    Some(&operation),
                    None,
                    StatusCode::OK,
                )
                .await?;
            match status.status.code {
                200 => break,
                100 if polls < AUTH_POLLS => {
                    polls += 1;
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(polls.min(10)))).await;
                }
                100 => {
                    return Err(KsefError::Unavailable(
                        "authentication still in progress".into(),
                    ));
                }
                code => {
                    return Err(KsefError::AuthenticationFailed {
                        code,
                        description: status.status.explained(),
                    });
                }
            }
        }
        let redeemed: Redeemed = self
            .json(
                reqwest::Method::POST,
                "/auth/token/redeem",
                Some(&operation),
                None,
                StatusCode::OK,
            )
            .await?;
        Ok(Tokens {
            access: redeemed.access_token.token.into(),
            access_until: redeemed.access_token.valid_until,
            refresh: redeemed.refresh_token.token.into(),
            refresh_until: redeemed.refresh_token.valid_until,
        })
    }

    /// A new access token from the refresh token.
    pub async fn refresh(&self, tokens: &Tokens) -> Result<Tokens, KsefError> {
        let refreshed: Refreshed = self
            .json(
                reqwest::Method::POST,
                "/auth/token/refresh",
                Some(&tokens.refresh),
                None,
                StatusCode::OK,
            )
            .await?;
        Ok(Tokens {
            access: refreshed.access_token.token.into(),
            access_until: refreshed.access_token.valid_until,
            ..tokens.clone()
        })
    }

    /// Opens an online session for FA (3) invoices.
    pub async fn open_session(&self, tokens: &Tokens) -> Result<Session, KsefError> {
        let keys = self.public_keys().await?;
        let (key, iv) = crypto::session_key();
        let encrypted_key = crypto::rsa_oaep_encrypt(&keys.symmetric, &key)?;
        let opened: Reference = self
            .json(
                reqwest::Method::POST,
                "/sessions/online",
                Some(&tokens.access),
                Some(&serde_json::json!({
                    "formCode": { "systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA" },
                    "encryption": {
                        "encryptedSymmetricKey": crypto::base64(&encrypted_key),
                        "initializationVector": crypto::base64(&iv),
                    },
                })),
                StatusCode::CREATED,
            )
            .await?;
        Ok(Session {
            reference: opened.reference_number,
            key,
            iv,
        })
    }

    /// Sends one invoice (its FA(3) XML) in the session: the invoice's reference.
    pub async fn send(
        &self,
        tokens: &Tokens,
        session: &Session,
        xml: &[u8],
    ) -> Result<String, KsefError> {
        let encrypted = crypto::aes_encrypt(&session.key, &session.iv, xml);
        let sent: Reference = self
            .json(
                reqwest::Method::POST,
                &format!("/sessions/online/{}/invoices", session.reference),
                Some(&tokens.access),
                Some(&serde_json::json!({
                    "invoiceHash": crypto::sha256_base64(xml),
                    "invoiceSize": xml.len(),
                    "encryptedInvoiceHash": crypto::sha256_base64(&encrypted),
                    "encryptedInvoiceSize": encrypted.len(),
                    "encryptedInvoiceContent": crypto::base64(&encrypted),
                    "offlineMode": false,
                })),
                StatusCode::ACCEPTED,
            )
            .await?;
        Ok(sent.reference_number)
    }

    /// Closes the session (KSeF then prepares the session's UPO).
    pub async fn close(&self, tokens: &Tokens, session: &Session) -> Result<(), KsefError> {
        let (status, text) = self
            .call(
                reqwest::Method::POST,
                &format!("/sessions/online/{}/close", session.reference),
                Some(&tokens.access),
                None,
            )
            .await?;
        if status != StatusCode::NO_CONTENT {
            return Err(refused(status, &text));
        }
        Ok(())
    }

    /// KSeF's verdict on an invoice sent in session `session_reference`.
    pub async fn invoice_status(
        &self,
        tokens: &Tokens,
        session_reference: &str,
        invoice_reference: &str,
    ) -> Result<InvoiceStatus, KsefError> {
        self.json(
            reqwest::Method::GET,
            &format!("/sessions/{session_reference}/invoices/{invoice_reference}"),
            Some(&tokens.access),
            None,
            StatusCode::OK,
        )
        .await
    }

    /// The UPO (official receipt, XML) of the invoice with `ksef_number` sent in session
    /// `session_reference`.
    pub async fn upo(
        &self,
        tokens: &Tokens,
        session_reference: &str,
        ksef_number: &str,
    ) -> Result<String, KsefError> {
        let (status, text) = self
            .call(
                reqwest::Method::GET,
                &format!("/sessions/{session_reference}/invoices/ksef/{ksef_number}/upo"),
                Some(&tokens.access),
                None,
            )
            .await?;
        if status != StatusCode::OK {
            return Err(refused(status, &text));
        }
        Ok(text)
    }
}

fn refused(status: StatusCode, text: &str) -> KsefError {
    KsefError::Refused {
        status: status.as_u16(),
        message: error_message(text),
    }
}

/// What an error body says: the API's exception list, a problem's detail, or the text.
fn error_message(text: &str) -> String {
    let Ok(body) = serde_json::from_str::<Value>(text) else {
        return clip(text);
    };
    if let Some(list) = body["exception"]["exceptionDetailList"].as_array() {
        let parts: Vec<String> = list
            .iter()
            .map(|d| {
                let mut part = format!(
                    "{} {}",
                    d["exceptionCode"],
                    d["exceptionDescription"].as_str().unwrap_or_default()
                );
                if let Some(details) = d["details"].as_array() {
                    for detail in details.iter().filter_map(Value::as_str) {
                        part.push_str(&format!("; {detail}"));
                    }
                }
                part
            })
            .collect();
        if !parts.is_empty() {
            return parts.join(" | ");
        }
    }
    for key in ["detail", "title"] {
        if let Some(text) = body[key].as_str() {
            return text.to_string();
        }
    }
    if let Some(details) = body["status"]["details"].as_array() {
        return details
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("; ");
    }
    clip(text)
}

fn clip(text: &str) -> String {
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_read_as_the_api_writes_them() {
        let body = r#"{"exception":{"exceptionDetailList":[{"exceptionCode":21405,
            "exceptionDescription":"Błąd walidacji danych wejściowych.","details":["invoiceHash"]}],
            "referenceNumber":"x","serviceCode":"y","timestamp":"2025-10-11T12:23:56.0154302"}}"#;
        assert_eq!(
            error_message(body),
            "21405 Błąd walidacji danych wejściowych.; invoiceHash"
        );
        let too_many = r#"{"status":{"code":429,"description":"Too Many Requests","details":["Przekroczono limit"]}}"#;
        assert_eq!(error_message(too_many), "Przekroczono limit");
        assert_eq!(error_message("<html>"), "<html>");
    }

    #[test]
    fn a_duplicates_original_number_is_an_extension() {
        let status: StatusInfo = serde_json::from_str(
            r#"{"code":440,"description":"Duplikat faktury","details":["Duplikat faktury."],
                "extensions":{"originalSessionReferenceNumber":"20250626-SO-2F14610000-242991F8C9-B4",
                              "originalKsefNumber":"5265877635-20250626-010080DD2B5E-26"}}"#,
        )
        .unwrap();
        assert_eq!(
            status.extension("originalKsefNumber"),
            Some("5265877635-20250626-010080DD2B5E-26")
        );
        assert_eq!(status.explained(), "Duplikat faktury: Duplikat faktury.");
    }
}
