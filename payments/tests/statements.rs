//! Bank statements imported from hand-written MT940 files: transfers matched by the customer's
//! virtual account or an invoice number in the title are booked once and pay the invoices, the
//! rest waits for staff and is booked when assigned, money going out is not booked, and
//! importing a statement again books nothing twice.

mod support;

use ebok_billing::transfer::virtual_account;
use ebok_payments::statements::{self, AssignError};
use ebok_testkit::{TestDb, fixtures};
use sqlx::PgPool;
use support::ready;

async fn invoice(pool: &PgPool, utility_id: i64, customer_id: i64, grosze: i64) -> (i64, String) {
    let id = support::service_invoice(pool, utility_id, customer_id, grosze).await;
    let number = sqlx::query_scalar("SELECT number FROM invoices WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
    (id, number)
}

async fn paid(pool: &PgPool, customer_id: i64) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT amount_grosze FROM ledger_entries WHERE customer_id = $1 AND kind = 'payment' ORDER BY id",
    )
    .bind(customer_id)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn transfers_are_matched_booked_once_and_the_rest_assigned_by_hand() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let u = ready(pool, "mlynary").await;
    let jan = fixtures::household(pool, u, "jan@example.pl").await;
    let ola = fixtures::household(pool, u, "ola@example.pl").await;
    let (_, jan_number) = invoice(pool, u, jan.customer_id, 5_000).await;
    let (ola_invoice, ola_number) = invoice(pool, u, ola.customer_id, 10_800).await;
    let jan_account = virtual_account("10201026", "77", jan.customer_id).unwrap();
    assert!(!jan_number.is_empty());

    // mBank-like: `~` subfields; Jan's virtual account on the :61: line's second part, Ola's
    // invoice number in the title, a gift nobody can be told, a fee going out.
    let file = format!(
        ":20:MT940\n:25:/PL61109010140000071219812874\n:28C:00042/001\n:60F:C261130PLN0,00\n\
         :61:2612011201C50,00NTRFNONREF//B1\n{jan}\n\
         :86:020~00PRZELEW~20Woda listopad~32JAN KOWALSKI~38PL61109010140000071219812874\n\
         :61:2612021202C108,00NTRFNONREF//B2\n\
         :86:020~00PRZELEW~20Zaplata {ola_number}~32OLA NOWAK\n\
         :61:2612021202C20,00NTRFNONREF//B3\n\
         :86:020~00PRZELEW~20darowizna~32ANONIM\n\
         :61:2612031203D15,00NTRFNONREF//B4\n\
         :86:073~00OPLATA~20Prowizja za prowadzenie\n\
         :62F:C261203PLN163,00\n-",
        jan = jan_account.as_str(),
    );
    let done = statements::import(pool, u, file.as_bytes(), None)
        .await
        .unwrap();
    assert_eq!(
        (
            done.lines,
            done.booked,
            done.unmatched,
            done.outgoing,
            done.known
        ),
        (4, 2, 1, 1, 0)
    );
    assert_eq!(paid(pool, jan.customer_id).await, vec![-5_000]);
    assert_eq!(paid(pool, ola.customer_id).await, vec![-10_800]);
    let ola_open: i64 = sqlx::query_scalar(
        "SELECT (amount_due_grosze - (SELECT coalesce(sum(amount_grosze), 0) FROM invoice_allocations
                                      WHERE invoice_id = $1))::bigint FROM invoices WHERE id = $1",
    )
    .bind(ola_invoice)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(ola_open, 0, "Ola's invoice is paid");
    let matched: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT status::text, matched_by FROM bank_statement_lines ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(
        matched,
        vec![
            ("booked".into(), Some("virtual_account".into())),
            ("booked".into(), Some("invoice_number".into())),
            ("unmatched".into(), None),
            ("outgoing".into(), None),
        ]
    );
    let announced: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE kind = 'payment.received'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(announced, 2);

    // The same file again: every line known, nothing booked twice.
    let again = statements::import(pool, u, file.as_bytes(), None)
        .await
        .unwrap();
    assert_eq!((again.known, again.booked, again.unmatched), (4, 0, 0));
    assert_eq!(paid(pool, ola.customer_id).await, vec![-10_800]);

    // Staff assign the gift to Jan: booked once; not twice, not a fee, not another utility's.
    let gift: i64 =
        sqlx::query_scalar("SELECT id FROM bank_statement_lines WHERE status = 'unmatched'")
            .fetch_one(pool)
            .await
            .unwrap();
    let fee: i64 =
        sqlx::query_scalar("SELECT id FROM bank_statement_lines WHERE status = 'outgoing'")
            .fetch_one(pool)
            .await
            .unwrap();
    let clerk = jan.account_id; // any account id will do for the audit here
    statements::assign(pool, u, gift, jan.customer_id, clerk)
        .await
        .unwrap();
    assert_eq!(paid(pool, jan.customer_id).await, vec![-5_000, -2_000]);
    assert!(matches!(
        statements::assign(pool, u, gift, jan.customer_id, clerk).await,
        Err(AssignError::Invalid(_))
    ));
    assert!(matches!(
        statements::assign(pool, u, fee, jan.customer_id, clerk).await,
        Err(AssignError::Invalid(_))
    ));
    let other = ready(pool, "tolkmicko").await;
    assert!(matches!(
        statements::assign(pool, other, gift, jan.customer_id, clerk).await,
        Err(AssignError::NotFound)
    ));
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action IN ('bank_statement.imported', 'bank_statement_line.assigned')",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(audited, 3);
}

