//! Password hashing for user accounts: argon2id with the crate's recommended parameters and a
//! fresh random salt per hash, stored as a PHC string (`$argon2id$v=19$m=…`).

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};

/// A valid hash of a random password, verified against when an address has no account, so a
/// login for an unknown address costs as much time as one for a known address.
pub static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    hash(&crate::secret::new_token()).expect("hashing a random password")
});

/// The PHC string of `password`.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC string. A malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let stored = hash("zażółć gęślą jaźń").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("zażółć gęślą jaźń", &stored));
        assert!(!verify("zazolc gesla jazn", &stored));
    }

    #[test]
    fn two_hashes_of_one_password_differ_by_salt() {
        assert_ne!(hash("hasło").unwrap(), hash("hasło").unwrap());
    }

    #[test]
    fn malformed_stored_hash_never_matches() {
        assert!(!verify("", "not a phc string"));
    }
}
