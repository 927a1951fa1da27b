//! A meter reading's provenance and flags, as stored in `meter_readings`.

use serde::{Deserialize, Serialize};

/// Where a reading came from (`reading_source` in the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "reading_source", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ReadingSource {
    /// Wireless M-Bus telegram (directly, through a gateway, or via wmbusmeters).
    Radio,
    /// Polled from a Modbus TCP device.
    Modbus,
    /// Entered by a resident or staff member.
    Manual,
    /// Estimated by billing for a gap.
    Estimate,
}

impl ReadingSource {
    /// The database's and the API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadingSource::Radio => "radio",
            ReadingSource::Modbus => "modbus",
            ReadingSource::Manual => "manual",
            ReadingSource::Estimate => "estimate",
        }
    }
}

/// Bit flags of a stored reading (`meter_readings.flags`). The low 16 bits are what the device
/// reported; the high bits are what validation found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReadingFlags(pub i32);

impl ReadingFlags {
    pub const LEAK: i32 = 1 << 0;
    pub const BURST: i32 = 1 << 1;
    pub const BACKFLOW: i32 = 1 << 2;
    /// Tampering, including a magnet held to the meter.
    pub const TAMPER: i32 = 1 << 3;
    pub const DRY: i32 = 1 << 4;
    pub const LOW_BATTERY: i32 = 1 << 5;
    /// Any other error the device reports.
    pub const DEVICE_ERROR: i32 = 1 << 6;

    /// The register wrapped past its maximum since the previous reading.
    pub const ROLLOVER: i32 = 1 << 16;
    /// The register went down without a plausible rollover.
    pub const DECREASE: i32 = 1 << 17;
    /// Another, different value was offered for the same meter and instant.
    pub const CONFLICT: i32 = 1 << 18;
    /// More water than the meter can physically pass since the previous reading.
    pub const IMPLAUSIBLE: i32 = 1 << 19;

    pub const DEVICE_MASK: i32 = 0xFFFF;

    pub fn contains(self, flag: i32) -> bool {
        self.0 & flag == flag
    }

    pub fn with(self, flag: i32) -> Self {
        Self(self.0 | flag)
    }

    pub fn device(self) -> Self {
        Self(self.0 & Self::DEVICE_MASK)
    }
}
