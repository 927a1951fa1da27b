//! The booking calendar for the app (seed 004 "rezerwacja terminów"): the utility's calendars,
//! their slots with free places, and the resident's bookings — made, moved, cancelled, and
//! downloaded as an `.ics` event. The twins of the portal's `/u/{slug}/wizyty`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Days, NaiveDate, Utc};
use ebok_bookings::calendar::HORIZON_DAYS;
use ebok_bookings::store;
use ebok_bookings::views::{self, BookingView, SlotView};
use ebok_common::domain::time::local_day;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Resident;
use crate::bookings::{self, Booker};
use crate::error::{ApiError, Problem};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

/// The longest span of days one slots request covers.
const MAX_DAYS: u64 = 31;

fn booker(who: &Resident) -> Booker {
    Booker {
        utility_id: who.utility_id,
        account_id: who.account_id,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarOut {
    pub id: i64,
    pub name: String,
    /// Where the visit takes place; absent: at the resident's.
    pub place: Option<String>,
    pub slot_minutes: u32,
    /// People one slot takes.
    pub capacity: u16,
    /// Hours before a slot after which a booking can no longer be made, moved or cancelled.
    pub min_notice_hours: u32,
}

/// The utility's calendars the resident may book in.
#[utoipa::path(get, path = "/booking-calendars", tag = "bookings", security(("bearer" = [])),
    responses((status = 200, body = Vec<CalendarOut>), (status = 401, body = Problem)))]
