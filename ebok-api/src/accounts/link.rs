//! Linking a resident account to a customer with proof: the customer number and the one-time code
//! printed on a paper invoice or letter (`customer_link_codes`). Codes are stored hashed, used
//! once, and guessing is throttled per account (5 failures an hour). Proof by the amount of the
//! last invoice waits for billing (there are no invoices yet); staff can link at the counter.

use chrono::{DateTime, Utc};
use ebok_common::audit::{self, Actor, AuditEntry};
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;

use super::{AccountError, throttle};
use crate::secret;

/// How long a printed code works.
const CODE_VALID_DAYS: i32 = 400;

/// A customer an account acts for.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LinkedCustomer {
    pub customer_id: i64,
    pub customer_number: String,
    pub name: String,
    pub linked_at: DateTime<Utc>,
}

/// Issues a new code for `customer_id` (to print on the next invoice or letter) and returns it.
/// Earlier unused codes keep working until they expire: letters cross in the post.
pub async fn issue_link_code(
    pool: &PgPool,
    utility_id: i64,
    customer_id: i64,
) -> sqlx::Result<String> {
    let code = secret::new_typed_code();
    sqlx::query!(
        r#"INSERT INTO customer_link_codes (utility_id, customer_id, code_hash, expires_at)
           VALUES ($1, $2, $3, now() + make_interval(days => $4))"#,
        utility_id,
        customer_id,
        secret::typed_code_digest(&code),
        CODE_VALID_DAYS,
    )
    .execute(pool)
    .await?;
    Ok(code)
}

/// Links the account to the customer whose number and code were typed.
pub async fn link_customer(
    pool: &PgPool,
    utility_id: i64,
    account_id: i64,
    customer_number: &str,
    code: &str,
) -> Result<LinkedCustomer, AccountError> {
    let number = customer_number.trim();
    if number.is_empty() {
        return Err(AccountError::Invalid {
            field: "customer_number",
            detail: "Podaj numer klienta z faktury.".into(),
        });
    }
    if code.trim().is_empty() {
        return Err(AccountError::Invalid {
            field: "code",
            detail: "Podaj kod z faktury lub pisma.".into(),
        });
    }
    if number.len() > 64 || code.len() > 64 {
        return Err(AccountError::Invalid {
            field: "code",
            detail: "Numer klienta lub kod są nieprawidłowe albo kod został już użyty.".into(),
        });
    }
    let key = format!("{utility_id}:{account_id}");
    let attempt = throttle::reserve(pool, &[(throttle::LINK_PER_ACCOUNT, &key)])
        .await?
        .map_err(|retry_after| AccountError::Throttled { retry_after })?;
    let mut tx = pool.begin().await?;
    let found = sqlx::query!(
        r#"SELECT c.id AS customer_id, k.id AS code_id
           FROM customers c
           JOIN customer_link_codes k ON k.customer_id = c.id AND k.utility_id = c.utility_id
           WHERE c.utility_id = $1 AND c.customer_number = $2 AND k.code_hash = $3
             AND k.used_at IS NULL AND k.expires_at > now()
           FOR UPDATE OF k"#,
        utility_id,
        number,
        secret::typed_code_digest(code),
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(found) = found else {
        throttle::failed(attempt);
        return Err(AccountError::Invalid {
            field: "code",
            detail: "Numer klienta lub kod są nieprawidłowe albo kod został już użyty.".into(),
        });
    };
    sqlx::query!(
        "UPDATE customer_link_codes SET used_at = now(), used_by = $2 WHERE id = $1",
        found.code_id,
        account_id,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO account_customers (utility_id, account_id, customer_id, linked_via)
           VALUES ($1, $2, $3, 'activation_code')
           ON CONFLICT (account_id, customer_id) DO NOTHING"#,
        utility_id,
        account_id,
        found.customer_id,
    )
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: Actor::Resident { account_id },
            action: "account.customer_linked",
            entity_type: Some("customer"),
            entity_id: Some(found.customer_id.to_string()),
            details: json!({ "proof": "activation_code" }),
            request_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    throttle::succeeded(pool, attempt).await?;
    linked_customers(pool, utility_id, account_id)
        .await?
        .into_iter()
        .find(|c| c.customer_id == found.customer_id)
        .ok_or_else(|| AccountError::Internal(anyhow::anyhow!("linked customer vanished")))
}

/// The customers the account acts for.
pub async fn linked_customers(
    pool: &PgPool,
    utility_id: i64,
    account_id: i64,
) -> sqlx::Result<Vec<LinkedCustomer>> {
    sqlx::query_as!(
        LinkedCustomer,
        r#"SELECT c.id AS customer_id, c.customer_number, c.name, ac.linked_at
           FROM account_customers ac JOIN customers c ON c.id = ac.customer_id
           WHERE ac.account_id = $1 AND ac.utility_id = $2
           ORDER BY ac.linked_at"#,
        account_id,
        utility_id,
    )
    .fetch_all(pool)
    .await
}
