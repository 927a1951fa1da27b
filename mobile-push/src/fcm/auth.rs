//! OAuth 2 access tokens for FCM from a service-account key (Google's "two-legged" JWT bearer
//! flow, RFC 7523): an RS256 assertion signed with the key, exchanged at the token endpoint for
//! a bearer token that is cached until shortly before it expires.
//!
//! Under load thousands of sends ask for the token at once; only one of them fetches a new
//! one, the rest wait for it (or keep using the old one while it is still valid), and a failure
//! is shared with those who waited instead of being repeated by each of them.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use super::error::{TokenError, classify_token_error};
use super::{describe_http_error, retry_after_of};

/// The OAuth scope that allows `messages:send`.
pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// The `grant_type` of the JWT bearer flow.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google refuses assertions that live longer than an hour.
pub const MAX_ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);

/// While the cached token is still valid, a failed refresh is not repeated sooner than this.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// A Firebase service-account key, as downloaded from the Firebase console (project settings →
/// service accounts). Other fields of the file (`client_id`, `auth_uri`, …) are ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceAccountKey {
    /// Always `service_account`.
    #[serde(rename = "type")]
    pub key_type: String,
    pub project_id: String,
    /// Sent as the `kid` of the assertion.
    pub private_key_id: String,
    /// PEM, PKCS#8 (`-----BEGIN PRIVATE KEY-----`).
    pub private_key: SecretString,
    pub client_email: String,
    /// Where assertions are exchanged for access tokens.
    pub token_uri: String,
}

impl ServiceAccountKey {
    /// Parses the key file's JSON.
    pub fn from_json(json: &str) -> anyhow::Result<Self> {
        let key: Self = serde_json::from_str(json).context("not a service-account key file")?;
        anyhow::ensure!(
            key.key_type == "service_account",
            "key file is of type {:?}, not \"service_account\"",
            key.key_type
        );
        anyhow::ensure!(
            !key.project_id.is_empty(),
            "key file has an empty project_id"
        );
        anyhow::ensure!(
            !key.client_email.is_empty(),
            "key file has an empty client_email"
        );
        Ok(key)
    }

    /// Reads and parses a key file.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let json = std::fs::read_to_string(path).with_context(|| {
            format!("cannot read the FCM service-account key {}", path.display())
        })?;
        Self::from_json(&json).with_context(|| format!("in {}", path.display()))
    }
}

/// The claims of the assertion Google expects.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct AssertionClaims {
    pub iss: String,
    pub scope: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
}

/// The token endpoint's success answer.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
    #[serde(default)]
    token_type: Option<String>,
}

/// A bearer token and when to stop using it.
#[derive(Clone)]
struct AccessToken {
    value: Arc<str>,
    /// Fetch a new one from here on ...
    refresh_at: Instant,
    /// ... and never use this one from here on.
    expires_at: Instant,
}

/// The result of the last fetch that failed, for those who waited for it.
#[derive(Default)]
struct RefreshState {
    last_failure: Option<(Instant, TokenError)>,
}

/// Fetches and caches access tokens for one service account.
pub(crate) struct TokenSource {
    client_email: String,
    key_id: String,
    token_url: String,
    signing_key: EncodingKey,
    http: reqwest::Client,
    current: RwLock<Option<AccessToken>>,
    refresh: tokio::sync::Mutex<RefreshState>,
}

impl TokenSource {
    pub(crate) fn new(
        key: &ServiceAccountKey,
        token_url: String,
        http: reqwest::Client,
    ) -> anyhow::Result<Self> {
        let signing_key = EncodingKey::from_rsa_pem(key.private_key.expose_secret().as_bytes())
            .context("the service-account private_key is not an RSA key in PEM")?;
        url::Url::parse(&token_url).with_context(|| format!("bad token URL {token_url:?}"))?;
        Ok(Self {
            client_email: key.client_email.clone(),
            key_id: key.private_key_id.clone(),
            token_url,
            signing_key,
            http,
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
        })
    }

    pub(crate) fn token_url(&self) -> &str {
        &self.token_url
    }

