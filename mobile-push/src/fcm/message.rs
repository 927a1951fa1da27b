//! The FCM HTTP v1 request body for one [`PushMessage`], and the local payload limit. Pure: no
//! I/O, so the size rule and the APNs collapse id can be tested on their own.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::channel::PushMessage;

/// FCM refuses a message whose payload (the message without its target) exceeds this many
/// bytes.
pub const MAX_PAYLOAD_BYTES: usize = 4096;

/// APNs refuses an `apns-collapse-id` longer than this many bytes.
pub const MAX_APNS_COLLAPSE_ID_BYTES: usize = 64;

/// The body could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("payload is {size} bytes, FCM allows at most {MAX_PAYLOAD_BYTES}")]
    TooBig { size: usize },
    #[error("could not serialise the message: {0}")]
    Serialise(String),
}

#[derive(Serialize)]
struct Message<'a> {
    notification: Notification<'a>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    data: &'a BTreeMap<String, String>,
    android: Android<'a>,
    apns: Apns<'a>,
}

#[derive(Serialize)]
struct Notification<'a> {
    title: &'a str,
    body: &'a str,
}

#[derive(Serialize)]
struct Android<'a> {
    priority: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    collapse_key: &'a str,
}

#[derive(Serialize)]
struct Apns<'a> {
    headers: ApnsHeaders<'a>,
}

#[derive(Serialize)]
struct ApnsHeaders<'a> {
    #[serde(rename = "apns-priority")]
    priority: &'static str,
    #[serde(rename = "apns-collapse-id", skip_serializing_if = "str::is_empty")]
    collapse_id: Cow<'a, str>,
}

/// The JSON body of `messages:send` for `message`: `{"message": {"token": …, "notification": …,
/// "data": …, "android": …, "apns": …}}`. Refuses a payload over [`MAX_PAYLOAD_BYTES`], measured
/// as the serialised message without its `token`.
pub fn encode_send_body(message: &PushMessage) -> Result<Vec<u8>, EncodeError> {
    let payload = Message {
        notification: Notification {
            title: &message.title,
            body: &message.body,
        },
        data: &message.data,
        android: Android {
            priority: if message.high_priority {
                "high"
            } else {
                "normal"
            },
            collapse_key: &message.collapse_key,
        },
        apns: Apns {
            headers: ApnsHeaders {
                priority: if message.high_priority { "10" } else { "5" },
                collapse_id: apns_collapse_id(&message.collapse_key),
            },
        },
    };
    let payload =
        serde_json::to_vec(&payload).map_err(|e| EncodeError::Serialise(e.to_string()))?;
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(EncodeError::TooBig {
            size: payload.len(),
        });
    }
    let token =
        serde_json::to_vec(&message.token).map_err(|e| EncodeError::Serialise(e.to_string()))?;
    // `payload` is `{…}` with at least `notification` in it: splice the token in front of its
    // fields instead of serialising the message a second time.
    let mut body = Vec::with_capacity(payload.len() + token.len() + 32);
    body.extend_from_slice(br#"{"message":{"token":"#);
    body.extend_from_slice(&token);
    body.push(b',');
    body.extend_from_slice(&payload[1..]);
    body.push(b'}');
    Ok(body)
}

/// The collapse key as APNs accepts it: unchanged up to 64 bytes, otherwise a stable hash of it
/// (the same key always gives the same id, in every process and version).
pub fn apns_collapse_id(collapse_key: &str) -> Cow<'_, str> {
    if collapse_key.len() <= MAX_APNS_COLLAPSE_ID_BYTES {
        Cow::Borrowed(collapse_key)
    } else {
        Cow::Owned(format!("h-{:032x}", fnv1a_128(collapse_key.as_bytes())))
    }
}

/// FNV-1a, 128-bit: stable across platforms and releases (unlike `std`'s `DefaultHasher`),
/// which a collapse id repeated after a restart needs. Not a cryptographic hash; it needs not be.
fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    bytes.iter().fold(OFFSET, |hash, &b| {
        (hash ^ u128::from(b)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> PushMessage {
        PushMessage {
            token: "device-1".into(),
            title: "Awaria".into(),
            body: "Brak wody do 14:00".into(),
            data: BTreeMap::from([("kind".into(), "outage".into())]),
            collapse_key: "delivery-42".into(),
            high_priority: true,
        }
    }

    #[test]
    fn body_has_token_notification_data_and_both_platform_blocks() {
        let body: serde_json::Value =
            serde_json::from_slice(&encode_send_body(&message()).unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"message": {
                "token": "device-1",
                "notification": {"title": "Awaria", "body": "Brak wody do 14:00"},
                "data": {"kind": "outage"},
                "android": {"priority": "high", "collapse_key": "delivery-42"},
                "apns": {"headers": {"apns-priority": "10", "apns-collapse-id": "delivery-42"}},
            }})
        );
    }

    #[test]
    fn normal_priority_maps_to_apns_priority_five() {
        let mut m = message();
        m.high_priority = false;
        let body: serde_json::Value =
            serde_json::from_slice(&encode_send_body(&m).unwrap()).unwrap();
        assert_eq!(body["message"]["android"]["priority"], "normal");
        assert_eq!(body["message"]["apns"]["headers"]["apns-priority"], "5");
    }

    /// The payload size as FCM counts it: the message without its token, serialised.
    fn payload_len(body: &[u8]) -> usize {
        let mut body: serde_json::Value = serde_json::from_slice(body).unwrap();
        body["message"].as_object_mut().unwrap().remove("token");
        serde_json::to_vec(&body["message"]).unwrap().len()
    }

    #[test]
    fn payload_limit_does_not_count_the_token() {
        let mut m = message();
        m.token = "t".repeat(10_000);
        let base = payload_len(&encode_send_body(&m).unwrap());
        let value_len = m.data["kind"].len();
        let room = MAX_PAYLOAD_BYTES - base;
        m.data.insert("kind".into(), "x".repeat(value_len + room));
        let body = encode_send_body(&m).unwrap();
        assert_eq!(payload_len(&body), MAX_PAYLOAD_BYTES);
        m.data
            .insert("kind".into(), "x".repeat(value_len + room + 1));
        assert_eq!(
            encode_send_body(&m),
            Err(EncodeError::TooBig {
                size: MAX_PAYLOAD_BYTES + 1
            })
        );
    }

    #[test]
    fn long_collapse_key_is_hashed_stably_to_at_most_64_bytes() {
        let long = "k".repeat(65);
        let id = apns_collapse_id(&long);
        assert!(id.len() <= MAX_APNS_COLLAPSE_ID_BYTES);
        assert_eq!(id, apns_collapse_id(&long));
        assert_ne!(id, apns_collapse_id(&"k".repeat(66)));
        assert_eq!(apns_collapse_id(&"k".repeat(64)), "k".repeat(64));
        // The published FNV-1a test vectors: the hash must never change between releases.
        assert_eq!(fnv1a_128(b""), 0x6c62272e07bb014262b821756295c58d);
        assert_eq!(fnv1a_128(b"a"), 0xd228cb696f1a8caf78912b704e4a8964);
    }

    #[test]
    fn empty_collapse_key_is_left_out() {
        let mut m = message();
        m.collapse_key.clear();
        let body: serde_json::Value =
            serde_json::from_slice(&encode_send_body(&m).unwrap()).unwrap();
        assert!(body["message"]["android"].get("collapse_key").is_none());
        assert!(
            body["message"]["apns"]["headers"]
                .get("apns-collapse-id")
                .is_none()
        );
    }
}
