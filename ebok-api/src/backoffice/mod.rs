//! The back office: the utility's staff at work, server-rendered in Polish like the resident
//! portal, under `/panel/<slug>/`, with its own session cookie scoped there
//! ([`crate::staff::sessions`]). Pages share the portal's machinery (forms with CSRF tokens
//! and typed fields, the Polish error page, typed path and query parameters) through their own
//! context ([`shell::StaffCtx`]); every page checks the role's permission
//! ([`crate::staff::Permission`]) and reads only the staff member's utility.

mod alarm_pages;
mod audit_pages;
mod balance_charts;
mod balance_pages;
mod billing_pages;
mod booking_pages;
mod case_admin_pages;
mod case_draft_pages;
mod case_form_pages;
mod case_pages;
mod customer_pages;
mod dunning_pages;
mod failure_pages;
mod ingest_pages;
mod ksef_pages;
mod labels;
mod meter_pages;
mod outage_pages;
mod payment_pages;
mod record_pages;
mod shell;
mod sign_in_pages;
mod statement_pages;
mod team_pages;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/panel/{slug}/", get(customer_pages::home))
        .route(
            "/panel/{slug}/logowanie",
            get(sign_in_pages::sign_in_form).post(sign_in_pages::sign_in),
        )
        .route(
            "/panel/{slug}/logowanie/kod",
            get(sign_in_pages::code_form).post(sign_in_pages::code),
        )
        .route(
            "/panel/{slug}/logowanie/aplikacja",
            get(sign_in_pages::enrol_form).post(sign_in_pages::enrol),
        )
        .route("/panel/{slug}/wyloguj", post(sign_in_pages::sign_out))
        .route("/panel/{slug}/bilans", get(balance_pages::ranking))
        .route("/panel/{slug}/bilans.csv", get(balance_pages::ranking_csv))
        .route(
            "/panel/{slug}/bilans/liczniki",
            get(balance_pages::meter_health),
        )
        .route(
            "/panel/{slug}/bilans/liczniki.csv",
            get(balance_pages::meter_health_csv),
        )
        .route("/panel/{slug}/bilans/{id}", get(balance_pages::zone))
        .route(
            "/panel/{slug}/bilans/{id}/dni.csv",
            get(balance_pages::zone_csv),
        )
        .route(
            "/panel/{slug}/bilans/{id}/zuzycie",
            post(balance_pages::enter_unbilled),
        )
        .route(
            "/panel/{slug}/bilans/{id}/wodomierze",
            post(balance_pages::add_meter),
        )
        .route(
            "/panel/{slug}/bilans/{id}/pracownicy",
            post(balance_pages::name_staff),
        )
        .route("/panel/{slug}/awarie", get(failure_pages::list))
        .route("/panel/{slug}/awarie/{id}", get(failure_pages::report))
        .route("/panel/{slug}/awarie/{id}/krok", post(failure_pages::step))
        .route(
            "/panel/{slug}/awarie/{id}/zdjecie",
            post(failure_pages::add_photo).layer(axum::extract::DefaultBodyLimit::max(
                ebok_outages::photos::MAX_BYTES + 64 * 1024,
            )),
        )
        .route(
            "/panel/{slug}/awarie/{id}/zdjecia/{photo}",
            get(failure_pages::photo),
        )
        .route("/panel/{slug}/komunikaty", get(outage_pages::list))
        .route(
            "/panel/{slug}/komunikaty/nowy",
            get(outage_pages::new_form).post(outage_pages::create),
        )
        .route(
            "/panel/{slug}/komunikaty/{id}",
            get(outage_pages::notice).post(outage_pages::update),
        )
        .route(
            "/panel/{slug}/komunikaty/{id}/zakoncz",
            post(outage_pages::end),
        )
        .route(
            "/panel/{slug}/strefy",
            get(outage_pages::zones).post(outage_pages::create_zone),
        )
        .route(
            "/panel/{slug}/strefy/{id}/punkty",
            post(outage_pages::assign),
        )
        .route("/panel/{slug}/wizyty", get(booking_pages::calendars))
        .route(
            "/panel/{slug}/wizyty/nowy",
            get(booking_pages::new_form).post(booking_pages::create),
        )
        .route("/panel/{slug}/wizyty/{id}", get(booking_pages::day))
        .route(
            "/panel/{slug}/wizyty/{id}/ustawienia",
            get(booking_pages::edit_form).post(booking_pages::update),
        )
        .route(
            "/panel/{slug}/wizyty/{id}/zamknij",
            post(booking_pages::close_day),
        )
        .route(
            "/panel/{slug}/wizyty/{id}/otworz",
            post(booking_pages::reopen_day),
        )
        .route(
            "/panel/{slug}/wizyty/{id}/rezerwacje/{visit}/odwolaj",
            post(booking_pages::cancel_visit),
        )
        .route("/panel/{slug}/klienci", get(customer_pages::search))
        .route(
            "/panel/{slug}/klienci/nowy",
            get(record_pages::new_customer_form).post(record_pages::create_customer),
        )
        .route("/panel/{slug}/klienci/{id}", get(customer_pages::card))
        .route(
            "/panel/{slug}/klienci/{id}/edycja",
            get(record_pages::edit_customer_form).post(record_pages::update_customer),
        )
        .route(
            "/panel/{slug}/klienci/{id}/punkty",
            post(record_pages::create_point),
        )
        .route(
            "/panel/{slug}/klienci/{id}/umowy",
            post(record_pages::start_contract),
        )
        .route(
            "/panel/{slug}/klienci/{id}/w-imieniu",
            post(record_pages::act_for_customer),
        )
        .route(
            "/panel/{slug}/klienci/{id}/odczyt",
            post(record_pages::reported_reading),
        )
        .route(
            "/panel/{slug}/umowy/{id}/zakoncz",
            post(record_pages::end_contract),
        )
        .route(
            "/panel/{slug}/liczniki/nowy",
            get(meter_pages::install_form).post(meter_pages::install),
        )
        .route(
            "/panel/{slug}/liczniki/legalizacja",
            get(meter_pages::legalisation),
        )
        .route("/panel/{slug}/liczniki/{id}", get(meter_pages::meter))
        .route(
            "/panel/{slug}/taryfy",
            get(billing_pages::tariffs).post(billing_pages::add_tariff),
        )
        .route(
            "/panel/{slug}/taryfy/{id}/wycofaj",
            post(billing_pages::withdraw_tariff),
        )
        .route("/panel/{slug}/sprawy", get(case_pages::queue))
        .route(
            "/panel/{slug}/sprawy/szablony",
            get(case_admin_pages::templates),
        )
        .route(
            "/panel/{slug}/sprawy/szablony/{kind}",
            get(case_admin_pages::template).post(case_admin_pages::save_template),
        )
        .route(
            "/panel/{slug}/sprawy/opinie",
            get(case_admin_pages::feedback),
        )
        .route(
            "/panel/{slug}/sprawy/formularze",
            get(case_form_pages::forms),
        )
        .route(
            "/panel/{slug}/sprawy/formularze/{code}",
            get(case_form_pages::form).post(case_form_pages::save),
        )
        .route(
            "/panel/{slug}/sprawy/{id}",
            get(case_pages::case).post(case_pages::act),
        )
        .route(
            "/panel/{slug}/sprawy/{id}/dokumenty/{file}",
            get(case_pages::letter),
        )
        .route(
            "/panel/{slug}/sprawy/{id}/umowa",
            post(case_pages::conclude),
        )
        .route("/panel/{slug}/sprawy/{id}/notatki", post(case_pages::note))
        .route(
            "/panel/{slug}/sprawy/{id}/wniosek",
            get(case_draft_pages::draft)
                .post(case_draft_pages::save)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::case_form::FILES_FORM_LIMIT,
                )),
        )
        .route(
            "/panel/{slug}/klienci/{id}/wniosek",
            post(case_draft_pages::start),
        )
        .route(
            "/panel/{slug}/sprawy/{id}/pliki/{file}",
            get(case_pages::file),
        )
        .route("/panel/{slug}/platnosci", get(payment_pages::payments))
        .route("/panel/{slug}/ksef", get(ksef_pages::ksef))
        .route(
            "/panel/{slug}/ksef/ustawienia",
            axum::routing::post(ksef_pages::save_settings),
        )
        .route(
            "/panel/{slug}/ksef/{id}/ponow",
            axum::routing::post(ksef_pages::send_again),
        )
        .route("/panel/{slug}/ksef/{id}/upo.xml", get(ksef_pages::upo))
        .route("/panel/{slug}/zaleglosci", get(dunning_pages::overdue))
        .route("/panel/{slug}/zaleglosci/{id}", get(dunning_pages::note))
        .route(
            "/panel/{slug}/zaleglosci/{id}/list",
            axum::routing::post(dunning_pages::letter_sent),
        )
        .route(
            "/panel/{slug}/wyciagi",
            get(statement_pages::statements_page)
                .post(statement_pages::import)
                .layer(axum::extract::DefaultBodyLimit::max(
                    statement_pages::STATEMENT_FORM_LIMIT,
                )),
        )
        .route(
            "/panel/{slug}/wyciagi/{id}/przypisz",
            axum::routing::post(statement_pages::assign),
        )
        .route(
            "/panel/{slug}/rozliczenia",
            get(billing_pages::runs).post(billing_pages::start_run),
        )
        .route("/panel/{slug}/rozliczenia/{id}", get(billing_pages::run))
        .route(
            "/panel/{slug}/rozliczenia/{id}/druk.pdf",
            get(billing_pages::print_batch),
        )
        .route(
            "/panel/{slug}/faktury/{id}/pdf",
            get(billing_pages::invoice_pdf),
        )
        .route(
            "/panel/{slug}/faktury/{id}/xml",
            get(billing_pages::invoice_xml),
        )
        .route(
            "/panel/{slug}/faktury/{id}/korekta",
            get(billing_pages::correction_form).post(billing_pages::correction_issue),
        )
        .route(
            "/panel/{slug}/faktury/{id}/korekta/podglad",
            post(billing_pages::correction_preview),
        )
        .route(
            "/panel/{slug}/faktury/{id}/korekta/grupa",
            post(billing_pages::correction_group),
        )
        .route(
            "/panel/{slug}/klienci/{id}/faktury",
            post(billing_pages::manual_invoice),
        )
        .route("/panel/{slug}/alarmy", get(alarm_pages::alarms))
        .route(
            "/panel/{slug}/alarmy/{id}/przyjmij",
            post(alarm_pages::acknowledge),
        )
        .route(
            "/panel/{slug}/alarmy/{id}/zamknij",
            post(alarm_pages::clear),
        )
        .route("/panel/{slug}/kwarantanna", get(ingest_pages::quarantine))
        .route("/panel/{slug}/odrzucone", get(ingest_pages::rejections))
        .route(
            "/panel/{slug}/niedostarczone",
            get(ingest_pages::dead_letters),
        )
        .route(
            "/panel/{slug}/niedostarczone/ponow",
            post(ingest_pages::requeue),
        )
        .route("/panel/{slug}/zespol", get(team_pages::team))
        .route(
            "/panel/{slug}/ustawienia",
            get(team_pages::settings).post(team_pages::save_settings),
        )
        .route("/panel/{slug}/zespol/nowy", post(team_pages::create))
        .route(
            "/panel/{slug}/zespol/{id}/{action}",
            post(team_pages::change),
        )
        .route("/panel/{slug}/dziennik", get(audit_pages::audit_log))
        .route("/panel/{slug}/dziennik.csv", get(audit_pages::audit_csv))
        .route(
            "/panel/{slug}/kwarantanna/przypisz",
            post(ingest_pages::assign),
        )
        .route(
            "/panel/{slug}/liczniki/{id}/wymiana",
            post(meter_pages::replace),
        )
        .route(
            "/panel/{slug}/liczniki/{id}/zdjecie",
            post(meter_pages::remove),
        )
        .route(
            "/panel/{slug}/liczniki/{id}/odczyt",
            post(meter_pages::enter_reading),
        )
}
