//! The office of the browser journeys: one utility with a resident household (an account with
//! a password, a customer, a contract, a meter) and a clerk enrolled with an authenticator app,
//! the portal and back office served on a loopback port as in production, and the sign-ins a
//! person does in the browser.

#![allow(dead_code)]

use ebok_api::AppState;
use ebok_testkit::browser::Browser;
use ebok_testkit::fixtures;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub const SLUG: &str = "mlynary";
pub const RESIDENT_PASSWORD: &str = "zielona łódka na Wiśle";
pub const STAFF_PASSWORD: &str = "Służbowe-Hasło-2026";
pub const EMAIL: &str = "jan@example.pl";
pub const CLERK_EMAIL: &str = "bok@mlynary.example";

pub struct Office {
    pub url: String,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    pub utility_id: i64,
    pub home: fixtures::Household,
    pub clerk: i64,
    secret: Vec<u8>,
}

/// A clerk of `utility_id` with [`STAFF_PASSWORD`] and an authenticator app in effect: the
/// account's id and the app's secret.
pub async fn clerk(pool: &PgPool, utility_id: i64, email: &str) -> (i64, Vec<u8>) {
    let secret = ebok_api::staff::totp::new_secret();
    let clerk: i64 = sqlx::query_scalar(
        "INSERT INTO user_accounts (utility_id, email, password_hash, role, status,
                                    display_name, activated_at)
         VALUES ($1, $2, $3, 'clerk', 'active', 'Ewa z BOK', now())
         RETURNING id",
    )
    .bind(utility_id)
    .bind(email)
    .bind(ebok_api::password::hash(STAFF_PASSWORD).unwrap())
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO staff_authenticators (account_id, utility_id, secret, confirmed_at)
         VALUES ($1, $2, $3, now())",
    )
    .bind(clerk)
    .bind(utility_id)
    .bind(&secret)
    .execute(pool)
    .await
    .unwrap();
    (clerk, secret)
}

/// The code the authenticator app shows now.
pub fn code_now(secret: &[u8]) -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    ebok_api::staff::totp::code_at(secret, seconds)
}

impl Office {
    pub async fn start(pool: &PgPool) -> Office {
        let utility_id = fixtures::utility(pool, SLUG).await;
        let home = fixtures::household(pool, utility_id, EMAIL).await;
        sqlx::query("UPDATE user_accounts SET password_hash = $2 WHERE id = $1")
            .bind(home.account_id)
            .bind(ebok_api::password::hash(RESIDENT_PASSWORD).unwrap())
            .execute(pool)
            .await
            .unwrap();
        let (clerk, secret) = clerk(pool, utility_id, CLERK_EMAIL).await;
        let shutdown = CancellationToken::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(
            pool.clone(),
            ebok_api::state::Settings::new(&url, ebok_api::auth::keys::Keys::generate()),
        )
        .await;
        let server = tokio::spawn(ebok_api::serve(listener, state, shutdown.clone()));
        Office {
            url,
            shutdown,
            server,
            utility_id,
            home,
            clerk,
            secret,
        }
    }

    pub fn portal(&self, path: &str) -> String {
        format!("{}/u/{SLUG}/{path}", self.url)
    }

    pub fn panel(&self, path: &str) -> String {
        format!("{}/panel/{SLUG}/{path}", self.url)
    }

    pub async fn resident_signs_in(&self, browser: &Browser) {
        browser.goto(&self.portal("logowanie")).await;
        browser.fill("email", EMAIL).await;
        browser.fill("password", RESIDENT_PASSWORD).await;
        browser.click_submit().await;
        assert_eq!(browser.current_path().await, format!("/u/{SLUG}/pulpit"));
    }

    pub async fn clerk_signs_in(&self, browser: &Browser) {
        browser.goto(&self.panel("logowanie")).await;
        browser.fill("email", CLERK_EMAIL).await;
        browser.fill("password", STAFF_PASSWORD).await;
        browser.click_submit().await;
        browser.fill("code", &code_now(&self.secret)).await;
        browser.click_submit().await;
        assert_eq!(browser.current_path().await, format!("/panel/{SLUG}/"));
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
    }
}

/// The href of the first link in the page's main part whose text contains `text`.
pub async fn link_to(browser: &Browser, text: &str) -> String {
    let found = browser
        .client()
        .execute(
            "const [text] = arguments;
             const a = [...document.querySelectorAll('main a')].find(a => a.textContent.includes(text));
             return a ? a.getAttribute('href') : null;",
            vec![serde_json::json!(text)],
        )
        .await
        .unwrap();
    found
        .as_str()
        .unwrap_or_else(|| panic!("no link with {text:?}"))
        .to_string()
}

/// Fetches `path` with the browser's own session, as a click on a download link would: the
/// status and the first bytes.
pub async fn fetch(browser: &Browser, path: &str) -> (u64, Vec<u8>) {
    let result = browser
        .client()
        .execute_async(
            "const [url, done] = arguments;
             fetch(url, {credentials: 'same-origin'})
               .then(r => r.arrayBuffer().then(b => done([r.status, Array.from(new Uint8Array(b.slice(0, 8)))])))
               .catch(e => done([0, []]));",
            vec![serde_json::json!(path)],
        )
        .await
        .expect("fetching in the browser");
    let bytes = result[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    (result[0].as_u64().unwrap(), bytes)
}
