//! `/panel/{slug}/komunikaty`: outage and planned-works notices for staff (`PublishOutages`):
//! the notices, one form to announce a notice (kind, title, description, start, expected end,
//! and the area: streets with house numbers typed one per line, whole localities, network
//! zones), the same form to publish a change, and the end ("supply restored"). Each goes to
//! the residents of the area at once. `/panel/{slug}/strefy`: the network zones, and which
//! supply points lie in each.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDateTime, Utc};
use ebok_common::domain::time::local_instant;
use ebok_common::polish;
use ebok_outages::area::{self, Area};
use ebok_outages::reports::{self, ReportError};
use ebok_outages::store::{self, Draft, Kind, OutageError, Staff, Zone};
use ebok_outages::views;
use serde::Deserialize;

use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::FormState;
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::{Id, PagePath, PageQuery};
use crate::staff::Permission;
use crate::staff::sessions::StaffSession;
use crate::state::AppState;

fn staff(session: &StaffSession) -> Staff {
    Staff {
        utility_id: session.utility_id,
        account_id: session.account_id,
        now: Utc::now(),
    }
}

/// "2026-12-06T10:30", Warsaw time, as a `datetime-local` field shows it.
fn local_field(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::Europe::Warsaw)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

fn parse_local(typed: &str) -> Option<DateTime<Utc>> {
    let t = NaiveDateTime::parse_from_str(typed.trim(), "%Y-%m-%dT%H:%M").ok()?;
    local_instant(t.date(), t.time())
}

