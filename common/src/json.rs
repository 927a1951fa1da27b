//! JSON forms of dates and instants written without `core::fmt`, for types that go out in bulk
//! (a year of daily history is 365 dates and 365 instants): `serialize_with` functions for serde
//! ([`date`], [`instant`], [`instant_opt`]), and `push_*` writers that append JSON values to a
//! buffer for responses written by hand ([`push_date`], [`push_instant`], [`push_i64`],
//! [`push_str`]).
//!
//! chrono's `Serialize` goes through `Display`, and serde_json receives that text one character
//! at a time and escapes each one: `ebok bench api` spent about a fifth of the API process's CPU
//! there on one year of history (perf). These write the very same text into a stack buffer:
//! `YYYY-MM-DD` for a date, RFC 3339 with `Z` for an instant, with 0, 3, 6 or 9 fractional digits
//! as chrono chooses them. Years outside 0–9999 (never stored here) go through chrono. The
//! `push_*` writers give the same bytes as serde_json for the same value. No crate offers this
//! for chrono's types; tests compare with chrono's and serde_json's output.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use serde::{Serialize, Serializer};

/// Serializes a date as chrono does (`2026-03-29`).
pub fn date<S: Serializer>(day: &NaiveDate, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 10];
    if !put_date(&mut buf, *day) {
        return day.serialize(serializer);
    }
    serializer.serialize_str(ascii(&buf))
}

/// Serializes an instant as chrono does (`2026-03-29T01:00:00Z`, `…00.250Z`).
pub fn instant<S: Serializer>(t: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 30];
    match put_instant(&mut buf, t) {
        Some(len) => serializer.serialize_str(ascii(&buf[..len])),
        None => t.serialize(serializer),
    }
}

/// [`instant`] for an optional instant (`null` for `None`).
pub fn instant_opt<S: Serializer>(
    t: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => instant(t, serializer),
        None => serializer.serialize_none(),
    }
}

/// Appends `day` as a JSON string, as serde_json writes a `NaiveDate` (`"2026-03-29"`).
pub fn push_date(out: &mut Vec<u8>, day: NaiveDate) {
    let mut buf = [0u8; 10];
    if put_date(&mut buf, day) {
        push_quoted(out, &buf);
    } else {
        push_with_serde(out, &day);
    }
}

/// Appends `t` as a JSON string, as serde_json writes a `DateTime<Utc>`.
pub fn push_instant(out: &mut Vec<u8>, t: &DateTime<Utc>) {
    let mut buf = [0u8; 30];
    match put_instant(&mut buf, t) {
        Some(len) => push_quoted(out, &buf[..len]),
        None => push_with_serde(out, t),
    }
}

/// Appends an integer as JSON.
pub fn push_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Appends `text` as a JSON string, escaped as serde_json escapes it.
pub fn push_str(out: &mut Vec<u8>, text: &str) {
    if text
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        push_quoted(out, text.as_bytes());
    } else {
        push_with_serde(out, text);
    }
}

/// `"` + text that needs no escaping + `"`.
fn push_quoted(out: &mut Vec<u8>, plain: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(plain);
    out.push(b'"');
}

fn push_with_serde<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    serde_json::to_writer(out, value).expect("a date, an instant or a string always serializes");
}

fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("only ASCII digits and separators are written")
}

/// Writes `day` as `YYYY-MM-DD` into `buf`; false for a year outside 0–9999.
fn put_date(buf: &mut [u8; 10], day: NaiveDate) -> bool {
    let Ok(year) = u32::try_from(day.year()) else {
        return false;
    };
    if year > 9999 {
        return false;
    }
    put_digits(&mut buf[0..4], year);
    buf[4] = b'-';
    put_digits(&mut buf[5..7], day.month());
    buf[7] = b'-';
    put_digits(&mut buf[8..10], day.day());
    true
}

