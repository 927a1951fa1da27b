//! The accounts of the local stack's Mosquitto: its password file and ACL file in the broker
//! folder, changed by many processes at once, and the reload that puts a change in force.
//!
//! ```text
//! <broker folder>/
//!   passwords       user:$7$… per account          (password_file in mosquitto.conf)
//!   acl             user … / topic … per account   (acl_file in mosquitto.conf)
//!   accounts.lock   held (flock) while a process changes the two files and waits for the reload
//!   ebok.pid        the running broker's pid
//! ```
//!
//! A change ([`LocalBroker::apply`]) takes the lock, reads both files, merges the change into
//! them (`super::files`: one account replaced, added or removed, the others kept), writes each
//! to a temporary file and renames it into place, then sends the broker SIGHUP and waits,
//! bounded, until the broker shows it has loaded exactly this version. The proof is a marker
//! account (`ebok-reload`) that every change gives a fresh random password, known only to the
//! changing process and never written anywhere in clear: once the broker accepts that password,
//! it reads the files as written, so a new account is accepted and a removed one refused. The
//! lock is held until then, so concurrent changes never race one another's reload. The marker
//! has no ACL block: logged in, it may neither publish nor receive anything.
//!
//! When ebok runs as root the broker runs as the `mosquitto` user; the files take the owner of
//! the broker folder (which the stack gives to that user) and are readable by it only.

use std::fs::File;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ebok_common::private_file;
use nix::fcntl::{Flock, FlockArg};

use super::account::Account;
use super::files::AccountFiles;
use super::hash::{PasswordHash, generate_password};
use super::probe::{Answer, probe};

/// The broker's pid file in its folder (written by the stack when it starts the broker).
pub const PID_FILE: &str = "ebok.pid";
const PASSWORD_FILE: &str = "passwords";
const ACL_FILE: &str = "acl";
const LOCK_FILE: &str = "accounts.lock";
/// The account whose fresh password proves that the broker has loaded a change.
pub const RELOAD_MARKER: &str = "ebok-reload";
/// How long a change waits for the broker to load it.
pub const RELOAD_TIMEOUT: Duration = Duration::from_secs(10);

/// One change to the broker's accounts.
#[derive(Debug, Clone)]
pub enum Change {
    /// Add the account, or replace the one with its username.
    Upsert(Account),
    /// Remove the account with this username.
    Remove(String),
}

/// The account files of a local broker and where it listens.
#[derive(Debug, Clone)]
pub struct LocalBroker {
    dir: PathBuf,
    address: SocketAddr,
}

impl LocalBroker {
    /// The broker whose folder is `dir`, listening on `address`.
    pub fn new(dir: impl Into<PathBuf>, address: SocketAddr) -> LocalBroker {
        LocalBroker {
            dir: dir.into(),
            address,
        }
    }

