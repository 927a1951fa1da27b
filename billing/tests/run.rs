//! Billing runs against a real PostgreSQL: golden amounts computed by hand (a tariff change
//! mid-month, a meter replaced mid-month, a garden sub-meter, a sewage meter, an estimate
//! settled the month after, a half grosz), idempotent and concurrent runs with gap-free
//! numbers, the ledger's balance, contracts left out with a reason, and every FA(3) XML valid
//! against the official schema.

use chrono::{DateTime, NaiveDate, Utc};
use ebok_billing::run::{self, Outcome, RunRequest};
use ebok_common::domain::time::day_start;
use ebok_testkit::{TestDb, fixtures};
use sqlx::PgPool;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// Warsaw midnight starting the day.
fn midnight(y: i32, m: u32, day: u32) -> DateTime<Utc> {
    day_start(d(y, m, day))
}

struct World {
    db: TestDb,
    utility_id: i64,
    /// Tariff group with a change on 16 November 2026.
    changing: i64,
    /// Tariff group with one tariff (sewage at 7,90 zł for a half grosz).
    plain: i64,
}

impl World {
    async fn new() -> World {
        let db = TestDb::new().await;
        let pool = &db.pool;
        sqlx::query("SELECT ebok_ensure_reading_partitions('2025-06-01', '2027-03-01')")
            .execute(pool)
            .await
            .unwrap();
        let utility_id = fixtures::utility(pool, &fixtures_slug()).await;
        sqlx::query(
            "UPDATE utilities SET nip = '5260250274', street = 'Wodna', building_no = '1',
                    postal_code = '14-420', city = 'Młynary', bank_account = '36103019441234000000012345'
             WHERE id = $1",
        )
        .bind(utility_id)
        .execute(pool)
        .await
        .unwrap();
        let changing = group(pool, utility_id, "ZMIANA").await;
        tariff(
            pool,
            utility_id,
            changing,
            d(2025, 1, 1),
            [512, 789, 950, 300],
        )
        .await;
        tariff(
            pool,
            utility_id,
            changing,
            d(2026, 11, 16),
            [567, 801, 1_000, 330],
        )
        .await;
        let plain = group(pool, utility_id, "STALA").await;
        tariff(pool, utility_id, plain, d(2025, 1, 1), [512, 790, 950, 300]).await;
        World {
            db,
            utility_id,
            changing,
            plain,
        }
    }

    fn pool(&self) -> &PgPool {
        &self.db.pool
    }

