//! `ebok gateway add|list|remove`: the MQTT accounts of a utility's gateways (the logic is
//! `ebok_ingest::gateways`), and the same accounts for the publishers this binary runs itself
//! (`ebok sim`, the demo's simulator, `ebok bench ingest`).
//!
//! Which broker: the local stack's when `mqtt.url` is unset or is the running stack's own URL
//! (found with the stack's attach logic); then its account files change and it reloads before
//! the command returns. Any other `mqtt.url` is an external broker, which `ebok` cannot change:
//! `add` records the gateway and prints the password-file line and the ACL block to install.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use ebok_common::Config;
use ebok_ingest::gateways::registry::{self, Added};
use ebok_ingest::gateways::{GatewayName, LocalBroker, UtilitySlug};
use secrecy::ExposeSecret;
use sqlx::PgPool;

use crate::stack;

#[derive(Debug, Subcommand)]
pub enum GatewayCommand {
    /// Create a gateway's MQTT account: prints its username, the topics it may publish to and
    /// its password (shown once, stored nowhere in clear).
    Add {
        #[command(flatten)]
        which: Which,
        /// Replace the credentials of an active gateway of that name (the old ones stop working).
        #[arg(long)]
        rekey: bool,
    },
    /// List the utility's gateways: name, username, created, revoked.
    List {
        /// The utility (slug).
        #[arg(long)]
        utility: String,
    },
    /// Revoke a gateway: it can no longer log in (its record stays, with the revocation time).
    Remove {
        #[command(flatten)]
        which: Which,
    },
}

#[derive(Debug, Args)]
pub struct Which {
    /// The utility (slug).
    #[arg(long)]
    pub utility: String,
    /// The gateway's name within the utility: 1 to 40 of a-z, 0-9 and -.
    pub name: String,
}

/// Where gateway accounts go.
#[derive(Debug, Clone)]
pub enum Broker {
    /// The local stack's broker: its files, reloaded on change.
    Local(LocalBroker),
    /// A broker `ebok` does not manage, at this URL.
    External(String),
}

impl Broker {
    pub fn local(&self) -> Option<&LocalBroker> {
        match self {
            Broker::Local(broker) => Some(broker),
            Broker::External(_) => None,
        }
    }
}

/// The broker the configuration names (see the module doc).
pub fn broker_of(config: &Config) -> Result<Broker> {
    let endpoints = stack::attach(&config.stack)?;
    let local = endpoints.broker();
    match (&config.mqtt.url, local) {
        (None, Some(local)) => Ok(Broker::Local(local)),
        (None, None) => anyhow::bail!(
            "no broker: the local stack's Mosquitto is not running (start it with `ebok stack \
             up`) and mqtt.url (EBOK__MQTT__URL) is not set"
        ),
        (Some(url), Some(local))
            if endpoints
                .mqtt_url
                .as_deref()
                .is_some_and(|own| same_address(own, url)) =>
        {
            Ok(Broker::Local(local))
        }
        (Some(url), _) => Ok(Broker::External(url.clone())),
    }
}

fn same_address(a: &str, b: &str) -> bool {
    let parts = |u: &str| {
        url::Url::parse(u)
            .ok()
            .map(|u| (u.host_str().map(str::to_string), u.port().unwrap_or(1883)))
    };
    parts(a).is_some_and(|a| Some(a) == parts(b))
}

/// The topic filters a gateway's ACL is derived from: ingest's, as configured.
pub fn filters(config: &Config) -> Vec<&str> {
    config
        .ingest
        .topics
        .iter()
        .chain(&config.ingest.wmbusmeters_topics)
        .map(String::as_str)
        .collect()
}

