//! `ebok billing run|export`: a utility's monthly billing run from the command line (the logic
//! is `ebok_billing::run`), and one issued invoice's document written to a file, to check
//! documents with tools from outside (`xmllint`, a PDF viewer).

use std::io::Write;

use anyhow::{Context, Result, bail};
use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};
use ebok_billing::run::{self, RunRequest};
use ebok_common::Config;
use ebok_common::domain::time::local_day;
use ebok_payments::dunning::interest::RateKind;
use ebok_payments::dunning::rates;

#[derive(Debug, Subcommand)]
pub enum BillingCommand {
    /// Bill a month: an invoice for every contract in force in it that has unbilled days, with
    /// progress on stderr. Idempotent: a second run issues only what the first did not.
    Run(RunArgs),
    /// Write one issued invoice's document to a file.
    Export(ExportArgs),
    /// List the statutory interest rates interest notes are computed from.
    InterestRates,
    /// Add a statutory interest rate in force from a day (the same for every utility here;
    /// rates are never changed, so notes computed earlier stay the same).
    AddInterestRate(AddRateArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RateKindArg {
    /// Art. 481 § 2 KC: NBP reference rate + 5.5 pp (people, housing communities).
    Consumer,
    /// Commercial transactions: reference rate of 1 January / 1 July + 10 pp (businesses).
    Commercial,
}

#[derive(Debug, Args)]
pub struct AddRateArgs {
    #[arg(long, value_enum)]
    kind: RateKindArg,
    /// The first day it applies, YYYY-MM-DD.
    #[arg(long)]
    from: NaiveDate,
    /// Percent a year, e.g. 9,25.
    #[arg(long)]
    rate: String,
    /// Where it comes from, e.g. "obwieszczenie MS, M.P. 2026 poz. 123".
    #[arg(long)]
    source: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The utility (slug).
    #[arg(long)]
    utility: String,
    /// The month, YYYY-MM.
    #[arg(long)]
    period: String,
    /// Date of issue, YYYY-MM-DD (default: today in Warsaw).
    #[arg(long)]
    issue_date: Option<NaiveDate>,
    /// Contracts per transaction.
    #[arg(long, default_value_t = 500)]
    batch: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// The PDF for people.
    Pdf,
    /// The FA(3) XML for KSeF.
    Ksef,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The utility (slug).
    #[arg(long)]
    utility: String,
    /// The invoice's number, e.g. FV/2026/12/000123.
    #[arg(long)]
    invoice: String,
    #[arg(long, value_enum)]
    format: Format,
    /// Where to write it ("-" for stdout).
    #[arg(long)]
    out: String,
}

/// "2026-11" → 1 November 2026.
pub fn parse_period(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{}-01", text.trim()), "%Y-%m-%d")
        .with_context(|| format!("--period {text:?}: expected YYYY-MM, e.g. 2026-11"))
}

pub async fn run(config: Config, command: BillingCommand) -> Result<()> {
    let config = crate::run::attach_local_stack(config)?;
    let pool = ebok_common::db::connect(&config.database, "ebok-billing").await?;
    let utility_of = |slug: String| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT id FROM utilities WHERE slug = $1")
                .bind(&slug)
                .fetch_optional(&pool)
                .await?
                .with_context(|| format!("no utility {slug:?}"))
        }
    };
    match command {
        BillingCommand::InterestRates => {
            let mut conn = pool.acquire().await?;
            for r in rates::all(&mut conn).await? {
                println!(
                    "{:<10} from {}  {}  {}",
                    r.kind,
                    r.valid_from,
                    ebok_common::polish::percent_bp(r.basis_points.max(0) as u32),
                    r.source
                );
            }
        }
        BillingCommand::AddInterestRate(args) => {
            let basis_points = rates::parse_percent(&args.rate)
                .with_context(|| format!("--rate {:?}: a percent like 9,25", args.rate))?;
            let kind = match args.kind {
                RateKindArg::Consumer => RateKind::Consumer,
                RateKindArg::Commercial => RateKind::Commercial,
            };
            let mut tx = pool.begin().await?;
            rates::add(&mut tx, kind, args.from, basis_points, &args.source).await?;
            tx.commit().await?;
            println!("{} rate from {} added", kind.as_str(), args.from);
        }
        BillingCommand::Run(args) => {
            let utility_id = utility_of(args.utility.clone()).await?;
            let month = parse_period(&args.period)?;
            let today = local_day(Utc::now());
            if let Some(date) = args.issue_date
                && (date > today || date < today - chrono::Days::new(7))
            {
                bail!("--issue-date {date}: today or up to 7 days back");
            }
            let request = RunRequest {
                utility_id,
                month,
                issue_date: args.issue_date.unwrap_or_else(|| local_day(Utc::now())),
                started_by: None,
                batch: args.batch,
            };
            let started = std::time::Instant::now();
            let outcome = run::run(&pool, &request, |p| {
                eprint!(
                    "\rbilling {}: {}/{} contracts, {} invoices",
                    args.period, p.done, p.total, p.issued
                );
                let _ = std::io::stderr().flush();
            })
            .await?;
            eprintln!();
            println!(
                "billing run {} of {} for {}: {} contracts, {} invoices issued, {} already billed, {} with estimates, {} left out, in {:.1} s",
                outcome.run_id,
                args.period,
                args.utility,
                outcome.contracts_total,
                outcome.invoices_issued,
                outcome.already_billed,
                outcome.estimated,
                outcome.problems.len(),
                started.elapsed().as_secs_f64()
            );
            for p in &outcome.problems {
                println!("  left out: contract {}: {}", p.contract_number, p.reason);
            }
        }
        BillingCommand::Export(args) => {
            let utility_id = utility_of(args.utility.clone()).await?;
            let bytes = match args.format {
                Format::Ksef => {
                    ebok_billing::documents::xml(&pool, utility_id, &args.invoice).await?
                }
                Format::Pdf => {
                    ebok_billing::documents::pdf(&pool, utility_id, &args.invoice).await?
                }
            };
            let Some(bytes) = bytes else {
                bail!("no invoice {} in {}", args.invoice, args.utility);
            };
            if args.out == "-" {
                std::io::stdout().write_all(&bytes)?;
            } else {
                std::fs::write(&args.out, &bytes)
                    .with_context(|| format!("writing {}", args.out))?;
                eprintln!("{} written ({} bytes)", args.out, bytes.len());
            }
        }
    }
    Ok(())
}
