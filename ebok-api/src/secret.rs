//! Secrets handed to clients (session cookies, refresh tokens, e-mailed links, customer link
//! codes): 256 random bits from the operating system's generator, URL-safe base64; the database
//! keeps only their SHA-256, so a copy of it cannot be replayed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use sha2::{Digest, Sha256};

/// A fresh random token (43 characters).
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// `N` bytes from the operating system's generator.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random generator works");
    bytes
}

/// What the database stores for `token`.
pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A code a person types from paper: 12 characters from an alphabet without look-alikes
/// (no 0/O, 1/I/L), in groups of four (`K7MX-2QPD-9RTA`), about 59 bits.
pub fn new_typed_code() -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let bytes = random_bytes::<12>();
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A typed code as stored: upper-cased, separators and spaces dropped, then hashed.
pub fn typed_code_digest(code: &str) -> Vec<u8> {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    digest(&normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_url_safe_and_distinct() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(digest(&a).len(), 32);
    }

    #[test]
    fn typed_codes_match_however_they_are_typed() {
        let code = new_typed_code();
        assert_eq!(code.len(), 14);
        let sloppy = code.replace('-', " ").to_lowercase();
        assert_eq!(typed_code_digest(&code), typed_code_digest(&sloppy));
        assert!(!code.contains(['0', 'O', '1', 'I', 'L']));
    }
}
