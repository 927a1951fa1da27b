//! A calendar's slots, computed from its rules: weekly working hours in Warsaw time (a
//! Saturday too, if the utility opens then), a slot length, how many people a slot takes, days
//! it is closed, and Polish public holidays (always closed). A slot is offered only whole inside its hours; on the days the clocks change, the
//! slots keep their Warsaw wall-clock times, and one that would start or end in the hour the
//! clocks skip is not offered.
//!
//! A booking may be made, moved or cancelled until the calendar's minimum notice before its
//! slot ([`Calendar::may_change`]); the reminder goes the day before at 18:00 Warsaw time
//! ([`reminder_at`]).

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use ebok_common::domain::holidays;
use ebok_common::domain::time::local_instant;
use serde::{Deserialize, Serialize};

/// How far ahead a slot may be booked, in days.
pub const HORIZON_DAYS: u64 = 180;
/// Visits one person may have booked in one calendar at a time.
pub const MAX_STANDING_PER_PERSON: i64 = 3;

/// Working hours on one weekday, Warsaw time: from `opens` to `closes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hours {
    pub weekday: Weekday,
    pub opens: NaiveTime,
    pub closes: NaiveTime,
}

/// What a calendar offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    /// Working hours; a weekday may have several spans (before and after a break) or none.
    pub hours: Vec<Hours>,
    pub slot_minutes: u32,
    /// People one slot takes (1 for a visit, more for a contract-signing desk).
    pub capacity: u16,
    /// Days the calendar is closed besides public holidays.
    pub closed: BTreeSet<NaiveDate>,
    /// Hours before its slot after which a booking can no longer be made, moved or cancelled.
    pub min_notice_hours: u32,
}

/// A slot of a calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The Warsaw day and time it starts, as residents read it.
    pub day: NaiveDate,
    pub local_start: NaiveTime,
}

