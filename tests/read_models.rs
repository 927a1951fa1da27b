//! The two tables migration 0012 keeps by triggers, checked against what they stand for:
//!
//! - `meter_day_readings` holds, after every kind of write (multi-row INSERTs in any order, late
//!   readings, COPY), exactly each meter's first and last reading of each Europe/Warsaw day
//!   (migrations 0012 and 0020), computed here independently in Rust, across a clock change, by
//!   the statement trigger of plain PostgreSQL and by the row trigger TimescaleDB uses;
//! - `account_meter_windows` equals the `account_meter_spans` view (migration 0014: the account's
//!   latest stay at the meter's supply point) after every change the view sees (a link, a draft
//!   signed, a contract ended, a new tenant, a meter replaced, a link removed, a tenant moving
//!   back after somebody else lived there), including two transactions that only together make a
//!   meter visible.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ebok_common::domain::time::local_day;
use ebok_testkit::{TestDb, fixtures};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sqlx::PgPool;
use sqlx::postgres::PgPoolCopyExt;

/// Per meter and day: its first reading and its last, each (instant, litres).
type DayRows = BTreeMap<(i64, NaiveDate), [(DateTime<Utc>, i64); 2]>;

async fn stored_days(pool: &PgPool) -> DayRows {
    type Row = (i64, NaiveDate, DateTime<Utc>, i64, DateTime<Utc>, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT meter_id, day, first_measured_at, first_volume_litres, measured_at, volume_litres
         FROM meter_day_readings",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(m, day, first_at, first, at, litres)| ((m, day), [(first_at, first), (at, litres)]))
        .collect()
}

#[tokio::test]
async fn day_readings_hold_each_warsaw_days_first_and_last_reading_whatever_the_write_order() {
    day_readings_hold_first_and_last(false).await;
}

/// The same with the row trigger a TimescaleDB hypertable gets (it refuses transition tables),
/// swapped in on plain PostgreSQL.
#[tokio::test]
async fn the_row_trigger_of_timescaledb_folds_the_same_days() {
    day_readings_hold_first_and_last(true).await;
}

async fn day_readings_hold_first_and_last(row_trigger: bool) {
    let db = TestDb::new().await;
    if row_trigger {
        for statement in [
            "DROP TRIGGER meter_readings_fold_days ON meter_readings",
            "CREATE TRIGGER meter_readings_fold_days AFTER INSERT ON meter_readings
             FOR EACH ROW EXECUTE FUNCTION meter_day_readings_fold_row()",
        ] {
            sqlx::query(statement).execute(&db.pool).await.unwrap();
        }
    }
    let utility = fixtures::utility(&db.pool, "alfa").await;
    let point = fixtures::supply_point(&db.pool, utility).await;
    let meters = [
        fixtures::meter(&db.pool, utility, Some(point)).await,
        fixtures::meter(&db.pool, utility, None).await,
        fixtures::meter(&db.pool, utility, None).await,
    ];
    // Ten days around the autumn clock change (2026-10-25 has 25 hours in Warsaw), with readings
    // placed at random minutes, many of them within an hour of a Warsaw midnight.
    let start: DateTime<Utc> = "2026-10-20T00:00:00Z".parse().unwrap();
    sqlx::query("SELECT ebok_ensure_reading_partitions($1, $2)")
        .bind(start)
        .bind(start + Duration::days(11))
        .execute(&db.pool)
        .await
        .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut readings: Vec<(i64, DateTime<Utc>, i64)> = Vec::new();
    for &meter in &meters {
        let mut minutes: Vec<i64> = (0..120)
            .map(|_| {
                if rng.random_bool(0.4) {
                    // Near a Warsaw midnight: 21:00–23:59 UTC.
                    rng.random_range(0..10) * 1440 + 1260 + rng.random_range(0..180)
                } else {
                    rng.random_range(0..10 * 1440)
                }
            })
            .collect();
        minutes.sort_unstable();
        minutes.dedup();
        for (i, m) in minutes.into_iter().enumerate() {
            readings.push((meter, start + Duration::minutes(m), 1_000 + i as i64 * 7));
        }
    }
    // Written in shuffled batches of random size, so later batches bring earlier readings.
    readings.shuffle(&mut rng);
    let mut expected = DayRows::new();
    let mut rest = readings.as_slice();
    let mut batch_no = 0;
    while !rest.is_empty() {
        let size = rng.random_range(1..=40).min(rest.len());
        let (batch, tail) = rest.split_at(size);
        rest = tail;
        batch_no += 1;
        if batch_no % 3 == 0 {
            let mut text = String::new();
            for (meter, at, litres) in batch {
                text.push_str(&format!("{meter}\t{}\t{litres}\tradio\n", at.to_rfc3339()));
            }
            let mut copy = db
                .pool
                .copy_in_raw(
                    "COPY meter_readings (meter_id, measured_at, volume_litres, source) FROM STDIN",
                )
                .await
                .unwrap();
            copy.send(text.into_bytes()).await.unwrap();
            copy.finish().await.unwrap();
        } else {
            let meter_ids: Vec<i64> = batch.iter().map(|r| r.0).collect();
            let ats: Vec<DateTime<Utc>> = batch.iter().map(|r| r.1).collect();
            let litres: Vec<i64> = batch.iter().map(|r| r.2).collect();
            sqlx::query(
                "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
                 SELECT m, a, l, 'radio' FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[])
                      AS r (m, a, l)",
            )
            .bind(&meter_ids)
            .bind(&ats)
            .bind(&litres)
            .execute(&db.pool)
            .await
            .unwrap();
        }
        for &(meter, at, litres) in batch {
            let [first, last] = expected
                .entry((meter, local_day(at)))
                .or_insert([(at, litres); 2]);
            if at < first.0 {
                *first = (at, litres);
            }
            if at > last.0 {
                *last = (at, litres);
            }
        }
        assert_eq!(
            stored_days(&db.pool).await,
            expected,
            "after batch {batch_no}"
        );
    }
    // The 25-hour day is one day: its readings at 22:30 and 23:30 UTC (both on 25 October in
    // Warsaw after the change) belong to it.
    assert!(
        expected
            .keys()
            .any(|(_, day)| *day == NaiveDate::from_ymd_opt(2026, 10, 25).unwrap())
    );

    // A duplicate instant is refused by the readings' key and changes nothing.
    let (meter, at, litres) = readings[0];
    let before = stored_days(&db.pool).await;
    let refused = sqlx::query(
        "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
         VALUES ($1, $2, $3, 'radio')",
    )
    .bind(meter)
    .bind(at)
    .bind(litres + 1)
    .execute(&db.pool)
    .await;
    assert!(refused.is_err());
    assert_eq!(stored_days(&db.pool).await, before);
}

