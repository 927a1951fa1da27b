//! Meters as staff change them. A replacement ([`replace`]) is one transaction: the old meter
//! comes off at an instant with its final register, the new one goes on at the same instant
//! with its initial register and a link to the one it replaced (the chain `replaces_meter_id`),
//! both registers are stored as readings (source `manual`), and the audit log names the clerk.
//! History and billing then count the old meter up to its final register and the new one from
//! its initial register, so a household's consumption across the replacement is whole.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use ebok_common::domain::ReadingFlags;
use ebok_common::polish;
use ebok_readings::store::{self, Recorded};
use serde_json::json;
use sqlx::PgPool;

use super::ByStaff;
use crate::error::ApiError;

/// A replacement as the clerk entered it.
#[derive(Debug, Clone)]
pub struct Replacement {
    pub old_meter_id: i64,
    /// The instant of the swap.
    pub at: DateTime<Utc>,
    /// The old meter's register when it came off (litres).
    pub final_litres: i64,
    pub serial: String,
    /// The new meter's radio id (eight hex digits), if it has a radio.
    pub radio_id: Option<String>,
    /// `wmbus`, `modbus` or `manual`.
    pub channel: String,
    /// End of the new meter's legalisation.
    pub legalised_until: Option<NaiveDate>,
    /// The new meter's register when it went on (litres).
    pub initial_litres: i64,
}

/// A swap may be entered at most this far ahead of the clock (clocks differ).
const FUTURE_TOLERANCE: Duration = Duration::minutes(10);

/// The new meter's fields, checked; each problem at its field, in Polish.
pub fn check(
    r: &Replacement,
    register_max: i64,
    now: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    if r.at > now + FUTURE_TOLERANCE {
        problems.push(("at", "Data wymiany nie może być w przyszłości.".to_string()));
    }
    if r.final_litres < 0 || r.final_litres > register_max {
        problems.push((
            "final",
            format!("Podaj stan od 0 do {}.", polish::volume(register_max)),
        ));
    }
    let serial = r.serial.trim();
    if serial.is_empty() || serial.chars().count() > 40 {
        problems.push((
            "serial",
            "Podaj numer fabryczny nowego wodomierza (najwyżej 40 znaków).".to_string(),
        ));
    }
    if let Some(radio) = &r.radio_id
        && !(radio.len() == 8 && radio.chars().all(|c| c.is_ascii_hexdigit()))
    {
        problems.push((
            "radio_id",
            "Identyfikator radiowy to 8 znaków szesnastkowych (0–9, a–f), np. 1a2b3c4d."
                .to_string(),
        ));
    }
    if !matches!(r.channel.as_str(), "wmbus" | "modbus" | "manual") {
        problems.push(("channel", "Wybierz sposób odczytu.".to_string()));
    } else if r.channel == "wmbus" && r.radio_id.is_none() {
        problems.push((
            "radio_id",
            "Wodomierz radiowy wymaga identyfikatora radiowego.".to_string(),
        ));
    }
    if r.initial_litres < 0 || r.initial_litres > register_max {
        problems.push((
            "initial",
            format!("Podaj stan od 0 do {}.", polish::volume(register_max)),
        ));
    }
    problems
}

