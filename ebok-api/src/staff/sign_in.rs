//! How a staff member signs in: the password (the same argon2id hashes and throttling as
//! residents', through the staff door, [`accounts::Door::Staff`]), then a second factor: a
//! code from the authenticator app or a recovery code. A first sign-in enrols the app: a new
//! secret is shown once as a QR code, and takes effect when a code made from it is typed back;
//! the ten recovery codes are shown then, once.
//!
//! Between the two steps the browser holds a half-done sign-in ([`Pending`]): five minutes,
//! five wrong codes. The app's API does both steps in one request ([`check_second_factor`]).
//! Codes are throttled per account (5 wrong in 15 minutes, across sign-ins), a code is never
//! accepted twice, and every sign-in, failure, enrolment and recovery code used is audited.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ebok_common::audit::{self, Actor, AuditEntry};
use serde_json::json;
use sqlx::PgPool;

use super::totp;
use crate::accounts::throttle::{self, Limit};
use crate::accounts::{self, AccountError, Client, Door, LoggedIn};
use crate::password::Hasher;
use crate::secret;

/// A half-done sign-in lives this long.
pub const PENDING_SECS: i64 = 5 * 60;
/// Wrong codes a half-done sign-in takes before it ends.
const PENDING_FAILURES: i32 = 5;
/// Wrong second-factor codes per account: 5 in 15 minutes.
pub const SECOND_FACTOR_PER_ACCOUNT: Limit = Limit {
    scope: "second_factor.account",
    failures: 5,
    window: Duration::from_secs(15 * 60),
};

/// A sign-in whose password was right, waiting for its second factor.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: i64,
    pub utility_id: i64,
    pub account_id: i64,
    pub email: String,
    pub role: String,
    /// Whether the account's authenticator is in effect; if not, it enrols first.
    pub enrolled: bool,
}

/// Step one: the password. Returns the token of the half-done sign-in, for a cookie.
pub async fn start(
    pool: &PgPool,
    hasher: &Hasher,
    utility_id: i64,
    email: &str,
    password: &str,
    client: Client,
) -> Result<String, AccountError> {
    let who = match accounts::login(
        pool,
        hasher,
        utility_id,
        email,
        password,
        client,
        Door::Staff,
    )
    .await
    {
        Ok(who) => who,
        Err(error) => {
            if matches!(
                error,
                AccountError::BadCredentials | AccountError::NotActive
            ) {
                audit_failure(pool, utility_id, email, "password").await?;
            }
            return Err(error);
        }
    };
    let token = secret::new_token();
    sqlx::query!(
        r#"INSERT INTO staff_sign_ins (utility_id, account_id, token_hash, expires_at)
           VALUES ($1, $2, $3, now() + make_interval(secs => $4))"#,
        who.utility_id,
        who.account_id,
        secret::digest(&token),
        PENDING_SECS as f64,
    )
    .execute(pool)
    .await?;
    Ok(token)
}

/// The half-done sign-in of `utility_id` behind a token, if it is still open.
pub async fn pending(pool: &PgPool, utility_id: i64, token: &str) -> sqlx::Result<Option<Pending>> {
    sqlx::query_as!(
        Pending,
        r#"SELECT p.id, p.utility_id, p.account_id, a.email, a.role::text AS "role!",
                  (t.confirmed_at IS NOT NULL) AS "enrolled!"
           FROM staff_sign_ins p
           JOIN user_accounts a ON a.id = p.account_id
           LEFT JOIN staff_authenticators t ON t.account_id = p.account_id
           WHERE p.token_hash = $1 AND p.utility_id = $2 AND p.finished_at IS NULL
             AND p.expires_at > now() AND p.failures < $3
             AND a.status = 'active' AND a.role <> 'resident'"#,
        secret::digest(token),
        utility_id,
        PENDING_FAILURES,
    )
    .fetch_optional(pool)
    .await
}

/// What an enrolling staff member is shown once: the QR code and the secret to type by hand.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub qr_svg: String,
    pub typed_secret: String,
}

