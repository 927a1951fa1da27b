//! Outage notices in a real headless Chromium: a clerk makes a network zone, announces a
//! notice for a street and the zone from the back office, and ends it; anyone reads the public
//! page, on a desktop and on a 360 px phone. axe-core checks every page on the way: none may
//! have a serious or critical violation.

use crate::journeys;

use ebok_testkit::TestDb;
use ebok_testkit::browser::Browser;
use journeys::{Office, SLUG};

#[tokio::test]
async fn a_clerk_announces_a_notice_the_public_page_shows_it_and_then_that_supply_is_back() {
    let db = TestDb::new().await;
    let office = Office::start(&db.pool).await;
    let browser = Browser::start().await;
    office.clerk_signs_in(&browser).await;

    browser.goto(&office.panel("strefy")).await;
    browser.assert_no_serious_violations("zones").await;
    browser.fill("kod", "polnoc").await;
    browser.fill("nazwa", "Północ").await;
    browser.submit("form[action$='/strefy']").await;
    browser.wait_for_text("main", "Dodano strefę").await;

    browser.goto(&office.panel("komunikaty")).await;
    browser.assert_no_serious_violations("notices").await;
    browser.click_and_wait("a[href$='/komunikaty/nowy']").await;
    browser.assert_no_serious_violations("notice form").await;
    browser.fill("tytul", "Awaria sieci na ul. Lipowej").await;
    browser.fill("opis", "Beczkowóz stoi przy szkole.").await;
    // The fixtures' household is at Lipowa 1, Testowo.
    browser
        .fill("ulice", "Testowo, Lipowa, 1-15 nieparzyste")
        .await;
    browser.check("strefa_1").await;
    browser.click_submit().await;
    browser.wait_for_text("main", "Opublikowano").await;
    browser
        .assert_no_serious_violations("a published notice")
        .await;

    // Anyone, without logging in, on the public page.
    browser.goto(&office.portal("komunikaty")).await;
    browser
        .wait_for_text("main", "Awaria sieci na ul. Lipowej")
        .await;
    assert!(browser.text("main").await.contains("strefa Północ"));
    browser.assert_no_serious_violations("public notices").await;
    let phone = Browser::start_phone().await;
    phone.goto(&office.portal("komunikaty")).await;
    let problems = phone.phone_layout_problems().await;
    assert!(problems.is_empty(), "{problems:#?}");
    phone.close().await;

    // Supply is back.
    browser.goto(&office.panel("komunikaty")).await;
    browser
        .click_and_wait("main a[href*='/komunikaty/']:not([href$='nowy'])")
        .await;
    browser
        .click_and_wait("form[action$='/zakoncz'] button")
        .await;
    browser.wait_for_text("main", "Zakończono").await;
    browser
        .goto(&format!("{}/u/{SLUG}/komunikaty", office.url))
        .await;
    browser
        .wait_for_text("main", "Zakończone w ostatnim tygodniu")
        .await;
    browser.close().await;
    office.stop().await;
}
