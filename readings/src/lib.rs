//! The read side of the meter time-series, shared by the resident API, the portal, billing and
//! staff tools: which meters an account may see ([`access`]), the reading on a day and history
//! with daily and monthly consumption ([`history`]; concurrent lookups answered together by
//! [`coalesce`]; closed months read packed, [`month_pack`]), the consumption chart as SVG
//! ([`chart`]) and CSV export ([`export`]), residents' own readings ([`self_reading`]), and
//! residents' alarm rules evaluated as readings arrive ([`rules`]).
//!
//! Pure cores (consumption arithmetic, plausibility, rule conditions, chart layout) are plain
//! functions over plain types; the query functions take a connection and call them.

pub mod access;
pub mod chart;
pub mod coalesce;
pub mod export;
pub mod history;
pub mod month_pack;
pub mod rules;
pub mod self_reading;
