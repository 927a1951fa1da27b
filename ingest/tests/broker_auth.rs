//! Who may publish, against the real test broker and database: the broker refuses anonymous
//! clients, a gateway publishes only under its own utility's topics (the broker refuses the
//! rest, so nothing is stored for another utility), a removed gateway can no longer log in, a
//! password hashed in Rust is Mosquitto's, concurrent account changes all land, and ingest
//! receives with its own account, also through a shared subscription.

mod support;

use std::time::Duration;

use chrono::Utc;
use ebok_ingest::gateways::probe::{Answer, probe};
use ebok_ingest::gateways::registry;
use ebok_ingest::gateways::{Account, Change, GatewayName, PasswordHash, UtilitySlug};
use ebok_testkit::mqtt;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, Packet, PubAckReason};
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions};
use serde_json::json;
use support::{Harness, filters};

fn reading(serial: &str, litres: i64) -> Vec<u8> {
    let at = (Utc::now() - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    json!({"serial": serial, "at": at.to_string(), "litres": litres})
        .to_string()
        .into_bytes()
}

/// Polls until the connection is accepted or refused.
async fn connect(events: &mut EventLoop) -> Result<(), ConnectionError> {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Event::Incoming(Packet::ConnAck(_)) = events.poll().await? {
                return Ok(());
            }
        }
    })
    .await
    .expect("the broker answers within 10 s")
}

/// Publishes with QoS 1 and returns the PUBACK's reason code.
async fn publish(
    client: &AsyncClient,
    events: &mut EventLoop,
    topic: &str,
    payload: Vec<u8>,
) -> PubAckReason {
    client
        .publish(topic, QoS::AtLeastOnce, false, payload)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Event::Incoming(Packet::PubAck(ack)) = events.poll().await.expect("connected") {
                return ack.reason;
            }
        }
    })
    .await
    .expect("PUBACK within 10 s")
}

fn v5_options(login: Option<(&str, &str)>) -> MqttOptions {
    let (host, port) = mqtt::broker();
    let mut options = MqttOptions::new(mqtt::unique("c"), host, port);
    if let Some((user, password)) = login {
        options.set_credentials(user, password);
    }
    options
}

