//! What the REPL remembers between sessions: `repl_history` in the state directory, owner-
//! only (0600), and the rule that decides what may enter it — never a line holding an API
//! key literal (`zv_live_…`, `zv_test_…`), in memory or on disk, so neither the file nor
//! `!!` can bring one back. Also `!!` / `!N`, recalling an earlier input.
//!
//! It decides and prepares; the line editor stores.

use crate::client::key::contains_key_literal;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "repl_history";
pub const MAX_ENTRIES: usize = 1000;

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

/// Why an input is not remembered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    Blank,
    /// Starts with a space: the shell convention for "don't remember this".
    Private,
    ApiKey,
}

/// Whether an input may enter history.
pub fn admit(input: &str) -> Result<(), Skip> {
    if input.trim().is_empty() {
        Err(Skip::Blank)
    } else if contains_key_literal(input) {
        Err(Skip::ApiKey)
    } else if input.starts_with(' ') {
        Err(Skip::Private)
    } else {
        Ok(())
    }
}

/// Makes sure the history file exists and only its owner can read it, before the editor
/// writes a line to it.
pub fn prepare(file: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(file)?;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)?;
    }
    Ok(())
}

/// `!!` (the last input) or `!N` (the Nth, as `:history` numbers them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recall {
    Last,
    Number(usize),
}

pub fn recall(input: &str) -> Option<Recall> {
    let t = input.trim();
    if t == "!!" {
        return Some(Recall::Last);
    }
    // `!5` would be "not 5" in Rhai, which is never meaningful, so it is free to mean this.
    let n = t.strip_prefix('!')?;
    if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
        return n.parse().ok().map(Recall::Number);
    }
    None
}

/// The entry a recall names, from history oldest first.
pub fn resolve(r: Recall, entries: &[String]) -> Result<String, String> {
    match r {
        Recall::Last => entries
            .last()
            .cloned()
            .ok_or_else(|| "!!: nothing in history yet".to_string()),
        Recall::Number(n) => n
            .checked_sub(1)
            .and_then(|i| entries.get(i))
            .cloned()
            .ok_or_else(|| format!("!{n}: no such entry (see :history)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_literals_never_enter_history() {
        assert_eq!(
            admit(r#"let c = zavu_client(#{ apiKey: "zv_test_abc123" });"#),
            Err(Skip::ApiKey)
        );
        assert_eq!(admit("let k = \"zv_live_Z9\""), Err(Skip::ApiKey));
        assert_eq!(admit("// keys start with zv_live_ or zv_test_"), Ok(()));
        assert_eq!(admit("zavu.invitations.list()"), Ok(()));
        assert_eq!(admit("   "), Err(Skip::Blank));
        assert_eq!(admit(" let secret = 1"), Err(Skip::Private));
    }

    #[test]
    fn recall_last_and_numbered() {
        assert_eq!(recall("!!"), Some(Recall::Last));
        assert_eq!(recall(" !3 "), Some(Recall::Number(3)));
        assert_eq!(recall("!!true"), None);
        assert_eq!(recall("!x"), None);
        let h = vec!["a".to_string(), "b".to_string()];
        assert_eq!(resolve(Recall::Last, &h).unwrap(), "b");
        assert_eq!(resolve(Recall::Number(1), &h).unwrap(), "a");
        assert!(resolve(Recall::Number(0), &h).is_err());
        assert!(resolve(Recall::Number(3), &h).is_err());
        assert!(resolve(Recall::Last, &[]).is_err());
    }

    #[test]
    fn the_file_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let f = path(dir.path());
        std::fs::write(&f, "#V2\n").unwrap();
        prepare(&f).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&f).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
