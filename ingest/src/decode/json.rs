//! JSON plumbing shared by the decoders: the checks every message passes before it is parsed
//! (size, UTF-8, an object at the top), fields captured as borrowed raw JSON text so that numbers
//! keep their exact digits and nothing is allocated for fields that are fine, and turning such raw
//! values into strings.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::Limits;
use crate::reading::{RejectReason, Rejection};

/// An optional object member as raw JSON text borrowed from the payload. Unlike
/// `Option<&RawValue>`, an explicit `null` is `Some("null")`, not `None`: "present but null" and
/// "absent" are different mistakes. Use with `#[serde(borrow, default)]`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Field<'a>(pub Option<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(deserializer).map(|raw| Field(Some(raw)))
    }
}

/// The JSON type of a raw value, told by its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    pub(crate) fn of(raw: &RawValue) -> Kind {
        match raw.get().trim_start().as_bytes().first() {
            Some(b'n') => Kind::Null,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'"') => Kind::String,
            Some(b'[') => Kind::Array,
            Some(b'{') => Kind::Object,
            _ => Kind::Number,
        }
    }

    /// "a string", "null", … for details.
    pub(crate) fn described(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

/// The text of a raw JSON value that is a string, unescaped; borrowed when it has no escapes.
pub(crate) fn as_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get().trim();
    if !text.starts_with('"') {
        return None;
    }
    if text.contains('\\') {
        serde_json::from_str::<String>(text).ok().map(Cow::Owned)
    } else {
        // A raw value serde_json accepted as a string: `"` … `"`, no escapes inside.
        Some(Cow::Borrowed(&text[1..text.len() - 1]))
    }
}

/// The raw text of a number as JSON wrote it (its exact digits).
pub(crate) fn number_text(raw: &RawValue) -> Option<&str> {
    (Kind::of(raw) == Kind::Number).then(|| raw.get().trim())
}

/// The checks before parsing: size, UTF-8, and a JSON object at the top (anything else is not one
/// of our shapes). Returns the payload as text.
pub(crate) fn preflight<'a>(payload: &'a [u8], limits: &Limits) -> Result<&'a str, Rejection> {
    if payload.len() > limits.max_payload_bytes {
        return Err(Rejection::new(
            RejectReason::PayloadTooLarge,
            format!(
                "payload of {} bytes, at most {} allowed",
                payload.len(),
                limits.max_payload_bytes
            ),
        )
        .with_sample(&lossy_start(payload)));
    }
    let text = std::str::from_utf8(payload).map_err(|e| {
        Rejection::new(
            RejectReason::MalformedPayload,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
        .with_sample(&lossy_start(payload))
    })?;
    match text.trim_start().as_bytes().first() {
        Some(b'{') => Ok(text),
        None => Err(Rejection::new(
            RejectReason::MalformedPayload,
            "empty payload",
        )),
        Some(_) => Err(malformed_whole("not a JSON object".to_string(), text)),
    }
}

/// A whole message that is not JSON or not of the expected shape.
pub(crate) fn malformed_whole(detail: String, text: &str) -> Rejection {
    Rejection::new(RejectReason::MalformedPayload, detail).with_sample(text)
}

/// The start of a payload as text, invalid UTF-8 replaced, for samples.
fn lossy_start(payload: &[u8]) -> String {
    let end = payload.len().min(Rejection::SAMPLE_BYTES);
    String::from_utf8_lossy(&payload[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(borrow, default)]
        x: Field<'a>,
    }

    fn probe(json: &str) -> Option<&str> {
        let probe: Probe<'_> = serde_json::from_str(json).unwrap();
        probe.x.0.map(RawValue::get)
    }

    #[test]
    fn field_tells_null_from_absent() {
        assert_eq!(probe(r#"{"x": null}"#), Some("null"));
        assert_eq!(probe(r#"{}"#), None);
        assert_eq!(probe(r#"{"x": 6.408}"#), Some("6.408"));
    }

    #[test]
    fn strings_are_borrowed_without_escapes_and_unescaped_with() {
        let probe: Probe<'_> = serde_json::from_str(r#"{"x": "abc"}"#).unwrap();
        assert!(matches!(
            as_str(probe.x.0.unwrap()),
            Some(Cow::Borrowed("abc"))
        ));
        let probe: Probe<'_> = serde_json::from_str(r#"{"x": "a\"b\u0063"}"#).unwrap();
        assert_eq!(as_str(probe.x.0.unwrap()).as_deref(), Some("a\"bc"));
        let probe: Probe<'_> = serde_json::from_str(r#"{"x": 12}"#).unwrap();
        assert_eq!(as_str(probe.x.0.unwrap()), None);
        assert_eq!(number_text(probe.x.0.unwrap()), Some("12"));
    }

    #[test]
    fn kinds_are_told_by_the_first_byte() {
        for (json, kind) in [
            ("null", Kind::Null),
            ("true", Kind::Bool),
            ("false", Kind::Bool),
            ("-1", Kind::Number),
            ("\"s\"", Kind::String),
            ("[1]", Kind::Array),
            ("{}", Kind::Object),
        ] {
            let raw: &RawValue = serde_json::from_str(json).unwrap();
            assert_eq!(Kind::of(raw), kind, "{json}");
        }
    }
}
