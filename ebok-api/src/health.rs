//! Liveness and readiness for load balancers and orchestrators. `/healthz` says the process
//! answers; `/readyz` says it can serve: the database answers within a deadline and its schema
//! carries exactly this binary's migrations.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

const DATABASE_DEADLINE: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize)]
pub struct Status {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migrations: Option<String>,
}

pub async fn healthz() -> Json<Status> {
    Json(Status {
        status: "ok",
        migrations: None,
    })
}

pub async fn readyz(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    let check = ebok_common::db::migration_state(&state.pool);
    let migrations = match tokio::time::timeout(DATABASE_DEADLINE, check).await {
        Err(_) => {
            return Err(ApiError::Unavailable {
                detail: "Baza danych nie odpowiada (database not answering).".into(),
            });
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database check failed");
            return Err(ApiError::Unavailable {
                detail: "Baza danych jest niedostępna (database unavailable).".into(),
            });
        }
        Ok(Ok(state)) => state,
    };
    if !migrations.is_current() {
        return Err(ApiError::Unavailable {
            detail: format!(
                "Schemat bazy danych nie jest aktualny (migrations {}).",
                migrations.describe()
            ),
        });
    }
    Ok(Json(Status {
        status: "ready",
        migrations: Some(migrations.describe()),
    }))
}
