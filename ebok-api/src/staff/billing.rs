//! Billing as staff work with it: the tariffs of each tariff group (a new tariff supersedes the
//! one in force from a later day; one in force is never edited, only a future one withdrawn),
//! monthly billing runs started from the back office and followed while they run, the print
//! batch of a run's paper invoices, and a customer's invoices and ledger on their card. The
//! billing itself is `ebok_billing`'s; this module checks what staff typed, scopes everything by
//! their utility and writes the audit log.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use ebok_billing::correction::{self, CorrectionError};
use ebok_billing::document::InvoiceDocument;
use ebok_billing::manual::{self, ManualError, ManualLine};
use ebok_billing::run::{self, RunRefused, RunRequest};
use ebok_billing::statement::{self, Balance, InvoiceSummary, LedgerEntry, Scope};
use ebok_common::domain::Money;
use ebok_common::domain::time::local_day;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::staff::ByStaff;

/// A tariff as the list shows it, with the last day it is (or was) in force.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TariffView {
    pub id: i64,
    pub valid_from: NaiveDate,
    /// The day before the group's next tariff starts; `None` while none follows.
    pub valid_until: Option<NaiveDate>,
    /// `future`, `in_force` or `past`.
    pub state: &'static str,
    #[schema(value_type = i64)]
    pub water_price_grosze: Money,
    #[schema(value_type = i64)]
    pub sewage_price_grosze: Money,
    #[schema(value_type = i64)]
    pub subscription_grosze: Money,
    #[schema(value_type = i64)]
    pub garden_subscription_grosze: Money,
    pub vat_rate: i16,
    pub basis: Option<String>,
}

/// A tariff group with its tariffs, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TariffGroupView {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// Contracts of the group in force today.
    pub contracts: i64,
    pub tariffs: Vec<TariffView>,
}

/// The utility's tariff groups and their tariffs.
pub async fn tariff_groups(
    pool: &PgPool,
    utility_id: i64,
) -> Result<Vec<TariffGroupView>, ApiError> {
    let today = local_day(Utc::now());
    let groups = sqlx::query!(
        r#"SELECT g.id, g.code, g.name,
                  (SELECT count(*) FROM contracts c
                   WHERE c.tariff_group_id = g.id AND c.status = 'active' AND c.valid_from <= $2
                     AND (c.valid_until IS NULL OR c.valid_until >= $2)) AS "contracts!"
           FROM tariff_groups g WHERE g.utility_id = $1 ORDER BY g.code"#,
        utility_id,
        today
    )
    .fetch_all(pool)
    .await?;
    let tariffs = sqlx::query!(
        r#"SELECT id, tariff_group_id, valid_from,
                  lead(valid_from) OVER (PARTITION BY tariff_group_id ORDER BY valid_from) - 1 AS valid_until,
                  water_price_grosze, sewage_price_grosze, subscription_grosze,
                  garden_subscription_grosze, vat_rate, basis
           FROM tariffs WHERE utility_id = $1
           ORDER BY tariff_group_id, valid_from DESC"#,
        utility_id
    )
    .fetch_all(pool)
    .await?;
    Ok(groups
        .into_iter()
        .map(|g| TariffGroupView {
            tariffs: tariffs
                .iter()
                .filter(|t| t.tariff_group_id == g.id)
                .map(|t| TariffView {
                    id: t.id,
                    valid_from: t.valid_from,
                    valid_until: t.valid_until,
                    state: if t.valid_from > today {
                        "future"
                    } else if t.valid_until.is_some_and(|u| u < today) {
                        "past"
                    } else {
                        "in_force"
                    },
                    water_price_grosze: Money::from_grosze(t.water_price_grosze.into()),
                    sewage_price_grosze: Money::from_grosze(t.sewage_price_grosze.into()),
                    subscription_grosze: Money::from_grosze(t.subscription_grosze.into()),
                    garden_subscription_grosze: Money::from_grosze(
                        t.garden_subscription_grosze.into(),
                    ),
                    vat_rate: t.vat_rate,
                    basis: t.basis.clone(),
                })
                .collect(),
            id: g.id,
            code: g.code,
            name: g.name,
            contracts: g.contracts,
        })
        .collect())
}

