//! One runner per campaign at a time: an exclusive lock on a file in the state directory,
//! held for the whole run and released by the operating system even if the process is
//! killed — two runs could otherwise both see a row as unsent and both invite the client.

use crate::files::{LockError, LockFile, lock_exclusive};
use sha2::{Digest, Sha256};
use std::path::Path;

pub struct CampaignLock {
    _file: LockFile,
}

impl CampaignLock {
    /// Takes the lock for (target, key fingerprint, name), or says who holds it.
    pub fn acquire(
        state_dir: &Path,
        target: &str,
        key_fp: &str,
        name: &str,
    ) -> Result<CampaignLock, String> {
        let dir = state_dir.join("locks");
        crate::files::create_private_dir(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let id =
            hex::encode(&Sha256::digest(format!("{target}\n{key_fp}\n{name}").as_bytes())[..12]);
        let path = dir.join(format!("campaign-{id}.lock"));
        match lock_exclusive(&path) {
            Ok(file) => Ok(CampaignLock { _file: file }),
            Err(LockError::Held { pid }) => Err(format!(
                "campaign '{name}' is already running{} — wait for it to finish, or stop it first",
                pid.map(|p| format!(" (process {p})")).unwrap_or_default()
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_runner_is_refused_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let first = CampaignLock::acquire(dir.path(), "t", "fp", "spring").unwrap();
        let err = CampaignLock::acquire(dir.path(), "t", "fp", "spring")
            .err()
            .unwrap();
        assert!(err.contains("already running"), "{err}");
        assert!(CampaignLock::acquire(dir.path(), "t", "fp", "autumn").is_ok());
        drop(first);
        assert!(CampaignLock::acquire(dir.path(), "t", "fp", "spring").is_ok());
    }
}
