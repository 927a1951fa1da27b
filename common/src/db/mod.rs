//! The database pool, the one ordered set of migrations (`migrations/` at the workspace root), and
//! the checks `/readyz` and the commands rely on: is the database answering, are the migrations
//! current.

mod kept;
mod nodelay;

pub use kept::{DatabaseFault, KeptConnections, Lease, Work};

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::{DatabaseConfig, redact_url};

/// Every migration of the schema, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Why the database could not be used. Each message is one line naming the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "no database configured: set {setting} or start the local stack (`ebok stack up`)",
        setting = DatabaseConfig::SETTING
    )]
    NotConfigured,
    #[error("{setting} is not a valid PostgreSQL URL ({url}): {reason}", setting = DatabaseConfig::SETTING)]
    BadUrl { url: String, reason: String },
    #[error(
        "cannot connect to PostgreSQL at {url} (setting {setting}): {reason}",
        setting = DatabaseConfig::SETTING
    )]
    Unreachable { url: String, reason: String },
    #[error("database migration failed: {0}")]
    Migrate(String),
}

/// Parses the configured URL into connect options, naming the setting on error.
pub fn connect_options(config: &DatabaseConfig) -> Result<PgConnectOptions, DbError> {
    let url = config.url.as_ref().ok_or(DbError::NotConfigured)?;
    url.expose_secret()
        .parse()
        .map_err(|e: sqlx::Error| DbError::BadUrl {
            url: redact_url(url.expose_secret()),
            reason: one_line(&e.to_string()),
        })
}

/// A pooled connection idle longer than this is pinged before it is handed out.
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Pool options every part of the system uses: connections get `TCP_NODELAY` (see
/// [`nodelay`]), and an idle connection is pinged before use only once it has been idle for
/// [`PING_AFTER_IDLE`].
///
/// sqlx's default pings every connection it takes from the pool: one more round trip and one more
/// wake-up of the PostgreSQL backend for every statement, which `ebok bench api` measured as
/// a large share of the database's CPU on the hot reads. A connection in steady use has just
/// answered a statement; one that sat idle (a server restart, a dropped TCP connection) is still
/// checked, and one broken in between fails its statement, is closed and not reused.
pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_AFTER_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                nodelay::set_on(conn).await;
                Ok(())
            })
        })
}

/// Opens a pool and proves it works with one round trip, so a wrong URL fails here, at start-up,
/// with a clear message, and not later inside some request.
pub async fn connect(config: &DatabaseConfig, application_name: &str) -> Result<PgPool, DbError> {
    let options = connect_options(config)?.application_name(application_name);
    let url = config.redacted_url().unwrap_or_default();
    let pool = pool_options(config.max_connections)
        .acquire_timeout(Duration::from_secs(config.connect_timeout_secs))
        .connect_with(options)
        .await
        .map_err(|e| DbError::Unreachable {
            url: url.clone(),
            reason: describe_connect_error(&e, config.connect_timeout_secs),
        })?;
    Ok(pool)
}

fn describe_connect_error(error: &sqlx::Error, timeout_secs: u64) -> String {
    match error {
        sqlx::Error::PoolTimedOut => format!("no answer within {timeout_secs} s"),
        other => one_line(&other.to_string()),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Applies every pending migration.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR
        .run(pool)
        .await
        .map_err(|e| DbError::Migrate(one_line(&e.to_string())))
}

/// How the database's schema compares with the migrations this binary carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationState {
    /// Every migration applied, none unknown.
    Current,
    /// Some of this binary's migrations are not applied yet.
    Pending { versions: Vec<i64> },
    /// An applied migration differs from this binary's copy, failed half-way, or is unknown to
    /// this binary (the database is newer).
    Mismatch { version: i64, reason: &'static str },
}

impl MigrationState {
    pub fn is_current(&self) -> bool {
        matches!(self, MigrationState::Current)
    }

    pub fn describe(&self) -> String {
        match self {
            MigrationState::Current => "current".into(),
            MigrationState::Pending { versions } => format!("pending: {versions:?}"),
            MigrationState::Mismatch { version, reason } => format!("{reason}: {version}"),
        }
    }
}

/// Compares the `_sqlx_migrations` bookkeeping table with [`MIGRATOR`].
pub async fn migration_state(pool: &PgPool) -> Result<MigrationState, sqlx::Error> {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    let applied: BTreeMap<i64, (bool, Vec<u8>)> = if exists {
        sqlx::query_as::<_, (i64, bool, Vec<u8>)>(
            "SELECT version, success, checksum FROM _sqlx_migrations",
        )
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|(v, ok, sum)| (v, (ok, sum)))
        .collect()
    } else {
        BTreeMap::new()
    };
    Ok(compare(&applied))
}

