//! The MQTT simulator: [`run`] publishes what a fleet of meters transmits, in simulated time
//! that runs at a chosen speed, with garbage mixed in; [`blast`] publishes pre-encoded valid
//! readings as fast as the broker takes them, for benchmarks.
//!
//! # How `run` walks time
//!
//! Each meter has a persistent [`Transmissions`] iterator of the model (one cursor per meter,
//! constant cost per telegram) and a priority queue holds every meter's next telegram by send
//! time. The walk advances in slices of simulated time — up to the simulation clock's `now`,
//! at most [`SimConfig::max_slice`] at a time — popping every telegram sent before the slice
//! end, in send order, so nothing is materialised beyond one pending telegram per meter. With a
//! million meters that is a million small iterators and a heap, never a fleet-day of readings.
//!
//! Each meter sends in one [`Format`], drawn from the [`FormatMix`] by its index:
//!
//! * single readings and wmbusmeters telegrams are published when the meter sends them;
//! * batch meters report through gateways (`meters_per_gateway` consecutive meters each); a
//!   gateway collects the telegrams sent in a window of [`SimConfig::gateway_interval`] and
//!   publishes them at the window's end, in batches of at most [`SimConfig::batch_size`].
//!
//! Garbage ([`crate::garbage`]) is published next to the reading it derives from; conflicting
//! duplicates wait [`SimConfig::conflict_delay`] of real time after the original, so that the
//! ingest sees the original first.
//!
//! Messages go through one MQTT 5 connection (module `link`) with QoS 1, a bounded in-flight
//! window and an optional rate limit; when `until` is reached, `run` waits for every PUBACK.
//! Counts in the [`SimReport`] and the optional [`Manifest`] cover acknowledged messages only.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};
use std::ops::Range;
use std::time::Duration as StdDuration;

use anyhow::{Context as _, bail, ensure};
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock::SimClock;
use crate::encode::{
    self, Format, FormatKind, MAX_BATCH_READINGS, WmbusDriver, gateway_name, mix2, readings_topic,
    wmbusmeters_name, wmbusmeters_topic,
};
use crate::garbage::{GarbageContext, GarbageItem, GarbageKind, GarbageMaker, GarbageRates};
pub use crate::link::Broker;
use crate::link::{Link, LinkStats, ManifestPart, Meta};
use crate::model::{
    FleetSpec, MAX_PER_DAY, MeterModel, RadioId, SerialNumber, Transmission, Transmissions,
};

/// Shares of the meters sending in each format (relative weights).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatMix {
    pub single: u32,
    pub batch: u32,
    pub wmbusmeters: u32,
}

impl Default for FormatMix {
    /// Half single readings, 30 % through gateways, 20 % wmbusmeters.
    fn default() -> Self {
        FormatMix {
            single: 5,
            batch: 3,
            wmbusmeters: 2,
        }
    }
}

impl FormatMix {
    /// Every meter in one format.
    pub fn only(kind: FormatKind) -> Self {
        FormatMix {
            single: u32::from(kind == FormatKind::Single),
            batch: u32::from(kind == FormatKind::Batch),
            wmbusmeters: u32::from(kind == FormatKind::Wmbusmeters),
        }
    }

    fn total(&self) -> u64 {
        u64::from(self.single) + u64::from(self.batch) + u64::from(self.wmbusmeters)
    }

    /// The format of meter `index` of the fleet with `seed` (a pure function of both); the
    /// wmbusmeters driver is drawn uniformly.
    pub fn format_of(&self, seed: u64, index: u64, batch_size: usize) -> Format {
        let h = mix2(seed ^ 0x666f_726d_6174, index);
        let total = self.total().max(1);
        let x = h % total;
        if x < u64::from(self.single) {
            Format::Single
        } else if x < u64::from(self.single) + u64::from(self.batch) {
            Format::Batch {
                max_readings: batch_size,
            }
        } else {
            let drivers = WmbusDriver::ALL;
            Format::Wmbusmeters {
                driver: drivers[((h >> 32) % drivers.len() as u64) as usize],
            }
        }
    }
}

/// What to simulate and how to publish it.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub fleet: FleetSpec,
    /// Indexes of the simulated meters.
    pub meters: Range<u64>,
    /// The utility of the topics (`ebok/<utility>/readings`, `wmbusmeters/<utility>/<name>`).
    pub utility: String,
    /// Prefix of every topic (empty in production; unique per test).
    pub topic_prefix: String,
    pub mix: FormatMix,
    /// Telegrams a day per meter (1 to [`MAX_PER_DAY`]).
    pub per_day: u32,
    /// Simulated start: the first telegram published is the first sent at or after it.
    pub from: DateTime<Utc>,
    /// Simulated end (exclusive); `None` runs until shutdown.
    pub until: Option<DateTime<Utc>>,
    /// Simulated seconds per real second (`f64::INFINITY`: as fast as possible).
    pub speed: f64,
    pub garbage: GarbageRates,
    pub garbage_seed: u64,
    /// Unacknowledged messages at most (QoS 1 in-flight window).
    pub max_in_flight: u16,
    /// Messages per second at most.
    pub rate_limit: Option<f64>,
    /// Readings per gateway batch at most (1 to 10,000).
    pub batch_size: usize,
    /// Simulated time a gateway collects telegrams before sending them.
    pub gateway_interval: Duration,
    /// Consecutive meters served by one gateway.
    pub meters_per_gateway: u64,
    /// The longest stretch of simulated time processed in one step.
    pub max_slice: Duration,
    /// Real time a conflicting duplicate waits after its original is published.
    pub conflict_delay: StdDuration,
    /// Keep a [`Manifest`] of everything acknowledged (for end-to-end tests).
    pub manifest: bool,
}

impl SimConfig {
    /// Meters `meters` of `fleet` sending one telegram a day from `from` in the default mix,
    /// in real time, without garbage, forever.
    pub fn new(
        fleet: FleetSpec,
        meters: Range<u64>,
        utility: impl Into<String>,
        from: DateTime<Utc>,
    ) -> Self {
        SimConfig {
            fleet,
            meters,
            utility: utility.into(),
            topic_prefix: String::new(),
            mix: FormatMix::default(),
            per_day: 1,
            from,
            until: None,
            speed: 1.0,
            garbage: GarbageRates::none(),
            garbage_seed: 0,
            max_in_flight: 256,
            rate_limit: None,
            batch_size: 1_000,
            gateway_interval: Duration::hours(1),
            meters_per_gateway: 500,
            max_slice: Duration::hours(1),
            conflict_delay: StdDuration::from_secs(2),
            manifest: false,
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        ensure!(!self.meters.is_empty(), "no meters to simulate");
        ensure!(
            self.meters.end <= FleetSpec::MAX_METERS,
            "meter indexes must be below {}",
            FleetSpec::MAX_METERS
        );
        ensure!(
            (1..=MAX_PER_DAY).contains(&self.per_day),
            "per_day must be in 1..={MAX_PER_DAY}"
        );
        ensure!(
            (1..=MAX_BATCH_READINGS).contains(&self.batch_size),
            "batch_size must be in 1..={MAX_BATCH_READINGS}"
        );
        ensure!(self.mix.total() > 0, "the format mix is empty");
        ensure!(self.max_in_flight > 0, "max_in_flight must be positive");
        ensure!(
            self.gateway_interval > Duration::zero() && self.max_slice > Duration::zero(),
            "gateway_interval and max_slice must be positive"
        );
        ensure!(
            self.meters_per_gateway > 0,
            "meters_per_gateway must be positive"
        );
        if let Some(until) = self.until {
            ensure!(until >= self.from, "until is before from");
        }
        Ok(())
    }
}

/// A valid reading that was sent (and acknowledged).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ManifestReading {
    pub meter_index: u64,
    pub measured_at: DateTime<Utc>,
    /// The meter installed at `measured_at` (a replacement has its own serial and radio id).
    pub serial: SerialNumber,
    pub radio_id: RadioId,
    pub litres: u64,
}

