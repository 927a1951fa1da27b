//! Path and query parameters of portal pages, typed: a path whose parameter does not fit (a
//! meter id that is not a number) is the 404 page, a query that does not fit is a 422 page
//! naming the parameter; never axum's plain-text rejection or the API's problem+json.

use axum::extract::{FromRequestParts, Path};
use serde::Deserialize;

use super::page_error::PageError;

/// Path parameters, e.g. `PagePath(Id { id })`; a struct takes the parameters it names.
#[derive(Debug, FromRequestParts)]
#[from_request(via(Path), rejection(PageError))]
pub struct PagePath<T>(pub T);

/// Query parameters, read as the API reads them (a Polish message naming the parameter).
#[derive(Debug, FromRequestParts)]
#[from_request(via(crate::extract::Query), rejection(PageError))]
pub struct PageQuery<T>(pub T);

/// The `{id}` of a path (a meter, a rule, a session).
#[derive(Debug, Deserialize)]
pub struct Id {
    pub id: i64,
}

/// The `?token=…` of a link from an e-mail (activation, password reset, new address).
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    pub token: Option<String>,
}
