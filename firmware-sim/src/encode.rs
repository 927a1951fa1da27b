//! Payload encoders: what simulated meters, gateways and wmbusmeters put on MQTT, exactly as
//! `docs/ingest.md` describes it. Pure functions from [`Transmission`]s to JSON text, and the
//! topic names.
//!
//! * [`single`]: one reading per message, naming the meter by `serial`:
//!   `{"serial":"A1912345678","at":"2026-11-21T02:13:05Z","litres":123456,"alarms":["leak"]}`.
//! * [`batch`]: a gateway batch naming meters by `radio_id` (8 lower-case hex digits). The
//!   volume is written as integer `litres`, as `m3` in a decimal string (`"123.456"`) or, more
//!   rarely, as `m3` in a JSON number, and the instant in UTC or with the Warsaw offset; the form
//!   is a pure function of (radio id, instant), so both forms of each are exercised
//!   deterministically.
//! * [`wmbusmeters`]: one wmbusmeters telegram per message for the drivers multical21, iperl,
//!   hydrus, izar and apatorna1, with the field sets those drivers print (see [`WmbusDriver`]).
//!
//! Topics: the project's own formats go to `<prefix>ebok/<utility>/readings`, wmbusmeters
//! telegrams to `<prefix>wmbusmeters/<name>`; the prefix is empty in production and unique per
//! test so parallel tests do not see each other's messages.
//!
//! Reported alarms are the reading's `alarms_24h` (flags active at any time in the 24 hours up
//! to the measurement), what a meter that latches alarms between telegrams sends.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::model::calendar::TZ;
use crate::model::{RadioId, SerialNumber, StatusFlags, Transmission};

/// The most readings a gateway batch may hold (docs/ingest.md); larger batches are rejected.
pub const MAX_BATCH_READINGS: usize = 10_000;

/// How a meter's readings are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// One reading per message ([`single`]).
    Single,
    /// Through a gateway, in batches of at most `max_readings` readings ([`batch`]).
    Batch { max_readings: usize },
    /// As wmbusmeters telegrams of the given driver ([`wmbusmeters`]).
    Wmbusmeters { driver: WmbusDriver },
}

impl Format {
    /// The format's kind without parameters.
    pub fn kind(&self) -> FormatKind {
        match self {
            Format::Single => FormatKind::Single,
            Format::Batch { .. } => FormatKind::Batch,
            Format::Wmbusmeters { .. } => FormatKind::Wmbusmeters,
        }
    }
}

/// [`Format`] without parameters, for counting.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FormatKind {
    Single,
    Batch,
    Wmbusmeters,
}

impl FormatKind {
    pub const ALL: [FormatKind; 3] = [
        FormatKind::Single,
        FormatKind::Batch,
        FormatKind::Wmbusmeters,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FormatKind::Single => "single",
            FormatKind::Batch => "batch",
            FormatKind::Wmbusmeters => "wmbusmeters",
        }
    }
}

/// The wmbusmeters drivers the simulator imitates, with what each can report:
///
/// | driver | media | status field | flags it can carry |
/// |---|---|---|---|
/// | multical21 | `cold water` | `status` and `current_status`: `DRY REVERSE LEAK BURST` or `OK`, plus `time_dry` … `time_bursting` | dry, backflow, leak, burst |
/// | iperl | `water` | `status`: `LEAK BURST REVERSE TAMPER DRY LOW_BATTERY` or `OK` | all |
/// | hydrus | `water` (some `warm water`) | `status`: `LEAK BURST BACKFLOW MAGNETIC_FIELD DRY LOW_BATTERY` or `OK` | all |
/// | izar | `water` | `current_alarms` / `previous_alarms`: `leakage`, `back_flow`, `mechanical_fraud` joined by commas as izar does, or `no_alarm` | leak, backflow, tamper |
/// | apatorna1 | `water` | `status` as iperl | all |
///
/// The real iperl and apatorna1 drivers print no status; the simulator adds `status` so that
/// their alarms reach the ingest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WmbusDriver {
    Multical21,
    Iperl,
    Hydrus,
    Izar,
    Apatorna1,
}

