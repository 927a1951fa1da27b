//! Self-readings against a real PostgreSQL: accepted readings are stored with source `manual`
//! together with the audit entry and the photo; each plausibility rule refuses naming its
//! field; radio meters, other residents' meters, photos that are too big or not images and
//! duplicates are refused; and a manual reading never moves the latest reading back.

use chrono::{DateTime, Duration, Utc};
use ebok_readings::access::Viewer;
use ebok_readings::self_reading::{MAX_PHOTO_BYTES, Photo, Rule, SelfReadingError, submit};
use ebok_testkit::{TestDb, fixtures};
use sqlx::PgPool;

struct World {
    db: TestDb,
    owner: Viewer,
    neighbour: Viewer,
    stranger: Viewer,
    /// The owner's manual meter.
    meter: i64,
    contract: i64,
    point: i64,
}

async fn household(pool: &PgPool, utility_id: i64, email: &str) -> (Viewer, i64, i64, i64) {
    let home = fixtures::household(pool, utility_id, email).await;
    let viewer = Viewer {
        utility_id,
        account_id: home.account_id,
    };
    (
        viewer,
        home.meter_id,
        home.contract_id,
        home.supply_point_id,
    )
}

async fn world() -> World {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, "alfa").await;
    let other_utility = fixtures::utility(pool, "beta").await;
    let (owner, meter, contract, point) = household(pool, utility, "owner@example.pl").await;
    let (neighbour, ..) = household(pool, utility, "neighbour@example.pl").await;
    let (stranger, ..) = household(pool, other_utility, "stranger@example.pl").await;
    sqlx::query(
        "UPDATE meters SET channel = 'manual', installed_at = now() - interval '400 days',
                           install_reading_litres = 0",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("UPDATE contracts SET valid_from = current_date - 400")
        .execute(pool)
        .await
        .unwrap();
    World {
        db,
        owner,
        neighbour,
        stranger,
        meter,
        contract,
        point,
    }
}

async fn put(pool: &PgPool, meter: i64, at: DateTime<Utc>, litres: i64) {
    sqlx::query("SELECT ebok_ensure_reading_partitions($1, $1)")
        .bind(at)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
         VALUES ($1, $2, $3, 'manual')",
    )
    .bind(meter)
    .bind(at)
    .bind(litres)
    .execute(pool)
    .await
    .unwrap();
}

async fn latest(pool: &PgPool, meter: i64) -> Option<(DateTime<Utc>, i64, String)> {
    sqlx::query_as(
        "SELECT measured_at, volume_litres, source::text FROM meter_latest_readings
         WHERE meter_id = $1",
    )
    .bind(meter)
    .fetch_optional(pool)
    .await
    .unwrap()
}

async fn count(pool: &PgPool, sql: &str, meter: i64) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(meter)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn stored(pool: &PgPool, meter: i64) -> (i64, i64, i64) {
    (
        count(pool, "SELECT count(*) FROM meter_readings WHERE meter_id = $1", meter).await,
        count(pool, "SELECT count(*) FROM self_readings WHERE meter_id = $1", meter).await,
        count(
            pool,
            "SELECT count(*) FROM audit_log WHERE entity_type = 'meter' AND entity_id = ($1::bigint)::text",
            meter,
        )
        .await,
    )
}

fn implausible(result: Result<impl std::fmt::Debug, SelfReadingError>) -> (&'static str, Rule) {
    match result {
        Err(SelfReadingError::Implausible(i)) => {
            assert!(!i.message.is_empty());
            (i.field, i.rule)
        }
        other => panic!("expected an implausible reading, got {other:?}"),
    }
}

fn invalid(result: Result<impl std::fmt::Debug, SelfReadingError>) -> (&'static str, String) {
    match result {
        Err(SelfReadingError::Invalid { field, detail }) => (field, detail),
        other => panic!("expected an invalid request, got {other:?}"),
    }
}

fn png() -> Photo {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend_from_slice(&[0; 64]);
    Photo {
        // What the client claims does not matter: the bytes do.
        content_type: "application/octet-stream".into(),
        bytes,
    }
}

