//! The private local stack: it starts PostgreSQL and Mosquitto under a data folder on free
//! ports, keeps the data and the ports between runs, never takes a port in use, lets a second
//! process reuse it, and leaves no process behind: not on Ctrl-C, not when `ebok` is killed.
//! Its broker admits no anonymous client, only the logins it hands out.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ebok::stack::{LocalStack, Wanted};
use ebok_common::config::{StackConfig, TimescaleMode};
use secrecy::ExposeSecret;
use sqlx::Connection;
use support::{alive, ebok, gone, interrupt, read_until, stderr_lines};

const BOTH: Wanted = Wanted {
    postgres: true,
    mosquitto: true,
};

/// A data folder the services' system users can enter.
fn open_data_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("ebok-stack-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn config(dir: &Path) -> StackConfig {
    StackConfig {
        data_dir: dir.to_path_buf(),
        install_packages: true,
        ..StackConfig::default()
    }
}

fn postgres_pid(dir: &Path) -> i32 {
    let text = std::fs::read_to_string(dir.join("postgres/data/postmaster.pid")).unwrap();
    text.lines().next().unwrap().parse().unwrap()
}

fn mosquitto_pid(dir: &Path) -> i32 {
    std::fs::read_to_string(dir.join("mosquitto/ebok.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn port_of(url: &str) -> u16 {
    url::Url::parse(url).unwrap().port().unwrap()
}

#[tokio::test]
async fn stack_starts_keeps_its_data_and_ports_and_stops_without_strays() {
    let dir = open_data_dir();
    let stack = LocalStack::start(&config(dir.path()), BOTH).await.unwrap();
    assert_eq!(stack.owned, ["postgres", "mosquitto"]);
    let db_url = stack.endpoints.database_url.clone().unwrap();
    let mqtt_url = stack.endpoints.mqtt_url.clone().unwrap();
    let mut conn = sqlx::PgConnection::connect(db_url.expose_secret())
        .await
        .unwrap();
    sqlx::query("CREATE TABLE kept (x int)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let pids = [postgres_pid(dir.path()), mosquitto_pid(dir.path())];
    stack.stop().await;
    for pid in pids {
        assert!(gone(pid).await, "process {pid} survived the stop");
    }

    let again = LocalStack::start(&config(dir.path()), BOTH).await.unwrap();
    assert_eq!(
        again
            .endpoints
            .database_url
            .as_ref()
            .unwrap()
            .expose_secret(),
        db_url.expose_secret(),
        "same port and password"
    );
    assert_eq!(again.endpoints.mqtt_url.as_ref().unwrap(), &mqtt_url);
    let mut conn = sqlx::PgConnection::connect(db_url.expose_secret())
        .await
        .unwrap();
    sqlx::query("SELECT count(*) FROM kept")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    again.stop().await;
}

#[tokio::test]
async fn the_broker_refuses_anonymous_clients_and_accepts_the_ingest_login_the_stack_hands_out() {
    use ebok_ingest::gateways::probe::{Answer, probe};
    let dir = open_data_dir();
    let only_broker = Wanted {
        postgres: false,
        mosquitto: true,
    };
    let stack = LocalStack::start(&config(dir.path()), only_broker)
        .await
        .unwrap();
    let broker = stack
        .endpoints
        .broker()
        .expect("the broker's account files");
    let username = stack.endpoints.mqtt_username.clone().unwrap();
    let password = stack
        .endpoints
        .mqtt_password
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_string();
    assert_eq!(username, "ebok-ingest");
    let answer = |login: Option<(&str, &str)>| {
        probe(broker.address(), login, std::time::Duration::from_secs(2)).unwrap()
    };
    assert_eq!(
        answer(None),
        Answer::Refused(5),
        "anonymous: not authorised"
    );
    assert_eq!(answer(Some((&username, &password))), Answer::Accepted);
    assert_ne!(answer(Some((&username, "guess"))), Answer::Accepted);

    // Another process gets the same login from the running stack, as `ebok stack env` prints it.
    let out = ebok()
        .args(["stack", "env"])
        .env("EBOK__STACK__DATA_DIR", dir.path())
        .output()
        .await
        .unwrap();
    let env = String::from_utf8_lossy(&out.stdout);
    assert!(
        env.contains("export EBOK__MQTT__USERNAME='ebok-ingest'"),
        "{env}"
    );
    assert!(
        env.contains(&format!("export EBOK__MQTT__PASSWORD='{password}'")),
        "{env}"
    );
    assert!(
        env.contains(&format!(
            "export EBOK_STACK_BROKER_DIR='{}'",
            broker.dir().display()
        )),
        "{env}"
    );
    let conf = std::fs::read_to_string(broker.dir().join("mosquitto.conf")).unwrap();
    assert!(conf.contains("\nallow_anonymous false\n"), "{conf}");
    assert!(
        conf.contains(&format!(
            "\nmax_packet_size {}\n",
            ebok_ingest::mqtt::max_packet_size(4 << 20)
        )),
        "{conf}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_port_taken_meanwhile_is_never_reused() {
    let dir = open_data_dir();
    let stack = LocalStack::start(&config(dir.path()), BOTH).await.unwrap();
    let pg_port = port_of(
        stack
            .endpoints
            .database_url
            .as_ref()
            .unwrap()
            .expose_secret(),
    );
    let mqtt_port = port_of(stack.endpoints.mqtt_url.as_ref().unwrap());
    stack.stop().await;

    let _squatters = [
        std::net::TcpListener::bind(("127.0.0.1", pg_port)).unwrap(),
        std::net::TcpListener::bind(("127.0.0.1", mqtt_port)).unwrap(),
    ];
    let stack = LocalStack::start(&config(dir.path()), BOTH).await.unwrap();
    assert_ne!(
        port_of(
            stack
                .endpoints
                .database_url
                .as_ref()
                .unwrap()
                .expose_secret()
        ),
        pg_port
    );
    assert_ne!(
        port_of(stack.endpoints.mqtt_url.as_ref().unwrap()),
        mqtt_port
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_second_process_reuses_the_running_stack_and_leaves_it_running() {
    let dir = open_data_dir();
    let first = LocalStack::start(&config(dir.path()), BOTH).await.unwrap();
    let second = LocalStack::start(&config(dir.path()), BOTH).await.unwrap();
    assert!(second.owned.is_empty(), "reused, not started again");
    assert_eq!(
        second
            .endpoints
            .database_url
            .as_ref()
            .unwrap()
            .expose_secret(),
        first
            .endpoints
            .database_url
            .as_ref()
            .unwrap()
            .expose_secret()
    );
    second.stop().await;
    let pids = [postgres_pid(dir.path()), mosquitto_pid(dir.path())];
    assert!(
        pids.iter().all(|p| alive(*p)),
        "the owner's services still run"
    );
    first.stop().await;
    for pid in pids {
        assert!(gone(pid).await);
    }
}

#[tokio::test]
async fn a_data_folder_closed_to_the_service_users_is_relocated_when_root() {
    if !nix::unistd::geteuid().is_root() {
        return; // Only root switches to the services' system users.
    }
    let closed = tempfile::tempdir().unwrap();
    std::fs::set_permissions(closed.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let data = closed.path().join("data");
    let stack = LocalStack::start(&config(&data), BOTH).await.unwrap();
    let relocated = std::fs::read_link(data.join("postgres")).expect("postgres folder is a link");
    assert!(relocated.starts_with("/var/lib/ebok/stacks"));
    assert!(stack.endpoints.database_url.is_some());
    stack.stop().await;
    for service in ["postgres", "mosquitto"] {
        if let Ok(target) = std::fs::read_link(data.join(service)) {
            let _ = std::fs::remove_dir_all(target);
        }
    }
}

#[tokio::test]
async fn ctrl_c_on_stack_up_stops_both_services() {
    let dir = open_data_dir();
    let mut child = ebok()
        .args(["stack", "up"])
        .env("EBOK__STACK__DATA_DIR", dir.path())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = stderr_lines(&mut child);
    read_until(&mut lines, "local stack up").await;
    let pids = [postgres_pid(dir.path()), mosquitto_pid(dir.path())];
    let status = interrupt(&mut child).await;
    assert!(status.success());
    for pid in pids {
        assert!(gone(pid).await, "process {pid} survived Ctrl-C");
    }
}

#[tokio::test]
async fn killing_ebok_takes_its_services_down_with_it() {
    let dir = open_data_dir();
    let mut child = ebok()
        .args(["stack", "up"])
        .env("EBOK__STACK__DATA_DIR", dir.path())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = stderr_lines(&mut child);
    read_until(&mut lines, "local stack up").await;
    let pids = [postgres_pid(dir.path()), mosquitto_pid(dir.path())];
    child.kill().await.unwrap(); // SIGKILL: no chance to clean up
    for pid in pids {
        assert!(gone(pid).await, "process {pid} outlived a killed ebok");
    }
}

/// Whether the stack's cluster preloads TimescaleDB.
async fn preloads_timescaledb(stack: &LocalStack) -> bool {
    let url = stack.endpoints.database_url.clone().unwrap();
    let mut conn = sqlx::PgConnection::connect(url.expose_secret())
        .await
        .unwrap();
    let preloaded: String =
        sqlx::query_scalar("SELECT current_setting('shared_preload_libraries')")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    preloaded.contains("timescaledb")
}

/// `stack.timescaledb`: `on` preloads TimescaleDB where it is installed and refuses to start
/// where it is not; `off` never loads it, installed or not.
#[tokio::test]
async fn the_cluster_preloads_timescaledb_as_stack_timescaledb_says() {
    let postgres_only = Wanted {
        postgres: true,
        mosquitto: false,
    };
    let installed = ebok::stack::timescaledb_installed();
    let dir = open_data_dir();
    let on = StackConfig {
        timescaledb: TimescaleMode::On,
        ..config(dir.path())
    };
    match LocalStack::start(&on, postgres_only).await {
        Ok(stack) => {
            assert!(installed, "started without TimescaleDB installed");
            assert!(preloads_timescaledb(&stack).await);
            stack.stop().await;
        }
        Err(e) => {
            assert!(!installed, "TimescaleDB is installed, yet: {e:#}");
            assert!(
                format!("{e:#}").contains("TimescaleDB is not installed"),
                "{e:#}"
            );
        }
    }
    let dir = open_data_dir();
    let off = StackConfig {
        timescaledb: TimescaleMode::Off,
        ..config(dir.path())
    };
    let stack = LocalStack::start(&off, postgres_only).await.unwrap();
    assert!(!preloads_timescaledb(&stack).await);
    stack.stop().await;
}
