//! Corrections (faktura korygująca, KOR) of a periodic invoice or a settlement whose readings or
//! tariff were wrong: its days are priced again with what the database holds now (readings that
//! arrived since, the contract's tariff group as it is now), each meter starting where the
//! invoices before it left it, and the correction shows the lines before and after with the
//! difference as its amount. Only a contract's latest invoice is corrected this way (the next
//! invoice starts where it ended), and only once (a second correction would correct the
//! correction); the registers it ends at replace the corrected invoice's for the next invoice.

use chrono::{NaiveDate, Utc};
use ebok_common::domain::Money;
use ebok_common::domain::time::local_day;
use sqlx::{PgConnection, PgPool};

use crate::allocation;
use crate::amounts;
use crate::document::{Corrected, InvoiceDocument, Kind, Line};
use crate::invoice::PricedLine;
use crate::issuing::{self, Draft, Issue};
use crate::ksef;
use crate::pricing::{self, Ctx};

/// The series of corrections: "KOR/2026/12/000001".
pub const SERIES: &str = "KOR";

/// Why an invoice cannot be corrected; Polish, for staff.
#[derive(Debug, thiserror::Error)]
pub enum CorrectionError {
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

fn invalid(field: &'static str, message: impl Into<String>) -> CorrectionError {
    CorrectionError::Invalid {
        field,
        message: message.into(),
    }
}

/// A correction as it would be issued.
#[derive(Debug, Clone)]
pub struct Preview {
    pub document: InvoiceDocument,
}

/// The corrected invoice as the correction needs it.
struct Original {
    number: String,
    issue_date: NaiveDate,
    contract_id: i64,
    customer_id: i64,
    supply_point_id: Option<i64>,
    from: NaiveDate,
    to: NaiveDate,
    lines: Vec<PricedLine>,
    /// Its KSeF number, when KSeF accepted it.
    ksef_number: Option<String>,
}

async fn original(
    conn: &mut PgConnection,
    utility_id: i64,
    invoice_id: i64,
) -> Result<Original, CorrectionError> {
    let row = sqlx::query!(
        r#"SELECT i.number, i.issue_date, i.kind::text AS "kind!", i.contract_id, i.customer_id,
                  i.supply_point_id, i.period_from, i.period_to,
                  EXISTS (SELECT 1 FROM invoices k WHERE k.corrects_id = i.id) AS "corrected!",
                  EXISTS (SELECT 1 FROM invoices l
                          WHERE l.contract_id = i.contract_id AND l.kind IN ('periodic', 'settlement')
                            AND l.period_from > i.period_to) AS "later!",
                  k.state::text AS "ksef_state?", k.ksef_number AS "ksef_number?"
           FROM invoices i LEFT JOIN ksef_invoices k ON k.invoice_id = i.id
           WHERE i.id = $1 AND i.utility_id = $2"#,
        invoice_id,
        utility_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(CorrectionError::NotFound)?;
    let (Some(contract_id), Some(from), Some(to)) =
        (row.contract_id, row.period_from, row.period_to)
    else {
        return Err(invalid(
            "reason",
            "Korygować przez ponowne rozliczenie można faktury za okres zużycia.",
        ));
    };
    if !matches!(row.kind.as_str(), "periodic" | "settlement") {
        return Err(invalid(
            "reason",
            "Korygować przez ponowne rozliczenie można faktury za okres zużycia.",
        ));
    }
    if row.corrected {
        return Err(invalid("reason", "Ta faktura ma już korektę."));
    }
    // A correction names the KSeF number of what it corrects: not before KSeF gave one.
    if matches!(row.ksef_state.as_deref(), Some("queued" | "sent")) {
        return Err(invalid(
            "reason",
            "Faktura czeka na numer KSeF: skoryguj ją, gdy KSeF ją przyjmie.",
        ));
    }
    if row.later {
        return Err(invalid(
            "reason",
            "Po tej fakturze wystawiono już następną za tę umowę: skoryguj najpierw tamtą.",
        ));
    }
    let lines = sqlx::query!(
        r#"SELECT line_no, kind, name, unit, quantity_milli, unit_price_grosze, net_grosze, vat_rate,
                  tariff_id
           FROM invoice_lines WHERE invoice_id = $1 AND NOT before_correction ORDER BY line_no"#,
        invoice_id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|l| PricedLine {
        line: Line {
            no: l.line_no as u32,
            name: l.name,
            unit: l.unit,
            quantity_milli: l.quantity_milli,
            unit_price: Money::from_grosze(l.unit_price_grosze),
            net: Money::from_grosze(l.net_grosze),
            vat_rate: l.vat_rate as u8,
        },
        kind: crate::invoice::line_kind(&l.kind),
        tariff_id: l.tariff_id,
    })
    .collect();
    Ok(Original {
        number: row.number,
        issue_date: row.issue_date,
        contract_id,
        customer_id: row.customer_id,
        supply_point_id: row.supply_point_id,
        from,
        to,
        lines,
        ksef_number: row.ksef_number,
    })
}

/// The correction of invoice `invoice_id` for `reason`, without a number: `issue` decides
/// it. Refused when pricing the days again gives the same lines.
async fn draft(
    conn: &mut PgConnection,
    utility_id: i64,
    invoice_id: i64,
    reason: &str,
    number: String,
) -> Result<Draft, CorrectionError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(invalid("reason", "Podaj przyczynę korekty."));
    }
    if reason.chars().count() > 256 {
        return Err(invalid(
            "reason",
            "Przyczyna może mieć najwyżej 256 znaków.",
        ));
    }
    let original = original(&mut *conn, utility_id, invoice_id).await?;
    let seller = pricing::seller(&mut *conn, utility_id).await?;
    let tariffs = pricing::tariffs(&mut *conn, utility_id).await?;
    let today = local_day(Utc::now());
    let ctx = Ctx {
        utility_id,
        seller: &seller,
        tariffs: &tariffs,
        first: original.from,
        last: original.to,
        issue_date: today,
        run_id: None,
        kind: "correction",
    };
    let prepared = pricing::prepare(&mut *conn, &ctx, &[original.contract_id]).await?;
    if let Some(problem) = prepared.problems.first() {
        return Err(invalid(
            "reason",
            format!("Nie da się rozliczyć okresu ponownie: {}.", problem.reason),
        ));
    }
    let (contract, billed) = prepared.priced.into_iter().next().ok_or_else(|| {
        invalid(
            "reason",
            "Umowa tej faktury nie obowiązuje już w jej okresie.",
        )
    })?;
    let before: Vec<Line> = original.lines.iter().map(|l| l.line.clone()).collect();
    let after: Vec<Line> = billed.lines.iter().map(|l| l.line.clone()).collect();
    if before == after {
        return Err(invalid(
            "reason",
            "Ponowne rozliczenie daje te same pozycje: popraw najpierw odczyt lub grupę taryfową umowy.",
        ));
    }
    let (rates, net, vat, gross) = amounts::correction_totals(&before, &after);
    // An increase is paid from the customer's overpayment first, like any invoice.
    let balance = issuing::balances(&mut *conn, &[original.customer_id])
        .await?
        .get(&original.customer_id)
        .copied()
        .unwrap_or_default();
    let credit_used = (-balance).max(Money::ZERO).min(gross.max(Money::ZERO));
    let document = InvoiceDocument {
        kind: Kind::Correction(Corrected {
            number: original.number.clone(),
            issue_date: original.issue_date,
            ksef_number: original.ksef_number.clone(),
            reason: reason.to_string(),
        }),
        number,
        issue_date: today,
        place_of_issue: Some(seller.city.clone()),
        period: Some((original.from, original.to)),
        sale_date: None,
        seller: seller.party.clone(),
        buyer: contract.buyer.clone(),
        supply_point: Some(contract.supply_point.clone()),
        lines_before: before,
        lines: after,
        rates,
        net,
        vat,
        gross,
        credit_used,
        amount_due: (gross - credit_used).max(Money::ZERO),
        due_date: today + chrono::Days::new(u64::from(seller.payment_term_days)),
        bank_account: seller.account_for(contract.customer_id),
        readings: billed.readings.clone(),
        notes: {
            let mut notes = billed.notes.clone();
            if credit_used > Money::ZERO {
                notes.push(format!(
                    "Zaliczono nadpłatę z poprzednich okresów: {}.",
                    ebok_common::polish::money(credit_used)
                ));
            }
            if gross.is_negative() {
                notes.push(format!(
                    "Kwota {} zmniejsza saldo i zostanie zaliczona na poczet kolejnych należności.",
                    ebok_common::polish::money(-gross)
                ));
            }
            notes
        },
        created_at: Utc::now(),
        ksef_number: None,
    };
    let xml = ksef::fa3_xml(&document);
    Ok(Draft {
        kind: "correction",
        customer_id: original.customer_id,
        contract_id: Some(original.contract_id),
        supply_point_id: original.supply_point_id,
        period: Some((original.from, original.to)),
        corrects_id: Some(invoice_id),
        lines: billed.lines,
        lines_before: original.lines,
        ends: billed.ends,
        estimated: billed.estimated,
        doc: document,
        xml,
        e_invoice: contract.e_invoice,
    })
}

