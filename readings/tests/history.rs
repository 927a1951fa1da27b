//! The read side against a real PostgreSQL: visibility (another resident of the same utility
//! and a resident of another utility see nothing), the reading on a day around Warsaw midnight
//! and the clock changes, history with gaps and a rollover, billing readings, and a former
//! tenant's view. Every history is read twice, from day rows and from packed months, and the two
//! must agree (`history_both`).

use chrono::{DateTime, NaiveDate, Utc};
use ebok_readings::access::Viewer;
use ebok_readings::history::{Point, ReadError, Reading, Step};
use ebok_testkit::{TestDb, fixtures};
use sqlx::PgPool;
use via_pool::{billing_readings, current, meter_info, on_day};

/// The read functions take a connection; these take one from the pool per call, as the portal
/// does.
mod via_pool {
    use super::*;
    use ebok_readings::history::{self, MeterInfo};

    pub async fn current(
        pool: &PgPool,
        v: Viewer,
        meter: i64,
    ) -> Result<Option<Reading>, ReadError> {
        history::current(&mut *pool.acquire().await?, v, meter).await
    }

    pub async fn on_day(
        pool: &PgPool,
        v: Viewer,
        meter: i64,
        day: NaiveDate,
    ) -> Result<Option<Reading>, ReadError> {
        history::on_day(&mut *pool.acquire().await?, v, meter, day).await
    }

    pub async fn meter_info(pool: &PgPool, v: Viewer, meter: i64) -> Result<MeterInfo, ReadError> {
        history::meter_info(&mut *pool.acquire().await?, v, meter).await
    }

    pub async fn history(
        pool: &PgPool,
        v: Viewer,
        meter: i64,
        from: NaiveDate,
        to: NaiveDate,
        step: Step,
    ) -> Result<Vec<Point>, ReadError> {
        history::history(&mut *pool.acquire().await?, v, meter, from, to, step).await
    }

