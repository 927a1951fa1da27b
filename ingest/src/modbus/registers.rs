//! Register arithmetic for Modbus meters, without any I/O: exact decimal scales, combining 16-bit
//! words into values in either word order, status bits to [`ReadingFlags`], and the per-device
//! [`ReadPlan`].
//!
//! The read plan exists to keep round trips per poll low: a device with a hundred meters would
//! otherwise take two hundred `read_holding_registers` requests (value and status of each), each
//! waiting for its own answer over a link that may be slow. The plan sorts every register the
//! device's meters need, merges contiguous or nearly contiguous ones (gaps of up to
//! [`MAX_GAP`] registers are simply read through) into requests of at most
//! [`MAX_REQUEST_REGISTERS`] registers, and remembers where in which answer each meter's words
//! are, so the answers can be mapped back to meters.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use ebok_common::config::{ModbusMeter, RegisterKind, WordOrder};
use ebok_common::domain::{ReadingFlags, ReadingSource};

use crate::reading::{Decoded, MeterRef, RawReading, RejectReason, Rejection};

/// The most registers one `read_holding_registers` request may ask for (Modbus limit).
pub const MAX_REQUEST_REGISTERS: u16 = 125;
/// Registers between two needed ranges that are read (and discarded) rather than starting a new
/// request.
pub const MAX_GAP: u16 = 16;

/// Litres per register unit, kept exactly as `numerator / denominator` with the denominator a
/// power of ten (as written in the configuration: "10", "0.1", "0.001", "1000").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    numerator: u64,
    denominator: u64,
}

/// A scale string that is not a positive exact decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scale {input:?} is not a positive decimal number like \"1\", \"10\", \"0.1\": {why}")]
pub struct ScaleError {
    input: String,
    why: &'static str,
}

impl Scale {
    /// One litre per register unit.
    pub const ONE: Scale = Scale {
        numerator: 1,
        denominator: 1,
    };

    /// The most fractional digits a scale may have (10^18 still fits in a `u64`).
    pub const MAX_FRACTION_DIGITS: usize = 18;

    pub fn numerator(self) -> u64 {
        self.numerator
    }

    pub fn denominator(self) -> u64 {
        self.denominator
    }

    /// `raw × scale` in litres, rounded half up; `None` when the result does not fit an `i64`.
    pub fn litres(self, raw: u64) -> Option<i64> {
        // u64 × u64 always fits in u128.
        let product = u128::from(raw) * u128::from(self.numerator);
        let denominator = u128::from(self.denominator);
        let mut quotient = product / denominator;
        if 2 * (product % denominator) >= denominator {
            quotient += 1;
        }
        i64::try_from(quotient).ok()
    }
}

impl Default for Scale {
    fn default() -> Self {
        Scale::ONE
    }
}

impl FromStr for Scale {
    type Err = ScaleError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |why| ScaleError {
            input: input.to_string(),
            why,
        };
        let text = input.trim();
        let (int, frac) = match text.split_once('.') {
            Some((int, frac)) => (int, frac),
            None => (text, ""),
        };
        if int.is_empty() {
            return Err(fail("no digits before the decimal point"));
        }
        if text.contains('.') && frac.is_empty() {
            return Err(fail("no digits after the decimal point"));
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(fail("only digits and one decimal point are allowed"));
        }
        // Trailing fractional zeros change nothing ("0.10" is "0.1").
        let frac = frac.trim_end_matches('0');
        if frac.len() > Self::MAX_FRACTION_DIGITS {
            return Err(fail("too many fractional digits"));
        }
        let mut numerator: u64 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            numerator = numerator
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(b - b'0')))
                .ok_or_else(|| fail("too large"))?;
        }
        if numerator == 0 {
            return Err(fail("must be positive"));
        }
        let mut denominator = 10u64.pow(frac.len() as u32);
        // Reduce by common factors of ten so that equal scales compare equal.
        while denominator > 1 && numerator.is_multiple_of(10) {
            numerator /= 10;
            denominator /= 10;
        }
        Ok(Scale {
            numerator,
            denominator,
        })
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.denominator == 1 {
            return write!(f, "{}", self.numerator);
        }
        let digits = self.denominator.ilog10() as usize;
        let int = self.numerator / self.denominator;
        let frac = self.numerator % self.denominator;
        write!(f, "{int}.{frac:0digits$}")
    }
}

