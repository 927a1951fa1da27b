//! Notices and zones in PostgreSQL (migration 0031). Staff announce a notice for an area; the
//! resident accounts with a contract in force at an affected supply point are recorded as its
//! recipients in the same transaction, and one outbox event goes to them all (audience
//! `{"outage_recipients": id}`, expanded by mobile-push in batches, only to those with the
//! notifications consent). Each update and the end go to the same recipients — plus, when the
//! area grew, those the new part adds. Every step is audited.
//!
//! Every function that writes runs inside the caller's transaction.

use chrono::{DateTime, Utc};
use ebok_common::audit::{self, Actor, AuditEntry};
use ebok_common::domain::time::local_day;
use ebok_common::outbox::{self, Addressee, Event, Outage, OutboxEvent};
use serde_json::json;
use sqlx::PgConnection;

use crate::area::{Area, city_key, street_key};

/// What a notice is about (the outbox's events and the app's notices name it too).
pub use ebok_common::domain::OutageKind as Kind;

#[derive(Debug, thiserror::Error)]
pub enum OutageError {
    #[error("no such notice or zone")]
    NotFound,
    /// What to put right, by field, in Polish.
    #[error("invalid: {0:?}")]
    Invalid(Vec<(&'static str, String)>),
    #[error("the notice has ended")]
    Ended,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A notice as staff write it.
#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: Kind,
    pub title: String,
    pub description: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub expected_end: Option<DateTime<Utc>>,
    pub area: Area,
}

/// The staff member acting, and when.
#[derive(Debug, Clone, Copy)]
pub struct Staff {
    pub utility_id: i64,
    pub account_id: i64,
    pub now: DateTime<Utc>,
}

impl Staff {
    pub(crate) fn actor(self) -> Actor {
        Actor::Staff {
            account_id: self.account_id,
            on_behalf_of: None,
        }
    }
}

/// The zones of the area and all their sub-zones, and the named zones' names (an unknown zone
/// is an error).
async fn zones_of(
    conn: &mut PgConnection,
    utility_id: i64,
    zones: &[i64],
) -> Result<(Vec<i64>, Vec<String>), OutageError> {
    let named = sqlx::query!(
        r#"SELECT id, name FROM network_zones WHERE utility_id = $1 AND id = ANY($2)"#,
        utility_id,
        zones
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut distinct = zones.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if named.len() != distinct.len() {
        return Err(OutageError::Invalid(vec![(
            "zones",
            "Wybierz strefy z listy.".into(),
        )]));
    }
    let names = zones
        .iter()
        .map(|id| {
            named
                .iter()
                .find(|z| z.id == *id)
                .map(|z| z.name.clone())
                .unwrap_or_default()
        })
        .collect();
    let all = sqlx::query_scalar!(
        r#"WITH RECURSIVE z(id) AS (
               SELECT id FROM network_zones WHERE utility_id = $1 AND id = ANY($2)
               UNION
               SELECT n.id FROM network_zones n JOIN z ON n.parent_id = z.id
           )
           SELECT id AS "id!" FROM z"#,
        utility_id,
        zones
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok((all, names))
}

/// The description as stored: one kind of line break, no blank edges; none when empty.
fn description(draft: &Draft) -> Option<String> {
    draft
        .description
        .as_deref()
        .map(|d| {
            d.replace("\r\n", "\n")
                .replace('\r', "\n")
                .trim()
                .to_string()
        })
        .filter(|d| !d.is_empty())
}

fn check(draft: &Draft) -> Result<(), OutageError> {
    let mut problems = Vec::new();
    if draft.title.trim().is_empty() {
        problems.push(("title", "Podaj tytuł komunikatu.".to_string()));
    }
    if draft.expected_end.is_some_and(|end| end <= draft.starts_at) {
        problems.push((
            "expected_end",
            "Przewidywany koniec musi być później niż początek.".to_string(),
        ));
    }
    if draft.area.is_empty() {
        problems.push((
            "area",
            "Wskaż obszar: ulice, miejscowości albo strefy.".to_string(),
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(OutageError::Invalid(problems))
    }
}

/// Records the recipients of `outage_id` for `area` (whose zones, sub-zones included, are
/// `zones`): every active resident account linked to a customer with a contract in force on
/// the day the staff member acts, at a supply point in it. Those already recorded stay. How
/// many were added.
async fn record_recipients(
    conn: &mut PgConnection,
    staff: Staff,
    outage_id: i64,
    area: &Area,
    zones: &[i64],
) -> Result<u64, OutageError> {
    let localities: Vec<String> = area.localities.iter().map(|l| city_key(l)).collect();
    let cities: Vec<String> = area.streets.iter().map(|s| city_key(&s.city)).collect();
    let streets: Vec<String> = area.streets.iter().map(|s| street_key(&s.street)).collect();
    let froms: Vec<Option<i64>> = area.streets.iter().map(|s| s.from.map(i64::from)).collect();
    let tos: Vec<Option<i64>> = area.streets.iter().map(|s| s.to.map(i64::from)).collect();
    let sides: Vec<String> = area
        .streets
        .iter()
        .map(|s| s.side.as_str().to_string())
        .collect();
    // The street and number rules are those of `area::covers`.
    let added = sqlx::query!(
        r#"INSERT INTO outage_recipients (utility_id, outage_id, account_id)
           SELECT DISTINCT $1::bigint, $2::bigint, ua.id
           FROM supply_points sp
           JOIN contracts c ON c.utility_id = sp.utility_id AND c.supply_point_id = sp.id
           JOIN account_customers ac ON ac.utility_id = c.utility_id
                                    AND ac.customer_id = c.customer_id
           JOIN user_accounts ua ON ua.id = ac.account_id
           WHERE sp.utility_id = $1
             AND (lower(btrim(sp.city)) = ANY($3)
                  OR sp.zone_id = ANY($4)
                  OR EXISTS (
                      SELECT 1
                      FROM unnest($5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::text[])
                           AS r(city, street, lo, hi, side)
                      CROSS JOIN LATERAL (SELECT substring(sp.building_no FROM '^[0-9]{1,9}')::bigint
                                          AS n) AS num
                      WHERE lower(btrim(sp.city)) = r.city
                        AND lower(btrim(regexp_replace(coalesce(sp.street, ''),
                                  '^\s*(ul\.|al\.|pl\.|os\.|ulica\s)', '', 'i'))) = r.street
                        AND (r.lo IS NULL OR num.n BETWEEN r.lo AND r.hi)
                        AND (r.side = 'both' OR (num.n % 2 = 1) = (r.side = 'odd'))))
             AND c.status = 'active'
             AND c.valid_from <= $10
             AND (c.valid_until IS NULL OR c.valid_until >= $10)
             AND ua.status = 'active' AND ua.role = 'resident'
           ON CONFLICT DO NOTHING"#,
        staff.utility_id,
        outage_id,
        &localities,
        zones,
        &cities,
        &streets,
        &froms as &[Option<i64>],
        &tos as &[Option<i64>],
        &sides,
        local_day(staff.now)
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(added)
}

fn event_of(id: i64, draft_title: &str, words: &str, o: &Draft, kind: Kind) -> Outage {
    Outage {
        outage_id: id,
        kind: kind.as_str().to_string(),
        title: draft_title.to_string(),
        area: words.to_string(),
        starts_at: o.starts_at,
        ends_at: o.expected_end,
        description: description(o),
    }
}

async fn tell(
    conn: &mut PgConnection,
    utility_id: i64,
    id: i64,
    event: Event,
    key: String,
) -> Result<(), OutageError> {
    outbox::enqueue(
        conn,
        &OutboxEvent {
            utility_id,
            event,
            to: Addressee::Audience(json!({ "outage_recipients": id })),
            dedup_key: Some(key),
        },
    )
    .await?;
    Ok(())
}

/// A notice announced: its id and how many resident accounts it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announced {
    pub id: i64,
    pub recipients: u64,
}

/// Announces a notice: recorded with its recipients, and one broadcast to them.
pub async fn announce(
    conn: &mut PgConnection,
    staff: Staff,
    draft: &Draft,
) -> Result<Announced, OutageError> {
    check(draft)?;
    let (zones, zone_names) = zones_of(conn, staff.utility_id, &draft.area.zones).await?;
    let words = draft.area.words(&zone_names);
    let area = serde_json::to_value(&draft.area).expect("an area serialises");
    let id = sqlx::query_scalar!(
        r#"INSERT INTO outages (utility_id, kind, title, description, starts_at, expected_end,
                                area, area_words, created_by, created_at, updated_at)
           VALUES ($1, $2::text::outage_kind, $3, $4, $5, $6, $7, $8, $9, $10, $10)
           RETURNING id"#,
        staff.utility_id,
        draft.kind.as_str(),
        draft.title.trim(),
        description(draft),
        draft.starts_at,
        draft.expected_end,
        area,
        words,
        staff.account_id,
        staff.now
    )
    .fetch_one(&mut *conn)
    .await?;
    let recipients = record_recipients(conn, staff, id, &draft.area, &zones).await?;
    let event = Event::OutageAnnounced(event_of(id, draft.title.trim(), &words, draft, draft.kind));
    tell(conn, staff.utility_id, id, event, format!("outage:{id}:v1")).await?;
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(staff.utility_id),
            actor: staff.actor(),
            action: "outage.announced",
            entity_type: Some("outage"),
            entity_id: Some(id.to_string()),
            details: json!({ "kind": draft.kind.as_str(), "title": draft.title.trim(),
                             "area": words, "recipients": recipients }),
            request_id: None,
        },
    )
    .await?;
    Ok(Announced { id, recipients })
}

/// Publishes a change of notice `id` (its text, times, or area): the same recipients are told,
/// and those a larger area adds. How many were added.
pub async fn update(
    conn: &mut PgConnection,
    staff: Staff,
    id: i64,
    draft: &Draft,
) -> Result<u64, OutageError> {
    check(draft)?;
    let ended = sqlx::query_scalar!(
        "SELECT ended_at FROM outages WHERE utility_id = $1 AND id = $2 FOR UPDATE",
        staff.utility_id,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(OutageError::NotFound)?;
    if ended.is_some() {
        return Err(OutageError::Ended);
    }
    let (zones, zone_names) = zones_of(conn, staff.utility_id, &draft.area.zones).await?;
    let words = draft.area.words(&zone_names);
    let area = serde_json::to_value(&draft.area).expect("an area serialises");
    let version = sqlx::query_scalar!(
        r#"UPDATE outages SET kind = $3::text::outage_kind, title = $4, description = $5,
                              starts_at = $6, expected_end = $7, area = $8, area_words = $9,
                              version = version + 1, updated_at = $10
           WHERE utility_id = $1 AND id = $2 RETURNING version"#,
        staff.utility_id,
        id,
        draft.kind.as_str(),
        draft.title.trim(),
        description(draft),
        draft.starts_at,
        draft.expected_end,
        area,
        words,
        staff.now
    )
    .fetch_one(&mut *conn)
    .await?;
    let added = record_recipients(conn, staff, id, &draft.area, &zones).await?;
    let event = Event::OutageUpdated(event_of(id, draft.title.trim(), &words, draft, draft.kind));
    tell(
        conn,
        staff.utility_id,
        id,
        event,
        format!("outage:{id}:v{version}"),
    )
    .await?;
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(staff.utility_id),
            actor: staff.actor(),
            action: "outage.updated",
            entity_type: Some("outage"),
            entity_id: Some(id.to_string()),
            details: json!({ "version": version, "title": draft.title.trim(), "area": words,
                             "recipients_added": added }),
            request_id: None,
        },
    )
    .await?;
    Ok(added)
}

/// Ends notice `id` (supply restored, the warning lifted): its recipients are told.
pub async fn end(conn: &mut PgConnection, staff: Staff, id: i64) -> Result<(), OutageError> {
    let o = sqlx::query!(
        r#"UPDATE outages SET ended_at = $3, updated_at = $3, version = version + 1
           WHERE utility_id = $1 AND id = $2 AND ended_at IS NULL
           RETURNING kind::text AS "kind!", title, description, starts_at, area_words, version"#,
        staff.utility_id,
        id,
        staff.now
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(o) = o else {
        let exists = sqlx::query_scalar!(
            "SELECT 1 AS one FROM outages WHERE utility_id = $1 AND id = $2",
            staff.utility_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?;
        return Err(if exists.is_some() {
            OutageError::Ended
        } else {
            OutageError::NotFound
        });
    };
    let event = Event::OutageEnded(Outage {
        outage_id: id,
        kind: o.kind,
        title: o.title.clone(),
        area: o.area_words,
        starts_at: o.starts_at,
        ends_at: Some(staff.now),
        description: o.description,
    });
    tell(
        conn,
        staff.utility_id,
        id,
        event,
        format!("outage:{id}:ended"),
    )
    .await?;
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(staff.utility_id),
            actor: staff.actor(),
            action: "outage.ended",
            entity_type: Some("outage"),
            entity_id: Some(id.to_string()),
            details: json!({ "title": o.title, "version": o.version }),
            request_id: None,
        },
    )
    .await?;
    Ok(())
}

/// A network zone.
#[derive(Debug, Clone)]
pub struct Zone {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub parent_id: Option<i64>,
    /// Supply points in it (not counting sub-zones).
    pub points: i64,
}

/// The utility's zones, by name.
pub async fn zones(conn: &mut PgConnection, utility_id: i64) -> Result<Vec<Zone>, OutageError> {
    Ok(sqlx::query_as!(
        Zone,
        r#"SELECT z.id, z.code, z.name, z.parent_id,
                  (SELECT count(*) FROM supply_points sp WHERE sp.zone_id = z.id) AS "points!"
           FROM network_zones z WHERE z.utility_id = $1 ORDER BY z.name, z.id"#,
        utility_id
    )
    .fetch_all(conn)
    .await?)
}

/// Creates zone `code` named `name`, inside `parent` if given; its id.
pub async fn create_zone(
    conn: &mut PgConnection,
    staff: Staff,
    code: &str,
    name: &str,
    parent: Option<i64>,
) -> Result<i64, OutageError> {
    let code = code.trim().to_lowercase();
    let mut problems = Vec::new();
    let well_formed = !code.is_empty()
        && code.len() <= 40
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !well_formed {
        problems.push((
            "code",
            "Kod to małe litery bez polskich znaków, cyfry, - i _, np. polnoc.".to_string(),
        ));
    }
    if name.trim().is_empty() {
        problems.push(("name", "Podaj nazwę strefy.".to_string()));
    }
    if !problems.is_empty() {
        return Err(OutageError::Invalid(problems));
    }
    if let Some(parent) = parent {
        zones_of(conn, staff.utility_id, &[parent]).await?;
    }
    let id = sqlx::query_scalar!(
        r#"INSERT INTO network_zones (utility_id, code, name, parent_id)
           VALUES ($1, $2, $3, $4) ON CONFLICT (utility_id, code) DO NOTHING RETURNING id"#,
        staff.utility_id,
        code,
        name.trim(),
        parent
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| OutageError::Invalid(vec![("code", "Taki kod już jest.".into())]))?;
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(staff.utility_id),
            actor: staff.actor(),
            action: "network_zone.created",
            entity_type: Some("network_zone"),
            entity_id: Some(id.to_string()),
            details: json!({ "code": code, "name": name.trim(), "parent_id": parent }),
            request_id: None,
        },
    )
    .await?;
    Ok(id)
}

