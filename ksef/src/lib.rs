//! Issued invoices sent to the national e-invoice system, KSeF 2.0.
//!
//! - [`client`]: the KSeF 2.0 API (authentication with a KSeF token, online sessions,
//!   verdicts, UPO) over reqwest;
//! - [`crypto`]: RSA-OAEP and AES-256-CBC as the API asks;
//! - [`number`]: the KSeF number and its check sum;
//! - [`sender`]: each utility's queue (`ksef_invoices`, filled by billing at issue) sent and
//!   the verdicts recorded, with retries;
//! - [`office`]: what staff see and do (the queue, the refusals, sending again, the utility's
//!   KSeF settings);
//! - [`emulator`]: a local emulator of the protocol, for the tests and the demo.
//!
//! The FA(3) XML itself is billing's (`ebok_billing::ksef`): it is fixed at issue, and its
//! hash is both what KSeF checks and what the invoice's QR code carries.

pub mod client;
pub mod crypto;
pub mod emulator;
pub mod number;
pub mod office;
pub mod sender;
