//! KSeF in the back office: which invoices the utility sends and to which environment (the
//! admin decides), how many are on their way, accepted or refused, the ones KSeF refused or
//! that could not be sent with the reason (billing staff send a refused one again once its
//! cause is fixed), and each accepted invoice's KSeF number and UPO. Whoever sees invoices
//! sees the page.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use ebok_common::polish;
use ebok_ksef::office::{self, Settings, SettingsError};
use serde::Deserialize;

use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::FormState;
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::{Id, PagePath, PageQuery};
use crate::staff::Permission;
use crate::staff::sessions::StaffSession;
use crate::state::AppState;

struct EntryShown {
    invoice_id: i64,
    number: String,
    customer: String,
    state: &'static str,
    ksef_number: Option<String>,
    problem: Option<String>,
    attempts: i32,
    when: String,
    refused: bool,
}

fn state_pl(state: &str) -> &'static str {
    match state {
        "queued" => "czeka na wysłanie",
        "sent" => "wysłana, czeka na KSeF",
        "accepted" => "przyjęta",
        _ => "odrzucona przez KSeF",
    }
}

fn scope_pl(scope: &str) -> &'static str {
    match scope {
        "all" => "wszystkie faktury",
        "with_nip" => "faktury dla nabywców z NIP",
        _ => "nie wysyłamy",
    }
}

fn environment_pl(environment: &str) -> &'static str {
    match environment {
        "production" => "produkcyjne",
        "demo" => "przedprodukcyjne (demo)",
        _ => "testowe",
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/ksef.html")]
struct KsefPage {
    layout: StaffLayout,
    csrf: String,
    form: FormState,
    may_configure: bool,
    may_resend: bool,
    scope: String,
    environment: String,
    scopes: Vec<(&'static str, &'static str)>,
    environments: Vec<(&'static str, &'static str)>,
    scope_label: &'static str,
    environment_label: &'static str,
    queued: i64,
    sent: i64,
    accepted: i64,
    rejected: i64,
    untried: i64,
    trouble: Vec<EntryShown>,
    recent: Vec<EntryShown>,
    notice: Option<&'static str>,
}

async fn page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    form: FormState,
    notice: Option<&'static str>,
) -> Page {
    let mut conn = state.pool.acquire().await?;
    let settings = office::settings(&mut conn, session.utility_id).await?;
    let counts = office::counts(&mut conn, session.utility_id).await?;
    let (trouble, recent) = office::entries(&mut conn, session.utility_id, 100).await?;
    let shown = |e: office::Entry| EntryShown {
        invoice_id: e.invoice_id,
        number: e.number,
        customer: e.customer_number,
        refused: e.state == "rejected",
        state: state_pl(&e.state),
        ksef_number: e.ksef_number,
        problem: e.problem,
        attempts: e.attempts,
        when: polish::instant(e.updated_at),
    };
    Ok((
        form.status(),
        KsefPage {
            layout: ctx.layout("ksef"),
            csrf: session.csrf.clone(),
            may_configure: session.may(Permission::ManageStaff),
            may_resend: session.may(Permission::ManageBilling),
            scope_label: scope_pl(&settings.scope),
            environment_label: environment_pl(&settings.environment),
            scopes: office::SCOPES.iter().map(|s| (*s, scope_pl(s))).collect(),
            environments: office::ENVIRONMENTS
                .iter()
                .map(|e| (*e, environment_pl(e)))
                .collect(),
            scope: settings.scope,
            environment: settings.environment,
            form,
            queued: counts.queued,
            sent: counts.sent,
            accepted: counts.accepted,
            rejected: counts.rejected,
            untried: counts.untried,
            trouble: trouble.into_iter().map(shown).collect(),
            recent: recent.into_iter().map(shown).collect(),
            notice,
        },
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DoneQuery {
    zrobione: Option<String>,
}

/// `GET /panel/{slug}/ksef`
pub async fn ksef(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<DoneQuery>,
) -> Page {
    let session = ctx.staff(Permission::ViewInvoices)?.clone();
    let notice = match q.zrobione.as_deref() {
        Some("ustawienia") => {
            Some("Ustawienia KSeF zapisane: obowiązują dla faktur wystawianych od teraz.")
        }
        Some("ponownie") => Some("Faktura wróciła do kolejki: wyślemy ją do KSeF w ciągu minuty."),
        _ => None,
    };
    page(&state, &ctx, &session, FormState::default(), notice).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SettingsFields {
    zakres: String,
    srodowisko: String,
}

impl FormFields for SettingsFields {
    const PAGE: &'static str = "/panel/{slug}/ksef";
}

/// `POST /panel/{slug}/ksef/ustawienia`
pub async fn save_settings(State(state): State<AppState>, post: StaffForm<SettingsFields>) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::ManageStaff) {
        return Err(PageError::NotAllowed);
    }
    let mut tx = state.pool.begin().await?;
    let settings = Settings {
        scope: fields.zakres.trim().to_string(),
        environment: fields.srodowisko.trim().to_string(),
    };
    match office::set_settings(&mut tx, session.utility_id, session.account_id, &settings).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(ctx.redirect("ksef?zrobione=ustawienia"))
        }
        Err(SettingsError::Unknown) => {
            drop(tx);
            form.add("zakres", "Wybierz zakres i środowisko z listy.");
            page(&state, &ctx, &session, form, None).await
        }
        Err(SettingsError::Db(e)) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct NoFields {}

impl FormFields for NoFields {
    const PAGE: &'static str = "/panel/{slug}/ksef";
}

/// `POST /panel/{slug}/ksef/{id}/ponow`: a refused invoice sent again.
pub async fn send_again(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<NoFields>,
) -> Page {
    let PortalForm { ctx, session, .. } = post;
    if !session.may(Permission::ManageBilling) {
        return Err(PageError::NotAllowed);
    }
    let mut tx = state.pool.begin().await?;
    let done = office::send_again(&mut tx, session.utility_id, id, session.account_id).await?;
    tx.commit().await?;
    if !done {
        return Err(PageError::NotFound);
    }
    Ok(ctx.redirect("ksef?zrobione=ponownie"))
}

/// `GET /panel/{slug}/ksef/{id}/upo.xml`: the UPO of an accepted invoice.
pub async fn upo(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
) -> Page {
    let session = ctx.staff(Permission::ViewInvoices)?.clone();
    let mut conn = state.pool.acquire().await?;
    let upo = office::upo(&mut conn, session.utility_id, id)
        .await?
        .ok_or(PageError::NotFound)?;
    Ok(crate::download::attachment(
        &format!("upo-{id}.xml"),
        "application/xml; charset=utf-8",
        upo,
    ))
}
