//! Invoices and balance for the mobile app: the balance of each linked customer with the
//! ledger, the invoices, one invoice with its lines and readings, and its documents (the PDF
//! and the FA(3) XML, each fixed at issue with its SHA-256). Scoped by the account's linked
//! customers (`ebok_billing::statement::Scope::Account`): another customer's invoice is simply
//! not found.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::NaiveDate;
use ebok_billing::document::InvoiceDocument;
use ebok_billing::settlement::{self, Settleable, SettlementError};
use ebok_billing::statement::{self, Balance, InvoiceSummary, LedgerEntry, Scope};
use serde::{Deserialize, Serialize};
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
    /// The number the national e-invoice system (KSeF) gave the invoice, once it did.
    pub ksef_number: Option<String>,
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
        ksef_number: detail.ksef_number,
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
            ebok_billing::documents::pdf_of(&state.pool, utility_id, id)
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
    Ok(crate::download::attachment(
        &format!("faktura-{file}.{extension}"),
        content_type,
        bytes,
    ))
}

impl From<SettlementError> for ApiError {
    fn from(error: SettlementError) -> Self {
        match error {
            SettlementError::NotFound => ApiError::NotFound,
            SettlementError::Invalid { field, message } => ApiError::invalid(field, message),
            SettlementError::Db(e) => e.into(),
            SettlementError::Other(e) => ApiError::Internal(e),
        }
    }
}

/// Not found unless contract `contract_id` is of a customer linked to the account (checked
/// before anything is read of it).
pub(crate) async fn own_contract(
    state: &AppState,
    utility_id: i64,
    account_id: i64,
    contract_id: i64,
) -> Result<(), ApiError> {
    if settlement::is_accounts(&state.pool, utility_id, account_id, contract_id).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// The account's contracts that can be settled up to a chosen day, with the days it would
/// cover (from the first day not billed yet to yesterday at the latest).
#[utoipa::path(get, path = "/settlements", tag = "invoices", security(("bearer" = [])),
    responses((status = 200, body = Vec<Settleable>), (status = 401, body = Problem)))]
pub async fn settleable(
    State(state): State<AppState>,
    who: Resident,
) -> Result<Json<Vec<Settleable>>, ApiError> {
    Ok(Json(
        settlement::settleable(&state.pool, who.utility_id, who.account_id).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SettlementRequest {
    pub contract_id: i64,
    /// The last day to settle (Europe/Warsaw), `YYYY-MM-DD`: yesterday at the latest.
    #[schema(pattern = r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub through: NaiveDate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SettlementPreview {
    pub contract_id: i64,
    pub from: NaiveDate,
    pub through: NaiveDate,
    /// The invoice as it would be issued (its number comes at issue).
    pub document: InvoiceDocument,
}

/// What a settlement up to `through` would be, without issuing it.
#[utoipa::path(post, path = "/settlements/preview", tag = "invoices", security(("bearer" = [])),
    request_body = SettlementRequest,
    responses((status = 200, body = SettlementPreview), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn preview_settlement(
    State(state): State<AppState>,
    who: Resident,
    Json(request): Json<SettlementRequest>,
) -> Result<Json<SettlementPreview>, ApiError> {
    own_contract(&state, who.utility_id, who.account_id, request.contract_id).await?;
    let preview = settlement::preview(
        &state.pool,
        who.utility_id,
        request.contract_id,
        request.through,
    )
    .await?;
    Ok(Json(SettlementPreview {
        contract_id: preview.contract_id,
        from: preview.from,
        through: preview.through,
        document: preview.document,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SettlementIssued {
    pub invoice_id: i64,
}

/// Issues the settlement up to `through`: an invoice for the contract's days not billed yet.
#[utoipa::path(post, path = "/settlements", tag = "invoices", security(("bearer" = [])),
    request_body = SettlementRequest,
    responses((status = 201, body = SettlementIssued), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn issue_settlement(
    State(state): State<AppState>,
    who: Resident,
    Json(request): Json<SettlementRequest>,
) -> Result<(StatusCode, Json<SettlementIssued>), ApiError> {
    own_contract(&state, who.utility_id, who.account_id, request.contract_id).await?;
    let invoice_id = settlement::issue(
        &state.pool,
        who.utility_id,
        request.contract_id,
        request.through,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(SettlementIssued { invoice_id })))
}
