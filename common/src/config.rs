//! Typed configuration in layers: built-in defaults, then a TOML file, then `EBOK__…` environment
//! variables (`EBOK__DATABASE__URL` sets `database.url`). The result is passed explicitly to every
//! part; nothing reads configuration from globals.
//!
//! Secrets (database URL, MQTT password) are `secrecy` values: `Debug` prints them redacted, and
//! [`DatabaseConfig::redacted_url`] gives a printable form without the password.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The environment variable prefix; `__` separates nesting levels.
pub const ENV_PREFIX: &str = "EBOK__";
/// The configuration file read when no other is named and it exists.
pub const DEFAULT_FILE: &str = "ebok.toml";

/// Everything the `ebok` binary can be told.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub database: DatabaseConfig,
    pub mqtt: MqttConfig,
    pub api: ApiConfig,
    pub metrics: MetricsConfig,
    pub stack: StackConfig,
    pub log: LogConfig,
    pub ingest: IngestConfig,
    pub notify: NotifyConfig,
    /// Online payments, per utility by its slug: `[payments.mlynary]` with
    /// `provider = "przelewy24"` or `"stripe"` (`EBOK__PAYMENTS__MLYNARY__PROVIDER`). A utility
    /// without an entry takes bank transfers only.
    pub payments: std::collections::BTreeMap<String, PaymentProviderConfig>,
    /// Sending invoices to KSeF 2.0, per utility by its slug: `[ksef.mlynary]` with the KSeF
    /// token (`EBOK__KSEF__MLYNARY__TOKEN`). Which invoices go and to which environment is the
    /// utility's setting in the back office; a utility without an entry sends nothing.
    pub ksef: std::collections::BTreeMap<String, KsefConfig>,
    pub documents: DocumentsConfig,
    pub balance: BalanceConfig,
}

/// The water balance of network zones (docs/balance.md): how often it is brought up to date and
/// when a zone's night flow is a burst.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BalanceConfig {
    /// How often the days, nights and alarms are computed again.
    pub every_minutes: u64,
    /// How many closed days back each round computes again (late readings change them).
    pub recompute_days: u32,
    /// A night counts against a zone's baseline when its flow is this many per cent above
    /// it...
    pub night_margin_percent: u32,
    /// ...and at least this many litres per hour above it.
    pub night_min_excess_litres_per_hour: u32,
    /// Nights in a row above the threshold that raise the alarm.
    pub night_alarm_nights: u32,
}

impl Default for BalanceConfig {
    fn default() -> Self {
        BalanceConfig {
            every_minutes: 60,
            recompute_days: 7,
            night_margin_percent: 30,
            night_min_excess_litres_per_hour: 500,
            night_alarm_nights: 2,
        }
    }
}

/// Where the documents of cases (attachments, letters) keep their bytes: in PostgreSQL unless
/// `dir` names a directory (`EBOK__DOCUMENTS__DIR`), for utilities whose documents outgrow the
/// database. Either way their hashes and who may read them stay in PostgreSQL.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DocumentsConfig {
    pub dir: Option<std::path::PathBuf>,
}

/// Where PostgreSQL is. Without a URL the commands that manage the local stack start a private
/// cluster (see `ebok stack`); the others connect to a running local stack.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://user:password@host:port/database`; `EBOK__DATABASE__URL`.
    pub url: Option<SecretString>,
    pub max_connections: u32,
    /// Seconds to wait for a connection before giving up with an error.
    pub connect_timeout_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 16,
            connect_timeout_secs: 5,
        }
    }
}

impl DatabaseConfig {
    /// The setting's name, as an operator would type it, for error messages.
    pub const SETTING: &'static str = "database.url (EBOK__DATABASE__URL)";

    /// The URL with its password replaced by `***`, safe to print and log.
    pub fn redacted_url(&self) -> Option<String> {
        self.url.as_ref().map(|u| redact_url(u.expose_secret()))
    }
}

/// Where the MQTT broker is. Without a URL the local stack's Mosquitto is used.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// `mqtt://host:port` (or `mqtts://`); `EBOK__MQTT__URL`.
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<SecretString>,
}

