//! The FCM HTTP v1 client against the local FCM emulator, over real HTTP: tokens, sends, the
//! error mapping and the emulator's own checks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mobile_push::channel::{Outcome, PushMessage, PushSender};
use mobile_push::fcm::emulator::{FcmEmulator, Target};
use mobile_push::fcm::{FcmClient, ServiceAccountKey};
use secrecy::SecretString;

/// A second RSA key the emulator does not know (a test key, like the emulator's own).
const UNRELATED_KEY: &str = include_str!("../src/fcm/emulator/keys/unrelated-test-key.pem");

fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn message(token: &str) -> PushMessage {
    PushMessage {
        token: token.into(),
        title: "Planowana przerwa w dostawie wody".into(),
        body: "ul. Lipowa 1-15, jutro 8:00-14:00".into(),
        data: BTreeMap::from([
            ("kind".into(), "outage".into()),
            ("outage_id".into(), "42".into()),
        ]),
        collapse_key: format!("delivery-{token}"),
        high_priority: true,
    }
}

fn reason(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Sent { .. } => "",
        Outcome::TargetGone { reason }
        | Outcome::Retry { reason, .. }
        | Outcome::Failed { reason } => reason,
    }
}

#[tokio::test]
async fn accepted_send_carries_notification_data_collapse_key_and_priority() {
    init();
    let emulator = FcmEmulator::start();
    let client = FcmClient::from_config(&emulator.config()).unwrap();

    let outcome = client.send(&message("device-a")).await;

    let Outcome::Sent {
        provider_id: Some(name),
    } = outcome
    else {
        panic!("not sent: {outcome:?}")
    };
    assert!(
        name.starts_with("projects/ebok-emulator/messages/"),
        "{name}"
    );
    let accepted = emulator.accepted_for("device-a");
    assert_eq!(accepted.len(), 1);
    let m = &accepted[0];
    assert_eq!(m.name, name);
    assert_eq!(m.target, Target::Token("device-a".into()));
    assert!(
        m.access_token.starts_with("ya29.emulator."),
        "sent with a token the emulator issued"
    );
    let notification = m.notification.clone().unwrap();
    assert_eq!(
        notification.title.as_deref(),
        Some("Planowana przerwa w dostawie wody")
    );
    assert_eq!(
        notification.body.as_deref(),
        Some("ul. Lipowa 1-15, jutro 8:00-14:00")
    );
    assert_eq!(m.data, message("device-a").data);
    assert_eq!(m.collapse_key.as_deref(), Some("delivery-device-a"));
    assert_eq!(m.apns_collapse_id.as_deref(), Some("delivery-device-a"));
    assert_eq!(m.android_priority.as_deref(), Some("high"));
    assert_eq!(m.apns_priority.as_deref(), Some("10"));
    assert_eq!(emulator.token_requests(), 1);
}

#[tokio::test]
async fn normal_priority_is_sent_as_normal_and_apns_five() {
    init();
    let emulator = FcmEmulator::start();
    let client = emulator.client();
    let mut m = message("device-n");
    m.high_priority = false;

    assert!(matches!(client.send(&m).await, Outcome::Sent { .. }));

    let accepted = &emulator.accepted_for("device-n")[0];
    assert_eq!(accepted.android_priority.as_deref(), Some("normal"));
    assert_eq!(accepted.apns_priority.as_deref(), Some("5"));
}

