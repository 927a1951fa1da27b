//! A file handed over to be saved rather than shown: a CSV export, an invoice's PDF or XML, a
//! visit's calendar entry, a case's attachment, a resident's own data. One way to name it, so
//! that a name with Polish letters or quotes (an attachment's own name) reaches every browser
//! intact and cannot break the header: ASCII in `filename`, the UTF-8 name in `filename*`
//! (RFC 6266 with RFC 5987's encoding). The file is the visitor's own: no cache keeps it.

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// `body` of `content_type`, to be saved as `name`.
pub fn attachment(name: &str, content_type: &str, body: impl Into<Body>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition(name)),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        body.into(),
    )
        .into_response()
}

fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    // RFC 5987: every byte but the attribute characters percent-encoded.
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_name_is_itself_twice() {
        assert_eq!(
            disposition("faktura-FV_2026_11_000123.pdf"),
            "attachment; filename=\"faktura-FV_2026_11_000123.pdf\"; \
             filename*=UTF-8''faktura-FV_2026_11_000123.pdf"
        );
    }

    #[test]
    fn polish_letters_quotes_and_line_breaks_cannot_break_the_header() {
        assert_eq!(
            disposition("Zgłoszenie \"pilne\".pdf"),
            "attachment; filename=\"Zg_oszenie__pilne_.pdf\"; \
             filename*=UTF-8''Zg%C5%82oszenie%20%22pilne%22.pdf"
        );
        let header = disposition("a\r\nSet-Cookie: x=y");
        assert!(!header.contains('\r') && !header.contains('\n'), "{header}");
    }
}
