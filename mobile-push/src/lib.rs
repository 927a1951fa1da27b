//! Notification delivery from the outbox (`ebok_common::outbox`): FCM HTTP v1 for the mobile
//! app and e-mail over SMTP, with device tokens, preferences and consents.

pub mod channel;
pub mod content;
pub mod dispatcher;
pub mod email;
pub mod fcm;
pub mod inbox;
pub mod notice;
pub mod recipients;
pub mod registry;
