//! What each outbox event says, in Polish: the [`Notice`] for one event, the same for every
//! recipient (the e-mail adds the greeting). The payload each kind must carry is listed here; a
//! module that writes an event follows it, and an event this module cannot read is
//! dead-lettered with the reason rather than sent half-understood.
//!
//! | kind | category | payload |
//! |---|---|---|
//! | `meter_alarm.raised`, `meter_alarm.cleared` | meter alarms | `alarm_id`, `meter_id`, `alarm` (meter_alarm_kind), `at` |
//! | `resident_alarm.triggered` | meter alarms | `meter_id`, `rule` (text), `at`, optional `detail` |
//! | `invoice.issued` | invoices and payments | `invoice_id`, `number`, `amount_grosze`, `due_date` |
//! | `payment.received` | invoices and payments | `payment_id`, `amount_grosze` |
//! | `document.published` | case stages | `document_id`, `title` |
//! | `case.stage_changed` | case stages | `case_id`, `number`, `stage` (text) |
//! | `outage.announced`, `outage.updated`, `outage.ended` | outages | `outage_id`, `title`, `area` (text), `starts_at`, optional `ends_at`, optional `description` |
//! | `booking.confirmed`, `booking.changed`, `booking.cancelled` | bookings | `booking_id`, `at`, optional `reason` |

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ebok_common::domain::Money;
use ebok_common::polish;
use serde_json::Value;
use sqlx::PgConnection;

use crate::notice::{Category, Notice};

/// An outbox event as the dispatcher read it.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub utility_id: i64,
    pub kind: String,
    pub payload: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("no notice is defined for event kind `{0}`")]
    UnknownKind(String),
    #[error("event payload: {0}")]
    BadPayload(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl ContentError {
    /// Will reading the event again help? Only when the database failed.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, ContentError::Db(_))
    }
}

