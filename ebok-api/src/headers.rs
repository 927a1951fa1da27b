//! Headers every response carries, whatever produced it (a page, JSON, a problem, the fallback
//! 404, the API's documentation):
//!
//! - `Content-Security-Policy`: everything from the portal's own origin only, no inline script
//!   and no inline style (the portal has neither; the chart's SVG uses presentation attributes),
//!   no plugins, no `<base>`, forms only to the portal, and no framing (`frame-ancestors
//!   'none'`, with `X-Frame-Options: DENY` for older browsers). The API's documentation page
//!   (Swagger UI, `/api/docs`) sets styles from its script, so there inline *styles* are
//!   allowed — never inline script. Browsers report what the policy blocked to
//!   `/csp-report` ([`report`]): logged, counted, and checked by the browser tests.
//! - `X-Content-Type-Options: nosniff`.
//! - `Referrer-Policy: same-origin`: links carry tokens in their query (activation, reset), and
//!   no other site may see them; same-origin requests keep their `Origin`, which the portal's
//!   form check needs (`no-referrer` would make browsers send `Origin: null` with every form).
//! - `Cross-Origin-Opener-Policy: same-origin`.
//! - `Strict-Transport-Security` when the portal is served over https.
//! - `Cache-Control: no-store` unless the handler chose otherwise: pages and JSON carry personal
//!   data, and no shared or browser cache should keep them (the stylesheet says `public` itself).

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use tower::util::MapResponseLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                   script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
                   frame-ancestors 'none'; report-uri /csp-report";
const CSP_DOCS: &str = "default-src 'self'; img-src 'self' data:; \
                        style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; \
                        base-uri 'none'; form-action 'self'; frame-ancestors 'none'; \
                        report-uri /csp-report";
const HSTS: &str = "max-age=31536000";

/// The portal's policy with forms allowed to post to `origin` as well: the payment page, whose
/// form is answered with a redirect to the payment provider (browsers apply `form-action` to
/// where a form's answer redirects).
pub fn policy_with_form_target(origin: &str) -> HeaderValue {
    let origin: String = origin
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.' | '-'))
        .collect();
    HeaderValue::from_str(&CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {origin}"),
    ))
    .unwrap_or(HeaderValue::from_static(CSP))
}

/// The API documentation's own policy; set on its routes, kept by [`around`].
pub fn docs_policy() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP_DOCS),
    )
}

/// `app` with the headers on every response, as the outermost layer (so the fallback 404, a
/// timeout's 408 and a panic's 500 carry them too). One synchronous map of the response with
/// static values. Measured under `ebok bench api --only floor` (interleaved, 2 × 2 runs): no
/// headers at all, p50 0.64–0.90 ms; this map, +0.04 ms; seven nested `SetResponseHeaderLayer`s,
/// +0.07–0.18 ms.
pub fn around(app: Router<AppState>, https: bool) -> Router<AppState> {
    app.layer(MapResponseLayer::new(move |mut response: Response| {
        add(response.headers_mut(), https);
        response
    }))
}

fn add(headers: &mut HeaderMap, https: bool) {
    headers.reserve(8);
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
}

/// `POST /csp-report`: a browser's report of something the policy blocked (`report-uri`'s JSON,
/// `{"csp-report": {…}}`). The directive and the page's path are logged (not the query, which
/// may hold a token) and counted; anything unreadable is ignored. Always 204.
pub async fn report(State(state): State<AppState>, body: Bytes) -> StatusCode {
    let report: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let report = &report["csp-report"];
    // Whatever the sender wrote: cut short, and logged quoted (Debug), never as raw text.
    let field = |name: &str| {
        report[name]
            .as_str()
            .unwrap_or("-")
            .chars()
            .take(200)
            .collect::<String>()
    };
    let page = field("document-uri");
    let page = page.split(['?', '#']).next().unwrap_or("-").to_string();
    let blocked = field("blocked-uri");
    let blocked = blocked.split(['?', '#']).next().unwrap_or("-").to_string();
    // Anyone can post here: at most one log line a second, every report counted.
    static LAST_LOGGED: AtomicU64 = AtomicU64::new(0);
    let second = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if LAST_LOGGED.swap(second, Ordering::Relaxed) != second {
        tracing::warn!(
            directive = ?field("violated-directive"),
            ?page,
            ?blocked,
            "content security policy violation reported"
        );
    }
    metrics::counter!("csp_violation_reports_total").increment(1);
    state.csp_reports.fetch_add(1, Ordering::Relaxed);
    StatusCode::NO_CONTENT
}
