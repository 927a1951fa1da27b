//! `/u/{slug}/wizyty`: the booking calendar in the portal (seed 004 "rezerwacja terminów").
//! The resident's visits and the utility's calendars; a calendar's week of slots, free, taken
//! or closed by the utility (with its reason), each free one a button that books it (or, when
//! moving a visit, moves it there); a visit's page with its status, the move and cancel
//! actions until the calendar's notice, and its `.ics` download.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use chrono::Datelike;
use chrono::{DateTime, Days, NaiveDate, Utc};
use ebok_bookings::calendar::{HORIZON_DAYS, weekday_polish};
use ebok_bookings::store::{self, CalendarRow};
use ebok_bookings::views::{self, BookingView};
use ebok_common::domain::time::local_day;
use ebok_common::polish;
use serde::Deserialize;

use super::form::{FormFields, PortalForm, ResidentForm};
use super::form_state::FormState;
use super::page_error::{Page, PageError};
use super::params::{Id, PagePath, PageQuery};
use super::shell::{Ctx, Layout};
use crate::auth::web::PortalSession;
use crate::bookings::{self, Booker};
use crate::state::AppState;

/// Days a calendar page shows.
const WEEK: u64 = 7;

fn booker(session: &PortalSession) -> Booker {
    Booker {
        utility_id: session.utility_id,
        account_id: session.account_id,
    }
}

/// "poniedziałek, 7 grudnia 2026".
fn day_words(day: NaiveDate) -> String {
    format!("{}, {}", weekday_polish(day.weekday()), polish::day(day))
}

struct VisitLine {
    id: i64,
    calendar: String,
    when: String,
    status: String,
    upcoming: bool,
}

fn status_words(b: &BookingView, now: DateTime<Utc>) -> String {
    if b.moved_to.is_some() {
        return "Przeniesiona na inny termin".into();
    }
    match (&b.cancelled_at, &b.cancel_reason) {
        (Some(_), Some(reason)) => format!("Odwołana przez przedsiębiorstwo. Powód: {reason}"),
        (Some(_), None) => "Odwołana".into(),
        (None, _) if b.ends_at <= now => "Odbyta".into(),
        (None, _) => "Zarezerwowana".into(),
    }
}

fn visit_line(b: &BookingView, now: DateTime<Utc>) -> VisitLine {
    VisitLine {
        id: b.id,
        calendar: b.calendar.clone(),
        when: polish::instant(b.starts_at),
        status: status_words(b, now),
        upcoming: b.standing() && b.ends_at > now,
    }
}

struct CalendarLine {
    id: i64,
    name: String,
    place: Option<String>,
    length: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "bookings.html")]
struct BookingsPage {
    layout: Layout,
    visits: Vec<VisitLine>,
    calendars: Vec<CalendarLine>,
}

/// `GET /u/{slug}/wizyty`: the resident's visits and the calendars to book in.
pub async fn bookings_page(State(state): State<AppState>, ctx: Ctx) -> Page {
    let session = ctx.resident()?;
    let now = Utc::now();
    let mut conn = state.pool.acquire().await?;
    let visits = views::bookings_of(&mut conn, session.utility_id, session.account_id, now, 50)
        .await?
        .iter()
        .map(|b| visit_line(b, now))
        .collect();
    let calendars = store::calendars(&mut conn, session.utility_id)
        .await?
        .into_iter()
        .map(|c| CalendarLine {
            id: c.id,
            length: format!("{} min", c.rules.slot_minutes),
            name: c.name,
            place: c.place,
        })
        .collect();
    drop(conn);
    Ok(BookingsPage {
        layout: ctx.layout(&state, "wizyty").await,
        visits,
        calendars,
    }
    .into_response())
}

struct SlotLine {
    start: String,
    time: String,
    /// "wolne", "wolne: 2 z 3", "zajęte", "Twoja wizyta", "za późno", "odwołane".
    state: String,
    bookable: bool,
}

struct DayLine {
    words: String,
    /// Every slot closed for the same reason: the day's reason.
    closed_reason: Option<String>,
    slots: Vec<SlotLine>,
}

