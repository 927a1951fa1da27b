//! Applications a clerk fills in a resident's name (seed 000, issue 20): started from the
//! customer card for one of the customer's eBOK accounts (`/panel/{slug}/klienci/{id}/wniosek`),
//! filled and given its files on `/panel/{slug}/sprawy/{id}/wniosek` (the same form the
//! resident sees, [`crate::case_form`]), and handed over when complete. It becomes a case only
//! when the resident submits it in their eBOK; the clerk cannot. Both steps are audited, the
//! clerk's with the resident as the one acted for (`ebok_cases::store::hand_over`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use chrono::Utc;
use ebok_cases::lifecycle::State as CaseState;
use ebok_cases::store::{self, Acting, CaseError};
use ebok_cases::views::{self, CaseView, Scope};
use ebok_common::domain::time::local_day;
use serde::Deserialize;

use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::case_form::{self, AttachmentView, FieldView};
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::FormState;
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::{Id, PagePath, PageQuery};
use crate::staff::Permission;
use crate::staff::sessions::StaffSession;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StartFields {
    /// The resident's account (one linked to the customer).
    konto: String,
    /// The application type's code.
    typ: String,
}

impl FormFields for StartFields {
    const PAGE: &'static str = "/panel/{slug}/klienci/{id}";
}

/// `POST /panel/{slug}/klienci/{id}/wniosek`: starts a draft of type `typ` for the customer's
/// resident account `konto`, prepared by this clerk, and opens it.
pub async fn start(
    State(state): State<AppState>,
    PagePath(Id { id: customer }): PagePath<Id>,
    post: StaffForm<StartFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        ..
    } = post;
    if !session.may(Permission::ActForResidents) {
        return Err(PageError::NotAllowed);
    }
    let account: i64 = fields
        .konto
        .trim()
        .parse()
        .map_err(|_| PageError::bad_request("Wybierz konto klienta."))?;
    let mut tx = state.pool.begin().await?;
    // Only an account linked to this customer of this utility.
    let linked = sqlx::query_scalar!(
        r#"SELECT true AS "linked!" FROM account_customers
           WHERE utility_id = $1 AND customer_id = $2 AND account_id = $3"#,
        session.utility_id,
        customer,
        account
    )
    .fetch_optional(&mut *tx)
    .await?;
    if linked.is_none() {
        return Err(PageError::NotFound);
    }
    ebok_cases::types::ensure_builtin(&mut tx, session.utility_id).await?;
    let id = match store::start_draft(
        &mut tx,
        session.utility_id,
        fields.typ.trim(),
        account,
        Some(customer),
        Some(session.account_id),
    )
    .await
    {
        Ok(id) => id,
        Err(CaseError::NotFound) => return Err(PageError::bad_request("Wybierz rodzaj wniosku.")),
        Err(CaseError::Db(e)) => return Err(e.into()),
        Err(other) => return Err(PageError::Internal(anyhow::anyhow!("{other}"))),
    };
    tx.commit().await?;
    Ok(ctx.redirect(&format!("sprawy/{id}/wniosek")))
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/case_draft.html")]
struct DraftPage {
    layout: StaffLayout,
    csrf: String,
    id: i64,
    type_name: String,
    customer_id: Option<i64>,
    f: FormState,
    fields: Vec<FieldView>,
    attachments: Vec<AttachmentView>,
    notice: Option<&'static str>,
}

/// The draft `id` this clerk prepares, or 404 (another clerk's draft, a resident's own, or one
/// of another utility).
async fn prepared(
    state: &AppState,
    session: &StaffSession,
    id: i64,
) -> Result<CaseView, PageError> {
    let mut conn = state.pool.acquire().await?;
    views::case(
        &mut conn,
        session.utility_id,
        id,
        Scope::Staff {
            account_id: session.account_id,
        },
        local_day(Utc::now()),
    )
    .await?
    .filter(|v| v.state == CaseState::Draft)
    .ok_or(PageError::NotFound)
}

