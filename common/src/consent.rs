//! Consents a resident gives online (seed 004): to receive invoices electronically
//! (`e_invoice`) and to receive notices of failures, planned works and supply interruptions
//! (`notifications`). Billing reads the first, notification delivery the second; the portal
//! grants and withdraws them. Each grant is a row and withdrawing closes it, so the history of
//! who agreed to which wording, and when, is never lost. Every change is audited in the same
//! transaction.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;

use crate::audit::{self, Actor, AuditEntry};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsentKind {
    EInvoice,
    Notifications,
}

impl ConsentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentKind::EInvoice => "e_invoice",
            ConsentKind::Notifications => "notifications",
        }
    }

    pub fn parse(name: &str) -> Option<ConsentKind> {
        match name {
            "e_invoice" => Some(ConsentKind::EInvoice),
            "notifications" => Some(ConsentKind::Notifications),
            _ => None,
        }
    }
}

/// One grant, open while `withdrawn_at` is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentRecord {
    pub id: i64,
    pub kind: ConsentKind,
    pub form_version: String,
    pub granted_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
}

/// Grants `kind` for the account, agreeing to the form of `form_version`. Granting a consent
/// already in force changes nothing and returns the grant in force.
pub async fn grant(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
    kind: ConsentKind,
    form_version: &str,
    actor: Actor,
) -> sqlx::Result<ConsentRecord> {
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO consents (utility_id, account_id, kind, form_version)
           VALUES ($1, $2, $3::text::consent_kind, $4)
           ON CONFLICT (account_id, kind) WHERE withdrawn_at IS NULL DO NOTHING
           RETURNING id"#,
        utility_id,
        account_id,
        kind.as_str(),
        form_version,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = inserted {
        audit::record(
            conn,
            &AuditEntry {
                utility_id: Some(utility_id),
                actor,
                action: "consent.granted",
                entity_type: Some("consent"),
                entity_id: Some(id.to_string()),
                details: json!({ "account_id": account_id, "kind": kind.as_str(),
                                 "form_version": form_version }),
                request_id: None,
            },
        )
        .await?;
    }
    let in_force = in_force(conn, utility_id, account_id, kind).await?;
    Ok(in_force.expect("a consent in force after granting it"))
}

/// Withdraws `kind`; returns whether a consent was in force.
pub async fn withdraw(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
    kind: ConsentKind,
    actor: Actor,
) -> sqlx::Result<bool> {
    let closed = sqlx::query_scalar!(
        r#"UPDATE consents SET withdrawn_at = greatest(now(), granted_at)
           WHERE utility_id = $1 AND account_id = $2 AND kind = $3::text::consent_kind
             AND withdrawn_at IS NULL
           RETURNING id"#,
        utility_id,
        account_id,
        kind.as_str(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = closed {
        audit::record(
            conn,
            &AuditEntry {
                utility_id: Some(utility_id),
                actor,
                action: "consent.withdrawn",
                entity_type: Some("consent"),
                entity_id: Some(id.to_string()),
                details: json!({ "account_id": account_id, "kind": kind.as_str() }),
                request_id: None,
            },
        )
        .await?;
    }
    Ok(closed.is_some())
}

/// The grant of `kind` in force, if any.
pub async fn in_force(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
    kind: ConsentKind,
) -> sqlx::Result<Option<ConsentRecord>> {
    Ok(history(conn, utility_id, account_id)
        .await?
        .into_iter()
        .find(|c| c.kind == kind && c.withdrawn_at.is_none()))
}

/// Every grant of the account, newest first.
pub async fn history(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
) -> sqlx::Result<Vec<ConsentRecord>> {
    let rows = sqlx::query!(
        r#"SELECT id, kind::text AS "kind!", form_version, granted_at, withdrawn_at
           FROM consents WHERE utility_id = $1 AND account_id = $2
           ORDER BY granted_at DESC, id DESC"#,
        utility_id,
        account_id,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(ConsentRecord {
                id: r.id,
                kind: ConsentKind::parse(&r.kind)?,
                form_version: r.form_version,
                granted_at: r.granted_at,
                withdrawn_at: r.withdrawn_at,
            })
        })
        .collect())
}
