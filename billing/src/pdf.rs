//! The PDF of an invoice, for people: an A4 document in Polish with everything art. 106e of the
//! VAT act asks of an invoice (and art. 106j of a correction), the payment details, the meter
//! readings the consumption came from, and the KSeF verification code ("KOD I"). [`invoice_pdf`]
//! renders one invoice, [`print_batch`] many into one file for the mailing house.
//!
//! # Fonts: no embedded font, on purpose
//!
//! The text is set in Helvetica and Helvetica-Bold, two of the PDF's standard 14 fonts, which
//! every viewer and printer supplies itself, so nothing is embedded. An embedded TrueType font
//! (subset or not) would add tens of kilobytes to every invoice, multiplied by every customer
//! every month and by every print batch, and subsetting it would cost more time than laying
//! out the page. Without it a one-page invoice is about 16 kB (its text and the QR code's
//! modules) and renders in under a millisecond, most of it spent by `qrcode` choosing the
//! code's mask.
//!
//! The standard fonts are usually used with WinAnsiEncoding, which has no Polish letters but ó.
//! The fonts themselves have them: the Adobe Core14 metrics (the AFM files of version 4.1) list
//! the Latin-2 glyphs `Aogonek`, `Cacute`, `Eogonek`, `Lslash`, `Nacute`, `Sacute`, `Zacute`,
//! `Zdotaccent` and their lower-case forms, and the viewers' substitutes (Acrobat's own fonts,
//! Nimbus Sans and Liberation Sans elsewhere) have them too. A font's `/Encoding` may
//! start from WinAnsiEncoding and give other codes other glyph names in `/Differences`: here 16
//! codes of the 0x80–0x9F range that WinAnsi leaves undefined or gives to characters an invoice
//! never prints (dagger, per mille, OE, …) are the 16 Polish letters not in WinAnsi
//! ([`POLISH`]). The names are the standard glyph names, so viewers map the letters back to
//! Unicode when text is searched or copied, and `pdftotext` reads the invoice back (the tests do).
//!
//! Right-aligned amounts and wrapped names need the width of text: [`HELVETICA_ASCII`] and
//! [`HELVETICA_BOLD_ASCII`] are the AFM widths of printable ASCII, every accented letter is as
//! wide as its base letter in these fonts ([`LETTERS`]), and the few other characters printed
//! have their own ([`SYMBOLS`]). The same widths are written into the font dictionaries, so a
//! viewer that substitutes another font still lines the columns up. A character outside these
//! tables prints as `?`.
//!
//! # Speed and determinism
//!
//! Streams are left uncompressed (the text is short; compressing would cost more time than it
//! saves bytes) and objects are written without pretty-printing. Nothing depends on the clock:
//! the document's `CreationDate` is the invoice's `created_at` and the file ID is a hash of the
//! pages' content, so the same document gives the same bytes.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use ebok_common::domain::Money;
use ebok_common::domain::time::BILLING_TZ;
use ebok_common::polish;
use pdf_writer::{Content, Date, Finish, Name, Pdf, Rect, Ref, Settings, Str, TextStr};
use qrcode::{Color, QrCode};
use sha2::{Digest, Sha256};

use crate::document::{InvoiceDocument, Kind, Line, MeterReading};

/// The PDF of the invoice. `verification_url` is the KSeF KOD I link encoded in the QR code (the caller computes it from the FA(3) XML).
pub fn invoice_pdf(doc: &InvoiceDocument, verification_url: &str) -> Vec<u8> {
    let pages = render(doc, verification_url);
    let title = format!("{} {}", title(doc), doc.number);
    assemble(pages, &title, &doc.seller.name, doc.created_at)
}

/// Many invoices in one PDF, each starting on a new page: the print batch for a mailing house.
pub fn print_batch(docs: &[(InvoiceDocument, String)]) -> Vec<u8> {
    let mut pages = Vec::new();
    for (doc, url) in docs {
        pages.extend(render(doc, url));
    }
    let created = docs
        .iter()
        .map(|(doc, _)| doc.created_at)
        .max()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let author = docs
        .first()
        .map(|(doc, _)| doc.seller.name.as_str())
        .unwrap_or("");
    let title = format!("Faktury do wysyłki ({})", docs.len());
    assemble(pages, &title, author, created)
}

// ---------------------------------------------------------------------------------------------
// Page geometry and styles (PDF points: 1/72 inch).

const PAGE_W: f32 = 595.276;
const PAGE_H: f32 = 841.89;
const LEFT: f32 = 42.0;
const RIGHT: f32 = PAGE_W - 42.0;
const WIDTH: f32 = RIGHT - LEFT;
const TOP: f32 = PAGE_H - 40.0;
/// Content stops here; the footer is below.
const BOTTOM: f32 = 56.0;
const FOOTER_RULE: f32 = 42.0;
const FOOTER_Y: f32 = 31.0;