impl MqttConfig {
    pub const SETTING: &'static str = "mqtt.url (EBOK__MQTT__URL)";
}

/// The HTTP API and portal.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    /// The address residents use, for links in emails and the demo banner; defaults to
    /// `http://<listen>`.
    pub public_url: Option<String>,
    /// Where payment providers post their notifications (`{callback_url}/hooks/…`); defaults
    /// to the public URL. Set it when providers reach the API at another address than
    /// residents do.
    pub callback_url: Option<String>,
    /// Reverse proxies (CIDRs, e.g. `["10.0.0.0/8"]`) whose forwarding header names the real
    /// client. From any other peer the header is ignored: a client could write it itself.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The one header the trusted proxies write: `x-forwarded-for` (nginx, HAProxy, Traefik,
    /// Caddy, most load balancers) or `forwarded` (RFC 7239). The other one is never read: a
    /// proxy passes through what the client sent in a header it does not write itself.
    pub forwarded_header: ForwardedHeader,
    /// The file holding the keys that sign the app's access tokens (see `ebok token-keys`);
    /// default `<stack.data_dir>/access-token-keys`. Created with one key, readable by its
    /// owner only, when missing. Every API process of an installation needs the same file.
    pub token_key_file: Option<PathBuf>,
    /// An app session ends this many days after its login, however often it is refreshed.
    pub app_session_max_days: u32,
    /// Password hashes (argon2id, tens of milliseconds of CPU each) computed at once; more wait
    /// up to `hashing_wait_ms` for a turn, then get 503 with `Retry-After`. 0: one per CPU.
    pub hashing_concurrency: usize,
    pub hashing_wait_ms: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            callback_url: None,
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::XForwardedFor,
            token_key_file: None,
            app_session_max_days: 180,
            hashing_concurrency: 0,
            hashing_wait_ms: 2_000,
        }
    }
}

/// Which header a trusted reverse proxy writes the client's address into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    XForwardedFor,
    Forwarded,
}

impl ApiConfig {
    /// The key file to use: the configured one, or the default in the data folder.
    pub fn token_key_file(&self, stack: &StackConfig) -> PathBuf {
        self.token_key_file
            .clone()
            .unwrap_or_else(|| stack.data_dir.join("access-token-keys"))
    }
}

/// Prometheus metrics, on their own port so they are never exposed with the public API.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    pub listen: SocketAddr,
    /// `false` (`EBOK__METRICS__ENABLED=false`) runs without the exporter.
    pub enabled: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            enabled: true,
        }
    }
}

/// The private local stack (PostgreSQL and Mosquitto) that `ebok` starts when no external
/// service is configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StackConfig {
    /// Data folder for the cluster, the broker and their logs; relative paths are relative to
    /// the working directory. Git-ignored.
    pub data_dir: PathBuf,
    /// Install `postgresql` and `mosquitto` from Debian's packages when they are missing.
    pub install_packages: bool,
    /// Whether the cluster preloads TimescaleDB, so that the readings become a hypertable with
    /// compression and retention policies (`EBOK__STACK__TIMESCALEDB`; see docs/scaling.md).
    pub timescaledb: TimescaleMode,
}

impl Default for StackConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(".ebok"),
            install_packages: true,
            timescaledb: TimescaleMode::Auto,
        }
    }
}

/// `stack.timescaledb`: `auto` uses TimescaleDB when the server has the extension installed,
/// `on` requires it (the stack refuses to start without it), `off` never loads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimescaleMode {
    #[default]
    Auto,
    On,
    Off,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter, e.g. `info,ebok_ingest=debug`. `RUST_LOG` overrides it.
    pub filter: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info,sqlx=warn".into(),
            format: LogFormat::Text,
        }
    }
}

