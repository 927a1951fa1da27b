//! Shared set-up of the API and portal tests: a server on port 0 with its public URL, and
//! residents with linked customers, meters and readings, in two utilities.

#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ebok_api::auth::keys::Keys;
use ebok_api::state::Settings;
use ebok_api::{AppState, router};
use ebok_common::config::SmtpSecurity;
use ebok_testkit::smtp::{SmtpOptions, TestSmtp};
use ebok_testkit::{TestDb, TestServer, fixtures};
use mobile_push::channel::MailSender;
use mobile_push::email::SmtpMailer;
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::{Value, json};
use sqlx::PgPool;

pub const PASSWORD: &str = "zielona łódka na Wiśle";

/// The origin of the test server's public URL, which portal forms must come from.
pub const PORTAL_ORIGIN: &str = "http://127.0.0.1";

pub struct App {
    pub db: TestDb,
    pub server: TestServer,
    /// The server's state (its keys, its set of revoked sessions).
    pub state: AppState,
}

impl App {
    pub async fn start() -> App {
        Self::start_with(None).await
    }

    pub async fn start_with(mailer: Option<Arc<dyn MailSender>>) -> App {
        Self::start_custom(mailer, |_| {}).await
    }

    /// A server whose account e-mails go to a real SMTP server of the test's own.
    pub async fn with_smtp() -> (App, TestSmtp) {
        let smtp = TestSmtp::start(SmtpOptions::plain());
        let mailer = SmtpMailer::from_config(&smtp.config(SmtpSecurity::Plain)).unwrap();
        (App::start_with(Some(Arc::new(mailer))).await, smtp)
    }

    /// A server whose settings `adjust` changes from the defaults.
    pub async fn start_custom(
        mailer: Option<Arc<dyn MailSender>>,
        adjust: impl FnOnce(&mut Settings),
    ) -> App {
        Self::start_full(mailer, adjust, ebok_payments::online::Providers::default()).await
    }

    /// A server whose utilities take online payments through `providers`.
    pub async fn with_payments(providers: ebok_payments::online::Providers) -> App {
        Self::start_full(None, |_| {}, providers).await
    }

    async fn start_full(
        mailer: Option<Arc<dyn MailSender>>,
        adjust: impl FnOnce(&mut Settings),
        providers: ebok_payments::online::Providers,
    ) -> App {
        let db = TestDb::new().await;
        let listener = TestServer::listener().await;
        // Links in e-mails start with this URL; tests that follow them take path and query.
        let mut settings = Settings::new(PORTAL_ORIGIN, Keys::generate());
        // Payment providers (their emulators) call the server itself back.
        settings.callback_url = format!("http://{}", listener.local_addr().unwrap());
        adjust(&mut settings);
        let mut state = AppState::new(db.pool.clone(), settings)
            .await
            .with_payments(providers);
        if let Some(mailer) = mailer {
            state = state.with_mailer(mailer);
        }
        let server = TestServer::start_on(listener, router(state.clone())).await;
        App { db, server, state }
    }

    pub fn pool(&self) -> &PgPool {
        &self.db.pool
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.server
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        token: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.server.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub async fn post(&self, token: Option<&str>, path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, token, path, Some(body))
            .await
    }

    /// Logs in through the API; returns the token response.
    pub async fn login(&self, slug: &str, email: &str) -> Value {
        let response = self
            .post(
                None,
                &format!("/api/v1/utilities/{slug}/token"),
                json!({ "email": email, "password": PASSWORD, "client": "test" }),
            )
            .await;
        assert_eq!(response.status(), 200, "login of {email}");
        response.json().await.unwrap()
    }