#[tokio::test]
async fn a_self_reading_is_stored_as_manual_with_audit_and_photo() {
    let w = world().await;
    let pool = &w.db.pool;
    let last_at = Utc::now() - Duration::days(30);
    put(pool, w.meter, last_at, 100_000).await;
    let at = Utc::now() - Duration::minutes(5);
    let done = submit(pool, w.owner, w.meter, 104_500, at, Some(png()))
        .await
        .unwrap();
    assert_eq!(done.reading.litres, 104_500);
    assert_eq!(done.reading.source, "manual");
    assert_eq!(done.consumption_litres, Some(4_500));
    assert!(done.became_latest && done.photo_stored);

    let (latest_at, litres, source) = latest(pool, w.meter).await.unwrap();
    assert_eq!(
        (latest_at.timestamp_micros(), litres, source.as_str()),
        (at.timestamp_micros(), 104_500, "manual")
    );
    let (content_type, size, by): (String, i32, i64) = sqlx::query_as(
        "SELECT photo_content_type, octet_length(photo), submitted_by FROM self_readings WHERE id = $1",
    )
    .bind(done.self_reading_id)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        (content_type.as_str(), size as usize, by),
        ("image/png", png().bytes.len(), w.owner.account_id)
    );
    let (action, actor): (String, i64) = sqlx::query_as(
        "SELECT action, actor_account_id FROM audit_log WHERE entity_type = 'meter' AND entity_id = $1",
    )
    .bind(w.meter.to_string())
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        (action.as_str(), actor),
        ("meter_reading.self_submitted", w.owner.account_id)
    );
    let source: String = sqlx::query_scalar(
        "SELECT source::text FROM meter_readings WHERE meter_id = $1 AND measured_at = $2",
    )
    .bind(w.meter)
    .bind(at)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(source, "manual");
}

#[tokio::test]
async fn the_first_self_reading_counts_from_the_installation_reading() {
    let w = world().await;
    let pool = &w.db.pool;
    let done = submit(pool, w.owner, w.meter, 80_000, Utc::now(), None)
        .await
        .unwrap();
    assert_eq!(done.consumption_litres, Some(80_000));
    assert!(!done.photo_stored);
}

