//! Bank statements: staff import the utility's statement ([`mt940`] or [`csv`], told apart by
//! their content), each incoming transfer is
//! matched to a customer — by their virtual account anywhere in what the bank says of it
//! (`ebok_billing::transfer`), else by an invoice number in the title — and booked as a
//! payment like an online one ([`crate::booking`]: ledger once, allocation, notice, audit);
//! the rest waits for staff to assign it by hand ([`assign`]). Money going out is listed, not
//! booked.
//!
//! Importing the same statement again, or another that overlaps it, books nothing twice: each
//! line is known by a key — the SHA-256 of the account, date, direction, amount, references and
//! details, and its place among identical lines of the file — which is unique per utility and
//! is also the payment's ledger reference.

pub mod csv;
pub mod mt940;

use ebok_billing::transfer;
use ebok_common::audit::{self, Actor, AuditEntry};
use ebok_common::domain::Money;
use ebok_common::domain::identifiers::Nrb;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use crate::booking::{self, Confirmed};
use crate::signatures::hex;
use mt940::{Line, Statement};

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub statements: usize,
    /// Lines in the file.
    pub lines: usize,
    /// Lines imported before (this file or an overlapping one): nothing done.
    pub known: usize,
    pub booked: usize,
    pub unmatched: usize,
    pub outgoing: usize,
}

/// Why a statement was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Neither MT940 nor CSV we can read; says which line failed.
    #[error("{0}")]
    Unreadable(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The keys of a statement's lines, in order.
fn line_keys(s: &Statement) -> Vec<String> {
    let mut seen = std::collections::HashMap::<String, u32>::new();
    s.lines
        .iter()
        .map(|l| {
            let base = format!(
                "{}|{}|{}|{}|{}|{}",
                s.account.trim_start_matches('/'),
                l.value_date,
                if l.credit { 'C' } else { 'D' },
                l.amount.grosze(),
                l.references.trim(),
                l.details.raw
            );
            let n = seen.entry(base.clone()).or_default();
            *n += 1;
            hex(&Sha256::digest(format!("{base}|{n}").as_bytes()))
        })
        .collect()
}

/// Every valid 26-digit account number (NRB, or IBAN without `PL`) written in `text`. A run of
/// digits may be longer than an account: MT940 writes a subfield's two-digit number right before
/// it (`~3161109…`), so every 26-digit window of a run up to 40 digits long is tried (a window
/// that is not the account is almost never a valid NRB, and never one of our customers' unless
/// it carries the utility's sort code and prefix in place).
fn accounts_in(text: &str) -> Vec<Nrb> {
    let mut out = Vec::new();
    for candidate in [text.to_string(), text.replace(' ', "")] {
        let mut run = String::new();
        for c in candidate.chars().chain(std::iter::once(' ')) {
            if c.is_ascii_digit() {
                run.push(c);
                continue;
            }
            if (26..=40).contains(&run.len()) {
                for start in 0..=run.len() - 26 {
                    if let Ok(nrb) = Nrb::parse(&run[start..start + 26])
                        && !out.contains(&nrb)
                    {
                        out.push(nrb);
                    }
                }
            }
            run.clear();
        }
    }
    out
}

/// An invoice number in a title: `FV/2026/11/000123`, `KOR/…`, `FU/…`.
fn invoice_numbers_in(title: &str) -> Vec<String> {
    let upper = title.to_uppercase();
    let mut out = Vec::new();
    for (i, _) in upper.match_indices('/') {
        // Walk back to the series' letters, forward over YYYY/MM/NNNNNN.
        let start = upper[..i]
            .rfind(|c: char| !c.is_ascii_alphabetic())
            .map_or(0, |j| j + 1);
        let series = &upper[start..i];
        let rest = &upper[i + 1..];
        if !(2..=3).contains(&series.len()) || rest.len() < 14 {
            continue;
        }
        let tail = &rest[..14];
        let b = tail.as_bytes();
        let shape = b[..4].iter().all(u8::is_ascii_digit)
            && b[4] == b'/'
            && b[5..7].iter().all(u8::is_ascii_digit)
            && b[7] == b'/'
            && b[8..14].iter().all(u8::is_ascii_digit)
            && !rest.as_bytes().get(14).is_some_and(u8::is_ascii_digit);
        if shape {
            out.push(format!("{series}/{tail}"));
        }
    }
    out
}

/// Who paid a line, and how we know; `None` when nobody can be told.
async fn match_line(
    conn: &mut PgConnection,
    utility_id: i64,
    virtual_accounts: Option<&(String, String)>,
    line: &Line,
) -> sqlx::Result<Option<(i64, Option<i64>, &'static str)>> {
    if let Some((sort_code, prefix)) = virtual_accounts {
        let text = format!("{} {}", line.references, line.details.raw);
        for nrb in accounts_in(&text) {
            if let Some(customer) = transfer::customer_of(&nrb, sort_code, prefix) {
                let exists = sqlx::query_scalar!(
                    "SELECT EXISTS (SELECT 1 FROM customers WHERE id = $1 AND utility_id = $2)",
                    customer,
                    utility_id
                )
                .fetch_one(&mut *conn)
                .await?;
                if exists == Some(true) {
                    return Ok(Some((customer, None, "virtual_account")));
                }
            }
        }
    }
    for number in invoice_numbers_in(&line.details.title) {
        if let Some(r) = sqlx::query!(
            "SELECT id, customer_id FROM invoices WHERE utility_id = $1 AND number = $2",
            utility_id,
            number
        )
        .fetch_optional(&mut *conn)
        .await?
        {
            return Ok(Some((r.customer_id, Some(r.id), "invoice_number")));
        }
    }
    Ok(None)
}

/// A payment of `amount` by bank transfer from customer `customer_id`, booked under `key`; its
/// id.
async fn book_transfer(
    conn: &mut PgConnection,
    utility_id: i64,
    customer_id: i64,
    invoice_id: Option<i64>,
    amount: Money,
    key: &str,
) -> sqlx::Result<i64> {
    let payment_id = sqlx::query_scalar!(
        r#"INSERT INTO payments (utility_id, customer_id, provider, session_id, invoice_id,
                                 amount_grosze, provider_token)
           VALUES ($1, $2, 'bank_transfer', $3, $4, $5, $6)
           RETURNING id"#,
        utility_id,
        customer_id,
        format!("bank-{}", &key[..32]),
        invoice_id,
        amount.grosze(),
        key
    )
    .fetch_one(&mut *conn)
    .await?;
    booking::book(
        conn,
        &Confirmed {
            payment_id,
            provider_reference: key,
            method: Some("przelew"),
            description: "Wpłata przelewem",
        },
    )
    .await?;
    Ok(payment_id)
}

