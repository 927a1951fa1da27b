//! Customers as staff see them: finding one by what the person at the counter says
//! ([`search`]), and the customer card ([`card`]): identity and correspondence data, linked
//! eBOK accounts, consents with their history, contracts, supply points with the meters there
//! and their latest readings, open meter alarms, and the notices sent. Every query is scoped by
//! the staff member's utility: a customer of another utility is not found.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

/// Results of one search at most.
pub const SEARCH_LIMIT: i64 = 50;

/// What a search looks for, read from what was typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerms {
    /// As typed, trimmed: a customer number or a meter serial, matched exactly.
    pub exact: String,
    /// Digits only, when what was typed is 10 or 11 digits (dashes and spaces allowed): a NIP
    /// or a PESEL.
    pub digits: Option<String>,
    /// Lower-case, spaces collapsed: the start of a name or of an address ("długa 5").
    pub prefix: String,
    /// Eight hex digits: a radio id.
    pub radio_id: Option<String>,
}

impl SearchTerms {
    /// `None` when there is nothing to look for (fewer than two characters).
    pub fn parse(typed: &str) -> Option<SearchTerms> {
        let exact = typed.trim();
        if exact.chars().count() < 2 || exact.len() > 200 {
            return None;
        }
        let digits: String = exact.chars().filter(char::is_ascii_digit).collect();
        let only_digits = exact
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == ' ');
        let prefix = exact
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        let radio_id = (exact.len() == 8 && exact.chars().all(|c| c.is_ascii_hexdigit()))
            .then(|| exact.to_ascii_lowercase());
        Some(SearchTerms {
            exact: exact.to_string(),
            digits: (only_digits && matches!(digits.len(), 10 | 11)).then_some(digits),
            prefix,
            radio_id,
        })
    }
}

/// A customer found, with what matched.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FoundCustomer {
    pub id: i64,
    pub customer_number: String,
    pub name: String,
    /// `person`, `company`, `housing_community`, `public_institution`.
    pub kind: String,
    /// The correspondence address, as Poles write it.
    pub address: Option<String>,
    /// What matched: `number`, `pesel`, `nip`, `name`, `address`, `meter`.
    pub matched: String,
    /// The supply point that matched (an address or a meter search), as Poles write it.
    pub supply_point: Option<String>,
}

/// Customers of `utility_id` matching `terms`: exact identifiers first, then names and
/// addresses by their start; a supply point or meter leads to the customer of its newest
/// signed contract.
pub async fn search(
    pool: &PgPool,
    utility_id: i64,
    terms: &SearchTerms,
) -> sqlx::Result<Vec<FoundCustomer>> {
    // Every string that starts with the prefix lies in [prefix, prefix || U+10FFFF).
    let upper = format!("{}\u{10FFFF}", terms.prefix);
    sqlx::query_as!(
        FoundCustomer,
        r#"WITH points AS (
               (SELECT sp.id, 'address' AS why, 3 AS rank FROM supply_points sp
                WHERE sp.utility_id = $1
                  AND lower(coalesce(sp.street, sp.city) || ' ' || sp.building_no) ~>=~ $4
                  AND lower(coalesce(sp.street, sp.city) || ' ' || sp.building_no) ~<~ $5
                ORDER BY lower(coalesce(sp.street, sp.city) || ' ' || sp.building_no)
                LIMIT $7)
               UNION ALL
               SELECT m.supply_point_id, 'meter', 0 FROM meters m
               WHERE m.utility_id = $1 AND m.supply_point_id IS NOT NULL
                 AND (m.serial = $2 OR m.radio_id = $6)
           ),
           hits AS (
               SELECT c.id AS customer_id, NULL::bigint AS point_id, 'number' AS why, 0 AS rank
               FROM customers c
               WHERE c.utility_id = $1 AND c.customer_number IN ($2, upper($2))
               UNION ALL
               SELECT c.id, NULL, 'pesel', 0 FROM customers c
               WHERE c.utility_id = $1 AND c.pesel = $3
               UNION ALL
               SELECT c.id, NULL, 'nip', 0 FROM customers c
               WHERE c.utility_id = $1 AND c.nip = $3
               UNION ALL
               (SELECT c.id, NULL, 'name', 1 FROM customers c
                WHERE c.utility_id = $1 AND lower(c.name) ~>=~ $4 AND lower(c.name) ~<~ $5
                ORDER BY lower(c.name) LIMIT $7)
               UNION ALL
               (SELECT c.id, NULL, 'name', 2 FROM customers c
                WHERE c.utility_id = $1 AND c.last_name IS NOT NULL
                  AND lower(c.last_name) ~>=~ $4 AND lower(c.last_name) ~<~ $5
                ORDER BY lower(c.last_name) LIMIT $7)
               UNION ALL
               SELECT k.customer_id, p.id, p.why, p.rank
               FROM points p
               CROSS JOIN LATERAL (
                   SELECT k.customer_id FROM contracts k
                   WHERE k.supply_point_id = p.id AND k.utility_id = $1 AND k.status <> 'draft'
                   ORDER BY k.valid_from DESC LIMIT 1) k
           ),
           best AS (
               SELECT DISTINCT ON (customer_id) customer_id, point_id, why, rank
               FROM hits ORDER BY customer_id, rank
           )
           SELECT c.id, c.customer_number, c.name, c.kind::text AS "kind!",
                  ebok_address(c.street, c.building_no, c.apartment_no, c.postal_code, c.city,
                               c.post_town) AS address,
                  b.why AS "matched!",
                  ebok_address(sp.street, sp.building_no, sp.apartment_no, sp.postal_code,
                               sp.city, sp.post_town) AS supply_point
           FROM best b
           JOIN customers c ON c.id = b.customer_id
           LEFT JOIN supply_points sp ON sp.id = b.point_id
           ORDER BY b.rank, lower(c.name), c.id
           LIMIT $7"#,
        utility_id,
        terms.exact,
        terms.digits,
        terms.prefix,
        upper,
        terms.radio_id,
        SEARCH_LIMIT,
    )
    .fetch_all(pool)
    .await
}

