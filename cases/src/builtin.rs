//! The application types every utility starts with (seed 004's services and the letters a
//! water utility's office takes), each with its form. They are copied into a utility's
//! `application_types` when it is created; from then on its admin edits the copy.

use crate::attachments::{AttachmentRule, FileType};
use crate::form::{Choice, Condition, DateRange, Field, FieldKind, FormDefinition};

/// An application type as it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationType {
    /// Stable code the system knows the type by.
    pub code: &'static str,
    /// The first part of its case numbers.
    pub prefix: &'static str,
    pub name: &'static str,
    /// One sentence for the list of services.
    pub description: &'static str,
    /// Whether an approved case goes on to a supply contract.
    pub contract: bool,
    pub form: FormDefinition,
}

const MB: u64 = 1024 * 1024;

fn field(key: &str, label: &str, kind: FieldKind) -> Field {
    Field {
        key: key.into(),
        label: label.into(),
        help: None,
        kind,
        required: true,
        when: None,
    }
}

fn optional(mut f: Field) -> Field {
    f.required = false;
    f
}

fn help(mut f: Field, text: &str) -> Field {
    f.help = Some(text.into());
    f
}

fn when(mut f: Field, field: &str, any_of: &[&str]) -> Field {
    f.when = Some(condition(field, any_of));
    f
}

fn condition(field: &str, any_of: &[&str]) -> Condition {
    Condition {
        field: field.into(),
        any_of: any_of.iter().map(|v| v.to_string()).collect(),
    }
}

fn choice(options: &[(&str, &str)]) -> Vec<Choice> {
    options
        .iter()
        .map(|(value, label)| Choice {
            value: value.to_string(),
            label: label.to_string(),
        })
        .collect()
}

fn text(max_chars: u32) -> FieldKind {
    FieldKind::Text { max_chars }
}

fn paragraph(max_chars: u32) -> FieldKind {
    FieldKind::Paragraph { max_chars }
}

/// A document scan or photo: PDF, JPG or PNG.
fn document(key: &str, label: &str, max_files: u8) -> AttachmentRule {
    AttachmentRule {
        key: key.into(),
        label: label.into(),
        help: None,
        required: true,
        when: None,
        max_files,
        max_bytes: 10 * MB,
        types: vec![FileType::Pdf, FileType::Jpeg, FileType::Png],
    }
}

/// Who applies, and the identifier the status page asks for: PESEL for a person, NIP for the
/// others.
fn applicant(kinds: &[(&str, &str)]) -> Vec<Field> {
    let organisations: Vec<&str> = kinds
        .iter()
        .map(|(v, _)| *v)
        .filter(|v| *v != "person")
        .collect();
    vec![
        field(
            "applicant_kind",
            "Wnioskodawca",
            FieldKind::Choice {
                options: choice(kinds),
            },
        ),
        field("applicant_name", "Imię i nazwisko lub nazwa", text(200)),
        when(
            field("pesel", "PESEL", FieldKind::Pesel),
            "applicant_kind",
            &["person"],
        ),
        when(
            field("nip", "NIP", FieldKind::Nip),
            "applicant_kind",
            &organisations,
        ),
        field(
            "street",
            "Ulica i numer domu (lokalu) do korespondencji",
            text(200),
        ),
        field("postal_code", "Kod pocztowy", FieldKind::PostalCode),
        field("city", "Miejscowość", text(100)),
        optional(field("phone", "Telefon", FieldKind::Phone)),
    ]
}

const PERSON_COMPANY_COMMUNITY: &[(&str, &str)] = &[
    ("person", "Osoba fizyczna"),
    ("company", "Firma (przedsiębiorca)"),
    ("community", "Wspólnota lub spółdzielnia mieszkaniowa"),
    ("institution", "Instytucja publiczna"),
];

const SERVICES: &[(&str, &str)] = &[
    ("water", "Dostawa wody"),
    ("sewage", "Odprowadzanie ścieków"),
];

