//! The fonts: Helvetica and Helvetica-Bold (standard, not embedded), the encoding that gives
//! them the Polish letters (WinAnsi with `/Differences`, see the crate's doc), their widths, and
//! text to bytes in that encoding.

/// One of the two fonts a document is set in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Font {
    Regular,
    Bold,
}

impl Font {
    /// The font's name in a page's resources.
    pub(crate) fn resource(self) -> pdf_writer::Name<'static> {
        match self {
            Font::Regular => pdf_writer::Name(b"F1"),
            Font::Bold => pdf_writer::Name(b"F2"),
        }
    }

    fn widths(self) -> &'static [u16; 256] {
        match self {
            Font::Regular => &HELVETICA_WIDTHS,
            Font::Bold => &HELVETICA_BOLD_WIDTHS,
        }
    }
}

/// The width of `text` set in `font` at `size`, in points.
pub(crate) fn text_width(font: Font, size: f32, text: &str) -> f32 {
    let widths = font.widths();
    let units: u32 = text
        .chars()
        .map(|c| u32::from(widths[usize::from(encode_char(c))]))
        .sum();
    units as f32 * size / 1000.0
}

/// The Polish letters WinAnsiEncoding lacks: their codes and glyph names (for `/Differences`),
/// and the letter each is as wide as. Codes 0x81, 0x8D, 0x8F, 0x90 and 0x9D are undefined in
/// WinAnsi; the others held ƒ † ‡ ˆ ‰ ‹ Œ ˜ ™ › œ.
pub(crate) const POLISH: [(char, u8, &str, u8); 16] = [
    ('Ą', 0x81, "Aogonek", b'A'),
    ('ą', 0x83, "aogonek", b'a'),
    ('Ć', 0x86, "Cacute", b'C'),
    ('ć', 0x87, "cacute", b'c'),
    ('Ę', 0x88, "Eogonek", b'E'),
    ('ę', 0x89, "eogonek", b'e'),
    ('Ł', 0x8B, "Lslash", b'L'),
    ('ł', 0x8C, "lslash", b'l'),
    ('Ń', 0x8D, "Nacute", b'N'),
    ('ń', 0x8F, "nacute", b'n'),
    ('Ś', 0x90, "Sacute", b'S'),
    ('ś', 0x98, "sacute", b's'),
    ('Ź', 0x99, "Zacute", b'Z'),
    ('ź', 0x9B, "zacute", b'z'),
    ('Ż', 0x9C, "Zdotaccent", b'Z'),
    ('ż', 0x9D, "zdotaccent", b'z'),
];

/// Accented letters WinAnsi has, at their WinAnsi codes, with the letter each is as wide as
/// (ó, and letters of foreign names: Müller, Hernández, Šimek).
const LETTERS: [(char, u8, u8); 30] = [
    ('Ó', 0xD3, b'O'),
    ('ó', 0xF3, b'o'),
    ('Á', 0xC1, b'A'),
    ('á', 0xE1, b'a'),
    ('À', 0xC0, b'A'),
    ('à', 0xE0, b'a'),
    ('Ä', 0xC4, b'A'),
    ('ä', 0xE4, b'a'),
    ('Ç', 0xC7, b'C'),
    ('ç', 0xE7, b'c'),
    ('É', 0xC9, b'E'),
    ('é', 0xE9, b'e'),
    ('È', 0xC8, b'E'),
    ('è', 0xE8, b'e'),
    ('Ë', 0xCB, b'E'),
    ('ë', 0xEB, b'e'),
    ('Ñ', 0xD1, b'N'),
    ('ñ', 0xF1, b'n'),
    ('Ö', 0xD6, b'O'),
    ('ö', 0xF6, b'o'),
    ('Ô', 0xD4, b'O'),
    ('ô', 0xF4, b'o'),
    ('Ü', 0xDC, b'U'),
    ('ü', 0xFC, b'u'),
    ('Ú', 0xDA, b'U'),
    ('ú', 0xFA, b'u'),
    ('Š', 0x8A, b'S'),
    ('š', 0x9A, b's'),
    ('Ž', 0x8E, b'Z'),
    ('ž', 0x9E, b'z'),
];

/// Other characters printed, at their WinAnsi codes, with their widths in Helvetica and
/// Helvetica-Bold (from the AFM files).
const SYMBOLS: [(char, u8, u16, u16); 23] = [
    ('€', 0x80, 556, 556),
    ('‚', 0x82, 222, 278),
    ('„', 0x84, 333, 500),
    ('…', 0x85, 1000, 1000),
    ('‘', 0x91, 222, 278),
    ('’', 0x92, 222, 278),
    ('“', 0x93, 333, 500),
    ('”', 0x94, 333, 500),
    ('•', 0x95, 350, 350),
    ('–', 0x96, 556, 556),
    ('—', 0x97, 1000, 1000),
    ('§', 0xA7, 556, 556),
    ('©', 0xA9, 737, 737),
    ('«', 0xAB, 556, 556),
    ('°', 0xB0, 400, 400),
    ('²', 0xB2, 333, 333),
    ('³', 0xB3, 333, 333),
    ('·', 0xB7, 278, 278),
    ('»', 0xBB, 556, 556),
    ('×', 0xD7, 584, 584),
    ('ß', 0xDF, 611, 611),
    ('Í', 0xCD, 278, 278),
    ('í', 0xED, 278, 278),
];

