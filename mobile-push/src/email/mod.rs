//! The e-mail channel: a [`Notice`](crate::notice::Notice) rendered as a Polish HTML and
//! plain-text e-mail ([`render`], pure, askama templates in `mobile-push/templates/email/`),
//! and [`SmtpMailer`], the [`MailSender`](crate::channel::MailSender) that delivers it over SMTP
//! with lettre and says what became of it ([`Outcome`](crate::channel::Outcome)); or, where
//! there is no mail server (the demo), [`Mailbox`], which keeps the messages for a page to show.
//!
//! An e-mail never carries a document: a notice about an invoice or a decision says that it
//! waits in the eBOK and links there. Every message is `multipart/alternative` (text, HTML).

mod mailbox;
mod render;
mod smtp;

pub use mailbox::{Kept, Mailbox};
pub use render::{SETTINGS_PATH, message_id_for_host, message_id_header, render};
pub use smtp::{SmtpMailer, classify_reply, default_port};
