//! Domain types: values that are valid by construction once parsed at the edge.

pub mod alarm;
pub mod boundary;
pub mod holidays;
pub mod identifiers;
pub mod legalisation;
pub mod money;
pub mod outage;
pub mod reading;
pub mod register;
pub mod time;

pub use alarm::AlarmKind;
pub use legalisation::Legalisation;
pub use money::{Money, MoneyError};
pub use outage::OutageKind;
pub use reading::{ReadingFlags, ReadingSource};
pub use register::{Register, Step, max_flow_litres_per_hour};
