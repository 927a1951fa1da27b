//! A notice: what one outbox event says to a person, in Polish, before it is shaped for a
//! channel. [`crate::content`] makes notices from events; the push and e-mail channels render
//! them (a push title and body; an HTML and a text e-mail).

use std::collections::BTreeMap;

/// The categories a user chooses channels for (see `notification_preferences`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    MeterAlarms,
    InvoicesPayments,
    CaseStages,
    Outages,
    Bookings,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::MeterAlarms,
        Category::InvoicesPayments,
        Category::CaseStages,
        Category::Outages,
        Category::Bookings,
    ];

    /// The database and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::MeterAlarms => "meter_alarms",
            Category::InvoicesPayments => "invoices_payments",
            Category::CaseStages => "case_stages",
            Category::Outages => "outages",
            Category::Bookings => "bookings",
        }
    }

    pub fn parse(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The Polish label a resident sees in the preferences form and in e-mail footers.
    pub fn label_pl(self) -> &'static str {
        match self {
            Category::MeterAlarms => "Alarmy wodomierzy",
            Category::InvoicesPayments => "Faktury i płatności",
            Category::CaseStages => "Sprawy i wnioski",
            Category::Outages => "Awarie i przerwy w dostawie wody",
            Category::Bookings => "Wizyty i rezerwacje",
        }
    }
}

/// What one event says to one person.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub category: Category,
    /// The outbox event kind, e.g. `meter_alarm.raised`.
    pub kind: String,
    /// Short: the push title and the e-mail subject.
    pub title: String,
    /// One or two sentences: the push body and the e-mail's lead paragraph.
    pub body: String,
    /// Labelled facts the e-mail lists under the lead ("Wodomierz" → "12345678").
    pub details: Vec<(String, String)>,
    /// Absolute address of the matter in the portal.
    pub link: Option<String>,
    /// A document (invoice, decision) is waiting in the eBOK: the e-mail says so and links to
    /// it, and never carries the document itself.
    pub document_waiting: bool,
    /// Time-critical (leak, burst, supply interruption): high push priority.
    pub urgent: bool,
    /// String data for the mobile app (kind, ids), sent with the push.
    pub data: BTreeMap<String, String>,
}

/// The utility a notice comes from, for e-mail headers and footers.
#[derive(Debug, Clone, PartialEq)]
pub struct Sender {
    /// e.g. "Gmina Młynary".
    pub utility_name: String,
    /// The portal's address, without a trailing slash.
    pub portal_url: String,
}
