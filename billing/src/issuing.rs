//! Issuing invoices: numbering them gap-free and storing them with everything that goes with
//! an invoice (its lines, the registers it billed each meter to, the ledger entry, the
//! resident's notice, and its place in the queue to KSeF when the utility sends that buyer's
//! invoices there).
//!
//! **Gap-free numbers.** The last number per utility, series and month of issue is a row of
//! `invoice_counters`; [`issue`] locks it first, in the transaction that stores the invoices,
//! and moves it only by the invoices stored. A concurrent issuer waits for the lock and then
//! sees what this one committed, so it bills nothing twice (a batch priced before the lock is
//! priced again when an invoice was issued meanwhile at one of its supply points) and takes the
//! next numbers; a transaction that fails rolls its numbers back with it.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, Utc};
use ebok_common::domain::Money;
use ebok_common::outbox::{Event, InvoiceIssued};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use crate::consumption::Point;
use crate::document::InvoiceDocument;
use crate::invoice::{Billed, PricedLine};
use crate::ksef;
use crate::pricing::{ContractRow, Ctx, Prepared, document, prepare};
use crate::run::Problem;

/// The series of periodic invoices and settlements.
pub const SERIES: &str = "FV";

/// "FV/2026/12/000123": series, year and month of issue, number within them.
pub fn invoice_number(series: &str, issue_date: NaiveDate, n: i32) -> String {
    format!(
        "{series}/{}/{:02}/{n:06}",
        issue_date.year(),
        issue_date.month()
    )
}

#[derive(Default)]
pub(crate) struct BatchOutcome {
    pub issued: usize,
    /// The invoices' ids (for a settlement: its one invoice).
    pub invoice_ids: Vec<i64>,
    pub already_billed: usize,
    pub estimated: usize,
    pub problems: Vec<Problem>,
}

/// An invoice ready to be stored, numbered.
pub(crate) struct Draft {
    /// "periodic", "settlement", "manual" or "correction" (`invoice_kind`).
    pub kind: &'static str,
    pub customer_id: i64,
    pub contract_id: Option<i64>,
    pub supply_point_id: Option<i64>,
    /// The billed days (periodic invoices, settlements, and corrections of them).
    pub period: Option<(NaiveDate, NaiveDate)>,
    pub corrects_id: Option<i64>,
    pub lines: Vec<PricedLine>,
    /// A correction's lines before it.
    pub lines_before: Vec<PricedLine>,
    /// Where the invoice billed each meter to.
    pub ends: Vec<(i64, Point)>,
    pub estimated: bool,
    pub doc: InvoiceDocument,
    pub xml: String,
    pub e_invoice: bool,
}

impl Draft {
    /// The draft of a periodic invoice or a settlement of `c` billed as `billed`.
    fn priced(kind: &'static str, c: &ContractRow, billed: Billed, doc: InvoiceDocument) -> Draft {
        let xml = ksef::fa3_xml(&doc);
        Draft {
            kind,
            customer_id: c.customer_id,
            contract_id: Some(c.id),
            supply_point_id: Some(c.supply_point_id),
            period: Some((c.from_day, c.to_day)),
            corrects_id: None,
            lines: billed.lines,
            lines_before: Vec::new(),
            ends: billed.ends,
            estimated: billed.estimated,
            doc,
            xml,
            e_invoice: c.e_invoice,
        }
    }
}

/// Where stored invoices belong.
pub(crate) struct Issue {
    pub utility_id: i64,
    pub issue_date: NaiveDate,
    pub run_id: Option<i64>,
}

