//! A local emulator of the KSeF 2.0 API, for the tests and the demo: the endpoints a utility's
//! sender uses (`/v2/security/public-key-certificates`, `/v2/auth/…`, `/v2/sessions/…`), with
//! the protocol's status codes, error bodies and cryptography. It decrypts with its own key
//! (`ksef/emulator/key.pem`, a test key made for it: never the Ministry's), checks the
//! encrypted and plain hashes and sizes, validates each invoice against the FA(3) schema with
//! `xmllint` (when it is installed; the test tools install it), refuses an invoice of another
//! NIP than the session's, answers a duplicate (seller NIP, `RodzajFaktury`, `P_2`) with 440
//! and the original's KSeF number, and gives the others a KSeF number (with its CRC-8) and a
//! UPO. Faults on demand: unavailable (503) or throttled (429, `Retry-After`) for the next
//! requests, invoices refused (450), and verdicts that take a few polls (150).
//!
//! Tokens it issues are opaque random strings, not JWTs: a client must not read them anyway.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::RngCore;
use rsa::RsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::client::StatusInfo;
use crate::{crypto, number};

const KEY_PEM: &str = include_str!("../emulator/key.pem");
const CERT_PEM: &str = include_str!("../emulator/cert.pem");
const UPO_NAMESPACE: &str = "http://upo.schematy.mf.gov.pl/KSeF/v4-3";

/// Faults the emulator shows on demand (counters go down as they are used).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Answer the next this many requests with 503.
    pub unavailable: u32,
    /// Answer the next this many requests with 429 and `Retry-After: 1`.
    pub throttled: u32,
    /// Refuse the next this many invoices (status 450, a semantic error).
    pub reject_invoices: u32,
    /// Each invoice's first this many status polls answer 150 (processing).
    pub processing_polls: u32,
}

/// An invoice the emulator took, as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub number: String,
    pub nip: String,
    pub kind: String,
    pub status: i32,
    pub ksef_number: Option<String>,
    /// The schema validation ran (xmllint was there).
    pub validated: bool,
}

struct Operation {
    nip: String,
    /// The verdict: 200, or a failure code.
    verdict: StatusInfo,
    polled: bool,
    token: String,
    redeemed: bool,
}

struct EmSession {
    nip: String,
    key: [u8; 32],
    iv: [u8; 16],
    open: bool,
    count: i32,
}

struct EmInvoice {
    session: String,
    ordinal: i32,
    number: Option<String>,
    hash: String,
    invoicing: DateTime<Utc>,
    status: StatusInfo,
    ksef_number: Option<String>,
    acquisition: Option<DateTime<Utc>>,
    upo: Option<String>,
    polls_left: u32,
    nip: String,
    kind: String,
    validated: bool,
}

#[derive(Default)]
struct Ledger {
    challenges: HashMap<String, i64>,
    operations: HashMap<String, Operation>,
    access: HashMap<String, (String, DateTime<Utc>)>,
    refresh: HashMap<String, String>,
    sessions: HashMap<String, EmSession>,
    invoices: HashMap<String, EmInvoice>,
    /// (seller NIP, RodzajFaktury, P_2) → (KSeF number, session).
    taken: HashMap<(String, String, String), (String, String)>,
    order: Vec<String>,
}

struct Shared {
    key: RsaPrivateKey,
    certificate: String,
    tokens: Mutex<HashMap<String, String>>,
    ledger: Mutex<Ledger>,
    faults: Mutex<Faults>,
    counter: AtomicU64,
    xmllint: bool,
}

/// A running emulator; stopped when dropped.
pub struct KsefEmulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl Drop for KsefEmulator {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl KsefEmulator {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start() -> anyhow::Result<KsefEmulator> {
        Self::start_on("127.0.0.1:0".parse().expect("an address")).await
    }

