//! Rendering a [`Notice`] as an e-mail: subject, a Polish HTML body and the same content as
//! plain text, and the `Message-ID`. Pure: no I/O. The templates are under
//! `mobile-push/templates/email/`; askama escapes every notice field in the HTML.
//!
//! A notice about a document (an invoice, a decision) only says the document waits in the eBOK
//! and links there: the e-mail never carries the document or its contents.

use askama::Template;

use crate::channel::EmailMessage;
use crate::notice::{Notice, Sender};

/// Where a resident changes which notices reach them and how (relative to the portal).
pub const SETTINGS_PATH: &str = "/ustawienia/powiadomienia";

/// What both templates show; every field is already chosen and checked.
struct View<'a> {
    subject: &'a str,
    utility_name: &'a str,
    to_name: Option<&'a str>,
    title: &'a str,
    body: &'a str,
    details: &'a [(String, String)],
    link: &'a str,
    portal_url: &'a str,
    settings_url: &'a str,
    category_label: &'a str,
    document_waiting: bool,
    urgent: bool,
}

#[derive(Template)]
#[template(path = "email/notice.html")]
struct HtmlBody<'a> {
    v: &'a View<'a>,
}

#[derive(Template)]
#[template(path = "email/notice.txt")]
struct TextBody<'a> {
    v: &'a View<'a>,
}

/// The e-mail for `notice` to `to`. `message_id` is the delivery's stable id (`delivery-<id>`,
/// never anything that names the recipient); it becomes the `Message-ID` (`<id@portal-host>`,
/// or used as it is when already in `<…@…>` form): the same on every resend, so mail systems
/// can drop a repeat.
pub fn render(
    notice: &Notice,
    to: &str,
    to_name: Option<&str>,
    sender: &Sender,
    message_id: &str,
) -> EmailMessage {
    let portal_url = sender.portal_url.trim_end_matches('/');
    let subject = format!(
        "[{}] {}",
        one_line(&sender.utility_name),
        one_line(&notice.title)
    );
    let settings_url = format!("{portal_url}{SETTINGS_PATH}");
    let link = notice
        .link
        .as_deref()
        .filter(|link| is_web_address(link))
        .unwrap_or(portal_url);
    let to_name = to_name.map(str::trim).filter(|name| !name.is_empty());
    let view = View {
        subject: &subject,
        utility_name: &sender.utility_name,
        to_name,
        title: &notice.title,
        body: &notice.body,
        details: &notice.details,
        link,
        portal_url,
        settings_url: &settings_url,
        category_label: notice.category.label_pl(),
        document_waiting: notice.document_waiting,
        urgent: notice.urgent,
    };
    // The templates only format strings and booleans, which cannot fail.
    let html = HtmlBody { v: &view }
        .render()
        .expect("rendering the HTML e-mail template");
    let text = TextBody { v: &view }
        .render()
        .expect("rendering the text e-mail template");
    EmailMessage {
        to: to.to_string(),
        to_name: to_name.map(str::to_string),
        subject,
        text,
        html,
        message_id: message_id_header(message_id, portal_url),
    }
}

/// `<id@host>` for a `Message-ID`, the host being the portal's. See [`message_id_for_host`].
pub fn message_id_header(id: &str, portal_url: &str) -> String {
    let host = url::Url::parse(portal_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_string))
        .unwrap_or_default();
    message_id_for_host(id, &host)
}

/// `<id@host>` for a `Message-ID`: characters an RFC 5322 `id-left` does not allow become `-`;
/// a missing or bracketed (IP) host becomes `ebok.localhost`. An id already in `<left@right>`
/// form is kept as it is.
pub fn message_id_for_host(id: &str, host: &str) -> String {
    let id = id.trim();
    if id.starts_with('<') && id.ends_with('>') && id.contains('@') {
        return id.to_string();
    }
    let host = if host.is_empty() || host.starts_with('[') || !host.is_ascii() {
        "ebok.localhost"
    } else {
        host
    };
    let left: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let left = left.trim_matches('.');
    let left = if left.is_empty() { "notice" } else { left };
    format!("<{left}@{host}>")
}

/// Only `http(s)` links become buttons; anything else (a `javascript:` URL) is replaced by the
/// portal's address.
fn is_web_address(link: &str) -> bool {
    url::Url::parse(link).is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
}

