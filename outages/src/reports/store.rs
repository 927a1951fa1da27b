//! Failure reports in PostgreSQL (migration 0032): filed with their photos, joined by the next
//! reporters, taken through their steps by staff and crews. Every step is a row of
//! `failure_report_events`, told to the reporters through one outbox event (audience
//! `{"failure_reporters": id}`) and, for staff, audited.
//!
//! Every function that writes runs inside the caller's transaction.

use chrono::{DateTime, Utc};
use ebok_common::audit::{self, AuditEntry};
use ebok_common::outbox::{self, Addressee, Event, FailureReportChanged, OutboxEvent};
use serde_json::json;
use sqlx::PgConnection;

use super::{Category, NewReport, Place, ReportError, Reporter, State, Step, problems, tidy, what};
use crate::photos::{self, CleanPhoto};
use crate::store::{self as notices, Announced, Draft, Staff};

/// How far apart two reports of one category may be and still be offered as the same failure.
pub const NEARBY_METRES: f64 = 300.0;

/// Who takes a step: the office (any report of the utility) or a crew's technician (only the
/// jobs given to them; any other report does not exist for them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acting {
    Office,
    Crew,
}

async fn add_reporter(
    conn: &mut PgConnection,
    id: i64,
    reporter: &Reporter,
    filed: bool,
    now: DateTime<Utc>,
) -> Result<bool, ReportError> {
    let (account, email) = reporter.parts();
    let added = sqlx::query!(
        r#"INSERT INTO failure_reporters (report_id, account_id, email, filed, at)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"#,
        id,
        account,
        email,
        filed,
        now
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(added == 1)
}

async fn store_photo(
    conn: &mut PgConnection,
    id: i64,
    photo: &CleanPhoto,
    staff: Option<i64>,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<i64, ReportError> {
    Ok(sqlx::query_scalar!(
        r#"INSERT INTO failure_report_photos (report_id, content_type, content, by_staff,
                                              added_by, added_at)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"#,
        id,
        photo.content_type,
        &photo.bytes,
        staff.is_some(),
        staff.or(by),
        now
    )
    .fetch_one(&mut *conn)
    .await?)
}

async fn record_event(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
    action: &str,
    (from, to): (Option<State>, State),
    staff: Option<i64>,
    note: Option<&str>,
) -> Result<i64, ReportError> {
    Ok(sqlx::query_scalar!(
        r#"INSERT INTO failure_report_events (report_id, at, action, from_state, to_state,
                                              staff_id, note)
           VALUES ($1, $2, $3, $4::text::failure_state, $5::text::failure_state, $6, $7)
           RETURNING id"#,
        id,
        now,
        action,
        from.map(State::as_str),
        to.as_str(),
        staff,
        note
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// Files a report; its id. Open reports of the same category nearby are offered to the
/// reporter before this (`views::nearby_open`); filing anyway is their choice.
pub async fn file(
    conn: &mut PgConnection,
    utility_id: i64,
    now: DateTime<Utc>,
    report: &NewReport,
) -> Result<i64, ReportError> {
    let problems = problems(report);
    if !problems.is_empty() {
        return Err(ReportError::Invalid(problems));
    }
    if let Reporter::Account(account) = report.reporter {
        let resident = sqlx::query_scalar!(
            r#"SELECT 1 AS one FROM user_accounts
               WHERE id = $1 AND utility_id = $2 AND role = 'resident' AND status = 'active'"#,
            account,
            utility_id
        )
        .fetch_optional(&mut *conn)
        .await?;
        if resident.is_none() {
            return Err(ReportError::NotFound);
        }
    }
    let place = tidy(&report.place);
    let id = sqlx::query_scalar!(
        r#"INSERT INTO failure_reports (utility_id, category, description, lat, lon, address,
                                        created_at, updated_at)
           VALUES ($1, $2::text::failure_category, $3, $4, $5, $6, $7, $7) RETURNING id"#,
        utility_id,
        report.category.as_str(),
        report.description.trim().replace("\r\n", "\n"),
        place.point.map(|p| p.0),
        place.point.map(|p| p.1),
        place.address,
        now
    )
    .fetch_one(&mut *conn)
    .await?;
    add_reporter(conn, id, &report.reporter, true, now).await?;
    let by = match report.reporter {
        Reporter::Account(account) => Some(account),
        Reporter::Email(_) => None,
    };
    for photo in &report.photos {
        store_photo(conn, id, photo, None, by, now).await?;
    }
    record_event(
        conn,
        id,
        now,
        "failure_report.reported",
        (None, State::Reported),
        None,
        None,
    )
    .await?;
    Ok(id)
}

/// Adds `reporter` to open report `id` ("this is already reported"): they are told its steps
/// from now on. False when they were among its reporters already.
pub async fn join(
    conn: &mut PgConnection,
    utility_id: i64,
    id: i64,
    reporter: &Reporter,
    now: DateTime<Utc>,
) -> Result<bool, ReportError> {
    if let Reporter::Email(email) = reporter
        && !super::plausible_email(email)
    {
        return Err(ReportError::Invalid(vec![(
            "email",
            "Podaj adres e-mail, np. jan@example.pl.".into(),
        )]));
    }
    let state = sqlx::query_scalar!(
        r#"SELECT state::text AS "state!" FROM failure_reports
           WHERE utility_id = $1 AND id = $2 FOR SHARE"#,
        utility_id,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .and_then(|s| State::parse(&s))
    .ok_or(ReportError::NotFound)?;
    if !state.is_open() {
        return Err(ReportError::Step(state));
    }
    let added = add_reporter(conn, id, reporter, false, now).await?;
    if added {
        record_event(
            conn,
            id,
            now,
            "failure_report.joined",
            (Some(state), state),
            None,
            None,
        )
        .await?;
    }
    Ok(added)
}

/// A report locked for a step, as the step needs it.
struct Locked {
    state: State,
    category: Category,
    place: Place,
    assigned_to: Option<i64>,
}

async fn lock(
    conn: &mut PgConnection,
    staff: Staff,
    id: i64,
    by: Acting,
) -> Result<Locked, ReportError> {
    let row = sqlx::query!(
        r#"SELECT state::text AS "state!", category::text AS "category!", lat, lon, address,
                  assigned_to
           FROM failure_reports WHERE utility_id = $1 AND id = $2 FOR UPDATE"#,
        staff.utility_id,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ReportError::NotFound)?;
    if by == Acting::Crew && row.assigned_to != Some(staff.account_id) {
        return Err(ReportError::NotFound);
    }
    Ok(Locked {
        state: State::parse(&row.state).expect("the enum's values"),
        category: Category::parse(&row.category).expect("the enum's values"),
        place: Place {
            point: row.lat.zip(row.lon),
            address: row.address,
        },
        assigned_to: row.assigned_to,
    })
}

/// Takes `step` on report `id`: the new state recorded with its event, the reporters told, the
/// staff member's act audited. `reason` goes with a rejection, `technician` with a dispatch.
async fn take(
    conn: &mut PgConnection,
    staff: Staff,
    id: i64,
    step: Step,
    by: Acting,
    reason: Option<&str>,
    technician: Option<i64>,
) -> Result<State, ReportError> {
    let report = lock(conn, staff, id, by).await?;
    let to = step
        .from(report.state)
        .ok_or(ReportError::Step(report.state))?;
    if step == Step::Dispatch
        && report.state == State::Dispatched
        && technician == report.assigned_to
    {
        // The same crew sent again: nothing changes, nobody is told twice.
        return Ok(to);
    }
    sqlx::query!(
        r#"UPDATE failure_reports
           SET state = $3::text::failure_state, rejection_reason = $4,
               assigned_to = coalesce($5, assigned_to), updated_at = $6
           WHERE utility_id = $1 AND id = $2"#,
        staff.utility_id,
        id,
        to.as_str(),
        reason,
        technician,
        staff.now
    )
    .execute(&mut *conn)
    .await?;
    let event_id = record_event(
        conn,
        id,
        staff.now,
        step.action(),
        (Some(report.state), to),
        Some(staff.account_id),
        reason,
    )
    .await?;
    outbox::enqueue(
        conn,
        &OutboxEvent {
            utility_id: staff.utility_id,
            event: Event::FailureReportChanged(FailureReportChanged {
                report_id: id,
                state: to.as_str().to_string(),
                what: what(report.category, &report.place),
                reason: reason.map(str::to_string),
                at: staff.now,
            }),
            to: Addressee::Audience(json!({ "failure_reporters": id })),
            dedup_key: Some(format!("failure_report:{id}:{event_id}")),
        },
    )
    .await?;
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(staff.utility_id),
            actor: staff.actor(),
            action: step.action(),
            entity_type: Some("failure_report"),
            entity_id: Some(id.to_string()),
            details: json!({ "from": report.state.as_str(), "to": to.as_str(),
                             "reason": reason, "technician": technician }),
            request_id: None,
        },
    )
    .await?;
    Ok(to)
}

/// Somebody checked the report is real.
pub async fn verify(conn: &mut PgConnection, staff: Staff, id: i64) -> Result<(), ReportError> {
    take(conn, staff, id, Step::Verify, Acting::Office, None, None).await?;
    Ok(())
}

/// Closes the report without a repair (not a failure, the utility's planned works, not its
/// network), with the reason its reporters read.
pub async fn reject(
    conn: &mut PgConnection,
    staff: Staff,
    id: i64,
    reason: &str,
    by: Acting,
) -> Result<(), ReportError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ReportError::Invalid(vec![(
            "reason",
            "Podaj powód: przeczytają go zgłaszający.".into(),
        )]));
    }
    if reason.chars().count() > super::MAX_REASON || reason.chars().any(char::is_control) {
        return Err(ReportError::Invalid(vec![(
            "reason",
            format!(
                "Powód to jedna linia tekstu, najwyżej {} znaków.",
                super::MAX_REASON
            ),
        )]));
    }
    take(conn, staff, id, Step::Reject, by, Some(reason), None).await?;
    Ok(())
}

