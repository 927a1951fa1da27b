//! Resident accounts, without HTTP: registration with an e-mailed activation link, login with
//! argon2id hashes and throttling, password reset, change of e-mail with re-confirmation, and
//! linking an account to a customer with proof. The API and the portal call these; both show
//! the errors ([`AccountError`]) in their own way.
//!
//! Nothing here tells a stranger whether an address has an account: registration of a taken
//! address and a reset for an unknown one answer exactly as the normal case (the owner of a
//! taken address gets an e-mail saying so).

mod closing;
mod link;
mod mail;
mod password_rules;
pub mod throttle;

use std::net::IpAddr;
use std::time::Duration;

use ebok_common::audit::{self, Actor, AuditEntry};
use serde_json::json;
use sqlx::PgPool;

pub use closing::close_account;
pub use link::{LinkedCustomer, issue_link_code, link_customer, linked_customers};
pub use mail::AccountMailer;

use crate::password::{self, HashError, Hasher, MAX_PASSWORD_BYTES};
use crate::secret;

/// How long e-mailed links work.
pub const ACTIVATION_TTL: Duration = Duration::from_secs(48 * 3600);
pub const RESET_TTL: Duration = Duration::from_secs(3600);
pub const EMAIL_CHANGE_TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid {field}: {detail}")]
    Invalid { field: &'static str, detail: String },
    #[error("wrong e-mail or password")]
    BadCredentials,
    #[error("account not active")]
    NotActive,
    #[error("too many attempts")]
    Throttled { retry_after: Duration },
    /// Too many password checks at once in this process: come back shortly.
    #[error("too many password checks at once")]
    Busy { retry_after: Duration },
    #[error("link invalid or expired")]
    LinkInvalid,
    #[error("the e-mail could not be sent")]
    MailNotSent,
    /// No mail server is configured, so nothing that needs an e-mail can be done.
    #[error("e-mail is not configured (notify.email.host)")]
    MailDisabled,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<HashError> for AccountError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy { retry_after } => AccountError::Busy { retry_after },
            HashError::Failed(e) => AccountError::Internal(e),
        }
    }
}

impl AccountError {
    /// The same error, shown at `field` when it is about a field.
    fn at_field(self, field: &'static str) -> Self {
        match self {
            AccountError::Invalid { detail, .. } => AccountError::Invalid { field, detail },
            other => other,
        }
    }

    pub(crate) fn invalid(field: &'static str, detail: impl Into<String>) -> Self {
        AccountError::Invalid {
            field,
            detail: detail.into(),
        }
    }
}

/// A utility as account e-mails need it.
#[derive(Debug, Clone)]
pub struct UtilityRef {
    pub id: i64,
    pub slug: String,
    pub name: String,
}

pub async fn utility_by_slug(pool: &PgPool, slug: &str) -> sqlx::Result<Option<UtilityRef>> {
    sqlx::query_as!(
        UtilityRef,
        "SELECT id, slug, name FROM utilities WHERE active AND slug = $1",
        slug
    )
    .fetch_optional(pool)
    .await
}

/// A normalised e-mail address: trimmed, one `@`, a dot in the domain, at most 254 characters.
pub fn parse_email(raw: &str) -> Result<String, AccountError> {
    let email = raw.trim();
    let bad = || AccountError::invalid("email", "Podaj poprawny adres e-mail, np. jan@example.pl.");
    if email.is_empty() || email.len() > 254 || email.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    if local.is_empty() || domain.contains('@') || !domain.contains('.') || domain.ends_with('.') {
        return Err(bad());
    }
    Ok(email.to_string())
}

pub struct Registration<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub password: &'a str,
    pub password_repeat: &'a str,
    pub accept_terms: bool,
}

