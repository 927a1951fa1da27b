//! Meter alarms as staff handle them: the utility's alarms with filters ([`list`]),
//! acknowledging one ("we know, someone is on it") and clearing one with a note ([`handle`]).
//! Ingest raises alarms and clears them by itself when the condition is gone; a staff member
//! clears one that ingest cannot (a leak fixed, a meter taken off), and the note says why.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::staff::ByStaff;

/// Alarms of one list at most.
pub const LIST_LIMIT: i64 = 200;

/// The kinds of meter alarm, as the database names them.
pub const KINDS: [&str; 9] = [
    "leak",
    "burst",
    "backflow",
    "tamper",
    "dry",
    "low_battery",
    "device_error",
    "no_data",
    "continuous_flow",
];

/// Which alarms to list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct AlarmFilter {
    /// One kind (`leak`, `burst`, `backflow`, `tamper`, `dry`, `low_battery`, `device_error`,
    /// `no_data`, `continuous_flow`); all when absent.
    pub kind: Option<String>,
    /// `open` (default: raised or acknowledged), `raised`, `acknowledged`, `cleared` or `all`.
    pub state: Option<String>,
}

impl AlarmFilter {
    /// The filter checked: `(kind, states)`.
    fn parse(&self) -> Result<(Option<&str>, &'static [&'static str]), ApiError> {
        let kind = match self.kind.as_deref().filter(|k| !k.is_empty()) {
            Some(k) if KINDS.contains(&k) => Some(k),
            Some(_) => return Err(ApiError::invalid("kind", "Nieznany rodzaj alarmu.")),
            None => None,
        };
        let states: &'static [&'static str] = match self.state.as_deref().unwrap_or("open") {
            "" | "open" => &["raised", "acknowledged"],
            "raised" => &["raised"],
            "acknowledged" => &["acknowledged"],
            "cleared" => &["cleared"],
            "all" => &["raised", "acknowledged", "cleared"],
            _ => return Err(ApiError::invalid("state", "Nieznany stan alarmu.")),
        };
        Ok((kind, states))
    }
}

/// One alarm in the list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlarmItem {
    pub id: i64,
    pub kind: String,
    /// `raised`, `acknowledged` or `cleared`.
    pub state: String,
    pub raised_at: DateTime<Utc>,
    pub meter_id: i64,
    pub meter_serial: String,
    /// Where the meter stands, as Poles write it.
    pub address: Option<String>,
    /// The customer of the point's newest signed contract.
    pub customer_id: Option<i64>,
    pub customer_name: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_note: Option<String>,
    pub cleared_at: Option<DateTime<Utc>>,
    pub cleared_by: Option<String>,
    pub cleared_note: Option<String>,
}

/// The utility's alarms matching `filter`, newest first.
pub async fn list(
    pool: &PgPool,
    utility_id: i64,
    filter: &AlarmFilter,
) -> Result<Vec<AlarmItem>, ApiError> {
    let (kind, states) = filter.parse()?;
    let states: Vec<String> = states.iter().map(|s| s.to_string()).collect();
    Ok(sqlx::query_as!(
        AlarmItem,
        r#"SELECT a.id, a.kind::text AS "kind!", a.state::text AS "state!", a.raised_at,
                  a.meter_id, m.serial AS meter_serial,
                  ebok_address(sp.street, sp.building_no, sp.apartment_no, sp.postal_code,
                               sp.city, sp.post_town) AS address,
                  c.id AS "customer_id?", c.name AS "customer_name?",
                  a.acknowledged_at, ack.display_name AS "acknowledged_by?", a.acknowledged_note,
                  a.cleared_at, clr.display_name AS "cleared_by?", a.cleared_note
           FROM meter_alarms a
           JOIN meters m ON m.id = a.meter_id
           LEFT JOIN supply_points sp ON sp.id = m.supply_point_id
           LEFT JOIN LATERAL (
               SELECT k.customer_id FROM contracts k
               WHERE k.supply_point_id = m.supply_point_id AND k.status <> 'draft'
               ORDER BY k.valid_from DESC LIMIT 1) k ON true
           LEFT JOIN customers c ON c.id = k.customer_id
           LEFT JOIN user_accounts ack ON ack.id = a.acknowledged_by
           LEFT JOIN user_accounts clr ON clr.id = a.cleared_by
           WHERE a.utility_id = $1 AND a.state::text = ANY($2)
             AND ($3::text IS NULL OR a.kind::text = $3)
           ORDER BY a.raised_at DESC, a.id DESC
           LIMIT $4"#,
        utility_id,
        &states,
        kind,
        LIST_LIMIT,
    )
    .fetch_all(pool)
    .await?)
}

