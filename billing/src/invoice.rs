//! The lines of a periodic invoice or a settlement (pure): water, sewage and subscription fees
//! per tariff piece of the billed days, from the meters' registers ([`crate::consumption`]).
//!
//! Water supply is what the main meter and a garden sub-meter measured. Sewage is what a sewage
//! meter measured where one is installed, else the water drawn minus what the garden sub-meter
//! measured (act on collective water supply, art. 27 ust. 5–6). The subscription fee is per
//! supply point and month and the garden one per garden sub-meter and month, each pro rata by
//! the days of the month billed (and, for the garden one, the days the sub-meter was there).

use chrono::{DateTime, Days, NaiveDate, Utc};
use ebok_common::domain::time::day_start;
use ebok_common::domain::{Money, Register};
use ebok_common::polish;

use crate::amounts::{line_net, pro_rata};
use crate::consumption::{self, Backward, Point, Source};
use crate::document::{Line, MeterReading};
use crate::tariff::{self, NoTariff, Segment, Tariff};

/// What a meter measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Main,
    Garden,
    Sewage,
}

impl Purpose {
    pub fn parse(text: &str) -> Option<Purpose> {
        match text {
            "main" => Some(Purpose::Main),
            "garden" => Some(Purpose::Garden),
            "sewage" => Some(Purpose::Sewage),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Main => "main",
            Purpose::Garden => "garden",
            Purpose::Sewage => "sewage",
        }
    }
}

/// One meter of the supply point over the billed days.
#[derive(Debug, Clone)]
pub struct MeterSpan {
    pub meter_id: i64,
    pub serial: String,
    pub purpose: Purpose,
    pub register: Register,
    pub max_flow_litres_per_hour: i64,
    /// Its known registers in time order: where billing starts, any read exactly at a tariff
    /// change, where it ends (at least two).
    pub points: Vec<Point>,
    /// When it was at the point: installed (or before the period) until taken off.
    pub installed_at: DateTime<Utc>,
    pub removed_at: Option<DateTime<Utc>>,
}

impl MeterSpan {
    pub fn start(&self) -> Point {
        self.points[0]
    }

    pub fn end(&self) -> Point {
        *self.points.last().expect("a span has points")
    }

    /// Whether the meter was at the point for any of `first ..= last`.
    fn present(&self, first: NaiveDate, last: NaiveDate) -> bool {
        self.installed_at < day_start(last + Days::new(1))
            && self.removed_at.is_none_or(|r| r > day_start(first))
    }

    /// Days of `first ..= last` the meter was at the point for at least part of.
    fn days_present(&self, first: NaiveDate, last: NaiveDate) -> i64 {
        first
            .iter_days()
            .take_while(|d| *d <= last)
            .filter(|d| self.present(*d, *d))
            .count() as i64
    }
}

/// What the contract's supply point takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Services {
    pub water: bool,
    pub sewage: bool,
}

/// A line as billing stores it: the printed line, what it is for and the tariff that priced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub line: Line,
    /// "water", "sewage", "subscription", "garden_subscription" or "service".
    pub kind: &'static str,
    pub tariff_id: Option<i64>,
}

/// A stored line's kind as the static name billing uses ("service" for anything else).
pub fn line_kind(kind: &str) -> &'static str {
    match kind {
        "water" => "water",
        "sewage" => "sewage",
        "subscription" => "subscription",
        "garden_subscription" => "garden_subscription",
        _ => "service",
    }
}

