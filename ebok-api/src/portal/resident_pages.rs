//! Alarm rules, consents, the inbox and notification settings in the portal.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use ebok_alarm_rules::{self as rules, NewRule, RuleError, RuleKind};
use ebok_common::audit::Actor;
use ebok_common::consent::{self, ConsentKind};
use ebok_common::polish;
use ebok_readings::access;
use mobile_push::inbox;
use mobile_push::notice::Category;
use mobile_push::registry::{self, Channels};

use super::shell::{self, Ctx, FormState, Layout};
use crate::consent_forms;
use crate::state::AppState;

type Page = Result<Response, Response>;
type Fields = HashMap<String, String>;

#[derive(serde::Deserialize, Default)]
pub struct NoticeQuery {
    ok: Option<String>,
}

struct RuleLine {
    id: i64,
    description: String,
    label: Option<String>,
    meter_serial: String,
    enabled: bool,
    active_since: Option<chrono::DateTime<chrono::Utc>>,
    last_triggered: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "alarms.html")]
struct AlarmsPage {
    layout: Layout,
    csrf: String,
    notice: Option<String>,
    rules: Vec<RuleLine>,
    meters: Vec<(i64, String)>,
    triggers: Vec<(String, String)>,
    f: FormState,
}

pub async fn alarms(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    Query(q): Query<NoticeQuery>,
) -> Page {
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    let notice = match q.ok.as_deref() {
        Some("dodano") => Some("Reguła dodana.".to_string()),
        Some("usunieto") => Some("Reguła usunięta.".to_string()),
        _ => None,
    };
    alarms_page(&state, &ctx, FormState::default(), notice).await
}

async fn alarms_page(state: &AppState, ctx: &Ctx, f: FormState, notice: Option<String>) -> Page {
    let session = ctx.require(&format!("{}/alarmy", ctx.base()))?;
    let viewer = session.viewer();
    let mut conn = state.pool.acquire().await.map_err(shell::internal)?;
    let rules = rules::list(&mut conn, viewer)
        .await
        .map_err(shell::internal)?;
    let triggers = rules::triggers(&mut conn, viewer, None, 20)
        .await
        .map_err(shell::internal)?;
    let meters = access::meters(&mut *conn, viewer)
        .await
        .map_err(shell::internal)?
        .into_iter()
        .filter(|m| m.removed_at.is_none())
        .map(|m| (m.id, format!("{} — {}", m.serial, m.address)))
        .collect();
    Ok((
        f.status(),
        AlarmsPage {
            layout: ctx.layout(state, "alarmy").await,
            csrf: session.csrf.clone(),
            notice,
            rules: rules
                .into_iter()
                .map(|r| RuleLine {
                    id: r.id,
                    description: r.description,
                    label: r.label,
                    meter_serial: r.meter_serial,
                    enabled: r.enabled,
                    active_since: r.active_since,
                    last_triggered: r
                        .last_triggered_at
                        .map(polish::instant)
                        .unwrap_or_else(|| "—".into()),
                })
                .collect(),
            meters,
            triggers: triggers
                .into_iter()
                .map(|t| {
                    (
                        format!("{} · wodomierz {}", t.rule, t.meter_serial),
                        format!("{} ({})", t.detail, polish::instant(t.started_at)),
                    )
                })
                .collect(),
            f,
        },
    )
        .into_response())
}

pub async fn create_rule(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Page {
    let (ctx, session) = shell::resident_post(
        &state,
        &slug,
        &jar,
        &headers,
        &fields,
        &format!("/u/{slug}/alarmy"),
    )
    .await?;
    let session = &session;
    let mut f = FormState::from_values(fields);
    let number = |f: &FormState, name: &'static str| -> Result<i64, (String, String)> {
        f.value(name)
            .trim()
            .parse::<i64>()
            .map_err(|_| (name.to_string(), "Podaj liczbę całkowitą.".to_string()))
    };
    let kind = match f.value("kind") {
        "daily_above" => number(&f, "litres").map(|litres| RuleKind::DailyAbove { litres }),
        "continuous_flow" => number(&f, "hours").map(|h| RuleKind::ContinuousFlow {
            hours: h.clamp(-1, 1_000) as i32,
        }),
        "no_consumption" => number(&f, "days").map(|d| RuleKind::NoConsumption {
            days: d.clamp(-1, 1_000) as i32,
        }),
        "device_alarm" => Ok(RuleKind::DeviceAlarm),
        _ => Err(("kind".to_string(), "Wybierz rodzaj alarmu.".to_string())),
    };
    let meter_id = f.value("meter_id").parse::<i64>().unwrap_or(0);
    let kind = match kind {
        Ok(k) => k,
        Err((field, message)) => {
            f.add(field, message);
            return alarms_page(&state, &ctx, f, None).await;
        }
    };
    let label = Some(f.value("label").to_string()).filter(|l| !l.trim().is_empty());
    let mut conn = state.pool.acquire().await.map_err(shell::internal)?;
    let result = rules::create(
        &mut conn,
        session.viewer(),
        &NewRule {
            meter_id,
            kind,
            label,
        },
        None,
    )
    .await;
    drop(conn);
    match result {
        Ok(_) => Ok(Redirect::to(&format!("{}/alarmy?ok=dodano", ctx.base())).into_response()),
        Err(RuleError::Db(e)) => Err(shell::internal(e)),
        Err(e) => {
            let api: crate::error::ApiError = e.into();
            f.add_api_error(api)?;
            alarms_page(&state, &ctx, f, None).await
        }
    }
}

