//! Acknowledging a message only after all of its readings are committed (placeholder type,
//! filled in with the MQTT source).

/// Held by every reading of one message; the message is acknowledged when the last holder is
/// dropped after its batch committed.
#[derive(Debug, Clone)]
pub struct Ack;
