//! `/panel/{slug}/bilans`: the water balance for the network's staff (`WaterBalance`).
//!
//! - the ranking: every zone's input, sales, unbilled use and losses over a range (the last 30
//!   closed days unless asked), the largest losses first, with the coverage that tells a gap
//!   from a loss and the zones with an open night-flow alarm marked; as CSV too;
//! - a zone: its daily balance of the last 60 days and monthly of the last 12 months (charts
//!   and tables), its night flow with the baseline, its alarms, boundary meters and staff, the
//!   unbilled use entered; forms to enter unbilled use, to add a boundary meter and to name
//!   the zone's staff; its days as CSV;
//! - the meters' health: the customer meters a replacement campaign starts from (stopped,
//!   standing still, running backwards, past legalisation), as CSV too.
//!
//! The figures are computed hourly (`ebok_balance::run`); a day appears once it is over.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{Datelike, Days, Months, NaiveDate, Utc};
use ebok_balance::health::{self, MeterHealth, Problem};
use ebok_balance::network::{
    self, Channel, NetworkError, NewBoundaryMeter, UnbilledEntry, UnbilledKind, UnbilledUse,
};
use ebok_balance::night::NightRule;
use ebok_balance::store::{self, Step, ZonePeriod};
use ebok_balance::views::{self, Alarm, BoundaryMeterView, Night, Ranked, ZoneInfo};
use ebok_common::domain::time::local_day;
use ebok_common::excel_csv::{BOM, LINE_END, SEPARATOR, text_cell};
use ebok_common::polish;
use serde::Deserialize;

use super::balance_charts::{self, Periods, share_words};
use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::FormState;
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::{Id, PagePath, PageQuery};
use crate::staff::Permission;
use crate::staff::sessions::StaffSession;
use crate::state::AppState;

/// The longest range of the ranking.
const MAX_RANGE_DAYS: i64 = 400;

fn yesterday() -> NaiveDate {
    local_day(Utc::now()) - Days::new(1)
}

/// A range as asked (`od`, `do`: dates), else the last 30 closed days.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RangeQuery {
    od: Option<String>,
    #[serde(rename = "do")]
    to: Option<String>,
}

impl RangeQuery {
    fn range(&self) -> Result<(NaiveDate, NaiveDate), PageError> {
        let end = yesterday();
        let parse = |text: &Option<String>, default: NaiveDate, name: &str| match text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            None => Ok(default),
            Some(t) => t.parse::<NaiveDate>().map_err(|_| PageError::Refused {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                detail: format!("{name}: podaj datę w postaci RRRR-MM-DD."),
            }),
        };
        let to = parse(&self.to, end, "Do")?;
        let from = parse(&self.od, to - Days::new(29), "Od")?;
        if from > to || (to - from).num_days() >= MAX_RANGE_DAYS {
            return Err(PageError::Refused {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                detail: format!(
                    "Zakres: „od” nie może być po „do”, a zakres dłuższy niż {MAX_RANGE_DAYS} dni."
                ),
            });
        }
        Ok((from, to))
    }
}

/// A zone's row of the ranking and of the zone's tables, as staff read it.
struct Row {
    zone_id: i64,
    name: String,
    parent: String,
    input: String,
    billed: String,
    unbilled: String,
    losses: String,
    share: String,
    per_connection: String,
    coverage: String,
    alarm: bool,
    period: String,
}