    /// A customer with a contract on a new supply point (water and `sewage`) in `group`.
    async fn contract(&self, group: i64, sewage: bool) -> (i64, i64, i64) {
        let pool = self.pool();
        let customer = fixtures::person(pool, self.utility_id).await;
        let point = fixtures::supply_point(pool, self.utility_id).await;
        sqlx::query("UPDATE supply_points SET sewage_service = $2 WHERE id = $1")
            .bind(point)
            .bind(sewage)
            .execute(pool)
            .await
            .unwrap();
        let contract: i64 = sqlx::query_scalar(
            "INSERT INTO contracts (utility_id, number, customer_id, supply_point_id, tariff_group_id,
                                    valid_from, status, signed_at)
             VALUES ($1, $2, $3, $4, $5, '2025-01-01', 'active', now()) RETURNING id",
        )
        .bind(self.utility_id)
        .bind(format!("U/{customer}"))
        .bind(customer)
        .bind(point)
        .bind(group)
        .fetch_one(pool)
        .await
        .unwrap();
        (customer, point, contract)
    }

    /// A meter of `purpose` installed at `point` at `at` with `litres` on its register.
    async fn meter(&self, point: i64, purpose: &str, at: DateTime<Utc>, litres: i64) -> i64 {
        sqlx::query_scalar(
            "INSERT INTO meters (utility_id, serial, channel, purpose, register_max_litres,
                                 supply_point_id, installed_at, install_reading_litres)
             VALUES ($1, 'SN-' || gen_random_uuid(), 'wmbus', $2::meter_purpose, 99999999, $3, $4, $5)
             RETURNING id",
        )
        .bind(self.utility_id)
        .bind(purpose)
        .bind(point)
        .bind(at)
        .bind(litres)
        .fetch_one(self.pool())
        .await
        .unwrap()
    }

    async fn reading(&self, meter: i64, at: DateTime<Utc>, litres: i64) {
        fixtures::radio_reading(self.pool(), meter, at, litres).await;
    }

    async fn run(&self, month: NaiveDate, issue: NaiveDate) -> Outcome {
        run::run(self.pool(), &request(self.utility_id, month, issue), |_| {})
            .await
            .unwrap()
    }

    /// The invoice of a contract for the days from `from`: number, net, VAT, gross and lines
    /// (name, quantity in litres, net).
    async fn invoice(&self, contract: i64, from: NaiveDate) -> Invoice {
        let id: i64 = sqlx::query_scalar(
            "SELECT id FROM invoices WHERE contract_id = $1 AND period_from = $2 AND kind <> 'correction'",
        )
        .bind(contract)
        .bind(from)
        .fetch_one(self.pool())
        .await
        .unwrap();
        self.invoice_by_id(id, false).await
    }

    /// Invoice `id` (its lines before a correction when `before`).
    async fn invoice_by_id(&self, id: i64, before: bool) -> Invoice {
        let row: (i64, String, i64, i64, i64, String) = sqlx::query_as(
            "SELECT id, number, net_grosze, vat_grosze, gross_grosze, ksef_xml FROM invoices
             WHERE id = $1",
        )
        .bind(id)
        .fetch_one(self.pool())
        .await
        .unwrap();
        let lines: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT name, quantity_milli, unit_price_grosze, net_grosze FROM invoice_lines
             WHERE invoice_id = $1 AND before_correction = $2 ORDER BY line_no",
        )
        .bind(row.0)
        .bind(before)
        .fetch_all(self.pool())
        .await
        .unwrap();
        validate_fa3(&row.5);
        Invoice {
            number: row.1,
            net: row.2,
            vat: row.3,
            gross: row.4,
            lines,
        }
    }
}

#[derive(Debug)]
struct Invoice {
    number: String,
    net: i64,
    vat: i64,
    gross: i64,
    lines: Vec<(String, i64, i64, i64)>,
}

impl Invoice {
    /// (quantity in litres, unit price, net) of each line.
    fn amounts(&self) -> Vec<(i64, i64, i64)> {
        self.lines.iter().map(|l| (l.1, l.2, l.3)).collect()
    }
}

fn fixtures_slug() -> String {
    format!("bill-{}", rand::random::<u32>())
}

fn request(utility_id: i64, month: NaiveDate, issue: NaiveDate) -> RunRequest {
    RunRequest {
        utility_id,
        month,
        issue_date: issue,
        started_by: None,
        batch: 2,
    }
}

async fn group(pool: &PgPool, utility_id: i64, code: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO tariff_groups (utility_id, code, name) VALUES ($1, $2, $2) RETURNING id",
    )
    .bind(utility_id)
    .bind(code)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn tariff(
    pool: &PgPool,
    utility_id: i64,
    group: i64,
    from: NaiveDate,
    [water, sewage, fee, garden]: [i32; 4],
) {
    sqlx::query(
        "INSERT INTO tariffs (utility_id, tariff_group_id, valid_from, water_price_grosze,
                              sewage_price_grosze, subscription_grosze, garden_subscription_grosze, vat_rate)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 8)",
    )
    .bind(utility_id)
    .bind(group)
    .bind(from)
    .bind(water)
    .bind(sewage)
    .bind(fee)
    .bind(garden)
    .execute(pool)
    .await
    .unwrap();
}

