//! The schema's own guarantees, checked against the real PostgreSQL: tenants cannot point at each
//! other's rows, a supply point has one contract and one meter per position at a time, readings
//! are unique per meter and instant and land in monthly partitions (plain PostgreSQL) or 7-day
//! chunks (TimescaleDB), the audit log is append-only, and the migrations and the committed
//! offline query data match the database.

use ebok_common::db::{MigrationState, migration_state};
use ebok_testkit::db::{Store, expected_store, store};
use ebok_testkit::{TestDb, fixtures};

fn sqlstate(error: sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => db.code().unwrap_or_default().into_owned(),
        other => panic!("expected a database error, got {other}"),
    }
}

#[tokio::test]
async fn fresh_database_has_current_migrations() {
    let db = TestDb::new().await;
    assert_eq!(
        migration_state(&db.pool).await.unwrap(),
        MigrationState::Current
    );
}

#[tokio::test]
async fn meter_cannot_be_installed_at_another_utilitys_supply_point() {
    let db = TestDb::new().await;
    let a = fixtures::utility(&db.pool, "alfa").await;
    let b = fixtures::utility(&db.pool, "beta").await;
    let point_of_b = fixtures::supply_point(&db.pool, b).await;
    let err = sqlx::query(
        "INSERT INTO meters (utility_id, serial, channel, register_max_litres, supply_point_id,
                             installed_at)
         VALUES ($1, 'X1', 'wmbus', 99999999, $2, now())",
    )
    .bind(a)
    .bind(point_of_b)
    .execute(&db.pool)
    .await
    .unwrap_err();
    assert_eq!(sqlstate(err), "23503", "foreign key violation expected");
}

#[tokio::test]
async fn account_cannot_be_linked_to_another_utilitys_customer() {
    let db = TestDb::new().await;
    let a = fixtures::utility(&db.pool, "alfa").await;
    let b = fixtures::utility(&db.pool, "beta").await;
    let account = fixtures::resident_account(&db.pool, a, "anna@example.com").await;
    let customer_of_b = fixtures::person(&db.pool, b).await;
    for utility in [a, b] {
        let err = sqlx::query(
            "INSERT INTO account_customers (utility_id, account_id, customer_id, linked_via)
             VALUES ($1, $2, $3, 'staff')",
        )
        .bind(utility)
        .bind(account)
        .bind(customer_of_b)
        .execute(&db.pool)
        .await
        .unwrap_err();
        assert_eq!(sqlstate(err), "23503");
    }
}

#[tokio::test]
async fn overlapping_active_contracts_for_one_supply_point_are_refused() {
    let db = TestDb::new().await;
    let u = fixtures::utility(&db.pool, "alfa").await;
    let point = fixtures::supply_point(&db.pool, u).await;
    let group = fixtures::tariff_group(&db.pool, u).await;
    let first = fixtures::person(&db.pool, u).await;
    let second = fixtures::person(&db.pool, u).await;
    let insert =
        |number: &'static str, customer: i64, from: &'static str, until: Option<&'static str>| {
            sqlx::query(
                "INSERT INTO contracts (utility_id, number, customer_id, supply_point_id,
                                    tariff_group_id, valid_from, valid_until, status, signed_at)
             VALUES ($1, $2, $3, $4, $5, $6::date, $7::date, 'active', now())",
            )
            .bind(u)
            .bind(number)
            .bind(customer)
            .bind(point)
            .bind(group)
            .bind(from)
            .bind(until)
            .execute(&db.pool)
        };
    insert("U/1", first, "2025-01-01", Some("2026-06-30"))
        .await
        .unwrap();
    let err = insert("U/2", second, "2026-06-30", None).await.unwrap_err();
    assert_eq!(
        sqlstate(err),
        "23P01",
        "exclusion violation on the shared last day"
    );
    insert("U/3", second, "2026-07-01", None).await.unwrap();
}

#[tokio::test]
async fn two_main_meters_at_one_point_at_once_are_refused_but_a_replacement_is_not() {
    let db = TestDb::new().await;
    let u = fixtures::utility(&db.pool, "alfa").await;
    let point = fixtures::supply_point(&db.pool, u).await;
    let old = fixtures::meter(&db.pool, u, Some(point)).await;
    let err = sqlx::query(
        "INSERT INTO meters (utility_id, serial, channel, register_max_litres, supply_point_id,
                             installed_at)
         VALUES ($1, 'NEW', 'wmbus', 99999999, $2, now())",
    )
    .bind(u)
    .bind(point)
    .execute(&db.pool)
    .await
    .unwrap_err();
    assert_eq!(sqlstate(err), "23P01");

    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query(
        "UPDATE meters SET removed_at = now(), removal_reading_litres = 123456 WHERE id = $1",
    )
    .bind(old)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO meters (utility_id, serial, channel, register_max_litres, supply_point_id,
                             installed_at, install_reading_litres, replaces_meter_id)
         VALUES ($1, 'NEW', 'wmbus', 99999999, $2, now(), 0, $3)",
    )
    .bind(u)
    .bind(point)
    .bind(old)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_reading_is_unique_per_meter_and_instant() {
    let db = TestDb::new().await;
    let u = fixtures::utility(&db.pool, "alfa").await;
    let point = fixtures::supply_point(&db.pool, u).await;
    let meter = fixtures::meter(&db.pool, u, Some(point)).await;
    let insert = |litres: i64| {
        sqlx::query(
            "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
             VALUES ($1, '2026-11-01T02:00:00Z', $2, 'radio')",
        )
        .bind(meter)
        .bind(litres)
        .execute(&db.pool)
    };
    insert(1000).await.unwrap();
    assert_eq!(sqlstate(insert(1000).await.unwrap_err()), "23505");
}

