//! Invoices sent to KSeF through the emulator of its API, over HTTP, from a real database: the
//! full online session for a VAT invoice and its correction (KOR, naming the original's KSeF
//! number), the KSeF number and UPO recorded and printed on the PDF, a duplicate taken as
//! already sent, a refusal listed for staff and sent again, KSeF unavailable and throttled
//! then tried again, a wrong token, the utility's scope, and another utility kept apart.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, Utc};
use ebok_billing::correction;
use ebok_billing::manual::{self, ManualLine};
use ebok_billing::run::{self, RunRequest};
use ebok_common::config::KsefConfig;
use ebok_common::domain::Money;
use ebok_common::domain::time::{day_start, local_day};
use ebok_ksef::emulator::{Faults, KsefEmulator};
use ebok_ksef::sender::{Outcome, Sender};
use ebok_ksef::{number, office};
use ebok_testkit::{TestDb, fixtures};
use sqlx::PgPool;

const NIP: &str = "5260250274";
const TOKEN: &str = "20261205-EC-0123456789-ABCDEF0123-45|nip-5260250274|0a1b2c3d";

/// A utility that bills and sends `scope` invoices to KSeF (the emulator).
async fn utility(pool: &PgPool, slug: &str, nip: &str, scope: &str) -> i64 {
    let u = fixtures::utility(pool, slug).await;
    sqlx::query(
        "UPDATE utilities SET nip = $2, street = 'Wodna', building_no = '1',
                postal_code = '14-420', city = 'Młynary', ksef_scope = $3::text::ksef_scope
         WHERE id = $1",
    )
    .bind(u)
    .bind(nip)
    .bind(scope)
    .execute(pool)
    .await
    .unwrap();
    u
}

fn sender_config(emulator: &KsefEmulator, slug: &str, token: &str) -> BTreeMap<String, KsefConfig> {
    BTreeMap::from([(
        slug.to_string(),
        KsefConfig {
            base_url: Some(emulator.base_url()),
            token: token.to_string().into(),
            timeout_ms: 10_000,
            interval_s: 1,
        },
    )])
}

/// A household billed for last month; the invoice's id.
async fn billed_household(pool: &PgPool, u: i64) -> (fixtures::Household, i64) {
    let home = fixtures::household(pool, u, &format!("{}@example.pl", u)).await;
    sqlx::query(
        "INSERT INTO tariffs (utility_id, tariff_group_id, valid_from, water_price_grosze,
                              sewage_price_grosze, subscription_grosze, garden_subscription_grosze, vat_rate)
         SELECT $1, id, '2020-01-01', 512, 790, 950, 300, 8 FROM tariff_groups WHERE utility_id = $1
         ON CONFLICT DO NOTHING",
    )
    .bind(u)
    .execute(pool)
    .await
    .unwrap();
    let today = local_day(Utc::now());
    let month = today.with_day(1).unwrap() - Months::new(1);
    for (day, litres) in [(month, 10_000), (month + Months::new(1), 14_321)] {
        fixtures::radio_reading(pool, home.meter_id, day_start(day), litres).await;
    }
    let outcome = run::run(
        pool,
        &RunRequest {
            utility_id: u,
            month,
            issue_date: today,
            started_by: None,
            batch: 100,
        },
        |_| {},
    )
    .await
    .unwrap();
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    let invoice = sqlx::query_scalar("SELECT id FROM invoices WHERE customer_id = $1")
        .bind(home.customer_id)
        .fetch_one(pool)
        .await
        .unwrap();
    (home, invoice)
}