/// Validates an FA(3) XML with xmllint against the official schema (the test command installs
/// xmllint; its absence is a failure, not a skip).
fn validate_fa3(xml: &str) {
    let schema = ebok_billing::ksef::FA3_SCHEMA;
    assert!(
        std::path::Path::new(schema).exists(),
        "the FA(3) schema is missing at {schema}"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), xml).unwrap();
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--schema", schema])
        .arg(file.path())
        .output()
        .expect("xmllint (libxml2-utils) must be installed: scripts/test-tools.sh installs it");
    assert!(
        out.status.success(),
        "FA(3) XML invalid: {}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_tariff_change_mid_month_prices_each_part_by_its_own_tariff() {
    let w = World::new().await;
    let (_, point, contract) = w.contract(w.changing, true).await;
    let meter = w.meter(point, "main", midnight(2025, 6, 1), 0).await;
    w.reading(meter, midnight(2026, 11, 1), 100_000).await;
    w.reading(meter, midnight(2026, 11, 16), 104_321).await;
    w.reading(meter, midnight(2026, 12, 1), 110_000).await;
    let outcome = w.run(d(2026, 11, 1), d(2026, 12, 2)).await;
    assert_eq!(
        (outcome.invoices_issued, outcome.problems.len()),
        (1, 0),
        "{outcome:?}"
    );
    let invoice = w.invoice(contract, d(2026, 11, 1)).await;
    assert_eq!(
        invoice.amounts(),
        [
            // 4,321 m³ × 5,12 zł = 22,12352 zł
            (4_321, 512, 2_212),
            // 4,321 m³ × 7,89 zł = 34,09269 zł
            (4_321, 789, 3_409),
            // 9,50 zł × 15/30
            (1_000, 475, 475),
            // 5,679 m³ × 5,67 zł = 32,19993 zł
            (5_679, 567, 3_220),
            // 5,679 m³ × 8,01 zł = 45,48879 zł
            (5_679, 801, 4_549),
            // 10,00 zł × 15/30
            (1_000, 500, 500),
        ]
    );
    assert_eq!(invoice.lines[0].0, "Dostawa wody 01.11–15.11.2026");
    assert_eq!(
        invoice.lines[2].0,
        "Opłata abonamentowa 01.11–15.11.2026 (15/30 dni)"
    );
    // 143,65 zł net, 8% of it 11,492 → 11,49 zł.
    assert_eq!(
        (invoice.net, invoice.vat, invoice.gross),
        (14_365, 1_149, 15_514)
    );
    assert_eq!(invoice.number, "FV/2026/12/000001");
}

#[tokio::test]
async fn a_replaced_meter_and_a_garden_sub_meter() {
    let w = World::new().await;
    let (_, point, contract) = w.contract(w.plain, true).await;
    let old = w.meter(point, "main", midnight(2025, 6, 1), 0).await;
    let garden = w.meter(point, "garden", midnight(2025, 6, 1), 0).await;
    w.reading(old, midnight(2026, 11, 1), 50_000).await;
    w.reading(garden, midnight(2026, 11, 1), 10_000).await;
    // Replaced on 10 November: the old meter's final reading and the new one's first.
    let swap: DateTime<Utc> = "2026-11-10T10:00:00Z".parse().unwrap();
    sqlx::query("UPDATE meters SET removed_at = $2, removal_reading_litres = 51250 WHERE id = $1")
        .bind(old)
        .bind(swap)
        .execute(w.pool())
        .await
        .unwrap();
    let new = w.meter(point, "main", swap, 0).await;
    w.reading(new, midnight(2026, 12, 1), 3_000).await;
    w.reading(garden, midnight(2026, 12, 1), 10_500).await;
    let outcome = w.run(d(2026, 11, 1), d(2026, 12, 2)).await;
    assert_eq!(
        (outcome.invoices_issued, outcome.problems.len()),
        (1, 0),
        "{outcome:?}"
    );
    let invoice = w.invoice(contract, d(2026, 11, 1)).await;
    assert_eq!(
        invoice.amounts(),
        [
            // 1 250 l on the old meter, 3 000 on the new, 500 in the garden: 4,750 m³ × 5,12 zł
            (4_750, 512, 2_432),
            // sewage without the garden: 3,750 m³ × 7,90 zł = 29,625 zł, the half grosz up
            (3_750, 790, 2_963),
            (1_000, 950, 950),
            (1_000, 300, 300),
        ]
    );
    // 66,45 zł net, 8% of it 5,316 → 5,32 zł.
    assert_eq!(
        (invoice.net, invoice.vat, invoice.gross),
        (6_645, 532, 7_177)
    );
}

