//! firmware-sim → Mosquitto → `ebok ingest` (a real process) → PostgreSQL, compared with the
//! simulator's manifest of what the broker acknowledged: every valid reading stored exactly
//! once, every bad item rejected (or quarantined) for its reason — also when ingest is killed
//! with SIGKILL mid-stream, when the broker restarts, and when the database restarts. The
//! simulator publishes as a gateway account of the test utility, ingest logs in as itself.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ebok::stack::{LocalStack, Wanted};
use ebok_common::config::StackConfig;
use ebok_testkit::{TestDb, fixtures, mqtt};
use firmware_sim::garbage::GarbageRates;
use firmware_sim::model::FleetSpec;
use firmware_sim::publish::{self, Broker, Manifest, SimConfig, SimReport};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use support::{ebok, read_until, stderr_lines};
use tokio::process::Child;
use tokio_util::sync::CancellationToken;

const UTILITY: &str = "alfa";

/// Registers the fleet's meters (and replacements made before `until`) as installed meters.
async fn register_fleet(
    pool: &PgPool,
    utility_id: i64,
    fleet: &FleetSpec,
    n: u64,
    until: DateTime<Utc>,
) {
    for model in fleet.meters(0..n) {
        let point = fixtures::supply_point(pool, utility_id).await;
        let installed = fleet.start - chrono::Duration::days(1);
        let replacement = model.replacement().filter(|r| r.at <= until);
        let old: i64 = sqlx::query_scalar(
            "INSERT INTO meters (utility_id, serial, radio_id, channel, register_max_litres,
                                 diameter_mm, supply_point_id, installed_at, removed_at)
             VALUES ($1, $2, $3, 'wmbus', $4, 20, $5, $6, $7) RETURNING id",
        )
        .bind(utility_id)
        .bind(model.serial().to_string())
        .bind(format!("{:08x}", model.radio_id().0))
        .bind(model.register_max() as i64)
        .bind(point)
        .bind(installed)
        .bind(replacement.map(|r| r.at))
        .fetch_one(pool)
        .await
        .unwrap();
        if let Some(r) = replacement {
            sqlx::query(
                "INSERT INTO meters (utility_id, serial, radio_id, channel, register_max_litres,
                                     diameter_mm, supply_point_id, installed_at, replaces_meter_id)
                 VALUES ($1, $2, $3, 'wmbus', $4, 20, $5, $6, $7)",
            )
            .bind(utility_id)
            .bind(r.new_serial.to_string())
            .bind(format!("{:08x}", r.new_radio_id.0))
            .bind(model.register_max() as i64)
            .bind(point)
            .bind(r.at)
            .bind(old)
            .execute(pool)
            .await
            .unwrap();
        }
    }
}

/// A configuration file for `ebok ingest`, listening to this test's topics only.
struct IngestSetup {
    _dir: tempfile::TempDir,
    config: PathBuf,
}

/// The topic filters of an ingest listening under `prefix`.
fn filters(prefix: &str) -> [String; 2] {
    [
        format!("{prefix}ebok/+/readings"),
        format!("{prefix}wmbusmeters/+/#"),
    ]
}

/// A gateway of the test utility on `broker` (the test broker when `None`) that may publish
/// under `prefix`.
async fn gateway(
    broker: Option<ebok_ingest::gateways::LocalBroker>,
    prefix: &str,
) -> mqtt::Gateway {
    let filters = filters(prefix);
    let filters = [filters[0].as_str(), filters[1].as_str()];
    match broker {
        Some(broker) => mqtt::Gateway::on(broker, UTILITY, &filters).await,
        None => mqtt::Gateway::new(UTILITY, &filters).await,
    }
}

fn ingest_setup(
    database_url: &str,
    broker_url: &str,
    login: (String, String),
    prefix: &str,
) -> IngestSetup {
    let client = mqtt::unique("ingest-e2e");
    ingest_setup_as(database_url, broker_url, login, prefix, &client, "")
}

