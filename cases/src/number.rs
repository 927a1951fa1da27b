//! Case numbers: the application type's prefix, the year and the case's place in that year,
//! `WTP/2026/000123`. Residents type them into the status page, so parsing forgives case,
//! spaces and missing leading zeros.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CaseNumber {
    prefix: String,
    year: i32,
    seq: u32,
}

/// Whether `prefix` can start a case number: 2 to 6 capital letters A–Z.
pub fn is_prefix(prefix: &str) -> bool {
    (2..=6).contains(&prefix.len()) && prefix.chars().all(|c| c.is_ascii_uppercase())
}

impl CaseNumber {
    /// `None` unless the prefix [`is_prefix`], the year is 2000–2999 and the place 1–999,999.
    pub fn new(prefix: &str, year: i32, seq: u32) -> Option<Self> {
        (is_prefix(prefix) && (2000..=2999).contains(&year) && (1..=999_999).contains(&seq)).then(
            || Self {
                prefix: prefix.to_string(),
                year,
                seq,
            },
        )
    }

    /// Reads what a resident typed: "WTP/2026/000123", " wtp / 2026 / 123 ".
    pub fn parse(input: &str) -> Option<Self> {
        let parts: Vec<&str> = input.split('/').map(str::trim).collect();
        let [prefix, year, seq] = parts.as_slice() else {
            return None;
        };
        if !year.chars().all(|c| c.is_ascii_digit())
            || !seq.chars().all(|c| c.is_ascii_digit())
            || seq.len() > 6
        {
            return None;
        }
        Self::new(
            &prefix.to_ascii_uppercase(),
            year.parse().ok()?,
            seq.parse().ok()?,
        )
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    pub fn seq(&self) -> u32 {
        self.seq
    }
}

impl fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{:06}", self.prefix, self.year, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_reads_back_as_it_was_written_and_forgives_typing() {
        let n = CaseNumber::new("WTP", 2026, 123).unwrap();
        assert_eq!(n.to_string(), "WTP/2026/000123");
        assert_eq!(CaseNumber::parse("WTP/2026/000123"), Some(n.clone()));
        assert_eq!(CaseNumber::parse(" wtp / 2026 / 123 "), Some(n));
        for wrong in [
            "WTP/2026",
            "WTP-2026-1",
            "W/2026/1",
            "WTP/26/1",
            "WTP/2026/0",
            "WTP/2026/1234567",
            "WT1/2026/1",
            "WTP/2026/-1",
        ] {
            assert_eq!(CaseNumber::parse(wrong), None, "{wrong}");
        }
    }
}
