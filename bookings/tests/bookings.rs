//! Bookings against a real PostgreSQL: fifty residents race for the last place of a slot and
//! exactly one gets it; a time the calendar does not offer, one too soon, a full slot and
//! another utility's calendar are refused.

use std::collections::BTreeSet;

use chrono::{Days, Duration, NaiveTime, Utc, Weekday};
use ebok_bookings::calendar::{Calendar, Hours};
use ebok_bookings::store::{self, BookingError};
use ebok_common::domain::time::local_day;
use ebok_testkit::{TestDb, fixtures};

fn desk(capacity: u16) -> Calendar {
    let hours = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ]
    .into_iter()
    .map(|weekday| Hours {
        weekday,
        opens: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        closes: NaiveTime::from_hms_opt(15, 0, 0).unwrap(),
    })
    .collect();
    Calendar {
        hours,
        slot_minutes: 30,
        capacity,
        closed: BTreeSet::new(),
        min_notice_hours: 24,
    }
}

#[tokio::test]
async fn fifty_residents_race_for_the_last_place_and_exactly_one_gets_it() {
    let db = TestDb::new().await;
    let utility_id = fixtures::utility(&db.pool, "mlynary").await;
    let calendar = desk(3);
    let mut conn = db.pool.acquire().await.unwrap();
    let calendar_id = store::publish(
        &mut conn,
        utility_id,
        "umowy",
        "Podpisanie umowy",
        &calendar,
    )
    .await
    .unwrap();
    drop(conn);
    let now = Utc::now();
    // The first slot a week on (not a holiday).
    let start = (7..40)
        .find_map(|d| {
            let day = local_day(now) + Days::new(d);
            calendar.slots(day, day).first().map(|s| s.start)
        })
        .unwrap();
    let mut accounts = Vec::new();
    for i in 0..52 {
        accounts.push(
            fixtures::resident_account(&db.pool, utility_id, &format!("r{i}@example.pl")).await,
        );
    }
    // Two of three places are taken.
    for account in &accounts[..2] {
        let mut tx = db.pool.begin().await.unwrap();
        store::book(&mut tx, utility_id, calendar_id, *account, start, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let racers = accounts[2..].iter().map(|&account| {
        let pool = db.pool.clone();
        tokio::spawn(async move {
            let mut tx = pool.begin().await.unwrap();
            let done = store::book(&mut tx, utility_id, calendar_id, account, start, now).await;
            if done.is_ok() {
                tx.commit().await.unwrap();
            }
            done
        })
    });
    let results: Vec<_> = futures_join(racers).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    let full = results
        .iter()
        .filter(|r| matches!(r, Err(BookingError::Full)))
        .count();
    assert_eq!((won, full), (1, 49), "{results:?}");
    let (taken, bookings): (i16, i64) = sqlx::query_as(
        "SELECT s.taken, (SELECT count(*) FROM bookings b WHERE b.slot_id = s.id)
         FROM booking_slots s WHERE s.calendar_id = $1",
    )
    .bind(calendar_id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((taken, bookings), (3, 3));
    // The database refuses an overbooking however it is tried.
    let err = sqlx::query("UPDATE booking_slots SET taken = taken + 1 WHERE calendar_id = $1")
        .bind(calendar_id)
        .execute(&db.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("never_overbooked"), "{err}");
}

async fn futures_join<T: Send + 'static>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_time_not_offered_one_too_soon_and_a_full_slot_are_refused() {
    let db = TestDb::new().await;
    let utility_id = fixtures::utility(&db.pool, "mlynary").await;
    let calendar = desk(1);
    let mut conn = db.pool.acquire().await.unwrap();
    let calendar_id = store::publish(&mut conn, utility_id, "wizyty", "Wizyta", &calendar)
        .await
        .unwrap();
    let jan = fixtures::resident_account(&db.pool, utility_id, "jan@example.pl").await;
    let now = Utc::now();
    let slot = (7..40)
        .find_map(|d| {
            let day = local_day(now) + Days::new(d);
            calendar.slots(day, day).first().copied()
        })
        .unwrap();
    assert!(matches!(
        store::book(
            &mut conn,
            utility_id,
            calendar_id,
            jan,
            slot.start + Duration::minutes(10),
            now
        )
        .await,
        Err(BookingError::NotASlot(_))
    ));
    assert!(matches!(
        store::book(
            &mut conn,
            utility_id,
            calendar_id,
            jan,
            slot.start,
            slot.start - Duration::hours(2)
        )
        .await,
        Err(BookingError::TooLate)
    ));
    store::book(&mut conn, utility_id, calendar_id, jan, slot.start, now)
        .await
        .unwrap();
    let ola = fixtures::resident_account(&db.pool, utility_id, "ola@example.pl").await;
    let full = store::book(&mut conn, utility_id, calendar_id, ola, slot.start, now).await;
    assert!(matches!(full, Err(BookingError::Full)));
    assert_eq!(
        full.unwrap_err().message_pl(),
        "Ten termin jest już zajęty. Wybierz inny."
    );
    // Another utility's calendar is not found.
    let other = fixtures::utility(&db.pool, "paslek").await;
    assert!(matches!(
        store::book(&mut conn, other, calendar_id, jan, slot.start, now).await,
        Err(BookingError::NotFound)
    ));
    // Rules that cannot work are refused.
    let mut broken = desk(1);
    broken.slot_minutes = 0;
    assert!(matches!(
        store::publish(&mut conn, utility_id, "zle", "Źle", &broken).await,
        Err(BookingError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_booking_is_moved_or_cancelled_until_the_notice_and_its_place_freed() {
    let db = TestDb::new().await;
    let utility_id = fixtures::utility(&db.pool, "mlynary").await;
    let calendar = desk(1);
    let mut conn = db.pool.acquire().await.unwrap();
    let calendar_id = store::publish(&mut conn, utility_id, "wizyty", "Wizyta", &calendar)
        .await
        .unwrap();
    let jan = fixtures::resident_account(&db.pool, utility_id, "jan@example.pl").await;
    let ola = fixtures::resident_account(&db.pool, utility_id, "ola@example.pl").await;
    let now = Utc::now();
    let slots = (7..40)
        .find_map(|d| {
            let day = local_day(now) + Days::new(d);
            let slots = calendar.slots(day, day);
            (slots.len() >= 3).then_some(slots)
        })
        .unwrap();
    let first = store::book(&mut conn, utility_id, calendar_id, jan, slots[0].start, now)
        .await
        .unwrap();
    store::book(&mut conn, utility_id, calendar_id, ola, slots[1].start, now)
        .await
        .unwrap();
    // Moving onto a full slot keeps the old booking (the caller rolls back).
    let mut tx = db.pool.begin().await.unwrap();
    assert!(matches!(
        store::move_to(&mut tx, utility_id, first, jan, slots[1].start, now).await,
        Err(BookingError::Full)
    ));
    drop(tx);
    // Another person cannot touch Jan's booking; Jan moves it, the old place is free again.
    assert!(matches!(
        store::cancel(&mut conn, utility_id, first, ola, now).await,
        Err(BookingError::NotFound)
    ));
    let mut tx = db.pool.begin().await.unwrap();
    let moved = store::move_to(&mut tx, utility_id, first, jan, slots[2].start, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    store::book(&mut conn, utility_id, calendar_id, ola, slots[0].start, now)
        .await
        .unwrap();
    // Too late to cancel a day before (24 hours' notice); in time, the place is freed.
    assert!(matches!(
        store::cancel(
            &mut conn,
            utility_id,
            moved,
            jan,
            slots[2].start - Duration::hours(2)
        )
        .await,
        Err(BookingError::TooLate)
    ));
    store::cancel(&mut conn, utility_id, moved, jan, now)
        .await
        .unwrap();
    let taken: Vec<i16> = sqlx::query_scalar(
        "SELECT taken FROM booking_slots WHERE calendar_id = $1 ORDER BY starts_at",
    )
    .bind(calendar_id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(taken, [1, 1, 0]);
}
