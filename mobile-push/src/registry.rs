//! The app's devices and each user's channel choices.
//!
//! A device is an FCM registration token registered by a logged-in user. Registering a token
//! that another account holds (a shared or handed-down phone) moves it: notices for the former
//! user stop reaching that phone. Unregistering (logout) and FCM's "token gone" answers mark the
//! row removed, with the reason; rows are kept for the record.
//!
//! Preferences say, per category, whether a user wants push and e-mail. Without a stored choice
//! the defaults apply ([`default_channels`]). Push needs neither an e-mail address nor a phone
//! number: a device is enough.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;

use ebok_common::audit::{self, Actor, AuditEntry};

use crate::notice::Category;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Android,
    Ios,
    Web,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Android => "android",
            Platform::Ios => "ios",
            Platform::Web => "web",
        }
    }
}

/// What the app sends when it registers.
#[derive(Debug, Clone)]
pub struct DeviceRegistration<'a> {
    pub token: &'a str,
    pub platform: Platform,
    pub app_version: Option<&'a str>,
}

/// Why a registration was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("field `{field}`: {message}")]
    Invalid {
        field: &'static str,
        /// Polish, for the resident.
        message: &'static str,
    },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Registers (or refreshes) the device of `account_id`; returns its id.
pub async fn register_device(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
    device: &DeviceRegistration<'_>,
) -> Result<i64, RegistryError> {
    let token = device.token;
    if !(8..=4096).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(RegistryError::Invalid {
            field: "token",
            message: "Token urządzenia to od 8 do 4096 znaków ASCII bez spacji.",
        });
    }
    if device.app_version.is_some_and(|v| v.chars().count() > 64) {
        return Err(RegistryError::Invalid {
            field: "app_version",
            message: "Wersja aplikacji może mieć najwyżej 64 znaki.",
        });
    }
    // Serialise registrations of one token, so two accounts racing for it end with one holder.
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 7))",
        token
    )
    .execute(&mut *conn)
    .await?;
    let moved = sqlx::query_scalar!(
        r#"UPDATE push_devices SET removed_at = now(), removed_reason = 'registered by another account'
           WHERE token = $1 AND removed_at IS NULL AND account_id <> $2
           RETURNING id"#,
        token,
        account_id,
    )
    .fetch_all(&mut *conn)
    .await?;
    if !moved.is_empty() {
        cancel_pending_to(conn, &moved).await?;
    }
    let id = sqlx::query_scalar!(
        r#"INSERT INTO push_devices (utility_id, account_id, token, platform, app_version)
           VALUES ($1, $2, $3, $4::text::device_platform, $5)
           ON CONFLICT (token) WHERE removed_at IS NULL
           DO UPDATE SET last_seen_at = now(), platform = EXCLUDED.platform,
                         app_version = EXCLUDED.app_version
           RETURNING id"#,
        utility_id,
        account_id,
        token,
        device.platform.as_str(),
        device.app_version,
    )
    .fetch_one(&mut *conn)
    .await?;
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: Actor::Resident { account_id },
            action: "push_device.registered",
            entity_type: Some("push_device"),
            entity_id: Some(id.to_string()),
            details: json!({ "platform": device.platform.as_str(),
                             "app_version": device.app_version,
                             "moved_from_devices": moved }),
            request_id: None,
        },
    )
    .await?;
    Ok(id)
}

/// Unregisters the account's device with `token` (logout in the app); returns whether it was
/// registered to this account.
pub async fn unregister_device(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
    token: &str,
) -> sqlx::Result<bool> {
    let removed = sqlx::query_scalar!(
        r#"UPDATE push_devices SET removed_at = now(), removed_reason = 'unregistered by the app'
           WHERE utility_id = $1 AND account_id = $2 AND token = $3 AND removed_at IS NULL
           RETURNING id"#,
        utility_id,
        account_id,
        token.trim(),
    )
    .fetch_all(&mut *conn)
    .await?;
    if removed.is_empty() {
        return Ok(false);
    }
    cancel_pending_to(conn, &removed).await?;
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: Actor::Resident { account_id },
            action: "push_device.unregistered",
            entity_type: Some("push_device"),
            entity_id: Some(removed[0].to_string()),
            details: json!({}),
            request_id: None,
        },
    )
    .await?;
    Ok(true)
}

