//! Failure reports over the JSON API: a resident files one with a photo (its metadata gone)
//! and reads it back, bad input is refused at its field, a second resident is offered it
//! nearby and joins it, anybody files with an e-mail address (within a limit an hour), and a
//! technician reaches only the jobs their crew was sent to, marks one fixed and adds a photo.
//! Other residents, other utilities' residents and staff, and staff without the permission
//! reach nothing.

use crate::support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ebok_testkit::fixtures;
use serde_json::{Value, json};
use support::{App, StaffMember, problem, resident, staff, utility};

/// Lipowa 5 in Młynary, as a phone's GPS has it.
const LIPOWA: (f64, f64) = (54.194_00, 19.675_00);

fn token(login: &Value) -> String {
    login["access_token"].as_str().unwrap().to_string()
}

fn photo(location: &str) -> String {
    STANDARD.encode(fixtures::png_photo(location))
}

/// A resident of `slug` (created in `utility_id`), signed in through the API: their token.
async fn resident_token(app: &App, utility_id: i64, slug: &str, email: &str) -> String {
    resident(app.pool(), utility_id, slug, email, 0).await;
    token(&app.login(slug, email).await)
}

async fn staff_token(app: &App, utility_id: i64, slug: &str, role: &str) -> (StaffMember, String) {
    let who = staff(app.pool(), utility_id, slug, role).await;
    let token = app.staff_token(&who, 1).await;
    (who, token)
}

/// A report of no water at Lipowa 5 (the point and the address).
fn lipowa(category: &str) -> Value {
    json!({
        "category": category,
        "description": "Od rana nie ma wody w całym budynku.",
        "lat": LIPOWA.0,
        "lon": LIPOWA.1,
        "address": "Lipowa 5, Młynary",
    })
}

async fn file(app: &App, token: &str, body: Value) -> Value {
    let response = app.post(Some(token), "/api/v1/failure-reports", body).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status, "{}", response.url());
    response.json().await.unwrap()
}

fn has_gps(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"GPSPosition")
}

