//! What each outbox event says, in Polish: the [`Notice`] for one [`Event`], the same for every
//! recipient (the e-mail adds the greeting). One function per kind of event; the event's fields
//! are the contract (`ebok_common::outbox::Event`), checked by the compiler on both sides. An
//! event that cannot be read (an unknown kind, a payload that does not fit) is dead-lettered
//! with the reason rather than sent half-understood.

use std::collections::BTreeMap;

use ebok_common::domain::{AlarmKind, OutageKind};
use ebok_common::outbox::{
    Booking, CaseDraftPrepared, CaseOverdue, CaseStageChanged, DocumentPublished, Event,
    FailureReportChanged, InvoiceIssued, MeterAlarm, Outage, PaymentReceived, PaymentReminder,
    ProxyActProposed, ReminderStage, ResidentAlarm, StoredEventError, ZoneAlarm,
};
use ebok_common::polish;
use serde_json::Value;
use sqlx::PgConnection;

use crate::notice::{Category, Notice};

/// An outbox event as the dispatcher read it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
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

impl From<StoredEventError> for ContentError {
    fn from(error: StoredEventError) -> Self {
        match error {
            StoredEventError::UnknownKind(kind) => ContentError::UnknownKind(kind),
            other => ContentError::BadPayload(other.to_string()),
        }
    }
}

/// The notice for `stored`; `portal_url` is the utility's portal (`…/u/<slug>`).
pub async fn notice_for(
    conn: &mut PgConnection,
    stored: &StoredEvent,
    portal_url: &str,
) -> Result<Notice, ContentError> {
    let event = Event::from_stored(&stored.kind, &stored.payload)?;
    let utility_id = stored.utility_id;
    let mut n = match &event {
        Event::MeterAlarmRaised(a) => meter_alarm(conn, utility_id, a, true).await?,
        Event::MeterAlarmCleared(a) => meter_alarm(conn, utility_id, a, false).await?,
        Event::ResidentAlarmTriggered(r) => resident_alarm(conn, utility_id, r).await?,
        Event::InvoiceIssued(i) => invoice_issued(i),
        Event::PaymentReceived(p) => payment_received(p),
        Event::PaymentReminder(r) => payment_reminder(r),
        Event::DocumentPublished(d) => document_published(d),
        Event::CaseStageChanged(c) => case_stage_changed(c),
        Event::CaseOverdue(c) => case_overdue(c),
        Event::CaseDraftPrepared(c) => case_draft_prepared(c),
        Event::OutageAnnounced(o) => outage(o, OutageStage::Announced),
        Event::OutageUpdated(o) => outage(o, OutageStage::Updated),
        Event::OutageEnded(o) => outage(o, OutageStage::Ended),
        Event::BookingConfirmed(b) => booking(b, BookingChange::Confirmed),
        Event::BookingChanged(b) => booking(b, BookingChange::Moved),
        Event::BookingCancelled(b) => booking(b, BookingChange::Cancelled),
        Event::BookingReminder(b) => booking(b, BookingChange::Tomorrow),
        Event::FailureReportChanged(f) => failure_report(f),
        Event::ProxyActProposed(p) => proxy_act_proposed(p),
        Event::ZoneAlarmRaised(z) => zone_alarm(z),
    };
    n.kind = event.kind().to_string();
    n.data.insert("kind".into(), n.kind.clone());
    if let Some(link) = &mut n.link {
        *link = format!("{portal_url}{link}");
        n.data.insert("link".into(), link.clone());
    }
    Ok(n)
}

/// A notice with its link inside the portal (relative; [`notice_for`] makes it whole) and the
/// app's data (`key=value` pairs besides the kind and the link).
fn notice(
    category: Category,
    title: String,
    body: String,
    link: String,
    data: &[(&str, String)],
) -> Notice {
    Notice {
        category,
        kind: String::new(),
        title,
        body,
        details: Vec::new(),
        link: Some(link),
        document_waiting: false,
        urgent: false,
        data: data
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    }
}

