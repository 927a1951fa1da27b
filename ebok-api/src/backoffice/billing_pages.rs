//! Billing in the back office: the tariffs of each group (seen by whoever sees invoices, added
//! and withdrawn by billing staff), the monthly billing runs (started here, followed while they
//! run, with the contracts left out and the print batch of paper invoices), and an invoice's
//! documents for staff.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{Months, Utc};
use ebok_common::domain::Money;
use ebok_common::domain::time::local_day;
use serde::Deserialize;

use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::api::invoices::{Format, document_response};
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::FormState;
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::{Id, PagePath, PageQuery};
use crate::staff::Permission;
use crate::staff::billing::{self, NewTariff, RunView, TariffGroupView};
use crate::staff::sessions::StaffSession;
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "staff/tariffs.html")]
struct TariffsPage {
    layout: StaffLayout,
    csrf: String,
    groups: Vec<TariffGroupView>,
    /// The form of a new tariff, for billing staff.
    form: Option<FormState>,
    notice: Option<&'static str>,
}

impl TariffsPage {
    fn money(&self, amount: &Money) -> String {
        ebok_common::polish::money(*amount)
    }

    fn day(&self, day: &chrono::NaiveDate) -> String {
        ebok_common::polish::day(*day)
    }

    fn state(&self, state: &str) -> &'static str {
        match state {
            "future" => "od przyszłego dnia",
            "in_force" => "obowiązuje",
            _ => "archiwalna",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TariffsQuery {
    zrobione: Option<String>,
}

/// `GET /panel/{slug}/taryfy`
pub async fn tariffs(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<TariffsQuery>,
) -> Page {
    let session = ctx.staff(Permission::ViewInvoices)?.clone();
    let notice = match q.zrobione.as_deref() {
        Some("dodana") => Some("Taryfa dodana. Zacznie obowiązywać od podanego dnia."),
        Some("wycofana") => Some("Taryfa wycofana."),
        _ => None,
    };
    let tomorrow = local_day(Utc::now()) + chrono::Days::new(1);
    let form = FormState::default()
        .with("valid_from", tomorrow.to_string())
        .with("vat_rate", "8");
    tariffs_page(&state, &ctx, &session, form, notice).await
}

async fn tariffs_page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    form: FormState,
    notice: Option<&'static str>,
) -> Page {
    let groups = billing::tariff_groups(&state.pool, session.utility_id).await?;
    Ok((
        form.status(),
        TariffsPage {
            layout: ctx.layout("taryfy"),
            csrf: session.csrf.clone(),
            groups,
            form: session.may(Permission::ManageBilling).then_some(form),
            notice,
        },
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TariffFields {
    tariff_group_id: String,
    valid_from: String,
    water_price: String,
    sewage_price: String,
    subscription: String,
    garden_subscription: String,
    vat_rate: String,
    basis: String,
}

impl FormFields for TariffFields {
    const PAGE: &'static str = "/panel/{slug}/taryfy";
}

/// `POST /panel/{slug}/taryfy`
pub async fn add_tariff(State(state): State<AppState>, post: StaffForm<TariffFields>) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::ManageBilling) {
        return Err(PageError::NotAllowed);
    }
    let input = NewTariff {
        tariff_group_id: fields.tariff_group_id.trim().parse().unwrap_or(0),
        valid_from: fields.valid_from,
        water_price: fields.water_price,
        sewage_price: fields.sewage_price,
        subscription: fields.subscription,
        garden_subscription: fields.garden_subscription,
        vat_rate: fields.vat_rate,
        basis: fields.basis,
    };
    match billing::add_tariff(&state.pool, session.by(), &input).await {
        Ok(_) => Ok(ctx.redirect("taryfy?zrobione=dodana")),
        Err(e) => {
            form.add_failure(e)?;
            tariffs_page(&state, &ctx, &session, form, None).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct NoFields {}

impl FormFields for NoFields {
    const PAGE: &'static str = "/panel/{slug}/taryfy";
}

/// `POST /panel/{slug}/taryfy/{id}/wycofaj`
pub async fn withdraw_tariff(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<NoFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        mut form,
        ..
    } = post;
    if !session.may(Permission::ManageBilling) {
        return Err(PageError::NotAllowed);
    }
    match billing::withdraw_tariff(&state.pool, session.by(), id).await {
        Ok(()) => Ok(ctx.redirect("taryfy?zrobione=wycofana")),
        Err(e) => {
            form.add_failure(e)?;
            tariffs_page(&state, &ctx, &session, form, None).await
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/billing_runs.html")]
struct RunsPage {
    layout: StaffLayout,
    csrf: String,
    runs: Vec<RunView>,
    form: FormState,
}

impl RunsPage {
    fn instant(&self, at: &chrono::DateTime<Utc>) -> String {
        ebok_common::polish::instant(*at)
    }

    fn month(&self, day: &chrono::NaiveDate) -> String {
        ebok_common::polish::month(*day)
    }

    fn state(&self, state: &str) -> &'static str {
        run_state(state)
    }
}

fn run_state(state: &str) -> &'static str {
    match state {
        "running" => "trwa",
        "finished" => "zakończone",
        "failed" => "przerwane błędem",
        _ => "przerwane (proces zakończył się): uruchom miesiąc ponownie",
    }
}

/// `GET /panel/{slug}/rozliczenia`
pub async fn runs(State(state): State<AppState>, ctx: StaffCtx) -> Page {
    let session = ctx.staff(Permission::ManageBilling)?.clone();
    let last_month = local_day(Utc::now()) - Months::new(1);
    let form = FormState::default().with("period", last_month.format("%Y-%m").to_string());
    runs_page(&state, &ctx, &session, form).await
}

async fn runs_page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    form: FormState,
) -> Page {
    let runs = billing::runs(&state.pool, session.utility_id, None).await?;
    Ok((
        form.status(),
        RunsPage {
            layout: ctx.layout("rozliczenia"),
            csrf: session.csrf.clone(),
            runs,
            form,
        },
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RunFields {
    period: String,
    issue_date: String,
}

impl FormFields for RunFields {
    const PAGE: &'static str = "/panel/{slug}/rozliczenia";
}

/// `POST /panel/{slug}/rozliczenia`: starts a run and shows its progress.
pub async fn start_run(State(state): State<AppState>, post: StaffForm<RunFields>) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::ManageBilling) {
        return Err(PageError::NotAllowed);
    }
    match billing::start_run(
        &state.pool,
        session.by(),
        &fields.period,
        Some(&fields.issue_date),
    )
    .await
    {
        Ok(id) => Ok(ctx.redirect(&format!("rozliczenia/{id}"))),
        Err(e) => {
            form.add_failure(e)?;
            runs_page(&state, &ctx, &session, form).await
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/billing_run.html")]
struct RunPage {
    layout: StaffLayout,
    run: RunView,
    state_text: &'static str,
}

impl RunPage {
    fn instant(&self, at: &chrono::DateTime<Utc>) -> String {
        ebok_common::polish::instant(*at)
    }

    fn month(&self, day: &chrono::NaiveDate) -> String {
        ebok_common::polish::month(*day)
    }
}

/// `GET /panel/{slug}/rozliczenia/{id}`
pub async fn run(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
) -> Page {
    let session = ctx.staff(Permission::ManageBilling)?.clone();
    let run = billing::runs(&state.pool, session.utility_id, Some(id))
        .await?
        .into_iter()
        .next()
        .ok_or(PageError::NotFound)?;
    Ok(RunPage {
        layout: ctx.layout("rozliczenia"),
        state_text: run_state(&run.state),
        run,
    }
    .into_response())
}

/// `GET /panel/{slug}/rozliczenia/{id}/druk.pdf`: the run's paper invoices for the mailing
/// house.
pub async fn print_batch(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
) -> Page {
    let session = ctx.staff(Permission::ManageBilling)?.clone();
    let pdf = billing::print_batch(&state.pool, session.utility_id, id)
        .await?
        .ok_or(PageError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"faktury-papierowe-{id}.pdf\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        pdf,
    )
        .into_response())
}

/// `GET /panel/{slug}/faktury/{id}/pdf`
pub async fn invoice_pdf(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
) -> Page {
    let session = ctx.staff(Permission::ViewInvoices)?.clone();
    let scope = billing::invoice_scope(&state.pool, session.utility_id, id).await?;
    Ok(document_response(&state, scope, id, Format::Pdf)
        .await?
        .into_response())
}

/// `GET /panel/{slug}/faktury/{id}/xml`
pub async fn invoice_xml(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
) -> Page {
    let session = ctx.staff(Permission::ViewInvoices)?.clone();
    let scope = billing::invoice_scope(&state.pool, session.utility_id, id).await?;
    Ok(document_response(&state, scope, id, Format::Xml)
        .await?
        .into_response())
}
