//! Billing: tariffs, consumption from readings (by the day rule of
//! `ebok_common::domain::boundary`, in Warsaw billing days), invoices with gap-free numbering,
//! their documents (PDF for people, FA(3) XML for KSeF) and the customers' ledger.
//!
//! The pure core, tested without a database: [`tariff`] (prices in force over a period),
//! [`consumption`] (litres per meter and tariff segment from registers), [`amounts`] (lines,
//! VAT per rate, rounding), [`document`] (an invoice as its documents show it), [`ksef`] and
//! [`pdf`] (the renderers). The database side: [`run`] (a monthly billing run) and [`ledger`].

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
