//! The e-mails of the account itself (activation, password reset, change of e-mail), sent at
//! once while the resident waits, not through the outbox: they go to addresses that are not yet
//! the account's and carry one-time links that must not sit in an inbox table. A failure is
//! reported to the resident, who can ask again. Polish first, with an English line.
//!
//! Without a configured mail server nothing that needs an e-mail is done
//! ([`AccountError::MailDisabled`]): a link written to a log instead would let anyone who can
//! read the log take over any account (ask for a reset, read the link). The demo delivers to a
//! mailbox page of its own. Recipients' addresses stay out of `Message-ID`, spans and logs.

use std::sync::Arc;

use askama::Template;
use mobile_push::channel::{EmailMessage, MailSender, Outcome};
use mobile_push::email::message_id_header;

use super::{AccountError, UtilityRef};
use crate::secret;

/// What to send.
#[derive(Debug, Clone)]
pub(crate) enum Mail {
    Activation {
        token: String,
    },
    AlreadyRegistered,
    PasswordReset {
        token: String,
    },
    EmailChange {
        token: String,
    },
    EmailChangeNotice {
        new_email: String,
    },
    /// To an address that already has an account, given as the new address of another one.
    EmailChangeToUsedAddress,
    /// To the address of an account just closed: the last message it gets.
    AccountClosed,
    /// A staff account an admin created: the link that sets its first password.
    StaffInvitation {
        token: String,
    },
}

#[derive(Template)]
#[template(path = "mail/account.txt")]
struct Text<'a> {
    greeting: &'a str,
    lines: &'a [String],
    link: Option<&'a str>,
    english: &'a str,
    utility: &'a str,
}

#[derive(Template)]
#[template(path = "mail/account.html")]
struct Html<'a> {
    subject: &'a str,
    greeting: &'a str,
    lines: &'a [String],
    link: Option<&'a str>,
    link_label: &'a str,
    english: &'a str,
    utility: &'a str,
}

/// Sends account e-mails; links start with the installation's public URL.
#[derive(Clone)]
pub struct AccountMailer {
    sender: Option<Arc<dyn MailSender>>,
    public_url: String,
}

impl AccountMailer {
    pub fn new(sender: Option<Arc<dyn MailSender>>, public_url: &str) -> Self {
        Self {
            sender,
            public_url: public_url.trim_end_matches('/').to_string(),
        }
    }

    /// Whether e-mail can be sent at all.
    pub fn configured(&self) -> bool {
        self.sender.is_some()
    }

    /// `MailDisabled` unless e-mail can be sent: checked before a flow that ends in an e-mail
    /// does anything.
    pub(crate) fn require(&self) -> Result<(), AccountError> {
        if self.configured() {
            Ok(())
        } else {
            Err(AccountError::MailDisabled)
        }
    }

