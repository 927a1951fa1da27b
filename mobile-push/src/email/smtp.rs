//! [`SmtpMailer`]: the [`MailSender`] that hands rendered e-mails to an SMTP server with lettre
//! (pooled connections, plain, STARTTLS or implicit TLS, optional AUTH), and the mapping of
//! what the server answered to an [`Outcome`] ([`classify_reply`], pure).

use std::error::Error as _;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ebok_common::config::{EmailConfig, SmtpSecurity};
use futures::future::BoxFuture;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::response::Response;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use secrecy::ExposeSecret;
use tracing::Instrument;

use super::render::message_id_for_host;
use crate::channel::{EmailMessage, MailSender, Outcome};

/// Sends e-mail through one SMTP server. Connections are pooled and reused between sends.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// The port for a security mode when the configuration names none: 25 plain, 587 submission
/// with STARTTLS, 465 submissions (implicit TLS).
pub fn default_port(security: SmtpSecurity) -> u16 {
    match security {
        SmtpSecurity::Plain => 25,
        SmtpSecurity::Starttls => 587,
        SmtpSecurity::Tls => 465,
    }
}

impl SmtpMailer {
    /// Builds the pooled transport. Checks the sender address and reads `ca_file` now, so a
    /// bad configuration stops the start instead of failing every delivery. Call it inside a
    /// Tokio runtime (the pool starts its housekeeping task).
    pub fn from_config(config: &EmailConfig) -> Result<SmtpMailer> {
        let from: Mailbox = config
            .from
            .parse()
            .with_context(|| format!("email.from {:?} is not a valid address", config.from))?;
        let tls = match config.security {
            SmtpSecurity::Plain => Tls::None,
            SmtpSecurity::Starttls => Tls::Required(tls_parameters(config)?),
            SmtpSecurity::Tls => Tls::Wrapper(tls_parameters(config)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port.unwrap_or(default_port(config.security)))
            .tls(tls)
            .timeout(Some(Duration::from_millis(config.timeout_ms)));
        match (&config.username, &config.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(
                    user.clone(),
                    password.expose_secret().to_string(),
                ));
            }
            (Some(_), None) => bail!("email.username is set but email.password is not"),
            (None, _) => {}
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
        })
    }

    /// The lettre message: multipart/alternative (text, then HTML), nothing attached.
    fn message(&self, email: &EmailMessage) -> std::result::Result<Message, String> {
        let address: Address = email
            .to
            .trim()
            .parse()
            .map_err(|e| format!("invalid recipient address: {e}"))?;
        let to = Mailbox::new(email.to_name.clone(), address);
        let message_id = message_id_for_host(&email.message_id, self.from.email.domain());
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(message_id))
            // RFC 3834: no vacation auto-replies to a notification.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ))
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|e| format!("cannot build the message: {e}"))
    }
}

/// Trust the configured CA file's certificates as well as the built-in (webpki) roots.
fn tls_parameters(config: &EmailConfig) -> Result<TlsParameters> {
    let mut builder = TlsParameters::builder(config.host.clone());
    if let Some(path) = &config.ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("reading email.ca_file {}", path.display()))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .with_context(|| format!("parsing email.ca_file {}", path.display()))?;
        if certs.is_empty() {
            bail!("email.ca_file {} holds no certificate", path.display());
        }
        for cert in certs {
            builder = builder.add_root_certificate(Certificate::from_der(cert.to_vec())?);
        }
    }
    builder
        .build_rustls()
        .context("setting up TLS for the SMTP server")
}

impl MailSender for SmtpMailer {
    fn send<'a>(&'a self, email: &'a EmailMessage) -> BoxFuture<'a, Outcome> {
        let span = tracing::info_span!("email_send", message_id = %email.message_id);
        Box::pin(
            async move {
                let outcome = match self.message(email) {
                    Err(reason) => Outcome::Failed { reason },
                    Ok(message) => match self.transport.send(message).await {
                        Ok(response) => Outcome::Sent {
                            provider_id: provider_id(&response),
                        },
                        Err(error) => {
                            // The server's text can name the address: log the code only.
                            let detail = match error.status() {
                                Some(code) => code.to_string(),
                                None => error.to_string(),
                            };
                            tracing::debug!(%detail, "SMTP send failed");
                            classify(&error)
                        }
                    },
                };
                let label = outcome_label(&outcome);
                metrics::counter!("push_email_sends_total", "outcome" => label).increment(1);
                match &outcome {
                    Outcome::Sent { .. } => tracing::debug!(outcome = label, "e-mail sent"),
                    _ => tracing::warn!(outcome = label, "e-mail not sent"),
                }
                outcome
            }
            .instrument(span),
        )
    }
}

