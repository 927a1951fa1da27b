//! Failure reports against a real PostgreSQL and the dispatcher with the FCM-protocol emulator:
//! report → verify → dispatch → fixed reaches the reporter, a resident who joined it and a
//! passer-by who joined by e-mail at every step, and nobody else; the duplicates offered nearby;
//! crews reach only their own jobs; steps out of order, other utilities and bad input refused;
//! photos kept without metadata; a verified failure made an outage notice in one step.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use ebok_common::config::DispatcherConfig;
use ebok_outages::area::{Area, parse_street_line};
use ebok_outages::photos;
use ebok_outages::reports::store::{self as reports, Acting};
use ebok_outages::reports::views::{self, Filter};
use ebok_outages::reports::{Category, NewReport, Place, ReportError, Reporter, State};
use ebok_outages::store::Staff;
use ebok_testkit::{TestDb, fixtures};
use mobile_push::channel::{MailSender, PushSender};
use mobile_push::dispatcher::Dispatcher;
use mobile_push::email::Mailbox;
use mobile_push::fcm::emulator::FcmEmulator;
use sqlx::PgPool;

use super::{clerk, delivered, resident_at, tokens};

/// The dispatcher with the FCM emulator and a mailbox for e-mail.
fn dispatcher_with_mail(pool: &PgPool, fcm: &FcmEmulator, mailbox: &Arc<Mailbox>) -> Dispatcher {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let push: Arc<dyn PushSender> = Arc::new(fcm.client());
    let mail: Arc<dyn MailSender> = mailbox.clone();
    let config = DispatcherConfig {
        backoff_base_ms: 20,
        backoff_max_secs: 1,
        lease_secs: 1,
        expand_batch: 1,
        ..DispatcherConfig::default()
    };
    Dispatcher::new(
        pool.clone(),
        config,
        Some(push),
        Some(mail),
        "http://ebok.test",
    )
}

/// The addresses the mailbox holds mail with `subject` for.
fn mailed(mailbox: &Mailbox, subject: &str) -> BTreeSet<String> {
    mailbox
        .messages()
        .into_iter()
        .filter(|m| m.message.subject.contains(subject))
        .map(|m| m.message.to)
        .collect()
}

/// Lipowa 5 in Testowo, and a point there.
const LIPOWA: (f64, f64) = (54.194_00, 19.675_00);

fn report(reporter: Reporter, category: Category, point: Option<(f64, f64)>) -> NewReport {
    NewReport {
        category,
        description: "Woda bije spod asfaltu przed domem.".into(),
        place: Place {
            point,
            address: Some("Lipowa 5, Testowo".into()),
        },
        reporter,
        photos: Vec::new(),
    }
}

