//! The utilities served by this installation: the first choice a resident makes.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

/// What anyone may know about a utility.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicUtility {
    pub slug: String,
    pub municipality: String,
    pub name: String,
    pub city: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

pub async fn list(pool: &sqlx::PgPool) -> sqlx::Result<Vec<PublicUtility>> {
    sqlx::query_as!(
        PublicUtility,
        r#"SELECT slug, municipality, name, city, email, phone
           FROM utilities WHERE active
           ORDER BY municipality"#
    )
    .fetch_all(pool)
    .await
}

pub async fn by_slug(pool: &sqlx::PgPool, slug: &str) -> sqlx::Result<Option<PublicUtility>> {
    sqlx::query_as!(
        PublicUtility,
        r#"SELECT slug, municipality, name, city, email, phone
           FROM utilities WHERE active AND slug = $1"#,
        slug
    )
    .fetch_optional(pool)
    .await
}

/// The utilities served by this installation; a resident picks theirs first.
#[utoipa::path(get, path = "/utilities", tag = "public",
    responses((status = 200, body = Vec<PublicUtility>)))]
pub async fn list_json(
    State(state): State<AppState>,
) -> Result<Json<Vec<PublicUtility>>, ApiError> {
    Ok(Json(list(&state.pool).await?))
}