impl WmbusDriver {
    pub const ALL: [WmbusDriver; 5] = [
        WmbusDriver::Multical21,
        WmbusDriver::Iperl,
        WmbusDriver::Hydrus,
        WmbusDriver::Izar,
        WmbusDriver::Apatorna1,
    ];

    /// The driver name wmbusmeters prints in `meter`.
    pub fn name(self) -> &'static str {
        match self {
            WmbusDriver::Multical21 => "multical21",
            WmbusDriver::Iperl => "iperl",
            WmbusDriver::Hydrus => "hydrus",
            WmbusDriver::Izar => "izar",
            WmbusDriver::Apatorna1 => "apatorna1",
        }
    }
}

/// How a batch element writes its volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VolumeForm {
    /// `"litres": 123456`
    Litres,
    /// `"m3": "123.456"`
    M3String,
    /// `"m3": 123.456`
    M3Number,
}

/// How a batch element writes its instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstantForm {
    /// `2026-11-21T02:13:05Z`
    Utc,
    /// `2026-11-21T03:13:05+01:00`
    Warsaw,
}

/// The forms a batch element of the meter `radio_id` measured at `at` uses: litres in about
/// 5/8 of the elements, an m³ string in 2/8, an m³ number in 1/8; the Warsaw offset in 1/4.
pub fn batch_forms(radio_id: RadioId, at: DateTime<Utc>) -> (VolumeForm, InstantForm) {
    let h = mix2(u64::from(radio_id.0), at.timestamp() as u64);
    let volume = match h % 8 {
        0..=4 => VolumeForm::Litres,
        5 | 6 => VolumeForm::M3String,
        _ => VolumeForm::M3Number,
    };
    let instant = if (h >> 8).is_multiple_of(4) {
        InstantForm::Warsaw
    } else {
        InstantForm::Utc
    };
    (volume, instant)
}

// ----- topics and names -----

/// `<prefix>ebok/<utility>/readings`
pub fn readings_topic(prefix: &str, utility: &str) -> String {
    format!("{prefix}ebok/{utility}/readings")
}

/// `<prefix>wmbusmeters/<utility>/<name>`: the utility level, like the own format's, says whose
/// meter it is (and the broker lets only that utility's gateways publish there).
pub fn wmbusmeters_topic(prefix: &str, utility: &str, name: &str) -> String {
    format!("{prefix}wmbusmeters/{utility}/{name}")
}

/// The wmbusmeters meter name of the meter with `serial` (a new meter gets a new name).
pub fn wmbusmeters_name(serial: SerialNumber) -> String {
    format!("m{serial}")
}

/// The name of gateway `number` of `utility`: `gw-<utility>-01`.
pub fn gateway_name(utility: &str, number: u64) -> String {
    format!("gw-{utility}-{number:02}")
}

// ----- values -----

/// An instant in UTC as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An instant in Warsaw local time with its offset, e.g. `2026-11-21T03:13:05+01:00`.
pub fn timestamp_warsaw(t: DateTime<Utc>) -> String {
    t.with_timezone(&TZ)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Litres as cubic metres with exactly three decimals: 123456 → `123.456`, 5 → `0.005`.
pub fn litres_as_m3(litres: u64) -> String {
    format!("{}.{:03}", litres / 1_000, litres % 1_000)
}

/// A radio id as 8 lower-case hex digits.
pub fn radio_id_hex(id: RadioId) -> String {
    format!("{:08x}", id.0)
}

/// The alarm names of docs/ingest.md for `flags`: `leak`, `burst`, `backflow`, `tamper`, `dry`,
/// `low_battery` (the model calls backflow `reverse_flow`).
pub fn alarm_names(flags: StatusFlags) -> Vec<&'static str> {
    const NAMES: [(StatusFlags, &str); 6] = [
        (StatusFlags::LEAK, "leak"),
        (StatusFlags::BURST, "burst"),
        (StatusFlags::REVERSE_FLOW, "backflow"),
        (StatusFlags::TAMPER, "tamper"),
        (StatusFlags::DRY, "dry"),
        (StatusFlags::LOW_BATTERY, "low_battery"),
    ];
    NAMES
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| *n)
        .collect()
}

