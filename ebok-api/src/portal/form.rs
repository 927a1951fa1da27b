//! The one way a state-changing request reaches a portal handler: the [`PortalForm`] extractor.
//! Before the handler runs, it has
//!
//! 1. refused a request from another site (its `Origin` must be the portal's own),
//! 2. loaded the utility of the path and the session of the cookie ([`Ctx`]),
//! 3. applied the form's [`Access`] rule: a [`Resident`] form needs a live session of this
//!    utility (without one, the answer is the login page, coming back to the page that shows
//!    the form: [`FormFields::PAGE`]); a [`Public`] form (registration, login, activation,
//!    password reset) needs none; logging out ([`MaybeResident`]) needs none but takes the
//!    session there is,
//! 4. read the body, URL-encoded or multipart (with files: [`Uploads`]),
//! 5. checked that the form carries the CSRF token (`csrf`) of the session the rule took (a
//!    public form carries none),
//! 6. parsed the fields into the form's typed struct, and kept the values as sent, to show the
//!    form again with what was typed and the errors at their fields ([`FormState`]).
//!
//! Each refusal is the portal's HTML error page ([`PageError`]) or the redirect to the login
//! page, never problem+json.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Multipart, RawForm, RawPathParams, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use super::form_state::FormState;
use super::page_error::PageError;
use super::shell::Ctx;
use crate::auth::web::PortalSession;
use crate::state::AppState;

/// The typed fields of one portal form, named as its controls (`name="…"`). Give every field a
/// default (`#[serde(default)]`): a field left out is then empty, as an empty one is, and what
/// a resident types is parsed by the handler, which can say what is wrong at the field. A value
/// that does not fit its type is a request the portal's pages never send (400).
pub trait FormFields: DeserializeOwned + Send + 'static {
    /// The route of the page that shows the form (`/u/{slug}/liczniki/{id}`); its `{…}` are
    /// filled from the path the form was sent to. A resident whose session has ended comes back
    /// there after logging in.
    const PAGE: &'static str;
}

/// A form sent to a portal page, checked (see the module documentation).
pub struct PortalForm<T, A: Access> {
    /// The page's context: the utility of the path and the session of the cookie.
    pub ctx: A::Ctx,
    /// The session the form was sent in, as the access rule `A` has it.
    pub session: A::Session,
    pub fields: T,
    /// The values as sent, to show the form again; errors are added by the handler.
    pub form: FormState,
    /// The files of a multipart form.
    pub uploads: Uploads,
}

/// A form anyone may send.
pub type PublicForm<T> = PortalForm<T, Public>;
/// A form of a logged-in resident.
pub type ResidentForm<T> = PortalForm<T, Resident>;

/// Who may send a form, and which session's token it must carry. The resident portal's rules
/// read its [`Ctx`]; the back office's read its own (`crate::backoffice`).
pub trait Access {
    /// The context of the pages the form belongs to.
    type Ctx: FromRequestParts<AppState, Rejection = PageError> + Send;
    type Session: Send;
    /// The session the form may be sent in, or the answer to a visitor who may not send it;
    /// `page` is the page showing the form.
    fn admit(ctx: &Self::Ctx, page: &str) -> Result<Self::Session, PageError>;
    /// Whether `submitted` is the CSRF token of the session the form was sent in; a form sent
    /// without a session carries none and passes.
    fn csrf_matches(session: &Self::Session, submitted: Option<&str>) -> bool;
}

/// Registration, login, activation, password reset: anyone, with or without a session.
pub struct Public;

impl Access for Public {
    type Ctx = Ctx;
    type Session = ();

    fn admit(_: &Ctx, _: &str) -> Result<(), PageError> {
        Ok(())
    }

    fn csrf_matches(_: &(), _: Option<&str>) -> bool {
        true
    }
}

/// A resident's form: a live session of this utility, whose token the form carries.
pub struct Resident;

impl Access for Resident {
    type Ctx = Ctx;
    type Session = PortalSession;

    fn admit(ctx: &Ctx, page: &str) -> Result<PortalSession, PageError> {
        ctx.require(page).cloned()
    }

    fn csrf_matches(session: &PortalSession, submitted: Option<&str>) -> bool {
        submitted.is_some_and(|token| session.csrf_matches(token))
    }
}

/// Logging out: without a session there is only a cookie to forget, but a form sent in one
/// must carry its token (another site must not end it).
pub struct MaybeResident;

impl Access for MaybeResident {
    type Ctx = Ctx;
    type Session = Option<PortalSession>;

    fn admit(ctx: &Ctx, _: &str) -> Result<Option<PortalSession>, PageError> {
        Ok(ctx.session.clone())
    }

