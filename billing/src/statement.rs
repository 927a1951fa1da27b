//! What a customer's invoices and ledger look like to the people who may see them: a resident
//! (through the customers linked to their account), the mobile app (the same), and staff (any
//! customer of their utility). Every function takes the scope it reads in (utility and account,
//! or utility and customer) and filters by it in the same statement: an invoice outside the
//! scope is `None`, never data.

use chrono::{DateTime, NaiveDate, Utc};
use ebok_common::domain::Money;
use serde::Serialize;
use sqlx::PgExecutor;

use crate::document::InvoiceDocument;

/// Whose invoices: a resident account's linked customers, or one customer (staff).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Account { utility_id: i64, account_id: i64 },
    Customer { utility_id: i64, customer_id: i64 },
}

impl Scope {
    /// (utility, account, customer): the filter every statement of the scope applies.
    pub fn parts(self) -> (i64, Option<i64>, Option<i64>) {
        match self {
            Scope::Account {
                utility_id,
                account_id,
            } => (utility_id, Some(account_id), None),
            Scope::Customer {
                utility_id,
                customer_id,
            } => (utility_id, None, Some(customer_id)),
        }
    }
}

/// A customer's balance: positive is owed, negative is overpaid (credit for the next invoice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Balance {
    pub customer_id: i64,
    pub customer_number: String,
    pub customer_name: String,
    /// Grosze.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub balance_grosze: Money,
    /// The earliest due date among invoices with something left to pay, while anything is owed.
    pub next_due_date: Option<NaiveDate>,
}

/// An invoice in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvoiceSummary {
    pub id: i64,
    pub number: String,
    /// periodic, settlement, manual or correction.
    pub kind: String,
    pub customer_number: String,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    pub period_from: Option<NaiveDate>,
    pub period_to: Option<NaiveDate>,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub gross_grosze: Money,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub amount_due_grosze: Money,
    /// What is left to pay of the amount due after the payments and credits allocated to it.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub open_grosze: Money,
    /// Some consumption on it is an estimate.
    pub estimated: bool,
    /// electronic or paper.
    pub delivery: String,
}

/// One entry of a customer's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerEntry {
    pub seq: i64,
    /// invoice, correction, payment, refund or adjustment.
    pub kind: String,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub amount_grosze: Money,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub balance_after_grosze: Money,
    pub description: String,
    pub invoice_id: Option<i64>,
    pub booked_at: DateTime<Utc>,
}

/// An invoice with its document, for its page.
#[derive(Debug, Clone)]
pub struct InvoiceDetail {
    pub summary: InvoiceSummary,
    pub document: InvoiceDocument,
    /// SHA-256 of the FA(3) XML, hex.
    pub xml_sha256: String,
    /// SHA-256 of the PDF once rendered, hex.
    pub pdf_sha256: Option<String>,
    /// The number KSeF gave it, once it did.
    pub ksef_number: Option<String>,
}

/// The balances of the customers in scope, by customer number.
pub async fn balances(db: impl PgExecutor<'_>, scope: Scope) -> sqlx::Result<Vec<Balance>> {
    let (utility_id, account_id, customer_id) = scope.parts();
    let rows = sqlx::query!(
        r#"SELECT c.id, c.customer_number, c.name, coalesce(b.balance_grosze, 0) AS "balance!",
                  (SELECT min(i.due_date) FROM invoices i
                   WHERE i.customer_id = c.id
                     AND i.amount_due_grosze > (SELECT coalesce(sum(a.amount_grosze), 0)
                                                FROM invoice_allocations a WHERE a.invoice_id = i.id))
                  AS next_due
           FROM customers c
           LEFT JOIN customer_balances b ON b.customer_id = c.id
           WHERE c.utility_id = $1
             AND (($2::bigint IS NOT NULL AND c.id IN (SELECT customer_id FROM account_customers
                                                       WHERE account_id = $2 AND utility_id = $1))
                  OR c.id = $3)
           ORDER BY c.customer_number"#,
        utility_id,
        account_id,
        customer_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Balance {
            customer_id: r.id,
            customer_number: r.customer_number,
            customer_name: r.name,
            balance_grosze: Money::from_grosze(r.balance),
            next_due_date: r.next_due.filter(|_| r.balance > 0),
        })
        .collect())
}

/// The invoices in scope, newest first, at most `limit`.
pub async fn invoices(
    db: impl PgExecutor<'_>,
    scope: Scope,
    limit: i64,
) -> sqlx::Result<Vec<InvoiceSummary>> {
    let (utility_id, account_id, customer_id) = scope.parts();
    sqlx::query_as!(
        InvoiceSummaryRow,
        r#"SELECT i.id, i.number, i.kind::text AS "kind!", c.customer_number, i.issue_date,
                  i.due_date, i.period_from, i.period_to, i.gross_grosze, i.amount_due_grosze,
                  i.amount_due_grosze - (SELECT coalesce(sum(a.amount_grosze), 0) FROM invoice_allocations a
                                         WHERE a.invoice_id = i.id)::bigint AS "open_grosze!",
                  i.estimated, i.delivery::text AS "delivery!"
           FROM invoices i
           JOIN customers c ON c.id = i.customer_id
           WHERE i.utility_id = $1
             AND (($2::bigint IS NOT NULL AND i.customer_id IN (SELECT customer_id FROM account_customers
                                                                WHERE account_id = $2 AND utility_id = $1))
                  OR i.customer_id = $3)
           ORDER BY i.issue_date DESC, i.id DESC
           LIMIT $4"#,
        utility_id,
        account_id,
        customer_id,
        limit
    )
    .fetch_all(db)
    .await
    .map(|rows| rows.into_iter().map(InvoiceSummary::from).collect())
}

