//! Billing in the back office: the tariffs of each group (seen by whoever sees invoices, added
//! and withdrawn by billing staff), the monthly billing runs (started here, followed while they
//! run, with the contracts left out and the print batch of paper invoices), and an invoice's
//! documents for staff.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
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
    Ok(crate::download::attachment(
        &format!("faktury-papierowe-{id}.pdf"),
        "application/pdf",
        pdf,
    ))
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

#[derive(Template, WebTemplate)]
#[template(path = "staff/correction.html")]
struct CorrectionPage {
    layout: StaffLayout,
    csrf: String,
    target: billing::CorrectionTarget,
    /// `(code, name)` of the tariff groups.
    groups: Vec<(String, String)>,
    form: FormState,
    /// The correction as it would be issued: (lines before, lines after, net, VAT, gross of the
    /// difference), each line (name, quantity, price, net).
    preview: Option<CorrectionShown>,
}

struct CorrectionShown {
    before: Vec<(String, String, String, String)>,
    after: Vec<(String, String, String, String)>,
    net: String,
    vat: String,
    gross: String,
}

fn shown_lines(lines: &[ebok_billing::document::Line]) -> Vec<(String, String, String, String)> {
    lines
        .iter()
        .map(|l| {
            (
                l.name.clone(),
                format!(
                    "{},{:03} {}",
                    l.quantity_milli / 1000,
                    (l.quantity_milli % 1000).abs(),
                    l.unit
                ),
                ebok_common::polish::money(l.unit_price),
                ebok_common::polish::money(l.net),
            )
        })
        .collect()
}

async fn correction_page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    invoice_id: i64,
    form: FormState,
    preview: Option<CorrectionShown>,
) -> Page {
    let target = billing::correction_target(&state.pool, session.utility_id, invoice_id).await?;
    let groups = sqlx::query!(
        "SELECT code, name FROM tariff_groups WHERE utility_id = $1 ORDER BY code",
        session.utility_id
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|g| (g.code, g.name))
    .collect();
    Ok((
        form.status(),
        CorrectionPage {
            layout: ctx.layout("klienci"),
            csrf: session.csrf.clone(),
            target,
            groups,
            form,
            preview,
        },
    )
        .into_response())
}

/// `GET /panel/{slug}/faktury/{id}/korekta`
pub async fn correction_form(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
) -> Page {
    let session = ctx.staff(Permission::ManageBilling)?.clone();
    correction_page(&state, &ctx, &session, id, FormState::default(), None).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CorrectionFields {
    reason: String,
    tariff_group: String,
}

impl FormFields for CorrectionFields {
    const PAGE: &'static str = "/panel/{slug}/faktury/{id}/korekta";
}

/// `POST /panel/{slug}/faktury/{id}/korekta/grupa`: the contract's tariff group changed.
pub async fn correction_group(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<CorrectionFields>,
) -> Page {
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
    let target = billing::correction_target(&state.pool, session.utility_id, id).await?;
    match billing::change_tariff_group(
        &state.pool,
        session.by(),
        target.contract_id,
        &fields.tariff_group,
    )
    .await
    {
        Ok(()) => Ok(ctx.redirect(&format!("faktury/{id}/korekta"))),
        Err(e) => {
            form.add_failure(e)?;
            correction_page(&state, &ctx, &session, id, form, None).await
        }
    }
}

/// `POST /panel/{slug}/faktury/{id}/korekta/podglad`
pub async fn correction_preview(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<CorrectionFields>,
) -> Page {
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
    match billing::preview_correction(&state.pool, session.utility_id, id, &fields.reason).await {
        Ok(doc) => {
            let shown = CorrectionShown {
                before: shown_lines(&doc.lines_before),
                after: shown_lines(&doc.lines),
                net: ebok_common::polish::money(doc.net),
                vat: ebok_common::polish::money(doc.vat),
                gross: ebok_common::polish::money(doc.gross),
            };
            correction_page(&state, &ctx, &session, id, form, Some(shown)).await
        }
        Err(e) => {
            form.add_failure(e)?;
            correction_page(&state, &ctx, &session, id, form, None).await
        }
    }
}

/// `POST /panel/{slug}/faktury/{id}/korekta`: issues the correction, then the customer's card.
pub async fn correction_issue(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<CorrectionFields>,
) -> Page {
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
    let target = billing::correction_target(&state.pool, session.utility_id, id).await?;
    match billing::correct(&state.pool, session.by(), id, &fields.reason).await {
        Ok(_) => Ok(ctx.redirect(&format!(
            "klienci/{}?zapisano=korekta#rozliczenia",
            target.customer_id
        ))),
        Err(e) => {
            form.add_failure(e)?;
            correction_page(&state, &ctx, &session, id, form, None).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ManualFields {
    sale_date: String,
    name_0: String,
    unit_0: String,
    quantity_0: String,
    price_0: String,
    vat_0: String,
    name_1: String,
    unit_1: String,
    quantity_1: String,
    price_1: String,
    vat_1: String,
    name_2: String,
    unit_2: String,
    quantity_2: String,
    price_2: String,
    vat_2: String,
}

impl FormFields for ManualFields {
    const PAGE: &'static str = "/panel/{slug}/klienci/{id}";
}

/// `POST /panel/{slug}/klienci/{id}/faktury`: an invoice for services.
pub async fn manual_invoice(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<ManualFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields: f,
        mut form,
        ..
    } = post;
    if !session.may(Permission::ManageBilling) {
        return Err(PageError::NotAllowed);
    }
    let line =
        |name: &str, unit: &str, quantity: &str, price: &str, vat: &str| billing::ManualLineInput {
            name: name.into(),
            unit: unit.into(),
            quantity: quantity.into(),
            unit_price: price.into(),
            vat_rate: vat.into(),
        };
    let lines = [
        line(&f.name_0, &f.unit_0, &f.quantity_0, &f.price_0, &f.vat_0),
        line(&f.name_1, &f.unit_1, &f.quantity_1, &f.price_1, &f.vat_1),
        line(&f.name_2, &f.unit_2, &f.quantity_2, &f.price_2, &f.vat_2),
    ];
    match billing::manual_invoice(&state.pool, session.by(), id, &f.sale_date, &lines).await {
        Ok(_) => Ok(ctx.redirect(&format!("klienci/{id}?zapisano=faktura#rozliczenia"))),
        Err(e) => {
            // The form's fields are named after the line: lines[1].unit is unit_1.
            let e = match e {
                crate::error::ApiError::Invalid { field, detail } => {
                    crate::error::ApiError::Invalid {
                        field: manual_field(&field),
                        detail,
                    }
                }
                other => other,
            };
            form.add_failure(e)?;
            let forms = super::customer_pages::CardForms {
                manual: form,
                ..super::customer_pages::CardForms::default()
            };
            super::customer_pages::render_card(&state, &ctx, &session, id, forms, None).await
        }
    }
}

/// `lines[1].unit_price` → `price_1`; other names as they are.
fn manual_field(field: &str) -> String {
    let Some(rest) = field.strip_prefix("lines[") else {
        return field.to_string();
    };
    let Some((index, name)) = rest.split_once("].") else {
        return field.to_string();
    };
    let name = match name {
        "unit_price" => "price",
        "vat_rate" => "vat",
        other => other,
    };
    format!("{name}_{index}")
}
