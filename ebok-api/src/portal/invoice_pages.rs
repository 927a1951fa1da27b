//! The resident's invoices (seed 004's e-invoices): the balance of each linked customer with
//! the settlement history, the invoices, one invoice with its lines, VAT and the readings its
//! consumption came from, and its documents to download (PDF, FA(3) XML). The notice of a new
//! invoice links here; nothing is sent as an attachment.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use ebok_billing::document::{InvoiceDocument, Line, RateTotal};
use ebok_billing::settlement::{self, SettlementError};
use ebok_billing::statement::{self, Balance, InvoiceSummary, LedgerEntry, Scope};
use ebok_common::domain::Money;
use ebok_common::polish;
use serde::Deserialize;

use super::PageError;
use super::form::{FormFields, PortalForm, ResidentForm};
use super::form_state::FormState;
use super::page_error::Page;
use super::params::{Id, PagePath};
use super::shell::{Ctx, Layout};
use crate::api::invoices::{Format, document_response};
use crate::auth::web::PortalSession;
use crate::state::AppState;

fn scope(session: &PortalSession) -> Scope {
    Scope::Account {
        utility_id: session.utility_id,
        account_id: session.account_id,
    }
}

/// A balance as the portal says it.
pub(crate) struct BalanceLine {
    pub customer: String,
    pub amount: String,
    /// "Do zapłaty", "Nadpłata" or "Rozliczone".
    pub label: &'static str,
    pub owed: bool,
    pub due: Option<String>,
}

impl From<&Balance> for BalanceLine {
    fn from(b: &Balance) -> Self {
        let g = b.balance_grosze;
        BalanceLine {
            customer: format!("{} (nr klienta {})", b.customer_name, b.customer_number),
            amount: polish::money(g.abs()),
            label: if g > Money::ZERO {
                "Do zapłaty"
            } else if g < Money::ZERO {
                "Nadpłata"
            } else {
                "Rozliczone"
            },
            owed: g > Money::ZERO,
            due: b.next_due_date.map(polish::day),
        }
    }
}

/// The balances of the session's customers (for the dashboard too).
pub(crate) async fn balance_lines(
    state: &AppState,
    session: &PortalSession,
) -> Result<Vec<BalanceLine>, PageError> {
    Ok(statement::balances(&state.pool, scope(session))
        .await?
        .iter()
        .map(BalanceLine::from)
        .collect())
}

struct InvoiceLine {
    id: i64,
    number: String,
    what: String,
    issued: String,
    due: String,
    gross: String,
    to_pay: String,
    estimated: bool,
}

impl From<&InvoiceSummary> for InvoiceLine {
    fn from(i: &InvoiceSummary) -> Self {
        InvoiceLine {
            id: i.id,
            number: i.number.clone(),
            what: match (i.period_from, i.period_to) {
                (Some(from), Some(to)) => format!("{} – {}", polish::day(from), polish::day(to)),
                _ => kind_pl(&i.kind).to_string(),
            },
            issued: polish::day(i.issue_date),
            due: polish::day(i.due_date),
            gross: polish::money(i.gross_grosze),
            to_pay: polish::money(i.amount_due_grosze),
            estimated: i.estimated,
        }
    }
}

fn kind_pl(kind: &str) -> &'static str {
    match kind {
        "periodic" => "Faktura okresowa",
        "settlement" => "Rozliczenie na żądanie",
        "manual" => "Faktura za usługę",
        "correction" => "Faktura korygująca",
        _ => "Faktura",
    }
}

struct LedgerLine {
    when: String,
    what: String,
    amount: String,
    after: String,
    invoice_id: Option<i64>,
}