    pub async fn start_on(addr: SocketAddr) -> anyhow::Result<KsefEmulator> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let xmllint = std::process::Command::new("xmllint")
            .arg("--version")
            .output()
            .is_ok();
        if !xmllint {
            tracing::warn!("KSeF emulator: xmllint is not installed, invoices are not validated");
        }
        let certificate: String = CERT_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let shared = Arc::new(Shared {
            key: RsaPrivateKey::from_pkcs8_pem(KEY_PEM)?,
            certificate,
            tokens: Mutex::default(),
            ledger: Mutex::default(),
            faults: Mutex::default(),
            counter: AtomicU64::new(1),
            xmllint,
        });
        let app = Router::new()
            .route(
                "/v2/security/public-key-certificates",
                get(public_key_certificates),
            )
            .route("/v2/auth/challenge", post(challenge))
            .route("/v2/auth/ksef-token", post(ksef_token))
            .route("/v2/auth/token/redeem", post(redeem))
            .route("/v2/auth/token/refresh", post(refresh))
            .route("/v2/auth/{reference}", get(auth_status))
            .route("/v2/sessions/online", post(open_session))
            .route(
                "/v2/sessions/online/{reference}/invoices",
                post(send_invoice),
            )
            .route("/v2/sessions/online/{reference}/close", post(close_session))
            .route(
                "/v2/sessions/{reference}/invoices/{invoice}",
                get(invoice_status),
            )
            .route(
                "/v2/sessions/{reference}/invoices/ksef/{number}/upo",
                get(invoice_upo),
            )
            .layer(middleware::from_fn_with_state(shared.clone(), faults))
            .with_state(shared.clone());
        let stop = CancellationToken::new();
        let until = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(until.cancelled_owned())
                .await;
        });
        Ok(KsefEmulator { addr, shared, stop })
    }

    /// The API's address, as `[ksef.<slug>] base_url` takes it.
    pub fn base_url(&self) -> String {
        format!("http://{}/v2", self.addr)
    }

    /// Lets `token` sign in for the context `nip` (a token "generated in KSeF").
    pub fn accept_token(&self, token: &str, nip: &str) {
        self.shared
            .tokens
            .lock()
            .expect("tokens")
            .insert(token.to_string(), nip.to_string());
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().expect("faults") = faults;
    }

    /// Every invoice it took, in order.
    pub fn received(&self) -> Vec<Received> {
        let ledger = self.shared.ledger.lock().expect("ledger");
        ledger
            .order
            .iter()
            .filter_map(|r| ledger.invoices.get(r))
            .map(|i| Received {
                number: i.number.clone().unwrap_or_default(),
                nip: i.nip.clone(),
                kind: i.kind.clone(),
                status: i.status.code,
                ksef_number: i.ksef_number.clone(),
                validated: i.validated,
            })
            .collect()
    }
}

/// A reference number of the protocol's shape (36 characters), e.g.
/// `20261205-SO-0000000001-3F2A9C1B7E-4D`.
fn reference(shared: &Shared, kind: &str) -> String {
    let n = shared.counter.fetch_add(1, Ordering::Relaxed);
    let mut random = [0u8; 6];
    rand::rng().fill_bytes(&mut random);
    let head = format!(
        "{}-{kind}-{n:010X}-{}",
        Utc::now().format("%Y%m%d"),
        random[..5]
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>()
    );
    format!("{head}-{:02X}", number::crc8(head.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The API's error body (`ExceptionResponse`).
fn exception(status: StatusCode, code: i32, description: &str, details: &[String]) -> Response {
    (
        status,
        Json(json!({ "exception": {
            "exceptionDetailList": [{ "exceptionCode": code, "exceptionDescription": description,
                                      "details": details }],
            "referenceNumber": uuid_like(),
            "serviceCode": "00-emulator-00",
            "timestamp": Utc::now(),
        }})),
    )
        .into_response()
}

fn uuid_like() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/problem+json")],
        json!({ "title": "Unauthorized", "status": 401,
                "detail": "Brak lub nieprawidłowy token dostępu.", "timestamp": Utc::now() })
        .to_string(),
    )
        .into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_string)
}

/// The context (NIP) of a valid access token.
fn access_nip(shared: &Shared, headers: &HeaderMap) -> Option<String> {
    let token = bearer(headers)?;
    let ledger = shared.ledger.lock().expect("ledger");
    let (nip, until) = ledger.access.get(&token)?;
    (*until > Utc::now()).then(|| nip.clone())
}

async fn faults(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    {
        let mut faults = shared.faults.lock().expect("faults");
        if faults.unavailable > 0 {
            faults.unavailable -= 1;
            return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
        }
        if faults.throttled > 0 {
            faults.throttled -= 1;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "1")],
                Json(
                    json!({ "status": { "code": 429, "description": "Too Many Requests",
                    "details": ["Przekroczono limit żądań. Spróbuj ponownie po 1 sekundzie."] } }),
                ),
            )
                .into_response();
        }
    }
    next.run(request).await
}

