//! Outage notices against a real PostgreSQL, the outbox dispatcher and the FCM-protocol
//! emulator: a notice for two streets (one of them only its odd numbers 1–15) reaches exactly
//! the consenting residents there and nobody else; its update and the "restored" notice reach
//! the same people, not someone who moved in since; zones with sub-zones; the public feeds read
//! back by parsers from outside the project (Python's `feedparser` and `icalendar`).

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use ebok_common::audit::Actor;
use ebok_common::config::DispatcherConfig;
use ebok_common::consent::{self, ConsentKind};
use ebok_outages::area::{Area, parse_street_line};
use ebok_outages::store::{self, Draft, Kind, OutageError, Staff};
use ebok_outages::{feeds, views};
use ebok_testkit::{TestDb, fixtures};
use mobile_push::channel::PushSender;
use mobile_push::dispatcher::Dispatcher;
use mobile_push::fcm::emulator::FcmEmulator;
use mobile_push::registry::{self, DeviceRegistration, Platform};
use sqlx::PgPool;

/// A resident at `street` `number` in Testowo, with the notifications consent if `consents`
/// and a phone registered under token `device-{token}`; their account.
async fn resident_at(
    pool: &PgPool,
    utility: i64,
    street: &str,
    number: &str,
    consents: bool,
    token: &str,
) -> i64 {
    let home =
        fixtures::household_without_meter(pool, utility, &format!("{token}@example.pl")).await;
    sqlx::query("UPDATE supply_points SET street = $2, building_no = $3 WHERE id = $1")
        .bind(home.supply_point_id)
        .bind(street)
        .bind(number)
        .execute(pool)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    if consents {
        consent::grant(
            &mut conn,
            utility,
            home.account_id,
            ConsentKind::Notifications,
            "2026-11",
            Actor::Resident {
                account_id: home.account_id,
            },
        )
        .await
        .unwrap();
    }
    registry::register_device(
        &mut conn,
        utility,
        home.account_id,
        &DeviceRegistration {
            token: &format!("device-{token}"),
            platform: Platform::Android,
            app_version: Some("1.4.0"),
        },
    )
    .await
    .unwrap();
    home.account_id
}

fn dispatcher(pool: &PgPool, fcm: &FcmEmulator) -> Dispatcher {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let push: Arc<dyn PushSender> = Arc::new(fcm.client());
    let config = DispatcherConfig {
        backoff_base_ms: 20,
        backoff_max_secs: 1,
        lease_secs: 1,
        expand_batch: 2,
        ..DispatcherConfig::default()
    };
    Dispatcher::new(pool.clone(), config, Some(push), None, "http://ebok.test")
}

/// Dispatches everything due; the tokens the emulator accepted since `seen` messages, and
/// their titles.
async fn delivered(
    d: &Dispatcher,
    fcm: &FcmEmulator,
    seen: usize,
) -> (BTreeSet<String>, BTreeSet<String>) {
    for _ in 0..100 {
        if d.try_dispatch_once().await.unwrap().is_idle() {
            let accepted = fcm.accepted();
            let new = &accepted[seen..];
            return (
                new.iter()
                    .map(|m| m.token().unwrap().trim_start_matches("device-").to_string())
                    .collect(),
                new.iter()
                    .filter_map(|m| m.notification.as_ref())
                    .filter_map(|n| n.title.clone())
                    .collect(),
            );
        }
    }
    panic!("the dispatcher never went idle");
}

async fn clerk(pool: &PgPool, utility: i64) -> i64 {
    sqlx::query_scalar("UPDATE user_accounts SET role = 'clerk' WHERE id = $1 RETURNING id")
        .bind(fixtures::resident_account(pool, utility, &format!("bok{utility}@example.pl")).await)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn tokens(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|t| t.to_string()).collect()
}

