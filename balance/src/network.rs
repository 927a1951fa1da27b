//! What staff set up and enter for the balance: the meters on the zones' boundaries, who looks
//! after a zone (its alarms go to them), and the use nobody is billed for. Zones themselves and
//! which supply points lie in them are the outages crate's (`ebok_outages::store`), where staff
//! already keep them. Every change is audited; problems come back by field, in Polish.

use chrono::{DateTime, NaiveDate, Utc};
use ebok_common::audit::{self, AuditEntry, ByStaff};
use serde_json::json;
use sqlx::PgConnection;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("no such zone")]
    NotFound,
    /// What to put right, by field, in Polish.
    #[error("invalid: {0:?}")]
    Invalid(Vec<(&'static str, String)>),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn invalid(field: &'static str, message: &str) -> NetworkError {
    NetworkError::Invalid(vec![(field, message.to_string())])
}

/// How a boundary meter is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Radio,
    Modbus,
}

impl Channel {
    fn as_db(self) -> &'static str {
        match self {
            Channel::Radio => "wmbus",
            Channel::Modbus => "modbus",
        }
    }
}

/// A bulk meter on a zone's boundary, as staff register it.
#[derive(Debug, Clone)]
pub struct NewBoundaryMeter {
    pub serial: String,
    pub channel: Channel,
    /// The wireless M-Bus address (8 hex digits), for a radio meter.
    pub radio_id: Option<String>,
    pub diameter_mm: Option<i16>,
    pub register_max_litres: i64,
    /// The water flows from this zone (`None`: from outside the network)...
    pub from_zone: Option<i64>,
    /// ...into this one (`None`: out of the network).
    pub into_zone: Option<i64>,
    /// When it went into service (ingest stores its readings from then on).
    pub installed_at: DateTime<Utc>,
}

/// Registers a boundary meter: a meter of purpose `zone_inlet` (water into one of the
/// utility's zones) or `zone_outlet` (water out of the network) and the zones on its sides;
/// the meter's id. Ingest then stores its readings like any meter's.
pub async fn add_boundary_meter(
    conn: &mut PgConnection,
    staff: ByStaff,
    meter: &NewBoundaryMeter,
) -> Result<i64, NetworkError> {
    let serial = meter.serial.trim();
    if serial.is_empty() || serial.len() > 40 {
        return Err(invalid("serial", "Podaj numer fabryczny wodomierza."));
    }
    if meter.from_zone.is_none() && meter.into_zone.is_none() {
        return Err(invalid(
            "into_zone_id",
            "Wskaż strefę, do której woda wpływa, lub z której wypływa.",
        ));
    }
    if meter.from_zone.is_some() && meter.from_zone == meter.into_zone {
        return Err(invalid(
            "into_zone_id",
            "Woda nie może wpływać do tej samej strefy, z której wypływa.",
        ));
    }
    let radio_id = match (meter.channel, meter.radio_id.as_deref().map(str::trim)) {
        (Channel::Radio, Some(id))
            if id.len() == 8 && id.chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            Some(id.to_ascii_lowercase())
        }
        (Channel::Radio, _) => {
            return Err(invalid(
                "radio_id",
                "Adres radiowy to 8 cyfr szesnastkowych, np. 1a2b3c4d.",
            ));
        }
        (Channel::Modbus, _) => None,
    };
    if !(1_000..=1_000_000_000_000).contains(&meter.register_max_litres) {
        return Err(invalid(
            "register_max_litres",
            "Pojemność licznika to od 1 m³ do 1 000 000 000 m³.",
        ));
    }
    if meter
        .diameter_mm
        .is_some_and(|d| !(15..=2_000).contains(&d))
    {
        return Err(invalid("diameter_mm", "Średnica to od 15 do 2000 mm."));
    }
    for (field, zone) in [
        ("from_zone_id", meter.from_zone),
        ("into_zone_id", meter.into_zone),
    ] {
        if let Some(zone) = zone {
            zone_exists(conn, staff.utility_id, zone)
                .await?
                .then_some(())
                .ok_or_else(|| invalid(field, "Nie ma takiej strefy."))?;
        }
    }
    let purpose = if meter.into_zone.is_some() {
        "zone_inlet"
    } else {
        "zone_outlet"
    };
    let id = sqlx::query_scalar!(
        r#"INSERT INTO meters (utility_id, serial, radio_id, channel, purpose, register_max_litres,
                               diameter_mm, installed_at)
           VALUES ($1, $2, $3, $4::text::meter_channel, $5::text::meter_purpose, $6, $7, $8)
           ON CONFLICT DO NOTHING
           RETURNING id"#,
        staff.utility_id,
        serial,
        radio_id,
        meter.channel.as_db(),
        purpose,
        meter.register_max_litres,
        meter.diameter_mm,
        meter.installed_at,
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| {
        invalid(
            "serial",
            "Wodomierz o tym numerze fabrycznym lub adresie radiowym już jest.",
        )
    })?;
    sqlx::query!(
        r#"INSERT INTO zone_boundary_meters (meter_id, utility_id, from_zone_id, into_zone_id)
           VALUES ($1, $2, $3, $4)"#,
        id,
        staff.utility_id,
        meter.from_zone,
        meter.into_zone,
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(staff.utility_id),
            actor: staff.actor(),
            action: "zone_boundary_meter.added",
            entity_type: Some("meter"),
            entity_id: Some(id.to_string()),
            details: json!({
                "serial": serial, "purpose": purpose,
                "from_zone_id": meter.from_zone, "into_zone_id": meter.into_zone,
            }),
            request_id: None,
        },
    )
    .await?;
    Ok(id)
}

