//! The outbox dispatcher against a real PostgreSQL, the FCM-protocol emulator over HTTP and a
//! real SMTP server on loopback: recipients, preferences, consents, retries, dead letters,
//! device removal and the crash between send and settle.

use std::sync::Arc;
use std::time::Duration;

use ebok_common::audit::Actor;
use ebok_common::config::{DispatcherConfig, SmtpSecurity};
use ebok_common::consent::{self, ConsentKind};
use ebok_common::domain::{AlarmKind, Money};
use ebok_common::outbox::{self, Addressee, Event, InvoiceIssued, MeterAlarm, Outage, OutboxEvent};
use ebok_testkit::TestDb;
use ebok_testkit::fixtures;
use ebok_testkit::smtp::{SmtpOptions, TestSmtp};
use mobile_push::channel::{MailSender, PushSender};
use mobile_push::dispatcher::{Dispatcher, dead_letters, requeue_dead, requeue_dead_event};
use mobile_push::email::SmtpMailer;
use mobile_push::fcm::emulator::FcmEmulator;
use mobile_push::notice::Category;
use mobile_push::registry::{self, Channels, DeviceRegistration, Platform};
use serde_json::json;
use sqlx::PgPool;

const PORTAL: &str = "http://ebok.test";

fn config() -> DispatcherConfig {
    DispatcherConfig {
        backoff_base_ms: 20,
        backoff_max_secs: 1,
        lease_secs: 1,
        ..DispatcherConfig::default()
    }
}

fn dispatcher(db: &TestDb, config: DispatcherConfig, fcm: &FcmEmulator) -> Dispatcher {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let push: Arc<dyn PushSender> = Arc::new(fcm.client());
    Dispatcher::new(db.pool.clone(), config, Some(push), None, PORTAL)
}

/// A resident linked to a customer with a contract on a supply point in `city`.
struct Resident {
    account: i64,
    customer: i64,
}

async fn resident(pool: &PgPool, utility: i64, email: &str) -> Resident {
    let home = fixtures::household_without_meter(pool, utility, email).await;
    Resident {
        account: home.account_id,
        customer: home.customer_id,
    }
}

async fn device(pool: &PgPool, utility: i64, account: i64, token: &str) -> i64 {
    let mut conn = pool.acquire().await.unwrap();
    registry::register_device(
        &mut conn,
        utility,
        account,
        &DeviceRegistration {
            token,
            platform: Platform::Android,
            app_version: Some("1.4.0"),
        },
    )
    .await
    .unwrap()
}

async fn consent_to_notices(pool: &PgPool, utility: i64, account: i64) {
    let mut conn = pool.acquire().await.unwrap();
    consent::grant(
        &mut conn,
        utility,
        account,
        ConsentKind::Notifications,
        "2026-11",
        Actor::Resident {
            account_id: account,
        },
    )
    .await
    .unwrap();
}

async fn enqueue(pool: &PgPool, event: OutboxEvent) -> i64 {
    let mut conn = pool.acquire().await.unwrap();
    outbox::enqueue(&mut conn, &event).await.unwrap().unwrap()
}

async fn leak_alarm(pool: &PgPool, utility: i64, customer: i64) -> i64 {
    let point = fixtures::supply_point(pool, utility).await;
    let meter = fixtures::meter(pool, utility, Some(point)).await;
    enqueue(
        pool,
        OutboxEvent {
            utility_id: utility,
            event: Event::MeterAlarmRaised(MeterAlarm {
                alarm_id: meter,
                meter_id: meter,
                alarm: AlarmKind::Leak,
                at: "2026-11-21T03:00:00Z".parse().unwrap(),
            }),
            to: Addressee::Customer(customer),
            dedup_key: None,
        },
    )
    .await
}

fn outage(utility: i64, area: serde_json::Value) -> OutboxEvent {
    OutboxEvent {
        utility_id: utility,
        event: Event::OutageAnnounced(Outage {
            outage_id: 7,
            kind: "failure".into(),
            title: "Awaria wodociągu na ul. Lipowej".into(),
            area: "Testowo, ul. Lipowa".into(),
            starts_at: "2026-11-21T08:00:00Z".parse().unwrap(),
            ends_at: Some("2026-11-21T14:00:00Z".parse().unwrap()),
            description: None,
        }),
        to: Addressee::Audience(area),
        dedup_key: None,
    }
}

