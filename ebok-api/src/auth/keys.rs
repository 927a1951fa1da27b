//! The keys that sign and check the mobile app's access tokens (HS256 JWTs). They live in a key
//! file, not in the database, so that a copy of the database (a backup, a replica, a reporting
//! dump) cannot mint tokens. The file is readable by its owner only (mode 0600; a file others may
//! read is refused), one key a line:
//!
//! ```text
//! # kid        key (base64url, 64 bytes)   created               retired
//! k1733351234  3q2-7wW8…                   2026-12-04T22:00:00Z
//! k1730450000  Zm9vYmFy…                   2026-11-01T08:00:00Z  2026-12-04T22:00:00Z
//! ```
//!
//! The first key that is not retired signs; every token names its key in its header (`kid`).
//! A retired key still checks the tokens it signed until they have expired — [`ACCESS_TTL_SECS`]
//! after its retirement, plus [`RELOAD_EVERY`] for a process that has not yet noticed the
//! rotation and still signs with it — and then nothing. `ebok token-keys rotate` adds a key and
//! retires the others (`--revoke`: drops them at once; every app then refreshes its token).
//!
//! Each process re-reads the file when it changes (checked every [`RELOAD_EVERY`]) and at once,
//! at most once a second, when a token names a key it does not know. Several API processes of
//! one installation share the file (the operator distributes it like a TLS key).
//!
//! [`KeyRing`] is the file's content and the rules above, without I/O; [`Keys`] is the loaded
//! ring of a running process.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

use ebok_common::private_file;

use super::app::{ACCESS_TTL_SECS, Claims, Verified};
use crate::secret;

/// How often a process looks at the key file for changes.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);
/// Bytes of a generated key (HS256 wants at least 32).
const KEY_BYTES: usize = 64;
const MIN_KEY_BYTES: usize = 32;

/// Why a key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{path}: line {line}: {problem}")]
    Malformed {
        path: String,
        line: usize,
        problem: String,
    },
    #[error(
        "{path} does not exist: create it with `ebok token-keys show` and give every API server \
         of the installation the same file"
    )]
    Missing { path: String },
    #[error("{path}: no key that may sign (every key is retired)")]
    NoSigningKey { path: String },
    #[error(
        "{path} may be read by other users (mode {mode:o}); it holds the keys that sign access \
         tokens: `chmod 600 {path}`"
    )]
    Exposed { path: String, mode: u32 },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// One key of the ring.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    pub kid: String,
    secret: Vec<u8>,
    pub created: DateTime<Utc>,
    pub retired: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("created", &self.created)
            .field("retired", &self.retired)
            .finish_non_exhaustive()
    }
}

impl Key {
    fn generate(now: DateTime<Utc>) -> Key {
        Key {
            // Seconds make kids unique for rotations a second apart or more; the random suffix
            // for the rest.
            kid: format!(
                "k{}{}",
                now.timestamp(),
                &URL_SAFE_NO_PAD.encode(secret::random_bytes::<3>())
            ),
            secret: secret::random_bytes::<KEY_BYTES>().to_vec(),
            created: now,
            retired: None,
        }
    }

    /// Whether a token this key signed may still be accepted at `now`.
    fn accepts_at(&self, now: DateTime<Utc>) -> bool {
        match self.retired {
            None => true,
            Some(retired) => now < retired + grace(),
        }
    }
}

/// How long after its retirement a key still checks tokens.
fn grace() -> chrono::Duration {
    chrono::Duration::seconds(ACCESS_TTL_SECS)
        + chrono::Duration::from_std(RELOAD_EVERY).expect("small")
}

/// The keys of a key file, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRing {
    keys: Vec<Key>,
}

impl KeyRing {
    /// A ring of one fresh key.
    pub fn generate(now: DateTime<Utc>) -> KeyRing {
        KeyRing {
            keys: vec![Key::generate(now)],
        }
    }

