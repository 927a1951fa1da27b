//! The defences of accounts and sessions over real HTTP against a real PostgreSQL: throttling
//! that holds under concurrency and behind a proxy, a bounded queue of password hashes, input
//! bounded before hashing, limits per client address on e-mails, access tokens that stop when
//! their session ends (in this process and in another), an absolute lifetime of app sessions,
//! access-token keys outside the database with rotation, and no e-mail flow without a mail
//! server.

use crate::support;

use std::time::Duration;

use ebok_api::auth::keys::{self, Keys};
use ebok_api::password::Hasher;
use ebok_api::state::Settings;
use ebok_api::{AppState, router};
use ebok_testkit::TestServer;
use futures::future::join_all;
use serde_json::{Value, json};
use support::{App, PASSWORD, problem, resident, utility};

fn login_body(email: &str, password: &str) -> Value {
    json!({ "email": email, "password": password, "client": "test" })
}

async fn failures(app: &App, scope: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM security_attempts WHERE scope = $1 AND NOT succeeded")
        .bind(scope)
        .fetch_one(app.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn fifty_parallel_wrong_logins_for_one_account_get_at_most_five_tries() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 0).await;
    let attempts = (0..50).map(|n| {
        app.post(
            None,
            "/api/v1/utilities/mlynary/token",
            login_body(&jan.email, &format!("zgadywane hasło {n}")),
        )
    });
    let statuses: Vec<u16> = join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let tried = statuses.iter().filter(|s| **s == 422).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(tried + throttled, 50, "{statuses:?}");
    assert!(tried <= 5, "{tried} passwords were checked: {statuses:?}");
    assert_eq!(failures(&app, "login.account").await, tried as i64);
    // The right password is throttled too now: the limit is the account's.
    let right = app
        .post(
            None,
            "/api/v1/utilities/mlynary/token",
            login_body(&jan.email, PASSWORD),
        )
        .await;
    assert_eq!(right.status(), 429);
    assert!(right.headers().contains_key("retry-after"));
}