type Windows = Vec<(i64, i64, i64, NaiveDate, Option<NaiveDate>)>;

async fn windows(pool: &PgPool) -> Windows {
    sqlx::query_as(
        "SELECT account_id, meter_id, utility_id, first_day, last_day
         FROM account_meter_windows ORDER BY account_id, meter_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The table, after checking that it equals the view it materialises.
async fn checked_windows(pool: &PgPool, step: &str) -> Windows {
    let table = windows(pool).await;
    let view: Windows = sqlx::query_as(
        "SELECT account_id, meter_id, utility_id, first_day, last_day
         FROM account_meter_spans ORDER BY account_id, meter_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(table, view, "after: {step}");
    table
}

async fn exec(pool: &PgPool, sql: &'static str, id: i64) {
    sqlx::query(sql).bind(id).execute(pool).await.unwrap();
}

#[tokio::test]
async fn meter_windows_follow_links_contracts_and_meter_changes() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, "alfa").await;
    let (anna, bartek) = (
        fixtures::resident_account(pool, utility, "anna@example.com").await,
        fixtures::resident_account(pool, utility, "bartek@example.com").await,
    );
    let (anna_c, bartek_c) = (
        fixtures::person(pool, utility).await,
        fixtures::person(pool, utility).await,
    );
    let (flat, garden) = (
        fixtures::supply_point(pool, utility).await,
        fixtures::supply_point(pool, utility).await,
    );
    let flat_meter = fixtures::meter(pool, utility, Some(flat)).await;
    let garden_meter = fixtures::meter(pool, utility, Some(garden)).await;
    let today: NaiveDate = sqlx::query_scalar("SELECT current_date")
        .fetch_one(pool)
        .await
        .unwrap();
    let year_ago = today - Duration::days(365);

    let flat_contract = fixtures::contract(pool, utility, anna_c, flat).await;
    assert!(
        checked_windows(pool, "a contract, nobody linked")
            .await
            .is_empty()
    );

    fixtures::link_customer(pool, utility, anna, anna_c).await;
    assert_eq!(
        checked_windows(pool, "link").await,
        vec![(anna, flat_meter, utility, year_ago, None)]
    );

    let garden_contract = fixtures::contract(pool, utility, anna_c, garden).await;
    exec(
        pool,
        "UPDATE contracts SET status = 'draft', signed_at = NULL WHERE id = $1",
        garden_contract,
    )
    .await;
    assert_eq!(checked_windows(pool, "a draft").await.len(), 1);
    exec(
        pool,
        "UPDATE contracts SET status = 'active', signed_at = now() WHERE id = $1",
        garden_contract,
    )
    .await;
    assert_eq!(checked_windows(pool, "the draft signed").await.len(), 2);

    // Anna moves out of the flat ten days ago; Bartek moves in the next day.
    exec(
        pool,
        "UPDATE contracts SET valid_until = current_date - 10, status = 'terminated' WHERE id = $1",
        flat_contract,
    )
    .await;
    let ended = today - Duration::days(10);
    assert!(checked_windows(pool, "contract ended").await.contains(&(
        anna,
        flat_meter,
        utility,
        year_ago,
        Some(ended)
    )));
    sqlx::query(
        "INSERT INTO contracts (utility_id, number, customer_id, supply_point_id, tariff_group_id,
                                valid_from, status, signed_at)
         SELECT $1, 'U/2', $2, $3, id, current_date - 9, 'active', now()
         FROM tariff_groups WHERE utility_id = $1",
    )
    .bind(utility)
    .bind(bartek_c)
    .bind(flat)
    .execute(pool)
    .await
    .unwrap();
    fixtures::link_customer(pool, utility, bartek, bartek_c).await;
    assert!(checked_windows(pool, "new tenant").await.contains(&(
        bartek,
        flat_meter,
        utility,
        ended + Duration::days(1),
        None
    )));

    // The flat's meter is replaced five days ago: Bartek sees both, Anna only the old one.
    exec(
        pool,
        "UPDATE meters SET removed_at = now() - interval '5 days' WHERE id = $1",
        flat_meter,
    )
    .await;
    let new_meter: i64 = sqlx::query_scalar(
        "INSERT INTO meters (utility_id, serial, channel, register_max_litres, supply_point_id,
                             installed_at, install_reading_litres, replaces_meter_id)
         VALUES ($1, 'NEW-1', 'wmbus', 99999999, $2, now() - interval '5 days', 0, $3)
         RETURNING id",
    )
    .bind(utility)
    .bind(flat)
    .bind(flat_meter)
    .fetch_one(pool)
    .await
    .unwrap();
    let seen = checked_windows(pool, "meter replaced").await;
    let meters_of = |account: i64| -> Vec<i64> {
        seen.iter()
            .filter(|w| w.0 == account)
            .map(|w| w.1)
            .collect()
    };
    assert_eq!(meters_of(anna), vec![flat_meter, garden_meter]);
    assert_eq!(meters_of(bartek), vec![flat_meter, new_meter]);

    // A change that moves no meter (a channel) leaves the windows as they are.
    exec(
        pool,
        "UPDATE meters SET channel = 'manual' WHERE id = $1",
        garden_meter,
    )
    .await;
    assert_eq!(checked_windows(pool, "channel changed").await, seen);

    sqlx::query("DELETE FROM account_customers WHERE account_id = $1")
        .bind(anna)
        .execute(pool)
        .await
        .unwrap();
    let left = checked_windows(pool, "link removed").await;
    assert!(left.iter().all(|w| w.0 == bartek));
    assert_eq!(left.len(), 2);
}

