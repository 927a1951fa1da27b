//! Calendars and bookings in PostgreSQL (migration 0029). A booking takes a place in its slot
//! with one conditional `UPDATE … SET taken = taken + 1 WHERE taken < capacity`: PostgreSQL
//! locks the slot's row and checks the condition again after any other booking of it commits,
//! so exactly as many people as there are places get one, and the `never_overbooked` CHECK
//! stands behind it. Nothing is checked first and inserted after.

use chrono::{DateTime, Utc};
use ebok_common::domain::time::local_day;
use sqlx::PgConnection;

use crate::calendar::Calendar;

/// Why a booking was not made.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("no such calendar or booking")]
    NotFound,
    /// The calendar does not offer this time (Polish for the resident).
    #[error("not a slot: {0}")]
    NotASlot(String),
    /// Every place is taken.
    #[error("the slot is full")]
    Full,
    #[error("already booked")]
    AlreadyBooked,
    /// Too late to book, move or cancel.
    #[error("too late")]
    TooLate,
    #[error("the calendar's rules cannot work: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl BookingError {
    /// What the resident reads.
    pub fn message_pl(&self) -> String {
        match self {
            BookingError::NotFound => "Nie znaleziono.".into(),
            BookingError::NotASlot(m) => m.clone(),
            BookingError::Full => "Ten termin jest już zajęty. Wybierz inny.".into(),
            BookingError::AlreadyBooked => "Ten termin jest już przez Ciebie zarezerwowany.".into(),
            BookingError::TooLate => {
                "Na ten termin jest już za późno: rezerwację można zmienić najpóźniej z \
                 wyprzedzeniem podanym w kalendarzu."
                    .into()
            }
            BookingError::Invalid(problems) => problems.join(" "),
            BookingError::Db(_) => "Wystąpił błąd po naszej stronie.".into(),
        }
    }
}

/// Publishes (or replaces the rules of) calendar `code` of utility `utility_id`; its id.
pub async fn publish(
    conn: &mut PgConnection,
    utility_id: i64,
    code: &str,
    name: &str,
    rules: &Calendar,
) -> Result<i64, BookingError> {
    rules.check().map_err(BookingError::Invalid)?;
    let json = serde_json::to_value(rules).expect("a calendar serialises");
    Ok(sqlx::query_scalar!(
        r#"INSERT INTO booking_calendars (utility_id, code, name, rules) VALUES ($1, $2, $3, $4)
           ON CONFLICT (utility_id, code) DO UPDATE SET name = excluded.name, rules = excluded.rules
           RETURNING id"#,
        utility_id,
        code,
        name,
        json
    )
    .fetch_one(conn)
    .await?)
}

/// Books a place for resident account `account_id` in the slot of calendar `calendar_id`
/// starting at `start`, `now`; the booking's id.
pub async fn book(
    conn: &mut PgConnection,
    utility_id: i64,
    calendar_id: i64,
    account_id: i64,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64, BookingError> {
    let rules = sqlx::query_scalar!(
        r#"SELECT rules FROM booking_calendars
           WHERE utility_id = $1 AND id = $2 AND active"#,
        utility_id,
        calendar_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(BookingError::NotFound)?;
    let calendar: Calendar =
        serde_json::from_value(rules).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let day = local_day(start);
    let slot = calendar
        .slots(day, day)
        .into_iter()
        .find(|s| s.start == start)
        .ok_or_else(|| BookingError::NotASlot("Kalendarz nie ma wizyty o tej godzinie.".into()))?;
    if !calendar.may_change(slot.start, now) {
        return Err(BookingError::TooLate);
    }
    sqlx::query!(
        r#"INSERT INTO booking_slots (utility_id, calendar_id, starts_at, ends_at, capacity)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (calendar_id, starts_at) DO NOTHING"#,
        utility_id,
        calendar_id,
        slot.start,
        slot.end,
        calendar.capacity as i16
    )
    .execute(&mut *conn)
    .await?;
    let taken = sqlx::query_scalar!(
        r#"UPDATE booking_slots SET taken = taken + 1
           WHERE calendar_id = $1 AND starts_at = $2 AND taken < capacity
           RETURNING id"#,
        calendar_id,
        slot.start
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(BookingError::Full)?;
    let id = sqlx::query_scalar!(
        r#"INSERT INTO bookings (utility_id, slot_id, account_id) VALUES ($1, $2, $3)
           RETURNING id"#,
        utility_id,
        taken,
        account_id
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.constraint() == Some("bookings_one_per_person") => {
            BookingError::AlreadyBooked
        }
        _ => BookingError::Db(e),
    })?;
    Ok(id)
}

/// Cancels booking `booking_id` of resident account `account_id`, `now`: its place is freed
/// for others. Until the calendar's minimum notice before the slot.
pub async fn cancel(
    conn: &mut PgConnection,
    utility_id: i64,
    booking_id: i64,
    account_id: i64,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let b = sqlx::query!(
        r#"SELECT b.slot_id, s.starts_at, c.rules
           FROM bookings b
           JOIN booking_slots s ON s.id = b.slot_id
           JOIN booking_calendars c ON c.id = s.calendar_id
           WHERE b.utility_id = $1 AND b.id = $2 AND b.account_id = $3
             AND b.cancelled_at IS NULL
           FOR UPDATE OF b"#,
        utility_id,
        booking_id,
        account_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(BookingError::NotFound)?;
    let calendar: Calendar =
        serde_json::from_value(b.rules).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    if !calendar.may_change(b.starts_at, now) {
        return Err(BookingError::TooLate);
    }
    sqlx::query!(
        "UPDATE bookings SET cancelled_at = $2 WHERE id = $1",
        booking_id,
        now
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE booking_slots SET taken = taken - 1 WHERE id = $1",
        b.slot_id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves booking `booking_id` of resident account `account_id` to the slot of the same
/// calendar starting at `start`, `now`: the new place is taken first (the old one is kept if
/// the new slot is full or not offered), then the old one freed. The new booking's id.
pub async fn move_to(
    conn: &mut PgConnection,
    utility_id: i64,
    booking_id: i64,
    account_id: i64,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64, BookingError> {
    let calendar_id = sqlx::query_scalar!(
        r#"SELECT s.calendar_id FROM bookings b JOIN booking_slots s ON s.id = b.slot_id
           WHERE b.utility_id = $1 AND b.id = $2 AND b.account_id = $3
             AND b.cancelled_at IS NULL"#,
        utility_id,
        booking_id,
        account_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(BookingError::NotFound)?;
    // The old one may still change (the notice), then the new one is taken; one transaction.
    cancel(conn, utility_id, booking_id, account_id, now).await?;
    book(conn, utility_id, calendar_id, account_id, start, now).await
}
