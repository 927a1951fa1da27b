//! Cases in the API: without logging in, the status of a case by its number and the
//! applicant's PESEL or NIP ([`crate::case_status`], the twin of the page
//! `/u/{slug}/status-sprawy`); for a logged-in resident, the twins of `/u/{slug}/sprawy`:
//! the application types with their forms, their cases and drafts, one case with its answers,
//! history, letters and files; a draft started, its answers saved, files attached, submitted;
//! and the resident's actions (supplement, appeal, sign with the password, withdraw, rate).
//! Every check is the cases crate's, as for the portal: the app shows the same Polish messages
//! at the same fields.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use ebok_cases::lifecycle::{Action, State as State_};
use ebok_cases::signing::SignError;
use ebok_cases::store::{self, Acting, CaseError, Details};
use ebok_cases::types;
use ebok_cases::views::{self, Scope};
use ebok_common::domain::time::local_day;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Resident;
use crate::case_status;
use crate::client::ClientAddr;
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::Json;
use crate::signing::PasswordConfirmed;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CaseStatusRequest {
    /// The case number, as on the acknowledgement.
    #[schema(example = "WTP/2026/000123", min_length = 1, max_length = 40)]
    pub number: String,
    /// The applicant's PESEL (a person) or NIP (a company, a housing community).
    #[schema(example = "44051401359", min_length = 1, max_length = 20)]
    pub identifier: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseStatusAnswer {
    pub number: String,
    /// The stage: draft, registered, assigned, awaiting_supplement, approved, refused,
    /// appealed, contract_offered, contract_signed, concluded, closed or withdrawn.
    pub status: String,
    /// The stage in Polish.
    pub status_label: String,
    /// Since when the case is at this stage.
    pub since: DateTime<Utc>,
}

/// The stage of a case and since when, for its number and the applicant's PESEL or NIP.
/// A wrong identifier and an unknown number are both 404; lookups that find nothing are limited
/// per client address and per case number (429 with `Retry-After`).
#[utoipa::path(post, path = "/utilities/{slug}/case-status", tag = "public",
    params(("slug" = String, Path, description = "The utility's slug")),
    request_body = CaseStatusRequest,
    responses((status = 200, body = CaseStatusAnswer),
              (status = 404, body = Problem, description = "No such case with this identifier"),
              (status = 429, body = Problem, description = "Too many lookups that found nothing")))]
pub async fn case_status(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ClientAddr(client): ClientAddr,
    Json(body): Json<CaseStatusRequest>,
) -> Result<axum::Json<CaseStatusAnswer>, ApiError> {
    let utility = super::auth::utility(&state, &slug).await?;
    if body.number.trim().is_empty() || body.number.len() > 40 {
        return Err(ApiError::invalid(
            "number",
            "Podaj numer sprawy, np. WTP/2026/000123.",
        ));
    }
    if body.identifier.trim().is_empty() || body.identifier.len() > 20 {
        return Err(ApiError::invalid(
            "identifier",
            "Podaj PESEL albo NIP wnioskodawcy.",
        ));
    }
    let found = case_status::look_up(
        &state.pool,
        utility.id,
        &body.number,
        &body.identifier,
        client,
    )
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(CaseStatusAnswer {
        number: found.number,
        status: status(found.state).0,
        status_label: found.state.polish().to_string(),
        since: found.since,
    }))
}

/// A case (or a draft) of the account, as the app lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseSummary {
    pub id: i64,
    /// `None` while a draft.
    pub number: Option<String>,
    /// The application type's name, Polish.
    pub type_name: String,
    pub status: String,
    pub status_label: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A step of a case's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseStep {
    pub at: DateTime<Utc>,
    pub status: String,
    pub status_label: String,
    /// The reason the resident was told, if any.
    pub note: Option<String>,
}

/// A letter the case produced (acknowledgement, decision, contract), downloadable as a PDF.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseLetter {
    pub id: i64,
    /// `acknowledgement`, `decision` or `contract`.
    pub kind: String,
    pub file_name: String,
    pub issued_at: DateTime<Utc>,
}

/// A signature under a case's document.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseSignature {
    pub document_id: i64,
    /// The SHA-256 of the exact document signed, hex.
    pub sha256: String,
    pub signatory: String,
    /// `password` (the built-in simple electronic signature), or a trust service's name.
    pub method: String,
    pub signed_at: DateTime<Utc>,
}

/// A file attached to a case.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseFile {
    pub id: i64,
    /// The form's attachment it answers.
    pub rule: String,
    pub file_name: String,
    pub bytes: i64,
    /// Sent as a supplement.
    pub supplement: bool,
}