async fn zone_exists(conn: &mut PgConnection, utility_id: i64, zone: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query_scalar!(
        "SELECT 1 AS one FROM network_zones WHERE utility_id = $1 AND id = $2",
        utility_id,
        zone
    )
    .fetch_optional(conn)
    .await?
    .is_some())
}

/// Names a staff member of the utility to look after `zone` (its alarms go to them).
pub async fn name_zone_staff(
    conn: &mut PgConnection,
    staff: ByStaff,
    zone: i64,
    account_id: i64,
) -> Result<(), NetworkError> {
    if !zone_exists(conn, staff.utility_id, zone).await? {
        return Err(NetworkError::NotFound);
    }
    let is_staff = sqlx::query_scalar!(
        r#"SELECT 1 AS one FROM user_accounts
           WHERE utility_id = $1 AND id = $2 AND role <> 'resident' AND status = 'active'"#,
        staff.utility_id,
        account_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .is_some();
    if !is_staff {
        return Err(invalid("account_id", "Wybierz pracownika z listy."));
    }
    sqlx::query!(
        r#"INSERT INTO network_zone_staff (utility_id, zone_id, account_id) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING"#,
        staff.utility_id,
        zone,
        account_id
    )
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(staff.utility_id),
            actor: staff.actor(),
            action: "network_zone.staff_named",
            entity_type: Some("network_zone"),
            entity_id: Some(zone.to_string()),
            details: json!({ "account_id": account_id }),
            request_id: None,
        },
    )
    .await?;
    Ok(())
}

/// Kinds of unbilled authorised use (`unbilled_use_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnbilledKind {
    FireFighting,
    Flushing,
    OwnUse,
    Other,
}

impl UnbilledKind {
    pub const ALL: [UnbilledKind; 4] = [
        UnbilledKind::FireFighting,
        UnbilledKind::Flushing,
        UnbilledKind::OwnUse,
        UnbilledKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UnbilledKind::FireFighting => "fire_fighting",
            UnbilledKind::Flushing => "flushing",
            UnbilledKind::OwnUse => "own_use",
            UnbilledKind::Other => "other",
        }
    }

    pub fn parse(name: &str) -> Option<UnbilledKind> {
        UnbilledKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// As staff read it.
    pub fn polish(self) -> &'static str {
        match self {
            UnbilledKind::FireFighting => "akcja straży pożarnej",
            UnbilledKind::Flushing => "płukanie sieci",
            UnbilledKind::OwnUse => "potrzeby własne zakładu",
            UnbilledKind::Other => "inne",
        }
    }
}

