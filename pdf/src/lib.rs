//! A4 documents in Polish as PDF, for people: the machinery the invoice (`ebok-billing`) and the
//! cases' letters ([`letter`]) are laid out with. It owns the fonts and their encoding, the
//! widths text is measured with ([`Style`], [`fit`]), a drawing surface that goes down pages and
//! breaks them ([`Canvas`]), blocks of lines measured before they are drawn ([`Block`]), tables
//! whose header repeats on every page ([`Column`], [`Row`]), QR codes ([`Canvas::qr`]) and the
//! file itself ([`assemble`]). What a document says and where is its renderer's.
//!
//! # Fonts: no embedded font, on purpose
//!
//! The text is set in Helvetica and Helvetica-Bold, two of the PDF's standard 14 fonts, which
//! every viewer and printer supplies itself, so nothing is embedded. An embedded TrueType font
//! (subset or not) would add tens of kilobytes to every document, multiplied by every customer
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
//! codes of the 0x80–0x9F range that WinAnsi leaves undefined or gives to characters a document
//! never prints (dagger, per mille, OE, …) are the 16 Polish letters not in WinAnsi (`POLISH`
//! in `fonts.rs`). The names are the standard glyph names, so viewers map the letters back to
//! Unicode when text is searched or copied, and `pdftotext` reads the documents back (the tests
//! of both renderers do).
//!
//! Right-aligned amounts and wrapped names need the width of text: `HELVETICA_ASCII` and
//! `HELVETICA_BOLD_ASCII` are the AFM widths of printable ASCII, every accented letter is as
//! wide as its base letter in these fonts (`LETTERS`), and the few other characters printed
//! have their own (`SYMBOLS`). The same widths are written into the font dictionaries, so a
//! viewer that substitutes another font still lines the columns up. A character outside these
//! tables prints as `?`.
//!
//! # Speed and determinism
//!
//! Streams are left uncompressed (the text is short; compressing would cost more time than it
//! saves bytes) and objects are written without pretty-printing. Nothing depends on the clock:
//! the document's `CreationDate` is given by the caller (an invoice's `created_at`, a letter's
//! `created`) and the file ID is a hash of the title and the pages' content, so the same
//! document gives the same bytes.

mod assemble;
mod block;
mod canvas;
mod fonts;
pub mod letter;
mod style;
mod table;
mod text;

pub use assemble::assemble;
pub use block::Block;
pub use canvas::{Canvas, Page};
pub use fonts::Font;
pub use style::{
    ACCENT, BODY, BODY_BOLD, BOX, FOOT, INK, LABEL, LEFT, MUTED, PANEL, RIGHT, Rgb, Style, WIDTH,
};
pub use table::{Align, Column, Row, col};
pub use text::fit;
