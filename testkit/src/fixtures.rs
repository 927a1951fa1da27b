//! Minimal rows for tests: a utility, a customer, a supply point, a meter, an account, and the
//! household most tests start from ([`household`]: all of them, linked). Each returns the new
//! id(s); names and numbers are made unique so tests can create several.

use sqlx::PgPool;

use crate::mqtt::unique;

pub async fn utility(pool: &PgPool, slug: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO utilities (slug, municipality, name, city)
         VALUES ($1, $2, $3, 'Testowo') RETURNING id",
    )
    .bind(slug)
    .bind(format!("Gmina {slug}"))
    .bind(format!("Wodociągi {slug}"))
    .fetch_one(pool)
    .await
    .expect("inserting a utility")
}

pub async fn person(pool: &PgPool, utility_id: i64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO customers (utility_id, customer_number, kind, first_name, last_name, name, city)
         VALUES ($1, $2, 'person', 'Anna', 'Nowak', 'Anna Nowak', 'Testowo') RETURNING id",
    )
    .bind(utility_id)
    .bind(unique("K"))
    .fetch_one(pool)
    .await
    .expect("inserting a customer")
}

pub async fn supply_point(pool: &PgPool, utility_id: i64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO supply_points (utility_id, code, street, building_no, postal_code, city)
         VALUES ($1, $2, 'Lipowa', '1', '14-420', 'Testowo') RETURNING id",
    )
    .bind(utility_id)
    .bind(unique("PP"))
    .fetch_one(pool)
    .await
    .expect("inserting a supply point")
}

/// A radio meter installed at `supply_point_id` (or in stock when `None`).
pub async fn meter(pool: &PgPool, utility_id: i64, supply_point_id: Option<i64>) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO meters (utility_id, serial, channel, register_max_litres,
                             supply_point_id, installed_at, install_reading_litres)
         VALUES ($1, $2, 'wmbus', 99999999, $3,
                 CASE WHEN $3::bigint IS NULL THEN NULL ELSE now() - interval '1 year' END,
                 CASE WHEN $3::bigint IS NULL THEN NULL ELSE 0 END)
         RETURNING id",
    )
    .bind(utility_id)
    .bind(unique("SN"))
    .bind(supply_point_id)
    .fetch_one(pool)
    .await
    .expect("inserting a meter")
}

/// A network zone `code` named `name`, inside `parent` when given.
pub async fn network_zone(
    pool: &PgPool,
    utility_id: i64,
    code: &str,
    name: &str,
    parent: Option<i64>,
) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO network_zones (utility_id, code, name, parent_id) VALUES ($1, $2, $3, $4)
         RETURNING id",
    )
    .bind(utility_id)
    .bind(code)
    .bind(name)
    .bind(parent)
    .fetch_one(pool)
    .await
    .expect("inserting a network zone")
}

/// A customer's meter ([`meter`]) at a new supply point in network zone `zone_id`.
pub async fn meter_in_zone(pool: &PgPool, utility_id: i64, zone_id: i64) -> i64 {
    let point = supply_point(pool, utility_id).await;
    sqlx::query("UPDATE supply_points SET zone_id = $2 WHERE id = $1")
        .bind(point)
        .bind(zone_id)
        .execute(pool)
        .await
        .expect("placing a supply point in a zone");
    meter(pool, utility_id, Some(point)).await
}

pub async fn tariff_group(pool: &PgPool, utility_id: i64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO tariff_groups (utility_id, code, name) VALUES ($1, 'G1', 'Gospodarstwa domowe')
         RETURNING id",
    )
    .bind(utility_id)
    .fetch_one(pool)
    .await
    .expect("inserting a tariff group")
}

pub async fn resident_account(pool: &PgPool, utility_id: i64, email: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO user_accounts (utility_id, email, role, status, display_name, activated_at)
         VALUES ($1, $2, 'resident', 'active', 'Mieszkaniec', now()) RETURNING id",
    )
    .bind(utility_id)
    .bind(email)
    .fetch_one(pool)
    .await
    .expect("inserting an account")
}

/// An active contract of `customer_id` on `supply_point_id`, in force from a year ago.
pub async fn contract(
    pool: &PgPool,
    utility_id: i64,
    customer_id: i64,
    supply_point_id: i64,
) -> i64 {
    let tariff: i64 = sqlx::query_scalar(
        "INSERT INTO tariff_groups (utility_id, code, name) VALUES ($1, 'G1', 'Gospodarstwa domowe')
         ON CONFLICT (utility_id, code) DO UPDATE SET name = EXCLUDED.name RETURNING id",
    )
    .bind(utility_id)
    .fetch_one(pool)
    .await
    .expect("tariff group");
    sqlx::query_scalar(
        "INSERT INTO contracts (utility_id, number, customer_id, supply_point_id, tariff_group_id,
                                valid_from, status, signed_at)
         VALUES ($1, $2, $3, $4, $5, current_date - 365, 'active', now()) RETURNING id",
    )
    .bind(utility_id)
    .bind(unique("U"))
    .bind(customer_id)
    .bind(supply_point_id)
    .bind(tariff)
    .fetch_one(pool)
    .await
    .expect("inserting a contract")
}

