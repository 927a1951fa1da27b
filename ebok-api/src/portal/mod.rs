//! The server-rendered web portal (Polish, works without JavaScript, WCAG 2.1 AA). Pages are
//! askama templates in `ebok-api/templates/`; the stylesheet and the one script (the failure
//! report's "use my location" button, which only fills two fields a person can also type) are
//! compiled into the binary. Every resident page lives under `/u/<slug>/`, where the session
//! cookie is scoped.
//!
//! The shape every page follows: a handler takes [`Ctx`](shell::Ctx) (the utility of the path
//! and the session; `ctx.resident()?` on a page only a resident sees), typed path and query
//! parameters ([`PagePath`], [`PageQuery`](params::PageQuery)) and, for a state-changing
//! request, one [`PortalForm`](form::PortalForm) (same origin, session, CSRF token, the form's
//! typed fields). It returns [`Page`]: a response, or a [`PageError`], which a browser gets as
//! the portal's Polish HTML error page, never problem+json. A form with errors is shown again
//! with the values as typed and each error at its field ([`FormState`](form_state::FormState)).

mod account_pages;
mod application_pages;
mod booking_pages;
mod browser_name;
mod case_pages;
pub(crate) mod failure_pages;
pub(crate) mod form;
pub(crate) mod form_state;
mod history_pages;
mod invoice_pages;
mod mailbox_page;
mod meter_pages;
mod outage_pages;
pub(crate) mod page_error;
pub(crate) mod params;
mod payment_pages;
mod personal_data_pages;
mod resident_pages;
pub(crate) mod shell;
mod sign_in_pages;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use page_error::PageError;

use crate::state::AppState;
use crate::utilities::{self, PublicUtility};
use page_error::Page;
use params::PagePath;

/// A self-reading form carries a photo of up to 5 MB.
const PHOTO_FORM_LIMIT: usize = 6 * 1024 * 1024;

