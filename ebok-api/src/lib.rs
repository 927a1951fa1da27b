//! The HTTP side of the eBOK: the JSON API for the web portal, the mobile app and staff tools
//! (under `/api/v1`), the server-rendered portal, and the health endpoints.
//!
//! The caller owns the listener, the pool and the shutdown signal: [`router`] builds the app from
//! a state, [`serve`] runs it on a listener until the token is cancelled. Tests bind port 0.

pub mod error;
pub mod health;
pub mod password;
pub mod portal;
pub mod state;
mod telemetry;
pub mod utilities;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use state::AppState;

/// Requests that take longer than this are answered with 408 and abandoned.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub fn router(state: AppState) -> Router {
    let api = Router::new().route("/utilities", get(utilities::list_json));
    Router::new()
        .route("/", get(portal::pick_utility))
        .route("/u/{slug}/", get(portal::utility_home))
        .route("/static/portal.css", get(portal::stylesheet))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .nest("/api/v1", api)
        .fallback(|| async { ApiError::NotFound })
        .layer(axum::middleware::from_fn(telemetry::record))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::new())
        .with_state(state)
}

/// Serves the app on `listener` until `shutdown` is cancelled, then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
