//! Calendars and bookings in PostgreSQL (migrations 0029, 0030). A booking takes a place in its
//! slot with one conditional `UPDATE … SET taken = taken + 1 WHERE taken < capacity AND
//! closed_reason IS NULL`: PostgreSQL locks the slot's row and checks the condition again after
//! any other booking (or staff closing it) commits, so exactly as many people as there are
//! places get one, and the `never_overbooked` CHECK stands behind it. Nothing is checked first
//! and inserted after.
//!
//! Every function that writes runs on the caller's connection and expects to be inside the
//! caller's transaction: a booking's place, its row and its notice commit together, which is
//! what lets a staff member closing a slot see every booking that took a place before.
//!
//! Every change a resident should know of is written to the outbox in the same transaction:
//! confirmed, moved, cancelled (by staff: with the reason), and the reminder the evening before
//! ([`crate::reminders`]). Staff cancellations and closures are audited.

use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use ebok_common::audit::{self, Actor, AuditEntry};
use ebok_common::domain::time::local_day;
use ebok_common::outbox::{self, Addressee, Booking, Event, OutboxEvent};
use serde_json::json;
use sqlx::PgConnection;

use crate::calendar::{Calendar, HORIZON_DAYS, MAX_STANDING_PER_PERSON, Slot};

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
    /// Staff closed the slot, for this reason.
    #[error("the slot is closed: {0}")]
    Closed(String),
    #[error("already booked")]
    AlreadyBooked,
    /// Too late to book, move or cancel.
    #[error("too late")]
    TooLate,
    /// A reason is what staff must give to cancel or close.
    #[error("no reason given")]
    NoReason,
    /// The person has as many visits booked in this calendar as one may.
    #[error("too many bookings")]
    TooMany,
    /// A calendar with this code exists.
    #[error("code taken")]
    CodeTaken,
    #[error("the calendar's rules cannot work: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl BookingError {
    /// What the resident (or the staff member) reads.
    pub fn message_pl(&self) -> String {
        match self {
            BookingError::NotFound => "Nie znaleziono.".into(),
            BookingError::NotASlot(m) => m.clone(),
            BookingError::Full => "Ten termin jest już zajęty. Wybierz inny.".into(),
            BookingError::Closed(reason) => format!("Ten termin jest odwołany: {reason}"),
            BookingError::AlreadyBooked => "Ten termin jest już przez Ciebie zarezerwowany.".into(),
            BookingError::TooLate => {
                "Na ten termin jest już za późno: rezerwację można zmienić najpóźniej z \
                 wyprzedzeniem podanym w kalendarzu."
                    .into()
            }
            BookingError::NoReason => "Podaj powód: zobaczą go klienci.".into(),
            BookingError::TooMany => format!(
                "Masz już {MAX_STANDING_PER_PERSON} zarezerwowane wizyty w tym kalendarzu. \
                 Odwołaj którąś, aby zarezerwować kolejną."
            ),
            BookingError::CodeTaken => "Kalendarz o takim kodzie już jest: wybierz inny.".into(),
            BookingError::Invalid(problems) => problems.join(" "),
            BookingError::Db(_) => "Wystąpił błąd po naszej stronie.".into(),
        }
    }
}

/// A calendar as published.
#[derive(Debug, Clone)]
pub struct CalendarRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// Where the visit takes place; `None`: at the resident's.
    pub place: Option<String>,
    pub rules: Calendar,
}

fn rules_of(json: serde_json::Value) -> Result<Calendar, BookingError> {
    serde_json::from_value(json).map_err(|e| BookingError::Db(sqlx::Error::Decode(Box::new(e))))
}

