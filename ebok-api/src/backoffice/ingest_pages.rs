//! Ingest problems in the back office: the quarantine of readings from meters nobody
//! registered, grouped by radio id or serial, each group assignable to a meter of the utility
//! (ingest replays them into it on its next round, every 30 s by default).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::FormState;
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::PageQuery;
use crate::staff::Permission;
use crate::staff::meters::ByStaff;
use crate::staff::quarantine::{self, HeldGroup};
use crate::staff::sessions::StaffSession;
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "staff/quarantine.html")]
struct QuarantinePage {
    layout: StaffLayout,
    csrf: String,
    groups: Vec<HeldGroup>,
    f: FormState,
    notice: Option<String>,
}

impl QuarantinePage {
    fn instant(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        ebok_common::polish::instant(*at)
    }

    fn volume(&self, litres: &i64) -> String {
        ebok_common::polish::volume(*litres)
    }

    fn kind(&self, kind: &str) -> &'static str {
        if kind == "radio_id" {
            "identyfikator radiowy"
        } else {
            "numer fabryczny"
        }
    }

    /// What was typed for this group's serial, when the form sent was this group's.
    fn typed<'a>(&'a self, group: &HeldGroup) -> &'a str {
        if self.f.value("meter_ref") == group.meter_ref && self.f.value("kind") == group.kind {
            self.f.value("serial")
        } else {
            ""
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    przypisano: Option<u64>,
    radio: Option<String>,
}

/// `GET /panel/{slug}/kwarantanna`
pub async fn quarantine(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<DoneQuery>,
) -> Page {
    let session = ctx.staff(Permission::HandleIngestProblems)?.clone();
    let notice = q.przypisano.map(|n| {
        let mut text = format!(
            "Przypisano {n} {}; trafią do wodomierza w ciągu minuty.",
            ebok_common::polish::plural(n as i64, "odczyt", "odczyty", "odczytów")
        );
        if q.radio.is_some() {
            text.push_str(" Wodomierz otrzymał ten identyfikator radiowy.");
        }
        text
    });
    page(&state, &ctx, &session, FormState::default(), notice).await
}

async fn page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    form: FormState,
    notice: Option<String>,
) -> Page {
    let groups = quarantine::held(&state.pool, session.utility_id).await?;
    Ok((
        form.status(),
        QuarantinePage {
            layout: ctx.layout("kwarantanna"),
            csrf: session.csrf.clone(),
            groups,
            f: form,
            notice,
        },
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AssignFields {
    kind: String,
    meter_ref: String,
    serial: String,
}

impl FormFields for AssignFields {
    const PAGE: &'static str = "/panel/{slug}/kwarantanna";
}

/// `POST /panel/{slug}/kwarantanna/przypisz`
pub async fn assign(State(state): State<AppState>, post: StaffForm<AssignFields>) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::HandleIngestProblems) {
        return Err(PageError::NotAllowed);
    }
    let by = ByStaff {
        utility_id: session.utility_id,
        account_id: session.account_id,
    };
    match quarantine::assign(
        &state.pool,
        by,
        &fields.kind,
        &fields.meter_ref,
        &fields.serial,
    )
    .await
    {
        Ok(done) => Ok(ctx.redirect(&format!(
            "kwarantanna?przypisano={}{}",
            done.readings,
            if done.radio_id_set { "&radio=1" } else { "" }
        ))),
        Err(e) => {
            form.add_failure(e)?;
            page(&state, &ctx, &session, form, None).await
        }
    }
}
