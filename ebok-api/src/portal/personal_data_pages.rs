//! The resident's own data and closing the account (GDPR art. 15, 17 and 20): a page showing
//! everything the eBOK holds about the account ([`crate::personal_data`]), printable to PDF,
//! the same as a JSON download, and the page that closes the account
//! ([`crate::accounts::close_account`]).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use axum_extra::extract::CookieJar;
use ebok_alarm_rules::{RuleKind, describe};
use ebok_common::consent::ConsentKind;
use ebok_common::polish;
use mobile_push::notice::Category;
use serde::Deserialize;

use super::form::{FormFields, PortalForm, ResidentForm};
use super::form_state::{Checkbox, FormState};
use super::page_error::Page;
use super::shell::{Ctx, Layout};
use crate::accounts;
use crate::auth::web;
use crate::personal_data::{self, PersonalData, Readings};
use crate::state::AppState;

/// One part of the data, shown as a table (a card per row on a phone).
struct Section {
    id: &'static str,
    title: &'static str,
    columns: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    /// Said when there are no rows.
    none: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "personal_data.html")]
struct DataPage {
    layout: Layout,
    exported_at: String,
    account: Vec<(&'static str, String)>,
    sections: Vec<Section>,
}

/// `GET /u/{slug}/konto/dane`: everything about the account, readable.
pub async fn data_page(State(state): State<AppState>, ctx: Ctx) -> Page {
    let session = ctx.resident()?;
    let mut conn = state.pool.acquire().await?;
    let data = personal_data::gather(&mut conn, session.viewer(), Readings::FirstAndLast).await?;
    Ok(DataPage {
        layout: ctx.layout(&state, "konto").await,
        exported_at: polish::instant(data.exported_at),
        account: vec![
            ("Administrator danych", data.utility.clone()),
            ("Adres e-mail", data.account.email.clone()),
            ("Imię i nazwisko", data.account.display_name.clone()),
            ("Konto założone", polish::instant(data.account.created_at)),
            ("Aktywowane", optional_instant(data.account.activated_at)),
            (
                "Ostatnie logowanie",
                optional_instant(data.account.last_login_at),
            ),
        ],
        sections: sections(&data),
    }
    .into_response())
}

/// `GET /u/{slug}/konto/dane.json`: the same, as a file to keep or take elsewhere.
pub async fn data_json(State(state): State<AppState>, ctx: Ctx) -> Page {
    let session = ctx.resident()?;
    let mut conn = state.pool.acquire().await?;
    let data = personal_data::gather(&mut conn, session.viewer(), Readings::All).await?;
    let body = serde_json::to_vec_pretty(&data).map_err(anyhow::Error::from)?;
    Ok(crate::download::attachment(
        &format!(
            "ebok-moje-dane-{}.json",
            data.exported_at.format("%Y-%m-%d")
        ),
        "application/json",
        body,
    ))
}

fn optional_instant(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map_or_else(|| "—".to_string(), polish::instant)
}

fn optional(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "—".to_string())
}

fn yes_no(value: bool) -> String {
    if value { "tak" } else { "nie" }.to_string()
}

