//! Measurement instants: parsing the forms the payloads use into UTC and the plausibility window
//! every decoded instant must fall into (2000-01-01 up to, not including, 2200-01-01).

use chrono::{DateTime, NaiveDateTime, Utc};

/// 2000-01-01T00:00:00Z: instants before it are rejected.
const EARLIEST_SECS: i64 = 946_684_800;
/// 2200-01-01T00:00:00Z: instants from it on are rejected.
const LATEST_SECS: i64 = 7_258_118_400;

/// Which textual forms an instant may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forms {
    /// RFC 3339 with `Z` or an offset only.
    Rfc3339,
    /// RFC 3339, and also `YYYY-MM-DD HH:MM:SS` taken as UTC (wmbusmeters' local form).
    Rfc3339OrSpacedUtc,
}

/// `text` as an instant in UTC within the plausibility window, or a detail for the rejection
/// (reason `timestamp_out_of_range`). `field` names the member in the detail.
pub(crate) fn parse(text: &str, forms: Forms, field: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    let at = match DateTime::parse_from_rfc3339(text) {
        Ok(at) => at.with_timezone(&Utc),
        Err(_) => {
            let spaced = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S");
            match (forms, spaced) {
                (Forms::Rfc3339OrSpacedUtc, Ok(naive)) => naive.and_utc(),
                (Forms::Rfc3339, Ok(_)) => {
                    return Err(format!("{field} has no zone (Z or an offset)"));
                }
                (_, Err(_)) => {
                    if NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").is_ok() {
                        return Err(format!("{field} has no zone (Z or an offset)"));
                    }
                    return Err(format!("{field} is not an RFC 3339 instant"));
                }
            }
        }
    };
    let secs = at.timestamp();
    if secs < EARLIEST_SECS {
        Err(format!("{field} is before 2000-01-01"))
    } else if secs >= LATEST_SECS {
        Err(format!("{field} is after 2200"))
    } else {
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn window_bounds_are_the_stated_dates() {
        assert_eq!(
            Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
                .unwrap()
                .timestamp(),
            EARLIEST_SECS
        );
        assert_eq!(
            Utc.with_ymd_and_hms(2200, 1, 1, 0, 0, 0)
                .unwrap()
                .timestamp(),
            LATEST_SECS
        );
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        let at = parse("2026-11-21T02:05:00+01:00", Forms::Rfc3339, "at").unwrap();
        assert_eq!(at, Utc.with_ymd_and_hms(2026, 11, 21, 1, 5, 0).unwrap());
        let at = parse("2026-11-21T02:13:05Z", Forms::Rfc3339, "at").unwrap();
        assert_eq!(at, Utc.with_ymd_and_hms(2026, 11, 21, 2, 13, 5).unwrap());
    }

    #[test]
    fn spaced_form_is_utc_only_where_allowed() {
        let at = parse(
            "2026-11-21 02:13:05",
            Forms::Rfc3339OrSpacedUtc,
            "timestamp",
        )
        .unwrap();
        assert_eq!(at, Utc.with_ymd_and_hms(2026, 11, 21, 2, 13, 5).unwrap());
        let err = parse("2026-11-21 02:13:05", Forms::Rfc3339, "at").unwrap_err();
        assert!(err.contains("no zone"), "{err}");
    }

    #[test]
    fn instants_without_zone_or_outside_the_window_are_refused() {
        let no_zone = parse("2026-11-21T02:13:05", Forms::Rfc3339, "at").unwrap_err();
        assert!(no_zone.contains("no zone"), "{no_zone}");
        let early = parse("1999-12-31T23:59:59Z", Forms::Rfc3339, "at").unwrap_err();
        assert!(early.contains("before 2000"), "{early}");
        assert!(parse("2000-01-01T00:00:00Z", Forms::Rfc3339, "at").is_ok());
        assert!(parse("2199-12-31T23:59:59Z", Forms::Rfc3339, "at").is_ok());
        let late = parse("2200-01-01T00:00:00Z", Forms::Rfc3339, "at").unwrap_err();
        assert!(late.contains("after 2200"), "{late}");
        let garbage = parse("yesterday", Forms::Rfc3339OrSpacedUtc, "at").unwrap_err();
        assert!(garbage.contains("not an RFC 3339"), "{garbage}");
        assert!(parse("1111-11-11T11:11:11Z", Forms::Rfc3339OrSpacedUtc, "t").is_err());
    }
}
