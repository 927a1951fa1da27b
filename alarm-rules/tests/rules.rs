//! Residents' alarm rules against a real PostgreSQL: each kind triggers once for a sustained
//! condition fed in batches of readings (written as ingest writes them: readings, then
//! `meter_latest_readings` moved forward) and re-arms after clearing; the notice's payload; the
//! device alarm's silent record; who may see and change a rule; parameter validation; and two
//! evaluators racing.

use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, SubsecRound, Utc};
use ebok_alarm_rules::{
    self as rules, EvalReport, Evaluator, EvaluatorConfig, MAX_RULES_PER_ACCOUNT, NewRule,
    RuleError, RuleKind,
};
use ebok_common::domain::time::{day_bounds, day_start, local_day};
use ebok_readings::access::Viewer;
use ebok_testkit::{TestDb, fixtures};
use serde_json::Value;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// A resident who may see one meter.
struct Resident {
    viewer: Viewer,
    meter_id: i64,
}

async fn resident(pool: &PgPool, utility_id: i64, email: &str) -> Resident {
    let home = fixtures::household(pool, utility_id, email).await;
    Resident {
        viewer: Viewer {
            utility_id,
            account_id: home.account_id,
        },
        meter_id: home.meter_id,
    }
}

/// Stores readings as ingest does: the readings, then the newest moved forward (never back).
async fn feed(pool: &PgPool, meter_id: i64, readings: &[(DateTime<Utc>, i64)]) {
    for &(at, litres) in readings {
        ebok_testkit::fixtures::radio_reading(pool, meter_id, at, litres).await;
    }
}

fn evaluator(pool: &PgPool) -> Evaluator {
    Evaluator::new(
        pool.clone(),
        EvaluatorConfig {
            poll: Duration::from_millis(20),
            batch: 100,
            recheck: Duration::from_secs(600),
        },
    )
}

async fn step(evaluator: &Evaluator) -> EvalReport {
    evaluator.try_once().await.expect("evaluator step")
}

async fn create(pool: &PgPool, r: &Resident, kind: RuleKind) -> rules::Rule {
    let mut conn = pool.acquire().await.unwrap();
    rules::create(
        &mut conn,
        r.viewer,
        &NewRule {
            meter_id: r.meter_id,
            kind,
            label: None,
        },
        Some("req-1"),
    )
    .await
    .expect("creating a rule")
}

