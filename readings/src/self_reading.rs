//! Self-readings: a resident enters the register of a meter without radio (channel `manual`),
//! optionally with a photo of it. [`check`] is the pure plausibility check with Polish
//! messages naming the field; [`submit`] stores an accepted reading with source `manual`, moves
//! the meter's latest reading forward (never back), keeps the photo and writes the audit log,
//! all in one transaction.
//!
//! Plausibility rules, in the order they are checked:
//! - `litres`: not negative, not above the register's maximum;
//! - `at`: not more than [`FUTURE_TOLERANCE`] in the future, not before the meter's installation
//!   nor after its removal, and newer than the meter's newest reading (residents add the newest
//!   reading; they do not backfill history);
//! - `litres` against a reference — the newest reading, or, when there is none since the meter
//!   was installed (a replacement meter), its installation reading: not lower (unless the
//!   register wrapped past its maximum within what could plausibly flow), and not absurdly
//!   high: at most `max(10 m³, 20 × average daily use) per day` since the reference, counting at
//!   least one day. 10 m³ a day is some fifty times what a household uses and beyond a garden
//!   hose running all day; 20 × the meter's own average leaves room for filling a pool while
//!   still catching a digit typed twice. The average comes from the meter's readings of up to
//!   a year before the newest one (at least a week of them).

use chrono::{DateTime, Duration, NaiveDate, SubsecRound, TimeZone, Utc};
use ebok_common::audit::{self, Actor, AuditEntry};
use ebok_common::domain::time::local_day;
use ebok_common::domain::{ReadingFlags, Register, Step};
use serde::Serialize;
use sqlx::PgPool;

use crate::access::Viewer;
use crate::history::Reading;
use ebok_common::polish;

/// How far in the future a reading's time may be (clocks of phones differ).
pub const FUTURE_TOLERANCE: Duration = Duration::minutes(10);
/// The least daily use that is never called absurd.
pub const MIN_DAILY_CAP_LITRES: i64 = 10_000;
/// How many times the meter's average daily use is still plausible.
pub const AVERAGE_MULTIPLE: i64 = 20;
/// The largest photo accepted.
pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;

/// What the plausibility check needs to know about a meter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterFacts {
    pub register_max_litres: i64,
    pub installed_at: Option<DateTime<Utc>>,
    /// The register when the meter was installed (a replacement meter starts here).
    pub install_reading_litres: Option<i64>,
    pub removed_at: Option<DateTime<Utc>>,
}

/// Which plausibility rule a reading broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Negative,
    AboveRegister,
    InFuture,
    BeforeInstallation,
    AfterRemoval,
    NotNewest,
    LowerThanLast,
    TooHigh,
}

/// A refused reading: the field at fault (`litres` or `at`), the rule, and a Polish message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Implausible {
    pub field: &'static str,
    pub rule: Rule,
    pub message: String,
}

fn refuse(field: &'static str, rule: Rule, message: String) -> Result<(), Implausible> {
    Err(Implausible {
        field,
        rule,
        message,
    })
}

/// The average daily use between two readings at least a week apart, if the register did not
/// go down between them.
pub fn daily_average_litres(older: &Reading, newer: &Reading) -> Option<i64> {
    let seconds = (newer.measured_at - older.measured_at).num_seconds();
    if seconds < 7 * 86_400 || newer.litres < older.litres {
        return None;
    }
    Some(((newer.litres - older.litres) as i128 * 86_400 / seconds as i128) as i64)
}

/// The most water plausible between `from` and `to` for a meter using
/// `average_daily_litres` on average (see the module docs).
pub fn plausible_litres(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    average_daily_litres: Option<i64>,
) -> i64 {
    let per_day = MIN_DAILY_CAP_LITRES.max(
        average_daily_litres
            .unwrap_or(0)
            .saturating_mul(AVERAGE_MULTIPLE),
    );
    let seconds = (to - from).num_seconds().max(86_400);
    (per_day as i128 * seconds as i128 / 86_400).min(i64::MAX as i128) as i64
}