async fn state(pool: &PgPool, invoice: i64) -> (String, Option<String>, Option<String>) {
    sqlx::query_as("SELECT state::text, ksef_number, upo FROM ksef_invoices WHERE invoice_id = $1")
        .bind(invoice)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Makes every waiting invoice due now (the sender's back-off would wait seconds to an hour).
async fn due_now(pool: &PgPool) {
    sqlx::query("UPDATE ksef_invoices SET next_attempt_at = now()")
        .execute(pool)
        .await
        .unwrap();
}

async fn manual_invoice(pool: &PgPool, u: i64, customer: i64) -> i64 {
    manual::issue(
        pool,
        u,
        customer,
        local_day(Utc::now()),
        &[ManualLine {
            name: "Wymiana wodomierza".into(),
            unit: "usł.".into(),
            quantity_milli: 1000,
            unit_price: Money::from_grosze(15_000),
            vat_rate: 8,
        }],
    )
    .await
    .unwrap()
}

fn pdftotext(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils): scripts/test-tools.sh installs it");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn a_vat_invoice_and_its_correction_go_through_a_full_session() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let emulator = KsefEmulator::start().await.unwrap();
    emulator.accept_token(TOKEN, NIP);
    // Verdicts take a poll or two, as KSeF's do.
    emulator.set_faults(Faults {
        processing_polls: 1,
        ..Faults::default()
    });
    let u = utility(pool, "mlynary", NIP, "all").await;
    let (home, invoice) = billed_household(pool, u).await;
    assert_eq!(state(pool, invoice).await.0, "queued");
    // Before KSeF took it, its PDF says OFFLINE and is not kept.
    let early = ebok_billing::documents::pdf_of(pool, u, invoice)
        .await
        .unwrap()
        .unwrap();
    assert!(pdftotext(&early).contains("OFFLINE"));
    let stored: Option<Vec<u8>> = sqlx::query_scalar("SELECT pdf FROM invoices WHERE id = $1")
        .bind(invoice)
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(stored.is_none(), "no PDF is stored before the KSeF number");
    // Nor can it be corrected before it has a number.
    let early_kor = correction::issue(pool, u, invoice, "Błędna grupa taryfowa").await;
    assert!(
        early_kor.unwrap_err().to_string().contains("numer KSeF"),
        "a correction waits for the KSeF number"
    );

    let sender = Sender::from_config(pool.clone(), &sender_config(&emulator, "mlynary", TOKEN))
        .await
        .unwrap();
    let first = sender.tick().await.unwrap();
    assert_eq!((first.sent, first.waiting), (1, 1), "{first:?}");
    // KSeF was still processing it: asked again (after the sender's short wait).
    due_now(pool).await;
    let second = sender.tick().await.unwrap();
    assert_eq!(second.accepted, 1, "{second:?}");
    let (st, ksef_number, upo) = state(pool, invoice).await;
    assert_eq!(st, "accepted");
    let ksef_number = ksef_number.unwrap();
    assert!(number::is_valid(&ksef_number), "{ksef_number}");
    assert!(ksef_number.starts_with(NIP));
    let upo = upo.unwrap();
    assert!(upo.contains(&format!(
        "<NumerKSeFDokumentu>{ksef_number}</NumerKSeFDokumentu>"
    )));
    let xml: String = sqlx::query_scalar("SELECT ksef_xml FROM invoices WHERE id = $1")
        .bind(invoice)
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(upo.contains(&ebok_ksef::crypto::sha256_base64(xml.as_bytes())));
    let received = emulator.received();
    assert_eq!(received.len(), 1);
    assert!(
        received[0].validated,
        "the emulator validated it against the FA(3) schema"
    );
    assert_eq!(
        (received[0].kind.as_str(), received[0].status),
        ("VAT", 200)
    );
    // The PDF now carries the number under the QR code, and is kept.
    let pdf = ebok_billing::documents::pdf_of(pool, u, invoice)
        .await
        .unwrap()
        .unwrap();
    let text = pdftotext(&pdf);
    assert!(text.contains(&ksef_number), "{text}");
    assert!(!text.contains("OFFLINE"));
    let stored: Option<Vec<u8>> = sqlx::query_scalar("SELECT pdf FROM invoices WHERE id = $1")
        .bind(invoice)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(stored.as_deref(), Some(pdf.as_slice()));
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'ksef.invoice_accepted'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(audited, 1);

    // The correction names the original's KSeF number and goes the same way.
    let g2: i64 = sqlx::query_scalar(
        "INSERT INTO tariff_groups (utility_id, code, name) VALUES ($1, 'G2', 'Inna') RETURNING id",
    )
    .bind(u)
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO tariffs (utility_id, tariff_group_id, valid_from, water_price_grosze,
                              sewage_price_grosze, subscription_grosze, garden_subscription_grosze, vat_rate)
         VALUES ($1, $2, '2020-01-01', 612, 890, 950, 300, 8)",
    )
    .bind(u)
    .bind(g2)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("UPDATE contracts SET tariff_group_id = $2 WHERE id = $1")
        .bind(home.contract_id)
        .bind(g2)
        .execute(pool)
        .await
        .unwrap();
    let kor = correction::issue(pool, u, invoice, "Błędna grupa taryfowa")
        .await
        .unwrap();
    let kor_xml: String = sqlx::query_scalar("SELECT ksef_xml FROM invoices WHERE id = $1")
        .bind(kor)
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(
        kor_xml.contains(&format!(
            "<NrKSeFFaKorygowanej>{ksef_number}</NrKSeFFaKorygowanej>"
        )),
        "{kor_xml}"
    );
    let mut total = Outcome::default();
    for _ in 0..3 {
        total += sender.tick().await.unwrap();
        due_now(pool).await;
    }
    assert_eq!((total.sent, total.accepted), (1, 1), "{total:?}");
    let (st, kor_number, _) = state(pool, kor).await;
    assert_eq!(st, "accepted");
    assert_ne!(kor_number.as_deref(), Some(ksef_number.as_str()));
    let received = emulator.received();
    assert_eq!(received[1].kind, "KOR");
    assert!(received[1].validated);

    // Sent again (as if the sender had stopped before recording it): KSeF says duplicate, and
    // the invoice keeps the original's number and UPO.
    sqlx::query(
        "UPDATE ksef_invoices SET state = 'queued', ksef_number = NULL, upo = NULL
         WHERE invoice_id = $1",
    )
    .bind(invoice)
    .execute(pool)
    .await
    .unwrap();
    let mut total = Outcome::default();
    for _ in 0..3 {
        total += sender.tick().await.unwrap();
        due_now(pool).await;
    }
    assert_eq!(total.accepted, 1, "{total:?}");
    let (st, again, upo) = state(pool, invoice).await;
    assert_eq!(
        (st.as_str(), again.as_deref()),
        ("accepted", Some(ksef_number.as_str()))
    );
    assert!(upo.unwrap().contains(&ksef_number));
    assert_eq!(emulator.received().last().unwrap().status, 440);
    let code: i32 =
        sqlx::query_scalar("SELECT status_code FROM ksef_invoices WHERE invoice_id = $1")
            .bind(invoice)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(code, 440);
}