/// The statements of a file: MT940 when it has MT940's fields, else CSV.
fn read(bytes: &[u8]) -> Result<(&'static str, Vec<Statement>), ImportError> {
    let text = mt940::decode(bytes);
    if text.contains(":20:") && text.contains(":61:") {
        mt940::parse(&text)
            .map(|s| ("mt940", s))
            .map_err(|e| ImportError::Unreadable(format!("MT940: {e}")))
    } else {
        csv::parse(&text)
            .map(|s| ("csv", vec![s]))
            .map_err(|e| ImportError::Unreadable(format!("CSV: {e}")))
    }
}

/// Imports a statement file (MT940 or CSV) of utility `utility_id` in one transaction.
pub async fn import(
    pool: &PgPool,
    utility_id: i64,
    bytes: &[u8],
    imported_by: Option<i64>,
) -> Result<Imported, ImportError> {
    let (format, statements) = read(bytes)?;
    let file_sha256 = Sha256::digest(bytes).to_vec();
    let mut tx = pool.begin().await?;
    let settings = sqlx::query!(
        "SELECT virtual_account_sort_code, virtual_account_prefix FROM utilities WHERE id = $1",
        utility_id
    )
    .fetch_one(&mut *tx)
    .await?;
    let virtual_accounts = settings
        .virtual_account_sort_code
        .map(|code| (code, settings.virtual_account_prefix));
    let mut done = Imported {
        statements: statements.len(),
        ..Imported::default()
    };
    for s in &statements {
        let statement_id = sqlx::query_scalar!(
            r#"INSERT INTO bank_statements (utility_id, account, number, format, file_sha256,
                                            lines_total, lines_new, imported_by)
               VALUES ($1, $2, $3, $4, $5, $6, 0, $7) RETURNING id"#,
            utility_id,
            s.account.trim_start_matches('/'),
            s.number,
            format,
            file_sha256,
            s.lines.len() as i32,
            imported_by
        )
        .fetch_one(&mut *tx)
        .await?;
        let mut new = 0;
        for (line, key) in s.lines.iter().zip(line_keys(s)) {
            done.lines += 1;
            let matched = if line.credit {
                match_line(&mut tx, utility_id, virtual_accounts.as_ref(), line).await?
            } else {
                None
            };
            let status = match (line.credit, matched) {
                (false, _) => "outgoing",
                (true, Some(_)) => "booked",
                (true, None) => "unmatched",
            };
            let Some(line_id) = sqlx::query_scalar!(
                r#"INSERT INTO bank_statement_lines
                       (utility_id, statement_id, line_key, value_date, credit, amount_grosze, title,
                        counterparty, counterparty_account, status, matched_by, customer_id)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
                           CASE WHEN $10 = 'booked' THEN 'unmatched' ELSE $10 END::statement_line_status,
                           $11, $12)
                   ON CONFLICT (utility_id, line_key) DO NOTHING
                   RETURNING id"#,
                utility_id,
                statement_id,
                key,
                line.value_date,
                line.credit,
                line.amount.grosze(),
                line.details.title,
                line.details.counterparty,
                line.details.counterparty_account,
                status,
                matched.map(|m| m.2),
                matched.map(|m| m.0)
            )
            .fetch_optional(&mut *tx)
            .await?
            else {
                done.known += 1;
                continue;
            };
            new += 1;
            match (status, matched) {
                ("booked", Some((customer_id, invoice_id, _))) => {
                    let payment_id = book_transfer(
                        &mut tx,
                        utility_id,
                        customer_id,
                        invoice_id,
                        line.amount,
                        &key,
                    )
                    .await?;
                    sqlx::query!(
                        "UPDATE bank_statement_lines SET status = 'booked', payment_id = $2 WHERE id = $1",
                        line_id,
                        payment_id
                    )
                    .execute(&mut *tx)
                    .await?;
                    done.booked += 1;
                }
                ("outgoing", _) => done.outgoing += 1,
                _ => done.unmatched += 1,
            }
        }
        sqlx::query!(
            "UPDATE bank_statements SET lines_new = $2 WHERE id = $1",
            statement_id,
            new
        )
        .execute(&mut *tx)
        .await?;
    }
    audit::record(
        &mut tx,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: match imported_by {
                Some(account_id) => Actor::Staff {
                    account_id,
                    on_behalf_of: None,
                },
                None => Actor::System,
            },
            action: "bank_statement.imported",
            entity_type: Some("bank_statement"),
            entity_id: None,
            details: json!({ "file_sha256": hex(&file_sha256), "lines": done.lines,
                             "known": done.known, "booked": done.booked,
                             "unmatched": done.unmatched, "outgoing": done.outgoing }),
            request_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(done)
}

