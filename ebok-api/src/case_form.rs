//! A case's draft as a web form: its fields and attachments drawn from the type's definition,
//! the values shown (what was sent again, else what is saved), the answers and files read back
//! from a sent form, and the cases crate's errors put at their fields. Shared by the resident's
//! portal and the back office, where a clerk fills an application in the resident's name; the
//! markup is `templates/case_form.html`.
//!
//! Answers travel as `f_<field>` (a multiple choice as `f_<field>.<option>`), files as
//! `plik_<attachment rule>`, so no form field of a definition can clash with a page's own.

use std::collections::BTreeMap;

use ebok_cases::attachments::AttachmentRule;
use ebok_cases::form::{Answers, FieldKind};
use ebok_cases::store::{self, Acting, CaseError};
use ebok_cases::views::CaseView;
use ebok_common::polish;
use sqlx::PgPool;

use crate::portal::form::Upload;
use crate::portal::form_state::FormState;
use crate::portal::page_error::PageError;

/// The largest form with files: five files of 10 MB at most, and the fields.
pub(crate) const FILES_FORM_LIMIT: usize = 52 * 1024 * 1024;

/// A field of a draft's form as the page draws it.
pub(crate) struct FieldView {
    pub name: String,
    pub label: String,
    pub help: Option<String>,
    /// `text`, `textarea`, `select`, `checkboxes`.
    pub control: &'static str,
    /// The `type` of an `<input>`.
    pub input_type: &'static str,
    pub required: bool,
    /// "Dotyczy: …" when it applies only to some answers.
    pub applies: Option<String>,
    pub options: Vec<(String, String, bool)>,
}

pub(crate) struct AttachmentView {
    pub name: String,
    pub label: String,
    pub help: Option<String>,
    pub required: bool,
    pub applies: Option<String>,
    pub accepts: String,
    /// The input's `accept`: the MIME types the rule takes.
    pub accept: String,
    pub files: Vec<String>,
}

/// How a condition reads: "Wnioskodawca: Firma (przedsiębiorca)".
fn applies(view: &CaseView, when: Option<&ebok_cases::form::Condition>) -> Option<String> {
    let c = when?;
    let field = view.form.fields.iter().find(|f| f.key == c.field)?;
    let options = match &field.kind {
        FieldKind::Choice { options } | FieldKind::Choices { options } => options,
        _ => return None,
    };
    let labels: Vec<&str> = c
        .any_of
        .iter()
        .filter_map(|v| {
            options
                .iter()
                .find(|o| &o.value == v)
                .map(|o| o.label.as_str())
        })
        .collect();
    Some(format!(
        "Dotyczy: {} — {}",
        field.label,
        labels.join(" lub ")
    ))
}

fn accepts(rule: &AttachmentRule) -> String {
    let names: Vec<&str> = rule.types.iter().map(|t| t.name()).collect();
    format!(
        "{}; do {} MB; najwyżej {} {}.",
        names.join(", "),
        rule.max_bytes / (1024 * 1024),
        rule.max_files,
        polish::plural(i64::from(rule.max_files), "plik", "pliki", "plików")
    )
}

fn mime_accept(rule: &AttachmentRule) -> String {
    rule.types
        .iter()
        .map(|t| t.mime())
        .collect::<Vec<_>>()
        .join(",")
}

/// The values a draft's form shows: what was sent again, else what is saved.
pub(crate) fn shown(view: &CaseView, sent: Option<FormState>) -> FormState {
    match sent {
        Some(f) => f,
        None => {
            let mut values = Vec::new();
            for field in &view.form.fields {
                let Some(value) = view.answers.get(&field.key) else {
                    continue;
                };
                if let FieldKind::Choices { .. } = field.kind {
                    for v in value.split(',') {
                        values.push((format!("f_{}.{v}", field.key), "on".to_string()));
                    }
                } else {
                    values.push((format!("f_{}", field.key), value.clone()));
                }
            }
            FormState::from_values(values)
        }
    }
}

