//! What every handler can reach.

use std::sync::Arc;

use mobile_push::channel::MailSender;
use sqlx::PgPool;

use crate::accounts::AccountMailer;
use crate::auth::app::Keys;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// Where residents reach the portal (`https://ebok.example.pl`, no trailing slash): links in
    /// e-mails start with it, and state-changing requests must come from its origin.
    pub public_url: String,
    /// Cookies carry `Secure` when the portal is served over TLS.
    pub secure_cookies: bool,
    pub keys: Keys,
    pub mailer: AccountMailer,
}

impl AppState {
    /// Loads (or creates) the installation's token key. Account e-mails are only logged until
    /// [`with_mailer`](Self::with_mailer) is given a sender.
    pub async fn new(pool: PgPool, public_url: &str) -> anyhow::Result<Self> {
        let keys = Keys::load(&pool).await?;
        Ok(Self::with_keys(pool, public_url, keys))
    }

    /// A state with the given token key (tests, or a key from elsewhere).
    pub fn with_keys(pool: PgPool, public_url: &str, keys: Keys) -> Self {
        let public_url = public_url.trim_end_matches('/').to_string();
        Self {
            secure_cookies: public_url.starts_with("https://"),
            mailer: AccountMailer::new(None, &public_url),
            pool,
            public_url,
            keys,
        }
    }

    pub fn with_mailer(mut self, sender: Arc<dyn MailSender>) -> Self {
        self.mailer = AccountMailer::new(Some(sender), &self.public_url);
        self
    }

    /// The portal's origin (`scheme://host[:port]`), which browsers send as `Origin`.
    pub fn origin(&self) -> String {
        url::Url::parse(&self.public_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }
}