fn sections(data: &PersonalData) -> Vec<Section> {
    vec![
        Section {
            id: "klienci",
            title: "Klienci, z którymi powiązane jest konto",
            columns: vec![
                "Klient",
                "Numer klienta",
                "PESEL",
                "NIP",
                "REGON",
                "Adres do korespondencji",
                "E-mail",
                "Telefon",
                "Powiązano",
            ],
            rows: data
                .customers
                .iter()
                .map(|c| {
                    vec![
                        c.name.clone(),
                        c.customer_number.clone(),
                        optional(&c.pesel),
                        optional(&c.nip),
                        optional(&c.regon),
                        optional(&c.address),
                        optional(&c.email),
                        optional(&c.phone),
                        polish::instant(c.linked_at),
                    ]
                })
                .collect(),
            none: "Konto nie jest powiązane z żadnym klientem.",
        },
        Section {
            id: "wodomierze",
            title: "Wodomierze i ich odczyty",
            columns: vec![
                "Wodomierz",
                "Rodzaj",
                "Adres",
                "Zamontowany",
                "Legalizacja do",
                "Odczytów",
                "Pierwszy odczyt",
                "Ostatni odczyt",
            ],
            rows: data
                .meters
                .iter()
                .map(|m| {
                    let first = m.readings.first();
                    let last = m.readings.last();
                    let reading = |r: Option<&personal_data::ReadingData>| {
                        r.map_or_else(
                            || "—".to_string(),
                            |r| {
                                format!(
                                    "{} ({})",
                                    polish::m3(r.litres),
                                    polish::instant(r.measured_at)
                                )
                            },
                        )
                    };
                    vec![
                        m.serial.clone(),
                        super::meter_pages::purpose_pl(&m.purpose).to_string(),
                        m.address.clone(),
                        optional_instant(m.installed_at),
                        m.legalised_until.map_or_else(|| "—".into(), polish::day),
                        polish::integer(m.reading_count),
                        reading(first),
                        reading(last),
                    ]
                })
                .collect(),
            none: "Konto nie widzi żadnego wodomierza.",
        },
        Section {
            id: "samoodczyty",
            title: "Odczyty podane przez Ciebie",
            columns: vec![
                "Wodomierz",
                "Stan",
                "Czas odczytu",
                "Wysłano",
                "Ze zdjęciem",
            ],
            rows: data
                .self_readings
                .iter()
                .map(|s| {
                    vec![
                        s.meter_serial.clone(),
                        polish::m3(s.litres),
                        polish::instant(s.measured_at),
                        polish::instant(s.submitted_at),
                        yes_no(s.with_photo),
                    ]
                })
                .collect(),
            none: "Nie podawałeś odczytów.",
        },
        Section {
            id: "reguly",
            title: "Reguły alarmowe",
            columns: vec!["Reguła", "Wodomierz", "Utworzona", "Stan", "Zdarzeń"],
            rows: data
                .alarm_rules
                .iter()
                .map(|r| {
                    let kind = match r.kind.as_str() {
                        "daily_above" => RuleKind::DailyAbove {
                            litres: r.litres.unwrap_or_default(),
                        },
                        "continuous_flow" => RuleKind::ContinuousFlow {
                            hours: r.hours.unwrap_or_default(),
                        },
                        "no_consumption" => RuleKind::NoConsumption {
                            days: r.days.unwrap_or_default(),
                        },
                        _ => RuleKind::DeviceAlarm,
                    };
                    let state = match (r.deleted_at, r.enabled) {
                        (Some(at), _) => format!("usunięta {}", polish::instant(at)),
                        (None, true) => "włączona".to_string(),
                        (None, false) => "wyłączona".to_string(),
                    };
                    vec![
                        match &r.label {
                            Some(label) => format!("{} ({label})", describe(&kind)),
                            None => describe(&kind),
                        },
                        r.meter_serial.clone(),
                        polish::instant(r.created_at),
                        state,
                        polish::integer(r.triggers.len() as i64),
                    ]
                })
                .collect(),
            none: "Nie masz reguł alarmowych.",
        },
        Section {
            id: "zgody",
            title: "Zgody",
            columns: vec!["Zgoda", "Wersja treści", "Udzielona", "Wycofana"],
            rows: data
                .consents
                .iter()
                .map(|c| {
                    vec![
                        ConsentKind::parse(&c.kind).map_or_else(
                            || c.kind.clone(),
                            |k| crate::consent_forms::for_kind(k).title.to_string(),
                        ),
                        c.form_version.clone(),
                        polish::instant(c.granted_at),
                        optional_instant(c.withdrawn_at),
                    ]
                })
                .collect(),
            none: "Nie udzielałeś zgód.",
        },
        Section {
            id: "w-imieniu",
            title: "Zapisane w Twoim imieniu przez biuro obsługi",
            columns: vec!["Zapisano", "Czego dotyczy", "Kto", "Stan"],
            rows: data
                .proxy_acts
                .iter()
                .map(|a| {
                    let title = ConsentKind::parse(&a.consent)
                        .map_or("", |k| crate::consent_forms::for_kind(k).title);
                    let what = if a.kind == "consent.grant" {
                        format!("udzielenie zgody: {title}")
                    } else {
                        format!("wycofanie zgody: {title}")
                    };
                    let state = match (a.state.as_str(), a.decided_at) {
                        ("accepted", Some(at)) => format!("zaakceptowane {}", polish::instant(at)),
                        ("declined", Some(at)) => format!("odrzucone {}", polish::instant(at)),
                        _ => "czeka na akceptację".to_string(),
                    };
                    vec![
                        polish::instant(a.requested_at),
                        what,
                        a.requested_by.clone(),
                        state,
                    ]
                })
                .collect(),
            none: "Biuro obsługi niczego nie zapisało w Twoim imieniu.",
        },
        Section {
            id: "wizyty",
            title: "Wizyty",
            columns: vec!["Kalendarz", "Termin", "Zarezerwowano", "Odwołano"],
            rows: data
                .bookings
                .iter()
                .map(|b| {
                    let cancelled = match (&b.cancelled_at, &b.cancel_reason) {
                        (Some(at), Some(reason)) => format!("{} ({reason})", polish::instant(*at)),
                        (Some(at), None) => polish::instant(*at),
                        (None, _) => "—".to_string(),
                    };
                    vec![
                        b.calendar.clone(),
                        polish::instant(b.starts_at),
                        polish::instant(b.booked_at),
                        cancelled,
                    ]
                })
                .collect(),
            none: "Nie rezerwowałeś wizyt.",
        },
        Section {
            id: "awarie",
            title: "Zgłoszenia awarii",
            columns: vec!["Zgłoszenie", "Rodzaj", "Miejsce", "Opis", "Stan", "Zdjęć"],
            rows: data
                .failure_reports
                .iter()
                .map(|f| {
                    let category = ebok_outages::reports::Category::parse(&f.category)
                        .map_or(f.category.as_str(), |c| c.polish());
                    let state = ebok_outages::reports::State::parse(&f.state)
                        .map_or(f.state.as_str(), |s| s.polish());
                    let place = ebok_outages::reports::Place {
                        point: f.lat.zip(f.lon),
                        address: f.address.clone(),
                    };
                    vec![
                        format!(
                            "nr {}, {} {}",
                            f.id,
                            if f.filed { "zgłoszone" } else { "dołączono" },
                            polish::instant(f.reported_at)
                        ),
                        category.to_string(),
                        place.words(),
                        optional(&f.description),
                        state.to_string(),
                        polish::integer(f.photos),
                    ]
                })
                .collect(),
            none: "Nie zgłaszałeś awarii.",
        },
        Section {
            id: "powiadomienia",
            title: "Powiadomienia",
            columns: vec!["Wysłane", "Tytuł", "Treść", "Przeczytane"],
            rows: data
                .notifications
                .iter()
                .map(|n| {
                    vec![
                        polish::instant(n.created_at),
                        n.title.clone(),
                        n.body.clone(),
                        optional_instant(n.read_at),
                    ]
                })
                .collect(),
            none: "Nie masz powiadomień.",
        },
        Section {
            id: "ustawienia",
            title: "Ustawienia powiadomień",
            columns: vec!["Rodzaj", "Aplikacja (push)", "E-mail"],
            rows: data
                .notification_preferences
                .iter()
                .map(|p| {
                    vec![
                        Category::parse(&p.category)
                            .map_or_else(|| p.category.clone(), |c| c.label_pl().to_string()),
                        yes_no(p.push),
                        yes_no(p.email),
                    ]
                })
                .collect(),
            none: "",
        },
        Section {
            id: "urzadzenia",
            title: "Telefony z aplikacją",
            columns: vec![
                "Platforma",
                "Wersja aplikacji",
                "Zarejestrowany",
                "Ostatnio",
                "Usunięty",
            ],
            rows: data
                .devices
                .iter()
                .map(|d| {
                    vec![
                        d.platform.clone(),
                        optional(&d.app_version),
                        polish::instant(d.registered_at),
                        polish::instant(d.last_seen_at),
                        optional_instant(d.removed_at),
                    ]
                })
                .collect(),
            none: "Aplikacja nie była zarejestrowana na żadnym telefonie.",
        },
        Section {
            id: "sesje",
            title: "Logowania (sesje)",
            columns: vec![
                "Rodzaj",
                "Urządzenie",
                "Rozpoczęta",
                "Ostatnio",
                "Zakończona",
            ],
            rows: data
                .sessions
                .iter()
                .map(|s| {
                    vec![
                        if s.kind == "app" {
                            "aplikacja"
                        } else {
                            "przeglądarka"
                        }
                        .to_string(),
                        match (s.kind.as_str(), &s.client) {
                            ("app", client) => optional(client),
                            (_, client) => {
                                super::browser_name::browser_name(client.as_deref().unwrap_or(""))
                            }
                        },
                        polish::instant(s.created_at),
                        polish::instant(s.last_used_at),
                        optional_instant(s.ended_at),
                    ]
                })
                .collect(),
            none: "",
        },
    ]
}

