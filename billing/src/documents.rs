//! An issued invoice's documents: the FA(3) XML stored at issue, and the PDF, rendered from the
//! stored [`InvoiceDocument`] the first time someone asks for it (or by a pass after a run) and
//! then stored too. Both are fixed once they exist (the `invoices_issued_fixed` trigger): a
//! document downloaded twice is the same file, with the same SHA-256.
//!
//! The PDF's verification code (KOD I) points at the KSeF environment the utility uses
//! (`utilities.ksef_environment`) and is labelled with the invoice's KSeF number. An invoice
//! on its way to KSeF (`ksef_invoices` queued or sent, or rejected and waiting for staff) has
//! no number yet: its PDF is rendered on request, labelled "OFFLINE", and not stored, so the
//! stored PDF is the one with the number.
//!
//! Who may fetch which invoice is the caller's business (the portal checks the resident's
//! customers, the back office the staff role); these functions take the utility and the
//! invoice.

use sha2::{Digest, Sha256};
use sqlx::{PgExecutor, PgPool};

use crate::document::InvoiceDocument;
use crate::{ksef, pdf};

/// The KSeF test environment's host of verification links (what a utility that sends nothing
/// to KSeF yet prints, like the `test` default of `utilities.ksef_environment`).
pub const KSEF_QR_BASE_TEST: &str = "https://qr-test.ksef.mf.gov.pl";

/// The host of verification links of a KSeF environment (`ksef_environment`).
pub fn qr_base(environment: &str) -> &'static str {
    match environment {
        "production" => "https://qr.ksef.mf.gov.pl",
        "demo" => "https://qr-demo.ksef.mf.gov.pl",
        _ => KSEF_QR_BASE_TEST,
    }
}

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
        Some(id) => pdf_of(pool, utility_id, id).await,
        None => Ok(None),
    }
}

/// The PDF of invoice `invoice_id`, rendered and stored at the first call (unless it waits for
/// its KSeF number). Two first calls at once render twice but store once; both get the stored
/// one.
pub async fn pdf_of(
    pool: &PgPool,
    utility_id: i64,
    invoice_id: i64,
) -> anyhow::Result<Option<Vec<u8>>> {
    let Some(row) = sqlx::query!(
        r#"SELECT i.pdf, i.document, i.ksef_xml, u.ksef_environment::text AS "environment!",
                  k.state::text AS "ksef_state?", k.ksef_number AS "ksef_number?"
           FROM invoices i
           JOIN utilities u ON u.id = i.utility_id
           LEFT JOIN ksef_invoices k ON k.invoice_id = i.id
           WHERE i.utility_id = $1 AND i.id = $2"#,
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
    let bytes = render(
        &row.document,
        &row.ksef_xml,
        qr_base(&row.environment),
        row.ksef_number.as_deref(),
    )?;
    if row.ksef_state.as_deref().is_some_and(|s| s != "accepted") {
        return Ok(Some(bytes));
    }
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

/// The PDF from the stored document and XML, with the invoice's KSeF number when it has one.
pub fn render(
    document: &serde_json::Value,
    xml: &str,
    qr_base: &str,
    ksef_number: Option<&str>,
) -> anyhow::Result<Vec<u8>> {
    let mut doc: InvoiceDocument = serde_json::from_value(document.clone())?;
    if let Some(number) = ksef_number {
        doc.ksef_number = Some(number.to_string());
    }
    let nip = doc.seller.nip.as_deref().unwrap_or_default();
    let url = ksef::verification_url(qr_base, nip, doc.issue_date, xml.as_bytes());
    Ok(pdf::invoice_pdf(&doc, &url))
}

/// Renders and stores the PDFs not rendered yet of a utility's invoices (of one billing run, or
/// all; at most `limit` of them, oldest first), the rendering spread over `workers` threads.
/// The pass after a run, so the first downloads and the print batch find their PDFs ready;
/// invoices waiting for their KSeF number are left for later. Returns how many it stored.
pub async fn render_missing(
    pool: &PgPool,
    utility_id: i64,
    run_id: Option<i64>,
    limit: Option<usize>,
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
            r#"SELECT i.id, i.document, i.ksef_xml, k.ksef_number AS "ksef_number?",
                      u.ksef_environment::text AS "environment!"
               FROM invoices i
               JOIN utilities u ON u.id = i.utility_id
               LEFT JOIN ksef_invoices k ON k.invoice_id = i.id
               WHERE i.utility_id = $1 AND i.pdf IS NULL AND i.id > $2
                 AND ($3::bigint IS NULL OR i.billing_run_id = $3)
                 AND (k.invoice_id IS NULL OR k.state = 'accepted')
               ORDER BY i.id LIMIT $4"#,
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
        let base = qr_base(&last.environment);
        let rows: Vec<(i64, serde_json::Value, String, Option<String>)> = rows
            .into_iter()
            .map(|r| (r.id, r.document, r.ksef_xml, r.ksef_number))
            .collect();
        let chunk = rows.len().div_ceil(workers.max(1));
        let mut tasks = Vec::new();
        for part in rows.chunks(chunk) {
            let part = part.to_vec();
            tasks.push(tokio::task::spawn_blocking(move || {
                part.into_iter()
                    .map(|(id, doc, xml, number)| {
                        render(&doc, &xml, base, number.as_deref()).map(|pdf| (id, pdf))
                    })
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
