//! The demo utilities' billing: tariffs for every tariff group (the 2025 one and a change in the
//! middle of October 2026, so an invoice shows a period priced by two tariffs), and every month
//! whose readings the demo holds billed as the utility would have billed it, issued on the 2nd
//! of the next month. Runs at every start: months already billed are skipped, a month that has
//! ended since the last run is billed.

use anyhow::Result;
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use ebok_billing::run::{self, RunRequest};
use ebok_common::domain::time::local_day;
use sqlx::PgPool;

/// (valid from, water, sewage, subscription, garden subscription) in grosze, net.
const TARIFFS: [(u32, u32, u32, i32, i32, i32, i32); 2] = [
    (2025, 1, 1, 512, 789, 950, 300),
    (2026, 10, 16, 567, 801, 1_000, 330),
];

/// Tariffs (once) and the invoices of every month from the first whole month after
/// `readings_from` to the last month that has ended by `now`. Returns how many were issued.
pub async fn ensure_billed(
    pool: &PgPool,
    utility_id: i64,
    readings_from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<usize> {
    let has_tariffs: bool = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM tariffs WHERE utility_id = $1) AS "exists!""#,
        utility_id
    )
    .fetch_one(pool)
    .await?;
    if !has_tariffs {
        for (y, m, d, water, sewage, fee, garden) in TARIFFS {
            sqlx::query!(
                r#"INSERT INTO tariffs (utility_id, tariff_group_id, valid_from, water_price_grosze,
                                        sewage_price_grosze, subscription_grosze,
                                        garden_subscription_grosze, vat_rate, basis)
                   SELECT $1, id, $2, $3 + (CASE code WHEN 'PU' THEN 40 ELSE 0 END), $4, $5, $6, 8,
                          'Taryfa zatwierdzona decyzją Wód Polskich (dane demonstracyjne)'
                   FROM tariff_groups WHERE utility_id = $1"#,
                utility_id,
                NaiveDate::from_ymd_opt(y as i32, m, d).expect("a date"),
                water,
                sewage,
                fee,
                garden
            )
            .execute(pool)
            .await?;
        }
    }
    let today = local_day(now);
    // The first month whose first midnight has a reading before it.
    let mut month = (local_day(readings_from) + Days::new(1))
        .with_day(1)
        .expect("day 1")
        + Months::new(1);
    let mut issued = 0;
    while month + Months::new(1) <= today {
        // A month an earlier start billed is not run again (it would only say so).
        let billed: bool = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM billing_runs
                              WHERE utility_id = $1 AND period = $2 AND state = 'finished') AS "exists!""#,
            utility_id,
            month
        )
        .fetch_one(pool)
        .await?;
        if billed {
            month = month + Months::new(1);
            continue;
        }
        let issue_date = (month + Months::new(1) + Days::new(1)).min(today);
        let outcome = run::run(
            pool,
            &RunRequest {
                utility_id,
                month,
                issue_date,
                started_by: None,
                batch: 500,
            },
            |_| {},
        )
        .await?;
        issued += outcome.invoices_issued;
        if !outcome.problems.is_empty() {
            tracing::info!(
                utility_id,
                month = %month,
                left_out = outcome.problems.len(),
                first = ?outcome.problems.first(),
                "demo billing left contracts out"
            );
        }
        month = month + Months::new(1);
    }
    Ok(issued)
}