async fn technician(pool: &PgPool, utility: i64, email: &str) -> i64 {
    sqlx::query_scalar(
        "UPDATE user_accounts SET role = 'technician', display_name = 'Ekipa Nowak'
         WHERE id = $1 RETURNING id",
    )
    .bind(fixtures::resident_account(pool, utility, email).await)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn file(pool: &PgPool, utility: i64, new: &NewReport) -> Result<i64, ReportError> {
    let mut tx = pool.begin().await.unwrap();
    let id = reports::file(&mut tx, utility, Utc::now(), new).await?;
    tx.commit().await.unwrap();
    Ok(id)
}

#[tokio::test]
async fn report_verify_dispatch_fixed_reaches_the_reporter_and_whoever_joined_at_every_step() {
    let mailbox = Arc::new(Mailbox::new(100));
    let db = TestDb::new().await;
    let pool = &db.pool;
    let fcm = FcmEmulator::start();
    let utility = fixtures::utility(pool, "testowo").await;
    // The notifications consent is for outage broadcasts; a reporter asked to be told.
    let filer = resident_at(pool, utility, "Lipowa", "5", false, "filer").await;
    let neighbour = resident_at(pool, utility, "Lipowa", "7", false, "neighbour").await;
    resident_at(pool, utility, "Lipowa", "9", true, "bystander").await;
    let crew = technician(pool, utility, "ekipa@testowo.pl").await;
    let staff = Staff {
        utility_id: utility,
        account_id: clerk(pool, utility).await,
        now: Utc::now(),
    };
    let id = file(
        pool,
        utility,
        &report(Reporter::Account(filer), Category::BurstPipe, Some(LIPOWA)),
    )
    .await
    .unwrap();

    // The neighbour, 60 m away, is offered it and joins instead of filing again.
    let mut conn = pool.acquire().await.unwrap();
    let near = (LIPOWA.0 + 0.000_54, LIPOWA.1);
    let offered = views::nearby_open(
        &mut conn,
        utility,
        Category::BurstPipe,
        &Place {
            point: Some(near),
            address: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(offered.iter().map(|r| r.id).collect::<Vec<_>>(), [id]);
    let metres = offered[0].distance_m.unwrap();
    assert!((55.0..65.0).contains(&metres), "{metres} m");
    assert!(
        reports::join(
            &mut conn,
            utility,
            id,
            &Reporter::Account(neighbour),
            Utc::now()
        )
        .await
        .unwrap()
    );
    assert!(
        !reports::join(
            &mut conn,
            utility,
            id,
            &Reporter::Account(neighbour),
            Utc::now()
        )
        .await
        .unwrap(),
        "joining twice adds nobody"
    );
    // A passer-by without an account joins with their e-mail address.
    let passer_by = Reporter::Email("przechodzien@example.pl".into());
    assert!(
        reports::join(&mut conn, utility, id, &passer_by, Utc::now())
            .await
            .unwrap()
    );
    drop(conn);

    // (One recipient a slice: the address goes with the first, the accounts one by one.)
    let d = dispatcher_with_mail(pool, &fcm, &mailbox);
    let reporters = tokens(&["filer", "neighbour"]);
    let addresses = tokens(&[
        "filer@example.pl",
        "neighbour@example.pl",
        "przechodzien@example.pl",
    ]);
    let mut seen = 0;
    let steps: [(&str, State); 3] = [
        ("Zgłoszenie awarii potwierdzone", State::Verified),
        ("Ekipa wysłana do awarii", State::Dispatched),
        ("Awaria usunięta", State::Fixed),
    ];
    for (title, state) in steps {
        let mut tx = pool.begin().await.unwrap();
        match state {
            State::Verified => reports::verify(&mut tx, staff, id).await.unwrap(),
            State::Dispatched => reports::dispatch(&mut tx, staff, id, crew).await.unwrap(),
            _ => {
                let crew_member = Staff {
                    account_id: crew,
                    ..staff
                };
                reports::fix(&mut tx, crew_member, id, Acting::Crew)
                    .await
                    .unwrap()
            }
        }
        tx.commit().await.unwrap();
        let (told, titles) = delivered(&d, &fcm, seen).await;
        seen = fcm.accepted().len();
        assert_eq!(
            told, reporters,
            "{state:?}: the reporters' phones, nobody else"
        );
        assert_eq!(titles, tokens(&[title]));
        assert_eq!(mailed(&mailbox, title), addresses, "{state:?}: by e-mail");
    }
    assert_eq!(
        mailbox.messages().len(),
        9,
        "each step once to each reporter"
    );
    // A resident's mail links to the report's page; the passer-by has no account to open it.
    for kept in mailbox.messages() {
        let linked = kept.message.text.contains(&format!("/awarie/{id}"));
        assert_eq!(
            linked,
            kept.message.to != "przechodzien@example.pl",
            "{}",
            kept.message.to
        );
    }
    // The passer-by's notices reach no inbox; the residents' do.
    let inbox: Vec<Option<i64>> =
        sqlx::query_scalar("SELECT account_id FROM notifications WHERE email IS NOT NULL")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(inbox, [None, None, None]);
    let mut conn = pool.acquire().await.unwrap();
    let detail = views::detail(&mut conn, utility, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.summary.state, State::Fixed);
    assert_eq!(detail.summary.reporters, 3);
    assert_eq!(detail.summary.assigned_to.as_deref(), Some("Ekipa Nowak"));
    let actions: Vec<&str> = detail.history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "failure_report.reported",
            "failure_report.joined",
            "failure_report.joined",
            "failure_report.verified",
            "failure_report.dispatched",
            "failure_report.fixed",
        ]
    );
    // Fixed is closed: nobody is offered it, nobody joins it, no step is taken again.
    assert!(
        views::nearby_open(
            &mut conn,
            utility,
            Category::BurstPipe,
            &detail.summary.place
        )
        .await
        .unwrap()
        .is_empty()
    );
    assert!(matches!(
        reports::join(
            &mut conn,
            utility,
            id,
            &Reporter::Account(neighbour),
            Utc::now()
        )
        .await,
        Err(ReportError::Step(State::Fixed))
    ));
    assert!(matches!(
        reports::verify(&mut conn, staff, id).await,
        Err(ReportError::Step(State::Fixed))
    ));
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE entity_type = 'failure_report' ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        events,
        [
            "failure_report.verified",
            "failure_report.dispatched",
            "failure_report.fixed"
        ]
    );
}

