//! The booking calendar over HTTP: a resident books, moves and cancels a visit in the portal
//! and downloads it as `.ics`; the app does the same through the API; staff publish a
//! calendar, close a day with a reason the resident then reads. Another resident, another
//! utility and a staff member without the role reach nothing.

use crate::support;

use std::collections::BTreeSet;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc, Weekday};
use ebok_bookings::calendar::{Calendar, Hours};
use ebok_bookings::store;
use ebok_common::domain::time::local_day;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use serde_json::{Value, json};
use support::{App, html_page, resident, staff, utility};

/// Every day 9:00–15:00, half-hour slots of one place, 24 hours' notice.
fn desk() -> Calendar {
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
        capacity: 1,
        closed: BTreeSet::new(),
        min_notice_hours: 24,
    }
}

async fn publish(app: &App, utility_id: i64) -> (i64, NaiveDate, Vec<DateTime<Utc>>) {
    let calendar = desk();
    let mut conn = app.pool().acquire().await.unwrap();
    let id = store::publish(
        &mut conn,
        utility_id,
        "prezes",
        "Spotkanie z prezesem",
        Some("Biuro, ul. Dworcowa 5"),
        &calendar,
    )
    .await
    .unwrap();
    // A day a week on with its slots (not a holiday).
    let now = Utc::now();
    let (day, slots) = (7..40)
        .find_map(|d| {
            let day = local_day(now) + Days::new(d);
            let slots: Vec<_> = calendar.slots(day, day).iter().map(|s| s.start).collect();
            (!slots.is_empty()).then_some((day, slots))
        })
        .unwrap();
    (id, day, slots)
}

fn visit_of(response: &reqwest::Response) -> (String, i64) {
    let location = response.headers()[LOCATION].to_str().unwrap().to_string();
    let id = location
        .split('/')
        .next_back()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (location, id)
}

