//! A utility's application types: the built-in ones ([`crate::builtin`]) copied in the first
//! time they are listed (and any built-in type a newer version adds), then the utility's own
//! to edit.

use serde_json::Value;
use sqlx::PgConnection;

use crate::builtin;
use crate::form::FormDefinition;

/// An application type of a utility.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationType {
    pub id: i64,
    pub code: String,
    pub prefix: String,
    pub name: String,
    pub description: String,
    pub contract: bool,
    pub form: FormDefinition,
    pub active: bool,
}

/// Why a form was not stored.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("no such application type")]
    NotFound,
    #[error("the form cannot work: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Copies in the built-in types utility `utility_id` does not have yet (by code).
pub async fn ensure_builtin(conn: &mut PgConnection, utility_id: i64) -> sqlx::Result<()> {
    let types = builtin::application_types();
    let forms: Vec<Value> = types
        .iter()
        .map(|t| serde_json::to_value(&t.form).expect("a form serialises"))
        .collect();
    sqlx::query!(
        r#"INSERT INTO application_types (utility_id, code, prefix, name, description, contract, form)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bool[],
                                    $7::jsonb[])
           ON CONFLICT DO NOTHING"#,
        utility_id,
        &types.iter().map(|t| t.code.to_string()).collect::<Vec<_>>(),
        &types.iter().map(|t| t.prefix.to_string()).collect::<Vec<_>>(),
        &types.iter().map(|t| t.name.to_string()).collect::<Vec<_>>(),
        &types
            .iter()
            .map(|t| t.description.to_string())
            .collect::<Vec<_>>(),
        &types.iter().map(|t| t.contract).collect::<Vec<_>>(),
        &forms,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The utility's types (the built-in ones copied in first), by name; only the active ones
/// unless `all`.
pub async fn list(
    conn: &mut PgConnection,
    utility_id: i64,
    all: bool,
) -> sqlx::Result<Vec<ApplicationType>> {
    ensure_builtin(conn, utility_id).await?;
    let rows = sqlx::query!(
        r#"SELECT id, code, prefix, name, description, contract, form, active
           FROM application_types
           WHERE utility_id = $1 AND (active OR $2)
           ORDER BY name"#,
        utility_id,
        all
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(ApplicationType {
                id: r.id,
                code: r.code,
                prefix: r.prefix,
                name: r.name,
                description: r.description,
                contract: r.contract,
                form: serde_json::from_value(r.form)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                active: r.active,
            })
        })
        .collect()
}

/// Type `code` of the utility.
pub async fn get(
    conn: &mut PgConnection,
    utility_id: i64,
    code: &str,
) -> sqlx::Result<Option<ApplicationType>> {
    Ok(list(conn, utility_id, true)
        .await?
        .into_iter()
        .find(|t| t.code == code))
}

/// Stores a new form for type `code`, after [`FormDefinition::check`]; cases submitted before
/// keep the form they were submitted against.
pub async fn set_form(
    conn: &mut PgConnection,
    utility_id: i64,
    code: &str,
    form: &FormDefinition,
    by: i64,
) -> Result<(), EditError> {
    form.check().map_err(EditError::Invalid)?;
    let json = serde_json::to_value(form).expect("a form serialises");
    let updated = sqlx::query!(
        r#"UPDATE application_types SET form = $3, updated_at = now(), updated_by = $4
           WHERE utility_id = $1 AND code = $2"#,
        utility_id,
        code,
        json,
        by
    )
    .execute(conn)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(EditError::NotFound);
    }
    Ok(())
}

/// Renames type `code`, rewrites its description, and offers it to residents or not
/// (`active`); drafts of a withdrawn type can no longer be started.
pub async fn set_details(
    conn: &mut PgConnection,
    utility_id: i64,
    code: &str,
    name: &str,
    description: &str,
    active: bool,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE application_types SET name = $3, description = $4, active = $5,
                                        updated_at = now()
           WHERE utility_id = $1 AND code = $2"#,
        utility_id,
        code,
        name,
        description,
        active
    )
    .execute(conn)
    .await?;
    Ok(())
}
