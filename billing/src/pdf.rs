//! The PDF of an invoice, for people: an A4 document in Polish with everything art. 106e of the
//! VAT act asks of an invoice (and art. 106j of a correction), the payment details, the meter
//! readings the consumption came from, and the KSeF verification code ("KOD I"). [`invoice_pdf`]
//! renders one invoice, [`print_batch`] many into one file for the mailing house.
//!
//! The page machinery (the fonts with their Polish letters, the canvas, blocks, tables, the QR
//! code, deterministic bytes) is the `ebok-pdf` crate's; this module says what an invoice
//! shows and where. The same invoice gives the same bytes: its `CreationDate` is its
//! `created_at`.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use ebok_common::domain::Money;
use ebok_common::domain::time::BILLING_TZ;
use ebok_common::polish;
use ebok_pdf::{
    ACCENT, Align, BODY, BODY_BOLD, BOX, Block, Canvas, Column, FOOT, Font, INK, LABEL, LEFT,
    MUTED, PANEL, Page, RIGHT, Row, Style, WIDTH, assemble, col, fit,
};

use crate::document::{InvoiceDocument, Kind, Line, MeterReading};

/// The PDF of the invoice. `verification_url` is the KSeF KOD I link encoded in the QR code (the caller computes it from the FA(3) XML).
pub fn invoice_pdf(doc: &InvoiceDocument, verification_url: &str) -> Vec<u8> {
    let pages = render(doc, verification_url);
    let title = format!("{} {}", title(doc), doc.number);
    assemble(pages, &title, &doc.seller.name, doc.created_at)
}

/// Many invoices in one PDF, each starting on a new page: the print batch for a mailing house.
pub fn print_batch(docs: &[(InvoiceDocument, String)]) -> Vec<u8> {
    let mut pages = Vec::new();
    for (doc, url) in docs {
        pages.extend(render(doc, url));
    }
    let created = docs
        .iter()
        .map(|(doc, _)| doc.created_at)
        .max()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let author = docs
        .first()
        .map(|(doc, _)| doc.seller.name.as_str())
        .unwrap_or("");
    let title = format!("Faktury do wysyłki ({})", docs.len());
    assemble(pages, &title, author, created)
}

// ---------------------------------------------------------------------------------------------
// The invoice's own styles (the shared ones are ebok_pdf's).

const CAPTION: Style = Style::new(Font::Bold, 7.0, ACCENT);
const SELLER: Style = Style::new(Font::Bold, 11.5, ACCENT);
const BUYER: Style = Style::new(Font::Bold, 10.0, INK);
const TITLE: Style = Style::new(Font::Bold, 18.0, ACCENT);
const NUMBER: Style = Style::new(Font::Bold, 11.0, INK);
const DUE: Style = Style::new(Font::Bold, 14.0, ACCENT);
const DUE_LABEL: Style = Style::new(Font::Bold, 10.0, ACCENT);
const ACCOUNT: Style = Style::new(Font::Bold, 11.0, INK);
const QR_LABEL: Style = Style::new(Font::Bold, 7.0, INK);
const LABEL_SMALL: Style = Style::new(Font::Regular, 6.5, MUTED);

// ---------------------------------------------------------------------------------------------
// The invoice.

fn title(doc: &InvoiceDocument) -> &'static str {
    match doc.kind {
        Kind::Vat => "Faktura VAT",
        Kind::Correction(_) => "Faktura korygująca",
    }
}

/// A date as invoices print it: "01.12.2026".
fn date(day: NaiveDate) -> String {
    format!("{:02}.{:02}.{}", day.day(), day.month(), day.year())
}

/// The Warsaw day of an instant, as [`date`] prints it.
fn local_date(at: DateTime<Utc>) -> String {
    date(at.with_timezone(&BILLING_TZ).date_naive())
}

