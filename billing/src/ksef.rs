//! The FA(3) XML of an invoice: the structured invoice the national e-invoice system (KSeF)
//! takes, in the Ministry of Finance's schema `schemat_FA(3)_v1-0E.xsd` (namespace
//! `http://crd.gov.pl/wzor/2025/06/25/13775/`, a copy in `billing/schema/ksef/`), and the "KOD I"
//! verification link printed as a QR code on invoices delivered outside KSeF.
//!
//! # What is written
//!
//! One [`InvoiceDocument`] becomes one `Faktura`:
//!
//! - `Naglowek`: `FA` / `FA (3)` / `1-0E`, variant 3, `DataWytworzeniaFa` = the document's
//!   `created_at` in UTC, to the second.
//! - `Podmiot1`, the seller: NIP, name, a Polish address in two lines.
//! - `Podmiot2`, the buyer: NIP, or `BrakID` = 1 for a consumer; name, address, `NrKlienta` (the
//!   customer number), `JST` = 2 and `GV` = 2 (a utility's customer is neither a subordinate
//!   unit of a local government nor a member of a VAT group as far as the invoice is concerned).
//! - `Fa`: PLN; `P_1` issue date, `P_1M` place, `P_2` number; the billing period as
//!   `OkresFa` (`P_6_Od`, `P_6_Do`), or else the sale date as `P_6`; per VAT rate the net and
//!   the VAT (23/22% → `P_13_1`/`P_14_1`, 8/7% → `P_13_2`/`P_14_2`, 5% → `P_13_3`/`P_14_3`,
//!   0% → `P_13_6_1`), only the rates the invoice has, in the schema's order whatever the
//!   order of [`InvoiceDocument::rates`]; `P_15` gross; `Adnotacje` all "no" (no cash
//!   accounting, self-billing, reverse charge, split payment, exemption, new means of
//!   transport, simplified triangular procedure or margin scheme); `RodzajFaktury` `VAT` or
//!   `KOR`; for a correction the reason, `TypKorekty` and the corrected invoice (date, number,
//!   and its KSeF number or `NrKSeFN` = 1 when it has none); the supply point as a
//!   `DodatkowyOpis`; the lines (`FaWiersz`); credit from overpayments used for the invoice
//!   as `Rozliczenie` (an `Odliczenia` and `DoZaplaty`); and, when something is to be paid,
//!   `Platnosc`: the due date, transfer (`FormaPlatnosci` 6) and the account.
//! - A correction writes the lines as the schema's "before and after" method: the lines
//!   before the correction first, each with `StanPrzed` = 1 (the last element of `FaWiersz`),
//!   then the lines after it; a line keeps its number in both (`NrWierszaFa` repeats, as in
//!   the ministry's examples and the `invoice_lines` key). The totals (`P_13_x`, `P_14_x`,
//!   `P_15`) are the differences and may be negative: the amount types (`TKwotowy`) allow a
//!   leading minus.
//! - `TypKorekty` (how the correction enters the VAT records) follows the direction of the
//!   differences: a reduction takes effect when the correction is issued (art. 29a ust. 13 of
//!   the VAT act: code 2), an increase that corrects an error of the original invoice (a wrong
//!   reading, a wrong tariff) in the period of the original invoice (code 1), and one that
//!   raises one rate's amounts and lowers another's, so that its parts take effect on
//!   different dates, code 3. A correction that changes no amount is written as code 1.
//!
//! Amounts are written from [`Money::grosze`] as decimals with a dot and two decimals
//! (`-12.34`), unit prices the same, quantities from thousandths with as many decimals as they
//! need (`12.345`, `12.3`, `1`); never through floating point. Text is escaped (`&`, `<`, `>`),
//! characters XML cannot carry (control characters, U+FFFE, U+FFFF) become spaces, and a text
//! longer than its field allows (256 or 512 characters after the schema's whitespace collapse)
//! is cut: a rejected invoice is worse than a shortened correction reason.
//!
//! # Why by hand
//!
//! No Rust crate writes FA(3), and generating one from the 180 kB schema would give a type
//! for every one of its hundreds of elements to fill for the dozen a utility's invoice uses.
//! The invoice is small and flat, so it is written straight into one `String` in the
//! schema's order (which the schema enforces), with no intermediate tree: the billing run
//! renders thousands of these a second. The output is compact (no indentation), UTF-8
//! without BOM, and deterministic: the same document always gives the same bytes, so the
//! hash in the verification link ([`xml_hash_base64url`]) is the hash of the file sent.
//!
//! # Panics
//!
//! [`fa3_xml`] panics when the seller has no NIP or a VAT rate has no FA(3) field (anything
//! but 23, 22, 8, 7, 5 and 0): both are bugs in how the document was built, and there is no
//! valid FA(3) to write for them.

use std::fmt::Write as _;

use base64::Engine as _;
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use ebok_common::domain::Money;
use sha2::{Digest, Sha256};

use crate::document::{InvoiceDocument, Kind, Line, Party};

/// The FA(3) target namespace.
pub const NAMESPACE: &str = "http://crd.gov.pl/wzor/2025/06/25/13775/";

/// The official FA(3) schema, kept with the crate (`billing/schema/ksef/`, MIT licence), for
/// validating what [`fa3_xml`] writes (`xmllint --schema`).
pub const FA3_SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/schema/ksef/schemat_FA(3)_v1-0E.xsd"
);

/// Longest `TZnakowy` (characters, after whitespace collapse).
const ZNAKOWY: usize = 256;
/// Longest `TZnakowy512`.
const ZNAKOWY512: usize = 512;

/// What the buyer is told the credit deduction is (`Rozliczenie/Odliczenia/Powod`).
const CREDIT_REASON: &str = "Nadpłata z wcześniejszych okresów";
/// The key of the supply point's `DodatkowyOpis`.
const SUPPLY_POINT_KEY: &str = "Punkt poboru";

