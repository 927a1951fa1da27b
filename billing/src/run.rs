//! A monthly billing run: every contract of a utility in force in the month gets an invoice for
//! the month's days it has not been billed for yet (a settlement may have billed the first
//! ones), from the registers at the period's midnights ([`crate::consumption`]), priced by the
//! tariffs of its group ([`crate::invoice`]), with its FA(3) XML, its ledger entry and the
//! resident's notice.
//!
//! **Once, and gap-free.** Contracts are billed in batches, each one transaction that first
//! locks the utility's invoice counter for the month of issue, then reads which days are still
//! unbilled, and only then numbers the new invoices from the counter. A concurrent run (or a
//! settlement) waits for the lock and then sees what this one committed, so it bills nothing
//! twice and takes the next numbers; a batch that fails rolls its numbers back with it. The
//! `one_bill_per_day` exclusion constraint (migration 0023) is the last guard: no contract's day
//! can be on two invoices.
//!
//! A contract whose readings cannot be billed (no register to start from, a register that went
//! down, no history to estimate from, no tariff) is left out and reported in the run's
//! problems for staff; the rest of the run goes on.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use ebok_common::domain::boundary::{self, Sample};
use ebok_common::domain::time::{day_start, local_day};
use ebok_common::domain::{Money, Register, max_flow_litres_per_hour};
use ebok_common::outbox::{Event, InvoiceIssued};
use ebok_common::polish::address_lines;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use crate::consumption::{self, Point, Source};
use crate::document::{InvoiceDocument, Kind, Party};
use crate::invoice::{self, Billed, MeterSpan, Purpose, Services};
use crate::tariff::{self, Tariff};
use crate::{amounts, ksef};

/// What to bill.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub utility_id: i64,
    /// Any day of the billed month.
    pub month: NaiveDate,
    /// The invoices' date of issue (a Warsaw day after the month).
    pub issue_date: NaiveDate,
    /// The staff account that started it; `None` from the command line.
    pub started_by: Option<i64>,
    /// Contracts per transaction.
    pub batch: usize,
}

/// A contract left out of the run, and why (Polish, for staff).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub contract_number: String,
    pub reason: String,
}

/// How a run went.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub run_id: i64,
    pub contracts_total: usize,
    pub invoices_issued: usize,
    pub already_billed: usize,
    pub estimated: usize,
    pub problems: Vec<Problem>,
}

/// Progress after each batch, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub issued: usize,
}

/// The utility as the seller on its invoices.
#[derive(Debug, Clone)]
pub struct Seller {
    pub party: Party,
    pub city: String,
    pub bank_account: Option<String>,
    pub payment_term_days: u32,
}

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

/// The utility's seller data; a utility without a NIP cannot issue invoices.
pub async fn seller(conn: &mut PgConnection, utility_id: i64) -> anyhow::Result<Seller> {
    let u = sqlx::query!(
        r#"SELECT name, nip, street, building_no, postal_code, city, post_town, bank_account,
                  payment_term_days
           FROM utilities WHERE id = $1"#,
        utility_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .context("no such utility")?;
    let Some(nip) = u.nip else {
        return Err(RunRefused::Seller(
            "Zakład nie ma NIP-u w ustawieniach: bez NIP-u sprzedawcy faktury nie można wystawić."
                .into(),
        )
        .into());
    };
    let (Some(building), Some(postal_code), Some(city)) = (u.building_no, u.postal_code, u.city)
    else {
        return Err(RunRefused::Seller(
            "Adres zakładu w ustawieniach jest niepełny: faktura wymaga adresu sprzedawcy.".into(),
        )
        .into());
    };
    let (line1, line2) = address_lines(
        u.street.as_deref(),
        &building,
        None,
        Some(&postal_code),
        &city,
        u.post_town.as_deref(),
    );
    Ok(Seller {
        party: Party {
            name: u.name,
            nip: Some(nip),
            address_line1: line1,
            address_line2: line2,
            customer_number: None,
        },
        city,
        bank_account: u.bank_account,
        payment_term_days: u.payment_term_days as u32,
    })
}

/// Why a run is refused before it starts (Polish, for staff; the command line prints it too).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunRefused {
    #[error("Miesiąc {month} jeszcze trwa: można go rozliczyć od {from}.")]
    MonthNotOver { month: String, from: String },
    #[error("{0}")]
    Seller(String),
}

/// A run recorded and ready to go: [`execute`] bills it.
pub struct Started {
    pub run_id: i64,
    pub contracts_total: usize,
    request: RunRequest,
    seller: Seller,
    tariffs: HashMap<i64, Vec<Tariff>>,
    contracts: Vec<i64>,
    first: NaiveDate,
    last: NaiveDate,
}

/// Runs the billing of a month for a utility: [`start`], then [`execute`].
pub async fn run(
    pool: &PgPool,
    req: &RunRequest,
    progress: impl FnMut(Progress),
) -> anyhow::Result<Outcome> {
    let started = start(pool, req).await?;
    execute(pool, started, progress).await
}

