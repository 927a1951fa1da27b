//! What the emulator accepts as a `messages:send` body: the documented `SendMessageRequest`
//! (`message` and `validate_only`) with a `Message` of exactly one target, string-only data maps,
//! a known Android priority, no unknown fields, and a payload of at most 4096 bytes. Pure: a
//! JSON value in, the parts the emulator records or a Google-style field violation out.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::fcm::message::{MAX_APNS_COLLAPSE_ID_BYTES, MAX_PAYLOAD_BYTES};

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Token(String),
    Topic(String),
    Condition(String),
}

/// `message.notification`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notification {
    pub title: Option<String>,
    pub body: Option<String>,
    pub image: Option<String>,
}

/// The parts of a valid message that tests look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMessage {
    pub target: Target,
    pub notification: Option<Notification>,
    pub data: BTreeMap<String, String>,
    /// `android.priority` as sent (`high`, `normal`, `HIGH`, `NORMAL`).
    pub android_priority: Option<String>,
    /// `android.collapse_key`.
    pub collapse_key: Option<String>,
    /// `apns.headers["apns-priority"]`.
    pub apns_priority: Option<String>,
    /// `apns.headers["apns-collapse-id"]`.
    pub apns_collapse_id: Option<String>,
}

/// A valid `SendMessageRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRequest {
    pub validate_only: bool,
    pub message: ParsedMessage,
}

/// Why a request is refused with 400 `INVALID_ARGUMENT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The `error.message` of the answer.
    pub message: String,
    /// The `fieldViolations[0].field` (empty for the request itself).
    pub field: String,
    /// Whether FCM adds its own `FcmError` detail (`INVALID_ARGUMENT`): it does for rules of
    /// FCM (payload size, targets, data keys), not for JSON that does not fit the schema.
    pub fcm_error: bool,
}

impl Violation {
    fn schema(field: impl Into<String>, message: String) -> Self {
        Self {
            message,
            field: field.into(),
            fcm_error: false,
        }
    }

    fn fcm(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            field: field.into(),
            fcm_error: true,
        }
    }

    fn unknown_name(name: &str, at: &str) -> Self {
        let message = if at.is_empty() {
            format!("Invalid JSON payload received. Unknown name \"{name}\": Cannot find field.")
        } else {
            format!(
                "Invalid JSON payload received. Unknown name \"{name}\" at '{at}': Cannot find field."
            )
        };
        Self::schema(at, message)
    }

    fn wrong_type(field: &str, expected: &str, value: &Value) -> Self {
        Self::schema(
            field,
            format!("Invalid value at '{field}' ({expected}), {value}"),
        )
    }
}

/// Data keys FCM reserves for itself.
fn is_reserved_data_key(key: &str) -> bool {
    matches!(key, "from" | "message_type" | "notification")
        || key.starts_with("google.")
        || key.starts_with("gcm.")
        || key == "google"
        || key == "gcm"
}

/// Checks a parsed request body.
pub fn validate(body: Value) -> Result<SendRequest, Violation> {
    let Value::Object(mut body) = body else {
        return Err(Violation::schema(
            "",
            format!("Invalid JSON payload received. Expected an object, got {body}."),
        ));
    };
    let mut validate_only = false;
    let mut message = None;
    for (name, value) in std::mem::take(&mut body) {
        match name.as_str() {
            "message" => message = Some(value),
            "validate_only" | "validateOnly" => match value {
                Value::Bool(b) => validate_only = b,
                other => return Err(Violation::wrong_type("validate_only", "TYPE_BOOL", &other)),
            },
            _ => return Err(Violation::unknown_name(&name, "")),
        }
    }
    let Some(Value::Object(mut message)) = message else {
        return Err(Violation::fcm(
            "message",
            "Request contains an invalid argument: message is required.",
        ));
    };

    let token = take_string(&mut message, &["token"], "message.token")?;
    let topic = take_string(&mut message, &["topic"], "message.topic")?;
    let condition = take_string(&mut message, &["condition"], "message.condition")?;
    let target = match (token, topic, condition) {
        (Some(t), None, None) => Target::Token(t),
        (None, Some(t), None) => Target::Topic(t),
        (None, None, Some(c)) => Target::Condition(c),
        _ => {
            return Err(Violation::fcm(
                "message",
                "Exactly one of message.token, message.topic or message.condition must be set.",
            ));
        }
    };

    // The payload FCM limits is the message without its target token.
    let size = serde_json::to_vec(&message).map_or(usize::MAX, |v| v.len());
    if size > MAX_PAYLOAD_BYTES {
        return Err(Violation::fcm("message", "Message is too big"));
    }

    let mut parsed = ParsedMessage {
        target,
        notification: None,
        data: BTreeMap::new(),
        android_priority: None,
        collapse_key: None,
        apns_priority: None,
        apns_collapse_id: None,
    };
    for (name, value) in message {
        match name.as_str() {
            "name" => expect_string(&value, "message.name").map(drop)?,
            "data" => {
                parsed.data = string_map(value, "message.data")?;
                if let Some(key) = parsed.data.keys().find(|k| is_reserved_data_key(k)) {
                    return Err(Violation::fcm(
                        "message.data",
                        format!("Invalid data payload key: {key}"),
                    ));
                }
            }
            "notification" => parsed.notification = Some(notification(value)?),
            "android" => android(value, &mut parsed)?,
            "apns" => apns(value, &mut parsed)?,
            "webpush" => known_fields(
                &value,
                "message.webpush",
                &[
                    "headers",
                    "data",
                    "notification",
                    "fcm_options",
                    "fcmOptions",
                ],
            )?,
            "fcm_options" | "fcmOptions" => known_fields(
                &value,
                "message.fcm_options",
                &["analytics_label", "analyticsLabel"],
            )?,
            _ => return Err(Violation::unknown_name(&name, "message")),
        }
    }
    if let Target::Token(token) = &parsed.target
        && token.is_empty()
    {
        return Err(invalid_registration_token());
    }
    Ok(SendRequest {
        validate_only,
        message: parsed,
    })
}