type Rgb = [f32; 3];
const INK: Rgb = [0.08, 0.08, 0.1];
const MUTED: Rgb = [0.36, 0.37, 0.4];
const ACCENT: Rgb = [0.0, 0.27, 0.52];
const RULE: Rgb = [0.74, 0.76, 0.79];
const SHADE: Rgb = [0.925, 0.935, 0.95];
const PANEL: Rgb = [0.93, 0.955, 0.98];
const BOX: Rgb = [0.965, 0.968, 0.972];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    fn resource(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }

    fn widths(self) -> &'static [u16; 256] {
        match self {
            Font::Regular => &HELVETICA_WIDTHS,
            Font::Bold => &HELVETICA_BOLD_WIDTHS,
        }
    }
}

#[derive(Clone, Copy)]
struct Style {
    font: Font,
    size: f32,
    color: Rgb,
}

impl Style {
    const fn new(font: Font, size: f32, color: Rgb) -> Style {
        Style { font, size, color }
    }

    fn leading(self) -> f32 {
        self.size * 1.32
    }

    fn width(self, text: &str) -> f32 {
        text_width(self.font, self.size, text)
    }
}

const BODY: Style = Style::new(Font::Regular, 8.5, INK);
const BODY_BOLD: Style = Style::new(Font::Bold, 8.5, INK);
const LABEL: Style = Style::new(Font::Regular, 8.0, MUTED);
const CAPTION: Style = Style::new(Font::Bold, 7.0, ACCENT);
const SELLER: Style = Style::new(Font::Bold, 11.5, ACCENT);
const BUYER: Style = Style::new(Font::Bold, 10.0, INK);
const TITLE: Style = Style::new(Font::Bold, 18.0, ACCENT);
const NUMBER: Style = Style::new(Font::Bold, 11.0, INK);
const SECTION: Style = Style::new(Font::Bold, 9.5, ACCENT);
const CELL: Style = Style::new(Font::Regular, 8.0, INK);
const CELL_BOLD: Style = Style::new(Font::Bold, 8.0, INK);
const HEAD: Style = Style::new(Font::Bold, 7.0, MUTED);
const DUE: Style = Style::new(Font::Bold, 14.0, ACCENT);
const DUE_LABEL: Style = Style::new(Font::Bold, 10.0, ACCENT);
const ACCOUNT: Style = Style::new(Font::Bold, 11.0, INK);
const FOOT: Style = Style::new(Font::Regular, 7.0, MUTED);
const QR_LABEL: Style = Style::new(Font::Bold, 7.0, INK);

/// Rounded to a hundredth of a point: enough for print, and short in the content stream.
fn r(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

// ---------------------------------------------------------------------------------------------
// The drawing surface: pages of content, a cursor going down them, page breaks.

struct Canvas {
    pages: Vec<Content>,
    /// The top of the free space on the current page.
    y: f32,
    /// The fill colour set last on the current page.
    fill: Option<Rgb>,
    /// Printed at the top of continuation pages.
    running_head: String,
    scratch: Vec<u8>,
}

fn new_content() -> Content {
    Content::with_settings_and_capacity(Settings { pretty: false }, 8 * 1024)
}

impl Canvas {
    fn new(running_head: String) -> Canvas {
        Canvas {
            pages: vec![new_content()],
            y: TOP,
            fill: None,
            running_head,
            scratch: Vec::with_capacity(256),
        }
    }

    fn page(&mut self) -> &mut Content {
        self.pages.last_mut().expect("a canvas always has a page")
    }

    fn new_page(&mut self) {
        self.pages.push(new_content());
        self.fill = None;
        self.y = TOP;
        let head = std::mem::take(&mut self.running_head);
        self.text(BODY_BOLD, LEFT, TOP - 8.0, &head);
        self.text_right(LABEL, RIGHT, TOP - 8.0, "ciąg dalszy");
        self.running_head = head;
        self.rule(LEFT, RIGHT, TOP - 14.0, 0.5);
        self.y = TOP - 26.0;
    }

    /// Starts a new page unless `height` fits above the bottom margin; true when it did.
    fn ensure(&mut self, height: f32) -> bool {
        if self.y - height < BOTTOM {
            self.new_page();
            true
        } else {
            false
        }
    }

    fn set_fill(&mut self, color: Rgb) {
        if self.fill != Some(color) {
            self.page().set_fill_rgb(color[0], color[1], color[2]);
            self.fill = Some(color);
        }
    }

    /// `text` with its baseline at `y`.
    fn text(&mut self, style: Style, x: f32, y: f32, text: &str) {
        if text.is_empty() {
            return;
        }
        self.set_fill(style.color);
        let Canvas { pages, scratch, .. } = self;
        scratch.clear();
        encode_into(text, scratch);
        pages
            .last_mut()
            .expect("a canvas always has a page")
            .begin_text()
            .set_font(style.font.resource(), style.size)
            .next_line(r(x), r(y))
            .show(Str(scratch))
            .end_text();
    }

    fn text_right(&mut self, style: Style, right: f32, y: f32, text: &str) {
        self.text(style, right - style.width(text), y, text);
    }

    fn text_center(&mut self, style: Style, center: f32, y: f32, text: &str) {
        self.text(style, center - style.width(text) / 2.0, y, text);
    }

    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        self.set_fill(color);
        self.page().rect(r(x), r(y), r(w), r(h)).fill_nonzero();
    }

    fn rule(&mut self, x1: f32, x2: f32, y: f32, width: f32) {
        self.page()
            .set_stroke_rgb(RULE[0], RULE[1], RULE[2])
            .set_line_width(width)
            .move_to(r(x1), r(y))
            .line_to(r(x2), r(y))
            .stroke();
    }

    /// A wrapped paragraph at the cursor, breaking pages between lines.
    fn paragraph(&mut self, style: Style, x: f32, width: f32, text: &str) {
        for line in wrap(style, text, width, usize::MAX) {
            self.ensure(style.leading());
            self.y -= style.leading();
            self.text(style, x, self.y + style.size * 0.3, &line);
        }
    }

    /// A section's title, kept with the `following` height after it.
    fn section(&mut self, title: &str, following: f32) {
        self.ensure(SECTION.leading() + 4.0 + following);
        self.y -= SECTION.leading();
        self.text(SECTION, LEFT, self.y + 2.0, title);
        self.y -= 4.0;
    }
}

