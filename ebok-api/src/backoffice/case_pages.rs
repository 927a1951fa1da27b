//! Residents' cases in the back office (issue 20): the queue (mine, unassigned, open, all),
//! nearest deadline first, overdue ones marked; a case with its answers, files, history (with
//! the letters each step produced), signatures, internal notes and deadline, and the actions
//! the lifecycle allows this staff member — take or assign it, ask for a supplement, decide,
//! extend the deadline, offer the contract, conclude it (starting the billing contract in the
//! same transaction), close it. Clerks handle cases (`HandleCases`); admins also assign them
//! and decide appeals (`ManageCases`). Every action goes through `ebok_cases::store`, which
//! checks it.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use chrono::Utc;
use ebok_cases::lifecycle::{self, Action, State as CaseState, Who};
use ebok_cases::store::{self, Acting, CaseError, Details};
use ebok_cases::views::{self, Queue, Scope};
use ebok_common::domain::time::local_day;
use ebok_common::polish;
use serde::Deserialize;

use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::error::ApiError;
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::FormState;
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::{Id, PagePath, PageQuery};
use crate::staff::Permission;
use crate::staff::records::{self, ContractDraft};
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
    /// The letter the step produced: (document id, file name, what it is).
    letter: Option<(i64, String, &'static str)>,
}

/// The form that concludes a supply contract: what it is filled with.
struct Conclusion {
    customer_number: String,
    tariff_groups: Vec<(String, String)>,
    valid_from: String,
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
    /// The contract may be concluded now: the form's defaults.
    conclusion: Option<Conclusion>,
    /// The billing contract concluded, and the customer card it is on.
    contract: Option<(String, Option<i64>)>,
    /// Signatures: (who, when, SHA-256).
    signatures: Vec<(String, String, String)>,
    /// Internal notes: (who, when, text).
    notes: Vec<(String, String, String)>,
    /// The resident's rating and comment.
    feedback: Option<(i16, Option<String>)>,
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
    let allowed = |action: Action| lifecycle::next(view.state, action, who, view.facts).is_ok();
    // Concluding takes the contract's data: its own form below.
    let actions = ACTIONS
        .iter()
        .filter(|(action, ..)| *action != Action::Conclude && allowed(*action))
        .map(|(_, value, label, reason)| (*value, *label, *reason))
        .collect();
    let conclusion = if allowed(Action::Conclude) {
        let customer_number = match view.customer_id {
            Some(customer) => sqlx::query_scalar!(
                "SELECT customer_number FROM customers WHERE id = $1",
                customer
            )
            .fetch_optional(&mut *conn)
            .await?
            .unwrap_or_default(),
            None => String::new(),
        };
        let tariff_groups = sqlx::query!(
            "SELECT code, name FROM tariff_groups WHERE utility_id = $1 ORDER BY code",
            session.utility_id
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|t| (t.code, t.name))
        .collect();
        Some(Conclusion {
            customer_number,
            tariff_groups,
            valid_from: view.answers.get("start_on").cloned().unwrap_or_default(),
        })
    } else {
        None
    };
    let contract = match &view.contract_number {
        Some(number) => {
            let customer = sqlx::query_scalar!(
                r#"SELECT k.customer_id FROM contracts k
                   WHERE k.utility_id = $1 AND k.number = $2"#,
                session.utility_id,
                number
            )
            .fetch_optional(&mut *conn)
            .await?;
            Some((number.clone(), customer))
        }
        None => None,
    };
    let notes = views::notes(&mut conn, session.utility_id, id)
        .await?
        .into_iter()
        .map(|n| (n.author, polish::instant(n.at), n.body))
        .collect();
    let signatures = view
        .signatures
        .iter()
        .map(|s| {
            (
                s.signatory.clone(),
                polish::instant(s.signed_at),
                s.sha256_hex(),
            )
        })
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
            letter: e.letter(view.number.as_deref().unwrap_or_default()),
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
            conclusion,
            contract,
            signatures,
            notes,
            feedback: view
                .feedback
                .as_ref()
                .map(|f| (f.rating, f.comment.clone())),
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
    notatka: Option<String>,
}

