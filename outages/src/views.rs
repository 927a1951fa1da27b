//! What the public page, the feeds and staff read of the notices. Scoped by the utility; a
//! notice's recipients are counted, never listed here.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

use crate::area::Area;
use crate::store::{Kind, OutageError};

/// A notice as published.
#[derive(Debug, Clone)]
pub struct Notice {
    pub id: i64,
    pub kind: Kind,
    pub title: String,
    pub description: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub expected_end: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub area: Area,
    pub area_words: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub recipients: i64,
}

impl Notice {
    /// Going on `now` (begun and not ended).
    pub fn current(&self, now: DateTime<Utc>) -> bool {
        self.ended_at.is_none() && self.starts_at <= now
    }

    /// Ended before it began: called off.
    pub fn called_off(&self) -> bool {
        self.ended_at.is_some_and(|ended| ended <= self.starts_at)
    }

    /// Still to come `now`.
    pub fn planned(&self, now: DateTime<Utc>) -> bool {
        self.ended_at.is_none() && self.starts_at > now
    }
}

struct Row {
    id: i64,
    kind: String,
    title: String,
    description: Option<String>,
    starts_at: DateTime<Utc>,
    expected_end: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    area: serde_json::Value,
    area_words: String,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    recipients: i64,
}

fn notice(r: Row) -> Result<Notice, OutageError> {
    Ok(Notice {
        id: r.id,
        kind: Kind::parse(&r.kind).unwrap_or(Kind::Interruption),
        title: r.title,
        description: r.description,
        starts_at: r.starts_at,
        expected_end: r.expected_end,
        ended_at: r.ended_at,
        area: serde_json::from_value(r.area)
            .map_err(|e| OutageError::Db(sqlx::Error::Decode(Box::new(e))))?,
        area_words: r.area_words,
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
        recipients: r.recipients,
    })
}

/// What the public page and the feeds show `now`: every notice not ended, and those ended in
/// the last `ended_within`, soonest first.
pub async fn published(
    conn: &mut PgConnection,
    utility_id: i64,
    now: DateTime<Utc>,
    ended_within: Duration,
) -> Result<Vec<Notice>, OutageError> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT o.id, o.kind::text AS "kind!", o.title, o.description, o.starts_at,
                  o.expected_end, o.ended_at, o.area, o.area_words, o.version, o.created_at,
                  o.updated_at,
                  (SELECT count(*) FROM outage_recipients r WHERE r.outage_id = o.id)
                      AS "recipients!"
           FROM outages o
           WHERE o.utility_id = $1 AND (o.ended_at IS NULL OR o.ended_at >= $2)
           ORDER BY (o.ended_at IS NULL) DESC, o.starts_at, o.id"#,
        utility_id,
        now - ended_within
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(notice).collect()
}

/// Every notice of the utility, newest first, at most `limit` (staff).
pub async fn all(
    conn: &mut PgConnection,
    utility_id: i64,
    limit: i64,
) -> Result<Vec<Notice>, OutageError> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT o.id, o.kind::text AS "kind!", o.title, o.description, o.starts_at,
                  o.expected_end, o.ended_at, o.area, o.area_words, o.version, o.created_at,
                  o.updated_at,
                  (SELECT count(*) FROM outage_recipients r WHERE r.outage_id = o.id)
                      AS "recipients!"
           FROM outages o WHERE o.utility_id = $1
           ORDER BY o.created_at DESC, o.id DESC LIMIT $2"#,
        utility_id,
        limit
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(notice).collect()
}

/// One notice of the utility.
pub async fn one(conn: &mut PgConnection, utility_id: i64, id: i64) -> Result<Notice, OutageError> {
    let row = sqlx::query_as!(
        Row,
        r#"SELECT o.id, o.kind::text AS "kind!", o.title, o.description, o.starts_at,
                  o.expected_end, o.ended_at, o.area, o.area_words, o.version, o.created_at,
                  o.updated_at,
                  (SELECT count(*) FROM outage_recipients r WHERE r.outage_id = o.id)
                      AS "recipients!"
           FROM outages o WHERE o.utility_id = $1 AND o.id = $2"#,
        utility_id,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(OutageError::NotFound)?;
    notice(row)
}
