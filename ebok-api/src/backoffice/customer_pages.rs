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
use crate::portal::page_error::{Page, PageError};
use crate::portal::params::{Id, PagePath, PageQuery};
use crate::staff::Permission;
use crate::staff::customers::{self, CustomerCard, FoundCustomer, SearchTerms};
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

#[derive(Template, WebTemplate)]
#[template(path = "staff/customer.html")]
struct CardPage {
    layout: StaffLayout,
    card: CustomerCard,
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

/// `GET /panel/{slug}/klienci/{id}`
pub async fn card(
    State(state): State<AppState>,
    ctx: StaffCtx,
    PagePath(Id { id }): PagePath<Id>,
) -> Page {
    let session = ctx.staff(Permission::ViewCustomers)?;
    let card = customers::card(&state.pool, session.utility_id, id)
        .await?
        .ok_or(PageError::NotFound)?;
    Ok(CardPage {
        layout: ctx.layout("klienci"),
        card,
    }
    .into_response())
}