/// An amount in a table, without the currency: "1 234,56".
fn amount(money: Money) -> String {
    let mut text = polish::money(money);
    let len = text.trim_end_matches("zł").trim_end_matches('\u{a0}').len();
    text.truncate(len);
    text
}

/// An NRB in the groups it is printed in: "26 1030 1944 …" (anything else as given).
fn account(nrb: &str) -> String {
    let digits: String = nrb.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != 26 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return nrb.to_string();
    }
    let mut out = String::with_capacity(32);
    out.push_str(&digits[..2]);
    for group in digits.as_bytes()[2..].chunks(4) {
        out.push(' ');
        out.push_str(std::str::from_utf8(group).unwrap_or_default());
    }
    out
}

fn render(doc: &InvoiceDocument, verification_url: &str) -> Vec<Page> {
    let heading = format!("{} nr {}", title(doc), doc.number);
    let mut c = Canvas::new(&heading);
    header(&mut c, doc);
    parties(&mut c, doc);
    match &doc.kind {
        Kind::Vat => lines_table(&mut c, "Pozycje faktury", &doc.lines),
        Kind::Correction(_) => {
            lines_table(&mut c, "Przed korektą", &doc.lines_before);
            lines_table(&mut c, "Po korekcie", &doc.lines);
        }
    }
    vat_summary(&mut c, doc);
    payment(&mut c, doc, verification_url);
    readings(&mut c, &doc.readings);
    notes(&mut c, &doc.notes);
    // The footer: the seller (left), the invoice and the page (right).
    let mut seller = doc.seller.name.clone();
    if let Some(nip) = &doc.seller.nip {
        seller.push_str(" · NIP ");
        seller.push_str(nip);
    }
    let seller = fit(FOOT, &seller, WIDTH * 0.55);
    c.finish(&seller, |number, total| {
        format!(
            "{} nr {} · strona {number} z {total}",
            title(doc),
            doc.number
        )
    })
}

/// The seller (left) and the invoice's title, number and dates (right).
fn header(c: &mut Canvas, doc: &InvoiceDocument) {
    let top = c.y;
    let left_w = 255.0;
    let mut seller = Block::default();
    seller
        .line(CAPTION, "SPRZEDAWCA")
        .gap(2.0)
        .wrapped(SELLER, &doc.seller.name, left_w, 3)
        .gap(1.0)
        .line(BODY, doc.seller.address_line1.clone())
        .line(BODY, doc.seller.address_line2.clone());
    if let Some(nip) = &doc.seller.nip {
        seller.line(BODY, format!("NIP: {nip}"));
    }

    let rx = RIGHT - 228.0;
    let rw = RIGHT - rx;
    let mut right = Block::default();
    right
        .line(TITLE, title(doc))
        .line(NUMBER, format!("nr {}", doc.number))
        .gap(5.0)
        .pair("Data wystawienia:", BODY_BOLD, date(doc.issue_date));
    if let Some(place) = &doc.place_of_issue {
        right.pair("Miejsce wystawienia:", BODY_BOLD, place.clone());
    }
    if let Some((from, to)) = doc.period {
        right.pair(
            "Okres rozliczeniowy:",
            BODY_BOLD,
            format!("{}–{}", date(from), date(to)),
        );
    }
    if let Some(sale) = doc.sale_date {
        right.pair("Data sprzedaży:", BODY_BOLD, date(sale));
    }
    if let Kind::Correction(corrected) = &doc.kind {
        right
            .gap(3.0)
            .pair("Korygowana faktura:", BODY_BOLD, corrected.number.clone())
            .pair(
                "Data wystawienia korygowanej:",
                BODY_BOLD,
                date(corrected.issue_date),
            );
        if let Some(ksef) = &corrected.ksef_number {
            // A KSeF number is too long to share its line with a label.
            right
                .line(LABEL, "Numer KSeF faktury korygowanej:")
                .pair("", BODY_BOLD, ksef.clone());
        }
    }
    if let Some(ksef) = &doc.ksef_number {
        right
            .line(LABEL, "Numer KSeF faktury:")
            .pair("", BODY_BOLD, ksef.clone());
    }
    let bottom_left = seller.draw(c, LEFT, left_w, top);
    let bottom_right = right.draw(c, rx, rw, top);
    c.y = bottom_left.min(bottom_right) - 12.0;
}