/// A new secret for an account that has not enrolled yet (each call replaces the previous one,
/// so a QR code seen once is worth nothing after the page is left); `issuer` is the utility's
/// name as the app will show it.
pub async fn begin_enrolment(
    pool: &PgPool,
    pending: &Pending,
    issuer: &str,
) -> Result<Enrolment, AccountError> {
    let secret = totp::new_secret();
    let replaced = sqlx::query!(
        r#"INSERT INTO staff_authenticators (account_id, utility_id, secret)
           VALUES ($1, $2, $3)
           ON CONFLICT (account_id) DO UPDATE SET secret = EXCLUDED.secret, created_at = now()
           WHERE staff_authenticators.confirmed_at IS NULL"#,
        pending.account_id,
        pending.utility_id,
        secret,
    )
    .execute(pool)
    .await?;
    if replaced.rows_affected() == 0 {
        return Err(AccountError::invalid(
            "code",
            "Aplikacja uwierzytelniająca jest już skonfigurowana.",
        ));
    }
    let uri = totp::otpauth_uri(&secret, issuer, &pending.email);
    Ok(Enrolment {
        qr_svg: totp::qr_svg(&uri),
        typed_secret: totp::typed_secret(&secret),
    })
}

/// The enrolment under way, shown again after a mistyped code (the secret is the one the app
/// may have scanned already); `None` when there is none to show.
pub async fn enrolment_under_way(
    pool: &PgPool,
    pending: &Pending,
    issuer: &str,
) -> sqlx::Result<Option<Enrolment>> {
    let secret = sqlx::query_scalar!(
        "SELECT secret FROM staff_authenticators WHERE account_id = $1 AND confirmed_at IS NULL",
        pending.account_id,
    )
    .fetch_optional(pool)
    .await?;
    Ok(secret.map(|secret| {
        let uri = totp::otpauth_uri(&secret, issuer, &pending.email);
        Enrolment {
            qr_svg: totp::qr_svg(&uri),
            typed_secret: totp::typed_secret(&secret),
        }
    }))
}

/// The enrolment's first code: the authenticator takes effect, the sign-in is done, and the
/// recovery codes (shown once) are returned.
pub async fn finish_enrolment(
    pool: &PgPool,
    pending: &Pending,
    code: &str,
) -> Result<(LoggedIn, Vec<String>), AccountError> {
    let attempt = reserve(pool, pending.account_id).await?;
    let secret = sqlx::query_scalar!(
        "SELECT secret FROM staff_authenticators WHERE account_id = $1 AND confirmed_at IS NULL",
        pending.account_id,
    )
    .fetch_optional(pool)
    .await?;
    let checked = secret.and_then(|s| Some((totp::matching_step(&s, code, unix_now())?, s)));
    let Some((step, secret)) = checked else {
        return Err(wrong_code(pool, pending, attempt).await?);
    };
    let codes = totp::new_recovery_codes();
    let mut tx = pool.begin().await?;
    // The secret the code was checked against: another page load may have replaced it since.
    let confirmed = sqlx::query!(
        r#"UPDATE staff_authenticators SET confirmed_at = now(), last_step = $2
           WHERE account_id = $1 AND confirmed_at IS NULL AND secret = $3"#,
        pending.account_id,
        step as i64,
        secret,
    )
    .execute(&mut *tx)
    .await?;
    if confirmed.rows_affected() == 0 {
        return Err(AccountError::invalid(
            "code",
            "Kod QR zmienił się (strona była otwarta ponownie). Zeskanuj kod widoczny teraz.",
        ));
    }
    replace_recovery_codes(&mut tx, pending.utility_id, pending.account_id, &codes).await?;
    audit::record(
        &mut tx,
        &entry(pending, "staff.authenticator_enrolled", json!({})),
    )
    .await?;
    let who = finish(&mut tx, pending, "authenticator").await?;
    tx.commit().await?;
    throttle::succeeded(pool, attempt).await?;
    Ok((who, codes.into_iter().map(|(code, _)| code).collect()))
}

