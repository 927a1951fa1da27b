//! The utility's own people at work, without HTTP: how they sign in ([`sign_in`], with the
//! second factor's arithmetic in [`totp`]), their sessions in the back office ([`sessions`]),
//! what each role may do ([`roles`]), what they look up and change ([`customers`], [`records`],
//! [`meters`], [`alarms`], [`quarantine`], [`problems`]), and what admins do: the staff
//! accounts ([`team`]), the utility's settings ([`settings`]) and the audit log ([`audit`]). The back office's pages
//! (`crate::backoffice`) and the staff API (`crate::api::staff`) call these.

pub mod alarms;
pub mod audit;
pub mod billing;
pub mod customers;
pub mod meters;
pub mod problems;
pub mod quarantine;
pub mod records;
pub mod roles;
pub mod sessions;
pub mod settings;
pub mod sign_in;
pub mod team;
pub mod totp;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

pub use ebok_common::audit::ByStaff;
pub use roles::{Permission, StaffRole};

use crate::error::ApiError;
use crate::state::AppState;

/// A staff member calling the API with an access token from the staff sign-in (the
/// technicians' app). A resident's token is refused (403).
#[derive(Debug, Clone, Copy)]
pub struct StaffCaller {
    pub account_id: i64,
    pub utility_id: i64,
    pub session_id: i64,
    pub role: StaffRole,
}

impl StaffCaller {
    /// Who the audit log names for the caller's changes.
    pub fn by(&self) -> ByStaff {
        ByStaff {
            utility_id: self.utility_id,
            account_id: self.account_id,
        }
    }

    /// 403 unless the caller's role may do `what`.
    pub fn require(&self, what: Permission) -> Result<(), ApiError> {
        if self.role.may(what) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

impl FromRequestParts<AppState> for StaffCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let claims = crate::auth::bearer_claims(parts, state)?;
        let role = StaffRole::parse(&claims.role).ok_or(ApiError::Forbidden)?;
        Ok(StaffCaller {
            account_id: claims.sub,
            utility_id: claims.uid,
            session_id: claims.sid,
            role,
        })
    }
}
