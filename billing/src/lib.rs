//! Billing: tariffs, consumption from readings (using `ebok_common::domain::Register` and Warsaw
//! billing days), invoices with gap-free numbering, PDF and KSeF XML, ledger, payment providers.
//!
//! Not started: comes after ingest, notifications and the resident portal.
