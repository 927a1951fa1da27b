//! Storing meter alarm transitions. Each raise and clear writes its outbox event on the same
//! connection, inside the caller's transaction, so a notification exists exactly when the alarm
//! change does. The event goes to the customer holding the active contract at the meter's supply
//! point; a meter without one is announced to the utility's staff.

use chrono::{DateTime, Utc};
use ebok_common::outbox::{self, Addressee, Event, MeterAlarm, OutboxEvent};
use serde_json::json;
use sqlx::PgConnection;

use crate::alarms::AlarmKind;

/// Raises an alarm unless one of its kind is already open for the meter. Returns the new
/// alarm's id.
pub async fn raise(
    conn: &mut PgConnection,
    utility_id: i64,
    meter_id: i64,
    kind: AlarmKind,
    at: DateTime<Utc>,
    details: serde_json::Value,
) -> sqlx::Result<Option<i64>> {
    let id = sqlx::query_scalar!(
        r#"INSERT INTO meter_alarms (utility_id, meter_id, kind, raised_at, details)
           VALUES ($1, $2, $3::text::meter_alarm_kind, $4, $5)
           ON CONFLICT (meter_id, kind) WHERE state <> 'cleared' DO NOTHING
           RETURNING id"#,
        utility_id,
        meter_id,
        kind.as_str(),
        at,
        details,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = id {
        announce(conn, utility_id, meter_id, id, kind, "raised", at).await?;
    }
    Ok(id)
}

/// Clears the meter's open alarm of this kind, if any. Returns its id.
pub async fn clear(
    conn: &mut PgConnection,
    utility_id: i64,
    meter_id: i64,
    kind: AlarmKind,
    at: DateTime<Utc>,
) -> sqlx::Result<Option<i64>> {
    let id = sqlx::query_scalar!(
        r#"UPDATE meter_alarms SET state = 'cleared', cleared_at = greatest($3, raised_at)
           WHERE meter_id = $1 AND kind = $2::text::meter_alarm_kind AND state <> 'cleared'
           RETURNING id"#,
        meter_id,
        kind.as_str(),
        at,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = id {
        announce(conn, utility_id, meter_id, id, kind, "cleared", at).await?;
    }
    Ok(id)
}

/// Clears "no data" for meters that just sent a reading after being silent: one statement for
/// all of them (the alarm is rare, the candidates after a restart are many).
pub async fn clear_no_data(
    conn: &mut PgConnection,
    meters: &[(i64, i64, DateTime<Utc>)],
) -> sqlx::Result<()> {
    let ids: Vec<i64> = meters.iter().map(|m| m.1).collect();
    let ats: Vec<DateTime<Utc>> = meters.iter().map(|m| m.2).collect();
    let cleared = sqlx::query!(
        r#"UPDATE meter_alarms a SET state = 'cleared', cleared_at = greatest(k.t, a.raised_at)
           FROM unnest($1::bigint[], $2::timestamptz[]) AS k(m, t)
           WHERE a.meter_id = k.m AND a.kind = 'no_data' AND a.state <> 'cleared'
           RETURNING a.id, a.utility_id, a.meter_id, a.cleared_at AS "cleared_at!""#,
        &ids,
        &ats
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in cleared {
        announce(
            conn,
            row.utility_id,
            row.meter_id,
            row.id,
            AlarmKind::NoData,
            "cleared",
            row.cleared_at,
        )
        .await?;
    }
    Ok(())
}

async fn announce(
    conn: &mut PgConnection,
    utility_id: i64,
    meter_id: i64,
    alarm_id: i64,
    kind: AlarmKind,
    change: &'static str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let customer = sqlx::query_scalar!(
        r#"SELECT c.customer_id
           FROM meters m
           JOIN contracts c ON c.utility_id = m.utility_id AND c.supply_point_id = m.supply_point_id
           WHERE m.id = $1 AND c.status = 'active'
             AND c.valid_from <= ($2 AT TIME ZONE 'Europe/Warsaw')::date
             AND (c.valid_until IS NULL OR c.valid_until >= ($2 AT TIME ZONE 'Europe/Warsaw')::date)
           LIMIT 1"#,
        meter_id,
        at,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let alarm = MeterAlarm {
        alarm_id,
        meter_id,
        alarm: kind,
        at,
    };
    let event = OutboxEvent {
        utility_id,
        event: if change == "raised" {
            Event::MeterAlarmRaised(alarm)
        } else {
            Event::MeterAlarmCleared(alarm)
        },
        to: match customer {
            Some(customer_id) => Addressee::Customer(customer_id),
            None => Addressee::Audience(json!({ "staff_of_utility": utility_id })),
        },
        dedup_key: Some(format!("meter_alarm:{alarm_id}:{change}")),
    };
    outbox::enqueue(conn, &event).await?;
    Ok(())
}
