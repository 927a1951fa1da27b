//! The values of the string fields that carry a database enumeration, for the OpenAPI document
//! (`openapi` feature): the fields stay strings (the values come from the database as text), and
//! these enums give the document their exact list. The API's tests compare each list with the
//! database's labels, so the document cannot drift from what the API sends. Vocabularies the
//! domain already types (`ReadingSource`, `AlarmKind`) give their own schemas (`ebok-common`'s
//! `openapi` feature) and are not repeated here.

use utoipa::ToSchema;

/// `meter_channel`: how the meter's readings arrive (wireless M-Bus radio, Modbus, or read by
/// hand by the resident or a reader).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum MeterChannel {
    Wmbus,
    Modbus,
    Manual,
}

/// `meter_purpose`: what the meter measures (the main supply, a garden sub-meter, sewage; or,
/// for the network's own bulk meters, which no resident has, water into a network zone or out
/// of the network: docs/balance.md).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum MeterPurpose {
    Main,
    Garden,
    Sewage,
    ZoneInlet,
    ZoneOutlet,
}

/// A reading's source in a history: a `reading_source`, or `installation` for the installation
/// reading used as a baseline.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum HistorySource {
    Radio,
    Modbus,
    Manual,
    Estimate,
    Installation,
}
