//! `ebok bench payments`: Przelewy24 notifications arriving all at once, half of them replays.
//!
//! A fresh `ebok_bench_payments` database gets `--payments` customers, each with an open
//! invoice (and its ledger entry) and an online payment of it started with Przelewy24. The
//! Przelewy24 emulator runs in this process and knows each transaction as paid by BLIK; the
//! API (the real router, its hook and the real client) runs on a loopback port. Each
//! notification is sent twice (the original and a replay, shuffled), `--concurrency` at a time,
//! over kept-alive HTTP connections: the hook checks the sign and the amount, verifies with the
//! emulator over HTTP, books into the ledger and allocates to the invoice, or finds the payment
//! booked. Timed from the first request to the last answer.
//!
//! The check: every notification answered 200, every payment booked exactly once (one ledger
//! entry each, every balance zero), and the emulator verified each transaction.
//!
//! The floor, in the same run: the same number of requests to the API's `/healthz` (HTTP, the
//! router and one `SELECT 1` on the pool), what the machine serves when nothing is booked.
//!
//! Then, in the same database, a bank statement of `--statement-lines` transfers (MT940, nine
//! in ten to customers' virtual accounts, one in ten nobody can be told for) is imported
//! through `ebok_payments::statements::import`, timed; the check: every matched line booked
//! once (one `bank_transfer` ledger entry each), the rest left to assign, and a second import
//! of the same file books nothing. Its floor, in the same run: the rows that import wrote (the
//! lines, and each booked transfer's ledger entry, payment, allocations, notice and audit
//! entry) written again in one transaction into logged tables of the same columns and indexes,
//! without triggers, foreign keys or checks: what storing the bookings costs on this machine
//! before anything is read, matched or checked.
//!
//! Last line: `payments notifications_per_s=N floor_per_s=N statement_lines_per_s=N
//! statement_floor_per_s=N`.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use clap::Args;
use ebok_common::Config;
use ebok_payments::online::{Provider, Providers};
use ebok_payments::przelewy24::Przelewy24;
use ebok_payments::przelewy24::emulator::Przelewy24Emulator;
use rand::seq::SliceRandom;
use sqlx::PgPool;
use tokio::sync::Semaphore;

#[derive(Debug, Args)]
pub struct PaymentsBenchArgs {
    /// Payments (customers with an invoice each); twice as many notifications are sent.
    #[arg(long, default_value_t = 5_000)]
    pub payments: i64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// The API's database connections (default: `database.max_connections`, as `ebok serve`).
    #[arg(long)]
    pub connections: Option<u32>,
    /// Lines of the bank statement imported after the notifications.
    #[arg(long, default_value_t = 100_000)]
    pub statement_lines: usize,
    /// Repeats; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
}

pub async fn run(config: Config, args: PaymentsBenchArgs) -> Result<()> {
    let (config, stack) = crate::run::start_local_stack(config, false).await?;
    let result = bench(config, &args).await;
    if let Some(stack) = stack {
        stack.stop().await;
    }
    result
}

