//! The back office's start page and customers: the search by what the person at the counter
//! says, and the customer card.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::labels as label;
use super::shell::{StaffCtx, StaffLayout};
use crate::portal::form_state::FormState;
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::{Id, PagePath, PageQuery};
use crate::staff::Permission;
use crate::staff::customers::{self, CustomerCard, FoundCustomer, SearchTerms};
use crate::staff::sessions::StaffSession;
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "staff/home.html")]
struct HomePage {
    layout: StaffLayout,
}

/// `GET /panel/{slug}/`
pub async fn home(ctx: StaffCtx) -> Page {
    ctx.staff(Permission::ViewCustomers)?;
    Ok(HomePage {
        layout: ctx.layout("start"),
    }
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/customers.html")]
struct SearchPage {
    layout: StaffLayout,
    q: String,
    /// `None` before a search; the results after one.
    found: Option<Vec<FoundCustomer>>,
    error: Option<&'static str>,
}

impl SearchPage {
    fn matched(&self, why: &str) -> &'static str {
        match why {
            "number" => "numer klienta",
            "pesel" => "PESEL",
            "nip" => "NIP",
            "name" => "nazwa",
            "address" => "adres punktu poboru",
            "meter" => "licznik",
            _ => "",
        }
    }
}

/// `GET /panel/{slug}/klienci?q=…`
pub async fn search(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PageQuery(query): PageQuery<SearchQuery>,
) -> Page {
    let session = ctx.staff(Permission::ViewCustomers)?;
    let q = query.q.unwrap_or_default();
    let (found, error) = if q.trim().is_empty() {
        (None, None)
    } else {
        match SearchTerms::parse(&q) {
            Some(terms) => (
                Some(customers::search(&state.pool, session.utility_id, &terms).await?),
                None,
            ),
            None => (None, Some("Wpisz co najmniej 2 znaki (najwyżej 200).")),
        }
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        SearchPage {
            layout: ctx.layout("klienci"),
            q,
            found,
            error,
        },
    )
        .into_response())
}

/// What the card offers to apply for in the customer's name, and what was prepared so far.
struct Applications {
    /// The application types: (code, name).
    types: Vec<(String, String)>,
    prepared: Vec<ebok_cases::views::PreparedLine>,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/customer.html")]
struct CardPage {
    layout: StaffLayout,
    card: CustomerCard,
    /// The forms of the card, for a role that edits customers.
    forms: Option<CardForms>,
    /// Acting in the customer's name, for a role that may: the consent form, the reading form
    /// and the acts so far.
    proxy: Option<(
        String,
        FormState,
        FormState,
        Vec<crate::proxy_acts::ProxyAct>,
    )>,
    /// Applications filled in the customer's name, for a role that acts for residents.
    applications: Option<Applications>,
    notice: Option<&'static str>,
    /// Balance, invoices and ledger, for a role that sees invoices.
    billing: Option<crate::staff::billing::CustomerBilling>,
    /// The form of an invoice for services (csrf, values and errors), for billing staff.
    manual: Option<(String, FormState)>,
}

/// The card's forms (a new supply point, a new contract, ending a contract), each with its
/// values and errors, and the tariff groups to choose from.
#[derive(Debug, Clone, Default)]
pub struct CardForms {
    pub csrf: String,
    pub point: FormState,
    pub contract: FormState,
    pub end: FormState,
    /// Acting in the customer's name.
    pub proxy: FormState,
    /// A reading the customer gave.
    pub reading: FormState,
    /// An invoice for services.
    pub manual: FormState,
    /// `(code, name)` of the utility's tariff groups.
    pub tariffs: Vec<(String, String)>,
}

impl CardPage {
    fn day(&self, day: &chrono::NaiveDate) -> String {
        ebok_common::polish::day(*day)
    }

    fn instant(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        ebok_common::polish::instant(*at)
    }

    fn m3(&self, litres: &i64) -> String {
        ebok_common::polish::volume(*litres)
    }

    fn money(&self, amount: &ebok_common::domain::Money) -> String {
        ebok_common::polish::money(*amount)
    }

    fn money_abs(&self, amount: &ebok_common::domain::Money) -> String {
        ebok_common::polish::money(amount.abs())
    }

