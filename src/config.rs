//! What we run with: the global flags, environment and files resolved into checked values —
//! the API key (from `--api-key-file`, `--api-key` or `ZAVUDEV_API_KEY`), the target (a
//! base URL or an in-process sandbox), the state directory (created 0700), and the client
//! settings. Errors here are usage errors that name the flag or variable at fault.

use crate::cli::GlobalArgs;
use crate::client::{ApiKey, ClientOptions, DEFAULT_BASE_URL, normalize_base_url};
use crate::error::Error;
use crate::sandbox::DEFAULT_KEY;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A server at this base URL (the real API or a sandbox started elsewhere).
    Remote(String),
    /// A sandbox started in this process.
    InProcessSandbox,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub target: Target,
    pub api_key: Option<ApiKey>,
    state_dir: PathBuf,
    pub json: bool,
    pub rate_cap_per_minute: Option<u32>,
    pub timeout: Duration,
    pub max_retries: u32,
}

impl Config {
    pub fn resolve(args: &GlobalArgs) -> Result<Config, Error> {
        let api_key = match (&args.api_key_file, &args.api_key) {
            (Some(path), _) => Some(read_key_file(path)?),
            (None, Some(k)) if !k.trim().is_empty() => Some(ApiKey::new(k.clone())),
            _ => None,
        };
        let target = if args.sandbox {
            Target::InProcessSandbox
        } else {
            let raw = args.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
            let url = normalize_base_url(raw)
                .map_err(|e| Error::Usage(format!("--base-url / ZAVUDEV_BASE_URL: {e}")))?;
            Target::Remote(url)
        };
        let state_dir = match &args.state_dir {
            Some(d) => d.clone(),
            None => default_state_dir()?,
        };
        Ok(Config {
            target,
            api_key,
            state_dir,
            json: args.json,
            rate_cap_per_minute: args.rate,
            timeout: Duration::from_secs(args.timeout),
            max_retries: args.max_retries,
        })
    }

    /// The key to use: the configured one, or for an in-process sandbox the well-known
    /// sandbox key. Talking to a remote server without a key is a usage error.
    pub fn key_for_target(&self) -> Result<ApiKey, Error> {
        match (&self.api_key, &self.target) {
            (Some(k), _) => Ok(k.clone()),
            (None, Target::InProcessSandbox) => Ok(ApiKey::new(DEFAULT_KEY)),
            (None, Target::Remote(_)) => Err(Error::Usage(
                "no API key: set ZAVUDEV_API_KEY, or pass --api-key-file PATH, or add --sandbox to use the built-in sandbox"
                    .into(),
            )),
        }
    }

    pub fn client_options(&self, base_url: &str, key: ApiKey) -> ClientOptions {
        let mut opts = ClientOptions::new(base_url, key);
        opts.timeout = self.timeout;
        opts.max_retries = self.max_retries;
        opts.rate_cap_per_minute = self.rate_cap_per_minute;
        opts
    }

    /// The state directory, created (owner-only) on first use: it holds clients' emails
    /// and phones in journals and reports.
    pub fn state_dir(&self) -> Result<&Path, Error> {
        create_private_dir(&self.state_dir)?;
        Ok(&self.state_dir)
    }
}

fn read_key_file(path: &Path) -> Result<ApiKey, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("--api-key-file {}: {e}", path.display())))?;
    let key = text.lines().next().unwrap_or("").trim();
    if key.is_empty() {
        return Err(Error::Usage(format!(
            "--api-key-file {}: the file is empty; put the key on its first line",
            path.display()
        )));
    }
    Ok(ApiKey::new(key))
}

fn default_state_dir() -> Result<PathBuf, Error> {
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("zavu-script"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/state/zavu-script")),
        None => Err(Error::Usage(
            "cannot find a state directory: set HOME, XDG_STATE_HOME or pass --state-dir".into(),
        )),
    }
}

/// Creates a directory readable only by its owner (0700), and tightens an existing one.
pub fn create_private_dir(dir: &Path) -> Result<(), Error> {
    crate::files::create_private_dir(dir).map_err(|e| Error::Io {
        path: dir.to_path_buf(),
        source: e,
    })
}
