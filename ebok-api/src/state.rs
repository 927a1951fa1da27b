//! What every handler can reach. Handlers receive the state by value on every request, so it is
//! one `Arc`: cloning it costs a reference count, not copies of the keys and the URLs.

use std::ops::Deref;
use std::sync::Arc;

use ebok_common::db::KeptConnections;
use ebok_readings::coalesce::OnDayLookups;
use mobile_push::channel::MailSender;
use mobile_push::email::Mailbox;
use sqlx::PgPool;

use crate::accounts::AccountMailer;
use crate::auth::app::Lifetime;
use crate::auth::keys::Keys;
use crate::auth::revoked::RevokedSessions;
use crate::client::ProxyTrust;
use crate::password::Hasher;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What an API process is told when it starts (from `api.*` in the configuration).
#[derive(Clone)]
pub struct Settings {
    /// Where residents reach the portal (see [`Shared::public_url`]).
    pub public_url: String,
    /// Where payment providers reach this API (see [`Shared::callback_url`]).
    pub callback_url: String,
    /// The keys of the app's access tokens.
    pub keys: Keys,
    /// Reverse proxies whose forwarding header names the client (see [`crate::client`]).
    pub proxies: ProxyTrust,
    pub app_sessions: Lifetime,
    pub hasher: Hasher,
}

impl Settings {
    /// From the configuration: the key file (created when missing only with
    /// `create_key_file`: one machine, see [`Keys::from_file`]), trusted proxies, the app
    /// sessions' lifetime and the hashing limit.
    pub fn from_config(
        api: &ebok_common::config::ApiConfig,
        stack: &ebok_common::config::StackConfig,
        public_url: &str,
        create_key_file: bool,
    ) -> anyhow::Result<Settings> {
        use anyhow::Context;
        let path = api.token_key_file(stack);
        let keys = Keys::from_file(&path, create_key_file).with_context(|| {
            format!(
                "access-token keys (setting api.token_key_file, EBOK__API__TOKEN_KEY_FILE: {})",
                path.display()
            )
        })?;
        Ok(Settings {
            public_url: public_url.to_string(),
            callback_url: api
                .callback_url
                .clone()
                .unwrap_or_else(|| public_url.to_string()),
            keys,
            proxies: ProxyTrust {
                proxies: api.trusted_proxies.clone(),
                header: api.forwarded_header,
            },
            app_sessions: Lifetime {
                max_age: std::time::Duration::from_secs(
                    u64::from(api.app_session_max_days.max(1)) * 24 * 3600,
                ),
            },
            hasher: Hasher::new(
                api.hashing_concurrency,
                std::time::Duration::from_millis(api.hashing_wait_ms),
            ),
        })
    }

    /// The defaults around a public URL and keys: no trusted proxies, app sessions of 180 days
    /// at most, one password hash per CPU at a time.
    pub fn new(public_url: &str, keys: Keys) -> Settings {
        Settings {
            public_url: public_url.to_string(),
            callback_url: public_url.to_string(),
            keys,
            proxies: ProxyTrust::default(),
            app_sessions: Lifetime::default(),
            hasher: Hasher::default(),
        }
    }
}

/// The state's contents, reached through [`AppState`]'s `Deref`.
#[derive(Clone)]
pub struct Shared {
    pub pool: PgPool,
    /// Where residents reach the portal (`https://ebok.example.pl`, no trailing slash): links in
    /// e-mails start with it, and state-changing requests must come from its origin.
    pub public_url: String,
    /// Cookies carry `Secure` (and responses `Strict-Transport-Security`) when the portal is
    /// served over TLS.
    pub secure_cookies: bool,
    /// Where payment providers post their notifications (no trailing slash): the public URL
    /// unless `api.callback_url` says otherwise.
    pub callback_url: String,
    /// Each utility's online payment provider (none: bank transfers only).
    pub payments: ebok_payments::online::Providers,
    pub keys: Keys,
    /// App sessions that ended while their access tokens may still be unexpired.
    pub revoked: RevokedSessions,
    pub proxies: ProxyTrust,
    pub app_sessions: Lifetime,
    pub hasher: Hasher,
    pub mailer: AccountMailer,
    /// The demo's mailbox: account e-mails go there and `/demo/poczta` shows it.
    pub mailbox: Option<Arc<Mailbox>>,
    /// The reading on a day, with concurrent lookups answered together.
    pub on_day: OnDayLookups,
    /// Content-Security-Policy violations browsers reported to this process (see
    /// [`crate::headers`]); also counted in the metrics.
    pub csp_reports: Arc<std::sync::atomic::AtomicU64>,
    /// Connections kept out of the pool for the API's meter reads (current reading, history,
    /// billing readings, export): no ping per statement (see [`KeptConnections`]).
    pub reads: KeptConnections,
}