/// The value of `kind.words()` registers in `order`. Only the first `kind.words()` words are used;
/// missing words (a short slice, which the read plan never produces) count as zero.
pub fn combine(words: &[u16], kind: RegisterKind, order: WordOrder) -> u64 {
    let n = usize::from(kind.words());
    debug_assert!(words.len() >= n, "{} words for a {kind:?}", words.len());
    let word = |i: usize| u64::from(words.get(i).copied().unwrap_or(0));
    (0..n).fold(0u64, |acc, i| {
        let index = match order {
            WordOrder::Big => i,
            WordOrder::Little => n - 1 - i,
        };
        (acc << 16) | word(index)
    })
}

/// The registers holding `value` as `kind` in `order` (the inverse of [`combine`]); bits above
/// the kind's width are dropped.
pub fn split(value: u64, kind: RegisterKind, order: WordOrder) -> Vec<u16> {
    let n = usize::from(kind.words());
    // Big order: high word first.
    let mut words: Vec<u16> = (0..n)
        .map(|i| (value >> (16 * (n - 1 - i))) as u16)
        .collect();
    if order == WordOrder::Little {
        words.reverse();
    }
    words
}

/// The largest value a register of `kind` can hold.
pub fn register_max(kind: RegisterKind) -> u64 {
    match kind {
        RegisterKind::U16 => u64::from(u16::MAX),
        RegisterKind::U32 => u64::from(u32::MAX),
        RegisterKind::U64 => u64::MAX,
    }
}

/// The device flags of a status register: bit 0 leak, 1 burst, 2 backflow, 3 tamper, 4 dry,
/// 5 low battery, 6 error; other bits are ignored.
pub fn status_flags(word: u16) -> ReadingFlags {
    const KNOWN: i32 = ReadingFlags::LEAK
        | ReadingFlags::BURST
        | ReadingFlags::BACKFLOW
        | ReadingFlags::TAMPER
        | ReadingFlags::DRY
        | ReadingFlags::LOW_BATTERY
        | ReadingFlags::DEVICE_ERROR;
    ReadingFlags(i32::from(word) & KNOWN)
}

/// One `read_holding_registers` request of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadRequest {
    /// First holding register.
    pub start: u16,
    /// Number of registers, 1 ..= [`MAX_REQUEST_REGISTERS`].
    pub count: u16,
}

impl ReadRequest {
    /// One past the last register (may be 65536).
    pub fn end(self) -> u32 {
        u32::from(self.start) + u32::from(self.count)
    }
}

/// Where some of a meter's words are: which request's answer, from which offset, how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    request: usize,
    offset: usize,
    len: usize,
}

impl Span {
    fn words<'a>(&self, answers: &'a [Vec<u16>]) -> Option<&'a [u16]> {
        answers
            .get(self.request)?
            .get(self.offset..self.offset + self.len)
    }
}

/// A meter the plan reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedMeter {
    pub serial: String,
    pub register: u16,
    pub kind: RegisterKind,
    pub word_order: WordOrder,
    pub scale: Scale,
    pub status_register: Option<u16>,
    value: Span,
    status: Option<Span>,
}

impl PlannedMeter {
    /// Index of the request whose answer holds the meter's value.
    pub fn value_request(&self) -> usize {
        self.value.request
    }
}

/// A configured meter the plan cannot read, with the reason (for the operator's log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanProblem {
    /// Position of the meter in the device's configuration.
    pub index: usize,
    pub serial: String,
    pub detail: String,
}

/// One meter's words taken from the answers of a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterWords<'a> {
    pub value: &'a [u16],
    pub status: Option<u16>,
}

/// Which registers to read from one device, in as few requests as possible, and where each
/// meter's value and status are in the answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadPlan {
    requests: Vec<ReadRequest>,
    meters: Vec<PlannedMeter>,
    problems: Vec<PlanProblem>,
}