/// A new tariff as staff type it: amounts as people write them ("5,12"), the first day as
/// `YYYY-MM-DD`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct NewTariff {
    pub tariff_group_id: i64,
    /// First day in force (Europe/Warsaw), tomorrow at the earliest.
    pub valid_from: String,
    /// Net price of a m³ of water, e.g. "5,12".
    pub water_price: String,
    /// Net price of a m³ of sewage.
    pub sewage_price: String,
    /// Net subscription fee per supply point and month.
    pub subscription: String,
    /// Net subscription fee per garden sub-meter and month.
    pub garden_subscription: String,
    /// VAT in percent, e.g. "8".
    pub vat_rate: String,
    /// The resolution or decision that approved it.
    pub basis: String,
}

fn amount(field: &str, text: &str) -> Result<i32, ApiError> {
    let money = Money::parse(text)
        .map_err(|_| ApiError::invalid(field, "Podaj kwotę w złotych, np. 5,12."))?;
    if money.is_negative() {
        return Err(ApiError::invalid(field, "Kwota nie może być ujemna."));
    }
    i32::try_from(money.grosze()).map_err(|_| ApiError::invalid(field, "Kwota jest za duża."))
}

/// Adds a tariff to a group from a day after today: from that day it supersedes the one in
/// force. Audited.
pub async fn add_tariff(pool: &PgPool, by: ByStaff, input: &NewTariff) -> Result<i64, ApiError> {
    let today = local_day(Utc::now());
    let valid_from = NaiveDate::parse_from_str(input.valid_from.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::invalid("valid_from", "Podaj datę, od której taryfa obowiązuje."))?;
    if valid_from <= today {
        return Err(ApiError::invalid(
            "valid_from",
            "Taryfa może obowiązywać najwcześniej od jutra: taryfy w mocy się nie zmienia, zastępuje się ją nową.",
        ));
    }
    let water = amount("water_price", &input.water_price)?;
    let sewage = amount("sewage_price", &input.sewage_price)?;
    let subscription = amount("subscription", &input.subscription)?;
    let garden = amount("garden_subscription", &input.garden_subscription)?;
    let vat: i16 = input
        .vat_rate
        .trim()
        .trim_end_matches('%')
        .trim()
        .parse()
        .ok()
        .filter(|v| [0, 5, 8, 23].contains(v))
        .ok_or_else(|| {
            ApiError::invalid(
                "vat_rate",
                "Stawka VAT: 0, 5, 8 albo 23 (dla wody i ścieków 8).",
            )
        })?;
    let basis = Some(input.basis.trim()).filter(|b| !b.is_empty());
    if basis.is_some_and(|b| b.chars().count() > 300) {
        return Err(ApiError::invalid(
            "basis",
            "Podstawa może mieć najwyżej 300 znaków.",
        ));
    }
    let mut tx = pool.begin().await?;
    let group = sqlx::query_scalar!(
        "SELECT code FROM tariff_groups WHERE id = $1 AND utility_id = $2",
        input.tariff_group_id,
        by.utility_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::invalid("tariff_group_id", "Wybierz grupę taryfową."))?;
    let id = sqlx::query_scalar!(
        r#"INSERT INTO tariffs (utility_id, tariff_group_id, valid_from, water_price_grosze,
                                sewage_price_grosze, subscription_grosze, garden_subscription_grosze,
                                vat_rate, basis, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (tariff_group_id, valid_from) DO NOTHING
           RETURNING id"#,
        by.utility_id,
        input.tariff_group_id,
        valid_from,
        water,
        sewage,
        subscription,
        garden,
        vat,
        basis,
        by.account_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        ApiError::invalid(
            "valid_from",
            "Od tego dnia ta grupa ma już taryfę; wycofaj ją, zanim dodasz inną.",
        )
    })?;
    by.audit(
        &mut tx,
        "tariff.added",
        "tariff",
        id,
        json!({"group": group, "valid_from": valid_from, "water_price_grosze": water,
               "sewage_price_grosze": sewage, "subscription_grosze": subscription,
               "garden_subscription_grosze": garden, "vat_rate": vat}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Withdraws a tariff not yet in force. One in force (or past) is refused: the database's
/// `tariffs_frozen` trigger guards it too.
pub async fn withdraw_tariff(pool: &PgPool, by: ByStaff, tariff_id: i64) -> Result<(), ApiError> {
    let today = local_day(Utc::now());
    let mut tx = pool.begin().await?;
    let valid_from = sqlx::query_scalar!(
        "SELECT valid_from FROM tariffs WHERE id = $1 AND utility_id = $2 FOR UPDATE",
        tariff_id,
        by.utility_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    if valid_from <= today {
        return Err(ApiError::Conflict {
            field: None,
            detail: "Ta taryfa już obowiązuje: nie można jej wycofać ani zmienić, można ją zastąpić nową.".into(),
        });
    }
    sqlx::query!("DELETE FROM tariffs WHERE id = $1", tariff_id)
        .execute(&mut *tx)
        .await?;
    by.audit(
        &mut tx,
        "tariff.withdrawn",
        "tariff",
        tariff_id,
        json!({"valid_from": valid_from}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A billing run as staff follow it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunView {
    pub id: i64,
    /// First day of the billed month.
    pub period: NaiveDate,
    /// `running`, `finished`, `failed`, or `stalled` (running, but no progress for 5 minutes:
    /// its process ended; running the month again bills the rest).
    pub state: String,
    pub contracts_total: i32,
    pub contracts_done: i32,
    pub invoices_issued: i32,
    pub already_billed: i32,
    pub estimated: i32,
    /// Invoices of the run that go on paper (customers without the e-invoice consent).
    pub paper: i64,
    /// Contracts left out, and why.
    pub problems: serde_json::Value,
    pub error: Option<String>,
    pub started_by: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl RunView {
    /// Percent of contracts done.
    pub fn percent(&self) -> i32 {
        if self.contracts_total == 0 {
            100
        } else {
            self.contracts_done * 100 / self.contracts_total
        }
    }

    /// Contracts left out.
    pub fn problem_list(&self) -> Vec<(String, String)> {
        self.problems
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                (
                    p["contract"].as_str().unwrap_or_default().to_string(),
                    p["reason"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }
}

/// The utility's billing runs, newest first (`run_id`: only that one).
pub async fn runs(
    pool: &PgPool,
    utility_id: i64,
    run_id: Option<i64>,
) -> Result<Vec<RunView>, ApiError> {
    Ok(sqlx::query_as!(
        RunView,
        r#"SELECT r.id, r.period,
                  CASE WHEN r.state = 'running' AND r.updated_at < now() - interval '5 minutes'
                       THEN 'stalled' ELSE r.state::text END AS "state!",
                  r.contracts_total, r.contracts_done, r.invoices_issued, r.already_billed,
                  r.estimated,
                  (SELECT count(*) FROM invoices i WHERE i.billing_run_id = r.id
                     AND i.delivery = 'paper') AS "paper!",
                  r.problems, r.error, a.display_name AS "started_by?", r.started_at, r.finished_at
           FROM billing_runs r
           LEFT JOIN user_accounts a ON a.id = r.started_by
           WHERE r.utility_id = $1 AND ($2::bigint IS NULL OR r.id = $2)
           ORDER BY r.started_at DESC
           LIMIT 100"#,
        utility_id,
        run_id
    )
    .fetch_all(pool)
    .await?)
}

/// Starts the billing of a month ("2026-11") issued on `issue_date` (default today), in the
/// background: returns the run's id at once; its progress is in [`runs`]. Audited.
pub async fn start_run(
    pool: &PgPool,
    by: ByStaff,
    period: &str,
    issue_date: Option<&str>,
) -> Result<i64, ApiError> {
    let month = NaiveDate::parse_from_str(&format!("{}-01", period.trim()), "%Y-%m-%d")
        .map_err(|_| ApiError::invalid("period", "Podaj miesiąc, np. 2026-11."))?;
    let today = local_day(Utc::now());
    let issue_date = match issue_date.map(str::trim).filter(|d| !d.is_empty()) {
        None => today,
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .filter(|d| *d <= today && *d >= today - chrono::Days::new(7))
            .ok_or_else(|| {
                ApiError::invalid("issue_date", "Data wystawienia: dziś albo do 7 dni wstecz.")
            })?,
    };
    if month.year() < 2000 {
        return Err(ApiError::invalid("period", "Podaj miesiąc, np. 2026-11."));
    }
    let request = RunRequest {
        utility_id: by.utility_id,
        month,
        issue_date,
        started_by: Some(by.account_id),
        batch: 500,
    };
    let started =
        run::start(pool, &request)
            .await
            .map_err(|e| match e.downcast::<RunRefused>() {
                Ok(RunRefused::MonthNotOver { month, from }) => ApiError::invalid(
                    "period",
                    format!("Miesiąc {month} jeszcze trwa: można go rozliczyć od {from}."),
                ),
                Ok(refused @ RunRefused::Seller(_)) => ApiError::Conflict {
                    field: None,
                    detail: refused.to_string(),
                },
                Err(other) => ApiError::Internal(other),
            })?;
    let run_id = started.run_id;
    let mut conn = pool.acquire().await?;
    by.audit(
        &mut conn,
        "billing.run_started",
        "billing_run",
        run_id,
        json!({"period": month.format("%Y-%m").to_string(), "issue_date": issue_date,
               "contracts": started.contracts_total}),
    )
    .await?;
    drop(conn);
    let pool = pool.clone();
    tokio::spawn(async move {
        match run::execute(&pool, started, |_| {}).await {
            Ok(outcome) => tracing::info!(
                run_id,
                issued = outcome.invoices_issued,
                left_out = outcome.problems.len(),
                "billing run finished"
            ),
            Err(error) => {
                tracing::error!(run_id, error = format!("{error:#}"), "billing run failed")
            }
        }
    });
    Ok(run_id)
}

/// The run's paper invoices in one PDF for the mailing house, by postal code and address;
/// `None` when the run is not the utility's.
pub async fn print_batch(
    pool: &PgPool,
    utility_id: i64,
    run_id: i64,
) -> Result<Option<Vec<u8>>, ApiError> {
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM billing_runs WHERE id = $1 AND utility_id = $2) AS "exists!""#,
        run_id,
        utility_id
    )
    .fetch_one(pool)
    .await?;
    if !exists {
        return Ok(None);
    }
    let rows = sqlx::query!(
        r#"SELECT i.document, i.ksef_xml, k.ksef_number AS "ksef_number?",
                  u.ksef_environment::text AS "environment!"
           FROM invoices i JOIN customers c ON c.id = i.customer_id
           JOIN utilities u ON u.id = i.utility_id
           LEFT JOIN ksef_invoices k ON k.invoice_id = i.id
           WHERE i.billing_run_id = $1 AND i.utility_id = $2 AND i.delivery = 'paper'
           ORDER BY c.postal_code, c.city, c.street, c.building_no, i.number"#,
        run_id,
        utility_id
    )
    .fetch_all(pool)
    .await?;
    let rendered = tokio::task::spawn_blocking(move || {
        let mut docs = Vec::with_capacity(rows.len());
        for r in rows {
            let mut doc: ebok_billing::document::InvoiceDocument =
                serde_json::from_value(r.document)?;
            doc.ksef_number = r.ksef_number.or(doc.ksef_number);
            let nip = doc.seller.nip.clone().unwrap_or_default();
            let url = ebok_billing::ksef::verification_url(
                ebok_billing::documents::qr_base(&r.environment),
                &nip,
                doc.issue_date,
                r.ksef_xml.as_bytes(),
            );
            docs.push((doc, url));
        }
        anyhow::Ok(ebok_billing::pdf::print_batch(&docs))
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
    .map_err(ApiError::Internal)?;
    Ok(Some(rendered))
}

/// A customer's billing on their card: balance, invoices, ledger.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerBilling {
    pub balance: Option<Balance>,
    pub invoices: Vec<InvoiceSummary>,
    pub ledger: Vec<LedgerEntry>,
}

/// The customer's billing, if the customer is the utility's.
pub async fn customer_billing(
    pool: &PgPool,
    utility_id: i64,
    customer_id: i64,
) -> Result<CustomerBilling, ApiError> {
    let scope = Scope::Customer {
        utility_id,
        customer_id,
    };
    Ok(CustomerBilling {
        balance: statement::balances(pool, scope).await?.into_iter().next(),
        invoices: statement::invoices(pool, scope, 60).await?,
        ledger: statement::ledger(pool, scope, 60).await?,
    })
}

/// The scope staff read an invoice in: any customer of their utility.
pub async fn invoice_scope(
    pool: &PgPool,
    utility_id: i64,
    invoice_id: i64,
) -> Result<Scope, ApiError> {
    let customer_id = sqlx::query_scalar!(
        "SELECT customer_id FROM invoices WHERE id = $1 AND utility_id = $2",
        invoice_id,
        utility_id
    )
    .fetch_optional(pool)
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok(Scope::Customer {
        utility_id,
        customer_id,
    })
}

impl From<CorrectionError> for ApiError {
    fn from(error: CorrectionError) -> Self {
        match error {
            CorrectionError::NotFound => ApiError::NotFound,
            CorrectionError::Invalid { field, message } => ApiError::invalid(field, message),
            CorrectionError::Db(e) => e.into(),
            CorrectionError::Other(e) => ApiError::Internal(e),
        }
    }
}

impl From<ManualError> for ApiError {
    fn from(error: ManualError) -> Self {
        match error {
            ManualError::NotFound => ApiError::NotFound,
            ManualError::Invalid { field, message } => ApiError::invalid(field, message),
            ManualError::Db(e) => e.into(),
            ManualError::Other(e) => ApiError::Internal(e),
        }
    }
}

/// An invoice to correct, as its page shows it: the customer, the contract and its tariff group.
#[derive(Debug, Clone)]
pub struct CorrectionTarget {
    pub invoice_id: i64,
    pub number: String,
    pub customer_id: i64,
    pub customer_name: String,
    pub contract_id: i64,
    pub contract_number: String,
    pub tariff_group: String,
}

/// The invoice `invoice_id` of the utility with its contract, if it has one.
pub async fn correction_target(
    pool: &PgPool,
    utility_id: i64,
    invoice_id: i64,
) -> Result<CorrectionTarget, ApiError> {
    let r = sqlx::query!(
        r#"SELECT i.id, i.number, i.customer_id, cu.name, c.id AS contract_id, c.number AS contract_number,
                  g.code AS tariff_group
           FROM invoices i
           JOIN customers cu ON cu.id = i.customer_id
           JOIN contracts c ON c.id = i.contract_id
           JOIN tariff_groups g ON g.id = c.tariff_group_id
           WHERE i.id = $1 AND i.utility_id = $2"#,
        invoice_id,
        utility_id
    )
    .fetch_optional(pool)
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok(CorrectionTarget {
        invoice_id: r.id,
        number: r.number,
        customer_id: r.customer_id,
        customer_name: r.name,
        contract_id: r.contract_id,
        contract_number: r.contract_number,
        tariff_group: r.tariff_group,
    })
}

/// Moves a contract to another tariff group (when it was billed in the wrong one; a correction
/// then prices its latest invoice again). Audited.
pub async fn change_tariff_group(
    pool: &PgPool,
    by: ByStaff,
    contract_id: i64,
    group_code: &str,
) -> Result<(), ApiError> {
    let mut tx = pool.begin().await?;
    let group = sqlx::query_scalar!(
        "SELECT id FROM tariff_groups WHERE utility_id = $1 AND code = $2",
        by.utility_id,
        group_code
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::invalid("tariff_group", "Wybierz grupę taryfową."))?;
    let before = sqlx::query_scalar!(
        r#"UPDATE contracts c SET tariff_group_id = $3
           FROM contracts old JOIN tariff_groups g ON g.id = old.tariff_group_id
           WHERE c.id = $1 AND c.utility_id = $2 AND old.id = c.id
           RETURNING g.code"#,
        contract_id,
        by.utility_id,
        group
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    by.audit(
        &mut tx,
        "contract.tariff_group_changed",
        "contract",
        contract_id,
        json!({"from": before, "to": group_code}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What a correction of invoice `invoice_id` would be.
pub async fn preview_correction(
    pool: &PgPool,
    utility_id: i64,
    invoice_id: i64,
    reason: &str,
) -> Result<InvoiceDocument, ApiError> {
    Ok(correction::preview(pool, utility_id, invoice_id, reason)
        .await?
        .document)
}

/// Issues the correction of invoice `invoice_id`. Audited.
pub async fn correct(
    pool: &PgPool,
    by: ByStaff,
    invoice_id: i64,
    reason: &str,
) -> Result<i64, ApiError> {
    let id = correction::issue(pool, by.utility_id, invoice_id, reason).await?;
    let mut conn = pool.acquire().await?;
    by.audit(
        &mut conn,
        "invoice.corrected",
        "invoice",
        invoice_id,
        json!({"correction_id": id, "reason": reason.trim()}),
    )
    .await?;
    Ok(id)
}

/// A line of a manual invoice as staff type it (amounts as people write them).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct ManualLineInput {
    pub name: String,
    pub unit: String,
    /// "1", "2,5".
    pub quantity: String,
    /// Net, "150,00".
    pub unit_price: String,
    /// "23", "8".
    pub vat_rate: String,
}

/// Issues an invoice for services to customer `customer_id`; blank lines are skipped. Audited.
pub async fn manual_invoice(
    pool: &PgPool,
    by: ByStaff,
    customer_id: i64,
    sale_date: &str,
    lines: &[ManualLineInput],
) -> Result<i64, ApiError> {
    let sale_date = NaiveDate::parse_from_str(sale_date.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::invalid("sale_date", "Podaj datę wykonania usługi."))?;
    let mut parsed = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if [&l.name, &l.quantity, &l.unit_price]
            .iter()
            .all(|f| f.trim().is_empty())
        {
            continue;
        }
        let at = |field: &str| format!("lines[{i}].{field}");
        let quantity_milli = ebok_common::polish::parse_m3(&l.quantity)
            .ok_or_else(|| ApiError::invalid(at("quantity"), "Podaj ilość, np. 1 albo 2,5."))?;
        let unit_price = Money::parse(&l.unit_price).map_err(|_| {
            ApiError::invalid(at("unit_price"), "Podaj cenę netto w złotych, np. 150,00.")
        })?;
        let vat_rate = l
            .vat_rate
            .trim()
            .trim_end_matches('%')
            .parse::<u8>()
            .map_err(|_| ApiError::invalid(at("vat_rate"), "Stawka VAT: 0, 5, 8 albo 23%."))?;
        parsed.push(ManualLine {
            name: l.name.clone(),
            unit: l.unit.clone(),
            quantity_milli,
            unit_price,
            vat_rate,
        });
    }
    let id = manual::issue(pool, by.utility_id, customer_id, sale_date, &parsed).await?;
    let mut conn = pool.acquire().await?;
    by.audit(
        &mut conn,
        "invoice.issued_manually",
        "invoice",
        id,
        json!({"customer_id": customer_id}),
    )
    .await?;
    Ok(id)
}
