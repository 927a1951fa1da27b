//! The Modbus TCP poll loop: one task per configured device, each with its own connection,
//! schedule, timeout, retries and back-off, so a dead device never delays the others.
//!
//! A device task connects (TCP, with the configured unit id), polls immediately and then every
//! `poll_interval_secs`, sends each request of the device's [`ReadPlan`] with `timeout_ms`, and
//! retries failed requests (reconnecting after transport errors and timeouts) up to `retries`
//! times within one poll. A poll that still fails is followed by an exponential back-off with
//! jitter, capped at the poll interval. Each successful poll becomes one [`Envelope`]. The task
//! never panics on device behaviour; it ends when shutdown is requested or the output channel is
//! closed.
//!
//! Metrics: `ingest_modbus_polls_total{device,outcome}` (`ok`, `error`, `timeout`) and
//! `ingest_modbus_poll_seconds{device}`. Logs carry the device name, never meter serials.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ebok_common::backoff::Backoff;
use ebok_common::config::ModbusDevice;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_modbus::client::{Context, Reader};
use tokio_modbus::{ExceptionCode, Slave};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, info, warn};

use super::registers::{ReadPlan, ReadRequest};
use crate::pipeline::{Envelope, Origin};
use crate::reading::Decoded;

/// The time constants of one device's loop. [`PollTiming::for_device`] derives them from the
/// configuration; tests use shorter ones than the configuration's whole seconds allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollTiming {
    /// From the start of one successful poll to the start of the next.
    pub interval: Duration,
    /// For connecting and for each request.
    pub timeout: Duration,
    /// The wait after the first failed poll; it doubles with each further failure, up to
    /// `interval`.
    pub backoff_base: Duration,
}

impl PollTiming {
    /// The back-off after the first failed poll, unless the poll interval is shorter.
    pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_secs(1);

    pub fn for_device(device: &ModbusDevice) -> Self {
        let interval = Duration::from_secs(device.poll_interval_secs.max(1));
        PollTiming {
            interval,
            timeout: Duration::from_millis(device.timeout_ms.max(1)),
            backoff_base: Self::DEFAULT_BACKOFF_BASE.min(interval),
        }
    }

    /// The wait after `failures` (≥ 1) consecutive failed polls: `backoff_base · 2^(failures−1)`,
    /// capped at `interval`, then shortened by up to half by `jitter` (in `0.0 ..= 1.0`) so that
    /// devices failing together do not retry in lockstep.
    pub fn backoff(&self, failures: u32, jitter: f64) -> Duration {
        Backoff::new(self.backoff_base, self.interval).jittered(failures.max(1), jitter)
    }
}

/// Polls `device` until `shutdown` is cancelled or `out` is closed; see the module
/// documentation.
pub async fn run_device(
    device: ModbusDevice,
    out: mpsc::Sender<Envelope>,
    shutdown: CancellationToken,
) {
    let timing = PollTiming::for_device(&device);
    run_device_with(device, timing, out, shutdown).await
}

/// [`run_device`] with explicit timing instead of the configuration's.
pub async fn run_device_with(
    device: ModbusDevice,
    timing: PollTiming,
    out: mpsc::Sender<Envelope>,
    shutdown: CancellationToken,
) {
    let span = tracing::info_span!("modbus", device = %device.name);
    device_loop(device, timing, out, shutdown)
        .instrument(span)
        .await
}

/// Spawns one [`run_device`] task per device.
pub fn spawn_all(
    devices: &[ModbusDevice],
    out: mpsc::Sender<Envelope>,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    devices
        .iter()
        .map(|device| tokio::spawn(run_device(device.clone(), out.clone(), shutdown.clone())))
        .collect()
}

