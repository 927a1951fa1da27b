//! What residents, staff and crews read of failure reports: one list query with filters (a
//! reporter's own, the duplicates offered nearby, the office's list by distance from a point, a
//! technician's jobs), a report with its history and photos, a photo's bytes.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::store::NEARBY_METRES;
use super::{Category, Place, Reporter, State, tidy};

/// A report in a list.
#[derive(Debug, Clone)]
pub struct Summary {
    pub id: i64,
    pub category: Category,
    pub state: State,
    pub description: String,
    pub place: Place,
    /// Metres from the point the list was asked about, when both have a point.
    pub distance_m: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub reporters: i64,
    pub photos: i64,
    /// The technician sent, by name.
    pub assigned_to: Option<String>,
    pub outage_id: Option<i64>,
}

/// Which reports a list holds.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub open_only: bool,
    pub category: Option<Category>,
    /// Those this account reported (or joined).
    pub reporter: Option<i64>,
    /// The jobs of this technician.
    pub assigned_to: Option<i64>,
    /// Sorted by the distance from here (those without a point last); else newest first.
    pub from: Option<(f64, f64)>,
    /// Only those within this many metres of `from`, or at the same address as `address`.
    pub within_m: Option<f64>,
    pub address: Option<String>,
    pub limit: i64,
}

/// The utility's reports that `filter` selects.
pub async fn list(
    conn: &mut PgConnection,
    utility_id: i64,
    filter: &Filter,
) -> sqlx::Result<Vec<Summary>> {
    let (lat, lon) = filter.from.unzip();
    let rows = sqlx::query!(
        r#"SELECT f.id, f.category::text AS "category!", f.state::text AS "state!",
                  f.description, f.lat, f.lon, f.address, f.created_at, f.outage_id,
                  CASE WHEN f.lat IS NOT NULL AND $6::float8 IS NOT NULL
                       THEN distance_m($6, $7, f.lat, f.lon) END AS distance_m,
                  (SELECT count(*) FROM failure_reporters r WHERE r.report_id = f.id)
                      AS "reporters!",
                  (SELECT count(*) FROM failure_report_photos p WHERE p.report_id = f.id)
                      AS "photos!",
                  t.display_name AS "assigned_to?"
           FROM failure_reports f
           LEFT JOIN user_accounts t ON t.id = f.assigned_to
           WHERE f.utility_id = $1
             AND (NOT $2 OR f.state IN ('reported', 'verified', 'dispatched'))
             AND ($3::text IS NULL OR f.category = $3::text::failure_category)
             AND ($4::bigint IS NULL
                  OR EXISTS (SELECT 1 FROM failure_reporters r
                             WHERE r.report_id = f.id AND r.account_id = $4))
             AND ($5::bigint IS NULL OR (f.assigned_to = $5 AND f.state = 'dispatched'))
             AND ($8::float8 IS NULL
                  OR (f.lat IS NOT NULL AND $6::float8 IS NOT NULL
                      AND distance_m($6, $7, f.lat, f.lon) <= $8)
                  OR lower(f.address) = lower($9))
           ORDER BY distance_m NULLS LAST, f.created_at DESC, f.id DESC
           LIMIT $10"#,
        utility_id,
        filter.open_only,
        filter.category.map(Category::as_str),
        filter.reporter,
        filter.assigned_to,
        lat,
        lon,
        filter.within_m,
        filter.address,
        filter.limit.max(1),
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Summary {
            id: r.id,
            category: Category::parse(&r.category).expect("the enum's values"),
            state: State::parse(&r.state).expect("the enum's values"),
            description: r.description,
            place: Place {
                point: r.lat.zip(r.lon),
                address: r.address,
            },
            distance_m: r.distance_m,
            created_at: r.created_at,
            reporters: r.reporters,
            photos: r.photos,
            assigned_to: r.assigned_to,
            outage_id: r.outage_id,
        })
        .collect())
}

/// Open reports of `category` near `place` (within [`NEARBY_METRES`] of its point, or at the
/// same address), nearest first: offered as "this is already reported".
pub async fn nearby_open(
    conn: &mut PgConnection,
    utility_id: i64,
    category: Category,
    place: &Place,
) -> sqlx::Result<Vec<Summary>> {
    let place = tidy(place);
    if place.point.is_none() && place.address.is_none() {
        return Ok(Vec::new());
    }
    list(
        conn,
        utility_id,
        &Filter {
            open_only: true,
            category: Some(category),
            from: place.point,
            within_m: Some(NEARBY_METRES),
            address: place.address,
            limit: 5,
            ..Filter::default()
        },
    )
    .await
}

/// A step in a report's history.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub at: DateTime<Utc>,
    pub action: String,
    pub to: State,
    /// The staff member, by name (staff pages only).
    pub staff: Option<String>,
    pub note: Option<String>,
}

/// A photo of a report (its bytes are fetched one by one).
#[derive(Debug, Clone)]
pub struct PhotoRow {
    pub id: i64,
    pub by_staff: bool,
    /// The resident who sent it (none: somebody without an account, or staff).
    pub added_by: Option<i64>,
}

impl PhotoRow {
    /// Whether a reporter (`account`) sees it: the crew's photos and their own, never another
    /// reporter's (who may have caught a face or a number plate).
    pub fn shown_to(&self, account: i64) -> bool {
        self.by_staff || self.added_by == Some(account)
    }
}