struct NoticeRow {
    id: i64,
    kind: &'static str,
    title: String,
    area: String,
    when: String,
    state: &'static str,
    recipients: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/outages.html")]
struct ListPage {
    layout: StaffLayout,
    notices: Vec<NoticeRow>,
}

/// `GET /panel/{slug}/komunikaty`
pub async fn list(State(state): State<AppState>, ctx: StaffCtx) -> Page {
    let session = ctx.staff(Permission::PublishOutages)?.clone();
    let now = Utc::now();
    let mut conn = state.pool.acquire().await?;
    let notices = views::all(&mut conn, session.utility_id, 200)
        .await?
        .into_iter()
        .map(|n| NoticeRow {
            id: n.id,
            kind: n.kind.polish(),
            state: if n.ended_at.is_some() {
                "zakończony"
            } else if n.planned(now) {
                "planowany"
            } else {
                "trwa"
            },
            when: polish::instant(n.starts_at),
            title: n.title,
            area: n.area_words,
            recipients: n.recipients,
        })
        .collect();
    Ok(ListPage {
        layout: ctx.layout("komunikaty"),
        notices,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/outage_form.html")]
struct FormPage {
    layout: StaffLayout,
    csrf: String,
    /// `None`: a new notice.
    id: Option<i64>,
    ended: Option<String>,
    recipients: Option<i64>,
    kinds: Vec<(&'static str, &'static str)>,
    zones: Vec<(i64, String)>,
    notice: Option<String>,
    f: FormState,
}

impl FormPage {
    fn zone_checked(&self, id: &i64) -> bool {
        self.f.checked(&format!("strefa_{id}"))
    }
}

#[allow(clippy::too_many_arguments)]
async fn form_page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    id: Option<i64>,
    ended: Option<String>,
    recipients: Option<i64>,
    notice: Option<String>,
    f: FormState,
) -> Page {
    let mut conn = state.pool.acquire().await?;
    let zones = store::zones(&mut conn, session.utility_id)
        .await?
        .into_iter()
        .map(|z| (z.id, z.name))
        .collect();
    Ok((
        f.status(),
        FormPage {
            layout: ctx.layout("komunikaty"),
            csrf: session.csrf.clone(),
            id,
            ended,
            recipients,
            kinds: Kind::ALL.iter().map(|k| (k.as_str(), k.polish())).collect(),
            zones,
            notice,
            f,
        },
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewQuery {
    /// The failure report the notice is about: the form starts from it.
    zgloszenie: Option<i64>,
}

/// `GET /panel/{slug}/komunikaty/nowy`, or `?zgloszenie={id}`: a notice about a confirmed
/// failure report, filled from it.
pub async fn new_form(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<NewQuery>,
) -> Page {
    let session = ctx.staff(Permission::PublishOutages)?.clone();
    let now = Utc::now();
    let mut f = FormState::default()
        .with("rodzaj", "failure")
        .with("od", local_field(now));
    if let Some(id) = q.zgloszenie {
        may_announce_reports(&ctx)?;
        let mut conn = state.pool.acquire().await?;
        let report = reports::views::detail(&mut conn, session.utility_id, id)
            .await?
            .ok_or(PageError::NotFound)?;
        let s = &report.summary;
        let draft = reports::store::draft_for(s.category, &s.place, now);
        f = f
            .with("rodzaj", draft.kind.as_str())
            .with("tytul", draft.title)
            .with("zgloszenie", id.to_string());
    }
    form_page(&state, &ctx, &session, None, None, None, None, f).await
}

/// The notice form's fields; the zones are tick boxes `strefa_<id>`, read from the values.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoticeFields {
    rodzaj: String,
    tytul: String,
    opis: String,
    od: String,
    #[serde(rename = "do")]
    until: String,
    ulice: String,
    miejscowosci: String,
    /// The failure report the notice is made of, if any.
    zgloszenie: String,
}

impl FormFields for NoticeFields {
    const PAGE: &'static str = "/panel/{slug}/komunikaty";
}

/// The notice the form describes, or the form with its errors at their fields.
fn read_draft(fields: &NoticeFields, form: &mut FormState) -> Option<Draft> {
    let kind = Kind::parse(&fields.rodzaj);
    if kind.is_none() {
        form.add("rodzaj", "Wybierz rodzaj komunikatu.");
    }
    let starts_at = parse_local(&fields.od);
    if starts_at.is_none() {
        form.add("od", "Podaj datę i godzinę początku.");
    }
    let expected_end = if fields.until.trim().is_empty() {
        None
    } else {
        let end = parse_local(&fields.until);
        if end.is_none() {
            form.add("do", "Podaj datę i godzinę albo zostaw puste.");
        }
        end
    };
    let mut streets = Vec::new();
    for line in fields.ulice.lines().filter(|l| !l.trim().is_empty()) {
        match area::parse_street_line(line) {
            Ok(s) => streets.push(s),
            Err(message) => form.add("ulice", message),
        }
    }
    let localities = fields
        .miejscowosci
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let zones: Vec<i64> = form
        .values_under("strefa_")
        .filter(|(_, v)| matches!(*v, "on" | "true" | "1"))
        .filter_map(|(id, _)| id.parse().ok())
        .collect();
    if form.has_errors() {
        return None;
    }
    Some(Draft {
        kind: kind?,
        title: fields.tytul.clone(),
        description: Some(fields.opis.clone()),
        starts_at: starts_at?,
        expected_end,
        area: Area {
            streets,
            localities,
            zones,
        },
    })
}

/// The store's refusal at the form's fields.
fn add_refusal(
    form: &mut FormState,
    error: OutageError,
) -> Result<(), crate::portal::page_error::PageError> {
    match error {
        OutageError::Invalid(problems) => {
            for (field, message) in problems {
                let name = match field {
                    "title" => "tytul",
                    "expected_end" => "do",
                    "area" => "ulice",
                    "zones" => "form",
                    other => other,
                };
                form.add(name, message);
            }
            Ok(())
        }
        other => form.add_failure(other),
    }
}

/// A notice made of a failure report is the counter's: it reads any report of the utility,
/// which a field crew (also allowed to publish notices) may not.
fn may_announce_reports(ctx: &StaffCtx) -> Result<(), PageError> {
    let session = ctx.staff(Permission::HandleFailureReports)?;
    if crate::outages::acting(session.role) == reports::store::Acting::Crew {
        return Err(PageError::NotAllowed);
    }
    Ok(())
}

/// `POST /panel/{slug}/komunikaty/nowy`: announces the notice.
pub async fn create(State(state): State<AppState>, post: StaffForm<NoticeFields>) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    ctx.staff(Permission::PublishOutages)?;
    let report: Option<i64> = fields.zgloszenie.trim().parse().ok();
    if report.is_some() {
        may_announce_reports(&ctx)?;
    }
    if let Some(draft) = read_draft(&fields, &mut form) {
        let mut tx = state.pool.begin().await?;
        let announced = match report {
            // One step from a confirmed failure to the notice: linked to the report.
            Some(id) => match reports::store::announce_outage(&mut tx, staff(&session), id, &draft)
                .await
            {
                Ok(announced) => Ok(announced),
                Err(ReportError::Outage(e)) => Err(e),
                Err(other) => {
                    form.add_failure(other)?;
                    return form_page(&state, &ctx, &session, None, None, None, None, form).await;
                }
            },
            None => store::announce(&mut tx, staff(&session), &draft).await,
        };
        match announced {
            Ok(announced) => {
                tx.commit().await?;
                return Ok(ctx.redirect(&format!(
                    "komunikaty/{}?opublikowano={}",
                    announced.id, announced.recipients
                )));
            }
            Err(e) => add_refusal(&mut form, e)?,
        }
    }
    form_page(&state, &ctx, &session, None, None, None, None, form).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoticeQuery {
    opublikowano: Option<i64>,
    zmieniono: Option<String>,
    zakonczono: Option<String>,
}

/// `GET /panel/{slug}/komunikaty/{id}`: the notice, to change or end.
pub async fn notice(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
    PageQuery(q): PageQuery<NoticeQuery>,
) -> Page {
    let session = ctx.staff(Permission::PublishOutages)?.clone();
    let mut conn = state.pool.acquire().await?;
    let n = views::one(&mut conn, session.utility_id, id).await?;
    drop(conn);
    let mut f = FormState::default()
        .with("rodzaj", n.kind.as_str())
        .with("tytul", n.title.clone())
        .with("opis", n.description.clone().unwrap_or_default())
        .with("od", local_field(n.starts_at))
        .with("do", n.expected_end.map(local_field).unwrap_or_default())
        .with(
            "ulice",
            n.area
                .streets
                .iter()
                .map(area::street_line)
                .collect::<Vec<_>>()
                .join("\n"),
        )
        .with("miejscowosci", n.area.localities.join("\n"));
    for zone in &n.area.zones {
        f = f.with(&format!("strefa_{zone}"), "on");
    }
    let notice = if let Some(count) = q.opublikowano {
        Some(format!(
            "Opublikowano. Komunikat dotyczy {count} {} w obszarze; dostaną go ci, którzy zgodzili się na powiadomienia.",
            polish::plural(count, "konta", "kont", "kont")
        ))
    } else if q.zmieniono.is_some() {
        Some("Zmiana opublikowana i wysłana tym samym osobom.".to_string())
    } else {
        q.zakonczono.map(|_| {
            "Zakończono. Mieszkańcy obszaru dostaną wiadomość, że komunikat przestał obowiązywać."
                .into()
        })
    };
    let ended = n.ended_at.map(polish::instant);
    form_page(
        &state,
        &ctx,
        &session,
        Some(id),
        ended,
        Some(n.recipients),
        notice,
        f,
    )
    .await
}

/// `POST /panel/{slug}/komunikaty/{id}`: publishes a change.
pub async fn update(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<NoticeFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    ctx.staff(Permission::PublishOutages)?;
    if let Some(draft) = read_draft(&fields, &mut form) {
        let mut tx = state.pool.begin().await?;
        match store::update(&mut tx, staff(&session), id, &draft).await {
            Ok(_) => {
                tx.commit().await?;
                return Ok(ctx.redirect(&format!("komunikaty/{id}?zmieniono=1")));
            }
            Err(e) => add_refusal(&mut form, e)?,
        }
    }
    form_page(&state, &ctx, &session, Some(id), None, None, None, form).await
}

/// The end button: only the CSRF token.
#[derive(Debug, Default, Deserialize)]
pub struct EndFields {}

impl FormFields for EndFields {
    const PAGE: &'static str = "/panel/{slug}/komunikaty/{id}";
}

/// `POST /panel/{slug}/komunikaty/{id}/zakoncz`: supply restored.
pub async fn end(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<EndFields>,
) -> Page {
    let PortalForm { ctx, session, .. } = post;
    ctx.staff(Permission::PublishOutages)?;
    let mut tx = state.pool.begin().await?;
    store::end(&mut tx, staff(&session), id).await?;
    tx.commit().await?;
    Ok(ctx.redirect(&format!("komunikaty/{id}?zakonczono=1")))
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/zones.html")]
struct ZonesPage {
    layout: StaffLayout,
    csrf: String,
    zones: Vec<Zone>,
    notice: Option<String>,
    f: FormState,
}

async fn zones_page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    notice: Option<String>,
    f: FormState,
) -> Page {
    let mut conn = state.pool.acquire().await?;
    let zones = store::zones(&mut conn, session.utility_id).await?;
    Ok((
        f.status(),
        ZonesPage {
            layout: ctx.layout("komunikaty"),
            csrf: session.csrf.clone(),
            zones,
            notice,
            f,
        },
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ZonesQuery {
    przypisano: Option<u64>,
    dodano: Option<String>,
}

/// `GET /panel/{slug}/strefy`
pub async fn zones(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<ZonesQuery>,
) -> Page {
    let session = ctx.staff(Permission::PublishOutages)?.clone();
    let notice = match (q.przypisano, q.dodano) {
        (Some(n), _) => Some(format!("Przypisano punktów: {n}.")),
        (None, Some(_)) => Some("Dodano strefę.".to_string()),
        _ => None,
    };
    zones_page(&state, &ctx, &session, notice, FormState::default()).await
}

/// A new zone.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ZoneFields {
    kod: String,
    nazwa: String,
    nadrzedna: String,
}

impl FormFields for ZoneFields {
    const PAGE: &'static str = "/panel/{slug}/strefy";
}

/// `POST /panel/{slug}/strefy`
pub async fn create_zone(State(state): State<AppState>, post: StaffForm<ZoneFields>) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    ctx.staff(Permission::PublishOutages)?;
    let parent = fields.nadrzedna.parse().ok();
    let mut tx = state.pool.begin().await?;
    match store::create_zone(&mut tx, staff(&session), &fields.kod, &fields.nazwa, parent).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(ctx.redirect("strefy?dodano=1"))
        }
        Err(OutageError::Invalid(problems)) => {
            for (field, message) in problems {
                form.add(
                    match field {
                        "code" => "kod",
                        "name" => "nazwa",
                        _ => "nadrzedna",
                    },
                    message,
                );
            }
            zones_page(&state, &ctx, &session, None, form).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Supply points to put into a zone: a locality, and a street if only one.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AssignFields {
    miejscowosc: String,
    ulica: String,
}

impl FormFields for AssignFields {
    const PAGE: &'static str = "/panel/{slug}/strefy";
}

/// `POST /panel/{slug}/strefy/{id}/punkty`
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
    ctx.staff(Permission::PublishOutages)?;
    let street = Some(fields.ulica.as_str()).filter(|s| !s.trim().is_empty());
    let mut tx = state.pool.begin().await?;
    match store::assign_points(&mut tx, staff(&session), id, &fields.miejscowosc, street).await {
        Ok(n) => {
            tx.commit().await?;
            Ok(ctx.redirect(&format!("strefy?przypisano={n}")))
        }
        Err(OutageError::Invalid(problems)) => {
            for (_, message) in problems {
                form.add(format!("miejscowosc-{id}"), message);
            }
            zones_page(&state, &ctx, &session, None, form).await
        }
        Err(e) => Err(e.into()),
    }
}
