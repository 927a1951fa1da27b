//! The API's and the portal's tests, one module per area, linked into one test binary: each
//! integration-test file used to be its own binary of about 120 MB, and twenty of them ran a CI
//! disk out of space. nextest still runs every test in its own process.

mod support;

mod balance_pages;
mod billing_office;
mod bookings;
mod browser;
mod case_api;
mod case_contract;
mod case_office;
mod case_pages;
mod case_status;
mod dunning;
mod failure_pages;
mod failure_reports;
mod former_tenant;
mod health_and_portal;
mod invoices;
mod ksef_office;
mod outage_pages;
mod payments;
mod personal_data;
mod portal_pages;
mod resident_api;
mod schemathesis;
mod security;
mod staff;
mod stripe_payments;
