//! `ebok bench billing`: a monthly billing run for `--customers` customers (100,000 by default),
//! each with a supply point, a radio meter read daily and a contract, against the real database,
//! then the PDF pass over the invoices it issued.
//!
//! The dataset is generated once into `ebok_bench_billing_template` (kept; `--regenerate`
//! rebuilds it) with `--days` daily readings per meter at 06:00 UTC, so every boundary of the
//! billed month is interpolated at Warsaw midnight, as for real radio meters. Each repeat bills
//! last month in a fresh copy of it (`CREATE DATABASE … TEMPLATE`), so every repeat starts from
//! the same unbilled state.
//!
//! Per repeat:
//! - **invoices/s**: the run (`ebok_billing::run::run`), all of it: reading the registers,
//!   pricing, the FA(3) XML, and storing invoices, lines, billed registers, ledger entries and
//!   notices, in batches of `--batch` contracts;
//! - **raw**: the same rows copied into unconstrained tables without triggers, with one
//!   `INSERT … SELECT` per table: what merely writing them costs on this machine, the bound the
//!   run is compared with;
//! - **PDFs/s**: the PDF pass (`ebok_billing::documents::render_missing`) over `--pdfs` of the
//!   invoices, rendered on two threads and stored; and rendering alone, without the database.
//!
//! Medians of the repeats; last line `billing invoices_per_s=N pdf_per_s=N raw_invoices_per_s=N
//! pdf_render_only_per_s=N`.

use std::time::Instant;

use anyhow::{Context, Result, ensure};
use chrono::{Datelike, Months, Utc};
use clap::Args;
use ebok_billing::documents::{self, KSEF_QR_BASE_TEST};
use ebok_billing::run::{self, RunRequest};
use ebok_common::Config;
use ebok_common::domain::time::local_day;
use secrecy::ExposeSecret;
use sqlx::{Connection, PgPool};

use super::median;

const TEMPLATE: &str = "ebok_bench_billing_template";
const DATABASE: &str = "ebok_bench_billing";

#[derive(Debug, Clone, Args)]
pub struct BillingBenchArgs {
    /// Customers, each with one supply point, meter and contract.
    #[arg(long, default_value_t = 100_000)]
    pub customers: i64,
    /// Daily readings per meter (enough to cover last month's boundaries).
    #[arg(long, default_value_t = 45)]
    pub days: i64,
    /// Contracts per transaction of the run.
    #[arg(long, default_value_t = 1_000)]
    pub batch: usize,
    /// Invoices the PDF pass renders and stores per repeat.
    #[arg(long, default_value_t = 5_000)]
    pub pdfs: usize,
    /// Repeats; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Rebuild the dataset even if one of the same size exists.
    #[arg(long)]
    pub regenerate: bool,
}

pub async fn run(config: Config, args: BillingBenchArgs) -> Result<()> {
    let config = crate::run::attach_local_stack(config)?;
    ensure!(
        args.days >= 35,
        "--days must cover last month's boundaries (at least 35)"
    );
    template(&config, &args).await?;
    let (mut invoices, mut raw, mut pdfs, mut render_only) = (vec![], vec![], vec![], vec![]);
    for repeat in 1..=args.repeats {
        let pool = copy_of_template(&config).await?;
        let utility_id: i64 = sqlx::query_scalar("SELECT id FROM utilities WHERE slug = 'bench'")
            .fetch_one(&pool)
            .await?;
        let today = local_day(Utc::now());
        let request = RunRequest {
            utility_id,
            month: today.with_day(1).expect("day 1") - Months::new(1),
            issue_date: today,
            started_by: None,
            batch: args.batch,
        };
        let started = Instant::now();
        let outcome = run::run(&pool, &request, |_| {}).await?;
        let seconds = started.elapsed().as_secs_f64();
        ensure!(
            outcome.invoices_issued as i64 == args.customers && outcome.problems.is_empty(),
            "the run issued {} invoices for {} customers ({} left out: {:?})",
            outcome.invoices_issued,
            args.customers,
            outcome.problems.len(),
            outcome.problems.first()
        );
        let rate = outcome.invoices_issued as f64 / seconds;

        let raw_seconds = raw_copy(&pool).await?;
        let raw_rate = outcome.invoices_issued as f64 / raw_seconds;

        // Rendering alone, on two threads, of the documents the pass will store.
        let sample: Vec<(serde_json::Value, String)> =
            sqlx::query_as("SELECT document, ksef_xml FROM invoices ORDER BY id LIMIT $1")
                .bind(args.pdfs as i64)
                .fetch_all(&pool)
                .await?;
        let started = Instant::now();
        let halves: Vec<Vec<(serde_json::Value, String)>> = sample
            .chunks(sample.len().div_ceil(2).max(1))
            .map(<[_]>::to_vec)
            .collect();
        let mut threads = Vec::new();
        for half in halves {
            threads.push(std::thread::spawn(move || -> Result<usize> {
                for (doc, xml) in &half {
                    documents::render(doc, xml, KSEF_QR_BASE_TEST, None)?;
                }
                Ok(half.len())
            }));
        }
        let mut rendered = 0;
        for t in threads {
            rendered += t.join().expect("render thread")?;
        }
        let render_rate = rendered as f64 / started.elapsed().as_secs_f64();

        // The pass: render and store the same invoices' PDFs (the first ones without a PDF).
        let started = Instant::now();
        let stored =
            documents::render_missing(&pool, utility_id, Some(outcome.run_id), Some(args.pdfs), 2)
                .await?;
        let pdf_rate = stored as f64 / started.elapsed().as_secs_f64();

        eprintln!(
            "bench: repeat {repeat}: {} invoices in {seconds:.1} s = {rate:.0}/s (raw copy of the same rows {raw_rate:.0}/s); \
             {stored} PDFs rendered and stored {pdf_rate:.0}/s (rendering alone {render_rate:.0}/s)",
            outcome.invoices_issued
        );
        invoices.push(rate);
        raw.push(raw_rate);
        pdfs.push(pdf_rate);
        render_only.push(render_rate);
        pool.close().await;
    }
    super::drop_database(&config, DATABASE).await?;
    let (invoices, raw, pdfs, render_only) = (
        median(invoices),
        median(raw),
        median(pdfs),
        median(render_only),
    );
    println!(
        "billing: {} customers, median of {} repeats: {invoices:.0} invoices/s ({:.0}% of the raw insert rate of the same rows, {raw:.0}/s); \
         {pdfs:.0} PDFs/s rendered and stored ({render_only:.0}/s rendering alone, 2 threads)",
        args.customers,
        args.repeats,
        100.0 * invoices / raw
    );
    println!(
        "billing invoices_per_s={invoices:.0} pdf_per_s={pdfs:.0} raw_invoices_per_s={raw:.0} pdf_render_only_per_s={render_only:.0}"
    );
    Ok(())
}

