//! The pages of getting in and out, which anyone may open: registration, activation (with the
//! registration's password), login and logout, and the forgotten password (asking for a link,
//! then setting a new password with it).

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::shell::{self, Ctx, FormState, Layout};
use crate::accounts::{self, Registration};
use crate::auth::web;
use crate::client::ClientAddr;
use crate::error::ApiError;
use crate::state::AppState;

type Page = Result<Response, Response>;
type Fields = HashMap<String, String>;

#[derive(Template, WebTemplate)]
#[template(path = "register.html")]
struct RegisterPage {
    layout: Layout,
    f: FormState,
    done: bool,
}

pub async fn register_form(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
) -> Page {
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    if ctx.session.is_some() {
        return Ok(Redirect::to(&format!("{}/pulpit", ctx.base())).into_response());
    }
    Ok(RegisterPage {
        layout: ctx.layout(&state, "rejestracja").await,
        f: FormState::default(),
        done: false,
    }
    .into_response())
}

pub async fn register(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Form(fields): Form<Fields>,
) -> Page {
    shell::same_origin(&state, &headers)?;
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    let mut f = FormState::from_values(fields);
    let result = accounts::register(
        &state.pool,
        &state.hasher,
        &state.mailer,
        &ctx.utility,
        &Registration {
            email: f.value("email"),
            display_name: f.value("display_name"),
            password: f.value("password"),
            password_repeat: f.value("password_repeat"),
            accept_terms: f.checked("accept_terms"),
        },
        client,
    )
    .await;
    let done = match result {
        Ok(()) => true,
        Err(e) => {
            f.add_api_error(ApiError::from(e))?;
            false
        }
    };
    Ok(RegisterPage {
        layout: ctx.layout(&state, "rejestracja").await,
        f,
        done,
    }
    .into_response())
}

#[derive(serde::Deserialize)]
pub struct TokenQuery {
    pub token: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "activate.html")]
struct ActivatePage {
    layout: Layout,
    f: FormState,
}

/// `GET /u/{slug}/aktywuj?token=…`: the link from the activation e-mail asks for the password
/// (opening a link changes nothing: mail scanners open links too).
pub async fn activate_form(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    Query(q): Query<TokenQuery>,
) -> Page {
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    let mut values = Fields::new();
    values.insert("token".into(), q.token.unwrap_or_default());
    Ok(ActivatePage {
        layout: ctx.layout(&state, "").await,
        f: FormState::from_values(values),
    }
    .into_response())
}

/// `POST /u/{slug}/aktywuj`: activates with the registration's password and logs in.
pub async fn activate(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Form(fields): Form<Fields>,
) -> Page {
    shell::same_origin(&state, &headers)?;
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    let mut f = FormState::from_values(fields);
    let result = accounts::activate(
        &state.pool,
        &state.hasher,
        ctx.utility.id,
        f.value("token"),
        f.value("password"),
        client,
    )
    .await;
    match result {
        Ok(who) => {
            let client = headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok());
            let token = web::start(&state.pool, &who, client)
                .await
                .map_err(shell::internal)?;
            let jar = jar.add(web::cookie(token, &slug, state.secure_cookies));
            Ok((jar, Redirect::to(&format!("{}/pulpit", ctx.base()))).into_response())
        }
        Err(accounts::AccountError::LinkInvalid) => {
            Ok(Redirect::to(&format!("{}/logowanie?link=niewazny", ctx.base())).into_response())
        }
        Err(e) => {
            f.add_api_error(ApiError::from(e))?;
            Ok((
                f.status(),
                ActivatePage {
                    layout: ctx.layout(&state, "").await,
                    f,
                },
            )
                .into_response())
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    f: FormState,
    notice: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    aktywowano: Option<String>,
    link: Option<String>,
    haslo: Option<String>,
    email: Option<String>,
}

pub async fn login_form(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    Query(q): Query<LoginQuery>,
) -> Page {
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    if ctx.session.is_some() {
        return Ok(Redirect::to(&shell::safe_next(&slug, q.next.as_deref())).into_response());
    }
    let notice = if q.aktywowano.is_some() {
        Some("Konto aktywne. Możesz się zalogować.".to_string())
    } else if q.link.is_some() {
        Some("Link jest nieważny, wygasł albo został już użyty.".to_string())
    } else if q.haslo.is_some() {
        Some("Hasło zostało zmienione. Zaloguj się nowym hasłem.".to_string())
    } else if q.email.is_some() {
        Some("Adres e-mail został zmieniony. Zaloguj się nowym adresem.".to_string())
    } else {
        None
    };
    let mut values = Fields::new();
    if let Some(next) = q.next {
        values.insert("next".into(), next);
    }
    Ok(LoginPage {
        layout: ctx.layout(&state, "logowanie").await,
        f: FormState::from_values(values),
        notice,
    }
    .into_response())
}

pub async fn login(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    headers: HeaderMap,
    ClientAddr(peer): ClientAddr,
    Form(fields): Form<Fields>,
) -> Page {
    shell::same_origin(&state, &headers)?;
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    let mut f = FormState::from_values(fields);
    let result = accounts::login(
        &state.pool,
        &state.hasher,
        ctx.utility.id,
        f.value("email"),
        f.value("password"),
        peer,
    )
    .await;
    match result {
        Ok(who) if who.role == "resident" => {
            let client = headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok());
            let token = web::start(&state.pool, &who, client)
                .await
                .map_err(shell::internal)?;
            let jar = jar.add(web::cookie(token, &slug, state.secure_cookies));
            let next = shell::safe_next(&slug, Some(f.value("next")));
            Ok((jar, Redirect::to(&next)).into_response())
        }
        Ok(_) => {
            f.add(
                "form",
                "To konto nie jest kontem mieszkańca. Pracownicy logują się w panelu obsługi.",
            );
            login_page(&state, &ctx, f).await
        }
        Err(accounts::AccountError::BadCredentials) => {
            f.add("password", "Nieprawidłowy adres e-mail lub hasło.");
            login_page(&state, &ctx, f).await
        }
        Err(e) => {
            f.add_api_error(ApiError::from(e))?;
            login_page(&state, &ctx, f).await
        }
    }
}

