//! The booking calendars, an outage notice and failure reports in the demo, so residents can
//! book a visit and read a notice at once, and the back office has something in each: three
//! calendars (a meeting at the office, a meter replacement at home, contract signing for two at
//! a time), planned works on the utility's busiest street announced by its first clerk, and two
//! failure reports there (a resident's burst pipe with a crew on the way, a passer-by's low
//! pressure). Added once per utility (when it has no calendar yet), also to an older demo
//! database.

use std::collections::BTreeSet;

use anyhow::Result;
use chrono::{DateTime, Duration, NaiveTime, Utc, Weekday};
use ebok_bookings::calendar::{Calendar, Hours};
use ebok_outages::area::{Area, StreetRange};
use ebok_outages::reports::store as failures;
use ebok_outages::reports::{Category, NewReport, Place, Reporter};
use ebok_outages::store::{self as outages, Draft, Kind, Staff};
use sqlx::{PgConnection, PgPool};

fn hours(days: &[Weekday], opens: u32, closes: u32) -> Vec<Hours> {
    days.iter()
        .map(|&weekday| Hours {
            weekday,
            opens: NaiveTime::from_hms_opt(opens, 0, 0).expect("an hour"),
            closes: NaiveTime::from_hms_opt(closes, 0, 0).expect("an hour"),
        })
        .collect()
}

/// The demo's calendars and notice of utility `utility_id`; whether they were added.
pub async fn ensure_services(pool: &PgPool, utility_id: i64) -> Result<bool> {
    let has: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM booking_calendars WHERE utility_id = $1)")
            .bind(utility_id)
            .fetch_one(pool)
            .await?;
    let clerk: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM user_accounts WHERE utility_id = $1 AND role = 'clerk' ORDER BY id LIMIT 1",
    )
    .bind(utility_id)
    .fetch_optional(pool)
    .await?;
    let (false, Some(clerk)) = (has, clerk) else {
        return Ok(false);
    };
    let office: (Option<String>,) = sqlx::query_as(
        "SELECT ebok_address(street, building_no, NULL, postal_code, city, post_town)
             FROM utilities WHERE id = $1",
    )
    .bind(utility_id)
    .fetch_one(pool)
    .await?;
    let place = office.0.unwrap_or_else(|| "Biuro Obsługi Klienta".into());
    let weekdays = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];
    let mut tx = pool.begin().await?;
    for (code, name, place, rules) in [
        (
            "kierownik",
            "Spotkanie z kierownikiem",
            Some(place.as_str()),
            Calendar {
                hours: hours(&[Weekday::Tue, Weekday::Thu], 10, 14),
                slot_minutes: 30,
                capacity: 1,
                closed: BTreeSet::new(),
                min_notice_hours: 24,
            },
        ),
        (
            "wymiana_wodomierza",
            "Wymiana wodomierza",
            None,
            Calendar {
                hours: hours(&weekdays, 8, 15),
                slot_minutes: 60,
                capacity: 2,
                closed: BTreeSet::new(),
                min_notice_hours: 24,
            },
        ),
        (
            "umowy",
            "Podpisanie umowy",
            Some(place.as_str()),
            Calendar {
                hours: hours(&weekdays, 8, 15),
                slot_minutes: 20,
                capacity: 2,
                closed: BTreeSet::new(),
                min_notice_hours: 2,
            },
        ),
    ] {
        ebok_bookings::store::publish(&mut tx, utility_id, code, name, place, &rules).await?;
    }
    let street: Option<(String, String)> = sqlx::query_as(
        "SELECT city, street FROM supply_points WHERE utility_id = $1 AND street IS NOT NULL
         GROUP BY city, street ORDER BY count(*) DESC, street LIMIT 1",
    )
    .bind(utility_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((city, street)) = street {
        let now = Utc::now();
        let starts_at = now + Duration::days(2);
        outages::announce(
            &mut tx,
            Staff {
                utility_id,
                account_id: clerk,
                now,
            },
            &Draft {
                kind: Kind::PlannedWorks,
                title: format!("Płukanie sieci wodociągowej: ul. {street}"),
                description: Some(
                    "Możliwy spadek ciśnienia i chwilowo mętna woda. Po zakończeniu prac \
                     odkręć kran na kilka minut."
                        .into(),
                ),
                starts_at,
                expected_end: Some(starts_at + Duration::hours(4)),
                area: Area {
                    streets: vec![StreetRange {
                        city: city.clone(),
                        street: street.clone(),
                        from: None,
                        to: None,
                        side: Default::default(),
                    }],
                    ..Area::default()
                },
            },
        )
        .await?;
        reports(&mut tx, utility_id, clerk, &city, &street, now).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Two failure reports on the busiest street: a resident's burst pipe, confirmed and with a
/// crew on the way, and a passer-by's low pressure waiting for the counter.
async fn reports(
    tx: &mut PgConnection,
    utility_id: i64,
    clerk: i64,
    city: &str,
    street: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let resident: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM user_accounts WHERE utility_id = $1 AND role = 'resident'
           AND status = 'active' ORDER BY id LIMIT 1",
    )
    .bind(utility_id)
    .fetch_optional(&mut *tx)
    .await?;
    let technician: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM user_accounts WHERE utility_id = $1 AND role = 'technician'
           AND status = 'active' ORDER BY id LIMIT 1",
    )
    .bind(utility_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (Some(resident), Some(technician)) = (resident, technician) else {
        return Ok(());
    };
    let burst = failures::file(
        tx,
        utility_id,
        now - Duration::minutes(50),
        &NewReport {
            category: Category::BurstPipe,
            description: "Woda wypływa spod chodnika przy skrzyżowaniu, robi się kałuża.".into(),
            place: Place {
                point: None,
                address: Some(format!("ul. {street} 3, {city}")),
            },
            reporter: Reporter::Account(resident),
            photos: Vec::new(),
        },
    )
    .await?;
    let staff = Staff {
        utility_id,
        account_id: clerk,
        now: now - Duration::minutes(30),
    };
    failures::verify(tx, staff, burst).await?;
    failures::dispatch(tx, staff, burst, technician).await?;
    failures::file(
        tx,
        utility_id,
        now - Duration::minutes(10),
        &NewReport {
            category: Category::LowPressure,
            description: "Od rana bardzo słabe ciśnienie na drugim piętrze.".into(),
            place: Place {
                point: None,
                address: Some(format!("ul. {street} 12, {city}")),
            },
            reporter: Reporter::Email("przechodzien@example.pl".into()),
            photos: Vec::new(),
        },
    )
    .await?;
    Ok(())
}
