//! Meter readings into the time-series store: MQTT (own JSON, gateway batches, wmbusmeters JSON)
//! and Modbus TCP sources, validation with stored reasons, the batch writer, meter alarms.
//!
//! Being built for issue 3; nothing here yet.
