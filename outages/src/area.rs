//! The area a notice is for (pure): streets with an optional range of house numbers (one side
//! of the street, if so), whole localities, and network zones. Staff type streets one per line
//! as `Młynary, Lipowa, 1-15 nieparzyste` ([`parse_street_line`]); residents read the area in
//! words ([`Area::words`]).

use serde::{Deserialize, Serialize};

/// Which side of a street a range covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    #[default]
    Both,
    Odd,
    Even,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Both => "both",
            Side::Odd => "odd",
            Side::Even => "even",
        }
    }
}

/// A street of a locality, whole or from house number `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreetRange {
    pub city: String,
    pub street: String,
    /// Both or neither: the range of house numbers (the number's leading digits: 12A is 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<u32>,
    #[serde(default)]
    pub side: Side,
}

/// An affected area: any supply point on one of the streets, in one of the localities, or in
/// one of the zones (or their sub-zones).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Area {
    #[serde(default)]
    pub streets: Vec<StreetRange>,
    #[serde(default)]
    pub localities: Vec<String>,
    /// Network zones, by id.
    #[serde(default)]
    pub zones: Vec<i64>,
}

/// A street's name without the `ul.`/`al.`/`pl.`/`os.` in front (any letter case), trimmed.
pub fn street_name(street: &str) -> &str {
    let s = street.trim();
    for prefix in ["ul.", "al.", "pl.", "os.", "ulica "] {
        if s.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        {
            return s[prefix.len()..].trim();
        }
    }
    s
}

/// A street's name as compared: [`street_name`], lower case.
pub fn street_key(street: &str) -> String {
    street_name(street).to_lowercase()
}

/// A locality's name as compared.
pub fn city_key(city: &str) -> String {
    city.trim().to_lowercase()
}

impl Area {
    pub fn is_empty(&self) -> bool {
        self.streets.is_empty() && self.localities.is_empty() && self.zones.is_empty()
    }

    /// The area in words, as residents read it; `zone_names` names the zones, in the order of
    /// [`Area::zones`]. "Młynary: ul. Lipowa 1–15 (nieparzyste), ul. Polna; Zastawno (cała
    /// miejscowość); strefa Północ".
    pub fn words(&self, zone_names: &[String]) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut cities: Vec<&str> = Vec::new();
        for s in &self.streets {
            if !cities.contains(&s.city.as_str()) {
                cities.push(&s.city);
            }
        }
        for city in cities {
            let streets: Vec<String> = self
                .streets
                .iter()
                .filter(|s| s.city == city)
                .map(|s| {
                    let mut w = format!("ul. {}", s.street);
                    if let (Some(from), Some(to)) = (s.from, s.to) {
                        if from == to {
                            w.push_str(&format!(" {from}"));
                        } else {
                            w.push_str(&format!(" {from}–{to}"));
                        }
                    }
                    match s.side {
                        Side::Both => {}
                        Side::Odd => w.push_str(" (nieparzyste)"),
                        Side::Even => w.push_str(" (parzyste)"),
                    }
                    w
                })
                .collect();
            parts.push(format!("{city}: {}", streets.join(", ")));
        }
        for l in &self.localities {
            parts.push(format!("{l} (cała miejscowość)"));
        }
        for z in zone_names {
            parts.push(format!("strefa {z}"));
        }
        parts.join("; ")
    }
}

/// One line of the streets field: `locality, street[, numbers]`, where the numbers are `7`,
/// `1-15` (or `1–15`), optionally followed by `parzyste` or `nieparzyste`. In Polish when it
/// cannot be read.
pub fn parse_street_line(line: &str) -> Result<StreetRange, String> {
    let parts: Vec<&str> = line.split(',').map(str::trim).collect();
    let (city, street, numbers) = match parts.as_slice() {
        [city, street] => (*city, *street, ""),
        [city, street, numbers] => (*city, *street, *numbers),
        _ => {
            return Err(format!(
                "„{}”: wpisz miejscowość, ulicę i ewentualnie numery, np. Młynary, Lipowa, 1-15.",
                line.trim()
            ));
        }
    };
    if city.is_empty() || street.is_empty() {
        return Err(format!(
            "„{}”: brakuje miejscowości albo ulicy.",
            line.trim()
        ));
    }
    // The name as typed, without the prefix.
    let street = street_name(street).to_string();
    let lower = numbers.to_lowercase();
    let (range, side) = if let Some(r) = lower.strip_suffix("nieparzyste") {
        (r.trim(), Side::Odd)
    } else if let Some(r) = lower.strip_suffix("parzyste") {
        (r.trim(), Side::Even)
    } else {
        (lower.trim(), Side::Both)
    };
    let number = |n: &str| {
        n.trim()
            .parse::<u32>()
            .map_err(|_| format!("„{}”: numery domów wpisz jako 1-15 lub 7.", numbers))
    };
    let (from, to) = if range.is_empty() {
        (None, None)
    } else if let Some((a, b)) = range.split_once(['-', '–']) {
        let (a, b) = (number(a)?, number(b)?);
        if a > b {
            return Err(format!("„{numbers}”: pierwszy numer musi być mniejszy."));
        }
        (Some(a), Some(b))
    } else {
        let n = number(range)?;
        (Some(n), Some(n))
    };
    if from.is_none() && side != Side::Both {
        return Err(format!("„{numbers}”: podaj numery, np. 1-15 nieparzyste."));
    }
    Ok(StreetRange {
        city: city.to_string(),
        street,
        from,
        to,
        side,
    })
}

