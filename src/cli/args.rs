//! The clap definition of every flag and subcommand: what the user can type, with its
//! help text and value parsers. Parsing only; nothing here resolves or runs anything.

use clap::{Args, Parser, Subcommand};
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "zavu-script",
    version,
    about = "Script the Zavu Partner Invitations API with Rhai",
    long_about = "Script the Zavu Partner Invitations API with Rhai: bulk invitation campaigns from CSV, \
an interactive REPL, a cron-style scheduler for follow-ups, and a built-in sandbox of the API \
so everything works offline.\n\nTry it with no account: zavu-script --sandbox run scripts/onboard_from_csv.rhai examples/clients.csv",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// API key (zv_live_… or zv_test_…) [env: ZAVUDEV_API_KEY]. Prefer the environment or
    /// --api-key-file: a key on the command line ends up in shell history.
    #[arg(
        long,
        global = true,
        value_name = "KEY",
        conflicts_with = "api_key_file"
    )]
    pub api_key: Option<String>,

    /// Read the API key from this file (first line); it takes precedence over
    /// ZAVUDEV_API_KEY.
    #[arg(long, global = true, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,

    /// API base URL [env: ZAVUDEV_BASE_URL] [default: https://api.zavu.dev].
    #[arg(long, global = true, value_name = "URL")]
    pub base_url: Option<String>,

    /// Start a built-in sandbox in this process and point everything at it (ZAVUDEV_BASE_URL
    /// is then ignored).
    #[arg(long, global = true, conflicts_with = "base_url")]
    pub sandbox: bool,

    /// Where journals, history, cron state and the script store live
    /// [env: ZAVU_SCRIPT_STATE_DIR]
    /// [default: $XDG_STATE_HOME/zavu-script or ~/.local/state/zavu-script].
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Keep shared state (cron runs and leases, `store::` entries) in this PostgreSQL
    /// database instead of the state directory, so several machines can run `cron` together:
    /// postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE [env: ZAVU_STATE_URL]. Prefer the
    /// environment for a URL with a password.
    #[arg(long, global = true, value_name = "URL")]
    pub state_url: Option<String>,

    /// Print results as JSON.
    #[arg(long, global = true)]
    pub json: bool,

    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log every HTTP request and response (Authorization redacted) on stderr.
    #[arg(long, global = true)]
    pub debug: bool,

    /// Never send more than N requests a minute on one key, whatever the server allows.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: Option<u32>,

    /// Seconds before an API request times out.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,

    /// Retries after a failed request that is safe to repeat.
    #[arg(long, global = true, value_name = "N", default_value_t = 2)]
    pub max_retries: u32,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a Rhai script against the API (or the sandbox with --sandbox).
    Run(RunArgs),
    /// Compile a script without running it; report errors with file:line:col. With an API
    /// key (or --sandbox), template sends written out in the script are also checked
    /// against the project's templates.
    Check {
        /// The script to check.
        file: PathBuf,
    },
    /// Look at or clean up the campaigns recorded in the journal.
    Campaign {
        #[command(subcommand)]
        action: CampaignCommand,
    },
    /// Serve the built-in sandbox of the Zavu API until Ctrl-C.
    Sandbox(SandboxArgs),
    /// Look after the shared state: schema migrations, replicas, leases.
    State {
        #[command(subcommand)]
        action: StateCommand,
    },
    /// Run scripts on cron schedules, in the foreground, until SIGTERM or Ctrl-C.
    Cron(CronArgs),
    /// Receive the project webhook and run a script for each invitation status change,
    /// exactly once per event, catching up on what happened while it was down.
    Listen(ListenArgs),
    /// An interactive session against the API: completion, help, history (try --sandbox).
    Repl(ReplArgs),
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 4010)]
    pub port: u16,
    /// Keep the sandbox's state in this file, so it survives a restart.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Requests a minute each key may make, reported in X-RateLimit-* on every answer
    /// (default 1000000; a `rateLimitPerMinute` fault overrides it).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub rate_limit: Option<u64>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The script to run (a `#!` first line is ignored).
    pub file: PathBuf,
    /// Arguments for the script, available as `ARGS`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub campaign: CampaignArgs,
}