/// Links a resident account to a customer (as if proven with the invoice's activation code).
pub async fn link_customer(pool: &PgPool, utility_id: i64, account_id: i64, customer_id: i64) {
    sqlx::query(
        "INSERT INTO account_customers (utility_id, account_id, customer_id, linked_via)
         VALUES ($1, $2, $3, 'activation_code')",
    )
    .bind(utility_id)
    .bind(account_id)
    .bind(customer_id)
    .execute(pool)
    .await
    .expect("linking an account to a customer");
}

/// Stores a radio reading and moves the meter's latest reading forward (never back), as ingest
/// does.
pub async fn radio_reading(
    pool: &PgPool,
    meter_id: i64,
    at: chrono::DateTime<chrono::Utc>,
    litres: i64,
) {
    sqlx::query(
        "INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source)
         VALUES ($1, $2, $3, 'radio')",
    )
    .bind(meter_id)
    .bind(at)
    .bind(litres)
    .execute(pool)
    .await
    .expect("inserting a reading");
    sqlx::query(
        "INSERT INTO meter_latest_readings AS l
             (meter_id, measured_at, volume_litres, source, received_at)
         VALUES ($1, $2, $3, 'radio', now())
         ON CONFLICT (meter_id) DO UPDATE
             SET measured_at = EXCLUDED.measured_at, volume_litres = EXCLUDED.volume_litres,
                 source = EXCLUDED.source, received_at = EXCLUDED.received_at
             WHERE l.measured_at < EXCLUDED.measured_at",
    )
    .bind(meter_id)
    .bind(at)
    .bind(litres)
    .execute(pool)
    .await
    .expect("moving the latest reading forward");
}

/// A resident's household, the set most tests start from: an active resident account linked to
/// a customer whose signed contract on a supply point is in force since a year ago, with a radio
/// meter installed there a year ago (none from [`household_without_meter`]).
#[derive(Debug, Clone, Copy)]
pub struct Household {
    pub utility_id: i64,
    pub account_id: i64,
    pub customer_id: i64,
    pub supply_point_id: i64,
    pub contract_id: i64,
    pub meter_id: i64,
}

/// A [`Household`] with its meter.
pub async fn household(pool: &PgPool, utility_id: i64, email: &str) -> Household {
    let mut home = household_without_meter(pool, utility_id, email).await;
    home.meter_id = meter(pool, utility_id, Some(home.supply_point_id)).await;
    home
}

/// A [`Household`] whose supply point has no meter yet (`meter_id` is 0): for a test that
/// installs its own.
pub async fn household_without_meter(pool: &PgPool, utility_id: i64, email: &str) -> Household {
    let customer_id = person(pool, utility_id).await;
    let supply_point_id = supply_point(pool, utility_id).await;
    let contract_id = contract(pool, utility_id, customer_id, supply_point_id).await;
    let account_id = resident_account(pool, utility_id, email).await;
    link_customer(pool, utility_id, account_id, customer_id).await;
    Household {
        utility_id,
        account_id,
        customer_id,
        supply_point_id,
        contract_id,
        meter_id: 0,
    }
}

/// A real 4×4 blue PNG a phone might send, carrying `location` in a `tEXt` chunk
/// ("GPSPosition"), so a test can see the metadata go. Written here byte by byte (one stored
/// deflate block, CRC-32 and Adler-32 by their definitions) to need no image crate.
pub fn png_photo(location: &str) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(data);
        let crc = crc32(&out[start..]);
        out.extend(crc.to_be_bytes());
    }
    let (width, height) = (4u32, 4u32);
    // Each row: filter "none", then its pixels.
    let mut row = vec![0u8];
    row.extend([0x1E, 0x5A, 0xC8].repeat(width as usize));
    let raw = row.repeat(height as usize);
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    let mut zlib = vec![0x78, 0x01, 0x01];
    zlib.extend((raw.len() as u16).to_le_bytes());
    zlib.extend((!(raw.len() as u16)).to_le_bytes());
    zlib.extend(&raw);
    zlib.extend(((b << 16) | a).to_be_bytes());
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
    let mut text = b"GPSPosition\0".to_vec();
    text.extend(location.as_bytes());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"tEXt", &text);
    chunk(&mut png, b"IDAT", &zlib);
    chunk(&mut png, b"IEND", &[]);
    png
}
