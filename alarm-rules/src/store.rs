//! Residents' alarm rules in the database: create, list, get, delete, switch on and off, and the
//! history of what they triggered. Every function is scoped by a [`Viewer`]: a rule can only be
//! set on a meter the account may see ([`RuleError::MeterNotFound`] otherwise), and another
//! account's rule is [`RuleError::NotFound`], exactly as one that does not exist. Changes are
//! written to the audit log (actor: the resident) in the same transaction.
//!
//! Every function takes a connection; a change runs in a transaction of its own (a savepoint
//! when the caller already has one open).

use chrono::{DateTime, Utc};
use ebok_common::audit::{self, Actor, AuditEntry};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{Connection, PgConnection};

use crate::{RuleError, RuleKind, describe};
use ebok_readings::access::Viewer;

/// How many rules one account may have.
pub const MAX_RULES_PER_ACCOUNT: i64 = 50;

/// Longest label, in characters.
const MAX_LABEL_CHARS: usize = 100;

/// A rule to create. As JSON: `{"meter_id": 7, "kind": "daily_above", "litres": 500,
/// "label": "Mieszkanie"}` (the kind's fields sit beside the others).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewRule {
    pub meter_id: i64,
    #[serde(flatten)]
    pub kind: RuleKind,
    /// The resident's own name for it, up to 100 characters without control characters;
    /// blank means none.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")
    )]
    pub label: Option<String>,
}

/// A rule as its resident sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rule {
    pub id: i64,
    pub meter_id: i64,
    pub meter_serial: String,
    #[serde(flatten)]
    pub kind: RuleKind,
    pub label: Option<String>,
    /// [`describe`] of the kind, Polish.
    pub description: String,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    /// The condition is true now: since when (the start of the open episode).
    pub active_since: Option<DateTime<Utc>>,
    /// When it last triggered.
    pub last_triggered_at: Option<DateTime<Utc>>,
}

/// One episode a rule recorded: the resident's alarm history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Trigger {
    pub id: i64,
    pub rule_id: i64,
    pub meter_id: i64,
    pub meter_serial: String,
    /// The rule's description, Polish.
    pub rule: String,
    pub rule_label: Option<String>,
    /// When the condition began, as far as the readings show.
    pub since: DateTime<Utc>,
    /// The reading (or meter alarm) that made it true.
    pub started_at: DateTime<Utc>,
    /// When it cleared; `None` while it lasts.
    pub ended_at: Option<DateTime<Utc>>,
    /// Litres used that day / during the flow, or the still register value.
    pub litres: Option<i64>,
    /// What happened, Polish.
    pub detail: String,
    /// The meter alarm a `device_alarm` rule recorded.
    pub meter_alarm_id: Option<i64>,
    /// A notice was sent (every kind but `device_alarm`, whose notice ingest sends).
    pub notified: bool,
    /// The rule has been deleted since (its history stays).
    pub rule_deleted: bool,
}

