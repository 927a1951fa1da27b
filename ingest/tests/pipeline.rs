//! End to end through the real broker and PostgreSQL: what ingest stores, flags, ignores,
//! quarantines and rejects, with the reason stored for every rejection (one test per class).

mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use ebok_common::domain::ReadingFlags;
use serde_json::json;
use support::Harness;

fn single(serial: &str, at: &str, litres: i64) -> String {
    json!({"serial": serial, "at": at, "litres": litres}).to_string()
}

fn recent(hours_ago: i64) -> String {
    (Utc::now() - chrono::Duration::hours(hours_ago))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

async fn wait_for(h: &Harness, sql: &str, expected: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = h.count(sql).await;
        if got == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sql}: {got}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn single_readings_are_stored_once_and_move_latest_forward() {
    let mut h = Harness::start().await;
    let m = h.meter("A100", "0000a100").await;
    let topic = h.own_topic();
    h.send(
        &topic,
        &[
            single("A100", &recent(2), 1_000),
            single("A100", &recent(1), 1_050),
        ],
        2,
    )
    .await;
    assert_eq!(h.count("SELECT count(*) FROM meter_readings").await, 2);
    wait_for(
        &h,
        &format!(
            "SELECT coalesce(max(volume_litres), -1) FROM meter_latest_readings WHERE meter_id = {}",
            m.id
        ),
        1_050,
    )
    .await;
    assert!(h.reasons().await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn a_gateway_batch_keeps_good_elements_and_rejects_bad_ones_each_with_a_reason() {
    let mut h = Harness::start().await;
    h.meter("A200", "0000a200").await;
    h.meter("A201", "0000a201").await;
    let batch = json!({
        "gateway": "gw-1",
        "readings": [
            {"radio_id": "0000A200", "at": recent(3), "litres": 100},
            {"radio_id": "0000a200", "at": recent(2), "m3": "0.150"},
            {"serial": "A201", "at": recent(2), "litres": 7},
            {"serial": "A201", "at": recent(1), "litres": -5},
            {"serial": "A201", "litres": 9},
        ]
    })
    .to_string();
    let topic = h.own_topic();
    h.send(&topic, &[batch], 5).await;
    assert_eq!(h.count("SELECT count(*) FROM meter_readings").await, 3);
    assert_eq!(
        h.count("SELECT volume_litres FROM meter_readings WHERE volume_litres = 150")
            .await,
        150,
        "m3 as a decimal string converts exactly"
    );
    let mut reasons = h.reasons().await;
    reasons.sort();
    assert_eq!(reasons, ["missing_field", "negative_value"]);
    h.stop().await;
}

#[tokio::test]
async fn an_identical_repeat_is_ignored_idempotently() {
    let mut h = Harness::start().await;
    h.meter("A300", "0000a300").await;
    let topic = h.own_topic();
    let at = recent(1);
    h.send(&topic, &[single("A300", &at, 500)], 1).await;
    h.send(
        &topic,
        &[single("A300", &at, 500), single("A300", &at, 500)],
        2,
    )
    .await;
    assert_eq!(h.count("SELECT count(*) FROM meter_readings").await, 1);
    assert_eq!(
        h.ingest
            .stats
            .duplicates
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    assert!(h.reasons().await.is_empty());
    assert_eq!(h.count("SELECT flags::bigint FROM meter_readings").await, 0);
    h.stop().await;
}

#[tokio::test]
async fn another_value_for_a_stored_instant_keeps_the_first_flags_it_and_stores_the_conflict() {
    let mut h = Harness::start().await;
    h.meter("A400", "0000a400").await;
    let topic = h.own_topic();
    let at = recent(1);
    h.send(&topic, &[single("A400", &at, 500)], 1).await;
    h.send(&topic, &[single("A400", &at, 999)], 1).await;
    assert_eq!(
        h.count("SELECT volume_litres FROM meter_readings").await,
        500
    );
    assert_eq!(
        h.count("SELECT flags::bigint FROM meter_readings").await,
        i64::from(ReadingFlags::CONFLICT)
    );
    assert_eq!(h.reasons().await, ["conflicting_duplicate"]);
    let detail: String = sqlx::query_scalar("SELECT detail FROM ingest_rejections")
        .fetch_one(&h.db.pool)
        .await
        .unwrap();
    assert!(detail.contains("999") && detail.contains("500"), "{detail}");
    h.stop().await;
}

#[tokio::test]
async fn a_conflict_within_one_batch_keeps_the_first_value() {
    let mut h = Harness::start().await;
    h.meter("A410", "0000a410").await;
    let at = recent(1);
    let batch = json!({"readings": [
        {"serial": "A410", "at": at, "litres": 10},
        {"serial": "A410", "at": at, "litres": 10},
        {"serial": "A410", "at": at, "litres": 11},
    ]})
    .to_string();
    let topic = h.own_topic();
    h.send(&topic, &[batch], 3).await;
    assert_eq!(
        h.count("SELECT volume_litres FROM meter_readings").await,
        10
    );
    assert_eq!(h.reasons().await, ["conflicting_duplicate"]);
    h.stop().await;
}

#[tokio::test]
async fn a_late_reading_is_stored_but_never_moves_latest_back() {
    let mut h = Harness::start().await;
    let m = h.meter("A500", "0000a500").await;
    let topic = h.own_topic();
    h.send(&topic, &[single("A500", &recent(1), 2_000)], 1)
        .await;
    h.send(&topic, &[single("A500", &recent(30), 1_000)], 1)
        .await;
    assert_eq!(h.count("SELECT count(*) FROM meter_readings").await, 2);
    wait_for(
        &h,
        &format!(
            "SELECT coalesce(max(volume_litres), -1) FROM meter_latest_readings WHERE meter_id = {}",
            m.id
        ),
        2_000,
    )
    .await;
    // Even after every pending flush.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        h.count(&format!(
            "SELECT coalesce(max(volume_litres), -1) FROM meter_latest_readings WHERE meter_id = {}",
            m.id
        ))
        .await,
        2_000
    );
    h.stop().await;
}

/// Each stored reading reaches the last reading of its Warsaw day: closed days in
/// `meter_day_readings` through the writer's flush (late readings too), the open day as the
/// latest reading.
#[tokio::test]
async fn day_readings_hold_the_last_stored_reading_of_each_warsaw_day() {
    let mut h = Harness::start().await;
    let m = h.meter("A550", "0000a550").await;
    let topic = h.own_topic();
    h.send(
        &topic,
        &[
            single("A550", &recent(75), 1_000),
            single("A550", &recent(50), 1_100),
            single("A550", &recent(49), 1_150),
        ],
        3,
    )
    .await;
    h.send(
        &topic,
        &[
            single("A550", &recent(3), 1_300),
            single("A550", &recent(2), 1_320),
        ],
        2,
    )
    .await;
    // Late: older than the newest, some of them the last of their day.
    h.send(
        &topic,
        &[
            single("A550", &recent(74), 1_010),
            single("A550", &recent(26), 1_200),
            single("A550", &recent(60), 1_050),
        ],
        3,
    )
    .await;
    assert_eq!(h.count("SELECT count(*) FROM meter_readings").await, 8);
    let mismatches = format!(
        "SELECT count(*) FROM (
             SELECT DISTINCT ON (meter_id, (measured_at AT TIME ZONE 'Europe/Warsaw')::date)
                    meter_id, (measured_at AT TIME ZONE 'Europe/Warsaw')::date AS day,
                    measured_at, volume_litres
             FROM meter_readings WHERE meter_id = {id}
             ORDER BY 1, 2, measured_at DESC) r
         FULL JOIN (
             SELECT DISTINCT ON (day) meter_id, day, measured_at, volume_litres
             FROM (SELECT meter_id, day, measured_at, volume_litres FROM meter_day_readings
                   UNION ALL
                   SELECT meter_id, day, measured_at, volume_litres FROM meter_open_day_readings) x
             WHERE meter_id = {id}
             ORDER BY day, measured_at DESC) d
              USING (meter_id, day)
         WHERE r.measured_at IS DISTINCT FROM d.measured_at
            OR r.volume_litres IS DISTINCT FROM d.volume_litres",
        id = m.id
    );
    wait_for(&h, &mismatches, 0).await;
    // Every day but the open one is folded into the day table itself.
    assert!(
        h.count(&format!(
            "SELECT count(*) FROM meter_day_readings d
             WHERE meter_id = {} AND day < (SELECT day FROM meter_open_day_readings o
                                            WHERE o.meter_id = d.meter_id)",
            m.id
        ))
        .await
            >= 3
    );
    h.stop().await;
}