    /// Logs in through the portal's form; returns the `name=value` of the session cookie.
    pub async fn web_login(&self, slug: &str, email: &str) -> String {
        let response = self
            .server
            .client
            .post(self.url(&format!("/u/{slug}/logowanie")))
            .header(ORIGIN, PORTAL_ORIGIN)
            .form(&[("email", email), ("password", PASSWORD), ("next", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "login of {email}");
        assert_eq!(response.headers()[LOCATION], format!("/u/{slug}/pulpit"));
        let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains(&format!("Path=/u/{slug}/")), "{cookie}");
        cookie.split(';').next().unwrap().to_string()
    }

    /// A portal page with the session cookie.
    pub async fn web_get(&self, cookie: &str, path: &str) -> reqwest::Response {
        self.server
            .client
            .get(self.url(path))
            .header(COOKIE, cookie)
            .send()
            .await
            .unwrap()
    }

    /// A portal form, sent from the portal's origin with the session cookie.
    pub async fn web_post(
        &self,
        cookie: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.server
            .client
            .post(self.url(path))
            .header(COOKIE, cookie)
            .header(ORIGIN, PORTAL_ORIGIN)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token in a page's forms.
    pub async fn web_csrf(&self, cookie: &str, path: &str) -> String {
        let html = self.web_get(cookie, path).await.text().await.unwrap();
        let at = html
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF token");
        html[at + 19..].split('"').next().unwrap().to_string()
    }
}

/// A resident with an active account (password [`PASSWORD`]), a linked customer with a contract,
/// and one meter with daily readings at 06:00 UTC for the last `days` days (today's a minute ago
/// while 06:00 is still to come), the newest `100_000 + days * 150` litres.
pub struct Resident {
    pub utility_id: i64,
    pub slug: String,
    pub account_id: i64,
    pub email: String,
    pub customer_id: i64,
    pub supply_point_id: i64,
    pub meter_id: i64,
}

pub async fn utility(pool: &PgPool, slug: &str) -> i64 {
    fixtures::utility(pool, slug).await
}

pub async fn resident(
    pool: &PgPool,
    utility_id: i64,
    slug: &str,
    email: &str,
    days: i64,
) -> Resident {
    let home = fixtures::household(pool, utility_id, email).await;
    let hash = ebok_api::password::hash(PASSWORD).unwrap();
    sqlx::query("UPDATE user_accounts SET password_hash = $2 WHERE id = $1")
        .bind(home.account_id)
        .bind(hash)
        .execute(pool)
        .await
        .unwrap();
    let (account_id, customer_id, supply_point_id, meter_id) = (
        home.account_id,
        home.customer_id,
        home.supply_point_id,
        home.meter_id,
    );
    // One reading at 06:00 of each Warsaw day (today's, if it is not 06:00 yet, a minute ago):
    // the days of a resident's history and bills are Warsaw days, also in the hour after
    // Warsaw's midnight, when the UTC date is still yesterday's.
    let now = Utc::now();
    let today = ebok_common::domain::time::local_day(now);
    for d in (0..days).rev() {
        let day = today - chrono::Days::new(d as u64);
        let at = ebok_common::domain::time::local_instant(
            day,
            chrono::NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
        )
        .expect("06:00 exists every day")
        .min(now - Duration::minutes(1));
        reading(pool, meter_id, at, 100_000 + (days - d) * 150).await;
    }
    Resident {
        utility_id,
        slug: slug.to_string(),
        account_id,
        email: email.to_string(),
        customer_id,
        supply_point_id,
        meter_id,
    }
}

/// Makes a utility able to issue invoices (NIP and address, as the seller) with a tariff from
/// 2020 for every tariff group it has (the fixtures' contracts are in group G1).
pub async fn billing_ready(pool: &PgPool, utility_id: i64) {
    sqlx::query(
        "UPDATE utilities SET nip = '5260250274', street = 'Wodna', building_no = '1',
                postal_code = '14-420', city = 'Młynary' WHERE id = $1",
    )
    .bind(utility_id)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO tariffs (utility_id, tariff_group_id, valid_from, water_price_grosze,
                              sewage_price_grosze, subscription_grosze, garden_subscription_grosze, vat_rate)
         SELECT $1, id, '2020-01-01', 512, 790, 950, 300, 8 FROM tariff_groups WHERE utility_id = $1",
    )
    .bind(utility_id)
    .execute(pool)
    .await
    .unwrap();
}

/// Validates the FA(3) XML of every invoice in the database against the official schema with
/// xmllint (the test command installs it; its absence fails the test).
pub async fn validate_every_fa3(pool: &PgPool) {
    let all: Vec<(String, String)> = sqlx::query_as("SELECT number, ksef_xml FROM invoices")
        .fetch_all(pool)
        .await
        .unwrap();
    assert!(!all.is_empty(), "no invoices to validate");
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<std::path::PathBuf> = all
        .iter()
        .enumerate()
        .map(|(i, (_, xml))| {
            let path = dir.path().join(format!("{i}.xml"));
            std::fs::write(&path, xml).unwrap();
            path
        })
        .collect();
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--schema", ebok_billing::ksef::FA3_SCHEMA])
        .args(&files)
        .output()
        .expect("xmllint (libxml2-utils) must be installed: scripts/test-tools.sh installs it");
    assert!(
        out.status.success(),
        "FA(3) XML invalid: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Stores a reading and moves the latest reading forward, as ingest does.
pub async fn reading(pool: &PgPool, meter_id: i64, at: DateTime<Utc>, litres: i64) {
    fixtures::radio_reading(pool, meter_id, at, litres).await;
}

/// A notification in the account's inbox; returns its id.
pub async fn notification(pool: &PgPool, utility_id: i64, account_id: i64) -> i64 {
    let outbox: i64 = sqlx::query_scalar(
        "INSERT INTO outbox (utility_id, kind, payload, recipient_account_id, status)
         VALUES ($1, 'payment.received', '{}', $2, 'done') RETURNING id",
    )
    .bind(utility_id)
    .bind(account_id)
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query_scalar(
        "INSERT INTO notifications (utility_id, account_id, outbox_id, category, kind, title, body)
         VALUES ($1, $2, $3, 'invoices_payments', 'payment.received', 'Wpłata zaksięgowana',
                 'Dziękujemy za wpłatę.') RETURNING id",
    )
    .bind(utility_id)
    .bind(account_id)
    .bind(outbox)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The problem+json body of a response, checking its content type.
pub async fn problem(response: reqwest::Response) -> Value {
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "status {}",
        response.status()
    );
    response.json().await.unwrap()
}

/// The HTML of a portal page (never problem+json), checking its content type and language.
pub async fn html_page(response: reqwest::Response) -> String {
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/html"),
        "status {status}: {content_type}"
    );
    let html = response.text().await.unwrap();
    assert!(
        html.contains(r#"<html lang="pl">"#),
        "status {status}: {html}"
    );
    html
}

/// The error id an error page shows (`<code id="error-id">…</code>`).
pub fn error_id(html: &str) -> String {
    let at = html
        .find(r#"id="error-id">"#)
        .unwrap_or_else(|| panic!("no error id on the page: {html}"))
        + r#"id="error-id">"#.len();
    html[at..].split('<').next().unwrap().to_string()
}

/// A staff member with password [`PASSWORD`] and an authenticator app in effect.
pub struct StaffMember {
    pub account_id: i64,
    pub utility_id: i64,
    pub slug: String,
    pub email: String,
    pub secret: Vec<u8>,
}

impl StaffMember {
    /// A code the authenticator shows: the next step's, so two sign-ins in one 30-second step
    /// each have a code never used before (one step ahead is accepted for clock drift).
    pub fn code(&self, steps_ahead: u64) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        ebok_api::staff::totp::code_at(&self.secret, now + steps_ahead * 30)
    }
}

/// A staff member of `role` (`clerk`, `billing`, `technician`, `admin`), enrolled.
pub async fn staff(pool: &PgPool, utility_id: i64, slug: &str, role: &str) -> StaffMember {
    let email = format!("{role}.{}@{slug}.example", ebok_testkit::mqtt::unique("s"));
    let account_id: i64 = sqlx::query_scalar(
        "INSERT INTO user_accounts (utility_id, email, password_hash, role, status, display_name,
                                    activated_at)
         VALUES ($1, $2, $3, $4::text::account_role, 'active', 'Pracownik ' || $4, now())
         RETURNING id",
    )
    .bind(utility_id)
    .bind(&email)
    .bind(ebok_api::password::hash(PASSWORD).unwrap())
    .bind(role)
    .fetch_one(pool)
    .await
    .unwrap();
    let secret = ebok_api::staff::totp::new_secret();
    sqlx::query(
        "INSERT INTO staff_authenticators (account_id, utility_id, secret, confirmed_at)
         VALUES ($1, $2, $3, now())",
    )
    .bind(account_id)
    .bind(utility_id)
    .bind(&secret)
    .execute(pool)
    .await
    .unwrap();
    StaffMember {
        account_id,
        utility_id,
        slug: slug.to_string(),
        email,
        secret,
    }
}

impl App {
    /// Signs a staff member in to the back office (password, then a code `steps_ahead`);
    /// returns the `name=value` of the staff session cookie.
    pub async fn staff_web_login(&self, who: &StaffMember, steps_ahead: u64) -> String {
        let slug = &who.slug;
        let response = self
            .server
            .client
            .post(self.url(&format!("/panel/{slug}/logowanie")))
            .header(ORIGIN, PORTAL_ORIGIN)
            .form(&[
                ("email", who.email.as_str()),
                ("password", PASSWORD),
                ("next", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "password of {}", who.email);
        let pending = cookie_of(&response, "ebok_panel_login");
        let response = self
            .server
            .client
            .post(self.url(&format!("/panel/{slug}/logowanie/kod")))
            .header(ORIGIN, PORTAL_ORIGIN)
            .header(COOKIE, &pending)
            .form(&[("code", who.code(steps_ahead).as_str()), ("next", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "code of {}", who.email);
        assert_eq!(response.headers()[LOCATION], format!("/panel/{slug}/"));
        cookie_of(&response, "ebok_panel")
    }

    /// Signs a staff member in through the staff API; returns the access token.
    pub async fn staff_token(&self, who: &StaffMember, steps_ahead: u64) -> String {
        let response = self
            .post(
                None,
                &format!("/api/v1/staff/utilities/{}/token", who.slug),
                json!({ "email": who.email, "password": PASSWORD,
                        "code": who.code(steps_ahead), "client": "test" }),
            )
            .await;
        assert_eq!(response.status(), 200, "staff token of {}", who.email);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }
}

/// The `name=value` of the cookie `name` a response sets (with a value).
pub fn cookie_of(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with(&format!("{name}=")) && !c.starts_with(&format!("{name}=;")))
        .unwrap_or_else(|| panic!("no cookie {name}"))
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// The customer's payment entries in the ledger, oldest first: (amount, reference).
pub async fn payments_booked(pool: &PgPool, customer_id: i64) -> Vec<(i64, String)> {
    sqlx::query_as(
        "SELECT amount_grosze, reference FROM ledger_entries
         WHERE customer_id = $1 AND kind = 'payment' ORDER BY id",
    )
    .bind(customer_id)
    .fetch_all(pool)
    .await
    .unwrap()
}
