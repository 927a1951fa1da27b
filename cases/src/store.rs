//! Cases in the database: drafts a resident (or a clerk in their name) fills and attaches files
//! to, submission (checked complete, numbered, its clock started), and every later action —
//! each checked by [`lifecycle::next`] first, then written with its history row, the letter it
//! produces ([`letters`]: acknowledgement, decision, contract), the resident's notice (outbox
//! `case.stage_changed`) and an audit entry in one transaction. Signing the offered contract
//! goes through a [`Signer`]; staff's internal notes and the resident's feedback are kept here
//! too.
//!
//! A case is found by its utility and id; a resident reaches only their own (another's is "not
//! found", as an unknown one), staff only their utility's.

use chrono::{Datelike, NaiveDate};
use ebok_common::audit::{self, Actor, AuditEntry};
use ebok_common::outbox::{
    self, Addressee, CaseDraftPrepared, CaseStageChanged, Event, OutboxEvent,
};
use serde_json::{Value, json};
use sqlx::PgConnection;

use crate::attachments::{self, Attached};
use crate::deadline::{self, Clock};
use crate::documents;
use crate::form::{Answers, FieldError, FormDefinition};
use crate::letters::{self, LetterKind};
use crate::lifecycle::{self, Action, Facts, Refusal, State, Who};
use crate::number::CaseNumber;
use crate::signing::{SignError, Signer, ToSign};
use crate::types;

/// Who acts on a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acting {
    Resident {
        account_id: i64,
    },
    /// Staff of the case's utility; `manager`: assigns, decides appeals, handles any case.
    Staff {
        account_id: i64,
        manager: bool,
    },
}

impl Acting {
    fn account_id(self) -> i64 {
        match self {
            Acting::Resident { account_id } | Acting::Staff { account_id, .. } => account_id,
        }
    }

    fn audit_actor(self) -> Actor {
        match self {
            Acting::Resident { account_id } => Actor::Resident { account_id },
            Acting::Staff { account_id, .. } => Actor::Staff {
                account_id,
                on_behalf_of: None,
            },
        }
    }
}

/// Why something was not done to a case.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// No such case of the utility, or not the resident's.
    #[error("no such case")]
    NotFound,
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Fields or attachments to put right, each with its Polish message.
    #[error("{} fields to put right", .0.len())]
    Fields(Vec<FieldError>),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A case as the checks need it.
#[derive(Debug, Clone)]
struct Loaded {
    id: i64,
    type_id: i64,
    prefix: String,
    contract: bool,
    number: Option<String>,
    state: State,
    account_id: i64,
    customer_id: Option<i64>,
    prepared_by: Option<i64>,
    answers: Answers,
    /// The form it was submitted against; the type's current one while a draft.
    form: FormDefinition,
    assigned_to: Option<i64>,
    paused_days: i32,
    awaiting_since: Option<NaiveDate>,
    extended: bool,
    decided_on: Option<NaiveDate>,
    appealed: bool,
    handed_over: bool,
}

