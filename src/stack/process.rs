//! Child processes of the local stack: started in their own process group (so a Ctrl-C in the
//! terminal reaches `ebok`, which then stops them in order), told by the kernel to stop if `ebok`
//! dies without stopping them (`PR_SET_PDEATHSIG`), and stopped with a signal and a deadline.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that spawned the child exits, so the stack spawns
//! its children from one dedicated thread that lives exactly as long as they should (see
//! `super::supervisor`).

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Gid, Pid, Uid, getpid};

/// An operating-system account to run a service as (PostgreSQL refuses to run as root).
#[derive(Debug, Clone)]
pub struct RunAs {
    pub name: String,
    pub uid: Uid,
    pub gid: Gid,
}

impl RunAs {
    /// The account `name`, if it exists.
    pub fn lookup(name: &str) -> Result<Option<RunAs>> {
        Ok(nix::unistd::User::from_name(name)
            .with_context(|| format!("looking up system user {name}"))?
            .map(|u| RunAs {
                name: u.name,
                uid: u.uid,
                gid: u.gid,
            }))
    }

    /// Gives `path` (a directory we created) to this account.
    pub fn take_ownership(&self, path: &Path) -> Result<()> {
        nix::unistd::chown(path, Some(self.uid), Some(self.gid))
            .with_context(|| format!("giving {} to user {}", path.display(), self.name))
    }
}

/// A running service process and how to stop it.
#[derive(Debug)]
pub struct Service {
    pub name: &'static str,
    child: Child,
    stop_signal: Signal,
}

impl Service {
    /// Starts `command` with its output appended to `log`, in its own process group, as `run_as`
    /// when given, and asks the kernel to send `stop_signal` if the spawning thread dies.
    pub fn spawn(
        name: &'static str,
        mut command: Command,
        log: &Path,
        run_as: Option<&RunAs>,
        stop_signal: Signal,
    ) -> Result<Service> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening log {}", log.display()))?;
        let err = out.try_clone()?;
        command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        if let Some(user) = run_as {
            // std also drops root's supplementary groups before setuid.
            command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        let parent = getpid();
        // Runs after the uid change (a credential change would clear the death signal).
        // SAFETY: the closure only makes async-signal-safe system calls (prctl, getppid, kill).
        unsafe {
            command.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(stop_signal).map_err(std::io::Error::from)?;
                // The parent may have died between fork and prctl; then nobody would signal us.
                if nix::unistd::getppid() != parent {
                    let _ = kill(getpid(), stop_signal);
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {name} ({:?})", command.get_program()))?;
        Ok(Service {
            name,
            child,
            stop_signal,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends the stop signal and waits up to `grace`; kills the process if it is still there.
    pub fn stop(mut self, grace: Duration) -> Result<()> {
        if self.exited().is_some() {
            return Ok(());
        }
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, self.stop_signal);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        tracing::warn!(service = self.name, "did not stop in time; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
        Ok(())
    }
}

/// Whether a process with this pid exists (and we may signal it).
pub fn alive(pid: i32) -> bool {
    pid > 0 && kill(Pid::from_raw(pid), None).is_ok()
}

/// The program name of a running process (`/proc/<pid>/comm`).
pub fn program_name(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// The last `lines` lines of a log file, for error messages.
pub fn tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
