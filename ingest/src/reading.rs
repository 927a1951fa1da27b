//! What decoders produce and validation consumes: readings as a payload states them (before the
//! meter is resolved) and rejections with their reasons.

use chrono::{DateTime, Utc};
use ebok_common::domain::{ReadingFlags, ReadingSource};
use serde::Serialize;

/// How a payload names its meter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum MeterRef {
    /// The serial number printed on the meter.
    Serial(String),
    /// The wireless M-Bus address: 8 hexadecimal digits, stored lower-case.
    RadioId(String),
}

impl MeterRef {
    /// A radio id in canonical form, if `raw` is 8 hexadecimal digits.
    pub fn radio_id(raw: &str) -> Option<MeterRef> {
        let raw = raw.trim();
        (raw.len() == 8 && raw.chars().all(|c| c.is_ascii_hexdigit()))
            .then(|| MeterRef::RadioId(raw.to_ascii_lowercase()))
    }

    /// A serial number, if `raw` is non-empty and printable (at most 32 characters).
    pub fn serial(raw: &str) -> Option<MeterRef> {
        let raw = raw.trim();
        (!raw.is_empty() && raw.len() <= 32 && raw.chars().all(|c| c.is_ascii_graphic()))
            .then(|| MeterRef::Serial(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            MeterRef::Serial(s) | MeterRef::RadioId(s) => s,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            MeterRef::Serial(_) => "serial",
            MeterRef::RadioId(_) => "radio_id",
        }
    }
}

/// A reading as decoded from a payload: the meter as named, the instant, the register value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawReading {
    pub meter: MeterRef,
    pub measured_at: DateTime<Utc>,
    /// Register value in litres; validation rejects negative values.
    pub litres: i64,
    /// Only device bits (`ReadingFlags::DEVICE_MASK`).
    pub device_flags: ReadingFlags,
    pub source: ReadingSource,
}

/// Why an item was not stored. The string form is what the database and metrics use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    MalformedPayload,
    PayloadTooLarge,
    BatchTooLarge,
    MissingField,
    NonNumericValue,
    NegativeValue,
    AboveRegisterMax,
    FutureTimestamp,
    TimestampOutOfRange,
    MeterNotInstalled,
    NotAWaterMeter,
    ConflictingDuplicate,
}

impl RejectReason {
    pub const ALL: [RejectReason; 12] = [
        RejectReason::MalformedPayload,
        RejectReason::PayloadTooLarge,
        RejectReason::BatchTooLarge,
        RejectReason::MissingField,
        RejectReason::NonNumericValue,
        RejectReason::NegativeValue,
        RejectReason::AboveRegisterMax,
        RejectReason::FutureTimestamp,
        RejectReason::TimestampOutOfRange,
        RejectReason::MeterNotInstalled,
        RejectReason::NotAWaterMeter,
        RejectReason::ConflictingDuplicate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::MalformedPayload => "malformed_payload",
            RejectReason::PayloadTooLarge => "payload_too_large",
            RejectReason::BatchTooLarge => "batch_too_large",
            RejectReason::MissingField => "missing_field",
            RejectReason::NonNumericValue => "non_numeric_value",
            RejectReason::NegativeValue => "negative_value",
            RejectReason::AboveRegisterMax => "above_register_max",
            RejectReason::FutureTimestamp => "future_timestamp",
            RejectReason::TimestampOutOfRange => "timestamp_out_of_range",
            RejectReason::MeterNotInstalled => "meter_not_installed",
            RejectReason::NotAWaterMeter => "not_a_water_meter",
            RejectReason::ConflictingDuplicate => "conflicting_duplicate",
        }
    }
}

/// One rejected message or element, with enough context for an operator to find its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: RejectReason,
    /// A short English explanation, e.g. the missing field's name or the parse error.
    pub detail: String,
    /// The meter as the payload named it, when known.
    pub meter: Option<MeterRef>,
    pub measured_at: Option<DateTime<Utc>>,
    /// The offending element (or the start of the payload), at most [`Rejection::SAMPLE_BYTES`].
    pub sample: Option<String>,
}

impl Rejection {
    pub const SAMPLE_BYTES: usize = 2048;

    pub fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            detail: detail.into(),
            meter: None,
            measured_at: None,
            sample: None,
        }
    }

    /// Attaches the offending text, cut at a character boundary to at most `SAMPLE_BYTES`.
    pub fn with_sample(mut self, text: &str) -> Self {
        let mut end = text.len().min(Self::SAMPLE_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.sample = Some(text[..end].to_string());
        self
    }

    pub fn with_meter(mut self, meter: MeterRef) -> Self {
        self.meter = Some(meter);
        self
    }
}

/// What one message decoded to: the readings to validate and the elements already rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoded {
    pub readings: Vec<RawReading>,
    pub rejected: Vec<Rejection>,
}

impl Decoded {
    /// A whole message rejected.
    pub fn rejected(rejection: Rejection) -> Self {
        Decoded {
            readings: Vec::new(),
            rejected: vec![rejection],
        }
    }
}