async fn inbox_accounts(pool: &PgPool, outbox_id: i64) -> Vec<i64> {
    sqlx::query_scalar("SELECT account_id FROM notifications WHERE outbox_id = $1 ORDER BY 1")
        .bind(outbox_id)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn statuses(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT idempotency_key, status::text FROM notification_deliveries ORDER BY idempotency_key",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Steps until nothing is due.
async fn drain(d: &Dispatcher) {
    for _ in 0..50 {
        if d.try_dispatch_once().await.unwrap().is_idle() {
            return;
        }
    }
    panic!("the dispatcher never went idle");
}

#[tokio::test]
async fn a_meter_alarm_reaches_every_device_of_the_customers_accounts_and_nobody_else() {
    let db = TestDb::new().await;
    let fcm = FcmEmulator::start();
    let utility = fixtures::utility(&db.pool, "mlynary").await;
    let other_utility = fixtures::utility(&db.pool, "pieniezno").await;
    let anna = resident(&db.pool, utility, "anna@example.pl").await;
    // Anna's husband shares the customer; another resident and a resident of another utility
    // have devices too.
    let jan = fixtures::resident_account(&db.pool, utility, "jan@example.pl").await;
    fixtures::link_customer(&db.pool, utility, jan, anna.customer).await;
    let neighbour = resident(&db.pool, utility, "sasiad@example.pl").await;
    let stranger = resident(&db.pool, other_utility, "obcy@example.pl").await;
    device(&db.pool, utility, anna.account, "token-anna-phone").await;
    device(&db.pool, utility, anna.account, "token-anna-tablet").await;
    device(&db.pool, utility, jan, "token-jan-phone").await;
    device(&db.pool, utility, neighbour.account, "token-neighbour").await;
    device(&db.pool, other_utility, stranger.account, "token-stranger").await;

    let event = leak_alarm(&db.pool, utility, anna.customer).await;
    let d = dispatcher(&db, config(), &fcm);
    let report = d.try_dispatch_once().await.unwrap();
    assert_eq!((report.notifications, report.sent), (2, 3), "{report:?}");

    let mut tokens: Vec<String> = fcm
        .accepted()
        .into_iter()
        .map(|m| m.token().unwrap().to_string())
        .collect();
    tokens.sort();
    assert_eq!(
        tokens,
        ["token-anna-phone", "token-anna-tablet", "token-jan-phone"]
    );
    let mut both = vec![anna.account, jan];
    both.sort();
    assert_eq!(inbox_accounts(&db.pool, event).await, both);

    let message = &fcm.accepted_for("token-jan-phone")[0];
    let notification = message.notification.as_ref().unwrap();
    assert_eq!(notification.title.as_deref(), Some("Wykryto wyciek wody"));
    assert!(
        notification
            .body
            .as_deref()
            .unwrap()
            .contains("Lipowa 1, 14-420 Testowo")
    );
    assert_eq!(message.data["kind"], "meter_alarm.raised");
    assert!(message.data["link"].starts_with("http://ebok.test/u/mlynary/liczniki/"));
    assert_eq!(
        message.android_priority.as_deref(),
        Some("high"),
        "a leak is urgent"
    );
    let key = message.collapse_key.clone().unwrap();
    assert!(key.contains(":push:"), "{key}");

    assert!(d.try_dispatch_once().await.unwrap().is_idle());
    assert_eq!(fcm.accepted_count(), 3, "nothing is sent twice");
}

#[tokio::test]
async fn preferences_decide_the_channels_and_push_needs_no_email() {
    let db = TestDb::new().await;
    let fcm = FcmEmulator::start();
    let smtp = TestSmtp::start(SmtpOptions::plain());
    let utility = fixtures::utility(&db.pool, "mlynary").await;
    let anna = resident(&db.pool, utility, "anna@example.pl").await;
    let jan = fixtures::resident_account(&db.pool, utility, "jan@example.pl").await;
    fixtures::link_customer(&db.pool, utility, jan, anna.customer).await;
    device(&db.pool, utility, anna.account, "token-anna").await;
    device(&db.pool, utility, jan, "token-jan").await;
    {
        let mut conn = db.pool.acquire().await.unwrap();
        // Anna wants meter alarms by e-mail only; Jan by push only.
        let only_email = Channels {
            push: false,
            email: true,
        };
        let only_push = Channels {
            push: true,
            email: false,
        };
        registry::set_preference(
            &mut conn,
            utility,
            anna.account,
            Category::MeterAlarms,
            only_email,
        )
        .await
        .unwrap();
        registry::set_preference(&mut conn, utility, jan, Category::MeterAlarms, only_push)
            .await
            .unwrap();
        let prefs = registry::preferences(&mut conn, utility, jan)
            .await
            .unwrap();
        assert!(prefs.contains(&(Category::MeterAlarms, only_push)));
        assert!(prefs.contains(&(
            Category::Outages,
            Channels {
                push: true,
                email: false
            }
        )));
    }
    leak_alarm(&db.pool, utility, anna.customer).await;

    let push: Arc<dyn PushSender> = Arc::new(fcm.client());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mail: Arc<dyn MailSender> =
        Arc::new(SmtpMailer::from_config(&smtp.config(SmtpSecurity::Plain)).unwrap());
    let d = Dispatcher::new(db.pool.clone(), config(), Some(push), Some(mail), PORTAL);
    drain(&d).await;

    let tokens: Vec<String> = fcm
        .accepted()
        .into_iter()
        .map(|m| m.token().unwrap().to_string())
        .collect();
    assert_eq!(tokens, ["token-jan"]);
    let mails = smtp.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].rcpt_to, ["anna@example.pl"]);
    assert!(
        mails[0].subject().contains("Wykryto wyciek wody"),
        "{}",
        mails[0].subject()
    );
    assert!(
        mails[0]
            .text()
            .unwrap()
            .contains("Lipowa 1, 14-420 Testowo")
    );
}