#[tokio::test]
async fn an_anonymous_client_is_refused_by_the_broker() {
    let (_client, mut events) = AsyncClient::new(v5_options(None), 8);
    let refused = connect(&mut events).await;
    assert!(
        matches!(
            refused,
            Err(ConnectionError::ConnectionRefused(
                ConnectReturnCode::NotAuthorized
            ))
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_gateway_may_publish_under_its_own_utility_and_is_refused_under_another() {
    let h = Harness::start().await;
    let config = support::ingest_config(&h.prefix);
    let ours = h.meter("S-1", "0000e001").await;
    // Another utility, with a meter of the same serial, whose topic ingest also listens to.
    let beta = ebok_testkit::fixtures::utility(&h.db.pool, "beta").await;
    let point = ebok_testkit::fixtures::supply_point(&h.db.pool, beta).await;
    let theirs: i64 = sqlx::query_scalar(
        "INSERT INTO meters (utility_id, serial, channel, register_max_litres, supply_point_id,
                             installed_at)
         VALUES ($1, 'S-1', 'wmbus', 99999999, $2, '2024-01-01T00:00:00Z') RETURNING id",
    )
    .bind(beta)
    .bind(point)
    .fetch_one(&h.db.pool)
    .await
    .unwrap();

    let alfa = UtilitySlug::parse("alfa").unwrap();
    let name = GatewayName::parse(&mqtt::unique("gw")).unwrap();
    let broker = mqtt::test_broker();
    let added = registry::add(
        &h.db.pool,
        Some(&broker),
        &alfa,
        &name,
        &filters(&config),
        false,
    )
    .await
    .unwrap();
    let password = secrecy::ExposeSecret::expose_secret(&added.password).to_string();
    let (client, mut events) =
        AsyncClient::new(v5_options(Some((&added.gateway.username, &password))), 8);
    connect(&mut events).await.expect("the gateway logs in");

    let beta_topic = format!("{}/beta/readings", h.prefix);
    let refused = publish(&client, &mut events, &beta_topic, reading("S-1", 666)).await;
    assert_eq!(refused, PubAckReason::NotAuthorized);
    let accepted = publish(&client, &mut events, &h.own_topic(), reading("S-1", 111)).await;
    assert!(
        matches!(
            accepted,
            PubAckReason::Success | PubAckReason::NoMatchingSubscribers
        ),
        "{accepted:?}"
    );

    h.settled(1).await;
    let stored: Vec<(i64, i64)> =
        sqlx::query_as("SELECT meter_id, volume_litres FROM meter_readings")
            .fetch_all(&h.db.pool)
            .await
            .unwrap();
    assert_eq!(
        stored,
        [(ours.id, 111)],
        "nothing for beta's meter {theirs}"
    );
    assert_eq!(
        h.count("SELECT (SELECT count(*) FROM ingest_rejections) + (SELECT count(*) FROM ingest_quarantine)")
            .await,
        0
    );
    registry::remove(&h.db.pool, Some(&broker), &alfa, &name)
        .await
        .unwrap();
    h.stop().await;
}

#[tokio::test]
async fn a_removed_gateway_can_no_longer_connect_and_its_open_connection_is_closed() {
    let db = ebok_testkit::TestDb::new().await;
    ebok_testkit::fixtures::utility(&db.pool, "alfa").await;
    let alfa = UtilitySlug::parse("alfa").unwrap();
    let name = GatewayName::parse(&mqtt::unique("gw")).unwrap();
    let broker = mqtt::test_broker();
    let added = registry::add(&db.pool, Some(&broker), &alfa, &name, &["t/+/r"], false)
        .await
        .unwrap();
    let password = secrecy::ExposeSecret::expose_secret(&added.password).to_string();
    let login = (added.gateway.username.as_str(), password.as_str());
    let (_open, mut open_events) = AsyncClient::new(v5_options(Some(login)), 8);
    connect(&mut open_events)
        .await
        .expect("accepted while active");

    let removed = registry::remove(&db.pool, Some(&broker), &alfa, &name)
        .await
        .unwrap();
    assert!(removed.revoked_at.is_some());

    let (_client, mut events) = AsyncClient::new(v5_options(Some(login)), 8);
    let refused = connect(&mut events).await;
    assert!(
        matches!(
            refused,
            Err(ConnectionError::ConnectionRefused(
                ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized
            ))
        ),
        "{refused:?}"
    );
    // The reload also closed the connection that was open.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if open_events.poll().await.is_err() {
                return;
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the revoked gateway's connection stays open"
    );

    // The row stays, revoked; both changes are in the audit log.
    let listed = registry::list(&db.pool, &alfa).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, removed.revoked_at);
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE entity_type = 'mqtt_gateway' ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(actions, ["mqtt_gateway.added", "mqtt_gateway.removed"]);
}

#[tokio::test]
async fn re_keying_a_gateway_retires_its_old_password() {
    let db = ebok_testkit::TestDb::new().await;
    ebok_testkit::fixtures::utility(&db.pool, "alfa").await;
    let alfa = UtilitySlug::parse("alfa").unwrap();
    let name = GatewayName::parse(&mqtt::unique("gw")).unwrap();
    let broker = mqtt::test_broker();
    let first = registry::add(&db.pool, Some(&broker), &alfa, &name, &["t/+/r"], false)
        .await
        .unwrap();
    let again = registry::add(&db.pool, Some(&broker), &alfa, &name, &["t/+/r"], false).await;
    assert!(
        matches!(again, Err(registry::GatewayError::Exists { .. })),
        "{again:?}"
    );
    let second = registry::add(&db.pool, Some(&broker), &alfa, &name, &["t/+/r"], true)
        .await
        .unwrap();
    assert_eq!(second.replaced, Some(first.gateway.id));
    let secret =
        |a: &registry::Added| secrecy::ExposeSecret::expose_secret(&a.password).to_string();
    let user = second.gateway.username.as_str();
    let answer = |password: String| {
        probe(
            broker.address(),
            Some((user, &password)),
            Duration::from_secs(2),
        )
        .unwrap()
    };
    assert_eq!(answer(secret(&second)), Answer::Accepted);
    assert_ne!(answer(secret(&first)), Answer::Accepted);
    registry::remove(&db.pool, Some(&broker), &alfa, &name)
        .await
        .unwrap();
}

