//! Signing in to the back office, in two steps: the password, then the code of the
//! authenticator app (or a recovery code); a staff member without an app in effect sets it up
//! in between (QR code, first code, recovery codes shown once). The half-done sign-in is a
//! cookie of its own, five minutes long ([`crate::staff::sign_in`]).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::shell::{self, MaybeStaff, SignInForm, StaffCtx, StaffLayout};
use crate::accounts::{AccountError, LoggedIn};
use crate::auth::web;
use crate::client::ClientAddr;
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::FormState;
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::PageQuery;
use crate::staff::sessions::{self, SIGN_IN_COOKIE};
use crate::staff::sign_in::{self, Enrolment, Pending};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    /// Why the sign-in starts again (`wygaslo`: the half-done one ended).
    powod: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/sign_in.html")]
struct SignInPage {
    layout: StaffLayout,
    f: FormState,
    notice: Option<&'static str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordFields {
    email: String,
    password: String,
    next: String,
}

impl FormFields for PasswordFields {
    const PAGE: &'static str = "/panel/{slug}/logowanie";
}

/// `GET /panel/{slug}/logowanie`
pub async fn sign_in_form(ctx: StaffCtx, PageQuery(q): PageQuery<NextQuery>) -> Page {
    if ctx.session.is_some() {
        return Ok(
            Redirect::to(&shell::safe_next(&ctx.utility.slug, q.next.as_deref())).into_response(),
        );
    }
    let notice = match q.powod.as_deref() {
        Some("wygaslo") => {
            Some("Logowanie wygasło albo było zbyt wiele błędnych kodów. Zaloguj się ponownie.")
        }
        Some("wylogowano") => Some("Wylogowano."),
        Some("haslo") => Some(
            "Hasło ustawione. Zaloguj się; przy pierwszym logowaniu skonfigurujesz aplikację uwierzytelniającą.",
        ),
        _ => None,
    };
    Ok(SignInPage {
        layout: ctx.layout("logowanie"),
        f: FormState::default().with("next", q.next.unwrap_or_default()),
        notice,
    }
    .into_response())
}

/// `POST /panel/{slug}/logowanie`: the password; on to the second factor.
pub async fn sign_in(
    State(state): State<AppState>,
    jar: CookieJar,
    ClientAddr(peer): ClientAddr,
    post: SignInForm<PasswordFields>,
) -> Page {
    let PortalForm {
        ctx,
        fields,
        mut form,
        ..
    } = post;
    match sign_in::start(
        &state.pool,
        &state.hasher,
        ctx.utility.id,
        &fields.email,
        &fields.password,
        peer,
    )
    .await
    {
        Ok(token) => {
            let jar = jar.add(sessions::cookie(
                SIGN_IN_COOKIE,
                token,
                &ctx.utility.slug,
                state.secure_cookies,
            ));
            let next = crate::portal::shell::url_encode(&fields.next);
            Ok((jar, ctx.redirect(&format!("logowanie/kod?next={next}"))).into_response())
        }
        Err(AccountError::BadCredentials) => {
            form.add("password", "Nieprawidłowy adres e-mail lub hasło.");
            Ok(sign_in_again(&ctx, form))
        }
        Err(AccountError::NotActive) => {
            form.add(
                "form",
                "Konto jest nieaktywne. Skontaktuj się z administratorem.",
            );
            Ok(sign_in_again(&ctx, form))
        }
        Err(e) => {
            form.add_failure(e)?;
            Ok(sign_in_again(&ctx, form))
        }
    }
}

fn sign_in_again(ctx: &StaffCtx, form: FormState) -> axum::response::Response {
    (
        form.status(),
        SignInPage {
            layout: ctx.layout("logowanie"),
            f: form,
            notice: None,
        },
    )
        .into_response()
}

/// The half-done sign-in of the cookie, if it is still open.
async fn pending(
    state: &AppState,
    ctx: &StaffCtx,
    jar: &CookieJar,
) -> Result<Option<Pending>, PageError> {
    match jar.get(SIGN_IN_COOKIE) {
        Some(cookie) if !cookie.value().is_empty() => {
            Ok(sign_in::pending(&state.pool, ctx.utility.id, cookie.value()).await?)
        }
        _ => Ok(None),
    }
}