/// A garbage item that was sent (and acknowledged).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestGarbage {
    pub kind: GarbageKind,
    pub topic: String,
    /// The meter as the payload names it, if it does.
    pub meter: Option<String>,
    pub at: Option<DateTime<Utc>>,
    pub detail: String,
}

/// Everything a run sent, for comparing with what the database holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Valid readings, deduplicated (identical duplicates appear once), sorted by meter and
    /// instant.
    pub readings: Vec<ManifestReading>,
    /// Garbage items in acknowledgement order.
    pub garbage: Vec<ManifestGarbage>,
}

/// What a run published; every count is of messages the broker acknowledged.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SimReport {
    /// Valid messages per format.
    pub messages: BTreeMap<FormatKind, u64>,
    /// Garbage messages per kind.
    pub garbage: BTreeMap<GarbageKind, u64>,
    /// Valid reading elements (identical duplicates included).
    pub readings: u64,
    /// Identical duplicates (of the model) among them.
    pub duplicates: u64,
    /// Late (out-of-order) telegrams among them.
    pub late: u64,
    pub payload_bytes: u64,
    /// Messages published again after a reconnect.
    pub retransmissions: u64,
    pub reconnects: u64,
    /// Messages the broker refused in its PUBACK.
    pub refused: u64,
    /// Messages given up after ten submissions without an acknowledgement.
    pub failed: u64,
    /// Messages still unacknowledged when the run stopped (after a shutdown).
    pub unacknowledged: u64,
    /// Every telegram sent before this simulated instant was published.
    pub reached: DateTime<Utc>,
    pub manifest: Option<Manifest>,
}

impl SimReport {
    /// All acknowledged messages, valid and garbage.
    pub fn total_messages(&self) -> u64 {
        self.messages.values().sum::<u64>() + self.garbage.values().sum::<u64>()
    }

    fn from_stats(stats: LinkStats, reached: DateTime<Utc>, manifest: bool) -> Self {
        SimReport {
            messages: stats.messages,
            garbage: stats.garbage,
            readings: stats.readings,
            duplicates: stats.duplicates,
            late: stats.late,
            payload_bytes: stats.payload_bytes,
            retransmissions: stats.retransmissions,
            reconnects: stats.reconnects,
            refused: stats.refused,
            failed: stats.failed,
            unacknowledged: stats.unacknowledged,
            reached,
            manifest: manifest.then(|| Manifest {
                readings: stats.manifest_readings.into_iter().collect(),
                garbage: stats.manifest_garbage,
            }),
        }
    }
}

/// How far into the future the iterators of an open-ended run reach.
const OPEN_END_DAYS: i64 = 36_525;

/// A meter's next telegram in the send-order queue.
struct Next {
    meter: usize,
    tx: Transmission,
}

impl Next {
    fn key(&self) -> (DateTime<Utc>, usize, DateTime<Utc>, bool) {
        (
            self.tx.sent_at,
            self.meter,
            self.tx.measured_at,
            self.tx.duplicate,
        )
    }
}