    /// The broker whose folder is `dir`, at `url` (`mqtt://host:port`).
    pub fn at_url(dir: impl Into<PathBuf>, url: &str) -> Result<LocalBroker> {
        let parsed = url::Url::parse(url).with_context(|| format!("broker URL {url:?}"))?;
        let host = parsed.host_str().context("the broker URL has no host")?;
        let port = parsed.port().unwrap_or(1883);
        let address = (host, port)
            .to_socket_addrs()
            .with_context(|| format!("resolving {host}"))?
            .next()
            .with_context(|| format!("{host} has no address"))?;
        Ok(LocalBroker::new(dir, address))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn password_file(&self) -> PathBuf {
        self.dir.join(PASSWORD_FILE)
    }

    pub fn acl_file(&self) -> PathBuf {
        self.dir.join(ACL_FILE)
    }

    /// The accounts as the files hold them now (without the lock: for looking, not changing).
    pub fn read(&self) -> Result<AccountFiles> {
        Ok(AccountFiles::parse(
            &read_or_empty(&self.password_file())?,
            &read_or_empty(&self.acl_file())?,
        ))
    }

    /// Applies `changes` and, when the broker runs, reloads it and waits until it has loaded
    /// them (see the module doc). Blocks; see [`LocalBroker::apply`] for async callers.
    pub fn apply_blocking(&self, changes: &[Change]) -> Result<()> {
        let _lock = self.lock()?;
        let mut files = self.read()?;
        for change in changes {
            match change {
                Change::Upsert(account) => files.upsert(account),
                Change::Remove(username) => {
                    files.remove(username);
                }
            }
        }
        let marker_password = generate_password();
        files.upsert(&Account {
            username: RELOAD_MARKER.into(),
            hash: PasswordHash::new(&marker_password),
            rules: Vec::new(),
        });
        self.write(&self.acl_file(), &files.render_acl())?;
        self.write(&self.password_file(), &files.render_passwords())?;
        self.reload(&marker_password)
    }

    /// [`LocalBroker::apply_blocking`] on a blocking thread.
    pub async fn apply(&self, changes: Vec<Change>) -> Result<()> {
        let broker = self.clone();
        tokio::task::spawn_blocking(move || broker.apply_blocking(&changes))
            .await
            .context("the broker account task failed")?
    }

    /// Makes sure `account` exists as given, with a hash of `password`: writes (and reloads)
    /// only when the files hold no such account, another password or other rules.
    pub fn ensure_blocking(&self, account: &Account, password: &str) -> Result<()> {
        let files = self.read()?;
        let current = files
            .hash_of(&account.username)
            .and_then(|h| PasswordHash::parse(h).ok());
        let rules: Vec<String> = account.rules.iter().map(|r| r.to_string()).collect();
        if current.is_some_and(|h| h.verify(password)) && files.rules_of(&account.username) == rules
        {
            return Ok(());
        }
        self.apply_blocking(&[Change::Upsert(account.clone())])
    }

    /// The pid of the broker serving this folder, if it runs.
    pub fn running_pid(&self) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(self.dir.join(PID_FILE))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let alive = pid > 0
            && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
            && std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "mosquitto");
        alive.then_some(pid)
    }

    fn lock(&self) -> Result<Flock<File>> {
        let path = self.dir.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| anyhow::anyhow!("locking {}: {errno}", path.display()))
    }

    /// Writes `path` whole, readable by the broker folder's owner only (see
    /// [`ebok_common::private_file`]).
    fn write(&self, path: &Path, text: &str) -> Result<()> {
        let owner = if nix::unistd::geteuid().is_root() {
            private_file::owner_of(&self.dir)
        } else {
            None
        };
        private_file::write(path, text.as_bytes(), owner)
            .with_context(|| format!("writing {}", path.display()))
    }

    /// Sends SIGHUP to a running broker and waits until it accepts the marker's new password.
    /// A broker that is not running reads the files when it starts.
    fn reload(&self, marker_password: &str) -> Result<()> {
        let Some(pid) = self.running_pid() else {
            return Ok(());
        };
        let deadline = Instant::now() + RELOAD_TIMEOUT;
        let step = Duration::from_millis(500);
        // A broker still starting may not handle SIGHUP yet (it would end it): wait until it
        // answers a CONNECT, which it does only from its main loop.
        while probe(self.address, None, step).is_err() {
            if self.running_pid().is_none() {
                return Ok(()); // it stopped; a new start reads the files
            }
            if Instant::now() > deadline {
                bail!(
                    "the broker (pid {pid}) does not answer at {} within {} s, so it cannot \
                     load the changed accounts; see mosquitto.log in {}",
                    self.address,
                    RELOAD_TIMEOUT.as_secs(),
                    self.dir.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGHUP,
        )
        .with_context(|| format!("asking the broker (pid {pid}) to reload"))?;
        loop {
            let last = match probe(self.address, Some((RELOAD_MARKER, marker_password)), step) {
                Ok(Answer::Accepted) => return Ok(()),
                other => other,
            };
            if Instant::now() > deadline {
                bail!(
                    "the broker at {} did not load the changed accounts within {} s (last answer \
                     {last:?}); see mosquitto.log in {}",
                    self.address,
                    RELOAD_TIMEOUT.as_secs(),
                    self.dir.display()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn read_or_empty(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}
