//! The portal in a real headless Chromium (`ebok_testkit::browser`, Debian's `chromium`): what a
//! resident does from registration to an alarm rule, with the activation e-mail going through a
//! real SMTP server on loopback, and an axe-core check (WCAG 2.1 A and AA) of every page on the
//! way: none may have a serious or critical violation. Every page is also seen on a 360 px phone,
//! where nothing may scroll sideways and every control is at least 44 px.
//!
//! The server is the real one (`ebok_api::serve` on a listener bound first, so the public URL in
//! the e-mails is the address the browser uses), against a fresh database per test.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Warsaw;
use ebok_api::AppState;
use ebok_common::config::SmtpSecurity;
use ebok_testkit::browser::Browser;
use ebok_testkit::smtp::{SmtpOptions, TestSmtp};
use ebok_testkit::{TestDb, fixtures};
use mobile_push::email::SmtpMailer;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const SLUG: &str = "mlynary";
const EMAIL: &str = "anna.nowak@example.pl";
const PASSWORD: &str = "Wiosenna-Lipa-2026!";

/// The portal served on a loopback port, stopped on drop.
struct Portal {
    url: String,
    /// Content-Security-Policy violations the browser reported to this portal.
    csp_reports: Arc<AtomicU64>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Portal {
    /// Serves the portal; account e-mails go to `smtp` when given.
    async fn start(pool: &PgPool, smtp: Option<&TestSmtp>) -> Portal {
        Self::start_paying(pool, smtp, ebok_payments::online::Providers::default()).await
    }

    /// Serves the portal with online payments through `providers`.
    async fn start_paying(
        pool: &PgPool,
        smtp: Option<&TestSmtp>,
        providers: ebok_payments::online::Providers,
    ) -> Portal {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding port 0");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let mut state = AppState::new(
            pool.clone(),
            ebok_api::state::Settings::new(&url, ebok_api::auth::keys::Keys::generate()),
        )
        .await
        .with_payments(providers);
        if let Some(smtp) = smtp {
            let mailer = SmtpMailer::from_config(&smtp.config(SmtpSecurity::Plain))
                .expect("a mailer for the test SMTP server");
            state = state.with_mailer(Arc::new(mailer));
        }
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let csp_reports = state.csp_reports.clone();
        let task = tokio::spawn(async move {
            ebok_api::serve(listener, state, stop)
                .await
                .expect("the portal");
        });
        Portal {
            url,
            csp_reports,
            shutdown,
            task: Some(task),
        }
    }

    /// The pages visited so far broke nothing of the Content-Security-Policy. Not vacuously: an
    /// inline script is injected into the current page, which the policy must block and the
    /// browser must report here; that report, and only it, must arrive.
    async fn assert_no_csp_violations(&self, browser: &Browser) {
        browser
            .client()
            .execute(
                "var s = document.createElement('script'); s.textContent = 'window.x = 1'; \
                 document.body.appendChild(s); return window.x === undefined;",
                vec![],
            )
            .await
            .expect("injecting a script");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.csp_reports.load(Ordering::Relaxed) == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the browser reported no violation of the injected script within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Reports of earlier pages would have been sent before this one.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            self.csp_reports.load(Ordering::Relaxed),
            1,
            "the pages themselves broke the Content-Security-Policy"
        );
    }

    /// The address of a page under the utility, e.g. `page("pulpit")`.
    fn page(&self, path: &str) -> String {
        format!("{}/u/{SLUG}/{path}", self.url)
    }

    async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A customer with a supply point, an active contract and a radio meter with a few readings.
struct Household {
    customer_id: i64,
    customer_number: String,
    meter_id: i64,
    /// A past day (Warsaw) with two readings, and the last of them.
    chosen_day: NaiveDate,
    chosen_day_reading: Reading,
    latest: Reading,
}

#[derive(Clone, Copy)]
struct Reading {
    at: DateTime<Utc>,
    litres: i64,
}

impl Reading {
    /// The local (Warsaw) time of day as the portal shows it, e.g. "21:17".
    fn local_time(&self) -> String {
        self.at.with_timezone(&Warsaw).format("%H:%M").to_string()
    }
}

fn warsaw(day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    Warsaw
        .from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap()))
        .single()
        .expect("an unambiguous local time")
        .with_timezone(&Utc)
}

