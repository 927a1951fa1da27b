//! The test broker helper reaches the real Mosquitto the test command started: a QoS 1 message
//! published on a test-unique topic comes back to a subscriber.

use std::time::Duration;

use ebok_testkit::mqtt;
use rumqttc::{AsyncClient, Event, Packet, QoS};

#[tokio::test]
async fn a_qos1_message_round_trips_through_the_test_broker() {
    let topic = format!("test/{}/reading", mqtt::unique("roundtrip"));
    let (client, mut events) = AsyncClient::new(mqtt::options(&mqtt::unique("sub")), 16);
    client.subscribe(&topic, QoS::AtLeastOnce).await.unwrap();
    let received = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.poll().await.expect("broker connection") {
                Event::Incoming(Packet::SubAck(_)) => {
                    client
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
