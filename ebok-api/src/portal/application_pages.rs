//! A resident's applications and cases (issue 20, seed 004): the list of e-services and of the
//! resident's cases (`/u/{slug}/sprawy`); a draft's form, drawn from its type's definition,
//! saved and finished later, with its attachments, submitted only when complete (each field
//! and attachment to put right named in Polish at its place); a case's stage, deadline,
//! history and files, and what the resident may do next (supplement, appeal, sign, withdraw,
//! rate). The draft's form itself is [`crate::case_form`], shared with the back office.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use chrono::Utc;
use ebok_cases::lifecycle::{Action, State as CaseState};
use ebok_cases::store::{self, Acting, CaseError, Details};
use ebok_cases::types;
use ebok_cases::views::{self, CaseView, Scope};
use ebok_common::domain::time::local_day;
use ebok_common::polish;
use serde::Deserialize;

use super::form::{FormFields, PortalForm, ResidentForm};
use super::form_state::FormState;
use super::page_error::{Page, PageError};
use super::params::{Id, PagePath};
use super::shell::{Ctx, Layout};
use crate::auth::web::PortalSession;
use crate::case_form::{self, AttachmentView, FieldView};
use crate::client::ClientAddr;
use crate::signing::PasswordConfirmed;
use crate::state::AppState;
use ebok_cases::signing::SignError;

struct ServiceLine {
    code: String,
    name: String,
    description: String,
}

struct CaseRow {
    id: i64,
    /// `None` while a draft.
    number: Option<String>,
    type_name: String,
    stage: &'static str,
    when: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "cases.html")]
struct CasesPage {
    layout: Layout,
    csrf: String,
    services: Vec<ServiceLine>,
    cases: Vec<CaseRow>,
}