impl Registration<'_> {
    /// Every field's problem at once, in the form's order, each with its field and Polish
    /// message; empty when the form is complete. [`register`] refuses the first one; the portal
    /// shows them all at their fields.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        let mut note = |result: Result<(), AccountError>| {
            if let Err(AccountError::Invalid { field, detail }) = result {
                problems.push((field, detail));
            }
        };
        let email = parse_email(self.email);
        let checked_email = email.as_deref().unwrap_or(self.email).to_string();
        note(email.map(drop));
        let name = self.display_name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            note(Err(AccountError::invalid(
                "display_name",
                "Podaj imię i nazwisko lub nazwę (do 100 znaków).",
            )));
        }
        note(password_rules::check(self.password, &checked_email));
        if self.password != self.password_repeat {
            note(Err(AccountError::invalid(
                "password_repeat",
                "Hasła nie są takie same.",
            )));
        }
        if !self.accept_terms {
            note(Err(AccountError::invalid(
                "accept_terms",
                "Aby założyć konto, zaakceptuj regulamin eBOK.",
            )));
        }
        problems
    }
}

/// Who is asking, for the limits per client address (`None` when unknown).
pub type Client = Option<IpAddr>;

/// Registers a resident account (pending until the e-mailed link is opened with the password)
/// and sends the link. A taken address gets an e-mail saying so instead; a pending one gets a
/// fresh link, and keeps the password it was registered with: a second registration of a
/// pending address (by anyone) never changes what the link activates. The caller cannot tell
/// the cases apart. Registrations from one client address are limited ([`throttle::MAIL_PER_CLIENT`]).
pub async fn register(
    pool: &PgPool,
    hasher: &Hasher,
    mailer: &AccountMailer,
    utility: &UtilityRef,
    form: &Registration<'_>,
    client: Client,
) -> Result<(), AccountError> {
    if let Some((field, detail)) = form.problems().into_iter().next() {
        return Err(AccountError::Invalid { field, detail });
    }
    mailer.require()?;
    let email = parse_email(form.email)?;
    let name = form.display_name.trim();
    reserve_mail_for_client(pool, client).await?;
    if !reserve_mail_to(pool, utility.id, &email).await? {
        // Silently: the answer must not differ from a normal registration.
        return Ok(());
    }
    // Hashed whatever the case, so the time taken does not tell whether the address is known.
    let hash = hasher.hash(form.password).await?;
    let mut tx = pool.begin().await?;
    let existing = sqlx::query!(
        r#"SELECT id, status::text AS "status!" FROM user_accounts
           WHERE utility_id = $1 AND lower(email) = lower($2)"#,
        utility.id,
        email,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let mail = match existing {
        Some(account) if account.status == "pending_activation" => {
            let token =
                new_link(&mut tx, utility.id, account.id, Purpose::Activation, None).await?;
            mail::Mail::Activation { token }
        }
        Some(_) => mail::Mail::AlreadyRegistered,
        None => {
            let id = sqlx::query_scalar!(
                r#"INSERT INTO user_accounts (utility_id, email, password_hash, role, status,
                                              display_name, password_changed_at)
                   VALUES ($1, $2, $3, 'resident', 'pending_activation', $4, now())
                   RETURNING id"#,
                utility.id,
                email,
                hash,
                name,
            )
            .fetch_one(&mut *tx)
            .await?;
            audit::record(
                &mut tx,
                &AuditEntry {
                    utility_id: Some(utility.id),
                    actor: Actor::Resident { account_id: id },
                    action: "account.registered",
                    entity_type: Some("user_account"),
                    entity_id: Some(id.to_string()),
                    details: json!({}),
                    request_id: None,
                },
            )
            .await?;
            let token = new_link(&mut tx, utility.id, id, Purpose::Activation, None).await?;
            mail::Mail::Activation { token }
        }
    };
    tx.commit().await?;
    mailer.send(utility, &email, Some(name), mail).await
}

