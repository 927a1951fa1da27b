//! Billing: tariffs, consumption from readings (by the day rule of
//! `ebok_common::domain::boundary`, in Warsaw billing days), invoices with gap-free numbering,
//! their documents (PDF for people, FA(3) XML for KSeF) and the customers' ledger.
//!
//! The pure core, tested without a database: [`tariff`] (prices in force over a period),
//! [`consumption`] (litres per meter and piece of a period from registers), [`invoice`] (the
//! lines of a contract's days), [`amounts`] (line nets, VAT per rate, rounding), [`document`]
//! (an invoice as its documents show it), [`ksef`] and [`pdf`] (the renderers).
//!
//! The database side: [`pricing`] reads and prices contracts, [`issuing`] numbers and stores
//! invoices with their ledger entries and notices; on top of them [`run`] (a monthly run),
//! [`settlement`] (up to a chosen day, on request), [`correction`] (KOR) and [`manual`]
//! (services). [`documents`] serves an invoice's XML and PDF, [`statement`] what residents and
//! staff see of invoices, balances and the ledger (kept by migration 0023's triggers).
//! [`allocation`] says what a payment or a credit paid. The payment providers and the bank
//! statements are the `ebok-payments` crate's. docs/billing.md tells the whole story.

pub mod allocation;
pub mod amounts;
pub mod consumption;
pub mod correction;
pub mod document;
pub mod documents;
pub mod invoice;
pub mod issuing;
pub mod ksef;
pub mod manual;
pub mod pdf;
pub mod pricing;
pub mod run;
pub mod settlement;
pub mod statement;
pub mod tariff;
pub mod transfer;