async fn household(pool: &PgPool, utility_id: i64) -> Household {
    let customer_id = fixtures::person(pool, utility_id).await;
    let customer_number: String =
        sqlx::query_scalar("SELECT customer_number FROM customers WHERE id = $1")
            .bind(customer_id)
            .fetch_one(pool)
            .await
            .unwrap();
    let supply_point = fixtures::supply_point(pool, utility_id).await;
    fixtures::contract(pool, utility_id, customer_id, supply_point).await;
    let meter_id = fixtures::meter(pool, utility_id, Some(supply_point)).await;

    let today = Utc::now().with_timezone(&Warsaw).date_naive();
    let chosen_day = today - Days::new(3);
    let readings = [
        // Earlier on the chosen day: not the reading "on" that day.
        Reading {
            at: warsaw(chosen_day, 6, 10),
            litres: 123_100,
        },
        // The last reading at or before the end of the chosen day.
        Reading {
            at: warsaw(chosen_day, 21, 17),
            litres: 123_456,
        },
        // The next morning: after the chosen day.
        Reading {
            at: warsaw(chosen_day + Days::new(1), 7, 5),
            litres: 123_900,
        },
        // The newest: the current reading.
        Reading {
            at: warsaw(today - Days::new(1), 18, 42),
            litres: 124_789,
        },
    ];
    sqlx::query("SELECT ebok_ensure_reading_partitions($1, $2)")
        .bind(readings[0].at)
        .bind(readings[3].at)
        .execute(pool)
        .await
        .unwrap();
    for reading in &readings {
        sqlx::query(
            "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
             VALUES ($1, $2, $3, 'radio')",
        )
        .bind(meter_id)
        .bind(reading.at)
        .bind(reading.litres)
        .execute(pool)
        .await
        .unwrap();
    }
    let latest = readings[3];
    sqlx::query(
        "INSERT INTO meter_latest_readings (meter_id, measured_at, volume_litres, source, received_at)
         VALUES ($1, $2, $3, 'radio', $2)",
    )
    .bind(meter_id)
    .bind(latest.at)
    .bind(latest.litres)
    .execute(pool)
    .await
    .unwrap();
    Household {
        customer_id,
        customer_number,
        meter_id,
        chosen_day,
        chosen_day_reading: readings[1],
        latest,
    }
}