/// The portal's pages.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pick_utility))
        .route("/u/{slug}/", get(utility_home))
        .route("/u/{slug}/regulamin", get(terms))
        .route("/u/{slug}/ochrona-danych", get(privacy))
        .route("/u/{slug}/sprawy", get(application_pages::cases))
        .route("/u/{slug}/historia", get(history_pages::history))
        .route("/u/{slug}/sprawy/nowa", post(application_pages::start))
        .route(
            "/u/{slug}/sprawy/{id}",
            get(application_pages::case)
                .post(application_pages::save_draft)
                .layer(DefaultBodyLimit::max(crate::case_form::FILES_FORM_LIMIT)),
        )
        .route(
            "/u/{slug}/sprawy/{id}/pliki/{file}",
            get(application_pages::file),
        )
        .route(
            "/u/{slug}/sprawy/{id}/dokumenty/{file}",
            get(application_pages::letter),
        )
        .route(
            "/u/{slug}/sprawy/{id}/czynnosc",
            post(application_pages::act)
                .layer(DefaultBodyLimit::max(crate::case_form::FILES_FORM_LIMIT)),
        )
        .route(
            "/u/{slug}/status-sprawy",
            get(case_pages::status_form).post(case_pages::status),
        )
        .route(
            "/u/{slug}/weryfikacja-dokumentu",
            get(case_pages::check_form)
                .post(case_pages::check)
                .layer(DefaultBodyLimit::max(case_pages::CHECK_FORM_LIMIT)),
        )
        .route("/u/{slug}/komunikaty", get(outage_pages::outages))
        .route("/u/{slug}/komunikaty.atom", get(outage_pages::atom))
        .route("/u/{slug}/komunikaty.ics", get(outage_pages::ics))
        .route("/u/{slug}/komunikaty/{id}", get(outage_pages::outage))
        .route("/u/{slug}/wizyty", get(booking_pages::bookings_page))
        .route(
            "/u/{slug}/wizyty/kalendarze/{id}",
            get(booking_pages::calendar).post(booking_pages::book),
        )
        .route("/u/{slug}/wizyty/{id}", get(booking_pages::visit))
        .route("/u/{slug}/wizyty/{id}/odwolaj", post(booking_pages::cancel))
        .route("/u/{slug}/wizyty/{id}/wizyta.ics", get(booking_pages::ics))
        .route("/static/portal.css", get(stylesheet))
        .route("/static/location.js", get(location_script))
        .route("/u/{slug}/awarie", get(failure_pages::failures))
        .route(
            "/u/{slug}/awarie/zglos",
            get(failure_pages::report_form)
                .post(failure_pages::report)
                .layer(DefaultBodyLimit::max(failure_pages::REPORT_FORM_LIMIT)),
        )
        .route("/u/{slug}/awarie/{id}", get(failure_pages::failure))
        .route("/u/{slug}/awarie/{id}/dolacz", post(failure_pages::join))
        .route(
            "/u/{slug}/awarie/{id}/zdjecia/{photo}",
            get(failure_pages::photo),
        )
        .route("/favicon.ico", get(favicon_ico))
        .route("/static/favicon.svg", get(favicon_svg))
        .route("/demo/poczta", get(mailbox_page::mailbox))
        .route(
            "/u/{slug}/rejestracja",
            get(sign_in_pages::register_form).post(sign_in_pages::register),
        )
        .route(
            "/u/{slug}/aktywuj",
            get(sign_in_pages::activate_form).post(sign_in_pages::activate),
        )
        .route(
            "/u/{slug}/logowanie",
            get(sign_in_pages::login_form).post(sign_in_pages::login),
        )
        .route("/u/{slug}/wyloguj", post(sign_in_pages::logout))
        .route(
            "/u/{slug}/haslo",
            get(sign_in_pages::reset_form).post(sign_in_pages::reset_request),
        )
        .route(
            "/u/{slug}/haslo/nowe",
            get(sign_in_pages::new_password_form).post(sign_in_pages::new_password),
        )
        .route("/u/{slug}/konto", get(account_pages::account))
        .route(
            "/u/{slug}/konto/email",
            get(account_pages::confirm_email).post(account_pages::change_email),
        )
        .route(
            "/u/{slug}/konto/haslo",
            post(account_pages::change_password),
        )
        .route(
            "/u/{slug}/konto/sesje/{id}/zakoncz",
            post(account_pages::end_session),
        )
        .route("/u/{slug}/konto/dane", get(personal_data_pages::data_page))
        .route(
            "/u/{slug}/konto/dane.json",
            get(personal_data_pages::data_json),
        )
        .route(
            "/u/{slug}/konto/zamknij",
            get(personal_data_pages::close_form).post(personal_data_pages::close),
        )
        .route(
            "/u/{slug}/powiazanie",
            get(account_pages::link_form).post(account_pages::link),
        )
        .route("/u/{slug}/pulpit", get(meter_pages::dashboard))
        .route("/u/{slug}/faktury", get(invoice_pages::invoices))
        .route(
            "/u/{slug}/faktury/rozliczenie",
            get(invoice_pages::settlement_form).post(invoice_pages::settlement_issue),
        )
        .route(
            "/u/{slug}/faktury/rozliczenie/podglad",
            post(invoice_pages::settlement_preview),
        )
        .route("/u/{slug}/faktury/{id}", get(invoice_pages::invoice))
        .route(
            "/u/{slug}/platnosci",
            get(payment_pages::payments).post(payment_pages::pay),
        )
        .route("/u/{slug}/platnosci/{id}", get(payment_pages::payment))
        .route("/u/{slug}/faktury/{id}/pdf", get(invoice_pages::pdf))
        .route("/u/{slug}/faktury/{id}/xml", get(invoice_pages::xml))
        .route("/u/{slug}/liczniki/{id}", get(meter_pages::meter))
        .route("/u/{slug}/liczniki/{id}/odczyty.csv", get(meter_pages::csv))
        .route(
            "/u/{slug}/liczniki/{id}/odczyt",
            post(meter_pages::self_reading).layer(DefaultBodyLimit::max(PHOTO_FORM_LIMIT)),
        )
        .route(
            "/u/{slug}/alarmy",
            get(resident_pages::alarms).post(resident_pages::create_rule),
        )
        .route(
            "/u/{slug}/alarmy/{id}/wlacz",
            post(resident_pages::enable_rule),
        )
        .route(
            "/u/{slug}/alarmy/{id}/wylacz",
            post(resident_pages::disable_rule),
        )
        .route(
            "/u/{slug}/alarmy/{id}/usun",
            post(resident_pages::delete_rule),
        )
        .route("/u/{slug}/zgody", get(resident_pages::consents))
        .route(
            "/u/{slug}/zgody/{kind}",
            post(resident_pages::grant_consent),
        )
        .route(
            "/u/{slug}/zgody/wnioski/{id}/akceptuj",
            post(resident_pages::accept_proxy_act),
        )
        .route(
            "/u/{slug}/zgody/wnioski/{id}/odrzuc",
            post(resident_pages::decline_proxy_act),
        )
        .route(
            "/u/{slug}/zgody/{kind}/wycofaj",
            post(resident_pages::withdraw_consent),
        )
        .route("/u/{slug}/powiadomienia", get(resident_pages::inbox_page))
        .route(
            "/u/{slug}/powiadomienia/{id}",
            get(resident_pages::notice_page),
        )
        .route(
            "/u/{slug}/powiadomienia/{id}/przeczytane",
            post(resident_pages::mark_read),
        )
        .route(
            "/u/{slug}/powiadomienia/przeczytane",
            post(resident_pages::mark_all_read),
        )
        .route(
            "/u/{slug}/ustawienia/powiadomienia",
            get(resident_pages::settings).post(resident_pages::save_settings),
        )
}

