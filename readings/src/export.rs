//! History as CSV that Polish Excel opens correctly by double-click (the rules of every export:
//! `ebok_common::excel_csv`), with decimal commas and times in Europe/Warsaw local time.

use std::fmt::Write;

use ebok_common::domain::time::BILLING_TZ;
use ebok_common::excel_csv::text_cell;
use ebok_common::polish;

use crate::history::{Point, Step};

/// The header row.
pub const HEADER: &str = "Licznik;Data;Stan licznika [m³];Czas odczytu;Zużycie [m³];Źródło;\
                          Stan na koniec okresu [m³];Stan na koniec z chwili;Stan na koniec wyliczony";

/// The history of meter `serial` as CSV, one row per period: the period's last reading as the
/// meter sent it, the consumption by the day rule, and the register at the period's end (with
/// whether it was worked out from the readings around the midnight). Periods without a reading
/// have empty reading columns; unknown consumption or register is an empty cell (not 0).
pub fn history_csv(serial: &str, points: &[Point], step: Step) -> String {
    let mut out = String::with_capacity(64 + points.len() * 64);
    out.push('\u{feff}');
    out.push_str(HEADER);
    out.push_str("\r\n");
    let serial = text_cell(serial);
    for point in points {
        let date = match step {
            Step::Day => point.period_start.format("%Y-%m-%d").to_string(),
            Step::Month => point.period_start.format("%Y-%m").to_string(),
        };
        let (register, at, source) = match &point.reading {
            Some(r) => (
                polish::m3_plain(r.litres),
                r.measured_at
                    .with_timezone(&BILLING_TZ)
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
                text_cell(source_label(&r.source)),
            ),
            None => (String::new(), String::new(), String::new()),
        };
        let used = point
            .consumption_litres
            .map(polish::m3_plain)
            .unwrap_or_default();
        let (end, end_at, worked_out) = match point.end {
            Some(e) => (
                polish::m3_plain(e.litres),
                e.at.with_timezone(&BILLING_TZ)
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
                if e.interpolated { "tak" } else { "nie" },
            ),
            None => (String::new(), String::new(), ""),
        };
        let _ = write!(
            out,
            "{serial};{date};{register};{at};{used};{source};{end};{end_at};{worked_out}\r\n"
        );
    }
    out
}

/// How a reading's source reads in Polish.
pub fn source_label(source: &str) -> &str {
    match source {
        "radio" => "radiowy",
        "modbus" => "Modbus",
        "manual" => "ręczny",
        "estimate" => "szacunkowy",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Reading;
    use chrono::{DateTime, NaiveDate, Utc};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn reading(at: &str, litres: i64, source: &str) -> Option<Reading> {
        Some(Reading {
            measured_at: at.parse::<DateTime<Utc>>().unwrap(),
            litres,
            source: source.to_owned().into(),
        })
    }

    #[test]
    fn csv_starts_with_bom_and_polish_header_and_uses_crlf() {
        let csv = history_csv("SN1", &[], Step::Day);
        assert_eq!(
            csv,
            "\u{feff}Licznik;Data;Stan licznika [m³];Czas odczytu;Zużycie [m³];Źródło;\
             Stan na koniec okresu [m³];Stan na koniec z chwili;Stan na koniec wyliczony\r\n"
        );
        assert!(csv.as_bytes().starts_with(&[0xEF, 0xBB, 0xBF]));
    }

    #[test]
    fn rows_use_decimal_comma_and_warsaw_local_time() {
        let points = vec![
            Point {
                period_start: d(2026, 3, 12),
                // 22:45 UTC is 23:45 in Warsaw in March (CET).
                reading: reading("2026-03-12T22:45:00Z", 123_456, "radio"),
                consumption_litres: Some(241),
                end: Some(ebok_common::domain::boundary::RegisterAt {
                    at: "2026-03-12T23:00:00Z".parse().unwrap(),
                    litres: 123_460,
                    interpolated: true,
                }),
                consumption_interpolated: true,
            },
            Point {
                period_start: d(2026, 7, 1),
                // 21:30 UTC is 23:30 in Warsaw in July (CEST).
                reading: reading("2026-07-01T21:30:00Z", 1_234_567_890, "manual"),
                consumption_litres: None,
                end: None,
                consumption_interpolated: false,
            },
            Point {
                period_start: d(2026, 7, 2),
                reading: None,
                consumption_litres: None,
                end: None,
                consumption_interpolated: false,
            },
        ];
        let csv = history_csv("SN1", &points, Step::Day);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[1],
            "SN1;2026-03-12;123,456;2026-03-12 23:45;0,241;radiowy;123,460;2026-03-13 00:00;tak"
        );
        assert_eq!(
            lines[2],
            "SN1;2026-07-01;1234567,890;2026-07-01 23:30;;ręczny;;;"
        );
        assert_eq!(lines[3], "SN1;2026-07-02;;;;;;;");
        assert_eq!(lines[4], "");
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn months_are_written_as_year_and_month() {
        let points = vec![Point {
            period_start: d(2026, 10, 1),
            reading: reading("2026-10-31T22:59:00Z", 5_000, "estimate"),
            consumption_litres: Some(4_512),
            end: None,
            consumption_interpolated: false,
        }];
        let csv = history_csv("SN1", &points, Step::Month);
        assert!(
            csv.contains("SN1;2026-10;5,000;2026-10-31 23:59;4,512;szacunkowy;;;\r\n"),
            "{csv}"
        );
    }

    #[test]
    fn text_with_separators_quotes_or_formulas_is_quoted_and_defused() {
        let points = vec![Point {
            period_start: d(2026, 3, 12),
            reading: None,
            consumption_litres: None,
            end: None,
            consumption_interpolated: false,
        }];
        let csv = history_csv("A;\"B\"", &points, Step::Day);
        assert!(
            csv.contains("\r\n\"A;\"\"B\"\"\";2026-03-12;;;;;;;\r\n"),
            "{csv}"
        );
        let csv = history_csv("=HYPERLINK(\"x\")", &points, Step::Day);
        assert!(csv.contains("\r\n\"'=HYPERLINK(\"\"x\"\")\";"), "{csv}");
        let csv = history_csv("-5", &points, Step::Day);
        assert!(csv.contains("\r\n'-5;"), "{csv}");
    }
}
