//! What residents and staff read of cases: a resident's cases and drafts, and one case with
//! its answers, form, attachments, history and deadline. Reads only; who may read is settled
//! by the scope given (a resident's account, or the utility for staff).

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::deadline;
use crate::documents;
use crate::form::{Answers, FormDefinition};
use crate::letters;
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

/// A step of one of a resident's cases, for their history across cases.
#[derive(Debug, Clone)]
pub struct StepLine {
    pub at: DateTime<Utc>,
    pub case_id: i64,
    pub number: String,
    pub type_name: String,
    pub to_state: State,
    pub note: Option<String>,
    pub document_id: Option<i64>,
    pub document_kind: Option<String>,
}

impl StepLine {
    /// The letter the step produced: (document id, file name, what it is).
    pub fn letter(&self) -> Option<(i64, String, &'static str)> {
        let kind = self.document_kind.as_deref()?;
        Some((
            self.document_id?,
            letters::file_name(kind, &self.number),
            letters::document_kind_polish(kind),
        ))
    }
}

/// The latest `limit` steps of resident account `account_id`'s submitted cases, newest first.
pub async fn steps_of_account(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<StepLine>> {
    sqlx::query_as!(
        StepLine,
        r#"SELECT e.at, c.id AS case_id, c.number AS "number!", t.name AS type_name,
                  e.to_state AS "to_state: State", e.note, e.document_id, e.document_kind
           FROM case_events e
           JOIN cases c ON c.id = e.case_id
           JOIN application_types t ON t.id = c.type_id
           WHERE c.utility_id = $1 AND c.account_id = $2 AND c.number IS NOT NULL
           ORDER BY e.id DESC
           LIMIT $3"#,
        utility_id,
        account_id,
        limit
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
    /// The letter the step produced, and its kind (`acknowledgement`, `decision`, `contract`).
    pub document_id: Option<i64>,
    pub document_kind: Option<String>,
}

impl EventLine {
    /// The letter's file name and what it is, when the step produced one.
    pub fn letter(&self, number: &str) -> Option<(i64, String, &'static str)> {
        let kind = self.document_kind.as_deref()?;
        Some((
            self.document_id?,
            letters::file_name(kind, number),
            letters::document_kind_polish(kind),
        ))
    }
}

/// A signature under a case's document.
#[derive(Debug, Clone)]
pub struct SignatureLine {
    pub document_id: i64,
    pub sha256: Vec<u8>,
    pub signatory: String,
    pub method: String,
    pub signed_at: DateTime<Utc>,
}

impl SignatureLine {
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The resident's feedback on a case.
#[derive(Debug, Clone)]
pub struct Feedback {
    pub rating: i16,
    pub comment: Option<String>,
    pub given_at: DateTime<Utc>,
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
    /// The customer the case is about, when the resident applied as one.
    pub customer_id: Option<i64>,
    /// The clerk who filled the draft in the resident's name, as their account names them.
    pub prepared_by: Option<String>,
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
    pub signatures: Vec<SignatureLine>,
    /// The billing contract the case concluded (its number).
    pub contract_number: Option<String>,
    pub feedback: Option<Feedback>,
}

impl CaseView {
    /// Whether the resident may still give feedback: the case is over and none was given.
    pub fn awaits_feedback(&self) -> bool {
        matches!(self.state, State::Closed | State::Concluded) && self.feedback.is_none()
    }

    /// The answers as people read them, in the form's order: (the field's label, the value with
    /// a choice's label, a date in Polish, a quantity with its unit).
    pub fn answers_read(&self) -> Vec<(String, String)> {
        self.form.read(&self.answers)
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
                  c.state AS "state: State", c.account_id, c.customer_id, c.prepared_by, c.answers,
                  coalesce(c.form, t.form) AS "form!", c.submitted_at, c.complete_on,
                  c.paused_days, c.extended, c.decided_on, c.appealed, c.assigned_to,
                  k.number AS "contract_number?", f.rating AS "rating?", f.comment,
                  f.given_at AS "given_at?", p.display_name AS "prepared_by_name?"
           FROM cases c JOIN application_types t ON t.id = c.type_id
           LEFT JOIN contracts k ON k.id = c.contract_id
           LEFT JOIN case_feedback f ON f.case_id = c.id
           LEFT JOIN user_accounts p ON p.id = c.prepared_by
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
        r#"SELECT at, action, to_state AS "to_state: State", note, document_id, document_kind
           FROM case_events WHERE case_id = $1 ORDER BY id"#,
        r.id
    )
    .fetch_all(&mut *conn)
    .await?;
    let signatures = sqlx::query_as!(
        SignatureLine,
        r#"SELECT s.document_id, s.sha256, a.display_name AS signatory, s.method, s.signed_at
           FROM signatures s JOIN user_accounts a ON a.id = s.account_id
           WHERE s.case_id = $1 ORDER BY s.id"#,
        r.id
    )
    .fetch_all(&mut *conn)
    .await?;
    let due = match (r.complete_on, first_instance_clock(r.state)) {
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
        customer_id: r.customer_id,
        prepared_by: r.prepared_by_name,
        answers: serde_json::from_value(r.answers).map_err(decode)?,
        form: serde_json::from_value(r.form).map_err(decode)?,
        submitted_at: r.submitted_at,
        due,
        appeal_until,
        assigned_to: r.assigned_to,
        facts: store::facts(r.contract, r.appealed, r.extended, r.decided_on, today),
        attachments,
        events,
        signatures,
        contract_number: r.contract_number,
        feedback: match (r.rating, r.given_at) {
            (Some(rating), Some(given_at)) => Some(Feedback {
                rating,
                comment: r.comment,
                given_at,
            }),
            _ => None,
        },
    }))
}

/// A letter case `case_id` issued (acknowledgement, decision, contract), if `scope` may read
/// the case: its file name, type and content.
pub async fn letter(
    conn: &mut PgConnection,
    utility_id: i64,
    case_id: i64,
    document_id: i64,
    scope: Scope,
) -> sqlx::Result<Option<(String, String, Vec<u8>)>> {
    let Some(r) = sqlx::query!(
        r#"SELECT e.document_kind AS "kind!", c.number AS "number!", c.account_id
           FROM case_events e
           JOIN cases c ON c.id = e.case_id
           WHERE c.utility_id = $1 AND c.id = $2 AND e.document_id = $3
           LIMIT 1"#,
        utility_id,
        case_id,
        document_id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let visible = match scope {
        Scope::Resident { account_id } => r.account_id == account_id,
        // A case with a letter is submitted: all its utility's staff may read it.
        Scope::Staff { .. } => true,
    };
    if !visible {
        return Ok(None);
    }
    Ok(documents::content(conn, utility_id, document_id)
        .await?
        .map(|(content_type, content)| {
            (
                letters::file_name(&r.kind, &r.number),
                content_type,
                content,
            )
        }))
}

/// An internal note on a case.
#[derive(Debug, Clone)]
pub struct NoteLine {
    pub at: DateTime<Utc>,
    pub author: String,
    pub body: String,
}

/// Staff's internal notes on case `case_id` of utility `utility_id`, oldest first. For staff
/// pages only.
pub async fn notes(
    conn: &mut PgConnection,
    utility_id: i64,
    case_id: i64,
) -> sqlx::Result<Vec<NoteLine>> {
    sqlx::query_as!(
        NoteLine,
        r#"SELECT n.at, a.display_name AS author, n.body
           FROM case_notes n
           JOIN cases c ON c.id = n.case_id
           JOIN user_accounts a ON a.id = n.author_id
           WHERE c.utility_id = $1 AND c.id = $2
           ORDER BY n.id"#,
        utility_id,
        case_id
    )
    .fetch_all(conn)
    .await
}

/// Residents' satisfaction with one application type.
#[derive(Debug, Clone)]
pub struct FeedbackSummary {
    pub type_name: String,
    pub answers: i64,
    /// The mean rating in hundredths (437 = 4,37).
    pub mean_hundredths: i64,
    /// How many gave 1, 2, 3, 4, 5.
    pub by_rating: [i64; 5],
    /// The latest comments: (rating, comment, case number).
    pub comments: Vec<(i16, String, String)>,
}

/// Utility `utility_id`'s feedback per application type, the most answered first.
pub async fn feedback_summary(
    conn: &mut PgConnection,
    utility_id: i64,
) -> sqlx::Result<Vec<FeedbackSummary>> {
    let rows = sqlx::query!(
        r#"SELECT t.id, t.name, count(*) AS "answers!",
                  round(avg(f.rating) * 100)::bigint AS "mean!",
                  count(*) FILTER (WHERE f.rating = 1) AS "r1!",
                  count(*) FILTER (WHERE f.rating = 2) AS "r2!",
                  count(*) FILTER (WHERE f.rating = 3) AS "r3!",
                  count(*) FILTER (WHERE f.rating = 4) AS "r4!",
                  count(*) FILTER (WHERE f.rating = 5) AS "r5!"
           FROM case_feedback f
           JOIN cases c ON c.id = f.case_id
           JOIN application_types t ON t.id = c.type_id
           WHERE c.utility_id = $1
           GROUP BY t.id, t.name
           ORDER BY count(*) DESC, t.name"#,
        utility_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let comments = sqlx::query!(
            r#"SELECT f.rating, f.comment AS "comment!", c.number AS "number!"
               FROM case_feedback f JOIN cases c ON c.id = f.case_id
               WHERE c.utility_id = $1 AND c.type_id = $2 AND f.comment IS NOT NULL
               ORDER BY f.given_at DESC LIMIT 5"#,
            utility_id,
            r.id
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|c| (c.rating, c.comment, c.number))
        .collect();
        out.push(FeedbackSummary {
            type_name: r.name,
            answers: r.answers,
            mean_hundredths: r.mean,
            by_rating: [r.r1, r.r2, r.r3, r.r4, r.r5],
            comments,
        });
    }
    Ok(out)
}

/// An application a clerk prepared for a customer's resident.
#[derive(Debug, Clone)]
pub struct PreparedLine {
    pub id: i64,
    pub type_name: String,
    pub state: State,
    pub number: Option<String>,
    /// The resident's e-mail.
    pub account: String,
    pub updated_at: DateTime<Utc>,
}

/// The applications staff prepared in the name of customer `customer_id`'s residents, the
/// latest first: drafts waiting for the resident, and what became of the others.
pub async fn prepared_for(
    conn: &mut PgConnection,
    utility_id: i64,
    customer_id: i64,
) -> sqlx::Result<Vec<PreparedLine>> {
    sqlx::query_as!(
        PreparedLine,
        r#"SELECT c.id, t.name AS type_name, c.state AS "state: State", c.number,
                  a.email AS account, c.updated_at
           FROM cases c
           JOIN application_types t ON t.id = c.type_id
           JOIN user_accounts a ON a.id = c.account_id
           WHERE c.utility_id = $1 AND c.customer_id = $2 AND c.prepared_by IS NOT NULL
           ORDER BY c.id DESC LIMIT 20"#,
        utility_id,
        customer_id
    )
    .fetch_all(conn)
    .await
}

/// Whether the application's 30 days run in `state` (the utility's turn, or paused for a
/// supplement). An appeal's own time is not tracked yet, so an appealed case shows no
/// deadline rather than the first instance's, long past.
fn first_instance_clock(state: State) -> bool {
    matches!(
        state,
        State::Registered | State::Assigned | State::AwaitingSupplement
    )
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
            let running = first_instance_clock(r.state);
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
    let Some(r) = sqlx::query!(
        r#"SELECT a.file_name, a.document_id, c.account_id, c.state AS "state: State",
                  c.prepared_by
           FROM case_attachments a
           JOIN cases c ON c.id = a.case_id
           WHERE c.utility_id = $1 AND c.id = $2 AND a.id = $3"#,
        utility_id,
        case_id,
        attachment_id
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
    Ok(documents::content(conn, utility_id, r.document_id)
        .await?
        .map(|(content_type, content)| (r.file_name, content_type, content)))
}
