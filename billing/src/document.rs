//! An issued invoice as its documents show it: everything the PDF for people
//! ([`crate::pdf`]) and the FA(3) XML for KSeF ([`crate::ksef`]) print, and nothing they would
//! have to look up. Built once, when the invoice is issued, from the invoice's own stored rows
//! (snapshots of seller and buyer included), so a document rendered again years later is the
//! same document.

use chrono::{DateTime, NaiveDate, Utc};
use ebok_common::domain::Money;
use serde::{Deserialize, Serialize};

/// A party to the invoice: the utility (seller) or the customer (buyer), as at issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Party {
    /// Legal name: "Zakład Wodociągów w Młynarach sp. z o.o.", "Jan Kowalski".
    pub name: String,
    /// Ten digits, no dashes. `None` for a consumer (FA(3): `BrakID`).
    pub nip: Option<String>,
    /// "ul. Lipowa 5/2" (street, building and apartment as the address is written).
    pub address_line1: String,
    /// "14-420 Młynary".
    pub address_line2: String,
    /// The buyer's customer number (FA(3) `NrKlienta`); `None` for the seller.
    pub customer_number: Option<String>,
}

/// What kind of invoice the document is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Kind {
    /// A VAT invoice (FA(3) `RodzajFaktury` = `VAT`).
    Vat,
    /// A correction (`KOR`) of an earlier invoice: its lines are the state after the
    /// correction, [`InvoiceDocument::lines_before`] the state before, and the totals the
    /// difference.
    Correction(Corrected),
}

/// The invoice a correction corrects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Corrected {
    pub number: String,
    pub issue_date: NaiveDate,
    /// Its KSeF number, once it has one (`NrKSeFN` = 1 otherwise).
    pub ksef_number: Option<String>,
    /// Why it is corrected, in Polish ("Błędny odczyt licznika").
    pub reason: String,
}

/// One line of the invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Line {
    /// 1, 2, … in the order printed.
    pub no: u32,
    /// "Dostawa wody 01.11–30.11.2026 (taryfa od 01.01.2026)".
    pub name: String,
    /// Unit of measure as printed: "m³", "mies.", "szt.".
    pub unit: String,
    /// Quantity in thousandths (m³ with litre precision): 12 345 is 12,345. May be negative
    /// (an estimate settled by a real reading).
    pub quantity_milli: i64,
    /// Net unit price.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub unit_price: Money,
    /// Net value: `quantity × unit price` rounded half-up to the grosz.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub net: Money,
    /// VAT rate in percent (8 for water and sewage).
    pub vat_rate: u8,
}

/// The net and VAT of one rate: VAT on the rate's net total, rounded half-up (art. 106e
/// ust. 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateTotal {
    pub vat_rate: u8,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub net: Money,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub vat: Money,
}

/// A meter's registers the invoice's consumption came from (printed, not in the XML).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeterReading {
    pub serial: String,
    /// "main", "garden" or "sewage".
    pub purpose: String,
    pub from_at: DateTime<Utc>,
    pub from_litres: i64,
    pub to_at: DateTime<Utc>,
    pub to_litres: i64,
    /// The consumption between them (the register's advance, rollover included).
    pub litres: i64,
    /// How the end register was found: "read", "interpolated" (between the readings around
    /// midnight), "removal" (the meter's final reading) or "estimate".
    pub to_kind: String,
    /// Same for the start register; "installation" for a meter installed in the period.
    pub from_kind: String,
}

/// An invoice as its documents show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvoiceDocument {
    pub kind: Kind,
    /// "FV/2026/11/000123".
    pub number: String,
    /// Date of issue (FA(3) `P_1`), a Warsaw day.
    pub issue_date: NaiveDate,
    /// Place of issue (`P_1M`): the utility's city.
    pub place_of_issue: Option<String>,
    /// The billing period (`OkresFa`), for periodic invoices and settlements.
    pub period: Option<(NaiveDate, NaiveDate)>,
    /// The date of the supply or service (`P_6`) for invoices without a period.
    pub sale_date: Option<NaiveDate>,
    pub seller: Party,
    pub buyer: Party,
    /// The supply point's code and address, printed ("Punkt poboru").
    pub supply_point: Option<String>,
    /// For a correction, the lines before it ("StanPrzed"); empty otherwise.
    pub lines_before: Vec<Line>,
    pub lines: Vec<Line>,
    /// Per VAT rate; for a correction, the differences.
    pub rates: Vec<RateTotal>,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub net: Money,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub vat: Money,
    /// Net + VAT (`P_15`); for a correction, the difference.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub gross: Money,
    /// Credit from earlier overpayments used for this invoice.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub credit_used: Money,
    /// What the customer has to pay for this invoice: `gross − credit_used`, never negative.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub amount_due: Money,
    pub due_date: NaiveDate,
    /// The account to pay to (NRB, 26 digits): the customer's own account when the utility has
    /// virtual accounts, else the utility's.
    pub bank_account: Option<String>,
    pub readings: Vec<MeterReading>,
    /// Remarks printed at the end ("Zużycie szacunkowe …").
    pub notes: Vec<String>,
    /// When the document was made (`DataWytworzeniaFa`).
    pub created_at: DateTime<Utc>,
    /// The KSeF number, once the invoice has been accepted there (the QR code's label; "OFFLINE"
    /// until then).
    pub ksef_number: Option<String>,
}
