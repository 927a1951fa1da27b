//! The water balance's refusals ([`ebok_balance`]) as the error the pages and the API show.

use ebok_balance::network::NetworkError;
use ebok_balance::store::BalanceError;

use crate::error::{ApiError, FieldProblem};

impl From<NetworkError> for ApiError {
    fn from(error: NetworkError) -> Self {
        match error {
            NetworkError::NotFound => ApiError::NotFound,
            NetworkError::Invalid(problems) => ApiError::Fields(
                problems
                    .into_iter()
                    .map(|(field, detail)| FieldProblem {
                        field: field.to_string(),
                        detail,
                    })
                    .collect(),
            ),
            NetworkError::Database(e) => e.into(),
        }
    }
}

impl From<BalanceError> for ApiError {
    fn from(error: BalanceError) -> Self {
        match error {
            BalanceError::Database(e) => e.into(),
            // The zones are kept as a tree by the database; anything else is a bug.
            BalanceError::Zones(e) => ApiError::Internal(anyhow::Error::new(e)),
        }
    }
}