/// Checks that the month can be billed, records the run (`billing_runs`, state running) and
/// lists the contracts to bill. A refusal is a [`RunRefused`].
pub async fn start(pool: &PgPool, req: &RunRequest) -> anyhow::Result<Started> {
    let first = req.month.with_day(1).expect("day 1");
    let last = first + Months::new(1) - Days::new(1);
    if req.issue_date <= last {
        return Err(RunRefused::MonthNotOver {
            month: first.format("%m.%Y").to_string(),
            from: (last + Days::new(1)).format("%d.%m.%Y").to_string(),
        }
        .into());
    }
    let mut conn = pool.acquire().await?;
    let seller = seller(&mut conn, req.utility_id).await?;
    let tariffs = tariffs(&mut conn, req.utility_id).await?;
    let run_id = sqlx::query_scalar!(
        "INSERT INTO billing_runs (utility_id, period, started_by) VALUES ($1, $2, $3) RETURNING id",
        req.utility_id,
        first,
        req.started_by
    )
    .fetch_one(&mut *conn)
    .await?;
    let contracts = sqlx::query_scalar!(
        r#"SELECT id FROM contracts
           WHERE utility_id = $1 AND status = 'active' AND valid_from <= $3
             AND (valid_until IS NULL OR valid_until >= $2)
           ORDER BY id"#,
        req.utility_id,
        first,
        last
    )
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE billing_runs SET contracts_total = $2 WHERE id = $1",
        run_id,
        contracts.len() as i32
    )
    .execute(&mut *conn)
    .await?;
    Ok(Started {
        run_id,
        contracts_total: contracts.len(),
        request: req.clone(),
        seller,
        tariffs,
        contracts,
        first,
        last,
    })
}

/// Bills a started run's contracts batch by batch, recording progress after each; a failure
/// marks the run failed (what was issued before it stays issued, and a new run of the month
/// bills the rest).
pub async fn execute(
    pool: &PgPool,
    started: Started,
    mut progress: impl FnMut(Progress),
) -> anyhow::Result<Outcome> {
    let Started {
        run_id,
        request: req,
        seller,
        tariffs,
        contracts,
        first,
        last,
        ..
    } = started;
    let mut outcome = Outcome {
        run_id,
        contracts_total: contracts.len(),
        ..Outcome::default()
    };
    let ctx = Ctx {
        utility_id: req.utility_id,
        seller: &seller,
        tariffs: &tariffs,
        first,
        last,
        issue_date: req.issue_date,
        run_id: Some(run_id),
    };
    // While one batch is issued (holding the counter), the next one is read and priced on
    // another connection.
    let mut done = 0;
    let batches: Vec<&[i64]> = contracts.chunks(req.batch.max(1)).collect();
    let mut next = match batches.first() {
        Some(first) => Some(prepare(&mut *pool.acquire().await?, &ctx, first).await),
        None => None,
    };
    for (index, batch) in batches.iter().enumerate() {
        let prepared = next.take().expect("the batch was prepared");
        let following = batches.get(index + 1);
        let (result, prepared_next) = tokio::join!(
            async {
                match prepared {
                    Ok(p) => issue(pool, &ctx, p).await,
                    Err(e) => Err(e),
                }
            },
            async {
                match following {
                    Some(ids) => match pool.acquire().await {
                        Ok(mut conn) => Some(prepare(&mut conn, &ctx, ids).await),
                        Err(e) => Some(Err(e.into())),
                    },
                    None => None,
                }
            }
        );
        next = prepared_next;
        let batch_outcome = match result {
            Ok(b) => b,
            Err(e) => {
                sqlx::query!(
                    "UPDATE billing_runs SET state = 'failed', error = $2, finished_at = now() WHERE id = $1",
                    run_id,
                    format!("{e:#}")
                )
                .execute(pool)
                .await?;
                return Err(e);
            }
        };
        done += batch.len();
        outcome.invoices_issued += batch_outcome.issued;
        outcome.already_billed += batch_outcome.already_billed;
        outcome.estimated += batch_outcome.estimated;
        outcome.problems.extend(batch_outcome.problems);
        sqlx::query!(
            r#"UPDATE billing_runs SET contracts_done = $2, invoices_issued = $3, already_billed = $4,
                                      estimated = $5, updated_at = now()
               WHERE id = $1"#,
            run_id,
            done as i32,
            outcome.invoices_issued as i32,
            outcome.already_billed as i32,
            outcome.estimated as i32
        )
        .execute(pool)
        .await?;
        progress(Progress {
            done,
            total: contracts.len(),
            issued: outcome.invoices_issued,
        });
    }
    let problems: Vec<_> = outcome
        .problems
        .iter()
        .map(|p| json!({"contract": p.contract_number, "reason": p.reason}))
        .collect();
    sqlx::query!(
        "UPDATE billing_runs SET state = 'finished', finished_at = now(), problems = $2 WHERE id = $1",
        run_id,
        serde_json::Value::Array(problems)
    )
    .execute(pool)
    .await?;
    Ok(outcome)
}

