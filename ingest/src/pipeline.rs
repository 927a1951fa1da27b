//! What a source (MQTT, Modbus) hands to the writers: one message's decoded readings, where they
//! came from, and how to acknowledge the message once all of them are committed.

use crate::reading::Decoded;

/// Where a message came from, for rejections and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Mqtt {
        topic: String,
    },
    Modbus {
        device: String,
    },
    /// Readings replayed from quarantine.
    Quarantine,
}

impl Origin {
    pub fn source(&self) -> &'static str {
        match self {
            Origin::Mqtt { .. } => "mqtt",
            Origin::Modbus { .. } => "modbus",
            Origin::Quarantine => "quarantine",
        }
    }

    /// The topic or device name.
    pub fn name(&self) -> &str {
        match self {
            Origin::Mqtt { topic } => topic,
            Origin::Modbus { device } => device,
            Origin::Quarantine => "quarantine",
        }
    }
}

/// A decoded message on its way to the writers.
#[derive(Debug)]
pub struct Envelope {
    pub origin: Origin,
    /// The utility (slug) the message belongs to: the topic's utility level, the Modbus
    /// device's configured utility, or the held reading's. Meters resolve only within it.
    pub utility: String,
    pub decoded: Decoded,
    /// Settled when every reading of the message is committed; `None` for sources that do not
    /// acknowledge (Modbus polls again anyway).
    pub ack: Option<crate::ack::Ack>,
}
