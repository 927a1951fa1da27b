//! Creating and changing customers, supply points and contracts in the back office: the
//! customer form (new and edit) and the card's forms (a new supply point, a new contract, the
//! end of a contract). A wrong field shows the form again with the Polish message at it.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use chrono::NaiveDate;
use serde::Deserialize;

use super::customer_pages::{CardForms, render_card};
use super::shell::{StaffCtx, StaffForm, StaffLayout};
use crate::portal::form::{FormFields, PortalForm};
use crate::portal::form_state::FormState;
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::{Id, PagePath};
use crate::staff::Permission;
use crate::staff::records::{self, ContractDraft, CustomerDraft, PointDraft};
use crate::staff::sessions::StaffSession;
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "staff/customer_form.html")]
struct CustomerFormPage {
    layout: StaffLayout,
    csrf: String,
    /// The customer being changed; `None` for a new one.
    id: Option<i64>,
    f: FormState,
}

impl CustomerFormPage {
    fn kind_is(&self, kind: &str) -> bool {
        self.f.value("kind") == kind
    }
}

fn editor(ctx: &StaffCtx) -> Result<StaffSession, PageError> {
    ctx.staff(Permission::EditCustomers).cloned()
}

/// `GET /panel/{slug}/klienci/nowy`
pub async fn new_customer_form(ctx: StaffCtx) -> Page {
    let session = editor(&ctx)?;
    Ok(CustomerFormPage {
        layout: ctx.layout("klienci"),
        csrf: session.csrf,
        id: None,
        f: FormState::default().with("kind", "person"),
    }
    .into_response())
}

impl FormFields for CustomerDraft {
    const PAGE: &'static str = "/panel/{slug}/klienci/nowy";
}

/// `POST /panel/{slug}/klienci/nowy`
pub async fn create_customer(
    State(state): State<AppState>,
    post: StaffForm<CustomerDraft>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::EditCustomers) {
        return Err(PageError::NotAllowed);
    }
    if let Err(problems) = fields.check() {
        for (field, message) in problems {
            form.add(field, message);
        }
    } else {
        match records::create_customer(&state.pool, session.by(), &fields).await {
            Ok(id) => return Ok(ctx.redirect(&format!("klienci/{id}?zapisano=klient"))),
            Err(e) => form.add_failure(e)?,
        }
    }
    Ok((
        form.status(),
        CustomerFormPage {
            layout: ctx.layout("klienci"),
            csrf: session.csrf,
            id: None,
            f: form,
        },
    )
        .into_response())
}

/// `GET /panel/{slug}/klienci/{id}/edycja`
pub async fn edit_customer_form(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
) -> Page {
    let session = editor(&ctx)?;
    let c = sqlx::query!(
        r#"SELECT kind::text AS "kind!", first_name, last_name, name, pesel, nip, regon, krs,
                  street, building_no, apartment_no, postal_code, city, post_town, email, phone
           FROM customers WHERE id = $1 AND utility_id = $2"#,
        id,
        session.utility_id,
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(PageError::NotFound)?;
    let values = [
        ("kind", Some(c.kind)),
        ("first_name", c.first_name),
        ("last_name", c.last_name),
        ("name", Some(c.name)),
        ("pesel", c.pesel),
        ("nip", c.nip),
        ("regon", c.regon),
        ("krs", c.krs),
        ("street", c.street),
        ("building_no", c.building_no),
        ("apartment_no", c.apartment_no),
        ("postal_code", c.postal_code),
        ("city", Some(c.city)),
        ("post_town", c.post_town),
        ("email", c.email),
        ("phone", c.phone),
    ];
    let f = FormState::from_values(
        values
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.unwrap_or_default())),
    );
    Ok(CustomerFormPage {
        layout: ctx.layout("klienci"),
        csrf: session.csrf,
        id: Some(id),
        f,
    }
    .into_response())
}

/// The same fields, sent to the edit page.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct EditFields(CustomerDraft);

impl FormFields for EditFields {
    const PAGE: &'static str = "/panel/{slug}/klienci/{id}/edycja";
}

