//! `/panel/{slug}/wizyty`: the booking calendars for the counter (`ManageBookings`).
//! - the calendars, each published with its working hours per weekday, slot length, places,
//!   notice and closed days, edited on one form checked field by field;
//! - a calendar's day: its slots with their places, the visits booked (who, when, cancelled
//!   why), a visit cancelled with a reason, the whole day closed with a reason (every resident
//!   booked is told, the calendar shows the reason) and opened again.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use chrono::{Datelike, NaiveDate, Utc, Weekday};
use ebok_bookings::calendar::{self, Calendar, Hours, weekday_polish};
use ebok_bookings::store::{self, BookingError, StaffAct};
use ebok_bookings::views;
use ebok_common::domain::time::local_day;
use ebok_common::polish;
use serde::Deserialize;

use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::FormState;
use crate::portal::page_error::Page;
use crate::portal::params::{Id, PagePath, PageQuery};
use crate::staff::Permission;
use crate::staff::sessions::StaffSession;
use crate::state::AppState;

const WEEKDAYS: [(Weekday, &str); 7] = [
    (Weekday::Mon, "mon"),
    (Weekday::Tue, "tue"),
    (Weekday::Wed, "wed"),
    (Weekday::Thu, "thu"),
    (Weekday::Fri, "fri"),
    (Weekday::Sat, "sat"),
    (Weekday::Sun, "sun"),
];

