//! Meters and readings: the account's meters with their current reading, the reading on a
//! chosen day (the last one at or before the end of that Warsaw day, with its actual time),
//! history with daily or monthly consumption, the billing readings, CSV export and
//! self-readings for meters without radio. Every call is scoped by the account's meter windows
//! (`account_meter_windows`, through `ebok_readings`): another resident's meter is simply not found.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use ebok_common::domain::time::local_day;
use ebok_readings::access::{self, VisibleMeter};
use ebok_readings::export;
use ebok_readings::history::{self, Point, ReadError, Reading, Step};
use ebok_readings::self_reading::{self, Photo, SelfReadingError, Submitted};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Resident;
use crate::error::{ApiError, Problem};
use crate::extract::{Json, Path, Query, json_response};
use crate::state::AppState;

impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::MeterNotFound => ApiError::NotFound,
            ReadError::Invalid { field, detail } => ApiError::invalid(field, detail),
            ReadError::Db(e) => e.into(),
            ReadError::Shared(e) => ApiError::Internal(anyhow::anyhow!("{e}")),
        }
    }
}

impl From<SelfReadingError> for ApiError {
    fn from(error: SelfReadingError) -> Self {
        let field = error.field().unwrap_or("body").to_string();
        let detail = error.message().unwrap_or_default();
        match error {
            SelfReadingError::MeterNotFound => ApiError::NotFound,
            SelfReadingError::Duplicate => ApiError::Conflict {
                field: Some(field),
                detail,
            },
            SelfReadingError::Invalid { .. } | SelfReadingError::Implausible(_) => {
                ApiError::Invalid { field, detail }
            }
            SelfReadingError::Db(e) => e.into(),
        }
    }
}

