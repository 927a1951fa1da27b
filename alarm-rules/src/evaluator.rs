//! The evaluator: runs residents' alarm rules as readings arrive and records what they find.
//!
//! One [`Evaluator::try_once`] step:
//! 1. ends episodes that end by themselves (a `daily_above` day that is over);
//! 2. `device_alarm` rules: records a trigger for every open meter alarm on the rule's meter not
//!    recorded yet, and ends the triggers of alarms that cleared. No outbox event: ingest already
//!    announced the meter alarm to every account of the customer (see the module above);
//! 3. the rules over readings: locks (`FOR UPDATE SKIP LOCKED`) up to `batch` enabled rules that
//!    are due — their meter's newest reading (`meter_latest_readings.measured_at`, which only
//!    moves forward) is past the rule's cursor `evaluated_through`, or the rule is new or switched
//!    on again, or it is a `no_consumption` rule not looked at for `recheck` — loads the window of
//!    readings each needs, runs [`condition::decide`], ends and opens episodes, writes the
//!    `resident_alarm.triggered` event of each new one, and moves the cursor; all in one
//!    transaction, each rule in a savepoint of its own so one failing rule does not hold up the
//!    others.
//!
//! Several evaluators (threads or processes) may run at once: they skip each other's locked
//! rules, and a recorded episode is unique per rule (`UNIQUE (rule_id, episode)`, at most one
//! open) and its event carries the dedup key `resident_alarm:<rule>:<episode>`, so a retry or a
//! race never announces an episode twice.
//!
//! A rule sees only the readings (and meter alarms) of its account's contract window
//! (`account_meter_windows`): it is evaluated up to the window's end and then no more, its open
//! episode ends with the window, and a rule whose account can no longer see the meter at all is
//! not evaluated. A resident who moved out hears nothing about the next household's water, and a
//! resident who moved in hears nothing about the previous one's.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ebok_common::backoff::Backoff;
use ebok_common::domain::time::{day_start, local_day};
use ebok_common::domain::{AlarmKind, Register};
use ebok_common::outbox::{self, Addressee, Event, OutboxEvent, ResidentAlarm};
use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::RuleKind;
use crate::condition::{self, Decision, OpenEpisode, Reading};
use crate::store::kind_of;

/// How far back a window of readings reaches at most (beyond what the rule itself needs), when
/// the evaluator was stopped for a while.
const LOOKBACK: chrono::Duration = chrono::Duration::days(8);

/// How far back to look for the reading before a window (the baseline of a day, the reading N
/// days ago).
const ANCHOR_LOOKBACK: chrono::Duration = chrono::Duration::days(35);

/// How the evaluator paces itself.
#[derive(Debug, Clone)]
pub struct EvaluatorConfig {
    /// Wait between steps when nothing is due. A trigger is written within about one poll of the
    /// reading reaching `meter_latest_readings`.
    pub poll: Duration,
    /// Rules evaluated per step (one transaction); a full batch makes the next step start at once.
    pub batch: i64,
    /// How often `no_consumption` rules are evaluated without a new reading: a safety net for a
    /// rule that missed its evaluation on arrival (the meter was not visible to the account for a
    /// while, an evaluation failed). The condition itself is over readings only, and a newest
    /// reading older than two days never raises it: a silent meter is "no data" (ingest's
    /// `no_data` alarm), not "no consumption".
    pub recheck: Duration,
}

impl Default for EvaluatorConfig {
    fn default() -> Self {
        EvaluatorConfig {
            poll: Duration::from_secs(1),
            batch: 200,
            recheck: Duration::from_secs(10 * 60),
        }
    }
}

