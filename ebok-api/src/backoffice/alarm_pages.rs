//! The utility's meter alarms in the back office: a list filtered by kind and state, each open
//! alarm with its meter, place and customer, acknowledged or cleared with a note.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::labels as label;
use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::FormState;
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::{Id, PagePath, PageQuery};
use crate::staff::Permission;
use crate::staff::alarms::{self, AlarmFilter, AlarmItem, Handling};
use crate::staff::sessions::StaffSession;
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "staff/alarms.html")]
struct AlarmsPage {
    layout: StaffLayout,
    csrf: String,
    kind: String,
    state: String,
    alarms: Vec<AlarmItem>,
    f: FormState,
    notice: Option<&'static str>,
}

impl AlarmsPage {
    fn instant(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        ebok_common::polish::instant(*at)
    }

    fn kinds(&self) -> Vec<(&'static str, &'static str)> {
        label::alarm_kinds().collect()
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    rodzaj: Option<String>,
    stan: Option<String>,
    zrobione: Option<String>,
}

/// `GET /panel/{slug}/alarmy?rodzaj=…&stan=…`
pub async fn alarms(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<ListQuery>,
) -> Page {
    let session = ctx.staff(Permission::HandleAlarms)?.clone();
    let notice = match q.zrobione.as_deref() {
        Some("przyjety") => Some("Alarm przyjęty."),
        Some("zamkniety") => Some("Alarm zamknięty."),
        _ => None,
    };
    let filter = AlarmFilter {
        kind: q.rodzaj,
        state: q.stan,
    };
    page(&state, &ctx, &session, filter, FormState::default(), notice).await
}

async fn page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    filter: AlarmFilter,
    form: FormState,
    notice: Option<&'static str>,
) -> Page {
    let alarms = alarms::list(&state.pool, session.utility_id, &filter).await?;
    Ok((
        form.status(),
        AlarmsPage {
            layout: ctx.layout("alarmy"),
            csrf: session.csrf.clone(),
            kind: filter.kind.unwrap_or_default(),
            state: filter.state.unwrap_or_else(|| "open".into()),
            alarms,
            f: form,
            notice,
        },
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HandleFields {
    note: String,
    /// The list's filters, to come back to them.
    rodzaj: String,
    stan: String,
}

impl FormFields for HandleFields {
    const PAGE: &'static str = "/panel/{slug}/alarmy";
}

/// `POST /panel/{slug}/alarmy/{id}/przyjmij`
pub async fn acknowledge(
    State(state): State<AppState>,
    path: PagePath<Id>,
    post: StaffForm<HandleFields>,
) -> Page {
    handle(state, path, post, Handling::Acknowledge).await
}

/// `POST /panel/{slug}/alarmy/{id}/zamknij`
pub async fn clear(
    State(state): State<AppState>,
    path: PagePath<Id>,
    post: StaffForm<HandleFields>,
) -> Page {
    handle(state, path, post, Handling::Clear).await
}

async fn handle(
    state: AppState,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<HandleFields>,
    handling: Handling,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::HandleAlarms) {
        return Err(PageError::NotAllowed);
    }
    let by = session.by();
    match alarms::handle(&state.pool, by, id, handling, &fields.note).await {
        Ok(()) => {
            let done = match handling {
                Handling::Acknowledge => "przyjety",
                Handling::Clear => "zamkniety",
            };
            let query = |name: &str, value: &str| {
                format!("&{name}={}", crate::portal::shell::url_encode(value))
            };
            Ok(ctx.redirect(&format!(
                "alarmy?zrobione={done}{}{}",
                query("rodzaj", &fields.rodzaj),
                query("stan", &fields.stan)
            )))
        }
        Err(e) => {
            form.add_failure(e)?;
            let filter = AlarmFilter {
                kind: Some(fields.rodzaj),
                state: Some(fields.stan),
            };
            page(&state, &ctx, &session, filter, form, None).await
        }
    }
}
