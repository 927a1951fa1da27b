//! What an outage notice is about: its four kinds, as the database, the outbox's events and
//! residents (on the public page, in the app's notices) name them.

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutageKind {
    Failure,
    PlannedWorks,
    Interruption,
    QualityWarning,
}

impl OutageKind {
    pub const ALL: [OutageKind; 4] = [
        OutageKind::Failure,
        OutageKind::PlannedWorks,
        OutageKind::Interruption,
        OutageKind::QualityWarning,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutageKind::Failure => "failure",
            OutageKind::PlannedWorks => "planned_works",
            OutageKind::Interruption => "interruption",
            OutageKind::QualityWarning => "quality_warning",
        }
    }

    pub fn parse(s: &str) -> Option<OutageKind> {
        OutageKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// As residents read it.
    pub fn polish(self) -> &'static str {
        match self {
            OutageKind::Failure => "Awaria sieci wodociągowej",
            OutageKind::PlannedWorks => "Prace planowe",
            OutageKind::Interruption => "Przerwa w dostawie wody",
            OutageKind::QualityWarning => "Ostrzeżenie o jakości wody",
        }
    }
}