/// The line [`parse_street_line`] reads back as `s`.
pub fn street_line(s: &StreetRange) -> String {
    let mut line = format!("{}, {}", s.city, s.street);
    if let (Some(from), Some(to)) = (s.from, s.to) {
        line.push_str(&format!(", {from}-{to}"));
        match s.side {
            Side::Both => {}
            Side::Odd => line.push_str(" nieparzyste"),
            Side::Even => line.push_str(" parzyste"),
        }
    }
    line
}

/// Whether house number `building_no` (as stored: "12", "12A", "5/7") of `city`, `street`
/// lies in the range (the same rule the database applies when it finds the recipients).
pub fn covers(range: &StreetRange, city: &str, street: &str, building_no: &str) -> bool {
    if city_key(city) != city_key(&range.city) || street_key(street) != street_key(&range.street) {
        return false;
    }
    let (Some(from), Some(to)) = (range.from, range.to) else {
        return true;
    };
    // At most nine digits, as the database reads them.
    let digits: String = building_no
        .chars()
        .take_while(char::is_ascii_digit)
        .take(9)
        .collect();
    let Ok(n) = digits.parse::<u32>() else {
        return false;
    };
    (from..=to).contains(&n)
        && match range.side {
            Side::Both => true,
            Side::Odd => n % 2 == 1,
            Side::Even => n % 2 == 0,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn street_lines_are_read_as_staff_type_them_and_written_back_the_same() {
        let s = parse_street_line("Młynary, ul. Lipowa, 1-15 nieparzyste").unwrap();
        assert_eq!(
            s,
            StreetRange {
                city: "Młynary".into(),
                street: "Lipowa".into(),
                from: Some(1),
                to: Some(15),
                side: Side::Odd,
            }
        );
        assert_eq!(street_line(&s), "Młynary, Lipowa, 1-15 nieparzyste");
        assert_eq!(parse_street_line(&street_line(&s)).unwrap(), s);
        let whole = parse_street_line(" Młynary , Polna ").unwrap();
        assert_eq!((whole.from, whole.side), (None, Side::Both));
        assert_eq!(parse_street_line("Młynary, Polna, 7").unwrap().to, Some(7));
        assert!(
            parse_street_line("Polna")
                .unwrap_err()
                .contains("miejscowość")
        );
        assert!(parse_street_line("Młynary, Polna, 9-3").is_err());
        assert!(parse_street_line("Młynary, Polna, parzyste").is_err());
        assert!(parse_street_line("Młynary, Polna, siedem").is_err());
        // Letters whose lower case is longer or shorter in bytes are no trouble.
        assert_eq!(parse_street_line("Ełk, İnönü").unwrap().street, "İnönü");
        assert_eq!(parse_street_line("Ełk, UL. Ⱥbc").unwrap().street, "Ⱥbc");
    }

    #[test]
    fn a_range_covers_its_side_of_the_street_by_the_numbers_leading_digits() {
        let odd = parse_street_line("Młynary, Lipowa, 1-15 nieparzyste").unwrap();
        assert!(covers(&odd, "młynary", "ul. Lipowa", "7"));
        assert!(covers(&odd, "Młynary", "Lipowa", "13A"));
        assert!(!covers(&odd, "Młynary", "Lipowa", "8"));
        assert!(!covers(&odd, "Młynary", "Lipowa", "17"));
        assert!(!covers(&odd, "Młynary", "Polna", "7"));
        assert!(!covers(&odd, "Zastawno", "Lipowa", "7"));
        assert!(!covers(&odd, "Młynary", "Lipowa", "b/n"));
        let whole = parse_street_line("Młynary, Lipowa").unwrap();
        assert!(covers(&whole, "Młynary", "Lipowa", "b/n"));
    }

    #[test]
    fn the_area_reads_in_polish_words() {
        let area = Area {
            streets: vec![
                parse_street_line("Młynary, Lipowa, 1-15 nieparzyste").unwrap(),
                parse_street_line("Młynary, Polna").unwrap(),
                parse_street_line("Kurowo, Długa, 4").unwrap(),
            ],
            localities: vec!["Zastawno".into()],
            zones: vec![3],
        };
        assert_eq!(
            area.words(&["Północ".into()]),
            "Młynary: ul. Lipowa 1–15 (nieparzyste), ul. Polna; Kurowo: ul. Długa 4; \
             Zastawno (cała miejscowość); strefa Północ"
        );
        assert!(Area::default().is_empty() && !area.is_empty());
    }
}