/// Helvetica's widths (thousandths of the font size) of the WinAnsi codes 32–126. 39 is the
/// straight quote (`quotesingle`) and 96 the grave accent there, not the curly quotes of the
/// AFM's standard encoding.
const HELVETICA_ASCII: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, // space–'
    333, 333, 389, 584, 278, 333, 278, 278, // (–/
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, // 0–9
    278, 278, 584, 584, 584, 556, 1015, // :–@
    667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, // A–M
    722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, // N–Z
    278, 278, 278, 469, 556, 333, // [–`
    556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, // a–m
    556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, // n–z
    334, 260, 334, 584, // {–~
];

/// Helvetica-Bold's widths of the WinAnsi codes 32–126.
const HELVETICA_BOLD_ASCII: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, // space–'
    333, 333, 389, 584, 278, 333, 278, 278, // (–/
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, // 0–9
    333, 333, 584, 584, 584, 611, 975, // :–@
    722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, // A–M
    722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, // N–Z
    333, 278, 333, 584, 556, 333, // [–`
    556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, // a–m
    611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, // n–z
    389, 280, 389, 584, // {–~
];

const fn width_table(ascii: &[u16; 95], bold: bool) -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 95 {
        table[32 + i] = ascii[i];
        i += 1;
    }
    let mut i = 0;
    while i < POLISH.len() {
        let (_, code, _, base) = POLISH[i];
        table[code as usize] = ascii[(base - 32) as usize];
        i += 1;
    }
    let mut i = 0;
    while i < LETTERS.len() {
        let (_, code, base) = LETTERS[i];
        table[code as usize] = ascii[(base - 32) as usize];
        i += 1;
    }
    let mut i = 0;
    while i < SYMBOLS.len() {
        let (_, code, regular, heavy) = SYMBOLS[i];
        table[code as usize] = if bold { heavy } else { regular };
        i += 1;
    }
    table
}

pub(crate) static HELVETICA_WIDTHS: [u16; 256] = width_table(&HELVETICA_ASCII, false);
pub(crate) static HELVETICA_BOLD_WIDTHS: [u16; 256] = width_table(&HELVETICA_BOLD_ASCII, true);

/// The byte that prints `c` in the fonts' encoding; `?` for a character the fonts cannot print.
fn encode_char(c: char) -> u8 {
    match c {
        ' '..='~' => c as u8,
        // No-break spaces (between digit groups, before units) print as spaces: the line
        // breaking happens before encoding and does not break at them.
        '\u{a0}' | '\u{202f}' | '\u{2007}' | '\u{2009}' | '\t' | '\r' => b' ',
        '\u{2010}' | '\u{2011}' | '\u{2212}' => b'-',
        _ => {
            if let Some(p) = POLISH.iter().find(|p| p.0 == c) {
                p.1
            } else if let Some(l) = LETTERS.iter().find(|l| l.0 == c) {
                l.1
            } else if let Some(s) = SYMBOLS.iter().find(|s| s.0 == c) {
                s.1
            } else {
                b'?'
            }
        }
    }
}

pub(crate) fn encode_into(text: &str, out: &mut Vec<u8>) {
    out.extend(text.chars().map(encode_char));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_polish_letter_has_a_code_and_a_width() {
        for c in "AĄBCĆDEĘFGHIJKLŁMNŃOÓPRSŚTUWYZŹŻaąbcćdeęfghijklłmnńoóprsśtuwyzźż".chars()
        {
            let code = encode_char(c);
            assert_ne!(code, b'?', "{c}");
            assert!(HELVETICA_WIDTHS[usize::from(code)] > 0, "{c}");
            assert!(HELVETICA_BOLD_WIDTHS[usize::from(code)] > 0, "{c}");
        }
        assert_eq!(HELVETICA_WIDTHS[usize::from(encode_char('Ł'))], 556);
        assert_eq!(HELVETICA_WIDTHS[usize::from(encode_char('ł'))], 222);
        assert_eq!(HELVETICA_BOLD_WIDTHS[usize::from(encode_char('Ł'))], 611);
    }

    #[test]
    fn codes_are_not_shared() {
        let mut seen = std::collections::HashMap::new();
        let chars = POLISH
            .iter()
            .map(|p| (p.0, p.1))
            .chain(LETTERS.iter().map(|l| (l.0, l.1)))
            .chain(SYMBOLS.iter().map(|s| (s.0, s.1)));
        for (c, code) in chars {
            if let Some(other) = seen.insert(code, c) {
                assert_eq!(other, c, "code {code:#x} twice");
            }
            assert!(code >= 0x80, "{c}");
        }
    }

    #[test]
    fn printable_characters_have_widths() {
        for code in 32u8..=126 {
            assert!(HELVETICA_WIDTHS[usize::from(code)] > 0);
        }
        for c in "–·³€„”…°×§".chars() {
            assert!(HELVETICA_WIDTHS[usize::from(encode_char(c))] > 0, "{c}");
        }
        assert_eq!(encode_char('\u{a0}'), b' ');
        assert_eq!(encode_char('☃'), b'?');
        // Six digits (556), a space and a comma (278).
        assert!((text_width(Font::Regular, 10.0, "1 234,56") - 38.92).abs() < 1e-4);
    }
}
