//! The booking calendar in a real headless Chromium: a clerk publishes a calendar from the back
//! office's form; a resident books a visit, moves it, cancels it and books again; the clerk
//! cancels the whole day with a reason; the resident reads the reason on the visit and in the
//! calendar. The calendar fits a 360 px phone. axe-core checks every page on the way: none may
//! have a serious or critical violation.

use crate::journeys;

use chrono::{Days, Utc};
use ebok_bookings::store;
use ebok_common::domain::time::local_day;
use ebok_testkit::TestDb;
use ebok_testkit::browser::Browser;
use journeys::{Office, link_to};

#[tokio::test]
async fn a_resident_books_moves_and_cancels_and_sees_why_the_clerk_cancelled_the_day() {
    let db = TestDb::new().await;
    let office = Office::start(&db.pool).await;
    let browser = Browser::start().await;

    // The clerk publishes the calendar: every weekday but Sunday 9:00–12:00, half-hour visits.
    office.clerk_signs_in(&browser).await;
    browser.goto(&office.panel("wizyty")).await;
    browser
        .assert_no_serious_violations("staff calendars")
        .await;
    browser.click_and_wait("a[href$='/wizyty/nowy']").await;
    browser.assert_no_serious_violations("calendar form").await;
    browser.fill("kod", "prezes").await;
    browser.fill("nazwa", "Spotkanie z prezesem").await;
    browser.fill("miejsce", "Biuro, ul. Dworcowa 5").await;
    for day in ["mon", "tue", "wed", "thu", "fri", "sat"] {
        browser.fill(&format!("godziny_{day}"), "9:00-12:00").await;
    }
    browser.click_submit().await;
    assert!(
        browser.text("main").await.contains("Zapisano kalendarz"),
        "{}",
        browser.text("main").await
    );
    let calendar_page = browser.current_path().await;
    let calendar_id: i64 = calendar_page.rsplit('/').next().unwrap().parse().unwrap();
    let mut conn = db.pool.acquire().await.unwrap();
    let calendar = store::calendar(&mut conn, office.utility_id, calendar_id)
        .await
        .unwrap();
    drop(conn);
    // A day a week on with at least three slots.
    let (day, slots) = (7..40)
        .find_map(|d| {
            let day = local_day(Utc::now()) + Days::new(d);
            let slots = calendar.rules.slots(day, day);
            (slots.len() >= 3).then_some((day, slots))
        })
        .unwrap();

    // The resident books the first slot of that day.
    office.resident_signs_in(&browser).await;
    browser.goto(&office.portal("wizyty")).await;
    browser.assert_no_serious_violations("visits").await;
    let calendar_link = link_to(&browser, "Spotkanie z prezesem").await;
    browser
        .goto(&format!("{}{calendar_link}?od={day}", office.url))
        .await;
    browser
        .assert_no_serious_violations("booking calendar")
        .await;
    let slot = |i: usize| format!("button[value='{}']", slots[i].start.to_rfc3339());
    browser.click_and_wait(&slot(0)).await;
    browser.wait_for_text("main", "Zarezerwowano").await;
    browser.assert_no_serious_violations("a visit").await;
    assert!(browser.text("#stan").await.contains("Zarezerwowana"));
    assert!(browser.exists("a[href$='wizyta.ics']").await);

    // Moves it to the third slot, then cancels it.
    browser.click_and_wait("a[href*='przenies=']").await;
    browser
        .wait_for_text("main", "Zmieniasz termin wizyty")
        .await;
    browser.assert_no_serious_violations("moving a visit").await;
    browser.click_and_wait(&slot(2)).await;
    browser.wait_for_text("main", "Termin zmieniony").await;
    assert!(
        browser
            .text("main")
            .await
            .contains(&slots[2].local_start.format("%H:%M").to_string())
    );
    browser
        .click_and_wait("form[action$='/odwolaj'] button")
        .await;
    browser.wait_for_text("#stan", "Odwołana").await;
    // The first slot is free again: the resident books it once more.
    browser
        .goto(&format!("{}{calendar_link}?od={day}", office.url))
        .await;
    browser.click_and_wait(&slot(0)).await;
    browser.wait_for_text("main", "Zarezerwowano").await;
    let visit_page = browser.current_path().await;

    // The clerk cancels the whole day with a reason.
    browser
        .goto(&office.panel(&format!("wizyty/{calendar_id}?dzien={day}")))
        .await;
    browser.assert_no_serious_violations("staff day").await;
    assert!(browser.text("main").await.contains(journeys::EMAIL));
    browser.fill("powod", "Prezes na urlopie.").await;
    browser.submit("#odwolaj-dzien").await;
    browser.wait_for_text("main", "Odwołano 1 wizytę").await;

    // The resident reads why, on the visit and in the calendar.
    browser.goto(&format!("{}{visit_page}", office.url)).await;
    browser.wait_for_text("#stan", "Prezes na urlopie.").await;
    browser
        .goto(&format!("{}{calendar_link}?od={day}", office.url))
        .await;
    browser
        .wait_for_text("main", "Terminy odwołane przez przedsiębiorstwo.")
        .await;
    browser.assert_no_serious_violations("a closed day").await;
    browser.close().await;

    // On a phone, the week of slots fits the screen and every button a fingertip.
    let phone = Browser::start_phone().await;
    office.resident_signs_in(&phone).await;
    phone
        .goto(&format!(
            "{}{calendar_link}?od={}",
            office.url,
            day + Days::new(1)
        ))
        .await;
    let problems = phone.phone_layout_problems().await;
    assert!(problems.is_empty(), "{problems:#?}");
    for page in [
        "wizyty",
        visit_page.trim_start_matches(&format!("/u/{}/", journeys::SLUG)),
    ] {
        phone.goto(&office.portal(page)).await;
        let problems = phone.phone_layout_problems().await;
        assert!(problems.is_empty(), "{page}: {problems:#?}");
    }
    phone.close().await;
    office.stop().await;
}
