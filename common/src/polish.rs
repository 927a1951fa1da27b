//! How everything a resident or a clerk reads is written: one style for the portal, push
//! notifications, e-mail, CSV exports and (next) invoices.
//!
//! - Days: "12 marca 2026"; months: "marzec 2026"; instants, in Europe/Warsaw time:
//!   "12 marca 2026, 08:15"; a time of day: "08:15".
//! - Numbers: a decimal comma, thousands grouped with a no-break space from 1 000 on
//!   ("1 234,567"); a unit follows after a no-break space, so a line never breaks inside an
//!   amount ("1 500 l", "1 234,567 m³", "1 234,56 zł").
//! - Volumes are integer litres shown as cubic metres with three decimals; money is integer
//!   grosze ([`Money`]) shown with two, and in words for invoices ("sto dwadzieścia trzy złote
//!   45/100").
//! - CSV is read by spreadsheets, which take a grouped number for text: there, numbers keep the
//!   decimal comma and lose the grouping ([`m3_plain`]), and dates are ISO ("2026-03-12
//!   08:15", Warsaw time), which spreadsheets recognise as dates.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::domain::Money;
use crate::domain::time::BILLING_TZ;

const NBSP: char = '\u{a0}';

const MONTHS_GENITIVE: [&str; 12] = [
    "stycznia",
    "lutego",
    "marca",
    "kwietnia",
    "maja",
    "czerwca",
    "lipca",
    "sierpnia",
    "września",
    "października",
    "listopada",
    "grudnia",
];
const MONTHS_NOMINATIVE: [&str; 12] = [
    "styczeń",
    "luty",
    "marzec",
    "kwiecień",
    "maj",
    "czerwiec",
    "lipiec",
    "sierpień",
    "wrzesień",
    "październik",
    "listopad",
    "grudzień",
];

const MONTHS_SHORT: [&str; 12] = [
    "sty", "lut", "mar", "kwi", "maj", "cze", "lip", "sie", "wrz", "paź", "lis", "gru",
];

/// "12 marca 2026".
pub fn day(day: NaiveDate) -> String {
    format!(
        "{} {} {}",
        day.day(),
        MONTHS_GENITIVE[day.month0() as usize],
        day.year()
    )
}

/// "marzec 2026".
pub fn month(day: NaiveDate) -> String {
    format!(
        "{} {}",
        MONTHS_NOMINATIVE[day.month0() as usize],
        day.year()
    )
}

/// A month after "od", "do", "z": "marca 2026".
pub fn month_genitive(day: NaiveDate) -> String {
    format!("{} {}", MONTHS_GENITIVE[day.month0() as usize], day.year())
}

/// A day where space is short (a chart's axis): "12 mar".
pub fn day_short(day: NaiveDate) -> String {
    format!("{} {}", day.day(), MONTHS_SHORT[day.month0() as usize])
}

/// A month where space is short: "mar 2026".
pub fn month_short(day: NaiveDate) -> String {
    format!("{} {}", MONTHS_SHORT[day.month0() as usize], day.year())
}

/// "12 marca 2026, 08:15", in Warsaw time.
pub fn instant(at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&BILLING_TZ);
    format!("{}, {}", day(local.date_naive()), local.format("%H:%M"))
}

/// "08:15", in Warsaw time.
pub fn clock(at: DateTime<Utc>) -> String {
    at.with_timezone(&BILLING_TZ).format("%H:%M").to_string()
}

/// An integer with its thousands grouped: "999", "1 000", "12 500".
pub fn integer(n: i64) -> String {
    let mut out = String::new();
    if n < 0 {
        out.push('-');
    }
    push_grouped(&mut out, n.unsigned_abs());
    out
}

fn push_grouped(out: &mut String, n: u64) {
    let digits = n.to_string();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(NBSP);
        }
        out.push(c);
    }
}

/// Litres as cubic metres, three decimals: 241 → "0,241", 1234567 → "1 234,567".
pub fn m3(litres: i64) -> String {
    let mut out = String::new();
    if litres < 0 {
        out.push('-');
    }
    let abs = litres.unsigned_abs();
    push_grouped(&mut out, abs / 1_000);
    out.push_str(&format!(",{:03}", abs % 1_000));
    out
}

/// Like [`m3`] without trailing zeros in the fraction, for scales and axes: 250 → "0,25",
/// 2000 → "2".
pub fn m3_short(litres: i64) -> String {
    let full = m3(litres);
    full.trim_end_matches('0').trim_end_matches(',').to_string()
}

/// "1 234,567 m³".
pub fn volume(litres: i64) -> String {
    format!("{}{NBSP}m³", m3(litres))
}

/// "500 l", "12 500 l".
pub fn litres(n: i64) -> String {
    format!("{}{NBSP}l", integer(n))
}

