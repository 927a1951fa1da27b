//! Notification delivery from the outbox (`ebok_common::outbox`): FCM HTTP v1 for the mobile
//! app and e-mail over SMTP, with device tokens, preferences and consents.
//!
//! Not started: issue 4.