#[tokio::test]
async fn refusals_failures_and_wrong_tokens_are_shown_to_staff_and_tried_again() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let emulator = KsefEmulator::start().await.unwrap();
    emulator.accept_token(TOKEN, NIP);
    let u = utility(pool, "mlynary", NIP, "all").await;
    let customer = fixtures::person(pool, u).await;
    let staff = fixtures::resident_account(pool, u, "ksiegowa@example.pl").await;
    let sender = Sender::from_config(pool.clone(), &sender_config(&emulator, "mlynary", TOKEN))
        .await
        .unwrap();

    // KSeF refuses the invoice: listed with its reason; sent again, it is taken.
    let refused = manual_invoice(pool, u, customer).await;
    emulator.set_faults(Faults {
        reject_invoices: 1,
        ..Faults::default()
    });
    let o = sender.tick().await.unwrap();
    assert_eq!((o.sent, o.rejected), (1, 1), "{o:?}");
    let mut conn = pool.acquire().await.unwrap();
    let (trouble, _) = office::entries(&mut conn, u, 50).await.unwrap();
    assert_eq!(trouble.len(), 1);
    assert_eq!(trouble[0].state, "rejected");
    assert!(
        trouble[0].problem.as_deref().unwrap().contains("semantyki"),
        "{:?}",
        trouble[0].problem
    );
    let other = utility(pool, "tolkmicko", "7740001454", "all").await;
    assert!(
        !office::send_again(&mut conn, other, refused, staff)
            .await
            .unwrap()
    );
    assert!(
        office::entries(&mut conn, other, 50)
            .await
            .unwrap()
            .0
            .is_empty()
    );
    assert!(
        office::send_again(&mut conn, u, refused, staff)
            .await
            .unwrap()
    );
    let o = sender.tick().await.unwrap();
    assert_eq!(o.accepted, 1, "{o:?}");
    assert_eq!(state(pool, refused).await.0, "accepted");

    // KSeF unavailable: the invoice stays queued with the error, then goes.
    let waiting = manual_invoice(pool, u, customer).await;
    emulator.set_faults(Faults {
        unavailable: 100,
        ..Faults::default()
    });
    let o = sender.tick().await.unwrap();
    assert_eq!(o.failed, 1, "{o:?}");
    let (trouble, _) = office::entries(&mut conn, u, 50).await.unwrap();
    assert_eq!(trouble[0].invoice_id, waiting);
    assert!(
        trouble[0]
            .problem
            .as_deref()
            .unwrap()
            .contains("unavailable")
    );
    let later: bool = sqlx::query_scalar(
        "SELECT next_attempt_at > now() + interval '10 seconds' FROM ksef_invoices WHERE invoice_id = $1",
    )
    .bind(waiting)
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(later, "tried again after a wait");
    // Throttled for a moment: the client waits out Retry-After within the call.
    emulator.set_faults(Faults {
        throttled: 2,
        ..Faults::default()
    });
    due_now(pool).await;
    let o = sender.tick().await.unwrap();
    assert_eq!(o.accepted, 1, "{o:?}");
    assert_eq!(state(pool, waiting).await.0, "accepted");

    // A wrong token: nothing is sent, staff read why.
    let stranger = Sender::from_config(
        pool.clone(),
        &sender_config(&emulator, "tolkmicko", "wrong"),
    )
    .await
    .unwrap();
    let theirs = manual_invoice(pool, other, fixtures::person(pool, other).await).await;
    let o = stranger.tick().await.unwrap();
    assert_eq!(o.failed, 1, "{o:?}");
    let (trouble, _) = office::entries(&mut conn, other, 50).await.unwrap();
    assert_eq!(trouble[0].invoice_id, theirs);
    assert!(
        trouble[0].problem.as_deref().unwrap().contains("450"),
        "{:?}",
        trouble[0].problem
    );
}

