//! Bookings against a real PostgreSQL: fifty residents race for the last place of a slot and
//! exactly one gets it; a time the calendar does not offer, one too soon, a full slot and
//! another utility's calendar are refused.

use std::collections::BTreeSet;

use chrono::{Days, Duration, NaiveTime, Utc, Weekday};
use ebok_bookings::calendar::{Calendar, Hours};
use ebok_bookings::store::{self, BookingError};
use ebok_bookings::views;
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
        None,
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
    let calendar_id = store::publish(&mut conn, utility_id, "wizyty", "Wizyta", None, &calendar)
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
        store::publish(&mut conn, utility_id, "zle", "Źle", None, &broken).await,
        Err(BookingError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_booking_is_moved_or_cancelled_until_the_notice_and_its_place_freed() {
    let db = TestDb::new().await;
    let utility_id = fixtures::utility(&db.pool, "mlynary").await;
    let calendar = desk(1);
    let mut conn = db.pool.acquire().await.unwrap();
    let calendar_id = store::publish(&mut conn, utility_id, "wizyty", "Wizyta", None, &calendar)
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

/// The outbox events of `account`, oldest first: (kind, payload).
async fn told(pool: &sqlx::PgPool, account: i64) -> Vec<(String, serde_json::Value)> {
    sqlx::query_as("SELECT kind, payload FROM outbox WHERE recipient_account_id = $1 ORDER BY id")
        .bind(account)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn staff_close_a_day_with_a_reason_its_residents_are_told_and_nobody_books_it_again() {
    let db = TestDb::new().await;
    let utility_id = fixtures::utility(&db.pool, "mlynary").await;
    let calendar = desk(2);
    let mut conn = db.pool.acquire().await.unwrap();
    let calendar_id = store::publish(
        &mut conn,
        utility_id,
        "wizyty",
        "Spotkanie z prezesem",
        Some("Biuro, ul. Dworcowa 5"),
        &calendar,
    )
    .await
    .unwrap();
    let jan = fixtures::resident_account(&db.pool, utility_id, "jan@example.pl").await;
    let ola = fixtures::resident_account(&db.pool, utility_id, "ola@example.pl").await;
    let ewa = fixtures::resident_account(&db.pool, utility_id, "ewa@example.pl").await;
    let clerk: i64 =
        sqlx::query_scalar("UPDATE user_accounts SET role = 'clerk' WHERE id = $1 RETURNING id")
            .bind(fixtures::resident_account(&db.pool, utility_id, "bok@example.pl").await)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let now = Utc::now();
    let (day, slots) = (7..40)
        .find_map(|d| {
            let day = local_day(now) + Days::new(d);
            let slots = calendar.slots(day, day);
            (slots.len() >= 3).then_some((day, slots))
        })
        .unwrap();
    let next_day = (1..10)
        .map(|d| day + Days::new(d))
        .find(|d| !calendar.slots(*d, *d).is_empty())
        .unwrap();
    let elsewhere = calendar.slots(next_day, next_day)[0].start;
    let jans = store::book(&mut conn, utility_id, calendar_id, jan, slots[0].start, now)
        .await
        .unwrap();
    let olas = store::book(&mut conn, utility_id, calendar_id, ola, slots[2].start, now)
        .await
        .unwrap();
    let ewas = store::book(&mut conn, utility_id, calendar_id, ewa, elsewhere, now)
        .await
        .unwrap();

    // No reason, no closing.
    let act = |reason| store::StaffAct {
        utility_id,
        staff_id: clerk,
        reason,
        now,
    };
    assert!(matches!(
        store::close(&mut conn, act("  "), calendar_id, day, None).await,
        Err(BookingError::NoReason)
    ));
    let mut cancelled = store::close(
        &mut conn,
        act("Awaria sieci, biuro nieczynne."),
        calendar_id,
        day,
        None,
    )
    .await
    .unwrap();
    cancelled.sort_unstable();
    assert_eq!(cancelled, [jans, olas]);
    // The day's slots show the reason, take nobody, and a booking there is refused with it.
    let cal = store::calendar(&mut conn, utility_id, calendar_id)
        .await
        .unwrap();
    let seen = views::slots(&mut conn, utility_id, &cal, day, day, Some(jan), now)
        .await
        .unwrap();
    assert_eq!(seen.len(), slots.len());
    assert!(seen.iter().all(|s| s.free() == 0
        && !s.bookable
        && s.closed_reason.as_deref() == Some("Awaria sieci, biuro nieczynne.")));
    match store::book(&mut conn, utility_id, calendar_id, ewa, slots[1].start, now).await {
        Err(BookingError::Closed(reason)) => assert_eq!(reason, "Awaria sieci, biuro nieczynne."),
        other => panic!("{other:?}"),
    }
    // Jan and Ola are told why; Ewa, booked another day, only of her own booking.
    for (who, booking) in [(jan, jans), (ola, olas)] {
        let events = told(&db.pool, who).await;
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[1].0, "booking.cancelled");
        assert_eq!(events[1].1["booking_id"], booking);
        assert_eq!(events[1].1["reason"], "Awaria sieci, biuro nieczynne.");
        assert_eq!(events[1].1["calendar"], "Spotkanie z prezesem");
    }
    assert_eq!(told(&db.pool, ewa).await.len(), 1);
    let mine = views::booking(&mut conn, utility_id, jan, jans, now)
        .await
        .unwrap();
    assert!(!mine.standing() && !mine.changeable);
    assert_eq!(
        mine.cancel_reason.as_deref(),
        Some("Awaria sieci, biuro nieczynne.")
    );
    // The .ics of the cancelled visit says so, under the same UID.
    let ics = ebok_bookings::ics::booking(
        &mine,
        &ebok_bookings::ics::Issuer {
            utility_name: "Wodociągi Młynary",
            host: "ebok.example",
            url: "https://ebok.example/u/mlynary/wizyty/1",
        },
        now,
    );
    assert!(
        ics.contains("STATUS:CANCELLED")
            && ics.contains(&format!("UID:booking-{jans}@ebok.example"))
    );
    assert!(ics.contains("\r\n"));

    // One booking cancelled by staff; the day is opened again and booked.
    store::cancel_by_staff(&mut conn, act("Choroba pracownika."), ewas)
        .await
        .unwrap();
    assert_eq!(
        told(&db.pool, ewa).await[1].1["reason"],
        "Choroba pracownika."
    );
    assert!(matches!(
        store::cancel_by_staff(&mut conn, act("Jeszcze raz."), ewas).await,
        Err(BookingError::NotFound)
    ));
    assert_eq!(
        store::reopen(&mut conn, utility_id, clerk, calendar_id, day, None)
            .await
            .unwrap(),
        slots.len() as u64
    );
    store::book(&mut conn, utility_id, calendar_id, ewa, slots[1].start, now)
        .await
        .unwrap();
    let audited: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE utility_id = $1 ORDER BY id")
            .bind(utility_id)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        audited,
        [
            "booking_slots.closed",
            "booking.cancelled",
            "booking_slots.reopened"
        ]
    );
    // Another utility's staff reach nothing.
    let other = fixtures::utility(&db.pool, "inne").await;
    let foreign = store::StaffAct {
        utility_id: other,
        staff_id: clerk,
        reason: "x",
        now,
    };
    assert!(matches!(
        store::cancel_by_staff(&mut conn, foreign, olas).await,
        Err(BookingError::NotFound)
    ));
    assert!(matches!(
        store::close(&mut conn, foreign, calendar_id, day, None).await,
        Err(BookingError::NotFound)
    ));
}

#[tokio::test]
async fn a_booking_closing_the_slot_at_the_same_moment_is_cancelled_or_refused_never_left_standing()
{
    let db = TestDb::new().await;
    let utility_id = fixtures::utility(&db.pool, "mlynary").await;
    let calendar = desk(30);
    let mut conn = db.pool.acquire().await.unwrap();
    let calendar_id = store::publish(&mut conn, utility_id, "umowy", "Umowy", None, &calendar)
        .await
        .unwrap();
    let clerk = fixtures::resident_account(&db.pool, utility_id, "bok@example.pl").await;
    let now = Utc::now();
    let (day, start) = (7..40)
        .find_map(|d| {
            let day = local_day(now) + Days::new(d);
            calendar.slots(day, day).first().map(|s| (day, s.start))
        })
        .unwrap();
    let mut accounts = Vec::new();
    for i in 0..20 {
        accounts.push(
            fixtures::resident_account(&db.pool, utility_id, &format!("r{i}@example.pl")).await,
        );
    }
    let mut racers = Vec::new();
    for account in accounts {
        let pool = db.pool.clone();
        racers.push(tokio::spawn(async move {
            let mut tx = pool.begin().await.unwrap();
            let booked = store::book(&mut tx, utility_id, calendar_id, account, start, now).await;
            if booked.is_ok() {
                tx.commit().await.unwrap();
            }
            booked
        }));
    }
    let pool = db.pool.clone();
    let closer = tokio::spawn(async move {
        let mut tx = pool.begin().await.unwrap();
        let act = store::StaffAct {
            utility_id,
            staff_id: clerk,
            reason: "Zamknięte.",
            now,
        };
        let cancelled = store::close(&mut tx, act, calendar_id, day, Some(start))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        cancelled.len()
    });
    let mut booked = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(_) => booked += 1,
            Err(BookingError::Closed(_)) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    // Whoever got in before the closing is cancelled by it; nobody stands in a closed slot.
    assert_eq!(closer.await.unwrap(), booked);
    let standing: i64 =
        sqlx::query_scalar("SELECT count(*) FROM bookings WHERE cancelled_at IS NULL")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(standing, 0);
}

#[tokio::test]
async fn the_reminder_goes_once_the_evening_before_and_not_for_a_booking_made_after_it() {
    let db = TestDb::new().await;
    let utility_id = fixtures::utility(&db.pool, "mlynary").await;
    let mut calendar = desk(2);
    calendar.min_notice_hours = 0;
    let mut conn = db.pool.acquire().await.unwrap();
    let calendar_id = store::publish(
        &mut conn,
        utility_id,
        "wizyty",
        "Wymiana wodomierza",
        None,
        &calendar,
    )
    .await
    .unwrap();
    let jan = fixtures::resident_account(&db.pool, utility_id, "jan@example.pl").await;
    let ola = fixtures::resident_account(&db.pool, utility_id, "ola@example.pl").await;
    let now = Utc::now();
    let slot = (7..40)
        .find_map(|d| {
            let day = local_day(now) + Days::new(d);
            calendar.slots(day, day).first().copied()
        })
        .unwrap();
    let eve = ebok_bookings::calendar::reminder_at(slot.start);
    store::book(&mut conn, utility_id, calendar_id, jan, slot.start, now)
        .await
        .unwrap();
    // Ola books at 19:00 the evening before: her confirmation is her reminder.
    store::book(
        &mut conn,
        utility_id,
        calendar_id,
        ola,
        slot.start,
        eve + Duration::hours(1),
    )
    .await
    .unwrap();
    use ebok_bookings::reminders::send_due;
    assert_eq!(
        send_due(&mut conn, eve - Duration::minutes(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        send_due(&mut conn, eve + Duration::hours(2)).await.unwrap(),
        1
    );
    assert_eq!(
        send_due(&mut conn, eve + Duration::hours(3)).await.unwrap(),
        0
    );
    let kinds: Vec<String> = told(&db.pool, jan)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(kinds, ["booking.confirmed", "booking.reminder"]);
    assert_eq!(told(&db.pool, ola).await.len(), 1);
}

#[tokio::test]
async fn changed_rules_reach_booked_slots_one_person_books_a_few_and_a_far_future_is_refused() {
    let db = TestDb::new().await;
    let utility_id = fixtures::utility(&db.pool, "mlynary").await;
    let mut calendar = desk(1);
    let mut conn = db.pool.acquire().await.unwrap();
    let calendar_id = store::publish(&mut conn, utility_id, "wizyty", "Wizyta", None, &calendar)
        .await
        .unwrap();
    let jan = fixtures::resident_account(&db.pool, utility_id, "jan@example.pl").await;
    let ola = fixtures::resident_account(&db.pool, utility_id, "ola@example.pl").await;
    let clerk = fixtures::resident_account(&db.pool, utility_id, "bok@example.pl").await;
    let now = Utc::now();
    let (day, slots) = (7..40)
        .find_map(|d| {
            let day = local_day(now) + Days::new(d);
            let slots = calendar.slots(day, day);
            (slots.len() >= 5).then_some((day, slots))
        })
        .unwrap();
    for slot in &slots[..3] {
        store::book(&mut conn, utility_id, calendar_id, jan, slot.start, now)
            .await
            .unwrap();
    }
    // A fourth visit in the same calendar is one too many.
    assert!(matches!(
        store::book(&mut conn, utility_id, calendar_id, jan, slots[3].start, now).await,
        Err(BookingError::TooMany)
    ));
    // Half a year and more ahead, or in a year nobody means, is no slot (and no panic).
    for far in [
        now + Duration::days(400),
        "-0390-02-10T09:00:00Z".parse().unwrap(),
    ] {
        assert!(
            store::book(&mut conn, utility_id, calendar_id, ola, far, now)
                .await
                .is_err()
        );
    }
    // Two places a slot from now on: Ola joins Jan's slot.
    calendar.capacity = 2;
    store::publish(&mut conn, utility_id, "wizyty", "Wizyta", None, &calendar)
        .await
        .unwrap();
    store::book(&mut conn, utility_id, calendar_id, ola, slots[0].start, now)
        .await
        .unwrap();
    // The day is marked closed in the rules first, then closed with a reason: the visits
    // booked under the old rules are cancelled all the same.
    calendar.closed.insert(day);
    store::publish(&mut conn, utility_id, "wizyty", "Wizyta", None, &calendar)
        .await
        .unwrap();
    let act = store::StaffAct {
        utility_id,
        staff_id: clerk,
        reason: "Inwentaryzacja.",
        now,
    };
    let cancelled = store::close(&mut conn, act, calendar_id, day, None)
        .await
        .unwrap();
    assert_eq!(cancelled.len(), 4);
    let standing: i64 =
        sqlx::query_scalar("SELECT count(*) FROM bookings WHERE cancelled_at IS NULL")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(standing, 0);
}
