//! Closing a resident account at the resident's request (GDPR art. 17, the right to erasure).
//!
//! Erased at once, in one transaction: the account's e-mail (a placeholder with a random part
//! takes its place, so the address is free to register again and nobody can take the
//! placeholder ahead), name and password; its sessions (ended, the client
//! names wiped), devices, unused links, notices and their deliveries, notification
//! preferences, alarm rules with their history, the events addressed to it, and the
//! throttling records of its address; its links to customers end, so it sees nothing any more.
//! Consents in force are withdrawn.
//!
//! Kept, because the law requires it or it is not the account's but the utility's record: the
//! customers, contracts, meters and readings (and, next, invoices: five years under the tax
//! ordinance); the readings the resident entered (a meter's record, used in billing); the
//! consent history (proof of what was agreed, art. 7(1)); and the audit log. The account row
//! stays as `closed`, without personal data, for those records to point at.
//!
//! Each crate erases its own tables (`ebok_alarm_rules::erase_account`,
//! `mobile_push::inbox::erase_account`, `mobile_push::registry::erase_account`,
//! `ebok_payments::dunning::reminders::erase_account`), in an order
//! that waits for the writers in flight instead of missing what they commit: the account row is
//! locked FOR NO KEY UPDATE (which does not block rows pointing at it), the rules before the
//! events an evaluation may still write, the events locked before the notices a dispatcher may
//! still make of them. One race is left: an outage broadcast being expanded at that moment from
//! a snapshot taken before the consent was withdrawn may still give the closed account a notice
//! (about an area, not about the person), which nobody can read any more.
//!
//! Closing needs the account's password, like a change of e-mail. The old address gets one
//! last e-mail saying so when a mail server is configured; closing does not wait for it.

use ebok_common::audit::{self, Actor, AuditEntry};
use ebok_common::consent::{self, ConsentKind};
use serde_json::json;
use sqlx::PgPool;

use super::mail::{AccountMailer, Mail};
use super::{AccountError, UtilityRef, confirm_current_password, mail_key};
use crate::password::Hasher;

/// Closes the account: see the module doc. `password` is the account's current password
/// (field `password` when wrong).
pub async fn close_account(
    pool: &PgPool,
    hasher: &Hasher,
    mailer: &AccountMailer,
    utility: &UtilityRef,
    account_id: i64,
    password: &str,
) -> Result<(), AccountError> {
    let email = confirm_current_password(pool, hasher, utility.id, account_id, password).await?;
    let mut tx = pool.begin().await?;
    // NO KEY UPDATE: other writers may still insert rows that point at the account (an alarm's
    // event, a notice) while this waits for them; what they commit is erased below, statement by
    // statement, each seeing what committed before it.
    let account = sqlx::query!(
        r#"SELECT display_name, status::text AS "status!" FROM user_accounts
           WHERE id = $1 AND utility_id = $2 AND role = 'resident' FOR NO KEY UPDATE"#,
        account_id,
        utility.id
    )
    .fetch_one(&mut *tx)
    .await?;
    if account.status == "closed" {
        return Ok(());
    }
    let actor = Actor::Resident { account_id };
    for kind in [ConsentKind::EInvoice, ConsentKind::Notifications] {
        consent::withdraw(&mut tx, utility.id, account_id, kind, actor).await?;
    }
    // The rules first (an evaluation in flight holds its rule and may still write an event for
    // the account), then the events addressed to the account, locked so that no dispatcher
    // turns one into a notice meanwhile, then the notices and the events.
    ebok_alarm_rules::erase_account(&mut tx, utility.id, account_id).await?;
    mobile_push::inbox::erase_account(&mut tx, utility.id, account_id).await?;
    mobile_push::registry::erase_account(&mut tx, utility.id, account_id).await?;
    ebok_payments::dunning::reminders::erase_account(&mut tx, utility.id, account_id).await?;
    for statement in [
        "DELETE FROM account_tokens WHERE account_id = $1 AND utility_id = $2",
        "DELETE FROM account_customers WHERE account_id = $1 AND utility_id = $2",
        // What a clerk proposed in the account's name will never be accepted now.
        "UPDATE proxy_acts SET state = 'declined', decided_at = now()
         WHERE account_id = $1 AND utility_id = $2 AND state = 'awaiting'",
        "UPDATE sessions SET client = NULL,
                revoked_at = coalesce(revoked_at, now()),
                revoked_reason = coalesce(revoked_reason, 'account closed')
         WHERE account_id = $1 AND utility_id = $2",
        // A placeholder nobody can register ahead: the account's id and a random part.
        "UPDATE user_accounts
            SET email = 'zamkniete-' || id || '-' || md5(random()::text) || '@konto.invalid',
                display_name = 'Konto zamknięte', password_hash = NULL, status = 'closed',
                closed_at = now(), last_login_at = NULL
          WHERE id = $1 AND utility_id = $2",
    ] {
        sqlx::query(statement)
            .bind(account_id)
            .bind(utility.id)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query!(
        "DELETE FROM security_attempts WHERE key = $1",
        mail_key(utility.id, &email)
    )
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &AuditEntry {
            utility_id: Some(utility.id),
            actor,
            action: "account.closed",
            entity_type: Some("user_account"),
            entity_id: Some(account_id.to_string()),
            details: json!({}),
            request_id: None,
        },
    )
    .await?;
    tx.commit().await?;

    if mailer.configured() {
        let mailer = mailer.clone();
        let utility = utility.clone();
        let name = account.display_name;
        tokio::spawn(async move {
            if let Err(e) = mailer
                .send(&utility, &email, Some(&name), Mail::AccountClosed)
                .await
            {
                tracing::warn!(error = %e, "the e-mail about a closed account was not sent");
            }
        });
    }
    Ok(())
}