#[tokio::test]
async fn the_duplicates_offered_are_open_reports_of_the_category_nearby_or_at_the_address() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, "testowo").await;
    let other = fixtures::utility(pool, "inne").await;
    let me = fixtures::resident_account(pool, utility, "jan@example.pl").await;
    let them = fixtures::resident_account(pool, other, "ola@example.pl").await;
    let here = file(
        pool,
        utility,
        &report(Reporter::Account(me), Category::NoWater, Some(LIPOWA)),
    )
    .await
    .unwrap();
    // Same category 1 km north: too far. Another category here: another failure.
    let far = (LIPOWA.0 + 0.009, LIPOWA.1);
    let mut distant = report(Reporter::Account(me), Category::NoWater, Some(far));
    distant.place.address = Some("Polna 40, Testowo".into());
    file(pool, utility, &distant).await.unwrap();
    file(
        pool,
        utility,
        &report(Reporter::Account(me), Category::LowPressure, Some(LIPOWA)),
    )
    .await
    .unwrap();
    // The same address typed without a point, in another letter case.
    let by_address = file(
        pool,
        utility,
        &NewReport {
            place: Place {
                point: None,
                address: Some("lipowa 5, TESTOWO".into()),
            },
            ..report(
                Reporter::Email("ola@example.pl".into()),
                Category::NoWater,
                None,
            )
        },
    )
    .await
    .unwrap();
    // Another utility's report on the same spot.
    file(
        pool,
        other,
        &report(Reporter::Account(them), Category::NoWater, Some(LIPOWA)),
    )
    .await
    .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let offered = views::nearby_open(
        &mut conn,
        utility,
        Category::NoWater,
        &Place {
            point: Some(LIPOWA),
            address: Some("Lipowa 5, Testowo".into()),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        offered.iter().map(|r| r.id).collect::<Vec<_>>(),
        [here, by_address],
        "the nearest first, the one without a point last"
    );
    // The office's list from a point: by distance, all categories.
    let from_far = views::list(
        &mut conn,
        utility,
        &Filter {
            open_only: true,
            from: Some(far),
            limit: 50,
            ..Filter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(from_far.len(), 4);
    assert!(from_far[0].distance_m.unwrap() < 1.0);
    assert!(from_far[1].distance_m.unwrap() > 950.0);
    assert_eq!(from_far[3].id, by_address);
    // A resident's own list is theirs.
    let mine = views::list(
        &mut conn,
        other,
        &Filter {
            reporter: Some(me),
            limit: 50,
            ..Filter::default()
        },
    )
    .await
    .unwrap();
    assert!(mine.is_empty(), "another utility holds none of them");
}

#[tokio::test]
async fn crews_reach_their_own_jobs_only_and_steps_out_of_order_or_from_elsewhere_are_refused() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, "testowo").await;
    let other = fixtures::utility(pool, "inne").await;
    let me = fixtures::resident_account(pool, utility, "jan@example.pl").await;
    let crew = technician(pool, utility, "ekipa1@testowo.pl").await;
    let other_crew = technician(pool, utility, "ekipa2@testowo.pl").await;
    let foreign_crew = technician(pool, other, "ekipa@inne.pl").await;
    let staff = Staff {
        utility_id: utility,
        account_id: clerk(pool, utility).await,
        now: Utc::now(),
    };
    let as_crew = |account_id| Staff {
        account_id,
        ..staff
    };
    let id = file(
        pool,
        utility,
        &report(Reporter::Account(me), Category::SewerBlockage, Some(LIPOWA)),
    )
    .await
    .unwrap();
    let mut tx = pool.begin().await.unwrap();
    // Not dispatched yet: no crew reaches it; fixing a report nobody verified is refused.
    assert!(matches!(
        reports::fix(&mut tx, as_crew(crew), id, Acting::Crew).await,
        Err(ReportError::NotFound)
    ));
    assert!(matches!(
        reports::fix(&mut tx, staff, id, Acting::Office).await,
        Err(ReportError::Step(State::Reported))
    ));
    for technician in [foreign_crew, me] {
        assert!(matches!(
            reports::dispatch(&mut tx, staff, id, technician).await,
            Err(ReportError::Invalid(f)) if f[0].0 == "technician"
        ));
    }
    reports::dispatch(&mut tx, staff, id, crew).await.unwrap();
    // The same crew sent again changes nothing and tells nobody again.
    reports::dispatch(&mut tx, staff, id, crew).await.unwrap();
    let dispatches: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM failure_report_events WHERE action = 'failure_report.dispatched'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(dispatches, 1);
    let jobs = views::list(
        &mut tx,
        utility,
        &Filter {
            assigned_to: Some(crew),
            limit: 50,
            ..Filter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [id]);
    // Another crew, and staff of another utility, reach nothing of it.
    assert!(matches!(
        reports::fix(&mut tx, as_crew(other_crew), id, Acting::Crew).await,
        Err(ReportError::NotFound)
    ));
    let foreign = Staff {
        utility_id: other,
        account_id: foreign_crew,
        now: staff.now,
    };
    assert!(matches!(
        reports::verify(&mut tx, foreign, id).await,
        Err(ReportError::NotFound)
    ));
    assert!(views::detail(&mut tx, other, id).await.unwrap().is_none());
    // A rejection needs its reason; the crew's photo loses its metadata.
    for reason in ["  ".to_string(), "x".repeat(1001), "Powód\u{0}".to_string()] {
        assert!(matches!(
            reports::reject(&mut tx, as_crew(crew), id, &reason, Acting::Crew).await,
            Err(ReportError::Invalid(f)) if f[0].0 == "reason"
        ));
    }
    let photo = photos::clean(&fixtures::png_photo("54.1940 N, 19.6750 E")).unwrap();
    let photo_id = reports::add_staff_photo(&mut tx, as_crew(crew), id, &photo, Acting::Crew)
        .await
        .unwrap();
    let (kind, bytes) = views::photo(&mut tx, utility, id, photo_id, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kind, "image/png");
    assert!(!bytes.windows(11).any(|w| w == b"GPSPosition"));
    assert!(
        views::photo(&mut tx, other, id, photo_id, None)
            .await
            .unwrap()
            .is_none()
    );
    reports::reject(
        &mut tx,
        as_crew(crew),
        id,
        "Studzienka drożna, zator był w instalacji budynku.",
        Acting::Crew,
    )
    .await
    .unwrap();
    let detail = views::detail(&mut tx, utility, id).await.unwrap().unwrap();
    assert_eq!(detail.summary.state, State::Rejected);
    assert_eq!(
        detail.rejection_reason.as_deref(),
        Some("Studzienka drożna, zator był w instalacji budynku.")
    );
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn bad_reports_are_refused_by_field_and_anybody_may_report_with_an_email_address() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, "testowo").await;
    let other = fixtures::utility(pool, "inne").await;
    let foreign = fixtures::resident_account(pool, other, "ola@example.pl").await;
    let nowhere = NewReport {
        place: Place::default(),
        description: " ".into(),
        ..report(Reporter::Email("nie adres".into()), Category::NoWater, None)
    };
    match file(pool, utility, &nowhere).await {
        Err(ReportError::Invalid(fields)) => assert_eq!(
            fields.iter().map(|f| f.0).collect::<Vec<_>>(),
            ["description", "address", "email"]
        ),
        other => panic!("{other:?}"),
    }
    // A NUL (which PostgreSQL refuses in text) is told at its field, never a failure.
    let nul = NewReport {
        description: "Wyciek\u{0}".into(),
        ..report(
            Reporter::Email("a,b@example.pl".into()),
            Category::NoWater,
            Some(LIPOWA),
        )
    };
    match file(pool, utility, &nul).await {
        Err(ReportError::Invalid(fields)) => assert_eq!(
            fields.iter().map(|f| f.0).collect::<Vec<_>>(),
            ["description", "email"]
        ),
        other => panic!("{other:?}"),
    }
    let mut six = report(Reporter::Account(foreign), Category::NoWater, Some(LIPOWA));
    let photo = photos::clean(&fixtures::png_photo("here")).unwrap();
    six.photos = vec![photo.clone(); 6];
    assert!(
        matches!(file(pool, utility, &six).await, Err(ReportError::Invalid(f)) if f[0].0 == "photos")
    );
    // A resident of another utility cannot file in this one.
    six.photos.truncate(2);
    assert!(matches!(
        file(pool, utility, &six).await,
        Err(ReportError::NotFound)
    ));
    let mut anonymous = report(
        Reporter::Email("przechodzien@example.pl".into()),
        Category::DamagedHydrant,
        Some(LIPOWA),
    );
    anonymous.photos = vec![photo];
    let id = file(pool, utility, &anonymous).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let detail = views::detail(&mut conn, utility, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.photos.len(), 1);
    assert!(
        views::is_reporter(
            &mut conn,
            id,
            &Reporter::Email("Przechodzien@Example.pl".into())
        )
        .await
        .unwrap()
    );
}

