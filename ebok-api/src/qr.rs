//! QR codes drawn as inline SVG (no images, no scripts: the Content-Security-Policy allows
//! them), with a role and a name for screen readers.

/// `text` as a QR code of at least `size` pixels, named `label`; `None` when it does not fit
/// a QR code.
pub fn svg(text: &str, label: &str, size: u32) -> Option<String> {
    let code =
        qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(size, size)
        .quiet_zone(true)
        .build();
    // Drop the XML declaration; give the picture a role and a name.
    let start = svg.find("<svg").unwrap_or(0);
    let label = label
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    Some(svg[start..].replacen(
        "<svg",
        &format!(r#"<svg role="img" aria-label="{label}""#),
        1,
    ))
}
