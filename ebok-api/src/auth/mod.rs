//! Who is calling. Two kinds of session, one table (`sessions`):
//!
//! - **Web** ([`web`]): a random token in an `HttpOnly`, `SameSite=Lax` cookie scoped to the
//!   utility's path (`/u/<slug>/`), `Secure` when the portal is served over TLS; 8 hours at
//!   most, ended after an hour idle. Every form carries the session's synchroniser token, and
//!   every state-changing request must come from the portal's own origin.
//! - **App** ([`app`]): the mobile app logs in with the same e-mail and password and gets a
//!   short access token (a JWT signed with a key from the key file, [`keys`], 10 minutes) and a
//!   refresh token (random, stored hashed, rotated on every use, 60 days, and never past 180
//!   days from the login). Presenting a refresh token that was already rotated away revokes the
//!   session (it was copied). Logging out, ending a session, changing or resetting the password
//!   revoke sessions, and their access tokens stop working at once ([`revoked`]).
//!
//! [`Resident`] is the extractor handlers use for the API; the portal uses
//! [`web::PortalSession`]. Staff sign in with a second factor and have their own extractor
//! and sessions (`crate::staff`); a token of one kind is refused where the other is asked for.

pub mod app;
pub mod keys;
pub mod revoked;
pub mod sessions;
pub mod web;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use ebok_readings::access::Viewer;

use crate::error::ApiError;
use crate::state::AppState;

/// A resident authenticated by a bearer access token.
#[derive(Debug, Clone, Copy)]
pub struct Resident {
    pub account_id: i64,
    pub utility_id: i64,
    pub session_id: i64,
}

impl Resident {
    pub fn viewer(&self) -> Viewer {
        Viewer {
            utility_id: self.utility_id,
            account_id: self.account_id,
        }
    }
}

impl FromRequestParts<AppState> for Resident {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let claims = bearer_claims(parts, state)?;
        if claims.role != "resident" {
            return Err(ApiError::Forbidden);
        }
        Ok(Resident {
            account_id: claims.sub,
            utility_id: claims.uid,
            session_id: claims.sid,
        })
    }
}

/// The claims of the request's bearer access token, checked (signature, expiry, the session
/// not ended); 401 without a valid one.
pub fn bearer_claims(parts: &Parts, state: &AppState) -> Result<app::Verified, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Unauthorized)?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or(ApiError::Unauthorized)?;
    let claims = state
        .keys
        .verify(token.trim())
        .map_err(|_| ApiError::Unauthorized)?;
    if state.revoked.contains(claims.sid) {
        return Err(ApiError::Unauthorized);
    }
    Ok(claims)
}