/// The outcome of billing a contract's days.
#[derive(Debug, Clone)]
pub struct Billed {
    pub lines: Vec<PricedLine>,
    pub readings: Vec<MeterReading>,
    /// Where each meter's billing ended: the next invoice starts there.
    pub ends: Vec<(i64, Point)>,
    /// Some consumption is an estimate.
    pub estimated: bool,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillError {
    #[error(transparent)]
    NoTariff(#[from] NoTariff),
    #[error("meter {serial}: {source}")]
    Backward { serial: String, source: Backward },
}

/// Bills `first ..= last` (Warsaw days) of a contract.
pub fn bill(
    first: NaiveDate,
    last: NaiveDate,
    tariffs: &[Tariff],
    services: Services,
    meters: &[MeterSpan],
) -> Result<Billed, BillError> {
    let segments = tariff::segments(tariffs, first, last)?;
    let cuts: Vec<DateTime<Utc>> = std::iter::once(day_start(first))
        .chain(segments.iter().map(|s| day_start(s.last + Days::new(1))))
        .collect();
    // Litres per meter and piece.
    let mut uses: Vec<Vec<i64>> = Vec::with_capacity(meters.len());
    for meter in meters {
        let pieces = consumption::allocate(
            meter.register,
            meter.max_flow_litres_per_hour,
            &meter.points,
            &cuts,
        )
        .map_err(|source| BillError::Backward {
            serial: meter.serial.clone(),
            source,
        })?;
        uses.push(pieces);
    }
    let sum_of = |purpose: Purpose, piece: usize| -> i64 {
        meters
            .iter()
            .zip(&uses)
            .filter(|(m, _)| m.purpose == purpose)
            .map(|(_, u)| u[piece])
            .sum()
    };

    let mut lines: Vec<PricedLine> = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let dates = dates(segment);
        let t = segment.tariff;
        if services.water {
            let litres = sum_of(Purpose::Main, i) + sum_of(Purpose::Garden, i);
            push(
                &mut lines,
                "water",
                t,
                format!("Dostawa wody {dates}"),
                "m³",
                litres,
                t.water_price,
            );
        }
        if services.sewage {
            let metered = meters
                .iter()
                .any(|m| m.purpose == Purpose::Sewage && m.present(segment.first, segment.last));
            let litres = if metered {
                sum_of(Purpose::Sewage, i)
            } else {
                let main = sum_of(Purpose::Main, i);
                let sewage = main - sum_of(Purpose::Garden, i);
                // A garden sub-meter never makes sewage negative; a settled over-estimate may.
                if sewage < 0 && main >= 0 { 0 } else { sewage }
            };
            push(
                &mut lines,
                "sewage",
                t,
                format!("Odprowadzanie ścieków {dates}"),
                "m³",
                litres,
                t.sewage_price,
            );
        }
        let (days, month_days) = (segment.days(), segment.month_days());
        let share = if days == month_days {
            String::new()
        } else {
            format!(" ({days}/{month_days} dni)")
        };
        let fee = pro_rata(t.subscription, days, month_days);
        push_fee(
            &mut lines,
            "subscription",
            t,
            format!("Opłata abonamentowa {dates}{share}"),
            fee,
        );
        for garden in meters.iter().filter(|m| m.purpose == Purpose::Garden) {
            let present = garden.days_present(segment.first, segment.last);
            if present == 0 {
                continue;
            }
            let share = if present == month_days {
                String::new()
            } else {
                format!(" ({present}/{month_days} dni)")
            };
            let fee = pro_rata(t.garden_subscription, present, month_days);
            push_fee(
                &mut lines,
                "garden_subscription",
                t,
                format!(
                    "Opłata abonamentowa za podlicznik ogrodowy {} {dates}{share}",
                    garden.serial
                ),
                fee,
            );
        }
    }
    for (no, l) in lines.iter_mut().enumerate() {
        l.line.no = no as u32 + 1;
    }

    let mut notes = Vec::new();
    let mut readings = Vec::with_capacity(meters.len());
    let mut ends = Vec::with_capacity(meters.len());
    let mut estimated = false;
    for (meter, pieces) in meters.iter().zip(&uses) {
        let (start, end) = (meter.start(), meter.end());
        readings.push(MeterReading {
            serial: meter.serial.clone(),
            purpose: meter.purpose.as_str().into(),
            from_at: start.at,
            from_litres: start.litres,
            from_kind: start_kind(start).into(),
            to_at: end.at,
            to_litres: end.litres,
            to_kind: end.source.as_str().into(),
            litres: pieces.iter().sum(),
        });
        ends.push((meter.meter_id, end));
        if start.estimated_litres > 0 {
            notes.push(format!(
                "Licznik {}: rozliczono zużycie szacunkowe z poprzedniej faktury ({}) według odczytu rzeczywistego.",
                meter.serial,
                polish::m3(start.estimated_litres)
            ));
        }
        if end.source == Source::Estimate {
            estimated = true;
            notes.push(format!(
                "Licznik {}: brak odczytu na koniec okresu; zużycie oszacowano ze średniego zużycia dobowego \
                 ({} szacunku). Zostanie rozliczone po najbliższym odczycie.",
                meter.serial,
                polish::m3(end.estimated_litres)
            ));
        }
    }
    Ok(Billed {
        lines,
        readings,
        ends,
        estimated,
        notes,
    })
}

/// How a meter's first register is shown: where the previous invoice ended counts as what it
/// was then.
fn start_kind(start: Point) -> &'static str {
    match start.source {
        Source::Billed if start.estimated_litres > 0 => "estimate",
        Source::Billed => "read",
        other => other.as_str(),
    }
}

