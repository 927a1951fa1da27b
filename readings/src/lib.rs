//! Meter readings as residents, billing and staff tools read and give them: which meters an
//! account may see ([`access`]), the reading on a day and history with daily and monthly
//! consumption ([`history`]; concurrent lookups answered together by [`coalesce`]; closed months
//! read packed, [`month_pack`]), the same shown as a consumption chart in SVG ([`chart`]) and as
//! CSV ([`export`]), the readings residents give themselves ([`self_reading`]: checked for
//! plausibility and stored beside the meters' own), and how any reading entered by hand is
//! stored ([`store`]). Ingest writes the meters' readings; alarm
//! rules over them are the `ebok-alarm-rules` crate.
//!
//! Pure cores (consumption arithmetic, plausibility, chart layout) are plain functions over
//! plain types; the query functions take a connection and call them.

pub mod access;
pub mod chart;
pub mod coalesce;
pub mod export;
pub mod history;
pub mod month_pack;
#[cfg(feature = "openapi")]
pub mod names;
pub mod self_reading;
pub mod store;
