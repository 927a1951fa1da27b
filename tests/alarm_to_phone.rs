//! Across modules: a meter reports a leak over MQTT → ingest raises the alarm and writes the
//! outbox event in the same transaction → the dispatcher puts it in the resident's inbox and
//! pushes it to the resident's phone (the FCM-protocol emulator over HTTP).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ebok_common::config::{DispatcherConfig, IngestConfig};
use ebok_ingest::service::{self, Intervals};
use ebok_testkit::{TestDb, fixtures, mqtt};
use mobile_push::channel::PushSender;
use mobile_push::dispatcher::Dispatcher;
use mobile_push::fcm::emulator::FcmEmulator;
use mobile_push::registry::{self, DeviceRegistration, Platform};
use rumqttc::{AsyncClient, QoS};
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn a_leak_reported_by_the_meter_reaches_the_residents_phone_once() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, "alfa").await;
    let home = fixtures::household_without_meter(pool, utility, "anna@example.pl").await;
    let (account, point) = (home.account_id, home.supply_point_id);
    let serial = mqtt::unique("LEAK");
    sqlx::query(
        "INSERT INTO meters (utility_id, serial, channel, register_max_litres, diameter_mm,
                             supply_point_id, installed_at)
         VALUES ($1, $2, 'wmbus', 99999999, 15, $3, '2024-01-01T00:00:00Z')",
    )
    .bind(utility)
    .bind(&serial)
    .bind(point)
    .execute(pool)
    .await
    .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    registry::register_device(
        &mut conn,
        utility,
        account,
        &DeviceRegistration {
            token: "token-anna-phone",
            platform: Platform::Android,
            app_version: Some("1.0.0"),
        },
    )
    .await
    .unwrap();
    drop(conn);

    let prefix = format!("t/{}", mqtt::unique("leak"));
    let shutdown = CancellationToken::new();
    let mut ingest = service::start(
        pool.clone(),
        IngestConfig {
            client_id: mqtt::unique("ingest"),
            topics: vec![format!("{prefix}/+/readings")],
            wmbusmeters_topics: vec![format!("{prefix}-wmbus/+/#")],
            batch_delay_ms: 20,
            latest_flush_ms: 100,
            ..IngestConfig::default()
        },
        mqtt::ingest_config(),
        Intervals {
            replay: Duration::from_millis(200),
            no_data_scan: Duration::from_secs(3600),
            ..Intervals::default()
        },
        shutdown.clone(),
    )
    .await
    .unwrap();
    tokio::time::timeout(Duration::from_secs(10), ingest.subscribed())
        .await
        .expect("subscribed");

    let gateway = mqtt::Gateway::new("alfa", &[&format!("{prefix}/+/readings")]).await;
    let (client, mut events) = AsyncClient::new(gateway.options(&mqtt::unique("meter")), 16);
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    for (hours_ago, litres) in [(3, 100), (2, 300), (1, 500)] {
        let at = (Utc::now() - chrono::Duration::hours(hours_ago)).to_rfc3339();
        let reading = json!({ "serial": serial, "at": at, "litres": litres, "alarms": ["leak"] });
        client
            .publish(
                format!("{prefix}/alfa/readings"),
                QoS::AtLeastOnce,
                false,
                reading.to_string(),
            )
            .await
            .unwrap();
    }

    let fcm = FcmEmulator::start();
    let push: Arc<dyn PushSender> = Arc::new(fcm.client());
    let dispatcher = Dispatcher::new(
        pool.clone(),
        DispatcherConfig::default(),
        Some(push),
        None,
        "http://ebok.test",
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while fcm.accepted_count() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no push within 20 s"
        );
        dispatcher.try_dispatch_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Three readings with the leak flag are one alarm, one notice, one push.
    tokio::time::sleep(Duration::from_millis(500)).await;
    dispatcher.try_dispatch_once().await.unwrap();
    let pushes = fcm.accepted_for("token-anna-phone");
    assert_eq!(pushes.len(), 1);
    let notification = pushes[0].notification.as_ref().unwrap();
    assert_eq!(notification.title.as_deref(), Some("Wykryto wyciek wody"));
    assert!(notification.body.as_deref().unwrap().contains(&serial));
    let inbox: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM notifications WHERE account_id = $1 AND kind = 'meter_alarm.raised'",
    )
    .bind(account)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(inbox, 1);

    shutdown.cancel();
    let _ = ingest.task.await;
}