/// One case of the account with its answers, history and files.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseDetail {
    pub id: i64,
    pub number: Option<String>,
    /// The application type's code (`connection_conditions`, …) and name.
    pub type_code: String,
    pub type_name: String,
    pub status: String,
    pub status_label: String,
    /// The answers by field, as submitted (or as saved while a draft).
    pub answers: std::collections::BTreeMap<String, String>,
    /// The last day the utility has to decide, while it is its turn.
    pub due: Option<NaiveDate>,
    /// The last day to appeal the decision, while it may be.
    pub appeal_until: Option<NaiveDate>,
    pub history: Vec<CaseStep>,
    pub files: Vec<CaseFile>,
    pub letters: Vec<CaseLetter>,
    pub signatures: Vec<CaseSignature>,
    /// The clerk who filled the draft in the resident's name.
    pub prepared_by: Option<String>,
    /// The billing contract the case concluded.
    pub contract_number: Option<String>,
    /// The case is over and may be rated (`POST /cases/{id}/actions`, `rate`).
    pub may_rate: bool,
}

fn status(state: State_) -> (String, String) {
    (
        serde_json::to_value(state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        state.polish().to_string(),
    )
}

/// The account's cases and drafts, the latest first.
#[utoipa::path(get, path = "/cases", tag = "cases", security(("bearer" = [])),
    responses((status = 200, body = Vec<CaseSummary>), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    who: Resident,
) -> Result<axum::Json<Vec<CaseSummary>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let lines = views::of_account(&mut conn, who.utility_id, who.account_id).await?;
    Ok(axum::Json(
        lines
            .into_iter()
            .map(|c| {
                let (status, status_label) = status(c.state);
                CaseSummary {
                    id: c.id,
                    number: c.number,
                    type_name: c.type_name,
                    status,
                    status_label,
                    submitted_at: c.submitted_at,
                    updated_at: c.updated_at,
                }
            })
            .collect(),
    ))
}

/// One case of the account; 404 for another's, as for an unknown one.
#[utoipa::path(get, path = "/cases/{id}", tag = "cases", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = CaseDetail), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    who: Resident,
    crate::extract::Path(id): crate::extract::Path<i64>,
) -> Result<axum::Json<CaseDetail>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let scope = Scope::Resident {
        account_id: who.account_id,
    };
    let view = views::case(&mut conn, who.utility_id, id, scope, local_day(Utc::now()))
        .await?
        .ok_or(ApiError::NotFound)?;
    let (status_code, status_label) = status(view.state);
    let number = view.number.clone().unwrap_or_default();
    let letters = view
        .events
        .iter()
        .filter_map(|e| {
            let (id, file_name, _) = e.letter(&number)?;
            Some(CaseLetter {
                id,
                kind: e.document_kind.clone()?,
                file_name,
                issued_at: e.at,
            })
        })
        .collect();
    let signatures = view
        .signatures
        .iter()
        .map(|s| CaseSignature {
            document_id: s.document_id,
            sha256: s.sha256_hex(),
            signatory: s.signatory.clone(),
            method: s.method.clone(),
            signed_at: s.signed_at,
        })
        .collect();
    let may_rate = view.awaits_feedback();
    Ok(axum::Json(CaseDetail {
        id: view.id,
        number: view.number,
        type_code: view.type_code,
        type_name: view.type_name,
        status: status_code,
        status_label,
        answers: view.answers,
        due: view.due,
        appeal_until: view.appeal_until,
        history: view
            .events
            .into_iter()
            .map(|e| {
                let (status, status_label) = status(e.to_state);
                CaseStep {
                    at: e.at,
                    status,
                    status_label,
                    note: e.note,
                }
            })
            .collect(),
        files: view
            .attachments
            .into_iter()
            .map(|a| CaseFile {
                id: a.id,
                rule: a.rule,
                file_name: a.file_name,
                bytes: a.bytes,
                supplement: a.supplement,
            })
            .collect(),
        letters,
        signatures,
        prepared_by: view.prepared_by,
        contract_number: view.contract_number,
        may_rate,
    }))
}

/// An application type the utility offers, with its form.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationTypeView {
    pub code: String,
    pub name: String,
    pub description: String,
    /// An approved application goes on to a supply contract.
    pub contract: bool,
    /// The form: `fields` (key, label, help, type and its options or limits, required, when)
    /// and `attachments` (key, label, help, accepted types, size and count, required, when),
    /// as `ebok_cases::form::FormDefinition` serialises it.
    #[schema(value_type = Object)]
    pub form: serde_json::Value,
}

/// The application types the utility offers, with their forms, for the app to draw.
#[utoipa::path(get, path = "/application-types", tag = "cases", security(("bearer" = [])),
    responses((status = 200, body = Vec<ApplicationTypeView>), (status = 401, body = Problem)))]
