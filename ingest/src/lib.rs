//! Meter readings into the time-series store: MQTT (own JSON, gateway batches, wmbusmeters JSON)
//! and Modbus TCP sources, validation with stored reasons, the batch writer, meter alarms.
//!
//! ```text
//! MQTT source ─┐ decode (pure)                      writer shard 0 ─┐
//!              ├─ Envelope ─▶ resolve meters ─▶ ...                   ├─ commit ─▶ ack
//! Modbus poll ─┘                                    writer shard N ─┘
//! ```

pub mod ack;
pub mod decode;
pub mod pipeline;
pub mod reading;
