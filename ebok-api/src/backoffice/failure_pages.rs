//! `/panel/{slug}/awarie`: residents' failure reports for staff (`HandleFailureReports`). The
//! counter sees every report, nearest first from a point it gives (no map tiles from the
//! internet: a list by distance), verifies one, sends a technician's crew, rejects it with a
//! reason or marks it fixed, and makes an outage notice of a confirmed failure (the notice
//! form, filled from the report). A technician sees only the jobs sent to them, marks them
//! fixed (or not a failure, with a reason) and adds photos from the spot. Every step reaches
//! everybody who reported it.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use ebok_common::polish;
use ebok_outages::reports::State as ReportState;
use ebok_outages::reports::store::Acting;
use ebok_outages::reports::views::{self, Filter};
use serde::Deserialize;

use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::outages::{self, StaffStep, coordinate, photo_response};
use crate::portal::failure_pages::{ReportLine, line};
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::{Checkbox, FormState};
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::{Id, PagePath, PageQuery};
use crate::staff::Permission;
use crate::staff::sessions::StaffSession;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    lat: String,
    lon: String,
    /// Closed reports too.
    wszystkie: Checkbox,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/failures.html")]
struct ListPage {
    layout: StaffLayout,
    crew: bool,
    reports: Vec<ReportLine>,
    from: Option<String>,
    f: FormState,
}

/// `GET /panel/{slug}/awarie`: open reports (or all), nearest first from a point if given.
pub async fn list(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<ListQuery>,
) -> Page {
    let session = ctx.staff(Permission::HandleFailureReports)?.clone();
    let mut f = FormState::default()
        .with("lat", q.lat.clone())
        .with("lon", q.lon.clone())
        .with("wszystkie", if q.wszystkie.0 { "on" } else { "" });
    let from = match (q.lat.trim(), q.lon.trim()) {
        ("", "") => None,
        (lat, lon) => match (coordinate(lat), coordinate(lon)) {
            (Some(lat), Some(lon))
                if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) =>
            {
                Some((lat, lon))
            }
            _ => {
                f.add("lat", "Podaj punkt jako dwie liczby, np. 54,194 i 19,675.");
                None
            }
        },
    };
    let crew = outages::acting(session.role) == Acting::Crew;
    let mut conn = state.pool.acquire().await?;
    let reports = views::list(
        &mut conn,
        session.utility_id,
        &Filter {
            open_only: !q.wszystkie.0,
            assigned_to: crew.then_some(session.account_id),
            from,
            limit: 200,
            ..Filter::default()
        },
    )
    .await?
    .iter()
    .map(line)
    .collect();
    Ok((
        f.status(),
        ListPage {
            layout: ctx.layout("awarie"),
            crew,
            reports,
            from: from.map(|(lat, lon)| format!("{lat:.5}, {lon:.5}")),
            f,
        },
    )
        .into_response())
}

struct StepRow {
    when: String,
    what: String,
    staff: Option<String>,
    note: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/failure.html")]
struct ReportPage {
    layout: StaffLayout,
    csrf: String,
    crew: bool,
    r: ReportLine,
    description: String,
    point: Option<String>,
    state: &'static str,
    assigned_to_id: Option<i64>,
    rejection_reason: Option<String>,
    outage_id: Option<i64>,
    may_announce: bool,
    technicians: Vec<(i64, String)>,
    steps: Vec<StepRow>,
    photos: Vec<(i64, bool)>,
    notice: Option<&'static str>,
    f: FormState,
}

impl ReportPage {
    fn assigned(&self, technician: &i64) -> bool {
        self.assigned_to_id == Some(*technician)
    }