/// The notice for `event`; `portal_url` is the utility's portal (`…/u/<slug>`).
pub async fn notice_for(
    conn: &mut PgConnection,
    event: &Event,
    portal_url: &str,
) -> Result<Notice, ContentError> {
    let p = Payload(&event.payload);
    let mut data = BTreeMap::from([("kind".to_string(), event.kind.clone())]);
    let notice = |category, title: String, body: String, link: String| Notice {
        category,
        kind: event.kind.clone(),
        title,
        body,
        details: Vec::new(),
        link: Some(format!("{portal_url}{link}")),
        document_waiting: false,
        urgent: false,
        data: BTreeMap::new(),
    };
    let mut n = match event.kind.as_str() {
        "meter_alarm.raised" | "meter_alarm.cleared" => {
            let meter_id = p.i64("meter_id")?;
            let alarm = p.str("alarm")?;
            let at = p.time("at")?;
            let meter = meter_place(conn, event.utility_id, meter_id).await?;
            let raised = event.kind.ends_with("raised");
            let (what, advice) = alarm_words(alarm);
            data.insert("meter_id".into(), meter_id.to_string());
            data.insert("alarm".into(), alarm.to_string());
            let (title, body) = if raised {
                (
                    what.to_string(),
                    format!(
                        "Wodomierz {} ({}) zgłosił: {}. {advice}",
                        meter.serial,
                        meter.address,
                        lower_first(what)
                    ),
                )
            } else {
                (
                    format!("Koniec alarmu: {}", lower_first(what)),
                    format!(
                        "Wodomierz {} ({}) nie zgłasza już tego stanu.",
                        meter.serial, meter.address
                    ),
                )
            };
            let mut n = notice(
                Category::MeterAlarms,
                title,
                body,
                format!("/liczniki/{meter_id}"),
            );
            n.urgent = raised && matches!(alarm, "leak" | "burst" | "continuous_flow" | "backflow");
            n.details = vec![
                ("Wodomierz".into(), meter.serial),
                ("Adres".into(), meter.address),
                (if raised { "Od" } else { "Do" }.into(), polish::instant(at)),
            ];
            n
        }
        "resident_alarm.triggered" => {
            let meter_id = p.i64("meter_id")?;
            let rule = p.str("rule")?;
            let at = p.time("at")?;
            let meter = meter_place(conn, event.utility_id, meter_id).await?;
            data.insert("meter_id".into(), meter_id.to_string());
            let mut n = notice(
                Category::MeterAlarms,
                format!("Twój alarm: {rule}"),
                format!(
                    "Warunek alarmu ustawionego dla wodomierza {} został spełniony.",
                    meter.serial
                ),
                format!("/liczniki/{meter_id}"),
            );
            n.details = vec![
                ("Wodomierz".into(), meter.serial),
                ("Adres".into(), meter.address),
                ("Kiedy".into(), polish::instant(at)),
            ];
            if let Some(detail) = p.opt_str("detail") {
                n.details.push(("Szczegóły".into(), detail.to_string()));
            }
            n
        }
        "invoice.issued" => {
            let id = p.i64("invoice_id")?;
            let number = p.str("number")?;
            data.insert("invoice_id".into(), id.to_string());
            let mut n = notice(
                Category::InvoicesPayments,
                format!("Nowa faktura {number}"),
                "W eBOK czeka na Ciebie nowa faktura za wodę i ścieki. Zaloguj się, aby ją zobaczyć i opłacić.".into(),
                format!("/faktury/{id}"),
            );
            n.document_waiting = true;
            n.details = vec![
                ("Numer".into(), number.to_string()),
                (
                    "Kwota".into(),
                    polish::money(Money::from_grosze(p.i64("amount_grosze")?)),
                ),
                ("Termin płatności".into(), p.str("due_date")?.to_string()),
            ];
            n
        }
        "payment.received" => {
            let id = p.i64("payment_id")?;
            data.insert("payment_id".into(), id.to_string());
            let amount = polish::money(Money::from_grosze(p.i64("amount_grosze")?));
            let mut n = notice(
                Category::InvoicesPayments,
                "Płatność zaksięgowana".into(),
                format!("Dziękujemy, zaksięgowaliśmy wpłatę {amount}."),
                "/platnosci".into(),
            );
            n.details = vec![("Kwota".into(), amount)];
            n
        }
        "document.published" => {
            let id = p.i64("document_id")?;
            data.insert("document_id".into(), id.to_string());
            let mut n = notice(
                Category::CaseStages,
                "Nowy dokument w eBOK".into(),
                "W eBOK czeka na Ciebie nowy dokument. Zaloguj się, aby go przeczytać.".into(),
                format!("/dokumenty/{id}"),
            );
            n.document_waiting = true;
            n.details = vec![("Dokument".into(), p.str("title")?.to_string())];
            n
        }
        "case.stage_changed" => {
            let id = p.i64("case_id")?;
            let number = p.str("number")?;
            let stage = p.str("stage")?;
            data.insert("case_id".into(), id.to_string());
            let mut n = notice(
                Category::CaseStages,
                format!("Sprawa {number}: {stage}"),
                format!("Sprawa {number} przeszła do etapu: {stage}."),
                format!("/sprawy/{id}"),
            );
            n.details = vec![
                ("Sprawa".into(), number.to_string()),
                ("Etap".into(), stage.to_string()),
            ];
            n
        }
        "outage.announced" | "outage.updated" | "outage.ended" => {
            let id = p.i64("outage_id")?;
            let title = p.str("title")?;
            let area = p.str("area")?;
            let starts = p.time("starts_at")?;
            data.insert("outage_id".into(), id.to_string());
            let (head, body) = match event.kind.as_str() {
                "outage.announced" => (
                    "Przerwa w dostawie wody",
                    format!("{title}. Obszar: {area}."),
                ),
                "outage.updated" => (
                    "Zmiana: przerwa w dostawie wody",
                    format!("Zmieniono komunikat: {title}. Obszar: {area}."),
                ),
                _ => (
                    "Dostawa wody przywrócona",
                    format!("Zakończono: {title}. Obszar: {area}."),
                ),
            };
            let mut n = notice(
                Category::Outages,
                head.into(),
                body,
                format!("/awarie/{id}"),
            );
            n.urgent = event.kind != "outage.ended";
            n.details = vec![
                ("Obszar".into(), area.to_string()),
                ("Od".into(), polish::instant(starts)),
            ];
            if let Some(ends) = p.opt_time("ends_at")? {
                n.details
                    .push(("Do (planowo)".into(), polish::instant(ends)));
            }
            if let Some(description) = p.opt_str("description") {
                n.details.push(("Opis".into(), description.to_string()));
            }
            n
        }
        "booking.confirmed" | "booking.changed" | "booking.cancelled" => {
            let id = p.i64("booking_id")?;
            let at = p.time("at")?;
            data.insert("booking_id".into(), id.to_string());
            let (title, body) = match event.kind.as_str() {
                "booking.confirmed" => (
                    "Wizyta potwierdzona",
                    format!("Potwierdzamy wizytę {}.", polish::instant(at)),
                ),
                "booking.changed" => (
                    "Zmiana terminu wizyty",
                    format!("Nowy termin wizyty: {}.", polish::instant(at)),
                ),
                _ => (
                    "Wizyta odwołana",
                    format!("Wizyta {} została odwołana.", polish::instant(at)),
                ),
            };
            let mut n = notice(
                Category::Bookings,
                title.into(),
                body,
                format!("/wizyty/{id}"),
            );
            n.urgent = event.kind == "booking.cancelled";
            n.details = vec![("Termin".into(), polish::instant(at))];
            if let Some(reason) = p.opt_str("reason") {
                n.details.push(("Powód".into(), reason.to_string()));
            }
            n
        }
        other => return Err(ContentError::UnknownKind(other.to_string())),
    };
    if let Some(link) = &n.link {
        data.insert("link".into(), link.clone());
    }
    n.data = data;
    Ok(n)
}

