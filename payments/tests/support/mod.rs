//! What the payments tests start from.

use ebok_testkit::fixtures;
use sqlx::PgPool;

/// A utility that issues invoices (NIP and address) with virtual accounts under sort code
/// 10201026 and prefix 77.
pub async fn ready(pool: &PgPool, slug: &str) -> i64 {
    let utility_id = fixtures::utility(pool, slug).await;
    sqlx::query(
        "UPDATE utilities SET nip = '5260250274', street = 'Wodna', building_no = '1',
                postal_code = '14-420', city = 'Młynary',
                virtual_account_sort_code = '10201026', virtual_account_prefix = '77'
         WHERE id = $1",
    )
    .bind(utility_id)
    .execute(pool)
    .await
    .unwrap();
    utility_id
}

/// A manual invoice of one service line for `grosze` (no VAT) issued today to `customer_id`;
/// its id.
pub async fn service_invoice(pool: &PgPool, utility_id: i64, customer_id: i64, grosze: i64) -> i64 {
    use chrono::Utc;
    use ebok_billing::manual::{self, ManualLine};
    use ebok_common::domain::Money;
    use ebok_common::domain::time::local_day;
    manual::issue(
        pool,
        utility_id,
        customer_id,
        local_day(Utc::now()),
        &[ManualLine {
            name: "Usługa".into(),
            unit: "usł.".into(),
            quantity_milli: 1000,
            unit_price: Money::from_grosze(grosze),
            vat_rate: 0,
        }],
    )
    .await
    .unwrap()
}
