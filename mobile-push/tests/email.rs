//! E-mail delivery over the wire: the real [`SmtpMailer`] (lettre) talks to a real SMTP server
//! (aiosmtpd, `ebok_testkit::smtp`) on loopback, in plain SMTP, STARTTLS with AUTH and implicit
//! TLS; what arrives is parsed back and checked verbatim, and the server's refusals become the
//! outcomes the dispatcher acts on.

use std::collections::BTreeMap;
use std::time::Duration;

use ebok_common::config::{EmailConfig, SmtpSecurity};
use ebok_testkit::smtp::{self, ReceivedMail, SmtpOptions, TestSmtp};
use mobile_push::channel::{EmailMessage, MailSender, Outcome};
use mobile_push::email::{SmtpMailer, render};
use mobile_push::notice::{Category, Notice, Sender};
use secrecy::SecretString;

const TO: &str = "jozef.zoltowski@example.pl";
const TO_NAME: &str = "Józef Żółtowski";
const LETTERS: &str = "ą, ć, ę, ł, ń, ó, ś, ź, ż";
const WAIT: Duration = Duration::from_secs(5);

fn sender() -> Sender {
    Sender {
        utility_name: "Gmina Młynary".into(),
        portal_url: "https://ebok.mlynary.example".into(),
    }
}

fn leak_notice() -> Notice {
    Notice {
        category: Category::MeterAlarms,
        kind: "meter_alarm.raised".into(),
        title: "Wykryto wyciek wody".into(),
        body: format!(
            "Zużycie wody przy ul. Źródlanej 5 nie spadło do zera od 6 godzin. Sprawdź, czy \
             nie cieknie kran lub spłuczka. Polskie litery: {LETTERS}."
        ),
        details: vec![
            ("Wodomierz".into(), "WM-12345678".into()),
            ("Przepływ".into(), "42 l/h".into()),
            ("Adres".into(), "ul. Źródlana 5, Młynary".into()),
        ],
        link: Some("https://ebok.mlynary.example/alarmy/17".into()),
        document_waiting: false,
        urgent: true,
        data: BTreeMap::new(),
    }
}

fn invoice_notice() -> Notice {
    Notice {
        category: Category::InvoicesPayments,
        kind: "invoice.issued".into(),
        title: "Nowa faktura za wodę".into(),
        body: "Wystawiliśmy fakturę za wodę i ścieki za październik.".into(),
        details: vec![("Numer".into(), "FV/2026/10/0042".into())],
        link: Some("https://ebok.mlynary.example/faktury/42".into()),
        document_waiting: true,
        urgent: false,
        data: BTreeMap::new(),
    }
}

fn email(notice: &Notice) -> EmailMessage {
    render(notice, TO, Some(TO_NAME), &sender(), "delivery-17-email")
}

/// Sends one e-mail through a fresh mailer for `server` and returns what the mailer says.
async fn send(server: &TestSmtp, security: SmtpSecurity, message: &EmailMessage) -> Outcome {
    let mailer = SmtpMailer::from_config(&server.config(security)).expect("mailer");
    mailer.send(message).await
}

fn assert_sent(outcome: &Outcome) {
    match outcome {
        Outcome::Sent { provider_id } => assert!(
            provider_id
                .as_deref()
                .is_some_and(|id| id.contains("queued as")),
            "{provider_id:?}"
        ),
        other => panic!("expected Sent, got {other:?}"),
    }
}

