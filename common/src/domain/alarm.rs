//! The kinds of meter alarm (`meter_alarm_kind` in the database): raised by ingest from a
//! meter's readings, announced to residents, matched by their `device_alarm` rules. As JSON and
//! in the database, a kind is its snake_case name ("leak", "low_battery").

use serde::{Deserialize, Serialize};

use super::ReadingFlags;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AlarmKind {
    Leak,
    Burst,
    Backflow,
    Tamper,
    Dry,
    LowBattery,
    DeviceError,
    NoData,
    ContinuousFlow,
}

impl AlarmKind {
    pub const ALL: [AlarmKind; 9] = [
        AlarmKind::Leak,
        AlarmKind::Burst,
        AlarmKind::Backflow,
        AlarmKind::Tamper,
        AlarmKind::Dry,
        AlarmKind::LowBattery,
        AlarmKind::DeviceError,
        AlarmKind::NoData,
        AlarmKind::ContinuousFlow,
    ];

    /// Device alarms and the reading flag that carries each.
    pub const DEVICE: [(AlarmKind, i32); 7] = [
        (AlarmKind::Leak, ReadingFlags::LEAK),
        (AlarmKind::Burst, ReadingFlags::BURST),
        (AlarmKind::Backflow, ReadingFlags::BACKFLOW),
        (AlarmKind::Tamper, ReadingFlags::TAMPER),
        (AlarmKind::Dry, ReadingFlags::DRY),
        (AlarmKind::LowBattery, ReadingFlags::LOW_BATTERY),
        (AlarmKind::DeviceError, ReadingFlags::DEVICE_ERROR),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlarmKind::Leak => "leak",
            AlarmKind::Burst => "burst",
            AlarmKind::Backflow => "backflow",
            AlarmKind::Tamper => "tamper",
            AlarmKind::Dry => "dry",
            AlarmKind::LowBattery => "low_battery",
            AlarmKind::DeviceError => "device_error",
            AlarmKind::NoData => "no_data",
            AlarmKind::ContinuousFlow => "continuous_flow",
        }
    }

    pub fn parse(s: &str) -> Option<AlarmKind> {
        AlarmKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What the alarm is, in Polish, as a phrase within a sentence: "wyciek wody".
    pub fn name_pl(self) -> &'static str {
        match self {
            AlarmKind::Leak => "wyciek wody",
            AlarmKind::Burst => "gwałtowny wypływ wody (możliwe pęknięcie rury)",
            AlarmKind::Backflow => "przepływ wsteczny",
            AlarmKind::Tamper => "ingerencja w wodomierz",
            AlarmKind::Dry => "brak wody w wodomierzu",
            AlarmKind::LowBattery => "niski poziom baterii wodomierza",
            AlarmKind::DeviceError => "błąd wodomierza",
            AlarmKind::NoData => "brak odczytów z wodomierza",
            AlarmKind::ContinuousFlow => "ciągły przepływ wody",
        }
    }

    /// Whether the household should act now (a notice that wakes the phone).
    pub fn is_urgent(self) -> bool {
        matches!(
            self,
            AlarmKind::Leak | AlarmKind::Burst | AlarmKind::ContinuousFlow | AlarmKind::Backflow
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_is_its_database_name_in_json_and_text() {
        for kind in AlarmKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(AlarmKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::from_str::<AlarmKind>(&json).unwrap(), kind);
        }
        assert_eq!(AlarmKind::parse("flood"), None);
    }
}
