//! CSV that Polish Excel opens correctly by double-click, for every export (a meter's history,
//! the audit log): UTF-8 with a byte order mark (or Excel guesses Windows-1250 and garbles
//! "Zużycie"), `;` between fields (the Polish list separator), CRLF line ends, fields quoted
//! only when they must be, and text cells that Excel would run as a formula (starting with
//! `=`, `+`, `-`, `@`) prefixed with an apostrophe.

/// What a file starts with.
pub const BOM: char = '\u{feff}';
/// Between fields.
pub const SEPARATOR: char = ';';
/// After each row.
pub const LINE_END: &str = "\r\n";

/// A text field: defused if Excel would read it as a formula, quoted if it holds the
/// separator, a quote, a line break or edge spaces.
pub fn text_cell(text: &str) -> String {
    let defused = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    let needs_quotes = defused.contains([SEPARATOR, '"', '\n', '\r'])
        || defused.starts_with(' ')
        || defused.ends_with(' ');
    if needs_quotes {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_only_when_they_must_be_and_formulas_are_defused() {
        assert_eq!(text_cell("Jan Kowalski"), "Jan Kowalski");
        assert_eq!(text_cell("A;\"B\""), "\"A;\"\"B\"\"\"");
        assert_eq!(text_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(text_cell("-5"), "'-5");
        assert_eq!(text_cell(" wcięcie"), "\" wcięcie\"");
        assert_eq!(text_cell("dwie\nlinie"), "\"dwie\nlinie\"");
    }
}
