//! The drawing surface: pages of content, a cursor going down them, page breaks with a running
//! head on continuation pages, text, rules, rectangles, wrapped paragraphs, section titles, QR
//! codes, and the footers put on every page once the number of pages is known.

use pdf_writer::{Content, Settings, Str};
use qrcode::{Color, QrCode};

use crate::fonts::encode_into;
use crate::style::{
    BODY_BOLD, BOTTOM, FOOT, FOOTER_RULE, FOOTER_Y, INK, LABEL, LEFT, RIGHT, RULE, Rgb, SECTION,
    Style, TOP, WIDTH,
};
use crate::text::{fit, wrap};

/// Printed at the right of a continuation page's running head.
const CONTINUED: &str = "ciąg dalszy";

/// Rounded to a hundredth of a point: enough for print, and short in the content stream.
pub(crate) fn r(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

/// A finished page, footer included, for [`assemble`](crate::assemble).
pub struct Page(pub(crate) Content);

/// Pages being drawn, top down. `y` is the cursor: the top of the free space on the current
/// page; drawing at the cursor moves it down, drawing at given coordinates does not.
pub struct Canvas {
    pages: Vec<Content>,
    /// The top of the free space on the current page.
    pub y: f32,
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
    /// A first page with the cursor at its top; `running_head` (cut to fit) heads the pages
    /// after it.
    pub fn new(running_head: &str) -> Canvas {
        let room = WIDTH - LABEL.width(CONTINUED) - 12.0;
        Canvas {
            pages: vec![new_content()],
            y: TOP,
            fill: None,
            running_head: fit(BODY_BOLD, running_head, room),
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
        self.text_right(LABEL, RIGHT, TOP - 8.0, CONTINUED);
        self.running_head = head;
        self.rule(LEFT, RIGHT, TOP - 14.0, 0.5);
        self.y = TOP - 26.0;
    }

    /// Starts a new page unless `height` fits above the bottom margin; true when it did.
    pub fn ensure(&mut self, height: f32) -> bool {
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
    pub fn text(&mut self, style: Style, x: f32, y: f32, text: &str) {
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

    /// `text` ending at `right`.
    pub fn text_right(&mut self, style: Style, right: f32, y: f32, text: &str) {
        self.text(style, right - style.width(text), y, text);
    }

    /// `text` centred on `center`.
    pub fn text_center(&mut self, style: Style, center: f32, y: f32, text: &str) {
        self.text(style, center - style.width(text) / 2.0, y, text);
    }

    /// A filled rectangle; (`x`, `y`) is its bottom left corner.
    pub fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        self.set_fill(color);
        self.page().rect(r(x), r(y), r(w), r(h)).fill_nonzero();
    }

    /// A horizontal rule `width` points thick.
    pub(crate) fn rule(&mut self, x1: f32, x2: f32, y: f32, width: f32) {
        self.page()
            .set_stroke_rgb(RULE[0], RULE[1], RULE[2])
            .set_line_width(width)
            .move_to(r(x1), r(y))
            .line_to(r(x2), r(y))
            .stroke();
    }

    /// A wrapped paragraph at the cursor, breaking pages between lines.
    pub fn paragraph(&mut self, style: Style, x: f32, width: f32, text: &str) {
        for line in wrap(style, text, width, usize::MAX) {
            self.ensure(style.leading());
            self.y -= style.leading();
            self.text(style, x, self.y + style.size * 0.3, &line);
        }
    }

    /// A section's title, kept with the `following` height after it.
    pub fn section(&mut self, title: &str, following: f32) {
        self.heading(SECTION, title, following);
    }

    /// A title in `style` at the cursor, kept with the `following` height after it.
    pub(crate) fn heading(&mut self, style: Style, title: &str, following: f32) {
        self.ensure(style.leading() + 4.0 + following);
        self.y -= style.leading();
        self.text(style, LEFT, self.y + 2.0, title);
        self.y -= 4.0;
    }

    /// A QR code of `data`, `size` points square, its top left corner at (`x`, `top`): the dark
    /// modules as filled rectangles, one per horizontal run, in one path (no seams between
    /// modules), drawn in module units so the coordinates are small integers. The code's quiet
    /// zone (white paper around it) is the caller's to leave.
    pub fn qr(&mut self, data: &str, x: f32, top: f32, size: f32) {
        let Ok(code) = QrCode::new(data.as_bytes()) else {
            self.text_center(LABEL, x + size / 2.0, top - size / 2.0, "(kod niedostępny)");
            return;
        };
        let width = code.width();
        let colors = code.to_colors();
        let module = size / width as f32;
        self.set_fill(INK);
        let page = self.page();
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

    /// The pages, each with its footer under a rule: `left` at the left margin, and
    /// `right(number, total)` ending at the right one (the page's number from 1, and how many
    /// pages there are).
    pub fn finish(self, left: &str, right: impl Fn(usize, usize) -> String) -> Vec<Page> {
        let total = self.pages.len();
        let mut bytes = Vec::with_capacity(128);
        self.pages
            .into_iter()
            .enumerate()
            .map(|(index, mut page)| {
                let right = right(index + 1, total);
                page.set_stroke_rgb(RULE[0], RULE[1], RULE[2])
                    .set_line_width(0.5)
                    .move_to(LEFT, FOOTER_RULE)
                    .line_to(RIGHT, FOOTER_RULE)
                    .stroke();
                page.set_fill_rgb(FOOT.color[0], FOOT.color[1], FOOT.color[2]);
                for (text, x) in [(left, LEFT), (right.as_str(), RIGHT - FOOT.width(&right))] {
                    bytes.clear();
                    encode_into(text, &mut bytes);
                    page.begin_text()
                        .set_font(FOOT.font.resource(), FOOT.size)
                        .next_line(r(x), FOOTER_Y)
                        .show(Str(&bytes))
                        .end_text();
                }
                Page(page)
            })
            .collect()
    }
}
