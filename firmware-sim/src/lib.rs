//! Simulated water meter fleets.
//!
//! * [`model`]: the pure, deterministic consumption and fault model of meters.
//! * [`clock`]: simulated time running at a chosen speed against the real clock.
//! * [`encode`]: the payloads meters and gateways send (docs/ingest.md): the project's own JSON
//!   (single readings and gateway batches) and wmbusmeters telegram JSON.
//! * [`garbage`]: deliberately bad input of every kind the ingest must reject or quarantine.
//! * [`publish`]: the MQTT simulator (accelerated time, QoS 1, bounded in-flight window,
//!   reconnects, manifest for end-to-end tests) and the `blast` benchmark publisher.
//! * [`modbus`]: a Modbus TCP server exposing simulated bulk meters.
pub mod clock;
pub mod encode;
pub mod garbage;
mod link;
pub mod modbus;
pub mod model;
pub mod publish;