// ---------------------------------------------------------------------------------------------
// Blocks: lines of text measured before they are drawn (so a background can go under them).

struct BlockLine {
    style: Style,
    text: String,
    /// Space above the line.
    gap: f32,
    /// A value on the same baseline: right-aligned at the block's right edge, or `inline`
    /// right after the text.
    value: Option<(Style, String)>,
    inline: bool,
}

#[derive(Default)]
struct Block {
    lines: Vec<BlockLine>,
}

impl Block {
    fn line(&mut self, style: Style, text: impl Into<String>) -> &mut Self {
        self.lines.push(BlockLine {
            style,
            text: text.into(),
            gap: 0.0,
            value: None,
            inline: false,
        });
        self
    }

    fn wrapped(&mut self, style: Style, text: &str, width: f32, max_lines: usize) -> &mut Self {
        for line in wrap(style, text, width, max_lines) {
            self.line(style, line);
        }
        self
    }

    /// A label and its value, right-aligned.
    fn pair(&mut self, label: &str, value_style: Style, value: impl Into<String>) -> &mut Self {
        self.labelled(LABEL, label, value_style, value, false)
    }

    fn labelled(
        &mut self,
        style: Style,
        label: &str,
        value_style: Style,
        value: impl Into<String>,
        inline: bool,
    ) -> &mut Self {
        self.lines.push(BlockLine {
            style,
            text: label.to_string(),
            gap: 0.0,
            value: Some((value_style, value.into())),
            inline,
        });
        self
    }

    /// Vertical space (an empty line of that height).
    fn gap(&mut self, gap: f32) -> &mut Self {
        self.lines.push(BlockLine {
            style: LABEL,
            text: String::new(),
            gap,
            value: None,
            inline: false,
        });
        self
    }

    fn line_height(line: &BlockLine) -> f32 {
        if line.text.is_empty() && line.value.is_none() {
            return line.gap;
        }
        let mut leading = line.style.leading();
        if let Some((style, _)) = &line.value {
            leading = leading.max(style.leading());
        }
        line.gap + leading
    }

    fn height(&self) -> f32 {
        self.lines.iter().map(Block::line_height).sum()
    }

    /// Draws the block from `top` down; returns its bottom.
    fn draw(&self, c: &mut Canvas, x: f32, width: f32, top: f32) -> f32 {
        let mut y = top;
        for line in &self.lines {
            let height = Block::line_height(line);
            if line.text.is_empty() && line.value.is_none() {
                y -= height;
                continue;
            }
            y -= height;
            let baseline = y + line
                .style
                .size
                .max(line.value.as_ref().map_or(0.0, |v| v.0.size))
                * 0.3;
            c.text(line.style, x, baseline, &line.text);
            match &line.value {
                Some((style, value)) if line.inline => {
                    let after = x + line.style.width(&line.text) + line.style.size * 0.4;
                    c.text(*style, after, baseline, value);
                }
                Some((style, value)) => c.text_right(*style, x + width, baseline, value),
                None => {}
            }
        }
        y
    }
}

// ---------------------------------------------------------------------------------------------
// Tables.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
    Center,
}

struct Column {
    /// Lines of the header separated by '\n'.
    title: &'static str,
    width: f32,
    align: Align,
}

const fn col(title: &'static str, width: f32, align: Align) -> Column {
    Column {
        title,
        width,
        align,
    }
}

struct Row {
    cells: Vec<String>,
    bold: bool,
}

const PAD_X: f32 = 4.0;
const PAD_Y: f32 = 3.2;
/// Tables up to this height are not split between pages.
const KEEP_TOGETHER: f32 = 160.0;
/// Lines a wrapped cell may take before it is cut with an ellipsis.
const MAX_CELL_LINES: usize = 4;

impl Canvas {
    fn table_header(&mut self, x: f32, cols: &[Column]) {
        let height = header_height(cols);
        let width: f32 = cols.iter().map(|c| c.width).sum();
        self.fill_rect(x, self.y - height, width, height, SHADE);
        let mut cx = x;
        for column in cols {
            let mut baseline = self.y - PAD_Y - HEAD.size * 0.85;
            for part in column.title.split('\n') {
                self.cell_text(HEAD, column, cx, baseline, part);
                baseline -= HEAD.leading();
            }
            cx += column.width;
        }
        self.y -= height;
    }