#[tokio::test]
async fn an_invoice_email_says_a_document_waits_and_carries_no_attachment() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start(SmtpOptions::plain());
    let utility = fixtures::utility(&db.pool, "mlynary").await;
    let anna = resident(&db.pool, utility, "anna@example.pl").await;
    enqueue(
        &db.pool,
        OutboxEvent {
            utility_id: utility,
            event: Event::InvoiceIssued(InvoiceIssued {
                invoice_id: 42,
                number: "FV/2026/11/000042".into(),
                amount_grosze: Money::from_grosze(12345),
                due_date: chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
            }),
            to: Addressee::Customer(anna.customer),
            dedup_key: None,
        },
    )
    .await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mail: Arc<dyn MailSender> =
        Arc::new(SmtpMailer::from_config(&smtp.config(SmtpSecurity::Plain)).unwrap());
    let d = Dispatcher::new(db.pool.clone(), config(), None, Some(mail), PORTAL);
    drain(&d).await;
    let mails = smtp.wait_for(1, Duration::from_secs(10)).await;
    let mail = &mails[0];
    assert!(mail.subject().contains("Nowa faktura FV/2026/11/000042"));
    assert!(mail.parts.iter().all(|p| !p.is_attachment()));
    assert!(
        mail.parts
            .iter()
            .all(|p| p.content_type == "text/plain" || p.content_type == "text/html")
    );
    let text = mail.text().unwrap();
    assert!(text.contains("czeka"), "{text}");
    assert!(
        text.contains("http://ebok.test/u/mlynary/faktury/42"),
        "{text}"
    );
    assert!(text.contains("123,45"), "{text}");
    // Stable per delivery, and naming nothing of the recipient.
    let message_id = mail.header("Message-ID").unwrap();
    let left = message_id
        .strip_prefix('<')
        .and_then(|m| m.strip_suffix("@ebok.test>"))
        .unwrap_or_else(|| panic!("{message_id}"));
    let delivery: i64 =
        sqlx::query_scalar("SELECT id FROM notification_deliveries WHERE channel = 'email'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(left, format!("delivery-{delivery}"));
    let address = mail.rcpt_to[0].clone();
    let local = address.split('@').next().unwrap();
    assert!(!message_id.contains(local), "{message_id} names {address}");
}