/// Serialises everything that issues invoices for a utility (runs, settlements, corrections,
/// invoices for services), whatever their series and month: taken first by each issuing
/// transaction, held until it ends. Within it, invoice ids grow in commit order, and what one
/// issuer read of another's invoices is what was committed.
pub(crate) async fn lock_issuing(conn: &mut PgConnection, utility_id: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtext('ebok-billing-issue'), $1::int)",
        utility_id as i32
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Locks the counter of `series` for the month of `issue_date` (creating it at 0) and returns
/// its last number. Held until the transaction ends.
pub(crate) async fn lock_counter(
    conn: &mut PgConnection,
    utility_id: i64,
    series: &str,
    issue_date: NaiveDate,
) -> sqlx::Result<i32> {
    let month = issue_date.with_day(1).expect("day 1");
    sqlx::query!(
        r#"INSERT INTO invoice_counters (utility_id, series, month, last_number) VALUES ($1, $2, $3, 0)
           ON CONFLICT DO NOTHING"#,
        utility_id,
        series,
        month
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar!(
        "SELECT last_number FROM invoice_counters WHERE utility_id = $1 AND series = $2 AND month = $3 FOR UPDATE",
        utility_id,
        series,
        month
    )
    .fetch_one(conn)
    .await
}

/// Moves the locked counter to `last_number`.
pub(crate) async fn set_counter(
    conn: &mut PgConnection,
    utility_id: i64,
    series: &str,
    issue_date: NaiveDate,
    last_number: i32,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE invoice_counters SET last_number = $4 WHERE utility_id = $1 AND series = $2 AND month = $3",
        utility_id,
        series,
        issue_date.with_day(1).expect("day 1"),
        last_number
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The balances of customers now.
pub(crate) async fn balances(
    conn: &mut PgConnection,
    customers: &[i64],
) -> sqlx::Result<HashMap<i64, Money>> {
    Ok(sqlx::query!(
        "SELECT customer_id, balance_grosze FROM customer_balances WHERE customer_id = ANY($1)",
        customers
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| (r.customer_id, Money::from_grosze(r.balance_grosze)))
    .collect())
}

/// Issues a prepared batch in one transaction (see the module docs): locks the counter, prices
/// the batch again if an invoice was issued meanwhile at one of its supply points (by a
/// concurrent run or a settlement), numbers the invoices, renders their XML and stores them.
pub(crate) async fn issue(
    pool: &PgPool,
    ctx: &Ctx<'_>,
    prepared: Prepared,
) -> anyhow::Result<BatchOutcome> {
    let mut tx = pool.begin().await?;
    lock_issuing(&mut tx, ctx.utility_id).await?;
    let last_number = lock_counter(&mut tx, ctx.utility_id, SERIES, ctx.issue_date).await?;
    let stale = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM invoices
                          WHERE utility_id = $1 AND id > $2 AND supply_point_id = ANY($3)) AS "stale!""#,
        ctx.utility_id,
        prepared.watermark,
        &prepared.points
    )
    .fetch_one(&mut *tx)
    .await?;
    let prepared = if stale {
        prepare(&mut tx, ctx, &prepared.contract_ids).await?
    } else {
        prepared
    };
    // Balances as they are now (a payment may have come in since the batch was read).
    let customers: Vec<i64> = prepared.priced.iter().map(|(c, _)| c.customer_id).collect();
    let mut balances = balances(&mut tx, &customers).await?;
    let created_at = Utc::now();
    let mut number = last_number;
    let mut drafts = Vec::with_capacity(prepared.priced.len());
    for (c, billed) in prepared.priced {
        number += 1;
        let balance = balances.entry(c.customer_id).or_insert(Money::ZERO);
        let doc = document(
            ctx,
            &c,
            &billed,
            invoice_number(SERIES, ctx.issue_date, number),
            *balance,
            created_at,
        );
        *balance += doc.gross;
        drafts.push(Draft::priced(ctx.kind, &c, billed, doc));
    }
    let issue = Issue {
        utility_id: ctx.utility_id,
        issue_date: ctx.issue_date,
        run_id: ctx.run_id,
    };
    let invoice_ids = store(&mut tx, &issue, &drafts).await?;
    set_counter(&mut tx, ctx.utility_id, SERIES, ctx.issue_date, number).await?;
    tx.commit().await?;
    Ok(BatchOutcome {
        issued: drafts.len(),
        invoice_ids,
        already_billed: prepared.already_billed,
        estimated: prepared.estimated,
        problems: prepared.problems,
    })
}

