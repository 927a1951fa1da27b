//! Deliberately bad input: every kind of payload the ingest must reject or quarantine
//! (docs/ingest.md, "Validation"), injected next to the valid readings at configurable rates.
//!
//! Whether a reading is accompanied by garbage of a kind, and what that garbage looks like, is a
//! pure function of (seed, kind, meter index, measurement instant), so a run with the same seed
//! produces the same garbage whatever the timing. Each [`GarbageItem`] says what it is, which
//! meter and instant it names, and which rejection reason the ingest should give
//! ([`GarbageKind::expected_reason`]).
//!
//! Garbage that names a real meter (negative, non-numeric or too large values, missing fields,
//! the heat meter) uses an instant one second after a real measurement: no measurement of the
//! same meter is ever there (slots are at least a minute apart and measured at least five
//! seconds into the slot), so the item cannot be mistaken for a conflicting duplicate. A
//! conflicting duplicate uses the exact instant of a real reading with another value, and must
//! be delivered after the reading it contradicts ([`GarbageItem::after_original`]).
//!
//! Identical duplicates and late (out-of-order) transmissions are not garbage: the model makes
//! them ([`crate::model::FaultRates`]).

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::encode::{
    self, JsonObject, WmbusDriver, gateway_name, litres_as_m3, mix2, radio_id_hex, readings_topic,
    timestamp, wmbusmeters_name, wmbusmeters_topic,
};
use crate::model::{MeterModel, RadioId, Transmission};

/// A kind of bad input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GarbageKind {
    /// Not JSON, truncated JSON, or JSON of no known shape.
    MalformedJson,
    /// A serial number or radio id no meter of the fleet has.
    UnknownMeter,
    /// An instant days after both the simulated and the real clock.
    FutureTimestamp,
    /// A volume below zero.
    NegativeValue,
    /// A volume that is not a number.
    NonNumericValue,
    /// A volume above the meter's register maximum.
    AboveRegisterMax,
    /// A reading without its meter, instant or volume.
    MissingField,
    /// A gateway batch of more than 10,000 readings.
    OversizedBatch,
    /// A wmbusmeters telegram of a heat meter.
    WrongMedia,
    /// The same meter and instant as a valid reading, with a different volume.
    ConflictingDuplicate,
}

impl GarbageKind {
    pub const ALL: [GarbageKind; 10] = [
        GarbageKind::MalformedJson,
        GarbageKind::UnknownMeter,
        GarbageKind::FutureTimestamp,
        GarbageKind::NegativeValue,
        GarbageKind::NonNumericValue,
        GarbageKind::AboveRegisterMax,
        GarbageKind::MissingField,
        GarbageKind::OversizedBatch,
        GarbageKind::WrongMedia,
        GarbageKind::ConflictingDuplicate,
    ];

    /// The kind's name (snake case).
    pub fn name(self) -> &'static str {
        match self {
            GarbageKind::MalformedJson => "malformed_json",
            GarbageKind::UnknownMeter => "unknown_meter",
            GarbageKind::FutureTimestamp => "future_timestamp",
            GarbageKind::NegativeValue => "negative_value",
            GarbageKind::NonNumericValue => "non_numeric_value",
            GarbageKind::AboveRegisterMax => "above_register_max",
            GarbageKind::MissingField => "missing_field",
            GarbageKind::OversizedBatch => "oversized_batch",
            GarbageKind::WrongMedia => "wrong_media",
            GarbageKind::ConflictingDuplicate => "conflicting_duplicate",
        }
    }

    /// The rejection reason docs/ingest.md gives for this kind (`unknown_meter` is a quarantine).
    pub fn expected_reason(self) -> &'static str {
        match self {
            GarbageKind::MalformedJson => "malformed_payload",
            GarbageKind::UnknownMeter => "unknown_meter",
            GarbageKind::FutureTimestamp => "future_timestamp",
            GarbageKind::NegativeValue => "negative_value",
            GarbageKind::NonNumericValue => "non_numeric_value",
            GarbageKind::AboveRegisterMax => "above_register_max",
            GarbageKind::MissingField => "missing_field",
            GarbageKind::OversizedBatch => "batch_too_large",
            GarbageKind::WrongMedia => "not_a_water_meter",
            GarbageKind::ConflictingDuplicate => "conflicting_duplicate",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How much garbage of each kind accompanies the valid readings: the probability, for each
/// reading (identical duplicates excluded), that one item of the kind is added. Rates at or
/// above 1 add an item to every reading.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GarbageRates {
    pub malformed_json: f64,
    pub unknown_meter: f64,
    pub future_timestamp: f64,
    pub negative_value: f64,
    pub non_numeric_value: f64,
    pub above_register_max: f64,
    pub missing_field: f64,
    pub oversized_batch: f64,
    pub wrong_media: f64,
    pub conflicting_duplicate: f64,
}