fn decode<T: serde::de::DeserializeOwned>(v: Value) -> sqlx::Result<T> {
    serde_json::from_value(v).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// Case `case_id` of utility `utility_id`, locked for the caller's transaction, if `acting`
/// may see it: its resident, a clerk who prepares it, or the utility's staff once submitted.
async fn load(
    conn: &mut PgConnection,
    utility_id: i64,
    case_id: i64,
    acting: Acting,
) -> Result<Loaded, CaseError> {
    let r = sqlx::query!(
        r#"SELECT c.id, c.type_id, t.prefix, t.contract, c.number, c.state AS "state: State",
                  c.account_id, c.customer_id, c.prepared_by, c.answers,
                  coalesce(c.form, t.form) AS "form!", c.assigned_to,
                  c.paused_days, c.awaiting_since, c.extended, c.decided_on, c.appealed,
                  c.handed_over_at IS NOT NULL AS "handed_over!"
           FROM cases c JOIN application_types t ON t.id = c.type_id
           WHERE c.utility_id = $1 AND c.id = $2
           FOR UPDATE OF c"#,
        utility_id,
        case_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(CaseError::NotFound)?;
    let visible = match acting {
        Acting::Resident { account_id } => account_id == r.account_id,
        Acting::Staff { account_id, .. } => {
            r.state != State::Draft || r.prepared_by == Some(account_id)
        }
    };
    if !visible {
        return Err(CaseError::NotFound);
    }
    Ok(Loaded {
        id: r.id,
        type_id: r.type_id,
        prefix: r.prefix,
        contract: r.contract,
        number: r.number,
        state: r.state,
        account_id: r.account_id,
        customer_id: r.customer_id,
        prepared_by: r.prepared_by,
        answers: decode(r.answers)?,
        form: decode(r.form)?,
        assigned_to: r.assigned_to,
        paused_days: r.paused_days,
        awaiting_since: r.awaiting_since,
        extended: r.extended,
        decided_on: r.decided_on,
        appealed: r.appealed,
        handed_over: r.handed_over,
    })
}

/// Starts a draft of type `code` for resident account `account_id` (about their customer
/// `customer_id`, if given). A clerk may prepare it in the resident's name (`prepared_by`);
/// only the resident submits it.
pub async fn start_draft(
    conn: &mut PgConnection,
    utility_id: i64,
    code: &str,
    account_id: i64,
    customer_id: Option<i64>,
    prepared_by: Option<i64>,
) -> Result<i64, CaseError> {
    let t = types::get(conn, utility_id, code)
        .await?
        .filter(|t| t.active)
        .ok_or(CaseError::NotFound)?;
    let id = sqlx::query_scalar!(
        r#"INSERT INTO cases (utility_id, type_id, account_id, customer_id, prepared_by)
           SELECT $1, $2, a.id, $4, $5 FROM user_accounts a
           WHERE a.utility_id = $1 AND a.id = $3 AND a.role = 'resident'
           RETURNING id"#,
        utility_id,
        t.id,
        account_id,
        customer_id,
        prepared_by
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(CaseError::NotFound)?;
    if let Some(clerk) = prepared_by {
        audit::record(
            conn,
            &AuditEntry {
                utility_id: Some(utility_id),
                actor: Actor::Staff {
                    account_id: clerk,
                    on_behalf_of: Some(account_id),
                },
                action: "case.draft_prepared",
                entity_type: Some("case"),
                entity_id: Some(id.to_string()),
                details: json!({"type": code, "customer_id": customer_id}),
                request_id: None,
            },
        )
        .await?;
    }
    Ok(id)
}

/// Keeps what was typed into draft `case_id` (only the form's own fields, each at most 20,000
/// characters): a draft may be finished later.
pub async fn save_answers(
    conn: &mut PgConnection,
    utility_id: i64,
    case_id: i64,
    acting: Acting,
    answers: &Answers,
) -> Result<(), CaseError> {
    let case = load(conn, utility_id, case_id, acting).await?;
    if case.state != State::Draft {
        return Err(Refusal::WrongState(case.state).into());
    }
    staff_may_still_edit(&case, acting)?;
    let kept: Answers = answers
        .iter()
        .filter(|(k, v)| {
            case.form.fields.iter().any(|f| &f.key == *k) && v.chars().count() <= 20_000
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    sqlx::query!(
        "UPDATE cases SET answers = $2, updated_at = now() WHERE id = $1",
        case.id,
        serde_json::to_value(&kept).expect("answers serialise")
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Attaches a file to case `case_id` under the form's rule `rule`: to a draft (by its resident
/// or the clerk preparing it), or as a supplement to a case awaiting one (by its resident).
/// The file is checked by the rule (type by content, size, count); the attachment's id.
pub async fn attach(
    conn: &mut PgConnection,
    utility_id: i64,
    case_id: i64,
    acting: Acting,
    rule: &str,
    file_name: &str,
    content: &[u8],
) -> Result<i64, CaseError> {
    let case = load(conn, utility_id, case_id, acting).await?;
    let supplement = match (case.state, acting) {
        (State::Draft, _) => {
            staff_may_still_edit(&case, acting)?;
            false
        }
        (State::AwaitingSupplement, Acting::Resident { .. }) => true,
        (state, _) => return Err(Refusal::WrongState(state).into()),
    };
    let Some(r) = case
        .form
        .attachments_for(&case.answers)
        .find(|a| a.key == rule)
    else {
        return Err(CaseError::Fields(vec![FieldError::new(
            rule,
            "Ten załącznik nie dotyczy wniosku.",
        )]));
    };
    let already = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM case_attachments WHERE case_id = $1 AND rule = $2"#,
        case.id,
        rule
    )
    .fetch_one(&mut *conn)
    .await?;
    let file_type = r
        .accept(file_name, content, already as usize)
        .map_err(|m| CaseError::Fields(vec![FieldError::new(rule, m)]))?;
    let doc = documents::store(conn, utility_id, content, file_type.mime()).await?;
    let id = sqlx::query_scalar!(
        r#"INSERT INTO case_attachments (case_id, rule, document_id, file_name, added_by, supplement)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (case_id, rule, document_id) DO UPDATE SET file_name = excluded.file_name
           RETURNING id"#,
        case.id,
        rule,
        doc.id,
        file_name.trim(),
        acting.account_id(),
        supplement
    )
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// Submits draft `case_id` (its resident only): the answers and attachments are checked
/// against the type's form — an incomplete application is not submitted, and every field and
/// attachment to put right is named — then the case is numbered, registered and its 30 days
/// start `today` (in Warsaw). The case number.
pub async fn submit(
    conn: &mut PgConnection,
    utility_id: i64,
    case_id: i64,
    acting: Acting,
    today: NaiveDate,
) -> Result<CaseNumber, CaseError> {
    let case = load(conn, utility_id, case_id, acting).await?;
    let who = who(&case, acting);
    let to = lifecycle::next(case.state, Action::Submit, who, Facts::default())?;
    let answers = complete(conn, &case, today).await?;
    let seq = sqlx::query_scalar!(
        r#"INSERT INTO case_counters AS c (utility_id, prefix, year, last) VALUES ($1, $2, $3, 1)
           ON CONFLICT (utility_id, prefix, year) DO UPDATE SET last = c.last + 1
           RETURNING last"#,
        utility_id,
        case.prefix,
        today.year()
    )
    .fetch_one(&mut *conn)
    .await?;
    let number = CaseNumber::new(&case.prefix, today.year(), seq as u32)
        .expect("a type's prefix and a counter make a number");
    let customer = match case.customer_id {
        Some(id) => sqlx::query!("SELECT pesel, nip FROM customers WHERE id = $1", id)
            .fetch_optional(&mut *conn)
            .await?
            .map(|c| (c.pesel, c.nip)),
        None => None,
    };
    let (customer_pesel, customer_nip) = customer.unwrap_or((None, None));
    sqlx::query!(
        r#"UPDATE cases SET state = 'registered', number = $2, answers = $3, form = $4,
                            submitted_at = now(), complete_on = $5, applicant_pesel = $6,
                            applicant_nip = $7, state_changed_at = now(), updated_at = now()
           WHERE id = $1"#,
        case.id,
        number.to_string(),
        serde_json::to_value(&answers).expect("answers serialise"),
        serde_json::to_value(&case.form).expect("a form serialises"),
        today,
        answers.get("pesel").cloned().or(customer_pesel),
        answers.get("nip").cloned().or(customer_nip),
    )
    .execute(&mut *conn)
    .await?;
    let mut submitted = case.clone();
    submitted.number = Some(number.to_string());
    let acknowledgement = letters::issue(
        conn,
        utility_id,
        case.id,
        LetterKind::Acknowledgement,
        &letters::Issue {
            due: Some(clock(today, 0, false).due()),
            ..Default::default()
        },
        today,
    )
    .await?;
    record(
        conn,
        &Step {
            utility_id,
            case: &submitted,
            acting,
            action: Action::Submit,
            to,
            note: None,
            document: Some((acknowledgement.id, LetterKind::Acknowledgement)),
        },
        json!({"type_id": case.type_id, "number": number.to_string(),
               "prepared_by": case.prepared_by}),
    )
    .await?;
    Ok(number)
}

/// The draft's answers, checked and canonical, if the application is complete: else every
/// field and attachment to put right.
async fn complete(
    conn: &mut PgConnection,
    case: &Loaded,
    today: NaiveDate,
) -> Result<Answers, CaseError> {
    let mut errors = Vec::new();
    let answers = case
        .form
        .validate(&case.answers, today)
        .unwrap_or_else(|e| {
            errors = e;
            Answers::new()
        });
    let rules: Vec<String> = sqlx::query_scalar!(
        "SELECT rule FROM case_attachments WHERE case_id = $1",
        case.id
    )
    .fetch_all(&mut *conn)
    .await?;
    let attached: Vec<Attached<'_>> = rules.iter().map(|r| Attached { rule: r }).collect();
    // What applies follows the answers as typed (the fields in error are named above).
    errors.extend(attachments::missing(&case.form, &case.answers, &attached));
    if errors.is_empty() {
        Ok(answers)
    } else {
        Err(CaseError::Fields(errors))
    }
}

/// Hands draft `case_id`, prepared by the clerk `acting` in the resident's name, over to the
/// resident (seed 000): it must be complete; the resident is told (outbox
/// `case.draft_prepared`) and submits it — or not — in their eBOK. Audited with the clerk as
/// actor and the resident as the one acted for.
pub async fn hand_over(
    conn: &mut PgConnection,
    utility_id: i64,
    case_id: i64,
    acting: Acting,
    today: NaiveDate,
) -> Result<(), CaseError> {
    let Acting::Staff { account_id, .. } = acting else {
        return Err(Refusal::WrongRole.into());
    };
    let case = load(conn, utility_id, case_id, acting).await?;
    if case.state != State::Draft {
        return Err(Refusal::WrongState(case.state).into());
    }
    if case.prepared_by != Some(account_id) {
        return Err(Refusal::WrongRole.into());
    }
    staff_may_still_edit(&case, acting)?;
    complete(conn, &case, today).await?;
    sqlx::query!(
        "UPDATE cases SET handed_over_at = now(), updated_at = now() WHERE id = $1",
        case.id
    )
    .execute(&mut *conn)
    .await?;
    let r = sqlx::query!(
        r#"SELECT t.name AS type_name, a.display_name AS clerk
           FROM application_types t, user_accounts a WHERE t.id = $1 AND a.id = $2"#,
        case.type_id,
        account_id
    )
    .fetch_one(&mut *conn)
    .await?;
    outbox::enqueue(
        conn,
        &OutboxEvent {
            utility_id,
            event: Event::CaseDraftPrepared(CaseDraftPrepared {
                case_id: case.id,
                type_name: r.type_name,
                clerk: r.clerk,
            }),
            to: Addressee::Account(case.account_id),
            dedup_key: Some(format!("case_draft_prepared:{}", case.id)),
        },
    )
    .await?;
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: Actor::Staff {
                account_id,
                on_behalf_of: Some(case.account_id),
            },
            action: "case.draft_handed_over",
            entity_type: Some("case"),
            entity_id: Some(case.id.to_string()),
            details: json!({"type_id": case.type_id}),
            request_id: None,
        },
    )
    .await?;
    Ok(())
}

/// A draft a clerk prepared is theirs to change until they hand it over; then the resident's.
fn staff_may_still_edit(case: &Loaded, acting: Acting) -> Result<(), CaseError> {
    match acting {
        Acting::Staff { .. } if case.handed_over => Err(Refusal::HandedOver.into()),
        _ => Ok(()),
    }
}

/// What else an action needs.
#[derive(Debug, Clone, Default)]
pub struct Details<'a> {
    /// The reason the resident is told: required to request a supplement, to refuse and to
    /// extend the deadline.
    pub note: Option<&'a str>,
    /// The clerk a manager assigns the case to (a clerk taking a case assigns it to themself).
    pub assign_to: Option<i64>,
    /// The billing contract a supply-contract case concluded: required to conclude (the
    /// caller starts it in the same transaction).
    pub contract_id: Option<i64>,
}

/// Does `action` (any but [`Action::Submit`], and [`Action::SignContract`], which is
/// [`sign_contract`]'s) to case `case_id`, `today` being the day in Warsaw; the case's new
/// state.
pub async fn act(
    conn: &mut PgConnection,
    utility_id: i64,
    case_id: i64,
    acting: Acting,
    action: Action,
    details: &Details<'_>,
    today: NaiveDate,
) -> Result<State, CaseError> {
    if action == Action::Submit {
        return submit(conn, utility_id, case_id, acting, today)
            .await
            .map(|_| State::Registered);
    }
    let case = load(conn, utility_id, case_id, acting).await?;
    if action == Action::SignContract {
        return Err(CaseError::Fields(vec![FieldError::new(
            "password",
            "Umowę podpisuje się hasłem, na stronie sprawy.",
        )]));
    }
    let facts = facts(
        case.contract,
        case.appealed,
        case.extended,
        case.decided_on,
        today,
    );
    let to = lifecycle::next(case.state, action, who(&case, acting), facts)?;
    let note = details.note.map(str::trim).filter(|n| !n.is_empty());
    if matches!(
        action,
        Action::RequestSupplement | Action::Refuse | Action::ExtendDeadline
    ) && note.is_none()
    {
        return Err(CaseError::Fields(vec![FieldError::new(
            "note",
            "Podaj uzasadnienie: mieszkaniec je otrzyma.",
        )]));
    }
    let assigned_to = match (action, acting) {
        (Action::Assign, Acting::Staff { manager: true, .. }) => {
            let Some(clerk) = details.assign_to else {
                return Err(CaseError::Fields(vec![FieldError::new(
                    "assign_to",
                    "Wybierz osobę, której przekazujesz sprawę.",
                )]));
            };
            let staff = sqlx::query_scalar!(
                r#"SELECT true AS "ok!" FROM user_accounts
                   WHERE utility_id = $1 AND id = $2 AND role IN ('clerk', 'admin')
                     AND status = 'active'"#,
                utility_id,
                clerk
            )
            .fetch_optional(&mut *conn)
            .await?;
            if staff.is_none() {
                return Err(CaseError::Fields(vec![FieldError::new(
                    "assign_to",
                    "Sprawę można przekazać tylko pracownikowi biura obsługi klienta.",
                )]));
            }
            Some(clerk)
        }
        (Action::Assign, _) => Some(acting.account_id()),
        _ => case.assigned_to,
    };
    if action == Action::Supplement {
        // Something must come back: a file added since the clerk asked.
        let sent = sqlx::query_scalar!(
            r#"SELECT EXISTS (
                   SELECT 1 FROM case_attachments a
                   WHERE a.case_id = $1 AND a.supplement
                     AND a.added_at >= (SELECT max(e.at) FROM case_events e
                                        WHERE e.case_id = $1
                                          AND e.action = 'case.supplement_requested')
               ) AS "sent!""#,
            case.id
        )
        .fetch_one(&mut *conn)
        .await?;
        if !sent {
            return Err(CaseError::Fields(vec![FieldError::new(
                "files",
                "Dołącz dokumenty, o które poproszono, zanim wyślesz uzupełnienie.",
            )]));
        }
    }
    if action == Action::Conclude && details.contract_id.is_none() {
        return Err(CaseError::Fields(vec![FieldError::new(
            "contract",
            "Najpierw wpisz umowę do rozliczeń: punkt poboru, grupę taryfową i początek.",
        )]));
    }
    // The clock: the days waiting for a supplement do not count.
    let (paused_days, awaiting_since) = match action {
        Action::RequestSupplement => (case.paused_days, Some(today)),
        Action::Supplement => {
            let waited = case
                .awaiting_since
                .map_or(0, |since| (today - since).num_days().max(0) as i32);
            (case.paused_days + waited, None)
        }
        _ => (case.paused_days, case.awaiting_since),
    };
    let decided_on = match action {
        Action::Approve | Action::Refuse => Some(today),
        _ => case.decided_on,
    };
    sqlx::query!(
        r#"UPDATE cases SET state = $2, assigned_to = $3, paused_days = $4, awaiting_since = $5,
                            decided_on = $6, appealed = appealed OR $7, extended = extended OR $8,
                            contract_id = coalesce($9, contract_id),
                            state_changed_at = CASE WHEN state <> $2 THEN now() ELSE state_changed_at END,
                            updated_at = now()
           WHERE id = $1"#,
        case.id,
        to as State,
        assigned_to,
        paused_days,
        awaiting_since,
        decided_on,
        action == Action::Appeal,
        action == Action::ExtendDeadline,
        details.contract_id.filter(|_| action == Action::Conclude),
    )
    .execute(&mut *conn)
    .await?;
    let letter = match action {
        Action::Approve => Some(LetterKind::Approval),
        Action::Refuse => Some(LetterKind::Refusal),
        Action::OfferContract => Some(LetterKind::Contract),
        _ => None,
    };
    let document = match letter {
        Some(kind) => {
            let doc = letters::issue(
                conn,
                utility_id,
                case.id,
                kind,
                &letters::Issue {
                    note,
                    // A decision on an appeal is final.
                    appeal_until: (!case.appealed && case.state != State::Appealed)
                        .then(|| deadline::appeal_until(today)),
                    ..Default::default()
                },
                today,
            )
            .await?;
            Some((doc.id, kind))
        }
        None => None,
    };
    record(
        conn,
        &Step {
            utility_id,
            case: &case,
            acting,
            action,
            to,
            note,
            document,
        },
        json!({"assigned_to": assigned_to, "note": note, "contract_id": details.contract_id}),
    )
    .await?;
    Ok(to)
}

/// Signs the contract offered in case `case_id` (its resident only): `signer` confirms the
/// signatory, then the signature is recorded with the SHA-256 of the exact document offered,
/// and the case moves to signed. The document's SHA-256.
pub async fn sign_contract(
    conn: &mut PgConnection,
    utility_id: i64,
    case_id: i64,
    acting: Acting,
    signer: &impl Signer,
    today: NaiveDate,
) -> Result<Vec<u8>, CaseError> {
    let case = load(conn, utility_id, case_id, acting).await?;
    let to = lifecycle::next(
        case.state,
        Action::SignContract,
        who(&case, acting),
        facts(
            case.contract,
            case.appealed,
            case.extended,
            case.decided_on,
            today,
        ),
    )?;
    let offered = sqlx::query!(
        r#"SELECT d.id, d.sha256 FROM case_events e JOIN documents d ON d.id = e.document_id
           WHERE e.case_id = $1 AND e.document_kind = 'contract'
           ORDER BY e.id DESC LIMIT 1"#,
        case.id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(CaseError::NotFound)?;
    let what = ToSign {
        utility_id,
        case_id: case.id,
        account_id: acting.account_id(),
        document_id: offered.id,
        sha256: &offered.sha256,
    };
    let evidence = signer.confirm(conn, &what).await.map_err(|e| match e {
        SignError::NotConfirmed(m) | SignError::Unavailable(m) => {
            CaseError::Fields(vec![FieldError::new("password", m)])
        }
        SignError::Db(e) => CaseError::Db(e),
    })?;
    sqlx::query!(
        r#"INSERT INTO signatures (utility_id, case_id, document_id, sha256, account_id, method,
                                   evidence)
           VALUES ($1, $2, $3, $4, $5, $6, $7)"#,
        utility_id,
        case.id,
        offered.id,
        offered.sha256,
        acting.account_id(),
        evidence.method,
        evidence.details
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"UPDATE cases SET state = $2, state_changed_at = now(), updated_at = now()
           WHERE id = $1"#,
        case.id,
        to as State
    )
    .execute(&mut *conn)
    .await?;
    let sha256_hex: String = offered.sha256.iter().map(|b| format!("{b:02x}")).collect();
    record(
        conn,
        &Step {
            utility_id,
            case: &case,
            acting,
            action: Action::SignContract,
            to,
            note: None,
            document: None,
        },
        json!({"document_id": offered.id, "sha256": sha256_hex, "method": evidence.method}),
    )
    .await?;
    Ok(offered.sha256)
}

/// Adds staff's internal note to case `case_id` (never shown to the resident).
pub async fn add_note(
    conn: &mut PgConnection,
    utility_id: i64,
    case_id: i64,
    acting: Acting,
    body: &str,
) -> Result<i64, CaseError> {
    let Acting::Staff { .. } = acting else {
        return Err(Refusal::WrongRole.into());
    };
    let case = load(conn, utility_id, case_id, acting).await?;
    let body = body.trim();
    if body.is_empty() || body.chars().count() > 4000 {
        return Err(CaseError::Fields(vec![FieldError::new(
            "note",
            "Wpisz notatkę (najwyżej 4000 znaków).",
        )]));
    }
    let id = sqlx::query_scalar!(
        "INSERT INTO case_notes (case_id, author_id, body) VALUES ($1, $2, $3) RETURNING id",
        case.id,
        acting.account_id(),
        body
    )
    .fetch_one(&mut *conn)
    .await?;
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: acting.audit_actor(),
            action: "case.note_added",
            entity_type: Some("case"),
            entity_id: Some(case.id.to_string()),
            details: json!({"note_id": id}),
            request_id: None,
        },
    )
    .await?;
    Ok(id)
}

/// Keeps the resident's satisfaction with case `case_id` once it is over (closed or its
/// contract concluded): `rating` 1–5 and an optional comment, once per case. The case's state
/// (rating does not change it).
pub async fn give_feedback(
    conn: &mut PgConnection,
    utility_id: i64,
    case_id: i64,
    acting: Acting,
    rating: i16,
    comment: Option<&str>,
) -> Result<State, CaseError> {
    let Acting::Resident { account_id } = acting else {
        return Err(Refusal::WrongRole.into());
    };
    let case = load(conn, utility_id, case_id, acting).await?;
    if !matches!(case.state, State::Closed | State::Concluded) {
        return Err(Refusal::WrongState(case.state).into());
    }
    if !(1..=5).contains(&rating) {
        return Err(CaseError::Fields(vec![FieldError::new(
            "rating",
            "Wybierz ocenę od 1 do 5.",
        )]));
    }
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if comment.is_some_and(|c| c.chars().count() > 2000) {
        return Err(CaseError::Fields(vec![FieldError::new(
            "comment",
            "Komentarz może mieć najwyżej 2000 znaków.",
        )]));
    }
    let given = sqlx::query!(
        r#"INSERT INTO case_feedback (case_id, account_id, rating, comment)
           VALUES ($1, $2, $3, $4) ON CONFLICT (case_id) DO NOTHING"#,
        case.id,
        account_id,
        rating,
        comment
    )
    .execute(&mut *conn)
    .await?;
    if given.rows_affected() == 0 {
        return Err(CaseError::Fields(vec![FieldError::new(
            "rating",
            "Opinia o tej sprawie została już przekazana. Dziękujemy!",
        )]));
    }
    Ok(case.state)
}

fn who(case: &Loaded, acting: Acting) -> Who {
    match acting {
        // `load` let only the case's own resident this far.
        Acting::Resident { .. } => Who::Resident,
        Acting::Staff { manager: true, .. } => Who::Manager,
        Acting::Staff { account_id, .. } => Who::Clerk {
            assigned: case.assigned_to == Some(account_id),
        },
    }
}

/// A step of a case, as its history records it.
struct Step<'a> {
    utility_id: i64,
    case: &'a Loaded,
    acting: Acting,
    action: Action,
    to: State,
    /// The reason the resident is told.
    note: Option<&'a str>,
    /// The letter the step produced.
    document: Option<(i64, LetterKind)>,
}

