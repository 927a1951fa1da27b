//! What residents and staff read of cases: a resident's cases and drafts, and one case with
//! its answers, form, attachments, history and deadline. Reads only; who may read is settled
//! by the scope given (a resident's account, or the utility for staff).

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::deadline;
use crate::form::{Answers, FormDefinition};
use crate::lifecycle::State;
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
    pub attachments: Vec<AttachmentLine>,
    pub events: Vec<EventLine>,
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
                  c.paused_days, c.extended, c.decided_on, c.appealed
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
        attachments,
        events,
    }))
}
