//! Documents kept in a directory (`documents.dir`) instead of PostgreSQL: the row says so and
//! holds no bytes, the file is named by the hash and holds exactly the bytes, reading goes
//! through the store and notices a file changed behind its back. A test binary of its own,
//! because the store is chosen once per process.

use std::sync::Arc;

use ebok_cases::documents::{self, Directory};
use ebok_testkit::{TestDb, fixtures};
use sha2::{Digest, Sha256};

#[tokio::test]
async fn a_document_kept_in_a_directory_is_read_back_whole_and_a_changed_file_is_refused() {
    let db = TestDb::new().await;
    let utility_id = fixtures::utility(&db.pool, "mlynary").await;
    let root = tempfile::tempdir().unwrap();
    documents::keep_in(Arc::new(Directory::new(root.path()))).unwrap();
    let content = b"%PDF-1.7\n% decyzja\n%%EOF\n".to_vec();
    let mut conn = db.pool.acquire().await.unwrap();
    let doc = documents::store(&mut conn, utility_id, &content, "application/pdf")
        .await
        .unwrap();
    let (storage, in_row): (String, Option<Vec<u8>>) =
        sqlx::query_as("SELECT storage, content FROM documents WHERE id = $1")
            .bind(doc.id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((storage.as_str(), in_row), ("directory", None));
    let hex: String = Sha256::digest(&content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let file = root
        .path()
        .join(utility_id.to_string())
        .join(&hex[..2])
        .join(&hex);
    assert_eq!(std::fs::read(&file).unwrap(), content);
    // Stored again: the same document, one file.
    let again = documents::store(&mut conn, utility_id, &content, "application/pdf")
        .await
        .unwrap();
    assert_eq!(again.id, doc.id);
    let (_, read) = documents::content(&mut conn, utility_id, doc.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, content);
    // Another utility does not read it; a file changed behind the store's back is refused.
    let other = fixtures::utility(&db.pool, "paslek").await;
    assert!(
        documents::content(&mut conn, other, doc.id)
            .await
            .unwrap()
            .is_none()
    );
    std::fs::write(&file, b"%PDF-1.7\n% podmieniona\n%%EOF\n").unwrap();
    let err = documents::content(&mut conn, utility_id, doc.id)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not match its hash"), "{err}");
}