#[tokio::test]
async fn a_resident_books_moves_and_cancels_a_visit_and_nobody_else_reaches_it() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let (calendar, day, slots) = publish(&app, utility_id).await;
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    let ola = resident(app.pool(), utility_id, "mlynary", "ola@example.pl", 0).await;
    let other = utility(app.pool(), "inne").await;
    let ewa = resident(app.pool(), other, "inne", "ewa@example.pl", 0).await;
    let jan_c = app.web_login("mlynary", &jan.email).await;
    let ola_c = app.web_login("mlynary", &ola.email).await;
    let ewa_c = app.web_login("inne", &ewa.email).await;

    let list = html_page(app.web_get(&jan_c, "/u/mlynary/wizyty").await).await;
    assert!(list.contains("Spotkanie z prezesem") && list.contains("Biuro, ul. Dworcowa 5"));
    let page = format!("/u/mlynary/wizyty/kalendarze/{calendar}");
    let week = html_page(app.web_get(&jan_c, &format!("{page}?od={day}")).await).await;
    let first = slots[0].to_rfc3339();
    assert!(week.contains(&format!("value=\"{first}\"")), "{week}");
    let csrf = app.web_csrf(&jan_c, &page).await;
    let booked = app
        .web_post(&jan_c, &page, &[("csrf", &csrf), ("start", &first)])
        .await;
    assert_eq!(booked.status(), 303);
    let (location, visit) = visit_of(&booked);
    assert!(location.ends_with("?zarezerwowano=1"), "{location}");
    let shown = html_page(app.web_get(&jan_c, &location).await).await;
    assert!(shown.contains("Zarezerwowana") && shown.contains("Zmień termin"));

    // The slot is Jan's now: Ola is told at once, and her calendar shows it taken.
    let ola_csrf = app.web_csrf(&ola_c, &page).await;
    let refused = app
        .web_post(&ola_c, &page, &[("csrf", &ola_csrf), ("start", &first)])
        .await;
    assert_eq!(refused.status(), 422);
    assert!(
        html_page(refused)
            .await
            .contains("Ten termin jest już zajęty")
    );
    // Nobody else reaches Jan's visit: not Ola, not another utility's resident.
    for path in [
        format!("/u/mlynary/wizyty/{visit}"),
        format!("/u/mlynary/wizyty/{visit}/wizyta.ics"),
    ] {
        assert_eq!(app.web_get(&ola_c, &path).await.status(), 404, "{path}");
    }
    let cancel = format!("/u/mlynary/wizyty/{visit}/odwolaj");
    assert_eq!(
        app.web_post(&ola_c, &cancel, &[("csrf", &ola_csrf)])
            .await
            .status(),
        404
    );
    assert_eq!(
        app.web_get(&ewa_c, &format!("/u/inne/wizyty/kalendarze/{calendar}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.web_get(&ewa_c, &format!("/u/inne/wizyty/{visit}"))
            .await
            .status(),
        404
    );

    // Jan moves it: the new visit stands, the old one points to it, the old slot is free.
    let second = slots[1].to_rfc3339();
    let moved = app
        .web_post(
            &jan_c,
            &page,
            &[
                ("csrf", &csrf),
                ("start", &second),
                ("przenies", &visit.to_string()),
            ],
        )
        .await;
    assert_eq!(moved.status(), 303);
    let (location, new) = visit_of(&moved);
    assert!(location.ends_with("?przeniesiono=1"));
    let old = html_page(
        app.web_get(&jan_c, &format!("/u/mlynary/wizyty/{visit}"))
            .await,
    )
    .await;
    assert!(old.contains(&format!("/u/mlynary/wizyty/{new}")));
    let again = app
        .web_post(&ola_c, &page, &[("csrf", &ola_csrf), ("start", &first)])
        .await;
    assert_eq!(again.status(), 303, "the old slot is free");

    // The .ics of the visit.
    let ics = app
        .web_get(&jan_c, &format!("/u/mlynary/wizyty/{new}/wizyta.ics"))
        .await;
    assert_eq!(ics.status(), 200);
    assert!(
        ics.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let body = ics.text().await.unwrap();
    assert!(body.contains("BEGIN:VEVENT") && body.contains("STATUS:CONFIRMED"));
    assert!(
        body.contains(&slots[1].format("DTSTART:%Y%m%dT%H%M%SZ").to_string()),
        "{body}"
    );

    // And cancels it: the page says so.
    let cancelled = app
        .web_post(
            &jan_c,
            &format!("/u/mlynary/wizyty/{new}/odwolaj"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(cancelled.status(), 303);
    let page = html_page(
        app.web_get(&jan_c, &format!("/u/mlynary/wizyty/{new}?odwolano=1"))
            .await,
    )
    .await;
    assert!(page.contains("Odwołana") && !page.contains("Zmień termin"));
    // Jan was told of each step.
    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM outbox WHERE recipient_account_id = $1 ORDER BY id")
            .bind(jan.account_id)
            .fetch_all(app.pool())
            .await
            .unwrap();
    assert_eq!(
        kinds,
        ["booking.confirmed", "booking.changed", "booking.cancelled"]
    );
}

#[tokio::test]
async fn the_app_books_through_the_api_and_a_full_slot_is_a_conflict() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let (calendar, day, slots) = publish(&app, utility_id).await;
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    let ola = resident(app.pool(), utility_id, "mlynary", "ola@example.pl", 0).await;
    let other = utility(app.pool(), "inne").await;
    let ewa = resident(app.pool(), other, "inne", "ewa@example.pl", 0).await;
    let jan_t = app.login("mlynary", &jan.email).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let ola_t = app.login("mlynary", &ola.email).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let ewa_t = app.login("inne", &ewa.email).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();

    let calendars: Value = app
        .get(&jan_t, "/api/v1/booking-calendars")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(calendars[0]["id"], calendar);
    assert_eq!(calendars[0]["slot_minutes"], 30);
    let free: Value = app
        .get(
            &jan_t,
            &format!("/api/v1/booking-calendars/{calendar}/slots?from={day}&to={day}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(free.as_array().unwrap().len(), slots.len());
    assert_eq!(free[0]["free"], 1);
    assert_eq!(free[0]["bookable"], true);
    let too_long = app
        .get(
            &jan_t,
            &format!(
                "/api/v1/booking-calendars/{calendar}/slots?from={day}&to={}",
                day + Days::new(60)
            ),
        )
        .await;
    assert_eq!(too_long.status(), 422);
    assert_eq!(support::problem(too_long).await["field"], "to");

    let start = slots[0].to_rfc3339();
    let made = app
        .post(
            Some(&jan_t),
            "/api/v1/bookings",
            json!({ "calendar_id": calendar, "start": start }),
        )
        .await;
    assert_eq!(made.status(), 201);
    let made: Value = made.json().await.unwrap();
    let id = made["id"].as_i64().unwrap();
    assert_eq!(made["status"], "booked");
    assert_eq!(made["place"], "Biuro, ul. Dworcowa 5");
    let full = app
        .post(
            Some(&ola_t),
            "/api/v1/bookings",
            json!({ "calendar_id": calendar, "start": start }),
        )
        .await;
    assert_eq!(full.status(), 409);
    assert_eq!(support::problem(full).await["field"], "start");
    let not_a_slot = app
        .post(
            Some(&ola_t),
            "/api/v1/bookings",
            json!({ "calendar_id": calendar, "start": (slots[0] + chrono::Duration::minutes(7)).to_rfc3339() }),
        )
        .await;
    assert_eq!(not_a_slot.status(), 422);
    // Another resident, another utility's resident: nothing.
    for token in [&ola_t, &ewa_t] {
        for path in [
            format!("/api/v1/bookings/{id}"),
            format!("/api/v1/bookings/{id}/ics"),
        ] {
            assert_eq!(app.get(token, &path).await.status(), 404, "{path}");
        }
        assert_eq!(
            app.post(
                Some(token),
                &format!("/api/v1/bookings/{id}/cancel"),
                json!({})
            )
            .await
            .status(),
            404
        );
    }
    assert_eq!(
        app.get(
            &ewa_t,
            &format!("/api/v1/booking-calendars/{calendar}/slots")
        )
        .await
        .status(),
        404
    );
    let moved: Value = app
        .post(
            Some(&jan_t),
            &format!("/api/v1/bookings/{id}/move"),
            json!({ "start": slots[1].to_rfc3339() }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(moved["start"], json!(slots[1]));
    let mine: Value = app
        .get(&jan_t, "/api/v1/bookings")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        mine.as_array().unwrap().len(),
        1,
        "the move stands for the old one"
    );
    let cancelled: Value = app
        .post(
            Some(&jan_t),
            &format!("/api/v1/bookings/{}/cancel", moved["id"]),
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
}

#[tokio::test]
async fn a_clerk_closes_a_day_with_a_reason_and_only_the_counter_of_the_utility_can() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    let clerk = staff(app.pool(), utility_id, "mlynary", "clerk").await;
    let billing = staff(app.pool(), utility_id, "mlynary", "billing").await;
    let technician = staff(app.pool(), utility_id, "mlynary", "technician").await;
    let other = utility(app.pool(), "inne").await;
    let foreign = staff(app.pool(), other, "inne", "clerk").await;
    let clerk_c = app.staff_web_login(&clerk, 1).await;
    let billing_c = app.staff_web_login(&billing, 1).await;
    let technician_c = app.staff_web_login(&technician, 1).await;
    let foreign_c = app.staff_web_login(&foreign, 1).await;

    // The clerk publishes a calendar; hours that cannot be read are named at their field.
    let csrf = app.web_csrf(&clerk_c, "/panel/mlynary/wizyty/nowy").await;
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("kod", "prezes"),
        ("nazwa", "Spotkanie z prezesem"),
        ("miejsce", "Biuro, ul. Dworcowa 5"),
        ("dlugosc", "30"),
        ("miejsca", "1"),
        ("wyprzedzenie", "24"),
        ("zamkniete", ""),
    ];
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map(|d| format!("godziny_{d}"));
    for d in &days {
        form.push((d.as_str(), "9:00-15:00"));
    }
    let mut broken = form.clone();
    broken[8].1 = "dziewiąta";
    let refused = app
        .web_post(&clerk_c, "/panel/mlynary/wizyty/nowy", &broken)
        .await;
    assert_eq!(refused.status(), 422);
    let page = html_page(refused).await;
    assert!(
        page.contains("id=\"godziny_mon-error\"") && page.contains("8:00-15:00"),
        "{page}"
    );
    let saved = app
        .web_post(&clerk_c, "/panel/mlynary/wizyty/nowy", &form)
        .await;
    assert_eq!(saved.status(), 303);
    let calendar: i64 =
        sqlx::query_scalar("SELECT id FROM booking_calendars WHERE code = 'prezes'")
            .fetch_one(app.pool())
            .await
            .unwrap();

    // Jan books a slot a week on.
    let now = Utc::now();
    let (day, start) = (7..40)
        .find_map(|d| {
            let day = local_day(now) + Days::new(d);
            desk().slots(day, day).first().map(|s| (day, s.start))
        })
        .unwrap();
    let mut conn = app.pool().acquire().await.unwrap();
    let visit = store::book(&mut conn, utility_id, calendar, jan.account_id, start, now)
        .await
        .unwrap();
    drop(conn);

    // Staff without the role, and another utility's clerk, reach nothing.
    for cookie in [&billing_c, &technician_c] {
        for path in [
            "/panel/mlynary/wizyty".to_string(),
            format!("/panel/mlynary/wizyty/{calendar}?dzien={day}"),
        ] {
            assert_eq!(app.web_get(cookie, &path).await.status(), 403, "{path}");
        }
    }
    let billing_csrf = app.web_csrf(&billing_c, "/panel/mlynary/").await;
    assert_eq!(
        app.web_post(
            &billing_c,
            &format!("/panel/mlynary/wizyty/{calendar}/zamknij"),
            &[
                ("csrf", &billing_csrf),
                ("dzien", &day.to_string()),
                ("powod", "x")
            ],
        )
        .await
        .status(),
        403
    );
    let foreign_csrf = app.web_csrf(&foreign_c, "/panel/inne/").await;
    assert_eq!(
        app.web_get(&foreign_c, &format!("/panel/inne/wizyty/{calendar}"))
            .await
            .status(),
        404
    );
    for path in [
        format!("/panel/inne/wizyty/{calendar}/zamknij"),
        format!("/panel/inne/wizyty/{calendar}/rezerwacje/{visit}/odwolaj"),
    ] {
        assert_eq!(
            app.web_post(
                &foreign_c,
                &path,
                &[
                    ("csrf", &foreign_csrf),
                    ("dzien", &day.to_string()),
                    ("powod", "x")
                ],
            )
            .await
            .status(),
            404,
            "{path}"
        );
    }

    // The day shows Jan's visit; closing it needs a reason, then Jan is told and reads it.
    let day_page = format!("/panel/mlynary/wizyty/{calendar}?dzien={day}");
    let shown = html_page(app.web_get(&clerk_c, &day_page).await).await;
    assert!(shown.contains(&jan.email), "{shown}");
    let close = format!("/panel/mlynary/wizyty/{calendar}/zamknij");
    let day_s = day.to_string();
    let no_reason = app
        .web_post(
            &clerk_c,
            &close,
            &[("csrf", &csrf), ("dzien", &day_s), ("powod", " ")],
        )
        .await;
    assert_eq!(no_reason.status(), 422);
    assert!(html_page(no_reason).await.contains("Podaj powód"));
    let closed = app
        .web_post(
            &clerk_c,
            &close,
            &[
                ("csrf", &csrf),
                ("dzien", &day_s),
                ("powod", "Prezes na urlopie."),
            ],
        )
        .await;
    assert_eq!(closed.status(), 303);
    assert!(
        closed.headers()[LOCATION]
            .to_str()
            .unwrap()
            .ends_with("odwolano=1")
    );
    let jan_c = app.web_login("mlynary", &jan.email).await;
    let visit_page = html_page(
        app.web_get(&jan_c, &format!("/u/mlynary/wizyty/{visit}"))
            .await,
    )
    .await;
    assert!(visit_page.contains("Prezes na urlopie."), "{visit_page}");
    let week = html_page(
        app.web_get(
            &jan_c,
            &format!("/u/mlynary/wizyty/kalendarze/{calendar}?od={day}"),
        )
        .await,
    )
    .await;
    assert!(
        week.contains("Terminy odwołane przez przedsiębiorstwo.")
            && week.contains("Prezes na urlopie.")
    );
    let told: Value = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE recipient_account_id = $1 AND kind = 'booking.cancelled'",
    )
    .bind(jan.account_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(told["reason"], "Prezes na urlopie.");
}
