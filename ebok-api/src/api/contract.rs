//! The document's promises about errors, made once for every operation instead of on each:
//! which problems an operation can answer, and in which form. Every handler's `ApiError` becomes
//! `application/problem+json` ([`crate::error`]); an operation with a bearer token can answer
//! 401, one with a path parameter 404 (no such resource, or not the caller's), one that takes a
//! body or a query 422 (`field` names the input), and any 500 (with an `error_id`). Statuses an
//! operation documents itself (409, 429, 503 …) keep their descriptions and get the same form.
//! Every response gets a description (OpenAPI requires one).

use utoipa::Modify;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::{Response, Responses};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};

/// The media type of every error.
pub const PROBLEM: &str = "application/problem+json";

pub struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                complete(operation);
            }
        }
    }
}

fn complete(operation: &mut Operation) {
    let parameters = operation
        .parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(p) => Some(&p.parameter_in),
            RefOr::Ref(_) => None,
        });
    let (mut path, mut query) = (false, false);
    for place in parameters {
        path |= matches!(place, ParameterIn::Path);
        query |= matches!(place, ParameterIn::Query);
    }
    let bearer = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let input = query || operation.request_body.is_some();
    let responses = &mut operation.responses;
    for (status, applies) in [
        ("401", bearer),
        ("404", path),
        ("422", input),
        ("500", true),
    ] {
        if applies {
            responses
                .responses
                .entry(status.to_string())
                .or_insert_with(|| RefOr::T(Response::new("")));
        }
    }
    describe(responses);
}

fn describe(responses: &mut Responses) {
    for (status, response) in responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let error = status.starts_with('4') || status.starts_with('5');
        if response.description.is_empty() {
            response.description = default_description(status).to_string();
        }
        if error {
            response.content.clear();
            response.content.insert(
                PROBLEM.to_string(),
                RefOr::T(Content::new(Some(Ref::from_schema_name("Problem")))),
            );
        }
    }
}

/// Polish first, then English, as the document's other texts.
fn default_description(status: &str) -> &'static str {
    match status {
        "200" => "Wynik · the result",
        "201" => "Utworzono · created",
        "202" => "Przyjęto; dalszy ciąg w wiadomości e-mail · accepted, continued by e-mail",
        "204" => "Zrobione · done, no content",
        "401" => "Brak ważnego tokenu dostępu · no valid access token",
        "403" => "Brak uprawnień · not allowed",
        "404" => "Nie ma takiego zasobu albo nie jest Twój · no such resource, or not the caller's",
        "409" => "Konflikt ze stanem zasobu · conflicts with the resource's state",
        "422" => "Nieprawidłowe dane; `field` wskazuje pole · invalid input, `field` names it",
        "429" => "Zbyt wiele prób; nagłówek Retry-After mówi, kiedy ponowić · too many attempts",
        "500" => {
            "Błąd po stronie serwera; `error_id` do zgłoszenia · server error, quote `error_id`"
        }
        "503" => "Chwilowo niedostępne; Retry-After · temporarily unavailable",
        _ => "Odpowiedź · response",
    }
}
