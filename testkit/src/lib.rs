//! The test harness, against real services started by the test command (`scripts/test.sh`):
//!
//! - [`TestDb`]: a fresh, migrated PostgreSQL database per test, cloned from a template that is
//!   migrated once per schema version, dropped when the test ends;
//! - [`TestServer`]: an axum app served on port 0, with its base URL, stopped on drop;
//! - [`mqtt`]: the test Mosquitto's URL, unique topics and connected clients;
//! - [`smtp`]: a real SMTP server (aiosmtpd) per test, plain, STARTTLS or TLS, that keeps what
//!   it receives;
//! - [`browser`]: a real headless Chromium driven over WebDriver, with axe-core accessibility
//!   checks of the page shown.
//!
//! Nothing here sleeps waiting for start-up: listeners are bound before the server task starts.

pub mod browser;
pub mod db;
pub mod fixtures;
pub mod mqtt;
pub mod server;
pub mod smtp;

pub use db::TestDb;
pub use server::TestServer;

/// An HTTP client for tests (no redirects followed). Installs the process's TLS crypto provider
/// first, as the `ebok` binary does at start.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}