    fn csrf_matches(session: &Option<PortalSession>, submitted: Option<&str>) -> bool {
        match session {
            Some(session) => submitted.is_some_and(|token| session.csrf_matches(token)),
            None => true,
        }
    }
}

impl<T: FormFields, A: Access> FromRequest<AppState> for PortalForm<T, A> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = request.into_parts();
        if !from_origin(&parts.headers, &state.origin()) {
            return Err(PageError::Forbidden);
        }
        let ctx = A::Ctx::from_request_parts(&mut parts, state).await?;
        let params = RawPathParams::from_request_parts(&mut parts, state)
            .await
            .map_err(|_| PageError::NotFound)?;
        let session = A::admit(&ctx, &fill_route(T::PAGE, params.iter()))?;
        let sent = Sent::read(Request::from_parts(parts, body), state).await?;
        if !A::csrf_matches(&session, sent.value("csrf")) {
            return Err(PageError::Forbidden);
        }
        let fields = typed(&sent.values).map_err(|error| {
            tracing::info!(
                form = std::any::type_name::<T>(),
                %error,
                "refused a portal form whose values do not fit its fields"
            );
            PageError::bad_request(
                "Formularz zawiera nieprawidłowe dane. Odśwież stronę i wyślij go ponownie.",
            )
        })?;
        Ok(PortalForm {
            ctx,
            session,
            fields,
            form: FormState::from_values(sent.values),
            uploads: sent.uploads,
        })
    }
}

/// Whether a state-changing request may come from where it says: browsers send `Origin` with
/// every POST, and when it is there it must be the portal's own.
fn from_origin(headers: &HeaderMap, origin: &str) -> bool {
    match headers.get(header::ORIGIN) {
        None => true,
        Some(sent) => sent.as_bytes() == origin.as_bytes(),
    }
}

/// A route (`/u/{slug}/alarmy`) with its `{name}`s replaced by the path's parameters.
fn fill_route<'a>(route: &str, params: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    params.fold(route.to_string(), |page, (name, value)| {
        page.replace(&format!("{{{name}}}"), value)
    })
}

/// The fields, typed, from the values as sent.
fn typed<T: DeserializeOwned>(
    values: &[(String, String)],
) -> Result<T, serde_urlencoded::de::Error> {
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(values)
        .finish();
    serde_urlencoded::from_str(&encoded)
}

/// A form's body as sent: its values in order, and its files.
struct Sent {
    values: Vec<(String, String)>,
    uploads: Uploads,
}

impl Sent {
    async fn read(request: Request, state: &AppState) -> Result<Sent, PageError> {
        let multipart = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/"));
        if multipart {
            let body = Multipart::from_request(request, state)
                .await
                .map_err(|rejection| unreadable(rejection.status()))?;
            return Ok(Sent::multipart(body).await);
        }
        let RawForm(bytes) = RawForm::from_request(request, state)
            .await
            .map_err(|rejection| unreadable(rejection.status()))?;
        Ok(Sent {
            values: url_encoded(&bytes),
            uploads: Uploads::default(),
        })
    }

    /// Text parts are values, parts with a file name are files (none when no file was chosen).
    /// A body that cannot be read to its end (larger than the route allows) is kept as far as
    /// it was read, and its files are [`Unreceived`].
    async fn multipart(mut body: Multipart) -> Sent {
        let mut sent = Sent {
            values: Vec::new(),
            uploads: Uploads::default(),
        };
        loop {
            let part = match body.next_field().await {
                Ok(Some(part)) => part,
                Ok(None) => break,
                Err(_) => {
                    sent.uploads.cut_off = true;
                    break;
                }
            };
            let name = part.name().unwrap_or_default().to_string();
            let Some(file_name) = part.file_name().map(str::to_string) else {
                match part.text().await {
                    Ok(text) => sent.values.push((name, text)),
                    Err(_) => {
                        sent.uploads.cut_off = true;
                        break;
                    }
                }
                continue;
            };
            let content_type = part.content_type().unwrap_or_default().to_string();
            match part.bytes().await {
                Ok(bytes) if file_name.is_empty() || bytes.is_empty() => {}
                Ok(bytes) => sent.uploads.files.push((
                    name,
                    Upload {
                        file_name,
                        content_type,
                        bytes: bytes.to_vec(),
                    },
                )),
                Err(_) => {
                    sent.uploads.cut_off = true;
                    break;
                }
            }
        }
        sent
    }

