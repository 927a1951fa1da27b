//! What residents and staff read of cases: a resident's cases and drafts, and one case with
//! its answers, form, attachments, history and deadline. Reads only; who may read is settled
//! by the scope given (a resident's account, or the utility for staff).

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::deadline;
use crate::form::{Answers, FieldKind, FormDefinition};
use crate::lifecycle::{Facts, State};
use crate::store;

/// One line of a list of cases.
#[derive(Debug, Clone)]
pub struct CaseLine {
    pub id: i64,
    pub number: Option<String>,
    pub type_name: String,
    pub state: State,
    pub submitted_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// Resident account `account_id`'s cases and drafts, the latest first.
pub async fn of_account(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
) -> sqlx::Result<Vec<CaseLine>> {
    sqlx::query_as!(
        CaseLine,
        r#"SELECT c.id, c.number, t.name AS type_name, c.state AS "state: State",
                  c.submitted_at, c.updated_at
           FROM cases c JOIN application_types t ON t.id = c.type_id
           WHERE c.utility_id = $1 AND c.account_id = $2 AND c.state <> 'withdrawn'
           ORDER BY c.updated_at DESC
           LIMIT 200"#,
        utility_id,
        account_id
    )
    .fetch_all(conn)
    .await
}

/// A file attached to a case.
#[derive(Debug, Clone)]
pub struct AttachmentLine {
    pub id: i64,
    pub rule: String,
    pub file_name: String,
    pub document_id: i64,
    pub bytes: i64,
    pub supplement: bool,
    pub added_at: DateTime<Utc>,
}

/// A step of a case's history.
#[derive(Debug, Clone)]
pub struct EventLine {
    pub at: DateTime<Utc>,
    pub action: String,
    pub to_state: State,
    pub note: Option<String>,
}

/// One case as its pages show it.
#[derive(Debug, Clone)]
pub struct CaseView {
    pub id: i64,
    pub number: Option<String>,
    pub type_code: String,
    pub type_name: String,
    pub contract: bool,
    pub state: State,
    pub account_id: i64,
    pub answers: Answers,
    /// The form it was submitted against (the type's current one while a draft).
    pub form: FormDefinition,
    pub submitted_at: Option<DateTime<Utc>>,
    /// The last day the utility has to decide, while it is the utility's turn.
    pub due: Option<NaiveDate>,
    /// The last day to appeal the decision, while it may be appealed.
    pub appeal_until: Option<NaiveDate>,
    /// The clerk handling it.
    pub assigned_to: Option<i64>,
    /// What, besides state and role, decides the next actions ([`crate::lifecycle::next`]).
    pub facts: Facts,
    pub attachments: Vec<AttachmentLine>,
    pub events: Vec<EventLine>,
}

impl CaseView {
    /// The answers as people read them, in the form's order: (the field's label, the value with
    /// a choice's label, a date in Polish, a quantity with its unit).
    pub fn answers_read(&self) -> Vec<(String, String)> {
        self.form
            .fields
            .iter()
            .filter_map(|field| {
                let value = self.answers.get(&field.key)?;
                let value = match &field.kind {
                    FieldKind::Choice { options } | FieldKind::Choices { options } => value
                        .split(',')
                        .filter_map(|v| options.iter().find(|o| o.value == v))
                        .map(|o| o.label.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    FieldKind::Date { .. } => NaiveDate::parse_from_str(value, "%Y-%m-%d")
                        .map(ebok_common::polish::day)
                        .unwrap_or_else(|_| value.clone()),
                    FieldKind::Quantity { unit, .. } => format!("{value} {unit}"),
                    _ => value.clone(),
                };
                Some((field.label.clone(), value))
            })
            .collect()
    }
}

/// Whose case may be read.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// Only this resident's own cases (drafts included).
    Resident { account_id: i64 },
    /// The utility's submitted cases, and drafts this staff member prepares.
    Staff { account_id: i64 },
}

/// Case `case_id` of utility `utility_id`, if `scope` may read it.
pub async fn case(
    conn: &mut PgConnection,
    utility_id: i64,
    case_id: i64,
    scope: Scope,
    today: NaiveDate,
) -> sqlx::Result<Option<CaseView>> {
    let Some(r) = sqlx::query!(
        r#"SELECT c.id, c.number, t.code AS type_code, t.name AS type_name, t.contract,
                  c.state AS "state: State", c.account_id, c.prepared_by, c.answers,
                  coalesce(c.form, t.form) AS "form!", c.submitted_at, c.complete_on,
                  c.paused_days, c.extended, c.decided_on, c.appealed, c.assigned_to
           FROM cases c JOIN application_types t ON t.id = c.type_id
           WHERE c.utility_id = $1 AND c.id = $2"#,
        utility_id,
        case_id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let visible = match scope {
        Scope::Resident { account_id } => r.account_id == account_id,
        Scope::Staff { account_id } => r.state != State::Draft || r.prepared_by == Some(account_id),
    };
    if !visible {
        return Ok(None);
    }
    let decode = |e: serde_json::Error| sqlx::Error::Decode(Box::new(e));
    let attachments = sqlx::query_as!(
        AttachmentLine,
        r#"SELECT a.id, a.rule, a.file_name, a.document_id, d.bytes, a.supplement, a.added_at
           FROM case_attachments a JOIN documents d ON d.id = a.document_id
           WHERE a.case_id = $1 ORDER BY a.id"#,
        r.id
    )
    .fetch_all(&mut *conn)
    .await?;
    let events = sqlx::query_as!(
        EventLine,
        r#"SELECT at, action, to_state AS "to_state: State", note
           FROM case_events WHERE case_id = $1 ORDER BY id"#,
        r.id
    )
    .fetch_all(&mut *conn)
    .await?;
    let due = match (
        r.complete_on,
        r.state.awaits_the_utility() || r.state == State::AwaitingSupplement,
    ) {
        (Some(on), true) => Some(store::clock(on, r.paused_days, r.extended).due()),
        _ => None,
    };
    let appeal_until = match (r.state, r.decided_on) {
        (State::Approved | State::Refused, Some(d)) if !r.appealed => {
            Some(deadline::appeal_until(d)).filter(|until| *until >= today)
        }
        _ => None,
    };
    Ok(Some(CaseView {
        id: r.id,
        number: r.number,
        type_code: r.type_code,
        type_name: r.type_name,
        contract: r.contract,
        state: r.state,
        account_id: r.account_id,
        answers: serde_json::from_value(r.answers).map_err(decode)?,
        form: serde_json::from_value(r.form).map_err(decode)?,
        submitted_at: r.submitted_at,
        due,
        appeal_until,
        assigned_to: r.assigned_to,
        facts: store::facts(r.contract, r.appealed, r.extended, r.decided_on, today),
        attachments,
        events,
    }))
}

/// Which cases a queue shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// Open cases assigned to this staff member.
    Mine(i64),
    /// Open cases nobody has taken.
    Unassigned,
    /// Every open case.
    Open,
    /// Closed and withdrawn ones too.
    All,
}

/// One line of the staff's queue.
#[derive(Debug, Clone)]
pub struct QueueLine {
    pub id: i64,
    pub number: String,
    pub type_name: String,
    pub applicant: String,
    pub state: State,
    pub assigned_to: Option<String>,
    pub submitted_at: DateTime<Utc>,
    /// The deadline, while it is the utility's turn (or the resident's, paused).
    pub due: Option<NaiveDate>,
}

/// The utility's submitted cases in `queue`, the nearest deadline first (then the oldest).
pub async fn queue(
    conn: &mut PgConnection,
    utility_id: i64,
    queue: Queue,
    limit: i64,
) -> sqlx::Result<Vec<QueueLine>> {
    let (mine, unassigned, open) = match queue {
        Queue::Mine(id) => (Some(id), false, true),
        Queue::Unassigned => (None, true, true),
        Queue::Open => (None, false, true),
        Queue::All => (None, false, false),
    };
    let rows = sqlx::query!(
        r#"SELECT c.id, c.number AS "number!", t.name AS type_name,
                  coalesce(c.answers->>'applicant_name', cu.name, a.display_name) AS "applicant!",
                  c.state AS "state: State", s.display_name AS "assigned_to?",
                  c.submitted_at AS "submitted_at!", c.complete_on AS "complete_on!",
                  c.paused_days, c.extended
           FROM cases c
           JOIN application_types t ON t.id = c.type_id
           JOIN user_accounts a ON a.id = c.account_id
           LEFT JOIN customers cu ON cu.id = c.customer_id
           LEFT JOIN user_accounts s ON s.id = c.assigned_to
           WHERE c.utility_id = $1 AND c.state <> 'draft'
             AND ($2::bigint IS NULL OR c.assigned_to = $2)
             AND (NOT $3 OR c.assigned_to IS NULL)
             AND (NOT $4 OR c.state NOT IN ('closed', 'withdrawn'))
           ORDER BY c.complete_on + c.paused_days + CASE WHEN c.extended THEN 14 ELSE 0 END,
                    c.submitted_at
           LIMIT $5"#,
        utility_id,
        mine,
        unassigned,
        open,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let running = r.state.awaits_the_utility() || r.state == State::AwaitingSupplement;
            QueueLine {
                id: r.id,
                number: r.number,
                type_name: r.type_name,
                applicant: r.applicant,
                state: r.state,
                assigned_to: r.assigned_to,
                submitted_at: r.submitted_at,
                due: running.then(|| store::clock(r.complete_on, r.paused_days, r.extended).due()),
            }
        })
        .collect())
}

/// The bytes of attachment `attachment_id` of case `case_id`, if `scope` may read the case:
/// its file name, type and content.
pub async fn attachment(
    conn: &mut PgConnection,
    utility_id: i64,
    case_id: i64,
    attachment_id: i64,
    scope: Scope,
) -> sqlx::Result<Option<(String, String, Vec<u8>)>> {
    let r = sqlx::query!(
        r#"SELECT a.file_name, d.content_type, d.content, c.account_id, c.state AS "state: State",
                  c.prepared_by
           FROM case_attachments a
           JOIN cases c ON c.id = a.case_id
           JOIN documents d ON d.id = a.document_id
           WHERE c.utility_id = $1 AND c.id = $2 AND a.id = $3"#,
        utility_id,
        case_id,
        attachment_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(r.and_then(|r| {
        let visible = match scope {
            Scope::Resident { account_id } => r.account_id == account_id,
            Scope::Staff { account_id } => {
                r.state != State::Draft || r.prepared_by == Some(account_id)
            }
        };
        visible
            .then_some(r.content)
            .flatten()
            .map(|content| (r.file_name, r.content_type, content))
    }))
}
