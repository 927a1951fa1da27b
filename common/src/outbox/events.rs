//! What one module tells others through the outbox: [`Event`], the one contract between the
//! modules that write events and mobile-push, which turns each into a notice. A new kind of
//! event is a new variant, so a writer and the notice that reads it are checked by the
//! compiler against the same fields.
//!
//! Stored as `outbox.kind` (the variant's name, `<subject>.<event>`) and `outbox.payload` (its
//! fields as a JSON object). Reading an event back ([`Event::from_stored`]) tells an unknown
//! kind from a payload that does not fit its kind, so the dispatcher can say which.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::{AlarmKind, Money};

/// An event to announce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload")]
pub enum Event {
    /// A meter raised an alarm (ingest).
    #[serde(rename = "meter_alarm.raised")]
    MeterAlarmRaised(MeterAlarm),
    /// A meter's alarm is over (ingest).
    #[serde(rename = "meter_alarm.cleared")]
    MeterAlarmCleared(MeterAlarm),
    /// A resident's own alarm rule fired (the rule evaluator).
    #[serde(rename = "resident_alarm.triggered")]
    ResidentAlarmTriggered(ResidentAlarm),
    /// A new invoice waits in the eBOK (billing).
    #[serde(rename = "invoice.issued")]
    InvoiceIssued(InvoiceIssued),
    /// A payment was booked (payments).
    #[serde(rename = "payment.received")]
    PaymentReceived(PaymentReceived),
    /// An invoice is due soon or overdue (payments' reminders).
    #[serde(rename = "invoice.payment_reminder")]
    PaymentReminder(PaymentReminder),
    /// A document (a decision, a letter) waits in the eBOK (cases).
    #[serde(rename = "document.published")]
    DocumentPublished(DocumentPublished),
    /// A case moved to another stage (cases).
    #[serde(rename = "case.stage_changed")]
    CaseStageChanged(CaseStageChanged),
    /// Customer service filled an application in the resident's name, for them to check and
    /// submit (cases).
    #[serde(rename = "case.draft_prepared")]
    CaseDraftPrepared(CaseDraftPrepared),
    /// A case passed its deadline without a decision; to its clerk and the managers (cases).
    #[serde(rename = "case.overdue")]
    CaseOverdue(CaseOverdue),
    /// An outage or planned works for an area (outages).
    #[serde(rename = "outage.announced")]
    OutageAnnounced(Outage),
    #[serde(rename = "outage.updated")]
    OutageUpdated(Outage),
    /// Supply restored.
    #[serde(rename = "outage.ended")]
    OutageEnded(Outage),
    /// A visit booked, moved or cancelled (bookings).
    #[serde(rename = "booking.confirmed")]
    BookingConfirmed(Booking),
    #[serde(rename = "booking.changed")]
    BookingChanged(Booking),
    #[serde(rename = "booking.cancelled")]
    BookingCancelled(Booking),
    /// The visit is tomorrow (bookings' reminders, the evening before).
    #[serde(rename = "booking.reminder")]
    BookingReminder(Booking),
    /// A failure report was verified, rejected, given to a crew or fixed; to everybody who
    /// reported it (outages' reports).
    #[serde(rename = "failure_report.changed")]
    FailureReportChanged(FailureReportChanged),
    /// Customer service did something in the resident's name that waits for their acceptance
    /// (the back office).
    #[serde(rename = "proxy_act.proposed")]
    ProxyActProposed(ProxyActProposed),
    /// A zone's night flow stayed above its baseline: a probable new burst; to the zone's
    /// staff (the water balance).
    #[serde(rename = "zone_alarm.raised")]
    ZoneAlarmRaised(ZoneAlarm),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeterAlarm {
    pub alarm_id: i64,
    pub meter_id: i64,
    pub alarm: AlarmKind,
    /// When it was raised (or cleared).
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResidentAlarm {
    pub meter_id: i64,
    /// The rule in the resident's words ("Zużycie dobowe powyżej 500 l").
    pub rule: String,
    pub at: DateTime<Utc>,
    /// What happened, Polish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub rule_id: i64,
    pub trigger_id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceIssued {
    pub invoice_id: i64,
    pub number: String,
    pub amount_grosze: Money,
    pub due_date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentReceived {
    pub payment_id: i64,
    pub amount_grosze: Money,
}

/// Which reminder of an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderStage {
    /// The due date is near (as the resident chose).
    BeforeDue,
    /// The due date passed a few days ago.
    Overdue,
    /// The demand for payment, with interest from the due date.
    Demand,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentReminder {
    pub invoice_id: i64,
    pub number: String,
    pub stage: ReminderStage,
    /// What is left to pay.
    pub open_grosze: Money,
    pub due_date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentPublished {
    pub document_id: i64,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseStageChanged {
    pub case_id: i64,
    /// The case number residents quote ("WTP/2026/000123").
    pub number: String,
    /// The stage in words, Polish.
    pub stage: String,
    /// Why, when the resident is told a reason (what to supplement, why refused, why the
    /// deadline was extended), Polish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseDraftPrepared {
    pub case_id: i64,
    /// The application type's name, Polish.
    pub type_name: String,
    /// The clerk who prepared it, as their account names them.
    pub clerk: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneAlarm {
    pub alarm_id: i64,
    pub zone_id: i64,
    pub zone_name: String,
    /// The first night above the threshold.
    pub first_night: NaiveDate,
    pub baseline_litres_per_hour: i64,
    pub observed_litres_per_hour: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseOverdue {
    pub case_id: i64,
    pub number: String,
    /// The last day it should have been decided on.
    pub due: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outage {
    pub outage_id: i64,
    /// `failure`, `planned_works`, `interruption`, `quality_warning` ([`crate::domain::OutageKind`]).
    #[serde(default)]
    pub kind: String,
    pub title: String,
    /// The affected area in words, Polish.
    pub area: String,
    pub starts_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Booking {
    pub booking_id: i64,
    pub at: DateTime<Utc>,
    /// The calendar's name ("Wymiana wodomierza"), Polish.
    #[serde(default)]
    pub calendar: String,
    /// Why staff cancelled it, Polish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureReportChanged {
    pub report_id: i64,
    /// `verified`, `rejected`, `dispatched` or `fixed` (outages' reports `State`).
    pub state: String,
    /// The report in words, Polish: its category and place ("Brak wody: Lipowa 5, Młynary").
    pub what: String,
    /// Why staff rejected it, Polish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyActProposed {
    pub act_id: i64,
    /// What it does, Polish ("udzielenie zgody: Zgoda na fakturę elektroniczną").
    pub what: String,
}

/// Why a stored event could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StoredEventError {
    #[error("no event kind `{0}`")]
    UnknownKind(String),
    #[error("payload of `{kind}`: {error}")]
    BadPayload { kind: String, error: String },
}

impl Event {
    /// Every kind, as stored.
    pub const KINDS: [&'static str; 20] = [
        "meter_alarm.raised",
        "meter_alarm.cleared",
        "resident_alarm.triggered",
        "invoice.issued",
        "payment.received",
        "invoice.payment_reminder",
        "document.published",
        "case.stage_changed",
        "case.overdue",
        "case.draft_prepared",
        "outage.announced",
        "outage.updated",
        "outage.ended",
        "booking.confirmed",
        "booking.changed",
        "booking.cancelled",
        "booking.reminder",
        "failure_report.changed",
        "proxy_act.proposed",
        "zone_alarm.raised",
    ];

    /// The kind as stored (`outbox.kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::MeterAlarmRaised(_) => "meter_alarm.raised",
            Event::MeterAlarmCleared(_) => "meter_alarm.cleared",
            Event::ResidentAlarmTriggered(_) => "resident_alarm.triggered",
            Event::InvoiceIssued(_) => "invoice.issued",
            Event::PaymentReceived(_) => "payment.received",
            Event::PaymentReminder(_) => "invoice.payment_reminder",
            Event::DocumentPublished(_) => "document.published",
            Event::CaseStageChanged(_) => "case.stage_changed",
            Event::CaseOverdue(_) => "case.overdue",
            Event::CaseDraftPrepared(_) => "case.draft_prepared",
            Event::OutageAnnounced(_) => "outage.announced",
            Event::OutageUpdated(_) => "outage.updated",
            Event::OutageEnded(_) => "outage.ended",
            Event::BookingConfirmed(_) => "booking.confirmed",
            Event::BookingChanged(_) => "booking.changed",
            Event::BookingCancelled(_) => "booking.cancelled",
            Event::BookingReminder(_) => "booking.reminder",
            Event::FailureReportChanged(_) => "failure_report.changed",
            Event::ProxyActProposed(_) => "proxy_act.proposed",
            Event::ZoneAlarmRaised(_) => "zone_alarm.raised",
        }
    }

    /// The payload as stored (`outbox.payload`): the variant's fields.
    pub fn payload(&self) -> Value {
        let mut tagged = serde_json::to_value(self).expect("events serialize");
        tagged
            .get_mut("payload")
            .map(Value::take)
            .expect("adjacently tagged")
    }

    /// An event as stored.
    pub fn from_stored(kind: &str, payload: &Value) -> Result<Event, StoredEventError> {
        if !Event::KINDS.contains(&kind) {
            return Err(StoredEventError::UnknownKind(kind.to_string()));
        }
        serde_json::from_value(serde_json::json!({ "kind": kind, "payload": payload })).map_err(
            |error| StoredEventError::BadPayload {
                kind: kind.to_string(),
                error: error.to_string(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn every_kind() -> Vec<Event> {
        let at: DateTime<Utc> = "2026-11-21T13:05:00Z".parse().unwrap();
        let outage = Outage {
            outage_id: 3,
            kind: "failure".into(),
            title: "Awaria wodociągu".into(),
            area: "ul. Dworcowa".into(),
            starts_at: at,
            ends_at: None,
            description: Some("Pęknięta rura".into()),
        };
        let booking = Booking {
            booking_id: 9,
            at,
            calendar: "Wymiana wodomierza".into(),
            reason: None,
        };
        let alarm = MeterAlarm {
            alarm_id: 1,
            meter_id: 2,
            alarm: AlarmKind::Leak,
            at,
        };
        vec![
            Event::MeterAlarmRaised(alarm.clone()),
            Event::MeterAlarmCleared(alarm),
            Event::ResidentAlarmTriggered(ResidentAlarm {
                meter_id: 2,
                rule: "Zużycie dobowe powyżej 500 l".into(),
                at,
                detail: None,
                rule_id: 4,
                trigger_id: 5,
            }),
            Event::InvoiceIssued(InvoiceIssued {
                invoice_id: 42,
                number: "FV/2026/11/000042".into(),
                amount_grosze: Money::from_grosze(12_345),
                due_date: NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
            }),
            Event::PaymentReceived(PaymentReceived {
                payment_id: 7,
                amount_grosze: Money::from_grosze(500),
            }),
            Event::PaymentReminder(PaymentReminder {
                invoice_id: 42,
                number: "FV/2026/11/000042".into(),
                stage: ReminderStage::Overdue,
                open_grosze: Money::from_grosze(12_345),
                due_date: NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
            }),
            Event::DocumentPublished(DocumentPublished {
                document_id: 8,
                title: "Decyzja".into(),
            }),
            Event::CaseStageChanged(CaseStageChanged {
                case_id: 6,
                number: "WTP/2026/000123".into(),
                stage: "przekazana".into(),
                note: Some("brak mapy sytuacyjnej".into()),
            }),
            Event::CaseDraftPrepared(CaseDraftPrepared {
                case_id: 7,
                type_name: "Pismo ogólne".into(),
                clerk: "Ewa z BOK".into(),
            }),
            Event::CaseOverdue(CaseOverdue {
                case_id: 6,
                number: "WTP/2026/000123".into(),
                due: NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
            }),
            Event::OutageAnnounced(outage.clone()),
            Event::OutageUpdated(outage.clone()),
            Event::OutageEnded(outage),
            Event::BookingConfirmed(booking.clone()),
            Event::BookingChanged(booking.clone()),
            Event::BookingCancelled(booking.clone()),
            Event::BookingReminder(booking),
            Event::FailureReportChanged(FailureReportChanged {
                report_id: 12,
                state: "rejected".into(),
                what: "Brak wody: Lipowa 5, Młynary".into(),
                reason: Some("To przerwa planowa.".into()),
                at,
            }),
            Event::ProxyActProposed(ProxyActProposed {
                act_id: 11,
                what: "udzielenie zgody: Zgoda na fakturę elektroniczną".into(),
            }),
            Event::ZoneAlarmRaised(ZoneAlarm {
                alarm_id: 3,
                zone_id: 2,
                zone_name: "Osiedle Słoneczne".into(),
                first_night: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                baseline_litres_per_hour: 1_800,
                observed_litres_per_hour: 4_200,
            }),
        ]
    }

    #[test]
    fn every_event_reads_back_as_stored_and_its_kind_is_listed() {
        let events = every_kind();
        assert_eq!(events.len(), Event::KINDS.len());
        for event in events {
            assert!(Event::KINDS.contains(&event.kind()), "{}", event.kind());
            let back = Event::from_stored(event.kind(), &event.payload()).unwrap();
            assert_eq!(back, event);
        }
    }

    #[test]
    fn payloads_are_the_documented_objects() {
        let at: DateTime<Utc> = "2026-11-21T13:05:00Z".parse().unwrap();
        let event = Event::MeterAlarmRaised(MeterAlarm {
            alarm_id: 1,
            meter_id: 2,
            alarm: AlarmKind::LowBattery,
            at,
        });
        assert_eq!(
            event.payload(),
            json!({ "alarm_id": 1, "meter_id": 2, "alarm": "low_battery",
                    "at": "2026-11-21T13:05:00Z" })
        );
        let invoice = Event::from_stored(
            "invoice.issued",
            &json!({ "invoice_id": 42, "number": "FV/1", "amount_grosze": 12345,
                     "due_date": "2026-12-15" }),
        )
        .unwrap();
        assert!(matches!(invoice, Event::InvoiceIssued(i) if i.amount_grosze.grosze() == 12_345));
    }

    #[test]
    fn an_unknown_kind_and_a_payload_that_does_not_fit_are_told_apart() {
        assert!(matches!(
            Event::from_stored("meter.exploded", &json!({})),
            Err(StoredEventError::UnknownKind(_))
        ));
        assert!(matches!(
            Event::from_stored("meter_alarm.raised", &json!({ "meter_id": 1 })),
            Err(StoredEventError::BadPayload { .. })
        ));
        assert!(matches!(
            Event::from_stored(
                "meter_alarm.raised",
                &json!({ "alarm_id": 1, "meter_id": 2, "alarm": "flood", "at": "2026-11-21T13:05:00Z" })
            ),
            Err(StoredEventError::BadPayload { .. })
        ));
    }
}
