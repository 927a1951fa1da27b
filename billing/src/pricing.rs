//! Pricing contracts for a period: reading what billing needs of a batch of contracts (the
//! customer and supply point as invoices print them, the meters there and their registers at the
//! period's midnights by the day rule, estimates where a meter has not reported) and billing each
//! by its group's tariffs ([`crate::invoice::bill`]). Nothing here writes: [`prepare`] gives the
//! priced contracts, [`crate::issuing`] numbers and stores them.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Days, Months, NaiveDate, Utc};
use ebok_common::domain::boundary::{self, Sample};
use ebok_common::domain::time::{day_start, local_day};
use ebok_common::domain::{Money, Register, max_flow_litres_per_hour};
use ebok_common::polish::address_lines;
use sqlx::PgConnection;

use crate::amounts;
use crate::consumption::{self, Point, Source};
use crate::document::{InvoiceDocument, Kind, Party};
use crate::invoice::{self, Billed, MeterSpan, Purpose, Services};
use crate::run::{Problem, RunRefused};
use crate::tariff::{self, Tariff};

/// The utility as the seller on its invoices.
#[derive(Debug, Clone)]
pub struct Seller {
    pub party: Party,
    pub city: String,
    pub bank_account: Option<String>,
    /// The sort code and client prefix of its customers' virtual accounts, when it has them.
    pub virtual_accounts: Option<(String, String)>,
    pub payment_term_days: u32,
}

impl Seller {
    /// The account customer `customer_id` pays to: their virtual account, or the utility's.
    pub fn account_for(&self, customer_id: i64) -> Option<String> {
        match &self.virtual_accounts {
            Some((sort_code, prefix)) => {
                crate::transfer::virtual_account(sort_code, prefix, customer_id)
                    .map(|nrb| nrb.as_str().to_string())
                    .or_else(|| self.bank_account.clone())
            }
            None => self.bank_account.clone(),
        }
    }
}

/// The utility's seller data; a utility without a NIP cannot issue invoices.
pub async fn seller(conn: &mut PgConnection, utility_id: i64) -> anyhow::Result<Seller> {
    let u = sqlx::query!(
        r#"SELECT name, nip, street, building_no, postal_code, city, post_town, bank_account,
                  payment_term_days, virtual_account_sort_code, virtual_account_prefix
           FROM utilities WHERE id = $1"#,
        utility_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .context("no such utility")?;
    let Some(nip) = u.nip else {
        return Err(RunRefused::Seller(
            "Zakład nie ma NIP-u w ustawieniach: bez NIP-u sprzedawcy faktury nie można wystawić."
                .into(),
        )
        .into());
    };
    let (Some(building), Some(postal_code), Some(city)) = (u.building_no, u.postal_code, u.city)
    else {
        return Err(RunRefused::Seller(
            "Adres zakładu w ustawieniach jest niepełny: faktura wymaga adresu sprzedawcy.".into(),
        )
        .into());
    };
    let (line1, line2) = address_lines(
        u.street.as_deref(),
        &building,
        None,
        Some(&postal_code),
        &city,
        u.post_town.as_deref(),
    );
    Ok(Seller {
        party: Party {
            name: u.name,
            nip: Some(nip),
            address_line1: line1,
            address_line2: line2,
            customer_number: None,
        },
        city,
        bank_account: u.bank_account,
        virtual_accounts: u
            .virtual_account_sort_code
            .map(|code| (code, u.virtual_account_prefix)),
        payment_term_days: u.payment_term_days as u32,
    })
}

/// The tariffs of a utility by tariff group.
pub async fn tariffs(
    conn: &mut PgConnection,
    utility_id: i64,
) -> sqlx::Result<HashMap<i64, Vec<Tariff>>> {
    let rows = sqlx::query!(
        r#"SELECT id, tariff_group_id, valid_from, water_price_grosze, sewage_price_grosze,
                  subscription_grosze, garden_subscription_grosze, vat_rate
           FROM tariffs WHERE utility_id = $1 ORDER BY tariff_group_id, valid_from"#,
        utility_id
    )
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<i64, Vec<Tariff>> = HashMap::new();
    for r in rows {
        out.entry(r.tariff_group_id).or_default().push(Tariff {
            id: r.id,
            valid_from: r.valid_from,
            water_price: Money::from_grosze(r.water_price_grosze.into()),
            sewage_price: Money::from_grosze(r.sewage_price_grosze.into()),
            subscription: Money::from_grosze(r.subscription_grosze.into()),
            garden_subscription: Money::from_grosze(r.garden_subscription_grosze.into()),
            vat_rate: r.vat_rate as u8,
        });
    }
    Ok(out)
}

/// What every invoice of a run shares.
pub(crate) struct Ctx<'a> {
    pub utility_id: i64,
    pub seller: &'a Seller,
    pub tariffs: &'a HashMap<i64, Vec<Tariff>>,
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub issue_date: NaiveDate,
    pub run_id: Option<i64>,
    /// "periodic" for a run, "settlement" for a settlement on request, "correction" when the
    /// days of an invoice are priced again ([`crate::correction`]).
    pub kind: &'static str,
}