/// Creates a rule on a meter the viewer may see.
pub async fn create(
    conn: &mut PgConnection,
    viewer: Viewer,
    new: &NewRule,
    request_id: Option<&str>,
) -> Result<Rule, RuleError> {
    let kind = new.kind.validate()?;
    let label = normalise_label(new.label.as_deref())?;
    let (litres, hours, days) = kind.columns();
    let mut tx = conn.begin().await?;
    let meter = sqlx::query!(
        r#"SELECT m.channel::text AS "channel!", m.removed_at,
                  am.last_day IS NULL OR am.last_day >= (now() AT TIME ZONE 'Europe/Warsaw')::date
                    AS "current!"
           FROM meters m
           JOIN account_meter_windows am
             ON am.account_id = $3 AND am.utility_id = $2 AND am.meter_id = m.id
           WHERE m.id = $1 AND m.utility_id = $2"#,
        new.meter_id,
        viewer.utility_id,
        viewer.account_id,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(RuleError::MeterNotFound)?;
    if !meter.current {
        return Err(contract_ended());
    }
    if meter.removed_at.is_some() {
        return Err(RuleError::Invalid {
            field: "meter_id",
            detail: "Ten wodomierz został zdjęty lub wymieniony. Ustaw alarm dla wodomierza, \
                     który jest teraz zamontowany."
                .into(),
        });
    }
    if meter.channel == "manual" {
        return Err(RuleError::Invalid {
            field: "meter_id",
            detail: "Ten wodomierz jest odczytywany ręcznie, więc alarmów nie da się dla niego \
                     sprawdzać. Alarmy działają dla wodomierzy z odczytem zdalnym."
                .into(),
        });
    }
    if let RuleKind::ContinuousFlow { .. } = kind
        && let Some(hours) = reading_interval_hours(&mut tx, new.meter_id).await?
        && hours > MAX_FLOW_INTERVAL_HOURS
    {
        return Err(RuleError::Invalid {
            field: "kind",
            detail: format!(
                "Ten wodomierz przesyła odczyt średnio co {} h, a ciągły przepływ da się \
                 wykryć tylko z odczytów co godzinę. Wybierz „zużycie dobowe powyżej” albo \
                 „brak zużycia”.",
                hours.round() as i64
            ),
        });
    }
    // Serialises creations of one account, so two at once cannot pass the limit together.
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('resident_alarm_rules:' || $1::bigint, 0))",
        viewer.account_id
    )
    .execute(&mut *tx)
    .await?;
    let existing = sqlx::query!(
        r#"SELECT count(*) AS "count!",
                  count(*) FILTER (WHERE meter_id = $3 AND kind = $4::text::resident_alarm_kind
                                     AND litres IS NOT DISTINCT FROM $5
                                     AND hours IS NOT DISTINCT FROM $6
                                     AND days IS NOT DISTINCT FROM $7) AS "same!"
           FROM resident_alarm_rules
           WHERE account_id = $1 AND utility_id = $2 AND deleted_at IS NULL"#,
        viewer.account_id,
        viewer.utility_id,
        new.meter_id,
        kind.as_str(),
        litres,
        hours,
        days,
    )
    .fetch_one(&mut *tx)
    .await?;
    if existing.same > 0 {
        return Err(RuleError::Invalid {
            field: "kind",
            detail: "Taki alarm dla tego wodomierza już istnieje.".into(),
        });
    }
    if existing.count >= MAX_RULES_PER_ACCOUNT {
        return Err(RuleError::TooMany);
    }
    let id = sqlx::query_scalar!(
        r#"INSERT INTO resident_alarm_rules
               (utility_id, account_id, meter_id, kind, litres, hours, days, label)
           VALUES ($1, $2, $3, $4::text::resident_alarm_kind, $5, $6, $7, $8)
           RETURNING id"#,
        viewer.utility_id,
        viewer.account_id,
        new.meter_id,
        kind.as_str(),
        litres,
        hours,
        days,
        label,
    )
    .fetch_one(&mut *tx)
    .await?;
    audit_rule(
        &mut tx,
        viewer,
        "resident_alarm_rule.created",
        id,
        json!({ "meter_id": new.meter_id, "condition": kind, "label": label }),
        request_id,
    )
    .await?;
    let rule = get(&mut tx, viewer, id).await?;
    tx.commit().await?;
    Ok(rule)
}

/// The viewer's rules, oldest first.
pub async fn list(conn: &mut PgConnection, viewer: Viewer) -> Result<Vec<Rule>, RuleError> {
    fetch_rules(conn, viewer, None).await
}

/// One of the viewer's rules.
pub async fn get(conn: &mut PgConnection, viewer: Viewer, rule_id: i64) -> Result<Rule, RuleError> {
    fetch_rules(conn, viewer, Some(rule_id))
        .await?
        .pop()
        .ok_or(RuleError::NotFound)
}