impl GarbageRates {
    /// No garbage at all.
    pub fn none() -> Self {
        GarbageRates::default()
    }

    /// The same rate for every kind except oversized batches (which are large: 1/100 of it).
    pub fn uniform(rate: f64) -> Self {
        let mut r = GarbageRates::default();
        for kind in GarbageKind::ALL {
            r.set(kind, rate);
        }
        r.oversized_batch = rate / 100.0;
        r
    }

    /// The rate of `kind`.
    pub fn get(&self, kind: GarbageKind) -> f64 {
        match kind {
            GarbageKind::MalformedJson => self.malformed_json,
            GarbageKind::UnknownMeter => self.unknown_meter,
            GarbageKind::FutureTimestamp => self.future_timestamp,
            GarbageKind::NegativeValue => self.negative_value,
            GarbageKind::NonNumericValue => self.non_numeric_value,
            GarbageKind::AboveRegisterMax => self.above_register_max,
            GarbageKind::MissingField => self.missing_field,
            GarbageKind::OversizedBatch => self.oversized_batch,
            GarbageKind::WrongMedia => self.wrong_media,
            GarbageKind::ConflictingDuplicate => self.conflicting_duplicate,
        }
    }

    /// Sets the rate of `kind`.
    pub fn set(&mut self, kind: GarbageKind, rate: f64) {
        let slot = match kind {
            GarbageKind::MalformedJson => &mut self.malformed_json,
            GarbageKind::UnknownMeter => &mut self.unknown_meter,
            GarbageKind::FutureTimestamp => &mut self.future_timestamp,
            GarbageKind::NegativeValue => &mut self.negative_value,
            GarbageKind::NonNumericValue => &mut self.non_numeric_value,
            GarbageKind::AboveRegisterMax => &mut self.above_register_max,
            GarbageKind::MissingField => &mut self.missing_field,
            GarbageKind::OversizedBatch => &mut self.oversized_batch,
            GarbageKind::WrongMedia => &mut self.wrong_media,
            GarbageKind::ConflictingDuplicate => &mut self.conflicting_duplicate,
        };
        *slot = rate;
    }

    /// Whether no garbage is produced.
    pub fn is_none(&self) -> bool {
        GarbageKind::ALL.iter().all(|&k| {
            let r = self.get(k);
            r.is_nan() || r <= 0.0
        })
    }
}

/// One piece of bad input, ready to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct GarbageItem {
    pub kind: GarbageKind,
    pub topic: String,
    pub payload: Bytes,
    /// The meter as the payload names it (serial or radio id), if it names one.
    pub meter: Option<String>,
    /// The instant the payload names, if any.
    pub at: Option<DateTime<Utc>>,
    /// What is wrong, for people.
    pub detail: String,
    /// Must reach the ingest after the valid reading it contradicts (conflicting duplicates).
    pub after_original: bool,
}

/// Where garbage goes and what "now" is.
#[derive(Clone, Copy, Debug)]
pub struct GarbageContext<'a> {
    /// Prefix of every topic (empty in production).
    pub topic_prefix: &'a str,
    /// The utility of the topics (own format and wmbusmeters).
    pub utility: &'a str,
    /// The real clock: future timestamps lie days after both it and the simulated instant, so
    /// that they are in the future for the ingest too.
    pub wall_now: DateTime<Utc>,
}

