//! The sender: drains each configured utility's queue of invoices to KSeF (`ksef_invoices`,
//! filled by billing at issue) and records KSeF's verdicts.
//!
//! One [`Sender::tick`] per utility: the queued invoices due now (up to [`BATCH`], claimed with
//! `FOR UPDATE SKIP LOCKED` and a lease, so two senders never send the same invoice at once)
//! go out in one online session, each marked `sent` with KSeF's references; then the `sent`
//! ones are asked for their verdict: 200 → `accepted` with the KSeF number and the UPO; 100 or
//! 150 → asked again shortly; 440 (a duplicate: the invoice was taken before, e.g. when a
//! sender stopped between sending and recording) → `accepted` with the original's number and
//! UPO, which is what "already sent" means; 550 (cancelled by the system) → queued again; any
//! other refusal → `rejected`, listed for staff with KSeF's reason. When KSeF cannot be reached
//! (or refuses the credentials) the invoices stay queued and are tried again later, the wait
//! doubling from 30 s to an hour, with the last error shown to staff. Each verdict is audited.
//!
//! The access token is kept between ticks and renewed with the refresh token, or by signing in
//! again when that fails.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use ebok_common::audit::{self, Actor, AuditEntry};
use ebok_common::backoff::Backoff;
use ebok_common::config::KsefConfig;
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::client::{KsefClient, KsefError, StatusInfo, Tokens, api_base};

/// Invoices per online session and tick.
pub const BATCH: i64 = 200;
/// How long a claim keeps other senders off an invoice being sent.
const LEASE_SECONDS: f64 = 300.0;
/// Waits after failing to reach KSeF, by attempts.
const RETRY: Backoff = Backoff::new(Duration::from_secs(30), Duration::from_secs(3600));

/// One utility's connection to KSeF.
struct Target {
    slug: String,
    utility_id: i64,
    client: KsefClient,
    tokens: Mutex<Option<Tokens>>,
}

/// What one tick did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub sent: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Sending or asking failed (KSeF unreachable or refusing): tried again later.
    pub failed: u64,
    /// Still being processed by KSeF.
    pub waiting: u64,
}

impl std::ops::AddAssign for Outcome {
    fn add_assign(&mut self, o: Outcome) {
        self.sent += o.sent;
        self.accepted += o.accepted;
        self.rejected += o.rejected;
        self.failed += o.failed;
        self.waiting += o.waiting;
    }
}

/// The sender of every utility with a `[ksef.<slug>]` entry.
pub struct Sender {
    pool: PgPool,
    targets: Vec<Target>,
    interval: Duration,
}

