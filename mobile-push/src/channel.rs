//! What the dispatcher hands to a delivery channel, and what a channel answers. One trait per
//! external boundary ([`PushSender`] for Firebase Cloud Messaging, [`MailSender`] for SMTP): the
//! dispatcher knows nothing of either protocol, and each client knows nothing of the outbox.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;

/// One push notification for one device, rendered and ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct PushMessage {
    /// The FCM registration token of the device.
    pub token: String,
    pub title: String,
    pub body: String,
    /// Key/value data for the app (FCM accepts string values only).
    pub data: BTreeMap<String, String>,
    /// The same for every (re)send of one notification to one device (the delivery's
    /// idempotency key): Android's `collapse_key` and APNs' `apns-collapse-id`, so a repeat
    /// after a crash replaces the shown notice instead of adding a second one.
    pub collapse_key: String,
    /// Time-critical notices (a leak, a burst, a supply interruption) wake the device.
    pub high_priority: bool,
}

/// One e-mail for one address, rendered and ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailMessage {
    pub to: String,
    pub to_name: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// `Message-ID` derived from the delivery's idempotency key, the same on every resend, so
    /// mail systems can drop a repeat.
    pub message_id: String,
}

/// What became of one send.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Accepted by the service; its id for the message when it gives one.
    Sent { provider_id: Option<String> },
    /// The target no longer exists or never was valid (FCM `UNREGISTERED`, an invalid token, a
    /// mailbox that does not exist): remove it and do not retry.
    TargetGone { reason: String },
    /// A temporary failure (quota, 5xx, timeout, connection): try again, not before `after`
    /// when the service said when (`Retry-After`).
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// Will not succeed as it stands (another 4xx, a payload over the limit): recorded with the
    /// reason, not retried.
    Failed { reason: String },
}

/// Sends push notifications (Firebase Cloud Messaging HTTP v1 in production).
pub trait PushSender: Send + Sync {
    fn send<'a>(&'a self, message: &'a PushMessage) -> BoxFuture<'a, Outcome>;
}

/// Sends e-mail (SMTP in production).
pub trait MailSender: Send + Sync {
    fn send<'a>(&'a self, message: &'a EmailMessage) -> BoxFuture<'a, Outcome>;
}