pub async fn application_types(
    State(state): State<AppState>,
    who: Resident,
) -> Result<axum::Json<Vec<ApplicationTypeView>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let list = types::list(&mut conn, who.utility_id, false).await?;
    Ok(axum::Json(
        list.into_iter()
            .map(|t| ApplicationTypeView {
                code: t.code,
                name: t.name,
                description: t.description,
                contract: t.contract,
                form: serde_json::to_value(&t.form).expect("a form serialises"),
            })
            .collect(),
    ))
}

/// The cases crate's refusal as the API answers it.
fn refused(e: CaseError) -> ApiError {
    match e {
        CaseError::NotFound => ApiError::NotFound,
        CaseError::Refused(r) => ApiError::Conflict {
            field: None,
            detail: r.message_pl(),
        },
        CaseError::Fields(errors) => ApiError::Fields(
            errors
                .into_iter()
                .map(|e| FieldProblem {
                    field: e.key,
                    detail: e.message,
                })
                .collect(),
        ),
        CaseError::Db(e) => e.into(),
    }
}

fn resident(who: &Resident) -> Acting {
    Acting::Resident {
        account_id: who.account_id,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewDraft {
    /// The application type's code (`GET /application-types`).
    #[schema(example = "connection_conditions", max_length = 40)]
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

/// Starts a draft of an application type, about the account's first customer.
#[utoipa::path(post, path = "/cases", tag = "cases", security(("bearer" = [])),
    request_body = NewDraft,
    responses((status = 201, body = Created), (status = 404, body = Problem,
               description = "No such application type")))]
pub async fn start(
    State(state): State<AppState>,
    who: Resident,
    Json(body): Json<NewDraft>,
) -> Result<(StatusCode, axum::Json<Created>), ApiError> {
    let mut tx = state.pool.begin().await?;
    types::ensure_builtin(&mut tx, who.utility_id).await?;
    let customer = sqlx::query_scalar!(
        "SELECT customer_id FROM account_customers WHERE account_id = $1 ORDER BY customer_id LIMIT 1",
        who.account_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let id = store::start_draft(
        &mut tx,
        who.utility_id,
        body.kind.trim(),
        who.account_id,
        customer,
        None,
    )
    .await
    .map_err(refused)?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(Created { id })))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DraftAnswers {
    /// The answers by field key (several choices comma-separated); a field left out is
    /// cleared. Checked only on submission, so a draft may be saved half-filled.
    pub answers: BTreeMap<String, String>,
}

/// Saves a draft's answers, to be finished later (here or in the portal).
#[utoipa::path(put, path = "/cases/{id}/answers", tag = "cases", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = DraftAnswers,
    responses((status = 204), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "Not a draft any more")))]
pub async fn save_answers(
    State(state): State<AppState>,
    who: Resident,
    crate::extract::Path(id): crate::extract::Path<i64>,
    Json(body): Json<DraftAnswers>,
) -> Result<StatusCode, ApiError> {
    let mut conn = state.pool.acquire().await?;
    store::save_answers(&mut conn, who.utility_id, id, resident(&who), &body.answers)
        .await
        .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The largest file a case takes through the API (the built-in rules take 10 MB).
pub const FILE_LIMIT: usize = 10 * 1024 * 1024 + 1024;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FileParams {
    /// The form's attachment (`site_plan`, `legal_title`, …).
    pub rule: String,
    /// The file's name on the device.
    pub name: String,
}

/// Attaches a file (the request body, up to 10 MB; its type is told by its content) to a draft,
/// or as a supplement to a case awaiting one.
#[utoipa::path(post, path = "/cases/{id}/files", tag = "cases", security(("bearer" = [])),
    params(("id" = i64, Path), FileParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Created),
              (status = 422, body = Problem, description = "Refused by the attachment's rule"),
              (status = 404, body = Problem)))]
pub async fn attach(
    State(state): State<AppState>,
    who: Resident,
    crate::extract::Path(id): crate::extract::Path<i64>,
    crate::extract::Query(params): crate::extract::Query<FileParams>,
    body: Bytes,
) -> Result<(StatusCode, axum::Json<Created>), ApiError> {
    let name = params.name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(ApiError::invalid(
            "name",
            "Podaj nazwę pliku (najwyżej 255 znaków).",
        ));
    }
    let mut tx = state.pool.begin().await?;
    let file = store::attach(
        &mut tx,
        who.utility_id,
        id,
        resident(&who),
        params.rule.trim(),
        name,
        &body,
    )
    .await
    .map_err(refused)?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(Created { id: file })))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Submitted {
    /// The case number, `WTP/2026/000123`.
    pub number: String,
}

