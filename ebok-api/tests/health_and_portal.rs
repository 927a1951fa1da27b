//! The health endpoints, the problem+json error shape, and the public pages a resident sees
//! first, served on port 0 against a fresh database.

use ebok_api::auth::keys::Keys;
use ebok_api::state::Settings;
use ebok_api::{AppState, router};
use ebok_testkit::{TestDb, TestServer, fixtures};

async fn start(db: &TestDb) -> TestServer {
    TestServer::start(router(
        AppState::new(
            db.pool.clone(),
            Settings::new("http://127.0.0.1", Keys::generate()),
        )
        .await,
    ))
    .await
}

#[tokio::test]
async fn healthz_answers_while_the_process_runs() {
    let db = TestDb::new().await;
    let server = start(&db).await;
    let response = server.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_is_ready_when_the_database_answers_and_migrations_are_current() {
    let db = TestDb::new().await;
    let server = start(&db).await;
    let response = server.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["migrations"], "current");
}

#[tokio::test]
async fn readyz_is_unavailable_while_a_migration_is_pending() {
    let db = TestDb::new().await;
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let server = start(&db).await;
    let response = server.get("/readyz").await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("pending"),
        "{body}"
    );
}

#[tokio::test]
async fn readyz_is_unavailable_when_the_database_is_unreachable() {
    // Nothing listens on port 1; the pool connects lazily and fails on use.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy("postgres://ebok:x@127.0.0.1:1/none")
        .unwrap();
    let server = TestServer::start(router(
        AppState::new(pool, Settings::new("http://127.0.0.1", Keys::generate())).await,
    ))
    .await;
    let response = server.get("/readyz").await;
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], 503);
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no internals: {body}"
    );
}

#[tokio::test]
async fn unknown_path_is_a_problem_json_404() {
    let db = TestDb::new().await;
    let server = start(&db).await;
    let response = server.get("/api/v1/no-such-thing").await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["title"], "Not Found");
    assert_eq!(body["status"], 404);
    assert!(body["detail"].is_string());
}

#[tokio::test]
async fn utilities_list_shows_active_utilities_in_order_of_municipality() {
    let db = TestDb::new().await;
    fixtures::utility(&db.pool, "zalesie").await;
    fixtures::utility(&db.pool, "borki").await;
    let hidden = fixtures::utility(&db.pool, "zamknieta").await;
    sqlx::query("UPDATE utilities SET active = false WHERE id = $1")
        .bind(hidden)
        .execute(&db.pool)
        .await
        .unwrap();
    let server = start(&db).await;
    let body: Vec<serde_json::Value> = server.get("/api/v1/utilities").await.json().await.unwrap();
    let slugs: Vec<&str> = body.iter().map(|u| u["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, ["borki", "zalesie"]);
}

#[tokio::test]
async fn portal_home_is_polish_accessible_and_lists_municipalities() {
    let db = TestDb::new().await;
    fixtures::utility(&db.pool, "mlynary").await;
    let server = start(&db).await;
    let response = server.get("/").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<html lang="pl">"#));
    assert!(html.contains(r##"href="#main""##), "skip link");
    assert!(html.contains("Wybierz swoją gminę"));
    assert!(html.contains(r#"href="/u/mlynary/""#));
    assert_eq!(server.get("/static/portal.css").await.status(), 200);
}

#[tokio::test]
async fn utility_page_shows_contact_and_unknown_utility_is_404() {
    let db = TestDb::new().await;
    let id = fixtures::utility(&db.pool, "mlynary").await;
    sqlx::query(
        "UPDATE utilities SET phone = '+48 55 248 60 10', email = 'bok@zgk.example' WHERE id = $1",
    )
    .bind(id)
    .execute(&db.pool)
    .await
    .unwrap();
    let server = start(&db).await;
    let html = server.get("/u/mlynary/").await.text().await.unwrap();
    assert!(html.contains("Gmina mlynary"));
    assert!(html.contains(r#"href="tel:+48552486010""#));
    assert!(html.contains("bok@zgk.example"));
    assert_eq!(server.get("/u/nieznana/").await.status(), 404);
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_personal_data_is_not_cached() {
    let db = TestDb::new().await;
    fixtures::utility(&db.pool, "mlynary").await;
    let server = start(&db).await;
    for path in [
        "/",
        "/u/mlynary/logowanie",
        "/api/v1/utilities",
        "/api/v1/me",
        "/nie-ma-takiej-strony",
        "/static/portal.css",
        "/healthz",
        "/api/openapi.json",
    ] {
        let response = server.get(path).await;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_else(|| panic!("{path}: no {name}"))
        };
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'self'",
            "script-src 'self';",
            "frame-ancestors 'none'",
            "object-src 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        // Inline styles only for the API's documentation (Swagger UI and its document).
        let docs = path.starts_with("/api/docs") || path == "/api/openapi.json";
        assert_eq!(csp.contains("'unsafe-inline'"), docs, "{path}: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("referrer-policy"), "same-origin", "{path}");
        assert!(
            response
                .headers()
                .get("strict-transport-security")
                .is_none(),
            "{path}: HSTS over plain http"
        );
        let cache = header("cache-control");
        if path.starts_with("/static/") {
            assert!(cache.starts_with("public"), "{path}: {cache}");
        } else {
            assert_eq!(cache, "no-store", "{path}");
        }
    }
}

#[tokio::test]
async fn a_portal_served_over_https_asks_browsers_to_keep_to_https() {
    let db = TestDb::new().await;
    let server = TestServer::start(router(
        AppState::new(
            db.pool.clone(),
            Settings::new("https://ebok.example.pl", Keys::generate()),
        )
        .await,
    ))
    .await;
    let response = server.get("/healthz").await;
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}

#[tokio::test]
async fn content_security_policy_reports_are_counted() {
    let db = TestDb::new().await;
    let state = AppState::new(
        db.pool.clone(),
        Settings::new("http://127.0.0.1", Keys::generate()),
    )
    .await;
    let server = TestServer::start(router(state.clone())).await;
    let report = serde_json::json!({ "csp-report": {
        "document-uri": "http://127.0.0.1/u/mlynary/aktywuj?token=tajny",
        "violated-directive": "script-src-elem", "blocked-uri": "inline" } });
    for body in [report.to_string(), "nie json".to_string()] {
        let response = server
            .client
            .post(server.url("/csp-report"))
            .header("content-type", "application/csp-report")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }
    assert_eq!(
        state.csp_reports.load(std::sync::atomic::Ordering::Relaxed),
        2
    );
}

/// The demo's mailbox page holds every account's links: it exists only when the state has a
/// mailbox (the demo), and only for a browser on the same machine.
#[tokio::test]
async fn the_mailbox_page_exists_only_in_the_demo() {
    let db = TestDb::new().await;
    let production = start(&db).await;
    assert_eq!(production.get("/demo/poczta").await.status(), 404);
    let demo = TestServer::start(router(
        AppState::new(
            db.pool.clone(),
            Settings::new("http://127.0.0.1", Keys::generate()),
        )
        .await
        .with_mailbox(std::sync::Arc::new(mobile_push::email::Mailbox::new(10))),
    ))
    .await;
    let page = demo.get("/demo/poczta").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Skrzynka jest pusta"));
}