/// Cubic metres for a spreadsheet: "1234,567".
pub fn m3_plain(litres: i64) -> String {
    let sign = if litres < 0 { "-" } else { "" };
    let abs = litres.unsigned_abs();
    format!("{sign}{},{:03}", abs / 1_000, abs % 1_000)
}

/// Parses what a resident or a clerk types from a meter's dial: cubic metres with up to three decimals, comma
/// or dot (`123,456`, `123.4`, `123`); spaces allowed between digit groups. Returns litres.
pub fn parse_m3(raw: &str) -> Option<i64> {
    let cleaned: String = raw
        .trim()
        .trim_end_matches("m³")
        .trim_end_matches("m3")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
        .collect();
    let (whole, frac) = match cleaned.split_once([',', '.']) {
        Some((w, f)) => (w, f),
        None => (cleaned.as_str(), ""),
    };
    if whole.is_empty() || whole.len() > 9 || frac.len() > 3 {
        return None;
    }
    if !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<3}").parse().ok()?
    };
    Some(whole * 1000 + frac)
}

/// "1 234,56 zł".
pub fn money(amount: Money) -> String {
    let grosze = amount.grosze();
    let mut out = String::new();
    if grosze < 0 {
        out.push('-');
    }
    let abs = grosze.unsigned_abs();
    push_grouped(&mut out, abs / 100);
    out.push_str(&format!(",{:02}{NBSP}zł", abs % 100));
    out
}

/// A postal address in two lines, in the house style of the SQL function `ebok_address`
/// (migration 0018): "Lipowa 5/2" or, where a village has no streets, "Kurowo 5"; a village with
/// streets and a post office elsewhere adds its name ("Lipowa 5, Kurowo"); the second line is the
/// postal code and the post town ("14-420 Młynary").
pub fn address_lines(
    street: Option<&str>,
    building_no: &str,
    apartment_no: Option<&str>,
    postal_code: Option<&str>,
    city: &str,
    post_town: Option<&str>,
) -> (String, String) {
    fn nonempty(s: Option<&str>) -> Option<&str> {
        s.map(str::trim).filter(|s| !s.is_empty())
    }
    let (street, apartment, post_town) = (
        nonempty(street),
        nonempty(apartment_no),
        nonempty(post_town),
    );
    let mut first = format!("{} {}", street.unwrap_or(city), building_no.trim());
    if let Some(a) = apartment {
        first.push('/');
        first.push_str(a);
    }
    if street.is_some() && post_town.is_some_and(|t| t != city) {
        first.push_str(", ");
        first.push_str(city);
    }
    let second = [nonempty(postal_code), Some(post_town.unwrap_or(city))]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    (first, second)
}

/// The text with its first letter capitalised ("wyciek wody" at the start of a line).
pub fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The text in lower case, its Polish letters as their plain Latin ones ("Łódź" → "lodz"):
/// for comparing what people type or banks write, and for ASCII names made of Polish ones.
pub fn folded(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| match c {
            'ą' => 'a',
            'ć' => 'c',
            'ę' => 'e',
            'ł' => 'l',
            'ń' => 'n',
            'ó' => 'o',
            'ś' => 's',
            'ź' | 'ż' => 'z',
            c => c,
        })
        .collect()
}

/// The text with its first letter in lower case (a sentence's start inside another one).
pub fn uncapitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Which of the three Polish forms a count takes: 1; 2–4 (not 12–14); the rest.
pub fn plural<'a>(n: i64, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
    let n = n.unsigned_abs();
    if n == 1 {
        one
    } else if (2..=4).contains(&(n % 10)) && !(12..=14).contains(&(n % 100)) {
        few
    } else {
        many
    }
}

/// A yearly rate in hundredths of a percent: 950 → "9,50%".
pub fn percent_bp(basis_points: u32) -> String {
    format!("{},{:02}%", basis_points / 100, basis_points % 100)
}

/// An amount in words as invoices print it: złoty in words, grosze as a fraction:
/// "sto dwadzieścia trzy złote 45/100", "jeden złoty 00/100", "zero złotych 07/100".
pub fn money_in_words(amount: Money) -> String {
    let grosze = amount.grosze();
    let abs = grosze.unsigned_abs();
    let zloty = abs / 100;
    let mut out = String::new();
    if grosze < 0 {
        out.push_str("minus ");
    }
    out.push_str(&number_in_words(zloty));
    out.push(' ');
    out.push_str(plural(
        zloty.min(i64::MAX as u64) as i64,
        "złoty",
        "złote",
        "złotych",
    ));
    out.push_str(&format!(" {:02}/100", abs % 100));
    out
}