impl PartialEq for Next {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Next {}

impl PartialOrd for Next {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Next {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// Per meter: its index and its telegrams.
struct MeterState {
    index: u64,
    format: Format,
    telegrams: Transmissions,
}

/// One builder thread's meters, first telegrams (by meter index) and radio ids.
type FleetPart = (Vec<MeterState>, Vec<(u64, Transmission)>, Vec<u32>);

/// Telegrams of gateway windows: (window end, gateway number) → (meter, telegram).
type GatewayWindows = BTreeMap<(DateTime<Utc>, u64), Vec<(usize, Transmission)>>;

/// Builds every meter's iterator (in parallel) and returns them with their first telegrams and
/// all radio ids.
fn build_fleet(config: &SimConfig) -> (Vec<MeterState>, Vec<Next>, Vec<u32>) {
    let end = config
        .until
        .unwrap_or(config.from + Duration::days(OPEN_END_DAYS));
    let indexes: Vec<u64> = config.meters.clone().collect();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(indexes.len().div_ceil(1_000))
        .max(1);
    let chunk = indexes.len().div_ceil(threads);
    let parts: Vec<FleetPart> = std::thread::scope(|s| {
        let handles: Vec<_> = indexes
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut states = Vec::with_capacity(part.len());
                    let mut firsts = Vec::new();
                    let mut ids = Vec::with_capacity(part.len() * 2);
                    for &index in part {
                        let m = config.fleet.meter(index);
                        ids.push(m.radio_id().0);
                        if let Some(r) = m.replacement() {
                            ids.push(r.new_radio_id.0);
                        }
                        let mut telegrams = m.transmissions(config.from, end, config.per_day);
                        if let Some(first) = telegrams.next() {
                            firsts.push((index, first));
                        }
                        states.push(MeterState {
                            index,
                            format: config.mix.format_of(
                                config.fleet.seed,
                                index,
                                config.batch_size,
                            ),
                            telegrams,
                        });
                    }
                    (states, firsts, ids)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("fleet builder thread"))
            .collect()
    });
    let mut states = Vec::with_capacity(indexes.len());
    let mut firsts = Vec::new();
    let mut ids = Vec::with_capacity(indexes.len() * 2);
    let first_index = config.meters.start;
    for (s, f, i) in parts {
        states.extend(s);
        firsts.extend(f.into_iter().map(|(index, tx)| Next {
            meter: (index - first_index) as usize,
            tx,
        }));
        ids.extend(i);
    }
    (states, firsts, ids)
}

/// The state of a run between slices.
struct Walker {
    config: SimConfig,
    meters: Vec<MeterState>,
    queue: BinaryHeap<Reverse<Next>>,
    /// Gateway windows: (window end, gateway number) → telegrams with their meter.
    windows: GatewayWindows,
    /// Conflicting duplicates waiting for their original to be ahead of them.
    delayed: std::collections::VecDeque<(Instant, GarbageItem)>,
    garbage: Option<GarbageMaker>,
    own_topic: String,
    /// Every telegram sent before this instant has been handled.
    position: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Walker {
    fn meta(&self, format: FormatKind, txs: &[(usize, Transmission)]) -> Meta {
        Meta {
            format: Some(format),
            garbage: None,
            readings: txs.len() as u32,
            duplicates: txs.iter().filter(|(_, t)| t.duplicate).count() as u32,
            late: txs.iter().filter(|(_, t)| t.late && !t.duplicate).count() as u32,
            manifest: self.config.manifest.then(|| {
                Box::new(ManifestPart {
                    readings: txs
                        .iter()
                        .map(|(m, t)| ManifestReading {
                            meter_index: self.meters[*m].index,
                            measured_at: t.measured_at,
                            serial: t.reading.serial,
                            radio_id: t.reading.radio_id,
                            litres: t.reading.litres,
                        })
                        .collect(),
                    garbage: None,
                })
            }),
        }
    }

    /// The window end of a gateway telegram sent at `t`.
    fn window_end(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let len = self.config.gateway_interval.num_seconds().max(1);
        let ts = t.timestamp();
        let end = (ts.div_euclid(len) + 1) * len;
        DateTime::from_timestamp(end, 0)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
            .min(self.end)
    }

    /// Publishes what is sent before `target`.
    async fn advance(&mut self, target: DateTime<Utc>, link: &mut Link) -> anyhow::Result<()> {
        while let Some(Reverse(next)) = self.queue.peek() {
            if next.tx.sent_at >= target {
                break;
            }
            let sent_at = next.tx.sent_at;
            self.flush_windows(sent_at, link).await?;
            let Some(Reverse(Next { meter, tx })) = self.queue.pop() else {
                break;
            };
            if let Some(following) = self.meters[meter].telegrams.next() {
                self.queue.push(Reverse(Next {
                    meter,
                    tx: following,
                }));
            }
            match self.meters[meter].format {
                Format::Single => {
                    let payload = encode::single(&tx);
                    let meta = self.meta(FormatKind::Single, &[(meter, tx)]);
                    link.send(self.own_topic.clone(), Bytes::from(payload), meta)
                        .await?;
                    self.garbage_for(meter, &tx, link).await?;
                }
                Format::Wmbusmeters { driver } => {
                    let name = wmbusmeters_name(tx.reading.serial);
                    let payload = encode::wmbusmeters(driver, &name, &tx);
                    let meta = self.meta(FormatKind::Wmbusmeters, &[(meter, tx)]);
                    let topic =
                        wmbusmeters_topic(&self.config.topic_prefix, &self.config.utility, &name);
                    link.send(topic, Bytes::from(payload), meta).await?;
                    self.garbage_for(meter, &tx, link).await?;
                }
                Format::Batch { .. } => {
                    let gateway = 1 + self.meters[meter].index / self.config.meters_per_gateway;
                    let end = self.window_end(tx.sent_at);
                    self.windows
                        .entry((end, gateway))
                        .or_default()
                        .push((meter, tx));
                }
            }
            self.send_due(link, false).await?;
        }
        self.flush_windows(target, link).await?;
        self.position = self.position.max(target);
        Ok(())
    }

    /// Publishes the gateway windows that end at or before `t`.
    async fn flush_windows(&mut self, t: DateTime<Utc>, link: &mut Link) -> anyhow::Result<()> {
        while let Some(entry) = self.windows.first_entry() {
            let (end, gateway) = *entry.key();
            if end > t {
                break;
            }
            let txs = entry.remove();
            let name = gateway_name(&self.config.utility, gateway);
            for chunk in txs.chunks(self.config.batch_size) {
                let plain: Vec<Transmission> = chunk.iter().map(|(_, t)| *t).collect();
                let payload = encode::batch(&name, end, &plain);
                let meta = self.meta(FormatKind::Batch, chunk);
                link.send(self.own_topic.clone(), Bytes::from(payload), meta)
                    .await?;
                for (meter, tx) in chunk {
                    self.garbage_for(*meter, tx, link).await?;
                }
            }
        }
        Ok(())
    }

    /// Publishes (or schedules) the garbage derived from the telegram `tx` of `meter`.
    async fn garbage_for(
        &mut self,
        meter: usize,
        tx: &Transmission,
        link: &mut Link,
    ) -> anyhow::Result<()> {
        let Some(maker) = &self.garbage else {
            return Ok(());
        };
        let index = self.meters[meter].index;
        if maker.kinds_for(index, tx).is_empty() {
            return Ok(());
        }
        let model = self.config.fleet.meter(index);
        let ctx = GarbageContext {
            topic_prefix: &self.config.topic_prefix,
            utility: &self.config.utility,
            wall_now: Utc::now(),
        };
        let items = maker.for_transmission(&model, tx, &ctx);
        for item in items {
            if item.after_original {
                let due = Instant::now() + self.config.conflict_delay;
                self.delayed.push_back((due, item));
            } else {
                self.send_garbage(item, link).await?;
            }
        }
        Ok(())
    }

    async fn send_garbage(&self, item: GarbageItem, link: &mut Link) -> anyhow::Result<()> {
        let meta = Meta {
            format: None,
            garbage: Some(item.kind),
            manifest: self.config.manifest.then(|| {
                Box::new(ManifestPart {
                    readings: Vec::new(),
                    garbage: Some(ManifestGarbage {
                        kind: item.kind,
                        topic: item.topic.clone(),
                        meter: item.meter.clone(),
                        at: item.at,
                        detail: item.detail.clone(),
                    }),
                })
            }),
            ..Meta::default()
        };
        link.send(item.topic, item.payload, meta).await
    }

    /// Publishes the delayed items that are due (all of them, waiting, when `all`).
    async fn send_due(&mut self, link: &mut Link, all: bool) -> anyhow::Result<()> {
        while let Some((due, _)) = self.delayed.front() {
            if *due > Instant::now() {
                if !all {
                    break;
                }
                tokio::time::sleep_until(*due).await;
            }
            if let Some((_, item)) = self.delayed.pop_front() {
                self.send_garbage(item, link).await?;
            }
        }
        Ok(())
    }

    /// The next simulated instant at which something is published.
    fn next_event(&self) -> DateTime<Utc> {
        let queued = self
            .queue
            .peek()
            .map(|Reverse(n)| n.tx.sent_at)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let window = self
            .windows
            .keys()
            .next()
            .map(|(end, _)| *end)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        queued.min(window)
    }
}

/// Runs the simulator until `config.until` (then waits for every acknowledgement) or until
/// `shutdown` is cancelled (then waits at most 5 s for outstanding acknowledgements).
pub async fn run(
    config: SimConfig,
    broker: Broker,
    shutdown: CancellationToken,
) -> anyhow::Result<SimReport> {
    config.validate()?;
    let clock = SimClock::new(config.from, config.speed)?;
    let built = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let (states, firsts, ids) = build_fleet(&config);
            (config, states, firsts, ids)
        })
    };
    let (config, meters, firsts, ids) = tokio::select! {
        built = built => built.context("building the fleet")?,
        _ = shutdown.cancelled() => bail!("shut down while building the fleet"),
    };
    let garbage = (!config.garbage.is_none())
        .then(|| GarbageMaker::with_radio_ids(config.garbage_seed, config.garbage, ids));
    tracing::info!(
        meters = meters.len(),
        from = %config.from,
        until = ?config.until,
        speed = config.speed,
        "simulator started"
    );
    let end = config
        .until
        .unwrap_or(config.from + Duration::days(OPEN_END_DAYS));
    let mut link = Link::open(&broker, None, config.max_in_flight, config.rate_limit);
    let mut walker = Walker {
        own_topic: readings_topic(&config.topic_prefix, &config.utility),
        queue: firsts.into_iter().map(Reverse).collect(),
        windows: BTreeMap::new(),
        delayed: Default::default(),
        garbage,
        position: config.from,
        end,
        meters,
        config,
    };
    // Re-base the clock now that the fleet is built.
    let clock = SimClock::new(clock.start_sim, clock.speed)?;