/// Seconds to write the run's rows again into tables without constraints, indexes or triggers
/// (server-side, already encoded and compressed: the floor of storing them).
async fn raw_copy(pool: &PgPool) -> Result<f64> {
    let tables = [
        "invoices",
        "invoice_lines",
        "meter_billed_registers",
        "ledger_entries",
        "outbox",
    ];
    for t in tables {
        // Same columns, storage and compression (and the invoices' in-row target), nothing else.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE raw_{t} (LIKE {t} INCLUDING STORAGE INCLUDING COMPRESSION)"
        )))
        .execute(pool)
        .await?;
    }
    sqlx::query("ALTER TABLE raw_invoices SET (toast_tuple_target = 4080)")
        .execute(pool)
        .await?;
    let started = Instant::now();
    let mut tx = pool.begin().await?;
    for t in tables {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO raw_{t} SELECT * FROM {t}"
        )))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(started.elapsed().as_secs_f64())
}

/// The kept template dataset, generated when missing or of another size.
async fn template(config: &Config, args: &BillingBenchArgs) -> Result<()> {
    if !args.regenerate && template_fits(config, args).await.unwrap_or(false) {
        eprintln!(
            "bench: reusing {TEMPLATE} ({} customers × {} days)",
            args.customers, args.days
        );
        return Ok(());
    }
    let pool = super::fresh_database(config, TEMPLATE, 4).await?;
    let started = Instant::now();
    eprintln!(
        "bench: generating {} customers with {} daily readings each (kept for later runs)",
        args.customers, args.days
    );
    let utility_id: i64 = sqlx::query_scalar(
        "INSERT INTO utilities (slug, municipality, name, nip, street, building_no, postal_code, city, bank_account)
         VALUES ('bench', 'Gmina Benchowo', 'Wodociągi Benchowo sp. z o.o.', '5260250274', 'Wodna', '1',
                 '14-420', 'Benchowo', '36103019441234000000012345')
         RETURNING id",
    )
    .fetch_one(&pool)
    .await?;
    let statements = [
        "INSERT INTO tariff_groups (utility_id, code, name) VALUES ($1, 'G1', 'Gospodarstwa domowe')",
        "INSERT INTO tariffs (utility_id, tariff_group_id, valid_from, water_price_grosze, sewage_price_grosze,
                              subscription_grosze, garden_subscription_grosze, vat_rate)
         SELECT $1, id, '2020-01-01', 512, 789, 950, 300, 8 FROM tariff_groups WHERE utility_id = $1",
        "INSERT INTO customers (utility_id, customer_number, kind, first_name, last_name, name, street,
                                building_no, postal_code, city)
         SELECT $1, 'K' || i, 'person', 'Jan', 'Kowalski', 'Jan Kowalski', 'Długa', i::text, '14-420', 'Benchowo'
         FROM generate_series(1, $2) i",
        "INSERT INTO supply_points (utility_id, code, street, building_no, postal_code, city, sewage_service)
         SELECT $1, 'PP' || i, 'Długa', i::text, '14-420', 'Benchowo', i % 3 <> 0 FROM generate_series(1, $2) i",
        "INSERT INTO contracts (utility_id, number, customer_id, supply_point_id, tariff_group_id,
                                valid_from, status, signed_at)
         SELECT $1, 'U' || c.id, c.id, sp.id, (SELECT id FROM tariff_groups WHERE utility_id = $1),
                current_date - ($3::int + 30), 'active', now()
         FROM customers c JOIN supply_points sp
           ON sp.utility_id = c.utility_id AND substr(sp.code, 3) = substr(c.customer_number, 2)
         WHERE c.utility_id = $1 AND $2 > 0",
        "INSERT INTO meters (utility_id, serial, channel, register_max_litres, supply_point_id,
                             installed_at, install_reading_litres)
         SELECT $1, 'SN' || substr(code, 3), 'wmbus', 99999999, id,
                now() - make_interval(days => $3::int + 30), 0
         FROM supply_points WHERE utility_id = $1 AND $2 > 0",
    ];
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .bind(utility_id)
            .bind(args.customers)
            .bind(args.days as i32)
            .execute(&pool)
            .await
            .with_context(|| format!("seeding: {}", statement.lines().next().unwrap_or("")))?;
        sqlx::query("ANALYZE").execute(&pool).await?;
    }
    sqlx::query("SELECT ebok_ensure_reading_partitions(now() - make_interval(days => $1::int + 1), now() + interval '1 day')")
        .bind(args.days as i32)
        .execute(&pool)
        .await?;
    // One reading a day at 06:00 UTC, 150–450 litres apart, in slices of meters.
    let (min, max): (i64, i64) = sqlx::query_as("SELECT min(id), max(id) FROM meters")
        .fetch_one(&pool)
        .await?;
    let slice = 10_000;
    let mut from = min;
    while from <= max {
        sqlx::query(
            "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
             SELECT m, (current_date - d) + time '06:00',
                    (m % 997) * 1000 + ($3 - d) * 150 + ((m * 31 + d * 17) % 7) * 50, 'radio'
             FROM generate_series($1::bigint, $2::bigint) m, generate_series(1, $3::int) d",
        )
        .bind(from)
        .bind((from + slice - 1).min(max))
        .bind(args.days as i32)
        .execute(&pool)
        .await?;
        from += slice;
    }
    sqlx::query(
        "INSERT INTO meter_latest_readings (meter_id, measured_at, volume_litres, source, received_at)
         SELECT DISTINCT ON (meter_id) meter_id, measured_at, volume_litres, source, now()
         FROM meter_readings ORDER BY meter_id, measured_at DESC",
    )
    .execute(&pool)
    .await?;
    sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
    sqlx::query("CREATE TABLE bench_billing_dataset (customers bigint NOT NULL, days bigint NOT NULL, made date NOT NULL)")
        .execute(&pool)
        .await?;
    sqlx::query("INSERT INTO bench_billing_dataset VALUES ($1, $2, current_date)")
        .bind(args.customers)
        .bind(args.days)
        .execute(&pool)
        .await?;
    pool.close().await;
    eprintln!(
        "bench: dataset ready in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Whether the template exists with the asked sizes, made in this month (its readings must
/// cover last month), with the current schema.
async fn template_fits(config: &Config, args: &BillingBenchArgs) -> Result<bool> {
    let pool = connect(config, TEMPLATE).await?;
    let (customers, days, made): (i64, i64, chrono::NaiveDate) =
        sqlx::query_as("SELECT customers, days, made FROM bench_billing_dataset")
            .fetch_one(&pool)
            .await?;
    let today = local_day(Utc::now());
    let current = ebok_common::db::migration_state(&pool).await?.is_current();
    pool.close().await;
    Ok(customers == args.customers
        && days == args.days
        && (made.year(), made.month()) == (today.year(), today.month())
        && current)
}

/// A fresh copy of the template as `DATABASE`.
async fn copy_of_template(config: &Config) -> Result<PgPool> {
    super::drop_database(config, DATABASE).await?;
    let mut admin = sqlx::PgConnection::connect(server_url(config, "postgres")?.as_str()).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {DATABASE} TEMPLATE {TEMPLATE}"
    )))
    .execute(&mut admin)
    .await?;
    admin.close().await?;
    connect(config, DATABASE).await
}

async fn connect(config: &Config, name: &str) -> Result<PgPool> {
    Ok(ebok_common::db::pool_options(4)
        .connect(server_url(config, name)?.as_str())
        .await?)
}

fn server_url(config: &Config, name: &str) -> Result<url::Url> {
    let mut url = url::Url::parse(
        config
            .database
            .url
            .as_ref()
            .context("no database")?
            .expose_secret(),
    )?;
    url.set_path(&format!("/{name}"));
    Ok(url)
}
