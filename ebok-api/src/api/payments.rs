//! Paying online, for the mobile app (and, through [`start_for_resident`], the portal): start a
//! payment of what is owed or of one invoice with the utility's provider and get the address
//! of its payment page; the account's payments afterwards. The money is booked when the
//! provider confirms it (`crate::hooks`), never on the resident's word.

use axum::extract::State;
use axum::http::StatusCode;
use ebok_billing::statement::{self, Scope};
use ebok_common::domain::Money;
use ebok_payments::dunning::reminders;
use ebok_payments::history::{self, Payment};
use ebok_payments::online::{self, Method, Start, StartError, Started};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Resident;
use crate::error::{ApiError, Problem};
use crate::extract::{Json, Path};
use crate::state::AppState;

fn scope(who: &Resident) -> Scope {
    Scope::Account {
        utility_id: who.utility_id,
        account_id: who.account_id,
    }
}

/// What to pay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    /// The customer who pays; needed only when the account is linked to several.
    pub customer_id: Option<i64>,
    /// The invoice to pay first (its open amount, unless `amount_grosze` says otherwise).
    pub invoice_id: Option<i64>,
    /// Grosze; by default what is owed (of the invoice, or the customer's balance).
    pub amount_grosze: Option<i64>,
    /// `blik` (BLIK alone) or `any` (every method the provider offers; the default).
    pub method: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StartedPayment {
    pub payment_id: i64,
    /// The provider's payment page: open it in a browser.
    pub redirect_url: String,
}

/// What a resident asked to pay, parsed.
pub(crate) struct PayRequest {
    pub customer_id: Option<i64>,
    pub invoice_id: Option<i64>,
    pub amount: Option<Money>,
    pub method: Method,
}

/// Starts a payment for resident `account_id` of utility (`utility_id`, `slug`): the
/// customer is one of the account's, the amount by default what is owed.
pub(crate) async fn start_for_resident(
    state: &AppState,
    utility_id: i64,
    slug: &str,
    account_id: i64,
    r: PayRequest,
) -> Result<Started, ApiError> {
    let Some(provider) = state.payments.of(slug) else {
        return Err(ApiError::Conflict {
            field: None,
            detail:
                "Płatności online nie są dostępne: zapłać przelewem na rachunek podany na fakturze."
                    .into(),
        });
    };
    let customers = sqlx::query!(
        r#"SELECT c.id, c.customer_number FROM account_customers ac
           JOIN customers c ON c.id = ac.customer_id
           WHERE ac.account_id = $1 AND ac.utility_id = $2
           ORDER BY c.customer_number"#,
        account_id,
        utility_id
    )
    .fetch_all(&state.pool)
    .await?;
    let customer = match (r.customer_id, customers.as_slice()) {
        (_, []) => {
            return Err(ApiError::invalid(
                "customer_id",
                "Konto nie jest powiązane z numerem klienta: nie ma czego opłacić.",
            ));
        }
        (None, [only]) => only,
        (None, _) => {
            return Err(ApiError::invalid(
                "customer_id",
                "Wybierz, za którego klienta płacisz.",
            ));
        }
        (Some(id), all) => all.iter().find(|c| c.id == id).ok_or_else(|| {
            ApiError::invalid("customer_id", "Wybierz klienta powiązanego z Twoim kontem.")
        })?,
    };
    let customer_scope = Scope::Customer {
        utility_id,
        customer_id: customer.id,
    };
    let mut description = format!("Woda i ścieki – klient {}", customer.customer_number);
    let owed = match r.invoice_id {
        Some(invoice) => {
            let found = statement::invoice(&state.pool, customer_scope, invoice)
                .await
                .map_err(ApiError::Internal)?
                .ok_or_else(|| {
                    ApiError::invalid("invoice_id", "Nie ma takiej faktury wśród Twoich faktur.")
                })?;
            description.push_str(&format!(" – faktura {}", found.summary.number));
            found.summary.open_grosze
        }
        None => statement::balances(&state.pool, customer_scope)
            .await?
            .first()
            .map(|b| b.balance_grosze)
            .unwrap_or(Money::ZERO),
    };
    let amount = match r.amount {
        Some(a) => a,
        None if owed > Money::ZERO => owed,
        None => {
            return Err(ApiError::invalid(
                "amount_grosze",
                "Nie masz nic do zapłaty. Jeśli chcesz wpłacić z góry, podaj kwotę.",
            ));
        }
    };
    let email = sqlx::query_scalar!("SELECT email FROM user_accounts WHERE id = $1", account_id)
        .fetch_one(&state.pool)
        .await?;
    let return_to = format!("{}/u/{slug}/platnosci", state.public_url);
    let notify_url = format!("{}/hooks/{}/{slug}", state.callback_url, provider.name());
    online::start(
        &state.pool,
        provider,
        &Start {
            utility_id,
            customer_id: customer.id,
            account_id: Some(account_id),
            amount,
            invoice_id: r.invoice_id,
            method: r.method,
            email: &email,
            description: &description,
            return_to: &return_to,
            notify_url: &notify_url,
        },
    )
    .await
    .map_err(|e| match e {
        StartError::Invalid { field, message } => ApiError::invalid(
            if field == "amount" {
                "amount_grosze"
            } else {
                field
            },
            message,
        ),
        StartError::Provider(error) => {
            tracing::warn!(%error, "the payment provider did not register a payment");
            ApiError::Unavailable {
                detail: "Operator płatności nie odpowiada. Spróbuj ponownie za kilka minut.".into(),
            }
        }
        StartError::Db(e) => e.into(),
    })
}

