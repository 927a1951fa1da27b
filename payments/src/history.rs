//! What residents and staff see of payments: a customer's payments (the resident's through
//! the customers linked to their account, staff's of any customer of their utility) and the
//! payments waiting for staff (an amount the provider reported differently). Every function
//! filters by its scope in the same statement, like `ebok_billing::statement`.

use chrono::{DateTime, Utc};
use ebok_billing::statement::Scope;
use ebok_common::domain::Money;
use serde::Serialize;
use sqlx::PgExecutor;

/// One payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Payment {
    pub id: i64,
    pub customer_id: i64,
    pub customer_number: String,
    /// przelewy24, stripe or bank_transfer.
    pub provider: String,
    /// started, booked, mismatch or failed.
    pub status: String,
    /// Grosze.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub amount_grosze: Money,
    /// The invoice paid first, when one was chosen.
    pub invoice_number: Option<String>,
    pub method: Option<String>,
    /// What went wrong, for staff (Polish).
    pub problem: Option<String>,
    pub created_at: DateTime<Utc>,
    pub booked_at: Option<DateTime<Utc>>,
}

struct Row {
    id: i64,
    customer_id: i64,
    customer_number: String,
    provider: String,
    status: String,
    amount_grosze: i64,
    invoice_number: Option<String>,
    method: Option<String>,
    problem: Option<String>,
    created_at: DateTime<Utc>,
    booked_at: Option<DateTime<Utc>>,
}

impl From<Row> for Payment {
    fn from(r: Row) -> Payment {
        Payment {
            id: r.id,
            customer_id: r.customer_id,
            customer_number: r.customer_number,
            provider: r.provider,
            status: r.status,
            amount_grosze: Money::from_grosze(r.amount_grosze),
            invoice_number: r.invoice_number,
            method: r.method,
            problem: r.problem,
            created_at: r.created_at,
            booked_at: r.booked_at,
        }
    }
}

/// The payments in scope, newest first, at most `limit`; `id` narrows to one.
pub async fn payments(
    db: impl PgExecutor<'_>,
    scope: Scope,
    id: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<Payment>> {
    let (utility_id, account_id, customer_id) = scope.parts();
    sqlx::query_as!(
        Row,
        r#"SELECT p.id, p.customer_id, c.customer_number, p.provider::text AS "provider!",
                  p.status::text AS "status!", p.amount_grosze, i.number AS "invoice_number?",
                  p.method, p.problem, p.created_at, p.booked_at
           FROM payments p
           JOIN customers c ON c.id = p.customer_id
           LEFT JOIN invoices i ON i.id = p.invoice_id
           WHERE p.utility_id = $1
             AND (($2::bigint IS NOT NULL AND p.customer_id IN (SELECT customer_id FROM account_customers
                                                                WHERE account_id = $2 AND utility_id = $1))
                  OR p.customer_id = $3)
             AND ($4::bigint IS NULL OR p.id = $4)
           ORDER BY p.created_at DESC, p.id DESC
           LIMIT $5"#,
        utility_id,
        account_id,
        customer_id,
        id,
        limit
    )
    .fetch_all(db)
    .await
    .map(|rows| rows.into_iter().map(Payment::from).collect())
}

/// The utility's payments, newest first, at most `limit`.
pub async fn recent(
    db: impl PgExecutor<'_>,
    utility_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<Payment>> {
    sqlx::query_as!(
        Row,
        r#"SELECT p.id, p.customer_id, c.customer_number, p.provider::text AS "provider!",
                  p.status::text AS "status!", p.amount_grosze, i.number AS "invoice_number?",
                  p.method, p.problem, p.created_at, p.booked_at
           FROM payments p
           JOIN customers c ON c.id = p.customer_id
           LEFT JOIN invoices i ON i.id = p.invoice_id
           WHERE p.utility_id = $1
           ORDER BY p.created_at DESC, p.id DESC
           LIMIT $2"#,
        utility_id,
        limit
    )
    .fetch_all(db)
    .await
    .map(|rows| rows.into_iter().map(Payment::from).collect())
}

/// The utility's payments that wait for staff (the provider reported another amount), newest
/// first.
pub async fn to_check(db: impl PgExecutor<'_>, utility_id: i64) -> sqlx::Result<Vec<Payment>> {
    sqlx::query_as!(
        Row,
        r#"SELECT p.id, p.customer_id, c.customer_number, p.provider::text AS "provider!",
                  p.status::text AS "status!", p.amount_grosze, i.number AS "invoice_number?",
                  p.method, p.problem, p.created_at, p.booked_at
           FROM payments p
           JOIN customers c ON c.id = p.customer_id
           LEFT JOIN invoices i ON i.id = p.invoice_id
           WHERE p.utility_id = $1 AND p.status = 'mismatch'
           ORDER BY p.updated_at DESC
           LIMIT 500"#,
        utility_id
    )
    .fetch_all(db)
    .await
    .map(|rows| rows.into_iter().map(Payment::from).collect())
}
