//! Deliveries go out. A step claims due deliveries (`FOR UPDATE SKIP LOCKED`), leasing each
//! ('sending' until the lease ends) in one committed statement; sends them concurrently; and
//! settles every result in one transaction. A worker that dies between send and settle leaves
//! its claims to lapse: they are claimed again and sent once more, with the same idempotency key
//! (the push collapse key, the e-mail Message-ID), so a crash repeats a target at most once.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::Value;
use sqlx::PgPool;

use crate::channel::{EmailMessage, Outcome, PushMessage};
use crate::notice::{Category, Notice, Sender};

use super::{Dispatcher, StepReport, backoff};

struct Claimed {
    id: i64,
    attempts: i32,
    target: Target,
}

enum Target {
    Push {
        device_id: i64,
        message: PushMessage,
    },
    Email {
        message: EmailMessage,
    },
    /// The device was unregistered after the delivery was created.
    Gone,
}

/// A settled delivery.
struct Settled {
    id: i64,
    attempts: i32,
    status: &'static str,
    next_at: Option<DateTime<Utc>>,
    error: Option<String>,
    provider_id: Option<String>,
}

/// A delivery leased to this worker, as claimed or as created.
pub(crate) struct Claim {
    pub id: i64,
    pub notification_id: i64,
    pub channel: String,
    pub device_id: Option<i64>,
    pub email: Option<String>,
    pub attempts: i32,
    pub idempotency_key: String,
}

/// Sends `leased` (deliveries this worker just created) and due deliveries claimed up to the
/// batch size, and settles them.
pub(super) async fn step(
    d: &Dispatcher,
    pool: &PgPool,
    leased: Vec<Claim>,
    report: &mut StepReport,
) -> anyhow::Result<()> {
    let mut leased = leased;
    let room = d.config.batch.max(1).saturating_sub(leased.len());
    if room > 0 {
        leased.extend(claim(d, pool, room).await?);
    }
    let claimed = load(d, pool, leased).await?;
    if claimed.is_empty() {
        return Ok(());
    }
    report.claimed += claimed.len();
    let results: Vec<(Claimed, Outcome, Duration)> = futures::stream::iter(claimed)
        .map(|c| async move {
            let started = Instant::now();
            let outcome = match &c.target {
                Target::Push { message, .. } => match &d.push {
                    Some(push) => push.send(message).await,
                    None => Outcome::Failed {
                        reason: "push is not configured".into(),
                    },
                },
                Target::Email { message } => match &d.mail {
                    Some(mail) => mail.send(message).await,
                    None => Outcome::Failed {
                        reason: "e-mail is not configured".into(),
                    },
                },
                Target::Gone => Outcome::Failed {
                    reason: "device removed".into(),
                },
            };
            (c, outcome, started.elapsed())
        })
        .buffer_unordered(d.config.concurrency.max(1))
        .collect()
        .await;
    settle(d, pool, results, report).await
}

/// Claims up to `limit` due deliveries in one committed statement. It and [`load`] find rows
/// by primary key (`= ANY`), so the plans stay index scans however stale the statistics of
/// these fast-changing tables are.
async fn claim(d: &Dispatcher, pool: &PgPool, limit: usize) -> anyhow::Result<Vec<Claim>> {
    Ok(sqlx::query_as!(
        Claim,
        r#"UPDATE notification_deliveries nd
           SET status = 'sending', attempts = nd.attempts + 1,
               next_attempt_at = now() + make_interval(secs => $2)
           WHERE nd.id = ANY(ARRAY(
               SELECT id FROM notification_deliveries
               WHERE status IN ('pending', 'sending') AND next_attempt_at <= now()
               ORDER BY next_attempt_at
               LIMIT $1
               FOR UPDATE SKIP LOCKED))
           RETURNING nd.id, nd.notification_id, nd.channel::text AS "channel!", nd.device_id,
                     nd.email, nd.attempts, nd.idempotency_key"#,
        limit as i64,
        d.config.lease_secs as f64,
    )
    .fetch_all(pool)
    .await?)
}

/// What the leased deliveries carry: the notice, the device token or the address.
async fn load(d: &Dispatcher, pool: &PgPool, claimed: Vec<Claim>) -> anyhow::Result<Vec<Claimed>> {
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let mut notification_ids: Vec<i64> = claimed.iter().map(|c| c.notification_id).collect();
    notification_ids.sort_unstable();
    notification_ids.dedup();
    let device_ids: Vec<i64> = claimed.iter().filter_map(|c| c.device_id).collect();
    let notices: HashMap<i64, _> = sqlx::query!(
        r#"SELECT n.id AS "id!", n.category::text AS "category!", n.kind AS "kind!",
                  n.title AS "title!", n.body AS "body!", n.link, n.details AS "details!",
                  n.data AS "data!", n.urgent AS "urgent!",
                  n.document_waiting AS "document_waiting!",
                  ua.display_name AS "display_name?", u.municipality AS "municipality!",
                  u.slug AS "slug!"
           FROM notifications n
           LEFT JOIN user_accounts ua ON ua.id = n.account_id
           JOIN utilities u ON u.id = n.utility_id
           WHERE n.id = ANY($1)"#,
        &notification_ids,
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.id, r))
    .collect();
    let devices: HashMap<i64, (String, bool)> = sqlx::query!(
        r#"SELECT id, token, removed_at IS NOT NULL AS "removed!" FROM push_devices
           WHERE id = ANY($1)"#,
        &device_ids,
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.id, (r.token, r.removed)))
    .collect();

    Ok(claimed
        .into_iter()
        .map(|c| {
            let target = match notices.get(&c.notification_id) {
                None => Target::Gone,
                Some(n) => {
                    let mut data: BTreeMap<String, String> = match &n.data {
                        Value::Object(map) => map
                            .iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                            .collect(),
                        _ => BTreeMap::new(),
                    };
                    data.insert("notification_id".into(), n.id.to_string());
                    match (
                        c.channel.as_str(),
                        c.device_id.and_then(|id| Some((id, devices.get(&id)?))),
                        c.email,
                    ) {
                        ("push", Some((device_id, (token, false))), _) => Target::Push {
                            device_id,
                            message: PushMessage {
                                token: token.clone(),
                                title: n.title.clone(),
                                body: n.body.clone(),
                                data,
                                collapse_key: c.idempotency_key.clone(),
                                high_priority: n.urgent,
                            },
                        },
                        ("email", _, Some(address)) => {
                            let notice = Notice {
                                category: Category::parse(&n.category)
                                    .unwrap_or(Category::CaseStages),
                                kind: n.kind.clone(),
                                title: n.title.clone(),
                                body: n.body.clone(),
                                details: crate::inbox::detail_pairs(&n.details),
                                link: n.link.clone(),
                                document_waiting: n.document_waiting,
                                urgent: n.urgent,
                                data,
                            };
                            let sender = Sender {
                                utility_name: n.municipality.clone(),
                                portal_url: format!("{}/u/{}", d.portal_base, n.slug),
                            };
                            Target::Email {
                                message: crate::email::render(
                                    &notice,
                                    &address,
                                    n.display_name.as_deref(),
                                    &sender,
                                    // The key names the address; the row's id does not.
                                    &format!("delivery-{}", c.id),
                                ),
                            }
                        }
                        _ => Target::Gone,
                    }
                }
            };
            Claimed {
                id: c.id,
                attempts: c.attempts,
                target,
            }
        })
        .collect())
}

