//! Meter readings into the time-series store: MQTT (own JSON, gateway batches, wmbusmeters JSON)
//! and Modbus TCP sources, validation with stored reasons, the batch writer, meter alarms.
//!
//! ```text
//! MQTT source ─┐ decode (pure)                      writer shard 0 ─┐
//!              ├─ Envelope ─▶ resolve meters ─▶ ...                   ├─ commit ─▶ ack
//! Modbus poll ─┘                                    writer shard N ─┘
//! ```

pub mod ack;
pub mod alarm_store;
pub mod alarms;
pub mod copy;
pub mod decode;
pub mod directory;
pub mod gateways;
pub mod maintenance;
pub mod modbus;
pub mod mqtt;
pub mod pipeline;
pub mod reading;
pub mod router;
pub mod service;
pub mod validate;
pub mod writer;