/// Makes garbage for the meters of one simulated fleet.
#[derive(Clone, Debug)]
pub struct GarbageMaker {
    seed: u64,
    rates: GarbageRates,
    thresholds: [u64; 10],
    /// Radio ids (original and replacement) of the simulated meters, sorted.
    known_radio_ids: Vec<u32>,
}

impl GarbageMaker {
    /// A maker for `meters` (whose radio ids unknown-meter garbage avoids).
    pub fn new<'a>(
        seed: u64,
        rates: GarbageRates,
        meters: impl IntoIterator<Item = &'a MeterModel>,
    ) -> Self {
        let mut ids = Vec::new();
        for m in meters {
            ids.push(m.radio_id().0);
            if let Some(r) = m.replacement() {
                ids.push(r.new_radio_id.0);
            }
        }
        Self::with_radio_ids(seed, rates, ids)
    }

    /// A maker avoiding the radio ids `ids` for unknown meters.
    pub fn with_radio_ids(seed: u64, rates: GarbageRates, mut ids: Vec<u32>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        let mut thresholds = [0; 10];
        for kind in GarbageKind::ALL {
            thresholds[kind.index()] = threshold(rates.get(kind));
        }
        GarbageMaker {
            seed,
            rates,
            thresholds,
            known_radio_ids: ids,
        }
    }

    /// The rates.
    pub fn rates(&self) -> &GarbageRates {
        &self.rates
    }

    /// Whether `id` belongs to a simulated meter.
    pub fn is_known_radio_id(&self, id: RadioId) -> bool {
        self.known_radio_ids.binary_search(&id.0).is_ok()
    }

    /// The hash deciding garbage of `kind` for the reading of `meter` at `at`.
    fn draw(&self, kind: GarbageKind, meter: u64, at: DateTime<Utc>) -> u64 {
        mix2(
            mix2(self.seed, 0x6761_7262_6167_6500 | kind as u64),
            mix2(meter, at.timestamp() as u64),
        )
    }

    /// Whether the reading of meter `index` measured at `at` is accompanied by garbage of `kind`.
    fn hits(&self, kind: GarbageKind, index: u64, at: DateTime<Utc>) -> bool {
        let th = self.thresholds[kind.index()];
        th == u64::MAX || (th > 0 && self.draw(kind, index, at) < th)
    }

    /// The kinds of garbage accompanying the transmission `tx` of meter `index` (hashes only,
    /// cheap). Identical duplicates get none.
    pub fn kinds_for(&self, index: u64, tx: &Transmission) -> Vec<GarbageKind> {
        if tx.duplicate {
            return Vec::new();
        }
        GarbageKind::ALL
            .into_iter()
            .filter(|&k| self.hits(k, index, tx.measured_at))
            .collect()
    }

    /// The garbage accompanying the transmission `tx` of `meter`: for each kind, at most one
    /// item, with the kind's probability. Identical duplicates get none.
    pub fn for_transmission(
        &self,
        meter: &MeterModel,
        tx: &Transmission,
        ctx: &GarbageContext<'_>,
    ) -> Vec<GarbageItem> {
        self.kinds_for(meter.index(), tx)
            .into_iter()
            .map(|k| self.make(k, meter, tx, ctx))
            .collect()
    }

    /// An item of `kind` derived from the transmission `tx` of `meter`.
    pub fn make(
        &self,
        kind: GarbageKind,
        meter: &MeterModel,
        tx: &Transmission,
        ctx: &GarbageContext<'_>,
    ) -> GarbageItem {
        let h = mix64(self.draw(kind, meter.index(), tx.measured_at) ^ 0x5a5a);
        let r = &tx.reading;
        let serial = r.serial.to_string();
        let own_topic = readings_topic(ctx.topic_prefix, ctx.utility);
        let next_second = tx.measured_at + Duration::seconds(1);
        let item = |topic: String, payload: String, meter: Option<String>, at, detail: String| {
            GarbageItem {
                kind,
                topic,
                payload: Bytes::from(payload),
                meter,
                at,
                detail,
                after_original: false,
            }
        };
        match kind {
            GarbageKind::MalformedJson => {
                let valid = encode::single(tx);
                match h % 6 {
                    0 => {
                        let cut = valid.len() / 2;
                        item(
                            own_topic,
                            valid[..cut].to_string(),
                            None,
                            None,
                            "truncated JSON".into(),
                        )
                    }
                    1 => {
                        let trailing = format!("{},}}", &valid[..valid.len() - 1]);
                        item(own_topic, trailing, None, None, "trailing comma".into())
                    }
                    2 => item(
                        own_topic,
                        format!("READING {serial} {} l", r.litres),
                        None,
                        None,
                        "plain text".into(),
                    ),
                    3 => item(
                        own_topic,
                        format!("[{}]", r.litres),
                        None,
                        None,
                        "JSON of no known shape (an array of numbers)".into(),
                    ),
                    4 => GarbageItem {
                        kind,
                        topic: own_topic,
                        payload: Bytes::from_static(b"\xff\xfe{\"serial\":\x00\x01"),
                        meter: None,
                        at: None,
                        detail: "binary, not UTF-8".into(),
                        after_original: false,
                    },
                    _ => {
                        let name = wmbusmeters_name(r.serial);
                        let telegram = encode::wmbusmeters(WmbusDriver::Iperl, &name, tx);
                        let cut = telegram.len() * 2 / 3;
                        item(
                            wmbusmeters_topic(ctx.topic_prefix, ctx.utility, &name),
                            telegram[..cut].to_string(),
                            None,
                            None,
                            "truncated wmbusmeters telegram".into(),
                        )
                    }
                }
            }
            GarbageKind::UnknownMeter => match h % 3 {
                0 => {
                    // Fleet serials start with A, B or C.
                    let unknown = format!("Z{:02}{:08}", r.serial.year, (h >> 8) % 100_000_000);
                    let mut o = JsonObject::new();
                    o.string("serial", &unknown);
                    o.string("at", &timestamp(tx.measured_at));
                    o.raw("litres", &r.litres.to_string());
                    item(
                        own_topic,
                        o.finish(),
                        Some(unknown),
                        Some(tx.measured_at),
                        "unknown serial".into(),
                    )
                }
                1 => {
                    let id = radio_id_hex(self.unknown_radio_id(h));
                    let mut o = JsonObject::new();
                    o.string("radio_id", &id);
                    o.string("at", &timestamp(tx.measured_at));
                    o.raw("litres", &r.litres.to_string());
                    item(
                        own_topic,
                        o.finish(),
                        Some(id),
                        Some(tx.measured_at),
                        "unknown radio id".into(),
                    )
                }
                _ => {
                    let id = self.unknown_radio_id(h);
                    let mut foreign = *tx;
                    foreign.reading.radio_id = id;
                    let name = format!("foreign{}", radio_id_hex(id));
                    item(
                        wmbusmeters_topic(ctx.topic_prefix, ctx.utility, &name),
                        encode::wmbusmeters(WmbusDriver::Hydrus, &name, &foreign),
                        Some(radio_id_hex(id)),
                        Some(tx.measured_at),
                        "wmbusmeters telegram of an unknown radio id".into(),
                    )
                }
            },
            GarbageKind::FutureTimestamp => {
                let days = 1 + (h % 30) as i64;
                let base = tx.measured_at.max(ctx.wall_now);
                let at = base + Duration::days(days) + Duration::seconds((h >> 8) as i64 % 3_600);
                let mut o = JsonObject::new();
                o.string("serial", &serial);
                o.string("at", &timestamp(at));
                o.raw("litres", &r.litres.to_string());
                item(
                    own_topic,
                    o.finish(),
                    Some(serial),
                    Some(at),
                    format!("{days} days in the future"),
                )
            }
            GarbageKind::NegativeValue => {
                let mut o = JsonObject::new();
                o.string("serial", &serial);
                o.string("at", &timestamp(next_second));
                let detail = match h % 3 {
                    0 => {
                        let v = format!("-{}", 1 + (h >> 8) % 5_000);
                        o.raw("litres", &v);
                        format!("litres {v}")
                    }
                    1 => {
                        let v = format!("-{}", litres_as_m3(1 + (h >> 8) % 5_000));
                        o.string("m3", &v);
                        format!("m3 \"{v}\"")
                    }
                    _ => {
                        let v = format!("-{}", litres_as_m3(1 + (h >> 8) % 5_000));
                        o.raw("m3", &v);
                        format!("m3 {v}")
                    }
                };
                item(
                    own_topic,
                    o.finish(),
                    Some(serial),
                    Some(next_second),
                    detail,
                )
            }
            GarbageKind::NonNumericValue => {
                let mut o = JsonObject::new();
                o.string("serial", &serial);
                o.string("at", &timestamp(next_second));
                let detail = match h % 4 {
                    0 => {
                        o.string("litres", "n/a");
                        "litres \"n/a\""
                    }
                    1 => {
                        o.string("m3", "dwanaście");
                        "m3 \"dwanaście\""
                    }
                    2 => {
                        o.raw("litres", "true");
                        "litres true"
                    }
                    _ => {
                        o.raw("litres", "{\"value\":12}");
                        "litres an object"
                    }
                };
                item(
                    own_topic,
                    o.finish(),
                    Some(serial),
                    Some(next_second),
                    detail.into(),
                )
            }
            GarbageKind::AboveRegisterMax => {
                let mut o = JsonObject::new();
                o.string("serial", &serial);
                o.string("at", &timestamp(next_second));
                let detail = if h.is_multiple_of(2) {
                    let v = meter.register_max() + 1 + (h >> 8) % 10_000;
                    o.raw("litres", &v.to_string());
                    format!(
                        "litres {v} above the register maximum {}",
                        meter.register_max()
                    )
                } else {
                    let v = format!("{}.000", 1_000_000_000_000u64 + (h >> 8) % 1_000);
                    o.string("m3", &v);
                    format!("m3 \"{v}\" (absurd)")
                };
                item(
                    own_topic,
                    o.finish(),
                    Some(serial),
                    Some(next_second),
                    detail,
                )
            }
            GarbageKind::MissingField => {
                let mut o = JsonObject::new();
                let (meter_named, at, detail) = match h % 3 {
                    0 => {
                        o.string("at", &timestamp(next_second));
                        o.raw("litres", &r.litres.to_string());
                        (None, Some(next_second), "no meter")
                    }
                    1 => {
                        o.string("serial", &serial);
                        o.raw("litres", &r.litres.to_string());
                        (Some(serial.clone()), None, "no instant")
                    }
                    _ => {
                        o.string("serial", &serial);
                        o.string("at", &timestamp(next_second));
                        (Some(serial.clone()), Some(next_second), "no volume")
                    }
                };
                item(own_topic, o.finish(), meter_named, at, detail.into())
            }
            GarbageKind::OversizedBatch => {
                let n = encode::MAX_BATCH_READINGS + 1 + (h % 50) as usize;
                let mut elements = Vec::with_capacity(n);
                let mut k = h;
                for i in 0..n {
                    k = mix64(k.wrapping_add(i as u64));
                    let mut fake = *tx;
                    fake.reading.radio_id = self.unknown_radio_id(k);
                    fake.measured_at = tx.measured_at - Duration::seconds(i as i64);
                    elements.push(fake);
                }
                let gateway = gateway_name(ctx.utility, 99);
                item(
                    own_topic,
                    encode::batch(&gateway, tx.sent_at, &elements),
                    None,
                    Some(tx.measured_at),
                    format!("{n} readings of unknown meters in one batch"),
                )
            }
            GarbageKind::WrongMedia => {
                let id = radio_id_hex(r.radio_id);
                let name = format!("heat{}", r.serial);
                let mut o = JsonObject::new();
                o.string("_", "telegram");
                o.string("media", "heat");
                o.string("meter", "multical603");
                o.string("name", &name);
                o.string("id", &id);
                o.string("status", "OK");
                o.raw("total_energy_consumption_kwh", &(r.litres / 7).to_string());
                o.raw("total_volume_m3", &litres_as_m3(r.litres));
                o.raw("volume_flow_m3h", "0");
                o.raw(
                    "t1_temperature_c",
                    &format!("{}.{}", 50 + h % 20, (h >> 5) % 10),
                );
                o.raw(
                    "t2_temperature_c",
                    &format!("{}.{}", 30 + h % 15, (h >> 9) % 10),
                );
                o.string("timestamp", &timestamp(next_second));
                o.raw("rssi_dbm", &format!("-{}", 60 + (h >> 12) % 30));
                o.string("device", "rtlwmbus[00000001]");
                item(
                    wmbusmeters_topic(ctx.topic_prefix, ctx.utility, &name),
                    o.finish(),
                    Some(id),
                    Some(next_second),
                    "heat meter telegram (media heat)".into(),
                )
            }
            GarbageKind::ConflictingDuplicate => {
                let delta = 1 + (h >> 8) % 50;
                let other = if r.litres + delta <= meter.register_max() {
                    r.litres + delta
                } else {
                    r.litres.saturating_sub(delta)
                };
                let mut o = JsonObject::new();
                o.string("serial", &serial);
                o.string("at", &timestamp(tx.measured_at));
                o.raw("litres", &other.to_string());
                GarbageItem {
                    after_original: true,
                    ..item(
                        own_topic,
                        o.finish(),
                        Some(serial),
                        Some(tx.measured_at),
                        format!("litres {other} where {} was sent", r.litres),
                    )
                }
            }
        }
    }

    /// A radio id no simulated meter has, derived from `h`.
    pub fn unknown_radio_id(&self, h: u64) -> RadioId {
        let mut k = h;
        loop {
            let candidate = RadioId(mix64(k ^ self.seed) as u32);
            if !self.is_known_radio_id(candidate) {
                return candidate;
            }
            k = k.wrapping_add(1);
        }
    }
}

