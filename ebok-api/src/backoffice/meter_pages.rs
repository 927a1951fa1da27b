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
use crate::staff::meters::{self, MeterCard, Replacement};
use crate::staff::sessions::StaffSession;
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "staff/meter.html")]
struct MeterPage {
    layout: StaffLayout,
    meter: MeterCard,
    /// The forms of a role that manages meters, for an installed meter.
    forms: Option<MeterForms>,
    /// Errors of a form the page no longer shows (the meter came off meanwhile).
    f: FormState,
    notice: Option<&'static str>,
}

/// The meter page's forms: replacement, removal and a reading, each with values and errors.
#[derive(Debug, Clone, Default)]
pub struct MeterForms {
    csrf: String,
    replace: FormState,
    remove: FormState,
    reading: FormState,
}

impl MeterForms {
    /// Each form with the day and time of now (Warsaw) filled in.
    fn now() -> MeterForms {
        let now = Utc::now().with_timezone(&ebok_common::domain::time::BILLING_TZ);
        let (day, time) = (
            local_day(Utc::now()).format("%Y-%m-%d").to_string(),
            now.format("%H:%M").to_string(),
        );
        MeterForms {
            csrf: String::new(),
            replace: FormState::default()
                .with("day", day.clone())
                .with("time", time.clone())
                .with("channel", "wmbus"),
            remove: FormState::default()
                .with("remove_day", day.clone())
                .with("remove_time", time.clone()),
            reading: FormState::default()
                .with("reading_day", day)
                .with("reading_time", time),
        }
    }

    fn status(&self) -> axum::http::StatusCode {
        [&self.replace, &self.remove, &self.reading]
            .iter()
            .map(|f| f.status())
            .max()
            .unwrap_or_default()
    }
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
    zapisano: Option<String>,
}

/// `GET /panel/{slug}/liczniki/{id}`
pub async fn meter(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
    PageQuery(q): PageQuery<MeterQuery>,
) -> Page {
    let session = ctx.staff(Permission::ViewCustomers)?.clone();
    let notice = match (q.wymieniono.is_some(), q.zapisano.as_deref()) {
        (true, _) => Some("Wodomierz wymieniony. To jest nowy wodomierz."),
        (_, Some("zdjety")) => Some("Wodomierz zdjęty."),
        (_, Some("odczyt")) => Some("Odczyt zapisany."),
        (_, Some("zamontowany")) => Some("Wodomierz zamontowany."),
        _ => None,
    };
    page(&state, &ctx, &session, id, MeterForms::now(), notice).await
}

async fn page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    id: i64,
    mut forms: MeterForms,
    notice: Option<&'static str>,
) -> Page {
    let meter = meters::card(&state.pool, session.utility_id, id)
        .await?
        .ok_or(PageError::NotFound)?;
    let status = forms.status();
    let installed = meter.supply_point_id.is_some() && meter.removed_at.is_none();
    // A form's errors stay visible even when the meter is no longer one the forms are for.
    let f = [&forms.replace, &forms.remove, &forms.reading]
        .into_iter()
        .find(|f| f.has_errors())
        .cloned()
        .unwrap_or_default();
    forms.csrf = session.csrf.clone();
    let forms = (session.may(Permission::ManageMeters) && installed).then_some(forms);
    Ok((
        status,
        MeterPage {
            layout: ctx.layout("klienci"),
            meter,
            forms,
            f,
            notice,
        },
    )
        .into_response())
}

/// The instant of a day and a time typed in Warsaw time; the error at `day_field` if either
/// is not a date or a time.
fn typed_instant(
    form: &mut FormState,
    day_field: &'static str,
    day: &str,
    time: &str,
) -> Option<chrono::DateTime<Utc>> {
    let day = NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d").ok();
    let time = NaiveTime::parse_from_str(time.trim(), "%H:%M").ok();
    let at = day.zip(time).and_then(|(d, t)| local_instant(d, t));
    if at.is_none() {
        form.add(day_field, "Podaj dzień i godzinę.");
    }
    at
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
    let at = typed_instant(&mut form, "day", &fields.day, &fields.time);
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
        let by = session.by();
        match meters::replace(&state.pool, by, &replacement).await {
            Ok(new_id) => return Ok(ctx.redirect(&format!("liczniki/{new_id}?wymieniono=1"))),
            Err(e) => form.add_failure(e)?,
        }
    }
    let forms = MeterForms {
        replace: form,
        ..MeterForms::now()
    };
    page(&state, &ctx, &session, id, forms, None).await
}