#[tokio::test]
async fn an_outage_notice_reaches_only_consenting_residents_of_the_area_in_slices() {
    let db = TestDb::new().await;
    let fcm = FcmEmulator::start();
    let utility = fixtures::utility(&db.pool, "mlynary").await;
    let mut consenting = Vec::new();
    for i in 0..5 {
        let r = resident(&db.pool, utility, &format!("zgoda{i}@example.pl")).await;
        consent_to_notices(&db.pool, utility, r.account).await;
        device(
            &db.pool,
            utility,
            r.account,
            &format!("token-consenting-{i}"),
        )
        .await;
        consenting.push(r.account);
    }
    // In the area without consent; consent withdrawn; consenting but elsewhere.
    let silent = resident(&db.pool, utility, "bez-zgody@example.pl").await;
    device(&db.pool, utility, silent.account, "token-silent").await;
    let withdrawn = resident(&db.pool, utility, "wycofal@example.pl").await;
    consent_to_notices(&db.pool, utility, withdrawn.account).await;
    {
        let mut conn = db.pool.acquire().await.unwrap();
        let actor = Actor::Resident {
            account_id: withdrawn.account,
        };
        assert!(
            consent::withdraw(
                &mut conn,
                utility,
                withdrawn.account,
                ConsentKind::Notifications,
                actor
            )
            .await
            .unwrap()
        );
        let history = consent::history(&mut conn, utility, withdrawn.account)
            .await
            .unwrap();
        assert_eq!(history.len(), 1);
        assert!(history[0].withdrawn_at.is_some());
    }
    device(&db.pool, utility, withdrawn.account, "token-withdrawn").await;
    let elsewhere = fixtures::resident_account(&db.pool, utility, "daleko@example.pl").await;
    consent_to_notices(&db.pool, utility, elsewhere).await;
    device(&db.pool, utility, elsewhere, "token-elsewhere").await;

    let event = enqueue(
        &db.pool,
        outage(utility, json!({ "residents_in_area": { "streets": [{ "city": "Testowo", "street": "Lipowa" }] } })),
    )
    .await;
    // Two recipients per slice: the event takes three steps to expand.
    let d = dispatcher(
        &db,
        DispatcherConfig {
            expand_batch: 2,
            ..config()
        },
        &fcm,
    );
    let first = d.try_dispatch_once().await.unwrap();
    assert_eq!(first.notifications, 2, "{first:?}");
    let pending: String = sqlx::query_scalar("SELECT status::text FROM outbox WHERE id = $1")
        .bind(event)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(pending, "pending", "one slice at a time");
    drain(&d).await;

    assert_eq!(inbox_accounts(&db.pool, event).await, consenting);
    let mut tokens: Vec<String> = fcm
        .accepted()
        .into_iter()
        .map(|m| m.token().unwrap().to_string())
        .collect();
    tokens.sort();
    assert_eq!(
        tokens,
        (0..5)
            .map(|i| format!("token-consenting-{i}"))
            .collect::<Vec<_>>()
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1, "one outbox row for the whole area");
}

#[tokio::test]
async fn an_unregistered_token_is_removed_and_never_tried_again() {
    let db = TestDb::new().await;
    let fcm = FcmEmulator::start();
    let utility = fixtures::utility(&db.pool, "mlynary").await;
    let anna = resident(&db.pool, utility, "anna@example.pl").await;
    let old = device(&db.pool, utility, anna.account, "token-old-phone").await;
    device(&db.pool, utility, anna.account, "token-new-phone").await;
    fcm.unregister("token-old-phone");
    leak_alarm(&db.pool, utility, anna.customer).await;
    let d = dispatcher(&db, config(), &fcm);
    let report = d.try_dispatch_once().await.unwrap();
    assert_eq!((report.sent, report.targets_removed), (1, 1), "{report:?}");

    let (removed, reason): (bool, Option<String>) = sqlx::query_as(
        "SELECT removed_at IS NOT NULL, removed_reason FROM push_devices WHERE id = $1",
    )
    .bind(old)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(removed);
    assert!(reason.unwrap().contains("UNREGISTERED"));
    // The next alarm goes to the remaining phone only.
    leak_alarm(&db.pool, utility, anna.customer).await;
    drain(&d).await;
    assert_eq!(fcm.attempts_for("token-old-phone"), 1);
    assert_eq!(fcm.accepted_for("token-new-phone").len(), 2);
}

