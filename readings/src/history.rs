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
//! **Periods and consumption: the day rule.** A day or month is a Europe/Warsaw calendar day or
//! month (23 or 25 hours on the days the clocks change). Its consumption is the register at its
//! end midnight minus the register at its start midnight, each interpolated between the last
//! reading before that midnight and the first one after it when they are at most 50 hours apart
//! (else the last reading before it counts, and the water of a long gap lands on the first day
//! with readings again; the gap's days have unknown, `None`, consumption). The rule and its
//! reasons are `ebok_common::domain::boundary`'s; alarms and billing use the same. So a meter
//! that reports daily at 00:30 gives each day its own water, and a month's register (what
//! billing reads, [`billing_readings`]) is the one at its end midnight, not the reading of the
//! last day's 00:30. Known consumptions over a range add up to the register's advance: nothing
//! is invented and nothing lost. A register that went down is a rollover when the implied
//! consumption fits what the meter could pass in the time (its maximum flow); otherwise the
//! consumption is unknown. A period's `reading` is still the last reading measured within it,
//! with its actual timestamp, as the meter sent it. See [`points`], the pure core.
//!
//! **Performance.** Readings are read from `meter_day_readings`, each meter's first and last
//! reading of each Warsaw day (migrations 0012 and 0020: a trigger on `meter_readings` keeps it,
//! ingest folds its own), and the open day from `meter_latest_readings`; the newer of the two
//! counts. The first reading after the range is one forward probe of the same key. The
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
use ebok_common::domain::boundary::{self, RegisterAt, Sample};
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

impl Reading {
    /// The instant and the register, as the day rule takes a reading.
    pub fn sample(&self) -> Sample {
        Sample {
            at: self.measured_at,
            litres: self.litres,
        }
    }
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
    /// The register at the period's end (the next Warsaw midnight; a former tenant's last day
    /// ends at their handover): interpolated between the readings around that midnight, read
    /// exactly then, or else the last reading before it, with that reading's time. `None` when
    /// nothing was read before it, and for a period that has not begun.
    pub end: Option<RegisterAt>,
    /// The water used in the period: the register at its end minus the register at its start
    /// (the day rule, see the module docs); `None` when unknown (nothing read in the period or
    /// before it, or a decrease that is not a rollover).
    pub consumption_litres: Option<i64>,
    /// Whether `consumption_litres` rests on a register interpolated at either end.
    pub consumption_interpolated: bool,
}