fn connection_conditions() -> ApplicationType {
    let mut fields = applicant(PERSON_COMPANY_COMMUNITY);
    fields.extend([
        field(
            "property_address",
            "Adres nieruchomości (ulica, numer, miejscowość)",
            text(300),
        ),
        help(
            field(
                "plot_number",
                "Numer działki i obręb ewidencyjny",
                text(200),
            ),
            "Np. dz. nr 123/4, obręb 0005 Młynary.",
        ),
        field(
            "services",
            "Przyłączenie do sieci",
            FieldKind::Choices {
                options: choice(SERVICES),
            },
        ),
        field(
            "purpose",
            "Przeznaczenie nieruchomości",
            FieldKind::Choice {
                options: choice(&[
                    ("single_family", "Budynek jednorodzinny"),
                    ("multi_family", "Budynek wielorodzinny"),
                    ("commercial", "Działalność gospodarcza"),
                    ("other", "Inne"),
                ]),
            },
        ),
        when(
            field("purpose_other", "Opis przeznaczenia", paragraph(1000)),
            "purpose",
            &["other", "commercial"],
        ),
        when(
            help(
                field(
                    "water_demand",
                    "Przewidywane zapotrzebowanie na wodę",
                    FieldKind::Quantity {
                        unit: "m³/d".into(),
                        max: "10000".into(),
                    },
                ),
                "Średnio na dobę; dla domu jednorodzinnego zwykle 0,3–0,6 m³/d.",
            ),
            "services",
            &["water"],
        ),
        when(
            field(
                "sewage_flow",
                "Przewidywana ilość odprowadzanych ścieków",
                FieldKind::Quantity {
                    unit: "m³/d".into(),
                    max: "10000".into(),
                },
            ),
            "services",
            &["sewage"],
        ),
        optional(field(
            "planned_on",
            "Planowany termin przyłączenia",
            FieldKind::Date {
                range: DateRange::Future,
            },
        )),
    ]);
    let mut site_plan = document("site_plan", "Mapa sytuacyjna w skali 1:500 lub 1:1000", 3);
    site_plan.help = Some("Z zaznaczoną nieruchomością i planowanym przebiegiem przyłącza.".into());
    let mut legal_title = document(
        "legal_title",
        "Dokument potwierdzający tytuł prawny do nieruchomości",
        3,
    );
    legal_title.help =
        Some("Np. odpis z księgi wieczystej, akt notarialny, umowa dzierżawy.".into());
    let mut proxy = document("power_of_attorney", "Pełnomocnictwo", 2);
    proxy.required = false;
    ApplicationType {
        code: "connection_conditions",
        prefix: "WTP",
        name: "Warunki techniczne przyłączenia",
        description: "Wniosek o wydanie warunków technicznych przyłączenia do sieci wodociągowej lub kanalizacyjnej.",
        contract: false,
        form: FormDefinition {
            fields,
            attachments: vec![site_plan, legal_title, proxy],
        },
    }
}

fn supply_contract() -> ApplicationType {
    let mut fields = applicant(&PERSON_COMPANY_COMMUNITY[..3]);
    fields.extend([
        when(
            optional(field("krs", "Numer KRS", text(10))),
            "applicant_kind",
            &["company", "community"],
        ),
        field(
            "supply_address",
            "Adres punktu poboru wody (ulica, numer, miejscowość)",
            text(300),
        ),
        field(
            "services",
            "Umowa obejmuje",
            FieldKind::Choices {
                options: choice(SERVICES),
            },
        ),
        field(
            "legal_title_kind",
            "Tytuł prawny do nieruchomości",
            FieldKind::Choice {
                options: choice(&[
                    ("ownership", "Własność lub współwłasność"),
                    ("perpetual_usufruct", "Użytkowanie wieczyste"),
                    ("lease", "Najem lub dzierżawa"),
                    ("other", "Inny"),
                ]),
            },
        ),
        field(
            "start_on",
            "Od kiedy umowa ma obowiązywać",
            FieldKind::Date {
                range: DateRange::Future,
            },
        ),
        field("email", "Adres e-mail do e-faktur", FieldKind::Email),
    ]);
    let legal_title = document(
        "legal_title",
        "Dokument potwierdzający tytuł prawny do nieruchomości",
        3,
    );
    let mut id = document("id_document", "Kopia dokumentu tożsamości", 2);
    id.when = Some(condition("applicant_kind", &["person"]));
    id.help = Some(
        "Wystarczy strona ze zdjęciem, imieniem i nazwiskiem; pozostałe dane można zakryć.".into(),
    );
    let mut extract = document("register_extract", "Odpis z KRS lub wydruk z CEIDG", 2);
    extract.when = Some(condition("applicant_kind", &["company"]));
    let mut resolution = document(
        "board_resolution",
        "Uchwała o powołaniu zarządu wspólnoty",
        2,
    );
    resolution.when = Some(condition("applicant_kind", &["community"]));
    ApplicationType {
        code: "supply_contract",
        prefix: "UMW",
        name: "Umowa o zaopatrzenie w wodę i odprowadzanie ścieków",
        description: "Wniosek o zawarcie umowy: po pozytywnym rozpatrzeniu umowę podpisuje się w eBOK.",
        contract: true,
        form: FormDefinition {
            fields,
            attachments: vec![legal_title, id, extract, resolution],
        },
    }
}

/// A letter of a customer who is known (logged in): no applicant block, optional attachments.
fn letter(
    code: &'static str,
    prefix: &'static str,
    name: &'static str,
    description: &'static str,
    fields: Vec<Field>,
) -> ApplicationType {
    let mut files = document("files", "Załączniki", 5);
    files.required = false;
    ApplicationType {
        code,
        prefix,
        name,
        description,
        contract: false,
        form: FormDefinition {
            fields,
            attachments: vec![files],
        },
    }
}

