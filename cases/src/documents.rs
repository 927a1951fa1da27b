//! Documents a case keeps — attachments, acknowledgements, decisions, contracts — stored once
//! per utility by their SHA-256. The hash is what a public check compares a document someone
//! holds with ([`find_by_hash`]); who may read a document is the caller's to check.
//!
//! # Where the bytes live
//!
//! Each document's row (`documents`) keeps its hash, type and size, and says where its bytes
//! are (`storage`): in the row itself (`postgres`, the default), or in a [`Blobs`] store the
//! installation configured once at start ([`keep_in`]). A row never changes, so a document
//! stored in PostgreSQL stays there when a store is configured later, and is read from there.
//!
//! [`Directory`] keeps the bytes in files named by the hash (`<root>/<utility>/<ab>/<sha256>`),
//! written whole before the row is inserted (a crash leaves at worst a file no row names, never
//! a row without its file) and checked against the hash when read. An S3-compatible store
//! implements [`Blobs`] the same way — `put` as a PUT of the object
//! `<utility>/<sha256>` (idempotent: the key is the content), `get` as a GET checked against
//! the hash — with `storage = 's3'`; it is not built here (no such service runs in the test
//! environment, and the directory covers a single server).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};
use sqlx::PgConnection;

/// A store of documents' bytes outside PostgreSQL, addressed by utility and SHA-256.
pub trait Blobs: Send + Sync + std::fmt::Debug {
    /// What `documents.storage` says for the documents it keeps.
    fn storage(&self) -> &'static str;
    /// Keeps `content`, whose SHA-256 is `sha256`; keeping the same content again is a no-op.
    fn put(&self, utility_id: i64, sha256: &[u8], content: &[u8]) -> std::io::Result<()>;
    /// The bytes kept under `sha256`, checked against it.
    fn get(&self, utility_id: i64, sha256: &[u8]) -> std::io::Result<Vec<u8>>;
}

/// Documents' bytes in a directory, one file per utility and content.
#[derive(Debug, Clone)]
pub struct Directory {
    root: PathBuf,
}

impl Directory {
    pub fn new(root: impl Into<PathBuf>) -> Directory {
        Directory { root: root.into() }
    }

    fn path(&self, utility_id: i64, sha256: &[u8]) -> PathBuf {
        let hex = hex(sha256);
        self.root
            .join(utility_id.to_string())
            .join(&hex[..2])
            .join(hex)
    }
}

impl Blobs for Directory {
    fn storage(&self) -> &'static str {
        "directory"
    }

    fn put(&self, utility_id: i64, sha256: &[u8], content: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        let path = self.path(utility_id, sha256);
        if path.exists() {
            return Ok(());
        }
        let dir = path.parent().expect("a document's path has a folder");
        std::fs::create_dir_all(dir)?;
        // Whole or not at all: written aside, synced, then renamed into place.
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        file.write_all(content)?;
        file.as_file().sync_all()?;
        file.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    fn get(&self, utility_id: i64, sha256: &[u8]) -> std::io::Result<Vec<u8>> {
        let bytes = std::fs::read(self.path(utility_id, sha256))?;
        if Sha256::digest(&bytes)[..] != *sha256 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the file of document {} does not match its hash",
                    hex(sha256)
                ),
            ));
        }
        Ok(bytes)
    }
}

static BLOBS: OnceLock<Arc<dyn Blobs>> = OnceLock::new();

/// Keeps the bytes of documents stored from now on in `blobs` (once, at start; the
/// installation's `documents.dir`). Without it they are kept in PostgreSQL.
pub fn keep_in(blobs: Arc<dyn Blobs>) -> Result<(), Arc<dyn Blobs>> {
    BLOBS.set(blobs)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs a store's blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> sqlx::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))?
        .map_err(sqlx::Error::Io)
}

/// A stored document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: i64,
    pub sha256: Vec<u8>,
    pub content_type: String,
    pub bytes: i64,
}

/// Stores `content` for utility `utility_id` (or finds it stored already); the document.
pub async fn store(
    conn: &mut PgConnection,
    utility_id: i64,
    content: &[u8],
    content_type: &str,
) -> sqlx::Result<Document> {
    let sha256 = Sha256::digest(content).to_vec();
    let (storage, in_row) = match BLOBS.get() {
        Some(blobs) => {
            let (blobs, hash, bytes) = (blobs.clone(), sha256.clone(), content.to_vec());
            let storage = blobs.storage();
            blocking(move || blobs.put(utility_id, &hash, &bytes)).await?;
            (storage, None)
        }
        None => ("postgres", Some(content)),
    };
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO documents (utility_id, sha256, content_type, bytes, storage, content)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (utility_id, sha256) DO NOTHING
           RETURNING id"#,
        utility_id,
        sha256,
        content_type,
        content.len() as i64,
        storage,
        in_row
    )
    .fetch_optional(&mut *conn)
    .await?;
    let id = match inserted {
        Some(id) => id,
        None => {
            sqlx::query_scalar!(
                "SELECT id FROM documents WHERE utility_id = $1 AND sha256 = $2",
                utility_id,
                sha256
            )
            .fetch_one(&mut *conn)
            .await?
        }
    };
    Ok(Document {
        id,
        sha256,
        content_type: content_type.to_string(),
        bytes: content.len() as i64,
    })
}

/// The bytes and type of document `id` of utility `utility_id`, wherever they are kept. Who
/// may read it is the caller's to check.
pub async fn content(
    conn: &mut PgConnection,
    utility_id: i64,
    id: i64,
) -> sqlx::Result<Option<(String, Vec<u8>)>> {
    let Some(r) = sqlx::query!(
        r#"SELECT content_type, storage, sha256, content FROM documents
           WHERE utility_id = $1 AND id = $2"#,
        utility_id,
        id
    )
    .fetch_optional(conn)
    .await?
    else {
        return Ok(None);
    };
    let bytes = match (r.content, BLOBS.get()) {
        (Some(bytes), _) => bytes,
        (None, Some(blobs)) if blobs.storage() == r.storage => {
            let (blobs, hash) = (blobs.clone(), r.sha256);
            blocking(move || blobs.get(utility_id, &hash)).await?
        }
        (None, _) => {
            return Err(sqlx::Error::Io(std::io::Error::other(format!(
                "document {id} is kept in `{}` storage, which this installation does not have \
                 (documents.dir)",
                r.storage
            ))));
        }
    };
    Ok(Some((r.content_type, bytes)))
}

/// The document of utility `utility_id` with this SHA-256, if one is stored.
pub async fn find_by_hash(
    conn: &mut PgConnection,
    utility_id: i64,
    sha256: &[u8],
) -> sqlx::Result<Option<Document>> {
    sqlx::query!(
        r#"SELECT id, sha256, content_type, bytes FROM documents
           WHERE utility_id = $1 AND sha256 = $2"#,
        utility_id,
        sha256
    )
    .fetch_optional(conn)
    .await
    .map(|r| {
        r.map(|r| Document {
            id: r.id,
            sha256: r.sha256,
            content_type: r.content_type,
            bytes: r.bytes,
        })
    })
}