/// The buyer and the supply point, side by side on shaded boxes; a correction's reason below.
fn parties(c: &mut Canvas, doc: &InvoiceDocument) {
    let gutter = 12.0;
    let pad = 8.0;
    let box_w = (WIDTH - gutter) / 2.0;
    let inner = box_w - 2.0 * pad;

    let mut buyer = Block::default();
    buyer
        .line(CAPTION, "NABYWCA")
        .gap(2.0)
        .wrapped(BUYER, &doc.buyer.name, inner, 3)
        .gap(1.0)
        .wrapped(BODY, &doc.buyer.address_line1, inner, 2)
        .wrapped(BODY, &doc.buyer.address_line2, inner, 2);
    if let Some(nip) = &doc.buyer.nip {
        buyer.line(BODY, format!("NIP: {nip}"));
    }
    if let Some(number) = &doc.buyer.customer_number {
        buyer
            .gap(3.0)
            .labelled(BODY, "Nr klienta:", BODY_BOLD, number.clone(), true);
    }

    let mut point = Block::default();
    if let Some(supply_point) = &doc.supply_point {
        point
            .line(CAPTION, "PUNKT POBORU")
            .gap(2.0)
            .wrapped(BODY_BOLD, supply_point, inner, 4);
    }

    let height = buyer.height().max(point.height()) + 2.0 * pad;
    c.ensure(height);
    let top = c.y;
    c.fill_rect(LEFT, top - height, box_w, height, BOX);
    buyer.draw(c, LEFT + pad, inner, top - pad + 1.0);
    if !point.is_empty() {
        let x = LEFT + box_w + gutter;
        c.fill_rect(x, top - height, box_w, height, BOX);
        point.draw(c, x + pad, inner, top - pad + 1.0);
    }
    c.y = top - height - 6.0;

    if let Kind::Correction(corrected) = &doc.kind {
        c.y -= 4.0;
        let mut reason = Block::default();
        reason.line(CAPTION, "PRZYCZYNA KOREKTY").gap(1.0).wrapped(
            BODY_BOLD,
            &corrected.reason,
            WIDTH - 2.0 * pad,
            6,
        );
        let height = reason.height() + 2.0 * pad - 2.0;
        c.ensure(height);
        let top = c.y;
        c.fill_rect(LEFT, top - height, WIDTH, height, PANEL);
        reason.draw(c, LEFT + pad, WIDTH - 2.0 * pad, top - pad + 1.0);
        c.y = top - height - 6.0;
    }
}

const LINE_COLUMNS: [Column; 7] = [
    col("Lp.", 22.0, Align::Center),
    col("Nazwa towaru lub usługi", 225.0, Align::Left),
    col("J.m.", 32.0, Align::Center),
    col("Ilość", 52.0, Align::Right),
    col("Cena netto\n[zł]", 58.0, Align::Right),
    col("Wartość netto\n[zł]", 82.0, Align::Right),
    col(
        "VAT\n[%]",
        WIDTH - 22.0 - 225.0 - 32.0 - 52.0 - 58.0 - 82.0,
        Align::Right,
    ),
];

fn lines_table(c: &mut Canvas, title: &str, lines: &[Line]) {
    let rows: Vec<Row> = lines
        .iter()
        .map(|line| Row {
            cells: vec![
                line.no.to_string(),
                line.name.clone(),
                line.unit.clone(),
                polish::m3(line.quantity_milli),
                amount(line.unit_price),
                amount(line.net),
                format!("{}%", line.vat_rate),
            ],
            bold: false,
        })
        .collect();
    c.y -= 4.0;
    c.table(Some(title), LEFT, &LINE_COLUMNS, &rows);
}