/// Opens an activation link: with the password the account was registered with, the account
/// becomes active and the resident is logged in. The password proves that the person at the
/// link is the one who registered: an address registered by somebody else (to take the account
/// over once its owner clicks the link) cannot be activated by its owner with a password the
/// other party knows; its owner sets a password of their own through the reset link instead.
/// Wrong passwords count against the account's login limit.
pub async fn activate(
    pool: &PgPool,
    hasher: &Hasher,
    utility_id: i64,
    token: &str,
    password: &str,
    client: Client,
) -> Result<LoggedIn, AccountError> {
    let token = token.trim();
    if token.is_empty() || token.len() > 256 {
        return Err(AccountError::LinkInvalid);
    }
    if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
        return Err(wrong_activation_password());
    }
    let account = sqlx::query!(
        r#"SELECT a.id, a.email, a.password_hash, a.role::text AS "role!"
           FROM account_tokens t JOIN user_accounts a ON a.id = t.account_id
           WHERE t.token_hash = $1 AND t.utility_id = $2 AND t.purpose = 'activation'
             AND t.used_at IS NULL AND t.expires_at > now()"#,
        secret::digest(token),
        utility_id,
    )
    .fetch_optional(pool)
    .await?
    .ok_or(AccountError::LinkInvalid)?;
    let attempt = reserve_login(pool, utility_id, &account.email, client).await?;
    let stored = account.password_hash.unwrap_or_default();
    if !check_password(pool, hasher, &attempt, password, stored).await? {
        throttle::failed(attempt);
        return Err(wrong_activation_password());
    }
    let mut tx = pool.begin().await?;
    let (account_id, _) = use_link(&mut tx, utility_id, token, Purpose::Activation).await?;
    sqlx::query!(
        r#"UPDATE user_accounts SET status = 'active', activated_at = coalesce(activated_at, now()),
                                    last_login_at = now()
           WHERE id = $1 AND status = 'pending_activation'"#,
        account_id
    )
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: Actor::Resident { account_id },
            action: "account.activated",
            entity_type: Some("user_account"),
            entity_id: Some(account_id.to_string()),
            details: json!({}),
            request_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    throttle::succeeded(pool, attempt).await?;
    Ok(LoggedIn {
        account_id,
        utility_id,
        role: account.role,
    })
}

fn wrong_activation_password() -> AccountError {
    AccountError::invalid(
        "password",
        "To nie jest hasło podane przy zakładaniu konta. Jeśli go nie pamiętasz, ustaw nowe \
         hasło (link „Nie pamiętam hasła”) – konto zostanie wtedy aktywowane.",
    )
}

/// Who logged in.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub account_id: i64,
    pub utility_id: i64,
    pub role: String,
}

/// Which door a login comes through: residents log in to the portal and the app, staff to the
/// back office (where a second factor follows). An account of the other kind is not found
/// there: the answer is the same as for a wrong password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Residents,
    Staff,
}

/// Checks a login. Throttled per account (5 failures in 15 minutes) and per client address
/// (30), counted before the password is checked, so parallel attempts cannot pass the limit
/// together; an unknown address costs as much time as a known one. Longer input than any
/// account can have is refused without hashing.
pub async fn login(
    pool: &PgPool,
    hasher: &Hasher,
    utility_id: i64,
    email: &str,
    password: &str,
    client: Client,
    door: Door,
) -> Result<LoggedIn, AccountError> {
    let email = email.trim().to_lowercase();
    if email.len() > 254 || password.len() > MAX_PASSWORD_BYTES {
        return Err(AccountError::BadCredentials);
    }
    let attempt = reserve_login(pool, utility_id, &email, client).await?;
    let account = sqlx::query!(
        r#"SELECT id, password_hash, role::text AS "role!", status::text AS "status!"
           FROM user_accounts
           WHERE utility_id = $1 AND lower(email) = $2 AND (role = 'resident') = $3"#,
        utility_id,
        email,
        door == Door::Residents,
    )
    .fetch_optional(pool)
    .await?;
    let stored = account
        .as_ref()
        .and_then(|a| a.password_hash.clone())
        .unwrap_or_else(|| password::DUMMY_HASH.clone());
    let matches = check_password(pool, hasher, &attempt, password, stored).await?;
    let account = match account {
        Some(a) if matches => a,
        _ => {
            throttle::failed(attempt);
            return Err(AccountError::BadCredentials);
        }
    };
    throttle::succeeded(pool, attempt).await?;
    if account.status != "active" {
        return Err(AccountError::NotActive);
    }
    sqlx::query!(
        "UPDATE user_accounts SET last_login_at = now() WHERE id = $1",
        account.id
    )
    .execute(pool)
    .await?;
    Ok(LoggedIn {
        account_id: account.id,
        utility_id,
        role: account.role,
    })
}

