//! What a utility's managers set up for cases, and what residents think of them (issue 20):
//! - `/panel/{slug}/sprawy/szablony`: the wording of the letters cases produce
//!   (acknowledgement, decisions, contract), each edited on its own page, checked before it is
//!   saved (an unknown placeholder is named at its field), previewed as the PDF it will be,
//!   and put back to the built-in wording (`ManageCases`);
//! - `/panel/{slug}/sprawy/opinie`: residents' ratings per application type, with the latest
//!   comments (`HandleCases`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::Utc;
use ebok_cases::letters::{self, LetterKind};
use ebok_cases::views;
use ebok_common::domain::time::local_day;
use serde::Deserialize;
use serde_json::json;

use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::FormState;
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::{PagePath, PageQuery};
use crate::staff::Permission;
use crate::state::AppState;

struct KindRow {
    code: &'static str,
    name: &'static str,
    own: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/case_templates.html")]
struct TemplatesPage {
    layout: StaffLayout,
    kinds: Vec<KindRow>,
}

/// `GET /panel/{slug}/sprawy/szablony`: the letters and whose wording each has.
pub async fn templates(State(state): State<AppState>, ctx: StaffCtx) -> Page {
    let session = ctx.staff(Permission::ManageCases)?.clone();
    let mut conn = state.pool.acquire().await?;
    let mut kinds = Vec::new();
    for kind in LetterKind::ALL {
        kinds.push(KindRow {
            code: kind.code(),
            name: kind.polish(),
            own: letters::is_own(&mut conn, session.utility_id, kind).await?,
        });
    }
    Ok(TemplatesPage {
        layout: ctx.layout("sprawy"),
        kinds,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/case_template.html")]
struct TemplatePage {
    layout: StaffLayout,
    csrf: String,
    code: &'static str,
    name: &'static str,
    own: bool,
    placeholders: &'static [(&'static str, &'static str)],
    f: FormState,
    notice: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
pub struct KindPath {
    kind: String,
}

fn kind(path: &KindPath) -> Result<LetterKind, PageError> {
    LetterKind::from_code(&path.kind).ok_or(PageError::NotFound)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TemplateQuery {
    zapisano: Option<String>,
}

/// `GET /panel/{slug}/sprawy/szablony/{kind}`: one letter's wording to edit.
pub async fn template(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(path): PagePath<KindPath>,
    PageQuery(q): PageQuery<TemplateQuery>,
) -> Page {
    let session = ctx.staff(Permission::ManageCases)?.clone();
    let kind = kind(&path)?;
    let mut conn = state.pool.acquire().await?;
    let current = letters::template(&mut conn, session.utility_id, kind).await?;
    let f = FormState::default()
        .with("tytul", current.title)
        .with("tresc", current.body);
    let own = letters::is_own(&mut conn, session.utility_id, kind).await?;
    let notice = q
        .zapisano
        .map(|_| "Zapisano. Nowe pisma będą miały tę treść.");
    Ok(page(&ctx, &session.csrf, kind, own, f, notice).into_response())
}

fn page(
    ctx: &StaffCtx,
    csrf: &str,
    kind: LetterKind,
    own: bool,
    f: FormState,
    notice: Option<&'static str>,
) -> TemplatePage {
    TemplatePage {
        layout: ctx.layout("sprawy"),
        csrf: csrf.to_string(),
        code: kind.code(),
        name: kind.polish(),
        own,
        placeholders: letters::PLACEHOLDERS,
        f,
        notice,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TemplateFields {
    tytul: String,
    tresc: String,
    /// `zapisz`, `podglad` or `domyslny`.
    czynnosc: String,
}

impl FormFields for TemplateFields {
    const PAGE: &'static str = "/panel/{slug}/sprawy/szablony/{kind}";
}

/// `POST /panel/{slug}/sprawy/szablony/{kind}`: saves the wording, shows it as a PDF first
/// (`podglad`), or goes back to the built-in wording (`domyslny`).
pub async fn save_template(
    State(state): State<AppState>,
    PagePath(path): PagePath<KindPath>,
    post: StaffForm<TemplateFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::ManageCases) {
        return Err(PageError::NotAllowed);
    }
    let kind = kind(&path)?;
    let by = session.by();
    let sent = letters::Template {
        title: fields.tytul.clone(),
        body: fields.tresc.clone(),
    };
    let mut tx = state.pool.begin().await?;
    let own = letters::is_own(&mut tx, session.utility_id, kind).await?;
    let checked = match fields.czynnosc.as_str() {
        "domyslny" => None,
        "zapisz" | "podglad" => Some(&sent),
        _ => return Err(PageError::bad_request("Nieznana czynność.")),
    };
    if let Some(t) = checked
        && let Err(errors) = letters::check(t)
    {
        for e in errors {
            let field = if e.key == "title" { "tytul" } else { "tresc" };
            form.add(field, e.message);
        }
        drop(tx);
        let status = form.status();
        return Ok((status, page(&ctx, &session.csrf, kind, own, form, None)).into_response());
    }
    if fields.czynnosc == "podglad" {
        drop(tx);
        let pdf = preview(&state, session.utility_id, kind, &sent).await?;
        return Ok((
            [
                (header::CONTENT_TYPE, "application/pdf".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"podglad-{}.pdf\"", kind.code()),
                ),
            ],
            pdf,
        )
            .into_response());
    }
    match letters::set_template(&mut tx, session.utility_id, kind, checked, by.account_id).await {
        Ok(()) => {}
        Err(letters::TemplateError::Invalid(_)) => {
            unreachable!("checked above")
        }
        Err(letters::TemplateError::Db(e)) => return Err(e.into()),
    }
    by.audit(
        &mut tx,
        if checked.is_some() {
            "case_template.saved"
        } else {
            "case_template.reset"
        },
        "utility",
        session.utility_id,
        json!({"kind": kind.code()}),
    )
    .await?;
    tx.commit().await?;
    Ok(ctx.redirect(&format!("sprawy/szablony/{}?zapisano=1", kind.code())))
}

/// The letter `kind` worded by `template`, filled with an example case of the utility.
async fn preview(
    state: &AppState,
    utility_id: i64,
    kind: LetterKind,
    template: &letters::Template,
) -> Result<Vec<u8>, PageError> {
    let utility = sqlx::query!(
        "SELECT name, city, municipality FROM utilities WHERE id = $1",
        utility_id
    )
    .fetch_one(&state.pool)
    .await?;
    let ctx = letters::example(
        vec![utility.name],
        &utility.city.unwrap_or(utility.municipality),
        local_day(Utc::now()),
    );
    Ok(ebok_pdf::letter::letter_pdf(&letters::letter(
        kind, template, &ctx,
    )))
}

struct FeedbackRow {
    type_name: String,
    answers: i64,
    mean: String,
    by_rating: [i64; 5],
    comments: Vec<(i16, String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/case_feedback.html")]
struct FeedbackPage {
    layout: StaffLayout,
    rows: Vec<FeedbackRow>,
}

/// `GET /panel/{slug}/sprawy/opinie`: residents' ratings per application type.
pub async fn feedback(State(state): State<AppState>, ctx: StaffCtx) -> Page {
    let session = ctx.staff(Permission::HandleCases)?.clone();
    let mut conn = state.pool.acquire().await?;
    let rows = views::feedback_summary(&mut conn, session.utility_id)
        .await?
        .into_iter()
        .map(|s| FeedbackRow {
            type_name: s.type_name,
            answers: s.answers,
            mean: format!("{},{:02}", s.mean_hundredths / 100, s.mean_hundredths % 100),
            by_rating: s.by_rating,
            comments: s.comments,
        })
        .collect();
    Ok(FeedbackPage {
        layout: ctx.layout("sprawy"),
        rows,
    }
    .into_response())
}