const RATE_COLUMNS: [Column; 4] = [
    col("Stawka VAT", 70.0, Align::Left),
    col("Wartość netto\n[zł]", 80.0, Align::Right),
    col("Kwota VAT\n[zł]", 80.0, Align::Right),
    col("Wartość brutto\n[zł]", 85.0, Align::Right),
];

/// Net, VAT and gross per rate, and the totals (for a correction, the differences).
fn vat_summary(c: &mut Canvas, doc: &InvoiceDocument) {
    let mut rows: Vec<Row> = doc
        .rates
        .iter()
        .map(|rate| Row {
            cells: vec![
                format!("{}%", rate.vat_rate),
                amount(rate.net),
                amount(rate.vat),
                amount(rate.net + rate.vat),
            ],
            bold: false,
        })
        .collect();
    rows.push(Row {
        cells: vec![
            "Razem".to_string(),
            amount(doc.net),
            amount(doc.vat),
            amount(doc.gross),
        ],
        bold: true,
    });
    let title = match doc.kind {
        Kind::Vat => "Podsumowanie według stawek VAT",
        Kind::Correction(_) => "Kwoty korekty według stawek VAT (różnica)",
    };
    let width: f32 = RATE_COLUMNS.iter().map(|c| c.width).sum();
    c.y -= 6.0;
    c.table(Some(title), RIGHT - width, &RATE_COLUMNS, &rows);
}

const QR_SIZE: f32 = 96.0;

/// What to pay, by when and where, next to the KSeF verification code.
fn payment(c: &mut Canvas, doc: &InvoiceDocument, verification_url: &str) {
    let pad = 10.0;
    let box_w = WIDTH - QR_SIZE - 24.0;
    let inner = box_w - 2.0 * pad;
    let values_w: f32 = 270.0;

    let mut block = Block::default();
    match doc.kind {
        Kind::Vat => block.pair(
            "Należność ogółem (brutto):",
            BODY_BOLD,
            polish::money(doc.gross),
        ),
        Kind::Correction(_) => block.pair(
            "Kwota korekty (brutto):",
            BODY_BOLD,
            polish::money(doc.gross),
        ),
    };
    if doc.credit_used != Money::ZERO {
        block.pair(
            "Nadpłata zaliczona:",
            BODY_BOLD,
            polish::money(doc.credit_used),
        );
    }
    block
        .gap(2.0)
        .labelled(
            DUE_LABEL,
            "Do zapłaty:",
            DUE,
            polish::money(doc.amount_due),
            false,
        )
        .wrapped(
            BODY,
            &format!("Słownie: {}", polish::money_in_words(doc.amount_due)),
            inner,
            3,
        )
        .gap(4.0)
        .pair("Termin płatności:", BODY_BOLD, date(doc.due_date))
        .gap(4.0);
    match &doc.bank_account {
        Some(nrb) => {
            block
                .line(LABEL, "Numer rachunku do wpłat:")
                .line(ACCOUNT, account(nrb))
                .wrapped(
                    LABEL,
                    &format!("Tytuł przelewu: {}", transfer_title(doc)),
                    inner,
                    2,
                );
        }
        None => {
            block
                .line(LABEL, "Numer rachunku do wpłat:")
                .line(BODY_BOLD, "Numer rachunku zostanie podany wkrótce");
        }
    }

    let qr_block = QR_SIZE + 33.0;
    let height = (block.height() + 2.0 * pad).max(qr_block);
    c.y -= 10.0;
    c.ensure(height + 4.0);
    let top = c.y;
    c.fill_rect(LEFT, top - height, box_w, height, PANEL);
    block.draw(c, LEFT + pad, values_w.min(inner), top - pad + 2.0);

    // KOD I: the invoice's verification link, labelled with its KSeF number or OFFLINE.
    // The code keeps a quiet zone of white paper around it: four modules, about 9 pt.
    let qx = RIGHT - QR_SIZE;
    c.text_center(
        LABEL_SMALL,
        qx + QR_SIZE / 2.0,
        top - 4.5,
        "Zweryfikuj fakturę w KSeF",
    );
    let qr_top = top - 15.0;
    c.qr(verification_url, qx, qr_top, QR_SIZE);
    let label = doc.ksef_number.as_deref().unwrap_or("OFFLINE");
    // A KSeF number (35 characters) is wider than the code: smaller, up to the margin.
    let room = QR_SIZE + 28.0;
    let wide = QR_LABEL.width(label);
    let label_style = if wide > room {
        Style::new(Font::Bold, QR_LABEL.size * room / wide, INK)
    } else {
        QR_LABEL
    };
    c.text_center(
        label_style,
        qx + QR_SIZE / 2.0,
        qr_top - QR_SIZE - 14.0,
        label,
    );
    c.y = top - height - 4.0;
}