#[tokio::test]
async fn a_sewage_meter_measures_the_sewage() {
    let w = World::new().await;
    let (_, point, contract) = w.contract(w.plain, true).await;
    let main = w.meter(point, "main", midnight(2025, 6, 1), 0).await;
    let sewage = w.meter(point, "sewage", midnight(2025, 6, 1), 0).await;
    w.reading(main, midnight(2026, 11, 1), 0).await;
    w.reading(sewage, midnight(2026, 11, 1), 0).await;
    w.reading(main, midnight(2026, 12, 1), 6_000).await;
    w.reading(sewage, midnight(2026, 12, 1), 4_400).await;
    w.run(d(2026, 11, 1), d(2026, 12, 2)).await;
    let invoice = w.invoice(contract, d(2026, 11, 1)).await;
    assert_eq!(
        invoice.amounts(),
        [(6_000, 512, 3_072), (4_400, 790, 3_476), (1_000, 950, 950)]
    );
    // 74,98 zł net, 8% of it 5,9984 → 6,00 zł.
    assert_eq!(
        (invoice.net, invoice.vat, invoice.gross),
        (7_498, 600, 8_098)
    );
}

#[tokio::test]
async fn an_estimate_is_settled_by_the_next_real_reading() {
    let w = World::new().await;
    let (customer, point, contract) = w.contract(w.plain, true).await;
    let meter = w.meter(point, "main", midnight(2025, 6, 1), 0).await;
    // 100 l a day since August; the meter falls silent after 20 November.
    w.reading(meter, midnight(2026, 8, 1), 0).await;
    w.reading(meter, midnight(2026, 11, 1), 9_200).await;
    w.reading(meter, midnight(2026, 11, 20), 11_100).await;
    let november = w.run(d(2026, 11, 1), d(2026, 12, 2)).await;
    assert_eq!(november.estimated, 1);
    let first = w.invoice(contract, d(2026, 11, 1)).await;
    // 1 900 l read and 11 days × 100 l estimated: 3,000 m³.
    assert_eq!(
        first.amounts(),
        [(3_000, 512, 1_536), (3_000, 790, 2_370), (1_000, 950, 950)]
    );
    assert_eq!((first.net, first.vat, first.gross), (4_856, 388, 5_244));
    let estimated: bool =
        sqlx::query_scalar("SELECT estimated FROM invoices WHERE contract_id = $1")
            .bind(contract)
            .fetch_one(w.pool())
            .await
            .unwrap();
    assert!(estimated);

    // The meter reports again on 1 January: 11 900 l, less than estimated. December gives the
    // 300 l back.
    w.reading(meter, midnight(2027, 1, 1), 11_900).await;
    w.run(d(2026, 12, 1), d(2027, 1, 2)).await;
    let second = w.invoice(contract, d(2026, 12, 1)).await;
    // −0,300 m³ × 5,12 zł = −1,536 zł → −1,54 zł; × 7,90 zł = −2,37 zł.
    assert_eq!(
        second.amounts(),
        [(-300, 512, -154), (-300, 790, -237), (1_000, 950, 950)]
    );
    assert_eq!((second.net, second.vat, second.gross), (559, 45, 604));
    // Over both months the water billed is what the register advanced: 2 700 l.
    let billed: i64 = sqlx::query_scalar(
        "SELECT sum(quantity_milli)::bigint FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
         WHERE i.contract_id = $1 AND l.kind = 'water'",
    )
    .bind(contract)
    .fetch_one(w.pool())
    .await
    .unwrap();
    assert_eq!(billed, 2_700);
    // The ledger: both invoices, the balance their sum.
    let (balance, entries): (i64, i64) = sqlx::query_as(
        "SELECT balance_grosze, entries FROM customer_balances WHERE customer_id = $1",
    )
    .bind(customer)
    .fetch_one(w.pool())
    .await
    .unwrap();
    assert_eq!((balance, entries), (5_244 + 604, 2));
}

