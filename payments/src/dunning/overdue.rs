//! What staff see of debts: the customers with overdue invoices (how much, since when, which
//! reminder went out, whether a letter on paper is due), and a customer's interest note — the
//! statutory interest for late payment of each invoice paid late or still unpaid, computed on
//! request ([`super::interest`]) for a day staff choose. Everything is filtered by the utility
//! in the same statement.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use ebok_common::domain::Money;
use serde::Serialize;
use sqlx::PgConnection;

use super::interest::{self, Debt, InterestError, Period, RateKind};
use super::rates;

/// A customer with something overdue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverdueCustomer {
    pub customer_id: i64,
    pub customer_number: String,
    pub name: String,
    pub invoices: i64,
    pub overdue: Money,
    pub oldest_due: NaiveDate,
    pub days_overdue: i64,
    /// The latest reminder sent for these invoices (before_due, overdue, demand,
    /// demand_on_paper) and its day.
    pub last_reminder: Option<String>,
    pub last_reminder_on: Option<NaiveDate>,
    /// The demand went out but cannot reach them electronically (no active account in the
    /// eBOK) and no letter was sent yet.
    pub letter_due: bool,
}

/// The utility's customers with invoices unpaid after their due date as of `today`, the longest
/// overdue first, at most `limit`.
pub async fn customers(
    conn: &mut PgConnection,
    utility_id: i64,
    today: NaiveDate,
    limit: i64,
) -> sqlx::Result<Vec<OverdueCustomer>> {
    let rows = sqlx::query!(
        r#"WITH open AS (
               SELECT i.id, i.customer_id, i.due_date,
                      i.amount_due_grosze - coalesce(
                          (SELECT sum(amount_grosze) FROM invoice_allocations
                           WHERE invoice_id = i.id), 0)::bigint AS open
               FROM invoices i
               WHERE i.utility_id = $1 AND i.due_date < $2 AND i.amount_due_grosze > 0)
           SELECT c.id AS "customer_id!", c.customer_number, c.name,
                  count(*) AS "invoices!", sum(o.open)::bigint AS "overdue!",
                  min(o.due_date) AS "oldest_due!",
                  last.stage::text AS last_stage,
                  (last.sent_at AT TIME ZONE 'Europe/Warsaw')::date AS last_on,
                  (EXISTS (SELECT 1 FROM payment_reminders r
                           WHERE r.invoice_id = ANY (array_agg(o.id)) AND r.stage = 'demand'
                             AND NOT EXISTS (SELECT 1 FROM payment_reminders p
                                             WHERE p.invoice_id = r.invoice_id
                                               AND p.stage = 'demand_on_paper'))
                   AND NOT EXISTS (SELECT 1 FROM account_customers ac
                                   JOIN user_accounts ua ON ua.id = ac.account_id
                                   WHERE ac.customer_id = c.id AND ua.status = 'active'))
                  AS "letter_due!"
           FROM open o
           JOIN customers c ON c.id = o.customer_id
           LEFT JOIN LATERAL (
               SELECT r.stage, r.sent_at FROM payment_reminders r
               JOIN invoices ri ON ri.id = r.invoice_id
               WHERE ri.customer_id = c.id AND r.utility_id = $1
               ORDER BY r.sent_at DESC, r.id DESC LIMIT 1) last ON true
           WHERE o.open > 0
           GROUP BY c.id, c.customer_number, c.name, last.stage, last.sent_at
           ORDER BY min(o.due_date), c.customer_number
           LIMIT $3"#,
        utility_id,
        today,
        limit,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| OverdueCustomer {
            customer_id: r.customer_id,
            customer_number: r.customer_number,
            name: r.name,
            invoices: r.invoices,
            overdue: Money::from_grosze(r.overdue),
            oldest_due: r.oldest_due,
            days_overdue: (today - r.oldest_due).num_days(),
            last_reminder: r.last_stage,
            last_reminder_on: r.last_on,
            letter_due: r.letter_due,
        })
        .collect())
}

