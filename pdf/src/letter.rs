//! A utility's letter as PDF: a decision, a contract, an acknowledgement. The sender (the
//! utility) at the top left with the case's reference under it, the place and date at the top
//! right, the addressee below them on the right (where an envelope's window shows it), the
//! title centred, then the body (section headings, wrapped paragraphs, label and value pairs)
//! over as many A4 pages as it takes, each after the first under a running head, the signature
//! at the end, and a footer with "strona N z M" on every page.

use chrono::{DateTime, Utc};

use crate::assemble::assemble;
use crate::block::Block;
use crate::canvas::Canvas;
use crate::fonts::Font;
use crate::style::{ACCENT, BODY, FOOT, INK, LEFT, MUTED, RIGHT, Style, WIDTH};
use crate::text::{fit, wrap};

/// A one- or multi-page A4 letter from a utility: a decision, a contract, an acknowledgement.
#[derive(Clone, Debug, PartialEq)]
pub struct Letter {
    /// The utility's name first (bold), then its address lines, NIP, contact.
    pub sender: Vec<String>,
    /// The addressee's name first, then the address lines (may be empty: no addressee block).
    pub recipient: Vec<String>,
    /// Top right, e.g. "Gdańsk, 5 grudnia 2026 r.".
    pub place_and_date: String,
    /// Under the sender, e.g. "Sprawa nr WTP/2026/000123"; it heads the continuation pages too.
    pub reference: Option<String>,
    /// Centred, bold, larger; the PDF's title too.
    pub title: String,
    pub body: Vec<Paragraph>,
    /// A block at the right margin after the body, e.g. "Z poważaniem", a name, a role.
    pub signature: Vec<String>,
    /// Small print at the bottom of every page, next to "strona N z M".
    pub footer: String,
    /// The PDF's CreationDate: no clock is read, so the same letter gives the same bytes.
    pub created: DateTime<Utc>,
    /// The PDF's /Author (the utility's name).
    pub author: String,
}

/// A piece of a letter's body.
#[derive(Clone, Debug, PartialEq)]
pub enum Paragraph {
    /// A section title, kept on the page of what follows it.
    Heading(String),
    /// A paragraph wrapped to the page's width; '\n' starts a new line.
    Text(String),
    /// Label and value pairs: the labels (as given, with their colons if wanted) in a column,
    /// the values wrapped beside them.
    Fields(Vec<(String, String)>),
}

const TEXT: Style = Style::new(Font::Regular, 10.0, INK);
const TEXT_BOLD: Style = Style::new(Font::Bold, 10.0, INK);
const FIELD_LABEL: Style = Style::new(Font::Regular, 10.0, MUTED);
const SENDER: Style = Style::new(Font::Bold, 11.5, ACCENT);
const RECIPIENT: Style = Style::new(Font::Bold, 10.5, INK);
const TITLE: Style = Style::new(Font::Bold, 14.0, ACCENT);
const HEADING: Style = Style::new(Font::Bold, 10.5, ACCENT);

/// The sender's column; the place and date, and the addressee, are right of it.
const SENDER_W: f32 = 270.0;
/// The addressee's block starts here.
const RECIPIENT_X: f32 = LEFT + 290.0;
/// Space after a paragraph.
const PARAGRAPH_GAP: f32 = 6.0;
/// Labels of `Fields` take at most this much of the width.
const MAX_LABEL_W: f32 = WIDTH * 0.35;
/// The signature block is at least this wide, so short lines do not crowd the margin.
const MIN_SIGNATURE_W: f32 = 160.0;

/// The letter's PDF.
pub fn letter_pdf(letter: &Letter) -> Vec<u8> {
    let running_head = match &letter.reference {
        Some(reference) => format!("{reference} · {}", letter.title),
        None => letter.title.clone(),
    };
    let mut c = Canvas::new(&running_head);
    letterhead(&mut c, letter);
    title(&mut c, &letter.title);
    for paragraph in &letter.body {
        match paragraph {
            Paragraph::Heading(text) => {
                c.y -= PARAGRAPH_GAP;
                c.heading(HEADING, text, 2.0 * TEXT.leading());
            }
            Paragraph::Text(text) => {
                c.paragraph(TEXT, LEFT, WIDTH, text);
                c.y -= PARAGRAPH_GAP;
            }
            Paragraph::Fields(pairs) => {
                fields(&mut c, pairs);
                c.y -= PARAGRAPH_GAP;
            }
        }
    }
    signature(&mut c, &letter.signature);
    let room = WIDTH - FOOT.width("strona 999 z 999") - 12.0;
    let pages = c.finish(&fit(FOOT, &letter.footer, room), |number, total| {
        format!("strona {number} z {total}")
    });
    assemble(pages, &letter.title, &letter.author, letter.created)
}

