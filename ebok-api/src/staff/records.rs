//! Customers, supply points and contracts as staff create and change them. What a clerk typed
//! is checked first ([`CustomerDraft::check`], pure: each wrong field with its Polish message,
//! with the shared validators of PESEL, NIP, REGON and postal codes), then written in one
//! transaction with its audit entry. The database's rules are shown as clear messages: a
//! PESEL or NIP another customer has names that customer, and a contract overlapping another
//! on the same supply point names the contract in force (`one_contract_per_point_and_day`).

use chrono::{NaiveDate, Utc};
use ebok_common::domain::identifiers::{Nip, Pesel, PostalCode, Regon};
use ebok_common::domain::time::local_day;
use ebok_common::polish;
use serde::Deserialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::staff::ByStaff;

/// Problems of a form: each field with its Polish message.
pub type Problems = Vec<(&'static str, String)>;

/// A customer as a clerk entered it (every field as typed).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct CustomerDraft {
    /// `person`, `company`, `housing_community` or `public_institution`.
    #[schema(pattern = "^(person|company|housing_community|public_institution)$")]
    pub kind: String,
    /// A person's names; an organisation's name.
    #[schema(max_length = 100)]
    pub first_name: String,
    #[schema(max_length = 100)]
    pub last_name: String,
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 20)]
    pub pesel: String,
    #[schema(max_length = 20)]
    pub nip: String,
    #[schema(max_length = 20)]
    pub regon: String,
    #[schema(max_length = 20)]
    pub krs: String,
    /// Correspondence address.
    #[schema(max_length = 100)]
    pub street: String,
    #[schema(max_length = 20)]
    pub building_no: String,
    #[schema(max_length = 20)]
    pub apartment_no: String,
    #[schema(max_length = 10)]
    pub postal_code: String,
    #[schema(max_length = 100)]
    pub city: String,
    /// The post office's town, when it is not `city` (a village).
    #[schema(max_length = 100)]
    pub post_town: String,
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(max_length = 30)]
    pub phone: String,
}

/// A customer checked: what the database stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidCustomer {
    pub kind: &'static str,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: String,
    pub pesel: Option<String>,
    pub nip: Option<String>,
    pub regon: Option<String>,
    pub krs: Option<String>,
    pub street: Option<String>,
    pub building_no: String,
    pub apartment_no: Option<String>,
    pub postal_code: String,
    pub city: String,
    pub post_town: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

