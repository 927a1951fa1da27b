//! Outage and planned-works notices and failure reports (issue 21, seed 004's notification and
//! supervision service and its failure reporting): staff publish a notice for an area, the
//! residents there who agreed to notifications are told by one broadcast, and its updates and
//! the "restored" notice reach the same people; anyone reads the current and planned notices on
//! a public page or subscribes to them as Atom and iCalendar feeds. Residents (and anybody with
//! an e-mail address) report failures, which staff take to a fix or turn into a notice.
//!
//! - [`area`] (pure): streets with house-number ranges, localities and network zones; the area
//!   in words; the street line staff type;
//! - [`store`] (migration 0031): zones, notices announced, updated and ended, their
//!   recipients;
//! - [`views`]: what the public page, the feeds and staff read;
//! - [`feeds`]: Atom and iCalendar;
//! - [`photos`]: a report's photos told by content and stripped of their metadata;
//! - [`reports`]: failure reports, from a resident's (or anybody's) report to the fix.

pub mod area;
pub mod feeds;
pub mod photos;
pub mod reports;
pub mod store;
pub mod views;
