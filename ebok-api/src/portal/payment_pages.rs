//! Paying online from the portal (seed 004: "the amount due … with the possibility of paying
//! on-line"): what is owed and which invoices are open, a form that sends the resident to the
//! utility's provider (BLIK or another method) for the whole balance, one invoice or an amount
//! of their own, the page they come back to (booked, or waiting for the provider), and their
//! payments. The notice "Płatność zaksięgowana" links here.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use ebok_billing::statement::{self, Scope};
use ebok_billing::transfer;
use ebok_common::domain::Money;
use ebok_common::polish;
use ebok_payments::history::{self, Payment};
use ebok_payments::online::Method;
use serde::Deserialize;

use super::PageError;
use super::form::{FormFields, PortalForm, ResidentForm};
use super::form_state::FormState;
use super::invoice_pages::{BalanceLine, balance_lines};
use super::page_error::Page;
use super::params::{Id, PagePath};
use super::shell::{Ctx, Layout};
use crate::api::payments::{PayRequest, start_for_resident};
use crate::auth::web::PortalSession;
use crate::error::ApiError;
use crate::state::AppState;

fn scope(session: &PortalSession) -> Scope {
    Scope::Account {
        utility_id: session.utility_id,
        account_id: session.account_id,
    }
}

/// "123,45": an amount as typed into the form.
fn typed(amount: Money) -> String {
    let g = amount.grosze();
    format!("{},{:02}", g / 100, g % 100)
}

struct OpenInvoice {
    id: i64,
    number: String,
    due: String,
    open: String,
    overdue: bool,
}

/// How one customer pays by transfer.
struct TransferLine {
    customer: String,
    account: String,
    /// The account is the customer's own: any title will do.
    virtual_account: bool,
    recipient: String,
    title: String,
    amount: Option<String>,
    /// The payment QR code (ZBP) of what is owed, as inline SVG.
    qr: Option<String>,
}

struct PaymentLine {
    id: i64,
    when: String,
    amount: String,
    status: &'static str,
    done: bool,
}

fn status_pl(status: &str) -> &'static str {
    match status {
        "booked" => "Zaksięgowana",
        "started" => "Oczekuje na potwierdzenie",
        "mismatch" => "Do wyjaśnienia przez biuro obsługi",
        _ => "Nieudana",
    }
}