/// Sends a password reset link if the address has an account (active, or still waiting for
/// activation: setting a password through the link activates it); answers the same either way.
/// Requests from one client address are limited ([`throttle::MAIL_PER_CLIENT`]).
pub async fn request_password_reset(
    pool: &PgPool,
    mailer: &AccountMailer,
    utility: &UtilityRef,
    email: &str,
    client: Client,
) -> Result<(), AccountError> {
    // Bad input is named even without a mail server.
    let email = parse_email(email)?;
    mailer.require()?;
    reserve_mail_for_client(pool, client).await?;
    if !reserve_mail_to(pool, utility.id, &email).await? {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    let account = sqlx::query!(
        r#"SELECT id, email, display_name FROM user_accounts
           WHERE utility_id = $1 AND lower(email) = lower($2)
             AND status IN ('active', 'pending_activation')"#,
        utility.id,
        email,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(account) = account else {
        tx.commit().await?;
        return Ok(());
    };
    let token = new_link(
        &mut tx,
        utility.id,
        account.id,
        Purpose::PasswordReset,
        None,
    )
    .await?;
    tx.commit().await?;
    mailer
        .send(
            utility,
            &account.email,
            Some(&account.display_name),
            mail::Mail::PasswordReset { token },
        )
        .await
}

/// E-mails a staff account (created by an admin, without a password) the link that sets its
/// first password (48 hours); earlier invitations stop working. The staff member then signs in
/// to the back office and sets up the authenticator app.
pub async fn invite_staff(
    pool: &PgPool,
    mailer: &AccountMailer,
    utility: &UtilityRef,
    account_id: i64,
) -> Result<(), AccountError> {
    mailer.require()?;
    let mut tx = pool.begin().await?;
    let account = sqlx::query!(
        r#"SELECT email, display_name FROM user_accounts
           WHERE id = $1 AND utility_id = $2 AND role <> 'resident'"#,
        account_id,
        utility.id,
    )
    .fetch_one(&mut *tx)
    .await?;
    let token = new_link(
        &mut tx,
        utility.id,
        account_id,
        Purpose::StaffInvitation,
        None,
    )
    .await?;
    tx.commit().await?;
    mailer
        .send(
            utility,
            &account.email,
            Some(&account.display_name),
            mail::Mail::StaffInvitation { token },
        )
        .await
}

/// Sets a new password from a reset link; every session of the account ends. An account still
/// waiting for activation becomes active: the link proved the address.
pub async fn reset_password(
    pool: &PgPool,
    hasher: &Hasher,
    utility_id: i64,
    token: &str,
    new_password: &str,
    repeat: &str,
) -> Result<i64, AccountError> {
    let mut tx = pool.begin().await?;
    let (account_id, _) = use_link(&mut tx, utility_id, token, Purpose::PasswordReset).await?;
    let email = sqlx::query_scalar!("SELECT email FROM user_accounts WHERE id = $1", account_id)
        .fetch_one(&mut *tx)
        .await?;
    password_rules::check(new_password, &email)?;
    if new_password != repeat {
        return Err(AccountError::invalid(
            "password_repeat",
            "Hasła nie są takie same.",
        ));
    }
    let hash = hasher.hash(new_password).await?;
    set_password(
        &mut tx,
        utility_id,
        account_id,
        &hash,
        "account.password_reset",
    )
    .await?;
    tx.commit().await?;
    Ok(account_id)
}

/// Changes the password of a logged-in account (the current one must be given; wrong ones count
/// against the account's login limit); every other session of the account ends.
#[allow(clippy::too_many_arguments)]
pub async fn change_password(
    pool: &PgPool,
    hasher: &Hasher,
    utility_id: i64,
    account_id: i64,
    keep_session: Option<i64>,
    current: &str,
    new_password: &str,
    repeat: &str,
) -> Result<(), AccountError> {
    let email = confirm_current_password(pool, hasher, utility_id, account_id, current)
        .await
        .map_err(|e| e.at_field("current_password"))?;
    password_rules::check(new_password, &email)?;
    if new_password != repeat {
        return Err(AccountError::invalid(
            "password_repeat",
            "Hasła nie są takie same.",
        ));
    }
    let hash = hasher.hash(new_password).await?;
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "UPDATE user_accounts SET password_hash = $2, password_changed_at = now() WHERE id = $1",
        account_id,
        hash
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"UPDATE sessions SET revoked_at = now(), revoked_reason = 'password changed'
           WHERE account_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2"#,
        account_id,
        keep_session
    )
    .execute(&mut *tx)
    .await?;
    audit_simple(&mut tx, utility_id, account_id, "account.password_changed").await?;
    tx.commit().await?;
    Ok(())
}

/// Starts a change of e-mail: the link goes to the NEW address; the old one gets a notice. The
/// account's password must be given (field `password`): a session left open on a shared
/// computer must not be enough to move the account to another address.
///
/// An address that already belongs to another account of the utility is answered exactly as a
/// free one (the old address gets the same notice), so that the answer does not tell whether
/// somebody has an account under it: instead of a link, that address gets a word that nothing
/// changed ([`mail::Mail::EmailChangeToUsedAddress`]).
pub async fn request_email_change(
    pool: &PgPool,
    hasher: &Hasher,
    mailer: &AccountMailer,
    utility: &UtilityRef,
    account_id: i64,
    new_email: &str,
    password: &str,
) -> Result<(), AccountError> {
    let new_email = parse_email(new_email)?;
    mailer.require()?;
    confirm_current_password(pool, hasher, utility.id, account_id, password)
        .await
        .map_err(|e| e.at_field("password"))?;
    let mut tx = pool.begin().await?;
    let account = sqlx::query!(
        "SELECT email, display_name FROM user_accounts WHERE id = $1 AND utility_id = $2",
        account_id,
        utility.id
    )
    .fetch_one(&mut *tx)
    .await?;
    if account.email.eq_ignore_ascii_case(&new_email) {
        return Err(AccountError::invalid(
            "email",
            "To jest obecny adres konta.",
        ));
    }
    let owner = sqlx::query_scalar!(
        "SELECT display_name FROM user_accounts WHERE utility_id = $1 AND lower(email) = lower($2)",
        utility.id,
        new_email
    )
    .fetch_optional(&mut *tx)
    .await?;
    let (new_name, to_new) = match owner {
        Some(name) => (name, mail::Mail::EmailChangeToUsedAddress),
        None => {
            let token = new_link(
                &mut tx,
                utility.id,
                account_id,
                Purpose::EmailChange,
                Some(&new_email),
            )
            .await?;
            (
                account.display_name.clone(),
                mail::Mail::EmailChange { token },
            )
        }
    };
    tx.commit().await?;
    mailer
        .send(utility, &new_email, Some(&new_name), to_new)
        .await?;
    mailer
        .send(
            utility,
            &account.email,
            Some(&account.display_name),
            mail::Mail::EmailChangeNotice {
                new_email: new_email.clone(),
            },
        )
        .await
}

/// Confirms a change of e-mail from the link sent to the new address.
pub async fn confirm_email_change(
    pool: &PgPool,
    utility_id: i64,
    token: &str,
) -> Result<i64, AccountError> {
    let mut tx = pool.begin().await?;
    let (account_id, new_email) =
        use_link(&mut tx, utility_id, token, Purpose::EmailChange).await?;
    let new_email = new_email.ok_or(AccountError::LinkInvalid)?;
    let old = sqlx::query_scalar!(
        "SELECT email FROM user_accounts WHERE id = $1 FOR UPDATE",
        account_id
    )
    .fetch_one(&mut *tx)
    .await?;
    let changed = sqlx::query!(
        "UPDATE user_accounts SET email = $2 WHERE id = $1",
        account_id,
        new_email
    )
    .execute(&mut *tx)
    .await;
    match changed {
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => {
            return Err(AccountError::invalid(
                "email",
                "Ten adres jest już używany przez inne konto.",
            ));
        }
        other => {
            other?;
        }
    }
    audit::record(
        &mut tx,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: Actor::Resident { account_id },
            action: "account.email_changed",
            entity_type: Some("user_account"),
            entity_id: Some(account_id.to_string()),
            details: json!({ "from": old, "to": new_email }),
            request_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(account_id)
}

#[derive(Debug, Clone, Copy)]
enum Purpose {
    Activation,
    PasswordReset,
    EmailChange,
    /// A staff member's first password, set through a reset link that lives as long as an
    /// activation link (the invitation may wait a weekend).
    StaffInvitation,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Activation => "activation",
            Purpose::PasswordReset | Purpose::StaffInvitation => "password_reset",
            Purpose::EmailChange => "email_change",
        }
    }

    fn ttl(self) -> Duration {
        match self {
            Purpose::Activation => ACTIVATION_TTL,
            Purpose::PasswordReset => RESET_TTL,
            Purpose::StaffInvitation => ACTIVATION_TTL,
            Purpose::EmailChange => EMAIL_CHANGE_TTL,
        }
    }
}