/// The tariffs of a utility by tariff group.
pub async fn tariffs(
    conn: &mut PgConnection,
    utility_id: i64,
) -> sqlx::Result<HashMap<i64, Vec<Tariff>>> {
    let rows = sqlx::query!(
        r#"SELECT id, tariff_group_id, valid_from, water_price_grosze, sewage_price_grosze,
                  subscription_grosze, garden_subscription_grosze, vat_rate
           FROM tariffs WHERE utility_id = $1 ORDER BY tariff_group_id, valid_from"#,
        utility_id
    )
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<i64, Vec<Tariff>> = HashMap::new();
    for r in rows {
        out.entry(r.tariff_group_id).or_default().push(Tariff {
            id: r.id,
            valid_from: r.valid_from,
            water_price: Money::from_grosze(r.water_price_grosze.into()),
            sewage_price: Money::from_grosze(r.sewage_price_grosze.into()),
            subscription: Money::from_grosze(r.subscription_grosze.into()),
            garden_subscription: Money::from_grosze(r.garden_subscription_grosze.into()),
            vat_rate: r.vat_rate as u8,
        });
    }
    Ok(out)
}

/// What every invoice of a run shares.
pub(crate) struct Ctx<'a> {
    pub utility_id: i64,
    pub seller: &'a Seller,
    pub tariffs: &'a HashMap<i64, Vec<Tariff>>,
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub issue_date: NaiveDate,
    pub run_id: Option<i64>,
}

#[derive(Default)]
pub(crate) struct BatchOutcome {
    pub issued: usize,
    pub already_billed: usize,
    pub estimated: usize,
    pub problems: Vec<Problem>,
}

/// A contract as billing needs it.
struct ContractRow {
    id: i64,
    number: String,
    customer_id: i64,
    supply_point_id: i64,
    tariff_group_id: i64,
    from_day: NaiveDate,
    to_day: NaiveDate,
    buyer: Party,
    supply_point: String,
    services: Services,
    e_invoice: bool,
}

/// An invoice ready to be stored.
struct Draft {
    contract_id: i64,
    customer_id: i64,
    supply_point_id: i64,
    from_day: NaiveDate,
    to_day: NaiveDate,
    billed: Billed,
    doc: InvoiceDocument,
    xml: String,
    e_invoice: bool,
}

/// A batch priced before it is issued: what each contract of it would be billed, read without
/// holding the counter (see [`issue`]).
pub(crate) struct Prepared {
    contract_ids: Vec<i64>,
    /// The batch's supply points, and the newest invoice of the utility when it was read: an
    /// invoice newer than that at one of these points makes the batch stale.
    points: Vec<i64>,
    watermark: i64,
    priced: Vec<(ContractRow, Billed)>,
    already_billed: usize,
    estimated: usize,
    problems: Vec<Problem>,
}

