//! Across modules: a resident sets an alarm rule through the API → readings arrive → the rule
//! evaluator opens one episode and writes one outbox event → the dispatcher puts one notice in
//! the resident's inbox (read back through the API), one push on the phone and one e-mail, as
//! the default preferences say; further readings of the same day add nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ebok_alarm_rules::{Evaluator, EvaluatorConfig};
use ebok_common::config::{DispatcherConfig, SmtpSecurity};
use ebok_common::domain::time::{day_start, local_day};
use ebok_testkit::smtp::{SmtpOptions, TestSmtp};
use ebok_testkit::{TestDb, TestServer, fixtures};
use mobile_push::channel::{MailSender, PushSender};
use mobile_push::dispatcher::Dispatcher;
use mobile_push::email::SmtpMailer;
use mobile_push::fcm::emulator::FcmEmulator;
use serde_json::{Value, json};

const PASSWORD: &str = "zielona łódka na Wiśle";

#[tokio::test]
async fn a_residents_daily_limit_rule_reaches_inbox_phone_and_mailbox_once() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, "alfa").await;
    let home = fixtures::household(pool, utility, "anna@example.pl").await;
    let (account, meter) = (home.account_id, home.meter_id);
    sqlx::query("UPDATE user_accounts SET password_hash = $2 WHERE id = $1")
        .bind(account)
        .bind(ebok_api::password::hash(PASSWORD).unwrap())
        .execute(pool)
        .await
        .unwrap();
    // The reading at midnight: the register today's use counts from (the day rule; a reading
    // before midnight would make the start an interpolation that depends on the time of day).
    let today = day_start(local_day(Utc::now()));
    fixtures::radio_reading(pool, meter, today, 1_000).await;

    let state = ebok_api::AppState::new(
        pool.clone(),
        ebok_api::state::Settings::new("http://ebok.test", ebok_api::auth::keys::Keys::generate()),
    )
    .await;
    let api = TestServer::start(ebok_api::router(state)).await;
    let login: Value = api
        .client
        .post(api.url("/api/v1/utilities/alfa/token"))
        .json(&json!({ "email": "anna@example.pl", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_string();
    let device = api
        .client
        .post(api.url("/api/v1/devices"))
        .bearer_auth(&token)
        .json(&json!({ "token": "token-anna-phone", "platform": "android" }))
        .send()
        .await
        .unwrap();
    assert_eq!(device.status(), 201);
    let rule = api
        .client
        .post(api.url("/api/v1/alarm-rules"))
        .bearer_auth(&token)
        .json(&json!({ "meter_id": meter, "kind": "daily_above", "litres": 500 }))
        .send()
        .await
        .unwrap();
    assert_eq!(rule.status(), 201);

    let smtp = TestSmtp::start(SmtpOptions::plain());
    let mail: Arc<dyn MailSender> =
        Arc::new(SmtpMailer::from_config(&smtp.config(SmtpSecurity::Plain)).unwrap());
    let fcm = FcmEmulator::start();
    let push: Arc<dyn PushSender> = Arc::new(fcm.client());
    let dispatcher = Dispatcher::new(
        pool.clone(),
        DispatcherConfig::default(),
        Some(push),
        Some(mail),
        "http://ebok.test",
    );
    let evaluator = Evaluator::new(pool.clone(), EvaluatorConfig::default());

    // Today's readings, in three batches: 300 l, then 700 l (over the limit), then 900 l.
    let span = Utc::now() - today;
    for (step, litres) in [(1, 1_300), (2, 1_700), (3, 1_900)] {
        let at = today + span * step / 4;
        fixtures::radio_reading(pool, meter, at, litres).await;
        evaluator.try_once().await.unwrap();
        dispatcher.try_dispatch_once().await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while fcm.accepted_for("token-anna-phone").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no push within 20 s"
        );
        dispatcher.try_dispatch_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mails = smtp.wait_for(1, Duration::from_secs(20)).await;
    // Settle anything left; one episode is one notice everywhere.
    for _ in 0..3 {
        evaluator.try_once().await.unwrap();
        dispatcher.try_dispatch_once().await.unwrap();
    }
    assert_eq!(fcm.accepted_for("token-anna-phone").len(), 1);
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(mails[0].rcpt_to, vec!["anna@example.pl".to_string()]);
    let inbox: Value = api
        .client
        .get(api.url("/api/v1/notifications"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = inbox["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{inbox}");
    assert_eq!(items[0]["kind"], "resident_alarm.triggered");
    let title = items[0]["title"].as_str().unwrap();
    assert!(
        title.starts_with("Twój alarm: Zużycie dobowe powyżej 500"),
        "{title}"
    );
    assert!(
        items[0]["details"].to_string().contains("zużyto 700"),
        "{inbox}"
    );
    api.stop().await;
}
