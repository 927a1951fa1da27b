//! Tables: columns with a header, rows whose left-aligned cells wrap; a short table is kept on
//! one page, a long one breaks between rows and repeats its header on every page.

use crate::canvas::Canvas;
use crate::style::{CELL, CELL_BOLD, HEAD, SHADE, Style};
use crate::text::wrap;

/// How a column's cells are aligned. Left-aligned cells wrap; the others are numbers and dates
/// and stay on one line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Align {
    Left,
    Right,
    Center,
}

/// A table's column.
pub struct Column {
    /// Lines of the header separated by '\n'.
    pub title: &'static str,
    pub width: f32,
    pub align: Align,
}

/// A [`Column`], short enough for a `const` table of them.
pub const fn col(title: &'static str, width: f32, align: Align) -> Column {
    Column {
        title,
        width,
        align,
    }
}

/// A table's row: a cell per column, all bold (a total) or not.
pub struct Row {
    pub cells: Vec<String>,
    pub bold: bool,
}

const PAD_X: f32 = 4.0;
const PAD_Y: f32 = 3.2;
/// Tables up to this height are not split between pages.
const KEEP_TOGETHER: f32 = 160.0;
/// Lines a wrapped cell may take before it is cut with an ellipsis.
const MAX_CELL_LINES: usize = 4;

fn header_height(cols: &[Column]) -> f32 {
    let lines = cols
        .iter()
        .map(|c| c.title.split('\n').count())
        .max()
        .unwrap_or(1);
    lines as f32 * HEAD.leading() + 2.0 * PAD_Y - (HEAD.leading() - HEAD.size) + 1.0
}

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

    /// A table at the cursor, from `x`, under a section `title` if given; its header is
    /// repeated on every page it continues on.
    pub fn table(&mut self, title: Option<&str>, x: f32, cols: &[Column], rows: &[Row]) {
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