/// A new one-time link; earlier unused links of the same purpose stop working.
async fn new_link(
    conn: &mut sqlx::PgConnection,
    utility_id: i64,
    account_id: i64,
    purpose: Purpose,
    new_email: Option<&str>,
) -> sqlx::Result<String> {
    sqlx::query!(
        r#"UPDATE account_tokens SET used_at = now()
           WHERE account_id = $1 AND purpose = $2::text::account_token_purpose AND used_at IS NULL"#,
        account_id,
        purpose.as_str()
    )
    .execute(&mut *conn)
    .await?;
    let token = secret::new_token();
    sqlx::query!(
        r#"INSERT INTO account_tokens (utility_id, account_id, purpose, token_hash, new_email,
                                       expires_at)
           VALUES ($1, $2, $3::text::account_token_purpose, $4, $5,
                   now() + make_interval(secs => $6))"#,
        utility_id,
        account_id,
        purpose.as_str(),
        secret::digest(&token),
        new_email,
        purpose.ttl().as_secs_f64(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(token)
}

/// Uses a one-time link: returns the account and the address being confirmed (e-mail change).
async fn use_link(
    conn: &mut sqlx::PgConnection,
    utility_id: i64,
    token: &str,
    purpose: Purpose,
) -> Result<(i64, Option<String>), AccountError> {
    let row = sqlx::query!(
        r#"UPDATE account_tokens SET used_at = now()
           WHERE token_hash = $1 AND utility_id = $2 AND purpose = $3::text::account_token_purpose
             AND used_at IS NULL AND expires_at > now()
           RETURNING account_id, new_email"#,
        secret::digest(token.trim()),
        utility_id,
        purpose.as_str()
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AccountError::LinkInvalid)?;
    Ok((row.account_id, row.new_email))
}

async fn set_password(
    conn: &mut sqlx::PgConnection,
    utility_id: i64,
    account_id: i64,
    hash: &str,
    action: &str,
) -> Result<(), AccountError> {
    sqlx::query!(
        r#"UPDATE user_accounts SET password_hash = $2, password_changed_at = now(),
                  status = CASE WHEN status IN ('locked', 'pending_activation')
                                THEN 'active'::account_status ELSE status END,
                  activated_at = coalesce(activated_at, now())
           WHERE id = $1"#,
        account_id,
        hash
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"UPDATE sessions SET revoked_at = now(), revoked_reason = 'password reset'
           WHERE account_id = $1 AND revoked_at IS NULL"#,
        account_id
    )
    .execute(&mut *conn)
    .await?;
    audit_simple(conn, utility_id, account_id, action).await?;
    Ok(())
}

async fn audit_simple(
    conn: &mut sqlx::PgConnection,
    utility_id: i64,
    account_id: i64,
    action: &str,
) -> sqlx::Result<i64> {
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: Actor::Resident { account_id },
            action,
            entity_type: Some("user_account"),
            entity_id: Some(account_id.to_string()),
            details: json!({}),
            request_id: None,
        },
    )
    .await
}