/// Puts the supply points of `city` (on `street`, if given) into zone `zone_id`; how many.
pub async fn assign_points(
    conn: &mut PgConnection,
    staff: Staff,
    zone_id: i64,
    city: &str,
    street: Option<&str>,
) -> Result<u64, OutageError> {
    sqlx::query_scalar!(
        "SELECT 1 AS one FROM network_zones WHERE utility_id = $1 AND id = $2",
        staff.utility_id,
        zone_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(OutageError::NotFound)?;
    if city.trim().is_empty() {
        return Err(OutageError::Invalid(vec![(
            "city",
            "Podaj miejscowość.".into(),
        )]));
    }
    let street = street.map(street_key).filter(|s| !s.is_empty());
    let moved = sqlx::query!(
        r#"UPDATE supply_points sp SET zone_id = $2
           WHERE sp.utility_id = $1 AND lower(btrim(sp.city)) = $3
             AND ($4::text IS NULL
                  OR lower(btrim(regexp_replace(coalesce(sp.street, ''),
                         '^\s*(ul\.|al\.|pl\.|os\.|ulica\s)', '', 'i'))) = $4)"#,
        staff.utility_id,
        zone_id,
        city_key(city),
        street
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(staff.utility_id),
            actor: staff.actor(),
            action: "network_zone.points_assigned",
            entity_type: Some("network_zone"),
            entity_id: Some(zone_id.to_string()),
            details: json!({ "city": city.trim(), "street": street, "points": moved }),
            request_id: None,
        },
    )
    .await?;
    Ok(moved)
}