// ----- payloads -----

/// One reading per message: `serial`, `at` (measurement instant, UTC), `litres` and, when any
/// alarm is set, `alarms`.
pub fn single(tx: &Transmission) -> String {
    let r = &tx.reading;
    let mut o = JsonObject::new();
    o.string("serial", &r.serial.to_string());
    o.string("at", &timestamp(tx.measured_at));
    o.raw("litres", &r.litres.to_string());
    let alarms = alarm_names(r.alarms_24h);
    if !alarms.is_empty() {
        o.string_array("alarms", &alarms);
    }
    o.finish()
}

/// A gateway batch of `readings` (at most [`MAX_BATCH_READINGS`] for a valid batch) sent by
/// `gateway` at `sent_at`. Elements name the meter by `radio_id`, in the forms of
/// [`batch_forms`], with `alarms` when any is set.
pub fn batch(gateway: &str, sent_at: DateTime<Utc>, readings: &[Transmission]) -> String {
    let mut out = String::with_capacity(64 + readings.len() * 80);
    out.push_str("{\"gateway\":");
    push_json_string(&mut out, gateway);
    out.push_str(",\"sent_at\":\"");
    out.push_str(&timestamp(sent_at));
    out.push_str("\",\"readings\":[");
    for (i, tx) in readings.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&batch_element(tx));
    }
    out.push_str("]}");
    out
}

/// One element of a gateway batch.
pub fn batch_element(tx: &Transmission) -> String {
    let r = &tx.reading;
    let (volume, instant) = batch_forms(r.radio_id, tx.measured_at);
    let mut o = JsonObject::new();
    o.string("radio_id", &radio_id_hex(r.radio_id));
    match instant {
        InstantForm::Utc => o.string("at", &timestamp(tx.measured_at)),
        InstantForm::Warsaw => o.string("at", &timestamp_warsaw(tx.measured_at)),
    }
    match volume {
        VolumeForm::Litres => o.raw("litres", &r.litres.to_string()),
        VolumeForm::M3String => o.string("m3", &litres_as_m3(r.litres)),
        VolumeForm::M3Number => o.raw("m3", &litres_as_m3(r.litres)),
    }
    let alarms = alarm_names(r.alarms_24h);
    if !alarms.is_empty() {
        o.string_array("alarms", &alarms);
    }
    o.finish()
}

