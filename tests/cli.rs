//! The command line: help for every part, and one clear line (never a backtrace) when the
//! database is missing or unreachable.

mod support;

use support::ebok;

#[tokio::test]
async fn every_subcommand_has_help() {
    for sub in ["demo", "serve", "api", "ingest", "sim", "migrate", "stack"] {
        let out = ebok().args([sub, "--help"]).output().await.unwrap();
        assert!(out.status.success(), "ebok {sub} --help failed");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: ebok"));
    }
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
    let out = ebok()
        .args(["migrate", "--check"])
        .env(
            "EBOK__DATABASE__URL",
            secrecy::ExposeSecret::expose_secret(&db.url()),
        )
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
