//! Residents' alarm rules (seed 004 "zakładanie alarmów"): a resident sets a condition on one of
//! their meters and hears when it becomes true. What this crate owns:
//!
//! - the rule itself ([`RuleKind`], [`describe`]) and its validation at the edge ([`NewRule`]);
//! - the pure conditions ([`condition`]): given a rule, the meter's recent readings and its
//!   register, is the condition true now, since when, and what does the trigger say;
//! - the store ([`create`], [`list`], [`get`], [`delete`], [`set_enabled`], [`triggers`]),
//!   scoped by [`Viewer`](ebok_readings::access::Viewer) and audited;
//! - what alarms a resident now, their meters' open alarms and their rules' open triggers in one
//!   list ([`active`]);
//! - the [`Evaluator`], which runs the conditions as readings arrive and writes triggers with
//!   their `resident_alarm.triggered` outbox events.
//!
//! The kinds:
//!
//! | kind | parameter | true when | episode (one alarm) |
//! |---|---|---|---|
//! | `daily_above` | litres 1..=1,000,000 | consumption in a Warsaw day, by the day rule of history and billing (from the register at its start midnight), exceeds it: the newest reading's day so far, or the day before whole once a reading after its end has come | that day |
//! | `continuous_flow` | hours 1..=72 | every interval of the last N hours used water, readings at most ~1 h apart | until an interval without use |
//! | `no_consumption` | days 1..=60 | the newest (recent) reading equals the one N days before | until the register moves |
//! | `device_alarm` | — | the meter has an open `meter_alarms` alarm | that meter alarm |
//!
//! **`device_alarm` sends no notice of its own.** Ingest already announces every meter alarm as
//! a `meter_alarm.raised` event to every account of the customer, so a second notice would only
//! duplicate it. The rule records a trigger linked to the meter alarm (the resident's alarm
//! history in the portal shows it, ended when the alarm clears) and writes no outbox event.
//!
//! Every other trigger writes one `resident_alarm.triggered` event to the rule's account
//! (`ebok_common::outbox::ResidentAlarm`: the meter, `rule` (the Polish description, with the
//! resident's label), `at` (the reading that made the condition true) and `detail` (Polish, e.g.
//! "Od początku doby (21 listopada 2026) do 14:05 zużyto 612 l; próg alarmu to 500 l."), as
//! mobile-push's `content` module reads it.
//!
//! A rule belongs to one meter. When a meter is replaced its rules stay with the old meter (which
//! gets no more readings); the resident sets them again on the new one.

mod active;
pub mod condition;
mod evaluator;
mod polish;
mod store;

use serde::{Deserialize, Serialize};

pub use active::{ActiveAlarm, AlarmSource, active};
pub use evaluator::{EvalReport, Evaluator, EvaluatorConfig};
pub use store::{
    MAX_RULES_PER_ACCOUNT, NewRule, Rule, Trigger, create, delete, erase_account, get, list,
    open_triggers, set_enabled, triggers,
};

/// A rule's condition with its parameter. As JSON it is internally tagged, so the HTTP layer can
/// take it directly: `{"kind":"daily_above","litres":500}`, `{"kind":"continuous_flow","hours":6}`,
/// `{"kind":"no_consumption","days":2}`, `{"kind":"device_alarm"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RuleKind {
    /// Consumption in one Europe/Warsaw day above `litres` (1..=1,000,000).
    DailyAbove {
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1_000_000))]
        litres: i64,
    },
    /// Water used without a pause for `hours` (1..=72); needs interval (at most hourly) data.
    ContinuousFlow {
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 72))]
        hours: i32,
    },
    /// The register has not moved for `days` (1..=60) while readings keep arriving.
    NoConsumption {
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 60))]
        days: i32,
    },
    /// Any alarm of the meter (recorded in the history; ingest sends the notice).
    DeviceAlarm,
}

