//! `/u/{slug}/awarie`: failure reports in the portal (seed 004 "zgłaszanie awarii"). Anybody
//! may report — a resident in their session, anybody else with an e-mail address to be told
//! at. The form takes what happened, a description, an address or the phone's position (the
//! "use my location" button of `/static/location.js` fills the coordinates; without script
//! they are typed), and up to five photos. Before filing, open reports of the same kind nearby
//! are offered: "this is already reported" joins the reporter to one instead. A resident sees
//! their reports, each with its steps and photos.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use ebok_common::polish;
use ebok_outages::photos::MAX_PHOTOS;
use ebok_outages::reports::views::{self, Detail, Filter, Summary};
use ebok_outages::reports::{Category, NewReport, Place, Reporter, problems_of};
use serde::Deserialize;

use super::form::{FormFields, MaybeResident, PortalForm};
use super::form_state::{Checkbox, FormState};
use super::page_error::{Page, PageError};
use super::params::{Id, PagePath};
use super::shell::{Ctx, Layout};
use crate::client::ClientAddr;
use crate::outages::{self, coordinate, photo_response};
use crate::state::AppState;

/// A report's form carries up to five photos of 8 MB each.
pub const REPORT_FORM_LIMIT: usize = MAX_PHOTOS * ebok_outages::photos::MAX_BYTES + 1024 * 1024;

pub(crate) struct ReportLine {
    pub id: i64,
    pub category: &'static str,
    pub state: &'static str,
    pub place: String,
    pub when: String,
    /// "120 m stąd", when the list was asked about a point.
    pub distance: Option<String>,
    pub reporters: i64,
    /// The technician sent, by name (staff pages).
    pub crew: Option<String>,
}

/// "85 m", "1,2 km".
pub(crate) fn distance_words(metres: f64) -> String {
    if metres < 1000.0 {
        format!("{} m", metres.round() as i64)
    } else {
        format!("{:.1} km", metres / 1000.0).replace('.', ",")
    }
}

pub(crate) fn line(s: &Summary) -> ReportLine {
    ReportLine {
        id: s.id,
        category: s.category.polish(),
        state: s.state.polish(),
        place: s.place.words(),
        when: polish::instant(s.created_at),
        distance: s.distance_m.map(distance_words),
        reporters: s.reporters,
        crew: s.assigned_to.clone(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "failures.html")]
struct FailuresPage {
    layout: Layout,
    signed_in: bool,
    reports: Vec<ReportLine>,
}

/// `GET /u/{slug}/awarie`: how to report, and a resident's own reports.
pub async fn failures(State(state): State<AppState>, ctx: Ctx) -> Page {
    let reports = match &ctx.session {
        Some(session) => {
            let mut conn = state.pool.acquire().await?;
            views::list(
                &mut conn,
                session.utility_id,
                &Filter {
                    reporter: Some(session.account_id),
                    limit: 50,
                    ..Filter::default()
                },
            )
            .await?
            .iter()
            .map(line)
            .collect()
        }
        None => Vec::new(),
    };
    Ok(FailuresPage {
        layout: ctx.layout(&state, "awarie").await,
        signed_in: ctx.session.is_some(),
        reports,
    }
    .into_response())
}

/// The report form's fields (named as the API's, so its refusals land at them).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReportFields {
    category: String,
    description: String,
    address: String,
    lat: String,
    lon: String,
    email: String,
    /// The reporter saw the reports nearby and says theirs is another failure.
    different: Checkbox,
}

impl FormFields for ReportFields {
    const PAGE: &'static str = "/u/{slug}/awarie/zglos";
}

struct CategoryChoice {
    value: &'static str,
    label: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "failure_form.html")]
struct FormPage {
    layout: Layout,
    csrf: String,
    signed_in: bool,
    categories: Vec<CategoryChoice>,
    max_photos: usize,
    /// What is done with the address of somebody without an account, and for how long.
    email_hint: String,
    /// Open reports nearby, offered before filing.
    nearby: Vec<ReportLine>,
    f: FormState,
}

async fn show_form(state: &AppState, ctx: &Ctx, f: FormState, nearby: Vec<ReportLine>) -> Page {
    let status = f.status();
    let page = FormPage {
        layout: ctx.layout(state, "awarie").await,
        csrf: ctx
            .session
            .as_ref()
            .map(|s| s.csrf.clone())
            .unwrap_or_default(),
        signed_in: ctx.session.is_some(),
        categories: Category::ALL
            .into_iter()
            .map(|c| CategoryChoice {
                value: c.as_str(),
                label: c.polish(),
            })
            .collect(),
        max_photos: MAX_PHOTOS,
        email_hint: format!(
            "Napiszemy na niego, gdy potwierdzimy awarię, wyślemy ekipę i gdy ją usuniemy. \
             Adres usuniemy z naszych danych {} dni po zamknięciu zgłoszenia.",
            crate::housekeeping::REPORTER_ADDRESS_DAYS
        ),
        nearby,
        f,
    };
    Ok((status, page).into_response())
}