/// A header value on one line: control characters and runs of white space become one space.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::notice::Category;

    fn sender() -> Sender {
        Sender {
            utility_name: "Gmina Młynary".into(),
            portal_url: "https://ebok.mlynary.example/".into(),
        }
    }

    fn alarm() -> Notice {
        Notice {
            category: Category::MeterAlarms,
            kind: "meter_alarm.raised".into(),
            title: "Wykryto wyciek wody".into(),
            body: "Wodomierz zgłasza ciągły przepływ od 6 godzin.".into(),
            details: vec![("Wodomierz".into(), "12345678".into())],
            link: Some("https://ebok.mlynary.example/alarmy/7".into()),
            document_waiting: false,
            urgent: true,
            data: BTreeMap::new(),
        }
    }

    #[test]
    fn subject_is_the_title_behind_the_utility_name_on_one_line() {
        let mut notice = alarm();
        notice.title = "Wykryto\r\nwyciek   wody".into();
        let email = render(&notice, "jan@example.pl", None, &sender(), "d-1");
        assert_eq!(email.subject, "[Gmina Młynary] Wykryto wyciek wody");
    }

    #[test]
    fn greeting_names_the_person_when_known() {
        let named = render(&alarm(), "a@b.pl", Some("Jan Kowalski"), &sender(), "1");
        assert!(named.text.contains("Dzień dobry, Jan Kowalski,"));
        assert!(named.html.contains("Dzień dobry, Jan Kowalski,"));
        let unnamed = render(&alarm(), "a@b.pl", Some("  "), &sender(), "1");
        assert!(unnamed.text.contains("Dzień dobry,\n"));
        assert_eq!(unnamed.to_name, None);
    }

    #[test]
    fn footer_says_why_and_links_to_the_settings() {
        let email = render(&alarm(), "a@b.pl", None, &sender(), "1");
        for body in [&email.text, &email.html] {
            assert!(body.contains("Alarmy wodomierzy"));
            assert!(body.contains("https://ebok.mlynary.example/ustawienia/powiadomienia"));
            assert!(
                body.contains("Wiadomość wysłana automatycznie, prosimy na nią nie odpowiadać.")
            );
            assert!(body.contains("Zobacz w eBOK"));
            assert!(body.contains("https://ebok.mlynary.example/alarmy/7"));
        }
    }

    #[test]
    fn a_link_that_is_not_a_web_address_becomes_the_portal() {
        let mut notice = alarm();
        notice.link = Some("javascript:alert(1)".into());
        let email = render(&notice, "a@b.pl", None, &sender(), "1");
        assert!(!email.html.contains("javascript:"));
        assert!(email.html.contains("href=\"https://ebok.mlynary.example\""));
    }

    #[test]
    fn notice_fields_are_escaped_in_html_but_not_in_text() {
        let mut notice = alarm();
        notice.body = "<script>alert('x')</script> & więcej".into();
        notice.details = vec![("<b>Pole</b>".into(), "\"wartość\"".into())];
        let email = render(&notice, "a@b.pl", None, &sender(), "1");
        assert!(!email.html.contains("<script>"));
        assert!(!email.html.contains("<b>Pole</b>"));
        assert!(
            email
                .html
                .contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; więcej")
        );
        assert!(email.text.contains("<script>alert('x')</script> & więcej"));
    }

    #[test]
    fn document_notice_says_it_waits_in_the_ebok() {
        let mut notice = alarm();
        notice.category = Category::InvoicesPayments;
        notice.document_waiting = true;
        let email = render(&notice, "a@b.pl", None, &sender(), "1");
        assert!(email.text.contains("W eBOK czeka na Ciebie nowy dokument"));
        assert!(email.html.contains("W eBOK czeka na Ciebie nowy dokument"));
    }

    #[test]
    fn message_id_takes_the_portal_host_and_only_allowed_characters() {
        assert_eq!(
            message_id_header("delivery 42/ą", "https://ebok.mlynary.example"),
            "<delivery-42/-@ebok.mlynary.example>"
        );
        assert_eq!(
            message_id_header("<abc@mail.example>", "https://x.example"),
            "<abc@mail.example>"
        );
        assert_eq!(
            message_id_header("", "not a url"),
            "<notice@ebok.localhost>"
        );
    }
}