async fn device_loop(
    device: ModbusDevice,
    timing: PollTiming,
    out: mpsc::Sender<Envelope>,
    shutdown: CancellationToken,
) {
    let plan = ReadPlan::new(&device.meters);
    for problem in plan.problems() {
        // The position, not the serial: logs carry no meter identities.
        error!(
            meter_index = problem.index,
            problem = %problem.detail,
            "meter left out of Modbus polling; fix its configuration"
        );
    }
    if plan.requests().is_empty() {
        warn!("no meters to poll; the device is not polled");
        return;
    }
    info!(
        meters = plan.meters().len(),
        requests = plan.requests().len(),
        interval_secs = timing.interval.as_secs_f64(),
        "polling"
    );

    let name = device.name.clone();
    let mut poller = Poller::new(device, timing, plan);
    let mut failures: u32 = 0;
    let mut next_poll = Instant::now();
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            () = sleep_until(next_poll) => {}
        }
        if out.is_closed() {
            debug!("output closed; stopping");
            break;
        }

        let started = Instant::now();
        let result = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            result = poller.poll() => result,
        };
        metrics::histogram!("ingest_modbus_poll_seconds", "device" => name.clone())
            .record(started.elapsed().as_secs_f64());
        let outcome = match &result {
            Ok(_) => "ok",
            Err(failure) => failure.outcome(),
        };
        metrics::counter!(
            "ingest_modbus_polls_total",
            "device" => name.clone(),
            "outcome" => outcome,
        )
        .increment(1);

        match result {
            Ok(decoded) => {
                if failures > 0 {
                    info!(failed_polls = failures, "device answers again");
                }
                failures = 0;
                debug!(
                    readings = decoded.readings.len(),
                    rejected = decoded.rejected.len(),
                    "polled"
                );
                let envelope = Envelope {
                    origin: Origin::Modbus {
                        device: name.clone(),
                    },
                    utility: poller.utility.clone(),
                    decoded,
                    ack: None,
                };
                tokio::select! {
                    biased;
                    () = shutdown.cancelled() => break,
                    sent = out.send(envelope) => if sent.is_err() {
                        debug!("output closed; stopping");
                        break;
                    },
                }
                // A fixed cadence; a poll (or a full queue) that overran the interval is
                // followed by the next one at once rather than by a burst of missed ones.
                next_poll = (started + timing.interval).max(Instant::now());
            }
            Err(failure) => {
                failures = failures.saturating_add(1);
                let delay = timing.backoff(failures, rand::random::<f64>());
                warn!(
                    error = %failure,
                    failed_polls = failures,
                    retry_in_ms = delay.as_millis() as u64,
                    "poll failed"
                );
                next_poll = Instant::now() + delay;
            }
        }
    }
    info!("stopped polling");
}

/// Why a poll (or one attempt of it) failed.
#[derive(Debug)]
enum Failure {
    Timeout,
    Connect(std::io::Error),
    Transport(tokio_modbus::Error),
    Exception(ExceptionCode),
    WrongLength { request: ReadRequest, got: usize },
}

impl Failure {
    fn outcome(&self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            _ => "error",
        }
    }

    /// Whether the connection is still usable: an exception is a well-formed answer, everything
    /// else may leave stray bytes or a dead socket behind.
    fn keeps_connection(&self) -> bool {
        matches!(self, Failure::Exception(_))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout => write!(f, "no answer within the timeout"),
            Failure::Connect(e) => write!(f, "cannot connect: {e}"),
            Failure::Transport(e) => write!(f, "transport error: {e}"),
            Failure::Exception(code) => write!(f, "device answered with exception {code}"),
            Failure::WrongLength { request, got } => write!(
                f,
                "asked for {} registers from {}, got {got}",
                request.count, request.start
            ),
        }
    }
}

/// One device's connection and plan.
struct Poller {
    address: String,
    unit_id: u8,
    utility: String,
    retries: u32,
    timeout: Duration,
    plan: ReadPlan,
    connection: Option<Context>,
}

impl Poller {
    fn new(device: ModbusDevice, timing: PollTiming, plan: ReadPlan) -> Self {
        Poller {
            address: device.address,
            unit_id: device.unit_id,
            utility: device.utility,
            retries: device.retries,
            timeout: timing.timeout,
            plan,
            connection: None,
        }
    }

    /// Reads every request of the plan, retrying failed ones up to `retries` times in all;
    /// answers already received are kept across retries.
    async fn poll(&mut self) -> Result<Decoded, Failure> {
        let mut answers: Vec<Option<(Vec<u16>, DateTime<Utc>)>> =
            vec![None; self.plan.requests().len()];
        let mut retries_left = self.retries;
        while let Err(failure) = self.read_missing(&mut answers).await {
            if !failure.keeps_connection() {
                self.connection = None;
            }
            if retries_left == 0 {
                return Err(failure);
            }
            retries_left -= 1;
            debug!(error = %failure, retries_left, "retrying");
        }
        let (words, times): (Vec<Vec<u16>>, Vec<DateTime<Utc>>) =
            answers.into_iter().flatten().unzip();
        Ok(self.plan.decode(&words, &times))
    }

