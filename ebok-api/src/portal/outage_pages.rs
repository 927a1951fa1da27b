//! `/u/{slug}/komunikaty`: the utility's outage and planned-works notices, public (no login):
//! those going on, those planned, and those ended in the last week; each notice on its own
//! page; the same as an Atom feed (`komunikaty.atom`) and an iCalendar feed (`komunikaty.ics`)
//! that feed readers and calendar apps subscribe to.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use ebok_common::polish;
use ebok_outages::feeds::{self, Source};
use ebok_outages::views::{self, Notice};

use super::page_error::Page;
use super::params::{Id, PagePath};
use super::shell::{Ctx, Layout};
use crate::state::AppState;

/// Ended notices stay on the page and in the feeds this long.
const ENDED_SHOWN: Duration = Duration::days(7);

pub(crate) struct NoticeLine {
    pub id: i64,
    pub kind: &'static str,
    pub title: String,
    pub area: String,
    pub when: String,
    pub description: Option<String>,
}

pub(crate) fn line(n: &Notice) -> NoticeLine {
    let mut when = format!("od {}", polish::instant(n.starts_at));
    if let Some(ended) = n.ended_at {
        let word = if n.called_off() {
            "odwołano"
        } else {
            "zakończono"
        };
        when.push_str(&format!(", {word} {}", polish::instant(ended)));
    } else if let Some(end) = n.expected_end {
        when.push_str(&format!(", przewidywany koniec {}", polish::instant(end)));
    }
    NoticeLine {
        id: n.id,
        kind: n.kind.polish(),
        title: n.title.clone(),
        area: n.area_words.clone(),
        when,
        description: n.description.clone(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "outages.html")]
struct OutagesPage {
    layout: Layout,
    current: Vec<NoticeLine>,
    planned: Vec<NoticeLine>,
    ended: Vec<NoticeLine>,
}

/// `GET /u/{slug}/komunikaty`
pub async fn outages(State(state): State<AppState>, ctx: Ctx) -> Page {
    let now = Utc::now();
    let mut conn = state.pool.acquire().await?;
    let notices = views::published(&mut conn, ctx.utility.id, now, ENDED_SHOWN).await?;
    drop(conn);
    let pick = |f: &dyn Fn(&Notice) -> bool| notices.iter().filter(|n| f(n)).map(line).collect();
    Ok(OutagesPage {
        layout: ctx.layout(&state, "komunikaty").await,
        current: pick(&|n| n.current(now)),
        planned: pick(&|n| n.planned(now)),
        ended: pick(&|n| n.ended_at.is_some()),
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "outage.html")]
struct OutagePage {
    layout: Layout,
    n: NoticeLine,
    state: &'static str,
}

/// `GET /u/{slug}/komunikaty/{id}`
pub async fn outage(
    State(state): State<AppState>,
    ctx: Ctx,
    PagePath(Id { id }): PagePath<Id>,
) -> Page {
    let now = Utc::now();
    let mut conn = state.pool.acquire().await?;
    let n = views::one(&mut conn, ctx.utility.id, id).await?;
    drop(conn);
    let status = if n.called_off() {
        "Odwołane"
    } else if n.ended_at.is_some() {
        "Zakończone"
    } else if n.planned(now) {
        "Planowane"
    } else {
        "Trwa"
    };
    Ok(OutagePage {
        layout: ctx.layout(&state, "komunikaty").await,
        n: line(&n),
        state: status,
    }
    .into_response())
}

async fn feed(
    state: &AppState,
    ctx: &Ctx,
    content_type: &str,
    render: fn(&Source<'_>, &[Notice], chrono::DateTime<Utc>) -> String,
) -> Page {
    let now = Utc::now();
    let mut conn = state.pool.acquire().await?;
    let notices = views::published(&mut conn, ctx.utility.id, now, ENDED_SHOWN).await?;
    drop(conn);
    let page_url = format!("{}/u/{}/komunikaty", state.public_url, ctx.utility.slug);
    let host = state.public_host();
    let body = render(
        &Source {
            utility_name: &ctx.utility.name,
            page_url: &page_url,
            host: &host,
        },
        &notices,
        now,
    );
    let response: Response = (
        [
            (header::CONTENT_TYPE, content_type),
            // Readers poll: a few minutes' caching keeps a city's subscribers cheap.
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response();
    Ok(response)
}

/// `GET /u/{slug}/komunikaty.atom`
pub async fn atom(State(state): State<AppState>, ctx: Ctx) -> Page {
    feed(
        &state,
        &ctx,
        "application/atom+xml; charset=utf-8",
        feeds::atom,
    )
    .await
}

/// `GET /u/{slug}/komunikaty.ics`
pub async fn ics(State(state): State<AppState>, ctx: Ctx) -> Page {
    feed(&state, &ctx, "text/calendar; charset=utf-8", feeds::ics).await
}