/// Reads and prices a batch of contracts.
pub(crate) async fn prepare(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    contract_ids: &[i64],
) -> anyhow::Result<Prepared> {
    let watermark = sqlx::query_scalar!(
        r#"SELECT coalesce(max(id), 0) AS "max!" FROM invoices WHERE utility_id = $1"#,
        ctx.utility_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let contracts = contracts(&mut *conn, ctx, contract_ids).await?;
    let mut out = Prepared {
        contract_ids: contract_ids.to_vec(),
        points: contracts.iter().map(|c| c.supply_point_id).collect(),
        watermark,
        priced: Vec::with_capacity(contracts.len()),
        already_billed: 0,
        estimated: 0,
        problems: Vec::new(),
    };
    let (contracts, billed_before): (Vec<_>, Vec<_>) =
        contracts.into_iter().partition(|c| c.from_day <= c.to_day);
    out.already_billed = billed_before.len();
    let points: Vec<i64> = contracts.iter().map(|c| c.supply_point_id).collect();
    let meters = meters_at(&mut *conn, &points, ctx.first, ctx.last).await?;

    // One statement for the facts of every meter of every contract in the batch.
    let no_meters: Vec<MeterRow> = Vec::new();
    let meters_of = |c: &ContractRow| -> Vec<&MeterRow> {
        present(c, meters.get(&c.supply_point_id).unwrap_or(&no_meters))
    };
    let pairs: Vec<(i64, &MeterRow, NaiveDate, NaiveDate)> = contracts
        .iter()
        .flat_map(|c| {
            meters_of(c)
                .into_iter()
                .map(move |m| (c.id, m, c.from_day, c.to_day))
        })
        .collect();
    let mut facts = facts(&mut *conn, &pairs).await?.into_iter();
    // The midnights inside each contract's days where a tariff or a month changes.
    let inner_days = |c: &ContractRow| -> Vec<NaiveDate> {
        let tariffs = ctx
            .tariffs
            .get(&c.tariff_group_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        tariff::segments(tariffs, c.from_day, c.to_day)
            .map(|s| s.iter().skip(1).map(|s| s.first).collect())
            .unwrap_or_default()
    };
    let inner_pairs: Vec<(i64, NaiveDate)> = contracts
        .iter()
        .flat_map(|c| {
            let days = inner_days(c);
            meters_of(c)
                .into_iter()
                .flat_map(move |m| days.clone().into_iter().map(move |d| (m.id, d)))
        })
        .collect();
    let inner = around_midnights(&mut *conn, &inner_pairs).await?;

    for c in contracts {
        let of_contract: Vec<(&MeterRow, Facts)> = meters_of(&c)
            .into_iter()
            .map(|m| (m, facts.next().expect("facts for every pair")))
            .collect();
        let spans = match spans(&mut *conn, &c, &of_contract, &inner_days(&c), &inner).await? {
            Ok(spans) => spans,
            Err(reason) => {
                out.problems.push(Problem {
                    contract_number: c.number.clone(),
                    reason,
                });
                continue;
            }
        };
        let tariffs = ctx
            .tariffs
            .get(&c.tariff_group_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        match invoice::bill(c.from_day, c.to_day, tariffs, c.services, &spans) {
            Ok(billed) => {
                if billed.estimated {
                    out.estimated += 1;
                }
                out.priced.push((c, billed));
            }
            Err(e) => out.problems.push(Problem {
                contract_number: c.number.clone(),
                reason: match e {
                    invoice::BillError::NoTariff(n) => {
                        format!("brak taryfy grupy na dzień {}", n.0.format("%d.%m.%Y"))
                    }
                    invoice::BillError::Backward { serial, source } => format!(
                        "licznik {serial}: stan spadł z {} l do {} l (cofnięcie lub błędny odczyt)",
                        source.from, source.to
                    ),
                },
            }),
        }
    }
    Ok(out)
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
    let month = ctx.issue_date.with_day(1).expect("day 1");
    sqlx::query!(
        r#"INSERT INTO invoice_counters (utility_id, series, month, last_number) VALUES ($1, $2, $3, 0)
           ON CONFLICT DO NOTHING"#,
        ctx.utility_id,
        SERIES,
        month
    )
    .execute(&mut *tx)
    .await?;
    let last_number = sqlx::query_scalar!(
        "SELECT last_number FROM invoice_counters WHERE utility_id = $1 AND series = $2 AND month = $3 FOR UPDATE",
        ctx.utility_id,
        SERIES,
        month
    )
    .fetch_one(&mut *tx)
    .await?;
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
    let mut balances: HashMap<i64, Money> = sqlx::query!(
        "SELECT customer_id, balance_grosze FROM customer_balances WHERE customer_id = ANY($1)",
        &customers
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| (r.customer_id, Money::from_grosze(r.balance_grosze)))
    .collect();

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
        let xml = ksef::fa3_xml(&doc);
        drafts.push(Draft {
            contract_id: c.id,
            customer_id: c.customer_id,
            supply_point_id: c.supply_point_id,
            from_day: c.from_day,
            to_day: c.to_day,
            e_invoice: c.e_invoice,
            billed,
            doc,
            xml,
        });
    }
    store(&mut tx, ctx, &drafts).await?;
    sqlx::query!(
        "UPDATE invoice_counters SET last_number = $4 WHERE utility_id = $1 AND series = $2 AND month = $3",
        ctx.utility_id,
        SERIES,
        month,
        number
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(BatchOutcome {
        issued: drafts.len(),
        already_billed: prepared.already_billed,
        estimated: prepared.estimated,
        problems: prepared.problems,
    })
}

/// The invoice as its documents show it.
fn document(
    ctx: &Ctx<'_>,
    c: &ContractRow,
    billed: &Billed,
    number: String,
    balance_before: Money,
    created_at: DateTime<Utc>,
) -> InvoiceDocument {
    let lines: Vec<_> = billed.lines.iter().map(|l| l.line.clone()).collect();
    let (rates, net, vat, gross) = amounts::totals(&lines);
    let credit = if balance_before.is_negative() {
        -balance_before
    } else {
        Money::ZERO
    };
    let credit_used = credit.min(gross.max(Money::ZERO));
    let mut notes = billed.notes.clone();
    if credit_used > Money::ZERO {
        notes.push(format!(
            "Zaliczono nadpłatę z poprzednich okresów: {}.",
            ebok_common::polish::money(credit_used)
        ));
    }
    InvoiceDocument {
        kind: Kind::Vat,
        number,
        issue_date: ctx.issue_date,
        place_of_issue: Some(ctx.seller.city.clone()),
        period: Some((c.from_day, c.to_day)),
        sale_date: None,
        seller: ctx.seller.party.clone(),
        buyer: c.buyer.clone(),
        supply_point: Some(c.supply_point.clone()),
        lines_before: Vec::new(),
        lines,
        rates,
        net,
        vat,
        gross,
        credit_used,
        amount_due: (gross - credit_used).max(Money::ZERO),
        due_date: ctx.issue_date + Days::new(u64::from(ctx.seller.payment_term_days)),
        bank_account: ctx.seller.bank_account.clone(),
        readings: billed.readings.clone(),
        notes,
        created_at,
        ksef_number: None,
    }
}

async fn contracts(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    ids: &[i64],
) -> sqlx::Result<Vec<ContractRow>> {
    let rows = sqlx::query!(
        r#"SELECT c.id, c.number, c.customer_id, c.supply_point_id, c.tariff_group_id,
                  greatest($2::date, c.valid_from,
                           (SELECT max(i.period_to) + 1 FROM invoices i
                            WHERE i.contract_id = c.id AND i.kind IN ('periodic', 'settlement'))) AS "from_day!",
                  least($3::date, c.valid_until) AS "to_day!",
                  cu.customer_number, cu.name, cu.nip, cu.street, cu.building_no, cu.apartment_no,
                  cu.postal_code, cu.city, cu.post_town,
                  sp.code AS sp_code, sp.street AS sp_street, sp.building_no AS sp_building,
                  sp.apartment_no AS sp_apartment, sp.postal_code AS sp_postal_code, sp.city AS sp_city,
                  sp.post_town AS sp_post_town,
                  sp.water_service, sp.sewage_service,
                  EXISTS (SELECT 1 FROM account_customers ac
                          JOIN consents k ON k.account_id = ac.account_id
                          WHERE ac.customer_id = c.customer_id AND k.kind = 'e_invoice'
                            AND k.withdrawn_at IS NULL) AS "e_invoice!"
           FROM contracts c
           JOIN customers cu ON cu.id = c.customer_id
           JOIN supply_points sp ON sp.id = c.supply_point_id
           WHERE c.id = ANY($1) AND c.utility_id = $4
           ORDER BY c.id"#,
        ids,
        ctx.first,
        ctx.last,
        ctx.utility_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let point = address_lines(
                r.sp_street.as_deref(),
                &r.sp_building,
                r.sp_apartment.as_deref(),
                Some(&r.sp_postal_code),
                &r.sp_city,
                r.sp_post_town.as_deref(),
            );
            // The correspondence address, else the supply point's.
            let (line1, line2) = match &r.building_no {
                Some(building) => address_lines(
                    r.street.as_deref(),
                    building,
                    r.apartment_no.as_deref(),
                    r.postal_code.as_deref(),
                    &r.city,
                    r.post_town.as_deref(),
                ),
                None => point.clone(),
            };
            ContractRow {
                id: r.id,
                number: r.number,
                customer_id: r.customer_id,
                supply_point_id: r.supply_point_id,
                tariff_group_id: r.tariff_group_id,
                from_day: r.from_day,
                to_day: r.to_day,
                buyer: Party {
                    name: r.name,
                    nip: r.nip,
                    address_line1: line1,
                    address_line2: line2,
                    customer_number: Some(r.customer_number),
                },
                supply_point: format!("{}, {}, {}", r.sp_code, point.0, point.1),
                services: Services {
                    water: r.water_service,
                    sewage: r.sewage_service,
                },
                e_invoice: r.e_invoice,
            }
        })
        .collect())
}

/// A meter of a supply point as billing reads it.
#[derive(Debug, Clone)]
struct MeterRow {
    id: i64,
    serial: String,
    purpose: Purpose,
    register: Register,
    max_flow: i64,
    installed_at: DateTime<Utc>,
    install_reading: Option<i64>,
    removed_at: Option<DateTime<Utc>>,
    removal_reading: Option<i64>,
}

/// The meters at the supply points at any time of `first ..= last`, by supply point.
async fn meters_at(
    conn: &mut PgConnection,
    points: &[i64],
    first: NaiveDate,
    last: NaiveDate,
) -> sqlx::Result<HashMap<i64, Vec<MeterRow>>> {
    let rows = sqlx::query!(
        r#"SELECT id, supply_point_id AS "supply_point_id!", serial, purpose::text AS "purpose!",
                  register_max_litres, diameter_mm, installed_at AS "installed_at!",
                  install_reading_litres, removed_at, removal_reading_litres
           FROM meters
           WHERE supply_point_id = ANY($1) AND installed_at < $3
             AND (removed_at IS NULL OR removed_at > $2)
           ORDER BY supply_point_id, installed_at"#,
        points,
        day_start(first),
        day_start(last + Days::new(1))
    )
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<i64, Vec<MeterRow>> = HashMap::new();
    for r in rows {
        out.entry(r.supply_point_id).or_default().push(MeterRow {
            id: r.id,
            serial: r.serial,
            purpose: Purpose::parse(&r.purpose).expect("meter_purpose values"),
            register: Register::new(r.register_max_litres).expect("register_max_litres > 0"),
            max_flow: max_flow_litres_per_hour(r.diameter_mm),
            installed_at: r.installed_at,
            install_reading: r.install_reading_litres,
            removed_at: r.removed_at,
            removal_reading: r.removal_reading_litres,
        });
    }
    Ok(out)
}

/// The last reading before a midnight and the first at or after it.
type Around = (Option<Sample>, Option<Sample>);

/// What the database knows of one meter over one contract's days: where its previous invoice
/// ended, and the readings around the first and the last midnight.
struct Facts {
    billed: Option<Point>,
    start: Around,
    end: Around,
}

/// The facts of every (contract, meter) pair of a batch, in one statement.
async fn facts(
    conn: &mut PgConnection,
    pairs: &[(i64, &MeterRow, NaiveDate, NaiveDate)],
) -> sqlx::Result<Vec<Facts>> {
    let meters: Vec<i64> = pairs.iter().map(|p| p.1.id).collect();
    let firsts: Vec<NaiveDate> = pairs.iter().map(|p| p.2).collect();
    let afters: Vec<NaiveDate> = pairs.iter().map(|p| p.3 + Days::new(1)).collect();
    let ends: Vec<DateTime<Utc>> = afters.iter().map(|d| day_start(*d)).collect();
    let rows = sqlx::query!(
        r#"SELECT p.n AS "n!",
                  g.at AS "g_at?", g.litres AS "g_litres?", g.estimated_litres AS "g_est?",
                  sb.measured_at AS "sb_at?", sb.volume_litres AS "sb_litres?",
                  sa.measured_at AS "sa_at?", sa.volume_litres AS "sa_litres?",
                  eb.measured_at AS "eb_at?", eb.volume_litres AS "eb_litres?",
                  ea.measured_at AS "ea_at?", ea.volume_litres AS "ea_litres?"
           FROM unnest($1::bigint[], $2::date[], $3::date[], $4::timestamptz[]) WITH ORDINALITY
                AS p(meter_id, first_day, after_day, end_at, n)
           LEFT JOIN LATERAL (
               SELECT at, litres, estimated_litres FROM meter_billed_registers r
               WHERE r.meter_id = p.meter_id AND r.at <= p.end_at
               ORDER BY r.at DESC, r.invoice_id DESC LIMIT 1) g ON true
           LEFT JOIN LATERAL meter_reading_by_day(p.meter_id, p.first_day - 1) sb ON g.at IS NULL
           LEFT JOIN LATERAL meter_first_reading_from_day(p.meter_id, p.first_day) sa ON g.at IS NULL
           LEFT JOIN LATERAL meter_reading_by_day(p.meter_id, p.after_day - 1) eb ON true
           LEFT JOIN LATERAL meter_first_reading_from_day(p.meter_id, p.after_day) ea ON true
           ORDER BY p.n"#,
        &meters,
        &firsts,
        &afters,
        &ends
    )
    .fetch_all(conn)
    .await?;
    let sample = |at: Option<DateTime<Utc>>, litres: Option<i64>| {
        Some(Sample {
            at: at?,
            litres: litres?,
        })
    };
    Ok(rows
        .into_iter()
        .map(|r| Facts {
            billed: match (r.g_at, r.g_litres, r.g_est) {
                (Some(at), Some(litres), Some(estimated_litres)) => Some(Point {
                    at,
                    litres,
                    source: Source::Billed,
                    estimated_litres,
                }),
                _ => None,
            },
            start: (sample(r.sb_at, r.sb_litres), sample(r.sa_at, r.sa_litres)),
            end: (sample(r.eb_at, r.eb_litres), sample(r.ea_at, r.ea_litres)),
        })
        .collect())
}

/// The readings around the Warsaw midnights starting `days` of meters: the last before and the
/// first at or after, keyed by (meter, day). For the midnights where a tariff changes inside a
/// billed period.
async fn around_midnights(
    conn: &mut PgConnection,
    pairs: &[(i64, NaiveDate)],
) -> sqlx::Result<HashMap<(i64, NaiveDate), Around>> {
    if pairs.is_empty() {
        return Ok(HashMap::new());
    }
    let meters: Vec<i64> = pairs.iter().map(|p| p.0).collect();
    let days: Vec<NaiveDate> = pairs.iter().map(|p| p.1).collect();
    let rows = sqlx::query!(
        r#"SELECT p.meter_id AS "meter_id!", p.day AS "day!",
                  b.measured_at AS "b_at?", b.volume_litres AS "b_litres?",
                  a.measured_at AS "a_at?", a.volume_litres AS "a_litres?"
           FROM unnest($1::bigint[], $2::date[]) AS p(meter_id, day)
           LEFT JOIN LATERAL meter_reading_by_day(p.meter_id, p.day - 1) b ON true
           LEFT JOIN LATERAL meter_first_reading_from_day(p.meter_id, p.day) a ON true"#,
        &meters,
        &days
    )
    .fetch_all(conn)
    .await?;
    let sample = |at: Option<DateTime<Utc>>, litres: Option<i64>| {
        Some(Sample {
            at: at?,
            litres: litres?,
        })
    };
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                (r.meter_id, r.day),
                (sample(r.b_at, r.b_litres), sample(r.a_at, r.a_litres)),
            )
        })
        .collect())
}