pub async fn run(config: Config, command: GatewayCommand) -> Result<()> {
    let config = crate::run::attach_local_stack(config)?;
    let pool = ebok_common::db::connect(&config.database, "ebok-gateway").await?;
    match command {
        GatewayCommand::Add { which, rekey } => {
            let (slug, name) = parse(&which)?;
            let broker = broker_of(&config)?;
            let added = registry::add(
                &pool,
                broker.local(),
                &slug,
                &name,
                &filters(&config),
                rekey,
            )
            .await?;
            print_added(&added, &broker);
        }
        GatewayCommand::List { utility } => {
            let slug = UtilitySlug::parse(&utility)?;
            let gateways = registry::list(&pool, &slug).await?;
            if gateways.is_empty() {
                println!("utility {slug} has no gateways");
            } else {
                println!(
                    "{:<40} {:<64} {:<20} revoked",
                    "name", "username", "created"
                );
            }
            for g in gateways {
                let at =
                    |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
                println!(
                    "{:<40} {:<64} {:<20} {}",
                    g.name,
                    g.username,
                    at(g.created_at),
                    g.revoked_at.map(at).unwrap_or_else(|| "-".into())
                );
            }
        }
        GatewayCommand::Remove { which } => {
            let (slug, name) = parse(&which)?;
            let broker = broker_of(&config)?;
            let gateway = registry::remove(&pool, broker.local(), &slug, &name).await?;
            println!(
                "gateway {name} of {slug} revoked (username {})",
                gateway.username
            );
            match &broker {
                Broker::Local(local) => println!(
                    "the local broker ({}) no longer accepts it",
                    local.address()
                ),
                Broker::External(url) => println!(
                    "remove user {} from the password file and the ACL of the broker at {url}, \
                     and reload it",
                    gateway.username
                ),
            }
        }
    }
    pool.close().await;
    Ok(())
}

fn parse(which: &Which) -> Result<(UtilitySlug, GatewayName)> {
    Ok((
        UtilitySlug::parse(&which.utility)?,
        GatewayName::parse(&which.name)?,
    ))
}

fn print_added(added: &Added, broker: &Broker) {
    let topics: Vec<&str> = added
        .account
        .rules
        .iter()
        .map(|r| r.topic.as_str())
        .collect();
    println!(
        "gateway {} {}",
        added.gateway.name,
        if added.replaced.is_some() {
            "re-keyed (the old password no longer works)"
        } else {
            "added"
        }
    );
    println!("  username:    {}", added.gateway.username);
    println!("  publish to:  {}", topics.join(", "));
    println!("  password:    {}", added.password.expose_secret());
    println!("The password is shown only now; ebok keeps only its hash.");
    match broker {
        Broker::Local(local) => {
            println!(
                "The local broker ({}) accepts the account now.",
                local.address()
            )
        }
        Broker::External(url) => {
            println!(
                "The broker at {url} is not the local stack's: install the account there and \
                 reload it (Mosquitto: SIGHUP). Password file line:\n\n{}\n\nACL block:\n\n{}",
                added.account.password_line(),
                added.account.acl_block()
            );
        }
    }
}

/// Login for a publisher this binary runs (simulator, benchmark): re-keys gateway `gateway` of
/// `utility` through the same path as `ebok gateway add --rekey`, publishing under the utility's
/// topics of `filters`. On an external broker the configured `mqtt.username` and
/// `mqtt.password` are used (an account the operator made for it), or none.
pub async fn publisher_login(
    config: &Config,
    pool: &PgPool,
    utility: &str,
    gateway: &str,
    filters: &[&str],
) -> Result<Option<(String, String)>> {
    match broker_of(config)? {
        Broker::Local(local) => {
            let added = registry::add(
                pool,
                Some(&local),
                &UtilitySlug::parse(utility)?,
                &GatewayName::parse(gateway)?,
                filters,
                true,
            )
            .await
            .with_context(|| format!("the {gateway} gateway account of {utility}"))?;
            Ok(Some((
                added.gateway.username,
                added.password.expose_secret().to_string(),
            )))
        }
        Broker::External(_) => Ok(configured_login(config)),
    }
}

/// The configured `mqtt.username` and `mqtt.password`, if any.
pub fn configured_login(config: &Config) -> Option<(String, String)> {
    config.mqtt.username.clone().map(|user| {
        let password = config
            .mqtt
            .password
            .as_ref()
            .map(|p| p.expose_secret().to_string())
            .unwrap_or_default();
        (user, password)
    })
}