/// The reading a new one is compared with: the newest reading taken since the meter was
/// installed, or else its installation reading.
fn reference(meter: &MeterFacts, last: Option<&Reading>) -> Option<(Reading, bool)> {
    match last {
        Some(l) if meter.installed_at.is_none_or(|i| l.measured_at >= i) => Some((l.clone(), true)),
        _ => match (meter.installed_at, meter.install_reading_litres) {
            (Some(at), Some(litres)) => Some((
                Reading {
                    measured_at: at,
                    litres,
                    source: "installation".into(),
                },
                false,
            )),
            _ => None,
        },
    }
}

/// Whether `proposed_litres` at `at` is a plausible next reading of the meter (see the module
/// docs for the rules). `last` is the meter's newest stored reading.
pub fn check(
    meter: &MeterFacts,
    last: Option<&Reading>,
    history_daily_avg_litres: Option<i64>,
    proposed_litres: i64,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), Implausible> {
    if proposed_litres < 0 {
        return refuse(
            "litres",
            Rule::Negative,
            "Stan licznika nie może być ujemny.".into(),
        );
    }
    if proposed_litres > meter.register_max_litres {
        return refuse(
            "litres",
            Rule::AboveRegister,
            format!(
                "Ten wodomierz pokazuje najwyżej {} m³, a podano {} m³. Sprawdź wpisaną \
                 wartość.",
                polish::m3(meter.register_max_litres),
                polish::m3(proposed_litres)
            ),
        );
    }
    if at > now + FUTURE_TOLERANCE {
        return refuse(
            "at",
            Rule::InFuture,
            "Data i godzina odczytu nie mogą być z przyszłości.".into(),
        );
    }
    if let Some(installed) = meter.installed_at
        && at < installed
    {
        return refuse(
            "at",
            Rule::BeforeInstallation,
            format!(
                "Wodomierz zamontowano {} – odczyt nie może być wcześniejszy.",
                polish::instant(installed)
            ),
        );
    }
    if let Some(removed) = meter.removed_at
        && at > removed
    {
        return refuse(
            "at",
            Rule::AfterRemoval,
            format!(
                "Ten wodomierz zdemontowano {} – podaj odczyt wodomierza, który go zastąpił.",
                polish::instant(removed)
            ),
        );
    }
    if let Some(l) = last
        && at <= l.measured_at
    {
        return refuse(
            "at",
            Rule::NotNewest,
            format!(
                "Ostatni zapisany odczyt tego wodomierza pochodzi z {}. Podaj bieżący stan \
                 licznika – odczytu z wcześniejszą datą nie można dopisać.",
                polish::instant(l.measured_at)
            ),
        );
    }
    let Some((reference, is_reading)) = reference(meter, last) else {
        return Ok(());
    };
    let Some(register) = Register::new(meter.register_max_litres) else {
        return Ok(());
    };
    if !register.holds(reference.litres) {
        return Ok(());
    }
    let what = if is_reading {
        format!(
            "ostatni odczyt ({} m³ z {})",
            polish::m3(reference.litres),
            polish::instant(reference.measured_at)
        )
    } else {
        format!(
            "stan przy montażu wodomierza ({} m³, {})",
            polish::m3(reference.litres),
            polish::instant(reference.measured_at)
        )
    };
    let allowed = plausible_litres(reference.measured_at, at, history_daily_avg_litres);
    match register.step(reference.litres, proposed_litres, allowed) {
        Step::Backward(_) => refuse(
            "litres",
            Rule::LowerThanLast,
            format!(
                "Podany stan ({} m³) jest niższy niż {what}. Sprawdź, czy wpisano wszystkie \
                 cyfry przed przecinkiem.",
                polish::m3(proposed_litres)
            ),
        ),
        Step::Forward(used) if used > allowed => refuse(
            "litres",
            Rule::TooHigh,
            format!(
                "Podany stan oznaczałby zużycie {} m³ od chwili, gdy zapisano {what} – więcej niż \
                 {} m³, które są możliwe w tym czasie. Sprawdź wpisaną wartość.",
                polish::m3(used),
                polish::m3(allowed)
            ),
        ),
        Step::Forward(_) | Step::Rollover(_) => Ok(()),
    }
}

