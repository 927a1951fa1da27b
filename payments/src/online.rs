//! Online payments from the resident's "Zapłać" to the booking: [`Providers`] holds each
//! utility's provider (from `[payments.<slug>]`), [`start`] records a payment and registers it
//! with the provider, and [`przelewy24_notification`] and [`stripe_event`] take what the
//! providers say about it.
//!
//! A notification is believed only when it is signed with the shop's key and names a payment
//! of ours for the same amount and currency; then Przelewy24's is verified with Przelewy24 (only
//! a verified payment is booked; Stripe's signed event is itself the confirmation) and the
//! payment is booked once ([`crate::booking`]). What goes wrong is kept:
//! a forged notification is refused and audited, an amount that differs from ours is never
//! booked and the payment waits for staff (`mismatch`), a failed verification is left for the
//! provider's next notification. Every step is in the audit log.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ebok_common::audit::{self, Actor, AuditEntry};
use ebok_common::config::PaymentProviderConfig;
use ebok_common::domain::Money;
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use crate::booking::{self, Booking, Confirmed};
use crate::przelewy24::{P24Error, P24Notification, Przelewy24, Register};
use crate::stripe::{Checkout, Stripe, StripeError};

/// The largest payment taken online (the provider's own limits are higher).
pub const MAX_ONLINE: Money = Money::from_grosze(10_000_000);

/// One utility's online payment provider.
#[derive(Debug, Clone)]
pub enum Provider {
    Przelewy24(Przelewy24),
    Stripe(Stripe),
}

impl Provider {
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Przelewy24(_) => "przelewy24",
            Provider::Stripe(_) => "stripe",
        }
    }

    /// The origin (`scheme://host[:port]`) of the provider's payment pages, which the portal's
    /// payment form is sent on to.
    pub fn checkout_origin(&self) -> String {
        match self {
            Provider::Przelewy24(p) => p.origin(),
            Provider::Stripe(s) => s.checkout_origin(),
        }
    }

    /// The provider as residents know it.
    pub fn display_name(&self) -> &'static str {
        match self {
            Provider::Przelewy24(_) => "Przelewy24",
            Provider::Stripe(_) => "Stripe",
        }
    }
}

/// Every utility's provider, by slug.
#[derive(Debug, Clone, Default)]
pub struct Providers(Arc<HashMap<String, Provider>>);

impl Providers {
    pub fn from_config(config: &BTreeMap<String, PaymentProviderConfig>) -> Providers {
        let mut out = HashMap::new();
        for (slug, c) in config {
            match c {
                PaymentProviderConfig::Przelewy24(p) => {
                    out.insert(slug.clone(), Provider::Przelewy24(Przelewy24::new(p)));
                }
                PaymentProviderConfig::Stripe(s) => {
                    out.insert(slug.clone(), Provider::Stripe(Stripe::new(s)));
                }
            }
        }
        Providers(Arc::new(out))
    }

    pub fn of(&self, slug: &str) -> Option<&Provider> {
        self.0.get(slug)
    }

    /// `provider` for utility `slug` as well (tests, the demo).
    pub fn with(self, slug: &str, provider: Provider) -> Providers {
        let mut all = Arc::unwrap_or_clone(self.0);
        all.insert(slug.to_string(), provider);
        Providers(Arc::new(all))
    }
}

/// Which methods the resident is offered at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Blik,
    Any,
}

/// A payment to start.
#[derive(Debug, Clone)]
pub struct Start<'a> {
    pub utility_id: i64,
    pub customer_id: i64,
    /// The resident who pays.
    pub account_id: Option<i64>,
    pub amount: Money,
    /// The invoice to pay first.
    pub invoice_id: Option<i64>,
    pub method: Method,
    /// The payer's e-mail (the provider sends its confirmation there).
    pub email: &'a str,
    /// What the payer sees at the provider, Polish.
    pub description: &'a str,
    /// Where the resident comes back to: `{return_to}/{payment id}`.
    pub return_to: &'a str,
    /// Where the provider notifies us.
    pub notify_url: &'a str,
}