/// The sender and the reference (left), the place and date (right), the addressee (right,
/// below the date). On the first page, which has room for them.
fn letterhead(c: &mut Canvas, letter: &Letter) {
    let top = c.y;
    let mut sender = Block::default();
    let mut lines = letter.sender.iter();
    if let Some(name) = lines.next() {
        sender.wrapped(SENDER, name, SENDER_W, 3).gap(1.0);
    }
    for line in lines {
        sender.wrapped(BODY, line, SENDER_W, 2);
    }
    if let Some(reference) = &letter.reference {
        sender.gap(8.0).wrapped(TEXT_BOLD, reference, SENDER_W, 2);
    }
    let bottom_left = sender.draw(c, LEFT, SENDER_W, top);

    let date = fit(TEXT, &letter.place_and_date, RIGHT - LEFT - SENDER_W - 12.0);
    c.text_right(
        TEXT,
        RIGHT,
        top - SENDER.leading() + SENDER.size * 0.3,
        &date,
    );

    let recipient_w = RIGHT - RECIPIENT_X;
    let mut recipient = Block::default();
    let mut lines = letter.recipient.iter();
    if let Some(name) = lines.next() {
        recipient.wrapped(RECIPIENT, name, recipient_w, 3).gap(1.0);
    }
    for line in lines {
        recipient.wrapped(TEXT, line, recipient_w, 2);
    }
    let bottom_right = recipient.draw(c, RECIPIENT_X, recipient_w, top - 48.0);
    c.y = bottom_left.min(bottom_right) - 28.0;
}

/// The title, centred, on as many lines as it takes.
fn title(c: &mut Canvas, title: &str) {
    for line in wrap(TITLE, title, WIDTH, usize::MAX) {
        c.ensure(TITLE.leading());
        c.y -= TITLE.leading();
        c.text_center(TITLE, LEFT + WIDTH / 2.0, c.y + TITLE.size * 0.3, &line);
    }
    c.y -= 10.0;
}

/// Labels in a column as wide as the widest (up to [`MAX_LABEL_W`]), values wrapped beside
/// them; pages break between lines.
fn fields(c: &mut Canvas, pairs: &[(String, String)]) {
    let gutter = 10.0;
    // A point more than the widest label: wrapping sums its words' widths, which may differ
    // from the whole label's by a rounding, and must not break it.
    let label_w = pairs
        .iter()
        .map(|(label, _)| FIELD_LABEL.width(label) + 1.0)
        .fold(0.0, f32::max)
        .min(MAX_LABEL_W);
    let value_x = LEFT + label_w + gutter;
    let value_w = RIGHT - value_x;
    for (label, value) in pairs {
        let labels = wrap(FIELD_LABEL, label, label_w, usize::MAX);
        let values = wrap(TEXT, value, value_w, usize::MAX);
        for line in 0..labels.len().max(values.len()) {
            c.ensure(TEXT.leading());
            c.y -= TEXT.leading();
            let baseline = c.y + TEXT.size * 0.3;
            if let Some(label) = labels.get(line) {
                c.text(FIELD_LABEL, LEFT, baseline, label);
            }
            if let Some(value) = values.get(line) {
                c.text(TEXT, value_x, baseline, value);
            }
        }
        c.y -= 2.0;
    }
}

/// The signature's lines centred in a block at the right margin, kept on one page.
fn signature(c: &mut Canvas, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let width = lines
        .iter()
        .map(|line| TEXT.width(line))
        .fold(MIN_SIGNATURE_W, f32::max)
        .min(WIDTH / 2.0);
    let center = RIGHT - width / 2.0;
    c.y -= 18.0;
    c.ensure(lines.len() as f32 * TEXT.leading());
    for line in lines {
        c.y -= TEXT.leading();
        let baseline = c.y + TEXT.size * 0.3;
        c.text_center(TEXT, center, baseline, &fit(TEXT, line, width));
    }
}