fn compare(applied: &BTreeMap<i64, (bool, Vec<u8>)>) -> MigrationState {
    let known: BTreeMap<i64, &[u8]> = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| (m.version, m.checksum.as_ref()))
        .collect();
    for (version, (success, checksum)) in applied {
        match known.get(version) {
            None => {
                return MigrationState::Mismatch {
                    version: *version,
                    reason: "applied migration unknown to this binary",
                };
            }
            Some(_) if !success => {
                return MigrationState::Mismatch {
                    version: *version,
                    reason: "migration failed half-way",
                };
            }
            Some(expected) if *expected != checksum.as_slice() => {
                return MigrationState::Mismatch {
                    version: *version,
                    reason: "applied migration was changed since",
                };
            }
            Some(_) => {}
        }
    }
    let pending: Vec<i64> = known
        .keys()
        .filter(|v| !applied.contains_key(v))
        .copied()
        .collect();
    if pending.is_empty() {
        MigrationState::Current
    } else {
        MigrationState::Pending { versions: pending }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_applied() -> BTreeMap<i64, (bool, Vec<u8>)> {
        MIGRATOR
            .iter()
            .map(|m| (m.version, (true, m.checksum.to_vec())))
            .collect()
    }

    #[test]
    fn every_migration_applied_is_current() {
        assert_eq!(compare(&all_applied()), MigrationState::Current);
    }

    #[test]
    fn missing_migration_is_pending() {
        let mut applied = all_applied();
        let last = *applied.keys().last().unwrap();
        applied.remove(&last);
        assert_eq!(
            compare(&applied),
            MigrationState::Pending {
                versions: vec![last]
            }
        );
    }

    #[test]
    fn changed_checksum_is_a_mismatch() {
        let mut applied = all_applied();
        applied.get_mut(&1).unwrap().1 = vec![0; 48];
        assert!(matches!(
            compare(&applied),
            MigrationState::Mismatch { version: 1, .. }
        ));
    }

    #[test]
    fn migration_from_a_newer_binary_is_a_mismatch() {
        let mut applied = all_applied();
        applied.insert(99_999, (true, vec![]));
        assert!(matches!(
            compare(&applied),
            MigrationState::Mismatch {
                version: 99_999,
                ..
            }
        ));
    }

    #[test]
    fn unconfigured_database_error_names_the_setting() {
        let err = connect_options(&DatabaseConfig::default()).unwrap_err();
        assert!(err.to_string().contains("EBOK__DATABASE__URL"), "{err}");
    }
}

/// How a database stores the readings (migration 0003, chosen when it was created): month
/// partitions on plain PostgreSQL, or a TimescaleDB hypertable. Everything reads and writes the
/// same way on both; what differs is compression and how old data goes (docs/scaling.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadingStore {
    Plain,
    Timescale,
}

impl ReadingStore {
    pub fn name(self) -> &'static str {
        match self {
            ReadingStore::Plain => "plain",
            ReadingStore::Timescale => "timescale",
        }
    }

    /// The store of a migrated database (`ebok_readings_storage()`).
    pub async fn of(pool: &PgPool) -> Result<ReadingStore, sqlx::Error> {
        let storage: String = sqlx::query_scalar("SELECT ebok_readings_storage()")
            .fetch_one(pool)
            .await?;
        Ok(if storage == "hypertable" {
            ReadingStore::Timescale
        } else {
            ReadingStore::Plain
        })
    }
}
