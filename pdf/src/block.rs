//! Blocks: lines of text measured before they are drawn, so a background can go under them or
//! two blocks can stand side by side and the cursor go below the longer.

use crate::canvas::Canvas;
use crate::style::{LABEL, Style};
use crate::text::wrap;

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

/// Lines of text, each with an optional value on its baseline, and gaps between them.
#[derive(Default)]
pub struct Block {
    lines: Vec<BlockLine>,
}

impl Block {
    /// A line of text.
    pub fn line(&mut self, style: Style, text: impl Into<String>) -> &mut Self {
        self.lines.push(BlockLine {
            style,
            text: text.into(),
            gap: 0.0,
            value: None,
            inline: false,
        });
        self
    }

    /// `text` wrapped to `width`, in at most `max_lines` lines.
    pub fn wrapped(&mut self, style: Style, text: &str, width: f32, max_lines: usize) -> &mut Self {
        for line in wrap(style, text, width, max_lines) {
            self.line(style, line);
        }
        self
    }

    /// A label and its value, right-aligned.
    pub fn pair(&mut self, label: &str, value_style: Style, value: impl Into<String>) -> &mut Self {
        self.labelled(LABEL, label, value_style, value, false)
    }

    /// A label in `style` and its value: right-aligned, or right after the label when `inline`.
    pub fn labelled(
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
    pub fn gap(&mut self, gap: f32) -> &mut Self {
        self.lines.push(BlockLine {
            style: LABEL,
            text: String::new(),
            gap,
            value: None,
            inline: false,
        });
        self
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
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

    /// The height the block takes.
    pub fn height(&self) -> f32 {
        self.lines.iter().map(Block::line_height).sum()
    }

    /// Draws the block from `top` down, `width` wide from `x` (no page breaks: the caller made
    /// room); returns its bottom.
    pub fn draw(&self, c: &mut Canvas, x: f32, width: f32, top: f32) -> f32 {
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
