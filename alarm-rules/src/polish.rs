//! The Polish words of alarm rules: durations with their plural forms. Numbers, volumes and
//! instants are written by [`ebok_common::polish`]; a meter alarm names itself
//! ([`ebok_common::domain::AlarmKind::name_pl`]).

use ebok_common::polish::plural;

/// Accusative, as after "przez": "1 godzinę", "3 godziny", "12 godzin".
pub fn hours(n: i32) -> String {
    format!("{n} {}", plural(n.into(), "godzinę", "godziny", "godzin"))
}

/// "1 dzień", "2 dni".
pub fn days(n: i32) -> String {
    format!("{n} {}", if n == 1 { "dzień" } else { "dni" })
}

#[cfg(test)]
mod tests {
    use super::*;

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
