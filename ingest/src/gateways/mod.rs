//! Who may publish readings: MQTT accounts for gateways, one per gateway, each allowed by the
//! broker's ACL to publish only under its own utility's topics, so that the topic a message
//! arrives on, and with it the utility ingest attributes its readings to, is vouched for by the
//! broker (issue 14).
//!
//! Pure parts:
//! - [`account`]: gateway names, usernames, the topics a gateway may publish to, an account's
//!   password-file line and ACL block;
//! - [`hash`]: Mosquitto's `$7$` password hashes and generated passwords;
//! - [`files`]: the password and ACL files, merged one account at a time;
//! - [`probe`]: the MQTT CONNECT that asks a broker whether it accepts a login.
//!
//! I/O parts:
//! - [`broker`]: the local stack's broker folder: locked merges, atomic writes, SIGHUP and the
//!   bounded wait until the broker has loaded a change;
//! - [`registry`]: the `mqtt_gateways` table and its audit entries, in step with the broker
//!   (`ebok gateway add|list|remove`).

pub mod account;
pub mod broker;
pub mod files;
pub mod hash;
pub mod probe;
pub mod registry;

pub use account::{Account, GatewayName, INGEST_USERNAME, UtilitySlug};
pub use broker::{Change, LocalBroker};
pub use hash::{PasswordHash, generate_password};
pub use registry::{Added, Gateway, GatewayError};
