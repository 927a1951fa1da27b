//! Attachments of an application: each rule of a form ([`AttachmentRule`]) says which files it
//! takes — how many, how large, and which types, told by the file's content (its magic bytes,
//! read by the `infer` crate), never by its name — and whether the application needs it.
//! [`AttachmentRule::accept`] checks one file as it is uploaded; [`missing`] tells what a
//! submission still lacks.

use serde::{Deserialize, Serialize};

use crate::form::{Answers, Condition, FieldError, FormDefinition};

/// The file types applications take: what residents scan or photograph documents into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileType {
    Pdf,
    Jpeg,
    Png,
}

impl FileType {
    /// The type of a file by its content; `None` for anything else.
    pub fn of(bytes: &[u8]) -> Option<FileType> {
        match infer::get(bytes)?.mime_type() {
            "application/pdf" => Some(FileType::Pdf),
            "image/jpeg" => Some(FileType::Jpeg),
            "image/png" => Some(FileType::Png),
            _ => None,
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            FileType::Pdf => "application/pdf",
            FileType::Jpeg => "image/jpeg",
            FileType::Png => "image/png",
        }
    }

    /// The name residents know it by.
    pub fn name(self) -> &'static str {
        match self {
            FileType::Pdf => "PDF",
            FileType::Jpeg => "JPG",
            FileType::Png => "PNG",
        }
    }
}

/// The largest file any rule may take: 20 MB.
pub const MAX_BYTES_LIMIT: u64 = 20 * 1024 * 1024;

/// One kind of attachment a form asks for ("Mapa sytuacyjna 1:500 lub 1:1000").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRule {
    pub key: String,
    /// What the resident reads (Polish).
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(default)]
    pub required: bool,
    /// The attachment applies only when this holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
    /// Files it takes, at most.
    pub max_files: u8,
    /// Bytes a file may have, at most.
    pub max_bytes: u64,
    pub types: Vec<FileType>,
}

/// A file already attached (to a draft or a case), as the checks need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached<'a> {
    pub rule: &'a str,
}