#[tokio::test]
async fn a_resident_files_a_report_with_a_photo_and_reads_it_back_without_its_metadata() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident_token(&app, u, "mlynary", "jan@example.pl").await;
    let mut body = lipowa("no_water");
    body["photos"] = json!([photo("54.1940 N, 19.6750 E")]);
    let filed = file(&app, &jan, body).await;
    assert_eq!(filed["state"], "reported", "{filed}");
    assert_eq!(filed["state_label"], "przyjęte");
    assert_eq!(filed["category"], "no_water");
    assert_eq!(filed["category_label"], "Brak wody");
    assert_eq!(filed["address"], "Lipowa 5, Młynary");
    assert_eq!(filed["lat"], LIPOWA.0);
    assert_eq!(filed["reporters"], 1);
    assert_eq!(filed["history"][0]["action"], "reported");
    assert_eq!(filed["photos"].as_array().unwrap().len(), 1);
    let id = filed["id"].as_i64().unwrap();

    let mine = json_of(app.get(&jan, "/api/v1/failure-reports").await, 200).await;
    assert_eq!(mine[0]["id"], id, "{mine}");
    assert_eq!(mine[0]["photos"], 1);
    let read = json_of(
        app.get(&jan, &format!("/api/v1/failure-reports/{id}"))
            .await,
        200,
    )
    .await;
    assert_eq!(read, filed);

    let url = filed["photos"][0]["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("/api/v1/failure-reports/{id}/photos/")));
    let response = app.get(&jan, url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(!has_gps(&bytes), "the photo kept its location");
    // A photo of another report is not found under this one.
    let other = file(&app, &jan, lipowa("low_pressure")).await;
    let response = app
        .get(
            &jan,
            &format!(
                "/api/v1/failure-reports/{}/photos/{}",
                other["id"], filed["photos"][0]["id"]
            ),
        )
        .await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn bad_reports_are_refused_as_problems_naming_the_field() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident_token(&app, u, "mlynary", "jan@example.pl").await;
    let with = |changes: Value| {
        let mut body = lipowa("burst_pipe");
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let cases = [
        (with(json!({ "description": "   " })), "description"),
        (
            with(json!({ "description": "x".repeat(4001) })),
            "description",
        ),
        (
            with(json!({ "lat": null, "lon": null, "address": null })),
            "address",
        ),
        (with(json!({ "address": "ł".repeat(301) })), "address"),
        (with(json!({ "lon": null })), "lon"),
        (with(json!({ "lat": 91.0 })), "lat"),
        (with(json!({ "category": "volcano" })), "category"),
        (with(json!({ "photos": ["to nie base64!"] })), "photos"),
        (
            with(json!({ "photos": [STANDARD.encode("nie zdjęcie")] })),
            "photos",
        ),
        (with(json!({ "photos": vec![photo("tu"); 6] })), "photos"),
    ];
    for (body, field) in cases {
        let response = app
            .post(Some(&jan), "/api/v1/failure-reports", body.clone())
            .await;
        assert_eq!(response.status(), 422, "{field}: {body}");
        let problem = problem(response).await;
        assert_eq!(problem["field"], field, "{problem}");
        assert!(!problem["detail"].as_str().unwrap().is_empty());
    }
    // A photo over 8 MB reaches its check (the body may carry five of them) and is refused.
    let big = STANDARD.encode(vec![0u8; 8 * 1024 * 1024 + 1]);
    let response = app
        .post(
            Some(&jan),
            "/api/v1/failure-reports",
            with(json!({ "photos": [big] })),
        )
        .await;
    let refused = problem(response).await;
    assert_eq!(refused["field"], "photos", "{refused}");
    assert!(
        refused["detail"].as_str().unwrap().contains("8 MB"),
        "{refused}"
    );
    // Nothing was filed.
    let mine = json_of(app.get(&jan, "/api/v1/failure-reports").await, 200).await;
    assert_eq!(mine, json!([]));
    // Nor is a nearby question with half a point answered.
    let response = app
        .get(
            &jan,
            "/api/v1/failure-reports/nearby?category=no_water&lat=54.19",
        )
        .await;
    assert_eq!(problem(response).await["field"], "lon");
}

#[tokio::test]
async fn a_report_is_offered_nearby_to_a_second_resident_who_joins_it_and_nobody_else_reaches_it() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let other_utility = utility(app.pool(), "pieniezno").await;
    let jan = resident_token(&app, u, "mlynary", "jan@example.pl").await;
    let ola = resident_token(&app, u, "mlynary", "ola@example.pl").await;
    let piotr = resident_token(&app, u, "mlynary", "piotr@example.pl").await;
    let foreign = resident_token(&app, other_utility, "pieniezno", "ewa@example.pl").await;
    let mut body = lipowa("no_water");
    body["photos"] = json!([photo("54.1940 N, 19.6750 E")]);
    let filed = file(&app, &jan, body).await;
    let id = filed["id"].as_i64().unwrap();
    let path = format!("/api/v1/failure-reports/{id}");
    let photo_path = filed["photos"][0]["url"].as_str().unwrap().to_string();

    // Ola, 50 m up the street, is offered it: where and what, not who nor their words.
    let near = format!(
        "/api/v1/failure-reports/nearby?category=no_water&lat={}&lon={}",
        LIPOWA.0 + 0.000_45,
        LIPOWA.1
    );
    let offered = json_of(app.get(&ola, &near).await, 200).await;
    assert_eq!(offered.as_array().unwrap().len(), 1, "{offered}");
    assert_eq!(offered[0]["id"], id);
    assert_eq!(offered[0]["mine"], false);
    let metres = offered[0]["distance_m"].as_f64().unwrap();
    assert!((40.0..60.0).contains(&metres), "{metres}");
    assert!(offered[0].get("description").is_none(), "{offered}");
    // By the address too, whatever its case; not for another category.
    let by_address = json_of(
        app.get(
            &ola,
            "/api/v1/failure-reports/nearby?category=no_water&address=lipowa%205,%20m%C5%82ynary",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(by_address[0]["id"], id, "{by_address}");
    let other_kind = json_of(
        app.get(&ola, &near.replace("no_water", "low_pressure"))
            .await,
        200,
    )
    .await;
    assert_eq!(other_kind, json!([]));

    // Before she joins, it is not hers to read.
    assert_eq!(app.get(&ola, &path).await.status(), 404);
    assert_eq!(app.get(&ola, &photo_path).await.status(), 404);
    let joined = json_of(
        app.post(Some(&ola), &format!("{path}/join"), json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(joined["id"], id);
    assert_eq!(joined["reporters"], 2);
    assert_eq!(joined["description"], "", "the filer's words are theirs");
    // She follows it now, but the filer's photo stays theirs (and staff's).
    assert_eq!(joined["photos"], json!([]));
    assert_eq!(app.get(&ola, &photo_path).await.status(), 404);
    let offered = json_of(app.get(&ola, &near).await, 200).await;
    assert_eq!(offered[0]["mine"], true);
    let hers = json_of(app.get(&ola, "/api/v1/failure-reports").await, 200).await;
    assert_eq!(hers[0]["id"], id);
    // Joining again changes nothing.
    let again = json_of(
        app.post(Some(&ola), &format!("{path}/join"), json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(again["reporters"], 2);

    // Another resident, and a resident of another utility, reach nothing of it.
    assert_eq!(app.get(&piotr, &path).await.status(), 404);
    assert_eq!(app.get(&piotr, &photo_path).await.status(), 404);
    let theirs = json_of(app.get(&piotr, "/api/v1/failure-reports").await, 200).await;
    assert_eq!(theirs, json!([]));
    assert_eq!(app.get(&foreign, &path).await.status(), 404);
    assert_eq!(app.get(&foreign, &photo_path).await.status(), 404);
    let response = app
        .post(Some(&foreign), &format!("{path}/join"), json!({}))
        .await;
    assert_eq!(response.status(), 404);
    let nothing = json_of(app.get(&foreign, &near).await, 200).await;
    assert_eq!(nothing, json!([]));
}

#[tokio::test]
async fn anybody_files_with_an_email_address_and_the_fourth_report_in_an_hour_is_refused() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident_token(&app, u, "mlynary", "jan@example.pl").await;
    let public = "/api/v1/utilities/mlynary/failure-reports";
    let by = |email: &str, category: &str| {
        let mut body = lipowa(category);
        body["email"] = json!(email);
        body["photos"] = json!([photo("54.1940 N, 19.6750 E")]);
        body
    };

    // A bad address is refused at its field, and not counted.
    let response = app.post(None, public, by("nie adres", "burst_pipe")).await;
    assert_eq!(problem(response).await["field"], "email");
    let response = app
        .post(
            None,
            "/api/v1/utilities/nie-ma/failure-reports",
            by("przechodzien@example.pl", "burst_pipe"),
        )
        .await;
    assert_eq!(response.status(), 404);

    let mut ids = Vec::new();
    for category in ["burst_pipe", "damaged_hydrant", "sewer_blockage"] {
        let received = json_of(
            app.post(None, public, by("Przechodzien@example.pl", category))
                .await,
            201,
        )
        .await;
        // The number and the state: nothing of anybody.
        let mut keys: Vec<_> = received.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["id", "state", "state_label"], "{received}");
        assert_eq!(received["state"], "reported");
        ids.push(received["id"].as_i64().unwrap());
    }
    let response = app
        .post(None, public, by("przechodzien@example.pl", "water_quality"))
        .await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(problem(response).await["status"], 429);

    // Somebody else joins one by its number and hears only its state.
    let joined = json_of(
        app.post(
            None,
            &format!("{public}/{}/join", ids[0]),
            json!({ "email": "sasiadka@example.pl" }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        joined,
        json!({ "id": ids[0], "state": "reported", "state_label": "przyjęte" })
    );
    let response = app
        .post(
            None,
            &format!("{public}/{}/join", ids[0] + 1000),
            json!({ "email": "sasiadka@example.pl" }),
        )
        .await;
    assert_eq!(response.status(), 404);
    // A resident who did not report it does not read it, but may join it as "me too".
    let path = format!("/api/v1/failure-reports/{}", ids[0]);
    assert_eq!(app.get(&jan, &path).await.status(), 404);
    let joined = json_of(
        app.post(Some(&jan), &format!("{path}/join"), json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(joined["reporters"], 3);
    // Another reporter's photo is not shown to him.
    assert_eq!(joined["photos"], json!([]));
}

#[tokio::test]
async fn a_technician_reaches_only_their_jobs_marks_one_fixed_and_adds_a_photo() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident_token(&app, u, "mlynary", "jan@example.pl").await;
    let (_, clerk) = staff_token(&app, u, "mlynary", "clerk").await;
    let (crew, technician) = staff_token(&app, u, "mlynary", "technician").await;
    let (other_crew, _) = staff_token(&app, u, "mlynary", "technician").await;
    let mine = file(&app, &jan, lipowa("burst_pipe")).await["id"]
        .as_i64()
        .unwrap();
    let mut elsewhere = lipowa("sewer_blockage");
    elsewhere["lat"] = json!(54.2);
    elsewhere["address"] = json!("Polna 1, Młynary");
    let theirs = file(&app, &jan, elsewhere).await["id"].as_i64().unwrap();
    let status = |id: i64| format!("/api/v1/staff/failure-reports/{id}/status");

    // The office sends the crews: a technician is named, and must be one.
    let response = app
        .post(
            Some(&clerk),
            &status(mine),
            json!({ "state": "dispatched" }),
        )
        .await;
    assert_eq!(problem(response).await["field"], "technician_id");
    let jan_id: i64 = sqlx::query_scalar("SELECT id FROM user_accounts WHERE email = $1")
        .bind("jan@example.pl")
        .fetch_one(app.pool())
        .await
        .unwrap();
    let response = app
        .post(
            Some(&clerk),
            &status(mine),
            json!({ "state": "dispatched", "technician_id": jan_id }),
        )
        .await;
    assert_eq!(problem(response).await["field"], "technician_id");
    let sent = json_of(
        app.post(
            Some(&clerk),
            &status(mine),
            json!({ "state": "dispatched", "technician_id": crew.account_id }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(sent["state"], "dispatched");
    assert_eq!(sent["technician_id"], crew.account_id);
    app.post(
        Some(&clerk),
        &status(theirs),
        json!({ "state": "dispatched", "technician_id": other_crew.account_id }),
    )
    .await
    .error_for_status()
    .unwrap();

    // The crew's list: its one job, with where to go, nearest first from where it is.
    let jobs = json_of(
        app.get(
            &technician,
            &format!(
                "/api/v1/staff/failure-reports/jobs?lat={}&lon={}",
                LIPOWA.0, LIPOWA.1
            ),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(jobs.as_array().unwrap().len(), 1, "{jobs}");
    assert_eq!(jobs[0]["id"], mine);
    assert_eq!(jobs[0]["address"], "Lipowa 5, Młynary");
    assert_eq!(jobs[0]["lat"], LIPOWA.0);
    assert_eq!(jobs[0]["distance_m"], 0.0);
    assert_eq!(
        jobs[0]["description"],
        "Od rana nie ma wody w całym budynku."
    );

    // Another crew's job does not exist for this one.
    let other = format!("/api/v1/staff/failure-reports/{theirs}");
    assert_eq!(app.get(&technician, &other).await.status(), 404);
    let response = app
        .post(
            Some(&technician),
            &status(theirs),
            json!({ "state": "fixed" }),
        )
        .await;
    assert_eq!(response.status(), 404);
    let response = app
        .post(
            Some(&technician),
            &format!("{other}/photos"),
            json!({ "photo": photo("here") }),
        )
        .await;
    assert_eq!(response.status(), 404);
    // Verifying and sending crews are the office's.
    let response = app
        .post(
            Some(&technician),
            &status(mine),
            json!({ "state": "verified" }),
        )
        .await;
    assert_eq!(response.status(), 403);

    // A photo from the spot, without its location; then fixed.
    let job = format!("/api/v1/staff/failure-reports/{mine}");
    let response = app
        .post(
            Some(&technician),
            &format!("{job}/photos"),
            json!({ "photo": photo("54.1940 N, 19.6750 E") }),
        )
        .await;
    let added = json_of(response, 201).await;
    let response = app.get(&technician, added["url"].as_str().unwrap()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert!(!has_gps(&response.bytes().await.unwrap()));
    let response = app
        .post(
            Some(&technician),
            &format!("{job}/photos"),
            json!({ "photo": "to nie base64" }),
        )
        .await;
    assert_eq!(problem(response).await["field"], "photo");

    let fixed = json_of(
        app.post(
            Some(&technician),
            &status(mine),
            json!({ "state": "fixed" }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(fixed["state"], "fixed");
    let last = fixed["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "fixed");
    assert_eq!(last["staff"], "Pracownik technician");
    // Done: off the list, and not to be fixed twice.
    let jobs = json_of(
        app.get(&technician, "/api/v1/staff/failure-reports/jobs")
            .await,
        200,
    )
    .await;
    assert_eq!(jobs, json!([]));
    let response = app
        .post(
            Some(&technician),
            &status(mine),
            json!({ "state": "fixed" }),
        )
        .await;
    assert_eq!(response.status(), 409);
    // The crew still reads its job.
    assert_eq!(app.get(&technician, &job).await.status(), 200);

    // The resident reads each step and the crew's photo, and no staff member's name.
    let read = app
        .get(&jan, &format!("/api/v1/failure-reports/{mine}"))
        .await;
    let text = read.text().await.unwrap();
    assert!(!text.contains("Pracownik"), "{text}");
    let read: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(read["state"], "fixed");
    let actions: Vec<_> = read["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["reported", "dispatched", "fixed"]);
    assert_eq!(read["photos"][0]["by_staff"], true);
    let response = app
        .get(&jan, read["photos"][0]["url"].as_str().unwrap())
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn staff_without_the_permission_or_of_another_utility_reach_no_report() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let other = utility(app.pool(), "pieniezno").await;
    let jan = resident_token(&app, u, "mlynary", "jan@example.pl").await;
    let (_, clerk) = staff_token(&app, u, "mlynary", "clerk").await;
    let (crew, technician) = staff_token(&app, u, "mlynary", "technician").await;
    let (_, billing) = staff_token(&app, u, "mlynary", "billing").await;
    let (_, foreign_crew) = staff_token(&app, other, "pieniezno", "technician").await;
    let (_, foreign_admin) = staff_token(&app, other, "pieniezno", "admin").await;
    let id = file(&app, &jan, lipowa("water_quality")).await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/staff/failure-reports/{id}");
    let verified = json_of(
        app.post(
            Some(&clerk),
            &format!("{path}/status"),
            json!({ "state": "verified" }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(verified["state"], "verified");
    app.post(
        Some(&clerk),
        &format!("{path}/status"),
        json!({ "state": "dispatched", "technician_id": crew.account_id }),
    )
    .await
    .error_for_status()
    .unwrap();

    // Billing has no business with failures: 403 and nothing.
    let jobs = "/api/v1/staff/failure-reports/jobs";
    assert_eq!(app.get(&billing, jobs).await.status(), 403);
    assert_eq!(app.get(&billing, &path).await.status(), 403);
    let response = app
        .post(
            Some(&billing),
            &format!("{path}/status"),
            json!({ "state": "fixed" }),
        )
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(problem(response).await["status"], 403);
    let response = app
        .post(
            Some(&billing),
            &format!("{path}/photos"),
            json!({ "photo": photo("here") }),
        )
        .await;
    assert_eq!(response.status(), 403);

    // Another utility's crew and admin do not find it.
    assert_eq!(app.get(&foreign_crew, &path).await.status(), 404);
    assert_eq!(app.get(&foreign_admin, &path).await.status(), 404);
    let listed = json_of(app.get(&foreign_crew, jobs).await, 200).await;
    assert_eq!(listed, json!([]));
    for who in [&foreign_crew, &foreign_admin] {
        let response = app
            .post(
                Some(who),
                &format!("{path}/status"),
                json!({ "state": "fixed" }),
            )
            .await;
        assert_eq!(response.status(), 404);
        let response = app
            .post(
                Some(who),
                &format!("{path}/photos"),
                json!({ "photo": photo("here") }),
            )
            .await;
        assert_eq!(response.status(), 404);
    }

    // A resident's token is not a staff member's, nor the other way round.
    assert_eq!(app.get(&jan, &path).await.status(), 403);
    assert_eq!(
        app.get(&technician, "/api/v1/failure-reports")
            .await
            .status(),
        403
    );

    // The crew closes it as not a failure: with the reason every reporter reads.
    let response = app
        .post(
            Some(&technician),
            &format!("{path}/status"),
            json!({ "state": "rejected", "reason": "  " }),
        )
        .await;
    assert_eq!(problem(response).await["field"], "reason");
    let reason = "Woda mętna po płukaniu sieci, próbka w normie.";
    let rejected = json_of(
        app.post(
            Some(&technician),
            &format!("{path}/status"),
            json!({ "state": "rejected", "reason": reason }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rejected["state"], "rejected");
    let read = json_of(
        app.get(&jan, &format!("/api/v1/failure-reports/{id}"))
            .await,
        200,
    )
    .await;
    assert_eq!(read["rejection_reason"], reason);
    assert_eq!(read["state_label"], "zamknięte bez naprawy");
    // A closed report is not joined.
    let response = app
        .post(
            None,
            &format!("/api/v1/utilities/mlynary/failure-reports/{id}/join"),
            json!({ "email": "sasiadka@example.pl" }),
        )
        .await;
    assert_eq!(response.status(), 409);
}
