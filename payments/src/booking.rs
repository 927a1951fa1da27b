//! Booking a payment: into the customer's ledger exactly once, allocated to their invoices
//! (the one the resident chose, then the oldest; the rest is an overpayment kept as credit),
//! announced to the resident ("payment received", through the outbox) and audited — all in
//! the caller's transaction, so a payment is booked with all of that or not at all.
//!
//! Exactly once: the ledger skips an entry whose provider reference is booked already
//! (migration 0024's `ledger_append`), whatever path the money came by — a concurrent replay
//! waits on the customer's balance row for the first booking to end and then books nothing —
//! and a payment already booked is not booked again under another reference.

use ebok_billing::allocation::{self, Allocation};
use ebok_common::domain::Money;
use ebok_common::outbox::{Event, PaymentReceived};
use serde_json::json;
use sqlx::PgConnection;

/// What booking did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Booking {
    Booked {
        ledger_entry_id: i64,
        allocations: Vec<Allocation>,
    },
    /// The payment (or its provider reference) was booked before: nothing was done.
    AlreadyBooked,
}

/// The money of one payment as the provider confirmed it.
#[derive(Debug, Clone)]
pub struct Confirmed<'a> {
    pub payment_id: i64,
    /// The provider's reference of the money (P24 order id, Stripe PaymentIntent).
    pub provider_reference: &'a str,
    /// How it was paid, as the provider says.
    pub method: Option<&'a str>,
    /// The ledger's description, Polish (the resident reads it).
    pub description: &'a str,
}

/// Books payment `c.payment_id` (which must be `started`, or `booked` for a replay) in the
/// caller's transaction.
pub async fn book(conn: &mut PgConnection, c: &Confirmed<'_>) -> sqlx::Result<Booking> {
    // One statement: the ledger entry, unless its reference is booked already (the ledger
    // skips it: a concurrent booking of it waits on the customer's balance and then finds it),
    // and the payment marked booked with it. A payment booked before has no row in `p`, so
    // nothing is inserted either.
    let Some(p) = sqlx::query!(
        r#"WITH p AS (
               SELECT utility_id, customer_id, provider::text || ':' || $2 AS reference,
                      amount_grosze, invoice_id
               FROM payments WHERE id = $1 AND status <> 'booked'),
           entry AS (
               INSERT INTO ledger_entries (utility_id, customer_id, kind, amount_grosze,
                                           reference, description)
               SELECT utility_id, customer_id, 'payment', -amount_grosze, reference, $3 FROM p
               RETURNING id),
           booked AS (
               UPDATE payments SET status = 'booked', ledger_entry_id = entry.id,
                                   provider_reference = $2, method = coalesce($4, method),
                                   problem = NULL, booked_at = now(), updated_at = now()
               FROM entry WHERE payments.id = $1
               RETURNING payments.id)
           SELECT entry.id AS "entry!", p.utility_id AS "utility_id!",
                  p.customer_id AS "customer_id!", p.reference AS "reference!",
                  p.amount_grosze AS "amount_grosze!", p.invoice_id
           FROM entry, p"#,
        c.payment_id,
        c.provider_reference,
        c.description,
        c.method
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(Booking::AlreadyBooked);
    };
    let (entry, reference) = (p.entry, p.reference);
    let amount = Money::from_grosze(p.amount_grosze);
    // What the payment pays, read after the ledger entry locked the customer's balance (so a
    // concurrent booking of the customer has committed its allocations, or waits for ours).
    let open = allocation::open_invoices(conn, p.customer_id).await?;
    let allocations = allocation::plan(&open, amount, p.invoice_id);
    // The allocations, the notice and the audit entry in one statement: a booking is paid for
    // in round trips to the database more than in work (`ebok bench payments`). The outbox
    // and audit rows are those `outbox::enqueue` and `audit::record` write.
    let event = Event::PaymentReceived(PaymentReceived {
        payment_id: c.payment_id,
        amount_grosze: amount,
    });
    let details = json!({
        "amount_grosze": amount.grosze(),
        "reference": reference,
        "ledger_entry_id": entry,
        "allocations": allocations.iter()
            .map(|a| json!({"invoice_id": a.invoice_id, "amount_grosze": a.amount.grosze()}))
            .collect::<Vec<_>>(),
    });
    sqlx::query!(
        r#"WITH allocated AS (
               INSERT INTO invoice_allocations (ledger_entry_id, invoice_id, amount_grosze)
               SELECT $1, * FROM unnest($2::bigint[], $3::bigint[])),
           announced AS (
               INSERT INTO outbox (utility_id, kind, payload, recipient_customer_id, dedup_key)
               VALUES ($4, $5, $6, $7, $8)
               ON CONFLICT (utility_id, dedup_key) DO NOTHING)
           INSERT INTO audit_log (utility_id, actor, action, entity_type, entity_id, details)
           VALUES ($4, 'system', 'payment.booked', 'payment', $9, $10)"#,
        entry,
        &allocations.iter().map(|a| a.invoice_id).collect::<Vec<_>>(),
        &allocations
            .iter()
            .map(|a| a.amount.grosze())
            .collect::<Vec<_>>(),
        p.utility_id,
        event.kind(),
        event.payload(),
        p.customer_id,
        format!("payment:{}", c.payment_id),
        c.payment_id.to_string(),
        details,
    )
    .execute(&mut *conn)
    .await?;
    Ok(Booking::Booked {
        ledger_entry_id: entry,
        allocations,
    })
}