async fn bench(config: Config, args: &PaymentsBenchArgs) -> Result<()> {
    let mut rates = Vec::new();
    let mut floors = Vec::new();
    let mut statement_rates = Vec::new();
    let mut statement_floors = Vec::new();
    for repeat in 1..=args.repeats {
        let connections = args.connections.unwrap_or(config.database.max_connections);
        let pool = super::fresh_database(&config, "ebok_bench_payments", connections).await?;
        let utility_id = seed(&pool, args.payments).await?;
        let emulator = Przelewy24Emulator::start().await?;
        let providers = Providers::default().with(
            "bench",
            Provider::Przelewy24(Przelewy24::new(&emulator.config())),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = ebok_api::AppState::new(
            pool.clone(),
            ebok_api::state::Settings::new(&url, ebok_api::auth::keys::Keys::generate()),
        )
        .await
        .with_payments(providers);
        let shutdown = tokio_util::sync::CancellationToken::new();
        let server = tokio::spawn(ebok_api::serve(listener, state, shutdown.clone()));

        // Every payment known to the emulator as paid; each notification twice, shuffled.
        let sessions: Vec<(String, i64)> =
            sqlx::query_as("SELECT session_id, amount_grosze FROM payments ORDER BY id")
                .fetch_all(&pool)
                .await?;
        let mut bodies: Vec<Arc<Vec<u8>>> = Vec::with_capacity(sessions.len() * 2);
        for (session, amount) in &sessions {
            let n = emulator.paid_unnotified(session, *amount);
            let body = Arc::new(serde_json::to_vec(&n)?);
            bodies.push(body.clone());
            bodies.push(body);
        }
        bodies.shuffle(&mut rand::rng());
        let hook = format!("{url}/hooks/przelewy24/bench");
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency)
            .build()?;

        let floor = send_all(
            &http,
            &format!("{url}/healthz"),
            None,
            bodies.len(),
            args.concurrency,
        )
        .await?;
        let cpu_before = super::cpu_by_program();
        let started = Instant::now();
        let answers = send_all(&http, &hook, Some(&bodies), bodies.len(), args.concurrency).await?;
        let took = started.elapsed();
        ensure!(
            answers.ok == bodies.len(),
            "{} of {} notifications answered 200: {:?}",
            answers.ok,
            bodies.len(),
            answers.other
        );
        check(&pool, utility_id, args.payments, emulator.verified().len()).await?;
        let rate = bodies.len() as f64 / took.as_secs_f64();
        eprintln!(
            "bench: repeat {repeat}: {} notifications ({} payments) in {:.2} s = {rate:.0}/s; floor (GET /healthz) {:.0}/s; CPU: {}",
            bodies.len(),
            args.payments,
            took.as_secs_f64(),
            floor.per_s,
            super::cpu_delta(&cpu_before, &super::cpu_by_program()),
        );
        rates.push(rate);
        floors.push(floor.per_s);
        let (lines_per_s, floor_per_s) = statement(&pool, utility_id, args.statement_lines).await?;
        eprintln!(
            "bench: repeat {repeat}: a statement of {} lines imported at {lines_per_s:.0} lines/s; floor (its rows written without the ledger's rules) {floor_per_s:.0}/s",
            args.statement_lines
        );
        statement_rates.push(lines_per_s);
        statement_floors.push(floor_per_s);
        shutdown.cancel();
        let _ = server.await;
        pool.close().await;
    }
    super::drop_database(&config, "ebok_bench_payments").await?;
    println!(
        "payments notifications_per_s={:.0} floor_per_s={:.0} statement_lines_per_s={:.0} statement_floor_per_s={:.0}",
        super::median(rates),
        super::median(floors),
        super::median(statement_rates),
        super::median(statement_floors)
    );
    Ok(())
}

struct Answers {
    ok: usize,
    other: Vec<u16>,
    per_s: f64,
}

/// `count` requests to `url` (POST of `bodies[i]`, or GET without bodies), `concurrency` at a
/// time.
async fn send_all(
    http: &reqwest::Client,
    url: &str,
    bodies: Option<&Vec<Arc<Vec<u8>>>>,
    count: usize,
    concurrency: usize,
) -> Result<Answers> {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for i in 0..count {
        let permit = gate.clone().acquire_owned().await?;
        let request = match bodies {
            Some(b) => http
                .post(url)
                .header("content-type", "application/json")
                .body(b[i].as_ref().clone()),
            None => http.get(url),
        };
        tasks.spawn(async move {
            let status = request.send().await.map(|r| r.status().as_u16());
            drop(permit);
            status
        });
    }
    let (mut ok, mut other) = (0, Vec::new());
    while let Some(done) = tasks.join_next().await {
        match done?.context("a request failed")? {
            200 => ok += 1,
            s => other.push(s),
        }
    }
    Ok(Answers {
        ok,
        other,
        per_s: count as f64 / started.elapsed().as_secs_f64(),
    })
}