/// FCM's answer to a token that is not a registration token.
pub fn invalid_registration_token() -> Violation {
    Violation::fcm(
        "message.token",
        "The registration token is not a valid FCM registration token",
    )
}

fn take_string(
    message: &mut Map<String, Value>,
    names: &[&str],
    field: &str,
) -> Result<Option<String>, Violation> {
    for name in names {
        match message.remove(*name) {
            None => {}
            Some(Value::String(s)) => return Ok(Some(s)),
            Some(other) => return Err(Violation::wrong_type(field, "TYPE_STRING", &other)),
        }
    }
    Ok(None)
}

fn expect_string(value: &Value, field: &str) -> Result<String, Violation> {
    match value {
        Value::String(s) => Ok(s.clone()),
        other => Err(Violation::wrong_type(field, "TYPE_STRING", other)),
    }
}

fn expect_object(value: Value, field: &str) -> Result<Map<String, Value>, Violation> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(Violation::schema(
            field,
            format!("Invalid value at '{field}', {other}"),
        )),
    }
}

/// A `map<string, string>`: every value a string, named like Google names them
/// (`message.data[0].value`).
fn string_map(value: Value, field: &str) -> Result<BTreeMap<String, String>, Violation> {
    let map = expect_object(value, field)?;
    let mut out = BTreeMap::new();
    for (i, (key, value)) in map.into_iter().enumerate() {
        match value {
            Value::String(s) => {
                out.insert(key, s);
            }
            other => {
                return Err(Violation::wrong_type(
                    &format!("{field}[{i}].value"),
                    "TYPE_STRING",
                    &other,
                ));
            }
        }
    }
    Ok(out)
}

fn known_fields(value: &Value, field: &str, allowed: &[&str]) -> Result<(), Violation> {
    let Value::Object(map) = value else {
        return Err(Violation::schema(
            field,
            format!("Invalid value at '{field}', {value}"),
        ));
    };
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(Violation::unknown_name(unknown, field)),
        None => Ok(()),
    }
}

fn notification(value: Value) -> Result<Notification, Violation> {
    let mut out = Notification::default();
    for (name, value) in expect_object(value, "message.notification")? {
        let slot = match name.as_str() {
            "title" => &mut out.title,
            "body" => &mut out.body,
            "image" => &mut out.image,
            _ => return Err(Violation::unknown_name(&name, "message.notification")),
        };
        *slot = Some(expect_string(
            &value,
            &format!("message.notification.{name}"),
        )?);
    }
    Ok(out)
}

fn android(value: Value, parsed: &mut ParsedMessage) -> Result<(), Violation> {
    for (name, value) in expect_object(value, "message.android")? {
        match name.as_str() {
            "priority" => {
                let priority = expect_string(&value, "message.android.priority")?;
                if !matches!(priority.as_str(), "normal" | "high" | "NORMAL" | "HIGH") {
                    return Err(Violation::schema(
                        "message.android.priority",
                        format!(
                            "Invalid value at 'message.android.priority' \
                             (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), \"{priority}\""
                        ),
                    ));
                }
                parsed.android_priority = Some(priority);
            }
            "collapse_key" | "collapseKey" => {
                parsed.collapse_key = Some(expect_string(&value, "message.android.collapse_key")?);
            }
            "ttl" => expect_string(&value, "message.android.ttl").map(drop)?,
            "restricted_package_name" | "restrictedPackageName" => {
                expect_string(&value, "message.android.restricted_package_name").map(drop)?;
            }
            "data" => {
                string_map(value, "message.android.data")?;
            }
            "notification" | "fcm_options" | "fcmOptions" => {
                expect_object(value, &format!("message.android.{name}"))?;
            }
            "direct_boot_ok"
            | "directBootOk"
            | "bandwidth_constrained_ok"
            | "bandwidthConstrainedOk"
            | "restricted_satellite_ok"
            | "restrictedSatelliteOk" => {
                if !value.is_boolean() {
                    return Err(Violation::wrong_type(
                        &format!("message.android.{name}"),
                        "TYPE_BOOL",
                        &value,
                    ));
                }
            }
            _ => return Err(Violation::unknown_name(&name, "message.android")),
        }
    }
    Ok(())
}

