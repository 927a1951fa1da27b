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
    /// The customer office's address ("ul. Kolejowa 3, 14-420 Młynary"), when set.
    pub office_address: Option<String>,
    /// The customer office's opening hours, as the utility writes them.
    pub office_hours: Option<String>,
    /// The 24-hour emergency number: the utility's own, or 994 (the national water emergency
    /// number).
    pub emergency_phone: String,
}

pub async fn list(pool: &sqlx::PgPool) -> sqlx::Result<Vec<PublicUtility>> {
    sqlx::query_as!(
        PublicUtility,
        r#"SELECT slug, municipality, name, city, email, phone,
                  ebok_address(street, building_no, NULL, postal_code, city, post_town)
                    AS office_address,
                  office_hours, coalesce(emergency_phone, '994') AS "emergency_phone!"
           FROM utilities WHERE active
           ORDER BY municipality"#
    )
    .fetch_all(pool)
    .await
}

pub async fn by_slug(pool: &sqlx::PgPool, slug: &str) -> sqlx::Result<Option<PublicUtility>> {
    sqlx::query_as!(
        PublicUtility,
        r#"SELECT slug, municipality, name, city, email, phone,
                  ebok_address(street, building_no, NULL, postal_code, city, post_town)
                    AS office_address,
                  office_hours, coalesce(emergency_phone, '994') AS "emergency_phone!"
           FROM utilities WHERE active AND slug = $1"#,
        slug
    )
    .fetch_optional(pool)
    .await
}

/// The texts a utility sets for residents; `None` where the portal's default stands.
#[derive(Debug, Clone)]
pub struct UtilityTexts {
    /// The eBOK terms (regulamin).
    pub terms: Option<String>,
    /// The GDPR information clause (art. 13 RODO).
    pub privacy: Option<String>,
}

/// The utility's own texts, `None` for an unknown or inactive utility.
pub async fn texts(pool: &sqlx::PgPool, slug: &str) -> sqlx::Result<Option<UtilityTexts>> {
    Ok(sqlx::query!(
        "SELECT terms_text, privacy_text FROM utilities WHERE active AND slug = $1",
        slug
    )
    .fetch_optional(pool)
    .await?
    .map(|r| UtilityTexts {
        terms: r.terms_text,
        privacy: r.privacy_text,
    }))
}

/// The utilities served by this installation; a resident picks theirs first.
#[utoipa::path(get, path = "/utilities", tag = "public",
    responses((status = 200, body = Vec<PublicUtility>)))]
pub async fn list_json(
    State(state): State<AppState>,
) -> Result<Json<Vec<PublicUtility>>, ApiError> {
    Ok(Json(list(&state.pool).await?))
}
