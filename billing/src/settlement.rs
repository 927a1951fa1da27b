//! A settlement up to a chosen day, on the resident's request (seed 004: "a settlement up to
//! today on request"): an invoice for a contract's days from the first one not yet billed to the
//! chosen day, priced like a monthly run's, first as a preview, then issued. The month's run
//! later bills only the days after it (the `one_bill_per_day` constraint holds either way).
//!
//! A settlement is of real consumption: when a meter has no register at the end of the chosen
//! day (it has not reported since), the resident is asked for an earlier day instead of being
//! billed an estimate.

use std::collections::HashMap;

use chrono::{Datelike, Days, NaiveDate, Utc};
use ebok_common::domain::time::local_day;
use serde::Serialize;
use sqlx::{PgExecutor, PgPool};

use crate::document::InvoiceDocument;
use crate::issuing;
use crate::pricing::{self, Ctx, Prepared, Seller};
use crate::run::RunRefused;
use crate::tariff::Tariff;

/// Why a settlement cannot be made; Polish messages for the resident.
#[derive(Debug, thiserror::Error)]
pub enum SettlementError {
    /// No such contract of the customer(s) in scope.
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

fn invalid(field: &'static str, message: impl Into<String>) -> SettlementError {
    SettlementError::Invalid {
        field,
        message: message.into(),
    }
}

/// A contract that can be settled, for the form.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Settleable {
    pub contract_id: i64,
    pub contract_number: String,
    pub supply_point: String,
    /// The first day not billed yet.
    pub from: NaiveDate,
    /// The last day that can be chosen: yesterday (a day's register is known once it is over),
    /// or the contract's last day.
    pub latest: NaiveDate,
}

/// The contracts in force of the customers linked to an account, with the days a settlement
/// would cover.
pub async fn settleable(
    db: impl PgExecutor<'_>,
    utility_id: i64,
    account_id: i64,
) -> sqlx::Result<Vec<Settleable>> {
    let yesterday = local_day(Utc::now()) - Days::new(1);
    let rows = sqlx::query!(
        r#"SELECT c.id, c.number, c.valid_from, c.valid_until,
                  ebok_address(sp.street, sp.building_no, sp.apartment_no, sp.postal_code, sp.city,
                               sp.post_town) AS "address!",
                  (SELECT max(i.period_to) FROM invoices i
                   WHERE i.contract_id = c.id AND i.kind IN ('periodic', 'settlement')) AS billed_through
           FROM contracts c
           JOIN supply_points sp ON sp.id = c.supply_point_id
           WHERE c.utility_id = $1 AND c.status = 'active'
             AND c.customer_id IN (SELECT customer_id FROM account_customers
                                   WHERE account_id = $2 AND utility_id = $1)
           ORDER BY c.number"#,
        utility_id,
        account_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let from = r
                .billed_through
                .map_or(r.valid_from, |d| d + Days::new(1))
                .max(r.valid_from);
            let latest = r.valid_until.map_or(yesterday, |u| u.min(yesterday));
            (from <= latest).then_some(Settleable {
                contract_id: r.id,
                contract_number: r.number,
                supply_point: r.address,
                from,
                latest,
            })
        })
        .collect())
}

/// Whether contract `contract_id` is in force and of a customer linked to the account (a
/// settlement is asked for only by them).
pub async fn is_accounts(
    db: impl PgExecutor<'_>,
    utility_id: i64,
    account_id: i64,
    contract_id: i64,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM contracts c
                          JOIN account_customers ac ON ac.customer_id = c.customer_id
                          WHERE c.id = $3 AND c.utility_id = $1 AND ac.account_id = $2
                            AND ac.utility_id = $1 AND c.status = 'active') AS "exists!""#,
        utility_id,
        account_id,
        contract_id
    )
    .fetch_one(db)
    .await
}

/// A settlement as it would be issued.
#[derive(Debug, Clone)]
pub struct Preview {
    pub contract_id: i64,
    pub from: NaiveDate,
    pub through: NaiveDate,
    /// The invoice without its number yet.
    pub document: InvoiceDocument,
}

/// What a settlement is priced with.
struct Setup {
    utility_id: i64,
    seller: Seller,
    tariffs: HashMap<i64, Vec<Tariff>>,
    through: NaiveDate,
    today: NaiveDate,
}

