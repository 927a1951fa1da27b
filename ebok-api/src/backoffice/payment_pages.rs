//! Payments in the back office: the online payments that wait for staff (the provider
//! reported another amount than the payment's: never booked, to be explained with the payer
//! and the provider) and the utility's latest payments with their state. Whoever sees invoices
//! sees them.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use ebok_common::polish;
use ebok_payments::history::{self, Payment};

use super::shell::{StaffCtx, StaffLayout};
use crate::portal::page_error::Page;
use crate::staff::Permission;
use crate::state::AppState;

struct Shown {
    id: i64,
    customer_id: i64,
    customer_number: String,
    when: String,
    amount: String,
    provider: &'static str,
    status: &'static str,
    invoice: Option<String>,
    problem: Option<String>,
}

impl From<&Payment> for Shown {
    fn from(p: &Payment) -> Self {
        Shown {
            id: p.id,
            customer_id: p.customer_id,
            customer_number: p.customer_number.clone(),
            when: polish::instant(p.created_at),
            amount: polish::money(p.amount_grosze),
            provider: match p.provider.as_str() {
                "przelewy24" => "Przelewy24",
                "stripe" => "Stripe",
                _ => "przelew bankowy",
            },
            status: match p.status.as_str() {
                "booked" => "zaksięgowana",
                "started" => "rozpoczęta, bez potwierdzenia",
                "mismatch" => "inna kwota u operatora",
                _ => "nieudana",
            },
            invoice: p.invoice_number.clone(),
            problem: p.problem.clone(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "staff/payments.html")]
struct PaymentsPage {
    layout: StaffLayout,
    to_check: Vec<Shown>,
    recent: Vec<Shown>,
}

/// `GET /panel/{slug}/platnosci`
pub async fn payments(State(state): State<AppState>, ctx: StaffCtx) -> Page {
    let session = ctx.staff(Permission::ViewInvoices)?.clone();
    let to_check = history::to_check(&state.pool, session.utility_id).await?;
    let recent = history::recent(&state.pool, session.utility_id, 100).await?;
    Ok(PaymentsPage {
        layout: ctx.layout("platnosci"),
        to_check: to_check.iter().map(Shown::from).collect(),
        recent: recent.iter().map(Shown::from).collect(),
    }
    .into_response())
}
