//! The reminder of a visit: at 18:00 Warsaw time the evening before ([`reminder_at`]), each
//! standing booking is announced once more through the outbox (`booking.reminder`), marked
//! `reminded_at` in the same transaction so it is never sent twice. A booking made after that
//! time gets no reminder: its confirmation came moments before.

use chrono::{DateTime, Duration, Utc};
use ebok_common::outbox::{self, Addressee, Booking, Event, OutboxEvent};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::calendar::reminder_at;

/// Sends the reminders due `now`; how many were sent.
pub async fn send_due(conn: &mut PgConnection, now: DateTime<Utc>) -> sqlx::Result<u64> {
    // The evening before is at most 30 hours (31 across the clock change) before a slot.
    let candidates = sqlx::query!(
        r#"SELECT b.id, b.utility_id, b.account_id, b.booked_at, s.starts_at, c.name
           FROM bookings b
           JOIN booking_slots s ON s.id = b.slot_id
           JOIN booking_calendars c ON c.id = s.calendar_id
           WHERE b.cancelled_at IS NULL AND b.reminded_at IS NULL
             AND s.starts_at > $1 AND s.starts_at <= $2
           ORDER BY s.starts_at, b.id
           FOR UPDATE OF b SKIP LOCKED"#,
        now,
        now + Duration::hours(31)
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut sent = 0;
    for b in candidates {
        let due = reminder_at(b.starts_at);
        if due > now {
            continue;
        }
        sqlx::query!(
            "UPDATE bookings SET reminded_at = $2 WHERE id = $1",
            b.id,
            now
        )
        .execute(&mut *conn)
        .await?;
        // Booked after the evening before: the confirmation was the reminder.
        if b.booked_at >= due {
            continue;
        }
        outbox::enqueue(
            conn,
            &OutboxEvent {
                utility_id: b.utility_id,
                event: Event::BookingReminder(Booking {
                    booking_id: b.id,
                    at: b.starts_at,
                    calendar: b.name,
                    reason: None,
                }),
                to: Addressee::Account(b.account_id),
                dedup_key: Some(format!("booking:{}:reminder", b.id)),
            },
        )
        .await?;
        sent += 1;
    }
    Ok(sent)
}

async fn send_due_in_transaction(pool: &PgPool, now: DateTime<Utc>) -> sqlx::Result<u64> {
    let mut tx = pool.begin().await?;
    let n = send_due(&mut tx, now).await?;
    tx.commit().await?;
    Ok(n)
}

/// Sends due reminders every `every` until shut down (a part of `ebok run`).
pub async fn run(pool: PgPool, every: std::time::Duration, shutdown: CancellationToken) {
    loop {
        let sent = send_due_in_transaction(&pool, Utc::now()).await;
        match sent {
            Ok(0) => {}
            Ok(n) => tracing::info!(reminders = n, "booking reminders sent"),
            Err(e) => tracing::warn!(error = %e, "booking reminders failed; trying again later"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
