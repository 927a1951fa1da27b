//! The page's geometry, the house colours and the text styles the documents share. A
//! document's own styles are made with [`Style::new`].

use crate::fonts::{Font, text_width};

// Page geometry (PDF points: 1/72 inch).

/// A4.
pub(crate) const PAGE_W: f32 = 595.276;
pub(crate) const PAGE_H: f32 = 841.89;
/// The left margin.
pub const LEFT: f32 = 42.0;
/// The right margin.
pub const RIGHT: f32 = PAGE_W - 42.0;
/// The width between the margins.
pub const WIDTH: f32 = RIGHT - LEFT;
/// Content starts here.
pub(crate) const TOP: f32 = PAGE_H - 40.0;
/// Content stops here; the footer is below.
pub(crate) const BOTTOM: f32 = 56.0;
pub(crate) const FOOTER_RULE: f32 = 42.0;
pub(crate) const FOOTER_Y: f32 = 31.0;

/// A colour: red, green and blue from 0 to 1.
pub type Rgb = [f32; 3];
/// Text.
pub const INK: Rgb = [0.08, 0.08, 0.1];
/// Labels and small print.
pub const MUTED: Rgb = [0.36, 0.37, 0.4];
/// Titles and what the eye should find first.
pub const ACCENT: Rgb = [0.0, 0.27, 0.52];
/// Rules.
pub(crate) const RULE: Rgb = [0.74, 0.76, 0.79];
/// Tables' headers.
pub(crate) const SHADE: Rgb = [0.925, 0.935, 0.95];
/// Under what matters most (what to pay).
pub const PANEL: Rgb = [0.93, 0.955, 0.98];
/// Under boxes of details (the parties).
pub const BOX: Rgb = [0.965, 0.968, 0.972];

/// How text is set: its font, size (points) and colour.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Style {
    pub font: Font,
    pub size: f32,
    pub color: Rgb,
}

impl Style {
    pub const fn new(font: Font, size: f32, color: Rgb) -> Style {
        Style { font, size, color }
    }

    /// The distance between the baselines of two lines.
    pub fn leading(self) -> f32 {
        self.size * 1.32
    }

    /// The width of `text` in this style, in points.
    pub fn width(self, text: &str) -> f32 {
        text_width(self.font, self.size, text)
    }
}

/// Running text.
pub const BODY: Style = Style::new(Font::Regular, 8.5, INK);
pub const BODY_BOLD: Style = Style::new(Font::Bold, 8.5, INK);
/// A value's label.
pub const LABEL: Style = Style::new(Font::Regular, 8.0, MUTED);
/// A section's title.
pub(crate) const SECTION: Style = Style::new(Font::Bold, 9.5, ACCENT);
/// Tables: cells, bold cells (totals), headers.
pub(crate) const CELL: Style = Style::new(Font::Regular, 8.0, INK);
pub(crate) const CELL_BOLD: Style = Style::new(Font::Bold, 8.0, INK);
pub(crate) const HEAD: Style = Style::new(Font::Bold, 7.0, MUTED);
/// The footer.
pub const FOOT: Style = Style::new(Font::Regular, 7.0, MUTED);