/// The hash threshold of a probability.
fn threshold(p: f64) -> u64 {
    if p.is_nan() || p <= 0.0 {
        0
    } else if p >= 1.0 {
        u64::MAX
    } else {
        (p * 18_446_744_073_709_551_616.0) as u64
    }
}

fn mix64(x: u64) -> u64 {
    encode::mix64(x)
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use serde_json::Value;

    use super::*;
    use crate::model::{FaultRates, FleetSpec};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    struct Setup {
        meters: Vec<MeterModel>,
        txs: Vec<(usize, Transmission)>,
    }

    fn setup() -> Setup {
        let start = t("2026-01-01T00:00:00Z");
        let fleet = FleetSpec {
            faults: FaultRates {
                replacements_per_year: 2.0,
                ..FaultRates::none()
            },
            ..FleetSpec::new(11, start)
        };
        let meters: Vec<MeterModel> = fleet.meters(0..30).collect();
        let txs = meters
            .iter()
            .enumerate()
            .flat_map(|(i, m)| {
                m.transmissions(start, start + Duration::days(10), 4)
                    .map(move |tx| (i, tx))
            })
            .collect();
        Setup { meters, txs }
    }

    fn ctx() -> GarbageContext<'static> {
        GarbageContext {
            topic_prefix: "p/",
            utility: "mlynary",
            wall_now: t("2026-06-01T00:00:00Z"),
        }
    }

    fn all_items(maker: &GarbageMaker, s: &Setup) -> Vec<GarbageItem> {
        s.txs
            .iter()
            .flat_map(|(i, tx)| maker.for_transmission(&s.meters[*i], tx, &ctx()))
            .collect()
    }

    fn json(item: &GarbageItem) -> Value {
        serde_json::from_slice(&item.payload)
            .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&item.payload)))
    }

    #[test]
    fn garbage_is_deterministic_by_seed() {
        let s = setup();
        let rates = GarbageRates::uniform(0.2);
        let a = all_items(&GarbageMaker::new(5, rates, &s.meters), &s);
        let b = all_items(&GarbageMaker::new(5, rates, &s.meters), &s);
        let c = all_items(&GarbageMaker::new(6, rates, &s.meters), &s);
        assert!(!a.is_empty());
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn rates_set_how_much_garbage_of_each_kind_there_is() {
        let s = setup();
        let readings = s.txs.iter().filter(|(_, tx)| !tx.duplicate).count() as f64;
        let mut rates = GarbageRates::none();
        rates.negative_value = 0.25;
        rates.missing_field = 1.0;
        let items = all_items(&GarbageMaker::new(1, rates, &s.meters), &s);
        let mut counts: HashMap<GarbageKind, usize> = HashMap::new();
        for i in &items {
            *counts.entry(i.kind).or_default() += 1;
        }
        assert_eq!(counts.len(), 2, "{counts:?}");
        assert_eq!(counts[&GarbageKind::MissingField] as f64, readings);
        let share = counts[&GarbageKind::NegativeValue] as f64 / readings;
        assert!((0.18..0.32).contains(&share), "{share}");
        assert!(all_items(&GarbageMaker::new(1, GarbageRates::none(), &s.meters), &s).is_empty());
        assert!(GarbageRates::none().is_none() && !rates.is_none());
    }

    /// Every kind, from every transmission, is what it claims to be.
    #[test]
    fn each_kind_of_garbage_is_what_it_claims() {
        let s = setup();
        let maker = GarbageMaker::new(9, GarbageRates::none(), &s.meters);
        let fleet_serials: HashSet<String> = s
            .meters
            .iter()
            .flat_map(|m| {
                let mut v = vec![m.serial().to_string()];
                if let Some(r) = m.replacement() {
                    v.push(r.new_serial.to_string());
                }
                v
            })
            .collect();
        let mut variants: HashMap<GarbageKind, HashSet<String>> = HashMap::new();
        for (i, tx) in s.txs.iter().filter(|(_, tx)| !tx.duplicate).take(200) {
            let m = &s.meters[*i];
            let r = &tx.reading;
            for kind in GarbageKind::ALL {
                let item = maker.make(kind, m, tx, &ctx());
                assert_eq!(item.kind, kind);
                variants
                    .entry(kind)
                    .or_default()
                    .insert(item.detail.clone());
                let own = item.topic == "p/ebok/mlynary/readings";
                assert!(
                    own || item.topic.starts_with("p/wmbusmeters/mlynary/"),
                    "{}",
                    item.topic
                );
                assert_eq!(
                    item.after_original,
                    kind == GarbageKind::ConflictingDuplicate
                );
                if kind == GarbageKind::MalformedJson {
                    let parsed: Result<Value, _> = serde_json::from_slice(&item.payload);
                    match parsed {
                        Err(_) => {}
                        Ok(v) => assert!(v.is_array(), "{v}"),
                    }
                    continue;
                }
                let v = json(&item);
                match kind {
                    GarbageKind::UnknownMeter => {
                        let named = item.meter.clone().unwrap();
                        if let Some(serial) = v.get("serial") {
                            assert!(!fleet_serials.contains(serial.as_str().unwrap()));
                        } else {
                            let hex = v.get("radio_id").or(v.get("id")).unwrap();
                            let id = u32::from_str_radix(hex.as_str().unwrap(), 16).unwrap();
                            assert_eq!(hex.as_str().unwrap(), named);
                            assert!(!maker.is_known_radio_id(RadioId(id)));
                            assert!(s.meters.iter().all(|m| {
                                m.radio_id().0 != id
                                    && m.replacement().is_none_or(|r| r.new_radio_id.0 != id)
                            }));
                        }
                    }
                    GarbageKind::FutureTimestamp => {
                        let at: DateTime<Utc> = v["at"].as_str().unwrap().parse().unwrap();
                        assert!(at >= ctx().wall_now + Duration::days(1));
                        assert!(at >= tx.measured_at + Duration::days(1));
                        assert_eq!(v["serial"], r.serial.to_string());
                        assert_eq!(v["litres"], r.litres);
                    }
                    GarbageKind::NegativeValue => {
                        let text = v.get("litres").or(v.get("m3")).unwrap();
                        let n: f64 = match text {
                            Value::String(s) => s.parse().unwrap(),
                            other => other.as_f64().unwrap(),
                        };
                        assert!(n < 0.0);
                        assert_eq!(v["at"], timestamp(tx.measured_at + Duration::seconds(1)));
                    }
                    GarbageKind::NonNumericValue => {
                        let value = v.get("litres").or(v.get("m3")).unwrap();
                        let numeric = value.is_number()
                            || value.as_str().is_some_and(|s| s.parse::<f64>().is_ok());
                        assert!(!numeric, "{value}");
                    }
                    GarbageKind::AboveRegisterMax => {
                        let litres = match (v.get("litres"), v.get("m3")) {
                            (Some(l), None) => l.as_u64().unwrap() as f64,
                            (None, Some(m3)) => m3.as_str().unwrap().parse::<f64>().unwrap() * 1e3,
                            other => panic!("{other:?}"),
                        };
                        assert!(litres > m.register_max() as f64);
                    }
                    GarbageKind::MissingField => {
                        let o = v.as_object().unwrap();
                        let has_meter = o.contains_key("serial") || o.contains_key("radio_id");
                        let has_volume = o.contains_key("litres") || o.contains_key("m3");
                        let present = [has_meter, o.contains_key("at"), has_volume]
                            .iter()
                            .filter(|b| **b)
                            .count();
                        assert_eq!(present, 2, "{v}");
                    }
                    GarbageKind::OversizedBatch => {
                        let readings = v["readings"].as_array().unwrap();
                        assert!(readings.len() > encode::MAX_BATCH_READINGS);
                        for e in readings.iter().step_by(997) {
                            let id =
                                u32::from_str_radix(e["radio_id"].as_str().unwrap(), 16).unwrap();
                            assert!(!maker.is_known_radio_id(RadioId(id)));
                        }
                    }
                    GarbageKind::WrongMedia => {
                        assert_eq!(v["media"], "heat");
                        assert_eq!(v["id"], radio_id_hex(r.radio_id));
                        assert!(v["total_volume_m3"].is_number());
                    }
                    GarbageKind::ConflictingDuplicate => {
                        assert_eq!(v["serial"], r.serial.to_string());
                        assert_eq!(v["at"], timestamp(tx.measured_at));
                        let other = v["litres"].as_u64().unwrap();
                        assert_ne!(other, r.litres);
                        assert!(other <= m.register_max());
                    }
                    GarbageKind::MalformedJson => unreachable!(),
                }
            }
        }
        // Every variant of the kinds shows up over 200 readings.
        assert_eq!(variants[&GarbageKind::MalformedJson].len(), 6);
        assert_eq!(variants[&GarbageKind::UnknownMeter].len(), 3);
        assert_eq!(variants[&GarbageKind::NonNumericValue].len(), 4);
        assert_eq!(variants[&GarbageKind::MissingField].len(), 3);
    }

    #[test]
    fn kinds_name_the_rejection_reason_of_docs_ingest() {
        let reasons: HashSet<&str> = GarbageKind::ALL
            .iter()
            .map(|k| k.expected_reason())
            .collect();
        assert_eq!(reasons.len(), GarbageKind::ALL.len());
        assert_eq!(
            GarbageKind::OversizedBatch.expected_reason(),
            "batch_too_large"
        );
        assert_eq!(
            GarbageKind::WrongMedia.expected_reason(),
            "not_a_water_meter"
        );
    }
}