/// Writes the drafts: invoices, lines, billed registers, ledger entries, notices.
pub(crate) async fn store(
    conn: &mut PgConnection,
    issue: &Issue,
    drafts: &[Draft],
) -> anyhow::Result<Vec<i64>> {
    if drafts.is_empty() {
        return Ok(Vec::new());
    }
    let mut kinds = Vec::with_capacity(drafts.len());
    let mut corrects = Vec::with_capacity(drafts.len());
    let mut numbers = Vec::with_capacity(drafts.len());
    let mut customers = Vec::with_capacity(drafts.len());
    let mut contracts = Vec::with_capacity(drafts.len());
    let mut points = Vec::with_capacity(drafts.len());
    let mut froms = Vec::with_capacity(drafts.len());
    let mut tos = Vec::with_capacity(drafts.len());
    let mut nets = Vec::with_capacity(drafts.len());
    let mut vats = Vec::with_capacity(drafts.len());
    let mut grosses = Vec::with_capacity(drafts.len());
    let mut credits = Vec::with_capacity(drafts.len());
    let mut dues = Vec::with_capacity(drafts.len());
    let mut due_dates = Vec::with_capacity(drafts.len());
    let mut deliveries = Vec::with_capacity(drafts.len());
    let mut estimated = Vec::with_capacity(drafts.len());
    let mut documents = Vec::with_capacity(drafts.len());
    let mut xmls = Vec::with_capacity(drafts.len());
    let mut hashes = Vec::with_capacity(drafts.len());
    for d in drafts {
        numbers.push(d.doc.number.clone());
        customers.push(d.customer_id);
        kinds.push(d.kind.to_string());
        corrects.push(d.corrects_id);
        contracts.push(d.contract_id);
        points.push(d.supply_point_id);
        froms.push(d.period.map(|p| p.0));
        tos.push(d.period.map(|p| p.1));
        nets.push(d.doc.net.grosze());
        vats.push(d.doc.vat.grosze());
        grosses.push(d.doc.gross.grosze());
        credits.push(d.doc.credit_used.grosze());
        dues.push(d.doc.amount_due.grosze());
        due_dates.push(d.doc.due_date);
        deliveries.push(if d.e_invoice { "electronic" } else { "paper" }.to_string());
        estimated.push(d.estimated);
        documents.push(serde_json::to_string(&d.doc)?);
        hashes.push(Sha256::digest(d.xml.as_bytes()).to_vec());
        xmls.push(d.xml.clone());
    }
    let returned = sqlx::query!(
        r#"INSERT INTO invoices (utility_id, number, kind, customer_id, contract_id, supply_point_id,
                                 period_from, period_to, issue_date, due_date, net_grosze, vat_grosze,
                                 gross_grosze, credit_used_grosze, amount_due_grosze, billing_run_id,
                                 delivery, estimated, document, ksef_xml, ksef_xml_sha256, corrects_id)
           SELECT $1, u.number, u.kind::invoice_kind, u.customer_id, u.contract_id, u.supply_point_id,
                  u.period_from, u.period_to, $2, u.due_date, u.net, u.vat, u.gross, u.credit, u.due,
                  $3, u.delivery::invoice_delivery, u.estimated, u.document::json, u.xml, u.hash,
                  u.corrects
           FROM unnest($4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::date[], $9::date[],
                       $10::date[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[],
                       $15::bigint[], $16::text[], $17::bool[], $18::text[], $19::text[], $20::bytea[],
                       $21::text[], $22::bigint[])
                AS u(number, customer_id, contract_id, supply_point_id, period_from, period_to,
                     due_date, net, vat, gross, credit, due, delivery, estimated, document, xml, hash,
                     kind, corrects)
           RETURNING id, number"#,
        issue.utility_id,
        issue.issue_date,
        issue.run_id,
        &numbers,
        &customers,
        &contracts as &[Option<i64>],
        &points as &[Option<i64>],
        &froms as &[Option<NaiveDate>],
        &tos as &[Option<NaiveDate>],
        &due_dates,
        &nets,
        &vats,
        &grosses,
        &credits,
        &dues,
        &deliveries,
        &estimated,
        &documents,
        &xmls,
        &hashes,
        &kinds,
        &corrects as &[Option<i64>]
    )
    .fetch_all(&mut *conn)
    .await?;
    let by_number: HashMap<String, i64> = returned.into_iter().map(|r| (r.number, r.id)).collect();
    let ids: Vec<i64> = numbers.iter().map(|n| by_number[n]).collect();

    // Lines.
    let mut l_before = Vec::new();
    let (
        mut l_invoice,
        mut l_no,
        mut l_kind,
        mut l_name,
        mut l_unit,
        mut l_qty,
        mut l_price,
        mut l_net,
        mut l_rate,
        mut l_tariff,
    ) = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    // Billed registers.
    let (mut r_meter, mut r_invoice, mut r_at, mut r_litres, mut r_est) =
        (vec![], vec![], vec![], vec![], vec![]);
    // Ledger and notices.
    let (mut g_kind, mut g_customer, mut g_invoice, mut g_amount, mut g_text) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut o_payload, mut o_customer, mut o_key) = (vec![], vec![], vec![]);
    for (d, &id) in drafts.iter().zip(&ids) {
        let before = d.lines_before.iter().map(|l| (true, l));
        for (is_before, l) in before.chain(d.lines.iter().map(|l| (false, l))) {
            l_before.push(is_before);
            l_invoice.push(id);
            l_no.push(l.line.no as i16);
            l_kind.push(l.kind.to_string());
            l_name.push(l.line.name.clone());
            l_unit.push(l.line.unit.clone());
            l_qty.push(l.line.quantity_milli);
            l_price.push(l.line.unit_price.grosze());
            l_net.push(l.line.net.grosze());
            l_rate.push(i16::from(l.line.vat_rate));
            l_tariff.push(l.tariff_id);
        }
        for (meter, end) in &d.ends {
            r_meter.push(*meter);
            r_invoice.push(id);
            r_at.push(end.at);
            r_litres.push(end.litres);
            r_est.push(end.estimated_litres);
        }
        if d.doc.gross != Money::ZERO {
            g_kind.push(
                if d.kind == "correction" {
                    "correction"
                } else {
                    "invoice"
                }
                .to_string(),
            );
            g_customer.push(d.customer_id);
            g_invoice.push(id);
            g_amount.push(d.doc.gross.grosze());
            g_text.push(match d.kind {
                "correction" => format!("Faktura korygująca {}", d.doc.number),
                _ => format!("Faktura {}", d.doc.number),
            });
        }
        let event = Event::InvoiceIssued(InvoiceIssued {
            invoice_id: id,
            number: d.doc.number.clone(),
            amount_grosze: d.doc.amount_due,
            due_date: d.doc.due_date,
        });
        o_payload.push(event.payload());
        o_customer.push(d.customer_id);
        o_key.push(format!("invoice:{id}"));
    }
    sqlx::query!(
        r#"INSERT INTO invoice_lines (invoice_id, line_no, kind, name, unit, quantity_milli,
                                      unit_price_grosze, net_grosze, vat_rate, tariff_id,
                                      before_correction)
           SELECT * FROM unnest($1::bigint[], $2::int2[], $3::text[], $4::text[], $5::text[],
                                $6::bigint[], $7::bigint[], $8::bigint[], $9::int2[], $10::bigint[],
                                $11::bool[])"#,
        &l_invoice,
        &l_no,
        &l_kind,
        &l_name,
        &l_unit,
        &l_qty,
        &l_price,
        &l_net,
        &l_rate,
        &l_tariff as &[Option<i64>],
        &l_before
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"INSERT INTO meter_billed_registers (meter_id, invoice_id, at, litres, estimated_litres)
           SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::bigint[], $5::bigint[])"#,
        &r_meter,
        &r_invoice,
        &r_at,
        &r_litres,
        &r_est
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"INSERT INTO ledger_entries (utility_id, customer_id, seq, kind, amount_grosze,
                                       balance_after_grosze, invoice_id, description)
           SELECT $1, u.customer_id, 0, u.kind::ledger_kind, u.amount, 0, u.invoice_id, u.description
           FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[]) WITH ORDINALITY
                AS u(customer_id, invoice_id, amount, description, kind, n)
           ORDER BY u.n"#,
        issue.utility_id,
        &g_customer,
        &g_invoice,
        &g_amount,
        &g_text,
        &g_kind
    )
    .execute(&mut *conn)
    .await?;
    // The invoices the utility sends to KSeF wait for the sender (the ebok-ksef crate).
    sqlx::query!(
        r#"INSERT INTO ksef_invoices (invoice_id, utility_id)
           SELECT i.id, i.utility_id
           FROM invoices i
           JOIN utilities u ON u.id = i.utility_id
           JOIN customers c ON c.id = i.customer_id
           WHERE i.id = ANY($2) AND i.utility_id = $1
             AND (u.ksef_scope = 'all' OR (u.ksef_scope = 'with_nip' AND c.nip IS NOT NULL))"#,
        issue.utility_id,
        &ids,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"INSERT INTO outbox (utility_id, kind, payload, recipient_customer_id, dedup_key)
           SELECT $1, 'invoice.issued', u.payload, u.customer_id, u.key
           FROM unnest($2::jsonb[], $3::bigint[], $4::text[]) AS u(payload, customer_id, key)"#,
        issue.utility_id,
        &o_payload,
        &o_customer,
        &o_key
    )
    .execute(&mut *conn)
    .await?;
    Ok(ids)
}