impl From<&LedgerEntry> for LedgerLine {
    fn from(e: &LedgerEntry) -> Self {
        LedgerLine {
            when: polish::day(ebok_common::domain::time::local_day(e.booked_at)),
            what: e.description.clone(),
            amount: polish::money(e.amount_grosze),
            after: polish::money(e.balance_after_grosze),
            invoice_id: e.invoice_id,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "invoices.html")]
struct InvoicesPage {
    layout: Layout,
    balances: Vec<BalanceLine>,
    invoices: Vec<InvoiceLine>,
    ledger: Vec<LedgerLine>,
}

/// `GET /u/{slug}/faktury`.
pub async fn invoices(State(state): State<AppState>, ctx: Ctx) -> Page {
    let session = ctx.resident()?;
    let invoices = statement::invoices(&state.pool, scope(session), 120).await?;
    let ledger = statement::ledger(&state.pool, scope(session), 50).await?;
    Ok(InvoicesPage {
        layout: ctx.layout(&state, "faktury").await,
        balances: balance_lines(&state, session).await?,
        invoices: invoices.iter().map(InvoiceLine::from).collect(),
        ledger: ledger.iter().map(LedgerLine::from).collect(),
    }
    .into_response())
}

struct PrintedLine {
    no: u32,
    name: String,
    unit: String,
    quantity: String,
    price: String,
    net: String,
    rate: String,
}

impl From<&Line> for PrintedLine {
    fn from(l: &Line) -> Self {
        PrintedLine {
            no: l.no,
            name: l.name.clone(),
            unit: l.unit.clone(),
            quantity: quantity(l.quantity_milli),
            price: polish::money(l.unit_price),
            net: polish::money(l.net),
            rate: format!("{}%", l.vat_rate),
        }
    }
}

/// "12,345" (thousandths, as the invoice prints them).
fn quantity(milli: i64) -> String {
    let sign = if milli < 0 { "-" } else { "" };
    let abs = milli.unsigned_abs();
    format!(
        "{sign}{},{:03}",
        polish::integer((abs / 1000) as i64),
        abs % 1000
    )
}

struct PrintedReading {
    serial: String,
    from: String,
    to: String,
    used: String,
}

fn printed_reading(r: &ebok_billing::document::MeterReading) -> PrintedReading {
    PrintedReading {
        serial: r.serial.clone(),
        from: format!(
            "{}: {}{}",
            polish::instant(r.from_at),
            polish::m3(r.from_litres),
            kind_note(&r.from_kind)
        ),
        to: format!(
            "{}: {}{}",
            polish::instant(r.to_at),
            polish::m3(r.to_litres),
            kind_note(&r.to_kind)
        ),
        used: polish::m3(r.litres),
    }
}

fn kind_note(kind: &str) -> &'static str {
    match kind {
        "interpolated" => " (interpolacja o północy)",
        "installation" => " (montaż)",
        "removal" => " (demontaż)",
        "estimate" => " (szacunek)",
        _ => "",
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "invoice.html")]
struct InvoicePage {
    layout: Layout,
    id: i64,
    number: String,
    title: &'static str,
    issued: String,
    period: Option<String>,
    supply_point: Option<String>,
    buyer: String,
    lines: Vec<PrintedLine>,
    rates: Vec<(String, String, String, String)>,
    net: String,
    vat: String,
    gross: String,
    credit_used: Option<String>,
    to_pay: String,
    in_words: String,
    due: String,
    account: String,
    readings: Vec<PrintedReading>,
    notes: Vec<String>,
    xml_sha256: String,
    ksef_number: Option<String>,
}

