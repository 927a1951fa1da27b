//! `GET /demo/poczta`: the demo's mailbox, the e-mails residents would have received, newest
//! first, with their links clickable. Only when the state has a
//! [`Mailbox`](mobile_push::email::Mailbox) (`ebok demo`
//! without an SMTP server), and only to a browser on the same machine (a loopback peer): the
//! page holds every account's activation and reset links, and a demo may listen on an address
//! others can reach. Everywhere else, and to anyone else, the page does not exist.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;

use super::page_error::{Page, PageError};
use crate::client::ClientAddr;
use crate::state::AppState;

struct Shown {
    subject: String,
    to: String,
    at: String,
    links: Vec<String>,
    text: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    messages: Vec<Shown>,
}

pub async fn mailbox(State(state): State<AppState>, ClientAddr(client): ClientAddr) -> Page {
    let Some(mailbox) = &state.mailbox else {
        return Err(PageError::NotFound);
    };
    let local = client.is_some_and(|ip| ip.is_loopback());
    if !local {
        return Err(PageError::NotFound);
    }
    let messages = mailbox
        .messages()
        .into_iter()
        .map(|kept| Shown {
            links: links_in(&kept.message.text),
            subject: kept.message.subject,
            to: kept.message.to,
            at: ebok_common::polish::instant(kept.at),
            text: kept.message.text,
        })
        .collect();
    Ok(MailboxPage { messages }.into_response())
}

/// The `http(s)://` links of a text, in order.
fn links_in(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
        .map(|w| w.trim_end_matches(['.', ',', ')']).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_are_found_in_a_text_and_lose_their_trailing_punctuation() {
        assert_eq!(
            super::links_in("Otwórz http://a.pl/x?token=1. Albo (https://b.pl/y)"),
            ["http://a.pl/x?token=1"]
        );
    }
}
