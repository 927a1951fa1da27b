//! Shared by every part of the system: domain types (money among them), typed configuration, the
//! database pool and migrations, the transactional outbox, the append-only audit log, residents'
//! consents, and how things are written in Polish.
//!
//! This crate holds no HTTP and no logic of any one module; it is what two or more modules must
//! agree on.

pub mod audit;
pub mod backoff;
pub mod config;
pub mod consent;
pub mod db;
pub mod domain;
pub mod excel_csv;
pub mod json;
pub mod outbox;
pub mod polish;
pub mod private_file;

pub use config::Config;
