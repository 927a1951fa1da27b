//! `/u/{slug}/status-sprawy`: the status of a case without logging in (seed 003), by its number
//! and the applicant's PESEL or NIP ([`crate::case_status`]). The answer is the stage and since
//! when, nothing more; a wrong identifier and an unknown number read the same.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use ebok_common::polish;
use serde::Deserialize;

use super::form::{FormFields, PortalForm, PublicForm};
use super::form_state::FormState;
use super::page_error::Page;
use super::shell::{Ctx, Layout};
use crate::case_status;
use crate::client::ClientAddr;
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "case_status.html")]
struct StatusPage {
    layout: Layout,
    f: FormState,
    /// The case found: its number, stage and since when.
    found: Option<(String, &'static str, String)>,
    /// Looked up and not found.
    not_found: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatusFields {
    number: String,
    identifier: String,
}

impl FormFields for StatusFields {
    const PAGE: &'static str = "/u/{slug}/status-sprawy";
}

pub async fn status_form(State(state): State<AppState>, ctx: Ctx) -> Page {
    Ok(StatusPage {
        layout: ctx.layout(&state, "status-sprawy").await,
        f: FormState::default(),
        found: None,
        not_found: false,
    }
    .into_response())
}

pub async fn status(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    post: PublicForm<StatusFields>,
) -> Page {
    let PortalForm {
        ctx,
        fields,
        mut form,
        ..
    } = post;
    let number = fields.number.trim();
    let identifier = fields.identifier.trim();
    if number.is_empty() || number.len() > 40 {
        form.add("number", "Podaj numer sprawy, np. WTP/2026/000123.");
    }
    if identifier.is_empty() || identifier.len() > 20 {
        form.add("identifier", "Podaj PESEL albo NIP wnioskodawcy.");
    }
    let mut found = None;
    let mut not_found = false;
    if !form.has_errors() {
        match case_status::look_up(&state.pool, ctx.utility.id, number, identifier, client).await {
            Ok(Some(s)) => {
                found = Some((s.number, s.state.polish(), polish::instant(s.since)));
            }
            Ok(None) => not_found = true,
            Err(e) => form.add_failure(e)?,
        }
    }
    let status = if form.has_errors() {
        form.status()
    } else if not_found {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        StatusPage {
            layout: ctx.layout(&state, "status-sprawy").await,
            f: form,
            found,
            not_found,
        },
    )
        .into_response())
}