#[derive(Template, WebTemplate)]
#[template(path = "pick_utility.html")]
pub struct PickUtility {
    utilities: Vec<PublicUtility>,
}

#[derive(Template, WebTemplate)]
#[template(path = "utility.html")]
pub struct UtilityHome {
    utility: PublicUtility,
    /// The phone numbers as a `tel:` URI wants them (no spaces).
    tel: String,
    emergency_tel: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "utility_text.html")]
pub struct UtilityText {
    utility: PublicUtility,
    title: &'static str,
    /// Paragraphs: the utility's own text split at blank lines, or the default's.
    paragraphs: Vec<String>,
}

/// `GET /`: a resident first picks their municipality.
pub async fn pick_utility(State(state): State<AppState>) -> Page {
    Ok(PickUtility {
        utilities: utilities::list(&state.pool).await?,
    }
    .into_response())
}

/// `GET /u/{slug}/`
pub async fn utility_home(State(state): State<AppState>, PagePath(slug): PagePath<String>) -> Page {
    let utility = utilities::by_slug(&state.pool, &slug)
        .await?
        .ok_or(PageError::NotFound)?;
    let tel = tel_uri(utility.phone.as_deref().unwrap_or_default());
    let emergency_tel = tel_uri(&utility.emergency_phone);
    Ok(UtilityHome {
        utility,
        tel,
        emergency_tel,
    }
    .into_response())
}

fn tel_uri(number: &str) -> String {
    number.chars().filter(|c| !c.is_whitespace()).collect()
}

/// `GET /u/{slug}/regulamin`: the utility's eBOK terms, or the default ones.
pub async fn terms(State(state): State<AppState>, PagePath(slug): PagePath<String>) -> Page {
    utility_text(&state, &slug, "Regulamin eBOK", |t| t.terms).await
}

/// `GET /u/{slug}/ochrona-danych`: the utility's GDPR information clause, or the default one.
pub async fn privacy(State(state): State<AppState>, PagePath(slug): PagePath<String>) -> Page {
    utility_text(&state, &slug, "Ochrona danych osobowych", |t| t.privacy).await
}