#[tokio::test]
async fn a_rollover_is_flagged_as_rollover_and_any_other_decrease_as_decrease() {
    let mut h = Harness::start().await;
    h.meter("A600", "0000a600").await;
    h.meter("A601", "0000a601").await;
    let topic = h.own_topic();
    h.send(
        &topic,
        &[
            single("A600", &recent(3), 99_999_900),
            single("A600", &recent(2), 120),
            single("A601", &recent(3), 50_000),
            single("A601", &recent(2), 40_000),
        ],
        4,
    )
    .await;
    let flags = |serial: &'static str| {
        let pool = h.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i32>(
                "SELECT r.flags FROM meter_readings r JOIN meters m ON m.id = r.meter_id
                 WHERE m.serial = $1 ORDER BY r.measured_at DESC LIMIT 1",
            )
            .bind(serial)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(flags("A600").await, ReadingFlags::ROLLOVER);
    assert_eq!(flags("A601").await, ReadingFlags::DECREASE);
    assert!(h.reasons().await.is_empty(), "both are stored");
    h.stop().await;
}

#[tokio::test]
async fn an_unknown_meter_is_quarantined_then_replayed_once_it_is_registered() {
    let mut h = Harness::start().await;
    let topic = h.own_topic();
    h.send(&topic, &[single("NEW-1", &recent(2), 321)], 1).await;
    assert_eq!(h.count("SELECT count(*) FROM meter_readings").await, 0);
    assert_eq!(
        h.count("SELECT count(*) FROM ingest_quarantine WHERE released_at IS NULL AND meter_ref = 'NEW-1'")
            .await,
        1
    );
    h.meter("NEW-1", "0000b001").await;
    wait_for(
        &h,
        "SELECT count(*) FROM meter_readings WHERE volume_litres = 321",
        1,
    )
    .await;
    wait_for(
        &h,
        "SELECT count(*) FROM ingest_quarantine WHERE released_at IS NULL",
        0,
    )
    .await;
    h.stop().await;
}