/// Deletes one of the viewer's rules: it is gone from the rules and never evaluated again; its
/// open episode ends, and its history stays (the notices it sent stay in the inbox, so the
/// triggers that explain them stay in the alarm history, marked as a deleted rule's).
pub async fn delete(
    conn: &mut PgConnection,
    viewer: Viewer,
    rule_id: i64,
    request_id: Option<&str>,
) -> Result<(), RuleError> {
    let mut tx = conn.begin().await?;
    let deleted = sqlx::query!(
        r#"UPDATE resident_alarm_rules SET deleted_at = now(), enabled = false
           WHERE id = $1 AND account_id = $2 AND utility_id = $3 AND deleted_at IS NULL
           RETURNING meter_id, kind::text AS "kind!""#,
        rule_id,
        viewer.account_id,
        viewer.utility_id,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(RuleError::NotFound)?;
    end_open_episode(&mut tx, rule_id).await?;
    audit_rule(
        &mut tx,
        viewer,
        "resident_alarm_rule.deleted",
        rule_id,
        json!({ "meter_id": deleted.meter_id, "kind": deleted.kind }),
        request_id,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Switches one of the viewer's rules on or off. Switching off ends its open episode; switching
/// on evaluates it afresh at the evaluator's next step (an episode already recorded, e.g. today
/// for `daily_above`, is not announced again). Unchanged: nothing is written.
pub async fn set_enabled(
    conn: &mut PgConnection,
    viewer: Viewer,
    rule_id: i64,
    enabled: bool,
    request_id: Option<&str>,
) -> Result<Rule, RuleError> {
    let mut tx = conn.begin().await?;
    let current = sqlx::query!(
        r#"SELECT enabled, meter_id FROM resident_alarm_rules
           WHERE id = $1 AND account_id = $2 AND utility_id = $3 AND deleted_at IS NULL
           FOR UPDATE"#,
        rule_id,
        viewer.account_id,
        viewer.utility_id,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(RuleError::NotFound)?;
    if current.enabled != enabled {
        if enabled {
            let window = sqlx::query_scalar!(
                r#"SELECT last_day IS NULL
                          OR last_day >= (now() AT TIME ZONE 'Europe/Warsaw')::date AS "current!"
                   FROM account_meter_windows
                   WHERE account_id = $1 AND utility_id = $2 AND meter_id = $3"#,
                viewer.account_id,
                viewer.utility_id,
                current.meter_id,
            )
            .fetch_optional(&mut *tx)
            .await?;
            match window {
                None => return Err(RuleError::MeterNotFound),
                Some(false) => return Err(contract_ended()),
                Some(true) => {}
            }
        }
        sqlx::query!(
            r#"UPDATE resident_alarm_rules
               SET enabled = $2, evaluated_through = NULL, evaluated_at = NULL
               WHERE id = $1"#,
            rule_id,
            enabled,
        )
        .execute(&mut *tx)
        .await?;
        if !enabled {
            end_open_episode(&mut tx, rule_id).await?;
        }
        let action = if enabled {
            "resident_alarm_rule.enabled"
        } else {
            "resident_alarm_rule.disabled"
        };
        audit_rule(&mut tx, viewer, action, rule_id, json!({}), request_id).await?;
    }
    let rule = get(&mut tx, viewer, rule_id).await?;
    tx.commit().await?;
    Ok(rule)
}

/// The viewer's alarm history, newest first: of one rule (`NotFound` if it is not theirs) or of
/// all their rules. `limit` is clamped to 1..=500. Only what began within the viewer's contract
/// window, and nothing of a meter the viewer no longer sees at all (an account unlinked from
/// the customer): a contract ended after the fact (staff enter a move-out late) hides what the
/// evaluator recorded for the days after it.
pub async fn triggers(
    conn: &mut PgConnection,
    viewer: Viewer,
    rule_id: Option<i64>,
    limit: i64,
) -> Result<Vec<Trigger>, RuleError> {
    fetch_triggers(conn, viewer, rule_id, false, limit).await
}

/// The triggers of the viewer's rules that last now (not ended), on meters whose contract
/// window is open today; newest first, at most 50.
pub async fn open_triggers(
    conn: &mut PgConnection,
    viewer: Viewer,
) -> Result<Vec<Trigger>, RuleError> {
    fetch_triggers(conn, viewer, None, true, 50).await
}

async fn fetch_triggers(
    conn: &mut PgConnection,
    viewer: Viewer,
    rule_id: Option<i64>,
    open_only: bool,
    limit: i64,
) -> Result<Vec<Trigger>, RuleError> {
    if let Some(rule_id) = rule_id {
        let mine = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM resident_alarm_rules
                              WHERE id = $1 AND account_id = $2 AND utility_id = $3) AS "ok!""#,
            rule_id,
            viewer.account_id,
            viewer.utility_id,
        )
        .fetch_one(&mut *conn)
        .await?;
        if !mine {
            return Err(RuleError::NotFound);
        }
    }
    let rows = sqlx::query!(
        r#"SELECT t.id, t.rule_id, r.meter_id, m.serial, r.kind::text AS "kind!", r.litres,
                  r.hours, r.days, r.label, t.since, t.started_at, t.ended_at,
                  t.litres AS trigger_litres, t.detail, t.meter_alarm_id, t.outbox_id,
                  r.deleted_at IS NOT NULL AS "rule_deleted!"
           FROM resident_alarm_triggers t
           JOIN resident_alarm_rules r ON r.utility_id = t.utility_id AND r.id = t.rule_id
           JOIN meters m ON m.id = r.meter_id
           WHERE r.account_id = $1 AND r.utility_id = $2
             AND ($3::bigint IS NULL OR r.id = $3)
             AND EXISTS (SELECT 1 FROM account_meter_windows w
                         WHERE w.account_id = r.account_id AND w.meter_id = r.meter_id
                           AND (w.last_day IS NULL
                                OR t.started_at
                                   < (w.last_day + 1)::timestamp AT TIME ZONE 'Europe/Warsaw')
                           AND (NOT $5
                                OR w.last_day IS NULL
                                OR w.last_day >= (now() AT TIME ZONE 'Europe/Warsaw')::date))
             AND (NOT $5 OR t.ended_at IS NULL)
           ORDER BY t.started_at DESC, t.id DESC
           LIMIT $4"#,
        viewer.account_id,
        viewer.utility_id,
        rule_id,
        limit.clamp(1, 500),
        open_only,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            let kind = kind_of(&row.kind, row.litres, row.hours, row.days)?;
            Ok(Trigger {
                id: row.id,
                rule_id: row.rule_id,
                meter_id: row.meter_id,
                meter_serial: row.serial,
                rule: describe(&kind),
                rule_label: row.label,
                since: row.since,
                started_at: row.started_at,
                ended_at: row.ended_at,
                litres: row.trigger_litres,
                detail: row.detail,
                meter_alarm_id: row.meter_alarm_id,
                notified: row.outbox_id.is_some(),
                rule_deleted: row.rule_deleted,
            })
        })
        .collect()
}

/// The longest average interval between a meter's readings at which a `continuous_flow` rule
/// can work (the condition needs readings at most about an hour apart; gaps are allowed).
const MAX_FLOW_INTERVAL_HOURS: f64 = 2.0;

/// The meter's average interval between readings over the last week, in hours; `None` with
/// fewer than two readings (a new meter: the rule is given the benefit of the doubt).
async fn reading_interval_hours(
    conn: &mut PgConnection,
    meter_id: i64,
) -> sqlx::Result<Option<f64>> {
    let row = sqlx::query!(
        r#"SELECT count(*) AS "readings!", min(measured_at) AS first, max(measured_at) AS last
           FROM meter_readings
           WHERE meter_id = $1 AND measured_at > now() - interval '7 days'"#,
        meter_id
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(match (row.first, row.last) {
        (Some(first), Some(last)) if row.readings >= 2 => {
            Some((last - first).num_seconds() as f64 / 3600.0 / (row.readings - 1) as f64)
        }
        _ => None,
    })
}

/// Ends the rule's open episode now (switched off or deleted).
async fn end_open_episode(conn: &mut PgConnection, rule_id: i64) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE resident_alarm_triggers SET ended_at = greatest(now(), started_at)
           WHERE rule_id = $1 AND ended_at IS NULL"#,
        rule_id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn fetch_rules(
    conn: &mut PgConnection,
    viewer: Viewer,
    rule_id: Option<i64>,
) -> Result<Vec<Rule>, RuleError> {
    let rows = sqlx::query!(
        r#"SELECT r.id, r.meter_id, m.serial, r.kind::text AS "kind!", r.litres, r.hours, r.days,
                  r.label, r.enabled, r.created_at,
                  (SELECT min(t.started_at) FROM resident_alarm_triggers t
                   WHERE t.rule_id = r.id AND t.ended_at IS NULL AND t.started_at < e.until)
                    AS active_since,
                  (SELECT max(t.started_at) FROM resident_alarm_triggers t
                   WHERE t.rule_id = r.id AND t.started_at < e.until) AS last_triggered_at
           FROM resident_alarm_rules r
           JOIN meters m ON m.id = r.meter_id
           LEFT JOIN account_meter_windows w
             ON w.account_id = r.account_id AND w.utility_id = r.utility_id
            AND w.meter_id = r.meter_id
           CROSS JOIN LATERAL (
               SELECT CASE WHEN w.account_id IS NULL THEN '-infinity'::timestamptz
                           ELSE coalesce((w.last_day + 1)::timestamp AT TIME ZONE 'Europe/Warsaw',
                                         'infinity')
                      END AS until) e
           WHERE r.account_id = $1 AND r.utility_id = $2 AND ($3::bigint IS NULL OR r.id = $3)
             AND r.deleted_at IS NULL
           ORDER BY r.created_at, r.id"#,
        viewer.account_id,
        viewer.utility_id,
        rule_id,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            let kind = kind_of(&row.kind, row.litres, row.hours, row.days)?;
            Ok(Rule {
                id: row.id,
                meter_id: row.meter_id,
                meter_serial: row.serial,
                description: describe(&kind),
                kind,
                label: row.label,
                enabled: row.enabled,
                created_at: row.created_at,
                active_since: row.active_since,
                last_triggered_at: row.last_triggered_at,
            })
        })
        .collect()
}

/// Why a rule cannot be set or switched on for a meter the viewer saw only under a contract that
/// has ended: the meter's water is the next household's now.
fn contract_ended() -> RuleError {
    RuleError::Invalid {
        field: "meter_id",
        detail: "Umowa na punkt, w którym stoi ten wodomierz, już nie obowiązuje – nie można \
                 ustawić dla niego alarmu."
            .into(),
    }
}

/// The kind from its columns (the table's CHECK makes them fit).
pub(super) fn kind_of(
    kind: &str,
    litres: Option<i64>,
    hours: Option<i32>,
    days: Option<i32>,
) -> Result<RuleKind, RuleError> {
    RuleKind::from_columns(kind, litres, hours, days).ok_or_else(|| {
        RuleError::Db(sqlx::Error::Decode(
            format!("resident_alarm_rules: kind {kind} with litres {litres:?}, hours {hours:?}, days {days:?}").into(),
        ))
    })
}

fn normalise_label(label: Option<&str>) -> Result<Option<String>, RuleError> {
    let Some(label) = label.map(str::trim).filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(RuleError::Invalid {
            field: "label",
            detail: format!("Nazwa alarmu może mieć najwyżej {MAX_LABEL_CHARS} znaków."),
        });
    }
    if label.chars().any(char::is_control) {
        return Err(RuleError::Invalid {
            field: "label",
            detail: "Nazwa alarmu nie może zawierać znaków sterujących.".into(),
        });
    }
    Ok(Some(label.to_string()))
}

