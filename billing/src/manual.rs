//! Invoices for services staff issue by hand (a meter check at the customer's request, a
//! connection, a duplicate document): lines as staff type them, priced and totalled like any
//! invoice (net per line rounded half-up, VAT per rate on the rate's total), numbered in the
//! utility's FV series, with the customer's ledger entry and notice.

use chrono::{Days, NaiveDate, Utc};
use ebok_common::domain::Money;
use ebok_common::domain::time::local_day;
use sqlx::PgPool;

use crate::amounts;
use crate::document::{InvoiceDocument, Kind, Line};
use crate::invoice::PricedLine;
use crate::issuing::{self, Draft, Issue, SERIES};
use crate::ksef;
use crate::pricing;

/// A line as staff type it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualLine {
    pub name: String,
    pub unit: String,
    /// Thousandths: 1 000 is 1.
    pub quantity_milli: i64,
    pub unit_price: Money,
    pub vat_rate: u8,
}

/// Why a manual invoice was refused; Polish, for staff, with the field (`lines[2].name`).
#[derive(Debug, thiserror::Error)]
pub enum ManualError {
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ManualError {
    ManualError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The VAT rates a utility's services take.
pub const RATES: [u8; 4] = [0, 5, 8, 23];

fn check(sale_date: NaiveDate, lines: &[ManualLine], today: NaiveDate) -> Result<(), ManualError> {
    if sale_date > today || sale_date < today - Days::new(366) {
        return Err(invalid(
            "sale_date",
            "Data wykonania usługi: dziś albo w ostatnim roku.",
        ));
    }
    if lines.is_empty() {
        return Err(invalid("lines", "Dodaj co najmniej jedną pozycję."));
    }
    if lines.len() > 20 {
        return Err(invalid("lines", "Faktura może mieć najwyżej 20 pozycji."));
    }
    for (i, l) in lines.iter().enumerate() {
        let at = |field: &str| format!("lines[{i}].{field}");
        if l.name.trim().is_empty() || l.name.chars().count() > 256 {
            return Err(invalid(
                at("name"),
                "Podaj nazwę usługi (najwyżej 256 znaków).",
            ));
        }
        if l.unit.trim().is_empty() || l.unit.chars().count() > 10 {
            return Err(invalid(at("unit"), "Podaj jednostkę, np. szt. albo usł."));
        }
        if l.quantity_milli <= 0 || l.quantity_milli > 1_000_000_000 {
            return Err(invalid(at("quantity"), "Ilość musi być większa od zera."));
        }
        if l.unit_price.is_negative() || l.unit_price > Money::from_grosze(100_000_000) {
            return Err(invalid(
                at("unit_price"),
                "Cena nie może być ujemna ani wyższa niż 1 000 000 zł.",
            ));
        }
        if !RATES.contains(&l.vat_rate) {
            return Err(invalid(at("vat_rate"), "Stawka VAT: 0, 5, 8 albo 23%."));
        }
    }
    Ok(())
}

/// Issues a manual invoice to customer `customer_id` for services done on `sale_date`; its id.
pub async fn issue(
    pool: &PgPool,
    utility_id: i64,
    customer_id: i64,
    sale_date: NaiveDate,
    lines: &[ManualLine],
) -> Result<i64, ManualError> {
    let today = local_day(Utc::now());
    check(sale_date, lines, today)?;
    let mut tx = pool.begin().await?;
    issuing::lock_issuing(&mut tx, utility_id).await?;
    let (buyer, e_invoice) = pricing::buyer(&mut tx, utility_id, customer_id)
        .await?
        .ok_or(ManualError::NotFound)?;
    let seller = pricing::seller(&mut tx, utility_id).await?;
    let last = issuing::lock_counter(&mut tx, utility_id, SERIES, today).await?;
    let priced: Vec<PricedLine> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| PricedLine {
            line: Line {
                no: i as u32 + 1,
                name: l.name.trim().to_string(),
                unit: l.unit.trim().to_string(),
                quantity_milli: l.quantity_milli,
                unit_price: l.unit_price,
                net: amounts::line_net(l.quantity_milli, l.unit_price),
                vat_rate: l.vat_rate,
            },
            kind: "service",
            tariff_id: None,
        })
        .collect();
    let printed: Vec<Line> = priced.iter().map(|l| l.line.clone()).collect();
    let (rates, net, vat, gross) = amounts::totals(&printed);
    let balance = issuing::balances(&mut tx, &[customer_id])
        .await?
        .get(&customer_id)
        .copied()
        .unwrap_or_default();
    let credit_used = (-balance).max(Money::ZERO).min(gross.max(Money::ZERO));
    let mut notes = Vec::new();
    if credit_used > Money::ZERO {
        notes.push(format!(
            "Zaliczono nadpłatę z poprzednich okresów: {}.",
            ebok_common::polish::money(credit_used)
        ));
    }
    let document = InvoiceDocument {
        kind: Kind::Vat,
        number: issuing::invoice_number(SERIES, today, last + 1),
        issue_date: today,
        place_of_issue: Some(seller.city.clone()),
        period: None,
        sale_date: Some(sale_date),
        seller: seller.party.clone(),
        buyer,
        supply_point: None,
        lines_before: Vec::new(),
        lines: printed,
        rates,
        net,
        vat,
        gross,
        credit_used,
        amount_due: gross - credit_used,
        due_date: today + Days::new(u64::from(seller.payment_term_days)),
        bank_account: seller.account_for(customer_id),
        readings: Vec::new(),
        notes,
        created_at: Utc::now(),
        ksef_number: None,
    };
    let xml = ksef::fa3_xml(&document);
    let draft = Draft {
        kind: "manual",
        customer_id,
        contract_id: None,
        supply_point_id: None,
        period: None,
        corrects_id: None,
        lines: priced,
        lines_before: Vec::new(),
        ends: Vec::new(),
        estimated: false,
        doc: document,
        xml,
        e_invoice,
    };
    let ids = issuing::store(
        &mut tx,
        &Issue {
            utility_id,
            issue_date: today,
            run_id: None,
        },
        std::slice::from_ref(&draft),
    )
    .await?;
    issuing::set_counter(&mut tx, utility_id, SERIES, today, last + 1).await?;
    tx.commit().await?;
    Ok(ids[0])
}