/// Starts paying what the account's customer owes (or one invoice) online; open
/// `redirect_url` in a browser. The payment is booked once the provider confirms the money.
#[utoipa::path(post, path = "/payments", tag = "invoices", security(("bearer" = [])),
    request_body = NewPayment,
    responses((status = 201, body = StartedPayment), (status = 409, body = Problem),
              (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn start(
    State(state): State<AppState>,
    who: Resident,
    Json(body): Json<NewPayment>,
) -> Result<(StatusCode, Json<StartedPayment>), ApiError> {
    let method = match body.method.as_deref() {
        None | Some("any") => Method::Any,
        Some("blik") => Method::Blik,
        Some(_) => return Err(ApiError::invalid("method", "Wybierz blik albo any.")),
    };
    let slug = sqlx::query_scalar!("SELECT slug FROM utilities WHERE id = $1", who.utility_id)
        .fetch_one(&state.pool)
        .await?;
    let started = start_for_resident(
        &state,
        who.utility_id,
        &slug,
        who.account_id,
        PayRequest {
            customer_id: body.customer_id,
            invoice_id: body.invoice_id,
            amount: body.amount_grosze.map(Money::from_grosze),
            method,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(StartedPayment {
            payment_id: started.payment_id,
            redirect_url: started.redirect_to,
        }),
    ))
}

/// The account's payments, newest first (at most 100).
#[utoipa::path(get, path = "/payments", tag = "invoices", security(("bearer" = [])),
    responses((status = 200, body = Vec<Payment>), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    who: Resident,
) -> Result<Json<Vec<Payment>>, ApiError> {
    Ok(Json(
        history::payments(&state.pool, scope(&who), None, 100).await?,
    ))
}

/// One payment of the account's: `booked` once the provider confirmed it.
#[utoipa::path(get, path = "/payments/{id}", tag = "invoices", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Payment), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    who: Resident,
    Path(id): Path<i64>,
) -> Result<Json<Payment>, ApiError> {
    history::payments(&state.pool, scope(&who), Some(id), 1)
        .await?
        .pop()
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// When the account is reminded of a payment before its due date.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentReminderPreference {
    /// Days before the due date (1–14); `null`: no reminder before it. Reminders after the due
    /// date are sent regardless, by the channels chosen for `invoices_payments`.
    #[schema(minimum = 1, maximum = 14)]
    pub days_before: Option<i16>,
}

/// When the account wants to be reminded before an invoice's due date (3 days unless chosen).
#[utoipa::path(get, path = "/payment-reminders", tag = "invoices", security(("bearer" = [])),
    responses((status = 200, body = PaymentReminderPreference), (status = 401, body = Problem)))]
pub async fn reminder_preference(
    State(state): State<AppState>,
    who: Resident,
) -> Result<Json<PaymentReminderPreference>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    let days_before = reminders::days_before(&mut conn, who.utility_id, who.account_id).await?;
    Ok(Json(PaymentReminderPreference { days_before }))
}

/// Chooses when to be reminded before an invoice's due date.
#[utoipa::path(put, path = "/payment-reminders", tag = "invoices", security(("bearer" = [])),
    request_body = PaymentReminderPreference,
    responses((status = 200, body = PaymentReminderPreference), (status = 422, body = Problem)))]
pub async fn set_reminder_preference(
    State(state): State<AppState>,
    who: Resident,
    Json(body): Json<PaymentReminderPreference>,
) -> Result<Json<PaymentReminderPreference>, ApiError> {
    let mut tx = state.pool.begin().await?;
    reminders::set_days_before(&mut tx, who.utility_id, who.account_id, body.days_before)
        .await
        .map_err(|e| match e {
            reminders::SetError::OutOfRange => ApiError::invalid(
                "days_before",
                "Podaj liczbę dni od 1 do 14 albo null, by nie przypominać.",
            ),
            reminders::SetError::Db(e) => e.into(),
        })?;
    tx.commit().await?;
    Ok(Json(body))
}