/// Step two of an enrolled account: a code from the app or a recovery code.
pub async fn finish_with_code(
    pool: &PgPool,
    pending: &Pending,
    code: &str,
) -> Result<LoggedIn, AccountError> {
    let attempt = reserve(pool, pending.account_id).await?;
    let mut tx = pool.begin().await?;
    let Some(factor) = accept_code(&mut tx, pending.account_id, code).await? else {
        drop(tx);
        return Err(wrong_code(pool, pending, attempt).await?);
    };
    if factor == "recovery_code" {
        audit::record(
            &mut tx,
            &entry(pending, "staff.recovery_code_used", json!({})),
        )
        .await?;
    }
    let who = finish(&mut tx, pending, factor).await?;
    tx.commit().await?;
    throttle::succeeded(pool, attempt).await?;
    Ok(who)
}

/// The app's sign-in in one request: `who` passed the password at the staff door; this checks
/// their code (an account that has not enrolled signs in on the web first) and audits.
pub async fn check_second_factor(
    pool: &PgPool,
    who: &LoggedIn,
    code: &str,
) -> Result<(), AccountError> {
    let attempt = reserve(pool, who.account_id).await?;
    let mut tx = pool.begin().await?;
    let factor = accept_code(&mut tx, who.account_id, code).await?;
    let actor = Actor::Staff {
        account_id: who.account_id,
        on_behalf_of: None,
    };
    let Some(factor) = factor else {
        drop(tx);
        throttle::failed(attempt);
        let mut conn = pool.acquire().await?;
        audit::record(
            &mut conn,
            &AuditEntry {
                utility_id: Some(who.utility_id),
                actor,
                action: "staff.sign_in_failed",
                entity_type: Some("account"),
                entity_id: Some(who.account_id.to_string()),
                details: json!({ "step": "code", "via": "api" }),
                request_id: None,
            },
        )
        .await?;
        return Err(AccountError::invalid(
            "code",
            "Kod jest nieprawidłowy lub wygasł.",
        ));
    };
    audit::record(
        &mut tx,
        &AuditEntry {
            utility_id: Some(who.utility_id),
            actor,
            action: "staff.signed_in",
            entity_type: Some("account"),
            entity_id: Some(who.account_id.to_string()),
            details: json!({ "factor": factor, "via": "api" }),
            request_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    throttle::succeeded(pool, attempt).await?;
    Ok(())
}

/// Accepts a six-digit code of the account's confirmed authenticator (newer than the last one
/// accepted) or one of its unused recovery codes; says which it was.
async fn accept_code(
    conn: &mut sqlx::PgConnection,
    account_id: i64,
    code: &str,
) -> sqlx::Result<Option<&'static str>> {
    if totp::looks_like_recovery_code(code) {
        let used = sqlx::query!(
            r#"UPDATE staff_recovery_codes SET used_at = now()
               WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL"#,
            account_id,
            secret::typed_code_digest(code),
        )
        .execute(&mut *conn)
        .await?;
        return Ok((used.rows_affected() == 1).then_some("recovery_code"));
    }
    let secret = sqlx::query_scalar!(
        r#"SELECT secret FROM staff_authenticators
           WHERE account_id = $1 AND confirmed_at IS NOT NULL FOR UPDATE"#,
        account_id,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(step) = secret.and_then(|s| totp::matching_step(&s, code, unix_now())) else {
        return Ok(None);
    };
    let taken = sqlx::query!(
        r#"UPDATE staff_authenticators SET last_step = $2
           WHERE account_id = $1 AND (last_step IS NULL OR last_step < $2)"#,
        account_id,
        step as i64,
    )
    .execute(&mut *conn)
    .await?;
    Ok((taken.rows_affected() == 1).then_some("authenticator"))
}

/// Ends the half-done sign-in as done and audits the sign-in.
async fn finish(
    tx: &mut sqlx::PgConnection,
    pending: &Pending,
    factor: &str,
) -> Result<LoggedIn, AccountError> {
    let done = sqlx::query!(
        "UPDATE staff_sign_ins SET finished_at = now() WHERE id = $1 AND finished_at IS NULL",
        pending.id,
    )
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AccountError::LinkInvalid);
    }
    audit::record(
        &mut *tx,
        &entry(
            pending,
            "staff.signed_in",
            json!({ "factor": factor, "via": "web" }),
        ),
    )
    .await?;
    Ok(LoggedIn {
        account_id: pending.account_id,
        utility_id: pending.utility_id,
        role: pending.role.clone(),
    })
}

