//! The private Mosquitto broker of the local stack: a configuration written at each start
//! (loopback listener on the chosen port, persistence for QoS 1 sessions, queue limits raised so
//! a stopped consumer does not silently lose messages), started as a child process, ready once it
//! answers an MQTT CONNECT.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::Signal;

use super::process::{RunAs, Service, alive, program_name, tail};

pub struct Broker<'a> {
    pub program: &'a std::path::Path,
    /// The service folder: configuration, `data/`, log, pid file.
    pub dir: PathBuf,
    pub run_as: Option<&'a RunAs>,
}

impl Broker<'_> {
    fn pid_file(&self) -> PathBuf {
        self.dir.join("ebok.pid")
    }

    fn log(&self) -> PathBuf {
        self.dir.join("mosquitto.log")
    }

    /// The pid of a broker already started for this folder, if it still runs.
    pub fn running(&self) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(self.pid_file())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        (alive(pid) && program_name(pid).as_deref() == Some("mosquitto")).then_some(pid)
    }

    pub fn start(&self, port: u16) -> Result<Service> {
        let data = self.dir.join("data");
        std::fs::create_dir_all(&data)?;
        if let Some(user) = self.run_as {
            user.take_ownership(&data)?;
        }
        let conf = self.dir.join("mosquitto.conf");
        std::fs::write(&conf, config(port, &data))
            .with_context(|| format!("writing {}", conf.display()))?;
        let mut command = Command::new(self.program);
        command.arg("-c").arg(&conf);
        let mut service = Service::spawn(
            "mosquitto",
            command,
            &self.log(),
            self.run_as,
            Signal::SIGTERM,
        )?;
        std::fs::write(self.pid_file(), service.pid().to_string())?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = service.exited() {
                bail!(
                    "Mosquitto exited during start-up ({status}); last lines of {}:\n{}",
                    self.log().display(),
                    tail(&self.log(), 10)
                );
            }
            if answers_connect(port) {
                return Ok(service);
            }
            if Instant::now() > deadline {
                let _ = service.stop(Duration::from_secs(5));
                bail!(
                    "Mosquitto did not answer within 30 s; see {}",
                    self.log().display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn config(port: u16, data: &std::path::Path) -> String {
    format!(
        "# Written by ebok at each start of its private broker; edits are overwritten.
listener {port} 127.0.0.1
# Loopback only, for development and the demo. Point EBOK__MQTT__URL at a real broker otherwise.
allow_anonymous true
persistence true
persistence_location {data}/
autosave_interval 30
# Mosquitto drops QoS 1 messages queued for an offline client past this count (default 1000),
# without telling the publisher; ingest's persistent session must survive a restart under load.
max_queued_messages 2000000
# Unacknowledged messages in flight to one client: ingest acknowledges after each commit, so the
# window must cover a batch's worth of messages (an MQTT 5 client lowers it with Receive Maximum).
max_inflight_messages 20000
persistent_client_expiration 14d
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
log_type notice
connection_messages false
log_timestamp_format %Y-%m-%dT%H:%M:%S
",
        data = data.display()
    )
}

/// Sends an MQTT 3.1.1 CONNECT and expects CONNACK with return code 0. Hand-made because it is
/// twenty bytes and the readiness check must not need an event loop.
pub fn answers_connect(port: u16) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
        stream.set_read_timeout(Some(Duration::from_millis(1000)))?;
        let client_id = b"ebok-ready";
        let mut packet = vec![0x10, (10 + 2 + client_id.len()) as u8];
        packet.extend_from_slice(&[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x05]);
        packet.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
        packet.extend_from_slice(client_id);
        stream.write_all(&packet)?;
        let mut connack = [0u8; 4];
        stream.read_exact(&mut connack)?;
        // DISCONNECT, so the broker logs a clean goodbye.
        let _ = stream.write_all(&[0xE0, 0x00]);
        Ok(connack == [0x20, 0x02, 0x00, 0x00])
    };
    attempt().unwrap_or(false)
}
