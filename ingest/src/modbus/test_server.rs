//! Test doubles for the poller: a real Modbus TCP server (tokio-modbus `tcp-server`) over a
//! register map, and a listener that accepts connections and never answers.

use std::collections::HashMap;
use std::future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_modbus::server::Service;
use tokio_modbus::server::tcp::{Server, accept_tcp_connection};
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

use super::registers::split;
use ebok_common::config::{RegisterKind, WordOrder};

/// Holding registers (unset ones read as 0) and the requests seen, shared with the test.
#[derive(Clone, Default)]
pub struct Registers {
    words: Arc<Mutex<HashMap<u16, u16>>>,
    /// `(unit id, start, count)` of every read.
    requests: Arc<Mutex<Vec<(u8, u16, u16)>>>,
}

impl Registers {
    pub fn set(&self, register: u16, value: u64, kind: RegisterKind, order: WordOrder) {
        let mut words = self.words.lock().unwrap();
        for (i, word) in split(value, kind, order).into_iter().enumerate() {
            words.insert(register + i as u16, word);
        }
    }

    pub fn requests(&self) -> Vec<(u8, u16, u16)> {
        self.requests.lock().unwrap().clone()
    }
}

impl Service for Registers {
    type Request = SlaveRequest<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = future::Ready<Result<Response, ExceptionCode>>;

    fn call(&self, request: Self::Request) -> Self::Future {
        future::ready(match request.request {
            Request::ReadHoldingRegisters(start, count) => {
                self.requests
                    .lock()
                    .unwrap()
                    .push((request.slave, start, count));
                let words = self.words.lock().unwrap();
                Ok(Response::ReadHoldingRegisters(
                    (0..count)
                        .map(|i| words.get(&start.wrapping_add(i)).copied().unwrap_or(0))
                        .collect(),
                ))
            }
            _ => Err(ExceptionCode::IllegalFunction),
        })
    }
}

/// Serves `registers` on `listener` until the task is aborted or the runtime ends.
pub fn serve(listener: TcpListener, registers: Registers) -> JoinHandle<()> {
    tokio::spawn(async move {
        let server = Server::new(listener);
        let on_connected = move |stream, addr| {
            let registers = registers.clone();
            async move { accept_tcp_connection(stream, addr, |_| Ok(Some(registers.clone()))) }
        };
        let _ = server.serve(&on_connected, |_err| {}).await;
    })
}

/// A Modbus server on 127.0.0.1 with a free port.
pub async fn start(registers: Registers) -> (SocketAddr, JoinHandle<()>) {
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
