//! `ebok bench balance`: the daily water balance of a year for a utility of 300,000 customer
//! meters in 300 zones (each with an inlet meter), against a raw scan of the same day rows.
//!
//! - **balance**: `ebok_balance::store::compute_days` over the whole year, as the balance loop
//!   does for a utility computed the first time: the meters in batches, their day rows and the
//!   readings around the range, every meter-day by the day rule, the zones' days written;
//! - **raw scan**: the same batches of meters' day rows of the same range read to the client
//!   and counted, nothing computed: what reading the data costs at the least.
//!
//! The dataset is one reading a day per meter, written straight into the day table (the raw
//! readings are not what the balance reads), kept between runs of the same size. Last line:
//! `balance zone_days_per_s=N meter_days_per_s=N ratio=R` (R: the balance's meter-days per
//! second over the raw scan's rows per second, measured in the same run; the medians of
//! `--repeats`).

use std::time::Instant;

use anyhow::{Context, Result, ensure};
use chrono::{Days, Utc};
use clap::Args;
use ebok_common::Config;
use ebok_common::domain::time::local_day;
use sqlx::PgPool;

#[derive(Debug, Args)]
pub struct BalanceBenchArgs {
    /// Customer meters (each at a supply point of its own).
    #[arg(long, default_value_t = 300_000)]
    pub meters: i64,
    /// Zones; meters are spread over them evenly, each has an inlet meter.
    #[arg(long, default_value_t = 300)]
    pub zones: i64,
    /// Days of the balance (ending yesterday), each with a reading per meter.
    #[arg(long, default_value_t = 365)]
    pub days: i64,
    /// Timed repeats of each pass; medians are printed.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Rebuild the dataset even if one of the same size exists.
    #[arg(long)]
    pub regenerate: bool,
    /// The time-series store to measure (default: whatever the stack or server has).
    #[arg(long, value_enum)]
    pub store: Option<super::store::Store>,
}

const DATABASE: &str = "ebok_bench_balance";

pub async fn run(mut config: Config, args: BalanceBenchArgs) -> Result<()> {
    if let Some(store) = args.store {
        store.configure(&mut config);
    }
    let (config, stack) = crate::run::start_local_stack(config, false).await?;
    let result = bench(config, &args).await;
    if let Some(stack) = stack {
        stack.stop().await;
    }
    result
}

async fn bench(config: Config, args: &BalanceBenchArgs) -> Result<()> {
    ensure!(
        args.meters > 0 && args.zones > 0 && args.days > 0 && args.repeats > 0,
        "--meters, --zones, --days and --repeats must be positive"
    );
    let pool = dataset(&config, args).await?;
    let store = super::store::of(&pool, args.store).await?;
    let utility_id: i64 = sqlx::query_scalar("SELECT id FROM utilities WHERE slug = 'bench'")
        .fetch_one(&pool)
        .await?;
    let to = local_day(Utc::now()) - Days::new(1);
    let from = to - Days::new(args.days as u64 - 1);
    let meter_days = (args.meters + args.zones) * args.days;
    let zone_days = args.zones * args.days;
    eprintln!(
        "bench: {} meters and {} inlets in {} zones × {} days ({from} to {to}), {} store",
        args.meters,
        args.zones,
        args.zones,
        args.days,
        store.name()
    );

    let mut raw_rates = Vec::new();
    let mut balance_rates = Vec::new();
    let mut zone_rates = Vec::new();
    for repeat in 1..=args.repeats {
        // The raw scan: the same meters' day rows of the same range, in the same batches.
        let started = Instant::now();
        let rows = raw_scan(&pool, utility_id, from, to).await?;
        let raw = started.elapsed().as_secs_f64();
        raw_rates.push(rows as f64 / raw);

        let started = Instant::now();
        let mut conn = pool.acquire().await?;
        let computed = ebok_balance::store::compute_days(&mut conn, utility_id, from, to).await?;
        let took = started.elapsed().as_secs_f64();
        ensure!(
            computed.meter_days as i64 == args.meters * args.days
                && computed.boundary_meters as i64 == args.zones,
            "computed {computed:?}, expected {} meter-days",
            args.meters * args.days
        );
        balance_rates.push(meter_days as f64 / took);
        zone_rates.push(zone_days as f64 / took);
        eprintln!(
            "bench: repeat {repeat}: raw scan {rows} rows in {raw:.1} s ({:.0}/s); balance \
             {meter_days} meter-days in {took:.1} s ({:.0}/s)",
            rows as f64 / raw,
            meter_days as f64 / took
        );
    }
    // The balance must balance: every zone's inlet passed its customers' use and 8 % more
    // (the generator's pipes' losses), so losses are 8/108 of the input.
    let mut conn = pool.acquire().await?;
    let year = ebok_balance::store::zone_periods(
        &mut conn,
        utility_id,
        from,
        to,
        ebok_balance::store::Step::Whole,
    )
    .await?;
    let (input, losses): (i64, i64) = year.values().fold((0, 0), |(i, l), p| {
        (
            i + p[0].balance.system_input_litres,
            l + p[0].losses_litres().unwrap_or(0),
        )
    });
    ensure!(
        input > 0 && (losses as f64 / input as f64 - 8.0 / 108.0).abs() < 0.001,
        "the year's losses are {losses} l of {input} l, not 8/108 of it"
    );
    let raw = super::median(raw_rates);
    let balance = super::median(balance_rates);
    let zones = super::median(zone_rates);
    println!(
        "balance zone_days_per_s={zones:.0} meter_days_per_s={balance:.0} ratio={:.2}",
        balance / raw
    );
    Ok(())
}