const UNITS: [&str; 20] = [
    "zero",
    "jeden",
    "dwa",
    "trzy",
    "cztery",
    "pięć",
    "sześć",
    "siedem",
    "osiem",
    "dziewięć",
    "dziesięć",
    "jedenaście",
    "dwanaście",
    "trzynaście",
    "czternaście",
    "piętnaście",
    "szesnaście",
    "siedemnaście",
    "osiemnaście",
    "dziewiętnaście",
];
const TENS: [&str; 10] = [
    "",
    "",
    "dwadzieścia",
    "trzydzieści",
    "czterdzieści",
    "pięćdziesiąt",
    "sześćdziesiąt",
    "siedemdziesiąt",
    "osiemdziesiąt",
    "dziewięćdziesiąt",
];
const HUNDREDS: [&str; 10] = [
    "",
    "sto",
    "dwieście",
    "trzysta",
    "czterysta",
    "pięćset",
    "sześćset",
    "siedemset",
    "osiemset",
    "dziewięćset",
];
/// Thousand, million, …: the forms for 1, for 2–4 and for the rest.
const SCALES: [(&str, &str, &str); 6] = [
    ("tysiąc", "tysiące", "tysięcy"),
    ("milion", "miliony", "milionów"),
    ("miliard", "miliardy", "miliardów"),
    ("bilion", "biliony", "bilionów"),
    ("biliard", "biliardy", "biliardów"),
    ("trylion", "tryliony", "trylionów"),
];

/// A whole number in Polish words: 0 → "zero", 1 001 → "tysiąc jeden".
pub fn number_in_words(n: u64) -> String {
    if n == 0 {
        return UNITS[0].to_string();
    }
    let mut groups = Vec::new();
    let mut rest = n;
    while rest > 0 {
        groups.push(rest % 1_000);
        rest /= 1_000;
    }
    let mut words: Vec<String> = Vec::new();
    for (scale, &group) in groups.iter().enumerate().rev() {
        if group == 0 {
            continue;
        }
        if scale == 0 {
            words.push(below_thousand(group));
            continue;
        }
        let (one, few, many) = SCALES[scale - 1];
        if group == 1 {
            words.push(one.to_string());
        } else {
            words.push(format!(
                "{} {}",
                below_thousand(group),
                plural(group as i64, one, few, many)
            ));
        }
    }
    words.join(" ")
}