/// "01.11–15.11.2026", "28.12.2026–03.01.2027" never happens (a piece is within a month).
fn dates(segment: &Segment<'_>) -> String {
    format!(
        "{}–{}",
        segment.first.format("%d.%m"),
        segment.last.format("%d.%m.%Y")
    )
}

fn push(
    lines: &mut Vec<PricedLine>,
    kind: &'static str,
    tariff: &Tariff,
    name: String,
    unit: &str,
    litres: i64,
    price: Money,
) {
    lines.push(PricedLine {
        line: Line {
            no: 0,
            name,
            unit: unit.into(),
            quantity_milli: litres,
            unit_price: price,
            net: line_net(litres, price),
            vat_rate: tariff.vat_rate,
        },
        kind,
        tariff_id: Some(tariff.id),
    });
}

fn push_fee(
    lines: &mut Vec<PricedLine>,
    kind: &'static str,
    tariff: &Tariff,
    name: String,
    fee: Money,
) {
    lines.push(PricedLine {
        line: Line {
            no: 0,
            name,
            unit: "usł.".into(),
            quantity_milli: 1_000,
            unit_price: fee,
            net: fee,
            vat_rate: tariff.vat_rate,
        },
        kind,
        tariff_id: Some(tariff.id),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use ebok_common::domain::Money;
    use proptest::prelude::*;

    fn tariff(id: i64, from: NaiveDate) -> Tariff {
        Tariff {
            id,
            valid_from: from,
            water_price: Money::from_grosze(512),
            sewage_price: Money::from_grosze(790),
            subscription: Money::from_grosze(950),
            garden_subscription: Money::from_grosze(300),
            vat_rate: 8,
        }
    }

    fn span(id: i64, purpose: Purpose, points: Vec<Point>, removed: bool) -> MeterSpan {
        MeterSpan {
            meter_id: id,
            serial: format!("SN{id}"),
            purpose,
            register: Register::new(99_999).unwrap(),
            max_flow_litres_per_hour: 5_000,
            installed_at: points[0].at,
            removed_at: removed.then(|| points.last().unwrap().at),
            points,
        }
    }

    proptest! {
        /// A meter replaced inside the period, with a tariff change anywhere in it and a small
        /// register that may roll over: the water billed is the old meter's advance to its final
        /// reading plus the new one's from its initial reading, never negative, and sewage
        /// follows water.
        #[test]
        fn a_replacement_bills_both_meters_advances(
            start in 0i64..99_999,
            old_used in 0i64..20_000,
            new_initial in 0i64..99_999,
            new_used in 0i64..20_000,
            swap_hours in 1i64..(30 * 24 - 1),
            change_day in 2u32..30,
        ) {
            let first = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
            let last = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
            let begin = day_start(first);
            let end = day_start(last + Days::new(1));
            let swap = begin + Duration::hours(swap_hours);
            // No meter passes more than its maximum flow (5,000 l/h in `span`): a register
            // that went down by more than that allows is a wrong reading, not a rollover.
            let old_used = old_used.min(5_000 * swap_hours);
            let new_used = new_used.min(5_000 * (30 * 24 - swap_hours));
            let register = Register::new(99_999).unwrap();
            let old = span(1, Purpose::Main, vec![
                Point::real(begin, start, Source::Read),
                Point::real(swap, register.advance(start, old_used), Source::Removal),
            ], true);
            let new = span(2, Purpose::Main, vec![
                Point::real(swap, new_initial, Source::Installation),
                Point::real(end, register.advance(new_initial, new_used), Source::Read),
            ], false);
            let tariffs = [tariff(1, NaiveDate::from_ymd_opt(2020, 1, 1).unwrap()),
                           tariff(2, NaiveDate::from_ymd_opt(2026, 11, change_day).unwrap())];
            let billed = bill(first, last, &tariffs, Services { water: true, sewage: true }, &[old, new]).unwrap();
            let water: i64 = billed.lines.iter().filter(|l| l.kind == "water").map(|l| l.line.quantity_milli).sum();
            let sewage: i64 = billed.lines.iter().filter(|l| l.kind == "sewage").map(|l| l.line.quantity_milli).sum();
            prop_assert_eq!(water, old_used + new_used);
            prop_assert_eq!(sewage, water);
            prop_assert!(billed.lines.iter().all(|l| l.line.quantity_milli >= 0));
            prop_assert_eq!(billed.readings.iter().map(|r| r.litres).sum::<i64>(), water);
        }
    }
}
