//! One runner per campaign at a time: an exclusive lock on a file in the state directory,
//! held for the whole run and released by the operating system even if the process is
//! killed — two runs could otherwise both see a row as unsent and both invite the client.

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::Path;

pub struct CampaignLock {
    _file: File,
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
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {
                let _ = file.set_len(0);
                let _ = file.rewind();
                let _ = write!(file, "{}", std::process::id());
                Ok(CampaignLock { _file: file })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let who = holder.trim();
                Err(format!(
                    "campaign '{name}' is already running{} — wait for it to finish, or stop it first",
                    if who.is_empty() {
                        String::new()
                    } else {
                        format!(" (process {who})")
                    }
                ))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                Err(format!("cannot lock {}: {e}", path.display()))
            }
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