/// Counts a wrong code against the account and the half-done sign-in, audits it, and gives
/// the error to show.
async fn wrong_code(
    pool: &PgPool,
    pending: &Pending,
    attempt: throttle::Reservation,
) -> Result<AccountError, AccountError> {
    throttle::failed(attempt);
    sqlx::query!(
        "UPDATE staff_sign_ins SET failures = failures + 1 WHERE id = $1",
        pending.id
    )
    .execute(pool)
    .await?;
    let mut conn = pool.acquire().await?;
    audit::record(
        &mut conn,
        &entry(
            pending,
            "staff.sign_in_failed",
            json!({ "step": "code", "via": "web" }),
        ),
    )
    .await?;
    Ok(AccountError::invalid(
        "code",
        "Kod jest nieprawidłowy lub wygasł. Wpisz kod, który aplikacja pokazuje teraz.",
    ))
}

async fn reserve(pool: &PgPool, account_id: i64) -> Result<throttle::Reservation, AccountError> {
    let key = account_id.to_string();
    throttle::reserve(pool, &[(SECOND_FACTOR_PER_ACCOUNT, key.as_str())])
        .await?
        .map_err(|retry_after| AccountError::Throttled { retry_after })
}

/// A new set of recovery codes replaces the old one.
async fn replace_recovery_codes(
    tx: &mut sqlx::PgConnection,
    utility_id: i64,
    account_id: i64,
    codes: &[(String, Vec<u8>)],
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM staff_recovery_codes WHERE account_id = $1",
        account_id
    )
    .execute(&mut *tx)
    .await?;
    let hashes: Vec<Vec<u8>> = codes.iter().map(|(_, h)| h.clone()).collect();
    sqlx::query!(
        r#"INSERT INTO staff_recovery_codes (utility_id, account_id, code_hash)
           SELECT $1, $2, h FROM unnest($3::bytea[]) AS h"#,
        utility_id,
        account_id,
        &hashes,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A failed password at the staff door: the staff member's if the address is one, else the
/// system's record of an address that is no staff member's (it may be a resident's, who has no
/// business here, or a guess).
async fn audit_failure(
    pool: &PgPool,
    utility_id: i64,
    email: &str,
    step: &str,
) -> sqlx::Result<()> {
    let email: String = email.trim().to_lowercase().chars().take(254).collect();
    let staff = sqlx::query_scalar!(
        r#"SELECT id FROM user_accounts
           WHERE utility_id = $1 AND lower(email) = $2 AND role <> 'resident'"#,
        utility_id,
        email,
    )
    .fetch_optional(pool)
    .await?;
    let (actor, details) = match staff {
        Some(account_id) => (
            Actor::Staff {
                account_id,
                on_behalf_of: None,
            },
            json!({ "step": step }),
        ),
        None => (
            Actor::System,
            json!({ "step": step, "unknown_email": email }),
        ),
    };
    let mut conn = pool.acquire().await?;
    audit::record(
        &mut conn,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor,
            action: "staff.sign_in_failed",
            entity_type: Some("account"),
            entity_id: staff.map(|id| id.to_string()),
            details,
            request_id: None,
        },
    )
    .await?;
    Ok(())
}

fn entry<'a>(pending: &Pending, action: &'a str, details: serde_json::Value) -> AuditEntry<'a> {
    AuditEntry {
        utility_id: Some(pending.utility_id),
        actor: Actor::Staff {
            account_id: pending.account_id,
            on_behalf_of: None,
        },
        action,
        entity_type: Some("account"),
        entity_id: Some(pending.account_id.to_string()),
        details,
        request_id: None,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