async fn public_key_certificates(State(shared): State<Arc<Shared>>) -> Response {
    let now = Utc::now();
    let entry = |usage: &str| {
        json!({ "certificate": shared.certificate, "certificateId": "emulator",
                "publicKeyId": "emulator", "validFrom": now - Duration::days(1),
                "validTo": now + Duration::days(365), "usage": [usage] })
    };
    Json(json!([
        entry("KsefTokenEncryption"),
        entry("SymmetricKeyEncryption")
    ]))
    .into_response()
}

async fn challenge(State(shared): State<Arc<Shared>>) -> Response {
    let challenge = reference(&shared, "CR");
    let now = Utc::now();
    shared
        .ledger
        .lock()
        .expect("ledger")
        .challenges
        .insert(challenge.clone(), now.timestamp_millis());
    Json(json!({ "challenge": challenge, "timestamp": now,
                 "timestampMs": now.timestamp_millis(), "clientIp": "127.0.0.1" }))
    .into_response()
}

async fn ksef_token(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    let (Some(challenge), Some(nip), Some(encrypted)) = (
        body["challenge"].as_str(),
        body["contextIdentifier"]["value"].as_str(),
        body["encryptedToken"].as_str(),
    ) else {
        return exception(
            StatusCode::BAD_REQUEST,
            21405,
            "Błąd walidacji danych wejściowych.",
            &["challenge, contextIdentifier, encryptedToken".into()],
        );
    };
    let Some(timestamp_ms) = shared
        .ledger
        .lock()
        .expect("ledger")
        .challenges
        .remove(challenge)
    else {
        return exception(
            StatusCode::BAD_REQUEST,
            21111,
            "Nieprawidłowe wyzwanie autoryzacyjne.",
            &[],
        );
    };
    let plain = crypto::unbase64(encrypted)
        .ok()
        .and_then(|sealed| crypto::rsa_oaep_decrypt(&shared.key, &sealed).ok())
        .and_then(|plain| String::from_utf8(plain).ok());
    let known = shared.tokens.lock().expect("tokens").clone();
    let verdict = match plain.as_deref().and_then(|p| p.rsplit_once('|')) {
        Some((token, ts)) if ts == timestamp_ms.to_string() => match known.get(token) {
            Some(owner) if owner == nip => StatusInfo {
                code: 200,
                description: "Uwierzytelnianie zakończone sukcesem".into(),
                details: Vec::new(),
                extensions: None,
            },
            _ => failure(450, "Nieprawidłowy token."),
        },
        Some(_) => failure(450, "Nieprawidłowy czas tokena."),
        None => failure(450, "Nieprawidłowe wyzwanie autoryzacyjne."),
    };
    let reference = reference(&shared, "AU");
    let auth_token = new_token();
    shared.ledger.lock().expect("ledger").operations.insert(
        reference.clone(),
        Operation {
            nip: nip.to_string(),
            verdict,
            polled: false,
            token: auth_token.clone(),
            redeemed: false,
        },
    );
    (
        StatusCode::ACCEPTED,
        Json(json!({ "referenceNumber": reference,
            "authenticationToken": { "token": auth_token,
                                     "validUntil": Utc::now() + Duration::minutes(15) } })),
    )
        .into_response()
}

fn failure(code: i32, detail: &str) -> StatusInfo {
    StatusInfo {
        code,
        description: "Uwierzytelnianie zakończone niepowodzeniem".into(),
        details: vec![detail.into()],
        extensions: None,
    }
}

async fn auth_status(
    State(shared): State<Arc<Shared>>,
    Path(reference): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut ledger = shared.ledger.lock().expect("ledger");
    let Some(op) = ledger.operations.get_mut(&reference) else {
        return exception(
            StatusCode::BAD_REQUEST,
            21304,
            "Brak uwierzytelnienia.",
            &[],
        );
    };
    if bearer(&headers).as_deref() != Some(op.token.as_str()) {
        return unauthorized();
    }
    // The first look finds it in progress, as KSeF's often does.
    let status = if op.polled {
        op.verdict.clone()
    } else {
        op.polled = true;
        StatusInfo {
            code: 100,
            description: "Uwierzytelnianie w toku".into(),
            details: Vec::new(),
            extensions: None,
        }
    };
    Json(
        json!({ "startDate": Utc::now(), "authenticationMethod": "Token",
                 "authenticationMethodInfo": { "category": "Token", "code": "token.ksef",
                                               "displayName": "Token KSeF" },
                 "status": status }),
    )
    .into_response()
}