/// The register at a Warsaw midnight by the day rule, or the last reading before it.
fn register_at(m: &MeterRow, at: DateTime<Utc>, (before, after): Around) -> Option<Point> {
    boundary::register_at(m.register, m.max_flow, at, before, after).map(|r| {
        let source = if r.at < at {
            Source::LastReading
        } else if r.interpolated {
            Source::Interpolated
        } else {
            Source::Read
        };
        Point::real(r.at, r.litres, source)
    })
}

/// The meters of a contract's supply point over its days.
fn present<'m>(c: &ContractRow, meters: &'m [MeterRow]) -> Vec<&'m MeterRow> {
    let start = day_start(c.from_day);
    let end = day_start(c.to_day + Days::new(1));
    meters
        .iter()
        .filter(|m| m.installed_at < end && m.removed_at.is_none_or(|r| r > start))
        .collect()
}

/// Each meter's known registers over the contract's days, or why they cannot be billed. Reads
/// the database only to estimate.
async fn spans(
    conn: &mut PgConnection,
    c: &ContractRow,
    meters: &[(&MeterRow, Facts)],
    inner_days: &[NaiveDate],
    inner: &HashMap<(i64, NaiveDate), Around>,
) -> sqlx::Result<Result<Vec<MeterSpan>, String>> {
    let start = day_start(c.from_day);
    let end = day_start(c.to_day + Days::new(1));
    let mut out = Vec::new();
    for (m, facts) in meters {
        // Where it starts: the previous invoice's end, the installation, or the first midnight.
        let installation = m
            .install_reading
            .map(|l| Point::real(m.installed_at, l, Source::Installation));
        let first = match facts.billed {
            Some(b) => Some(b),
            None if m.installed_at >= start => installation,
            None => register_at(m, start, facts.start).or(installation),
        };
        let Some(first) = first else {
            return Ok(Err(format!(
                "licznik {}: brak odczytu początkowego",
                m.serial
            )));
        };
        // Where it ends: its final reading, the last midnight, or an estimate.
        let last = match (m.removed_at, m.removal_reading) {
            (Some(removed), Some(litres)) if removed <= end => {
                Point::real(removed, litres, Source::Removal)
            }
            (Some(removed), None) if removed <= end => {
                return Ok(Err(format!(
                    "licznik {}: zdjęty bez odczytu końcowego",
                    m.serial
                )));
            }
            _ => match register_at(m, end, facts.end) {
                Some(p) if p.source != Source::LastReading => p,
                known => {
                    // No register at the end: estimate from the latest known one.
                    let base = match known {
                        Some(p) if p.at > first.at => p,
                        _ => first,
                    };
                    let Some(daily) = daily_average(conn, m, c.from_day, c.to_day).await? else {
                        return Ok(Err(format!(
                            "licznik {}: brak odczytu na koniec okresu i brak historii do szacunku",
                            m.serial
                        )));
                    };
                    consumption::estimate(m.register, base, end, daily)
                }
            },
        };
        let last = if last.at < first.at {
            Point {
                at: first.at,
                ..last
            }
        } else {
            last
        };
        // Registers known exactly at a tariff change split the water there.
        let mut points = vec![first];
        for day in inner_days {
            let at = day_start(*day);
            if let Some(&around) = inner.get(&(m.id, *day))
                && let Some(p) = register_at(m, at, around)
                && p.source != Source::LastReading
                && p.at > first.at
                && p.at < last.at
            {
                points.push(p);
            }
        }
        points.push(last);
        out.push(MeterSpan {
            meter_id: m.id,
            serial: m.serial.clone(),
            purpose: m.purpose,
            register: m.register,
            max_flow_litres_per_hour: m.max_flow,
            points,
            installed_at: m.installed_at,
            removed_at: m.removed_at,
        });
    }
    if out.is_empty() {
        return Ok(Err(
            "brak licznika w punkcie poboru w okresie rozliczeniowym".into(),
        ));
    }
    Ok(Ok(out))
}