#[tokio::test]
async fn runs_bill_each_contract_once_with_gap_free_numbers_even_concurrently() {
    let w = World::new().await;
    let mut contracts = Vec::new();
    for i in 0..9 {
        let (_, point, contract) = w.contract(w.plain, i % 2 == 0).await;
        let meter = w.meter(point, "main", midnight(2025, 6, 1), 0).await;
        w.reading(meter, midnight(2026, 11, 1), 1_000).await;
        w.reading(meter, midnight(2026, 12, 1), 1_000 + 1_000 * i)
            .await;
        contracts.push(contract);
    }
    // One contract cannot be billed: its meter never reported.
    let (_, silent_point, _) = w.contract(w.plain, false).await;
    sqlx::query("UPDATE meters SET install_reading_litres = NULL WHERE id = $1")
        .bind(w.meter(silent_point, "main", midnight(2025, 6, 1), 0).await)
        .execute(w.pool())
        .await
        .unwrap();

    let req = request(w.utility_id, d(2026, 11, 1), d(2026, 12, 2));
    let (a, b) = tokio::join!(
        run::run(w.pool(), &req, |_| {}),
        run::run(w.pool(), &req, |_| {})
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.invoices_issued + b.invoices_issued, 9, "{a:?} {b:?}");
    assert_eq!(a.problems.len(), 1);
    assert!(
        a.problems[0].reason.contains("brak odczytu początkowego"),
        "{:?}",
        a.problems
    );
    let again = w.run(d(2026, 11, 1), d(2026, 12, 2)).await;
    assert_eq!((again.invoices_issued, again.already_billed), (0, 9));

    let numbers: Vec<String> =
        sqlx::query_scalar("SELECT number FROM invoices WHERE utility_id = $1 ORDER BY number")
            .bind(w.utility_id)
            .fetch_all(w.pool())
            .await
            .unwrap();
    let expected: Vec<String> = (1..=9).map(|n| format!("FV/2026/12/{n:06}")).collect();
    assert_eq!(numbers, expected);
    for c in &contracts {
        w.invoice(*c, d(2026, 11, 1)).await;
    }
    // Every balance is the sum of its entries, and the ledger refuses changes.
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM customer_balances b
         WHERE b.balance_grosze <> (SELECT sum(amount_grosze) FROM ledger_entries e WHERE e.customer_id = b.customer_id)",
    )
    .fetch_one(w.pool())
    .await
    .unwrap();
    assert_eq!(mismatched, 0);
    let err = sqlx::query("UPDATE ledger_entries SET amount_grosze = 1")
        .execute(w.pool())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = sqlx::query("UPDATE customer_balances SET balance_grosze = 0")
        .execute(w.pool())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("only by a ledger entry"), "{err}");
    let err = sqlx::query("UPDATE invoices SET net_grosze = 0")
        .execute(w.pool())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot change"), "{err}");
}

#[tokio::test]
async fn a_month_not_over_is_not_billed() {
    let w = World::new().await;
    let err = run::run(
        w.pool(),
        &request(w.utility_id, d(2026, 11, 1), d(2026, 11, 30)),
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("jeszcze trwa"), "{err}");
    assert!(err.downcast_ref::<run::RunRefused>().is_some());
}