/// The removal form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RemovalFields {
    remove_day: String,
    remove_time: String,
    /// The final register, m³ as typed.
    remove_final: String,
}

impl FormFields for RemovalFields {
    const PAGE: &'static str = "/panel/{slug}/liczniki/{id}";
}

/// `POST /panel/{slug}/liczniki/{id}/zdjecie`: the meter comes off without a successor.
pub async fn remove(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<RemovalFields>,
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
    if let Some((at, litres)) = typed_register(
        &mut form,
        ("remove_day", &fields.remove_day, &fields.remove_time),
        ("remove_final", &fields.remove_final),
    ) {
        match meters::remove(&state.pool, session.by(), id, at, litres).await {
            Ok(()) => return Ok(ctx.redirect(&format!("liczniki/{id}?zapisano=zdjety"))),
            Err(e) => form.add_failure(renamed(e, "remove_"))?,
        }
    }
    let forms = MeterForms {
        remove: form,
        ..MeterForms::now()
    };
    page(&state, &ctx, &session, id, forms, None).await
}

/// The reading form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReadingFields {
    reading_day: String,
    reading_time: String,
    /// The register, m³ as typed.
    reading_m3: String,
}

impl FormFields for ReadingFields {
    const PAGE: &'static str = "/panel/{slug}/liczniki/{id}";
}

/// `POST /panel/{slug}/liczniki/{id}/odczyt`: a reading read from the dial by staff.
pub async fn enter_reading(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<ReadingFields>,
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
    if let Some((at, litres)) = typed_register(
        &mut form,
        ("reading_day", &fields.reading_day, &fields.reading_time),
        ("reading_m3", &fields.reading_m3),
    ) {
        match meters::enter_reading(&state.pool, session.by(), id, at, litres, None).await {
            Ok(()) => return Ok(ctx.redirect(&format!("liczniki/{id}?zapisano=odczyt"))),
            Err(e) => form.add_failure(renamed(e, "reading_"))?,
        }
    }
    let forms = MeterForms {
        reading: form,
        ..MeterForms::now()
    };
    page(&state, &ctx, &session, id, forms, None).await
}

