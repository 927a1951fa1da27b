//! The command line: help for every part, one clear line (never a backtrace) when the
//! database is missing or unreachable, `gateway add|list|remove` against the test stack's broker
//! and for an external one, `sim` publishing as its gateway, and `bench api` and `bench ingest`
//! end to end on tiny datasets.

use crate::support;

use support::ebok;
use tokio::process::Command;

/// `ebok` with its database set to `db`.
fn ebok_on(db: &ebok_testkit::TestDb) -> Command {
    let mut command = ebok();
    command.env(
        "EBOK__DATABASE__URL",
        secrecy::ExposeSecret::expose_secret(&db.url()),
    );
    command
}

/// A bench's summary line: its last line on stdout, `<bench> name=value …`.
struct Summary {
    line: String,
    pairs: Vec<(String, String)>,
}

/// The summary line of bench `bench`'s run `out`; the whole output when the run failed or the
/// line is not one.
fn summary(out: &std::process::Output, bench: &str) -> Summary {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.trim_end().lines().last().unwrap_or_default();
    let pairs = line
        .strip_prefix(&format!("{bench} "))
        .unwrap_or_else(|| panic!("summary line: {line}"))
        .split(' ')
        .map(|pair| {
            let (name, value) = pair
                .split_once('=')
                .unwrap_or_else(|| panic!("name=value: {line}"));
            (name.to_string(), value.to_string())
        })
        .collect();
    Summary {
        line: line.to_string(),
        pairs,
    }
}

impl Summary {
    fn names(&self) -> Vec<&str> {
        self.pairs.iter().map(|(name, _)| name.as_str()).collect()
    }

    fn value(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("no {name}: {}", self.line))
    }

    /// The store the bench measured is named: `store=plain` or `store=timescale`.
    fn names_its_store(&self) {
        let store = self.value("store");
        assert!(["plain", "timescale"].contains(&store), "{}", self.line);
    }

    /// Every figure but those named in `words` is a number above zero.
    fn all_positive(&self, words: &[&str]) {
        for (name, value) in &self.pairs {
            if !words.contains(&name.as_str()) {
                let figure: f64 = value
                    .parse()
                    .unwrap_or_else(|_| panic!("{name} is no number: {}", self.line));
                assert!(figure > 0.0, "{name}: {}", self.line);
            }
        }
    }
}

#[tokio::test]
async fn totp_prints_the_code_an_authenticator_app_shows_now() {
    let secret = ebok_api::staff::totp::new_secret();
    let key = ebok_api::staff::totp::typed_secret(&secret);
    let out = ebok().args(["totp", &key]).output().await.unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // The code of now, or of the step before when the step changed while it ran.
    assert!(
        [now, now - 30]
            .iter()
            .any(|t| ebok_api::staff::totp::code_at(&secret, *t) == printed),
        "{printed}"
    );
    let out = ebok().args(["totp", "not a key!"]).output().await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an authenticator key"));
}

#[tokio::test]
async fn every_subcommand_has_help() {
    for sub in [
        "demo",
        "serve",
        "api",
        "ingest",
        "notify",
        "sim",
        "gateway",
        "token-keys",
        "migrate",
        "stack",
        "bench",
        "totp",
        "billing",
    ] {
        let out = ebok().args([sub, "--help"]).output().await.unwrap();
        assert!(out.status.success(), "ebok {sub} --help failed");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: ebok"));
    }
}

/// `ebok token-keys`: the file is created private, `rotate` adds a signing key and keeps the old
/// one checking (retired), `rotate --revoke` leaves the new key alone; keys are never printed.
#[tokio::test]
async fn token_keys_rotate_retire_and_revoke_in_the_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys");
    let keys = |args: &[&str]| {
        let mut command = ebok();
        command
            .arg("token-keys")
            .args(args)
            .env("EBOK__API__TOKEN_KEY_FILE", &file);
        command.output()
    };
    let shown = keys(&["show"]).await.unwrap();
    assert!(shown.status.success());
    let stdout = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(stdout.contains("created"), "{stdout}");
    assert!(stdout.contains("signs"), "{stdout}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let first = ebok_api::auth::keys::read_file(&file).unwrap();
    let rotated = keys(&["rotate"]).await.unwrap();
    assert!(rotated.status.success());
    let ring = ebok_api::auth::keys::read_file(&file).unwrap();
    assert_eq!(ring.keys().len(), 2);
    assert_eq!(ring.keys()[1].kid, first.keys()[0].kid);
    assert!(ring.keys()[1].retired.is_some());
    let revoked = keys(&["rotate", "--revoke"]).await.unwrap();
    assert!(revoked.status.success());
    let ring = ebok_api::auth::keys::read_file(&file).unwrap();
    assert_eq!(ring.keys().len(), 1);
    let text = std::fs::read_to_string(&file).unwrap();
    let secret = text
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap();
    for out in [&shown, &rotated, &revoked] {
        assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    }
}

