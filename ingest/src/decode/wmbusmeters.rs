//! wmbusmeters' JSON (`docs/ingest.md`, "wmbusmeters JSON"): one decoded telegram per message,
//! as wmbusmeters publishes it for a configured meter (`{"_":"telegram","media":…,"meter":…,
//! "id":…,"total_m3":…,…,"timestamp":…}`).
//!
//! Read: `media` (water media only; other meters on the same radio network are rejected as
//! `not_a_water_meter`), `id` (the radio id; also in wmbusmeters' `id-mfct`/`full` identity forms,
//! `76348799.M=KAM.V=1b.T=16`), `total_m3` (exact decimal conversion), `timestamp` (the instant
//! wmbusmeters received the telegram, in UTC) and the drivers' status fields, which map to device
//! flags. Everything else a driver prints is ignored.
//!
//! Status fields, from wmbusmeters' drivers (`drivers/src/*.xmq`, `src/driver_*.cc`):
//! - `status`: most drivers (kamwater/multical21/flowiq2200, hydrus, izarv2, ultrimisv2, q400, …);
//!   words such as `DRY`, `LEAK`, `REVERSE`, `PREV_LEAKAGE`, `ERROR_FLAGS_800`, and the telegram
//!   status bits `ALARM`, `POWER_LOW`, `PERMANENT_ERROR`, `TEMPORARY_ERROR`.
//! - `current_status`: multical21's deprecated copy of `status` (empty when fine), apatorna1,
//!   evo868, ultrimis.
//! - `current_alarms`, `previous_alarms`: izar (`no_alarm`, `leakage`, `meter_blocked`,
//!   `back_flow`, `underflow`, `overflow`, `submarine`, `sensor_fraud`, `mechanical_fraud`,
//!   `general_alarm`, joined by commas).
//! - `error_flags`, `error_code`: aventieswm, lse_07_17.
//!
//! Deliberately not read: multical21's `time_dry`, `time_leaking`, `time_bursting`,
//! `time_reversed` (durations such as `"22-31 days"`, not states), apatorna1's `frame_status`
//! (`SUMMER_TIME`, …) and `historic_status` (it reports `MINIMUM_FLOW` in ordinary telegrams).

use chrono::{DateTime, Utc};
use ebok_common::domain::{ReadingFlags, ReadingSource};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::Limits;
use super::instant::{self, Forms};
use super::json::{self, Field, Kind};
use super::own::{Problem, cubic_metres};
use crate::reading::{Decoded, MeterRef, RawReading, RejectReason, Rejection};

/// The members of a telegram this decoder reads, as raw JSON.
#[derive(Deserialize)]
struct Telegram<'a> {
    #[serde(borrow, default)]
    media: Field<'a>,
    #[serde(borrow, default)]
    id: Field<'a>,
    #[serde(borrow, default)]
    total_m3: Field<'a>,
    #[serde(borrow, default)]
    timestamp: Field<'a>,
    #[serde(borrow, default)]
    status: Field<'a>,
    #[serde(borrow, default)]
    current_status: Field<'a>,
    #[serde(borrow, default)]
    current_alarms: Field<'a>,
    #[serde(borrow, default)]
    previous_alarms: Field<'a>,
    #[serde(borrow, default)]
    error_flags: Field<'a>,
    #[serde(borrow, default)]
    error_code: Field<'a>,
}

/// wmbusmeters' `media` values of water meters (M-Bus device types 0x06, 0x07, 0x15, 0x16,
/// 0x17).
const WATER_MEDIA: [&str; 5] = [
    "water",
    "cold water",
    "warm water",
    "hot water",
    "hot/cold water",
];

/// Decodes one wmbusmeters telegram JSON.
pub fn decode_wmbusmeters(payload: &[u8], limits: &Limits) -> Decoded {
    let text = match json::preflight(payload, limits) {
        Ok(text) => text,
        Err(rejection) => return Decoded::rejected(rejection),
    };
    let telegram: Telegram<'_> = match serde_json::from_str(text) {
        Ok(telegram) => telegram,
        Err(e) => {
            return Decoded::rejected(json::malformed_whole(format!("malformed JSON: {e}"), text));
        }
    };

    let meter = radio_id(&telegram);
    let measured_at = timestamp(&telegram);
    let litres = match telegram.total_m3.0 {
        None => Err((RejectReason::MissingField, "total_m3".to_string())),
        Some(raw) => cubic_metres(raw, "total_m3"),
    };
    let reject = |(reason, detail): Problem, meter, measured_at| {
        let mut rejection = Rejection::new(reason, detail).with_sample(text);
        rejection.meter = meter;
        rejection.measured_at = measured_at;
        Decoded::rejected(rejection)
    };
    // The first problem wins: media, id, timestamp, total.
    match (media(&telegram), meter, measured_at, litres) {
        (Ok(()), Ok(meter), Ok(measured_at), Ok(litres)) => Decoded {
            readings: vec![RawReading {
                meter,
                measured_at,
                litres,
                device_flags: ReadingFlags(status_flags(&telegram)),
                source: ReadingSource::Radio,
            }],
            rejected: Vec::new(),
        },
        (Err(problem), meter, measured_at, _) => reject(problem, meter.ok(), measured_at.ok()),
        (Ok(()), Err(problem), measured_at, _) => reject(problem, None, measured_at.ok()),
        (Ok(()), Ok(meter), Err(problem), _) => reject(problem, Some(meter), None),
        (Ok(()), Ok(meter), Ok(measured_at), Err(problem)) => {
            reject(problem, Some(meter), Some(measured_at))
        }
    }
}

