//! MT940 bank statements as Polish banks export them, read into plain values (no I/O).
//!
//! A file holds one or more statements (`:20:` … `:62F:`), optionally wrapped in SWIFT blocks
//! (`{1:…}{2:…}{4:` … `-}`). Read here: the account (`:25:`), the statement number (`:28C:`),
//! the balances (`:60F:`/`:60M:`, `:62F:`/`:62M:`), and each transaction: `:61:` (value date,
//! credit or debit, amount, references) with its `:86:` details.
//!
//! `:86:` differs by bank. Structured details start with a 3-digit transaction code and a
//! separator that then opens every subfield with two digits — `~` (e.g. `020~00PRZELEW~20…`),
//! `<`, `^`, `?` or `+`; subfields 20–25 and 60–63 are the title, 27–29 and 32–33 the
//! counterparty's name, 38 its IBAN (or 30 and 31: sort code and account). Anything else is
//! free text and becomes the title as it is. Lines broken inside a field are joined.
//!
//! Files come in UTF-8 or, from older bank software, in Windows-1250: bytes that are not UTF-8
//! are read as Windows-1250 for the Polish letters (the rest of its upper half becomes `?`).
//! Written by hand: the MT940 crates found handle the SWIFT syntax but none of the Polish
//! `:86:` layouts or encodings, which are most of the work.

use chrono::NaiveDate;
use ebok_common::domain::Money;

/// One statement of a file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Statement {
    /// `:25:` as written (an IBAN or NRB, sometimes with a currency).
    pub account: String,
    /// `:28C:`, e.g. "00123/001".
    pub number: String,
    pub opening: Option<Balance>,
    pub closing: Option<Balance>,
    pub lines: Vec<Line>,
}

/// A balance (`:60F:`, `:62F:` and their intermediate forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    pub date: NaiveDate,
    /// Negative for a debit balance.
    pub amount: Money,
}

/// One transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub value_date: NaiveDate,
    /// Money in (a credit, `C`); a debit (`D`) or reversal is money out.
    pub credit: bool,
    /// Always positive.
    pub amount: Money,
    /// The rest of `:61:` after the amount: transaction type and references.
    pub references: String,
    pub details: Details,
}

/// What `:86:` says about a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Details {
    /// The bank's 3-digit transaction code, when structured.
    pub code: Option<String>,
    pub title: String,
    pub counterparty: String,
    /// The counterparty's account, digits only, when given.
    pub counterparty_account: Option<String>,
    /// `:86:` as written (joined lines).
    pub raw: String,
}

/// Why a file is not a statement we can read; `line` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct Mt940Error {
    pub line: usize,
    pub message: String,
}

fn error(line: usize, message: impl Into<String>) -> Mt940Error {
    Mt940Error {
        line,
        message: message.into(),
    }
}

/// The text of a statement file: UTF-8, else Windows-1250.
pub fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|b| windows_1250(*b)).collect(),
    }
}

fn windows_1250(b: u8) -> char {
    match b {
        0x00..=0x7f => b as char,
        0xa5 => 'Ą',
        0xc6 => 'Ć',
        0xca => 'Ę',
        0xa3 => 'Ł',
        0xd1 => 'Ń',
        0xd3 => 'Ó',
        0x8c => 'Ś',
        0x8f => 'Ź',
        0xaf => 'Ż',
        0xb9 => 'ą',
        0xe6 => 'ć',
        0xea => 'ę',
        0xb3 => 'ł',
        0xf1 => 'ń',
        0xf3 => 'ó',
        0x9c => 'ś',
        0x9f => 'ź',
        0xbf => 'ż',
        0xa0 => ' ',
        _ => '?',
    }
}