/// Marks devices removed (FCM said the token is gone) and cancels what still waits for them.
pub(crate) async fn remove_devices(
    conn: &mut PgConnection,
    devices: &[i64],
    reasons: &[String],
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE push_devices d SET removed_at = now(), removed_reason = r.reason
           FROM unnest($1::bigint[], $2::text[]) AS r(id, reason)
           WHERE d.id = r.id AND d.removed_at IS NULL"#,
        devices,
        reasons,
    )
    .execute(&mut *conn)
    .await?;
    cancel_pending_to(conn, devices).await
}

async fn cancel_pending_to(conn: &mut PgConnection, devices: &[i64]) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE notification_deliveries
           SET status = 'cancelled', settled_at = now(), last_error = 'device removed'
           WHERE device_id = ANY($1) AND status = 'pending'"#,
        devices,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An account's active devices.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    pub id: i64,
    pub platform: String,
    pub app_version: Option<String>,
    pub registered_at: chrono::DateTime<chrono::Utc>,
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
}

pub async fn devices(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
) -> sqlx::Result<Vec<Device>> {
    sqlx::query_as!(
        Device,
        r#"SELECT id, platform::text AS "platform!", app_version, registered_at, last_seen_at
           FROM push_devices
           WHERE utility_id = $1 AND account_id = $2 AND removed_at IS NULL
           ORDER BY registered_at"#,
        utility_id,
        account_id,
    )
    .fetch_all(conn)
    .await
}

/// Push and e-mail choice for one category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Channels {
    pub push: bool,
    pub email: bool,
}

/// The channels of a category nobody chose for: push always; e-mail too, except for outage
/// broadcasts, which the seeds deliver by push (an e-mail to a whole area is noise).
pub fn default_channels(category: Category) -> Channels {
    Channels {
        push: true,
        email: category != Category::Outages,
    }
}

/// The account's choice for every category, defaults filled in.
pub async fn preferences(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
) -> sqlx::Result<Vec<(Category, Channels)>> {
    let stored = sqlx::query!(
        r#"SELECT category::text AS "category!", push, email FROM notification_preferences
           WHERE utility_id = $1 AND account_id = $2"#,
        utility_id,
        account_id,
    )
    .fetch_all(conn)
    .await?;
    Ok(Category::ALL
        .into_iter()
        .map(|category| {
            let channels = stored
                .iter()
                .find(|r| r.category == category.as_str())
                .map(|r| Channels {
                    push: r.push,
                    email: r.email,
                })
                .unwrap_or_else(|| default_channels(category));
            (category, channels)
        })
        .collect())
}

/// Stores the account's choice for one category.
pub async fn set_preference(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
    category: Category,
    channels: Channels,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO notification_preferences (utility_id, account_id, category, push, email)
           VALUES ($1, $2, $3::text::notification_category, $4, $5)
           ON CONFLICT (account_id, category)
           DO UPDATE SET push = EXCLUDED.push, email = EXCLUDED.email, updated_at = now()"#,
        utility_id,
        account_id,
        category.as_str(),
        channels.push,
        channels.email,
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: Actor::Resident { account_id },
            action: "notification_preference.set",
            entity_type: Some("account"),
            entity_id: Some(account_id.to_string()),
            details: json!({ "category": category.as_str(), "push": channels.push,
                             "email": channels.email }),
            request_id: None,
        },
    )
    .await?;
    Ok(())
}

/// Erases an account's phones and notification preferences, when it is closed (GDPR art. 17).
/// Their deliveries went with the account's notices (`inbox::erase_account`, called first).
pub async fn erase_account(
    conn: &mut PgConnection,
    utility_id: i64,
    account_id: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM notification_preferences WHERE utility_id = $1 AND account_id = $2",
        utility_id,
        account_id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "DELETE FROM push_devices WHERE utility_id = $1 AND account_id = $2",
        utility_id,
        account_id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
