//! Finding the PostgreSQL and Mosquitto programs, and installing them from Debian's packages
//! when they are missing (as root directly, otherwise through `sudo -n` if it is allowed). The
//! test suite's own tools (an SMTP server, Chromium, axe-core) are `scripts/test-tools.sh`'s
//! business, not this binary's.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The oldest PostgreSQL major version the schema supports (declarative partitioning with the
/// features we use, trusted btree_gist).
pub const MIN_POSTGRES_MAJOR: u32 = 15;

/// Where the server programs of one PostgreSQL installation are.
#[derive(Debug, Clone)]
pub struct PostgresBin {
    pub major: u32,
    pub dir: PathBuf,
}

impl PostgresBin {
    pub fn program(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Whether this server has the TimescaleDB extension installed: its library in the server's
    /// library folder and its control file among the extensions (Debian's layout, or where this
    /// installation's `pg_config` says).
    pub fn has_timescaledb(&self) -> bool {
        let (lib, share) = match self.pg_config_dirs() {
            Some(dirs) => dirs,
            None => (
                self.dir.with_file_name("lib"),
                PathBuf::from(format!("/usr/share/postgresql/{}", self.major)),
            ),
        };
        lib.join("timescaledb.so").is_file()
            && share.join("extension/timescaledb.control").is_file()
    }

    fn pg_config_dirs(&self) -> Option<(PathBuf, PathBuf)> {
        let ask = |flag: &str| -> Option<PathBuf> {
            let out = Command::new(self.program("pg_config"))
                .arg(flag)
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string()))
        };
        Some((ask("--pkglibdir")?, ask("--sharedir")?))
    }
}

/// The newest Debian-layout PostgreSQL (`/usr/lib/postgresql/<major>/bin`) of a supported
/// version, or one whose `initdb` is on the PATH.
pub fn find_postgres() -> Option<PostgresBin> {
    let mut found: Vec<PostgresBin> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major: u32 = entry.file_name().to_str()?.parse().ok()?;
            let dir = entry.path().join("bin");
            (major >= MIN_POSTGRES_MAJOR && has_server(&dir)).then_some(PostgresBin { major, dir })
        })
        .collect();
    found.sort_by_key(|b| b.major);
    if let Some(best) = found.pop() {
        return Some(best);
    }
    let initdb = which("initdb")?;
    let dir = std::fs::canonicalize(&initdb).ok()?.parent()?.to_path_buf();
    let major = postgres_major(&dir)?;
    (major >= MIN_POSTGRES_MAJOR && has_server(&dir)).then_some(PostgresBin { major, dir })
}

fn has_server(dir: &Path) -> bool {
    ["initdb", "postgres", "pg_isready"]
        .iter()
        .all(|p| dir.join(p).is_file())
}

fn postgres_major(dir: &Path) -> Option<u32> {
    let out = Command::new(dir.join("postgres"))
        .arg("--version")
        .output()
        .ok()?;
    // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().nth(2)?;
    version.split('.').next()?.parse().ok()
}

pub fn find_mosquitto() -> Option<PathBuf> {
    let debian = Path::new("/usr/sbin/mosquitto");
    if debian.is_file() {
        return Some(debian.to_path_buf());
    }
    which("mosquitto")
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}

/// Installs the named Debian packages, refreshing the package lists once if the first attempt
/// fails. `log` receives apt's output; on failure its tail is in the error.
pub fn apt_install(packages: &[&str], log: &Path) -> Result<()> {
    let root = nix::unistd::geteuid().is_root();
    if !root && which("sudo").is_none() {
        bail!(
            "{} missing and this user cannot install packages; run `sudo apt-get install {}` \
             or point EBOK__DATABASE__URL / EBOK__MQTT__URL at existing services",
            packages.join(" and "),
            packages.join(" ")
        );
    }
    if which("apt-get").is_none() {
        bail!(
            "{} missing and apt-get is not available (not a Debian system?); install them \
             yourself or set EBOK__DATABASE__URL / EBOK__MQTT__URL",
            packages.join(" and ")
        );
    }
    eprintln!(
        "ebok: installing {} from Debian's packages (log: {})",
        packages.join(", "),
        log.display()
    );
    let apt = |args: &[&str]| -> Result<bool> {
        let mut command = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.args(["-n", "apt-get"]);
            c
        };
        let out = std::fs::File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let status = command
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .status()
            .context("running apt-get")?;
        Ok(status.success())
    };
    let mut install: Vec<&str> = vec!["install", "-y", "--no-install-recommends"];
    install.extend_from_slice(packages);
    if apt(&install)? {
        return Ok(());
    }
    if apt(&["update"])? && apt(&install)? {
        return Ok(());
    }
    bail!(
        "installing {} failed; last lines of {}:\n{}",
        packages.join(" "),
        log.display(),
        super::process::tail(log, 15)
    )
}
