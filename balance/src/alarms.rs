//! Night-flow alarms: [`crate::night::next_step`] walked over each zone's stored nights, an
//! alarm raised into `zone_alarms` and announced through the outbox (`zone_alarm.raised`) in
//! the same transaction, and cleared when the zone's nights are back to normal.
//!
//! **Who is told.** The staff named for the zone or for any zone it lies in
//! (`network_zone_staff`), or the utility's admins when nobody is named.
//!
//! **Idempotent.** Each round walks only the nights after the zone's last alarm was raised or
//! cleared, and a zone has one open alarm at most (a unique index), so computing the same
//! nights again, or two processes doing it at once, raises nothing twice.

use chrono::{Days, NaiveDate};
use ebok_common::outbox::{self, Addressee, Event, OutboxEvent, ZoneAlarm};
use sqlx::PgConnection;

use crate::night::{NightRule, Step, next_step};

/// What one [`evaluate`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Evaluated {
    pub raised: u64,
    pub cleared: u64,
}

/// Walks the nights of `from ..= to` of every zone of the utility with night flows.
pub async fn evaluate(
    conn: &mut PgConnection,
    utility_id: i64,
    rule: &NightRule,
    from: NaiveDate,
    to: NaiveDate,
) -> sqlx::Result<Evaluated> {
    let mut done = Evaluated::default();
    let history = (rule.baseline_nights + rule.nights) as u64;
    let zones = sqlx::query!(
        r#"SELECT DISTINCT n.zone_id, z.name
           FROM zone_nights n JOIN network_zones z ON z.id = n.zone_id
           WHERE n.utility_id = $1 AND n.day BETWEEN $2 AND $3
           ORDER BY n.zone_id"#,
        utility_id,
        from,
        to
    )
    .fetch_all(&mut *conn)
    .await?;
    for zone in zones {
        // Serialises with another process walking the same zone.
        sqlx::query!(
            "SELECT id FROM network_zones WHERE id = $1 FOR UPDATE",
            zone.zone_id
        )
        .fetch_one(&mut *conn)
        .await?;
        let last = sqlx::query!(
            r#"SELECT id, raised_on, cleared_on, threshold_litres_per_hour
               FROM zone_alarms WHERE zone_id = $1
               ORDER BY raised_on DESC, id DESC LIMIT 1"#,
            zone.zone_id
        )
        .fetch_optional(&mut *conn)
        .await?;
        let mut open = last
            .as_ref()
            .filter(|a| a.cleared_on.is_none())
            .map(|a| (a.id, a.threshold_litres_per_hour));
        let walked_until = last.as_ref().map(|a| a.cleared_on.unwrap_or(a.raised_on));
        let start = walked_until.map_or(from, |d| from.max(d + Days::new(1)));
        if start > to {
            continue;
        }
        let first = start - Days::new(history);
        let stored = sqlx::query!(
            r#"SELECT day, min_litres_per_hour FROM zone_nights
               WHERE zone_id = $1 AND day BETWEEN $2 AND $3 ORDER BY day"#,
            zone.zone_id,
            first,
            to
        )
        .fetch_all(&mut *conn)
        .await?;
        // One entry per day, a missing night unknown.
        let mut nights: Vec<(NaiveDate, Option<i64>)> = Vec::new();
        let mut rows = stored.into_iter().peekable();
        let mut day = first;
        while day <= to {
            let value = rows
                .next_if(|r| r.day == day)
                .and_then(|r| r.min_litres_per_hour);
            nights.push((day, value));
            day = day + Days::new(1);
        }
        let from_index = (start - first).num_days() as usize;
        for i in from_index..nights.len() {
            let night = nights[i].0;
            match next_step(&nights, i, open.map(|(_, threshold)| threshold), rule) {
                Step::Stay => {}
                Step::Clear => {
                    let (id, _) = open.take().expect("cleared an open alarm");
                    sqlx::query!(
                        "UPDATE zone_alarms SET cleared_on = $2 WHERE id = $1",
                        id,
                        night
                    )
                    .execute(&mut *conn)
                    .await?;
                    done.cleared += 1;
                }
                Step::Raise {
                    first_night,
                    baseline,
                    threshold,
                    observed,
                } => {
                    let id = sqlx::query_scalar!(
                        r#"INSERT INTO zone_alarms
                               (utility_id, zone_id, first_night, raised_on,
                                baseline_litres_per_hour, threshold_litres_per_hour,
                                observed_litres_per_hour)
                           VALUES ($1, $2, $3, $4, $5, $6, $7)
                           RETURNING id"#,
                        utility_id,
                        zone.zone_id,
                        first_night,
                        night,
                        baseline,
                        threshold,
                        observed,
                    )
                    .fetch_one(&mut *conn)
                    .await?;
                    let alarm = ZoneAlarm {
                        alarm_id: id,
                        zone_id: zone.zone_id,
                        zone_name: zone.name.clone(),
                        first_night,
                        baseline_litres_per_hour: baseline,
                        observed_litres_per_hour: observed,
                    };
                    for account in zone_staff(conn, utility_id, zone.zone_id).await? {
                        outbox::enqueue(
                            conn,
                            &OutboxEvent {
                                utility_id,
                                event: Event::ZoneAlarmRaised(alarm.clone()),
                                to: Addressee::Account(account),
                                dedup_key: Some(format!("zone_alarm:{id}:{account}")),
                            },
                        )
                        .await?;
                    }
                    open = Some((id, threshold));
                    done.raised += 1;
                }
            }
        }
    }
    Ok(done)
}

/// The active staff named for the zone or a zone it lies in; the utility's admins when none.
pub async fn zone_staff(
    conn: &mut PgConnection,
    utility_id: i64,
    zone_id: i64,
) -> sqlx::Result<Vec<i64>> {
    let named = sqlx::query_scalar!(
        r#"WITH RECURSIVE up (id, parent_id) AS (
               SELECT id, parent_id FROM network_zones WHERE id = $2 AND utility_id = $1
               UNION
               SELECT z.id, z.parent_id FROM network_zones z JOIN up ON z.id = up.parent_id)
           SELECT DISTINCT s.account_id
           FROM network_zone_staff s
           JOIN up ON up.id = s.zone_id
           JOIN user_accounts a ON a.id = s.account_id
           WHERE a.status = 'active' AND a.role <> 'resident'
           ORDER BY s.account_id"#,
        utility_id,
        zone_id
    )
    .fetch_all(&mut *conn)
    .await?;
    if !named.is_empty() {
        return Ok(named);
    }
    sqlx::query_scalar!(
        r#"SELECT id FROM user_accounts
           WHERE utility_id = $1 AND role = 'admin' AND status = 'active' ORDER BY id"#,
        utility_id
    )
    .fetch_all(conn)
    .await
}