/// Meter-reading ingest: MQTT subscriptions, validation limits, the batch writer, meter alarms
/// and the Modbus TCP devices to poll (see docs/ingest.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Subscribe to MQTT at all (Modbus polling runs regardless).
    pub mqtt_enabled: bool,
    /// MQTT client id; the persistent session is bound to it, so keep it stable per process.
    pub client_id: String,
    /// Topic filters carrying the project's own JSON; the level of the first `+` names the
    /// utility (`ebok/+/readings`), and a gateway may publish only where it names its own.
    pub topics: Vec<String>,
    /// Topic filters carrying wmbusmeters JSON; the utility as in `topics`
    /// (`wmbusmeters/+/#`: `wmbusmeters/<utility>/<meter name>`).
    pub wmbusmeters_topics: Vec<String>,
    /// Shared subscription group: several ingest processes with the same group split the stream.
    pub shared_group: Option<String>,
    /// How long the broker keeps the session (and queues messages) while ingest is away.
    pub session_expiry_secs: u32,
    pub max_payload_bytes: usize,
    pub max_batch_readings: usize,
    /// Readings measured further in the future than this are rejected.
    pub future_tolerance_secs: u32,
    /// Readings per database batch, and the longest a reading waits for its batch to fill.
    pub batch_size: usize,
    pub batch_delay_ms: u64,
    /// Parallel writers (readings are routed by meter, so each meter's order is kept).
    pub writers: usize,
    /// How often each writer moves `meter_latest_readings` forward: every meter's newest reading
    /// since the last flush in one upsert. Longer coalesces more under load; "current reading"
    /// lags at most this much.
    pub latest_flush_ms: u64,
    /// Readings waiting for the writers, at most; past it the sources wait (back-pressure).
    pub queue_capacity: usize,
    /// Raise "no data" for a meter silent this many days.
    pub no_data_days: u32,
    /// Raise "continuous flow" when interval readings show flow without a pause this long.
    pub continuous_flow_hours: u32,
    /// Stored rejections older than this are pruned.
    pub rejection_retention_days: u32,
    /// Quarantined readings (held or released) older than this are pruned.
    pub quarantine_retention_days: u32,
    /// Raw readings measured longer ago than this are dropped, a whole month partition or
    /// TimescaleDB chunk at a time; the daily register values (what billing and history read)
    /// are kept. Unset keeps raw readings for ever. At least 90 (see docs/scaling.md).
    pub raw_retention_days: Option<u32>,
    /// On TimescaleDB, chunks of readings older than this are compressed; 0 never compresses.
    /// Plain PostgreSQL ignores it.
    pub compress_after_days: u32,
    pub modbus: Vec<ModbusDevice>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            mqtt_enabled: true,
            client_id: "ebok-ingest".into(),
            topics: vec!["ebok/+/readings".into()],
            wmbusmeters_topics: vec!["wmbusmeters/+/#".into()],
            shared_group: None,
            session_expiry_secs: 7 * 24 * 3600,
            max_payload_bytes: 4 << 20,
            max_batch_readings: 10_000,
            future_tolerance_secs: 600,
            batch_size: 5_000,
            batch_delay_ms: 50,
            writers: 2,
            latest_flush_ms: 2_000,
            queue_capacity: 100_000,
            no_data_days: 3,
            continuous_flow_hours: 24,
            rejection_retention_days: 90,
            quarantine_retention_days: 30,
            raw_retention_days: None,
            compress_after_days: 30,
            modbus: Vec::new(),
        }
    }
}

/// The shortest `ingest.raw_retention_days`: raw readings of the last billing quarter stay.
pub const MIN_RAW_RETENTION_DAYS: u32 = 90;

/// A Modbus TCP device with water meters behind it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModbusDevice {
    pub name: String,
    /// `host:port`.
    pub address: String,
    #[serde(default = "default_unit_id")]
    pub unit_id: u8,
    /// The utility (slug) owning the meters.
    pub utility: String,
    #[serde(default = "default_poll_interval")]
    pub poll_interval_secs: u64,
    #[serde(default = "default_modbus_timeout")]
    pub timeout_ms: u64,
    #[serde(default = "default_modbus_retries")]
    pub retries: u32,
    pub meters: Vec<ModbusMeter>,
}

fn default_unit_id() -> u8 {
    1
}
fn default_poll_interval() -> u64 {
    900
}
fn default_modbus_timeout() -> u64 {
    2000
}
fn default_modbus_retries() -> u32 {
    2
}