/// The first `{public_url}/u/{slug}/aktywuj?token=…` link in `text`.
fn activation_link(text: &str, portal: &Portal) -> String {
    let prefix = portal.page("aktywuj?token=");
    let start = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no link starting with {prefix} in the e-mail:\n{text}"));
    text[start..]
        .split(|c: char| c.is_whitespace() || c == '>' || c == '"')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn accessibility_check_reports_an_unlabelled_field_and_a_page_without_language() {
    // The check itself must not pass vacuously: a bare page with an unlabelled field fails it.
    let browser = Browser::start().await;
    browser
        .goto("data:text/html;charset=utf-8,<title>x</title><main><input name=q></main>")
        .await;
    let violations = browser.axe().await;
    let ids: Vec<&str> = violations.iter().map(|v| v.id.as_str()).collect();
    assert!(ids.contains(&"label"), "{violations:?}");
    assert!(ids.contains(&"html-has-lang"), "{violations:?}");
    assert!(violations.iter().all(|v| !v.nodes.is_empty()));
    assert!(violations.iter().any(|v| v.is_serious()));
    browser.close().await;
}

#[tokio::test]
async fn utility_picker_and_utility_home_have_no_serious_accessibility_violations() {
    let db = TestDb::new().await;
    fixtures::utility(&db.pool, SLUG).await;
    let portal = Portal::start(&db.pool, None).await;
    let browser = Browser::start().await;

    browser.goto(&format!("{}/", portal.url)).await;
    browser.assert_no_serious_violations("wybór gminy").await;
    browser
        .click_and_wait(&format!(r#"a[href="/u/{SLUG}/"]"#))
        .await;
    assert_eq!(browser.current_path().await, format!("/u/{SLUG}/"));
    browser.assert_no_serious_violations("strona gminy").await;
    portal.assert_no_csp_violations(&browser).await;

    browser.close().await;
    portal.stop().await;
}

/// The API's documentation (Swagger UI) renders its operations under its policy: no inline
/// script runs, and nothing else is blocked.
#[tokio::test]
async fn the_api_documentation_renders_under_the_content_security_policy() {
    let db = TestDb::new().await;
    let portal = Portal::start(&db.pool, None).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/api/docs/", portal.url)).await;
    browser
        .wait_for_text(".swagger-ui", "/utilities/{slug}/token")
        .await;
    portal.assert_no_csp_violations(&browser).await;
    browser.close().await;
    portal.stop().await;
}

#[tokio::test]
async fn login_and_password_reset_request_pages_have_no_serious_accessibility_violations() {
    let db = TestDb::new().await;
    fixtures::utility(&db.pool, SLUG).await;
    let portal = Portal::start(&db.pool, None).await;
    let browser = Browser::start().await;

    browser.goto(&portal.page("haslo")).await;
    browser.find(r#"input[name="email"]"#).await;
    browser.assert_no_serious_violations("reset hasła").await;
    browser.goto(&portal.page("logowanie")).await;
    browser.find(r#"input[name="password"]"#).await;
    browser.assert_no_serious_violations("logowanie").await;

    browser.close().await;
    portal.stop().await;
}

#[tokio::test]
async fn resident_registers_activates_links_customer_reads_meter_and_sets_an_alarm_rule() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility_id = fixtures::utility(pool, SLUG).await;
    let home = household(pool, utility_id).await;
    let smtp = TestSmtp::start(SmtpOptions::plain());
    let portal = Portal::start(pool, Some(&smtp)).await;
    let browser = Browser::start().await;

    // The utility's home page leads to registration.
    browser.goto(&portal.page("")).await;
    browser
        .click_and_wait(&format!(r#"a[href="/u/{SLUG}/rejestracja"]"#))
        .await;
    assert_eq!(
        browser.current_path().await,
        format!("/u/{SLUG}/rejestracja")
    );
    browser.assert_no_serious_violations("rejestracja").await;

    // Passwords that differ: the form comes back with an error summary.
    browser.fill("email", EMAIL).await;
    browser.fill("display_name", "Anna Nowak").await;
    browser.fill("password", PASSWORD).await;
    browser.fill("password_repeat", "Inne-Haslo-2026!").await;
    browser.check("accept_terms").await;
    browser.click_submit().await;
    browser.find("div.error-summary[role=alert]").await;
    browser
        .assert_no_serious_violations("rejestracja z błędami")
        .await;

    // Registration: a page telling to check the mailbox, and the activation e-mail.
    browser.fill("email", EMAIL).await;
    browser.fill("display_name", "Anna Nowak").await;
    browser.fill("password", PASSWORD).await;
    browser.fill("password_repeat", PASSWORD).await;
    browser.check("accept_terms").await;
    browser.click_submit().await;
    browser.find("div.notice[role=status]").await;
    browser.wait_for_text("main", "Sprawdź skrzynkę").await;
    browser
        .assert_no_serious_violations("rejestracja: sprawdź skrzynkę")
        .await;

    let mails = smtp.wait_for(1, Duration::from_secs(10)).await;
    let mail = &mails[0];
    assert_eq!(mail.rcpt_to, [EMAIL]);
    assert!(
        mail.subject().contains("Aktywuj konto"),
        "subject: {}",
        mail.subject()
    );
    let link = activation_link(mail.text().expect("a text part"), &portal);

    // The link asks for the registration's password; a wrong one is refused at the field.
    browser.goto(&link).await;
    assert_eq!(browser.current_path().await, format!("/u/{SLUG}/aktywuj"));
    browser.assert_no_serious_violations("aktywacja").await;
    browser.fill("password", "nie to hasło wcale").await;
    browser.click_submit().await;
    browser
        .wait_for_text("#password-error", "To nie jest hasło")
        .await;
    browser
        .assert_no_serious_violations("aktywacja z błędem")
        .await;

    // The right one activates the account and logs in: the dashboard, which offers linking a
    // customer.
    browser.fill("password", PASSWORD).await;
    browser.click_submit().await;
    assert_eq!(browser.current_path().await, format!("/u/{SLUG}/pulpit"));
    browser
        .assert_no_serious_violations("pulpit bez klienta")
        .await;

    // Linking the customer with the code from the paper invoice.
    let code = ebok_api::accounts::issue_link_code(pool, utility_id, home.customer_id)
        .await
        .expect("a link code");
    browser
        .click_and_wait(&format!(r#"a[href="/u/{SLUG}/powiazanie"]"#))
        .await;
    assert_eq!(
        browser.current_path().await,
        format!("/u/{SLUG}/powiazanie")
    );
    browser.assert_no_serious_violations("powiązanie").await;
    browser.fill("customer_number", &home.customer_number).await;
    browser.fill("code", &code).await;
    browser.click_submit().await;
    assert_eq!(browser.current_path().await, format!("/u/{SLUG}/pulpit"));

    // The dashboard shows the meter with its current reading and its time.
    let current = browser
        .wait_for_text("section#liczniki .current-reading", "124,789 m³")
        .await;
    assert!(current.contains("124,789 m³"), "{current}");
    let meters = browser
        .wait_for_text("section#liczniki", &home.latest.local_time())
        .await;
    assert!(meters.contains(&home.latest.local_time()), "{meters}");
    for section in ["section#saldo", "section#alarmy", "section#powiadomienia"] {
        browser.find(section).await;
    }
    browser.assert_no_serious_violations("pulpit").await;

    // The meter page: the current reading, the chart, the CSV link.
    browser
        .click_and_wait("section#liczniki a.meter-link")
        .await;
    assert_eq!(
        browser.current_path().await,
        format!("/u/{SLUG}/liczniki/{}", home.meter_id)
    );
    browser
        .wait_for_text(".current-reading", "124,789 m³")
        .await;
    browser.find("figure#wykres svg").await;
    browser.find("a#csv").await;
    browser.assert_no_serious_violations("licznik").await;

    // The reading on a chosen day: the last one at or before its end, with its actual time.
    browser
        .fill("dzien", &home.chosen_day.format("%Y-%m-%d").to_string())
        .await;
    browser.submit("form#odczyt-na-dzien").await;
    let on_day = browser
        .wait_for_text("#odczyt-na-dzien-wynik", "123,456 m³")
        .await;
    assert!(
        on_day.contains(&home.chosen_day_reading.local_time()),
        "the reading's actual time {} in {on_day:?}",
        home.chosen_day_reading.local_time()
    );
    assert!(
        !on_day.contains("123,900") && !on_day.contains("123,100"),
        "{on_day}"
    );
    browser
        .assert_no_serious_violations("licznik: odczyt na dzień")
        .await;

    // Alarm rules: create "daily consumption above 500 l" and see it listed.
    browser.goto(&portal.page("alarmy")).await;
    browser.find("form#nowa-regula").await;
    browser.assert_no_serious_violations("alarmy").await;
    browser.fill("meter_id", &home.meter_id.to_string()).await;
    browser.fill("kind", "daily_above").await;
    // Only the chosen kind's number is shown.
    assert!(browser.find("#litres").await.is_displayed().await.unwrap());
    assert!(!browser.find("#hours").await.is_displayed().await.unwrap());
    assert!(!browser.find("#days").await.is_displayed().await.unwrap());
    browser.fill("litres", "500").await;
    browser.submit("form#nowa-regula").await;
    assert_eq!(browser.current_path().await, format!("/u/{SLUG}/alarmy"));
    browser
        .wait_for_text("table#reguly", "Zużycie dobowe powyżej 500 l")
        .await;
    browser
        .assert_no_serious_violations("alarmy z regułą")
        .await;

    // The other pages of a signed-in resident.
    for (path, name) in [
        ("zgody", "zgody"),
        ("powiadomienia", "powiadomienia"),
        ("konto", "konto"),
    ] {
        browser.goto(&portal.page(path)).await;
        assert_eq!(browser.current_path().await, format!("/u/{SLUG}/{path}"));
        browser.find("main").await;
        browser.assert_no_serious_violations(name).await;
    }
    portal.assert_no_csp_violations(&browser).await;

    browser.close().await;
    portal.stop().await;
}

#[tokio::test]
async fn phone_layout_check_reports_sideways_scrolling_and_small_controls() {
    // The check itself must not pass vacuously: a page wider than the phone, with a small
    // button, fails it twice; a link inside a sentence is exempt.
    let browser = Browser::start_phone().await;
    let page = "<meta name=viewport content='width=device-width, initial-scale=1'><title>x</title>\
                <main><div style='width:500px'>szeroki</div><button>x</button>\
                <p>Tekst z <a href='%23'>odnośnikiem</a> w zdaniu.</p></main>";
    browser
        .goto(&format!(
            "data:text/html;charset=utf-8,{}",
            page.replace(' ', "%20")
        ))
        .await;
    let width = browser
        .client()
        .execute("return document.documentElement.clientWidth;", vec![])
        .await
        .unwrap();
    assert_eq!(width, ebok_testkit::browser::PHONE_WIDTH);
    let problems = browser.phone_layout_problems().await;
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].starts_with("scrolls sideways") && problems[0].contains("div"),
        "{problems:#?}"
    );
    assert!(problems[1].starts_with("button"), "{problems:#?}");
    browser.close().await;
}

/// Every page a resident sees, on a 360 px phone: no sideways scrolling, every control at least
/// 44 px in both directions, and no serious accessibility violation.
#[tokio::test]
async fn every_page_fits_a_phone_with_fingertip_sized_controls() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility_id = fixtures::utility(pool, SLUG).await;
    let resident = support::resident(pool, utility_id, SLUG, EMAIL, 40).await;
    let notice = support::notification(pool, utility_id, resident.account_id).await;
    // Last month billed: the invoices page and an invoice.
    support::billing_ready(pool, utility_id).await;
    let today = ebok_common::domain::time::local_day(Utc::now());
    ebok_billing::run::run(
        pool,
        &ebok_billing::run::RunRequest {
            utility_id,
            month: chrono::Datelike::with_day(&today, 1).unwrap() - chrono::Months::new(1),
            issue_date: today,
            started_by: None,
            batch: 100,
        },
        |_| {},
    )
    .await
    .unwrap();
    let invoice: i64 = sqlx::query_scalar("SELECT id FROM invoices WHERE customer_id = $1")
        .bind(resident.customer_id)
        .fetch_one(pool)
        .await
        .unwrap();
    // A garden sub-meter without radio: its page has the self-reading form.
    let garden: i64 = sqlx::query_scalar(
        "INSERT INTO meters (utility_id, serial, channel, purpose, register_max_litres,
                             supply_point_id, installed_at, install_reading_litres)
         VALUES ($1, 'OG-1', 'manual', 'garden', 99999999, $2, now() - interval '1 year', 0)
         RETURNING id",
    )
    .bind(utility_id)
    .bind(resident.supply_point_id)
    .fetch_one(pool)
    .await
    .unwrap();
    // Customer service gave a consent in the resident's name: the consents page asks to accept it.
    let clerk: i64 = sqlx::query_scalar(
        "INSERT INTO user_accounts (utility_id, email, role, status, display_name, activated_at)
         VALUES ($1, 'bok@example.pl', 'clerk', 'active', 'Ewa z BOK', now()) RETURNING id",
    )
    .bind(utility_id)
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO proxy_acts (utility_id, account_id, customer_id, kind, payload, note,
                                 requested_by)
         VALUES ($1, $2, $3, 'consent.grant', '{\"kind\": \"e_invoice\", \"form_version\": \"2026-11\"}',
                 'przy okienku', $4)",
    )
    .bind(utility_id)
    .bind(resident.account_id)
    .bind(resident.customer_id)
    .bind(clerk)
    .execute(pool)
    .await
    .unwrap();
    // A connection application in draft, and a letter submitted with a file: the cases pages.
    let acting = ebok_cases::store::Acting::Resident {
        account_id: resident.account_id,
    };
    let mut tx = pool.begin().await.unwrap();
    let draft = ebok_cases::store::start_draft(
        &mut tx,
        utility_id,
        "connection_conditions",
        resident.account_id,
        Some(resident.customer_id),
        None,
    )
    .await
    .unwrap();
    let letter = ebok_cases::store::start_draft(
        &mut tx,
        utility_id,
        "general_letter",
        resident.account_id,
        Some(resident.customer_id),
        None,
    )
    .await
    .unwrap();
    let answers: ebok_cases::form::Answers = [("subject", "Pytanie"), ("content", "Treść.")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ebok_cases::store::save_answers(&mut tx, utility_id, letter, acting, &answers)
        .await
        .unwrap();
    ebok_cases::store::attach(
        &mut tx,
        utility_id,
        letter,
        acting,
        "files",
        "pismo.pdf",
        b"%PDF-1.7\n%%EOF\n",
    )
    .await
    .unwrap();
    ebok_cases::store::submit(&mut tx, utility_id, letter, acting, today)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let portal = Portal::start(pool, None).await;
    let browser = Browser::start_phone().await;

    // Every page's problems, listed together at the end.
    let problems = std::cell::RefCell::new(Vec::<String>::new());
    let fits = async |name: &str| {
        let found = browser.phone_layout_problems().await;
        let url = browser.current_url().await;
        problems
            .borrow_mut()
            .extend(found.into_iter().map(|p| format!("{name} ({url}): {p}")));
    };
    let check = async |path: &str, name: &str| {
        browser.goto(&portal.page(path)).await;
        browser.find("main").await;
        fits(name).await;
        browser.assert_no_serious_violations(name).await;
    };

    // Before signing in.
    browser.goto(&format!("{}/", portal.url)).await;
    fits("wybór gminy").await;
    for (path, name) in [
        ("", "strona gminy"),
        ("regulamin", "regulamin"),
        ("ochrona-danych", "ochrona danych"),
        ("haslo", "reset hasła"),
        ("rachunki", "strona, której nie ma"),
        ("status-sprawy", "status sprawy"),
        ("weryfikacja-dokumentu", "weryfikacja dokumentu"),
        ("rejestracja", "rejestracja"),
    ] {
        check(path, name).await;
    }
    browser.click_submit().await;
    browser.find("div.error-summary").await;
    fits("rejestracja z błędami").await;

    // Signing in, then every page of a resident with a meter, a rule and a notice.
    check("logowanie", "logowanie").await;
    browser.fill("email", EMAIL).await;
    browser.fill("password", support::PASSWORD).await;
    browser.click_submit().await;
    assert_eq!(browser.current_path().await, format!("/u/{SLUG}/pulpit"));
    fits("pulpit").await;

    check("alarmy", "alarmy").await;
    browser
        .fill("meter_id", &resident.meter_id.to_string())
        .await;
    browser.fill("kind", "daily_above").await;
    browser.fill("litres", "500").await;
    browser.submit("form#nowa-regula").await;
    browser.find("table#reguly").await;
    fits("alarmy z regułą").await;

    let meter = format!("liczniki/{}", resident.meter_id);
    let garden = format!("liczniki/{garden}");
    for (path, name) in [
        ("pulpit", "pulpit"),
        ("historia", "historia"),
        ("faktury", "faktury i saldo"),
        ("faktury/rozliczenie", "rozliczenie na żądanie"),
        (&format!("faktury/{invoice}"), "faktura"),
        (meter.as_str(), "licznik"),
        (
            &format!("{meter}?od=2026-11-30&do=2026-11-01"),
            "licznik z błędnym zakresem",
        ),
        (garden.as_str(), "wodomierz bez radia (samoodczyt)"),
        ("zgody", "zgody"),
        ("powiadomienia", "powiadomienia"),
        (&format!("powiadomienia/{notice}"), "powiadomienie"),
        ("ustawienia/powiadomienia", "ustawienia powiadomień"),
        ("konto", "konto"),
        ("konto/dane", "moje dane"),
        ("konto/zamknij", "zamknięcie konta"),
        ("powiazanie", "powiązanie"),
        ("sprawy", "wnioski i sprawy"),
        (&format!("sprawy/{draft}"), "wniosek o warunki przyłączenia"),
        (&format!("sprawy/{letter}"), "sprawa"),
    ] {
        check(path, name).await;
    }

    let problems = problems.into_inner();
    assert!(
        problems.is_empty(),
        "{} problem(s) on a {} px phone:\n{}",
        problems.len(),
        ebok_testkit::browser::PHONE_WIDTH,
        problems.join("\n")
    );
    browser.close().await;
    portal.stop().await;
}

/// Fetches `path` of the portal with the browser's own session (as a click on a download link
/// would): the status and the first bytes of the body.
async fn fetch_in_browser(browser: &Browser, path: &str) -> (u64, Vec<u8>) {
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
    let status = result[0].as_u64().unwrap();
    let bytes = result[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    (status, bytes)
}

#[tokio::test]
async fn a_resident_sees_a_new_invoice_and_the_balance_downloads_it_and_no_one_else_can() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility_id = fixtures::utility(pool, SLUG).await;
    let other_utility = fixtures::utility(pool, "tolkmicko").await;
    let anna = support::resident(pool, utility_id, SLUG, EMAIL, 70).await;
    let jan = support::resident(pool, utility_id, SLUG, "jan@example.pl", 70).await;
    let eva = support::resident(pool, other_utility, "tolkmicko", "eva@example.pl", 70).await;
    for utility in [utility_id, other_utility] {
        support::billing_ready(pool, utility).await;
        let today = ebok_common::domain::time::local_day(Utc::now());
        ebok_billing::run::run(
            pool,
            &ebok_billing::run::RunRequest {
                utility_id: utility,
                month: chrono::Datelike::with_day(&today, 1).unwrap() - chrono::Months::new(1),
                issue_date: today,
                started_by: None,
                batch: 100,
            },
            |_| {},
        )
        .await
        .unwrap();
    }
    let (invoice, number): (i64, String) =
        sqlx::query_as("SELECT id, number FROM invoices WHERE customer_id = $1")
            .bind(anna.customer_id)
            .fetch_one(pool)
            .await
            .unwrap();
    let portal = Portal::start(pool, None).await;
    let browser = Browser::start().await;

    // Anna: the notice on the dashboard, the balance, the invoice, its documents.
    browser.goto(&portal.page("logowanie")).await;
    browser.fill("email", EMAIL).await;
    browser.fill("password", support::PASSWORD).await;
    browser.click_submit().await;
    let dashboard = browser.text("#saldo").await;
    assert!(
        dashboard.contains("Do zapłaty") && dashboard.contains(&number),
        "{dashboard}"
    );
    browser.click_and_wait("#saldo p.link a").await;
    assert_eq!(browser.current_path().await, format!("/u/{SLUG}/faktury"));
    browser
        .assert_no_serious_violations("invoices and balance")
        .await;
    let list = browser.text("main").await;
    assert!(
        list.contains(&number) && list.contains("Historia rozliczeń"),
        "{list}"
    );
    browser
        .click_and_wait(&format!("a[href$='/faktury/{invoice}']"))
        .await;
    browser.assert_no_serious_violations("invoice").await;
    let page = browser.text("main").await;
    assert!(
        page.contains("Do zapłaty") && page.contains("Słownie") && page.contains("Dostawa wody"),
        "{page}"
    );
    let (status, head) =
        fetch_in_browser(&browser, &format!("/u/{SLUG}/faktury/{invoice}/pdf")).await;
    assert_eq!((status, &head[..5]), (200, &b"%PDF-"[..]));
    let (status, head) =
        fetch_in_browser(&browser, &format!("/u/{SLUG}/faktury/{invoice}/xml")).await;
    assert_eq!((status, &head[..5]), (200, &b"<?xml"[..]));
    // The settlement form (and its preview, when this month has days to settle).
    browser.goto(&portal.page("faktury/rozliczenie")).await;
    browser
        .assert_no_serious_violations("settlement on request")
        .await;
    if browser.exists("form[action$='/rozliczenie/podglad']").await {
        browser.submit("form[action$='/rozliczenie/podglad']").await;
        browser.find("#podglad-h").await;
        browser
            .assert_no_serious_violations("settlement preview")
            .await;
    }
    portal.assert_no_csp_violations(&browser).await;

    // Jan, of the same utility: not found.
    browser.goto(&portal.page("konto")).await;
    browser.submit("form.logout").await;
    browser.goto(&portal.page("logowanie")).await;
    browser.fill("email", &jan.email).await;
    browser.fill("password", support::PASSWORD).await;
    browser.click_submit().await;
    for suffix in ["", "/pdf", "/xml"] {
        let (status, _) =
            fetch_in_browser(&browser, &format!("/u/{SLUG}/faktury/{invoice}{suffix}")).await;
        assert_eq!(status, 404, "Jan at {suffix}");
    }
    browser.goto(&portal.page("faktury")).await;
    assert!(
        !browser
            .html()
            .await
            .contains(&format!("/faktury/{invoice}\""))
    );

    // Eva, of another utility: not found in hers, and no session in this one.
    browser.goto(&portal.page("konto")).await;
    browser.submit("form.logout").await;
    browser
        .goto(&format!("{}/u/tolkmicko/logowanie", portal.url))
        .await;
    browser.fill("email", &eva.email).await;
    browser.fill("password", support::PASSWORD).await;
    browser.click_submit().await;
    for suffix in ["", "/pdf", "/xml"] {
        let (status, _) =
            fetch_in_browser(&browser, &format!("/u/tolkmicko/faktury/{invoice}{suffix}")).await;
        assert_eq!(status, 404, "Eva at {suffix}");
        let (status, head) =
            fetch_in_browser(&browser, &format!("/u/{SLUG}/faktury/{invoice}{suffix}")).await;
        assert!(
            status != 200 || !head.starts_with(b"%PDF") && !head.starts_with(b"<?xml"),
            "Eva at {suffix}: {status}"
        );
    }
    support::validate_every_fa3(pool).await;
    browser.close().await;
    portal.stop().await;
}

#[tokio::test]
async fn a_resident_pays_what_they_owe_with_blik_and_sees_it_booked_and_announced() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility_id = fixtures::utility(pool, SLUG).await;
    let anna = support::resident(pool, utility_id, SLUG, EMAIL, 70).await;
    support::billing_ready(pool, utility_id).await;
    let today = ebok_common::domain::time::local_day(Utc::now());
    ebok_billing::run::run(
        pool,
        &ebok_billing::run::RunRequest {
            utility_id,
            month: chrono::Datelike::with_day(&today, 1).unwrap() - chrono::Months::new(1),
            issue_date: today,
            started_by: None,
            batch: 100,
        },
        |_| {},
    )
    .await
    .unwrap();
    let p24 = ebok_payments::przelewy24::emulator::Przelewy24Emulator::start()
        .await
        .unwrap();
    let providers = ebok_payments::online::Providers::default().with(
        SLUG,
        ebok_payments::online::Provider::Przelewy24(ebok_payments::przelewy24::Przelewy24::new(
            &p24.config(),
        )),
    );
    let portal = Portal::start_paying(pool, None, providers).await;
    let browser = Browser::start_phone().await;

    browser.goto(&portal.page("logowanie")).await;
    browser.fill("email", EMAIL).await;
    browser.fill("password", support::PASSWORD).await;
    browser.click_submit().await;
    browser.goto(&portal.page("faktury")).await;
    browser.click_and_wait("a[href$='/platnosci']").await;
    browser.assert_no_serious_violations("payments").await;
    assert!(browser.phone_layout_problems().await.is_empty());
    let owed = browser.text("ul.balances").await;
    assert!(owed.contains("Do zapłaty"), "{owed}");
    // BLIK is chosen; the amount owed is proposed: off to Przelewy24.
    browser.submit("form[action$='/platnosci']").await;
    assert!(
        browser
            .current_url()
            .await
            .starts_with(&format!("{}/trnRequest/", p24.url())),
        "{}",
        browser.current_url().await
    );
    browser.fill("blik_code", "777123").await;
    browser.click_submit().await;

    // Back in the portal: booked, nothing owed.
    assert!(
        browser
            .current_path()
            .await
            .starts_with(&format!("/u/{SLUG}/platnosci/"))
    );
    let page = browser.text("main").await;
    assert!(page.contains("Dziękujemy, płatność zaksięgowana"), "{page}");
    assert!(page.contains("Rozliczone"), "{page}");
    browser.assert_no_serious_violations("payment booked").await;

    // The notice travels through the outbox to the inbox.
    let dispatcher = mobile_push::dispatcher::Dispatcher::new(
        pool.clone(),
        ebok_common::config::DispatcherConfig::default(),
        None,
        None,
        &portal.url,
    );
    dispatcher.try_dispatch_once().await.unwrap();
    browser.goto(&portal.page("powiadomienia")).await;
    let inbox = browser.text("main").await;
    assert!(inbox.contains("Płatność zaksięgowana"), "{inbox}");
    browser.goto(&portal.page("faktury")).await;
    assert!(browser.text("#saldo").await.contains("Rozliczone"));
    portal.assert_no_csp_violations(&browser).await;
    let booked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ledger_entries WHERE customer_id = $1 AND kind = 'payment'",
    )
    .bind(anna.customer_id)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(booked, 1);
    browser.close().await;
    portal.stop().await;
}
