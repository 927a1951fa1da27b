//! [`Mailbox`]: a [`MailSender`] that keeps messages in memory instead of sending them, for an
//! installation with no mail server that must still show its mail to someone: the demo, whose
//! mailbox page lists what residents would have received (activation and reset links included).
//! Never for production: whoever can read the mailbox can take over any account.

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use crate::channel::{EmailMessage, MailSender, Outcome};

/// A message as kept, with when it was "sent".
#[derive(Debug, Clone)]
pub struct Kept {
    pub at: DateTime<Utc>,
    pub message: EmailMessage,
}

/// The newest `capacity` messages.
pub struct Mailbox {
    messages: Mutex<VecDeque<Kept>>,
    capacity: usize,
}

impl Mailbox {
    pub fn new(capacity: usize) -> Mailbox {
        Mailbox {
            messages: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
        }
    }

    /// The kept messages, newest first.
    pub fn messages(&self) -> Vec<Kept> {
        self.messages
            .lock()
            .expect("mailbox lock")
            .iter()
            .rev()
            .cloned()
            .collect()
    }
}

impl MailSender for Mailbox {
    fn send<'a>(&'a self, message: &'a EmailMessage) -> BoxFuture<'a, Outcome> {
        let mut messages = self.messages.lock().expect("mailbox lock");
        if messages.len() == self.capacity {
            messages.pop_front();
        }
        messages.push_back(Kept {
            at: Utc::now(),
            message: message.clone(),
        });
        Box::pin(std::future::ready(Outcome::Sent {
            provider_id: Some("mailbox".into()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(subject: &str) -> EmailMessage {
        EmailMessage {
            to: "jan@example.pl".into(),
            to_name: None,
            subject: subject.into(),
            text: "tekst".into(),
            html: "<p>tekst</p>".into(),
            message_id: "<1@ebok.test>".into(),
        }
    }

    #[tokio::test]
    async fn the_mailbox_keeps_the_newest_messages_newest_first() {
        let mailbox = Mailbox::new(2);
        for subject in ["a", "b", "c"] {
            assert!(matches!(
                mailbox.send(&message(subject)).await,
                Outcome::Sent { .. }
            ));
        }
        let subjects: Vec<String> = mailbox
            .messages()
            .into_iter()
            .map(|k| k.message.subject)
            .collect();
        assert_eq!(subjects, ["c", "b"]);
    }
}
