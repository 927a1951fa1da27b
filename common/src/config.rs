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
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
        }
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
}

impl Default for StackConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(".ebok"),
            install_packages: true,
        }
    }
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
    fn named_file_must_exist() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let err = Config::load(Some(Path::new("missing.toml"))).unwrap_err();
            assert!(err.to_string().contains("missing.toml"));
            Ok(())
        });
    }
}