/// The history row, the resident's notice and the audit entry of a step.
async fn record(conn: &mut PgConnection, step: &Step<'_>, details: Value) -> sqlx::Result<()> {
    let Step {
        utility_id,
        case,
        acting,
        action,
        to,
        note,
        document,
    } = *step;
    let event_id = sqlx::query_scalar!(
        r#"INSERT INTO case_events (case_id, action, from_state, to_state, actor_id, note,
                                    document_id, document_kind)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id"#,
        case.id,
        action.event(),
        case.state as State,
        to as State,
        acting.account_id(),
        note,
        document.map(|(id, _)| id),
        document.map(|(_, kind)| kind.document_kind()),
    )
    .fetch_one(&mut *conn)
    .await?;
    let number = case.number.clone().unwrap_or_default();
    outbox::enqueue(
        conn,
        &OutboxEvent {
            utility_id,
            event: Event::CaseStageChanged(CaseStageChanged {
                case_id: case.id,
                number: number.clone(),
                stage: to.polish().to_string(),
                note: note.map(str::to_string),
            }),
            to: Addressee::Account(case.account_id),
            dedup_key: Some(format!("case_event:{event_id}")),
        },
    )
    .await?;
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: acting.audit_actor(),
            action: action.event(),
            entity_type: Some("case"),
            entity_id: Some(case.id.to_string()),
            details: json!({"number": number, "from": case.state, "to": to, "details": details,
                            "document_id": document.map(|(id, _)| id)}),
            request_id: None,
        },
    )
    .await?;
    Ok(())
}

