//! The pages of a logged-in resident's account: the account page (change of e-mail and
//! password, where the account is logged in, ending a session), the link from the e-mail that
//! confirms a new address, and linking the account to a customer.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::shell::{self, Ctx, FormState, Layout};
use super::sign_in_pages::TokenQuery;
use crate::accounts::{self, LinkedCustomer};
use crate::auth::{sessions, web};
use crate::error::ApiError;
use crate::state::AppState;

type Page = Result<Response, Response>;
type Fields = HashMap<String, String>;

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

#[derive(serde::Deserialize)]
pub struct AccountQuery {
    wyslano: Option<String>,
    haslo: Option<String>,
    sesja: Option<String>,
}

/// `GET /u/{slug}/konto`.
pub async fn account(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    Query(q): Query<AccountQuery>,
) -> Page {
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    let session = ctx.require(&format!("/u/{slug}/konto"))?;
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
    Path(slug): Path<String>,
    jar: CookieJar,
    Query(q): Query<TokenQuery>,
) -> Page {
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    match accounts::confirm_email_change(&state.pool, ctx.utility.id, &q.token.unwrap_or_default())
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("{}/logowanie?email=1", ctx.base())).into_response()),
        Err(accounts::AccountError::LinkInvalid | accounts::AccountError::Invalid { .. }) => {
            Ok(Redirect::to(&format!("{}/logowanie?link=niewazny", ctx.base())).into_response())
        }
        Err(e) => Err(shell::internal(e)),
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
    let customers = accounts::linked_customers(&state.pool, session.utility_id, session.account_id)
        .await
        .map_err(shell::internal)?;
    let sessions = sessions::list(&state.pool, session.utility_id, session.account_id)
        .await
        .map_err(shell::internal)?
        .into_iter()
        .map(|s| {
            let what = match s.kind.as_str() {
                "app" => "Aplikacja mobilna",
                _ => "Przeglądarka",
            };
            let client = s.client.map(|c| format!(" — {c}")).unwrap_or_default();
            (
                s.id,
                format!("{what}{client}"),
                ebok_common::polish::instant(s.last_used_at),
                s.id == session.session_id,
            )
        })
        .collect();
    let status = if email_form.has_errors() || password_form.has_errors() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
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

pub async fn change_email(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Page {
    let (ctx, session) = shell::resident_post(
        &state,
        &slug,
        &jar,
        &headers,
        &fields,
        &format!("/u/{slug}/konto"),
    )
    .await?;
    let session = &session;
    let mut f = FormState::from_values(fields);
    match accounts::request_email_change(
        &state.pool,
        &state.hasher,
        &state.mailer,
        &ctx.utility,
        session.account_id,
        f.value("email"),
        f.value("email_password"),
    )
    .await
    {
        Ok(()) => Ok(Redirect::to(&format!("{}/konto?wyslano=1", ctx.base())).into_response()),
        Err(accounts::AccountError::Invalid {
            field: "password",
            detail,
        }) => {
            // The form's password field has its own name: the page has a second form.
            f.add("email_password", detail);
            account_page(&state, &ctx, session, f, FormState::default(), None).await
        }
        Err(e) => {
            f.add_api_error(ApiError::from(e))?;
            account_page(&state, &ctx, session, f, FormState::default(), None).await
        }
    }
}

pub async fn change_password(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Page {
    let (ctx, session) = shell::resident_post(
        &state,
        &slug,
        &jar,
        &headers,
        &fields,
        &format!("/u/{slug}/konto"),
    )
    .await?;
    let session = &session;
    let mut f = FormState::from_values(fields);
    match accounts::change_password(
        &state.pool,
        &state.hasher,
        session.utility_id,
        session.account_id,
        Some(session.session_id),
        f.value("current_password"),
        f.value("password"),
        f.value("password_repeat"),
    )
    .await
    {
        Ok(()) => {
            state
                .revoked
                .catch_up(&state.pool)
                .await
                .map_err(shell::internal)?;
            Ok(Redirect::to(&format!("{}/konto?haslo=1", ctx.base())).into_response())
        }
        Err(e) => {
            f.add_api_error(ApiError::from(e))?;
            account_page(&state, &ctx, session, FormState::default(), f, None).await
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

pub async fn link_form(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
) -> Page {
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    let session = ctx.require(&format!("/u/{slug}/powiazanie"))?;
    link_page(&state, &ctx, session, FormState::default()).await
}

async fn link_page(
    state: &AppState,
    ctx: &Ctx,
    session: &web::PortalSession,
    f: FormState,
) -> Page {
    let customers = accounts::linked_customers(&state.pool, session.utility_id, session.account_id)
        .await
        .map_err(shell::internal)?;
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

pub async fn link(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Page {
    let (ctx, session) = shell::resident_post(
        &state,
        &slug,
        &jar,
        &headers,
        &fields,
        &format!("/u/{slug}/powiazanie"),
    )
    .await?;
    let session = &session;
    let mut f = FormState::from_values(fields);
    match accounts::link_customer(
        &state.pool,
        session.utility_id,
        session.account_id,
        f.value("customer_number"),
        f.value("code"),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("{}/pulpit", ctx.base())).into_response()),
        Err(e) => {
            f.add_api_error(ApiError::from(e))?;
            link_page(&state, &ctx, session, f).await
        }
    }
}

/// `POST /u/{slug}/konto/sesje/{id}/zakoncz`: ends one of the account's sessions.
pub async fn end_session(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    jar: CookieJar,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Page {
    let (ctx, session) = shell::resident_post(
        &state,
        &slug,
        &jar,
        &headers,
        &fields,
        &format!("/u/{slug}/konto"),
    )
    .await?;
    let id: i64 = id.parse().map_err(|_| shell::not_found())?;
    if !sessions::end(&state.pool, session.utility_id, session.account_id, id)
        .await
        .map_err(shell::internal)?
    {
        return Err(shell::not_found());
    }
    state
        .revoked
        .catch_up(&state.pool)
        .await
        .map_err(shell::internal)?;
    Ok(Redirect::to(&format!("{}/konto?sesja=1", ctx.base())).into_response())
}
