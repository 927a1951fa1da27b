//! The booking calendar (issue 21, seed 004's booking service): calendars a utility publishes
//! — a meeting with a decision-maker, a meter replacement visit, signing a contract — and the
//! bookings residents make in them.
//!
//! - [`calendar`] (pure): the slots a calendar offers on given days, and when a booking may
//!   still be made, moved or cancelled;
//! - [`store`] (migrations 0029, 0030): calendars published, places booked, moved and
//!   cancelled, the database keeping any slot from being overbooked; staff cancelling a
//!   booking or closing a slot or a day with a reason; every change told to the resident
//!   through the outbox;
//! - [`views`]: the slots with their free places, a resident's bookings, a day's bookings;
//! - [`reminders`]: the reminder the evening before;
//! - [`ics`]: a booking as an iCalendar event.

pub mod calendar;
pub mod ics;
pub mod reminders;
pub mod store;
pub mod views;