/// `GET /panel/{slug}/sprawy/{id}`
pub async fn case(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
    PageQuery(q): PageQuery<CaseQuery>,
) -> Page {
    let session = ctx.staff(Permission::HandleCases)?.clone();
    let notice = if q.notatka.is_some() {
        Some("Notatka zapisana. Mieszkaniec jej nie widzi.")
    } else {
        q.zapisano
            .map(|_| "Zapisano. Mieszkaniec dostał powiadomienie.")
    };
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
    if *action == Action::Conclude {
        return Err(PageError::bad_request(
            "Umowę zawiera się formularzem z jej danymi.",
        ));
    }
    let details = Details {
        note: Some(fields.uzasadnienie.as_str()),
        assign_to,
        contract_id: None,
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

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConcludeFields {
    /// The customer's number (`customer_number`), as on invoices.
    klient: String,
    /// The supply point's code.
    punkt: String,
    /// The tariff group's code.
    taryfa: String,
    /// The first day, `YYYY-MM-DD`.
    od: String,
}

impl FormFields for ConcludeFields {
    const PAGE: &'static str = "/panel/{slug}/sprawy/{id}";
}

/// `POST /panel/{slug}/sprawy/{id}/umowa`: concludes the signed supply contract — the billing
/// contract is started (customer, supply point, tariff group, first day), the customer is
/// linked to the resident's account if it was not, and the case moves to concluded, all in
/// one transaction.
pub async fn conclude(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<ConcludeFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    // Concluding starts a billing contract: it takes the right to handle cases and to edit
    // customers' contracts.
    if !session.may(Permission::HandleCases) || !session.may(Permission::EditCustomers) {
        return Err(PageError::NotAllowed);
    }
    let today = local_day(Utc::now());
    let valid_from = chrono::NaiveDate::parse_from_str(fields.od.trim(), "%Y-%m-%d").ok();
    if valid_from.is_none() {
        form.add("od", "Podaj dzień początku umowy (RRRR-MM-DD).");
    }
    let mut tx = state.pool.begin().await?;
    let case = views::case(
        &mut tx,
        session.utility_id,
        id,
        Scope::Staff {
            account_id: session.account_id,
        },
        today,
    )
    .await?
    .filter(|v| v.state != CaseState::Draft)
    .ok_or(PageError::NotFound)?;
    let found = sqlx::query!(
        "SELECT id, pesel, nip FROM customers WHERE utility_id = $1 AND customer_number = $2",
        session.utility_id,
        fields.klient.trim()
    )
    .fetch_optional(&mut *tx)
    .await?;
    // The contract is the applicant's: the customer the case is about, or, for a new one, the
    // customer with the applicant's PESEL or NIP. Nobody else's account is linked by mistake.
    let customer = match (found, case.customer_id) {
        (None, _) => {
            form.add(
                "klient",
                "Nie ma klienta o tym numerze. Jeśli to nowy odbiorca, najpierw załóż go w \
                 kartotece z danymi z wniosku.",
            );
            None
        }
        (Some(c), Some(of_case)) if c.id != of_case => {
            form.add(
                "klient",
                "Wniosek dotyczy innego klienta: umowę zawiera klient, w którego imieniu \
                 złożono wniosek.",
            );
            None
        }
        (Some(c), Some(_)) => Some(c.id),
        (Some(c), None) => {
            let applicant = |key: &str| case.answers.get(key).map(String::as_str);
            let same = (applicant("pesel").is_some() && c.pesel.as_deref() == applicant("pesel"))
                || (applicant("nip").is_some() && c.nip.as_deref() == applicant("nip"));
            if !same {
                form.add(
                    "klient",
                    "PESEL albo NIP tego klienta nie zgadza się z wnioskiem: sprawdź numer \
                     klienta albo załóż klienta z danymi wnioskodawcy.",
                );
            }
            same.then_some(c.id)
        }
    };
    // The day the signed contract names.
    if let (Some(from), Some(signed)) = (
        valid_from,
        case.answers
            .get("start_on")
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
    ) && from != signed
    {
        form.add(
            "od",
            format!(
                "Podpisana umowa obowiązuje od {}: inny dzień wymaga nowej umowy do podpisu.",
                ebok_common::polish::day(signed)
            ),
        );
    }
    let (Some(customer), Some(valid_from), false) = (customer, valid_from, form.has_errors())
    else {
        drop(tx);
        return case_page(&state, &ctx, &session, id, form, None).await;
    };
    let draft = ContractDraft {
        supply_point: fields.punkt.clone(),
        tariff_group: fields.taryfa.clone(),
        valid_from: Some(valid_from),
        valid_until: None,
    };
    // The case's own checks (state, role) come first: a refused step starts no contract.
    let who = if session.may(Permission::ManageCases) {
        Who::Manager
    } else {
        Who::Clerk {
            assigned: case.assigned_to == Some(session.account_id),
        }
    };
    if let Err(refusal) = lifecycle::next(case.state, Action::Conclude, who, case.facts) {
        drop(tx);
        form.add("form", refusal.message_pl());
        return case_page(&state, &ctx, &session, id, form, None).await;
    }
    let contract_id =
        match records::start_contract_in(&mut tx, session.by(), customer, &draft).await {
            Ok(contract) => contract,
            Err(ApiError::Invalid { field, detail }) => {
                drop(tx);
                let field = match field.as_str() {
                    "supply_point" => "punkt",
                    "tariff_group" => "taryfa",
                    _ => "od",
                };
                form.add(field, detail);
                return case_page(&state, &ctx, &session, id, form, None).await;
            }
            Err(e) => {
                drop(tx);
                form.add_failure(e)?;
                return case_page(&state, &ctx, &session, id, form, None).await;
            }
        };
    let linked = sqlx::query!(
        r#"INSERT INTO account_customers (utility_id, account_id, customer_id, linked_via)
           VALUES ($1, $2, $3, 'staff') ON CONFLICT DO NOTHING"#,
        session.utility_id,
        case.account_id,
        customer
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if linked > 0 {
        session
            .by()
            .audit_for(
                &mut tx,
                Some(case.account_id),
                "account.customer_linked",
                "user_account",
                case.account_id,
                serde_json::json!({"customer_id": customer, "case_id": id, "via": "contract"}),
            )
            .await?;
    }
    let details = Details {
        contract_id: Some(contract_id),
        ..Details::default()
    };
    match store::act(
        &mut tx,
        session.utility_id,
        id,
        acting(&session),
        Action::Conclude,
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
                form.add("form", e.message);
            }
            case_page(&state, &ctx, &session, id, form, None).await
        }
        Err(CaseError::Db(e)) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoteFields {
    notatka: String,
}

impl FormFields for NoteFields {
    const PAGE: &'static str = "/panel/{slug}/sprawy/{id}";
}

/// `POST /panel/{slug}/sprawy/{id}/notatki`: an internal note (the resident never sees it).
pub async fn note(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<NoteFields>,
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
    let mut tx = state.pool.begin().await?;
    match store::add_note(
        &mut tx,
        session.utility_id,
        id,
        acting(&session),
        &fields.notatka,
    )
    .await
    {
        Ok(_) => {
            tx.commit().await?;
            Ok(ctx.redirect(&format!("sprawy/{id}?notatka=1")))
        }
        Err(CaseError::NotFound) => Err(PageError::NotFound),
        Err(CaseError::Fields(errors)) => {
            drop(tx);
            for e in errors {
                form.add("notatka", e.message);
            }
            case_page(&state, &ctx, &session, id, form, None).await
        }
        Err(CaseError::Refused(r)) => {
            drop(tx);
            form.add("form", r.message_pl());
            case_page(&state, &ctx, &session, id, form, None).await
        }
        Err(CaseError::Db(e)) => Err(e.into()),
    }
}

/// `GET /panel/{slug}/sprawy/{id}/dokumenty/{file}`: a letter of the case, for the utility's
/// staff.
pub async fn letter(
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
    Ok(crate::download::attachment(&name, &content_type, bytes))
}