impl ReadPlan {
    /// Plans the reads for `meters`. Meters whose scale does not parse or whose registers run
    /// past register 65535 are left out and listed in [`ReadPlan::problems`].
    pub fn new(meters: &[ModbusMeter]) -> ReadPlan {
        let mut problems = Vec::new();
        let mut accepted: Vec<(&ModbusMeter, Scale)> = Vec::new();
        for (index, meter) in meters.iter().enumerate() {
            let problem = |detail: String| PlanProblem {
                index,
                serial: meter.serial.clone(),
                detail,
            };
            let scale = match meter.scale.parse::<Scale>() {
                Ok(scale) => scale,
                Err(e) => {
                    problems.push(problem(e.to_string()));
                    continue;
                }
            };
            if u32::from(meter.register) + u32::from(meter.kind.words()) > 1 << 16 {
                problems.push(problem(format!(
                    "a {:?} value at register {} runs past register 65535",
                    meter.kind, meter.register
                )));
                continue;
            }
            accepted.push((meter, scale));
        }

        // Every needed range [start, end) with its owner (meter, value or status), sorted by
        // start, merged greedily into requests; each range lands whole in one request.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        enum Part {
            Value,
            Status,
        }
        let mut ranges: Vec<(u32, u32, usize, Part)> = Vec::new();
        for (index, (meter, _)) in accepted.iter().enumerate() {
            let start = u32::from(meter.register);
            ranges.push((
                start,
                start + u32::from(meter.kind.words()),
                index,
                Part::Value,
            ));
            if let Some(status) = meter.status_register {
                let status = u32::from(status);
                ranges.push((status, status + 1, index, Part::Status));
            }
        }
        ranges.sort_unstable();
        let max = u32::from(MAX_REQUEST_REGISTERS);
        let mut spans: Vec<(u32, u32)> = Vec::new();
        let mut located: Vec<[Option<Span>; 2]> = vec![[None, None]; accepted.len()];
        for (start, end, index, part) in ranges {
            match spans.last_mut() {
                Some((first, last))
                    if start <= *last + u32::from(MAX_GAP) && end.max(*last) - *first <= max =>
                {
                    *last = end.max(*last);
                }
                // Only configured ranges that overlap each other (a register shared by two
                // meters) can make this request overlap the previous one.
                _ => spans.push((start, end)),
            }
            let request = spans.len() - 1;
            located[index][part as usize] = Some(Span {
                request,
                offset: (start - spans[request].0) as usize,
                len: (end - start) as usize,
            });
        }
        let requests: Vec<ReadRequest> = spans
            .iter()
            .map(|&(start, end)| ReadRequest {
                // start < 65536 and end - start <= 125 by construction.
                start: start as u16,
                count: (end - start) as u16,
            })
            .collect();