/// Reading-on-a-day statements in flight at once, and lookups answered by one statement.
const ON_DAY_CONCURRENCY: usize = 2;
const ON_DAY_MAX_BATCH: usize = 64;
/// Connections kept for the meter reads: enough to keep two cores' worth of backends busy
/// while others are on the wire.
const READ_CONNECTIONS: usize = 4;

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Shared {
    /// The portal's host name (`ebok.example.pl`), for identities that outlive a page:
    /// iCalendar `UID`s.
    pub fn public_host(&self) -> String {
        url::Url::parse(&self.public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "ebok".into())
    }
}

impl AppState {
    /// The state of a running API: starts the reading-on-a-day lookup queue, follows the
    /// revocations of app sessions and watches the key file. Must be called within a Tokio
    /// runtime. Account e-mails are refused until [`with_mailer`](Self::with_mailer) is given
    /// a sender.
    pub async fn new(pool: PgPool, settings: Settings) -> Self {
        let public_url = settings.public_url.trim_end_matches('/').to_string();
        // The hash an unknown address is checked against, computed now and off the async
        // threads rather than by the first login that needs it.
        tokio::task::spawn_blocking(|| std::sync::LazyLock::force(&crate::password::DUMMY_HASH));
        let revoked = RevokedSessions::default();
        revoked.follow(pool.clone()).await;
        settings.keys.watch();
        Self(Arc::new(Shared {
            secure_cookies: public_url.starts_with("https://"),
            mailer: AccountMailer::new(None, &public_url),
            mailbox: None,
            csp_reports: Arc::default(),
            on_day: OnDayLookups::start(pool.clone(), ON_DAY_CONCURRENCY, ON_DAY_MAX_BATCH),
            reads: KeptConnections::new(pool.clone(), READ_CONNECTIONS),
            pool,
            public_url,
            callback_url: settings.callback_url.trim_end_matches('/').to_string(),
            payments: ebok_payments::online::Providers::default(),
            keys: settings.keys,
            revoked,
            proxies: settings.proxies,
            app_sessions: settings.app_sessions,
            hasher: settings.hasher,
        }))
    }

    pub fn with_mailer(self, sender: Arc<dyn MailSender>) -> Self {
        let mut shared = Arc::unwrap_or_clone(self.0);
        shared.mailer = AccountMailer::new(Some(sender), &shared.public_url);
        Self(Arc::new(shared))
    }

    /// Online payments through `providers` (each utility's, by slug).
    pub fn with_payments(self, providers: ebok_payments::online::Providers) -> Self {
        let mut shared = Arc::unwrap_or_clone(self.0);
        shared.payments = providers;
        Self(Arc::new(shared))
    }

    /// Account e-mails go to `mailbox`, which `/demo/poczta` shows (the demo, never
    /// production: the page shows every account's links).
    pub fn with_mailbox(self, mailbox: Arc<Mailbox>) -> Self {
        let mut shared = Arc::unwrap_or_clone(self.with_mailer(mailbox.clone()).0);
        shared.mailbox = Some(mailbox);
        Self(Arc::new(shared))
    }

    /// The portal's origin (`scheme://host[:port]`), which browsers send as `Origin`.
    pub fn origin(&self) -> String {
        url::Url::parse(&self.public_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }
}