    pub async fn billing_readings(
        pool: &PgPool,
        v: Viewer,
        meter: i64,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Point>, ReadError> {
        history::billing_readings(&mut *pool.acquire().await?, v, meter, from, to).await
    }
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// A resident with one meter, a neighbour in the same utility with their own meter, and a
/// resident of another utility. Meters are installed and contracts start on 2025-01-01, so the
/// fixed dates below stay valid whenever the tests run.
struct World {
    db: TestDb,
    owner: Viewer,
    neighbour: Viewer,
    stranger: Viewer,
    meter: i64,
    contract: i64,
}

struct Household {
    viewer: Viewer,
    meter: i64,
    contract: i64,
}

async fn household(pool: &PgPool, utility_id: i64, email: &str) -> Household {
    let home = fixtures::household(pool, utility_id, email).await;
    Household {
        viewer: Viewer {
            utility_id,
            account_id: home.account_id,
        },
        meter: home.meter_id,
        contract: home.contract_id,
    }
}

async fn world() -> World {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, "alfa").await;
    let other_utility = fixtures::utility(pool, "beta").await;
    let owner = household(pool, utility, "owner@example.pl").await;
    let neighbour = household(pool, utility, "neighbour@example.pl").await;
    let stranger = household(pool, other_utility, "stranger@example.pl").await;
    sqlx::query("UPDATE meters SET installed_at = '2025-01-01T00:00:00Z'")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE contracts SET valid_from = '2025-01-01'")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("SELECT ebok_ensure_reading_partitions('2024-12-01', '2027-12-31')")
        .execute(pool)
        .await
        .unwrap();
    // The others have readings too, so "no data" below is not "no data anywhere".
    put(pool, neighbour.meter, "2026-03-12T12:00:00Z", 5_000).await;
    put(pool, stranger.meter, "2026-03-12T12:00:00Z", 7_000).await;
    World {
        db,
        owner: owner.viewer,
        neighbour: neighbour.viewer,
        stranger: stranger.viewer,
        meter: owner.meter,
        contract: owner.contract,
    }
}

/// Stores a radio reading and moves the latest reading forward, as ingest does.
async fn put(pool: &PgPool, meter: i64, at: &str, litres: i64) {
    ebok_testkit::fixtures::radio_reading(pool, meter, t(at), litres).await;
}

/// Packs every closed month (`meter_month_readings`, migration 0013; the mark stays moved, so
/// later reads in the test are packed too), then checks that `packed` (a read not started yet)
/// answers as `unpacked` did from the day rows, and returns it.
async fn packed_agrees<T: std::fmt::Debug>(
    pool: &PgPool,
    unpacked: T,
    packed: impl std::future::Future<Output = T>,
) -> T {
    sqlx::query("SELECT meter_month_readings_pack()")
        .execute(pool)
        .await
        .unwrap();
    let packed = packed.await;
    assert_eq!(
        format!("{unpacked:?}"),
        format!("{packed:?}"),
        "packed months differ"
    );
    packed
}

/// [`history::history`] from the day rows, then from packed months (see [`packed_agrees`]).
async fn history_both(
    pool: &PgPool,
    viewer: Viewer,
    meter: i64,
    from: NaiveDate,
    to: NaiveDate,
    step: Step,
) -> Result<Vec<Point>, ReadError> {
    let unpacked = via_pool::history(pool, viewer, meter, from, to, step).await;
    packed_agrees(
        pool,
        unpacked,
        via_pool::history(pool, viewer, meter, from, to, step),
    )
    .await
}

/// [`billing_readings`] from the day rows, then from packed months (see [`packed_agrees`]).
async fn billing_both(
    pool: &PgPool,
    viewer: Viewer,
    meter: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Point>, ReadError> {
    let unpacked = billing_readings(pool, viewer, meter, from, to).await;
    packed_agrees(
        pool,
        unpacked,
        billing_readings(pool, viewer, meter, from, to),
    )
    .await
}

fn at(reading: &Option<Reading>) -> Option<String> {
    reading.as_ref().map(|r| r.measured_at.to_rfc3339())
}

fn not_found<T: std::fmt::Debug>(result: Result<T, ReadError>) {
    assert!(
        matches!(result, Err(ReadError::MeterNotFound)),
        "expected MeterNotFound, got {result:?}"
    );
}

fn consumptions(points: &[Point]) -> Vec<Option<i64>> {
    points.iter().map(|p| p.consumption_litres).collect()
}

// --- Visibility ---------------------------------------------------------------------------

#[tokio::test]
async fn current_reading_is_hidden_from_another_resident_and_another_utility() {
    let w = world().await;
    let pool = &w.db.pool;
    put(pool, w.meter, "2026-03-12T12:00:00Z", 1_234).await;
    let mine = current(pool, w.owner, w.meter).await.unwrap().unwrap();
    assert_eq!(mine.litres, 1_234);
    assert_eq!(mine.source, "radio");
    not_found(current(pool, w.neighbour, w.meter).await);
    not_found(current(pool, w.stranger, w.meter).await);
    // Claiming the meter's utility does not help an account of another utility.
    let impostor = Viewer {
        utility_id: w.owner.utility_id,
        account_id: w.stranger.account_id,
    };
    not_found(current(pool, impostor, w.meter).await);
}

#[tokio::test]
async fn reading_on_a_day_is_hidden_from_another_resident_and_another_utility() {
    let w = world().await;
    let pool = &w.db.pool;
    put(pool, w.meter, "2026-03-12T12:00:00Z", 1_234).await;
    assert!(
        on_day(pool, w.owner, w.meter, d(2026, 3, 12))
            .await
            .unwrap()
            .is_some()
    );
    not_found(on_day(pool, w.neighbour, w.meter, d(2026, 3, 12)).await);
    not_found(on_day(pool, w.stranger, w.meter, d(2026, 3, 12)).await);
    // A day long after the last reading takes the fallback path: still hidden.
    not_found(on_day(pool, w.neighbour, w.meter, d(2026, 9, 1)).await);
}

#[tokio::test]
async fn history_by_day_and_month_is_hidden_from_another_resident_and_another_utility() {
    let w = world().await;
    let pool = &w.db.pool;
    put(pool, w.meter, "2026-03-12T12:00:00Z", 1_234).await;
    for step in [Step::Day, Step::Month] {
        let mine = history_both(pool, w.owner, w.meter, d(2026, 3, 1), d(2026, 3, 31), step)
            .await
            .unwrap();
        assert!(mine.iter().any(|p| p.reading.is_some()));
        for viewer in [w.neighbour, w.stranger] {
            not_found(
                history_both(pool, viewer, w.meter, d(2026, 3, 1), d(2026, 3, 31), step).await,
            );
        }
    }
}

#[tokio::test]
async fn billing_readings_are_hidden_from_another_resident_and_another_utility() {
    let w = world().await;
    let pool = &w.db.pool;
    put(pool, w.meter, "2026-03-12T12:00:00Z", 1_234).await;
    assert_eq!(
        billing_both(pool, w.owner, w.meter, d(2026, 1, 1), d(2026, 3, 1))
            .await
            .unwrap()
            .len(),
        3
    );
    not_found(billing_both(pool, w.neighbour, w.meter, d(2026, 1, 1), d(2026, 3, 1)).await);
    not_found(billing_both(pool, w.stranger, w.meter, d(2026, 1, 1), d(2026, 3, 1)).await);
}

#[tokio::test]
async fn meter_info_is_hidden_from_another_resident_and_another_utility() {
    let w = world().await;
    let pool = &w.db.pool;
    let info = meter_info(pool, w.owner, w.meter).await.unwrap();
    assert_eq!(info.id, w.meter);
    assert_eq!(info.channel, "wmbus");
    assert_eq!(info.visible_from.to_rfc3339(), "2024-12-31T23:00:00+00:00");
    assert_eq!(info.visible_until, None);
    not_found(meter_info(pool, w.neighbour, w.meter).await);
    not_found(meter_info(pool, w.stranger, w.meter).await);
    not_found(meter_info(pool, w.owner, i64::MAX).await);
}

// --- The reading on a day -------------------------------------------------------------------

/// Many lookups at once, of three viewers (two of whom may not see the meter), some for a day
/// out of range: answered together in fewer statements than lookups, each answer the same as
/// the lookup alone.
#[tokio::test]
async fn concurrent_lookups_answered_together_match_each_alone() {
    let w = world().await;
    let pool = &w.db.pool;
    put(pool, w.meter, "2026-03-10T12:00:00Z", 1_000).await;
    put(pool, w.meter, "2026-03-12T22:59:00Z", 1_300).await;
    put(pool, w.meter, "2026-03-12T23:01:00Z", 1_400).await;
    let lookups = ebok_readings::coalesce::OnDayLookups::start(pool.clone(), 1, 16);
    let mut asked = Vec::new();
    for i in 0..300u32 {
        let viewer = [w.owner, w.owner, w.neighbour, w.stranger][i as usize % 4];
        let day = if i % 37 == 0 {
            d(1999, 1, 1)
        } else {
            d(2026, 3, 8 + i % 7)
        };
        asked.push((viewer, day));
    }
    let answers = futures::future::join_all(
        asked
            .iter()
            .map(|&(viewer, day)| lookups.on_day(viewer, w.meter, day)),
    )
    .await;
    for ((viewer, day), together) in asked.into_iter().zip(answers) {
        let alone = on_day(pool, viewer, w.meter, day).await;
        assert_eq!(
            format!("{together:?}"),
            format!("{alone:?}"),
            "{viewer:?} on {day}"
        );
    }
    let statements = lookups.statements();
    assert!(
        (1..300).contains(&statements),
        "300 lookups took {statements} statements"
    );
}

/// As ingest leaves it: readings copied without the day trigger, the closed day folded, the open
/// day folded when its first reading came and its later readings only in the latest reading.
/// Reads take the open day's last reading from there.
#[tokio::test]
async fn the_open_day_is_read_from_the_latest_reading() {
    let w = world().await;
    let pool = &w.db.pool;
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SELECT set_config('ebok.day_readings', 'deferred', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
         VALUES ($1, '2026-03-10T09:00:00Z', 1000, 'radio'),
                ($1, '2026-03-11T09:00:00Z', 1100, 'radio'),
                ($1, '2026-03-11T11:00:00Z', 1200, 'radio')",
    )
    .bind(w.meter)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // The writer folded the closed day (10 March) and the open one (11 March) when its first
    // reading came; the open day's 11:00 reading is only the latest reading.
    sqlx::query(
        "INSERT INTO meter_day_readings (meter_id, day, measured_at, volume_litres, source,
                                         first_measured_at, first_volume_litres)
         VALUES ($1, '2026-03-10', '2026-03-10T09:00:00Z', 1000, 'radio',
                 '2026-03-10T09:00:00Z', 1000),
                ($1, '2026-03-11', '2026-03-11T09:00:00Z', 1100, 'radio',
                 '2026-03-11T09:00:00Z', 1100)",
    )
    .bind(w.meter)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO meter_latest_readings (meter_id, measured_at, volume_litres, source, received_at)
         VALUES ($1, '2026-03-11T11:00:00Z', 1200, 'radio', now())",
    )
    .bind(w.meter)
    .execute(pool)
    .await
    .unwrap();