#[tokio::test]
async fn a_quarantined_reading_assigned_by_staff_is_replayed_into_that_meter() {
    let mut h = Harness::start().await;
    let topic = h.own_topic();
    h.send(&topic, &[single("MISTYPED-7", &recent(2), 777)], 1)
        .await;
    let meter = h.meter("REAL-7", "0000b007").await;
    let assigned = ebok_ingest::maintenance::assign(
        &h.db.pool,
        &ebok_ingest::reading::MeterRef::Serial("MISTYPED-7".into()),
        meter.id,
    )
    .await
    .unwrap();
    assert_eq!(assigned, 1);
    wait_for(
        &h,
        &format!(
            "SELECT count(*) FROM meter_readings WHERE meter_id = {} AND volume_litres = 777",
            meter.id
        ),
        1,
    )
    .await;
    h.stop().await;
}

#[tokio::test]
async fn a_leak_shown_in_many_readings_is_one_alarm_with_one_outbox_event_until_it_clears() {
    let mut h = Harness::start().await;
    let m = h.meter("A700", "0000a700").await;
    let topic = h.own_topic();
    let leak = |at: String, litres: i64| {
        json!({"serial": "A700", "at": at, "litres": litres, "alarms": ["leak"]}).to_string()
    };
    h.send(
        &topic,
        &[
            leak(recent(5), 100),
            leak(recent(4), 300),
            leak(recent(3), 500),
        ],
        3,
    )
    .await;
    assert_eq!(
        h.count(&format!("SELECT count(*) FROM meter_alarms WHERE meter_id = {} AND kind = 'leak' AND state = 'raised'", m.id)).await,
        1
    );
    assert_eq!(
        h.count("SELECT count(*) FROM outbox WHERE kind = 'meter_alarm.raised' AND payload->>'alarm' = 'leak'")
            .await,
        1
    );
    h.send(&topic, &[single("A700", &recent(2), 600)], 1).await;
    assert_eq!(
        h.count(&format!(
            "SELECT count(*) FROM meter_alarms WHERE meter_id = {} AND kind = 'leak' AND state = 'cleared'",
            m.id
        ))
        .await,
        1
    );
    assert_eq!(
        h.count("SELECT count(*) FROM outbox WHERE kind = 'meter_alarm.cleared' AND payload->>'alarm' = 'leak'")
            .await,
        1
    );
    h.stop().await;
}