#[tokio::test]
async fn each_plausibility_rule_refuses_naming_its_field() {
    let w = world().await;
    let pool = &w.db.pool;
    let now = Utc::now();
    let last_at = now - Duration::days(10);
    put(pool, w.meter, last_at, 100_000).await;
    let cases: Vec<(i64, DateTime<Utc>, (&str, Rule))> = vec![
        (-1, now, ("litres", Rule::Negative)),
        (100_000_000, now, ("litres", Rule::AboveRegister)),
        (100_500, now + Duration::hours(1), ("at", Rule::InFuture)),
        (
            100_500,
            now - Duration::days(500),
            ("at", Rule::BeforeInstallation),
        ),
        (
            100_500,
            last_at - Duration::days(1),
            ("at", Rule::NotNewest),
        ),
        (99_000, now, ("litres", Rule::LowerThanLast)),
        // Ten days at most 10 m³ a day: 100 m³ allowed, 100.001 m³ is not.
        (200_001, now, ("litres", Rule::TooHigh)),
    ];
    for (litres, at, expected) in cases {
        let result = submit(pool, w.owner, w.meter, litres, at, None).await;
        assert_eq!(implausible(result), expected, "{litres} at {at}");
    }
    // Nothing was stored by any of them.
    assert_eq!(stored(pool, w.meter).await, (1, 0, 0));
    // Just within the cap is accepted.
    assert!(
        submit(pool, w.owner, w.meter, 190_000, now, None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_radio_meter_does_not_take_self_readings() {
    let w = world().await;
    let pool = &w.db.pool;
    sqlx::query("UPDATE meters SET channel = 'wmbus' WHERE id = $1")
        .bind(w.meter)
        .execute(pool)
        .await
        .unwrap();
    let (field, detail) = invalid(submit(pool, w.owner, w.meter, 1_000, Utc::now(), None).await);
    assert_eq!(field, "meter_id");
    assert!(detail.contains("radiow"), "{detail}");
    assert_eq!(stored(pool, w.meter).await, (0, 0, 0));
}

#[tokio::test]
async fn another_resident_or_utility_cannot_submit_and_learns_nothing() {
    let w = world().await;
    let pool = &w.db.pool;
    for viewer in [w.neighbour, w.stranger] {
        let result = submit(pool, viewer, w.meter, 1_000, Utc::now(), None).await;
        assert!(
            matches!(result, Err(SelfReadingError::MeterNotFound)),
            "{result:?}"
        );
    }
    assert_eq!(stored(pool, w.meter).await, (0, 0, 0));
}

#[tokio::test]
async fn a_former_tenant_cannot_submit() {
    let w = world().await;
    let pool = &w.db.pool;
    sqlx::query(
        "UPDATE contracts SET valid_until = current_date - 10, status = 'terminated' WHERE id = $1",
    )
    .bind(w.contract)
    .execute(pool)
    .await
    .unwrap();
    let (field, _) = invalid(submit(pool, w.owner, w.meter, 1_000, Utc::now(), None).await);
    assert_eq!(field, "meter_id");
}

#[tokio::test]
async fn a_photo_too_big_or_not_an_image_is_refused() {
    let w = world().await;
    let pool = &w.db.pool;
    let mut big = png();
    big.bytes.resize(MAX_PHOTO_BYTES + 1, 0);
    let (field, detail) =
        invalid(submit(pool, w.owner, w.meter, 1_000, Utc::now(), Some(big)).await);
    assert_eq!(field, "photo");
    assert!(detail.contains("5 MB"), "{detail}");
    let svg = Photo {
        content_type: "image/jpeg".into(),
        bytes: b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"
            .to_vec(),
    };
    let (field, _) = invalid(submit(pool, w.owner, w.meter, 1_000, Utc::now(), Some(svg)).await);
    assert_eq!(field, "photo");
    assert_eq!(stored(pool, w.meter).await, (0, 0, 0));
    // Exactly 5 MB is fine.
    let mut max = png();
    max.bytes.resize(MAX_PHOTO_BYTES, 0);
    assert!(
        submit(pool, w.owner, w.meter, 1_000, Utc::now(), Some(max))
            .await
            .unwrap()
            .photo_stored
    );
}

#[tokio::test]
async fn the_same_instant_twice_is_a_duplicate() {
    let w = world().await;
    let pool = &w.db.pool;
    let at = Utc::now() - Duration::hours(1);
    submit(pool, w.owner, w.meter, 1_000, at, None)
        .await
        .unwrap();
    let again = submit(pool, w.owner, w.meter, 1_000, at, None).await;
    assert!(
        matches!(again, Err(SelfReadingError::Duplicate)),
        "{again:?}"
    );
    assert_eq!(stored(pool, w.meter).await, (1, 1, 1));
}

#[tokio::test]
async fn a_manual_reading_never_moves_the_latest_reading_back() {
    let w = world().await;
    let pool = &w.db.pool;
    // "Latest" already holds a newer reading than any stored one (as when another writer's
    // newer reading is reflected there first).
    let newer = Utc::now() - Duration::minutes(1);
    sqlx::query(
        "INSERT INTO meter_latest_readings (meter_id, measured_at, volume_litres, source, received_at)
         VALUES ($1, $2, 5000, 'radio', now())",
    )
    .bind(w.meter)
    .bind(newer)
    .execute(pool)
    .await
    .unwrap();
    let done = submit(
        pool,
        w.owner,
        w.meter,
        4_000,
        Utc::now() - Duration::hours(2),
        None,
    )
    .await
    .unwrap();
    assert!(!done.became_latest);
    let (at, litres, source) = latest(pool, w.meter).await.unwrap();
    assert_eq!(
        (at.timestamp_micros(), litres, source.as_str()),
        (newer.timestamp_micros(), 5_000, "radio")
    );
}

#[tokio::test]
async fn a_replacement_meter_counts_from_its_installation_reading() {
    let w = world().await;
    let pool = &w.db.pool;
    // The old meter comes off a week ago; the new one goes in at 500 litres.
    let swapped = Utc::now() - Duration::days(7);
    put(pool, w.meter, swapped - Duration::days(20), 350_000).await;
    sqlx::query("UPDATE meters SET removed_at = $2, removal_reading_litres = 351000 WHERE id = $1")
        .bind(w.meter)
        .bind(swapped)
        .execute(pool)
        .await
        .unwrap();
    let utility = w.owner.utility_id;
    let new_meter: i64 = sqlx::query_scalar(
        "INSERT INTO meters (utility_id, serial, channel, register_max_litres, supply_point_id,
                             installed_at, install_reading_litres, replaces_meter_id)
         VALUES ($1, 'NEW-1', 'manual', 99999999, $2, $3, 500, $4) RETURNING id",
    )
    .bind(utility)
    .bind(w.point)
    .bind(swapped)
    .bind(w.meter)
    .fetch_one(pool)
    .await
    .unwrap();
    let (field, rule) = implausible(submit(pool, w.owner, new_meter, 400, Utc::now(), None).await);
    assert_eq!((field, rule), ("litres", Rule::LowerThanLast));
    let done = submit(pool, w.owner, new_meter, 2_500, Utc::now(), None)
        .await
        .unwrap();
    assert_eq!(done.consumption_litres, Some(2_000));
    // The old meter takes no more readings.
    let (field, rule) =
        implausible(submit(pool, w.owner, w.meter, 352_000, Utc::now(), None).await);
    assert_eq!((field, rule), ("at", Rule::AfterRemoval));
}
