//! The transmission schedule of a meter: when it measures and sends its register, which days it
//! stays silent (gaps), which telegrams arrive twice (duplicates) and which arrive late, after
//! later measurements (out of order).
//!
//! A meter sending `per_day` telegrams a day divides each local day into `per_day` equal slots
//! and measures once per slot at a meter-specific, slightly jittered offset: for a daily meter
//! between 00:05 and 04:00 after local midnight. A telegram is normally sent when measured; a
//! late one is sent 1.2–3 slot lengths later; a duplicate arrives 1–120 s after its original.
//! Everything is a pure function of (meter, day, slot), like the rest of the model.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::calendar::{DAY, day_number, day_start_ts, local_day_ts, next_day, utc};
use super::meter::{MeterCursor, MeterModel, RegisterReading};
use super::noise::{Draws, Purpose, hash};

/// The most telegrams a day a meter can be asked to send (one a minute).
pub const MAX_PER_DAY: u32 = 1_440;

/// One telegram as received.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Transmission {
    /// When the telegram is sent (and received).
    pub sent_at: DateTime<Utc>,
    /// When the register was read.
    pub measured_at: DateTime<Utc>,
    /// The register and flags at `measured_at`.
    pub reading: RegisterReading,
    /// A second copy of a telegram already sent.
    pub duplicate: bool,
    /// Sent late, after telegrams measured later than this one.
    pub late: bool,
}

/// One measurement slot of one day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    measured: i64,
    /// Delay of a late send, if late.
    late_by: Option<i64>,
    /// Delay of the duplicate after the send, if duplicated.
    duplicate_after: Option<i64>,
}

impl MeterModel {
    /// Whether the meter transmits nothing measured on the local `day` (a gap day). Gaps are
    /// three times as likely while the battery is low.
    pub fn is_transmission_gap(&self, day: NaiveDate) -> bool {
        let th = if self.low_battery_at(day_start_ts(day)) {
            self.thresholds.gap_low_battery
        } else {
            self.thresholds.gap
        };
        hash(self.key, Purpose::Gap, day_number(day)) < th
    }

    /// The telegrams sent in `[from, to)` by a meter measuring `per_day` times a day, sorted by
    /// `sent_at` (ties by `measured_at`, originals before duplicates). Slots measured before the
    /// fleet start and on gap days are skipped; late telegrams measured before `from` but sent
    /// in the range are included.
    ///
    /// Cost: creating a [`MeterCursor`] once, then constant per telegram.
    ///
    /// # Panics
    /// If `per_day` is 0 or above [`MAX_PER_DAY`].
    pub fn transmissions(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        per_day: u32,
    ) -> Transmissions {
        assert!(
            (1..=MAX_PER_DAY).contains(&per_day),
            "per_day must be in 1..={MAX_PER_DAY}, got {per_day}"
        );
        let (from, to) = (from.timestamp(), to.timestamp());
        let longest_delay = 3 * DAY / i64::from(per_day) + 600 + 120;
        let first_day = local_day_ts(from - longest_delay - DAY);
        let last_day = local_day_ts(to - 1);
        Transmissions {
            cursor: self.cursor(utc(day_start_ts(first_day))),
            from,
            to,
            per_day,
            next_day: first_day,
            last_day,
            horizon: i64::MIN,
            finished: to <= from,
            pending: BinaryHeap::new(),
        }
    }

    /// The measurement slot `k` of `per_day` on the day starting at `s` and lasting `len` s.
    fn slot(&self, day: NaiveDate, s: i64, len: i64, k: u32, per_day: u32) -> Slot {
        let n = i64::from(per_day);
        let k64 = i64::from(k);
        let a = s + len * k64 / n;
        let slot_len = s + len * (k64 + 1) / n - a;
        let lo = 300.min(slot_len / 12);
        let hi = 14_400.min(slot_len);
        let mut d = Draws::new(hash(self.key, Purpose::Slot, day_number(day) * 4_096 + k64));
        let f = 0.9 * self.tx_phase + 0.1 * d.unit();
        let measured = a + lo + ((hi - lo) as f64 * f) as i64;
        let late_hash = d.next_u64();
        let duplicate_hash = d.next_u64();
        let nominal = DAY / n;
        let late_delay = ((nominal as f64 * d.uniform(1.2, 3.0)) as i64).max(600);
        let duplicate_delay = d.range(1, 120) as i64;
        Slot {
            measured,
            late_by: (late_hash < self.thresholds.late).then_some(late_delay),
            duplicate_after: (duplicate_hash < self.thresholds.duplicate)
                .then_some(duplicate_delay),
        }
    }
}

/// A telegram waiting in the sorting buffer.
#[derive(Debug)]
struct Pending(Transmission);

impl Pending {
    fn key(&self) -> (DateTime<Utc>, DateTime<Utc>, bool) {
        (self.0.sent_at, self.0.measured_at, self.0.duplicate)
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// The iterator returned by [`MeterModel::transmissions`].
#[derive(Debug)]
pub struct Transmissions {
    cursor: MeterCursor,
    from: i64,
    to: i64,
    per_day: u32,
    next_day: NaiveDate,
    last_day: NaiveDate,
    /// Every telegram sent before this instant has been generated.
    horizon: i64,
    finished: bool,
    pending: BinaryHeap<Reverse<Pending>>,
}

impl Transmissions {
    /// Generates the telegrams measured on `self.next_day`.
    fn generate_day(&mut self) {
        let day = self.next_day;
        let s = day_start_ts(day);
        let e = day_start_ts(next_day(day));
        let model = self.cursor.model().clone();
        if !model.is_transmission_gap(day) {
            for k in 0..self.per_day {
                let slot = model.slot(day, s, e - s, k, self.per_day);
                if slot.measured < model.start || slot.measured >= self.to {
                    continue;
                }
                let measured_at = utc(slot.measured);
                let reading = self.cursor.advance_to(measured_at);
                let original = Transmission {
                    sent_at: utc(slot.measured + slot.late_by.unwrap_or(0)),
                    measured_at,
                    reading,
                    duplicate: false,
                    late: slot.late_by.is_some(),
                };
                if let Some(after) = slot.duplicate_after {
                    self.pending.push(Reverse(Pending(Transmission {
                        sent_at: utc(original.sent_at.timestamp() + after),
                        duplicate: true,
                        ..original
                    })));
                }
                self.pending.push(Reverse(Pending(original)));
            }
        }
        self.horizon = e;
        self.next_day = next_day(day);
    }
}

impl Iterator for Transmissions {
    type Item = Transmission;

    fn next(&mut self) -> Option<Transmission> {
        while !self.finished {
            if let Some(Reverse(top)) = self.pending.peek()
                && top.0.sent_at.timestamp() < self.horizon
            {
                let sent = top.0.sent_at.timestamp();
                if sent >= self.to {
                    // Everything still to come is sent even later.
                    self.finished = true;
                    self.pending.clear();
                    return None;
                }
                let Some(Reverse(Pending(tx))) = self.pending.pop() else {
                    break;
                };
                if sent >= self.from {
                    return Some(tx);
                }
                continue;
            }
            if self.next_day > self.last_day {
                if self.pending.is_empty() {
                    self.finished = true;
                } else {
                    self.horizon = i64::MAX;
                }
                continue;
            }
            self.generate_day();
        }
        None
    }
}