fn row(zone: &ZoneInfo, p: &ZonePeriod, alarm: bool, period: String) -> Row {
    let b = &p.balance;
    let unknown = "nieznany".to_string();
    Row {
        zone_id: zone.id,
        name: zone.name.clone(),
        parent: zone
            .parent
            .as_ref()
            .map(|(_, n)| n.clone())
            .unwrap_or_default(),
        input: if p.input_known {
            polish::volume(b.system_input_litres)
        } else {
            unknown.clone()
        },
        billed: polish::volume(b.billed_metered_litres),
        unbilled: polish::volume(b.unbilled_authorised_litres),
        losses: match p.losses_litres() {
            Some(l) => polish::volume(l),
            None => "—".to_string(),
        },
        share: match p.losses_litres() {
            Some(l) => share_words(l, b.system_input_litres),
            None => "—".to_string(),
        },
        per_connection: match p.losses_per_connection_day() {
            Some(l) => polish::litres(l),
            None => "—".to_string(),
        },
        coverage: if p.days_computed == 0 {
            "—".to_string()
        } else {
            format!("{}%", (b.coverage() * 100.0).floor() as i64)
        },
        alarm,
        period,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/balance.html")]
struct RankingPage {
    layout: StaffLayout,
    from: NaiveDate,
    to: NaiveDate,
    range_words: String,
    rows: Vec<Row>,
    csv_query: String,
}

/// `GET /panel/{slug}/bilans`
pub async fn ranking(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<RangeQuery>,
) -> Page {
    let session = ctx.staff(Permission::WaterBalance)?.clone();
    let (from, to) = q.range()?;
    let mut conn = state.pool.acquire().await?;
    let ranked = views::ranking(&mut conn, session.utility_id, from, to).await?;
    let rows = ranked
        .iter()
        .map(|r| row(&r.zone, &r.period, r.alarm_open, String::new()))
        .collect();
    Ok(RankingPage {
        layout: ctx.layout("bilans"),
        from,
        to,
        range_words: format!("od {} do {}", polish::day(from), polish::day(to)),
        rows,
        csv_query: format!("od={from}&do={to}"),
    }
    .into_response())
}

fn csv_response(name: String, body: String) -> axum::response::Response {
    crate::download::attachment(&name, "text/csv; charset=utf-8", body)
}

/// Litres as m³ in a CSV cell (Polish decimal comma, no grouping); empty when unknown.
fn m3_cell(litres: Option<i64>) -> String {
    litres.map(polish::m3_plain).unwrap_or_default()
}

fn csv_header(out: &mut String, first: &[&str]) {
    out.push(BOM);
    let columns: Vec<&str> = first
        .iter()
        .copied()
        .chain([
            "Wpływ [m³]",
            "Sprzedaż [m³]",
            "Zużycie niefakturowane [m³]",
            "Straty [m³]",
            "Straty [%]",
            "Straty na przyłącze na dobę [l]",
            "Wodomierze",
            "Odczytane",
            "Oszacowane",
            "Dni policzone",
        ])
        .collect();
    out.push_str(&columns.join(&SEPARATOR.to_string()));
    out.push_str(LINE_END);
}

fn csv_figures(out: &mut String, p: &ZonePeriod) {
    let b = &p.balance;
    let share = p
        .losses_litres()
        .filter(|_| b.system_input_litres > 0)
        .map(|l| {
            let bp = (i128::from(l) * 10_000 / i128::from(b.system_input_litres)) as i64;
            format!(
                "{}{},{:02}",
                if bp < 0 { "-" } else { "" },
                bp.abs() / 100,
                bp.abs() % 100
            )
        })
        .unwrap_or_default();
    let cells = [
        m3_cell(p.input_known.then_some(b.system_input_litres)),
        m3_cell(Some(b.billed_metered_litres)),
        m3_cell(Some(b.unbilled_authorised_litres)),
        m3_cell(p.losses_litres()),
        share,
        p.losses_per_connection_day()
            .map(|l| l.to_string())
            .unwrap_or_default(),
        b.meters.to_string(),
        b.meters_reported.to_string(),
        b.meters_estimated.to_string(),
        p.days_computed.to_string(),
    ];
    for cell in cells {
        out.push(SEPARATOR);
        out.push_str(&cell);
    }
    out.push_str(LINE_END);
}

/// `GET /panel/{slug}/bilans.csv`
pub async fn ranking_csv(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<RangeQuery>,
) -> Page {
    let session = ctx.staff(Permission::WaterBalance)?.clone();
    let (from, to) = q.range()?;
    let mut conn = state.pool.acquire().await?;
    let ranked: Vec<Ranked> = views::ranking(&mut conn, session.utility_id, from, to).await?;
    let mut out = String::new();
    csv_header(&mut out, &["Strefa", "Kod", "W strefie", "Alarm"]);
    for r in &ranked {
        out.push_str(&text_cell(&r.zone.name));
        for cell in [
            text_cell(&r.zone.code),
            text_cell(r.zone.parent.as_ref().map_or("", |(_, n)| n.as_str())),
            (if r.alarm_open { "tak" } else { "nie" }).to_string(),
        ] {
            out.push(SEPARATOR);
            out.push_str(&cell);
        }
        csv_figures(&mut out, &r.period);
    }
    Ok(csv_response(
        format!("bilans-{}-{from}-{to}.csv", ctx.utility.slug),
        out,
    ))
}

struct NightRow {
    day: String,
    flow: String,
    baseline: String,
}

struct AlarmRow {
    first_night: String,
    raised_on: String,
    cleared_on: String,
    baseline: String,
    observed: String,
}

struct MeterRow {
    serial: String,
    direction: String,
    channel: &'static str,
    last: String,
}

struct LeakRow {
    meter_id: i64,
    serial: String,
    address: String,
    what: &'static str,
    since: String,
}

struct UnbilledRow {
    day: String,
    kind: &'static str,
    amount: String,
    note: String,
    by: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/balance_zone.html")]
struct ZonePage {
    layout: StaffLayout,
    csrf: String,
    zone: ZoneInfo,
    notice: Option<String>,
    f: FormState,
    days_chart: String,
    days: Vec<Row>,
    months_chart: String,
    months: Vec<Row>,
    nights_chart: String,
    nights: Vec<NightRow>,
    alarms: Vec<AlarmRow>,
    alarm_open: bool,
    meters: Vec<MeterRow>,
    staff_named: Vec<String>,
    staff_choices: Vec<(i64, String)>,
    zones: Vec<(i64, String)>,
    unbilled: Vec<UnbilledRow>,
    leaks: Vec<LeakRow>,
    kinds: Vec<(&'static str, &'static str)>,
}

async fn zone_page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    zone_id: i64,
    notice: Option<String>,
    f: FormState,
) -> Page {
    let mut conn = state.pool.acquire().await?;
    let utility = session.utility_id;
    let zone = views::zone(&mut conn, utility, zone_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let end = yesterday();
    let day_from = end - Days::new(59);
    let daily = store::zone_periods(&mut conn, utility, day_from, end, Step::Day).await?;
    let daily: Vec<ZonePeriod> = daily.get(&zone_id).cloned().unwrap_or_default();
    let month_from = (end - Months::new(11)).with_day(1).unwrap_or(end);
    let monthly = store::zone_periods(&mut conn, utility, month_from, end, Step::Month).await?;
    let monthly: Vec<ZonePeriod> = monthly.get(&zone_id).cloned().unwrap_or_default();
    // The baseline as the alarms judge it (its length is not configurable).
    let rule = NightRule::default();
    let nights: Vec<Night> = views::nights(&mut conn, zone_id, day_from, end, &rule).await?;
    let alarms: Vec<Alarm> = views::alarms(&mut conn, zone_id, 50).await?;
    let meters: Vec<BoundaryMeterView> = views::boundary_meters(&mut conn, zone_id).await?;
    let staff_named: Vec<String> = views::zone_staff(&mut conn, zone_id)
        .await?
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    let staff_choices = sqlx::query!(
        r#"SELECT id, coalesce(display_name, email) AS "name!" FROM user_accounts
           WHERE utility_id = $1 AND role <> 'resident' AND status = 'active' ORDER BY 2"#,
        utility
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.id, r.name))
    .collect();
    let zones = sqlx::query!(
        "SELECT id, name FROM network_zones WHERE utility_id = $1 ORDER BY name",
        utility
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.id, r.name))
    .collect();
    let unbilled: Vec<UnbilledEntry> =
        network::unbilled_use(&mut conn, utility, zone_id, 20).await?;

    let leaks = views::customer_leaks(&mut conn, utility, zone_id).await?;
    let alarm_open = alarms.iter().any(|a| a.cleared_on.is_none());
    let page = ZonePage {
        layout: ctx.layout("bilans"),
        csrf: session.csrf.clone(),
        days_chart: balance_charts::balance_svg(
            "bilans-dni",
            &format!("Bilans strefy {} dzień po dniu", zone.name),
            &daily,
            Periods::Days,
        ),
        days: daily
            .iter()
            .rev()
            .map(|p| row(&zone, p, false, polish::day(p.first_day)))
            .collect(),
        months_chart: balance_charts::balance_svg(
            "bilans-miesiace",
            &format!("Bilans strefy {} miesiąc po miesiącu", zone.name),
            &monthly,
            Periods::Months,
        ),
        months: monthly
            .iter()
            .rev()
            .map(|p| row(&zone, p, false, polish::month(p.first_day)))
            .collect(),
        nights_chart: balance_charts::night_flow_svg(
            "noce",
            &format!("Przepływ nocny w strefie {}", zone.name),
            &nights,
        ),
        nights: nights
            .iter()
            .rev()
            .map(|n| NightRow {
                day: polish::day(n.day),
                flow: n
                    .min_litres_per_hour
                    .map_or("nieznany".into(), |l| format!("{}/h", polish::volume(l))),
                baseline: n
                    .baseline_litres_per_hour
                    .map_or("—".into(), |l| format!("{}/h", polish::volume(l))),
            })
            .collect(),
        alarms: alarms
            .iter()
            .map(|a| AlarmRow {
                first_night: polish::day(a.first_night),
                raised_on: polish::day(a.raised_on),
                cleared_on: a.cleared_on.map_or("trwa".into(), polish::day),
                baseline: format!("{}/h", polish::volume(a.baseline_litres_per_hour)),
                observed: format!("{}/h", polish::volume(a.observed_litres_per_hour)),
            })
            .collect(),
        alarm_open,
        meters: meters
            .iter()
            .map(|m| MeterRow {
                serial: m.serial.clone(),
                direction: match (m.inlet, &m.other_side) {
                    (true, Some(o)) => format!("wpływ ze strefy {o}"),
                    (true, None) => "wpływ spoza sieci".to_string(),
                    (false, Some(o)) => format!("wypływ do strefy {o}"),
                    (false, None) => "wypływ poza sieć".to_string(),
                },
                channel: if m.channel == "modbus" {
                    "Modbus"
                } else {
                    "radiowy"
                },
                last: m.last_reading.map_or("brak odczytu".into(), |(at, l)| {
                    format!("{} ({})", polish::volume(l), polish::instant(at))
                }),
            })
            .collect(),
        staff_named,
        staff_choices,
        zones,
        unbilled: unbilled
            .iter()
            .map(|u| UnbilledRow {
                day: polish::day(u.day),
                kind: u.kind.polish(),
                amount: polish::volume(u.litres),
                note: u.note.clone().unwrap_or_default(),
                by: u.entered_by.clone(),
            })
            .collect(),
        leaks: leaks
            .into_iter()
            .map(|l| LeakRow {
                meter_id: l.meter_id,
                serial: l.serial,
                address: l.address,
                what: if l.kind == "leak" {
                    "wodomierz zgłasza wyciek"
                } else {
                    "woda płynie bez przerwy od doby"
                },
                since: polish::instant(l.since),
            })
            .collect(),
        kinds: UnbilledKind::ALL
            .iter()
            .map(|k| (k.as_str(), k.polish()))
            .collect(),
        zone,
        notice,
        f,
    };
    let status = page.f.status();
    Ok((status, page).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ZoneQuery {
    zapisano: Option<String>,
}

/// `GET /panel/{slug}/bilans/{id}`
pub async fn zone(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
    PageQuery(q): PageQuery<ZoneQuery>,
) -> Page {
    let session = ctx.staff(Permission::WaterBalance)?.clone();
    let notice = match q.zapisano.as_deref() {
        Some("zuzycie") => {
            Some("Zapisano zużycie niefakturowane; bilans dnia uwzględnia je od razu.")
        }
        Some("wodomierz") => {
            Some("Dodano wodomierz strefowy. Jego odczyty liczą się od następnego przeliczenia.")
        }
        Some("pracownik") => Some("Pracownik będzie dostawał alarmy tej strefy."),
        _ => None,
    };
    zone_page(
        &state,
        &ctx,
        &session,
        id,
        notice.map(str::to_string),
        FormState::default(),
    )
    .await
}

/// `GET /panel/{slug}/bilans/{id}/dni.csv`: the zone's days of a range.
pub async fn zone_csv(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
    PageQuery(q): PageQuery<RangeQuery>,
) -> Page {
    let session = ctx.staff(Permission::WaterBalance)?.clone();
    let (from, to) = q.range()?;
    let mut conn = state.pool.acquire().await?;
    let zone = views::zone(&mut conn, session.utility_id, id)
        .await?
        .ok_or(PageError::NotFound)?;
    let days = store::zone_periods(&mut conn, session.utility_id, from, to, Step::Day).await?;
    let mut out = String::new();
    csv_header(&mut out, &["Dzień"]);
    for p in days.get(&id).map(Vec::as_slice).unwrap_or_default() {
        out.push_str(&p.first_day.to_string());
        csv_figures(&mut out, p);
    }
    Ok(csv_response(
        format!("bilans-{}-{}-{from}-{to}.csv", ctx.utility.slug, zone.code),
        out,
    ))
}

/// Unbilled use, as the form sends it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UnbilledFields {
    dzien: String,
    rodzaj: String,
    ilosc: String,
    uwagi: String,
}

impl FormFields for UnbilledFields {
    const PAGE: &'static str = "/panel/{slug}/bilans/{id}";
}

/// The form's name of a field the balance names.
fn form_field(field: &str) -> &'static str {
    match field {
        "day" => "dzien",
        "litres" => "ilosc",
        "note" => "uwagi",
        "serial" | "register_max_litres" => "numer",
        "radio_id" => "adres_radiowy",
        "diameter_mm" => "srednica",
        "from_zone_id" => "skad",
        "into_zone_id" => "dokad",
        "account_id" => "pracownik",
        _ => "form",
    }
}

async fn refused(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    zone: i64,
    mut form: FormState,
    error: NetworkError,
) -> Page {
    match error {
        NetworkError::Invalid(problems) => {
            for (field, message) in problems {
                form.add(form_field(field), message);
            }
            zone_page(state, ctx, session, zone, None, form).await
        }
        other => Err(other.into()),
    }
}

/// `POST /panel/{slug}/bilans/{id}/zuzycie`
pub async fn enter_unbilled(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<UnbilledFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    ctx.staff(Permission::WaterBalance)?;
    let day = fields.dzien.trim().parse::<NaiveDate>().ok();
    let kind = UnbilledKind::parse(&fields.rodzaj);
    let litres = polish::parse_m3(&fields.ilosc);
    if day.is_none() {
        form.add("dzien", "Podaj dzień.");
    }
    if kind.is_none() {
        form.add("rodzaj", "Wybierz rodzaj zużycia.");
    }
    if litres.is_none() {
        form.add("ilosc", "Podaj ilość w m³, np. 12,5.");
    }
    let (Some(day), Some(kind), Some(litres)) = (day, kind, litres) else {
        return zone_page(&state, &ctx, &session, id, None, form).await;
    };
    let entry = UnbilledUse {
        zone_id: id,
        day,
        kind,
        litres,
        note: Some(fields.uwagi),
    };
    let mut tx = state.pool.begin().await?;
    match network::enter_unbilled_use(&mut tx, session.by(), &entry, local_day(Utc::now())).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(ctx.redirect(&format!("bilans/{id}?zapisano=zuzycie")))
        }
        Err(e) => refused(&state, &ctx, &session, id, form, e).await,
    }
}