/// A day row as the balance reads it: meter, first reading, last reading.
type DayRow = (i64, chrono::DateTime<Utc>, i64, chrono::DateTime<Utc>, i64);

/// Reads the day rows of every meter of the utility in `from ..= to`, in the batches the
/// balance uses; how many rows.
async fn raw_scan(
    pool: &PgPool,
    utility_id: i64,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<u64> {
    let mut conn = pool.acquire().await?;
    let mut after = 0i64;
    let mut rows = 0u64;
    loop {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM meters WHERE utility_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(utility_id)
        .bind(after)
        .bind(ebok_balance::store::BATCH_METERS)
        .fetch_all(&mut *conn)
        .await?;
        let Some(&last) = ids.last() else { break };
        after = last;
        let batch: Vec<DayRow> = sqlx::query_as(
            "SELECT meter_id, coalesce(first_measured_at, measured_at),
                        coalesce(first_volume_litres, volume_litres), measured_at, volume_litres
                 FROM meter_day_readings
                 WHERE meter_id = ANY($1) AND day BETWEEN $2 AND $3",
        )
        .bind(&ids)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await?;
        rows += batch.len() as u64;
    }
    Ok(rows)
}

/// The bench database, generated unless one of the same size exists.
async fn dataset(config: &Config, args: &BalanceBenchArgs) -> Result<PgPool> {
    if !args.regenerate
        && let Ok(pool) = existing(config, args).await
    {
        eprintln!(
            "bench: reusing {DATABASE} ({} meters, {} zones, {} days)",
            args.meters, args.zones, args.days
        );
        return Ok(pool);
    }
    let pool = super::fresh_database(config, DATABASE, 4).await?;
    let started = Instant::now();
    eprintln!(
        "bench: generating {} meters in {} zones × {} daily readings (kept for later runs)",
        args.meters, args.zones, args.days
    );
    let statements = [
        "INSERT INTO utilities (slug, municipality, name, city)
         VALUES ('bench', 'Gmina Benchowo', 'Wodociągi Benchowo', 'Benchowo')",
        "INSERT INTO network_zones (utility_id, code, name)
         SELECT u.id, 'z' || i, 'Strefa ' || i FROM utilities u, generate_series(1, $2) i",
        "INSERT INTO supply_points (utility_id, code, street, building_no, postal_code, city,
                                    zone_id)
         SELECT u.id, 'PP' || i, 'Długa', i::text, '14-420', 'Benchowo',
                (SELECT z.id FROM network_zones z WHERE z.code = 'z' || (1 + i % $2))
         FROM utilities u, generate_series(1, $1) i",
        "INSERT INTO meters (utility_id, serial, channel, register_max_litres, supply_point_id,
                             installed_at, install_reading_litres)
         SELECT utility_id, 'SN' || substr(code, 3), 'wmbus', 99999999, id,
                now() - make_interval(days => $3::int + 30), 0
         FROM supply_points",
        "INSERT INTO meters (utility_id, serial, channel, purpose, register_max_litres,
                             diameter_mm, installed_at)
         SELECT utility_id, 'ZU-' || code, 'modbus', 'zone_inlet', 999999999999, 150,
                now() - make_interval(days => $3::int + 30)
         FROM network_zones",
        "INSERT INTO zone_boundary_meters (meter_id, utility_id, into_zone_id)
         SELECT m.id, m.utility_id, z.id
         FROM meters m JOIN network_zones z ON m.serial = 'ZU-' || z.code",
    ];
    for statement in statements {
        sqlx::query(statement)
            .bind(args.meters)
            .bind(args.zones)
            .bind(args.days as i32)
            .execute(&pool)
            .await
            .with_context(|| format!("seeding: {}", statement.lines().next().unwrap_or("")))?;
        sqlx::query("ANALYZE").execute(&pool).await?;
    }
    // A reading a day at 06:00 UTC: customers 150–450 l apart; each inlet its zone's customers'
    // water and 8 % more, the pipes' losses.
    let days = args.days + 2;
    let (min, max): (i64, i64) =
        sqlx::query_as("SELECT min(id), max(id) FROM meters WHERE purpose = 'main'")
            .fetch_one(&pool)
            .await?;
    super::in_slices(
        &pool,
        (min, max),
        "INSERT INTO meter_day_readings (meter_id, day, measured_at, volume_litres,
                                            source, first_measured_at,
                                            first_volume_litres)
             SELECT m, current_date - d, (current_date - d) + time '06:00',
                    (m % 997) * 1000 + ($3 - d) * 300 + ((m * 31 + d * 17) % 7) * 50,
                    'radio', (current_date - d) + time '06:00',
                    (m % 997) * 1000 + ($3 - d) * 300 + ((m * 31 + d * 17) % 7) * 50
             FROM generate_series($1::bigint, $2::bigint) m,
                  generate_series(0, $3::int) d",
        days as i32,
    )
    .await?;
    // Each inlet's register: its customers' registers summed, times 1.08.
    sqlx::query(
        "INSERT INTO meter_day_readings (meter_id, day, measured_at, volume_litres, source,
                                        first_measured_at, first_volume_litres)
         SELECT b.meter_id, d.day, min(d.measured_at), sum(d.volume_litres) * 108 / 100, 'modbus',
                min(d.measured_at), sum(d.volume_litres) * 108 / 100
         FROM zone_boundary_meters b
         JOIN supply_points sp ON sp.zone_id = b.into_zone_id
         JOIN meters m ON m.supply_point_id = sp.id
         JOIN meter_day_readings d ON d.meter_id = m.id
         GROUP BY b.meter_id, d.day",
    )
    .execute(&pool)
    .await?;
    sqlx::query(
        "INSERT INTO meter_latest_readings (meter_id, measured_at, volume_litres, source, received_at)
         SELECT DISTINCT ON (meter_id) meter_id, measured_at, volume_litres, source, now()
         FROM meter_day_readings ORDER BY meter_id, day DESC",
    )
    .execute(&pool)
    .await?;
    sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
    sqlx::query(
        "CREATE TABLE bench_balance_dataset (meters bigint NOT NULL, zones bigint NOT NULL,
                                             days bigint NOT NULL, made_on date NOT NULL)",
    )
    .execute(&pool)
    .await?;
    sqlx::query("INSERT INTO bench_balance_dataset VALUES ($1, $2, $3, current_date)")
        .bind(args.meters)
        .bind(args.zones)
        .bind(args.days)
        .execute(&pool)
        .await?;
    eprintln!(
        "bench: dataset ready in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(pool)
}

/// The kept dataset, if it exists, is complete, has the asked sizes and was made today (its
/// days end today).
async fn existing(config: &Config, args: &BalanceBenchArgs) -> Result<PgPool> {
    let pool = super::kept_database(config, DATABASE, 4).await?;
    let (meters, zones, days, fresh): (i64, i64, i64, bool) = sqlx::query_as(
        "SELECT meters, zones, days, made_on = current_date FROM bench_balance_dataset",
    )
    .fetch_one(&pool)
    .await?;
    ensure!(
        meters == args.meters && zones == args.zones && days == args.days && fresh,
        "another size or day"
    );
    Ok(pool)
}
