//! The application forms a utility offers, edited by its managers without code (issue 20):
//! `/panel/{slug}/sprawy/formularze` lists the types; `/panel/{slug}/sprawy/formularze/{code}`
//! edits one — its name, description and whether residents may file it now; each question's
//! label, hint and whether it is required; each attachment's label, hint, whether it is
//! required, how many files and how large. The questions themselves (their keys, kinds and
//! conditions) stay as defined: letters and billing read their answers by key. Every change is
//! checked (`FormDefinition::check`), audited, and applies to new applications only: a
//! submitted case keeps the form it was submitted against.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use ebok_cases::form::FormDefinition;
use ebok_cases::types::{self, EditError};
use serde::Deserialize;
use serde_json::json;

use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::FormState;
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::{PagePath, PageQuery};
use crate::staff::Permission;
use crate::state::AppState;

/// The largest file an attachment may take, in MB: the portal and the API take no larger.
const MAX_MB: u64 = 10;

struct TypeRow {
    code: String,
    name: String,
    active: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/application_forms.html")]
struct FormsPage {
    layout: StaffLayout,
    types: Vec<TypeRow>,
}

/// `GET /panel/{slug}/sprawy/formularze`
pub async fn forms(State(state): State<AppState>, ctx: StaffCtx) -> Page {
    let session = ctx.staff(Permission::ManageCases)?.clone();
    let mut conn = state.pool.acquire().await?;
    let types = types::list(&mut conn, session.utility_id, true)
        .await?
        .into_iter()
        .map(|t| TypeRow {
            code: t.code,
            name: t.name,
            active: t.active,
        })
        .collect();
    Ok(FormsPage {
        layout: ctx.layout("sprawy"),
        types,
    }
    .into_response())
}

/// A question or an attachment as the editor shows it: its key and what it is now.
struct Part {
    key: String,
    /// The names of its inputs: `etykieta_<key>`, `podpowiedz_<key>`, `wymagane_<key>`, and for
    /// an attachment `pliki_<key>`, `mb_<key>`.
    label: String,
    help: String,
    required: String,
    files: String,
    mb: String,
    /// The kind in Polish ("PESEL", "wybór", "plik PDF, JPG").
    kind: String,
    /// Shown only when (Polish), if conditional.
    when: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/application_form.html")]
struct FormPage {
    layout: StaffLayout,
    csrf: String,
    code: String,
    fields: Vec<Part>,
    attachments: Vec<Part>,
    f: FormState,
    notice: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
pub struct CodePath {
    code: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FormQuery {
    zapisano: Option<String>,
}

fn kind_polish(kind: &ebok_cases::form::FieldKind) -> &'static str {
    use ebok_cases::form::FieldKind::*;
    match kind {
        Text { .. } => "tekst",
        Paragraph { .. } => "dłuższy tekst",
        Date { .. } => "data",
        Pesel => "PESEL",
        Nip => "NIP",
        Regon => "REGON",
        BankAccount => "numer rachunku",
        PostalCode => "kod pocztowy",
        Email => "e-mail",
        Phone => "telefon",
        Choice { .. } => "wybór jednej odpowiedzi",
        Choices { .. } => "wybór kilku odpowiedzi",
        Quantity { .. } => "liczba z jednostką",
    }
}

/// The editor's values for type `t` as stored.
fn values(t: &types::ApplicationType) -> FormState {
    let mut f = FormState::default()
        .with("nazwa", t.name.clone())
        .with("opis", t.description.clone());
    if t.active {
        f = f.with("aktywny", "on");
    }
    for field in &t.form.fields {
        f = f
            .with(&format!("etykieta_{}", field.key), field.label.clone())
            .with(
                &format!("podpowiedz_{}", field.key),
                field.help.clone().unwrap_or_default(),
            );
        if field.required {
            f = f.with(&format!("wymagane_{}", field.key), "on");
        }
    }
    for a in &t.form.attachments {
        f = f
            .with(&format!("etykieta_{}", a.key), a.label.clone())
            .with(
                &format!("podpowiedz_{}", a.key),
                a.help.clone().unwrap_or_default(),
            )
            .with(&format!("pliki_{}", a.key), a.max_files.to_string())
            .with(
                &format!("mb_{}", a.key),
                (a.max_bytes / (1024 * 1024)).to_string(),
            );
        if a.required {
            f = f.with(&format!("wymagane_{}", a.key), "on");
        }
    }
    f
}

fn page(
    ctx: &StaffCtx,
    csrf: &str,
    t: &types::ApplicationType,
    f: FormState,
    notice: Option<&'static str>,
) -> FormPage {
    let when = |w: &Option<ebok_cases::form::Condition>| {
        w.as_ref().map(|c| {
            let field = t.form.fields.iter().find(|f| f.key == c.field);
            format!(
                "gdy „{}” to: {}",
                field.map_or(c.field.as_str(), |f| f.label.as_str()),
                c.any_of
                    .iter()
                    .map(|v| field.map_or_else(|| v.clone(), |f| f.kind.read(v)))
                    .collect::<Vec<_>>()
                    .join(" lub ")
            )
        })
    };
    FormPage {
        layout: ctx.layout("sprawy"),
        csrf: csrf.to_string(),
        code: t.code.clone(),
        fields: t
            .form
            .fields
            .iter()
            .map(|field| Part {
                key: field.key.clone(),
                label: format!("etykieta_{}", field.key),
                help: format!("podpowiedz_{}", field.key),
                required: format!("wymagane_{}", field.key),
                files: String::new(),
                mb: String::new(),
                kind: kind_polish(&field.kind).to_string(),
                when: when(&field.when),
            })
            .collect(),
        attachments: t
            .form
            .attachments
            .iter()
            .map(|a| Part {
                key: a.key.clone(),
                label: format!("etykieta_{}", a.key),
                help: format!("podpowiedz_{}", a.key),
                required: format!("wymagane_{}", a.key),
                files: format!("pliki_{}", a.key),
                mb: format!("mb_{}", a.key),
                kind: format!(
                    "plik {}",
                    a.types
                        .iter()
                        .map(|t| t.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                when: when(&a.when),
            })
            .collect(),
        f,
        notice,
    }
}

async fn application_type(
    state: &AppState,
    utility_id: i64,
    code: &str,
) -> Result<types::ApplicationType, PageError> {
    let mut conn = state.pool.acquire().await?;
    types::get(&mut conn, utility_id, code)
        .await?
        .ok_or(PageError::NotFound)
}

/// `GET /panel/{slug}/sprawy/formularze/{code}`
pub async fn form(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(path): PagePath<CodePath>,
    PageQuery(q): PageQuery<FormQuery>,
) -> Page {
    let session = ctx.staff(Permission::ManageCases)?.clone();
    let t = application_type(&state, session.utility_id, &path.code).await?;
    let notice = q
        .zapisano
        .map(|_| "Zapisano. Zmiany dotyczą nowych wniosków.");
    Ok(page(&ctx, &session.csrf, &t, values(&t), notice).into_response())
}

/// The form as edited in `f`, or the fields to put right (in Polish, in `f`).
fn edited(t: &types::ApplicationType, f: &mut FormState) -> FormDefinition {
    let mut form = t.form.clone();
    let text = |f: &FormState, name: String| f.value(&name).trim().to_string();
    for field in &mut form.fields {
        let label = text(f, format!("etykieta_{}", field.key));
        if label.is_empty() || label.chars().count() > 300 {
            f.add(
                format!("etykieta_{}", field.key),
                "Wpisz treść pytania (najwyżej 300 znaków).",
            );
        }
        field.label = label;
        let help = text(f, format!("podpowiedz_{}", field.key));
        field.help = (!help.is_empty()).then_some(help);
        field.required = f.checked(&format!("wymagane_{}", field.key));
    }
    for a in &mut form.attachments {
        let label = text(f, format!("etykieta_{}", a.key));
        if label.is_empty() || label.chars().count() > 300 {
            f.add(
                format!("etykieta_{}", a.key),
                "Wpisz nazwę załącznika (najwyżej 300 znaków).",
            );
        }
        a.label = label;
        let help = text(f, format!("podpowiedz_{}", a.key));
        a.help = (!help.is_empty()).then_some(help);
        a.required = f.checked(&format!("wymagane_{}", a.key));
        match text(f, format!("pliki_{}", a.key)).parse::<u8>() {
            Ok(n @ 1..=20) => a.max_files = n,
            _ => f.add(
                format!("pliki_{}", a.key),
                "Podaj liczbę plików od 1 do 20.",
            ),
        }
        match text(f, format!("mb_{}", a.key)).parse::<u64>() {
            Ok(mb @ 1..=MAX_MB) => a.max_bytes = mb * 1024 * 1024,
            _ => f.add(
                format!("mb_{}", a.key),
                format!("Podaj rozmiar pliku od 1 do {MAX_MB} MB."),
            ),
        }
    }
    form
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FormFieldsSent {
    nazwa: String,
    opis: String,
}

impl FormFields for FormFieldsSent {
    const PAGE: &'static str = "/panel/{slug}/sprawy/formularze/{code}";
}

/// `POST /panel/{slug}/sprawy/formularze/{code}`: saves the type's name, description, whether
/// it is offered, and its questions' and attachments' wording and limits.
pub async fn save(
    State(state): State<AppState>,
    PagePath(path): PagePath<CodePath>,
    post: StaffForm<FormFieldsSent>,
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
    let t = application_type(&state, session.utility_id, &path.code).await?;
    let name = fields.nazwa.trim();
    if name.is_empty() || name.chars().count() > 200 {
        form.add("nazwa", "Wpisz nazwę wniosku (najwyżej 200 znaków).");
    }
    if fields.opis.chars().count() > 2000 {
        form.add("opis", "Opis może mieć najwyżej 2000 znaków.");
    }
    let definition = edited(&t, &mut form);
    if form.has_errors() {
        let status = form.status();
        return Ok((status, page(&ctx, &session.csrf, &t, form, None)).into_response());
    }
    let active = form.checked("aktywny");
    let by = session.by();
    let mut tx = state.pool.begin().await?;
    match types::set_form(
        &mut tx,
        session.utility_id,
        &t.code,
        &definition,
        by.account_id,
    )
    .await
    {
        Ok(()) => {}
        Err(EditError::NotFound) => return Err(PageError::NotFound),
        Err(EditError::Invalid(problems)) => {
            // The editor changes wording and limits only, which the checks above cover.
            return Err(PageError::Internal(anyhow::anyhow!(
                "an edited form failed its check: {}",
                problems.join("; ")
            )));
        }
        Err(EditError::Db(e)) => return Err(e.into()),
    }
    types::set_details(
        &mut tx,
        session.utility_id,
        &t.code,
        name,
        fields.opis.trim(),
        active,
    )
    .await?;
    by.audit(
        &mut tx,
        "application_type.updated",
        "application_type",
        t.id,
        json!({"code": t.code, "active": active}),
    )
    .await?;
    tx.commit().await?;
    Ok(ctx.redirect(&format!("sprawy/formularze/{}?zapisano=1", t.code)))
}