    fn cell_text(&mut self, style: Style, column: &Column, x: f32, baseline: f32, text: &str) {
        match column.align {
            Align::Left => self.text(style, x + PAD_X, baseline, text),
            Align::Right => self.text_right(style, x + column.width - PAD_X, baseline, text),
            Align::Center => self.text_center(style, x + column.width / 2.0, baseline, text),
        }
    }

    /// A table at the cursor; its header is repeated on every page it continues on. Left-aligned
    /// cells wrap; the others are numbers and dates and stay on one line.
    fn table(&mut self, title: Option<&str>, x: f32, cols: &[Column], rows: &[Row]) {
        let laid: Vec<(Vec<Vec<String>>, f32)> = rows
            .iter()
            .map(|row| {
                let style = if row.bold { CELL_BOLD } else { CELL };
                let cells: Vec<Vec<String>> = row
                    .cells
                    .iter()
                    .zip(cols)
                    .map(|(text, column)| {
                        if column.align == Align::Left {
                            wrap(style, text, column.width - 2.0 * PAD_X, MAX_CELL_LINES)
                        } else {
                            vec![text.clone()]
                        }
                    })
                    .collect();
                let lines = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
                let height =
                    lines as f32 * CELL.leading() + 2.0 * PAD_Y - (CELL.leading() - CELL.size);
                (cells, height)
            })
            .collect();
        // A short table is kept on one page; a long one starts with at least one row.
        let all: f32 = laid.iter().map(|l| l.1).sum();
        let first = laid.first().map_or(0.0, |l| l.1);
        let head = header_height(cols);
        let keep = head + if all <= KEEP_TOGETHER { all } else { first };
        match title {
            Some(title) => self.section(title, keep),
            None => {
                self.ensure(keep);
            }
        }
        self.table_header(x, cols);
        let width: f32 = cols.iter().map(|c| c.width).sum();
        for ((cells, height), row) in laid.iter().zip(rows) {
            if self.ensure(*height) {
                self.table_header(x, cols);
            }
            let style = if row.bold { CELL_BOLD } else { CELL };
            let mut cx = x;
            for (lines, column) in cells.iter().zip(cols) {
                let mut baseline = self.y - PAD_Y - CELL.size * 0.78;
                for line in lines {
                    self.cell_text(style, column, cx, baseline, line);
                    baseline -= CELL.leading();
                }
                cx += column.width;
            }
            self.y -= height;
            self.rule(x, x + width, self.y, 0.4);
        }
    }
}

fn header_height(cols: &[Column]) -> f32 {
    let lines = cols
        .iter()
        .map(|c| c.title.split('\n').count())
        .max()
        .unwrap_or(1);
    lines as f32 * HEAD.leading() + 2.0 * PAD_Y - (HEAD.leading() - HEAD.size) + 1.0
}

// ---------------------------------------------------------------------------------------------
// The invoice.

fn title(doc: &InvoiceDocument) -> &'static str {
    match doc.kind {
        Kind::Vat => "Faktura VAT",
        Kind::Correction(_) => "Faktura korygująca",
    }
}

/// A date as invoices print it: "01.12.2026".
fn date(day: NaiveDate) -> String {
    format!("{:02}.{:02}.{}", day.day(), day.month(), day.year())
}

/// The Warsaw day of an instant, as [`date`] prints it.
fn local_date(at: DateTime<Utc>) -> String {
    date(at.with_timezone(&BILLING_TZ).date_naive())
}

/// An amount in a table, without the currency: "1 234,56".
fn amount(money: Money) -> String {
    let mut text = polish::money(money);
    let len = text.trim_end_matches("zł").trim_end_matches('\u{a0}').len();
    text.truncate(len);
    text
}

/// An NRB in the groups it is printed in: "26 1030 1944 …" (anything else as given).
fn account(nrb: &str) -> String {
    let digits: String = nrb.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != 26 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return nrb.to_string();
    }
    let mut out = String::with_capacity(32);
    out.push_str(&digits[..2]);
    for group in digits.as_bytes()[2..].chunks(4) {
        out.push(' ');
        out.push_str(std::str::from_utf8(group).unwrap_or_default());
    }
    out
}

fn render(doc: &InvoiceDocument, verification_url: &str) -> Vec<Content> {
    let heading = format!("{} nr {}", title(doc), doc.number);
    let mut c = Canvas::new(heading);
    header(&mut c, doc);
    parties(&mut c, doc);
    match &doc.kind {
        Kind::Vat => lines_table(&mut c, "Pozycje faktury", &doc.lines),
        Kind::Correction(_) => {
            lines_table(&mut c, "Przed korektą", &doc.lines_before);
            lines_table(&mut c, "Po korekcie", &doc.lines);
        }
    }
    vat_summary(&mut c, doc);
    payment(&mut c, doc, verification_url);
    readings(&mut c, &doc.readings);
    notes(&mut c, &doc.notes);
    let total = c.pages.len();
    let mut pages = c.pages;
    for (index, page) in pages.iter_mut().enumerate() {
        footer(page, doc, index + 1, total);
    }
    pages
}

