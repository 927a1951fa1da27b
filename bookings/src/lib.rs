//! The booking calendar (issue 21, seed 004's booking service): calendars a utility publishes
//! — a meeting with a decision-maker, a meter replacement visit, signing a contract — and the
//! bookings residents make in them.
//!
//! So far the pure core, no I/O: [`calendar`], the slots a calendar offers on given days and
//! when a booking may still be moved or cancelled. Storing calendars and bookings (with the
//! database, not a check before an insert, keeping a slot from being overbooked), the pages and
//! the reminders come next.

pub mod calendar;
