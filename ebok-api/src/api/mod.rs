//! The JSON API under `/api/v1`, for the mobile app and other clients, described by the
//! OpenAPI 3.1 document at `/api/openapi.json` (browsable at `/api/docs`). Every handler
//! documents itself with `#[utoipa::path]` and is registered through `utoipa_axum`'s router, so
//! a route cannot exist without its description. Errors are problem+json (RFC 9457) naming the
//! field; which an operation can answer is declared once for all ([`contract`]).

pub mod auth;
pub mod bookings;
pub mod cases;
pub mod consents;
mod contract;
pub mod failure_reports;
pub mod inbox;
pub mod invoices;
pub mod me;
pub mod meters;
pub mod names;
pub mod payments;
pub mod rules;
pub mod staff;
pub mod staff_failure_reports;

use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "eBOK API",
        description = "Elektroniczne Biuro Obsługi Klienta przedsiębiorstwa wodociągowego: \
                       konto, liczniki i odczyty, faktury i saldo, alarmy, zgody, powiadomienia. \
                       The customer portal API of a water and sewage utility. Errors are \
                       `application/problem+json` with the offending `field` named."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts", description = "Rejestracja, logowanie, hasło · registration, login, password"),
        (name = "account", description = "Moje konto · the logged-in account"),
        (name = "meters", description = "Liczniki i odczyty · meters and readings"),
        (name = "alarms", description = "Alarmy mieszkańca · resident alarm rules"),
        (name = "consents", description = "Zgody · consents"),
        (name = "invoices", description = "Faktury i saldo · invoices and balance"),
        (name = "notifications", description = "Powiadomienia i urządzenia · inbox, preferences, devices"),
        (name = "public", description = "Publiczne · public information"),
        (name = "cases", description = "Wnioski i sprawy · applications and cases"),
        (name = "bookings", description = "Wizyty i rezerwacje · the booking calendar"),
        (name = "failure-reports", description = "Zgłoszenia awarii · failure reports, by residents and by anybody with an e-mail address"),
        (name = "staff", description = "Pracownicy przedsiębiorstwa · the utility's staff (sign-in with a second factor)")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "Access token from POST /utilities/{slug}/token (10 minutes).",
                    ))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document of the routes, with the errors every operation can answer
/// ([`contract`]).
pub fn document() -> Document {
    let (_, mut doc) = router().split_for_parts();
    contract::ErrorResponses.modify(&mut doc);
    doc
}

