//! What a utility tells residents about itself, as its admin sets it: contact (e-mail, phone,
//! opening hours, the emergency number) and the eBOK terms and GDPR clause shown in the portal.
//! An empty field means the portal's default (994 for emergencies, the default texts). And the
//! accounts it is paid to: its own bank account, and the sort code and client prefix its bank
//! gave it for customers' virtual accounts (`ebok_billing::transfer`), which cannot change once
//! invoices carry them (transfers to the old numbers would no longer be recognised).

use ebok_billing::transfer;
use ebok_common::domain::identifiers::Nrb;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::staff::ByStaff;

/// The settings as the form shows and sends them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct UtilitySettings {
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(max_length = 30)]
    pub phone: String,
    #[schema(max_length = 200)]
    pub website: String,
    #[schema(max_length = 500)]
    pub office_hours: String,
    #[schema(max_length = 20)]
    pub emergency_phone: String,
    #[schema(max_length = 50000)]
    pub terms_text: String,
    #[schema(max_length = 50000)]
    pub privacy_text: String,
    /// The utility's bank account (NRB or IBAN), on invoices when there are no virtual ones.
    pub bank_account: String,
    /// The sort code (8 digits) of customers' virtual accounts; empty: none.
    pub virtual_account_sort_code: String,
    /// The client prefix of virtual accounts (up to 6 digits, may be empty).
    pub virtual_account_prefix: String,
    /// Days after the due date of the payment reminder (1–60; empty: 3).
    pub reminder_overdue_days: String,
    /// Days after the due date of the demand for payment (2–120, after the reminder; empty: 14).
    pub reminder_demand_days: String,
}

/// The utility's settings now.
pub async fn current(pool: &PgPool, utility_id: i64) -> sqlx::Result<UtilitySettings> {
    let u = sqlx::query!(
        r#"SELECT email, phone, website, office_hours, emergency_phone, terms_text, privacy_text,
                  bank_account, virtual_account_sort_code, virtual_account_prefix,
                  reminder_overdue_days, reminder_demand_days
           FROM utilities WHERE id = $1"#,
        utility_id
    )
    .fetch_one(pool)
    .await?;
    Ok(UtilitySettings {
        email: u.email.unwrap_or_default(),
        phone: u.phone.unwrap_or_default(),
        website: u.website.unwrap_or_default(),
        office_hours: u.office_hours.unwrap_or_default(),
        emergency_phone: u.emergency_phone.unwrap_or_default(),
        terms_text: u.terms_text.unwrap_or_default(),
        privacy_text: u.privacy_text.unwrap_or_default(),
        bank_account: u.bank_account.unwrap_or_default(),
        virtual_account_sort_code: u.virtual_account_sort_code.unwrap_or_default(),
        virtual_account_prefix: u.virtual_account_prefix,
        reminder_overdue_days: u.reminder_overdue_days.to_string(),
        reminder_demand_days: u.reminder_demand_days.to_string(),
    })
}

fn value(text: &str) -> Option<String> {
    let text = text.trim().replace("\r\n", "\n");
    (!text.is_empty()).then_some(text)
}

/// A number of days typed in a form, `default` when empty.
fn days(text: &str, default: i16, range: std::ops::RangeInclusive<i16>) -> Option<i16> {
    match text.trim() {
        "" => Some(default),
        t => t.parse().ok().filter(|d| range.contains(d)),
    }
}

fn phone_ok(text: &str) -> bool {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    text.chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || c == ' ' || (i == 0 && c == '+'))
        && (3..=15).contains(&digits)
}

impl UtilitySettings {
    /// Every wrong field at once, in Polish.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        for (field, text, max) in [
            ("email", &self.email, 254),
            ("phone", &self.phone, 30),
            ("website", &self.website, 200),
            ("office_hours", &self.office_hours, 500),
            ("emergency_phone", &self.emergency_phone, 20),
            ("terms_text", &self.terms_text, 50_000),
            ("privacy_text", &self.privacy_text, 50_000),
        ] {
            if text.chars().count() > max {
                problems.push((field, format!("Najwyżej {max} znaków.")));
            }
        }
        if let Some(e) = value(&self.email)
            && crate::accounts::parse_email(&e).is_err()
        {
            problems.push((
                "email",
                "Podaj poprawny adres e-mail, np. bok@wodociagi.pl.".into(),
            ));
        }
        for (field, text) in [
            ("phone", &self.phone),
            ("emergency_phone", &self.emergency_phone),
        ] {
            if let Some(p) = value(text)
                && !phone_ok(&p)
            {
                problems.push((
                    field,
                    "Podaj numer z cyframi i spacjami, np. 55 248 10 20.".into(),
                ));
            }
        }
        if let Some(w) = value(&self.website)
            && !(w.starts_with("https://") || w.starts_with("http://"))
        {
            problems.push(("website", "Podaj adres strony od https://.".into()));
        }
        if let Some(a) = value(&self.bank_account)
            && Nrb::parse(&a).is_err()
        {
            problems.push((
                "bank_account",
                "Podaj 26 cyfr numeru rachunku (NRB) lub IBAN z PL; sprawdź cyfry kontrolne."
                    .into(),
            ));
        }
        let sort_code = self.virtual_account_sort_code.trim();
        let prefix = self.virtual_account_prefix.trim();
        if !sort_code.is_empty() && !transfer::sort_code_ok(sort_code) {
            problems.push((
                "virtual_account_sort_code",
                "Numer rozliczeniowy banku to 8 cyfr z cyfrą kontrolną na końcu, np. 10201026."
                    .into(),
            ));
        }
        if prefix.len() > transfer::MAX_PREFIX || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            problems.push((
                "virtual_account_prefix",
                format!("Prefiks to najwyżej {} cyfr.", transfer::MAX_PREFIX),
            ));
        } else if sort_code.is_empty() && !prefix.is_empty() {
            problems.push((
                "virtual_account_sort_code",
                "Podaj numer rozliczeniowy banku, w którym są rachunki wirtualne.".into(),
            ));
        }
        match (self.overdue_days(), self.demand_days()) {
            (None, _) => problems.push((
                "reminder_overdue_days",
                "Podaj liczbę dni od 1 do 60.".into(),
            )),
            (_, None) => problems.push((
                "reminder_demand_days",
                "Podaj liczbę dni od 2 do 120.".into(),
            )),
            (Some(overdue), Some(demand)) if demand <= overdue => problems.push((
                "reminder_demand_days",
                "Wezwanie do zapłaty wysyłamy po przypomnieniu: podaj więcej dni niż dla przypomnienia."
                    .into(),
            )),
            _ => {}
        }
        problems
    }

    /// The reminder's days after the due date (empty: 3), if valid.
    fn overdue_days(&self) -> Option<i16> {
        days(&self.reminder_overdue_days, 3, 1..=60)
    }

    /// The demand's days after the due date (empty: 14), if valid.
    fn demand_days(&self) -> Option<i16> {
        days(&self.reminder_demand_days, 14, 2..=120)
    }
}