pub async fn calendars(
    State(state): State<AppState>,
    who: Resident,
) -> Result<Json<Vec<CalendarOut>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        store::calendars(&mut conn, who.utility_id)
            .await?
            .into_iter()
            .map(|c| CalendarOut {
                id: c.id,
                name: c.name,
                place: c.place,
                slot_minutes: c.rules.slot_minutes,
                capacity: c.rules.capacity,
                min_notice_hours: c.rules.min_notice_hours,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SlotsQuery {
    /// The first day (Warsaw), `YYYY-MM-DD`; today when absent.
    pub from: Option<NaiveDate>,
    /// The last day, at most 31 days after `from`; a week after `from` when absent.
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlotOut {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub capacity: u16,
    /// Places still free (0 when full or closed).
    pub free: u16,
    /// Closed by the utility, for this reason.
    pub closed_reason: Option<String>,
    /// The resident's own booking of this slot.
    pub my_booking_id: Option<i64>,
    /// It can be booked now.
    pub bookable: bool,
}

impl From<SlotView> for SlotOut {
    fn from(s: SlotView) -> Self {
        SlotOut {
            start: s.start,
            end: s.end,
            capacity: s.capacity,
            free: s.free(),
            my_booking_id: s.mine,
            bookable: s.bookable,
            closed_reason: s.closed_reason,
        }
    }
}

/// A calendar's slots over some days, free, taken or closed.
#[utoipa::path(get, path = "/booking-calendars/{id}/slots", tag = "bookings",
    security(("bearer" = [])), params(("id" = i64, Path), SlotsQuery),
    responses((status = 200, body = Vec<SlotOut>), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn slots(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
    Query(q): Query<SlotsQuery>,
) -> Result<Json<Vec<SlotOut>>, ApiError> {
    let now = Utc::now();
    let today = local_day(now);
    let from = q.from.unwrap_or(today);
    if from < today - Days::new(1) || from > today + Days::new(HORIZON_DAYS) {
        return Err(ApiError::invalid(
            "from",
            format!("Podaj dzień od dziś do {HORIZON_DAYS} dni naprzód."),
        ));
    }
    let to = q.to.or_else(|| from.checked_add_days(Days::new(6)));
    let last = from.checked_add_days(Days::new(MAX_DAYS));
    let Some(to) = to.filter(|to| *to >= from && last.is_some_and(|last| *to <= last)) else {
        return Err(ApiError::invalid(
            "to",
            format!("Podaj dzień końcowy od `from` do {MAX_DAYS} dni później."),
        ));
    };
    let mut conn = state.pool.acquire().await?;
    let calendar = store::calendar(&mut conn, who.utility_id, id).await?;
    let slots = views::slots(
        &mut conn,
        who.utility_id,
        &calendar,
        from,
        to,
        Some(who.account_id),
        now,
    )
    .await?;
    Ok(Json(slots.into_iter().map(SlotOut::from).collect()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BookingOut {
    pub id: i64,
    pub calendar_id: i64,
    pub calendar: String,
    pub place: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub booked_at: DateTime<Utc>,
    /// `booked`, `moved` or `cancelled`.
    pub status: String,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Cancelled by the utility, for this reason.
    pub cancel_reason: Option<String>,
    /// Moved: the booking that replaced it.
    pub moved_to: Option<i64>,
    /// It can still be moved or cancelled.
    pub changeable: bool,
}

impl From<BookingView> for BookingOut {
    fn from(b: BookingView) -> Self {
        BookingOut {
            status: if b.standing() {
                "booked"
            } else if b.moved_to.is_some() {
                "moved"
            } else {
                "cancelled"
            }
            .into(),
            id: b.id,
            calendar_id: b.calendar_id,
            calendar: b.calendar,
            place: b.place,
            start: b.starts_at,
            end: b.ends_at,
            booked_at: b.booked_at,
            cancelled_at: b.cancelled_at,
            cancel_reason: b.cancel_reason,
            moved_to: b.moved_to,
            changeable: b.changeable,
        }
    }
}

async fn one(state: &AppState, who: &Resident, id: i64) -> Result<BookingOut, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(
        views::booking(&mut conn, who.utility_id, who.account_id, id, Utc::now())
            .await?
            .into(),
    )
}

/// The resident's bookings: those to come first, then past and cancelled ones.
#[utoipa::path(get, path = "/bookings", tag = "bookings", security(("bearer" = [])),
    responses((status = 200, body = Vec<BookingOut>), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    who: Resident,
) -> Result<Json<Vec<BookingOut>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let list =
        views::bookings_of(&mut conn, who.utility_id, who.account_id, Utc::now(), 100).await?;
    Ok(Json(list.into_iter().map(BookingOut::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewBooking {
    pub calendar_id: i64,
    /// The slot's start, as `GET /booking-calendars/{id}/slots` gives it.
    pub start: DateTime<Utc>,
}

/// Book a slot. A full, closed or too-soon slot is refused (409), never overbooked.
#[utoipa::path(post, path = "/bookings", tag = "bookings", security(("bearer" = [])),
    request_body = NewBooking,
    responses((status = 201, body = BookingOut), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn book(
    State(state): State<AppState>,
    who: Resident,
    Json(body): Json<NewBooking>,
) -> Result<(StatusCode, Json<BookingOut>), ApiError> {
    let id = bookings::book(&state, booker(&who), body.calendar_id, body.start)
        .await
        .map_err(|e| match e {
            ApiError::NotFound => {
                ApiError::invalid("calendar_id", "Nie ma takiego kalendarza wizyt.")
            }
            other => other,
        })?;
    Ok((StatusCode::CREATED, Json(one(&state, &who, id).await?)))
}

/// One booking.
#[utoipa::path(get, path = "/bookings/{id}", tag = "bookings", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = BookingOut), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
) -> Result<Json<BookingOut>, ApiError> {
    Ok(Json(one(&state, &who, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MoveTo {
    /// The new slot's start, in the same calendar.
    pub start: DateTime<Utc>,
}

/// Move a booking to another slot of its calendar: the booking that replaces it. When the new
/// slot cannot be had, the booking stays as it was.
#[utoipa::path(post, path = "/bookings/{id}/move", tag = "bookings", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = MoveTo,
    responses((status = 200, body = BookingOut), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn move_to(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
    Json(body): Json<MoveTo>,
) -> Result<Json<BookingOut>, ApiError> {
    let new = bookings::move_to(&state, booker(&who), id, body.start).await?;
    Ok(Json(one(&state, &who, new).await?))
}

/// Cancel a booking (until the calendar's notice): its place is freed.
#[utoipa::path(post, path = "/bookings/{id}/cancel", tag = "bookings", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = BookingOut), (status = 404, body = Problem),
              (status = 409, body = Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
) -> Result<Json<BookingOut>, ApiError> {
    bookings::cancel(&state, booker(&who), id).await?;
    Ok(Json(one(&state, &who, id).await?))
}

/// The booking as an iCalendar event, for the phone's calendar.
#[utoipa::path(get, path = "/bookings/{id}/ics", tag = "bookings", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, content_type = "text/calendar", body = String),
              (status = 404, body = Problem)))]
pub async fn ics(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    bookings::ics_download(&state, booker(&who), id).await
}
