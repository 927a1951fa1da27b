//! The pages of a logged-in resident's account: the account page (change of e-mail and
//! password, where the account is logged in, ending a session), the link from the e-mail that
//! confirms a new address, and linking the account to a customer.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::form::{FormFields, PortalForm, ResidentForm};
use super::form_state::FormState;
use super::page_error::{Page, PageError};
use super::params::{Id, PagePath, PageQuery, TokenQuery};
use super::shell::{Ctx, Layout};
use crate::accounts::{self, AccountError, LinkedCustomer};
use crate::auth::{sessions, web};
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    csrf: String,
    display_name: String,
    email: String,
    customers: Vec<LinkedCustomer>,
    email_form: FormState,
    password_form: FormState,
    notice: Option<String>,
    /// Live sessions: (id, what, last used, this one).
    sessions: Vec<(i64, String, String, bool)>,
}

#[derive(Deserialize)]
pub struct AccountQuery {
    wyslano: Option<String>,
    haslo: Option<String>,
    sesja: Option<String>,
}

/// `GET /u/{slug}/konto`.
pub async fn account(
    State(state): State<AppState>,
    ctx: Ctx,
    PageQuery(q): PageQuery<AccountQuery>,
) -> Page {
    let session = ctx.resident()?;
    let notice = if q.wyslano.is_some() {
        Some(
            "Wysłaliśmy link potwierdzający na nowy adres. Adres zmieni się po jego otwarciu."
                .into(),
        )
    } else if q.haslo.is_some() {
        Some("Hasło zostało zmienione.".into())
    } else if q.sesja.is_some() {
        Some("Sesja zakończona.".into())
    } else {
        None
    };
    account_page(
        &state,
        &ctx,
        session,
        FormState::default(),
        FormState::default(),
        notice,
    )
    .await
}

/// `GET /u/{slug}/konto/email?token=…`: the link from the confirmation e-mail (may be opened
/// without being logged in, e.g. on another device).
pub async fn confirm_email(
    State(state): State<AppState>,
    ctx: Ctx,
    PageQuery(q): PageQuery<TokenQuery>,
) -> Page {
    let token = q.token.unwrap_or_default();
    match accounts::confirm_email_change(&state.pool, ctx.utility.id, &token).await {
        Ok(_) => Ok(ctx.redirect("logowanie?email=1")),
        Err(AccountError::LinkInvalid | AccountError::Invalid { .. }) => {
            Ok(ctx.redirect("logowanie?link=niewazny"))
        }
        Err(e) => Err(e.into()),
    }
}

async fn account_page(
    state: &AppState,
    ctx: &Ctx,
    session: &web::PortalSession,
    email_form: FormState,
    password_form: FormState,
    notice: Option<String>,
) -> Page {
    let customers =
        accounts::linked_customers(&state.pool, session.utility_id, session.account_id).await?;
    let sessions = sessions::list(&state.pool, session.utility_id, session.account_id)
        .await?
        .into_iter()
        .map(|s| {
            // The app names itself ("Pixel 8, aplikacja 1.4"); a browser is named from its
            // User-Agent.
            let what = match (s.kind.as_str(), s.client) {
                ("app", Some(client)) => format!("Aplikacja mobilna — {client}"),
                ("app", None) => "Aplikacja mobilna".to_string(),
                (_, client) => {
                    let name = super::browser_name::browser_name(client.as_deref().unwrap_or(""));
                    let mut chars = name.chars();
                    chars
                        .next()
                        .map_or(name.clone(), |c| c.to_uppercase().chain(chars).collect())
                }
            };
            (
                s.id,
                what,
                ebok_common::polish::instant(s.last_used_at),
                s.id == session.session_id,
            )
        })
        .collect();
    let status = if email_form.has_errors() || password_form.has_errors() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        AccountPage {
            layout: ctx.layout(state, "konto").await,
            csrf: session.csrf.clone(),
            display_name: session.display_name.clone(),
            email: session.email.clone(),
            customers,
            email_form,
            password_form,
            notice,
            sessions,
        },
    )
        .into_response())
}

/// The account page's form for a new e-mail address.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EmailChangeFields {
    email: String,
    /// The account's password (the page has a second form with a `password` field).
    email_password: String,
}

