//! The invoice PDF read back the way a person's viewer reads it: `pdftotext` (poppler-utils,
//! installed by scripts/test-tools.sh) must find the Polish text, the amounts and the KSeF
//! label, so the fonts' encoding is checked end to end, not only the bytes we wrote.
//!
//! Set `EBOK_PDF_SAMPLES=/some/folder` to keep the rendered samples (to look at them).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use ebok_billing::document::{
    Corrected, InvoiceDocument, Kind, Line, MeterReading, Party, RateTotal,
};
use ebok_billing::pdf::{invoice_pdf, print_batch};
use ebok_common::domain::Money;

const URL: &str = "https://qr-test.ksef.mf.gov.pl/invoice/5250001090/01-12-2026/\
                   UtvIChQbPqXzPQDjPzZA8k0wg7y_XXyl8R5yBv1JNmU";
/// Every Polish letter, both cases: "Zażółć gęślą jaźń".
const BUYER: &str = "Maciej Żółć-Gęślą-Jaźń";

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn zl(grosze: i64) -> Money {
    Money::from_grosze(grosze)
}

fn line(no: u32, name: &str, unit: &str, quantity_milli: i64, price: i64, net: i64) -> Line {
    Line {
        no,
        name: name.to_string(),
        unit: unit.to_string(),
        quantity_milli,
        unit_price: zl(price),
        net: zl(net),
        vat_rate: 8,
    }
}

fn seller() -> Party {
    Party {
        name: "Zakład Wodociągów i Kanalizacji w Młynarach sp. z o.o.".to_string(),
        nip: Some("5821234567".to_string()),
        address_line1: "ul. Dworcowa 12".to_string(),
        address_line2: "14-420 Młynary".to_string(),
        customer_number: None,
    }
}

fn reading(
    serial: &str,
    purpose: &str,
    from: i64,
    to: i64,
    from_kind: &str,
    to_kind: &str,
) -> MeterReading {
    MeterReading {
        serial: serial.to_string(),
        purpose: purpose.to_string(),
        from_at: at("2026-10-31T23:00:00Z"),
        from_litres: from,
        to_at: at("2026-11-30T23:00:00Z"),
        to_litres: to,
        litres: to - from,
        to_kind: to_kind.to_string(),
        from_kind: from_kind.to_string(),
    }
}

/// A resident's monthly invoice: water, sewage and the subscription; part of it paid from an
/// earlier overpayment.
fn consumer() -> InvoiceDocument {
    InvoiceDocument {
        kind: Kind::Vat,
        number: "FV/2026/11/000123".to_string(),
        issue_date: d(2026, 12, 1),
        place_of_issue: Some("Młynary".to_string()),
        period: Some((d(2026, 11, 1), d(2026, 11, 30))),
        sale_date: None,
        seller: seller(),
        buyer: Party {
            name: BUYER.to_string(),
            nip: None,
            address_line1: "ul. Źródlana 5/2".to_string(),
            address_line2: "14-420 Młynary".to_string(),
            customer_number: Some("K-004217".to_string()),
        },
        supply_point: Some("PP-0042, ul. Źródlana 5, 14-420 Młynary".to_string()),
        lines_before: Vec::new(),
        lines: vec![
            line(
                1,
                "Dostawa wody 01.11–30.11.2026 (taryfa od 01.01.2026)",
                "m³",
                12_345,
                567,
                7_000,
            ),
            line(
                2,
                "Odprowadzanie ścieków 01.11–30.11.2026 (taryfa od 01.01.2026)",
                "m³",
                12_345,
                890,
                10_987,
            ),
            line(3, "Opłata abonamentowa", "mies.", 1_000, 450, 450),
        ],
        rates: vec![RateTotal {
            vat_rate: 8,
            net: zl(18_437),
            vat: zl(1_475),
        }],
        net: zl(18_437),
        vat: zl(1_475),
        gross: zl(19_912),
        credit_used: zl(2_000),
        amount_due: zl(17_912),
        due_date: d(2026, 12, 15),
        bank_account: Some("26103019440000000012345678".to_string()),
        readings: vec![
            reading(
                "WM-2019-55120",
                "main",
                102_250,
                114_595,
                "read",
                "estimate",
            ),
            reading(
                "WG-2024-00017",
                "garden",
                0,
                3_120,
                "installation",
                "interpolated",
            ),
        ],
        notes: vec![
            "Zużycie szacunkowe zostanie rozliczone po najbliższym odczycie licznika.".to_string(),
            "Wielkie litery: ĄĆĘŁŃÓŚŹŻ, małe: ąćęłńóśźż.".to_string(),
        ],
        created_at: at("2026-12-01T06:30:00Z"),
        ksef_number: None,
    }
}