/// Where one meter's register lives on a Modbus device.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModbusMeter {
    pub serial: String,
    /// Address of the first holding register of the value.
    pub register: u16,
    #[serde(default)]
    pub kind: RegisterKind,
    #[serde(default)]
    pub word_order: WordOrder,
    /// Litres per register unit, as an exact decimal: "1", "10", "0.1", "1000".
    #[serde(default = "default_scale")]
    pub scale: String,
    /// A 16-bit status register (bit 0 leak, 1 burst, 2 backflow, 3 tamper, 4 dry,
    /// 5 low battery, 6 error).
    pub status_register: Option<u16>,
}

fn default_scale() -> String {
    "1".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegisterKind {
    U16,
    #[default]
    U32,
    U64,
}

impl RegisterKind {
    /// How many 16-bit registers the value spans.
    pub fn words(self) -> u16 {
        match self {
            RegisterKind::U16 => 1,
            RegisterKind::U32 => 2,
            RegisterKind::U64 => 4,
        }
    }
}

/// Which 16-bit word of a multi-register value comes first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WordOrder {
    /// High word first (Modbus convention).
    #[default]
    Big,
    Little,
}

/// Notification delivery (mobile-push): the outbox dispatcher, Firebase Cloud Messaging for the
/// app and e-mail over SMTP.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    pub dispatcher: DispatcherConfig,
    pub fcm: FcmConfig,
    pub email: EmailConfig,
}

/// How the outbox dispatcher claims, sends and retries.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DispatcherConfig {
    /// Run the dispatcher loop in `ebok serve` / `ebok demo`.
    pub enabled: bool,
    /// Parallel dispatch loops in this process (they share the work through row locks).
    pub workers: usize,
    /// Deliveries claimed per step.
    pub batch: usize,
    /// Sends in flight at once.
    pub concurrency: usize,
    /// Recipients an audience event (an outage notice) expands to per step.
    pub expand_batch: usize,
    /// Attempts per delivery before it is dead-lettered.
    pub max_attempts: u32,
    /// A claimed delivery not settled within this is claimed again (the worker died).
    pub lease_secs: u64,
    /// Idle wait between steps when nothing is due.
    pub poll_ms: u64,
    /// Exponential back-off with full jitter: base, doubled per attempt, capped.
    pub backoff_base_ms: u64,
    pub backoff_max_secs: u64,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            workers: 2,
            batch: 1_000,
            concurrency: 128,
            expand_batch: 5_000,
            max_attempts: 8,
            lease_secs: 60,
            poll_ms: 250,
            backoff_base_ms: 2_000,
            backoff_max_secs: 3_600,
        }
    }
}

/// Firebase Cloud Messaging HTTP v1.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FcmConfig {
    /// Send push notifications at all; without it push deliveries are not created.
    pub enabled: bool,
    /// The service-account key (JSON, from the Firebase console: project settings → service
    /// accounts). Its `project_id`, `client_email`, `private_key` and `token_uri` are used.
    pub credentials_file: Option<PathBuf>,
    /// Overrides the key's `token_uri` (a test or proxy endpoint).
    pub token_url: Option<String>,
    /// Where `/v1/projects/{project}/messages:send` lives.
    pub send_base_url: String,
    pub timeout_ms: u64,
}

impl Default for FcmConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            credentials_file: None,
            token_url: None,
            send_base_url: "https://fcm.googleapis.com".into(),
            timeout_ms: 10_000,
        }
    }
}

/// E-mail over SMTP.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    /// Send e-mail at all; without it e-mail deliveries are not created.
    pub enabled: bool,
    pub host: String,
    /// Defaults by security: 25 plain, 587 STARTTLS, 465 TLS.
    pub port: Option<u16>,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The sender, e.g. `"eBOK Wodociągi <ebok@wodociagi.example>"`.
    pub from: String,
    /// A PEM file with extra root certificates to trust (an internal or test CA).
    pub ca_file: Option<PathBuf>,
    pub timeout_ms: u64,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            host: "localhost".into(),
            port: None,
            security: SmtpSecurity::Starttls,
            username: None,
            password: None,
            from: "eBOK <ebok@localhost>".into(),
            ca_file: None,
            timeout_ms: 30_000,
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// No TLS (a relay on loopback only).
    Plain,
    /// Plain connection upgraded with STARTTLS, required.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// The online payment provider of one utility, with its credentials (redacted in `Debug`).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum PaymentProviderConfig {
    Przelewy24(Przelewy24Config),
    Stripe(StripeConfig),
}