/// The Polish name of a meter alarm and what to do about it.
fn alarm_words(alarm: &str) -> (&'static str, &'static str) {
    match alarm {
        "leak" => (
            "Wykryto wyciek wody",
            "Sprawdź instalację i krany; jeśli nikt nie pobiera wody, zakręć zawór główny.",
        ),
        "burst" => (
            "Gwałtowny wypływ wody (możliwe pęknięcie rury)",
            "Zakręć zawór główny i zgłoś awarię.",
        ),
        "backflow" => (
            "Przepływ wsteczny",
            "Woda płynie przez wodomierz w przeciwnym kierunku; zgłoś to wodociągom.",
        ),
        "tamper" => (
            "Ingerencja w wodomierz",
            "Wodomierz wykrył magnes lub otwarcie obudowy.",
        ),
        "dry" => (
            "Brak wody w wodomierzu",
            "Wodomierz pracuje bez wody; sprawdź, czy nie ma przerwy w dostawie.",
        ),
        "low_battery" => (
            "Niski poziom baterii wodomierza",
            "Wodociągi zaplanują wymianę; nic nie musisz robić.",
        ),
        "device_error" => ("Błąd wodomierza", "Wodociągi sprawdzą urządzenie."),
        "no_data" => (
            "Brak odczytów z wodomierza",
            "Wodomierz od kilku dni nie przesyła odczytów.",
        ),
        "continuous_flow" => (
            "Ciągły przepływ wody",
            "Woda płynie bez przerwy od wielu godzin; to może być cieknąca spłuczka lub wyciek.",
        ),
        _ => ("Alarm wodomierza", ""),
    }
}

struct MeterPlace {
    serial: String,
    address: String,
}

async fn meter_place(
    conn: &mut PgConnection,
    utility_id: i64,
    meter_id: i64,
) -> Result<MeterPlace, ContentError> {
    let row = sqlx::query!(
        r#"SELECT m.serial,
                  concat_ws(' ', sp.street, sp.building_no || coalesce('/' || sp.apartment_no, ''))
                    || ', ' || sp.city AS "address?"
           FROM meters m LEFT JOIN supply_points sp ON sp.id = m.supply_point_id
           WHERE m.utility_id = $1 AND m.id = $2"#,
        utility_id,
        meter_id,
    )
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| {
        ContentError::BadPayload(format!("meter {meter_id} does not exist in this utility"))
    })?;
    Ok(MeterPlace {
        serial: row.serial,
        address: row.address.unwrap_or_else(|| "bez adresu".into()),
    })
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

struct Payload<'a>(&'a Value);

impl<'a> Payload<'a> {
    fn field(&self, name: &str) -> Result<&'a Value, ContentError> {
        self.0
            .get(name)
            .ok_or_else(|| ContentError::BadPayload(format!("`{name}` is missing")))
    }
    fn i64(&self, name: &str) -> Result<i64, ContentError> {
        self.field(name)?
            .as_i64()
            .ok_or_else(|| ContentError::BadPayload(format!("`{name}` is not an integer")))
    }
    fn str(&self, name: &str) -> Result<&'a str, ContentError> {
        self.field(name)?
            .as_str()
            .ok_or_else(|| ContentError::BadPayload(format!("`{name}` is not a string")))
    }
    fn opt_str(&self, name: &str) -> Option<&'a str> {
        self.0.get(name).and_then(Value::as_str)
    }
    fn time(&self, name: &str) -> Result<DateTime<Utc>, ContentError> {
        self.str(name)?
            .parse::<DateTime<Utc>>()
            .map_err(|_| ContentError::BadPayload(format!("`{name}` is not an RFC 3339 time")))
    }
    fn opt_time(&self, name: &str) -> Result<Option<DateTime<Utc>>, ContentError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.time(name).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_written_the_polish_way() {
        assert_eq!(
            polish::money(Money::from_grosze(123456789)),
            "1\u{a0}234\u{a0}567,89\u{a0}zł"
        );
    }

    #[test]
    fn times_are_shown_in_warsaw() {
        let summer: DateTime<Utc> = "2026-07-01T10:00:00Z".parse().unwrap();
        let winter: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        assert_eq!(polish::instant(summer), "1 lipca 2026, 12:00");
        assert_eq!(polish::instant(winter), "1 grudnia 2026, 11:00");
    }
}