/// A boundary meter, as the form sends it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MeterFields {
    numer: String,
    kanal: String,
    adres_radiowy: String,
    srednica: String,
    skad: String,
    dokad: String,
}

impl FormFields for MeterFields {
    const PAGE: &'static str = "/panel/{slug}/bilans/{id}";
}

/// A bulk meter's register: 9,999,999 m³, what a DN 50–300 bulk meter's display holds.
const BULK_REGISTER_LITRES: i64 = 9_999_999_999;

/// `POST /panel/{slug}/bilans/{id}/wodomierze`
pub async fn add_meter(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<MeterFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    ctx.staff(Permission::WaterBalance)?;
    let channel = match fields.kanal.as_str() {
        "modbus" => Some(Channel::Modbus),
        "radio" => Some(Channel::Radio),
        _ => None,
    };
    let diameter = match fields.srednica.trim() {
        "" => Ok(None),
        typed => typed.parse::<i16>().map(Some),
    };
    if channel.is_none() {
        form.add("kanal", "Wybierz, jak wodomierz jest odczytywany.");
    }
    if diameter.is_err() {
        form.add("srednica", "Średnica to liczba milimetrów, np. 150.");
    }
    let (Some(channel), Ok(diameter_mm)) = (channel, diameter) else {
        return zone_page(&state, &ctx, &session, id, None, form).await;
    };
    let meter = NewBoundaryMeter {
        serial: fields.numer,
        channel,
        radio_id: Some(fields.adres_radiowy).filter(|r| !r.trim().is_empty()),
        diameter_mm,
        register_max_litres: BULK_REGISTER_LITRES,
        from_zone: fields.skad.parse().ok(),
        into_zone: fields.dokad.parse().ok(),
        installed_at: Utc::now(),
    };
    if meter.from_zone != Some(id) && meter.into_zone != Some(id) {
        form.add(
            "dokad",
            "Wodomierz tej strefy mierzy wodę wpływającą do niej lub z niej wypływającą.",
        );
        return zone_page(&state, &ctx, &session, id, None, form).await;
    }
    let mut tx = state.pool.begin().await?;
    match network::add_boundary_meter(&mut tx, session.by(), &meter).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(ctx.redirect(&format!("bilans/{id}?zapisano=wodomierz")))
        }
        Err(e) => refused(&state, &ctx, &session, id, form, e).await,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StaffFields {
    pracownik: String,
}

