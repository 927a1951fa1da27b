//! A fresh migrated database per test.
//!
//! The first test of a schema version migrates a template database (`ebok_tpl_<hash>`, named by
//! the migrations' checksums, created under an advisory lock so parallel test processes agree);
//! every test then gets `CREATE DATABASE … TEMPLATE`, which copies files instead of replaying
//! migrations. Databases of test processes that no longer run are dropped on the way.

use std::sync::atomic::{AtomicU32, Ordering};

use ebok_common::config::DatabaseConfig;
use ebok_common::db::MIGRATOR;
use secrecy::SecretString;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The server the tests use: `EBOK__DATABASE__URL`, as set by `ebok stack run`.
pub fn server_url() -> url::Url {
    let raw = std::env::var("EBOK__DATABASE__URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .expect(
            "EBOK__DATABASE__URL is not set: run the tests with scripts/test.sh, which starts \
             PostgreSQL and Mosquitto, or set it to a server where the user may create databases",
        );
    url::Url::parse(&raw).expect("EBOK__DATABASE__URL is a URL")
}

/// How the readings are stored (see [`ebok_common::db::ReadingStore`]).
pub use ebok_common::db::ReadingStore as Store;

/// How the readings are stored on the server the tests use, as `scripts/test.sh` asked for it
/// (`EBOK_TEST_STORE`: `plain` or `timescale`); `None` when the tests were started otherwise.
/// Tests of store-specific machinery compare it with [`store`], so a pass meant for TimescaleDB
/// that silently ran on plain PostgreSQL fails.
pub fn expected_store() -> Option<Store> {
    match std::env::var("EBOK_TEST_STORE").ok()?.as_str() {
        "plain" => Some(Store::Plain),
        "timescale" => Some(Store::Timescale),
        other => panic!("EBOK_TEST_STORE is `{other}`, not `plain` or `timescale`"),
    }
}

/// The store of a test database.
pub async fn store(pool: &PgPool) -> Store {
    Store::of(pool)
        .await
        .expect("asking how readings are stored")
}

/// A plain PostgreSQL server beside the one the tests use, during the TimescaleDB pass of
/// `scripts/test.sh` (`EBOK_TEST_PLAIN_DATABASE_URL`), for tests that compare the two stores'
/// answers on the same data.
pub fn plain_server_url() -> Option<url::Url> {
    let raw = std::env::var("EBOK_TEST_PLAIN_DATABASE_URL").ok()?;
    Some(url::Url::parse(&raw).expect("EBOK_TEST_PLAIN_DATABASE_URL is a URL"))
}

fn with_database(server: &url::Url, name: &str) -> url::Url {
    let mut url = server.clone();
    url.set_path(&format!("/{name}"));
    url
}

/// A database of its own for one test. Dropped (with any open connections) when this is.
pub struct TestDb {
    pub pool: PgPool,
    pub name: String,
    url: url::Url,
    admin: url::Url,
}

impl TestDb {
    pub async fn new() -> TestDb {
        TestDb::on(server_url()).await
    }

    /// A database of its own on another server (see [`plain_server_url`]).
    pub async fn on(server: url::Url) -> TestDb {
        let admin = with_database(&server, "postgres");
        let template = ensure_template(&admin).await;
        let name = format!(
            "ebok_test_{}_{}_{:06x}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>() & 0xFF_FFFF
        );
        let mut conn = PgConnection::connect(admin.as_str())
            .await
            .expect("connecting to the test server");
        let mut attempts = 0;
        loop {
            let created = sqlx::query(sqlx::AssertSqlSafe(format!(
                r#"CREATE DATABASE "{name}" TEMPLATE "{template}""#
            )))
            .execute(&mut conn)
            .await;
            match created {
                Ok(_) => break,
                // A session on the template (see `close_template`): end it and copy again.
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55006") => {
                    attempts += 1;
                    assert!(attempts < 20, "the template stays busy: {e}");
                    close_template(&mut conn, &template).await;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("creating the test database: {e}"),
            }
        }
        let _ = conn.close().await;
        let url = with_database(&server, &name);
        let pool = ebok_common::db::pool_options(8)
            .connect(url.as_str())
            .await
            .expect("connecting to the test database");
        TestDb {
            pool,
            name,
            url,
            admin,
        }
    }

