//! The utility's staff accounts for its admins: the list with each member's role, state and
//! authenticator, a new member (invited by e-mail), and per member: a new role, switching the
//! account off or on, a new invitation, forgetting the authenticator (a lost phone).

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
use crate::portal::params::{PagePath, PageQuery};
use crate::staff::ByStaff;
use crate::staff::sessions::StaffSession;
use crate::staff::team::{self, Member};
use crate::staff::{Permission, StaffRole};
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "staff/team.html")]
struct TeamPage {
    layout: StaffLayout,
    csrf: String,
    me: i64,
    members: Vec<Member>,
    f: FormState,
    notice: Option<&'static str>,
}

impl TeamPage {
    fn roles(&self) -> [(&'static str, &'static str); 4] {
        StaffRole::ALL.map(|r| (r.as_str(), r.polish()))
    }

    fn role_name(&self, role: &str) -> &'static str {
        StaffRole::parse(role).map_or("", StaffRole::polish)
    }

    fn instant(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        ebok_common::polish::instant(*at)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TeamQuery {
    zrobione: Option<String>,
}

/// `GET /panel/{slug}/zespol`
pub async fn team(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<TeamQuery>,
) -> Page {
    let session = ctx.staff(Permission::ManageStaff)?.clone();
    let notice = match q.zrobione.as_deref() {
        Some("dodano") => {
            Some("Pracownik dodany; zaproszenie do ustawienia hasła wysłane e-mailem.")
        }
        Some("zaproszenie") => Some("Zaproszenie wysłane ponownie."),
        Some("bez-zaproszenia") => Some(
            "Pracownik dodany, ale e-maila z zaproszeniem nie udało się wysłać. Wyślij je \
             ponownie przyciskiem przy pracowniku.",
        ),
        Some("rola") => Some("Rola zmieniona; sesje pracownika zakończone."),
        Some("wylaczono") => Some("Konto wyłączone; sesje pracownika zakończone."),
        Some("wlaczono") => Some("Konto włączone."),
        Some("aplikacja") => Some(
            "Aplikacja uwierzytelniająca zapomniana; przy logowaniu pracownik ustawi ją od nowa.",
        ),
        _ => None,
    };
    page(
        &state,
        &ctx,
        &session,
        FormState::default().with("role", "clerk"),
        notice,
    )
    .await
}

async fn page(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    f: FormState,
    notice: Option<&'static str>,
) -> Page {
    let members = team::members(&state.pool, session.utility_id).await?;
    Ok((
        f.status(),
        TeamPage {
            layout: ctx.layout("zespol"),
            csrf: session.csrf.clone(),
            me: session.account_id,
            members,
            f,
            notice,
        },
    )
        .into_response())
}

fn admin(session: &StaffSession) -> Result<ByStaff, PageError> {
    if !session.may(Permission::ManageStaff) {
        return Err(PageError::NotAllowed);
    }
    Ok(session.by())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewMemberFields {
    email: String,
    display_name: String,
    role: String,
}

impl FormFields for NewMemberFields {
    const PAGE: &'static str = "/panel/{slug}/zespol";
}

/// `POST /panel/{slug}/zespol/nowy`
pub async fn create(State(state): State<AppState>, post: StaffForm<NewMemberFields>) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    let by = admin(&session)?;
    match team::create(
        &state.pool,
        &state.mailer,
        by,
        &ctx.utility,
        &fields.email,
        &fields.display_name,
        &fields.role,
    )
    .await
    {
        Ok((_, true)) => Ok(ctx.redirect("zespol?zrobione=dodano")),
        Ok((_, false)) => Ok(ctx.redirect("zespol?zrobione=bez-zaproszenia")),
        Err(e) => {
            form.add_failure(e)?;
            page(&state, &ctx, &session, form, None).await
        }
    }
}

/// `{slug}`, `{id}` and what to do with member `{id}`.
#[derive(Debug, Deserialize)]
pub struct MemberPath {
    id: i64,
    action: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MemberFields {
    role: String,
}

impl FormFields for MemberFields {
    const PAGE: &'static str = "/panel/{slug}/zespol";
}

/// `POST /panel/{slug}/zespol/{id}/{action}`: `rola`, `wylacz`, `wlacz`, `zaproszenie`,
/// `aplikacja`.
pub async fn change(
    State(state): State<AppState>,
    PagePath(path): PagePath<MemberPath>,
    post: StaffForm<MemberFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    let by = admin(&session)?;
    let id = path.id;
    let (result, done) = match path.action.as_str() {
        "rola" => (
            team::set_role(&state.pool, by, id, &fields.role).await,
            "rola",
        ),
        "wylacz" => (
            team::set_active(&state.pool, by, id, false).await,
            "wylaczono",
        ),
        "wlacz" => (
            team::set_active(&state.pool, by, id, true).await,
            "wlaczono",
        ),
        "zaproszenie" => (
            team::reinvite(&state.pool, &state.mailer, by, &ctx.utility, id).await,
            "zaproszenie",
        ),
        "aplikacja" => (
            team::reset_authenticator(&state.pool, by, id).await,
            "aplikacja",
        ),
        _ => return Err(PageError::NotFound),
    };
    match result {
        Ok(()) => {
            // The member's access tokens (the technicians' app) stop at once too.
            state.revoked.catch_up(&state.pool).await?;
            Ok(ctx.redirect(&format!("zespol?zrobione={done}")))
        }
        Err(e) => {
            form.add_failure(e)?;
            page(&state, &ctx, &session, form.with("role", "clerk"), None).await
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/settings.html")]
struct SettingsPage {
    layout: StaffLayout,
    csrf: String,
    f: FormState,
    saved: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct SettingsQuery {
    zapisano: Option<String>,
}

/// `GET /panel/{slug}/ustawienia`: what the utility tells residents about itself.
pub async fn settings(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<SettingsQuery>,
) -> Page {
    let session = ctx.staff(Permission::ManageStaff)?.clone();
    let s = crate::staff::settings::current(&state.pool, session.utility_id).await?;
    let f = FormState::from_values(
        [
            ("email", s.email),
            ("phone", s.phone),
            ("website", s.website),
            ("office_hours", s.office_hours),
            ("emergency_phone", s.emergency_phone),
            ("terms_text", s.terms_text),
            ("privacy_text", s.privacy_text),
            ("bank_account", s.bank_account),
            ("virtual_account_sort_code", s.virtual_account_sort_code),
            ("virtual_account_prefix", s.virtual_account_prefix),
            ("reminder_overdue_days", s.reminder_overdue_days),
            ("reminder_demand_days", s.reminder_demand_days),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v)),
    );
    Ok(SettingsPage {
        layout: ctx.layout("ustawienia"),
        csrf: session.csrf,
        f,
        saved: q.zapisano.is_some(),
    }
    .into_response())
}

impl FormFields for crate::staff::settings::UtilitySettings {
    const PAGE: &'static str = "/panel/{slug}/ustawienia";
}

/// `POST /panel/{slug}/ustawienia`
pub async fn save_settings(
    State(state): State<AppState>,
    post: StaffForm<crate::staff::settings::UtilitySettings>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    let by = admin(&session)?;
    let problems = fields.problems();
    if problems.is_empty() {
        match crate::staff::settings::save(&state.pool, by, &fields).await {
            Ok(()) => return Ok(ctx.redirect("ustawienia?zapisano=1")),
            Err(e) => form.add_failure(e)?,
        }
    } else {
        for (field, message) in problems {
            form.add(field, message);
        }
    }
    Ok((
        form.status(),
        SettingsPage {
            layout: ctx.layout("ustawienia"),
            csrf: session.csrf,
            f: form,
            saved: false,
        },
    )
        .into_response())
}