/// The seller (left) and the invoice's title, number and dates (right).
fn header(c: &mut Canvas, doc: &InvoiceDocument) {
    let top = c.y;
    let left_w = 255.0;
    let mut seller = Block::default();
    seller
        .line(CAPTION, "SPRZEDAWCA")
        .gap(2.0)
        .wrapped(SELLER, &doc.seller.name, left_w, 3)
        .gap(1.0)
        .line(BODY, doc.seller.address_line1.clone())
        .line(BODY, doc.seller.address_line2.clone());
    if let Some(nip) = &doc.seller.nip {
        seller.line(BODY, format!("NIP: {nip}"));
    }

    let rx = RIGHT - 228.0;
    let rw = RIGHT - rx;
    let mut right = Block::default();
    right
        .line(TITLE, title(doc))
        .line(NUMBER, format!("nr {}", doc.number))
        .gap(5.0)
        .pair("Data wystawienia:", BODY_BOLD, date(doc.issue_date));
    if let Some(place) = &doc.place_of_issue {
        right.pair("Miejsce wystawienia:", BODY_BOLD, place.clone());
    }
    if let Some((from, to)) = doc.period {
        right.pair(
            "Okres rozliczeniowy:",
            BODY_BOLD,
            format!("{}–{}", date(from), date(to)),
        );
    }
    if let Some(sale) = doc.sale_date {
        right.pair("Data sprzedaży:", BODY_BOLD, date(sale));
    }
    if let Kind::Correction(corrected) = &doc.kind {
        right
            .gap(3.0)
            .pair("Korygowana faktura:", BODY_BOLD, corrected.number.clone())
            .pair(
                "Data wystawienia korygowanej:",
                BODY_BOLD,
                date(corrected.issue_date),
            );
        if let Some(ksef) = &corrected.ksef_number {
            // A KSeF number is too long to share its line with a label.
            right
                .line(LABEL, "Numer KSeF faktury korygowanej:")
                .pair("", BODY_BOLD, ksef.clone());
        }
    }
    if let Some(ksef) = &doc.ksef_number {
        right
            .line(LABEL, "Numer KSeF faktury:")
            .pair("", BODY_BOLD, ksef.clone());
    }
    let bottom_left = seller.draw(c, LEFT, left_w, top);
    let bottom_right = right.draw(c, rx, rw, top);
    c.y = bottom_left.min(bottom_right) - 12.0;
}

/// The buyer and the supply point, side by side on shaded boxes; a correction's reason below.
fn parties(c: &mut Canvas, doc: &InvoiceDocument) {
    let gutter = 12.0;
    let pad = 8.0;
    let box_w = (WIDTH - gutter) / 2.0;
    let inner = box_w - 2.0 * pad;

    let mut buyer = Block::default();
    buyer
        .line(CAPTION, "NABYWCA")
        .gap(2.0)
        .wrapped(BUYER, &doc.buyer.name, inner, 3)
        .gap(1.0)
        .wrapped(BODY, &doc.buyer.address_line1, inner, 2)
        .wrapped(BODY, &doc.buyer.address_line2, inner, 2);
    if let Some(nip) = &doc.buyer.nip {
        buyer.line(BODY, format!("NIP: {nip}"));
    }
    if let Some(number) = &doc.buyer.customer_number {
        buyer
            .gap(3.0)
            .labelled(BODY, "Nr klienta:", BODY_BOLD, number.clone(), true);
    }

    let mut point = Block::default();
    if let Some(supply_point) = &doc.supply_point {
        point
            .line(CAPTION, "PUNKT POBORU")
            .gap(2.0)
            .wrapped(BODY_BOLD, supply_point, inner, 4);
    }

    let height = buyer.height().max(point.height()) + 2.0 * pad;
    c.ensure(height);
    let top = c.y;
    c.fill_rect(LEFT, top - height, box_w, height, BOX);
    buyer.draw(c, LEFT + pad, inner, top - pad + 1.0);
    if !point.lines.is_empty() {
        let x = LEFT + box_w + gutter;
        c.fill_rect(x, top - height, box_w, height, BOX);
        point.draw(c, x + pad, inner, top - pad + 1.0);
    }
    c.y = top - height - 6.0;

    if let Kind::Correction(corrected) = &doc.kind {
        c.y -= 4.0;
        let mut reason = Block::default();
        reason.line(CAPTION, "PRZYCZYNA KOREKTY").gap(1.0).wrapped(
            BODY_BOLD,
            &corrected.reason,
            WIDTH - 2.0 * pad,
            6,
        );
        let height = reason.height() + 2.0 * pad - 2.0;
        c.ensure(height);
        let top = c.y;
        c.fill_rect(LEFT, top - height, WIDTH, height, PANEL);
        reason.draw(c, LEFT + pad, WIDTH - 2.0 * pad, top - pad + 1.0);
        c.y = top - height - 6.0;
    }
}

const LINE_COLUMNS: [Column; 7] = [
    col("Lp.", 22.0, Align::Center),
    col("Nazwa towaru lub usługi", 225.0, Align::Left),
    col("J.m.", 32.0, Align::Center),
    col("Ilość", 52.0, Align::Right),
    col("Cena netto\n[zł]", 58.0, Align::Right),
    col("Wartość netto\n[zł]", 82.0, Align::Right),
    col(
        "VAT\n[%]",
        WIDTH - 22.0 - 225.0 - 32.0 - 52.0 - 58.0 - 82.0,
        Align::Right,
    ),
];

