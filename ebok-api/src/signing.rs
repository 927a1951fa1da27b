//! The built-in signer of case documents ([`ebok_cases::signing::Signer`]): a simple electronic
//! signature, the signed-in resident confirming with their password at the moment of signing.
//! The password is checked first, before the case is locked ([`PasswordConfirmed::confirm`]:
//! a hash takes tens of milliseconds and the pool's connections, which a locked case must not
//! wait on); a wrong one counts against the account's login limit, as everywhere else a
//! password is asked for again. What is kept: the method, the time of the confirmation and the
//! client's address (never the password); the store adds the account, the document and its
//! SHA-256.

use chrono::Utc;
use ebok_cases::signing::{Evidence, SignError, Signer, ToSign};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

use crate::accounts::{self, AccountError};
use crate::password::Hasher;

/// A signatory who has just confirmed with their password, ready to sign.
pub struct PasswordConfirmed {
    account_id: i64,
    evidence: Value,
}

impl PasswordConfirmed {
    /// Checks `password` of account `account_id` (utility `utility_id`) now; `client` is the
    /// address the audit log records.
    pub async fn confirm(
        pool: &PgPool,
        hasher: &Hasher,
        utility_id: i64,
        account_id: i64,
        password: &str,
        client: Option<String>,
    ) -> Result<PasswordConfirmed, SignError> {
        match accounts::confirm_current_password(pool, hasher, utility_id, account_id, password)
            .await
        {
            Ok(_) => Ok(PasswordConfirmed {
                account_id,
                evidence: json!({"confirmed_at": Utc::now(), "client": client}),
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

impl Signer for PasswordConfirmed {
    async fn confirm(
        &self,
        _conn: &mut PgConnection,
        what: &ToSign<'_>,
    ) -> Result<Evidence, SignError> {
        // Confirmed by this account, for this account's signature only.
        if what.account_id != self.account_id {
            return Err(SignError::NotConfirmed(
                "Podpis potwierdza tylko właściciel konta.".into(),
            ));
        }
        Ok(Evidence {
            method: "password",
            details: self.evidence.clone(),
        })
    }
}