impl Point {
    /// A period without anything the viewer may see.
    pub fn empty(period_start: NaiveDate) -> Point {
        Point {
            period_start,
            reading: None,
            end: None,
            consumption_litres: None,
            consumption_interpolated: false,
        }
    }

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
            out.extend_from_slice(br#","end":"#);
            match &point.end {
                Some(end) => {
                    out.extend_from_slice(br#"{"at":"#);
                    push_instant(out, &end.at);
                    out.extend_from_slice(br#","litres":"#);
                    push_i64(out, end.litres);
                    out.extend_from_slice(if end.interpolated {
                        br#","interpolated":true}"#
                    } else {
                        br#","interpolated":false}"#
                    });
                }
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(br#","consumption_litres":"#);
            match point.consumption_litres {
                Some(litres) => push_i64(out, litres),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(if point.consumption_interpolated {
                br#","consumption_interpolated":true}"#
            } else {
                br#","consumption_interpolated":false}"#
            });
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

/// Litres consumed between two readings of one register ([`boundary::litres_between`]).
pub fn litres_between(
    register: Register,
    max_flow_litres_per_hour: i64,
    from: &Reading,
    to: &Reading,
) -> Option<i64> {
    boundary::litres_between(
        register,
        max_flow_litres_per_hour,
        from.sample(),
        to.sample(),
    )
}

/// One Warsaw day's readings, as the day table and the packed months keep them: its first and
/// its last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySpan {
    pub day: NaiveDate,
    pub first: Sample,
    pub last: Reading,
}

impl DaySpan {
    /// Both records of one day (a day row and the open day's latest reading, or a packed month
    /// and the day table): the earlier first and the later last.
    fn merge(&mut self, other: DaySpan) {
        if other.first.at < self.first.at {
            self.first = other.first;
        }
        if other.last.measured_at > self.last.measured_at {
            self.last = other.last;
        }
    }
}

/// What [`points`] needs besides the periods and the days.
#[derive(Debug, Clone)]
pub struct Around {
    /// The last reading before the first period.
    pub before: Option<Sample>,
    /// The meter's installation reading: a sample like a reading, the start of the period
    /// that contains it when nothing was read before.
    pub installed: Option<Sample>,
    /// The first reading after the last day given.
    pub after: Option<Sample>,
    /// The viewer's window: their first contract day and, for a former tenant, their last
    /// (a boundary is never taken beyond either).
    pub first_day: NaiveDate,
    pub last_day: Option<NaiveDate>,
    /// Now: a period that has not begun has no register at its end.
    pub now: DateTime<Utc>,
}

/// The points of `periods` by the day rule ([`ebok_common::domain::boundary`]; the pure core
/// of [`history`]): each period's register at its end midnight and its consumption from the
/// register at its start midnight, each interpolated between the readings around it when
/// possible. `days` are the days with readings, sorted, none before the first period nor
/// after the window. A period's `reading` is its last reading, as the meter sent it.
pub fn points(
    register: Register,
    max_flow_litres_per_hour: i64,
    periods: &[Period],
    days: &[DaySpan],
    around: &Around,
) -> Vec<Point> {
    let Some(first) = periods.first() else {
        return Vec::new();
    };
    // The boundaries: every period's first day and the day after the last one, kept within the
    // window, and their Warsaw midnights. Days are compared as days: a history is 366 of them,
    // and converting instants to Warsaw days and back for each would be most of its CPU.
    let end_day = around.last_day.map(|d| d + Days::new(1));
    let clamp = |day: NaiveDate| {
        let day = day.max(around.first_day);
        end_day.map_or(day, |end| day.min(end))
    };
    let boundary_days: Vec<NaiveDate> = std::iter::once(first.first_day)
        .chain(periods.iter().map(|p| p.last_day + Days::new(1)))
        .map(clamp)
        .collect();
    // One sweep: `next` is the first day with readings at or after the boundary.
    let mut next = 0;
    let registers: Vec<Option<RegisterAt>> = boundary_days
        .iter()
        .map(|&day| {
            let at = day_start(day);
            while next < days.len() && days[next].day < day {
                next += 1;
            }
            let before = match next {
                0 => around.before.or(around.installed.filter(|i| i.at < at)),
                n => Some(days[n - 1].last.sample()),
            };
            // A boundary moved up to the viewer's first day can lie after the first reading
            // past the range: that reading is then not after it.
            let after = days
                .get(next)
                .map(|d| d.first)
                .or(around.after)
                .filter(|a| a.at >= at);
            boundary::register_at(register, max_flow_litres_per_hour, at, before, after)
        })
        .collect();

    let visible_from = day_start(around.first_day);
    let installed_day = around.installed.map(|i| local_day(i.at));
    let today = local_day(around.now);
    let mut day = 0;
    periods
        .iter()
        .zip(registers.windows(2))
        .map(|(period, pair)| {
            // The period's last reading, as sent.
            let mut reading = None;
            while day < days.len() && days[day].day <= period.last_day {
                if days[day].day >= period.first_day {
                    reading = Some(days[day].last.clone());
                }
                day += 1;
            }
            let visible = period.last_day >= around.first_day
                && end_day.is_none_or(|end| period.first_day < end);
            if !visible {
                return Point::empty(period.first_day);
            }
            let reading = reading.filter(|r| r.measured_at >= visible_from);
            let installed_here = around.installed.filter(|_| {
                installed_day.is_some_and(|d| d >= period.first_day && d <= period.last_day)
            });
            let start = pair[0].or(installed_here.map(|i| RegisterAt {
                at: i.at,
                litres: i.litres,
                interpolated: false,
            }));
            let end = pair[1].filter(|_| period.first_day <= today);
            let (consumption_litres, consumption_interpolated) = match (start, end) {
                (Some(start), Some(end)) => {
                    boundary::between(register, max_flow_litres_per_hour, start, end)
                }
                _ => (None, false),
            };
            Point {
                period_start: period.first_day,
                reading,
                end,
                consumption_litres,
                consumption_interpolated,
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
/// and the day rows after the packing mark (as arrays), and the first reading after the range,
/// all in one row of one snapshot; [`points`] does the rest. The open day's last reading is the
/// meter's latest reading (see the module docs).
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
                  a.measured_at AS "next_at?", a.volume_litres AS "next_litres?",
                  p.days AS "packed?",
                  r.days AS "days!", r.ats AS "ats!", r.litres AS "litres!",
                  r.sources AS "sources!: Vec<ReadingSource>",
                  r.first_ats AS "first_ats!", r.first_litres AS "first_litres!"
           FROM account_meter_windows w
           JOIN meters m ON m.id = w.meter_id
           CROSS JOIN (SELECT (through + interval '1 month')::date AS unpacked
                       FROM meter_month_readings_packed) k
           LEFT JOIN LATERAL meter_reading_by_day(w.meter_id, least($4::date - 1, w.last_day)) b
             ON true
           LEFT JOIN LATERAL meter_first_reading_from_day(w.meter_id,
                                                          least($5::date, w.last_day + 1)) a
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
                      coalesce(array_agg(c.source), '{}') AS sources,
                      coalesce(array_agg(c.first_measured_at), '{}') AS first_ats,
                      coalesce(array_agg(c.first_volume_litres), '{}') AS first_litres
               FROM (SELECT day, measured_at, volume_litres, source, first_measured_at,
                            first_volume_litres
                     FROM meter_day_readings
                     WHERE meter_id = w.meter_id AND day >= greatest($4, k.unpacked)
                       AND day < least($5, w.last_day + 1)
                     UNION ALL
                     SELECT day, measured_at, volume_litres, source, measured_at, volume_litres
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

    // The days with readings, in order. A day can come twice (closed in the day table and open
    // as the latest reading, or packed and in the day table): the records merge. The day rows'
    // arrays come from one aggregation, so they are aligned. Packed months are whole months:
    // their days outside the range or after the viewer's last contract day are skipped.
    let within = |day: NaiveDate| {
        day >= first.first_day && day < after && row.last_day.is_none_or(|last| day <= last)
    };
    let packed = month_pack::decode(row.packed.as_deref().unwrap_or_default())
        .map_err(|e| ReadError::Db(sqlx::Error::Decode(e.into())))?
        .into_iter()
        .map(|d| DaySpan {
            day: d.day,
            first: Sample {
                at: d.first_measured_at,
                litres: d.first_litres,
            },
            last: Reading {
                measured_at: d.measured_at,
                litres: d.litres,
                source: d.source.as_str().into(),
            },
        });
    let unpacked = row
        .days
        .into_iter()
        .zip(row.ats.into_iter().zip(row.litres).zip(row.sources))
        .zip(row.first_ats.into_iter().zip(row.first_litres))
        .map(
            |((day, ((at, litres), source)), (first_at, first_litres))| DaySpan {
                day,
                first: Sample {
                    at: first_at,
                    litres: first_litres,
                },
                last: Reading {
                    measured_at: at,
                    litres,
                    source: source.as_str().into(),
                },
            },
        );
    let mut days: Vec<DaySpan> = packed.chain(unpacked).filter(|d| within(d.day)).collect();
    days.sort_by_key(|d| d.day);
    days.dedup_by(|later, kept| {
        let same = later.day == kept.day;
        if same {
            kept.merge(later.clone());
        }
        same
    });

    let sample = |at: Option<DateTime<Utc>>, litres: Option<i64>| {
        Some(Sample {
            at: at?,
            litres: litres?,
        })
    };
    let around = Around {
        before: sample(row.base_at, row.base_litres),
        installed: sample(row.installed_at, row.install_reading_litres),
        after: sample(row.next_at, row.next_litres),
        first_day: row.first_day,
        last_day: row.last_day,
        now: Utc::now(),
    };
    let register = Register::new(row.register_max_litres).expect("meters.register_max_litres > 0");
    Ok(points(
        register,
        max_flow_litres_per_hour(row.diameter_mm),
        &periods,
        &days,
        &around,
    ))
}

/// The register at the end of each Warsaw month from `from`'s month to `to`'s month
/// ([`Point::end`]), with the month's consumption: what monthly billing reads. A thin wrapper
/// over [`history`]`(…, Step::Month)`. A month's register is final once it sits at the month's
/// end midnight (read or interpolated there); before the first reading after that midnight
/// arrives it is the last reading before it (provisional).
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

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    const DN15: i64 = 5_000;

    /// The day spans of readings (in time order).
    fn spans(readings: &[(DateTime<Utc>, i64)]) -> Vec<DaySpan> {
        let mut days: Vec<DaySpan> = Vec::new();
        for &(at, litres) in readings {
            let reading = Reading {
                measured_at: at,
                litres,
                source: "radio".into(),
            };
            match days.last_mut() {
                Some(span) if span.day == local_day(at) => span.last = reading,
                _ => days.push(DaySpan {
                    day: local_day(at),
                    first: reading.sample(),
                    last: reading,
                }),
            }
        }
        days
    }

    /// The points of `from..=to` by `step` for a meter seen since long ago: `before` is the
    /// last reading before `from`, `readings` those from `from` on.
    fn history_of(
        register: Register,
        before: Option<(&str, i64)>,
        readings: &[(&str, i64)],
        from: NaiveDate,
        to: NaiveDate,
        step: Step,
    ) -> Vec<Point> {
        let readings: Vec<_> = readings.iter().map(|&(at, l)| (t(at), l)).collect();
        let periods = periods(from, to, step).unwrap();
        let after = periods.last().unwrap().last_day + Days::new(1);
        let days: Vec<DaySpan> = spans(&readings)
            .into_iter()
            .filter(|s| s.day < after)
            .collect();
        let next = readings
            .iter()
            .find(|(at, _)| local_day(*at) >= after)
            .map(|&(at, litres)| Sample { at, litres });
        let around = Around {
            before: before.map(|(at, litres)| Sample { at: t(at), litres }),
            installed: None,
            after: next,
            first_day: d(2000, 1, 1),
            last_day: None,
            now: t("2099-01-01T00:00:00Z"),
        };
        points(register, DN15, &periods, &days, &around)
    }

    fn used(points: &[Point]) -> Vec<Option<i64>> {
        points.iter().map(|p| p.consumption_litres).collect()
    }

    #[test]
    fn a_meter_reporting_at_half_past_midnight_gives_each_day_its_own_water() {
        // 00:30 Warsaw is 23:30 UTC in March (before the clocks change).
        let reg = Register::new(99_999_999).unwrap();
        let points = history_of(
            reg,
            Some(("2026-02-28T23:30:00Z", 1_000)),
            &[
                ("2026-03-01T23:30:00Z", 1_240),
                ("2026-03-02T23:30:00Z", 1_480),
            ],
            d(2026, 3, 2),
            d(2026, 3, 2),
            Step::Day,
        );
        // 2 March runs from 1 March 23:00 UTC: 23.5/24 of the way from 1,000 to 1,240, to 23.5/24
        // of the way from 1,240 to 1,480.
        assert_eq!(used(&points), [Some(240)]);
        assert!(points[0].consumption_interpolated);
        let end = points[0].end.unwrap();
        assert_eq!(
            (end.at, end.litres, end.interpolated),
            (t("2026-03-02T23:00:00Z"), 1_475, true)
        );
        // The reading shown is the one the meter sent that day.
        assert_eq!(points[0].reading.as_ref().unwrap().litres, 1_240);
    }

    #[test]
    fn a_long_gap_is_not_interpolated_and_the_day_after_it_carries_its_water() {
        let reg = Register::new(99_999_999).unwrap();
        let points = history_of(
            reg,
            Some(("2026-03-01T22:00:00Z", 1_000)),
            &[("2026-03-04T20:00:00Z", 1_900)],
            d(2026, 3, 2),
            d(2026, 3, 4),
            Step::Day,
        );
        assert_eq!(used(&points), [None, None, Some(900)]);
        assert!(!points[2].consumption_interpolated);
        assert_eq!(points[0].end.unwrap().at, t("2026-03-01T22:00:00Z"));
    }

    #[test]
    fn without_a_reading_before_the_first_day_its_consumption_is_unknown() {
        let reg = Register::new(99_999_999).unwrap();
        let points = history_of(
            reg,
            None,
            &[("2026-03-02T22:00:00Z", 1_250)],
            d(2026, 3, 2),
            d(2026, 3, 2),
            Step::Day,
        );
        assert_eq!(used(&points), [None]);
    }

    #[test]
    fn a_rollover_is_consumption_and_a_decrease_far_from_the_maximum_is_not() {
        let small = Register::new(99_999).unwrap();
        let points = history_of(
            small,
            Some(("2026-03-01T22:00:00Z", 99_900)),
            &[("2026-03-02T22:00:00Z", 150)],
            d(2026, 3, 2),
            d(2026, 3, 2),
            Step::Day,
        );
        // 250 l over 24 h: 10 before the day began, 240 in it.
        assert_eq!(used(&points), [Some(240)]);

        let reg = Register::new(99_999_999).unwrap();
        let points = history_of(
            reg,
            Some(("2026-03-01T22:00:00Z", 5_000)),
            &[
                ("2026-03-02T22:00:00Z", 4_000),
                ("2026-03-03T22:00:00Z", 4_100),
            ],
            d(2026, 3, 2),
            d(2026, 3, 3),
            Step::Day,
        );
        // From 4,004 (interpolated at the midnight) to 4,100.
        assert_eq!(used(&points), [None, Some(96)]);
    }

    #[test]
    fn a_former_tenants_last_day_ends_at_the_handover_and_a_future_day_has_no_register() {
        let reg = Register::new(99_999_999).unwrap();
        let readings = [
            (t("2026-03-02T11:00:00Z"), 1_100),
            (t("2026-03-03T11:00:00Z"), 1_340),
        ];
        let periods = periods(d(2026, 3, 2), d(2026, 3, 4), Step::Day).unwrap();
        let days: Vec<DaySpan> = spans(&readings)
            .into_iter()
            .filter(|s| s.day <= d(2026, 3, 2))
            .collect();
        let around = Around {
            before: Some(Sample {
                at: t("2026-03-01T11:00:00Z"),
                litres: 1_000,
            }),
            installed: None,
            after: Some(Sample {
                at: readings[1].0,
                litres: readings[1].1,
            }),
            first_day: d(2026, 1, 1),
            last_day: Some(d(2026, 3, 2)),
            now: t("2026-03-02T12:00:00Z"),
        };
        let points = points(reg, DN15, &periods, &days, &around);
        // The register at the handover (3 March 00:00 Warsaw) is interpolated with the next
        // tenant's first reading: 1,100 + 240 × 12/24.
        assert_eq!(points[0].end.unwrap().litres, 1_220);
        assert_eq!(used(&points), [Some(170), None, None]);
        assert!(points[1].end.is_none() && points[2].end.is_none());
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

    /// Irregular readings of a register that only goes up: gaps from ten minutes to three days.
    fn readings_strategy() -> impl Strategy<Value = Vec<(i64, i64)>> {
        prop::collection::vec((600i64..(72 * 3_600), 0i64..400), 1..150)
    }

    /// Readings from 25 January 2026 00:00 UTC on, from (seconds after the previous, litres
    /// used since it), starting at 1,000 l.
    fn build(steps: &[(i64, i64)]) -> Vec<(DateTime<Utc>, i64)> {
        let mut at = t("2026-01-25T00:00:00Z");
        let mut litres = 1_000;
        steps
            .iter()
            .map(|&(seconds, used)| {
                at += Duration::seconds(seconds);
                litres += used;
                (at, litres)
            })
            .collect()
    }

    fn points_of(readings: &[(DateTime<Utc>, i64)], step: Step) -> Vec<Point> {
        let reg = Register::new(99_999_999).unwrap();
        let from = d(2026, 2, 1);
        let periods = periods(from, d(2026, 4, 30), step).unwrap();
        let after = d(2026, 5, 1);
        let days: Vec<DaySpan> = spans(readings)
            .into_iter()
            .filter(|s| s.day >= from && s.day < after)
            .collect();
        let sample = |&(at, litres): &(DateTime<Utc>, i64)| Sample { at, litres };
        let around = Around {
            before: readings
                .iter()
                .rev()
                .find(|(at, _)| local_day(*at) < from)
                .map(sample),
            installed: None,
            after: readings
                .iter()
                .find(|(at, _)| local_day(*at) >= after)
                .map(sample),
            first_day: d(2000, 1, 1),
            last_day: None,
            now: t("2099-01-01T00:00:00Z"),
        };
        points(reg, DN15, &periods, &days, &around)
    }

    fn any_point() -> impl Strategy<Value = Point> {
        let instant = (
            -62_135_596_800i64..253_402_300_799,
            prop_oneof![Just(0u32), 0u32..1_000_000_000],
        )
            .prop_map(|(seconds, nanos)| DateTime::from_timestamp(seconds, nanos).unwrap());
        let reading = (
            instant.clone(),
            any::<i64>(),
            prop_oneof![
                Just(Cow::Borrowed("radio")),
                Just(Cow::Borrowed("installation")),
                any::<String>().prop_map(Cow::Owned),
            ],
        )
            .prop_map(|(measured_at, litres, source)| Reading {
                measured_at,
                litres,
                source,
            });
        let end = (instant, any::<i64>(), any::<bool>()).prop_map(|(at, litres, interpolated)| {
            RegisterAt {
                at,
                litres,
                interpolated,
            }
        });
        (
            -100_000i32..3_000_000,
            proptest::option::of(reading),
            proptest::option::of(end),
            proptest::option::of(any::<i64>()),
            any::<bool>(),
        )
            .prop_map(
                |(days, reading, end, consumption_litres, consumption_interpolated)| Point {
                    period_start: NaiveDate::from_num_days_from_ce_opt(days).unwrap(),
                    reading,
                    end,
                    consumption_litres,
                    consumption_interpolated,
                },
            )
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
                end: Some(RegisterAt {
                    at: "2026-03-29T22:00:00Z".parse().unwrap(),
                    litres: 123_500,
                    interpolated: true,
                }),
                consumption_litres: Some(350),
                consumption_interpolated: true,
            },
            Point::empty(at.date_naive() + Days::new(1)),
        ];
        let mut out = Vec::new();
        Point::push_json_array(&mut out, &points);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"[{"period_start":"2026-03-29","reading":{"measured_at":"2026-03-29T05:00:00Z","litres":123456,"source":"radio"},"end":{"at":"2026-03-29T22:00:00Z","litres":123500,"interpolated":true},"consumption_litres":350,"consumption_interpolated":true},{"period_start":"2026-03-30","reading":null,"end":null,"consumption_litres":null,"consumption_interpolated":false}]"#
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

        /// Known consumption adds up to the register's advance between the range's own
        /// boundaries: nothing invented, nothing lost, whatever the gaps.
        #[test]
        fn daily_consumption_adds_up_to_the_registers_advance(steps in readings_strategy()) {
            let readings = build(&steps);
            let points = points_of(&readings, Step::Day);
            let ends: Vec<i64> = points.iter().filter_map(|p| p.end.map(|e| e.litres)).collect();
            prop_assert!(ends.windows(2).all(|w| w[0] <= w[1]), "the register never goes back");
            prop_assert!(points.iter().all(|p| p.consumption_litres.is_none_or(|c| c >= 0)));
            // Each day starts where the day before ended, so from the end of the first day to
            // the end of the last, the days in between add up to the register's advance.
            if let (Some(first), Some(last)) = (points[0].end, points.last().unwrap().end) {
                let between: i64 = points[1..].iter().filter_map(|p| p.consumption_litres).sum();
                prop_assert_eq!(between, last.litres - first.litres);
            }
        }

        /// A month is the sum of its days.
        #[test]
        fn a_month_is_the_sum_of_its_days(steps in readings_strategy()) {
            let readings = build(&steps);
            let days = points_of(&readings, Step::Day);
            let months = points_of(&readings, Step::Month);
            for month in &months {
                let of_days: i64 = days
                    .iter()
                    .filter(|p| p.period_start.with_day(1) == Some(month.period_start))
                    .filter_map(|p| p.consumption_litres)
                    .sum();
                prop_assert_eq!(month.consumption_litres.unwrap_or(0), of_days);
            }
        }

        /// Whatever the readings (decreases, rollovers), consumption is never negative.
        #[test]
        fn consumption_is_never_negative_whatever_the_readings(
            values in prop::collection::vec((0i64..=120_000, 600i64..200_000), 1..60),
            max in 1i64..=99_999,
        ) {
            let register = Register::new(max).unwrap();
            let mut at = t("2026-03-19T12:00:00Z");
            let readings: Vec<_> = values
                .iter()
                .map(|&(litres, seconds)| {
                    at += Duration::seconds(seconds);
                    (at, litres.min(max))
                })
                .collect();
            let from = d(2026, 3, 20);
            let periods = periods(from, d(2026, 5, 31), Step::Day).unwrap();
            let days: Vec<DaySpan> = spans(&readings).into_iter().filter(|s| s.day >= from).collect();
            let around = Around {
                before: readings
                    .iter()
                    .rev()
                    .find(|(at, _)| local_day(*at) < from)
                    .map(|&(at, litres)| Sample { at, litres }),
                installed: None,
                after: None,
                first_day: d(2000, 1, 1),
                last_day: None,
                now: t("2099-01-01T00:00:00Z"),
            };
            for point in points(register, DN15, &periods, &days, &around) {
                if let Some(c) = point.consumption_litres {
                    prop_assert!(c >= 0);
                }
            }
        }
    }
}
