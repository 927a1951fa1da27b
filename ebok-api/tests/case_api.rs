//! Applications from the mobile app: the types with their forms; a draft started, saved
//! half-filled, refused while incomplete (every field and attachment in `errors`), given its
//! files (a file that is not what it says refused at its rule), submitted and acknowledged
//! with a letter; the resident's actions (withdraw, and a refused appeal); a contract signed
//! with the password. Another resident reaches none of it.

use crate::support;

use chrono::Utc;
use ebok_cases::lifecycle::Action;
use ebok_cases::store::{self, Acting, Details};
use ebok_common::domain::time::local_day;
use reqwest::Method;
use serde_json::{Value, json};
use support::{App, PASSWORD, resident, staff, utility};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n%%EOF\n";

async fn token(app: &App, email: &str) -> String {
    app.login("mlynary", email).await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn upload(
    app: &App,
    token: &str,
    id: i64,
    rule: &str,
    name: &str,
    bytes: &[u8],
) -> reqwest::Response {
    app.server
        .client
        .post(app.url(&format!(
            "/api/v1/cases/{id}/files?rule={rule}&name={}",
            url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
        )))
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_app_files_an_application_from_draft_to_acknowledgement_and_acts_on_it() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    let ola = resident(app.pool(), utility_id, "mlynary", "ola@example.pl", 0).await;
    let jan_token = token(&app, &jan.email).await;
    let ola_token = token(&app, &ola.email).await;

    let types: Value = app
        .get(&jan_token, "/api/v1/application-types")
        .await
        .json()
        .await
        .unwrap();
    let connection = types
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == "connection_conditions")
        .expect("connection conditions offered");
    assert!(connection["form"]["fields"].as_array().unwrap().len() > 5);
    assert!(
        connection["form"]["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key"] == "site_plan")
    );

    let unknown = app
        .post(Some(&jan_token), "/api/v1/cases", json!({"type": "nie_ma"}))
        .await;
    assert_eq!(unknown.status(), 404);
    let started = app
        .post(
            Some(&jan_token),
            "/api/v1/cases",
            json!({"type": "connection_conditions"}),
        )
        .await;
    assert_eq!(started.status(), 201);
    let id = started.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();

    // Saved half-filled, then refused while incomplete, every gap named.
    let answers = json!({"answers": {
        "applicant_kind": "person", "applicant_name": "Jan Kowalski", "pesel": "44051401358",
        "street": "Polna 1", "postal_code": "14-420", "city": "Młynary",
        "property_address": "Polna 3, Młynary", "plot_number": "dz. 12/3",
        "services": "water", "purpose": "single_family", "water_demand": "0,5"}});
    let saved = app
        .send(
            Method::PUT,
            Some(&jan_token),
            &format!("/api/v1/cases/{id}/answers"),
            Some(answers.clone()),
        )
        .await;
    assert_eq!(saved.status(), 204);
    let refused = app
        .post(
            Some(&jan_token),
            &format!("/api/v1/cases/{id}/submit"),
            json!({}),
        )
        .await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.unwrap();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"pesel")
            && fields.contains(&"site_plan")
            && fields.contains(&"legal_title"),
        "{problem}"
    );
    assert_eq!(problem["field"], fields[0]);
    let mut answers = answers;
    answers["answers"]["pesel"] = json!("44051401359");
    app.send(
        Method::PUT,
        Some(&jan_token),
        &format!("/api/v1/cases/{id}/answers"),
        Some(answers),
    )
    .await;

    // Files: told by content; another resident cannot add to this draft.
    let fake = upload(
        &app,
        &jan_token,
        id,
        "site_plan",
        "mapa.pdf",
        b"MZ\x90\x00 program",
    )
    .await;
    assert_eq!(fake.status(), 422);
    assert_eq!(fake.json::<Value>().await.unwrap()["field"], "site_plan");
    assert_eq!(
        upload(&app, &ola_token, id, "site_plan", "mapa.pdf", PDF)
            .await
            .status(),
        404
    );
    for rule in ["site_plan", "legal_title"] {
        assert_eq!(
            upload(&app, &jan_token, id, rule, "skan.pdf", PDF)
                .await
                .status(),
            201
        );
    }
    assert_eq!(
        app.post(
            Some(&ola_token),
            &format!("/api/v1/cases/{id}/submit"),
            json!({})
        )
        .await
        .status(),
        404
    );
    let submitted = app
        .post(
            Some(&jan_token),
            &format!("/api/v1/cases/{id}/submit"),
            json!({}),
        )
        .await;
    assert_eq!(submitted.status(), 200);
    let number = submitted.json::<Value>().await.unwrap()["number"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(number.starts_with("WTP/"), "{number}");

    // The acknowledgement is a letter of the case, a PDF for its resident only.
    let case: Value = app
        .get(&jan_token, &format!("/api/v1/cases/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(case["letters"][0]["kind"], "acknowledgement", "{case}");
    let letter = format!("/api/v1/cases/{id}/letters/{}", case["letters"][0]["id"]);
    let pdf = app.get(&jan_token, &letter).await;
    assert_eq!(pdf.status(), 200);
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-"));
    assert_eq!(app.get(&ola_token, &letter).await.status(), 404);

    // Withdrawn; nothing more to do with it.
    let act = |token: &str, body: Value| {
        let request = app
            .server
            .client
            .post(app.url(&format!("/api/v1/cases/{id}/actions")))
            .bearer_auth(token)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    assert_eq!(
        act(&ola_token, json!({"action": "withdraw"}))
            .await
            .status(),
        404
    );
    let withdrawn = act(&jan_token, json!({"action": "withdraw"})).await;
    assert_eq!(withdrawn.status(), 200);
    assert_eq!(
        withdrawn.json::<Value>().await.unwrap()["status"],
        "withdrawn"
    );
    let appeal = act(&jan_token, json!({"action": "appeal"})).await;
    assert_eq!(appeal.status(), 409);
    assert!(
        appeal.json::<Value>().await.unwrap()["detail"]
            .as_str()
            .unwrap()
            .contains("Wycofany")
    );
    let unknown = act(&jan_token, json!({"action": "dance"})).await;
    assert_eq!(unknown.status(), 422);
}

#[tokio::test]
async fn the_app_signs_the_offered_contract_with_the_password() {
    let app = App::start().await;
    let utility_id = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), utility_id, "mlynary", "jan@example.pl", 0).await;
    let clerk = staff(app.pool(), utility_id, "mlynary", "clerk").await;
    let today = local_day(Utc::now());
    let acting = Acting::Resident {
        account_id: jan.account_id,
    };
    let mut tx = app.pool().begin().await.unwrap();
    let id = store::start_draft(
        &mut tx,
        utility_id,
        "supply_contract",
        jan.account_id,
        Some(jan.customer_id),
        None,
    )
    .await
    .unwrap();
    let answers: ebok_cases::form::Answers = [
        ("applicant_kind", "person"),
        ("applicant_name", "Jan Kowalski"),
        ("pesel", "44051401359"),
        ("street", "Polna 1"),
        ("postal_code", "14-420"),
        ("city", "Młynary"),
        ("supply_address", "Polna 3, Młynary"),
        ("services", "water"),
        ("legal_title_kind", "ownership"),
        ("start_on", &(today + chrono::Days::new(7)).to_string()),
        ("email", "jan@example.pl"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    store::save_answers(&mut tx, utility_id, id, acting, &answers)
        .await
        .unwrap();
    for rule in ["legal_title", "id_document"] {
        store::attach(&mut tx, utility_id, id, acting, rule, "skan.pdf", PDF)
            .await
            .unwrap();
    }
    store::submit(&mut tx, utility_id, id, acting, today)
        .await
        .unwrap();
    let clerk = Acting::Staff {
        account_id: clerk.account_id,
        manager: false,
    };
    for action in [Action::Assign, Action::Approve, Action::OfferContract] {
        store::act(
            &mut tx,
            utility_id,
            id,
            clerk,
            action,
            &Details::default(),
            today,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let token = token(&app, &jan.email).await;
    let sign = |password: &str| {
        let request = app
            .server
            .client
            .post(app.url(&format!("/api/v1/cases/{id}/actions")))
            .bearer_auth(&token)
            .json(&json!({"action": "sign", "password": password}));
        async move { request.send().await.unwrap() }
    };
    let wrong = sign("nie to hasło").await;
    assert_eq!(wrong.status(), 422);
    let wrong: Value = wrong.json().await.unwrap();
    assert_eq!(
        (wrong["field"].as_str(), wrong["detail"].as_str()),
        (Some("password"), Some("Hasło jest nieprawidłowe."))
    );
    let signed = sign(PASSWORD).await;
    assert_eq!(signed.status(), 200);
    assert_eq!(
        signed.json::<Value>().await.unwrap()["status"],
        "contract_signed"
    );
    let case: Value = app
        .get(&token, &format!("/api/v1/cases/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let contract = case["letters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "contract")
        .unwrap();
    assert_eq!(case["signatures"][0]["document_id"], contract["id"]);
    assert_eq!(case["signatures"][0]["method"], "password");
    assert_eq!(case["signatures"][0]["sha256"].as_str().unwrap().len(), 64);
}
