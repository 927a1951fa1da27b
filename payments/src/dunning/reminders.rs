//! Reminders of an invoice's payment, through the outbox (inbox, push and e-mail, as each
//! resident chose for "Faktury i płatności"):
//!
//! - **before the due date**, to each account linked to the customer, as many days before as
//!   that resident chose (`payment_reminder_preferences`; no choice: 3 days; they may turn it
//!   off);
//! - **overdue**, a few days after the due date (the utility's `reminder_overdue_days`);
//! - **demand** for payment, later (`reminder_demand_days`), which also puts the customer on the
//!   staff's list for a letter on paper ([`super::overdue`]).
//!
//! [`send_due`] sends whatever is due on a day, only for invoices still open then, and each
//! reminder once: a row of `payment_reminders` (unique per invoice, stage and account) is
//! written with its outbox event in one transaction, so a second run, or two processes at once,
//! send nothing twice. A run that was missed catches up the next day (a late reminder is better
//! than none); a reminder whose moment has passed for good (the due date came) is not sent.

use chrono::{NaiveDate, Timelike, Utc};
use ebok_common::domain::Money;
use ebok_common::domain::time::BILLING_TZ;
use ebok_common::outbox::{self, Addressee, Event, OutboxEvent, PaymentReminder, ReminderStage};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

/// Days before the due date a resident is reminded when they did not choose.
pub const DEFAULT_DAYS_BEFORE: i16 = 3;
/// The choices the payments page offers (and the API accepts: 1 to 14).
pub const DAYS_BEFORE_CHOICES: [i16; 4] = [1, 3, 7, 14];

/// Reminders sent by one [`send_due`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub before_due: u64,
    pub overdue: u64,
    pub demand: u64,
}

/// Reminders written per transaction.
const BATCH: i64 = 1_000;

struct Due {
    id: i64,
    utility_id: i64,
    invoice_id: i64,
    customer_id: i64,
    account_id: Option<i64>,
    number: String,
    due_date: NaiveDate,
    open_grosze: i64,
}

/// Hours of the Warsaw day when reminders go out: nobody is woken by a reminder.
const SENDING_HOURS: std::ops::Range<u32> = 8..20;

/// Sends the day's reminders every `every` during the sending hours, until `shutdown`. Several
/// processes may run it at once (each reminder is written once).
pub async fn run(pool: PgPool, every: std::time::Duration, shutdown: CancellationToken) {
    loop {
        let now = Utc::now().with_timezone(&BILLING_TZ);
        if SENDING_HOURS.contains(&now.hour())
            && let Err(error) = send_due(&pool, now.date_naive()).await
        {
            tracing::warn!(%error, "payment reminders failed; trying again later");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Sends every reminder due on `today` (a Warsaw day) in every utility.
pub async fn send_due(pool: &PgPool, today: NaiveDate) -> sqlx::Result<Sent> {
    let mut sent = Sent::default();
    loop {
        let n = before_due(pool, today).await?;
        sent.before_due += n;
        if n < BATCH as u64 {
            break;
        }
    }
    for stage in [ReminderStage::Overdue, ReminderStage::Demand] {
        loop {
            let n = after_due(pool, today, stage).await?;
            match stage {
                ReminderStage::Overdue => sent.overdue += n,
                _ => sent.demand += n,
            }
            if n < BATCH as u64 {
                break;
            }
        }
    }
    if sent != Sent::default() {
        tracing::info!(?sent, %today, "payment reminders sent");
    }
    Ok(sent)
}

/// One batch of reminders before the due date: invoices due within the account's chosen days
/// (not on the day of issue), still open. (Paid invoices are left out before the batch is
/// cut, so a batch smaller than [`BATCH`] means nothing is left.)
async fn before_due(pool: &PgPool, today: NaiveDate) -> sqlx::Result<u64> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query_as!(
        Due,
        r#"WITH candidates AS (
               SELECT i.utility_id, i.id AS invoice_id, ac.account_id, o.open
               FROM invoices i
               CROSS JOIN LATERAL (
                   SELECT i.amount_due_grosze - coalesce(sum(a.amount_grosze), 0)::bigint AS open
                   FROM invoice_allocations a WHERE a.invoice_id = i.id) o
               JOIN account_customers ac ON ac.customer_id = i.customer_id
               JOIN user_accounts ua ON ua.id = ac.account_id AND ua.status = 'active'
               LEFT JOIN payment_reminder_preferences p ON p.account_id = ac.account_id
               WHERE i.due_date > $1::date AND i.due_date <= $1::date + 14
                 AND i.issue_date < $1::date
                 AND o.open > 0
                 AND (p.account_id IS NULL AND i.due_date - $1 <= $2
                      OR i.due_date - $1 <= p.days_before)
                 AND NOT EXISTS (SELECT 1 FROM payment_reminders r
                                 WHERE r.invoice_id = i.id AND r.stage = 'before_due'
                                   AND r.account_id = ac.account_id)
               LIMIT $3),
           sent AS (
               INSERT INTO payment_reminders (utility_id, invoice_id, stage, account_id,
                                              open_grosze)
               SELECT utility_id, invoice_id, 'before_due', account_id, open
               FROM candidates
               ON CONFLICT (invoice_id, stage, coalesce(account_id, 0)) DO NOTHING
               RETURNING id, utility_id, invoice_id, account_id, open_grosze)
           SELECT s.id AS "id!", s.utility_id AS "utility_id!", s.invoice_id AS "invoice_id!",
                  i.customer_id, s.account_id, i.number, i.due_date,
                  s.open_grosze AS "open_grosze!"
           FROM sent s JOIN invoices i ON i.id = s.invoice_id"#,
        today,
        i32::from(DEFAULT_DAYS_BEFORE),
        BATCH,
    )
    .fetch_all(&mut *tx)
    .await?;
    let n = announce(&mut tx, &rows, ReminderStage::BeforeDue).await?;
    tx.commit().await?;
    Ok(n)
}

/// One batch of reminders after the due date (`stage` overdue or demand), at the utility's
/// number of days, for invoices still open; the demand only after the overdue reminder.
async fn after_due(pool: &PgPool, today: NaiveDate, stage: ReminderStage) -> sqlx::Result<u64> {
    let demand = stage == ReminderStage::Demand;
    let mut tx = pool.begin().await?;
    let rows = sqlx::query_as!(
        Due,
        r#"WITH candidates AS (
               SELECT i.utility_id, i.id AS invoice_id, o.open
               FROM utilities u
               JOIN invoices i ON i.utility_id = u.id
               CROSS JOIN LATERAL (
                   SELECT i.amount_due_grosze - coalesce(sum(a.amount_grosze), 0)::bigint AS open
                   FROM invoice_allocations a WHERE a.invoice_id = i.id) o
               WHERE i.due_date <= $1::date - (CASE WHEN $2 THEN u.reminder_demand_days
                                              ELSE u.reminder_overdue_days END)::int
                 -- Not older than a year: a debt that old is a matter for staff, not a
                 -- reminder job (and the first run over an old ledger must not flood anyone).
                 AND i.due_date > $1::date - 365
                 AND o.open > 0
                 AND NOT EXISTS (SELECT 1 FROM payment_reminders r
                                 WHERE r.invoice_id = i.id
                                   AND r.stage = CASE WHEN $2 THEN 'demand'::reminder_stage
                                                      ELSE 'overdue'::reminder_stage END)
                 AND (NOT $2 OR EXISTS (SELECT 1 FROM payment_reminders r
                                        WHERE r.invoice_id = i.id AND r.stage = 'overdue'
                                          AND (r.sent_at AT TIME ZONE 'Europe/Warsaw')::date < $1))
               LIMIT $3),
           sent AS (
               INSERT INTO payment_reminders (utility_id, invoice_id, stage, open_grosze)
               SELECT utility_id, invoice_id,
                      CASE WHEN $2 THEN 'demand'::reminder_stage ELSE 'overdue' END, open
               FROM candidates
               ON CONFLICT (invoice_id, stage, coalesce(account_id, 0)) DO NOTHING
               RETURNING id, utility_id, invoice_id, account_id, open_grosze)
           SELECT s.id AS "id!", s.utility_id AS "utility_id!", s.invoice_id AS "invoice_id!",
                  i.customer_id, s.account_id, i.number, i.due_date,
                  s.open_grosze AS "open_grosze!"
           FROM sent s JOIN invoices i ON i.id = s.invoice_id"#,
        today,
        demand,
        BATCH,
    )
    .fetch_all(&mut *tx)
    .await?;
    let n = announce(&mut tx, &rows, stage).await?;
    tx.commit().await?;
    Ok(n)
}

