//! `--store plain|timescale`: which time-series store a bench measures, and what a reading
//! costs in it. Without a configured database URL, each store gets a local cluster of its own
//! (`<stack data dir>/stores/<store>`, TimescaleDB preloaded or not), so both can be measured
//! one after the other on the same machine without touching the development stack; with a URL,
//! the server is what it is and the bench says which store it found (and refuses a mismatch).

use anyhow::{Result, bail};
use ebok_common::Config;
use ebok_common::config::TimescaleMode;
pub use ebok_common::db::ReadingStore;
use sqlx::PgPool;

/// `--store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Store {
    /// PostgreSQL's own month partitions.
    Plain,
    /// A TimescaleDB hypertable with compression.
    Timescale,
}

impl Store {
    fn reading_store(self) -> ReadingStore {
        match self {
            Store::Plain => ReadingStore::Plain,
            Store::Timescale => ReadingStore::Timescale,
        }
    }

    /// Points the local stack at this store's own cluster (unless a server is configured).
    pub fn configure(self, config: &mut Config) {
        if config.database.url.is_some() {
            return;
        }
        let name = self.reading_store().name();
        config.stack.data_dir = config.stack.data_dir.join("stores").join(name);
        config.stack.timescaledb = match self {
            Store::Plain => TimescaleMode::Off,
            Store::Timescale => TimescaleMode::On,
        };
    }
}

/// The store of a bench's migrated database; an error when it is not the one `asked` for.
pub async fn of(pool: &PgPool, asked: Option<Store>) -> Result<ReadingStore> {
    let found = ReadingStore::of(pool).await?;
    if let Some(asked) = asked.map(Store::reading_store)
        && asked != found
    {
        bail!(
            "--store {} asked for, but the database server stores readings as {}",
            asked.name(),
            found.name()
        );
    }
    Ok(found)
}

/// Bytes on disk per stored reading: the readings' table with its indexes and TOAST, over every
/// partition or chunk (compressed chunks included), divided by the number of readings.
pub async fn bytes_per_reading(pool: &PgPool, store: ReadingStore) -> Result<f64> {
    let sql = match store {
        ReadingStore::Plain => {
            "SELECT (SELECT sum(pg_total_relation_size(relid))::float8
                     FROM pg_partition_tree('meter_readings'))
                    / nullif((SELECT count(*) FROM meter_readings), 0)::float8"
        }
        ReadingStore::Timescale => {
            "SELECT hypertable_size('meter_readings')::float8
                    / nullif((SELECT count(*) FROM meter_readings), 0)::float8"
        }
    };
    let bytes: Option<f64> = sqlx::query_scalar(sql).fetch_one(pool).await?;
    Ok(bytes.unwrap_or(0.0))
}

/// Compresses every chunk now (what the policy does to chunks past `ingest.compress_after_days`)
/// and returns the bytes per reading afterwards. Plain PostgreSQL has no compression of its own:
/// the figure stays what it was.
pub async fn compressed_bytes_per_reading(pool: &PgPool, store: ReadingStore) -> Result<f64> {
    if store == ReadingStore::Timescale {
        sqlx::query(
            "SELECT count(compress_chunk(c, if_not_compressed => true))
             FROM show_chunks('meter_readings') c",
        )
        .execute(pool)
        .await?;
    }
    bytes_per_reading(pool, store).await
}
