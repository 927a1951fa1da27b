//! KSeF in the back office over HTTP: whoever sees invoices sees the queue, the refusals and
//! the accepted invoices with their UPO; only an admin changes the settings, only billing
//! staff send a refused invoice again; a technician, a resident and another utility's staff
//! reach none of it. (Sending itself is tested against the emulator in the ebok-ksef crate.)

use crate::support;

use chrono::Utc;
use ebok_billing::manual::{self, ManualLine};
use ebok_common::domain::Money;
use ebok_common::domain::time::local_day;
use sqlx::PgPool;
use support::{App, billing_ready, resident, utility};

async fn invoice(pool: &PgPool, u: i64, customer: i64) -> i64 {
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

#[tokio::test]
async fn staff_see_ksef_by_role_and_only_their_utilitys_invoices() {
    let app = App::start().await;
    let pool = app.pool();
    let u = utility(pool, "mlynary").await;
    let jan = resident(pool, u, "mlynary", "jan@example.pl", 1).await;
    billing_ready(pool, u).await;
    sqlx::query("UPDATE utilities SET ksef_scope = 'all' WHERE id = $1")
        .bind(u)
        .execute(pool)
        .await
        .unwrap();
    let refused = invoice(pool, u, jan.customer_id).await;
    let accepted = invoice(pool, u, jan.customer_id).await;
    // As the sender records KSeF's verdicts.
    sqlx::query(
        "UPDATE ksef_invoices SET state = 'rejected', session_reference = 's', invoice_reference = 'i',
                status_code = 450, status_description = 'Błąd weryfikacji semantyki dokumentu faktury'
         WHERE invoice_id = $1",
    )
    .bind(refused)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE ksef_invoices SET state = 'accepted', session_reference = 's', invoice_reference = 'j',
                ksef_number = '5260250274-20261205-0100001AF629-13', upo = '<Potwierdzenie/>',
                status_code = 200
         WHERE invoice_id = $1",
    )
    .bind(accepted)
    .execute(pool)
    .await
    .unwrap();
    let clerk = support::staff(pool, u, "mlynary", "clerk").await;
    let billing = support::staff(pool, u, "mlynary", "billing").await;
    let admin = support::staff(pool, u, "mlynary", "admin").await;
    let technician = support::staff(pool, u, "mlynary", "technician").await;
    let tolkmicko = utility(pool, "tolkmicko").await;
    let other = support::staff(pool, tolkmicko, "tolkmicko", "admin").await;

    // A clerk sees the refusal and the accepted invoice, but neither resends nor configures.
    let web = app.staff_web_login(&clerk, 1).await;
    let page = app.web_get(&web, "/panel/mlynary/ksef").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Błąd weryfikacji semantyki"), "{html}");
    assert!(html.contains("5260250274-20261205-0100001AF629-13"));
    assert!(!html.contains("Wyślij ponownie"));
    assert!(!html.contains("Zapisz ustawienia KSeF"));
    let upo = app
        .web_get(&web, &format!("/panel/mlynary/ksef/{accepted}/upo.xml"))
        .await;
    assert_eq!(upo.status(), 200);
    assert_eq!(upo.text().await.unwrap(), "<Potwierdzenie/>");
    let csrf = app.web_csrf(&web, "/panel/mlynary/ksef").await;
    let resend = format!("/panel/mlynary/ksef/{refused}/ponow");
    assert_eq!(
        app.web_post(&web, &resend, &[("csrf", &csrf)])
            .await
            .status(),
        403
    );
    assert_eq!(
        app.web_post(
            &web,
            "/panel/mlynary/ksef/ustawienia",
            &[("csrf", &csrf), ("zakres", "off"), ("srodowisko", "test")],
        )
        .await
        .status(),
        403
    );

    // Billing staff send it again.
    let web = app.staff_web_login(&billing, 1).await;
    let csrf = app.web_csrf(&web, "/panel/mlynary/ksef").await;
    assert!(
        app.web_get(&web, "/panel/mlynary/ksef")
            .await
            .text()
            .await
            .unwrap()
            .contains("Wyślij ponownie")
    );
    assert_eq!(
        app.web_post(&web, &resend, &[("csrf", &csrf)])
            .await
            .status(),
        303
    );
    let state: String =
        sqlx::query_scalar("SELECT state::text FROM ksef_invoices WHERE invoice_id = $1")
            .bind(refused)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(state, "queued");
    // Not twice: it is no longer a refused invoice.
    assert_eq!(
        app.web_post(&web, &resend, &[("csrf", &csrf)])
            .await
            .status(),
        404
    );

    // The admin changes the settings; a value not offered is refused at the field.
    let web = app.staff_web_login(&admin, 1).await;
    let csrf = app.web_csrf(&web, "/panel/mlynary/ksef").await;
    let saved = app
        .web_post(
            &web,
            "/panel/mlynary/ksef/ustawienia",
            &[
                ("csrf", &csrf),
                ("zakres", "with_nip"),
                ("srodowisko", "production"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let (scope, environment): (String, String) = sqlx::query_as(
        "SELECT ksef_scope::text, ksef_environment::text FROM utilities WHERE id = $1",
    )
    .bind(u)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        (scope.as_str(), environment.as_str()),
        ("with_nip", "production")
    );
    let bad = app
        .web_post(
            &web,
            "/panel/mlynary/ksef/ustawienia",
            &[
                ("csrf", &csrf),
                ("zakres", "wszystko"),
                ("srodowisko", "production"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("Wybierz zakres"));

    // Nobody else.
    let web = app.staff_web_login(&technician, 1).await;
    assert_eq!(app.web_get(&web, "/panel/mlynary/ksef").await.status(), 403);
    let web = app.staff_web_login(&other, 1).await;
    let html = app
        .web_get(&web, "/panel/tolkmicko/ksef")
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("0100001AF629"), "{html}");
    assert_eq!(
        app.web_get(&web, &format!("/panel/tolkmicko/ksef/{accepted}/upo.xml"))
            .await
            .status(),
        404
    );
    let csrf = app.web_csrf(&web, "/panel/tolkmicko/ksef").await;
    assert_eq!(
        app.web_post(
            &web,
            &format!("/panel/tolkmicko/ksef/{refused}/ponow"),
            &[("csrf", &csrf)],
        )
        .await
        .status(),
        404
    );
    let cookie = app.web_login("mlynary", &jan.email).await;
    let page = app
        .web_get(&cookie, &format!("/panel/mlynary/ksef/{accepted}/upo.xml"))
        .await;
    assert_ne!(page.status(), 200);

    // The resident reads the KSeF number on the invoice's page and in the API.
    let html = app
        .web_get(&cookie, &format!("/u/mlynary/faktury/{accepted}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("5260250274-20261205-0100001AF629-13"),
        "{html}"
    );
    let token = app.login("mlynary", &jan.email).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let view: serde_json::Value = app
        .get(&token, &format!("/api/v1/invoices/{accepted}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["ksef_number"], "5260250274-20261205-0100001AF629-13");
    let view: serde_json::Value = app
        .get(&token, &format!("/api/v1/invoices/{refused}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["ksef_number"], serde_json::Value::Null);
}