#[tokio::test]
async fn a_notice_for_two_streets_reaches_exactly_the_consenting_residents_there_and_its_end_the_same()
 {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let fcm = FcmEmulator::start();
    let utility = fixtures::utility(pool, "testowo").await;
    resident_at(pool, utility, "Lipowa", "3", true, "lipowa-3").await;
    resident_at(pool, utility, "ul. Lipowa", "15B", true, "lipowa-15b").await;
    resident_at(pool, utility, "Lipowa", "8", true, "lipowa-8-even").await;
    resident_at(pool, utility, "Lipowa", "17", true, "lipowa-17-beyond").await;
    resident_at(pool, utility, "Polna", "2", true, "polna-2").await;
    resident_at(pool, utility, "Polna", "40", false, "polna-40-no-consent").await;
    resident_at(pool, utility, "Długa", "1", true, "dluga-1-elsewhere").await;
    let other = fixtures::utility(pool, "inne").await;
    resident_at(pool, other, "Lipowa", "3", true, "other-utility").await;
    let staff = Staff {
        utility_id: utility,
        account_id: clerk(pool, utility).await,
        now: Utc::now(),
    };
    let draft = Draft {
        kind: Kind::Failure,
        title: "Awaria sieci na ul. Lipowej".into(),
        description: Some("Pęknięta rura, beczkowóz przy szkole.".into()),
        starts_at: staff.now,
        expected_end: Some(staff.now + Duration::hours(6)),
        area: Area {
            streets: vec![
                parse_street_line("Testowo, Lipowa, 1-15 nieparzyste").unwrap(),
                parse_street_line("Testowo, Polna").unwrap(),
            ],
            ..Area::default()
        },
    };
    let mut tx = pool.begin().await.unwrap();
    let announced = store::announce(&mut tx, staff, &draft).await.unwrap();
    tx.commit().await.unwrap();
    // Recorded: everyone at the affected points (consent is checked as each notice goes).
    assert_eq!(announced.recipients, 4);
    let d = dispatcher(pool, &fcm);
    let expected = tokens(&["lipowa-3", "lipowa-15b", "polna-2"]);
    let (first, titles) = delivered(&d, &fcm, 0).await;
    assert_eq!(first, expected);
    assert_eq!(titles, tokens(&["Awaria sieci wodociągowej"]));
    let outbox_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(outbox_rows, 1, "one broadcast for the whole area");

    // Someone moves in at Lipowa 5 afterwards: the update and the end are not theirs.
    resident_at(pool, utility, "Lipowa", "5", true, "lipowa-5-moved-in").await;
    let mut later = draft.clone();
    later.expected_end = Some(staff.now + Duration::hours(9));
    let mut tx = pool.begin().await.unwrap();
    // (An update of the same area adds the newcomer, whose address is in it now.)
    let added = store::update(&mut tx, staff, announced.id, &later)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(added, 1);
    let seen = fcm.accepted().len();
    let mut tx = pool.begin().await.unwrap();
    store::end(&mut tx, staff, announced.id).await.unwrap();
    tx.commit().await.unwrap();
    let (restored, titles) = delivered(&d, &fcm, seen).await;
    assert_eq!(
        restored, expected,
        "the restored notice reaches the same people"
    );
    assert_eq!(titles, tokens(&["Dostawa wody przywrócona"]));
    let mut tx = pool.begin().await.unwrap();
    assert!(matches!(
        store::end(&mut tx, staff, announced.id).await,
        Err(OutageError::Ended)
    ));
    // Another utility's staff reach nothing.
    let foreign = Staff {
        utility_id: other,
        ..staff
    };
    assert!(matches!(
        store::update(&mut tx, foreign, announced.id, &draft).await,
        Err(OutageError::NotFound)
    ));
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE utility_id = $1 AND action LIKE 'outage.%'
             ORDER BY id",
    )
    .bind(utility)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(audited, ["outage.announced", "outage.ended"]);
}

