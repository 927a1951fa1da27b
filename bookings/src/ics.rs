//! A booking as an iCalendar event (RFC 5545), for the resident's calendar app: the `.ics`
//! download of the portal and the API. A cancelled booking comes out `STATUS:CANCELLED` with
//! the same `UID` and a higher `SEQUENCE`, so a calendar that imported it updates it.
//! Built with the `icalendar` crate (its builder only).

use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus, Property};

use crate::views::BookingView;

/// Who offers the visit.
#[derive(Debug, Clone)]
pub struct Issuer<'a> {
    /// "Wodociągi Młynary".
    pub utility_name: &'a str,
    /// The portal's host, for the event's `UID` ("ebok.mlynary.pl").
    pub host: &'a str,
    /// The booking's page in the portal, absolute.
    pub url: &'a str,
}

/// The `.ics` file of booking `b`, as of `now`.
pub fn booking(b: &BookingView, issuer: &Issuer<'_>, now: DateTime<Utc>) -> String {
    let mut event = Event::new();
    event
        .uid(&format!("booking-{}@{}", b.id, issuer.host))
        .timestamp(now)
        .created(b.booked_at)
        .starts(b.starts_at)
        .ends(b.ends_at)
        .summary(&format!("{}: {}", issuer.utility_name, b.calendar))
        .url(issuer.url)
        .location(b.place.as_deref().unwrap_or("Pod Twoim adresem"));
    let mut description = format!(
        "Wizyta zarezerwowana w eBOK ({}). Zmiana lub odwołanie: {}",
        issuer.utility_name, issuer.url
    );
    if let Some(cancelled) = b.cancelled_at {
        event.status(EventStatus::Cancelled).sequence(1);
        event.last_modified(cancelled);
        description = match &b.cancel_reason {
            Some(reason) => format!("Wizyta odwołana przez przedsiębiorstwo. Powód: {reason}"),
            None => "Wizyta odwołana.".to_string(),
        };
    } else {
        event.status(EventStatus::Confirmed).sequence(0);
    }
    event.description(&description);
    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", "-//eBOK//Wizyty//PL"))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", "PUBLISH"))
        .push(event.done());
    calendar.done().to_string()
}