    /// The value of `name`; of a name sent twice, the last (as [`FormState`] shows it).
    fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn url_encoded(bytes: &Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

fn unreadable(status: StatusCode) -> PageError {
    let detail = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "Formularz jest za duży."
    } else {
        "Nie udało się odczytać formularza. Odśwież stronę i wyślij go ponownie."
    };
    PageError::Refused {
        status,
        detail: detail.to_string(),
    }
}

/// A file sent with a form.
#[derive(Debug)]
pub struct Upload {
    /// The file's name on the sender's device.
    pub file_name: String,
    /// As the browser named it (check the bytes, not this).
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// The files of a multipart form, by the name of their field.
#[derive(Debug, Default)]
pub struct Uploads {
    files: Vec<(String, Upload)>,
    cut_off: bool,
}

/// The form's body could not be read to its end (larger than the route allows), so its files
/// are not all there.
#[derive(Debug)]
pub struct Unreceived;

impl Uploads {
    /// Every file sent, with the name of its field, in the order sent.
    pub fn take_all(&mut self) -> Result<Vec<(String, Upload)>, Unreceived> {
        if self.cut_off {
            return Err(Unreceived);
        }
        Ok(std::mem::take(&mut self.files))
    }

    /// The file chosen in field `name`; `None` when none was chosen.
    pub fn take(&mut self, name: &str) -> Result<Option<Upload>, Unreceived> {
        if self.cut_off {
            return Err(Unreceived);
        }
        let at = self.files.iter().position(|(n, _)| n == name);
        Ok(at.map(|at| self.files.swap_remove(at).1))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;
    use crate::portal::form_state::Checkbox;

    #[test]
    fn a_form_may_come_only_from_the_portals_own_origin_or_say_nothing_of_it() {
        let origin = "https://ebok.example.pl";
        let with = |value: &[u8]| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ORIGIN, HeaderValue::from_bytes(value).unwrap());
            from_origin(&headers, origin)
        };
        assert!(from_origin(&HeaderMap::new(), origin));
        assert!(with(b"https://ebok.example.pl"));
        assert!(!with(b"https://evil.example"));
        assert!(!with(b"null"));
        assert!(!with(b"https://ebok.example.pl:8443"));
        assert!(!with("https://ebok.example.pl\u{fe}".as_bytes()));
    }

    #[test]
    fn the_page_of_a_form_is_its_route_filled_from_the_path() {
        let params = [("slug", "mlynary"), ("id", "7")];
        assert_eq!(
            fill_route("/u/{slug}/liczniki/{id}", params.into_iter()),
            "/u/mlynary/liczniki/7"
        );
        assert_eq!(
            fill_route("/u/{slug}/alarmy", params.into_iter()),
            "/u/mlynary/alarmy"
        );
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(default)]
    #[derive(Default)]
    struct Example {
        email: String,
        accept: Checkbox,
        meter_id: Option<i64>,
    }

    fn pairs(values: &[(&str, &str)]) -> Vec<(String, String)> {
        values
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fields_are_typed_from_the_values_as_sent_and_missing_ones_are_empty() {
        let fields: Example = typed(&pairs(&[
            ("csrf", "t"),
            ("email", "jan@example.pl & ola"),
            ("accept", "on"),
            ("meter_id", "7"),
        ]))
        .unwrap();
        assert_eq!(fields.email, "jan@example.pl & ola");
        assert_eq!(fields.accept, Checkbox(true));
        assert_eq!(fields.meter_id, Some(7));
        let empty: Example = typed(&[]).unwrap();
        assert_eq!(
            (empty.email.as_str(), empty.accept, empty.meter_id),
            ("", Checkbox(false), None)
        );
        assert!(typed::<Example>(&pairs(&[("meter_id", "siedem")])).is_err());
    }

    #[test]
    fn url_encoded_values_keep_their_order_and_polish_letters() {
        let values = url_encoded(&Bytes::from_static(
            b"csrf=abc&display_name=Anna+%C5%81ucka&accept_terms=on",
        ));
        assert_eq!(
            values,
            pairs(&[
                ("csrf", "abc"),
                ("display_name", "Anna Łucka"),
                ("accept_terms", "on")
            ])
        );
    }

    #[test]
    fn files_of_a_body_that_was_cut_off_are_unreceived() {
        let mut uploads = Uploads::default();
        uploads.files.push((
            "zdjecie".into(),
            Upload {
                file_name: "licznik.png".into(),
                content_type: "image/png".into(),
                bytes: vec![1],
            },
        ));
        assert!(uploads.take("inne").unwrap().is_none());
        assert_eq!(uploads.take("zdjecie").unwrap().unwrap().bytes, [1]);
        uploads.cut_off = true;
        assert!(uploads.take("zdjecie").is_err());
    }
}