async fn audit_rule(
    conn: &mut PgConnection,
    viewer: Viewer,
    action: &str,
    rule_id: i64,
    details: serde_json::Value,
    request_id: Option<&str>,
) -> sqlx::Result<i64> {
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(viewer.utility_id),
            actor: Actor::Resident {
                account_id: viewer.account_id,
            },
            action,
            entity_type: Some("resident_alarm_rule"),
            entity_id: Some(rule_id.to_string()),
            details,
            request_id,
        },
    )
    .await
}

/// Erases every rule of an account with what the rules recorded, when the account is closed
/// (GDPR art. 17): their history is the resident's, not the utility's record. An evaluation in
/// flight holds its rule; this waits for it, and its event is then erased with the account's
/// other events (`mobile_push::inbox::erase_account`).
pub async fn erase_account(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM resident_alarm_triggers WHERE utility_id = $1 AND rule_id IN
             (SELECT id FROM resident_alarm_rules WHERE utility_id = $1 AND account_id = $2)",
        utility_id,
        account_id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "DELETE FROM resident_alarm_rules WHERE utility_id = $1 AND account_id = $2",
        utility_id,
        account_id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_rule_json_puts_the_condition_beside_the_meter() {
        let new: NewRule = serde_json::from_str(
            r#"{"meter_id": 7, "kind": "continuous_flow", "hours": 6, "label": "Dom"}"#,
        )
        .unwrap();
        assert_eq!(
            new,
            NewRule {
                meter_id: 7,
                kind: RuleKind::ContinuousFlow { hours: 6 },
                label: Some("Dom".into())
            }
        );
        let new: NewRule =
            serde_json::from_str(r#"{"meter_id": 7, "kind": "device_alarm"}"#).unwrap();
        assert_eq!(new.label, None);
    }

    #[test]
    fn blank_labels_are_none_and_long_ones_name_the_field() {
        assert_eq!(normalise_label(Some("  ")).unwrap(), None);
        assert_eq!(
            normalise_label(Some(" Mama ")).unwrap(),
            Some("Mama".into())
        );
        let long = "ż".repeat(101);
        assert!(matches!(
            normalise_label(Some(&long)),
            Err(RuleError::Invalid { field: "label", .. })
        ));
    }
}
