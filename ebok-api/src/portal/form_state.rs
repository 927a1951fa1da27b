//! A form as it is shown again: the values as they were sent (what the resident typed stays in
//! the fields) and the errors at their fields, and how a failure of the request becomes one of
//! those errors. Also [`Checkbox`], the typed value of a tick box.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde::{Deserialize, Deserializer};

use super::page_error::PageError;
use crate::error::ApiError;

/// Values and errors of a submitted form.
#[derive(Debug, Clone, Default)]
pub struct FormState {
    values: HashMap<String, String>,
    pub errors: Vec<(String, String)>,
}

impl FormState {
    /// A form showing `values` (name, value), without errors.
    pub fn from_values(values: impl IntoIterator<Item = (String, String)>) -> Self {
        FormState {
            values: values.into_iter().collect(),
            errors: Vec::new(),
        }
    }

    /// The same form with `name` showing `value`.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.values.insert(name.to_string(), value.into());
        self
    }

    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }

    /// The values whose names start with `prefix`, by the rest of their names.
    pub fn values_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.values
            .iter()
            .filter_map(move |(k, v)| k.strip_prefix(prefix).map(|rest| (rest, v.as_str())))
    }

    pub fn checked(&self, name: &str) -> bool {
        ticked(self.value(name))
    }

    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, m)| m.as_str())
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// 422 when the form is shown again with errors, 200 otherwise.
    pub fn status(&self) -> StatusCode {
        if self.has_errors() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        }
    }

    /// An error at `field` (`form`: about the whole form, shown in the summary only).
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push((field.into(), message.into()));
    }

    /// Adds a failure about the form (an invalid field, a conflict, too many attempts, a busy or
    /// unavailable service: its field and Polish message) to show the form again; a failure
    /// that is not about the form (not found, internal) is the page's error instead.
    pub fn add_failure(&mut self, failure: impl Into<ApiError>) -> Result<(), PageError> {
        match failure.into() {
            ApiError::Invalid { field, detail }
            | ApiError::Conflict {
                field: Some(field),
                detail,
            } if !field.is_empty() => self.add(field, detail),
            ApiError::Fields(problems) => {
                for p in problems {
                    self.add(p.field, p.detail);
                }
            }
            failure @ (ApiError::Invalid { .. }
            | ApiError::Conflict { .. }
            | ApiError::TooManyRequests { .. }
            | ApiError::Unavailable { .. }
            | ApiError::Busy { .. }) => self.add("form", failure.detail()),
            other => return Err(other.into()),
        }
        Ok(())
    }
}

/// A tick box: browsers send it (`on`, unless it has a `value`) only when it is ticked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checkbox(pub bool);

impl<'de> Deserialize<'de> for Checkbox {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Checkbox(ticked(&String::deserialize(deserializer)?)))
    }
}

fn ticked(value: &str) -> bool {
    matches!(value, "on" | "true" | "1" | "tak")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_failure_about_a_field_is_shown_at_it_and_one_about_nothing_in_the_summary() {
        let mut form = FormState::default();
        form.add_failure(ApiError::invalid("email", "Podaj poprawny adres e-mail."))
            .unwrap();
        form.add_failure(ApiError::TooManyRequests {
            retry_after: Duration::from_secs(90),
        })
        .unwrap();
        form.add_failure(ApiError::invalid("", "Dane są niespójne."))
            .unwrap();
        assert_eq!(form.error("email"), Some("Podaj poprawny adres e-mail."));
        assert_eq!(
            form.errors[1],
            (
                "form".to_string(),
                "Zbyt wiele prób. Spróbuj ponownie za 2 min.".to_string()
            )
        );
        assert_eq!(form.errors[2].0, "form");
        assert_eq!(form.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn a_failure_not_about_the_form_is_the_pages_error() {
        let mut form = FormState::default();
        assert!(matches!(
            form.add_failure(ApiError::NotFound),
            Err(PageError::NotFound)
        ));
        assert!(matches!(
            form.add_failure(ApiError::Internal(anyhow::anyhow!("boom"))),
            Err(PageError::Internal(_))
        ));
        assert!(!form.has_errors());
    }
}
