//! The HTTP side of the eBOK: the JSON API for the mobile app and other clients (under
//! `/api/v1`, described at `/api/openapi.json`), the server-rendered resident portal
//! (`/u/<slug>/`) and staff back office (`/panel/<slug>/`), and the health endpoints.
//!
//! The caller owns the listener, the pool and the shutdown signal: [`router`] builds the app from
//! a state, [`serve`] runs it on a listener until the token is cancelled. Tests bind port 0.

pub mod accounts;
pub mod api;
pub mod auth;
pub mod backoffice;
mod balance;
mod bookings;
mod case_form;
pub mod case_status;
pub mod client;
pub mod consent_forms;
mod download;
pub mod error;
pub mod extract;
pub(crate) mod headers;
pub mod health;
pub mod hooks;
pub mod housekeeping;
mod outages;
pub mod password;
pub mod personal_data;
pub mod portal;
pub mod proxy_acts;
mod qr;
mod secret;
pub mod signing;
pub mod staff;
pub mod state;
mod telemetry;
pub mod utilities;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

pub use accounts::issue_link_code;
pub use error::ApiError;
pub use state::AppState;

/// Requests that take longer than this are answered with 408 and abandoned.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The OpenAPI document of `/api/v1`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api::document();
    doc.servers = Some(vec![utoipa::openapi::Server::new("/api/v1")]);
    doc
}

pub fn router(state: AppState) -> Router {
    let (api, _) = api::router().split_for_parts();
    let docs = Router::from(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi()))
        .layer(headers::docs_policy());
    let app = Router::new()
        .merge(portal::router())
        .merge(backoffice::router())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(
            "/hooks/przelewy24/{slug}",
            axum::routing::post(hooks::przelewy24)
                .layer(axum::extract::DefaultBodyLimit::max(16 * 1024)),
        )
        .route(
            "/hooks/stripe/{slug}",
            axum::routing::post(hooks::stripe)
                .layer(axum::extract::DefaultBodyLimit::max(256 * 1024)),
        )
        .route(
            "/csp-report",
            axum::routing::post(headers::report)
                .layer(axum::extract::DefaultBodyLimit::max(64 * 1024)),
        )
        .nest("/api/v1", api)
        .merge(docs)
        .fallback(portal::not_found)
        .layer(axum::middleware::from_fn_with_state(
            telemetry::RequestMetrics::default(),
            telemetry::record,
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        // Spans name the path, never the query: links carry tokens there.
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                tracing::debug_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path()
                )
            }),
        )
        .layer(CatchPanicLayer::new());
    headers::around(app, state.secure_cookies).with_state(state)
}

/// Serves the app on `listener` until `shutdown` is cancelled, then lets requests in flight
/// finish. Connections carry the peer address (login throttling per address).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Responses go out whole, without Nagle's wait for the previous segment's ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
}