/// The fields of the file in order: (tag, value with continuation lines, line number).
fn fields(text: &str) -> Vec<(String, String, usize)> {
    let mut out: Vec<(String, String, usize)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim();
        // SWIFT block wrappers and the end-of-message dash carry no fields.
        let line = trimmed.strip_prefix("{4:").unwrap_or(trimmed);
        if line.is_empty() || line == "-" || line == "-}" || line.starts_with('{') {
            continue;
        }
        if let Some(rest) = line.strip_prefix(':')
            && let Some((tag, value)) = rest.split_once(':')
            && !tag.is_empty()
            && tag.len() <= 3
            && tag.chars().all(|c| c.is_ascii_alphanumeric())
        {
            out.push((tag.to_string(), value.to_string(), i + 1));
        } else if let Some(last) = out.last_mut() {
            // A continuation: `:86:` joins without a break (fields are cut at fixed widths).
            if last.0 == "86" {
                last.1.push_str(line);
            } else {
                last.1.push('\n');
                last.1.push_str(line);
            }
        }
    }
    out
}

fn date6(s: &str, line: usize) -> Result<NaiveDate, Mt940Error> {
    let d = s
        .get(..6)
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| error(line, format!("no date (YYMMDD) in {s:?}")))?;
    let (y, m, day) = (&d[..2], &d[2..4], &d[4..6]);
    NaiveDate::from_ymd_opt(
        2000 + y.parse::<i32>().unwrap_or(0),
        m.parse().unwrap_or(0),
        day.parse().unwrap_or(0),
    )
    .ok_or_else(|| error(line, format!("no such day {d}")))
}

/// `:60F:`/`:62F:`: `C` or `D`, YYMMDD, currency, amount.
fn balance(value: &str, line: usize) -> Result<Balance, Mt940Error> {
    let v = value.trim();
    let (sign, rest) = match v.chars().next() {
        Some('C') => (1, &v[1..]),
        Some('D') => (-1, &v[1..]),
        _ => return Err(error(line, format!("a balance starts with C or D: {v:?}"))),
    };
    let date = date6(rest, line)?;
    let amount = rest
        .get(9..)
        .and_then(|a| Money::parse(a).ok())
        .ok_or_else(|| error(line, format!("no amount in {v:?}")))?;
    Ok(Balance {
        date,
        amount: Money::from_grosze(sign * amount.grosze()),
    })
}