/// Every payment booked once, every balance zero, every transaction verified.
async fn check(pool: &PgPool, utility_id: i64, payments: i64, verified: usize) -> Result<()> {
    let (booked, entries, owing, allocations): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM payments WHERE utility_id = $1 AND status = 'booked'),
                (SELECT count(*) FROM ledger_entries WHERE utility_id = $1 AND kind = 'payment'),
                (SELECT count(*) FROM customer_balances WHERE utility_id = $1 AND balance_grosze <> 0),
                (SELECT count(*) FROM invoice_allocations)",
    )
    .bind(utility_id)
    .fetch_one(pool)
    .await?;
    ensure!(
        booked == payments && entries == payments && owing == 0 && allocations == payments,
        "{booked} payments booked, {entries} ledger entries, {owing} balances not zero, \
         {allocations} allocations, of {payments}"
    );
    ensure!(
        verified as i64 >= payments,
        "the emulator verified {verified} of {payments}"
    );
    Ok(())
}

/// A utility with `n` customers, each with an invoice of its own amount in the ledger and a
/// Przelewy24 payment of it started.
async fn seed(pool: &PgPool, n: i64) -> Result<i64> {
    let utility_id: i64 = sqlx::query_scalar(
        "INSERT INTO utilities (slug, municipality, name, city, nip)
         VALUES ('bench', 'Gmina Benchowo', 'Wodociągi Benchowo', 'Benchowo', '5260250274')
         RETURNING id",
    )
    .fetch_one(pool)
    .await?;
    let statements = [
        "INSERT INTO customers (utility_id, customer_number, kind, first_name, last_name, name, city)
         SELECT $1, 'K' || i, 'person', 'Jan', 'Kowalski', 'Jan Kowalski', 'Benchowo'
         FROM generate_series(1, $2) i",
        // A service invoice each (the document and XML are not read here).
        "INSERT INTO invoices (utility_id, customer_id, kind, number, issue_date, due_date,
                               net_grosze, vat_grosze, gross_grosze, amount_due_grosze, delivery,
                               document, ksef_xml, ksef_xml_sha256)
         SELECT $1, c.id, 'manual', 'FU/BENCH/' || c.id, current_date, current_date + 14,
                10000 + c.id % 5000, 800, 10800 + c.id % 5000, 10800 + c.id % 5000, 'electronic',
                '{}'::json, '', sha256('')
         FROM customers c WHERE c.utility_id = $1 AND $2 > 0",
        "INSERT INTO ledger_entries (utility_id, customer_id, kind, amount_grosze, invoice_id, description)
         SELECT $1, i.customer_id, 'invoice', i.gross_grosze, i.id, 'Faktura ' || i.number
         FROM invoices i WHERE i.utility_id = $1 AND $2 > 0 ORDER BY i.id",
        "INSERT INTO payments (utility_id, customer_id, provider, session_id, invoice_id, amount_grosze,
                               provider_token)
         SELECT $1, i.customer_id, 'przelewy24', 'ebok-bench-' || md5(i.id::text), i.id,
                i.amount_due_grosze, 'BENCH-' || i.id
         FROM invoices i WHERE i.utility_id = $1 AND $2 > 0",
    ];
    for statement in statements {
        sqlx::query(statement)
            .bind(utility_id)
            .bind(n)
            .execute(pool)
            .await
            .with_context(|| format!("seeding: {}", statement.lines().next().unwrap_or("")))?;
    }
    sqlx::query("ANALYZE").execute(pool).await?;
    Ok(utility_id)
}

