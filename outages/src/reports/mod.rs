//! Failure reports (issue 21, seed 004's failure reporting): a resident — or anybody, with an
//! e-mail address — says what is wrong and where (a GPS point, an address, or both), with up
//! to five photos. Open reports of the same category nearby are offered first ("this is already
//! reported"), and the next reporter joins one instead of filing it again. Staff verify it,
//! reject it with a reason, or send a crew; the crew's technician marks it fixed (or not a
//! failure) and adds photos from the spot. Every step is told to everybody who reported it,
//! and a verified failure becomes an outage notice in one step.
//!
//! - this module (pure): categories, states and the steps between them, the place, the checks;
//! - [`store`] (migration 0032): filing, joining, the steps, photos, the outage notice made of a
//!   report;
//! - [`views`]: what residents, staff and crews read.

pub mod store;
pub mod views;

use crate::photos::{self, CleanPhoto};

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    BurstPipe,
    NoWater,
    LowPressure,
    WaterQuality,
    SewerBlockage,
    DamagedHydrant,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::BurstPipe,
        Category::NoWater,
        Category::LowPressure,
        Category::WaterQuality,
        Category::SewerBlockage,
        Category::DamagedHydrant,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::BurstPipe => "burst_pipe",
            Category::NoWater => "no_water",
            Category::LowPressure => "low_pressure",
            Category::WaterQuality => "water_quality",
            Category::SewerBlockage => "sewer_blockage",
            Category::DamagedHydrant => "damaged_hydrant",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// As residents read it.
    pub fn polish(self) -> &'static str {
        match self {
            Category::BurstPipe => "Pęknięta rura, wyciek",
            Category::NoWater => "Brak wody",
            Category::LowPressure => "Niskie ciśnienie",
            Category::WaterQuality => "Jakość wody (kolor, zapach, smak)",
            Category::SewerBlockage => "Zator lub wylew kanalizacji",
            Category::DamagedHydrant => "Uszkodzony hydrant lub właz",
        }
    }
}

/// Where a report is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Reported,
    Verified,
    Rejected,
    Dispatched,
    Fixed,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Reported,
        State::Verified,
        State::Rejected,
        State::Dispatched,
        State::Fixed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Reported => "reported",
            State::Verified => "verified",
            State::Rejected => "rejected",
            State::Dispatched => "dispatched",
            State::Fixed => "fixed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// As residents and staff read it.
    pub fn polish(self) -> &'static str {
        match self {
            State::Reported => "przyjęte",
            State::Verified => "potwierdzone",
            State::Rejected => "zamknięte bez naprawy",
            State::Dispatched => "ekipa w drodze",
            State::Fixed => "usunięte",
        }
    }

    /// Still to be dealt with: offered to the next reporter as "already reported".
    pub fn is_open(self) -> bool {
        matches!(self, State::Reported | State::Verified | State::Dispatched)
    }
}

/// A step staff (or a crew) take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Somebody checked it is real.
    Verify,
    /// Not a failure, a duplicate of another, or not the utility's: with a reason.
    Reject,
    /// A crew is sent (or another crew, instead).
    Dispatch,
    /// Repaired.
    Fix,
}

impl Step {
    /// The state after this step from `from`, if the step may be taken there.
    pub fn from(self, from: State) -> Option<State> {
        use State::*;
        match (self, from) {
            (Step::Verify, Reported) => Some(Verified),
            (Step::Reject, Reported | Verified | Dispatched) => Some(Rejected),
            (Step::Dispatch, Reported | Verified | Dispatched) => Some(Dispatched),
            // The counter may close a confirmed failure another crew (a contractor) repaired.
            (Step::Fix, Verified | Dispatched) => Some(Fixed),
            _ => None,
        }
    }

    pub fn action(self) -> &'static str {
        match self {
            Step::Verify => "failure_report.verified",
            Step::Reject => "failure_report.rejected",
            Step::Dispatch => "failure_report.dispatched",
            Step::Fix => "failure_report.fixed",
        }
    }
}