#[derive(Template, WebTemplate)]
#[template(path = "booking_calendar.html")]
struct CalendarPage {
    layout: Layout,
    csrf: String,
    id: i64,
    name: String,
    place: Option<String>,
    notice_hours: u32,
    /// Moving this visit (its time in words).
    moving: Option<(i64, String)>,
    days: Vec<DayLine>,
    from_words: String,
    previous: Option<String>,
    next: Option<String>,
    f: FormState,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CalendarQuery {
    /// The first day shown, `RRRR-MM-DD`.
    od: Option<NaiveDate>,
    /// The visit being moved.
    przenies: Option<i64>,
}

#[allow(clippy::too_many_arguments)]
async fn calendar_page(
    state: &AppState,
    ctx: &Ctx,
    session: &PortalSession,
    calendar: CalendarRow,
    from: Option<NaiveDate>,
    moving: Option<i64>,
    f: FormState,
) -> Page {
    let now = Utc::now();
    let today = local_day(now);
    let from = from
        .unwrap_or(today)
        .clamp(today, today + Days::new(HORIZON_DAYS));
    let to = from + Days::new(WEEK - 1);
    let mut conn = state.pool.acquire().await?;
    let moving = match moving {
        Some(id) => {
            let b =
                views::booking(&mut conn, session.utility_id, session.account_id, id, now).await?;
            if b.calendar_id != calendar.id {
                return Err(PageError::NotFound);
            }
            // Too late to move it now: the week is shown to book anew, the error says why.
            b.changeable.then(|| (b.id, polish::instant(b.starts_at)))
        }
        None => None,
    };
    let slots = views::slots(
        &mut conn,
        session.utility_id,
        &calendar,
        from,
        to,
        Some(session.account_id),
        now,
    )
    .await?;
    drop(conn);
    let mut days: Vec<DayLine> = Vec::new();
    for s in slots {
        let state = match (&s.closed_reason, s.mine) {
            (Some(_), _) => "odwołane".to_string(),
            (None, Some(_)) => "Twoja wizyta".into(),
            _ if s.free() == 0 => "zajęte".into(),
            _ if !calendar.rules.may_change(s.start, now) => "za późno".into(),
            _ if s.capacity > 1 => format!("wolne: {} z {}", s.free(), s.capacity),
            _ => "wolne".into(),
        };
        let line = SlotLine {
            start: s.start.to_rfc3339(),
            time: s.local_start.format("%H:%M").to_string(),
            state,
            bookable: s.bookable,
        };
        let words = day_words(s.day);
        match days.last_mut() {
            Some(d) if d.words == words => {
                if d.closed_reason != s.closed_reason {
                    d.closed_reason = None;
                }
                d.slots.push(line);
            }
            _ => days.push(DayLine {
                words,
                closed_reason: s.closed_reason.clone(),
                slots: vec![line],
            }),
        }
    }
    let link = |day: NaiveDate| {
        let mut q = format!("od={day}");
        if let Some((id, _)) = &moving {
            q.push_str(&format!("&przenies={id}"));
        }
        format!(
            "/u/{}/wizyty/kalendarze/{}?{q}",
            ctx.utility.slug, calendar.id
        )
    };
    let previous = (from > today).then(|| {
        link(
            from.checked_sub_days(Days::new(WEEK))
                .unwrap_or(today)
                .max(today),
        )
    });
    let next = (to < today + Days::new(HORIZON_DAYS)).then(|| link(to + Days::new(1)));
    Ok((
        f.status(),
        CalendarPage {
            layout: ctx.layout(state, "wizyty").await,
            csrf: session.csrf.clone(),
            id: calendar.id,
            name: calendar.name,
            place: calendar.place,
            notice_hours: calendar.rules.min_notice_hours,
            moving,
            days,
            from_words: format!("{} – {}", polish::day(from), polish::day(to)),
            previous,
            next,
            f,
        },
    )
        .into_response())
}

/// `GET /u/{slug}/wizyty/kalendarze/{id}[?od=…&przenies=…]`: a week of the calendar's slots.
pub async fn calendar(
    State(state): State<AppState>,
    ctx: Ctx,
    PagePath(Id { id }): PagePath<Id>,
    PageQuery(q): PageQuery<CalendarQuery>,
) -> Page {
    let session = ctx.resident()?.clone();
    let mut conn = state.pool.acquire().await?;
    let calendar = store::calendar(&mut conn, session.utility_id, id).await?;
    drop(conn);
    calendar_page(
        &state,
        &ctx,
        &session,
        calendar,
        q.od,
        q.przenies,
        FormState::default(),
    )
    .await
}

/// A free slot's button: its start; and the visit being moved, if any.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BookFields {
    start: String,
    przenies: String,
    od: String,
}

impl FormFields for BookFields {
    const PAGE: &'static str = "/u/{slug}/wizyty/kalendarze/{id}";
}

