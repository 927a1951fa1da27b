//! A web session's browser as a resident recognises it: "Chrome na Androidzie", "Safari na
//! iPhonie", "Firefox na Windowsie", from the `User-Agent` it logged in with. Only the browser's
//! family and the system are told (the version and the rest stay in the database); an agent
//! that is not recognised is "przeglądarka internetowa".
//!
//! Written here rather than taken from a user-agent parser: a label needs a dozen substring
//! tests, while the parsers carry a regex database of thousands of devices (uap-core) for
//! analytics this portal does not do.

/// The Polish label of a `User-Agent`.
pub fn browser_name(user_agent: &str) -> String {
    let ua = user_agent;
    let browser = if ua.contains("Edg/") || ua.contains("EdgA/") || ua.contains("EdgiOS/") {
        Some("Edge")
    } else if ua.contains("OPR/") || ua.contains("Opera") {
        Some("Opera")
    } else if ua.contains("SamsungBrowser/") {
        Some("Samsung Internet")
    } else if ua.contains("Firefox/") || ua.contains("FxiOS/") {
        Some("Firefox")
    } else if ua.contains("Chrome/") || ua.contains("CriOS/") || ua.contains("Chromium/") {
        Some("Chrome")
    } else if ua.contains("Safari/") && ua.contains("Version/") {
        Some("Safari")
    } else {
        None
    };
    // Polish locative: "na Androidzie", "na iPhonie" …
    let system = if ua.contains("Android") {
        Some("Androidzie")
    } else if ua.contains("iPhone") {
        Some("iPhonie")
    } else if ua.contains("iPad") {
        Some("iPadzie")
    } else if ua.contains("Windows") {
        Some("Windowsie")
    } else if ua.contains("CrOS") {
        Some("Chromebooku")
    } else if ua.contains("Macintosh") || ua.contains("Mac OS X") {
        Some("Macu")
    } else if ua.contains("Linux") {
        Some("Linuksie")
    } else {
        None
    };
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} na {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => format!("przeglądarka na {s}"),
        (None, None) => "przeglądarka internetowa".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::browser_name;

    #[test]
    fn common_browsers_are_named_with_their_system_in_polish() {
        let cases = [
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome na Androidzie",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari na iPhonie",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox na Windowsie",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge na Windowsie",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                "Safari na Macu",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
                "Samsung Internet na Androidzie",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
                "Chrome na Linuksie",
            ),
            ("curl/8.5.0", "przeglądarka internetowa"),
            ("", "przeglądarka internetowa"),
        ];
        for (ua, name) in cases {
            assert_eq!(browser_name(ua), name, "{ua}");
        }
    }
}