/// Publishes (or replaces the name, place and rules of) calendar `code` of utility
/// `utility_id`; its id. Bookings already made stay as they are.
pub async fn publish(
    conn: &mut PgConnection,
    utility_id: i64,
    code: &str,
    name: &str,
    place: Option<&str>,
    rules: &Calendar,
) -> Result<i64, BookingError> {
    rules.check().map_err(BookingError::Invalid)?;
    if name.trim().is_empty() {
        return Err(BookingError::Invalid(vec![
            "Podaj nazwę kalendarza.".into(),
        ]));
    }
    let json = serde_json::to_value(rules).expect("a calendar serialises");
    let id = sqlx::query_scalar!(
        r#"INSERT INTO booking_calendars (utility_id, code, name, place, rules)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (utility_id, code) DO UPDATE
               SET name = excluded.name, place = excluded.place, rules = excluded.rules,
                   active = true
           RETURNING id"#,
        utility_id,
        code,
        name.trim(),
        place.map(str::trim).filter(|p| !p.is_empty()),
        json
    )
    .fetch_one(&mut *conn)
    .await?;
    // Slots to come take the new number of places (never fewer than are taken).
    sqlx::query!(
        r#"UPDATE booking_slots SET capacity = GREATEST($2::smallint, taken)
           WHERE calendar_id = $1 AND starts_at > now() AND closed_reason IS NULL"#,
        id,
        rules.capacity as i16
    )
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Publishes a new calendar `code`; refused when the utility has one with that code.
pub async fn create(
    conn: &mut PgConnection,
    utility_id: i64,
    code: &str,
    name: &str,
    place: Option<&str>,
    rules: &Calendar,
) -> Result<i64, BookingError> {
    let taken = sqlx::query_scalar!(
        "SELECT id FROM booking_calendars WHERE utility_id = $1 AND code = $2 FOR UPDATE",
        utility_id,
        code
    )
    .fetch_optional(&mut *conn)
    .await?;
    if taken.is_some() {
        return Err(BookingError::CodeTaken);
    }
    publish(conn, utility_id, code, name, place, rules).await
}

/// The utility's calendars residents may book in, by name.
pub async fn calendars(
    conn: &mut PgConnection,
    utility_id: i64,
) -> Result<Vec<CalendarRow>, BookingError> {
    let rows = sqlx::query!(
        r#"SELECT id, code, name, place, rules FROM booking_calendars
           WHERE utility_id = $1 AND active ORDER BY name, id"#,
        utility_id
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(CalendarRow {
                id: r.id,
                code: r.code,
                name: r.name,
                place: r.place,
                rules: rules_of(r.rules)?,
            })
        })
        .collect()
}