/// The account's meters (current ones first) with their newest reading.
#[utoipa::path(get, path = "/meters", tag = "meters", security(("bearer" = [])),
    responses((status = 200, body = Vec<VisibleMeter>), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    who: Resident,
) -> Result<Json<Vec<VisibleMeter>>, ApiError> {
    Ok(Json(access::meters(&state.pool, who.viewer()).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CurrentReading {
    pub meter_id: i64,
    /// The newest reading, `null` before the first.
    pub reading: Option<Reading>,
}

/// The meter's newest reading.
#[utoipa::path(get, path = "/meters/{id}/current", tag = "meters", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = CurrentReading), (status = 404, body = Problem)))]
pub async fn current(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
) -> Result<Json<CurrentReading>, ApiError> {
    let viewer = who.viewer();
    let reading = state
        .reads
        .run(|conn| Box::pin(async move { history::current(conn, viewer, id).await }))
        .await?;
    Ok(Json(CurrentReading {
        meter_id: id,
        reading,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DayQuery {
    /// The day (Europe/Warsaw), `YYYY-MM-DD`, from 2000 to 2099 (the pattern says so; the
    /// readings refuse other years) and not after today.
    #[param(pattern = r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub day: NaiveDate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadingOnDay {
    pub meter_id: i64,
    pub day: NaiveDate,
    /// The last reading at or before the end of `day` in Europe/Warsaw, with its actual time;
    /// `null` when the meter had none by then.
    pub reading: Option<Reading>,
}

/// The reading on a chosen day: the last reading at or before the end of that day
/// (Europe/Warsaw), with its actual timestamp.
#[utoipa::path(get, path = "/meters/{id}/reading", tag = "meters", security(("bearer" = [])),
    params(("id" = i64, Path), DayQuery),
    responses((status = 200, body = ReadingOnDay), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn reading_on_day(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
    Query(q): Query<DayQuery>,
) -> Result<Json<ReadingOnDay>, ApiError> {
    let reading = state.on_day.on_day(who.viewer(), id, q.day).await?;
    Ok(Json(ReadingOnDay {
        meter_id: id,
        day: q.day,
        reading,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RangeQuery {
    /// First day (Europe/Warsaw), `YYYY-MM-DD` from 2000 to 2099; default a year before `to`.
    #[param(pattern = r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub from: Option<NaiveDate>,
    /// Last day, inclusive, not before `from`; default today.
    #[param(pattern = r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub to: Option<NaiveDate>,
    /// `day` (default) or `month`.
    pub step: Option<Step>,
}

impl RangeQuery {
    /// The range with its defaults: `to` today (or `from`, when that is later), `from` a year
    /// before `to` but not before the first day the API takes, so that a default never makes
    /// a request fail nor an error name a field the client did not send.
    fn resolve(&self) -> (NaiveDate, NaiveDate, Step) {
        let today = local_day(Utc::now());
        let to = self
            .to
            .unwrap_or_else(|| self.from.map_or(today, |from| from.max(today)));
        let from = self
            .from
            .unwrap_or_else(|| (to - chrono::Days::new(364)).max(history::FIRST_DAY));
        (from, to, self.step.unwrap_or(Step::Day))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub meter_id: i64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub step: Step,
    /// One point per day or month: the register at its end, its consumption by the day rule
    /// (see `end` and `consumption_interpolated`), and the period's last reading as sent.
    pub points: Vec<Point>,
}

impl History {
    /// The JSON body: the same bytes as serde_json writes for the derived `Serialize` (which
    /// stays for the tests), with the points written by [`Point::push_json_array`]: a year of
    /// daily history is 365 points, and serde's per-field machinery was a third of the process's
    /// CPU for that request.
    fn to_json(&self) -> Vec<u8> {
        use ebok_common::json::{push_date, push_i64};
        let mut out = Vec::with_capacity(128 + 144 * self.points.len());
        out.extend_from_slice(br#"{"meter_id":"#);
        push_i64(&mut out, self.meter_id);
        out.extend_from_slice(br#","from":"#);
        push_date(&mut out, self.from);
        out.extend_from_slice(br#","to":"#);
        push_date(&mut out, self.to);
        out.extend_from_slice(br#","step":"#);
        serde_json::to_writer(&mut out, &self.step).expect("a step always serializes");
        out.extend_from_slice(br#","points":"#);
        Point::push_json_array(&mut out, &self.points);
        out.push(b'}');
        out
    }
}

impl IntoResponse for History {
    fn into_response(self) -> axum::response::Response {
        json_response(self.to_json())
    }
}

/// History with daily or monthly consumption (at most 1,100 days or 240 months).
#[utoipa::path(get, path = "/meters/{id}/history", tag = "meters", security(("bearer" = [])),
    params(("id" = i64, Path), RangeQuery),
    responses((status = 200, body = History), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn history(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
    Query(q): Query<RangeQuery>,
) -> Result<History, ApiError> {
    let (from, to, step) = q.resolve();
    let viewer = who.viewer();
    let points = state
        .reads
        .run(|conn| {
            Box::pin(async move { history::history(conn, viewer, id, from, to, step).await })
        })
        .await?;
    Ok(History {
        meter_id: id,
        from,
        to,
        step,
        points,
    })
}

/// The billing readings: the register at the end of each month, as monthly invoices use them.
#[utoipa::path(get, path = "/meters/{id}/billing-readings", tag = "meters",
    security(("bearer" = [])), params(("id" = i64, Path), RangeQuery),
    responses((status = 200, body = History), (status = 404, body = Problem)))]
pub async fn billing_readings(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
    Query(q): Query<RangeQuery>,
) -> Result<History, ApiError> {
    let (from, to, _) = q.resolve();
    let viewer = who.viewer();
    let points = state
        .reads
        .run(|conn| {
            Box::pin(async move { history::billing_readings(conn, viewer, id, from, to).await })
        })
        .await?;
    Ok(History {
        meter_id: id,
        from,
        to,
        step: Step::Month,
        points,
    })
}

/// The history as CSV for a spreadsheet (UTF-8 with BOM, `;`, decimal comma, Polish header).
#[utoipa::path(get, path = "/meters/{id}/history.csv", tag = "meters",
    security(("bearer" = [])), params(("id" = i64, Path), RangeQuery),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 404, body = Problem)))]
pub async fn history_csv(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
    Query(q): Query<RangeQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let (from, to, step) = q.resolve();
    csv_response(&state, who.viewer(), id, from, to, step).await
}

/// A CSV download of a meter's history (shared with the portal).
pub(crate) async fn csv_response(
    state: &AppState,
    viewer: ebok_readings::access::Viewer,
    id: i64,
    from: NaiveDate,
    to: NaiveDate,
    step: Step,
) -> Result<impl IntoResponse + use<>, ApiError> {
    let (meter, points) = state
        .reads
        .run(|conn| {
            Box::pin(async move {
                let meter = history::meter_info(&mut *conn, viewer, id).await?;
                let points = history::history(conn, viewer, id, from, to, step).await?;
                Ok::<_, ReadError>((meter, points))
            })
        })
        .await?;
    let body = export::history_csv(&meter.serial, &points, step);
    let name = format!("odczyty-{}-{from}-{to}.csv", sanitize(&meter.serial));
    Ok(crate::download::attachment(
        &name,
        "text/csv; charset=utf-8",
        body,
    ))
}

fn sanitize(serial: &str) -> String {
    serial
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SelfReadingRequest {
    /// The register in litres (e.g. 123 456 for 123,456 m³).
    pub litres: i64,
    /// When it was read; default now.
    pub measured_at: Option<DateTime<Utc>>,
    /// Optional photo of the register: base64 of a JPEG, PNG or WebP file up to 5 MB.
    pub photo_base64: Option<String>,
}

/// Enter a reading of a meter without radio (optionally with a photo). Checked against the
/// meter's history: not lower than the last reading (unless the meter was replaced), not
/// absurdly high, not older than the newest reading.
#[utoipa::path(post, path = "/meters/{id}/readings", tag = "meters", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = SelfReadingRequest,
    responses((status = 201, body = Submitted), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn self_reading(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
    Json(body): Json<SelfReadingRequest>,
) -> Result<(StatusCode, Json<Submitted>), ApiError> {
    let photo = match body.photo_base64.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(b64) => Some(Photo {
            content_type: String::new(),
            bytes: base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| {
                    ApiError::invalid("photo_base64", "Zdjęcie nie jest poprawnym base64.")
                })?,
        }),
    };
    let at = body.measured_at.unwrap_or_else(Utc::now);
    let submitted =
        self_reading::submit(&state.pool, who.viewer(), id, body.litres, at, photo).await?;
    Ok((StatusCode::CREATED, Json(submitted)))
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    #[test]
    fn history_json_is_what_serde_writes() {
        let at: DateTime<Utc> = "2026-03-29T05:00:00.250Z".parse().unwrap();
        let point = |day: u64, reading: Option<Reading>, consumption_litres: Option<i64>| Point {
            period_start: at.date_naive() + chrono::Days::new(day),
            reading,
            end: consumption_litres.map(|litres| ebok_common::domain::boundary::RegisterAt {
                at,
                litres,
                interpolated: day.is_multiple_of(2),
            }),
            consumption_litres,
            consumption_interpolated: !day.is_multiple_of(2),
        };
        let reading = |source: &str| Reading {
            measured_at: at,
            litres: -5,
            source: Cow::Owned(source.to_owned()),
        };
        for step in [Step::Day, Step::Month] {
            for points in [
                vec![],
                vec![
                    point(0, Some(reading("radio")), Some(350)),
                    point(1, None, None),
                    point(2, Some(reading("zła \"wartość\"\n")), None),
                ],
            ] {
                let history = History {
                    meter_id: 42,
                    from: at.date_naive(),
                    to: at.date_naive() + chrono::Days::new(2),
                    step,
                    points,
                };
                assert_eq!(
                    String::from_utf8(history.to_json()).unwrap(),
                    serde_json::to_string(&history).unwrap()
                );
            }
        }
    }
}
