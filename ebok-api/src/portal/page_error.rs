//! The one error type of the portal's pages. Every page handler returns [`Page`]; `?` works on
//! anything the API's error converts from (sqlx, accounts, readings, rules, `anyhow`), with the
//! same meaning there: a meter that is not the resident's is not found, a constraint the
//! request violated is refused naming nothing internal, anything else is internal. A portal
//! route answers a browser with a Polish HTML page, never problem+json: 404, 403 (a form from
//! another site or without the session's token), a refusal with its status and message, a
//! redirect to the login page, and 500, whose page shows an error id under which the log has
//! the whole cause chain (the id generator and the log line are the API's, `crate::error`).

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::{ApiError, log_with_id};

/// What a page handler answers.
pub type Page = Result<Response, PageError>;

#[derive(Debug)]
pub enum PageError {
    /// 404: no such page, or not for this visitor (another resident's meter looks the same).
    NotFound,
    /// 403: a state-changing request from another site, or without the session's CSRF token.
    Forbidden,
    /// 303 to the utility's login page, which comes back to `back_to` afterwards.
    LoginRequired { slug: String, back_to: String },
    /// 303 to the back office's sign-in page of the utility, coming back to `back_to`.
    StaffSignInRequired { slug: String, back_to: String },
    /// 403: a staff member whose role does not allow the page or the action.
    NotAllowed,
    /// A request the page cannot do that is not about one field of a form (a hand-made link,
    /// too many attempts, a body too large): its status and Polish message.
    Refused { status: StatusCode, detail: String },
    /// 500: logged with its cause chain under an id the page shows.
    Internal(anyhow::Error),
}

impl PageError {
    /// A request the portal's own pages never send (a malformed form or link): 400.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        PageError::Refused {
            status: StatusCode::BAD_REQUEST,
            detail: detail.into(),
        }
    }
}

/// Every failure the API can name means the same on a page.
impl<E: Into<ApiError>> From<E> for PageError {
    fn from(error: E) -> Self {
        match error.into() {
            ApiError::NotFound => PageError::NotFound,
            ApiError::Internal(error) => PageError::Internal(error),
            other => PageError::Refused {
                status: other.status(),
                detail: other.detail(),
            },
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    text: &'a str,
    error_id: Option<String>,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, text, error_id) = match self {
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                "Nie znaleziono strony",
                "Strona nie istnieje albo nie masz do niej dostępu.".to_string(),
                None,
            ),
            PageError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Formularz wygasł",
                "Odśwież stronę i wyślij formularz ponownie.".to_string(),
                None,
            ),
            PageError::LoginRequired { slug, back_to } => {
                let next = super::shell::url_encode(&back_to);
                return Redirect::to(&format!("/u/{slug}/logowanie?next={next}")).into_response();
            }
            PageError::StaffSignInRequired { slug, back_to } => {
                let next = super::shell::url_encode(&back_to);
                return Redirect::to(&format!("/panel/{slug}/logowanie?next={next}"))
                    .into_response();
            }
            PageError::NotAllowed => (
                StatusCode::FORBIDDEN,
                "Brak uprawnień",
                "Twoja rola nie pozwala na tę czynność. Jeśli jest potrzebna w Twojej pracy,                  poproś administratora o zmianę roli."
                    .to_string(),
                None,
            ),
            PageError::Refused { status, detail } => {
                (status, "Nie można wykonać tej operacji", detail, None)
            }
            PageError::Internal(error) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Wystąpił błąd po naszej stronie",
                "Spróbuj ponownie za chwilę. Jeśli błąd się powtarza, skontaktuj się z biurem \
                 obsługi klienta i podaj numer błędu."
                    .to_string(),
                Some(log_with_id(&error)),
            ),
        };
        let page = ErrorPage {
            title,
            text: &text,
            error_id,
        };
        (status, page).into_response()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use anyhow::Context;

    use super::*;

    fn page_of(error: PageError) -> (StatusCode, String, String) {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Log(writer.clone()))
            .with_ansi(false)
            .finish();
        let response = tracing::subscriber::with_default(subscriber, || error.into_response());
        let status = response.status();
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(response.into_body(), 1 << 16))
            .unwrap();
        let log = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap(), log)
    }

    /// A log sink for one test.
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Log {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_internal_error_shows_an_id_under_which_the_log_has_the_whole_cause_chain() {
        let error = Err::<(), _>(std::io::Error::other("connection reset by peer"))
            .context("reading the meter list")
            .unwrap_err();
        let (status, html, log) = page_of(PageError::Internal(error));
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(html.contains(r#"<html lang="pl">"#), "{html}");
        let at = html
            .find(r#"id="error-id">"#)
            .expect("the page shows an id")
            + 14;
        let id = &html[at..at + html[at..].find('<').unwrap()];
        assert!(!id.is_empty());
        assert!(
            !html.contains("connection reset"),
            "no cause on the page: {html}"
        );
        let line = log
            .lines()
            .find(|l| l.contains(id))
            .expect("a log line with the id");
        assert!(
            line.contains("reading the meter list: connection reset by peer"),
            "{line}"
        );
    }

    #[test]
    fn an_error_the_api_would_name_gets_its_status_and_polish_message_on_a_page() {
        let (status, html, _) = page_of(PageError::from(ApiError::NotFound));
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(html.contains("Nie znaleziono strony"), "{html}");
        let (status, html, _) = page_of(PageError::from(ApiError::invalid(
            "to",
            "Zakres może mieć najwyżej 1100 dni.",
        )));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("najwyżej 1100 dni"), "{html}");
        let (status, html, _) = page_of(PageError::Forbidden);
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(html.contains("Formularz wygasł"), "{html}");
    }

    #[test]
    fn a_missing_session_is_a_redirect_to_the_login_page_that_comes_back() {
        let response = PageError::LoginRequired {
            slug: "mlynary".into(),
            back_to: "/u/mlynary/liczniki/7".into(),
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers()["location"],
            "/u/mlynary/logowanie?next=%2Fu%2Fmlynary%2Fliczniki%2F7"
        );
    }
}