/// A started payment: send the resident to `redirect_to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub payment_id: i64,
    pub redirect_to: String,
}

/// Why a payment could not start. `Invalid` names the field (for the form or problem+json).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The provider did not answer (after retries) or refused: the resident may try later.
    #[error("the payment provider: {0}")]
    Provider(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn session_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let mut s = String::from("ebok-");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

async fn audit_payment(
    conn: &mut PgConnection,
    utility_id: i64,
    actor: Actor,
    action: &str,
    payment_id: Option<i64>,
    details: serde_json::Value,
) -> sqlx::Result<()> {
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor,
            action,
            entity_type: Some("payment"),
            entity_id: payment_id.map(|id| id.to_string()),
            details,
            request_id: None,
        },
    )
    .await
    .map(drop)
}

/// Records the payment and registers it with the provider.
pub async fn start(
    pool: &PgPool,
    provider: &Provider,
    s: &Start<'_>,
) -> Result<Started, StartError> {
    if s.amount <= Money::ZERO || s.amount > MAX_ONLINE {
        return Err(StartError::Invalid {
            field: "amount",
            message: format!(
                "Kwota wpłaty musi być większa od zera i nie większa niż {}.",
                ebok_common::polish::money(MAX_ONLINE)
            ),
        });
    }
    if let Some(invoice) = s.invoice_id {
        let own = sqlx::query_scalar!(
            "SELECT EXISTS (SELECT 1 FROM invoices WHERE id = $1 AND customer_id = $2 AND utility_id = $3)",
            invoice,
            s.customer_id,
            s.utility_id
        )
        .fetch_one(pool)
        .await?;
        if own != Some(true) {
            return Err(StartError::Invalid {
                field: "invoice_id",
                message: "Nie ma takiej faktury wśród faktur tego klienta.".into(),
            });
        }
    }
    let session = session_id();
    let mut tx = pool.begin().await?;
    let payment_id = sqlx::query_scalar!(
        r#"INSERT INTO payments (utility_id, customer_id, account_id, provider, session_id,
                                 invoice_id, amount_grosze)
           VALUES ($1, $2, $3, $4::text::payment_provider, $5, $6, $7)
           RETURNING id"#,
        s.utility_id,
        s.customer_id,
        s.account_id,
        provider.name(),
        session,
        s.invoice_id,
        s.amount.grosze()
    )
    .fetch_one(&mut *tx)
    .await?;
    let actor = match s.account_id {
        Some(account_id) => Actor::Resident { account_id },
        None => Actor::System,
    };
    audit_payment(
        &mut tx,
        s.utility_id,
        actor,
        "payment.started",
        Some(payment_id),
        json!({ "provider": provider.name(), "amount_grosze": s.amount.grosze(),
                "invoice_id": s.invoice_id, "customer_id": s.customer_id }),
    )
    .await?;
    tx.commit().await?;

    let url_return = format!("{}/{payment_id}", s.return_to.trim_end_matches('/'));
    let registered = match provider {
        Provider::Przelewy24(p24) => p24
            .register(&Register {
                session_id: &session,
                amount: s.amount,
                description: s.description,
                email: s.email,
                url_return: &url_return,
                url_status: s.notify_url,
                blik_only: s.method == Method::Blik,
                transfer_label: "Woda i scieki",
            })
            .await
            .map(|token| (p24.payment_page(&token), token))
            .map_err(|e: P24Error| e.to_string()),
        Provider::Stripe(stripe) => stripe
            .checkout(&Checkout {
                session_id: &session,
                amount: s.amount,
                description: s.description,
                email: s.email,
                success_url: &url_return,
                cancel_url: s.return_to,
            })
            .await
            .map(|c| (c.url, c.id))
            .map_err(|e: StripeError| e.to_string()),
    };
    match registered {
        Ok((redirect_to, token)) => {
            sqlx::query!(
                "UPDATE payments SET provider_token = $2, updated_at = now() WHERE id = $1",
                payment_id,
                token
            )
            .execute(pool)
            .await?;
            Ok(Started {
                payment_id,
                redirect_to,
            })
        }
        Err(e) => {
            let mut tx = pool.begin().await?;
            sqlx::query!(
                r#"UPDATE payments SET status = 'failed', problem = $2, updated_at = now()
                   WHERE id = $1"#,
                payment_id,
                format!("Operator płatności nie przyjął płatności: {e}")
            )
            .execute(&mut *tx)
            .await?;
            audit_payment(
                &mut tx,
                s.utility_id,
                Actor::System,
                "payment.register_failed",
                Some(payment_id),
                json!({ "error": e.to_string() }),
            )
            .await?;
            tx.commit().await?;
            Err(StartError::Provider(e))
        }
    }
}

