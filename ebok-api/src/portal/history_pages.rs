//! `/u/{slug}/historia`: the resident's whole history with the utility in one place (seed 001's
//! "widok 360"): every step of their cases with the letters they produced, the invoices, the
//! payments and refunds booked, and the notices sent to them, newest first, filtered by kind.
//! Each item links to where it lives (the case, the invoice, the notice); nothing here is
//! stored twice: it is read from each module's own records.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use ebok_billing::statement::{self, Scope};
use ebok_common::domain::time::day_start;
use ebok_common::polish;
use serde::Deserialize;

use super::page_error::Page;
use super::params::PageQuery;
use super::shell::{Ctx, Layout};
use crate::state::AppState;

/// How many of each kind are read: the page shows the newest of their union.
const EACH: i64 = 100;

/// What the history is filtered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cases,
    Documents,
    Money,
    Notices,
}

struct Item {
    at: DateTime<Utc>,
    kind: Kind,
    /// What it is: "Sprawa", "Faktura", "Płatność", "Powiadomienie".
    label: &'static str,
    title: String,
    detail: Option<String>,
    link: Option<String>,
    /// A letter of a case or an invoice: a document.
    document: bool,
}

struct ItemView {
    when: String,
    label: &'static str,
    title: String,
    detail: Option<String>,
    link: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "history.html")]
struct HistoryPage {
    layout: Layout,
    shown: &'static str,
    items: Vec<ItemView>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HistoryQuery {
    /// `sprawy`, `dokumenty`, `rozliczenia`, `powiadomienia`; all when absent.
    rodzaj: Option<String>,
}

/// `GET /u/{slug}/historia[?rodzaj=…]`
pub async fn history(
    State(state): State<AppState>,
    ctx: Ctx,
    PageQuery(q): PageQuery<HistoryQuery>,
) -> Page {
    let session = ctx.resident()?;
    let (shown, only) = match q.rodzaj.as_deref() {
        Some("sprawy") => ("sprawy", Some(Kind::Cases)),
        Some("dokumenty") => ("dokumenty", Some(Kind::Documents)),
        Some("rozliczenia") => ("rozliczenia", Some(Kind::Money)),
        Some("powiadomienia") => ("powiadomienia", Some(Kind::Notices)),
        _ => ("wszystko", None),
    };
    let slug = &ctx.utility.slug;
    let mut items = Vec::new();
    let mut conn = state.pool.acquire().await?;
    for s in
        ebok_cases::views::steps_of_account(&mut conn, session.utility_id, session.account_id, EACH)
            .await?
    {
        let letter = s.letter();
        items.push(Item {
            at: s.at,
            kind: Kind::Cases,
            label: "Sprawa",
            title: format!("{} {}: {}", s.type_name, s.number, s.to_state.polish()),
            detail: s.note.clone(),
            link: Some(format!("/u/{slug}/sprawy/{}", s.case_id)),
            document: false,
        });
        if let Some((doc, name, what)) = letter {
            items.push(Item {
                at: s.at,
                kind: Kind::Documents,
                label: "Dokument",
                title: format!("{what} w sprawie {}", s.number),
                detail: Some(name),
                link: Some(format!("/u/{slug}/sprawy/{}/dokumenty/{doc}", s.case_id)),
                document: true,
            });
        }
    }
    let scope = Scope::Account {
        utility_id: session.utility_id,
        account_id: session.account_id,
    };
    for i in statement::invoices(&mut *conn, scope, EACH).await? {
        items.push(Item {
            at: day_start(i.issue_date),
            kind: Kind::Documents,
            label: "Faktura",
            title: format!(
                "Faktura {} na {}",
                i.number,
                polish::money(i.amount_due_grosze)
            ),
            detail: Some(format!("Termin płatności: {}", polish::day(i.due_date))),
            link: Some(format!("/u/{slug}/faktury/{}", i.id)),
            document: true,
        });
    }
    for e in statement::ledger(&mut *conn, scope, EACH).await? {
        let label = match e.kind.as_str() {
            "payment" => "Płatność",
            "refund" => "Zwrot",
            _ => continue,
        };
        items.push(Item {
            at: e.booked_at,
            kind: Kind::Money,
            label,
            title: format!("{label}: {}", polish::money(e.amount_grosze.abs())),
            detail: Some(e.description),
            link: Some(format!("/u/{slug}/faktury")),
            document: false,
        });
    }
    for n in mobile_push::inbox::list(
        &mut *conn,
        session.utility_id,
        session.account_id,
        None,
        EACH,
    )
    .await?
    {
        items.push(Item {
            at: n.created_at,
            kind: Kind::Notices,
            label: "Powiadomienie",
            title: n.title,
            detail: Some(n.body),
            link: Some(format!("/u/{slug}/powiadomienia/{}", n.id)),
            document: false,
        });
    }
    items.retain(|i| match only {
        None => true,
        Some(Kind::Documents) => i.document,
        Some(k) => i.kind == k,
    });
    items.sort_by_key(|i| std::cmp::Reverse(i.at));
    items.truncate(200);
    Ok(HistoryPage {
        layout: ctx.layout(&state, "sprawy").await,
        shown,
        items: items
            .into_iter()
            .map(|i| ItemView {
                when: polish::instant(i.at),
                label: i.label,
                title: i.title,
                detail: i.detail,
                link: i.link,
            })
            .collect(),
    }
    .into_response())
}
