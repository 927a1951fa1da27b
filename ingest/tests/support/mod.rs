//! An ingest service on a fresh database, subscribed to topics no other test uses, and a
//! publisher on the test broker, logged in as a gateway of the harness's utility.

#![allow(dead_code)]

use std::time::Duration;

use ebok_common::config::IngestConfig;
use ebok_ingest::service::{self, Intervals, Running};
use ebok_testkit::{TestDb, fixtures, mqtt};
use rumqttc::{AsyncClient, Event, EventLoop, Packet, QoS};
use tokio_util::sync::CancellationToken;

pub struct Harness {
    pub db: TestDb,
    pub ingest: Running,
    pub shutdown: CancellationToken,
    /// Topic prefix of this test: own JSON goes to `<prefix>/<utility>/readings`.
    pub prefix: String,
    pub utility_id: i64,
    pub publisher: Publisher,
}

/// A meter of the harness's utility: (id, serial, radio id).
pub struct Meter {
    pub id: i64,
    pub serial: String,
    pub radio_id: String,
}

pub fn ingest_config(prefix: &str) -> IngestConfig {
    IngestConfig {
        client_id: mqtt::unique("ingest"),
        topics: vec![format!("{prefix}/+/readings")],
        wmbusmeters_topics: vec![format!("{prefix}-wmbus/+/#")],
        batch_delay_ms: 20,
        latest_flush_ms: 100,
        ..IngestConfig::default()
    }
}

impl Harness {
    pub async fn start() -> Harness {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut IngestConfig)) -> Harness {
        let db = TestDb::new().await;
        let utility_id = fixtures::utility(&db.pool, "alfa").await;
        let prefix = format!("t/{}", mqtt::unique("ingest"));
        let mut config = ingest_config(&prefix);
        adjust(&mut config);
        let gateway = mqtt::Gateway::new("alfa", &filters(&config)).await;
        let shutdown = CancellationToken::new();
        let mut ingest = service::start(
            db.pool.clone(),
            config,
            mqtt::ingest_config(),
            Intervals {
                replay: Duration::from_millis(200),
                no_data_scan: Duration::from_secs(3600),
                ..Intervals::default()
            },
            shutdown.clone(),
        )
        .await
        .expect("ingest starts");
        tokio::time::timeout(Duration::from_secs(10), ingest.subscribed())
            .await
            .expect("subscribed within 10 s");
        Harness {
            db,
            ingest,
            shutdown,
            prefix,
            utility_id,
            publisher: Publisher::connect(gateway).await,
        }
    }

    /// An installed radio meter (DN15, five-digit m³ register).
    pub async fn meter(&self, serial: &str, radio_id: &str) -> Meter {
        let point = fixtures::supply_point(&self.db.pool, self.utility_id).await;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO meters (utility_id, serial, radio_id, channel, register_max_litres,
                                 diameter_mm, supply_point_id, installed_at)
             VALUES ($1, $2, $3, 'wmbus', 99999999, 15, $4, '2024-01-01T00:00:00Z') RETURNING id",
        )
        .bind(self.utility_id)
        .bind(serial)
        .bind(radio_id)
        .bind(point)
        .fetch_one(&self.db.pool)
        .await
        .unwrap();
        Meter {
            id,
            serial: serial.into(),
            radio_id: radio_id.into(),
        }
    }

    pub fn own_topic(&self) -> String {
        format!("{}/alfa/readings", self.prefix)
    }

    pub fn wmbus_topic(&self, name: &str) -> String {
        format!("{}-wmbus/alfa/{name}", self.prefix)
    }

    /// Publishes and waits until ingest has settled `items` more items (readings stored,
    /// duplicates ignored, rejections or quarantined readings stored).
    pub async fn send(&mut self, topic: &str, payloads: &[String], items: u64) {
        let before = self.ingest.stats.settled();
        self.publisher.publish_all(topic, payloads).await;
        self.settled(before + items).await;
    }

    pub async fn settled(&self, target: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.ingest.stats.settled() < target {
            assert!(
                tokio::time::Instant::now() < deadline,
                "ingest settled {} of {target} items within 30 s",
                self.ingest.stats.settled()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn stop(self) -> TestDb {
        self.shutdown.cancel();
        self.ingest.task.await.unwrap().unwrap();
        self.db
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    /// The stored rejection reasons, in order.
    pub async fn reasons(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT reason::text FROM ingest_rejections ORDER BY id")
            .fetch_all(&self.db.pool)
            .await
            .unwrap()
    }
}

/// Every topic filter of an ingest configuration (own format, then wmbusmeters).
pub fn filters(config: &IngestConfig) -> Vec<&str> {
    config
        .topics
        .iter()
        .chain(&config.wmbusmeters_topics)
        .map(String::as_str)
        .collect()
}

/// A QoS 1 publisher on the test broker that waits for every PUBACK, logged in as a gateway
/// (removed when the publisher is dropped).
pub struct Publisher {
    pub gateway: mqtt::Gateway,
    client: AsyncClient,
    events: EventLoop,
}

impl Publisher {
    pub async fn connect(gateway: mqtt::Gateway) -> Publisher {
        let mut options = gateway.options(&mqtt::unique("pub"));
        options.set_max_packet_size(64 << 20, 64 << 20);
        let (client, events) = AsyncClient::new(options, 1024);
        Publisher {
            gateway,
            client,
            events,
        }
    }

    pub async fn publish_all(&mut self, topic: &str, payloads: &[String]) {
        let mut acked = 0;
        let mut sent = 0;
        let total = payloads.len();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while acked < total {
            while sent < total && sent - acked < 100 {
                self.client
                    .publish(
                        topic,
                        QoS::AtLeastOnce,
                        false,
                        payloads[sent].clone().into_bytes(),
                    )
                    .await
                    .unwrap();
                sent += 1;
            }
            let event = tokio::time::timeout_at(deadline, self.events.poll())
                .await
                .expect("PUBACKs within 30 s")
                .expect("broker connection");
            if let Event::Incoming(Packet::PubAck(_)) = event {
                acked += 1;
            }
        }
    }
}
