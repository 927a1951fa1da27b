//! A failure report in a real headless Chromium: a resident reports a burst pipe with a photo
//! and the phone's position (the "use my location" button, the browser's geolocation answering
//! with a point), sees the report with its photo; the form works on a 360 px phone for anybody
//! without an account; the counter finds the report nearest to a point and confirms it, and
//! the resident sees the new state. axe-core checks every page on the way: none may have a
//! serious or critical violation.

use crate::journeys;

use ebok_testkit::browser::Browser;
use ebok_testkit::{TestDb, fixtures};
use journeys::{Office, fetch, link_to};

#[tokio::test]
async fn a_resident_reports_a_failure_with_a_photo_and_the_phones_position_and_the_counter_confirms_it()
 {
    let db = TestDb::new().await;
    let office = Office::start(&db.pool).await;
    let files = tempfile::tempdir().unwrap();
    let photo = files.path().join("IMG_2041.png");
    std::fs::write(&photo, fixtures::png_photo("54.1940 N, 19.6750 E")).unwrap();
    let browser = Browser::start().await;
    office.resident_signs_in(&browser).await;

    browser.click_and_wait("nav a[href$='/awarie']").await;
    browser.assert_no_serious_violations("failures").await;
    browser
        .click_and_wait("main a[href$='/awarie/zglos']")
        .await;
    browser.assert_no_serious_violations("report form").await;

    // The phone knows where it is: the browser's geolocation answers with a point.
    browser
        .client()
        .execute(
            "navigator.geolocation.getCurrentPosition = (ok) =>
                 ok({coords: {latitude: 54.1940, longitude: 19.6750, accuracy: 8}});",
            vec![],
        )
        .await
        .unwrap();
    browser.find("#locate").await.click().await.unwrap();
    browser
        .wait_for_text("#locate-status", "Położenie ustalone")
        .await;
    let lat = browser.find("#lat").await.prop("value").await.unwrap();
    assert_eq!(lat.as_deref(), Some("54.194000"));

    browser.fill("category", "burst_pipe").await;
    browser
        .fill("description", "Woda bije spod asfaltu przed domem.")
        .await;
    browser
        .find("input[type=file][name=photos]")
        .await
        .send_keys(&photo.to_string_lossy())
        .await
        .unwrap();
    browser.click_submit().await;
    browser.wait_for_text("main", "Dziękujemy").await;
    let text = browser.text("main").await;
    assert!(
        text.contains("Pęknięta rura") && text.contains("przyjęte") && text.contains("54.19400"),
        "{text}"
    );
    browser.assert_no_serious_violations("a report").await;
    let src = browser
        .find("main img")
        .await
        .attr("src")
        .await
        .unwrap()
        .expect("the photo shown");
    let (status, head) = fetch(&browser, &src).await;
    assert_eq!(status, 200);
    assert!(head.starts_with(b"\x89PNG"));
    let report = browser.current_path().await;

    // Anybody, on a phone, without an account: the form fits and asks for an e-mail address.
    let phone = Browser::start_phone().await;
    phone.goto(&office.portal("awarie/zglos")).await;
    assert!(phone.exists("input[name=email]").await);
    let problems = phone.phone_layout_problems().await;
    assert!(problems.is_empty(), "{problems:#?}");
    phone
        .assert_no_serious_violations("report form on a phone")
        .await;
    phone.close().await;

    // The counter: the report nearest to a point, confirmed.
    office.clerk_signs_in(&browser).await;
    browser.goto(&office.panel("awarie")).await;
    browser.fill("lat", "54,1941").await;
    browser.fill("lon", "19,6750").await;
    browser.click_submit().await;
    browser.wait_for_text("main", "11 m").await;
    browser
        .assert_no_serious_violations("reports by distance")
        .await;
    let href = link_to(&browser, "Pęknięta rura").await;
    browser.goto(&format!("{}{href}", office.url)).await;
    browser
        .assert_no_serious_violations("a report for staff")
        .await;
    browser
        .click_and_wait("form input[value=verify] ~ button")
        .await;
    browser.wait_for_text("main", "Zapisano").await;
    assert!(browser.text("#stan").await.contains("potwierdzone"));

    browser.goto(&format!("{}{report}", office.url)).await;
    assert!(browser.text("#stan").await.contains("potwierdzone"));
    browser.close().await;
    office.stop().await;
}