    /// A fresh key in front; the others retired now (or, with `revoke`, dropped), and keys
    /// retired so long ago that they check nothing any more dropped too.
    pub fn rotated(&self, now: DateTime<Utc>, revoke: bool) -> KeyRing {
        let mut keys = vec![Key::generate(now)];
        if !revoke {
            keys.extend(self.keys.iter().filter(|k| k.accepts_at(now)).map(|k| Key {
                retired: Some(k.retired.unwrap_or(now)),
                ..k.clone()
            }));
        }
        KeyRing { keys }
    }

    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The key that signs: the first that is not retired.
    pub fn signing(&self) -> Option<&Key> {
        self.keys.iter().find(|k| k.retired.is_none())
    }

    /// The key named `kid`, if it may check a token at `now`.
    pub fn checking(&self, kid: &str, now: DateTime<Utc>) -> Option<&Key> {
        self.keys
            .iter()
            .find(|k| k.kid == kid)
            .filter(|k| k.accepts_at(now))
    }

    /// Reads a key file's text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<KeyRing, KeyFileError> {
        let mut keys: Vec<Key> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |problem: String| KeyFileError::Malformed {
                path: path.to_string(),
                line: n + 1,
                problem,
            };
            let fields: Vec<&str> = line.split_whitespace().collect();
            if !(3..=4).contains(&fields.len()) {
                return Err(bad(format!(
                    "expected `kid key created [retired]`, found {} fields",
                    fields.len()
                )));
            }
            let kid = fields[0];
            if kid.len() > 64
                || !kid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(bad(format!("kid {kid:?}: letters, digits, - and _ only")));
            }
            if keys.iter().any(|k| k.kid == kid) {
                return Err(bad(format!("kid {kid:?} appears twice")));
            }
            let secret = URL_SAFE_NO_PAD
                .decode(fields[1])
                .map_err(|e| bad(format!("the key is not base64url: {e}")))?;
            if secret.len() < MIN_KEY_BYTES {
                return Err(bad(format!(
                    "the key has {} bytes; at least {MIN_KEY_BYTES} are needed",
                    secret.len()
                )));
            }
            let instant = |s: &str| {
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| bad(format!("{s:?} is not an RFC 3339 instant: {e}")))
            };
            keys.push(Key {
                kid: kid.to_string(),
                secret,
                created: instant(fields[2])?,
                retired: fields.get(3).map(|s| instant(s)).transpose()?,
            });
        }
        let ring = KeyRing { keys };
        if ring.signing().is_none() {
            return Err(KeyFileError::NoSigningKey {
                path: path.to_string(),
            });
        }
        Ok(ring)
    }

    /// The key file's text.
    pub fn render(&self) -> String {
        let at = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut out = String::from(
            "# eBOK: keys that sign the mobile app's access tokens. Keep this file secret (mode \
             0600)\n# and the same on every API server. The first key that is not retired \
             signs; see `ebok token-keys`.\n# kid key created [retired]\n",
        );
        for key in &self.keys {
            out.push_str(&key.kid);
            out.push(' ');
            out.push_str(&URL_SAFE_NO_PAD.encode(&key.secret));
            out.push(' ');
            out.push_str(&at(key.created));
            if let Some(retired) = key.retired {
                out.push(' ');
                out.push_str(&at(retired));
            }
            out.push('\n');
        }
        out
    }
}

/// Reads the key file, refusing one that others may read.
pub fn read_file(path: &Path) -> Result<KeyRing, KeyFileError> {
    let name = path.display().to_string();
    let bytes = private_file::read(path).map_err(|error| match error {
        private_file::ReadError::Exposed { path, mode } => KeyFileError::Exposed { path, mode },
        private_file::ReadError::Io { path, source } => KeyFileError::Io { path, source },
    })?;
    let text = String::from_utf8(bytes).map_err(|_| KeyFileError::Malformed {
        path: name.clone(),
        line: 0,
        problem: "not UTF-8 text".into(),
    })?;
    KeyRing::parse(&text, &name)
}

