//! Keeping the balance current: every round computes, for each utility with network zones, the
//! closed days since the last round and again the last `recompute_days` (late readings change
//! them), their nights, and walks the nights for alarms; one transaction per utility, so an
//! alarm and its outbox event are stored with the nights that raised it. A utility computed for
//! the first time gets its last [`FIRST_DAYS`] days. Several processes may run it: a utility is
//! computed by one of them at a time (an advisory lock), and the rest skip it that round.

use std::time::Duration;

use chrono::{Days, NaiveDate, Utc};
use ebok_common::config::BalanceConfig;
use ebok_common::domain::time::local_day;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::alarms::{self, Evaluated};
use crate::night::NightRule;
use crate::store::{self, BalanceError, Computed};

/// Days computed for a utility the first time.
pub const FIRST_DAYS: u64 = 90;

/// How the loop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub every: Duration,
    pub recompute_days: u32,
    pub rule: NightRule,
}

impl Settings {
    pub fn from_config(config: &BalanceConfig) -> Settings {
        Settings {
            every: Duration::from_secs(config.every_minutes * 60),
            recompute_days: config.recompute_days,
            rule: NightRule {
                margin_percent: i64::from(config.night_margin_percent),
                min_excess_litres_per_hour: i64::from(config.night_min_excess_litres_per_hour),
                nights: config.night_alarm_nights as usize,
                ..NightRule::default()
            },
        }
    }
}

/// What one utility's round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UtilityRound {
    pub from: Option<NaiveDate>,
    pub computed: Computed,
    pub nights: u64,
    pub alarms: Evaluated,
}

/// Brings one utility up to the end of `yesterday`; `None` when another process holds it.
pub async fn bring_up_to_date(
    pool: &PgPool,
    utility_id: i64,
    yesterday: NaiveDate,
    settings: &Settings,
) -> Result<Option<UtilityRound>, BalanceError> {
    let mut tx = pool.begin().await?;
    let locked = sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_xact_lock(hashtext('ebok_balance:' || $1::bigint)) AS "locked!""#,
        utility_id
    )
    .fetch_one(&mut *tx)
    .await?;
    if !locked {
        return Ok(None);
    }
    let last = sqlx::query_scalar!(
        "SELECT max(day) FROM zone_days WHERE utility_id = $1",
        utility_id
    )
    .fetch_one(&mut *tx)
    .await?;
    let again = yesterday - Days::new(u64::from(settings.recompute_days.max(1)) - 1);
    let from = match last {
        Some(last) => again.min(last + Days::new(1)),
        None => yesterday - Days::new(FIRST_DAYS - 1),
    };
    let mut round = UtilityRound {
        from: Some(from),
        ..UtilityRound::default()
    };
    round.computed = store::compute_days(&mut tx, utility_id, from, yesterday).await?;
    round.nights = store::compute_nights(&mut tx, utility_id, from, yesterday).await?;
    round.alarms = alarms::evaluate(&mut tx, utility_id, &settings.rule, from, yesterday).await?;
    tx.commit().await?;
    Ok(Some(round))
}

/// One round over every utility with zones.
pub async fn round(
    pool: &PgPool,
    today: NaiveDate,
    settings: &Settings,
) -> Result<(), BalanceError> {
    let utilities =
        sqlx::query_scalar!("SELECT DISTINCT utility_id FROM network_zones ORDER BY utility_id")
            .fetch_all(pool)
            .await?;
    let yesterday = today - Days::new(1);
    for utility_id in utilities {
        if let Some(done) = bring_up_to_date(pool, utility_id, yesterday, settings).await? {
            tracing::info!(
                utility_id,
                from = ?done.from,
                meter_days = done.computed.meter_days,
                nights = done.nights,
                alarms_raised = done.alarms.raised,
                alarms_cleared = done.alarms.cleared,
                "water balance computed"
            );
            metrics::counter!("balance_meter_days_total").increment(done.computed.meter_days);
            metrics::counter!("balance_alarms_raised_total").increment(done.alarms.raised);
        }
    }
    Ok(())
}

/// Runs a round now and then every `settings.every` until `shutdown`; a failed round is logged
/// and tried again at the next.
pub async fn run(pool: PgPool, settings: Settings, shutdown: CancellationToken) {
    loop {
        if let Err(error) = round(&pool, local_day(Utc::now()), &settings).await {
            tracing::warn!(%error, "water balance not computed; trying again later");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(settings.every) => {}
        }
    }
}