#[tokio::test]
async fn quota_exceeded_waits_for_retry_after_then_sends() {
    let db = TestDb::new().await;
    let fcm = FcmEmulator::start();
    let utility = fixtures::utility(&db.pool, "mlynary").await;
    let anna = resident(&db.pool, utility, "anna@example.pl").await;
    device(&db.pool, utility, anna.account, "token-anna").await;
    fcm.quota_exceeded("token-anna", 1, 2);
    leak_alarm(&db.pool, utility, anna.customer).await;
    let d = dispatcher(&db, config(), &fcm);

    let first = d.try_dispatch_once().await.unwrap();
    assert_eq!(first.retried, 1, "{first:?}");
    let (status, error, wait): (String, String, f64) = sqlx::query_as(
        "SELECT status::text, last_error, extract(epoch FROM next_attempt_at - now())::float8
         FROM notification_deliveries",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(status, "pending");
    assert!(error.contains("QUOTA_EXCEEDED"), "{error}");
    assert!(
        wait > 1.5,
        "Retry-After of 2 s honoured, next attempt in {wait} s"
    );
    assert!(
        d.try_dispatch_once().await.unwrap().is_idle(),
        "not due before Retry-After"
    );

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let second = d.try_dispatch_once().await.unwrap();
    assert_eq!(second.sent, 1, "{second:?}");
    let attempts = fcm.received();
    assert_eq!(attempts.len(), 2);
    let spacing = attempts[1].received_at - attempts[0].received_at;
    assert!(
        spacing >= chrono::Duration::milliseconds(1900),
        "retries spaced: {spacing}"
    );
}

#[tokio::test]
async fn a_delivery_failing_every_time_is_dead_lettered_for_staff_and_can_be_requeued() {
    let db = TestDb::new().await;
    let fcm = FcmEmulator::start();
    let utility = fixtures::utility(&db.pool, "mlynary").await;
    let anna = resident(&db.pool, utility, "anna@example.pl").await;
    device(&db.pool, utility, anna.account, "token-anna").await;
    fcm.unavailable("token-anna", 3);
    leak_alarm(&db.pool, utility, anna.customer).await;
    let d = dispatcher(
        &db,
        DispatcherConfig {
            max_attempts: 3,
            ..config()
        },
        &fcm,
    );
    for _ in 0..100 {
        let report = d.try_dispatch_once().await.unwrap();
        if report.dead > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        fcm.attempts_for("token-anna"),
        3,
        "three attempts, then no more"
    );
    let mut conn = db.pool.acquire().await.unwrap();
    let dead = dead_letters(&mut conn, utility, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].what, "delivery");
    assert_eq!(dead[0].channel.as_deref(), Some("push"));
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("UNAVAILABLE")
    );
    // Another utility's staff see none of it, nor can they requeue it.
    let other = fixtures::utility(&db.pool, "pieniezno").await;
    assert!(dead_letters(&mut conn, other, 10).await.unwrap().is_empty());
    assert!(!requeue_dead(&mut conn, other, dead[0].id).await.unwrap());

    assert!(requeue_dead(&mut conn, utility, dead[0].id).await.unwrap());
    drain(&d).await;
    assert_eq!(fcm.accepted_for("token-anna").len(), 1);
}

#[tokio::test]
async fn a_crash_between_send_and_settle_resends_at_most_once_per_target() {
    let db = TestDb::new().await;
    let fcm = FcmEmulator::start();
    let utility = fixtures::utility(&db.pool, "mlynary").await;
    let anna = resident(&db.pool, utility, "anna@example.pl").await;
    let tokens = ["token-phone-a", "token-phone-b", "token-phone-c"];
    for token in tokens {
        device(&db.pool, utility, anna.account, token).await;
        fcm.hold(token);
    }
    leak_alarm(&db.pool, utility, anna.customer).await;
    let d = Arc::new(dispatcher(&db, config(), &fcm));

    // The worker sends all three, and dies before it settles any: the emulator has the
    // requests, the worker never sees the answers.
    let worker = tokio::spawn({
        let d = d.clone();
        async move { d.try_dispatch_once().await }
    });
    for token in tokens {
        tokio::time::timeout(Duration::from_secs(10), fcm.wait_for_attempts(token, 1))
            .await
            .expect("all three sent");
    }
    worker.abort();
    let _ = worker.await;
    fcm.release_all();
    assert!(statuses(&db.pool).await.iter().all(|(_, s)| s == "sending"));

    // Claimed, so not due until the lease (1 s) lapses.
    assert!(d.try_dispatch_once().await.unwrap().is_idle());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let report = d.try_dispatch_once().await.unwrap();
    assert_eq!(report.sent, 3, "{report:?}");
    assert!(d.try_dispatch_once().await.unwrap().is_idle());

    // FCM received every first send (it would have shown them); the resend carries the same
    // collapse key, so the phone replaces the notice instead of showing it twice.
    for token in tokens {
        let received: Vec<_> = fcm
            .received()
            .into_iter()
            .filter(|r| r.token.as_deref() == Some(token))
            .collect();
        assert_eq!(received.len(), 2, "{token}: one send and one resend");
        assert!(received[0].collapse_key.is_some());
        assert_eq!(
            received[0].collapse_key, received[1].collapse_key,
            "the same idempotency key"
        );
        assert_eq!(
            fcm.accepted_for(token).len(),
            1,
            "{token}: the resend answered"
        );
    }
    assert!(statuses(&db.pool).await.iter().all(|(_, s)| s == "sent"));
}