/// What became of a provider's notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notified {
    /// Verified and booked now.
    Booked { payment_id: i64 },
    /// Booked before (a replay, or the provider's resend): nothing done.
    AlreadyBooked { payment_id: i64 },
    /// Not signed with the shop's key, or for another shop, or too old: refused.
    Forged,
    /// Signed, but not a notification we can read.
    Unreadable,
    /// No payment of ours has that session id.
    Unknown,
    /// Another amount or currency than ours: not verified, not booked; staff look at it.
    Mismatch { payment_id: i64 },
    /// The provider did not confirm the money (yet); its next notification tries again.
    VerifyFailed { payment_id: i64, error: P24Error },
    /// The provider says the payer has not paid yet (an asynchronous method): later.
    Pending { payment_id: i64 },
    /// The provider says the payment failed or was abandoned.
    Failed { payment_id: i64 },
    /// An event about something else: nothing to do.
    Ignored,
}

impl Notified {
    fn outcome(&self) -> &'static str {
        match self {
            Notified::Booked { .. } => "booked",
            Notified::AlreadyBooked { .. } => "replay",
            Notified::Forged => "forged",
            Notified::Unreadable => "unreadable",
            Notified::Unknown => "unknown",
            Notified::Mismatch { .. } => "mismatch",
            Notified::VerifyFailed { .. } => "verify_failed",
            Notified::Pending { .. } => "pending",
            Notified::Failed { .. } => "failed",
            Notified::Ignored => "ignored",
        }
    }
}

fn counted(provider: &'static str, n: Notified) -> Notified {
    metrics::counter!("ebok_payment_notifications_total", "provider" => provider, "outcome" => n.outcome())
        .increment(1);
    n
}

/// Our record of a payment, as a notification is checked against it.
struct Ours {
    id: i64,
    utility_id: i64,
    amount: Money,
    currency: String,
    status: String,
}

/// The payment of utility `slug` with `provider` and our `session_id`.
async fn ours(
    pool: &PgPool,
    slug: &str,
    provider: &str,
    session_id: &str,
) -> sqlx::Result<Option<Ours>> {
    let row = sqlx::query!(
        r#"SELECT p.id, p.utility_id, p.amount_grosze, p.currency, p.status::text AS "status!"
           FROM payments p JOIN utilities u ON u.id = p.utility_id
           WHERE p.session_id = $1 AND u.slug = $2 AND p.provider = $3::text::payment_provider"#,
        session_id,
        slug,
        provider
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Ours {
        id: r.id,
        utility_id: r.utility_id,
        amount: Money::from_grosze(r.amount_grosze),
        currency: r.currency,
        status: r.status,
    }))
}

/// An audit entry of utility `slug` about a notification that names no payment of ours.
async fn audited_for(
    pool: &PgPool,
    slug: &str,
    action: &str,
    details: serde_json::Value,
) -> sqlx::Result<()> {
    let utility_id = sqlx::query_scalar!("SELECT id FROM utilities WHERE slug = $1", slug)
        .fetch_optional(pool)
        .await?;
    match utility_id {
        Some(id) => audited(pool, id, action, None, details).await,
        None => Ok(()),
    }
}

async fn audited(
    pool: &PgPool,
    utility_id: i64,
    action: &str,
    payment_id: Option<i64>,
    details: serde_json::Value,
) -> sqlx::Result<()> {
    let mut conn = pool.acquire().await?;
    audit_payment(
        &mut conn,
        utility_id,
        Actor::System,
        action,
        payment_id,
        details,
    )
    .await
}