/// One of the utility's calendars.
pub async fn calendar(
    conn: &mut PgConnection,
    utility_id: i64,
    calendar_id: i64,
) -> Result<CalendarRow, BookingError> {
    let r = sqlx::query!(
        r#"SELECT id, code, name, place, rules FROM booking_calendars
           WHERE utility_id = $1 AND id = $2 AND active"#,
        utility_id,
        calendar_id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(BookingError::NotFound)?;
    Ok(CalendarRow {
        id: r.id,
        code: r.code,
        name: r.name,
        place: r.place,
        rules: rules_of(r.rules)?,
    })
}

/// The slot of `calendar` starting at `start`, if it offers one.
fn offered(calendar: &Calendar, start: DateTime<Utc>) -> Result<Slot, BookingError> {
    let day = local_day(start);
    calendar
        .slots(day, day)
        .into_iter()
        .find(|s| s.start == start)
        .ok_or_else(|| BookingError::NotASlot("Kalendarz nie ma wizyty o tej godzinie.".into()))
}

/// Makes sure the slots' rows exist (a slot's row is made when first needed).
async fn materialise(
    conn: &mut PgConnection,
    utility_id: i64,
    calendar_id: i64,
    capacity: u16,
    slots: &[Slot],
) -> Result<(), BookingError> {
    let starts: Vec<DateTime<Utc>> = slots.iter().map(|s| s.start).collect();
    let ends: Vec<DateTime<Utc>> = slots.iter().map(|s| s.end).collect();
    sqlx::query!(
        r#"INSERT INTO booking_slots (utility_id, calendar_id, starts_at, ends_at, capacity)
           SELECT $1, $2, s, e, $3 FROM unnest($4::timestamptz[], $5::timestamptz[]) AS u(s, e)
           ON CONFLICT (calendar_id, starts_at) DO NOTHING"#,
        utility_id,
        calendar_id,
        capacity as i16,
        &starts,
        &ends
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes a place for `account_id` in the slot of `calendar_id` at `start`; the new booking's
/// id and the calendar's name. No event: the caller says what happened.
async fn take_place(
    conn: &mut PgConnection,
    utility_id: i64,
    calendar_id: i64,
    account_id: i64,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(i64, String), BookingError> {
    let cal = calendar(conn, utility_id, calendar_id).await?;
    if start <= now {
        return Err(BookingError::TooLate);
    }
    if start > now + Duration::days(HORIZON_DAYS as i64) {
        return Err(BookingError::NotASlot(format!(
            "Wizytę można zarezerwować najwyżej {HORIZON_DAYS} dni naprzód."
        )));
    }
    let slot = offered(&cal.rules, start)?;
    if !cal.rules.may_change(slot.start, now) {
        return Err(BookingError::TooLate);
    }
    let standing = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM bookings b JOIN booking_slots s ON s.id = b.slot_id
           WHERE b.account_id = $1 AND s.calendar_id = $2 AND b.cancelled_at IS NULL
             AND s.starts_at > $3"#,
        account_id,
        calendar_id,
        now
    )
    .fetch_one(&mut *conn)
    .await?;
    if standing >= MAX_STANDING_PER_PERSON {
        return Err(BookingError::TooMany);
    }
    materialise(conn, utility_id, calendar_id, cal.rules.capacity, &[slot]).await?;
    let taken = sqlx::query_scalar!(
        r#"UPDATE booking_slots SET taken = taken + 1
           WHERE calendar_id = $1 AND starts_at = $2 AND taken < capacity
             AND closed_reason IS NULL
           RETURNING id"#,
        calendar_id,
        slot.start
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(slot_id) = taken else {
        let closed = sqlx::query_scalar!(
            "SELECT closed_reason FROM booking_slots WHERE calendar_id = $1 AND starts_at = $2",
            calendar_id,
            slot.start
        )
        .fetch_one(&mut *conn)
        .await?;
        return Err(closed.map_or(BookingError::Full, BookingError::Closed));
    };
    let id = sqlx::query_scalar!(
        r#"INSERT INTO bookings (utility_id, slot_id, account_id, booked_at)
           VALUES ($1, $2, $3, $4) RETURNING id"#,
        utility_id,
        slot_id,
        account_id,
        now
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.constraint() == Some("bookings_one_per_person") => {
            BookingError::AlreadyBooked
        }
        _ => BookingError::Db(e),
    })?;
    Ok((id, cal.name))
}

async fn tell(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
    event: Event,
    key: String,
) -> Result<(), BookingError> {
    outbox::enqueue(
        conn,
        &OutboxEvent {
            utility_id,
            event,
            to: Addressee::Account(account_id),
            dedup_key: Some(key),
        },
    )
    .await?;
    Ok(())
}

/// Books a place for resident account `account_id` in the slot of calendar `calendar_id`
/// starting at `start`, `now`; the booking's id. The resident is sent the confirmation.
pub async fn book(
    conn: &mut PgConnection,
    utility_id: i64,
    calendar_id: i64,
    account_id: i64,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64, BookingError> {
    let (id, calendar) = take_place(conn, utility_id, calendar_id, account_id, start, now).await?;
    let event = Event::BookingConfirmed(Booking {
        booking_id: id,
        at: start,
        calendar,
        reason: None,
    });
    tell(
        conn,
        utility_id,
        account_id,
        event,
        format!("booking:{id}:confirmed"),
    )
    .await?;
    Ok(id)
}

/// The booking of `account_id`, still standing, locked; its slot's id and start, and rules.
async fn standing(
    conn: &mut PgConnection,
    utility_id: i64,
    booking_id: i64,
    account_id: i64,
) -> Result<(i64, i64, DateTime<Utc>, Calendar, String), BookingError> {
    let b = sqlx::query!(
        r#"SELECT b.slot_id, s.calendar_id, s.starts_at, c.rules, c.name
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
    Ok((
        b.slot_id,
        b.calendar_id,
        b.starts_at,
        rules_of(b.rules)?,
        b.name,
    ))
}

/// Frees the place of a booking (its row locked by the caller).
async fn release(
    conn: &mut PgConnection,
    booking_id: i64,
    slot_id: i64,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    sqlx::query!(
        "UPDATE bookings SET cancelled_at = $2 WHERE id = $1",
        booking_id,
        now
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE booking_slots SET taken = taken - 1 WHERE id = $1",
        slot_id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
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
    let (slot_id, _, starts_at, rules, calendar) =
        standing(conn, utility_id, booking_id, account_id).await?;
    if !rules.may_change(starts_at, now) {
        return Err(BookingError::TooLate);
    }
    release(conn, booking_id, slot_id, now).await?;
    let event = Event::BookingCancelled(Booking {
        booking_id,
        at: starts_at,
        calendar,
        reason: None,
    });
    tell(
        conn,
        utility_id,
        account_id,
        event,
        format!("booking:{booking_id}:cancelled"),
    )
    .await
}

/// Moves booking `booking_id` of resident account `account_id` to the slot of the same
/// calendar starting at `start`, `now`: the old place is freed and the new one taken in the
/// caller's transaction, so when the new slot is full or not offered (an error) and the
/// transaction is rolled back, the old booking stands. The new booking's id; the resident is
/// told of the change once.
pub async fn move_to(
    conn: &mut PgConnection,
    utility_id: i64,
    booking_id: i64,
    account_id: i64,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64, BookingError> {
    let (slot_id, calendar_id, starts_at, rules, _) =
        standing(conn, utility_id, booking_id, account_id).await?;
    if !rules.may_change(starts_at, now) {
        return Err(BookingError::TooLate);
    }
    release(conn, booking_id, slot_id, now).await?;
    let (new, calendar) = take_place(conn, utility_id, calendar_id, account_id, start, now).await?;
    sqlx::query!(
        "UPDATE bookings SET moved_to = $2 WHERE id = $1",
        booking_id,
        new
    )
    .execute(&mut *conn)
    .await?;
    let event = Event::BookingChanged(Booking {
        booking_id: new,
        at: start,
        calendar,
        reason: None,
    });
    tell(
        conn,
        utility_id,
        account_id,
        event,
        format!("booking:{new}:moved"),
    )
    .await?;
    Ok(new)
}

/// Who acts for the utility, and why.
#[derive(Debug, Clone, Copy)]
pub struct StaffAct<'a> {
    pub utility_id: i64,
    pub staff_id: i64,
    /// Shown to the residents affected and on the calendar.
    pub reason: &'a str,
    pub now: DateTime<Utc>,
}

impl StaffAct<'_> {
    fn reason(&self) -> Result<String, BookingError> {
        let reason = self.reason.trim();
        if reason.is_empty() {
            Err(BookingError::NoReason)
        } else {
            Ok(reason.to_string())
        }
    }
}

/// Cancels one booking for the utility (staff, with a reason, any time before its slot
/// begins): its place is freed and the resident told why.
pub async fn cancel_by_staff(
    conn: &mut PgConnection,
    act: StaffAct<'_>,
    booking_id: i64,
) -> Result<(), BookingError> {
    let reason = act.reason()?;
    let b = sqlx::query!(
        r#"SELECT b.account_id, b.slot_id, s.starts_at, c.name
           FROM bookings b
           JOIN booking_slots s ON s.id = b.slot_id
           JOIN booking_calendars c ON c.id = s.calendar_id
           WHERE b.utility_id = $1 AND b.id = $2 AND b.cancelled_at IS NULL
           FOR UPDATE OF b"#,
        act.utility_id,
        booking_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(BookingError::NotFound)?;
    if b.starts_at <= act.now {
        return Err(BookingError::TooLate);
    }
    release(conn, booking_id, b.slot_id, act.now).await?;
    sqlx::query!(
        "UPDATE bookings SET cancelled_by = $2, cancel_reason = $3 WHERE id = $1",
        booking_id,
        act.staff_id,
        reason
    )
    .execute(&mut *conn)
    .await?;
    let event = Event::BookingCancelled(Booking {
        booking_id,
        at: b.starts_at,
        calendar: b.name,
        reason: Some(reason.clone()),
    });
    tell(
        conn,
        act.utility_id,
        b.account_id,
        event,
        format!("booking:{booking_id}:cancelled"),
    )
    .await?;
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(act.utility_id),
            actor: Actor::Staff {
                account_id: act.staff_id,
                on_behalf_of: None,
            },
            action: "booking.cancelled",
            entity_type: Some("booking"),
            entity_id: Some(booking_id.to_string()),
            details: json!({ "reason": reason, "account_id": b.account_id }),
            request_id: None,
        },
    )
    .await?;
    Ok(())
}

/// Closes calendar `calendar_id` on Warsaw day `day` (every slot, or only the one starting at
/// `only`) for the utility, with a reason: nobody can book there any more, every booking there
/// is cancelled and its resident told why, and the calendar shows the reason. The bookings
/// cancelled, by id. Slots already begun are left alone.
pub async fn close(
    conn: &mut PgConnection,
    act: StaffAct<'_>,
    calendar_id: i64,
    day: NaiveDate,
    only: Option<DateTime<Utc>>,
) -> Result<Vec<i64>, BookingError> {
    let reason = act.reason()?;
    let cal = calendar(conn, act.utility_id, calendar_id).await?;
    let today = local_day(act.now);
    if day < today || day > today + Days::new(HORIZON_DAYS) {
        return Err(BookingError::NotASlot(
            "Odwołać można tylko terminy, które jeszcze się nie odbyły.".into(),
        ));
    }
    let slots: Vec<Slot> = cal
        .rules
        .slots(day, day)
        .into_iter()
        .filter(|s| s.start > act.now && only.is_none_or(|at| at == s.start))
        .collect();
    materialise(
        conn,
        act.utility_id,
        calendar_id,
        cal.rules.capacity,
        &slots,
    )
    .await?;
    // The day's slots as the rules offer them now, and any booked under older rules.
    let (from, to) = ebok_common::domain::time::day_bounds(day);
    let starts = sqlx::query_scalar!(
        r#"SELECT starts_at FROM booking_slots
           WHERE calendar_id = $1 AND starts_at >= $2 AND starts_at < $3 AND starts_at > $4
             AND ($5::timestamptz IS NULL OR starts_at = $5)"#,
        calendar_id,
        from,
        to,
        act.now,
        only
    )
    .fetch_all(&mut *conn)
    .await?;
    if starts.is_empty() {
        return Err(BookingError::NotASlot(
            "Tego dnia kalendarz nie ma już terminów do odwołania.".into(),
        ));
    }
    // Closing takes each slot's row lock first: a booking racing for it either committed
    // before (and is cancelled below) or re-reads the slot closed.
    let closed = sqlx::query_scalar!(
        r#"UPDATE booking_slots SET closed_reason = $3, closed_at = $4, closed_by = $5
           WHERE calendar_id = $1 AND starts_at = ANY($2) AND closed_reason IS NULL
           RETURNING id"#,
        calendar_id,
        &starts,
        reason,
        act.now,
        act.staff_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let bookings = sqlx::query!(
        r#"SELECT b.id, b.account_id, s.starts_at
           FROM bookings b JOIN booking_slots s ON s.id = b.slot_id
           WHERE b.slot_id = ANY($1) AND b.cancelled_at IS NULL
           ORDER BY s.starts_at, b.id
           FOR UPDATE OF b"#,
        &closed
    )
    .fetch_all(&mut *conn)
    .await?;
    for b in &bookings {
        sqlx::query!(
            r#"UPDATE bookings SET cancelled_at = $2, cancelled_by = $3, cancel_reason = $4
               WHERE id = $1"#,
            b.id,
            act.now,
            act.staff_id,
            reason
        )
        .execute(&mut *conn)
        .await?;
        let event = Event::BookingCancelled(Booking {
            booking_id: b.id,
            at: b.starts_at,
            calendar: cal.name.clone(),
            reason: Some(reason.clone()),
        });
        tell(
            conn,
            act.utility_id,
            b.account_id,
            event,
            format!("booking:{}:cancelled", b.id),
        )
        .await?;
    }
    sqlx::query!(
        "UPDATE booking_slots SET taken = 0 WHERE id = ANY($1)",
        &closed
    )
    .execute(&mut *conn)
    .await?;
    let cancelled: Vec<i64> = bookings.iter().map(|b| b.id).collect();
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(act.utility_id),
            actor: Actor::Staff {
                account_id: act.staff_id,
                on_behalf_of: None,
            },
            action: "booking_slots.closed",
            entity_type: Some("booking_calendar"),
            entity_id: Some(calendar_id.to_string()),
            details: json!({
                "day": day,
                "slot": only,
                "slots": closed.len(),
                "reason": reason,
                "bookings_cancelled": cancelled,
            }),
            request_id: None,
        },
    )
    .await?;
    Ok(cancelled)
}

/// Opens again what staff closed on `day` (every slot, or only the one starting at `only`):
/// it can be booked again; the bookings cancelled stay cancelled.
pub async fn reopen(
    conn: &mut PgConnection,
    utility_id: i64,
    staff_id: i64,
    calendar_id: i64,
    day: NaiveDate,
    only: Option<DateTime<Utc>>,
) -> Result<u64, BookingError> {
    let (from, to) = ebok_common::domain::time::day_bounds(day);
    let opened = sqlx::query!(
        r#"UPDATE booking_slots SET closed_reason = NULL, closed_at = NULL, closed_by = NULL
           WHERE utility_id = $1 AND calendar_id = $2 AND starts_at >= $3 AND starts_at < $4
             AND ($5::timestamptz IS NULL OR starts_at = $5) AND closed_reason IS NOT NULL"#,
        utility_id,
        calendar_id,
        from,
        to,
        only
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: Actor::Staff {
                account_id: staff_id,
                on_behalf_of: None,
            },
            action: "booking_slots.reopened",
            entity_type: Some("booking_calendar"),
            entity_id: Some(calendar_id.to_string()),
            details: json!({ "day": day, "slot": only, "slots": opened }),
            request_id: None,
        },
    )
    .await?;
    Ok(opened)
}
