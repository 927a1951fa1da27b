//! Creating a demo utility: its customers (people, companies, housing communities, institutions),
//! supply points with addresses, meters (with replacements), contracts, staff and resident
//! accounts, and daily readings produced by the firmware-sim model, so the demo's history and the
//! simulator's live readings are one and the same fleet. One village household has a meter
//! without radio, outside the simulated fleet: its resident's monthly self-readings are seeded
//! instead.
//!
//! Idempotent: a utility that exists is left as it is, and only readings from its newest one up
//! to now are added (the simulated meters kept counting while the demo was stopped).

use std::collections::HashMap;

use anyhow::{Context, Result};
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use ebok_common::audit::{self, Actor, AuditEntry};
use ebok_common::domain::identifiers::{Nip, Nrb, Pesel, Sex};
use ebok_common::domain::time::{day_start, local_day};
use ebok_common::domain::{ReadingFlags, Register};
use firmware_sim::model::{BusinessKind, FaultKind, FleetSpec, MeterModel, Profile, StatusFlags};
use sqlx::{PgConnection, PgPool};

use super::names::{self, Locality};

/// The demo fleets' registers start counting here (a Warsaw midnight). Fixed, so every run, on
/// any day, computes the same register values for the same instant.
pub fn fleet_start() -> DateTime<Utc> {
    day_start(NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date"))
}

/// The password of every demo account, printed in the demo banner.
pub const DEMO_PASSWORD: &str = "Demo-eBOK-2026";

/// The authenticator key of every demo staff account (160 bits, as RFC 4226 recommends),
/// published like the password: the banner prints it for an authenticator app, and
/// `ebok totp <key>` prints its current code. Only the demo's own utilities use it.
pub const DEMO_TOTP_SECRET: &[u8; 20] = b"eBOK-demo-2026-TOTP!";

/// One demo utility.
pub struct UtilitySpec {
    pub slug: &'static str,
    pub municipality: &'static str,
    pub name: &'static str,
    pub nip_first_nine: u32,
    pub street: &'static str,
    pub building_no: &'static str,
    pub postal_code: &'static str,
    pub city: &'static str,
    pub phone: &'static str,
    /// Staff e-mail addresses are `<role>@<domain>`.
    pub domain: &'static str,
    pub localities: &'static [Locality],
    pub supply_points: u32,
    pub seed: u64,
    /// Which invoices it sends to KSeF (`ksef_scope`): the demo sends through its emulator.
    pub ksef_scope: &'static str,
}

/// A login printed in the banner.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub utility: &'static str,
    pub role: &'static str,
    pub email: String,
    pub note: String,
}

/// What seeding did.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub utility_id: i64,
    pub created: bool,
    pub readings_added: u64,
    pub logins: Vec<DemoLogin>,
    /// A customer nobody has linked yet and a fresh code from its "paper invoice", to try
    /// linking an account: (customer number, code).
    pub link_code: Option<(String, String)>,
    /// Invoices issued by this run (filled in by the demo's billing).
    pub invoices_issued: usize,
}

fn fleet(spec: &UtilitySpec) -> FleetSpec {
    FleetSpec::new(spec.seed, fleet_start())
}

