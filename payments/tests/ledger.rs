//! The ledger books an entry with a reference once, whatever the insert looks like and however
//! many try at once: the balance moves with the entries that are stored and with nothing else.

use ebok_testkit::{TestDb, fixtures};
use sqlx::PgPool;

async fn insert(pool: &PgPool, utility_id: i64, customer_id: i64, on_conflict: bool) -> bool {
    let sql = format!(
        "INSERT INTO ledger_entries (utility_id, customer_id, kind, amount_grosze, reference, description)
         VALUES ($1, $2, 'payment', -1000, 'przelewy24:42', 'Wpłata') {} RETURNING id",
        if on_conflict {
            "ON CONFLICT (utility_id, kind, reference) WHERE reference IS NOT NULL DO NOTHING"
        } else {
            ""
        }
    );
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
        .bind(utility_id)
        .bind(customer_id)
        .fetch_optional(pool)
        .await
        .unwrap()
        .is_some()
}

async fn balance_and_entries(pool: &PgPool, customer_id: i64) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT b.balance_grosze, b.entries,
                (SELECT coalesce(sum(amount_grosze), 0)::bigint FROM ledger_entries WHERE customer_id = $1)
         FROM customer_balances b WHERE b.customer_id = $1",
    )
    .bind(customer_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_payment_reference_is_booked_once_and_the_balance_moves_once() {
    let db = TestDb::new().await;
    let utility_id = fixtures::utility(&db.pool, "mlynary").await;
    let home = fixtures::household(&db.pool, utility_id, "jan@example.pl").await;
    assert!(insert(&db.pool, utility_id, home.customer_id, true).await);
    // Again, as a replay would: skipped, with or without ON CONFLICT.
    assert!(!insert(&db.pool, utility_id, home.customer_id, true).await);
    assert!(!insert(&db.pool, utility_id, home.customer_id, false).await);
    assert_eq!(
        balance_and_entries(&db.pool, home.customer_id).await,
        (-1000, 1, -1000)
    );

    // Twenty at once, for another reference: one entry, the balance moved once.
    let tries = (0..20).map(|_| {
        let pool = db.pool.clone();
        let customer = home.customer_id;
        async move {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO ledger_entries (utility_id, customer_id, kind, amount_grosze, reference, description)
                 VALUES ($1, $2, 'payment', -500, 'stripe:pi_1', 'Wpłata')
                 ON CONFLICT (utility_id, kind, reference) WHERE reference IS NOT NULL DO NOTHING
                 RETURNING id",
            )
            .bind(utility_id)
            .bind(customer)
            .fetch_optional(&pool)
            .await
            .unwrap()
            .is_some()
        }
    });
    let stored = futures_count(tries).await;
    assert_eq!(stored, 1);
    assert_eq!(
        balance_and_entries(&db.pool, home.customer_id).await,
        (-1500, 2, -1500)
    );
}

async fn futures_count(
    tries: impl Iterator<Item = impl Future<Output = bool> + Send + 'static>,
) -> usize {
    let mut set = tokio::task::JoinSet::new();
    for t in tries {
        set.spawn(t);
    }
    let mut n = 0;
    while let Some(stored) = set.join_next().await {
        n += usize::from(stored.unwrap());
    }
    n
}
