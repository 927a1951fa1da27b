//! The whole system's tests (the `ebok` binary, the stack, the demo, the browser journeys), one
//! module per area, linked into one test binary to keep the build's disk and link time down.
//! nextest still runs every test in its own process.

mod journeys;
mod support;

mod alarm_to_phone;
mod back_office;
mod balance_journeys;
mod booking_journeys;
mod case_journeys;
mod cli;
mod connections;
mod demo;
mod failure_journeys;
mod ingest_e2e;
mod outage_journeys;
mod read_models;
mod rule_to_inbox;
mod schema;
mod stack;
mod stores;