/// Everything staff see of one customer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerCard {
    pub customer: CustomerIdentity,
    pub accounts: Vec<LinkedAccount>,
    pub consents: Vec<ConsentRecord>,
    pub contracts: Vec<ContractRow>,
    pub meters: Vec<MeterRow>,
    pub open_alarms: Vec<AlarmRow>,
    /// The newest notices sent to the customer's accounts (at most 20).
    pub notices: Vec<NoticeRow>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerIdentity {
    pub id: i64,
    pub customer_number: String,
    pub kind: String,
    pub name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub pesel: Option<String>,
    pub nip: Option<String>,
    pub regon: Option<String>,
    pub krs: Option<String>,
    /// The correspondence address, as Poles write it.
    pub address: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkedAccount {
    pub account_id: i64,
    pub email: String,
    pub display_name: String,
    pub status: String,
    pub linked_at: DateTime<Utc>,
    /// `activation_code`, `last_invoice` or `staff`.
    pub linked_via: String,
    pub last_login_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentRecord {
    pub account_id: i64,
    pub email: String,
    /// `e_invoice` or `notifications`.
    pub kind: String,
    pub form_version: String,
    pub granted_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContractRow {
    pub id: i64,
    pub number: String,
    pub status: String,
    pub tariff_group: String,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    pub supply_point_id: i64,
    pub supply_point_code: String,
    pub supply_point_address: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeterRow {
    pub id: i64,
    pub serial: String,
    pub radio_id: Option<String>,
    /// `wmbus`, `modbus` or `manual`.
    pub channel: String,
    /// `main`, `garden` or `sewage`.
    pub purpose: String,
    pub supply_point_code: String,
    pub installed_at: Option<DateTime<Utc>>,
    pub removed_at: Option<DateTime<Utc>>,
    pub legalised_until: Option<NaiveDate>,
    /// The meter this one replaced.
    pub replaces_meter_id: Option<i64>,
    pub latest_at: Option<DateTime<Utc>>,
    pub latest_litres: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlarmRow {
    pub id: i64,
    pub meter_id: i64,
    pub meter_serial: String,
    pub kind: String,
    /// `raised` or `acknowledged`.
    pub state: String,
    pub raised_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NoticeRow {
    pub id: i64,
    pub email: String,
    pub title: String,
    pub category: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// The card of customer `id` of `utility_id`; `None` if the utility has no such customer.
pub async fn card(pool: &PgPool, utility_id: i64, id: i64) -> sqlx::Result<Option<CustomerCard>> {
    let Some(customer) = sqlx::query_as!(
        CustomerIdentity,
        r#"SELECT id, customer_number, kind::text AS "kind!", name, first_name, last_name,
                  pesel, nip, regon, krs,
                  ebok_address(street, building_no, apartment_no, postal_code, city, post_town)
                      AS address,
                  email, phone, created_at
           FROM customers WHERE utility_id = $1 AND id = $2"#,
        utility_id,
        id,
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let accounts = sqlx::query_as!(
        LinkedAccount,
        r#"SELECT a.id AS account_id, a.email, a.display_name, a.status::text AS "status!",
                  ac.linked_at, ac.linked_via::text AS "linked_via!", a.last_login_at
           FROM account_customers ac JOIN user_accounts a ON a.id = ac.account_id
           WHERE ac.utility_id = $1 AND ac.customer_id = $2
           ORDER BY ac.linked_at"#,
        utility_id,
        id,
    )
    .fetch_all(pool)
    .await?;
    let consents = sqlx::query_as!(
        ConsentRecord,
        r#"SELECT k.account_id, a.email, k.kind::text AS "kind!", k.form_version, k.granted_at,
                  k.withdrawn_at
           FROM account_customers ac
           JOIN consents k ON k.account_id = ac.account_id
           JOIN user_accounts a ON a.id = k.account_id
           WHERE ac.utility_id = $1 AND ac.customer_id = $2
           ORDER BY k.granted_at DESC, k.id DESC"#,
        utility_id,
        id,
    )
    .fetch_all(pool)
    .await?;
    let contracts = sqlx::query_as!(
        ContractRow,
        r#"SELECT k.id, k.number, k.status::text AS "status!", t.code AS tariff_group,
                  k.valid_from, k.valid_until, sp.id AS supply_point_id,
                  sp.code AS supply_point_code,
                  ebok_address(sp.street, sp.building_no, sp.apartment_no, sp.postal_code,
                               sp.city, sp.post_town) AS supply_point_address
           FROM contracts k
           JOIN supply_points sp ON sp.id = k.supply_point_id
           JOIN tariff_groups t ON t.id = k.tariff_group_id
           WHERE k.utility_id = $1 AND k.customer_id = $2
           ORDER BY k.valid_from DESC, k.id DESC"#,
        utility_id,
        id,
    )
    .fetch_all(pool)
    .await?;
    // The meters that stood at the customer's points while a contract of theirs was there.
    let meters = sqlx::query_as!(
        MeterRow,
        r#"SELECT DISTINCT ON (m.installed_at, m.id)
                  m.id, m.serial, m.radio_id, m.channel::text AS "channel!",
                  m.purpose::text AS "purpose!", sp.code AS supply_point_code,
                  m.installed_at, m.removed_at, m.legalised_until, m.replaces_meter_id,
                  l.measured_at AS "latest_at?", l.volume_litres AS "latest_litres?"
           FROM contracts k
           JOIN supply_points sp ON sp.id = k.supply_point_id
           JOIN meters m ON m.supply_point_id = k.supply_point_id AND m.utility_id = k.utility_id
           LEFT JOIN meter_latest_readings l ON l.meter_id = m.id
           WHERE k.utility_id = $1 AND k.customer_id = $2 AND k.status <> 'draft'
             AND tstzrange(m.installed_at, m.removed_at)
                 && tstzrange(k.valid_from::timestamp AT TIME ZONE 'Europe/Warsaw',
                              (k.valid_until + 1)::timestamp AT TIME ZONE 'Europe/Warsaw')
           ORDER BY m.installed_at DESC, m.id DESC"#,
        utility_id,
        id,
    )
    .fetch_all(pool)
    .await?;
    let meter_ids: Vec<i64> = meters.iter().map(|m| m.id).collect();
    let open_alarms = sqlx::query_as!(
        AlarmRow,
        r#"SELECT a.id, a.meter_id, m.serial AS meter_serial, a.kind::text AS "kind!",
                  a.state::text AS "state!", a.raised_at
           FROM meter_alarms a JOIN meters m ON m.id = a.meter_id
           WHERE a.utility_id = $1 AND a.meter_id = ANY($2) AND a.state <> 'cleared'
           ORDER BY a.raised_at DESC"#,
        utility_id,
        &meter_ids,
    )
    .fetch_all(pool)
    .await?;
    let notices = sqlx::query_as!(
        NoticeRow,
        r#"SELECT n.id, a.email, n.title, n.category::text AS "category!", n.created_at,
                  n.read_at
           FROM account_customers ac
           JOIN notifications n ON n.account_id = ac.account_id
           JOIN user_accounts a ON a.id = n.account_id
           WHERE ac.utility_id = $1 AND ac.customer_id = $2
           ORDER BY n.created_at DESC LIMIT 20"#,
        utility_id,
        id,
    )
    .fetch_all(pool)
    .await?;
    Ok(Some(CustomerCard {
        customer,
        accounts,
        consents,
        contracts,
        meters,
        open_alarms,
        notices,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_typed_is_read_as_the_identifiers_it_can_be() {
        let t = SearchTerms::parse("  Długa   5 ").unwrap();
        assert_eq!(t.prefix, "długa 5");
        assert_eq!(t.exact, "Długa   5");
        assert_eq!((t.digits, t.radio_id), (None, None));
        let pesel = SearchTerms::parse("8501 0112 345").unwrap();
        assert_eq!(pesel.digits.as_deref(), Some("85010112345"));
        let nip = SearchTerms::parse("123-456-32-18").unwrap();
        assert_eq!(nip.digits.as_deref(), Some("1234563218"));
        let radio = SearchTerms::parse("1A2B3C4D").unwrap();
        assert_eq!(radio.radio_id.as_deref(), Some("1a2b3c4d"));
        assert_eq!(SearchTerms::parse("12345678").unwrap().digits, None);
        assert!(SearchTerms::parse(" a ").is_none());
        assert!(SearchTerms::parse(&"x".repeat(201)).is_none());
    }
}