/// `GET /u/{slug}/awarie/zglos`
pub async fn report_form(State(state): State<AppState>, ctx: Ctx) -> Page {
    show_form(&state, &ctx, FormState::default(), Vec::new()).await
}

/// The place from the form, or the field to put right.
fn place_of(fields: &ReportFields) -> Result<Place, (&'static str, &'static str)> {
    let point = match (fields.lat.trim(), fields.lon.trim()) {
        ("", "") => None,
        (lat, lon) => match (coordinate(lat), coordinate(lon)) {
            (Some(lat), Some(lon)) => Some((lat, lon)),
            _ => {
                return Err((
                    "lat",
                    "Podaj położenie jako dwie liczby, np. 54,194 i 19,675, albo zostaw oba pola puste.",
                ));
            }
        },
    };
    Ok(Place {
        point,
        address: Some(fields.address.clone()),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "failure_sent.html")]
struct SentPage {
    layout: Layout,
    id: i64,
    joined: bool,
}

/// `POST /u/{slug}/awarie/zglos`: files the report — unless open reports of its kind are
/// nearby and the reporter has not said theirs is another one: then those are offered.
pub async fn report(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    post: PortalForm<ReportFields, MaybeResident>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        mut uploads,
    } = post;
    let sent: Vec<Vec<u8>> = match uploads.take_all() {
        Ok(files) => files
            .into_iter()
            .filter(|(name, upload)| name == "photos" && !upload.bytes.is_empty())
            .map(|(_, upload)| upload.bytes)
            .collect(),
        Err(_) => {
            form.add(
                "photos",
                "Nie udało się odebrać zdjęć — może są za duże (najwyżej 8 MB każde).",
            );
            return show_form(&state, &ctx, form, Vec::new()).await;
        }
    };
    // Everything wrong is said at once, at its field.
    let category = Category::parse(&fields.category);
    if category.is_none() {
        form.add("category", "Wybierz, co się stało.");
    }
    let place = place_of(&fields).unwrap_or_else(|(field, message)| {
        form.add(field, message);
        Place {
            point: None,
            address: Some(fields.address.clone()),
        }
    });
    let reporter = match &session {
        Some(session) => Reporter::Account(session.account_id),
        None => Reporter::Email(fields.email.trim().to_string()),
    };
    for (field, message) in problems_of(&fields.description, &place, &reporter, sent.len()) {
        if form.error(field).is_none() {
            form.add(field, message);
        }
    }
    let photos = match outages::clean_photos(&sent) {
        Ok(photos) => photos,
        Err(refused) => {
            if form.error("photos").is_none() {
                form.add_failure(refused)?;
            }
            Vec::new()
        }
    };
    let (Some(category), false) = (category, form.has_errors()) else {
        return show_form(&state, &ctx, form, Vec::new()).await;
    };
    let report = NewReport {
        category,
        description: fields.description.clone(),
        place,
        reporter,
        photos,
    };
    if !fields.different.0 {
        let mut conn = state.pool.acquire().await?;
        let nearby: Vec<ReportLine> =
            views::nearby_open(&mut conn, ctx.utility.id, category, &report.place)
                .await?
                .iter()
                .map(line)
                .collect();
        drop(conn);
        if !nearby.is_empty() {
            return show_form(&state, &ctx, form, nearby).await;
        }
    }
    match outages::file(&state, ctx.utility.id, &report, client).await {
        Ok(id) if session.is_some() => Ok(ctx.redirect(&format!("awarie/{id}?wyslano=1"))),
        Ok(id) => Ok(SentPage {
            layout: ctx.layout(&state, "awarie").await,
            id,
            joined: false,
        }
        .into_response()),
        Err(e) => {
            form.add_failure(e)?;
            show_form(&state, &ctx, form, Vec::new()).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct JoinFields {
    email: String,
}

impl FormFields for JoinFields {
    const PAGE: &'static str = "/u/{slug}/awarie/zglos";
}

/// `POST /u/{slug}/awarie/{id}/dolacz`: "this is already reported" — the reporter is told of
/// report `id`'s steps instead of filing another.
pub async fn join(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    PagePath(Id { id }): PagePath<Id>,
    post: PortalForm<JoinFields, MaybeResident>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    let reporter = match &session {
        Some(session) => Reporter::Account(session.account_id),
        None => Reporter::Email(fields.email.trim().to_string()),
    };
    match outages::join(&state, ctx.utility.id, id, &reporter, client).await {
        Ok(()) if session.is_some() => Ok(ctx.redirect(&format!("awarie/{id}?dolaczono=1"))),
        Ok(()) => Ok(SentPage {
            layout: ctx.layout(&state, "awarie").await,
            id,
            joined: true,
        }
        .into_response()),
        Err(e) => {
            form.add_failure(e)?;
            show_form(&state, &ctx, form, Vec::new()).await
        }
    }
}

struct StepLine {
    when: String,
    what: String,
    note: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "failure.html")]
struct ReportPage {
    layout: Layout,
    r: ReportLine,
    description: String,
    point: Option<String>,
    rejection_reason: Option<String>,
    outage_id: Option<i64>,
    steps: Vec<StepLine>,
    photos: Vec<i64>,
    sent: bool,
}

/// A report's steps as its reporters read them (no staff names).
pub(crate) fn step_words(action: &str, to: &str) -> String {
    match action {
        "failure_report.reported" => "Zgłoszenie przyjęte".into(),
        "failure_report.joined" => "Kolejna osoba zgłosiła tę awarię".into(),
        "failure_report.outage_announced" => "Ogłoszono komunikat dla mieszkańców".into(),
        _ => format!("Stan: {to}"),
    }
}

async fn own_report(state: &AppState, ctx: &Ctx, id: i64) -> Result<Detail, PageError> {
    let session = ctx.resident()?;
    let mut conn = state.pool.acquire().await?;
    views::for_reporter(&mut conn, session.utility_id, id, session.account_id)
        .await?
        .ok_or(PageError::NotFound)
}

#[derive(Debug, Default, Deserialize)]
pub struct SentQuery {
    wyslano: Option<String>,
    dolaczono: Option<String>,
}

/// `GET /u/{slug}/awarie/{id}`: one of the resident's reports.
pub async fn failure(
    State(state): State<AppState>,
    ctx: Ctx,
    PagePath(Id { id }): PagePath<Id>,
    super::params::PageQuery(q): super::params::PageQuery<SentQuery>,
) -> Page {
    let d = own_report(&state, &ctx, id).await?;
    Ok(ReportPage {
        layout: ctx.layout(&state, "awarie").await,
        r: line(&d.summary),
        description: d.summary.description.clone(),
        point: d
            .summary
            .place
            .point
            .map(|(lat, lon)| format!("{lat:.5}, {lon:.5}")),
        rejection_reason: d.rejection_reason.clone(),
        outage_id: d.summary.outage_id,
        steps: d
            .history
            .iter()
            .map(|h| StepLine {
                when: polish::instant(h.at),
                what: step_words(&h.action, h.to.polish()),
                note: h
                    .note
                    .clone()
                    .filter(|_| h.action == "failure_report.rejected"),
            })
            .collect(),
        photos: d.photos.iter().map(|p| p.id).collect(),
        sent: q.wyslano.is_some() || q.dolaczono.is_some(),
    }
    .into_response())
}

#[derive(Debug, Deserialize)]
pub struct PhotoPath {
    id: i64,
    photo: i64,
}

/// `GET /u/{slug}/awarie/{id}/zdjecia/{photo}`: a photo of one of the resident's reports.
pub async fn photo(
    State(state): State<AppState>,
    ctx: Ctx,
    PagePath(p): PagePath<PhotoPath>,
) -> Page {
    let d = own_report(&state, &ctx, p.id).await?;
    let viewer = ctx.resident()?.account_id;
    let mut conn = state.pool.acquire().await?;
    let (content_type, bytes) = views::photo(
        &mut conn,
        ctx.utility.id,
        d.summary.id,
        p.photo,
        Some(viewer),
    )
    .await?
    .ok_or(PageError::NotFound)?;
    Ok(photo_response(content_type, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_read_in_metres_then_kilometres_with_a_comma() {
        assert_eq!(distance_words(84.6), "85 m");
        assert_eq!(distance_words(1234.0), "1,2 km");
    }

    #[test]
    fn coordinates_are_read_with_a_dot_or_a_comma_and_both_or_neither_are_given() {
        let mut fields = ReportFields {
            lat: "54,194".into(),
            lon: " 19.675 ".into(),
            ..ReportFields::default()
        };
        assert_eq!(place_of(&fields).unwrap().point, Some((54.194, 19.675)));
        fields.lon.clear();
        assert_eq!(place_of(&fields).unwrap_err().0, "lat");
        fields.lat.clear();
        assert_eq!(place_of(&fields).unwrap().point, None);
    }
}