/// (started_at, ended_at, detail, outbox_id) of a rule's triggers, oldest first.
async fn triggers_of(
    pool: &PgPool,
    rule_id: i64,
) -> Vec<(DateTime<Utc>, Option<DateTime<Utc>>, String, Option<i64>)> {
    sqlx::query_as(
        "SELECT started_at, ended_at, detail, outbox_id FROM resident_alarm_triggers
         WHERE rule_id = $1 ORDER BY started_at",
    )
    .bind(rule_id)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// (recipient account, payload, dedup key) of the resident alarm events, oldest first.
async fn notices(pool: &PgPool) -> Vec<(i64, Value, String)> {
    sqlx::query_as(
        "SELECT recipient_account_id, payload, dedup_key FROM outbox
         WHERE kind = 'resident_alarm.triggered' ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// A Warsaw day a few days ago (fixed within the test, whatever the hour it runs at).
fn past_day(days_ago: u64) -> NaiveDate {
    local_day(Utc::now()) - Days::new(days_ago)
}

fn hour(day: NaiveDate, h: i64) -> DateTime<Utc> {
    day_start(day) + chrono::Duration::hours(h)
}

#[tokio::test]
async fn daily_above_triggers_once_per_day_however_many_batches_and_again_the_next_day() {
    let db = TestDb::new().await;
    let u = fixtures::utility(&db.pool, "alfa").await;
    let r = resident(&db.pool, u, "anna@example.pl").await;
    let rule = create(&db.pool, &r, RuleKind::DailyAbove { litres: 500 }).await;
    let ev = evaluator(&db.pool);
    let day = past_day(4);
    // 100 litres an hour from 23:00 the evening before; the day counts from its midnight reading.
    let reading = |h: i64| (hour(day, h), 10_000 + (h + 1) * 100);

    feed(
        &db.pool,
        r.meter_id,
        &[reading(-1), reading(0), reading(1), reading(2)],
    )
    .await;
    step(&ev).await;
    assert!(
        triggers_of(&db.pool, rule.id).await.is_empty(),
        "200 l is not above 500 l"
    );

    feed(&db.pool, r.meter_id, &[reading(3), reading(4), reading(5)]).await;
    let report = step(&ev).await;
    assert_eq!(
        (report.evaluated, report.opened),
        (1, 0),
        "500 l is not above 500 l"
    );
    feed(&db.pool, r.meter_id, &[reading(6), reading(7)]).await;
    let report = step(&ev).await;
    assert_eq!((report.evaluated, report.opened), (1, 1));
    feed(&db.pool, r.meter_id, &[reading(8)]).await;
    step(&ev).await;

    let first = triggers_of(&db.pool, rule.id).await;
    assert_eq!(
        first.len(),
        1,
        "one alarm for the day, not one per reading: {first:?}"
    );
    // Above 500 l with the 06:00 reading (600 l since midnight).
    assert_eq!(first[0].0, hour(day, 6));
    assert_eq!(
        first[0].1,
        Some(day_bounds(day).1),
        "the day's episode ends with the day"
    );

    // The next day: again above the threshold, again one alarm.
    let next = day + Days::new(1);
    let base = 10_000 + 10 * 100;
    feed(
        &db.pool,
        r.meter_id,
        &(0..=9)
            .map(|h| (hour(next, h), base + h * 90))
            .collect::<Vec<_>>(),
    )
    .await;
    step(&ev).await;
    step(&ev).await;
    let all = triggers_of(&db.pool, rule.id).await;
    assert_eq!(all.len(), 2, "{all:?}");

    let sent = notices(&db.pool).await;
    assert_eq!(sent.len(), 2);
    let (to, payload, dedup) = &sent[0];
    assert_eq!(*to, r.viewer.account_id);
    assert_eq!(payload["meter_id"], r.meter_id);
    assert_eq!(payload["rule"], "Zużycie dobowe powyżej 500\u{a0}l");
    let at: DateTime<Utc> = payload["at"].as_str().unwrap().parse().unwrap();
    assert_eq!(at, hour(day, 6));
    let detail = payload["detail"].as_str().unwrap();
    assert!(detail.contains("do 07:00 zużyto 700\u{a0}l"), "{detail}");
    assert!(detail.contains("próg alarmu to 500\u{a0}l"), "{detail}");
    assert_eq!(dedup, &format!("resident_alarm:{}:day:{day}", rule.id));
    assert_eq!(first[0].3, Some(payload_outbox_id(&db.pool, dedup).await));
}

async fn payload_outbox_id(pool: &PgPool, dedup: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM outbox WHERE dedup_key = $1")
        .bind(dedup)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn continuous_flow_triggers_once_clears_on_a_pause_and_rearms_on_new_flow() {
    let db = TestDb::new().await;
    let u = fixtures::utility(&db.pool, "alfa").await;
    let r = resident(&db.pool, u, "anna@example.pl").await;
    let rule = create(&db.pool, &r, RuleKind::ContinuousFlow { hours: 3 }).await;
    let ev = evaluator(&db.pool);
    let day = past_day(3);

    // A dripping tap: 6 litres every hour.
    feed(
        &db.pool,
        r.meter_id,
        &[
            (hour(day, 0), 500),
            (hour(day, 1), 506),
            (hour(day, 2), 512),
        ],
    )
    .await;
    step(&ev).await;
    assert!(
        triggers_of(&db.pool, rule.id).await.is_empty(),
        "two hours are not three"
    );
    feed(
        &db.pool,
        r.meter_id,
        &[(hour(day, 3), 518), (hour(day, 4), 524)],
    )
    .await;
    step(&ev).await;
    feed(
        &db.pool,
        r.meter_id,
        &[(hour(day, 5), 530), (hour(day, 6), 536)],
    )
    .await;
    step(&ev).await;
    let open = triggers_of(&db.pool, rule.id).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!((open[0].0, open[0].1), (hour(day, 3), None));

    // An hour without water ends it.
    feed(&db.pool, r.meter_id, &[(hour(day, 7), 536)]).await;
    step(&ev).await;
    let closed = triggers_of(&db.pool, rule.id).await;
    assert_eq!(closed[0].1, Some(hour(day, 7)));

    // Flow again, for long enough: a new alarm.
    feed(
        &db.pool,
        r.meter_id,
        &(8..=11)
            .map(|h| (hour(day, h), 536 + (h - 7) * 4))
            .collect::<Vec<_>>(),
    )
    .await;
    step(&ev).await;
    let all = triggers_of(&db.pool, rule.id).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!((all[1].0, all[1].1), (hour(day, 10), None));
    let sent = notices(&db.pool).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].1["rule"], "Ciągły przepływ wody przez 3 godziny");
    assert!(
        sent[0].1["detail"]
            .as_str()
            .unwrap()
            .contains("woda płynęła bez przerwy przez co najmniej 4 godziny")
    );
}

#[tokio::test]
async fn daily_readings_never_raise_continuous_flow() {
    let db = TestDb::new().await;
    let u = fixtures::utility(&db.pool, "alfa").await;
    let r = resident(&db.pool, u, "anna@example.pl").await;
    let rule = create(&db.pool, &r, RuleKind::ContinuousFlow { hours: 1 }).await;
    let ev = evaluator(&db.pool);
    for d in (1..=8).rev() {
        feed(
            &db.pool,
            r.meter_id,
            &[(hour(past_day(d), 2), 1_000 + 300 * (9 - d as i64))],
        )
        .await;
        step(&ev).await;
    }
    assert!(triggers_of(&db.pool, rule.id).await.is_empty());
}

#[tokio::test]
async fn no_consumption_triggers_after_still_days_clears_when_water_flows_and_rearms() {
    let db = TestDb::new().await;
    let u = fixtures::utility(&db.pool, "alfa").await;
    let r = resident(&db.pool, u, "anna@example.pl").await;
    let rule = create(&db.pool, &r, RuleKind::NoConsumption { days: 1 }).await;
    let ev = evaluator(&db.pool);
    let now = Utc::now().trunc_subsecs(0);
    let at = |quarter_days: i64| now + chrono::Duration::hours(6 * quarter_days);

    feed(&db.pool, r.meter_id, &[(at(-8), 100), (at(-7), 150)]).await;
    step(&ev).await;
    feed(&db.pool, r.meter_id, &[(at(-6), 150), (at(-5), 150)]).await;
    step(&ev).await;
    assert!(
        triggers_of(&db.pool, rule.id).await.is_empty(),
        "half a day still"
    );
    feed(&db.pool, r.meter_id, &[(at(-4), 150)]).await;
    step(&ev).await;
    feed(&db.pool, r.meter_id, &[(at(-3), 150)]).await;
    step(&ev).await;
    let open = triggers_of(&db.pool, rule.id).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!((open[0].0, open[0].1), (at(-3), None));

    feed(&db.pool, r.meter_id, &[(at(-2), 163)]).await;
    step(&ev).await;
    assert_eq!(triggers_of(&db.pool, rule.id).await[0].1, Some(at(-2)));

    // Still again for a day (readings dated ahead stand in for waiting a day).
    feed(
        &db.pool,
        r.meter_id,
        &[(at(-1), 163), (at(0), 163), (at(1), 163)],
    )
    .await;
    step(&ev).await;
    feed(&db.pool, r.meter_id, &[(at(2), 163)]).await;
    step(&ev).await;
    let all = triggers_of(&db.pool, rule.id).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[1].0, at(2));
    let sent = notices(&db.pool).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].1["rule"], "Brak zużycia wody przez 1 dzień");
    assert!(
        sent[0].1["detail"]
            .as_str()
            .unwrap()
            .contains("0,150\u{a0}m³")
    );
}