async fn redeem(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let token = bearer(&headers).unwrap_or_default();
    let mut ledger = shared.ledger.lock().expect("ledger");
    let Some(op) = ledger.operations.values_mut().find(|op| op.token == token) else {
        return unauthorized();
    };
    if op.redeemed || op.verdict.code != 200 {
        return exception(
            StatusCode::BAD_REQUEST,
            21301,
            "Brak autoryzacji.",
            &["Tokeny zostały już pobrane lub uwierzytelnianie nie powiodło się.".into()],
        );
    }
    op.redeemed = true;
    let nip = op.nip.clone();
    let (access, refresh) = (new_token(), new_token());
    let access_until = Utc::now() + Duration::minutes(15);
    ledger
        .access
        .insert(access.clone(), (nip.clone(), access_until));
    ledger.refresh.insert(refresh.clone(), nip);
    Json(
        json!({ "accessToken": { "token": access, "validUntil": access_until },
                 "refreshToken": { "token": refresh,
                                   "validUntil": Utc::now() + Duration::days(7) } }),
    )
    .into_response()
}

async fn refresh(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let token = bearer(&headers).unwrap_or_default();
    let mut ledger = shared.ledger.lock().expect("ledger");
    let Some(nip) = ledger.refresh.get(&token).cloned() else {
        return unauthorized();
    };
    let access = new_token();
    let until = Utc::now() + Duration::minutes(15);
    ledger.access.insert(access.clone(), (nip, until));
    Json(json!({ "accessToken": { "token": access, "validUntil": until } })).into_response()
}

async fn open_session(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let Some(nip) = access_nip(&shared, &headers) else {
        return unauthorized();
    };
    let form = &body["formCode"];
    if form["systemCode"] != "FA (3)" || form["schemaVersion"] != "1-0E" || form["value"] != "FA" {
        return exception(
            StatusCode::BAD_REQUEST,
            21405,
            "Błąd walidacji danych wejściowych.",
            &["formCode: obsługiwany jest FA (3) / 1-0E / FA".into()],
        );
    }
    let key = body["encryption"]["encryptedSymmetricKey"]
        .as_str()
        .and_then(|k| crypto::unbase64(k).ok())
        .and_then(|k| crypto::rsa_oaep_decrypt(&shared.key, &k).ok())
        .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok());
    let iv = body["encryption"]["initializationVector"]
        .as_str()
        .and_then(|v| crypto::unbase64(v).ok())
        .and_then(|v| <[u8; 16]>::try_from(v.as_slice()).ok());
    let (Some(key), Some(iv)) = (key, iv) else {
        return exception(
            StatusCode::BAD_REQUEST,
            21405,
            "Błąd walidacji danych wejściowych.",
            &["encryption: klucz AES-256 zaszyfrowany RSA-OAEP i 16-bajtowy wektor".into()],
        );
    };
    let reference = reference(&shared, "SO");
    shared.ledger.lock().expect("ledger").sessions.insert(
        reference.clone(),
        EmSession {
            nip,
            key,
            iv,
            open: true,
            count: 0,
        },
    );
    (
        StatusCode::CREATED,
        Json(json!({ "referenceNumber": reference,
                     "validUntil": Utc::now() + Duration::hours(12) })),
    )
        .into_response()
}

/// What the emulator reads of an invoice: seller NIP, RodzajFaktury, P_2, P_1.
#[derive(Default)]
struct Facts {
    nip: String,
    kind: String,
    number: String,
    issued: Option<NaiveDate>,
}