/// The draft's fields as the page draws them, with the values of `f`.
pub(crate) fn fields(view: &CaseView, f: &FormState) -> Vec<FieldView> {
    view.form
        .fields
        .iter()
        .map(|field| {
            let name = format!("f_{}", field.key);
            let (control, input_type, options) = match &field.kind {
                FieldKind::Paragraph { .. } => ("textarea", "text", vec![]),
                FieldKind::Date { .. } => ("text", "date", vec![]),
                FieldKind::Email => ("text", "email", vec![]),
                FieldKind::Phone => ("text", "tel", vec![]),
                FieldKind::Choice { options } => (
                    "select",
                    "text",
                    options
                        .iter()
                        .map(|o| (o.value.clone(), o.label.clone(), f.value(&name) == o.value))
                        .collect(),
                ),
                FieldKind::Choices { options } => (
                    "checkboxes",
                    "checkbox",
                    options
                        .iter()
                        .map(|o| {
                            let checked = f.checked(&format!("{name}.{}", o.value));
                            (o.value.clone(), o.label.clone(), checked)
                        })
                        .collect(),
                ),
                _ => ("text", "text", vec![]),
            };
            let help = match &field.kind {
                FieldKind::Quantity { unit, .. } => Some(match &field.help {
                    Some(h) => format!("W {unit}. {h}"),
                    None => format!("W {unit}."),
                }),
                _ => field.help.clone(),
            };
            FieldView {
                name,
                label: field.label.clone(),
                help,
                control,
                input_type,
                required: field.required,
                applies: applies(view, field.when.as_ref()),
                options,
            }
        })
        .collect()
}

/// The draft's attachment rules as the page draws them, with the files already attached.
pub(crate) fn attachments(view: &CaseView) -> Vec<AttachmentView> {
    view.form
        .attachments
        .iter()
        .map(|rule| AttachmentView {
            name: format!("plik_{}", rule.key),
            label: rule.label.clone(),
            help: rule.help.clone(),
            required: rule.required,
            applies: applies(view, rule.when.as_ref()),
            accepts: accepts(rule),
            accept: mime_accept(rule),
            files: view
                .attachments
                .iter()
                .filter(|a| a.rule == rule.key)
                .map(|a| a.file_name.clone())
                .collect(),
        })
        .collect()
}

/// The answers of a sent draft form, by field key.
pub(crate) fn answers_sent(view: &CaseView, form: &FormState) -> Answers {
    let mut answers = BTreeMap::new();
    for field in &view.form.fields {
        let name = format!("f_{}", field.key);
        let value = match field.kind {
            FieldKind::Choices { .. } => {
                let prefix = format!("{name}.");
                let mut picked: Vec<&str> = form
                    .values_under(&prefix)
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(option, _)| option)
                    .collect();
                picked.sort_unstable();
                picked.join(",")
            }
            _ => form.value(&name).to_string(),
        };
        if !value.trim().is_empty() {
            answers.insert(field.key.clone(), value);
        }
    }
    answers
}

/// The errors of the cases crate at the page's fields.
pub(crate) fn add_errors(
    form: &mut FormState,
    errors: Vec<ebok_cases::form::FieldError>,
    view: &CaseView,
) {
    for e in errors {
        let name = if view.form.attachments.iter().any(|a| a.key == e.key) {
            format!("plik_{}", e.key)
        } else {
            format!("f_{}", e.key)
        };
        form.add(name, e.message);
    }
}

/// Attaches the files sent (`plik_<rule>`) to case `id`; errors at their fields.
pub(crate) async fn attach_sent(
    pool: &PgPool,
    utility_id: i64,
    acting: Acting,
    view: &CaseView,
    files: Vec<(String, Upload)>,
    form: &mut FormState,
) -> Result<(), PageError> {
    for (field, upload) in files {
        let Some(rule) = field.strip_prefix("plik_") else {
            continue;
        };
        let mut tx = pool.begin().await?;
        match store::attach(
            &mut tx,
            utility_id,
            view.id,
            acting,
            rule,
            &upload.file_name,
            &upload.bytes,
        )
        .await
        {
            Ok(_) => tx.commit().await?,
            Err(CaseError::Fields(errors)) => add_errors(form, errors, view),
            Err(CaseError::Refused(r)) => form.add(field.clone(), r.message_pl()),
            Err(CaseError::NotFound) => return Err(PageError::NotFound),
            Err(CaseError::Db(e)) => return Err(e.into()),
        }
    }
    Ok(())
}