/// Both directions of the password-file format against the real broker: a line hashed in Rust
/// logs in, and a line made by Debian's `mosquitto_passwd` verifies in Rust and logs in too.
#[tokio::test]
async fn password_lines_hashed_in_rust_and_by_mosquitto_passwd_both_log_in() {
    let broker = mqtt::test_broker();
    let ours = format!("hash-{}", mqtt::unique("rust"));
    let theirs = format!("hash-{}", mqtt::unique("passwd"));
    let password = ebok_ingest::gateways::generate_password();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    let status = std::process::Command::new("mosquitto_passwd")
        .args(["-c", "-b"])
        .arg(&file)
        .args([&theirs, &password])
        .status()
        .expect("mosquitto_passwd (Debian's mosquitto package) runs");
    assert!(status.success());
    let line = std::fs::read_to_string(&file).unwrap();
    let hash = PasswordHash::parse(line.trim().split_once(':').unwrap().1).unwrap();
    assert!(
        hash.verify(&password),
        "mosquitto_passwd's hash verifies in Rust"
    );

    let account = |username: &str, hash: PasswordHash| {
        Change::Upsert(Account {
            username: username.into(),
            hash,
            rules: Vec::new(),
        })
    };
    broker
        .apply(vec![
            account(&ours, PasswordHash::new(&password)),
            account(&theirs, hash),
        ])
        .await
        .unwrap();
    let answer = |user: &str, password: &str| {
        probe(
            broker.address(),
            Some((user, password)),
            Duration::from_secs(2),
        )
        .unwrap()
    };
    assert_eq!(answer(&ours, &password), Answer::Accepted);
    assert_eq!(answer(&theirs, &password), Answer::Accepted);
    assert_ne!(answer(&ours, "wrong"), Answer::Accepted);
    broker
        .apply(vec![Change::Remove(ours), Change::Remove(theirs)])
        .await
        .unwrap();
}

/// Mosquitto 2.0.11's ACL file checks no subscription (`$share/<group>/…` included); it checks
/// read access when it delivers each message, on the message's own topic. So ingest's account
/// receives through a shared subscription as through a plain one.
#[tokio::test]
async fn ingest_receives_with_its_own_account_through_a_shared_subscription() {
    let group = mqtt::unique("group");
    let mut h = Harness::start_with(|c| c.shared_group = Some(group.clone())).await;
    h.meter("SH-1", "0000e101").await;
    let topic = h.own_topic();
    let payload = String::from_utf8(reading("SH-1", 5)).unwrap();
    h.send(&topic, &[payload], 1).await;
    assert_eq!(
        h.count("SELECT count(*) FROM meter_readings WHERE volume_litres = 5")
            .await,
        1
    );
    h.stop().await;
}

/// Many writers at once (nextest runs every test as its own process against one broker): each
/// change is merged under the lock into what the others wrote, so every account lands, logs in,
/// and is gone again after its removal.
#[tokio::test]
async fn concurrent_account_changes_all_land_and_each_is_in_force() {
    let broker = mqtt::test_broker();
    let accounts: Vec<(String, String)> = (0..8)
        .map(|_| {
            (
                format!("many-{}", mqtt::unique("w")),
                ebok_ingest::gateways::generate_password(),
            )
        })
        .collect();
    let writers: Vec<_> = accounts
        .iter()
        .cloned()
        .map(|(username, password)| {
            let broker = broker.clone();
            std::thread::spawn(move || {
                broker.apply_blocking(&[Change::Upsert(Account {
                    username,
                    hash: PasswordHash::new(&password),
                    rules: Vec::new(),
                })])
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap().unwrap();
    }
    let files = broker.read().unwrap();
    for (username, password) in &accounts {
        assert!(files.hash_of(username).is_some(), "{username} was lost");
        assert_eq!(
            probe(
                broker.address(),
                Some((username, password)),
                Duration::from_secs(2)
            )
            .unwrap(),
            Answer::Accepted
        );
    }
    let removers: Vec<_> = accounts
        .iter()
        .map(|(username, _)| {
            let broker = broker.clone();
            let username = username.clone();
            std::thread::spawn(move || broker.apply_blocking(&[Change::Remove(username)]))
        })
        .collect();
    for remover in removers {
        remover.join().unwrap().unwrap();
    }
    let files = broker.read().unwrap();
    for (username, password) in &accounts {
        assert!(files.hash_of(username).is_none(), "{username} survived");
        assert_ne!(
            probe(
                broker.address(),
                Some((username, password)),
                Duration::from_secs(2)
            )
            .unwrap(),
            Answer::Accepted
        );
    }
}
