//! Money in: a resident pays online and the payment is booked into the ledger exactly once.
//!
//! - [`przelewy24`]: the Przelewy24 REST v1 client and its local [`przelewy24::emulator`];
//! - [`stripe`]: Stripe Checkout and its webhook events, and its [`stripe::emulator`];
//! - [`signatures`]: the providers' signatures (Przelewy24's SHA-384 signs, Stripe's webhook
//!   HMAC), checked in constant time;
//! - [`online`]: each utility's provider, starting a payment and taking the provider's
//!   notification (checked, verified, booked);
//! - [`booking`]: a confirmed payment into the ledger, allocated to invoices
//!   (`ebok_billing::allocation`), announced and audited, once;
//! - [`statements`]: bank statements (MT940) imported, matched to customers by virtual account
//!   or invoice number and booked, the rest assigned by staff;
//! - [`history`]: what residents and staff see of payments;
//! - [`dunning`]: reminders before and after the due date, the overdue customers and the
//!   statutory interest for late payment.
//!
//! Split from `ebok-billing` because it speaks HTTP to the outside and runs emulators; billing
//! stays a crate of documents and arithmetic over the database.

pub mod booking;
pub mod dunning;
pub mod history;
pub mod online;
pub mod przelewy24;
pub mod signatures;
pub mod statements;
pub mod stripe;