/// The outbox events of the reminders just written: to the account (before the due date) or
/// to every account of the customer.
async fn announce(
    conn: &mut PgConnection,
    rows: &[Due],
    stage: ReminderStage,
) -> sqlx::Result<u64> {
    for row in rows {
        let to = match row.account_id {
            Some(account) => Addressee::Account(account),
            None => Addressee::Customer(row.customer_id),
        };
        outbox::enqueue(
            conn,
            &OutboxEvent {
                utility_id: row.utility_id,
                event: Event::PaymentReminder(PaymentReminder {
                    invoice_id: row.invoice_id,
                    number: row.number.clone(),
                    stage,
                    open_grosze: Money::from_grosze(row.open_grosze),
                    due_date: row.due_date,
                }),
                to,
                dedup_key: Some(format!("payment_reminder:{}", row.id)),
            },
        )
        .await?;
    }
    Ok(rows.len() as u64)
}

/// How many days before the due date the account wants a reminder (`None`: not at all).
pub async fn days_before(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
) -> sqlx::Result<Option<i16>> {
    let stored = sqlx::query!(
        r#"SELECT days_before FROM payment_reminder_preferences
           WHERE utility_id = $1 AND account_id = $2"#,
        utility_id,
        account_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(match stored {
        Some(row) => row.days_before,
        None => Some(DEFAULT_DAYS_BEFORE),
    })
}

/// Stores the account's choice (`None`: no reminder before the due date), audited.
pub async fn set_days_before(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
    days: Option<i16>,
) -> Result<(), SetError> {
    if let Some(d) = days
        && !(1..=14).contains(&d)
    {
        return Err(SetError::OutOfRange);
    }
    sqlx::query!(
        r#"INSERT INTO payment_reminder_preferences (utility_id, account_id, days_before)
           VALUES ($1, $2, $3)
           ON CONFLICT (account_id)
           DO UPDATE SET days_before = EXCLUDED.days_before, updated_at = now()"#,
        utility_id,
        account_id,
        days,
    )
    .execute(&mut *conn)
    .await?;
    ebok_common::audit::record(
        conn,
        &ebok_common::audit::AuditEntry {
            utility_id: Some(utility_id),
            actor: ebok_common::audit::Actor::Resident { account_id },
            action: "payment_reminder_preference.set",
            entity_type: Some("account"),
            entity_id: Some(account_id.to_string()),
            details: serde_json::json!({ "days_before": days }),
            request_id: None,
        },
    )
    .await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error("days_before must be between 1 and 14, or none")]
    OutOfRange,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Erases the account's choice when it is closed.
pub async fn erase_account(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM payment_reminder_preferences WHERE utility_id = $1 AND account_id = $2",
        utility_id,
        account_id
    )
    .execute(conn)
    .await?;
    Ok(())
}