impl From<&Payment> for PaymentLine {
    fn from(p: &Payment) -> Self {
        PaymentLine {
            id: p.id,
            when: polish::instant(p.created_at),
            amount: polish::money(p.amount_grosze),
            status: status_pl(&p.status),
            done: p.status == "booked",
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "payments.html")]
struct PaymentsPage {
    layout: Layout,
    csrf: String,
    /// The provider's name, when the utility takes payments online.
    provider: Option<&'static str>,
    balances: Vec<BalanceLine>,
    /// (customer id, "Jan Kowalski (nr klienta 000123)") when the account has several.
    customers: Vec<(i64, String)>,
    open: Vec<OpenInvoice>,
    transfers: Vec<TransferLine>,
    /// The invoice chosen with `?faktura=`.
    chosen: Option<(i64, String)>,
    payments: Vec<PaymentLine>,
    form: FormState,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PaymentFields {
    klient: String,
    faktura: String,
    kwota: String,
    metoda: String,
}

impl FormFields for PaymentFields {
    const PAGE: &'static str = "/u/{slug}/platnosci";
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Chosen {
    faktura: Option<String>,
}

/// `GET /u/{slug}/platnosci[?faktura=ID]`.
pub async fn payments(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(chosen): Query<Chosen>,
) -> Page {
    let session = ctx.resident()?;
    let invoice = chosen.faktura.and_then(|f| f.trim().parse::<i64>().ok());
    let mut form = FormState::default().with("metoda", "blik");
    if let Some(id) = invoice {
        form = form.with("faktura", id.to_string());
    }
    payments_page(&state, &ctx, session, form, true).await
}

async fn payments_page(
    state: &AppState,
    ctx: &Ctx,
    session: &PortalSession,
    mut form: FormState,
    prefill: bool,
) -> Page {
    let provider = state.payments.of(&ctx.utility.slug);
    let balances = statement::balances(&state.pool, scope(session)).await?;
    let invoices = statement::invoices(&state.pool, scope(session), 120).await?;
    let today = ebok_common::domain::time::local_day(chrono::Utc::now());
    let mut open: Vec<&statement::InvoiceSummary> = invoices
        .iter()
        .filter(|i| i.open_grosze > Money::ZERO)
        .collect();
    open.sort_by_key(|i| (i.due_date, i.id));
    let chosen = form
        .value("faktura")
        .parse::<i64>()
        .ok()
        .and_then(|id| open.iter().find(|i| i.id == id))
        .map(|i| {
            (
                i.id,
                format!("{} (do zapłaty {})", i.number, polish::money(i.open_grosze)),
            )
        });
    if prefill && form.value("kwota").is_empty() {
        let owed = match chosen {
            Some((id, _)) => open.iter().find(|i| i.id == id).map(|i| i.open_grosze),
            None => balances
                .first()
                .map(|b| b.balance_grosze)
                .filter(|b| *b > Money::ZERO),
        };
        if let Some(owed) = owed {
            form = form.with("kwota", typed(owed));
        }
    }
    let payments = history::payments(&state.pool, scope(session), None, 20).await?;
    let mut transfers = Vec::new();
    for b in &balances {
        let Some(d) = transfer::details(&state.pool, session.utility_id, b.customer_id).await?
        else {
            continue;
        };
        let title = format!("Klient {}", b.customer_number);
        let owed = (b.balance_grosze > Money::ZERO).then_some(b.balance_grosze);
        let payload = transfer::zbp_qr_payload(
            d.nip.as_deref(),
            &d.account,
            owed.unwrap_or(Money::ZERO),
            &d.recipient,
            &title,
        );
        transfers.push(TransferLine {
            customer: format!("{} (nr klienta {})", b.customer_name, b.customer_number),
            account: d.account.formatted(),
            virtual_account: d.virtual_account,
            recipient: d.recipient.clone(),
            title,
            amount: owed.map(polish::money),
            qr: crate::qr::svg(
                &payload,
                "Kod QR przelewu: zeskanuj go w aplikacji banku, aby wypełnić przelew",
                180,
            ),
        });
    }
    let status = form.status();
    let mut response = PaymentsPage {
        layout: ctx.layout(state, "faktury").await,
        csrf: session.csrf.clone(),
        provider: provider.map(|p| p.display_name()),
        customers: if balances.len() > 1 {
            balances
                .iter()
                .map(|b| {
                    (
                        b.customer_id,
                        format!("{} (nr klienta {})", b.customer_name, b.customer_number),
                    )
                })
                .collect()
        } else {
            Vec::new()
        },
        balances: balances.iter().map(BalanceLine::from).collect(),
        open: open
            .iter()
            .map(|i| OpenInvoice {
                id: i.id,
                number: i.number.clone(),
                due: polish::day(i.due_date),
                open: polish::money(i.open_grosze),
                overdue: i.due_date < today,
            })
            .collect(),
        chosen,
        transfers,
        payments: payments.iter().map(PaymentLine::from).collect(),
        form,
    }
    .into_response();
    *response.status_mut() = status;
    if let Some(p) = provider {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            crate::headers::policy_with_form_target(&p.checkout_origin()),
        );
    }
    Ok(response)
}

/// `POST /u/{slug}/platnosci`: starts the payment and sends the resident to the provider.
pub async fn pay(State(state): State<AppState>, post: ResidentForm<PaymentFields>) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    let customer_id = match fields.klient.trim() {
        "" => None,
        raw => match raw.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                form.add("klient", "Wybierz klienta z listy.");
                None
            }
        },
    };
    let invoice_id = match fields.faktura.trim() {
        "" => None,
        raw => raw.parse::<i64>().ok(),
    };
    let amount = match fields.kwota.trim() {
        "" => None,
        raw => match Money::parse(raw) {
            Ok(a) if a > Money::ZERO => Some(a),
            _ => {
                form.add("kwota", "Podaj kwotę w złotych, np. 123,45.");
                None
            }
        },
    };
    let method = if fields.metoda == "inne" {
        Method::Any
    } else {
        Method::Blik
    };
    if form.has_errors() {
        return payments_page(&state, &ctx, &session, form, false).await;
    }
    let started = start_for_resident(
        &state,
        session.utility_id,
        &ctx.utility.slug,
        session.account_id,
        PayRequest {
            customer_id,
            invoice_id,
            amount,
            method,
        },
    )
    .await;
    match started {
        Ok(s) => Ok(Redirect::to(&s.redirect_to).into_response()),
        Err(ApiError::Invalid { field, detail }) => {
            let field = match field.as_str() {
                "amount_grosze" => "kwota",
                "customer_id" => "klient",
                "invoice_id" => "faktura",
                _ => "form",
            };
            form.add(field, detail);
            payments_page(&state, &ctx, &session, form, false).await
        }
        Err(ApiError::Unavailable { detail } | ApiError::Conflict { detail, .. }) => {
            form.add("form", detail);
            payments_page(&state, &ctx, &session, form, false).await
        }
        Err(e) => Err(PageError::from(e)),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "payment.html")]
struct PaymentPage {
    layout: Layout,
    id: i64,
    amount: String,
    status: String,
    when: String,
    booked: Option<String>,
    invoice: Option<String>,
    balances: Vec<BalanceLine>,
}

/// `GET /u/{slug}/platnosci/{id}`: where the provider sends the resident back.
pub async fn payment(
    State(state): State<AppState>,
    ctx: Ctx,
    PagePath(Id { id }): PagePath<Id>,
) -> Page {
    let session = ctx.resident()?;
    let p = history::payments(&state.pool, scope(session), Some(id), 1)
        .await?
        .pop()
        .ok_or(PageError::NotFound)?;
    Ok(PaymentPage {
        layout: ctx.layout(&state, "faktury").await,
        id: p.id,
        amount: polish::money(p.amount_grosze),
        status: p.status.clone(),
        when: polish::instant(p.created_at),
        booked: p.booked_at.map(polish::instant),
        invoice: p.invoice_number.clone(),
        balances: balance_lines(&state, session).await?,
    }
    .into_response())
}
