//! What the portal and the back office share about outage notices ([`ebok_outages`]): a
//! refusal as the error each of them shows.

use ebok_outages::store::OutageError;

use crate::error::{ApiError, FieldProblem};

impl From<OutageError> for ApiError {
    fn from(error: OutageError) -> Self {
        match error {
            OutageError::NotFound => ApiError::NotFound,
            OutageError::Invalid(problems) => ApiError::Fields(
                problems
                    .into_iter()
                    .map(|(field, detail)| FieldProblem {
                        field: field.to_string(),
                        detail,
                    })
                    .collect(),
            ),
            OutageError::Ended => ApiError::Conflict {
                field: None,
                detail: "Ten komunikat jest już zakończony.".into(),
            },
            OutageError::Db(e) => e.into(),
        }
    }
}