/// Water staff know was used in a zone on a day and nobody is billed for.
#[derive(Debug, Clone)]
pub struct UnbilledUse {
    pub zone_id: i64,
    pub day: NaiveDate,
    pub kind: UnbilledKind,
    pub litres: i64,
    pub note: Option<String>,
}

/// Enters unbilled use; its id. `today` bounds the day: use is entered once it happened.
pub async fn enter_unbilled_use(
    conn: &mut PgConnection,
    staff: ByStaff,
    entry: &UnbilledUse,
    today: NaiveDate,
) -> Result<i64, NetworkError> {
    let mut problems = Vec::new();
    if entry.day > today {
        problems.push(("day", "Wpisz dzień, który już minął lub trwa.".to_string()));
    }
    if !(1..=100_000_000_000).contains(&entry.litres) {
        problems.push(("litres", "Podaj ilość większą od zera.".to_string()));
    }
    let note = entry
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 500) {
        problems.push(("note", "Uwagi mogą mieć najwyżej 500 znaków.".to_string()));
    }
    if !problems.is_empty() {
        return Err(NetworkError::Invalid(problems));
    }
    if !zone_exists(conn, staff.utility_id, entry.zone_id).await? {
        return Err(NetworkError::NotFound);
    }
    let id = sqlx::query_scalar!(
        r#"INSERT INTO zone_unbilled_use (utility_id, zone_id, day, kind, litres, note, entered_by)
           VALUES ($1, $2, $3, $4::text::unbilled_use_kind, $5, $6, $7)
           RETURNING id"#,
        staff.utility_id,
        entry.zone_id,
        entry.day,
        entry.kind.as_str(),
        entry.litres,
        note,
        staff.account_id,
    )
    .fetch_one(&mut *conn)
    .await?;
    audit::record(
        conn,
        &AuditEntry {
            utility_id: Some(staff.utility_id),
            actor: staff.actor(),
            action: "zone_unbilled_use.entered",
            entity_type: Some("network_zone"),
            entity_id: Some(entry.zone_id.to_string()),
            details: json!({
                "id": id, "day": entry.day, "kind": entry.kind.as_str(), "litres": entry.litres,
            }),
            request_id: None,
        },
    )
    .await?;
    Ok(id)
}

/// Unbilled use entered for a zone, newest day first.
#[derive(Debug, Clone)]
pub struct UnbilledEntry {
    pub id: i64,
    pub day: NaiveDate,
    pub kind: UnbilledKind,
    pub litres: i64,
    pub note: Option<String>,
    pub entered_by: String,
    pub entered_at: DateTime<Utc>,
}

pub async fn unbilled_use(
    conn: &mut PgConnection,
    utility_id: i64,
    zone_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<UnbilledEntry>> {
    let rows = sqlx::query!(
        r#"SELECT u.id, u.day, u.kind::text AS "kind!", u.litres, u.note, u.entered_at,
                  coalesce(a.display_name, a.email) AS "entered_by!"
           FROM zone_unbilled_use u JOIN user_accounts a ON a.id = u.entered_by
           WHERE u.utility_id = $1 AND u.zone_id = $2
           ORDER BY u.day DESC, u.id DESC LIMIT $3"#,
        utility_id,
        zone_id,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| UnbilledEntry {
            id: r.id,
            day: r.day,
            kind: UnbilledKind::parse(&r.kind).unwrap_or(UnbilledKind::Other),
            litres: r.litres,
            note: r.note,
            entered_by: r.entered_by,
            entered_at: r.entered_at,
        })
        .collect())
}