/// The FA(3) XML of the invoice, UTF-8 without BOM.
///
/// Panics when the seller has no NIP or a VAT rate has no FA(3) field (see the module
/// documentation).
pub fn fa3_xml(doc: &InvoiceDocument) -> String {
    let lines = doc.lines_before.len() + doc.lines.len();
    let mut x = Writer {
        out: String::with_capacity(2560 + 384 * lines),
    };
    x.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Faktura xmlns=\"");
    x.raw(NAMESPACE);
    x.raw("\">");

    x.raw(
        "<Naglowek><KodFormularza kodSystemowy=\"FA (3)\" wersjaSchemy=\"1-0E\">FA</KodFormularza>\
         <WariantFormularza>3</WariantFormularza><DataWytworzeniaFa>",
    );
    x.date_time(doc.created_at);
    x.raw("</DataWytworzeniaFa></Naglowek>");

    seller(&mut x, &doc.seller);
    buyer(&mut x, &doc.buyer);
    fa(&mut x, doc);

    x.raw("</Faktura>");
    x.out
}

/// base64url (no padding) of the SHA-256 of the XML bytes: the hash in the KSeF "KOD I" link.
pub fn xml_hash_base64url(xml: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(xml))
}

/// The KOD I verification link: `{base}/invoice/{seller NIP}/{P_1 as DD-MM-YYYY}/{hash}`; base is
/// e.g. `https://qr-test.ksef.mf.gov.pl` (configurable by the caller).
pub fn verification_url(base: &str, seller_nip: &str, issue_date: NaiveDate, xml: &[u8]) -> String {
    format!(
        "{}/invoice/{}/{:02}-{:02}-{:04}/{}",
        base.trim_end_matches('/'),
        seller_nip,
        issue_date.day(),
        issue_date.month(),
        issue_date.year(),
        xml_hash_base64url(xml)
    )
}

fn seller(x: &mut Writer, party: &Party) {
    let nip = party
        .nip
        .as_deref()
        .expect("FA(3): the seller (Podmiot1) must have a NIP");
    x.raw("<Podmiot1><DaneIdentyfikacyjne><NIP>");
    x.text(nip, ZNAKOWY);
    x.raw("</NIP><Nazwa>");
    x.text(&party.name, ZNAKOWY512);
    x.raw("</Nazwa></DaneIdentyfikacyjne>");
    address(x, party);
    x.raw("</Podmiot1>");
}

fn buyer(x: &mut Writer, party: &Party) {
    x.raw("<Podmiot2><DaneIdentyfikacyjne>");
    match party.nip.as_deref() {
        Some(nip) if !is_blank(nip) => x.element("NIP", nip, ZNAKOWY),
        _ => x.raw("<BrakID>1</BrakID>"),
    }
    x.element("Nazwa", &party.name, ZNAKOWY512);
    x.raw("</DaneIdentyfikacyjne>");
    if !is_blank(&party.address_line1) {
        address(x, party);
    }
    if let Some(number) = party.customer_number.as_deref() {
        x.optional("NrKlienta", number, ZNAKOWY);
    }
    x.raw("<JST>2</JST><GV>2</GV></Podmiot2>");
}

/// `TAdres`: a Polish address in two lines (the second optional).
fn address(x: &mut Writer, party: &Party) {
    x.raw("<Adres><KodKraju>PL</KodKraju>");
    x.element("AdresL1", &party.address_line1, ZNAKOWY512);
    x.optional("AdresL2", &party.address_line2, ZNAKOWY512);
    x.raw("</Adres>");
}

fn fa(x: &mut Writer, doc: &InvoiceDocument) {
    x.raw("<Fa><KodWaluty>PLN</KodWaluty>");
    x.date_element("P_1", doc.issue_date);
    if let Some(place) = doc.place_of_issue.as_deref() {
        x.optional("P_1M", place, ZNAKOWY);
    }
    x.element("P_2", &doc.number, ZNAKOWY);
    if let Some((from, to)) = doc.period {
        x.raw("<OkresFa>");
        x.date_element("P_6_Od", from);
        x.date_element("P_6_Do", to);
        x.raw("</OkresFa>");
    } else if let Some(sale_date) = doc.sale_date {
        x.date_element("P_6", sale_date);
    }

    totals(x, doc);
    x.money_element("P_15", doc.gross);
    x.raw(
        "<Adnotacje><P_16>2</P_16><P_17>2</P_17><P_18>2</P_18><P_18A>2</P_18A>\
         <Zwolnienie><P_19N>1</P_19N></Zwolnienie>\
         <NoweSrodkiTransportu><P_22N>1</P_22N></NoweSrodkiTransportu>\
         <P_23>2</P_23><PMarzy><P_PMarzyN>1</P_PMarzyN></PMarzy></Adnotacje>",
    );

    match &doc.kind {
        Kind::Vat => x.raw("<RodzajFaktury>VAT</RodzajFaktury>"),
        Kind::Correction(corrected) => {
            x.raw("<RodzajFaktury>KOR</RodzajFaktury>");
            x.optional("PrzyczynaKorekty", &corrected.reason, ZNAKOWY);
            x.raw("<TypKorekty>");
            x.out.push(correction_type(doc));
            x.raw("</TypKorekty><DaneFaKorygowanej>");
            x.date_element("DataWystFaKorygowanej", corrected.issue_date);
            x.element("NrFaKorygowanej", &corrected.number, ZNAKOWY);
            match corrected.ksef_number.as_deref() {
                Some(number) if !is_blank(number) => {
                    x.raw("<NrKSeF>1</NrKSeF>");
                    x.element("NrKSeFFaKorygowanej", number, ZNAKOWY);
                }
                _ => x.raw("<NrKSeFN>1</NrKSeFN>"),
            }
            x.raw("</DaneFaKorygowanej>");
        }
    }

    if let Some(supply_point) = doc.supply_point.as_deref().filter(|s| !is_blank(s)) {
        x.raw("<DodatkowyOpis><Klucz>");
        x.raw(SUPPLY_POINT_KEY);
        x.raw("</Klucz>");
        x.element("Wartosc", supply_point, ZNAKOWY);
        x.raw("</DodatkowyOpis>");
    }

    // A correction's lines before it, marked; an invoice that corrects nothing has none.
    if matches!(doc.kind, Kind::Correction(_)) {
        for line in &doc.lines_before {
            fa_wiersz(x, line, true);
        }
    }
    for line in &doc.lines {
        fa_wiersz(x, line, false);
    }

    if doc.credit_used != Money::ZERO {
        x.raw("<Rozliczenie><Odliczenia>");
        x.money_element("Kwota", doc.credit_used);
        x.raw("<Powod>");
        x.raw(CREDIT_REASON);
        x.raw("</Powod></Odliczenia>");
        x.money_element("SumaOdliczen", doc.credit_used);
        x.money_element("DoZaplaty", doc.amount_due);
        x.raw("</Rozliczenie>");
    }

    if doc.amount_due.grosze() > 0 {
        x.raw("<Platnosc><TerminPlatnosci>");
        x.date_element("Termin", doc.due_date);
        x.raw("</TerminPlatnosci><FormaPlatnosci>6</FormaPlatnosci>");
        if let Some(account) = doc.bank_account.as_deref().filter(|a| !is_blank(a)) {
            // NRB as printed may be grouped in fours; the field is the number itself.
            x.raw("<RachunekBankowy><NrRB>");
            for c in account.chars().filter(|c| !c.is_whitespace()) {
                x.escape_char(c);
            }
            x.raw("</NrRB></RachunekBankowy>");
        }
        x.raw("</Platnosc>");
    }
    x.raw("</Fa>");
}