/// Why a line could not be assigned.
#[derive(Debug, thiserror::Error)]
pub enum AssignError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Staff assign an unmatched incoming line to customer `customer_id`: it is booked as their
/// payment. The payment's id.
pub async fn assign(
    pool: &PgPool,
    utility_id: i64,
    line_id: i64,
    customer_id: i64,
    staff_account_id: i64,
) -> Result<i64, AssignError> {
    let mut tx = pool.begin().await?;
    let line = sqlx::query!(
        r#"SELECT line_key, amount_grosze, status::text AS "status!", credit
           FROM bank_statement_lines WHERE id = $1 AND utility_id = $2 FOR UPDATE"#,
        line_id,
        utility_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AssignError::NotFound)?;
    if line.status != "unmatched" || !line.credit {
        return Err(AssignError::Invalid(
            "Ta operacja jest już zaksięgowana albo nie jest wpłatą.".into(),
        ));
    }
    let customer = sqlx::query_scalar!(
        "SELECT EXISTS (SELECT 1 FROM customers WHERE id = $1 AND utility_id = $2)",
        customer_id,
        utility_id
    )
    .fetch_one(&mut *tx)
    .await?;
    if customer != Some(true) {
        return Err(AssignError::Invalid("Nie ma takiego klienta.".into()));
    }
    let payment_id = book_transfer(
        &mut tx,
        utility_id,
        customer_id,
        None,
        Money::from_grosze(line.amount_grosze),
        &line.line_key,
    )
    .await?;
    sqlx::query!(
        r#"UPDATE bank_statement_lines SET status = 'booked', payment_id = $2, customer_id = $3,
                                          matched_by = 'by_hand'
           WHERE id = $1"#,
        line_id,
        payment_id,
        customer_id
    )
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: Actor::Staff {
                account_id: staff_account_id,
                on_behalf_of: None,
            },
            action: "bank_statement_line.assigned",
            entity_type: Some("bank_statement_line"),
            entity_id: Some(line_id.to_string()),
            details: json!({ "customer_id": customer_id, "payment_id": payment_id }),
            request_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(payment_id)
}

