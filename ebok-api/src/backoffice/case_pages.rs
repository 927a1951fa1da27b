//! Residents' cases in the back office (issue 20): the queue (mine, unassigned, open, all),
//! nearest deadline first, overdue ones marked; a case with its answers, files, history and
//! deadline, and the actions the lifecycle allows this staff member — take or assign it, ask
//! for a supplement, decide, extend the deadline, offer and conclude the contract, close it.
//! Clerks handle cases (`HandleCases`); admins also assign them and decide appeals
//! (`ManageCases`). Every action goes through `ebok_cases::store::act`, which checks it.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::Utc;
use ebok_cases::lifecycle::{self, Action, State as CaseState, Who};
use ebok_cases::store::{self, Acting, CaseError, Details};
use ebok_cases::views::{self, Queue, Scope};
use ebok_common::domain::time::local_day;
use ebok_common::polish;
use serde::Deserialize;

use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::FormState;
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::{Id, PagePath, PageQuery};
use crate::staff::Permission;
use crate::staff::sessions::StaffSession;
use crate::state::AppState;

struct QueueRow {
    id: i64,
    number: String,
    type_name: String,
    applicant: String,
    stage: &'static str,
    assigned_to: String,
    submitted: String,
    due: String,
    overdue: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/cases.html")]
struct QueuePage {
    layout: StaffLayout,
    shown: &'static str,
    rows: Vec<QueueRow>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct QueueQuery {
    /// `moje` (default), `nowe`, `otwarte`, `wszystkie`.
    widok: Option<String>,
}

/// `GET /panel/{slug}/sprawy[?widok=…]`
pub async fn queue(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<QueueQuery>,
) -> Page {
    let session = ctx.staff(Permission::HandleCases)?.clone();
    let (shown, which) = match q.widok.as_deref() {
        Some("nowe") => ("nowe", Queue::Unassigned),
        Some("otwarte") => ("otwarte", Queue::Open),
        Some("wszystkie") => ("wszystkie", Queue::All),
        _ => ("moje", Queue::Mine(session.account_id)),
    };
    let today = local_day(Utc::now());
    let mut conn = state.pool.acquire().await?;
    let rows = views::queue(&mut conn, session.utility_id, which, 500)
        .await?
        .into_iter()
        .map(|c| QueueRow {
            id: c.id,
            number: c.number,
            type_name: c.type_name,
            applicant: c.applicant,
            stage: c.state.polish(),
            assigned_to: c.assigned_to.unwrap_or_else(|| "—".to_string()),
            submitted: polish::instant(c.submitted_at),
            due: c.due.map(polish::day).unwrap_or_default(),
            overdue: c.due.is_some_and(|d| today > d),
        })
        .collect();
    Ok(QueuePage {
        layout: ctx.layout("sprawy"),
        shown,
        rows,
    }
    .into_response())
}

struct Line {
    label: String,
    value: String,
}

struct FileRow {
    id: i64,
    rule: String,
    name: String,
    size: String,
    supplement: bool,
}

struct EventRow {
    at: String,
    stage: &'static str,
    note: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/case.html")]
struct CasePage {
    layout: StaffLayout,
    csrf: String,
    id: i64,
    number: String,
    type_name: String,
    stage: &'static str,
    due: Option<String>,
    overdue: bool,
    answers: Vec<Line>,
    files: Vec<FileRow>,
    events: Vec<EventRow>,
    /// The actions allowed now: (value, label, needs a reason).
    actions: Vec<(&'static str, &'static str, bool)>,
    /// Clerks a manager may assign the case to: (account id, name).
    clerks: Vec<(i64, String)>,
    f: FormState,
    notice: Option<&'static str>,
}

/// The staff's actions: (action, form value, button, needs a reason the resident is told).
const ACTIONS: [(Action, &str, &str, bool); 8] = [
    (Action::Assign, "przydziel", "Przydziel sprawę", false),
    (
        Action::RequestSupplement,
        "uzupelnienie",
        "Wezwij do uzupełnienia",
        true,
    ),
    (Action::Approve, "pozytywnie", "Rozpatrz pozytywnie", false),
    (Action::Refuse, "negatywnie", "Rozpatrz negatywnie", true),
    (
        Action::ExtendDeadline,
        "przedluz",
        "Przedłuż termin o 14 dni",
        true,
    ),
    (
        Action::OfferContract,
        "umowa",
        "Przekaż umowę do podpisu",
        false,
    ),
    (Action::Conclude, "zawarta", "Umowa zawarta", false),
    (Action::Close, "zakoncz", "Zakończ sprawę", false),
];

fn acting(session: &StaffSession) -> Acting {
    Acting::Staff {
        account_id: session.account_id,
        manager: session.role.may(Permission::ManageCases),
    }
}

async fn case_page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    id: i64,
    f: FormState,
    notice: Option<&'static str>,
) -> Page {
    let today = local_day(Utc::now());
    let mut conn = state.pool.acquire().await?;
    let scope = Scope::Staff {
        account_id: session.account_id,
    };
    let view = views::case(&mut conn, session.utility_id, id, scope, today)
        .await?
        .filter(|v| v.state != CaseState::Draft)
        .ok_or(PageError::NotFound)?;
    let manager = session.role.may(Permission::ManageCases);
    let who = if manager {
        Who::Manager
    } else {
        Who::Clerk {
            assigned: view.assigned_to == Some(session.account_id),
        }
    };
    let actions = ACTIONS
        .iter()
        .filter(|(action, ..)| lifecycle::next(view.state, *action, who, view.facts).is_ok())
        .map(|(_, value, label, reason)| (*value, *label, *reason))
        .collect();
    let clerks = if manager {
        sqlx::query!(
            r#"SELECT id, display_name FROM user_accounts
               WHERE utility_id = $1 AND role IN ('clerk', 'admin') AND status = 'active'
               ORDER BY display_name"#,
            session.utility_id
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| (r.id, r.display_name))
        .collect()
    } else {
        Vec::new()
    };
    let answers = view
        .answers_read()
        .into_iter()
        .map(|(label, value)| Line { label, value })
        .collect();
    let files = view
        .attachments
        .iter()
        .map(|a| FileRow {
            id: a.id,
            rule: view
                .form
                .attachments
                .iter()
                .find(|r| r.key == a.rule)
                .map_or_else(|| a.rule.clone(), |r| r.label.clone()),
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
        })
        .collect();
    let status = f.status();
    Ok((
        status,
        CasePage {
            layout: ctx.layout("sprawy"),
            csrf: session.csrf.clone(),
            id,
            number: view.number.clone().unwrap_or_default(),
            type_name: view.type_name.clone(),
            stage: view.state.polish(),
            due: view.due.map(polish::day),
            overdue: view.due.is_some_and(|d| today > d),
            answers,
            files,
            events,
            actions,
            clerks,
            f,
            notice,
        },
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CaseQuery {
    zapisano: Option<String>,
}

/// `GET /panel/{slug}/sprawy/{id}`
pub async fn case(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
    PageQuery(q): PageQuery<CaseQuery>,
) -> Page {
    let session = ctx.staff(Permission::HandleCases)?.clone();
    let notice = q
        .zapisano
        .map(|_| "Zapisano. Mieszkaniec dostał powiadomienie.");
    case_page(&state, &ctx, &session, id, FormState::default(), notice).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActFields {
    czynnosc: String,
    uzasadnienie: String,
    pracownik: String,
}

impl FormFields for ActFields {
    const PAGE: &'static str = "/panel/{slug}/sprawy/{id}";
}

/// `POST /panel/{slug}/sprawy/{id}`: one action on the case.
pub async fn act(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<ActFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::HandleCases) {
        return Err(PageError::NotAllowed);
    }
    let Some((action, ..)) = ACTIONS
        .iter()
        .find(|(_, value, ..)| *value == fields.czynnosc)
    else {
        return Err(PageError::bad_request("Nieznana czynność."));
    };
    let assign_to = fields.pracownik.trim().parse::<i64>().ok();
    let details = Details {
        note: Some(fields.uzasadnienie.as_str()),
        assign_to,
    };
    let today = local_day(Utc::now());
    let mut tx = state.pool.begin().await?;
    match store::act(
        &mut tx,
        session.utility_id,
        id,
        acting(&session),
        *action,
        &details,
        today,
    )
    .await
    {
        Ok(_) => {
            tx.commit().await?;
            Ok(ctx.redirect(&format!("sprawy/{id}?zapisano=1")))
        }
        Err(CaseError::NotFound) => Err(PageError::NotFound),
        Err(CaseError::Refused(r)) => {
            drop(tx);
            form.add("form", r.message_pl());
            case_page(&state, &ctx, &session, id, form, None).await
        }
        Err(CaseError::Fields(errors)) => {
            drop(tx);
            for e in errors {
                let field = match e.key.as_str() {
                    "note" => "uzasadnienie",
                    "assign_to" => "pracownik",
                    other => other,
                };
                form.add(field.to_string(), e.message);
            }
            case_page(&state, &ctx, &session, id, form, None).await
        }
        Err(CaseError::Db(e)) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct FilePath {
    id: i64,
    file: i64,
}

/// `GET /panel/{slug}/sprawy/{id}/pliki/{file}`: an attachment, for the utility's staff.
pub async fn file(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(p): PagePath<FilePath>,
) -> Page {
    let session = ctx.staff(Permission::HandleCases)?.clone();
    let mut conn = state.pool.acquire().await?;
    let scope = Scope::Staff {
        account_id: session.account_id,
    };
    let (name, content_type, bytes) =
        views::attachment(&mut conn, session.utility_id, p.id, p.file, scope)
            .await?
            .ok_or(PageError::NotFound)?;
    Ok(download(&name, &content_type, bytes))
}

/// A file sent to be saved, under its own name (ASCII in `filename`, UTF-8 in `filename*`).
pub(crate) fn download(name: &str, content_type: &str, bytes: Vec<u8>) -> axum::response::Response {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    // RFC 5987: every byte but the attribute characters percent-encoded.
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        bytes,
    )
        .into_response()
}