    pub(crate) async fn send(
        &self,
        utility: &UtilityRef,
        to: &str,
        to_name: Option<&str>,
        mail: Mail,
    ) -> Result<(), AccountError> {
        let base = format!("{}/u/{}", self.public_url, utility.slug);
        let greeting = match to_name {
            Some(name) => format!("Dzień dobry, {name}!"),
            None => "Dzień dobry!".to_string(),
        };
        let (subject, lines, link, link_label, english) = match &mail {
            Mail::Activation { token } => (
                format!("Aktywuj konto w eBOK — {}", utility.name),
                vec![
                    "Dziękujemy za założenie konta w Elektronicznym Biurze Obsługi Klienta."
                        .to_string(),
                    "Aby je aktywować, otwórz poniższy link (ważny 48 godzin).".to_string(),
                    "Jeśli to nie Ty zakładałeś konto, zignoruj tę wiadomość.".to_string(),
                ],
                Some(format!("{base}/aktywuj?token={token}")),
                "Aktywuj konto",
                "Open the link to activate your eBOK account (valid for 48 hours).",
            ),
            Mail::AlreadyRegistered => (
                format!("Twoje konto w eBOK — {}", utility.name),
                vec![
                    "Ktoś (być może Ty) próbował założyć konto w eBOK na ten adres, ale konto \
                     już istnieje."
                        .to_string(),
                    "Jeśli nie pamiętasz hasła, ustaw nowe poniższym linkiem.".to_string(),
                ],
                Some(format!("{base}/haslo")),
                "Ustaw nowe hasło",
                "An account with this address already exists; reset the password if needed.",
            ),
            Mail::PasswordReset { token } => (
                format!("Ustaw nowe hasło w eBOK — {}", utility.name),
                vec![
                    "Otrzymaliśmy prośbę o ustawienie nowego hasła do Twojego konta.".to_string(),
                    "Link jest ważny godzinę i działa jeden raz. Po zmianie hasła wszystkie \
                     sesje zostaną wylogowane."
                        .to_string(),
                    "Jeśli to nie Ty, zignoruj tę wiadomość — hasło się nie zmieni.".to_string(),
                ],
                Some(format!("{base}/haslo/nowe?token={token}")),
                "Ustaw nowe hasło",
                "Open the link to set a new password (valid for one hour, once).",
            ),
            Mail::StaffInvitation { token } => (
                format!("Konto pracownika w eBOK — {}", utility.name),
                vec![
                    "Administrator założył Ci konto pracownika w panelu eBOK.".to_string(),
                    "Ustaw hasło poniższym linkiem (ważny 48 godzin, działa jeden raz). Potem \
                     zaloguj się w panelu pracownika i skonfiguruj aplikację uwierzytelniającą \
                     w telefonie: logowanie wymaga hasła i kodu z aplikacji."
                        .to_string(),
                    "Jeśli nie spodziewasz się tej wiadomości, zignoruj ją.".to_string(),
                ],
                Some(format!("{base}/haslo/nowe?token={token}")),
                "Ustaw hasło",
                "An administrator created your staff account: set its password (48 hours).",
            ),
            Mail::EmailChange { token } => (
                format!("Potwierdź nowy adres e-mail w eBOK — {}", utility.name),
                vec![
                    "Aby ten adres stał się adresem Twojego konta w eBOK, otwórz poniższy link \
                     (ważny 24 godziny)."
                        .to_string(),
                ],
                Some(format!("{base}/konto/email?token={token}")),
                "Potwierdź adres",
                "Open the link to confirm this address for your eBOK account.",
            ),
            Mail::AccountClosed => (
                format!("Konto w eBOK zostało zamknięte — {}", utility.name),
                vec![
                    "Na Twoją prośbę zamknęliśmy Twoje konto w eBOK i usunęliśmy jego dane \
                     osobowe. To ostatnia wiadomość, jaką od nas otrzymasz w sprawie tego konta."
                        .to_string(),
                    "Umowa na dostawę wody trwa nadal, a faktury przyjdą jak dotąd. Konto możesz \
                     w każdej chwili założyć ponownie. Jeśli to nie Ty zamknąłeś konto, \
                     skontaktuj się z biurem obsługi klienta."
                        .to_string(),
                ],
                None,
                "",
                "Your eBOK account was closed and its personal data erased, as you asked.",
            ),
            Mail::EmailChangeToUsedAddress => (
                format!("Twój adres e-mail w eBOK — {}", utility.name),
                vec![
                    "Ktoś poprosił o ustawienie tego adresu jako adresu innego konta w eBOK. \
                     Ten adres należy już do Twojego konta, więc nic się nie zmieniło."
                        .to_string(),
                    "Jeśli chcesz używać jednego konta zamiast dwóch, skontaktuj się z biurem \
                     obsługi klienta. Jeśli to nie Ty, nic nie musisz robić."
                        .to_string(),
                ],
                None,
                "",
                "Somebody asked to give this address to another eBOK account; it stays yours, \
                 nothing changed.",
            ),
            Mail::EmailChangeNotice { new_email } => (
                format!("Zmiana adresu e-mail w eBOK — {}", utility.name),
                vec![
                    format!(
                        "Poproszono o zmianę adresu e-mail Twojego konta na {new_email}. Zmiana \
                         nastąpi po potwierdzeniu z nowego adresu."
                    ),
                    "Jeśli to nie Ty, zmień hasło i skontaktuj się z biurem obsługi klienta."
                        .to_string(),
                ],
                None,
                "",
                "A change of your account's e-mail address was requested.",
            ),
        };
        let text = Text {
            greeting: &greeting,
            lines: &lines,
            link: link.as_deref(),
            english,
            utility: &utility.name,
        }
        .render()
        .map_err(|e| anyhow::anyhow!("rendering account e-mail: {e}"))?;
        let html = Html {
            subject: &subject,
            greeting: &greeting,
            lines: &lines,
            link: link.as_deref(),
            link_label,
            english,
            utility: &utility.name,
        }
        .render()
        .map_err(|e| anyhow::anyhow!("rendering account e-mail: {e}"))?;
        let Some(sender) = &self.sender else {
            return Err(AccountError::MailDisabled);
        };
        let message = EmailMessage {
            to: to.to_string(),
            to_name: to_name.map(str::to_string),
            subject,
            text,
            html,
            message_id: message_id_header(&secret::new_token(), &self.public_url),
        };
        match sender.send(&message).await {
            Outcome::Sent { .. } => Ok(()),
            Outcome::TargetGone { reason } => {
                // The server's words may name the address: only their code goes to the log.
                tracing::info!(
                    reply = smtp_code(&reason),
                    "account e-mail refused by the recipient's server"
                );
                Err(AccountError::Invalid {
                    field: "email",
                    detail: "Serwer poczty odrzucił ten adres. Sprawdź, czy jest poprawny.".into(),
                })
            }
            Outcome::Retry { reason, .. } | Outcome::Failed { reason } => {
                tracing::warn!(reply = smtp_code(&reason), "account e-mail not sent");
                Err(AccountError::MailNotSent)
            }
        }
    }
}

/// The reply code of an outcome's reason (`SMTP 550 5.1.1 <jan@…>: …` gives `550`), or what
/// kind of failure it was; never the rest, which may name the recipient.
fn smtp_code(reason: &str) -> &str {
    let mut words = reason.split_whitespace();
    match (words.next(), words.next()) {
        (Some("SMTP"), Some(code)) if code.chars().all(|c| c.is_ascii_digit()) => code,
        (Some("SMTP:"), _) => "connection",
        _ => "other",
    }
}
