//! Letters read back the way a person's viewer reads them: `pdftotext` (poppler-utils,
//! installed by scripts/test-tools.sh) must find the Polish text, every page's number and the
//! fields, so the layout and the fonts' encoding are checked end to end.
//!
//! Set `EBOK_PDF_SAMPLES=/some/folder` to keep the rendered samples (to look at them).

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use ebok_pdf::letter::{Letter, Paragraph, letter_pdf};

/// Every Polish letter, both cases.
const POLISH: &str = "ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn strings(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|line| line.to_string()).collect()
}

/// An acknowledgement of a resident's application.
fn acknowledgement() -> Letter {
    Letter {
        sender: strings(&[
            "Zakład Wodociągów i Kanalizacji w Młynarach sp. z o.o.",
            "ul. Dworcowa 12, 14-420 Młynary",
            "NIP 5821234567",
            "tel. 55 248 10 00, bok@zwik-mlynary.pl",
        ]),
        recipient: strings(&[
            "Małgorzata Źdźbło-Łęcka",
            "ul. Źródlana 5/2",
            "14-420 Młynary",
        ]),
        place_and_date: "Młynary, 5 grudnia 2026 r.".to_string(),
        reference: Some("Sprawa nr WTP/2026/000123".to_string()),
        title: "Potwierdzenie przyjęcia wniosku o zmianę taryfy".to_string(),
        body: vec![
            Paragraph::Text(format!(
                "Potwierdzamy przyjęcie Pani wniosku złożonego 3 grudnia 2026 r. przez \
                 portal eBOK. Wszystkie litery: {POLISH}."
            )),
            Paragraph::Fields(vec![
                ("Numer sprawy:".to_string(), "WTP/2026/000123".to_string()),
                (
                    "Punkt poboru:".to_string(),
                    "PP-0042, ul. Źródlana 5, 14-420 Młynary".to_string(),
                ),
                (
                    "Termin załatwienia:".to_string(),
                    "do 2 stycznia 2027 r.".to_string(),
                ),
            ]),
            Paragraph::Heading("Pouczenie".to_string()),
            Paragraph::Text(
                "O rozstrzygnięciu sprawy poinformujemy Panią pisemnie oraz w portalu eBOK."
                    .to_string(),
            ),
        ],
        signature: strings(&[
            "Z poważaniem",
            "Jan Kowalski",
            "Kierownik Działu Obsługi Klienta",
        ]),
        footer: "Zakład Wodociągów i Kanalizacji w Młynarach sp. z o.o. · KRS 0000123456"
            .to_string(),
        created: at("2026-12-05T08:15:00Z"),
        author: "Zakład Wodociągów i Kanalizacji w Młynarach sp. z o.o.".to_string(),
    }
}

/// A contract with many sections: it takes several pages.
fn contract() -> Letter {
    let mut letter = acknowledgement();
    letter.title = "Umowa nr 2026/0042 o zaopatrzenie w wodę i odprowadzanie ścieków".to_string();
    letter.body = (1..=24)
        .flat_map(|section| {
            [
                Paragraph::Heading(format!("§ {section}. Postanowienia szczegółowe")),
                Paragraph::Text(format!(
                    "{section}. Przedsiębiorstwo zobowiązuje się dostarczać wodę o jakości \
                     odpowiadającej wymaganiom przepisów, pod ciśnieniem nie niższym niż \
                     0,05 MPa, a Odbiorca zobowiązuje się uiszczać należności za dostarczoną \
                     wodę i odprowadzone ścieki w terminach określonych w fakturach. Zażółć \
                     gęślą jaźń. Strony ustalają, że rozliczenia następują na podstawie \
                     wskazań wodomierza głównego, a w okresie jego niesprawności według \
                     przeciętnego zużycia wody."
                )),
            ]
        })
        .collect();
    letter
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

/// Text with its spacing (columns, wrapped lines) made single spaces.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn assert_contains(text: &str, wanted: &[&str]) {
    let flat = flat(text);
    for w in wanted {
        assert!(
            flat.contains(w),
            "{w:?} not found in the PDF's text:\n{text}"
        );
    }
}

