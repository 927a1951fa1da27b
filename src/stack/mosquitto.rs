//! The private Mosquitto broker of the local stack: a configuration written at each start
//! (loopback listener on the chosen port, every client logged in and held to an ACL, packets
//! above ingest's limit refused, persistence for QoS 1 sessions, queue limits raised so a
//! stopped consumer does not silently lose messages), started as a child process, ready once it
//! accepts ingest's login.
//!
//! The accounts (ingest's own, one per gateway) live in the password and ACL files of the broker
//! folder, which `ebok_ingest::gateways::broker` merges and reloads; this module only points the
//! configuration at them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ebok_ingest::gateways::broker::PID_FILE;
use ebok_ingest::gateways::probe::{Answer, probe};
use ebok_ingest::gateways::{Account, INGEST_USERNAME, LocalBroker, PasswordHash};
use nix::sys::signal::Signal;

use super::BrokerSettings;
use super::process::{RunAs, Service, alive, program_name, tail};

pub struct Broker<'a> {
    pub program: &'a std::path::Path,
    /// The service folder: configuration, `data/`, log, pid file.
    pub dir: PathBuf,
    pub run_as: Option<&'a RunAs>,
}

impl Broker<'_> {
    fn pid_file(&self) -> PathBuf {
        self.dir.join(PID_FILE)
    }

    /// The broker's account files, for a broker listening on `port`.
    pub fn accounts(&self, port: u16) -> LocalBroker {
        LocalBroker::new(&self.dir, loopback(port))
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

    /// Starts the broker on `port` with ingest's account (`ingest_password`) in its files and
    /// waits until it accepts that login.
    pub fn start(
        &self,
        port: u16,
        settings: BrokerSettings,
        ingest_password: &str,
    ) -> Result<Service> {
        let data = self.dir.join("data");
        std::fs::create_dir_all(&data)?;
        if let Some(user) = self.run_as {
            user.take_ownership(&data)?;
        }
        // The broker about to start reads the files as it starts: no reload to wait for, and no
        // older pid to signal (this start writes a new pid file).
        let _ = std::fs::remove_file(self.pid_file());
        let accounts = self.accounts(port);
        accounts.ensure_blocking(
            &Account::ingest(PasswordHash::new(ingest_password)),
            ingest_password,
        )?;
        let conf = self.dir.join("mosquitto.conf");
        std::fs::write(&conf, config(port, &data, &accounts, settings))
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
            match probe(
                loopback(port),
                Some((INGEST_USERNAME, ingest_password)),
                Duration::from_millis(500),
            ) {
                Ok(Answer::Accepted) => return Ok(service),
                Ok(Answer::Refused(code)) => {
                    let _ = service.stop(Duration::from_secs(5));
                    bail!(
                        "Mosquitto refused ingest's login (return code {code}): its password \
                         file {} does not hold the remembered password; see {}",
                        accounts.password_file().display(),
                        self.log().display()
                    );
                }
                Err(_) => {}
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

fn config(
    port: u16,
    data: &std::path::Path,
    accounts: &LocalBroker,
    settings: BrokerSettings,
) -> String {
    format!(
        "# Written by ebok at each start of its private broker; edits are overwritten.
listener {port} 127.0.0.1
# Loopback only, for development and the demo. Point EBOK__MQTT__URL at a real broker otherwise.
# Every client logs in: ingest as {INGEST_USERNAME}, each gateway with its own account
# (`ebok gateway add`); the ACL lets a gateway publish only under its own utility's topics.
allow_anonymous false
password_file {passwords}
acl_file {acl}
# A larger packet is refused (the client disconnected) before the broker reads it whole:
# ingest.max_payload_bytes plus room for the topic and properties.
max_packet_size {max_packet_size}
# Readings are events, not state: a retained one would reach ingest again at every subscription,
# even after its gateway was removed. A publish with the retain flag is refused.
retain_available false
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
        data = data.display(),
        passwords = accounts.password_file().display(),
        acl = accounts.acl_file().display(),
        max_packet_size = settings.max_packet_size,
    )
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Whether an MQTT broker answers a CONNECT on `port` at all (it refuses the anonymous login:
/// the answer is what tells it is there and ready).
pub fn answers_connect(port: u16) -> bool {
    probe(loopback(port), None, Duration::from_millis(1000)).is_ok()
}