/// Writes the key file (mode 0600, keeping its owner when it exists) so that a reader never sees
/// half a file (see [`ebok_common::private_file`]).
pub fn write_file(path: &Path, ring: &KeyRing) -> Result<(), KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    private_file::write(path, ring.render().as_bytes(), private_file::owner_of(path)).map_err(io)
}

/// Reads the key file, creating it with one fresh key when it does not exist. `true` with the
/// ring when it was created.
pub fn read_or_create(path: &Path) -> Result<(KeyRing, bool), KeyFileError> {
    if path.exists() {
        return Ok((read_file(path)?, false));
    }
    let ring = KeyRing::generate(Utc::now());
    write_file(path, &ring)?;
    Ok((ring, true))
}

/// A ring ready for use: the signing key and a checking key per kid.
struct Loaded {
    ring: KeyRing,
    signing: (String, EncodingKey),
    checking: Vec<(String, DecodingKey)>,
}

impl Loaded {
    fn new(ring: KeyRing) -> Loaded {
        let signer = ring.signing().expect("a parsed ring has a signing key");
        let signing = (signer.kid.clone(), EncodingKey::from_secret(&signer.secret));
        let checking = ring
            .keys
            .iter()
            .map(|k| (k.kid.clone(), DecodingKey::from_secret(&k.secret)))
            .collect();
        Loaded {
            ring,
            signing,
            checking,
        }
    }
}

/// Where a running process's ring came from, to re-read it: the path and what the file was
/// (device, inode, size, modification and change times) when it was last read.
struct Source {
    path: PathBuf,
    seen: Option<FileIdentity>,
}

type FileIdentity = (u64, u64, u64, i64, i64, i64, i64);