#[tokio::test]
async fn hourly_flow_without_a_pause_for_a_day_raises_continuous_flow() {
    let mut h = Harness::start().await;
    let m = h.meter("A800", "0000a800").await;
    let topic = h.own_topic();
    let readings: Vec<String> = (0..=26)
        .rev()
        .map(|hours_ago| single("A800", &recent(hours_ago), (30 - hours_ago) * 12))
        .collect();
    let n = readings.len() as u64;
    h.send(&topic, &readings, n).await;
    assert_eq!(
        h.count(&format!(
            "SELECT count(*) FROM meter_alarms WHERE meter_id = {} AND kind = 'continuous_flow'",
            m.id
        ))
        .await,
        1
    );
    h.stop().await;
}

#[tokio::test]
async fn a_silent_meter_gets_no_data_and_its_next_reading_clears_it() {
    let mut h = Harness::start().await;
    let m = h.meter("A900", "0000a900").await;
    let raised = ebok_ingest::maintenance::scan_no_data(&h.db.pool, 3, Utc::now())
        .await
        .unwrap();
    assert_eq!(raised, 1, "installed in 2024, never heard from");
    assert_eq!(
        ebok_ingest::maintenance::scan_no_data(&h.db.pool, 3, Utc::now())
            .await
            .unwrap(),
        0,
        "one alarm, not one per scan"
    );
    let topic = h.own_topic();
    h.send(&topic, &[single("A900", &recent(1), 10)], 1).await;
    assert_eq!(
        h.count(&format!("SELECT count(*) FROM meter_alarms WHERE meter_id = {} AND kind = 'no_data' AND state = 'cleared'", m.id)).await,
        1
    );
    h.stop().await;
}

// ---- one test per rejection class: the stored reason is the class ----

async fn rejected_as(payload: String, topic_kind: &str, expected: &str) {
    let mut h = Harness::start().await;
    h.meter("R1", "0000c001").await;
    let topic = if topic_kind == "wmbus" {
        h.wmbus_topic("meter")
    } else {
        h.own_topic()
    };
    h.send(&topic, &[payload], 1).await;
    assert_eq!(h.reasons().await, [expected]);
    assert_eq!(h.count("SELECT count(*) FROM meter_readings").await, 0);
    let stored: (String, String) = sqlx::query_as("SELECT origin, detail FROM ingest_rejections")
        .fetch_one(&h.db.pool)
        .await
        .unwrap();
    assert_eq!(stored.0, topic, "the origin is recorded");
    assert!(!stored.1.is_empty(), "the detail explains");
    h.stop().await;
}

#[tokio::test]
async fn malformed_payload_is_rejected_with_its_reason() {
    rejected_as("{not json".into(), "own", "malformed_payload").await;
}

/// Just above `ingest.max_payload_bytes` (4 MiB) but within the broker's packet limit, which
/// leaves room for the topic: the broker delivers it, ingest rejects it for its size.
#[tokio::test]
async fn oversized_payload_is_rejected_with_its_reason() {
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat((4 << 20) + 1024));
    rejected_as(big, "own", "payload_too_large").await;
}

