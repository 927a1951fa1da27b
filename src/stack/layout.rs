//! The local stack's data folder: where each service keeps its files, the remembered ports and
//! passwords (`stack.json`, readable by the owner only), and the lock that keeps two `ebok`
//! processes from starting the same stack at once.
//!
//! ```text
//! .ebok/
//!   stack.json          ports, the generated database password and ingest's broker password
//!   stack.lock          held while a process starts or inspects the stack
//!   apt.log             output of package installation
//!   postgres/           data/ (PGDATA), run/ (socket), postgres.log
//!   mosquitto/          mosquitto.conf, data/ (persistence), mosquitto.log, ebok.pid,
//!                       passwords, acl, accounts.lock (see ebok_ingest::gateways::broker)
//! ```
//!
//! When `ebok` runs as root the services run as their own system users, which must be able to
//! reach their folders. If the data folder lies under a directory they cannot enter (a clone in
//! `/root`, say), the service folders move to `/var/lib/ebok/stacks/<hash>/` and the project
//! folder keeps a symbolic link to them.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// Ports and credentials chosen for this data folder, kept between runs so URLs stay stable.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Remembered {
    pub postgres_port: Option<u16>,
    pub postgres_password: Option<String>,
    pub mosquitto_port: Option<u16>,
    /// The password of ingest's account (`ebok-ingest`) on the broker.
    #[serde(default)]
    pub mosquitto_ingest_password: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    /// The data folder, made absolute against the working directory.
    pub fn new(data_dir: &Path) -> Result<Layout> {
        let root = if data_dir.is_absolute() {
            data_dir.to_path_buf()
        } else {
            std::env::current_dir()
                .context("reading the working directory")?
                .join(data_dir)
        };
        std::fs::create_dir_all(&root)
            .with_context(|| format!("creating the data folder {}", root.display()))?;
        Ok(Layout { root })
    }

    pub fn state_file(&self) -> PathBuf {
        self.root.join("stack.json")
    }

    pub fn apt_log(&self) -> PathBuf {
        self.root.join("apt.log")
    }

    /// The folder of one service (may be a symbolic link, see the module doc).
    pub fn service_dir(&self, service: &str) -> PathBuf {
        self.root.join(service)
    }

    pub fn remembered(&self) -> Remembered {
        std::fs::read_to_string(self.state_file())
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    pub fn remember(&self, state: &Remembered) -> Result<()> {
        let path = self.state_file();
        let text = serde_json::to_string_pretty(state)?;
        ebok_common::private_file::write(&path, text.as_bytes(), None)
            .with_context(|| format!("writing {}", path.display()))
    }

    /// Takes the stack lock, waiting for another `ebok` that holds it.
    pub fn lock(&self) -> Result<Flock<File>> {
        let path = self.root.join("stack.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| anyhow::anyhow!("locking {}: {errno}", path.display()))
    }

    /// Makes sure the folder of `service` exists and that `owner` (when given) owns it and can
    /// reach it, relocating it if the path is closed to that user. Returns the real folder.
    pub fn prepare_service_dir(
        &self,
        service: &str,
        owner: Option<&super::process::RunAs>,
    ) -> Result<PathBuf> {
        let link = self.service_dir(service);
        if let Ok(target) = std::fs::read_link(&link) {
            return Ok(target);
        }
        std::fs::create_dir_all(&link).with_context(|| format!("creating {}", link.display()))?;
        let Some(owner) = owner else {
            return Ok(link);
        };
        owner.take_ownership(&link)?;
        if reachable_by(&link, owner) {
            return Ok(link);
        }
        let relocated = PathBuf::from("/var/lib/ebok/stacks")
            .join(format!(
                "{:016x}",
                fnv1a(self.root.to_string_lossy().as_bytes())
            ))
            .join(service);
        std::fs::create_dir_all(&relocated)
            .with_context(|| format!("creating {}", relocated.display()))?;
        owner.take_ownership(&relocated)?;
        std::fs::remove_dir(&link).with_context(|| format!("replacing {}", link.display()))?;
        std::os::unix::fs::symlink(&relocated, &link)
            .with_context(|| format!("linking {}", link.display()))?;
        eprintln!(
            "ebok: user {} cannot enter {}, so {service} keeps its data in {} (linked from there)",
            owner.name,
            self.root.display(),
            relocated.display()
        );
        Ok(relocated)
    }
}

/// Whether `user` can create files in `dir` (which requires entering every parent).
fn reachable_by(dir: &Path, user: &super::process::RunAs) -> bool {
    use std::os::unix::process::CommandExt;
    std::process::Command::new("test")
        .arg("-w")
        .arg(dir)
        .uid(user.uid.as_raw())
        .gid(user.gid.as_raw())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A stable, dependency-free hash for naming the relocated folder.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A port on 127.0.0.1 nobody listens on right now: `preferred` if it is free, else one the
/// kernel picks.
pub fn free_port(preferred: Option<u16>) -> Result<u16> {
    if let Some(port) = preferred
        && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
    {
        return Ok(port);
    }
    let listener =
        std::net::TcpListener::bind(("127.0.0.1", 0)).context("finding a free local port")?;
    Ok(listener.local_addr()?.port())
}

/// A random password for the private cluster (letters and digits only: it goes into a URL).
pub fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..24)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}