/// Submits a complete draft: it is numbered and its 30 days start. An incomplete one is 422
/// with every field and attachment to put right in `errors`.
#[utoipa::path(post, path = "/cases/{id}/submit", tag = "cases", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Submitted),
              (status = 422, body = Problem, description = "Incomplete: see `errors`"),
              (status = 404, body = Problem)))]
pub async fn submit(
    State(state): State<AppState>,
    who: Resident,
    crate::extract::Path(id): crate::extract::Path<i64>,
) -> Result<axum::Json<Submitted>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let number = store::submit(
        &mut tx,
        who.utility_id,
        id,
        resident(&who),
        local_day(Utc::now()),
    )
    .await
    .map_err(refused)?;
    tx.commit().await?;
    Ok(axum::Json(Submitted {
        number: number.to_string(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CaseAction {
    /// The files asked for were attached (`POST /cases/{id}/files`): back to the clerk.
    Supplement,
    /// Appeal the decision, within 14 days.
    Appeal,
    /// Withdraw the application while it is handled.
    Withdraw,
    /// Sign the offered contract, confirming with the account's password.
    Sign {
        #[schema(max_length = 512)]
        password: String,
    },
    /// Rate a finished case, once.
    Rate {
        #[schema(minimum = 1, maximum = 5)]
        rating: i16,
        #[schema(max_length = 2000)]
        comment: Option<String>,
    },
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActionDone {
    pub status: String,
    pub status_label: String,
}

/// The resident's action on their case. A wrong state is 409 with the reason; a wrong password
/// (to sign) is 422 at `password` and counts against the login limit.
#[utoipa::path(post, path = "/cases/{id}/actions", tag = "cases", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = CaseAction,
    responses((status = 200, body = ActionDone), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn act(
    State(state): State<AppState>,
    who: Resident,
    ClientAddr(client): ClientAddr,
    crate::extract::Path(id): crate::extract::Path<i64>,
    Json(body): Json<CaseAction>,
) -> Result<axum::Json<ActionDone>, ApiError> {
    let today = local_day(Utc::now());
    let acting = resident(&who);
    // The password is checked before the case is locked.
    let signer = match &body {
        CaseAction::Sign { password } => Some(
            PasswordConfirmed::confirm(
                &state.pool,
                &state.hasher,
                who.utility_id,
                who.account_id,
                password,
                client.map(|c| c.to_string()),
            )
            .await
            .map_err(|e| match e {
                SignError::NotConfirmed(m) => ApiError::invalid("password", m),
                SignError::Unavailable(m) => ApiError::Unavailable { detail: m },
                SignError::Db(e) => e.into(),
            })?,
        ),
        _ => None,
    };
    let mut tx = state.pool.begin().await?;
    let simple = |action| (action, Details::default());
    let done = match body {
        CaseAction::Supplement | CaseAction::Appeal | CaseAction::Withdraw => {
            let (action, details) = simple(match body {
                CaseAction::Supplement => Action::Supplement,
                CaseAction::Appeal => Action::Appeal,
                _ => Action::Withdraw,
            });
            store::act(&mut tx, who.utility_id, id, acting, action, &details, today).await
        }
        CaseAction::Sign { .. } => {
            let signer = signer.expect("confirmed above");
            store::sign_contract(&mut tx, who.utility_id, id, acting, &signer, today)
                .await
                .map(|_| State_::ContractSigned)
        }
        CaseAction::Rate { rating, comment } => {
            store::give_feedback(
                &mut tx,
                who.utility_id,
                id,
                acting,
                rating,
                comment.as_deref(),
            )
            .await
        }
    };
    let to = done.map_err(refused)?;
    tx.commit().await?;
    let (status, status_label) = status(to);
    Ok(axum::Json(ActionDone {
        status,
        status_label,
    }))
}

/// A letter of the account's case (acknowledgement, decision, contract) as a PDF.
#[utoipa::path(get, path = "/cases/{id}/letters/{document}", tag = "cases",
    security(("bearer" = [])),
    params(("id" = i64, Path), ("document" = i64, Path)),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>),
              (status = 404, body = Problem)))]
pub async fn letter(
    State(state): State<AppState>,
    who: Resident,
    crate::extract::Path((id, document)): crate::extract::Path<(i64, i64)>,
) -> Result<axum::response::Response, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let scope = Scope::Resident {
        account_id: who.account_id,
    };
    let (name, content_type, bytes) = views::letter(&mut conn, who.utility_id, id, document, scope)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(crate::download::attachment(&name, &content_type, bytes))
}