/// The text of each page.
fn pages(text: &str) -> Vec<&str> {
    let mut pages: Vec<&str> = text.split('\u{c}').collect();
    // pdftotext ends every page with a form feed.
    if pages.last().is_some_and(|rest| rest.trim().is_empty()) {
        pages.pop();
    }
    pages
}

#[test]
fn a_letter_reads_back_in_polish() {
    let pdf = letter_pdf(&acknowledgement());
    assert_pdf(&pdf);
    let text = pdftotext(&pdf, "acknowledgement");
    assert_contains(
        &text,
        &[
            "Zakład Wodociągów i Kanalizacji w Młynarach sp. z o.o.",
            "ul. Dworcowa 12, 14-420 Młynary",
            "NIP 5821234567",
            "Młynary, 5 grudnia 2026 r.",
            "Sprawa nr WTP/2026/000123",
            "Małgorzata Źdźbło-Łęcka",
            "ul. Źródlana 5/2",
            "Potwierdzenie przyjęcia wniosku o zmianę taryfy",
            &format!("Wszystkie litery: {POLISH}."),
            "Pouczenie",
            "O rozstrzygnięciu sprawy poinformujemy Panią pisemnie",
            "Z poważaniem",
            "Jan Kowalski",
            "Kierownik Działu Obsługi Klienta",
            "KRS 0000123456",
            "strona 1 z 1",
        ],
    );
    assert_eq!(pages(&text).len(), 1);
    // Nothing fell outside the fonts' encoding.
    assert!(!text.contains('?'), "an unprintable character:\n{text}");
}

#[test]
fn fields_show_each_label_with_its_value() {
    let text = pdftotext(&letter_pdf(&acknowledgement()), "fields");
    assert_contains(
        &text,
        &[
            "Numer sprawy: WTP/2026/000123",
            "Punkt poboru: PP-0042, ul. Źródlana 5, 14-420 Młynary",
            "Termin załatwienia: do 2 stycznia 2027 r.",
        ],
    );
}

#[test]
fn a_long_body_continues_on_numbered_pages() {
    let pdf = letter_pdf(&contract());
    assert_pdf(&pdf);
    let text = pdftotext(&pdf, "contract");
    let pages = pages(&text);
    let n = pages.len();
    assert!(n >= 3, "24 sections on {n} page(s)");
    for (index, page) in pages.iter().enumerate() {
        let number = index + 1;
        assert_contains(page, &[&format!("strona {number} z {n}"), "KRS 0000123456"]);
        if number > 1 {
            // The running head: the case and the title, and that the letter goes on.
            assert_contains(
                page,
                &[
                    "Sprawa nr WTP/2026/000123 · Umowa nr 2026/0042",
                    "ciąg dalszy",
                ],
            );
        }
    }
    assert_contains(
        &text,
        &[
            "§ 1. Postanowienia szczegółowe",
            "§ 24. Postanowienia szczegółowe",
        ],
    );
    // The signature comes after the last section.
    let flat = flat(&text);
    assert!(flat.find("Z poważaniem") > flat.find("§ 24."));
}

#[test]
fn the_same_letter_gives_the_same_bytes() {
    let letter = contract();
    let first = letter_pdf(&letter);
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(first, letter_pdf(&letter));
    // The creation date is the letter's, not the clock's.
    let needle = b"/CreationDate(D:20261205081500";
    assert!(first.windows(needle.len()).any(|w| w == needle));
    // Another letter is another file.
    assert_ne!(first, letter_pdf(&acknowledgement()));
}

#[test]
fn a_letter_without_addressee_or_reference_and_with_unknown_characters() {
    let mut letter = acknowledgement();
    letter.recipient.clear();
    letter.reference = None;
    letter.body = vec![Paragraph::Text("Bałwan: ☃, koniec.".to_string())];
    let text = pdftotext(&letter_pdf(&letter), "bare");
    assert_contains(&text, &["Bałwan: ?, koniec.", "strona 1 z 1"]);
    assert!(!text.contains("Sprawa nr"));
    assert!(!text.contains("Małgorzata"));
}
