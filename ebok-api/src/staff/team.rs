//! The utility's staff accounts, as its admins manage them: who works in the back office
//! ([`members`]), a new staff member ([`create`]: an account without a password, invited by
//! e-mail to set one), a change of role, switching an account off and on, and a new start for
//! a lost phone ([`reset_authenticator`]: the next sign-in sets up the app again). Every change
//! is audited and ends the member's sessions where it changes what they may do. An admin does
//! not change their own role or switch themselves off (the utility would keep no admin).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::roles::StaffRole;
use crate::accounts::{self, AccountMailer, UtilityRef};
use crate::error::ApiError;
use crate::staff::ByStaff;

/// A staff member as admins see them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Member {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    /// `clerk`, `billing`, `technician` or `admin`.
    pub role: String,
    /// `pending_activation` (invited), `active`, `locked` or `disabled`.
    pub status: String,
    /// Whether the authenticator app is set up.
    pub enrolled: bool,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// The utility's staff, by name.
pub async fn members(pool: &PgPool, utility_id: i64) -> sqlx::Result<Vec<Member>> {
    sqlx::query_as!(
        Member,
        r#"SELECT a.id, a.email, a.display_name, a.role::text AS "role!",
                  a.status::text AS "status!",
                  (t.confirmed_at IS NOT NULL) AS "enrolled!", a.last_login_at
           FROM user_accounts a
           LEFT JOIN staff_authenticators t ON t.account_id = a.id
           WHERE a.utility_id = $1 AND a.role <> 'resident'
           ORDER BY a.display_name, a.id"#,
        utility_id,
    )
    .fetch_all(pool)
    .await
}

/// Creates a staff member of `role` and e-mails the invitation; returns the account's id and
/// whether the invitation went out (when the mail server fails after the account is made, the
/// account stays and the admin sends the invitation again).
pub async fn create(
    pool: &PgPool,
    mailer: &AccountMailer,
    by: ByStaff,
    utility: &UtilityRef,
    email: &str,
    display_name: &str,
    role: &str,
) -> Result<(i64, bool), ApiError> {
    let email = accounts::parse_email(email)?;
    let name = display_name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid(
            "display_name",
            "Podaj imię i nazwisko (najwyżej 100 znaków).",
        ));
    }
    let role = StaffRole::parse(role).ok_or_else(|| ApiError::invalid("role", "Wybierz rolę."))?;
    mailer.require()?;
    let mut tx = pool.begin().await?;
    let taken = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM user_accounts
                          WHERE utility_id = $1 AND lower(email) = lower($2)) AS "taken!""#,
        utility.id,
        email,
    )
    .fetch_one(&mut *tx)
    .await?;
    if taken {
        return Err(ApiError::invalid(
            "email",
            "Ten adres ma już konto w eBOK tego przedsiębiorstwa (pracownika albo mieszkańca). \
             Podaj służbowy adres pracownika.",
        ));
    }
    let id = sqlx::query_scalar!(
        r#"INSERT INTO user_accounts (utility_id, email, role, status, display_name)
           VALUES ($1, $2, $3::text::account_role, 'pending_activation', $4)
           RETURNING id"#,
        utility.id,
        email,
        role.as_str(),
        name,
    )
    .fetch_one(&mut *tx)
    .await?;
    record(
        &mut tx,
        by,
        "staff.account_created",
        id,
        json!({ "role": role.as_str() }),
    )
    .await?;
    tx.commit().await?;
    let invited = match accounts::invite_staff(pool, mailer, utility, id).await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, account = id, "the staff invitation was not sent");
            false
        }
    };
    Ok((id, invited))
}

/// E-mails a new invitation to a staff member who has not set a password yet.
pub async fn reinvite(
    pool: &PgPool,
    mailer: &AccountMailer,
    by: ByStaff,
    utility: &UtilityRef,
    id: i64,
) -> Result<(), ApiError> {
    let status = member_status(pool, by, id).await?;
    if status != "pending_activation" {
        return Err(ApiError::invalid(
            "id",
            "To konto ma już hasło; zaproszenie nie jest potrzebne.",
        ));
    }
    accounts::invite_staff(pool, mailer, utility, id).await?;
    let mut conn = pool.acquire().await?;
    record(&mut conn, by, "staff.invitation_sent", id, json!({})).await?;
    Ok(())
}

