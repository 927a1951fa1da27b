//! The API against its own OpenAPI document, by schemathesis (pinned, installed by
//! `scripts/test-tools.sh` into the test tools' virtual environment): every operation with
//! generated valid and invalid input, as a signed-in resident of one of two utilities, and every
//! check but one: no server error, every status, header, content type and body as documented,
//! invalid input refused, authentication not ignored, another resident's objects out of reach.
//!
//! The check left out, `positive_data_acceptance`, wants every schema-valid request accepted.
//! The API rightly refuses many: a meter that is not the caller's, a wrong password, a link
//! token that does not exist, a consent form version that is not the current one, a password
//! everybody tries first, a range ending before it starts. Each is a documented 4xx with the
//! field named; the other checks still hold those answers to the document.
//!
//! The operations that end the caller's session (logging out, ending a session, changing the
//! password or the e-mail, closing the account) run apart, with their own token, so that the
//! main run keeps its own.

use crate::support;

use std::path::PathBuf;

use serde_json::Value;
use support::*;

/// Examples per operation and phase: enough to reach every field's bounds, a few seconds each.
const EXAMPLES: &str = "40";

/// The operations that end the session of the token they are called with.
const ENDING_THE_SESSION: [&str; 5] = [
    "revoke",
    "end_session",
    "change_password",
    "change_email",
    "close",
];

fn token(login: &Value) -> String {
    login["access_token"].as_str().unwrap().to_string()
}

fn schemathesis() -> PathBuf {
    if let Some(path) = std::env::var_os("EBOK_SCHEMATHESIS") {
        return PathBuf::from(path);
    }
    let candidates = ebok_testkit::test_tool("venv/bin/schemathesis");
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "schemathesis not found at {candidates:?}: run the tests with scripts/test.sh \
                 (its scripts/test-tools.sh installs it), or set EBOK_SCHEMATHESIS"
            )
        })
}

/// Runs schemathesis over the document with `token`, on the operations `selection` picks;
/// fails the test with its report unless it found nothing.
async fn run(app: &App, token: &str, selection: &[String]) {
    let output = tokio::process::Command::new(schemathesis())
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .env("NO_COLOR", "1")
        .args(["run", &app.url("/api/openapi.json")])
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ])
        .args(["--max-examples", EXAMPLES, "--seed", "1", "--workers", "1"])
        .args(["--generation-database", "none"])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(selection)
        .output()
        .await
        .expect("running schemathesis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("passed"), "{stdout}");
}

#[tokio::test]
async fn schemathesis_finds_the_api_as_its_document_says() {
    // With a mail server, so that e-mailing operations answer as they do in production.
    let (app, _smtp) = App::with_smtp().await;
    let mlynary = utility(app.pool(), "mlynary").await;
    let pieniezno = utility(app.pool(), "pieniezno").await;
    let jan = resident(app.pool(), mlynary, "mlynary", "jan@example.pl", 40).await;
    // Another utility's resident, whose objects must stay out of reach.
    resident(app.pool(), pieniezno, "pieniezno", "ola@example.pl", 5).await;
    notification(app.pool(), mlynary, jan.account_id).await;

    // Both tokens first: the first run's failed logins throttle logging in from here.
    let main = token(&app.login("mlynary", &jan.email).await);
    let ending = token(&app.login("mlynary", &jan.email).await);
    let excluded: Vec<String> = ENDING_THE_SESSION
        .iter()
        .flat_map(|id| ["--exclude-operation-id".to_string(), id.to_string()])
        .collect();
    run(&app, &main, &excluded).await;

    let included: Vec<String> = ENDING_THE_SESSION
        .iter()
        .flat_map(|id| ["--include-operation-id".to_string(), id.to_string()])
        .collect();
    run(&app, &ending, &included).await;
}