/// `scripts/test.sh` runs these tests once on each store; a pass meant for TimescaleDB must not
/// quietly run on plain PostgreSQL (a server that lost the preload, a migration that missed it).
#[tokio::test]
async fn the_readings_are_stored_as_the_test_runner_asked() {
    let db = TestDb::new().await;
    let store = store(&db.pool).await;
    let extension: Option<String> =
        sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
            .fetch_optional(&db.pool)
            .await
            .unwrap();
    assert_eq!(extension.is_some(), store == Store::Timescale);
    if let Some(expected) = expected_store() {
        assert_eq!(store, expected);
    }
}

#[tokio::test]
async fn readings_land_in_weekly_chunks_on_timescaledb() {
    let db = TestDb::new().await;
    if store(&db.pool).await != Store::Timescale {
        return; // the monthly partitions of plain PostgreSQL are checked below
    }
    let u = fixtures::utility(&db.pool, "alfa").await;
    let meter = fixtures::meter(&db.pool, u, None).await;
    // Any instant is taken at once, years back or ahead: chunks are made as needed.
    for at in [
        "2019-03-15T10:00:00Z",
        "2019-03-16T10:00:00Z",
        "2031-01-01T00:00:00Z",
    ] {
        sqlx::query(
            "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
             VALUES ($1, $2::timestamptz, 5, 'manual')",
        )
        .bind(meter)
        .bind(at)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let (chunks, width): (i64, String) = sqlx::query_as(
        "SELECT count(*), max(range_end - range_start)::text FROM timescaledb_information.chunks
         WHERE hypertable_name = 'meter_readings'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((chunks, width.as_str()), (2, "7 days"));
    let created: i32 = sqlx::query_scalar(
        "SELECT ebok_ensure_reading_partitions('2019-03-15T10:00:00Z', '2019-03-15T10:00:00Z')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(created, 0, "nothing to create on a hypertable");
}

#[tokio::test]
async fn readings_land_in_monthly_partitions_created_on_demand() {
    let db = TestDb::new().await;
    if store(&db.pool).await != Store::Plain {
        return; // TimescaleDB's chunks are checked above
    }
    let u = fixtures::utility(&db.pool, "alfa").await;
    let meter = fixtures::meter(&db.pool, u, None).await;
    let insert_old = || {
        sqlx::query(
            "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
             VALUES ($1, '2019-03-15T10:00:00Z', 5, 'manual')",
        )
        .bind(meter)
        .execute(&db.pool)
    };
    assert_eq!(
        sqlstate(insert_old().await.unwrap_err()),
        "23514",
        "no partition yet"
    );
    let created: i32 = sqlx::query_scalar(
        "SELECT ebok_ensure_reading_partitions('2019-03-15T10:00:00Z', '2019-03-15T10:00:00Z')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(created, 1);
    insert_old().await.unwrap();
    let partition: String = sqlx::query_scalar(
        "SELECT tableoid::regclass::text FROM meter_readings WHERE meter_id = $1",
    )
    .bind(meter)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(partition, "meter_readings_2019_03");
    let again: i32 = sqlx::query_scalar(
        "SELECT ebok_ensure_reading_partitions('2019-03-01T00:00:00Z', '2019-03-31T23:59:59Z')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(again, 0, "idempotent");
}

#[tokio::test]
async fn partitions_exist_three_months_ahead_after_migration() {
    let db = TestDb::new().await;
    if store(&db.pool).await != Store::Plain {
        return; // TimescaleDB makes chunks as readings come
    }
    let ahead: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_inherits
         WHERE inhparent = 'meter_readings'::regclass
           AND inhrelid::regclass::text >= 'meter_readings_' || to_char(now() + interval '3 months', 'YYYY_MM')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(ahead >= 1);
}

#[tokio::test]
async fn audit_log_refuses_update_delete_and_truncate() {
    let db = TestDb::new().await;
    let u = fixtures::utility(&db.pool, "alfa").await;
    let mut conn = db.pool.acquire().await.unwrap();
    let id = ebok_common::audit::record(
        &mut conn,
        &ebok_common::audit::AuditEntry {
            utility_id: Some(u),
            actor: ebok_common::audit::Actor::System,
            action: "utility.created",
            entity_type: Some("utility"),
            entity_id: Some(u.to_string()),
            details: serde_json::json!({}),
            request_id: None,
        },
    )
    .await
    .unwrap();
    for sql in [
        "UPDATE audit_log SET action = 'utility.deleted'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let err = sqlx::query(sql).execute(&mut *conn).await.unwrap_err();
        assert_eq!(sqlstate(err), "42501", "{sql}");
    }
    let action: String = sqlx::query_scalar("SELECT action FROM audit_log WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(action, "utility.created");
}

#[tokio::test]
async fn outbox_enqueue_is_idempotent_per_dedup_key() {
    use ebok_common::outbox::{Addressee, OutboxEvent, enqueue};
    let db = TestDb::new().await;
    let u = fixtures::utility(&db.pool, "alfa").await;
    let customer = fixtures::person(&db.pool, u).await;
    let event = OutboxEvent {
        utility_id: u,
        event: ebok_common::outbox::Event::MeterAlarmRaised(ebok_common::outbox::MeterAlarm {
            alarm_id: 1,
            meter_id: 1,
            alarm: ebok_common::domain::AlarmKind::Leak,
            at: chrono::Utc::now(),
        }),
        to: Addressee::Customer(customer),
        dedup_key: Some("leak:1:2026-11-01".into()),
    };
    let mut conn = db.pool.acquire().await.unwrap();
    assert!(enqueue(&mut conn, &event).await.unwrap().is_some());
    assert!(enqueue(&mut conn, &event).await.unwrap().is_none());
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE status = 'pending'")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(pending, 1);
}

#[tokio::test]
async fn outbox_refuses_a_recipient_of_another_utility() {
    use ebok_common::outbox::{Addressee, OutboxEvent, enqueue};
    let db = TestDb::new().await;
    let a = fixtures::utility(&db.pool, "alfa").await;
    let b = fixtures::utility(&db.pool, "beta").await;
    let customer_of_b = fixtures::person(&db.pool, b).await;
    let mut conn = db.pool.acquire().await.unwrap();
    let err = enqueue(
        &mut conn,
        &OutboxEvent {
            utility_id: a,
            event: ebok_common::outbox::Event::PaymentReceived(
                ebok_common::outbox::PaymentReceived {
                    payment_id: 1,
                    amount_grosze: ebok_common::domain::Money::from_grosze(100),
                },
            ),
            to: Addressee::Customer(customer_of_b),
            dedup_key: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(sqlstate(err), "23503");
}

/// The `.sqlx/` data committed for offline builds must describe each query's columns and
/// parameters exactly as the migrated schema does now; a stale file would compile against a
/// schema that no longer exists. (Nullability is left out: for outer joins sqlx infers it from
/// the query plan, which is not stable between two databases.)
#[tokio::test]
async fn committed_offline_query_data_matches_the_schema() {
    use sqlx::Executor;
    let db = TestDb::new().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".sqlx");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect(".sqlx/ exists (scripts/sqlx-prepare.sh)") {
        let path = entry.unwrap().path();
        let stored: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let query = stored["query"].as_str().unwrap();
        let live = db
            .pool
            .describe(sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(
                query.to_string(),
            )))
            .await
            .unwrap_or_else(|e| panic!("{} no longer prepares: {e}", path.display()));
        let live = serde_json::to_value(&live).unwrap();
        for part in ["columns", "parameters"] {
            assert_eq!(
                live[part],
                stored["describe"][part],
                "{} is stale ({part}): run scripts/sqlx-prepare.sh",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no offline query data found");
}

/// `ebok_address`: one line of an address as Poles write it, the one style of every page,
/// notice and e-mail.
#[tokio::test]
async fn addresses_are_written_as_poles_write_them() {
    let db = TestDb::new().await;
    let address = async |street: Option<&str>,
                         building: Option<&str>,
                         apartment: Option<&str>,
                         city: &str,
                         post_town: Option<&str>| {
        sqlx::query_scalar::<_, Option<String>>("SELECT ebok_address($1, $2, $3, '14-420', $4, $5)")
            .bind(street)
            .bind(building)
            .bind(apartment)
            .bind(city)
            .bind(post_town)
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    assert_eq!(
        address(Some("Lipowa"), Some("1"), Some("2"), "Młynary", None).await,
        Some("Lipowa 1/2, 14-420 Młynary".into())
    );
    assert_eq!(
        address(
            Some("Plac Wolności"),
            Some("3A"),
            None,
            "Młynary",
            Some("Młynary")
        )
        .await,
        Some("Plac Wolności 3A, 14-420 Młynary".into())
    );
    // A village without streets: its name and the number, then its post office's town.
    assert_eq!(
        address(None, Some("1"), None, "Kurowo", Some("Młynary")).await,
        Some("Kurowo 1, 14-420 Młynary".into())
    );
    // A street in a place whose post office is elsewhere.
    assert_eq!(
        address(Some("Lipowa"), Some("1"), None, "Kurowo", Some("Młynary")).await,
        Some("Lipowa 1, Kurowo, 14-420 Młynary".into())
    );
    assert_eq!(address(None, None, None, "Kurowo", None).await, None);
}