/// What a staff member does with an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    Acknowledge,
    Clear,
}

/// Acknowledges or clears alarm `id` of the staff member's utility with `note` (required to
/// clear: the reason ingest did not clear it itself).
pub async fn handle(
    pool: &PgPool,
    by: ByStaff,
    id: i64,
    handling: Handling,
    note: &str,
) -> Result<(), ApiError> {
    let note = note.trim();
    if note.chars().count() > 1000 {
        return Err(ApiError::invalid(
            "note",
            "Notatka może mieć najwyżej 1000 znaków.",
        ));
    }
    if handling == Handling::Clear && note.is_empty() {
        return Err(ApiError::invalid(
            "note",
            "Napisz, dlaczego zamykasz alarm (np. „wyciek usunięty, wymieniono zawór”).",
        ));
    }
    let note = (!note.is_empty()).then_some(note);
    let mut tx = pool.begin().await?;
    let state = sqlx::query_scalar!(
        r#"SELECT state::text AS "state!" FROM meter_alarms
           WHERE id = $1 AND utility_id = $2 FOR UPDATE"#,
        id,
        by.utility_id,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    let (action, refused) = match (handling, state.as_str()) {
        (_, "cleared") => ("", Some("Ten alarm jest już zamknięty.")),
        (Handling::Acknowledge, "acknowledged") => ("", Some("Ten alarm jest już przyjęty.")),
        (Handling::Acknowledge, _) => ("meter_alarm.acknowledged", None),
        (Handling::Clear, _) => ("meter_alarm.cleared_by_staff", None),
    };
    if let Some(detail) = refused {
        return Err(ApiError::Conflict {
            field: Some("state".into()),
            detail: detail.into(),
        });
    }
    match handling {
        Handling::Acknowledge => {
            sqlx::query!(
                r#"UPDATE meter_alarms SET state = 'acknowledged', acknowledged_at = now(),
                          acknowledged_by = $2, acknowledged_note = $3
                   WHERE id = $1"#,
                id,
                by.account_id,
                note,
            )
            .execute(&mut *tx)
            .await?;
        }
        Handling::Clear => {
            sqlx::query!(
                r#"UPDATE meter_alarms SET state = 'cleared',
                          cleared_at = greatest(now(), raised_at), cleared_by = $2,
                          cleared_note = $3
                   WHERE id = $1"#,
                id,
                by.account_id,
                note,
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    by.audit(&mut tx, action, "meter_alarm", id, json!({ "note": note }))
        .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_names_a_known_kind_and_state_or_is_refused_at_its_field() {
        let filter = |kind: &str, state: &str| AlarmFilter {
            kind: Some(kind.into()),
            state: Some(state.into()),
        };
        assert_eq!(
            AlarmFilter::default().parse().unwrap(),
            (None, &["raised", "acknowledged"][..])
        );
        assert_eq!(
            filter("leak", "cleared").parse().unwrap(),
            (Some("leak"), &["cleared"][..])
        );
        assert!(matches!(
            filter("flood", "open").parse(),
            Err(ApiError::Invalid { field, .. }) if field == "kind"
        ));
        assert!(matches!(
            filter("", "closed").parse(),
            Err(ApiError::Invalid { field, .. }) if field == "state"
        ));
    }
}
