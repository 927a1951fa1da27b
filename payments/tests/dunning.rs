//! Reminders and interest against a real database: reminders before the due date follow each
//! resident's choice, after it the utility's days, each is sent once and only while the invoice
//! is open; the overdue list and the interest note (with a transfer's value date as the day of
//! payment) match hand computations.

mod support;

use chrono::{Days, NaiveDate, Utc};
use ebok_billing::transfer::virtual_account;
use ebok_common::domain::Money;
use ebok_common::domain::time::local_day;
use ebok_payments::dunning::interest::{self, RateKind};
use ebok_payments::dunning::{overdue, reminders};
use ebok_payments::statements;
use ebok_testkit::{TestDb, fixtures};
use serde_json::Value;
use sqlx::PgPool;
use support::ready;

/// An invoice for `grosze` issued today (manual invoices are), due 14 days later; its id and
/// due date.
async fn invoice(
    pool: &PgPool,
    utility_id: i64,
    customer_id: i64,
    grosze: i64,
) -> (i64, NaiveDate) {
    let issued = local_day(Utc::now());
    let id = support::service_invoice(pool, utility_id, customer_id, grosze).await;
    let due: NaiveDate = sqlx::query_scalar("SELECT due_date FROM invoices WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(due, issued + Days::new(14));
    (id, due)
}

/// The reminder events: (recipient account, recipient customer, stage, invoice).
async fn reminders_sent(pool: &PgPool) -> Vec<(Option<i64>, Option<i64>, String, i64)> {
    let rows: Vec<(Option<i64>, Option<i64>, Value)> = sqlx::query_as(
        "SELECT recipient_account_id, recipient_customer_id, payload FROM outbox
         WHERE kind = 'invoice.payment_reminder' ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(account, customer, p)| {
            (
                account,
                customer,
                p["stage"].as_str().unwrap().to_string(),
                p["invoice_id"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn day(d: NaiveDate, offset: i64) -> NaiveDate {
    d + chrono::Duration::days(offset)
}

#[tokio::test]
async fn reminders_follow_each_choice_and_go_out_once_while_the_invoice_is_open() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let u = ready(pool, "mlynary").await;
    let jan = fixtures::household(pool, u, "jan@example.pl").await;
    // Two more accounts of Jan's household: Ewa wants a week's notice, Piotr none.
    let ewa = fixtures::resident_account(pool, u, "ewa@example.pl").await;
    let piotr = fixtures::resident_account(pool, u, "piotr@example.pl").await;
    for account in [ewa, piotr] {
        fixtures::link_customer(pool, u, account, jan.customer_id).await;
    }
    let mut conn = pool.acquire().await.unwrap();
    reminders::set_days_before(&mut conn, u, ewa, Some(7))
        .await
        .unwrap();
    reminders::set_days_before(&mut conn, u, piotr, None)
        .await
        .unwrap();
    assert!(matches!(
        reminders::set_days_before(&mut conn, u, piotr, Some(15)).await,
        Err(reminders::SetError::OutOfRange)
    ));
    assert_eq!(
        reminders::days_before(&mut conn, u, jan.account_id)
            .await
            .unwrap(),
        Some(3)
    );
    assert_eq!(
        reminders::days_before(&mut conn, u, piotr).await.unwrap(),
        None
    );

    let issued = local_day(Utc::now());
    let (open_invoice, due) = invoice(pool, u, jan.customer_id, 12_300).await;
    // A second invoice, due the same day, paid at once: never reminded.
    let (paid_invoice, _) = invoice(pool, u, jan.customer_id, 4_500).await;
    // Paid by a transfer with its number in the title (which pays that invoice first).
    let paid_number: String = sqlx::query_scalar("SELECT number FROM invoices WHERE id = $1")
        .bind(paid_invoice)
        .fetch_one(pool)
        .await
        .unwrap();
    let by_title = format!(
        ":20:MT940\n:25:/PL61109010140000071219812874\n:28C:1/1\n:60F:C{d}PLN0,00\n\
         :61:{d}{md}C45,00NTRFNONREF//P1\n:86:020~00PRZELEW~20Zaplata {paid_number}~32JAN\n\
         :62F:C{d}PLN45,00\n-",
        d = issued.format("%y%m%d"),
        md = issued.format("%m%d"),
    );
    statements::import(pool, u, by_title.as_bytes(), None)
        .await
        .unwrap();

    // Eight days before: nobody. Seven: Ewa. Three: Jan (the default), Ewa not again, Piotr
    // never. A second run the same day sends nothing.
    let sent = reminders::send_due(pool, day(due, -8)).await.unwrap();
    assert_eq!(sent, reminders::Sent::default());
    let sent = reminders::send_due(pool, day(due, -7)).await.unwrap();
    assert_eq!(sent.before_due, 1);
    let sent = reminders::send_due(pool, day(due, -3)).await.unwrap();
    assert_eq!(sent.before_due, 1);
    let again = reminders::send_due(pool, day(due, -3)).await.unwrap();
    assert_eq!(again, reminders::Sent::default());
    // On the due date nothing (not yet overdue); three days after: the overdue reminder to the
    // customer's accounts; fourteen days after: the demand; then nothing more.
    assert_eq!(
        reminders::send_due(pool, due).await.unwrap(),
        reminders::Sent::default()
    );
    assert_eq!(
        reminders::send_due(pool, day(due, 3))
            .await
            .unwrap()
            .overdue,
        1
    );
    assert_eq!(
        reminders::send_due(pool, day(due, 14))
            .await
            .unwrap()
            .demand,
        1
    );
    assert_eq!(
        reminders::send_due(pool, day(due, 20)).await.unwrap(),
        reminders::Sent::default()
    );
    assert_eq!(
        reminders_sent(pool).await,
        vec![
            (Some(ewa), None, "before_due".into(), open_invoice),
            (
                Some(jan.account_id),
                None,
                "before_due".into(),
                open_invoice
            ),
            (None, Some(jan.customer_id), "overdue".into(), open_invoice),
            (None, Some(jan.customer_id), "demand".into(), open_invoice),
        ]
    );

    // The overdue list as of 20 days after the due date: Jan, one invoice, the demand last;
    // Jan has an account, so no letter is due.
    let list = overdue::customers(&mut conn, u, day(due, 20), 100)
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    let row = &list[0];
    assert_eq!(
        (row.customer_id, row.invoices, row.overdue, row.days_overdue),
        (jan.customer_id, 1, Money::from_grosze(12_300), 20)
    );
    assert_eq!(row.last_reminder.as_deref(), Some("demand"));
    assert!(!row.letter_due);
    // Another utility sees none of it.
    let other = ready(pool, "pieniezno").await;
    assert!(
        overdue::customers(&mut conn, other, day(due, 20), 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        overdue::interest_note(&mut conn, other, jan.customer_id, due)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_customer_without_an_account_gets_the_demand_by_letter() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let u = ready(pool, "mlynary").await;
    let staff = fixtures::resident_account(pool, u, "ksiegowa@example.pl").await;
    let customer = fixtures::person(pool, u).await;
    let (_, due) = invoice(pool, u, customer, 10_000).await;
    reminders::send_due(pool, day(due, 3)).await.unwrap();
    reminders::send_due(pool, day(due, 14)).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let list = overdue::customers(&mut conn, u, day(due, 15), 100)
        .await
        .unwrap();
    assert!(list[0].letter_due, "nobody reads an e-mail for them");
    assert_eq!(
        overdue::letter_sent(&mut conn, u, customer, staff)
            .await
            .unwrap(),
        Some(1)
    );
    let list = overdue::customers(&mut conn, u, day(due, 15), 100)
        .await
        .unwrap();
    assert!(!list[0].letter_due);
    assert_eq!(list[0].last_reminder.as_deref(), Some("demand_on_paper"));
    let other = ready(pool, "pieniezno").await;
    assert_eq!(
        overdue::letter_sent(&mut conn, other, customer, staff)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn the_interest_note_counts_to_the_transfers_value_date() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let u = ready(pool, "mlynary").await;
    let jan = fixtures::household(pool, u, "jan@example.pl").await;
    let company: i64 = sqlx::query_scalar(
        "INSERT INTO customers (utility_id, customer_number, kind, name, nip, city)
         VALUES ($1, 'F-1', 'company', 'Piekarnia Sp. z o.o.', '5260250274', 'Młynary')
         RETURNING id",
    )
    .bind(u)
    .fetch_one(pool)
    .await
    .unwrap();
    // Both invoices issued today, due in 14 days; the last rates of the table, 9.50 %
    // (consumers, from 4 December 2025) and 14.00 % (businesses, from 1 January 2026), are in
    // force all along.
    let (jan_invoice, due) = invoice(pool, u, jan.customer_id, 100_000).await;
    let (company_invoice, _) = invoice(pool, u, company, 100_000).await;
    // Jan pays 400.00 zł by transfer with a value date 12 days after the due date (imported
    // whenever); the rest is still unpaid 31 days after the due date.
    let account = virtual_account("10201026", "77", jan.customer_id).unwrap();
    let value = day(due, 12);
    let file = format!(
        ":20:MT940\n:25:/PL61109010140000071219812874\n:28C:7/1\n:60F:C{d}PLN0,00\n\
         :61:{d}{md}C400,00NTRFNONREF//Z1\n{account}\n:86:020~00PRZELEW~20Woda\n\
         :62F:C{d}PLN400,00\n-",
        d = value.format("%y%m%d"),
        md = value.format("%m%d"),
        account = account.as_str(),
    );
    statements::import(pool, u, file.as_bytes(), None)
        .await
        .unwrap();
    let until = day(due, 31);
    let mut conn = pool.acquire().await.unwrap();
    let note = overdue::interest_note(&mut conn, u, jan.customer_id, until)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(note.kind, RateKind::Consumer);
    assert_eq!(note.missing_rate, None);
    assert_eq!(note.invoices.len(), 1);
    let i = &note.invoices[0];
    assert_eq!((i.invoice_id, i.due_date), (jan_invoice, due));
    assert_eq!(i.open, Money::from_grosze(60_000));
    let periods: Vec<_> = i
        .periods
        .iter()
        .map(|p| (p.from, p.to, p.days, p.principal.grosze(), p.basis_points))
        .collect();
    assert_eq!(
        periods,
        vec![
            (day(due, 1), day(due, 12), 12, 100_000, 950),
            (day(due, 13), day(due, 31), 19, 60_000, 950),
        ]
    );
    // 1000 zł × 9.5 % × 12/365 = 3.1233 → 3.12; 600 zł × 9.5 % × 19/365 = 2.9671 → 2.97.
    assert_eq!(note.total, Money::from_grosze(312 + 297));

    // The company owes the commercial rate on all 1000 zł for 31 days: 11.8904 → 11.89.
    let note = overdue::interest_note(&mut conn, u, company, until)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(note.kind, RateKind::Commercial);
    assert_eq!(note.invoices[0].invoice_id, company_invoice);
    assert_eq!(note.total, Money::from_grosze(1_189));
    assert_eq!(
        note.total,
        interest::interest(Money::from_grosze(100_000), 1_400, 31)
    );

    // A rate row cannot be changed afterwards (notes must stay reproducible).
    let changed =
        sqlx::query("UPDATE statutory_interest_rates SET basis_points = 1 WHERE kind = 'consumer'")
            .execute(pool)
            .await;
    assert!(changed.is_err());
}