/// Thirty failed logins (on thirty addresses, so no account limit is reached) exhaust the limit
/// of one client address. Behind a trusted proxy the client is the address the proxy names, so
/// another client behind the same proxy is not locked out; from an untrusted peer the header is
/// the client's own word and changes nothing.
#[tokio::test]
async fn the_address_limit_follows_the_client_behind_a_trusted_proxy_only() {
    let behind_proxy = App::start_custom(None, |s: &mut Settings| {
        s.proxies.proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let direct = App::start().await;
    for app in [&behind_proxy, &direct] {
        utility(app.pool(), "mlynary").await;
        let from = |client: &'static str, n: usize| {
            app.server
                .client
                .post(app.url("/api/v1/utilities/mlynary/token"))
                .header("x-forwarded-for", client)
                .json(&login_body(
                    &format!("nikt{n}@example.pl"),
                    "zgadywane hasło",
                ))
                .send()
        };
        let first = join_all((0..30).map(|n| from("203.0.113.1", n))).await;
        assert!(first.iter().all(|r| r.as_ref().unwrap().status() == 422));
        let same = from("203.0.113.1", 30).await.unwrap();
        assert_eq!(same.status(), 429);
        // A header the proxy does not write is the client's own word: ignored.
        let spoofed = app
            .server
            .client
            .post(app.url("/api/v1/utilities/mlynary/token"))
            .header("x-forwarded-for", "203.0.113.1")
            .header("forwarded", "for=198.51.100.99")
            .json(&login_body("nikt99@example.pl", "zgadywane hasło"))
            .send()
            .await
            .unwrap();
        assert_eq!(spoofed.status(), 429);
        let other = from("203.0.113.2", 31).await.unwrap();
        let expected = if std::ptr::eq(app, &behind_proxy) {
            422
        } else {
            429
        };
        assert_eq!(other.status(), expected);
    }
}

/// With one hash at a time and 50 ms of patience, a burst of logins is partly turned away with
/// 503 and `Retry-After`; an attempt turned away was never checked, so it does not count.
#[tokio::test]
async fn password_hashing_is_bounded_and_the_excess_is_told_to_retry() {
    let app = App::start_custom(None, |s: &mut Settings| {
        s.hasher = Hasher::new(1, Duration::from_millis(50));
    })
    .await;
    utility(app.pool(), "mlynary").await;
    let burst = (0..20).map(|n| {
        app.post(
            None,
            "/api/v1/utilities/mlynary/token",
            login_body(&format!("nikt{n}@example.pl"), "zgadywane hasło"),
        )
    });
    let responses = join_all(burst).await;
    let mut checked = 0;
    let mut busy = 0;
    for response in responses {
        match response.status().as_u16() {
            422 => checked += 1,
            503 => {
                assert!(response.headers().contains_key("retry-after"));
                busy += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(busy > 0, "nothing was turned away");
    assert!(checked > 0, "nothing was checked");
    assert_eq!(failures(&app, "login.account").await, checked);
}

#[tokio::test]
async fn overlong_login_input_is_refused_before_it_is_hashed() {
    let app = App::start().await;
    utility(app.pool(), "mlynary").await;
    let huge = "x".repeat(100_000);
    for body in [
        login_body("jan@example.pl", &huge),
        login_body(&format!("{huge}@example.pl"), PASSWORD),
    ] {
        let response = app
            .post(None, "/api/v1/utilities/mlynary/token", body)
            .await;
        assert_eq!(response.status(), 422);
    }
    assert_eq!(
        failures(&app, "login.account").await,
        0,
        "never counted, never hashed"
    );
}

#[tokio::test]
async fn one_client_address_may_ask_for_twenty_registration_or_reset_emails_an_hour() {
    let (app, _smtp) = App::with_smtp().await;
    utility(app.pool(), "mlynary").await;
    let register = |n: usize| {
        app.post(
            None,
            "/api/v1/utilities/mlynary/accounts",
            json!({ "email": format!("osoba{n}@example.pl"), "display_name": "Osoba",
                    "password": PASSWORD, "password_repeat": PASSWORD, "accept_terms": true }),
        )
    };
    for n in 0..15 {
        assert_eq!(register(n).await.status(), 202);
    }
    for n in 0..5 {
        let reset = app
            .post(
                None,
                "/api/v1/utilities/mlynary/password-reset",
                json!({ "email": format!("inna{n}@example.pl") }),
            )
            .await;
        assert_eq!(reset.status(), 202);
    }
    let over = register(99).await;
    assert_eq!(over.status(), 429);
    assert!(over.headers().contains_key("retry-after"));
    let reset = app
        .post(
            None,
            "/api/v1/utilities/mlynary/password-reset",
            json!({ "email": "osoba1@example.pl" }),
        )
        .await;
    assert_eq!(reset.status(), 429);
}

async fn me(app: &App, token: &str) -> u16 {
    app.get(token, "/api/v1/me").await.status().as_u16()
}

#[tokio::test]
async fn an_access_token_stops_working_as_soon_as_its_session_ends() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 0).await;

    // Logging out.
    let login = app.login("mlynary", &jan.email).await;
    let access = login["access_token"].as_str().unwrap();
    assert_eq!(me(&app, access).await, 200);
    let out = app
        .post(
            None,
            "/api/v1/token/revoke",
            json!({ "refresh_token": login["refresh_token"] }),
        )
        .await;
    assert_eq!(out.status(), 204);
    assert_eq!(me(&app, access).await, 401);

    // Ending a lost phone's session from another one.
    let phone = app.login("mlynary", &jan.email).await;
    let tablet = app.login("mlynary", &jan.email).await;
    let phone_access = phone["access_token"].as_str().unwrap();
    let tablet_access = tablet["access_token"].as_str().unwrap();
    let phone_session = app.state.keys.verify(phone_access).unwrap().sid;
    let ended = app
        .send(
            reqwest::Method::DELETE,
            Some(tablet_access),
            &format!("/api/v1/me/sessions/{phone_session}"),
            None,
        )
        .await;
    assert_eq!(ended.status(), 204);
    assert_eq!(me(&app, phone_access).await, 401);
    assert_eq!(me(&app, tablet_access).await, 200);

    // Changing the password ends the other sessions.
    let laptop = app.login("mlynary", &jan.email).await;
    let laptop_access = laptop["access_token"].as_str().unwrap();
    assert_eq!(me(&app, laptop_access).await, 200);
    let change = app
        .post(
            Some(tablet_access),
            "/api/v1/me/password",
            json!({ "current_password": PASSWORD, "password": "nowe hasło do eBOK 2026",
                    "password_repeat": "nowe hasło do eBOK 2026" }),
        )
        .await;
    assert_eq!(change.status(), 204);
    assert_eq!(me(&app, laptop_access).await, 401);
    assert_eq!(
        me(&app, tablet_access).await,
        200,
        "the session that changed it stays"
    );
}

/// Two API processes on one database: a session ended through one is refused by the other
/// within moments (PostgreSQL tells every process), long before the token's ten minutes.
#[tokio::test]
async fn another_api_process_refuses_the_token_of_a_session_ended_elsewhere() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 0).await;
    let other = TestServer::start(router(
        AppState::new(
            app.pool().clone(),
            Settings::new(support::PORTAL_ORIGIN, app.state.keys.clone()),
        )
        .await,
    ))
    .await;
    let login = app.login("mlynary", &jan.email).await;
    let access = login["access_token"].as_str().unwrap().to_string();
    let at_other = || {
        other
            .client
            .get(other.url("/api/v1/me"))
            .bearer_auth(&access)
            .send()
    };
    assert_eq!(at_other().await.unwrap().status(), 200);
    app.post(
        None,
        "/api/v1/token/revoke",
        json!({ "refresh_token": login["refresh_token"] }),
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if at_other().await.unwrap().status() == 401 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the other process still accepts the token after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_app_session_ends_at_its_absolute_lifetime_however_often_it_is_refreshed() {
    let app = App::start_custom(None, |s: &mut Settings| {
        s.app_sessions.max_age = Duration::from_secs(24 * 3600);
    })
    .await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 0).await;
    let login = app.login("mlynary", &jan.email).await;
    assert!(login["refresh_expires_in"].as_i64().unwrap() <= 24 * 3600);
    let refresh = |token: Value| {
        app.post(
            None,
            "/api/v1/token/refresh",
            json!({ "refresh_token": token }),
        )
    };
    let renewed: Value = refresh(login["refresh_token"].clone())
        .await
        .json()
        .await
        .unwrap();
    assert!(renewed["refresh_expires_in"].as_i64().unwrap() <= 24 * 3600);
    // A day later, however recently it was used, the session is over.
    sqlx::query(
        "UPDATE sessions SET created_at = created_at - interval '1 day',
                             expires_at = now() + interval '30 days'",
    )
    .execute(app.pool())
    .await
    .unwrap();
    assert_eq!(
        refresh(renewed["refresh_token"].clone()).await.status(),
        401
    );
}

#[tokio::test]
async fn access_token_keys_live_in_a_private_file_and_rotate_without_cutting_off_sessions() {
    let db_app = App::start().await;
    let in_database: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'installation_secrets'",
    )
    .fetch_one(db_app.pool())
    .await
    .unwrap();
    assert_eq!(in_database, 0, "no signing key in the database");

    let dir = std::env::temp_dir().join(format!("ebok-keys-{}", std::process::id()));
    let path = dir.join("access-token-keys");
    let _ = std::fs::remove_dir_all(&dir);
    let keys = Keys::from_file(&path, true).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let before = keys.sign(7, 1, 3, "resident");

    // Rotation: the new key signs, the old one still checks what it signed.
    let rotated = keys.ring().rotated(chrono::Utc::now(), false);
    keys::write_file(&path, &rotated).unwrap();
    keys.reload();
    let after = keys.sign(7, 1, 4, "resident");
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    assert_ne!(kid(&before), kid(&after));
    assert_eq!(kid(&after), rotated.signing().unwrap().kid);
    assert!(keys.verify(&before).is_ok());
    assert!(keys.verify(&after).is_ok());

    // Revocation (a leaked key): the old key checks nothing from then on.
    keys::write_file(&path, &keys.ring().rotated(chrono::Utc::now(), true)).unwrap();
    keys.reload();
    assert!(keys.verify(&before).is_err());
    assert!(keys.verify(&after).is_err());

    // A key file others could read is refused.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        keys::read_file(&path),
        Err(keys::KeyFileError::Exposed { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn without_a_mail_server_nothing_that_needs_an_email_is_done() {
    let app = App::start().await;
    let u = utility(app.pool(), "mlynary").await;
    let jan = resident(app.pool(), u, "mlynary", "jan@example.pl", 0).await;
    let registration = app
        .post(
            None,
            "/api/v1/utilities/mlynary/accounts",
            json!({ "email": "ewa@example.pl", "display_name": "Ewa", "password": PASSWORD,
                    "password_repeat": PASSWORD, "accept_terms": true }),
        )
        .await;
    assert_eq!(registration.status(), 503);
    let reset = app
        .post(
            None,
            "/api/v1/utilities/mlynary/password-reset",
            json!({ "email": jan.email }),
        )
        .await;
    assert_eq!(reset.status(), 503);
    let token = app.login("mlynary", &jan.email).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let change = app
        .post(
            Some(&token),
            "/api/v1/me/email",
            json!({ "email": "jan.nowy@example.pl", "password": PASSWORD }),
        )
        .await;
    let body = problem(change).await;
    assert_eq!(body["status"], 503);
    let links: i64 = sqlx::query_scalar("SELECT count(*) FROM account_tokens")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(links, 0, "no link exists that nobody was sent");
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM user_accounts")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(accounts, 1);
}

#[tokio::test]
async fn housekeeping_deletes_old_attempts_ended_sessions_and_spent_links_and_keeps_the_rest() {
    let app = App::start().await;
    let pool = app.pool();
    let u = utility(pool, "mlynary").await;
    let jan = resident(pool, u, "mlynary", "jan@example.pl", 0).await;
    let exec = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query(sql)
                .bind(jan.account_id)
                .bind(u)
                .execute(&pool)
                .await
                .unwrap()
        }
    };
    exec(
        "INSERT INTO security_attempts (scope, key, at, succeeded)
          SELECT 'login.account', 'x' || $1 || $2, now() - interval '8 days', false",
    )
    .await;
    exec(
        "INSERT INTO security_attempts (scope, key, at, succeeded)
          SELECT 'login.account', 'y' || $1 || $2, now() - interval '1 hour', false",
    )
    .await;
    for (age, revoked) in [
        ("31 days", true),
        ("1 day", true),
        ("31 days", false),
        ("0 days", false),
    ] {
        sqlx::query(
            "INSERT INTO sessions (utility_id, account_id, kind, token_hash, expires_at,
                                   revoked_at, revoked_reason)
             VALUES ($1, $2, 'app', sha256(random()::text::bytea),
                     now() - $3::interval + interval '1 hour',
                     CASE WHEN $4 THEN now() - $3::interval END,
                     CASE WHEN $4 THEN 'logout' END)",
        )
        .bind(u)
        .bind(jan.account_id)
        .bind(age)
        .bind(revoked)
        .execute(pool)
        .await
        .unwrap();
    }
    for (expires, used) in [
        ("-8 days", None),
        ("+1 day", Some("8 days")),
        ("+1 day", None),
    ] {
        sqlx::query(
            "INSERT INTO account_tokens (utility_id, account_id, purpose, token_hash, expires_at,
                                         used_at)
             VALUES ($1, $2, 'password_reset', sha256(random()::text::bytea),
                     now() + $3::interval, now() - $4::interval)",
        )
        .bind(u)
        .bind(jan.account_id)
        .bind(expires)
        .bind(used)
        .execute(pool)
        .await
        .unwrap();
    }
    // Failure reports by passers-by: closed 31 and 29 days ago, and one still open.
    for (state, closed) in [
        ("rejected", "31 days"),
        ("fixed", "29 days"),
        ("verified", "90 days"),
    ] {
        sqlx::query(
            "WITH report AS (
                 INSERT INTO failure_reports (utility_id, category, description, address, state,
                                              rejection_reason, created_at, updated_at)
                 VALUES ($1, 'no_water', 'Brak wody.', 'Lipowa 5', $2::failure_state,
                         CASE WHEN $2 = 'rejected' THEN 'Nie u nas.' END,
                         now() - interval '100 days', now() - $3::interval)
                 RETURNING id)
             INSERT INTO failure_reporters (report_id, email, filed)
             SELECT id, 'przechodzien-' || $2 || '@example.pl', true FROM report",
        )
        .bind(u)
        .bind(state)
        .bind(closed)
        .execute(pool)
        .await
        .unwrap();
    }
    let pruned = ebok_api::housekeeping::prune(pool, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        pruned,
        ebok_api::housekeeping::Pruned {
            attempts: 1,
            sessions: 2,
            links: 2,
            reporter_addresses: 1
        }
    );
    let left = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await
            .unwrap()
    };
    assert_eq!(left("SELECT count(*) FROM security_attempts").await, 1);
    assert_eq!(left("SELECT count(*) FROM sessions").await, 2);
    assert_eq!(left("SELECT count(*) FROM account_tokens").await, 1);
    let addresses: Vec<Option<String>> =
        sqlx::query_scalar("SELECT email FROM failure_reporters ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(
        addresses,
        [
            None,
            Some("przechodzien-fixed@example.pl".into()),
            Some("przechodzien-verified@example.pl".into())
        ],
        "the address of the report closed 31 days ago erased, the others kept"
    );
}