/// Sends the crew of `technician` (an active technician of the utility).
pub async fn dispatch(
    conn: &mut PgConnection,
    staff: Staff,
    id: i64,
    technician: i64,
) -> Result<(), ReportError> {
    let known = sqlx::query_scalar!(
        r#"SELECT 1 AS one FROM user_accounts
           WHERE id = $1 AND utility_id = $2 AND role = 'technician' AND status = 'active'"#,
        technician,
        staff.utility_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    if known.is_none() {
        return Err(ReportError::Invalid(vec![(
            "technician",
            "Wybierz technika z listy.".into(),
        )]));
    }
    take(
        conn,
        staff,
        id,
        Step::Dispatch,
        Acting::Office,
        None,
        Some(technician),
    )
    .await?;
    Ok(())
}

/// Repaired: everybody who reported it is told.
pub async fn fix(
    conn: &mut PgConnection,
    staff: Staff,
    id: i64,
    by: Acting,
) -> Result<(), ReportError> {
    take(conn, staff, id, Step::Fix, by, None, None).await?;
    Ok(())
}

/// A photo staff (or the crew, on the spot) add to report `id`; its id.
pub async fn add_staff_photo(
    conn: &mut PgConnection,
    staff: Staff,
    id: i64,
    photo: &CleanPhoto,
    by: Acting,
) -> Result<i64, ReportError> {
    lock(conn, staff, id, by).await?;
    let count = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM failure_report_photos WHERE report_id = $1 AND by_staff"#,
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    if count as usize >= photos::MAX_PHOTOS {
        return Err(ReportError::Invalid(vec![(
            "photo",
            format!("Zgłoszenie ma już {} zdjęć od ekipy.", photos::MAX_PHOTOS),
        )]));
    }
    let photo_id = store_photo(conn, id, photo, Some(staff.account_id), None, staff.now).await?;
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(staff.utility_id),
            actor: staff.actor(),
            action: "failure_report.photo_added",
            entity_type: Some("failure_report"),
            entity_id: Some(id.to_string()),
            details: json!({ "photo_id": photo_id, "bytes": photo.bytes.len() }),
            request_id: None,
        },
    )
    .await?;
    Ok(photo_id)
}