/// Gives staff member `id` a new role; their sessions end (what they may do has changed).
pub async fn set_role(pool: &PgPool, by: ByStaff, id: i64, role: &str) -> Result<(), ApiError> {
    let role = StaffRole::parse(role).ok_or_else(|| ApiError::invalid("role", "Wybierz rolę."))?;
    not_self(by, id)?;
    member_status(pool, by, id).await?;
    let mut tx = pool.begin().await?;
    if role != StaffRole::Admin {
        keeps_an_admin(&mut tx, by, id).await?;
    }
    sqlx::query!(
        "UPDATE user_accounts SET role = $2::text::account_role WHERE id = $1",
        id,
        role.as_str()
    )
    .execute(&mut *tx)
    .await?;
    end_sessions(&mut tx, id, "role changed").await?;
    record(
        &mut tx,
        by,
        "staff.role_changed",
        id,
        json!({ "role": role.as_str() }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Switches a staff account off (its sessions end, it cannot sign in) or on again.
pub async fn set_active(pool: &PgPool, by: ByStaff, id: i64, active: bool) -> Result<(), ApiError> {
    not_self(by, id)?;
    let status = member_status(pool, by, id).await?;
    let mut tx = pool.begin().await?;
    if active {
        if status != "disabled" {
            return Err(ApiError::invalid("id", "To konto nie jest wyłączone."));
        }
        sqlx::query!(
            r#"UPDATE user_accounts
               SET status = CASE WHEN password_hash IS NULL THEN 'pending_activation'::account_status
                                 ELSE 'active'::account_status END
               WHERE id = $1"#,
            id
        )
        .execute(&mut *tx)
        .await?;
        record(&mut tx, by, "staff.account_enabled", id, json!({})).await?;
    } else {
        keeps_an_admin(&mut tx, by, id).await?;
        sqlx::query!(
            "UPDATE user_accounts SET status = 'disabled' WHERE id = $1",
            id
        )
        .execute(&mut *tx)
        .await?;
        end_sessions(&mut tx, id, "account disabled").await?;
        record(&mut tx, by, "staff.account_disabled", id, json!({})).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Forgets a staff member's authenticator and recovery codes (a lost phone): their sessions
/// end, and the next sign-in sets up the app again.
pub async fn reset_authenticator(pool: &PgPool, by: ByStaff, id: i64) -> Result<(), ApiError> {
    member_status(pool, by, id).await?;
    let mut tx = pool.begin().await?;
    sqlx::query!("DELETE FROM staff_authenticators WHERE account_id = $1", id)
        .execute(&mut *tx)
        .await?;
    sqlx::query!("DELETE FROM staff_recovery_codes WHERE account_id = $1", id)
        .execute(&mut *tx)
        .await?;
    end_sessions(&mut tx, id, "authenticator reset").await?;
    record(&mut tx, by, "staff.authenticator_reset", id, json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// Changes that take admin rights away happen one at a time per utility, and only while the
/// acting admin is still one and another active admin than `id` remains: two admins demoting
/// each other at once cannot leave the utility without one.
async fn keeps_an_admin(tx: &mut sqlx::PgConnection, by: ByStaff, id: i64) -> Result<(), ApiError> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(7017, $1::int)",
        by.utility_id as i32
    )
    .execute(&mut *tx)
    .await?;
    let others = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM user_accounts
           WHERE utility_id = $1 AND role = 'admin' AND status = 'active' AND id <> $2"#,
        by.utility_id,
        id,
    )
    .fetch_one(&mut *tx)
    .await?;
    let acting = sqlx::query_scalar!(
        r#"SELECT (role = 'admin' AND status = 'active') AS "admin!" FROM user_accounts
           WHERE id = $1"#,
        by.account_id,
    )
    .fetch_one(&mut *tx)
    .await?;
    if !acting || others == 0 {
        return Err(ApiError::invalid(
            "id",
            "Przedsiębiorstwo musi mieć aktywnego administratora; ta zmiana by go odebrała.",
        ));
    }
    Ok(())
}

fn not_self(by: ByStaff, id: i64) -> Result<(), ApiError> {
    if by.account_id == id {
        return Err(ApiError::invalid(
            "id",
            "Nie możesz zmienić roli ani wyłączyć własnego konta; poproś o to innego \
             administratora.",
        ));
    }
    Ok(())
}

/// The status of staff member `id` of the admin's utility; not found otherwise.
async fn member_status(pool: &PgPool, by: ByStaff, id: i64) -> Result<String, ApiError> {
    sqlx::query_scalar!(
        r#"SELECT status::text AS "status!" FROM user_accounts
           WHERE id = $1 AND utility_id = $2 AND role <> 'resident'"#,
        id,
        by.utility_id,
    )
    .fetch_optional(pool)
    .await?
    .ok_or(ApiError::NotFound)
}

async fn end_sessions(tx: &mut sqlx::PgConnection, id: i64, reason: &str) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE sessions SET revoked_at = now(), revoked_reason = $2
           WHERE account_id = $1 AND revoked_at IS NULL"#,
        id,
        reason,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn record(
    conn: &mut sqlx::PgConnection,
    by: ByStaff,
    action: &str,
    id: i64,
    details: serde_json::Value,
) -> sqlx::Result<i64> {
    by.audit(conn, action, "account", id, details).await
}