/// Creates the utility unless it exists; then adds readings up to `now`.
pub async fn ensure_utility(
    pool: &PgPool,
    spec: &UtilitySpec,
    days: u32,
    now: DateTime<Utc>,
) -> Result<Seeded> {
    let existing: Option<i64> =
        sqlx::query_scalar!("SELECT id FROM utilities WHERE slug = $1", spec.slug)
            .fetch_optional(pool)
            .await?;
    if let Some(utility_id) = existing {
        let readings_added = top_up_readings(pool, spec, utility_id, now).await?;
        // A demo database from before staff had a second factor gets the demo key too.
        enrol_staff(&mut *pool.acquire().await?, utility_id).await?;
        return Ok(Seeded {
            utility_id,
            created: false,
            readings_added,
            logins: logins_of(pool, utility_id, spec).await?,
            link_code: link_code(pool, utility_id).await?,
            invoices_issued: 0,
        });
    }
    let mut tx = pool.begin().await?;
    let utility_id = insert_utility(&mut tx, spec).await?;
    let population = Population::generate(spec, now);
    let meters = insert_population(&mut tx, spec, utility_id, &population).await?;
    let mut logins = insert_staff(&mut tx, spec, utility_id).await?;
    enrol_staff(&mut tx, utility_id).await?;
    logins.extend(insert_residents(&mut tx, spec, utility_id, &population, now).await?);
    let from = (now - chrono::Duration::days(i64::from(days))).max(fleet_start());
    let readings_added = insert_readings(&mut tx, &meters, from, now).await?
        + insert_self_readings(&mut tx, utility_id, &meters.manual, from, now).await?;
    audit::record(
        &mut tx,
        &AuditEntry {
            utility_id: Some(utility_id),
            actor: Actor::System,
            action: "utility.created",
            entity_type: Some("utility"),
            entity_id: Some(utility_id.to_string()),
            details: serde_json::json!({
                "demo": true,
                "supply_points": spec.supply_points,
                "readings": readings_added,
            }),
            request_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Seeded {
        utility_id,
        created: true,
        readings_added,
        logins,
        link_code: link_code(pool, utility_id).await?,
        invoices_issued: 0,
    })
}

/// A fresh code for the first household customer no account is linked to (as printed on its
/// next paper invoice), so whoever runs the demo can register and link an account.
async fn link_code(pool: &PgPool, utility_id: i64) -> Result<Option<(String, String)>> {
    let customer: Option<(i64, String)> = sqlx::query_as(
        "SELECT c.id, c.customer_number FROM customers c
         WHERE c.utility_id = $1 AND c.kind = 'person'
           AND NOT EXISTS (SELECT 1 FROM account_customers ac WHERE ac.customer_id = c.id)
           AND EXISTS (SELECT 1 FROM contracts k WHERE k.customer_id = c.id AND k.status = 'active')
         ORDER BY c.id LIMIT 1",
    )
    .bind(utility_id)
    .fetch_optional(pool)
    .await?;
    let Some((id, number)) = customer else {
        return Ok(None);
    };
    let code = ebok_api::issue_link_code(pool, utility_id, id).await?;
    Ok(Some((number, code)))
}

async fn insert_utility(conn: &mut PgConnection, spec: &UtilitySpec) -> Result<i64> {
    let nip = nip_near(spec.nip_first_nine);
    // A collection account in a made-up bank branch, with real check digits; each customer
    // pays to a virtual account of their own in the same branch (prefix 77).
    let bank = Nrb::from_bank_and_account(
        "10203046",
        &format!("{:016}", spec.seed % 10_000_000_000_000_000),
    )?;
    let id = sqlx::query_scalar!(
        r#"INSERT INTO utilities (slug, municipality, name, nip, street, building_no, postal_code,
                                  city, email, phone, website, bank_account, office_hours,
                                  virtual_account_sort_code, virtual_account_prefix, ksef_scope)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                   'pon. 7:00–17:00, wt.–pt. 7:00–15:00', '10203046', '77',
                   $13::text::ksef_scope)
           RETURNING id"#,
        spec.slug,
        spec.municipality,
        spec.name,
        nip.as_str(),
        spec.street,
        spec.building_no,
        spec.postal_code,
        spec.city,
        format!("bok@{}", spec.domain),
        spec.phone,
        format!("https://{}", spec.domain),
        bank.as_str(),
        spec.ksef_scope,
    )
    .fetch_one(&mut *conn)
    .await?;
    for (code, name) in TARIFF_GROUPS {
        sqlx::query!(
            "INSERT INTO tariff_groups (utility_id, code, name) VALUES ($1, $2, $3)",
            id,
            code,
            name
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

const TARIFF_GROUPS: [(&str, &str); 4] = [
    ("GD", "Gospodarstwa domowe"),
    ("PU", "Przemysł i usługi"),
    ("IN", "Instytucje publiczne"),
    ("RL", "Gospodarstwa rolne"),
];

fn tariff_of(profile: &Profile) -> &'static str {
    match profile {
        Profile::Household { .. } | Profile::HousingCommunity { .. } => "GD",
        Profile::Business { .. } => "PU",
        Profile::PublicInstitution { .. } => "IN",
        Profile::Farm { .. } => "RL",
    }
}

/// The first valid NIP at or after `first_nine` (a nine-digit prefix whose checksum would be
/// 10 has no valid NIP).
fn nip_near(first_nine: u32) -> Nip {
    (first_nine..)
        .find_map(Nip::from_first_nine)
        .expect("a valid NIP within a few steps")
}

/// A deterministic 64-bit mix of the seed and an index (SplitMix64's finaliser).
fn mix(seed: u64, index: u64, purpose: u64) -> u64 {
    let mut z = seed
        .wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(purpose.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One supply point with its customer and meter model, before it reaches the database.
struct Point {
    index: u64,
    model: MeterModel,
    /// Its meter has no radio: the resident reads it and enters the register in the eBOK.
    manual: bool,
    code: String,
    customer: Customer,
    locality: &'static Locality,
    street: Option<&'static str>,
    building_no: String,
    lat: f64,
    lon: f64,
}

struct Customer {
    number: String,
    kind: &'static str,
    first_name: Option<String>,
    last_name: Option<String>,
    name: String,
    pesel: Option<String>,
    nip: Option<String>,
    phone: Option<String>,
}

struct Population {
    /// The simulated fleet's supply points (indexes `0..supply_points`), then the household
    /// with a manual meter ([`Population::manual_household`]).
    points: Vec<Point>,
}

impl Population {
    fn generate(spec: &UtilitySpec, now: DateTime<Utc>) -> Population {
        let fleet = fleet(spec);
        let total_weight: u32 = spec.localities.iter().map(|l| l.weight).sum();
        let mut next_number: HashMap<(&str, Option<&str>), u32> = HashMap::new();
        let points = (0..u64::from(spec.supply_points))
            .map(|index| {
                let model = fleet.meter(index);
                let r = |purpose| mix(spec.seed, index, purpose);
                let mut pick = (r(1) % u64::from(total_weight)) as u32;
                let locality = spec
                    .localities
                    .iter()
                    .find(|l| {
                        if pick < l.weight {
                            true
                        } else {
                            pick -= l.weight;
                            false
                        }
                    })
                    .expect("weights cover the range");
                let street =
                    (!locality.streets.is_empty()).then(|| names::pick(locality.streets, r(2)));
                let number = next_number.entry((locality.name, street)).or_insert(0);
                *number += 1 + (r(3) % 2) as u32;
                let building_no = if r(4) % 9 == 0 {
                    format!("{}{}", number, ['A', 'B'][(r(5) % 2) as usize])
                } else {
                    number.to_string()
                };
                let jitter = |v: u64| ((v % 2001) as f64 - 1000.0) / 1000.0 * 0.008;
                let customer =
                    customer_for(spec, index, &model, locality, street, &building_no, now);
                Point {
                    index,
                    code: format!("PP-{:06}", index + 1),
                    customer,
                    locality,
                    street,
                    building_no,
                    lat: locality.lat + jitter(r(6)),
                    lon: locality.lon + jitter(r(7)) * 1.6,
                    model,
                    manual: false,
                }
            })
            .collect::<Vec<_>>();
        let mut population = Population { points };
        if let Some(point) = population.manual_household(spec, &fleet, now) {
            population.points.push(point);
        }
        population
    }

    /// A household in a village whose meter has no radio, so that self-reading can be seen:
    /// the first household model past the fleet's indexes (the simulator plays only
    /// `0..supply_points`, so no telegram of it ever reaches ingest) not replaced by now,
    /// in the first village without streets, at the next free house number there.
    fn manual_household(
        &self,
        spec: &UtilitySpec,
        fleet: &FleetSpec,
        now: DateTime<Utc>,
    ) -> Option<Point> {
        let village = spec.localities.iter().find(|l| l.streets.is_empty())?;
        let first = u64::from(spec.supply_points);
        let (index, model) = (first..first + 1000)
            .map(|index| (index, fleet.meter(index)))
            .find(|(_, m)| {
                matches!(m.profile(), Profile::Household { .. })
                    && m.replacement().is_none_or(|r| r.at > now)
            })?;
        let taken = self
            .points
            .iter()
            .filter(|p| p.locality.name == village.name)
            .filter_map(|p| {
                let digits: String = p
                    .building_no
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse::<u32>().ok()
            })
            .max()
            .unwrap_or(0);
        let building_no = (taken + 1).to_string();
        Some(Point {
            index,
            code: format!("PP-{:06}", index + 1),
            customer: customer_for(spec, index, &model, village, None, &building_no, now),
            locality: village,
            street: None,
            building_no,
            lat: village.lat,
            lon: village.lon,
            model,
            manual: true,
        })
    }
}

fn customer_for(
    spec: &UtilitySpec,
    index: u64,
    model: &MeterModel,
    locality: &Locality,
    street: Option<&str>,
    building_no: &str,
    now: DateTime<Utc>,
) -> Customer {
    let r = |purpose| mix(spec.seed, index, purpose);
    let number = format!("{:06}", 100_000 + index);
    let phone = (r(20) % 3 != 0).then(|| {
        format!(
            "+48 {} {:03} {:03}",
            500 + r(21) % 300,
            r(22) % 1000,
            r(23) % 1000
        )
    });
    let organisation = |kind: &'static str, name: String| Customer {
        number: number.clone(),
        kind,
        first_name: None,
        last_name: None,
        name,
        pesel: None,
        nip: Some(
            // Businesses registered in the Elbląg tax office (code 578).
            nip_near(578_100_000 + (index as u32) * 37)
                .as_str()
                .to_string(),
        ),
        phone: phone.clone(),
    };
    let place = match street {
        Some(s) => format!("ul. {s} {building_no}"),
        None => format!("{} {building_no}", locality.name),
    };
    match model.profile() {
        Profile::Household { .. } | Profile::Farm { .. } => {
            let sex = if r(10) % 2 == 0 {
                Sex::Female
            } else {
                Sex::Male
            };
            let surname = names::pick(names::SURNAMES, r(11));
            let (first, last) = match sex {
                Sex::Female => (
                    names::pick(names::FEMALE_NAMES, r(12)),
                    names::feminine(surname),
                ),
                Sex::Male => (names::pick(names::MALE_NAMES, r(12)), surname.to_string()),
            };
            // Distinct (birth date, serial) for every index below 2.7 million.
            let born =
                NaiveDate::from_ymd_opt(1940, 1, 1).expect("valid") + Days::new((index % 2737) * 8);
            let born = born.min(local_day(now) - Days::new(18 * 366));
            let pesel = Pesel::generate(born, sex, ((index / 2737) % 1000) as u16);
            Customer {
                number,
                kind: "person",
                first_name: Some(first.to_string()),
                last_name: Some(last.clone()),
                name: format!("{first} {last}"),
                pesel: Some(pesel.as_str().to_string()),
                nip: None,
                phone,
            }
        }
        Profile::Business { kind } => {
            let list = match kind {
                BusinessKind::Shop => names::SHOPS,
                BusinessKind::Office => names::OFFICES,
                BusinessKind::Workshop => names::WORKSHOPS,
            };
            organisation(
                "company",
                format!("{} ({})", names::pick(list, r(13)), locality.name),
            )
        }
        Profile::HousingCommunity { .. } => organisation(
            "housing_community",
            format!("Wspólnota Mieszkaniowa {place}"),
        ),
        Profile::PublicInstitution { .. } => organisation(
            "public_institution",
            format!(
                "{} w {}",
                names::pick(names::INSTITUTIONS, r(14)),
                locality.name
            ),
        ),
    }
}

/// Meter rows created for one supply point: the original and, if it was replaced before now,
/// its replacement. Keyed by radio id for readings.
struct SeededMeters {
    by_radio: HashMap<String, MeterRow>,
    models: Vec<MeterModel>,
    /// Meters without radio, with the model of what their residents read off them.
    manual: Vec<(i64, MeterModel)>,
}

#[derive(Clone, Copy)]
struct MeterRow {
    id: i64,
    register_max: i64,
    source: &'static str,
}

fn radio_hex(id: firmware_sim::model::RadioId) -> String {
    format!("{:08x}", id.0)
}

fn manufacturer_of(serial: &str) -> (&'static str, &'static str) {
    match serial.chars().next() {
        Some('A') => ("Apator Powogaz", "JS Smart+"),
        Some('B') => ("Diehl Metering", "ALTAIR V4"),
        _ => ("Itron", "Cyble"),
    }
}

fn diameter_of(profile: &Profile) -> i16 {
    match profile {
        Profile::Household { .. } => 15,
        Profile::Business { .. } | Profile::Farm { .. } => 20,
        Profile::PublicInstitution { .. } => 32,
        Profile::HousingCommunity { .. } => 40,
    }
}

/// The meter's channel and the source of its readings.
fn channel_of(profile: &Profile) -> (&'static str, &'static str) {
    if profile.read_over_modbus() {
        ("modbus", "modbus")
    } else {
        ("wmbus", "radio")
    }
}

async fn insert_population(
    conn: &mut PgConnection,
    spec: &UtilitySpec,
    utility_id: i64,
    population: &Population,
) -> Result<SeededMeters> {
    let tariffs: HashMap<String, i64> = sqlx::query!(
        "SELECT code, id FROM tariff_groups WHERE utility_id = $1",
        utility_id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.code, r.id))
    .collect();
    let now = Utc::now();
    let mut by_radio = HashMap::new();
    let mut models = Vec::with_capacity(population.points.len());
    let mut manual = Vec::new();
    for point in &population.points {
        let c = &point.customer;
        let post_town =
            (point.locality.post_town != point.locality.name).then_some(point.locality.post_town);
        let customer_id = sqlx::query_scalar!(
            r#"INSERT INTO customers (utility_id, customer_number, kind, first_name, last_name,
                                      name, pesel, nip, street, building_no, postal_code, city,
                                      post_town, phone)
               VALUES ($1, $2, $3::text::customer_kind, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                       $13, $14)
               RETURNING id"#,
            utility_id,
            c.number,
            c.kind,
            c.first_name,
            c.last_name,
            c.name,
            c.pesel,
            c.nip,
            point.street,
            point.building_no,
            point.locality.postal_code,
            point.locality.name,
            post_town,
            c.phone,
        )
        .fetch_one(&mut *conn)
        .await?;
        let supply_point_id = sqlx::query_scalar!(
            r#"INSERT INTO supply_points (utility_id, code, street, building_no, postal_code,
                                          city, post_town, latitude, longitude, water_service,
                                          sewage_service)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, true, $10)
               RETURNING id"#,
            utility_id,
            point.code,
            point.street,
            point.building_no,
            point.locality.postal_code,
            point.locality.name,
            post_town,
            point.lat,
            point.lon,
            point.locality.sewer,
        )
        .fetch_one(&mut *conn)
        .await?;

        let model = &point.model;
        let profile = model.profile();
        let (channel, source) = if point.manual {
            ("manual", "manual")
        } else {
            channel_of(&profile)
        };
        let register_max = model.register_max() as i64;
        // Installed some years before the fleet start; legalised for five years.
        let installed = fleet_start()
            - chrono::Duration::days(30 + (mix(spec.seed, point.index, 30) % 1500) as i64);
        let replacement = model.replacement().filter(|r| r.at <= now);
        let serial = model.serial().to_string();
        let (manufacturer, model_name) = manufacturer_of(&serial);
        let original_id = sqlx::query_scalar!(
            r#"INSERT INTO meters (utility_id, serial, radio_id, manufacturer, model, channel,
                                   register_max_litres, diameter_mm, legalised_until,
                                   supply_point_id, installed_at, removed_at,
                                   removal_reading_litres)
               VALUES ($1, $2, $3, $4, $5, $6::text::meter_channel, $7, $8, $9, $10, $11, $12, $13)
               RETURNING id"#,
            utility_id,
            serial,
            (!point.manual).then(|| radio_hex(model.radio_id())),
            manufacturer,
            model_name,
            channel,
            register_max,
            diameter_of(&profile),
            local_day(installed).with_year(local_day(installed).year() + 5),
            supply_point_id,
            installed,
            replacement.map(|r| r.at),
            replacement
                .and_then(|_| model.removed_register())
                .map(|l| l as i64),
        )
        .fetch_one(&mut *conn)
        .await?;
        if point.manual {
            manual.push((original_id, model.clone()));
        } else {
            by_radio.insert(
                radio_hex(model.radio_id()),
                MeterRow {
                    id: original_id,
                    register_max,
                    source,
                },
            );
        }
        if let Some(r) = replacement {
            let serial = r.new_serial.to_string();
            let (manufacturer, model_name) = manufacturer_of(&serial);
            let new_id = sqlx::query_scalar!(
                r#"INSERT INTO meters (utility_id, serial, radio_id, manufacturer, model, channel,
                                       register_max_litres, diameter_mm, legalised_until,
                                       supply_point_id, installed_at, install_reading_litres,
                                       replaces_meter_id)
                   VALUES ($1, $2, $3, $4, $5, $6::text::meter_channel, $7, $8, $9, $10, $11, $12, $13)
                   RETURNING id"#,
                utility_id,
                serial,
                radio_hex(r.new_radio_id),
                manufacturer,
                model_name,
                channel,
                register_max,
                diameter_of(&profile),
                local_day(r.at).with_year(local_day(r.at).year() + 5),
                supply_point_id,
                r.at,
                r.new_initial_litres as i64,
                original_id,
            )
            .fetch_one(&mut *conn)
            .await?;
            by_radio.insert(
                radio_hex(r.new_radio_id),
                MeterRow {
                    id: new_id,
                    register_max,
                    source,
                },
            );
        }
        sqlx::query!(
            r#"INSERT INTO contracts (utility_id, number, customer_id, supply_point_id,
                                      tariff_group_id, valid_from, status, signed_at)
               VALUES ($1, $2, $3, $4, $5, $6, 'active', $7)"#,
            utility_id,
            format!("UM/{}/{:06}", local_day(installed).year(), point.index + 1),
            customer_id,
            supply_point_id,
            tariffs[tariff_of(&profile)],
            local_day(installed),
            installed,
        )
        .execute(&mut *conn)
        .await?;
        if !point.manual {
            models.push(model.clone());
        }
    }
    Ok(SeededMeters {
        by_radio,
        models,
        manual,
    })
}

