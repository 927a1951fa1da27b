//! A local server that speaks the documented FCM HTTP v1 protocol, for tests, `ebok bench push`
//! and the demo: an OAuth token endpoint (`POST /token`, the JWT bearer grant, assertions
//! verified with the service account's public key) and `POST /v1/projects/{project}/messages:send`
//! (bearer token checked, the request checked against the `SendMessageRequest` schema and the
//! 4096-byte payload limit). Errors come back in Google's documented shape
//! (`{"error": {"code", "message", "status", "details": [FcmError, BadRequest]}}`).
//!
//! Per device token it can be told to answer `UNREGISTERED`, an invalid token, `QUOTA_EXCEEDED`
//! with `Retry-After`, `UNAVAILABLE` and the like ([`Fault`]), or to hold its answer until
//! released (the request is recorded as received first, so a test can stop the sender while a
//! send is in flight). It records every send attempt and every accepted message.
//!
//! **Test key.** The emulator has its own service account, project `ebok-emulator`, client
//! `push@ebok-emulator.iam.gserviceaccount.com`, in `keys/service-account.json` (an RSA 2048 key
//! generated with `openssl genpkey` for this purpose). It is a test key for this emulator only:
//! it is not a Google credential and grants nothing anywhere else. `keys/unrelated-test-key.pem`
//! is a second key of the same kind, for tests of a key the emulator does not know.

mod assertion;
mod handlers;
mod schema;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::serve::ListenerExt as _;
use chrono::{DateTime, Utc};
use ebok_common::config::FcmConfig;
use jsonwebtoken::DecodingKey;
use rand::Rng as _;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use schema::{Notification, ParsedMessage, Target};

use super::{FcmClient, ServiceAccountKey};
use assertion::Account;

/// The emulator's service-account key file (a test key, see the module documentation).
pub(crate) const EMULATOR_SERVICE_ACCOUNT: &str = include_str!("keys/service-account.json");
/// The public half of its key, which the token endpoint verifies assertions with.
pub(crate) const EMULATOR_PUBLIC_KEY: &str = include_str!("keys/emulator-public-key.pem");

/// The embedded key as it is in the file (`token_uri` still Google's).
pub(crate) fn emulator_key() -> ServiceAccountKey {
    ServiceAccountKey::from_json(EMULATOR_SERVICE_ACCOUNT)
        .expect("the embedded emulator key parses")
}

/// How the emulator answers sends to one device token instead of accepting them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 404 `UNREGISTERED`: the app was uninstalled or the token expired.
    Unregistered,
    /// 400 `INVALID_ARGUMENT` with a field violation on `message.token`.
    InvalidToken,
    /// 403 `SENDER_ID_MISMATCH`: the token belongs to another Firebase project.
    SenderIdMismatch,
    /// 429 `QUOTA_EXCEEDED`, with `Retry-After` when given.
    QuotaExceeded { retry_after_secs: Option<u64> },
    /// 503 `UNAVAILABLE`, with `Retry-After` when given.
    Unavailable { retry_after_secs: Option<u64> },
    /// 500 `INTERNAL`.
    Internal,
    /// 401 `THIRD_PARTY_AUTH_ERROR`: the APNs certificate or Web Push key was refused.
    ThirdPartyAuthError,
}

/// One request that reached the send endpoint, whatever became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSend {
    /// `message.token`, when the body had one.
    pub token: Option<String>,
    /// `message.android.collapse_key`, when the body had one.
    pub collapse_key: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// One message the emulator accepted (answered 200 with a name). The message's own parts are
/// reached through it (`accepted.collapse_key`, `accepted.notification`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedMessage {
    /// `projects/<project>/messages/<n>`, as answered.
    pub name: String,
    pub message: ParsedMessage,
    /// The bearer token the send was authorised with (one the token endpoint issued after
    /// verifying an assertion, or [`FcmEmulator::issue_access_token`]).
    pub access_token: String,
    pub received_at: DateTime<Utc>,
}

impl std::ops::Deref for AcceptedMessage {
    type Target = ParsedMessage;

    fn deref(&self) -> &ParsedMessage {
        &self.message
    }
}

impl AcceptedMessage {
    /// The device token, for a message sent to one device.
    pub fn token(&self) -> Option<&str> {
        match &self.target {
            Target::Token(t) => Some(t),
            Target::Topic(_) | Target::Condition(_) => None,
        }
    }
}

#[derive(Default)]
struct Behaviour {
    /// The fault and how many more sends get it (`None`: all).
    fault: Option<(Fault, Option<u32>)>,
    /// Set while answers for the token are held; `true` releases them.
    hold: Option<watch::Sender<bool>>,
}

#[derive(Default)]
struct Records {
    received: Vec<ReceivedSend>,
    accepted: Vec<AcceptedMessage>,
}

