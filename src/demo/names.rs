//! Names and places for the demo utilities: Polish first names and surnames (with the feminine
//! forms of adjectival surnames), the town and villages of Gmina Młynary with their streets, and
//! local businesses and institutions. Everything is picked by index, so a seed gives the same
//! people every time.

pub const FEMALE_NAMES: &[&str] = &[
    "Anna",
    "Maria",
    "Katarzyna",
    "Małgorzata",
    "Agnieszka",
    "Barbara",
    "Ewa",
    "Krystyna",
    "Elżbieta",
    "Zofia",
    "Joanna",
    "Magdalena",
    "Monika",
    "Teresa",
    "Danuta",
    "Natalia",
    "Aleksandra",
    "Jadwiga",
    "Halina",
    "Irena",
    "Beata",
    "Dorota",
    "Grażyna",
    "Jolanta",
];

pub const MALE_NAMES: &[&str] = &[
    "Piotr",
    "Krzysztof",
    "Andrzej",
    "Tomasz",
    "Paweł",
    "Jan",
    "Michał",
    "Marcin",
    "Stanisław",
    "Jakub",
    "Adam",
    "Marek",
    "Łukasz",
    "Grzegorz",
    "Mateusz",
    "Wojciech",
    "Mariusz",
    "Dariusz",
    "Zbigniew",
    "Henryk",
    "Ryszard",
    "Kazimierz",
    "Józef",
    "Jerzy",
];

/// Surnames; those ending in -ski, -cki, -dzki take -ska, -cka, -dzka for women.
pub const SURNAMES: &[&str] = &[
    "Nowak",
    "Kowalski",
    "Wiśniewski",
    "Wójcik",
    "Kowalczyk",
    "Kamiński",
    "Lewandowski",
    "Zieliński",
    "Szymański",
    "Woźniak",
    "Dąbrowski",
    "Kozłowski",
    "Jankowski",
    "Mazur",
    "Kwiatkowski",
    "Krawczyk",
    "Piotrowski",
    "Grabowski",
    "Nowakowski",
    "Pawłowski",
    "Michalski",
    "Król",
    "Wieczorek",
    "Jabłoński",
    "Wróbel",
    "Majewski",
    "Olszewski",
    "Stępień",
    "Malinowski",
    "Jaworski",
    "Adamczyk",
    "Dudek",
    "Nowicki",
    "Pawlak",
    "Górski",
    "Witkowski",
    "Walczak",
    "Sikora",
    "Baran",
    "Rutkowski",
    "Michalak",
    "Szewczyk",
    "Ostrowski",
    "Tomaszewski",
    "Zając",
    "Pietrzak",
    "Marciniak",
    "Wróblewski",
    "Jasiński",
    "Zawadzki",
    "Bąk",
    "Sadowski",
    "Chmielewski",
];

/// The feminine form of a surname.
pub fn feminine(surname: &str) -> String {
    for (masculine, feminine) in [("ski", "ska"), ("cki", "cka"), ("dzki", "dzka")] {
        if let Some(stem) = surname.strip_suffix(masculine) {
            return format!("{stem}{feminine}");
        }
    }
    surname.to_string()
}

/// A locality of the municipality: its name, postal code and post office's town, streets (empty
/// for villages, which number houses without streets), whether it has a sewer network, and rough
/// coordinates.
pub struct Locality {
    pub name: &'static str,
    pub postal_code: &'static str,
    /// The town of its post office, after the postal code in an address ("Kurowo 1, 14-420
    /// Młynary").
    pub post_town: &'static str,
    pub streets: &'static [&'static str],
    pub sewer: bool,
    pub lat: f64,
    pub lon: f64,
    /// Relative share of the supply points.
    pub weight: u32,
}

