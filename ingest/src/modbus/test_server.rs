//! Test doubles for the poller: a Modbus TCP server over a register map (firmware-sim's, the
//! project's one Modbus server), with values set as the poller decodes them, and a listener that
//! accepts connections and never answers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use firmware_sim::modbus::RegisterMap;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::registers::split;
use ebok_common::config::{RegisterKind, WordOrder};

/// Setting a register map's words from a value, as a device of that kind and word order holds it.
pub trait SetValue {
    fn set(&self, register: u16, value: u64, kind: RegisterKind, order: WordOrder);
}

impl SetValue for RegisterMap {
    fn set(&self, register: u16, value: u64, kind: RegisterKind, order: WordOrder) {
        self.set_words(register, &split(value, kind, order));
    }
}

/// Serves `registers` on `listener` until the runtime ends.
pub fn serve(listener: TcpListener, registers: RegisterMap) -> JoinHandle<()> {
    tokio::spawn(async move {
        let _ = firmware_sim::modbus::serve(listener, registers, CancellationToken::new()).await;
    })
}

/// A Modbus server on 127.0.0.1 with a free port.
pub async fn start(registers: RegisterMap) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, serve(listener, registers))
}

/// A listener that accepts connections, keeps them open and never answers; it records when
/// each connection was accepted.
pub async fn start_silent() -> (SocketAddr, Arc<Mutex<Vec<Instant>>>, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let log = accepted.clone();
    let task = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            log.lock().unwrap().push(Instant::now());
            open.push(stream);
        }
    });
    (addr, accepted, task)
}