    fn open(&self) -> bool {
        ReportState::parse(self.state).is_some_and(ReportState::is_open)
    }
}

async fn report_page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    id: i64,
    notice: Option<&'static str>,
    f: FormState,
) -> Page {
    let mut conn = state.pool.acquire().await?;
    let d = views::detail(&mut conn, session.utility_id, id)
        .await?
        .ok_or(PageError::NotFound)?;
    let crew = outages::acting(session.role) == Acting::Crew;
    if crew && d.assigned_to_id != Some(session.account_id) {
        return Err(PageError::NotFound);
    }
    let technicians = if crew {
        Vec::new()
    } else {
        views::technicians(&mut conn, session.utility_id).await?
    };
    drop(conn);
    let s = &d.summary;
    Ok((
        f.status(),
        ReportPage {
            layout: ctx.layout("awarie"),
            csrf: session.csrf.clone(),
            crew,
            r: line(s),
            description: s.description.clone(),
            point: s
                .place
                .point
                .map(|(lat, lon)| format!("{lat:.5}, {lon:.5}")),
            state: s.state.as_str(),
            assigned_to_id: d.assigned_to_id,
            rejection_reason: d.rejection_reason.clone(),
            outage_id: s.outage_id,
            may_announce: !crew
                && session.may(Permission::PublishOutages)
                && s.outage_id.is_none()
                && matches!(s.state, ReportState::Verified | ReportState::Dispatched),
            technicians,
            steps: d
                .history
                .iter()
                .map(|h| StepRow {
                    when: polish::instant(h.at),
                    what: crate::portal::failure_pages::step_words(&h.action, h.to.polish()),
                    staff: h.staff.clone(),
                    note: h.note.clone(),
                })
                .collect(),
            photos: d.photos.iter().map(|p| (p.id, p.by_staff)).collect(),
            notice,
            f,
        },
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReportQuery {
    zapisano: Option<String>,
}

/// `GET /panel/{slug}/awarie/{id}`
pub async fn report(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
    PageQuery(q): PageQuery<ReportQuery>,
) -> Page {
    let session = ctx.staff(Permission::HandleFailureReports)?.clone();
    let notice = q
        .zapisano
        .map(|_| "Zapisano. Zgłaszający dostaną wiadomość o zmianie.");
    report_page(&state, &ctx, &session, id, notice, FormState::default()).await
}

/// A step's form: which step, and the reason (a rejection) or the technician (a dispatch),
/// named as the store names them in its refusals.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StepFields {
    step: String,
    reason: String,
    technician: String,
}

impl FormFields for StepFields {
    const PAGE: &'static str = "/panel/{slug}/awarie/{id}";
}

/// `POST /panel/{slug}/awarie/{id}/krok`: verify, dispatch, reject or fix.
pub async fn step(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<StepFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    ctx.staff(Permission::HandleFailureReports)?;
    let by = outages::acting(session.role);
    let step = match (fields.step.as_str(), by) {
        ("verify", Acting::Office) => Some(StaffStep::Verify),
        ("dispatch", Acting::Office) => match fields.technician.parse() {
            Ok(technician) => Some(StaffStep::Dispatch { technician }),
            Err(_) => {
                form.add("technician", "Wybierz technika z listy.");
                None
            }
        },
        ("reject", _) => Some(StaffStep::Reject {
            reason: fields.reason.clone(),
        }),
        ("fix", _) => Some(StaffStep::Fix),
        _ => return Err(PageError::NotAllowed),
    };
    if let Some(step) = step {
        match outages::take(
            &state,
            outages::staff(session.utility_id, session.account_id),
            id,
            step,
            by,
        )
        .await
        {
            Ok(()) => return Ok(ctx.redirect(&format!("awarie/{id}?zapisano=1"))),
            Err(e) => form.add_failure(e)?,
        }
    }
    report_page(&state, &ctx, &session, id, None, form).await
}

#[derive(Debug, Default, Deserialize)]
pub struct PhotoFields {}

impl FormFields for PhotoFields {
    const PAGE: &'static str = "/panel/{slug}/awarie/{id}";
}

/// `POST /panel/{slug}/awarie/{id}/zdjecie`: a photo from the spot.
pub async fn add_photo(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<PhotoFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        mut form,
        mut uploads,
        ..
    } = post;
    ctx.staff(Permission::HandleFailureReports)?;
    let bytes = match uploads.take("photo") {
        Ok(Some(upload)) if !upload.bytes.is_empty() => Some(upload.bytes),
        Ok(_) => {
            form.add("photo", "Wybierz zdjęcie.");
            None
        }
        Err(_) => {
            form.add(
                "photo",
                "Nie udało się odebrać zdjęcia — może jest za duże (najwyżej 8 MB).",
            );
            None
        }
    };
    if let Some(bytes) = bytes {
        let result = match outages::clean_photos(&[bytes]) {
            Ok(photos) => {
                outages::add_photo(
                    &state,
                    outages::staff(session.utility_id, session.account_id),
                    id,
                    &photos[0],
                    outages::acting(session.role),
                )
                .await
            }
            Err(refused) => Err(refused),
        };
        match result {
            Ok(_) => return Ok(ctx.redirect(&format!("awarie/{id}?zapisano=1"))),
            Err(e) => {
                // Every refusal of a photo (its type, its size, too many) is about the one field.
                let mut refusal = FormState::default();
                refusal.add_failure(e)?;
                for (_, message) in refusal.errors {
                    form.add("photo", message);
                }
            }
        }
    }
    report_page(&state, &ctx, &session, id, None, form).await
}

#[derive(Debug, Deserialize)]
pub struct PhotoPath {
    id: i64,
    photo: i64,
}

/// `GET /panel/{slug}/awarie/{id}/zdjecia/{photo}`
pub async fn photo(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(p): PagePath<PhotoPath>,
) -> Page {
    let session = ctx.staff(Permission::HandleFailureReports)?.clone();
    let mut conn = state.pool.acquire().await?;
    if outages::acting(session.role) == Acting::Crew {
        let d = views::detail(&mut conn, session.utility_id, p.id)
            .await?
            .ok_or(PageError::NotFound)?;
        if d.assigned_to_id != Some(session.account_id) {
            return Err(PageError::NotFound);
        }
    }
    let (content_type, bytes) = views::photo(&mut conn, session.utility_id, p.id, p.photo, None)
        .await?
        .ok_or(PageError::NotFound)?;
    Ok(photo_response(content_type, bytes))
}