/// The rate groups of `Fa`, in the schema's order: (net field, VAT field, rates).
const RATE_GROUPS: [(&str, Option<&str>, &[u8]); 4] = [
    ("P_13_1", Some("P_14_1"), &[23, 22]),
    ("P_13_2", Some("P_14_2"), &[8, 7]),
    ("P_13_3", Some("P_14_3"), &[5]),
    ("P_13_6_1", None, &[0]),
];

/// `P_13_x`/`P_14_x` for every rate group the invoice has, in the schema's order.
fn totals(x: &mut Writer, doc: &InvoiceDocument) {
    for rate in &doc.rates {
        let _panics_on_a_rate_without_a_field = rate_label(rate.vat_rate);
    }
    for (net_field, vat_field, rates) in RATE_GROUPS {
        let mut present = false;
        let (mut net, mut vat) = (Money::ZERO, Money::ZERO);
        for rate in doc.rates.iter().filter(|r| rates.contains(&r.vat_rate)) {
            present = true;
            net += rate.net;
            vat += rate.vat;
        }
        if present {
            x.money_element(net_field, net);
            if let Some(vat_field) = vat_field {
                x.money_element(vat_field, vat);
            }
        }
    }
}

/// `P_12` of a VAT rate in percent.
fn rate_label(rate: u8) -> &'static str {
    match rate {
        23 => "23",
        22 => "22",
        8 => "8",
        7 => "7",
        5 => "5",
        0 => "0 KR",
        _ => panic!("FA(3): no field for a VAT rate of {rate}% (supported: 23, 22, 8, 7, 5, 0)"),
    }
}

/// `TypKorekty` from the direction of the differences (see the module documentation).
fn correction_type(doc: &InvoiceDocument) -> char {
    let (mut up, mut down) = (false, false);
    let amounts = doc.rates.iter().flat_map(|r| [r.net, r.vat]);
    for amount in amounts.chain([doc.gross]) {
        up |= amount.grosze() > 0;
        down |= amount.grosze() < 0;
    }
    match (up, down) {
        (true, true) => '3',
        (false, true) => '2',
        _ => '1',
    }
}

fn fa_wiersz(x: &mut Writer, line: &Line, before: bool) {
    x.raw("<FaWiersz><NrWierszaFa>");
    write!(x.out, "{}", line.no).expect("writing to a String");
    x.raw("</NrWierszaFa>");
    x.element("P_7", &line.name, ZNAKOWY512);
    x.optional("P_8A", &line.unit, ZNAKOWY);
    x.raw("<P_8B>");
    x.quantity(line.quantity_milli);
    x.raw("</P_8B>");
    x.money_element("P_9A", line.unit_price);
    x.money_element("P_11", line.net);
    x.raw("<P_12>");
    x.raw(rate_label(line.vat_rate));
    x.raw("</P_12>");
    if before {
        x.raw("<StanPrzed>1</StanPrzed>");
    }
    x.raw("</FaWiersz>");
}

fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// Appends XML to one `String`.
struct Writer {
    out: String,
}

impl Writer {
    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// `<tag>text</tag>`.
    fn element(&mut self, tag: &str, text: &str, max_chars: usize) {
        self.open(tag);
        self.text(text, max_chars);
        self.close(tag);
    }

    /// `<tag>text</tag>` unless the text is blank (an optional field; the schema's strings are
    /// at least one character after whitespace collapse).
    fn optional(&mut self, tag: &str, text: &str, max_chars: usize) {
        if !is_blank(text) {
            self.element(tag, text, max_chars);
        }
    }

    fn money_element(&mut self, tag: &str, amount: Money) {
        self.open(tag);
        self.money(amount);
        self.close(tag);
    }

    fn date_element(&mut self, tag: &str, date: NaiveDate) {
        self.open(tag);
        self.date(date);
        self.close(tag);
    }

    fn open(&mut self, tag: &str) {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
    }

    fn close(&mut self, tag: &str) {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
    }

    /// `TKwotowy`/`TKwotowy2`: `-?\d+\.\d\d` from grosze, exactly.
    fn money(&mut self, amount: Money) {
        let grosze = amount.grosze();
        let abs = grosze.unsigned_abs();
        let sign = if grosze < 0 { "-" } else { "" };
        write!(self.out, "{sign}{}.{:02}", abs / 100, abs % 100).expect("writing to a String");
    }

    /// `TIlosci` from thousandths: `12.345`, `12.3`, `1`, `-0.5`.
    fn quantity(&mut self, milli: i64) {
        let abs = milli.unsigned_abs();
        let sign = if milli < 0 { "-" } else { "" };
        let (whole, mut fraction) = (abs / 1000, abs % 1000);
        if fraction == 0 {
            write!(self.out, "{sign}{whole}").expect("writing to a String");
            return;
        }
        let mut digits = 3;
        while fraction % 10 == 0 {
            fraction /= 10;
            digits -= 1;
        }
        write!(self.out, "{sign}{whole}.{fraction:0digits$}").expect("writing to a String");
    }

