//! What went wrong on the way in and out, in the back office: the quarantine of readings from
//! meters nobody registered, grouped by radio id or serial, each group assignable to a meter of
//! the utility (ingest replays them into it on its next round, every 30 s by default); readings
//! ingest rejected, by reason and day; notifications that could not be delivered, requeued.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::FormState;
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::PageQuery;
use crate::staff::Permission;
use crate::staff::problems;
use crate::staff::quarantine::{self, HeldGroup};
use crate::staff::sessions::StaffSession;
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "staff/quarantine.html")]
struct QuarantinePage {
    layout: StaffLayout,
    csrf: String,
    groups: Vec<HeldGroup>,
    f: FormState,
    notice: Option<String>,
}

impl QuarantinePage {
    fn instant(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        ebok_common::polish::instant(*at)
    }

    fn volume(&self, litres: &i64) -> String {
        ebok_common::polish::volume(*litres)
    }

    fn kind(&self, kind: &str) -> &'static str {
        if kind == "radio_id" {
            "identyfikator radiowy"
        } else {
            "numer fabryczny"
        }
    }

    /// What was typed for this group's serial, when the form sent was this group's.
    fn typed<'a>(&'a self, group: &HeldGroup) -> &'a str {
        if self.f.value("meter_ref") == group.meter_ref && self.f.value("kind") == group.kind {
            self.f.value("serial")
        } else {
            ""
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    przypisano: Option<u64>,
    radio: Option<String>,
}

/// `GET /panel/{slug}/kwarantanna`
pub async fn quarantine(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<DoneQuery>,
) -> Page {
    let session = ctx.staff(Permission::HandleIngestProblems)?.clone();
    let notice = q.przypisano.map(|n| {
        let mut text = format!(
            "Przypisano {n} {}; trafią do wodomierza w ciągu minuty.",
            ebok_common::polish::plural(n as i64, "odczyt", "odczyty", "odczytów")
        );
        if q.radio.is_some() {
            text.push_str(" Wodomierz otrzymał ten identyfikator radiowy.");
        }
        text
    });
    page(&state, &ctx, &session, FormState::default(), notice).await
}