/// A correction of a company's invoice: a misread meter, accepted in KSeF.
fn correction() -> InvoiceDocument {
    InvoiceDocument {
        kind: Kind::Correction(Corrected {
            number: "FV/2026/10/000088".to_string(),
            issue_date: d(2026, 11, 2),
            ksef_number: Some("5821234567-20261102-0100A1B2C3D4-7F".to_string()),
            reason: "Błędny odczyt licznika (zamiana cyfr przy odczycie 31.10.2026)".to_string(),
        }),
        number: "FK/2026/12/000004".to_string(),
        issue_date: d(2026, 12, 3),
        place_of_issue: Some("Młynary".to_string()),
        period: Some((d(2026, 10, 1), d(2026, 10, 31))),
        sale_date: None,
        seller: seller(),
        buyer: Party {
            name: "Spółdzielnia Mieszkaniowa „Zażółć Gęślą Jaźń” w Młynarach".to_string(),
            nip: Some("5820001122".to_string()),
            address_line1: "ul. Łąkowa 7".to_string(),
            address_line2: "14-420 Młynary".to_string(),
            customer_number: Some("K-000311".to_string()),
        },
        supply_point: Some("PP-0107, budynek ul. Łąkowa 7".to_string()),
        lines_before: vec![line(
            1,
            "Dostawa wody 01.10–31.10.2026",
            "m³",
            98_000,
            567,
            55_566,
        )],
        lines: vec![line(
            1,
            "Dostawa wody 01.10–31.10.2026",
            "m³",
            89_000,
            567,
            50_463,
        )],
        rates: vec![RateTotal {
            vat_rate: 8,
            net: zl(-5_103),
            vat: zl(-408),
        }],
        net: zl(-5_103),
        vat: zl(-408),
        gross: zl(-5_511),
        credit_used: Money::ZERO,
        amount_due: Money::ZERO,
        due_date: d(2026, 12, 17),
        bank_account: None,
        readings: Vec::new(),
        notes: Vec::new(),
        created_at: at("2026-12-03T09:00:00Z"),
        ksef_number: Some("5821234567-20261203-0100E5F6A7B8-3C".to_string()),
    }
}

/// An invoice with 60 lines, some with long names: it takes more than one page.
fn long() -> InvoiceDocument {
    let mut doc = consumer();
    doc.number = "FV/2026/11/000999".to_string();
    doc.lines = (1..=60)
        .map(|no| {
            let name = if no % 7 == 0 {
                format!(
                    "Pozycja {no}: dostawa wody do lokalu użytkowego w budynku wielorodzinnym \
                     rozliczana według wskazań wodomierza głównego i podliczników, z \
                     uwzględnieniem różnicy wskazań i opłaty stałej za gotowość (taryfa od \
                     01.01.2026), bardzo długa nazwa, która musi zostać zawinięta lub ucięta"
                )
            } else {
                format!("Pozycja {no}: dostawa wody")
            };
            line(no, &name, "m³", 1_000, 567, 567)
        })
        .collect();
    doc.rates = vec![RateTotal {
        vat_rate: 8,
        net: zl(34_020),
        vat: zl(2_722),
    }];
    doc.net = zl(34_020);
    doc.vat = zl(2_722);
    doc.gross = zl(36_742);
    doc.credit_used = Money::ZERO;
    doc.amount_due = zl(36_742);
    doc
}