async fn utility_text(
    state: &AppState,
    slug: &str,
    title: &'static str,
    pick: fn(utilities::UtilityTexts) -> Option<String>,
) -> Page {
    let utility = utilities::by_slug(&state.pool, slug)
        .await?
        .ok_or(PageError::NotFound)?;
    let texts = utilities::texts(&state.pool, slug)
        .await?
        .ok_or(PageError::NotFound)?;
    let text = pick(texts).unwrap_or_else(|| default_text(title, &utility));
    let paragraphs = text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    Ok(UtilityText {
        utility,
        title,
        paragraphs,
    }
    .into_response())
}

/// The texts a utility that has not set its own shows (its admin replaces them).
fn default_text(title: &str, utility: &PublicUtility) -> String {
    let name = &utility.name;
    if title == "Regulamin eBOK" {
        format!(
            "Elektroniczne Biuro Obsługi Klienta (eBOK) prowadzi {name}. Konto w eBOK jest \
             bezpłatne i dobrowolne; sprawy można nadal załatwiać w biurze obsługi klienta.\n\n\
             Konto zakłada się podając adres e-mail, imię i nazwisko oraz hasło; aktywuje je \
             link wysłany na ten adres. Dostęp do danych klienta daje powiązanie konta z numerem \
             klienta i kodem z faktury.\n\n\
             Użytkownik chroni swoje hasło i nie udostępnia konta innym osobom. Sesje można \
             zakończyć w ustawieniach konta.\n\n\
             Odczyty, zużycie i alarmy w eBOK mają charakter informacyjny; rozliczenia \
             wynikają z faktur i umowy o zaopatrzenie w wodę lub odprowadzanie ścieków.\n\n\
             Reklamacje dotyczące eBOK można zgłaszać w biurze obsługi klienta lub na adres \
             e-mail przedsiębiorstwa; odpowiedź udzielana jest w ciągu 14 dni."
        )
    } else {
        format!(
            "Administratorem Twoich danych osobowych jest {name}.\n\n\
             Dane przetwarzamy, aby prowadzić Twoje konto w eBOK i wykonywać umowę o \
             zaopatrzenie w wodę lub odprowadzanie ścieków (art. 6 ust. 1 lit. b RODO), \
             wypełniać obowiązki prawne, np. podatkowe (art. 6 ust. 1 lit. c RODO), oraz \
             wysyłać powiadomienia, na które wyrażasz zgodę (art. 6 ust. 1 lit. a RODO).\n\n\
             Dane przechowujemy przez czas prowadzenia konta i umowy, a potem przez okres \
             wymagany przepisami (np. faktury przez 5 lat od końca roku podatkowego).\n\n\
             Masz prawo dostępu do swoich danych, ich sprostowania, usunięcia lub ograniczenia \
             przetwarzania, przeniesienia danych, sprzeciwu oraz cofnięcia zgody w dowolnym \
             momencie, a także prawo wniesienia skargi do Prezesa Urzędu Ochrony Danych \
             Osobowych. Zalogowany w eBOK pobierzesz swoje dane i zamkniesz konto w \
             ustawieniach konta (Moje konto → Twoje dane).\n\n\
             Podanie danych jest dobrowolne, ale bez nich nie można założyć konta w eBOK."
        )
    }
}

/// The drop of the site's icon, for browsers that ask `/favicon.ico` on their own.
pub async fn favicon_ico() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/x-icon"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_bytes!("../../static/favicon.ico").as_slice(),
    )
}

/// The same drop, drawn, for the pages' `<link rel="icon">`.
pub async fn favicon_svg() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../../static/favicon.svg"),
    )
}

/// What answers an address no route has: the Polish 404 page, or problem+json under `/api/`
/// (a mistyped portal address is read by a person, a mistyped API path by a program).
pub async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path() == "/api" || uri.path().starts_with("/api/") {
        crate::error::ApiError::NotFound.into_response()
    } else {
        PageError::NotFound.into_response()
    }
}

/// The failure report form's "use my location" button (the portal's only script).
pub async fn location_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/location.js"),
    )
}

pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/portal.css"),
    )
}
