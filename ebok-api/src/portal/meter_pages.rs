//! The dashboard and the meter pages: current readings, the reading on a chosen day, history
//! with a server-rendered SVG chart (no JavaScript), billing readings, CSV export and the
//! self-reading form for meters without radio.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use chrono::{Days, NaiveDate, Utc};
use ebok_common::domain::Legalisation;
use ebok_common::domain::time::local_day;
use ebok_common::polish;
use ebok_readings::access::{self, VisibleMeter};
use ebok_readings::chart::{self, format_period};
use ebok_readings::export::source_label;
use ebok_readings::history::{self, Point, ReadError, Step};
use ebok_readings::self_reading::{self, Photo, SelfReadingError};
use mobile_push::inbox::{self, InboxItem};
use serde::Deserialize;

use super::form::{FormFields, PortalForm, ResidentForm};
use super::form_state::FormState;
use super::page_error::{Page, PageError};
use super::params::{Id, PagePath, PageQuery};
use super::shell::{Ctx, Layout};
use crate::accounts::{self, LinkedCustomer};
use crate::auth::web::PortalSession;
use crate::state::AppState;

/// A meter line on the dashboard.
struct MeterLine {
    id: i64,
    serial: String,
    purpose: &'static str,
    address: String,
    current: Option<String>,
    current_at: String,
    removed: bool,
    /// A warning about the meter's legalisation, when it has passed or ends soon.
    legalisation_warning: Option<String>,
}

/// What a resident is told about the meter's legalisation (Polish), and whether it is a warning
/// (passed or ending soon, see [`Legalisation`]).
fn legalisation_note(until: Option<NaiveDate>, today: NaiveDate) -> Option<(bool, String)> {
    Some(match Legalisation::on(until, today)? {
        Legalisation::Valid { until } => (
            false,
            format!("Legalizacja wodomierza ważna do {}.", polish::day(until)),
        ),
        Legalisation::EndingSoon { until } => (
            true,
            format!(
                "Legalizacja wodomierza kończy się {}. Przedsiębiorstwo wymieni wodomierz \
                 i uzgodni z Tobą termin wizyty.",
                polish::day(until)
            ),
        ),
        Legalisation::Expired { until } => (
            true,
            format!(
                "Legalizacja wodomierza wygasła {}. Wodomierz czeka na wymianę; odczyty są \
                 nadal zapisywane.",
                polish::day(until)
            ),
        ),
    })
}

pub(super) fn purpose_pl(purpose: &str) -> &'static str {
    match purpose {
        "garden" => "ogrodowy",
        "sewage" => "ścieki",
        _ => "główny",
    }
}