/// `GET /u/{slug}/sprawy`: the e-services and the resident's cases.
pub async fn cases(State(state): State<AppState>, ctx: Ctx) -> Page {
    let session = ctx.resident()?;
    let mut conn = state.pool.acquire().await?;
    let services = types::list(&mut conn, session.utility_id, false)
        .await?
        .into_iter()
        .map(|t| ServiceLine {
            code: t.code,
            name: t.name,
            description: t.description,
        })
        .collect();
    let cases = views::of_account(&mut conn, session.utility_id, session.account_id)
        .await?
        .into_iter()
        .map(|c| CaseRow {
            id: c.id,
            number: c.number,
            type_name: c.type_name,
            stage: c.state.polish(),
            when: polish::instant(c.submitted_at.unwrap_or(c.updated_at)),
        })
        .collect();
    Ok(CasesPage {
        layout: ctx.layout(&state, "sprawy").await,
        csrf: session.csrf.clone(),
        services,
        cases,
    }
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewFields {
    typ: String,
}

impl FormFields for NewFields {
    const PAGE: &'static str = "/u/{slug}/sprawy";
}

/// `POST /u/{slug}/sprawy/nowa`: starts a draft of type `typ` and opens it.
pub async fn start(State(state): State<AppState>, post: ResidentForm<NewFields>) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        ..
    } = post;
    let mut conn = state.pool.acquire().await?;
    let customer = sqlx::query_scalar!(
        "SELECT customer_id FROM account_customers WHERE account_id = $1 ORDER BY customer_id LIMIT 1",
        session.account_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    match store::start_draft(
        &mut conn,
        session.utility_id,
        &fields.typ,
        session.account_id,
        customer,
        None,
    )
    .await
    {
        Ok(id) => Ok(ctx.redirect(&format!("sprawy/{id}"))),
        Err(CaseError::NotFound) => Err(PageError::NotFound),
        Err(e) => Err(failure(e)),
    }
}

fn failure(e: CaseError) -> PageError {
    match e {
        CaseError::Db(e) => e.into(),
        other => PageError::Internal(anyhow::anyhow!("{other}")),
    }
}

struct AnswerLine {
    label: String,
    value: String,
}

struct FileLine {
    id: i64,
    name: String,
    size: String,
    supplement: bool,
}

struct EventRow {
    at: String,
    stage: &'static str,
    note: Option<String>,
    /// The letter the step produced: (document id, file name, what it is).
    letter: Option<(i64, String, &'static str)>,
}

struct SignatureRow {
    signatory: String,
    at: String,
    sha256: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "case.html")]
struct CasePage {
    layout: Layout,
    csrf: String,
    id: i64,
    title: String,
    number: Option<String>,
    stage: &'static str,
    draft: bool,
    f: FormState,
    fields: Vec<FieldView>,
    attachments: Vec<AttachmentView>,
    answers: Vec<AnswerLine>,
    files: Vec<FileLine>,
    events: Vec<EventRow>,
    due: Option<String>,
    appeal_until: Option<String>,
    /// What the resident may do now: (action value, button label).
    actions: Vec<(&'static str, &'static str)>,
    /// A supplement is awaited: files may be added.
    supplement: bool,
    /// The contract offered for signing: (document id, file name).
    to_sign: Option<(i64, String)>,
    /// The clerk who prepared the draft in the resident's name.
    prepared_by: Option<String>,
    signatures: Vec<SignatureRow>,
    /// The billing contract the case concluded.
    contract_number: Option<String>,
    /// The resident's rating and comment, once given.
    feedback: Option<(i16, Option<String>)>,
    /// The case is over and the resident has not rated it yet.
    ask_feedback: bool,
    notice: Option<&'static str>,
}

async fn case_page(
    state: &AppState,
    ctx: &Ctx,
    session: &PortalSession,
    id: i64,
    sent: Option<FormState>,
    notice: Option<&'static str>,
) -> Page {
    let today = local_day(Utc::now());
    let mut conn = state.pool.acquire().await?;
    let view = views::case(
        &mut conn,
        session.utility_id,
        id,
        Scope::Resident {
            account_id: session.account_id,
        },
        today,
    )
    .await?
    .ok_or(PageError::NotFound)?;
    let draft = view.state == CaseState::Draft;
    let f = case_form::shown(&view, sent);
    let status = f.status();
    let fields = case_form::fields(&view, &f);
    let attachments = case_form::attachments(&view);
    let answers = view
        .answers_read()
        .into_iter()
        .map(|(label, value)| AnswerLine { label, value })
        .collect();
    let files = view
        .attachments
        .iter()
        .map(|a| FileLine {
            id: a.id,
            name: a.file_name.clone(),
            size: format!("{} kB", (a.bytes + 1023) / 1024),
            supplement: a.supplement,
        })
        .collect();
    let events = view
        .events
        .iter()
        .map(|e| EventRow {
            at: polish::instant(e.at),
            stage: e.to_state.polish(),
            note: e.note.clone(),
            letter: e.letter(view.number.as_deref().unwrap_or_default()),
        })
        .collect();
    let to_sign = (view.state == CaseState::ContractOffered)
        .then(|| {
            view.events
                .iter()
                .rev()
                .find_map(|e| e.letter(view.number.as_deref().unwrap_or_default()))
                .filter(|(_, name, _)| name.starts_with("umowa-"))
                .map(|(id, name, _)| (id, name))
        })
        .flatten();
    let signatures = view
        .signatures
        .iter()
        .map(|s| SignatureRow {
            signatory: s.signatory.clone(),
            at: polish::instant(s.signed_at),
            sha256: s.sha256_hex(),
        })
        .collect();
    let mut actions = Vec::new();
    match view.state {
        CaseState::AwaitingSupplement => actions.push(("uzupelnij", "Wyślij uzupełnienie")),
        CaseState::Approved | CaseState::Refused if view.appeal_until.is_some() => {
            actions.push(("odwolaj", "Odwołuję się od decyzji"))
        }
        _ => {}
    }
    if matches!(
        view.state,
        CaseState::Registered | CaseState::Assigned | CaseState::AwaitingSupplement
    ) {
        actions.push(("wycofaj", "Wycofuję wniosek"));
    }
    let title = match &view.number {
        Some(n) => format!("{} — {n}", view.type_name),
        None => view.type_name.clone(),
    };
    Ok((
        status,
        CasePage {
            layout: ctx.layout(state, "sprawy").await,
            csrf: session.csrf.clone(),
            id: view.id,
            title,
            number: view.number.clone(),
            stage: view.state.polish(),
            draft,
            f,
            fields,
            attachments,
            answers,
            files,
            events,
            due: view.due.map(polish::day),
            appeal_until: view.appeal_until.map(polish::day),
            actions,
            supplement: view.state == CaseState::AwaitingSupplement,
            to_sign,
            prepared_by: view.prepared_by.clone(),
            signatures,
            contract_number: view.contract_number.clone(),
            feedback: view
                .feedback
                .as_ref()
                .map(|f| (f.rating, f.comment.clone())),
            ask_feedback: view.awaits_feedback(),
            notice,
        },
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CaseQuery {
    zlozono: Option<String>,
    zapisano: Option<String>,
    zrobione: Option<String>,
}

/// `GET /u/{slug}/sprawy/{id}`: a draft's form, or a case.
pub async fn case(
    State(state): State<AppState>,
    ctx: Ctx,
    PagePath(Id { id }): PagePath<Id>,
    super::params::PageQuery(q): super::params::PageQuery<CaseQuery>,
) -> Page {
    let session = ctx.resident()?;
    let notice = if q.zlozono.is_some() {
        Some("Wniosek został złożony. Potwierdzenie z numerem sprawy jest w powiadomieniach.")
    } else if q.zapisano.is_some() {
        Some("Zapisano. Możesz wrócić do wniosku później.")
    } else if q.zrobione.is_some() {
        Some("Gotowe.")
    } else {
        None
    };
    case_page(&state, &ctx, session, id, None, notice).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DraftFields {
    /// `zapisz` (save) or `zloz` (submit).
    czynnosc: String,
}

impl FormFields for DraftFields {
    const PAGE: &'static str = "/u/{slug}/sprawy/{id}";
}

/// Case `id` of the resident in `session`, as of today in Warsaw; 404 for anything else.
async fn own_case(
    state: &AppState,
    session: &PortalSession,
    id: i64,
) -> Result<CaseView, PageError> {
    let mut conn = state.pool.acquire().await?;
    let scope = Scope::Resident {
        account_id: session.account_id,
    };
    views::case(
        &mut conn,
        session.utility_id,
        id,
        scope,
        local_day(Utc::now()),
    )
    .await?
    .ok_or(PageError::NotFound)
}

/// `POST /u/{slug}/sprawy/{id}`: saves a draft's answers and files; with `czynnosc=zloz`,
/// submits it when complete, else shows it again with what to put right.
pub async fn save_draft(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: ResidentForm<DraftFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        mut uploads,
    } = post;
    let today = local_day(Utc::now());
    let view = own_case(&state, &session, id).await?;
    if view.state != CaseState::Draft {
        return Ok(ctx.redirect(&format!("sprawy/{id}")));
    }
    let acting = Acting::Resident {
        account_id: session.account_id,
    };
    let answers = case_form::answers_sent(&view, &form);
    let mut conn = state.pool.acquire().await?;
    store::save_answers(&mut conn, session.utility_id, id, acting, &answers)
        .await
        .map_err(failure)?;
    drop(conn);
    match uploads.take_all() {
        Ok(files) => {
            case_form::attach_sent(
                &state.pool,
                session.utility_id,
                Acting::Resident {
                    account_id: session.account_id,
                },
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
    if form.has_errors() || fields.czynnosc != "zloz" {
        return if form.has_errors() {
            case_page(&state, &ctx, &session, id, Some(form), None).await
        } else {
            Ok(ctx.redirect(&format!("sprawy/{id}?zapisano=1")))
        };
    }
    let mut tx = state.pool.begin().await?;
    match store::submit(&mut tx, session.utility_id, id, acting, today).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(ctx.redirect(&format!("sprawy/{id}?zlozono=1")))
        }
        Err(CaseError::Fields(errors)) => {
            drop(tx);
            form.add(
                "form",
                "Wniosek jest niekompletny: uzupełnij wskazane pola i załączniki.",
            );
            case_form::add_errors(&mut form, errors, &view);
            case_page(&state, &ctx, &session, id, Some(form), None).await
        }
        Err(e) => Err(failure(e)),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActFields {
    /// `uzupelnij`, `odwolaj`, `podpisz`, `wycofaj` or `ocen`.
    czynnosc: String,
    /// The password that confirms a signature.
    haslo: String,
    /// The rating (1–5) and comment of a finished case.
    ocena: String,
    komentarz: String,
}

impl FormFields for ActFields {
    const PAGE: &'static str = "/u/{slug}/sprawy/{id}";
}

/// `POST /u/{slug}/sprawy/{id}/czynnosc`: the resident supplements (with the files sent),
/// appeals, signs the offered contract (confirming with their password), withdraws, or rates
/// a finished case.
pub async fn act(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    PagePath(Id { id }): PagePath<Id>,
    post: ResidentForm<ActFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        mut uploads,
    } = post;
    let action = match fields.czynnosc.as_str() {
        "uzupelnij" => Some(Action::Supplement),
        "odwolaj" => Some(Action::Appeal),
        "wycofaj" => Some(Action::Withdraw),
        "podpisz" | "ocen" => None,
        _ => return Err(PageError::NotFound),
    };
    let today = local_day(Utc::now());
    let view = own_case(&state, &session, id).await?;
    if action == Some(Action::Supplement) {
        match uploads.take_all() {
            Ok(files) if files.is_empty() => {
                form.add("form", "Dołącz dokumenty, o które poproszono.");
            }
            Ok(files) => {
                case_form::attach_sent(
                    &state.pool,
                    session.utility_id,
                    Acting::Resident {
                        account_id: session.account_id,
                    },
                    &view,
                    files,
                    &mut form,
                )
                .await?
            }
            Err(_) => form.add("form", "Nie udało się odebrać plików — może są za duże."),
        }
        if form.has_errors() {
            return case_page(&state, &ctx, &session, id, Some(form), None).await;
        }
    }
    let acting = Acting::Resident {
        account_id: session.account_id,
    };
    // The password is checked before the case is locked.
    let signer = if fields.czynnosc == "podpisz" {
        match PasswordConfirmed::confirm(
            &state.pool,
            &state.hasher,
            session.utility_id,
            session.account_id,
            &fields.haslo,
            client.map(|c| c.to_string()),
        )
        .await
        {
            Ok(signer) => Some(signer),
            Err(SignError::NotConfirmed(m) | SignError::Unavailable(m)) => {
                form.add("haslo", m);
                return case_page(&state, &ctx, &session, id, Some(form), None).await;
            }
            Err(SignError::Db(e)) => return Err(e.into()),
        }
    } else {
        None
    };
    let mut tx = state.pool.begin().await?;
    let done = match (action, signer) {
        (Some(action), _) => store::act(
            &mut tx,
            session.utility_id,
            id,
            acting,
            action,
            &Details::default(),
            today,
        )
        .await
        .map(|_| ()),
        (None, Some(signer)) => {
            store::sign_contract(&mut tx, session.utility_id, id, acting, &signer, today)
                .await
                .map(|_| ())
        }
        (None, None) => store::give_feedback(
            &mut tx,
            session.utility_id,
            id,
            acting,
            fields.ocena.trim().parse().unwrap_or(0),
            Some(fields.komentarz.as_str()),
        )
        .await
        .map(|_| ()),
    };
    match done {
        Ok(()) => {
            tx.commit().await?;
            Ok(ctx.redirect(&format!("sprawy/{id}?zrobione=1")))
        }
        Err(CaseError::Refused(r)) => {
            drop(tx);
            form.add("form", r.message_pl());
            case_page(&state, &ctx, &session, id, Some(form), None).await
        }
        Err(CaseError::Fields(errors)) => {
            drop(tx);
            for e in errors {
                let key = match e.key.as_str() {
                    "password" => "haslo",
                    "rating" => "ocena",
                    "comment" => "komentarz",
                    _ => "form",
                };
                form.add(key, e.message);
            }
            case_page(&state, &ctx, &session, id, Some(form), None).await
        }
        Err(CaseError::NotFound) => Err(PageError::NotFound),
        Err(e) => Err(failure(e)),
    }
}

/// `GET /u/{slug}/sprawy/{id}/dokumenty/{file}`: a letter of the resident's own case (the
/// acknowledgement, a decision, the contract).
pub async fn letter(
    State(state): State<AppState>,
    ctx: Ctx,
    PagePath(p): PagePath<FilePath>,
) -> Page {
    let session = ctx.resident()?;
    let mut conn = state.pool.acquire().await?;
    let scope = Scope::Resident {
        account_id: session.account_id,
    };
    let (name, content_type, bytes) =
        views::letter(&mut conn, session.utility_id, p.id, p.file, scope)
            .await?
            .ok_or(PageError::NotFound)?;
    Ok(crate::download::attachment(&name, &content_type, bytes))
}

#[derive(Debug, Deserialize)]
pub struct FilePath {
    id: i64,
    file: i64,
}

/// `GET /u/{slug}/sprawy/{id}/pliki/{file}`: a file of the resident's own case.
pub async fn file(
    State(state): State<AppState>,
    ctx: Ctx,
    PagePath(p): PagePath<FilePath>,
) -> Page {
    let session = ctx.resident()?;
    let mut conn = state.pool.acquire().await?;
    let scope = Scope::Resident {
        account_id: session.account_id,
    };
    let (name, content_type, bytes) =
        views::attachment(&mut conn, session.utility_id, p.id, p.file, scope)
            .await?
            .ok_or(PageError::NotFound)?;
    Ok(crate::download::attachment(&name, &content_type, bytes))
}
