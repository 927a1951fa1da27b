//! The server-rendered web portal (Polish, works without JavaScript). Pages are askama templates
//! in `ebok-api/templates/`; the stylesheet is compiled into the binary.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;

use crate::error::ApiError;
use crate::state::AppState;
use crate::utilities::{self, PublicUtility};

#[derive(Template, WebTemplate)]
#[template(path = "pick_utility.html")]
pub struct PickUtility {
    utilities: Vec<PublicUtility>,
}

#[derive(Template, WebTemplate)]
#[template(path = "utility.html")]
pub struct UtilityHome {
    utility: PublicUtility,
    /// The phone number as a `tel:` URI wants it (no spaces).
    tel: String,
}

/// `GET /`: a resident first picks their municipality.
pub async fn pick_utility(State(state): State<AppState>) -> Result<PickUtility, ApiError> {
    Ok(PickUtility {
        utilities: utilities::list(&state.pool).await?,
    })
}

/// `GET /u/{slug}/`
pub async fn utility_home(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<UtilityHome, ApiError> {
    let utility = utilities::by_slug(&state.pool, &slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    let tel = utility
        .phone
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    Ok(UtilityHome { utility, tel })
}

pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/portal.css"),
    )
}