fn page(
    ctx: &StaffCtx,
    session: &StaffSession,
    view: &CaseView,
    sent: Option<FormState>,
    notice: Option<&'static str>,
) -> axum::response::Response {
    let f = case_form::shown(view, sent);
    let status = f.status();
    (
        status,
        DraftPage {
            layout: ctx.layout("sprawy"),
            csrf: session.csrf.clone(),
            id: view.id,
            type_name: view.type_name.clone(),
            customer_id: view.customer_id,
            fields: case_form::fields(view, &f),
            attachments: case_form::attachments(view),
            f,
            notice,
        },
    )
        .into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DraftQuery {
    zapisano: Option<String>,
    przekazano: Option<String>,
}

/// `GET /panel/{slug}/sprawy/{id}/wniosek`: the draft's form.
pub async fn draft(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
    PageQuery(q): PageQuery<DraftQuery>,
) -> Page {
    let session = ctx.staff(Permission::ActForResidents)?.clone();
    let view = prepared(&state, &session, id).await?;
    let notice = if q.przekazano.is_some() {
        Some("Wniosek przekazany klientowi: złoży go w swoim eBOK. Powiadomiliśmy go.")
    } else {
        q.zapisano.map(|_| "Zapisano wersję roboczą.")
    };
    Ok(page(&ctx, &session, &view, None, notice))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DraftFields {
    /// `zapisz` (save) or `przekaz` (hand over to the resident).
    czynnosc: String,
}

impl FormFields for DraftFields {
    const PAGE: &'static str = "/panel/{slug}/sprawy/{id}/wniosek";
}

/// `POST /panel/{slug}/sprawy/{id}/wniosek`: saves the answers and files; with
/// `czynnosc=przekaz`, hands the draft over to the resident when it is complete, else shows
/// it again with what to put right.
pub async fn save(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<DraftFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        mut uploads,
    } = post;
    if !session.may(Permission::ActForResidents) {
        return Err(PageError::NotAllowed);
    }
    let view = prepared(&state, &session, id).await?;
    let acting = Acting::Staff {
        account_id: session.account_id,
        manager: session.may(Permission::ManageCases),
    };
    let answers = case_form::answers_sent(&view, &form);
    let mut conn = state.pool.acquire().await?;
    match store::save_answers(&mut conn, session.utility_id, id, acting, &answers).await {
        Ok(()) => {}
        Err(CaseError::Refused(r)) => {
            form.add("form", r.message_pl());
            return Ok(page(&ctx, &session, &view, Some(form), None));
        }
        Err(CaseError::Db(e)) => return Err(e.into()),
        Err(_) => return Err(PageError::NotFound),
    }
    drop(conn);
    match uploads.take_all() {
        Ok(files) => {
            case_form::attach_sent(
                &state.pool,
                session.utility_id,
                acting,
                &view,
                files,
                &mut form,
            )
            .await?
        }
        Err(_) => form.add(
            "form",
            "Nie udało się odebrać plików — może są za duże. Dołącz je ponownie.",
        ),
    }
    let view = prepared(&state, &session, id).await?;
    if form.has_errors() {
        return Ok(page(&ctx, &session, &view, Some(form), None));
    }
    if fields.czynnosc != "przekaz" {
        return Ok(ctx.redirect(&format!("sprawy/{id}/wniosek?zapisano=1")));
    }
    let mut tx = state.pool.begin().await?;
    match store::hand_over(
        &mut tx,
        session.utility_id,
        id,
        acting,
        local_day(Utc::now()),
    )
    .await
    {
        Ok(()) => {
            tx.commit().await?;
            Ok(ctx.redirect(&format!("sprawy/{id}/wniosek?przekazano=1")))
        }
        Err(CaseError::Fields(errors)) => {
            drop(tx);
            form.add(
                "form",
                "Wniosek jest niekompletny: uzupełnij wskazane pola i załączniki.",
            );
            case_form::add_errors(&mut form, errors, &view);
            Ok(page(&ctx, &session, &view, Some(form), None))
        }
        Err(CaseError::Refused(r)) => {
            drop(tx);
            form.add("form", r.message_pl());
            Ok(page(&ctx, &session, &view, Some(form), None))
        }
        Err(CaseError::NotFound) => Err(PageError::NotFound),
        Err(CaseError::Db(e)) => Err(e.into()),
    }
}
