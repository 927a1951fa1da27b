//! What residents and staff read of the calendars: a calendar's slots over some days with
//! their free places (and a closure's reason), a resident's bookings, and the bookings of one
//! day for staff. Read-only; every query is scoped by the utility (and, for a resident, by
//! their account).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use ebok_common::domain::time::day_bounds;
use sqlx::PgConnection;

use crate::calendar::Calendar;
use crate::store::{BookingError, CalendarRow};

/// A slot as a resident sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotView {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub day: NaiveDate,
    pub local_start: NaiveTime,
    pub capacity: u16,
    pub taken: u16,
    /// Staff closed it, for this reason.
    pub closed_reason: Option<String>,
    /// The viewer's own booking of it.
    pub mine: Option<i64>,
    /// It may still be booked (the calendar's notice).
    pub bookable: bool,
}

impl SlotView {
    pub fn free(&self) -> u16 {
        if self.closed_reason.is_some() {
            0
        } else {
            self.capacity.saturating_sub(self.taken)
        }
    }
}

/// The slots of `calendar` from `from` to `to` (Warsaw days) with their places, as `viewer`
/// (a resident's account, if any) sees them `now`.
pub async fn slots(
    conn: &mut PgConnection,
    utility_id: i64,
    calendar: &CalendarRow,
    from: NaiveDate,
    to: NaiveDate,
    viewer: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Vec<SlotView>, BookingError> {
    let offered = calendar.rules.slots(from, to);
    let (Some(first), Some(last)) = (offered.first(), offered.last()) else {
        return Ok(Vec::new());
    };
    let rows = sqlx::query!(
        r#"SELECT s.starts_at, s.capacity, s.taken, s.closed_reason,
                  (SELECT b.id FROM bookings b
                   WHERE b.slot_id = s.id AND b.account_id = $5 AND b.cancelled_at IS NULL) AS mine
           FROM booking_slots s
           WHERE s.utility_id = $1 AND s.calendar_id = $2 AND s.starts_at BETWEEN $3 AND $4"#,
        utility_id,
        calendar.id,
        first.start,
        last.start,
        viewer
    )
    .fetch_all(conn)
    .await?;
    let known: HashMap<DateTime<Utc>, _> = rows.into_iter().map(|r| (r.starts_at, r)).collect();
    Ok(offered
        .into_iter()
        .map(|s| {
            let row = known.get(&s.start);
            let closed_reason = row.and_then(|r| r.closed_reason.clone());
            let view = SlotView {
                start: s.start,
                end: s.end,
                day: s.day,
                local_start: s.local_start,
                capacity: row.map_or(calendar.rules.capacity, |r| r.capacity as u16),
                taken: row.map_or(0, |r| r.taken as u16),
                closed_reason,
                mine: row.and_then(|r| r.mine),
                bookable: calendar.rules.may_change(s.start, now),
            };
            SlotView {
                bookable: view.bookable && view.free() > 0 && view.mine.is_none(),
                ..view
            }
        })
        .collect())
}

/// A booking as its resident sees it.
#[derive(Debug, Clone)]
pub struct BookingView {
    pub id: i64,
    pub calendar_id: i64,
    pub calendar: String,
    /// Where; `None`: at the resident's.
    pub place: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub booked_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Cancelled by the utility, for this reason.
    pub cancel_reason: Option<String>,
    /// Moved: the booking that replaced it.
    pub moved_to: Option<i64>,
    /// It may still be moved or cancelled (the calendar's notice).
    pub changeable: bool,
}

impl BookingView {
    pub fn standing(&self) -> bool {
        self.cancelled_at.is_none()
    }
}

struct Row {
    id: i64,
    calendar_id: i64,
    calendar: String,
    place: Option<String>,
    rules: serde_json::Value,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    booked_at: DateTime<Utc>,
    cancelled_at: Option<DateTime<Utc>>,
    cancel_reason: Option<String>,
    moved_to: Option<i64>,
}

fn view(r: Row, now: DateTime<Utc>) -> Result<BookingView, BookingError> {
    let rules: Calendar = serde_json::from_value(r.rules)
        .map_err(|e| BookingError::Db(sqlx::Error::Decode(Box::new(e))))?;
    Ok(BookingView {
        id: r.id,
        calendar_id: r.calendar_id,
        calendar: r.calendar,
        place: r.place,
        starts_at: r.starts_at,
        ends_at: r.ends_at,
        booked_at: r.booked_at,
        changeable: r.cancelled_at.is_none() && rules.may_change(r.starts_at, now),
        cancelled_at: r.cancelled_at,
        cancel_reason: r.cancel_reason,
        moved_to: r.moved_to,
    })
}

/// The resident's bookings: those to come first (soonest first), then the past and cancelled
/// ones (newest first), at most `limit`. A moved booking's old place is left out: the new one
/// stands for it.
pub async fn bookings_of(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<BookingView>, BookingError> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT b.id, s.calendar_id, c.name AS calendar, c.place, c.rules, s.starts_at, s.ends_at,
                  b.booked_at, b.cancelled_at, b.cancel_reason, b.moved_to
           FROM bookings b
           JOIN booking_slots s ON s.id = b.slot_id
           JOIN booking_calendars c ON c.id = s.calendar_id
           WHERE b.utility_id = $1 AND b.account_id = $2 AND b.moved_to IS NULL
           ORDER BY (b.cancelled_at IS NULL AND s.ends_at > $3) DESC,
                    CASE WHEN b.cancelled_at IS NULL AND s.ends_at > $3 THEN s.starts_at END,
                    s.starts_at DESC
           LIMIT $4"#,
        utility_id,
        account_id,
        now,
        limit
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(|r| view(r, now)).collect()
}

/// One booking of the resident's.
pub async fn booking(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
    booking_id: i64,
    now: DateTime<Utc>,
) -> Result<BookingView, BookingError> {
    let row = sqlx::query_as!(
        Row,
        r#"SELECT b.id, s.calendar_id, c.name AS calendar, c.place, c.rules, s.starts_at, s.ends_at,
                  b.booked_at, b.cancelled_at, b.cancel_reason, b.moved_to
           FROM bookings b
           JOIN booking_slots s ON s.id = b.slot_id
           JOIN booking_calendars c ON c.id = s.calendar_id
           WHERE b.utility_id = $1 AND b.account_id = $2 AND b.id = $3"#,
        utility_id,
        account_id,
        booking_id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(BookingError::NotFound)?;
    view(row, now)
}

/// One booking of a day, as staff see it.
#[derive(Debug, Clone)]
pub struct DayBooking {
    pub id: i64,
    pub starts_at: DateTime<Utc>,
    pub account_id: i64,
    /// The resident's name as their account has it.
    pub who: String,
    pub email: String,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
}

/// The bookings of calendar `calendar_id` on Warsaw day `day`, by time, cancelled ones
/// included (moves left out).
pub async fn day(
    conn: &mut PgConnection,
    utility_id: i64,
    calendar_id: i64,
    day: NaiveDate,
) -> Result<Vec<DayBooking>, BookingError> {
    let (from, to) = day_bounds(day);
    Ok(sqlx::query_as!(
        DayBooking,
        r#"SELECT b.id, s.starts_at, b.account_id,
                  ua.display_name AS who, ua.email,
                  b.cancelled_at, b.cancel_reason
           FROM bookings b
           JOIN booking_slots s ON s.id = b.slot_id
           JOIN user_accounts ua ON ua.id = b.account_id
           WHERE b.utility_id = $1 AND s.calendar_id = $2
             AND s.starts_at >= $3 AND s.starts_at < $4 AND b.moved_to IS NULL
           ORDER BY s.starts_at, b.id"#,
        utility_id,
        calendar_id,
        from,
        to
    )
    .fetch_all(conn)
    .await?)
}
