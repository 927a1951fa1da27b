//! Billing in the back office against a real PostgreSQL: billing staff add and withdraw tariffs
//! (never one in force), start a month's run and follow it to the end, download the print batch
//! of paper invoices; the counter sees a customer's invoices on their card and downloads them;
//! a technician sees none of it, a clerk cannot run billing, and another utility's billing staff
//! reach nothing of this utility's runs and invoices.

use crate::support;

use std::time::Duration;

use chrono::{Datelike, Months, Utc};
use ebok_common::domain::time::local_day;
use support::{App, billing_ready, resident, staff, utility};

#[tokio::test]
async fn billing_staff_manage_tariffs_and_run_a_month_and_others_reach_only_what_their_role_may() {
    let app = App::start().await;
    let a = utility(app.pool(), "mlynary").await;
    let b = utility(app.pool(), "tolkmicko").await;
    let jan = resident(app.pool(), a, "mlynary", "jan@example.pl", 70).await;
    billing_ready(app.pool(), a).await;
    billing_ready(app.pool(), b).await;
    let billing = staff(app.pool(), a, "mlynary", "billing").await;
    let clerk = staff(app.pool(), a, "mlynary", "clerk").await;
    let technician = staff(app.pool(), a, "mlynary", "technician").await;
    let other = staff(app.pool(), b, "tolkmicko", "billing").await;
    let web = app.staff_web_login(&billing, 1).await;

    // Tariffs: one in force cannot change; a new one starts tomorrow at the earliest.
    let page = app
        .web_get(&web, "/panel/mlynary/taryfy")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Nowa taryfa") && page.contains("obowiązuje"),
        "{page}"
    );
    let group: i64 = sqlx::query_scalar("SELECT id FROM tariff_groups WHERE utility_id = $1")
        .bind(a)
        .fetch_one(app.pool())
        .await
        .unwrap();
    let in_force: i64 = sqlx::query_scalar("SELECT id FROM tariffs WHERE utility_id = $1")
        .bind(a)
        .fetch_one(app.pool())
        .await
        .unwrap();
    let csrf = app.web_csrf(&web, "/panel/mlynary/taryfy").await;
    let today = local_day(Utc::now());
    let tariff = |from: String, water: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("tariff_group_id", group.to_string()),
            ("valid_from", from),
            ("water_price", water.to_string()),
            ("sewage_price", "7,90".to_string()),
            ("subscription", "9,50".to_string()),
            ("garden_subscription", "3,00".to_string()),
            ("vat_rate", "8".to_string()),
            ("basis", "Uchwała nr XII/85/2026".to_string()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| {
        let web = web.clone();
        let app = &app;
        async move {
            let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.web_post(&web, "/panel/mlynary/taryfy", &form).await
        }
    };
    let refused = post(tariff(today.to_string(), "5,67")).await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("najwcześniej od jutra"), "{html}");
    let refused = post(tariff((today + chrono::Days::new(30)).to_string(), "pięć")).await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Podaj kwotę w złotych")
    );
    let added = post(tariff((today + chrono::Days::new(30)).to_string(), "5,67")).await;
    assert_eq!(added.status(), 303);
    let future: i64 = sqlx::query_scalar(
        "SELECT id FROM tariffs WHERE utility_id = $1 AND valid_from > current_date",
    )
    .bind(a)
    .fetch_one(app.pool())
    .await
    .unwrap();
    let page = app
        .web_get(&web, "/panel/mlynary/taryfy")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("5,67") && page.contains("Uchwała nr XII/85/2026"),
        "{page}"
    );
    let withdrawn = app
        .web_post(
            &web,
            &format!("/panel/mlynary/taryfy/{future}/wycofaj"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(withdrawn.status(), 303);
    let kept = app
        .web_post(
            &web,
            &format!("/panel/mlynary/taryfy/{in_force}/wycofaj"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(kept.status(), 422);
    assert!(kept.text().await.unwrap().contains("już obowiązuje"));
    // The database refuses it too, whoever asks.
    let err = sqlx::query("UPDATE tariffs SET water_price_grosze = 1 WHERE id = $1")
        .bind(in_force)
        .execute(app.pool())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("supersede"), "{err}");

    // A run of last month, started here and followed to the end.
    let period = (today.with_day(1).unwrap() - Months::new(1))
        .format("%Y-%m")
        .to_string();
    let csrf = app.web_csrf(&web, "/panel/mlynary/rozliczenia").await;
    let too_early = app
        .web_post(
            &web,
            "/panel/mlynary/rozliczenia",
            &[
                ("csrf", csrf.as_str()),
                ("period", &today.format("%Y-%m").to_string()),
                ("issue_date", ""),
            ],
        )
        .await;
    assert_eq!(too_early.status(), 422);
    assert!(too_early.text().await.unwrap().contains("jeszcze trwa"));
    let started = app
        .web_post(
            &web,
            "/panel/mlynary/rozliczenia",
            &[
                ("csrf", csrf.as_str()),
                ("period", &period),
                ("issue_date", ""),
            ],
        )
        .await;
    assert_eq!(started.status(), 303);
    let run_page = started.headers()["location"].to_str().unwrap().to_string();
    let run_id: i64 = run_page.rsplit('/').next().unwrap().parse().unwrap();
    let mut html = String::new();
    for _ in 0..100 {
        html = app.web_get(&web, &run_page).await.text().await.unwrap();
        if html.contains("zakończone") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(html.contains("zakończone"), "{html}");
    let invoice: (i64, String) =
        sqlx::query_as("SELECT id, number FROM invoices WHERE customer_id = $1")
            .bind(jan.customer_id)
            .fetch_one(app.pool())
            .await
            .unwrap();
    // Jan gave no e-invoice consent: his invoice goes on paper, in the print batch.
    assert!(html.contains("druk.pdf"), "{html}");
    let batch = app.web_get(&web, &format!("{run_page}/druk.pdf")).await;
    assert_eq!(batch.status(), 200);
    assert!(batch.bytes().await.unwrap().starts_with(b"%PDF-"));
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE utility_id = $1 AND action LIKE ANY ('{tariff.%,billing.%}') ORDER BY id",
    )
    .bind(a)
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(
        audited,
        ["tariff.added", "tariff.withdrawn", "billing.run_started"]
    );

    // An invoice for services from the card (a wrong price first), and a correction of the
    // month's invoice after the contract moves to another group.
    let card = format!("/panel/mlynary/klienci/{}", jan.customer_id);
    let csrf = app.web_csrf(&web, &card).await;
    let today_text = today.to_string();
    let manual = |price: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("sale_date", today_text.clone()),
            ("name_0", "Sprawdzenie wodomierza".to_string()),
            ("unit_0", "usł.".to_string()),
            ("quantity_0", "1".to_string()),
            ("price_0", "150,00".to_string()),
            ("vat_0", "23".to_string()),
            ("name_1", "Plombowanie".to_string()),
            ("unit_1", "szt.".to_string()),
            ("quantity_1", "2".to_string()),
            ("price_1", price.to_string()),
            ("vat_1", "8".to_string()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>, path: String| {
        let web = web.clone();
        let app = &app;
        async move {
            let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.web_post(&web, &path, &form).await
        }
    };
    let refused = send(manual("dwanaście"), format!("{card}/faktury")).await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("Podaj cenę netto") && html.contains("href=\"#price_1\""),
        "{html}"
    );
    let issued = send(manual("12,34"), format!("{card}/faktury")).await;
    assert_eq!(issued.status(), 303);
    let manual_gross: i64 = sqlx::query_scalar(
        "SELECT gross_grosze FROM invoices WHERE customer_id = $1 AND kind = 'manual'",
    )
    .bind(jan.customer_id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(manual_gross, 21_115);
    let second: i64 = sqlx::query_scalar(
        "INSERT INTO tariff_groups (utility_id, code, name) VALUES ($1, 'G2', 'Druga grupa') RETURNING id",
    )
    .bind(a)
    .fetch_one(app.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO tariffs (utility_id, tariff_group_id, valid_from, water_price_grosze,
                              sewage_price_grosze, subscription_grosze, garden_subscription_grosze, vat_rate)
         VALUES ($1, $2, '2020-01-01', 612, 890, 1050, 300, 8)",
    )
    .bind(a)
    .bind(second)
    .execute(app.pool())
    .await
    .unwrap();
    let correction = format!("/panel/mlynary/faktury/{}/korekta", invoice.0);
    let page = app.web_get(&web, &correction).await.text().await.unwrap();
    assert!(page.contains("Przyczyna korekty"), "{page}");
    let csrf = app.web_csrf(&web, &correction).await;
    let same = send(
        vec![("csrf", csrf.clone()), ("reason", "Zła grupa".into())],
        format!("{correction}/podglad"),
    )
    .await;
    assert_eq!(same.status(), 422);
    assert!(same.text().await.unwrap().contains("te same pozycje"));
    let moved = send(
        vec![("csrf", csrf.clone()), ("tariff_group", "G2".into())],
        format!("{correction}/grupa"),
    )
    .await;
    assert_eq!(moved.status(), 303);
    let preview = send(
        vec![("csrf", csrf.clone()), ("reason", "Zła grupa".into())],
        format!("{correction}/podglad"),
    )
    .await;
    assert_eq!(preview.status(), 200);
    assert!(preview.text().await.unwrap().contains("Po korekcie"));
    let corrected = send(
        vec![("csrf", csrf.clone()), ("reason", "Zła grupa".into())],
        correction.clone(),
    )
    .await;
    assert_eq!(corrected.status(), 303);
    let kor: (String, i64) =
        sqlx::query_as("SELECT number, gross_grosze FROM invoices WHERE corrects_id = $1")
            .bind(invoice.0)
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert!(kor.0.starts_with("KOR/") && kor.1 > 0, "{kor:?}");

    // The counter: tariffs to read, invoices on the card, no runs.
    let counter = app.staff_web_login(&clerk, 1).await;
    let page = app
        .web_get(&counter, "/panel/mlynary/taryfy")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("9,50") && !page.contains("Nowa taryfa"),
        "{page}"
    );
    assert_eq!(
        app.web_get(&counter, "/panel/mlynary/rozliczenia")
            .await
            .status(),
        403
    );
    assert_eq!(app.web_get(&counter, &run_page).await.status(), 403);
    let card = app
        .web_get(
            &counter,
            &format!("/panel/mlynary/klienci/{}", jan.customer_id),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        card.contains("Rozliczenia") && card.contains(&invoice.1),
        "{card}"
    );
    assert!(
        !card.contains("/korekta") && !card.contains("Faktura za usługę"),
        "{card}"
    );
    let pdf = app
        .web_get(
            &counter,
            &format!("/panel/mlynary/faktury/{}/pdf", invoice.0),
        )
        .await;
    assert_eq!(pdf.status(), 200);
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-"));

    // A technician: none of it.
    let tech = app.staff_web_login(&technician, 1).await;
    assert_eq!(
        app.web_get(&tech, "/panel/mlynary/taryfy").await.status(),
        403
    );
    assert_eq!(
        app.web_get(&tech, "/panel/mlynary/rozliczenia")
            .await
            .status(),
        403
    );
    assert_eq!(
        app.web_get(&tech, &format!("/panel/mlynary/faktury/{}/xml", invoice.0))
            .await
            .status(),
        403
    );
    let card = app
        .web_get(
            &tech,
            &format!("/panel/mlynary/klienci/{}", jan.customer_id),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(!card.contains(&invoice.1), "{card}");

    // Another utility's billing staff: not found.
    let theirs = app.staff_web_login(&other, 1).await;
    for path in [
        format!("/panel/tolkmicko/rozliczenia/{run_id}"),
        format!("/panel/tolkmicko/rozliczenia/{run_id}/druk.pdf"),
        format!("/panel/tolkmicko/faktury/{}/pdf", invoice.0),
        format!("/panel/tolkmicko/faktury/{}/xml", invoice.0),
        format!("/panel/tolkmicko/faktury/{}/korekta", invoice.0),
    ] {
        assert_eq!(app.web_get(&theirs, &path).await.status(), 404, "{path}");
    }
    let csrf = app.web_csrf(&theirs, "/panel/tolkmicko/taryfy").await;
    let foreign = app
        .web_post(
            &theirs,
            &format!("/panel/tolkmicko/taryfy/{in_force}/wycofaj"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(foreign.status(), 404);
    for path in [
        format!("/panel/tolkmicko/faktury/{}/korekta", invoice.0),
        format!("/panel/tolkmicko/faktury/{}/korekta/podglad", invoice.0),
        format!("/panel/tolkmicko/faktury/{}/korekta/grupa", invoice.0),
        format!("/panel/tolkmicko/klienci/{}/faktury", jan.customer_id),
    ] {
        let r = app
            .web_post(
                &theirs,
                &path,
                &[
                    ("csrf", csrf.as_str()),
                    ("reason", "Zła grupa"),
                    ("tariff_group", "G1"),
                    ("sale_date", &today.to_string()),
                    ("name_0", "Usługa"),
                    ("unit_0", "usł."),
                    ("quantity_0", "1"),
                    ("price_0", "1,00"),
                    ("vat_0", "23"),
                ],
            )
            .await;
        assert_eq!(r.status(), 404, "{path}");
    }
    // A clerk and a technician may not correct or invoice.
    for (who, session) in [("clerk", &counter), ("technician", &tech)] {
        let csrf = app.web_csrf(session, "/panel/mlynary/").await;
        for path in [
            format!("/panel/mlynary/faktury/{}/korekta", invoice.0),
            format!("/panel/mlynary/faktury/{}/korekta/podglad", invoice.0),
            format!("/panel/mlynary/faktury/{}/korekta/grupa", invoice.0),
            format!("/panel/mlynary/klienci/{}/faktury", jan.customer_id),
        ] {
            let r = app
                .web_post(session, &path, &[("csrf", csrf.as_str()), ("reason", "x")])
                .await;
            assert_eq!(r.status(), 403, "{who} at {path}");
        }
    }
    let kors: i64 = sqlx::query_scalar("SELECT count(*) FROM invoices WHERE kind = 'correction'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(kors, 1, "only billing staff's correction");
    // And their session is no key to this utility's panel.
    assert_ne!(
        app.web_get(&theirs, "/panel/mlynary/taryfy").await.status(),
        200
    );
    support::validate_every_fa3(app.pool()).await;
}