impl FormFields for StaffFields {
    const PAGE: &'static str = "/panel/{slug}/bilans/{id}";
}

/// `POST /panel/{slug}/bilans/{id}/pracownicy`
pub async fn name_staff(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<StaffFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        form,
        ..
    } = post;
    ctx.staff(Permission::WaterBalance)?;
    let Ok(account) = fields.pracownik.parse::<i64>() else {
        let mut form = form;
        form.add("pracownik", "Wybierz pracownika z listy.");
        return zone_page(&state, &ctx, &session, id, None, form).await;
    };
    let mut tx = state.pool.begin().await?;
    match network::name_zone_staff(&mut tx, session.by(), id, account).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(ctx.redirect(&format!("bilans/{id}?zapisano=pracownik")))
        }
        Err(e) => refused(&state, &ctx, &session, id, form, e).await,
    }
}

struct HealthRow {
    meter_id: i64,
    serial: String,
    address: String,
    supply_point: String,
    zone: String,
    problems: Vec<String>,
}

fn problem_words(p: &Problem) -> String {
    match p {
        Problem::Stopped { since } => format!("{} od {}", p.polish(), polish::instant(*since)),
        Problem::StandingStill { since } => format!("{} od {}", p.polish(), polish::day(*since)),
        Problem::Backwards { on } => format!("{} ({})", p.polish(), polish::day(*on)),
        Problem::LegalisationPassed { on } => format!("{} ({})", p.polish(), polish::day(*on)),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/meter_health.html")]
struct HealthPage {
    layout: StaffLayout,
    rows: Vec<HealthRow>,
    /// (problem, how many meters have it)
    counts: Vec<(&'static str, usize)>,
}

async fn health_of(state: &AppState, utility_id: i64) -> Result<Vec<MeterHealth>, PageError> {
    let mut conn = state.pool.acquire().await?;
    Ok(health::meter_health(&mut conn, utility_id, local_day(Utc::now())).await?)
}

/// `GET /panel/{slug}/bilans/liczniki`
pub async fn meter_health(State(state): State<AppState>, ctx: StaffCtx) -> Page {
    let session = ctx.staff(Permission::WaterBalance)?.clone();
    let meters = health_of(&state, session.utility_id).await?;
    let kinds = [
        Problem::Stopped { since: Utc::now() }.polish(),
        Problem::StandingStill {
            since: NaiveDate::MIN,
        }
        .polish(),
        Problem::Backwards { on: NaiveDate::MIN }.polish(),
        Problem::LegalisationPassed { on: NaiveDate::MIN }.polish(),
    ];
    let counts = kinds
        .iter()
        .map(|k| {
            (
                *k,
                meters
                    .iter()
                    .filter(|m| m.problems.iter().any(|p| p.polish() == *k))
                    .count(),
            )
        })
        .collect();
    let rows = meters
        .into_iter()
        .map(|m| HealthRow {
            meter_id: m.meter_id,
            serial: m.serial,
            address: m.address,
            supply_point: m.supply_point,
            zone: m.zone.unwrap_or_default(),
            problems: m.problems.iter().map(problem_words).collect(),
        })
        .collect();
    Ok(HealthPage {
        layout: ctx.layout("bilans"),
        rows,
        counts,
    }
    .into_response())
}

/// `GET /panel/{slug}/bilans/liczniki.csv`
pub async fn meter_health_csv(State(state): State<AppState>, ctx: StaffCtx) -> Page {
    let session = ctx.staff(Permission::WaterBalance)?.clone();
    let meters = health_of(&state, session.utility_id).await?;
    let mut out = String::new();
    out.push(BOM);
    out.push_str(
        &["Strefa", "Adres", "Punkt poboru", "Wodomierz", "Problemy"].join(&SEPARATOR.to_string()),
    );
    out.push_str(LINE_END);
    for m in &meters {
        let problems: Vec<String> = m.problems.iter().map(problem_words).collect();
        let cells = [
            text_cell(m.zone.as_deref().unwrap_or("")),
            text_cell(&m.address),
            text_cell(&m.supply_point),
            text_cell(&m.serial),
            text_cell(&problems.join(", ")),
        ];
        out.push_str(&cells.join(&SEPARATOR.to_string()));
        out.push_str(LINE_END);
    }
    Ok(csv_response(
        format!("liczniki-do-wymiany-{}.csv", ctx.utility.slug),
        out,
    ))
}