#[tokio::test]
async fn no_consumption_is_rechecked_on_the_timer_without_a_second_alarm() {
    let db = TestDb::new().await;
    let u = fixtures::utility(&db.pool, "alfa").await;
    let r = resident(&db.pool, u, "anna@example.pl").await;
    let now = Utc::now();
    // Already still for two days before the rule exists.
    feed(
        &db.pool,
        r.meter_id,
        &[
            (now - chrono::Duration::hours(60), 10),
            (now - chrono::Duration::hours(50), 20),
            (now - chrono::Duration::hours(24), 20),
            (now - chrono::Duration::hours(1), 20),
        ],
    )
    .await;
    let rule = create(&db.pool, &r, RuleKind::NoConsumption { days: 2 }).await;
    let ev = Evaluator::new(
        db.pool.clone(),
        EvaluatorConfig {
            poll: Duration::from_millis(20),
            batch: 100,
            recheck: Duration::ZERO,
        },
    );
    let first = step(&ev).await;
    assert_eq!(
        (first.evaluated, first.opened),
        (1, 1),
        "a new rule is evaluated at once"
    );
    let again = step(&ev).await;
    assert_eq!(
        (again.evaluated, again.opened),
        (1, 0),
        "rechecked without a new reading"
    );
    assert_eq!(triggers_of(&db.pool, rule.id).await.len(), 1);
    assert_eq!(notices(&db.pool).await.len(), 1);
}