fn mail_key(utility_id: i64, email: &str) -> String {
    format!("{utility_id}:{}", email.to_lowercase())
}

/// Counts one login attempt for the account (`utility:email`) and the client address, before
/// the password is checked; `Throttled` when either is over its limit.
async fn reserve_login(
    pool: &PgPool,
    utility_id: i64,
    email: &str,
    client: Client,
) -> Result<throttle::Reservation, AccountError> {
    let account_key = format!("{utility_id}:{}", email.to_lowercase());
    let address_key = client.map(crate::client::throttle_key);
    let mut keys = vec![(throttle::LOGIN_PER_ACCOUNT, account_key.as_str())];
    if let Some(address) = &address_key {
        keys.push((throttle::LOGIN_PER_ADDRESS, address.as_str()));
    }
    throttle::reserve(pool, &keys)
        .await?
        .map_err(|retry_after| AccountError::Throttled { retry_after })
}

/// Verifies a password within a reserved attempt. When this process has no turn for a hash now
/// (`Busy`), the attempt is taken back: it was never checked.
async fn check_password(
    pool: &PgPool,
    hasher: &Hasher,
    attempt: &throttle::Reservation,
    password: &str,
    stored: String,
) -> Result<bool, AccountError> {
    match hasher.verify(password, stored).await {
        Ok(matches) => Ok(matches),
        Err(error) => {
            throttle::cancel(pool, attempt).await?;
            Err(error.into())
        }
    }
}