pub const MLYNARY: &[Locality] = &[
    Locality {
        name: "Młynary",
        postal_code: "14-420",
        post_town: "Młynary",
        streets: &[
            "Dworcowa",
            "Elbląska",
            "Fromborska",
            "Kopernika",
            "Kościuszki",
            "Lipowa",
            "Łąkowa",
            "Ogrodowa",
            "Pieniężnego",
            "Plac Wolności",
            "Słowackiego",
            "Sportowa",
            "Szkolna",
            "Warmińska",
            "Wojska Polskiego",
            "Żeromskiego",
            "Kwiatowa",
            "Polna",
        ],
        sewer: true,
        lat: 54.1897,
        lon: 19.7228,
        weight: 40,
    },
    Locality {
        name: "Kurowo",
        postal_code: "14-420",
        post_town: "Młynary",
        streets: &[],
        sewer: false,
        lat: 54.2162,
        lon: 19.6905,
        weight: 6,
    },
    Locality {
        name: "Błudowo",
        postal_code: "14-420",
        post_town: "Młynary",
        streets: &[],
        sewer: false,
        lat: 54.2262,
        lon: 19.6411,
        weight: 6,
    },
    Locality {
        name: "Sąpy",
        postal_code: "14-420",
        post_town: "Młynary",
        streets: &[],
        sewer: false,
        lat: 54.1678,
        lon: 19.7520,
        weight: 5,
    },
    Locality {
        name: "Zastawno",
        postal_code: "14-420",
        post_town: "Młynary",
        streets: &[],
        sewer: false,
        lat: 54.1850,
        lon: 19.6550,
        weight: 5,
    },
    Locality {
        name: "Kwitajny Wielkie",
        postal_code: "14-420",
        post_town: "Młynary",
        streets: &[],
        sewer: false,
        lat: 54.1612,
        lon: 19.6963,
        weight: 4,
    },
    Locality {
        name: "Karszewo",
        postal_code: "14-420",
        post_town: "Młynary",
        streets: &[],
        sewer: false,
        lat: 54.1558,
        lon: 19.7792,
        weight: 4,
    },
    Locality {
        name: "Płonne",
        postal_code: "14-420",
        post_town: "Młynary",
        streets: &[],
        sewer: true,
        lat: 54.2050,
        lon: 19.7610,
        weight: 4,
    },
    Locality {
        name: "Żywkowo",
        postal_code: "14-420",
        post_town: "Młynary",
        streets: &[],
        sewer: false,
        lat: 54.1470,
        lon: 19.6689,
        weight: 3,
    },
    Locality {
        name: "Bardyny",
        postal_code: "14-420",
        post_town: "Młynary",
        streets: &[],
        sewer: false,
        lat: 54.2339,
        lon: 19.7122,
        weight: 3,
    },
    Locality {
        name: "Nowe Monasterzysko",
        postal_code: "14-420",
        post_town: "Młynary",
        streets: &[],
        sewer: false,
        lat: 54.2002,
        lon: 19.8040,
        weight: 3,
    },
    Locality {
        name: "Ojcowizna",
        postal_code: "14-420",
        post_town: "Młynary",
        streets: &[],
        sewer: false,
        lat: 54.1742,
        lon: 19.8204,
        weight: 2,
    },
];

pub const PIENIEZNO: &[Locality] = &[
    Locality {
        name: "Pieniężno",
        postal_code: "14-520",
        post_town: "Pieniężno",
        streets: &[
            "Generalska",
            "Kościuszki",
            "Ogrodowa",
            "Plac Wolności",
            "Rataja",
            "Sienkiewicza",
            "Spacerowa",
            "Wojska Polskiego",
            "Niepodległości",
            "Kolejowa",
        ],
        sewer: true,
        lat: 54.2376,
        lon: 20.1283,
        weight: 10,
    },
    Locality {
        name: "Cieszęta",
        postal_code: "14-520",
        post_town: "Pieniężno",
        streets: &[],
        sewer: false,
        lat: 54.2630,
        lon: 20.1050,
        weight: 2,
    },
    Locality {
        name: "Łajsy",
        postal_code: "14-520",
        post_town: "Pieniężno",
        streets: &[],
        sewer: false,
        lat: 54.2170,
        lon: 20.1700,
        weight: 2,
    },
];

pub const SHOPS: &[&str] = &[
    "Sklep Spożywczy „Pod Lipami” s.c.",
    "Piekarnia Kłos sp. z o.o.",
    "Apteka Pod Orłem",
    "Salon Fryzjerski Ewa",
    "Bar Mleczny Warmianka",
    "Market Gminny sp. z o.o.",
];
pub const OFFICES: &[&str] = &[
    "Biuro Rachunkowe Saldo",
    "Kancelaria Notarialna",
    "Przychodnia Zdrowia Rodzina",
    "Bank Spółdzielczy – oddział",
    "Poczta Polska – urząd pocztowy",
];
pub const WORKSHOPS: &[&str] = &[
    "Warsztat Samochodowy Auto-Serwis",
    "Stolarnia Dębowa",
    "Zakład Ślusarski Metal-Pol",
    "Myjnia Samochodowa Aqua",
    "Masarnia Tradycja sp.j.",
];
pub const INSTITUTIONS: &[&str] = &[
    "Szkoła Podstawowa im. Jana Pawła II",
    "Przedszkole Samorządowe",
    "Urząd Miasta i Gminy",
    "Gminny Ośrodek Kultury",
    "Ochotnicza Straż Pożarna",
    "Szkoła Podstawowa nr 2",
];

/// Element `index` of a list, wrapping.
pub fn pick<'a>(list: &[&'a str], index: u64) -> &'a str {
    list[(index % list.len() as u64) as usize]
}

/// `text` in lower case without Polish letters, anything but ASCII letters and digits as
/// `separator`: "Kwitajny Wielkie" → "kwitajny-wielkie" (zone codes, e-mail addresses).
pub fn ascii_lower(text: &str, separator: char) -> String {
    ebok_common::polish::folded(text)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c
            } else {
                separator
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjectival_surnames_take_feminine_endings() {
        assert_eq!(feminine("Kowalski"), "Kowalska");
        assert_eq!(feminine("Zawadzki"), "Zawadzka");
        assert_eq!(feminine("Nowak"), "Nowak");
    }

    #[test]
    fn postal_codes_have_the_polish_shape() {
        for l in MLYNARY.iter().chain(PIENIEZNO) {
            assert!(ebok_common::domain::identifiers::PostalCode::parse(l.postal_code).is_ok());
        }
    }
}
