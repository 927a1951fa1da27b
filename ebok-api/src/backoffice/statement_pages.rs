//! Bank statements in the back office (billing staff): import the utility's statement (MT940
//! or the web banking's CSV) —
//! transfers to customers' virtual accounts or naming an invoice are booked at once — and
//! assign what nobody could be told for to a customer by their number. Importing a statement
//! again books nothing twice.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use ebok_common::polish;
use ebok_payments::statements::{self, AssignError, ImportError, Imported};
use serde::Deserialize;

use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::FormState;
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::{Id, PagePath};
use crate::staff::Permission;
use crate::staff::sessions::StaffSession;
use crate::state::AppState;

/// The largest statement file taken (a month of a city utility's transfers fits many times).
pub const STATEMENT_FORM_LIMIT: usize = 32 * 1024 * 1024;

struct LineShown {
    id: i64,
    day: String,
    amount: String,
    title: String,
    counterparty: String,
}

struct StatementShown {
    account: String,
    number: String,
    lines: i32,
    new: i32,
    when: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/statements.html")]
struct StatementsPage {
    layout: StaffLayout,
    csrf: String,
    form: FormState,
    /// What the import just done did.
    done: Option<Imported>,
    unmatched: Vec<LineShown>,
    statements: Vec<StatementShown>,
}

async fn page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    form: FormState,
    done: Option<Imported>,
) -> Page {
    let unmatched = statements::unmatched(&state.pool, session.utility_id).await?;
    let recent = statements::recent(&state.pool, session.utility_id).await?;
    Ok((
        form.status(),
        StatementsPage {
            layout: ctx.layout("wyciagi"),
            csrf: session.csrf.clone(),
            form,
            done,
            unmatched: unmatched
                .into_iter()
                .map(|l| LineShown {
                    id: l.id,
                    day: polish::day(l.value_date),
                    amount: polish::money(l.amount),
                    title: l.title,
                    counterparty: match l.counterparty_account {
                        Some(account) => format!("{} ({account})", l.counterparty),
                        None => l.counterparty,
                    },
                })
                .collect(),
            statements: recent
                .into_iter()
                .map(|s| StatementShown {
                    account: s.account,
                    number: s.number,
                    lines: s.lines_total,
                    new: s.lines_new,
                    when: polish::instant(s.imported_at),
                })
                .collect(),
        },
    )
        .into_response())
}

/// `GET /panel/{slug}/wyciagi`
pub async fn statements_page(State(state): State<AppState>, ctx: StaffCtx) -> Page {
    let session = ctx.staff(Permission::ManageBilling)?.clone();
    page(&state, &ctx, &session, FormState::default(), None).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ImportFields {}

impl FormFields for ImportFields {
    const PAGE: &'static str = "/panel/{slug}/wyciagi";
}

/// `POST /panel/{slug}/wyciagi`: imports the file chosen in `plik`.
pub async fn import(State(state): State<AppState>, post: StaffForm<ImportFields>) -> Page {
    let PortalForm {
        ctx,
        session,
        mut form,
        mut uploads,
        ..
    } = post;
    if !session.may(Permission::ManageBilling) {
        return Err(PageError::Forbidden);
    }
    let file = match uploads.take("plik") {
        Ok(Some(file)) if !file.bytes.is_empty() => file,
        Ok(_) => {
            form.add("plik", "Wybierz plik wyciągu (MT940 albo CSV).");
            return page(&state, &ctx, &session, form, None).await;
        }
        Err(_) => {
            form.add("plik", "Plik jest za duży (najwyżej 32 MB).");
            return page(&state, &ctx, &session, form, None).await;
        }
    };
    match statements::import(
        &state.pool,
        session.utility_id,
        &file.bytes,
        Some(session.account_id),
    )
    .await
    {
        Ok(done) => page(&state, &ctx, &session, form, Some(done)).await,
        Err(ImportError::Unreadable(e)) => {
            form.add(
                "plik",
                format!("To nie jest wyciąg MT940 ani CSV, który umiemy odczytać ({e})."),
            );
            page(&state, &ctx, &session, form, None).await
        }
        Err(ImportError::Db(e)) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AssignFields {
    klient: String,
}

impl FormFields for AssignFields {
    const PAGE: &'static str = "/panel/{slug}/wyciagi";
}

/// `POST /panel/{slug}/wyciagi/{id}/przypisz`: books line `id` as a payment of the customer
/// with number `klient`.
pub async fn assign(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<AssignFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::ManageBilling) {
        return Err(PageError::Forbidden);
    }
    let number = fields.klient.trim();
    let customer = sqlx::query_scalar!(
        "SELECT id FROM customers WHERE utility_id = $1 AND customer_number IN ($2, upper($2))",
        session.utility_id,
        number
    )
    .fetch_optional(&state.pool)
    .await?;
    let Some(customer) = customer else {
        form.add(
            format!("klient-{id}"),
            "Nie ma klienta o takim numerze. Podaj numer klienta z karty, np. 100123.",
        );
        return page(&state, &ctx, &session, form, None).await;
    };
    match statements::assign(
        &state.pool,
        session.utility_id,
        id,
        customer,
        session.account_id,
    )
    .await
    {
        Ok(_) => Ok(
            axum::response::Redirect::to(&format!("/panel/{}/wyciagi", ctx.utility.slug))
                .into_response(),
        ),
        Err(AssignError::NotFound) => Err(PageError::NotFound),
        Err(AssignError::Invalid(message)) => {
            form.add(format!("klient-{id}"), message);
            page(&state, &ctx, &session, form, None).await
        }
        Err(AssignError::Db(e)) => Err(e.into()),
    }
}