/// The value after `label` on a line of `ebok gateway add`'s output.
fn field<'a>(stdout: &'a str, label: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label} in:\n{stdout}"))
}

#[tokio::test]
async fn gateway_add_list_and_remove_change_the_local_broker_at_once() {
    use ebok_ingest::gateways::probe::{Answer, probe};
    let db = ebok_testkit::TestDb::new().await;
    ebok_testkit::fixtures::utility(&db.pool, "alfa").await;
    let name = ebok_testkit::mqtt::unique("gw");
    let prefix = format!("t/{}", ebok_testkit::mqtt::unique("cli"));
    let gateway = |args: &[&str]| {
        let mut command = ebok_on(&db);
        command
            .env("EBOK__MQTT__URL", ebok_testkit::mqtt::broker_url())
            .env(
                "EBOK__STACK__DATA_DIR",
                std::env::var("EBOK__STACK__DATA_DIR").expect("set by `ebok stack run`"),
            )
            .env(
                "EBOK__INGEST__TOPICS",
                format!(r#"["{prefix}/ebok/+/readings"]"#),
            )
            .env(
                "EBOK__INGEST__WMBUSMETERS_TOPICS",
                format!(r#"["{prefix}/wmbusmeters/+/#"]"#),
            )
            .arg("gateway")
            .args(args);
        command
    };
    let broker = ebok_testkit::mqtt::test_broker();
    let answer = |user: &str, password: &str| {
        probe(
            broker.address(),
            Some((user, password)),
            std::time::Duration::from_secs(2),
        )
        .unwrap()
    };

    let out = gateway(&["add", "--utility", "alfa", &name])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let username = field(&stdout, "username:").to_string();
    let password = field(&stdout, "password:").to_string();
    assert_eq!(username, format!("alfa.{name}"));
    assert_eq!(
        field(&stdout, "publish to:"),
        format!("{prefix}/ebok/alfa/readings, {prefix}/wmbusmeters/alfa/#")
    );
    assert_eq!(
        answer(&username, &password),
        Answer::Accepted,
        "in force at once"
    );
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM mqtt_gateways")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(!stored.contains(&password), "only the hash is kept");

    let out = gateway(&["list", "--utility", "alfa"])
        .output()
        .await
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = listed
        .lines()
        .find(|l| l.starts_with(&name))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(
        row.contains(&username) && row.trim_end().ends_with('-'),
        "{row}"
    );

    let out = gateway(&["remove", "--utility", "alfa", &name])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(
        answer(&username, &password),
        Answer::Accepted,
        "refused at once"
    );
    let out = gateway(&["list", "--utility", "alfa"])
        .output()
        .await
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = listed.lines().find(|l| l.starts_with(&name)).unwrap();
    assert!(
        !row.trim_end().ends_with('-'),
        "revoked, with its time: {row}"
    );

    let out = gateway(&["remove", "--utility", "alfa", &name])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "nothing left to remove");
}

#[tokio::test]
async fn gateway_add_for_an_external_broker_prints_what_to_install_there() {
    let db = ebok_testkit::TestDb::new().await;
    ebok_testkit::fixtures::utility(&db.pool, "alfa").await;
    let no_stack = tempfile::tempdir().unwrap();
    let out = ebok_on(&db)
        .env("EBOK__MQTT__URL", "mqtts://broker.wodociagi.example:8883")
        .env("EBOK__STACK__DATA_DIR", no_stack.path())
        .args(["gateway", "add", "--utility", "alfa", "gw-01"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("mqtts://broker.wodociagi.example:8883 is not the local stack's"),
        "{stdout}"
    );
    assert!(stdout.contains("\nalfa.gw-01:$7$101$"), "{stdout}");
    assert!(
        stdout.contains(
            "user alfa.gw-01\ntopic write ebok/alfa/readings\ntopic write wmbusmeters/alfa/#\n"
        ),
        "{stdout}"
    );
    let active: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mqtt_gateways WHERE mqtt_username = 'alfa.gw-01' AND revoked_at IS NULL",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(active, 1);
}

/// `ebok` pointed at the test stack's broker (found through its data folder, so gateway accounts
/// go there) with ingest's login.
fn ebok_on_test_broker(db: &ebok_testkit::TestDb) -> Command {
    let (username, password) = ebok_testkit::mqtt::ingest_login();
    let mut command = ebok_on(db);
    command
        .env("EBOK__MQTT__URL", ebok_testkit::mqtt::broker_url())
        .env("EBOK__MQTT__USERNAME", username)
        .env("EBOK__MQTT__PASSWORD", password)
        .env(
            "EBOK__STACK__DATA_DIR",
            std::env::var("EBOK__STACK__DATA_DIR").expect("set by `ebok stack run`"),
        );
    command
}

/// `ebok sim` re-keys its gateway (`sim` of its utility) and publishes under the utility's
/// topics, own JSON and wmbusmeters alike, which a subscriber logged in as ingest receives.
#[tokio::test]
async fn sim_publishes_as_its_utilitys_gateway_under_both_topic_kinds() {
    use rumqttc::{AsyncClient, Event, Packet, QoS};
    let db = ebok_testkit::TestDb::new().await;
    ebok_testkit::fixtures::utility(&db.pool, "simtest").await;
    let (subscriber, mut events) = AsyncClient::new(
        ebok_testkit::mqtt::options(&ebok_testkit::mqtt::unique("sub")),
        64,
    );
    subscriber
        .subscribe("ebok/simtest/readings", QoS::AtLeastOnce)
        .await
        .unwrap();
    subscriber
        .subscribe("wmbusmeters/simtest/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    let mut subacks = 0;
    while subacks < 2 {
        if let Event::Incoming(Packet::SubAck(_)) = events.poll().await.unwrap() {
            subacks += 1;
        }
    }
    let out = ebok_on_test_broker(&db)
        .args([
            "sim",
            "--utility",
            "simtest",
            "--seed",
            "31",
            "--meters",
            "12",
        ])
        .args([
            "--from",
            "2026-03-01T00:00:00Z",
            "--days",
            "2",
            "--speed",
            "max",
        ])
        .args(["--per-day", "4", "--format", "mix"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("as simtest.sim"), "{stderr}");
    let mut topics = std::collections::BTreeSet::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Ok(event) = events.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = event {
                topics.insert(p.topic.split('/').next().unwrap_or_default().to_string());
                if topics.len() == 2 {
                    return;
                }
            }
        }
    })
    .await;
    assert_eq!(
        topics.into_iter().collect::<Vec<_>>(),
        ["ebok", "wmbusmeters"],
        "{stderr}"
    );
    let gateways: Vec<(String, bool)> =
        sqlx::query_as("SELECT mqtt_username, revoked_at IS NULL FROM mqtt_gateways")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(gateways, [("simtest.sim".to_string(), true)]);
}

/// `ebok bench ingest` on a tiny load: it publishes as the bench utility's gateway through the
/// test broker, ingest commits every reading (the bench fails otherwise, or if the broker
/// refused a message), and it prints its summary line.
#[tokio::test]
async fn bench_ingest_publishes_as_its_gateway_and_prints_its_summary_line() {
    let db = ebok_testkit::TestDb::new().await;
    let out = ebok_on_test_broker(&db)
        .args(["bench", "ingest", "--meters", "200", "--singles", "300"])
        .args([
            "--batches",
            "2",
            "--batch-readings",
            "150",
            "--connections",
            "2",
        ])
        .args(["--repeats", "1"])
        .env("EBOK__METRICS__ENABLED", "false")
        .output()
        .await
        .unwrap();
    let summary = summary(&out, "ingest");
    assert_eq!(
        summary.names(),
        [
            "store",
            "single_msgs_per_s",
            "broker_floor_msgs_per_s",
            "single_ratio",
            "batch_readings_per_s",
            "raw_copy_rows_per_s",
            "batch_ratio",
            "bytes_per_reading",
            "compressed_bytes_per_reading"
        ]
    );
    summary.names_its_store();
}

#[tokio::test]
async fn unreachable_database_is_one_clear_line_naming_the_setting() {
    let data = tempfile::tempdir().unwrap();
    let out = ebok()
        .arg("migrate")
        .env(
            "EBOK__DATABASE__URL",
            "postgres://ebok:sekret@127.0.0.1:1/ebok",
        )
        .env("EBOK__STACK__DATA_DIR", data.path())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with(
        "error: cannot connect to PostgreSQL at postgres://ebok:***@127.0.0.1:1/ebok"
    ));
    assert!(stderr.contains("EBOK__DATABASE__URL"), "{stderr}");
    assert!(!stderr.contains("sekret"), "password leaked: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn missing_database_setting_is_one_clear_line() {
    let data = tempfile::tempdir().unwrap();
    let out = ebok()
        .args(["migrate", "--check"])
        .env("EBOK__STACK__DATA_DIR", data.path())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("no database configured"), "{stderr}");
    assert!(stderr.contains("EBOK__DATABASE__URL"), "{stderr}");
}

