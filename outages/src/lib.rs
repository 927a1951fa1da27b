//! Outage and planned-works notices (issue 21, seed 004's notification and supervision
//! service): staff publish a notice for an area, the residents there who agreed to
//! notifications are told by one broadcast, and its updates and the "restored" notice reach the
//! same people; anyone reads the current and planned notices on a public page or subscribes to
//! them as Atom and iCalendar feeds.
//!
//! - [`area`] (pure): streets with house-number ranges, localities and network zones; the area
//!   in words; the street line staff type;
//! - [`store`] (migration 0031): zones, notices announced, updated and ended, their
//!   recipients;
//! - [`views`]: what the public page, the feeds and staff read;
//! - [`feeds`]: Atom and iCalendar.

pub mod area;
pub mod feeds;
pub mod photos;
pub mod store;
pub mod views;