/// Announces the outage notice `draft` for verified (or dispatched) report `id` and links them:
/// one step from a confirmed failure to the residents of its area being told.
pub async fn announce_outage(
    conn: &mut PgConnection,
    staff: Staff,
    id: i64,
    draft: &Draft,
) -> Result<Announced, ReportError> {
    let report = lock(conn, staff, id, Acting::Office).await?;
    if !matches!(report.state, State::Verified | State::Dispatched) {
        return Err(ReportError::Step(report.state));
    }
    let linked = sqlx::query_scalar!("SELECT outage_id FROM failure_reports WHERE id = $1", id)
        .fetch_one(&mut *conn)
        .await?;
    if linked.is_some() {
        return Err(ReportError::Invalid(vec![(
            "outage",
            "Z tego zgłoszenia już powstał komunikat.".into(),
        )]));
    }
    let announced = notices::announce(conn, staff, draft).await?;
    sqlx::query!(
        "UPDATE failure_reports SET outage_id = $2, updated_at = $3 WHERE id = $1",
        id,
        announced.id,
        staff.now
    )
    .execute(&mut *conn)
    .await?;
    record_event(
        conn,
        id,
        staff.now,
        "failure_report.outage_announced",
        (Some(report.state), report.state),
        Some(staff.account_id),
        Some(&draft.title),
    )
    .await?;
    Ok(announced)
}