impl FormFields for EmailChangeFields {
    const PAGE: &'static str = "/u/{slug}/konto";
}

/// `POST /u/{slug}/konto/email`: sends a confirmation link to the new address.
pub async fn change_email(
    State(state): State<AppState>,
    post: ResidentForm<EmailChangeFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    let result = accounts::request_email_change(
        &state.pool,
        &state.hasher,
        &state.mailer,
        &ctx.utility,
        session.account_id,
        &fields.email,
        &fields.email_password,
    )
    .await;
    match result {
        Ok(()) => Ok(ctx.redirect("konto?wyslano=1")),
        Err(AccountError::Invalid {
            field: "password",
            detail,
        }) => {
            form.add("email_password", detail);
            account_page(&state, &ctx, &session, form, FormState::default(), None).await
        }
        Err(e) => {
            form.add_failure(e)?;
            account_page(&state, &ctx, &session, form, FormState::default(), None).await
        }
    }
}

/// The account page's form for a new password.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordChangeFields {
    current_password: String,
    password: String,
    password_repeat: String,
}

impl FormFields for PasswordChangeFields {
    const PAGE: &'static str = "/u/{slug}/konto";
}

/// `POST /u/{slug}/konto/haslo`: changes the password and ends the account's other sessions.
pub async fn change_password(
    State(state): State<AppState>,
    post: ResidentForm<PasswordChangeFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    let result = accounts::change_password(
        &state.pool,
        &state.hasher,
        session.utility_id,
        session.account_id,
        Some(session.session_id),
        &fields.current_password,
        &fields.password,
        &fields.password_repeat,
    )
    .await;
    match result {
        Ok(()) => {
            state.revoked.catch_up(&state.pool).await?;
            Ok(ctx.redirect("konto?haslo=1"))
        }
        Err(e) => {
            form.add_failure(e)?;
            account_page(&state, &ctx, &session, FormState::default(), form, None).await
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "link.html")]
struct LinkPage {
    layout: Layout,
    csrf: String,
    f: FormState,
    customers: Vec<LinkedCustomer>,
}

/// `GET /u/{slug}/powiazanie`.
pub async fn link_form(State(state): State<AppState>, ctx: Ctx) -> Page {
    let session = ctx.resident()?;
    link_page(&state, &ctx, session, FormState::default()).await
}

async fn link_page(
    state: &AppState,
    ctx: &Ctx,
    session: &web::PortalSession,
    f: FormState,
) -> Page {
    let customers =
        accounts::linked_customers(&state.pool, session.utility_id, session.account_id).await?;
    Ok((
        f.status(),
        LinkPage {
            layout: ctx.layout(state, "konto").await,
            csrf: session.csrf.clone(),
            f,
            customers,
        },
    )
        .into_response())
}

/// The customer number and the code printed on an invoice.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LinkFields {
    customer_number: String,
    code: String,
}

impl FormFields for LinkFields {
    const PAGE: &'static str = "/u/{slug}/powiazanie";
}

/// `POST /u/{slug}/powiazanie`: links the account to a customer.
pub async fn link(State(state): State<AppState>, post: ResidentForm<LinkFields>) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    let result = accounts::link_customer(
        &state.pool,
        session.utility_id,
        session.account_id,
        &fields.customer_number,
        &fields.code,
    )
    .await;
    match result {
        Ok(_) => Ok(ctx.redirect("pulpit")),
        Err(e) => {
            form.add_failure(e)?;
            link_page(&state, &ctx, &session, form).await
        }
    }
}

/// The button that ends one session on the account page: only the CSRF token.
#[derive(Debug, Default, Deserialize)]
pub struct EndSessionFields {}

impl FormFields for EndSessionFields {
    const PAGE: &'static str = "/u/{slug}/konto";
}

/// `POST /u/{slug}/konto/sesje/{id}/zakoncz`: ends one of the account's sessions.
pub async fn end_session(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: ResidentForm<EndSessionFields>,
) -> Page {
    let PortalForm { ctx, session, .. } = post;
    if !sessions::end(&state.pool, session.utility_id, session.account_id, id).await? {
        return Err(PageError::NotFound);
    }
    state.revoked.catch_up(&state.pool).await?;
    Ok(ctx.redirect("konto?sesja=1"))
}
