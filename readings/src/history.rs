//! Readings as a resident sees them: the current reading, the reading on a chosen day, history
//! by day or month with consumption, and the month-end readings billing uses.
//!
//! Every query checks visibility through `account_meter_windows` (the `account_meters` view,
//! maintained as a table; migration 0012) in the same round trip as the lookup: a meter the
//! viewer may not see is [`ReadError::MeterNotFound`], never data.
//!
//! **Whose readings.** A resident sees a meter's readings only up to the end of the last day of
//! their newest contract at its supply point (a former tenant does not see the next tenant's
//! water use). Periods that end before their first contract day are shown empty; the reading
//! just before that day is still used as the baseline of the first day's consumption, because
//! the water used on that day is theirs. The span runs from the first contract's first day to
//! the last one's end, gaps between contracts included.
//!
//! **Periods and consumption.** A day or month is a Europe/Warsaw calendar day or month (23 or
//! 25 hours on the days the clocks change). A period's `reading` is the last reading measured
//! within it, with its actual timestamp; `None` when the meter sent nothing that day (a gap).
//! Its consumption is the water between the previous known reading (possibly several periods
//! back, or just before the range) and this one, so after a gap the whole gap's water is on
//! the first day with a reading again, and the gap periods have unknown (`None`) consumption:
//! the sum over a range is the register's advance, nothing is invented and nothing lost. A
//! register that went down is a rollover when the implied consumption fits what the meter could
//! pass in the time (its maximum flow); otherwise the consumption is unknown. See
//! [`consumption`], the pure core.
//!
//! **Performance.** Readings are read from `meter_day_readings`, each meter's last reading of
//! each closed Warsaw day (migration 0012: a trigger on `meter_readings` keeps it, ingest folds
//! its own), and the open day from `meter_latest_readings`; the newer of the two counts. The
//! reading on a day is one backward probe of a primary key however long ago the meter last
//! reported. History reads closed months packed, one row per meter and month
//! (`meter_month_readings`, migration 0013; [`crate::month_pack`]), and only the days after the
//! packing mark from the day table: a year by day is 12 packed rows and this month's days, not
//! 365 rows, whatever the meter's reporting rate. [`on_day`] and [`history`] are one statement
//! each, benchmarked by `ebok bench api`; concurrent lookups of the reading on a day share
//! statements ([`crate::coalesce`]). The reads take a connection, not a pool: the API runs
//! them on connections kept out of the pool (`ebok_common::db::KeptConnections`), the portal on
//! one taken from the pool.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use ebok_common::domain::time::{day_start, local_day};
use ebok_common::domain::{ReadingSource, Register};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::access::Viewer;
use crate::month_pack;

/// The longest history by day.
pub const MAX_DAYS: i64 = 1_100;
/// The longest history by month (20 years).
pub const MAX_MONTHS: i64 = 240;

/// One stored reading of a meter's register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reading {
    #[serde(serialize_with = "ebok_common::json::instant")]
    pub measured_at: DateTime<Utc>,
    pub litres: i64,
    /// "radio", "modbus", "manual" or "estimate" (`reading_source`); "installation" for the
    /// installation reading used as a baseline.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::names::HistorySource))]
    pub source: Cow<'static, str>,
}

/// Why a read gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No such meter, or not one this viewer may see (the two are indistinguishable).
    #[error("meter not found")]
    MeterNotFound,
    /// A parameter is out of range; `detail` is Polish, for the resident.
    #[error("invalid {field}: {detail}")]
    Invalid { field: &'static str, detail: String },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// A statement that answered several lookups at once failed (see [`crate::coalesce`]).
    #[error("{0}")]
    Shared(std::sync::Arc<sqlx::Error>),
}

/// The granularity of a history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Step {
    Day,
    Month,
}

impl ebok_common::db::DatabaseFault for ReadError {
    fn is_database_fault(&self) -> bool {
        matches!(self, ReadError::Db(_) | ReadError::Shared(_))
    }
}

/// One day or month of a history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Point {
    /// The first day of the period (the 1st for months).
    #[serde(serialize_with = "ebok_common::json::date")]
    pub period_start: NaiveDate,
    /// The last reading measured within the period; `None` for a period without readings.
    pub reading: Option<Reading>,
    /// Litres since the previous known reading; `None` when unknown (no reading in this period,
    /// none before it, or a decrease that is not a rollover).
    pub consumption_litres: Option<i64>,
}