/// Przelewy24 REST v1 (the merchant panel: *Moje dane* → *Dane API i konfiguracja*).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Przelewy24Config {
    /// `https://secure.przelewy24.pl`, or `https://sandbox.przelewy24.pl` for the sandbox; the
    /// API is under `/api/v1` and the payment page at `/trnRequest/{token}`.
    #[serde(default = "Przelewy24Config::production")]
    pub base_url: String,
    pub merchant_id: i64,
    /// The shop's id; most merchants have one shop whose id is the merchant's.
    pub pos_id: Option<i64>,
    /// The API key (*Klucz do raportów*): the password of HTTP Basic, with the pos id.
    pub api_key: SecretString,
    /// The CRC key the signatures are made with.
    pub crc: SecretString,
    #[serde(default = "default_payment_timeout_ms")]
    pub timeout_ms: u64,
}

impl Przelewy24Config {
    fn production() -> String {
        "https://secure.przelewy24.pl".into()
    }

    /// The shop's id: `pos_id`, or the merchant's.
    pub fn pos_id(&self) -> i64 {
        self.pos_id.unwrap_or(self.merchant_id)
    }
}

/// Stripe Checkout.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeConfig {
    #[serde(default = "StripeConfig::production")]
    pub api_base_url: String,
    /// The secret API key (`sk_live_…`, `sk_test_…`).
    pub secret_key: SecretString,
    /// The webhook endpoint's signing secret (`whsec_…`).
    pub webhook_secret: SecretString,
    /// The previous signing secret while a rotation is under way (Stripe signs with both).
    pub previous_webhook_secret: Option<SecretString>,
    #[serde(default = "default_payment_timeout_ms")]
    pub timeout_ms: u64,
}

impl StripeConfig {
    fn production() -> String {
        "https://api.stripe.com".into()
    }
}

fn default_payment_timeout_ms() -> u64 {
    10_000
}

/// A utility's access to KSeF 2.0.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KsefConfig {
    /// The API's address (…/v2); by default that of the utility's KSeF environment (test,
    /// demo or production, set in the back office).
    pub base_url: Option<String>,
    /// The KSeF token generated in KSeF for the utility's NIP, with the right to issue
    /// invoices.
    pub token: SecretString,
    #[serde(default = "default_ksef_timeout_ms")]
    pub timeout_ms: u64,
    /// How often the sender looks for invoices to send and for KSeF's verdicts, seconds.
    #[serde(default = "default_ksef_interval_s")]
    pub interval_s: u64,
}

fn default_ksef_timeout_ms() -> u64 {
    30_000
}

fn default_ksef_interval_s() -> u64 {
    30
}

