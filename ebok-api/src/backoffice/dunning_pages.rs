//! Debts in the back office: the customers with overdue invoices (whoever sees invoices), each
//! with the reminders sent and whether a letter on paper is due, and a customer's interest note
//! — the statutory interest for late payment computed for a chosen day, printable as the
//! separate note sent with the demand. Billing staff mark the demand as sent on paper.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use chrono::{NaiveDate, Utc};
use ebok_common::domain::time::local_day;
use ebok_common::polish;
use ebok_payments::dunning::overdue;
use serde::Deserialize;

use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::{Id, PagePath, PageQuery};
use crate::staff::Permission;
use crate::state::AppState;

struct CustomerShown {
    id: i64,
    number: String,
    name: String,
    invoices: i64,
    overdue: String,
    oldest_due: String,
    days: i64,
    last_reminder: String,
    letter_due: bool,
}

fn stage_pl(stage: &str) -> &'static str {
    match stage {
        "before_due" => "przypomnienie przed terminem",
        "overdue" => "przypomnienie po terminie",
        "demand" => "wezwanie do zapłaty (e-mail, aplikacja)",
        "demand_on_paper" => "wezwanie do zapłaty (list)",
        _ => "przypomnienie",
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/overdue.html")]
struct OverduePage {
    layout: StaffLayout,
    today: String,
    customers: Vec<CustomerShown>,
    total: String,
}

/// `GET /panel/{slug}/zaleglosci`
pub async fn overdue(State(state): State<AppState>, ctx: StaffCtx) -> Page {
    let session = ctx.staff(Permission::ViewInvoices)?.clone();
    let today = local_day(Utc::now());
    let mut conn = state.pool.acquire().await?;
    let customers = overdue::customers(&mut conn, session.utility_id, today, 1_000).await?;
    Ok(OverduePage {
        layout: ctx.layout("zaleglosci"),
        today: polish::day(today),
        total: polish::money(customers.iter().map(|c| c.overdue).sum()),
        customers: customers
            .into_iter()
            .map(|c| CustomerShown {
                id: c.customer_id,
                number: c.customer_number,
                name: c.name,
                invoices: c.invoices,
                overdue: polish::money(c.overdue),
                oldest_due: polish::day(c.oldest_due),
                days: c.days_overdue,
                last_reminder: match (c.last_reminder, c.last_reminder_on) {
                    (Some(stage), Some(on)) => format!("{} {}", stage_pl(&stage), polish::day(on)),
                    _ => "nie wysłano".into(),
                },
                letter_due: c.letter_due,
            })
            .collect(),
    }
    .into_response())
}

struct PeriodShown {
    from: String,
    to: String,
    days: i64,
    principal: String,
    rate: String,
    interest: String,
}

struct InvoiceShown {
    number: String,
    due: String,
    amount: String,
    open: String,
    interest: String,
    periods: Vec<PeriodShown>,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/interest_note.html")]
struct NotePage {
    layout: StaffLayout,
    csrf: String,
    may_mark_letter: bool,
    customer_id: i64,
    customer: String,
    kind: &'static str,
    until: String,
    until_iso: String,
    invoices: Vec<InvoiceShown>,
    total: String,
    /// Why the interest could not be computed (a day without a known rate).
    problem: Option<String>,
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoteQuery {
    /// The day interest is computed for, YYYY-MM-DD (default: today).
    na_dzien: Option<String>,
    zapisano: Option<String>,
}

/// `GET /panel/{slug}/zaleglosci/{id}[?na_dzien=YYYY-MM-DD]`: the customer's interest note.
pub async fn note(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
    PageQuery(q): PageQuery<NoteQuery>,
) -> Page {
    let session = ctx.staff(Permission::ViewInvoices)?.clone();
    let today = local_day(Utc::now());
    // A day that is not a date shows today's note (the form offers a date picker).
    let until = q
        .na_dzien
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
        .unwrap_or(today);
    let mut conn = state.pool.acquire().await?;
    let note = overdue::interest_note(&mut conn, session.utility_id, id, until)
        .await?
        .ok_or(PageError::NotFound)?;
    let problem = note.missing_rate.map(|day| {
        format!(
            "Brak stopy odsetek ustawowych obowiązującej {}: administrator musi dopisać stopę \
             do tabeli, zanim policzymy odsetki.",
            polish::day(day)
        )
    });
    Ok(NotePage {
        layout: ctx.layout("zaleglosci"),
        csrf: session.csrf.clone(),
        may_mark_letter: session.may(Permission::ManageBilling),
        customer_id: note.customer_id,
        customer: format!("{} (nr klienta {})", note.name, note.customer_number),
        kind: note.kind.label_pl(),
        until: polish::day(note.until),
        until_iso: note.until.to_string(),
        total: polish::money(note.total),
        invoices: note
            .invoices
            .iter()
            .map(|i| InvoiceShown {
                number: i.number.clone(),
                due: polish::day(i.due_date),
                amount: polish::money(i.amount_due),
                open: polish::money(i.open),
                interest: polish::money(i.interest),
                periods: i
                    .periods
                    .iter()
                    .map(|p| PeriodShown {
                        from: polish::day(p.from),
                        to: polish::day(p.to),
                        days: p.days,
                        principal: polish::money(p.principal),
                        rate: polish::percent_bp(p.basis_points),
                        interest: polish::money(p.interest),
                    })
                    .collect(),
            })
            .collect(),
        problem,
        notice: q
            .zapisano
            .map(|_| "Zapisano: wezwanie wysłane listem.".to_string()),
    }
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct LetterFields {}

impl FormFields for LetterFields {
    const PAGE: &'static str = "/panel/{slug}/zaleglosci";
}

/// `POST /panel/{slug}/zaleglosci/{id}/list`: the demand went out on paper.
pub async fn letter_sent(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<LetterFields>,
) -> Page {
    let PortalForm { ctx, session, .. } = post;
    if !session.may(Permission::ManageBilling) {
        return Err(PageError::NotAllowed);
    }
    let mut tx = state.pool.begin().await?;
    let marked = overdue::letter_sent(&mut tx, session.utility_id, id, session.account_id).await?;
    tx.commit().await?;
    match marked {
        Some(_) => Ok(ctx.redirect(&format!("zaleglosci/{id}?zapisano=1"))),
        None => Err(PageError::NotFound),
    }
}