/// [`ingest_setup`] with its client id and more `[ingest]` settings.
fn ingest_setup_as(
    database_url: &str,
    broker_url: &str,
    (username, password): (String, String),
    prefix: &str,
    client: &str,
    more: &str,
) -> IngestSetup {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ebok.toml");
    let [own, wmbus] = filters(prefix);
    let text = format!(
        r#"
[database]
url = "{database_url}"
[mqtt]
url = "{broker_url}"
username = "{username}"
password = "{password}"
[metrics]
enabled = false
[ingest]
client_id = "{client}"
topics = ["{own}"]
wmbusmeters_topics = ["{wmbus}"]
batch_delay_ms = 20
{more}
"#,
    );
    std::fs::write(&config, text).unwrap();
    IngestSetup { _dir: dir, config }
}

/// Starts `ebok ingest` and returns once it is subscribed.
async fn start_ingest(setup: &IngestSetup) -> Child {
    let mut child = ebok()
        .arg("ingest")
        .arg("--config")
        .arg(&setup.config)
        .env("RUST_LOG", "warn,ebok_ingest::mqtt=info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = stderr_lines(&mut child);
    read_until(&mut lines, "subscribed").await;
    // Keep draining stderr so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

fn sim_config(fleet: FleetSpec, n: u64, prefix: &str, days: i64) -> SimConfig {
    let now = Utc::now();
    let mut config = SimConfig::new(fleet, 0..n, UTILITY, now - chrono::Duration::days(days));
    config.until = Some(now - chrono::Duration::minutes(30));
    config.speed = f64::INFINITY;
    config.per_day = 4;
    config.topic_prefix = prefix.to_string();
    config.manifest = true;
    config
}

async fn publish(config: SimConfig, broker_url: &str, login: (String, String)) -> SimReport {
    let mut broker = Broker::from_url(broker_url, mqtt::unique("sim")).unwrap();
    broker.credentials = Some(login);
    let report = publish::run(config, broker, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.failed, 0, "every message acknowledged: {report:?}");
    assert_eq!(report.refused, 0);
    report
}

/// Items ingest should settle for the manifest: one row per valid reading, and one rejection or
/// quarantine per garbage item.
async fn wait_until_settled(pool: &PgPool, manifest: &Manifest) {
    let readings = manifest.readings.len() as i64;
    let garbage = manifest.garbage.len() as i64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM meter_readings")
            .fetch_one(pool)
            .await
            .unwrap_or(-1);
        let refused: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM ingest_rejections) + (SELECT count(*) FROM ingest_quarantine)",
        )
        .fetch_one(pool)
        .await
        .unwrap_or(-1);
        if stored >= readings && refused >= garbage {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            let reasons: Vec<(String, i64)> = sqlx::query_as(
                "SELECT reason::text || ': ' || left(detail, 120), count(*) FROM ingest_rejections GROUP BY 1 ORDER BY 2 DESC LIMIT 12",
            )
            .fetch_all(pool)
            .await
            .unwrap_or_default();
            panic!(
                "after 90 s: {stored} of {readings} readings, {refused} of {garbage} rejections; rejections: {reasons:#?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The database holds exactly the manifest's readings and a rejection per bad item.
async fn assert_matches_manifest(pool: &PgPool, manifest: &Manifest) {
    let expected: BTreeSet<(String, DateTime<Utc>, i64)> = manifest
        .readings
        .iter()
        .map(|r| (r.serial.to_string(), r.measured_at, r.litres as i64))
        .collect();
    assert_eq!(expected.len(), manifest.readings.len());
    let stored: Vec<(String, DateTime<Utc>, i64)> = sqlx::query_as(
        "SELECT m.serial, r.measured_at, r.volume_litres
         FROM meter_readings r JOIN meters m ON m.id = r.meter_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let stored_set: BTreeSet<_> = stored.iter().cloned().collect();
    assert_eq!(stored.len(), stored_set.len(), "no reading stored twice");
    let missing: Vec<_> = expected.difference(&stored_set).take(5).collect();
    let extra: Vec<_> = stored_set.difference(&expected).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} missing (e.g. {missing:?}), {} unexpected (e.g. {extra:?})",
        expected.difference(&stored_set).count(),
        stored_set.difference(&expected).count()
    );

    let mut expected_reasons: BTreeMap<String, i64> = BTreeMap::new();
    for g in &manifest.garbage {
        *expected_reasons
            .entry(g.kind.expected_reason().to_string())
            .or_default() += 1;
    }
    let mut found: BTreeMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
        "SELECT reason::text, count(*) FROM ingest_rejections GROUP BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let quarantined: i64 = sqlx::query_scalar("SELECT count(*) FROM ingest_quarantine")
        .fetch_one(pool)
        .await
        .unwrap();
    if quarantined > 0 {
        found.insert("unknown_meter".into(), quarantined);
    }
    assert_eq!(found, expected_reasons, "rejections by reason");
}

#[tokio::test]
async fn a_simulated_fleet_is_stored_exactly_once_and_every_bad_item_rejected_for_its_reason() {
    let db = TestDb::new().await;
    let utility = fixtures::utility(&db.pool, UTILITY).await;
    let fleet = FleetSpec::new(77, "2025-01-01T00:00:00Z".parse().unwrap());
    let prefix = format!("t/{}/", mqtt::unique("e2e"));
    let mut sim = sim_config(fleet, 60, &prefix, 6);
    sim.garbage = GarbageRates::uniform(0.01);
    sim.garbage_seed = 7;
    register_fleet(&db.pool, utility, &fleet, 60, sim.until.unwrap()).await;

    let setup = ingest_setup(
        db.url().expose_secret(),
        &mqtt::broker_url(),
        mqtt::ingest_login(),
        &prefix,
    );
    let gateway = gateway(None, &prefix).await;
    let mut ingest = start_ingest(&setup).await;
    let report = publish(sim, &mqtt::broker_url(), gateway.login()).await;
    let manifest = report.manifest.unwrap();
    assert!(
        manifest.readings.len() > 1000,
        "{}",
        manifest.readings.len()
    );
    assert!(manifest.garbage.len() > 50, "{}", manifest.garbage.len());
    assert!(
        report.duplicates > 0 && report.late > 0,
        "the model sends duplicates and late readings"
    );
    for kind in firmware_sim::garbage::GarbageKind::ALL {
        if kind != firmware_sim::garbage::GarbageKind::OversizedBatch {
            assert!(
                manifest.garbage.iter().any(|g| g.kind == kind),
                "no {kind:?} sent; raise the rate"
            );
        }
    }
    wait_until_settled(&db.pool, &manifest).await;
    assert_matches_manifest(&db.pool, &manifest).await;
    let _ = ingest.kill().await;
}

#[tokio::test]
async fn killing_ingest_with_sigkill_mid_stream_loses_and_duplicates_nothing() {
    let db = TestDb::new().await;
    let utility = fixtures::utility(&db.pool, UTILITY).await;
    let fleet = FleetSpec::new(78, "2025-01-01T00:00:00Z".parse().unwrap());
    let prefix = format!("t/{}/", mqtt::unique("kill"));
    let mut sim = sim_config(fleet, 80, &prefix, 12);
    sim.rate_limit = Some(800.0); // a stream of a few seconds, long enough to kill ingest in
    register_fleet(&db.pool, utility, &fleet, 80, sim.until.unwrap()).await;

    let setup = ingest_setup(
        db.url().expose_secret(),
        &mqtt::broker_url(),
        mqtt::ingest_login(),
        &prefix,
    );
    let gateway = gateway(None, &prefix).await;
    let mut ingest = start_ingest(&setup).await;
    let broker = mqtt::broker_url();
    let login = gateway.login();
    let publishing = tokio::spawn(async move { publish(sim, &broker, login).await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ingest.kill().await.unwrap(); // SIGKILL: no shutdown, no flush
    let stored_at_kill: i64 = sqlx::query_scalar("SELECT count(*) FROM meter_readings")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(stored_at_kill > 0, "ingest was working when killed");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mut ingest = start_ingest(&setup).await; // same client id: the session resumes
    let report = publishing.await.unwrap();
    let manifest = report.manifest.unwrap();
    assert!(
        (stored_at_kill as usize) < manifest.readings.len(),
        "the kill happened mid-stream"
    );
    wait_until_settled(&db.pool, &manifest).await;
    assert_matches_manifest(&db.pool, &manifest).await;
    // "Latest" survived the kill too (repaired from the watermark at restart); the last
    // coalesced flush follows the last commit within a few hundred milliseconds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let wrong_latest: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM meters m
             WHERE (SELECT max(measured_at) FROM meter_readings r WHERE r.meter_id = m.id)
                   IS DISTINCT FROM
                   (SELECT measured_at FROM meter_latest_readings l WHERE l.meter_id = m.id)",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if wrong_latest == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{wrong_latest} meters with a wrong latest reading"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = ingest.kill().await;
}

/// Waits until the writers of both processes `<group>-a` and `<group>-b` have flushed after
/// `since` (each flush moves the writer's watermark).
async fn both_flushed(pool: &PgPool, group: &str, since: DateTime<Utc>) {
    let both = [format!("{group}-a"), format!("{group}-b")];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let writers: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT split_part(writer, '/', 1) FROM ingest_latest_watermarks
             WHERE updated_at > $1 ORDER BY 1",
        )
        .bind(since)
        .fetch_all(pool)
        .await
        .unwrap();
        if writers == both {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "writers that flushed: {writers:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two `ebok ingest` processes share one subscription (`$share/<group>/…`): the broker deals the
/// stream between them. One is killed with SIGKILL mid-stream; the other keeps storing; the
/// killed one comes back under its client id and its session hands it what it had been dealt
/// and not acknowledged. Every valid reading is stored exactly once.
#[tokio::test]
async fn two_ingest_processes_share_the_stream_and_one_killed_mid_stream_loses_and_doubles_nothing()
{
    let db = TestDb::new().await;
    let utility = fixtures::utility(&db.pool, UTILITY).await;
    let fleet = FleetSpec::new(79, "2025-01-01T00:00:00Z".parse().unwrap());
    let prefix = format!("t/{}/", mqtt::unique("shared"));
    let mut sim = sim_config(fleet, 80, &prefix, 12);
    sim.rate_limit = Some(800.0);
    register_fleet(&db.pool, utility, &fleet, 80, sim.until.unwrap()).await;

    let group = mqtt::unique("group");
    let setup = |name: &str| {
        ingest_setup_as(
            db.url().expose_secret(),
            &mqtt::broker_url(),
            mqtt::ingest_login(),
            &prefix,
            &format!("{group}-{name}"),
            &format!("shared_group = \"{group}\"\nlatest_flush_ms = 200"),
        )
    };
    let (a, b) = (setup("a"), setup("b"));
    let gateway = gateway(None, &prefix).await;
    let mut ingest_a = start_ingest(&a).await;
    let mut ingest_b = start_ingest(&b).await;
    let broker = mqtt::broker_url();
    let login = gateway.login();
    let publishing = tokio::spawn(async move { publish(sim, &broker, login).await });
    // The broker deals the stream to both: each one's writers have stored and flushed.
    both_flushed(&db.pool, &group, Utc::now() - chrono::Duration::hours(1)).await;
    ingest_a.kill().await.unwrap(); // SIGKILL: no shutdown, no flush, no acknowledgement
    let stored = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM meter_readings")
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    let at_kill = stored().await;
    assert!(at_kill > 0, "ingest was working when A was killed");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let while_a_was_away = stored().await;
    assert!(
        while_a_was_away > at_kill,
        "B went on storing while A was away ({at_kill} → {while_a_was_away})"
    );
    let restarted = Utc::now();
    let mut ingest_a = start_ingest(&a).await; // same client id: its session resumes
    let report = publishing.await.unwrap();
    let manifest = report.manifest.unwrap();
    assert!(
        (at_kill as usize) < manifest.readings.len(),
        "the kill happened mid-stream"
    );
    wait_until_settled(&db.pool, &manifest).await;
    assert_matches_manifest(&db.pool, &manifest).await;
    // A, back, stored its share too (and its session's held messages).
    both_flushed(&db.pool, &group, restarted).await;
    let _ = ingest_a.kill().await;
    let _ = ingest_b.kill().await;
}

/// A private stack (own broker or own database) in a data folder the services can enter.
async fn private_stack(wanted: Wanted) -> (tempfile::TempDir, LocalStack) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("ebok-fault-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let stack = LocalStack::start(
        &StackConfig {
            data_dir: dir.path().to_path_buf(),
            install_packages: true,
            ..StackConfig::default()
        },
        wanted,
    )
    .await
    .unwrap();
    (dir, stack)
}

#[tokio::test]
async fn a_broker_restart_mid_stream_loses_nothing() {
    let (_dir, stack) = private_stack(Wanted {
        postgres: false,
        mosquitto: true,
    })
    .await;
    let broker = stack.endpoints.mqtt_url.clone().unwrap();
    let db = TestDb::new().await;
    let utility = fixtures::utility(&db.pool, UTILITY).await;
    let fleet = FleetSpec::new(79, "2025-01-01T00:00:00Z".parse().unwrap());
    let prefix = "e2e/".to_string();
    let mut sim = sim_config(fleet, 60, &prefix, 12);
    sim.rate_limit = Some(800.0);
    register_fleet(&db.pool, utility, &fleet, 60, sim.until.unwrap()).await;

    let ingest_login = (
        stack.endpoints.mqtt_username.clone().unwrap(),
        stack
            .endpoints
            .mqtt_password
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_string(),
    );
    let setup = ingest_setup(db.url().expose_secret(), &broker, ingest_login, &prefix);
    let gateway = gateway(stack.endpoints.broker(), &prefix).await;
    let mut ingest = start_ingest(&setup).await;
    let url = broker.clone();
    let login = gateway.login();
    let publishing = tokio::spawn(async move { publish(sim, &url, login).await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stack.restart("mosquitto").await.unwrap();
    let report = publishing.await.unwrap();
    assert!(report.reconnects > 0, "the simulator noticed the restart");
    let manifest = report.manifest.unwrap();
    wait_until_settled(&db.pool, &manifest).await;
    assert_matches_manifest(&db.pool, &manifest).await;
    let _ = ingest.kill().await;
    stack.stop().await;
}

#[tokio::test]
async fn a_database_restart_mid_stream_loses_nothing() {
    let (_dir, stack) = private_stack(Wanted {
        postgres: true,
        mosquitto: false,
    })
    .await;
    let url = stack.endpoints.database_url.clone().unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(url.expose_secret())
        .await
        .unwrap();
    ebok_common::db::migrate(&pool).await.unwrap();
    let utility = fixtures::utility(&pool, UTILITY).await;
    let fleet = FleetSpec::new(80, "2025-01-01T00:00:00Z".parse().unwrap());
    let prefix = format!("t/{}/", mqtt::unique("dbrestart"));
    let mut sim = sim_config(fleet, 60, &prefix, 12);
    sim.rate_limit = Some(800.0);
    register_fleet(&pool, utility, &fleet, 60, sim.until.unwrap()).await;
    pool.close().await;

    let setup = ingest_setup(
        url.expose_secret(),
        &mqtt::broker_url(),
        mqtt::ingest_login(),
        &prefix,
    );
    let gateway = gateway(None, &prefix).await;
    let mut ingest = start_ingest(&setup).await;
    let broker = mqtt::broker_url();
    let login = gateway.login();
    let publishing = tokio::spawn(async move { publish(sim, &broker, login).await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stack.restart("postgres").await.unwrap();
    let report = publishing.await.unwrap();
    let manifest = report.manifest.unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(url.expose_secret())
        .await
        .unwrap();
    wait_until_settled(&pool, &manifest).await;
    assert_matches_manifest(&pool, &manifest).await;
    let _ = ingest.kill().await;
    pool.close().await;
    stack.stop().await;
}
