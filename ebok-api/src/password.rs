//! Password hashing for user accounts: argon2id with the crate's recommended parameters and a
//! fresh random salt per hash, stored as a PHC string (`$argon2id$v=19$m=…`).
//!
//! A hash costs tens of milliseconds of CPU and 19 MiB of memory, on purpose. [`Hasher`] runs
//! them off the async threads and at most a few at once (one per CPU by default): a flood of
//! logins then waits in line for a short while and is turned away (503 with `Retry-After`)
//! instead of queueing without bound and starving every other request.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};
use tokio::sync::Semaphore;

/// Longest password accepted anywhere, in bytes (128 characters of up to four bytes): longer
/// input is refused before it is hashed.
pub const MAX_PASSWORD_BYTES: usize = 512;

/// Why a hash was not computed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("too many password checks at once")]
    Busy { retry_after: Duration },
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Hashes and verifies passwords on the blocking pool, `concurrency` at a time; a caller waits
/// at most `max_wait` for a turn. Cloning shares the limit.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    max_wait: Duration,
}

impl Hasher {
    /// `concurrency` 0 means one per CPU.
    pub fn new(concurrency: usize, max_wait: Duration) -> Hasher {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            concurrency
        };
        Hasher {
            permits: Arc::new(Semaphore::new(concurrency)),
            max_wait,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = tokio::time::timeout(self.max_wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| {
                metrics::counter!("password_hashing_refused_total").increment(1);
                HashError::Busy {
                    retry_after: Duration::from_secs(2),
                }
            })?
            .expect("the semaphore is never closed");
        let result = tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .map_err(|e| anyhow::anyhow!("password hashing task: {e}"))?;
        Ok(result)
    }

    /// The PHC string of `password`.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = password.to_string();
        Ok(self.run(move || hash(&password)).await??)
    }

    /// Whether `password` matches the stored PHC string.
    pub async fn verify(&self, password: &str, stored: String) -> Result<bool, HashError> {
        let password = password.to_string();
        self.run(move || verify(&password, &stored)).await
    }
}

impl Default for Hasher {
    fn default() -> Self {
        Hasher::new(0, Duration::from_secs(2))
    }
}

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

    #[tokio::test]
    async fn a_caller_that_waits_too_long_for_a_turn_is_told_to_come_back() {
        let hasher = Hasher::new(1, Duration::from_millis(50));
        let held = hasher.permits.clone().acquire_owned().await.unwrap();
        match hasher.hash("zażółć gęślą jaźń").await {
            Err(HashError::Busy { retry_after }) => assert!(retry_after >= Duration::from_secs(1)),
            other => panic!("{other:?}"),
        }
        drop(held);
        let stored = hasher.hash("zażółć gęślą jaźń").await.unwrap();
        assert!(hasher.verify("zażółć gęślą jaźń", stored).await.unwrap());
    }
}