/// Back to the password when the half-done sign-in is gone.
fn restart(ctx: &StaffCtx) -> axum::response::Response {
    ctx.redirect("logowanie?powod=wygaslo")
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/code.html")]
struct CodePage {
    layout: StaffLayout,
    f: FormState,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeFields {
    code: String,
    next: String,
}

impl FormFields for CodeFields {
    const PAGE: &'static str = "/panel/{slug}/logowanie/kod";
}

/// `GET /panel/{slug}/logowanie/kod`
pub async fn code_form(
    State(state): State<AppState>,
    jar: CookieJar,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<NextQuery>,
) -> Page {
    let Some(pending) = pending(&state, &ctx, &jar).await? else {
        return Ok(restart(&ctx));
    };
    let next = crate::portal::shell::url_encode(q.next.as_deref().unwrap_or_default());
    if !pending.enrolled {
        return Ok(ctx.redirect(&format!("logowanie/aplikacja?next={next}")));
    }
    Ok(CodePage {
        layout: ctx.layout("logowanie"),
        f: FormState::default().with("next", q.next.unwrap_or_default()),
    }
    .into_response())
}

/// `POST /panel/{slug}/logowanie/kod`
pub async fn code(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    post: SignInForm<CodeFields>,
) -> Page {
    let PortalForm {
        ctx,
        fields,
        mut form,
        ..
    } = post;
    let Some(pending) = pending(&state, &ctx, &jar).await? else {
        return Ok(restart(&ctx));
    };
    match sign_in::finish_with_code(&state.pool, &pending, &fields.code).await {
        Ok(who) => {
            let next = shell::safe_next(&ctx.utility.slug, Some(&fields.next));
            let jar = start_session(&state, &ctx, jar, &headers, &who).await?;
            Ok((jar, Redirect::to(&next)).into_response())
        }
        Err(AccountError::LinkInvalid) => Ok(restart(&ctx)),
        Err(e) => {
            form.add_failure(e)?;
            Ok((
                form.status(),
                CodePage {
                    layout: ctx.layout("logowanie"),
                    f: form,
                },
            )
                .into_response())
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/enrol.html")]
struct EnrolPage {
    layout: StaffLayout,
    f: FormState,
    enrolment: Enrolment,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/recovery_codes.html")]
struct RecoveryCodesPage {
    layout: StaffLayout,
    codes: Vec<String>,
    next: String,
}

/// `GET /panel/{slug}/logowanie/aplikacja`: a new secret, shown once as a QR code.
pub async fn enrol_form(
    State(state): State<AppState>,
    jar: CookieJar,
    ctx: StaffCtx,
    PageQuery(q): PageQuery<NextQuery>,
) -> Page {
    let Some(pending) = pending(&state, &ctx, &jar).await? else {
        return Ok(restart(&ctx));
    };
    if pending.enrolled {
        return Ok(ctx.redirect("logowanie/kod"));
    }
    let enrolment = sign_in::begin_enrolment(&state.pool, &pending, &ctx.utility.name).await?;
    Ok(EnrolPage {
        layout: ctx.layout("logowanie"),
        f: FormState::default().with("next", q.next.unwrap_or_default()),
        enrolment,
    }
    .into_response())
}

/// `POST /panel/{slug}/logowanie/aplikacja`: the first code; the recovery codes, once.
pub async fn enrol(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    post: SignInForm<CodeFields>,
) -> Page {
    let PortalForm {
        ctx,
        fields,
        mut form,
        ..
    } = post;
    let Some(pending) = pending(&state, &ctx, &jar).await? else {
        return Ok(restart(&ctx));
    };
    match sign_in::finish_enrolment(&state.pool, &pending, &fields.code).await {
        Ok((who, codes)) => {
            let jar = start_session(&state, &ctx, jar, &headers, &who).await?;
            let page = RecoveryCodesPage {
                layout: ctx.layout("logowanie"),
                codes,
                next: shell::safe_next(&ctx.utility.slug, Some(&fields.next)),
            };
            Ok((jar, [(header::CACHE_CONTROL, "no-store")], page).into_response())
        }
        Err(AccountError::LinkInvalid) => Ok(restart(&ctx)),
        Err(e) => {
            form.add_failure(e)?;
            let Some(enrolment) =
                sign_in::enrolment_under_way(&state.pool, &pending, &ctx.utility.name).await?
            else {
                return Ok(restart(&ctx));
            };
            Ok((
                form.status(),
                EnrolPage {
                    layout: ctx.layout("logowanie"),
                    f: form,
                    enrolment,
                },
            )
                .into_response())
        }
    }
}

/// Starts the staff web session: its cookie in, the half-done sign-in's out.
async fn start_session(
    state: &AppState,
    ctx: &StaffCtx,
    jar: CookieJar,
    headers: &HeaderMap,
    who: &LoggedIn,
) -> Result<CookieJar, PageError> {
    let client = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let token = web::start(&state.pool, who, client, sessions::ABSOLUTE_SECS).await?;
    Ok(jar
        .add(sessions::cookie(
            sessions::COOKIE,
            token,
            &ctx.utility.slug,
            state.secure_cookies,
        ))
        .add(sessions::removal(SIGN_IN_COOKIE, &ctx.utility.slug)))
}

#[derive(Debug, Default, Deserialize)]
pub struct NoFields {}

impl FormFields for NoFields {
    const PAGE: &'static str = "/panel/{slug}/";
}

/// `POST /panel/{slug}/wyloguj`
pub async fn sign_out(
    State(state): State<AppState>,
    jar: CookieJar,
    post: PortalForm<NoFields, MaybeStaff>,
) -> Page {
    if let Some(cookie) = jar.get(sessions::COOKIE) {
        web::end(&state.pool, cookie.value()).await?;
    }
    let slug = post.ctx.utility.slug.clone();
    let jar = jar.add(sessions::removal(sessions::COOKIE, &slug));
    Ok((jar, post.ctx.redirect("logowanie?powod=wylogowano")).into_response())
}
