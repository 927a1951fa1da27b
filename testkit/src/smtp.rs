//! A real SMTP server for tests of e-mail delivery: aiosmtpd (Debian's `python3-aiosmtpd`, run by
//! Debian's `/usr/bin/python3`) with the small script `testkit/smtp/server.py`, one process per
//! [`TestSmtp`], on a free loopback port, killed when the value is dropped.
//!
//! It can speak plain SMTP, STARTTLS (required) or implicit TLS with a certificate from a
//! throwaway CA made for each server ([`TestSmtp::ca_file`]), require AUTH PLAIN/LOGIN with
//! [`USERNAME`]/[`PASSWORD`], and answer 550 or 451 for chosen recipients. Every accepted
//! message is kept as a file; [`TestSmtp::messages`] parses them (MIME, quoted-printable and
//! base64 bodies, RFC 2047 headers decoded) so tests can assert Polish text verbatim.
//!
//! `scripts/test.sh` installs the package (through `scripts/test-tools.sh`).
//! When it is missing, [`TestSmtp::start`] panics saying so: e-mail tests never pass silently.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use ebok_common::config::{EmailConfig, SmtpSecurity};
use secrecy::SecretString;

/// The user name the server accepts when [`SmtpOptions::require_auth`] is set.
pub const USERNAME: &str = "ebok-test";
/// The password the server accepts when [`SmtpOptions::require_auth`] is set.
pub const PASSWORD: &str = "sekret-testowy";
/// The sender [`TestSmtp::config`] puts in the configuration.
pub const FROM: &str = "eBOK Gmina Młynary <ebok@mlynary.example>";

const PYTHON: &str = "/usr/bin/python3";
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/smtp/server.py");
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How a [`TestSmtp`] behaves.
#[derive(Debug, Clone)]
pub struct SmtpOptions {
    /// `Plain`: no TLS; `Starttls`: STARTTLS offered and required before MAIL; `Tls`: TLS from
    /// the first byte.
    pub security: SmtpSecurity,
    /// Require AUTH (PLAIN or LOGIN) with [`USERNAME`] and [`PASSWORD`].
    pub require_auth: bool,
    /// Answer `550 5.1.1` to `RCPT TO` this address.
    pub reject_recipient: Option<String>,
    /// Answer `451 4.3.0` to `RCPT TO` this address.
    pub defer_recipient: Option<String>,
}

impl SmtpOptions {
    pub fn new(security: SmtpSecurity) -> SmtpOptions {
        SmtpOptions {
            security,
            require_auth: false,
            reject_recipient: None,
            defer_recipient: None,
        }
    }

    pub fn plain() -> SmtpOptions {
        SmtpOptions::new(SmtpSecurity::Plain)
    }

    pub fn with_auth(mut self) -> SmtpOptions {
        self.require_auth = true;
        self
    }

    pub fn rejecting(mut self, address: &str) -> SmtpOptions {
        self.reject_recipient = Some(address.to_string());
        self
    }

    pub fn deferring(mut self, address: &str) -> SmtpOptions {
        self.defer_recipient = Some(address.to_string());
        self
    }
}

/// A running test SMTP server. Dropping it stops the server and deletes what it received.
pub struct TestSmtp {
    child: Child,
    /// Held open: the server exits when it closes, even if this process dies without dropping.
    _stdin: ChildStdin,
    port: u16,
    options: SmtpOptions,
    dir: tempfile::TempDir,
}