/// An incoming transfer nobody could be told for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmatched {
    pub id: i64,
    pub value_date: chrono::NaiveDate,
    pub amount: Money,
    pub title: String,
    pub counterparty: String,
    pub counterparty_account: Option<String>,
}

/// The utility's unmatched incoming transfers, oldest first.
pub async fn unmatched(pool: &PgPool, utility_id: i64) -> sqlx::Result<Vec<Unmatched>> {
    let rows = sqlx::query!(
        r#"SELECT id, value_date, amount_grosze, title, counterparty, counterparty_account
           FROM bank_statement_lines
           WHERE utility_id = $1 AND status = 'unmatched'
           ORDER BY value_date, id
           LIMIT 1000"#,
        utility_id
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Unmatched {
            id: r.id,
            value_date: r.value_date,
            amount: Money::from_grosze(r.amount_grosze),
            title: r.title,
            counterparty: r.counterparty,
            counterparty_account: r.counterparty_account,
        })
        .collect())
}

/// An imported statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedStatement {
    pub account: String,
    pub number: String,
    pub lines_total: i32,
    pub lines_new: i32,
    pub imported_at: chrono::DateTime<chrono::Utc>,
}

/// The utility's latest imported statements.
pub async fn recent(pool: &PgPool, utility_id: i64) -> sqlx::Result<Vec<ImportedStatement>> {
    sqlx::query_as!(
        ImportedStatement,
        r#"SELECT account, number, lines_total, lines_new, imported_at FROM bank_statements
           WHERE utility_id = $1 ORDER BY imported_at DESC, id DESC LIMIT 20"#,
        utility_id
    )
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoice_numbers_are_found_in_titles_as_people_write_them() {
        assert_eq!(
            invoice_numbers_in("oplata fv/2026/11/000123 i KOR/2026/12/000001."),
            vec!["FV/2026/11/000123", "KOR/2026/12/000001"]
        );
        assert!(invoice_numbers_in("FV/2026/11/0001234").is_empty());
        assert!(invoice_numbers_in("FV/26/11/000123").is_empty());
        assert!(invoice_numbers_in("/").is_empty());
    }

    #[test]
    fn account_numbers_are_found_with_or_without_spaces_and_pl() {
        let other = transfer::virtual_account("10500099", "76", 12_345).unwrap();
        let spaced = other.formatted().trim_start_matches("PL").to_string();
        let text =
            format!("~38PL61109010140000071219812874 i {spaced} ~20 12345678901234567890123456");
        let found: Vec<Nrb> = accounts_in(&text);
        assert!(
            found
                .iter()
                .any(|n| n.as_str() == "61109010140000071219812874"),
            "{found:?}"
        );
        assert!(found.contains(&other), "{found:?}");
        // Right after a subfield's number.
        let glued = accounts_in(&format!("020~20Woda~31{}", other.as_str()));
        assert!(glued.contains(&other), "{glued:?}");
    }

    #[test]
    fn identical_lines_of_a_statement_have_keys_of_their_own() {
        let s = mt940::parse(
            ":20:X\n:25:1\n:28C:1\n:61:261203C5,00NTRF\n:86:x\n:61:261203C5,00NTRF\n:86:x\n",
        )
        .unwrap();
        let keys = line_keys(&s[0]);
        assert_ne!(keys[0], keys[1]);
        assert_eq!(keys, line_keys(&s[0]), "the same file, the same keys");
    }
}
