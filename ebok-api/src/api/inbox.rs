//! The inbox of notifications, channel preferences per category, and the mobile app's device
//! registration (FCM token).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use mobile_push::inbox::{self, InboxItem};
use mobile_push::notice::Category;
use mobile_push::registry::{self, Channels, DeviceRegistration, Platform, RegistryError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Resident;
use crate::error::{ApiError, Problem};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct Page {
    /// Only notices older than this id (the last id of the previous page).
    pub before: Option<i64>,
    /// At most this many (1–200, default 50).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Inbox {
    pub unread: i64,
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<InboxItem>,
}

/// Notifications, newest first.
#[utoipa::path(get, path = "/notifications", tag = "notifications", security(("bearer" = [])),
    params(Page), responses((status = 200, body = Inbox), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    who: Resident,
    Query(page): Query<Page>,
) -> Result<Json<Inbox>, ApiError> {
    let items = inbox::list(
        &state.pool,
        who.utility_id,
        who.account_id,
        page.before,
        page.limit.unwrap_or(50),
    )
    .await?;
    let unread = inbox::unread(&state.pool, who.utility_id, who.account_id).await?;
    Ok(Json(Inbox { unread, items }))
}

/// Mark a notification read.
#[utoipa::path(post, path = "/notifications/{id}/read", tag = "notifications",
    security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn mark_read(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if inbox::mark_read(&state.pool, who.utility_id, who.account_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Preference {
    /// `meter_alarms`, `invoices_payments`, `case_stages`, `outages`, `bookings`.
    #[schema(value_type = super::names::NotificationCategory)]
    pub category: String,
    /// Polish label of the category (ignored on input).
    #[serde(default)]
    pub label: String,
    pub push: bool,
    pub email: bool,
}

/// Push and e-mail choice per category (defaults filled in).
#[utoipa::path(get, path = "/notification-preferences", tag = "notifications",
    security(("bearer" = [])), responses((status = 200, body = Vec<Preference>)))]
pub async fn preferences(
    State(state): State<AppState>,
    who: Resident,
) -> Result<Json<Vec<Preference>>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let prefs = registry::preferences(&mut conn, who.utility_id, who.account_id).await?;
    Ok(Json(
        prefs
            .into_iter()
            .map(|(c, ch)| Preference {
                category: c.as_str().into(),
                label: c.label_pl().into(),
                push: ch.push,
                email: ch.email,
            })
            .collect(),
    ))
}

/// Set the channels of one or more categories.
#[utoipa::path(put, path = "/notification-preferences", tag = "notifications",
    security(("bearer" = [])), request_body = Vec<Preference>,
    responses((status = 200, body = Vec<Preference>), (status = 422, body = Problem)))]
pub async fn set_preferences(
    State(state): State<AppState>,
    who: Resident,
    Json(body): Json<Vec<Preference>>,
) -> Result<Json<Vec<Preference>>, ApiError> {
    let mut parsed = Vec::new();
    for (i, p) in body.iter().enumerate() {
        let category = Category::parse(&p.category).ok_or_else(|| {
            ApiError::invalid(format!("[{i}].category"), "Nieznana kategoria powiadomień.")
        })?;
        parsed.push((
            category,
            Channels {
                push: p.push,
                email: p.email,
            },
        ));
    }
    let mut tx = state.pool.begin().await?;
    for (category, channels) in parsed {
        registry::set_preference(&mut tx, who.utility_id, who.account_id, category, channels)
            .await?;
    }
    tx.commit().await?;
    preferences(State(state), who).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DeviceRequest {
    /// The FCM registration token: 8 to 4096 visible ASCII characters.
    #[schema(pattern = r"^[!-~]{8,4096}$")]
    pub token: String,
    /// `android`, `ios` or `web`.
    #[schema(value_type = super::names::DevicePlatform)]
    pub platform: String,
    #[schema(max_length = 64)]
    pub app_version: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceEntry {
    pub id: i64,
    #[schema(value_type = super::names::DevicePlatform)]
    pub platform: String,
    pub app_version: Option<String>,
    pub registered_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// Register the app's FCM token for push notifications (again on every start: it refreshes
/// the device). A token held by another account moves to this one.
#[utoipa::path(post, path = "/devices", tag = "notifications", security(("bearer" = [])),
    request_body = DeviceRequest,
    responses((status = 201, body = DeviceEntry), (status = 422, body = Problem)))]
pub async fn register_device(
    State(state): State<AppState>,
    who: Resident,
    Json(body): Json<DeviceRequest>,
) -> Result<(StatusCode, Json<DeviceEntry>), ApiError> {
    let platform = match body.platform.trim() {
        "android" => Platform::Android,
        "ios" => Platform::Ios,
        "web" => Platform::Web,
        _ => {
            return Err(ApiError::invalid(
                "platform",
                "Platforma musi być jedną z: android, ios, web.",
            ));
        }
    };
    let mut tx = state.pool.begin().await?;
    let id = registry::register_device(
        &mut tx,
        who.utility_id,
        who.account_id,
        &DeviceRegistration {
            token: &body.token,
            platform,
            app_version: body.app_version.as_deref(),
        },
    )
    .await
    .map_err(|e| match e {
        RegistryError::Invalid { field, message } => ApiError::invalid(field, message),
        RegistryError::Db(e) => e.into(),
    })?;
    let device = registry::devices(&mut tx, who.utility_id, who.account_id)
        .await?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(DeviceEntry {
            id: device.id,
            platform: device.platform,
            app_version: device.app_version,
            registered_at: device.registered_at,
            last_seen_at: device.last_seen_at,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DeviceToken {
    /// The FCM registration token: 8 to 4096 visible ASCII characters.
    #[schema(pattern = r"^[!-~]{8,4096}$")]
    pub token: String,
}

/// Unregister the app's token (logout on the phone); 404 when this account does not hold it.
#[utoipa::path(post, path = "/devices/unregister", tag = "notifications",
    security(("bearer" = [])), request_body = DeviceToken,
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn unregister_device(
    State(state): State<AppState>,
    who: Resident,
    Json(body): Json<DeviceToken>,
) -> Result<StatusCode, ApiError> {
    let mut conn = state.pool.acquire().await?;
    if registry::unregister_device(&mut conn, who.utility_id, who.account_id, &body.token).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