/// Imports a statement of `lines` transfers to the utility's customers; lines per second.
/// The statement's import rate and its floor, lines per second.
async fn statement(pool: &PgPool, utility_id: i64, lines: usize) -> Result<(f64, f64)> {
    sqlx::query(
        "UPDATE utilities SET virtual_account_sort_code = '10201026', virtual_account_prefix = '77'
         WHERE id = $1",
    )
    .bind(utility_id)
    .execute(pool)
    .await?;
    let customers: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM customers WHERE utility_id = $1 ORDER BY id")
            .bind(utility_id)
            .fetch_all(pool)
            .await?;
    ensure!(!customers.is_empty(), "no customers to pay");
    let mut file = String::from(
        ":20:BENCH\n:25:/PL61109010140000071219812874\n:28C:1/1\n:60F:C261130PLN0,00\n",
    );
    let mut matched = 0;
    for i in 0..lines {
        let grosze = 100 + (i % 10_000);
        file.push_str(&format!(
            ":61:261201C{},{:02}NTRF//L{i}\n",
            grosze / 100,
            grosze % 100
        ));
        if i % 10 == 9 {
            file.push_str(&format!(":86:020~20darowizna {i}~32ANONIM\n"));
        } else {
            let customer = customers[i % customers.len()];
            let account = ebok_billing::transfer::virtual_account("10201026", "77", customer)
                .context("a virtual account")?;
            file.push_str(&format!(
                ":86:020~20Woda i scieki {i}~32KLIENT~31{}\n",
                account.as_str()
            ));
            matched += 1;
        }
    }
    file.push_str(":62F:C261201PLN0,00\n-\n");
    // The newest row of each table the import writes to: its rows come after.
    let before: Vec<i64> = sqlx::query_scalar(
        "SELECT ARRAY[(SELECT coalesce(max(id), 0) FROM bank_statement_lines),
                      (SELECT coalesce(max(id), 0) FROM ledger_entries),
                      (SELECT coalesce(max(id), 0) FROM payments),
                      (SELECT coalesce(max(id), 0) FROM outbox),
                      (SELECT coalesce(max(id), 0) FROM audit_log)]",
    )
    .fetch_one(pool)
    .await?;
    let started = Instant::now();
    let done = ebok_payments::statements::import(pool, utility_id, file.as_bytes(), None).await?;
    let took = started.elapsed();
    let booked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ledger_entries WHERE utility_id = $1 AND kind = 'payment'
           AND reference LIKE 'bank_transfer:%'",
    )
    .bind(utility_id)
    .fetch_one(pool)
    .await?;
    ensure!(
        done.lines == lines
            && done.booked == matched
            && done.unmatched == lines - matched
            && booked == matched as i64,
        "statement: {done:?}, {booked} bank transfers in the ledger, {matched} expected"
    );
    let again = ebok_payments::statements::import(pool, utility_id, file.as_bytes(), None).await?;
    ensure!(
        again.known == lines && again.booked == 0,
        "a second import did something: {again:?}"
    );
    let floor_took = floor(pool, &before, lines).await?;
    Ok((
        lines as f64 / took.as_secs_f64(),
        lines as f64 / floor_took.as_secs_f64(),
    ))
}

/// The statement's floor: the rows its import wrote (`before`: the newest id of each table
/// before it, as [`statement`] reads them) — every line, and for each booked transfer its
/// ledger entry, payment, allocations, notice and audit entry — written again, in one
/// transaction, into plain logged tables of the same columns and indexes, with no trigger,
/// foreign key or check, nothing read or matched. What storing a statement's bookings costs on
/// this machine before any of the rules that make them a ledger; how long that took.
async fn floor(pool: &PgPool, before: &[i64], lines: usize) -> Result<std::time::Duration> {
    // What each table got from the import, staged in temporary tables first (not timed):
    // (table, its column of ids, which of `before` that id follows; the allocations are the
    // new ledger entries'). The names in the SQL below are these constants.
    let tables = [
        ("bank_statement_lines", "id", 0),
        ("ledger_entries", "id", 1),
        ("payments", "id", 2),
        ("outbox", "id", 3),
        ("audit_log", "id", 4),
        ("invoice_allocations", "ledger_entry_id", 1),
    ];
    let mut conn = pool.acquire().await?;
    for (table, id, after) in tables {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TEMP TABLE staged_{table} AS SELECT * FROM {table} WHERE {id} > $1"
        )))
        .bind(before[after])
        .execute(&mut *conn)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE floor_{table} (LIKE {table} INCLUDING DEFAULTS INCLUDING INDEXES)"
        )))
        .execute(&mut *conn)
        .await?;
    }
    let staged: i64 = sqlx::query_scalar("SELECT count(*) FROM staged_bank_statement_lines")
        .fetch_one(&mut *conn)
        .await?;
    ensure!(staged == lines as i64, "the floor staged {staged} lines");
    let started = Instant::now();
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    for (table, _, _) in tables {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO floor_{table} SELECT * FROM staged_{table}"
        )))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let took = started.elapsed();
    for (table, _, _) in tables {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP TABLE floor_{table}, staged_{table}"
        )))
        .execute(&mut *conn)
        .await?;
    }
    Ok(took)
}