    let litres = |r: Option<Reading>| r.map(|r| r.litres);
    assert_eq!(
        litres(
            on_day(pool, w.owner, w.meter, d(2026, 3, 10))
                .await
                .unwrap()
        ),
        Some(1000)
    );
    assert_eq!(
        litres(
            on_day(pool, w.owner, w.meter, d(2026, 3, 11))
                .await
                .unwrap()
        ),
        Some(1200)
    );
    assert_eq!(
        litres(
            on_day(pool, w.owner, w.meter, d(2026, 3, 20))
                .await
                .unwrap()
        ),
        Some(1200)
    );
    let points = history_both(
        pool,
        w.owner,
        w.meter,
        d(2026, 3, 10),
        d(2026, 3, 12),
        Step::Day,
    )
    .await
    .unwrap();
    let days: Vec<Option<i64>> = points
        .iter()
        .map(|p| p.reading.as_ref().map(|r| r.litres))
        .collect();
    assert_eq!(days, vec![Some(1000), Some(1200), None]);
    // From the register at 11 March's midnight (14 of the 24 hours from 1,000 to its first
    // reading, 1,100) to its latest reading.
    assert_eq!(consumptions(&points)[1], Some(1200 - 1058));
    // The open day's latest reading is the baseline of a later range (three days later, too far
    // to interpolate): 300 litres, not the 400 since the open day's row.
    sqlx::query(
        "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
         VALUES ($1, '2026-03-14T09:00:00Z', 1500, 'radio')",
    )
    .bind(w.meter)
    .execute(pool)
    .await
    .unwrap();
    let points = history_both(
        pool,
        w.owner,
        w.meter,
        d(2026, 3, 14),
        d(2026, 3, 14),
        Step::Day,
    )
    .await
    .unwrap();
    assert_eq!(consumptions(&points), vec![Some(300)]);
    not_found(on_day(pool, w.neighbour, w.meter, d(2026, 3, 11)).await);
}