#[tokio::test]
async fn one_token_serves_many_sends_and_an_expired_one_is_replaced() {
    init();
    let emulator = FcmEmulator::start();
    emulator.set_token_lifetime(Duration::from_secs(2));
    let client = emulator.client();

    for i in 0..5 {
        assert!(matches!(
            client.send(&message(&format!("d{i}"))).await,
            Outcome::Sent { .. }
        ));
    }
    assert_eq!(emulator.token_requests(), 1);

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert!(matches!(
        client.send(&message("d-late")).await,
        Outcome::Sent { .. }
    ));
    assert_eq!(emulator.token_requests(), 2);
    let tokens: Vec<String> = emulator
        .accepted()
        .into_iter()
        .map(|m| m.access_token)
        .collect();
    assert_eq!(tokens[0], tokens[4]);
    assert_ne!(tokens[0], tokens[5]);
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_once_and_the_send_retried() {
    init();
    let emulator = FcmEmulator::start();
    let client = emulator.client();
    assert!(matches!(
        client.send(&message("r1")).await,
        Outcome::Sent { .. }
    ));

    emulator.revoke_access_tokens();

    assert!(matches!(
        client.send(&message("r2")).await,
        Outcome::Sent { .. }
    ));
    assert_eq!(emulator.token_requests(), 2);
    assert_eq!(emulator.attempts_for("r2"), 2, "one 401, one accepted");
    assert_eq!(emulator.accepted_for("r2").len(), 1);
}

#[tokio::test]
async fn a_key_the_emulator_does_not_know_is_refused_and_the_send_fails() {
    init();
    let emulator = FcmEmulator::start();
    let key = ServiceAccountKey {
        private_key: SecretString::from(UNRELATED_KEY),
        ..emulator.service_account_key()
    };
    let client = FcmClient::new(key, emulator.url(), None, Duration::from_secs(5)).unwrap();

    let outcome = client.send(&message("device-t")).await;

    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    assert!(reason(&outcome).contains("invalid_grant"), "{outcome:?}");
    assert!(
        reason(&outcome).contains("Invalid JWT Signature"),
        "{outcome:?}"
    );
    assert_eq!(emulator.token_requests(), 1);
    assert_eq!(emulator.received_count(), 0);
}

#[tokio::test]
async fn token_endpoint_outage_is_retried_later() {
    init();
    let emulator = FcmEmulator::start();
    emulator.fail_token_requests(1);
    let client = emulator.client();

    assert!(matches!(
        client.send(&message("o1")).await,
        Outcome::Retry { .. }
    ));
    assert!(matches!(
        client.send(&message("o1")).await,
        Outcome::Sent { .. }
    ));
    assert_eq!(emulator.token_requests(), 2);
}

#[tokio::test]
async fn unregistered_and_invalid_tokens_are_gone() {
    init();
    let emulator = FcmEmulator::start();
    emulator.unregister("old-phone");
    emulator.invalid_token("garbage");
    emulator.sender_id_mismatch("other-app");
    let client = emulator.client();

    let outcome = client.send(&message("old-phone")).await;
    assert!(matches!(outcome, Outcome::TargetGone { .. }), "{outcome:?}");
    assert!(reason(&outcome).starts_with("UNREGISTERED"), "{outcome:?}");
    let outcome = client.send(&message("garbage")).await;
    assert!(matches!(outcome, Outcome::TargetGone { .. }), "{outcome:?}");
    assert!(
        reason(&outcome).contains("not a valid FCM registration token"),
        "{outcome:?}"
    );
    let outcome = client.send(&message("other-app")).await;
    assert!(matches!(outcome, Outcome::TargetGone { .. }), "{outcome:?}");
    assert!(emulator.accepted().is_empty());
}

#[tokio::test]
async fn quota_exceeded_is_retried_after_the_given_delay() {
    init();
    let emulator = FcmEmulator::start();
    emulator.quota_exceeded("busy", 1, 17);
    let client = emulator.client();

    let outcome = client.send(&message("busy")).await;
    assert!(
        matches!(outcome, Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(17)),
        "{outcome:?}"
    );
    assert!(
        reason(&outcome).starts_with("QUOTA_EXCEEDED"),
        "{outcome:?}"
    );
    assert!(
        matches!(client.send(&message("busy")).await, Outcome::Sent { .. }),
        "quota only once"
    );
}

#[tokio::test]
async fn unavailable_and_internal_errors_are_retried() {
    init();
    let emulator = FcmEmulator::start();
    emulator.unavailable("flaky", 1);
    emulator.internal_error("flakier", 1);
    let client = emulator.client();

    let outcome = client.send(&message("flaky")).await;
    assert!(
        matches!(outcome, Outcome::Retry { after: None, .. }),
        "{outcome:?}"
    );
    assert!(reason(&outcome).starts_with("UNAVAILABLE"), "{outcome:?}");
    assert!(matches!(
        client.send(&message("flakier")).await,
        Outcome::Retry { .. }
    ));
    assert!(matches!(
        client.send(&message("flaky")).await,
        Outcome::Sent { .. }
    ));
}

#[tokio::test]
async fn an_unreachable_service_is_retried() {
    init();
    let emulator = FcmEmulator::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{closed}");
    let client = FcmClient::new(
        emulator.service_account_key(),
        &url,
        Some(format!("{url}/token")),
        Duration::from_secs(5),
    )
    .unwrap();

    let outcome = client.send(&message("nobody")).await;

    assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
    assert!(
        reason(&outcome).contains("connection failed"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn other_client_errors_fail() {
    init();
    let emulator = FcmEmulator::start();
    let client = emulator.client();
    let mut m = message("device-x");
    m.data.insert("google.reserved".into(), "x".into());

    let outcome = client.send(&m).await;
    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    assert!(
        reason(&outcome).contains("Invalid data payload key"),
        "{outcome:?}"
    );

    emulator.inject(
        "device-y",
        mobile_push::fcm::emulator::Fault::ThirdPartyAuthError,
        None,
    );
    let outcome = client.send(&message("device-y")).await;
    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    assert_eq!(
        emulator.token_requests(),
        1,
        "a third-party auth error is not the access token's fault"
    );
}

#[tokio::test]
async fn oversized_payload_fails_without_a_request() {
    init();
    let emulator = FcmEmulator::start();
    let client = emulator.client();
    let mut m = message("device-big");
    m.data.insert("blob".into(), "x".repeat(4096));

    let outcome = client.send(&m).await;

    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    assert!(reason(&outcome).contains("4096"), "{outcome:?}");
    assert_eq!(emulator.received_count(), 0);
    assert_eq!(emulator.token_requests(), 0);
}

#[tokio::test]
async fn emulator_refuses_non_string_data_unknown_fields_and_big_payloads() {
    init();
    let emulator = FcmEmulator::start();
    let http = reqwest::Client::new();
    let url = format!("{}/v1/projects/ebok-emulator/messages:send", emulator.url());
    let bearer = format!("Bearer {}", emulator.issue_access_token());
    let post = |body: serde_json::Value| {
        http.post(&url)
            .header("authorization", &bearer)
            .json(&body)
            .send()
    };

    let response =
        post(serde_json::json!({"message": {"token": "raw", "data": {"a": "1", "n": 5}}}))
            .await
            .unwrap();
    assert_eq!(response.status(), 400);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        error["error"]["message"],
        "Invalid value at 'message.data[1].value' (TYPE_STRING), 5"
    );
    assert_eq!(
        error["error"]["details"][0]["@type"],
        "type.googleapis.com/google.rpc.BadRequest"
    );
    assert_eq!(
        error["error"]["details"][0]["fieldViolations"][0]["field"],
        "message.data[1].value"
    );

    let response = post(serde_json::json!({"message": {"token": "raw", "priority": "high"}}))
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let response =
        post(serde_json::json!({"message": {"token": "raw", "android": {"priority": "urgent"}}}))
            .await
            .unwrap();
    assert_eq!(response.status(), 400);

    let big = "x".repeat(4100);
    let response = post(serde_json::json!({"message": {"token": "raw", "data": {"b": big}}}))
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"]["message"], "Message is too big");
    assert_eq!(
        error["error"]["details"][0]["errorCode"],
        "INVALID_ARGUMENT"
    );

    let response = post(serde_json::json!({"message": {"token": "raw", "topic": "news"}}))
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let response = http
        .post(&url)
        .header("authorization", "Bearer ya29.not-issued")
        .json(&serde_json::json!({"message": {"token": "raw"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"]["status"], "UNAUTHENTICATED");

    let response = post(serde_json::json!({"message": {"token": "raw", "data": {"a": "1"}}}))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(emulator.accepted_count(), 1);
    assert_eq!(emulator.attempts_for("raw"), 7);
}

#[tokio::test]
async fn token_endpoint_refuses_a_bad_grant_like_google() {
    init();
    let emulator = FcmEmulator::start();
    let response = reqwest::Client::new()
        .post(emulator.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=not.a.jwt",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"], "invalid_grant");
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .starts_with("Invalid JWT")
    );
}

#[tokio::test]
async fn a_held_send_is_received_before_it_is_answered() {
    init();
    let emulator = Arc::new(FcmEmulator::start());
    emulator.hold("slow");
    let client = emulator.client();

    let send = tokio::spawn(async move { client.send(&message("slow")).await });
    tokio::time::timeout(
        Duration::from_secs(5),
        emulator.wait_for_attempts("slow", 1),
    )
    .await
    .unwrap();
    assert_eq!(emulator.received().len(), 1);
    assert_eq!(
        emulator.received()[0].collapse_key.as_deref(),
        Some("delivery-slow")
    );
    assert!(emulator.accepted().is_empty());
    assert!(!send.is_finished());

    emulator.release("slow");
    assert!(matches!(send.await.unwrap(), Outcome::Sent { .. }));
    assert_eq!(emulator.accepted_for("slow").len(), 1);
}

#[tokio::test]
async fn a_hundred_concurrent_sends_through_one_client_are_all_accepted_with_one_token() {
    init();
    let emulator = FcmEmulator::start();
    let client = Arc::new(emulator.client());

    let sends = (0..100).map(|i| {
        let client = client.clone();
        tokio::spawn(async move { client.send(&message(&format!("device-{i}"))).await })
    });
    let outcomes = futures::future::join_all(sends).await;

    for outcome in outcomes {
        assert!(matches!(outcome.unwrap(), Outcome::Sent { .. }));
    }
    assert_eq!(emulator.accepted_count(), 100);
    assert_eq!(
        emulator.token_requests(),
        1,
        "one token fetch for all of them"
    );
    let mut ids: Vec<String> = emulator.accepted().into_iter().map(|m| m.name).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 100);
}

#[tokio::test]
async fn a_config_names_the_key_file_the_emulator_wrote() {
    init();
    let emulator = FcmEmulator::start();
    let dir = std::env::temp_dir().join(format!("ebok-fcm-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sa.json");
    emulator.write_service_account(&path).unwrap();

    let key = ServiceAccountKey::from_file(&path).unwrap();
    assert_eq!(key.project_id, "ebok-emulator");
    assert_eq!(
        key.client_email,
        "push@ebok-emulator.iam.gserviceaccount.com"
    );
    assert_eq!(key.token_uri, emulator.token_url());
    let client = FcmClient::new(key, emulator.url(), None, Duration::from_secs(5)).unwrap();
    assert!(matches!(
        client.send(&message("from-file")).await,
        Outcome::Sent { .. }
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
