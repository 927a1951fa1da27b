//! The Polish words of alarm rules: numbers with their units and plural forms, instants in
//! Warsaw time, and the names of meter alarms. Everything a resident reads about a rule is
//! built from these.

use chrono::{DateTime, NaiveDate, Utc};
use ebok_common::domain::time::BILLING_TZ;

/// Groups digits with non-breaking spaces from five digits on ("1500", "12 500"), as Polish
/// typography does.
pub fn litres_number(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let sign = if n < 0 { "-" } else { "" };
    if digits.len() <= 4 {
        return format!("{sign}{digits}");
    }
    let mut out = String::from(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    out
}

/// "500 l", "12 500 l".
pub fn litres(n: i64) -> String {
    format!("{}\u{a0}l", litres_number(n))
}

/// A register value in cubic metres with three decimals: "123,456 m³".
pub fn cubic_metres(litres: i64) -> String {
    format!(
        "{},{:03}\u{a0}m³",
        litres_number(litres / 1000),
        (litres % 1000).abs()
    )
}

/// Which of the three Polish plural forms a count takes: 1, 2–4 (not 12–14), the rest.
fn plural<'a>(n: i64, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else if (2..=4).contains(&(n % 10)) && !(12..=14).contains(&(n % 100)) {
        few
    } else {
        many
    }
}

/// Accusative, as after "przez": "1 godzinę", "3 godziny", "12 godzin".
pub fn hours(n: i32) -> String {
    format!("{n} {}", plural(n.into(), "godzinę", "godziny", "godzin"))
}

/// "1 dzień", "2 dni".
pub fn days(n: i32) -> String {
    format!("{n} {}", if n == 1 { "dzień" } else { "dni" })
}

/// "21.11.2026, 14:05" in Warsaw time.
pub fn when(at: DateTime<Utc>) -> String {
    at.with_timezone(&BILLING_TZ)
        .format("%d.%m.%Y, %H:%M")
        .to_string()
}

/// "14:05" in Warsaw time.
pub fn clock(at: DateTime<Utc>) -> String {
    at.with_timezone(&BILLING_TZ).format("%H:%M").to_string()
}

/// "21.11.2026".
pub fn date(day: NaiveDate) -> String {
    day.format("%d.%m.%Y").to_string()
}

/// The Polish name of a meter alarm (`meter_alarm_kind`).
pub fn meter_alarm(kind: &str) -> &'static str {
    match kind {
        "leak" => "wyciek wody",
        "burst" => "gwałtowny wypływ wody (możliwe pęknięcie rury)",
        "backflow" => "przepływ wsteczny",
        "tamper" => "ingerencja w wodomierz",
        "dry" => "brak wody w wodomierzu",
        "low_battery" => "niski poziom baterii wodomierza",
        "device_error" => "błąd wodomierza",
        "no_data" => "brak odczytów z wodomierza",
        "continuous_flow" => "ciągły przepływ wody",
        _ => "alarm wodomierza",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_group_from_five_digits() {
        assert_eq!(litres_number(1500), "1500");
        assert_eq!(litres_number(12_500), "12\u{a0}500");
        assert_eq!(litres(1_000_000), "1\u{a0}000\u{a0}000\u{a0}l");
    }

    #[test]
    fn register_reads_in_cubic_metres() {
        assert_eq!(cubic_metres(123_456), "123,456\u{a0}m³");
        assert_eq!(cubic_metres(7), "0,007\u{a0}m³");
    }

    #[test]
    fn plurals_follow_polish_rules() {
        assert_eq!(hours(2), "2 godziny");
        assert_eq!(hours(5), "5 godzin");
        assert_eq!(hours(13), "13 godzin");
        assert_eq!(hours(22), "22 godziny");
        assert_eq!(hours(72), "72 godziny");
        assert_eq!(days(60), "60 dni");
    }
}
