//! Acting in a resident's name (seed 000): a clerk, at the counter or on the phone, does for a
//! customer what the customer would do in their eBOK. What binds the resident — a consent given
//! or withdrawn now, an application later — is a *proxy act*: proposed by the clerk
//! ([`propose_consent`]), it takes effect only when the resident accepts it in their eBOK
//! ([`decide`]); declined, nothing happens. The resident is told of a proposal through the
//! outbox (`proxy_act.proposed`: inbox, push and e-mail by preference). Both steps are in the audit log: the proposal with
//! the clerk as actor and the resident named as the one acted for, the decision with the
//! resident as actor and the clerk who proposed it.

use chrono::{DateTime, Utc};
use ebok_common::audit::{self, Actor, AuditEntry};
use ebok_common::consent::{self, ConsentKind};
use ebok_common::outbox::{self, Addressee, Event, OutboxEvent, ProxyActProposed};
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::consent_forms;
use crate::error::ApiError;

/// A proxy act as the resident and the clerk see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProxyAct {
    pub id: i64,
    /// `consent.grant` or `consent.withdraw`.
    pub kind: String,
    /// `e_invoice` or `notifications`.
    pub consent: String,
    /// The form's wording version a grant agrees to.
    pub form_version: Option<String>,
    pub note: Option<String>,
    /// The clerk who proposed it.
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// `awaiting`, `accepted` or `declined`.
    pub state: String,
    pub decided_at: Option<DateTime<Utc>>,
    /// The resident's e-mail (for the clerk).
    pub account_email: String,
}

impl ProxyAct {
    /// What it does, in Polish: "udzielenie zgody: Zgoda na fakturę elektroniczną".
    pub fn describe(&self) -> String {
        let title = ConsentKind::parse(&self.consent)
            .map(|k| consent_forms::for_kind(k).title)
            .unwrap_or_default();
        match self.kind.as_str() {
            "consent.grant" => format!("udzielenie zgody: {title}"),
            _ => format!("wycofanie zgody: {title}"),
        }
    }
}