#[tokio::test]
async fn malformed_database_url_is_one_clear_line() {
    let out = ebok()
        .arg("migrate")
        .env("EBOK__DATABASE__URL", "mysql://root@db/x")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("must start with postgres://"), "{stderr}");
}

#[tokio::test]
async fn migrate_check_reports_current_schema_of_a_migrated_database() {
    let db = ebok_testkit::TestDb::new().await;
    let out = ebok_on(&db)
        .args(["migrate", "--check"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "migrations: current"
    );
}

/// `ebok bench api` on a tiny dataset: it generates the data, checks an answer, measures every
/// scenario (the HTTP floor, the two reads over real HTTP, the raw lookup, staff's two searches)
/// and prints its summary line. The figures are the bench's to report, not a test's to judge; that there are figures,
/// and that every request succeeded (the bench fails on any other status), is.
#[tokio::test]
async fn bench_balance_balances_a_tiny_network_and_prints_its_summary_line() {
    let db = ebok_testkit::TestDb::new().await;
    let out = ebok_on(&db)
        .args(["bench", "balance", "--meters", "60", "--zones", "3"])
        .args(["--days", "20", "--repeats", "1"])
        .output()
        .await
        .unwrap();
    let summary = summary(&out, "balance");
    assert_eq!(
        summary.names(),
        ["zone_days_per_s", "meter_days_per_s", "ratio"]
    );
    summary.all_positive(&[]);
}

#[tokio::test]
async fn bench_api_measures_every_scenario_and_prints_its_summary_line() {
    let db = ebok_testkit::TestDb::new().await;
    let out = ebok_on(&db)
        .args([
            "bench",
            "api",
            "--meters",
            "30",
            "--days",
            "12",
            "--clients",
            "4",
        ])
        .args(["--seconds", "1", "--repeats", "1"])
        .output()
        .await
        .unwrap();
    let summary = summary(&out, "api");
    summary.names_its_store();
    assert_eq!(
        summary.names(),
        [
            "reading_on_day_p99_ms",
            "history_year_p99_ms",
            "rps",
            "staff_address_p99_ms",
            "staff_serial_p99_ms",
            "store",
            "bytes_per_reading"
        ]
    );
    summary.all_positive(&["store"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for scenario in [
        "HTTP floor",
        "reading on a day",
        "one year of daily history",
        "raw on-day lookup",
        "staff search by address",
        "staff search by meter serial",
    ] {
        assert!(stdout.contains(scenario), "{scenario} missing: {stdout}");
    }
}

#[tokio::test]
async fn billing_run_and_export_from_the_command_line() {
    let db = ebok_testkit::TestDb::new().await;
    let pool = &db.pool;
    let utility = ebok_testkit::fixtures::utility(pool, "mlynary").await;
    sqlx::query(
        "UPDATE utilities SET nip = '5260250274', street = 'Wodna', building_no = '1',
                postal_code = '14-420', city = 'Młynary' WHERE id = $1",
    )
    .bind(utility)
    .execute(pool)
    .await
    .unwrap();
    let home = ebok_testkit::fixtures::household(pool, utility, "anna@example.pl").await;
    sqlx::query(
        "INSERT INTO tariffs (utility_id, tariff_group_id, valid_from, water_price_grosze,
                              sewage_price_grosze, subscription_grosze, garden_subscription_grosze, vat_rate)
         SELECT $1, id, '2020-01-01', 512, 790, 950, 300, 8 FROM tariff_groups WHERE utility_id = $1",
    )
    .bind(utility)
    .execute(pool)
    .await
    .unwrap();
    let today = ebok_common::domain::time::local_day(chrono::Utc::now());
    let month = chrono::Datelike::with_day(&today, 1).unwrap() - chrono::Months::new(1);
    for day in [month, month + chrono::Months::new(1)] {
        sqlx::query("SELECT ebok_ensure_reading_partitions($1, $1 + interval '1 day')")
            .bind(ebok_common::domain::time::day_start(day))
            .execute(pool)
            .await
            .unwrap();
    }
    ebok_testkit::fixtures::radio_reading(
        pool,
        home.meter_id,
        ebok_common::domain::time::day_start(month),
        1_000,
    )
    .await;
    ebok_testkit::fixtures::radio_reading(
        pool,
        home.meter_id,
        ebok_common::domain::time::day_start(month + chrono::Months::new(1)),
        5_500,
    )
    .await;
    let period = month.format("%Y-%m").to_string();
    let out = ebok_on(&db)
        .args([
            "billing",
            "run",
            "--utility",
            "mlynary",
            "--period",
            &period,
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 invoices issued"), "{stdout}");
    let number: String = sqlx::query_scalar("SELECT number FROM invoices")
        .fetch_one(pool)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (format, file) in [("ksef", "faktura.xml"), ("pdf", "faktura.pdf")] {
        let path = dir.path().join(file);
        let out = ebok_on(&db)
            .args([
                "billing",
                "export",
                "--utility",
                "mlynary",
                "--invoice",
                &number,
                "--format",
                format,
            ])
            .arg("--out")
            .arg(&path)
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let xml = dir.path().join("faktura.xml");
    let valid = std::process::Command::new("xmllint")
        .args(["--noout", "--schema", ebok_billing::ksef::FA3_SCHEMA])
        .arg(&xml)
        .output()
        .expect("xmllint (libxml2-utils) must be installed: scripts/test-tools.sh installs it");
    assert!(
        valid.status.success(),
        "{}",
        String::from_utf8_lossy(&valid.stderr)
    );
    assert!(
        std::fs::read(dir.path().join("faktura.pdf"))
            .unwrap()
            .starts_with(b"%PDF-")
    );
    // A month that has not ended: one clear line.
    let out = ebok_on(&db)
        .args([
            "billing",
            "run",
            "--utility",
            "mlynary",
            "--period",
            &today.format("%Y-%m").to_string(),
        ])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("jeszcze trwa"));
    // An invoice that does not exist.
    let out = ebok_on(&db)
        .args([
            "billing",
            "export",
            "--utility",
            "mlynary",
            "--invoice",
            "FV/1999/01/000001",
            "--format",
            "pdf",
            "--out",
            "-",
        ])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no invoice"));
}

#[tokio::test]
async fn bench_billing_bills_a_tiny_dataset_and_prints_its_summary_line() {
    let db = ebok_testkit::TestDb::new().await;
    let out = ebok_on(&db)
        .args([
            "bench",
            "billing",
            "--customers",
            "40",
            "--days",
            "40",
            "--pdfs",
            "10",
            "--repeats",
            "1",
            "--regenerate",
        ])
        .env("EBOK__METRICS__ENABLED", "false")
        .output()
        .await
        .unwrap();
    let summary = summary(&out, "billing");
    assert_eq!(
        summary.names(),
        [
            "invoices_per_s",
            "pdf_per_s",
            "raw_invoices_per_s",
            "pdf_render_only_per_s"
        ]
    );
}

#[tokio::test]
async fn bench_payments_books_a_few_notifications_once_and_prints_its_summary_line() {
    let db = ebok_testkit::TestDb::new().await;
    let out = ebok_on(&db)
        .args([
            "bench",
            "payments",
            "--payments",
            "30",
            "--concurrency",
            "8",
            "--statement-lines",
            "50",
            "--repeats",
            "1",
        ])
        .env("EBOK__METRICS__ENABLED", "false")
        .output()
        .await
        .unwrap();
    let summary = summary(&out, "payments");
    assert_eq!(
        summary.names(),
        [
            "notifications_per_s",
            "floor_per_s",
            "statement_lines_per_s",
            "statement_floor_per_s"
        ]
    );
}

#[tokio::test]
async fn billing_interest_rates_are_listed_and_added_never_changed() {
    let db = ebok_testkit::TestDb::new().await;
    let add = |from: &'static str, rate: &'static str| {
        let mut command = ebok_on(&db);
        command.args([
            "billing",
            "add-interest-rate",
            "--kind",
            "consumer",
            "--from",
            from,
            "--rate",
            rate,
            "--source",
            "stopa referencyjna NBP 3,75% + 5,5 pp",
        ]);
        command
    };
    let out = add("2027-01-14", "9,25").output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ebok_on(&db)
        .args(["billing", "interest-rates"])
        .output()
        .await
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("consumer   from 2027-01-14  9,25%"),
        "{listed}"
    );
    assert!(
        listed.contains("commercial from 2026-01-01  14,00%"),
        "{listed}"
    );
    // The same day again: refused, the rate stays.
    let out = add("2027-01-14", "9,00").output().await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    let out = add("2027-02-01", "nine").output().await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rate"));
}