/// The meter's average daily consumption for an estimate: over the 3 months before its last
/// real reading (or as much of them as it has readings for, a week at least), else over the
/// same days a year before the billed ones.
async fn daily_average(
    conn: &mut PgConnection,
    m: &MeterRow,
    first: NaiveDate,
    last: NaiveDate,
) -> sqlx::Result<Option<i64>> {
    let reading_by = |day: NaiveDate| {
        sqlx::query!(
            r#"SELECT measured_at AS "at!", volume_litres AS "litres!" FROM meter_reading_by_day($1, $2)"#,
            m.id,
            day
        )
    };
    let real = |at: DateTime<Utc>, litres: i64| Point::real(at, litres, Source::Read);
    if let Some(newest) = reading_by(last).fetch_optional(&mut *conn).await? {
        let three_months_before = local_day(newest.at) - Months::new(3);
        let older = match reading_by(three_months_before)
            .fetch_optional(&mut *conn)
            .await?
        {
            Some(r) => Some(real(r.at, r.litres)),
            None => sqlx::query!(
                r#"SELECT measured_at AS "at!", volume_litres AS "litres!"
                   FROM meter_first_reading_from_day($1, $2)"#,
                m.id,
                three_months_before
            )
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| real(r.at, r.litres)),
        };
        if let Some(older) = older
            && let Some(avg) = consumption::daily_average(
                m.register,
                m.max_flow,
                older,
                real(newest.at, newest.litres),
            )
        {
            return Ok(Some(avg));
        }
    }
    let year_before_end = reading_by(last - Months::new(12))
        .fetch_optional(&mut *conn)
        .await?;
    let year_before_start = reading_by(first - Months::new(12) - Days::new(1))
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match (year_before_start, year_before_end) {
        (Some(a), Some(b)) => consumption::daily_average(
            m.register,
            m.max_flow,
            real(a.at, a.litres),
            real(b.at, b.litres),
        ),
        _ => None,
    })
}