impl TestSmtp {
    /// Starts a server and returns once it listens. Panics (with the server's log) when it
    /// cannot start, e.g. when `python3-aiosmtpd` is not installed.
    pub fn start(options: SmtpOptions) -> TestSmtp {
        let python = Path::new(PYTHON);
        if !python.is_file() {
            panic!(
                "{PYTHON} not found: the test SMTP server needs Debian's python3 with \
                 python3-aiosmtpd (run the tests with scripts/test.sh, or \
                 `sudo apt-get install python3-aiosmtpd`)"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("ebok-test-smtp-")
            .tempdir()
            .expect("creating a temporary folder for the test SMTP server");
        let maildir = dir.path().join("mail");
        std::fs::create_dir(&maildir).expect("creating the maildir");
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).expect("creating the server log");

        let mut command = Command::new(python);
        command
            .arg(SCRIPT)
            .arg("--maildir")
            .arg(&maildir)
            .arg("--tls-mode")
            .arg(match options.security {
                SmtpSecurity::Plain => "none",
                SmtpSecurity::Starttls => "starttls",
                SmtpSecurity::Tls => "implicit",
            });
        if options.security != SmtpSecurity::Plain {
            let (cert, key) = write_test_pki(dir.path());
            command.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        if options.require_auth {
            command.arg("--auth").arg(format!("{USERNAME}:{PASSWORD}"));
        }
        if let Some(address) = &options.reject_recipient {
            command.arg("--reject").arg(address);
        }
        if let Some(address) = &options.defer_recipient {
            command.arg("--defer").arg(address);
        }
        let mut child = command
            // Debian's python3 with Debian's modules only, whatever pyenv or a venv says.
            .env_remove("PYTHONPATH")
            .env_remove("PYTHONHOME")
            .env("PYTHONNOUSERSITE", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {PYTHON} {SCRIPT}: {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");

        // The script prints "PORT <n>" once its socket listens (it binds port 0 itself, so no
        // other process can take the port between choosing and binding it).
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let port = match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => line
                .trim()
                .strip_prefix("PORT ")
                .and_then(|p| p.parse::<u16>().ok()),
            Err(_) => None,
        };
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if log.contains("No module named 'aiosmtpd'") {
                panic!(
                    "python3-aiosmtpd is not installed: the e-mail tests need it. Run them with \
                     scripts/test.sh (its scripts/test-tools.sh installs it), or \
                     `sudo apt-get install python3-aiosmtpd`.\n{log}"
                );
            }
            panic!("the test SMTP server did not start within {START_TIMEOUT:?}; its log:\n{log}");
        };
        TestSmtp {
            child,
            _stdin: stdin,
            port,
            options,
            dir,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The PEM file of the CA that signed the server's certificate (exists unless the server
    /// is plain).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// E-mail configuration for this server with the given client-side security, trusting the
    /// test CA, with the right credentials when the server requires them.
    pub fn config(&self, security: SmtpSecurity) -> EmailConfig {
        let auth = self.options.require_auth;
        EmailConfig {
            enabled: true,
            host: "127.0.0.1".into(),
            port: Some(self.port),
            security,
            username: auth.then(|| USERNAME.to_string()),
            password: auth.then(|| SecretString::from(PASSWORD)),
            from: FROM.into(),
            ca_file: (self.options.security != SmtpSecurity::Plain).then(|| self.ca_file()),
            timeout_ms: 5_000,
        }
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let maildir = self.dir.path().join("mail");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&maildir)
            .expect("reading the maildir")
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names.iter().map(|path| ReceivedMail::read(path)).collect()
    }

    /// Waits until at least `n` messages have arrived and returns all of them; panics after
    /// `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if Instant::now() >= deadline {
                panic!(
                    "expected {n} message(s) at the test SMTP server within {timeout:?}, got {}",
                    messages.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestSmtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes a CA and a server certificate for `localhost` and `127.0.0.1` signed by it; writes
/// `ca.pem`, `server.pem` and `server.key` into `dir`. Returns the certificate and key paths.
fn write_test_pki(dir: &Path) -> (PathBuf, PathBuf) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };

    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "eBOK test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".into()])
        .expect("server parameters");
    params
        .distinguished_name
        .push(DnType::CommonName, "smtp.test");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params
        .signed_by(&server_key, &issuer)
        .expect("server certificate");

    let cert_path = dir.join("server.pem");
    let key_path = dir.join("server.key");
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).expect("writing ca.pem");
    std::fs::write(&cert_path, cert.pem()).expect("writing server.pem");
    std::fs::write(&key_path, server_key.serialize_pem()).expect("writing server.key");
    (cert_path, key_path)
}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`).
    pub mail_from: String,
    /// The envelope recipients the server accepted (`RCPT TO`).
    pub rcpt_to: Vec<String>,
    /// The user the client authenticated as, if it did.
    pub auth_login: Option<String>,
    /// Whether the message came over TLS (STARTTLS or implicit).
    pub tls: bool,
    /// The message's bytes as received.
    pub raw: Vec<u8>,
    /// Top-level headers in order, values decoded (RFC 2047).
    pub headers: Vec<(String, String)>,
    /// The top-level MIME type, e.g. `multipart/alternative`.
    pub content_type: String,
    /// Every part that is not itself multipart (the message itself when it is not), in order.
    pub parts: Vec<MailPart>,
}

/// One leaf MIME part, its body decoded (transfer encoding and charset).
#[derive(Debug, Clone)]
pub struct MailPart {
    /// e.g. `text/plain`.
    pub content_type: String,
    pub charset: String,
    /// The raw `Content-Disposition` header, if the part has one.
    pub content_disposition: Option<String>,
    pub body: String,
}

impl MailPart {
    pub fn is_attachment(&self) -> bool {
        self.content_disposition.as_deref().is_some_and(|d| {
            d.trim_start()
                .to_ascii_lowercase()
                .starts_with("attachment")
        })
    }
}

impl ReceivedMail {
    fn read(eml: &Path) -> ReceivedMail {
        let raw = std::fs::read(eml).unwrap_or_else(|e| panic!("reading {}: {e}", eml.display()));
        let meta_path = eml.with_extension("json");
        let meta: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&meta_path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", meta_path.display())),
        )
        .expect("envelope JSON");
        let parsed = mailparse::parse_mail(&raw)
            .unwrap_or_else(|e| panic!("parsing {} as MIME: {e}", eml.display()));
        let headers = parsed
            .headers
            .iter()
            .map(|h| (h.get_key(), h.get_value()))
            .collect();
        let parts = parsed
            .parts()
            .filter(|part| {
                part.subparts.is_empty() && !part.ctype.mimetype.starts_with("multipart/")
            })
            .map(|part| MailPart {
                content_type: part.ctype.mimetype.clone(),
                charset: part.ctype.charset.clone(),
                content_disposition: part
                    .headers
                    .iter()
                    .find(|h| h.get_key().eq_ignore_ascii_case("Content-Disposition"))
                    .map(|h| h.get_value()),
                body: part.get_body().expect("decoding a MIME part"),
            })
            .collect();
        ReceivedMail {
            mail_from: meta["mail_from"].as_str().unwrap_or_default().to_string(),
            rcpt_to: meta["rcpt_tos"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            auth_login: meta["auth_login"].as_str().map(str::to_string),
            tls: meta["tls"].as_bool().unwrap_or(false),
            content_type: parsed.ctype.mimetype.clone(),
            headers,
            parts,
            raw,
        }
    }

    /// The first header of that name (case-insensitive), decoded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The decoded `Subject`, empty when there is none.
    pub fn subject(&self) -> &str {
        self.header("Subject").unwrap_or_default()
    }

    /// The body of the first `text/plain` part.
    pub fn text(&self) -> Option<&str> {
        self.part("text/plain")
    }

    /// The body of the first `text/html` part.
    pub fn html(&self) -> Option<&str> {
        self.part("text/html")
    }

    fn part(&self, content_type: &str) -> Option<&str> {
        self.parts
            .iter()
            .find(|p| p.content_type.eq_ignore_ascii_case(content_type))
            .map(|p| p.body.as_str())
    }
}