        let meters = accepted
            .into_iter()
            .zip(located)
            .filter_map(|((meter, scale), [value, status])| {
                Some(PlannedMeter {
                    serial: meter.serial.clone(),
                    register: meter.register,
                    kind: meter.kind,
                    word_order: meter.word_order,
                    scale,
                    status_register: meter.status_register,
                    // Every range was located above.
                    value: value?,
                    status: match meter.status_register {
                        Some(_) => Some(status?),
                        None => None,
                    },
                })
            })
            .collect();
        ReadPlan {
            requests,
            meters,
            problems,
        }
    }

    /// The requests to send, sorted by start register, disjoint.
    pub fn requests(&self) -> &[ReadRequest] {
        &self.requests
    }

    /// The meters read, in configuration order (without the ones in [`ReadPlan::problems`]).
    pub fn meters(&self) -> &[PlannedMeter] {
        &self.meters
    }

    /// Configured meters that cannot be read.
    pub fn problems(&self) -> &[PlanProblem] {
        &self.problems
    }

    /// Meter `meter`'s words in `answers` (one answer per request, in request order); `None`
    /// if an answer is missing or too short.
    pub fn words<'a>(&self, meter: usize, answers: &'a [Vec<u16>]) -> Option<MeterWords<'a>> {
        let planned = self.meters.get(meter)?;
        let value = planned.value.words(answers)?;
        let status = match planned.status {
            Some(span) => Some(span.words(answers)?[0]),
            None => None,
        };
        Some(MeterWords { value, status })
    }

    /// What one poll's answers say: a reading per meter, measured at the time the answer with
    /// its value arrived (`answered_at[request]`), or a rejection when its value does not
    /// convert to litres or its words are missing from the answers.
    pub fn decode(&self, answers: &[Vec<u16>], answered_at: &[DateTime<Utc>]) -> Decoded {
        let mut decoded = Decoded::default();
        for (index, meter) in self.meters.iter().enumerate() {
            let serial = MeterRef::Serial(meter.serial.clone());
            let measured_at = answered_at.get(meter.value.request).copied();
            let (Some(words), Some(measured_at)) = (self.words(index, answers), measured_at) else {
                let mut rejection = Rejection::new(
                    RejectReason::MalformedPayload,
                    format!(
                        "the device's answer lacks register {} (or the status register)",
                        meter.register
                    ),
                )
                .with_meter(serial);
                rejection.measured_at = measured_at;
                decoded.rejected.push(rejection);
                continue;
            };
            let raw = combine(words.value, meter.kind, meter.word_order);
            let device_flags = words.status.map(status_flags).unwrap_or_default();
            match meter.scale.litres(raw) {
                Some(litres) => decoded.readings.push(RawReading {
                    meter: serial,
                    measured_at,
                    litres,
                    device_flags,
                    source: ReadingSource::Modbus,
                }),
                None => {
                    let mut rejection = Rejection::new(
                        RejectReason::AboveRegisterMax,
                        format!(
                            "register value {raw} at register {} times scale {} exceeds the \
                             largest storable number of litres",
                            meter.register, meter.scale
                        ),
                    )
                    .with_meter(serial);
                    rejection.measured_at = Some(measured_at);
                    decoded.rejected.push(rejection);
                }
            }
        }
        decoded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn meter(serial: &str, register: u16, kind: RegisterKind, status: Option<u16>) -> ModbusMeter {
        ModbusMeter {
            serial: serial.into(),
            register,
            kind,
            word_order: WordOrder::Big,
            scale: "1".into(),
            status_register: status,
        }
    }

    fn scale(s: &str) -> Scale {
        s.parse().unwrap()
    }

    fn any_kind() -> impl Strategy<Value = RegisterKind> {
        prop_oneof![
            Just(RegisterKind::U16),
            Just(RegisterKind::U32),
            Just(RegisterKind::U64)
        ]
    }

    fn any_order() -> impl Strategy<Value = WordOrder> {
        prop_oneof![Just(WordOrder::Big), Just(WordOrder::Little)]
    }

    /// A device register map where every register holds a value derived from its address.
    fn memory(address: u32) -> u16 {
        (address.wrapping_mul(2_654_435_761) >> 7) as u16
    }

    fn answers_for(plan: &ReadPlan) -> Vec<Vec<u16>> {
        plan.requests()
            .iter()
            .map(|r| (u32::from(r.start)..r.end()).map(memory).collect())
            .collect()
    }

    #[test]
    fn scale_parses_exact_decimals() {
        assert_eq!(scale("1"), Scale::ONE);
        assert_eq!(
            (scale("10").numerator(), scale("10").denominator()),
            (10, 1)
        );
        assert_eq!(
            (scale("0.1").numerator(), scale("0.1").denominator()),
            (1, 10)
        );
        assert_eq!(
            (scale("0.001").numerator(), scale("0.001").denominator()),
            (1, 1000)
        );
        assert_eq!(scale("1000").numerator(), 1000);
        assert_eq!(scale("2.50"), scale("2.5"));
        assert_eq!(scale(" 0.25 ").to_string(), "0.25");
        assert_eq!(scale("0.001").to_string(), "0.001");
        assert_eq!(scale("1000").to_string(), "1000");
        for bad in [
            "",
            "0",
            "0.000",
            "-1",
            "+1",
            "1e3",
            ".5",
            "5.",
            "1.2.3",
            "abc",
            "1,5",
            "NaN",
            "0.0000000000000000001",
            "99999999999999999999",
        ] {
            assert!(bad.parse::<Scale>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn scale_rounds_half_up_and_reports_overflow() {
        assert_eq!(scale("0.1").litres(12345), Some(1235));
        assert_eq!(scale("0.1").litres(12344), Some(1234));
        assert_eq!(scale("0.1").litres(12346), Some(1235));
        assert_eq!(scale("0.001").litres(1499), Some(1));
        assert_eq!(scale("0.001").litres(1500), Some(2));
        assert_eq!(scale("10").litres(7), Some(70));
        assert_eq!(scale("1").litres(i64::MAX as u64), Some(i64::MAX));
        assert_eq!(scale("1").litres(i64::MAX as u64 + 1), None);
        assert_eq!(scale("1000").litres(u64::MAX), None);
        assert_eq!(scale("0.5").litres(u64::MAX), None);
        assert_eq!(
            scale("0.1").litres(u64::MAX),
            Some(1_844_674_407_370_955_162)
        );
    }

    #[test]
    fn word_orders() {
        let words = [0x0102, 0x0304, 0x0506, 0x0708];
        assert_eq!(combine(&words, RegisterKind::U16, WordOrder::Big), 0x0102);
        assert_eq!(
            combine(&words, RegisterKind::U16, WordOrder::Little),
            0x0102
        );
        assert_eq!(
            combine(&words, RegisterKind::U32, WordOrder::Big),
            0x0102_0304
        );
        assert_eq!(
            combine(&words, RegisterKind::U32, WordOrder::Little),
            0x0304_0102
        );
        assert_eq!(
            combine(&words, RegisterKind::U64, WordOrder::Big),
            0x0102_0304_0506_0708
        );
        assert_eq!(
            combine(&words, RegisterKind::U64, WordOrder::Little),
            0x0708_0506_0304_0102
        );
    }

    #[test]
    fn status_bits() {
        assert_eq!(status_flags(0), ReadingFlags(0));
        assert!(status_flags(1).contains(ReadingFlags::LEAK));
        assert!(status_flags(1 << 1).contains(ReadingFlags::BURST));
        assert!(status_flags(1 << 2).contains(ReadingFlags::BACKFLOW));
        assert!(status_flags(1 << 3).contains(ReadingFlags::TAMPER));
        assert!(status_flags(1 << 4).contains(ReadingFlags::DRY));
        assert!(status_flags(1 << 5).contains(ReadingFlags::LOW_BATTERY));
        assert!(status_flags(1 << 6).contains(ReadingFlags::DEVICE_ERROR));
        assert_eq!(status_flags(0xFF80), ReadingFlags(0));
        assert_eq!(status_flags(0xFFFF), ReadingFlags(0x7F));
    }

    #[test]
    fn simulator_layout_is_read_in_few_requests() {
        // Meter k at 10k .. 10k+3 (u64), status at 10k+4: 13 meters fit in 125 registers.
        let meters: Vec<_> = (0..100u16)
            .map(|k| {
                meter(
                    &format!("S{k}"),
                    10 * k,
                    RegisterKind::U64,
                    Some(10 * k + 4),
                )
            })
            .collect();
        let plan = ReadPlan::new(&meters);
        assert_eq!(plan.requests().len(), 8);
        assert_eq!(
            plan.requests()[0],
            ReadRequest {
                start: 0,
                count: 125
            }
        );
        assert_eq!(
            plan.requests()[7],
            ReadRequest {
                start: 910,
                count: 85
            }
        );
        assert!(plan.problems().is_empty());
    }

    #[test]
    fn far_apart_registers_get_their_own_requests() {
        let meters = [
            meter("A", 0, RegisterKind::U32, None),
            meter("B", 2 + MAX_GAP, RegisterKind::U16, None), // gap of exactly MAX_GAP
            meter("C", 3 + 2 * MAX_GAP + 1, RegisterKind::U16, None), // one more: new request
            meter("D", 65532, RegisterKind::U64, Some(65000)),
        ];
        let plan = ReadPlan::new(&meters);
        assert_eq!(
            plan.requests(),
            [
                ReadRequest {
                    start: 0,
                    count: 19
                },
                ReadRequest {
                    start: 36,
                    count: 1
                },
                ReadRequest {
                    start: 65000,
                    count: 1
                },
                ReadRequest {
                    start: 65532,
                    count: 4
                },
            ]
        );
    }

    #[test]
    fn overlapping_meters_that_do_not_fit_get_an_overlapping_request() {
        // A chain of u64 values every 12 registers up to 120..124, then C sharing registers
        // 122..124 with the last one: 0..126 is more than one request may read.
        let mut meters: Vec<ModbusMeter> = (0..=10u16)
            .map(|k| meter(&format!("A{k}"), 12 * k, RegisterKind::U64, None))
            .collect();
        meters.push(meter("C", 122, RegisterKind::U64, None));
        let plan = ReadPlan::new(&meters);
        assert_eq!(
            plan.requests(),
            [
                ReadRequest {
                    start: 0,
                    count: 124
                },
                ReadRequest {
                    start: 122,
                    count: 4
                }
            ]
        );
        let answers = answers_for(&plan);
        for (i, m) in meters.iter().enumerate() {
            let expected: Vec<u16> = (0..u32::from(m.kind.words()))
                .map(|w| memory(u32::from(m.register) + w))
                .collect();
            assert_eq!(plan.words(i, &answers).unwrap().value, &expected[..]);
        }
    }

    #[test]
    fn unreadable_meters_are_reported_not_planned() {
        let mut bad_scale = meter("BAD", 0, RegisterKind::U16, None);
        bad_scale.scale = "ten".into();
        let past_end = meter("END", 65534, RegisterKind::U64, None);
        // The last two registers hold a u32 fine.
        let at_end = meter("LAST", 65534, RegisterKind::U32, None);
        let good = meter("OK", 5, RegisterKind::U16, None);
        let plan = ReadPlan::new(&[bad_scale, past_end, good, at_end]);
        let planned: Vec<_> = plan.meters().iter().map(|m| m.serial.as_str()).collect();
        assert_eq!(planned, ["OK", "LAST"]);
        let problems: Vec<_> = plan
            .problems()
            .iter()
            .map(|p| (p.index, p.serial.as_str()))
            .collect();
        assert_eq!(problems, [(0, "BAD"), (1, "END")]);
        assert_eq!(
            plan.requests(),
            [
                ReadRequest { start: 5, count: 1 },
                ReadRequest {
                    start: 65534,
                    count: 2
                }
            ]
        );
    }

    #[test]
    fn decode_makes_readings_and_rejections() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut big = meter("BIG", 0, RegisterKind::U64, Some(4));
        big.scale = "1000".into();
        let small = meter("SMALL", 5, RegisterKind::U16, None);
        let plan = ReadPlan::new(&[big, small]);
        assert_eq!(plan.requests(), [ReadRequest { start: 0, count: 6 }]);
        let answers = vec![vec![0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0b101, 42]];
        let decoded = plan.decode(&answers, &[t0]);
        assert_eq!(
            decoded.readings,
            [RawReading {
                meter: MeterRef::Serial("SMALL".into()),
                measured_at: t0,
                litres: 42,
                device_flags: ReadingFlags(0),
                source: ReadingSource::Modbus,
            }]
        );
        assert_eq!(decoded.rejected.len(), 1);
        let rejection = &decoded.rejected[0];
        assert_eq!(rejection.reason, RejectReason::AboveRegisterMax);
        assert_eq!(rejection.meter, Some(MeterRef::Serial("BIG".into())));
        assert_eq!(rejection.measured_at, Some(t0));

        // A short answer rejects the meters it lacks instead of panicking.
        let decoded = plan.decode(&[vec![0, 0, 0, 1, 0b1000]], &[t0]);
        assert_eq!(decoded.readings.len(), 1);
        assert_eq!(decoded.readings[0].litres, 1000);
        assert_eq!(
            decoded.readings[0].device_flags,
            ReadingFlags(ReadingFlags::TAMPER)
        );
        let [rejection] = decoded.rejected.as_slice() else {
            panic!("{:?}", decoded.rejected)
        };
        assert_eq!(rejection.reason, RejectReason::MalformedPayload);
        assert_eq!(rejection.meter, Some(MeterRef::Serial("SMALL".into())));
    }

    proptest! {
        #[test]
        fn combine_inverts_split(value in any::<u64>(), kind in any_kind(), order in any_order()) {
            let value = value & register_max(kind);
            let words = split(value, kind, order);
            prop_assert_eq!(words.len(), usize::from(kind.words()));
            prop_assert_eq!(combine(&words, kind, order), value);
        }

        #[test]
        fn split_inverts_combine(words in prop::collection::vec(any::<u16>(), 4), kind in any_kind(), order in any_order()) {
            let n = usize::from(kind.words());
            let value = combine(&words[..n], kind, order);
            prop_assert_eq!(split(value, kind, order), words[..n].to_vec());
        }

        #[test]
        fn the_two_word_orders_mirror_each_other(words in prop::collection::vec(any::<u16>(), 4), kind in any_kind()) {
            let n = usize::from(kind.words());
            let reversed: Vec<u16> = words[..n].iter().rev().copied().collect();
            prop_assert_eq!(combine(&words[..n], kind, WordOrder::Big), combine(&reversed, kind, WordOrder::Little));
        }

        #[test]
        fn tenths_round_half_up(raw in 0u64..u64::MAX / 2) {
            let expected = (raw / 10 + u64::from(raw % 10 >= 5)) as i64;
            prop_assert_eq!(scale("0.1").litres(raw), Some(expected));
        }

        #[test]
        fn thousands_are_exact(raw in any::<u64>()) {
            let expected = i64::try_from(u128::from(raw) * 1000).ok();
            prop_assert_eq!(scale("1000").litres(raw), expected);
        }

        #[test]
        fn scale_is_the_exact_decimal(numerator in 1u64..1_000_000_000, digits in 0u32..10) {
            let text = if digits == 0 {
                numerator.to_string()
            } else {
                let d = 10u64.pow(digits);
                format!("{}.{:0w$}", numerator / d, numerator % d, w = digits as usize)
            };
            let parsed: Scale = text.parse().unwrap();
            // numerator / 10^digits == parsed.numerator / parsed.denominator, exactly.
            prop_assert_eq!(
                u128::from(parsed.numerator()) * u128::from(10u64.pow(digits)),
                u128::from(numerator) * u128::from(parsed.denominator())
            );
            prop_assert_eq!(parsed.to_string().parse::<Scale>().unwrap(), parsed);
            prop_assert_eq!(parsed.litres(10u64.pow(digits)), i64::try_from(numerator).ok());
        }

        #[test]
        fn plan_covers_every_register_in_bounded_requests(
            layout in prop::collection::vec(
                (any::<u16>(), any_kind(), prop::option::of(any::<u16>())),
                1..60,
            ),
            clustered in any::<bool>(),
        ) {
            // Clustered layouts (registers below 400) exercise merging; spread ones, the limits.
            let meters: Vec<ModbusMeter> = layout
                .iter()
                .enumerate()
                .map(|(i, &(register, kind, status))| {
                    let register = if clustered { register % 400 } else { register.min(65532) };
                    let status = status.map(|s| if clustered { s % 400 } else { s });
                    meter(&format!("M{i}"), register, kind, status)
                })
                .collect();
            let plan = ReadPlan::new(&meters);
            prop_assert!(plan.problems().is_empty());
            prop_assert_eq!(plan.meters().len(), meters.len());

            let requests = plan.requests();
            for r in requests {
                prop_assert!((1..=MAX_REQUEST_REGISTERS).contains(&r.count), "{:?}", r);
                prop_assert!(r.end() <= 1 << 16);
            }
            // Configured ranges that share registers (a status register used by two meters,
            // overlapping values) are the only way for requests to overlap.
            let mut configured: Vec<(u32, u32)> = meters
                .iter()
                .flat_map(|m| {
                    let value = (u32::from(m.register), u32::from(m.register) + u32::from(m.kind.words()));
                    let status = m.status_register.map(|s| (u32::from(s), u32::from(s) + 1));
                    std::iter::once(value).chain(status)
                })
                .collect();
            configured.sort_unstable();
            let shared = configured.windows(2).any(|p| p[1].0 < p[0].1);
            for pair in requests.windows(2) {
                // Sorted, disjoint (unless registers are shared), and not mergeable into one
                // request within the limits.
                prop_assert!(pair[0].start < pair[1].start);
                prop_assert!(shared || pair[0].end() <= u32::from(pair[1].start));
                prop_assert!(
                    u32::from(pair[1].start) > pair[0].end() + u32::from(MAX_GAP)
                        || pair[1].end() - u32::from(pair[0].start) > u32::from(MAX_REQUEST_REGISTERS)
                );
            }

            let answers = answers_for(&plan);
            for (i, m) in meters.iter().enumerate() {
                let words = plan.words(i, &answers).unwrap();
                let expected: Vec<u16> = (0..u32::from(m.kind.words()))
                    .map(|w| memory(u32::from(m.register) + w))
                    .collect();
                prop_assert_eq!(words.value, &expected[..]);
                prop_assert_eq!(words.status, m.status_register.map(|s| memory(u32::from(s))));
            }
            // Nothing is read that no meter needs, except gaps of at most MAX_GAP.
            let mut needed = vec![false; 1 << 16];
            for m in &meters {
                for w in 0..usize::from(m.kind.words()) {
                    needed[usize::from(m.register) + w] = true;
                }
                if let Some(s) = m.status_register {
                    needed[usize::from(s)] = true;
                }
            }
            for r in requests {
                prop_assert!(needed[usize::from(r.start)]);
                prop_assert!(needed[r.end() as usize - 1]);
                let mut gap = 0;
                for a in u32::from(r.start)..r.end() {
                    gap = if needed[a as usize] { 0 } else { gap + 1 };
                    prop_assert!(gap <= MAX_GAP);
                }
            }
        }
    }
}