async fn insert_staff(
    conn: &mut PgConnection,
    spec: &UtilitySpec,
    utility_id: i64,
) -> Result<Vec<DemoLogin>> {
    let staff = [
        ("admin", "admin", "Administrator systemu"),
        ("clerk", "bok", "Biuro Obsługi Klienta"),
        ("billing", "rozliczenia", "Dział rozliczeń"),
        ("technician", "technik", "Brygada techniczna"),
    ];
    let mut logins = Vec::new();
    for (role, local, display) in staff {
        let email = format!("{local}@{}", spec.domain);
        insert_account(conn, utility_id, &email, role, display).await?;
        logins.push(DemoLogin {
            utility: spec.slug,
            role,
            email,
            note: display.to_string(),
        });
    }
    Ok(logins)
}

/// Gives every staff account of the demo utility without an authenticator the demo key, in
/// effect (so the banner's key signs them in).
async fn enrol_staff(conn: &mut PgConnection, utility_id: i64) -> Result<()> {
    sqlx::query!(
        r#"INSERT INTO staff_authenticators (account_id, utility_id, secret, confirmed_at)
           SELECT id, utility_id, $2, now() FROM user_accounts
           WHERE utility_id = $1 AND role <> 'resident'
           ON CONFLICT (account_id) DO NOTHING"#,
        utility_id,
        DEMO_TOTP_SECRET.as_slice(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_account(
    conn: &mut PgConnection,
    utility_id: i64,
    email: &str,
    role: &str,
    display_name: &str,
) -> Result<i64> {
    let hash = ebok_api::password::hash(DEMO_PASSWORD)?;
    Ok(sqlx::query_scalar!(
        r#"INSERT INTO user_accounts (utility_id, email, password_hash, role, status,
                                      display_name, activated_at)
           VALUES ($1, $2, $3, $4::text::account_role, 'active', $5, now())
           RETURNING id"#,
        utility_id,
        email,
        hash,
        role,
        display_name,
    )
    .fetch_one(conn)
    .await?)
}

/// Residents with linked customers: a household, the household whose meter leaks most recently
/// (for alarms), a company, and the household that reads its own meter.
async fn insert_residents(
    conn: &mut PgConnection,
    spec: &UtilitySpec,
    utility_id: i64,
    population: &Population,
    now: DateTime<Utc>,
) -> Result<Vec<DemoLogin>> {
    let household = population
        .points
        .iter()
        .find(|p| matches!(p.model.profile(), Profile::Household { .. }));
    // The household whose meter leaks now (else the one that leaked last within 30 days).
    let leaks = |p: &&Point| {
        p.model
            .fault_episodes(now - chrono::Duration::days(30), now)
            .into_iter()
            .filter(|e| e.fault.kind() == FaultKind::Leak)
            .collect::<Vec<_>>()
    };
    let households = || {
        population
            .points
            .iter()
            .filter(|p| matches!(p.model.profile(), Profile::Household { .. }))
    };
    let leaking = households()
        .find(|p| leaks(p).iter().any(|e| e.end > now))
        .or_else(|| households().rev().find(|p| !leaks(p).is_empty()));
    let company = population
        .points
        .iter()
        .find(|p| matches!(p.model.profile(), Profile::Business { .. }));
    let manual = population.points.iter().find(|p| p.manual);
    let mut logins = Vec::new();
    let mut seen = Vec::new();
    for (point, note) in [
        (household, "gospodarstwo domowe"),
        (leaking, "gospodarstwo z wyciekiem — alarm na pulpicie"),
        (company, "firma"),
        (manual, "wodomierz bez radia — podaje odczyty sam"),
    ] {
        let Some(point) = point else { continue };
        if seen.contains(&point.index) {
            continue;
        }
        seen.push(point.index);
        let email = resident_email(&point.customer, spec.domain);
        let account_id =
            insert_account(conn, utility_id, &email, "resident", &point.customer.name).await?;
        let customer_id = sqlx::query_scalar!(
            "SELECT id FROM customers WHERE utility_id = $1 AND customer_number = $2",
            utility_id,
            point.customer.number
        )
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query!(
            "UPDATE customers SET email = $1 WHERE id = $2",
            email,
            customer_id
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query!(
            r#"INSERT INTO account_customers (utility_id, account_id, customer_id, linked_via)
               VALUES ($1, $2, $3, 'staff')"#,
            utility_id,
            account_id,
            customer_id
        )
        .execute(&mut *conn)
        .await?;
        logins.push(DemoLogin {
            utility: spec.slug,
            role: "resident",
            email,
            note: format!(
                "{} ({note}, klient {})",
                point.customer.name, point.customer.number
            ),
        });
    }
    // The generated history bypasses ingest, which raises alarms from live readings only: the
    // leaking household's leaks of the last 30 days become its meter's alarms (the one going
    // on now stays open, and ingest clears it when the simulated leak ends).
    if let Some(point) = leaking {
        for leak in leaks(&point) {
            let cleared = (leak.end <= now).then_some(leak.end);
            sqlx::query!(
                r#"INSERT INTO meter_alarms (utility_id, meter_id, kind, state, raised_at,
                                            cleared_at, details)
                   SELECT $1, m.id, 'leak',
                          CASE WHEN $4::timestamptz IS NULL THEN 'raised'
                               ELSE 'cleared' END::meter_alarm_state,
                          $3, $4, '{"demo": true}'
                   FROM meters m JOIN supply_points sp ON sp.id = m.supply_point_id
                   WHERE sp.utility_id = $1 AND sp.code = $2 AND m.removed_at IS NULL
                     AND m.installed_at <= $3
                   ON CONFLICT DO NOTHING"#,
                utility_id,
                point.code,
                leak.start,
                cleared,
            )
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(logins)
}

/// `jan.kowalski@mieszkancy.<domain>` for people (without Polish letters),
/// `klient.<number>@mieszkancy.<domain>` for organisations.
fn resident_email(customer: &Customer, domain: &str) -> String {
    if customer.kind != "person" {
        return format!("klient.{}@mieszkancy.{domain}", customer.number);
    }
    let ascii = names::ascii_lower(&customer.name, '.');
    let local: String = ascii
        .split('.')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    format!("{local}@mieszkancy.{domain}")
}

/// Staff and resident logins of an existing utility (for the banner on later runs).
async fn logins_of(pool: &PgPool, utility_id: i64, spec: &UtilitySpec) -> Result<Vec<DemoLogin>> {
    let rows = sqlx::query!(
        r#"SELECT role::text AS "role!", email, display_name FROM user_accounts
           WHERE utility_id = $1 ORDER BY role, id"#,
        utility_id
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| DemoLogin {
            utility: spec.slug,
            role: match r.role.as_str() {
                "admin" => "admin",
                "clerk" => "clerk",
                "billing" => "billing",
                "technician" => "technician",
                _ => "resident",
            },
            email: r.email,
            note: r.display_name,
        })
        .collect())
}

/// Adds the readings measured after the newest stored one, up to `now`.
async fn top_up_readings(
    pool: &PgPool,
    spec: &UtilitySpec,
    utility_id: i64,
    now: DateTime<Utc>,
) -> Result<u64> {
    let newest: Option<DateTime<Utc>> = sqlx::query_scalar!(
        r#"SELECT max(l.measured_at) FROM meter_latest_readings l
           JOIN meters m ON m.id = l.meter_id
           WHERE m.utility_id = $1 AND m.radio_id IS NOT NULL"#,
        utility_id
    )
    .fetch_one(pool)
    .await?;
    let Some(newest) = newest else { return Ok(0) };
    if newest >= now {
        return Ok(0);
    }
    let rows = sqlx::query!(
        r#"SELECT id, radio_id AS "radio_id!", register_max_litres,
                  channel::text AS "channel!"
           FROM meters WHERE utility_id = $1 AND radio_id IS NOT NULL"#,
        utility_id
    )
    .fetch_all(pool)
    .await?;
    let by_radio: HashMap<String, MeterRow> = rows
        .into_iter()
        .map(|r| {
            let source = if r.channel == "modbus" {
                "modbus"
            } else {
                "radio"
            };
            (
                r.radio_id,
                MeterRow {
                    id: r.id,
                    register_max: r.register_max_litres,
                    source,
                },
            )
        })
        .collect();
    let fleet = fleet(spec);
    let meters = SeededMeters {
        models: fleet.meters(0..u64::from(spec.supply_points)).collect(),
        by_radio,
        manual: Vec::new(),
    };
    let mut conn = pool.acquire().await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let added = insert_readings(&mut tx, &meters, newest, now).await?;
    tx.commit().await?;
    Ok(added)
}

/// Writes the daily telegrams measured in `(from, now]` with `COPY`, then moves each meter's
/// latest reading forward. Duplicate telegrams are dropped here (the table keeps one reading per
/// meter and instant); readings of meters the database does not know are skipped.
async fn insert_readings(
    conn: &mut PgConnection,
    meters: &SeededMeters,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64> {
    sqlx::query_scalar!("SELECT ebok_ensure_reading_partitions($1, $2)", from, now)
        .fetch_one(&mut *conn)
        .await?;
    let mut copy = conn
        .copy_in_raw(
            "COPY meter_readings (meter_id, measured_at, volume_litres, source, flags, received_at) \
             FROM STDIN",
        )
        .await
        .context("starting COPY of readings")?;
    let mut buffer = String::with_capacity(1 << 20);
    let mut count = 0u64;
    for model in &meters.models {
        let mut previous: Option<(i64, i64)> = None;
        for t in model.transmissions(from, now, 1) {
            if t.duplicate || t.measured_at <= from || t.sent_at > now {
                continue;
            }
            let Some(row) = meters.by_radio.get(&radio_hex(t.reading.radio_id)) else {
                continue;
            };
            let litres = t.reading.litres as i64;
            let mut flags = device_flags(t.reading.alarms_24h);
            if let Some((meter, before)) = previous
                && meter == row.id
                && let Some(register) = Register::new(row.register_max)
            {
                flags = flags.with(match register.step(before, litres, 5_000_000) {
                    ebok_common::domain::Step::Forward(_) => 0,
                    ebok_common::domain::Step::Rollover(_) => ReadingFlags::ROLLOVER,
                    ebok_common::domain::Step::Backward(_) => ReadingFlags::DECREASE,
                });
            }
            if !t.late {
                previous = Some((row.id, litres));
            }
            use std::fmt::Write;
            let _ = writeln!(
                buffer,
                "{}\t{}\t{}\t{}\t{}\t{}",
                row.id,
                t.measured_at.to_rfc3339(),
                litres,
                row.source,
                flags.0,
                t.sent_at.to_rfc3339()
            );
            count += 1;
            if buffer.len() > (1 << 20) - 256 {
                copy.send(buffer.as_bytes()).await?;
                buffer.clear();
            }
        }
    }
    if !buffer.is_empty() {
        copy.send(buffer.as_bytes()).await?;
    }
    copy.finish().await.context("finishing COPY of readings")?;
    let ids: Vec<i64> = meters.by_radio.values().map(|m| m.id).collect();
    sqlx::query!(
        r#"INSERT INTO meter_latest_readings AS l
               (meter_id, measured_at, volume_litres, source, flags, received_at)
           SELECT DISTINCT ON (meter_id) meter_id, measured_at, volume_litres, source, flags,
                  received_at
           FROM meter_readings
           WHERE meter_id = ANY($1) AND measured_at > $2
           ORDER BY meter_id, measured_at DESC
           ON CONFLICT (meter_id) DO UPDATE
               SET measured_at = EXCLUDED.measured_at, volume_litres = EXCLUDED.volume_litres,
                   source = EXCLUDED.source, flags = EXCLUDED.flags,
                   received_at = EXCLUDED.received_at
               WHERE l.measured_at < EXCLUDED.measured_at"#,
        &ids,
        from
    )
    .execute(&mut *conn)
    .await?;
    Ok(count)
}

/// The readings residents entered for their meters without radio: one on the last day of every
/// month in `(from, now]`, at 18:00, as their resident's self-readings (the register from the
/// meter's model); each meter's latest reading moves forward.
async fn insert_self_readings(
    conn: &mut PgConnection,
    utility_id: i64,
    meters: &[(i64, MeterModel)],
    from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut count = 0;
    for (meter_id, model) in meters {
        let mut month = local_day(from).with_day(1).expect("the first of a month");
        while month <= local_day(now) {
            let next = month
                .checked_add_months(chrono::Months::new(1))
                .expect("a month within range");
            let at = day_start(next - Days::new(1)) + chrono::Duration::hours(18);
            month = next;
            if at <= from || at > now {
                continue;
            }
            let litres = model.register_at(at).litres as i64;
            sqlx::query!(
                r#"INSERT INTO meter_readings (meter_id, measured_at, volume_litres, source,
                                              received_at)
                   VALUES ($1, $2, $3, 'manual', $2)"#,
                meter_id,
                at,
                litres,
            )
            .execute(&mut *conn)
            .await?;
            sqlx::query!(
                r#"INSERT INTO self_readings (utility_id, meter_id, measured_at, volume_litres,
                                             submitted_by, submitted_at)
                   SELECT $1, $2, $3, $4, ac.account_id, $3
                   FROM meters m
                   JOIN contracts c ON c.supply_point_id = m.supply_point_id
                                   AND c.status = 'active'
                   JOIN account_customers ac ON ac.customer_id = c.customer_id
                   WHERE m.id = $2
                   LIMIT 1"#,
                utility_id,
                meter_id,
                at,
                litres,
            )
            .execute(&mut *conn)
            .await?;
            sqlx::query!(
                r#"INSERT INTO meter_latest_readings AS l
                       (meter_id, measured_at, volume_litres, source, received_at)
                   VALUES ($1, $2, $3, 'manual', $2)
                   ON CONFLICT (meter_id) DO UPDATE
                       SET measured_at = EXCLUDED.measured_at,
                           volume_litres = EXCLUDED.volume_litres, source = EXCLUDED.source,
                           received_at = EXCLUDED.received_at
                       WHERE l.measured_at < EXCLUDED.measured_at"#,
                meter_id,
                at,
                litres,
            )
            .execute(&mut *conn)
            .await?;
            count += 1;
        }
    }
    Ok(count)
}

fn device_flags(status: StatusFlags) -> ReadingFlags {
    let mut flags = ReadingFlags::default();
    for (sim, ours) in [
        (StatusFlags::LEAK, ReadingFlags::LEAK),
        (StatusFlags::BURST, ReadingFlags::BURST),
        (StatusFlags::REVERSE_FLOW, ReadingFlags::BACKFLOW),
        (StatusFlags::TAMPER, ReadingFlags::TAMPER),
        (StatusFlags::DRY, ReadingFlags::DRY),
        (StatusFlags::LOW_BATTERY, ReadingFlags::LOW_BATTERY),
    ] {
        if status.contains(sim) {
            flags = flags.with(ours);
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_population_has_one_manual_household_in_a_village_past_the_simulated_fleet() {
        let [mlynary, _] = crate::demo::utilities(&crate::cli::DemoArgs {
            seed: 2026,
            supply_points: 200,
            days: 1,
            no_serve: true,
            into_configured_database: false,
        });
        let population = Population::generate(&mlynary, Utc::now());
        let manual: Vec<&Point> = population.points.iter().filter(|p| p.manual).collect();
        assert_eq!(manual.len(), 1);
        let point = manual[0];
        assert!(point.index >= 200, "outside the simulator's 0..200");
        assert!(point.locality.streets.is_empty() && point.street.is_none());
        assert!(matches!(point.model.profile(), Profile::Household { .. }));
        assert!(
            !population.points.iter().any(|p| !p.manual
                && p.locality.name == point.locality.name
                && p.building_no == point.building_no),
            "a free house number"
        );
    }
}