/// Writes `t` in chrono's RFC 3339 form into `buf`, returning its length; `None` for a year
/// outside 0–9999.
fn put_instant(buf: &mut [u8; 30], t: &DateTime<Utc>) -> Option<usize> {
    let naive = t.naive_utc();
    let mut day = [0u8; 10];
    if !put_date(&mut day, naive.date()) {
        return None;
    }
    buf[..10].copy_from_slice(&day);
    buf[10] = b'T';
    // chrono keeps a leap second as nanoseconds past 1e9 and prints it as second 60.
    let (mut nanos, mut second) = (naive.nanosecond(), naive.second());
    if nanos >= 1_000_000_000 {
        nanos -= 1_000_000_000;
        second += 1;
    }
    put_digits(&mut buf[11..13], naive.hour());
    buf[13] = b':';
    put_digits(&mut buf[14..16], naive.minute());
    buf[16] = b':';
    put_digits(&mut buf[17..19], second);
    let mut len = 19;
    let (digits, value) = if nanos == 0 {
        (0, 0)
    } else if nanos % 1_000_000 == 0 {
        (3, nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        (6, nanos / 1_000)
    } else {
        (9, nanos)
    };
    if digits > 0 {
        buf[len] = b'.';
        put_digits(&mut buf[len + 1..len + 1 + digits], value);
        len += 1 + digits;
    }
    buf[len] = b'Z';
    Some(len + 1)
}

/// Writes `value` as exactly `out.len()` decimal digits, zero-padded.
fn put_digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Serialize)]
    struct Fast {
        #[serde(serialize_with = "date")]
        day: NaiveDate,
        #[serde(serialize_with = "instant")]
        at: DateTime<Utc>,
        #[serde(serialize_with = "instant_opt")]
        maybe: Option<DateTime<Utc>>,
    }

    #[derive(Serialize)]
    struct Chrono {
        day: NaiveDate,
        at: DateTime<Utc>,
        maybe: Option<DateTime<Utc>>,
    }

    fn both(day: NaiveDate, at: DateTime<Utc>, maybe: Option<DateTime<Utc>>) -> (String, String) {
        (
            serde_json::to_string(&Fast { day, at, maybe }).unwrap(),
            serde_json::to_string(&Chrono { day, at, maybe }).unwrap(),
        )
    }

    #[test]
    fn writes_what_chrono_writes() {
        let at: DateTime<Utc> = "2026-03-29T01:00:00Z".parse().unwrap();
        let (fast, chrono) = both(at.date_naive(), at, None);
        assert_eq!(fast, chrono);
        assert_eq!(
            fast,
            r#"{"day":"2026-03-29","at":"2026-03-29T01:00:00Z","maybe":null}"#
        );
        for text in [
            "2026-10-25T00:59:59.250Z",
            "2026-10-25T00:59:59.000250Z",
            "2026-10-25T00:59:59.000000250Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
        ] {
            let t: DateTime<Utc> = text.parse().unwrap();
            let (fast, chrono) = both(t.date_naive(), t, Some(t));
            assert_eq!(fast, chrono, "{text}");
        }
    }

    #[test]
    fn a_leap_second_is_second_60() {
        let t = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        let (fast, chrono) = both(t.date_naive(), t, None);
        assert_eq!(fast, chrono);
        assert!(fast.contains("23:59:60.500Z"), "{fast}");
    }

    #[test]
    fn years_outside_four_digits_fall_back_to_chrono() {
        let t = NaiveDate::from_ymd_opt(12_345, 6, 7)
            .unwrap()
            .and_hms_opt(8, 9, 10)
            .unwrap()
            .and_utc();
        let (fast, chrono) = both(t.date_naive(), t, Some(t));
        assert_eq!(fast, chrono);
        let early = NaiveDate::from_ymd_opt(-3, 1, 2).unwrap();
        let (fast, chrono) = both(early, t, None);
        assert_eq!(fast, chrono);
    }

    fn pushed(push: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        push(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn pushed_values_are_what_serde_json_writes() {
        let at: DateTime<Utc> = "2026-10-25T00:59:59.250Z".parse().unwrap();
        let far = NaiveDate::from_ymd_opt(12_345, 6, 7).unwrap();
        let far_at = far.and_hms_opt(8, 9, 10).unwrap().and_utc();
        assert_eq!(pushed(|o| push_date(o, at.date_naive())), r#""2026-10-25""#);
        assert_eq!(
            pushed(|o| push_instant(o, &at)),
            r#""2026-10-25T00:59:59.250Z""#
        );
        for (day, t) in [(at.date_naive(), at), (far, far_at)] {
            assert_eq!(
                pushed(|o| push_date(o, day)),
                serde_json::to_string(&day).unwrap()
            );
            assert_eq!(
                pushed(|o| push_instant(o, &t)),
                serde_json::to_string(&t).unwrap()
            );
        }
        for value in [0, -1, 42, i64::MIN, i64::MAX] {
            assert_eq!(pushed(|o| push_i64(o, value)), value.to_string());
        }
    }

    proptest! {
        #[test]
        fn any_text_is_escaped_as_serde_json_escapes_it(text in any::<String>()) {
            prop_assert_eq!(pushed(|o| push_str(o, &text)), serde_json::to_string(&text).unwrap());
        }

        #[test]
        fn any_ascii_text_is_escaped_as_serde_json_escapes_it(text in "[ -~\\t\\n\\x00\\x7f]{0,40}") {
            prop_assert_eq!(pushed(|o| push_str(o, &text)), serde_json::to_string(&text).unwrap());
        }

        #[test]
        fn any_instant_is_written_as_chrono_writes_it(
            seconds in -62_135_596_800i64..253_402_300_799,
            nanos in prop_oneof![
                Just(0u32),
                (0u32..1_000).prop_map(|ms| ms * 1_000_000),
                (0u32..1_000_000).prop_map(|us| us * 1_000),
                0u32..1_000_000_000,
            ],
        ) {
            let t = DateTime::from_timestamp(seconds, nanos).unwrap();
            let (fast, chrono) = both(t.date_naive(), t, Some(t));
            prop_assert_eq!(fast, chrono);
            prop_assert_eq!(pushed(|o| push_instant(o, &t)), serde_json::to_string(&t).unwrap());
            prop_assert_eq!(
                pushed(|o| push_date(o, t.date_naive())),
                serde_json::to_string(&t.date_naive()).unwrap()
            );
        }
    }
}
