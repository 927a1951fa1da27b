//! The table of statutory interest rates (`statutory_interest_rates`, migration 0025): the law's
//! rates, the same for every utility of an installation, so the operator keeps them (`ebok
//! interest-rates add`), not one utility's staff. A rate is added from a day and never changed,
//! so a note computed once computes the same later.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use super::interest::{Rate, RateKind};

/// One row, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateRow {
    pub kind: String,
    pub valid_from: NaiveDate,
    pub basis_points: i32,
    pub source: String,
    pub added_at: DateTime<Utc>,
}

/// The rates of a kind, oldest first.
pub async fn of_kind(conn: &mut PgConnection, kind: RateKind) -> sqlx::Result<Vec<Rate>> {
    let rows = sqlx::query!(
        r#"SELECT valid_from, basis_points FROM statutory_interest_rates
           WHERE kind = $1::text::interest_kind ORDER BY valid_from"#,
        kind.as_str()
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Rate {
            valid_from: r.valid_from,
            basis_points: u32::try_from(r.basis_points).unwrap_or(0),
        })
        .collect())
}

/// Every rate, by kind and day.
pub async fn all(conn: &mut PgConnection) -> sqlx::Result<Vec<RateRow>> {
    sqlx::query_as!(
        RateRow,
        r#"SELECT kind::text AS "kind!", valid_from, basis_points, source, added_at
           FROM statutory_interest_rates ORDER BY kind, valid_from"#
    )
    .fetch_all(conn)
    .await
}

#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("a {kind} rate from {from} exists already; rates are never changed")]
    Exists { kind: &'static str, from: NaiveDate },
    #[error("the rate must be above 0 and below 100 %")]
    OutOfRange,
    #[error("say where the rate comes from (e.g. the notice in Monitor Polski)")]
    NoSource,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Adds a rate in force from `valid_from`.
pub async fn add(
    conn: &mut PgConnection,
    kind: RateKind,
    valid_from: NaiveDate,
    basis_points: u32,
    source: &str,
) -> Result<(), AddError> {
    if basis_points == 0 || basis_points >= 10_000 {
        return Err(AddError::OutOfRange);
    }
    if source.trim().is_empty() {
        return Err(AddError::NoSource);
    }
    let inserted = sqlx::query!(
        r#"INSERT INTO statutory_interest_rates (kind, valid_from, basis_points, source)
           VALUES ($1::text::interest_kind, $2, $3, $4)
           ON CONFLICT (kind, valid_from) DO NOTHING"#,
        kind.as_str(),
        valid_from,
        basis_points as i32,
        source.trim(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(AddError::Exists {
            kind: kind.as_str(),
            from: valid_from,
        });
    }
    ebok_common::audit::record(
        conn,
        &ebok_common::audit::AuditEntry {
            utility_id: None,
            actor: ebok_common::audit::Actor::System,
            action: "interest_rate.added",
            entity_type: Some("interest_rate"),
            entity_id: Some(format!("{}:{valid_from}", kind.as_str())),
            details: serde_json::json!({ "basis_points": basis_points, "source": source.trim() }),
            request_id: None,
        },
    )
    .await?;
    Ok(())
}

/// "9,25" or "9.25" (percent a year, at most two decimals) → 925.
pub fn parse_percent(text: &str) -> Option<u32> {
    let text = text.trim().trim_end_matches('%').trim().replace(',', ".");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty()
        || fraction.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let fraction: u32 = format!("{fraction:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percents_as_people_write_them() {
        assert_eq!(parse_percent("9,25"), Some(925));
        assert_eq!(parse_percent("9.5"), Some(950));
        assert_eq!(parse_percent("14"), Some(1400));
        assert_eq!(parse_percent(" 11,25 % "), Some(1125));
        assert_eq!(parse_percent("9,255"), None);
        assert_eq!(parse_percent("abc"), None);
        assert_eq!(parse_percent(",5"), None);
        assert_eq!(parse_percent("-1"), None);
    }
}
