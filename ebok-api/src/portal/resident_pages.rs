//! Alarm rules, consents, the inbox and notification settings in the portal.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use ebok_alarm_rules::{self as rules, NewRule, RuleKind};
use ebok_common::audit::Actor;
use ebok_common::consent::{self, ConsentKind};
use ebok_common::polish;
use ebok_payments::dunning::reminders;
use ebok_readings::access;
use mobile_push::inbox;
use mobile_push::notice::Category;
use mobile_push::registry::{self, Channels};
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

use super::form::{FormFields, PortalForm, ResidentForm};
use super::form_state::{Checkbox, FormState};
use super::page_error::{Page, PageError};
use super::params::{Id, PagePath, PageQuery};
use super::shell::{Ctx, Layout};
use crate::auth::web::PortalSession;
use crate::consent_forms;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize, Default)]
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

/// `GET /u/{slug}/alarmy`.
pub async fn alarms(
    State(state): State<AppState>,
    ctx: Ctx,
    PageQuery(q): PageQuery<NoticeQuery>,
) -> Page {
    let session = ctx.resident()?;
    let notice = match q.ok.as_deref() {
        Some("dodano") => Some("Reguła dodana.".to_string()),
        Some("usunieto") => {
            Some("Reguła usunięta. Jej historia alarmów zostaje poniżej.".to_string())
        }
        Some("wlaczono") => Some("Reguła włączona.".to_string()),
        Some("wylaczono") => Some("Reguła wyłączona. Możesz ją włączyć ponownie.".to_string()),
        _ => None,
    };
    alarms_page(&state, &ctx, session, FormState::default(), notice).await
}

async fn alarms_page(
    state: &AppState,
    ctx: &Ctx,
    session: &PortalSession,
    f: FormState,
    notice: Option<String>,
) -> Page {
    let viewer = session.viewer();
    let mut conn = state.pool.acquire().await?;
    let rules = rules::list(&mut conn, viewer).await?;
    let triggers = rules::triggers(&mut conn, viewer, None, 20).await?;
    let meters = access::meters(&mut *conn, viewer)
        .await?
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
                    let deleted = if t.rule_deleted {
                        " (reguła usunięta)"
                    } else {
                        ""
                    };
                    (
                        format!("{}{deleted} · wodomierz {}", t.rule, t.meter_serial),
                        format!("{} ({})", t.detail, polish::instant(t.started_at)),
                    )
                })
                .collect(),
            f,
        },
    )
        .into_response())
}

/// The alarms page's form for a new rule: the kind's own parameter (`litres`, `hours`, `days`)
/// is read only for that kind, as typed, so that a wrong number is shown at its field.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RuleFields {
    meter_id: Option<i64>,
    kind: String,
    litres: String,
    hours: String,
    days: String,
    label: String,
}

impl FormFields for RuleFields {
    const PAGE: &'static str = "/u/{slug}/alarmy";
}

/// `POST /u/{slug}/alarmy`: sets an alarm rule on one of the account's meters.
pub async fn create_rule(State(state): State<AppState>, post: ResidentForm<RuleFields>) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    let number = |name: &'static str, typed: &str| -> Result<i64, (&'static str, &'static str)> {
        typed
            .trim()
            .parse::<i64>()
            .map_err(|_| (name, "Podaj liczbę całkowitą."))
    };
    let kind = match fields.kind.as_str() {
        "daily_above" => {
            number("litres", &fields.litres).map(|litres| RuleKind::DailyAbove { litres })
        }
        "continuous_flow" => number("hours", &fields.hours).map(|h| RuleKind::ContinuousFlow {
            hours: h.clamp(-1, 1_000) as i32,
        }),
        "no_consumption" => number("days", &fields.days).map(|d| RuleKind::NoConsumption {
            days: d.clamp(-1, 1_000) as i32,
        }),
        "device_alarm" => Ok(RuleKind::DeviceAlarm),
        _ => Err(("kind", "Wybierz rodzaj alarmu.")),
    };
    let kind = match kind {
        Ok(kind) => kind,
        Err((field, message)) => {
            form.add(field, message);
            return alarms_page(&state, &ctx, &session, form, None).await;
        }
    };
    let label = Some(fields.label).filter(|l| !l.trim().is_empty());
    let mut conn = state.pool.acquire().await?;
    let result = rules::create(
        &mut conn,
        session.viewer(),
        &NewRule {
            // No meter chosen is no meter of the account's.
            meter_id: fields.meter_id.unwrap_or(0),
            kind,
            label,
        },
        None,
    )
    .await;
    drop(conn);
    match result {
        Ok(_) => Ok(ctx.redirect("alarmy?ok=dodano")),
        Err(e) => {
            form.add_failure(e)?;
            alarms_page(&state, &ctx, &session, form, None).await
        }
    }
}