    fn kind(&self) -> &'static str {
        match self.card.customer.kind.as_str() {
            "person" => "osoba fizyczna",
            "company" => "firma",
            "housing_community" => "wspólnota mieszkaniowa",
            "public_institution" => "instytucja publiczna",
            _ => "",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CardQuery {
    zapisano: Option<String>,
    /// A supply point just created: its code goes into the contract form.
    punkt: Option<String>,
}

/// `GET /panel/{slug}/klienci/{id}`
pub async fn card(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
    PageQuery(q): PageQuery<CardQuery>,
) -> Page {
    let session = ctx.staff(Permission::ViewCustomers)?.clone();
    let notice = match (q.zapisano.as_deref(), &q.punkt) {
        (_, Some(_)) => Some("Punkt poboru dodany. Zawrzyj na niego umowę poniżej."),
        (Some("klient"), _) => Some("Dane klienta zapisane."),
        (Some("umowa"), _) => Some("Umowa zawarta."),
        (Some("koniec"), _) => Some("Umowa zakończona."),
        (Some("odczyt"), _) => Some("Odczyt podany przez klienta zapisany."),
        (Some("faktura"), _) => Some("Faktura za usługę wystawiona."),
        (Some("korekta"), _) => Some("Faktura korygująca wystawiona."),
        (Some("wniosek"), _) => Some(
            "Zapisano w imieniu klienta. Zacznie obowiązywać, gdy klient zaakceptuje to w eBOK.",
        ),
        _ => None,
    };
    let mut forms = CardForms::default();
    if let Some(code) = q.punkt {
        forms.contract = forms.contract.with("supply_point", code);
    }
    let today = ebok_common::domain::time::local_day(chrono::Utc::now());
    forms.contract = forms.contract.with("valid_from", today.to_string());
    forms.end = forms.end.with("last_day", today.to_string());
    let now = chrono::Utc::now().with_timezone(&ebok_common::domain::time::BILLING_TZ);
    forms.reading = forms
        .reading
        .with("reading_day", today.to_string())
        .with("reading_time", now.format("%H:%M").to_string());
    render_card(&state, &ctx, &session, id, forms, notice).await
}

/// The card of customer `id` with its forms as given (shown again with errors after a form).
pub async fn render_card(
    state: &AppState,
    ctx: &StaffCtx,
    session: &StaffSession,
    id: i64,
    mut forms: CardForms,
    notice: Option<&'static str>,
) -> Page {
    let card = customers::card(&state.pool, session.utility_id, id)
        .await?
        .ok_or(PageError::NotFound)?;
    let status = [
        &forms.point,
        &forms.contract,
        &forms.end,
        &forms.proxy,
        &forms.reading,
        &forms.manual,
    ]
    .iter()
    .map(|f| f.status())
    .max()
    .unwrap_or(StatusCode::OK);
    let proxy = if session.may(Permission::ActForResidents) {
        let acts = crate::proxy_acts::list(&state.pool, session.utility_id, None, Some(id)).await?;
        Some((
            session.csrf.clone(),
            forms.proxy.clone(),
            forms.reading.clone(),
            acts,
        ))
    } else {
        None
    };
    let applications = if session.may(Permission::ActForResidents) {
        let mut conn = state.pool.acquire().await?;
        let types = ebok_cases::types::list(&mut conn, session.utility_id, false)
            .await?
            .into_iter()
            .map(|t| (t.code, t.name))
            .collect();
        let prepared = ebok_cases::views::prepared_for(&mut conn, session.utility_id, id).await?;
        Some(Applications { types, prepared })
    } else {
        None
    };
    // The form of an invoice for services, for billing staff.
    let manual = session.may(Permission::ManageBilling).then(|| {
        let today = ebok_common::domain::time::local_day(chrono::Utc::now());
        let mut form = forms.manual.clone();
        if form.value("sale_date").is_empty() {
            form = form
                .with("sale_date", today.to_string())
                .with("unit_0", "usł.")
                .with("vat_0", "23");
        }
        (session.csrf.clone(), form)
    });
    let forms = if session.may(Permission::EditCustomers) {
        forms.csrf = session.csrf.clone();
        forms.tariffs = sqlx::query!(
            "SELECT code, name FROM tariff_groups WHERE utility_id = $1 ORDER BY code",
            session.utility_id
        )
        .fetch_all(&state.pool)
        .await?
        .into_iter()
        .map(|t| (t.code, t.name))
        .collect();
        Some(forms)
    } else {
        None
    };
    let billing = if session.may(Permission::ViewInvoices) {
        Some(crate::staff::billing::customer_billing(&state.pool, session.utility_id, id).await?)
    } else {
        None
    };
    Ok((
        status,
        CardPage {
            layout: ctx.layout("klienci"),
            card,
            forms,
            proxy,
            applications,
            notice,
            billing,
            manual,
        },
    )
        .into_response())
}
