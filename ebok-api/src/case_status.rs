//! The status of a case without logging in (seed 003): a case number and the applicant's PESEL
//! or NIP give the case's stage and since when, nothing more. A wrong identifier, an unknown
//! number and a number that is not one get the same answer; lookups that find nothing are
//! limited per client address and per case number (`accounts::throttle`), so neither numbers
//! nor identifiers can be tried one after another. The page (`/u/{slug}/status-sprawy`) and
//! the API (`POST /api/v1/utilities/{slug}/case-status`) both ask here.

use chrono::{DateTime, Utc};
use ebok_cases::lifecycle::State;
use ebok_cases::number::CaseNumber;
use ebok_cases::store;
use sqlx::PgPool;

use crate::accounts::throttle;
use crate::error::ApiError;

/// What the lookup tells.
#[derive(Debug, Clone)]
pub struct CaseStatus {
    pub number: String,
    pub state: State,
    pub since: DateTime<Utc>,
}

/// The case of utility `utility_id` numbered `number` whose applicant has this PESEL or NIP;
/// `None` for anything else. `TooManyRequests` once the client or the number is over its limit.
pub async fn look_up(
    pool: &PgPool,
    utility_id: i64,
    number: &str,
    identifier: &str,
    client: Option<std::net::IpAddr>,
) -> Result<Option<CaseStatus>, ApiError> {
    let parsed = CaseNumber::parse(number);
    let address_key = client.map(crate::client::throttle_key);
    // An unparsable number is throttled under its text, like any other.
    let number_key = format!(
        "{utility_id}:{}",
        parsed
            .as_ref()
            .map_or_else(|| number.trim().to_uppercase(), ToString::to_string)
    );
    let mut keys = vec![(throttle::CASE_STATUS_PER_NUMBER, number_key.as_str())];
    if let Some(address) = &address_key {
        keys.push((throttle::CASE_STATUS_PER_ADDRESS, address.as_str()));
    }
    let attempt = throttle::reserve(pool, &keys)
        .await?
        .map_err(|retry_after| ApiError::TooManyRequests { retry_after })?;
    let found = match &parsed {
        Some(n) => {
            let mut conn = pool.acquire().await?;
            store::status(&mut conn, utility_id, n, identifier).await?
        }
        None => None,
    };
    match (found, parsed) {
        (Some((state, since)), Some(n)) => {
            throttle::succeeded(pool, attempt).await?;
            Ok(Some(CaseStatus {
                number: n.to_string(),
                state,
                since,
            }))
        }
        _ => {
            throttle::failed(attempt);
            Ok(None)
        }
    }
}