/// `GET /u/{slug}/faktury/{id}`.
pub async fn invoice(
    State(state): State<AppState>,
    ctx: Ctx,
    PagePath(Id { id }): PagePath<Id>,
) -> Page {
    let session = ctx.resident()?;
    let detail = statement::invoice(&state.pool, scope(session), id)
        .await
        .map_err(PageError::Internal)?
        .ok_or(PageError::NotFound)?;
    let d: &InvoiceDocument = &detail.document;
    let rate_row = |r: &RateTotal| {
        (
            format!("{}%", r.vat_rate),
            polish::money(r.net),
            polish::money(r.vat),
            polish::money(r.net + r.vat),
        )
    };
    Ok(InvoicePage {
        layout: ctx.layout(&state, "faktury").await,
        id,
        number: d.number.clone(),
        title: kind_pl(&detail.summary.kind),
        issued: polish::day(d.issue_date),
        period: d
            .period
            .map(|(from, to)| format!("{} – {}", polish::day(from), polish::day(to))),
        supply_point: d.supply_point.clone(),
        buyer: format!(
            "{}, {}, {}",
            d.buyer.name, d.buyer.address_line1, d.buyer.address_line2
        ),
        lines: d.lines.iter().map(PrintedLine::from).collect(),
        rates: d.rates.iter().map(rate_row).collect(),
        net: polish::money(d.net),
        vat: polish::money(d.vat),
        gross: polish::money(d.gross),
        credit_used: (d.credit_used > Money::ZERO).then(|| polish::money(d.credit_used)),
        to_pay: polish::money(d.amount_due),
        in_words: polish::money_in_words(d.amount_due),
        due: polish::day(d.due_date),
        account: d
            .bank_account
            .as_deref()
            .map(|nrb| {
                ebok_common::domain::identifiers::Nrb::parse(nrb)
                    .map(|n| n.formatted())
                    .unwrap_or_else(|_| nrb.to_string())
            })
            .unwrap_or_else(|| "numer rachunku poda biuro obsługi klienta".into()),
        readings: d.readings.iter().map(printed_reading).collect(),
        notes: d.notes.clone(),
        xml_sha256: detail.xml_sha256,
        ksef_number: detail.ksef_number,
    }
    .into_response())
}

/// `GET /u/{slug}/faktury/{id}/pdf`.
pub async fn pdf(
    State(state): State<AppState>,
    ctx: Ctx,
    PagePath(Id { id }): PagePath<Id>,
) -> Page {
    let session = ctx.require(&format!("{}/faktury/{id}", ctx.base()))?;
    Ok(document_response(&state, scope(session), id, Format::Pdf)
        .await?
        .into_response())
}

/// `GET /u/{slug}/faktury/{id}/xml`.
pub async fn xml(
    State(state): State<AppState>,
    ctx: Ctx,
    PagePath(Id { id }): PagePath<Id>,
) -> Page {
    let session = ctx.require(&format!("{}/faktury/{id}", ctx.base()))?;
    Ok(document_response(&state, scope(session), id, Format::Xml)
        .await?
        .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "settlement.html")]
struct SettlementPage {
    layout: Layout,
    csrf: String,
    /// (contract id, "U/2024/0012 — Lipowa 5, 14-420 Młynary", first unbilled day as text).
    contracts: Vec<(i64, String, String)>,
    form: FormState,
    /// The settlement as it would be issued, once asked for.
    preview: Option<SettlementShown>,
}

