//! Who an outbox event is for: its addressee resolved to active accounts, in batches of
//! ascending account id so a large audience is expanded a slice at a time and a crash resumes
//! after the last slice written.
//!
//! Audiences (`outbox.audience`):
//! - `{"staff_of_utility": <id>}`: the utility's clerks, technicians and administrators
//!   (alarms of meters with no customer);
//! - `{"residents_in_area": {"cities": [..], "postal_codes": [..], "streets": [{"city", "street"}],
//!   "supply_point_ids": [..]}}`: accounts linked to a customer with a contract in force today on a
//!   supply point matching any of the lists (an outage area);
//! - `{"all_residents": true}`: every resident account of the utility.
//! - `{"outage_recipients": <outage id>}`: the accounts an outage notice was recorded for when
//!   it was announced (ebok-outages), so its updates and its end reach the same people.
//! - `{"failure_reporters": <report id>}`: the resident accounts that filed a failure report or
//!   said "me too" (ebok-outages' reports); those who gave only an e-mail address are
//!   [`addresses`].
//!
//! With `require_consent`, only accounts with the notification consent in force are returned:
//! outage notices go only to those who agreed to receive them (seed 004).

use serde::Deserialize;
use serde_json::Value;
use sqlx::PgConnection;

/// An event's addressee, as stored.
#[derive(Debug, Clone)]
pub enum Addressee {
    Account(i64),
    Customer(i64),
    Audience(Value),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Area {
    #[serde(default)]
    cities: Vec<String>,
    #[serde(default)]
    postal_codes: Vec<String>,
    #[serde(default)]
    streets: Vec<Street>,
    #[serde(default)]
    supply_point_ids: Vec<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Street {
    city: String,
    street: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RecipientError {
    #[error("audience not understood: {0}")]
    BadAudience(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The e-mail addresses an addressee reaches without an account: the failure reporters who
/// gave only an address. Told whatever their consents (they asked to be), in one go.
pub async fn addresses(
    conn: &mut PgConnection,
    utility_id: i64,
    to: &Addressee,
) -> Result<Vec<String>, RecipientError> {
    let Addressee::Audience(Value::Object(spec)) = to else {
        return Ok(Vec::new());
    };
    let Some(report) = spec.get("failure_reporters") else {
        return Ok(Vec::new());
    };
    let report = report.as_i64().ok_or_else(|| {
        RecipientError::BadAudience("failure_reporters must be a report id".into())
    })?;
    Ok(sqlx::query_scalar!(
        r#"SELECT r.email AS "email!" FROM failure_reporters r
           JOIN failure_reports f ON f.id = r.report_id
           WHERE f.utility_id = $1 AND r.report_id = $2 AND r.email IS NOT NULL
           ORDER BY r.id"#,
        utility_id,
        report,
    )
    .fetch_all(conn)
    .await?)
}

/// Erases the addresses the notices of failure reports `reports` were sent to, once the
/// reporters' own are erased (`ebok_outages::reports::store::erase_closed_addresses`): the
/// notices and their settled e-mail deliveries keep that one was sent and how it went, not
/// where. A delivery still being tried keeps its address, and so does its notice (a month
/// after a report closed, retries have long ended). How many notices were erased.
pub async fn forget_reporter_addresses(
    conn: &mut PgConnection,
    reports: &[i64],
) -> sqlx::Result<u64> {
    if reports.is_empty() {
        return Ok(0);
    }
    Ok(sqlx::query!(
        r#"WITH notices AS (
               SELECT n.id FROM notifications n JOIN outbox o ON o.id = n.outbox_id
               WHERE n.email IS NOT NULL
                 AND (o.audience ->> 'failure_reporters')::bigint = ANY($1)),
           deliveries AS (
               UPDATE notification_deliveries d
               SET email = NULL, email_erased_at = now(),
                   idempotency_key = d.notification_id || ':email:erased:' || d.id
               WHERE d.notification_id IN (SELECT id FROM notices) AND d.email IS NOT NULL
                 AND d.settled_at IS NOT NULL)
           UPDATE notifications n SET email = NULL, email_erased_at = now()
           WHERE n.id IN (SELECT id FROM notices)
             AND NOT EXISTS (SELECT 1 FROM notification_deliveries d
                             WHERE d.notification_id = n.id AND d.settled_at IS NULL)"#,
        reports
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Up to `limit` recipients with account id above `after`, ascending.
pub async fn next_batch(
    conn: &mut PgConnection,
    utility_id: i64,
    to: &Addressee,
    require_consent: bool,
    after: i64,
    limit: i64,
) -> Result<Vec<i64>, RecipientError> {
    let ids = match to {
        Addressee::Account(id) => {
            sqlx::query_scalar!(
                r#"SELECT ua.id FROM user_accounts ua
                   WHERE ua.utility_id = $1 AND ua.id = $2 AND ua.id > $3 AND ua.status = 'active'
                     AND (NOT $4 OR EXISTS (SELECT 1 FROM consents k WHERE k.account_id = ua.id
                                            AND k.kind = 'notifications' AND k.withdrawn_at IS NULL))"#,
                utility_id,
                id,
                after,
                require_consent,
            )
            .fetch_all(conn)
            .await?
        }
        Addressee::Customer(id) => {
            sqlx::query_scalar!(
                r#"SELECT ua.id FROM account_customers ac
                   JOIN user_accounts ua ON ua.id = ac.account_id
                   WHERE ac.utility_id = $1 AND ac.customer_id = $2 AND ua.id > $3
                     AND ua.status = 'active'
                     AND (NOT $4 OR EXISTS (SELECT 1 FROM consents k WHERE k.account_id = ua.id
                                            AND k.kind = 'notifications' AND k.withdrawn_at IS NULL))
                   ORDER BY ua.id LIMIT $5"#,
                utility_id,
                id,
                after,
                require_consent,
                limit,
            )
            .fetch_all(conn)
            .await?
        }
        Addressee::Audience(spec) => audience(conn, utility_id, spec, require_consent, after, limit).await?,
    };
    Ok(ids)
}

async fn audience(
    conn: &mut PgConnection,
    utility_id: i64,
    spec: &Value,
    require_consent: bool,
    after: i64,
    limit: i64,
) -> Result<Vec<i64>, RecipientError> {
    let bad = |m: String| RecipientError::BadAudience(m);
    let Some(object) = spec.as_object().filter(|o| o.len() == 1) else {
        return Err(bad(format!("expected one key, got {spec}")));
    };
    let (key, value) = object.iter().next().expect("one key");
    match key.as_str() {
        "staff_of_utility" => {
            if value.as_i64() != Some(utility_id) {
                return Err(bad("staff_of_utility names another utility".into()));
            }
            Ok(sqlx::query_scalar!(
                r#"SELECT ua.id FROM user_accounts ua
                   WHERE ua.utility_id = $1 AND ua.id > $2 AND ua.status = 'active'
                     AND ua.role IN ('clerk', 'technician', 'admin')
                   ORDER BY ua.id LIMIT $3"#,
                utility_id,
                after,
                limit,
            )
            .fetch_all(conn)
            .await?)
        }
        "all_residents" => {
            if value != &Value::Bool(true) {
                return Err(bad("all_residents must be true".into()));
            }
            Ok(sqlx::query_scalar!(
                r#"SELECT ua.id FROM user_accounts ua
                   WHERE ua.utility_id = $1 AND ua.id > $2 AND ua.status = 'active'
                     AND ua.role = 'resident'
                     AND (NOT $3 OR EXISTS (SELECT 1 FROM consents k WHERE k.account_id = ua.id
                                            AND k.kind = 'notifications' AND k.withdrawn_at IS NULL))
                   ORDER BY ua.id LIMIT $4"#,
                utility_id,
                after,
                require_consent,
                limit,
            )
            .fetch_all(conn)
            .await?)
        }
        "residents_in_area" => {
            let area: Area =
                serde_json::from_value(value.clone()).map_err(|e| bad(e.to_string()))?;
            let (street_cities, streets): (Vec<String>, Vec<String>) =
                area.streets.into_iter().map(|s| (s.city, s.street)).unzip();
            Ok(sqlx::query_scalar!(
                r#"SELECT DISTINCT ua.id AS "id!"
                   FROM supply_points sp
                   JOIN contracts c ON c.utility_id = sp.utility_id AND c.supply_point_id = sp.id
                   JOIN account_customers ac ON ac.utility_id = c.utility_id
                                            AND ac.customer_id = c.customer_id
                   JOIN user_accounts ua ON ua.id = ac.account_id
                   WHERE sp.utility_id = $1
                     AND (sp.city = ANY($2) OR sp.postal_code = ANY($3) OR sp.id = ANY($4)
                          OR (sp.city, coalesce(sp.street, '')) IN
                             (SELECT * FROM unnest($5::text[], $6::text[])))
                     AND c.status = 'active'
                     AND c.valid_from <= (now() AT TIME ZONE 'Europe/Warsaw')::date
                     AND (c.valid_until IS NULL
                          OR c.valid_until >= (now() AT TIME ZONE 'Europe/Warsaw')::date)
                     AND ua.id > $7 AND ua.status = 'active'
                     AND (NOT $8 OR EXISTS (SELECT 1 FROM consents k WHERE k.account_id = ua.id
                                            AND k.kind = 'notifications' AND k.withdrawn_at IS NULL))
                   ORDER BY 1 LIMIT $9"#,
                utility_id,
                &area.cities,
                &area.postal_codes,
                &area.supply_point_ids,
                &street_cities,
                &streets,
                after,
                require_consent,
                limit,
            )
            .fetch_all(conn)
            .await?)
        }
        "outage_recipients" => {
            let outage = value
                .as_i64()
                .ok_or_else(|| bad("outage_recipients must be an outage id".into()))?;
            Ok(sqlx::query_scalar!(
                r#"SELECT ua.id FROM outage_recipients r
                   JOIN user_accounts ua ON ua.id = r.account_id
                   WHERE r.utility_id = $1 AND r.outage_id = $2 AND ua.id > $3
                     AND ua.status = 'active'
                     AND (NOT $4 OR EXISTS (SELECT 1 FROM consents k WHERE k.account_id = ua.id
                                            AND k.kind = 'notifications' AND k.withdrawn_at IS NULL))
                   ORDER BY ua.id LIMIT $5"#,
                utility_id,
                outage,
                after,
                require_consent,
                limit,
            )
            .fetch_all(conn)
            .await?)
        }
        "failure_reporters" => {
            let report = value
                .as_i64()
                .ok_or_else(|| bad("failure_reporters must be a report id".into()))?;
            Ok(sqlx::query_scalar!(
                r#"SELECT ua.id FROM failure_reporters r
                   JOIN failure_reports f ON f.id = r.report_id
                   JOIN user_accounts ua ON ua.id = r.account_id
                   WHERE f.utility_id = $1 AND r.report_id = $2 AND ua.id > $3
                     AND ua.status = 'active'
                     AND (NOT $4 OR EXISTS (SELECT 1 FROM consents k WHERE k.account_id = ua.id
                                            AND k.kind = 'notifications' AND k.withdrawn_at IS NULL))
                   ORDER BY ua.id LIMIT $5"#,
                utility_id,
                report,
                after,
                require_consent,
                limit,
            )
            .fetch_all(conn)
            .await?)
        }
        other => Err(bad(format!("unknown audience `{other}`"))),
    }
}
