//! What every handler can reach. Handlers receive the state by value on every request, so it is
//! one `Arc`: cloning it costs a reference count, not copies of the key and the URLs.

use std::ops::Deref;
use std::sync::Arc;

use ebok_common::db::KeptConnections;
use ebok_readings::coalesce::OnDayLookups;
use mobile_push::channel::MailSender;
use sqlx::PgPool;

use crate::accounts::AccountMailer;
use crate::auth::app::Keys;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The state's contents, reached through [`AppState`]'s `Deref`.
#[derive(Clone)]
pub struct Shared {
    pub pool: PgPool,
    /// Where residents reach the portal (`https://ebok.example.pl`, no trailing slash): links in
    /// e-mails start with it, and state-changing requests must come from its origin.
    pub public_url: String,
    /// Cookies carry `Secure` when the portal is served over TLS.
    pub secure_cookies: bool,
    pub keys: Keys,
    pub mailer: AccountMailer,
    /// The reading on a day, with concurrent lookups answered together.
    pub on_day: OnDayLookups,
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

impl AppState {
    /// Loads (or creates) the installation's token key. Account e-mails are only logged until
    /// [`with_mailer`](Self::with_mailer) is given a sender.
    pub async fn new(pool: PgPool, public_url: &str) -> anyhow::Result<Self> {
        let keys = Keys::load(&pool).await?;
        Ok(Self::with_keys(pool, public_url, keys))
    }

    /// A state with the given token key (tests, or a key from elsewhere). Must be called within
    /// a Tokio runtime: it starts the reading-on-a-day lookup queue.
    pub fn with_keys(pool: PgPool, public_url: &str, keys: Keys) -> Self {
        let public_url = public_url.trim_end_matches('/').to_string();
        Self(Arc::new(Shared {
            secure_cookies: public_url.starts_with("https://"),
            mailer: AccountMailer::new(None, &public_url),
            on_day: OnDayLookups::start(pool.clone(), ON_DAY_CONCURRENCY, ON_DAY_MAX_BATCH),
            reads: KeptConnections::new(pool.clone(), READ_CONNECTIONS),
            pool,
            public_url,
            keys,
        }))
    }

    pub fn with_mailer(self, sender: Arc<dyn MailSender>) -> Self {
        let mut shared = Arc::unwrap_or_clone(self.0);
        shared.mailer = AccountMailer::new(Some(sender), &shared.public_url);
        Self(Arc::new(shared))
    }

    /// The portal's origin (`scheme://host[:port]`), which browsers send as `Origin`.
    pub fn origin(&self) -> String {
        url::Url::parse(&self.public_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }
}
