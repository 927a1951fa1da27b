//! Running the real `ebok` binary from tests: a command with a clean `EBOK__…` environment, and
//! reading its output until a line appears (no sleeps: the process says when it is ready).

#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};

/// `ebok` with no `EBOK__…` settings inherited from the test runner.
pub fn ebok() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ebok"));
    for (key, _) in std::env::vars() {
        if key.starts_with("EBOK__") || key == "DATABASE_URL" || key == "EBOK_CONFIG" {
            command.env_remove(key);
        }
    }
    command
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Reads stderr lines until one contains `needle`; returns every line read so far.
pub async fn read_until(lines: &mut Lines<BufReader<ChildStderr>>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("reading stderr") {
            let hit = line.contains(needle);
            seen.push(line);
            if hit {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(found, Ok(true)),
        "never printed {needle:?}; output was:\n{}",
        seen.join("\n")
    );
    seen
}

pub fn stderr_lines(child: &mut Child) -> Lines<BufReader<ChildStderr>> {
    BufReader::new(child.stderr.take().expect("stderr piped")).lines()
}

/// Sends SIGINT (what Ctrl-C sends) and waits for the process to exit.
pub async fn interrupt(child: &mut Child) -> std::process::ExitStatus {
    let pid = nix::unistd::Pid::from_raw(child.id().expect("running") as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("signal");
    tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("exits within a minute of Ctrl-C")
        .expect("exit status")
}

/// Whether a process exists.
pub fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
}

/// Waits until `pid` is gone (processes exit asynchronously after a signal).
pub async fn gone(pid: i32) -> bool {
    for _ in 0..200 {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
