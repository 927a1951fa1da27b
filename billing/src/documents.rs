//! An issued invoice's documents: the FA(3) XML stored at issue, and the PDF, rendered from the
//! stored [`InvoiceDocument`] the first time someone asks for it (or by a pass after a run) and
//! then stored too. Both are fixed once they exist (the `invoices_issued_fixed` trigger): a
//! document downloaded twice is the same file, with the same SHA-256.
//!
//! Who may fetch which invoice is the caller's business (the portal checks the resident's
//! customers, the back office the staff role); these functions take the utility and the
//! invoice.

use sha2::{Digest, Sha256};
use sqlx::{PgExecutor, PgPool};

use crate::document::InvoiceDocument;
use crate::{ksef, pdf};

/// The KSeF test environment's host of verification links; production utilities set
/// `https://qr.ksef.mf.gov.pl`.
pub const KSEF_QR_BASE_TEST: &str = "https://qr-test.ksef.mf.gov.pl";

/// The stored FA(3) XML of the invoice with this number.
pub async fn xml(
    db: impl PgExecutor<'_>,
    utility_id: i64,
    number: &str,
) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar!(
        "SELECT ksef_xml FROM invoices WHERE utility_id = $1 AND number = $2",
        utility_id,
        number
    )
    .fetch_optional(db)
    .await
    .map(|x| x.map(String::into_bytes))
}

/// The PDF of the invoice with this number, rendered and stored at the first call.
pub async fn pdf(pool: &PgPool, utility_id: i64, number: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let id = sqlx::query_scalar!(
        "SELECT id FROM invoices WHERE utility_id = $1 AND number = $2",
        utility_id,
        number
    )
    .fetch_optional(pool)
    .await?;
    match id {
        Some(id) => pdf_of(pool, utility_id, id, KSEF_QR_BASE_TEST).await,
        None => Ok(None),
    }
}

/// The PDF of invoice `invoice_id`, rendered and stored at the first call. Two first calls at
/// once render twice but store once; both get the stored one.
pub async fn pdf_of(
    pool: &PgPool,
    utility_id: i64,
    invoice_id: i64,
    qr_base: &str,
) -> anyhow::Result<Option<Vec<u8>>> {
    let Some(row) = sqlx::query!(
        r#"SELECT pdf, document, ksef_xml FROM invoices WHERE utility_id = $1 AND id = $2"#,
        utility_id,
        invoice_id
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    if let Some(pdf) = row.pdf {
        return Ok(Some(pdf));
    }
    let bytes = render(&row.document, &row.ksef_xml, qr_base)?;
    let stored = sqlx::query_scalar!(
        r#"UPDATE invoices SET pdf = $3, pdf_sha256 = $4
           WHERE utility_id = $1 AND id = $2 AND pdf IS NULL
           RETURNING pdf AS "pdf!""#,
        utility_id,
        invoice_id,
        &bytes,
        Sha256::digest(&bytes).to_vec()
    )
    .fetch_optional(pool)
    .await?;
    match stored {
        Some(pdf) => Ok(Some(pdf)),
        // Someone else stored it first: theirs is the document.
        None => Ok(sqlx::query_scalar!(
            r#"SELECT pdf AS "pdf!" FROM invoices WHERE utility_id = $1 AND id = $2"#,
            utility_id,
            invoice_id
        )
        .fetch_optional(pool)
        .await?),
    }
}

/// The PDF from the stored document and XML.
pub fn render(document: &serde_json::Value, xml: &str, qr_base: &str) -> anyhow::Result<Vec<u8>> {
    let doc: InvoiceDocument = serde_json::from_value(document.clone())?;
    let nip = doc.seller.nip.as_deref().unwrap_or_default();
    let url = ksef::verification_url(qr_base, nip, doc.issue_date, xml.as_bytes());
    Ok(pdf::invoice_pdf(&doc, &url))
}

/// Renders and stores the PDFs not rendered yet of a utility's invoices (of one billing run, or
/// all; at most `limit` of them, oldest first), the rendering spread over `workers` threads. The pass after a run,
/// so the first downloads and the print batch find their PDFs ready. Returns how many it
/// stored.
pub async fn render_missing(
    pool: &PgPool,
    utility_id: i64,
    run_id: Option<i64>,
    limit: Option<usize>,
    qr_base: &str,
    workers: usize,
) -> anyhow::Result<usize> {
    const BATCH: i64 = 256;
    let mut stored = 0;
    let mut after = 0i64;
    loop {
        let batch = match limit {
            Some(limit) if limit <= stored => return Ok(stored),
            Some(limit) => BATCH.min((limit - stored) as i64),
            None => BATCH,
        };
        let rows = sqlx::query!(
            r#"SELECT id, document, ksef_xml FROM invoices
               WHERE utility_id = $1 AND pdf IS NULL AND id > $2
                 AND ($3::bigint IS NULL OR billing_run_id = $3)
               ORDER BY id LIMIT $4"#,
            utility_id,
            after,
            run_id,
            batch
        )
        .fetch_all(pool)
        .await?;
        let Some(last) = rows.last() else {
            return Ok(stored);
        };
        after = last.id;
        let rows: Vec<(i64, serde_json::Value, String)> = rows
            .into_iter()
            .map(|r| (r.id, r.document, r.ksef_xml))
            .collect();
        let chunk = rows.len().div_ceil(workers.max(1));
        let mut tasks = Vec::new();
        for part in rows.chunks(chunk) {
            let part = part.to_vec();
            let base = qr_base.to_string();
            tasks.push(tokio::task::spawn_blocking(move || {
                part.into_iter()
                    .map(|(id, doc, xml)| render(&doc, &xml, &base).map(|pdf| (id, pdf)))
                    .collect::<anyhow::Result<Vec<_>>>()
            }));
        }
        let (mut ids, mut pdfs, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
        for task in tasks {
            for (id, pdf) in task.await?? {
                ids.push(id);
                hashes.push(Sha256::digest(&pdf).to_vec());
                pdfs.push(pdf);
            }
        }
        let updated = sqlx::query!(
            r#"UPDATE invoices i SET pdf = u.pdf, pdf_sha256 = u.hash
               FROM unnest($2::bigint[], $3::bytea[], $4::bytea[]) AS u(id, pdf, hash)
               WHERE i.utility_id = $1 AND i.id = u.id AND i.pdf IS NULL"#,
            utility_id,
            &ids,
            &pdfs,
            &hashes
        )
        .execute(pool)
        .await?;
        stored += updated.rows_affected() as usize;
    }
}
