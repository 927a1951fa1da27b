//! Cases against a real PostgreSQL: a draft filled, stopped while incomplete, submitted and
//! numbered; handled through supplement and decision with its clock; a supply contract to
//! concluded; every refusal (wrong state, wrong role, another clerk's case, another resident,
//! another utility); the status lookup; documents stored once with their hash.

use chrono::NaiveDate;
use ebok_cases::form::Answers;
use ebok_cases::letters::{self, LetterKind};
use ebok_cases::lifecycle::{Action, Refusal, State};
use ebok_cases::number::CaseNumber;
use ebok_cases::signing::{self, Evidence, SignError, Signer, ToSign};
use ebok_cases::store::{self, Acting, CaseError, Details};
use ebok_cases::{documents, overdue, types, views};
use ebok_testkit::{TestDb, fixtures};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n%%EOF\n";
const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
}

async fn staff(pool: &PgPool, utility_id: i64, email: &str, role: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO user_accounts (utility_id, email, role, status, display_name, activated_at)
         VALUES ($1, $2, $3::account_role, 'active', 'Pracownik', now()) RETURNING id",
    )
    .bind(utility_id)
    .bind(email)
    .bind(role)
    .fetch_one(pool)
    .await
    .unwrap()
}

fn connection_answers() -> Answers {
    [
        ("applicant_kind", "person"),
        ("applicant_name", "Jan Kowalski"),
        ("pesel", "44051401359"),
        ("street", "Polna 1"),
        ("postal_code", "14-420"),
        ("city", "Młynary"),
        ("property_address", "Polna 3, Młynary"),
        ("plot_number", "dz. 12/3, obręb 0005"),
        ("services", "water,sewage"),
        ("purpose", "single_family"),
        ("water_demand", "0,5"),
        ("sewage_flow", "0,45"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

struct World {
    db: TestDb,
    utility_id: i64,
    resident: i64,
    customer_id: i64,
    clerk: i64,
    other_clerk: i64,
    manager: i64,
}

impl World {
    async fn new() -> World {
        let db = TestDb::new().await;
        let utility_id = fixtures::utility(&db.pool, "mlynary").await;
        let home = fixtures::household(&db.pool, utility_id, "jan@example.pl").await;
        let clerk = staff(&db.pool, utility_id, "ewa@wodociagi.pl", "clerk").await;
        let other_clerk = staff(&db.pool, utility_id, "ola@wodociagi.pl", "clerk").await;
        let manager = staff(&db.pool, utility_id, "szef@wodociagi.pl", "admin").await;
        World {
            db,
            utility_id,
            resident: home.account_id,
            customer_id: home.customer_id,
            clerk,
            other_clerk,
            manager,
        }
    }

    fn resident(&self) -> Acting {
        Acting::Resident {
            account_id: self.resident,
        }
    }

    fn clerk(&self) -> Acting {
        Acting::Staff {
            account_id: self.clerk,
            manager: false,
        }
    }

    fn manager(&self) -> Acting {
        Acting::Staff {
            account_id: self.manager,
            manager: true,
        }
    }

    async fn draft(&self, code: &str, answers: &Answers) -> i64 {
        let mut conn = self.db.pool.acquire().await.unwrap();
        let id = store::start_draft(
            &mut conn,
            self.utility_id,
            code,
            self.resident,
            Some(self.customer_id),
            None,
        )
        .await
        .unwrap();
        store::save_answers(&mut conn, self.utility_id, id, self.resident(), answers)
            .await
            .unwrap();
        id
    }

    async fn attach(
        &self,
        case_id: i64,
        acting: Acting,
        rule: &str,
        content: &[u8],
    ) -> Result<i64, CaseError> {
        let mut conn = self.db.pool.acquire().await.unwrap();
        store::attach(
            &mut conn,
            self.utility_id,
            case_id,
            acting,
            rule,
            "skan.pdf",
            content,
        )
        .await
    }

    async fn submit(&self, case_id: i64, acting: Acting) -> Result<CaseNumber, CaseError> {
        let mut tx = self.db.pool.begin().await.unwrap();
        let done = store::submit(&mut tx, self.utility_id, case_id, acting, day(1)).await;
        if done.is_ok() {
            tx.commit().await.unwrap();
        }
        done
    }

    async fn act(
        &self,
        case_id: i64,
        acting: Acting,
        action: Action,
        note: Option<&str>,
        on: u32,
    ) -> Result<State, CaseError> {
        let mut tx = self.db.pool.begin().await.unwrap();
        let details = Details {
            note,
            assign_to: Some(self.clerk),
            contract_id: None,
        };
        let done = store::act(
            &mut tx,
            self.utility_id,
            case_id,
            acting,
            action,
            &details,
            day(on),
        )
        .await;
        if done.is_ok() {
            tx.commit().await.unwrap();
        }
        done
    }

    async fn sign(
        &self,
        case_id: i64,
        acting: Acting,
        signer: &impl Signer,
    ) -> Result<Vec<u8>, CaseError> {
        let mut tx = self.db.pool.begin().await.unwrap();
        let done =
            store::sign_contract(&mut tx, self.utility_id, case_id, acting, signer, day(4)).await;
        if done.is_ok() {
            tx.commit().await.unwrap();
        }
        done
    }

    async fn feedback(
        &self,
        case_id: i64,
        acting: Acting,
        rating: i16,
    ) -> Result<State, CaseError> {
        let mut tx = self.db.pool.begin().await.unwrap();
        let done = store::give_feedback(
            &mut tx,
            self.utility_id,
            case_id,
            acting,
            rating,
            Some(" Sprawnie. "),
        )
        .await;
        if done.is_ok() {
            tx.commit().await.unwrap();
        }
        done
    }

    async fn count(&self, sql: &str, case_id: i64) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .bind(case_id)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }
}

fn field_keys(e: CaseError) -> Vec<String> {
    match e {
        CaseError::Fields(f) => f.into_iter().map(|f| f.key).collect(),
        other => panic!("expected fields to put right, got {other:?}"),
    }
}

#[tokio::test]
async fn a_connection_application_is_stopped_until_complete_then_numbered_and_announced() {
    let w = World::new().await;
    let id = w
        .draft("connection_conditions", &connection_answers())
        .await;
    w.attach(id, w.resident(), "legal_title", PDF)
        .await
        .unwrap();
    // The site plan is missing: not submitted, and it is named.
    assert_eq!(
        field_keys(w.submit(id, w.resident()).await.unwrap_err()),
        ["site_plan"]
    );
    // The plan may be a PDF, a JPG or a PNG, told by the content: an executable is refused.
    let refused = w
        .attach(id, w.resident(), "site_plan", b"MZ\x90\x00 not a map")
        .await
        .unwrap_err();
    assert_eq!(field_keys(refused), ["site_plan"]);
    w.attach(id, w.resident(), "site_plan", PNG).await.unwrap();
    // The clerk may not submit it for the resident.
    assert!(matches!(
        w.submit(id, w.clerk()).await,
        Err(CaseError::NotFound)
    ));
    let number = w.submit(id, w.resident()).await.unwrap();
    assert_eq!(number.to_string(), "WTP/2026/000001");
    let again = w
        .draft("connection_conditions", &connection_answers())
        .await;
    w.attach(again, w.resident(), "legal_title", PDF)
        .await
        .unwrap();
    w.attach(again, w.resident(), "site_plan", PDF)
        .await
        .unwrap();
    assert_eq!(
        w.submit(again, w.resident()).await.unwrap().to_string(),
        "WTP/2026/000002"
    );
    // The same PDF attached to two cases is stored once (besides each case's acknowledgement).
    assert_eq!(
        w.count(
            "SELECT count(DISTINCT document_id) FROM case_attachments WHERE $1 > 0",
            1
        )
        .await,
        2
    );
    assert_eq!(
        w.count(
            "SELECT count(*) FROM documents d WHERE $1 > 0 AND NOT EXISTS
               (SELECT 1 FROM case_attachments a WHERE a.document_id = d.id)",
            1
        )
        .await,
        2
    );
    // Its history, the resident's notice and the audit entry.
    assert_eq!(
        w.count(
            "SELECT count(*) FROM case_events WHERE case_id = $1 AND action = 'case.submitted'",
            id
        )
        .await,
        1
    );
    let notice: (String, serde_json::Value) = sqlx::query_as(
        "SELECT kind, payload FROM outbox WHERE recipient_account_id = $1 ORDER BY id LIMIT 1",
    )
    .bind(w.resident)
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(notice.0, "case.stage_changed");
    assert_eq!(notice.1["number"], "WTP/2026/000001");
    assert_eq!(notice.1["stage"], "Przyjęty");
    assert_eq!(
        w.count(
            "SELECT count(*) FROM audit_log WHERE entity_type = 'case' AND entity_id = $1::text",
            id
        )
        .await,
        1
    );
    // Submitted answers are checked and canonical, and the form is kept with them.
    let answers: serde_json::Value = sqlx::query_scalar("SELECT answers FROM cases WHERE id = $1")
        .bind(id)
        .fetch_one(&w.db.pool)
        .await
        .unwrap();
    assert_eq!(answers["sewage_flow"], "0,450");
    assert!(matches!(
        w.submit(id, w.resident()).await,
        Err(CaseError::Refused(Refusal::WrongState(State::Registered)))
    ));
}

#[tokio::test]
async fn a_wrong_field_is_named_with_its_polish_message() {
    let w = World::new().await;
    let mut answers = connection_answers();
    answers.insert("pesel".into(), "44051401358".into());
    answers.remove("plot_number");
    let id = w.draft("connection_conditions", &answers).await;
    let CaseError::Fields(errors) = w.submit(id, w.resident()).await.unwrap_err() else {
        panic!("expected fields")
    };
    let messages: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.key.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        messages,
        [
            ("pesel", "Numer PESEL ma błędną cyfrę kontrolną."),
            ("plot_number", "To pole jest wymagane."),
            (
                "site_plan",
                "Dołącz: mapa sytuacyjna w skali 1:500 lub 1:1000."
            ),
            (
                "legal_title",
                "Dołącz: dokument potwierdzający tytuł prawny do nieruchomości."
            ),
        ]
    );
}

async fn submitted_connection(w: &World) -> i64 {
    let id = w
        .draft("connection_conditions", &connection_answers())
        .await;
    w.attach(id, w.resident(), "legal_title", PDF)
        .await
        .unwrap();
    w.attach(id, w.resident(), "site_plan", PDF).await.unwrap();
    w.submit(id, w.resident()).await.unwrap();
    id
}

#[tokio::test]
async fn a_case_is_handled_through_a_supplement_to_a_decision_and_its_clock_waits_meanwhile() {
    let w = World::new().await;
    let id = submitted_connection(&w).await;
    assert_eq!(
        w.act(id, w.clerk(), Action::Assign, None, 2).await.unwrap(),
        State::Assigned
    );
    let other = Acting::Staff {
        account_id: w.other_clerk,
        manager: false,
    };
    assert!(matches!(
        w.act(id, other, Action::Approve, None, 2).await,
        Err(CaseError::Refused(Refusal::NotAssigned))
    ));
    // A supplement needs its reason, which the resident is told.
    assert_eq!(
        field_keys(
            w.act(id, w.clerk(), Action::RequestSupplement, None, 3)
                .await
                .unwrap_err()
        ),
        ["note"]
    );
    w.act(
        id,
        w.clerk(),
        Action::RequestSupplement,
        Some("Mapa jest nieczytelna."),
        3,
    )
    .await
    .unwrap();
    let note: serde_json::Value = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE recipient_account_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(w.resident)
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(note["note"], "Mapa jest nieczytelna.");
    assert_eq!(note["stage"], "Oczekuje na uzupełnienie");
    // Nothing sent back yet: not a supplement. Then a document, ten days later.
    assert_eq!(
        field_keys(
            w.act(id, w.resident(), Action::Supplement, None, 12)
                .await
                .unwrap_err()
        ),
        ["files"]
    );
    w.attach(id, w.resident(), "site_plan", PNG).await.unwrap();
    assert_eq!(
        w.act(id, w.resident(), Action::Supplement, None, 13)
            .await
            .unwrap(),
        State::Assigned
    );
    let (paused, supplements): (i32, i64) = sqlx::query_as(
        "SELECT paused_days, (SELECT count(*) FROM case_attachments WHERE case_id = $1 AND supplement)
         FROM cases WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    assert_eq!((paused, supplements), (10, 1));
    // 1 December + 30 days + 10 waited = 10 January 2027, a Sunday: Monday 11 January.
    assert_eq!(
        store::clock(day(1), paused, false).due(),
        NaiveDate::from_ymd_opt(2027, 1, 11).unwrap()
    );
    assert_eq!(
        w.act(id, w.clerk(), Action::Approve, None, 14)
            .await
            .unwrap(),
        State::Approved
    );
    // Appeal time is open: not closed yet; the resident appeals, the manager decides.
    assert!(matches!(
        w.act(id, w.clerk(), Action::Close, None, 15).await,
        Err(CaseError::Refused(Refusal::AppealStillOpen))
    ));
    assert_eq!(
        w.act(id, w.resident(), Action::Appeal, None, 20)
            .await
            .unwrap(),
        State::Appealed
    );
    assert!(matches!(
        w.act(id, w.clerk(), Action::Refuse, Some("x"), 21).await,
        Err(CaseError::Refused(Refusal::WrongRole))
    ));
    assert_eq!(
        w.act(id, w.manager(), Action::Approve, None, 22)
            .await
            .unwrap(),
        State::Approved
    );
    // The first decision tells how to appeal; the one on the appeal, that it is final.
    let decisions: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT d.content FROM case_events e JOIN documents d ON d.id = e.document_id
         WHERE e.case_id = $1 AND e.document_kind = 'decision' ORDER BY e.id",
    )
    .bind(id)
    .fetch_all(&w.db.pool)
    .await
    .unwrap();
    // A line with Polish letters is written as a hex string: the ASCII text is looked for
    // either way.
    let says = |pdf: &[u8], text: &str| {
        let hex: String = text.bytes().map(|b| format!("{b:02X}")).collect();
        pdf.windows(text.len()).any(|s| s == text.as_bytes())
            || pdf.windows(hex.len()).any(|s| s == hex.as_bytes())
    };
    assert_eq!(decisions.len(), 2);
    assert!(says(&decisions[0], "Od tej decyzji przys") && !says(&decisions[0], "ostateczna"));
    assert!(
        says(&decisions[1], "Decyzja jest ostateczna") && !says(&decisions[1], "Od tej decyzji")
    );
    assert_eq!(
        w.act(id, w.clerk(), Action::Close, None, 22).await.unwrap(),
        State::Closed
    );
    let history: Vec<String> =
        sqlx::query_scalar("SELECT action FROM case_events WHERE case_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&w.db.pool)
            .await
            .unwrap();
    assert_eq!(
        history,
        [
            "case.submitted",
            "case.assigned",
            "case.supplement_requested",
            "case.supplemented",
            "case.approved",
            "case.appealed",
            "case.approved",
            "case.closed"
        ]
    );
    let err = sqlx::query("UPDATE case_events SET note = 'x' WHERE case_id = $1")
        .bind(id)
        .execute(&w.db.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}

#[tokio::test]
async fn a_supply_contract_goes_to_concluded() {
    let w = World::new().await;
    let answers: Answers = [
        ("applicant_kind", "person"),
        ("applicant_name", "Jan Kowalski"),
        ("pesel", "44051401359"),
        ("street", "Polna 1"),
        ("postal_code", "14-420"),
        ("city", "Młynary"),
        ("supply_address", "Polna 3, Młynary"),
        ("services", "water"),
        ("legal_title_kind", "ownership"),
        ("start_on", "2027-01-01"),
        ("email", "jan@example.pl"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let id = w.draft("supply_contract", &answers).await;
    w.attach(id, w.resident(), "legal_title", PDF)
        .await
        .unwrap();
    // A person's ID document is asked for (not a company's register extract).
    assert_eq!(
        field_keys(w.submit(id, w.resident()).await.unwrap_err()),
        ["id_document"]
    );
    assert_eq!(
        field_keys(
            w.attach(id, w.resident(), "register_extract", PDF)
                .await
                .unwrap_err()
        ),
        ["register_extract"]
    );
    w.attach(id, w.resident(), "id_document", PNG)
        .await
        .unwrap();
    assert_eq!(
        w.submit(id, w.resident()).await.unwrap().to_string(),
        "UMW/2026/000001"
    );
    w.act(id, w.manager(), Action::Assign, None, 2)
        .await
        .unwrap();
    for (acting, action, expected) in [
        (w.clerk(), Action::Approve, State::Approved),
        (w.clerk(), Action::OfferContract, State::ContractOffered),
    ] {
        assert_eq!(
            w.act(id, acting, action, None, 3).await.unwrap(),
            expected,
            "{action:?}"
        );
    }
    // The contract offered is a letter of the case: a PDF with the case's number in it.
    let (contract_doc, contract_pdf): (i64, Vec<u8>) = sqlx::query_as(
        "SELECT d.id, d.content FROM case_events e JOIN documents d ON d.id = e.document_id
         WHERE e.case_id = $1 AND e.document_kind = 'contract'",
    )
    .bind(id)
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    assert!(contract_pdf.starts_with(b"%PDF-"));
    assert!(
        contract_pdf.windows(15).any(|s| s == b"UMW/2026/000001"),
        "the contract names its case"
    );
    // Signing goes through a signer: not by a plain action, and not when it does not confirm.
    assert_eq!(
        field_keys(
            w.act(id, w.resident(), Action::SignContract, None, 4)
                .await
                .unwrap_err()
        ),
        ["password"]
    );
    assert_eq!(
        field_keys(w.sign(id, w.resident(), &Decline).await.unwrap_err()),
        ["password"]
    );
    assert!(matches!(
        w.sign(id, w.clerk(), &Accept).await,
        Err(CaseError::Refused(Refusal::WrongRole))
    ));
    let signed = w.sign(id, w.resident(), &Accept).await.unwrap();
    assert_eq!(signed, Sha256::digest(&contract_pdf).to_vec());
    let (signed_doc, method, account): (i64, String, i64) =
        sqlx::query_as("SELECT document_id, method, account_id FROM signatures WHERE case_id = $1")
            .bind(id)
            .fetch_one(&w.db.pool)
            .await
            .unwrap();
    assert_eq!(
        (signed_doc, method.as_str(), account),
        (contract_doc, "test", w.resident)
    );
    // Anyone holding the contract finds it, signed; a changed file is not found.
    let mut conn = w.db.pool.acquire().await.unwrap();
    let found = signing::verify(&mut conn, w.utility_id, &signed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.number.as_str(), found.kind.as_str()),
        ("UMW/2026/000001", "contract")
    );
    assert_eq!(found.signatures.len(), 1);
    let mut changed = contract_pdf.clone();
    changed.push(b'\n');
    assert!(
        signing::verify(&mut conn, w.utility_id, &Sha256::digest(&changed))
            .await
            .unwrap()
            .is_none()
    );
    // …nor in another utility, nor a resident's own attachment.
    let other = fixtures::utility(&w.db.pool, "paslek").await;
    assert!(
        signing::verify(&mut conn, other, &signed)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        signing::verify(&mut conn, w.utility_id, &Sha256::digest(PNG))
            .await
            .unwrap()
            .is_none()
    );
    drop(conn);
    // Concluding needs the billing contract started with it.
    assert_eq!(
        field_keys(
            w.act(id, w.clerk(), Action::Conclude, None, 5)
                .await
                .unwrap_err()
        ),
        ["contract"]
    );
    let point = fixtures::supply_point(&w.db.pool, w.utility_id).await;
    let contract = fixtures::contract(&w.db.pool, w.utility_id, w.customer_id, point).await;
    let mut tx = w.db.pool.begin().await.unwrap();
    let concluded = store::act(
        &mut tx,
        w.utility_id,
        id,
        w.clerk(),
        Action::Conclude,
        &Details {
            contract_id: Some(contract),
            ..Details::default()
        },
        day(5),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(concluded, State::Concluded);
    assert_eq!(
        w.count(
            "SELECT count(*) FROM cases WHERE id = $1 AND contract_id IS NOT NULL",
            id
        )
        .await,
        1
    );
    // Feedback once the case is over: 1–5, once.
    assert_eq!(
        w.act(id, w.clerk(), Action::Close, None, 6).await.unwrap(),
        State::Closed
    );
    assert_eq!(
        field_keys(w.feedback(id, w.resident(), 6).await.unwrap_err()),
        ["rating"]
    );
    assert!(matches!(
        w.feedback(id, w.clerk(), 5).await,
        Err(CaseError::Refused(Refusal::WrongRole))
    ));
    w.feedback(id, w.resident(), 4).await.unwrap();
    assert_eq!(
        field_keys(w.feedback(id, w.resident(), 5).await.unwrap_err()),
        ["rating"]
    );
    let mut conn = w.db.pool.acquire().await.unwrap();
    let summary = views::feedback_summary(&mut conn, w.utility_id)
        .await
        .unwrap();
    assert_eq!(summary.len(), 1);
    assert_eq!(
        (
            summary[0].answers,
            summary[0].mean_hundredths,
            summary[0].by_rating
        ),
        (1, 400, [0, 0, 0, 1, 0])
    );
    assert_eq!(
        summary[0].comments,
        [(4, "Sprawnie.".to_string(), "UMW/2026/000001".to_string())]
    );
    // Signatures never change.
    let err = sqlx::query("DELETE FROM signatures WHERE case_id = $1")
        .bind(id)
        .execute(&w.db.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("never changed"), "{err}");
}

/// A signer that confirms everyone (the method is tested in ebok-api with passwords).
struct Accept;

impl Signer for Accept {
    async fn confirm(
        &self,
        _conn: &mut sqlx::PgConnection,
        _what: &ToSign<'_>,
    ) -> Result<Evidence, SignError> {
        Ok(Evidence {
            method: "test",
            details: serde_json::json!({}),
        })
    }
}

/// A signer whose confirmation fails (a wrong password).
struct Decline;

impl Signer for Decline {
    async fn confirm(
        &self,
        _conn: &mut sqlx::PgConnection,
        _what: &ToSign<'_>,
    ) -> Result<Evidence, SignError> {
        Err(SignError::NotConfirmed("Hasło jest nieprawidłowe.".into()))
    }
}

#[tokio::test]
async fn nobody_else_reaches_a_case() {
    let w = World::new().await;
    let id = submitted_connection(&w).await;
    let neighbour = fixtures::household(&w.db.pool, w.utility_id, "sasiad@example.pl").await;
    let stranger = Acting::Resident {
        account_id: neighbour.account_id,
    };
    assert!(matches!(
        w.act(id, stranger, Action::Withdraw, None, 2).await,
        Err(CaseError::NotFound)
    ));
    assert!(matches!(
        w.attach(id, stranger, "site_plan", PDF).await,
        Err(CaseError::NotFound)
    ));
    // Another utility's staff: not found either.
    let other_utility = fixtures::utility(&w.db.pool, "paslek").await;
    let foreign = staff(&w.db.pool, other_utility, "obcy@pwik.pl", "admin").await;
    let mut tx = w.db.pool.begin().await.unwrap();
    let done = store::act(
        &mut tx,
        other_utility,
        id,
        Acting::Staff {
            account_id: foreign,
            manager: true,
        },
        Action::Assign,
        &Details::default(),
        day(2),
    )
    .await;
    assert!(matches!(done, Err(CaseError::NotFound)));
    drop(tx);
    // A manager cannot hand a case to someone outside customer service.
    let technician = staff(&w.db.pool, w.utility_id, "tech@wodociagi.pl", "technician").await;
    let mut tx = w.db.pool.begin().await.unwrap();
    let done = store::act(
        &mut tx,
        w.utility_id,
        id,
        w.manager(),
        Action::Assign,
        &Details {
            assign_to: Some(technician),
            ..Details::default()
        },
        day(2),
    )
    .await;
    assert_eq!(field_keys(done.unwrap_err()), ["assign_to"]);
    drop(tx);
    // A draft is the resident's until submitted: staff do not see it unless they prepare it.
    let draft = w.draft("general_letter", &Answers::new()).await;
    assert!(matches!(
        w.act(draft, w.manager(), Action::Assign, None, 2).await,
        Err(CaseError::NotFound)
    ));
}

#[tokio::test]
async fn a_clerk_prepares_a_draft_that_only_the_resident_submits() {
    let w = World::new().await;
    let mut conn = w.db.pool.acquire().await.unwrap();
    let id = store::start_draft(
        &mut conn,
        w.utility_id,
        "general_letter",
        w.resident,
        Some(w.customer_id),
        Some(w.clerk),
    )
    .await
    .unwrap();
    let answers: Answers = [("subject", "Prośba"), ("content", "Proszę o kontakt.")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    store::save_answers(&mut conn, w.utility_id, id, w.clerk(), &answers)
        .await
        .unwrap();
    drop(conn);
    assert!(matches!(
        w.submit(id, w.clerk()).await,
        Err(CaseError::Refused(Refusal::WrongRole))
    ));
    assert_eq!(
        w.submit(id, w.resident()).await.unwrap().to_string(),
        "PIS/2026/000001"
    );
    let prepared: Option<i64> = sqlx::query_scalar(
        "SELECT (details->'details'->>'prepared_by')::bigint FROM audit_log
         WHERE entity_id = $1::text AND action = 'case.submitted'",
    )
    .bind(id)
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(prepared, Some(w.clerk));
    // The preparation itself: the clerk, acting for the resident.
    let (actor, for_whom): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT actor_account_id, on_behalf_of_account_id FROM audit_log
         WHERE entity_id = $1::text AND action = 'case.draft_prepared'",
    )
    .bind(id)
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    assert_eq!((actor, for_whom), (Some(w.clerk), Some(w.resident)));
}

#[tokio::test]
async fn the_status_lookup_answers_only_the_right_number_and_identifier() {
    let w = World::new().await;
    let id = submitted_connection(&w).await;
    let number = CaseNumber::parse("wtp/2026/1").unwrap();
    let mut conn = w.db.pool.acquire().await.unwrap();
    let (state, _) = store::status(&mut conn, w.utility_id, &number, "440 514 013 59")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state, State::Registered);
    assert_eq!(
        store::status(&mut conn, w.utility_id, &number, "44051401358")
            .await
            .unwrap(),
        None
    );
    let unknown = CaseNumber::parse("WTP/2026/000002").unwrap();
    assert_eq!(
        store::status(&mut conn, w.utility_id, &unknown, "44051401359")
            .await
            .unwrap(),
        None
    );
    let other = fixtures::utility(&w.db.pool, "paslek").await;
    assert_eq!(
        store::status(&mut conn, other, &number, "44051401359")
            .await
            .unwrap(),
        None
    );
    assert!(id > 0);
}

#[tokio::test]
async fn a_documents_hash_is_the_hash_of_its_bytes() {
    let w = World::new().await;
    let mut conn = w.db.pool.acquire().await.unwrap();
    let doc = documents::store(&mut conn, w.utility_id, PDF, "application/pdf")
        .await
        .unwrap();
    let again = documents::store(&mut conn, w.utility_id, PDF, "application/pdf")
        .await
        .unwrap();
    assert_eq!(doc.id, again.id);
    let (kind, bytes) = documents::content(&mut conn, w.utility_id, doc.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((kind.as_str(), bytes.as_slice()), ("application/pdf", PDF));
    assert_eq!(doc.sha256, Sha256::digest(&bytes).to_vec());
    assert_eq!(
        documents::find_by_hash(&mut conn, w.utility_id, &Sha256::digest(PDF))
            .await
            .unwrap(),
        Some(doc.clone())
    );
    assert_eq!(
        documents::find_by_hash(&mut conn, w.utility_id, &Sha256::digest(b"x"))
            .await
            .unwrap(),
        None
    );
    let err = sqlx::query("UPDATE documents SET content_type = 'text/plain' WHERE id = $1")
        .bind(doc.id)
        .execute(&w.db.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("never changes"), "{err}");
}

#[tokio::test]
async fn a_utility_gets_the_builtin_types_once_and_its_admin_edits_them_with_checks() {
    let w = World::new().await;
    let mut conn = w.db.pool.acquire().await.unwrap();
    let listed = types::list(&mut conn, w.utility_id, false).await.unwrap();
    assert_eq!(listed.len(), 7);
    assert_eq!(
        types::list(&mut conn, w.utility_id, true)
            .await
            .unwrap()
            .len(),
        7
    );
    let mut letter = types::get(&mut conn, w.utility_id, "general_letter")
        .await
        .unwrap()
        .unwrap();
    letter.form.fields[0].label = "Czego dotyczy".into();
    types::set_form(
        &mut conn,
        w.utility_id,
        "general_letter",
        &letter.form,
        w.manager,
    )
    .await
    .unwrap();
    let edited = types::get(&mut conn, w.utility_id, "general_letter")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(edited.form.fields[0].label, "Czego dotyczy");
    letter.form.fields.clear();
    assert!(matches!(
        types::set_form(
            &mut conn,
            w.utility_id,
            "general_letter",
            &letter.form,
            w.manager
        )
        .await,
        Err(types::EditError::Invalid(_))
    ));
}

#[tokio::test]
async fn each_step_that_speaks_to_the_resident_leaves_its_letter() {
    let w = World::new().await;
    let id = submitted_connection(&w).await;
    let letters = |w: &World| {
        let pool = w.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT document_kind FROM case_events
                 WHERE case_id = $1 AND document_id IS NOT NULL ORDER BY id",
            )
            .bind(id)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(letters(&w).await, ["acknowledgement"]);
    w.act(id, w.clerk(), Action::Assign, None, 2).await.unwrap();
    w.act(
        id,
        w.clerk(),
        Action::Refuse,
        Some("Brak przyłącza w ulicy."),
        3,
    )
    .await
    .unwrap();
    assert_eq!(letters(&w).await, ["acknowledgement", "decision"]);
    // The resident and staff read the letters; another resident does not.
    let mut conn = w.db.pool.acquire().await.unwrap();
    let view = views::case(
        &mut conn,
        w.utility_id,
        id,
        views::Scope::Resident {
            account_id: w.resident,
        },
        day(3),
    )
    .await
    .unwrap()
    .unwrap();
    let (doc, name, _) = view
        .events
        .iter()
        .find_map(|e| {
            e.letter("WTP/2026/000001")
                .filter(|(_, n, _)| n.starts_with("decyzja"))
        })
        .unwrap();
    assert_eq!(name, "decyzja-WTP-2026-000001.pdf");
    let mine = views::letter(
        &mut conn,
        w.utility_id,
        id,
        doc,
        views::Scope::Resident {
            account_id: w.resident,
        },
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(mine.1, "application/pdf");
    assert!(mine.2.starts_with(b"%PDF-"));
    let neighbour = fixtures::household(&w.db.pool, w.utility_id, "sasiad@example.pl").await;
    for scope in [views::Scope::Resident {
        account_id: neighbour.account_id,
    }] {
        assert!(
            views::letter(&mut conn, w.utility_id, id, doc, scope)
                .await
                .unwrap()
                .is_none()
        );
    }
    let other = fixtures::utility(&w.db.pool, "paslek").await;
    assert!(
        views::letter(
            &mut conn,
            other,
            id,
            doc,
            views::Scope::Staff {
                account_id: w.clerk
            }
        )
        .await
        .unwrap()
        .is_none()
    );
}

#[tokio::test]
async fn a_utility_words_its_letters_itself_and_an_unknown_placeholder_is_refused() {
    let w = World::new().await;
    let mut conn = w.db.pool.acquire().await.unwrap();
    let bad = letters::Template {
        title: "Potwierdzenie {numer}".into(),
        body: "Treść.".into(),
    };
    match letters::set_template(
        &mut conn,
        w.utility_id,
        LetterKind::Acknowledgement,
        Some(&bad),
        w.manager,
    )
    .await
    {
        Err(letters::TemplateError::Invalid(errors)) => {
            assert_eq!(errors[0].key, "title");
            assert!(errors[0].message.contains("{numer}"));
        }
        other => panic!("expected the template refused, got {other:?}"),
    }
    let own = letters::Template {
        title: "Wniosek przyjety: {numer_sprawy}".into(),
        body: "Dziekujemy, {wnioskodawca}.".into(),
    };
    letters::set_template(
        &mut conn,
        w.utility_id,
        LetterKind::Acknowledgement,
        Some(&own),
        w.manager,
    )
    .await
    .unwrap();
    drop(conn);
    let id = submitted_connection(&w).await;
    let pdf: Vec<u8> = sqlx::query_scalar(
        "SELECT d.content FROM case_events e JOIN documents d ON d.id = e.document_id
         WHERE e.case_id = $1 AND e.document_kind = 'acknowledgement'",
    )
    .bind(id)
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    let has = |needle: &[u8]| pdf.windows(needle.len()).any(|s| s == needle);
    assert!(has(b"Wniosek przyjety: WTP/2026/000001"));
    assert!(has(b"Dziekujemy, Jan Kowalski."));
    // Back to the built-in wording.
    let mut conn = w.db.pool.acquire().await.unwrap();
    letters::set_template(
        &mut conn,
        w.utility_id,
        LetterKind::Acknowledgement,
        None,
        w.manager,
    )
    .await
    .unwrap();
    assert_eq!(
        letters::template(&mut conn, w.utility_id, LetterKind::Acknowledgement)
            .await
            .unwrap(),
        letters::builtin(LetterKind::Acknowledgement)
    );
}

#[tokio::test]
async fn internal_notes_are_staffs_only() {
    let w = World::new().await;
    let id = submitted_connection(&w).await;
    let mut tx = w.db.pool.begin().await.unwrap();
    store::add_note(
        &mut tx,
        w.utility_id,
        id,
        w.clerk(),
        "Zadzwonić do wnioskodawcy.",
    )
    .await
    .unwrap();
    assert!(matches!(
        store::add_note(&mut tx, w.utility_id, id, w.resident(), "x").await,
        Err(CaseError::Refused(Refusal::WrongRole))
    ));
    assert_eq!(
        field_keys(
            store::add_note(&mut tx, w.utility_id, id, w.clerk(), "  ")
                .await
                .unwrap_err()
        ),
        ["note"]
    );
    tx.commit().await.unwrap();
    let mut conn = w.db.pool.acquire().await.unwrap();
    let notes = views::notes(&mut conn, w.utility_id, id).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].body, "Zadzwonić do wnioskodawcy.");
    let other = fixtures::utility(&w.db.pool, "paslek").await;
    assert!(views::notes(&mut conn, other, id).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_overdue_case_alerts_its_clerk_and_the_managers_once_per_deadline() {
    let w = World::new().await;
    let id = submitted_connection(&w).await; // complete on 1 December 2026
    w.act(id, w.clerk(), Action::Assign, None, 2).await.unwrap();
    let alerts = |w: &World| {
        let pool = w.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT recipient_account_id FROM outbox WHERE kind = 'case.overdue'
                 ORDER BY id",
            )
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let run = |w: &World, on: NaiveDate| {
        let pool = w.db.pool.clone();
        async move {
            let mut tx = pool.begin().await.unwrap();
            let n = overdue::alert(&mut tx, on).await.unwrap();
            tx.commit().await.unwrap();
            n
        }
    };
    // Due 31 December (30 days, a working day): nothing on that day, both on the next.
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    assert_eq!(run(&w, date(2026, 12, 31)).await, 0);
    assert_eq!(run(&w, date(2027, 1, 2)).await, 1);
    assert_eq!(alerts(&w).await, [w.clerk, w.manager]);
    assert_eq!(run(&w, date(2027, 1, 3)).await, 0, "announced once");
    // Extended by 14 days: announced again only when the new deadline passes too.
    w.act(
        id,
        w.clerk(),
        Action::ExtendDeadline,
        Some("Opinia geodety."),
        3,
    )
    .await
    .unwrap();
    assert_eq!(run(&w, date(2027, 1, 10)).await, 0);
    assert_eq!(run(&w, date(2027, 1, 15)).await, 1);
    assert_eq!(alerts(&w).await.len(), 4);
    // A decided case is not overdue.
    w.act(id, w.clerk(), Action::Approve, None, 4)
        .await
        .unwrap();
    assert_eq!(run(&w, date(2027, 3, 1)).await, 0);
}
