//! The consumption chart as a server-rendered SVG bar chart (it needs no JavaScript). Its words
//! and numbers are written by [`ebok_common::polish`], like everything residents read.
//!
//! The chart is accessible on its own: `role="img"` with a `<title>` and a `<desc>` that
//! summarises the total and the largest period in words, one bar per period with its own
//! tooltip, unknown consumption drawn as a hatched marker at the baseline and explained in its
//! tooltip (never as a zero bar). Colours and sizes are presentation attributes (no inline
//! `style`, so a strict Content-Security-Policy does not strip them); the fixed `viewBox`
//! scales to the container's width. Every piece of text is escaped.

use std::fmt::Write;

use chrono::NaiveDate;
use ebok_common::polish;

use crate::history::{Point, Step};

/// A period as a resident reads it: "12 marca 2026" or "marzec 2026".
pub fn format_period(day: NaiveDate, step: Step) -> String {
    match step {
        Step::Day => polish::day(day),
        Step::Month => polish::month(day),
    }
}

/// Escapes text for XML content and attribute values.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 forbids (control characters other than tab and newlines).
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Genitive plural after a number, as in "brak danych dla 1 dnia / 5 dni".
fn periods_genitive(n: usize, step: Step) -> &'static str {
    match (step, n) {
        (Step::Day, 1) => "dnia",
        (Step::Day, _) => "dni",
        (Step::Month, 1) => "miesiąca",
        (Step::Month, _) => "miesięcy",
    }
}

/// "od 1 marca 2026 do 31 marca 2026" or "od marca 2025 do lutego 2026".
fn range_words(first: NaiveDate, last: NaiveDate, step: Step) -> String {
    match step {
        Step::Day => format!("od {} do {}", polish::day(first), polish::day(last)),
        Step::Month => format!(
            "od {} do {}",
            polish::month_genitive(first),
            polish::month_genitive(last)
        ),
    }
}

/// The short label under a bar: "12 mar" or "mar 2026".
fn axis_label(day: NaiveDate, step: Step) -> String {
    match step {
        Step::Day => polish::day_short(day),
        Step::Month => polish::month_short(day),
    }
}

/// A "nice" gridline step in litres (1, 2, 2.5 or 5 × 10ⁿ) giving about `ticks` steps up to
/// `max`.
fn nice_step(max: i64, ticks: i64) -> i64 {
    let raw = (max.max(1) + ticks - 1) / ticks;
    let mut magnitude = 1i64;
    while magnitude * 10 <= raw {
        magnitude *= 10;
    }
    for factor in [1, 2, 5, 10] {
        // 2.5 × 10ⁿ only where it stays a whole number of litres.
        if factor == 5 && magnitude >= 10 && magnitude * 25 / 10 >= raw {
            return magnitude * 25 / 10;
        }
        if magnitude * factor >= raw {
            return magnitude * factor;
        }
    }
    magnitude * 10
}