fn facts(xml: &str) -> Facts {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut facts = Facts::default();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => path.push(e.local_name().as_ref().to_string()),
            Ok(Event::End(_)) => {
                path.pop();
            }
            Ok(Event::Text(t)) => {
                let text = t.xml10_content().into_owned();
                let last = path.last().map(String::as_str);
                match last {
                    Some("NIP") if path.iter().any(|p| p == "Podmiot1") => facts.nip = text,
                    Some("RodzajFaktury") => facts.kind = text,
                    Some("P_2") => facts.number = text,
                    Some("P_1") => facts.issued = text.parse().ok(),
                    _ => {}
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    facts
}

/// `xmllint --schema` of the FA(3) schema over the XML: the errors, if any.
async fn schema_errors(xml: &[u8]) -> Option<Vec<String>> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("xmllint")
        .args(["--noout", "--schema", ebok_billing::ksef::FA3_SCHEMA, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    stdin.write_all(xml).await.ok()?;
    drop(stdin);
    let out = child.wait_with_output().await.ok()?;
    if out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| !l.ends_with("fails to validate"))
            .take(5)
            .map(str::to_string)
            .collect(),
    )
}

fn upo(
    session: &str,
    nip: &str,
    facts: &Facts,
    ksef_number: &str,
    hash: &str,
    at: DateTime<Utc>,
) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
         <Potwierdzenie xmlns=\"{UPO_NAMESPACE}\" wersjaSchemy=\"4-3\">\
         <NazwaPodmiotuPrzyjmujacego>Ministerstwo Finansów - emulator eBOK (nie KSeF)</NazwaPodmiotuPrzyjmujacego>\
         <NumerReferencyjnySesji>{session}</NumerReferencyjnySesji>\
         <Uwierzytelnienie><IdKontekstu><Nip>{nip}</Nip></IdKontekstu>\
         <NumerReferencyjnyTokenaKSeF>{session}</NumerReferencyjnyTokenaKSeF></Uwierzytelnienie>\
         <NazwaStrukturyLogicznej>Schemat_FA(3)_v1-0E.xsd</NazwaStrukturyLogicznej>\
         <KodFormularza>FA (3)</KodFormularza>\
         <Dokument><NipSprzedawcy>{seller}</NipSprzedawcy>\
         <NumerKSeFDokumentu>{ksef_number}</NumerKSeFDokumentu>\
         <NumerFaktury>{number}</NumerFaktury>\
         <DataWystawieniaFaktury>{issued}</DataWystawieniaFaktury>\
         <DataPrzeslaniaDokumentu>{at}</DataPrzeslaniaDokumentu>\
         <DataNadaniaNumeruKSeF>{at}</DataNadaniaNumeruKSeF>\
         <SkrotDokumentu>{hash}</SkrotDokumentu><TrybWysylki>Online</TrybWysylki></Dokument>\
         </Potwierdzenie>",
        seller = esc(&facts.nip),
        number = esc(&facts.number),
        issued = facts.issued.map(|d| d.to_string()).unwrap_or_default(),
        at = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}