async fn raise_alarm(pool: &PgPool, utility_id: i64, meter_id: i64, kind: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO meter_alarms (utility_id, meter_id, kind, raised_at)
         VALUES ($1, $2, $3::meter_alarm_kind, now() - interval '5 minutes') RETURNING id",
    )
    .bind(utility_id)
    .bind(meter_id)
    .bind(kind)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn device_alarm_records_each_meter_alarm_once_without_a_notice_of_its_own() {
    let db = TestDb::new().await;
    let u = fixtures::utility(&db.pool, "alfa").await;
    let r = resident(&db.pool, u, "anna@example.pl").await;
    let rule = create(&db.pool, &r, RuleKind::DeviceAlarm).await;
    let ev = evaluator(&db.pool);

    let leak = raise_alarm(&db.pool, u, r.meter_id, "leak").await;
    let report = step(&ev).await;
    assert_eq!(report.device_recorded, 1);
    step(&ev).await;
    let recorded = triggers_of(&db.pool, rule.id).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].2, "Wodomierz zgłosił: wyciek wody.");
    assert_eq!(recorded[0].3, None, "no outbox event");
    assert!(
        notices(&db.pool).await.is_empty(),
        "ingest sends the meter alarm's notice"
    );
    let linked: Option<i64> =
        sqlx::query_scalar("SELECT meter_alarm_id FROM resident_alarm_triggers WHERE rule_id = $1")
            .bind(rule.id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(linked, Some(leak));

    sqlx::query("UPDATE meter_alarms SET state = 'cleared', cleared_at = now() WHERE id = $1")
        .bind(leak)
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(step(&ev).await.device_closed, 1);
    assert!(
        triggers_of(&db.pool, rule.id).await[0].1.is_some(),
        "ends with its alarm"
    );

    raise_alarm(&db.pool, u, r.meter_id, "leak").await;
    step(&ev).await;
    let mut conn = db.pool.acquire().await.unwrap();
    let history = rules::triggers(&mut conn, r.viewer, Some(rule.id), 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 2, "a new alarm is a new entry");
    assert!(history.iter().all(|t| !t.notified));
    assert_eq!(history[0].rule, "Każdy alarm zgłoszony przez wodomierz");
}

#[tokio::test]
async fn another_resident_and_another_utilitys_resident_neither_see_nor_touch_a_rule() {
    let db = TestDb::new().await;
    let alfa = fixtures::utility(&db.pool, "alfa").await;
    let beta = fixtures::utility(&db.pool, "beta").await;
    let owner = resident(&db.pool, alfa, "anna@example.pl").await;
    let neighbour = resident(&db.pool, alfa, "jan@example.pl").await;
    let stranger = resident(&db.pool, beta, "ewa@example.pl").await;
    let rule = create(&db.pool, &owner, RuleKind::DeviceAlarm).await;
    raise_alarm(&db.pool, alfa, owner.meter_id, "burst").await;
    step(&evaluator(&db.pool)).await;
    let mut conn = db.pool.acquire().await.unwrap();
    assert_eq!(
        rules::triggers(&mut conn, owner.viewer, None, 50)
            .await
            .unwrap()
            .len(),
        1
    );

    // The owner's account id under the other utility: a forged pair sees nothing either.
    let forged = Viewer {
        utility_id: beta,
        account_id: owner.viewer.account_id,
    };
    for viewer in [neighbour.viewer, stranger.viewer, forged] {
        let new = NewRule {
            meter_id: owner.meter_id,
            kind: RuleKind::DailyAbove { litres: 100 },
            label: None,
        };
        assert!(matches!(
            rules::create(&mut conn, viewer, &new, None).await,
            Err(RuleError::MeterNotFound)
        ));
        assert!(rules::list(&mut conn, viewer).await.unwrap().is_empty());
        assert!(matches!(
            rules::get(&mut conn, viewer, rule.id).await,
            Err(RuleError::NotFound)
        ));
        assert!(matches!(
            rules::delete(&mut conn, viewer, rule.id, None).await,
            Err(RuleError::NotFound)
        ));
        assert!(matches!(
            rules::set_enabled(&mut conn, viewer, rule.id, false, None).await,
            Err(RuleError::NotFound)
        ));
        assert!(matches!(
            rules::triggers(&mut conn, viewer, Some(rule.id), 50).await,
            Err(RuleError::NotFound)
        ));
        assert!(
            rules::triggers(&mut conn, viewer, None, 50)
                .await
                .unwrap()
                .is_empty()
        );
    }
    // Untouched.
    let still = rules::get(&mut conn, owner.viewer, rule.id).await.unwrap();
    assert!(still.enabled);
    assert_eq!(rules::list(&mut conn, owner.viewer).await.unwrap().len(), 1);
    let rules_in_db: i64 = sqlx::query_scalar("SELECT count(*) FROM resident_alarm_rules")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(rules_in_db, 1);
}