fn lines_table(c: &mut Canvas, title: &str, lines: &[Line]) {
    let rows: Vec<Row> = lines
        .iter()
        .map(|line| Row {
            cells: vec![
                line.no.to_string(),
                line.name.clone(),
                line.unit.clone(),
                polish::m3(line.quantity_milli),
                amount(line.unit_price),
                amount(line.net),
                format!("{}%", line.vat_rate),
            ],
            bold: false,
        })
        .collect();
    c.y -= 4.0;
    c.table(Some(title), LEFT, &LINE_COLUMNS, &rows);
}

const RATE_COLUMNS: [Column; 4] = [
    col("Stawka VAT", 70.0, Align::Left),
    col("Wartość netto\n[zł]", 80.0, Align::Right),
    col("Kwota VAT\n[zł]", 80.0, Align::Right),
    col("Wartość brutto\n[zł]", 85.0, Align::Right),
];

/// Net, VAT and gross per rate, and the totals (for a correction, the differences).
fn vat_summary(c: &mut Canvas, doc: &InvoiceDocument) {
    let mut rows: Vec<Row> = doc
        .rates
        .iter()
        .map(|rate| Row {
            cells: vec![
                format!("{}%", rate.vat_rate),
                amount(rate.net),
                amount(rate.vat),
                amount(rate.net + rate.vat),
            ],
            bold: false,
        })
        .collect();
    rows.push(Row {
        cells: vec![
            "Razem".to_string(),
            amount(doc.net),
            amount(doc.vat),
            amount(doc.gross),
        ],
        bold: true,
    });
    let title = match doc.kind {
        Kind::Vat => "Podsumowanie według stawek VAT",
        Kind::Correction(_) => "Kwoty korekty według stawek VAT (różnica)",
    };
    let width: f32 = RATE_COLUMNS.iter().map(|c| c.width).sum();
    c.y -= 6.0;
    c.table(Some(title), RIGHT - width, &RATE_COLUMNS, &rows);
}

const QR_SIZE: f32 = 96.0;

/// What to pay, by when and where, next to the KSeF verification code.
fn payment(c: &mut Canvas, doc: &InvoiceDocument, verification_url: &str) {
    let pad = 10.0;
    let box_w = WIDTH - QR_SIZE - 24.0;
    let inner = box_w - 2.0 * pad;
    let values_w: f32 = 270.0;

    let mut block = Block::default();
    match doc.kind {
        Kind::Vat => block.pair(
            "Należność ogółem (brutto):",
            BODY_BOLD,
            polish::money(doc.gross),
        ),
        Kind::Correction(_) => block.pair(
            "Kwota korekty (brutto):",
            BODY_BOLD,
            polish::money(doc.gross),
        ),
    };
    if doc.credit_used != Money::ZERO {
        block.pair(
            "Nadpłata zaliczona:",
            BODY_BOLD,
            polish::money(doc.credit_used),
        );
    }
    block
        .gap(2.0)
        .labelled(
            DUE_LABEL,
            "Do zapłaty:",
            DUE,
            polish::money(doc.amount_due),
            false,
        )
        .wrapped(
            BODY,
            &format!("Słownie: {}", polish::money_in_words(doc.amount_due)),
            inner,
            3,
        )
        .gap(4.0)
        .pair("Termin płatności:", BODY_BOLD, date(doc.due_date))
        .gap(4.0);
    match &doc.bank_account {
        Some(nrb) => {
            block
                .line(LABEL, "Numer rachunku do wpłat:")
                .line(ACCOUNT, account(nrb))
                .wrapped(
                    LABEL,
                    &format!("Tytuł przelewu: {}", transfer_title(doc)),
                    inner,
                    2,
                );
        }
        None => {
            block
                .line(LABEL, "Numer rachunku do wpłat:")
                .line(BODY_BOLD, "Numer rachunku zostanie podany wkrótce");
        }
    }

    let qr_block = QR_SIZE + 33.0;
    let height = (block.height() + 2.0 * pad).max(qr_block);
    c.y -= 10.0;
    c.ensure(height + 4.0);
    let top = c.y;
    c.fill_rect(LEFT, top - height, box_w, height, PANEL);
    block.draw(c, LEFT + pad, values_w.min(inner), top - pad + 2.0);

    // KOD I: the invoice's verification link, labelled with its KSeF number or OFFLINE.
    // The code keeps a quiet zone of white paper around it: four modules, about 9 pt.
    let qx = RIGHT - QR_SIZE;
    c.text_center(
        LABEL_SMALL,
        qx + QR_SIZE / 2.0,
        top - 4.5,
        "Zweryfikuj fakturę w KSeF",
    );
    let qr_top = top - 15.0;
    draw_qr(c, verification_url, qx, qr_top, QR_SIZE);
    let label = doc.ksef_number.as_deref().unwrap_or("OFFLINE");
    // A KSeF number (35 characters) is wider than the code: smaller, up to the margin.
    let room = QR_SIZE + 28.0;
    let wide = QR_LABEL.width(label);
    let label_style = if wide > room {
        Style::new(Font::Bold, QR_LABEL.size * room / wide, INK)
    } else {
        QR_LABEL
    };
    c.text_center(
        label_style,
        qx + QR_SIZE / 2.0,
        qr_top - QR_SIZE - 14.0,
        label,
    );
    c.y = top - height - 4.0;
}