/// How `campaign::run` behaves in this run, whatever the script says.
#[derive(Debug, Args, Clone, Default)]
pub struct CampaignArgs {
    /// Campaigns only plan: validate rows, compare with the journal, report — send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Invite clients even when the project already holds a live (pending, in progress or
    /// completed) invitation for them; by default such rows are skipped.
    #[arg(long)]
    pub reinvite: bool,
    /// Go ahead with creating invitations on a live key without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Creates in flight at once (overrides the script's `concurrency`; default 8).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: Option<u16>,
    /// Seconds to let the server settle after a lost answer before reconciling (default 5).
    #[arg(long, value_name = "SECONDS")]
    pub settle_seconds: Option<f64>,
    /// When another runner holds a campaign, wait and take over once it ends — finishes,
    /// is stopped, or dies and its lock lapses — instead of refusing (a standby).
    #[arg(long)]
    pub wait: bool,
    /// With --state-url: how long a campaign's lock outlives a runner that stops answering
    /// (frozen, cut off, its machine dead); a runner silent for half of it sends nothing more.
    #[arg(long, value_name = "DURATION", default_value = "30s",
          value_parser = crate::duration::parse)]
    pub lease_ttl: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// The handler: a script run once per event, with the event as `event`.
    pub handler: PathBuf,
    /// Address to receive deliveries on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to receive deliveries on; 0 picks a free one.
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    /// The path deliveries are posted to.
    #[arg(long, default_value = "/webhooks/zavu")]
    pub path: String,
    /// Configure the project webhook to deliver to this URL on start (the secret comes back
    /// from the API; only its fingerprint is shown). `self`: this receiver's own address,
    /// once it is listening — for the sandbox, which delivers to loopback over plain HTTP.
    #[arg(long, value_name = "URL|self")]
    pub register: Option<String>,
    /// Read the webhook secret from this file [env: ZAVU_WEBHOOK_SECRET].
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
    /// How far a delivery's signature time may be from now.
    #[arg(long, value_name = "DURATION", default_value = "5m",
          value_parser = crate::duration::parse)]
    pub tolerance: std::time::Duration,
    /// Attempts of a failing handler before the event is kept as failed.
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(i64).range(1..=100))]
    pub max_attempts: i64,
    /// How long one handler run may take before it is stopped and counted as a failed
    /// attempt (retried with backoff); `0s`: no limit.
    #[arg(long, value_name = "DURATION", default_value = "5m",
          value_parser = crate::duration::parse)]
    pub handler_timeout: std::time::Duration,
    /// Put events kept as failed back in line on start.
    #[arg(long)]
    pub retry_failed: bool,
    /// Catch up on what happened while nobody listened, handle it, and exit (no receiver).
    #[arg(long)]
    pub catch_up: bool,
    /// While receiving, look for changes no delivery announced (expiry, lost deliveries)
    /// this often; `0s`: only on start.
    #[arg(long, value_name = "DURATION", default_value = "15m",
          value_parser = crate::duration::parse)]
    pub catch_up_every: std::time::Duration,
    /// Write the log as one JSON object per line.
    #[arg(long)]
    pub json_logs: bool,
    /// On SIGTERM or Ctrl-C, how long the handlers in progress may take to finish.
    #[arg(long, value_name = "DURATION", default_value = "30s",
          value_parser = crate::duration::parse)]
    pub shutdown_grace: std::time::Duration,
    /// With --state-url: how long a replica's claim on the event it is handling lasts
    /// without a heartbeat (renewed every third of it); once it has run out another
    /// replica runs the event again.
    #[arg(long, value_name = "DURATION", default_value = "30s",
          value_parser = parse_lease)]
    pub lease_ttl: std::time::Duration,
    /// With nothing to do, look at the inbox again this often even when no wake-up came
    /// (with --state-url, replicas are woken at once when any of them records an event;
    /// this is the fallback).
    #[arg(long, value_name = "DURATION", default_value = "1s",
          value_parser = parse_look_every)]
    pub look_every: std::time::Duration,
    /// Run up to N handlers at once, each on a thread of its own: every invitation's events
    /// still run one at a time and in order (an invitation belongs to one of the N), so a
    /// slow handler holds up only the invitations that share its thread. --max-memory and
    /// --handler-timeout apply to each.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// A period of at least 10ms: a shorter one would keep the inbox busy answering looks.
fn parse_look_every(s: &str) -> Result<std::time::Duration, String> {
    let d = crate::duration::parse(s)?;
    if d < std::time::Duration::from_millis(10) {
        return Err("look at least 10ms apart".into());
    }
    Ok(d)
}

/// A lease of at least a second: a shorter one would run out between two heartbeats.
fn parse_lease(s: &str) -> Result<std::time::Duration, String> {
    let d = crate::duration::parse(s)?;
    if d < std::time::Duration::from_secs(1) {
        return Err("a lease lasts at least 1s".into());
    }
    Ok(d)
}