/// Accepts water media and a missing `media`.
fn media(telegram: &Telegram<'_>) -> Result<(), Problem> {
    let Some(raw) = telegram.media.0 else {
        return Ok(());
    };
    match (Kind::of(raw), json::as_str(raw)) {
        (Kind::Null, _) => Ok(()),
        (_, Some(media)) => {
            let media = media.trim();
            if WATER_MEDIA.iter().any(|w| w.eq_ignore_ascii_case(media)) {
                Ok(())
            } else {
                let mut shown: String = media.chars().take(64).collect();
                if shown.len() < media.len() {
                    shown.push('…');
                }
                Err((
                    RejectReason::NotAWaterMeter,
                    format!("media \"{shown}\" is not water"),
                ))
            }
        }
        (kind, None) => Err((
            RejectReason::MalformedPayload,
            format!("media must be a string, not {}", kind.described()),
        )),
    }
}

/// `id`: 8 hexadecimal digits, optionally followed by wmbusmeters' identity suffix (`.M=…`).
fn radio_id(telegram: &Telegram<'_>) -> Result<MeterRef, Problem> {
    let Some(raw) = telegram.id.0 else {
        return Err((RejectReason::MissingField, "id".to_string()));
    };
    let malformed = || {
        (
            RejectReason::MalformedPayload,
            "id must be a radio id of 8 hexadecimal digits".to_string(),
        )
    };
    let text = json::as_str(raw).ok_or_else(malformed)?;
    let address = text.split_once('.').map_or(&*text, |(address, _)| address);
    MeterRef::radio_id(address).ok_or_else(malformed)
}

fn timestamp(telegram: &Telegram<'_>) -> Result<DateTime<Utc>, Problem> {
    let Some(raw) = telegram.timestamp.0 else {
        return Err((RejectReason::MissingField, "timestamp".to_string()));
    };
    let text = json::as_str(raw).ok_or_else(|| {
        (
            RejectReason::TimestampOutOfRange,
            format!(
                "timestamp must be a string, not {}",
                Kind::of(raw).described()
            ),
        )
    })?;
    instant::parse(&text, Forms::Rfc3339OrSpacedUtc, "timestamp")
        .map_err(|detail| (RejectReason::TimestampOutOfRange, detail))
}

/// The device flags of every status field present (non-strings are ignored).
fn status_flags(telegram: &Telegram<'_>) -> i32 {
    [
        telegram.status,
        telegram.current_status,
        telegram.current_alarms,
        telegram.previous_alarms,
        telegram.error_flags,
        telegram.error_code,
    ]
    .iter()
    .filter_map(|field| field.0.and_then(|raw: &RawValue| json::as_str(raw)))
    .fold(0, |flags, text| flags | status_text_flags(&text))
}

/// The flags of a status text: words separated by spaces and/or commas.
fn status_text_flags(text: &str) -> i32 {
    text.split([' ', ',', '\t'])
        .filter(|word| !word.is_empty())
        .fold(0, |flags, word| flags | status_word_flags(word))
}

/// The flags of one status word, case-insensitively. `OK` and `no_alarm` are no flags. A word
/// names a condition when one of its `_`-separated parts does (`LEAK`, `PREV_LEAKAGE`,
/// `LEAK_FLOW_HIGH`, `REVERSE_FLOW`, `back_flow`, `sensor_fraud`, `MAGNETIC_FIELD`, `BATTERY_LOW`,
/// `POWER_LOW`, …); any other word (`meter_blocked`, `ERROR_FLAGS_800`, `PERMANENT_ERROR`, …) is
/// a device error.
fn status_word_flags(word: &str) -> i32 {
    if word.eq_ignore_ascii_case("OK") || word.eq_ignore_ascii_case("no_alarm") {
        return 0;
    }
    let mut flags = 0;
    let (mut low, mut battery_or_power, mut after_back) = (false, false, false);
    for part in word.split('_') {
        let is = |name: &str| part.eq_ignore_ascii_case(name);
        if is("LEAK") || is("LEAKAGE") || is("LEAKING") {
            flags |= ReadingFlags::LEAK;
        } else if is("BURST") || is("BURSTING") {
            flags |= ReadingFlags::BURST;
        } else if is("REVERSE") || is("REVERSED") || is("BACKFLOW") || (after_back && is("FLOW")) {
            flags |= ReadingFlags::BACKFLOW;
        } else if is("TAMPER")
            || is("MAGNETIC")
            || is("MAGNET")
            || is("MANIPULATION")
            || is("FRAUD")
        {
            flags |= ReadingFlags::TAMPER;
        } else if is("DRY") {
            flags |= ReadingFlags::DRY;
        }
        low |= is("LOW");
        battery_or_power |= is("BATTERY") || is("POWER");
        after_back = is("BACK");
    }
    if low && battery_or_power {
        flags |= ReadingFlags::LOW_BATTERY;
    }
    if flags == 0 {
        ReadingFlags::DEVICE_ERROR
    } else {
        flags
    }
}