impl Calendar {
    /// What is wrong with the rules, in Polish (for the staff member setting them up).
    pub fn check(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if !(5..=480).contains(&self.slot_minutes) {
            problems.push("Wizyta trwa od 5 minut do 8 godzin.".to_string());
        }
        if !(1..=100).contains(&self.capacity) {
            problems.push("Na jeden termin można przyjąć od 1 do 100 osób.".to_string());
        }
        if self.min_notice_hours > 24 * 14 {
            problems.push("Wyprzedzenie może wynosić najwyżej 14 dni.".to_string());
        }
        for h in &self.hours {
            if h.closes <= h.opens {
                problems.push(format!(
                    "{}: godzina zamknięcia musi być późniejsza niż otwarcia.",
                    weekday_polish(h.weekday)
                ));
            }
        }
        for (i, a) in self.hours.iter().enumerate() {
            for b in &self.hours[i + 1..] {
                if a.weekday == b.weekday && a.opens < b.closes && b.opens < a.closes {
                    problems.push(format!(
                        "{}: godziny pracy nakładają się.",
                        weekday_polish(a.weekday)
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Whether the calendar takes bookings on `day` at all.
    pub fn is_open(&self, day: NaiveDate) -> bool {
        holidays::holiday(day).is_none()
            && !self.closed.contains(&day)
            && self.hours.iter().any(|h| h.weekday == day.weekday())
    }

    /// The slots from `from` to `to` (Warsaw days, both included), in order.
    pub fn slots(&self, from: NaiveDate, to: NaiveDate) -> Vec<Slot> {
        let length = Duration::minutes(i64::from(self.slot_minutes.max(1)));
        let mut slots = Vec::new();
        let mut day = from;
        while day <= to {
            if self.is_open(day) {
                let mut spans: Vec<&Hours> = self
                    .hours
                    .iter()
                    .filter(|h| h.weekday == day.weekday())
                    .collect();
                spans.sort_by_key(|h| h.opens);
                for h in spans {
                    let mut at = h.opens;
                    // Wall-clock times: a slot is whole inside its hours.
                    loop {
                        let (ends, past_midnight) = at.overflowing_add_signed(length);
                        if past_midnight != 0 || ends > h.closes {
                            break;
                        }
                        if let (Some(start), Some(end)) =
                            (local_instant(day, at), local_instant(day, ends))
                            && end > start
                        {
                            slots.push(Slot {
                                start,
                                end,
                                day,
                                local_start: at,
                            });
                        }
                        at = ends;
                    }
                }
            }
            day = match day.checked_add_days(Days::new(1)) {
                Some(next) => next,
                None => break,
            };
        }
        slots
    }

    /// Whether a booking of the slot starting at `start` may be made, moved or cancelled `now`.
    pub fn may_change(&self, start: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now + Duration::hours(i64::from(self.min_notice_hours)) <= start
    }
}

/// When the reminder of a booking whose slot starts at `start` goes: 18:00 Warsaw time the day
/// before (or at once, for a booking made later than that).
pub fn reminder_at(start: DateTime<Utc>) -> DateTime<Utc> {
    let day = ebok_common::domain::time::local_day(start);
    let eve = day.pred_opt().unwrap_or(day);
    local_instant(
        eve,
        NaiveTime::from_hms_opt(18, 0, 0).expect("18:00 exists"),
    )
    .unwrap_or(start)
    .min(start)
}

/// "poniedziałek", … as a staff member reads the weekday.
pub fn weekday_polish(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Mon => "poniedziałek",
        Weekday::Tue => "wtorek",
        Weekday::Wed => "środa",
        Weekday::Thu => "czwartek",
        Weekday::Fri => "piątek",
        Weekday::Sat => "sobota",
        Weekday::Sun => "niedziela",
    }
}

/// One weekday's working hours as staff type them: spans separated by commas, each
/// `8:00-11:00` (a dash or an en dash; `8-11` will do); empty for a day off. In Polish when it
/// cannot be read.
pub fn parse_spans(text: &str) -> Result<Vec<(NaiveTime, NaiveTime)>, String> {
    let time = |t: &str| {
        let t = t.trim();
        NaiveTime::parse_from_str(t, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(&format!("{t}:00"), "%H:%M"))
            .map_err(|_| format!("„{t}” to nie godzina: wpisz np. 8:00-15:00."))
    };
    let mut spans = Vec::new();
    for span in text
        .split([',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let (opens, closes) = span
            .split_once(['-', '–'])
            .ok_or_else(|| format!("„{span}”: wpisz godziny od-do, np. 8:00-15:00."))?;
        spans.push((time(opens)?, time(closes)?));
    }
    Ok(spans)
}

/// The spans of `weekday`, as [`parse_spans`] reads them: "8:00-11:00, 12:00-15:00".
pub fn format_spans(hours: &[Hours], weekday: Weekday) -> String {
    let mut spans: Vec<&Hours> = hours.iter().filter(|h| h.weekday == weekday).collect();
    spans.sort_by_key(|h| h.opens);
    spans
        .iter()
        .map(|h| format!("{}-{}", h.opens.format("%-H:%M"), h.closes.format("%-H:%M")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// Monday to Friday 8:00–15:00 with a break 11:00–12:00, half-hour slots.
    fn office() -> Calendar {
        let mut hours = Vec::new();
        for weekday in [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ] {
            hours.push(Hours {
                weekday,
                opens: t(8, 0),
                closes: t(11, 0),
            });
            hours.push(Hours {
                weekday,
                opens: t(12, 0),
                closes: t(15, 0),
            });
        }
        Calendar {
            hours,
            slot_minutes: 30,
            capacity: 1,
            closed: BTreeSet::new(),
            min_notice_hours: 24,
        }
    }

    #[test]
    fn a_working_day_has_its_slots_around_the_break_in_warsaw_time() {
        let slots = office().slots(d(2026, 12, 7), d(2026, 12, 7));
        assert_eq!(slots.len(), 12);
        assert_eq!(slots[0].local_start, t(8, 0));
        assert_eq!(slots[5].local_start, t(10, 30));
        assert_eq!(slots[6].local_start, t(12, 0));
        // 8:00 in Warsaw in December is 7:00 UTC.
        assert_eq!(slots[0].start.to_rfc3339(), "2026-12-07T07:00:00+00:00");
        assert!(slots.windows(2).all(|w| w[0].end <= w[1].start));
    }

    #[test]
    fn no_slots_on_weekends_public_holidays_and_closed_days() {
        let mut calendar = office();
        calendar.closed.insert(d(2026, 12, 23));
        // 19–27 December 2026: a weekend, the 23rd closed, Christmas Eve (a holiday from
        // 2025), Christmas, and the weekend.
        let days: BTreeSet<NaiveDate> = calendar
            .slots(d(2026, 12, 19), d(2026, 12, 27))
            .iter()
            .map(|s| s.day)
            .collect();
        assert_eq!(days, BTreeSet::from([d(2026, 12, 21), d(2026, 12, 22)]));
        assert!(
            calendar.slots(d(2027, 1, 6), d(2027, 1, 6)).is_empty(),
            "Epiphany"
        );
    }

    #[test]
    fn on_the_day_the_clocks_go_forward_no_slot_touches_the_skipped_hour() {
        // Sunday 29 March 2026, 2:00 → 3:00: a calendar open that night.
        let night = Calendar {
            hours: vec![Hours {
                weekday: Weekday::Sun,
                opens: t(1, 0),
                closes: t(5, 0),
            }],
            slot_minutes: 60,
            capacity: 1,
            closed: BTreeSet::new(),
            min_notice_hours: 0,
        };
        let slots = night.slots(d(2026, 3, 29), d(2026, 3, 29));
        let starts: Vec<NaiveTime> = slots.iter().map(|s| s.local_start).collect();
        // 1:00–2:00 would end, and 2:00–3:00 start, in the hour that does not exist.
        assert_eq!(starts, [t(3, 0), t(4, 0)]);
        assert!(slots.iter().all(|s| s.end > s.start));
    }

    #[test]
    fn a_slot_that_does_not_fit_before_closing_is_not_offered() {
        let mut calendar = office();
        calendar.slot_minutes = 45;
        let slots = calendar.slots(d(2026, 12, 7), d(2026, 12, 7));
        // 8:00, 8:45, 9:30 (10:15 would end after 11:00); 12:00, 12:45, 13:30 (14:15 ends 15:00).
        let starts: Vec<NaiveTime> = slots.iter().map(|s| s.local_start).collect();
        assert_eq!(
            starts,
            [
                t(8, 0),
                t(8, 45),
                t(9, 30),
                t(10, 15),
                t(12, 0),
                t(12, 45),
                t(13, 30),
                t(14, 15)
            ]
        );
    }

    #[test]
    fn changes_stop_at_the_minimum_notice_and_the_reminder_goes_the_evening_before() {
        let calendar = office();
        let slot = calendar.slots(d(2026, 12, 8), d(2026, 12, 8))[0];
        assert!(calendar.may_change(slot.start, slot.start - Duration::hours(24)));
        assert!(!calendar.may_change(slot.start, slot.start - Duration::hours(23)));
        // 18:00 Warsaw on 7 December is 17:00 UTC.
        assert_eq!(
            reminder_at(slot.start).to_rfc3339(),
            "2026-12-07T17:00:00+00:00"
        );
    }

    #[test]
    fn rules_that_cannot_work_are_refused_in_polish() {
        let mut calendar = office();
        calendar.slot_minutes = 0;
        calendar.capacity = 0;
        calendar.hours.push(Hours {
            weekday: Weekday::Mon,
            opens: t(10, 0),
            closes: t(9, 0),
        });
        calendar.hours.push(Hours {
            weekday: Weekday::Tue,
            opens: t(9, 0),
            closes: t(13, 0),
        });
        let problems = calendar.check().unwrap_err();
        assert!(problems.iter().any(|p| p.contains("od 5 minut")));
        assert!(problems.iter().any(|p| p.contains("od 1 do 100")));
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("poniedziałek: godzina zamknięcia"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("wtorek: godziny pracy nakładają"))
        );
        assert_eq!(office().check(), Ok(()));
    }

    proptest! {
        #[test]
        fn slots_never_overlap_and_fall_on_open_days_within_the_hours(
            start in 0u32..720, length in 5u32..240, days in 0u64..60, first in 0u64..700
        ) {
            let calendar = Calendar {
                hours: vec![Hours {
                    weekday: Weekday::Wed,
                    opens: t(start / 60 % 12 + 6, start % 60),
                    closes: t(20, 0),
                }],
                slot_minutes: length,
                capacity: 1,
                closed: BTreeSet::new(),
                min_notice_hours: 0,
            };
            let from = d(2026, 1, 1) + Days::new(first);
            let slots = calendar.slots(from, from + Days::new(days));
            for w in slots.windows(2) {
                prop_assert!(w[0].end <= w[1].start);
            }
            for s in &slots {
                prop_assert!(calendar.is_open(s.day));
                prop_assert!(s.end - s.start == Duration::minutes(i64::from(length)));
                prop_assert!(s.local_start >= calendar.hours[0].opens);
            }
        }
    }

    #[test]
    fn working_hours_are_read_as_staff_type_them_and_written_back_the_same() {
        assert_eq!(
            parse_spans("8:00-11:00, 12–15").unwrap(),
            [(t(8, 0), t(11, 0)), (t(12, 0), t(15, 0))]
        );
        assert_eq!(parse_spans("  ").unwrap(), []);
        assert!(parse_spans("8:00").unwrap_err().contains("od-do"));
        assert!(parse_spans("8:00-25:00").unwrap_err().contains("25:00"));
        let hours: Vec<Hours> = parse_spans("12:00-15:30, 8:00-11:00")
            .unwrap()
            .into_iter()
            .map(|(opens, closes)| Hours {
                weekday: Weekday::Tue,
                opens,
                closes,
            })
            .collect();
        assert_eq!(
            format_spans(&hours, Weekday::Tue),
            "8:00-11:00, 12:00-15:30"
        );
        assert_eq!(format_spans(&hours, Weekday::Wed), "");
    }
}