#[tokio::test]
async fn a_settlement_on_request_bills_up_to_the_chosen_day_and_the_run_the_rest() {
    let w = World::new().await;
    let (_, point, contract) = w.contract(w.changing, true).await;
    let meter = w.meter(point, "main", midnight(2025, 6, 1), 0).await;
    w.reading(meter, midnight(2026, 11, 1), 100_000).await;
    w.reading(meter, midnight(2026, 11, 16), 104_321).await;
    w.reading(meter, midnight(2026, 12, 1), 110_000).await;
    // The contract began on 1 November.
    sqlx::query("UPDATE contracts SET valid_from = '2026-11-01' WHERE id = $1")
        .bind(contract)
        .execute(w.pool())
        .await
        .unwrap();
    // A day whose end the meter has not reported: refused, not estimated.
    let silent =
        ebok_billing::settlement::preview(w.pool(), w.utility_id, contract, d(2026, 12, 2))
            .await
            .unwrap_err();
    assert!(
        silent.to_string().contains("wcześniejszy dzień"),
        "{silent}"
    );
    let preview =
        ebok_billing::settlement::preview(w.pool(), w.utility_id, contract, d(2026, 11, 15))
            .await
            .unwrap();
    assert_eq!(
        (preview.from, preview.through),
        (d(2026, 11, 1), d(2026, 11, 15))
    );
    let id = ebok_billing::settlement::issue(w.pool(), w.utility_id, contract, d(2026, 11, 15))
        .await
        .unwrap();
    let settled = w.invoice(contract, d(2026, 11, 1)).await;
    let kind: String = sqlx::query_scalar("SELECT kind::text FROM invoices WHERE id = $1")
        .bind(id)
        .fetch_one(w.pool())
        .await
        .unwrap();
    assert_eq!(kind, "settlement");
    // 1–15 November: 4,321 m³ of water and sewage, half the fee.
    assert_eq!(
        settled.amounts(),
        [(4_321, 512, 2_212), (4_321, 789, 3_409), (1_000, 475, 475)]
    );
    // 60,96 zł net, 8% of it 4,8768 → 4,88 zł.
    assert_eq!(
        (settled.net, settled.vat, settled.gross),
        (6_096, 488, 6_584)
    );
    assert_eq!(
        preview.document.gross.grosze(),
        settled.gross,
        "the preview is what was issued"
    );
    // Asking again for the same day: nothing left.
    let again = ebok_billing::settlement::issue(w.pool(), w.utility_id, contract, d(2026, 11, 15))
        .await
        .unwrap_err();
    assert!(again.to_string().contains("już rozliczone"), "{again}");
    // The month's run bills 16–30 November only.
    w.run(d(2026, 11, 1), d(2026, 12, 2)).await;
    let rest = w.invoice(contract, d(2026, 11, 16)).await;
    assert_eq!(
        rest.amounts(),
        [(5_679, 567, 3_220), (5_679, 801, 4_549), (1_000, 500, 500)]
    );
    // 82,69 zł net, 8% of it 6,6152 → 6,62 zł.
    assert_eq!((rest.net, rest.vat, rest.gross), (8_269, 662, 8_931));
}

#[tokio::test]
async fn a_correction_prices_the_days_again_and_books_the_difference() {
    let w = World::new().await;
    // Billed in the wrong group: the plain tariff instead of the one that changed on 16 November.
    let (customer, point, contract) = w.contract(w.plain, true).await;
    let meter = w.meter(point, "main", midnight(2025, 6, 1), 0).await;
    w.reading(meter, midnight(2026, 11, 1), 10_000).await;
    w.reading(meter, midnight(2026, 11, 16), 14_321).await;
    w.reading(meter, midnight(2026, 12, 1), 20_000).await;
    w.run(d(2026, 11, 1), d(2026, 12, 2)).await;
    let wrong = w.invoice(contract, d(2026, 11, 1)).await;
    // 10 m³ at 5,12 and 7,90 zł and the fee: 139,70 zł net, 11,176 → 11,18 zł VAT.
    assert_eq!((wrong.net, wrong.vat, wrong.gross), (13_970, 1_118, 15_088));
    let wrong_id: i64 = sqlx::query_scalar("SELECT id FROM invoices WHERE contract_id = $1")
        .bind(contract)
        .fetch_one(w.pool())
        .await
        .unwrap();
    use ebok_billing::correction;
    // Nothing changed yet: nothing to correct.
    let same = correction::preview(w.pool(), w.utility_id, wrong_id, "Błędna grupa taryfowa")
        .await
        .unwrap_err();
    assert!(same.to_string().contains("te same pozycje"), "{same}");
    let no_reason = correction::issue(w.pool(), w.utility_id, wrong_id, " ")
        .await
        .unwrap_err();
    assert!(no_reason.to_string().contains("przyczynę"), "{no_reason}");

    sqlx::query("UPDATE contracts SET tariff_group_id = $2 WHERE id = $1")
        .bind(contract)
        .bind(w.changing)
        .execute(w.pool())
        .await
        .unwrap();
    let kor = correction::issue(w.pool(), w.utility_id, wrong_id, "Błędna grupa taryfowa")
        .await
        .unwrap();
    let after = w.invoice_by_id(kor, false).await;
    let before = w.invoice_by_id(kor, true).await;
    assert_eq!(before.amounts(), wrong.amounts());
    assert_eq!(
        after.amounts(),
        [
            (4_321, 512, 2_212),
            (4_321, 789, 3_409),
            (1_000, 475, 475),
            (5_679, 567, 3_220),
            (5_679, 801, 4_549),
            (1_000, 500, 500),
        ]
    );
    // The difference: 143,65 − 139,70 = 3,95 zł net; VAT 11,49 − 11,18 = 0,31 zł (each side's
    // VAT on its own total), 4,26 zł gross.
    assert_eq!((after.net, after.vat, after.gross), (395, 31, 426));
    let month = ebok_common::domain::time::local_day(chrono::Utc::now()).format("%Y/%m");
    assert_eq!(after.number, format!("KOR/{month}/000001"));
    let balance: i64 =
        sqlx::query_scalar("SELECT balance_grosze FROM customer_balances WHERE customer_id = $1")
            .bind(customer)
            .fetch_one(w.pool())
            .await
            .unwrap();
    assert_eq!(balance, 15_088 + 426);
    let again = correction::issue(w.pool(), w.utility_id, wrong_id, "Jeszcze raz")
        .await
        .unwrap_err();
    assert!(again.to_string().contains("ma już korektę"), "{again}");
    // December starts where the correction left the meter.
    w.reading(meter, midnight(2027, 1, 1), 21_000).await;
    w.run(d(2026, 12, 1), d(2027, 1, 2)).await;
    let december = w.invoice(contract, d(2026, 12, 1)).await;
    assert_eq!(december.amounts()[0].0, 1_000);
}