/// What one step did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EvalReport {
    /// Rules over readings evaluated.
    pub evaluated: usize,
    /// Episodes opened (each with a notice).
    pub opened: usize,
    /// Episodes ended (over readings, or a day that is over).
    pub closed: usize,
    /// `device_alarm` triggers recorded and ended.
    pub device_recorded: usize,
    pub device_closed: usize,
    /// Rules whose evaluation failed (logged; retried at a later step).
    pub failed: usize,
    /// The batch was full: more rules may be due now.
    pub backlog: bool,
}

impl EvalReport {
    /// Nothing was due.
    pub fn is_idle(&self) -> bool {
        self.evaluated == 0
            && self.closed == 0
            && self.device_recorded == 0
            && self.device_closed == 0
    }
}

/// Evaluates residents' alarm rules; see the module documentation.
pub struct Evaluator {
    pool: PgPool,
    config: EvaluatorConfig,
}

/// A due rule over readings, as locked.
struct DueRule {
    id: i64,
    utility_id: i64,
    account_id: i64,
    meter_id: i64,
    kind: RuleKind,
    label: Option<String>,
    evaluated_through: Option<DateTime<Utc>>,
    latest_at: DateTime<Utc>,
    latest_received_at: DateTime<Utc>,
    register_max_litres: i64,
    /// The account's contract window: from the start of its first day to the end of its last.
    visible_from: DateTime<Utc>,
    visible_until: Option<DateTime<Utc>>,
}

impl Evaluator {
    pub fn new(pool: PgPool, config: EvaluatorConfig) -> Evaluator {
        Evaluator { pool, config }
    }

    /// One step (see the module documentation). Errors are the database's; a rule that fails on
    /// its own is counted in [`EvalReport::failed`] instead.
    pub async fn try_once(&self) -> anyhow::Result<EvalReport> {
        let mut report = EvalReport::default();
        self.end_finished_episodes(&mut report).await?;
        self.device_alarms(&mut report).await?;
        self.reading_rules(&mut report).await?;
        metrics::counter!("resident_alarm_evaluations_total").increment(report.evaluated as u64);
        Ok(report)
    }

