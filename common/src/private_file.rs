//! Files that hold secrets (the keys that sign access tokens, the broker's password hashes, the
//! local stack's generated passwords), written so that no reader ever sees one half-written or
//! readable by others, and read so that what was checked is what is read.
//!
//! [`write`]: the bytes go to a new temporary file beside the target, created with mode 0600
//! and only if nothing is there (`O_EXCL`, which also refuses a planted symbolic link), synced,
//! given an owner when asked, renamed over the target, and the folder synced so the rename
//! survives a crash. [`read`]: the file is opened first, and the mode of the open file checked.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Why a private file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Others may read it (its mode has group or other bits).
    #[error("{path} may be read by other users (mode {mode:o}): `chmod 600 {path}`")]
    Exposed { path: String, mode: u32 },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// The owner (uid, gid) of a file or folder, if it exists.
pub fn owner_of(path: &Path) -> Option<(u32, u32)> {
    std::fs::metadata(path).ok().map(|m| (m.uid(), m.gid()))
}

/// Writes `bytes` to `path`, readable and writable by its owner only: `owner` when given (giving
/// a file to another user needs root; `owner_of(path)` keeps a rewritten file its owner's),
/// else the caller.
pub fn write(path: &Path, bytes: &[u8], owner: Option<(u32, u32)>) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(
        ".{name}.{}.{:016x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        if let Some((uid, gid)) = owner {
            let meta = file.metadata()?;
            if (meta.uid(), meta.gid()) != (uid, gid) {
                std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
            }
        }
        drop(file);
        std::fs::rename(&temporary, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// Reads `path`, refusing it when others may read it.
pub fn read(path: &Path) -> Result<Vec<u8>, ReadError> {
    let name = || path.display().to_string();
    let io = |source| ReadError::Io {
        path: name(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mode = file.metadata().map_err(io)?.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(ReadError::Exposed { path: name(), mode });
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "ebok-private-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_written_file_is_private_whole_and_leaves_no_temporary_behind() {
        let dir = dir();
        let path = dir.join("secret");
        std::fs::write(&path, "old, readable by all").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write(&path, b"new", None).unwrap();
        assert_eq!(read(&path).unwrap(), b"new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["secret"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_others_may_read_is_refused() {
        let dir = dir();
        let path = dir.join("secret");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            read(&path),
            Err(ReadError::Exposed { mode: 0o640, .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