/// What the server said on accepting the message (e.g. `2.0.0 Ok: queued as 4XyZ`).
fn provider_id(response: &Response) -> Option<String> {
    let text = response.message().collect::<Vec<_>>().join(" ");
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn outcome_label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Sent { .. } => "sent",
        Outcome::TargetGone { .. } => "target_gone",
        Outcome::Retry { .. } => "retry",
        Outcome::Failed { .. } => "failed",
    }
}

/// A lettre error as an outcome: server replies by [`classify_reply`]; a client-side refusal
/// (no common AUTH mechanism, STARTTLS not offered, 8BITMIME/SMTPUTF8 missing) will not change
/// by retrying; everything else (connection refused or dropped, TLS handshake, timeout, an
/// unreadable reply) is worth another try.
fn classify(error: &SmtpError) -> Outcome {
    if let Some(code) = error.status() {
        let text = error.source().map(|s| s.to_string()).unwrap_or_default();
        return classify_reply(u16::from(code), &text);
    }
    let reason = format!("SMTP: {error}");
    if error.is_client() {
        Outcome::Failed { reason }
    } else {
        Outcome::Retry {
            after: None,
            reason,
        }
    }
}

/// An SMTP reply code (and its text) as an outcome:
///
/// - 4xx: transient, retry;
/// - 550, 551, 553 about the recipient's mailbox: the address is gone. When the text carries an
///   RFC 3463 enhanced code, only `5.1.x` (addressing, except the sender's `5.1.7`/`5.1.8`) and
///   `5.2.1` (mailbox disabled) count; `550 5.7.1` (policy, spam) is not the address's fault;
/// - any other 5xx (including `535` bad credentials): will not succeed as it stands.
pub fn classify_reply(code: u16, text: &str) -> Outcome {
    let reason = format!("SMTP {code} {}", text.trim())
        .trim_end()
        .to_string();
    match code {
        400..=499 => Outcome::Retry {
            after: None,
            reason,
        },
        550 | 551 | 553 if names_a_gone_mailbox(text) => Outcome::TargetGone { reason },
        500..=599 => Outcome::Failed { reason },
        _ => Outcome::Retry {
            after: None,
            reason,
        },
    }
}

fn names_a_gone_mailbox(text: &str) -> bool {
    match enhanced_status(text) {
        None => true,
        Some((_, 1, detail)) => detail != 7 && detail != 8,
        Some((_, 2, 1)) => true,
        Some(_) => false,
    }
}

/// The RFC 3463 enhanced status code at the start of a reply text, e.g. `5.1.1`.
fn enhanced_status(text: &str) -> Option<(u16, u16, u16)> {
    let first = text.split_whitespace().next()?;
    let mut parts = first.split('.').map(|p| p.parse::<u16>().ok());
    let status = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(outcome: &Outcome) -> &'static str {
        outcome_label(outcome)
    }

    #[test]
    fn unknown_mailbox_is_gone() {
        assert_eq!(
            kind(&classify_reply(550, "5.1.1 User unknown")),
            "target_gone"
        );
        assert_eq!(kind(&classify_reply(550, "No such user")), "target_gone");
        assert_eq!(kind(&classify_reply(551, "User not local")), "target_gone");
        assert_eq!(
            kind(&classify_reply(553, "5.1.3 Bad address syntax")),
            "target_gone"
        );
        assert_eq!(
            kind(&classify_reply(550, "5.2.1 Mailbox disabled")),
            "target_gone"
        );
    }

    #[test]
    fn policy_or_sender_rejections_are_failures_not_gone_addresses() {
        assert_eq!(kind(&classify_reply(550, "5.7.1 Spam detected")), "failed");
        assert_eq!(
            kind(&classify_reply(553, "5.1.8 Bad sender domain")),
            "failed"
        );
        assert_eq!(kind(&classify_reply(550, "5.2.2 Mailbox full")), "failed");
        assert_eq!(
            kind(&classify_reply(535, "5.7.8 Authentication failed")),
            "failed"
        );
        assert_eq!(kind(&classify_reply(554, "Transaction failed")), "failed");
    }

    #[test]
    fn transient_replies_are_retried() {
        let outcome = classify_reply(451, "4.3.0 Try again later");
        assert_eq!(
            outcome,
            Outcome::Retry {
                after: None,
                reason: "SMTP 451 4.3.0 Try again later".into()
            }
        );
        assert_eq!(kind(&classify_reply(421, "Service not available")), "retry");
    }

    #[test]
    fn default_ports_follow_the_security_mode() {
        assert_eq!(default_port(SmtpSecurity::Plain), 25);
        assert_eq!(default_port(SmtpSecurity::Starttls), 587);
        assert_eq!(default_port(SmtpSecurity::Tls), 465);
    }
}