#[tokio::test]
async fn a_correction_downwards_pays_off_the_corrected_invoice_first() {
    let w = World::new().await;
    // Billed in the group whose tariff rose on 16 November, though the plain one was right.
    let (customer, point, contract) = w.contract(w.changing, true).await;
    let meter = w.meter(point, "main", midnight(2025, 6, 1), 0).await;
    w.reading(meter, midnight(2026, 11, 1), 10_000).await;
    w.reading(meter, midnight(2026, 11, 16), 14_321).await;
    w.reading(meter, midnight(2026, 12, 1), 20_000).await;
    w.run(d(2026, 11, 1), d(2026, 12, 2)).await;
    let wrong_id: i64 = sqlx::query_scalar("SELECT id FROM invoices WHERE contract_id = $1")
        .bind(contract)
        .fetch_one(w.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE contracts SET tariff_group_id = $2 WHERE id = $1")
        .bind(contract)
        .bind(w.plain)
        .execute(w.pool())
        .await
        .unwrap();
    let kor = ebok_billing::correction::issue(w.pool(), w.utility_id, wrong_id, "Błędna grupa")
        .await
        .unwrap();
    assert_eq!(w.invoice_by_id(kor, false).await.gross, -426);
    // The credit of the correction is allocated to the invoice it corrects.
    let allocated: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT a.invoice_id, a.amount_grosze FROM invoice_allocations a
         JOIN ledger_entries e ON e.id = a.ledger_entry_id WHERE e.invoice_id = $1",
    )
    .bind(kor)
    .fetch_all(w.pool())
    .await
    .unwrap();
    assert_eq!(allocated, vec![(wrong_id, 426)]);
    let (balance, open): (i64, i64) = sqlx::query_as(
        "SELECT b.balance_grosze,
                (SELECT (i.amount_due_grosze - coalesce(sum(a.amount_grosze), 0))::bigint
                 FROM invoices i LEFT JOIN invoice_allocations a ON a.invoice_id = i.id
                 WHERE i.id = $2 GROUP BY i.id)
         FROM customer_balances b WHERE b.customer_id = $1",
    )
    .bind(customer)
    .bind(wrong_id)
    .fetch_one(w.pool())
    .await
    .unwrap();
    assert_eq!(balance, 15_514 - 426);
    assert_eq!(open, balance, "what is owed is what is open");
}