    /// `YYYY-MM-DD`.
    fn date(&mut self, date: NaiveDate) {
        write!(
            self.out,
            "{:04}-{:02}-{:02}",
            date.year(),
            date.month(),
            date.day()
        )
        .expect("writing to a String");
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`.
    fn date_time(&mut self, at: DateTime<Utc>) {
        self.date(at.date_naive());
        write!(
            self.out,
            "T{:02}:{:02}:{:02}Z",
            at.hour(),
            at.minute(),
            at.second()
        )
        .expect("writing to a String");
    }

    /// Text content, escaped, at most `max_chars` characters as the schema counts them (after
    /// collapsing whitespace).
    fn text(&mut self, text: &str, max_chars: usize) {
        // A string of n bytes has at most n characters, so the common case needs no counting.
        if text.len() <= max_chars {
            self.escape(text);
            return;
        }
        let mut kept = 0;
        let mut pending_space = false;
        for c in text.chars() {
            let c = if xml_char(c) { c } else { ' ' };
            if matches!(c, ' ' | '\t' | '\n' | '\r') {
                pending_space = kept > 0;
                continue;
            }
            if kept + usize::from(pending_space) + 1 > max_chars {
                break;
            }
            if pending_space {
                self.out.push(' ');
                kept += 1;
                pending_space = false;
            }
            self.escape_char(c);
            kept += 1;
        }
    }

    /// Escapes `&`, `<` and `>`, and writes a space for each character XML 1.0 cannot carry.
    fn escape(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let (replacement, len) = match bytes[i] {
                b'&' => ("&amp;", 1),
                b'<' => ("&lt;", 1),
                b'>' => ("&gt;", 1),
                b'\t' | b'\n' | b'\r' => ("", 0),
                0..=0x1f => (" ", 1),
                // U+FFFE and U+FFFF: EF BF BE, EF BF BF.
                0xef if bytes.get(i + 1) == Some(&0xbf)
                    && matches!(bytes.get(i + 2), Some(0xbe | 0xbf)) =>
                {
                    (" ", 3)
                }
                _ => ("", 0),
            };
            if len == 0 {
                i += 1;
                continue;
            }
            // Every boundary is an ASCII byte or the lead byte of a three-byte sequence.
            self.out.push_str(&text[start..i]);
            self.out.push_str(replacement);
            i += len;
            start = i;
        }
        self.out.push_str(&text[start..]);
    }

    fn escape_char(&mut self, c: char) {
        match c {
            '&' => self.out.push_str("&amp;"),
            '<' => self.out.push_str("&lt;"),
            '>' => self.out.push_str("&gt;"),
            c if xml_char(c) => self.out.push(c),
            _ => self.out.push(' '),
        }
    }
}

/// Whether XML 1.0 allows the character (`Char` of the XML specification, for what a Rust
/// `char` can be).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{fffd}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;
    use crate::document::{Corrected, RateTotal};

    const SCHEMA: &str = FA3_SCHEMA;

    /// Validates the XML against the FA(3) schema with xmllint: xmllint's complaint when it is
    /// not valid. Panics (the test fails, it is never skipped) when the schema or xmllint is
    /// missing.
    fn validate(name: &str, xml: &str) -> Result<(), String> {
        let schema: PathBuf = std::fs::canonicalize(SCHEMA)
            .unwrap_or_else(|e| panic!("the FA(3) schema is not at {SCHEMA} ({e})"));
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join(format!("{name}.xml"));
        std::fs::write(&file, xml).expect("writing the XML");
        let output = Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(&schema)
            .arg(&file)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run xmllint ({e}): install it (Debian: libxml2-utils; \
                     scripts/test-tools.sh does)"
                )
            });
        let stderr = String::from_utf8_lossy(&output.stderr);
        // xmllint exits 3 for an invalid document, 4/5 when it cannot read the schema.
        assert!(
            matches!(output.status.code(), Some(0 | 3)),
            "xmllint could not validate against {} ({}):\n{stderr}",
            schema.display(),
            output.status
        );
        if output.status.success() {
            Ok(())
        } else {
            Err(stderr.into_owned())
        }
    }

    #[track_caller]
    fn assert_valid(name: &str, xml: &str) {
        if let Err(complaint) = validate(name, xml) {
            panic!("{name}: not valid FA(3):\n{complaint}\n{xml}");
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a date")
    }

    fn zl(grosze: i64) -> Money {
        Money::from_grosze(grosze)
    }

    fn seller() -> Party {
        Party {
            name: "Zakład Wodociągów w Młynarach sp. z o.o.".into(),
            nip: Some("5782894411".into()),
            address_line1: "ul. Wodna 1".into(),
            address_line2: "14-420 Młynary".into(),
            customer_number: None,
        }
    }

    fn consumer() -> Party {
        Party {
            name: "Jan Kowalski".into(),
            nip: None,
            address_line1: "ul. Lipowa 5/2".into(),
            address_line2: "14-420 Młynary".into(),
            customer_number: Some("K/000123".into()),
        }
    }

    fn line(no: u32, name: &str, unit: &str, quantity_milli: i64, price: i64, rate: u8) -> Line {
        // quantity × price, half up (away from zero), to the grosz.
        let raw = i128::from(quantity_milli) * i128::from(price);
        let net = (raw.abs() + 500) / 1000 * raw.signum();
        Line {
            no,
            name: name.into(),
            unit: unit.into(),
            quantity_milli,
            unit_price: zl(price),
            net: zl(i64::try_from(net).expect("a small amount")),
            vat_rate: rate,
        }
    }

    /// Per-rate totals, VAT half up on each rate's net, in the order the rates first appear.
    fn rate_totals(lines: &[&Line]) -> Vec<RateTotal> {
        let mut rates: Vec<RateTotal> = Vec::new();
        for l in lines {
            match rates.iter_mut().find(|r| r.vat_rate == l.vat_rate) {
                Some(r) => r.net += l.net,
                None => rates.push(RateTotal {
                    vat_rate: l.vat_rate,
                    net: l.net,
                    vat: Money::ZERO,
                }),
            }
        }
        for r in &mut rates {
            let raw = i128::from(r.net.grosze()) * i128::from(r.vat_rate);
            let vat = (raw.abs() + 50) / 100 * raw.signum();
            r.vat = zl(i64::try_from(vat).expect("a small amount"));
        }
        rates
    }

    /// A consumer's periodic invoice: water, sewage and subscription at 8%.
    fn consumer_invoice() -> InvoiceDocument {
        let lines = vec![
            line(1, "Dostawa wody 01.11–30.11.2026", "m³", 12_345, 567, 8),
            line(
                2,
                "Odprowadzanie ścieków 01.11–30.11.2026",
                "m³",
                12_345,
                812,
                8,
            ),
            line(3, "Opłata abonamentowa", "mies.", 1_000, 1_250, 8),
        ];
        let rates = rate_totals(&lines.iter().collect::<Vec<_>>());
        document(Kind::Vat, consumer(), Vec::new(), lines, rates)
    }

    fn document(
        kind: Kind,
        buyer: Party,
        lines_before: Vec<Line>,
        lines: Vec<Line>,
        rates: Vec<RateTotal>,
    ) -> InvoiceDocument {
        let net: Money = rates.iter().map(|r| r.net).sum();
        let vat: Money = rates.iter().map(|r| r.vat).sum();
        let gross = net + vat;
        InvoiceDocument {
            kind,
            number: "FV/2026/11/000123".into(),
            issue_date: date(2026, 12, 1),
            place_of_issue: Some("Młynary".into()),
            period: Some((date(2026, 11, 1), date(2026, 11, 30))),
            sale_date: None,
            seller: seller(),
            buyer,
            supply_point: Some("PP-000123, ul. Lipowa 5, 14-420 Młynary".into()),
            lines_before,
            lines,
            rates,
            net,
            vat,
            gross,
            credit_used: Money::ZERO,
            amount_due: if gross.is_negative() {
                Money::ZERO
            } else {
                gross
            },
            due_date: date(2026, 12, 15),
            bank_account: Some("12 1020 1234 0000 0102 0304 0506".into()),
            readings: Vec::new(),
            notes: Vec::new(),
            created_at: Utc.with_ymd_and_hms(2026, 12, 1, 6, 0, 0).unwrap(),
            ksef_number: None,
        }
    }

    /// A correction of the consumer's invoice: the water reading was 2,5 m³ too high.
    fn correction(ksef_number: Option<&str>) -> InvoiceDocument {
        let before = consumer_invoice().lines;
        let after = vec![
            line(1, "Dostawa wody 01.11–30.11.2026", "m³", 9_845, 567, 8),
            line(
                2,
                "Odprowadzanie ścieków 01.11–30.11.2026",
                "m³",
                9_845,
                812,
                8,
            ),
            line(3, "Opłata abonamentowa", "mies.", 1_000, 1_250, 8),
        ];
        let old = rate_totals(&before.iter().collect::<Vec<_>>());
        let new = rate_totals(&after.iter().collect::<Vec<_>>());
        let rates = vec![RateTotal {
            vat_rate: 8,
            net: new[0].net - old[0].net,
            vat: new[0].vat - old[0].vat,
        }];
        let mut doc = document(
            Kind::Correction(Corrected {
                number: "FV/2026/11/000123".into(),
                issue_date: date(2026, 12, 1),
                ksef_number: ksef_number.map(String::from),
                reason: "Błędny odczyt licznika".into(),
            }),
            consumer(),
            before,
            after,
            rates,
        );
        doc.number = "KOR/2026/12/000007".into();
        doc.issue_date = date(2026, 12, 10);
        doc.created_at = Utc.with_ymd_and_hms(2026, 12, 10, 9, 30, 15).unwrap();
        doc
    }

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    /// The position of `needle`, which must be there.
    #[track_caller]
    fn at(haystack: &str, needle: &str) -> usize {
        haystack
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} not in\n{haystack}"))
    }

    #[test]
    fn consumer_invoice_with_a_period_is_valid() {
        let doc = consumer_invoice();
        let xml = fa3_xml(&doc);
        assert_valid("consumer", &xml);

        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Faktura xmlns=\"http://crd.gov.pl/wzor/2025/06/25/13775/\">"));
        assert!(xml.contains("<KodFormularza kodSystemowy=\"FA (3)\" wersjaSchemy=\"1-0E\">FA</KodFormularza><WariantFormularza>3</WariantFormularza><DataWytworzeniaFa>2026-12-01T06:00:00Z</DataWytworzeniaFa>"));
        assert!(xml.contains("<Podmiot1><DaneIdentyfikacyjne><NIP>5782894411</NIP><Nazwa>Zakład Wodociągów w Młynarach sp. z o.o.</Nazwa></DaneIdentyfikacyjne><Adres><KodKraju>PL</KodKraju><AdresL1>ul. Wodna 1</AdresL1><AdresL2>14-420 Młynary</AdresL2></Adres></Podmiot1>"));
        assert!(xml.contains("<Podmiot2><DaneIdentyfikacyjne><BrakID>1</BrakID><Nazwa>Jan Kowalski</Nazwa></DaneIdentyfikacyjne>"));
        assert!(xml.contains("<NrKlienta>K/000123</NrKlienta><JST>2</JST><GV>2</GV></Podmiot2>"));
        assert!(xml.contains("<P_1>2026-12-01</P_1><P_1M>Młynary</P_1M><P_2>FV/2026/11/000123</P_2><OkresFa><P_6_Od>2026-11-01</P_6_Od><P_6_Do>2026-11-30</P_6_Do></OkresFa>"));
        assert!(!xml.contains("<P_6>"));
        // 12,345 × 5,67 = 69,99615 → 70,00; 12,345 × 8,12 = 100,2414 → 100,24; + 12,50.
        assert!(
            xml.contains("<P_8B>12.345</P_8B><P_9A>5.67</P_9A><P_11>70.00</P_11><P_12>8</P_12>")
        );
        assert!(
            xml.contains("<P_8B>12.345</P_8B><P_9A>8.12</P_9A><P_11>100.24</P_11><P_12>8</P_12>")
        );
        assert!(
            xml.contains("<P_8A>mies.</P_8A><P_8B>1</P_8B><P_9A>12.50</P_9A><P_11>12.50</P_11>")
        );
        // 182,74 net, 14,62 VAT (14,6192), 197,36 gross.
        assert!(xml.contains(
            "<P_13_2>182.74</P_13_2><P_14_2>14.62</P_14_2><P_15>197.36</P_15><Adnotacje>"
        ));
        assert!(!xml.contains("<P_13_1>"));
        assert!(xml.contains("<RodzajFaktury>VAT</RodzajFaktury><DodatkowyOpis><Klucz>Punkt poboru</Klucz><Wartosc>PP-000123, ul. Lipowa 5, 14-420 Młynary</Wartosc></DodatkowyOpis><FaWiersz>"));
        assert!(!xml.contains("Korekty"));
        assert!(!xml.contains("StanPrzed"));
        assert_eq!(count(&xml, "<FaWiersz>"), 3);
        assert!(xml.contains("<Platnosc><TerminPlatnosci><Termin>2026-12-15</Termin></TerminPlatnosci><FormaPlatnosci>6</FormaPlatnosci><RachunekBankowy><NrRB>12102012340000010203040506</NrRB></RachunekBankowy></Platnosc></Fa></Faktura>"));
        assert!(!xml.contains("Rozliczenie"));
        // Deterministic: the hash in the QR code is the hash of the file sent.
        assert_eq!(xml, fa3_xml(&doc));
    }

    #[test]
    fn company_buyer_with_a_nip_and_a_sale_date_is_valid() {
        let mut doc = consumer_invoice();
        doc.buyer = Party {
            name: "Piekarnia Złoty Kłos sp. j.".into(),
            nip: Some("7393873360".into()),
            address_line1: "ul. Młyńska 12".into(),
            address_line2: "14-420 Młynary".into(),
            customer_number: Some("K/000777".into()),
        };
        doc.period = None;
        doc.sale_date = Some(date(2026, 11, 30));
        doc.place_of_issue = None;
        doc.supply_point = None;
        doc.bank_account = None;
        let xml = fa3_xml(&doc);
        assert_valid("company", &xml);

        assert!(xml.contains("<Podmiot2><DaneIdentyfikacyjne><NIP>7393873360</NIP><Nazwa>Piekarnia Złoty Kłos sp. j.</Nazwa></DaneIdentyfikacyjne>"));
        assert!(!xml.contains("BrakID"));
        assert!(xml.contains("<P_2>FV/2026/11/000123</P_2><P_6>2026-11-30</P_6><P_13_2>"));
        assert!(!xml.contains("OkresFa"));
        assert!(!xml.contains("P_1M"));
        assert!(!xml.contains("DodatkowyOpis"));
        assert!(xml.contains("<FormaPlatnosci>6</FormaPlatnosci></Platnosc>"));
        assert!(!xml.contains("RachunekBankowy"));
    }

    #[test]
    fn correction_of_an_invoice_with_a_ksef_number_is_valid() {
        let doc = correction(Some("5782894411-20261201-0A1B2C3D4E5F-7A"));
        let xml = fa3_xml(&doc);
        assert_valid("correction_ksef", &xml);

        // Differences: water 9,845 × 5,67 = 55,82 (−14,18), sewage 79,94 (−20,30); net −34,48,
        // VAT 11,86 − 14,62 = −2,76, gross −37,24.
        assert!(xml.contains("<P_13_2>-34.48</P_13_2><P_14_2>-2.76</P_14_2><P_15>-37.24</P_15>"));
        assert!(xml.contains("<RodzajFaktury>KOR</RodzajFaktury><PrzyczynaKorekty>Błędny odczyt licznika</PrzyczynaKorekty><TypKorekty>2</TypKorekty><DaneFaKorygowanej><DataWystFaKorygowanej>2026-12-01</DataWystFaKorygowanej><NrFaKorygowanej>FV/2026/11/000123</NrFaKorygowanej><NrKSeF>1</NrKSeF><NrKSeFFaKorygowanej>5782894411-20261201-0A1B2C3D4E5F-7A</NrKSeFFaKorygowanej></DaneFaKorygowanej>"));
        assert!(!xml.contains("NrKSeFN"));
        // Before lines first, each marked; then the after lines, unmarked, numbered alike.
        assert_eq!(count(&xml, "<FaWiersz>"), 6);
        assert_eq!(count(&xml, "<StanPrzed>1</StanPrzed></FaWiersz>"), 3);
        assert_eq!(count(&xml, "<NrWierszaFa>1</NrWierszaFa>"), 2);
        let last_before = xml.rfind("<StanPrzed>").expect("before lines");
        assert!(last_before < at(&xml, "<P_8B>9.845</P_8B>"));
        assert!(at(&xml, "<P_8B>12.345</P_8B>") < last_before);
        // Nothing to pay on a reduction.
        assert!(!xml.contains("Platnosc"));
    }

    #[test]
    fn correction_of_an_invoice_issued_outside_ksef_is_valid() {
        let xml = fa3_xml(&correction(None));
        assert_valid("correction_outside_ksef", &xml);
        assert!(xml.contains("<NrFaKorygowanej>FV/2026/11/000123</NrFaKorygowanej><NrKSeFN>1</NrKSeFN></DaneFaKorygowanej>"));
        assert!(!xml.contains("<NrKSeF>"));
    }

    #[test]
    fn correction_with_negative_lines_and_an_increase_is_valid() {
        // The reverse case: the reading was too low, and the after lines include an estimate
        // settled by a reading (a negative quantity); an amount a few grosze below zero.
        let before = vec![line(1, "Dostawa wody", "m³", 2_000, 567, 8)];
        let after = vec![
            line(1, "Dostawa wody", "m³", 4_500, 567, 8),
            line(2, "Rozliczenie zużycia szacunkowego", "m³", -1, 567, 8),
        ];
        let old = rate_totals(&before.iter().collect::<Vec<_>>());
        let new = rate_totals(&after.iter().collect::<Vec<_>>());
        let mut doc = correction(None);
        doc.lines_before = before;
        doc.lines = after;
        doc.rates = vec![RateTotal {
            vat_rate: 8,
            net: new[0].net - old[0].net,
            vat: new[0].vat - old[0].vat,
        }];
        doc.gross = doc.rates[0].net + doc.rates[0].vat;
        doc.amount_due = doc.gross;
        let xml = fa3_xml(&doc);
        assert_valid("correction_increase", &xml);
        // −0,001 m³ × 5,67 = −0,00567 → −0,01.
        assert!(xml.contains("<P_8B>-0.001</P_8B><P_9A>5.67</P_9A><P_11>-0.01</P_11>"));
        assert!(xml.contains("<TypKorekty>1</TypKorekty>"));
        // 25,52 − 11,34 − 0,01 = 14,17 net, VAT 1,13, gross 15,30: to be paid.
        assert!(xml.contains("<P_13_2>14.17</P_13_2><P_14_2>1.13</P_14_2><P_15>15.30</P_15>"));
        assert!(xml.contains("<Platnosc><TerminPlatnosci><Termin>2026-12-15</Termin>"));
    }

    #[test]
    fn invoice_with_8_and_23_percent_is_valid() {
        let lines = vec![
            line(1, "Dostawa wody", "m³", 10_000, 567, 8),
            line(
                2,
                "Wymiana wodomierza na wniosek odbiorcy",
                "szt.",
                1_000,
                15_000,
                23,
            ),
            line(3, "Odprowadzanie ścieków", "m³", 10_000, 812, 8),
        ];
        let rates = rate_totals(&lines.iter().collect::<Vec<_>>());
        assert_eq!(rates[0].vat_rate, 8, "8% listed first");
        let doc = document(Kind::Vat, consumer(), Vec::new(), lines, rates);
        let xml = fa3_xml(&doc);
        assert_valid("two_rates", &xml);
        // The schema's order (23% before 8%), whatever the order of the rates.
        assert!(xml.contains("<P_13_1>150.00</P_13_1><P_14_1>34.50</P_14_1><P_13_2>137.90</P_13_2><P_14_2>11.03</P_14_2><P_15>333.43</P_15>"));
        assert!(xml.contains("<P_11>150.00</P_11><P_12>23</P_12>"));
    }

    #[test]
    fn special_characters_are_escaped_and_polish_letters_kept() {
        let mut doc = consumer_invoice();
        doc.buyer.name = "Wspólnota Mieszkaniowa \"Źródło\" & Syn <Łódź> żółć ĘĄŚ".into();
        doc.buyer.address_line1 = "ul. Świętojańska 7 & 9 >A<".into();
        doc.lines[0].name = "Woda ]]> & ścieki\tz\nprzerwą".into();
        // Characters XML cannot carry become spaces.
        doc.lines[1].name = "Ścieki\u{1}\u{b}bytowe\u{fffe}\u{ffff}".into();
        let xml = fa3_xml(&doc);
        assert_valid("escaping", &xml);
        assert!(xml.contains(
            "<Nazwa>Wspólnota Mieszkaniowa \"Źródło\" &amp; Syn &lt;Łódź&gt; żółć ĘĄŚ</Nazwa>"
        ));
        assert!(xml.contains("<AdresL1>ul. Świętojańska 7 &amp; 9 &gt;A&lt;</AdresL1>"));
        assert!(xml.contains("<P_7>Woda ]]&gt; &amp; ścieki\tz\nprzerwą</P_7>"));
        assert!(xml.contains("<P_7>Ścieki  bytowe  </P_7>"));
    }

    #[test]
    fn long_and_blank_texts_fit_the_schema() {
        let mut doc = correction(None);
        let Kind::Correction(corrected) = &mut doc.kind else {
            unreachable!()
        };
        // 300 characters (600 bytes): cut to 256 after whitespace collapse.
        corrected.reason = format!("  Błędny   odczyt:\n{}", "ż".repeat(300));
        doc.buyer.address_line2 = "   ".into();
        doc.buyer.customer_number = Some(String::new());
        doc.place_of_issue = Some(" ".into());
        doc.lines[2].unit = String::new();
        let xml = fa3_xml(&doc);
        assert_valid("long_and_blank", &xml);
        let reason = format!("Błędny odczyt: {}", "ż".repeat(256 - 15));
        assert!(xml.contains(&format!("<PrzyczynaKorekty>{reason}</PrzyczynaKorekty>")));
        assert!(!xml.contains("NrKlienta"));
        assert!(!xml.contains("P_1M"));
        assert!(xml.contains("<AdresL1>ul. Lipowa 5/2</AdresL1></Adres><JST>"));
        assert!(xml.contains("<P_7>Opłata abonamentowa</P_7><P_8B>1</P_8B>"));
    }

    #[test]
    fn credit_used_is_a_deduction_and_paid_invoices_have_no_payment_terms() {
        let mut doc = consumer_invoice();
        doc.credit_used = zl(5_000);
        doc.amount_due = doc.gross - doc.credit_used;
        let xml = fa3_xml(&doc);
        assert_valid("credit", &xml);
        assert!(xml.contains("</FaWiersz><Rozliczenie><Odliczenia><Kwota>50.00</Kwota><Powod>Nadpłata z wcześniejszych okresów</Powod></Odliczenia><SumaOdliczen>50.00</SumaOdliczen><DoZaplaty>147.36</DoZaplaty></Rozliczenie><Platnosc>"));

        doc.credit_used = doc.gross;
        doc.amount_due = Money::ZERO;
        let xml = fa3_xml(&doc);
        assert_valid("credit_all", &xml);
        assert!(xml.contains("<DoZaplaty>0.00</DoZaplaty></Rozliczenie></Fa>"));
    }

    #[test]
    fn correction_type_follows_the_direction_of_the_differences() {
        let mut doc = correction(None);
        let rate = |vat_rate, net, vat| RateTotal {
            vat_rate,
            net: zl(net),
            vat: zl(vat),
        };
        doc.rates = vec![rate(8, -1000, -80)];
        doc.gross = zl(-1080);
        assert_eq!(correction_type(&doc), '2');
        doc.rates = vec![rate(8, 1000, 80)];
        doc.gross = zl(1080);
        assert_eq!(correction_type(&doc), '1');
        doc.rates = vec![rate(8, 0, 0)];
        doc.gross = Money::ZERO;
        assert_eq!(correction_type(&doc), '1');
        doc.rates = vec![rate(8, -1000, -80), rate(23, 1000, 230)];
        doc.gross = zl(150);
        assert_eq!(correction_type(&doc), '3');
        let xml = fa3_xml(&doc);
        assert_valid("correction_mixed", &xml);
        assert!(xml.contains("<P_13_1>10.00</P_13_1><P_14_1>2.30</P_14_1><P_13_2>-10.00</P_13_2><P_14_2>-0.80</P_14_2><P_15>1.50</P_15>"));
        assert!(xml.contains("<TypKorekty>3</TypKorekty>"));
    }

    #[test]
    fn zero_rate_and_the_5_percent_rate_have_their_fields() {
        let lines = vec![
            line(1, "Dostawa wody", "m³", 1_000, 567, 8),
            line(2, "Usługa", "szt.", 1_000, 1_000, 5),
            line(3, "Usługa 0%", "szt.", 1_000, 1_000, 0),
        ];
        let rates = rate_totals(&lines.iter().collect::<Vec<_>>());
        let doc = document(Kind::Vat, consumer(), Vec::new(), lines, rates);
        let xml = fa3_xml(&doc);
        assert_valid("rates_5_0", &xml);
        assert!(xml.contains("<P_13_2>5.67</P_13_2><P_14_2>0.45</P_14_2><P_13_3>10.00</P_13_3><P_14_3>0.50</P_14_3><P_13_6_1>10.00</P_13_6_1><P_15>26.62</P_15>"));
        assert!(xml.contains("<P_12>0 KR</P_12>"));
    }

    #[test]
    #[should_panic(expected = "no field for a VAT rate of 12%")]
    fn a_rate_without_a_field_is_a_bug() {
        let mut doc = consumer_invoice();
        doc.rates[0].vat_rate = 12;
        fa3_xml(&doc);
    }

    #[test]
    fn amounts_and_quantities_are_written_exactly() {
        let money = |grosze| {
            let mut x = Writer { out: String::new() };
            x.money(zl(grosze));
            x.out
        };
        assert_eq!(money(0), "0.00");
        assert_eq!(money(5), "0.05");
        assert_eq!(money(-5), "-0.05");
        assert_eq!(money(-1234), "-12.34");
        assert_eq!(money(123_456_789), "1234567.89");
        let quantity = |milli| {
            let mut x = Writer { out: String::new() };
            x.quantity(milli);
            x.out
        };
        assert_eq!(quantity(12_345), "12.345");
        assert_eq!(quantity(12_300), "12.3");
        assert_eq!(quantity(12_050), "12.05");
        assert_eq!(quantity(1_000), "1");
        assert_eq!(quantity(0), "0");
        assert_eq!(quantity(-500), "-0.5");
        assert_eq!(quantity(-1), "-0.001");
        assert_eq!(quantity(7), "0.007");
    }

    proptest! {
        #[test]
        fn money_reads_back(grosze in -100_000_000_000_000i64..100_000_000_000_000) {
            let mut x = Writer { out: String::new() };
            x.money(zl(grosze));
            prop_assert_eq!(Money::parse(&x.out), Ok(zl(grosze)));
            let digits = x.out.trim_start_matches('-');
            prop_assert!(!digits.starts_with('0') || digits.starts_with("0."));
        }

        #[test]
        fn quantity_reads_back(milli in -1_000_000_000_000i64..1_000_000_000_000) {
            let mut x = Writer { out: String::new() };
            x.quantity(milli);
            let (negative, digits) = match x.out.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, x.out.as_str()),
            };
            let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
            prop_assert!(fraction.len() <= 3 && !fraction.ends_with('0'));
            prop_assert!(whole == "0" || !whole.starts_with('0'));
            let fraction = format!("{fraction:0<3}");
            let value = whole.parse::<i64>().unwrap() * 1000 + fraction.parse::<i64>().unwrap();
            prop_assert_eq!(if negative { -value } else { value }, milli);
        }

        #[test]
        fn text_is_escaped_and_cut_to_the_character(text in "\\PC{0,300}", max in 1usize..300) {
            let mut x = Writer { out: String::new() };
            x.text(&text, max);
            prop_assert!(!x.out.contains('<') && !x.out.contains('>'));
            let unescaped = x.out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
            prop_assert!(unescaped.chars().count() <= max || text.len() <= max);
            prop_assert!(unescaped.chars().all(xml_char));
        }
    }

    #[test]
    fn hash_is_base64url_of_sha256_without_padding() {
        // printf abc | sha256sum → ba7816bf…20015ad
        assert_eq!(
            xml_hash_base64url(b"abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
        // Both URL-safe characters and no '=' padding (32 bytes → 43 characters).
        assert_eq!(
            xml_hash_base64url(b"<Faktura/>"),
            "XWAwbj918SGCaDlMnqGTNpRl32IykC0imJOL6KKYyFs"
        );
    }

    #[test]
    fn verification_url_is_kod_i() {
        let xml = b"abc";
        let expected = "https://qr-test.ksef.mf.gov.pl/invoice/5782894411/01-12-2026/ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0";
        assert_eq!(
            verification_url(
                "https://qr-test.ksef.mf.gov.pl",
                "5782894411",
                date(2026, 12, 1),
                xml
            ),
            expected
        );
        assert_eq!(
            verification_url(
                "https://qr-test.ksef.mf.gov.pl/",
                "5782894411",
                date(2026, 12, 1),
                xml
            ),
            expected
        );
        let doc = consumer_invoice();
        let xml = fa3_xml(&doc);
        let url = verification_url(
            "https://qr.ksef.mf.gov.pl",
            "5782894411",
            doc.issue_date,
            xml.as_bytes(),
        );
        assert!(url.starts_with("https://qr.ksef.mf.gov.pl/invoice/5782894411/01-12-2026/"));
        assert!(url.ends_with(&xml_hash_base64url(xml.as_bytes())));
    }

    #[test]
    fn the_validation_catches_what_the_schema_forbids() {
        assert!(
            Path::new(SCHEMA).is_file(),
            "the FA(3) schema is not at {SCHEMA}: the repository must be checked out next to \
             shared/"
        );
        let xml = fa3_xml(&consumer_invoice());
        let swapped = xml.replace("<JST>2</JST><GV>2</GV>", "<GV>2</GV><JST>2</JST>");
        let complaint = validate("swapped", &swapped).expect_err("GV before JST is invalid");
        assert!(complaint.contains("GV"), "{complaint}");
        let spaced = xml.replace("<P_15>197.36</P_15>", "<P_15>197,36</P_15>");
        validate("comma", &spaced).expect_err("a decimal comma is invalid");
        let stan_przed = xml.replace(
            "</P_12></FaWiersz>",
            "</P_12><StanPrzed>2</StanPrzed></FaWiersz>",
        );
        validate("stan_przed", &stan_przed).expect_err("StanPrzed is 1 or absent");
    }
}