fn apns(value: Value, parsed: &mut ParsedMessage) -> Result<(), Violation> {
    for (name, value) in expect_object(value, "message.apns")? {
        match name.as_str() {
            "headers" => {
                let headers = string_map(value, "message.apns.headers")?;
                if let Some(id) = headers.get("apns-collapse-id")
                    && id.len() > MAX_APNS_COLLAPSE_ID_BYTES
                {
                    return Err(Violation::fcm(
                        "message.apns.headers",
                        "apns-collapse-id must not be longer than 64 bytes",
                    ));
                }
                parsed.apns_priority = headers.get("apns-priority").cloned();
                parsed.apns_collapse_id = headers.get("apns-collapse-id").cloned();
            }
            "payload" | "fcm_options" | "fcmOptions" => {
                expect_object(value, &format!("message.apns.{name}"))?;
            }
            "live_activity_token" | "liveActivityToken" => {
                expect_string(&value, "message.apns.live_activity_token").map(drop)?;
            }
            _ => return Err(Violation::unknown_name(&name, "message.apns")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn valid() -> Value {
        json!({"message": {
            "token": "device-1",
            "notification": {"title": "T", "body": "B"},
            "data": {"a": "1"},
            "android": {"priority": "high", "collapse_key": "c"},
            "apns": {"headers": {"apns-priority": "10", "apns-collapse-id": "c"}},
        }})
    }

    #[test]
    fn a_valid_request_yields_its_parts() {
        let r = validate(valid()).unwrap();
        assert!(!r.validate_only);
        assert_eq!(r.message.target, Target::Token("device-1".into()));
        assert_eq!(r.message.notification.unwrap().title.as_deref(), Some("T"));
        assert_eq!(r.message.data["a"], "1");
        assert_eq!(r.message.android_priority.as_deref(), Some("high"));
        assert_eq!(r.message.collapse_key.as_deref(), Some("c"));
        assert_eq!(r.message.apns_priority.as_deref(), Some("10"));
    }

    #[test]
    fn non_string_data_value_names_the_entry() {
        let mut body = valid();
        body["message"]["data"] = json!({"a": "1", "b": 2});
        let v = validate(body).unwrap_err();
        assert_eq!(v.field, "message.data[1].value");
        assert_eq!(
            v.message,
            "Invalid value at 'message.data[1].value' (TYPE_STRING), 2"
        );
    }

    #[test]
    fn unknown_fields_are_refused_at_every_level() {
        let mut body = valid();
        body["extra"] = json!(1);
        assert_eq!(validate(body).unwrap_err().field, "");
        let mut body = valid();
        body["message"]["colour"] = json!("red");
        assert_eq!(validate(body).unwrap_err().field, "message");
        let mut body = valid();
        body["message"]["android"]["urgency"] = json!("high");
        assert_eq!(validate(body).unwrap_err().field, "message.android");
    }

    #[test]
    fn exactly_one_target() {
        let mut body = valid();
        body["message"]["topic"] = json!("news");
        assert!(validate(body).is_err());
        let mut body = valid();
        body["message"].as_object_mut().unwrap().remove("token");
        assert!(validate(body).is_err());
        let mut body = valid();
        body["message"].as_object_mut().unwrap().remove("token");
        body["message"]["condition"] = json!("'a' in topics");
        assert_eq!(
            validate(body).unwrap().message.target,
            Target::Condition("'a' in topics".into())
        );
    }

    #[test]
    fn android_priority_must_be_known() {
        for ok in ["normal", "high", "NORMAL", "HIGH"] {
            let mut body = valid();
            body["message"]["android"]["priority"] = json!(ok);
            assert!(validate(body).is_ok(), "{ok}");
        }
        let mut body = valid();
        body["message"]["android"]["priority"] = json!("urgent");
        assert_eq!(
            validate(body).unwrap_err().field,
            "message.android.priority"
        );
    }

    #[test]
    fn payload_over_4096_bytes_is_too_big_but_the_token_does_not_count() {
        let mut body = valid();
        body["message"]["token"] = json!("t".repeat(5000));
        assert!(validate(body).is_ok());
        let mut body = valid();
        body["message"]["data"]["a"] = json!("x".repeat(4096));
        assert_eq!(validate(body).unwrap_err().message, "Message is too big");
    }

    #[test]
    fn reserved_data_keys_and_empty_tokens_are_refused() {
        let mut body = valid();
        body["message"]["data"] = json!({"google.sent_time": "1"});
        assert_eq!(
            validate(body).unwrap_err().message,
            "Invalid data payload key: google.sent_time"
        );
        let mut body = valid();
        body["message"]["token"] = json!("");
        assert_eq!(validate(body).unwrap_err().field, "message.token");
    }
}
