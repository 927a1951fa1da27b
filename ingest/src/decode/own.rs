//! The project's own JSON (`docs/ingest.md`, "The project's own JSON"): one reading per message,
//! or a gateway batch (an object with a `readings` array) whose elements are decoded and rejected
//! one by one.
//!
//! The hot path is a 10,000-reading batch: the message is parsed into borrowed raw values (no
//! copies of numbers or strings), each element is parsed on its own from its raw text (which is
//! also its rejection sample), and the only allocation per good reading is its meter reference.

use chrono::{DateTime, Utc};
use ebok_common::domain::{ReadingFlags, ReadingSource};
use serde::de::{DeserializeSeed, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::Limits;
use super::decimal::{self, DecimalError, Scaled};
use super::instant::{self, Forms};
use super::json::{self, Field, Kind};
use crate::reading::{Decoded, MeterRef, RawReading, RejectReason, Rejection};

/// What is wrong with one reading: the reason and a short detail.
pub(super) type Problem = (RejectReason, String);

/// The members of a reading, and of a batch (`readings`), as raw JSON; anything else (`gateway`,
/// `sent_at`, extensions) is skipped.
#[derive(Deserialize)]
struct OwnFields<'a> {
    #[serde(borrow, default)]
    serial: Field<'a>,
    #[serde(borrow, default)]
    radio_id: Field<'a>,
    #[serde(borrow, default)]
    at: Field<'a>,
    #[serde(borrow, default)]
    litres: Field<'a>,
    #[serde(borrow, default)]
    m3: Field<'a>,
    #[serde(borrow, default)]
    alarms: Field<'a>,
    #[serde(borrow, default)]
    readings: Field<'a>,
}

impl OwnFields<'_> {
    /// Whether any member of a single reading is there.
    fn looks_like_a_reading(&self) -> bool {
        [self.serial, self.radio_id, self.at, self.litres, self.m3]
            .iter()
            .any(|f| f.0.is_some())
    }
}

/// Decodes one message of the project's own JSON: a single reading or a gateway batch.
pub fn decode_own(payload: &[u8], limits: &Limits) -> Decoded {
    let text = match json::preflight(payload, limits) {
        Ok(text) => text,
        Err(rejection) => return Decoded::rejected(rejection),
    };
    let fields: OwnFields<'_> = match serde_json::from_str(text) {
        Ok(fields) => fields,
        Err(e) => {
            return Decoded::rejected(json::malformed_whole(format!("malformed JSON: {e}"), text));
        }
    };
    if let Some(readings) = fields.readings.0 {
        return decode_batch(text, readings, limits);
    }
    if !fields.looks_like_a_reading() {
        return Decoded::rejected(json::malformed_whole(
            "neither a reading nor a batch: no readings, serial, radio_id, at, litres or m3"
                .to_string(),
            text,
        ));
    }
    let mut decoded = Decoded::default();
    decode_reading(&fields, text, &mut decoded);
    decoded
}