/// The delete button of one rule: only the CSRF token.
#[derive(Debug, Default, Deserialize)]
pub struct DeleteRuleFields {}

impl FormFields for DeleteRuleFields {
    const PAGE: &'static str = "/u/{slug}/alarmy";
}

/// `POST /u/{slug}/alarmy/{id}/usun`.
pub async fn delete_rule(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: ResidentForm<DeleteRuleFields>,
) -> Page {
    let PortalForm { ctx, session, .. } = post;
    let mut conn = state.pool.acquire().await?;
    rules::delete(&mut conn, session.viewer(), id, None).await?;
    Ok(ctx.redirect("alarmy?ok=usunieto"))
}

/// The switch of one rule: only the CSRF token (the path says on or off).
#[derive(Debug, Default, Deserialize)]
pub struct SwitchRuleFields {}

impl FormFields for SwitchRuleFields {
    const PAGE: &'static str = "/u/{slug}/alarmy";
}

/// `POST /u/{slug}/alarmy/{id}/wlacz`.
pub async fn enable_rule(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: ResidentForm<SwitchRuleFields>,
) -> Page {
    switch_rule(state, id, post, true).await
}

/// `POST /u/{slug}/alarmy/{id}/wylacz`.
pub async fn disable_rule(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: ResidentForm<SwitchRuleFields>,
) -> Page {
    switch_rule(state, id, post, false).await
}

async fn switch_rule(
    state: AppState,
    id: i64,
    post: ResidentForm<SwitchRuleFields>,
    enabled: bool,
) -> Page {
    let PortalForm { ctx, session, .. } = post;
    let mut conn = state.pool.acquire().await?;
    rules::set_enabled(&mut conn, session.viewer(), id, enabled, None).await?;
    Ok(ctx.redirect(if enabled {
        "alarmy?ok=wlaczono"
    } else {
        "alarmy?ok=wylaczono"
    }))
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
    /// What customer service did in the resident's name and awaits their acceptance:
    /// `(id, what, who and when, note)`.
    proxy: Vec<(i64, String, String, Option<String>)>,
}

/// `GET /u/{slug}/zgody`.
pub async fn consents(
    State(state): State<AppState>,
    ctx: Ctx,
    PageQuery(q): PageQuery<NoticeQuery>,
) -> Page {
    let session = ctx.resident()?;
    let notice = match q.ok.as_deref() {
        Some("udzielono") => Some("Zgoda udzielona.".to_string()),
        Some("wycofano") => Some("Zgoda wycofana.".to_string()),
        Some("zaakceptowano") => Some("Zaakceptowano; zmiana obowiązuje od teraz.".to_string()),
        Some("odrzucono") => Some("Odrzucono; nic się nie zmieniło.".to_string()),
        _ => None,
    };
    consents_page(&state, &ctx, session, None, notice).await
}

async fn consents_page(
    state: &AppState,
    ctx: &Ctx,
    session: &PortalSession,
    error: Option<(&str, String)>,
    notice: Option<String>,
) -> Page {
    let proxy = crate::proxy_acts::list(
        &state.pool,
        session.utility_id,
        Some(session.account_id),
        None,
    )
    .await?
    .into_iter()
    .filter(|a| a.state == "awaiting")
    .map(|a| {
        let what = polish::capitalized(&a.describe());
        let by = format!("{}, {}", a.requested_by, polish::instant(a.requested_at));
        (a.id, what, by, a.note)
    })
    .collect();
    let mut conn = state.pool.acquire().await?;
    let history = consent::history(&mut conn, session.utility_id, session.account_id).await?;
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
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        ConsentsPage {
            layout: ctx.layout(state, "zgody").await,
            csrf: session.csrf.clone(),
            notice,
            forms,
            history,
            proxy,
        },
    )
        .into_response())
}

