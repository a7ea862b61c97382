//! Files the tool writes that people open: owner-only modes for everything that holds
//! clients' emails and phones (journals, reports, the script store, REPL history, the state
//! directory), whatever the umask; CSV cells that a spreadsheet will not run as formulas;
//! and lock files that say which process holds them.
//!
//! The lowest layer beside `api`: it imports nothing of the project, knows nothing of what
//! the files contain, and never decides where they go.

use std::path::Path;

/// Creates a directory (and its parents) with mode 0700, and tightens an existing one.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Creates (or truncates) a file with mode 0600 — an older file with wider modes is
/// tightened — and never through a symbolic link: a path that is one is refused, so a
/// report can never be steered into another file (`~/.bashrc`, someone else's journal).
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(symlink_refused(path));
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NOFOLLOW closes the gap between the check above and the open.
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let file = opts.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return symlink_refused(path);
        }
        e
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // `mode` above only applies to a new file; an existing one keeps its modes.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

fn symlink_refused(path: &Path) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "{} is a symbolic link; refusing to write through it (remove it or choose another path)",
            path.display()
        ),
    )
}

/// An exclusive lock on a file, held until dropped and released by the operating system
/// if the process dies — so a crash never leaves a stale lock behind. The file holds the
/// holder's process id, for the message a second process gets.
pub struct LockFile {
    _file: std::fs::File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it; its id, if it wrote one.
    #[error("held by another process{}", .pid.as_ref().map(|p| format!(" ({p})")).unwrap_or_default())]
    Held { pid: Option<String> },
    #[error("cannot lock {}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Takes the lock at `path` (created 0600 in an existing directory), or says who holds it.
pub fn lock_exclusive(path: &Path) -> Result<LockFile, LockError> {
    use std::io::{Read, Seek, Write};
    let io = |source| LockError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => {
            let _ = file.set_len(0);
            let _ = file.rewind();
            let _ = write!(file, "{}", std::process::id());
            Ok(LockFile { _file: file })
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let pid = Some(holder.trim().to_string()).filter(|p| !p.is_empty());
            Err(LockError::Held { pid })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}

/// A cell a spreadsheet would evaluate (`=`, `+`, `-`, `@`, tab, CR at the start) gets a
/// leading `'`. Plain numbers and phone numbers (`+14155551234`, `-3.5`) cannot run
/// anything and are left alone.
pub fn neutralise(cell: &str) -> String {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let numeric = cell.len() > 1
        && cell[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | ' ' | '(' | ')' | '-'))
        && cell[1..].chars().any(|c| c.is_ascii_digit())
        && cell.starts_with(['+', '-']);
    if risky && !numeric {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn private_files_are_tightened_and_never_written_through_a_symlink() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let wide = dir.path().join("report.csv");
        std::fs::write(&wide, "old").unwrap();
        std::fs::set_permissions(&wide, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(create_private_file(&wide).unwrap());
        let mode = std::fs::metadata(&wide).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&wide).unwrap(), "");

        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = create_private_file(&link).unwrap_err();
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn formulas_are_neutralised_but_phones_are_not() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("-2+3"), "'-2+3");
        assert_eq!(neutralise("+14155551234"), "+14155551234");
        assert_eq!(neutralise("-3.5"), "-3.5");
        assert_eq!(neutralise("Acme"), "Acme");
    }
}
