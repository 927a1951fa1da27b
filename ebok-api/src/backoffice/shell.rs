//! What every back-office page shares: the utility of the path and the staff session of the
//! cookie ([`StaffCtx`], an extractor), the layout (navigation by role, the signed-in person,
//! the sign-out form with its CSRF token), and the form access rules of staff pages.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use crate::accounts::UtilityRef;
use crate::portal::form::{Access, PortalForm};
use crate::portal::page_error::PageError;
use crate::portal::shell::{aria_current, path_utility};
use crate::staff::sessions::{self, StaffSession};
use crate::staff::{Permission, StaffRole};
use crate::state::AppState;

/// The navigation and identity shown on every back-office page.
#[derive(Debug, Clone)]
pub struct StaffLayout {
    pub slug: String,
    pub utility_name: String,
    /// `(display name, role, csrf token)` when signed in.
    pub user: Option<(String, StaffRole, String)>,
    /// Which navigation entry is current (`klienci`, …).
    pub current: &'static str,
}

impl StaffLayout {
    /// Whether the signed-in person's role may do `what` (pages offer only that).
    pub fn may(&self, what: Permission) -> bool {
        self.user
            .as_ref()
            .is_some_and(|(_, role, _)| role.may(what))
    }

    pub fn aria_current(&self, entry: &str) -> &'static str {
        aria_current(self.current, entry)
    }
}

/// The utility of the path's `{slug}` (an unknown one is a 404 page) and, when signed in to
/// its back office, the staff session.
pub struct StaffCtx {
    pub utility: UtilityRef,
    pub session: Option<StaffSession>,
    path: String,
}

impl FromRequestParts<AppState> for StaffCtx {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let (utility, cookie) = path_utility(parts, state, sessions::COOKIE).await?;
        let session = match cookie {
            Some(token) => sessions::resolve(&state.pool, utility.id, &token).await?,
            None => None,
        };
        Ok(StaffCtx {
            utility,
            session,
            path: parts.uri.path().to_string(),
        })
    }
}

impl StaffCtx {
    /// The session of a staff member whose role may do `what`: without a session, the sign-in
    /// page (coming back here); with one whose role may not, the 403 page.
    pub fn staff(&self, what: Permission) -> Result<&StaffSession, PageError> {
        let session = self.signed_in(&self.path)?;
        if session.may(what) {
            Ok(session)
        } else {
            Err(PageError::NotAllowed)
        }
    }

    /// The session, whatever the role; without one, the sign-in page coming back to `back_to`.
    pub fn signed_in(&self, back_to: &str) -> Result<&StaffSession, PageError> {
        self.session
            .as_ref()
            .ok_or_else(|| PageError::StaffSignInRequired {
                slug: self.utility.slug.clone(),
                back_to: back_to.to_string(),
            })
    }

    pub fn layout(&self, current: &'static str) -> StaffLayout {
        StaffLayout {
            slug: self.utility.slug.clone(),
            utility_name: self.utility.name.clone(),
            user: self
                .session
                .as_ref()
                .map(|s| (s.display_name.clone(), s.role, s.csrf.clone())),
            current,
        }
    }

    /// A redirect (303) to the back office's `page`.
    pub fn redirect(&self, page: &str) -> Response {
        Redirect::to(&format!("/panel/{}/{page}", self.utility.slug)).into_response()
    }
}

/// A `next=` target is only ever a path of this utility's back office.
pub fn safe_next(slug: &str, next: Option<&str>) -> String {
    let prefix = format!("/panel/{slug}/");
    match next {
        Some(n) if n.starts_with(&prefix) && !n.contains("//") && !n.contains('\\') => {
            n.to_string()
        }
        _ => prefix,
    }
}

/// A form of the back office's sign-in, which anyone may send.
pub struct SignInAccess;

impl Access for SignInAccess {
    type Ctx = StaffCtx;
    type Session = ();

    fn admit(_: &StaffCtx, _: &str) -> Result<(), PageError> {
        Ok(())
    }

    fn csrf_matches(_: &(), _: Option<&str>) -> bool {
        true
    }
}

/// A form of a signed-in staff member (any role; the handler checks the permission of its
/// action), carrying the session's CSRF token.
pub struct StaffAccess;

impl Access for StaffAccess {
    type Ctx = StaffCtx;
    type Session = StaffSession;

    fn admit(ctx: &StaffCtx, page: &str) -> Result<StaffSession, PageError> {
        ctx.signed_in(page).cloned()
    }

    fn csrf_matches(session: &StaffSession, submitted: Option<&str>) -> bool {
        submitted.is_some_and(|token| session.csrf_matches(token))
    }
}

/// Signing out: without a session only cookies are forgotten; a form sent in one must carry
/// its token.
pub struct MaybeStaff;

impl Access for MaybeStaff {
    type Ctx = StaffCtx;
    type Session = Option<StaffSession>;

    fn admit(ctx: &StaffCtx, _: &str) -> Result<Option<StaffSession>, PageError> {
        Ok(ctx.session.clone())
    }

    fn csrf_matches(session: &Option<StaffSession>, submitted: Option<&str>) -> bool {
        match session {
            Some(session) => submitted.is_some_and(|token| session.csrf_matches(token)),
            None => true,
        }
    }
}

pub type SignInForm<T> = PortalForm<T, SignInAccess>;
pub type StaffForm<T> = PortalForm<T, StaffAccess>;

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn after_sign_in_staff_go_only_to_their_utilitys_back_office() {
        assert_eq!(
            safe_next("mlynary", Some("/panel/mlynary/klienci?q=x")),
            "/panel/mlynary/klienci?q=x"
        );
        assert_eq!(
            safe_next("mlynary", Some("/panel/inne/")),
            "/panel/mlynary/"
        );
        assert_eq!(
            safe_next("mlynary", Some("//evil.example/")),
            "/panel/mlynary/"
        );
        assert_eq!(
            safe_next("mlynary", Some("/u/mlynary/pulpit")),
            "/panel/mlynary/"
        );
        assert_eq!(safe_next("mlynary", None), "/panel/mlynary/");
    }
}