    /// Steps until `cancel`. An idle step waits `poll`; a failing one (the database is away) is
    /// logged and retried with growing back-off up to 30 s; the loop never ends on an error.
    pub async fn run(self, cancel: CancellationToken) {
        let mut failures = 0u32;
        while !cancel.is_cancelled() {
            let wait = match self.try_once().await {
                Ok(report) => {
                    failures = 0;
                    (!report.backlog).then_some(self.config.poll)
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    metrics::counter!("resident_alarm_evaluator_errors_total").increment(1);
                    tracing::warn!(
                        error = format!("{error:#}"),
                        failures,
                        "alarm rule step failed"
                    );
                    let base = self.config.poll.max(Duration::from_millis(100));
                    Some(Backoff::new(base, Duration::from_secs(30)).delay(failures + 1))
                }
            };
            if let Some(wait) = wait {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                }
            } else {
                tokio::task::yield_now().await;
            }
        }
    }

    /// Ends the episodes that end by themselves, and those of rules whose account's contract
    /// window is over (or gone): at the window's end.
    async fn end_finished_episodes(&self, report: &mut EvalReport) -> sqlx::Result<()> {
        let mut ended = sqlx::query!(
            r#"UPDATE resident_alarm_triggers SET ended_at = greatest(ends_by, started_at)
               WHERE id IN (SELECT id FROM resident_alarm_triggers
                            WHERE ended_at IS NULL AND ends_by <= now()
                            FOR UPDATE SKIP LOCKED)"#
        )
        .execute(&self.pool)
        .await?
        .rows_affected();
        // Only the episodes to end are locked (not every open one of the installation).
        ended += sqlx::query!(
            r#"UPDATE resident_alarm_triggers t
               SET ended_at = greatest(x.until, t.started_at)
               FROM (SELECT o.id,
                            coalesce((w.last_day + 1)::timestamp AT TIME ZONE 'Europe/Warsaw',
                                     now()) AS until
                     FROM resident_alarm_triggers o
                     JOIN resident_alarm_rules r ON r.id = o.rule_id AND r.utility_id = o.utility_id
                     LEFT JOIN account_meter_windows w
                       ON w.account_id = r.account_id AND w.utility_id = r.utility_id
                      AND w.meter_id = r.meter_id
                     WHERE o.ended_at IS NULL
                       AND (w.account_id IS NULL
                            OR (w.last_day + 1)::timestamp AT TIME ZONE 'Europe/Warsaw' <= now())
                     FOR UPDATE OF o SKIP LOCKED) x
               WHERE t.id = x.id"#
        )
        .execute(&self.pool)
        .await?
        .rows_affected();
        if ended > 0 {
            metrics::counter!("resident_alarm_episodes_total", "change" => "ended")
                .increment(ended);
        }
        report.closed += ended as usize;
        Ok(())
    }

    async fn device_alarms(&self, report: &mut EvalReport) -> sqlx::Result<()> {
        let mut tx = self.pool.begin().await?;
        let new = sqlx::query!(
            r#"SELECT r.id AS rule_id, r.utility_id, a.id AS alarm_id, a.kind::text AS "alarm!",
                      a.raised_at
               FROM resident_alarm_rules r
               JOIN account_meter_windows w
                 ON w.account_id = r.account_id AND w.utility_id = r.utility_id
                AND w.meter_id = r.meter_id
               JOIN meter_alarms a ON a.meter_id = r.meter_id AND a.utility_id = r.utility_id
                                  AND a.state <> 'cleared'
               WHERE r.enabled AND r.kind = 'device_alarm'
                 AND a.raised_at >= w.first_day::timestamp AT TIME ZONE 'Europe/Warsaw'
                 AND (w.last_day IS NULL
                      OR a.raised_at < (w.last_day + 1)::timestamp AT TIME ZONE 'Europe/Warsaw')
                 AND NOT EXISTS (SELECT 1 FROM resident_alarm_triggers t
                                 WHERE t.rule_id = r.id AND t.episode = 'meter_alarm:' || a.id)
               ORDER BY a.raised_at, r.id, a.id
               LIMIT $1"#,
            self.config.batch,
        )
        .fetch_all(&mut *tx)
        .await?;
        if !new.is_empty() {
            let mut utilities = Vec::with_capacity(new.len());
            let mut rules = Vec::with_capacity(new.len());
            let mut alarms = Vec::with_capacity(new.len());
            let mut episodes = Vec::with_capacity(new.len());
            let mut ats = Vec::with_capacity(new.len());
            let mut details = Vec::with_capacity(new.len());
            let mut kinds = Vec::with_capacity(new.len());
            for row in &new {
                utilities.push(row.utility_id);
                rules.push(row.rule_id);
                alarms.push(row.alarm_id);
                episodes.push(format!("meter_alarm:{}", row.alarm_id));
                ats.push(row.raised_at);
                details.push(format!(
                    "Wodomierz zgłosił: {}.",
                    AlarmKind::parse(&row.alarm).map_or("alarm wodomierza", AlarmKind::name_pl)
                ));
                kinds.push(row.alarm.clone());
            }
            let recorded = sqlx::query!(
                r#"INSERT INTO resident_alarm_triggers
                       (utility_id, rule_id, episode, since, started_at, meter_alarm_id, detail,
                        details)
                   SELECT u, r, e, t, t, a, d, jsonb_build_object('alarm', k)
                   FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[],
                               $5::bigint[], $6::text[], $7::text[]) AS x(u, r, e, t, a, d, k)
                   ON CONFLICT DO NOTHING"#,
                &utilities,
                &rules,
                &episodes,
                &ats,
                &alarms,
                &details,
                &kinds,
            )
            .execute(&mut *tx)
            .await?
            .rows_affected();
            report.device_recorded += recorded as usize;
            metrics::counter!("resident_alarm_device_triggers_total", "change" => "recorded")
                .increment(recorded);
        }
        let cleared = sqlx::query!(
            r#"UPDATE resident_alarm_triggers t
               SET ended_at = greatest(a.cleared_at, t.started_at)
               FROM meter_alarms a
               WHERE t.meter_alarm_id = a.id AND a.state = 'cleared'
                 AND t.id IN (SELECT id FROM resident_alarm_triggers
                              WHERE ended_at IS NULL AND meter_alarm_id IS NOT NULL
                              FOR UPDATE SKIP LOCKED)"#
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        report.device_closed += cleared as usize;
        if cleared > 0 {
            metrics::counter!("resident_alarm_device_triggers_total", "change" => "ended")
                .increment(cleared);
        }
        tx.commit().await
    }

    async fn reading_rules(&self, report: &mut EvalReport) -> sqlx::Result<()> {
        let mut tx = self.pool.begin().await?;
        let due = sqlx::query!(
            r#"SELECT r.id, r.utility_id, r.account_id, r.meter_id, r.kind::text AS "kind!",
                      r.litres, r.hours, r.days, r.label, r.evaluated_through,
                      l.measured_at AS latest_at, l.received_at AS latest_received_at,
                      m.register_max_litres,
                      w.first_day::timestamp AT TIME ZONE 'Europe/Warsaw' AS "visible_from!",
                      e.until AS visible_until
               FROM resident_alarm_rules r
               JOIN account_meter_windows w
                 ON w.account_id = r.account_id AND w.utility_id = r.utility_id
                AND w.meter_id = r.meter_id
               CROSS JOIN LATERAL (SELECT (w.last_day + 1)::timestamp AT TIME ZONE 'Europe/Warsaw'
                                            AS until) e
               JOIN meter_latest_readings l ON l.meter_id = r.meter_id
               JOIN meters m ON m.id = r.meter_id
               WHERE r.enabled AND r.kind <> 'device_alarm'
                 AND (r.evaluated_through IS NULL OR r.evaluated_at IS NULL
                      OR l.measured_at > r.evaluated_through
                      OR (r.kind = 'no_consumption'
                          AND r.evaluated_at < now() - make_interval(secs => $2)
                          AND coalesce(e.until > now(), true)))
                 AND coalesce(r.evaluated_through < e.until, true)
               ORDER BY r.evaluated_at NULLS FIRST, r.id
               LIMIT $1
               FOR UPDATE OF r SKIP LOCKED"#,
            self.config.batch,
            self.config.recheck.as_secs_f64(),
        )
        .fetch_all(&mut *tx)
        .await?;
        report.backlog = due.len() as i64 >= self.config.batch;
        for row in due {
            let rule_id = row.id;
            let kind = match kind_of(&row.kind, row.litres, row.hours, row.days) {
                Ok(kind) => kind,
                Err(error) => {
                    tracing::error!(rule_id, %error, "alarm rule has inconsistent columns");
                    report.failed += 1;
                    continue;
                }
            };
            let rule = DueRule {
                id: row.id,
                utility_id: row.utility_id,
                account_id: row.account_id,
                meter_id: row.meter_id,
                kind,
                label: row.label,
                evaluated_through: row.evaluated_through,
                latest_at: row.latest_at,
                latest_received_at: row.latest_received_at,
                register_max_litres: row.register_max_litres,
                visible_from: row.visible_from,
                visible_until: row.visible_until,
            };
            let mut savepoint = tx.begin().await?;
            match evaluate(&mut savepoint, &rule, report).await {
                Ok(()) => savepoint.commit().await?,
                Err(error) => {
                    savepoint.rollback().await?;
                    report.failed += 1;
                    metrics::counter!("resident_alarm_rule_failures_total").increment(1);
                    tracing::warn!(rule_id, meter_id = rule.meter_id, %error,
                                   "evaluating an alarm rule failed");
                    // To the back of the queue; still due, so retried at a later step.
                    sqlx::query!(
                        "UPDATE resident_alarm_rules SET evaluated_at = now() WHERE id = $1",
                        rule_id
                    )
                    .execute(&mut *tx)
                    .await?;
                }
            }
            report.evaluated += 1;
        }
        tx.commit().await
    }
}

