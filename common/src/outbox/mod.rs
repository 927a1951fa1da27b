//! The transactional outbox: every module writes what others must react to (an alarm, a new
//! invoice, a decision, an outage notice) here, in the same transaction as the change itself.
//! mobile-push drains it. No module tells another anything over the network. What may be said
//! is [`Event`]; to whom, [`Addressee`].

mod events;

pub use events::{
    Booking, CaseDraftPrepared, CaseOverdue, CaseStageChanged, DocumentPublished, Event,
    FailureReportChanged, InvoiceIssued, MeterAlarm, Outage, PaymentReceived, PaymentReminder,
    ProxyActProposed, ReminderStage, ResidentAlarm, StoredEventError, ZoneAlarm,
};
use serde_json::Value;
use sqlx::PgConnection;

/// Who a notification is for. The dispatcher resolves it to devices and addresses.
#[derive(Debug, Clone, PartialEq)]
pub enum Addressee {
    /// One user account.
    Account(i64),
    /// Every account linked to a customer.
    Customer(i64),
    /// Everyone matching a description (e.g. an area and a consent), expanded by the
    /// dispatcher in batches; the caller never writes one row per recipient.
    Audience(Value),
}

/// A fact to announce, to whom.
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    pub utility_id: i64,
    pub event: Event,
    pub to: Addressee,
    /// When set, a second event with the same key (in the same utility) is not enqueued again.
    pub dedup_key: Option<String>,
}

/// Writes the event on the caller's connection, which should be inside the transaction that makes
/// the change. Returns the new row's id, or `None` when an event with the same `dedup_key` exists.
pub async fn enqueue(conn: &mut PgConnection, event: &OutboxEvent) -> sqlx::Result<Option<i64>> {
    let (account, customer, audience) = match &event.to {
        Addressee::Account(id) => (Some(*id), None, None),
        Addressee::Customer(id) => (None, Some(*id), None),
        Addressee::Audience(spec) => (None, None, Some(spec.clone())),
    };
    sqlx::query_scalar!(
        r#"INSERT INTO outbox (utility_id, kind, payload, recipient_account_id,
                               recipient_customer_id, audience, dedup_key)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (utility_id, dedup_key) DO NOTHING
           RETURNING id"#,
        event.utility_id,
        event.event.kind(),
        event.event.payload(),
        account,
        customer,
        audience,
        event.dedup_key,
    )
    .fetch_optional(conn)
    .await
}