/// Replaces an installed meter of the staff member's utility (see the module docs); returns
/// the new meter's id. A meter of another utility is not found.
pub async fn replace(pool: &PgPool, by: ByStaff, r: &Replacement) -> Result<i64, ApiError> {
    let at = r.at.trunc_micros();
    let old = installed(pool, by, r.old_meter_id).await?;
    let problems = check(r, old.register_max_litres, Utc::now());
    if let Some((field, detail)) = problems.into_iter().next() {
        return Err(ApiError::invalid(field, detail));
    }
    ensure_partition(pool, at).await?;
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "SELECT id FROM supply_points WHERE id = $1 FOR UPDATE",
        old.supply_point_id
    )
    .fetch_one(&mut *tx)
    .await?;
    take_off(&mut tx, &old, at, r.final_litres).await?;
    let new_id = put_on(
        &mut tx,
        by,
        &NewMeter {
            serial: r.serial.trim(),
            radio_id: r.radio_id.as_deref(),
            channel: &r.channel,
            purpose: &old.purpose,
            register_max_litres: old.register_max_litres,
            manufacturer: old.manufacturer.as_deref(),
            model: old.model.as_deref(),
            diameter_mm: old.diameter_mm,
            legalised_until: r.legalised_until,
        },
        old.supply_point_id,
        at,
        r.initial_litres,
        Some(old.id),
    )
    .await?;
    record(
        &mut tx,
        by,
        "meter.replaced",
        old.id,
        json!({
            "supply_point_id": old.supply_point_id,
            "at": at,
            "final_litres": r.final_litres,
            "new_meter_id": new_id,
            "new_serial": r.serial.trim(),
            "initial_litres": r.initial_litres,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(new_id)
}

/// A meter going on at a supply point.
#[derive(Debug, Clone)]
pub struct Installation {
    /// The supply point's code.
    pub supply_point: String,
    pub serial: String,
    pub radio_id: Option<String>,
    /// `wmbus`, `modbus` or `manual`.
    pub channel: String,
    /// `main`, `garden` or `sewage`.
    pub purpose: String,
    pub register_max_litres: i64,
    pub legalised_until: Option<NaiveDate>,
    pub at: DateTime<Utc>,
    pub initial_litres: i64,
}

/// Installs a new meter at a supply point of the staff member's utility; returns its id. The
/// point may have one meter of each purpose at a time: a second is refused naming the first.
pub async fn install(pool: &PgPool, by: ByStaff, i: &Installation) -> Result<i64, ApiError> {
    let at = i.at.trunc_micros();
    if !matches!(i.purpose.as_str(), "main" | "garden" | "sewage") {
        return Err(ApiError::invalid("purpose", "Wybierz rodzaj wodomierza."));
    }
    if !(1_000..=999_999_999_999).contains(&i.register_max_litres) {
        return Err(ApiError::invalid(
            "register_max",
            "Podaj pojemność liczydła, np. 99 999,999 m³.",
        ));
    }
    let as_replacement = Replacement {
        old_meter_id: 0,
        at,
        final_litres: 0,
        serial: i.serial.clone(),
        radio_id: i.radio_id.clone(),
        channel: i.channel.clone(),
        legalised_until: i.legalised_until,
        initial_litres: i.initial_litres,
    };
    let problems = check(&as_replacement, i.register_max_litres, Utc::now());
    if let Some((field, detail)) = problems.into_iter().next() {
        return Err(ApiError::invalid(field, detail));
    }
    let point = sqlx::query_scalar!(
        "SELECT id FROM supply_points WHERE utility_id = $1 AND code = $2",
        by.utility_id,
        i.supply_point.trim(),
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ApiError::invalid("supply_point", "Nie ma punktu poboru o tym kodzie."))?;
    ensure_partition(pool, at).await?;
    let mut tx = pool.begin().await?;
    // Changes of one point's meters one after another: the check below sees the one before.
    sqlx::query!(
        "SELECT id FROM supply_points WHERE id = $1 FOR UPDATE",
        point
    )
    .fetch_one(&mut *tx)
    .await?;
    let occupied = sqlx::query!(
        r#"SELECT serial FROM meters
           WHERE supply_point_id = $1 AND purpose::text = $2
             AND tstzrange(installed_at, removed_at) && tstzrange($3, NULL)
           FOR UPDATE"#,
        point,
        i.purpose,
        at,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(m) = occupied {
        return Err(ApiError::invalid(
            "supply_point",
            format!(
                "W tym punkcie stoi już wodomierz tego rodzaju ({}). Wymień go albo najpierw \
                 zdejmij.",
                m.serial
            ),
        ));
    }
    let id = put_on(
        &mut tx,
        by,
        &NewMeter {
            serial: i.serial.trim(),
            radio_id: i.radio_id.as_deref(),
            channel: &i.channel,
            purpose: &i.purpose,
            register_max_litres: i.register_max_litres,
            manufacturer: None,
            model: None,
            diameter_mm: None,
            legalised_until: i.legalised_until,
        },
        point,
        at,
        i.initial_litres,
        None,
    )
    .await?;
    record(
        &mut tx,
        by,
        "meter.installed",
        id,
        json!({ "supply_point_id": point, "at": at, "initial_litres": i.initial_litres }),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Takes an installed meter off its supply point without a successor (the point closes, or
/// the new meter comes later), with its final register.
pub async fn remove(
    pool: &PgPool,
    by: ByStaff,
    meter_id: i64,
    at: DateTime<Utc>,
    final_litres: i64,
) -> Result<(), ApiError> {
    let at = at.trunc_micros();
    let old = installed(pool, by, meter_id).await?;
    if at > Utc::now() + FUTURE_TOLERANCE {
        return Err(ApiError::invalid("at", "Data nie może być w przyszłości."));
    }
    if !(0..=old.register_max_litres).contains(&final_litres) {
        return Err(ApiError::invalid(
            "final",
            format!(
                "Podaj stan od 0 do {}.",
                polish::volume(old.register_max_litres)
            ),
        ));
    }
    ensure_partition(pool, at).await?;
    let mut tx = pool.begin().await?;
    take_off(&mut tx, &old, at, final_litres).await?;
    record(
        &mut tx,
        by,
        "meter.removed",
        meter_id,
        json!({ "supply_point_id": old.supply_point_id, "at": at, "final_litres": final_litres }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The customer who read their dial and gave the reading (on the phone, at the counter): a
/// clerk enters it in their name.
#[derive(Debug, Clone, Copy)]
pub struct ReportedBy {
    pub customer_id: i64,
    /// The customer's eBOK account, named in the audit log as the one acted for.
    pub account_id: Option<i64>,
}

/// Stores a reading read from the dial (source `manual`) by a staff member, or given by the
/// customer (`reported`: a meter at a point of their contract in force today), at any instant
/// the meter stood at its point, between the readings around it (the register never goes
/// back).
pub async fn enter_reading(
    pool: &PgPool,
    by: ByStaff,
    meter_id: i64,
    at: DateTime<Utc>,
    litres: i64,
    reported: Option<ReportedBy>,
) -> Result<(), ApiError> {
    let at = at.trunc_micros();
    if at > Utc::now() + FUTURE_TOLERANCE {
        return Err(ApiError::invalid("at", "Data nie może być w przyszłości."));
    }
    // The month's partition, before the transaction; no reading is older than this century.
    if at.year() >= 2000 {
        ensure_partition(pool, at).await?;
    }
    let mut tx = pool.begin().await?;
    // Read and lock the meter in the transaction: a removal committing meanwhile is seen.
    let m = sqlx::query!(
        r#"SELECT installed_at, removed_at, register_max_litres FROM meters
           WHERE id = $1 AND utility_id = $2 FOR NO KEY UPDATE"#,
        meter_id,
        by.utility_id,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    if let Some(r) = reported {
        // A meter at a point of the customer's contract, and an instant within that contract.
        let theirs = sqlx::query_scalar!(
            r#"SELECT EXISTS (
                   SELECT 1 FROM meters m
                   JOIN contracts k ON k.supply_point_id = m.supply_point_id
                   WHERE m.id = $1 AND m.utility_id = $2 AND k.utility_id = $2
                     AND k.customer_id = $3 AND k.status <> 'draft'
                     AND $4 >= k.valid_from::timestamp AT TIME ZONE 'Europe/Warsaw'
                     AND (k.valid_until IS NULL
                          OR $4 < (k.valid_until + 1)::timestamp AT TIME ZONE 'Europe/Warsaw'))
               AS "theirs!""#,
            meter_id,
            by.utility_id,
            r.customer_id,
            at,
        )
        .fetch_one(&mut *tx)
        .await?;
        if !theirs {
            return Err(ApiError::invalid(
                "meter",
                "To nie jest wodomierz w punkcie obecnej umowy klienta.",
            ));
        }
    }
    let stood = m.installed_at.is_some_and(|from| at >= from)
        && m.removed_at.is_none_or(|until| at <= until);
    if !stood {
        return Err(ApiError::invalid(
            "at",
            "W tej chwili wodomierz nie był zamontowany w punkcie poboru.",
        ));
    }
    if !(0..=m.register_max_litres).contains(&litres) {
        return Err(ApiError::invalid(
            "litres",
            format!(
                "Podaj stan od 0 do {}.",
                polish::volume(m.register_max_litres)
            ),
        ));
    }
    let around = sqlx::query!(
        r#"SELECT (SELECT volume_litres FROM meter_readings
                   WHERE meter_id = $1 AND measured_at < $2
                   ORDER BY measured_at DESC LIMIT 1) AS before,
                  (SELECT volume_litres FROM meter_readings
                   WHERE meter_id = $1 AND measured_at > $2
                   ORDER BY measured_at LIMIT 1) AS after"#,
        meter_id,
        at,
    )
    .fetch_one(&mut *tx)
    .await?;
    if let Some(before) = around.before.filter(|b| *b > litres) {
        return Err(ApiError::invalid(
            "litres",
            format!(
                "Stan jest mniejszy niż poprzedni odczyt ({}).",
                polish::volume(before)
            ),
        ));
    }
    if let Some(after) = around.after.filter(|a| *a < litres) {
        return Err(ApiError::invalid(
            "litres",
            format!(
                "Stan jest większy niż następny odczyt ({}).",
                polish::volume(after)
            ),
        ));
    }
    match store::record_manual(&mut tx, meter_id, at, litres, ReadingFlags::default()).await? {
        Recorded::Stored { .. } => {}
        Recorded::Duplicate => {
            return Err(ApiError::invalid(
                "at",
                "W tej chwili wodomierz ma już odczyt.",
            ));
        }
    }
    by.audit_for(
        &mut tx,
        reported.and_then(|r| r.account_id),
        "meter_reading.entered",
        "meter",
        meter_id,
        json!({
            "at": at,
            "litres": litres,
            "reported_by_customer": reported.map(|r| r.customer_id),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// An installed meter's facts, checked to be the utility's and standing at a point.
struct Installed {
    id: i64,
    supply_point_id: i64,
    installed_at: DateTime<Utc>,
    register_max_litres: i64,
    purpose: String,
    manufacturer: Option<String>,
    model: Option<String>,
    diameter_mm: Option<i16>,
}

async fn installed(pool: &PgPool, by: ByStaff, meter_id: i64) -> Result<Installed, ApiError> {
    let m = sqlx::query!(
        r#"SELECT id, supply_point_id, installed_at, removed_at, register_max_litres,
                  purpose::text AS "purpose!", manufacturer, model, diameter_mm
           FROM meters WHERE id = $1 AND utility_id = $2"#,
        meter_id,
        by.utility_id,
    )
    .fetch_optional(pool)
    .await?
    .ok_or(ApiError::NotFound)?;
    let (Some(supply_point_id), Some(installed_at)) = (m.supply_point_id, m.installed_at) else {
        return Err(ApiError::invalid(
            "meter",
            "Ten wodomierz nie jest zamontowany w żadnym punkcie poboru.",
        ));
    };
    if m.removed_at.is_some() {
        return Err(ApiError::invalid(
            "meter",
            "Ten wodomierz został już zdjęty.",
        ));
    }
    Ok(Installed {
        id: m.id,
        supply_point_id,
        installed_at,
        register_max_litres: m.register_max_litres,
        purpose: m.purpose,
        manufacturer: m.manufacturer,
        model: m.model,
        diameter_mm: m.diameter_mm,
    })
}

/// The month's partition of readings, before the transaction (creating one locks the table).
async fn ensure_partition(pool: &PgPool, at: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query_scalar!("SELECT ebok_ensure_reading_partitions($1, $1)", at)
        .fetch_one(pool)
        .await?;
    Ok(())
}

/// The old meter comes off at `at` with its final register, stored as its last reading. One
/// change of a meter at a time: a second finds it removed.
async fn take_off(
    tx: &mut sqlx::PgConnection,
    old: &Installed,
    at: DateTime<Utc>,
    final_litres: i64,
) -> Result<(), ApiError> {
    if at <= old.installed_at {
        return Err(ApiError::invalid(
            "at",
            format!(
                "Zdjęcie musi nastąpić po montażu wodomierza ({}).",
                polish::instant(old.installed_at)
            ),
        ));
    }
    let still = sqlx::query_scalar!(
        "SELECT removed_at IS NULL FROM meters WHERE id = $1 FOR UPDATE",
        old.id
    )
    .fetch_one(&mut *tx)
    .await?;
    if still != Some(true) {
        return Err(ApiError::invalid(
            "meter",
            "Ten wodomierz został już zdjęty.",
        ));
    }
    let newest = sqlx::query!(
        r#"SELECT measured_at, volume_litres FROM meter_readings
           WHERE meter_id = $1 ORDER BY measured_at DESC LIMIT 1"#,
        old.id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(newest) = &newest {
        if newest.measured_at > at {
            return Err(ApiError::invalid(
                "at",
                format!(
                    "Wodomierz ma odczyt późniejszy niż podana chwila ({}, {}). Podaj chwilę \
                     nie wcześniejszą.",
                    polish::instant(newest.measured_at),
                    polish::volume(newest.volume_litres)
                ),
            ));
        }
        if newest.volume_litres > final_litres {
            return Err(ApiError::invalid(
                "final",
                format!(
                    "Stan końcowy jest mniejszy niż ostatni odczyt wodomierza ({}, {}).",
                    polish::volume(newest.volume_litres),
                    polish::instant(newest.measured_at)
                ),
            ));
        }
    }
    sqlx::query!(
        "UPDATE meters SET removed_at = $2, removal_reading_litres = $3 WHERE id = $1",
        old.id,
        at,
        final_litres,
    )
    .execute(&mut *tx)
    .await?;
    if let Recorded::Duplicate =
        store::record_manual(tx, old.id, at, final_litres, ReadingFlags::default()).await?
        && newest.as_ref().map(|n| n.volume_litres) != Some(final_litres)
    {
        return Err(ApiError::invalid(
            "final",
            "W tej chwili wodomierz ma już inny odczyt.",
        ));
    }
    Ok(())
}

/// What a new meter is.
struct NewMeter<'a> {
    serial: &'a str,
    radio_id: Option<&'a str>,
    channel: &'a str,
    purpose: &'a str,
    register_max_litres: i64,
    manufacturer: Option<&'a str>,
    model: Option<&'a str>,
    diameter_mm: Option<i16>,
    legalised_until: Option<NaiveDate>,
}

/// A new meter goes on at `point` at `at` with its initial register, stored as its first
/// reading; a serial or radio id another meter of the utility has is refused at its field.
#[allow(clippy::too_many_arguments)]
async fn put_on(
    tx: &mut sqlx::PgConnection,
    by: ByStaff,
    new: &NewMeter<'_>,
    point: i64,
    at: DateTime<Utc>,
    initial_litres: i64,
    replaces: Option<i64>,
) -> Result<i64, ApiError> {
    let radio_id = new.radio_id.map(str::to_ascii_lowercase);
    let taken = sqlx::query!(
        r#"SELECT EXISTS (SELECT 1 FROM meters WHERE utility_id = $1 AND serial = $2)
                  AS "serial!",
                  EXISTS (SELECT 1 FROM meters WHERE utility_id = $1 AND radio_id = $3)
                  AS "radio!""#,
        by.utility_id,
        new.serial,
        radio_id,
    )
    .fetch_one(&mut *tx)
    .await?;
    if taken.serial {
        return Err(ApiError::invalid(
            "serial",
            "Wodomierz o tym numerze fabrycznym jest już w systemie.",
        ));
    }
    if taken.radio {
        return Err(ApiError::invalid(
            "radio_id",
            "Ten identyfikator radiowy ma już inny wodomierz.",
        ));
    }
    let id = sqlx::query_scalar!(
        r#"INSERT INTO meters (utility_id, serial, radio_id, manufacturer, model, channel,
                               purpose, register_max_litres, diameter_mm, legalised_until,
                               supply_point_id, installed_at, install_reading_litres,
                               replaces_meter_id)
           VALUES ($1, $2, $3, $4, $5, $6::text::meter_channel, $7::text::meter_purpose, $8, $9,
                   $10, $11, $12, $13, $14)
           RETURNING id"#,
        by.utility_id,
        new.serial,
        radio_id,
        new.manufacturer,
        new.model,
        new.channel,
        new.purpose,
        new.register_max_litres,
        new.diameter_mm,
        new.legalised_until,
        point,
        at,
        initial_litres,
        replaces,
    )
    .fetch_one(&mut *tx)
    .await?;
    store::record_manual(tx, id, at, initial_litres, ReadingFlags::default()).await?;
    Ok(id)
}

async fn record(
    tx: &mut sqlx::PgConnection,
    by: ByStaff,
    action: &str,
    meter_id: i64,
    details: serde_json::Value,
) -> sqlx::Result<i64> {
    by.audit(tx, action, "meter", meter_id, details).await
}

/// An installed meter whose legalisation ends soon (or has ended), for a replacement campaign.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DueMeter {
    pub meter_id: i64,
    pub serial: String,
    /// `None`: the date is not known (the meter needs checking too).
    pub legalised_until: Option<NaiveDate>,
    pub supply_point_code: String,
    pub address: Option<String>,
    pub customer_id: Option<i64>,
    pub customer_name: Option<String>,
}

/// The utility's installed meters whose legalisation ends before `months` from today (ended
/// ones first), then those without a date; at most `limit`.
pub async fn due_for_legalisation(
    pool: &PgPool,
    utility_id: i64,
    months: u32,
    limit: i64,
) -> sqlx::Result<Vec<DueMeter>> {
    let today = ebok_common::domain::time::local_day(Utc::now());
    let before = today
        .checked_add_months(chrono::Months::new(months))
        .unwrap_or(today);
    sqlx::query_as!(
        DueMeter,
        r#"SELECT m.id AS meter_id, m.serial, m.legalised_until, sp.code AS supply_point_code,
                  ebok_address(sp.street, sp.building_no, sp.apartment_no, sp.postal_code,
                               sp.city, sp.post_town) AS address,
                  c.id AS "customer_id?", c.name AS "customer_name?"
           FROM meters m
           JOIN supply_points sp ON sp.id = m.supply_point_id
           LEFT JOIN LATERAL (
               SELECT k.customer_id FROM contracts k
               WHERE k.supply_point_id = m.supply_point_id AND k.status <> 'draft'
               ORDER BY k.valid_from DESC LIMIT 1) k ON true
           LEFT JOIN customers c ON c.id = k.customer_id
           WHERE m.utility_id = $1 AND m.removed_at IS NULL
             AND (m.legalised_until IS NULL OR m.legalised_until < $2)
           ORDER BY m.legalised_until NULLS LAST, sp.code
           LIMIT $3"#,
        utility_id,
        before,
        limit,
    )
    .fetch_all(pool)
    .await
}

/// One meter as staff see it: where it stands, its chain, its newest readings.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MeterCard {
    pub id: i64,
    pub serial: String,
    pub radio_id: Option<String>,
    pub channel: String,
    pub purpose: String,
    pub register_max_litres: i64,
    pub legalised_until: Option<NaiveDate>,
    pub supply_point_id: Option<i64>,
    pub supply_point_code: Option<String>,
    pub supply_point_address: Option<String>,
    pub installed_at: Option<DateTime<Utc>>,
    pub install_reading_litres: Option<i64>,
    pub removed_at: Option<DateTime<Utc>>,
    pub removal_reading_litres: Option<i64>,
    /// The meter this one replaced, and the one that replaced it.
    pub replaces: Option<Named>,
    pub replaced_by: Option<Named>,
    /// The customer of the point's newest signed contract.
    pub customer: Option<Named>,
    /// The newest readings, newest first (at most 10).
    pub readings: Vec<StoredReading>,
}

/// A record named by its id and what people call it (a meter's serial, a customer's name).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Named {
    pub id: i64,
    pub name: String,
}

impl Named {
    fn of(id: Option<i64>, name: Option<String>) -> Option<Named> {
        Some(Named {
            id: id?,
            name: name?,
        })
    }
}

/// A reading as stored.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct StoredReading {
    pub measured_at: DateTime<Utc>,
    pub litres: i64,
    /// `radio`, `modbus`, `manual` or `estimate`.
    pub source: String,
}

/// The card of meter `id` of `utility_id`; `None` if the utility has no such meter.
pub async fn card(pool: &PgPool, utility_id: i64, id: i64) -> sqlx::Result<Option<MeterCard>> {
    let Some(m) = sqlx::query!(
        r#"SELECT m.id, m.serial, m.radio_id, m.channel::text AS "channel!",
                  m.purpose::text AS "purpose!", m.register_max_litres, m.legalised_until,
                  m.supply_point_id, sp.code AS "supply_point_code?",
                  ebok_address(sp.street, sp.building_no, sp.apartment_no, sp.postal_code,
                               sp.city, sp.post_town) AS supply_point_address,
                  m.installed_at, m.install_reading_litres, m.removed_at,
                  m.removal_reading_litres,
                  o.id AS "replaces_id?", o.serial AS "replaces_serial?",
                  n.id AS "replaced_by_id?", n.serial AS "replaced_by_serial?",
                  c.id AS "customer_id?", c.name AS "customer_name?"
           FROM meters m
           LEFT JOIN supply_points sp ON sp.id = m.supply_point_id
           LEFT JOIN meters o ON o.id = m.replaces_meter_id
           LEFT JOIN meters n ON n.replaces_meter_id = m.id
           LEFT JOIN LATERAL (
               SELECT k.customer_id FROM contracts k
               WHERE k.supply_point_id = m.supply_point_id AND k.status <> 'draft'
               ORDER BY k.valid_from DESC LIMIT 1) k ON true
           LEFT JOIN customers c ON c.id = k.customer_id
           WHERE m.id = $1 AND m.utility_id = $2"#,
        id,
        utility_id,
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let readings = sqlx::query_as!(
        StoredReading,
        r#"SELECT measured_at, volume_litres AS litres, source::text AS "source!"
           FROM meter_readings
           WHERE meter_id = $1 ORDER BY measured_at DESC LIMIT 10"#,
        id,
    )
    .fetch_all(pool)
    .await?;
    Ok(Some(MeterCard {
        id: m.id,
        serial: m.serial,
        radio_id: m.radio_id,
        channel: m.channel,
        purpose: m.purpose,
        register_max_litres: m.register_max_litres,
        legalised_until: m.legalised_until,
        supply_point_id: m.supply_point_id,
        supply_point_code: m.supply_point_code,
        supply_point_address: m.supply_point_address,
        installed_at: m.installed_at,
        install_reading_litres: m.install_reading_litres,
        removed_at: m.removed_at,
        removal_reading_litres: m.removal_reading_litres,
        replaces: Named::of(m.replaces_id, m.replaces_serial),
        replaced_by: Named::of(m.replaced_by_id, m.replaced_by_serial),
        customer: Named::of(m.customer_id, m.customer_name),
        readings,
    }))
}

trait TruncMicros {
    fn trunc_micros(self) -> Self;
}

impl TruncMicros for DateTime<Utc> {
    /// What the database stores, so comparisons with stored instants are exact.
    fn trunc_micros(self) -> Self {
        chrono::SubsecRound::trunc_subsecs(self, 6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replacement() -> Replacement {
        Replacement {
            old_meter_id: 1,
            at: Utc::now(),
            final_litres: 120_000,
            serial: "SN-NEW-1".into(),
            radio_id: Some("1a2b3c4d".into()),
            channel: "wmbus".into(),
            legalised_until: None,
            initial_litres: 3,
        }
    }

    #[test]
    fn a_complete_replacement_has_no_problems() {
        assert!(check(&replacement(), 99_999_999, Utc::now()).is_empty());
    }

    #[test]
    fn each_wrong_field_is_named() {
        let now = Utc::now();
        let fields = |r: Replacement| -> Vec<&str> {
            check(&r, 99_999_999, now)
                .into_iter()
                .map(|(f, _)| f)
                .collect()
        };
        let mut r = replacement();
        r.at = now + Duration::hours(1);
        assert_eq!(fields(r), ["at"]);
        let mut r = replacement();
        r.serial = "  ".into();
        r.radio_id = Some("xyz".into());
        assert_eq!(fields(r), ["serial", "radio_id"]);
        let mut r = replacement();
        r.radio_id = None;
        assert_eq!(fields(r), ["radio_id"]);
        let mut r = replacement();
        r.channel = "manual".into();
        r.radio_id = None;
        r.final_litres = -1;
        r.initial_litres = 100_000_000;
        assert_eq!(fields(r), ["final", "initial"]);
    }
}