/// A photo of the register as uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    /// What the client said; the stored type is what the bytes are (see [`sniff_image`]).
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// The image type by its magic bytes: JPEG, PNG or WebP; anything else is `None`.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The photo's real type, or why it is refused (naming the field `photo`).
pub fn check_photo(photo: &Photo) -> Result<&'static str, SelfReadingError> {
    if photo.bytes.len() > MAX_PHOTO_BYTES {
        let tenths_of_mb = (photo.bytes.len() as u64 * 10).div_ceil(1024 * 1024);
        return Err(SelfReadingError::Invalid {
            field: "photo",
            detail: format!(
                "Zdjęcie ma {},{} MB, a może mieć najwyżej 5 MB. Zmniejsz je albo zrób nowe \
                 w niższej rozdzielczości.",
                tenths_of_mb / 10,
                tenths_of_mb % 10
            ),
        });
    }
    sniff_image(&photo.bytes).ok_or_else(|| SelfReadingError::Invalid {
        field: "photo",
        detail: "Zdjęcie musi być plikiem JPEG, PNG albo WebP.".into(),
    })
}

/// Why a self-reading was not stored.
#[derive(Debug, thiserror::Error)]
pub enum SelfReadingError {
    /// No such meter, or not one this viewer may see.
    #[error("meter not found")]
    MeterNotFound,
    /// The request cannot be accepted as such (a radio meter, no current contract, a photo
    /// that is too big or not an image); `detail` is Polish.
    #[error("invalid {field}: {detail}")]
    Invalid { field: &'static str, detail: String },
    /// The reading is implausible (see [`check`]).
    #[error(transparent)]
    Implausible(#[from] Implausible),
    /// The meter already has a reading at exactly this instant.
    #[error("the meter already has a reading at this instant")]
    Duplicate,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl SelfReadingError {
    /// The request field at fault, if any.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            SelfReadingError::MeterNotFound => Some("meter_id"),
            SelfReadingError::Invalid { field, .. } => Some(field),
            SelfReadingError::Implausible(i) => Some(i.field),
            SelfReadingError::Duplicate => Some("at"),
            SelfReadingError::Db(_) => None,
        }
    }

    /// A Polish message for the resident (`None` for database errors, which are not theirs).
    pub fn message(&self) -> Option<String> {
        match self {
            SelfReadingError::MeterNotFound => Some("Nie znaleziono wodomierza.".into()),
            SelfReadingError::Invalid { detail, .. } => Some(detail.clone()),
            SelfReadingError::Implausible(i) => Some(i.message.clone()),
            SelfReadingError::Duplicate => {
                Some("Odczyt z tą datą i godziną jest już zapisany.".into())
            }
            SelfReadingError::Db(_) => None,
        }
    }
}

/// A stored self-reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Submitted {
    pub self_reading_id: i64,
    pub reading: Reading,
    /// Litres since the previous reading (or the installation), when known.
    pub consumption_litres: Option<i64>,
    /// Whether it became the meter's latest reading (always, unless a newer one arrived
    /// concurrently from elsewhere).
    pub became_latest: bool,
    pub photo_stored: bool,
}

