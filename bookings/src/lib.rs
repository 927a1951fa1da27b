//! The booking calendar (issue 21, seed 004's booking service): calendars a utility publishes
//! — a meeting with a decision-maker, a meter replacement visit, signing a contract — and the
//! bookings residents make in them.
//!
//! - [`calendar`] (pure): the slots a calendar offers on given days, and when a booking may
//!   still be made, moved or cancelled;
//! - [`store`] (migration 0029): calendars published, places booked, moved and cancelled, the
//!   database keeping any slot from being overbooked.
//!
//! Not built yet: staff cancelling a slot or a day with a reason, the reminders, the `.ics`
//! download, and the pages.

pub mod calendar;
pub mod store;