    /// A valid access token: the cached one, or a new one when it is due for refresh.
    pub(crate) async fn get(&self) -> Result<Arc<str>, TokenError> {
        let asked = Instant::now();
        match self.cached() {
            Some(t) if asked < t.refresh_at => Ok(t.value),
            Some(t) if asked < t.expires_at => match self.refresh.try_lock() {
                // Due for refresh but still valid: one task refreshes, and keeps the old token
                // if that fails; the others go on with the old one meanwhile.
                Ok(state)
                    if state
                        .last_failure
                        .as_ref()
                        .is_some_and(|(at, _)| at.elapsed() < PAUSE_AFTER_FAILURE) =>
                {
                    Ok(t.value)
                }
                Ok(state) => Ok(self
                    .refresh_locked(state, None, asked)
                    .await
                    .unwrap_or(t.value)),
                Err(_) => Ok(t.value),
            },
            _ => {
                let state = self.refresh.lock().await;
                self.refresh_locked(state, None, asked).await
            }
        }
    }

    /// A new access token after the service refused `rejected` (401), unless another task has
    /// already replaced it.
    pub(crate) async fn replace(&self, rejected: &str) -> Result<Arc<str>, TokenError> {
        let asked = Instant::now();
        let state = self.refresh.lock().await;
        self.refresh_locked(state, Some(rejected), asked).await
    }

    fn cached(&self) -> Option<AccessToken> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn refresh_locked(
        &self,
        mut state: tokio::sync::MutexGuard<'_, RefreshState>,
        rejected: Option<&str>,
        asked: Instant,
    ) -> Result<Arc<str>, TokenError> {
        // Another task may have refreshed while this one waited for the lock ...
        if let Some(t) = self.cached()
            && Instant::now() < t.refresh_at
            && rejected.is_none_or(|r| *t.value != *r)
        {
            return Ok(t.value);
        }
        // ... or failed to, in which case its answer is this one's too.
        if let Some((at, error)) = &state.last_failure
            && *at >= asked
        {
            return Err(error.clone());
        }
        match self.fetch().await {
            Ok(token) => {
                state.last_failure = None;
                let value = token.value.clone();
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(token);
                Ok(value)
            }
            Err(error) => {
                tracing::warn!(token_url = %self.token_url, %error, "FCM access token refresh failed");
                state.last_failure = Some((Instant::now(), error.clone()));
                Err(error)
            }
        }
    }

    /// The signed assertion for now.
    pub(crate) fn assertion(&self) -> Result<String, TokenError> {
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = AssertionClaims {
            iss: self.client_email.clone(),
            scope: FCM_SCOPE.to_owned(),
            aud: self.token_url.clone(),
            iat,
            exp: iat + MAX_ASSERTION_LIFETIME.as_secs(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.key_id.clone());
        jsonwebtoken::encode(&header, &claims, &self.signing_key)
            .map_err(|e| TokenError::Signing(e.to_string()))
    }

    async fn fetch(&self) -> Result<AccessToken, TokenError> {
        let started = Instant::now();
        let assertion = self.assertion()?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", JWT_BEARER_GRANT)
            .append_pair("assertion", &assertion)
            .finish();
        let unavailable = |e: reqwest::Error| TokenError::Unavailable {
            after: None,
            reason: describe_http_error(&e),
        };
        let response = self
            .http
            .post(&self.token_url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form)
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status();
        let retry_after = retry_after_of(response.headers());
        let body = response.bytes().await.map_err(unavailable)?;
        if !status.is_success() {
            return Err(classify_token_error(status.as_u16(), retry_after, &body));
        }
        let answer: TokenAnswer =
            serde_json::from_slice(&body).map_err(|e| TokenError::Unavailable {
                after: None,
                reason: format!("unreadable token endpoint answer: {e}"),
            })?;
        if let Some(kind) = &answer.token_type
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(TokenError::Refused(format!(
                "token endpoint issued a {kind:?} token, not a bearer token"
            )));
        }
        let lifetime = Duration::from_secs(answer.expires_in);
        let margin = (lifetime / 2).min(Duration::from_secs(60));
        Ok(AccessToken {
            value: answer.access_token.into(),
            refresh_at: started + lifetime - margin,
            expires_at: started + lifetime,
        })
    }
}
