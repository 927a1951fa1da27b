//! The water balance's charts as server-rendered SVG, like the resident's consumption chart
//! (`ebok_readings::chart`): no JavaScript, `role="img"` with a `<title>` and a `<desc>` that
//! says in words what the chart shows, every bar with its own tooltip, a period whose figure is
//! unknown drawn as a hatched marker at the baseline (never as a zero), colours as presentation
//! attributes, every piece of text escaped. The pages put the same figures in a table beside
//! each chart.
//!
//! - [`balance_svg`]: per day or month, a stacked bar of what the zone's input went to: billed
//!   metered consumption, unbilled authorised use, and losses on top;
//! - [`night_flow_svg`]: each night's minimum flow as a bar and the baseline it was judged
//!   against as a dashed line.

use std::fmt::Write;

use chrono::NaiveDate;
use ebok_balance::store::ZonePeriod;
use ebok_balance::views::Night;
use ebok_common::polish;
use ebok_readings::chart::escape_xml;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 36.0;
const MAX_LABELS: usize = 10;
const BILLED: &str = "#1f6fb2";
const UNBILLED: &str = "#2e7d32";
const LOSSES: &str = "#b3261e";
const NIGHT: &str = "#5b3a96";
const TEXT: &str = "#333333";
const GRID: &str = "#d0d0d0";
const GAP: &str = "#6b6b6b";

/// How a period is named in a chart's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Periods {
    Days,
    Months,
}

impl Periods {
    fn name(self, first_day: NaiveDate) -> String {
        match self {
            Periods::Days => polish::day(first_day),
            Periods::Months => polish::month(first_day),
        }
    }

    fn short(self, first_day: NaiveDate) -> String {
        match self {
            Periods::Days => polish::day_short(first_day),
            Periods::Months => polish::month_short(first_day),
        }
    }
}

/// A round step for about `ticks` gridlines up to `max` litres.
fn nice_step(max: i64, ticks: i64) -> i64 {
    let raw = (max / ticks).max(1);
    let mut unit = 1;
    while unit * 10 <= raw {
        unit *= 10;
    }
    [1, 2, 5, 10]
        .into_iter()
        .map(|k| k * unit)
        .find(|s| *s >= raw)
        .unwrap_or(10 * unit)
}

struct Frame {
    svg: String,
    y_max: f64,
    band: f64,
    bar_w: f64,
}

impl Frame {
    /// The chart's opening, its words, the hatch pattern, the legend and the y axis up to
    /// `max_litres` (`unit` after the numbers: "m³" or "m³/h").
    fn new(
        id: &str,
        title: &str,
        desc: &str,
        legend: &[(&str, &str)],
        max_litres: i64,
        unit: &str,
        bars: usize,
    ) -> Frame {
        let mut svg = String::with_capacity(1_000 + bars * 250);
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-labelledby="{id}-title {id}-desc" class="balance-chart" font-family="system-ui, sans-serif" font-size="11">"#
        );
        let _ = write!(
            svg,
            r#"<title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
            escape_xml(title),
            escape_xml(desc)
        );
        let _ = write!(
            svg,
            r#"<defs><pattern id="{id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="{GAP}" stroke-width="2"/></pattern></defs>"#
        );
        svg.push_str(r#"<g class="legend" aria-hidden="true">"#);
        let mut x = LEFT;
        for (label, colour) in legend {
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="8" width="12" height="12" fill="{colour}"/><text x="{:.1}" y="18" fill="{TEXT}">{}</text>"#,
                x + 16.0,
                escape_xml(label)
            );
            x += 24.0 + 6.5 * label.chars().count() as f64;
        }
        svg.push_str("</g>");
        let plot_h = HEIGHT - TOP - BOTTOM;
        let base_y = TOP + plot_h;
        let step = nice_step(max_litres.max(1_000), 4);
        let ticks = ((max_litres.max(1) + step - 1) / step).max(1);
        let y_max = (ticks * step) as f64;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end" fill="{TEXT}">{}</text>"#,
            LEFT - 8.0,
            TOP - 6.0,
            escape_xml(unit)
        );
        svg.push_str(r#"<g class="grid" aria-hidden="true">"#);
        for i in 0..=ticks {
            let y = base_y - ((i * step) as f64 / y_max) * plot_h;
            let _ = write!(
                svg,
                r#"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{GRID}" stroke-width="1"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="{TEXT}">{}</text>"#,
                WIDTH - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                escape_xml(&polish::m3_short(i * step))
            );
        }
        svg.push_str("</g>");
        let band = (WIDTH - LEFT - RIGHT) / bars.max(1) as f64;
        let bar_w = if band >= 4.0 { band * 0.7 } else { band };
        Frame {
            svg,
            y_max,
            band,
            bar_w,
        }
    }

    fn y(&self, litres: i64) -> f64 {
        let plot_h = HEIGHT - TOP - BOTTOM;
        TOP + plot_h - (litres.max(0) as f64 / self.y_max) * plot_h
    }

    fn x(&self, i: usize) -> f64 {
        LEFT + i as f64 * self.band + (self.band - self.bar_w) / 2.0
    }

    /// A bar segment from `from` to `to` litres with its tooltip.
    fn segment(&mut self, i: usize, from: i64, to: i64, fill: &str, tip: &str) {
        if to <= from {
            return;
        }
        let (top, bottom) = (self.y(to), self.y(from));
        let _ = write!(
            self.svg,
            r#"<rect x="{:.2}" y="{top:.2}" width="{:.2}" height="{:.2}" fill="{fill}"><title>{}</title></rect>"#,
            self.x(i),
            self.bar_w,
            bottom - top,
            escape_xml(tip)
        );
    }

    fn gap(&mut self, id: &str, i: usize, tip: &str) {
        let _ = write!(
            self.svg,
            r#"<rect class="gap" x="{:.2}" y="{:.2}" width="{:.2}" height="8" fill="url(#{id}-hatch)" stroke="{GAP}" stroke-width="0.5"><title>{}</title></rect>"#,
            self.x(i),
            self.y(0) - 8.0,
            self.bar_w,
            escape_xml(tip)
        );
    }

    /// The x labels (at most [`MAX_LABELS`]) and the closing tag.
    fn finish(mut self, labels: &[String]) -> String {
        let every = labels.len().div_ceil(MAX_LABELS).max(1);
        self.svg
            .push_str(r#"<g class="labels" aria-hidden="true">"#);
        for (i, label) in labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
            let _ = write!(
                self.svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{TEXT}">{}</text>"#,
                self.x(i) + self.bar_w / 2.0,
                HEIGHT - BOTTOM + 16.0,
                escape_xml(label)
            );
        }
        self.svg.push_str("</g></svg>");
        self.svg
    }
}

