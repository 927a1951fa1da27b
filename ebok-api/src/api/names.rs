//! The values of the API's string fields that carry a database enumeration, for the OpenAPI
//! document: the fields stay strings, and these enums give the document their exact list
//! (`#[schema(value_type = …)]`). `tests/resident_api.rs` compares each list with the database's
//! labels, so the document cannot drift from what the API sends or accepts. The meters' own are
//! in `ebok_readings::names`.

use utoipa::ToSchema;

/// `consent_kind`: e-invoices instead of paper, or notifications.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ConsentKind {
    EInvoice,
    Notifications,
}

/// `device_platform`: the kind of device a push token belongs to.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum DevicePlatform {
    Android,
    Ios,
    Web,
}

/// `notification_category`: what a notice is about, as preferences group them.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum NotificationCategory {
    MeterAlarms,
    InvoicesPayments,
    CaseStages,
    Outages,
    Bookings,
}

/// `session_kind`: the portal (`web`) or the mobile app (`app`).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum SessionKind {
    Web,
    App,
}