async fn send_invoice(
    State(shared): State<Arc<Shared>>,
    Path(session_ref): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let Some(nip) = access_nip(&shared, &headers) else {
        return unauthorized();
    };
    let session = {
        let ledger = shared.ledger.lock().expect("ledger");
        match ledger.sessions.get(&session_ref) {
            Some(s) if s.nip == nip && s.open => Some((s.key, s.iv)),
            Some(s) if s.nip == nip => None,
            _ => {
                return exception(StatusCode::BAD_REQUEST, 21173, "Brak sesji.", &[]);
            }
        }
    };
    let Some((key, iv)) = session else {
        return exception(
            StatusCode::BAD_REQUEST,
            21180,
            "Status sesji nie pozwala na wykonanie operacji.",
            &["Sesja jest zamknięta.".into()],
        );
    };
    let Some(encrypted) = body["encryptedInvoiceContent"]
        .as_str()
        .and_then(|c| crypto::unbase64(c).ok())
    else {
        return exception(
            StatusCode::BAD_REQUEST,
            21405,
            "Błąd walidacji danych wejściowych.",
            &["encryptedInvoiceContent".into()],
        );
    };
    if body["encryptedInvoiceSize"].as_u64() != Some(encrypted.len() as u64) {
        return exception(
            StatusCode::BAD_REQUEST,
            21402,
            "Nieprawidłowy rozmiar pliku.",
            &[],
        );
    }
    if body["encryptedInvoiceHash"].as_str() != Some(crypto::sha256_base64(&encrypted).as_str()) {
        return exception(
            StatusCode::BAD_REQUEST,
            21403,
            "Nieprawidłowy skrót pliku.",
            &[],
        );
    }
    let invoice_ref = reference(&shared, "EE");
    let now = Utc::now();
    let polls = shared.faults.lock().expect("faults").processing_polls;
    let mut record = EmInvoice {
        session: session_ref.clone(),
        ordinal: 0,
        number: None,
        hash: body["invoiceHash"].as_str().unwrap_or_default().to_string(),
        invoicing: now,
        status: StatusInfo {
            code: 200,
            description: "Sukces".into(),
            details: Vec::new(),
            extensions: None,
        },
        ksef_number: None,
        acquisition: None,
        upo: None,
        polls_left: polls,
        nip: String::new(),
        kind: String::new(),
        validated: false,
    };
    let refuse = |code: i32, description: &str, details: Vec<String>| StatusInfo {
        code,
        description: description.into(),
        details,
        extensions: None,
    };
    match crypto::aes_decrypt(&key, &iv, &encrypted) {
        Err(_) => record.status = refuse(435, "Błąd odszyfrowania pliku", Vec::new()),
        Ok(xml) => {
            let hash = crypto::sha256_base64(&xml);
            if body["invoiceSize"].as_u64() != Some(xml.len() as u64)
                || body["invoiceHash"].as_str() != Some(hash.as_str())
            {
                return exception(
                    StatusCode::BAD_REQUEST,
                    21403,
                    "Nieprawidłowy skrót pliku.",
                    &["invoiceHash lub invoiceSize nie zgadza się z odszyfrowaną fakturą".into()],
                );
            }
            let text = String::from_utf8_lossy(&xml).into_owned();
            let f = facts(&text);
            record.number = Some(f.number.clone());
            record.nip = f.nip.clone();
            record.kind = f.kind.clone();
            let schema = if shared.xmllint {
                record.validated = true;
                schema_errors(&xml).await
            } else {
                None
            };
            let reject = {
                let mut faults = shared.faults.lock().expect("faults");
                let reject = faults.reject_invoices > 0;
                faults.reject_invoices = faults.reject_invoices.saturating_sub(1);
                reject
            };
            let key = (f.nip.clone(), f.kind.clone(), f.number.clone());
            let mut ledger = shared.ledger.lock().expect("ledger");
            if xml.starts_with(&[0xEF, 0xBB, 0xBF]) {
                record.status = refuse(
                    430,
                    "Błąd weryfikacji pliku faktury",
                    vec!["Plik zawiera znacznik BOM.".into()],
                );
            } else if let Some(errors) = schema {
                record.status = refuse(430, "Błąd weryfikacji pliku faktury", errors);
            } else if f.nip != nip {
                record.status = refuse(
                    410,
                    "Nieprawidłowy zakres uprawnień",
                    vec![format!(
                        "Sprzedawca {} nie jest kontekstem sesji {nip}.",
                        f.nip
                    )],
                );
            } else if reject {
                record.status = refuse(
                    450,
                    "Błąd weryfikacji semantyki dokumentu faktury",
                    vec!["Odrzucona na żądanie testu (emulator).".into()],
                );
            } else if let Some((original, original_session)) = ledger.taken.get(&key) {
                record.status = StatusInfo {
                    code: 440,
                    description: "Duplikat faktury".into(),
                    details: vec![format!(
                        "Duplikat faktury. Faktura o numerze KSeF: {original} została już \
                         prawidłowo przesłana do systemu w sesji: {original_session}"
                    )],
                    extensions: Some(
                        json!({ "originalSessionReferenceNumber": original_session,
                                "originalKsefNumber": original })
                        .as_object()
                        .cloned()
                        .expect("an object"),
                    ),
                };
            } else {
                let mut random = [0u8; 8];
                rand::rng().fill_bytes(&mut random);
                let ksef_number = number::make(&nip, now.date_naive(), u64::from_be_bytes(random));
                record.upo = Some(upo(&session_ref, &nip, &f, &ksef_number, &hash, now));
                record.acquisition = Some(now);
                record.ksef_number = Some(ksef_number.clone());
                ledger.taken.insert(key, (ksef_number, session_ref.clone()));
            }
            drop(ledger);
        }
    }
    let mut ledger = shared.ledger.lock().expect("ledger");
    if let Some(s) = ledger.sessions.get_mut(&session_ref) {
        s.count += 1;
        record.ordinal = s.count;
    }
    ledger.order.push(invoice_ref.clone());
    ledger.invoices.insert(invoice_ref.clone(), record);
    (
        StatusCode::ACCEPTED,
        Json(json!({ "referenceNumber": invoice_ref })),
    )
        .into_response()
}

