//! The append-only audit log: who did what to which record, and on whose behalf. The table
//! refuses UPDATE, DELETE and TRUNCATE (a trigger), so history cannot be rewritten through the
//! application's own connection.

use serde_json::Value;
use sqlx::PgConnection;

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The system itself (ingest, billing runs, schedulers).
    System,
    Resident {
        account_id: i64,
    },
    /// A staff member, possibly acting for a resident who accepted it.
    Staff {
        account_id: i64,
        on_behalf_of: Option<i64>,
    },
}

/// A staff member at work in their utility: every change they make names them in the audit log
/// ([`ByStaff::audit`]), and every query is scoped by `utility_id`.
#[derive(Debug, Clone, Copy)]
pub struct ByStaff {
    pub utility_id: i64,
    pub account_id: i64,
}

impl ByStaff {
    /// The audit log's actor: this staff member, for nobody else.
    pub fn actor(self) -> Actor {
        Actor::Staff {
            account_id: self.account_id,
            on_behalf_of: None,
        }
    }

    /// Appends the audit entry of this staff member's `action` on `entity_type` `entity_id`,
    /// on the caller's connection (inside the transaction of the change).
    pub async fn audit(
        self,
        conn: &mut PgConnection,
        action: &str,
        entity_type: &str,
        entity_id: i64,
        details: serde_json::Value,
    ) -> sqlx::Result<i64> {
        self.audit_for(conn, None, action, entity_type, entity_id, details)
            .await
    }

    /// [`ByStaff::audit`], acting for a resident's account (`on_behalf_of`) when given.
    pub async fn audit_for(
        self,
        conn: &mut PgConnection,
        on_behalf_of: Option<i64>,
        action: &str,
        entity_type: &str,
        entity_id: i64,
        details: serde_json::Value,
    ) -> sqlx::Result<i64> {
        record(
            conn,
            &AuditEntry {
                utility_id: Some(self.utility_id),
                actor: Actor::Staff {
                    account_id: self.account_id,
                    on_behalf_of,
                },
                action,
                entity_type: Some(entity_type),
                entity_id: Some(entity_id.to_string()),
                details,
                request_id: None,
            },
        )
        .await
    }
}

#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// `None` only for installation-wide actions.
    pub utility_id: Option<i64>,
    pub actor: Actor,
    /// `<subject>.<verb>`, e.g. `meter.installed`.
    pub action: &'a str,
    pub entity_type: Option<&'a str>,
    pub entity_id: Option<String>,
    pub details: Value,
    pub request_id: Option<&'a str>,
}

impl Actor {
    /// (`audit_actor`, acting account, account acted for).
    fn parts(self) -> (&'static str, Option<i64>, Option<i64>) {
        match self {
            Actor::System => ("system", None, None),
            Actor::Resident { account_id } => ("resident", Some(account_id), None),
            Actor::Staff {
                account_id,
                on_behalf_of,
            } => ("staff", Some(account_id), on_behalf_of),
        }
    }
}

/// Appends one entry on the caller's connection (inside the transaction of the action itself).
pub async fn record(conn: &mut PgConnection, entry: &AuditEntry<'_>) -> sqlx::Result<i64> {
    let (actor, account, on_behalf_of) = entry.actor.parts();
    sqlx::query_scalar!(
        r#"INSERT INTO audit_log (utility_id, actor, actor_account_id, on_behalf_of_account_id,
                                  action, entity_type, entity_id, details, request_id)
           VALUES ($1, $2::text::audit_actor, $3, $4, $5, $6, $7, $8, $9)
           RETURNING id"#,
        entry.utility_id,
        actor,
        account,
        on_behalf_of,
        entry.action,
        entry.entity_type,
        entry.entity_id,
        entry.details,
        entry.request_id,
    )
    .fetch_one(conn)
    .await
}

/// Appends one entry per entity in one statement: the same action by the same actor on many
/// records (a statement's payments), `details` matching `entity_ids` one to one.
pub async fn record_many(
    conn: &mut PgConnection,
    utility_id: Option<i64>,
    actor: Actor,
    action: &str,
    entity_type: &str,
    entity_ids: &[String],
    details: &[Value],
) -> sqlx::Result<()> {
    assert_eq!(entity_ids.len(), details.len(), "one detail per entity");
    let (actor, account, on_behalf_of) = actor.parts();
    sqlx::query!(
        r#"INSERT INTO audit_log (utility_id, actor, actor_account_id, on_behalf_of_account_id,
                                  action, entity_type, entity_id, details)
           SELECT $1, $2::text::audit_actor, $3, $4, $5, $6, u.entity_id, u.details
           FROM unnest($7::text[], $8::jsonb[]) AS u(entity_id, details)"#,
        utility_id,
        actor,
        account,
        on_behalf_of,
        action,
        entity_type,
        entity_ids,
        details,
    )
    .execute(conn)
    .await?;
    Ok(())
}