async fn meter_alarm(
    conn: &mut PgConnection,
    utility_id: i64,
    a: &MeterAlarm,
    raised: bool,
) -> Result<Notice, ContentError> {
    let meter = meter_place(conn, utility_id, a.meter_id).await?;
    let (what, advice) = alarm_words(a.alarm);
    let (title, body) = if raised {
        (
            what.to_string(),
            format!(
                "Wodomierz {} ({}) zgłosił: {}. {advice}",
                meter.serial,
                meter.address,
                ebok_common::polish::uncapitalized(what)
            ),
        )
    } else {
        (
            format!(
                "Koniec alarmu: {}",
                ebok_common::polish::uncapitalized(what)
            ),
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
        format!("/liczniki/{}", a.meter_id),
        &[
            ("meter_id", a.meter_id.to_string()),
            ("alarm", a.alarm.as_str().to_string()),
        ],
    );
    n.urgent = raised && a.alarm.is_urgent();
    n.details = vec![
        ("Wodomierz".into(), meter.serial),
        ("Adres".into(), meter.address),
        (
            if raised { "Od" } else { "Do" }.into(),
            polish::instant(a.at),
        ),
    ];
    Ok(n)
}

async fn resident_alarm(
    conn: &mut PgConnection,
    utility_id: i64,
    r: &ResidentAlarm,
) -> Result<Notice, ContentError> {
    let meter = meter_place(conn, utility_id, r.meter_id).await?;
    let mut n = notice(
        Category::MeterAlarms,
        format!("Twój alarm: {}", r.rule),
        format!(
            "Warunek alarmu ustawionego dla wodomierza {} został spełniony.",
            meter.serial
        ),
        format!("/liczniki/{}", r.meter_id),
        &[("meter_id", r.meter_id.to_string())],
    );
    n.details = vec![
        ("Wodomierz".into(), meter.serial),
        ("Adres".into(), meter.address),
        ("Kiedy".into(), polish::instant(r.at)),
    ];
    if let Some(detail) = &r.detail {
        n.details.push(("Szczegóły".into(), detail.clone()));
    }
    Ok(n)
}

fn invoice_issued(i: &InvoiceIssued) -> Notice {
    let mut n = notice(
        Category::InvoicesPayments,
        format!("Nowa faktura {}", i.number),
        "W eBOK czeka na Ciebie nowa faktura za wodę i ścieki. Zaloguj się, aby ją zobaczyć i \
         opłacić."
            .into(),
        format!("/faktury/{}", i.invoice_id),
        &[("invoice_id", i.invoice_id.to_string())],
    );
    n.document_waiting = true;
    n.details = vec![
        ("Numer".into(), i.number.clone()),
        ("Kwota".into(), polish::money(i.amount_grosze)),
        ("Termin płatności".into(), polish::day(i.due_date)),
    ];
    n
}

fn payment_received(p: &PaymentReceived) -> Notice {
    let amount = polish::money(p.amount_grosze);
    let mut n = notice(
        Category::InvoicesPayments,
        "Płatność zaksięgowana".into(),
        format!("Dziękujemy, zaksięgowaliśmy wpłatę {amount}."),
        "/platnosci".into(),
        &[("payment_id", p.payment_id.to_string())],
    );
    n.details = vec![("Kwota".into(), amount)];
    n
}

fn payment_reminder(r: &PaymentReminder) -> Notice {
    let amount = polish::money(r.open_grosze);
    let due = polish::day(r.due_date);
    let (title, body) = match r.stage {
        ReminderStage::BeforeDue => (
            "Zbliża się termin płatności".to_string(),
            format!(
                "Termin płatności faktury {} mija {due}. Do zapłaty: {amount}.",
                r.number
            ),
        ),
        ReminderStage::Overdue => (
            "Minął termin płatności".to_string(),
            format!(
                "Nie otrzymaliśmy jeszcze zapłaty za fakturę {} (termin {due}). Do zapłaty: \
                 {amount}. Jeśli już zapłacono, prosimy zignorować tę wiadomość.",
                r.number
            ),
        ),
        ReminderStage::Demand => (
            "Wezwanie do zapłaty".to_string(),
            format!(
                "Wzywamy do zapłaty {amount} za fakturę {} (termin minął {due}). Od dnia \
                 po terminie naliczane są odsetki ustawowe za opóźnienie.",
                r.number
            ),
        ),
    };
    let mut n = notice(
        Category::InvoicesPayments,
        title,
        body,
        "/platnosci".into(),
        &[("invoice_id", r.invoice_id.to_string())],
    );
    n.details = vec![
        ("Faktura".into(), r.number.clone()),
        ("Do zapłaty".into(), amount),
        ("Termin płatności".into(), due),
    ];
    n
}

fn document_published(d: &DocumentPublished) -> Notice {
    let mut n = notice(
        Category::CaseStages,
        "Nowy dokument w eBOK".into(),
        "W eBOK czeka na Ciebie nowy dokument. Zaloguj się, aby go przeczytać.".into(),
        format!("/dokumenty/{}", d.document_id),
        &[("document_id", d.document_id.to_string())],
    );
    n.document_waiting = true;
    n.details = vec![("Dokument".into(), d.title.clone())];
    n
}

fn proxy_act_proposed(p: &ProxyActProposed) -> Notice {
    let mut n = notice(
        Category::CaseStages,
        "Do Twojej akceptacji w eBOK".into(),
        format!(
            "Biuro obsługi klienta zapisało w Twoim imieniu: {}. Zmiana zacznie obowiązywać, \
             gdy ją zaakceptujesz w eBOK (Zgody).",
            p.what
        ),
        "/zgody".into(),
        &[("proxy_act_id", p.act_id.to_string())],
    );
    n.details = vec![("Czego dotyczy".into(), polish::capitalized(&p.what))];
    n
}

fn case_stage_changed(c: &CaseStageChanged) -> Notice {
    let mut n = notice(
        Category::CaseStages,
        format!("Sprawa {}: {}", c.number, c.stage),
        match &c.note {
            Some(note) => format!(
                "Sprawa {} przeszła do etapu: {}. {}",
                c.number,
                c.stage,
                polish::capitalized(note.trim())
            ),
            None => format!("Sprawa {} przeszła do etapu: {}.", c.number, c.stage),
        },
        format!("/sprawy/{}", c.case_id),
        &[("case_id", c.case_id.to_string())],
    );
    n.details = vec![
        ("Sprawa".into(), c.number.clone()),
        ("Etap".into(), c.stage.clone()),
    ];
    if let Some(note) = &c.note {
        n.details.push(("Uzasadnienie".into(), note.clone()));
    }
    n
}

fn case_draft_prepared(c: &CaseDraftPrepared) -> Notice {
    let mut n = notice(
        Category::CaseStages,
        "Wniosek przygotowany w Twoim imieniu".into(),
        format!(
            "Biuro obsługi klienta ({}) przygotowało wniosek „{}”. Sprawdź go w eBOK: \
             zostanie złożony dopiero, gdy Ty go złożysz.",
            c.clerk, c.type_name
        ),
        format!("/sprawy/{}", c.case_id),
        &[("case_id", c.case_id.to_string())],
    );
    n.details = vec![
        ("Wniosek".into(), c.type_name.clone()),
        ("Przygotował".into(), c.clerk.clone()),
    ];
    n
}

/// For staff: the link would lead into the residents' portal, so there is none; the clerk
/// finds the case in the back office's queue, where it is marked overdue.
fn case_overdue(c: &CaseOverdue) -> Notice {
    let mut n = notice(
        Category::CaseStages,
        format!("Sprawa {} po terminie", c.number),
        format!(
            "Termin załatwienia sprawy {} minął {}. Sprawa czeka w panelu pracownika: \
             Sprawy, widok „Otwarte”.",
            c.number,
            polish::day(c.due)
        ),
        String::new(),
        &[("case_id", c.case_id.to_string())],
    );
    n.link = None;
    n.details = vec![
        ("Sprawa".into(), c.number.clone()),
        ("Termin".into(), polish::day(c.due)),
    ];
    n
}

/// For staff, without a link into the residents' portal: the zone's page in the back office
/// (Bilans wody) shows the night flow and the alarm.
fn zone_alarm(z: &ZoneAlarm) -> Notice {
    let mut n = notice(
        Category::MeterAlarms,
        format!("Możliwa awaria w strefie {}", z.zone_name),
        format!(
            "Nocny przepływ w strefie {} od nocy {} wynosi co najmniej {}/h, przy zwykłych {}/h. \
             Szczegóły w panelu pracownika: Bilans wody.",
            z.zone_name,
            polish::day(z.first_night),
            polish::volume(z.observed_litres_per_hour),
            polish::volume(z.baseline_litres_per_hour),
        ),
        String::new(),
        &[
            ("zone_id", z.zone_id.to_string()),
            ("alarm_id", z.alarm_id.to_string()),
        ],
    );
    n.link = None;
    n.details = vec![
        ("Strefa".into(), z.zone_name.clone()),
        ("Od nocy".into(), polish::day(z.first_night)),
        (
            "Przepływ nocny".into(),
            format!("{}/h", polish::volume(z.observed_litres_per_hour)),
        ),
        (
            "Zwykle".into(),
            format!("{}/h", polish::volume(z.baseline_litres_per_hour)),
        ),
    ];
    n
}

enum OutageStage {
    Announced,
    Updated,
    Ended,
}

fn outage(o: &Outage, stage: OutageStage) -> Notice {
    // The kind as residents read it on the public page; older events carry no kind.
    let what = OutageKind::parse(&o.kind)
        .unwrap_or(OutageKind::Interruption)
        .polish();
    let (head, body) = match stage {
        OutageStage::Announced => (
            what.to_string(),
            format!("{}. Obszar: {}.", o.title, o.area),
        ),
        OutageStage::Updated => (
            format!("Zmiana: {}", polish::uncapitalized(what)),
            format!("Zmieniono komunikat: {}. Obszar: {}.", o.title, o.area),
        ),
        OutageStage::Ended if o.kind == "quality_warning" => (
            "Ostrzeżenie o jakości wody odwołane".to_string(),
            format!("Odwołano: {}. Obszar: {}.", o.title, o.area),
        ),
        OutageStage::Ended => (
            "Dostawa wody przywrócona".to_string(),
            format!("Zakończono: {}. Obszar: {}.", o.title, o.area),
        ),
    };
    let mut n = notice(
        Category::Outages,
        head,
        body,
        format!("/komunikaty/{}", o.outage_id),
        &[("outage_id", o.outage_id.to_string())],
    );
    n.urgent = !matches!(stage, OutageStage::Ended);
    n.details = vec![
        ("Obszar".into(), o.area.clone()),
        ("Od".into(), polish::instant(o.starts_at)),
    ];
    if let Some(ends) = o.ends_at {
        n.details
            .push(("Do (planowo)".into(), polish::instant(ends)));
    }
    if let Some(description) = &o.description {
        n.details.push(("Opis".into(), description.clone()));
    }
    n
}

enum BookingChange {
    Confirmed,
    Moved,
    Cancelled,
    Tomorrow,
}

fn booking(b: &Booking, change: BookingChange) -> Notice {
    let when = polish::instant(b.at);
    let what = if b.calendar.is_empty() {
        "wizyta".to_string()
    } else {
        format!("wizyta „{}”", b.calendar)
    };
    let (title, body) = match change {
        BookingChange::Confirmed => (
            "Wizyta potwierdzona",
            format!("Potwierdzamy: {what} {when}."),
        ),
        BookingChange::Moved => (
            "Zmiana terminu wizyty",
            format!("Nowy termin: {what} {when}."),
        ),
        BookingChange::Cancelled => (
            "Wizyta odwołana",
            match &b.reason {
                Some(reason) => format!(
                    "{} {when} została odwołana przez przedsiębiorstwo. Powód: {reason}",
                    polish::capitalized(&what)
                ),
                None => format!("{} {when} została odwołana.", polish::capitalized(&what)),
            },
        ),
        BookingChange::Tomorrow => (
            "Przypomnienie o wizycie",
            format!("Przypominamy: {what} jutro, {when}."),
        ),
    };
    let mut n = notice(
        Category::Bookings,
        title.into(),
        body,
        format!("/wizyty/{}", b.booking_id),
        &[("booking_id", b.booking_id.to_string())],
    );
    // Staff cancelling a visit (a reason given) is news the resident must not miss.
    n.urgent = matches!(change, BookingChange::Cancelled) && b.reason.is_some();
    n.details = vec![("Termin".into(), when)];
    if let Some(reason) = &b.reason {
        n.details.push(("Powód".into(), reason.clone()));
    }
    n
}

/// A step of a failure report, told to everybody who reported it.
fn failure_report(f: &FailureReportChanged) -> Notice {
    let (title, body) = match f.state.as_str() {
        "verified" => (
            "Zgłoszenie awarii potwierdzone",
            format!("Potwierdziliśmy Twoje zgłoszenie: {}.", f.what),
        ),
        "dispatched" => (
            "Ekipa wysłana do awarii",
            format!("Do zgłoszonej awarii jedzie nasza ekipa: {}.", f.what),
        ),
        "fixed" => (
            "Awaria usunięta",
            format!("Zgłoszona awaria została usunięta: {}. Dziękujemy!", f.what),
        ),
        "rejected" => (
            "Zgłoszenie zamknięte",
            match &f.reason {
                Some(reason) => format!("Zamknęliśmy zgłoszenie ({}). Powód: {reason}", f.what),
                None => format!("Zamknęliśmy zgłoszenie ({}).", f.what),
            },
        ),
        _ => (
            "Zmiana w zgłoszeniu awarii",
            format!("Zgłoszenie zmieniło stan: {}.", f.what),
        ),
    };
    let mut n = notice(
        Category::CaseStages,
        title.into(),
        body,
        format!("/awarie/{}", f.report_id),
        &[
            ("report_id", f.report_id.to_string()),
            ("state", f.state.clone()),
        ],
    );
    n.details = vec![
        ("Zgłoszenie".into(), f.what.clone()),
        ("Kiedy".into(), polish::instant(f.at)),
    ];
    if let Some(reason) = &f.reason {
        n.details.push(("Powód".into(), reason.clone()));
    }
    n
}

/// The Polish name of a meter alarm and what to do about it.
fn alarm_words(alarm: AlarmKind) -> (&'static str, &'static str) {
    match alarm {
        AlarmKind::Leak => (
            "Wykryto wyciek wody",
            "Sprawdź instalację i krany; jeśli nikt nie pobiera wody, zakręć zawór główny.",
        ),
        AlarmKind::Burst => (
            "Gwałtowny wypływ wody (możliwe pęknięcie rury)",
            "Zakręć zawór główny i zgłoś awarię.",
        ),
        AlarmKind::Backflow => (
            "Przepływ wsteczny",
            "Woda płynie przez wodomierz w przeciwnym kierunku; zgłoś to wodociągom.",
        ),
        AlarmKind::Tamper => (
            "Ingerencja w wodomierz",
            "Wodomierz wykrył magnes lub otwarcie obudowy.",
        ),
        AlarmKind::Dry => (
            "Brak wody w wodomierzu",
            "Wodomierz pracuje bez wody; sprawdź, czy nie ma przerwy w dostawie.",
        ),
        AlarmKind::LowBattery => (
            "Niski poziom baterii wodomierza",
            "Wodociągi zaplanują wymianę; nic nie musisz robić.",
        ),
        AlarmKind::DeviceError => ("Błąd wodomierza", "Wodociągi sprawdzą urządzenie."),
        AlarmKind::NoData => (
            "Brak odczytów z wodomierza",
            "Wodomierz od kilku dni nie przesyła odczytów.",
        ),
        AlarmKind::ContinuousFlow => (
            "Ciągły przepływ wody",
            "Woda płynie bez przerwy od doby. Zakręć wszystkie krany i sprawdź, czy wodomierz \
             nadal się kręci: jeśli tak, to zwykle cieknąca spłuczka, kran lub wyciek w \
             instalacji, za który płacisz.",
        ),
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
                  ebok_address(sp.street, sp.building_no, sp.apartment_no, sp.postal_code,
                               sp.city, sp.post_town) AS "address?"
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
