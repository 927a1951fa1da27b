//! The test MQTT broker (`EBOK__MQTT__URL`, as set by `ebok stack run`): its address, a topic
//! prefix no other test uses, and connected clients.

use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// `(host, port)` of the test broker.
pub fn broker() -> (String, u16) {
    let raw = std::env::var("EBOK__MQTT__URL").expect(
        "EBOK__MQTT__URL is not set: run the tests with scripts/test.sh, which starts Mosquitto",
    );
    let url = url::Url::parse(&raw).expect("EBOK__MQTT__URL is a URL");
    (
        url.host_str().expect("broker host").to_string(),
        url.port().unwrap_or(1883),
    )
}

/// The broker's URL as configuration wants it.
pub fn broker_url() -> String {
    let (host, port) = broker();
    format!("mqtt://{host}:{port}")
}

/// A string unique to this test within the whole run, for topics and client ids.
pub fn unique(name: &str) -> String {
    format!(
        "{name}-{}-{}-{:04x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        rand::random::<u16>()
    )
}

/// MQTT v3.1.1 options for a client of the test broker.
pub fn options(client_id: &str) -> rumqttc::MqttOptions {
    let (host, port) = broker();
    let mut options = rumqttc::MqttOptions::new(client_id, host, port);
    options.set_keep_alive(std::time::Duration::from_secs(10));
    options
}