fn below_thousand(n: u64) -> String {
    let mut parts = Vec::new();
    let (hundreds, rest) = (n / 100, n % 100);
    if hundreds > 0 {
        parts.push(HUNDREDS[hundreds as usize]);
    }
    if rest >= 20 {
        parts.push(TENS[(rest / 10) as usize]);
        if rest % 10 > 0 {
            parts.push(UNITS[(rest % 10) as usize]);
        }
    } else if rest > 0 {
        parts.push(UNITS[rest as usize]);
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn folded_is_lower_case_without_polish_letters() {
        assert_eq!(
            super::folded("Zażółć GĘŚLĄ jaźń, Łódź"),
            "zazolc gesla jazn, lodz"
        );
    }

    #[test]
    fn addresses_in_two_lines_as_ebok_address_writes_them() {
        assert_eq!(
            address_lines(
                Some("Lipowa"),
                "5",
                Some("2"),
                Some("14-420"),
                "Młynary",
                None
            ),
            ("Lipowa 5/2".into(), "14-420 Młynary".into())
        );
        assert_eq!(
            address_lines(None, "5", None, Some("14-420"), "Kurowo", Some("Młynary")),
            ("Kurowo 5".into(), "14-420 Młynary".into())
        );
        assert_eq!(
            address_lines(
                Some("Polna"),
                "1",
                None,
                Some("14-420"),
                "Kurowo",
                Some("Młynary")
            ),
            ("Polna 1, Kurowo".into(), "14-420 Młynary".into())
        );
    }

    use super::*;

    #[test]
    fn dial_readings_parse_to_litres() {
        assert_eq!(parse_m3("123,456"), Some(123_456));
        assert_eq!(parse_m3("123.4"), Some(123_400));
        assert_eq!(parse_m3(" 1 234,5 m³"), Some(1_234_500));
        assert_eq!(parse_m3("0"), Some(0));
        assert_eq!(parse_m3("12,3456"), None);
        assert_eq!(parse_m3("-5"), None);
        assert_eq!(parse_m3("abc"), None);
        assert_eq!(parse_m3(""), None);
    }
    use chrono::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn dates_and_instants_are_written_in_warsaw_time() {
        let day_ = NaiveDate::from_ymd_opt(2026, 3, 12).unwrap();
        assert_eq!(day(day_), "12 marca 2026");
        assert_eq!(month(day_), "marzec 2026");
        assert_eq!(month_genitive(day_), "marca 2026");
        assert_eq!(day_short(day_), "12 mar");
        assert_eq!(month_short(day_), "mar 2026");
        // 07:15 UTC is 08:15 in Warsaw in March (CET), 09:15 in July (CEST).
        let winter = Utc.with_ymd_and_hms(2026, 3, 12, 7, 15, 0).unwrap();
        assert_eq!(instant(winter), "12 marca 2026, 08:15");
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 7, 15, 0).unwrap();
        assert_eq!(clock(summer), "09:15");
        // 23:30 UTC on the 31st of December is already the new year in Warsaw.
        let eve = Utc.with_ymd_and_hms(2026, 12, 31, 23, 30, 0).unwrap();
        assert_eq!(instant(eve), "1 stycznia 2027, 00:30");
    }

    #[test]
    fn numbers_group_thousands_with_a_no_break_space() {
        assert_eq!(integer(999), "999");
        assert_eq!(integer(1_000), "1\u{a0}000");
        assert_eq!(integer(-1_234_567), "-1\u{a0}234\u{a0}567");
        assert_eq!(litres(1_500), "1\u{a0}500\u{a0}l");
        assert_eq!(m3(241), "0,241");
        assert_eq!(m3(1_234_567), "1\u{a0}234,567");
        assert_eq!(m3(-5), "-0,005");
        assert_eq!(volume(102_250), "102,250\u{a0}m³");
        assert_eq!(m3_short(250), "0,25");
        assert_eq!(m3_short(2_000), "2");
        assert_eq!(m3_short(0), "0");
        assert_eq!(m3_plain(1_234_567), "1234,567");
        assert_eq!(money(Money::from_grosze(123_456)), "1\u{a0}234,56\u{a0}zł");
        assert_eq!(money(Money::from_grosze(-7)), "-0,07\u{a0}zł");
    }

    #[test]
    fn volumes_are_cubic_metres_with_a_decimal_comma() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(m3(241), "0,241");
        assert_eq!(m3(0), "0,000");
        assert_eq!(m3(1_234_567), "1\u{a0}234,567");
        assert_eq!(m3(-1_500), "-1,500");
        assert_eq!(day(d(2026, 3, 12)), "12 marca 2026");
        assert_eq!(month(d(2026, 10, 1)), "październik 2026");
    }

    #[test]
    fn money_is_written_the_polish_way() {
        assert_eq!(
            money(Money::from_grosze(123456789)),
            "1\u{a0}234\u{a0}567,89\u{a0}zł"
        );
    }

    #[test]
    fn times_are_shown_in_warsaw() {
        let summer: DateTime<Utc> = "2026-07-01T10:00:00Z".parse().unwrap();
        let winter: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        assert_eq!(instant(summer), "1 lipca 2026, 12:00");
        assert_eq!(instant(winter), "1 grudnia 2026, 11:00");
    }

    #[test]
    fn plural_forms_follow_polish_grammar() {
        let form = |n| plural(n, "złoty", "złote", "złotych");
        assert_eq!(
            [0, 1, 2, 4, 5, 11, 12, 14, 21, 22, 25, 102, 112, 122].map(form),
            [
                "złotych", "złoty", "złote", "złote", "złotych", "złotych", "złotych", "złotych",
                "złotych", "złote", "złotych", "złote", "złotych", "złote"
            ]
        );
    }

    #[test]
    fn amounts_in_words_read_as_on_an_invoice() {
        let words = |g| money_in_words(Money::from_grosze(g));
        assert_eq!(words(12_345), "sto dwadzieścia trzy złote 45/100");
        assert_eq!(words(100), "jeden złoty 00/100");
        assert_eq!(words(7), "zero złotych 07/100");
        assert_eq!(words(1_200), "dwanaście złotych 00/100");
        assert_eq!(
            words(12_345_678),
            "sto dwadzieścia trzy tysiące czterysta pięćdziesiąt sześć złotych 78/100"
        );
        assert_eq!(words(100_100), "tysiąc jeden złotych 00/100");
        assert_eq!(words(200_000_000), "dwa miliony złotych 00/100");
        assert_eq!(words(500_100_000), "pięć milionów tysiąc złotych 00/100");
        assert_eq!(words(-250), "minus dwa złote 50/100");
        assert_eq!(number_in_words(215), "dwieście piętnaście");
        assert_eq!(number_in_words(1_000_000_000), "miliard");
    }

    proptest! {
        #[test]
        fn every_number_has_words_and_no_double_spaces(n in 0u64..=u64::MAX) {
            let words = number_in_words(n);
            prop_assert!(!words.is_empty());
            prop_assert!(!words.contains("  "));
            prop_assert!(!words.starts_with(' ') && !words.ends_with(' '));
        }

        #[test]
        fn grouping_only_inserts_spaces(n in any::<i64>()) {
            let plain: String = integer(n).chars().filter(|c| *c != NBSP).collect();
            prop_assert_eq!(plain, n.to_string());
        }
    }
}
