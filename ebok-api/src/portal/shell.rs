//! What every resident page shares: the utility from the path, the session from the cookie, the
//! layout (navigation, unread count, logout form with its CSRF token), form values and errors,
//! and the checks on every state-changing request (same origin, the session's CSRF token).

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use crate::accounts::{self, UtilityRef};
use crate::auth::web::{self, PortalSession};
use crate::state::AppState;

/// The navigation and identity shown on every resident page.
#[derive(Debug, Clone)]
pub struct Layout {
    pub slug: String,
    pub utility_name: String,
    /// `(display name, csrf token)` when logged in.
    pub user: Option<(String, String)>,
    pub unread: i64,
    /// Which navigation entry is current (`pulpit`, `alarmy`, …).
    pub current: &'static str,
}

impl Layout {
    pub fn aria_current(&self, entry: &str) -> &'static str {
        if self.current == entry {
            "page"
        } else {
            "false"
        }
    }
}

/// The utility and, when logged in, the session.
pub struct Ctx {
    pub utility: UtilityRef,
    pub session: Option<PortalSession>,
}

impl Ctx {
    pub async fn load(state: &AppState, slug: &str, jar: &CookieJar) -> Result<Ctx, Response> {
        let utility = accounts::utility_by_slug(&state.pool, slug)
            .await
            .map_err(internal)?
            .ok_or_else(not_found)?;
        let session = match jar.get(web::COOKIE) {
            Some(cookie) if !cookie.value().is_empty() => {
                web::resolve(&state.pool, utility.id, cookie.value())
                    .await
                    .map_err(internal)?
            }
            _ => None,
        };
        Ok(Ctx { utility, session })
    }

    /// The session, or a redirect to the login page (coming back here afterwards).
    pub fn require(&self, back_to: &str) -> Result<&PortalSession, Response> {
        self.session.as_ref().ok_or_else(|| {
            let next = url_encode(back_to);
            Redirect::to(&format!("/u/{}/logowanie?next={next}", self.utility.slug)).into_response()
        })
    }

    pub async fn layout(&self, state: &AppState, current: &'static str) -> Layout {
        let unread = match &self.session {
            Some(s) => mobile_push::inbox::unread(&state.pool, s.utility_id, s.account_id)
                .await
                .unwrap_or(0),
            None => 0,
        };
        Layout {
            slug: self.utility.slug.clone(),
            utility_name: self.utility.name.clone(),
            user: self
                .session
                .as_ref()
                .map(|s| (s.display_name.clone(), s.csrf.clone())),
            unread,
            current,
        }
    }

    pub fn base(&self) -> String {
        format!("/u/{}", self.utility.slug)
    }
}

/// Values and errors of a submitted form.
#[derive(Debug, Clone, Default)]
pub struct FormState {
    pub values: HashMap<String, String>,
    pub errors: Vec<(String, String)>,
}

impl FormState {
    pub fn from_values(values: HashMap<String, String>) -> Self {
        FormState {
            values,
            errors: Vec::new(),
        }
    }

    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn checked(&self, name: &str) -> bool {
        matches!(self.value(name), "on" | "true" | "1" | "tak")
    }

    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, m)| m.as_str())
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// 422 when the form is shown again with errors, 200 otherwise.
    pub fn status(&self) -> StatusCode {
        if self.has_errors() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        }
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push((field.into(), message.into()));
    }

    /// Adds the error of an API-style failure (its field and Polish detail), to show the form
    /// again; a failure that is not about the form (not found, internal) is the page itself.
    pub fn add_api_error(&mut self, error: crate::error::ApiError) -> Result<(), Response> {
        use crate::error::ApiError as E;
        match error {
            E::Invalid { field, detail } => self.add(field, detail),
            E::Conflict { field, detail } => {
                self.add(field.unwrap_or_else(|| "form".into()), detail)
            }
            E::TooManyRequests { retry_after } => self.add(
                "form",
                format!(
                    "Zbyt wiele prób. Spróbuj ponownie za {} min.",
                    retry_after.as_secs().div_ceil(60).max(1)
                ),
            ),
            E::Unavailable { detail } => self.add("form", detail),
            E::Busy { .. } => self.add(
                "form",
                "Serwer jest chwilowo przeciążony. Spróbuj ponownie za chwilę.",
            ),
            E::NotFound => return Err(not_found()),
            other => return Err(other.into_response()),
        }
        Ok(())
    }
}

/// A form posted by a logged-in resident: from the portal's own origin, with a live session of
/// this utility (otherwise a redirect to the login page, coming back to `back_to`), carrying
/// the session's CSRF token. Returns the context and the session.
pub async fn resident_post(
    state: &AppState,
    slug: &str,
    jar: &CookieJar,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    back_to: &str,
) -> Result<(Ctx, PortalSession), Response> {
    same_origin(state, headers)?;
    let ctx = Ctx::load(state, slug, jar).await?;
    let session = ctx.require(back_to)?.clone();
    csrf_ok(&session, form)?;
    Ok((ctx, session))
}

/// Refuses a state-changing request from another site: browsers send `Origin` with every POST;
/// when it is there it must be the portal's own.
pub fn same_origin(state: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) if origin != state.origin() => Err(forbidden()),
        _ => Ok(()),
    }
}

/// The form's `csrf` field must be the session's token.
pub fn csrf_ok(session: &PortalSession, form: &HashMap<String, String>) -> Result<(), Response> {
    match form.get("csrf") {
        Some(token) if session.csrf_matches(token) => Ok(()),
        _ => Err(forbidden()),
    }
}

pub fn internal(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "portal page failed");
    page_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Wystąpił błąd po naszej stronie",
        "Spróbuj ponownie za chwilę. Jeśli błąd się powtarza, skontaktuj się z biurem obsługi klienta.",
    )
}

pub fn not_found() -> Response {
    page_error(
        StatusCode::NOT_FOUND,
        "Nie znaleziono strony",
        "Strona nie istnieje albo nie masz do niej dostępu.",
    )
}

pub fn forbidden() -> Response {
    page_error(
        StatusCode::FORBIDDEN,
        "Formularz wygasł",
        "Odśwież stronę i wyślij formularz ponownie.",
    )
}

fn page_error(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"pl\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · eBOK</title><link rel=\"stylesheet\" href=\"/static/portal.css\"></head>\
         <body><a class=\"skip-link\" href=\"#main\">Przejdź do treści</a>\
         <main id=\"main\" class=\"wrap\"><h1>{title}</h1><p>{text}</p>\
         <p><a href=\"/\">Strona główna eBOK</a></p></main></body></html>"
    );
    (status, Html(body)).into_response()
}

/// Percent-encodes a path for a `next=` parameter.
pub fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A `next=` target is only ever a path of this utility's portal.
pub fn safe_next(slug: &str, next: Option<&str>) -> String {
    let prefix = format!("/u/{slug}/");
    match next {
        Some(n) if n.starts_with(&prefix) && !n.contains("//") && !n.contains('\\') => {
            n.to_string()
        }
        _ => format!("/u/{slug}/pulpit"),
    }
}