/// What a zone's input went to, period by period. `id` makes the chart's element ids unique
/// on the page.
pub fn balance_svg(id: &str, title: &str, periods: &[ZonePeriod], step: Periods) -> String {
    let max = periods
        .iter()
        .map(|p| {
            let b = &p.balance;
            (b.billed_metered_litres + b.unbilled_authorised_litres).max(if p.input_known {
                b.system_input_litres
            } else {
                0
            })
        })
        .max()
        .unwrap_or(0);
    let known: Vec<&ZonePeriod> = periods
        .iter()
        .filter(|p| p.input_known && p.days_computed > 0)
        .collect();
    let input: i64 = known.iter().map(|p| p.balance.system_input_litres).sum();
    let losses: i64 = known.iter().map(|p| p.balance.losses_litres()).sum();
    let worst = known.iter().max_by_key(|p| p.balance.losses_litres());
    let mut desc = match (periods.first(), periods.last()) {
        (Some(first), Some(last)) => format!(
            "Bilans wody od {} do {}. ",
            step.name(first.first_day),
            step.name(last.first_day)
        ),
        _ => "Brak danych do wykresu. ".to_string(),
    };
    if input > 0 {
        let _ = write!(
            desc,
            "Do strefy wpłynęło {}, straty wyniosły {} ({}).",
            polish::volume(input),
            polish::volume(losses),
            share_words(losses, input)
        );
        if let Some(w) = worst {
            let _ = write!(
                desc,
                " Największe straty: {} ({}).",
                polish::volume(w.balance.losses_litres()),
                step.name(w.first_day)
            );
        }
    } else {
        desc.push_str("Wpływ do strefy nie jest znany.");
    }
    let legend = [
        ("sprzedaż (wodomierze)", BILLED),
        ("zużycie niefakturowane", UNBILLED),
        ("straty", LOSSES),
    ];
    let mut frame = Frame::new(id, title, &desc, &legend, max, "m³", periods.len());
    frame.svg.push_str(r#"<g class="bars">"#);
    for (i, p) in periods.iter().enumerate() {
        let when = step.name(p.first_day);
        let b = &p.balance;
        if p.days_computed == 0 {
            frame.gap(id, i, &format!("{when}: jeszcze nie policzono"));
            continue;
        }
        let billed = b.billed_metered_litres;
        let used = billed + b.unbilled_authorised_litres;
        frame.segment(
            i,
            0,
            billed,
            BILLED,
            &format!("{when}: sprzedaż {}", polish::volume(billed)),
        );
        frame.segment(
            i,
            billed,
            used,
            UNBILLED,
            &format!(
                "{when}: zużycie niefakturowane {}",
                polish::volume(b.unbilled_authorised_litres)
            ),
        );
        if p.input_known {
            frame.segment(
                i,
                used,
                b.system_input_litres,
                LOSSES,
                &format!(
                    "{when}: straty {} z {} ({})",
                    polish::volume(b.losses_litres()),
                    polish::volume(b.system_input_litres),
                    share_words(b.losses_litres(), b.system_input_litres)
                ),
            );
        } else if used == 0 {
            frame.gap(id, i, &format!("{when}: wpływ do strefy nieznany"));
        }
    }
    frame.svg.push_str("</g>");
    let labels: Vec<String> = periods.iter().map(|p| step.short(p.first_day)).collect();
    frame.finish(&labels)
}

/// "12,5% wpływu", or "—" without input.
pub fn share_words(losses: i64, input: i64) -> String {
    if input <= 0 {
        return "—".to_string();
    }
    let basis_points = (i128::from(losses) * 10_000 / i128::from(input)) as i64;
    let sign = if basis_points < 0 { "-" } else { "" };
    let abs = basis_points.unsigned_abs();
    format!("{sign}{},{}% wpływu", abs / 100, (abs % 100) / 10)
}

/// Each night's minimum flow and its baseline.
pub fn night_flow_svg(id: &str, title: &str, nights: &[Night]) -> String {
    let max = nights
        .iter()
        .flat_map(|n| [n.min_litres_per_hour, n.baseline_litres_per_hour])
        .flatten()
        .max()
        .unwrap_or(0);
    let highest = nights
        .iter()
        .filter(|n| n.min_litres_per_hour.is_some())
        .max_by_key(|n| n.min_litres_per_hour);
    let mut desc = match (nights.first(), nights.last()) {
        (Some(first), Some(last)) => format!(
            "Minimalny przepływ nocny (2:00–4:00) od {} do {}. ",
            polish::day(first.day),
            polish::day(last.day)
        ),
        _ => "Brak danych do wykresu. ".to_string(),
    };
    if let Some(h) = highest {
        let _ = write!(
            desc,
            "Najwyższy: {}/h ({}).",
            polish::volume(h.min_litres_per_hour.unwrap_or(0)),
            polish::day(h.day)
        );
        if let Some(last) = nights
            .iter()
            .rev()
            .find(|n| n.min_litres_per_hour.is_some())
            && let (Some(flow), Some(base)) =
                (last.min_litres_per_hour, last.baseline_litres_per_hour)
        {
            let _ = write!(
                desc,
                " Ostatniej nocy {}/h przy zwykłych {}/h.",
                polish::volume(flow),
                polish::volume(base)
            );
        }
    }
    let legend = [
        ("przepływ nocny", NIGHT),
        ("poziom zwykły (mediana 14 nocy)", GAP),
    ];
    let mut frame = Frame::new(id, title, &desc, &legend, max, "m³/h", nights.len());
    frame.svg.push_str(r#"<g class="bars">"#);
    for (i, n) in nights.iter().enumerate() {
        let when = polish::day(n.day);
        match n.min_litres_per_hour {
            Some(flow) => frame.segment(
                i,
                0,
                flow.max(1),
                NIGHT,
                &format!("{when}: {}/h", polish::volume(flow)),
            ),
            None => frame.gap(id, i, &format!("{when}: przepływ nocny nieznany")),
        }
    }
    frame.svg.push_str("</g>");
    let points: Vec<String> = nights
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let base = n.baseline_litres_per_hour?;
            Some(format!(
                "{:.1},{:.1}",
                frame.x(i) + frame.bar_w / 2.0,
                frame.y(base)
            ))
        })
        .collect();
    if points.len() > 1 {
        let _ = write!(
            frame.svg,
            r#"<polyline class="baseline" points="{}" fill="none" stroke="{GAP}" stroke-width="2" stroke-dasharray="6 4" aria-hidden="true"/>"#,
            points.join(" ")
        );
    }
    let labels: Vec<String> = nights.iter().map(|n| polish::day_short(n.day)).collect();
    frame.finish(&labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_said_with_a_decimal_comma() {
        assert_eq!(share_words(1_250, 10_000), "12,5% wpływu");
        assert_eq!(share_words(-300, 10_000), "-3,0% wpływu");
        assert_eq!(share_words(5, 0), "—");
    }

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(9_000, 4), 5_000);
        assert_eq!(nice_step(1_000, 4), 500);
        assert_eq!(nice_step(130_000, 4), 50_000);
    }
}