/// The provider reported `reported` of `currency` for our payment `p`: kept for staff, never
/// booked.
async fn mismatch(
    pool: &PgPool,
    utility_id: i64,
    p: &Ours,
    reported: Money,
    currency: &str,
    reference: &str,
    details: serde_json::Value,
) -> sqlx::Result<Notified> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        r#"UPDATE payments SET status = 'mismatch', provider_reference = coalesce(provider_reference, $2),
                               problem = $3, updated_at = now()
           WHERE id = $1 AND status <> 'booked'"#,
        p.id,
        reference,
        format!(
            "Operator zgłosił wpłatę {} {}, a płatność była na {} {}: nie zaksięgowano jej i nie potwierdzono operatorowi.",
            ebok_common::polish::money(reported),
            currency.to_uppercase(),
            ebok_common::polish::money(p.amount),
            p.currency
        )
    )
    .execute(&mut *tx)
    .await?;
    audit_payment(
        &mut tx,
        utility_id,
        Actor::System,
        "payment.amount_mismatch",
        Some(p.id),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(Notified::Mismatch { payment_id: p.id })
}

/// Books payment `p`, confirmed by the provider with `reference`.
async fn book_now(
    pool: &PgPool,
    p: &Ours,
    reference: &str,
    method: Option<&str>,
    description: &str,
) -> sqlx::Result<Notified> {
    let mut tx = pool.begin().await?;
    let booking = booking::book(
        &mut tx,
        &Confirmed {
            payment_id: p.id,
            provider_reference: reference,
            method,
            description,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(match booking {
        Booking::Booked { .. } => Notified::Booked { payment_id: p.id },
        Booking::AlreadyBooked => Notified::AlreadyBooked { payment_id: p.id },
    })
}

/// Takes a Przelewy24 notification to utility `slug`'s shop.
pub async fn przelewy24_notification(
    pool: &PgPool,
    slug: &str,
    p24: &Przelewy24,
    n: &P24Notification,
) -> sqlx::Result<Notified> {
    const P24: &str = "przelewy24";
    let summary = json!({ "session_id": n.session_id, "order_id": n.order_id,
                          "amount_grosze": n.amount, "currency": n.currency });
    if !p24.is_genuine(n) {
        tracing::warn!(
            utility = slug,
            order_id = n.order_id,
            "a Przelewy24 notification with a wrong sign or shop was refused"
        );
        audited_for(pool, slug, "payment.notification_forged", summary).await?;
        return Ok(counted(P24, Notified::Forged));
    }
    let Some(p) = ours(pool, slug, P24, &n.session_id).await? else {
        audited_for(pool, slug, "payment.notification_unknown", summary).await?;
        return Ok(counted(P24, Notified::Unknown));
    };
    let utility_id = p.utility_id;
    if p.status == "booked" {
        return Ok(counted(P24, Notified::AlreadyBooked { payment_id: p.id }));
    }
    let reference = n.order_id.to_string();
    if n.amount != p.amount.grosze() || n.currency != p.currency {
        let m = mismatch(
            pool,
            utility_id,
            &p,
            Money::from_grosze(n.amount),
            &n.currency,
            &reference,
            summary,
        )
        .await?;
        return Ok(counted(P24, m));
    }
    if let Err(error) = p24.verify(&n.session_id, n.order_id, p.amount).await {
        let mut tx = pool.begin().await?;
        sqlx::query!(
            "UPDATE payments SET problem = $2, updated_at = now() WHERE id = $1 AND status = 'started'",
            p.id,
            format!("Weryfikacja w Przelewy24 nie powiodła się: {error}")
        )
        .execute(&mut *tx)
        .await?;
        audit_payment(
            &mut tx,
            utility_id,
            Actor::System,
            "payment.verify_failed",
            Some(p.id),
            json!({ "order_id": n.order_id, "error": error.to_string() }),
        )
        .await?;
        tx.commit().await?;
        return Ok(counted(
            P24,
            Notified::VerifyFailed {
                payment_id: p.id,
                error,
            },
        ));
    }
    let method = n.method_id.to_string();
    let description = match n.method_id {
        crate::przelewy24::METHOD_BLIK => "Wpłata online (Przelewy24, BLIK)",
        _ => "Wpłata online (Przelewy24)",
    };
    let booked = book_now(pool, &p, &reference, Some(&method), description).await?;
    Ok(counted(P24, booked))
}

/// Takes a Stripe webhook request (its `Stripe-Signature` header and raw body) for utility
/// `slug`'s account, at Unix time `now`.
pub async fn stripe_event(
    pool: &PgPool,
    slug: &str,
    stripe: &Stripe,
    signature: &str,
    body: &[u8],
    now: i64,
) -> sqlx::Result<Notified> {
    const STRIPE: &str = "stripe";
    let event = match stripe.event(signature, body, now) {
        Err(refused) => {
            tracing::warn!(utility = slug, %refused, "a Stripe webhook with a bad signature was refused");
            audited_for(
                pool,
                slug,
                "payment.notification_forged",
                json!({ "provider": STRIPE, "reason": refused.to_string() }),
            )
            .await?;
            return Ok(counted(STRIPE, Notified::Forged));
        }
        Ok(Err(_)) => return Ok(counted(STRIPE, Notified::Unreadable)),
        Ok(Ok(event)) => event,
    };
    let kind = event.kind.as_str();
    if !matches!(
        kind,
        "checkout.session.completed"
            | "checkout.session.async_payment_succeeded"
            | "checkout.session.async_payment_failed"
            | "checkout.session.expired"
    ) {
        return Ok(counted(STRIPE, Notified::Ignored));
    }
    let session = &event.data.object;
    let summary = json!({ "event": event.id, "type": kind, "checkout_session": session.id,
                          "amount_grosze": session.amount_total, "currency": session.currency });
    let Some(p) = (match &session.client_reference_id {
        Some(ours_id) => ours(pool, slug, STRIPE, ours_id).await?,
        None => None,
    }) else {
        audited_for(pool, slug, "payment.notification_unknown", summary).await?;
        return Ok(counted(STRIPE, Notified::Unknown));
    };
    let utility_id = p.utility_id;
    if p.status == "booked" {
        return Ok(counted(
            STRIPE,
            Notified::AlreadyBooked { payment_id: p.id },
        ));
    }
    if matches!(
        kind,
        "checkout.session.async_payment_failed" | "checkout.session.expired"
    ) {
        let mut tx = pool.begin().await?;
        sqlx::query!(
            r#"UPDATE payments SET status = 'failed', problem = $2, updated_at = now()
               WHERE id = $1 AND status = 'started'"#,
            p.id,
            if kind == "checkout.session.expired" {
                "Płatność porzucona: sesja płatności wygasła."
            } else {
                "Operator płatności odrzucił płatność."
            }
        )
        .execute(&mut *tx)
        .await?;
        audit_payment(
            &mut tx,
            utility_id,
            Actor::System,
            "payment.failed",
            Some(p.id),
            summary,
        )
        .await?;
        tx.commit().await?;
        return Ok(counted(STRIPE, Notified::Failed { payment_id: p.id }));
    }
    if session.payment_status.as_deref() != Some("paid") {
        return Ok(counted(STRIPE, Notified::Pending { payment_id: p.id }));
    }
    let reference = session
        .payment_intent
        .clone()
        .unwrap_or_else(|| session.id.clone());
    let currency = session.currency.clone().unwrap_or_default();
    let reported = Money::from_grosze(session.amount_total.unwrap_or(0));
    if reported != p.amount || !currency.eq_ignore_ascii_case(&p.currency) {
        let m = mismatch(
            pool, utility_id, &p, reported, &currency, &reference, summary,
        )
        .await?;
        return Ok(counted(STRIPE, m));
    }
    let booked = book_now(
        pool,
        &p,
        &reference,
        Some("stripe"),
        "Wpłata online (Stripe)",
    )
    .await?;
    Ok(counted(STRIPE, booked))
}