#[tokio::test]
async fn the_utilitys_scope_decides_which_invoices_go() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let u = utility(pool, "mlynary", NIP, "with_nip").await;
    let person = fixtures::person(pool, u).await;
    let company: i64 = sqlx::query_scalar(
        "INSERT INTO customers (utility_id, customer_number, kind, name, nip, city)
         VALUES ($1, 'F-1', 'company', 'Piekarnia Sp. z o.o.', '7740001454', 'Młynary')
         RETURNING id",
    )
    .bind(u)
    .fetch_one(pool)
    .await
    .unwrap();
    let theirs = manual_invoice(pool, u, person).await;
    let business = manual_invoice(pool, u, company).await;
    let queued: Vec<i64> = sqlx::query_scalar("SELECT invoice_id FROM ksef_invoices ORDER BY 1")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(
        queued,
        vec![business],
        "only the buyer with a NIP ({theirs} stays out)"
    );
    let mut conn = pool.acquire().await.unwrap();
    let staff = fixtures::resident_account(pool, u, "admin@example.pl").await;
    office::set_settings(
        &mut conn,
        u,
        staff,
        &office::Settings {
            scope: "off".into(),
            environment: "production".into(),
        },
    )
    .await
    .unwrap();
    manual_invoice(pool, u, company).await;
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM ksef_invoices")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(queued, 1, "off: nothing more");
    assert!(
        office::set_settings(
            &mut conn,
            u,
            staff,
            &office::Settings {
                scope: "everything".into(),
                environment: "production".into(),
            },
        )
        .await
        .is_err()
    );
    assert_eq!(
        office::settings(&mut conn, u).await.unwrap().environment,
        "production"
    );
}