/// A short, stable id prefix for this chart's `<title>`, `<desc>` and pattern, so several
/// charts on one page do not collide.
fn chart_id(points: &[Point], title: &str) -> String {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(title.as_bytes());
    for p in points {
        feed(p.period_start.to_string().as_bytes());
        feed(&p.consumption_litres.unwrap_or(-1).to_le_bytes());
    }
    format!("cc{:08x}", hash as u32)
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 36.0;
const MAX_LABELS: usize = 12;
const BAR_FILL: &str = "#1f6fb2";
const TEXT_FILL: &str = "#333333";
const GRID_STROKE: &str = "#d0d0d0";
const GAP_STROKE: &str = "#6b6b6b";

/// The consumption of `points` as an SVG bar chart: one bar per period, unknown consumption
/// as a hatched marker. `title` is the chart's accessible name (escaped here).
pub fn consumption_svg(points: &[Point], step: Step, title: &str) -> String {
    let id = chart_id(points, title);
    let known: Vec<i64> = points.iter().filter_map(|p| p.consumption_litres).collect();
    let unknown = points.len() - known.len();
    let total: i64 = known.iter().sum();
    let max_point = points
        .iter()
        .filter(|p| p.consumption_litres.is_some())
        .max_by_key(|p| (p.consumption_litres, std::cmp::Reverse(p.period_start)));

    let desc = match (points.first(), points.last(), max_point) {
        (None, _, _) | (_, None, _) => "Brak danych do wykresu.".to_string(),
        (Some(first), Some(last), max_point) => {
            let mut d = format!(
                "Zużycie wody {} {}. ",
                match step {
                    Step::Day => "dzień po dniu",
                    Step::Month => "miesiąc po miesiącu",
                },
                range_words(first.period_start, last.period_start, step)
            );
            match max_point {
                Some(max) => {
                    let _ = write!(
                        d,
                        "Łącznie {} m³; najwięcej {} m³ ({}).",
                        polish::m3(total),
                        polish::m3(max.consumption_litres.unwrap_or(0)),
                        format_period(max.period_start, step)
                    );
                }
                None => d.push_str("Brak danych o zużyciu w tym okresie."),
            }
            if unknown > 0 && max_point.is_some() {
                let _ = write!(
                    d,
                    " Brak danych dla {} {}.",
                    unknown,
                    periods_genitive(unknown, step)
                );
            }
            d
        }
    };

    let mut svg = String::with_capacity(600 + points.len() * 160);
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-labelledby="{id}-title {id}-desc" class="consumption-chart" font-family="system-ui, sans-serif" font-size="11">"#
    );
    let _ = write!(
        svg,
        r#"<title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape_xml(title),
        escape_xml(&desc)
    );
    let _ = write!(
        svg,
        r#"<defs><pattern id="{id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="{GAP_STROKE}" stroke-width="2"/></pattern></defs>"#
    );

    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let base_y = TOP + plot_h;

    if points.is_empty() {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle" fill="{TEXT_FILL}">Brak danych</text></svg>"#,
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        return svg;
    }

    // Y axis: about four gridlines at round m³ values.
    let max_litres = known.iter().copied().max().unwrap_or(0);
    let step_litres = nice_step(if max_litres > 0 { max_litres } else { 1_000 }, 4);
    let ticks = ((max_litres.max(1) + step_litres - 1) / step_litres).max(1);
    let y_max = (ticks * step_litres) as f64;
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="end" fill="{TEXT_FILL}">m³</text>"#,
        LEFT - 8.0,
        TOP - 12.0
    );
    svg.push_str(r#"<g class="grid" aria-hidden="true">"#);
    for i in 0..=ticks {
        let litres = i * step_litres;
        let y = base_y - (litres as f64 / y_max) * plot_h;
        let _ = write!(
            svg,
            r#"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{GRID_STROKE}" stroke-width="1"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="{TEXT_FILL}">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            escape_xml(&polish::m3_short(litres))
        );
    }
    svg.push_str("</g>");

    // Bars.
    let band = plot_w / points.len() as f64;
    let bar_w = if band >= 4.0 { band * 0.7 } else { band };
    svg.push_str(r#"<g class="bars">"#);
    for (i, point) in points.iter().enumerate() {
        let x = LEFT + i as f64 * band + (band - bar_w) / 2.0;
        let when = format_period(point.period_start, step);
        match point.consumption_litres {
            Some(litres) => {
                let h = (litres as f64 / y_max) * plot_h;
                let _ = write!(
                    svg,
                    r#"<rect class="bar" x="{x:.2}" y="{:.2}" width="{bar_w:.2}" height="{h:.2}" fill="{BAR_FILL}"><title>{}</title></rect>"#,
                    base_y - h,
                    escape_xml(&format!("{when}: {} m³", polish::m3(litres)))
                );
            }
            None => {
                let why = if point.reading.is_none() {
                    "brak odczytu"
                } else {
                    "brak wcześniejszego odczytu albo stan licznika się cofnął"
                };
                let _ = write!(
                    svg,
                    r#"<rect class="gap" x="{x:.2}" y="{:.2}" width="{bar_w:.2}" height="8" fill="url(#{id}-hatch)" stroke="{GAP_STROKE}" stroke-width="0.5"><title>{}</title></rect>"#,
                    base_y - 8.0,
                    escape_xml(&format!("{when}: zużycie nieznane ({why})"))
                );
            }
        }
    }
    svg.push_str("</g>");

    // Baseline and thinned x labels.
    let _ = write!(
        svg,
        r#"<line x1="{LEFT}" y1="{base_y:.1}" x2="{:.1}" y2="{base_y:.1}" stroke="{TEXT_FILL}" stroke-width="1"/>"#,
        WIDTH - RIGHT
    );
    let every = points.len().div_ceil(MAX_LABELS);
    svg.push_str(r#"<g class="labels" aria-hidden="true">"#);
    for (i, point) in points.iter().enumerate().step_by(every) {
        let cx = LEFT + (i as f64 + 0.5) * band;
        let _ = write!(
            svg,
            r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" fill="{TEXT_FILL}">{}</text>"#,
            base_y + 16.0,
            escape_xml(&axis_label(point.period_start, step))
        );
    }
    svg.push_str("</g>");

    if unknown > 0 {
        let _ = write!(
            svg,
            r#"<g class="legend" aria-hidden="true"><rect x="{:.1}" y="{:.1}" width="12" height="8" fill="url(#{id}-hatch)" stroke="{GAP_STROKE}" stroke-width="0.5"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="{TEXT_FILL}">brak danych</text></g>"#,
            WIDTH - RIGHT - 12.0,
            TOP - 20.0,
            WIDTH - RIGHT - 16.0,
            TOP - 12.0
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Reading;
    use chrono::{DateTime, Days, Utc};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn point(day: NaiveDate, consumption: Option<i64>, has_reading: bool) -> Point {
        Point {
            period_start: day,
            reading: has_reading.then(|| Reading {
                measured_at: "2026-03-12T20:00:00Z".parse::<DateTime<Utc>>().unwrap(),
                litres: 1,
                source: "radio".into(),
            }),
            consumption_litres: consumption,
            end: None,
            consumption_interpolated: false,
        }
    }

    fn march() -> Vec<Point> {
        (0..31)
            .map(|i| {
                let day = d(2026, 3, 1) + Days::new(i);
                match i {
                    4 => point(day, None, false),
                    5 => point(day, None, true),
                    11 => point(day, Some(512), true),
                    _ => point(day, Some(100 + i as i64), true),
                }
            })
            .collect()
    }

    /// A small well-formedness check: balanced tags, quoted attributes, entities only where
    /// they belong, no stray `<` or `&`.
    fn assert_well_formed(xml: &str) {
        let b = xml.as_bytes();
        let mut stack: Vec<String> = Vec::new();
        let mut i = 0;
        let mut roots = 0;
        let check_text = |s: &str| {
            let mut rest = s;
            while let Some(p) = rest.find('&') {
                let tail = &rest[p..];
                let end = tail.find(';').expect("entity ends with ;");
                let name = &tail[1..end];
                assert!(
                    matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") || name.starts_with('#'),
                    "unknown entity &{name};"
                );
                rest = &tail[end + 1..];
            }
        };
        while i < b.len() {
            if b[i] == b'<' {
                let close = xml[i..].find('>').expect("tag closes") + i;
                let tag = &xml[i + 1..close];
                if let Some(name) = tag.strip_prefix('/') {
                    let open = stack.pop().expect("closing tag has an opening tag");
                    assert_eq!(open, name.trim(), "mismatched closing tag");
                } else {
                    let self_closing = tag.ends_with('/');
                    let body = tag.trim_end_matches('/');
                    let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
                    let name = &body[..name_end];
                    assert!(
                        !name.is_empty()
                            && name
                                .chars()
                                .all(|c| c.is_alphanumeric() || c == '-' || c == ':')
                    );
                    // Attributes: name="value" pairs.
                    let mut attrs = body[name_end..].trim();
                    while !attrs.is_empty() {
                        let eq = attrs.find('=').expect("attribute has =");
                        let value = &attrs[eq + 1..];
                        assert!(value.starts_with('"'), "attribute value is quoted: {attrs}");
                        let end = value[1..].find('"').expect("attribute value closes") + 1;
                        let v = &value[1..end];
                        assert!(!v.contains('<'));
                        check_text(v);
                        attrs = value[end + 1..].trim_start();
                    }
                    if stack.is_empty() {
                        roots += 1;
                    }
                    if !self_closing {
                        stack.push(name.to_string());
                    }
                }
                i = close + 1;
            } else {
                let next = xml[i..].find('<').map_or(xml.len(), |p| p + i);
                assert!(!stack.is_empty(), "text outside the root element");
                check_text(&xml[i..next]);
                i = next;
            }
        }
        assert!(stack.is_empty(), "unclosed tags: {stack:?}");
        assert_eq!(roots, 1, "exactly one root element");
    }

    #[test]
    fn chart_is_well_formed_with_one_bar_or_marker_per_day() {
        let svg = consumption_svg(&march(), Step::Day, "Zużycie w marcu");
        assert_well_formed(&svg);
        assert_eq!(svg.matches(r#"class="bar""#).count(), 29);
        assert_eq!(svg.matches(r#"class="gap""#).count(), 2);
        assert!(svg.starts_with("<svg "));
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains("<title id="));
        assert!(svg.contains("<desc id="));
    }

    #[test]
    fn bar_tooltips_and_summary_are_polish_with_decimal_comma() {
        let svg = consumption_svg(&march(), Step::Day, "Zużycie");
        assert!(
            svg.contains("<title>12 marca 2026: 0,512 m³</title>"),
            "{svg}"
        );
        assert!(svg.contains("5 marca 2026: zużycie nieznane (brak odczytu)"));
        assert!(svg.contains("6 marca 2026: zużycie nieznane (brak wcześniejszego odczytu"));
        // 29 known days: 100 + i for i in 0..31 except 4, 5 and 11 (512).
        let total: i64 = (0..31)
            .filter(|i| ![4, 5, 11].contains(i))
            .map(|i| 100 + i)
            .sum::<i64>()
            + 512;
        assert!(
            svg.contains(&format!("Łącznie {} m³", polish::m3(total))),
            "{svg}"
        );
        assert!(svg.contains("najwięcej 0,512 m³ (12 marca 2026)"));
        assert!(svg.contains("Brak danych dla 2 dni."));
        assert!(svg.contains("od 1 marca 2026 do 31 marca 2026"));
    }

    #[test]
    fn title_and_every_text_are_escaped() {
        let svg = consumption_svg(&march(), Step::Day, r#"<script>alert("x")</script> & 'y'"#);
        assert_well_formed(&svg);
        assert!(!svg.contains("<script>"));
        assert!(
            svg.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &apos;y&apos;")
        );
    }

    #[test]
    fn x_labels_are_thinned_for_long_ranges() {
        let points: Vec<Point> = (0..365)
            .map(|i| point(d(2025, 1, 1) + Days::new(i), Some(200), true))
            .collect();
        let svg = consumption_svg(&points, Step::Day, "Rok");
        assert_well_formed(&svg);
        assert_eq!(svg.matches(r#"class="bar""#).count(), 365);
        let labels = svg.split(r#"<g class="labels""#).nth(1).unwrap();
        let labels = &labels[..labels.find("</g>").unwrap()];
        let count = labels.matches("<text").count();
        assert!((1..=MAX_LABELS).contains(&count), "{count} labels");
    }

    #[test]
    fn months_use_polish_month_names() {
        let points: Vec<Point> = (0..3)
            .map(|i| point(d(2026, 1, 1) + chrono::Months::new(i), Some(4_512), true))
            .collect();
        let svg = consumption_svg(&points, Step::Month, "Miesiące");
        assert_well_formed(&svg);
        assert!(svg.contains("<title>luty 2026: 4,512 m³</title>"));
        assert!(svg.contains("od stycznia 2026 do marca 2026"));
        assert!(svg.contains(">sty 2026<"));
    }

    #[test]
    fn empty_and_all_unknown_charts_say_so() {
        let svg = consumption_svg(&[], Step::Day, "Pusto");
        assert_well_formed(&svg);
        assert!(svg.contains("Brak danych"));
        let points = vec![point(d(2026, 3, 1), None, false)];
        let svg = consumption_svg(&points, Step::Day, "Nic");
        assert_well_formed(&svg);
        assert!(svg.contains("Brak danych o zużyciu w tym okresie."));
        assert_eq!(svg.matches(r#"class="gap""#).count(), 1);
    }

    #[test]
    fn gridlines_are_round_cubic_metres() {
        assert_eq!(nice_step(512, 4), 200);
        assert_eq!(nice_step(1_000, 4), 250);
        assert_eq!(nice_step(4_512, 4), 2_000);
        assert_eq!(nice_step(3, 4), 1);
        assert_eq!(polish::m3_short(250), "0,25");
        assert_eq!(polish::m3_short(2_000), "2");
        assert_eq!(polish::m3_short(0), "0");
    }
}