    let walk = async {
        loop {
            let now = clock.now();
            let target = now
                .min(walker.end)
                .min(walker.position + walker.config.max_slice);
            if target > walker.position {
                walker.advance(target, &mut link).await?;
                tokio::task::yield_now().await;
            }
            walker.send_due(&mut link, false).await?;
            if walker.position >= walker.end {
                // The end: last gateway windows and delayed items.
                walker
                    .flush_windows(DateTime::<Utc>::MAX_UTC, &mut link)
                    .await?;
                walker.send_due(&mut link, true).await?;
                return Ok(());
            }
            if target >= now {
                // Caught up with the clock: sleep until something is due.
                let next = walker.next_event().min(walker.end);
                let mut wake = clock
                    .real_at(next)
                    .min(Instant::now() + StdDuration::from_secs(1));
                if let Some((due, _)) = walker.delayed.front() {
                    wake = wake.min(*due);
                }
                tokio::time::sleep_until(wake).await;
            }
        }
    };
    // Every await of the walk (a full window included) gives way to a shutdown.
    let outcome: anyhow::Result<()> = tokio::select! {
        r = walk => r,
        _ = shutdown.cancelled() => Ok(()),
    };
    let reached = walker.position;
    let stats = link.finish(&shutdown, StdDuration::from_secs(5)).await;
    outcome?;
    tracing::info!(
        messages = stats.messages.values().sum::<u64>(),
        readings = stats.readings,
        reached = %reached,
        "simulator stopped"
    );
    Ok(SimReport::from_stats(
        stats,
        reached,
        walker.config.manifest,
    ))
}

// ----- blast -----

/// What [`blast`] sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlastLoad {
    /// `messages` single-reading messages.
    Singles { messages: usize },
    /// `batches` gateway batches of `readings_per_batch` readings each.
    Batches {
        batches: usize,
        readings_per_batch: usize,
    },
}

impl BlastLoad {
    fn readings(&self) -> usize {
        match *self {
            BlastLoad::Singles { messages } => messages,
            BlastLoad::Batches {
                batches,
                readings_per_batch,
            } => batches * readings_per_batch,
        }
    }
}

/// A benchmark load: valid readings of distinct meters and instants, pre-encoded.
#[derive(Clone, Debug)]
pub struct BlastConfig {
    pub fleet: FleetSpec,
    /// Meters whose readings are sent (each sends its first readings from `from`).
    pub meters: Range<u64>,
    pub utility: String,
    pub topic_prefix: String,
    pub from: DateTime<Utc>,
    /// Telegrams a day of each meter (more per day: fewer meters needed).
    pub per_day: u32,
    pub load: BlastLoad,
    /// Parallel MQTT connections.
    pub connections: usize,
    /// In-flight window of each connection.
    pub max_in_flight: u16,
    /// Keep the readings sent in the report.
    pub manifest: bool,
}

/// What a blast achieved.
#[derive(Clone, Debug)]
pub struct BlastReport {
    /// Acknowledged messages and the valid readings in them.
    pub messages: u64,
    pub readings: u64,
    pub payload_bytes: u64,
    /// When publishing started (after encoding).
    pub started: Instant,
    /// The first and last PUBACK.
    pub first_ack: Option<Instant>,
    pub last_ack: Option<Instant>,
    pub retransmissions: u64,
    pub reconnects: u64,
    pub refused: u64,
    pub failed: u64,
    pub unacknowledged: u64,
    /// The readings sent, when asked for.
    pub manifest: Option<Vec<ManifestReading>>,
}

impl BlastReport {
    /// From the start of publishing to the last PUBACK.
    pub fn elapsed(&self) -> Option<StdDuration> {
        self.last_ack.map(|l| l - self.started)
    }

    /// Acknowledged readings per second of [`BlastReport::elapsed`].
    pub fn readings_per_second(&self) -> Option<f64> {
        self.elapsed()
            .map(|e| self.readings as f64 / e.as_secs_f64().max(1e-9))
    }
}

/// Pre-encodes the load of `config` and publishes it over `config.connections` parallel
/// connections as fast as the broker acknowledges, returning when every message is
/// acknowledged (or `shutdown` is cancelled).
pub async fn blast(
    config: BlastConfig,
    broker: Broker,
    shutdown: CancellationToken,
) -> anyhow::Result<BlastReport> {
    ensure!(!config.meters.is_empty(), "no meters");
    ensure!(
        config.meters.end <= FleetSpec::MAX_METERS,
        "meter index too large"
    );
    ensure!((1..=MAX_PER_DAY).contains(&config.per_day), "bad per_day");
    ensure!(config.connections > 0, "connections must be positive");
    if let BlastLoad::Batches {
        readings_per_batch, ..
    } = config.load
    {
        ensure!(
            (1..=MAX_BATCH_READINGS).contains(&readings_per_batch),
            "readings_per_batch must be in 1..={MAX_BATCH_READINGS}"
        );
    }
    let encoded = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || encode_blast(&config))
    };
    let (messages, readings) = tokio::select! {
        e = encoded => e.context("encoding the blast")?,
        _ = shutdown.cancelled() => bail!("shut down while encoding"),
    };
    let topic = readings_topic(&config.topic_prefix, &config.utility);
    // Deal the messages to the connections.
    let k = config.connections;
    let mut shares: Vec<Vec<(Bytes, u32)>> = (0..k).map(|_| Vec::new()).collect();
    for (i, m) in messages.into_iter().enumerate() {
        shares[i % k].push(m);
    }
    let format = match config.load {
        BlastLoad::Singles { .. } => FormatKind::Single,
        BlastLoad::Batches { .. } => FormatKind::Batch,
    };
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(k);
    for (n, share) in shares.into_iter().enumerate() {
        let mut link = Link::open(&broker, Some(n), config.max_in_flight, None);
        let topic = topic.clone();
        let shutdown = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            for (payload, readings) in share {
                let meta = Meta {
                    format: Some(format),
                    readings,
                    ..Meta::default()
                };
                let sent = tokio::select! {
                    r = link.send(topic.clone(), payload, meta) => r,
                    _ = shutdown.cancelled() => break,
                };
                if sent.is_err() {
                    break;
                }
            }
            link.finish(&shutdown, StdDuration::from_secs(5)).await
        }));
    }
    let mut stats = LinkStats::default();
    for t in tasks {
        stats.merge(t.await.context("blast connection task")?);
    }
    Ok(BlastReport {
        messages: stats.messages.values().sum(),
        readings: stats.readings,
        payload_bytes: stats.payload_bytes,
        started,
        first_ack: stats.first_ack,
        last_ack: stats.last_ack,
        retransmissions: stats.retransmissions,
        reconnects: stats.reconnects,
        refused: stats.refused,
        failed: stats.failed,
        unacknowledged: stats.unacknowledged,
        manifest: config.manifest.then_some(readings),
    })
}