/// A wmbusmeters telegram of `driver` for the meter called `name`: `_`, `media`, `meter`,
/// `name`, `id` (radio id, 8 lower-case hex digits), the driver's fields with `total_m3` (a
/// number with exactly three decimals) and its status field(s), `timestamp` (measurement
/// instant, UTC), `rssi_dbm` and `device`.
pub fn wmbusmeters(driver: WmbusDriver, name: &str, tx: &Transmission) -> String {
    let r = &tx.reading;
    let flags = r.alarms_24h;
    let h = mix2(u64::from(r.radio_id.0), tx.measured_at.timestamp() as u64);
    let per_meter = mix2(u64::from(r.radio_id.0), 0x5eed);
    let total = litres_as_m3(r.litres);
    let media = match driver {
        WmbusDriver::Multical21 => "cold water",
        WmbusDriver::Hydrus if per_meter.is_multiple_of(5) => "warm water",
        _ => "water",
    };
    let mut o = JsonObject::new();
    o.string("_", "telegram");
    o.string("media", media);
    o.string("meter", driver.name());
    o.string("name", name);
    o.string("id", &radio_id_hex(r.radio_id));
    match driver {
        WmbusDriver::Multical21 => {
            let status = multical21_status(flags);
            o.string("status", &status);
            o.raw("total_m3", &total);
            o.raw("flow_temperature_c", &(7 + h % 8).to_string());
            o.raw("external_temperature_c", &(4 + (h >> 8) % 17).to_string());
            o.string("current_status", &status);
            let period = |f: StatusFlags| if flags.contains(f) { "1-8 hours" } else { "" };
            o.string("time_dry", period(StatusFlags::DRY));
            o.string("time_reversed", period(StatusFlags::REVERSE_FLOW));
            o.string("time_leaking", period(StatusFlags::LEAK));
            o.string("time_bursting", period(StatusFlags::BURST));
        }
        WmbusDriver::Iperl => {
            o.raw("total_m3", &total);
            o.raw("max_flow_m3h", &format!("0.{:03}", (h >> 16) % 1_200));
            o.string("status", &status_tokens(flags, "REVERSE", "TAMPER"));
        }
        WmbusDriver::Hydrus => {
            o.raw("total_m3", &total);
            o.raw("flow_m3h", "0");
            o.raw(
                "flow_temperature_c",
                &format!("{}.{}", 8 + h % 9, (h >> 4) % 10),
            );
            o.raw("remaining_battery_life_y", &battery_years(flags, per_meter));
            o.string(
                "status",
                &status_tokens(flags, "BACKFLOW", "MAGNETIC_FIELD"),
            );
        }
        WmbusDriver::Izar => {
            let serial = r.serial;
            o.string(
                "prefix",
                &format!("{}{:02}UA", serial.manufacturer, serial.year),
            );
            o.string(
                "serial_number",
                &format!("{:06}", serial.number % 1_000_000),
            );
            o.raw("total_m3", &total);
            o.raw("remaining_battery_life_y", &battery_years(flags, per_meter));
            let current = r.status;
            o.string("current_alarms", &izar_alarms(current));
            let previous = StatusFlags::from_bits_truncate(flags.bits() & !current.bits());
            o.string("previous_alarms", &izar_alarms(previous));
            o.raw("transmit_period_s", "8");
            let year = u32::from(serial.year);
            let century = if year > 70 { 1_900 } else { 2_000 };
            o.string("manufacture_year", &(century + year).to_string());
        }
        WmbusDriver::Apatorna1 => {
            o.raw("total_m3", &total);
            o.string("status", &status_tokens(flags, "REVERSE", "TAMPER"));
        }
    }
    o.string("timestamp", &timestamp(tx.measured_at));
    o.raw("rssi_dbm", &format!("-{}", 55 + (h >> 24) % 41));
    o.string("device", &format!("rtlwmbus[{:08}]", per_meter % 16));
    o.finish()
}

/// multical21's error flags: `DRY`, `REVERSE`, `LEAK`, `BURST` in its bit order, or `OK`.
fn multical21_status(flags: StatusFlags) -> String {
    let tokens: Vec<&str> = [
        (StatusFlags::DRY, "DRY"),
        (StatusFlags::REVERSE_FLOW, "REVERSE"),
        (StatusFlags::LEAK, "LEAK"),
        (StatusFlags::BURST, "BURST"),
    ]
    .iter()
    .filter(|(f, _)| flags.contains(*f))
    .map(|(_, n)| *n)
    .collect();
    if tokens.is_empty() {
        "OK".to_string()
    } else {
        tokens.join(" ")
    }
}

/// A `status` of space-separated tokens (`OK` when none), with the driver's words for backflow
/// and tamper.
fn status_tokens(flags: StatusFlags, backflow: &str, tamper: &str) -> String {
    let tokens: Vec<&str> = [
        (StatusFlags::LEAK, "LEAK"),
        (StatusFlags::BURST, "BURST"),
        (StatusFlags::REVERSE_FLOW, backflow),
        (StatusFlags::TAMPER, tamper),
        (StatusFlags::DRY, "DRY"),
        (StatusFlags::LOW_BATTERY, "LOW_BATTERY"),
    ]
    .iter()
    .filter(|(f, _)| flags.contains(*f))
    .map(|(_, n)| *n)
    .collect();
    if tokens.is_empty() {
        "OK".to_string()
    } else {
        tokens.join(" ")
    }
}

