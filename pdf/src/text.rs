//! Text measured by the fonts' widths: cut to fit a width, or wrapped into lines.

use crate::style::Style;

/// The text cut with an ellipsis to fit `max` points.
pub fn fit(style: Style, text: &str, max: f32) -> String {
    if style.width(text) <= max {
        return text.to_string();
    }
    let mut out = text.to_string();
    while !out.is_empty() && style.width(&out) + style.width("…") > max {
        out.pop();
    }
    let len = out.trim_end().len();
    out.truncate(len);
    out.push('…');
    out
}

/// Lines of at most `max` points: breaks at spaces (a no-break space does not break) and at
/// '\n', and inside a word only when the word alone is too long; more than `max_lines` lines
/// are cut, the last ending in an ellipsis.
pub(crate) fn wrap(style: Style, text: &str, max: f32, max_lines: usize) -> Vec<String> {
    let space = style.width(" ");
    let mut lines: Vec<String> = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut line_w = 0.0;
        for word in paragraph.split([' ', '\t']).filter(|w| !w.is_empty()) {
            let w = style.width(word);
            if !line.is_empty() && line_w + space + w <= max {
                line.push(' ');
                line.push_str(word);
                line_w += space + w;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if w <= max {
                line.push_str(word);
                line_w = w;
                continue;
            }
            let mut part_w = 0.0;
            for ch in word.chars() {
                let cw = style.width(ch.encode_utf8(&mut [0; 4]));
                if part_w + cw > max && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    part_w = 0.0;
                }
                line.push(ch);
                part_w += cw;
            }
            line_w = part_w;
        }
        lines.push(line);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            *last = fit(style, &format!("{last}…"), max);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::style::CELL;

    #[test]
    fn wrapping_keeps_amounts_whole_and_cuts_long_text() {
        let lines = wrap(CELL, "Dostawa wody 1\u{a0}234,567\u{a0}m³", 60.0, 4);
        assert!(lines.iter().any(|l| l.contains("1\u{a0}234,567\u{a0}m³")));
        let long = "bardzo ".repeat(100);
        let lines = wrap(CELL, &long, 100.0, 3);
        assert_eq!(lines.len(), 3);
        assert!(lines[2].ends_with('…'));
        assert!(lines.iter().all(|l| CELL.width(l) <= 100.0));
    }

    #[test]
    fn fitting_cuts_with_an_ellipsis_only_what_is_too_wide() {
        assert_eq!(fit(CELL, "Młynary", 100.0), "Młynary");
        let cut = fit(CELL, &"Zażółć gęślą jaźń ".repeat(10), 100.0);
        assert!(cut.ends_with('…'));
        assert!(CELL.width(&cut) <= 100.0);
    }
}
