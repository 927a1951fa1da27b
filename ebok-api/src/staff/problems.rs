//! What went wrong on the way in and on the way out, for staff: readings ingest rejected,
//! counted by reason and Warsaw day ([`rejections_by_day`]) with the newest examples
//! ([`recent_rejections`]); and notifications that could not be delivered (the dispatcher's
//! dead letters, `mobile_push::dispatcher::dead_letters`), put back in line once the cause is
//! fixed ([`requeue`], audited).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::staff::ByStaff;

/// The reasons ingest rejects a reading for, as the database names them.
pub const REASONS: [&str; 12] = [
    "malformed_payload",
    "payload_too_large",
    "batch_too_large",
    "missing_field",
    "non_numeric_value",
    "negative_value",
    "above_register_max",
    "future_timestamp",
    "timestamp_out_of_range",
    "meter_not_installed",
    "not_a_water_meter",
    "conflicting_duplicate",
];

/// Rejections of one reason on one Warsaw day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RejectionCount {
    pub day: NaiveDate,
    pub reason: String,
    pub count: i64,
}

/// The utility's rejections of the last `days` Warsaw days (today included), by day and reason.
pub async fn rejections_by_day(
    pool: &PgPool,
    utility_id: i64,
    days: u32,
) -> sqlx::Result<Vec<RejectionCount>> {
    let today = ebok_common::domain::time::local_day(Utc::now());
    let first = today - chrono::Days::new(u64::from(days.max(1)) - 1);
    sqlx::query_as!(
        RejectionCount,
        r#"SELECT (received_at AT TIME ZONE 'Europe/Warsaw')::date AS "day!",
                  reason::text AS "reason!", count(*) AS "count!"
           FROM ingest_rejections
           WHERE utility_id = $1 AND received_at >= $2
           GROUP BY 1, 2 ORDER BY 1 DESC, 3 DESC"#,
        utility_id,
        ebok_common::domain::time::day_start(first),
    )
    .fetch_all(pool)
    .await
}

/// One rejected reading, as ingest stored it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rejection {
    pub received_at: DateTime<Utc>,
    pub reason: String,
    pub detail: String,
    /// The topic or Modbus device it came from.
    pub origin: String,
    pub meter_ref: Option<String>,
    pub measured_at: Option<DateTime<Utc>>,
    /// The offending element or the start of the payload.
    pub sample: Option<String>,
}

/// The utility's newest rejections (of one reason, when given).
pub async fn recent_rejections(
    pool: &PgPool,
    utility_id: i64,
    reason: Option<&str>,
    limit: i64,
) -> Result<Vec<Rejection>, ApiError> {
    if reason.is_some_and(|r| !REASONS.contains(&r)) {
        return Err(ApiError::invalid("reason", "Nieznany powód odrzucenia."));
    }
    Ok(sqlx::query_as!(
        Rejection,
        r#"SELECT received_at, reason::text AS "reason!", detail, origin, meter_ref,
                  measured_at, sample
           FROM ingest_rejections
           WHERE utility_id = $1 AND ($2::text IS NULL OR reason::text = $2)
           ORDER BY received_at DESC LIMIT $3"#,
        utility_id,
        reason,
        limit,
    )
    .fetch_all(pool)
    .await?)
}

/// Puts a dead letter of the utility back in line: a delivery (`delivery`) or an outbox event
/// (`event`). Not found when the utility has no such dead letter.
pub async fn requeue(pool: &PgPool, by: ByStaff, what: &str, id: i64) -> Result<(), ApiError> {
    let mut tx = pool.begin().await?;
    let done = match what {
        "delivery" => mobile_push::dispatcher::requeue_dead(&mut tx, by.utility_id, id).await?,
        "event" => mobile_push::dispatcher::requeue_dead_event(&mut tx, by.utility_id, id).await?,
        _ => return Err(ApiError::invalid("what", "Nieznany rodzaj.")),
    };
    if !done {
        return Err(ApiError::NotFound);
    }
    by.audit(
        &mut tx,
        "dead_letter.requeued",
        if what == "event" {
            "outbox"
        } else {
            "delivery"
        },
        id,
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
