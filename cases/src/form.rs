//! Form definitions: what an application type asks a resident for — fields, each of a kind
//! that knows how to check what was typed (PESEL, NIP, REGON, bank account, postal code, dates,
//! quantities, choices), and the attachments ([`crate::attachments`]) — and the check of a
//! submission against them, with a Polish message at each field that is wrong.
//!
//! A definition is data (JSON in the database, `application_types.form`), so a utility's admin
//! can adjust a type without code; [`FormDefinition::check`] refuses one that cannot work
//! (a condition on a field that does not exist, two fields with one key, a choice without
//! options). A field or an attachment may apply only `when` an earlier choice has one of some
//! values ("for a company: the register extract"); what does not apply is neither asked nor kept.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use ebok_common::domain::identifiers::{Nip, Nrb, Pesel, PostalCode, Regon};
use ebok_common::polish;
use serde::{Deserialize, Serialize};

use crate::attachments::AttachmentRule;

/// What an application type asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormDefinition {
    pub fields: Vec<Field>,
    #[serde(default)]
    pub attachments: Vec<AttachmentRule>,
}

/// One question of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Its name in the answers: lowercase letters, digits and `_`.
    pub key: String,
    /// What the resident reads (Polish).
    pub label: String,
    /// A hint under the field (Polish).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(flatten)]
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    /// The field applies only when this holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
}

/// What a field takes, and so how it is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    /// One line of text.
    Text {
        max_chars: u32,
    },
    /// Several lines.
    Paragraph {
        max_chars: u32,
    },
    /// A calendar day (`2026-12-05` or `05.12.2026`).
    Date {
        #[serde(default)]
        range: DateRange,
    },
    Pesel,
    Nip,
    Regon,
    /// A Polish bank account number (26 digits).
    BankAccount,
    PostalCode,
    Email,
    Phone,
    /// One of the options.
    Choice {
        options: Vec<Choice>,
    },
    /// Any of the options (sent comma-separated).
    Choices {
        options: Vec<Choice>,
    },
    /// A quantity with up to three decimals, in `unit` ("m³/d"), at most `max`.
    Quantity {
        unit: String,
        max: String,
    },
}

/// Which days a date field takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateRange {
    #[default]
    Any,
    /// Today or earlier (a document's date).
    Past,
    /// Today or later (a wished start).
    Future,
}

/// An option of a choice: its value in the answers and what the resident reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// Holds when choice field `field` has one of `any_of` (for several choices: any of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    pub field: String,
    pub any_of: Vec<String>,
}

/// What a resident typed, by field key (several choices comma-separated).
pub type Answers = BTreeMap<String, String>;

/// A field (or an attachment) that is wrong, and what the resident is told there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub key: String,
    pub message: String,
}

