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

use chrono::{Datelike, Days, Months, NaiveDate};
use serde_json::json;
use sqlx::PgPool;

use crate::issuing::issue;
use crate::pricing::{self, Ctx, Seller, prepare};
use crate::tariff::Tariff;
use std::collections::HashMap;

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
    let seller = pricing::seller(&mut conn, req.utility_id).await?;
    let tariffs = pricing::tariffs(&mut conn, req.utility_id).await?;
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
           WHERE utility_id = $1 AND status <> 'draft' AND valid_from <= $3
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
        kind: "periodic",
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