fn transfer_title(doc: &InvoiceDocument) -> String {
    match &doc.buyer.customer_number {
        Some(customer) => format!("{}, nr klienta {customer}", doc.number),
        None => doc.number.clone(),
    }
}

const READING_COLUMNS: [Column; 7] = [
    col("Licznik", 104.0, Align::Left),
    col("Od: data", 54.0, Align::Center),
    col("Od: stan\n[m³]", 62.0, Align::Right),
    col("Do: data", 54.0, Align::Center),
    col("Do: stan\n[m³]", 62.0, Align::Right),
    col("Zużycie\n[m³]", 60.0, Align::Right),
    col(
        "Uwagi",
        WIDTH - 104.0 - 54.0 - 62.0 - 54.0 - 62.0 - 60.0,
        Align::Left,
    ),
];

fn purpose(purpose: &str) -> &str {
    match purpose {
        "main" => "główny",
        "garden" => "ogrodowy",
        "sewage" => "ścieki",
        other => other,
    }
}

/// How a register was found, when it was not simply read.
fn register_kind(kind: &str) -> Option<&str> {
    match kind {
        "read" | "" => None,
        "estimate" => Some("szacunek"),
        "interpolated" => Some("interpolacja"),
        "installation" => Some("montaż"),
        "removal" => Some("demontaż"),
        other => Some(other),
    }
}

fn readings(c: &mut Canvas, readings: &[MeterReading]) {
    if readings.is_empty() {
        return;
    }
    let rows: Vec<Row> = readings
        .iter()
        .map(|reading| {
            let mut marks = Vec::new();
            if let Some(kind) = register_kind(&reading.from_kind) {
                marks.push(format!("od: {kind}"));
            }
            if let Some(kind) = register_kind(&reading.to_kind) {
                marks.push(format!("do: {kind}"));
            }
            Row {
                cells: vec![
                    format!("{} ({})", reading.serial, purpose(&reading.purpose)),
                    local_date(reading.from_at),
                    polish::m3(reading.from_litres),
                    local_date(reading.to_at),
                    polish::m3(reading.to_litres),
                    polish::m3(reading.litres),
                    marks.join(", "),
                ],
                bold: false,
            }
        })
        .collect();
    c.y -= 8.0;
    c.table(Some("Odczyty liczników"), LEFT, &READING_COLUMNS, &rows);
}

fn notes(c: &mut Canvas, notes: &[String]) {
    if notes.is_empty() {
        return;
    }
    c.y -= 8.0;
    c.section("Uwagi", BODY.leading());
    for note in notes {
        c.paragraph(BODY, LEFT, WIDTH, note);
        c.y -= 2.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_grouped() {
        assert_eq!(
            account("26103019440000000012345678"),
            "26 1030 1944 0000 0000 1234 5678"
        );
        assert_eq!(account("PL12"), "PL12");
    }
}