/// A report with everything about it.
#[derive(Debug, Clone)]
pub struct Detail {
    pub summary: Summary,
    pub rejection_reason: Option<String>,
    pub assigned_to_id: Option<i64>,
    pub history: Vec<HistoryRow>,
    pub photos: Vec<PhotoRow>,
}

/// Report `id` of the utility, if it exists.
pub async fn detail(
    conn: &mut PgConnection,
    utility_id: i64,
    id: i64,
) -> sqlx::Result<Option<Detail>> {
    let Some(row) = sqlx::query!(
        r#"SELECT f.id, f.category::text AS "category!", f.state::text AS "state!",
                  f.description, f.lat, f.lon, f.address, f.created_at, f.outage_id,
                  f.rejection_reason, f.assigned_to, t.display_name AS "assigned_name?",
                  (SELECT count(*) FROM failure_reporters r WHERE r.report_id = f.id)
                      AS "reporters!"
           FROM failure_reports f
           LEFT JOIN user_accounts t ON t.id = f.assigned_to
           WHERE f.utility_id = $1 AND f.id = $2"#,
        utility_id,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let history = sqlx::query!(
        r#"SELECT e.at, e.action, e.to_state::text AS "to!", e.note,
                  s.display_name AS "staff?"
           FROM failure_report_events e LEFT JOIN user_accounts s ON s.id = e.staff_id
           WHERE e.report_id = $1 ORDER BY e.id"#,
        id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|e| HistoryRow {
        at: e.at,
        action: e.action,
        to: State::parse(&e.to).expect("the enum's values"),
        staff: e.staff,
        note: e.note,
    })
    .collect();
    let photos: Vec<PhotoRow> = sqlx::query_as!(
        PhotoRow,
        r#"SELECT id, by_staff, CASE WHEN by_staff THEN NULL ELSE added_by END AS added_by
           FROM failure_report_photos WHERE report_id = $1 ORDER BY id"#,
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(Detail {
        summary: Summary {
            id: row.id,
            category: Category::parse(&row.category).expect("the enum's values"),
            state: State::parse(&row.state).expect("the enum's values"),
            description: row.description,
            place: Place {
                point: row.lat.zip(row.lon),
                address: row.address,
            },
            distance_m: None,
            created_at: row.created_at,
            reporters: row.reporters,
            photos: photos.len() as i64,
            assigned_to: row.assigned_name,
            outage_id: row.outage_id,
        },
        rejection_reason: row.rejection_reason,
        assigned_to_id: row.assigned_to,
        history,
        photos,
    }))
}

/// Whether `reporter` filed or joined report `id`.
pub async fn is_reporter(
    conn: &mut PgConnection,
    id: i64,
    reporter: &Reporter,
) -> sqlx::Result<bool> {
    let (account, email) = reporter.parts();
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM failure_reporters
                          WHERE report_id = $1
                            AND (account_id = $2 OR lower(email) = lower($3))) AS "yes!""#,
        id,
        account,
        email
    )
    .fetch_one(conn)
    .await
}

/// Report `id` as resident `account` reads it, if they filed or joined it: the photos they see
/// ([`PhotoRow::shown_to`]), and the description only if they filed it — the filer's words
/// are theirs, and anybody may join an open report ("this is already reported"). Empty for
/// somebody who joined.
pub async fn for_reporter(
    conn: &mut PgConnection,
    utility_id: i64,
    id: i64,
    account: i64,
) -> sqlx::Result<Option<Detail>> {
    let filed = sqlx::query_scalar!(
        "SELECT filed FROM failure_reporters WHERE report_id = $1 AND account_id = $2",
        id,
        account
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(filed) = filed else {
        return Ok(None);
    };
    let Some(mut detail) = detail(conn, utility_id, id).await? else {
        return Ok(None);
    };
    detail.photos.retain(|p| p.shown_to(account));
    if !filed {
        detail.summary.description.clear();
    }
    Ok(Some(detail))
}

/// Photo `photo_id` of report `id`: its type and bytes. With `reporter`, only a photo that
/// reporter sees ([`PhotoRow::shown_to`]).
pub async fn photo(
    conn: &mut PgConnection,
    utility_id: i64,
    id: i64,
    photo_id: i64,
    reporter: Option<i64>,
) -> sqlx::Result<Option<(String, Vec<u8>)>> {
    Ok(sqlx::query!(
        r#"SELECT p.content_type, p.content FROM failure_report_photos p
           JOIN failure_reports f ON f.id = p.report_id
           WHERE f.utility_id = $1 AND p.report_id = $2 AND p.id = $3
             AND ($4::bigint IS NULL OR p.by_staff OR p.added_by = $4)"#,
        utility_id,
        id,
        photo_id,
        reporter
    )
    .fetch_optional(conn)
    .await?
    .map(|p| (p.content_type, p.content)))
}

/// The utility's active technicians (the crews a report is sent to): id and name.
pub async fn technicians(
    conn: &mut PgConnection,
    utility_id: i64,
) -> sqlx::Result<Vec<(i64, String)>> {
    Ok(sqlx::query!(
        r#"SELECT id, display_name FROM user_accounts
           WHERE utility_id = $1 AND role = 'technician' AND status = 'active'
           ORDER BY display_name, id"#,
        utility_id
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|t| (t.id, t.display_name))
    .collect())
}
