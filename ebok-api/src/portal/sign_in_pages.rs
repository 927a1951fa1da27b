//! The pages of getting in and out, which anyone may open: registration, activation (with the
//! registration's password), login and logout, and the forgotten password (asking for a link,
//! then setting a new password with it).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::form::{FormFields, MaybeResident, PortalForm, PublicForm};
use super::form_state::{Checkbox, FormState};
use super::page_error::Page;
use super::params::{PageQuery, TokenQuery};
use super::shell::{self, Ctx, Layout};
use crate::accounts::{self, AccountError, LoggedIn, Registration};
use crate::auth::web;
use crate::client::ClientAddr;
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "register.html")]
struct RegisterPage {
    layout: Layout,
    f: FormState,
    done: bool,
}

/// The registration form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RegisterFields {
    email: String,
    display_name: String,
    password: String,
    password_repeat: String,
    accept_terms: Checkbox,
}

impl FormFields for RegisterFields {
    const PAGE: &'static str = "/u/{slug}/rejestracja";
}

pub async fn register_form(State(state): State<AppState>, ctx: Ctx) -> Page {
    if ctx.session.is_some() {
        return Ok(ctx.redirect("pulpit"));
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
    ClientAddr(client): ClientAddr,
    post: PublicForm<RegisterFields>,
) -> Page {
    let PortalForm {
        ctx,
        fields,
        mut form,
        ..
    } = post;
    let registration = Registration {
        email: &fields.email,
        display_name: &fields.display_name,
        password: &fields.password,
        password_repeat: &fields.password_repeat,
        accept_terms: fields.accept_terms.0,
    };
    // Every wrong field at once, each at its field; the rest only for a complete form.
    let problems = registration.problems();
    let done = if problems.is_empty() {
        match accounts::register(
            &state.pool,
            &state.hasher,
            &state.mailer,
            &ctx.utility,
            &registration,
            client,
        )
        .await
        {
            Ok(()) => true,
            Err(e) => {
                form.add_failure(e)?;
                false
            }
        }
    } else {
        for (field, message) in problems {
            form.add(field, message);
        }
        false
    };
    Ok(RegisterPage {
        layout: ctx.layout(&state, "rejestracja").await,
        f: form,
        done,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "activate.html")]
struct ActivatePage {
    layout: Layout,
    f: FormState,
}

/// The activation form: the token of the e-mailed link and the registration's password.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActivateFields {
    token: String,
    password: String,
}

impl FormFields for ActivateFields {
    const PAGE: &'static str = "/u/{slug}/aktywuj";
}

/// `GET /u/{slug}/aktywuj?token=…`: the link from the activation e-mail asks for the password
/// (opening a link changes nothing: mail scanners open links too).
pub async fn activate_form(
    State(state): State<AppState>,
    ctx: Ctx,
    PageQuery(q): PageQuery<TokenQuery>,
) -> Page {
    Ok(ActivatePage {
        layout: ctx.layout(&state, "").await,
        f: FormState::default().with("token", q.token.unwrap_or_default()),
    }
    .into_response())
}

/// `POST /u/{slug}/aktywuj`: activates with the registration's password and logs in.
pub async fn activate(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    post: PublicForm<ActivateFields>,
) -> Page {
    let PortalForm {
        ctx,
        fields,
        mut form,
        ..
    } = post;
    let result = accounts::activate(
        &state.pool,
        &state.hasher,
        ctx.utility.id,
        &fields.token,
        &fields.password,
        client,
    )
    .await;
    match result {
        Ok(who) => {
            let dashboard = format!("{}/pulpit", ctx.base());
            start_session(&state, &ctx, jar, &headers, &who, &dashboard).await
        }
        Err(AccountError::LinkInvalid) => Ok(ctx.redirect("logowanie?link=niewazny")),
        Err(e) => {
            form.add_failure(e)?;
            Ok((
                form.status(),
                ActivatePage {
                    layout: ctx.layout(&state, "").await,
                    f: form,
                },
            )
                .into_response())
        }
    }
}

/// Starts a web session for `who`, sets its cookie and goes on to `next` (a path of this
/// utility's portal).
async fn start_session(
    state: &AppState,
    ctx: &Ctx,
    jar: CookieJar,
    headers: &HeaderMap,
    who: &LoggedIn,
    next: &str,
) -> Page {
    let client = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let token = web::start(&state.pool, who, client, web::ABSOLUTE_SECS).await?;
    let jar = jar.add(web::cookie(token, &ctx.utility.slug, state.secure_cookies));
    Ok((jar, Redirect::to(next)).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    f: FormState,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    aktywowano: Option<String>,
    link: Option<String>,
    haslo: Option<String>,
    email: Option<String>,
}

/// The login form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginFields {
    email: String,
    password: String,
    /// Where to go after logging in (see [`shell::safe_next`]).
    next: String,
}

impl FormFields for LoginFields {
    const PAGE: &'static str = "/u/{slug}/logowanie";
}

pub async fn login_form(
    State(state): State<AppState>,
    ctx: Ctx,
    PageQuery(q): PageQuery<LoginQuery>,
) -> Page {
    let slug = &ctx.utility.slug;
    if ctx.session.is_some() {
        return Ok(Redirect::to(&shell::safe_next(slug, q.next.as_deref())).into_response());
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
    let f = match q.next {
        Some(next) => FormState::default().with("next", next),
        None => FormState::default(),
    };
    Ok(LoginPage {
        layout: ctx.layout(&state, "logowanie").await,
        f,
        notice,
    }
    .into_response())
}

pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    ClientAddr(peer): ClientAddr,
    post: PublicForm<LoginFields>,
) -> Page {
    let PortalForm {
        ctx,
        fields,
        mut form,
        ..
    } = post;
    let result = accounts::login(
        &state.pool,
        &state.hasher,
        ctx.utility.id,
        &fields.email,
        &fields.password,
        peer,
        accounts::Door::Residents,
    )
    .await;
    match result {
        Ok(who) if who.role == "resident" => {
            let next = shell::safe_next(&ctx.utility.slug, Some(&fields.next));
            start_session(&state, &ctx, jar, &headers, &who, &next).await
        }
        Ok(_) => {
            form.add(
                "form",
                "To konto nie jest kontem mieszkańca. Pracownicy logują się w panelu obsługi.",
            );
            Ok(login_page(&state, &ctx, form).await)
        }
        Err(AccountError::BadCredentials) => {
            form.add("password", "Nieprawidłowy adres e-mail lub hasło.");
            Ok(login_page(&state, &ctx, form).await)
        }
        Err(e) => {
            form.add_failure(e)?;
            Ok(login_page(&state, &ctx, form).await)
        }
    }
}

async fn login_page(state: &AppState, ctx: &Ctx, f: FormState) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        LoginPage {
            layout: ctx.layout(state, "logowanie").await,
            f,
            notice: None,
        },
    )
        .into_response()
}

