//! The audit log as admins read it: entries of their utility filtered by staff member,
//! customer, action and period ([`entries`]), and the same as CSV for a spreadsheet
//! ([`csv`]). The log itself is append-only (a trigger refuses changes); this only reads it.
//!
//! "About a customer" means: the customer record itself, its contracts, what was done to the
//! meters at its supply points while its contract was in force there and their alarms raised
//! then (not the tenants' before or after), its linked eBOK accounts (as the entry's subject,
//! its actor, or the resident a clerk acted for).

use chrono::{DateTime, NaiveDate, Utc};
use ebok_common::domain::time::{BILLING_TZ, day_start};
use ebok_common::excel_csv::{self, text_cell};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

/// Entries of one page at most; a CSV export takes up to [`CSV_LIMIT`].
pub const PAGE_LIMIT: i64 = 500;
pub const CSV_LIMIT: i64 = 100_000;

/// Which entries to show.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Entries by this staff member (an account of the utility).
    pub staff: Option<i64>,
    /// Entries about this customer.
    pub customer: Option<i64>,
    /// An action (`meter.replaced`) or its subject (`meter`: every `meter.…`).
    pub action: Option<String>,
    /// Warsaw days, both inclusive.
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// One entry as admins read it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `resident`, `staff` or `system`.
    pub actor: String,
    pub actor_name: Option<String>,
    pub actor_email: Option<String>,
    pub actor_role: Option<String>,
    /// The resident a clerk acted for.
    pub on_behalf_of: Option<String>,
    pub action: String,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub details: serde_json::Value,
}

/// The utility's entries matching `filter`, newest first, at most `limit`.
pub async fn entries(
    pool: &PgPool,
    utility_id: i64,
    filter: &AuditFilter,
    limit: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    let from = day_start(filter.from);
    let until = day_start(filter.to + chrono::Days::new(1));
    sqlx::query_as!(
        AuditRow,
        r#"SELECT l.id, l.at, l.actor::text AS "actor!", a.display_name AS "actor_name?",
                  a.email AS "actor_email?", a.role::text AS "actor_role?",
                  o.email AS "on_behalf_of?", l.action, l.entity_type, l.entity_id, l.details
           FROM audit_log l
           LEFT JOIN user_accounts a ON a.id = l.actor_account_id
           LEFT JOIN user_accounts o ON o.id = l.on_behalf_of_account_id
           WHERE l.utility_id = $1 AND l.at >= $2 AND l.at < $3
             AND ($4::bigint IS NULL OR l.actor_account_id = $4)
             AND ($5::text IS NULL OR l.action = $5 OR l.action LIKE $5 || '.%')
             AND ($6::bigint IS NULL
                  OR (l.entity_type = 'customer' AND l.entity_id = $6::text)
                  OR (l.entity_type = 'contract' AND l.entity_id IN (
                        SELECT id::text FROM contracts WHERE utility_id = $1 AND customer_id = $6))
                  OR (l.entity_type = 'meter' AND EXISTS (
                        SELECT 1 FROM contracts k
                        JOIN meters m ON m.supply_point_id = k.supply_point_id
                        WHERE k.utility_id = $1 AND k.customer_id = $6 AND k.status <> 'draft'
                          AND m.id::text = l.entity_id
                          AND l.at >= k.valid_from::timestamp AT TIME ZONE 'Europe/Warsaw'
                          AND (k.valid_until IS NULL OR l.at <
                               (k.valid_until + 1)::timestamp AT TIME ZONE 'Europe/Warsaw')))
                  OR (l.entity_type = 'meter_alarm' AND EXISTS (
                        SELECT 1 FROM contracts k
                        JOIN meters m ON m.supply_point_id = k.supply_point_id
                        JOIN meter_alarms a ON a.meter_id = m.id
                        WHERE k.utility_id = $1 AND k.customer_id = $6 AND k.status <> 'draft'
                          AND a.id::text = l.entity_id
                          AND a.raised_at >= k.valid_from::timestamp AT TIME ZONE 'Europe/Warsaw'
                          AND (k.valid_until IS NULL OR a.raised_at <
                               (k.valid_until + 1)::timestamp AT TIME ZONE 'Europe/Warsaw')))
                  OR (l.entity_type = 'account' AND l.entity_id IN (
                        SELECT account_id::text FROM account_customers
                        WHERE utility_id = $1 AND customer_id = $6))
                  OR l.actor_account_id IN (
                        SELECT account_id FROM account_customers
                        WHERE utility_id = $1 AND customer_id = $6)
                  OR l.on_behalf_of_account_id IN (
                        SELECT account_id FROM account_customers
                        WHERE utility_id = $1 AND customer_id = $6))
           ORDER BY l.at DESC, l.id DESC
           LIMIT $7"#,
        utility_id,
        from,
        until,
        filter.staff,
        filter.action.as_deref().filter(|a| !a.is_empty()),
        filter.customer,
        limit,
    )
    .fetch_all(pool)
    .await
}

/// The header row of the CSV export.
pub const CSV_HEADER: &str =
    "Czas;Kto;Rola;Adres e-mail;W imieniu;Działanie;Obiekt;Id obiektu;Szczegóły";

/// Entries as CSV for Polish Excel (`ebok_common::excel_csv`), times in Warsaw.
pub fn csv(rows: &[AuditRow]) -> String {
    let mut out = String::with_capacity(128 + rows.len() * 160);
    out.push(excel_csv::BOM);
    out.push_str(CSV_HEADER);
    out.push_str(excel_csv::LINE_END);
    for row in rows {
        let who = match (&row.actor_name, row.actor.as_str()) {
            (Some(name), _) => name.clone(),
            (None, "system") => "system".to_string(),
            (None, other) => other.to_string(),
        };
        let cells = [
            row.at
                .with_timezone(&BILLING_TZ)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            text_cell(&who),
            text_cell(row.actor_role.as_deref().unwrap_or_default()),
            text_cell(row.actor_email.as_deref().unwrap_or_default()),
            text_cell(row.on_behalf_of.as_deref().unwrap_or_default()),
            text_cell(&row.action),
            text_cell(row.entity_type.as_deref().unwrap_or_default()),
            text_cell(row.entity_id.as_deref().unwrap_or_default()),
            text_cell(&row.details.to_string()),
        ];
        out.push_str(&cells.join(";"));
        out.push_str(excel_csv::LINE_END);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_has_a_bom_a_header_and_one_defused_row_per_entry() {
        let row = AuditRow {
            id: 1,
            at: "2026-12-05T08:15:00Z".parse().unwrap(),
            actor: "staff".into(),
            actor_name: Some("Ewa; z BOK".into()),
            actor_email: Some("bok@mlynary.pl".into()),
            actor_role: Some("clerk".into()),
            on_behalf_of: None,
            action: "meter.replaced".into(),
            entity_type: Some("meter".into()),
            entity_id: Some("7".into()),
            details: serde_json::json!({ "note": "=1+1" }),
        };
        let csv = csv(&[row]);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], format!("\u{feff}{CSV_HEADER}"));
        assert_eq!(
            lines[1],
            "2026-12-05 09:15:00;\"Ewa; z BOK\";clerk;bok@mlynary.pl;;meter.replaced;meter;7;\
             \"{\"\"note\"\":\"\"=1+1\"\"}\""
        );
        assert_eq!(lines.len(), 3);
    }
}