impl Sender {
    /// Reads each configured utility's NIP and environment; a utility that is unknown or has no
    /// NIP is left out with a warning.
    pub async fn from_config(
        pool: PgPool,
        config: &BTreeMap<String, KsefConfig>,
    ) -> anyhow::Result<Sender> {
        let mut targets = Vec::new();
        let mut interval = Duration::from_secs(30);
        for (slug, c) in config {
            let row = sqlx::query!(
                r#"SELECT id, nip, ksef_environment::text AS "environment!" FROM utilities
                   WHERE slug = $1"#,
                slug
            )
            .fetch_optional(&pool)
            .await?;
            let Some(row) = row else {
                tracing::warn!(%slug, "ksef: no such utility; [ksef.{slug}] is ignored");
                continue;
            };
            let Some(nip) = row.nip else {
                tracing::warn!(%slug, "ksef: the utility has no NIP; nothing is sent");
                continue;
            };
            let base = c
                .base_url
                .clone()
                .unwrap_or_else(|| api_base(&row.environment).to_string());
            interval = interval.min(Duration::from_secs(c.interval_s.max(1)));
            targets.push(Target {
                slug: slug.clone(),
                utility_id: row.id,
                client: KsefClient::new(
                    &base,
                    &nip,
                    c.token.clone(),
                    Duration::from_millis(c.timeout_ms),
                )?,
                tokens: Mutex::new(None),
            });
        }
        Ok(Sender {
            pool,
            targets,
            interval,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Ticks every `interval` until `shutdown`.
    pub async fn run(&self, shutdown: CancellationToken) {
        loop {
            match self.tick().await {
                Ok(o) if o != Outcome::default() => tracing::info!(?o, "ksef: invoices"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "ksef: sender failed; trying again later"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// Sends what is due and records the verdicts ready, for every utility.
    pub async fn tick(&self) -> anyhow::Result<Outcome> {
        let mut outcome = Outcome::default();
        for t in &self.targets {
            outcome += self.send_queued(t).await?;
            outcome += self.check_sent(t).await?;
        }
        Ok(outcome)
    }

    /// Valid tokens: kept, refreshed, or from signing in again.
    async fn tokens(&self, t: &Target) -> Result<Tokens, KsefError> {
        let mut kept = t.tokens.lock().await;
        let now = Utc::now();
        if let Some(tokens) = kept.as_ref() {
            if tokens.fresh(now) {
                return Ok(tokens.clone());
            }
            if tokens.refresh_until > now
                && let Ok(refreshed) = t.client.refresh(tokens).await
            {
                *kept = Some(refreshed.clone());
                return Ok(refreshed);
            }
        }
        let tokens = t.client.authenticate().await?;
        *kept = Some(tokens.clone());
        Ok(tokens)
    }

    async fn send_queued(&self, t: &Target) -> anyhow::Result<Outcome> {
        let claimed = sqlx::query!(
            r#"UPDATE ksef_invoices k
               SET next_attempt_at = now() + make_interval(secs => $3), updated_at = now()
               FROM invoices i
               WHERE i.id = k.invoice_id
                 AND k.invoice_id IN (SELECT invoice_id FROM ksef_invoices
                                      WHERE utility_id = $1 AND state = 'queued'
                                        AND next_attempt_at <= now()
                                      ORDER BY invoice_id LIMIT $2 FOR UPDATE SKIP LOCKED)
               RETURNING k.invoice_id, k.attempts, i.number, i.ksef_xml"#,
            t.utility_id,
            BATCH,
            LEASE_SECONDS,
        )
        .fetch_all(&self.pool)
        .await?;
        let mut outcome = Outcome::default();
        if claimed.is_empty() {
            return Ok(outcome);
        }
        let opened = match self.tokens(t).await {
            Ok(tokens) => match t.client.open_session(&tokens).await {
                Ok(session) => Ok((tokens, session)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let (tokens, session) = match opened {
            Ok(opened) => opened,
            Err(error) => {
                tracing::warn!(slug = %t.slug, %error, "ksef: cannot open a session");
                for c in &claimed {
                    self.failed(c.invoice_id, c.attempts + 1, &error).await?;
                }
                outcome.failed += claimed.len() as u64;
                return Ok(outcome);
            }
        };
        for c in &claimed {
            match t
                .client
                .send(&tokens, &session, c.ksef_xml.as_bytes())
                .await
            {
                Ok(invoice_reference) => {
                    sqlx::query!(
                        r#"UPDATE ksef_invoices
                           SET state = 'sent', session_reference = $2, invoice_reference = $3,
                               attempts = attempts + 1, next_attempt_at = now(),
                               last_error = NULL, updated_at = now()
                           WHERE invoice_id = $1"#,
                        c.invoice_id,
                        session.reference,
                        invoice_reference,
                    )
                    .execute(&self.pool)
                    .await?;
                    outcome.sent += 1;
                }
                Err(error) => {
                    tracing::warn!(slug = %t.slug, number = %c.number, %error, "ksef: not sent");
                    self.failed(c.invoice_id, c.attempts + 1, &error).await?;
                    outcome.failed += 1;
                }
            }
        }
        if let Err(error) = t.client.close(&tokens, &session).await {
            tracing::warn!(slug = %t.slug, %error, "ksef: the session was not closed");
        }
        Ok(outcome)
    }

    async fn check_sent(&self, t: &Target) -> anyhow::Result<Outcome> {
        let sent = sqlx::query!(
            r#"SELECT k.invoice_id, k.attempts, k.session_reference AS "session_reference!",
                      k.invoice_reference AS "invoice_reference!", i.number
               FROM ksef_invoices k JOIN invoices i ON i.id = k.invoice_id
               WHERE k.utility_id = $1 AND k.state = 'sent' AND k.next_attempt_at <= now()
               ORDER BY k.invoice_id LIMIT $2"#,
            t.utility_id,
            BATCH,
        )
        .fetch_all(&self.pool)
        .await?;
        let mut outcome = Outcome::default();
        if sent.is_empty() {
            return Ok(outcome);
        }
        let tokens = match self.tokens(t).await {
            Ok(tokens) => tokens,
            Err(error) => {
                tracing::warn!(slug = %t.slug, %error, "ksef: cannot sign in to read verdicts");
                outcome.failed += sent.len() as u64;
                return Ok(outcome);
            }
        };
        for s in &sent {
            let status = match t
                .client
                .invoice_status(&tokens, &s.session_reference, &s.invoice_reference)
                .await
            {
                Ok(status) => status,
                Err(error) => {
                    self.retry_later(s.invoice_id, s.attempts, &error.to_string())
                        .await?;
                    outcome.failed += 1;
                    continue;
                }
            };
            let code = status.status.code;
            let accepted = match (code, &status.ksef_number) {
                (200, Some(number)) => Some((s.session_reference.clone(), number.clone())),
                (440, _) => status
                    .status
                    .extension("originalKsefNumber")
                    .zip(status.status.extension("originalSessionReferenceNumber"))
                    .map(|(n, session)| (session.to_string(), n.to_string())),
                _ => None,
            };
            if let Some((session_reference, ksef_number)) = accepted {
                let upo = match t
                    .client
                    .upo(&tokens, &session_reference, &ksef_number)
                    .await
                {
                    Ok(upo) => upo,
                    Err(error) => {
                        self.retry_later(s.invoice_id, s.attempts, &error.to_string())
                            .await?;
                        outcome.failed += 1;
                        continue;
                    }
                };
                let acquired = status.acquisition_date.unwrap_or_else(Utc::now);
                self.verdict(
                    t,
                    s.invoice_id,
                    &s.number,
                    "accepted",
                    Some((&ksef_number, acquired, &upo)),
                    &status.status,
                )
                .await?;
                outcome.accepted += 1;
            } else if matches!(code, 100 | 150) || (code == 200 && status.ksef_number.is_none()) {
                sqlx::query!(
                    r#"UPDATE ksef_invoices SET next_attempt_at = now() + interval '2 seconds',
                                                status_code = $2, updated_at = now()
                       WHERE invoice_id = $1"#,
                    s.invoice_id,
                    code,
                )
                .execute(&self.pool)
                .await?;
                outcome.waiting += 1;
            } else if code == 550 {
                sqlx::query!(
                    r#"UPDATE ksef_invoices SET state = 'queued', next_attempt_at = now(),
                                                status_code = $2, status_description = $3,
                                                updated_at = now()
                       WHERE invoice_id = $1"#,
                    s.invoice_id,
                    code,
                    status.status.explained(),
                )
                .execute(&self.pool)
                .await?;
                outcome.failed += 1;
            } else {
                self.verdict(t, s.invoice_id, &s.number, "rejected", None, &status.status)
                    .await?;
                outcome.rejected += 1;
            }
        }
        Ok(outcome)
    }

    /// Records KSeF's final word on an invoice, with an audit entry.
    async fn verdict(
        &self,
        t: &Target,
        invoice_id: i64,
        number: &str,
        state: &str,
        accepted: Option<(&str, chrono::DateTime<Utc>, &str)>,
        status: &StatusInfo,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        let (ksef_number, acquired, upo) = match accepted {
            Some((n, at, upo)) => (Some(n), Some(at), Some(upo)),
            None => (None, None, None),
        };
        sqlx::query!(
            r#"UPDATE ksef_invoices
               SET state = $2::text::ksef_state, ksef_number = $3, acquired_at = $4, upo = $5,
                   status_code = $6, status_description = $7, last_error = NULL,
                   updated_at = now()
               WHERE invoice_id = $1"#,
            invoice_id,
            state,
            ksef_number,
            acquired,
            upo,
            status.code,
            status.explained(),
        )
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            &AuditEntry {
                utility_id: Some(t.utility_id),
                actor: Actor::System,
                action: if state == "accepted" {
                    "ksef.invoice_accepted"
                } else {
                    "ksef.invoice_rejected"
                },
                entity_type: Some("invoice"),
                entity_id: Some(invoice_id.to_string()),
                details: json!({ "number": number, "ksef_number": ksef_number,
                                 "status": status }),
                request_id: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sending failed: queued again after a wait that grows with the attempts.
    async fn failed(
        &self,
        invoice_id: i64,
        attempts: i32,
        error: &KsefError,
    ) -> anyhow::Result<()> {
        let wait = RETRY.random(attempts.max(1) as u32);
        sqlx::query!(
            r#"UPDATE ksef_invoices
               SET attempts = $2, next_attempt_at = now() + make_interval(secs => $3),
                   last_error = $4, updated_at = now()
               WHERE invoice_id = $1"#,
            invoice_id,
            attempts,
            wait.as_secs_f64(),
            error.to_string(),
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Asking for a verdict failed: asked again after a wait.
    async fn retry_later(&self, invoice_id: i64, attempts: i32, error: &str) -> anyhow::Result<()> {
        let wait = RETRY.random(attempts.max(1) as u32);
        sqlx::query!(
            r#"UPDATE ksef_invoices
               SET next_attempt_at = now() + make_interval(secs => $2), last_error = $3,
                   updated_at = now()
               WHERE invoice_id = $1"#,
            invoice_id,
            wait.as_secs_f64(),
            error,
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