fn identity(path: &Path) -> Option<FileIdentity> {
    std::fs::metadata(path).ok().map(|m| {
        (
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
        )
    })
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The keys of a running process: sign and verify access tokens. Cloning shares them.
#[derive(Clone)]
pub struct Keys {
    loaded: Arc<RwLock<Arc<Loaded>>>,
    source: Option<Arc<Mutex<Source>>>,
    /// When a token naming an unknown key last made this process look at the file (ms since the
    /// epoch): at most once a second, checked without a lock or a system call.
    unknown_tried: Arc<AtomicU64>,
    validation: Arc<Validation>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(redacted)")
    }
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token names no key, or a key that checks nothing now")]
    UnknownKey,
    #[error(transparent)]
    Invalid(#[from] jsonwebtoken::errors::Error),
}

impl Keys {
    /// Keys from the key file, which is re-read when it changes. A missing file is created with
    /// one key when `create` (a single machine: the local stack, the demo), and an error
    /// otherwise: API servers that each made a key of their own would refuse each other's
    /// tokens.
    pub fn from_file(path: &Path, create: bool) -> Result<Keys, KeyFileError> {
        let ring = if create {
            let (ring, created) = read_or_create(path)?;
            if created {
                tracing::info!(path = %path.display(), "created the access-token key file");
            }
            ring
        } else if !path.exists() {
            return Err(KeyFileError::Missing {
                path: path.display().to_string(),
            });
        } else {
            read_file(path)?
        };
        let mut keys = Keys::from_ring(ring);
        keys.source = Some(Arc::new(Mutex::new(Source {
            path: path.to_path_buf(),
            seen: identity(path),
        })));
        Ok(keys)
    }

    /// Keys held in memory only (tests, tools).
    pub fn from_ring(ring: KeyRing) -> Keys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Keys {
            loaded: Arc::new(RwLock::new(Arc::new(Loaded::new(ring)))),
            source: None,
            unknown_tried: Arc::default(),
            validation: Arc::new(validation),
        }
    }

    /// A ring of one fresh key, in memory.
    pub fn generate() -> Keys {
        Keys::from_ring(KeyRing::generate(Utc::now()))
    }

    fn current(&self) -> Arc<Loaded> {
        self.loaded.read().expect("keys lock").clone()
    }

    /// The ring in use now.
    pub fn ring(&self) -> KeyRing {
        self.current().ring.clone()
    }

    /// Re-reads the key file if it changed since it was last read. A file that has become
    /// unreadable or invalid is logged and the keys in memory stay (and it is tried again at
    /// the next change).
    pub fn reload(&self) {
        let Some(source) = &self.source else {
            return;
        };
        let mut source = source.lock().expect("key source lock");
        let now = identity(&source.path);
        if now == source.seen {
            return;
        }
        match read_file(&source.path) {
            Ok(ring) => {
                source.seen = now;
                if ring != self.current().ring {
                    tracing::info!(
                        path = %source.path.display(),
                        signing = ring.signing().map(|k| k.kid.as_str()).unwrap_or("-"),
                        "access-token keys reloaded"
                    );
                    *self.loaded.write().expect("keys lock") = Arc::new(Loaded::new(ring));
                }
            }
            Err(error) => {
                tracing::error!(%error, "access-token key file unusable; keeping the keys in memory")
            }
        }
    }

    /// Re-reads the key file whenever it changes, until the keys are dropped everywhere else.
    /// Must be called within a Tokio runtime.
    pub fn watch(&self) {
        let Some(source) = self.source.clone() else {
            return;
        };
        let weak = Arc::downgrade(&self.loaded);
        let validation = self.validation.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RELOAD_EVERY).await;
                let Some(loaded) = weak.upgrade() else {
                    return;
                };
                let keys = Keys {
                    loaded,
                    source: Some(source.clone()),
                    unknown_tried: Arc::default(),
                    validation: validation.clone(),
                };
                let _ = tokio::task::spawn_blocking(move || keys.reload()).await;
            }
        });
    }

    pub fn sign(&self, account_id: i64, utility_id: i64, session_id: i64, role: &str) -> String {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: account_id.to_string(),
            uid: utility_id,
            sid: session_id,
            role: role.to_string(),
            iat: now,
            exp: now + ACCESS_TTL_SECS,
        };
        let loaded = self.current();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(loaded.signing.0.clone());
        jsonwebtoken::encode(&header, &claims, &loaded.signing.1)
            .expect("HS256 signing cannot fail")
    }

    pub fn verify(&self, token: &str) -> Result<Verified, TokenError> {
        let kid = jsonwebtoken::decode_header(token)?
            .kid
            .ok_or(TokenError::UnknownKey)?;
        let mut loaded = self.current();
        if !loaded.checking.iter().any(|(k, _)| *k == kid) && self.source.is_some() {
            // Perhaps another process rotated the file a moment ago: look, at most once a
            // second whatever the number of such tokens (anyone can invent a kid).
            let now = now_millis();
            let last = self.unknown_tried.load(Ordering::Relaxed);
            if now.saturating_sub(last) >= 1000
                && self
                    .unknown_tried
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                self.reload();
                loaded = self.current();
            }
        }
        let now = Utc::now();
        if loaded.ring.checking(&kid, now).is_none() {
            return Err(TokenError::UnknownKey);
        }
        let key = &loaded
            .checking
            .iter()
            .find(|(k, _)| *k == kid)
            .expect("checked above")
            .1;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation)?;
        let sub = data.claims.sub.parse().map_err(|_| {
            jsonwebtoken::errors::Error::from(jsonwebtoken::errors::ErrorKind::InvalidSubject)
        })?;
        Ok(Verified {
            sub,
            uid: data.claims.uid,
            sid: data.claims.sid,
            role: data.claims.role,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_ring_survives_its_file() {
        let ring = KeyRing::generate(at("2026-11-01T08:00:00Z"))
            .rotated(at("2026-12-04T22:00:00Z"), false);
        let text = ring.render();
        assert_eq!(KeyRing::parse(&text, "keys").unwrap(), ring);
        assert_eq!(ring.keys().len(), 2);
        assert_eq!(ring.keys()[1].retired, Some(at("2026-12-04T22:00:00Z")));
        assert_eq!(ring.signing().unwrap().kid, ring.keys()[0].kid);
    }

    #[test]
    fn a_retired_key_checks_tokens_until_they_have_expired() {
        let ring = KeyRing::generate(at("2026-11-01T08:00:00Z"));
        let old = ring.keys()[0].kid.clone();
        let rotated = ring.rotated(at("2026-12-04T22:00:00Z"), false);
        let later = |secs| at("2026-12-04T22:00:00Z") + chrono::Duration::seconds(secs);
        assert!(rotated.checking(&old, later(ACCESS_TTL_SECS)).is_some());
        assert!(rotated.checking(&old, later(ACCESS_TTL_SECS + 5)).is_none());
        let new = &rotated.signing().unwrap().kid;
        assert!(rotated.checking(new, later(10 * ACCESS_TTL_SECS)).is_some());
    }

    #[test]
    fn revoking_drops_the_old_keys_and_rotating_drops_long_retired_ones() {
        let ring = KeyRing::generate(at("2026-11-01T08:00:00Z"));
        let revoked = ring.rotated(at("2026-12-04T22:00:00Z"), true);
        assert_eq!(revoked.keys().len(), 1);
        let twice = ring
            .rotated(at("2026-12-04T22:00:00Z"), false)
            .rotated(at("2026-12-05T22:00:00Z"), false);
        assert_eq!(
            twice.keys().len(),
            2,
            "the first key checks nothing any more"
        );
    }

    #[test]
    fn malformed_files_name_the_line() {
        let good = KeyRing::generate(at("2026-11-01T08:00:00Z")).render();
        let short = format!(
            "k1 {} 2026-11-01T08:00:00Z\n",
            URL_SAFE_NO_PAD.encode([7u8; 16])
        );
        for (text, line) in [
            ("k1 not-base64!! 2026-11-01T08:00:00Z".to_string(), 1),
            (format!("# comment\n\n{short}"), 3),
            (format!("{good}{}", good.lines().last().unwrap()), 5),
            ("onlyone".to_string(), 1),
        ] {
            match KeyRing::parse(&text, "keys") {
                Err(KeyFileError::Malformed { line: l, .. }) => assert_eq!(l, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let all_retired = format!(
            "k1 {} 2026-11-01T08:00:00Z 2026-11-02T08:00:00Z\n",
            URL_SAFE_NO_PAD.encode([7u8; 64])
        );
        assert!(matches!(
            KeyRing::parse(&all_retired, "keys"),
            Err(KeyFileError::NoSigningKey { .. })
        ));
    }

    #[test]
    fn a_token_names_its_key_and_another_ring_refuses_it() {
        let keys = Keys::generate();
        let token = keys.sign(7, 1, 3, "resident");
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(
            header.kid.as_deref(),
            Some(keys.ring().keys()[0].kid.as_str())
        );
        assert_eq!(keys.verify(&token).unwrap().sub, 7);
        assert!(matches!(
            Keys::generate().verify(&token),
            Err(TokenError::UnknownKey)
        ));
    }

    #[test]
    fn a_token_without_a_key_id_is_refused() {
        let ring = KeyRing::generate(Utc::now());
        let secret = ring.keys()[0].secret.clone();
        let keys = Keys::from_ring(ring);
        let claims = Claims {
            sub: "7".into(),
            uid: 1,
            sid: 3,
            role: "resident".into(),
            iat: Utc::now().timestamp(),
            exp: Utc::now().timestamp() + 60,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&secret),
        )
        .unwrap();
        assert!(matches!(keys.verify(&token), Err(TokenError::UnknownKey)));
    }
}