fn decode_batch(text: &str, readings: &RawValue, limits: &Limits) -> Decoded {
    let kind = Kind::of(readings);
    if kind != Kind::Array {
        return Decoded::rejected(json::malformed_whole(
            format!("readings must be an array, not {}", kind.described()),
            text,
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_str(readings.get());
    let elements = match (ElementsSeed {
        limit: limits.max_batch_readings,
    })
    .deserialize(&mut deserializer)
    {
        Ok(elements) => elements,
        Err(e) => {
            return Decoded::rejected(json::malformed_whole(format!("malformed JSON: {e}"), text));
        }
    };
    if elements.total > limits.max_batch_readings {
        return Decoded::rejected(
            Rejection::new(
                RejectReason::BatchTooLarge,
                format!(
                    "batch of {} readings, at most {} allowed",
                    elements.total, limits.max_batch_readings
                ),
            )
            .with_sample(text),
        );
    }

    let mut decoded = Decoded {
        readings: Vec::with_capacity(elements.items.len()),
        rejected: Vec::new(),
    };
    for raw in elements.items {
        let sample = raw.get();
        let kind = Kind::of(raw);
        if kind != Kind::Object {
            decoded.rejected.push(
                Rejection::new(
                    RejectReason::MalformedPayload,
                    format!("a reading must be an object, not {}", kind.described()),
                )
                .with_sample(sample),
            );
            continue;
        }
        match serde_json::from_str::<OwnFields<'_>>(sample) {
            Ok(fields) => decode_reading(&fields, sample, &mut decoded),
            Err(e) => decoded.rejected.push(
                Rejection::new(
                    RejectReason::MalformedPayload,
                    format!("malformed reading: {e}"),
                )
                .with_sample(sample),
            ),
        }
    }
    decoded
}

/// The elements of a `readings` array as raw values, keeping at most `limit` of them but
/// counting all.
struct Elements<'a> {
    items: Vec<&'a RawValue>,
    total: usize,
}

struct ElementsSeed {
    limit: usize,
}

impl<'de> DeserializeSeed<'de> for ElementsSeed {
    type Value = Elements<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ElementsSeed {
    type Value = Elements<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of readings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(self.limit.min(1024));
        let mut total = 0usize;
        loop {
            if total < self.limit {
                match seq.next_element::<&'de RawValue>()? {
                    Some(raw) => items.push(raw),
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            total += 1;
        }
        Ok(Elements { items, total })
    }
}

/// Decodes one reading (a whole message or a batch element, `sample` being its text) into a
/// reading or a rejection.
fn decode_reading(fields: &OwnFields<'_>, sample: &str, decoded: &mut Decoded) {
    let meter = meter_ref(fields);
    let measured_at = measured_at(fields);
    let rest = volume(fields).and_then(|litres| Ok((litres, alarm_flags(fields)?)));
    let mut reject = |(reason, detail): Problem, meter, measured_at| {
        let mut rejection = Rejection::new(reason, detail).with_sample(sample);
        rejection.meter = meter;
        rejection.measured_at = measured_at;
        decoded.rejected.push(rejection);
    };
    // The first problem wins: meter, instant, volume, alarms.
    match (meter, measured_at, rest) {
        (Ok(meter), Ok(measured_at), Ok((litres, device_flags))) => {
            decoded.readings.push(RawReading {
                meter,
                measured_at,
                litres,
                device_flags,
                source: ReadingSource::Radio,
            });
        }
        (Err(problem), measured_at, _) => reject(problem, None, measured_at.ok()),
        (Ok(meter), Err(problem), _) => reject(problem, Some(meter), None),
        (Ok(meter), Ok(measured_at), Err(problem)) => {
            reject(problem, Some(meter), Some(measured_at))
        }
    }
}

fn meter_ref(fields: &OwnFields<'_>) -> Result<MeterRef, Problem> {
    let malformed = |detail: String| (RejectReason::MalformedPayload, detail);
    match (fields.serial.0, fields.radio_id.0) {
        (Some(_), Some(_)) => Err(malformed(
            "both serial and radio_id given; exactly one names the meter".to_string(),
        )),
        (None, None) => Err((RejectReason::MissingField, "serial or radio_id".to_string())),
        (Some(raw), None) => {
            let text = json::as_str(raw).ok_or_else(|| {
                malformed(format!(
                    "serial must be a string, not {}",
                    Kind::of(raw).described()
                ))
            })?;
            MeterRef::serial(&text).ok_or_else(|| {
                malformed("serial must be 1 to 32 printable ASCII characters".to_string())
            })
        }
        (None, Some(raw)) => {
            let text = json::as_str(raw).ok_or_else(|| {
                malformed(format!(
                    "radio_id must be a string, not {}",
                    Kind::of(raw).described()
                ))
            })?;
            MeterRef::radio_id(&text)
                .ok_or_else(|| malformed("radio_id must be 8 hexadecimal digits".to_string()))
        }
    }
}

fn measured_at(fields: &OwnFields<'_>) -> Result<DateTime<Utc>, Problem> {
    let Some(raw) = fields.at.0 else {
        return Err((RejectReason::MissingField, "at".to_string()));
    };
    let text = json::as_str(raw).ok_or_else(|| {
        (
            RejectReason::TimestampOutOfRange,
            format!(
                "at must be an RFC 3339 string, not {}",
                Kind::of(raw).described()
            ),
        )
    })?;
    instant::parse(&text, Forms::Rfc3339, "at")
        .map_err(|detail| (RejectReason::TimestampOutOfRange, detail))
}

fn volume(fields: &OwnFields<'_>) -> Result<i64, Problem> {
    match (fields.litres.0, fields.m3.0) {
        (Some(_), Some(_)) => Err((
            RejectReason::MalformedPayload,
            "both litres and m3 given; exactly one is the volume".to_string(),
        )),
        (None, None) => Err((RejectReason::MissingField, "litres or m3".to_string())),
        (Some(raw), None) => litres(raw),
        (None, Some(raw)) => cubic_metres(raw, "m3"),
    }
}

/// `litres`: a JSON number with an integral value (`123`, also `1e3` or `12.0`).
fn litres(raw: &RawValue) -> Result<i64, Problem> {
    let non_numeric = |detail: String| (RejectReason::NonNumericValue, detail);
    let Some(text) = json::number_text(raw) else {
        return Err(non_numeric(format!(
            "litres must be an integer number, not {}",
            Kind::of(raw).described()
        )));
    };
    let scaled = match text.parse::<i64>() {
        Ok(value) => Scaled {
            value,
            exact: true,
            below_zero: value < 0,
        },
        Err(_) => decimal::scale(text, 0).map_err(|e| match e {
            DecimalError::Overflow => non_numeric("litres is out of range".to_string()),
            DecimalError::Invalid => non_numeric("litres is not a number".to_string()),
        })?,
    };
    if !scaled.exact {
        return Err(non_numeric(
            "litres must be a whole number of litres (use m3 for fractions)".to_string(),
        ));
    }
    not_below_zero(scaled, "litres")
}

/// A volume in cubic metres: a JSON number or a decimal string, converted exactly to litres.
pub(super) fn cubic_metres(raw: &RawValue, field: &str) -> Result<i64, Problem> {
    let non_numeric = |detail: String| (RejectReason::NonNumericValue, detail);
    let owned;
    let text = match Kind::of(raw) {
        Kind::Number => raw.get().trim(),
        Kind::String => {
            owned = json::as_str(raw).unwrap_or_default();
            &*owned
        }
        kind => {
            return Err(non_numeric(format!(
                "{field} must be a number or a decimal string, not {}",
                kind.described()
            )));
        }
    };
    let scaled = decimal::scale(text, 3).map_err(|e| match e {
        DecimalError::Overflow => non_numeric(format!("{field} is out of range")),
        DecimalError::Invalid => non_numeric(format!("{field} is not a decimal number")),
    })?;
    not_below_zero(scaled, field)
}

fn not_below_zero(scaled: Scaled, field: &str) -> Result<i64, Problem> {
    if scaled.below_zero {
        Err((RejectReason::NegativeValue, format!("{field} is negative")))
    } else {
        Ok(scaled.value)
    }
}

fn alarm_flags(fields: &OwnFields<'_>) -> Result<ReadingFlags, Problem> {
    let Some(raw) = fields.alarms.0 else {
        return Ok(ReadingFlags::default());
    };
    match Kind::of(raw) {
        Kind::Null => Ok(ReadingFlags::default()),
        Kind::Array => serde_json::from_str::<AlarmNames>(raw.get())
            .map(|names| ReadingFlags(names.0))
            .map_err(|e| {
                (
                    RejectReason::MalformedPayload,
                    format!("malformed alarms: {e}"),
                )
            }),
        kind => Err((
            RejectReason::MalformedPayload,
            format!("alarms must be a list of names, not {}", kind.described()),
        )),
    }
}

/// The device flag of an alarm name; unknown names (and non-strings) count for nothing.
fn alarm_flag(name: &str) -> i32 {
    const NAMES: [(&str, i32); 8] = [
        ("leak", ReadingFlags::LEAK),
        ("burst", ReadingFlags::BURST),
        ("backflow", ReadingFlags::BACKFLOW),
        ("tamper", ReadingFlags::TAMPER),
        ("magnet", ReadingFlags::TAMPER),
        ("dry", ReadingFlags::DRY),
        ("low_battery", ReadingFlags::LOW_BATTERY),
        ("error", ReadingFlags::DEVICE_ERROR),
    ];
    let name = name.trim();
    NAMES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map_or(0, |&(_, flag)| flag)
}

/// The flags of an `alarms` array, read without collecting the names.
struct AlarmNames(i32);

impl<'de> Deserialize<'de> for AlarmNames {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NamesVisitor;
        impl<'de> Visitor<'de> for NamesVisitor {
            type Value = AlarmNames;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of alarm names")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AlarmNames, A::Error> {
                let mut flags = 0;
                while let Some(raw) = seq.next_element::<&'de RawValue>()? {
                    if let Some(name) = json::as_str(raw) {
                        flags |= alarm_flag(&name);
                    }
                }
                Ok(AlarmNames(flags))
            }
        }
        deserializer.deserialize_seq(NamesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde_json::json;

    fn decode(payload: &str) -> Decoded {
        decode_own(payload.as_bytes(), &Limits::default())
    }

    /// The one rejection of a message that must be rejected whole or have one bad reading.
    fn only_rejection(decoded: &Decoded) -> &Rejection {
        assert!(
            decoded.readings.is_empty(),
            "unexpected readings: {decoded:?}"
        );
        assert_eq!(decoded.rejected.len(), 1, "{decoded:?}");
        &decoded.rejected[0]
    }

    fn only_reading(decoded: &Decoded) -> &RawReading {
        assert!(
            decoded.rejected.is_empty(),
            "unexpected rejections: {decoded:?}"
        );
        assert_eq!(decoded.readings.len(), 1, "{decoded:?}");
        &decoded.readings[0]
    }

    fn reason_of(payload: &str) -> (RejectReason, String) {
        let decoded = decode(payload);
        let rejection = only_rejection(&decoded);
        (rejection.reason, rejection.detail.clone())
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn radio(id: &str) -> MeterRef {
        MeterRef::RadioId(id.to_string())
    }

    // ----- single readings -----

    #[test]
    fn the_documented_single_reading_decodes() {
        let decoded = decode(
            r#"{
              "serial": "A1912345678",
              "at": "2026-11-21T02:13:05Z",
              "litres": 123456,
              "alarms": ["leak"]
            }"#,
        );
        assert_eq!(
            only_reading(&decoded),
            &RawReading {
                meter: MeterRef::Serial("A1912345678".to_string()),
                measured_at: utc(2026, 11, 21, 2, 13, 5),
                litres: 123_456,
                device_flags: ReadingFlags(ReadingFlags::LEAK),
                source: ReadingSource::Radio,
            }
        );
    }

    #[test]
    fn radio_ids_are_case_insensitive_and_stored_lower_case() {
        let decoded =
            decode(r#"{"radio_id": "1A2B3C4D", "at": "2026-11-21T02:00:00Z", "litres": 1}"#);
        assert_eq!(only_reading(&decoded).meter, radio("1a2b3c4d"));
    }

    #[test]
    fn m3_as_number_or_string_converts_exactly_to_litres() {
        for (m3, litres) in [
            ("\"812.004\"", 812_004),
            ("812.004", 812_004),
            ("6.408", 6408),
            ("\"123\"", 123_000),
            ("0.0005", 1),
            ("1e2", 100_000),
            // f64 would give 0.1 + 0.2 trouble; exact decimals do not.
            ("0.3", 300),
            ("4503599627370.497", 4_503_599_627_370_497),
        ] {
            let payload =
                format!(r#"{{"serial": "A1", "at": "2026-11-21T02:00:00Z", "m3": {m3}}}"#);
            assert_eq!(only_reading(&decode(&payload)).litres, litres, "{m3}");
        }
    }

    #[test]
    fn integral_litres_written_with_a_fraction_or_exponent_are_accepted() {
        for (text, litres) in [("12.0", 12), ("1e3", 1000), ("1.5e1", 15)] {
            let payload =
                format!(r#"{{"serial": "A1", "at": "2026-11-21T02:00:00Z", "litres": {text}}}"#);
            assert_eq!(only_reading(&decode(&payload)).litres, litres, "{text}");
        }
    }

    #[test]
    fn offsets_are_stored_in_utc() {
        let decoded = decode(r#"{"serial": "A1", "at": "2026-11-21T02:05:00+01:00", "litres": 1}"#);
        assert_eq!(
            only_reading(&decoded).measured_at,
            utc(2026, 11, 21, 1, 5, 0)
        );
    }

    #[test]
    fn alarm_names_map_to_device_flags_and_unknown_names_are_ignored() {
        let decoded = decode(
            r#"{"serial": "A1", "at": "2026-11-21T02:00:00Z", "litres": 1,
                "alarms": ["leak", "burst", "backflow", "magnet", "dry", "low_battery", "error",
                           "sparkles", 42, null, "LEAK"]}"#,
        );
        let flags = only_reading(&decoded).device_flags;
        assert_eq!(
            flags,
            ReadingFlags(
                ReadingFlags::LEAK
                    | ReadingFlags::BURST
                    | ReadingFlags::BACKFLOW
                    | ReadingFlags::TAMPER
                    | ReadingFlags::DRY
                    | ReadingFlags::LOW_BATTERY
                    | ReadingFlags::DEVICE_ERROR
            )
        );
        assert_eq!(flags, flags.device());
        let tamper = decode(
            r#"{"serial": "A1", "at": "2026-11-21T02:00:00Z", "litres": 1, "alarms": ["tamper"]}"#,
        );
        assert_eq!(
            only_reading(&tamper).device_flags,
            ReadingFlags(ReadingFlags::TAMPER)
        );
    }

    #[test]
    fn empty_or_null_alarms_mean_no_flags() {
        for alarms in ["[]", "null"] {
            let payload = format!(
                r#"{{"serial": "A1", "at": "2026-11-21T02:00:00Z", "litres": 1, "alarms": {alarms}}}"#
            );
            assert_eq!(
                only_reading(&decode(&payload)).device_flags,
                ReadingFlags::default()
            );
        }
    }

    #[test]
    fn unknown_members_and_escaped_strings_are_fine() {
        let decoded = decode(
            r#"{"serial": "A\u0031", "at": "2026-11-21T02:00:00\u005A", "litres": 7,
                "firmware": {"version": [1, 2, {"deep": null}]}, "rssi": -71}"#,
        );
        let reading = only_reading(&decoded);
        assert_eq!(reading.meter, MeterRef::Serial("A1".to_string()));
        assert_eq!(reading.litres, 7);
    }

    // ----- whole-message rejections -----

    #[test]
    fn oversize_payload_is_rejected_unread_with_its_start_as_sample() {
        let limits = Limits {
            max_payload_bytes: 64,
            ..Limits::default()
        };
        let payload = format!(
            r#"{{"serial": "A1", "at": "2026-11-21T02:00:00Z", "litres": 1, "pad": "{}"}}"#,
            "x".repeat(100)
        );
        let decoded = decode_own(payload.as_bytes(), &limits);
        let rejection = only_rejection(&decoded);
        assert_eq!(rejection.reason, RejectReason::PayloadTooLarge);
        assert!(
            rejection.detail.contains("at most 64"),
            "{}",
            rejection.detail
        );
        assert!(payload.starts_with(rejection.sample.as_deref().unwrap()));
    }

    #[test]
    fn payload_over_the_default_four_mebibytes_is_too_large() {
        let mut payload = br#"{"serial": "A1", "pad": ""#.to_vec();
        payload.resize(4 * 1024 * 1024 + 1, b' ');
        let decoded = decode_own(&payload, &Limits::default());
        let rejection = only_rejection(&decoded);
        assert_eq!(rejection.reason, RejectReason::PayloadTooLarge);
        assert_eq!(
            rejection.sample.as_ref().map(String::len),
            Some(Rejection::SAMPLE_BYTES)
        );
    }

    #[test]
    fn invalid_utf8_is_malformed_with_a_lossy_sample() {
        let decoded = decode_own(b"{\"serial\": \"A\xff\xfe1\"}", &Limits::default());
        let rejection = only_rejection(&decoded);
        assert_eq!(rejection.reason, RejectReason::MalformedPayload);
        assert!(rejection.detail.contains("UTF-8"), "{}", rejection.detail);
        assert!(rejection.sample.as_deref().unwrap().contains('\u{FFFD}'));
    }

    #[test]
    fn binary_garbage_is_malformed() {
        let garbage: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let decoded = decode_own(&garbage, &Limits::default());
        assert_eq!(
            only_rejection(&decoded).reason,
            RejectReason::MalformedPayload
        );
        let decoded = decode_own(b"\x00\x01\x02{", &Limits::default());
        assert_eq!(
            only_rejection(&decoded).reason,
            RejectReason::MalformedPayload
        );
    }

    #[test]
    fn non_json_and_non_objects_are_malformed() {
        for payload in [
            "",
            "   ",
            "hello",
            "{",
            r#"{"serial": "A1""#,
            r#"{"serial": "A1", "at": "2026-11-21T02:00:00Z", "litres": 1} trailing"#,
            "[1, 2, 3]",
            r#"["A1", "2026-11-21T02:00:00Z", 1]"#,
            "42",
            "\"a string\"",
            "null",
        ] {
            assert_eq!(
                reason_of(payload).0,
                RejectReason::MalformedPayload,
                "{payload:?}"
            );
        }
    }

    #[test]
    fn an_object_that_is_neither_a_reading_nor_a_batch_is_malformed() {
        let (reason, detail) = reason_of(r#"{"_":"telegram","id":"76348799","total_m3":6.408}"#);
        assert_eq!(reason, RejectReason::MalformedPayload);
        assert!(detail.contains("neither a reading nor a batch"), "{detail}");
        assert_eq!(reason_of("{}").0, RejectReason::MalformedPayload);
    }

    #[test]
    fn duplicate_members_are_malformed() {
        let (reason, detail) = reason_of(
            r#"{"serial": "A1", "at": "2026-11-21T02:00:00Z", "litres": 1, "litres": 2}"#,
        );
        assert_eq!(reason, RejectReason::MalformedPayload);
        assert!(detail.contains("duplicate"), "{detail}");
    }

    #[test]
    fn deeply_nested_json_is_rejected_without_overflowing_the_stack() {
        let depth = 100_000;
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(reason_of(&arrays).0, RejectReason::MalformedPayload);
        let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        assert_eq!(reason_of(&objects).0, RejectReason::MalformedPayload);
        // Deep nesting inside members we skip or keep raw.
        for member in ["extra", "serial", "litres", "alarms", "readings"] {
            let payload =
                format!(r#"{{"{member}": {arrays}, "at": "2026-11-21T02:00:00Z", "m3": 1}}"#);
            let decoded = decode(&payload);
            assert!(decoded.readings.is_empty(), "{member}");
            assert_eq!(decoded.rejected.len(), 1, "{member}");
        }
        // Unclosed nesting.
        assert_eq!(
            reason_of(&"[{\"a\":".repeat(depth)).0,
            RejectReason::MalformedPayload
        );
    }

    #[test]
    fn readings_that_are_not_an_array_are_malformed() {
        let (reason, detail) = reason_of(r#"{"gateway": "gw-1", "readings": {"serial": "A1"}}"#);
        assert_eq!(reason, RejectReason::MalformedPayload);
        assert!(detail.contains("readings must be an array"), "{detail}");
    }

    // ----- element rejections (single message) -----

    #[test]
    fn missing_instant_is_a_missing_field_named_at() {
        let decoded = decode(r#"{"radio_id": "1a2b3c4d", "litres": 51230}"#);
        let rejection = only_rejection(&decoded);
        assert_eq!(rejection.reason, RejectReason::MissingField);
        assert_eq!(rejection.detail, "at");
        assert_eq!(rejection.meter, Some(radio("1a2b3c4d")));
        assert_eq!(
            rejection.sample.as_deref(),
            Some(r#"{"radio_id": "1a2b3c4d", "litres": 51230}"#)
        );
    }

    #[test]
    fn missing_meter_or_volume_is_a_missing_field() {
        let (reason, detail) = reason_of(r#"{"at": "2026-11-21T02:00:00Z", "litres": 1}"#);
        assert_eq!(reason, RejectReason::MissingField);
        assert_eq!(detail, "serial or radio_id");
        let decoded = decode(r#"{"serial": "A1", "at": "2026-11-21T02:00:00Z"}"#);
        let rejection = only_rejection(&decoded);
        assert_eq!(rejection.reason, RejectReason::MissingField);
        assert_eq!(rejection.detail, "litres or m3");
        assert_eq!(rejection.meter, Some(MeterRef::Serial("A1".to_string())));
        assert_eq!(rejection.measured_at, Some(utc(2026, 11, 21, 2, 0, 0)));
    }

    #[test]
    fn both_serial_and_radio_id_is_malformed() {
        let (reason, detail) = reason_of(
            r#"{"serial": "A1", "radio_id": "1a2b3c4d", "at": "2026-11-21T02:00:00Z", "litres": 1}"#,
        );
        assert_eq!(reason, RejectReason::MalformedPayload);
        assert!(detail.contains("both serial and radio_id"), "{detail}");
    }

    #[test]
    fn both_litres_and_m3_is_malformed() {
        let (reason, detail) =
            reason_of(r#"{"serial": "A1", "at": "2026-11-21T02:00:00Z", "litres": 1, "m3": 1}"#);
        assert_eq!(reason, RejectReason::MalformedPayload);
        assert!(detail.contains("both litres and m3"), "{detail}");
    }

    #[test]
    fn radio_ids_that_are_not_eight_hex_digits_are_malformed() {
        for id in [
            "\"1a2b3c4\"",
            "\"1a2b3c4d5\"",
            "\"1a2b3c4g\"",
            "\"\"",
            "12345678",
            "null",
        ] {
            let payload =
                format!(r#"{{"radio_id": {id}, "at": "2026-11-21T02:00:00Z", "litres": 1}}"#);
            assert_eq!(
                reason_of(&payload).0,
                RejectReason::MalformedPayload,
                "{id}"
            );
        }
    }

    #[test]
    fn unusable_serials_are_malformed() {
        for serial in ["\"\"", "\"   \"", "\"A 1\"", "\"\\u0000\"", "7", "[\"A1\"]"] {
            let payload =
                format!(r#"{{"serial": {serial}, "at": "2026-11-21T02:00:00Z", "litres": 1}}"#);
            assert_eq!(
                reason_of(&payload).0,
                RejectReason::MalformedPayload,
                "{serial}"
            );
        }
        let long = format!(
            r#"{{"serial": "{}", "at": "2026-11-21T02:00:00Z", "litres": 1}}"#,
            "A".repeat(33)
        );
        assert_eq!(reason_of(&long).0, RejectReason::MalformedPayload);
    }

    #[test]
    fn non_numeric_litres_are_rejected() {
        for litres in [
            "\"abc\"",
            "\"123\"",
            "true",
            "null",
            "{\"value\": 1}",
            "[1]",
            "12.5",
            "0.001",
            "1e-1",
            "99999999999999999999",
            "-99999999999999999999",
            "1e400",
        ] {
            let payload =
                format!(r#"{{"serial": "A1", "at": "2026-11-21T02:00:00Z", "litres": {litres}}}"#);
            let decoded = decode(&payload);
            let rejection = only_rejection(&decoded);
            assert_eq!(
                rejection.reason,
                RejectReason::NonNumericValue,
                "{litres}: {}",
                rejection.detail
            );
            assert_eq!(rejection.meter, Some(MeterRef::Serial("A1".to_string())));
        }
    }

    #[test]
    fn non_numeric_m3_is_rejected() {
        for m3 in [
            "\"12,5\"",
            "\"abc\"",
            "\"\"",
            "\" 1.5\"",
            "true",
            "null",
            "{}",
            "\"1e999999\"",
            "1e30",
        ] {
            let payload =
                format!(r#"{{"serial": "A1", "at": "2026-11-21T02:00:00Z", "m3": {m3}}}"#);
            assert_eq!(reason_of(&payload).0, RejectReason::NonNumericValue, "{m3}");
        }
    }

    #[test]
    fn negative_volumes_are_rejected_as_negative() {
        for volume in [
            r#""litres": -1"#,
            r#""litres": -1e3"#,
            r#""m3": -1.5"#,
            r#""m3": "-0.001""#,
            r#""m3": "-0.0004""#,
        ] {
            let payload =
                format!(r#"{{"radio_id": "1a2b3c4d", "at": "2026-11-21T02:00:00Z", {volume}}}"#);
            let decoded = decode(&payload);
            let rejection = only_rejection(&decoded);
            assert_eq!(rejection.reason, RejectReason::NegativeValue, "{volume}");
            assert_eq!(rejection.meter, Some(radio("1a2b3c4d")));
            assert_eq!(rejection.measured_at, Some(utc(2026, 11, 21, 2, 0, 0)));
        }
        // Zero written with a sign is zero.
        let zero = decode(r#"{"serial": "A1", "at": "2026-11-21T02:00:00Z", "m3": "-0.000"}"#);
        assert_eq!(only_reading(&zero).litres, 0);
    }

    #[test]
    fn bad_instants_are_out_of_range() {
        for (at, detail) in [
            ("\"yesterday\"", "not an RFC 3339"),
            ("\"2026-11-21T02:00:00\"", "no zone"),
            ("\"2026-11-21 02:00:00\"", "no zone"),
            ("\"2026-13-21T02:00:00Z\"", "not an RFC 3339"),
            ("\"1999-12-31T23:59:59Z\"", "before 2000"),
            ("\"1970-01-01T00:00:00Z\"", "before 2000"),
            ("\"2200-01-01T00:00:00Z\"", "after 2200"),
            ("\"9999-12-31T23:59:59Z\"", "after 2200"),
            ("1763690000", "must be an RFC 3339 string"),
            ("null", "must be an RFC 3339 string"),
        ] {
            let payload = format!(r#"{{"serial": "A1", "at": {at}, "litres": 1}}"#);
            let decoded = decode(&payload);
            let rejection = only_rejection(&decoded);
            assert_eq!(rejection.reason, RejectReason::TimestampOutOfRange, "{at}");
            assert!(
                rejection.detail.contains(detail),
                "{at}: {}",
                rejection.detail
            );
            assert_eq!(rejection.meter, Some(MeterRef::Serial("A1".to_string())));
            assert_eq!(rejection.measured_at, None);
        }
    }

    #[test]
    fn alarms_that_are_not_a_list_are_malformed() {
        let (reason, detail) = reason_of(
            r#"{"serial": "A1", "at": "2026-11-21T02:00:00Z", "litres": 1, "alarms": "leak"}"#,
        );
        assert_eq!(reason, RejectReason::MalformedPayload);
        assert!(detail.contains("alarms must be a list"), "{detail}");
    }

    #[test]
    fn the_meter_problem_is_reported_before_instant_and_volume_problems() {
        let (reason, _) = reason_of(r#"{"radio_id": "zz", "at": "x", "litres": "y"}"#);
        assert_eq!(reason, RejectReason::MalformedPayload);
        let (reason, _) = reason_of(r#"{"radio_id": "1a2b3c4d", "at": "x", "litres": "y"}"#);
        assert_eq!(reason, RejectReason::TimestampOutOfRange);
    }

    // ----- batches -----

    #[test]
    fn the_documented_batch_decodes() {
        let decoded = decode(
            r#"{
              "gateway": "gw-mlynary-01",
              "sent_at": "2026-11-21T03:00:00Z",
              "readings": [
                {"radio_id": "1a2b3c4d", "at": "2026-11-21T02:00:00Z", "litres": 51230},
                {"radio_id": "1a2b3c4d", "at": "2026-11-21T02:15:00Z", "litres": 51234},
                {"serial": "A1912345679", "at": "2026-11-21T02:05:00+01:00", "m3": "812.004", "alarms": ["low_battery"]}
              ]
            }"#,
        );
        assert!(decoded.rejected.is_empty(), "{:?}", decoded.rejected);
        assert_eq!(
            decoded.readings,
            vec![
                RawReading {
                    meter: radio("1a2b3c4d"),
                    measured_at: utc(2026, 11, 21, 2, 0, 0),
                    litres: 51_230,
                    device_flags: ReadingFlags::default(),
                    source: ReadingSource::Radio,
                },
                RawReading {
                    meter: radio("1a2b3c4d"),
                    measured_at: utc(2026, 11, 21, 2, 15, 0),
                    litres: 51_234,
                    device_flags: ReadingFlags::default(),
                    source: ReadingSource::Radio,
                },
                RawReading {
                    meter: MeterRef::Serial("A1912345679".to_string()),
                    measured_at: utc(2026, 11, 21, 1, 5, 0),
                    litres: 812_004,
                    device_flags: ReadingFlags(ReadingFlags::LOW_BATTERY),
                    source: ReadingSource::Radio,
                },
            ]
        );
    }

    #[test]
    fn a_batch_keeps_good_readings_and_rejects_each_bad_one_on_its_own() {
        let good_1 = r#"{"radio_id": "1a2b3c4d", "at": "2026-11-21T02:00:00Z", "litres": 51230}"#;
        let no_at = r#"{"radio_id": "1a2b3c4e", "litres": 1}"#;
        let text_litres = r#"{"serial": "A2", "at": "2026-11-21T02:00:00Z", "litres": "abc"}"#;
        let negative = r#"{"serial": "A3", "at": "2026-11-21T02:00:00Z", "m3": -0.5}"#;
        let old = r#"{"serial": "A4", "at": "1999-01-01T00:00:00Z", "litres": 1}"#;
        let bad_radio = r#"{"radio_id": "xyz", "at": "2026-11-21T02:00:00Z", "litres": 1}"#;
        let not_object = r#"[1, 2]"#;
        let duplicate =
            r#"{"serial": "A5", "serial": "A6", "at": "2026-11-21T02:00:00Z", "litres": 1}"#;
        let good_2 = r#"{"serial": "A7", "at": "2026-11-21T02:30:00+00:00", "m3": 0.001}"#;
        let payload = format!(
            r#"{{"gateway": "gw-1", "readings": [{good_1}, {no_at}, {text_litres}, {negative}, {old}, {bad_radio}, {not_object}, {duplicate}, {good_2}]}}"#
        );
        let decoded = decode(&payload);
        assert_eq!(decoded.readings.len(), 2);
        assert_eq!(decoded.readings[0].litres, 51_230);
        assert_eq!(
            decoded.readings[1].meter,
            MeterRef::Serial("A7".to_string())
        );
        assert_eq!(decoded.readings[1].litres, 1);
        let rejected: Vec<_> = decoded
            .rejected
            .iter()
            .map(|r| (r.reason, r.sample.as_deref().unwrap()))
            .collect();
        assert_eq!(
            rejected,
            vec![
                (RejectReason::MissingField, no_at),
                (RejectReason::NonNumericValue, text_litres),
                (RejectReason::NegativeValue, negative),
                (RejectReason::TimestampOutOfRange, old),
                (RejectReason::MalformedPayload, bad_radio),
                (RejectReason::MalformedPayload, not_object),
                (RejectReason::MalformedPayload, duplicate),
            ]
        );
        assert_eq!(decoded.rejected[0].meter, Some(radio("1a2b3c4e")));
        assert_eq!(
            decoded.rejected[2].measured_at,
            Some(utc(2026, 11, 21, 2, 0, 0))
        );
    }

    #[test]
    fn an_empty_batch_decodes_to_nothing() {
        assert_eq!(decode(r#"{"readings": []}"#), Decoded::default());
    }

    fn batch(n: usize) -> String {
        let mut payload = String::from(r#"{"gateway": "gw-mlynary-01", "readings": ["#);
        for i in 0..n {
            if i > 0 {
                payload.push(',');
            }
            payload.push_str(&format!(
                r#"{{"radio_id": "{:08x}", "at": "2026-11-21T02:{:02}:00Z", "litres": {}}}"#,
                0x1a00_0000 + i,
                i % 60,
                50_000 + i
            ));
        }
        payload.push_str("]}");
        payload
    }

    #[test]
    fn a_batch_of_exactly_ten_thousand_readings_is_accepted() {
        let decoded = decode(&batch(10_000));
        assert!(decoded.rejected.is_empty());
        assert_eq!(decoded.readings.len(), 10_000);
        assert_eq!(decoded.readings[9_999].litres, 59_999);
        assert_eq!(decoded.readings[9_999].meter, radio("1a00270f"));
    }

    #[test]
    fn a_batch_of_ten_thousand_and_one_readings_is_rejected_whole() {
        let decoded = decode(&batch(10_001));
        let rejection = only_rejection(&decoded);
        assert_eq!(rejection.reason, RejectReason::BatchTooLarge);
        assert!(rejection.detail.contains("10001"), "{}", rejection.detail);
        assert!(rejection.sample.is_some());
    }

    #[test]
    fn the_batch_limit_counts_elements_of_any_kind() {
        let limits = Limits {
            max_batch_readings: 3,
            ..Limits::default()
        };
        let decoded = decode_own(br#"{"readings": [1, "x", null, {}]}"#, &limits);
        assert_eq!(only_rejection(&decoded).reason, RejectReason::BatchTooLarge);
        let decoded = decode_own(br#"{"readings": [1, "x", {}]}"#, &limits);
        assert_eq!(decoded.rejected.len(), 3);
    }

    #[test]
    fn element_samples_are_cut_to_the_sample_size() {
        let big = format!(
            r#"{{"serial": "A1", "at": "nope", "litres": 1, "pad": "{}"}}"#,
            "é".repeat(3000)
        );
        let decoded = decode(&format!(r#"{{"readings": [{big}]}}"#));
        let sample = only_rejection(&decoded).sample.as_deref().unwrap();
        assert!(sample.len() <= Rejection::SAMPLE_BYTES);
        assert!(big.starts_with(sample));
    }

    // ----- properties -----

    fn alarm_names() -> impl Strategy<Value = Vec<&'static str>> {
        proptest::sample::subsequence(
            vec![
                "leak",
                "burst",
                "backflow",
                "tamper",
                "magnet",
                "dry",
                "low_battery",
                "error",
            ],
            0..=8,
        )
    }

    proptest! {
        #[test]
        fn a_valid_reading_round_trips(
            by_radio in any::<bool>(),
            radio_id in "[0-9a-fA-F]{8}",
            serial in "[!-~]{1,32}",
            secs in 946_684_800i64..7_258_118_400,
            offset_minutes in -14 * 60i32..=14 * 60,
            litres in 0..=i64::MAX,
            as_m3 in any::<bool>(),
            alarms in alarm_names(),
        ) {
            let measured_at = DateTime::from_timestamp(secs, 0).unwrap();
            let zone = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
            let mut reading = serde_json::Map::new();
            let meter = if by_radio {
                reading.insert("radio_id".into(), json!(radio_id));
                MeterRef::RadioId(radio_id.to_ascii_lowercase())
            } else {
                reading.insert("serial".into(), json!(serial));
                MeterRef::Serial(serial.clone())
            };
            reading.insert("at".into(), json!(measured_at.with_timezone(&zone).to_rfc3339()));
            if as_m3 {
                reading.insert("m3".into(), json!(format!("{}.{:03}", litres / 1000, litres % 1000)));
            } else {
                reading.insert("litres".into(), json!(litres));
            }
            reading.insert("alarms".into(), json!(alarms));
            let flags = alarms.iter().fold(0, |f, name| f | alarm_flag(name));
            let payload = serde_json::to_vec(&reading).unwrap();
            let decoded = decode_own(&payload, &Limits::default());
            prop_assert_eq!(decoded, Decoded {
                readings: vec![RawReading {
                    meter,
                    measured_at,
                    litres,
                    device_flags: ReadingFlags(flags),
                    source: ReadingSource::Radio,
                }],
                rejected: vec![],
            });
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in any::<Vec<u8>>()) {
            let decoded = decode_own(&bytes, &Limits::default());
            // Random bytes are (almost surely) not a reading; what matters is getting here.
            prop_assert!(decoded.readings.len() + decoded.rejected.len() <= bytes.len().max(1));
        }

        #[test]
        fn decoding_mutated_valid_payloads_never_panics(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let mut payload = br#"{"gateway": "gw-1", "readings": [
                {"radio_id": "1a2b3c4d", "at": "2026-11-21T02:00:00Z", "litres": 51230, "alarms": ["leak"]},
                {"serial": "A1912345679", "at": "2026-11-21T02:05:00+01:00", "m3": "812.004"},
                {"serial": "A1912345680", "at": "2026-11-21T02:05:00Z", "m3": 1.5e-3}
            ]}"#.to_vec();
            for (at, byte, op) in edits {
                let i = at.index(payload.len());
                match op {
                    0 => payload[i] = byte,
                    1 => payload.insert(i, byte),
                    _ => { payload.remove(i); }
                }
            }
            if truncate {
                payload.truncate(cut.index(payload.len() + 1));
            }
            let decoded = decode_own(&payload, &Limits::default());
            // What matters is getting here; every element yields one outcome at most.
            prop_assert!(decoded.readings.len() + decoded.rejected.len() <= payload.len().max(1));
        }
    }
}