impl RuleKind {
    /// Allowed parameter ranges.
    pub const LITRES: std::ops::RangeInclusive<i64> = 1..=1_000_000;
    pub const HOURS: std::ops::RangeInclusive<i32> = 1..=72;
    pub const DAYS: std::ops::RangeInclusive<i32> = 1..=60;

    /// The database name (`resident_alarm_kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::DailyAbove { .. } => "daily_above",
            RuleKind::ContinuousFlow { .. } => "continuous_flow",
            RuleKind::NoConsumption { .. } => "no_consumption",
            RuleKind::DeviceAlarm => "device_alarm",
        }
    }

    /// Checks the parameter; the error names the field and says in Polish what is allowed.
    pub fn validate(self) -> Result<RuleKind, RuleError> {
        match self {
            RuleKind::DailyAbove { litres } if !Self::LITRES.contains(&litres) => {
                Err(RuleError::Invalid {
                    field: "litres",
                    detail: format!(
                        "Podaj próg zużycia od 1 do {} litrów na dobę.",
                        ebok_common::polish::integer(*Self::LITRES.end())
                    ),
                })
            }
            RuleKind::ContinuousFlow { hours } if !Self::HOURS.contains(&hours) => {
                Err(RuleError::Invalid {
                    field: "hours",
                    detail: "Podaj czas ciągłego przepływu od 1 do 72 godzin.".into(),
                })
            }
            RuleKind::NoConsumption { days } if !Self::DAYS.contains(&days) => {
                Err(RuleError::Invalid {
                    field: "days",
                    detail: "Podaj liczbę dni bez zużycia od 1 do 60.".into(),
                })
            }
            ok => Ok(ok),
        }
    }

    /// Rebuilds a kind from its database columns; `None` when they do not fit together.
    pub fn from_columns(
        kind: &str,
        litres: Option<i64>,
        hours: Option<i32>,
        days: Option<i32>,
    ) -> Option<RuleKind> {
        match (kind, litres, hours, days) {
            ("daily_above", Some(litres), None, None) => Some(RuleKind::DailyAbove { litres }),
            ("continuous_flow", None, Some(hours), None) => {
                Some(RuleKind::ContinuousFlow { hours })
            }
            ("no_consumption", None, None, Some(days)) => Some(RuleKind::NoConsumption { days }),
            ("device_alarm", None, None, None) => Some(RuleKind::DeviceAlarm),
            _ => None,
        }
    }

    /// The database columns (`litres`, `hours`, `days`) of this kind.
    pub fn columns(self) -> (Option<i64>, Option<i32>, Option<i32>) {
        match self {
            RuleKind::DailyAbove { litres } => (Some(litres), None, None),
            RuleKind::ContinuousFlow { hours } => (None, Some(hours), None),
            RuleKind::NoConsumption { days } => (None, None, Some(days)),
            RuleKind::DeviceAlarm => (None, None, None),
        }
    }

    /// Whether the rule writes `resident_alarm.triggered` notices (all but `device_alarm`).
    pub fn notifies(self) -> bool {
        !matches!(self, RuleKind::DeviceAlarm)
    }
}

/// The rule in Polish, as the portal lists it and the notice names it: "Zużycie dobowe powyżej
/// 500 l", "Ciągły przepływ wody przez 6 godzin", "Brak zużycia wody przez 2 dni", "Każdy alarm
/// zgłoszony przez wodomierz". A number and its unit are joined by a no-break space (U+00A0),
/// and numbers of five digits or more are grouped with it ("12 500 l").
pub fn describe(kind: &RuleKind) -> String {
    match *kind {
        RuleKind::DailyAbove { litres } => {
            format!(
                "Zużycie dobowe powyżej {}",
                ebok_common::polish::litres(litres)
            )
        }
        RuleKind::ContinuousFlow { hours } => {
            format!("Ciągły przepływ wody przez {}", polish::hours(hours))
        }
        RuleKind::NoConsumption { days } => {
            format!("Brak zużycia wody przez {}", polish::days(days))
        }
        RuleKind::DeviceAlarm => "Każdy alarm zgłoszony przez wodomierz".into(),
    }
}

