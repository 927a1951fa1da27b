//! KSeF in the back office: the utility's settings (which invoices go, to which environment),
//! the state of its queue, the invoices KSeF refused and those that could not be sent (with
//! the reason), and sending a refused invoice again once the cause is fixed. Everything is
//! filtered by the utility in the same statement.

use chrono::{DateTime, Utc};
use ebok_common::audit::{self, Actor, AuditEntry};
use serde_json::json;
use sqlx::PgConnection;

/// Which invoices go to KSeF (`ksef_scope`).
pub const SCOPES: [&str; 3] = ["off", "with_nip", "all"];
/// The KSeF environments (`ksef_environment`).
pub const ENVIRONMENTS: [&str; 3] = ["test", "demo", "production"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub scope: String,
    pub environment: String,
}

pub async fn settings(conn: &mut PgConnection, utility_id: i64) -> sqlx::Result<Settings> {
    let row = sqlx::query!(
        r#"SELECT ksef_scope::text AS "scope!", ksef_environment::text AS "environment!"
           FROM utilities WHERE id = $1"#,
        utility_id
    )
    .fetch_one(conn)
    .await?;
    Ok(Settings {
        scope: row.scope,
        environment: row.environment,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("unknown scope or environment")]
    Unknown,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Changes the settings (for invoices issued from now on), audited.
pub async fn set_settings(
    conn: &mut PgConnection,
    utility_id: i64,
    staff_account_id: i64,
    settings: &Settings,
) -> Result<(), SettingsError> {
    if !SCOPES.contains(&settings.scope.as_str())
        || !ENVIRONMENTS.contains(&settings.environment.as_str())
    {
        return Err(SettingsError::Unknown);
    }
    sqlx::query!(
        r#"UPDATE utilities SET ksef_scope = $2::text::ksef_scope,
                                ksef_environment = $3::text::ksef_environment
           WHERE id = $1"#,
        utility_id,
        settings.scope,
        settings.environment,
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: Actor::Staff {
                account_id: staff_account_id,
                on_behalf_of: None,
            },
            action: "ksef.settings_changed",
            entity_type: Some("utility"),
            entity_id: Some(utility_id.to_string()),
            details: json!({ "scope": settings.scope, "environment": settings.environment }),
            request_id: None,
        },
    )
    .await?;
    Ok(())
}

/// How many invoices are in each state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub queued: i64,
    pub sent: i64,
    pub accepted: i64,
    pub rejected: i64,
    /// Queued over an hour ago and never tried: no sender runs for the utility (no
    /// `[ksef.<slug>]` in the configuration of the process that sends).
    pub untried: i64,
}

pub async fn counts(conn: &mut PgConnection, utility_id: i64) -> sqlx::Result<Counts> {
    let rows = sqlx::query!(
        r#"SELECT state::text AS "state!", count(*) AS "n!" FROM ksef_invoices
           WHERE utility_id = $1 GROUP BY state"#,
        utility_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut c = Counts {
        untried: sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM ksef_invoices
               WHERE utility_id = $1 AND state = 'queued' AND attempts = 0
                 AND queued_at < now() - interval '1 hour'"#,
            utility_id
        )
        .fetch_one(&mut *conn)
        .await?,
        ..Counts::default()
    };
    for r in rows {
        match r.state.as_str() {
            "queued" => c.queued = r.n,
            "sent" => c.sent = r.n,
            "accepted" => c.accepted = r.n,
            _ => c.rejected = r.n,
        }
    }
    Ok(c)
}

/// An invoice on its way to KSeF, or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub invoice_id: i64,
    pub number: String,
    pub customer_number: String,
    pub state: String,
    pub ksef_number: Option<String>,
    /// KSeF's reason (refused), or the last error of sending.
    pub problem: Option<String>,
    pub attempts: i32,
    pub updated_at: DateTime<Utc>,
}

/// The invoices staff should look at: refused by KSeF, or not sent after a failed attempt;
/// then the latest accepted ones. At most `limit` of each.
pub async fn entries(
    conn: &mut PgConnection,
    utility_id: i64,
    limit: i64,
) -> sqlx::Result<(Vec<Entry>, Vec<Entry>)> {
    let trouble = sqlx::query_as!(
        Entry,
        r#"SELECT k.invoice_id, i.number, c.customer_number, k.state::text AS "state!",
                  k.ksef_number, coalesce(k.status_description, k.last_error) AS problem,
                  k.attempts, k.updated_at
           FROM ksef_invoices k
           JOIN invoices i ON i.id = k.invoice_id
           JOIN customers c ON c.id = i.customer_id
           WHERE k.utility_id = $1
             AND (k.state = 'rejected' OR (k.state = 'queued' AND k.last_error IS NOT NULL))
           ORDER BY k.updated_at DESC LIMIT $2"#,
        utility_id,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    let accepted = sqlx::query_as!(
        Entry,
        r#"SELECT k.invoice_id, i.number, c.customer_number, k.state::text AS "state!",
                  k.ksef_number, k.status_description AS problem, k.attempts, k.updated_at
           FROM ksef_invoices k
           JOIN invoices i ON i.id = k.invoice_id
           JOIN customers c ON c.id = i.customer_id
           WHERE k.utility_id = $1 AND k.state = 'accepted'
           ORDER BY k.updated_at DESC LIMIT $2"#,
        utility_id,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok((trouble, accepted))
}

/// Sends a refused invoice again (after its cause was fixed, e.g. the utility's NIP or the
/// token's rights); `false` when it is not a refused invoice of the utility.
pub async fn send_again(
    conn: &mut PgConnection,
    utility_id: i64,
    invoice_id: i64,
    staff_account_id: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        r#"UPDATE ksef_invoices
           SET state = 'queued', attempts = 0, next_attempt_at = now(), session_reference = NULL,
               invoice_reference = NULL, last_error = NULL, updated_at = now()
           WHERE utility_id = $1 AND invoice_id = $2 AND state = 'rejected'"#,
        utility_id,
        invoice_id
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if done {
        audit::record(
            conn,
            &AuditEntry {
                utility_id: Some(utility_id),
                actor: Actor::Staff {
                    account_id: staff_account_id,
                    on_behalf_of: None,
                },
                action: "ksef.invoice_sent_again",
                entity_type: Some("invoice"),
                entity_id: Some(invoice_id.to_string()),
                details: json!({}),
                request_id: None,
            },
        )
        .await?;
    }
    Ok(done)
}

/// An invoice's KSeF state, for its pages: (state, KSeF number, UPO present).
pub async fn of_invoice(
    conn: &mut PgConnection,
    utility_id: i64,
    invoice_id: i64,
) -> sqlx::Result<Option<(String, Option<String>, bool)>> {
    Ok(sqlx::query!(
        r#"SELECT state::text AS "state!", ksef_number, upo IS NOT NULL AS "has_upo!"
           FROM ksef_invoices WHERE utility_id = $1 AND invoice_id = $2"#,
        utility_id,
        invoice_id
    )
    .fetch_optional(conn)
    .await?
    .map(|r| (r.state, r.ksef_number, r.has_upo)))
}

/// The UPO (XML) of an accepted invoice of the utility.
pub async fn upo(
    conn: &mut PgConnection,
    utility_id: i64,
    invoice_id: i64,
) -> sqlx::Result<Option<String>> {
    Ok(sqlx::query_scalar!(
        "SELECT upo FROM ksef_invoices WHERE utility_id = $1 AND invoice_id = $2",
        utility_id,
        invoice_id
    )
    .fetch_optional(conn)
    .await?
    .flatten())
}