async fn login_page(state: &AppState, ctx: &Ctx, f: FormState) -> Page {
    Ok((
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        LoginPage {
            layout: ctx.layout(state, "logowanie").await,
            f,
            notice: None,
        },
    )
        .into_response())
}

pub async fn logout(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Page {
    shell::same_origin(&state, &headers)?;
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    if let Some(session) = &ctx.session {
        shell::csrf_ok(session, &fields)?;
        if let Some(cookie) = jar.get(web::COOKIE) {
            web::end(&state.pool, cookie.value())
                .await
                .map_err(shell::internal)?;
        }
    }
    let jar = jar.add(web::removal(&slug));
    Ok((jar, Redirect::to(&format!("/u/{slug}/"))).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "password_reset.html")]
struct ResetPage {
    layout: Layout,
    f: FormState,
    done: bool,
    token: Option<String>,
}

pub async fn reset_form(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
) -> Page {
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    Ok(ResetPage {
        layout: ctx.layout(&state, "").await,
        f: FormState::default(),
        done: false,
        token: None,
    }
    .into_response())
}

pub async fn reset_request(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Form(fields): Form<Fields>,
) -> Page {
    shell::same_origin(&state, &headers)?;
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    let mut f = FormState::from_values(fields);
    let done = match accounts::request_password_reset(
        &state.pool,
        &state.mailer,
        &ctx.utility,
        f.value("email"),
        client,
    )
    .await
    {
        Ok(()) => true,
        Err(e) => {
            f.add_api_error(ApiError::from(e))?;
            false
        }
    };
    Ok(ResetPage {
        layout: ctx.layout(&state, "").await,
        f,
        done,
        token: None,
    }
    .into_response())
}

pub async fn new_password_form(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    Query(q): Query<TokenQuery>,
) -> Page {
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    Ok(ResetPage {
        layout: ctx.layout(&state, "").await,
        f: FormState::default(),
        done: false,
        token: Some(q.token.unwrap_or_default()),
    }
    .into_response())
}

pub async fn new_password(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Page {
    shell::same_origin(&state, &headers)?;
    let ctx = Ctx::load(&state, &slug, &jar).await?;
    let mut f = FormState::from_values(fields);
    let token = f.value("token").to_string();
    match accounts::reset_password(
        &state.pool,
        &state.hasher,
        ctx.utility.id,
        &token,
        f.value("password"),
        f.value("password_repeat"),
    )
    .await
    {
        Ok(_) => {
            state
                .revoked
                .catch_up(&state.pool)
                .await
                .map_err(shell::internal)?;
            Ok(Redirect::to(&format!("{}/logowanie?haslo=1", ctx.base())).into_response())
        }
        Err(accounts::AccountError::LinkInvalid) => {
            Ok(Redirect::to(&format!("{}/logowanie?link=niewazny", ctx.base())).into_response())
        }
        Err(e) => {
            f.add_api_error(ApiError::from(e))?;
            Ok(ResetPage {
                layout: ctx.layout(&state, "").await,
                f,
                done: false,
                token: Some(token),
            }
            .into_response())
        }
    }
}