#[cfg(test)]
mod tests {
    //! Samples are wmbusmeters' own expected outputs from its repository
    //! (github.com/wmbusmeters/wmbusmeters, at commit 4dedd717d3af8043ffa3e94f69476656ccd17bc2
    //! unless stated otherwise). Its tests print the placeholder timestamp
    //! `1111-11-11T11:11:11Z` (see `tests/test_izars.sh`, which rewrites the real one); the samples
    //! here carry a real instant in its place. Where a sample is "adapted", only status values are
    //! changed, to words the same driver's lookup tables define.

    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    const AT: &str = "2026-11-21T02:13:05Z";

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 2, 13, 5).unwrap()
    }

    fn decode(payload: &str) -> Decoded {
        decode_wmbusmeters(payload.as_bytes(), &Limits::default())
    }

    /// Decodes a sample with `1111-11-11T11:11:11Z` replaced by [`AT`].
    fn decode_sample(sample: &str) -> Decoded {
        decode(&sample.replace("1111-11-11T11:11:11Z", AT))
    }

    fn only_reading(decoded: &Decoded) -> &RawReading {
        assert!(
            decoded.rejected.is_empty(),
            "unexpected rejections: {decoded:?}"
        );
        assert_eq!(decoded.readings.len(), 1, "{decoded:?}");
        &decoded.readings[0]
    }

    fn only_rejection(decoded: &Decoded) -> &Rejection {
        assert!(
            decoded.readings.is_empty(),
            "unexpected readings: {decoded:?}"
        );
        assert_eq!(decoded.rejected.len(), 1, "{decoded:?}");
        &decoded.rejected[0]
    }

    /// Asserts a sample decodes to one radio reading of `id` with `litres` and `flags`.
    fn assert_reading(sample: &str, id: &str, litres: i64, flags: i32) {
        let decoded = decode_sample(sample);
        let reading = only_reading(&decoded);
        assert_eq!(
            reading,
            &RawReading {
                meter: MeterRef::RadioId(id.to_string()),
                measured_at: at(),
                litres,
                device_flags: ReadingFlags(flags),
                source: ReadingSource::Radio,
            },
            "{sample}"
        );
    }

    // ----- multical21 / flowiq2200 (Kamstrup; the kamwater driver since wmbusmeters 1.19) -----

    /// `src/driver_multical21.cc` before its conversion to XMQ (commit
    /// 8904351d8148b8e2e295b9bc1695424a98eaa92e), test "MyTapWater": the `meter` is still
    /// `multical21`, as older wmbusmeters installations print it.
    const MULTICAL21_DRY: &str = r#"{"_":"telegram","media":"cold water","meter":"multical21","name":"MyTapWater","id":"76348799","status":"DRY","total_m3":6.408,"target_m3":6.408,"flow_temperature_c":127,"external_temperature_c":19,"current_status":"DRY","time_dry":"22-31 days","time_reversed":"","time_leaking":"","time_bursting":"","timestamp":"1111-11-11T11:11:11Z"}"#;

    /// `drivers/src/kamwater.xmq` (aliases multical21, flowiq2200), test "Vadden multical21":
    /// healthy meter, `current_status` empty.
    const MULTICAL21_OK: &str = r#"{"_":"telegram","media":"cold water","meter":"kamwater","name":"Vadden","id":"44556677","flow_temperature_c":2,"max_flow_m3h":0.317,"min_flow_temperature_c":2,"total_m3":20.015,"current_status":"","status":"OK","time_bursting":"","time_dry":"","time_leaking":"","time_reversed":"","timestamp":"1111-11-11T11:11:11Z"}"#;

    /// `drivers/src/kamwater.xmq`, test "Votten flowiq2200": an unnamed error bit.
    const FLOWIQ2200_ERROR: &str = r#"{"_":"telegram","media":"cold water","meter":"kamwater","name":"Votten","id":"23813076","flow_m3h":0,"max_external_temperature_c":27,"target_m3":0,"target_date":"2022-11-01","total_m3":3.871,"min_external_temperature_last_month_c":10,"status":"ERROR_FLAGS_800","timestamp":"1111-11-11T11:11:11Z"}"#;

    /// Adapted from "Vadden": `status` and `current_status` as the kamwater ERROR_FLAGS lookup
    /// names its bits, time fields as the driver prints them while leaking.
    const MULTICAL21_LEAK_BURST: &str = r#"{"_":"telegram","media":"cold water","meter":"multical21","name":"Vadden","id":"44556677","status":"LEAK BURST","total_m3":20.015,"flow_temperature_c":2,"external_temperature_c":3,"max_flow_m3h":0.317,"current_status":"LEAK BURST","time_dry":"","time_reversed":"","time_leaking":"1-8 hours","time_bursting":"1-8 hours","timestamp":"1111-11-11T11:11:11Z"}"#;

    #[test]
    fn multical21_dry_meter_decodes_with_the_dry_flag() {
        assert_reading(MULTICAL21_DRY, "76348799", 6408, ReadingFlags::DRY);
    }

    #[test]
    fn multical21_healthy_meter_has_no_flags_despite_empty_status_and_time_fields() {
        assert_reading(MULTICAL21_OK, "44556677", 20_015, 0);
    }

    #[test]
    fn multical21_leak_and_burst_words_set_their_flags_and_durations_are_not_flags() {
        assert_reading(
            MULTICAL21_LEAK_BURST,
            "44556677",
            20_015,
            ReadingFlags::LEAK | ReadingFlags::BURST,
        );
    }

    #[test]
    fn flowiq2200_unnamed_error_bits_are_a_device_error() {
        assert_reading(
            FLOWIQ2200_ERROR,
            "23813076",
            3871,
            ReadingFlags::DEVICE_ERROR,
        );
    }

    // ----- iperl (Sensus) -----

    /// `drivers/src/iperl.xmq`, test "MoreWater" (also `simulations/simulation_t1.txt`). The
    /// iperl driver prints no status field.
    const IPERL_MORE_WATER: &str = r#"{"_":"telegram","media":"water","meter":"iperl","name":"MoreWater","id":"12345699","total_m3":7.704,"max_flow_m3h":0,"timestamp":"1111-11-11T11:11:11Z"}"#;

    /// `drivers/src/iperl.xmq`, test "WaterWater".
    const IPERL_WATER_WATER: &str = r#"{"_":"telegram","media":"water","meter":"iperl","name":"WaterWater","id":"33225544","total_m3":123.529,"max_flow_m3h":0,"timestamp":"1111-11-11T11:11:11Z"}"#;

    #[test]
    fn iperl_telegrams_decode_without_flags() {
        assert_reading(IPERL_MORE_WATER, "12345699", 7704, 0);
        assert_reading(IPERL_WATER_WATER, "33225544", 123_529, 0);
    }

    // ----- hydrus (Diehl) -----

    /// `drivers/src/hydrus.xmq`, test "HydrusWater".
    const HYDRUS_WATER: &str = r#"{"_":"telegram","media":"water","meter":"hydrus","name":"HydrusWater","id":"64646464","total_m3":1.174,"flow_m3h":0,"flow_temperature_c":10.4,"remaining_battery_life_y":13.686797,"status":"OK","target_datetime":"2019-10-31 23:59","target_m3": 0.2,"timestamp":"1111-11-11T11:11:11Z"}"#;

    /// `drivers/src/hydrus.xmq`, test "HydrusVater": warm water, spaces after colons.
    const HYDRUS_WARM: &str = r#"{"_":"telegram","media":"warm water","meter":"hydrus","name":"HydrusVater","id":"65656565","flow_m3h":0,"customer": "A20B410178","total_m3":3.45,"remaining_battery_life_y":15.321328,"target_datetime":"2020-09-13 23:59","target_m3": 3.431,"status":"OK","timestamp":"1111-11-11T11:11:11Z"}"#;

    /// Adapted from `drivers/src/hydrus.xmq`, test "HydrusFoo" (pretty-ish spacing, negative
    /// flow): `status` carries what the driver's INCLUDE_TPL_STATUS adds for a telegram status
    /// byte 0x0C (`src/wmbus.cc`, `decodeTPLStatusByteOnlyStandardBits`).
    const HYDRUS_TPL_STATUS: &str = r#"{"_":"telegram","at_date": "2022-12-31","target_datetime": "2023-09-30 23:59","flow_m3h": -0.002,"flow_temperature_c": 19.3,"id": "64641820","media": "water","meter": "hydrus","name": "HydrusFoo","remaining_battery_life_y": 9.240436,"status": "POWER_LOW PERMANENT_ERROR","timestamp": "1111-11-11T11:11:11Z","total_at_date_m3":244.623,"target_m3": 294.128,"total_m3": 296.789,"total_tariff1_at_date_m3": 0,"total_tariff2_at_date_m3": 244.623}"#;

    #[test]
    fn hydrus_telegrams_decode_including_warm_water() {
        assert_reading(HYDRUS_WATER, "64646464", 1174, 0);
        assert_reading(HYDRUS_WARM, "65656565", 3450, 0);
    }

    #[test]
    fn hydrus_telegram_status_bits_map_to_low_battery_and_device_error() {
        assert_reading(
            HYDRUS_TPL_STATUS,
            "64641820",
            296_789,
            ReadingFlags::LOW_BATTERY | ReadingFlags::DEVICE_ERROR,
        );
    }

    // ----- izar (Diehl PRIOS), and izarv2 -----

    /// `src/driver_izar.cc`, test "IzarWater": current alarms joined by a comma.
    const IZAR_BLOCKED: &str = r#"{"_":"telegram","media":"water","meter":"izar","name":"IzarWater","id":"21242472","prefix":"C19UA","serial_number":"145842","total_m3":3.488,"last_month_total_m3":3.486,"last_month_measure_date":"2019-09-30","remaining_battery_life_y":14.5,"current_alarms":"meter_blocked,underflow","previous_alarms":"no_alarm","transmit_period_s":8,"manufacture_year":"2019","timestamp":"1111-11-11T11:11:11Z"}"#;

    /// `src/driver_izar.cc`, test "IzarWater4": an id with hex letters.
    const IZAR_HEX_ID: &str = r#"{"_":"telegram","media":"water","meter":"izar","name":"IzarWater4","id":"2124589c","prefix":"H19CA","serial_number":"159196","total_m3":38.944,"last_month_total_m3":38.691,"last_month_measure_date":"2021-02-01","remaining_battery_life_y":10,"current_alarms":"no_alarm","previous_alarms":"no_alarm","transmit_period_s":32,"manufacture_year":"2019","timestamp":"1111-11-11T11:11:11Z"}"#;

    /// `src/driver_izar.cc`, test "IzarWater6": a previous leak.
    const IZAR_PREVIOUS_LEAK: &str = r#"{"_":"telegram","media":"water","meter":"izar","name":"IzarWater6","id":"48500375","total_m3":521.602,"last_month_total_m3":519.147,"last_month_measure_date":"2021-11-15","remaining_battery_life_y":9,"current_alarms":"no_alarm","previous_alarms":"leakage","transmit_period_s":8,"timestamp":"1111-11-11T11:11:11Z"}"#;

    /// Adapted from "IzarWater2" in `src/driver_izar.cc`: current alarms as
    /// `currentAlarmsText` joins them.
    const IZAR_FRAUD: &str = r#"{"_":"telegram","media":"water","meter":"izar","name":"IzarWater2","id":"66236629","total_m3":16.76,"last_month_total_m3":11.84,"last_month_measure_date":"2019-11-30","remaining_battery_life_y":12,"current_alarms":"leakage,back_flow,sensor_fraud,mechanical_fraud","previous_alarms":"no_alarm","transmit_period_s":8,"timestamp":"1111-11-11T11:11:11Z"}"#;

    /// `drivers/src/izarv2.xmq`, tests "IzarWater" and "IzarWater6": the same telegrams through
    /// the XMQ driver, words joined by spaces.
    const IZARV2_BLOCKED: &str = r#"{"_":"telegram","media":"water","meter":"izarv2","name":"IzarWater","id":"21242472","prefix":"C19UA","serial_number":"145842","manufacture_y":"2019","total_m3":3.488,"target_m3":3.486,"target_date":"2019-09-30","battery_y":14.5,"transmit_period_s":8,"status":"METER_BLOCKED UNDERFLOW","timestamp":"1111-11-11T11:11:11Z"}"#;
    const IZARV2_PREVIOUS_LEAK: &str = r#"{"_":"telegram","media":"water","meter":"izarv2","name":"IzarWater6","id":"48500375","total_m3":521.602,"target_m3":519.147,"target_date":"2021-11-15","battery_y":9,"transmit_period_s":8,"status":"PREV_LEAKAGE","timestamp":"1111-11-11T11:11:11Z"}"#;

    #[test]
    fn izar_blocked_meter_is_a_device_error() {
        assert_reading(IZAR_BLOCKED, "21242472", 3488, ReadingFlags::DEVICE_ERROR);
        assert_reading(IZARV2_BLOCKED, "21242472", 3488, ReadingFlags::DEVICE_ERROR);
    }

    #[test]
    fn izar_previous_leakage_sets_the_leak_flag() {
        assert_reading(IZAR_PREVIOUS_LEAK, "48500375", 521_602, ReadingFlags::LEAK);
        assert_reading(
            IZARV2_PREVIOUS_LEAK,
            "48500375",
            521_602,
            ReadingFlags::LEAK,
        );
    }

    #[test]
    fn izar_ids_with_hex_letters_and_no_alarm_decode_cleanly() {
        assert_reading(IZAR_HEX_ID, "2124589c", 38_944, 0);
    }

    #[test]
    fn izar_back_flow_and_fraud_alarms_map_to_backflow_and_tamper() {
        assert_reading(
            IZAR_FRAUD,
            "66236629",
            16_760,
            ReadingFlags::LEAK | ReadingFlags::BACKFLOW | ReadingFlags::TAMPER,
        );
    }

    // ----- apatorna1 (Apator) -----

    /// `drivers/src/apatorna1.xmq`, test "ApNa1": `historic_status` MINIMUM_FLOW and
    /// `frame_status` SUMMER_TIME are ordinary and not read.
    const APATORNA1: &str = r#"{"_":"telegram","media":"water","meter":"apatorna1","name":"ApNa1","id":"04913581","historic_m3":662.325,"historic_datetime":"2024-09-30 21:04","historic_age_h":375,"meter_datetime":"2024-10-16 12:04","total_m3":689.403,"current_status":"OK","frame_status":"SUMMER_TIME","historic_status":"MINIMUM_FLOW","timestamp":"1111-11-11T11:11:11Z"}"#;

    /// `drivers/src/apatorna1.xmq`, test "Issue 1215 cluster 3 dip": two decimals only.
    const APATORNA1_SHORT: &str = r#"{"_":"telegram","media":"water","meter":"apatorna1","name":"ApNa1","id":"04913581","historic_m3":662.325,"historic_datetime":"2024-09-30 21:18","historic_age_h":473,"meter_datetime":"2024-10-20 14:18","total_m3":696.32,"current_status":"OK","frame_status":"SUMMER_TIME","historic_status":"MINIMUM_FLOW","timestamp":"1111-11-11T11:11:11Z"}"#;

    /// Adapted from "ApNa1": `current_status` with names of the driver's CURRENT_STATUS_FLAGS
    /// lookup.
    const APATORNA1_ALARMS: &str = r#"{"_":"telegram","media":"water","meter":"apatorna1","name":"ApNa1","id":"04913581","historic_m3":662.325,"historic_datetime":"2024-09-30 21:04","historic_age_h":375,"meter_datetime":"2024-10-16 12:04","total_m3":689.403,"current_status":"BATTERY_LOW LEAK MAGNETIC_FIELD REVERSE_FLOW","frame_status":"DEVICE_ACCESS_ERROR SUMMER_TIME","historic_status":"LEAK MINIMUM_FLOW","timestamp":"1111-11-11T11:11:11Z"}"#;

    #[test]
    fn apatorna1_ordinary_telegrams_decode_without_flags() {
        assert_reading(APATORNA1, "04913581", 689_403, 0);
        assert_reading(APATORNA1_SHORT, "04913581", 696_320, 0);
    }

    #[test]
    fn apatorna1_current_status_words_map_to_flags() {
        assert_reading(
            APATORNA1_ALARMS,
            "04913581",
            689_403,
            ReadingFlags::LOW_BATTERY
                | ReadingFlags::LEAK
                | ReadingFlags::TAMPER
                | ReadingFlags::BACKFLOW,
        );
    }

    // ----- the documented example and general behaviour -----

    #[test]
    fn the_documented_example_decodes() {
        let decoded = decode(
            r#"{"_":"telegram","media":"water","meter":"multical21","name":"kitchen","id":"76348799",
 "total_m3":6.408,"target_m3":6.408,"max_flow_m3h":0,"flow_temperature_c":11,
 "current_status":"DRY","time_dry":"22-31 days","time_leaking":"",
 "timestamp":"2026-11-21T02:13:05Z","rssi_dbm":-71,"device":"rtlwmbus[00000001]"}"#,
        );
        let reading = only_reading(&decoded);
        assert_eq!(reading.meter, MeterRef::RadioId("76348799".to_string()));
        assert_eq!(reading.litres, 6408);
        assert_eq!(reading.measured_at, at());
        assert_eq!(reading.device_flags, ReadingFlags(ReadingFlags::DRY));
    }

    #[test]
    fn identity_mode_suffixes_on_the_id_are_ignored() {
        let sample = IPERL_MORE_WATER.replace("12345699", "12345699.M=SEN.V=68.T=07");
        assert_reading(&sample, "12345699", 7704, 0);
        let upper = IZAR_HEX_ID.replace("2124589c", "2124589C");
        assert_reading(&upper, "2124589c", 38_944, 0);
    }

    #[test]
    fn total_m3_may_be_a_string_or_use_an_exponent() {
        let sample = IPERL_MORE_WATER.replace("7.704", "\"7.704\"");
        assert_reading(&sample, "12345699", 7704, 0);
        let sample = IPERL_MORE_WATER.replace("7.704", "7.7045e3");
        assert_reading(&sample, "12345699", 7_704_500, 0);
    }

    #[test]
    fn spaced_and_offset_timestamps_are_accepted_as_utc() {
        for ts in [
            "2026-11-21 02:13:05",
            "2026-11-21T02:13:05Z",
            "2026-11-21T03:13:05+01:00",
        ] {
            let payload = IPERL_MORE_WATER.replace("1111-11-11T11:11:11Z", ts);
            assert_eq!(only_reading(&decode(&payload)).measured_at, at(), "{ts}");
        }
    }

    #[test]
    fn media_is_matched_case_insensitively_and_may_be_missing() {
        for media in [r#""media":"Cold Water","#, r#""media":"hot water","#, ""] {
            let sample = IPERL_MORE_WATER.replace(r#""media":"water","#, media);
            assert_reading(&sample, "12345699", 7704, 0);
        }
    }

    // ----- rejections -----

    /// `drivers/src/*.xmq` samples of other media: a gas meter also has `total_m3`.
    #[test]
    fn other_media_are_not_water_meters() {
        for sample in [
            // drivers/src/aerius.xmq
            r#"{"_":"telegram","media":"gas","meter":"aerius","name":"aerius_gas","id":"99657098","total_m3":6842.784,"flow_m3h":0,"temperature_c":15.9,"target_datetime":"2022-12-31 23:59","target_m3":6260.324,"timestamp":"1111-11-11T11:11:11Z"}"#,
            // drivers/src/kamheat.xmq
            r#"{"_":"telegram","id": "67676767","media": "heat","meter": "kamheat","name": "MyHeater","power_kw": 1.9,"status": "OK","target_date": "2019-10-31","target_energy_kwh": 0,"timestamp": "1111-11-11T11:11:11Z","total_energy_consumption_kwh": 44,"total_volume_m3": 0.99}"#,
            // drivers/src/amiplus.xmq
            r#"{"_":"telegram","media":"electricity","meter":"amiplus","name":"MyElectricity1","id":"10101010","total_energy_consumption_kwh":15694.05,"current_power_consumption_kw":0.33,"total_energy_production_kwh":7.48,"current_power_production_kw":0,"voltage_at_phase_1_v":236,"device_datetime":"2019-03-20 12:57","timestamp":"1111-11-11T11:11:11Z"}"#,
        ] {
            let decoded = decode_sample(sample);
            let rejection = only_rejection(&decoded);
            assert_eq!(rejection.reason, RejectReason::NotAWaterMeter, "{sample}");
            assert!(
                rejection.detail.contains("is not water"),
                "{}",
                rejection.detail
            );
            assert!(rejection.meter.is_some());
            assert_eq!(rejection.measured_at, Some(at()));
        }
    }

    #[test]
    fn missing_timestamp_is_a_missing_field() {
        let payload = IPERL_MORE_WATER.replace(r#","timestamp":"1111-11-11T11:11:11Z""#, "");
        let decoded = decode(&payload);
        let rejection = only_rejection(&decoded);
        assert_eq!(rejection.reason, RejectReason::MissingField);
        assert_eq!(rejection.detail, "timestamp");
        assert_eq!(
            rejection.meter,
            Some(MeterRef::RadioId("12345699".to_string()))
        );
        assert_eq!(rejection.sample.as_deref(), Some(payload.as_str()));
    }

    #[test]
    fn missing_id_or_total_is_a_missing_field() {
        let decoded = decode_sample(&IPERL_MORE_WATER.replace(r#""id":"12345699","#, ""));
        let rejection = only_rejection(&decoded);
        assert_eq!(
            (rejection.reason, rejection.detail.as_str()),
            (RejectReason::MissingField, "id")
        );
        let decoded = decode_sample(&IPERL_MORE_WATER.replace(r#""total_m3":7.704,"#, ""));
        let rejection = only_rejection(&decoded);
        assert_eq!(
            (rejection.reason, rejection.detail.as_str()),
            (RejectReason::MissingField, "total_m3")
        );
        assert_eq!(rejection.measured_at, Some(at()));
    }

    #[test]
    fn invalid_ids_are_malformed() {
        for id in [
            r#""1234569""#,
            r#""123456999""#,
            r#""1234569z""#,
            r#""""#,
            "12345699",
            "null",
        ] {
            let sample = IPERL_MORE_WATER.replace(r#""12345699""#, id);
            let decoded = decode_sample(&sample);
            assert_eq!(
                only_rejection(&decoded).reason,
                RejectReason::MalformedPayload,
                "{id}"
            );
        }
    }

    #[test]
    fn the_placeholder_and_unparsable_timestamps_are_out_of_range() {
        for ts in [
            r#""1111-11-11T11:11:11Z""#,
            r#""2026-11-21T02:13:05""#,
            r#""21.11.2026 02:13""#,
            r#""2200-01-01 00:00:00""#,
            "1763691185",
        ] {
            let payload = IPERL_MORE_WATER.replace(r#""1111-11-11T11:11:11Z""#, ts);
            let decoded = decode(&payload);
            let rejection = only_rejection(&decoded);
            assert_eq!(rejection.reason, RejectReason::TimestampOutOfRange, "{ts}");
            assert!(rejection.meter.is_some());
        }
    }

    #[test]
    fn non_numeric_and_negative_totals_are_rejected() {
        for (total, reason) in [
            (r#""12,5""#, RejectReason::NonNumericValue),
            ("null", RejectReason::NonNumericValue),
            ("true", RejectReason::NonNumericValue),
            (r#"{"v":1}"#, RejectReason::NonNumericValue),
            ("1e300", RejectReason::NonNumericValue),
            ("-1.5", RejectReason::NegativeValue),
            (r#""-0.001""#, RejectReason::NegativeValue),
        ] {
            let sample = IPERL_MORE_WATER.replace("7.704", total);
            let decoded = decode_sample(&sample);
            let rejection = only_rejection(&decoded);
            assert_eq!(rejection.reason, reason, "{total}");
            assert_eq!(
                rejection.meter,
                Some(MeterRef::RadioId("12345699".to_string()))
            );
            assert_eq!(rejection.measured_at, Some(at()));
        }
    }

    #[test]
    fn non_objects_garbage_and_oversize_payloads_are_rejected_whole() {
        for payload in ["", "telegram", "[]", "{\"id\":", "\u{0}\u{1}"] {
            assert_eq!(
                only_rejection(&decode(payload)).reason,
                RejectReason::MalformedPayload,
                "{payload:?}"
            );
        }
        let invalid_utf8 = decode_wmbusmeters(b"{\"id\":\"\xc3\x28\"}", &Limits::default());
        assert_eq!(
            only_rejection(&invalid_utf8).reason,
            RejectReason::MalformedPayload
        );
        let limits = Limits {
            max_payload_bytes: 100,
            ..Limits::default()
        };
        let oversize = decode_wmbusmeters(MULTICAL21_DRY.as_bytes(), &limits);
        assert_eq!(
            only_rejection(&oversize).reason,
            RejectReason::PayloadTooLarge
        );
        let deep = format!("{{\"id\":{}{}}}", "[".repeat(50_000), "]".repeat(50_000));
        assert_eq!(
            only_rejection(&decode(&deep)).reason,
            RejectReason::MalformedPayload
        );
    }

    #[test]
    fn a_non_string_media_is_malformed() {
        let sample = IPERL_MORE_WATER.replace(r#""media":"water""#, r#""media":7"#);
        assert_eq!(
            only_rejection(&decode_sample(&sample)).reason,
            RejectReason::MalformedPayload
        );
        let sample = IPERL_MORE_WATER.replace(r#""media":"water""#, r#""media":null"#);
        assert_reading(&sample, "12345699", 7704, 0);
    }

    // ----- status words -----

    #[test]
    fn status_words_map_to_flags() {
        use ReadingFlags as F;
        for (text, flags) in [
            ("", 0),
            ("OK", 0),
            ("ok", 0),
            ("no_alarm", 0),
            ("NO_ALARM", 0),
            ("LEAK", F::LEAK),
            ("LEAKAGE", F::LEAK),
            ("leakage", F::LEAK),
            ("PREV_LEAKAGE", F::LEAK),
            ("LEAK_FLOW_HIGH LEAK_FLOW_LOW", F::LEAK),
            ("BURST", F::BURST),
            ("REVERSE", F::BACKFLOW),
            ("REVERSE_FLOW", F::BACKFLOW),
            ("BACKFLOW", F::BACKFLOW),
            ("BACK_FLOW", F::BACKFLOW),
            ("back_flow", F::BACKFLOW),
            ("TAMPER", F::TAMPER),
            ("MAGNETIC", F::TAMPER),
            ("MAGNETIC_FIELD", F::TAMPER),
            ("MANIPULATION", F::TAMPER),
            ("FRAUD", F::TAMPER),
            ("sensor_fraud,mechanical_fraud", F::TAMPER),
            ("DRY", F::DRY),
            ("LOW_BATTERY", F::LOW_BATTERY),
            ("BATTERY_LOW", F::LOW_BATTERY),
            ("POWER_LOW", F::LOW_BATTERY),
            ("meter_blocked,underflow", F::DEVICE_ERROR),
            ("ERROR_FLAGS_800", F::DEVICE_ERROR),
            ("PERMANENT_ERROR TEMPORARY_ERROR", F::DEVICE_ERROR),
            ("NO_CONSUMPTION", F::DEVICE_ERROR),
            ("general_alarm", F::DEVICE_ERROR),
            // ultrimisv2, waterstarm, picoflux samples in drivers/src
            (
                "NO_FLOW NO_FLOW_THIS_MONTH TAMPER_PREV_MONTH",
                F::DEVICE_ERROR | F::TAMPER,
            ),
            ("LEAKAGE_OR_NO_USAGE POWER_LOW", F::LEAK | F::LOW_BATTERY),
            ("ALARM LEAK_FLOW_HIGH", F::DEVICE_ERROR | F::LEAK),
            // separators: spaces and/or commas, repeated
            (" DRY ,, LEAK , ", F::DRY | F::LEAK),
            ("OK,OK", 0),
            (
                "DRY REVERSE LEAK BURST TAMPER LOW_BATTERY",
                F::DRY | F::BACKFLOW | F::LEAK | F::BURST | F::TAMPER | F::LOW_BATTERY,
            ),
        ] {
            assert_eq!(status_text_flags(text), flags, "{text:?}");
        }
    }

    #[test]
    fn status_fields_are_combined_and_non_strings_ignored() {
        let payload = format!(
            r#"{{"media":"water","id":"12345699","total_m3":1,"timestamp":"{AT}",
                "status":"DRY","current_status":"LEAK","current_alarms":"back_flow",
                "previous_alarms":"sensor_fraud","error_flags":"","error_code":7}}"#
        );
        let flags = only_reading(&decode(&payload)).device_flags;
        assert_eq!(
            flags,
            ReadingFlags(
                ReadingFlags::DRY
                    | ReadingFlags::LEAK
                    | ReadingFlags::BACKFLOW
                    | ReadingFlags::TAMPER
            )
        );
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in any::<Vec<u8>>()) {
            let decoded = decode_wmbusmeters(&bytes, &Limits::default());
            prop_assert_eq!(decoded.readings.len() + decoded.rejected.len(), 1);
        }

        #[test]
        fn decoding_mutated_telegrams_never_panics(
            sample in proptest::sample::select(vec![
                MULTICAL21_DRY, MULTICAL21_OK, IPERL_MORE_WATER, HYDRUS_TPL_STATUS,
                IZAR_BLOCKED, APATORNA1_ALARMS,
            ]),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
        ) {
            let mut payload = sample.replace("1111-11-11T11:11:11Z", AT).into_bytes();
            for (at, byte, op) in edits {
                let i = at.index(payload.len());
                match op {
                    0 => payload[i] = byte,
                    1 => payload.insert(i, byte),
                    _ => { payload.remove(i); }
                }
            }
            let decoded = decode_wmbusmeters(&payload, &Limits::default());
            prop_assert_eq!(decoded.readings.len() + decoded.rejected.len(), 1);
        }

        #[test]
        fn any_status_text_maps_to_device_bits_only(text in ".{0,60}") {
            let flags = status_text_flags(&text);
            prop_assert_eq!(flags & !ReadingFlags::DEVICE_MASK, 0);
        }
    }
}