#[derive(Template, WebTemplate)]
#[template(path = "close_account.html")]
struct ClosePage {
    layout: Layout,
    csrf: String,
    f: FormState,
}

#[derive(Template, WebTemplate)]
#[template(path = "account_closed.html")]
struct ClosedPage {
    layout: Layout,
}

/// `GET /u/{slug}/konto/zamknij`: what closing means, and the form.
pub async fn close_form(State(state): State<AppState>, ctx: Ctx) -> Page {
    let session = ctx.resident()?;
    Ok(ClosePage {
        layout: ctx.layout(&state, "konto").await,
        csrf: session.csrf.clone(),
        f: FormState::default(),
    }
    .into_response())
}

/// The closing form: the password and a tick that the resident understands.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CloseFields {
    password: String,
    understood: Checkbox,
}

impl FormFields for CloseFields {
    const PAGE: &'static str = "/u/{slug}/konto/zamknij";
}

/// `POST /u/{slug}/konto/zamknij`: closes the account and signs out.
pub async fn close(
    State(state): State<AppState>,
    jar: CookieJar,
    post: ResidentForm<CloseFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !fields.understood.0 {
        form.add(
            "understood",
            "Zaznacz, że rozumiesz, co oznacza zamknięcie konta.",
        );
    }
    if !form.has_errors() {
        match accounts::close_account(
            &state.pool,
            &state.hasher,
            &state.mailer,
            &ctx.utility,
            session.account_id,
            &fields.password,
        )
        .await
        {
            Ok(()) => {
                state.revoked.catch_up(&state.pool).await?;
                let jar = jar.add(web::removal(&ctx.utility.slug));
                // Signed out from here on: the page's header offers signing in.
                let mut layout = ctx.layout(&state, "").await;
                layout.user = None;
                layout.unread = 0;
                let page = ClosedPage { layout };
                return Ok((jar, page).into_response());
            }
            Err(e) => form.add_failure(e)?,
        }
    }
    Ok((
        form.status(),
        ClosePage {
            layout: ctx.layout(&state, "konto").await,
            csrf: session.csrf.clone(),
            f: form,
        },
    )
        .into_response())
}