/// Larger than the broker's `max_packet_size`: the broker refuses it before reading it whole
/// and drops the publisher's connection (MQTT 3.1.1 has no reason code to send). Ingest never
/// sees it and keeps receiving. An MQTT 5 client learns the limit from CONNACK and does not even
/// send it.
#[tokio::test]
async fn a_publish_above_the_brokers_packet_limit_is_refused_and_ingest_keeps_receiving() {
    use rumqttc::v5::mqttbytes::v5::Packet as Packet5;
    let mut h = Harness::start().await;
    h.meter("BIG1", "0000b160").await;
    let limit = ebok_ingest::mqtt::max_packet_size(4 << 20);

    // MQTT 5: the CONNACK announces the limit.
    let (_client, mut events) = rumqttc::v5::AsyncClient::new(
        h.publisher
            .gateway
            .options_v5(&ebok_testkit::mqtt::unique("v5")),
        8,
    );
    let connack = tokio::time::timeout(Duration::from_secs(10), events.poll())
        .await
        .expect("CONNACK within 10 s")
        .expect("the gateway is accepted");
    let rumqttc::v5::Event::Incoming(Packet5::ConnAck(connack)) = connack else {
        panic!("expected CONNACK, got {connack:?}");
    };
    assert_eq!(
        connack.properties.and_then(|p| p.max_packet_size),
        Some(limit),
        "the broker announces its maximum packet size"
    );

    // MQTT 3.1.1, a client that does not know the limit: the broker hangs up.
    let mut options = h
        .publisher
        .gateway
        .options(&ebok_testkit::mqtt::unique("big"));
    options.set_max_packet_size(64 << 20, 64 << 20);
    let (big, mut big_events) = rumqttc::AsyncClient::new(options, 8);
    let payload = format!("{{\"pad\":\"{}\"}}", "x".repeat(5 << 20));
    big.publish(
        h.own_topic(),
        rumqttc::QoS::AtLeastOnce,
        false,
        payload.into_bytes(),
    )
    .await
    .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match big_events.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => return None,
                Ok(_) => {}
                Err(e) => return Some(e),
            }
        }
    })
    .await
    .expect("the broker answers within 20 s");
    assert!(ended.is_some(), "the oversized publish was acknowledged");

    // Ingest is still there, and later messages arrive.
    let topic = h.own_topic();
    h.send(&topic, &[single("BIG1", &recent(1), 77)], 1).await;
    assert_eq!(
        h.count("SELECT count(*) FROM meter_readings WHERE volume_litres = 77")
            .await,
        1
    );
    assert!(
        h.reasons().await.is_empty(),
        "ingest never saw the oversized one"
    );
    h.stop().await;
}

/// The topic says whose meter it is: another utility's meter with the same radio id is someone
/// else's, not a reason to hold the telegram as ambiguous (which the old guess across utilities
/// did).
#[tokio::test]
async fn a_wmbusmeters_telegram_belongs_to_the_utility_of_its_topic_even_if_another_has_the_radio_id()
 {
    let mut h = Harness::start().await;
    let ours = h.meter("W-ALFA", "0000d001").await;
    let other_utility = ebok_testkit::fixtures::utility(&h.db.pool, "beta").await;
    let point = ebok_testkit::fixtures::supply_point(&h.db.pool, other_utility).await;
    sqlx::query(
        "INSERT INTO meters (utility_id, serial, radio_id, channel, register_max_litres,
                             diameter_mm, supply_point_id, installed_at)
         VALUES ($1, 'W-BETA', '0000d001', 'wmbus', 99999999, 15, $2, '2024-01-01T00:00:00Z')",
    )
    .bind(other_utility)
    .bind(point)
    .execute(&h.db.pool)
    .await
    .unwrap();
    let telegram = json!({"_": "telegram", "media": "water", "meter": "iperl", "name": "k",
        "id": "0000d001", "total_m3": 12.5, "timestamp": recent(1)});
    let topic = h.wmbus_topic("kitchen");
    h.send(&topic, &[telegram.to_string()], 1).await;
    let stored: Vec<(i64, i64)> =
        sqlx::query_as("SELECT meter_id, volume_litres FROM meter_readings")
            .fetch_all(&h.db.pool)
            .await
            .unwrap();
    assert_eq!(stored, [(ours.id, 12_500)]);
    assert_eq!(h.count("SELECT count(*) FROM ingest_quarantine").await, 0);
    h.stop().await;
}