#[tokio::test]
async fn a_windows_1250_statement_of_another_layout_is_matched_by_virtual_account() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let u = ready(pool, "mlynary").await;
    let ola = fixtures::household(pool, u, "ola@example.pl").await;
    let account = virtual_account("10201026", "77", ola.customer_id).unwrap();
    // `<` subfields, the virtual account in the title, Polish letters in Windows-1250.
    let mut file = format!(
        ":20:ST\r\n:25:61109010140000071219812874\r\n:28C:7\r\n:60F:C261201PLN0,00\r\n\
         :61:261203C99,00NTRF\r\n:86:152<00PRZELEW<20Rachunek {}<21 Zap",
        account.formatted()
    )
    .into_bytes();
    file.extend_from_slice(b"\xb3ata za wod\xea<27Ola \xa3\xf3dzka\r\n:62F:C261203PLN99,00\r\n-");
    let done = statements::import(pool, u, &file, None).await.unwrap();
    assert_eq!((done.booked, done.unmatched), (1, 0));
    assert_eq!(paid(pool, ola.customer_id).await, vec![-9_900]);
    let (title, counterparty): (String, String) =
        sqlx::query_as("SELECT title, counterparty FROM bank_statement_lines")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(title.ends_with("Zapłata za wodę"), "{title}");
    assert_eq!(counterparty, "Ola Łódzka");
    // Not a statement: refused, nothing imported.
    assert!(statements::import(pool, u, b"garbage", None).await.is_err());
}

#[tokio::test]
async fn a_csv_export_is_imported_like_mt940_and_only_once() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let u = ready(pool, "mlynary").await;
    let jan = fixtures::household(pool, u, "jan@example.pl").await;
    let ola = fixtures::household(pool, u, "ola@example.pl").await;
    let (_, ola_number) = invoice(pool, u, ola.customer_id, 4_000).await;
    let jan_account = virtual_account("10201026", "77", jan.customer_id).unwrap();
    let file = format!(
        "Rachunek;PL61109010140000071219812874\n\n\
         Data operacji;Tytuł;Nadawca;Rachunek nadawcy;Rachunek odbiorcy;Kwota;Identyfikator\n\
         01.12.2026;Woda;JAN;;{};\"25,00\";T1\n\
         02.12.2026;\"Zapłata {ola_number}\";OLA;;;40,00;T2\n\
         02.12.2026;Prowizja;BANK;;;-3,00;T3\n",
        jan_account.formatted()
    );
    let done = statements::import(pool, u, file.as_bytes(), None)
        .await
        .unwrap();
    assert_eq!(
        (done.lines, done.booked, done.unmatched, done.outgoing),
        (3, 2, 0, 1)
    );
    assert_eq!(paid(pool, jan.customer_id).await, vec![-2_500]);
    assert_eq!(paid(pool, ola.customer_id).await, vec![-4_000]);
    let again = statements::import(pool, u, file.as_bytes(), None)
        .await
        .unwrap();
    assert_eq!((again.known, again.booked), (3, 0));
    let format: String = sqlx::query_scalar("SELECT format FROM bank_statements LIMIT 1")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(format, "csv");
}

#[tokio::test]
async fn several_transfers_of_one_customer_pay_the_oldest_first_in_the_statements_order() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let u = ready(pool, "mlynary").await;
    let jan = fixtures::household(pool, u, "jan@example.pl").await;
    let (first, _) = invoice(pool, u, jan.customer_id, 3_000).await;
    let (second, second_number) = invoice(pool, u, jan.customer_id, 5_000).await;
    let account = virtual_account("10201026", "77", jan.customer_id).unwrap();
    // 20 zł to the virtual account, then 50 zł naming the second invoice, then 30 zł more:
    // 20 pays the first invoice in part; 50 pays the second (named) in full; 30 pays the
    // rest of the first (10) and leaves 20 as credit.
    let file = format!(
        ":20:MT940\n:25:/PL61109010140000071219812874\n:28C:00043/001\n:60F:C261201PLN0,00\n\
         :61:2612011201C20,00NTRFNONREF//A1\n{account}\n:86:020~00PRZELEW~20Woda\n\
         :61:2612011201C50,00NTRFNONREF//A2\n\
         :86:020~00PRZELEW~20Faktura {second_number}~32JAN KOWALSKI\n\
         :61:2612021202C30,00NTRFNONREF//A3\n{account}\n:86:020~00PRZELEW~20Woda reszta\n\
         :62F:C261202PLN100,00\n-",
        account = account.as_str(),
    );
    let done = statements::import(pool, u, file.as_bytes(), None)
        .await
        .unwrap();
    assert_eq!((done.lines, done.booked), (3, 3));
    let allocated: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT a.invoice_id, a.amount_grosze FROM invoice_allocations a
         JOIN ledger_entries e ON e.id = a.ledger_entry_id ORDER BY e.seq, a.invoice_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        allocated,
        vec![(first, 2_000), (second, 5_000), (first, 1_000)]
    );
    // The balance is the sum of the entries, the ledger's order the statement's.
    let (balance, entries): (i64, i64) = sqlx::query_as(
        "SELECT balance_grosze, entries FROM customer_balances WHERE customer_id = $1",
    )
    .bind(jan.customer_id)
    .fetch_one(pool)
    .await
    .unwrap();
    let sum: i64 = sqlx::query_scalar(
        "SELECT sum(amount_grosze)::bigint FROM ledger_entries WHERE customer_id = $1",
    )
    .bind(jan.customer_id)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((balance, entries), (sum, 5));
    assert_eq!(balance, 8_000 - 10_000);
    assert_eq!(
        paid(pool, jan.customer_id).await,
        vec![-2_000, -5_000, -3_000]
    );
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'payment.booked'")
            .fetch_one(pool)
            .await
            .unwrap();
    let announced: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE kind = 'payment.received'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!((audited, announced), (3, 3));
}