impl Ctx<'_> {
    /// Pricing again the days `first ..= last` an invoice billed: they count as unbilled (each
    /// meter starts where the invoices before them left it, as always).
    fn rebilling(&self) -> bool {
        self.kind == "correction"
    }
}

/// A contract as billing needs it.
pub(crate) struct ContractRow {
    pub id: i64,
    pub number: String,
    pub customer_id: i64,
    pub supply_point_id: i64,
    pub tariff_group_id: i64,
    pub from_day: NaiveDate,
    pub to_day: NaiveDate,
    pub buyer: Party,
    pub supply_point: String,
    pub services: Services,
    pub e_invoice: bool,
}

/// A batch priced before it is issued: what each contract of it would be billed, read without
/// holding the counter (see [`issue`]).
pub(crate) struct Prepared {
    pub contract_ids: Vec<i64>,
    /// The batch's supply points, and the newest invoice of the utility when it was read: an
    /// invoice newer than that at one of these points makes the batch stale.
    pub points: Vec<i64>,
    pub watermark: i64,
    pub priced: Vec<(ContractRow, Billed)>,
    pub already_billed: usize,
    pub estimated: usize,
    pub problems: Vec<Problem>,
}

/// Reads and prices a batch of contracts.
pub(crate) async fn prepare(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    contract_ids: &[i64],
) -> anyhow::Result<Prepared> {
    let watermark = sqlx::query_scalar!(
        r#"SELECT coalesce(max(id), 0) AS "max!" FROM invoices WHERE utility_id = $1"#,
        ctx.utility_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let contracts = contracts(&mut *conn, ctx, contract_ids).await?;
    let mut out = Prepared {
        contract_ids: contract_ids.to_vec(),
        points: contracts.iter().map(|c| c.supply_point_id).collect(),
        watermark,
        priced: Vec::with_capacity(contracts.len()),
        already_billed: 0,
        estimated: 0,
        problems: Vec::new(),
    };
    let (contracts, billed_before): (Vec<_>, Vec<_>) =
        contracts.into_iter().partition(|c| c.from_day <= c.to_day);
    out.already_billed = billed_before.len();
    let points: Vec<i64> = contracts.iter().map(|c| c.supply_point_id).collect();
    let meters = meters_at(&mut *conn, &points, ctx.first, ctx.last).await?;

    // One statement for the facts of every meter of every contract in the batch.
    let no_meters: Vec<MeterRow> = Vec::new();
    let meters_of = |c: &ContractRow| -> Vec<&MeterRow> {
        present(c, meters.get(&c.supply_point_id).unwrap_or(&no_meters))
    };
    let pairs: Vec<(i64, &MeterRow, NaiveDate, NaiveDate)> = contracts
        .iter()
        .flat_map(|c| {
            meters_of(c)
                .into_iter()
                .map(move |m| (c.id, m, c.from_day, c.to_day))
        })
        .collect();
    let mut facts = facts(&mut *conn, &pairs).await?.into_iter();
    // The midnights inside each contract's days where a tariff or a month changes.
    let inner_days = |c: &ContractRow| -> Vec<NaiveDate> {
        let tariffs = ctx
            .tariffs
            .get(&c.tariff_group_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        tariff::segments(tariffs, c.from_day, c.to_day)
            .map(|s| s.iter().skip(1).map(|s| s.first).collect())
            .unwrap_or_default()
    };
    let inner_pairs: Vec<(i64, NaiveDate)> = contracts
        .iter()
        .flat_map(|c| {
            let days = inner_days(c);
            meters_of(c)
                .into_iter()
                .flat_map(move |m| days.clone().into_iter().map(move |d| (m.id, d)))
        })
        .collect();
    let inner = around_midnights(&mut *conn, &inner_pairs).await?;

    for c in contracts {
        let of_contract: Vec<(&MeterRow, Facts)> = meters_of(&c)
            .into_iter()
            .map(|m| (m, facts.next().expect("facts for every pair")))
            .collect();
        let spans = match spans(&mut *conn, &c, &of_contract, &inner_days(&c), &inner).await? {
            Ok(spans) => spans,
            Err(reason) => {
                out.problems.push(Problem {
                    contract_number: c.number.clone(),
                    reason,
                });
                continue;
            }
        };
        let tariffs = ctx
            .tariffs
            .get(&c.tariff_group_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        match invoice::bill(c.from_day, c.to_day, tariffs, c.services, &spans) {
            Ok(billed) => {
                if billed.estimated {
                    out.estimated += 1;
                }
                out.priced.push((c, billed));
            }
            Err(e) => out.problems.push(Problem {
                contract_number: c.number.clone(),
                reason: match e {
                    invoice::BillError::NoTariff(n) => {
                        format!("brak taryfy grupy na dzień {}", n.0.format("%d.%m.%Y"))
                    }
                    invoice::BillError::Backward { serial, source } => format!(
                        "licznik {serial}: stan spadł z {} l do {} l (cofnięcie lub błędny odczyt)",
                        source.from, source.to
                    ),
                },
            }),
        }
    }
    Ok(out)
}

/// The invoice as its documents show it.
pub(crate) fn document(
    ctx: &Ctx<'_>,
    c: &ContractRow,
    billed: &Billed,
    number: String,
    balance_before: Money,
    created_at: DateTime<Utc>,
) -> InvoiceDocument {
    let lines: Vec<_> = billed.lines.iter().map(|l| l.line.clone()).collect();
    let (rates, net, vat, gross) = amounts::totals(&lines);
    let credit = if balance_before.is_negative() {
        -balance_before
    } else {
        Money::ZERO
    };
    let credit_used = credit.min(gross.max(Money::ZERO));
    let mut notes = billed.notes.clone();
    if credit_used > Money::ZERO {
        notes.push(format!(
            "Zaliczono nadpłatę z poprzednich okresów: {}.",
            ebok_common::polish::money(credit_used)
        ));
    }
    InvoiceDocument {
        kind: Kind::Vat,
        number,
        issue_date: ctx.issue_date,
        place_of_issue: Some(ctx.seller.city.clone()),
        period: Some((c.from_day, c.to_day)),
        sale_date: None,
        seller: ctx.seller.party.clone(),
        buyer: c.buyer.clone(),
        supply_point: Some(c.supply_point.clone()),
        lines_before: Vec::new(),
        lines,
        rates,
        net,
        vat,
        gross,
        credit_used,
        amount_due: (gross - credit_used).max(Money::ZERO),
        due_date: ctx.issue_date + Days::new(u64::from(ctx.seller.payment_term_days)),
        bank_account: ctx.seller.account_for(c.customer_id),
        readings: billed.readings.clone(),
        notes,
        created_at,
        ksef_number: None,
    }
}

pub(crate) async fn contracts(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    ids: &[i64],
) -> sqlx::Result<Vec<ContractRow>> {
    let rows = sqlx::query!(
        r#"SELECT c.id, c.number, c.customer_id, c.supply_point_id, c.tariff_group_id,
                  CASE WHEN $5 THEN $2::date
                       ELSE coalesce((SELECT max(i.period_to) + 1 FROM invoices i
                                      WHERE i.contract_id = c.id
                                        AND i.kind IN ('periodic', 'settlement')),
                                     greatest($2::date, c.valid_from)) END AS "from_day!",
                  least($3::date, c.valid_until) AS "to_day!",
                  cu.customer_number, cu.name, cu.nip, cu.street, cu.building_no, cu.apartment_no,
                  cu.postal_code, cu.city, cu.post_town,
                  sp.code AS sp_code, sp.street AS sp_street, sp.building_no AS sp_building,
                  sp.apartment_no AS sp_apartment, sp.postal_code AS sp_postal_code, sp.city AS sp_city,
                  sp.post_town AS sp_post_town,
                  sp.water_service, sp.sewage_service,
                  EXISTS (SELECT 1 FROM account_customers ac
                          JOIN consents k ON k.account_id = ac.account_id
                          WHERE ac.customer_id = c.customer_id AND k.kind = 'e_invoice'
                            AND k.withdrawn_at IS NULL) AS "e_invoice!"
           FROM contracts c
           JOIN customers cu ON cu.id = c.customer_id
           JOIN supply_points sp ON sp.id = c.supply_point_id
           WHERE c.id = ANY($1) AND c.utility_id = $4
           ORDER BY c.id"#,
        ids,
        ctx.first,
        ctx.last,
        ctx.utility_id,
        ctx.rebilling()
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let point = address_lines(
                r.sp_street.as_deref(),
                &r.sp_building,
                r.sp_apartment.as_deref(),
                Some(&r.sp_postal_code),
                &r.sp_city,
                r.sp_post_town.as_deref(),
            );
            // The correspondence address, else the supply point's.
            let (line1, line2) = match &r.building_no {
                Some(building) => address_lines(
                    r.street.as_deref(),
                    building,
                    r.apartment_no.as_deref(),
                    r.postal_code.as_deref(),
                    &r.city,
                    r.post_town.as_deref(),
                ),
                None => point.clone(),
            };
            ContractRow {
                id: r.id,
                number: r.number,
                customer_id: r.customer_id,
                supply_point_id: r.supply_point_id,
                tariff_group_id: r.tariff_group_id,
                from_day: r.from_day,
                to_day: r.to_day,
                buyer: Party {
                    name: r.name,
                    nip: r.nip,
                    address_line1: line1,
                    address_line2: line2,
                    customer_number: Some(r.customer_number),
                },
                supply_point: format!("{}, {}, {}", r.sp_code, point.0, point.1),
                services: Services {
                    water: r.water_service,
                    sewage: r.sewage_service,
                },
                e_invoice: r.e_invoice,
            }
        })
        .collect())
}

/// A customer as the buyer on an invoice (the correspondence address, else the address of a
/// supply point of theirs), and whether they take e-invoices; `None` when the customer is not
/// the utility's.
pub(crate) async fn buyer(
    conn: &mut PgConnection,
    utility_id: i64,
    customer_id: i64,
) -> sqlx::Result<Option<(Party, bool)>> {
    let Some(r) = sqlx::query!(
        r#"SELECT cu.customer_number, cu.name, cu.nip, cu.street, cu.building_no, cu.apartment_no,
                  cu.postal_code, cu.city, cu.post_town,
                  sp.street AS "sp_street?", sp.building_no AS "sp_building?",
                  sp.apartment_no AS "sp_apartment?", sp.postal_code AS "sp_postal_code?",
                  sp.city AS "sp_city?", sp.post_town AS "sp_post_town?",
                  EXISTS (SELECT 1 FROM account_customers ac
                          JOIN consents k ON k.account_id = ac.account_id
                          WHERE ac.customer_id = cu.id AND k.kind = 'e_invoice'
                            AND k.withdrawn_at IS NULL) AS "e_invoice!"
           FROM customers cu
           LEFT JOIN LATERAL (SELECT sp.* FROM contracts c JOIN supply_points sp ON sp.id = c.supply_point_id
                              WHERE c.customer_id = cu.id ORDER BY c.valid_from DESC LIMIT 1) sp ON true
           WHERE cu.id = $1 AND cu.utility_id = $2"#,
        customer_id,
        utility_id
    )
    .fetch_optional(conn)
    .await?
    else {
        return Ok(None);
    };
    let (line1, line2) = match (&r.building_no, &r.sp_building, &r.sp_city) {
        (Some(building), _, _) => address_lines(
            r.street.as_deref(),
            building,
            r.apartment_no.as_deref(),
            r.postal_code.as_deref(),
            &r.city,
            r.post_town.as_deref(),
        ),
        (None, Some(building), Some(city)) => address_lines(
            r.sp_street.as_deref(),
            building,
            r.sp_apartment.as_deref(),
            r.sp_postal_code.as_deref(),
            city,
            r.sp_post_town.as_deref(),
        ),
        _ => (r.city.clone(), String::new()),
    };
    Ok(Some((
        Party {
            name: r.name,
            nip: r.nip,
            address_line1: line1,
            address_line2: line2,
            customer_number: Some(r.customer_number),
        },
        r.e_invoice,
    )))
}

/// A meter of a supply point as billing reads it.
#[derive(Debug, Clone)]
struct MeterRow {
    id: i64,
    serial: String,
    purpose: Purpose,
    register: Register,
    max_flow: i64,
    installed_at: DateTime<Utc>,
    install_reading: Option<i64>,
    removed_at: Option<DateTime<Utc>>,
    removal_reading: Option<i64>,
}

/// The meters at the supply points at any time of `first ..= last`, by supply point.
async fn meters_at(
    conn: &mut PgConnection,
    points: &[i64],
    first: NaiveDate,
    last: NaiveDate,
) -> sqlx::Result<HashMap<i64, Vec<MeterRow>>> {
    let rows = sqlx::query!(
        r#"SELECT id, supply_point_id AS "supply_point_id!", serial, purpose::text AS "purpose!",
                  register_max_litres, diameter_mm, installed_at AS "installed_at!",
                  install_reading_litres, removed_at, removal_reading_litres
           FROM meters
           WHERE supply_point_id = ANY($1) AND installed_at < $3
             AND (removed_at IS NULL OR removed_at > $2)
           ORDER BY supply_point_id, installed_at"#,
        points,
        day_start(first),
        day_start(last + Days::new(1))
    )
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<i64, Vec<MeterRow>> = HashMap::new();
    for r in rows {
        out.entry(r.supply_point_id).or_default().push(MeterRow {
            id: r.id,
            serial: r.serial,
            purpose: Purpose::parse(&r.purpose).expect("meter_purpose values"),
            register: Register::new(r.register_max_litres).expect("register_max_litres > 0"),
            max_flow: max_flow_litres_per_hour(r.diameter_mm),
            installed_at: r.installed_at,
            install_reading: r.install_reading_litres,
            removed_at: r.removed_at,
            removal_reading: r.removal_reading_litres,
        });
    }
    Ok(out)
}

/// The last reading before a midnight and the first at or after it.
type Around = (Option<Sample>, Option<Sample>);

/// What the database knows of one meter over one contract's days: where its previous invoice
/// ended, and the readings around the first and the last midnight.
struct Facts {
    billed: Option<Point>,
    start: Around,
    end: Around,
}

/// The facts of every (contract, meter) pair of a batch, in one statement.
async fn facts(
    conn: &mut PgConnection,
    pairs: &[(i64, &MeterRow, NaiveDate, NaiveDate)],
) -> sqlx::Result<Vec<Facts>> {
    let meters: Vec<i64> = pairs.iter().map(|p| p.1.id).collect();
    let firsts: Vec<NaiveDate> = pairs.iter().map(|p| p.2).collect();
    let afters: Vec<NaiveDate> = pairs.iter().map(|p| p.3 + Days::new(1)).collect();
    // Where an invoice left each meter exactly at the period's first midnight (the contract's
    // previous invoice, or the previous tenant's last one): anything else is not this
    // contract's start (a register from before a gap, or a later invoice).
    let starts: Vec<DateTime<Utc>> = firsts.iter().map(|d| day_start(*d)).collect();
    let rows = sqlx::query!(
        r#"SELECT p.n AS "n!",
                  g.at AS "g_at?", g.litres AS "g_litres?", g.estimated_litres AS "g_est?",
                  sb.measured_at AS "sb_at?", sb.volume_litres AS "sb_litres?",
                  sa.measured_at AS "sa_at?", sa.volume_litres AS "sa_litres?",
                  eb.measured_at AS "eb_at?", eb.volume_litres AS "eb_litres?",
                  ea.measured_at AS "ea_at?", ea.volume_litres AS "ea_litres?"
           FROM unnest($1::bigint[], $2::date[], $3::date[], $4::timestamptz[]) WITH ORDINALITY
                AS p(meter_id, first_day, after_day, start_at, n)
           LEFT JOIN LATERAL (
               SELECT at, litres, estimated_litres FROM meter_billed_registers r
               WHERE r.meter_id = p.meter_id AND r.at = p.start_at
               ORDER BY r.invoice_id DESC LIMIT 1) g ON true
           LEFT JOIN LATERAL meter_reading_by_day(p.meter_id, p.first_day - 1) sb ON g.at IS NULL
           LEFT JOIN LATERAL meter_first_reading_from_day(p.meter_id, p.first_day) sa ON g.at IS NULL
           LEFT JOIN LATERAL meter_reading_by_day(p.meter_id, p.after_day - 1) eb ON true
           LEFT JOIN LATERAL meter_first_reading_from_day(p.meter_id, p.after_day) ea ON true
           ORDER BY p.n"#,
        &meters,
        &firsts,
        &afters,
        &starts
    )
    .fetch_all(conn)
    .await?;
    let sample = |at: Option<DateTime<Utc>>, litres: Option<i64>| {
        Some(Sample {
            at: at?,
            litres: litres?,
        })
    };
    Ok(rows
        .into_iter()
        .map(|r| Facts {
            billed: match (r.g_at, r.g_litres, r.g_est) {
                (Some(at), Some(litres), Some(estimated_litres)) => Some(Point {
                    at,
                    litres,
                    source: Source::Billed,
                    estimated_litres,
                }),
                _ => None,
            },
            start: (sample(r.sb_at, r.sb_litres), sample(r.sa_at, r.sa_litres)),
            end: (sample(r.eb_at, r.eb_litres), sample(r.ea_at, r.ea_litres)),
        })
        .collect())
}

/// The readings around the Warsaw midnights starting `days` of meters: the last before and the
/// first at or after, keyed by (meter, day). For the midnights where a tariff changes inside a
/// billed period.
async fn around_midnights(
    conn: &mut PgConnection,
    pairs: &[(i64, NaiveDate)],
) -> sqlx::Result<HashMap<(i64, NaiveDate), Around>> {
    if pairs.is_empty() {
        return Ok(HashMap::new());
    }
    let meters: Vec<i64> = pairs.iter().map(|p| p.0).collect();
    let days: Vec<NaiveDate> = pairs.iter().map(|p| p.1).collect();
    let rows = sqlx::query!(
        r#"SELECT p.meter_id AS "meter_id!", p.day AS "day!",
                  b.measured_at AS "b_at?", b.volume_litres AS "b_litres?",
                  a.measured_at AS "a_at?", a.volume_litres AS "a_litres?"
           FROM unnest($1::bigint[], $2::date[]) AS p(meter_id, day)
           LEFT JOIN LATERAL meter_reading_by_day(p.meter_id, p.day - 1) b ON true
           LEFT JOIN LATERAL meter_first_reading_from_day(p.meter_id, p.day) a ON true"#,
        &meters,
        &days
    )
    .fetch_all(conn)
    .await?;
    let sample = |at: Option<DateTime<Utc>>, litres: Option<i64>| {
        Some(Sample {
            at: at?,
            litres: litres?,
        })
    };
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                (r.meter_id, r.day),
                (sample(r.b_at, r.b_litres), sample(r.a_at, r.a_litres)),
            )
        })
        .collect())
}