/// A draft notice about a report, for staff to complete with the area: a failure (a quality
/// warning for water quality), from now, titled with the report in words. Never the
/// reporter's description: the notice is public, and their words are theirs.
pub fn draft_for(category: Category, place: &Place, now: DateTime<Utc>) -> Draft {
    Draft {
        kind: match category {
            Category::WaterQuality => crate::store::Kind::QualityWarning,
            _ => crate::store::Kind::Failure,
        },
        title: what(category, place),
        description: None,
        starts_at: now,
        expected_end: None,
        area: Default::default(),
    }
}

/// Erases the addresses of the reporters without an account of reports closed (fixed or
/// rejected) before `closed_before`, at most `limit` reports a call: an address is kept to tell
/// its reporter each step and to answer them for a while after the last. The reporter stays,
/// without the address (`email_erased_at`). The reports whose addresses were erased; the
/// notices sent to them keep copies, which `mobile_push::recipients::forget_reporter_addresses`
/// erases.
pub async fn erase_closed_addresses(
    conn: &mut PgConnection,
    closed_before: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<i64>> {
    let mut reports = sqlx::query_scalar!(
        r#"WITH due AS (
               SELECT DISTINCT r.report_id FROM failure_reporters r
               JOIN failure_reports f ON f.id = r.report_id
               WHERE r.email IS NOT NULL AND f.state IN ('fixed', 'rejected')
                 AND f.updated_at < $1
               LIMIT $2)
           UPDATE failure_reporters SET email = NULL, email_erased_at = now()
           WHERE email IS NOT NULL AND report_id IN (SELECT report_id FROM due)
           RETURNING report_id"#,
        closed_before,
        limit
    )
    .fetch_all(conn)
    .await?;
    reports.sort_unstable();
    reports.dedup();
    Ok(reports)
}