#[tokio::test]
async fn an_event_nobody_can_read_is_dead_lettered_with_the_reason() {
    let db = TestDb::new().await;
    let fcm = FcmEmulator::start();
    let utility = fixtures::utility(&db.pool, "mlynary").await;
    let anna = resident(&db.pool, utility, "anna@example.pl").await;
    // Rows no writer of this version could make: written as another version might have.
    let raw = |kind: &'static str, payload: serde_json::Value| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO outbox (utility_id, kind, payload, recipient_account_id)
                 VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(utility)
            .bind(kind)
            .bind(payload)
            .bind(anna.account)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let unknown = raw("mystery.happened", json!({})).await;
    let broken = raw("invoice.issued", json!({ "invoice_id": 1 })).await;
    let d = dispatcher(&db, config(), &fcm);
    let report = d.try_dispatch_once().await.unwrap();
    assert_eq!(report.dead, 2, "{report:?}");
    let mut conn = db.pool.acquire().await.unwrap();
    let dead = dead_letters(&mut conn, utility, 10).await.unwrap();
    let reason = |id: i64| {
        dead.iter()
            .find(|l| l.what == "event" && l.id == id)
            .and_then(|l| l.last_error.clone())
            .unwrap()
    };
    assert!(reason(unknown).contains("mystery.happened"));
    assert!(
        reason(broken).contains("missing field `number`"),
        "{}",
        reason(broken)
    );
    assert_eq!(fcm.received_count(), 0);
    // Put back in line (as after a release that reads it), it is tried again; still unreadable
    // here, it is dead again, not lost and not looping. Another utility cannot requeue it.
    let other = fixtures::utility(&db.pool, "pieniezno").await;
    assert!(!requeue_dead_event(&mut conn, other, unknown).await.unwrap());
    assert!(
        requeue_dead_event(&mut conn, utility, unknown)
            .await
            .unwrap()
    );
    assert!(
        !requeue_dead_event(&mut conn, utility, unknown)
            .await
            .unwrap()
    );
    let report = d.try_dispatch_once().await.unwrap();
    assert_eq!(report.dead, 1, "{report:?}");
}

#[tokio::test]
async fn a_token_registered_by_another_account_moves_to_it() {
    let db = TestDb::new().await;
    let utility = fixtures::utility(&db.pool, "mlynary").await;
    let anna = fixtures::resident_account(&db.pool, utility, "anna@example.pl").await;
    let jan = fixtures::resident_account(&db.pool, utility, "jan@example.pl").await;
    let first = device(&db.pool, utility, anna, "token-shared-phone").await;
    let again = device(&db.pool, utility, anna, "token-shared-phone").await;
    assert_eq!(first, again, "re-registering refreshes the same device");
    let moved = device(&db.pool, utility, jan, "token-shared-phone").await;
    assert_ne!(moved, first);
    let mut conn = db.pool.acquire().await.unwrap();
    assert!(
        registry::devices(&mut conn, utility, anna)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        registry::devices(&mut conn, utility, jan)
            .await
            .unwrap()
            .len(),
        1
    );
    // Only the holder can unregister it; another utility cannot touch it.
    assert!(
        !registry::unregister_device(&mut conn, utility, anna, "token-shared-phone")
            .await
            .unwrap()
    );
    let other = fixtures::utility(&db.pool, "pieniezno").await;
    assert!(
        !registry::unregister_device(&mut conn, other, jan, "token-shared-phone")
            .await
            .unwrap()
    );
    assert!(
        registry::unregister_device(&mut conn, utility, jan, "token-shared-phone")
            .await
            .unwrap()
    );
    assert!(
        registry::devices(&mut conn, utility, jan)
            .await
            .unwrap()
            .is_empty()
    );

    let bad = registry::register_device(
        &mut conn,
        utility,
        jan,
        &DeviceRegistration {
            token: "short",
            platform: Platform::Ios,
            app_version: None,
        },
    )
    .await
    .unwrap_err();
    assert!(bad.to_string().contains("`token`"), "{bad}");
}