async fn close_session(
    State(shared): State<Arc<Shared>>,
    Path(reference): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(nip) = access_nip(&shared, &headers) else {
        return unauthorized();
    };
    let mut ledger = shared.ledger.lock().expect("ledger");
    match ledger.sessions.get_mut(&reference) {
        Some(s) if s.nip == nip && s.open => {
            s.open = false;
            StatusCode::NO_CONTENT.into_response()
        }
        Some(s) if s.nip == nip => exception(
            StatusCode::BAD_REQUEST,
            21180,
            "Status sesji nie pozwala na wykonanie operacji.",
            &[],
        ),
        _ => exception(StatusCode::BAD_REQUEST, 21173, "Brak sesji.", &[]),
    }
}

async fn invoice_status(
    State(shared): State<Arc<Shared>>,
    Path((reference, invoice)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(nip) = access_nip(&shared, &headers) else {
        return unauthorized();
    };
    let mut ledger = shared.ledger.lock().expect("ledger");
    let owned = ledger
        .sessions
        .get(&reference)
        .is_some_and(|s| s.nip == nip);
    let Some(i) = ledger
        .invoices
        .get_mut(&invoice)
        .filter(|i| owned && i.session == reference)
    else {
        return exception(StatusCode::BAD_REQUEST, 21173, "Brak faktury w sesji.", &[]);
    };
    let processing = i.polls_left > 0;
    i.polls_left = i.polls_left.saturating_sub(1);
    let status = if processing {
        StatusInfo {
            code: 150,
            description: "Trwa przetwarzanie".into(),
            details: Vec::new(),
            extensions: None,
        }
    } else {
        i.status.clone()
    };
    let done = !processing && status.code == 200;
    Json(json!({
        "ordinalNumber": i.ordinal,
        "invoiceNumber": i.number,
        "ksefNumber": if done { i.ksef_number.clone() } else { None },
        "referenceNumber": invoice,
        "invoiceHash": i.hash,
        "acquisitionDate": if done { i.acquisition } else { None },
        "invoicingDate": i.invoicing,
        "invoicingMode": "Online",
        "status": status,
    }))
    .into_response()
}

async fn invoice_upo(
    State(shared): State<Arc<Shared>>,
    Path((reference, ksef_number)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(nip) = access_nip(&shared, &headers) else {
        return unauthorized();
    };
    let ledger = shared.ledger.lock().expect("ledger");
    let found = ledger
        .invoices
        .values()
        .find(|i| i.session == reference && i.ksef_number.as_deref() == Some(ksef_number.as_str()));
    match found {
        Some(i) if i.nip == nip && i.upo.is_some() => {
            let upo = i.upo.clone().expect("checked");
            let hash = crypto::sha256_base64(upo.as_bytes());
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "application/xml".to_string()),
                    (header::HeaderName::from_static("x-ms-meta-hash"), hash),
                ],
                upo,
            )
                .into_response()
        }
        _ => exception(StatusCode::BAD_REQUEST, 21178, "Nie znaleziono UPO.", &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_facts_of_an_invoice() {
        let xml = "<Faktura xmlns=\"x\"><Podmiot1><DaneIdentyfikacyjne><NIP>5260250274</NIP>\
                   </DaneIdentyfikacyjne></Podmiot1><Podmiot2><DaneIdentyfikacyjne><NIP>1111111111</NIP>\
                   </DaneIdentyfikacyjne></Podmiot2><Fa><P_1>2026-12-05</P_1><P_2>FV/2026/12/000001</P_2>\
                   <RodzajFaktury>VAT</RodzajFaktury></Fa></Faktura>";
        let f = facts(xml);
        assert_eq!(
            (f.nip.as_str(), f.kind.as_str(), f.number.as_str()),
            ("5260250274", "VAT", "FV/2026/12/000001")
        );
        assert_eq!(f.issued, NaiveDate::from_ymd_opt(2026, 12, 5));
    }
}