/// Configuration could not be read; the message names the file or variable at fault.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Loads defaults, then `file` (which must exist when given) or `ebok.toml` in the working
    /// directory (when it exists), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_figment(Self::figment(file)?)
    }

    /// The layered sources, for callers (tests) that add their own on top.
    pub fn figment(file: Option<&Path>) -> Result<Figment, ConfigError> {
        let mut figment = Figment::new();
        match file {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError(format!(
                        "configuration file {} does not exist",
                        path.display()
                    )));
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            // A missing default file is simply not a layer; a present but broken one is an error.
            None if Path::new(DEFAULT_FILE).is_file() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_FILE))
            }
            None => {}
        }
        Ok(figment.merge(Env::prefixed(ENV_PREFIX).split("__")))
    }

    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(|e| {
            // figment's error names the key and the source (file or variable); keep it one line.
            ConfigError(e.to_string().replace('\n', "; "))
        })?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.database.url {
            let url = url.expose_secret();
            if url.trim().is_empty() {
                return Err(ConfigError(format!(
                    "{} is set but empty",
                    DatabaseConfig::SETTING
                )));
            }
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ConfigError(format!(
                    "{} must start with postgres:// or postgresql://, got {}",
                    DatabaseConfig::SETTING,
                    redact_url(url)
                )));
            }
        }
        if let Some(url) = &self.mqtt.url
            && !(url.starts_with("mqtt://")
                || url.starts_with("mqtts://")
                || url.starts_with("tcp://"))
        {
            return Err(ConfigError(format!(
                "{} must start with mqtt:// or mqtts://, got {url}",
                MqttConfig::SETTING
            )));
        }
        for device in &self.ingest.modbus {
            if device.address.parse::<std::net::SocketAddr>().is_err()
                && device
                    .address
                    .rsplit_once(':')
                    .is_none_or(|(_, p)| p.parse::<u16>().is_err())
            {
                return Err(ConfigError(format!(
                    "ingest.modbus device {}: address {:?} is not host:port",
                    device.name, device.address
                )));
            }
        }
        for (setting, filters) in [
            ("ingest.topics", &self.ingest.topics),
            ("ingest.wmbusmeters_topics", &self.ingest.wmbusmeters_topics),
        ] {
            if let Some(filter) = filters
                .iter()
                .find(|f| !f.split('/').any(|level| level == "+"))
            {
                return Err(ConfigError(format!(
                    "{setting}: filter {filter:?} has no `+` level naming the utility \
                     (like ebok/+/readings or wmbusmeters/+/#)"
                )));
            }
        }
        if let Some(days) = self.ingest.raw_retention_days
            && days < MIN_RAW_RETENTION_DAYS
        {
            return Err(ConfigError(format!(
                "ingest.raw_retention_days must be at least {MIN_RAW_RETENTION_DAYS} (a bill \
                 may be questioned for a quarter), got {days}"
            )));
        }
        let b = &self.balance;
        if b.every_minutes == 0
            || !(1..=400).contains(&b.recompute_days)
            || !(1..=1_000).contains(&b.night_margin_percent)
            || !(1..=14).contains(&b.night_alarm_nights)
        {
            return Err(ConfigError(
                "balance: every_minutes must be at least 1, recompute_days 1 to 400, \
                 night_margin_percent 1 to 1000 and night_alarm_nights 1 to 14"
                    .into(),
            ));
        }
        if self.ingest.writers == 0 || self.ingest.batch_size == 0 {
            return Err(ConfigError(
                "ingest.writers and ingest.batch_size must be at least 1".into(),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError(
                "database.max_connections must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The address residents reach the portal at.
    pub fn public_url(&self) -> String {
        self.api
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.api.listen))
    }
}

/// Replaces the password in a connection URL with `***`; leaves unparsable input mostly hidden.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "<unparsable URL>".to_string(),
    }
}