/// Proposes, in the name of resident `account_id` linked to customer `customer_id`, to grant
/// (`grant`) or withdraw a consent. Returns the act's id.
#[allow(clippy::too_many_arguments)]
pub async fn propose_consent(
    pool: &PgPool,
    utility_id: i64,
    clerk_id: i64,
    customer_id: i64,
    account_id: i64,
    consent: &str,
    grant: bool,
    note: &str,
) -> Result<i64, ApiError> {
    let kind = ConsentKind::parse(consent)
        .ok_or_else(|| ApiError::invalid("consent", "Wybierz zgodę."))?;
    let note = note.trim();
    if note.chars().count() > 500 {
        return Err(ApiError::invalid(
            "note",
            "Notatka może mieć najwyżej 500 znaków.",
        ));
    }
    let mut tx = pool.begin().await?;
    let linked = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM account_customers ac
                          JOIN user_accounts a ON a.id = ac.account_id
                          WHERE ac.utility_id = $1 AND ac.customer_id = $2
                            AND ac.account_id = $3 AND a.status = 'active') AS "linked!""#,
        utility_id,
        customer_id,
        account_id,
    )
    .fetch_one(&mut *tx)
    .await?;
    if !linked {
        return Err(ApiError::invalid(
            "account",
            "To konto nie jest aktywnym kontem eBOK tego klienta.",
        ));
    }
    let form = consent_forms::for_kind(kind);
    let in_force = consent::in_force(&mut tx, utility_id, account_id, kind).await?;
    if grant == in_force.is_some() {
        return Err(ApiError::invalid(
            "consent",
            if grant {
                "Ta zgoda już obowiązuje."
            } else {
                "Ta zgoda nie obowiązuje; nie ma czego wycofać."
            },
        ));
    }
    let (act, payload) = if grant {
        (
            "consent.grant",
            json!({ "kind": kind.as_str(), "form_version": form.version }),
        )
    } else {
        ("consent.withdraw", json!({ "kind": kind.as_str() }))
    };
    let id = sqlx::query_scalar!(
        r#"INSERT INTO proxy_acts (utility_id, account_id, customer_id, kind, payload, note,
                                   requested_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"#,
        utility_id,
        account_id,
        customer_id,
        act,
        payload,
        (!note.is_empty()).then_some(note),
        clerk_id,
    )
    .fetch_one(&mut *tx)
    .await?;
    // The resident is told (inbox, push, e-mail by their preferences) in the same transaction.
    let what = if grant {
        format!("udzielenie zgody: {}", form.title)
    } else {
        format!("wycofanie zgody: {}", form.title)
    };
    outbox::enqueue(
        &mut tx,
        &OutboxEvent {
            utility_id,
            event: Event::ProxyActProposed(ProxyActProposed { act_id: id, what }),
            to: Addressee::Account(account_id),
            dedup_key: Some(format!("proxy_act:{id}")),
        },
    )
    .await?;
    audit::record(
        &mut tx,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: Actor::Staff {
                account_id: clerk_id,
                on_behalf_of: Some(account_id),
            },
            action: "proxy_act.proposed",
            entity_type: Some("proxy_act"),
            entity_id: Some(id.to_string()),
            details: json!({ "kind": act, "payload": payload, "customer_id": customer_id }),
            request_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The acts of resident `account_id` (awaiting ones first), or of customer `customer_id`.
pub async fn list(
    pool: &PgPool,
    utility_id: i64,
    account_id: Option<i64>,
    customer_id: Option<i64>,
) -> sqlx::Result<Vec<ProxyAct>> {
    sqlx::query_as!(
        ProxyAct,
        r#"SELECT p.id, p.kind, p.payload->>'kind' AS "consent!",
                  p.payload->>'form_version' AS form_version, p.note,
                  s.display_name AS requested_by, p.requested_at,
                  p.state::text AS "state!", p.decided_at, a.email AS account_email
           FROM proxy_acts p
           JOIN user_accounts s ON s.id = p.requested_by
           JOIN user_accounts a ON a.id = p.account_id
           WHERE p.utility_id = $1
             AND ($2::bigint IS NULL OR p.account_id = $2)
             AND ($3::bigint IS NULL OR p.customer_id = $3)
           ORDER BY (p.state = 'awaiting') DESC, p.requested_at DESC
           LIMIT 50"#,
        utility_id,
        account_id,
        customer_id,
    )
    .fetch_all(pool)
    .await
}

/// The resident accepts (the act takes effect now, as theirs) or declines an act awaiting them.
pub async fn decide(
    pool: &PgPool,
    utility_id: i64,
    account_id: i64,
    id: i64,
    accept: bool,
) -> Result<(), ApiError> {
    let mut tx = pool.begin().await?;
    let act = sqlx::query!(
        r#"SELECT kind, payload, requested_by FROM proxy_acts
           WHERE id = $1 AND utility_id = $2 AND account_id = $3 AND state = 'awaiting'
           FOR UPDATE"#,
        id,
        utility_id,
        account_id,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    let resident = Actor::Resident { account_id };
    if accept {
        let kind = act.payload["kind"]
            .as_str()
            .and_then(ConsentKind::parse)
            .ok_or_else(|| anyhow::anyhow!("proxy act {id} without a consent kind"))?;
        if act.kind == "consent.grant" {
            let version = act.payload["form_version"].as_str().unwrap_or_default();
            // The wording may have changed since the clerk proposed it: then it is a new form
            // the resident has not seen, and the act cannot be accepted as it was.
            if version != consent_forms::for_kind(kind).version {
                return Err(ApiError::Conflict {
                    field: None,
                    detail: "Treść zgody zmieniła się od czasu wniosku. Udziel zgody sam w \
                             zakładce Zgody albo odrzuć wniosek."
                        .into(),
                });
            }
            consent::grant(&mut tx, utility_id, account_id, kind, version, resident).await?;
        } else {
            consent::withdraw(&mut tx, utility_id, account_id, kind, resident).await?;
        }
    }
    sqlx::query!(
        r#"UPDATE proxy_acts SET state = $2::text::proxy_act_state, decided_at = now()
           WHERE id = $1"#,
        id,
        if accept { "accepted" } else { "declined" },
    )
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: resident,
            action: if accept {
                "proxy_act.accepted"
            } else {
                "proxy_act.declined"
            },
            entity_type: Some("proxy_act"),
            entity_id: Some(id.to_string()),
            details: json!({ "kind": act.kind, "requested_by": act.requested_by }),
            request_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