/// The readings a blast sends, in send order, without encoding or sending them (benchmarks copy
/// the same rows straight into the database to compare).
pub fn blast_readings(config: &BlastConfig) -> Vec<ManifestReading> {
    encode_blast_readings(config)
        .iter()
        .map(|(t, index)| manifest_reading(t, *index))
        .collect()
}

fn manifest_reading(t: &Transmission, index: u64) -> ManifestReading {
    ManifestReading {
        meter_index: index,
        measured_at: t.measured_at,
        serial: t.reading.serial,
        radio_id: t.reading.radio_id,
        litres: t.reading.litres,
    }
}

/// The blast's transmissions and their meters, in send order.
fn encode_blast_readings(config: &BlastConfig) -> Vec<(Transmission, u64)> {
    let wanted = config.load.readings();
    let meters = config.meters.end - config.meters.start;
    let per_meter = wanted.div_ceil(meters as usize).max(1);
    let end = config.from + Duration::days(OPEN_END_DAYS);
    let indexes: Vec<u64> = config.meters.clone().collect();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(indexes.len())
        .max(1);
    let chunk = indexes.len().div_ceil(threads);
    let mut readings: Vec<(Transmission, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = indexes
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut out = Vec::with_capacity(part.len() * per_meter);
                    for &index in part {
                        let m: MeterModel = config.fleet.meter(index);
                        out.extend(
                            m.transmissions(config.from, end, config.per_day)
                                .filter(|t| !t.duplicate)
                                .take(per_meter)
                                .map(|t| (t, index)),
                        );
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("blast encoder thread"))
            .collect()
    });
    // Interleave meters as a real fleet would: by send time.
    readings.sort_by_key(|(t, index)| (t.sent_at, *index));
    readings.truncate(wanted);
    readings
}