#[tokio::test]
async fn a_manual_invoice_for_services_totals_vat_per_rate() {
    use ebok_billing::manual::{self, ManualLine};
    use ebok_common::domain::Money;
    let w = World::new().await;
    let (customer, _, _) = w.contract(w.plain, false).await;
    let line =
        |name: &str, unit: &str, quantity_milli: i64, grosze: i64, vat_rate: u8| ManualLine {
            name: name.into(),
            unit: unit.into(),
            quantity_milli,
            unit_price: Money::from_grosze(grosze),
            vat_rate,
        };
    let today = ebok_common::domain::time::local_day(chrono::Utc::now());
    let refused = manual::issue(
        w.pool(),
        w.utility_id,
        customer,
        today,
        &[line("", "szt.", 1_000, 100, 23)],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&refused, manual::ManualError::Invalid { field, .. } if field == "lines[0].name"),
        "{refused}"
    );
    let id = manual::issue(
        w.pool(),
        w.utility_id,
        customer,
        today,
        &[
            line(
                "Sprawdzenie wodomierza na wniosek klienta",
                "szt.",
                1_000,
                15_000,
                23,
            ),
            line("Plombowanie wodomierza", "szt.", 2_000, 1_234, 8),
        ],
    )
    .await
    .unwrap();
    let invoice = w.invoice_by_id(id, false).await;
    assert_eq!(
        invoice.amounts(),
        [(1_000, 15_000, 15_000), (2_000, 1_234, 2_468)]
    );
    // 23% of 150,00 = 34,50 zł; 8% of 24,68 = 1,9744 → 1,97 zł.
    assert_eq!(
        (invoice.net, invoice.vat, invoice.gross),
        (17_468, 3_647, 21_115)
    );
    // Another utility cannot invoice this customer.
    let other = fixtures::utility(w.pool(), "inna-gmina").await;
    let foreign = manual::issue(
        w.pool(),
        other,
        customer,
        today,
        &[line("x", "szt.", 1_000, 1, 8)],
    )
    .await;
    assert!(
        matches!(foreign, Err(manual::ManualError::NotFound)),
        "{foreign:?}"
    );
}

#[tokio::test]
async fn a_tenant_who_moves_out_mid_month_pays_to_their_last_day_and_the_next_from_their_first() {
    let w = World::new().await;
    let (_, point, leaving) = w.contract(w.plain, false).await;
    let meter = w.meter(point, "main", midnight(2025, 6, 1), 0).await;
    w.reading(meter, midnight(2026, 10, 1), 500).await;
    w.reading(meter, midnight(2026, 11, 1), 1_000).await;
    w.reading(meter, midnight(2026, 11, 16), 3_000).await;
    w.reading(meter, midnight(2026, 12, 1), 4_500).await;
    w.run(d(2026, 10, 1), d(2026, 11, 2)).await;
    // The first tenant's contract ended on 15 November (recorded after the fact: terminated);
    // the next one's began on the 16th.
    sqlx::query(
        "UPDATE contracts SET valid_until = '2026-11-15', status = 'terminated' WHERE id = $1",
    )
    .bind(leaving)
    .execute(w.pool())
    .await
    .unwrap();
    let newcomer = fixtures::person(w.pool(), w.utility_id).await;
    let arriving: i64 = sqlx::query_scalar(
        "INSERT INTO contracts (utility_id, number, customer_id, supply_point_id, tariff_group_id,
                                valid_from, status, signed_at)
         VALUES ($1, 'U/nowy', $2, $3, $4, '2026-11-16', 'active', now()) RETURNING id",
    )
    .bind(w.utility_id)
    .bind(newcomer)
    .bind(point)
    .bind(w.plain)
    .fetch_one(w.pool())
    .await
    .unwrap();
    let november = w.run(d(2026, 11, 1), d(2026, 12, 2)).await;
    assert_eq!(november.invoices_issued, 2, "{november:?}");
    let last = w.invoice(leaving, d(2026, 11, 1)).await;
    assert_eq!(
        last.amounts()[0],
        (2_000, 512, 1_024),
        "1–15 November, 2 m³"
    );
    let first = w.invoice(arriving, d(2026, 11, 16)).await;
    assert_eq!(
        first.amounts()[0],
        (1_500, 512, 768),
        "16–30 November, 1,5 m³"
    );
}