impl FieldError {
    pub fn new(key: &str, message: impl Into<String>) -> Self {
        Self {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

impl Condition {
    /// Whether it holds for the answers given.
    pub fn holds(&self, answers: &Answers) -> bool {
        answers.get(&self.field).is_some_and(|given| {
            given
                .split(',')
                .map(str::trim)
                .any(|v| self.any_of.iter().any(|want| want == v))
        })
    }
}

fn applies(when: Option<&Condition>, answers: &Answers) -> bool {
    when.is_none_or(|c| c.holds(answers))
}

impl FormDefinition {
    /// `answers` as people read them, in the form's order: (the field's label, the value with
    /// a choice's label, a date in Polish, a quantity with its unit).
    pub fn read(&self, answers: &Answers) -> Vec<(String, String)> {
        self.fields
            .iter()
            .filter_map(|field| {
                let value = answers.get(&field.key)?;
                Some((field.label.clone(), field.kind.read(value)))
            })
            .collect()
    }

    /// The fields that apply to these answers, in order.
    pub fn fields_for<'a>(&'a self, answers: &'a Answers) -> impl Iterator<Item = &'a Field> {
        self.fields
            .iter()
            .filter(|f| applies(f.when.as_ref(), answers))
    }

    /// The attachments that apply to these answers, in order.
    pub fn attachments_for<'a>(
        &'a self,
        answers: &'a Answers,
    ) -> impl Iterator<Item = &'a AttachmentRule> {
        self.attachments
            .iter()
            .filter(|a| applies(a.when.as_ref(), answers))
    }

    /// Checks a submission's answers (`today`: the day in Warsaw, for date ranges): the
    /// fields that apply, each in its canonical form (a PESEL's digits, a postal code as
    /// NN-NNN, a date as YYYY-MM-DD, a quantity as "1,500"), or every field that is wrong.
    /// What does not apply or is not a field is dropped; an optional field left empty is left
    /// out.
    pub fn validate(
        &self,
        answers: &Answers,
        today: NaiveDate,
    ) -> Result<Answers, Vec<FieldError>> {
        let mut valid = Answers::new();
        let mut errors = Vec::new();
        for field in self.fields_for(answers) {
            let raw = answers.get(&field.key).map(|s| s.trim()).unwrap_or("");
            if raw.is_empty() {
                if field.required {
                    errors.push(FieldError::new(&field.key, "To pole jest wymagane."));
                }
                continue;
            }
            match field.kind.normalise(raw, today) {
                Ok(value) => {
                    valid.insert(field.key.clone(), value);
                }
                Err(message) => errors.push(FieldError::new(&field.key, message)),
            }
        }
        if errors.is_empty() {
            Ok(valid)
        } else {
            Err(errors)
        }
    }

    /// Whether the definition can work: keys well formed and unique (fields and attachments
    /// together), every choice with unique options, every condition on an earlier choice field
    /// and its values among the options, limits sensible. Each problem in English, for the
    /// admin's form (which shows them) and for tests.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let mut keys = HashSet::new();
        let mut choices: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let check_when = |when: &Option<Condition>,
                          key: &str,
                          choices: &BTreeMap<&str, Vec<&str>>,
                          problems: &mut Vec<String>| {
            if let Some(c) = when {
                match choices.get(c.field.as_str()) {
                    None => problems.push(format!(
                        "{key}: its condition names {}, which is no earlier choice field",
                        c.field
                    )),
                    Some(options) => {
                        if c.any_of.is_empty() {
                            problems.push(format!("{key}: its condition names no value"));
                        }
                        for v in &c.any_of {
                            if !options.contains(&v.as_str()) {
                                problems.push(format!(
                                    "{key}: its condition names {v}, which {} does not offer",
                                    c.field
                                ));
                            }
                        }
                    }
                }
            }
        };
        if self.fields.is_empty() {
            problems.push("the form has no fields".to_string());
        }
        for f in &self.fields {
            if !well_formed_key(&f.key) {
                problems.push(format!(
                    "{}: a key is lowercase letters, digits and _",
                    f.key
                ));
            }
            if !keys.insert(f.key.as_str()) {
                problems.push(format!(
                    "{}: two fields or attachments have this key",
                    f.key
                ));
            }
            if f.label.trim().is_empty() {
                problems.push(format!("{}: the label is empty", f.key));
            }
            check_when(&f.when, &f.key, &choices, &mut problems);
            match &f.kind {
                FieldKind::Text { max_chars } | FieldKind::Paragraph { max_chars }
                    if !(1..=20_000).contains(max_chars) =>
                {
                    problems.push(format!("{}: max_chars must be 1 to 20000", f.key));
                }
                FieldKind::Choice { options } | FieldKind::Choices { options } => {
                    let mut seen = HashSet::new();
                    if options.is_empty() {
                        problems.push(format!("{}: a choice needs options", f.key));
                    }
                    for o in options {
                        if !well_formed_key(&o.value) || !seen.insert(o.value.as_str()) {
                            problems.push(format!(
                                "{}: option {} is not a unique lowercase value",
                                f.key, o.value
                            ));
                        }
                        if o.label.trim().is_empty() {
                            problems.push(format!("{}: option {} has no label", f.key, o.value));
                        }
                    }
                    choices.insert(&f.key, options.iter().map(|o| o.value.as_str()).collect());
                }
                FieldKind::Quantity { unit, max } => {
                    if unit.trim().is_empty() {
                        problems.push(format!("{}: a quantity needs its unit", f.key));
                    }
                    if polish::parse_m3(max).is_none_or(|m| m <= 0) {
                        problems.push(format!("{}: max must be a positive number", f.key));
                    }
                }
                _ => {}
            }
        }
        for a in &self.attachments {
            if !well_formed_key(&a.key) {
                problems.push(format!(
                    "{}: a key is lowercase letters, digits and _",
                    a.key
                ));
            }
            if !keys.insert(a.key.as_str()) {
                problems.push(format!(
                    "{}: two fields or attachments have this key",
                    a.key
                ));
            }
            check_when(&a.when, &a.key, &choices, &mut problems);
            problems.extend(a.problems());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

fn well_formed_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 40
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl FieldKind {
    /// An answer as people read it: a choice's label, a date in Polish, a quantity with its
    /// unit; anything else as it is.
    pub fn read(&self, value: &str) -> String {
        match self {
            FieldKind::Choice { options } | FieldKind::Choices { options } => value
                .split(',')
                .filter_map(|v| options.iter().find(|o| o.value == v))
                .map(|o| o.label.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            FieldKind::Date { .. } => NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .map(polish::day)
                .unwrap_or_else(|_| value.to_string()),
            FieldKind::Quantity { unit, .. } => format!("{value} {unit}"),
            _ => value.to_string(),
        }
    }

    /// The canonical form of `raw` (not empty, trimmed), or the Polish message why not.
    fn normalise(&self, raw: &str, today: NaiveDate) -> Result<String, String> {
        match self {
            FieldKind::Text { max_chars } | FieldKind::Paragraph { max_chars } => {
                let chars = raw.chars().count();
                if chars > *max_chars as usize {
                    return Err(format!(
                        "Tekst może mieć najwyżej {} {} (wpisano {}).",
                        polish::integer(i64::from(*max_chars)),
                        polish::plural(i64::from(*max_chars), "znak", "znaki", "znaków"),
                        polish::integer(chars as i64)
                    ));
                }
                if matches!(self, FieldKind::Text { .. }) && raw.contains(['\n', '\r']) {
                    return Err("To pole mieści jeden wiersz tekstu.".to_string());
                }
                Ok(raw.to_string())
            }
            FieldKind::Date { range } => {
                let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                    .or_else(|_| NaiveDate::parse_from_str(raw, "%d.%m.%Y"))
                    .map_err(|_| "Podaj datę w postaci DD.MM.RRRR, np. 05.12.2026.".to_string())?;
                match range {
                    DateRange::Past if day > today => {
                        Err("Data nie może być późniejsza niż dzisiejsza.".to_string())
                    }
                    DateRange::Future if day < today => {
                        Err("Data nie może być wcześniejsza niż dzisiejsza.".to_string())
                    }
                    _ => Ok(day.format("%Y-%m-%d").to_string()),
                }
            }
            FieldKind::Pesel => Pesel::parse(raw)
                .map(|p| p.as_str().to_string())
                .map_err(|e| e.message_pl()),
            FieldKind::Nip => Nip::parse(raw)
                .map(|n| n.as_str().to_string())
                .map_err(|e| e.message_pl()),
            FieldKind::Regon => Regon::parse(raw)
                .map(|r| r.as_str().to_string())
                .map_err(|e| e.message_pl()),
            FieldKind::BankAccount => Nrb::parse(raw)
                .map(|n| n.as_str().to_string())
                .map_err(|e| e.message_pl()),
            FieldKind::PostalCode => PostalCode::parse(raw)
                .map(|p| p.as_str().to_string())
                .map_err(|e| e.message_pl()),
            FieldKind::Email => {
                let ok = raw.len() <= 254
                    && !raw.contains(char::is_whitespace)
                    && raw.split_once('@').is_some_and(|(local, domain)| {
                        !local.is_empty()
                            && domain.contains('.')
                            && !domain.starts_with('.')
                            && !domain.ends_with('.')
                            && !domain.contains('@')
                    });
                if ok {
                    Ok(raw.to_string())
                } else {
                    Err("Podaj adres e-mail, np. jan.kowalski@example.pl.".to_string())
                }
            }
            FieldKind::Phone => {
                let digits: String = raw
                    .trim_start_matches('+')
                    .chars()
                    .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
                    .collect();
                if (9..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
                    Ok(if raw.starts_with('+') {
                        format!("+{digits}")
                    } else {
                        digits
                    })
                } else {
                    Err("Podaj numer telefonu: 9 cyfr, np. 501 234 567, albo z kierunkowym kraju, np. +48 501 234 567.".to_string())
                }
            }
            FieldKind::Choice { options } => options
                .iter()
                .find(|o| o.value == raw)
                .map(|o| o.value.clone())
                .ok_or_else(|| "Wybierz jedną z podanych możliwości.".to_string()),
            FieldKind::Choices { options } => {
                let mut picked: Vec<&str> = Vec::new();
                for v in raw.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                    if !options.iter().any(|o| o.value == v) {
                        return Err("Wybierz spośród podanych możliwości.".to_string());
                    }
                    if !picked.contains(&v) {
                        picked.push(v);
                    }
                }
                // In the definition's order, whatever order they came in.
                Ok(options
                    .iter()
                    .filter(|o| picked.contains(&o.value.as_str()))
                    .map(|o| o.value.as_str())
                    .collect::<Vec<_>>()
                    .join(","))
            }
            FieldKind::Quantity { unit, max } => {
                let milli = polish::parse_m3(raw).ok_or_else(|| {
                    format!(
                        "Podaj liczbę, najwyżej z trzema miejscami po przecinku, np. 1,5 ({unit})."
                    )
                })?;
                let limit = polish::parse_m3(max).unwrap_or(0);
                if milli > limit {
                    return Err(format!(
                        "Podaj najwyżej {} {unit}.",
                        polish::m3_plain(limit)
                            .trim_end_matches('0')
                            .trim_end_matches(',')
                    ));
                }
                Ok(polish::m3_plain(milli))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn answers(pairs: &[(&str, &str)]) -> Answers {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn field(key: &str, kind: FieldKind) -> Field {
        Field {
            key: key.into(),
            label: key.into(),
            help: None,
            kind,
            required: true,
            when: None,
        }
    }

    fn who() -> Field {
        field(
            "applicant",
            FieldKind::Choice {
                options: vec![
                    Choice {
                        value: "person".into(),
                        label: "Osoba fizyczna".into(),
                    },
                    Choice {
                        value: "company".into(),
                        label: "Firma".into(),
                    },
                ],
            },
        )
    }

    #[test]
    fn each_kind_gives_its_canonical_form_or_a_polish_message() {
        let today = day(2026, 12, 5);
        let ok = |kind: FieldKind, raw: &str| kind.normalise(raw, today).unwrap();
        let err = |kind: FieldKind, raw: &str| kind.normalise(raw, today).unwrap_err();
        assert_eq!(ok(FieldKind::Pesel, "44051401359"), "44051401359");
        assert_eq!(
            err(FieldKind::Pesel, "44051401358"),
            "Numer PESEL ma błędną cyfrę kontrolną."
        );
        assert_eq!(ok(FieldKind::Nip, "578-305-14-17"), "5783051417");
        assert!(err(FieldKind::Nip, "5783051416").contains("cyfrę kontrolną"));
        assert!(err(FieldKind::Regon, "12345678").contains("9 lub 14 cyfr"));
        assert_eq!(ok(FieldKind::PostalCode, "82-300"), "82-300");
        assert!(err(FieldKind::PostalCode, "82300x").starts_with("Kod pocztowy"));
        assert!(
            err(FieldKind::BankAccount, "61 1090 1014 0000 0712 1981 2875").contains("kontrolne")
        );
        let date = || FieldKind::Date {
            range: DateRange::Past,
        };
        assert_eq!(ok(date(), "04.12.2026"), "2026-12-04");
        assert_eq!(ok(date(), "2026-12-05"), "2026-12-05");
        assert!(err(date(), "2026-12-06").contains("późniejsza"));
        assert!(err(date(), "31.02.2026").contains("DD.MM.RRRR"));
        let future = FieldKind::Date {
            range: DateRange::Future,
        };
        assert!(
            future
                .normalise("2026-12-04", today)
                .unwrap_err()
                .contains("wcześniejsza")
        );
        let demand = || FieldKind::Quantity {
            unit: "m³/d".into(),
            max: "100".into(),
        };
        assert_eq!(ok(demand(), "1,5"), "1,500");
        assert_eq!(err(demand(), "100,5"), "Podaj najwyżej 100 m³/d.");
        assert!(err(demand(), "dużo").contains("m³/d"));
        assert_eq!(ok(FieldKind::Phone, "+48 501 234 567"), "+48501234567");
        assert!(err(FieldKind::Phone, "12").contains("9 cyfr"));
        assert!(err(FieldKind::Email, "jan@").contains("e-mail"));
        let text = FieldKind::Text { max_chars: 5 };
        assert_eq!(
            text.normalise("sześć!", today).unwrap_err(),
            "Tekst może mieć najwyżej 5 znaków (wpisano 6)."
        );
        assert!(
            text.normalise("a\nb", today)
                .unwrap_err()
                .contains("jeden wiersz")
        );
    }

    #[test]
    fn several_choices_come_back_in_the_forms_order_once_each() {
        let kind = FieldKind::Choices {
            options: ["water", "sewage"]
                .map(|v| Choice {
                    value: v.into(),
                    label: v.into(),
                })
                .to_vec(),
        };
        let today = day(2026, 12, 5);
        assert_eq!(
            kind.normalise("sewage, water,sewage", today).unwrap(),
            "water,sewage"
        );
        assert!(kind.normalise("water,gas", today).is_err());
    }

    #[test]
    fn a_field_that_does_not_apply_is_neither_asked_nor_kept() {
        let mut krs = field("krs", FieldKind::Text { max_chars: 10 });
        krs.when = Some(Condition {
            field: "applicant".into(),
            any_of: vec!["company".into()],
        });
        let form = FormDefinition {
            fields: vec![who(), krs],
            attachments: vec![],
        };
        assert_eq!(form.check(), Ok(()));
        let today = day(2026, 12, 5);
        let person = form
            .validate(
                &answers(&[("applicant", "person"), ("krs", "0000123456")]),
                today,
            )
            .unwrap();
        assert_eq!(person, answers(&[("applicant", "person")]));
        let errors = form
            .validate(
                &answers(&[("applicant", "company"), ("unknown", "x")]),
                today,
            )
            .unwrap_err();
        assert_eq!(
            errors,
            vec![FieldError::new("krs", "To pole jest wymagane.")]
        );
    }

    #[test]
    fn every_wrong_field_is_named_at_once() {
        let form = FormDefinition {
            fields: vec![who(), field("pesel", FieldKind::Pesel), {
                let mut f = field("phone", FieldKind::Phone);
                f.required = false;
                f
            }],
            attachments: vec![],
        };
        let errors = form
            .validate(
                &answers(&[("applicant", "robot"), ("pesel", "1")]),
                day(2026, 12, 5),
            )
            .unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["applicant", "pesel"]);
    }

    #[test]
    fn a_definition_that_cannot_work_is_refused_with_each_reason() {
        let mut late = field("late", FieldKind::Text { max_chars: 0 });
        late.when = Some(Condition {
            field: "later_choice".into(),
            any_of: vec!["x".into()],
        });
        let mut odd = field("odd", FieldKind::Text { max_chars: 10 });
        odd.when = Some(Condition {
            field: "applicant".into(),
            any_of: vec!["robot".into()],
        });
        let form = FormDefinition {
            fields: vec![
                who(),
                late,
                odd,
                field("applicant", FieldKind::Pesel),
                field("Bad Key", FieldKind::Nip),
                field("empty", FieldKind::Choice { options: vec![] }),
            ],
            attachments: vec![],
        };
        let problems = form.check().unwrap_err();
        for expected in [
            "late: max_chars",
            "late: its condition names later_choice",
            "odd: its condition names robot",
            "applicant: two fields",
            "Bad Key: a key is",
            "empty: a choice needs options",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(expected)),
                "{expected} not in {problems:?}"
            );
        }
    }

    #[test]
    fn a_definition_survives_its_json() {
        let form = FormDefinition {
            fields: vec![who(), {
                let mut f = field(
                    "when",
                    FieldKind::Date {
                        range: DateRange::Future,
                    },
                );
                f.help = Some("Od kiedy".into());
                f
            }],
            attachments: vec![],
        };
        let json = serde_json::to_value(&form).unwrap();
        assert_eq!(json["fields"][1]["type"], "date");
        assert_eq!(json["fields"][1]["range"], "future");
        let back: FormDefinition = serde_json::from_value(json).unwrap();
        assert_eq!(back, form);
    }
}