/// Stores a resident's reading of a `manual` meter at `at` (see the module docs), with an
/// optional photo.
pub async fn submit(
    pool: &PgPool,
    viewer: Viewer,
    meter_id: i64,
    litres: i64,
    at: DateTime<Utc>,
    photo: Option<Photo>,
) -> Result<Submitted, SelfReadingError> {
    let now = Utc::now();
    // What the database stores, so comparisons with stored instants are exact.
    let at = at.trunc_subsecs(6);
    let photo = match photo {
        Some(p) => Some((check_photo(&p)?, p.bytes)),
        None => None,
    };
    // A missing monthly partition is created before the transaction, so creating it (which
    // locks the whole table) does not wait for the rest of it. Only sane instants: the check
    // refuses the others anyway.
    let earliest =
        Utc.from_utc_datetime(&NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid").into());
    if at >= earliest && at <= now + FUTURE_TOLERANCE {
        sqlx::query_scalar!("SELECT ebok_ensure_reading_partitions($1, $1)", at)
            .fetch_one(pool)
            .await?;
    }

    let mut tx = pool.begin().await?;
    // Visibility, the meter's facts, and a lock that serialises self-readings of one meter (so
    // two submissions cannot both pass the check against the same newest reading).
    let meter = sqlx::query!(
        r#"SELECT m.channel::text AS "channel!", m.register_max_litres, m.installed_at,
                  m.install_reading_litres, m.removed_at,
                  EXISTS (SELECT 1 FROM account_meters am
                          WHERE am.account_id = $1 AND am.utility_id = $2 AND am.meter_id = m.id
                            AND am.valid_from <= $4
                            AND (am.valid_until IS NULL OR am.valid_until >= $4)) AS "current!"
           FROM meters m
           WHERE m.id = $3 AND m.utility_id = $2
             AND EXISTS (SELECT 1 FROM account_meter_windows am
                         WHERE am.account_id = $1 AND am.utility_id = $2 AND am.meter_id = m.id)
           FOR NO KEY UPDATE OF m"#,
        viewer.account_id,
        viewer.utility_id,
        meter_id,
        local_day(now),
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(SelfReadingError::MeterNotFound)?;
    if !meter.current {
        return Err(SelfReadingError::Invalid {
            field: "meter_id",
            detail: "Umowa na punkt, w którym stoi ten wodomierz, już nie obowiązuje – nie \
                     można podać jego odczytu."
                .into(),
        });
    }
    if meter.channel != "manual" {
        let how = if meter.channel == "wmbus" {
            "drogą radiową"
        } else {
            "przez system zdalnego odczytu"
        };
        return Err(SelfReadingError::Invalid {
            field: "meter_id",
            detail: format!(
                "Ten wodomierz przesyła odczyty {how} – trafiają do nas automatycznie, nie \
                 trzeba ich podawać."
            ),
        });
    }
    let facts = MeterFacts {
        register_max_litres: meter.register_max_litres,
        installed_at: meter.installed_at,
        install_reading_litres: meter.install_reading_litres,
        removed_at: meter.removed_at,
    };

    let last = sqlx::query_as!(
        Reading,
        r#"SELECT measured_at, volume_litres AS litres, source::text AS "source!"
           FROM meter_readings WHERE meter_id = $1
           ORDER BY measured_at DESC LIMIT 1"#,
        meter_id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if last.as_ref().is_some_and(|l| l.measured_at == at) {
        return Err(SelfReadingError::Duplicate);
    }
    let average = match &last {
        Some(l) => {
            let since = (l.measured_at - Duration::days(365)).max(
                facts
                    .installed_at
                    .unwrap_or(l.measured_at - Duration::days(365)),
            );
            sqlx::query_as!(
                Reading,
                r#"SELECT measured_at, volume_litres AS litres, source::text AS "source!"
                   FROM meter_readings
                   WHERE meter_id = $1 AND measured_at >= $2 AND measured_at < $3
                   ORDER BY measured_at LIMIT 1"#,
                meter_id,
                since,
                l.measured_at,
            )
            .fetch_optional(&mut *tx)
            .await?
            .and_then(|older| daily_average_litres(&older, l))
        }
        None => None,
    };
    check(&facts, last.as_ref(), average, litres, at, now)?;

    let new = Reading {
        measured_at: at,
        litres,
        source: "manual".into(),
    };
    // The check passed, so the step from the reference is forward or a rollover.
    let step = reference(&facts, last.as_ref()).and_then(|(r, _)| {
        let register = Register::new(facts.register_max_litres)?;
        register.holds(r.litres).then(|| {
            let allowed = plausible_litres(r.measured_at, at, average);
            register.step(r.litres, litres, allowed)
        })
    });
    let consumption = step.and_then(Step::consumption);
    let rolled_over = matches!(step, Some(Step::Rollover(_)));
    let flags = if rolled_over {
        ReadingFlags::default().with(ReadingFlags::ROLLOVER)
    } else {
        ReadingFlags::default()
    };

    let became_latest =
        match crate::store::record_manual(&mut tx, meter_id, at, litres, flags).await? {
            crate::store::Recorded::Stored { latest } => latest,
            crate::store::Recorded::Duplicate => return Err(SelfReadingError::Duplicate),
        };
    let (photo_type, photo_bytes) = match photo {
        Some((t, b)) => (Some(t), Some(b)),
        None => (None, None),
    };
    let photo_stored = photo_bytes.is_some();
    let self_reading_id = sqlx::query_scalar!(
        r#"INSERT INTO self_readings (utility_id, meter_id, measured_at, volume_litres,
                                      submitted_by, photo_content_type, photo)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           RETURNING id"#,
        viewer.utility_id,
        meter_id,
        at,
        litres,
        viewer.account_id,
        photo_type,
        photo_bytes,
    )
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &AuditEntry {
            utility_id: Some(viewer.utility_id),
            actor: Actor::Resident {
                account_id: viewer.account_id,
            },
            action: "meter_reading.self_submitted",
            entity_type: Some("meter"),
            entity_id: Some(meter_id.to_string()),
            details: serde_json::json!({
                "self_reading_id": self_reading_id,
                "measured_at": at,
                "litres": litres,
                "photo": photo_stored,
                "rollover": rolled_over,
            }),
            request_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        meter_id,
        self_reading_id,
        photo = photo_stored,
        "self-reading stored"
    );
    Ok(Submitted {
        self_reading_id,
        reading: new,
        consumption_litres: consumption,
        became_latest,
        photo_stored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn meter() -> MeterFacts {
        MeterFacts {
            register_max_litres: 99_999_999,
            installed_at: Some(t("2025-01-10T10:00:00Z")),
            install_reading_litres: Some(0),
            removed_at: None,
        }
    }

    fn last(at: &str, litres: i64) -> Reading {
        Reading {
            measured_at: t(at),
            litres,
            source: "manual".into(),
        }
    }

    const NOW: &str = "2026-03-15T12:00:00Z";

    fn rule(r: Result<(), Implausible>) -> (&'static str, Rule) {
        let e = r.expect_err("refused");
        (e.field, e.rule)
    }

    #[test]
    fn a_plausible_next_reading_is_accepted() {
        let l = last("2026-02-15T10:00:00Z", 100_000);
        assert_eq!(
            check(&meter(), Some(&l), Some(200), 106_000, t(NOW), t(NOW)),
            Ok(())
        );
    }

    #[test]
    fn negative_and_above_register_name_litres() {
        let m = meter();
        assert_eq!(
            rule(check(&m, None, None, -1, t(NOW), t(NOW))),
            ("litres", Rule::Negative)
        );
        assert_eq!(
            rule(check(&m, None, None, 100_000_000, t(NOW), t(NOW))),
            ("litres", Rule::AboveRegister)
        );
    }

    #[test]
    fn future_before_installation_and_after_removal_name_at() {
        let mut m = meter();
        assert_eq!(
            rule(check(&m, None, None, 10, t("2026-03-15T12:11:00Z"), t(NOW))),
            ("at", Rule::InFuture)
        );
        assert!(check(&m, None, None, 10, t("2026-03-15T12:09:00Z"), t(NOW)).is_ok());
        assert_eq!(
            rule(check(&m, None, None, 10, t("2025-01-10T09:00:00Z"), t(NOW))),
            ("at", Rule::BeforeInstallation)
        );
        m.removed_at = Some(t("2026-03-01T10:00:00Z"));
        assert_eq!(
            rule(check(&m, None, None, 10, t(NOW), t(NOW))),
            ("at", Rule::AfterRemoval)
        );
    }

    #[test]
    fn a_reading_older_than_the_newest_is_refused_naming_at() {
        let l = last("2026-03-10T10:00:00Z", 100_000);
        let e = check(
            &meter(),
            Some(&l),
            None,
            100_500,
            t("2026-03-09T10:00:00Z"),
            t(NOW),
        )
        .unwrap_err();
        assert_eq!((e.field, e.rule), ("at", Rule::NotNewest));
        assert!(e.message.contains("10 marca 2026, 11:00"), "{}", e.message);
    }

    #[test]
    fn lower_than_the_last_reading_is_refused_with_both_values() {
        let l = last("2026-03-10T10:00:00Z", 100_000);
        let e = check(&meter(), Some(&l), None, 99_000, t(NOW), t(NOW)).unwrap_err();
        assert_eq!((e.field, e.rule), ("litres", Rule::LowerThanLast));
        assert!(e.message.contains("99,000 m³"), "{}", e.message);
        assert!(e.message.contains("100,000 m³"), "{}", e.message);
    }

    #[test]
    fn a_replacement_meter_starts_from_its_installation_reading() {
        // The newest reading predates this installation (the meter was re-installed): compare
        // with the installation reading instead.
        let mut m = meter();
        m.installed_at = Some(t("2026-03-01T08:00:00Z"));
        m.install_reading_litres = Some(500);
        let l = last("2026-02-20T10:00:00Z", 90_000);
        assert!(check(&m, Some(&l), None, 1_500, t(NOW), t(NOW)).is_ok());
        let e = check(&m, Some(&l), None, 400, t(NOW), t(NOW)).unwrap_err();
        assert_eq!((e.field, e.rule), ("litres", Rule::LowerThanLast));
        assert!(e.message.contains("stan przy montażu"), "{}", e.message);
    }

    #[test]
    fn rollover_near_the_register_maximum_is_accepted() {
        let mut m = meter();
        m.register_max_litres = 99_999;
        let l = last("2026-03-10T10:00:00Z", 99_800);
        assert!(check(&m, Some(&l), None, 700, t(NOW), t(NOW)).is_ok());
    }

    #[test]
    fn absurdly_high_use_is_refused_and_the_cap_follows_the_average() {
        let l = last("2026-03-05T12:00:00Z", 100_000);
        // Ten days: at least 10 m³ a day is allowed whatever the average.
        assert!(check(&meter(), Some(&l), Some(150), 200_000, t(NOW), t(NOW)).is_ok());
        let e = check(&meter(), Some(&l), Some(150), 200_001, t(NOW), t(NOW)).unwrap_err();
        assert_eq!((e.field, e.rule), ("litres", Rule::TooHigh));
        // A meter using 1 m³ a day on average may use 20 m³ a day.
        assert!(check(&meter(), Some(&l), Some(1_000), 300_000, t(NOW), t(NOW)).is_ok());
        // Within the first day the cap is one day's worth.
        let recent = last("2026-03-15T11:00:00Z", 100_000);
        assert!(check(&meter(), Some(&recent), None, 110_000, t(NOW), t(NOW)).is_ok());
        assert!(check(&meter(), Some(&recent), None, 110_001, t(NOW), t(NOW)).is_err());
    }

    #[test]
    fn daily_average_needs_a_week_and_a_rising_register() {
        let a = last("2026-01-01T00:00:00Z", 1_000);
        assert_eq!(
            daily_average_litres(&a, &last("2026-01-11T00:00:00Z", 3_000)),
            Some(200)
        );
        assert_eq!(
            daily_average_litres(&a, &last("2026-01-05T00:00:00Z", 3_000)),
            None
        );
        assert_eq!(
            daily_average_litres(&a, &last("2026-01-11T00:00:00Z", 500)),
            None
        );
    }

    #[test]
    fn photos_are_sniffed_by_magic_bytes() {
        assert_eq!(
            sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]),
            Some("image/jpeg")
        );
        assert_eq!(
            sniff_image(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some("image/png")
        );
        assert_eq!(sniff_image(b"RIFF\x24\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image(b"GIF89a"), None);
        assert_eq!(
            sniff_image(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            None
        );
        assert_eq!(sniff_image(&[]), None);
        let too_big = Photo {
            content_type: "image/jpeg".into(),
            bytes: [0xFF, 0xD8, 0xFF]
                .into_iter()
                .chain(std::iter::repeat_n(0, MAX_PHOTO_BYTES))
                .collect(),
        };
        let e = check_photo(&too_big).unwrap_err();
        assert_eq!(e.field(), Some("photo"));
        assert!(e.message().unwrap().contains("5 MB"));
    }
}
