//! The public notices as feeds a reader or a calendar subscribes to: Atom (RFC 4287, with the
//! `atom_syndication` crate) and iCalendar (RFC 5545, with the `icalendar` crate's builder).
//! Each notice keeps its identity across changes (the Atom entry's `id`, the event's `UID`),
//! and a change is a newer `updated` and a higher `SEQUENCE`, so readers update it in place.

use atom_syndication::{Content, Entry, Feed, Link, Person, Text};
use chrono::{DateTime, Utc};
use ebok_common::polish;
use icalendar::{Calendar, Component, Event, EventLike, EventStatus, Property};

use crate::views::Notice;

/// Whose notices, and where they live.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    pub utility_name: &'a str,
    /// The public page, absolute: `https://ebok.example.pl/u/mlynary/komunikaty`.
    pub page_url: &'a str,
    /// The portal's host, for identities ("ebok.example.pl").
    pub host: &'a str,
}

fn summary(n: &Notice) -> String {
    let mut lines = vec![format!("Obszar: {}.", n.area_words)];
    lines.push(format!("Od: {}.", polish::instant(n.starts_at)));
    if let Some(end) = n.expected_end {
        lines.push(format!("Przewidywany koniec: {}.", polish::instant(end)));
    }
    if let Some(ended) = n.ended_at {
        let word = if n.called_off() {
            "Odwołano"
        } else {
            "Zakończono"
        };
        lines.push(format!("{word}: {}.", polish::instant(ended)));
    }
    if let Some(d) = &n.description {
        lines.push(d.clone());
    }
    lines.join("\n")
}

fn title(n: &Notice) -> String {
    let ended = if n.called_off() {
        " (odwołane)"
    } else if n.ended_at.is_some() {
        " (zakończone)"
    } else {
        ""
    };
    format!("{}: {}{ended}", n.kind.polish(), n.title)
}

/// The Atom feed of `notices`; `now` when there are none.
pub fn atom(source: &Source<'_>, notices: &[Notice], now: DateTime<Utc>) -> String {
    let updated = notices
        .iter()
        .map(|n| n.updated_at)
        .max()
        .unwrap_or(now)
        .fixed_offset();
    let entries = notices
        .iter()
        .map(|n| Entry {
            id: format!("{}/{}", source.page_url, n.id),
            title: Text::plain(title(n)),
            updated: n.updated_at.fixed_offset(),
            published: Some(n.created_at.fixed_offset()),
            links: vec![Link {
                href: format!("{}/{}", source.page_url, n.id),
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                hreflang: Some("pl".into()),
                ..Link::default()
            }],
            summary: Some(Text::plain(format!(
                "{} {}",
                n.area_words,
                polish::instant(n.starts_at)
            ))),
            content: Some(Content {
                value: Some(summary(n)),
                content_type: Some("text".into()),
                ..Content::default()
            }),
            ..Entry::default()
        })
        .collect();
    let feed = Feed {
        title: Text::plain(format!("Komunikaty: {}", source.utility_name)),
        id: source.page_url.to_string(),
        updated,
        authors: vec![Person {
            name: source.utility_name.to_string(),
            uri: Some(source.page_url.to_string()),
            ..Person::default()
        }],
        links: vec![
            Link {
                href: format!("{}.atom", source.page_url),
                rel: "self".into(),
                mime_type: Some("application/atom+xml".into()),
                ..Link::default()
            },
            Link {
                href: source.page_url.to_string(),
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                ..Link::default()
            },
        ],
        lang: Some("pl".into()),
        entries,
        ..Feed::default()
    };
    feed.to_string()
}

/// The iCalendar feed of `notices`, as of `now`.
pub fn ics(source: &Source<'_>, notices: &[Notice], now: DateTime<Utc>) -> String {
    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", "-//eBOK//Komunikaty//PL"))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", "PUBLISH"))
        .append_property(Property::new("REFRESH-INTERVAL;VALUE=DURATION", "PT1H"))
        .append_property(Property::new("X-PUBLISHED-TTL", "PT1H"))
        .name(&format!("Komunikaty: {}", source.utility_name));
    for n in notices {
        let mut event = Event::new();
        event
            .uid(&format!("outage-{}@{}", n.id, source.host))
            .timestamp(now)
            .created(n.created_at)
            .last_modified(n.updated_at)
            .sequence(n.version.max(0) as u32)
            .summary(&title(n))
            .description(&summary(n))
            .location(&n.area_words)
            .url(&format!("{}/{}", source.page_url, n.id))
            .starts(n.starts_at);
        if n.called_off() {
            event.status(EventStatus::Cancelled);
            if let Some(end) = n.expected_end {
                event.ends(end);
            }
        } else {
            event.status(EventStatus::Confirmed);
            if let Some(end) = n.ended_at.or(n.expected_end) {
                event.ends(end);
            }
        }
        calendar.push(event.done());
    }
    calendar.done().to_string()
}
