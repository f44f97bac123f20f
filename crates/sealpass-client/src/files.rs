//! Files that hold secrets: created 0600 whatever the umask, written atomically, never
//! overwriting; read only when group and others cannot (like ssh). Also where sealpass keeps
//! things by default (the XDG base directories).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a private file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The destination exists; we never overwrite.
    #[error("{0} already exists; sealpass never overwrites it. Remove it or choose another path")]
    Exists(PathBuf),
    /// Group or others may read it.
    #[error("{path} is accessible by group or others (mode {mode:03o}); run `chmod 600 {path}` and try again")]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The directory to write into does not exist, and it is not one of sealpass's own.
    #[error("{0} does not exist; create it first (sealpass creates only its own directories)")]
    NoDirectory(PathBuf),
    /// Bigger than anything sealpass writes there.
    #[error("{0} is larger than {1} KiB; is it the right file?")]
    TooLarge(PathBuf, usize),
    /// Any other I/O error, with the path. (Not a `#[source]`: the message already says it, and
    /// a chain would say it twice.)
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        cause: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
    move |cause| FileError::Io { path: path.to_owned(), cause }
}

/// Write `contents` to a new file at `path` with mode 0600: into a temporary file in the same
/// directory, synced, then linked into place without replacing anything (a hard link, or
/// `renameat2(RENAME_NOREPLACE)` where hard links are not supported). Nothing is ever
/// overwritten and no reader sees a half-written file. The directory must exist unless it is
/// one of sealpass's own ([`parent_dir`]).
pub fn write_new_private(path: &Path, contents: &[u8]) -> Result<(), FileError> {
    if path.symlink_metadata().is_ok() {
        return Err(FileError::Exists(path.to_owned()));
    }
    let (dir, tmp) = synced_temp(path, contents)?;
    let result = (|| {
        match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(FileError::Exists(path.to_owned())),
            Err(_) => rename_no_replace(&tmp, path),
        }?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    // Only ever remove the temporary file this call created (after a rename it is gone).
    let _ = fs::remove_file(&tmp);
    result
}

/// A new public file (0644: a certificate, something to hand to others), written as
/// [`write_new_private`] writes, never overwriting one.
pub fn write_new_public(path: &Path, contents: &[u8]) -> Result<(), FileError> {
    write_new_private(path, contents)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).map_err(io_err(path))
}

/// The directory `path` goes into, which must exist; only sealpass's own XDG directories (and
/// what is under them) are created, 0700. A typo in a path the user gave is an error, not a new
/// directory tree.
pub fn parent_dir(path: &Path) -> Result<PathBuf, FileError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_owned();
    if dir.is_dir() {
        return Ok(dir);
    }
    // `..` could climb out of sealpass's directories while still starting with their names.
    if dir.components().any(|c| c == std::path::Component::ParentDir) {
        return Err(FileError::NoDirectory(dir));
    }
    let absolute =
        if dir.is_absolute() { dir.clone() } else { std::env::current_dir().map_err(io_err(&dir))?.join(&dir) };
    let ours = [data_dir(), state_dir(), config_dir()].into_iter().flatten().any(|own| absolute.starts_with(&own));
    if !ours {
        return Err(FileError::NoDirectory(dir));
    }
    fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(io_err(&dir))?;
    Ok(dir)
}

/// `contents` in a new 0600 temporary file next to `path` (see [`parent_dir`]), written and
/// synced; returns the directory and the temporary file.
fn synced_temp(path: &Path, contents: &[u8]) -> Result<(PathBuf, PathBuf), FileError> {
    let dir = parent_dir(path)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (tmp, mut file) = temp_file(&dir, &name)?;
    let written = (|| {
        // The mode passed to open is filtered by the umask; set it explicitly.
        file.set_permissions(fs::Permissions::from_mode(0o600)).map_err(io_err(&tmp))?;
        file.write_all(contents).map_err(io_err(&tmp))?;
        file.sync_all().map_err(io_err(&tmp))
    })();
    match written {
        Ok(()) => Ok((dir, tmp)),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// A new, exclusively created temporary file with an unpredictable name next to `name`.
fn temp_file(dir: &Path, name: &str) -> Result<(PathBuf, File), FileError> {
    use rand::TryRngCore;
    let mut last = None;
    for _ in 0..8 {
        let nonce = rand::rngs::OsRng.try_next_u64().map_err(|e| io_err(dir)(io::Error::other(e.to_string())))?;
        let tmp = dir.join(format!(".{name}.{nonce:016x}.tmp"));
        match OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(io_err(&tmp)(e)),
        }
    }
    Err(io_err(dir)(last.unwrap_or_else(|| io::Error::other("no temporary file name free"))))
}

fn rename_no_replace(from: &Path, to: &Path) -> Result<(), FileError> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE).map_err(|e| {
        if e == rustix::io::Errno::EXIST { FileError::Exists(to.to_owned()) } else { io_err(to)(e.into()) }
    })
}

