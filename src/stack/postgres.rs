//! The private PostgreSQL cluster of the local stack: created once with `initdb` (password
//! authentication, UTF-8, Polish collation through ICU where the server has it), started as a
//! child process listening on 127.0.0.1 only, stopped with a fast shutdown.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::Signal;

use super::packages::PostgresBin;
use super::process::{RunAs, Service, alive, tail};

/// The cluster's superuser and the database the system uses.
pub const USER: &str = "ebok";
pub const DATABASE: &str = "ebok";

pub struct Cluster<'a> {
    pub bin: &'a PostgresBin,
    /// The service folder: `data/`, `run/`, logs.
    pub dir: PathBuf,
    pub run_as: Option<&'a RunAs>,
    /// Preload TimescaleDB (the caller checked that it is installed).
    pub timescale: bool,
}

impl Cluster<'_> {
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// The pid and port of a postmaster already serving this cluster, if any.
    pub fn running(&self) -> Option<(i32, u16)> {
        running_in(&self.data())
    }

    /// Creates the cluster unless it exists. `password` becomes the superuser's password.
    pub fn init(&self, password: &str) -> Result<()> {
        if self.data().join("PG_VERSION").is_file() {
            return Ok(());
        }
        let pwfile = self.dir.join("initdb.pw");
        std::fs::write(&pwfile, format!("{password}\n"))
            .with_context(|| format!("writing {}", pwfile.display()))?;
        if let Some(user) = self.run_as {
            nix::unistd::chown(&pwfile, Some(user.uid), Some(user.gid))?;
        }
        eprintln!(
            "ebok: creating a PostgreSQL {} cluster in {}",
            self.bin.major,
            self.data().display()
        );
        // Polish collation first; servers built without ICU fall back to C.UTF-8.
        let icu = ["--locale-provider=icu", "--icu-locale=pl-PL"];
        let mut result = self.initdb(&pwfile, &icu);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(self.data());
            result = self.initdb(&pwfile, &[]);
        }
        let _ = std::fs::remove_file(&pwfile);
        result
    }

    fn initdb(&self, pwfile: &Path, extra: &[&str]) -> Result<()> {
        let log = self.dir.join("initdb.log");
        let mut command = Command::new(self.bin.program("initdb"));
        command
            .arg("--pgdata")
            .arg(self.data())
            .arg(format!("--username={USER}"))
            .arg(format!("--pwfile={}", pwfile.display()))
            .args([
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ])
            .args(extra);
        let out = std::fs::File::create(&log)?;
        command.stdout(out.try_clone()?).stderr(out);
        if let Some(user) = self.run_as {
            use std::os::unix::process::CommandExt;
            command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        let status = command.status().context("running initdb")?;
        if !status.success() {
            bail!("initdb failed:\n{}", tail(&log, 10));
        }
        Ok(())
    }

    /// Starts the server on `port` and waits until it accepts connections.
    pub fn start(&self, port: u16) -> Result<Service> {
        let run = self.dir.join("run");
        std::fs::create_dir_all(&run)?;
        if let Some(user) = self.run_as {
            user.take_ownership(&run)?;
        }
        let mut command = Command::new(self.bin.program("postgres"));
        command.arg("-D").arg(self.data());
        for setting in settings(port, &run, self.timescale) {
            command.arg("-c").arg(setting);
        }
        let mut service = Service::spawn(
            "postgres",
            command,
            &self.log(),
            self.run_as,
            Signal::SIGINT,
        )?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = service.exited() {
                bail!(
                    "PostgreSQL exited during start-up ({status}); last lines of {}:\n{}",
                    self.log().display(),
                    tail(&self.log(), 10)
                );
            }
            let ready = Command::new(self.bin.program("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-t", "1", "-p", &port.to_string()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ready {
                return Ok(service);
            }
            if Instant::now() > deadline {
                let _ = service.stop(Duration::from_secs(5));
                bail!(
                    "PostgreSQL did not accept connections within 60 s; see {}",
                    self.log().display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Server settings given on the command line, so they follow the chosen port and folder without
/// editing files in the cluster.
fn settings(port: u16, socket_dir: &Path, timescale: bool) -> Vec<String> {
    let mut settings = vec![
        "listen_addresses=127.0.0.1".into(),
        format!("port={port}"),
        format!("unix_socket_directories={}", socket_dir.display()),
        // Tests run in parallel, each with its own database and pool.
        "max_connections=300".into(),
        format!("shared_buffers={}MB", shared_buffers_mb(memory_mb())),
        "max_wal_size=4GB".into(),
        "checkpoint_timeout=15min".into(),
        "timezone=UTC".into(),
        "log_timezone=UTC".into(),
        "log_line_prefix=%m [%p] %q%u@%d ".into(),
    ];
    if timescale {
        settings.extend([
            "shared_preload_libraries=timescaledb".into(),
            // No reports to Timescale's servers from a utility's database.
            "timescaledb.telemetry_level=off".into(),
            // Its job scheduler takes a background worker per database with the extension.
            "max_worker_processes=32".into(),
            "timescaledb.max_background_workers=24".into(),
        ]);
    }
    settings
}

/// PostgreSQL's buffer cache: a quarter of the machine's memory, as its documentation suggests
/// for a dedicated server, between 128 MB and 8 GB. With the default 128 MB a resident API over
/// 100,000 meters reads most index pages from the kernel's cache instead (measured with
/// `ebok bench api`: seven buffer misses per reading-on-a-day lookup at 256 MB).
fn shared_buffers_mb(memory_mb: Option<u64>) -> u64 {
    memory_mb.map_or(256, |total| (total / 4).clamp(128, 8 * 1024))
}

/// The machine's memory in MB (`MemTotal` in /proc/meminfo).
fn memory_mb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// Reads `postmaster.pid`: the first line is the pid, the fourth the port.
fn running_in(data: &Path) -> Option<(i32, u16)> {
    let text = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let mut lines = text.lines();
    let pid: i32 = lines.next()?.trim().parse().ok()?;
    let port: u16 = lines.nth(2)?.trim().parse().ok()?;
    (alive(pid) && super::process::program_name(pid).as_deref() == Some("postgres"))
        .then_some((pid, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_cache_is_a_quarter_of_memory_within_bounds() {
        assert_eq!(shared_buffers_mb(Some(24_000)), 6_000);
        assert_eq!(shared_buffers_mb(Some(256)), 128);
        assert_eq!(shared_buffers_mb(Some(128 * 1024)), 8 * 1024);
        assert_eq!(shared_buffers_mb(None), 256);
        assert!(memory_mb().is_some_and(|mb| mb > 0));
    }
}