/// Only the CSRF token of the session it is sent in.
#[derive(Debug, Default, Deserialize)]
pub struct LogoutFields {}

impl FormFields for LogoutFields {
    const PAGE: &'static str = "/u/{slug}/";
}

/// `POST /u/{slug}/wyloguj`: ends the session (if there still is one) and forgets the cookie.
pub async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    post: PortalForm<LogoutFields, MaybeResident>,
) -> Page {
    if post.session.is_some()
        && let Some(cookie) = jar.get(web::COOKIE)
    {
        web::end(&state.pool, cookie.value()).await?;
    }
    let slug = &post.ctx.utility.slug;
    let jar = jar.add(web::removal(slug));
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

/// The form asking for a password reset link.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResetRequestFields {
    email: String,
}

impl FormFields for ResetRequestFields {
    const PAGE: &'static str = "/u/{slug}/haslo";
}

pub async fn reset_form(State(state): State<AppState>, ctx: Ctx) -> Page {
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
    ClientAddr(client): ClientAddr,
    post: PublicForm<ResetRequestFields>,
) -> Page {
    let PortalForm {
        ctx,
        fields,
        mut form,
        ..
    } = post;
    let result = accounts::request_password_reset(
        &state.pool,
        &state.mailer,
        &ctx.utility,
        &fields.email,
        client,
    )
    .await;
    let done = match result {
        Ok(()) => true,
        Err(e) => {
            form.add_failure(e)?;
            false
        }
    };
    Ok(ResetPage {
        layout: ctx.layout(&state, "").await,
        f: form,
        done,
        token: None,
    }
    .into_response())
}

/// The new password form of a reset link.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewPasswordFields {
    token: String,
    password: String,
    password_repeat: String,
}

impl FormFields for NewPasswordFields {
    const PAGE: &'static str = "/u/{slug}/haslo/nowe";
}

pub async fn new_password_form(
    State(state): State<AppState>,
    ctx: Ctx,
    PageQuery(q): PageQuery<TokenQuery>,
) -> Page {
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
    post: PublicForm<NewPasswordFields>,
) -> Page {
    let PortalForm {
        ctx,
        fields,
        mut form,
        ..
    } = post;
    let result = accounts::reset_password(
        &state.pool,
        &state.hasher,
        ctx.utility.id,
        &fields.token,
        &fields.password,
        &fields.password_repeat,
    )
    .await;
    match result {
        Ok(account_id) => {
            state.revoked.catch_up(&state.pool).await?;
            // A staff member (a first password from an invitation) signs in to the back office.
            let staff = sqlx::query_scalar!(
                r#"SELECT role <> 'resident' AS "staff!" FROM user_accounts WHERE id = $1"#,
                account_id
            )
            .fetch_one(&state.pool)
            .await?;
            if staff {
                return Ok(Redirect::to(&format!(
                    "/panel/{}/logowanie?powod=haslo",
                    ctx.utility.slug
                ))
                .into_response());
            }
            Ok(ctx.redirect("logowanie?haslo=1"))
        }
        Err(AccountError::LinkInvalid) => Ok(ctx.redirect("logowanie?link=niewazny")),
        Err(e) => {
            form.add_failure(e)?;
            Ok(ResetPage {
                layout: ctx.layout(&state, "").await,
                f: form,
                done: false,
                token: Some(fields.token),
            }
            .into_response())
        }
    }
}
