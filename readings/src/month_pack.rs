//! Packed months of day readings (`meter_month_readings`, migration 0013), as history reads
//! them. Ingest's maintenance packs each month once it has closed
//! (`ebok_ingest::maintenance::pack_closed_months`); a trigger repacks a packed month when one
//! of its days changes.
//!
//! A packed month is one `bytea` of 37-byte records, one per day with a reading, each field as
//! PostgreSQL's binary protocol sends it (big-endian): the day as days since 2000-01-01, the
//! day's last reading (its instant as microseconds since 2000-01-01 UTC, its litres, a one-byte
//! source code), then the day's first reading (instant and litres). Migrations 0013 and 0020
//! document the layout and write it; this module reads it. Hand-written because it
//! is our own format: a history reads twelve of these instead of 365 rows (see
//! `ebok_readings::history`).

use chrono::{DateTime, NaiveDate, Utc};
use ebok_common::domain::ReadingSource;

/// Bytes per day record.
pub const RECORD: usize = 37;

/// The one-byte code of a source in a packed month (`reading_source_code` in SQL).
pub fn source_code(source: ReadingSource) -> u8 {
    match source {
        ReadingSource::Radio => 0,
        ReadingSource::Modbus => 1,
        ReadingSource::Manual => 2,
        ReadingSource::Estimate => 3,
    }
}

fn source_of(code: u8) -> Option<ReadingSource> {
    Some(match code {
        0 => ReadingSource::Radio,
        1 => ReadingSource::Modbus,
        2 => ReadingSource::Manual,
        3 => ReadingSource::Estimate,
        _ => return None,
    })
}

/// One day of a packed month: its last reading and its first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedDay {
    pub day: NaiveDate,
    pub measured_at: DateTime<Utc>,
    pub litres: i64,
    pub source: ReadingSource,
    pub first_measured_at: DateTime<Utc>,
    pub first_litres: i64,
}

/// A packed month that does not decode: the database and this module disagree on the layout.
#[derive(Debug, thiserror::Error)]
#[error("packed month readings: {0}")]
pub struct Malformed(&'static str);

/// PostgreSQL's epoch (2000-01-01) as days from the Common Era and as Unix microseconds.
const EPOCH_DAYS_FROM_CE: i32 = 730_120;
const EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

/// The days of packed months laid end to end (several months' `days` concatenated).
pub fn decode(bytes: &[u8]) -> Result<Vec<PackedDay>, Malformed> {
    if !bytes.len().is_multiple_of(RECORD) {
        return Err(Malformed("length is not a whole number of records"));
    }
    bytes
        .chunks_exact(RECORD)
        .map(|r| {
            let int8 = |at: usize| i64::from_be_bytes(r[at..at + 8].try_into().expect("8 bytes"));
            let days = i32::from_be_bytes(r[0..4].try_into().expect("4 bytes"));
            let day = days
                .checked_add(EPOCH_DAYS_FROM_CE)
                .and_then(NaiveDate::from_num_days_from_ce_opt)
                .ok_or(Malformed("day out of range"))?;
            let instant = |at: usize| {
                int8(at)
                    .checked_add(EPOCH_UNIX_MICROS)
                    .and_then(DateTime::from_timestamp_micros)
                    .ok_or(Malformed("instant out of range"))
            };
            let source = source_of(r[20]).ok_or(Malformed("unknown source code"))?;
            Ok(PackedDay {
                day,
                measured_at: instant(4)?,
                litres: int8(12),
                source,
                first_measured_at: instant(21)?,
                first_litres: int8(29),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record whose first reading is an hour before its last and 10 litres less.
    fn record(days: i32, micros: i64, litres: i64, code: u8) -> Vec<u8> {
        let mut r = days.to_be_bytes().to_vec();
        r.extend(micros.to_be_bytes());
        r.extend(litres.to_be_bytes());
        r.push(code);
        r.extend((micros - 3_600_000_000).to_be_bytes());
        r.extend((litres - 10).to_be_bytes());
        r
    }

    #[test]
    fn decodes_records_laid_end_to_end() {
        // 2026-03-29 (9,584 days after 2000-01-01), 21:30:00.000001 UTC; then one before 2000.
        let instant: DateTime<Utc> = "2026-03-29T21:30:00.000001Z".parse().unwrap();
        let micros = instant.timestamp_micros() - EPOCH_UNIX_MICROS;
        let mut bytes = record(9_584, micros, 1_234_567, 2);
        bytes.extend(record(-1, -1_000_000, 0, 0));
        let days = decode(&bytes).unwrap();
        assert_eq!(
            days,
            vec![
                PackedDay {
                    day: NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(),
                    measured_at: instant,
                    litres: 1_234_567,
                    source: ReadingSource::Manual,
                    first_measured_at: "2026-03-29T20:30:00.000001Z".parse().unwrap(),
                    first_litres: 1_234_557,
                },
                PackedDay {
                    day: NaiveDate::from_ymd_opt(1999, 12, 31).unwrap(),
                    measured_at: "1999-12-31T23:59:59Z".parse().unwrap(),
                    litres: 0,
                    source: ReadingSource::Radio,
                    first_measured_at: "1999-12-31T22:59:59Z".parse().unwrap(),
                    first_litres: -10,
                },
            ]
        );
        assert!(decode(&[]).unwrap().is_empty());
    }

    #[test]
    fn refuses_a_torn_record_and_an_unknown_source() {
        assert!(decode(&record(1, 0, 0, 0)[..36]).is_err());
        assert!(decode(&record(1, 0, 0, 255)).is_err());
        assert!(decode(&record(1, i64::MAX, 0, 0)).is_err());
    }

    #[test]
    fn source_codes_round_trip() {
        for source in [
            ReadingSource::Radio,
            ReadingSource::Modbus,
            ReadingSource::Manual,
            ReadingSource::Estimate,
        ] {
            assert_eq!(source_of(source_code(source)), Some(source));
        }
    }
}