/// Where: a point (WGS 84 degrees, from the phone's GPS or picked by staff), an address as the
/// reporter typed it, or both.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Place {
    pub point: Option<(f64, f64)>,
    pub address: Option<String>,
}

impl Place {
    /// In words: the address when there is one, else the point ("54.19400, 19.67500").
    pub fn words(&self) -> String {
        match (&self.address, self.point) {
            (Some(address), _) => address.clone(),
            (None, Some((lat, lon))) => format!("{lat:.5}, {lon:.5}"),
            (None, None) => String::new(),
        }
    }
}

/// Who reports: a resident account, or somebody without one by their e-mail address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reporter {
    Account(i64),
    Email(String),
}

impl Reporter {
    /// As stored: the account, or the address trimmed.
    pub fn parts(&self) -> (Option<i64>, Option<String>) {
        match self {
            Reporter::Account(account) => (Some(*account), None),
            Reporter::Email(email) => (None, Some(email.trim().to_string())),
        }
    }
}

/// Whether `text` holds a control character other than a line break or a tab (a NUL, which
/// PostgreSQL refuses in text, or an escape sequence nobody types).
fn has_control(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// A report as its reporter files it; photos already cleaned ([`photos::clean`]).
#[derive(Debug, Clone)]
pub struct NewReport {
    pub category: Category,
    pub description: String,
    pub place: Place,
    pub reporter: Reporter,
    pub photos: Vec<CleanPhoto>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no such report")]
    NotFound,
    /// What to put right, by field, in Polish.
    #[error("invalid: {0:?}")]
    Invalid(Vec<(&'static str, String)>),
    /// The step cannot be taken in the report's state.
    #[error("not from state {0:?}")]
    Step(State),
    #[error(transparent)]
    Outage(#[from] crate::store::OutageError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The longest description kept.
pub const MAX_DESCRIPTION: usize = 4000;
/// The longest address kept.
pub const MAX_ADDRESS: usize = 300;
/// The longest reason of a rejection kept.
pub const MAX_REASON: usize = 1000;

/// The place as stored: the address trimmed (none when blank); the point as given.
pub fn tidy(place: &Place) -> Place {
    Place {
        point: place.point,
        address: place
            .address
            .as_deref()
            .map(|a| a.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|a| !a.is_empty()),
    }
}

/// What is wrong with a report, by field; nothing when it may be filed.
pub fn problems(report: &NewReport) -> Vec<(&'static str, String)> {
    problems_of(
        &report.description,
        &report.place,
        &report.reporter,
        report.photos.len(),
    )
}

/// [`problems`] of a report's parts, for a form that could not make a report of what was sent
/// (no category chosen) and still says everything that is wrong at once.
pub fn problems_of(
    description: &str,
    place: &Place,
    reporter: &Reporter,
    photos: usize,
) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    let description = description.trim();
    if description.is_empty() {
        problems.push(("description", "Opisz, co się dzieje.".to_string()));
    } else if has_control(description) {
        problems.push((
            "description",
            "Opis zawiera niedozwolone znaki sterujące.".to_string(),
        ));
    } else if description.chars().count() > MAX_DESCRIPTION {
        problems.push((
            "description",
            format!("Opis może mieć najwyżej {MAX_DESCRIPTION} znaków."),
        ));
    }
    let place = tidy(place);
    if let Some((lat, lon)) = place.point {
        let valid = lat.is_finite()
            && lon.is_finite()
            && (-90.0..=90.0).contains(&lat)
            && (-180.0..=180.0).contains(&lon);
        if !valid {
            problems.push((
                "lat",
                "Położenie jest nieprawidłowe: szerokość od -90 do 90, długość od -180 do 180."
                    .to_string(),
            ));
        }
    }
    match &place.address {
        Some(address) if has_control(address) => problems.push((
            "address",
            "Adres zawiera niedozwolone znaki sterujące.".to_string(),
        )),
        Some(address) if address.chars().count() > MAX_ADDRESS => problems.push((
            "address",
            format!("Adres może mieć najwyżej {MAX_ADDRESS} znaków."),
        )),
        None if place.point.is_none() => problems.push((
            "address",
            "Podaj adres albo udostępnij położenie z telefonu.".to_string(),
        )),
        _ => {}
    }
    if let Reporter::Email(email) = reporter
        && !plausible_email(email)
    {
        problems.push((
            "email",
            "Podaj adres e-mail, np. jan@example.pl: napiszemy na niego, co z awarią.".to_string(),
        ));
    }
    if photos > photos::MAX_PHOTOS {
        problems.push((
            "photos",
            format!("Dołącz najwyżej {} zdjęć.", photos::MAX_PHOTOS),
        ));
    }
    problems
}

/// Something@somewhere, no spaces, as the database's check says.
pub fn plausible_email(email: &str) -> bool {
    let email = email.trim();
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !email.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, ',' | ';' | '<' | '>' | '"')
        })
        && email.len() <= 254
}

/// The report in words for its reporters: "Brak wody: Lipowa 5, Młynary".
pub fn what(category: Category, place: &Place) -> String {
    format!("{}: {}", category.polish(), place.words())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(place: Place, reporter: Reporter) -> NewReport {
        NewReport {
            category: Category::NoWater,
            description: "Nie ma wody od rana".into(),
            place,
            reporter,
            photos: Vec::new(),
        }
    }

    #[test]
    fn steps_go_only_where_the_life_of_a_report_allows() {
        use State::*;
        assert_eq!(Step::Verify.from(Reported), Some(Verified));
        assert_eq!(Step::Verify.from(Verified), None);
        assert_eq!(Step::Dispatch.from(Reported), Some(Dispatched));
        assert_eq!(Step::Dispatch.from(Dispatched), Some(Dispatched));
        assert_eq!(Step::Fix.from(Dispatched), Some(Fixed));
        assert_eq!(Step::Fix.from(Reported), None);
        for closed in [Rejected, Fixed] {
            assert!(!closed.is_open());
            for step in [Step::Verify, Step::Reject, Step::Dispatch, Step::Fix] {
                assert_eq!(step.from(closed), None, "{step:?} from {closed:?}");
            }
        }
    }

    #[test]
    fn a_report_needs_a_place_a_description_and_a_way_to_answer() {
        let nowhere = report(Place::default(), Reporter::Account(1));
        assert_eq!(
            problems(&nowhere)
                .iter()
                .map(|(f, _)| *f)
                .collect::<Vec<_>>(),
            ["address"]
        );
        let blank = report(
            Place {
                point: None,
                address: Some("   ".into()),
            },
            Reporter::Email("nie-adres".into()),
        );
        let fields: Vec<_> = problems(&blank).iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["address", "email"]);
        let off_earth = report(
            Place {
                point: Some((91.0, 19.0)),
                address: None,
            },
            Reporter::Account(1),
        );
        assert_eq!(problems(&off_earth)[0].0, "lat");
        let nan = report(
            Place {
                point: Some((f64::NAN, 19.0)),
                address: None,
            },
            Reporter::Account(1),
        );
        assert_eq!(problems(&nan)[0].0, "lat");
        let good = report(
            Place {
                point: Some((54.194, 19.675)),
                address: None,
            },
            Reporter::Email("jan@example.pl".into()),
        );
        assert!(problems(&good).is_empty());
    }

    #[test]
    fn a_place_reads_as_its_address_else_its_point() {
        let both = tidy(&Place {
            point: Some((54.194, 19.675)),
            address: Some("  Lipowa   5,\n Młynary ".into()),
        });
        assert_eq!(both.words(), "Lipowa 5, Młynary");
        let point = Place {
            point: Some((54.194, 19.675)),
            address: None,
        };
        assert_eq!(
            what(Category::NoWater, &point),
            "Brak wody: 54.19400, 19.67500"
        );
    }

    #[test]
    fn names_read_back() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
    }
}