/// Saves the settings; the audit entry names the fields changed.
pub async fn save(pool: &PgPool, by: ByStaff, s: &UtilitySettings) -> Result<(), ApiError> {
    if let Some((field, detail)) = s.problems().into_iter().next() {
        return Err(ApiError::invalid(field, detail));
    }
    let before = current(pool, by.utility_id).await?;
    let (sort_code, prefix) = (
        s.virtual_account_sort_code.trim(),
        s.virtual_account_prefix.trim(),
    );
    let scheme_changed = (
        before.virtual_account_sort_code.as_str(),
        before.virtual_account_prefix.as_str(),
    ) != (sort_code, prefix);
    if scheme_changed && !before.virtual_account_sort_code.is_empty() {
        let issued = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM invoices WHERE utility_id = $1) AS "issued!""#,
            by.utility_id
        )
        .fetch_one(pool)
        .await?;
        if issued {
            return Err(ApiError::invalid(
                "virtual_account_sort_code",
                "Rachunki wirtualne są już na wystawionych fakturach: ich zmiana sprawiłaby, że \
                 wpłat na dotychczasowe numery nie rozpoznamy. Zmianę banku uzgodnij z dostawcą \
                 systemu.",
            ));
        }
    }
    let mut tx = pool.begin().await?;
    sqlx::query!(
        r#"UPDATE utilities SET email = $2, phone = $3, website = $4, office_hours = $5,
                  emergency_phone = $6, terms_text = $7, privacy_text = $8, bank_account = $9,
                  virtual_account_sort_code = $10, virtual_account_prefix = $11,
                  reminder_overdue_days = $12, reminder_demand_days = $13
           WHERE id = $1"#,
        by.utility_id,
        value(&s.email),
        value(&s.phone),
        value(&s.website),
        value(&s.office_hours),
        value(&s.emergency_phone),
        value(&s.terms_text),
        value(&s.privacy_text),
        value(&s.bank_account)
            .and_then(|a| Nrb::parse(&a).ok())
            .map(|n| n.as_str().to_string()),
        value(sort_code),
        prefix,
        s.overdue_days().unwrap_or(3),
        s.demand_days().unwrap_or(14),
    )
    .execute(&mut *tx)
    .await?;
    let pairs = [
        ("email", &before.email, &s.email),
        ("phone", &before.phone, &s.phone),
        ("website", &before.website, &s.website),
        ("office_hours", &before.office_hours, &s.office_hours),
        (
            "emergency_phone",
            &before.emergency_phone,
            &s.emergency_phone,
        ),
        ("terms_text", &before.terms_text, &s.terms_text),
        ("privacy_text", &before.privacy_text, &s.privacy_text),
        ("bank_account", &before.bank_account, &s.bank_account),
        (
            "virtual_account_sort_code",
            &before.virtual_account_sort_code,
            &s.virtual_account_sort_code,
        ),
        (
            "virtual_account_prefix",
            &before.virtual_account_prefix,
            &s.virtual_account_prefix,
        ),
        (
            "reminder_overdue_days",
            &before.reminder_overdue_days,
            &s.overdue_days().unwrap_or(3).to_string(),
        ),
        (
            "reminder_demand_days",
            &before.reminder_demand_days,
            &s.demand_days().unwrap_or(14).to_string(),
        ),
    ];
    let changed: Vec<&str> = pairs
        .iter()
        .filter(|(_, a, b)| value(a) != value(b))
        .map(|(f, _, _)| *f)
        .collect();
    by.audit(
        &mut tx,
        "utility.settings_changed",
        "utility",
        by.utility_id,
        json!({ "changed": changed }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