/// Why a rule operation failed. `MeterNotFound` and `NotFound` are also what a resident gets for
/// another resident's (or another utility's) meter or rule: they cannot tell it exists.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("meter not found")]
    MeterNotFound,
    #[error("alarm rule not found")]
    NotFound,
    /// A parameter is out of range; `field` is the JSON field, `detail` Polish for the resident.
    #[error("invalid {field}: {detail}")]
    Invalid { field: &'static str, detail: String },
    /// The account has [`MAX_RULES_PER_ACCOUNT`] rules already.
    #[error("too many alarm rules on the account")]
    TooMany,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_internally_tagged_json() {
        let kind: RuleKind =
            serde_json::from_str(r#"{"kind":"daily_above","litres":500}"#).unwrap();
        assert_eq!(kind, RuleKind::DailyAbove { litres: 500 });
        assert_eq!(
            serde_json::to_value(RuleKind::ContinuousFlow { hours: 6 }).unwrap(),
            serde_json::json!({"kind": "continuous_flow", "hours": 6})
        );
        let kind: RuleKind = serde_json::from_str(r#"{"kind":"device_alarm"}"#).unwrap();
        assert_eq!(kind, RuleKind::DeviceAlarm);
    }

    #[test]
    fn descriptions_read_as_polish_with_the_right_plural() {
        assert_eq!(
            describe(&RuleKind::DailyAbove { litres: 500 }),
            "Zużycie dobowe powyżej 500\u{a0}l"
        );
        assert_eq!(
            describe(&RuleKind::DailyAbove { litres: 1_000_000 }),
            "Zużycie dobowe powyżej 1\u{a0}000\u{a0}000\u{a0}l"
        );
        assert_eq!(
            describe(&RuleKind::ContinuousFlow { hours: 1 }),
            "Ciągły przepływ wody przez 1 godzinę"
        );
        assert_eq!(
            describe(&RuleKind::ContinuousFlow { hours: 3 }),
            "Ciągły przepływ wody przez 3 godziny"
        );
        assert_eq!(
            describe(&RuleKind::ContinuousFlow { hours: 12 }),
            "Ciągły przepływ wody przez 12 godzin"
        );
        assert_eq!(
            describe(&RuleKind::ContinuousFlow { hours: 24 }),
            "Ciągły przepływ wody przez 24 godziny"
        );
        assert_eq!(
            describe(&RuleKind::NoConsumption { days: 1 }),
            "Brak zużycia wody przez 1 dzień"
        );
        assert_eq!(
            describe(&RuleKind::NoConsumption { days: 2 }),
            "Brak zużycia wody przez 2 dni"
        );
    }

    #[test]
    fn out_of_range_parameters_name_their_field() {
        for (kind, field) in [
            (RuleKind::DailyAbove { litres: 0 }, "litres"),
            (RuleKind::DailyAbove { litres: 1_000_001 }, "litres"),
            (RuleKind::ContinuousFlow { hours: 0 }, "hours"),
            (RuleKind::ContinuousFlow { hours: 73 }, "hours"),
            (RuleKind::NoConsumption { days: 0 }, "days"),
            (RuleKind::NoConsumption { days: 61 }, "days"),
        ] {
            match kind.validate() {
                Err(RuleError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{kind:?}: {other:?}"),
            }
        }
        assert!(RuleKind::DeviceAlarm.validate().is_ok());
        assert!(RuleKind::DailyAbove { litres: 1 }.validate().is_ok());
    }

    #[test]
    fn kinds_round_trip_through_their_columns() {
        for kind in [
            RuleKind::DailyAbove { litres: 500 },
            RuleKind::ContinuousFlow { hours: 6 },
            RuleKind::NoConsumption { days: 2 },
            RuleKind::DeviceAlarm,
        ] {
            let (l, h, d) = kind.columns();
            assert_eq!(RuleKind::from_columns(kind.as_str(), l, h, d), Some(kind));
        }
        assert_eq!(
            RuleKind::from_columns("daily_above", None, None, None),
            None
        );
    }
}
