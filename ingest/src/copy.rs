//! PostgreSQL binary COPY encoding of readings, the fastest way into `meter_readings` (one
//! round trip, no text parsing on the server). Hand-written because sqlx exposes the raw COPY
//! stream but no binary row encoder; the format is small and documented in the PostgreSQL manual
//! ("COPY … Binary Format").

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Utc};
use ebok_common::domain::ReadingSource;

/// The statement the encoded data belongs to. `received_at` takes its default: the writing
/// transaction's start.
pub const COPY_READINGS: &str = "COPY meter_readings (meter_id, measured_at, volume_litres, source, flags) FROM STDIN (FORMAT binary)";

/// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01T00:00:00Z).
const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

/// A binary COPY stream being built.
pub struct ReadingsCopy {
    buf: BytesMut,
    rows: usize,
}

impl Default for ReadingsCopy {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl ReadingsCopy {
    pub fn with_capacity(rows: usize) -> Self {
        let mut buf = BytesMut::with_capacity(19 + rows * 60 + 2);
        buf.put_slice(b"PGCOPY\n\xff\r\n\0");
        buf.put_i32(0); // flags: no OIDs
        buf.put_i32(0); // header extension length
        ReadingsCopy { buf, rows: 0 }
    }

    pub fn push(
        &mut self,
        meter_id: i64,
        measured_at: DateTime<Utc>,
        litres: i64,
        source: ReadingSource,
        flags: i32,
    ) {
        self.buf.put_i16(5);
        self.buf.put_i32(8);
        self.buf.put_i64(meter_id);
        self.buf.put_i32(8);
        self.buf
            .put_i64(measured_at.timestamp_micros() - PG_EPOCH_OFFSET_MICROS);
        self.buf.put_i32(8);
        self.buf.put_i64(litres);
        // An enum's binary form is its label.
        let label = source_label(source);
        self.buf.put_i32(label.len() as i32);
        self.buf.put_slice(label.as_bytes());
        self.buf.put_i32(4);
        self.buf.put_i32(flags);
        self.rows += 1;
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The complete stream, with the trailer.
    pub fn finish(mut self) -> BytesMut {
        self.buf.put_i16(-1);
        self.buf
    }
}

pub fn source_label(source: ReadingSource) -> &'static str {
    match source {
        ReadingSource::Radio => "radio",
        ReadingSource::Modbus => "modbus",
        ReadingSource::Manual => "manual",
        ReadingSource::Estimate => "estimate",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_has_header_rows_and_trailer() {
        let mut copy = ReadingsCopy::default();
        let at: DateTime<Utc> = "2000-01-01T00:00:01Z".parse().unwrap();
        copy.push(7, at, 1234, ReadingSource::Radio, 3);
        assert_eq!(copy.rows(), 1);
        let bytes = copy.finish();
        assert_eq!(&bytes[..11], b"PGCOPY\n\xff\r\n\0");
        // field count, then meter id
        assert_eq!(&bytes[19..21], &5i16.to_be_bytes());
        assert_eq!(&bytes[25..33], &7i64.to_be_bytes());
        // one second after the PostgreSQL epoch
        assert_eq!(&bytes[37..45], &1_000_000i64.to_be_bytes());
        assert_eq!(&bytes[bytes.len() - 2..], &(-1i16).to_be_bytes());
    }
}
