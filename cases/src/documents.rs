//! Documents a case keeps — attachments, acknowledgements, decisions, contracts — stored once
//! per utility by their SHA-256, in PostgreSQL (`documents.content`). The hash is what a public
//! check compares a document someone holds with ([`find_by_hash`]).
//!
//! Not built yet: keeping the bytes in a directory or an S3-compatible store for larger
//! utilities (the `storage` column is ready for it; the bytes would be found by the hash).

use sha2::{Digest, Sha256};
use sqlx::PgConnection;

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
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO documents (utility_id, sha256, content_type, bytes, content)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (utility_id, sha256) DO NOTHING
           RETURNING id"#,
        utility_id,
        sha256,
        content_type,
        content.len() as i64,
        content
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

/// The bytes and type of document `id` of utility `utility_id`. Who may read it is the
/// caller's to check.
pub async fn content(
    conn: &mut PgConnection,
    utility_id: i64,
    id: i64,
) -> sqlx::Result<Option<(String, Vec<u8>)>> {
    Ok(sqlx::query!(
        "SELECT content_type, content FROM documents WHERE utility_id = $1 AND id = $2",
        utility_id,
        id
    )
    .fetch_optional(conn)
    .await?
    .and_then(|r| r.content.map(|c| (r.content_type, c))))
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