/// The leak alarm arrived with every header and both bodies intact, Polish letters included.
fn assert_leak_alarm(mail: &ReceivedMail) {
    let notice = leak_notice();
    assert_eq!(mail.subject(), "[Gmina Młynary] Wykryto wyciek wody");
    let from = mail.header("From").expect("From");
    assert!(from.contains("eBOK Gmina Młynary"), "{from}");
    assert!(from.contains("<ebok@mlynary.example>"), "{from}");
    let to = mail.header("To").expect("To");
    assert!(to.contains(TO_NAME) && to.contains(TO), "{to}");
    assert_eq!(
        mail.header("Message-ID"),
        Some("<delivery-17-email@ebok.mlynary.example>")
    );
    assert_eq!(mail.mail_from, "ebok@mlynary.example");
    assert_eq!(mail.rcpt_to, vec![TO.to_string()]);
    assert_eq!(mail.content_type, "multipart/alternative");

    let text = mail.text().expect("text/plain part");
    let html = mail.html().expect("text/html part");
    for body in [text, html] {
        assert!(body.contains(&notice.body), "{body}");
        assert!(body.contains(LETTERS));
        assert!(body.contains("Dzień dobry, Józef Żółtowski,"));
        for (label, value) in &notice.details {
            assert!(body.contains(label.as_str()) && body.contains(value.as_str()));
        }
        assert!(body.contains("Zobacz w eBOK"));
        assert!(body.contains("https://ebok.mlynary.example/alarmy/17"));
        assert!(body.contains("Alarmy wodomierzy"));
        assert!(body.contains("https://ebok.mlynary.example/ustawienia/powiadomienia"));
        assert!(body.contains("Wiadomość wysłana automatycznie, prosimy na nią nie odpowiadać."));
    }
    assert!(text.contains("- Wodomierz: WM-12345678"));
    assert!(html.contains("<html lang=\"pl\">"));
    assert!(html.contains("<h1 style=\"margin:0 0 16px 0;font-size:22px;line-height:1.3;color:#1f2328;\">Wykryto wyciek wody</h1>"));
}

#[tokio::test]
async fn leak_alarm_arrives_intact_over_plain_smtp() {
    let server = TestSmtp::start(SmtpOptions::plain());
    assert_sent(&send(&server, SmtpSecurity::Plain, &email(&leak_notice())).await);
    let mail = &server.wait_for(1, WAIT).await[0];
    assert_leak_alarm(mail);
    assert!(!mail.tls);
    assert_eq!(mail.auth_login, None);
}

#[tokio::test]
async fn leak_alarm_arrives_over_starttls_with_auth_and_the_pooled_connection_is_reused() {
    let server = TestSmtp::start(SmtpOptions::new(SmtpSecurity::Starttls).with_auth());
    let mailer = SmtpMailer::from_config(&server.config(SmtpSecurity::Starttls)).unwrap();
    assert_sent(&mailer.send(&email(&leak_notice())).await);
    assert_sent(&mailer.send(&email(&leak_notice())).await);
    let mails = server.wait_for(2, WAIT).await;
    for mail in &mails {
        assert_leak_alarm(mail);
        assert!(mail.tls);
        assert_eq!(mail.auth_login.as_deref(), Some(smtp::USERNAME));
    }
}

#[tokio::test]
async fn leak_alarm_arrives_over_implicit_tls() {
    let server = TestSmtp::start(SmtpOptions::new(SmtpSecurity::Tls).with_auth());
    assert_sent(&send(&server, SmtpSecurity::Tls, &email(&leak_notice())).await);
    let mail = &server.wait_for(1, WAIT).await[0];
    assert_leak_alarm(mail);
    assert!(mail.tls);
    assert_eq!(mail.auth_login.as_deref(), Some(smtp::USERNAME));
}

#[tokio::test]
async fn document_notice_says_the_document_waits_in_the_ebok_and_attaches_nothing() {
    let server = TestSmtp::start(SmtpOptions::plain());
    assert_sent(&send(&server, SmtpSecurity::Plain, &email(&invoice_notice())).await);
    let mail = &server.wait_for(1, WAIT).await[0];

    assert_eq!(mail.subject(), "[Gmina Młynary] Nowa faktura za wodę");
    assert_eq!(mail.content_type, "multipart/alternative");
    let types: Vec<&str> = mail.parts.iter().map(|p| p.content_type.as_str()).collect();
    assert_eq!(types, ["text/plain", "text/html"]);
    assert!(mail.parts.iter().all(|p| !p.is_attachment()));
    let raw = String::from_utf8_lossy(&mail.raw).to_ascii_lowercase();
    assert!(!raw.contains("attachment") && !raw.contains("application/pdf"));

    for body in [mail.text().unwrap(), mail.html().unwrap()] {
        assert!(
            body.contains("W eBOK czeka na Ciebie nowy dokument"),
            "{body}"
        );
        assert!(body.contains("zaloguj się do eBOK"));
        assert!(body.contains("https://ebok.mlynary.example/faktury/42"));
        assert!(body.contains("Faktury i płatności"));
    }
}