/// `:61:`: YYMMDD [MMDD] (C|D|RC|RD) [funds code] amount, then type and references.
fn statement_line(
    value: &str,
    line: usize,
) -> Result<(NaiveDate, bool, Money, String), Mt940Error> {
    let v = value.lines().next().unwrap_or_default().trim();
    let value_date = date6(v, line)?;
    let mut rest = &v[6..];
    // The optional entry date (MMDD).
    if rest.len() >= 4 && rest[..4].bytes().all(|b| b.is_ascii_digit()) {
        rest = &rest[4..];
    }
    let (credit, after_mark) = if let Some(r) = rest.strip_prefix("RC") {
        (false, r) // reversal of a credit: money out
    } else if let Some(r) = rest.strip_prefix("RD") {
        (true, r) // reversal of a debit: money back in
    } else if let Some(r) = rest.strip_prefix('C') {
        (true, r)
    } else if let Some(r) = rest.strip_prefix('D') {
        (false, r)
    } else {
        return Err(error(line, format!("no C or D mark in {v:?}")));
    };
    // The optional funds code: a letter before the amount's digits.
    let after_mark = after_mark
        .strip_prefix(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(after_mark);
    let end = after_mark
        .find(|c: char| !(c.is_ascii_digit() || c == ','))
        .unwrap_or(after_mark.len());
    let amount = Money::parse(&after_mark[..end])
        .ok()
        .filter(|a| *a > Money::ZERO)
        .ok_or_else(|| error(line, format!("no amount in {v:?}")))?;
    let mut references = after_mark[end..].to_string();
    // Supplementary details on the next line belong to the references.
    for extra in value.lines().skip(1) {
        references.push(' ');
        references.push_str(extra.trim());
    }
    Ok((value_date, credit, amount, references))
}

/// `:86:` read by its layout.
pub fn details(raw: &str) -> Details {
    let raw = raw.trim().to_string();
    let bytes = raw.as_bytes();
    let structured = bytes.len() >= 6
        && bytes[..3].iter().all(u8::is_ascii_digit)
        && matches!(bytes[3], b'~' | b'<' | b'^' | b'?' | b'+')
        && bytes[4..6].iter().all(u8::is_ascii_digit);
    if !structured {
        return Details {
            title: raw.clone(),
            raw,
            ..Details::default()
        };
    }
    let separator = bytes[3] as char;
    let mut d = Details {
        code: Some(raw[..3].to_string()),
        raw: raw.clone(),
        ..Details::default()
    };
    let (mut sort_code, mut account) = (String::new(), String::new());
    for part in raw[4..].split(separator) {
        let (Some(number), Some(text)) = (part.get(..2), part.get(2..)) else {
            continue;
        };
        let Ok(number) = number.parse::<u8>() else {
            continue;
        };
        match number {
            20..=25 | 60..=63 => d.title.push_str(text),
            27..=29 | 32 | 33 => {
                if !d.counterparty.is_empty() && !d.counterparty.ends_with(' ') {
                    d.counterparty.push(' ');
                }
                d.counterparty.push_str(text.trim());
            }
            30 => sort_code = digits(text),
            31 => account = digits(text),
            38 => d.counterparty_account = Some(digits(text)).filter(|a| !a.is_empty()),
            _ => {}
        }
    }
    if d.counterparty_account.is_none() && sort_code.len() == 8 && account.len() == 16 {
        d.counterparty_account = Some(format!("{sort_code}{account}"));
    }
    d.title = d.title.trim().to_string();
    d.counterparty = d.counterparty.trim().to_string();
    d
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Reads every statement of a file.
pub fn parse(text: &str) -> Result<Vec<Statement>, Mt940Error> {
    let mut statements: Vec<Statement> = Vec::new();
    let mut pending: Option<(NaiveDate, bool, Money, String)> = None;
    for (tag, value, line) in fields(text) {
        if tag != "86"
            && let Some((value_date, credit, amount, references)) = pending.take()
        {
            let current = statements.last_mut().expect("a :61: is inside a statement");
            current.lines.push(Line {
                value_date,
                credit,
                amount,
                references,
                details: Details::default(),
            });
        }
        match tag.as_str() {
            "20" => statements.push(Statement::default()),
            "25" => current(&mut statements, line)?.account = value.trim().to_string(),
            "28C" | "28" => current(&mut statements, line)?.number = value.trim().to_string(),
            "60F" | "60M" => current(&mut statements, line)?.opening = Some(balance(&value, line)?),
            "62F" | "62M" => current(&mut statements, line)?.closing = Some(balance(&value, line)?),
            "61" => {
                current(&mut statements, line)?;
                pending = Some(statement_line(&value, line)?);
            }
            // `:86:` after the closing balance is about the statement: not read.
            "86" => {
                if let Some((value_date, credit, amount, references)) = pending.take() {
                    current(&mut statements, line)?.lines.push(Line {
                        value_date,
                        credit,
                        amount,
                        references,
                        details: details(&value),
                    });
                }
            }
            _ => {}
        }
    }
    if let Some((value_date, credit, amount, references)) = pending.take()
        && let Some(last) = statements.last_mut()
    {
        last.lines.push(Line {
            value_date,
            credit,
            amount,
            references,
            details: Details::default(),
        });
    }
    if statements.is_empty() {
        return Err(error(1, "no statement (:20:) in the file"));
    }
    Ok(statements)
}

fn current(statements: &mut [Statement], line: usize) -> Result<&mut Statement, Mt940Error> {
    statements
        .last_mut()
        .ok_or_else(|| error(line, "a field before the statement's :20:"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TILDE: &str = "{1:F01BREXPLPWXXXX0000000000}{2:I940BREXPLPWXXXXN}{4:
:20:MT940
:25:/PL61109010140000071219812874
:28C:00042/001
:60F:C261130PLN1000,00
:61:2612011201C123,45NTRFNONREF//2612010001
:86:020~00PRZELEW PRZYCHODZACY~20Oplata za wode klient 1~21
00123 FV/2026/11/000007~3010500099~317600000000012345
~32JAN KOWALSKI~33UL. LIPOWA 5~38PL27105000997600000000012345
:61:2612021202D50,00NTRFNONREF
:86:073~00OPLATA~20Prowizja
:62F:C261202PLN1073,45
-}";

    #[test]
    fn a_tilde_layout_statement_is_read_field_by_field() {
        let s = parse(TILDE).unwrap();
        assert_eq!(s.len(), 1);
        let s = &s[0];
        assert_eq!(s.account, "/PL61109010140000071219812874");
        assert_eq!(s.number, "00042/001");
        assert_eq!(s.opening.unwrap().amount, Money::from_grosze(100_000));
        assert_eq!(s.closing.unwrap().amount, Money::from_grosze(107_345));
        assert_eq!(s.lines.len(), 2);
        let l = &s.lines[0];
        assert_eq!(l.value_date, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        assert!(l.credit);
        assert_eq!(l.amount, Money::from_grosze(12_345));
        assert!(l.references.contains("//2612010001"));
        assert_eq!(l.details.code.as_deref(), Some("020"));
        assert_eq!(
            l.details.title,
            "Oplata za wode klient 100123 FV/2026/11/000007"
        );
        assert_eq!(l.details.counterparty, "JAN KOWALSKI UL. LIPOWA 5");
        assert_eq!(
            l.details.counterparty_account.as_deref(),
            Some("27105000997600000000012345")
        );
        assert!(!s.lines[1].credit);
        assert_eq!(s.lines[1].details.title, "Prowizja");
    }

    #[test]
    fn a_caret_layout_with_sort_code_and_account_and_windows_1250_text() {
        let mut bytes = b":20:ST\r\n:25:61109010140000071219812874\r\n:28C:7\r\n:60F:C261201PLN0,00\r\n:61:261203C99,00NTRF\r\n:86:152<00PRZELEW<20Zap\xb3ata za wod\xea<27Micha\xb3 \xa3\xf3dzki<3010200000<310000000000077777\r\n:62F:C261203PLN99,00\r\n".to_vec();
        bytes.push(b'-');
        let s = parse(&decode(&bytes)).unwrap();
        let l = &s[0].lines[0];
        assert_eq!(l.details.title, "Zapłata za wodę");
        assert_eq!(l.details.counterparty, "Michał Łódzki");
        assert_eq!(
            l.details.counterparty_account.as_deref(),
            Some("102000000000000000077777")
        );
        assert_eq!(l.amount, Money::from_grosze(9_900));
    }

    #[test]
    fn free_text_details_are_the_title() {
        let s = parse(
            ":20:X\n:25:1\n:28C:1\n:61:261203C5,5NTRF\n:86:Wplata FV/2026/11/000001 dziekuje\n",
        )
        .unwrap();
        assert_eq!(
            s[0].lines[0].details.title,
            "Wplata FV/2026/11/000001 dziekuje"
        );
        assert_eq!(s[0].lines[0].amount, Money::from_grosze(550));
        assert_eq!(s[0].lines[0].details.code, None);
    }

    #[test]
    fn what_is_not_a_statement_is_refused_with_the_line() {
        assert_eq!(parse("hello").unwrap_err().line, 1);
        let e = parse(":20:X\n:25:1\n:61:26130C1,00NTRF\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let e = parse(":20:X\n:61:261203X1,00NTRF\n").unwrap_err();
        assert!(e.message.contains("C or D"), "{e}");
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "(:[0-9]{2}[A-Z]?:[ -~]{0,40}\n){0,12}") {
            let _ = parse(&text);
        }

        #[test]
        fn an_amount_written_survives_the_round_trip(grosze in 1i64..10_000_000_000) {
            let text = format!(":20:X\n:25:1\n:28C:1\n:61:261203C{},{:02}NTRF\n:86:x\n", grosze / 100, grosze % 100);
            let s = parse(&text).unwrap();
            prop_assert_eq!(s[0].lines[0].amount, Money::from_grosze(grosze));
        }
    }
}