#[tokio::test]
async fn reading_on_a_day_is_the_last_before_warsaw_midnight() {
    let w = world().await;
    let pool = &w.db.pool;
    // Winter (CET, UTC+1): 23:30 on the 15th and 00:30 on the 16th, local time.
    put(pool, w.meter, "2026-01-15T22:30:00Z", 1_000).await;
    put(pool, w.meter, "2026-01-15T23:30:00Z", 1_010).await;
    let day = on_day(pool, w.owner, w.meter, d(2026, 1, 15))
        .await
        .unwrap();
    assert_eq!(at(&day).as_deref(), Some("2026-01-15T22:30:00+00:00"));
    assert_eq!(day.unwrap().litres, 1_000);
    let next = on_day(pool, w.owner, w.meter, d(2026, 1, 16))
        .await
        .unwrap();
    assert_eq!(at(&next).as_deref(), Some("2026-01-15T23:30:00+00:00"));
    // Before any reading there is none.
    assert_eq!(
        on_day(pool, w.owner, w.meter, d(2026, 1, 14))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn reading_on_a_day_follows_warsaw_days_across_both_clock_changes() {
    let w = world().await;
    let pool = &w.db.pool;
    // Spring forward on 2026-03-29 (a 23-hour day): 23:30 CET on the 28th, 00:30 CET on the
    // 29th, 23:30 CEST on the 29th, 00:30 CEST on the 30th.
    put(pool, w.meter, "2026-03-28T22:30:00Z", 2_000).await;
    put(pool, w.meter, "2026-03-28T23:30:00Z", 2_010).await;
    put(pool, w.meter, "2026-03-29T21:30:00Z", 2_200).await;
    put(pool, w.meter, "2026-03-29T22:30:00Z", 2_210).await;
    let on = |day| on_day(pool, w.owner, w.meter, day);
    assert_eq!(
        at(&on(d(2026, 3, 28)).await.unwrap()).as_deref(),
        Some("2026-03-28T22:30:00+00:00")
    );
    assert_eq!(
        at(&on(d(2026, 3, 29)).await.unwrap()).as_deref(),
        Some("2026-03-29T21:30:00+00:00")
    );
    assert_eq!(
        at(&on(d(2026, 3, 30)).await.unwrap()).as_deref(),
        Some("2026-03-29T22:30:00+00:00")
    );
    // Fall back on 2026-10-25 (a 25-hour day): 23:30 CEST on the 24th, 00:30 CEST on the 25th,
    // 23:30 CET on the 25th, 00:30 CET on the 26th.
    put(pool, w.meter, "2026-10-24T21:30:00Z", 3_000).await;
    put(pool, w.meter, "2026-10-24T22:30:00Z", 3_010).await;
    put(pool, w.meter, "2026-10-25T22:30:00Z", 3_400).await;
    put(pool, w.meter, "2026-10-25T23:30:00Z", 3_410).await;
    assert_eq!(
        at(&on(d(2026, 10, 24)).await.unwrap()).as_deref(),
        Some("2026-10-24T21:30:00+00:00")
    );
    assert_eq!(
        at(&on(d(2026, 10, 25)).await.unwrap()).as_deref(),
        Some("2026-10-25T22:30:00+00:00")
    );
    assert_eq!(
        at(&on(d(2026, 10, 26)).await.unwrap()).as_deref(),
        Some("2026-10-25T23:30:00+00:00")
    );

    // By day, the 25-hour day's consumption runs from midnight CEST to midnight CET.
    let points = history_both(
        pool,
        w.owner,
        w.meter,
        d(2026, 10, 24),
        d(2026, 10, 26),
        Step::Day,
    )
    .await
    .unwrap();
    // 25 October's midnights fall halfway between readings an hour apart: 3,005 and 3,405.
    assert_eq!(
        consumptions(&points),
        vec![Some(3_005 - 2_210), Some(400), Some(5)]
    );
    let points = history_both(
        pool,
        w.owner,
        w.meter,
        d(2026, 3, 28),
        d(2026, 3, 30),
        Step::Day,
    )
    .await
    .unwrap();
    // And 29 March's (23 hours): from 2,005 to 2,205, each midnight halfway between readings.
    assert_eq!(consumptions(&points), vec![Some(2_005), Some(200), Some(5)]);
}

#[tokio::test]
async fn reading_on_a_day_after_a_long_silence_is_found_with_its_real_time() {
    let w = world().await;
    let pool = &w.db.pool;
    put(pool, w.meter, "2026-01-10T08:00:00Z", 1_500).await;
    // 100 days later: beyond the 40-day window, found by the fallback search.
    let day = on_day(pool, w.owner, w.meter, d(2026, 4, 20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(day.measured_at, t("2026-01-10T08:00:00Z"));
    assert_eq!(day.litres, 1_500);
}

#[tokio::test]
async fn a_day_out_of_range_is_refused_naming_the_field() {
    let w = world().await;
    let result = on_day(&w.db.pool, w.owner, w.meter, d(1999, 12, 31)).await;
    assert!(
        matches!(result, Err(ReadError::Invalid { field: "day", .. })),
        "{result:?}"
    );
    let result = history_both(
        &w.db.pool,
        w.owner,
        w.meter,
        d(2026, 3, 2),
        d(2026, 3, 1),
        Step::Day,
    )
    .await;
    assert!(
        matches!(result, Err(ReadError::Invalid { field: "to", .. })),
        "{result:?}"
    );
}

// --- History ------------------------------------------------------------------------------

#[tokio::test]
async fn history_by_day_spans_gaps_and_counts_a_rollover() {
    let w = world().await;
    let pool = &w.db.pool;
    // A register of 999,999 litres (999.999 m³), then back to 0.
    sqlx::query("UPDATE meters SET register_max_litres = 999999 WHERE id = $1")
        .bind(w.meter)
        .execute(pool)
        .await
        .unwrap();
    put(pool, w.meter, "2026-05-31T18:00:00Z", 999_500).await; // the day before the range
    put(pool, w.meter, "2026-06-01T18:00:00Z", 999_800).await;
    // 2 and 3 June: nothing.
    put(pool, w.meter, "2026-06-04T06:00:00Z", 200).await; // wrapped: 199 + 1 + 200 = 400
    put(pool, w.meter, "2026-06-04T18:00:00Z", 350).await; // later the same day: this one counts
    put(pool, w.meter, "2026-06-05T18:00:00Z", 100).await; // went down: not a plausible wrap
    put(pool, w.meter, "2026-06-06T18:00:00Z", 300).await;
    let points = history_both(
        pool,
        w.owner,
        w.meter,
        d(2026, 6, 1),
        d(2026, 6, 6),
        Step::Day,
    )
    .await
    .unwrap();
    let days: Vec<_> = points.iter().map(|p| p.period_start).collect();
    assert_eq!(days, (1..=6).map(|i| d(2026, 6, i)).collect::<Vec<_>>());
    // Midnights are worked out between the readings around them (the day rule):
    // 1 June starts at 999,550 (4 of the 24 hours from 999,500 to 999,800) and ends at 999,800
    // (the next reading is 60 hours later: too far to interpolate); 4 June ends at 350 (the
    // next reading went down); 6 June starts at 133 (4 of 24 hours from 100 to 300).
    assert_eq!(
        consumptions(&points),
        vec![
            Some(250),
            None,
            None,
            Some(199 + 1 + 350),
            None,
            Some(300 - 133)
        ]
    );
    assert!(points[1].reading.is_none() && points[2].reading.is_none());
    let fourth = points[3].reading.as_ref().unwrap();
    assert_eq!(fourth.measured_at, t("2026-06-04T18:00:00Z"));
    assert_eq!(fourth.litres, 350);
}

#[tokio::test]
async fn first_day_of_a_history_counts_from_a_reading_long_before_it() {
    let w = world().await;
    let pool = &w.db.pool;
    put(pool, w.meter, "2026-02-01T10:00:00Z", 10_000).await;
    put(pool, w.meter, "2026-05-10T10:00:00Z", 25_000).await;
    let points = history_both(
        pool,
        w.owner,
        w.meter,
        d(2026, 5, 10),
        d(2026, 5, 11),
        Step::Day,
    )
    .await
    .unwrap();
    assert_eq!(consumptions(&points), vec![Some(15_000), None]);
}

#[tokio::test]
async fn first_reading_of_a_meter_counts_from_its_installation_reading() {
    let w = world().await;
    let pool = &w.db.pool;
    sqlx::query(
        "UPDATE meters SET installed_at = '2026-05-09T09:00:00Z', install_reading_litres = 700
         WHERE id = $1",
    )
    .bind(w.meter)
    .execute(pool)
    .await
    .unwrap();
    put(pool, w.meter, "2026-05-10T10:00:00Z", 1_000).await;
    let points = history_both(
        pool,
        w.owner,
        w.meter,
        d(2026, 5, 8),
        d(2026, 5, 10),
        Step::Day,
    )
    .await
    .unwrap();
    // Nothing before the installation: 9 May counts from it (700 at 09:00 UTC) to its end
    // midnight, 13 of the 25 hours to the first reading (856); 10 May from there.
    assert_eq!(consumptions(&points), vec![None, Some(156), Some(144)]);
}

#[tokio::test]
async fn billing_readings_are_the_registers_at_each_warsaw_months_end() {
    let w = world().await;
    let pool = &w.db.pool;
    put(pool, w.meter, "2026-01-31T20:00:00Z", 10_000).await;
    // 31 January 23:30 in Warsaw is still January.
    put(pool, w.meter, "2026-01-31T22:30:00Z", 10_050).await;
    put(pool, w.meter, "2026-02-14T12:00:00Z", 12_000).await;
    // 28 February 23:30 UTC is 1 March in Warsaw.
    put(pool, w.meter, "2026-02-28T23:30:00Z", 14_000).await;
    put(pool, w.meter, "2026-03-31T21:00:00Z", 16_500).await;
    let points = billing_both(pool, w.owner, w.meter, d(2026, 1, 15), d(2026, 4, 2))
        .await
        .unwrap();
    let months: Vec<_> = points.iter().map(|p| p.period_start).collect();
    assert_eq!(
        months,
        vec![d(2026, 1, 1), d(2026, 2, 1), d(2026, 3, 1), d(2026, 4, 1)]
    );
    let litres: Vec<_> = points
        .iter()
        .map(|p| p.reading.as_ref().map(|r| r.litres))
        .collect();
    assert_eq!(litres, vec![Some(10_050), Some(12_000), Some(16_500), None]);
    assert_eq!(
        consumptions(&points),
        vec![Some(10_050), Some(1_950), Some(4_500), None]
    );
    // Every month's end midnight lies in a gap of more than 50 hours: the register there is
    // the last reading before it, with its own time, not an interpolation.
    let ends: Vec<_> = points
        .iter()
        .map(|p| p.end.map(|e| (e.litres, e.interpolated)))
        .collect();
    assert_eq!(
        ends,
        vec![
            Some((10_050, false)),
            Some((12_000, false)),
            Some((16_500, false)),
            Some((16_500, false))
        ]
    );
}

#[tokio::test]
async fn a_former_tenant_sees_readings_only_until_their_contract_ended() {
    let w = world().await;
    let pool = &w.db.pool;
    put(pool, w.meter, "2026-03-30T10:00:00Z", 1_000).await;
    put(pool, w.meter, "2026-03-31T10:00:00Z", 1_100).await;
    put(pool, w.meter, "2026-04-01T10:00:00Z", 1_300).await; // the next tenant's
    sqlx::query(
        "UPDATE contracts SET valid_until = '2026-03-31', status = 'terminated' WHERE id = $1",
    )
    .bind(w.contract)
    .execute(pool)
    .await
    .unwrap();
    let now = current(pool, w.owner, w.meter).await.unwrap().unwrap();
    assert_eq!(now.litres, 1_100);
    let later = on_day(pool, w.owner, w.meter, d(2026, 4, 10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(later.litres, 1_100);
    let points = history_both(
        pool,
        w.owner,
        w.meter,
        d(2026, 3, 30),
        d(2026, 4, 1),
        Step::Day,
    )
    .await
    .unwrap();
    // The first day counts from the installation reading (0) to its midnight, halfway to the next
    // reading (1,050); the last day ends at the handover midnight, halfway from 1,100 to the next
    // tenant's first reading (1,200); the next tenant's day is empty.
    assert_eq!(consumptions(&points), vec![Some(1_050), Some(150), None]);
    assert_eq!(points[1].end.unwrap().litres, 1_200);
    assert!(points[2].end.is_none());
    assert!(points[2].reading.is_none());
}

#[tokio::test]
async fn a_new_tenant_does_not_see_days_before_their_contract() {
    let w = world().await;
    let pool = &w.db.pool;
    put(pool, w.meter, "2026-03-30T10:00:00Z", 1_000).await;
    put(pool, w.meter, "2026-03-31T10:00:00Z", 1_100).await;
    put(pool, w.meter, "2026-04-01T10:00:00Z", 1_300).await;
    sqlx::query("UPDATE contracts SET valid_from = '2026-04-01' WHERE id = $1")
        .bind(w.contract)
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(
        on_day(pool, w.owner, w.meter, d(2026, 3, 31))
            .await
            .unwrap(),
        None
    );
    let points = history_both(
        pool,
        w.owner,
        w.meter,
        d(2026, 3, 30),
        d(2026, 4, 1),
        Step::Day,
    )
    .await
    .unwrap();
    // Their first day counts from the register at the handover midnight (halfway from the
    // previous tenant's 1,100 to 1,300), so each household pays for its own water.
    assert_eq!(consumptions(&points), vec![None, None, Some(100)]);
    // A range that ends days before their first day (the previous tenant's readings after it)
    // is empty, not an error.
    let before = history_both(
        pool,
        w.owner,
        w.meter,
        d(2026, 3, 1),
        d(2026, 3, 28),
        Step::Day,
    )
    .await
    .unwrap();
    assert!(
        before
            .iter()
            .all(|p| p.end.is_none() && p.consumption_litres.is_none())
    );
    assert!(points[0].reading.is_none() && points[1].reading.is_none());
}

/// The day rule: a meter that reports once a day at 00:30 gives each day its own water (not the
/// day before's), and a month's register is the one at its end midnight, not the reading of its
/// last day's 00:30.
#[tokio::test]
async fn a_meter_reporting_at_half_past_midnight_gives_each_day_and_month_its_own_water() {
    let w = world().await;
    let pool = &w.db.pool;
    // 00:30 in Warsaw (CET) is 23:30 UTC the day before: 28 November 00:30 to 2 December 00:30,
    // 240 litres a day, 5 of them in each half hour after midnight.
    for (i, at) in [
        "2026-11-27T23:30:00Z",
        "2026-11-28T23:30:00Z",
        "2026-11-29T23:30:00Z",
        "2026-11-30T23:30:00Z",
        "2026-12-01T23:30:00Z",
    ]
    .into_iter()
    .enumerate()
    {
        put(pool, w.meter, at, 10_000 + 240 * i as i64).await;
    }
    let points = history_both(
        pool,
        w.owner,
        w.meter,
        d(2026, 11, 29),
        d(2026, 12, 1),
        Step::Day,
    )
    .await
    .unwrap();
    assert_eq!(consumptions(&points), vec![Some(240), Some(240), Some(240)]);
    assert!(points.iter().all(|p| p.consumption_interpolated));
    let november_end = points[1].end.unwrap();
    assert_eq!(november_end.at, t("2026-11-30T23:00:00Z"));
    assert_eq!(november_end.litres, 10_720 - 5);

    let months = billing_both(pool, w.owner, w.meter, d(2026, 11, 1), d(2026, 11, 30))
        .await
        .unwrap();
    assert_eq!(months.len(), 1);
    assert_eq!(months[0].end, Some(november_end));
    assert!(november_end.interpolated);
    // The reading shown is still the month's last, as the meter sent it.
    assert_eq!(months[0].reading.as_ref().unwrap().litres, 10_480);
}