/// What the handlers share. Each lock is held only to look up or push one entry.
pub(crate) struct State {
    project_id: String,
    base_url: String,
    token_url: String,
    account: Account,
    token_lifetime_ms: AtomicU64,
    access_tokens: RwLock<HashMap<String, Instant>>,
    token_requests: AtomicU64,
    failing_token_requests: AtomicU32,
    behaviours: Mutex<HashMap<String, Behaviour>>,
    recording: AtomicBool,
    records: Mutex<Records>,
    received_count: AtomicU64,
    accepted_count: AtomicU64,
    next_message_id: AtomicU64,
    /// Bumped on every received send, for [`FcmEmulator::wait_for_attempts`].
    received_signal: watch::Sender<u64>,
    /// Cancelled when the emulator is dropped: the server stops, held answers are let go.
    closed: CancellationToken,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    fn issue_access_token(&self) -> (String, Duration) {
        let token: String = rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(48)
            .map(char::from)
            .collect();
        let token = format!("ya29.emulator.{token}");
        let lifetime = Duration::from_millis(self.token_lifetime_ms.load(Ordering::Relaxed));
        let now = Instant::now();
        let mut tokens = self
            .access_tokens
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        tokens.retain(|_, expires| *expires > now);
        tokens.insert(token.clone(), now + lifetime);
        (token, lifetime)
    }

    fn access_token_valid(&self, token: &str) -> bool {
        let tokens = self
            .access_tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        tokens
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires)
    }

    /// Whether this token request is to fail (and counts it down).
    fn take_token_failure(&self) -> bool {
        self.failing_token_requests
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Records a send attempt; the receiver to wait on when answers for `token` are held.
    fn record_attempt(
        &self,
        token: Option<&str>,
        collapse_key: Option<&str>,
        received_at: DateTime<Utc>,
    ) -> Option<watch::Receiver<bool>> {
        self.received_count.fetch_add(1, Ordering::Relaxed);
        if self.recording.load(Ordering::Relaxed) {
            let record = ReceivedSend {
                token: token.map(str::to_owned),
                collapse_key: collapse_key.map(str::to_owned),
                received_at,
            };
            lock(&self.records).received.push(record);
        }
        self.received_signal.send_modify(|n| *n += 1);
        let token = token?;
        let behaviours = lock(&self.behaviours);
        behaviours
            .get(token)?
            .hold
            .as_ref()
            .map(watch::Sender::subscribe)
    }

    /// The fault to answer for `token` now, if any (and counts it down).
    fn take_fault(&self, token: &str) -> Option<Fault> {
        let mut behaviours = lock(&self.behaviours);
        let behaviour = behaviours.get_mut(token)?;
        let (fault, remaining) = behaviour.fault.as_mut()?;
        let fault = fault.clone();
        if let Some(n) = remaining {
            *n = n.saturating_sub(1);
            if *n == 0 {
                behaviour.fault = None;
            }
        }
        if behaviour.fault.is_none() && behaviour.hold.is_none() {
            behaviours.remove(token);
        }
        Some(fault)
    }

    fn record_accepted(&self, message: AcceptedMessage) {
        self.accepted_count.fetch_add(1, Ordering::Relaxed);
        if self.recording.load(Ordering::Relaxed) {
            lock(&self.records).accepted.push(message);
        }
    }
}

/// A local FCM HTTP v1 server on 127.0.0.1, stopped when dropped.
pub struct FcmEmulator {
    state: Arc<State>,
    addr: SocketAddr,
    credentials_file: Mutex<Option<PathBuf>>,
}

impl std::fmt::Debug for FcmEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FcmEmulator")
            .field("url", &self.state.base_url)
            .finish_non_exhaustive()
    }
}

impl FcmEmulator {
    /// Starts on 127.0.0.1 on a free port. The listener is bound before this returns, so the
    /// emulator answers at once. Must be called within a Tokio runtime.
    ///
    /// # Panics
    /// When no port can be bound on 127.0.0.1.
    pub fn start() -> FcmEmulator {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("bind the FCM emulator on 127.0.0.1")
    }

