//! The test harness, against real services started by the test command (`scripts/test.sh`):
//!
//! - [`TestDb`]: a fresh, migrated PostgreSQL database per test, cloned from a template that is
//!   migrated once per schema version, dropped when the test ends;
//! - [`TestServer`]: an axum app served on port 0, with its base URL, stopped on drop;
//! - [`mqtt`]: the test Mosquitto's URL, unique topics and connected clients;
//! - [`smtp`]: a real SMTP server (aiosmtpd) per test, plain, STARTTLS or TLS, that keeps what
//!   it receives;
//! - [`browser`]: a real headless Chromium driven over WebDriver, with axe-core accessibility
//!   checks of the page shown;
//! - [`test_tool`]: where the tools `scripts/test-tools.sh` installs are (axe-core,
//!   schemathesis).
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

/// Where `relative` may be under the folder of the tools `scripts/test-tools.sh` installs
/// (`<data folder>/test-tools`), in order: under the data folder named by
/// `$EBOK__STACK__DATA_DIR` (relative to the workspace, where `ebok` runs), then the usual
/// `.ebok/test-stack` and `.ebok`.
pub fn test_tool(relative: &str) -> Vec<std::path::PathBuf> {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit lies in the workspace")
        .to_path_buf();
    let mut data_dirs = Vec::new();
    if let Some(dir) = std::env::var_os("EBOK__STACK__DATA_DIR") {
        data_dirs.push(workspace.join(dir)); // join keeps an absolute path as it is
    }
    data_dirs.push(workspace.join(".ebok/test-stack"));
    data_dirs.push(workspace.join(".ebok"));
    data_dirs
        .into_iter()
        .map(|dir| dir.join("test-tools").join(relative))
        .collect()
}

/// An HTTP client for tests (no redirects followed). Installs the process's TLS crypto provider
/// first, as the `ebok` binary does at start.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}