impl AttachmentRule {
    /// What is wrong with the rule itself, in English.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.label.trim().is_empty() {
            problems.push(format!("{}: the label is empty", self.key));
        }
        if !(1..=20).contains(&self.max_files) {
            problems.push(format!("{}: max_files must be 1 to 20", self.key));
        }
        if !(1..=MAX_BYTES_LIMIT).contains(&self.max_bytes) {
            problems.push(format!("{}: max_bytes must be 1 to 20 MB", self.key));
        }
        if self.types.is_empty() {
            problems.push(format!("{}: no file type is allowed", self.key));
        }
        problems
    }

    /// Checks a file uploaded for this rule, `already` files being attached to it: its type by
    /// content, or the Polish message at the attachment why it is not taken.
    pub fn accept(
        &self,
        file_name: &str,
        bytes: &[u8],
        already: usize,
    ) -> Result<FileType, String> {
        let name = file_name.trim();
        if already >= usize::from(self.max_files) {
            return Err(format!(
                "Można dołączyć najwyżej {} {}.",
                self.max_files,
                ebok_common::polish::plural(i64::from(self.max_files), "plik", "pliki", "plików")
            ));
        }
        if bytes.is_empty() {
            return Err(format!("Plik „{name}” jest pusty."));
        }
        if bytes.len() as u64 > self.max_bytes {
            return Err(format!(
                "Plik „{name}” ma {}, a można dołączyć najwyżej {}.",
                megabytes(bytes.len() as u64),
                megabytes(self.max_bytes)
            ));
        }
        match FileType::of(bytes) {
            Some(t) if self.types.contains(&t) => Ok(t),
            _ => Err(format!(
                "Plik „{name}” nie jest plikiem {} (sprawdzamy zawartość pliku, nie jego nazwę).",
                self.types_pl()
            )),
        }
    }

    /// "PDF", "PDF lub JPG", "PDF, JPG lub PNG".
    fn types_pl(&self) -> String {
        let names: Vec<&str> = self.types.iter().map(|t| t.name()).collect();
        match names.split_last() {
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} lub {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

/// "2,5 MB", "20 MB" (megabytes of 1,048,576 bytes, one decimal).
fn megabytes(bytes: u64) -> String {
    let tenths = (bytes * 10).div_ceil(1024 * 1024);
    if tenths.is_multiple_of(10) {
        format!("{}\u{a0}MB", tenths / 10)
    } else {
        format!("{},{}\u{a0}MB", tenths / 10, tenths % 10)
    }
}

/// The required attachments these answers call for that have no file yet, each as an error at
/// its rule; and files attached to rules that no longer apply (the resident changed an answer),
/// which must be removed before submitting.
pub fn missing(
    form: &FormDefinition,
    answers: &Answers,
    attached: &[Attached<'_>],
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for rule in form.attachments_for(answers) {
        if rule.required && !attached.iter().any(|a| a.rule == rule.key) {
            errors.push(FieldError::new(
                &rule.key,
                format!(
                    "Dołącz: {}.",
                    ebok_common::polish::uncapitalized(&rule.label)
                ),
            ));
        }
    }
    let applying: Vec<&str> = form
        .attachments_for(answers)
        .map(|r| r.key.as_str())
        .collect();
    for a in attached {
        if !applying.contains(&a.rule) && !errors.iter().any(|e| e.key == a.rule) {
            errors.push(FieldError::new(
                a.rule,
                "Ten załącznik nie dotyczy już wniosku (zmieniono odpowiedź): usuń go przed złożeniem.",
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n%%EOF\n";
    pub(crate) const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
    pub(crate) const JPEG: &[u8] = &[0xff, 0xd8, 0xff, 0xe0, 0, 16, b'J', b'F', b'I', b'F', 0];

    fn rule(types: Vec<FileType>) -> AttachmentRule {
        AttachmentRule {
            key: "site_plan".into(),
            label: "Mapa sytuacyjna".into(),
            help: None,
            required: true,
            when: None,
            max_files: 2,
            max_bytes: 100,
            types,
        }
    }

    #[test]
    fn a_files_type_is_told_by_its_content_not_its_name() {
        assert_eq!(FileType::of(PDF), Some(FileType::Pdf));
        assert_eq!(FileType::of(PNG), Some(FileType::Png));
        assert_eq!(FileType::of(JPEG), Some(FileType::Jpeg));
        assert_eq!(FileType::of(b"MZ\x90\x00 an executable"), None);
        let r = rule(vec![FileType::Pdf]);
        assert_eq!(r.accept("mapa.pdf", PDF, 0), Ok(FileType::Pdf));
        assert_eq!(
            r.accept("mapa.pdf", PNG, 0).unwrap_err(),
            "Plik „mapa.pdf” nie jest plikiem PDF (sprawdzamy zawartość pliku, nie jego nazwę)."
        );
        let r = rule(vec![FileType::Pdf, FileType::Jpeg, FileType::Png]);
        assert!(
            r.accept("x.exe", b"MZ\x90\x00", 0)
                .unwrap_err()
                .contains("PDF, JPG lub PNG")
        );
    }

    #[test]
    fn a_file_too_large_empty_or_one_too_many_is_refused() {
        let r = rule(vec![FileType::Pdf]);
        let mut big = PDF.to_vec();
        big.resize(101, b' ');
        assert!(
            r.accept("a.pdf", &big, 0)
                .unwrap_err()
                .contains("najwyżej 0,1\u{a0}MB")
        );
        assert_eq!(
            r.accept("a.pdf", b"", 0).unwrap_err(),
            "Plik „a.pdf” jest pusty."
        );
        assert_eq!(
            r.accept("a.pdf", PDF, 2).unwrap_err(),
            "Można dołączyć najwyżej 2 pliki."
        );
        assert_eq!(megabytes(20 * 1024 * 1024), "20\u{a0}MB");
        assert_eq!(megabytes(2_621_440), "2,5\u{a0}MB");
    }

    #[test]
    fn what_a_submission_lacks_follows_its_answers() {
        let mut extract = rule(vec![FileType::Pdf]);
        extract.key = "register_extract".into();
        extract.label = "Odpis z KRS lub wydruk z CEIDG".into();
        extract.when = Some(Condition {
            field: "applicant".into(),
            any_of: vec!["company".into()],
        });
        let form = FormDefinition {
            fields: vec![],
            attachments: vec![rule(vec![FileType::Pdf]), extract],
        };
        let company: Answers = [("applicant".to_string(), "company".to_string())].into();
        let person: Answers = [("applicant".to_string(), "person".to_string())].into();
        let keys = |errors: Vec<FieldError>| errors.into_iter().map(|e| e.key).collect::<Vec<_>>();
        assert_eq!(
            keys(missing(&form, &company, &[])),
            ["site_plan", "register_extract"]
        );
        assert_eq!(
            missing(&form, &company, &[Attached { rule: "site_plan" }])[0].message,
            "Dołącz: odpis z KRS lub wydruk z CEIDG."
        );
        assert!(missing(&form, &person, &[Attached { rule: "site_plan" }]).is_empty());
        // A company's extract left on a person's application must go.
        let left = missing(
            &form,
            &person,
            &[
                Attached { rule: "site_plan" },
                Attached {
                    rule: "register_extract",
                },
            ],
        );
        assert_eq!(keys(left), ["register_extract"]);
    }
}