pub async fn delete_rule(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    jar: CookieJar,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Page {
    let (ctx, session) = shell::resident_post(
        &state,
        &slug,
        &jar,
        &headers,
        &fields,
        &format!("/u/{slug}/alarmy"),
    )
    .await?;
    let session = &session;
    let id: i64 = id.parse().map_err(|_| shell::not_found())?;
    let mut conn = state.pool.acquire().await.map_err(shell::internal)?;
    match rules::delete(&mut conn, session.viewer(), id, None).await {
        Ok(()) => Ok(Redirect::to(&format!("{}/alarmy?ok=usunieto", ctx.base())).into_response()),
        Err(RuleError::NotFound) => Err(shell::not_found()),
        Err(e) => Err(shell::internal(e)),
    }
}

struct ConsentView {
    kind: &'static str,
    version: &'static str,
    title: &'static str,
    statement: &'static str,
    withdrawal: &'static str,
    granted_since: Option<String>,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "consents.html")]
struct ConsentsPage {
    layout: Layout,
    csrf: String,
    notice: Option<String>,
    forms: Vec<ConsentView>,
    history: Vec<(String, String, String, String)>,
}

pub async fn consents(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    Query(q): Query<NoticeQuery>,
) -> Page {
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    let notice = match q.ok.as_deref() {
        Some("udzielono") => Some("Zgoda udzielona.".to_string()),
        Some("wycofano") => Some("Zgoda wycofana.".to_string()),
        _ => None,
    };
    consents_page(&state, &ctx, None, notice).await
}

async fn consents_page(
    state: &AppState,
    ctx: &Ctx,
    error: Option<(&str, String)>,
    notice: Option<String>,
) -> Page {
    let session = ctx.require(&format!("{}/zgody", ctx.base()))?;
    let mut conn = state.pool.acquire().await.map_err(shell::internal)?;
    let history = consent::history(&mut conn, session.utility_id, session.account_id)
        .await
        .map_err(shell::internal)?;
    let forms = consent_forms::ALL
        .iter()
        .map(|form| ConsentView {
            kind: form.kind,
            version: form.version,
            title: form.title,
            statement: form.statement,
            withdrawal: form.withdrawal,
            granted_since: history
                .iter()
                .find(|h| h.kind.as_str() == form.kind && h.withdrawn_at.is_none())
                .map(|h| polish::instant(h.granted_at)),
            error: error
                .as_ref()
                .filter(|(k, _)| *k == form.kind)
                .map(|(_, m)| m.clone()),
        })
        .collect();
    let history = history
        .iter()
        .map(|h| {
            (
                consent_forms::for_kind(h.kind).title.to_string(),
                h.form_version.clone(),
                polish::instant(h.granted_at),
                h.withdrawn_at
                    .map(polish::instant)
                    .unwrap_or_else(|| "—".into()),
            )
        })
        .collect();
    Ok((
        if error.is_some() {
            axum::http::StatusCode::UNPROCESSABLE_ENTITY
        } else {
            axum::http::StatusCode::OK
        },
        ConsentsPage {
            layout: ctx.layout(state, "zgody").await,
            csrf: session.csrf.clone(),
            notice,
            forms,
            history,
        },
    )
        .into_response())
}