fn samples_folder() -> Option<PathBuf> {
    std::env::var_os("EBOK_PDF_SAMPLES").map(PathBuf::from)
}

/// The PDF's text as `pdftotext` reads it (pages separated by form feeds).
fn pdftotext(pdf: &[u8], name: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    if let Some(folder) = samples_folder() {
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::copy(&path, folder.join(format!("{name}.pdf"))).unwrap();
    }
    text_of(&path)
}

fn text_of(path: &Path) -> String {
    let output = match Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(path)
        .arg("-")
        .output()
    {
        Ok(output) => output,
        Err(e) => panic!(
            "cannot run pdftotext ({e}): install poppler-utils (scripts/test-tools.sh does, \
             or `apt-get install poppler-utils`)"
        ),
    };
    assert!(
        output.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("pdftotext writes UTF-8")
}

fn assert_pdf(pdf: &[u8]) {
    assert!(pdf.starts_with(b"%PDF-"), "no PDF header");
    let end = pdf.trim_ascii_end();
    assert!(end.ends_with(b"%%EOF"), "no %%EOF at the end");
}

fn assert_contains(text: &str, wanted: &[&str]) {
    // Spacing between words (and the no-break spaces inside amounts) comes back as spaces.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for w in wanted {
        assert!(
            flat.contains(w),
            "{w:?} not found in the PDF's text:\n{text}"
        );
    }
}

fn pages(text: &str) -> usize {
    text.matches('\u{c}').count()
}

#[test]
fn a_consumer_invoice_reads_back_in_polish() {
    let pdf = invoice_pdf(&consumer(), URL);
    assert_pdf(&pdf);
    let text = pdftotext(&pdf, "consumer");
    assert_contains(
        &text,
        &[
            "Faktura VAT",
            "nr FV/2026/11/000123",
            "Data wystawienia: 01.12.2026",
            "Miejsce wystawienia: Młynary",
            "Okres rozliczeniowy: 01.11.2026–30.11.2026",
            "Zakład Wodociągów i Kanalizacji w Młynarach sp. z o.o.",
            "NIP: 5821234567",
            BUYER,
            "ul. Źródlana 5/2",
            "Nr klienta: K-004217",
            "PP-0042, ul. Źródlana 5, 14-420 Młynary",
            "Odprowadzanie ścieków",
            "12,345",
            "5,67",
            "109,87",
            "Należność ogółem (brutto): 199,12 zł",
            "Nadpłata zaliczona: 20,00 zł",
            "Do zapłaty: 179,12 zł",
            "Słownie: sto siedemdziesiąt dziewięć złotych 12/100",
            "Termin płatności: 15.12.2026",
            "Numer rachunku do wpłat:",
            "26 1030 1944 0000 0000 1234 5678",
            "Odczyty liczników",
            "WM-2019-55120 (główny)",
            "102,250",
            "114,595",
            "do: szacunek",
            "od: montaż",
            "do: interpolacja",
            "Zużycie szacunkowe zostanie rozliczone",
            "Wielkie litery: ĄĆĘŁŃÓŚŹŻ, małe: ąćęłńóśźż.",
            "OFFLINE",
            "strona 1 z 1",
        ],
    );
    assert_eq!(pages(&text), 1);
    // Nothing fell outside the fonts' encoding.
    assert!(!text.contains('?'), "an unprintable character:\n{text}");
}

