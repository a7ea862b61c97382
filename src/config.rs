//! What we run with: the command line turned into plain settings, built once at the top.
//!
//! [`Invocation::from_cli`] copies what was typed into plain structs — one per front door,
//! plus [`Globals`] for the flags every command shares — so that nothing below this module
//! ever sees a clap type. [`Config::resolve`] then turns the globals into checked values:
//! the API key (from `--api-key-file`, `--api-key` or `ZAVUDEV_API_KEY`), the target (a
//! base URL or an in-process sandbox), the state directory, and the one set of client
//! settings every client of the run shares. Resolving reads files and the environment, so
//! a door calls it only when it needs it (`check` and `cron --test` never do). Errors here
//! are usage errors that name the flag or variable at fault.
//!
//! This module may import `cli` and the layers below; nothing but `lib.rs` imports it
//! from above, and it never runs anything.

use crate::cli::{self, Cli};
use crate::client::{ApiKey, ClientOptions, DEFAULT_BASE_URL, normalize_base_url};
use crate::engine::{CampaignDefaults, Limits};
use crate::error::Error;
use crate::sandbox::DEFAULT_KEY;
use chrono::{DateTime, Utc};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole command line as plain settings (completions are handled before this).
pub struct Invocation {
    pub globals: Globals,
    pub command: Command,
}

/// The global flags as typed, not yet checked.
#[derive(Clone, Debug, Default)]
pub struct Globals {
    pub api_key: Option<String>,
    pub api_key_file: Option<PathBuf>,
    pub base_url: Option<String>,
    pub sandbox: bool,
    pub state_dir: Option<PathBuf>,
    /// `--state-url` / `ZAVU_STATE_URL`: PostgreSQL for shared state; none means the state
    /// directory.
    pub state_url: Option<String>,
    pub json: bool,
    pub rate: Option<u32>,
    pub timeout: Duration,
    pub max_retries: u32,
}

/// Which front door runs, with its own settings.
pub enum Command {
    Run(RunSettings),
    Check { file: PathBuf },
    Campaign(CampaignAction),
    Sandbox(SandboxSettings),
    State(StateAction),
    Cron(CronSettings),
    Listen(ListenSettings),
    Repl(ReplSettings),
}

pub struct RunSettings {
    pub file: PathBuf,
    /// The script's own arguments, `ARGS` in the script.
    pub args: Vec<String>,
    pub limits: Limits,
    pub campaign: CampaignDefaults,
    /// With --state-url: how long a campaign's lock outlives a silent runner.
    pub lease_ttl: Duration,
}

pub enum CampaignAction {
    List,
    /// With no name: the list.
    Status {
        name: Option<String>,
        refresh: bool,
    },
    Cleanup {
        name: String,
        dry_run: bool,
        yes: bool,
    },
    Report {
        name: String,
        /// `None`: the default file, or (with `--json`) no file.
        out: Option<PathBuf>,
        refresh: bool,
    },
}

pub enum StateAction {
    Migrate,
    Status,
}

pub struct SandboxSettings {
    pub host: IpAddr,
    pub port: u16,
    pub state_file: Option<PathBuf>,
    /// Requests per key and minute the sandbox allows and advertises.
    pub budget_per_minute: u64,
}

pub struct CronSettings {
    pub file: PathBuf,
    pub test: bool,
    pub next: Option<usize>,
    pub now: Option<DateTime<Utc>>,
    pub json_logs: bool,
    pub watch: bool,
    pub missed_grace: Duration,
    pub shutdown_grace: Duration,
    pub job_timeout: Duration,
    pub crontab_name: Option<String>,
    pub lease_ttl: Duration,
    /// Where to serve /metrics and /healthz, if anywhere.
    pub http: Option<std::net::SocketAddr>,
    pub limits: Limits,
}

pub struct ListenSettings {
    pub handler: PathBuf,
    pub host: IpAddr,
    pub port: u16,
    pub path: String,
    pub register: Option<String>,
    pub secret_file: Option<PathBuf>,
    /// From ZAVU_WEBHOOK_SECRET, when no file is given.
    pub secret: Option<String>,
    pub tolerance: Duration,
    pub max_attempts: i64,
    pub handler_timeout: Duration,
    pub retry_failed: bool,
    pub catch_up_only: bool,
    /// Catch up again this often while receiving; zero: only on start.
    pub catch_up_every: Duration,
    pub json_logs: bool,
    pub shutdown_grace: Duration,
    /// With a state database: how long a claim on an event lasts without a heartbeat.
    pub lease_ttl: Duration,
    /// With nothing due and no wake-up, how long before a handler worker looks again.
    pub look_every: Duration,
    /// Handler workers: how many events (of different invitations) run at once.
    pub concurrency: u32,
    pub limits: Limits,
}

pub struct ReplSettings {
    pub keep_going: bool,
    pub limits: Limits,
}