#[tokio::test]
async fn a_verified_failure_becomes_an_outage_notice_in_one_step() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let utility = fixtures::utility(pool, "testowo").await;
    let me = resident_at(pool, utility, "Lipowa", "5", true, "me").await;
    let staff = Staff {
        utility_id: utility,
        account_id: clerk(pool, utility).await,
        now: Utc::now(),
    };
    let id = file(
        pool,
        utility,
        &report(Reporter::Account(me), Category::NoWater, Some(LIPOWA)),
    )
    .await
    .unwrap();
    let mut tx = pool.begin().await.unwrap();
    let detail = views::detail(&mut tx, utility, id).await.unwrap().unwrap();
    let mut draft = reports::draft_for(detail.summary.category, &detail.summary.place, staff.now);
    assert_eq!(draft.title, "Brak wody: Lipowa 5, Testowo");
    assert_eq!(
        draft.description, None,
        "the reporter's words stay out of a public notice"
    );
    draft.expected_end = Some(staff.now + Duration::hours(4));
    draft.area = Area {
        streets: vec![parse_street_line("Testowo, Lipowa").unwrap()],
        ..Area::default()
    };
    assert!(matches!(
        reports::announce_outage(&mut tx, staff, id, &draft).await,
        Err(ReportError::Step(State::Reported))
    ));
    reports::verify(&mut tx, staff, id).await.unwrap();
    let announced = reports::announce_outage(&mut tx, staff, id, &draft)
        .await
        .unwrap();
    assert_eq!(announced.recipients, 1);
    let detail = views::detail(&mut tx, utility, id).await.unwrap().unwrap();
    assert_eq!(detail.summary.outage_id, Some(announced.id));
    assert!(matches!(
        reports::announce_outage(&mut tx, staff, id, &draft).await,
        Err(ReportError::Invalid(f)) if f[0].0 == "outage"
    ));
    tx.commit().await.unwrap();
}