/// izar's alarm words joined by commas, or `no_alarm`.
fn izar_alarms(flags: StatusFlags) -> String {
    let tokens: Vec<&str> = [
        (StatusFlags::LEAK, "leakage"),
        (StatusFlags::REVERSE_FLOW, "back_flow"),
        (StatusFlags::TAMPER, "mechanical_fraud"),
    ]
    .iter()
    .filter(|(f, _)| flags.contains(*f))
    .map(|(_, n)| *n)
    .collect();
    if tokens.is_empty() {
        "no_alarm".to_string()
    } else {
        tokens.join(",")
    }
}

/// Remaining battery life in years: half a year on low battery, else 6–14.5.
fn battery_years(flags: StatusFlags, per_meter: u64) -> String {
    if flags.contains(StatusFlags::LOW_BATTERY) {
        "0.5".to_string()
    } else {
        let halves = 12 + per_meter % 18;
        format!("{}.{}", halves / 2, if halves % 2 == 1 { 5 } else { 0 })
    }
}

// ----- helpers -----

/// A SplitMix64-style hash of two words: the simulator's deterministic choices (forms, extra
/// fields, garbage) are functions of it.
pub(crate) fn mix2(a: u64, b: u64) -> u64 {
    mix64(mix64(a ^ 0x243f_6a88_85a3_08d3).wrapping_add(b.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
}

pub(crate) const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Appends `s` as a JSON string literal.
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON object written field by field, numbers as given (so `6.408` stays `6.408`).
pub(crate) struct JsonObject {
    out: String,
    empty: bool,
}

impl JsonObject {
    pub(crate) fn new() -> Self {
        JsonObject {
            out: String::with_capacity(160),
            empty: true,
        }
    }

    fn key(&mut self, key: &str) {
        self.out.push(if self.empty { '{' } else { ',' });
        self.empty = false;
        push_json_string(&mut self.out, key);
        self.out.push(':');
    }

    /// A string value.
    pub(crate) fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        push_json_string(&mut self.out, value);
    }

    /// A value written as is (a number, `true`, a nested array…).
    pub(crate) fn raw(&mut self, key: &str, json: &str) {
        self.key(key);
        self.out.push_str(json);
    }

    /// An array of strings.
    pub(crate) fn string_array(&mut self, key: &str, values: &[&str]) {
        self.key(key);
        self.out.push('[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            push_json_string(&mut self.out, v);
        }
        self.out.push(']');
    }

    pub(crate) fn finish(mut self) -> String {
        if self.empty {
            self.out.push('{');
        }
        self.out.push('}');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::Duration;
    use serde_json::Value;

    use super::*;
    use crate::model::{FaultRates, FleetSpec, RegisterReading};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn serial() -> SerialNumber {
        SerialNumber {
            manufacturer: 'A',
            year: 19,
            number: 12_345_678,
        }
    }

    fn tx(litres: u64, flags: StatusFlags, at: &str) -> Transmission {
        let measured_at = t(at);
        Transmission {
            sent_at: measured_at,
            measured_at,
            reading: RegisterReading {
                litres,
                serial: serial(),
                radio_id: RadioId(0x1A2B_3C4D),
                status: flags,
                alarms_24h: flags,
            },
            duplicate: false,
            late: false,
        }
    }

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
    }

    /// The exact decimal text of `key`'s value in `json` (numbers must not be reformatted).
    fn raw_value<'a>(json: &'a str, key: &str) -> &'a str {
        let pat = format!("\"{key}\":");
        let start = json.find(&pat).unwrap_or_else(|| panic!("{key} in {json}")) + pat.len();
        let rest = &json[start..];
        let end = rest.find([',', '}']).unwrap();
        &rest[..end]
    }

    #[test]
    fn cubic_metres_are_written_exactly_with_three_decimals() {
        assert_eq!(litres_as_m3(123_456), "123.456");
        assert_eq!(litres_as_m3(5), "0.005");
        assert_eq!(litres_as_m3(0), "0.000");
        assert_eq!(litres_as_m3(1_000), "1.000");
        assert_eq!(litres_as_m3(99_999_999), "99999.999");
    }

    #[test]
    fn instants_are_written_in_utc_or_with_the_warsaw_offset() {
        assert_eq!(timestamp(t("2026-11-21T02:13:05Z")), "2026-11-21T02:13:05Z");
        assert_eq!(
            timestamp_warsaw(t("2026-11-21T02:13:05Z")),
            "2026-11-21T03:13:05+01:00"
        );
        assert_eq!(
            timestamp_warsaw(t("2026-07-01T10:00:00Z")),
            "2026-07-01T12:00:00+02:00"
        );
    }

    #[test]
    fn a_single_reading_has_serial_at_litres_and_documented_alarm_names() {
        let json = single(&tx(
            123_456,
            StatusFlags::LEAK | StatusFlags::REVERSE_FLOW | StatusFlags::LOW_BATTERY,
            "2026-11-21T02:13:05Z",
        ));
        let v = parse(&json);
        assert_eq!(v["serial"], "A1912345678");
        assert_eq!(v["at"], "2026-11-21T02:13:05Z");
        assert_eq!(v["litres"], 123_456);
        assert_eq!(
            v["alarms"],
            serde_json::json!(["leak", "backflow", "low_battery"])
        );
        assert_eq!(v.as_object().unwrap().len(), 4);
        // Without alarms the optional field is left out.
        let v = parse(&single(&tx(7, StatusFlags::NONE, "2026-11-21T02:13:05Z")));
        assert_eq!(
            v,
            serde_json::json!({"serial": "A1912345678", "at": "2026-11-21T02:13:05Z", "litres": 7})
        );
    }

    #[test]
    fn every_alarm_name_is_one_the_ingest_knows() {
        let all = StatusFlags::from_bits_truncate(0xff);
        let known = ["leak", "burst", "backflow", "tamper", "dry", "low_battery"];
        assert_eq!(alarm_names(all), known);
    }

    #[test]
    fn a_gateway_batch_names_meters_by_radio_id_and_mixes_litres_and_m3_forms() {
        let start = t("2026-01-01T00:00:00Z");
        let fleet = FleetSpec {
            faults: FaultRates::none(),
            ..FleetSpec::new(7, start)
        };
        let txs: Vec<Transmission> = fleet
            .meters(0..40)
            .flat_map(|m| {
                m.transmissions(start, start + Duration::days(3), 4)
                    .collect::<Vec<_>>()
            })
            .collect();
        let sent_at = t("2026-01-03T00:00:00Z");
        let json = batch("gw-mlynary-01", sent_at, &txs);
        let v = parse(&json);
        assert_eq!(v["gateway"], "gw-mlynary-01");
        assert_eq!(v["sent_at"], "2026-01-03T00:00:00Z");
        let elements = v["readings"].as_array().unwrap();
        assert_eq!(elements.len(), txs.len());
        let mut forms = HashSet::new();
        for (e, tx) in elements.iter().zip(&txs) {
            let r = &tx.reading;
            let id = e["radio_id"].as_str().unwrap();
            assert_eq!(id, format!("{:08x}", r.radio_id.0));
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
            );
            let at: DateTime<chrono::FixedOffset> =
                DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).unwrap();
            assert_eq!(at.with_timezone(&Utc), tx.measured_at);
            let text = batch_element(tx);
            let (volume, instant) = batch_forms(r.radio_id, tx.measured_at);
            forms.insert((volume as u8, instant as u8));
            match volume {
                VolumeForm::Litres => {
                    assert_eq!(e["litres"].as_u64(), Some(r.litres));
                    assert!(e.get("m3").is_none());
                }
                VolumeForm::M3String => {
                    assert_eq!(e["m3"].as_str().unwrap(), litres_as_m3(r.litres));
                    assert!(e.get("litres").is_none());
                }
                VolumeForm::M3Number => {
                    assert!(e["m3"].is_number());
                    assert_eq!(raw_value(&text, "m3"), litres_as_m3(r.litres));
                }
            }
        }
        // Every volume form and both instant forms occur.
        let volumes: HashSet<u8> = forms.iter().map(|f| f.0).collect();
        let instants: HashSet<u8> = forms.iter().map(|f| f.1).collect();
        assert_eq!((volumes.len(), instants.len()), (3, 2), "{forms:?}");
    }

    #[test]
    fn batch_forms_are_deterministic() {
        let at = t("2026-02-03T04:05:06Z");
        assert_eq!(batch_forms(RadioId(42), at), batch_forms(RadioId(42), at));
        let json1 = batch("g", at, &[tx(1, StatusFlags::NONE, "2026-02-03T04:05:06Z")]);
        let json2 = batch("g", at, &[tx(1, StatusFlags::NONE, "2026-02-03T04:05:06Z")]);
        assert_eq!(json1, json2);
    }

    fn common_fields(v: &Value, driver: WmbusDriver) {
        assert_eq!(v["_"], "telegram");
        assert_eq!(v["meter"], driver.name());
        assert_eq!(v["name"], "kitchen");
        assert_eq!(v["id"], "1a2b3c4d");
        assert_eq!(v["timestamp"], "2026-11-21T02:13:05Z");
        let rssi = v["rssi_dbm"].as_i64().unwrap();
        assert!((-95..=-55).contains(&rssi), "{rssi}");
        assert!(v["device"].as_str().unwrap().starts_with("rtlwmbus["));
        let media = v["media"].as_str().unwrap();
        assert!(
            ["water", "cold water", "warm water"].contains(&media),
            "{media}"
        );
    }

    #[test]
    fn multical21_telegrams_carry_current_status_and_time_fields() {
        let flags = StatusFlags::DRY | StatusFlags::LEAK;
        let json = wmbusmeters(
            WmbusDriver::Multical21,
            "kitchen",
            &tx(6_408, flags, "2026-11-21T02:13:05Z"),
        );
        let v = parse(&json);
        common_fields(&v, WmbusDriver::Multical21);
        assert_eq!(v["media"], "cold water");
        assert_eq!(raw_value(&json, "total_m3"), "6.408");
        assert_eq!(v["current_status"], "DRY LEAK");
        assert_eq!(v["status"], "DRY LEAK");
        assert_eq!(v["time_dry"], "1-8 hours");
        assert_eq!(v["time_leaking"], "1-8 hours");
        assert_eq!(v["time_bursting"], "");
        assert!(v["flow_temperature_c"].is_number());
        let ok = parse(&wmbusmeters(
            WmbusDriver::Multical21,
            "kitchen",
            &tx(6_408, StatusFlags::NONE, "2026-11-21T02:13:05Z"),
        ));
        assert_eq!(ok["current_status"], "OK");
    }

    #[test]
    fn iperl_telegrams_have_total_max_flow_and_status() {
        let json = wmbusmeters(
            WmbusDriver::Iperl,
            "kitchen",
            &tx(
                123_529,
                StatusFlags::REVERSE_FLOW | StatusFlags::TAMPER,
                "2026-11-21T02:13:05Z",
            ),
        );
        let v = parse(&json);
        common_fields(&v, WmbusDriver::Iperl);
        assert_eq!(v["media"], "water");
        assert_eq!(raw_value(&json, "total_m3"), "123.529");
        assert!(v["max_flow_m3h"].is_number());
        assert_eq!(v["status"], "REVERSE TAMPER");
    }

    #[test]
    fn hydrus_telegrams_have_battery_life_and_status() {
        let json = wmbusmeters(
            WmbusDriver::Hydrus,
            "kitchen",
            &tx(
                1_174,
                StatusFlags::REVERSE_FLOW | StatusFlags::TAMPER | StatusFlags::LOW_BATTERY,
                "2026-11-21T02:13:05Z",
            ),
        );
        let v = parse(&json);
        common_fields(&v, WmbusDriver::Hydrus);
        assert_eq!(raw_value(&json, "total_m3"), "1.174");
        assert_eq!(v["status"], "BACKFLOW MAGNETIC_FIELD LOW_BATTERY");
        assert_eq!(v["remaining_battery_life_y"], 0.5);
        let ok = parse(&wmbusmeters(
            WmbusDriver::Hydrus,
            "kitchen",
            &tx(1_174, StatusFlags::NONE, "2026-11-21T02:13:05Z"),
        ));
        assert_eq!(ok["status"], "OK");
        assert!(ok["remaining_battery_life_y"].as_f64().unwrap() >= 6.0);
    }

    #[test]
    fn izar_telegrams_report_current_and_previous_alarms() {
        let mut reading = tx(38_944, StatusFlags::LEAK, "2026-11-21T02:13:05Z");
        reading.reading.alarms_24h = StatusFlags::LEAK | StatusFlags::TAMPER;
        let json = wmbusmeters(WmbusDriver::Izar, "kitchen", &reading);
        let v = parse(&json);
        common_fields(&v, WmbusDriver::Izar);
        assert_eq!(raw_value(&json, "total_m3"), "38.944");
        assert_eq!(v["current_alarms"], "leakage");
        assert_eq!(v["previous_alarms"], "mechanical_fraud");
        assert_eq!(v["prefix"], "A19UA");
        assert_eq!(v["serial_number"], "345678");
        assert_eq!(v["manufacture_year"], "2019");
        let ok = parse(&wmbusmeters(
            WmbusDriver::Izar,
            "kitchen",
            &tx(1, StatusFlags::NONE, "2026-11-21T02:13:05Z"),
        ));
        assert_eq!(ok["current_alarms"], "no_alarm");
        assert_eq!(ok["previous_alarms"], "no_alarm");
    }

    #[test]
    fn apatorna1_telegrams_have_total_and_status() {
        let json = wmbusmeters(
            WmbusDriver::Apatorna1,
            "kitchen",
            &tx(345_312, StatusFlags::NONE, "2026-11-21T02:13:05Z"),
        );
        let v = parse(&json);
        common_fields(&v, WmbusDriver::Apatorna1);
        assert_eq!(raw_value(&json, "total_m3"), "345.312");
        assert_eq!(v["status"], "OK");
        let keys: HashSet<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let expected: HashSet<&str> = [
            "_",
            "media",
            "meter",
            "name",
            "id",
            "total_m3",
            "status",
            "timestamp",
            "rssi_dbm",
            "device",
        ]
        .into_iter()
        .collect();
        assert_eq!(keys, expected);
    }

    #[test]
    fn telegrams_of_a_replaced_meter_carry_the_new_radio_id() {
        let start = t("2026-01-01T00:00:00Z");
        let fleet = FleetSpec {
            faults: FaultRates {
                replacements_per_year: 8.0,
                ..FaultRates::none()
            },
            ..FleetSpec::new(3, start)
        };
        let m = fleet
            .meters(0..50)
            .find(|m| {
                m.replacement()
                    .is_some_and(|r| r.at < start + Duration::days(40))
            })
            .expect("a replaced meter");
        let r = m.replacement().unwrap();
        for tx in m.transmissions(start, start + Duration::days(60), 1) {
            let v = parse(&wmbusmeters(WmbusDriver::Iperl, "x", &tx));
            let s = parse(&single(&tx));
            if tx.measured_at < r.at {
                assert_eq!(v["id"], radio_id_hex(r.old_radio_id));
                assert_eq!(s["serial"], r.old_serial.to_string());
            } else {
                assert_eq!(v["id"], radio_id_hex(r.new_radio_id));
                assert_eq!(s["serial"], r.new_serial.to_string());
            }
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut o = JsonObject::new();
        o.string("a\"b", "c\\d\n\u{1}");
        let v = parse(&o.finish());
        assert_eq!(v["a\"b"], "c\\d\n\u{1}");
        assert_eq!(JsonObject::new().finish(), "{}");
    }

    #[test]
    fn topics_follow_the_documented_names() {
        assert_eq!(readings_topic("", "mlynary"), "ebok/mlynary/readings");
        assert_eq!(
            readings_topic("t-1/", "mlynary"),
            "t-1/ebok/mlynary/readings"
        );
        assert_eq!(
            wmbusmeters_topic("", "mlynary", "kitchen"),
            "wmbusmeters/mlynary/kitchen"
        );
        assert_eq!(gateway_name("mlynary", 1), "gw-mlynary-01");
    }
}
