//! What every resident page shares: the utility of the path and the session of the cookie
//! ([`Ctx`], an extractor), the layout (navigation, unread count, logout form with its CSRF
//! token), and where a page may send a resident next.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::page_error::PageError;
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
    /// "1 nieprzeczytane", "2 nieprzeczytane", "5 nieprzeczytanych": the word after the count.
    pub fn unread_word(&self) -> &'static str {
        ebok_common::polish::plural(
            self.unread,
            "nieprzeczytane",
            "nieprzeczytane",
            "nieprzeczytanych",
        )
    }

    pub fn aria_current(&self, entry: &str) -> &'static str {
        aria_current(self.current, entry)
    }
}

/// The utility of the path's `{slug}` (an unknown one is a 404 page) and the value of cookie
/// `cookie`, when the request has a non-empty one: what a page's context starts from, the
/// resident's ([`Ctx`]) or staff's (`backoffice::shell::StaffCtx`).
pub(crate) async fn path_utility(
    parts: &mut Parts,
    state: &AppState,
    cookie: &str,
) -> Result<(UtilityRef, Option<String>), PageError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| PageError::NotFound)?;
    let slug = params
        .iter()
        .find(|(name, _)| *name == "slug")
        .map(|(_, slug)| slug)
        .ok_or(PageError::NotFound)?;
    let utility = accounts::utility_by_slug(&state.pool, slug)
        .await?
        .ok_or(PageError::NotFound)?;
    let cookie = CookieJar::from_headers(&parts.headers)
        .get(cookie)
        .map(|c| c.value().to_string())
        .filter(|value| !value.is_empty());
    Ok((utility, cookie))
}

/// `aria-current` of a navigation entry: `page` for the current one.
pub(crate) fn aria_current(current: &str, entry: &str) -> &'static str {
    if current == entry { "page" } else { "false" }
}

/// The utility of the path's `{slug}` (an unknown one is a 404 page) and, when logged in to
/// it, the session; and the path asked for.
pub struct Ctx {
    pub utility: UtilityRef,
    pub session: Option<PortalSession>,
    path: String,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Ctx, PageError> {
        let (utility, cookie) = path_utility(parts, state, web::COOKIE).await?;
        let session = match cookie {
            Some(token) => web::resolve(&state.pool, utility.id, &token).await?,
            None => None,
        };
        Ok(Ctx {
            utility,
            session,
            path: parts.uri.path().to_string(),
        })
    }
}

impl Ctx {
    /// The session, for a page only a resident sees: without one, the login page, which comes
    /// back to this page afterwards.
    pub fn resident(&self) -> Result<&PortalSession, PageError> {
        self.require(&self.path)
    }

    /// The session; without one, the login page, coming back to `back_to` afterwards.
    pub fn require(&self, back_to: &str) -> Result<&PortalSession, PageError> {
        self.session
            .as_ref()
            .ok_or_else(|| PageError::LoginRequired {
                slug: self.utility.slug.clone(),
                back_to: back_to.to_string(),
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

    /// `/u/<slug>`, the utility's pages start with it.
    pub fn base(&self) -> String {
        format!("/u/{}", self.utility.slug)
    }

    /// A redirect (303) to the utility's `page` (`alarmy?ok=dodano`).
    pub fn redirect(&self, page: &str) -> Response {
        Redirect::to(&format!("/u/{}/{page}", self.utility.slug)).into_response()
    }
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

#[cfg(test)]
mod tests {
    use super::Layout;

    #[test]
    fn the_unread_count_takes_its_polish_form() {
        let word = |unread| {
            Layout {
                slug: String::new(),
                utility_name: String::new(),
                user: None,
                unread,
                current: "pulpit",
            }
            .unread_word()
        };
        assert_eq!(word(1), "nieprzeczytane");
        assert_eq!(word(2), "nieprzeczytane");
        assert_eq!(word(4), "nieprzeczytane");
        assert_eq!(word(5), "nieprzeczytanych");
        assert_eq!(word(12), "nieprzeczytanych");
        assert_eq!(word(22), "nieprzeczytane");
    }
}