#[tokio::test]
async fn invalid_parameters_name_the_field_and_the_account_limit_holds() {
    let db = TestDb::new().await;
    let u = fixtures::utility(&db.pool, "alfa").await;
    let r = resident(&db.pool, u, "anna@example.pl").await;
    let mut conn = db.pool.acquire().await.unwrap();
    let attempt = |kind: RuleKind, label: Option<&str>| NewRule {
        meter_id: r.meter_id,
        kind,
        label: label.map(str::to_string),
    };
    for (new, field) in [
        (attempt(RuleKind::DailyAbove { litres: 0 }, None), "litres"),
        (
            attempt(RuleKind::DailyAbove { litres: 1_000_001 }, None),
            "litres",
        ),
        (
            attempt(RuleKind::ContinuousFlow { hours: 73 }, None),
            "hours",
        ),
        (attempt(RuleKind::NoConsumption { days: 0 }, None), "days"),
        (
            attempt(RuleKind::DeviceAlarm, Some(&"x".repeat(101))),
            "label",
        ),
    ] {
        match rules::create(&mut conn, r.viewer, &new, None).await {
            Err(RuleError::Invalid { field: f, detail }) => {
                assert_eq!(f, field);
                assert!(!detail.is_empty());
            }
            other => panic!("{new:?}: {other:?}"),
        }
    }

    let created = rules::create(
        &mut conn,
        r.viewer,
        &attempt(RuleKind::DailyAbove { litres: 1 }, Some("  Mieszkanie  ")),
        Some("req-7"),
    )
    .await
    .unwrap();
    assert_eq!(created.label.as_deref(), Some("Mieszkanie"));
    assert_eq!(created.description, "Zużycie dobowe powyżej 1\u{a0}l");
    assert!(matches!(
        rules::create(
            &mut conn,
            r.viewer,
            &attempt(RuleKind::DailyAbove { litres: 1 }, None),
            None
        )
        .await,
        Err(RuleError::Invalid { field: "kind", .. })
    ));
    for litres in 2..=MAX_RULES_PER_ACCOUNT {
        rules::create(
            &mut conn,
            r.viewer,
            &attempt(RuleKind::DailyAbove { litres }, None),
            None,
        )
        .await
        .unwrap();
    }
    assert!(matches!(
        rules::create(
            &mut conn,
            r.viewer,
            &attempt(RuleKind::DeviceAlarm, None),
            None
        )
        .await,
        Err(RuleError::TooMany)
    ));

    rules::delete(&mut conn, r.viewer, created.id, Some("req-8"))
        .await
        .unwrap();
    let audit: Vec<(String, Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT action, request_id, actor_account_id FROM audit_log
         WHERE entity_type = 'resident_alarm_rule' AND entity_id = $1 ORDER BY id",
    )
    .bind(created.id.to_string())
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        audit,
        [
            (
                "resident_alarm_rule.created".into(),
                Some("req-7".into()),
                Some(r.viewer.account_id)
            ),
            (
                "resident_alarm_rule.deleted".into(),
                Some("req-8".into()),
                Some(r.viewer.account_id)
            ),
        ]
    );
}