#[tokio::test]
async fn notice_fields_arrive_html_escaped() {
    let server = TestSmtp::start(SmtpOptions::plain());
    let mut notice = leak_notice();
    notice.body = "Uwaga <script>alert(\"x\")</script> & koniec".into();
    notice.details = vec![("<img src=x onerror=alert(1)>".into(), "<b>gruby</b>".into())];
    assert_sent(&send(&server, SmtpSecurity::Plain, &email(&notice)).await);
    let mail = &server.wait_for(1, WAIT).await[0];

    let html = mail.html().unwrap();
    assert!(!html.contains("<script>") && !html.contains("<img") && !html.contains("<b>"));
    // askama writes numeric character references.
    assert!(
        html.contains("Uwaga &#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; koniec"),
        "{html}"
    );
    assert!(html.contains("&#60;b&#62;gruby&#60;/b&#62;"));
    // The text part is not HTML: it carries the words as they are.
    assert!(
        mail.text()
            .unwrap()
            .contains("Uwaga <script>alert(\"x\")</script> & koniec")
    );
}

#[tokio::test]
async fn a_550_for_the_recipient_means_the_address_is_gone() {
    let server = TestSmtp::start(SmtpOptions::plain().rejecting(TO));
    let outcome = send(&server, SmtpSecurity::Plain, &email(&leak_notice())).await;
    match outcome {
        Outcome::TargetGone { reason } => assert!(reason.contains("550"), "{reason}"),
        other => panic!("expected TargetGone, got {other:?}"),
    }
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn a_451_for_the_recipient_means_retry() {
    let server = TestSmtp::start(SmtpOptions::plain().deferring(TO));
    let outcome = send(&server, SmtpSecurity::Plain, &email(&leak_notice())).await;
    match outcome {
        Outcome::Retry {
            after: None,
            reason,
        } => assert!(reason.contains("451"), "{reason}"),
        other => panic!("expected Retry, got {other:?}"),
    }
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn a_server_that_is_not_listening_means_retry() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let server = TestSmtp::start(SmtpOptions::plain());
    let mut config = server.config(SmtpSecurity::Plain);
    config.port = Some(port);
    let mailer = SmtpMailer::from_config(&config).unwrap();
    let outcome = mailer.send(&email(&leak_notice())).await;
    assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
}

/// A wrong password is `Failed`, not `Retry`: the server answers 535 (a permanent reply), and
/// sending the same credentials again cannot succeed; retrying would only hammer the server
/// (and may get the account locked). Fixing the configuration is an operator's job; the
/// failures and their reason show up in the deliveries and in `push_email_sends_total`.
#[tokio::test]
async fn a_wrong_password_means_failed() {
    let server = TestSmtp::start(SmtpOptions::new(SmtpSecurity::Starttls).with_auth());
    let mut config = server.config(SmtpSecurity::Starttls);
    config.password = Some(SecretString::from("złe-hasło"));
    let mailer = SmtpMailer::from_config(&config).unwrap();
    match mailer.send(&email(&leak_notice())).await {
        Outcome::Failed { reason } => assert!(reason.contains("535"), "{reason}"),
        other => panic!("expected Failed, got {other:?}"),
    }
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn a_certificate_from_an_untrusted_ca_means_retry_and_nothing_is_sent() {
    let server = TestSmtp::start(SmtpOptions::new(SmtpSecurity::Tls));
    let mut config = server.config(SmtpSecurity::Tls);
    config.ca_file = None;
    let mailer = SmtpMailer::from_config(&config).unwrap();
    let outcome = mailer.send(&email(&leak_notice())).await;
    assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
    assert!(server.messages().is_empty());
}

/// Configuration for a server that is never reached.
fn unreached_config() -> EmailConfig {
    EmailConfig {
        enabled: true,
        host: "127.0.0.1".into(),
        port: Some(9),
        security: SmtpSecurity::Plain,
        from: smtp::FROM.into(),
        ..EmailConfig::default()
    }
}

#[tokio::test]
async fn an_invalid_recipient_address_means_failed() {
    let mailer = SmtpMailer::from_config(&unreached_config()).unwrap();
    let mut message = email(&leak_notice());
    message.to = "nie-adres".into();
    assert!(matches!(
        mailer.send(&message).await,
        Outcome::Failed { .. }
    ));
}

#[tokio::test]
async fn an_invalid_sender_stops_the_mailer_from_being_built() {
    let mut config = unreached_config();
    config.from = "eBOK <bez małpy>".into();
    assert!(SmtpMailer::from_config(&config).is_err());
}