/// The correction as it would be issued.
pub async fn preview(
    pool: &PgPool,
    utility_id: i64,
    invoice_id: i64,
    reason: &str,
) -> Result<Preview, CorrectionError> {
    // In a transaction that is rolled back: the balance is read with a lock, nothing is kept.
    let mut tx = pool.begin().await?;
    let draft = draft(&mut tx, utility_id, invoice_id, reason, "(podgląd)".into()).await?;
    Ok(Preview {
        document: draft.doc,
    })
}

/// Issues the correction of invoice `invoice_id`; the correction's id.
pub async fn issue(
    pool: &PgPool,
    utility_id: i64,
    invoice_id: i64,
    reason: &str,
) -> Result<i64, CorrectionError> {
    let today = local_day(Utc::now());
    let mut tx = pool.begin().await?;
    // Under the issuing lock: a concurrent correction of the same invoice, a run or a settlement
    // of the contract has committed or waits, and what follows reads it in this transaction.
    issuing::lock_issuing(&mut tx, utility_id).await?;
    let last = issuing::lock_counter(&mut tx, utility_id, SERIES, today).await?;
    let number = issuing::invoice_number(SERIES, today, last + 1);
    let draft = draft(&mut tx, utility_id, invoice_id, reason, number).await?;
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
    if draft.doc.gross < Money::ZERO {
        // A correction downwards is a credit: it pays what is open of the corrected invoice
        // first, then the oldest others; the rest is an overpayment.
        let entry = sqlx::query_scalar!(
            "SELECT id FROM ledger_entries WHERE invoice_id = $1 AND kind = 'correction'",
            ids[0]
        )
        .fetch_one(&mut *tx)
        .await?;
        allocation::allocate(
            &mut tx,
            draft.customer_id,
            entry,
            draft.doc.gross.abs(),
            Some(invoice_id),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(ids[0])
}