/// The `{kind}` of a consent's path (`/u/{slug}/zgody/{kind}`).
#[derive(Debug, Deserialize)]
pub struct KindPath {
    kind: String,
}

impl KindPath {
    /// The consent it names; another name is no page.
    fn consent(&self) -> Result<ConsentKind, PageError> {
        ConsentKind::parse(&self.kind).ok_or(PageError::NotFound)
    }
}

/// A consent's form: the version of the text the resident read, and the tick that grants it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConsentFields {
    form_version: String,
    accept: Checkbox,
}

impl FormFields for ConsentFields {
    const PAGE: &'static str = "/u/{slug}/zgody";
}

/// `POST /u/{slug}/zgody/{kind}`: grants a consent, to the version of its text on the page.
pub async fn grant_consent(
    State(state): State<AppState>,
    PagePath(path): PagePath<KindPath>,
    post: ResidentForm<ConsentFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        ..
    } = post;
    let kind = path.consent()?;
    let form = consent_forms::for_kind(kind);
    if fields.form_version != form.version {
        let message =
            "Treść zgody zmieniła się. Przeczytaj ją ponownie i zaznacz zgodę.".to_string();
        return consents_page(&state, &ctx, &session, Some((form.kind, message)), None).await;
    }
    if !fields.accept.0 {
        let message = "Zaznacz pole „Wyrażam zgodę”, aby jej udzielić.".to_string();
        return consents_page(&state, &ctx, &session, Some((form.kind, message)), None).await;
    }
    let mut conn = state.pool.acquire().await?;
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
    .await?;
    Ok(ctx.redirect("zgody?ok=udzielono"))
}

/// Accepting or declining what customer service did in the resident's name: only the token.
#[derive(Debug, Default, Deserialize)]
pub struct ProxyDecisionFields {}

impl FormFields for ProxyDecisionFields {
    const PAGE: &'static str = "/u/{slug}/zgody";
}

/// `POST /u/{slug}/zgody/wnioski/{id}/akceptuj`: it takes effect now, as the resident's.
pub async fn accept_proxy_act(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: ResidentForm<ProxyDecisionFields>,
) -> Page {
    decide_proxy_act(state, id, post, true).await
}

/// `POST /u/{slug}/zgody/wnioski/{id}/odrzuc`
pub async fn decline_proxy_act(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: ResidentForm<ProxyDecisionFields>,
) -> Page {
    decide_proxy_act(state, id, post, false).await
}

async fn decide_proxy_act(
    state: AppState,
    id: i64,
    post: ResidentForm<ProxyDecisionFields>,
    accept: bool,
) -> Page {
    let PortalForm { ctx, session, .. } = post;
    crate::proxy_acts::decide(
        &state.pool,
        session.utility_id,
        session.account_id,
        id,
        accept,
    )
    .await?;
    Ok(ctx.redirect(if accept {
        "zgody?ok=zaakceptowano"
    } else {
        "zgody?ok=odrzucono"
    }))
}

/// The withdraw button of a granted consent: only the CSRF token.
#[derive(Debug, Default, Deserialize)]
pub struct WithdrawConsentFields {}

impl FormFields for WithdrawConsentFields {
    const PAGE: &'static str = "/u/{slug}/zgody";
}

/// `POST /u/{slug}/zgody/{kind}/wycofaj`.
pub async fn withdraw_consent(
    State(state): State<AppState>,
    PagePath(path): PagePath<KindPath>,
    post: ResidentForm<WithdrawConsentFields>,
) -> Page {
    let PortalForm { ctx, session, .. } = post;
    let kind = path.consent()?;
    let mut conn = state.pool.acquire().await?;
    consent::withdraw(
        &mut conn,
        session.utility_id,
        session.account_id,
        kind,
        Actor::Resident {
            account_id: session.account_id,
        },
    )
    .await?;
    Ok(ctx.redirect("zgody?ok=wycofano"))
}