async fn page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    form: FormState,
    notice: Option<String>,
) -> Page {
    let groups = quarantine::held(&state.pool, session.utility_id).await?;
    Ok((
        form.status(),
        QuarantinePage {
            layout: ctx.layout("kwarantanna"),
            csrf: session.csrf.clone(),
            groups,
            f: form,
            notice,
        },
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AssignFields {
    kind: String,
    meter_ref: String,
    serial: String,
}

impl FormFields for AssignFields {
    const PAGE: &'static str = "/panel/{slug}/kwarantanna";
}

/// `POST /panel/{slug}/kwarantanna/przypisz`
pub async fn assign(State(state): State<AppState>, post: StaffForm<AssignFields>) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::HandleIngestProblems) {
        return Err(PageError::NotAllowed);
    }
    let by = session.by();
    match quarantine::assign(
        &state.pool,
        by,
        &fields.kind,
        &fields.meter_ref,
        &fields.serial,
    )
    .await
    {
        Ok(done) => Ok(ctx.redirect(&format!(
            "kwarantanna?przypisano={}{}",
            done.readings,
            if done.radio_id_set { "&radio=1" } else { "" }
        ))),
        Err(e) => {
            form.add_failure(e)?;
            page(&state, &ctx, &session, form, None).await
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/rejections.html")]
struct RejectionsPage {
    layout: StaffLayout,
    days: u32,
    reason: String,
    /// Reasons seen in the period, with their total, most first.
    totals: Vec<(String, i64)>,
    /// `(day, [(reason, count)])`, newest day first.
    by_day: Vec<(chrono::NaiveDate, Vec<(String, i64)>)>,
    recent: Vec<problems::Rejection>,
}

impl RejectionsPage {
    fn instant(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        ebok_common::polish::instant(*at)
    }

    fn day(&self, day: &chrono::NaiveDate) -> String {
        ebok_common::polish::day(*day)
    }

    fn reasons(&self) -> &'static [&'static str] {
        &problems::REASONS
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RejectionsQuery {
    dni: Option<u32>,
    powod: Option<String>,
}

/// `GET /panel/{slug}/odrzucone?dni=14&powod=…`: ingest's rejections by reason and day, and
/// the newest examples.
pub async fn rejections(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<RejectionsQuery>,
) -> Page {
    let session = ctx.staff(Permission::HandleIngestProblems)?.clone();
    let days = q.dni.unwrap_or(14).clamp(1, 90);
    let reason = q.powod.filter(|r| !r.is_empty());
    let counts = problems::rejections_by_day(&state.pool, session.utility_id, days).await?;
    let mut totals: Vec<(String, i64)> = Vec::new();
    let mut by_day: Vec<(chrono::NaiveDate, Vec<(String, i64)>)> = Vec::new();
    for c in counts {
        match totals.iter_mut().find(|(r, _)| *r == c.reason) {
            Some((_, n)) => *n += c.count,
            None => totals.push((c.reason.clone(), c.count)),
        }
        match by_day.last_mut() {
            Some((day, list)) if *day == c.day => list.push((c.reason, c.count)),
            _ => by_day.push((c.day, vec![(c.reason, c.count)])),
        }
    }
    totals.sort_by_key(|t| std::cmp::Reverse(t.1));
    let recent =
        problems::recent_rejections(&state.pool, session.utility_id, reason.as_deref(), 50).await?;
    Ok(RejectionsPage {
        layout: ctx.layout("odrzucone"),
        days,
        reason: reason.unwrap_or_default(),
        totals,
        by_day,
        recent,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/dead_letters.html")]
struct DeadLettersPage {
    layout: StaffLayout,
    csrf: String,
    letters: Vec<mobile_push::dispatcher::DeadLetter>,
    notice: Option<&'static str>,
    f: FormState,
}

impl DeadLettersPage {
    fn instant(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        ebok_common::polish::instant(*at)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DeadQuery {
    ponowiono: Option<String>,
}

/// `GET /panel/{slug}/niedostarczone`: the dispatcher's dead letters.
pub async fn dead_letters(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<DeadQuery>,
) -> Page {
    let session = ctx.staff(Permission::HandleIngestProblems)?.clone();
    let notice = q
        .ponowiono
        .is_some()
        .then_some("Wiadomość wróciła do kolejki; dyspozytor spróbuje ją wysłać od nowa.");
    dead_page(&state, &ctx, &session, FormState::default(), notice).await
}

async fn dead_page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    f: FormState,
    notice: Option<&'static str>,
) -> Page {
    let mut conn = state
        .pool
        .acquire()
        .await
        .map_err(crate::error::ApiError::from)?;
    let letters = mobile_push::dispatcher::dead_letters(&mut conn, session.utility_id, 200).await?;
    Ok((
        f.status(),
        DeadLettersPage {
            layout: ctx.layout("niedostarczone"),
            csrf: session.csrf.clone(),
            letters,
            notice,
            f,
        },
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RequeueFields {
    /// `delivery` or `event`.
    what: String,
    id: i64,
}

impl FormFields for RequeueFields {
    const PAGE: &'static str = "/panel/{slug}/niedostarczone";
}

/// `POST /panel/{slug}/niedostarczone/ponow`
pub async fn requeue(State(state): State<AppState>, post: StaffForm<RequeueFields>) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::HandleIngestProblems) {
        return Err(PageError::NotAllowed);
    }
    let by = session.by();
    match problems::requeue(&state.pool, by, &fields.what, fields.id).await {
        Ok(()) => Ok(ctx.redirect("niedostarczone?ponowiono=1")),
        Err(e) => {
            form.add_failure(e)?;
            dead_page(&state, &ctx, &session, form, None).await
        }
    }
}
