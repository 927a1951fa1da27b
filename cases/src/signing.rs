//! Signing the contract a case offers, behind a trait: [`Signer`] confirms that the person
//! signing is who they say and what they sign, and returns the evidence to keep; the case's
//! store ([`crate::store::sign_contract`]) records it with the SHA-256 of the exact document
//! signed, the account and the time, in `signatures` (append-only).
//!
//! The built-in signer (`ebok_api::signing::PasswordConfirmed`) is a simple electronic
//! signature (eIDAS art. 3(10)): the authenticated resident confirms with their password at the
//! moment of signing. A qualified signature or Profil Zaufany (the state's trusted profile)
//! plug in as other implementations: they send the document's hash to the trust service, wait
//! for the signed result and return its evidence (the signed XAdES/PAdES file's hash, the
//! service's transaction id) under their own `method` name. Nothing else changes: the history,
//! the public check ([`verify`]) and the contract's conclusion read `signatures` the same way.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

/// What is about to be signed, and by whom.
#[derive(Debug, Clone, Copy)]
pub struct ToSign<'a> {
    pub utility_id: i64,
    pub case_id: i64,
    /// The signatory: the case's resident, authenticated.
    pub account_id: i64,
    pub document_id: i64,
    pub sha256: &'a [u8],
}

/// What a signer keeps as proof (never a secret).
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The method's name in `signatures.method` (`password`, `profil_zaufany`, …).
    pub method: &'static str,
    pub details: Value,
}

/// Why a document was not signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The signatory's confirmation failed (a wrong password); Polish, shown at the field.
    #[error("not confirmed: {0}")]
    NotConfirmed(String),
    /// The method cannot sign now (a trust service down); Polish.
    #[error("signing unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A way of signing.
pub trait Signer {
    /// Confirms `what` is signed by its signatory now; the evidence to record. Runs inside the
    /// signing transaction (`conn`), which holds the case.
    fn confirm(
        &self,
        conn: &mut PgConnection,
        what: &ToSign<'_>,
    ) -> impl Future<Output = Result<Evidence, SignError>> + Send;
}

/// A signature as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub method: String,
    pub signed_at: DateTime<Utc>,
    /// Who signed, as the account names them.
    pub signatory: String,
}

/// What the public check finds for a document's SHA-256 in a utility: a letter a case issued
/// (not a resident's attachment), its case and kind, and its signatures.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub number: String,
    /// `acknowledgement`, `decision` or `contract`.
    pub kind: String,
    pub issued_at: DateTime<Utc>,
    pub signatures: Vec<Signature>,
}

/// The document of utility `utility_id` with SHA-256 `sha256`, if a case issued it.
pub async fn verify(
    conn: &mut PgConnection,
    utility_id: i64,
    sha256: &[u8],
) -> sqlx::Result<Option<Verified>> {
    let Some(r) = sqlx::query!(
        r#"SELECT d.id, c.number AS "number!", e.document_kind AS "kind!", e.at
           FROM documents d
           JOIN case_events e ON e.document_id = d.id
           JOIN cases c ON c.id = e.case_id AND c.utility_id = d.utility_id
           WHERE d.utility_id = $1 AND d.sha256 = $2
           ORDER BY e.id LIMIT 1"#,
        utility_id,
        sha256
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let signatures = sqlx::query_as!(
        Signature,
        r#"SELECT s.method, s.signed_at, a.display_name AS signatory
           FROM signatures s JOIN user_accounts a ON a.id = s.account_id
           WHERE s.utility_id = $1 AND s.document_id = $2 ORDER BY s.id"#,
        utility_id,
        r.id
    )
    .fetch_all(conn)
    .await?;
    Ok(Some(Verified {
        number: r.number,
        kind: r.kind,
        issued_at: r.at,
        signatures,
    }))
}