/// A contract at `point` from `from` to `until` (inclusive), signed.
async fn stay(
    pool: &PgPool,
    utility: i64,
    customer: i64,
    point: i64,
    from: NaiveDate,
    until: Option<NaiveDate>,
) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO contracts (utility_id, number, customer_id, supply_point_id, tariff_group_id,
                                valid_from, valid_until, status, signed_at)
         SELECT $1, 'U/' || gen_random_uuid(), $2, $3, id, $4, $5, 'active', now()
         FROM tariff_groups WHERE utility_id = $1 RETURNING id",
    )
    .bind(utility)
    .bind(customer)
    .bind(point)
    .bind(from)
    .bind(until)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Anna lived in the flat, Bartek after her, and Anna moves back: her window is her new stay
/// only, or she would see Bartek's days; a stay after a vacancy (nobody's contract between) is
/// one window. Bartek's contract alone (written after Anna's return) cuts Anna's window.
#[tokio::test]
async fn a_window_is_the_latest_stay_when_somebody_else_lived_there_in_between() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, "alfa").await;
    fixtures::tariff_group(pool, utility).await;
    let anna = fixtures::resident_account(pool, utility, "anna@example.com").await;
    let bartek = fixtures::resident_account(pool, utility, "bartek@example.com").await;
    let (anna_c, bartek_c) = (
        fixtures::person(pool, utility).await,
        fixtures::person(pool, utility).await,
    );
    fixtures::link_customer(pool, utility, anna, anna_c).await;
    fixtures::link_customer(pool, utility, bartek, bartek_c).await;
    let flat = fixtures::supply_point(pool, utility).await;
    let meter = fixtures::meter(pool, utility, Some(flat)).await;
    // Days since the meter was installed, a year ago.
    let start = local_day(Utc::now()) - Duration::days(100);
    let day = |d: i64| start + Duration::days(d);

    stay(pool, utility, anna_c, flat, day(1), Some(day(5))).await;
    // Empty for a few days, then Anna again: one window.
    stay(pool, utility, anna_c, flat, day(9), Some(day(12))).await;
    assert_eq!(
        checked_windows(pool, "a vacancy between two stays").await,
        vec![(anna, meter, utility, day(1), Some(day(12)))]
    );
    // Anna comes back once more; only then is Bartek's stay between hers entered.
    stay(pool, utility, anna_c, flat, day(20), None).await;
    assert_eq!(
        checked_windows(pool, "third stay").await,
        vec![(anna, meter, utility, day(1), None)]
    );
    let bartek_stay = stay(pool, utility, bartek_c, flat, day(14), Some(day(18))).await;
    assert_eq!(
        checked_windows(pool, "somebody else in between").await,
        vec![
            (anna, meter, utility, day(20), None),
            (bartek, meter, utility, day(14), Some(day(18))),
        ]
    );
    // A correction: Bartek's contract was entered by mistake.
    sqlx::query("DELETE FROM contracts WHERE id = $1")
        .bind(bartek_stay)
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(
        checked_windows(pool, "the other stay removed").await,
        vec![(anna, meter, utility, day(1), None)]
    );
}