impl Setup {
    async fn new(
        pool: &PgPool,
        utility_id: i64,
        through: NaiveDate,
    ) -> Result<Setup, SettlementError> {
        let today = local_day(Utc::now());
        if through >= today {
            return Err(invalid(
                "through",
                "Rozliczyć można dni już zakończone: wybierz najpóźniej wczorajszy dzień.",
            ));
        }
        let mut conn = pool.acquire().await?;
        let seller = pricing::seller(&mut conn, utility_id)
            .await
            .map_err(|e| match e.downcast::<RunRefused>() {
                Ok(refused) => invalid(
                    "through",
                    format!("Rozliczenie jest chwilowo niedostępne. {refused}"),
                ),
                Err(other) => SettlementError::Other(other),
            })?;
        let tariffs = pricing::tariffs(&mut conn, utility_id).await?;
        Ok(Setup {
            utility_id,
            seller,
            tariffs,
            through,
            today,
        })
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            utility_id: self.utility_id,
            seller: &self.seller,
            tariffs: &self.tariffs,
            // The contract's days from the first unbilled one, however long ago.
            first: NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date"),
            last: self.through,
            issue_date: self.today,
            run_id: None,
            kind: "settlement",
        }
    }
}

/// The contract priced from its first unbilled day through the chosen one, checked: something
/// to bill, nothing estimated.
async fn priced(
    pool: &PgPool,
    ctx: &Ctx<'_>,
    contract_id: i64,
) -> Result<Prepared, SettlementError> {
    let prepared = pricing::prepare(&mut *pool.acquire().await?, ctx, &[contract_id]).await?;
    if let Some(problem) = prepared.problems.first() {
        return Err(invalid(
            "through",
            format!("Tej umowy nie da się teraz rozliczyć: {}.", problem.reason),
        ));
    }
    let Some((contract, billed)) = prepared.priced.first() else {
        return Err(invalid(
            "through",
            "Dni do wybranego włącznie są już rozliczone: wybierz późniejszy dzień.",
        ));
    };
    // A contract never billed (since before its last months) is settled by the monthly runs
    // first, not in one invoice over years.
    let floor = ctx.issue_date.with_day(1).expect("day 1") - chrono::Months::new(1);
    if contract.from_day < floor {
        return Err(invalid(
            "through",
            "Ta umowa ma wcześniejsze nierozliczone miesiące: rozliczy je faktura miesięczna, \
             a w razie pytań biuro obsługi klienta.",
        ));
    }
    if billed.estimated {
        return Err(invalid(
            "through",
            "Licznik nie przekazał jeszcze odczytu z końca tego dnia: wybierz wcześniejszy dzień, \
             a rozliczymy zużycie rzeczywiste.",
        ));
    }
    Ok(prepared)
}

/// The settlement of a contract's unbilled days through `through`, not issued. The caller has
/// checked the contract is the resident's.
pub async fn preview(
    pool: &PgPool,
    utility_id: i64,
    contract_id: i64,
    through: NaiveDate,
) -> Result<Preview, SettlementError> {
    let setup = Setup::new(pool, utility_id, through).await?;
    let ctx = setup.ctx();
    let prepared = priced(pool, &ctx, contract_id).await?;
    let (contract, billed) = prepared
        .priced
        .into_iter()
        .next()
        .expect("checked by priced");
    let balance = issuing::balances(&mut *pool.acquire().await?, &[contract.customer_id])
        .await?
        .get(&contract.customer_id)
        .copied()
        .unwrap_or_default();
    let document = pricing::document(
        &ctx,
        &contract,
        &billed,
        "(podgląd)".into(),
        balance,
        Utc::now(),
    );
    Ok(Preview {
        contract_id,
        from: contract.from_day,
        through,
        document,
    })
}

/// Issues the settlement of a contract's unbilled days through `through`; its invoice's id.
/// The caller has checked the contract is the resident's.
pub async fn issue(
    pool: &PgPool,
    utility_id: i64,
    contract_id: i64,
    through: NaiveDate,
) -> Result<i64, SettlementError> {
    let setup = Setup::new(pool, utility_id, through).await?;
    let ctx = setup.ctx();
    let prepared = priced(pool, &ctx, contract_id).await?;
    let outcome = issuing::issue(pool, &ctx, prepared).await?;
    outcome.invoice_ids.first().copied().ok_or_else(|| {
        // Billed meanwhile (by a run, or from another tab): nothing left through that day.
        invalid(
            "through",
            "Dni do wybranego włącznie zostały właśnie rozliczone: zobacz swoje faktury.",
        )
    })
}
