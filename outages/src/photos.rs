//! Photos of a failure report: told by their content (JPEG, PNG or WebP, whatever the name
//! says), limited in size, and stripped of their metadata before anyone else sees them — a
//! phone's photo carries where it was taken (EXIF GPS), the device, the time, sometimes the
//! owner's name. The image data itself is kept byte for byte; only the containers' metadata
//! parts go: JPEG APP1–APP15 segments (EXIF, XMP, ICC, maker notes) and comments; PNG text,
//! EXIF and time chunks; WebP EXIF and XMP chunks. The containers are read with `img-parts`.

use img_parts::Bytes;
use img_parts::jpeg::Jpeg;
use img_parts::png::Png;
use img_parts::webp::WebP;

/// The largest photo taken (a phone's full-size JPEG fits).
pub const MAX_BYTES: usize = 8 * 1024 * 1024;
/// Photos one report carries.
pub const MAX_PHOTOS: usize = 5;

/// A photo fit to show: its type and its bytes without metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanPhoto {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// Why a photo was refused, in Polish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PhotoRefused(pub String);

/// The photo `bytes` without its metadata, or why it is refused.
pub fn clean(bytes: &[u8]) -> Result<CleanPhoto, PhotoRefused> {
    if bytes.len() > MAX_BYTES {
        return Err(PhotoRefused(format!(
            "Zdjęcie może mieć najwyżej {} MB.",
            MAX_BYTES / (1024 * 1024)
        )));
    }
    let unreadable = || PhotoRefused("To nie jest zdjęcie JPEG, PNG ani WebP.".into());
    let data = Bytes::copy_from_slice(bytes);
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        let mut jpeg = Jpeg::from_bytes(data).map_err(|_| unreadable())?;
        // APPn (0xE1–0xEF) and COM (0xFE); APP0 (JFIF) says only how to read the pixels.
        jpeg.segments_mut()
            .retain(|s| !matches!(s.marker(), 0xE1..=0xEF | 0xFE));
        return Ok(CleanPhoto {
            content_type: "image/jpeg",
            bytes: jpeg.encoder().bytes().to_vec(),
        });
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        let mut png = Png::from_bytes(data).map_err(|_| unreadable())?;
        for kind in [*b"tEXt", *b"zTXt", *b"iTXt", *b"eXIf", *b"tIME"] {
            png.remove_chunks_by_type(kind);
        }
        return Ok(CleanPhoto {
            content_type: "image/png",
            bytes: png.encoder().bytes().to_vec(),
        });
    }
    if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        let mut webp = WebP::from_bytes(data).map_err(|_| unreadable())?;
        for id in [*b"EXIF", *b"XMP "] {
            webp.remove_chunks_by_id(id);
        }
        return Ok(CleanPhoto {
            content_type: "image/webp",
            bytes: webp.encoder().bytes().to_vec(),
        });
    }
    Err(unreadable())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JPEG's bytes: SOI, the given segments, a scan with `scan` as its data, EOI.
    fn jpeg(segments: &[(u8, &[u8])], scan: &[u8]) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8];
        for (marker, contents) in segments {
            out.extend([0xFF, *marker]);
            out.extend(((contents.len() + 2) as u16).to_be_bytes());
            out.extend(*contents);
        }
        // SOS with one component.
        out.extend([0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]);
        out.extend(scan);
        out.extend([0xFF, 0xD9]);
        out
    }

    fn png(chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, contents) in chunks {
            out.extend((contents.len() as u32).to_be_bytes());
            out.extend(kind.as_slice());
            out.extend(*contents);
            let mut crc = crc32(kind.as_slice());
            crc = crc32_update(crc, contents);
            out.extend((!crc).to_be_bytes());
        }
        out
    }

    fn crc32(bytes: &[u8]) -> u32 {
        crc32_update(0xFFFF_FFFF, bytes)
    }

    fn crc32_update(mut crc: u32, bytes: &[u8]) -> u32 {
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        crc
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn a_jpeg_loses_its_exif_location_and_comments_and_keeps_its_picture() {
        let exif = b"Exif\0\0GPSLatitude 54.1953 GPSLongitude 19.7189";
        let picture = [0x12, 0x34, 0x56, 0x78, 0x9A];
        let original = jpeg(
            &[
                (0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"),
                (0xE1, exif),
                (0xFE, b"Jan Kowalski's phone"),
                (0xDB, &[0u8; 65]),
            ],
            &picture,
        );
        let clean = clean(&original).unwrap();
        assert_eq!(clean.content_type, "image/jpeg");
        assert!(contains(&original, b"GPSLatitude") && !contains(&clean.bytes, b"GPSLatitude"));
        assert!(!contains(&clean.bytes, b"Kowalski"));
        assert!(contains(&clean.bytes, b"JFIF") && contains(&clean.bytes, &picture));
        assert!(clean.bytes.starts_with(&[0xFF, 0xD8]) && clean.bytes.ends_with(&[0xFF, 0xD9]));
        // Cleaning again changes nothing.
        assert_eq!(super::clean(&clean.bytes).unwrap(), clean);
    }

    #[test]
    fn a_png_loses_its_text_and_exif_chunks() {
        let ihdr = [0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0];
        let original = png(&[
            (b"IHDR", &ihdr),
            (b"tEXt", b"Author\0Jan Kowalski"),
            (b"eXIf", b"MM\0*GPS 54.19"),
            (
                b"IDAT",
                &[0x78, 0x9C, 0x63, 0x60, 0x60, 0x60, 0, 0, 0, 4, 0, 1],
            ),
            (b"IEND", b""),
        ]);
        let clean = clean(&original).unwrap();
        assert_eq!(clean.content_type, "image/png");
        assert!(!contains(&clean.bytes, b"Kowalski") && !contains(&clean.bytes, b"GPS"));
        assert!(contains(&clean.bytes, b"IDAT") && contains(&clean.bytes, b"IHDR"));
    }

    #[test]
    fn what_is_not_a_photo_or_too_big_is_refused_in_polish() {
        assert!(
            clean(b"%PDF-1.7 not a photo")
                .unwrap_err()
                .0
                .contains("JPEG, PNG ani WebP")
        );
        assert!(clean(&[0xFF, 0xD8, 0xFF, 0x00]).is_err());
        let big = vec![0u8; MAX_BYTES + 1];
        assert!(clean(&big).unwrap_err().0.contains("8 MB"));
    }
}