const LABEL_SMALL: Style = Style::new(Font::Regular, 6.5, MUTED);

fn transfer_title(doc: &InvoiceDocument) -> String {
    match &doc.buyer.customer_number {
        Some(customer) => format!("{}, nr klienta {customer}", doc.number),
        None => doc.number.clone(),
    }
}

/// The QR code's dark modules as filled rectangles, one per horizontal run, in one path (no
/// seams between modules), drawn in module units so the coordinates are small integers.
fn draw_qr(c: &mut Canvas, data: &str, x: f32, top: f32, size: f32) {
    let Ok(code) = QrCode::new(data.as_bytes()) else {
        c.text_center(LABEL, x + size / 2.0, top - size / 2.0, "(kod niedostępny)");
        return;
    };
    let width = code.width();
    let colors = code.to_colors();
    let module = size / width as f32;
    c.set_fill(INK);
    let page = c.page();
    page.save_state()
        .transform([module, 0.0, 0.0, module, r(x), r(top - size)]);
    for (row, line) in colors.chunks(width).enumerate() {
        let y = (width - 1 - row) as f32;
        let mut col = 0;
        while col < width {
            if line[col] != Color::Dark {
                col += 1;
                continue;
            }
            let start = col;
            while col < width && line[col] == Color::Dark {
                col += 1;
            }
            page.rect(start as f32, y, (col - start) as f32, 1.0);
        }
    }
    page.fill_nonzero().restore_state();
}

const READING_COLUMNS: [Column; 7] = [
    col("Licznik", 104.0, Align::Left),
    col("Od: data", 54.0, Align::Center),
    col("Od: stan\n[m³]", 62.0, Align::Right),
    col("Do: data", 54.0, Align::Center),
    col("Do: stan\n[m³]", 62.0, Align::Right),
    col("Zużycie\n[m³]", 60.0, Align::Right),
    col(
        "Uwagi",
        WIDTH - 104.0 - 54.0 - 62.0 - 54.0 - 62.0 - 60.0,
        Align::Left,
    ),
];

fn purpose(purpose: &str) -> &str {
    match purpose {
        "main" => "główny",
        "garden" => "ogrodowy",
        "sewage" => "ścieki",
        other => other,
    }
}

/// How a register was found, when it was not simply read.
fn register_kind(kind: &str) -> Option<&str> {
    match kind {
        "read" | "" => None,
        "estimate" => Some("szacunek"),
        "interpolated" => Some("interpolacja"),
        "installation" => Some("montaż"),
        "removal" => Some("demontaż"),
        other => Some(other),
    }
}

fn readings(c: &mut Canvas, readings: &[MeterReading]) {
    if readings.is_empty() {
        return;
    }
    let rows: Vec<Row> = readings
        .iter()
        .map(|reading| {
            let mut marks = Vec::new();
            if let Some(kind) = register_kind(&reading.from_kind) {
                marks.push(format!("od: {kind}"));
            }
            if let Some(kind) = register_kind(&reading.to_kind) {
                marks.push(format!("do: {kind}"));
            }
            Row {
                cells: vec![
                    format!("{} ({})", reading.serial, purpose(&reading.purpose)),
                    local_date(reading.from_at),
                    polish::m3(reading.from_litres),
                    local_date(reading.to_at),
                    polish::m3(reading.to_litres),
                    polish::m3(reading.litres),
                    marks.join(", "),
                ],
                bold: false,
            }
        })
        .collect();
    c.y -= 8.0;
    c.table(Some("Odczyty liczników"), LEFT, &READING_COLUMNS, &rows);
}

fn notes(c: &mut Canvas, notes: &[String]) {
    if notes.is_empty() {
        return;
    }
    c.y -= 8.0;
    c.section("Uwagi", BODY.leading());
    for note in notes {
        c.paragraph(BODY, LEFT, WIDTH, note);
        c.y -= 2.0;
    }
}

fn footer(page: &mut Content, doc: &InvoiceDocument, number: usize, total: usize) {
    page.set_stroke_rgb(RULE[0], RULE[1], RULE[2])
        .set_line_width(0.5)
        .move_to(LEFT, FOOTER_RULE)
        .line_to(RIGHT, FOOTER_RULE)
        .stroke();
    let mut left = doc.seller.name.clone();
    if let Some(nip) = &doc.seller.nip {
        left.push_str(" · NIP ");
        left.push_str(nip);
    }
    let left = fit(FOOT, &left, WIDTH * 0.55);
    let right = format!(
        "{} nr {} · strona {number} z {total}",
        title(doc),
        doc.number
    );
    let mut bytes = Vec::with_capacity(128);
    page.set_fill_rgb(FOOT.color[0], FOOT.color[1], FOOT.color[2]);
    for (text, x) in [
        (left.as_str(), LEFT),
        (right.as_str(), RIGHT - FOOT.width(&right)),
    ] {
        bytes.clear();
        encode_into(text, &mut bytes);
        page.begin_text()
            .set_font(FOOT.font.resource(), FOOT.size)
            .next_line(r(x), FOOTER_Y)
            .show(Str(&bytes))
            .end_text();
    }
}