/// An address given without an account is kept while the report is open and for a while after
/// it is closed, then erased from the reporter and from every notice and e-mail delivery sent
/// to it; the rows stay. An open report's address and a resident's account are left alone.
#[tokio::test]
async fn a_closed_reports_addresses_are_erased_everywhere_the_rows_kept() {
    let mailbox = Arc::new(Mailbox::new(100));
    let db = TestDb::new().await;
    let pool = &db.pool;
    let fcm = FcmEmulator::start();
    let utility = fixtures::utility(pool, "testowo").await;
    let filer = resident_at(pool, utility, "Lipowa", "5", false, "filer").await;
    let staff = Staff {
        utility_id: utility,
        account_id: clerk(pool, utility).await,
        now: Utc::now(),
    };
    let closed = file(
        pool,
        utility,
        &report(
            Reporter::Email("ola@example.pl".into()),
            Category::NoWater,
            None,
        ),
    )
    .await
    .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    assert!(
        reports::join(
            &mut conn,
            utility,
            closed,
            &Reporter::Account(filer),
            Utc::now()
        )
        .await
        .unwrap()
    );
    drop(conn);
    let open = file(
        pool,
        utility,
        &report(
            Reporter::Email("jan@example.pl".into()),
            Category::BurstPipe,
            Some(LIPOWA),
        ),
    )
    .await
    .unwrap();
    let mut tx = pool.begin().await.unwrap();
    reports::reject(&mut tx, staff, closed, "Przerwa u sąsiada.", Acting::Office)
        .await
        .unwrap();
    reports::verify(&mut tx, staff, open).await.unwrap();
    tx.commit().await.unwrap();
    let d = dispatcher_with_mail(pool, &fcm, &mailbox);
    delivered(&d, &fcm, 0).await;
    assert_eq!(
        mailed(&mailbox, ""),
        tokens(&["ola@example.pl", "jan@example.pl", "filer@example.pl"]),
        "each told by e-mail"
    );
    // Where an address can be: the reporters, the notices and their deliveries.
    let rows_naming = |address: &'static str| async move {
        sqlx::query_scalar::<_, i64>(
            "SELECT (SELECT count(*) FROM failure_reporters r WHERE r::text ILIKE '%' || $1 || '%')
                  + (SELECT count(*) FROM notifications n WHERE n::text ILIKE '%' || $1 || '%')
                  + (SELECT count(*) FROM notification_deliveries d
                     WHERE d::text ILIKE '%' || $1 || '%')",
        )
        .bind(address)
        .fetch_one(pool)
        .await
        .unwrap()
    };
    assert_eq!(rows_naming("ola@example.pl").await, 3);
    let rows = || async {
        sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT (SELECT count(*) FROM failure_reporters), (SELECT count(*) FROM notifications),
                    (SELECT count(*) FROM notification_deliveries)",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    };
    let before = rows().await;

    let erase = |closed_before| async move {
        let mut tx = pool.begin().await.unwrap();
        let reports = reports::erase_closed_addresses(&mut tx, closed_before, 100)
            .await
            .unwrap();
        let notices = mobile_push::recipients::forget_reporter_addresses(&mut tx, &reports)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        (reports, notices)
    };
    // Closed just now: kept for the reporter's questions.
    assert_eq!(erase(Utc::now() - Duration::days(30)).await, (vec![], 0));
    assert_eq!(rows_naming("ola@example.pl").await, 3);
    // Closed long enough: erased from the reporter, the notice and its delivery.
    assert_eq!(
        erase(Utc::now() + Duration::seconds(1)).await,
        (vec![closed], 1)
    );
    assert_eq!(rows_naming("ola@example.pl").await, 0);
    assert_eq!(rows().await, before, "every row kept");
    let erased: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM failure_reporters WHERE email_erased_at IS NOT NULL)
              + (SELECT count(*) FROM notifications WHERE email_erased_at IS NOT NULL)
              + (SELECT count(*) FROM notification_deliveries WHERE email_erased_at IS NOT NULL)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(erased, 3, "each says when");
    // The open report's address and the resident's account are as they were; again, nothing.
    assert_eq!(rows_naming("jan@example.pl").await, 3);
    assert_eq!(
        rows_naming("filer@example.pl").await,
        1,
        "the resident's delivery"
    );
    assert_eq!(erase(Utc::now() + Duration::seconds(1)).await, (vec![], 0));
}