#[tokio::test]
async fn a_switched_off_rule_ends_its_episode_and_switched_on_does_not_repeat_it() {
    let db = TestDb::new().await;
    let u = fixtures::utility(&db.pool, "alfa").await;
    let r = resident(&db.pool, u, "anna@example.pl").await;
    let rule = create(&db.pool, &r, RuleKind::ContinuousFlow { hours: 2 }).await;
    let ev = evaluator(&db.pool);
    let day = past_day(2);
    feed(
        &db.pool,
        r.meter_id,
        &(0..=3).map(|h| (hour(day, h), 50 + h)).collect::<Vec<_>>(),
    )
    .await;
    step(&ev).await;
    let mut conn = db.pool.acquire().await.unwrap();
    assert!(
        rules::get(&mut conn, r.viewer, rule.id)
            .await
            .unwrap()
            .active_since
            .is_some()
    );

    let off = rules::set_enabled(&mut conn, r.viewer, rule.id, false, None)
        .await
        .unwrap();
    assert!(!off.enabled);
    assert_eq!(off.active_since, None, "switching off ends the episode");
    feed(&db.pool, r.meter_id, &[(hour(day, 4), 60)]).await;
    assert_eq!(
        step(&ev).await.evaluated,
        0,
        "a switched-off rule is not evaluated"
    );

    rules::set_enabled(&mut conn, r.viewer, rule.id, true, None)
        .await
        .unwrap();
    assert_eq!(step(&ev).await.evaluated, 1);
    assert_eq!(
        notices(&db.pool).await.len(),
        1,
        "the same flow is not announced again"
    );
}

#[tokio::test]
async fn two_evaluators_racing_announce_each_episode_once() {
    let db = TestDb::new().await;
    let u = fixtures::utility(&db.pool, "alfa").await;
    let r = resident(&db.pool, u, "anna@example.pl").await;
    let mut ids = Vec::new();
    for litres in 1..=30 {
        ids.push(
            create(
                &db.pool,
                &r,
                RuleKind::DailyAbove {
                    litres: litres * 10,
                },
            )
            .await
            .id,
        );
    }
    let day = past_day(2);
    feed(
        &db.pool,
        r.meter_id,
        &(0..=6).map(|h| (hour(day, h), h * 100)).collect::<Vec<_>>(),
    )
    .await;
    let small = |pool: &PgPool| {
        Evaluator::new(
            pool.clone(),
            EvaluatorConfig {
                poll: Duration::from_millis(5),
                batch: 4,
                recheck: Duration::from_secs(600),
            },
        )
    };
    let (a, b) = (small(&db.pool), small(&db.pool));
    let mut evaluated = 0;
    for _ in 0..12 {
        let (x, y) = tokio::join!(a.try_once(), b.try_once());
        evaluated += x.unwrap().evaluated + y.unwrap().evaluated;
    }
    assert_eq!(
        evaluated,
        ids.len(),
        "each rule evaluated by one of them, once"
    );
    let per_rule: Vec<i64> = sqlx::query_scalar(
        "SELECT count(t.id) FROM resident_alarm_rules r
         LEFT JOIN resident_alarm_triggers t ON t.rule_id = r.id GROUP BY r.id ORDER BY r.id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(per_rule, vec![1; ids.len()]);
    assert_eq!(notices(&db.pool).await.len(), ids.len());
}

#[tokio::test]
async fn the_running_evaluator_writes_a_trigger_within_a_few_polls_of_the_reading() {
    let db = TestDb::new().await;
    let u = fixtures::utility(&db.pool, "alfa").await;
    let r = resident(&db.pool, u, "anna@example.pl").await;
    let rule = create(&db.pool, &r, RuleKind::DailyAbove { litres: 50 }).await;
    let cancel = CancellationToken::new();
    let running = tokio::spawn(evaluator(&db.pool).run(cancel.clone()));

    let now = Utc::now();
    feed(
        &db.pool,
        r.meter_id,
        &[
            (now - chrono::Duration::minutes(2), 1_000),
            (now - chrono::Duration::minutes(1), 1_080),
        ],
    )
    .await;
    let fed = std::time::Instant::now();
    let deadline = fed + Duration::from_secs(5);
    loop {
        if !triggers_of(&db.pool, rule.id).await.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no trigger within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        fed.elapsed() < Duration::from_secs(1),
        "took {:?}",
        fed.elapsed()
    );
    cancel.cancel();
    running.await.unwrap();
}