    /// The database's URL (for child processes and configuration).
    pub fn url(&self) -> SecretString {
        SecretString::from(self.url.to_string())
    }

    /// A database configuration pointing at this database.
    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig {
            url: Some(self.url()),
            ..DatabaseConfig::default()
        }
    }

    /// Connect options, for tests that open their own connections.
    pub fn connect_options(&self) -> PgConnectOptions {
        self.url.as_str().parse().expect("valid test URL")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        // Drop cannot await, and the test's runtime is blocked while it runs, so the pool cannot
        // be closed politely: a short-lived runtime on its own thread drops the database WITH
        // (FORCE), which ends the pool's connections from the server side.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for dropping a test database");
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(admin.as_str()).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}

/// Makes sure the template for this binary's migrations exists; returns its name.
async fn ensure_template(admin: &url::Url) -> String {
    let digest = MIGRATOR.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, m| {
        m.checksum
            .iter()
            .chain(m.version.to_le_bytes().iter())
            .fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
    });
    let template = format!("ebok_tpl_{digest:016x}");
    let mut conn = PgConnection::connect(admin.as_str())
        .await
        .expect("connecting to the test server (is scripts/test.sh running it?)");
    sqlx::query("SELECT pg_advisory_lock(hashtext('ebok-testkit-template'))")
        .execute(&mut conn)
        .await
        .expect("template lock");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&template)
            .fetch_one(&mut conn)
            .await
            .expect("looking up the template");
    if !exists {
        drop_stale(&mut conn, &template).await;
        let building = format!("{template}_building");
        let sql = format!(r#"DROP DATABASE IF EXISTS "{building}""#);
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect("dropping a half-built template");
        let sql = format!(r#"CREATE DATABASE "{building}""#);
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect("creating the template");
        {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect(with_database(admin, &building).as_str())
                .await
                .expect("connecting to the template");
            MIGRATOR.run(&pool).await.expect("migrating the template");
            pool.close().await;
        }
        let sql = format!(r#"ALTER DATABASE "{building}" RENAME TO "{template}""#);
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect("publishing the template");
        close_template(&mut conn, &template).await;
    }
    sqlx::query("SELECT pg_advisory_unlock(hashtext('ebok-testkit-template'))")
        .execute(&mut conn)
        .await
        .expect("template unlock");
    let _ = conn.close().await;
    template
}

/// Closes the template to connections and ends the sessions on it, so that it can be copied: on
/// TimescaleDB a scheduler of background jobs connects to every database that has the
/// extension and allows connections, and `CREATE DATABASE … TEMPLATE` fails while it is there.
async fn close_template(conn: &mut PgConnection, template: &str) {
    let sql = format!(r#"ALTER DATABASE "{template}" WITH ALLOW_CONNECTIONS false"#);
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await
        .expect("closing the template to connections");
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(template)
    .execute(&mut *conn)
    .await
    .expect("ending the template's sessions");
}

/// Drops templates of other schema versions and test databases of processes that are gone.
async fn drop_stale(conn: &mut PgConnection, keep: &str) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'ebok\\_tpl\\_%' OR datname LIKE 'ebok\\_test\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    for name in names {
        let stale = if name.starts_with("ebok_tpl_") {
            name != keep
        } else {
            let pid: Option<i32> = name.split('_').nth(2).and_then(|p| p.parse().ok());
            pid.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
        };
        if stale {
            let sql = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *conn)
                .await;
        }
    }
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb").field("name", &self.name).finish()
    }
}
