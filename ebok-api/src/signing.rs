//! The built-in signer of case documents ([`ebok_cases::signing::Signer`]): a simple electronic
//! signature, the signed-in resident confirming with their password at the moment of signing.
//! A wrong password counts against the account's login limit, as everywhere else a password is
//! asked for again. What is kept: the method, the time of the confirmation and the client's
//! address (never the password); the store adds the account, the document and its SHA-256.

use chrono::Utc;
use ebok_cases::signing::{Evidence, SignError, Signer, ToSign};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use crate::accounts::{self, AccountError};
use crate::password::Hasher;

/// Confirms a signature with the signatory's password.
pub struct PasswordConfirmation<'a> {
    pub pool: &'a PgPool,
    pub hasher: &'a Hasher,
    pub password: &'a str,
    /// The client's address, as the audit log records it.
    pub client: Option<String>,
}

impl Signer for PasswordConfirmation<'_> {
    async fn confirm(
        &self,
        _conn: &mut PgConnection,
        what: &ToSign<'_>,
    ) -> Result<Evidence, SignError> {
        match accounts::confirm_current_password(
            self.pool,
            self.hasher,
            what.utility_id,
            what.account_id,
            self.password,
        )
        .await
        {
            Ok(_) => Ok(Evidence {
                method: "password",
                details: json!({"confirmed_at": Utc::now(), "client": self.client}),
            }),
            Err(AccountError::Invalid { .. } | AccountError::BadCredentials) => {
                Err(SignError::NotConfirmed("Hasło jest nieprawidłowe.".into()))
            }
            Err(AccountError::Throttled { retry_after }) => Err(SignError::NotConfirmed(format!(
                "Zbyt wiele błędnych prób. Spróbuj ponownie za {} min.",
                retry_after.as_secs().div_ceil(60).max(1)
            ))),
            Err(AccountError::Busy { .. }) => Err(SignError::Unavailable(
                "Serwer jest chwilowo zajęty. Spróbuj ponownie za chwilę.".into(),
            )),
            Err(AccountError::Db(e)) => Err(SignError::Db(e)),
            Err(other) => Err(SignError::Unavailable(format!(
                "Nie udało się potwierdzić podpisu ({other})."
            ))),
        }
    }
}
