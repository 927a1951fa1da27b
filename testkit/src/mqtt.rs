//! The test MQTT broker (`EBOK__MQTT__URL`, as set by `ebok stack run`): its address, a topic
//! prefix no other test uses, subscribers logged in as ingest (`EBOK__MQTT__USERNAME` and
//! `EBOK__MQTT__PASSWORD`), and publishers logged in as a [`Gateway`] account of their own.
//!
//! The broker refuses anonymous clients, and its ACL lets a gateway publish only under its own
//! utility's topics, so a test that publishes gets a real gateway account for its test utility:
//! made like `ebok gateway add` makes one (same username rule, hash, ACL derivation and locked
//! merge into the broker's files, `ebok_ingest::gateways`), in force when created, removed again
//! when dropped. The account files are in `EBOK_STACK_BROKER_DIR`.

use std::sync::atomic::{AtomicU32, Ordering};

use ebok_common::config::MqttConfig;
use ebok_ingest::gateways::{
    Account, Change, GatewayName, LocalBroker, PasswordHash, UtilitySlug, generate_password,
};
use secrecy::SecretString;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// `(host, port)` of the test broker.
pub fn broker() -> (String, u16) {
    let raw = broker_url();
    let url = url::Url::parse(&raw).expect("EBOK__MQTT__URL is a URL");
    (
        url.host_str().expect("broker host").to_string(),
        url.port().unwrap_or(1883),
    )
}

/// The broker's URL as configuration wants it.
pub fn broker_url() -> String {
    std::env::var("EBOK__MQTT__URL").expect(
        "EBOK__MQTT__URL is not set: run the tests with scripts/test.sh, which starts Mosquitto",
    )
}

/// Ingest's login on the test broker: it may receive every topic, and publish none.
pub fn ingest_login() -> (String, String) {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the tests with scripts/test.sh (`ebok stack run`)")
        })
    };
    (var("EBOK__MQTT__USERNAME"), var("EBOK__MQTT__PASSWORD"))
}

/// The MQTT configuration of an ingest on the test broker.
pub fn ingest_config() -> MqttConfig {
    let (username, password) = ingest_login();
    MqttConfig {
        url: Some(broker_url()),
        username: Some(username),
        password: Some(SecretString::from(password)),
    }
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

/// MQTT v3.1.1 options for a subscriber of the test broker, logged in as ingest.
pub fn options(client_id: &str) -> rumqttc::MqttOptions {
    let (host, port) = broker();
    let (username, password) = ingest_login();
    let mut options = rumqttc::MqttOptions::new(client_id, host, port);
    options.set_keep_alive(std::time::Duration::from_secs(10));
    options.set_credentials(username, password);
    options
}

/// The test broker's account files and address.
pub fn test_broker() -> LocalBroker {
    let dir = std::env::var("EBOK_STACK_BROKER_DIR").expect(
        "EBOK_STACK_BROKER_DIR is not set: run the tests with scripts/test.sh (`ebok stack run`), \
         which names the test broker's folder",
    );
    LocalBroker::at_url(dir, &broker_url()).expect("the test broker's address")
}

/// A gateway account on a local broker, removed from it when dropped.
pub struct Gateway {
    pub username: String,
    password: String,
    broker: LocalBroker,
}

impl Gateway {
    /// A gateway of utility `slug` on the test broker, allowed to publish under the utility's
    /// topics of `filters` (the topic filters of the ingest it publishes to).
    pub async fn new(slug: &str, filters: &[&str]) -> Gateway {
        Gateway::on(test_broker(), slug, filters).await
    }

    /// The same on another local broker (a test's private stack).
    pub async fn on(broker: LocalBroker, slug: &str, filters: &[&str]) -> Gateway {
        let slug = UtilitySlug::parse(slug).expect("a utility slug");
        let name = GatewayName::parse(&unique("gw")).expect("a gateway name");
        let password = generate_password();
        let account = Account::gateway(
            &slug,
            &name,
            PasswordHash::new(&password),
            filters.iter().copied(),
        )
        .expect("ingest's filters name the utility with a `+`");
        broker
            .apply(vec![Change::Upsert(account.clone())])
            .await
            .expect("adding a gateway account to the test broker");
        Gateway {
            username: account.username,
            password,
            broker,
        }
    }

    /// Username and password.
    pub fn login(&self) -> (String, String) {
        (self.username.clone(), self.password.clone())
    }

    /// MQTT v3.1.1 options for a client logged in as this gateway.
    pub fn options(&self, client_id: &str) -> rumqttc::MqttOptions {
        let address = self.broker.address();
        let mut options =
            rumqttc::MqttOptions::new(client_id, address.ip().to_string(), address.port());
        options.set_keep_alive(std::time::Duration::from_secs(10));
        options.set_credentials(self.username.clone(), self.password.clone());
        options
    }

    /// MQTT 5 options for a client logged in as this gateway (its PUBACKs carry reason codes).
    pub fn options_v5(&self, client_id: &str) -> rumqttc::v5::MqttOptions {
        let address = self.broker.address();
        let mut options =
            rumqttc::v5::MqttOptions::new(client_id, address.ip().to_string(), address.port());
        options.set_keep_alive(std::time::Duration::from_secs(10));
        options.set_credentials(self.username.clone(), self.password.clone());
        options
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        // Blocking is fine here: the test is ending, and the change is quick (a locked merge
        // and the broker's reload).
        if let Err(e) = self
            .broker
            .apply_blocking(&[Change::Remove(self.username.clone())])
        {
            eprintln!("removing gateway account {} failed: {e:#}", self.username);
        }
    }
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("username", &self.username)
            .finish()
    }
}