/// A register read at an instant, as a form types them: the day and time (Warsaw), and m³.
/// Each that does not parse is an error at its field (`day_field`, `register_field`).
pub(super) fn typed_register(
    form: &mut FormState,
    (day_field, day, time): (&'static str, &str, &str),
    (register_field, register): (&'static str, &str),
) -> Option<(chrono::DateTime<Utc>, i64)> {
    let at = typed_instant(form, day_field, day, time);
    let litres = polish::parse_m3(register);
    if litres.is_none() {
        form.add(register_field, "Podaj stan w m³, np. 123,456.");
    }
    at.zip(litres)
}

/// An error at a field of the meters module (`at`, `final`, `litres`) named as the form's
/// field with `prefix` (`remove_day`, `remove_final`, `reading_m3`), so it shows at its field.
pub(super) fn renamed(error: crate::error::ApiError, prefix: &str) -> crate::error::ApiError {
    match error {
        crate::error::ApiError::Invalid { field, detail } => {
            let field = match field.as_str() {
                "at" => format!("{prefix}day"),
                "final" => format!("{prefix}final"),
                "litres" => format!("{prefix}m3"),
                _ => field,
            };
            crate::error::ApiError::Invalid { field, detail }
        }
        other => other,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/meter_install.html")]
struct InstallPage {
    layout: StaffLayout,
    csrf: String,
    f: FormState,
}

#[derive(Debug, Default, Deserialize)]
pub struct InstallQuery {
    punkt: Option<String>,
}

/// `GET /panel/{slug}/liczniki/nowy?punkt=…`: installing a meter at a supply point.
pub async fn install_form(ctx: StaffCtx, PageQuery(q): PageQuery<InstallQuery>) -> Page {
    let session = ctx.staff(Permission::ManageMeters)?.clone();
    let now = MeterForms::now().replace;
    let f = now
        .with("supply_point", q.punkt.unwrap_or_default())
        .with("purpose", "main")
        .with("register_max", "99 999,999");
    Ok(InstallPage {
        layout: ctx.layout("klienci"),
        csrf: session.csrf,
        f,
    }
    .into_response())
}

/// The installation form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct InstallFields {
    supply_point: String,
    purpose: String,
    serial: String,
    channel: String,
    radio_id: String,
    register_max: String,
    legalised_until: String,
    day: String,
    time: String,
    initial: String,
}

impl FormFields for InstallFields {
    const PAGE: &'static str = "/panel/{slug}/liczniki/nowy";
}

/// `POST /panel/{slug}/liczniki/nowy`
pub async fn install(State(state): State<AppState>, post: StaffForm<InstallFields>) -> Page {
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
    let at = typed_instant(&mut form, "day", &fields.day, &fields.time);
    let initial = polish::parse_m3(&fields.initial);
    if initial.is_none() {
        form.add("initial", "Podaj stan w m³, np. 0,012.");
    }
    let register_max = polish::parse_m3(&fields.register_max);
    if register_max.is_none() {
        form.add(
            "register_max",
            "Podaj pojemność liczydła w m³, np. 99 999,999.",
        );
    }
    let legalised_until = match fields.legalised_until.trim() {
        "" => None,
        text => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| form.add("legalised_until", "Podaj datę, np. 2031-12-31."))
            .ok(),
    };
    if let (Some(at), Some(initial), Some(register_max), false) =
        (at, initial, register_max, form.has_errors())
    {
        let radio = fields.radio_id.trim().to_ascii_lowercase();
        let installation = meters::Installation {
            supply_point: fields.supply_point,
            serial: fields.serial,
            radio_id: (!radio.is_empty()).then_some(radio),
            channel: fields.channel,
            purpose: fields.purpose,
            register_max_litres: register_max,
            legalised_until,
            at,
            initial_litres: initial,
        };
        match meters::install(&state.pool, session.by(), &installation).await {
            Ok(id) => return Ok(ctx.redirect(&format!("liczniki/{id}?zapisano=zamontowany"))),
            Err(e) => form.add_failure(e)?,
        }
    }
    Ok((
        form.status(),
        InstallPage {
            layout: ctx.layout("klienci"),
            csrf: session.csrf,
            f: form,
        },
    )
        .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/legalisation.html")]
struct LegalisationPage {
    layout: StaffLayout,
    months: u32,
    meters: Vec<meters::DueMeter>,
}

impl LegalisationPage {
    fn day(&self, day: &NaiveDate) -> String {
        polish::day(*day)
    }

    fn expired(&self, day: &NaiveDate) -> bool {
        *day < local_day(Utc::now())
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct LegalisationQuery {
    miesiace: Option<u32>,
}

/// The longest list a page shows.
const DUE_LIMIT: i64 = 1_000;

/// `GET /panel/{slug}/liczniki/legalizacja?miesiace=N`: meters whose legalisation ends within
/// N months (3 by default, at most 36), the ended ones first.
pub async fn legalisation(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<LegalisationQuery>,
) -> Page {
    let session = ctx.staff(Permission::ManageMeters)?.clone();
    let months = q.miesiace.unwrap_or(3).clamp(1, 36);
    let meters =
        meters::due_for_legalisation(&state.pool, session.utility_id, months, DUE_LIMIT).await?;
    Ok(LegalisationPage {
        layout: ctx.layout("legalizacja"),
        months,
        meters,
    }
    .into_response())
}