/// Checks the password of a logged-in account (wrong ones count against its login limit);
/// returns its e-mail address.
pub(crate) async fn confirm_current_password(
    pool: &PgPool,
    hasher: &Hasher,
    utility_id: i64,
    account_id: i64,
    password: &str,
) -> Result<String, AccountError> {
    let wrong = || AccountError::invalid("password", "Hasło jest nieprawidłowe.");
    if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
        return Err(wrong());
    }
    let row = sqlx::query!(
        "SELECT email, password_hash FROM user_accounts WHERE id = $1 AND utility_id = $2",
        account_id,
        utility_id
    )
    .fetch_one(pool)
    .await?;
    let attempt = reserve_login(pool, utility_id, &row.email, None).await?;
    let stored = row.password_hash.unwrap_or_default();
    if !check_password(pool, hasher, &attempt, password, stored).await? {
        throttle::failed(attempt);
        return Err(wrong());
    }
    throttle::succeeded(pool, attempt).await?;
    Ok(row.email)
}

/// Counts one e-mail asked for by `client` (whatever the utility); `Throttled` when the client
/// is over its limit.
async fn reserve_mail_for_client(pool: &PgPool, client: Client) -> Result<(), AccountError> {
    let Some(client) = client else {
        return Ok(());
    };
    let key = crate::client::throttle_key(client);
    throttle::reserve(pool, &[(throttle::MAIL_PER_CLIENT, &key)])
        .await?
        .map(throttle::failed)
        .map_err(|retry_after| AccountError::Throttled { retry_after })
}

/// Counts one e-mail to `email`; `false` when the address has had its share (the caller then
/// sends nothing and answers as usual).
async fn reserve_mail_to(pool: &PgPool, utility_id: i64, email: &str) -> sqlx::Result<bool> {
    let key = mail_key(utility_id, email);
    Ok(
        throttle::reserve(pool, &[(throttle::MAIL_PER_ADDRESS, &key)])
            .await?
            .map(throttle::failed)
            .is_ok(),
    )
}