/// What decides a case's next actions besides its state and who acts, on `today`.
pub(crate) fn facts(
    contract: bool,
    appealed: bool,
    extended: bool,
    decided_on: Option<NaiveDate>,
    today: NaiveDate,
) -> Facts {
    Facts {
        contract,
        appealed,
        extended,
        appeal_open: decided_on.is_some_and(|d| today <= deadline::appeal_until(d)),
    }
}

/// A case's deadline clock, once submitted.
pub fn clock(complete_on: NaiveDate, paused_days: i32, extended: bool) -> Clock {
    Clock {
        complete_on,
        paused_days: paused_days.max(0) as u32,
        extended,
    }
}

/// What the public status page shows: the state and since when, for a case number and the
/// applicant's PESEL or NIP. `None` alike for an unknown number and a wrong identifier.
pub async fn status(
    conn: &mut PgConnection,
    utility_id: i64,
    number: &CaseNumber,
    identifier: &str,
) -> sqlx::Result<Option<(State, chrono::DateTime<chrono::Utc>)>> {
    let digits: String = identifier.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return Ok(None);
    }
    sqlx::query!(
        r#"SELECT state AS "state: State", state_changed_at FROM cases
           WHERE utility_id = $1 AND number = $2
             AND (applicant_pesel = $3 OR applicant_nip = $3)"#,
        utility_id,
        number.to_string(),
        digits
    )
    .fetch_optional(conn)
    .await
    .map(|r| r.map(|r| (r.state, r.state_changed_at)))
}