struct SettlementShown {
    contract_id: i64,
    through: String,
    period: String,
    lines: Vec<PrintedLine>,
    readings: Vec<PrintedReading>,
    gross: String,
    to_pay: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SettlementFields {
    umowa: String,
    dzien: String,
}

impl FormFields for SettlementFields {
    const PAGE: &'static str = "/u/{slug}/faktury/rozliczenie";
}

/// `GET /u/{slug}/faktury/rozliczenie`: choose a contract and a day.
pub async fn settlement_form(State(state): State<AppState>, ctx: Ctx) -> Page {
    let session = ctx.resident()?;
    let yesterday = ebok_common::domain::time::local_day(chrono::Utc::now()) - chrono::Days::new(1);
    settlement_page(
        &state,
        &ctx,
        session,
        FormState::default().with("dzien", yesterday.to_string()),
        None,
    )
    .await
}

async fn settlement_page(
    state: &AppState,
    ctx: &Ctx,
    session: &PortalSession,
    form: FormState,
    preview: Option<SettlementShown>,
) -> Page {
    let settleable =
        settlement::settleable(&state.pool, session.utility_id, session.account_id).await?;
    Ok((
        form.status(),
        SettlementPage {
            layout: ctx.layout(state, "faktury").await,
            csrf: session.csrf.clone(),
            contracts: settleable
                .iter()
                .map(|s| {
                    (
                        s.contract_id,
                        format!("umowa {} — {}", s.contract_number, s.supply_point),
                        polish::day(s.from),
                    )
                })
                .collect(),
            form,
            preview,
        },
    )
        .into_response())
}

/// The contract and day of a settlement form, checked: the contract is the resident's.
async fn settlement_input(
    state: &AppState,
    session: &PortalSession,
    fields: &SettlementFields,
    form: &mut FormState,
) -> Result<Option<(i64, chrono::NaiveDate)>, PageError> {
    let contract = fields.umowa.trim().parse::<i64>().ok();
    let day = chrono::NaiveDate::parse_from_str(fields.dzien.trim(), "%Y-%m-%d").ok();
    let Some(contract) = contract else {
        form.add("umowa", "Wybierz umowę.");
        return Ok(None);
    };
    let Some(day) = day else {
        form.add("dzien", "Podaj dzień, do którego rozliczyć zużycie.");
        return Ok(None);
    };
    match crate::api::invoices::own_contract(
        state,
        session.utility_id,
        session.account_id,
        contract,
    )
    .await
    {
        Ok(_) => Ok(Some((contract, day))),
        Err(crate::error::ApiError::NotFound) => {
            form.add("umowa", "Wybierz umowę z listy.");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn settlement_failure(form: &mut FormState, error: SettlementError) -> Result<(), PageError> {
    match error {
        // The form's day field is `dzien`.
        SettlementError::Invalid { message, .. } => {
            form.add("dzien", message);
            Ok(())
        }
        other => form.add_failure(crate::error::ApiError::from(other)),
    }
}

/// `POST /u/{slug}/faktury/rozliczenie/podglad`: the settlement as it would be issued.
pub async fn settlement_preview(
    State(state): State<AppState>,
    post: ResidentForm<SettlementFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    let Some((contract, day)) = settlement_input(&state, &session, &fields, &mut form).await?
    else {
        return settlement_page(&state, &ctx, &session, form, None).await;
    };
    match settlement::preview(&state.pool, session.utility_id, contract, day).await {
        Ok(p) => {
            let d = &p.document;
            let shown = SettlementShown {
                contract_id: contract,
                through: day.to_string(),
                period: format!("{} – {}", polish::day(p.from), polish::day(p.through)),
                lines: d.lines.iter().map(PrintedLine::from).collect(),
                readings: d.readings.iter().map(printed_reading).collect(),
                gross: polish::money(d.gross),
                to_pay: polish::money(d.amount_due),
            };
            settlement_page(&state, &ctx, &session, form, Some(shown)).await
        }
        Err(e) => {
            settlement_failure(&mut form, e)?;
            settlement_page(&state, &ctx, &session, form, None).await
        }
    }
}

/// `POST /u/{slug}/faktury/rozliczenie`: issues the settlement, then shows its invoice.
pub async fn settlement_issue(
    State(state): State<AppState>,
    post: ResidentForm<SettlementFields>,
) -> Page {
    let PortalForm {
        ctx,
        session,
        fields,
        mut form,
        ..
    } = post;
    let Some((contract, day)) = settlement_input(&state, &session, &fields, &mut form).await?
    else {
        return settlement_page(&state, &ctx, &session, form, None).await;
    };
    match settlement::issue(&state.pool, session.utility_id, contract, day).await {
        Ok(id) => Ok(ctx.redirect(&format!("faktury/{id}"))),
        Err(e) => {
            settlement_failure(&mut form, e)?;
            settlement_page(&state, &ctx, &session, form, None).await
        }
    }
}