/// `POST /panel/{slug}/klienci/{id}/edycja`
pub async fn update_customer(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<EditFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::EditCustomers) {
        return Err(PageError::NotAllowed);
    }
    if let Err(problems) = fields.0.check() {
        for (field, message) in problems {
            form.add(field, message);
        }
    } else {
        match records::update_customer(&state.pool, session.by(), id, &fields.0).await {
            Ok(()) => return Ok(ctx.redirect(&format!("klienci/{id}?zapisano=klient"))),
            Err(e) => form.add_failure(e)?,
        }
    }
    Ok((
        form.status(),
        CustomerFormPage {
            layout: ctx.layout("klienci"),
            csrf: session.csrf,
            id: Some(id),
            f: form,
        },
    )
        .into_response())
}

/// The card's new supply point form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PointFields {
    street: String,
    building_no: String,
    apartment_no: String,
    postal_code: String,
    city: String,
    post_town: String,
    sewage: crate::portal::form_state::Checkbox,
}

impl FormFields for PointFields {
    const PAGE: &'static str = "/panel/{slug}/klienci/{id}";
}

/// `POST /panel/{slug}/klienci/{id}/punkty`: a new supply point, then back to the card with
/// its code in the contract form.
pub async fn create_point(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<PointFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::EditCustomers) {
        return Err(PageError::NotAllowed);
    }
    let draft = PointDraft {
        street: fields.street,
        building_no: fields.building_no,
        apartment_no: fields.apartment_no,
        postal_code: fields.postal_code,
        city: fields.city,
        post_town: fields.post_town,
        sewage: fields.sewage.0,
    };
    match records::create_point(&state.pool, session.by(), &draft).await {
        Ok(point) => {
            let code = sqlx::query_scalar!("SELECT code FROM supply_points WHERE id = $1", point)
                .fetch_one(&state.pool)
                .await?;
            Ok(ctx.redirect(&format!("klienci/{id}?punkt={code}")))
        }
        Err(e) => {
            form.add_failure(e)?;
            let forms = CardForms {
                point: form,
                ..CardForms::default()
            };
            render_card(&state, &ctx, &session, id, forms, None).await
        }
    }
}

/// The card's new contract form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContractFields {
    supply_point: String,
    tariff_group: String,
    valid_from: String,
    valid_until: String,
}

impl FormFields for ContractFields {
    const PAGE: &'static str = "/panel/{slug}/klienci/{id}";
}

fn date(
    form: &mut FormState,
    field: &'static str,
    text: &str,
    required: bool,
) -> Option<NaiveDate> {
    match text.trim() {
        "" if required => {
            form.add(field, "Podaj datę.");
            None
        }
        "" => None,
        text => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| form.add(field, "Podaj datę, np. 2026-12-01."))
            .ok(),
    }
}

/// `POST /panel/{slug}/klienci/{id}/umowy`
pub async fn start_contract(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<ContractFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::EditCustomers) {
        return Err(PageError::NotAllowed);
    }
    let valid_from = date(&mut form, "valid_from", &fields.valid_from, true);
    let valid_until = date(&mut form, "valid_until", &fields.valid_until, false);
    if !form.has_errors() {
        let draft = ContractDraft {
            supply_point: fields.supply_point,
            tariff_group: fields.tariff_group,
            valid_from,
            valid_until,
        };
        match records::start_contract(&state.pool, session.by(), id, &draft).await {
            Ok(_) => return Ok(ctx.redirect(&format!("klienci/{id}?zapisano=umowa"))),
            Err(e) => form.add_failure(e)?,
        }
    }
    let forms = CardForms {
        contract: form,
        ..CardForms::default()
    };
    render_card(&state, &ctx, &session, id, forms, None).await
}

/// The end of a contract, from the card.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EndFields {
    last_day: String,
}

impl FormFields for EndFields {
    const PAGE: &'static str = "/panel/{slug}/klienci";
}

/// `POST /panel/{slug}/umowy/{id}/zakoncz`
pub async fn end_contract(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<EndFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::EditCustomers) {
        return Err(PageError::NotAllowed);
    }
    let customer = sqlx::query_scalar!(
        "SELECT customer_id FROM contracts WHERE id = $1 AND utility_id = $2",
        id,
        session.utility_id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(PageError::NotFound)?;
    if let Some(last_day) = date(&mut form, "last_day", &fields.last_day, true) {
        match records::end_contract(&state.pool, session.by(), id, last_day).await {
            Ok(()) => return Ok(ctx.redirect(&format!("klienci/{customer}?zapisano=koniec"))),
            Err(e) => form.add_failure(e)?,
        }
    }
    let forms = CardForms {
        end: form.with("contract", id.to_string()),
        ..CardForms::default()
    };
    render_card(&state, &ctx, &session, customer, forms, None).await
}

