//! Payload decoders: pure functions from a message's bytes to [`Decoded`] readings and
//! rejections, as `docs/ingest.md` specifies the payloads. No I/O, no clock, no meter lookup:
//! only what the payload itself says is checked here (shape, fields, numbers, instants, media);
//! everything that needs the database or the current time is validation's.
//!
//! - [`decode_own`]: the project's own JSON, a single reading or a gateway batch ([`own`]).
//! - [`decode_wmbusmeters`]: one wmbusmeters telegram JSON ([`wmbusmeters`]).
//! - [`m3_to_litres`], [`parse_decimal_scaled`]: exact decimal conversion ([`decimal`]).
//!
//! Whole-message problems (too large, not UTF-8, not JSON, wrong shape, batch too large) give a
//! single rejection; problems of one reading give one rejection for that reading and leave the
//! others of the batch alone.
//!
//! [`Decoded`]: crate::reading::Decoded

pub mod decimal;
mod instant;
mod json;
pub mod own;
pub mod wmbusmeters;

pub use decimal::{DecimalError, m3_to_litres, parse_decimal_scaled};
pub use own::decode_own;
pub use wmbusmeters::decode_wmbusmeters;

/// Bounds on what one message may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Larger payloads are rejected unread (`payload_too_large`).
    pub max_payload_bytes: usize,
    /// Batches with more readings are rejected as a whole (`batch_too_large`).
    pub max_batch_readings: usize,
}

impl Limits {
    pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;
    pub const DEFAULT_MAX_BATCH_READINGS: usize = 10_000;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_payload_bytes: Self::DEFAULT_MAX_PAYLOAD_BYTES,
            max_batch_readings: Self::DEFAULT_MAX_BATCH_READINGS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_limits_are_four_mebibytes_and_ten_thousand_readings() {
        let limits = Limits::default();
        assert_eq!(limits.max_payload_bytes, 4_194_304);
        assert_eq!(limits.max_batch_readings, 10_000);
    }
}