/// `POST /u/{slug}/wizyty/kalendarze/{id}`: books the slot (or moves a visit there).
pub async fn book(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: ResidentForm<BookFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    let moving = fields.przenies.trim().parse::<i64>().ok();
    let result = match DateTime::parse_from_rfc3339(fields.start.trim()) {
        Ok(_) if moving.is_none() && !fields.przenies.trim().is_empty() => {
            Err(crate::error::ApiError::NotFound)
        }
        Ok(start) => {
            let start = start.with_timezone(&Utc);
            match moving {
                Some(old) => bookings::move_to(&state, booker(&session), old, start).await,
                None => bookings::book(&state, booker(&session), id, start).await,
            }
        }
        Err(_) => Err(crate::error::ApiError::invalid(
            "start",
            "Wybierz termin z kalendarza.",
        )),
    };
    match result {
        Ok(new) => {
            let done = if moving.is_some() {
                "przeniesiono"
            } else {
                "zarezerwowano"
            };
            Ok(ctx.redirect(&format!("wizyty/{new}?{done}=1")))
        }
        Err(e) => {
            form.add_failure(e)?;
            let mut conn = state.pool.acquire().await?;
            let calendar = store::calendar(&mut conn, session.utility_id, id).await?;
            drop(conn);
            let from = fields.od.parse().ok();
            calendar_page(&state, &ctx, &session, calendar, from, moving, form).await
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "booking.html")]
struct VisitPage {
    layout: Layout,
    csrf: String,
    id: i64,
    calendar_id: i64,
    calendar: String,
    place: Option<String>,
    /// The visit's day: moving it starts from its week.
    day: NaiveDate,
    when: String,
    status: String,
    standing: bool,
    changeable: bool,
    moved_to: Option<i64>,
    notice: Option<&'static str>,
    f: FormState,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VisitQuery {
    zarezerwowano: Option<String>,
    przeniesiono: Option<String>,
    odwolano: Option<String>,
}

async fn visit_page(
    state: &AppState,
    ctx: &Ctx,
    session: &PortalSession,
    id: i64,
    notice: Option<&'static str>,
    f: FormState,
) -> Page {
    let now = Utc::now();
    let mut conn = state.pool.acquire().await?;
    let b = views::booking(&mut conn, session.utility_id, session.account_id, id, now).await?;
    drop(conn);
    Ok((
        f.status(),
        VisitPage {
            layout: ctx.layout(state, "wizyty").await,
            csrf: session.csrf.clone(),
            id: b.id,
            calendar_id: b.calendar_id,
            status: status_words(&b, now),
            calendar: b.calendar,
            place: b.place,
            day: local_day(b.starts_at),
            when: polish::instant(b.starts_at),
            standing: b.cancelled_at.is_none(),
            changeable: b.changeable,
            moved_to: b.moved_to,
            notice,
            f,
        },
    )
        .into_response())
}

/// `GET /u/{slug}/wizyty/{id}`: one visit.
pub async fn visit(
    State(state): State<AppState>,
    ctx: Ctx,
    PagePath(Id { id }): PagePath<Id>,
    PageQuery(q): PageQuery<VisitQuery>,
) -> Page {
    let session = ctx.resident()?.clone();
    let notice = if q.zarezerwowano.is_some() {
        Some("Zarezerwowano. Potwierdzenie wysłaliśmy też w powiadomieniu.")
    } else if q.przeniesiono.is_some() {
        Some("Termin zmieniony.")
    } else if q.odwolano.is_some() {
        Some("Wizyta odwołana, termin jest wolny dla innych.")
    } else {
        None
    };
    visit_page(&state, &ctx, &session, id, notice, FormState::default()).await
}

/// The cancel button: only the CSRF token.
#[derive(Debug, Default, Deserialize)]
pub struct CancelFields {}

impl FormFields for CancelFields {
    const PAGE: &'static str = "/u/{slug}/wizyty/{id}";
}

/// `POST /u/{slug}/wizyty/{id}/odwolaj`
pub async fn cancel(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: ResidentForm<CancelFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        mut form,
        ..
    } = post;
    match bookings::cancel(&state, booker(&session), id).await {
        Ok(()) => Ok(ctx.redirect(&format!("wizyty/{id}?odwolano=1"))),
        Err(e) => {
            form.add_failure(e)?;
            visit_page(&state, &ctx, &session, id, None, form).await
        }
    }
}

/// `GET /u/{slug}/wizyty/{id}/wizyta.ics`
pub async fn ics(
    State(state): State<AppState>,
    ctx: Ctx,
    PagePath(Id { id }): PagePath<Id>,
) -> Page {
    let session = ctx.resident()?;
    Ok(bookings::ics_download(&state, booker(session), id).await?)
}