impl From<&VisibleMeter> for MeterLine {
    fn from(m: &VisibleMeter) -> Self {
        MeterLine {
            id: m.id,
            serial: m.serial.clone(),
            purpose: purpose_pl(&m.purpose),
            address: m.address.clone(),
            current: m.latest_litres.map(polish::volume),
            current_at: m.latest_at.map(polish::instant).unwrap_or_default(),
            removed: m.removed_at.is_some(),
            legalisation_warning: legalisation_note(m.legalised_until, local_day(Utc::now()))
                .filter(|(warning, _)| *warning)
                .map(|(_, text)| text),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
struct Dashboard {
    layout: Layout,
    display_name: String,
    customers: Vec<LinkedCustomer>,
    meters: Vec<MeterLine>,
    chart: Option<String>,
    chart_meter: String,
    alarms: Vec<(String, String)>,
    inbox: Vec<InboxItem>,
    balances: Vec<super::invoice_pages::BalanceLine>,
    /// (id, number, amount to pay) of the newest invoice.
    last_invoice: Option<(i64, String, String)>,
}

/// `GET /u/{slug}/pulpit`.
pub async fn dashboard(State(state): State<AppState>, ctx: Ctx) -> Page {
    let session = ctx.resident()?;
    let viewer = session.viewer();
    let meters = access::meters(&state.pool, viewer).await?;
    let customers =
        accounts::linked_customers(&state.pool, viewer.utility_id, viewer.account_id).await?;
    let today = local_day(Utc::now());
    let (chart, chart_meter) = match meters.iter().find(|m| m.removed_at.is_none()) {
        Some(m) => {
            let mut conn = state.pool.acquire().await?;
            let points = history::history(
                &mut conn,
                viewer,
                m.id,
                today - Days::new(29),
                today,
                Step::Day,
            )
            .await?;
            (
                Some(chart::consumption_svg(
                    &points,
                    Step::Day,
                    &format!("Zużycie dobowe — wodomierz {}", m.serial),
                )),
                format!("wodomierz {}", m.serial),
            )
        }
        None => (None, String::new()),
    };
    let alarms = open_alarms(&state, session).await?;
    let inbox = inbox::list(&state.pool, viewer.utility_id, viewer.account_id, None, 5).await?;
    let balances = super::invoice_pages::balance_lines(&state, session).await?;
    let scope = ebok_billing::statement::Scope::Account {
        utility_id: viewer.utility_id,
        account_id: viewer.account_id,
    };
    let last_invoice = ebok_billing::statement::invoices(&state.pool, scope, 1)
        .await?
        .first()
        .map(|i| {
            (
                i.id,
                i.number.clone(),
                format!("do zapłaty {}", polish::money(i.amount_due_grosze)),
            )
        });
    Ok(Dashboard {
        layout: ctx.layout(&state, "pulpit").await,
        display_name: session.display_name.clone(),
        customers,
        meters: meters.iter().map(MeterLine::from).collect(),
        chart,
        chart_meter,
        alarms,
        inbox,
        balances,
        last_invoice,
    }
    .into_response())
}

/// What alarms the resident now ([`ebok_alarm_rules::active`]: meter alarms and their own
/// rules' triggers): (what and where, since when and what happened).
async fn open_alarms(
    state: &AppState,
    session: &PortalSession,
) -> Result<Vec<(String, String)>, PageError> {
    let mut conn = state.pool.acquire().await?;
    Ok(ebok_alarm_rules::active(&mut conn, session.viewer())
        .await?
        .into_iter()
        .map(|a| {
            let when = format!("od {}", polish::instant(a.since));
            (
                format!("{} — wodomierz {}", a.title, a.meter_serial),
                match a.detail {
                    Some(detail) => format!("{when}. {detail}"),
                    None => when,
                },
            )
        })
        .collect())
}

#[derive(Template, WebTemplate)]
#[template(path = "meter.html")]
struct MeterPage {
    layout: Layout,
    csrf: String,
    id: i64,
    serial: String,
    place: String,
    /// The legalisation sentence and whether it is a warning.
    legalisation: Option<(bool, String)>,
    notice: Option<String>,
    current: Option<String>,
    current_at: String,
    current_source: String,
    today: NaiveDate,
    day_value: String,
    day_error: Option<String>,
    day_result: Option<String>,
    from: NaiveDate,
    to: NaiveDate,
    monthly: bool,
    range_error: Option<String>,
    period_label: &'static str,
    range_label: String,
    chart: String,
    total: String,
    rows: Vec<(String, String, String, String)>,
    billing: Vec<(String, String, String, String)>,
    manual: bool,
    f: FormState,
}

#[derive(Debug, Default, Deserialize)]
pub struct MeterQuery {
    dzien: Option<String>,
    od: Option<String>,
    #[serde(rename = "do")]
    to: Option<String>,
    krok: Option<String>,
    zapisano: Option<String>,
}

/// `GET /u/{slug}/liczniki/{id}`.
pub async fn meter(
    State(state): State<AppState>,
    ctx: Ctx,
    PagePath(Id { id }): PagePath<Id>,
    PageQuery(q): PageQuery<MeterQuery>,
) -> Page {
    let session = ctx.resident()?;
    meter_page(&state, &ctx, session, id, q, FormState::default()).await
}

async fn meter_page(
    state: &AppState,
    ctx: &Ctx,
    session: &PortalSession,
    id: i64,
    q: MeterQuery,
    f: FormState,
) -> Page {
    let viewer = session.viewer();
    let mut conn = state.pool.acquire().await?;
    let info = history::meter_info(&mut conn, viewer, id).await?;
    let visible = access::meters(&mut *conn, viewer)
        .await?
        .into_iter()
        .find(|m| m.id == id)
        .ok_or(PageError::NotFound)?;
    let current = history::current(&mut conn, viewer, id).await?;
    let today = local_day(Utc::now());

    // The reading on a chosen day.
    let (mut day_error, mut day_result) = (None, None);
    let day_value = q.dzien.clone().unwrap_or_default();
    if !day_value.trim().is_empty() {
        match NaiveDate::parse_from_str(day_value.trim(), "%Y-%m-%d") {
            Err(_) => day_error = Some("Podaj datę w formacie RRRR-MM-DD.".to_string()),
            Ok(day) => match history::on_day(&mut conn, viewer, id, day).await {
                Ok(Some(r)) => {
                    day_result = Some(format!(
                        "Ostatni odczyt do końca dnia {}: {} (z {}).",
                        polish::day(day),
                        polish::volume(r.litres),
                        polish::instant(r.measured_at)
                    ))
                }
                Ok(None) => {
                    day_result = Some(format!("Brak odczytu do końca dnia {}.", polish::day(day)))
                }
                Err(ReadError::Invalid { detail, .. }) => day_error = Some(detail),
                Err(e) => return Err(e.into()),
            },
        }
    }

    // History.
    let monthly = q.krok.as_deref() == Some("miesiac");
    let step = if monthly { Step::Month } else { Step::Day };
    let to = parse_day(&q.to).unwrap_or(today);
    let from = parse_day(&q.od).unwrap_or_else(|| {
        let back = if monthly { 365 } else { 29 };
        (to - Days::new(back)).max(history::FIRST_DAY)
    });
    let mut range_error = None;
    let points = match history::history(&mut conn, viewer, id, from, to, step).await {
        Ok(p) => p,
        Err(ReadError::Invalid { detail, .. }) => {
            range_error = Some(detail);
            Vec::new()
        }
        Err(e) => return Err(e.into()),
    };
    let total: i64 = points.iter().filter_map(|p| p.consumption_litres).sum();
    let rows = table_rows(&points, step);
    let billing_points =
        history::billing_readings(&mut conn, viewer, id, today - Days::new(365), today).await?;
    let notice = q
        .zapisano
        .as_ref()
        .map(|_| "Odczyt zapisany. Dziękujemy!".to_string());
    Ok((
        f.status(),
        MeterPage {
            layout: ctx.layout(state, "pulpit").await,
            csrf: session.csrf.clone(),
            id,
            serial: info.serial.clone(),
            place: format!("{} · {}", purpose_pl(&info.purpose), visible.address),
            legalisation: legalisation_note(visible.legalised_until, today),
            notice,
            current: current.as_ref().map(|r| polish::volume(r.litres)),
            current_at: current
                .as_ref()
                .map(|r| polish::instant(r.measured_at))
                .unwrap_or_default(),
            current_source: current
                .as_ref()
                .map(|r| source_label(&r.source).to_string())
                .unwrap_or_default(),
            today,
            day_value,
            day_error,
            day_result,
            from,
            to,
            monthly,
            range_error,
            period_label: if monthly { "miesięczne" } else { "dobowe" },
            range_label: format!("{} – {}", polish::day(from), polish::day(to)),
            chart: chart::consumption_svg(
                &points,
                step,
                &format!(
                    "Zużycie {} — wodomierz {}",
                    if monthly { "miesięczne" } else { "dobowe" },
                    info.serial
                ),
            ),
            total: polish::volume(total),
            rows,
            billing: table_rows(&billing_points, Step::Month),
            manual: info.channel == "manual" && info.removed_at.is_none(),
            f,
        },
    )
        .into_response())
}

/// A `RRRR-MM-DD` query parameter (what `<input type="date">` sends).
fn parse_day(value: &Option<String>) -> Option<NaiveDate> {
    value
        .as_deref()
        .and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
}

/// Rows of a history table, newest first: the period, the register at its end and when that
/// was (a midnight "wyliczony", worked out from the readings around it, or a reading's own
/// time), and the consumption.
fn table_rows(points: &[Point], step: Step) -> Vec<(String, String, String, String)> {
    points
        .iter()
        .rev()
        .map(|p| {
            (
                format_period(p.period_start, step),
                p.end
                    .map(|e| polish::volume(e.litres))
                    .unwrap_or_else(|| "—".into()),
                p.end
                    .map(|e| {
                        if e.interpolated {
                            format!("{} (wyliczony)", polish::instant(e.at))
                        } else {
                            polish::instant(e.at)
                        }
                    })
                    .unwrap_or_else(|| "—".into()),
                p.consumption_litres
                    .map(polish::volume)
                    .unwrap_or_else(|| "—".into()),
            )
        })
        .collect()
}

/// `GET /u/{slug}/liczniki/{id}/odczyty.csv`: the history as the API exports it; a range it
/// refuses is the portal's error page (without a session, the login page comes back to the
/// meter's page).
pub async fn csv(
    State(state): State<AppState>,
    ctx: Ctx,
    PagePath(Id { id }): PagePath<Id>,
    PageQuery(q): PageQuery<MeterQuery>,
) -> Page {
    let session = ctx.require(&format!("{}/liczniki/{id}", ctx.base()))?;
    let today = local_day(Utc::now());
    let to = parse_day(&q.to).unwrap_or(today);
    let from = parse_day(&q.od).unwrap_or((to - Days::new(364)).max(history::FIRST_DAY));
    let step = if q.krok.as_deref() == Some("miesiac") {
        Step::Month
    } else {
        Step::Day
    };
    let csv =
        crate::api::meters::csv_response(&state, session.viewer(), id, from, to, step).await?;
    Ok(csv.into_response())
}

/// The self-reading form of a meter's page (multipart: it may carry a photo of the dial).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SelfReadingFields {
    /// The reading as typed, in m³ ([`polish::parse_m3`]).
    stan: String,
}

impl FormFields for SelfReadingFields {
    const PAGE: &'static str = "/u/{slug}/liczniki/{id}";
}

/// `POST /u/{slug}/liczniki/{id}/odczyt`: stores a resident's reading of a meter without radio,
/// with an optional photo (`zdjecie`).
pub async fn self_reading(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: ResidentForm<SelfReadingFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        mut uploads,
    } = post;
    let again = |form| meter_page(&state, &ctx, &session, id, MeterQuery::default(), form);
    let photo = match uploads.take("zdjecie") {
        Ok(photo) => photo.map(|upload| Photo {
            content_type: upload.content_type,
            bytes: upload.bytes,
        }),
        Err(_) => {
            form.add(
                "zdjecie",
                "Nie udało się odebrać zdjęcia — może jest za duże (najwyżej 5 MB).",
            );
            return again(form).await;
        }
    };
    let Some(litres) = polish::parse_m3(&fields.stan) else {
        form.add("stan", "Podaj stan licznika w m³, np. 123,456.");
        return again(form).await;
    };
    match self_reading::submit(&state.pool, session.viewer(), id, litres, Utc::now(), photo).await {
        Ok(_) => Ok(ctx.redirect(&format!("liczniki/{id}?zapisano=1"))),
        Err(SelfReadingError::MeterNotFound) => Err(PageError::NotFound),
        Err(e) => match e.message() {
            Some(message) => {
                let field = match e.field() {
                    Some("photo") => "zdjecie",
                    _ => "stan",
                };
                form.add(field, message);
                again(form).await
            }
            None => Err(e.into()),
        },
    }
}