    /// Starts on `addr` (port 0: any free port). Must be called within a Tokio runtime.
    pub fn start_on(addr: SocketAddr) -> std::io::Result<FcmEmulator> {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(4096)?;
        let addr = listener.local_addr()?;
        let key = emulator_key();
        let base_url = format!("http://{addr}");
        let state = Arc::new(State {
            project_id: key.project_id.clone(),
            token_url: format!("{base_url}/token"),
            base_url,
            account: Account {
                client_email: key.client_email.clone(),
                private_key_id: key.private_key_id.clone(),
                public_key: DecodingKey::from_rsa_pem(EMULATOR_PUBLIC_KEY.as_bytes())
                    .expect("the embedded emulator public key parses"),
            },
            token_lifetime_ms: AtomicU64::new(3_600_000),
            access_tokens: RwLock::default(),
            token_requests: AtomicU64::new(0),
            failing_token_requests: AtomicU32::new(0),
            behaviours: Mutex::default(),
            recording: AtomicBool::new(true),
            records: Mutex::default(),
            received_count: AtomicU64::new(0),
            accepted_count: AtomicU64::new(0),
            next_message_id: AtomicU64::new(1),
            received_signal: watch::Sender::new(0),
            closed: CancellationToken::new(),
        });
        let app = handlers::router(state.clone());
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let stop = state.closed.clone().cancelled_owned();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::warn!(error = %e, "FCM emulator stopped");
            }
        });
        Ok(FcmEmulator {
            state,
            addr,
            credentials_file: Mutex::new(None),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The send base URL (`FcmConfig::send_base_url`), e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        self.state.base_url.clone()
    }

    /// The token endpoint, `{url}/token`: the `aud` assertions must name.
    pub fn token_url(&self) -> String {
        self.state.token_url.clone()
    }

    /// `ebok-emulator`.
    pub fn project_id(&self) -> &str {
        &self.state.project_id
    }

    /// The emulator's service-account key, its `token_uri` pointing at this emulator.
    pub fn service_account_key(&self) -> ServiceAccountKey {
        ServiceAccountKey {
            token_uri: self.token_url(),
            ..emulator_key()
        }
    }

    /// The key file's JSON, its `token_uri` pointing at this emulator.
    pub fn service_account_json(&self) -> String {
        let mut json: serde_json::Value = serde_json::from_str(EMULATOR_SERVICE_ACCOUNT)
            .expect("the embedded emulator key parses");
        json["token_uri"] = self.token_url().into();
        serde_json::to_string_pretty(&json).expect("JSON serialises")
    }

    /// Writes the key file (see [`Self::service_account_json`]) to `path`, for a configuration
    /// to name in `credentials_file`.
    pub fn write_service_account(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.service_account_json())
    }

    /// A configuration for [`FcmClient::from_config`] that sends to this emulator. Its key file
    /// is written to the temporary directory and removed when the emulator is dropped.
    ///
    /// # Panics
    /// When the key file cannot be written.
    pub fn config(&self) -> FcmConfig {
        let mut file = lock(&self.credentials_file);
        let path = file.get_or_insert_with(|| {
            let path = std::env::temp_dir().join(format!(
                "ebok-fcm-emulator-{}-{}.json",
                std::process::id(),
                self.addr.port()
            ));
            self.write_service_account(&path)
                .expect("write the FCM emulator's key file");
            path
        });
        FcmConfig {
            enabled: true,
            credentials_file: Some(path.clone()),
            token_url: Some(self.token_url()),
            send_base_url: self.url(),
            timeout_ms: 5_000,
        }
    }

    /// A client for this emulator (5 s timeout).
    pub fn client(&self) -> FcmClient {
        FcmClient::new(
            self.service_account_key(),
            self.url(),
            None,
            Duration::from_secs(5),
        )
        .expect("a client for the FCM emulator")
    }

    /// The emulator's routes on its state, to be served elsewhere as well. The token endpoint
    /// still expects assertions addressed to [`Self::token_url`].
    pub fn router(&self) -> Router {
        handlers::router(self.state.clone())
    }

    /// The `expires_in` of access tokens issued from now on (whole seconds are announced;
    /// default one hour). A short lifetime makes clients refresh.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        let ms = u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX);
        self.state.token_lifetime_ms.store(ms, Ordering::Relaxed);
    }

    /// An access token issued without the token endpoint, for requests a test makes by hand.
    pub fn issue_access_token(&self) -> String {
        self.state.issue_access_token().0
    }

    /// Forgets every access token issued so far: the next send with one gets 401.
    pub fn revoke_access_tokens(&self) {
        self.state
            .access_tokens
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The next `times` token requests fail with 503.
    pub fn fail_token_requests(&self, times: u32) {
        self.state
            .failing_token_requests
            .store(times, Ordering::Relaxed);
    }

    /// Answers sends to `token` with `fault`, `times` times (`None`: until [`Self::heal`]).
    pub fn inject(&self, token: &str, fault: Fault, times: Option<u32>) {
        if times == Some(0) {
            return;
        }
        lock(&self.state.behaviours)
            .entry(token.to_owned())
            .or_default()
            .fault = Some((fault, times));
    }

    /// `token` is no longer registered: 404 `UNREGISTERED` from now on.
    pub fn unregister(&self, token: &str) {
        self.inject(token, Fault::Unregistered, None);
    }

    /// `token` is not a valid registration token: 400 `INVALID_ARGUMENT` on `message.token`.
    pub fn invalid_token(&self, token: &str) {
        self.inject(token, Fault::InvalidToken, None);
    }

    /// `token` belongs to another sender: 403 `SENDER_ID_MISMATCH`.
    pub fn sender_id_mismatch(&self, token: &str) {
        self.inject(token, Fault::SenderIdMismatch, None);
    }

    /// The next `times` sends to `token` get 429 `QUOTA_EXCEEDED` with `Retry-After`.
    pub fn quota_exceeded(&self, token: &str, times: u32, retry_after_secs: u64) {
        self.inject(
            token,
            Fault::QuotaExceeded {
                retry_after_secs: Some(retry_after_secs),
            },
            Some(times),
        );
    }

    /// The next `times` sends to `token` get 503 `UNAVAILABLE`.
    pub fn unavailable(&self, token: &str, times: u32) {
        self.inject(
            token,
            Fault::Unavailable {
                retry_after_secs: None,
            },
            Some(times),
        );
    }

    /// The next `times` sends to `token` get 500 `INTERNAL`.
    pub fn internal_error(&self, token: &str, times: u32) {
        self.inject(token, Fault::Internal, Some(times));
    }

    /// Sends to `token` are accepted again (faults removed, held answers released).
    pub fn heal(&self, token: &str) {
        if let Some(behaviour) = lock(&self.state.behaviours).remove(token)
            && let Some(hold) = behaviour.hold
        {
            hold.send_replace(true);
        }
    }

    /// Sends to `token` are recorded as received, then not answered until [`Self::release`].
    pub fn hold(&self, token: &str) {
        lock(&self.state.behaviours)
            .entry(token.to_owned())
            .or_default()
            .hold
            .get_or_insert_with(|| watch::Sender::new(false));
    }

    /// Answers the held sends to `token` (normally, or with its fault) and stops holding.
    pub fn release(&self, token: &str) {
        let mut behaviours = lock(&self.state.behaviours);
        if let Some(behaviour) = behaviours.get_mut(token)
            && let Some(hold) = behaviour.hold.take()
        {
            hold.send_replace(true);
            if behaviour.fault.is_none() {
                behaviours.remove(token);
            }
        }
    }

    /// Releases every held token.
    pub fn release_all(&self) {
        let mut behaviours = lock(&self.state.behaviours);
        for behaviour in behaviours.values_mut() {
            if let Some(hold) = behaviour.hold.take() {
                hold.send_replace(true);
            }
        }
        behaviours.retain(|_, b| b.fault.is_some());
    }

    /// Waits until `n` sends to `token` have been received (not necessarily answered). Needs
    /// recording on.
    pub async fn wait_for_attempts(&self, token: &str, n: usize) {
        let mut signal = self.state.received_signal.subscribe();
        let _ = signal.wait_for(|_| self.attempts_for(token) >= n).await;
    }

    /// Keep (default) or stop keeping a record of each send; counts are kept either way. A
    /// benchmark of many sends turns it off.
    pub fn set_recording(&self, on: bool) {
        self.state.recording.store(on, Ordering::Relaxed);
    }

    /// Every request received at the send endpoint, in order.
    pub fn received(&self) -> Vec<ReceivedSend> {
        lock(&self.state.records).received.clone()
    }

    /// Every accepted message, in order.
    pub fn accepted(&self) -> Vec<AcceptedMessage> {
        lock(&self.state.records).accepted.clone()
    }

    /// The accepted messages for one device token.
    pub fn accepted_for(&self, token: &str) -> Vec<AcceptedMessage> {
        lock(&self.state.records)
            .accepted
            .iter()
            .filter(|m| m.token() == Some(token))
            .cloned()
            .collect()
    }

    /// How many requests for `token` the send endpoint received.
    pub fn attempts_for(&self, token: &str) -> usize {
        lock(&self.state.records)
            .received
            .iter()
            .filter(|r| r.token.as_deref() == Some(token))
            .count()
    }

    /// Requests received at the send endpoint.
    pub fn received_count(&self) -> u64 {
        self.state.received_count.load(Ordering::Relaxed)
    }

    /// Messages accepted.
    pub fn accepted_count(&self) -> u64 {
        self.state.accepted_count.load(Ordering::Relaxed)
    }

    /// Requests received at the token endpoint, answered or not.
    pub fn token_requests(&self) -> u64 {
        self.state.token_requests.load(Ordering::Relaxed)
    }
}

impl Drop for FcmEmulator {
    fn drop(&mut self) {
        self.state.closed.cancel();
        if let Some(path) = lock(&self.credentials_file).take() {
            let _ = std::fs::remove_file(path);
        }
    }
}