/// One invoice in scope with its document.
pub async fn invoice(
    db: impl PgExecutor<'_>,
    scope: Scope,
    invoice_id: i64,
) -> anyhow::Result<Option<InvoiceDetail>> {
    let (utility_id, account_id, customer_id) = scope.parts();
    let Some(r) = sqlx::query!(
        r#"SELECT i.id, i.number, i.kind::text AS "kind!", c.customer_number, i.issue_date,
                  i.due_date, i.period_from, i.period_to, i.gross_grosze, i.amount_due_grosze,
                  i.amount_due_grosze - (SELECT coalesce(sum(a.amount_grosze), 0) FROM invoice_allocations a
                                         WHERE a.invoice_id = i.id)::bigint AS "open_grosze!",
                  i.estimated, i.delivery::text AS "delivery!", i.document,
                  encode(i.ksef_xml_sha256, 'hex') AS "xml_sha256!", encode(i.pdf_sha256, 'hex') AS pdf_sha256,
                  k.ksef_number AS "ksef_number?"
           FROM invoices i
           JOIN customers c ON c.id = i.customer_id
           LEFT JOIN ksef_invoices k ON k.invoice_id = i.id
           WHERE i.utility_id = $1 AND i.id = $4
             AND (($2::bigint IS NOT NULL AND i.customer_id IN (SELECT customer_id FROM account_customers
                                                                WHERE account_id = $2 AND utility_id = $1))
                  OR i.customer_id = $3)"#,
        utility_id,
        account_id,
        customer_id,
        invoice_id
    )
    .fetch_optional(db)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(InvoiceDetail {
        summary: InvoiceSummary::from(InvoiceSummaryRow {
            id: r.id,
            number: r.number,
            kind: r.kind,
            customer_number: r.customer_number,
            issue_date: r.issue_date,
            due_date: r.due_date,
            period_from: r.period_from,
            period_to: r.period_to,
            gross_grosze: r.gross_grosze,
            amount_due_grosze: r.amount_due_grosze,
            open_grosze: r.open_grosze,
            estimated: r.estimated,
            delivery: r.delivery,
        }),
        document: serde_json::from_value(r.document)?,
        xml_sha256: r.xml_sha256,
        pdf_sha256: r.pdf_sha256,
        ksef_number: r.ksef_number,
    }))
}

/// The ledger entries of the customers in scope, newest first, at most `limit`.
pub async fn ledger(
    db: impl PgExecutor<'_>,
    scope: Scope,
    limit: i64,
) -> sqlx::Result<Vec<LedgerEntry>> {
    let (utility_id, account_id, customer_id) = scope.parts();
    let rows = sqlx::query!(
        r#"SELECT e.seq, e.kind::text AS "kind!", e.amount_grosze, e.balance_after_grosze,
                  e.description, e.invoice_id, e.booked_at
           FROM ledger_entries e
           WHERE e.utility_id = $1
             AND (($2::bigint IS NOT NULL AND e.customer_id IN (SELECT customer_id FROM account_customers
                                                                WHERE account_id = $2 AND utility_id = $1))
                  OR e.customer_id = $3)
           ORDER BY e.booked_at DESC, e.seq DESC
           LIMIT $4"#,
        utility_id,
        account_id,
        customer_id,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| LedgerEntry {
            seq: r.seq,
            kind: r.kind,
            amount_grosze: Money::from_grosze(r.amount_grosze),
            balance_after_grosze: Money::from_grosze(r.balance_after_grosze),
            description: r.description,
            invoice_id: r.invoice_id,
            booked_at: r.booked_at,
        })
        .collect())
}

struct InvoiceSummaryRow {
    id: i64,
    number: String,
    kind: String,
    customer_number: String,
    issue_date: NaiveDate,
    due_date: NaiveDate,
    period_from: Option<NaiveDate>,
    period_to: Option<NaiveDate>,
    gross_grosze: i64,
    amount_due_grosze: i64,
    open_grosze: i64,
    estimated: bool,
    delivery: String,
}

impl From<InvoiceSummaryRow> for InvoiceSummary {
    fn from(r: InvoiceSummaryRow) -> Self {
        InvoiceSummary {
            id: r.id,
            number: r.number,
            kind: r.kind,
            customer_number: r.customer_number,
            issue_date: r.issue_date,
            due_date: r.due_date,
            period_from: r.period_from,
            period_to: r.period_to,
            gross_grosze: Money::from_grosze(r.gross_grosze),
            amount_due_grosze: Money::from_grosze(r.amount_due_grosze),
            open_grosze: Money::from_grosze(r.open_grosze),
            estimated: r.estimated,
            delivery: r.delivery,
        }
    }
}
