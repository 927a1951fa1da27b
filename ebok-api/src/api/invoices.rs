//! Invoices and balance for the mobile app: the balance of each linked customer with the
//! ledger, the invoices, one invoice with its lines and readings, and its documents (the PDF
//! and the FA(3) XML, each fixed at issue with its SHA-256). Scoped by the account's linked
//! customers (`ebok_billing::statement::Scope::Account`): another customer's invoice is simply
//! not found.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use ebok_billing::document::InvoiceDocument;
use ebok_billing::statement::{self, Balance, InvoiceSummary, LedgerEntry, Scope};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Resident;
use crate::error::{ApiError, Problem};
use crate::extract::{Json, Path};
use crate::state::AppState;

fn scope(who: &Resident) -> Scope {
    Scope::Account {
        utility_id: who.utility_id,
        account_id: who.account_id,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceView {
    /// One per linked customer.
    pub customers: Vec<Balance>,
    /// The newest ledger entries of those customers (at most 50).
    pub ledger: Vec<LedgerEntry>,
}

/// What the account's customers owe (positive) or have overpaid (negative, credited to the next
/// invoice), with the settlement history.
#[utoipa::path(get, path = "/balance", tag = "invoices", security(("bearer" = [])),
    responses((status = 200, body = BalanceView), (status = 401, body = Problem)))]
pub async fn balance(
    State(state): State<AppState>,
    who: Resident,
) -> Result<Json<BalanceView>, ApiError> {
    Ok(Json(BalanceView {
        customers: statement::balances(&state.pool, scope(&who)).await?,
        ledger: statement::ledger(&state.pool, scope(&who), 50).await?,
    }))
}

/// The account's invoices, newest first (at most 120: ten years of monthly invoices).
#[utoipa::path(get, path = "/invoices", tag = "invoices", security(("bearer" = [])),
    responses((status = 200, body = Vec<InvoiceSummary>), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    who: Resident,
) -> Result<Json<Vec<InvoiceSummary>>, ApiError> {
    Ok(Json(
        statement::invoices(&state.pool, scope(&who), 120).await?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceView {
    pub invoice: InvoiceSummary,
    /// Everything the invoice shows: lines, VAT per rate, readings, notes.
    pub document: InvoiceDocument,
    /// SHA-256 (hex) of the FA(3) XML, fixed at issue.
    pub xml_sha256: String,
    /// SHA-256 (hex) of the PDF, once it has been rendered (at the first download).
    pub pdf_sha256: Option<String>,
}

/// One invoice with its lines, VAT, readings and notes.
#[utoipa::path(get, path = "/invoices/{id}", tag = "invoices", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = InvoiceView), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
) -> Result<Json<InvoiceView>, ApiError> {
    let detail = statement::invoice(&state.pool, scope(&who), id)
        .await
        .map_err(ApiError::Internal)?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(InvoiceView {
        invoice: detail.summary,
        document: detail.document,
        xml_sha256: detail.xml_sha256,
        pdf_sha256: detail.pdf_sha256,
    }))
}

/// The invoice as a PDF (rendered at the first download, then always the same file).
#[utoipa::path(get, path = "/invoices/{id}/pdf", tag = "invoices", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = Problem)))]
pub async fn pdf(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    document_response(&state, scope(&who), id, Format::Pdf).await
}

/// The invoice's structured FA(3) XML, as KSeF takes it.
#[utoipa::path(get, path = "/invoices/{id}/xml", tag = "invoices", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/xml", body = String), (status = 404, body = Problem)))]
pub async fn xml(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    document_response(&state, scope(&who), id, Format::Xml).await
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Format {
    Pdf,
    Xml,
}

/// A document download of an invoice in scope (shared with the portal and the back office).
pub(crate) async fn document_response(
    state: &AppState,
    scope: Scope,
    id: i64,
    format: Format,
) -> Result<impl IntoResponse + use<>, ApiError> {
    let detail = statement::invoice(&state.pool, scope, id)
        .await
        .map_err(ApiError::Internal)?
        .ok_or(ApiError::NotFound)?;
    let utility_id = match scope {
        Scope::Account { utility_id, .. } | Scope::Customer { utility_id, .. } => utility_id,
    };
    let file = detail.summary.number.replace('/', "-");
    let (bytes, content_type, extension) = match format {
        Format::Pdf => (
            ebok_billing::documents::pdf_of(
                &state.pool,
                utility_id,
                id,
                ebok_billing::documents::KSEF_QR_BASE_TEST,
            )
            .await
            .map_err(ApiError::Internal)?
            .ok_or(ApiError::NotFound)?,
            "application/pdf",
            "pdf",
        ),
        Format::Xml => (
            ebok_billing::documents::xml(&state.pool, utility_id, &detail.summary.number)
                .await?
                .ok_or(ApiError::NotFound)?,
            "application/xml; charset=utf-8",
            "xml",
        ),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"faktura-{file}.{extension}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    ))
}
