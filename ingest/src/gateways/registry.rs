//! The gateways of each utility (`mqtt_gateways`, migration 0015), kept in step with the
//! broker's accounts: adding one creates its credentials, records the row and an audit entry, and
//! installs the account on the local broker (when there is one) before the transaction commits;
//! removing one revokes the row (kept, with `revoked_at`) and removes the account.
//!
//! The password is generated here, returned once to the caller and stored nowhere: the table
//! and the broker hold only its hash.

use chrono::{DateTime, Utc};
use ebok_common::audit::{self, Actor, AuditEntry};
use secrecy::SecretString;
use serde_json::json;
use sqlx::PgPool;

use super::account::{Account, GatewayName, NoUtilityLevel, UtilitySlug};
use super::broker::{Change, LocalBroker};
use super::hash::{PasswordHash, generate_password};

/// A gateway as the table records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    pub id: i64,
    pub name: String,
    pub username: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A gateway just added: its row, its broker account and its password (shown once).
#[derive(Debug)]
pub struct Added {
    pub gateway: Gateway,
    pub account: Account,
    pub password: SecretString,
    /// The gateway this one replaced (`rekey`).
    pub replaced: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("there is no utility {0:?}")]
    UnknownUtility(String),
    #[error("utility {utility} already has a gateway {name:?}; remove it first, or re-key it")]
    Exists { utility: String, name: String },
    #[error("utility {utility} has no active gateway {name:?}")]
    NotFound { utility: String, name: String },
    #[error(transparent)]
    Topics(#[from] NoUtilityLevel),
    #[error("updating the broker's accounts: {0:#}")]
    Broker(anyhow::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Adds gateway `name` of utility `slug`, allowed to publish under the utility's topics of
/// ingest's `filters`. With `rekey`, an active gateway of that name is revoked and replaced
/// (new password); without it, it is an error. With `broker`, the account is installed there
/// (and in force) before this returns.
pub async fn add(
    pool: &PgPool,
    broker: Option<&LocalBroker>,
    slug: &UtilitySlug,
    name: &GatewayName,
    filters: &[&str],
    rekey: bool,
) -> Result<Added, GatewayError> {
    let password = generate_password();
    let account = Account::gateway(
        slug,
        name,
        PasswordHash::new(&password),
        filters.iter().copied(),
    )?;
    let mut tx = pool.begin().await?;
    let utility_id = utility_id(&mut tx, slug).await?;
    let replaced = sqlx::query_scalar!(
        "UPDATE mqtt_gateways SET revoked_at = now()
         WHERE utility_id = $1 AND name = $2 AND revoked_at IS NULL AND $3
         RETURNING id",
        utility_id,
        name.as_str(),
        rekey
    )
    .fetch_optional(&mut *tx)
    .await?;
    let inserted = sqlx::query!(
        "INSERT INTO mqtt_gateways (utility_id, name, mqtt_username, password_hash)
         VALUES ($1, $2, $3, $4)
         RETURNING id, created_at",
        utility_id,
        name.as_str(),
        account.username,
        account.hash.to_string()
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => GatewayError::Exists {
            utility: slug.to_string(),
            name: name.to_string(),
        },
        e => e.into(),
    })?;
    let topics: Vec<&str> = account.rules.iter().map(|r| r.topic.as_str()).collect();
    audit::record(
        &mut tx,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: Actor::System,
            action: if replaced.is_some() {
                "mqtt_gateway.rekeyed"
            } else {
                "mqtt_gateway.added"
            },
            entity_type: Some("mqtt_gateway"),
            entity_id: Some(inserted.id.to_string()),
            details: json!({
                "name": name.as_str(),
                "username": account.username,
                "publish": topics,
                "replaced": replaced,
                "broker": broker.map(|b| b.address().to_string()),
            }),
            request_id: None,
        },
    )
    .await?;
    if let Some(broker) = broker {
        broker
            .apply(vec![Change::Upsert(account.clone())])
            .await
            .map_err(GatewayError::Broker)?;
    }
    tx.commit().await?;
    Ok(Added {
        gateway: Gateway {
            id: inserted.id,
            name: name.to_string(),
            username: account.username.clone(),
            created_at: inserted.created_at,
            revoked_at: None,
        },
        account,
        password: SecretString::from(password),
        replaced,
    })
}

/// The gateways of utility `slug`, active and revoked, oldest first.
pub async fn list(pool: &PgPool, slug: &UtilitySlug) -> Result<Vec<Gateway>, GatewayError> {
    let mut conn = pool.acquire().await?;
    let utility_id = utility_id(&mut conn, slug).await?;
    Ok(sqlx::query_as!(
        Gateway,
        r#"SELECT id, name, mqtt_username AS username, created_at, revoked_at
           FROM mqtt_gateways WHERE utility_id = $1 ORDER BY created_at, id"#,
        utility_id
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Revokes the active gateway `name` of utility `slug` (the row stays) and removes its account
/// from `broker`, where it can no longer log in once this returns.
pub async fn remove(
    pool: &PgPool,
    broker: Option<&LocalBroker>,
    slug: &UtilitySlug,
    name: &GatewayName,
) -> Result<Gateway, GatewayError> {
    let mut tx = pool.begin().await?;
    let utility_id = utility_id(&mut tx, slug).await?;
    let gateway = sqlx::query_as!(
        Gateway,
        r#"UPDATE mqtt_gateways SET revoked_at = now()
           WHERE utility_id = $1 AND name = $2 AND revoked_at IS NULL
           RETURNING id, name, mqtt_username AS username, created_at, revoked_at"#,
        utility_id,
        name.as_str()
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| GatewayError::NotFound {
        utility: slug.to_string(),
        name: name.to_string(),
    })?;
    audit::record(
        &mut tx,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: Actor::System,
            action: "mqtt_gateway.removed",
            entity_type: Some("mqtt_gateway"),
            entity_id: Some(gateway.id.to_string()),
            details: json!({
                "name": gateway.name,
                "username": gateway.username,
                "broker": broker.map(|b| b.address().to_string()),
            }),
            request_id: None,
        },
    )
    .await?;
    if let Some(broker) = broker {
        broker
            .apply(vec![Change::Remove(gateway.username.clone())])
            .await
            .map_err(GatewayError::Broker)?;
    }
    tx.commit().await?;
    Ok(gateway)
}

async fn utility_id(
    conn: &mut sqlx::PgConnection,
    slug: &UtilitySlug,
) -> Result<i64, GatewayError> {
    sqlx::query_scalar!("SELECT id FROM utilities WHERE slug = $1", slug.as_str())
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| GatewayError::UnknownUtility(slug.to_string()))
}
