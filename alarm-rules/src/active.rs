//! What is alarming a resident now, in one list: the open alarms their meters reported
//! (`ebok_readings::access::open_alarms`) and the triggers of their own rules that last now
//! ([`crate::open_triggers`]). The portal's dashboard and the app's `GET /alarms` show this
//! list, so a rule that fires is never hidden behind "no alarms". A `device_alarm` rule's trigger
//! records a meter alarm that is already on the list, so it is not listed twice.

use chrono::{DateTime, Utc};
use ebok_common::domain::AlarmKind;
use ebok_readings::access::{self, Viewer};
use serde::Serialize;
use sqlx::PgConnection;

use crate::{RuleError, open_triggers};

/// Where an alarm comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AlarmSource {
    /// The meter reported it (leak, burst, tamper …) or ingest derived it (no data).
    Meter,
    /// One of the resident's alarm rules fired.
    Rule,
}

/// One thing alarming the resident now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActiveAlarm {
    pub source: AlarmSource,
    pub meter_id: i64,
    pub meter_serial: String,
    /// What, in Polish: the alarm's name ("Wyciek wody") or the rule's description (with the
    /// resident's own label first, when the rule has one).
    pub title: String,
    /// What happened, in Polish (a rule's trigger says it; a meter alarm has nothing more).
    pub detail: Option<String>,
    /// Since when it lasts.
    #[serde(serialize_with = "ebok_common::json::instant")]
    pub since: DateTime<Utc>,
    /// The rule that fired, for `rule`.
    pub rule_id: Option<i64>,
    /// Worth waking up for: a leak, a burst, backflow, tampering (meter alarms only).
    pub urgent: bool,
}

/// The viewer's active alarms, newest first: open meter alarms (at most 20) and open rule
/// triggers (at most 50).
pub async fn active(
    conn: &mut PgConnection,
    viewer: Viewer,
) -> Result<Vec<ActiveAlarm>, RuleError> {
    let mut alarms: Vec<ActiveAlarm> = access::open_alarms(&mut *conn, viewer)
        .await?
        .into_iter()
        .map(|a| {
            let kind = AlarmKind::parse(&a.kind);
            ActiveAlarm {
                source: AlarmSource::Meter,
                meter_id: a.meter_id,
                meter_serial: a.meter_serial,
                title: ebok_common::polish::capitalized(
                    kind.map_or("alarm wodomierza", AlarmKind::name_pl),
                ),
                detail: None,
                since: a.raised_at,
                rule_id: None,
                urgent: kind.is_some_and(AlarmKind::is_urgent),
            }
        })
        .collect();
    alarms.extend(
        open_triggers(conn, viewer)
            .await?
            .into_iter()
            .filter(|t| t.meter_alarm_id.is_none())
            .map(|t| ActiveAlarm {
                source: AlarmSource::Rule,
                meter_id: t.meter_id,
                meter_serial: t.meter_serial,
                title: match &t.rule_label {
                    Some(label) => {
                        format!("{label}: {}", ebok_common::polish::uncapitalized(&t.rule))
                    }
                    None => t.rule,
                },
                detail: Some(t.detail),
                since: t.started_at,
                rule_id: Some(t.rule_id),
                urgent: false,
            }),
    );
    alarms.sort_by_key(|a| std::cmp::Reverse(a.since));
    Ok(alarms)
}