/// The blast's messages (payload, readings in it) and the readings, in send order.
fn encode_blast(config: &BlastConfig) -> (Vec<(Bytes, u32)>, Vec<ManifestReading>) {
    let readings = encode_blast_readings(config);
    let manifest: Vec<ManifestReading> = readings
        .iter()
        .map(|(t, index)| manifest_reading(t, *index))
        .collect();
    let messages = match config.load {
        BlastLoad::Singles { .. } => readings
            .iter()
            .map(|(t, _)| (Bytes::from(encode::single(t)), 1))
            .collect(),
        BlastLoad::Batches {
            readings_per_batch, ..
        } => {
            let plain: Vec<Transmission> = readings.iter().map(|(t, _)| *t).collect();
            plain
                .chunks(readings_per_batch)
                .enumerate()
                .map(|(i, chunk)| {
                    let name = gateway_name(&config.utility, 1 + i as u64 % 50);
                    let sent_at = chunk.iter().map(|t| t.sent_at).max().unwrap_or(config.from);
                    (
                        Bytes::from(encode::batch(&name, sent_at, chunk)),
                        chunk.len() as u32,
                    )
                })
                .collect()
        }
    };
    (messages, manifest)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap, HashSet};
    use std::sync::Arc;

    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::mqttbytes::v5::Packet;
    use rumqttc::v5::{AsyncClient, Event, MqttOptions};
    use serde_json::Value;
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::{Mutex, mpsc};

    use super::*;
    use crate::model::FaultRates;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    use ebok_testkit::mqtt::{Gateway, broker_url, ingest_login};

    /// A gateway account of the test utility `mlynary` that may publish under `prefix` (as an
    /// ingest subscribed to `<prefix>ebok/+/readings` and `<prefix>wmbusmeters/+/#` would have
    /// it), removed when dropped.
    async fn gateway(prefix: &str) -> Gateway {
        let own = format!("{prefix}ebok/+/readings");
        let wmbus = format!("{prefix}wmbusmeters/+/#");
        Gateway::new("mlynary", &[&own, &wmbus]).await
    }

    /// A publisher logged in as `gateway`.
    fn publisher(url: &str, gateway: &Gateway, client_id: String) -> Broker {
        let mut broker = Broker::from_url(url, client_id).unwrap();
        broker.credentials = Some(gateway.login());
        broker
    }

    /// A string no other test (or test process) uses.
    fn unique(name: &str) -> String {
        format!(
            "{name}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        )
    }

    /// Everything published under `prefix`, in arrival order.
    struct Subscriber {
        received: mpsc::UnboundedReceiver<(String, Bytes)>,
        _client: AsyncClient,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Subscriber {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl Subscriber {
        async fn new(prefix: &str) -> Subscriber {
            let broker = Broker::from_url(&broker_url(), unique("sub")).unwrap();
            let mut o = MqttOptions::new(broker.client_id.clone(), broker.host, broker.port);
            let (username, password) = ingest_login();
            o.set_credentials(username, password);
            o.set_keep_alive(StdDuration::from_secs(10));
            o.set_max_packet_size(Some(16 << 20));
            let (client, mut eventloop) = AsyncClient::new(o, 64);
            client
                .subscribe(format!("{prefix}#"), QoS::AtLeastOnce)
                .await
                .unwrap();
            let (tx, received) = mpsc::unbounded_channel();
            let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
            let mut subscribed_tx = Some(subscribed_tx);
            let task = tokio::spawn(async move {
                loop {
                    match eventloop.poll().await {
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            if let Some(s) = subscribed_tx.take() {
                                let _ = s.send(());
                            }
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            let topic = String::from_utf8_lossy(&p.topic).into_owned();
                            if tx.send((topic, p.payload)).is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(e) => panic!("subscriber lost the broker: {e}"),
                    }
                }
            });
            tokio::time::timeout(StdDuration::from_secs(10), subscribed)
                .await
                .expect("SUBACK within 10 s")
                .unwrap();
            Subscriber {
                received,
                _client: client,
                task,
            }
        }

        /// Waits until `n` messages have arrived (in total), then a little more for strays.
        async fn take(&mut self, n: usize) -> Vec<(String, Bytes)> {
            let mut out = Vec::new();
            let deadline = Instant::now() + StdDuration::from_secs(30);
            while out.len() < n {
                match tokio::time::timeout_at(deadline, self.received.recv()).await {
                    Ok(Some(m)) => out.push(m),
                    _ => panic!("only {} of {n} messages arrived", out.len()),
                }
            }
            while let Ok(Some(m)) =
                tokio::time::timeout(StdDuration::from_millis(300), self.received.recv()).await
            {
                out.push(m);
            }
            out
        }
    }

    /// Meter identities → meter index, for decoding what the subscriber received.
    struct Directory {
        by_serial: HashMap<String, u64>,
        by_radio: HashMap<u32, u64>,
    }

    impl Directory {
        fn new(fleet: &FleetSpec, meters: Range<u64>) -> Self {
            let mut d = Directory {
                by_serial: HashMap::new(),
                by_radio: HashMap::new(),
            };
            for m in fleet.meters(meters) {
                d.by_serial.insert(m.serial().to_string(), m.index());
                d.by_radio.insert(m.radio_id().0, m.index());
                if let Some(r) = m.replacement() {
                    d.by_serial.insert(r.new_serial.to_string(), m.index());
                    d.by_radio.insert(r.new_radio_id.0, m.index());
                }
            }
            d
        }
    }

    /// m³ text (`123.456`, at most three decimals) to litres, exactly; `None` if it is not
    /// such a number.
    fn m3_litres(text: &str) -> Option<u64> {
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        if frac.len() > 3 {
            return None;
        }
        Some(int.parse::<u64>().ok()? * 1_000 + format!("{frac:0<3}").parse::<u64>().ok()?)
    }

    /// The valid readings (meter index, instant, litres) in a message, or `None` if it is not a
    /// valid message of a simulated meter. Checks the shapes on the way (gateway batches of
    /// `run` are sent on the hour).
    fn decode(
        dir: &Directory,
        topic: &str,
        payload: &[u8],
    ) -> Option<Vec<(u64, DateTime<Utc>, u64)>> {
        decode_with(dir, topic, payload, true)
    }

    fn decode_with(
        dir: &Directory,
        topic: &str,
        payload: &[u8],
        hourly_batches: bool,
    ) -> Option<Vec<(u64, DateTime<Utc>, u64)>> {
        let text = std::str::from_utf8(payload).ok()?;
        let v: Value = serde_json::from_str(text).ok()?;
        let o = v.as_object()?;
        let at = |v: &Value| -> Option<DateTime<Utc>> {
            Some(
                DateTime::parse_from_rfc3339(v.as_str()?)
                    .ok()?
                    .with_timezone(&Utc),
            )
        };
        if topic.contains("/wmbusmeters/") || topic.starts_with("wmbusmeters/") {
            if o.get("media")?.as_str()? == "heat" {
                return None;
            }
            let id = u32::from_str_radix(o.get("id")?.as_str()?, 16).ok()?;
            let index = *dir.by_radio.get(&id)?;
            let pat = "\"total_m3\":";
            let start = text.find(pat)? + pat.len();
            let raw = &text[start..start + text[start..].find([',', '}'])?];
            return Some(vec![(index, at(o.get("timestamp")?)?, m3_litres(raw)?)]);
        }
        let element = |e: &Value, raw: &str| -> Option<(u64, DateTime<Utc>, u64)> {
            let e = e.as_object()?;
            let index = match (e.get("serial"), e.get("radio_id")) {
                (Some(s), None) => *dir.by_serial.get(s.as_str()?)?,
                (None, Some(r)) => *dir
                    .by_radio
                    .get(&u32::from_str_radix(r.as_str()?, 16).ok()?)?,
                _ => return None,
            };
            let litres = match (e.get("litres"), e.get("m3")) {
                (Some(l), None) => l.as_u64()?,
                (None, Some(Value::String(s))) => m3_litres(s)?,
                (None, Some(n)) if n.is_number() => {
                    // The number's exact text inside the element.
                    let pat = "\"m3\":";
                    let start = raw.find(pat)? + pat.len();
                    m3_litres(&raw[start..start + raw[start..].find([',', '}'])?])?
                }
                _ => return None,
            };
            Some((index, at(e.get("at")?)?, litres))
        };
        if let Some(readings) = o.get("readings") {
            let readings = readings.as_array()?;
            if readings.len() > MAX_BATCH_READINGS {
                return None;
            }
            let sent_at = at(o.get("sent_at")?)?;
            let mut out = Vec::new();
            for e in readings {
                let raw = serde_json::to_string(e).ok()?;
                let r = element(e, &raw)?;
                assert!(r.1 <= sent_at, "a gateway sends what it has received");
                out.push(r);
            }
            if hourly_batches {
                assert_eq!(sent_at.timestamp() % 3_600, 0, "gateways send on the hour");
            }
            Some(out)
        } else {
            Some(vec![element(&v, text)?])
        }
    }

    fn busy_fleet(seed: u64, start: DateTime<Utc>) -> FleetSpec {
        FleetSpec {
            faults: FaultRates {
                duplicate_probability: 0.1,
                late_probability: 0.1,
                replacements_per_year: 20.0,
                leaks_per_year: 6.0,
                gap_day_probability: 0.05,
                ..FaultRates::default()
            },
            ..FleetSpec::new(seed, start)
        }
    }

    /// What the model says the meters send in [from, until): (index, instant, litres).
    fn expected_readings(config: &SimConfig) -> BTreeSet<(u64, DateTime<Utc>, u64)> {
        let until = config.until.unwrap();
        config
            .fleet
            .meters(config.meters.clone())
            .flat_map(|m| {
                let index = m.index();
                m.transmissions(config.from, until, config.per_day)
                    .map(move |tx| (index, tx.measured_at, tx.reading.litres))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn test_config(prefix: &str, fleet: FleetSpec, from: DateTime<Utc>) -> SimConfig {
        SimConfig {
            topic_prefix: prefix.to_string(),
            per_day: 4,
            until: Some(from + Duration::days(3)),
            speed: f64::INFINITY,
            max_in_flight: 32,
            batch_size: 3,
            manifest: true,
            ..SimConfig::new(fleet, 0..20, "mlynary", from)
        }
    }

    fn as_set(m: &Manifest) -> BTreeSet<(u64, DateTime<Utc>, u64)> {
        m.readings
            .iter()
            .map(|r| (r.meter_index, r.measured_at, r.litres))
            .collect()
    }

    #[test]
    fn formats_are_assigned_by_meter_deterministically_in_the_mix_shares() {
        let mix = FormatMix::default();
        let mut counts: HashMap<FormatKind, u32> = HashMap::new();
        let mut drivers = HashSet::new();
        for i in 0..10_000 {
            let f = mix.format_of(3, i, 100);
            assert_eq!(f, mix.format_of(3, i, 100));
            *counts.entry(f.kind()).or_default() += 1;
            if let Format::Wmbusmeters { driver } = f {
                drivers.insert(driver);
            }
        }
        assert!(
            (4_700..5_300).contains(&counts[&FormatKind::Single]),
            "{counts:?}"
        );
        assert!(
            (2_700..3_300).contains(&counts[&FormatKind::Batch]),
            "{counts:?}"
        );
        assert_eq!(drivers.len(), WmbusDriver::ALL.len());
        let only = FormatMix::only(FormatKind::Batch);
        assert!((0..100).all(|i| only.format_of(1, i, 7) == Format::Batch { max_readings: 7 }));
    }

    #[test]
    fn invalid_configurations_are_refused() {
        let from = t("2026-01-01T00:00:00Z");
        let ok = SimConfig::new(FleetSpec::new(1, from), 0..5, "x", from);
        assert!(ok.validate().is_ok());
        for bad in [
            SimConfig {
                meters: 3..3,
                ..ok.clone()
            },
            SimConfig {
                per_day: 0,
                ..ok.clone()
            },
            SimConfig {
                batch_size: 10_001,
                ..ok.clone()
            },
            SimConfig {
                max_in_flight: 0,
                ..ok.clone()
            },
            SimConfig {
                mix: FormatMix {
                    single: 0,
                    batch: 0,
                    wmbusmeters: 0,
                },
                ..ok.clone()
            },
            SimConfig {
                until: Some(from - Duration::days(1)),
                ..ok.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_publisher_delivers_every_transmission_of_a_small_fleet_in_every_format() {
        let prefix = format!("{}/", unique("sim-all"));
        let from = t("2026-03-27T00:00:00Z"); // across the spring DST change
        let fleet = busy_fleet(101, from - Duration::days(30));
        let config = test_config(&prefix, fleet, from);
        let expected = expected_readings(&config);
        let dir = Directory::new(&config.fleet, config.meters.clone());
        let mut sub = Subscriber::new(&prefix).await;
        let gateway = gateway(&prefix).await;
        let broker = publisher(&broker_url(), &gateway, unique("pub"));

        let report = run(config.clone(), broker, CancellationToken::new())
            .await
            .unwrap();

        let manifest = report.manifest.clone().expect("manifest asked for");
        assert_eq!(as_set(&manifest), expected);
        assert_eq!(report.unacknowledged, 0);
        assert_eq!(report.refused, 0);
        assert!(report.garbage.is_empty() && manifest.garbage.is_empty());
        assert_eq!(report.reached, config.until.unwrap());
        for kind in FormatKind::ALL {
            assert!(
                report.messages.get(&kind).copied().unwrap_or(0) > 0,
                "{report:?}"
            );
        }
        assert!(report.duplicates > 0 && report.late > 0, "{report:?}");
        // Every reading element is counted, duplicates included.
        let total_elements: u64 = config
            .fleet
            .meters(config.meters.clone())
            .map(|m| m.transmissions(from, config.until.unwrap(), 4).count() as u64)
            .sum();
        assert_eq!(report.readings, total_elements);

        let received = sub.take(report.total_messages() as usize).await;
        assert_eq!(received.len() as u64, report.total_messages());
        let mut got = BTreeSet::new();
        let mut topics = HashSet::new();
        for (topic, payload) in &received {
            assert!(topic.starts_with(&prefix));
            topics.insert(topic.split('/').nth(1).unwrap().to_string());
            let readings = decode(&dir, topic, payload).unwrap_or_else(|| {
                panic!(
                    "undecodable {topic}: {:?}",
                    String::from_utf8_lossy(payload)
                )
            });
            got.extend(readings);
        }
        assert_eq!(got, expected);
        assert_eq!(
            topics,
            ["ebok", "wmbusmeters"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn garbage_is_published_recorded_and_conflicts_follow_their_originals() {
        let prefix = format!("{}/", unique("sim-garbage"));
        let from = t("2026-05-04T00:00:00Z");
        let fleet = busy_fleet(202, from - Duration::days(400));
        let mut garbage = GarbageRates::uniform(0.04);
        garbage.oversized_batch = 0.01;
        let config = SimConfig {
            garbage,
            garbage_seed: 77,
            conflict_delay: StdDuration::from_millis(200),
            ..test_config(&prefix, fleet, from)
        };
        let expected = expected_readings(&config);
        let dir = Directory::new(&config.fleet, config.meters.clone());
        let mut sub = Subscriber::new(&prefix).await;
        let gateway = gateway(&prefix).await;
        let broker = publisher(&broker_url(), &gateway, unique("pub"));

        let report = run(config.clone(), broker, CancellationToken::new())
            .await
            .unwrap();
        let manifest = report.manifest.clone().unwrap();
        assert_eq!(as_set(&manifest), expected);
        for kind in GarbageKind::ALL {
            let sent = report.garbage.get(&kind).copied().unwrap_or(0);
            let listed = manifest.garbage.iter().filter(|g| g.kind == kind).count() as u64;
            assert!(sent > 0, "no {kind:?} in {report:?}");
            assert_eq!(sent, listed, "{kind:?}");
        }

        let received = sub.take(report.total_messages() as usize).await;
        assert_eq!(received.len() as u64, report.total_messages());
        let mut valid = BTreeSet::new();
        let mut first_seen: HashMap<(u64, DateTime<Utc>), usize> = HashMap::new();
        let mut invalid = 0;
        for (i, (topic, payload)) in received.iter().enumerate() {
            match decode(&dir, topic, payload) {
                Some(readings) if readings.iter().all(|r| expected.contains(r)) => {
                    for r in readings {
                        first_seen.entry((r.0, r.1)).or_insert(i);
                        valid.insert(r);
                    }
                }
                _ => invalid += 1,
            }
        }
        assert_eq!(valid, expected);
        // Garbage that decodes is exactly the conflicting duplicates (valid shape, wrong value)
        // plus what is malformed, unknown or out of range.
        let garbage_messages: u64 = report.garbage.values().sum();
        assert_eq!(invalid, garbage_messages);
        // A conflicting duplicate (same meter and instant as a valid reading, another value)
        // arrives after the reading it contradicts.
        let mut conflicts = 0;
        for (i, (topic, payload)) in received.iter().enumerate() {
            let Some(readings) = decode(&dir, topic, payload) else {
                continue;
            };
            for r in readings.iter().filter(|r| !expected.contains(r)) {
                if let Some(original) = first_seen.get(&(r.0, r.1)) {
                    assert!(*original < i, "conflict {r:?} before its original");
                    conflicts += 1;
                }
            }
        }
        assert_eq!(
            conflicts,
            report.garbage[&GarbageKind::ConflictingDuplicate]
        );
    }

    /// A TCP proxy to the broker whose connections can be cut, as a broker restart does.
    struct Proxy {
        address: String,
        connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
        accept: tokio::task::JoinHandle<()>,
    }

    impl Proxy {
        async fn start(upstream: (String, u16)) -> Proxy {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = format!("mqtt://{}", listener.local_addr().unwrap());
            let connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
            let conns = Arc::clone(&connections);
            let accept = tokio::spawn(async move {
                while let Ok((mut downstream, _)) = listener.accept().await {
                    let upstream = upstream.clone();
                    conns.lock().await.push(tokio::spawn(async move {
                        if let Ok(mut up) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut downstream, &mut up).await;
                        }
                    }));
                }
            });
            Proxy {
                address,
                connections,
                accept,
            }
        }

        /// Drops every open connection.
        async fn cut(&self) -> usize {
            let mut conns = self.connections.lock().await;
            let n = conns.iter().filter(|c| !c.is_finished()).count();
            for c in conns.drain(..) {
                c.abort();
            }
            n
        }
    }

    impl Drop for Proxy {
        fn drop(&mut self) {
            self.accept.abort();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_publisher_reconnects_after_the_connection_drops_and_loses_nothing() {
        let prefix = format!("{}/", unique("sim-reconnect"));
        let from = t("2026-02-01T00:00:00Z");
        let fleet = busy_fleet(303, from - Duration::days(10));
        let config = SimConfig {
            per_day: 48,
            // A simulated day in 0.8 s: the run takes about 2.4 s.
            speed: 86_400.0 / 0.8,
            max_in_flight: 4,
            max_slice: Duration::minutes(10),
            ..test_config(&prefix, fleet, from)
        };
        let expected = expected_readings(&config);
        let dir = Directory::new(&config.fleet, config.meters.clone());
        let mut sub = Subscriber::new(&prefix).await;
        let direct = Broker::from_url(&broker_url(), "unused").unwrap();
        let proxy = Proxy::start((direct.host, direct.port)).await;
        let gateway = gateway(&prefix).await;
        let broker = publisher(&proxy.address, &gateway, unique("pub"));

        let publisher = tokio::spawn(run(config.clone(), broker, CancellationToken::new()));
        let mut cuts = 0;
        for pause in [700, 600, 500] {
            tokio::time::sleep(StdDuration::from_millis(pause)).await;
            cuts += proxy.cut().await;
        }
        let report = tokio::time::timeout(StdDuration::from_secs(60), publisher)
            .await
            .expect("the run ends")
            .unwrap()
            .unwrap();
        assert!(cuts >= 2, "{cuts}");
        assert!(report.reconnects >= 2, "{report:?}");
        assert_eq!(report.unacknowledged, 0);
        assert_eq!(as_set(report.manifest.as_ref().unwrap()), expected);

        // Everything arrived; retransmitted messages may arrive twice.
        let received = sub.take(report.total_messages() as usize).await;
        assert!(received.len() as u64 <= report.total_messages() + report.retransmissions);
        let got: BTreeSet<_> = received
            .iter()
            .flat_map(|(topic, payload)| decode(&dir, topic, payload).unwrap())
            .collect();
        assert_eq!(got, expected);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_rate_limit_spaces_messages() {
        let prefix = format!("{}/", unique("sim-rate"));
        let from = t("2026-02-01T00:00:00Z");
        let config = SimConfig {
            meters: 0..5,
            mix: FormatMix::only(FormatKind::Single),
            rate_limit: Some(50.0),
            until: Some(from + Duration::days(1)),
            ..test_config(
                &prefix,
                FleetSpec {
                    faults: FaultRates::none(),
                    ..FleetSpec::new(6, from)
                },
                from,
            )
        };
        let mut sub = Subscriber::new(&prefix).await;
        let gateway = gateway(&prefix).await;
        let broker = publisher(&broker_url(), &gateway, unique("pub"));
        let started = Instant::now();
        let report = run(config, broker, CancellationToken::new()).await.unwrap();
        let elapsed = started.elapsed();
        let messages = report.total_messages();
        assert_eq!(messages, 20);
        // 20 messages at 50 a second: the last leaves 19/50 s after the first.
        assert!(elapsed >= StdDuration::from_millis(380), "{elapsed:?}");
        assert_eq!(sub.take(messages as usize).await.len() as u64, messages);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_shutdown_stops_an_open_ended_run_with_what_was_acknowledged() {
        let prefix = format!("{}/", unique("sim-shutdown"));
        let from = t("2026-02-01T00:00:00Z");
        let config = SimConfig {
            until: None,
            speed: 86_400.0 * 30.0,
            ..test_config(&prefix, busy_fleet(404, from), from)
        };
        let mut sub = Subscriber::new(&prefix).await;
        let gateway = gateway(&prefix).await;
        let broker = publisher(&broker_url(), &gateway, unique("pub"));
        let shutdown = CancellationToken::new();
        let publisher = tokio::spawn(run(config, broker, shutdown.clone()));
        tokio::time::sleep(StdDuration::from_millis(500)).await;
        shutdown.cancel();
        let report = tokio::time::timeout(StdDuration::from_secs(10), publisher)
            .await
            .expect("stops promptly")
            .unwrap()
            .unwrap();
        assert!(report.reached > from && report.reached < from + Duration::days(100));
        assert!(report.readings > 0);
        let received = sub.take(report.total_messages() as usize).await;
        assert!(received.len() as u64 >= report.total_messages());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn blast_publishes_distinct_valid_readings_over_parallel_connections() {
        let from = t("2026-01-10T00:00:00Z");
        let fleet = busy_fleet(505, from - Duration::days(5));
        for (load, connections) in [
            (BlastLoad::Singles { messages: 3_000 }, 3),
            (
                BlastLoad::Batches {
                    batches: 4,
                    readings_per_batch: 500,
                },
                2,
            ),
        ] {
            let prefix = format!("{}/", unique("blast"));
            let config = BlastConfig {
                fleet,
                meters: 0..200,
                utility: "mlynary".into(),
                topic_prefix: prefix.clone(),
                from,
                per_day: 24,
                load,
                connections,
                max_in_flight: 64,
                manifest: true,
            };
            let dir = Directory::new(&fleet, config.meters.clone());
            let mut sub = Subscriber::new(&prefix).await;
            let gateway = gateway(&prefix).await;
            let broker = publisher(&broker_url(), &gateway, unique("blast"));
            let report = blast(config, broker, CancellationToken::new())
                .await
                .unwrap();
            let wanted = load.readings() as u64;
            assert_eq!(report.readings, wanted);
            assert_eq!(report.unacknowledged, 0);
            let (first, last) = (report.first_ack.unwrap(), report.last_ack.unwrap());
            assert!(report.started <= first && first <= last);
            assert!(report.readings_per_second().unwrap() > 0.0);
            let manifest = report.manifest.unwrap();
            let distinct: BTreeSet<_> = manifest
                .iter()
                .map(|r| (r.meter_index, r.measured_at, r.litres))
                .collect();
            assert_eq!(
                distinct.len() as u64,
                wanted,
                "distinct meters and instants"
            );
            let received = sub.take(report.messages as usize).await;
            let got: BTreeSet<_> = received
                .iter()
                .flat_map(|(topic, payload)| decode_with(&dir, topic, payload, false).unwrap())
                .collect();
            assert_eq!(got, distinct);
        }
    }
}