#[tokio::test]
async fn a_zone_covers_its_sub_zones_and_a_notice_needs_a_title_an_area_and_an_end_after_its_start()
{
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, "testowo").await;
    let staff = Staff {
        utility_id: utility,
        account_id: clerk(pool, utility).await,
        now: Utc::now(),
    };
    let north = resident_at(pool, utility, "Lipowa", "3", true, "north").await;
    let estate = resident_at(pool, utility, "Brzozowa", "1", true, "estate").await;
    resident_at(pool, utility, "Długa", "1", true, "south").await;
    let mut tx = pool.begin().await.unwrap();
    let town = store::create_zone(&mut tx, staff, "polnoc", "Północ", None)
        .await
        .unwrap();
    let sub = store::create_zone(&mut tx, staff, "osiedle", "Osiedle Brzozowe", Some(town))
        .await
        .unwrap();
    assert_eq!(
        store::assign_points(&mut tx, staff, town, "testowo", Some("ul. Lipowa"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store::assign_points(&mut tx, staff, sub, "Testowo", Some("Brzozowa"))
            .await
            .unwrap(),
        1
    );
    assert!(matches!(
        store::create_zone(&mut tx, staff, "polnoc", "Znowu", None).await,
        Err(OutageError::Invalid(p)) if p[0].0 == "code"
    ));
    let draft = Draft {
        kind: Kind::PlannedWorks,
        title: "Płukanie sieci".into(),
        description: None,
        starts_at: staff.now + Duration::days(2),
        expected_end: Some(staff.now + Duration::days(2) + Duration::hours(4)),
        area: Area {
            zones: vec![town],
            ..Area::default()
        },
    };
    let announced = store::announce(&mut tx, staff, &draft).await.unwrap();
    let recipients: Vec<i64> = sqlx::query_scalar(
        "SELECT account_id FROM outage_recipients WHERE outage_id = $1 ORDER BY 1",
    )
    .bind(announced.id)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(recipients, [north, estate]);
    let notice = views::one(&mut tx, utility, announced.id).await.unwrap();
    assert_eq!(notice.area_words, "strefa Północ");
    assert!(notice.planned(staff.now) && !notice.current(staff.now));

    let broken = Draft {
        title: " ".into(),
        expected_end: Some(draft.starts_at - Duration::hours(1)),
        area: Area::default(),
        ..draft.clone()
    };
    match store::announce(&mut tx, staff, &broken).await {
        Err(OutageError::Invalid(problems)) => {
            let fields: Vec<&str> = problems.iter().map(|p| p.0).collect();
            assert_eq!(fields, ["title", "expected_end", "area"]);
        }
        other => panic!("{other:?}"),
    }
    // Another utility's zone is no zone here.
    let other = fixtures::utility(pool, "inne").await;
    let foreign = Staff {
        utility_id: other,
        ..staff
    };
    assert!(matches!(
        store::announce(&mut tx, foreign, &draft).await,
        Err(OutageError::Invalid(p)) if p[0].0 == "zones"
    ));
}

/// Runs Python (Debian's) on `script` with `input` on stdin; its stdout.
fn python(script: &str, input: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script])
        .env_remove("PYTHONPATH")
        .env("PYTHONNOUSERSITE", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect(
            "python3 (scripts/test-tools.sh installs python3-feedparser and python3-icalendar)",
        );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn the_atom_and_icalendar_feeds_read_back_in_parsers_from_outside_the_project() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, "testowo").await;
    let staff = Staff {
        utility_id: utility,
        account_id: clerk(pool, utility).await,
        now: Utc::now(),
    };
    let mut tx = pool.begin().await.unwrap();
    let now_on = store::announce(
        &mut tx,
        staff,
        &Draft {
            kind: Kind::Failure,
            title: "Awaria na ul. Lipowej & Polnej <pilne>".into(),
            description: Some(
                "Beczkowóz przy szkole, ul. Szkolna 1; prosimy o cierpliwość.".into(),
            ),
            starts_at: staff.now - Duration::hours(1),
            expected_end: Some(staff.now + Duration::hours(5)),
            area: Area {
                streets: vec![parse_street_line("Testowo, Lipowa, 1-15 nieparzyste").unwrap()],
                localities: vec!["Zastawno".into()],
                zones: vec![],
            },
        },
    )
    .await
    .unwrap();
    let planned = store::announce(
        &mut tx,
        staff,
        &Draft {
            kind: Kind::PlannedWorks,
            title: "Wymiana zasuwy".into(),
            description: None,
            starts_at: staff.now + Duration::days(3),
            expected_end: None,
            area: Area {
                localities: vec!["Kurowo".into()],
                ..Area::default()
            },
        },
    )
    .await
    .unwrap();
    let notices = views::published(&mut tx, utility, staff.now, Duration::days(7))
        .await
        .unwrap();
    assert_eq!(notices.len(), 2);
    let source = feeds::Source {
        utility_name: "Wodociągi Testowo",
        page_url: "https://ebok.example/u/testowo/komunikaty",
        host: "ebok.example",
    };
    let atom = feeds::atom(&source, &notices, staff.now);
    let read = python(
        "import sys, feedparser\n\
         f = feedparser.parse(sys.stdin.read())\n\
         assert not f.bozo, f.bozo_exception\n\
         print(f.version)\n\
         print(f.feed.title)\n\
         for e in f.entries:\n    print(e.id + ' | ' + e.title + ' | ' + e.link)\n",
        &atom,
    );
    let lines: Vec<&str> = read.lines().collect();
    assert_eq!(lines[0], "atom10");
    assert_eq!(lines[1], "Komunikaty: Wodociągi Testowo");
    assert_eq!(
        lines[2],
        format!(
            "https://ebok.example/u/testowo/komunikaty/{0} | Awaria sieci wodociągowej: Awaria na ul. Lipowej & Polnej <pilne> | https://ebok.example/u/testowo/komunikaty/{0}",
            now_on.id
        )
    );
    assert!(lines[3].contains("Prace planowe: Wymiana zasuwy"));

    let ics = feeds::ics(&source, &notices, staff.now);
    let read = python(
        "import sys, icalendar\n\
         c = icalendar.Calendar.from_ical(sys.stdin.read())\n\
         print(c.get('X-WR-CALNAME'))\n\
         for e in c.walk('VEVENT'):\n    print(str(e.get('UID')) + ' | ' + str(e.get('SUMMARY')) + ' | ' + e.decoded('DTSTART').isoformat() + ' | ' + str(e.get('LOCATION')))\n",
        &ics,
    );
    let lines: Vec<&str> = read.lines().collect();
    assert_eq!(lines[0], "Komunikaty: Wodociągi Testowo");
    let first = format!(
        "outage-{}@ebok.example | Awaria sieci wodociągowej: Awaria na ul. Lipowej & Polnej <pilne> | {} | Testowo: ul. Lipowa 1–15 (nieparzyste); Zastawno (cała miejscowość)",
        now_on.id,
        (staff.now - Duration::hours(1)).format("%Y-%m-%dT%H:%M:%S+00:00")
    );
    assert_eq!(lines[1], first);
    assert!(lines[2].starts_with(&format!(
        "outage-{}@ebok.example | Prace planowe",
        planned.id
    )));

    // The planned works are called off before they begin: the calendar event is cancelled.
    store::end(&mut tx, staff, planned.id).await.unwrap();
    let notices = views::published(&mut tx, utility, staff.now, Duration::days(7))
        .await
        .unwrap();
    let ics = feeds::ics(&source, &notices, staff.now);
    let read = python(
        "import sys, icalendar\n\
         c = icalendar.Calendar.from_ical(sys.stdin.read())\n\
         for e in c.walk('VEVENT'):\n    print(str(e.get('SUMMARY')) + ' | ' + str(e.get('STATUS')) + ' | ' + str(e.get('SEQUENCE')))\n",
        &ics,
    );
    let lines: Vec<&str> = read.lines().collect();
    assert_eq!(
        lines[0],
        "Awaria sieci wodociągowej: Awaria na ul. Lipowej & Polnej <pilne> | CONFIRMED | 1"
    );
    assert_eq!(
        lines[1],
        "Prace planowe: Wymiana zasuwy (odwołane) | CANCELLED | 2"
    );
}

mod reports;
