//! Files the tool writes that people open: owner-only modes for everything that holds
//! clients' emails and phones (journals, reports, the script store, REPL history, the state
//! directory), whatever the umask; and CSV cells that a spreadsheet will not run as formulas.
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

/// Creates (or truncates) a file with mode 0600.
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
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
