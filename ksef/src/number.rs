//! The KSeF number KSeF gives an accepted invoice: `NNNNNNNNNN-YYYYMMDD-XXXXXXXXXXXX-CC`, 35
//! characters: the seller's NIP, the day KSeF took the invoice, twelve upper-case hex digits of
//! KSeF's own, and a CRC-8 (polynomial 0x07, initial value 0, the CRC-8/SMBUS variant) of the
//! first 32 characters as two upper-case hex digits (`faktury/numer-ksef.md` of the Ministry's
//! documentation; checked against its examples below).

use chrono::NaiveDate;

/// CRC-8, polynomial 0x07, initial value 0, no reflection.
pub fn crc8(bytes: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &byte in bytes {
        crc ^= byte;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The number of an invoice of `nip` taken on `day` with KSeF's part `technical` (48 bits).
pub fn make(nip: &str, day: NaiveDate, technical: u64) -> String {
    let head = format!(
        "{nip}-{}-{:012X}",
        day.format("%Y%m%d"),
        technical & 0xFFFF_FFFF_FFFF
    );
    format!("{head}-{:02X}", crc8(head.as_bytes()))
}

/// Is `number` a well-formed KSeF number with a right check sum?
pub fn is_valid(number: &str) -> bool {
    let bytes = number.as_bytes();
    if bytes.len() != 35 || bytes[10] != b'-' || bytes[19] != b'-' || bytes[32] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| bytes[r].iter().all(u8::is_ascii_digit);
    let hex = |r: std::ops::Range<usize>| {
        bytes[r]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))
    };
    digits(0..10)
        && digits(11..19)
        && hex(20..32)
        && hex(33..35)
        && u8::from_str_radix(&number[33..35], 16).ok() == Some(crc8(&bytes[..32]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ministrys_examples_check() {
        for number in [
            "5265877635-20250826-0100001AF629-AF",
            "5265877635-20250916-0200A0D6723E-C2",
            "5265877635-20250626-010080DD2B5E-26",
        ] {
            assert!(is_valid(number), "{number}");
        }
        assert!(!is_valid("5265877635-20250826-0100001AF629-AE"));
        assert!(!is_valid("5265877635-20250826-0100001af629-AF"));
        assert!(!is_valid("5265877635-20250826-0100001AF629"));
    }

    #[test]
    fn made_numbers_are_valid() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        let number = make("5260250274", day, 0x0100001AF629);
        assert_eq!(&number[..32], "5260250274-20261205-0100001AF629");
        assert!(is_valid(&number));
    }
}
