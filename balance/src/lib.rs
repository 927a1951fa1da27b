//! The water balance: where a utility loses the water it pumps, zone by zone and day by day.
//!
//! - [`water`]: the IWA balance of nested zones for one period (pure);
//! - [`days`]: one meter's consumption on each Warsaw day by the day rule, as history and
//!   billing count it (pure);
//! - [`night`]: the minimum night flow of a zone and the rule that tells a new burst from an
//!   ordinary night (pure);
//! - [`store`]: computes the days and nights of a utility from the readings and stores them;
//!   reads balances back for any range of days or months;
//! - [`views`]: what the staff's pages read: the zones ranked by losses, a zone's nights,
//!   alarms, boundary meters and staff;
//! - [`health`]: the customer meters a replacement campaign starts from (stopped, standing
//!   still in an inhabited home, running backwards, past legalisation);
//! - [`network`]: what staff set up and enter: boundary meters, the zones' staff, unbilled use;
//! - [`alarms`]: raises and clears night-flow alarms, announced through the outbox;
//! - [`run`]: the loop that keeps all of it current as readings arrive.
//!
//! docs/balance.md tells a utility what the figures mean and how they are computed.

pub mod alarms;
pub mod days;
pub mod health;
pub mod network;
pub mod night;
pub mod run;
pub mod store;
pub mod views;
pub mod water;

pub use water::{Balance, BoundaryFlow, OwnUse, Zone, ZoneError, balances};