#[derive(Debug, Args)]
pub struct CronArgs {
    /// The crontab: lines like `0 9 * * * followup.rhai [ARGS…]` (scripts relative to it).
    pub file: PathBuf,
    /// Check every line and compile every script, then exit (non-zero on any error).
    #[arg(long)]
    pub test: bool,
    /// Print every job's next N fire times, one `<job> <time>` per line, then exit.
    #[arg(long, value_name = "N")]
    pub next: Option<usize>,
    /// Count --next from this time instead of now.
    #[arg(long, value_name = "RFC3339", requires = "next",
          value_parser = crate::api::time::parse_rfc3339)]
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    /// Write the log as one JSON object per line.
    #[arg(long)]
    pub json_logs: bool,
    /// Reload the crontab whenever its file changes (as SIGHUP does; a crontab with errors
    /// is refused and the jobs loaded before keep running).
    #[arg(long)]
    pub watch: bool,
    /// After downtime, run a job once if a time it missed is at most this old; older
    /// missed times are skipped (a job's `grace=` option overrides this).
    #[arg(long, value_name = "DURATION", default_value = "1h",
          value_parser = crate::duration::parse)]
    pub missed_grace: std::time::Duration,
    /// On SIGTERM or Ctrl-C, how long running jobs may take to finish before they are stopped.
    #[arg(long, value_name = "DURATION", default_value = "30s",
          value_parser = crate::duration::parse)]
    pub shutdown_grace: std::time::Duration,
    /// How long a run may take when its line sets no `timeout=` (0s: no limit).
    #[arg(long, value_name = "DURATION", default_value = "10m",
          value_parser = crate::duration::parse)]
    pub job_timeout: std::time::Duration,
    /// With --state-url: the name replicas on every machine share this crontab under
    /// (default: the crontab's file name).
    #[arg(long, value_name = "NAME")]
    pub crontab_name: Option<String>,
    /// With --state-url: how long a running job's lease lasts without a heartbeat (renewed
    /// every third of it); a replica silent for longer has its runs recorded as lost.
    #[arg(long, value_name = "DURATION", default_value = "30s",
          value_parser = crate::duration::parse)]
    pub lease_ttl: std::time::Duration,
    /// Serve /metrics (Prometheus text) and /healthz on this address, e.g.
    /// 127.0.0.1:9464 (port 0 picks a free one; the log says which).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Debug, Args)]
pub struct ReplArgs {
    /// With piped input, go on past errors (the exit status is still the first error's);
    /// by default piped input stops at the first one.
    #[arg(long)]
    pub keep_going: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Bounds on what one script run may do.
#[derive(Debug, Args, Clone)]
pub struct LimitArgs {
    /// Stop a script after this many operations (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 1_000_000_000)]
    pub max_operations: u64,
    /// Deepest nesting of function calls.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_call_depth: usize,
    /// Stop a script that holds more memory than this, however it grows its data
    /// (`512MiB`, `2GiB`; 0: no limit).
    #[arg(long, value_name = "SIZE", default_value = "512MiB",
          value_parser = crate::memory::parse_size)]
    pub max_memory: usize,
    /// Largest string, in bytes (0: only --max-memory bounds it). Any of these three limits
    /// makes every method call on a string, array or map re-measure it.
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    pub max_string_size: usize,
    /// Largest array, in elements (0: only --max-memory bounds it).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_array_size: usize,
    /// Largest map, in entries (0: only --max-memory bounds it).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_map_size: usize,
}

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// The campaigns run against the current target with the current key.
    List,
    /// Where a campaign stands: rows per outcome, invitations per status (with no name: the
    /// campaigns there are).
    Status {
        /// The campaign's name.
        name: Option<String>,
        /// Read each invitation's current status from the API first.
        #[arg(long)]
        refresh: bool,
    },
    /// Write the campaign's report: one self-contained HTML page with the funnel, completions
    /// over time, time to complete and every row. With --json, print its numbers instead.
    Report {
        /// The campaign's name.
        name: String,
        /// Where to write the page (default: NAME.report.html in the current directory;
        /// with --json, no page unless this is given).
        #[arg(long, short = 'o', value_name = "FILE.html")]
        out: Option<PathBuf>,
        /// Bring every invitation's status up to date from the API first (one pass over
        /// the invitation list) and record it in the journal.
        #[arg(long)]
        refresh: bool,
    },
    /// Cancel the campaign's invitations that are still open (pending, in progress, failed).
    Cleanup {
        /// The campaign's name.
        name: String,
        /// Only say how many would be cancelled.
        #[arg(long)]
        dry_run: bool,
        /// Do it on a live key without asking.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Bring the state database's schema up to date (replicas also do it when they start);
    /// prints the version before and after.
    Migrate,
    /// The backend, its schema version, the replicas seen with their last heartbeat, who
    /// holds which lease, and each cron job's progress.
    Status,
}