/// The routes of `/api/v1` with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(crate::utilities::list_json))
        .routes(routes!(auth::register))
        .routes(routes!(cases::case_status))
        .routes(routes!(cases::list))
        .routes(routes!(cases::get))
        .routes(routes!(cases::application_types))
        .routes(routes!(cases::start))
        .routes(routes!(cases::save_answers))
        .routes({
            // A file of up to 10 MB, in the body.
            let (schemas, paths, route) = routes!(cases::attach);
            let limit = axum::extract::DefaultBodyLimit::max(cases::FILE_LIMIT);
            (schemas, paths, route.layer(limit))
        })
        .routes(routes!(cases::submit))
        .routes(routes!(cases::act))
        .routes(routes!(cases::letter))
        .routes(routes!(bookings::calendars))
        .routes(routes!(bookings::slots))
        .routes(routes!(bookings::list, bookings::book))
        .routes(routes!(bookings::get))
        .routes(routes!(bookings::move_to))
        .routes(routes!(bookings::cancel))
        .routes(routes!(bookings::ics))
        .routes({
            // Up to five photos of 8 MB, as base64, in the body.
            let (schemas, paths, route) =
                routes!(failure_reports::my_reports, failure_reports::file_report);
            let limit = axum::extract::DefaultBodyLimit::max(failure_reports::REPORT_BODY_LIMIT);
            (schemas, paths, route.layer(limit))
        })
        .routes(routes!(failure_reports::nearby))
        .routes(routes!(failure_reports::report))
        .routes(routes!(failure_reports::report_photo))
        .routes(routes!(failure_reports::join_report))
        .routes({
            let (schemas, paths, route) = routes!(failure_reports::file_by_email);
            let limit = axum::extract::DefaultBodyLimit::max(failure_reports::REPORT_BODY_LIMIT);
            (schemas, paths, route.layer(limit))
        })
        .routes(routes!(failure_reports::join_by_email))
        .routes(routes!(auth::activate))
        .routes(routes!(auth::token))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::revoke))
        .routes(routes!(auth::request_reset))
        .routes(routes!(auth::confirm_reset))
        .routes(routes!(me::me))
        .routes(routes!(me::link))
        .routes(routes!(me::change_email))
        .routes(routes!(me::change_password))
        .routes(routes!(me::list_sessions))
        .routes(routes!(me::end_session))
        .routes(routes!(me::personal_data))
        .routes(routes!(me::close))
        .routes(routes!(consents::list, consents::grant))
        .routes(routes!(consents::withdraw))
        .routes(routes!(consents::proxy_acts))
        .routes(routes!(consents::accept_proxy_act))
        .routes(routes!(consents::decline_proxy_act))
        .routes(routes!(inbox::list))
        .routes(routes!(inbox::mark_read))
        .routes(routes!(inbox::preferences, inbox::set_preferences))
        .routes(routes!(inbox::register_device))
        .routes(routes!(inbox::unregister_device))
        .routes(routes!(invoices::balance))
        .routes(routes!(invoices::list))
        .routes(routes!(invoices::get))
        .routes(routes!(invoices::pdf))
        .routes(routes!(invoices::xml))
        .routes(routes!(invoices::settleable, invoices::issue_settlement))
        .routes(routes!(invoices::preview_settlement))
        .routes(routes!(payments::list, payments::start))
        .routes(routes!(payments::get))
        .routes(routes!(
            payments::reminder_preference,
            payments::set_reminder_preference
        ))
        .routes(routes!(meters::list))
        .routes(routes!(meters::current))
        .routes(routes!(meters::reading_on_day))
        .routes(routes!(meters::history))
        .routes(routes!(meters::billing_readings))
        .routes(routes!(meters::history_csv))
        .routes(routes!(meters::self_reading))
        .routes(routes!(rules::active))
        .routes(routes!(rules::list, rules::create))
        .routes(routes!(rules::get, rules::delete))
        .routes(routes!(rules::set_enabled))
        .routes(routes!(rules::triggers))
        .routes(routes!(staff::token))
        .routes(routes!(staff::search, staff::create_customer))
        .routes(routes!(staff::customer, staff::update_customer))
        .routes(routes!(staff::create_point))
        .routes(routes!(staff::start_contract))
        .routes(routes!(staff::end_contract))
        .routes(routes!(staff::install_meter))
        .routes(routes!(staff::legalisation))
        .routes(routes!(staff::meter))
        .routes(routes!(staff::remove_meter))
        .routes(routes!(staff::enter_reading))
        .routes(routes!(staff::replace_meter))
        .routes(routes!(staff::alarm_list))
        .routes(routes!(staff::acknowledge_alarm))
        .routes(routes!(staff::clear_alarm))
        .routes(routes!(staff::quarantine_list))
        .routes(routes!(staff::quarantine_assign))
        .routes(routes!(staff_failure_reports::jobs))
        .routes(routes!(staff_failure_reports::staff_report))
        .routes(routes!(staff_failure_reports::staff_report_photo))
        .routes(routes!(staff_failure_reports::set_report_state))
        .routes({
            // One photo of 8 MB, as base64, in the body.
            let (schemas, paths, route) = routes!(staff_failure_reports::add_report_photo);
            let limit =
                axum::extract::DefaultBodyLimit::max(staff_failure_reports::PHOTO_BODY_LIMIT);
            (schemas, paths, route.layer(limit))
        })
}
