//! Mosquitto's password hashes, as `mosquitto_passwd` writes them into a password file
//! (`user:$7$<iterations>$<base64 salt>$<base64 hash>`): PBKDF2-HMAC-SHA512 of the password with
//! a 12-byte random salt, 64 bytes of output, standard base64 with padding. Mosquitto 2.0.11
//! reads exactly this (`src/security_default.c`, `unpwd__decode_passwords`: salt must decode to
//! 12 bytes, hash to 64) and compares in constant time.
//!
//! The iteration count is `mosquitto_passwd`'s default, 101. The broker computes the hash on
//! every CONNECT, so a high count costs every gateway's (re)connection; it would buy nothing
//! here, because the passwords are generated with about 190 bits of entropy ([`generate_password`])
//! and stretching protects only guessable ones.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::Sha512;

/// `mosquitto_passwd`'s default iteration count.
pub const ITERATIONS: u32 = 101;
const SALT_LEN: usize = 12;
const HASH_LEN: usize = 64;

/// A password hash in Mosquitto's `$7$` form. Its `Display` is the part after `user:`.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    iterations: u32,
    salt: [u8; SALT_LEN],
    hash: [u8; HASH_LEN],
}

/// Why a `$7$…` string is not a usable hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    #[error("not a Mosquitto $7$ (PBKDF2-SHA512) password hash")]
    NotPbkdf2,
    #[error("the iteration count is not a positive number")]
    Iterations,
    #[error("the salt is not 12 bytes of base64")]
    Salt,
    #[error("the hash is not 64 bytes of base64")]
    Hash,
}

impl PasswordHash {
    /// Hashes `password` with a fresh random salt.
    pub fn new(password: &str) -> PasswordHash {
        PasswordHash::with_salt(password, rand::random(), ITERATIONS)
    }

    /// Hashes `password` with a given salt and iteration count (tests, known vectors).
    pub fn with_salt(password: &str, salt: [u8; SALT_LEN], iterations: u32) -> PasswordHash {
        let mut hash = [0u8; HASH_LEN];
        pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), &salt, iterations, &mut hash);
        PasswordHash {
            iterations,
            salt,
            hash,
        }
    }

    /// Whether `password` is the one hashed, compared in constant time as Mosquitto does.
    pub fn verify(&self, password: &str) -> bool {
        let other = PasswordHash::with_salt(password, self.salt, self.iterations);
        self.hash
            .iter()
            .zip(other.hash.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// Reads `$7$<iterations>$<salt>$<hash>`.
    pub fn parse(text: &str) -> Result<PasswordHash, HashError> {
        let mut parts = text.trim().split('$');
        if parts.next() != Some("") || parts.next() != Some("7") {
            return Err(HashError::NotPbkdf2);
        }
        let iterations: u32 = parts
            .next()
            .and_then(|i| i.parse().ok())
            .filter(|i| *i > 0)
            .ok_or(HashError::Iterations)?;
        let salt = parts
            .next()
            .and_then(|s| STANDARD.decode(s).ok())
            .and_then(|s| <[u8; SALT_LEN]>::try_from(s).ok())
            .ok_or(HashError::Salt)?;
        let hash = parts
            .next()
            .and_then(|h| STANDARD.decode(h).ok())
            .and_then(|h| <[u8; HASH_LEN]>::try_from(h).ok())
            .ok_or(HashError::Hash)?;
        if parts.next().is_some() {
            return Err(HashError::Hash);
        }
        Ok(PasswordHash {
            iterations,
            salt,
            hash,
        })
    }
}

impl fmt::Display for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "$7${}${}${}",
            self.iterations,
            STANDARD.encode(self.salt),
            STANDARD.encode(self.hash)
        )
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PasswordHash({self})")
    }
}

/// A new random password: 32 letters and digits (about 190 bits), safe in a URL and a shell.
pub fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..32)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Made by Debian's `mosquitto_passwd` 2.0.11: `mosquitto_passwd -c -b pw gw-test 'Sekret-Ąą 123'`.
    const FROM_MOSQUITTO_PASSWD: &str = "$7$101$Z4Rl0Gilhd6Yx8AV$ySmWsG0RrVA0eus9H7gCjFzYNfb7iK9i7iOwyhhujvzkm0Gc9pb+YxHQ7qkUL2OpLbANBh7ip0xGc9YqrQ9bmA==";

    #[test]
    fn a_hash_made_by_mosquitto_passwd_verifies_its_password_only() {
        let hash = PasswordHash::parse(FROM_MOSQUITTO_PASSWD).unwrap();
        assert!(hash.verify("Sekret-Ąą 123"));
        assert!(!hash.verify("Sekret-Ąą 124"));
        assert!(!hash.verify(""));
    }

    #[test]
    fn hashing_with_mosquitto_passwds_salt_gives_its_exact_line() {
        let theirs = PasswordHash::parse(FROM_MOSQUITTO_PASSWD).unwrap();
        let ours = PasswordHash::with_salt("Sekret-Ąą 123", theirs.salt, 101);
        assert_eq!(ours.to_string(), FROM_MOSQUITTO_PASSWD);
    }

    #[test]
    fn a_new_hash_has_mosquittos_shape_and_a_fresh_salt() {
        let a = PasswordHash::new("x");
        let b = PasswordHash::new("x");
        assert_ne!(a, b, "each hash has its own salt");
        let text = a.to_string();
        let parts: Vec<&str> = text.split('$').collect();
        assert_eq!(parts[..3], ["", "7", "101"]);
        assert_eq!(parts[3].len(), 16, "12 bytes of salt in base64");
        assert_eq!(parts[4].len(), 88, "64 bytes of hash in base64, padded");
    }

    #[test]
    fn other_hash_kinds_and_broken_fields_are_refused_with_a_reason() {
        assert_eq!(PasswordHash::parse("$6$abc$def"), Err(HashError::NotPbkdf2));
        assert_eq!(PasswordHash::parse("plain"), Err(HashError::NotPbkdf2));
        assert_eq!(
            PasswordHash::parse("$7$0$Z4Rl0Gilhd6Yx8AV$x"),
            Err(HashError::Iterations)
        );
        assert_eq!(
            PasswordHash::parse("$7$101$c2FsdA==$x"),
            Err(HashError::Salt)
        );
        assert_eq!(
            PasswordHash::parse("$7$101$Z4Rl0Gilhd6Yx8AV$c2hvcnQ="),
            Err(HashError::Hash)
        );
    }

    #[test]
    fn generated_passwords_are_long_distinct_and_plain() {
        let a = generate_password();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, generate_password());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn a_hash_reads_back_from_its_text_and_verifies(password in ".{0,40}", salt in any::<[u8; 12]>()) {
            let hash = PasswordHash::with_salt(&password, salt, ITERATIONS);
            let back = PasswordHash::parse(&hash.to_string()).unwrap();
            prop_assert_eq!(&back, &hash);
            prop_assert!(back.verify(&password));
            let other = format!("{password}x");
            prop_assert!(!back.verify(&other));
        }
    }
}
