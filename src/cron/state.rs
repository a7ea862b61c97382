//! What the scheduler remembers across restarts, per job: up to when its times have been
//! dealt with, and how its last run went. One JSON file per crontab in the state
//! directory (`cron/<crontab>-<hash>.json`, 0600), replaced atomically on every change so a
//! kill at any moment leaves the old file or the new one, never half of one.
//!
//! It reads and writes that file; deciding what a missed time means is [`super::plan`]'s job.

use crate::error::Error;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobState {
    /// Every fire time up to here has been run or deliberately skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_slot: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_start: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_end: Option<DateTime<Utc>>,
    /// `ok`, `failed`, `timed out` or `stopped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronState {
    /// The crontab this state belongs to, for whoever opens the file.
    #[serde(default)]
    pub crontab: String,
    #[serde(default)]
    pub jobs: BTreeMap<String, JobState>,
}

/// The state file of one crontab.
#[derive(Clone, Debug)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The file for `crontab` (keyed by its absolute path, so two crontabs sharing a state
    /// directory keep apart).
    pub fn for_crontab(state_dir: &Path, crontab: &Path) -> StateFile {
        let abs = std::fs::canonicalize(crontab).unwrap_or_else(|_| crontab.to_path_buf());
        let digest = Sha256::digest(abs.to_string_lossy().as_bytes());
        let stem: String = crontab
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        StateFile {
            path: state_dir
                .join("cron")
                .join(format!("{stem}-{}.json", hex::encode(&digest[..4]))),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the lock that makes this scheduler the only one on this crontab and state
    /// directory, or says which process holds it.
    pub fn lock(&self) -> Result<crate::files::LockFile, Error> {
        use crate::files::LockError;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        crate::files::create_private_dir(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let lock = self.path.with_extension("lock");
        crate::files::lock_exclusive(&lock).map_err(|e| match e {
            LockError::Held { pid } => Error::Usage(format!(
                "another zavu-script cron{} is already running this crontab with this state \
                 directory ({}); stop it first, or give this one its own --state-dir",
                pid.map(|p| format!(" (process {p})")).unwrap_or_default(),
                dir.parent().unwrap_or(dir).display()
            )),
            other => Error::Usage(other.to_string()),
        })
    }

    /// The saved state; none yet is an empty one. An unreadable file is an error (the
    /// caller decides whether to start afresh).
    pub fn load(&self) -> Result<CronState, String> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| format!("{}: not a cron state file: {e}", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CronState::default()),
            Err(e) => Err(format!("{}: {e}", self.path.display())),
        }
    }

    /// Writes the state: a private temporary file, synced, then renamed over the old one.
    pub fn save(&self, state: &CronState) -> Result<(), Error> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        crate::files::create_private_dir(dir).map_err(io(dir))?;
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(state).map_err(|e| Error::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        let mut file = crate::files::create_private_file(&tmp).map_err(io(&tmp))?;
        file.write_all(&text)
            .and_then(|_| file.write_all(b"\n"))
            .and_then(|_| file.sync_all())
            .map_err(io(&tmp))?;
        drop(file);
        std::fs::rename(&tmp, &self.path).map_err(io(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_atomically_and_privately() {
        let dir = tempfile::tempdir().unwrap();
        let crontab = dir.path().join("my crontab");
        std::fs::write(&crontab, "").unwrap();
        let file = StateFile::for_crontab(&dir.path().join("state"), &crontab);
        assert!(file.path().to_string_lossy().contains("/cron/my_crontab-"));
        assert_eq!(file.load().unwrap(), CronState::default());

        let mut state = CronState {
            crontab: crontab.display().to_string(),
            ..Default::default()
        };
        let t = DateTime::parse_from_rfc3339("2026-05-01T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        state.jobs.insert(
            "followup".into(),
            JobState {
                handled_until: Some(t),
                last_outcome: Some("ok".into()),
                ..Default::default()
            },
        );
        file.save(&state).unwrap();
        file.save(&state).unwrap();
        assert_eq!(file.load().unwrap(), state);
        assert!(!file.path().with_extension("json.tmp").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        std::fs::write(file.path(), "{ not json").unwrap();
        assert!(file.load().unwrap_err().contains("not a cron state file"));
    }
}
