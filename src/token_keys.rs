//! `ebok token-keys show|rotate`: the keys that sign the mobile app's access tokens
//! (`api.token_key_file`; the rules are `ebok_api::auth::keys`). `rotate` adds a key that signs
//! from then on and retires the others, which still check the tokens they signed until those
//! expire; `rotate --revoke` drops them at once (a key that leaked: every app then refreshes
//! its access token with its refresh token, nobody has to log in again). Running API processes
//! pick the change up within seconds; copy the file to every API server of the installation.

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Subcommand;
use ebok_api::auth::keys;
use ebok_common::Config;

#[derive(Debug, Subcommand)]
pub enum TokenKeysCommand {
    /// List the keys (id, created, retired; never the keys themselves).
    Show,
    /// Add a key that signs from now on; the others are retired (or, with --revoke, dropped).
    Rotate {
        /// Drop the old keys at once instead of letting their tokens expire (a key leaked).
        #[arg(long)]
        revoke: bool,
    },
}

pub fn run(config: &Config, command: TokenKeysCommand) -> Result<()> {
    let path = config.api.token_key_file(&config.stack);
    let (ring, created) =
        keys::read_or_create(&path).context("access-token keys (setting api.token_key_file)")?;
    if created {
        println!("created {} with a new key", path.display());
    }
    let ring = match command {
        TokenKeysCommand::Show => ring,
        TokenKeysCommand::Rotate { revoke } => {
            let rotated = ring.rotated(Utc::now(), revoke);
            keys::write_file(&path, &rotated)?;
            println!(
                "{}: {} signs from now on; {}",
                path.display(),
                rotated.signing().expect("a rotated ring signs").kid,
                if revoke {
                    "the old keys were dropped: tokens they signed stop working at once"
                } else {
                    "the old keys check the tokens they signed until those expire"
                }
            );
            rotated
        }
    };
    let at = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    for key in ring.keys() {
        let state = match key.retired {
            None if Some(key) == ring.signing() => "signs".to_string(),
            None => "checks".to_string(),
            Some(retired) => format!("retired {}", at(retired)),
        };
        println!("{:<24} created {}  {state}", key.kid, at(key.created));
    }
    Ok(())
}