/// The register at a Warsaw midnight by the day rule, or the last reading before it.
fn register_at(m: &MeterRow, at: DateTime<Utc>, (before, after): Around) -> Option<Point> {
    boundary::register_at(m.register, m.max_flow, at, before, after).map(|r| {
        let source = if r.at < at {
            Source::LastReading
        } else if r.interpolated {
            Source::Interpolated
        } else {
            Source::Read
        };
        Point::real(r.at, r.litres, source)
    })
}

/// The meters of a contract's supply point over its days.
fn present<'m>(c: &ContractRow, meters: &'m [MeterRow]) -> Vec<&'m MeterRow> {
    let start = day_start(c.from_day);
    let end = day_start(c.to_day + Days::new(1));
    meters
        .iter()
        .filter(|m| m.installed_at < end && m.removed_at.is_none_or(|r| r > start))
        .collect()
}

/// Each meter's known registers over the contract's days, or why they cannot be billed. Reads
/// the database only to estimate.
async fn spans(
    conn: &mut PgConnection,
    c: &ContractRow,
    meters: &[(&MeterRow, Facts)],
    inner_days: &[NaiveDate],
    inner: &HashMap<(i64, NaiveDate), Around>,
) -> sqlx::Result<Result<Vec<MeterSpan>, String>> {
    let start = day_start(c.from_day);
    let end = day_start(c.to_day + Days::new(1));
    let mut out = Vec::new();
    for (m, facts) in meters {
        // Where it starts: the previous invoice's end, the installation, or the first midnight.
        let installation = m
            .install_reading
            .map(|l| Point::real(m.installed_at, l, Source::Installation));
        let first = match facts.billed {
            Some(b) => Some(b),
            None if m.installed_at >= start => installation,
            None => register_at(m, start, facts.start).or(installation),
        };
        let Some(first) = first else {
            return Ok(Err(format!(
                "licznik {}: brak odczytu początkowego",
                m.serial
            )));
        };
        // Where it ends: its final reading, the last midnight, or an estimate.
        let last = match (m.removed_at, m.removal_reading) {
            (Some(removed), Some(litres)) if removed <= end => {
                Point::real(removed, litres, Source::Removal)
            }
            (Some(removed), None) if removed <= end => {
                return Ok(Err(format!(
                    "licznik {}: zdjęty bez odczytu końcowego",
                    m.serial
                )));
            }
            _ => match register_at(m, end, facts.end) {
                Some(p) if p.source != Source::LastReading => p,
                known => {
                    // No register at the end: estimate from the latest known one.
                    let base = match known {
                        Some(p) if p.at > first.at => p,
                        _ => first,
                    };
                    let Some(daily) = daily_average(conn, m, c.from_day, c.to_day).await? else {
                        return Ok(Err(format!(
                            "licznik {}: brak odczytu na koniec okresu i brak historii do szacunku",
                            m.serial
                        )));
                    };
                    consumption::estimate(m.register, base, end, daily)
                }
            },
        };
        let last = if last.at < first.at {
            Point {
                at: first.at,
                ..last
            }
        } else {
            last
        };
        // Registers known exactly at a tariff change split the water there.
        let mut points = vec![first];
        for day in inner_days {
            let at = day_start(*day);
            if let Some(&around) = inner.get(&(m.id, *day))
                && let Some(p) = register_at(m, at, around)
                && p.source != Source::LastReading
                && p.at > first.at
                && p.at < last.at
            {
                points.push(p);
            }
        }
        points.push(last);
        out.push(MeterSpan {
            meter_id: m.id,
            serial: m.serial.clone(),
            purpose: m.purpose,
            register: m.register,
            max_flow_litres_per_hour: m.max_flow,
            points,
            installed_at: m.installed_at,
            removed_at: m.removed_at,
        });
    }
    if out.is_empty() {
        return Ok(Err(
            "brak licznika w punkcie poboru w okresie rozliczeniowym".into(),
        ));
    }
    Ok(Ok(out))
}