#[test]
fn a_correction_shows_both_states_and_what_it_corrects() {
    let pdf = invoice_pdf(&correction(), URL);
    assert_pdf(&pdf);
    let text = pdftotext(&pdf, "correction");
    assert_contains(
        &text,
        &[
            "Faktura korygująca",
            "nr FK/2026/12/000004",
            "Korygowana faktura: FV/2026/10/000088",
            "02.11.2026",
            "5821234567-20261102-0100A1B2C3D4-7F",
            "PRZYCZYNA KOREKTY",
            "Błędny odczyt licznika",
            "Przed korektą",
            "Po korekcie",
            "98,000",
            "89,000",
            "555,66",
            "504,63",
            "-51,03",
            "-4,08",
            "Kwota korekty (brutto): -55,11 zł",
            "Do zapłaty: 0,00 zł",
            "Spółdzielnia Mieszkaniowa „Zażółć Gęślą Jaźń”",
            "NIP: 5820001122",
            "Numer rachunku zostanie podany wkrótce",
            // The QR code's label: the KSeF number.
            "5821234567-20261203-0100E5F6A7B8-3C",
        ],
    );
    assert!(!text.contains("OFFLINE"));
}

#[test]
fn sixty_lines_continue_on_the_next_page() {
    let doc = long();
    let pdf = invoice_pdf(&doc, URL);
    assert_pdf(&pdf);
    let text = pdftotext(&pdf, "long");
    let n = pages(&text);
    assert!(n >= 2, "60 lines on {n} page(s)");
    assert_contains(
        &text,
        &[
            "Pozycja 1: dostawa wody",
            "Pozycja 60: dostawa wody",
            "ciąg dalszy",
            &format!("strona {n} z {n}"),
            "Do zapłaty: 367,42 zł",
        ],
    );
    // The table's header is repeated on the page it continues on.
    assert!(text.matches("Nazwa towaru lub usługi").count() >= 2);
    // Long names are cut, not run into the next column or row.
    assert!(text.contains('…'));
}

#[test]
fn the_same_document_gives_the_same_bytes() {
    let doc = consumer();
    let first = invoice_pdf(&doc, URL);
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(first, invoice_pdf(&doc, URL));
    let batch = [
        (doc.clone(), URL.to_string()),
        (correction(), URL.to_string()),
    ];
    assert_eq!(print_batch(&batch), print_batch(&batch));
    // The creation date is the invoice's, not the clock's.
    let needle = b"/CreationDate(D:20261201063000";
    assert!(first.windows(needle.len()).any(|w| w == needle));
}

#[test]
fn a_print_batch_starts_every_invoice_on_a_new_page() {
    let docs = vec![
        (consumer(), URL.to_string()),
        (long(), URL.to_string()),
        (correction(), URL.to_string()),
    ];
    let single: usize = docs
        .iter()
        .map(|(doc, url)| pages(&pdftotext(&invoice_pdf(doc, url), "single")))
        .sum();
    let pdf = print_batch(&docs);
    assert_pdf(&pdf);
    let text = pdftotext(&pdf, "batch");
    assert_eq!(pages(&text), single);
    let page_texts: Vec<&str> = text.split('\u{c}').collect();
    assert!(page_texts[0].contains("FV/2026/11/000123"));
    assert!(page_texts[1].contains("FV/2026/11/000999"));
    assert!(page_texts[single - 1].contains("FK/2026/12/000004"));
    assert_contains(&text, &["strona 1 z 1", "Faktura korygująca"]);
}

/// `cargo test --release -p ebok-billing --test pdf -- --ignored --nocapture`
#[test]
#[ignore = "a timing, for release builds"]
fn rendering_takes_a_few_milliseconds_at_most() {
    let docs = [consumer(), correction(), long()];
    for doc in &docs {
        let rounds = 500;
        let start = Instant::now();
        let mut bytes = 0;
        for _ in 0..rounds {
            bytes += invoice_pdf(doc, URL).len();
        }
        let each = start.elapsed() / rounds;
        println!(
            "{}: {each:?} per invoice, {} bytes",
            doc.number,
            bytes / rounds as usize
        );
        if !cfg!(debug_assertions) {
            assert!(each.as_millis() < 5, "{each:?} per invoice");
        }
    }
}