/// Marks the customer's demands as sent on paper (staff printed and posted the letter);
/// how many invoices it marked. `None` when the customer is not the utility's.
pub async fn letter_sent(
    conn: &mut PgConnection,
    utility_id: i64,
    customer_id: i64,
    staff_account_id: i64,
) -> sqlx::Result<Option<u64>> {
    let known = sqlx::query_scalar!(
        "SELECT 1 AS \"one!\" FROM customers WHERE utility_id = $1 AND id = $2",
        utility_id,
        customer_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    if known.is_none() {
        return Ok(None);
    }
    let marked = sqlx::query!(
        r#"INSERT INTO payment_reminders (utility_id, invoice_id, stage, open_grosze, sent_by)
           SELECT r.utility_id, r.invoice_id, 'demand_on_paper', r.open_grosze, $3
           FROM payment_reminders r JOIN invoices i ON i.id = r.invoice_id
           WHERE r.utility_id = $1 AND i.customer_id = $2 AND r.stage = 'demand'
           ON CONFLICT (invoice_id, stage, coalesce(account_id, 0)) DO NOTHING"#,
        utility_id,
        customer_id,
        staff_account_id,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    ebok_common::audit::record(
        conn,
        &ebok_common::audit::AuditEntry {
            utility_id: Some(utility_id),
            actor: ebok_common::audit::Actor::Staff {
                account_id: staff_account_id,
                on_behalf_of: None,
            },
            action: "payment_demand.sent_on_paper",
            entity_type: Some("customer"),
            entity_id: Some(customer_id.to_string()),
            details: serde_json::json!({ "invoices": marked }),
            request_id: None,
        },
    )
    .await?;
    Ok(Some(marked))
}

/// One invoice on an interest note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoteInvoice {
    pub invoice_id: i64,
    pub number: String,
    pub due_date: NaiveDate,
    pub amount_due: Money,
    /// Still unpaid on the note's day.
    pub open: Money,
    pub periods: Vec<Period>,
    pub interest: Money,
}

/// The interest a customer owes for late payment as of a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterestNote {
    pub customer_id: i64,
    pub customer_number: String,
    pub name: String,
    pub kind: RateKind,
    pub until: NaiveDate,
    /// The invoices paid late or still unpaid after their due date.
    pub invoices: Vec<NoteInvoice>,
    pub total: Money,
    /// A day of delay for which no rate is known: nothing is computed until an admin adds
    /// the rate in force that day.
    pub missing_rate: Option<NaiveDate>,
}

/// The customer's interest note as of `until`; `None` when the customer is not the utility's.
pub async fn interest_note(
    conn: &mut PgConnection,
    utility_id: i64,
    customer_id: i64,
    until: NaiveDate,
) -> sqlx::Result<Option<InterestNote>> {
    let Some(customer) = sqlx::query!(
        r#"SELECT customer_number, name, kind::text AS "kind!" FROM customers
           WHERE utility_id = $1 AND id = $2"#,
        utility_id,
        customer_id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let kind = RateKind::for_customer_kind(&customer.kind);
    let rates = rates::of_kind(conn, kind).await?;
    let invoices = sqlx::query!(
        r#"SELECT id, number, due_date, amount_due_grosze FROM invoices
           WHERE utility_id = $1 AND customer_id = $2 AND due_date < $3
             AND amount_due_grosze > 0
           ORDER BY due_date, id"#,
        utility_id,
        customer_id,
        until,
    )
    .fetch_all(&mut *conn)
    .await?;
    // What paid each invoice and on which day: a bank transfer's value date, else the day the
    // payment (or correction) was booked, Warsaw time.
    let paid = sqlx::query!(
        r#"SELECT a.invoice_id, a.amount_grosze,
                  coalesce(l.value_date,
                           (le.booked_at AT TIME ZONE 'Europe/Warsaw')::date) AS "day!"
           FROM invoice_allocations a
           JOIN invoices i ON i.id = a.invoice_id
           JOIN ledger_entries le ON le.id = a.ledger_entry_id
           LEFT JOIN payments p ON p.ledger_entry_id = le.id
           LEFT JOIN bank_statement_lines l ON l.payment_id = p.id
           WHERE i.utility_id = $1 AND i.customer_id = $2"#,
        utility_id,
        customer_id,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut payments: BTreeMap<i64, Vec<(NaiveDate, Money)>> = BTreeMap::new();
    for p in paid {
        payments
            .entry(p.invoice_id)
            .or_default()
            .push((p.day, Money::from_grosze(p.amount_grosze)));
    }
    let mut out = Vec::new();
    let mut missing_rate = None;
    for i in invoices {
        let debt = Debt {
            due_date: i.due_date,
            amount: Money::from_grosze(i.amount_due_grosze),
            payments: payments.remove(&i.id).unwrap_or_default(),
        };
        let periods = match interest::periods(&debt, &rates, until) {
            Ok(periods) => periods,
            Err(InterestError::NoRate(day)) => {
                missing_rate = Some(day);
                out.clear();
                break;
            }
        };
        if periods.is_empty() {
            continue;
        }
        let open = debt.amount
            - debt
                .payments
                .iter()
                .filter(|(day, _)| *day <= until)
                .map(|(_, a)| *a)
                .sum::<Money>();
        out.push(NoteInvoice {
            invoice_id: i.id,
            number: i.number,
            due_date: i.due_date,
            amount_due: debt.amount,
            open,
            interest: interest::total(&periods),
            periods,
        });
    }
    let total = out.iter().map(|i| i.interest).sum();
    Ok(Some(InterestNote {
        customer_id,
        customer_number: customer.customer_number,
        name: customer.name,
        kind,
        until,
        invoices: out,
        total,
        missing_rate,
    }))
}