impl Point {
    /// Appends `points` as a JSON array: the same bytes as `serde_json::to_vec(points)`, written
    /// field by field without serde's per-key and per-value machinery. A year of daily history
    /// is 365 points, and serializing them was a third of the API process's CPU for that request
    /// under `ebok bench api` (perf). Tests compare with serde_json for arbitrary points.
    pub fn push_json_array(out: &mut Vec<u8>, points: &[Point]) {
        use ebok_common::json::{push_date, push_i64, push_instant, push_str};
        out.push(b'[');
        for (n, point) in points.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(br#"{"period_start":"#);
            push_date(out, point.period_start);
            out.extend_from_slice(br#","reading":"#);
            match &point.reading {
                Some(reading) => {
                    out.extend_from_slice(br#"{"measured_at":"#);
                    push_instant(out, &reading.measured_at);
                    out.extend_from_slice(br#","litres":"#);
                    push_i64(out, reading.litres);
                    out.extend_from_slice(br#","source":"#);
                    push_str(out, &reading.source);
                    out.push(b'}');
                }
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(br#","consumption_litres":"#);
            match point.consumption_litres {
                Some(litres) => push_i64(out, litres),
                None => out.extend_from_slice(b"null"),
            }
            out.push(b'}');
        }
        out.push(b']');
    }
}

/// A meter as the reading functions need it, for one viewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeterInfo {
    pub id: i64,
    pub serial: String,
    /// "wmbus", "modbus" or "manual" (`meter_channel`).
    pub channel: String,
    /// "main", "garden" or "sewage".
    pub purpose: String,
    pub register_max_litres: i64,
    pub diameter_mm: Option<i16>,
    pub installed_at: Option<DateTime<Utc>>,
    pub install_reading_litres: Option<i64>,
    pub removed_at: Option<DateTime<Utc>>,
    /// Start of the viewer's first contract day at the meter's supply point.
    pub visible_from: DateTime<Utc>,
    /// End of the viewer's last contract day there; `None` while a contract is open-ended.
    pub visible_until: Option<DateTime<Utc>>,
}

impl MeterInfo {
    /// The meter's register (its maximum is positive by a CHECK constraint).
    pub fn register(&self) -> Register {
        Register::new(self.register_max_litres).expect("meters.register_max_litres > 0")
    }

    /// The most water the meter can pass in an hour.
    pub fn max_flow_litres_per_hour(&self) -> i64 {
        max_flow_litres_per_hour(self.diameter_mm)
    }
}

pub use ebok_common::domain::max_flow_litres_per_hour;

// ---------------------------------------------------------------------------------------------
// Pure core
// ---------------------------------------------------------------------------------------------

/// Litres consumed between two readings of one register, or `None` when that is unknown: the
/// register went down and the wrap-around it would imply is more than the meter could pass in
/// the elapsed time (at least an hour's worth), a value lies outside the register, or the
/// readings are not in time order.
pub fn litres_between(
    register: Register,
    max_flow_litres_per_hour: i64,
    from: &Reading,
    to: &Reading,
) -> Option<i64> {
    if !register.holds(from.litres) || !register.holds(to.litres) {
        return None;
    }
    if to.measured_at <= from.measured_at {
        return None;
    }
    let seconds = (to.measured_at - from.measured_at).num_seconds().max(3_600);
    let plausible = max_flow_litres_per_hour.saturating_mul(seconds) / 3_600;
    register
        .step(from.litres, to.litres, plausible)
        .consumption()
}

/// Consumption per period from each period's last reading (the pure core of [`history`]).
///
/// `baseline` is the last reading before the first period (or the meter's installation
/// reading); `periods` are in time order. Each period with a reading gets the litres since the
/// previous known reading, wherever that was; a period without a reading gets `None` for both,
/// and the next period with a reading carries the water of the gap (see the module docs).
pub fn consumption(
    register: Register,
    max_flow_litres_per_hour: i64,
    baseline: Option<&Reading>,
    periods: Vec<(NaiveDate, Option<Reading>)>,
) -> Vec<Point> {
    let mut previous = baseline.cloned();
    periods
        .into_iter()
        .map(|(period_start, reading)| {
            let consumption_litres = match (&previous, &reading) {
                (Some(p), Some(r)) => litres_between(register, max_flow_litres_per_hour, p, r),
                _ => None,
            };
            if let Some(r) = &reading {
                previous = Some(r.clone());
            }
            Point {
                period_start,
                reading,
                consumption_litres,
            }
        })
        .collect()
}

/// One period of a history: a Warsaw day or month, from its first to its last day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

impl Period {
    /// When the period begins (Warsaw midnight, in UTC).
    pub fn start(&self) -> DateTime<Utc> {
        day_start(self.first_day)
    }

    /// When the period ends (the next Warsaw midnight, in UTC).
    pub fn end(&self) -> DateTime<Utc> {
        day_start(self.last_day + Days::new(1))
    }
}

/// The periods of `from ..= to` by `step` (whole months for [`Step::Month`]), or why the range
/// is refused.
pub fn periods(from: NaiveDate, to: NaiveDate, step: Step) -> Result<Vec<Period>, ReadError> {
    check_date("from", from)?;
    check_date("to", to)?;
    if from > to {
        return Err(ReadError::Invalid {
            field: "to",
            detail: format!(
                "Data końcowa ({}) jest wcześniejsza niż początkowa ({}). Zamień je miejscami.",
                ebok_common::polish::day(to),
                ebok_common::polish::day(from)
            ),
        });
    }
    match step {
        Step::Day => {
            let days = (to - from).num_days() + 1;
            if days > MAX_DAYS {
                return Err(ReadError::Invalid {
                    field: "to",
                    detail: format!(
                        "Zestawienie dzienne może obejmować najwyżej {MAX_DAYS} dni, a wybrany \
                         zakres ma {days}. Wybierz krótszy zakres albo zestawienie miesięczne."
                    ),
                });
            }
            Ok(from
                .iter_days()
                .take(days as usize)
                .map(|day| Period {
                    first_day: day,
                    last_day: day,
                })
                .collect())
        }
        Step::Month => {
            let months = month_index(to) - month_index(from) + 1;
            if months > MAX_MONTHS {
                return Err(ReadError::Invalid {
                    field: "to",
                    detail: format!(
                        "Zestawienie miesięczne może obejmować najwyżej {MAX_MONTHS} miesięcy, a \
                         wybrany zakres ma {months}. Wybierz krótszy zakres."
                    ),
                });
            }
            let first = from.with_day(1).expect("day 1 exists");
            Ok((0..months as u32)
                .map(|i| {
                    let day = first + Months::new(i);
                    Period {
                        first_day: day,
                        last_day: day + Months::new(1) - Days::new(1),
                    }
                })
                .collect())
        }
    }
}

fn month_index(day: NaiveDate) -> i64 {
    i64::from(day.year()) * 12 + i64::from(day.month0())
}

/// The dates the reading functions accept (readings before 2000 are refused by ingest).
/// The first day a history may ask for.
pub const FIRST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date");
/// The last day a history may ask for.
pub const LAST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2099, 12, 31).expect("a valid date");

fn check_date(field: &'static str, day: NaiveDate) -> Result<(), ReadError> {
    let (earliest, latest) = (FIRST_DAY, LAST_DAY);
    if (earliest..=latest).contains(&day) {
        Ok(())
    } else {
        Err(ReadError::Invalid {
            field,
            detail: format!(
                "Data musi przypadać między {} a {}.",
                ebok_common::polish::day(earliest),
                ebok_common::polish::day(latest)
            ),
        })
    }
}

/// A reading on a day that has not come yet would only repeat today's: the question is refused.
fn not_after_today(field: &'static str, day: NaiveDate, today: NaiveDate) -> Result<(), ReadError> {
    if day <= today {
        Ok(())
    } else {
        Err(ReadError::Invalid {
            field,
            detail: format!(
                "Ten dzień jeszcze nie nadszedł. Wybierz dzień nie późniejszy niż dziś ({}).",
                ebok_common::polish::day(today)
            ),
        })
    }
}

fn reading(
    measured_at: Option<DateTime<Utc>>,
    litres: Option<i64>,
    source: Option<String>,
) -> Option<Reading> {
    Some(Reading {
        measured_at: measured_at?,
        litres: litres?,
        source: source?.into(),
    })
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

/// The newest reading of the meter (for a former tenant, the last one measured by the end of
/// their last contract day), or `None` if it has none or the viewer's contract has not begun.
pub async fn current(
    conn: &mut PgConnection,
    viewer: Viewer,
    meter_id: i64,
) -> Result<Option<Reading>, ReadError> {
    let row = sqlx::query!(
        r#"SELECT w.first_day, w.last_day, l.measured_at AS "measured_at?",
                  l.volume_litres AS "litres?", l.source::text AS "source?"
           FROM account_meter_windows w
           LEFT JOIN meter_latest_readings l ON l.meter_id = w.meter_id
           WHERE w.account_id = $1 AND w.utility_id = $2 AND w.meter_id = $3"#,
        viewer.account_id,
        viewer.utility_id,
        meter_id,
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ReadError::MeterNotFound)?;
    if row.first_day > local_day(Utc::now()) {
        // A contract signed ahead: the meter's water is still the present household's.
        return Ok(None);
    }
    let latest = reading(row.measured_at, row.litres, row.source);
    match (latest, row.last_day) {
        (Some(latest), Some(last_day))
            if latest.measured_at >= day_start(last_day + Days::new(1)) =>
        {
            Ok(last_by_day(conn, meter_id, last_day).await?)
        }
        (latest, _) => Ok(latest),
    }
}

/// The reading on a Warsaw calendar day: the last reading measured before that day ended, with
/// its actual timestamp (possibly days earlier), or `None` if there is none (or the day ended
/// before the viewer's first contract day). [`on_day_many`] of one.
pub async fn on_day(
    conn: &mut PgConnection,
    viewer: Viewer,
    meter_id: i64,
    day: NaiveDate,
) -> Result<Option<Reading>, ReadError> {
    let lookup = DayLookup {
        viewer,
        meter_id,
        day,
    };
    on_day_many(conn, &[lookup])
        .await?
        .pop()
        .expect("one answer per lookup")
}

/// One reading-on-a-day question: whose, which meter, which day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayLookup {
    pub viewer: Viewer,
    pub meter_id: i64,
    pub day: NaiveDate,
}

/// Answers many [`on_day`] questions, of any viewers, in one statement: one answer per lookup,
/// in order, each as [`on_day`] would give it (a date out of range or after today in Warsaw is
/// refused without asking the database). Each lookup is one primary-key probe of each read model; asked together they
/// share the statement's fixed cost, which is most of a single lookup's (see
/// [`crate::coalesce`]). `Err` only when the statement fails.
pub async fn on_day_many(
    conn: &mut PgConnection,
    lookups: &[DayLookup],
) -> sqlx::Result<Vec<Result<Option<Reading>, ReadError>>> {
    let today = local_day(Utc::now());
    let mut answers: Vec<Result<Option<Reading>, ReadError>> = lookups
        .iter()
        .map(|l| {
            check_date("day", l.day)?;
            not_after_today("day", l.day, today)?;
            Ok(None)
        })
        .collect();
    let asked: Vec<usize> = (0..lookups.len()).filter(|&i| answers[i].is_ok()).collect();
    if asked.is_empty() {
        return Ok(answers);
    }
    let column =
        |f: fn(&DayLookup) -> i64| -> Vec<i64> { asked.iter().map(|&i| f(&lookups[i])).collect() };
    let days: Vec<NaiveDate> = asked.iter().map(|&i| lookups[i].day).collect();
    let rows = sqlx::query!(
        r#"SELECT q.i AS "i!", d.measured_at AS "measured_at?", d.volume_litres AS "litres?",
                  d.source::text AS "source?"
           FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::date[]) WITH ORDINALITY
                AS q (utility_id, account_id, meter_id, day, i)
           JOIN account_meter_windows w
             ON w.account_id = q.account_id AND w.utility_id = q.utility_id
            AND w.meter_id = q.meter_id
           LEFT JOIN LATERAL meter_reading_by_day(w.meter_id, least(q.day, w.last_day)) d
             ON q.day >= w.first_day"#,
        &column(|l| l.viewer.utility_id),
        &column(|l| l.viewer.account_id),
        &column(|l| l.meter_id),
        &days,
    )
    .fetch_all(&mut *conn)
    .await?;
    // A lookup without a row is a meter its viewer may not see.
    for &i in &asked {
        answers[i] = Err(ReadError::MeterNotFound);
    }
    for row in rows {
        let i = asked[(row.i - 1) as usize];
        answers[i] = Ok(reading(row.measured_at, row.litres, row.source));
    }
    Ok(answers)
}

/// The last reading of a meter measured on `day` or before. No visibility check: callers have
/// done it.
async fn last_by_day(
    conn: &mut PgConnection,
    meter_id: i64,
    day: NaiveDate,
) -> sqlx::Result<Option<Reading>> {
    sqlx::query_as!(
        Reading,
        r#"SELECT measured_at AS "measured_at!", volume_litres AS "litres!",
                  source::text AS "source!"
           FROM meter_reading_by_day($1, $2)"#,
        meter_id,
        day,
    )
    .fetch_optional(conn)
    .await
}

/// A meter's facts for `viewer` (see [`MeterInfo`]).
pub async fn meter_info(
    conn: &mut PgConnection,
    viewer: Viewer,
    meter_id: i64,
) -> Result<MeterInfo, ReadError> {
    sqlx::query_as!(
        MeterInfo,
        r#"SELECT m.id, m.serial, m.channel::text AS "channel!", m.purpose::text AS "purpose!",
                  m.register_max_litres, m.diameter_mm, m.installed_at, m.install_reading_litres,
                  CASE WHEN w.last_day IS NULL
                         OR m.removed_at < (w.last_day + 1)::timestamp AT TIME ZONE 'Europe/Warsaw'
                       THEN m.removed_at END AS removed_at,
                  w.first_day::timestamp AT TIME ZONE 'Europe/Warsaw' AS "visible_from!",
                  (w.last_day + 1)::timestamp AT TIME ZONE 'Europe/Warsaw' AS visible_until
           FROM account_meter_windows w
           JOIN meters m ON m.id = w.meter_id
           WHERE w.account_id = $1 AND w.utility_id = $2 AND w.meter_id = $3"#,
        viewer.account_id,
        viewer.utility_id,
        meter_id,
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ReadError::MeterNotFound)
}

/// History of the meter from `from` to `to` (inclusive) by day or by month, with consumption
/// (see the module docs). By month, the range is widened to whole months. At most
/// [`MAX_DAYS`] days or [`MAX_MONTHS`] months; `from` after `to` is refused, naming `to`.
///
/// One statement: the visibility window, the meter's facts, the last reading before the range
/// (the baseline, however long ago), the packed months that overlap the range (one byte string)
/// and the day rows after the packing mark (as arrays), all in one row of one snapshot. Days are
/// assigned to periods here (a month's periods are grouped here too). Each meter's open day is
/// its latest reading (see the module docs).
pub async fn history(
    conn: &mut PgConnection,
    viewer: Viewer,
    meter_id: i64,
    from: NaiveDate,
    to: NaiveDate,
    step: Step,
) -> Result<Vec<Point>, ReadError> {
    let periods = periods(from, to, step)?;
    let first = periods.first().expect("at least one period");
    let last = periods.last().expect("at least one period");
    let after = last.last_day + Days::new(1);
    let row = sqlx::query!(
        r#"SELECT w.first_day, w.last_day, m.register_max_litres, m.diameter_mm, m.installed_at,
                  m.install_reading_litres,
                  b.measured_at AS "base_at?", b.volume_litres AS "base_litres?",
                  b.source::text AS "base_source?",
                  p.days AS "packed?",
                  r.days AS "days!", r.ats AS "ats!", r.litres AS "litres!",
                  r.sources AS "sources!: Vec<ReadingSource>"
           FROM account_meter_windows w
           JOIN meters m ON m.id = w.meter_id
           CROSS JOIN (SELECT (through + interval '1 month')::date AS unpacked
                       FROM meter_month_readings_packed) k
           LEFT JOIN LATERAL meter_reading_by_day(w.meter_id, least($4::date - 1, w.last_day)) b
             ON true
           CROSS JOIN LATERAL (
               SELECT string_agg(days, ''::bytea) AS days
               FROM meter_month_readings
               WHERE meter_id = w.meter_id AND month >= $6 AND month < $5
                 AND month < k.unpacked) p
           CROSS JOIN LATERAL (
               SELECT coalesce(array_agg(c.day), '{}') AS days,
                      coalesce(array_agg(c.measured_at), '{}') AS ats,
                      coalesce(array_agg(c.volume_litres), '{}') AS litres,
                      coalesce(array_agg(c.source), '{}') AS sources
               FROM (SELECT day, measured_at, volume_litres, source
                     FROM meter_day_readings
                     WHERE meter_id = w.meter_id AND day >= greatest($4, k.unpacked)
                       AND day < least($5, w.last_day + 1)
                     UNION ALL
                     SELECT day, measured_at, volume_litres, source
                     FROM meter_open_day_readings
                     WHERE meter_id = w.meter_id AND day >= $4
                       AND day < least($5, w.last_day + 1)) c) r
           WHERE w.account_id = $1 AND w.utility_id = $2 AND w.meter_id = $3"#,
        viewer.account_id,
        viewer.utility_id,
        meter_id,
        first.first_day,
        after,
        first.first_day.with_day(1).expect("the 1st exists"),
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ReadError::MeterNotFound)?;

    // Each period's last reading (a day can come twice: closed in the day table and open as the
    // latest reading; the newer counts). The day rows' four arrays come from one aggregation, so
    // they are aligned; their order does not matter. Packed months are whole months: their days
    // outside the range or after the viewer's last contract day are skipped here.
    let period_of = |day: NaiveDate| -> Option<usize> {
        if row.last_day.is_some_and(|last| day > last) {
            return None;
        }
        let index = match step {
            Step::Day => (day - first.first_day).num_days(),
            Step::Month => month_index(day) - month_index(first.first_day),
        };
        usize::try_from(index).ok().filter(|&i| i < periods.len())
    };
    let packed = month_pack::decode(row.packed.as_deref().unwrap_or_default())
        .map_err(|e| ReadError::Db(sqlx::Error::Decode(e.into())))?;
    let packed = packed
        .into_iter()
        .map(|d| (d.day, d.measured_at, d.litres, d.source));
    let fields = row.ats.into_iter().zip(row.litres).zip(row.sources);
    let unpacked = row
        .days
        .into_iter()
        .zip(fields)
        .map(|(day, ((at, litres), source))| (day, at, litres, source));
    let mut by_period: Vec<Option<Reading>> = vec![None; periods.len()];
    for (day, measured_at, litres, source) in packed.chain(unpacked) {
        let Some(slot) = period_of(day).map(|i| &mut by_period[i]) else {
            continue;
        };
        match slot {
            Some(kept) if kept.measured_at >= measured_at => {}
            _ => {
                *slot = Some(Reading {
                    measured_at,
                    litres,
                    source: source.as_str().into(),
                })
            }
        }
    }
    // Without an earlier reading, a meter's first readings count from its installation reading.
    let baseline = reading(row.base_at, row.base_litres, row.base_source).or(
        match (row.installed_at, row.install_reading_litres) {
            (Some(at), Some(litres)) => Some(Reading {
                measured_at: at,
                litres,
                source: "installation".into(),
            }),
            _ => None,
        },
    );

    let register = Register::new(row.register_max_litres).expect("meters.register_max_litres > 0");
    let series = periods.iter().map(|p| p.first_day).zip(by_period).collect();
    let mut points = consumption(
        register,
        max_flow_litres_per_hour(row.diameter_mm),
        baseline.as_ref(),
        series,
    );
    // Periods that ended before the viewer's first contract day, and readings measured before
    // it (a month in which a contract signed ahead begins), are someone else's.
    let first_instant = day_start(row.first_day);
    for (point, period) in points.iter_mut().zip(&periods) {
        let earlier = point
            .reading
            .as_ref()
            .is_some_and(|r| r.measured_at < first_instant);
        if period.last_day < row.first_day || earlier {
            point.reading = None;
            point.consumption_litres = None;
        }
    }
    Ok(points)
}

/// The register at the end of each Warsaw month from `from`'s month to `to`'s month, with the
/// month's consumption: what monthly billing reads. A thin wrapper over
/// [`history`]`(…, Step::Month)`: each month's last reading, `None` for a month without one
/// (billing estimates those).
pub async fn billing_readings(
    conn: &mut PgConnection,
    viewer: Viewer,
    meter_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Point>, ReadError> {
    history(conn, viewer, meter_id, from, to, Step::Month).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn r(at: &str, litres: i64) -> Reading {
        Reading {
            measured_at: t(at),
            litres,
            source: "radio".into(),
        }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    const DN15: i64 = 5_000;

    #[test]
    fn consumption_is_the_difference_to_the_previous_day() {
        let reg = Register::new(99_999_999).unwrap();
        let points = consumption(
            reg,
            DN15,
            Some(&r("2026-03-01T22:00:00Z", 1_000)),
            vec![
                (d(2026, 3, 2), Some(r("2026-03-02T22:00:00Z", 1_250))),
                (d(2026, 3, 3), Some(r("2026-03-03T22:00:00Z", 1_400))),
            ],
        );
        assert_eq!(points[0].consumption_litres, Some(250));
        assert_eq!(points[1].consumption_litres, Some(150));
    }

    #[test]
    fn day_after_a_gap_carries_the_whole_gap_and_the_gap_is_unknown() {
        let reg = Register::new(99_999_999).unwrap();
        let points = consumption(
            reg,
            DN15,
            Some(&r("2026-03-01T22:00:00Z", 1_000)),
            vec![
                (d(2026, 3, 2), None),
                (d(2026, 3, 3), None),
                (d(2026, 3, 4), Some(r("2026-03-04T20:00:00Z", 1_900))),
            ],
        );
        assert_eq!(points[0].consumption_litres, None);
        assert_eq!(points[1].consumption_litres, None);
        assert_eq!(points[2].consumption_litres, Some(900));
    }

    #[test]
    fn first_period_without_baseline_has_unknown_consumption() {
        let reg = Register::new(99_999_999).unwrap();
        let points = consumption(
            reg,
            DN15,
            None,
            vec![(d(2026, 3, 2), Some(r("2026-03-02T22:00:00Z", 1_250)))],
        );
        assert_eq!(points[0].consumption_litres, None);
    }

    #[test]
    fn wrap_near_the_register_maximum_is_rollover_consumption() {
        let reg = Register::new(99_999).unwrap();
        let points = consumption(
            reg,
            DN15,
            Some(&r("2026-03-01T22:00:00Z", 99_900)),
            vec![(d(2026, 3, 2), Some(r("2026-03-02T22:00:00Z", 150)))],
        );
        assert_eq!(points[0].consumption_litres, Some(250));
    }

    #[test]
    fn decrease_far_from_the_maximum_is_unknown_and_resets_the_baseline() {
        let reg = Register::new(99_999_999).unwrap();
        let points = consumption(
            reg,
            DN15,
            Some(&r("2026-03-01T22:00:00Z", 5_000)),
            vec![
                (d(2026, 3, 2), Some(r("2026-03-02T22:00:00Z", 4_000))),
                (d(2026, 3, 3), Some(r("2026-03-03T22:00:00Z", 4_100))),
            ],
        );
        assert_eq!(points[0].consumption_litres, None);
        assert_eq!(points[1].consumption_litres, Some(100));
    }

    #[test]
    fn months_are_whole_months_and_limits_name_the_field() {
        let ps = periods(d(2026, 1, 15), d(2026, 3, 2), Step::Month).unwrap();
        let firsts: Vec<_> = ps.iter().map(|p| p.first_day).collect();
        assert_eq!(firsts, vec![d(2026, 1, 1), d(2026, 2, 1), d(2026, 3, 1)]);
        assert_eq!(ps[2].start().to_rfc3339(), "2026-02-28T23:00:00+00:00");
        assert_eq!(ps[2].end().to_rfc3339(), "2026-03-31T22:00:00+00:00");
        assert!(matches!(
            periods(d(2026, 3, 2), d(2026, 3, 1), Step::Day),
            Err(ReadError::Invalid { field: "to", .. })
        ));
        assert!(periods(d(2023, 1, 1), d(2026, 1, 4), Step::Day).is_ok());
        assert!(matches!(
            periods(d(2023, 1, 1), d(2026, 1, 5), Step::Day),
            Err(ReadError::Invalid { field: "to", .. })
        ));
        assert!(periods(d(2000, 1, 1), d(2019, 12, 31), Step::Month).is_ok());
        assert!(matches!(
            periods(d(2000, 1, 1), d(2020, 1, 1), Step::Month),
            Err(ReadError::Invalid { field: "to", .. })
        ));
        assert!(matches!(
            periods(d(1999, 12, 31), d(2000, 1, 1), Step::Day),
            Err(ReadError::Invalid { field: "from", .. })
        ));
    }

    #[test]
    fn dst_days_are_23_and_25_hours_long() {
        let spring = periods(d(2026, 3, 29), d(2026, 3, 29), Step::Day).unwrap()[0];
        assert_eq!((spring.end() - spring.start()).num_hours(), 23);
        let autumn = periods(d(2026, 10, 25), d(2026, 10, 25), Step::Day).unwrap()[0];
        assert_eq!((autumn.end() - autumn.start()).num_hours(), 25);
    }

    /// A day's worth of a household's use, or a gap.
    fn days_strategy() -> impl Strategy<Value = Vec<Option<i64>>> {
        prop::collection::vec(prop::option::weighted(0.8, 0i64..2_000), 1..120)
    }

    type Series = Vec<(NaiveDate, Option<Reading>)>;

    /// Builds daily readings from per-day use, wrapping at the register's maximum; `None` days
    /// use water but send no reading.
    fn simulate(
        register: Register,
        start_litres: i64,
        days: &[Option<i64>],
    ) -> (Reading, Series, Vec<i64>) {
        let first = d(2026, 1, 1);
        let baseline = Reading {
            measured_at: day_start(first) - Duration::hours(1),
            litres: start_litres,
            source: "radio".into(),
        };
        let mut value = start_litres;
        let mut used = Vec::new();
        let series = days
            .iter()
            .enumerate()
            .map(|(i, day)| {
                let date = first + Days::new(i as u64);
                let litres = day.unwrap_or(137);
                used.push(litres);
                value = register.advance(value, litres);
                let reading = day.map(|_| Reading {
                    measured_at: day_start(date) + Duration::hours(20),
                    litres: value,
                    source: "radio".into(),
                });
                (date, reading)
            })
            .collect();
        (baseline, series, used)
    }

    fn any_point() -> impl Strategy<Value = Point> {
        let reading = (
            -62_135_596_800i64..253_402_300_799,
            prop_oneof![Just(0u32), 0u32..1_000_000_000],
            any::<i64>(),
            prop_oneof![
                Just(Cow::Borrowed("radio")),
                Just(Cow::Borrowed("installation")),
                any::<String>().prop_map(Cow::Owned),
            ],
        )
            .prop_map(|(seconds, nanos, litres, source)| Reading {
                measured_at: DateTime::from_timestamp(seconds, nanos).unwrap(),
                litres,
                source,
            });
        (
            -100_000i32..3_000_000,
            proptest::option::of(reading),
            proptest::option::of(any::<i64>()),
        )
            .prop_map(|(days, reading, consumption_litres)| Point {
                period_start: NaiveDate::from_num_days_from_ce_opt(days).unwrap(),
                reading,
                consumption_litres,
            })
    }

    #[test]
    fn points_pushed_as_json_read_as_serde_writes_them() {
        let at: DateTime<Utc> = "2026-03-29T05:00:00Z".parse().unwrap();
        let points = vec![
            Point {
                period_start: at.date_naive(),
                reading: Some(Reading {
                    measured_at: at,
                    litres: 123_456,
                    source: Cow::Borrowed("radio"),
                }),
                consumption_litres: Some(350),
            },
            Point {
                period_start: at.date_naive() + Days::new(1),
                reading: None,
                consumption_litres: None,
            },
        ];
        let mut out = Vec::new();
        Point::push_json_array(&mut out, &points);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"[{"period_start":"2026-03-29","reading":{"measured_at":"2026-03-29T05:00:00Z","litres":123456,"source":"radio"},"consumption_litres":350},{"period_start":"2026-03-30","reading":null,"consumption_litres":null}]"#
        );
        let mut empty = Vec::new();
        Point::push_json_array(&mut empty, &[]);
        assert_eq!(empty, b"[]");
    }

    proptest! {
        #[test]
        fn any_points_are_pushed_as_serde_json_writes_them(
            points in proptest::collection::vec(any_point(), 0..8)
        ) {
            let mut out = Vec::new();
            Point::push_json_array(&mut out, &points);
            prop_assert_eq!(out, serde_json::to_vec(&points).unwrap());
        }

        #[test]
        fn known_consumption_adds_up_to_the_water_used(
            days in days_strategy(),
            start_frac in 0.0f64..1.0,
            max in 50_000i64..=99_999_999,
        ) {
            let register = Register::new(max).unwrap();
            let start = ((max as f64) * start_frac) as i64;
            let (baseline, series, used) = simulate(register, start, &days);
            let points = consumption(register, DN15, Some(&baseline), series.clone());
            prop_assert_eq!(points.len(), series.len());
            let mut pending = 0;
            for ((point, (date, reading)), litres) in points.iter().zip(&series).zip(&used) {
                prop_assert_eq!(point.period_start, *date);
                prop_assert_eq!(&point.reading, reading);
                pending += litres;
                match reading {
                    Some(_) => {
                        // Everything since the previous reading, across any gap and rollover.
                        prop_assert_eq!(point.consumption_litres, Some(pending));
                        pending = 0;
                    }
                    None => prop_assert_eq!(point.consumption_litres, None),
                }
            }
        }

        #[test]
        fn consumption_is_never_negative_whatever_the_readings(
            values in prop::collection::vec(prop::option::of(0i64..=120_000), 1..60),
            max in 1i64..=99_999,
            base in prop::option::of(0i64..=120_000),
        ) {
            let register = Register::new(max).unwrap();
            let first = d(2026, 3, 20);
            let series: Vec<_> = values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let date = first + Days::new(i as u64);
                    (date, v.map(|litres| Reading {
                        measured_at: day_start(date) + Duration::hours(12),
                        litres,
                        source: "radio".into(),
                    }))
                })
                .collect();
            let baseline = base.map(|litres| Reading {
                measured_at: day_start(first) - Duration::hours(1),
                litres,
                source: "radio".into(),
            });
            for point in consumption(register, DN15, baseline.as_ref(), series) {
                if let Some(c) = point.consumption_litres {
                    prop_assert!(c >= 0);
                    prop_assert!(point.reading.is_some());
                }
            }
        }
    }
}