/// Writes the drafts: invoices, lines, billed registers, ledger entries, notices.
async fn store(conn: &mut PgConnection, ctx: &Ctx<'_>, drafts: &[Draft]) -> anyhow::Result<()> {
    if drafts.is_empty() {
        return Ok(());
    }
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
        contracts.push(d.contract_id);
        points.push(d.supply_point_id);
        froms.push(d.from_day);
        tos.push(d.to_day);
        nets.push(d.doc.net.grosze());
        vats.push(d.doc.vat.grosze());
        grosses.push(d.doc.gross.grosze());
        credits.push(d.doc.credit_used.grosze());
        dues.push(d.doc.amount_due.grosze());
        due_dates.push(d.doc.due_date);
        deliveries.push(if d.e_invoice { "electronic" } else { "paper" }.to_string());
        estimated.push(d.billed.estimated);
        documents.push(serde_json::to_string(&d.doc)?);
        hashes.push(Sha256::digest(d.xml.as_bytes()).to_vec());
        xmls.push(d.xml.clone());
    }
    let returned = sqlx::query!(
        r#"INSERT INTO invoices (utility_id, number, kind, customer_id, contract_id, supply_point_id,
                                 period_from, period_to, issue_date, due_date, net_grosze, vat_grosze,
                                 gross_grosze, credit_used_grosze, amount_due_grosze, billing_run_id,
                                 delivery, estimated, document, ksef_xml, ksef_xml_sha256)
           SELECT $1, u.number, 'periodic', u.customer_id, u.contract_id, u.supply_point_id,
                  u.period_from, u.period_to, $2, u.due_date, u.net, u.vat, u.gross, u.credit, u.due,
                  $3, u.delivery::invoice_delivery, u.estimated, u.document::json, u.xml, u.hash
           FROM unnest($4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::date[], $9::date[],
                       $10::date[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[],
                       $15::bigint[], $16::text[], $17::bool[], $18::text[], $19::text[], $20::bytea[])
                AS u(number, customer_id, contract_id, supply_point_id, period_from, period_to,
                     due_date, net, vat, gross, credit, due, delivery, estimated, document, xml, hash)
           RETURNING id, number"#,
        ctx.utility_id,
        ctx.issue_date,
        ctx.run_id,
        &numbers,
        &customers,
        &contracts,
        &points,
        &froms,
        &tos,
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
        &hashes
    )
    .fetch_all(&mut *conn)
    .await?;
    let by_number: HashMap<String, i64> = returned.into_iter().map(|r| (r.number, r.id)).collect();
    let ids: Vec<i64> = numbers.iter().map(|n| by_number[n]).collect();

    // Lines.
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
    let (mut g_customer, mut g_invoice, mut g_amount, mut g_text) =
        (vec![], vec![], vec![], vec![]);
    let (mut o_payload, mut o_customer, mut o_key) = (vec![], vec![], vec![]);
    for (d, &id) in drafts.iter().zip(&ids) {
        for l in &d.billed.lines {
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
        for (meter, end) in &d.billed.ends {
            r_meter.push(*meter);
            r_invoice.push(id);
            r_at.push(end.at);
            r_litres.push(end.litres);
            r_est.push(end.estimated_litres);
        }
        if d.doc.gross != Money::ZERO {
            g_customer.push(d.customer_id);
            g_invoice.push(id);
            g_amount.push(d.doc.gross.grosze());
            g_text.push(format!("Faktura {}", d.doc.number));
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
                                      unit_price_grosze, net_grosze, vat_rate, tariff_id)
           SELECT * FROM unnest($1::bigint[], $2::int2[], $3::text[], $4::text[], $5::text[],
                                $6::bigint[], $7::bigint[], $8::bigint[], $9::int2[], $10::bigint[])"#,
        &l_invoice,
        &l_no,
        &l_kind,
        &l_name,
        &l_unit,
        &l_qty,
        &l_price,
        &l_net,
        &l_rate,
        &l_tariff as &[Option<i64>]
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
           SELECT $1, u.customer_id, 0, 'invoice', u.amount, 0, u.invoice_id, u.description
           FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[]) WITH ORDINALITY
                AS u(customer_id, invoice_id, amount, description, n)
           ORDER BY u.n"#,
        ctx.utility_id,
        &g_customer,
        &g_invoice,
        &g_amount,
        &g_text
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"INSERT INTO outbox (utility_id, kind, payload, recipient_customer_id, dedup_key)
           SELECT $1, 'invoice.issued', u.payload, u.customer_id, u.key
           FROM unnest($2::jsonb[], $3::bigint[], $4::text[]) AS u(payload, customer_id, key)"#,
        ctx.utility_id,
        &o_payload,
        &o_customer,
        &o_key
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