/// The types every utility starts with.
pub fn application_types() -> Vec<ApplicationType> {
    vec![
        connection_conditions(),
        supply_contract(),
        letter(
            "meter_check",
            "WOD",
            "Sprawdzenie lub wymiana wodomierza",
            "Wniosek o sprawdzenie poprawności działania wodomierza lub o jego wymianę.",
            vec![
                field(
                    "request",
                    "Wnoszę o",
                    FieldKind::Choice {
                        options: choice(&[
                            ("check", "Sprawdzenie wodomierza"),
                            ("replace", "Wymianę wodomierza"),
                        ]),
                    },
                ),
                optional(field(
                    "meter_serial",
                    "Numer fabryczny wodomierza",
                    text(40),
                )),
                field("reason", "Uzasadnienie", paragraph(2000)),
            ],
        ),
        letter(
            "invoice_complaint",
            "REK",
            "Reklamacja faktury",
            "Reklamacja rozliczenia: błędny odczyt, ilość lub kwota.",
            vec![
                help(
                    field("invoice_number", "Numer faktury", text(40)),
                    "Np. FV/2026/11/000123.",
                ),
                field("reason", "Co jest nie tak", paragraph(2000)),
                optional(field("expected", "Czego oczekuję", paragraph(1000))),
            ],
        ),
        letter(
            "correspondence_change",
            "KOR",
            "Zmiana danych do korespondencji",
            "Nowy adres do korespondencji, telefon lub e-mail.",
            vec![
                field("street", "Ulica i numer domu (lokalu)", text(200)),
                field("postal_code", "Kod pocztowy", FieldKind::PostalCode),
                field("city", "Miejscowość", text(100)),
                optional(field("phone", "Telefon", FieldKind::Phone)),
                optional(field("email", "Adres e-mail", FieldKind::Email)),
            ],
        ),
        letter(
            "e_invoice_consent",
            "EFA",
            "Zgoda na e-fakturę",
            "Faktury w eBOK i e-mailem zamiast papierowych.",
            vec![
                field("email", "Adres e-mail do e-faktur", FieldKind::Email),
                field(
                    "consent",
                    "Oświadczenie",
                    FieldKind::Choice {
                        options: choice(&[(
                            "given",
                            "Wyrażam zgodę na otrzymywanie faktur w formie elektronicznej zamiast papierowej.",
                        )]),
                    },
                ),
            ],
        ),
        letter(
            "general_letter",
            "PIS",
            "Pismo ogólne",
            "Sprawa, dla której nie ma osobnego formularza.",
            vec![
                field("subject", "Temat", text(200)),
                field("content", "Treść", paragraph(5000)),
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attachments::{self, Attached};
    use crate::form::Answers;
    use crate::number::is_prefix;
    use chrono::NaiveDate;
    use std::collections::HashSet;

    #[test]
    fn every_builtin_type_is_a_working_definition_with_its_own_code_and_prefix() {
        let types = application_types();
        assert_eq!(types.len(), 7);
        let mut codes = HashSet::new();
        let mut prefixes = HashSet::new();
        for t in &types {
            assert_eq!(t.form.check(), Ok(()), "{}", t.code);
            assert!(
                codes.insert(t.code) && prefixes.insert(t.prefix),
                "{}",
                t.code
            );
            assert!(is_prefix(t.prefix), "{}", t.prefix);
        }
        assert_eq!(types.iter().filter(|t| t.contract).count(), 1);
    }

    fn answers(pairs: &[(&str, &str)]) -> Answers {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_connection_application_asks_what_its_answers_call_for() {
        let t = connection_conditions();
        let today = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        let a = answers(&[
            ("applicant_kind", "person"),
            ("applicant_name", "Jan Kowalski"),
            ("pesel", "44051401359"),
            ("street", "Polna 1"),
            ("postal_code", "14-420"),
            ("city", "Młynary"),
            ("property_address", "Polna 3, Młynary"),
            ("plot_number", "dz. 12/3, obręb 0005"),
            ("services", "water"),
            ("purpose", "single_family"),
            ("water_demand", "0,5"),
            ("sewage_flow", "0,5"),
        ]);
        let valid = t.form.validate(&a, today).unwrap();
        // Sewage was not asked for: its flow is not kept; no NIP asked of a person.
        assert!(!valid.contains_key("sewage_flow"));
        assert_eq!(valid["water_demand"], "0,500");
        let mut with_sewage = a.clone();
        with_sewage.insert("services".into(), "water,sewage".into());
        with_sewage.remove("sewage_flow");
        let errors = t.form.validate(&with_sewage, today).unwrap_err();
        assert_eq!(errors[0].key, "sewage_flow");
        // Both documents are required: the site plan missing stops the submission.
        let lacking = attachments::missing(
            &t.form,
            &valid,
            &[Attached {
                rule: "legal_title",
            }],
        );
        assert_eq!(lacking.len(), 1);
        assert_eq!(lacking[0].key, "site_plan");
    }

    #[test]
    fn a_contract_asks_each_kind_of_applicant_for_its_own_document() {
        let t = supply_contract();
        let needs = |kind: &str| -> Vec<String> {
            let a = answers(&[("applicant_kind", kind)]);
            attachments::missing(&t.form, &a, &[])
                .into_iter()
                .map(|e| e.key)
                .collect()
        };
        assert_eq!(needs("person"), ["legal_title", "id_document"]);
        assert_eq!(needs("company"), ["legal_title", "register_extract"]);
        assert_eq!(needs("community"), ["legal_title", "board_resolution"]);
    }
}