async fn settle(
    d: &Dispatcher,
    pool: &PgPool,
    results: Vec<(Claimed, Outcome, Duration)>,
    report: &mut StepReport,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let mut settled = Vec::with_capacity(results.len());
    let mut gone_devices = Vec::new();
    let mut gone_reasons = Vec::new();
    for (c, outcome, took) in results {
        let channel = match c.target {
            Target::Email { .. } => "email",
            _ => "push",
        };
        metrics::histogram!("push_send_seconds", "channel" => channel).record(took.as_secs_f64());
        report.send_latencies.push(took);
        let (status, next_at, error, provider_id) = match outcome {
            Outcome::Sent { provider_id } => {
                report.sent += 1;
                ("sent", None, None, provider_id)
            }
            Outcome::TargetGone { reason } => {
                report.targets_removed += 1;
                if let Target::Push { device_id, .. } = c.target {
                    gone_devices.push(device_id);
                    gone_reasons.push(format!("FCM: {reason}"));
                }
                ("failed", None, Some(reason), None)
            }
            Outcome::Retry { after, reason } => {
                if c.attempts as u32 >= d.config.max_attempts {
                    report.dead += 1;
                    (
                        "dead",
                        None,
                        Some(format!("{reason} (after {} attempts)", c.attempts)),
                        None,
                    )
                } else {
                    report.retried += 1;
                    let wait =
                        backoff::delay(c.attempts as u32, d.backoff_base(), d.backoff_max(), after);
                    let next =
                        now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                    ("pending", Some(next), Some(reason), None)
                }
            }
            Outcome::Failed { reason } => {
                if matches!(c.target, Target::Gone) {
                    report.cancelled += 1;
                    ("cancelled", None, Some(reason), None)
                } else {
                    report.failed += 1;
                    ("failed", None, Some(reason), None)
                }
            }
        };
        metrics::counter!("push_deliveries_total", "channel" => channel, "status" => status)
            .increment(1);
        // The key of an e-mail delivery names the address: the id alone goes to the log.
        tracing::debug!(delivery = c.id, status, "delivery settled");
        settled.push(Settled {
            id: c.id,
            attempts: c.attempts,
            status,
            next_at,
            error,
            provider_id,
        });
    }
    let mut tx = pool.begin().await?;
    let ids: Vec<i64> = settled.iter().map(|s| s.id).collect();
    let attempts: Vec<i32> = settled.iter().map(|s| s.attempts).collect();
    let statuses: Vec<String> = settled.iter().map(|s| s.status.to_string()).collect();
    let next: Vec<Option<DateTime<Utc>>> = settled.iter().map(|s| s.next_at).collect();
    let errors: Vec<Option<String>> = settled.iter_mut().map(|s| s.error.take()).collect();
    let providers: Vec<Option<String>> = settled.iter_mut().map(|s| s.provider_id.take()).collect();
    // Only our own claim is settled: a delivery whose lease lapsed and that another worker
    // claimed since has a higher attempt count.
    sqlx::query!(
        r#"UPDATE notification_deliveries nd
           SET status = r.status::delivery_status,
               next_attempt_at = coalesce(r.next_at, nd.next_attempt_at),
               last_error = r.error,
               provider_id = coalesce(r.provider_id, nd.provider_id),
               settled_at = CASE WHEN r.status = 'pending' THEN NULL ELSE now() END
           FROM unnest($1::bigint[], $2::int[], $3::text[], $4::timestamptz[], $5::text[], $6::text[])
                AS r(id, attempts, status, next_at, error, provider_id)
           WHERE nd.id = r.id AND nd.attempts = r.attempts AND nd.status = 'sending'"#,
        &ids,
        &attempts,
        &statuses,
        &next as &[Option<DateTime<Utc>>],
        &errors as &[Option<String>],
        &providers as &[Option<String>],
    )
    .execute(&mut *tx)
    .await?;
    if !gone_devices.is_empty() {
        crate::registry::remove_devices(&mut tx, &gone_devices, &gone_reasons).await?;
    }
    tx.commit().await?;
    Ok(())
}