#[cfg(test)]
// figment's Jail closures return figment::Error, which is large; fine in tests.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_apply_without_file_or_environment() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let config = Config::load(None).expect("defaults load");
            assert!(config.database.url.is_none());
            assert_eq!(config.api.listen.port(), 8080);
            assert_eq!(config.stack.data_dir, PathBuf::from(".ebok"));
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "ebok.toml",
                r#"
                [database]
                url = "postgres://file@db/file"
                max_connections = 7
                [api]
                listen = "0.0.0.0:9000"
                "#,
            )?;
            jail.set_env("EBOK__DATABASE__URL", "postgres://env:pw@db:5433/env");
            let config = Config::load(None).expect("layers load");
            assert_eq!(
                config.database.url.as_ref().unwrap().expose_secret(),
                "postgres://env:pw@db:5433/env"
            );
            assert_eq!(config.database.max_connections, 7);
            assert_eq!(config.api.listen.port(), 9000);
            Ok(())
        });
    }

    #[test]
    fn debug_output_never_contains_secrets() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("EBOK__DATABASE__URL", "postgres://u:hunter2@db/x");
            jail.set_env("EBOK__MQTT__PASSWORD", "mqtt-secret");
            let config = Config::load(None).expect("loads");
            let debug = format!("{config:?}");
            assert!(!debug.contains("hunter2"), "{debug}");
            assert!(!debug.contains("mqtt-secret"), "{debug}");
            assert_eq!(
                config.database.redacted_url().unwrap(),
                "postgres://u:***@db/x"
            );
            Ok(())
        });
    }

    #[test]
    fn wrong_database_scheme_is_rejected_naming_the_setting() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("EBOK__DATABASE__URL", "mysql://u:pw@db/x");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("EBOK__DATABASE__URL"), "{err}");
            assert!(!err.contains("pw@"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn unknown_key_in_file_is_an_error_naming_it() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("ebok.toml", "[database]\nulr = \"postgres://x\"\n")?;
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("ulr"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn modbus_devices_load_from_the_file_with_defaults() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "ebok.toml",
                r#"
                [[ingest.modbus]]
                name = "hydrofornia"
                address = "127.0.0.1:5020"
                utility = "mlynary"
                [[ingest.modbus.meters]]
                serial = "C1"
                register = 10
                kind = "u64"
                word_order = "little"
                scale = "0.1"
                status_register = 20
                "#,
            )?;
            let config = Config::load(None).expect("loads");
            let device = &config.ingest.modbus[0];
            assert_eq!(device.unit_id, 1);
            assert_eq!(device.poll_interval_secs, 900);
            assert_eq!(device.meters[0].kind, RegisterKind::U64);
            assert_eq!(device.meters[0].word_order, WordOrder::Little);
            assert_eq!(device.meters[0].status_register, Some(20));
            Ok(())
        });
    }

    #[test]
    fn modbus_device_without_port_is_rejected_naming_it() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "ebok.toml",
                "[[ingest.modbus]]\nname = \"pompownia\"\naddress = \"10.0.0.1\"\nutility = \"x\"\nmeters = []\n",
            )?;
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("pompownia"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn payment_providers_load_per_utility_from_file_and_environment_with_secrets_redacted() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "ebok.toml",
                r#"
                [payments.mlynary]
                provider = "przelewy24"
                base_url = "https://sandbox.przelewy24.pl"
                merchant_id = 111111
                api_key = "key-in-file"
                crc = "crc-in-file"
                "#,
            )?;
            jail.set_env("EBOK__PAYMENTS__PIENIEZNO__PROVIDER", "stripe");
            jail.set_env("EBOK__PAYMENTS__PIENIEZNO__SECRET_KEY", "sk_test_secret");
            jail.set_env("EBOK__PAYMENTS__PIENIEZNO__WEBHOOK_SECRET", "whsec_secret");
            let config = Config::load(None).expect("loads");
            let PaymentProviderConfig::Przelewy24(p24) = &config.payments["mlynary"] else {
                panic!("{:?}", config.payments);
            };
            assert_eq!(p24.pos_id(), 111_111, "the merchant's shop by default");
            assert_eq!(p24.timeout_ms, 10_000);
            let PaymentProviderConfig::Stripe(stripe) = &config.payments["pieniezno"] else {
                panic!("{:?}", config.payments);
            };
            assert_eq!(stripe.api_base_url, "https://api.stripe.com");
            let shown = format!("{config:?}");
            for secret in [
                "key-in-file",
                "crc-in-file",
                "sk_test_secret",
                "whsec_secret",
            ] {
                assert!(!shown.contains(secret), "{secret} shown");
            }
            // A provider we do not know is refused.
            jail.set_env("EBOK__PAYMENTS__X__PROVIDER", "paypal");
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }

    #[test]
    fn lists_can_be_given_in_the_environment() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("EBOK__INGEST__TOPICS", r#"["a/ebok/+/readings", "b/+/x"]"#);
            let config = Config::load(None).expect("loads");
            assert_eq!(config.ingest.topics, ["a/ebok/+/readings", "b/+/x"]);
            Ok(())
        });
    }

    #[test]
    fn a_topic_filter_without_a_utility_level_is_rejected_naming_the_setting() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("EBOK__INGEST__WMBUSMETERS_TOPICS", r#"["wmbusmeters/#"]"#);
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("ingest.wmbusmeters_topics"), "{err}");
            assert!(err.contains("wmbusmeters/#"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn named_file_must_exist() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let err = Config::load(Some(Path::new("missing.toml"))).unwrap_err();
            assert!(err.to_string().contains("missing.toml"));
            Ok(())
        });
    }
}
