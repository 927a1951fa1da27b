//! The audit log for admins: who did what, when, to whom, filtered by staff member, customer
//! (by customer number), action and period; the same as a CSV download.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{Days, NaiveDate, Utc};
use ebok_common::domain::time::local_day;
use serde::Deserialize;

use super::shell::{StaffCtx, StaffLayout};
use crate::portal::page_error::Page;
use crate::portal::params::PageQuery;
use crate::staff::Permission;
use crate::staff::audit::{self, AuditFilter, AuditRow};
use crate::state::AppState;

/// The filters as the form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    pracownik: Option<String>,
    klient: Option<String>,
    akcja: Option<String>,
    od: Option<String>,
    #[serde(rename = "do")]
    to: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/audit.html")]
struct AuditPage {
    layout: StaffLayout,
    /// `(account id, "name (role)")` of the utility's staff.
    staff: Vec<(i64, String)>,
    q: AuditQuery,
    from: NaiveDate,
    to: NaiveDate,
    rows: Vec<AuditRow>,
    /// The query string of these filters, for the CSV link.
    csv_query: String,
    errors: Vec<(&'static str, String)>,
}

impl AuditPage {
    fn instant(&self, at: &chrono::DateTime<Utc>) -> String {
        ebok_common::polish::instant(*at)
    }

    fn selected(&self, id: &i64) -> bool {
        self.q.pracownik.as_deref() == Some(id.to_string().as_str())
    }

    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// The filter of a query, or the fields that are wrong.
async fn filter(
    state: &AppState,
    utility_id: i64,
    q: &AuditQuery,
) -> Result<(AuditFilter, Vec<(&'static str, String)>), crate::portal::page_error::PageError> {
    let today = local_day(Utc::now());
    let mut errors = Vec::new();
    let mut day = |field: &'static str, text: &Option<String>, default: NaiveDate| match text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => default,
        Some(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d").unwrap_or_else(|_| {
            errors.push((field, "Podaj datę, np. 2026-12-01.".to_string()));
            default
        }),
    };
    let to = day("do", &q.to, today);
    let from = day("od", &q.od, to - Days::new(30));
    if from > to {
        errors.push(("od", "Początek okresu jest po jego końcu.".to_string()));
    }
    let staff = q.pracownik.as_deref().and_then(|s| s.parse().ok());
    let customer = match q.klient.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        None => None,
        Some(number) => {
            let found = sqlx::query_scalar!(
                "SELECT id FROM customers WHERE utility_id = $1 AND customer_number = $2",
                utility_id,
                number,
            )
            .fetch_optional(&state.pool)
            .await?;
            if found.is_none() {
                errors.push(("klient", "Nie ma klienta o tym numerze.".to_string()));
            }
            found
        }
    };
    let action = q
        .akcja
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string);
    Ok((
        AuditFilter {
            staff,
            customer,
            action,
            from,
            to,
        },
        errors,
    ))
}

/// `GET /panel/{slug}/dziennik`
pub async fn audit_log(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<AuditQuery>,
) -> Page {
    let session = ctx.staff(Permission::ViewAudit)?.clone();
    let (filter, errors) = filter(&state, session.utility_id, &q).await?;
    let rows = if errors.is_empty() {
        audit::entries(&state.pool, session.utility_id, &filter, audit::PAGE_LIMIT).await?
    } else {
        Vec::new()
    };
    let staff = sqlx::query!(
        r#"SELECT id, display_name, role::text AS "role!" FROM user_accounts
           WHERE utility_id = $1 AND role <> 'resident' ORDER BY display_name, id"#,
        session.utility_id,
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| {
        let role = crate::staff::StaffRole::parse(&r.role).map_or("", |r| r.polish());
        (r.id, format!("{} ({role})", r.display_name))
    })
    .collect();
    let csv_query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("pracownik", q.pracownik.as_deref().unwrap_or_default())
        .append_pair("klient", q.klient.as_deref().unwrap_or_default())
        .append_pair("akcja", q.akcja.as_deref().unwrap_or_default())
        .append_pair("od", &filter.from.to_string())
        .append_pair("do", &filter.to.to_string())
        .finish();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((
        status,
        AuditPage {
            layout: ctx.layout("dziennik"),
            staff,
            q,
            from: filter.from,
            to: filter.to,
            rows,
            csv_query,
            errors,
        },
    )
        .into_response())
}

/// `GET /panel/{slug}/dziennik.csv`
pub async fn audit_csv(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<AuditQuery>,
) -> Page {
    let session = ctx.staff(Permission::ViewAudit)?.clone();
    let (filter, errors) = filter(&state, session.utility_id, &q).await?;
    if let Some((_, message)) = errors.into_iter().next() {
        return Err(crate::portal::page_error::PageError::Refused {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: message,
        });
    }
    let rows = audit::entries(&state.pool, session.utility_id, &filter, audit::CSV_LIMIT).await?;
    Ok(crate::download::attachment(
        &format!(
            "dziennik-{}-{}-{}.csv",
            ctx.utility.slug, filter.from, filter.to
        ),
        "text/csv; charset=utf-8",
        audit::csv(&rows),
    ))
}