struct CalendarLine {
    id: i64,
    name: String,
    place: String,
    rules: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/booking_calendars.html")]
struct CalendarsPage {
    layout: StaffLayout,
    calendars: Vec<CalendarLine>,
}

/// `GET /panel/{slug}/wizyty`
pub async fn calendars(State(state): State<AppState>, ctx: StaffCtx) -> Page {
    let session = ctx.staff(Permission::ManageBookings)?.clone();
    let mut conn = state.pool.acquire().await?;
    let calendars = store::calendars(&mut conn, session.utility_id)
        .await?
        .into_iter()
        .map(|c| CalendarLine {
            id: c.id,
            rules: format!(
                "{} min, {} {}, zmiany do {} godz. przed",
                c.rules.slot_minutes,
                c.rules.capacity,
                polish::plural(c.rules.capacity.into(), "osoba", "osoby", "osób"),
                c.rules.min_notice_hours
            ),
            name: c.name,
            place: c.place.unwrap_or_else(|| "u klienta".into()),
        })
        .collect();
    Ok(CalendarsPage {
        layout: ctx.layout("wizyty"),
        calendars,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/booking_calendar_form.html")]
struct EditorPage {
    layout: StaffLayout,
    csrf: String,
    /// `None`: a new calendar.
    id: Option<i64>,
    weekdays: Vec<(&'static str, &'static str)>,
    f: FormState,
}

fn editor(ctx: &StaffCtx, csrf: &str, id: Option<i64>, f: FormState) -> Page {
    Ok((
        f.status(),
        EditorPage {
            layout: ctx.layout("wizyty"),
            csrf: csrf.to_string(),
            id,
            weekdays: WEEKDAYS
                .iter()
                .map(|(day, code)| (*code, weekday_polish(*day)))
                .collect(),
            f,
        },
    )
        .into_response())
}

/// `GET /panel/{slug}/wizyty/nowy`: an empty calendar, office hours filled in.
pub async fn new_form(ctx: StaffCtx) -> Page {
    let session = ctx.staff(Permission::ManageBookings)?.clone();
    let mut f = FormState::default()
        .with("dlugosc", "30")
        .with("miejsca", "1")
        .with("wyprzedzenie", "24");
    for (_, code) in &WEEKDAYS[..5] {
        f = f.with(&format!("godziny_{code}"), "8:00-15:00");
    }
    editor(&ctx, &session.csrf, None, f)
}

/// `GET /panel/{slug}/wizyty/{id}/ustawienia`
pub async fn edit_form(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
) -> Page {
    let session = ctx.staff(Permission::ManageBookings)?.clone();
    let mut conn = state.pool.acquire().await?;
    let c = store::calendar(&mut conn, session.utility_id, id).await?;
    let mut f = FormState::default()
        .with("kod", c.code)
        .with("nazwa", c.name)
        .with("miejsce", c.place.unwrap_or_default())
        .with("dlugosc", c.rules.slot_minutes.to_string())
        .with("miejsca", c.rules.capacity.to_string())
        .with("wyprzedzenie", c.rules.min_notice_hours.to_string())
        .with(
            "zamkniete",
            c.rules
                .closed
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        );
    for (day, code) in WEEKDAYS {
        f = f.with(
            &format!("godziny_{code}"),
            calendar::format_spans(&c.rules.hours, day),
        );
    }
    editor(&ctx, &session.csrf, Some(id), f)
}

/// The editor's fields (hours per weekday are read from the form's values by name).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CalendarFields {
    kod: String,
    nazwa: String,
    miejsce: String,
    dlugosc: String,
    miejsca: String,
    wyprzedzenie: String,
    zamkniete: String,
}

impl FormFields for CalendarFields {
    const PAGE: &'static str = "/panel/{slug}/wizyty";
}

/// The calendar the form describes, or the form with its errors at their fields.
fn read_calendar(fields: &CalendarFields, form: &mut FormState) -> Option<Calendar> {
    let mut number = |name: &str, typed: &str| -> u32 {
        typed.trim().parse().unwrap_or_else(|_| {
            form.add(name, "Podaj liczbę całkowitą.");
            0
        })
    };
    let slot_minutes = number("dlugosc", &fields.dlugosc);
    let capacity = number("miejsca", &fields.miejsca);
    let min_notice_hours = number("wyprzedzenie", &fields.wyprzedzenie);
    let mut hours = Vec::new();
    for (weekday, code) in WEEKDAYS {
        let name = format!("godziny_{code}");
        match calendar::parse_spans(form.value(&name)) {
            Ok(spans) => hours.extend(spans.into_iter().map(|(opens, closes)| Hours {
                weekday,
                opens,
                closes,
            })),
            Err(message) => form.add(name, message),
        }
    }
    let mut closed = std::collections::BTreeSet::new();
    for line in fields
        .zamkniete
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        match NaiveDate::parse_from_str(line, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(line, "%d.%m.%Y"))
        {
            Ok(day) => {
                closed.insert(day);
            }
            Err(_) => form.add(
                "zamkniete",
                format!("„{line}” to nie data: wpisz np. 2026-12-31 lub 31.12.2026."),
            ),
        }
    }
    if fields.nazwa.trim().is_empty() {
        form.add("nazwa", "Podaj nazwę kalendarza, np. Wymiana wodomierza.");
    }
    if hours.is_empty() && !form.has_errors() {
        form.add(
            "godziny_mon",
            "Podaj godziny pracy przynajmniej jednego dnia.",
        );
    }
    if form.has_errors() {
        return None;
    }
    let rules = Calendar {
        hours,
        slot_minutes,
        capacity: capacity.min(u32::from(u16::MAX)) as u16,
        closed,
        min_notice_hours,
    };
    if let Err(problems) = rules.check() {
        for p in problems {
            form.add("form", p);
        }
        return None;
    }
    Some(rules)
}

async fn save(
    state: &AppState,
    ctx: &StaffCtx,
    csrf: &str,
    utility_id: i64,
    id: Option<i64>,
    fields: CalendarFields,
    mut form: FormState,
) -> Page {
    let Some(rules) = read_calendar(&fields, &mut form) else {
        return editor(ctx, csrf, id, form);
    };
    let place = Some(fields.miejsce.as_str());
    let mut tx = state.pool.begin().await?;
    let saved = match id {
        Some(id) => {
            let code = store::calendar(&mut tx, utility_id, id).await?.code;
            store::publish(&mut tx, utility_id, &code, &fields.nazwa, place, &rules).await
        }
        None => {
            let code = fields.kod.trim().to_lowercase();
            let well_formed = code.len() <= 40
                && code.starts_with(|c: char| c.is_ascii_lowercase())
                && code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !well_formed {
                form.add(
                    "kod",
                    "Kod to małe litery bez polskich znaków, cyfry i _, np. wymiana_wodomierza.",
                );
                return editor(ctx, csrf, id, form);
            }
            store::create(&mut tx, utility_id, &code, &fields.nazwa, place, &rules).await
        }
    };
    match saved {
        Ok(saved) => {
            tx.commit().await?;
            Ok(ctx.redirect(&format!("wizyty/{saved}?zapisano=1")))
        }
        Err(BookingError::CodeTaken) => {
            form.add("kod", BookingError::CodeTaken.message_pl());
            editor(ctx, csrf, id, form)
        }
        Err(BookingError::Invalid(problems)) => {
            for p in problems {
                form.add("form", p);
            }
            editor(ctx, csrf, id, form)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /panel/{slug}/wizyty/nowy`
pub async fn create(State(state): State<AppState>, post: StaffForm<CalendarFields>) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        form,
        ..
    } = post;
    ctx.staff(Permission::ManageBookings)?;
    save(
        &state,
        &ctx,
        &session.csrf,
        session.utility_id,
        None,
        fields,
        form,
    )
    .await
}

/// `POST /panel/{slug}/wizyty/{id}/ustawienia`
pub async fn update(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<CalendarFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        form,
        ..
    } = post;
    ctx.staff(Permission::ManageBookings)?;
    save(
        &state,
        &ctx,
        &session.csrf,
        session.utility_id,
        Some(id),
        fields,
        form,
    )
    .await
}

struct SlotLine {
    time: String,
    places: String,
    closed_reason: Option<String>,
}

struct VisitLine {
    id: i64,
    time: String,
    who: String,
    email: String,
    cancelled: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/booking_day.html")]
struct DayPage {
    layout: StaffLayout,
    csrf: String,
    id: i64,
    name: String,
    day: NaiveDate,
    day_words: String,
    previous: NaiveDate,
    next: NaiveDate,
    slots: Vec<SlotLine>,
    visits: Vec<VisitLine>,
    /// Some slot still open to close, some closed to open.
    closable: bool,
    reopenable: bool,
    notice: Option<String>,
    f: FormState,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DayQuery {
    dzien: Option<NaiveDate>,
    zapisano: Option<String>,
    odwolano: Option<usize>,
    otwarto: Option<String>,
}

async fn day_page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    id: i64,
    day: NaiveDate,
    notice: Option<String>,
    f: FormState,
) -> Page {
    let now = Utc::now();
    let utility_id = session.utility_id;
    let mut conn = state.pool.acquire().await?;
    let c = store::calendar(&mut conn, utility_id, id).await?;
    let slots = views::slots(&mut conn, utility_id, &c, day, day, None, now).await?;
    let visits = views::day(&mut conn, utility_id, id, day).await?;
    drop(conn);
    Ok((
        f.status(),
        DayPage {
            layout: ctx.layout("wizyty"),
            csrf: session.csrf.clone(),
            id,
            name: c.name,
            day,
            day_words: format!("{}, {}", weekday_polish(day.weekday()), polish::day(day)),
            previous: day.pred_opt().unwrap_or(day),
            next: day.succ_opt().unwrap_or(day),
            closable: slots
                .iter()
                .any(|s| s.closed_reason.is_none() && s.start > now),
            reopenable: slots.iter().any(|s| s.closed_reason.is_some()),
            slots: slots
                .iter()
                .map(|s| SlotLine {
                    time: s.local_start.format("%H:%M").to_string(),
                    places: format!("{} z {}", s.taken, s.capacity),
                    closed_reason: s.closed_reason.clone(),
                })
                .collect(),
            visits: visits
                .into_iter()
                .map(|v| VisitLine {
                    id: v.id,
                    time: polish::clock(v.starts_at),
                    who: v.who,
                    email: v.email,
                    cancelled: v.cancelled_at.map(|_| match v.cancel_reason {
                        Some(reason) => format!("odwołana przez nas: {reason}"),
                        None => "odwołana przez klienta".into(),
                    }),
                })
                .collect(),
            notice,
            f,
        },
    )
        .into_response())
}

/// `GET /panel/{slug}/wizyty/{id}[?dzien=RRRR-MM-DD]`: one day of a calendar.
pub async fn day(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
    PageQuery(q): PageQuery<DayQuery>,
) -> Page {
    let session = ctx.staff(Permission::ManageBookings)?.clone();
    let day = day_from(&q.dzien.map(|d| d.to_string()).unwrap_or_default());
    let notice = if q.zapisano.is_some() {
        Some("Zapisano kalendarz. Mieszkańcy widzą już nowe terminy.".to_string())
    } else if let Some(n) = q.odwolano {
        Some(if n == 0 {
            "Odwołano. Nikt nie miał tu wizyty.".to_string()
        } else {
            format!(
                "Odwołano {n} {}; klienci dostaną powiadomienie z powodem.",
                polish::plural(n as i64, "wizytę", "wizyty", "wizyt")
            )
        })
    } else {
        q.otwarto
            .map(|_| "Terminy znów są dostępne do rezerwacji.".to_string())
    };
    day_page(
        &state,
        &ctx,
        &session,
        id,
        day,
        notice,
        FormState::default(),
    )
    .await
}

/// A day's closing or opening, or a visit's cancelling: the day shown and the reason.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReasonFields {
    dzien: String,
    powod: String,
}

impl FormFields for ReasonFields {
    const PAGE: &'static str = "/panel/{slug}/wizyty/{id}";
}

/// The day a form was sent from; today when it is not a day (or absurdly far off).
fn day_from(typed: &str) -> NaiveDate {
    let today = local_day(Utc::now());
    typed
        .parse::<NaiveDate>()
        .ok()
        .filter(|d| (d.year() - today.year()).abs() <= 10)
        .unwrap_or(today)
}

fn day_of(fields: &ReasonFields) -> NaiveDate {
    day_from(&fields.dzien)
}

/// `POST /panel/{slug}/wizyty/{id}/zamknij`: closes the day's slots still to come.
pub async fn close_day(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<ReasonFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    ctx.staff(Permission::ManageBookings)?;
    let day = day_of(&fields);
    let act = StaffAct {
        utility_id: session.utility_id,
        staff_id: session.account_id,
        reason: &fields.powod,
        now: Utc::now(),
    };
    let mut tx = state.pool.begin().await?;
    match store::close(&mut tx, act, id, day, None).await {
        Ok(cancelled) => {
            tx.commit().await?;
            Ok(ctx.redirect(&format!(
                "wizyty/{id}?dzien={day}&odwolano={}",
                cancelled.len()
            )))
        }
        Err(BookingError::NotFound) => Err(BookingError::NotFound.into()),
        Err(e) => {
            drop(tx);
            form.add("powod", e.message_pl());
            day_page(&state, &ctx, &session, id, day, None, form).await
        }
    }
}

/// `POST /panel/{slug}/wizyty/{id}/otworz`: opens the day's closed slots again.
pub async fn reopen_day(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<ReasonFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        ..
    } = post;
    ctx.staff(Permission::ManageBookings)?;
    let day = day_of(&fields);
    let mut tx = state.pool.begin().await?;
    store::calendar(&mut tx, session.utility_id, id).await?;
    store::reopen(
        &mut tx,
        session.utility_id,
        session.account_id,
        id,
        day,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(ctx.redirect(&format!("wizyty/{id}?dzien={day}&otwarto=1")))
}

#[derive(Debug, Deserialize)]
pub struct VisitPath {
    id: i64,
    visit: i64,
}

/// One visit's cancelling: the day shown and the reason.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VisitReasonFields {
    dzien: String,
    powod_wizyty: String,
}

impl FormFields for VisitReasonFields {
    const PAGE: &'static str = "/panel/{slug}/wizyty/{id}";
}

/// `POST /panel/{slug}/wizyty/{id}/rezerwacje/{visit}/odwolaj`: cancels one visit.
pub async fn cancel_visit(
    State(state): State<AppState>,
    PagePath(VisitPath { id, visit }): PagePath<VisitPath>,
    post: StaffForm<VisitReasonFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    ctx.staff(Permission::ManageBookings)?;
    let day = day_from(&fields.dzien);
    let act = StaffAct {
        utility_id: session.utility_id,
        staff_id: session.account_id,
        reason: &fields.powod_wizyty,
        now: Utc::now(),
    };
    let mut tx = state.pool.begin().await?;
    match store::cancel_by_staff(&mut tx, act, visit).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(ctx.redirect(&format!("wizyty/{id}?dzien={day}&odwolano=1")))
        }
        Err(BookingError::NotFound) => Err(BookingError::NotFound.into()),
        Err(e) => {
            drop(tx);
            form.add(format!("powod-{visit}"), e.message_pl());
            day_page(&state, &ctx, &session, id, day, None, form).await
        }
    }
}
