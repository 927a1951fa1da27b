//! The file: catalog, page tree, the two fonts with their encoding and widths, the document's
//! information and the pages, in bytes that depend on nothing but the document.

use chrono::{DateTime, Datelike, Timelike, Utc};
use pdf_writer::{Date, Finish, Name, Pdf, Rect, Ref, Settings, TextStr};
use sha2::{Digest, Sha256};

use crate::canvas::Page;
use crate::fonts::{Font, HELVETICA_BOLD_WIDTHS, HELVETICA_WIDTHS, POLISH};
use crate::style::{PAGE_H, PAGE_W};

/// The PDF of `pages` (in Polish), with its `title`, `author` (left out when empty) and
/// `created` as its CreationDate; the file ID is a hash of the title and the pages' content.
pub fn assemble(pages: Vec<Page>, title: &str, author: &str, created: DateTime<Utc>) -> Vec<u8> {
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
    for (i, Page(content)) in pages.into_iter().enumerate() {
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