    async fn read_missing(
        &mut self,
        answers: &mut [Option<(Vec<u16>, DateTime<Utc>)>],
    ) -> Result<(), Failure> {
        let requests = self.plan.requests().to_vec();
        for (request, answer) in requests.into_iter().zip(answers.iter_mut()) {
            if answer.is_some() {
                continue;
            }
            let limit = self.timeout;
            let connection = self.connected().await?;
            let words = match timeout(
                limit,
                connection.read_holding_registers(request.start, request.count),
            )
            .await
            {
                Err(_) => return Err(Failure::Timeout),
                Ok(Err(e)) => return Err(Failure::Transport(e)),
                Ok(Ok(Err(code))) => return Err(Failure::Exception(code)),
                Ok(Ok(Ok(words))) => words,
            };
            if words.len() != usize::from(request.count) {
                return Err(Failure::WrongLength {
                    request,
                    got: words.len(),
                });
            }
            *answer = Some((words, Utc::now()));
        }
        Ok(())
    }

    async fn connected(&mut self) -> Result<&mut Context, Failure> {
        let connection = match self.connection.take() {
            Some(connection) => connection,
            None => {
                let stream = timeout(self.timeout, TcpStream::connect(self.address.as_str()))
                    .await
                    .map_err(|_| Failure::Timeout)?
                    .map_err(Failure::Connect)?;
                // Requests are small; do not let Nagle hold them back.
                let _ = stream.set_nodelay(true);
                debug!("connected");
                tokio_modbus::client::tcp::attach_slave(stream, Slave(self.unit_id))
            }
        };
        Ok(self.connection.insert(connection))
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use ebok_common::config::{ModbusMeter, RegisterKind, WordOrder};
    use ebok_common::domain::{ReadingFlags, ReadingSource};

    use super::*;
    use crate::modbus::test_server::{self, RegisterMap, SetValue};
    use crate::reading::{MeterRef, RejectReason};

    #[test]
    fn backoff_doubles_up_to_the_interval() {
        let timing = PollTiming {
            interval: Duration::from_secs(900),
            timeout: Duration::from_secs(2),
            backoff_base: Duration::from_secs(1),
        };
        let no_jitter: Vec<u64> = (1..=12).map(|n| timing.backoff(n, 0.0).as_secs()).collect();
        assert_eq!(no_jitter, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
        assert_eq!(timing.backoff(u32::MAX, 0.0), timing.interval);
        // Jitter shortens by at most half.
        assert_eq!(timing.backoff(3, 1.0), Duration::from_secs(2));
        assert_eq!(timing.backoff(3, 0.5), Duration::from_secs(3));
        assert_eq!(timing.backoff(3, 7.0), Duration::from_secs(2));
    }

    #[test]
    fn timing_from_configuration() {
        let device = ModbusDevice {
            name: "d".into(),
            address: "127.0.0.1:502".into(),
            unit_id: 1,
            utility: "u".into(),
            poll_interval_secs: 900,
            timeout_ms: 2000,
            retries: 2,
            meters: Vec::new(),
        };
        let timing = PollTiming::for_device(&device);
        assert_eq!(timing.interval, Duration::from_secs(900));
        assert_eq!(timing.timeout, Duration::from_millis(2000));
        assert_eq!(timing.backoff_base, Duration::from_secs(1));
        let fast = PollTiming::for_device(&ModbusDevice {
            poll_interval_secs: 0,
            timeout_ms: 0,
            ..device
        });
        assert_eq!(fast.interval, Duration::from_secs(1));
        assert_eq!(fast.timeout, Duration::from_millis(1));
        assert_eq!(fast.backoff_base, Duration::from_secs(1));
    }

    fn meter(
        serial: &str,
        register: u16,
        kind: RegisterKind,
        word_order: WordOrder,
        scale: &str,
        status_register: Option<u16>,
    ) -> ModbusMeter {
        ModbusMeter {
            serial: serial.into(),
            register,
            kind,
            word_order,
            scale: scale.into(),
            status_register,
        }
    }

    /// The simulator's bulk layout: meter k at 10k .. 10k+3 (u64, big word order, litres),
    /// status at 10k+4.
    fn bulk_meters(prefix: &str, count: u16) -> Vec<ModbusMeter> {
        (0..count)
            .map(|k| {
                meter(
                    &format!("{prefix}{k:04}"),
                    10 * k,
                    RegisterKind::U64,
                    WordOrder::Big,
                    "1",
                    Some(10 * k + 4),
                )
            })
            .collect()
    }

    fn bulk_registers(count: u16) -> RegisterMap {
        let registers = RegisterMap::default();
        for k in 0..count {
            registers.set(
                10 * k,
                1_000 + u64::from(k),
                RegisterKind::U64,
                WordOrder::Big,
            );
            registers.set(10 * k + 4, 0, RegisterKind::U16, WordOrder::Big);
        }
        registers
    }

    fn device(name: &str, address: SocketAddr, meters: Vec<ModbusMeter>) -> ModbusDevice {
        ModbusDevice {
            name: name.into(),
            address: address.to_string(),
            unit_id: 7,
            utility: "mlynary".into(),
            poll_interval_secs: 3600,
            timeout_ms: 2000,
            retries: 2,
            meters,
        }
    }

    fn fast(interval_ms: u64, timeout_ms: u64, backoff_ms: u64) -> PollTiming {
        PollTiming {
            interval: Duration::from_millis(interval_ms),
            timeout: Duration::from_millis(timeout_ms),
            backoff_base: Duration::from_millis(backoff_ms),
        }
    }

    async fn recv(rx: &mut mpsc::Receiver<Envelope>, within: Duration) -> Envelope {
        tokio::time::timeout(within, rx.recv())
            .await
            .expect("no envelope in time")
            .expect("channel closed")
    }

    /// A free local port with nothing listening on it (for now).
    async fn unused_address() -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    }

    #[tokio::test]
    async fn one_poll_gives_one_envelope_with_litres_and_flags() {
        let registers = RegisterMap::default();
        // u16 (little order is the same for one word), scale 10, status with leak and an
        // undefined bit.
        registers.set(0, 1234, RegisterKind::U16, WordOrder::Little);
        registers.set(1, 0x8001, RegisterKind::U16, WordOrder::Big);
        // u32, low word first, tenths of a litre, no status: 12345 → 1234.5 → 1235 litres.
        registers.set(2, 12_345, RegisterKind::U32, WordOrder::Little);
        // u64 in the simulator's layout (meter 3): burst and low battery.
        registers.set(30, 5_000_000_123, RegisterKind::U64, WordOrder::Big);
        registers.set(34, 0b10_0010, RegisterKind::U16, WordOrder::Big);
        // u64 whose value in litres overflows.
        registers.set(40, u64::MAX, RegisterKind::U64, WordOrder::Big);
        let (addr, _server) = test_server::start(registers.clone()).await;

        let meters = vec![
            meter(
                "WM-A",
                0,
                RegisterKind::U16,
                WordOrder::Little,
                "10",
                Some(1),
            ),
            meter("WM-B", 2, RegisterKind::U32, WordOrder::Little, "0.1", None),
            meter("WM-C", 30, RegisterKind::U64, WordOrder::Big, "1", Some(34)),
            meter("WM-D", 40, RegisterKind::U64, WordOrder::Big, "1000", None),
        ];
        let (tx, mut rx) = mpsc::channel(8);
        let shutdown = CancellationToken::new();
        let before = Utc::now();
        let handles = spawn_all(
            &[device("pump-station", addr, meters)],
            tx,
            shutdown.clone(),
        );
        let envelope = recv(&mut rx, Duration::from_secs(5)).await;
        let after = Utc::now();

        assert_eq!(
            envelope.origin,
            Origin::Modbus {
                device: "pump-station".into()
            }
        );
        assert_eq!(envelope.utility, "mlynary");
        assert!(envelope.ack.is_none());
        let got: Vec<(&str, i64, ReadingFlags)> = envelope
            .decoded
            .readings
            .iter()
            .map(|r| (r.meter.as_str(), r.litres, r.device_flags))
            .collect();
        assert_eq!(
            got,
            [
                ("WM-A", 12_340, ReadingFlags(ReadingFlags::LEAK)),
                ("WM-B", 1_235, ReadingFlags(0)),
                (
                    "WM-C",
                    5_000_000_123,
                    ReadingFlags(ReadingFlags::BURST | ReadingFlags::LOW_BATTERY)
                ),
            ]
        );
        for reading in &envelope.decoded.readings {
            assert!(matches!(reading.meter, MeterRef::Serial(_)));
            assert_eq!(reading.source, ReadingSource::Modbus);
            assert!(before <= reading.measured_at && reading.measured_at <= after);
        }
        let [rejection] = envelope.decoded.rejected.as_slice() else {
            panic!("{:?}", envelope.decoded.rejected);
        };
        assert_eq!(rejection.reason, RejectReason::AboveRegisterMax);
        assert_eq!(rejection.meter, Some(MeterRef::Serial("WM-D".into())));
        assert!(rejection.detail.contains("1000"), "{}", rejection.detail);

        // Registers 0..=4 and 30..=43 (gap 35..40 read through): two requests, unit id 7.
        assert_eq!(registers.reads(), [(7, 0, 4), (7, 30, 14)]);

        shutdown.cancel();
        for handle in handles {
            tokio::time::timeout(Duration::from_secs(1), handle)
                .await
                .unwrap()
                .unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_silent_device_backs_off_while_a_healthy_one_keeps_its_schedule() {
        let (silent_addr, accepted, _silent) = test_server::start_silent().await;
        let (healthy_addr, _server) = test_server::start(bulk_registers(20)).await;
        let (tx, mut rx) = mpsc::channel(1024);
        let shutdown = CancellationToken::new();

        let start = std::time::Instant::now();
        let mut silent = device("silent", silent_addr, bulk_meters("S", 3));
        silent.retries = 1;
        let silent_task = tokio::spawn(run_device_with(
            silent,
            fast(1_000, 100, 300),
            tx.clone(),
            shutdown.clone(),
        ));
        let healthy_task = tokio::spawn(run_device_with(
            device("healthy", healthy_addr, bulk_meters("H", 20)),
            fast(50, 1_000, 50),
            tx,
            shutdown.clone(),
        ));

        let window = Duration::from_millis(1_500);
        let mut healthy = 0;
        let deadline = tokio::time::Instant::now() + window;
        while let Ok(Some(envelope)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            assert_eq!(
                envelope.origin.name(),
                "healthy",
                "the silent device delivered"
            );
            assert_eq!(envelope.decoded.readings.len(), 20);
            assert_eq!(envelope.decoded.readings[19].litres, 1_019);
            healthy += 1;
        }
        let accepted: Vec<Duration> = accepted
            .lock()
            .unwrap()
            .iter()
            .map(|t| t.duration_since(start))
            .collect();
        shutdown.cancel();

        // Every 50 ms from the start: 31 polls in an ideal world; allow for a loaded machine.
        assert!(
            healthy >= 20,
            "healthy device delivered only {healthy} envelopes"
        );
        // The silent device: poll 1 connects at 0 and, after the 100 ms timeout, once more
        // (one retry); then waits 150..300 ms, poll 2 connects twice; waits 300..600 ms, poll 3
        // connects twice (≥ 850 ms), then waits ≥ 500 ms: 4 to 6 connections in 1.5 s. Without
        // back-off it would be 15.
        assert!(
            (4..=6).contains(&accepted.len()),
            "silent device connections at {accepted:?}"
        );
        // The retry follows the first attempt by the timeout; the next poll comes after a
        // back-off on top of it.
        let gap = |i: usize| accepted[i + 1] - accepted[i];
        assert!(gap(0) < gap(1), "no back-off between polls: {accepted:?}");
        assert!(gap(1) >= Duration::from_millis(250), "{accepted:?}");

        for task in [silent_task, healthy_task] {
            tokio::time::timeout(Duration::from_secs(1), task)
                .await
                .unwrap()
                .unwrap();
        }
    }

    #[tokio::test]
    async fn a_poll_retries_with_a_new_connection_then_fails() {
        let (addr, accepted, _silent) = test_server::start_silent().await;
        let mut silent = device("silent", addr, bulk_meters("S", 1));
        silent.retries = 2;
        let timing = fast(1_000, 60, 100);
        let plan = ReadPlan::new(&silent.meters);
        let mut poller = Poller::new(silent, timing, plan);
        let started = Instant::now();
        let failure = poller.poll().await.unwrap_err();
        assert!(matches!(failure, Failure::Timeout), "{failure}");
        assert_eq!(failure.outcome(), "timeout");
        assert!(started.elapsed() >= Duration::from_millis(180));
        // First attempt and two retries, each on a fresh connection.
        assert_eq!(accepted.lock().unwrap().len(), 3);
        assert!(poller.connection.is_none());

        // Nothing listening: refused at once, an error rather than a timeout.
        let mut refused = device("refused", unused_address().await, bulk_meters("R", 1));
        refused.retries = 1;
        let plan = ReadPlan::new(&refused.meters);
        let mut poller = Poller::new(refused, timing, plan);
        let failure = poller.poll().await.unwrap_err();
        assert!(matches!(failure, Failure::Connect(_)), "{failure}");
        assert_eq!(failure.outcome(), "error");
    }

    #[tokio::test]
    async fn a_device_down_at_start_is_polled_once_it_is_up() {
        let addr = unused_address().await;
        let (tx, mut rx) = mpsc::channel(8);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_device_with(
            device("late", addr, bulk_meters("L", 2)),
            fast(200, 100, 20),
            tx,
            shutdown.clone(),
        ));

        // Refused for a while: nothing arrives, the task keeps trying.
        assert!(
            tokio::time::timeout(Duration::from_millis(300), rx.recv())
                .await
                .is_err()
        );
        assert!(!task.is_finished());

        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let _server = test_server::serve(listener, bulk_registers(2));
        let up = Instant::now();
        let envelope = recv(&mut rx, Duration::from_secs(2)).await;
        // Back-off is capped at the 200 ms interval.
        assert!(up.elapsed() < Duration::from_millis(1_000));
        let litres: Vec<i64> = envelope.decoded.readings.iter().map(|r| r.litres).collect();
        assert_eq!(litres, [1_000, 1_001]);

        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn shutdown_and_a_closed_output_stop_the_loop_promptly() {
        let prompt = Duration::from_millis(200);
        let (addr, _server) = test_server::start(bulk_registers(1)).await;

        // Waiting for the next poll (an hour away).
        let (tx, mut rx) = mpsc::channel(8);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_device(
            device("idle", addr, bulk_meters("I", 1)),
            tx,
            shutdown.clone(),
        ));
        recv(&mut rx, Duration::from_secs(5)).await;
        shutdown.cancel();
        tokio::time::timeout(prompt, task).await.unwrap().unwrap();

        // In the middle of a request the device will never answer (10 s timeout).
        let (silent_addr, accepted, _silent) = test_server::start_silent().await;
        let (tx, _rx) = mpsc::channel(8);
        let shutdown = CancellationToken::new();
        let mut hanging = device("hanging", silent_addr, bulk_meters("H", 1));
        hanging.timeout_ms = 10_000;
        let task = tokio::spawn(run_device(hanging, tx, shutdown.clone()));
        while accepted.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        shutdown.cancel();
        tokio::time::timeout(prompt, task).await.unwrap().unwrap();

        // Blocked on a full output queue.
        let (tx, _rx) = mpsc::channel(1);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_device_with(
            device("blocked", addr, bulk_meters("B", 1)),
            fast(10, 1_000, 10),
            tx,
            shutdown.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!task.is_finished());
        shutdown.cancel();
        tokio::time::timeout(prompt, task).await.unwrap().unwrap();

        // The receiving side is gone: the task ends by itself.
        let (tx, rx) = mpsc::channel(8);
        let task = tokio::spawn(run_device_with(
            device("orphan", addr, bulk_meters("O", 1)),
            fast(10, 1_000, 10),
            tx,
            CancellationToken::new(),
        ));
        drop(rx);
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_device_without_readable_meters_ends_without_polling() {
        let mut bad = bulk_meters("X", 1);
        bad[0].scale = "ten".into();
        let (addr, accepted, _silent) = test_server::start_silent().await;
        let (tx, _rx) = mpsc::channel(8);
        tokio::time::timeout(
            Duration::from_secs(1),
            run_device(
                device("misconfigured", addr, bad),
                tx,
                CancellationToken::new(),
            ),
        )
        .await
        .unwrap();
        assert!(accepted.lock().unwrap().is_empty());
    }
}
