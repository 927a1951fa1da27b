//! A few cases in the demo, so both sides of them can be tried at once: the first household
//! resident has a letter waiting for a clerk and a connection application the clerk asked to
//! supplement (with a reason), so the resident sees what to add and the back office's queue is
//! not empty. Added once per utility (when it has no case yet), also to an older demo database.

use anyhow::Result;
use chrono::Utc;
use ebok_cases::form::Answers;
use ebok_cases::lifecycle::Action;
use ebok_cases::store::{self, Acting, Details};
use ebok_common::domain::time::local_day;
use sqlx::PgPool;

/// A one-page PDF standing in for a scanned document.
const SCAN: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn answers(pairs: &[(&str, &str)]) -> Answers {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The demo cases of utility `utility_id`; how many were added (0 when it has cases already or
/// no household resident and clerk).
pub async fn ensure_cases(pool: &PgPool, utility_id: i64) -> Result<usize> {
    let has_cases: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM cases WHERE utility_id = $1)")
            .bind(utility_id)
            .fetch_one(pool)
            .await?;
    let resident: Option<(i64, i64, String)> = sqlx::query_as(
        "SELECT a.id, c.id, c.name FROM user_accounts a
         JOIN account_customers ac ON ac.account_id = a.id
         JOIN customers c ON c.id = ac.customer_id
         WHERE a.utility_id = $1 AND a.role = 'resident' AND c.kind = 'person'
         ORDER BY a.id LIMIT 1",
    )
    .bind(utility_id)
    .fetch_optional(pool)
    .await?;
    let clerk: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM user_accounts WHERE utility_id = $1 AND role = 'clerk' ORDER BY id LIMIT 1",
    )
    .bind(utility_id)
    .fetch_optional(pool)
    .await?;
    let (Some((account_id, customer_id, name)), Some(clerk), false) = (resident, clerk, has_cases)
    else {
        return Ok(0);
    };
    let city: String =
        sqlx::query_scalar("SELECT coalesce(city, municipality) FROM utilities WHERE id = $1")
            .bind(utility_id)
            .fetch_one(pool)
            .await?;
    let today = local_day(Utc::now());
    let me = Acting::Resident { account_id };
    let mut tx = pool.begin().await?;

    let letter = store::start_draft(
        &mut tx,
        utility_id,
        "general_letter",
        account_id,
        Some(customer_id),
        None,
    )
    .await?;
    store::save_answers(
        &mut tx,
        utility_id,
        letter,
        me,
        &answers(&[
            ("subject", "Termin wymiany wodomierza"),
            (
                "content",
                "Proszę o informację, kiedy planowana jest wymiana wodomierza w moim domu.",
            ),
        ]),
    )
    .await?;
    store::submit(&mut tx, utility_id, letter, me, today).await?;

    let connection = store::start_draft(
        &mut tx,
        utility_id,
        "connection_conditions",
        account_id,
        Some(customer_id),
        None,
    )
    .await?;
    store::save_answers(
        &mut tx,
        utility_id,
        connection,
        me,
        &answers(&[
            ("applicant_kind", "person"),
            ("applicant_name", &name),
            ("pesel", "44051401359"),
            ("street", "Polna 1"),
            ("postal_code", "14-420"),
            ("city", &city),
            ("property_address", &format!("Polna 3, {city}")),
            ("plot_number", &format!("dz. 12/3, obręb 0005 {city}")),
            ("services", "water,sewage"),
            ("purpose", "single_family"),
            ("water_demand", "0,5"),
            ("sewage_flow", "0,45"),
        ]),
    )
    .await?;
    for rule in ["site_plan", "legal_title"] {
        store::attach(
            &mut tx,
            utility_id,
            connection,
            me,
            rule,
            &format!("{rule}.pdf"),
            SCAN,
        )
        .await?;
    }
    store::submit(&mut tx, utility_id, connection, me, today).await?;
    let clerk = Acting::Staff {
        account_id: clerk,
        manager: false,
    };
    store::act(
        &mut tx,
        utility_id,
        connection,
        clerk,
        Action::Assign,
        &Details::default(),
        today,
    )
    .await?;
    let why = Details {
        note: Some(
            "Na mapie sytuacyjnej brakuje planowanego przebiegu przyłącza: prosimy o mapę z zaznaczonym przebiegiem.",
        ),
        ..Details::default()
    };
    store::act(
        &mut tx,
        utility_id,
        connection,
        clerk,
        Action::RequestSupplement,
        &why,
        today,
    )
    .await?;
    tx.commit().await?;
    Ok(2)
}
