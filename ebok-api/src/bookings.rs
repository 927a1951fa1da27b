//! What the portal, the API and the back office share about the booking calendar
//! ([`ebok_bookings`]): a refusal as the error each of them shows (the field is `start`, the
//! time asked for, in the portal's form as in the API's body), each change in its own
//! transaction, and a booking's `.ics` download.

use std::future::Future;
use std::pin::Pin;

use axum::response::Response;
use chrono::{DateTime, Utc};
use ebok_bookings::ics;
use ebok_bookings::store::{self, BookingError};
use ebok_bookings::views::{self, BookingView};
use sqlx::PgConnection;

use crate::error::ApiError;
use crate::state::AppState;

impl From<BookingError> for ApiError {
    fn from(error: BookingError) -> Self {
        let detail = error.message_pl();
        match error {
            BookingError::NotFound => ApiError::NotFound,
            BookingError::NotASlot(_) => ApiError::invalid("start", detail),
            BookingError::Full
            | BookingError::Closed(_)
            | BookingError::AlreadyBooked
            | BookingError::TooMany => ApiError::Conflict {
                field: Some("start".into()),
                detail,
            },
            BookingError::TooLate => ApiError::Conflict {
                field: None,
                detail,
            },
            BookingError::NoReason => ApiError::invalid("reason", detail),
            BookingError::Invalid(_) => ApiError::invalid("rules", detail),
            BookingError::CodeTaken => ApiError::invalid("code", detail),
            BookingError::Db(e) => e.into(),
        }
    }
}

/// A resident's account, as the booking calendar knows it.
#[derive(Debug, Clone, Copy)]
pub struct Booker {
    pub utility_id: i64,
    pub account_id: i64,
}

/// Two changes crossing (a move from slot 1 to 2 while another goes from 2 to 1) can
/// deadlock; PostgreSQL aborts one, which runs again (at most this many times in all).
const ATTEMPTS: usize = 3;

fn deadlocked(error: &BookingError) -> bool {
    matches!(error, BookingError::Db(sqlx::Error::Database(db))
        if db.code().as_deref() == Some("40P01"))
}

/// A change of the calendar on a connection (boxed: an async closure borrowing the connection
/// cannot yet say its future is `Send` for every borrow, which axum's handlers need).
type Change<'c, T> = Pin<Box<dyn Future<Output = Result<T, BookingError>> + Send + 'c>>;

/// Runs `change` in a transaction of its own, and again (at most [`ATTEMPTS`] times in all)
/// when PostgreSQL aborted it for a deadlock.
async fn in_transaction<T>(
    state: &AppState,
    mut change: impl for<'c> FnMut(&'c mut PgConnection) -> Change<'c, T>,
) -> Result<T, ApiError> {
    let mut attempt = 1;
    loop {
        let mut tx = state.pool.begin().await?;
        match change(&mut tx).await {
            Ok(value) => {
                tx.commit().await?;
                return Ok(value);
            }
            Err(e) if deadlocked(&e) && attempt < ATTEMPTS => attempt += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Books; the new booking's id.
pub async fn book(
    state: &AppState,
    who: Booker,
    calendar_id: i64,
    start: DateTime<Utc>,
) -> Result<i64, ApiError> {
    in_transaction(state, |tx| {
        let (utility, account) = (who.utility_id, who.account_id);
        Box::pin(store::book(
            tx,
            utility,
            calendar_id,
            account,
            start,
            Utc::now(),
        ))
    })
    .await
}

/// Moves a booking (kept as it was when the new time cannot be had); the new booking's id.
pub async fn move_to(
    state: &AppState,
    who: Booker,
    booking_id: i64,
    start: DateTime<Utc>,
) -> Result<i64, ApiError> {
    in_transaction(state, |tx| {
        let (utility, account) = (who.utility_id, who.account_id);
        Box::pin(store::move_to(
            tx,
            utility,
            booking_id,
            account,
            start,
            Utc::now(),
        ))
    })
    .await
}

/// Cancels a booking.
pub async fn cancel(state: &AppState, who: Booker, booking_id: i64) -> Result<(), ApiError> {
    in_transaction(state, |tx| {
        let (utility, account) = (who.utility_id, who.account_id);
        Box::pin(store::cancel(tx, utility, booking_id, account, Utc::now()))
    })
    .await
}

/// The booking's `.ics` file, as a download.
pub async fn ics_download(
    state: &AppState,
    who: Booker,
    booking_id: i64,
) -> Result<Response, ApiError> {
    let now = Utc::now();
    let mut conn = state.pool.acquire().await?;
    let booking: BookingView =
        views::booking(&mut conn, who.utility_id, who.account_id, booking_id, now).await?;
    let utility = sqlx::query!(
        "SELECT slug, name FROM utilities WHERE id = $1",
        who.utility_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let url = format!(
        "{}/u/{}/wizyty/{}",
        state.public_url, utility.slug, booking.id
    );
    let host = state.public_host();
    let body = ics::booking(
        &booking,
        &ics::Issuer {
            utility_name: &utility.name,
            host: &host,
            url: &url,
        },
        now,
    );
    Ok(crate::download::attachment(
        &format!("wizyta-{}.ics", booking.id),
        "text/calendar; charset=utf-8",
        body,
    ))
}
