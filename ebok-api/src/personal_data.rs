//! What the eBOK holds about one resident account, in one document: the right of access and of
//! data portability (GDPR art. 15 and 20). The resident downloads it as JSON (the API and the
//! portal) and reads it as a page of the portal that prints to PDF.
//!
//! It covers the account, the customers it is linked to (their identity and correspondence
//! address; the PESEL masked to its last four digits, as a customer linked to the account may be
//! another person, e.g. a landlord), the meters it sees with every reading within its visibility
//! window (the readable page asks only for their count, first and last: [`Readings`]), the readings
//! the resident entered, alarm rules (also deleted ones, whose history is kept) and what they
//! recorded, consents with their history, what customer service did in the account's name
//! (proxy acts), booked visits, failure reports filed or joined (the description only of those
//! the resident filed, the count of their own photos), notices, the app's devices (without
//! their push tokens, which are credentials of the device), sessions and notification
//! preferences.
//! Invoices and cases join it when billing and cases exist.
//!
//! Reads only; every query is scoped by utility and account.

use chrono::{DateTime, NaiveDate, Utc};
use ebok_common::consent;
use ebok_readings::access::{self, Viewer};
use mobile_push::registry;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

/// Everything about one account. Times are UTC (RFC 3339), volumes integer litres.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalData {
    pub exported_at: DateTime<Utc>,
    /// The utility that keeps the data (its controller).
    pub utility: String,
    pub account: AccountData,
    pub customers: Vec<CustomerData>,
    pub meters: Vec<MeterData>,
    pub self_readings: Vec<SelfReadingData>,
    pub alarm_rules: Vec<RuleData>,
    pub consents: Vec<ConsentData>,
    /// What customer service did in the account's name, and whether it was accepted.
    pub proxy_acts: Vec<ProxyActData>,
    pub bookings: Vec<BookingData>,
    pub failure_reports: Vec<FailureReportData>,
    pub notifications: Vec<NotificationData>,
    pub notification_preferences: Vec<PreferenceData>,
    pub devices: Vec<DeviceData>,
    pub sessions: Vec<SessionData>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountData {
    pub email: String,
    pub display_name: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerData {
    pub customer_number: String,
    /// `person`, `company`, `housing_community`, `public_institution`.
    pub kind: String,
    pub name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Masked to its last four digits (`*******1359`).
    pub pesel: Option<String>,
    pub nip: Option<String>,
    pub regon: Option<String>,
    /// The correspondence address, on one line.
    pub address: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub linked_at: DateTime<Utc>,
    /// How the account proved it may act for the customer.
    pub linked_via: String,
}

/// How much of each meter's readings to gather.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readings {
    /// Every reading in the window: the export.
    All,
    /// The first and the last: the readable page, which shows their count.
    FirstAndLast,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeterData {
    pub serial: String,
    pub purpose: String,
    pub channel: String,
    pub address: String,
    pub installed_at: Option<DateTime<Utc>>,
    pub removed_at: Option<DateTime<Utc>>,
    pub legalised_until: Option<NaiveDate>,
    /// How many readings the account's window holds.
    pub reading_count: i64,
    /// Every reading within the account's window, oldest first.
    pub readings: Vec<ReadingData>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadingData {
    pub measured_at: DateTime<Utc>,
    pub litres: i64,
    pub source: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SelfReadingData {
    pub meter_serial: String,
    pub measured_at: DateTime<Utc>,
    pub litres: i64,
    pub submitted_at: DateTime<Utc>,
    /// Whether a photo of the register was sent with it (the photo itself is kept for staff).
    pub with_photo: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleData {
    pub meter_serial: String,
    pub kind: String,
    pub litres: Option<i64>,
    pub hours: Option<i32>,
    pub days: Option<i32>,
    pub label: Option<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub triggers: Vec<TriggerData>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TriggerData {
    pub since: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub litres: Option<i64>,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentData {
    pub kind: String,
    pub form_version: String,
    pub granted_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProxyActData {
    /// `consent.grant` or `consent.withdraw`.
    pub kind: String,
    /// `e_invoice` or `notifications`.
    pub consent: String,
    pub note: Option<String>,
    /// The staff member who proposed it.
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// `awaiting`, `accepted` or `declined`.
    pub state: String,
    pub decided_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BookingData {
    /// The calendar's name ("Wymiana wodomierza").
    pub calendar: String,
    pub starts_at: DateTime<Utc>,
    pub booked_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Why staff cancelled it.
    pub cancel_reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FailureReportData {
    pub id: i64,
    /// `burst_pipe`, `no_water`, … (`failure_category`).
    pub category: String,
    /// `reported`, `verified`, `rejected`, `dispatched`, `fixed`.
    pub state: String,
    /// Filed by the resident (else joined: "this is already reported").
    pub filed: bool,
    /// The resident's own words; none for a report they joined.
    pub description: Option<String>,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub reported_at: DateTime<Utc>,
    /// Photos the resident sent with it.
    pub photos: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationData {
    pub created_at: DateTime<Utc>,
    pub category: String,
    pub title: String,
    pub body: String,
    pub read_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreferenceData {
    pub category: String,
    pub push: bool,
    pub email: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceData {
    pub platform: String,
    pub app_version: Option<String>,
    pub registered_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub removed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionData {
    /// `web` or `app`.
    pub kind: String,
    pub client: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// Gathers everything about the account of `viewer`, with `readings` of each meter.
pub async fn gather(
    conn: &mut PgConnection,
    viewer: Viewer,
    readings: Readings,
) -> sqlx::Result<PersonalData> {
    let (utility_id, account_id) = (viewer.utility_id, viewer.account_id);
    let account = sqlx::query!(
        r#"SELECT u.email, u.display_name, u.status::text AS "status!", u.created_at,
                  u.activated_at, u.last_login_at, t.name AS utility
           FROM user_accounts u JOIN utilities t ON t.id = u.utility_id
           WHERE u.id = $1 AND u.utility_id = $2"#,
        account_id,
        utility_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let customers = sqlx::query_as!(
        CustomerData,
        r#"SELECT c.customer_number, c.kind::text AS "kind!", c.name, c.first_name, c.last_name,
                  '*******' || right(c.pesel, 4) AS pesel, c.nip, c.regon,
                  ebok_address(c.street, c.building_no, c.apartment_no, c.postal_code, c.city,
                               c.post_town) AS address,
                  c.email, c.phone, ac.linked_at, ac.linked_via::text AS "linked_via!"
           FROM account_customers ac JOIN customers c ON c.id = ac.customer_id
           WHERE ac.account_id = $1 AND ac.utility_id = $2
           ORDER BY c.customer_number"#,
        account_id,
        utility_id
    )
    .fetch_all(&mut *conn)
    .await?;

    let visible = access::meters(&mut *conn, viewer).await?;
    // Each meter's readings in the window (all of them, or the first and the last), and how many.
    let rows: Vec<(i64, DateTime<Utc>, i64, String)> = match readings {
        Readings::All => sqlx::query!(
            r#"SELECT r.meter_id, r.measured_at, r.volume_litres, r.source::text AS "source!"
               FROM account_meter_windows w
               JOIN meter_readings r ON r.meter_id = w.meter_id
                AND r.measured_at >= w.first_day::timestamp AT TIME ZONE 'Europe/Warsaw'
                AND (w.last_day IS NULL
                     OR r.measured_at < (w.last_day + 1)::timestamp AT TIME ZONE 'Europe/Warsaw')
               WHERE w.account_id = $1 AND w.utility_id = $2
               ORDER BY r.meter_id, r.measured_at"#,
            account_id,
            utility_id
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| (r.meter_id, r.measured_at, r.volume_litres, r.source))
        .collect(),
        Readings::FirstAndLast => {
            let mut rows: Vec<(i64, DateTime<Utc>, i64, String)> = sqlx::query!(
                r#"SELECT w.meter_id, r.measured_at AS "measured_at!",
                          r.volume_litres AS "volume_litres!", r.source::text AS "source!"
                   FROM account_meter_windows w
                   CROSS JOIN LATERAL (
                       SELECT w.first_day::timestamp AT TIME ZONE 'Europe/Warsaw' AS since,
                              (w.last_day + 1)::timestamp AT TIME ZONE 'Europe/Warsaw' AS until) b
                   CROSS JOIN LATERAL (
                       (SELECT measured_at, volume_litres, source FROM meter_readings
                        WHERE meter_id = w.meter_id AND measured_at >= b.since
                          AND (b.until IS NULL OR measured_at < b.until)
                        ORDER BY measured_at LIMIT 1)
                       UNION ALL
                       (SELECT measured_at, volume_litres, source FROM meter_readings
                        WHERE meter_id = w.meter_id AND measured_at >= b.since
                          AND (b.until IS NULL OR measured_at < b.until)
                        ORDER BY measured_at DESC LIMIT 1)) r
                   WHERE w.account_id = $1 AND w.utility_id = $2
                   ORDER BY w.meter_id, r.measured_at"#,
                account_id,
                utility_id
            )
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| (r.meter_id, r.measured_at, r.volume_litres, r.source))
            .collect();
            // A meter with one reading: its first is its last.
            rows.dedup();
            rows
        }
    };
    let counts: std::collections::HashMap<i64, i64> = sqlx::query!(
        r#"SELECT w.meter_id, count(r.measured_at) AS "count!"
           FROM account_meter_windows w
           LEFT JOIN meter_readings r ON r.meter_id = w.meter_id
            AND r.measured_at >= w.first_day::timestamp AT TIME ZONE 'Europe/Warsaw'
            AND (w.last_day IS NULL
                 OR r.measured_at < (w.last_day + 1)::timestamp AT TIME ZONE 'Europe/Warsaw')
           WHERE w.account_id = $1 AND w.utility_id = $2
           GROUP BY w.meter_id"#,
        account_id,
        utility_id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.meter_id, r.count))
    .collect();
    let mut rows = rows.into_iter().peekable();
    let mut meters = Vec::with_capacity(visible.len());
    let mut by_id: Vec<(i64, MeterData)> = visible
        .into_iter()
        .map(|m| {
            (
                m.id,
                MeterData {
                    serial: m.serial,
                    purpose: m.purpose,
                    channel: m.channel,
                    address: m.address,
                    installed_at: m.installed_at,
                    removed_at: m.removed_at,
                    legalised_until: m.legalised_until,
                    reading_count: counts.get(&m.id).copied().unwrap_or(0),
                    readings: Vec::new(),
                },
            )
        })
        .collect();
    by_id.sort_by_key(|(id, _)| *id);
    for (id, mut meter) in by_id {
        while let Some((meter_id, measured_at, litres, source)) =
            rows.next_if(|(meter_id, ..)| *meter_id <= id)
        {
            if meter_id == id {
                meter.readings.push(ReadingData {
                    measured_at,
                    litres,
                    source,
                });
            }
        }
        meters.push(meter);
    }

    let self_readings = sqlx::query_as!(
        SelfReadingData,
        r#"SELECT m.serial AS meter_serial, s.measured_at, s.volume_litres AS litres,
                  s.submitted_at, s.photo IS NOT NULL AS "with_photo!"
           FROM self_readings s JOIN meters m ON m.id = s.meter_id
           WHERE s.submitted_by = $1 AND s.utility_id = $2
           ORDER BY s.measured_at"#,
        account_id,
        utility_id
    )
    .fetch_all(&mut *conn)
    .await?;

    let rules = sqlx::query!(
        r#"SELECT r.id, m.serial, r.kind::text AS "kind!", r.litres, r.hours, r.days, r.label,
                  r.enabled, r.created_at, r.deleted_at
           FROM resident_alarm_rules r JOIN meters m ON m.id = r.meter_id
           WHERE r.account_id = $1 AND r.utility_id = $2
           ORDER BY r.created_at, r.id"#,
        account_id,
        utility_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut triggers = sqlx::query!(
        r#"SELECT t.rule_id, t.since, t.started_at, t.ended_at, t.litres, t.detail
           FROM resident_alarm_triggers t JOIN resident_alarm_rules r ON r.id = t.rule_id
           WHERE r.account_id = $1 AND r.utility_id = $2
           ORDER BY t.rule_id, t.started_at"#,
        account_id,
        utility_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let alarm_rules = rules
        .into_iter()
        .map(|r| RuleData {
            triggers: triggers
                .extract_if(.., |t| t.rule_id == r.id)
                .map(|t| TriggerData {
                    since: t.since,
                    started_at: t.started_at,
                    ended_at: t.ended_at,
                    litres: t.litres,
                    detail: t.detail,
                })
                .collect(),
            meter_serial: r.serial,
            kind: r.kind,
            litres: r.litres,
            hours: r.hours,
            days: r.days,
            label: r.label,
            enabled: r.enabled,
            created_at: r.created_at,
            deleted_at: r.deleted_at,
        })
        .collect();

    let consents = consent::history(&mut *conn, utility_id, account_id)
        .await?
        .into_iter()
        .map(|c| ConsentData {
            kind: c.kind.as_str().to_string(),
            form_version: c.form_version,
            granted_at: c.granted_at,
            withdrawn_at: c.withdrawn_at,
        })
        .collect();
    let proxy_acts = sqlx::query_as!(
        ProxyActData,
        r#"SELECT p.kind, p.payload->>'kind' AS "consent!", p.note,
                  s.display_name AS requested_by, p.requested_at, p.state::text AS "state!",
                  p.decided_at
           FROM proxy_acts p JOIN user_accounts s ON s.id = p.requested_by
           WHERE p.account_id = $1 AND p.utility_id = $2
           ORDER BY p.requested_at, p.id"#,
        account_id,
        utility_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let bookings = sqlx::query_as!(
        BookingData,
        r#"SELECT c.name AS calendar, s.starts_at, b.booked_at, b.cancelled_at, b.cancel_reason
           FROM bookings b
           JOIN booking_slots s ON s.id = b.slot_id
           JOIN booking_calendars c ON c.id = s.calendar_id
           WHERE b.account_id = $1 AND b.utility_id = $2
           ORDER BY b.booked_at, b.id"#,
        account_id,
        utility_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let failure_reports = sqlx::query_as!(
        FailureReportData,
        r#"SELECT f.id, f.category::text AS "category!", f.state::text AS "state!", r.filed,
                  CASE WHEN r.filed THEN f.description END AS description,
                  f.address, f.lat, f.lon, r.at AS reported_at,
                  (SELECT count(*) FROM failure_report_photos p
                   WHERE p.report_id = f.id AND NOT p.by_staff AND p.added_by = $1) AS "photos!"
           FROM failure_reporters r JOIN failure_reports f ON f.id = r.report_id
           WHERE r.account_id = $1 AND f.utility_id = $2
           ORDER BY r.at, f.id"#,
        account_id,
        utility_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let notifications = sqlx::query_as!(
        NotificationData,
        r#"SELECT created_at, category::text AS "category!", title, body, read_at
           FROM notifications WHERE account_id = $1 AND utility_id = $2
           ORDER BY created_at, id"#,
        account_id,
        utility_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let notification_preferences = registry::preferences(&mut *conn, utility_id, account_id)
        .await?
        .into_iter()
        .map(|(category, channels)| PreferenceData {
            category: category.as_str().to_string(),
            push: channels.push,
            email: channels.email,
        })
        .collect();
    let devices = sqlx::query_as!(
        DeviceData,
        r#"SELECT platform::text AS "platform!", app_version, registered_at, last_seen_at,
                  removed_at
           FROM push_devices WHERE account_id = $1 AND utility_id = $2
           ORDER BY registered_at, id"#,
        account_id,
        utility_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let sessions = sqlx::query_as!(
        SessionData,
        r#"SELECT kind::text AS "kind!", client, created_at, last_used_at,
                  CASE WHEN revoked_at IS NOT NULL THEN revoked_at
                       WHEN expires_at <= now() THEN expires_at END AS ended_at
           FROM sessions WHERE account_id = $1 AND utility_id = $2
           ORDER BY created_at, id"#,
        account_id,
        utility_id
    )
    .fetch_all(&mut *conn)
    .await?;

    Ok(PersonalData {
        exported_at: Utc::now(),
        utility: account.utility,
        account: AccountData {
            email: account.email,
            display_name: account.display_name,
            status: account.status,
            created_at: account.created_at,
            activated_at: account.activated_at,
            last_login_at: account.last_login_at,
        },
        customers,
        meters,
        self_readings,
        alarm_rules,
        consents,
        proxy_acts,
        bookings,
        failure_reports,
        notifications,
        notification_preferences,
        devices,
        sessions,
    })
}
