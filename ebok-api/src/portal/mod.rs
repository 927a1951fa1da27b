//! The server-rendered web portal (Polish, works without JavaScript, WCAG 2.1 AA). Pages are
//! askama templates in `ebok-api/templates/`; the stylesheet is compiled into the binary. Every
//! resident page lives under `/u/<slug>/`, where the session cookie is scoped.

// Page handlers answer `Result<Response, Response>` (a page, or a redirect or error page), the
// usual axum shape; a `Response` in the error arm is what it is, not an error to shrink.
#![allow(clippy::result_large_err)]

mod account_pages;
mod mailbox_page;
mod meter_pages;
mod resident_pages;
mod shell;
mod sign_in_pages;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::error::ApiError;
use crate::state::AppState;
use crate::utilities::{self, PublicUtility};

/// A self-reading form carries a photo of up to 5 MB.
const PHOTO_FORM_LIMIT: usize = 6 * 1024 * 1024;

/// The portal's pages.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pick_utility))
        .route("/u/{slug}/", get(utility_home))
        .route("/static/portal.css", get(stylesheet))
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
        .route(
            "/u/{slug}/powiazanie",
            get(account_pages::link_form).post(account_pages::link),
        )
        .route("/u/{slug}/pulpit", get(meter_pages::dashboard))
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
            "/u/{slug}/alarmy/{id}/usun",
            post(resident_pages::delete_rule),
        )
        .route("/u/{slug}/zgody", get(resident_pages::consents))
        .route(
            "/u/{slug}/zgody/{kind}",
            post(resident_pages::grant_consent),
        )
        .route(
            "/u/{slug}/zgody/{kind}/wycofaj",
            post(resident_pages::withdraw_consent),
        )
        .route("/u/{slug}/powiadomienia", get(resident_pages::inbox_page))
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
    /// The phone number as a `tel:` URI wants it (no spaces).
    tel: String,
}

/// `GET /`: a resident first picks their municipality.
pub async fn pick_utility(State(state): State<AppState>) -> Result<PickUtility, ApiError> {
    Ok(PickUtility {
        utilities: utilities::list(&state.pool).await?,
    })
}

/// `GET /u/{slug}/`
pub async fn utility_home(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<UtilityHome, ApiError> {
    let utility = utilities::by_slug(&state.pool, &slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    let tel = utility
        .phone
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    Ok(UtilityHome { utility, tel })
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