pub async fn grant_consent(
    State(state): State<AppState>,
    Path((slug, kind)): Path<(String, String)>,
    jar: CookieJar,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Page {
    let (ctx, session) = shell::resident_post(
        &state,
        &slug,
        &jar,
        &headers,
        &fields,
        &format!("/u/{slug}/zgody"),
    )
    .await?;
    let session = &session;
    let kind = ConsentKind::parse(&kind).ok_or_else(shell::not_found)?;
    let form = consent_forms::for_kind(kind);
    if fields.get("form_version").map(String::as_str) != Some(form.version) {
        let message =
            "Treść zgody zmieniła się. Przeczytaj ją ponownie i zaznacz zgodę.".to_string();
        return consents_page(&state, &ctx, Some((form.kind, message)), None).await;
    }
    if !matches!(
        fields.get("accept").map(String::as_str),
        Some("on" | "true")
    ) {
        let message = "Zaznacz pole „Wyrażam zgodę”, aby jej udzielić.".to_string();
        return consents_page(&state, &ctx, Some((form.kind, message)), None).await;
    }
    let mut conn = state.pool.acquire().await.map_err(shell::internal)?;
    consent::grant(
        &mut conn,
        session.utility_id,
        session.account_id,
        kind,
        form.version,
        Actor::Resident {
            account_id: session.account_id,
        },
    )
    .await
    .map_err(shell::internal)?;
    Ok(Redirect::to(&format!("{}/zgody?ok=udzielono", ctx.base())).into_response())
}

pub async fn withdraw_consent(
    State(state): State<AppState>,
    Path((slug, kind)): Path<(String, String)>,
    jar: CookieJar,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Page {
    let (ctx, session) = shell::resident_post(
        &state,
        &slug,
        &jar,
        &headers,
        &fields,
        &format!("/u/{slug}/zgody"),
    )
    .await?;
    let session = &session;
    let kind = ConsentKind::parse(&kind).ok_or_else(shell::not_found)?;
    let mut conn = state.pool.acquire().await.map_err(shell::internal)?;
    consent::withdraw(
        &mut conn,
        session.utility_id,
        session.account_id,
        kind,
        Actor::Resident {
            account_id: session.account_id,
        },
    )
    .await
    .map_err(shell::internal)?;
    Ok(Redirect::to(&format!("{}/zgody?ok=wycofano", ctx.base())).into_response())
}

struct InboxLine {
    title: String,
    body: String,
    link: Option<String>,
    when: String,
    urgent: bool,
    read_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Template, WebTemplate)]
#[template(path = "inbox.html")]
struct InboxPage {
    layout: Layout,
    csrf: String,
    items: Vec<InboxLine>,
}

pub async fn inbox_page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
) -> Page {
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    let session = ctx.require(&format!("/u/{slug}/powiadomienia"))?;
    let items = inbox::list(
        &state.pool,
        session.utility_id,
        session.account_id,
        None,
        100,
    )
    .await
    .map_err(shell::internal)?;
    Ok(InboxPage {
        layout: ctx.layout(&state, "powiadomienia").await,
        csrf: session.csrf.clone(),
        items: items
            .into_iter()
            .map(|n| InboxLine {
                when: polish::instant(n.created_at),
                title: n.title,
                body: n.body,
                link: n.link,
                urgent: n.urgent,
                read_at: n.read_at,
            })
            .collect(),
    }
    .into_response())
}

pub async fn mark_all_read(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Page {
    let (ctx, session) = shell::resident_post(
        &state,
        &slug,
        &jar,
        &headers,
        &fields,
        &format!("/u/{slug}/powiadomienia"),
    )
    .await?;
    let session = &session;
    inbox::mark_all_read(&state.pool, session.utility_id, session.account_id)
        .await
        .map_err(shell::internal)?;
    Ok(Redirect::to(&format!("{}/powiadomienia", ctx.base())).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    csrf: String,
    notice: Option<String>,
    prefs: Vec<(&'static str, &'static str, bool, bool)>,
    devices: Vec<String>,
}

pub async fn settings(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    Query(q): Query<NoticeQuery>,
) -> Page {
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    let session = ctx.require(&format!("/u/{slug}/ustawienia/powiadomienia"))?;
    let mut conn = state.pool.acquire().await.map_err(shell::internal)?;
    let prefs = registry::preferences(&mut conn, session.utility_id, session.account_id)
        .await
        .map_err(shell::internal)?;
    let devices = registry::devices(&mut conn, session.utility_id, session.account_id)
        .await
        .map_err(shell::internal)?;
    Ok(SettingsPage {
        layout: ctx.layout(&state, "konto").await,
        csrf: session.csrf.clone(),
        notice: q.ok.map(|_| "Ustawienia zapisane.".to_string()),
        prefs: prefs
            .into_iter()
            .map(|(c, ch)| (c.as_str(), c.label_pl(), ch.push, ch.email))
            .collect(),
        devices: devices
            .into_iter()
            .map(|d| {
                format!(
                    "{}{} — od {}",
                    d.platform,
                    d.app_version
                        .map(|v| format!(" (aplikacja {v})"))
                        .unwrap_or_default(),
                    polish::instant(d.registered_at)
                )
            })
            .collect(),
    }
    .into_response())
}

pub async fn save_settings(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Page {
    let (ctx, session) = shell::resident_post(
        &state,
        &slug,
        &jar,
        &headers,
        &fields,
        &format!("/u/{slug}/ustawienia/powiadomienia"),
    )
    .await?;
    let session = &session;
    let mut tx = state.pool.begin().await.map_err(shell::internal)?;
    for category in Category::ALL {
        let on = |prefix: &str| fields.contains_key(&format!("{prefix}-{}", category.as_str()));
        registry::set_preference(
            &mut tx,
            session.utility_id,
            session.account_id,
            category,
            Channels {
                push: on("push"),
                email: on("email"),
            },
        )
        .await
        .map_err(shell::internal)?;
    }
    tx.commit().await.map_err(shell::internal)?;
    Ok(Redirect::to(&format!("{}/ustawienia/powiadomienia?ok=1", ctx.base())).into_response())
}