impl Invocation {
    /// Plain settings from the parsed command line; `None` for `completions`, which the
    /// command line answers itself.
    pub fn from_cli(cli: Cli) -> Option<Invocation> {
        let command = match cli.command {
            cli::Command::Completions { .. } => return None,
            cli::Command::Run(a) => Command::Run(RunSettings {
                file: a.file,
                args: a.args,
                limits: limits(&a.limits),
                campaign: campaign_defaults(&a.campaign),
                lease_ttl: a.campaign.lease_ttl,
            }),
            cli::Command::Check { file } => Command::Check { file },
            cli::Command::Campaign { action } => Command::Campaign(match action {
                cli::CampaignCommand::List => CampaignAction::List,
                cli::CampaignCommand::Status { name, refresh } => {
                    CampaignAction::Status { name, refresh }
                }
                cli::CampaignCommand::Cleanup { name, dry_run, yes } => {
                    CampaignAction::Cleanup { name, dry_run, yes }
                }
                cli::CampaignCommand::Report { name, out, refresh } => {
                    CampaignAction::Report { name, out, refresh }
                }
            }),
            cli::Command::Sandbox(a) => Command::Sandbox(SandboxSettings {
                host: a.host,
                port: a.port,
                state_file: a.state,
                budget_per_minute: a
                    .rate_limit
                    .unwrap_or(crate::sandbox::DEFAULT_BUDGET_PER_MINUTE),
            }),
            cli::Command::State { action } => Command::State(match action {
                cli::StateCommand::Migrate => StateAction::Migrate,
                cli::StateCommand::Status => StateAction::Status,
            }),
            cli::Command::Cron(a) => Command::Cron(CronSettings {
                file: a.file,
                test: a.test,
                next: a.next,
                now: a.now,
                json_logs: a.json_logs,
                watch: a.watch,
                missed_grace: a.missed_grace,
                shutdown_grace: a.shutdown_grace,
                job_timeout: a.job_timeout,
                crontab_name: a.crontab_name,
                lease_ttl: a.lease_ttl,
                http: a.http,
                limits: limits(&a.limits),
            }),
            cli::Command::Listen(a) => Command::Listen(ListenSettings {
                handler: a.handler,
                host: a.host,
                port: a.port,
                path: a.path,
                register: a.register,
                secret_file: a.secret_file,
                secret: std::env::var("ZAVU_WEBHOOK_SECRET")
                    .ok()
                    .filter(|s| !s.trim().is_empty()),
                tolerance: a.tolerance,
                max_attempts: a.max_attempts,
                handler_timeout: a.handler_timeout,
                retry_failed: a.retry_failed,
                catch_up_only: a.catch_up,
                catch_up_every: a.catch_up_every,
                json_logs: a.json_logs,
                shutdown_grace: a.shutdown_grace,
                lease_ttl: a.lease_ttl,
                look_every: a.look_every,
                concurrency: a.concurrency,
                limits: limits(&a.limits),
            }),
            cli::Command::Repl(a) => Command::Repl(ReplSettings {
                keep_going: a.keep_going,
                limits: limits(&a.limits),
            }),
        };
        let g = cli.global;
        // A flag beats its environment variable; an empty variable counts as unset.
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Some(Invocation {
            globals: Globals {
                api_key: g.api_key.or_else(|| env("ZAVUDEV_API_KEY")),
                api_key_file: g.api_key_file,
                base_url: g.base_url.or_else(|| env("ZAVUDEV_BASE_URL")),
                sandbox: g.sandbox,
                state_dir: g
                    .state_dir
                    .or_else(|| env("ZAVU_SCRIPT_STATE_DIR").map(PathBuf::from)),
                state_url: g.state_url.or_else(|| env("ZAVU_STATE_URL")),
                json: g.json,
                rate: g.rate,
                timeout: Duration::from_secs(g.timeout),
                max_retries: g.max_retries,
            },
            command,
        })
    }
}

fn limits(a: &cli::LimitArgs) -> Limits {
    Limits {
        max_operations: a.max_operations,
        max_call_depth: a.max_call_depth,
        max_memory: a.max_memory,
        max_string_size: a.max_string_size,
        max_array_size: a.max_array_size,
        max_map_size: a.max_map_size,
    }
}

fn campaign_defaults(a: &cli::CampaignArgs) -> CampaignDefaults {
    CampaignDefaults {
        dry_run: a.dry_run,
        reinvite: a.reinvite,
        wait: a.wait,
        yes: a.yes,
        concurrency: a.concurrency.map(usize::from),
        settle: a
            .settle_seconds
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(600.0))),
        ..Default::default()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A server at this base URL (the real API or a sandbox started elsewhere).
    Remote(String),
    /// A sandbox started in this process.
    InProcessSandbox,
}

/// The global settings, checked.
#[derive(Clone, Debug)]
pub struct Config {
    pub target: Target,
    pub api_key: Option<ApiKey>,
    state_dir: PathBuf,
    /// Where shared state lives: the state directory, or a PostgreSQL database.
    pub state: crate::state::Backend,
    pub json: bool,
    pub rate_cap_per_minute: Option<u32>,
    pub timeout: Duration,
    pub max_retries: u32,
}

impl Config {
    pub fn resolve(g: &Globals) -> Result<Config, Error> {
        let api_key = match (&g.api_key_file, &g.api_key) {
            (Some(path), _) => Some(read_key_file(path)?),
            (None, Some(k)) if !k.trim().is_empty() => Some(ApiKey::new(k.clone())),
            _ => None,
        };
        let target = if g.sandbox {
            Target::InProcessSandbox
        } else {
            let raw = g.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
            let url = normalize_base_url(raw)
                .map_err(|e| Error::Usage(format!("--base-url / ZAVUDEV_BASE_URL: {e}")))?;
            Target::Remote(url)
        };
        let state_dir = match &g.state_dir {
            Some(d) => d.clone(),
            None => default_state_dir()?,
        };
        let state = crate::state::Backend::from_setting(g.state_url.as_deref(), state_dir.clone())
            .map_err(|e| Error::Usage(e.to_string()))?;
        Ok(Config {
            target,
            api_key,
            state_dir,
            state,
            json: g.json,
            rate_cap_per_minute: g.rate,
            timeout: g.timeout,
            max_retries: g.max_retries,
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

    /// The one set of client settings of this run, for the server at `base_url`.
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
        crate::files::create_private_dir(&self.state_dir).map_err(|e| Error::Io {
            path: self.state_dir.clone(),
            source: e,
        })?;
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
