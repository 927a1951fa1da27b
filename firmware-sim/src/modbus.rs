//! Modbus TCP servers for simulations and tests: one server ([`serve`]) over any
//! [`RegisterSource`], with three sources. [`BulkMeters`] exposes simulated bulk meters, as the
//! ingest's Modbus poller sees a real device (docs/ingest.md, "Modbus TCP"); [`RegisterMap`] is
//! a register map a test sets word by word, which records every read (ingest's poller tests);
//! [`ZoneInlets`] exposes the inlet meters of network zones with the same map.
//!
//! Both answer function 0x03 (holding registers) and 0x04 (input registers, the same words);
//! other functions (writes included) get "illegal function", and a read of no register or of
//! more than 125 gets "illegal data value", as the protocol says.
//!
//! [`BulkMeters`]' register map, for meter `k` of the served list:
//!
//! | register | content |
//! |---|---|
//! | `10k` … `10k+3` | the register in litres, u64, big word order (high word first) |
//! | `10k+4` | status word: bit 0 leak, 1 burst, 2 backflow, 3 tamper, 4 dry, 5 low battery |
//! | `10k+5` … `10k+9` | reserved, read as 0 |
//!
//! Values are the model's at the simulation clock's `now` when the request arrives (one
//! [`MeterCursor`] per meter, so repeated polls cost little). Addresses past the last meter
//! answer with the exception "illegal data address"; the unit id is ignored.

use std::collections::HashMap;
use std::future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::ensure;
use tokio::net::TcpListener;
use tokio_modbus::prelude::{ExceptionCode, Request, Response, SlaveRequest};
use tokio_modbus::server::Service;
use tokio_modbus::server::tcp::{Server, accept_tcp_connection};
use tokio_util::sync::CancellationToken;

use crate::clock::SimClock;
use crate::model::{MeterCursor, MeterModel, ZoneInlet, ZoneInletCursor};

/// Registers per meter.
pub const REGISTERS_PER_METER: u16 = 10;

/// The most meters one server can expose (the 16-bit register address space).
pub const MAX_METERS: usize = 65_536 / REGISTERS_PER_METER as usize;

/// The most registers one read may ask for (Modbus limit).
pub const MAX_READ: u16 = 125;

/// Simulated bulk meters behind one Modbus unit.
pub struct BulkMeters {
    meters: Vec<MeterModel>,
    cursors: Mutex<Vec<Option<MeterCursor>>>,
    clock: SimClock,
}

impl BulkMeters {
    /// Meters `meters` (meter `k` at registers `10k…`) on the time of `clock`.
    pub fn new(meters: Vec<MeterModel>, clock: SimClock) -> Self {
        let cursors = Mutex::new(vec![None; meters.len()]);
        BulkMeters {
            meters,
            cursors,
            clock,
        }
    }

    /// The `count` registers from `address` now.
    pub fn read(&self, address: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
        check_count(count)?;
        let last = u32::from(address) + u32::from(count) - 1;
        let meters = self.meters.len() as u32;
        if last >= meters * u32::from(REGISTERS_PER_METER) {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        let now = self.clock.now();
        let mut cursors = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::with_capacity(usize::from(count));
        let mut current: Option<(usize, [u16; REGISTERS_PER_METER as usize])> = None;
        for reg in u32::from(address)..=last {
            let k = (reg / u32::from(REGISTERS_PER_METER)) as usize;
            let offset = (reg % u32::from(REGISTERS_PER_METER)) as usize;
            if current.is_none_or(|(c, _)| c != k) {
                let cursor = cursors[k].get_or_insert_with(|| self.meters[k].cursor(now));
                let reading = cursor.advance_to(now);
                let mut block = [0u16; REGISTERS_PER_METER as usize];
                let l = reading.litres;
                block[0] = (l >> 48) as u16;
                block[1] = (l >> 32) as u16;
                block[2] = (l >> 16) as u16;
                block[3] = l as u16;
                block[4] = u16::from(reading.status.bits());
                current = Some((k, block));
            }
            if let Some((_, block)) = &current {
                out.push(block[offset]);
            }
        }
        Ok(out)
    }
}

/// Simulated inlet meters of network zones behind one Modbus unit, with [`BulkMeters`]'s
/// register map (their status word is always 0).
pub struct ZoneInlets {
    cursors: Mutex<Vec<ZoneInletCursor>>,
    clock: SimClock,
}

impl ZoneInlets {
    pub fn new(inlets: &[ZoneInlet], clock: SimClock) -> Self {
        let now = clock.now();
        ZoneInlets {
            cursors: Mutex::new(inlets.iter().map(|i| i.cursor(now)).collect()),
            clock,
        }
    }
}

impl RegisterSource for ZoneInlets {
    fn read(&self, _unit: u8, address: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
        check_count(count)?;
        let mut cursors = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        let last = u32::from(address) + u32::from(count) - 1;
        if last >= cursors.len() as u32 * u32::from(REGISTERS_PER_METER) {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        let now = self.clock.now();
        Ok((u32::from(address)..=last)
            .map(|reg| {
                let k = (reg / u32::from(REGISTERS_PER_METER)) as usize;
                let litres = cursors[k].advance_to(now);
                match reg % u32::from(REGISTERS_PER_METER) {
                    offset @ 0..=3 => (litres >> (16 * (3 - offset))) as u16,
                    _ => 0,
                }
            })
            .collect())
    }
}

/// A read of no register or of more than the protocol allows is "illegal data value".
fn check_count(count: u16) -> Result<(), ExceptionCode> {
    if count == 0 || count > MAX_READ {
        return Err(ExceptionCode::IllegalDataValue);
    }
    Ok(())
}

/// What a Modbus unit answers to a read of `count` registers from `address`.
pub trait RegisterSource: Send + Sync + 'static {
    fn read(&self, unit: u8, address: u16, count: u16) -> Result<Vec<u16>, ExceptionCode>;
}

impl RegisterSource for BulkMeters {
    fn read(&self, _unit: u8, address: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
        BulkMeters::read(self, address, count)
    }
}

/// Registers a test sets word by word (unset ones read as 0, at any address), shared with the
/// test through clones, with the `(unit id, first register, count)` of every read in order.
#[derive(Clone, Default)]
pub struct RegisterMap {
    words: Arc<Mutex<HashMap<u16, u16>>>,
    reads: Arc<Mutex<Vec<(u8, u16, u16)>>>,
}

impl RegisterMap {
    /// Sets the registers from `first` on to `words` (past 65535 they wrap to 0, as reads do).
    pub fn set_words(&self, first: u16, words: &[u16]) {
        let mut map = self.words.lock().unwrap_or_else(|e| e.into_inner());
        for (i, word) in words.iter().enumerate() {
            map.insert(first.wrapping_add(i as u16), *word);
        }
    }