/// Read a file that holds secrets, refusing one that group or others can access.
pub fn read_private(path: &Path, max: usize) -> Result<zeroize::Zeroizing<Vec<u8>>, FileError> {
    let file = File::open(path).map_err(io_err(path))?;
    let mode = file.metadata().map_err(io_err(path))?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(FileError::TooOpen { path: path.to_owned(), mode });
    }
    read_limited(file, path, max)
}

/// Read a file that holds no secrets (a recipients list, a ciphertext), up to `max` bytes.
pub fn read_public(path: &Path, max: usize) -> Result<Vec<u8>, FileError> {
    let file = File::open(path).map_err(io_err(path))?;
    Ok(read_limited(file, path, max)?.to_vec())
}

fn read_limited(file: File, path: &Path, max: usize) -> Result<zeroize::Zeroizing<Vec<u8>>, FileError> {
    // Room for the whole file up front (a growing Vec would leave unwiped copies behind), but
    // no more: the buffer is wiped in full when dropped.
    let size = file.metadata().map_or(max, |m| usize::try_from(m.len()).unwrap_or(max));
    let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(size.min(max) + 1));
    file.take(max as u64 + 1).read_to_end(&mut bytes).map_err(io_err(path))?;
    if bytes.len() > max {
        return Err(FileError::TooLarge(path.to_owned(), max / 1024));
    }
    Ok(bytes)
}

/// An XDG base directory: `$VAR` when it is an absolute path, else `$HOME/<fallback>`.
fn xdg(var: &str, fallback: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(fallback)))
        .map(|base| base.join("sealpass"))
}

/// `$XDG_DATA_HOME/sealpass` (identities, the embedded store).
pub fn data_dir() -> Option<PathBuf> {
    xdg("XDG_DATA_HOME", ".local/share")
}

/// `$XDG_STATE_HOME/sealpass` (what this machine sent: drops and their manage tokens).
pub fn state_dir() -> Option<PathBuf> {
    xdg("XDG_STATE_HOME", ".local/state")
}

/// `$XDG_CONFIG_HOME/sealpass` (config.toml: default server, pinned recipients).
pub fn config_dir() -> Option<PathBuf> {
    xdg("XDG_CONFIG_HOME", ".config")
}

/// Replace the file at `path` with `contents`, mode 0600, atomically (temporary file + rename):
/// for files sealpass owns and rewrites, like its state file.
pub fn replace_private(path: &Path, contents: &[u8]) -> Result<(), FileError> {
    let (_, tmp) = synced_temp(path, contents)?;
    let result = fs::rename(&tmp, path).map_err(io_err(path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The default identity file.
pub fn default_identity() -> Option<PathBuf> {
    data_dir().map(|d| d.join("identity.txt"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn private_files_are_0600_and_never_overwritten() {
        let dir = scratch();
        let path = dir.path().join("sub/key.txt");
        // A directory the user named is not made for them (only sealpass's own are).
        assert!(matches!(write_new_private(&path, b"one"), Err(FileError::NoDirectory(_))));
        assert!(!dir.path().join("sub").exists());
        fs::create_dir(dir.path().join("sub")).unwrap();
        write_new_private(&path, b"one").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(matches!(write_new_private(&path, b"two"), Err(FileError::Exists(_))));
        assert_eq!(&*read_private(&path, 100).unwrap(), b"one");
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary file left behind");
    }

    #[test]
    fn the_no_hard_link_fallback_never_replaces() {
        let dir = scratch();
        let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
        fs::write(&a, b"a").unwrap();
        fs::write(&b, b"b").unwrap();
        assert!(matches!(rename_no_replace(&a, &b), Err(FileError::Exists(_))));
        assert_eq!(fs::read(&b).unwrap(), b"b");
        rename_no_replace(&a, &c).unwrap();
        assert_eq!(fs::read(&c).unwrap(), b"a");
    }

    #[test]
    fn readable_by_others_is_refused_with_the_fix() {
        let dir = scratch();
        let path = dir.path().join("key.txt");
        fs::write(&path, b"secret").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_private(&path, 100).unwrap_err().to_string();
        assert!(e.contains("chmod 600") && e.contains("644"), "{e}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read_private(&path, 100).is_ok());
        assert!(matches!(read_private(&path, 3), Err(FileError::TooLarge(..))));
    }
}