/// Evaluates one locked rule and stores the outcome, on the caller's transaction.
async fn evaluate(
    conn: &mut PgConnection,
    rule: &DueRule,
    report: &mut EvalReport,
) -> sqlx::Result<()> {
    // Past the window's end the rule sees the world as it was then.
    let now = rule
        .visible_until
        .map_or(Utc::now(), |until| until.min(Utc::now()));
    // The rule's newest episode: open, or the one before (episodes of a rule over readings never
    // overlap, so an open one is always the newest).
    let last = sqlx::query!(
        r#"SELECT id, episode, since, started_at, ends_by, ended_at, litres
           FROM resident_alarm_triggers WHERE rule_id = $1
           ORDER BY started_at DESC, id DESC LIMIT 1"#,
        rule.id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let last_since = last.as_ref().map(|l| l.since);
    let last_episode = last.as_ref().map(|l| l.episode.clone());
    let open = last.filter(|l| l.ended_at.is_none());
    let open_episode = open.as_ref().map(|o| OpenEpisode {
        episode: o.episode.clone(),
        since: o.since,
        started_at: o.started_at,
        ends_by: o.ends_by,
        litres: o.litres,
    });
    let readings = window(conn, rule, last_since).await?;
    let register = Register::new(rule.register_max_litres)
        .ok_or_else(|| sqlx::Error::Decode("register_max_litres is not positive".into()))?;
    let Decision {
        close_at,
        open: new,
    } = condition::decide(
        rule.kind,
        register,
        &readings,
        open_episode.as_ref(),
        condition::Memory {
            last_episode: last_episode.as_deref(),
            evaluated_through: rule.evaluated_through,
        },
        now,
    );
    let kind_label = rule.kind.as_str();
    if let (Some(at), Some(o)) = (close_at, &open) {
        sqlx::query!(
            r#"UPDATE resident_alarm_triggers SET ended_at = greatest($2, started_at)
               WHERE id = $1 AND ended_at IS NULL"#,
            o.id,
            at
        )
        .execute(&mut *conn)
        .await?;
        report.closed += 1;
        metrics::counter!("resident_alarm_episodes_total", "change" => "ended", "kind" => kind_label)
            .increment(1);
    }
    if let Some(episode) = new {
        let trigger_id = sqlx::query_scalar!(
            r#"INSERT INTO resident_alarm_triggers
                   (utility_id, rule_id, episode, since, started_at, ends_by, litres, detail)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT DO NOTHING
               RETURNING id"#,
            rule.utility_id,
            rule.id,
            episode.episode,
            episode.since,
            episode.at,
            episode.ends_by,
            episode.litres,
            episode.detail,
        )
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(trigger_id) = trigger_id {
            let event = OutboxEvent {
                utility_id: rule.utility_id,
                event: Event::ResidentAlarmTriggered(ResidentAlarm {
                    meter_id: rule.meter_id,
                    rule: condition::notice_rule(&rule.kind, rule.label.as_deref()),
                    at: episode.at,
                    detail: Some(episode.detail.clone()),
                    rule_id: rule.id,
                    trigger_id,
                }),
                to: Addressee::Account(rule.account_id),
                dedup_key: Some(format!("resident_alarm:{}:{}", rule.id, episode.episode)),
            };
            let outbox_id = outbox::enqueue(conn, &event).await?;
            sqlx::query!(
                "UPDATE resident_alarm_triggers SET outbox_id = $2 WHERE id = $1",
                trigger_id,
                outbox_id
            )
            .execute(&mut *conn)
            .await?;
            report.opened += 1;
            metrics::counter!("resident_alarm_episodes_total", "change" => "opened", "kind" => kind_label)
                .increment(1);
            let delay = (now - rule.latest_received_at).num_milliseconds().max(0) as f64 / 1000.0;
            metrics::histogram!("resident_alarm_trigger_delay_seconds").record(delay);
            tracing::info!(
                rule_id = rule.id,
                meter_id = rule.meter_id,
                trigger_id,
                kind = kind_label,
                "resident alarm triggered"
            );
        }
    }
    sqlx::query!(
        r#"UPDATE resident_alarm_rules
           SET evaluated_through = greatest(evaluated_through, $2), evaluated_at = now()
           WHERE id = $1"#,
        rule.id,
        rule.latest_at
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The readings the rule's kind needs, oldest first, ending at the meter's newest reading, and
/// reaching back to the rule's cursor (so no interval goes unseen) within [`LOOKBACK`]; never
/// outside the account's contract window. Estimates (billing's fill-ins for gaps) are not
/// measurements and are left out.
///
/// For `continuous_flow` the window also reaches back to the start of the rule's last episode
/// (`last_since`): a flow that has not paused since then is found with the same start, so it is
/// the same episode and is not announced again (e.g. after the rule was switched off and on).
async fn window(
    conn: &mut PgConnection,
    rule: &DueRule,
    last_since: Option<DateTime<Utc>>,
) -> sqlx::Result<Vec<Reading>> {
    let latest = match rule.visible_until {
        Some(until) => rule
            .latest_at
            .min(until - chrono::Duration::microseconds(1)),
        None => rule.latest_at,
    };
    let cursor = rule.evaluated_through.unwrap_or(latest).min(latest);
    let from = match rule.kind {
        RuleKind::DailyAbove { .. } => {
            // From the last reading before the day before the newest one's: both days are
            // checked, each from the register at its start midnight.
            let yesterday = local_day(latest).pred_opt().expect("a day before");
            let start = day_start(yesterday);
            let before = start - chrono::Duration::microseconds(1);
            last_at_or_before(conn, rule.meter_id, before)
                .await?
                .unwrap_or(start)
        }
        RuleKind::ContinuousFlow { hours } => {
            let needed = latest - chrono::Duration::hours(hours.into()) - condition::FLOW_MAX_GAP;
            needed
                .min(cursor)
                .min(last_since.unwrap_or(latest))
                .max(latest - LOOKBACK)
        }
        RuleKind::NoConsumption { days } => {
            let ago = latest - chrono::Duration::days(days.into());
            let anchor = last_at_or_before(conn, rule.meter_id, ago)
                .await?
                .unwrap_or(ago);
            anchor.min(cursor).max(ago - LOOKBACK)
        }
        RuleKind::DeviceAlarm => return Ok(Vec::new()),
    };
    let rows = sqlx::query!(
        r#"SELECT measured_at, volume_litres FROM meter_readings
           WHERE meter_id = $1 AND measured_at >= $2 AND measured_at <= $3
             AND source <> 'estimate'
           ORDER BY measured_at"#,
        rule.meter_id,
        from.max(rule.visible_from),
        latest,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Reading {
            at: r.measured_at,
            litres: r.volume_litres,
        })
        .collect())
}

/// The instant of the meter's last reading at or before `t` (within [`ANCHOR_LOOKBACK`]).
async fn last_at_or_before(
    conn: &mut PgConnection,
    meter_id: i64,
    t: DateTime<Utc>,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!(
        r#"SELECT measured_at FROM meter_readings
           WHERE meter_id = $1 AND measured_at <= $2 AND measured_at >= $3
             AND source <> 'estimate'
           ORDER BY measured_at DESC LIMIT 1"#,
        meter_id,
        t,
        t - ANCHOR_LOOKBACK,
    )
    .fetch_optional(&mut *conn)
    .await
}