    /// Every read so far: `(unit id, first register, count)`.
    pub fn reads(&self) -> Vec<(u8, u16, u16)> {
        self.reads.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl RegisterSource for RegisterMap {
    fn read(&self, unit: u8, address: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
        check_count(count)?;
        self.reads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((unit, address, count));
        let words = self.words.lock().unwrap_or_else(|e| e.into_inner());
        Ok((0..count)
            .map(|i| words.get(&address.wrapping_add(i)).copied().unwrap_or(0))
            .collect())
    }
}

/// A [`RegisterSource`] as tokio-modbus serves it.
struct Unit<S>(Arc<S>);

impl<S: RegisterSource> Service for Unit<S> {
    type Request = SlaveRequest<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = future::Ready<Result<Response, ExceptionCode>>;

    fn call(&self, request: Self::Request) -> Self::Future {
        let unit = request.slave;
        future::ready(match request.request {
            Request::ReadHoldingRegisters(address, count) => self
                .0
                .read(unit, address, count)
                .map(Response::ReadHoldingRegisters),
            Request::ReadInputRegisters(address, count) => self
                .0
                .read(unit, address, count)
                .map(Response::ReadInputRegisters),
            _ => Err(ExceptionCode::IllegalFunction),
        })
    }
}

/// Serves `source` on `listener` until `shutdown` is cancelled (open connections are closed
/// then).
pub async fn serve<S: RegisterSource>(
    listener: TcpListener,
    source: S,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let source = Arc::new(source);
    let server = Server::new(listener);
    let new_service = move |_: SocketAddr| Ok(Some(Unit(Arc::clone(&source))));
    let on_connected = move |stream, address| {
        let new_service = new_service.clone();
        async move { accept_tcp_connection(stream, address, new_service) }
    };
    let on_process_error = |error: std::io::Error| {
        tracing::debug!(%error, "Modbus connection ended with an error");
    };
    tokio::select! {
        served = server.serve(&on_connected, on_process_error) => served?,
        _ = shutdown.cancelled() => {}
    }
    Ok(())
}

/// Serves `meters` as [`BulkMeters`] on the time of `clock` (see [`serve`]).
pub async fn serve_meters(
    listener: TcpListener,
    meters: Vec<MeterModel>,
    clock: SimClock,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    ensure!(
        meters.len() <= MAX_METERS,
        "a Modbus server exposes at most {MAX_METERS} meters, got {}",
        meters.len()
    );
    serve(listener, BulkMeters::new(meters, clock), shutdown).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration as StdDuration;

    use chrono::{DateTime, Duration, Utc};
    use tokio_modbus::client::{Reader, Writer};
    use tokio_modbus::prelude::tcp;

    use super::*;
    use crate::model::{FaultRates, FleetSpec, StatusFlags};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn words_to_u64(w: &[u16]) -> u64 {
        w.iter().fold(0u64, |acc, &x| (acc << 16) | u64::from(x))
    }

    /// A fleet of bulk meters with frequent faults, so that some status word is set.
    fn fleet() -> FleetSpec {
        FleetSpec {
            faults: FaultRates {
                leaks_per_year: 12.0,
                low_battery_per_year: 4.0,
                ..FaultRates::none()
            },
            ..FleetSpec::new(21, t("2025-01-01T00:00:00Z"))
        }
    }

    #[test]
    fn registers_hold_the_model_value_high_word_first_and_the_status_bits() {
        let fleet = fleet();
        let meters: Vec<MeterModel> = fleet.meters(0..40).collect();
        let at = t("2025-09-01T12:00:00Z");
        // A stopped clock: speed so small that no time passes during the test.
        let clock = SimClock::new(at, 1e-9).unwrap();
        let bulk = BulkMeters::new(meters.clone(), clock);
        let mut flagged = 0;
        for (k, m) in meters.iter().enumerate() {
            let words = bulk.read(10 * k as u16, 10).unwrap();
            let expected = m.register_at(at);
            assert_eq!(words_to_u64(&words[..4]), expected.litres);
            assert_eq!(words[4], u16::from(expected.status.bits()));
            assert_eq!(&words[5..], &[0; 5]);
            if !expected.status.is_empty() {
                flagged += 1;
            }
        }
        assert!(flagged > 0);
        // Reads across meters and partial reads line up.
        let across = bulk.read(13, 12).unwrap();
        assert_eq!(
            words_to_u64(&across[7..11]),
            meters[2].register_at(at).litres
        );
        let low = bulk.read(3, 1).unwrap();
        assert_eq!(low[0], meters[0].register_at(at).litres as u16);
    }

    #[test]
    fn illegal_reads_are_modbus_exceptions() {
        let meters: Vec<MeterModel> = fleet().meters(0..3).collect();
        let bulk = BulkMeters::new(meters, SimClock::real_time(t("2025-03-01T00:00:00Z")));
        assert_eq!(bulk.read(30, 1), Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(bulk.read(25, 10), Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(bulk.read(65_535, 1), Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(bulk.read(0, 0), Err(ExceptionCode::IllegalDataValue));
        assert_eq!(bulk.read(0, 126), Err(ExceptionCode::IllegalDataValue));
        assert!(bulk.read(29, 1).is_ok());
    }

    #[test]
    fn a_register_map_answers_what_was_set_zero_elsewhere_and_records_each_read() {
        let map = RegisterMap::default();
        map.set_words(65_534, &[7, 8, 9]);
        assert_eq!(RegisterSource::read(&map, 3, 65_533, 2), Ok(vec![0, 7]));
        assert_eq!(RegisterSource::read(&map, 4, 65_535, 3), Ok(vec![8, 9, 0]));
        assert_eq!(
            RegisterSource::read(&map, 4, 0, 126),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(map.reads(), [(3, 65_533, 2), (4, 65_535, 3)]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tokio_modbus_client_reads_the_model_register_and_status_over_tcp() {
        let fleet = fleet();
        let meters: Vec<MeterModel> = fleet.meters(100..120).collect();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        // One real second is one simulated day.
        let start = t("2025-06-01T00:00:00Z");
        let clock = SimClock::new(start, 86_400.0).unwrap();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve_meters(
            listener,
            meters.clone(),
            clock,
            shutdown.clone(),
        ));

        let mut ctx = tcp::connect(address).await.unwrap();
        for k in [0usize, 7, 19] {
            let before = clock.now();
            let words = ctx
                .read_holding_registers(10 * k as u16, 5)
                .await
                .unwrap()
                .unwrap();
            let after = clock.now();
            let litres = words_to_u64(&words[..4]);
            // The value is the model's at an instant during the request.
            let lo = meters[k].register_at(before).litres;
            let hi = meters[k].register_at(after).litres;
            assert!(
                (lo.min(hi)..=lo.max(hi)).contains(&litres),
                "{lo} <= {litres} <= {hi}"
            );
            let status = StatusFlags::from_bits_truncate(words[4] as u8);
            let possible = meters[k].status_at(before) | meters[k].status_at(after);
            assert!(possible.contains(status), "{status:?} not in {possible:?}");
        }
        // Input registers mirror holding registers.
        let input = ctx.read_input_registers(194, 1).await.unwrap().unwrap();
        assert_eq!(input.len(), 1);
        // Simulated time moves: a second later the register has moved on by a day.
        let first = words_to_u64(&ctx.read_holding_registers(0, 4).await.unwrap().unwrap());
        tokio::time::sleep(StdDuration::from_millis(1_100)).await;
        let later = words_to_u64(&ctx.read_holding_registers(0, 4).await.unwrap().unwrap());
        let consumed = meters[0].consumed_between(start, start + Duration::days(3));
        assert!(later != first || consumed == 0, "{first} {later}");

        // Illegal requests get exceptions, and the connection stays usable.
        let err = ctx.read_holding_registers(200, 1).await.unwrap();
        assert_eq!(err, Err(ExceptionCode::IllegalDataAddress));
        let err = ctx.read_holding_registers(0, 200).await.unwrap();
        assert_eq!(err, Err(ExceptionCode::IllegalDataValue));
        let err = ctx.write_single_register(0, 1).await.unwrap();
        assert_eq!(err, Err(ExceptionCode::IllegalFunction));
        assert!(ctx.read_holding_registers(4, 1).await.unwrap().is_ok());

        shutdown.cancel();
        let stopped = tokio::time::timeout(StdDuration::from_secs(5), server).await;
        assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
    }
}