/// The meter's average daily consumption for an estimate: over the 3 months before its last
/// real reading (or as much of them as it has readings for, a week at least), else over the
/// same days a year before the billed ones.
async fn daily_average(
    conn: &mut PgConnection,
    m: &MeterRow,
    first: NaiveDate,
    last: NaiveDate,
) -> sqlx::Result<Option<i64>> {
    let reading_by = |day: NaiveDate| {
        sqlx::query!(
            r#"SELECT measured_at AS "at!", volume_litres AS "litres!" FROM meter_reading_by_day($1, $2)"#,
            m.id,
            day
        )
    };
    let real = |at: DateTime<Utc>, litres: i64| Point::real(at, litres, Source::Read);
    if let Some(newest) = reading_by(last).fetch_optional(&mut *conn).await? {
        let three_months_before = local_day(newest.at) - Months::new(3);
        let older = match reading_by(three_months_before)
            .fetch_optional(&mut *conn)
            .await?
        {
            Some(r) => Some(real(r.at, r.litres)),
            None => sqlx::query!(
                r#"SELECT measured_at AS "at!", volume_litres AS "litres!"
                   FROM meter_first_reading_from_day($1, $2)"#,
                m.id,
                three_months_before
            )
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| real(r.at, r.litres)),
        };
        if let Some(older) = older
            && let Some(avg) = consumption::daily_average(
                m.register,
                m.max_flow,
                older,
                real(newest.at, newest.litres),
            )
        {
            return Ok(Some(avg));
        }
    }
    let year_before_end = reading_by(last - Months::new(12))
        .fetch_optional(&mut *conn)
        .await?;
    let year_before_start = reading_by(first - Months::new(12) - Days::new(1))
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match (year_before_start, year_before_end) {
        (Some(a), Some(b)) => consumption::daily_average(
            m.register,
            m.max_flow,
            real(a.at, a.litres),
            real(b.at, b.litres),
        ),
        _ => None,
    })
}