struct InboxLine {
    id: i64,
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

/// `GET /u/{slug}/powiadomienia`.
pub async fn inbox_page(State(state): State<AppState>, ctx: Ctx) -> Page {
    let session = ctx.resident()?;
    let items = inbox::list(
        &state.pool,
        session.utility_id,
        session.account_id,
        None,
        100,
    )
    .await?;
    Ok(InboxPage {
        layout: ctx.layout(&state, "powiadomienia").await,
        csrf: session.csrf.clone(),
        items: items
            .into_iter()
            .map(|n| InboxLine {
                id: n.id,
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

#[derive(Template, WebTemplate)]
#[template(path = "notice.html")]
struct NoticePage {
    layout: Layout,
    title: String,
    body: String,
    when: String,
    details: Vec<(String, String)>,
    link: Option<String>,
    urgent: bool,
    document_waiting: bool,
}

/// `GET /u/{slug}/powiadomienia/{id}`: one notice whole; opening it marks it read.
pub async fn notice_page(
    State(state): State<AppState>,
    ctx: Ctx,
    PagePath(Id { id }): PagePath<Id>,
) -> Page {
    let session = ctx.resident()?;
    let notice = inbox::get(&state.pool, session.utility_id, session.account_id, id)
        .await?
        .ok_or(PageError::NotFound)?;
    inbox::mark_read(&state.pool, session.utility_id, session.account_id, id).await?;
    Ok(NoticePage {
        layout: ctx.layout(&state, "powiadomienia").await,
        details: notice.detail_pairs(),
        title: notice.title,
        body: notice.body,
        when: polish::instant(notice.created_at),
        link: notice.link,
        urgent: notice.urgent,
        document_waiting: notice.document_waiting,
    }
    .into_response())
}

/// A notice's "mark read" button: only the CSRF token.
#[derive(Debug, Default, Deserialize)]
pub struct MarkReadFields {}

impl FormFields for MarkReadFields {
    const PAGE: &'static str = "/u/{slug}/powiadomienia";
}

/// `POST /u/{slug}/powiadomienia/{id}/przeczytane`: one notice read (another account's is not
/// found).
pub async fn mark_read(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: ResidentForm<MarkReadFields>,
) -> Page {
    let PortalForm { ctx, session, .. } = post;
    if !inbox::mark_read(&state.pool, session.utility_id, session.account_id, id).await? {
        return Err(PageError::NotFound);
    }
    Ok(ctx.redirect("powiadomienia"))
}

/// The inbox's "mark all read" button: only the CSRF token.
#[derive(Debug, Default, Deserialize)]
pub struct MarkAllReadFields {}

impl FormFields for MarkAllReadFields {
    const PAGE: &'static str = "/u/{slug}/powiadomienia";
}

/// `POST /u/{slug}/powiadomienia/przeczytane`.
pub async fn mark_all_read(
    State(state): State<AppState>,
    post: ResidentForm<MarkAllReadFields>,
) -> Page {
    let PortalForm { ctx, session, .. } = post;
    inbox::mark_all_read(&state.pool, session.utility_id, session.account_id).await?;
    Ok(ctx.redirect("powiadomienia"))
}

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    csrf: String,
    notice: Option<String>,
    prefs: Vec<(&'static str, &'static str, bool, bool)>,
    /// (value, label, chosen) of the reminder before a due date.
    reminder: Vec<(String, String, bool)>,
    devices: Vec<String>,
}

/// `GET /u/{slug}/ustawienia/powiadomienia`.
pub async fn settings(
    State(state): State<AppState>,
    ctx: Ctx,
    PageQuery(q): PageQuery<NoticeQuery>,
) -> Page {
    let session = ctx.resident()?;
    let mut conn = state.pool.acquire().await?;
    let prefs = registry::preferences(&mut conn, session.utility_id, session.account_id).await?;
    let devices = registry::devices(&mut conn, session.utility_id, session.account_id).await?;
    let days_before =
        reminders::days_before(&mut conn, session.utility_id, session.account_id).await?;
    let reminder = std::iter::once(None)
        .chain(reminders::DAYS_BEFORE_CHOICES.into_iter().map(Some))
        .map(|choice| {
            let (value, label) = match choice {
                None => ("nie".to_string(), "Nie przypominaj".to_string()),
                Some(1) => ("1".to_string(), "1 dzień przed terminem".to_string()),
                Some(d) => (d.to_string(), format!("{d} dni przed terminem")),
            };
            (value, label, choice == days_before)
        })
        .collect();
    Ok(SettingsPage {
        reminder,
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

/// The notification settings form: a tick box per category and channel, named
/// `push-<category>` and `email-<category>`; a box is ticked when it is sent at all.
#[derive(Debug, Default)]
pub struct SettingsFields {
    ticked: BTreeMap<Category, Channels>,
    /// `przypomnienie`: days before a due date, or `nie`.
    reminder: Option<String>,
}

impl SettingsFields {
    /// The channels ticked for `category`.
    fn channels(&self, category: Category) -> Channels {
        self.ticked.get(&category).copied().unwrap_or(Channels {
            push: false,
            email: false,
        })
    }

    /// Ticks the box `name`; a name that is not one of the form's boxes (`csrf`) is not.
    fn tick(&mut self, name: &str) {
        let Some((channel, category)) = name.split_once('-') else {
            return;
        };
        let Some(category) = Category::parse(category) else {
            return;
        };
        let channels = self.ticked.entry(category).or_insert(Channels {
            push: false,
            email: false,
        });
        match channel {
            "push" => channels.push = true,
            "email" => channels.email = true,
            _ => {}
        }
    }
}

impl<'de> Deserialize<'de> for SettingsFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Boxes;

        impl<'de> Visitor<'de> for Boxes {
            type Value = SettingsFields;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("the tick boxes of the notification settings")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<SettingsFields, M::Error> {
                let mut fields = SettingsFields::default();
                while let Some(name) = map.next_key::<String>()? {
                    if name == "przypomnienie" {
                        fields.reminder = Some(map.next_value::<String>()?);
                        continue;
                    }
                    map.next_value::<IgnoredAny>()?;
                    fields.tick(&name);
                }
                Ok(fields)
            }
        }

        deserializer.deserialize_map(Boxes)
    }
}

impl FormFields for SettingsFields {
    const PAGE: &'static str = "/u/{slug}/ustawienia/powiadomienia";
}

/// `POST /u/{slug}/ustawienia/powiadomienia`: the channels of every category, as ticked.
pub async fn save_settings(
    State(state): State<AppState>,
    post: ResidentForm<SettingsFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        ..
    } = post;
    let mut tx = state.pool.begin().await?;
    for category in Category::ALL {
        registry::set_preference(
            &mut tx,
            session.utility_id,
            session.account_id,
            category,
            fields.channels(category),
        )
        .await?;
    }
    // A value not offered (a hand-made request) leaves the choice as it was.
    let days = match fields.reminder.as_deref().map(str::trim) {
        Some("nie") => Some(None),
        Some(raw) => raw
            .parse::<i16>()
            .ok()
            .filter(|d| reminders::DAYS_BEFORE_CHOICES.contains(d))
            .map(Some),
        None => None,
    };
    if let Some(days) = days {
        reminders::set_days_before(&mut tx, session.utility_id, session.account_id, days)
            .await
            .map_err(|e| {
                PageError::from(match e {
                    reminders::SetError::Db(e) => ApiError::from(e),
                    reminders::SetError::OutOfRange => {
                        ApiError::invalid("przypomnienie", "Wybierz jedną z podanych możliwości.")
                    }
                })
            })?;
    }
    tx.commit().await?;
    Ok(ctx.redirect("ustawienia/powiadomienia?ok=1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_form_ticks_what_it_sends_and_nothing_else() {
        let fields: SettingsFields = serde_urlencoded::from_str(
            "csrf=t&push-meter_alarms=on&email-meter_alarms=on&email-outages=&push-nic=on&sms-bookings=on",
        )
        .unwrap();
        let both = Channels {
            push: true,
            email: true,
        };
        assert_eq!(fields.channels(Category::MeterAlarms), both);
        assert_eq!(
            fields.channels(Category::Outages),
            Channels {
                push: false,
                email: true
            }
        );
        for untouched in [Category::InvoicesPayments, Category::Bookings] {
            assert_eq!(
                fields.channels(untouched),
                Channels {
                    push: false,
                    email: false
                }
            );
        }
    }
}