#[tokio::test]
async fn batch_over_ten_thousand_readings_is_rejected_with_its_reason() {
    let readings: Vec<_> = (0..10_001)
        .map(|i| json!({"serial": "R1", "at": recent(1), "litres": i}))
        .collect();
    rejected_as(
        json!({ "readings": readings }).to_string(),
        "own",
        "batch_too_large",
    )
    .await;
}

#[tokio::test]
async fn missing_field_is_rejected_with_its_reason() {
    rejected_as(
        json!({"serial": "R1", "litres": 5}).to_string(),
        "own",
        "missing_field",
    )
    .await;
}

#[tokio::test]
async fn non_numeric_value_is_rejected_with_its_reason() {
    rejected_as(
        json!({"serial": "R1", "at": recent(1), "litres": "dużo"}).to_string(),
        "own",
        "non_numeric_value",
    )
    .await;
}

#[tokio::test]
async fn negative_value_is_rejected_with_its_reason() {
    rejected_as(single("R1", &recent(1), -1), "own", "negative_value").await;
}

#[tokio::test]
async fn value_above_the_register_is_rejected_with_its_reason() {
    rejected_as(
        single("R1", &recent(1), 100_000_000),
        "own",
        "above_register_max",
    )
    .await;
}

#[tokio::test]
async fn future_timestamp_is_rejected_with_its_reason() {
    let future: DateTime<Utc> = Utc::now() + chrono::Duration::days(2);
    rejected_as(
        single("R1", &future.format("%Y-%m-%dT%H:%M:%SZ").to_string(), 5),
        "own",
        "future_timestamp",
    )
    .await;
}

#[tokio::test]
async fn timestamp_out_of_range_is_rejected_with_its_reason() {
    rejected_as(
        single("R1", "1970-01-01T00:00:00Z", 5),
        "own",
        "timestamp_out_of_range",
    )
    .await;
}

#[tokio::test]
async fn reading_before_installation_is_rejected_with_its_reason() {
    rejected_as(
        single("R1", "2023-06-01T00:00:00Z", 5),
        "own",
        "meter_not_installed",
    )
    .await;
}

#[tokio::test]
async fn heat_meter_telegram_is_rejected_as_not_a_water_meter() {
    let telegram = json!({"_": "telegram", "media": "heat", "meter": "multical302", "name": "x",
        "id": "0000c001", "total_energy_consumption_kwh": 1234, "timestamp": recent(1)});
    rejected_as(telegram.to_string(), "wmbus", "not_a_water_meter").await;
}

#[tokio::test]
async fn a_payload_with_nul_bytes_is_rejected_and_does_not_stall_what_follows() {
    let mut h = Harness::start().await;
    h.meter("R1", "0000c001").await;
    let topic = h.own_topic();
    let poison = String::from_utf8(b"{\"serial\":\"R1\x00\x00\",\x00 junk".to_vec()).unwrap();
    h.send(&topic, &[poison, single("R1", &recent(1), 42)], 2)
        .await;
    assert_eq!(h.reasons().await, ["malformed_payload"]);
    assert_eq!(
        h.count("SELECT count(*) FROM meter_readings WHERE volume_litres = 42")
            .await,
        1
    );
    let sample: String = sqlx::query_scalar("SELECT sample FROM ingest_rejections")
        .fetch_one(&h.db.pool)
        .await
        .unwrap();
    assert!(
        sample.contains('\u{FFFD}'),
        "NUL stored as U+FFFD: {sample:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_meter_named_by_serial_and_by_radio_id_in_one_round_resolves_to_itself() {
    let mut h = Harness::start().await;
    h.meter("A950", "0000a950").await;
    let batch = json!({"readings": [
        {"serial": "A950", "at": recent(3), "litres": 10},
        {"radio_id": "0000a950", "at": recent(2), "litres": 20},
    ]})
    .to_string();
    let topic = h.own_topic();
    h.send(&topic, &[batch], 2).await;
    assert_eq!(h.count("SELECT count(*) FROM meter_readings").await, 2);
    assert_eq!(h.count("SELECT count(*) FROM ingest_quarantine").await, 0);
    h.stop().await;
}