/// One transaction links the account while another signs the contract: neither sees the other's
/// row while both are open, yet the meter must be visible once both have committed.
#[tokio::test]
async fn a_link_and_a_contract_committed_concurrently_make_the_meter_visible() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, "alfa").await;
    let anna = fixtures::resident_account(pool, utility, "anna@example.com").await;
    let customer = fixtures::person(pool, utility).await;
    let point = fixtures::supply_point(pool, utility).await;
    let meter = fixtures::meter(pool, utility, Some(point)).await;
    let tariff = fixtures::tariff_group(pool, utility).await;

    let mut linking = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO account_customers (utility_id, account_id, customer_id, linked_via)
         VALUES ($1, $2, $3, 'staff')",
    )
    .bind(utility)
    .bind(anna)
    .bind(customer)
    .execute(&mut *linking)
    .await
    .unwrap();

    let signing = tokio::spawn({
        let pool = pool.clone();
        async move {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query(
                "INSERT INTO contracts (utility_id, number, customer_id, supply_point_id,
                                        tariff_group_id, valid_from, status, signed_at)
                 VALUES ($1, 'U/1', $2, $3, $4, current_date - 30, 'active', now())",
            )
            .bind(utility)
            .bind(customer)
            .bind(point)
            .bind(tariff)
            .execute(&mut *tx)
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
    });
    // Let the signing transaction reach its trigger while the link is still uncommitted.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    linking.commit().await.unwrap();
    signing.await.unwrap();

    let seen = checked_windows(pool, "both committed").await;
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].0, seen[0].1), (anna, meter));
}