// ---------------------------------------------------------------------------------------------
// Text: wrapping and fitting by the fonts' widths.

fn text_width(font: Font, size: f32, text: &str) -> f32 {
    let widths = font.widths();
    let units: u32 = text
        .chars()
        .map(|c| u32::from(widths[usize::from(encode_char(c))]))
        .sum();
    units as f32 * size / 1000.0
}

/// The text cut with an ellipsis to fit `max`.
fn fit(style: Style, text: &str, max: f32) -> String {
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

/// Lines of at most `max` points: breaks at spaces (a no-break space does not break), and
/// inside a word only when the word alone is too long; more than `max_lines` lines are cut,
/// the last ending in an ellipsis.
fn wrap(style: Style, text: &str, max: f32, max_lines: usize) -> Vec<String> {
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
                let cw = text_width(style.font, style.size, ch.encode_utf8(&mut [0; 4]));
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

// ---------------------------------------------------------------------------------------------
// The font encoding: WinAnsi with the Polish letters at codes it does not need.

/// The Polish letters WinAnsiEncoding lacks: their codes and glyph names (for `/Differences`),
/// and the letter each is as wide as. Codes 0x81, 0x8D, 0x8F, 0x90 and 0x9D are undefined in
/// WinAnsi; the others held ƒ † ‡ ˆ ‰ ‹ Œ ˜ ™ › œ.
const POLISH: [(char, u8, &str, u8); 16] = [
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

static HELVETICA_WIDTHS: [u16; 256] = width_table(&HELVETICA_ASCII, false);
static HELVETICA_BOLD_WIDTHS: [u16; 256] = width_table(&HELVETICA_BOLD_ASCII, true);

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

fn encode_into(text: &str, out: &mut Vec<u8>) {
    out.extend(text.chars().map(encode_char));
}

// ---------------------------------------------------------------------------------------------
// The file.

fn assemble(pages: Vec<Content>, title: &str, author: &str, created: DateTime<Utc>) -> Vec<u8> {
    let mut pdf =
        Pdf::with_settings_and_capacity(Settings { pretty: false }, 16 * 1024 * pages.len().max(1));
    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    let regular_id = Ref::new(3);
    let bold_id = Ref::new(4);
    let info_id = Ref::new(5);
    let first_page = 6;
    let page_ids: Vec<Ref> = (0..pages.len())
        .map(|i| Ref::new(first_page + 2 * i as i32))
        .collect();

    pdf.catalog(catalog_id)
        .pages(tree_id)
        .lang(TextStr("pl-PL"));
    pdf.pages(tree_id)
        .kids(page_ids.iter().copied())
        .count(pages.len() as i32);

    for (font_id, base, widths) in [
        (regular_id, Name(b"Helvetica"), &HELVETICA_WIDTHS),
        (bold_id, Name(b"Helvetica-Bold"), &HELVETICA_BOLD_WIDTHS),
    ] {
        let mut font = pdf.type1_font(font_id);
        font.base_font(base)
            .first_char(32)
            .last_char(255)
            .widths(widths[32..].iter().map(|&w| f32::from(w)));
        let mut encoding = font.encoding_custom();
        encoding.base_encoding(Name(b"WinAnsiEncoding"));
        let mut differences = encoding.differences();
        for (_, code, glyph, _) in POLISH {
            differences.consecutive(code, [Name(glyph.as_bytes())]);
        }
    }

    let mut info = pdf.document_info(info_id);
    info.title(TextStr(title))
        .creator(TextStr("eBOK"))
        .producer(TextStr("eBOK (pdf-writer)"))
        .creation_date(pdf_date(created));
    if !author.is_empty() {
        info.author(TextStr(author));
    }
    info.finish();

    let mut hash = Sha256::new();
    hash.update(title.as_bytes());
    for (i, content) in pages.into_iter().enumerate() {
        let page_id = page_ids[i];
        let content_id = Ref::new(page_id.get() + 1);
        let mut page = pdf.page(page_id);
        page.parent(tree_id)
            .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .contents(content_id);
        page.resources()
            .fonts()
            .pair(Font::Regular.resource(), regular_id)
            .pair(Font::Bold.resource(), bold_id);
        page.finish();
        let content = content.finish();
        hash.update(&*content);
        pdf.stream(content_id, &content);
    }

    // The file's ID is a hash of what its pages show: the same for the same document.
    let file_id = hash.finalize()[..16].to_vec();
    pdf.set_file_id((file_id.clone(), file_id));
    pdf.finish()
}

fn pdf_date(at: DateTime<Utc>) -> Date {
    Date::new(at.year().clamp(0, 9999) as u16)
        .month(at.month() as u8)
        .day(at.day() as u8)
        .hour(at.hour() as u8)
        .minute(at.minute() as u8)
        .second(at.second() as u8)
        .utc_offset_hour(0)
        .utc_offset_minute(0)
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

    #[test]
    fn accounts_are_grouped() {
        assert_eq!(
            account("26103019440000000012345678"),
            "26 1030 1944 0000 0000 1234 5678"
        );
        assert_eq!(account("PL12"), "PL12");
    }

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
}
