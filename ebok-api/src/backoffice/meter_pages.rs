//! A meter in the back office: where it stands, the chain of meters at its position, its
//! newest readings, and, for a role that manages meters, the replacement form (the old meter's
//! final register and the new one's initial register at one instant).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use chrono::{NaiveDate, NaiveTime, Utc};
use ebok_common::domain::time::{local_day, local_instant};
use ebok_common::polish;
use serde::Deserialize;

use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::FormState;
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::{Id, PagePath, PageQuery};
use crate::staff::Permission;
use crate::staff::meters::{self, ByStaff, MeterCard, Replacement};
use crate::staff::sessions::StaffSession;
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "staff/meter.html")]
struct MeterPage {
    layout: StaffLayout,
    meter: MeterCard,
    /// The session's CSRF token when the role may replace the meter and it is installed (the
    /// replacement form is shown).
    replace: Option<String>,
    /// The replacement form's values and errors (shown above the facts when the form is not).
    f: FormState,
    notice: Option<&'static str>,
}

impl MeterPage {
    fn day(&self, day: &NaiveDate) -> String {
        polish::day(*day)
    }

    fn instant(&self, at: &chrono::DateTime<Utc>) -> String {
        polish::instant(*at)
    }

    fn volume(&self, litres: &i64) -> String {
        polish::volume(*litres)
    }

    fn source(&self, source: &str) -> &'static str {
        match source {
            "radio" => "radio",
            "modbus" => "Modbus",
            "manual" => "wpisany",
            "estimate" => "szacunek",
            _ => "",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct MeterQuery {
    wymieniono: Option<String>,
}

/// `GET /panel/{slug}/liczniki/{id}`
pub async fn meter(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
    PageQuery(q): PageQuery<MeterQuery>,
) -> Page {
    let session = ctx.staff(Permission::ViewCustomers)?.clone();
    let now = Utc::now().with_timezone(&polish_tz());
    let form = FormState::default()
        .with("day", local_day(Utc::now()).format("%Y-%m-%d").to_string())
        .with("time", now.format("%H:%M").to_string())
        .with("channel", "wmbus");
    let notice = q
        .wymieniono
        .is_some()
        .then_some("Wodomierz wymieniony. To jest nowy wodomierz.");
    page(&state, &ctx, &session, id, form, notice).await
}

fn polish_tz() -> chrono_tz::Tz {
    ebok_common::domain::time::BILLING_TZ
}

async fn page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    id: i64,
    form: FormState,
    notice: Option<&'static str>,
) -> Page {
    let meter = meters::card(&state.pool, session.utility_id, id)
        .await?
        .ok_or(PageError::NotFound)?;
    let replaceable = meter.supply_point_id.is_some() && meter.removed_at.is_none();
    let replace =
        (session.may(Permission::ManageMeters) && replaceable).then(|| session.csrf.clone());
    Ok((
        form.status(),
        MeterPage {
            layout: ctx.layout("klienci"),
            meter,
            replace,
            f: form,
            notice,
        },
    )
        .into_response())
}

/// The replacement form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReplacementFields {
    /// Day and time of the swap, Warsaw time (`<input type="date">`, `<input type="time">`).
    day: String,
    time: String,
    /// The old meter's final register, m³ as typed.
    #[serde(rename = "final")]
    final_m3: String,
    serial: String,
    radio_id: String,
    channel: String,
    legalised_until: String,
    /// The new meter's initial register, m³ as typed.
    initial: String,
}

impl FormFields for ReplacementFields {
    const PAGE: &'static str = "/panel/{slug}/liczniki/{id}";
}

/// `POST /panel/{slug}/liczniki/{id}/wymiana`
pub async fn replace(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<ReplacementFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::ManageMeters) {
        return Err(PageError::NotAllowed);
    }
    let day = NaiveDate::parse_from_str(fields.day.trim(), "%Y-%m-%d").ok();
    let time = NaiveTime::parse_from_str(fields.time.trim(), "%H:%M").ok();
    let at = day.zip(time).and_then(|(d, t)| local_instant(d, t));
    if at.is_none() {
        form.add("day", "Podaj dzień i godzinę wymiany.");
    }
    let final_litres = polish::parse_m3(&fields.final_m3);
    if final_litres.is_none() {
        form.add("final", "Podaj stan w m³, np. 123,456.");
    }
    let initial_litres = polish::parse_m3(&fields.initial);
    if initial_litres.is_none() {
        form.add("initial", "Podaj stan w m³, np. 0,012.");
    }
    let legalised_until = match fields.legalised_until.trim() {
        "" => None,
        text => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(day) => Some(day),
            Err(_) => {
                form.add("legalised_until", "Podaj datę, np. 2031-12-31.");
                None
            }
        },
    };
    let radio = fields.radio_id.trim().to_ascii_lowercase();
    if let (Some(at), Some(final_litres), Some(initial_litres), false) =
        (at, final_litres, initial_litres, form.has_errors())
    {
        let replacement = Replacement {
            old_meter_id: id,
            at,
            final_litres,
            serial: fields.serial.clone(),
            radio_id: (!radio.is_empty()).then_some(radio),
            channel: fields.channel.clone(),
            legalised_until,
            initial_litres,
        };
        let by = ByStaff {
            utility_id: session.utility_id,
            account_id: session.account_id,
        };
        match meters::replace(&state.pool, by, &replacement).await {
            Ok(new_id) => return Ok(ctx.redirect(&format!("liczniki/{new_id}?wymieniono=1"))),
            Err(e) => form.add_failure(e)?,
        }
    }
    page(&state, &ctx, &session, id, form, None).await
}
