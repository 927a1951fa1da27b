//! Chasing what is owed: [`reminders`] before and after an invoice's due date (through the
//! outbox, by each resident's choice), the [`overdue`] customers staff see with their interest
//! notes, and the statutory [`interest`] for late payment from a dated table of [`rates`].

pub mod interest;
pub mod overdue;
pub mod rates;
pub mod reminders;
