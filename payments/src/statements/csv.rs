//! Bank statements as CSV, the export every Polish bank's web banking offers, read into the
//! same [`Statement`] as MT940 (no I/O).
//!
//! Banks differ in columns and preamble, so the columns are found by their header, which is the
//! first line naming an amount (`Kwota`); lines above it (the account, the period) are skipped.
//! Recognised headers, case and Polish letters aside:
//!
//! | what | headers |
//! |---|---|
//! | date (required) | `Data operacji`, `Data waluty`, `Data księgowania`, `Data` |
//! | amount (required; negative: money out) | `Kwota`, `Kwota operacji` |
//! | title | `Tytuł`, `Tytuł operacji`, `Opis`, `Opis operacji` |
//! | counterparty | `Nadawca`, `Kontrahent`, `Nazwa kontrahenta`, `Dane kontrahenta`, `Nadawca / Odbiorca` |
//! | counterparty's account | `Rachunek kontrahenta`, `Numer rachunku`, `Rachunek nadawcy`, `Rachunek` |
//! | the account paid to (a virtual account) | `Rachunek odbiorcy`, `Rachunek wirtualny` |
//! | reference | `Identyfikator`, `Referencja`, `Numer referencyjny` |
//!
//! Fields are separated by `;` (or `,` when the header has no `;`), may be quoted (`""` is a
//! quote), and dates are `2026-12-01`, `01.12.2026` or `01-12-2026`. Amounts are Polish
//! (`-1 234,56`, `1234.56 PLN`).

use chrono::NaiveDate;
use ebok_common::domain::Money;

use super::mt940::{Details, Line, Statement};

/// Why a file is not a CSV statement we can read; `line` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CsvError {
    pub line: usize,
    pub message: String,
}

fn error(line: usize, message: impl Into<String>) -> CsvError {
    CsvError {
        line,
        message: message.into(),
    }
}

/// Lower case without Polish letters, for comparing headers.
fn plain(s: &str) -> String {
    ebok_common::polish::folded(s.trim().trim_matches('"'))
}

/// The fields of one line.
fn split(line: &str, separator: char) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c == separator && !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields.into_iter().map(|f| f.trim().to_string()).collect()
}

fn column(headers: &[String], names: &[&str]) -> Option<usize> {
    names
        .iter()
        .find_map(|name| headers.iter().position(|h| h == name))
}

fn date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    ["%Y-%m-%d", "%d.%m.%Y", "%d-%m-%Y", "%Y.%m.%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
}

/// Reads a CSV statement.
pub fn parse(text: &str) -> Result<Statement, CsvError> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(header_at) = lines.iter().position(|l| plain(l).contains("kwota")) else {
        return Err(error(1, "no header line naming the amount (Kwota)"));
    };
    let separator = if lines[header_at].contains(';') {
        ';'
    } else {
        ','
    };
    let headers: Vec<String> = split(lines[header_at], separator)
        .iter()
        .map(|h| plain(h))
        .collect();
    let at_date = column(
        &headers,
        &["data operacji", "data waluty", "data ksiegowania", "data"],
    )
    .ok_or_else(|| error(header_at + 1, "no date column (Data operacji)"))?;
    let at_amount = column(&headers, &["kwota", "kwota operacji"])
        .ok_or_else(|| error(header_at + 1, "no amount column (Kwota)"))?;
    let at_title = column(
        &headers,
        &["tytul", "tytul operacji", "opis", "opis operacji"],
    );
    let at_counterparty = column(
        &headers,
        &[
            "nadawca",
            "kontrahent",
            "nazwa kontrahenta",
            "dane kontrahenta",
            "nadawca / odbiorca",
        ],
    );
    let at_account = column(
        &headers,
        &[
            "rachunek kontrahenta",
            "numer rachunku",
            "rachunek nadawcy",
            "rachunek",
        ],
    );
    let at_ours = column(&headers, &["rachunek odbiorcy", "rachunek wirtualny"]);
    let at_reference = column(
        &headers,
        &["identyfikator", "referencja", "numer referencyjny"],
    );
    let mut statement = Statement::default();
    for (i, raw) in lines.iter().enumerate().skip(header_at + 1) {
        if raw.trim().is_empty() {
            continue;
        }
        let fields = split(raw, separator);
        let get = |at: Option<usize>| at.and_then(|a| fields.get(a)).cloned().unwrap_or_default();
        let value_date = date(&get(Some(at_date)))
            .ok_or_else(|| error(i + 1, format!("no date in {:?}", get(Some(at_date)))))?;
        let written = get(Some(at_amount));
        let amount = Money::parse(written.trim_end_matches("PLN").trim())
            .ok()
            .filter(|a| *a != Money::ZERO)
            .ok_or_else(|| error(i + 1, format!("no amount in {written:?}")))?;
        let account: String = get(at_account)
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let title = get(at_title);
        let counterparty = get(at_counterparty);
        let ours = get(at_ours);
        let reference = get(at_reference);
        statement.lines.push(Line {
            value_date,
            credit: amount > Money::ZERO,
            amount: amount.abs(),
            references: format!("{reference} {ours}").trim().to_string(),
            details: Details {
                code: None,
                raw: format!("{title} | {counterparty} | {account}"),
                title,
                counterparty,
                counterparty_account: (!account.is_empty()).then_some(account),
            },
        });
    }
    Ok(statement)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bank_export_with_a_preamble_and_quotes_is_read_by_its_headers() {
        let text = "Rachunek;PL61109010140000071219812874\n\
                    Okres;01.12.2026 - 03.12.2026\n\
                    \n\
                    \"Data operacji\";\"Tytuł\";\"Nadawca\";\"Rachunek kontrahenta\";\"Rachunek odbiorcy\";\"Kwota\";\"Identyfikator\"\n\
                    01.12.2026;\"Woda, listopad; FV/2026/11/000007\";\"JAN \"\"KOWAL\"\" S.C.\";\"27 1050 0099\";\"PL61 1090\";\"123,45\";\"A1\"\n\
                    2026-12-02;Opłata;BANK;;;\"-1 234,56 PLN\";A2\n";
        let s = parse(text).unwrap();
        assert_eq!(s.lines.len(), 2);
        let l = &s.lines[0];
        assert_eq!(l.value_date, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        assert!(l.credit);
        assert_eq!(l.amount, Money::from_grosze(12_345));
        assert_eq!(l.details.title, "Woda, listopad; FV/2026/11/000007");
        assert_eq!(l.details.counterparty, "JAN \"KOWAL\" S.C.");
        assert_eq!(
            l.details.counterparty_account.as_deref(),
            Some("2710500099")
        );
        assert_eq!(l.references, "A1 PL61 1090");
        assert!(!s.lines[1].credit);
        assert_eq!(s.lines[1].amount, Money::from_grosze(123_456));
    }

    #[test]
    fn what_cannot_be_read_is_refused_with_the_line() {
        assert_eq!(parse("a;b\n1;2\n").unwrap_err().line, 1);
        assert_eq!(
            parse("Kwota;Tytuł\n1,00;x\n").unwrap_err().line,
            1,
            "no date column"
        );
        let e = parse("Data;Kwota\n2026-12-01;abc\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = parse("Data;Kwota\n1 grudnia;1,00\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }
}
