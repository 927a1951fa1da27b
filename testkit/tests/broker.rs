//! The test broker helpers reach the real Mosquitto the test command started: a QoS 1 message
//! published by a gateway account on its utility's topic comes back to a subscriber logged in as
//! ingest, and the account is gone once the gateway is dropped.

use std::time::Duration;

use ebok_testkit::mqtt;
use rumqttc::{AsyncClient, ConnectReturnCode, Event, Packet, QoS};

#[tokio::test]
async fn a_qos1_message_of_a_gateway_round_trips_to_a_subscriber_logged_in_as_ingest() {
    let prefix = format!("test/{}", mqtt::unique("roundtrip"));
    let topic = format!("{prefix}/alfa/reading");
    let gateway = mqtt::Gateway::new("alfa", &[&format!("{prefix}/+/reading")]).await;
    let (subscriber, mut sub_events) = AsyncClient::new(mqtt::options(&mqtt::unique("sub")), 16);
    let (publisher, mut pub_events) = AsyncClient::new(gateway.options(&mqtt::unique("pub")), 16);
    subscriber
        .subscribe(&topic, QoS::AtLeastOnce)
        .await
        .unwrap();
    tokio::spawn(async move { while pub_events.poll().await.is_ok() {} });
    let received = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match sub_events.poll().await.expect("broker connection") {
                Event::Incoming(Packet::SubAck(_)) => {
                    publisher
                        .publish(&topic, QoS::AtLeastOnce, false, b"{\"litres\":1}".to_vec())
                        .await
                        .unwrap();
                }
                Event::Incoming(Packet::Publish(p)) => return p,
                _ => {}
            }
        }
    })
    .await
    .expect("message back within 10 s");
    assert_eq!(received.topic, topic);
    assert_eq!(&received.payload[..], b"{\"litres\":1}");
    assert_eq!(received.qos, QoS::AtLeastOnce);
}

#[tokio::test]
async fn a_dropped_gateway_can_no_longer_log_in() {
    let gateway = mqtt::Gateway::new("alfa", &["test/+/reading"]).await;
    let options = gateway.options(&mqtt::unique("gone"));
    drop(gateway);
    let (_client, mut events) = AsyncClient::new(options, 16);
    let refused = tokio::time::timeout(Duration::from_secs(10), events.poll())
        .await
        .expect("an answer within 10 s");
    assert!(
        matches!(
            refused,
            Err(rumqttc::ConnectionError::ConnectionRefused(
                ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized
            ))
        ),
        "{refused:?}"
    );
}
