//! The public pages of cases, without logging in:
//! - `/u/{slug}/status-sprawy`: the status of a case (seed 003), by its number and the
//!   applicant's PESEL or NIP ([`crate::case_status`]). The answer is the stage and since when,
//!   nothing more; a wrong identifier and an unknown number read the same.
//! - `/u/{slug}/weryfikacja-dokumentu`: a letter of a case (acknowledgement, decision,
//!   contract) checked against the SHA-256 the utility recorded, with its signatures
//!   ([`ebok_cases::signing::verify`]). Residents' own attachments are never found here.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use ebok_cases::{letters, signing};
use ebok_common::polish;
use serde::Deserialize;
use sha2::{Digest, Sha256};

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

/// What the public check found for a document: its case, what it is, when issued, and who
/// signed it when.
struct CheckedDocument {
    sha256: String,
    number: String,
    what: &'static str,
    issued: String,
    signatures: Vec<(String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "document_check.html")]
struct CheckPage {
    layout: Layout,
    f: FormState,
    found: Option<CheckedDocument>,
    /// Checked, and the utility issued no such document: its SHA-256.
    not_found: Option<String>,
}

/// The largest file the check takes (a case's letters are far smaller).
pub const CHECK_FORM_LIMIT: usize = 11 * 1024 * 1024;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CheckFields {
    /// The SHA-256 in hex, when no file is sent.
    skrot: String,
}

impl FormFields for CheckFields {
    const PAGE: &'static str = "/u/{slug}/weryfikacja-dokumentu";
}

/// `GET /u/{slug}/weryfikacja-dokumentu`: anyone holding a letter of a case (a decision, a
/// contract, an acknowledgement) can check it against the SHA-256 the utility recorded.
pub async fn check_form(State(state): State<AppState>, ctx: Ctx) -> Page {
    Ok(CheckPage {
        layout: ctx.layout(&state, "weryfikacja-dokumentu").await,
        f: FormState::default(),
        found: None,
        not_found: None,
    }
    .into_response())
}

/// `POST /u/{slug}/weryfikacja-dokumentu`: the file (`plik`) or its SHA-256 (`skrot`) checked.
pub async fn check(State(state): State<AppState>, post: PublicForm<CheckFields>) -> Page {
    let PortalForm {
        ctx,
        fields,
        mut form,
        mut uploads,
        ..
    } = post;
    let sha256: Option<Vec<u8>> = match uploads.take("plik") {
        Ok(Some(file)) if !file.bytes.is_empty() => Some(Sha256::digest(&file.bytes).to_vec()),
        Ok(_) => {
            let hex: String = fields
                .skrot
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            match parse_sha256(&hex) {
                Some(hash) => Some(hash),
                None => {
                    form.add(
                        if hex.is_empty() { "plik" } else { "skrot" },
                        if hex.is_empty() {
                            "Wybierz plik dokumentu albo wpisz jego skrót SHA-256."
                        } else {
                            "Skrót SHA-256 to 64 znaki: cyfry i litery od a do f."
                        },
                    );
                    None
                }
            }
        }
        Err(_) => {
            form.add(
                "plik",
                "Nie udało się odebrać pliku: może ma więcej niż 10 MB.",
            );
            None
        }
    };
    let mut found = None;
    let mut not_found = None;
    if let Some(hash) = sha256 {
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        let mut conn = state.pool.acquire().await?;
        match signing::verify(&mut conn, ctx.utility.id, &hash).await? {
            Some(v) => {
                found = Some(CheckedDocument {
                    sha256: hex,
                    number: v.number,
                    what: letters::document_kind_polish(&v.kind),
                    issued: polish::instant(v.issued_at),
                    signatures: v
                        .signatures
                        .into_iter()
                        .map(|s| (s.signatory, polish::instant(s.signed_at)))
                        .collect(),
                })
            }
            None => not_found = Some(hex),
        }
    }
    let status = if form.has_errors() {
        form.status()
    } else if not_found.is_some() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        CheckPage {
            layout: ctx.layout(&state, "weryfikacja-dokumentu").await,
            f: form,
            found,
            not_found,
        },
    )
        .into_response())
}

/// 32 bytes from 64 hexadecimal digits.
fn parse_sha256(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}