fn optional(text: &str) -> Option<String> {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

fn required(problems: &mut Problems, field: &'static str, text: &str, message: &str) -> String {
    let value = optional(text);
    if value.is_none() {
        problems.push((field, message.to_string()));
    }
    value.unwrap_or_default()
}

impl CustomerDraft {
    /// The customer, or every wrong field at once.
    pub fn check(&self) -> Result<ValidCustomer, Problems> {
        let mut problems = Problems::new();
        // The limits the API document states, on what was sent.
        for (field, value, max) in [
            ("first_name", &self.first_name, 100),
            ("last_name", &self.last_name, 100),
            ("name", &self.name, 200),
            ("pesel", &self.pesel, 20),
            ("nip", &self.nip, 20),
            ("regon", &self.regon, 20),
            ("krs", &self.krs, 20),
            ("street", &self.street, 100),
            ("building_no", &self.building_no, 20),
            ("apartment_no", &self.apartment_no, 20),
            ("postal_code", &self.postal_code, 10),
            ("city", &self.city, 100),
            ("post_town", &self.post_town, 100),
            ("email", &self.email, 254),
            ("phone", &self.phone, 30),
        ] {
            if value.chars().count() > max {
                problems.push((field, format!("Najwyżej {max} znaków.")));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let kind = match self.kind.as_str() {
            "person" => "person",
            "company" => "company",
            "housing_community" => "housing_community",
            "public_institution" => "public_institution",
            _ => {
                problems.push(("kind", "Wybierz rodzaj klienta.".to_string()));
                "person"
            }
        };
        let person = kind == "person";
        let (first_name, last_name, name) = if person {
            let first = required(&mut problems, "first_name", &self.first_name, "Podaj imię.");
            let last = required(
                &mut problems,
                "last_name",
                &self.last_name,
                "Podaj nazwisko.",
            );
            let name = format!("{first} {last}").trim().to_string();
            (Some(first), Some(last), name)
        } else {
            let name = required(
                &mut problems,
                "name",
                &self.name,
                "Podaj nazwę, np. „Wspólnota Mieszkaniowa Dworcowa 5”.",
            );
            (None, None, name)
        };
        let pesel = match optional(&self.pesel) {
            None => None,
            Some(_) if !person => {
                problems.push(("pesel", "PESEL podaje się tylko dla osoby.".to_string()));
                None
            }
            Some(text) => match Pesel::parse(&text) {
                Ok(p) => Some(p.as_str().to_string()),
                Err(e) => {
                    problems.push(("pesel", e.message_pl()));
                    None
                }
            },
        };
        let nip = match optional(&self.nip) {
            None if !person => {
                problems.push((
                    "nip",
                    "Podaj NIP: firma, wspólnota i instytucja mają go zawsze.".to_string(),
                ));
                None
            }
            None => None,
            Some(text) => match Nip::parse(&text) {
                Ok(n) => Some(n.as_str().to_string()),
                Err(e) => {
                    problems.push(("nip", e.message_pl()));
                    None
                }
            },
        };
        let regon = match optional(&self.regon) {
            None => None,
            Some(text) => match Regon::parse(&text) {
                Ok(r) => Some(r.as_str().to_string()),
                Err(e) => {
                    problems.push(("regon", e.message_pl()));
                    None
                }
            },
        };
        let krs = optional(&self.krs).map(|k| k.replace(' ', ""));
        if krs
            .as_ref()
            .is_some_and(|k| k.len() != 10 || !k.chars().all(|c| c.is_ascii_digit()))
        {
            problems.push(("krs", "Numer KRS ma 10 cyfr, np. 0000123456.".to_string()));
        }
        let street = optional(&self.street);
        let building_no = required(
            &mut problems,
            "building_no",
            &self.building_no,
            "Podaj numer domu.",
        );
        let apartment_no = optional(&self.apartment_no);
        let postal_code = match PostalCode::parse(self.postal_code.trim()) {
            Ok(code) => code.as_str().to_string(),
            Err(e) => {
                problems.push(("postal_code", e.message_pl()));
                String::new()
            }
        };
        let city = required(&mut problems, "city", &self.city, "Podaj miejscowość.");
        let post_town = optional(&self.post_town).filter(|t| *t != city);
        let email = optional(&self.email);
        if let Some(e) = &email
            && crate::accounts::parse_email(e).is_err()
        {
            problems.push((
                "email",
                "Podaj poprawny adres e-mail, np. jan@example.pl.".into(),
            ));
        }
        let phone = optional(&self.phone);
        if let Some(p) = &phone {
            let digits = p.chars().filter(char::is_ascii_digit).count();
            let allowed = p
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'));
            if !allowed || !(9..=15).contains(&digits) {
                problems.push(("phone", "Podaj numer telefonu, np. 55 123 45 67.".into()));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ValidCustomer {
            kind,
            first_name: person.then_some(first_name).flatten(),
            last_name: person.then_some(last_name).flatten(),
            name,
            pesel,
            nip,
            regon,
            krs,
            street,
            building_no,
            apartment_no,
            postal_code,
            city,
            post_town,
            email,
            phone,
        })
    }
}

/// Another customer of the utility with the PESEL or NIP, named for the clerk.
async fn duplicate(
    pool: &PgPool,
    utility_id: i64,
    except: Option<i64>,
    c: &ValidCustomer,
) -> sqlx::Result<Option<(&'static str, String)>> {
    let found = sqlx::query!(
        r#"SELECT customer_number, name, coalesce(pesel = $3, false) AS "by_pesel!"
           FROM customers
           WHERE utility_id = $1 AND id IS DISTINCT FROM $2
             AND ((pesel IS NOT NULL AND pesel = $3)
                  OR (nip IS NOT NULL AND nip = $4 AND kind <> 'person' AND $5 <> 'person'))
           LIMIT 1"#,
        utility_id,
        except,
        c.pesel,
        c.nip,
        c.kind,
    )
    .fetch_optional(pool)
    .await?;
    Ok(found.map(|f| {
        let field = if f.by_pesel { "pesel" } else { "nip" };
        (
            field,
            format!(
                "Ten numer ma już klient {} (nr {}). Otwórz jego kartę zamiast zakładać nowego.",
                f.name, f.customer_number
            ),
        )
    }))
}

/// Creates a customer; its number is `K` and seven digits of its id.
pub async fn create_customer(
    pool: &PgPool,
    by: ByStaff,
    draft: &CustomerDraft,
) -> Result<i64, ApiError> {
    let c = draft.check().map_err(first_problem)?;
    if let Some((field, detail)) = duplicate(pool, by.utility_id, None, &c).await? {
        return Err(ApiError::invalid(field, detail));
    }
    let mut tx = pool.begin().await?;
    let id = sqlx::query_scalar!(
        r#"INSERT INTO customers (utility_id, customer_number, kind, first_name, last_name, name,
                                  pesel, nip, regon, krs, street, building_no, apartment_no,
                                  postal_code, city, post_town, email, phone)
           VALUES ($1, 'nowy-' || gen_random_uuid(), $2::text::customer_kind, $3, $4, $5, $6,
                   $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
           RETURNING id"#,
        by.utility_id,
        c.kind,
        c.first_name,
        c.last_name,
        c.name,
        c.pesel,
        c.nip,
        c.regon,
        c.krs,
        c.street,
        c.building_no,
        c.apartment_no,
        c.postal_code,
        c.city,
        c.post_town,
        c.email,
        c.phone,
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE customers SET customer_number = 'K' || lpad(id::text, 7, '0') WHERE id = $1",
        id
    )
    .execute(&mut *tx)
    .await?;
    by.audit(
        &mut tx,
        "customer.created",
        "customer",
        id,
        json!({ "kind": c.kind }),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Changes customer `id` of the staff member's utility; the audit entry names the fields
/// changed.
pub async fn update_customer(
    pool: &PgPool,
    by: ByStaff,
    id: i64,
    draft: &CustomerDraft,
) -> Result<(), ApiError> {
    let c = draft.check().map_err(first_problem)?;
    if let Some((field, detail)) = duplicate(pool, by.utility_id, Some(id), &c).await? {
        return Err(ApiError::invalid(field, detail));
    }
    let mut tx = pool.begin().await?;
    let before = sqlx::query!(
        r#"SELECT to_jsonb(c) - 'id' - 'utility_id' - 'created_at' - 'customer_number'
                  AS "row!"
           FROM customers c WHERE id = $1 AND utility_id = $2 FOR UPDATE"#,
        id,
        by.utility_id,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?
    .row;
    let after = sqlx::query_scalar!(
        r#"UPDATE customers c SET kind = $3::text::customer_kind, first_name = $4,
                  last_name = $5, name = $6, pesel = $7, nip = $8, regon = $9, krs = $10,
                  street = $11, building_no = $12, apartment_no = $13, postal_code = $14,
                  city = $15, post_town = $16, email = $17, phone = $18
           WHERE id = $1 AND utility_id = $2
           RETURNING to_jsonb(c) - 'id' - 'utility_id' - 'created_at' - 'customer_number'
                     AS "row!""#,
        id,
        by.utility_id,
        c.kind,
        c.first_name,
        c.last_name,
        c.name,
        c.pesel,
        c.nip,
        c.regon,
        c.krs,
        c.street,
        c.building_no,
        c.apartment_no,
        c.postal_code,
        c.city,
        c.post_town,
        c.email,
        c.phone,
    )
    .fetch_one(&mut *tx)
    .await?;
    let changed: Vec<&String> = after
        .as_object()
        .map(|a| {
            a.iter()
                .filter(|(k, v)| before.get(k.as_str()) != Some(v))
                .map(|(k, _)| k)
                .collect()
        })
        .unwrap_or_default();
    by.audit(
        &mut tx,
        "customer.updated",
        "customer",
        id,
        json!({ "changed": changed }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A supply point as a clerk entered it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct PointDraft {
    #[schema(max_length = 100)]
    pub street: String,
    #[schema(max_length = 20)]
    pub building_no: String,
    #[schema(max_length = 20)]
    pub apartment_no: String,
    #[schema(max_length = 10)]
    pub postal_code: String,
    #[schema(max_length = 100)]
    pub city: String,
    #[schema(max_length = 100)]
    pub post_town: String,
    /// Sewage collected there too (water is supplied at every point created here).
    pub sewage: bool,
}

/// Creates a supply point; its code is `PP` and seven digits of its id.
pub async fn create_point(pool: &PgPool, by: ByStaff, draft: &PointDraft) -> Result<i64, ApiError> {
    let mut problems = Problems::new();
    for (field, value, max) in [
        ("street", &draft.street, 100),
        ("building_no", &draft.building_no, 20),
        ("apartment_no", &draft.apartment_no, 20),
        ("postal_code", &draft.postal_code, 10),
        ("city", &draft.city, 100),
        ("post_town", &draft.post_town, 100),
    ] {
        if value.chars().count() > max {
            problems.push((field, format!("Najwyżej {max} znaków.")));
        }
    }
    let building_no = required(
        &mut problems,
        "building_no",
        &draft.building_no,
        "Podaj numer domu.",
    );
    let city = required(&mut problems, "city", &draft.city, "Podaj miejscowość.");
    let postal_code = match PostalCode::parse(draft.postal_code.trim()) {
        Ok(code) => code.as_str().to_string(),
        Err(e) => {
            problems.push(("postal_code", e.message_pl()));
            String::new()
        }
    };
    if let Some(problem) = problems.into_iter().next() {
        return Err(first_problem(vec![problem]));
    }
    let post_town = optional(&draft.post_town).filter(|t| *t != city);
    let mut tx = pool.begin().await?;
    let id = sqlx::query_scalar!(
        r#"INSERT INTO supply_points (utility_id, code, street, building_no, apartment_no,
                                      postal_code, city, post_town, water_service, sewage_service)
           VALUES ($1, 'nowy-' || gen_random_uuid(), $2, $3, $4, $5, $6, $7, true, $8)
           RETURNING id"#,
        by.utility_id,
        optional(&draft.street),
        building_no,
        optional(&draft.apartment_no),
        postal_code,
        city,
        post_town,
        draft.sewage,
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE supply_points SET code = 'PP' || lpad(id::text, 7, '0') WHERE id = $1",
        id
    )
    .execute(&mut *tx)
    .await?;
    by.audit(
        &mut tx,
        "supply_point.created",
        "supply_point",
        id,
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// A contract to start, as a clerk entered it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct ContractDraft {
    /// The supply point's code (`PP0000123`).
    #[schema(max_length = 40)]
    pub supply_point: String,
    /// The tariff group's code (`G1`).
    #[schema(max_length = 16)]
    pub tariff_group: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
}

/// Starts a contract of customer `customer_id` (signed at the counter now); its number is
/// `U/<year>/<id>`. A contract overlapping another on the point is refused naming that one.
pub async fn start_contract(
    pool: &PgPool,
    by: ByStaff,
    customer_id: i64,
    draft: &ContractDraft,
) -> Result<i64, ApiError> {
    let mut tx = pool.begin().await?;
    let id = start_contract_in(&mut tx, by, customer_id, draft).await?;
    tx.commit().await?;
    Ok(id)
}

/// [`start_contract`] in the caller's transaction (a case concluding a supply contract starts
/// it with the case's step).
pub async fn start_contract_in(
    tx: &mut PgConnection,
    by: ByStaff,
    customer_id: i64,
    draft: &ContractDraft,
) -> Result<i64, ApiError> {
    let valid_from = draft
        .valid_from
        .ok_or_else(|| ApiError::invalid("valid_from", "Podaj dzień początku umowy."))?;
    if draft.valid_until.is_some_and(|until| until < valid_from) {
        return Err(ApiError::invalid(
            "valid_until",
            "Koniec umowy nie może być przed jej początkiem.",
        ));
    }
    let customer = sqlx::query_scalar!(
        "SELECT id FROM customers WHERE id = $1 AND utility_id = $2",
        customer_id,
        by.utility_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    customer.ok_or(ApiError::NotFound)?;
    let point = sqlx::query_scalar!(
        "SELECT id FROM supply_points WHERE utility_id = $1 AND code = $2 FOR UPDATE",
        by.utility_id,
        draft.supply_point.trim(),
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::invalid("supply_point", "Nie ma punktu poboru o tym kodzie."))?;
    let tariff = sqlx::query_scalar!(
        "SELECT id FROM tariff_groups WHERE utility_id = $1 AND code = $2",
        by.utility_id,
        draft.tariff_group.trim(),
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::invalid("tariff_group", "Wybierz grupę taryfową."))?;
    // The rule is the database's (one binding contract per point and day); asked first, so the
    // message can name the contract in the way.
    let overlapping = sqlx::query!(
        r#"SELECT k.number, k.valid_from, k.valid_until, c.name
           FROM contracts k JOIN customers c ON c.id = k.customer_id
           WHERE k.supply_point_id = $1 AND k.status <> 'draft'
             AND daterange(k.valid_from, k.valid_until, '[]') && daterange($2, $3, '[]')
           ORDER BY k.valid_from LIMIT 1"#,
        point,
        valid_from,
        draft.valid_until,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(k) = overlapping {
        return Err(ApiError::invalid(
            "valid_from",
            format!(
                "W tym okresie punkt ma już umowę nr {} ({}, od {}{}). Najpierw zakończ ją \
                 dzień przed początkiem nowej.",
                k.number,
                k.name,
                polish::day(k.valid_from),
                k.valid_until
                    .map(|d| format!(" do {}", polish::day(d)))
                    .unwrap_or_else(|| ", bezterminowo".into()),
            ),
        ));
    }
    let id = sqlx::query_scalar!(
        r#"INSERT INTO contracts (utility_id, number, customer_id, supply_point_id,
                                  tariff_group_id, valid_from, valid_until, status, signed_at)
           VALUES ($1, 'nowa-' || gen_random_uuid(), $2, $3, $4, $5, $6, 'active', now())
           RETURNING id"#,
        by.utility_id,
        customer_id,
        point,
        tariff,
        valid_from,
        draft.valid_until,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(overlap_message)?;
    sqlx::query!(
        r#"UPDATE contracts SET number = 'U/' || extract(year FROM valid_from) || '/' || id
           WHERE id = $1"#,
        id
    )
    .execute(&mut *tx)
    .await?;
    by.audit(
        &mut *tx,
        "contract.started",
        "contract",
        id,
        json!({ "customer_id": customer_id, "supply_point_id": point,
                "valid_from": valid_from, "valid_until": draft.valid_until }),
    )
    .await?;
    Ok(id)
}

/// Ends contract `id` on `last_day` (inclusive): it is terminated when that day has come.
pub async fn end_contract(
    pool: &PgPool,
    by: ByStaff,
    id: i64,
    last_day: NaiveDate,
) -> Result<(), ApiError> {
    let mut tx = pool.begin().await?;
    let k = sqlx::query!(
        r#"SELECT valid_from, valid_until, status::text AS "status!" FROM contracts
           WHERE id = $1 AND utility_id = $2 FOR UPDATE"#,
        id,
        by.utility_id,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    if k.status == "terminated" {
        return Err(ApiError::invalid(
            "last_day",
            "Ta umowa jest już rozwiązana.",
        ));
    }
    if last_day < k.valid_from {
        return Err(ApiError::invalid(
            "last_day",
            format!(
                "Umowa obowiązuje od {}; nie może skończyć się wcześniej.",
                polish::day(k.valid_from)
            ),
        ));
    }
    if k.valid_until.is_some_and(|until| last_day > until) {
        return Err(ApiError::invalid(
            "last_day",
            "Umowa kończy się wcześniej; rozwiązanie nie może jej przedłużyć.",
        ));
    }
    let today = local_day(Utc::now());
    sqlx::query!(
        r#"UPDATE contracts SET valid_until = $2::date,
                  status = CASE WHEN $2::date <= $3::date THEN 'terminated'::contract_status ELSE status END
           WHERE id = $1"#,
        id,
        last_day,
        today,
    )
    .execute(&mut *tx)
    .await?;
    by.audit(
        &mut tx,
        "contract.ended",
        "contract",
        id,
        json!({ "last_day": last_day }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The database's overlap rule, should two clerks race past the check: the same message.
fn overlap_message(error: sqlx::Error) -> ApiError {
    if let sqlx::Error::Database(db) = &error
        && db.constraint() == Some("one_contract_per_point_and_day")
    {
        return ApiError::invalid(
            "valid_from",
            "W tym okresie punkt poboru ma już umowę. Najpierw zakończ ją dzień przed początkiem \
             nowej.",
        );
    }
    error.into()
}

fn first_problem(problems: Problems) -> ApiError {
    let (field, detail) = problems
        .into_iter()
        .next()
        .unwrap_or(("form", "Formularz jest niepełny.".to_string()));
    ApiError::invalid(field, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> CustomerDraft {
        CustomerDraft {
            kind: "person".into(),
            first_name: " Anna ".into(),
            last_name: "Nowak".into(),
            pesel: "44051401359".into(),
            street: "Lipowa".into(),
            building_no: "1".into(),
            postal_code: "14-420".into(),
            city: "Młynary".into(),
            ..CustomerDraft::default()
        }
    }

    fn fields(result: Result<ValidCustomer, Problems>) -> Vec<&'static str> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|(f, _)| f)
            .collect()
    }

    #[test]
    fn a_person_is_named_from_their_names_and_keeps_a_valid_pesel() {
        let c = person().check().unwrap();
        assert_eq!(c.name, "Anna Nowak");
        assert_eq!(c.pesel.as_deref(), Some("44051401359"));
        assert_eq!(c.nip, None);
        assert_eq!(c.post_town, None);
    }

    #[test]
    fn every_wrong_field_is_named_at_once() {
        let mut d = person();
        d.first_name = String::new();
        d.pesel = "44051401358".into();
        d.postal_code = "14-42".into();
        d.email = "anna@".into();
        d.phone = "12".into();
        assert_eq!(
            fields(d.check()),
            ["first_name", "pesel", "postal_code", "email", "phone"]
        );
    }

    #[test]
    fn an_organisation_needs_a_valid_nip_and_has_no_pesel() {
        let mut d = person();
        d.kind = "housing_community".into();
        d.name = "Wspólnota Mieszkaniowa Dworcowa 5".into();
        assert_eq!(fields(d.check()), ["pesel", "nip"]);
        d.pesel = String::new();
        d.nip = "123-456-32-18".into();
        d.regon = "123456785".into();
        let c = d.check().unwrap();
        assert_eq!(c.nip.as_deref(), Some("1234563218"));
        assert_eq!(c.first_name, None);
        d.krs = "12345".into();
        assert_eq!(fields(d.check()), ["krs"]);
    }

    #[test]
    fn a_post_town_equal_to_the_city_is_not_kept() {
        let mut d = person();
        d.post_town = "Młynary".into();
        assert_eq!(d.check().unwrap().post_town, None);
        d.city = "Kurowo".into();
        assert_eq!(d.check().unwrap().post_town.as_deref(), Some("Młynary"));
    }
}