/// Acting in the customer's name: which account, what, and the clerk's note.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProxyFields {
    account: i64,
    /// `grant:<consent>` or `withdraw:<consent>`.
    act: String,
    note: String,
}

impl FormFields for ProxyFields {
    const PAGE: &'static str = "/panel/{slug}/klienci/{id}";
}

/// `POST /panel/{slug}/klienci/{id}/w-imieniu`: a consent given or withdrawn in the customer's
/// name, awaiting the resident's acceptance.
pub async fn act_for_customer(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<ProxyFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::ActForResidents) {
        return Err(PageError::NotAllowed);
    }
    customer_of_utility(&state, &session, id).await?;
    // An unknown act names no consent, which the proposal refuses at its field.
    let (grant, consent) = match fields.act.split_once(':') {
        Some(("withdraw", consent)) => (false, consent),
        Some(("grant", consent)) => (true, consent),
        _ => (true, ""),
    };
    match crate::proxy_acts::propose_consent(
        &state.pool,
        session.utility_id,
        session.account_id,
        id,
        fields.account,
        consent,
        grant,
        &fields.note,
    )
    .await
    {
        Ok(_) => Ok(ctx.redirect(&format!("klienci/{id}?zapisano=wniosek"))),
        Err(e) => {
            form.add_failure(e)?;
            let forms = CardForms {
                proxy: form,
                ..CardForms::default()
            };
            render_card(&state, &ctx, &session, id, forms, None).await
        }
    }
}

/// Not found unless customer `id` is the staff member's utility's.
async fn customer_of_utility(
    state: &AppState,
    session: &StaffSession,
    id: i64,
) -> Result<(), PageError> {
    sqlx::query_scalar!(
        "SELECT id FROM customers WHERE id = $1 AND utility_id = $2",
        id,
        session.utility_id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(PageError::NotFound)?;
    Ok(())
}

/// A reading the customer read from their dial and gave (on the phone, at the counter).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReportedReadingFields {
    meter: i64,
    reading_day: String,
    reading_time: String,
    reading_m3: String,
}

impl FormFields for ReportedReadingFields {
    const PAGE: &'static str = "/panel/{slug}/klienci/{id}";
}

/// `POST /panel/{slug}/klienci/{id}/odczyt`: entered in the customer's name (a reading binds
/// nobody: it is stored at once, and the audit log names the clerk and the customer's account).
pub async fn reported_reading(
    State(state): State<AppState>,
    PagePath(Id { id }): PagePath<Id>,
    post: StaffForm<ReportedReadingFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    if !session.may(Permission::ActForResidents) {
        return Err(PageError::NotAllowed);
    }
    customer_of_utility(&state, &session, id).await?;
    if let Some((at, litres)) = super::meter_pages::typed_register(
        &mut form,
        ("reading_day", &fields.reading_day, &fields.reading_time),
        ("reading_m3", &fields.reading_m3),
    ) {
        let account = sqlx::query_scalar!(
            r#"SELECT account_id FROM account_customers
               WHERE utility_id = $1 AND customer_id = $2 ORDER BY linked_at LIMIT 1"#,
            session.utility_id,
            id,
        )
        .fetch_optional(&state.pool)
        .await?;
        let reported = crate::staff::meters::ReportedBy {
            customer_id: id,
            account_id: account,
        };
        match crate::staff::meters::enter_reading(
            &state.pool,
            session.by(),
            fields.meter,
            at,
            litres,
            Some(reported),
        )
        .await
        {
            Ok(()) => return Ok(ctx.redirect(&format!("klienci/{id}?zapisano=odczyt"))),
            Err(e) => form.add_failure(super::meter_pages::renamed(e, "reading_"))?,
        }
    }
    let forms = CardForms {
        reading: form,
        ..CardForms::default()
    };
    render_card(&state, &ctx, &session, id, forms, None).await
}
