//! A crontab read, parsed and checked before anything runs: every line parsed, every
//! script read and compiled, every schedule shown to fire at least once. The scheduler
//! runs only what passed here — at start and on SIGHUP — and `--test` stops here.
//! Every problem comes back as `FILE:LINE: reason`; this module runs no script.

use super::crontab::{self, JobSpec, LineError, Overlap, Timeout, When};
use super::zone;
use crate::engine::bridge::Bridge;
use crate::engine::{self, HostOptions, StdSink};
use crate::stop::Stop;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rhai::{AST, Engine};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;

/// What a line leaves unset.
#[derive(Clone, Copy, Debug)]
pub struct Defaults {
    pub timeout: Duration,
    pub grace: Duration,
}

/// A job ready to run: its line, its compiled script, and its options with defaults applied.
#[derive(Debug)]
pub struct Job {
    pub spec: JobSpec,
    pub ast: Arc<AST>,
    /// `None`: no time limit.
    pub timeout: Option<Duration>,
    pub grace: Duration,
    pub overlap: Overlap,
}

impl Job {
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The script as shown in logs and errors.
    pub fn script_name(&self) -> String {
        self.spec.script.display().to_string()
    }

    /// The schedule as written, with its zone: `*/5 * * * * (Europe/Madrid)`.
    pub fn describe_schedule(&self) -> String {
        match &self.spec.when {
            When::Cron(s) => format!("{} ({})", self.spec.schedule_text, s.tz()),
            When::Reboot => "@reboot".into(),
        }
    }
}

#[derive(Debug)]
pub struct Loaded {
    /// The crontab as named on the command line.
    pub file: String,
    pub path: PathBuf,
    pub jobs: Vec<Arc<Job>>,
    /// The zone of jobs above any `CRON_TZ=`, and where it came from.
    pub zone: (Tz, &'static str),
}

/// Reads and checks the crontab at `path`; `now` is when schedules must fire after.
pub fn load(
    path: &Path,
    defaults: Defaults,
    handle: &Handle,
    now: DateTime<Utc>,
) -> Result<Loaded, Vec<LineError>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![LineError {
            file: file.clone(),
            line: 0,
            reason: format!("cannot read the crontab: {e}"),
        }]
    })?;
    let zone = zone::system_zone();
    let dir = path.parent().unwrap_or(Path::new(""));
    let (specs, mut errors) = crontab::parse_lines(&file, dir, &text, zone.0);

    let engine = compile_engine(handle);
    let mut jobs = vec![];
    for spec in specs {
        let err = |reason: String| LineError {
            file: file.clone(),
            line: spec.line,
            reason,
        };
        if let When::Cron(s) = &spec.when
            && s.next_after(now).is_none()
        {
            errors.push(err(format!(
                "the schedule `{}` never fires",
                spec.schedule_text
            )));
            continue;
        }
        let ast = match compile(&engine, &spec.script) {
            Ok(ast) => ast,
            Err(reason) => {
                errors.push(err(reason));
                continue;
            }
        };
        let timeout = match spec.options.timeout {
            None => Some(defaults.timeout).filter(|d| !d.is_zero()),
            Some(Timeout::After(d)) => Some(d),
            Some(Timeout::Never) => None,
        };
        jobs.push(Arc::new(Job {
            ast: Arc::new(ast),
            timeout,
            grace: spec.options.grace.unwrap_or(defaults.grace),
            overlap: spec.options.overlap,
            spec,
        }));
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(errors);
    }
    Ok(Loaded {
        file,
        path: path.to_path_buf(),
        jobs,
        zone,
    })
}

/// An engine with every namespace registered, for compiling only (it never runs a script).
fn compile_engine(handle: &Handle) -> Engine {
    engine::build(HostOptions {
        limits: Default::default(),
        sink: Arc::new(StdSink),
        api: None,
        bridge: Arc::new(Bridge::new(handle.clone(), Arc::new(Stop::default()))),
        state_dir: None,
        shared_state: None,
        campaign: Default::default(),
        memory: None,
    })
}

fn compile(engine: &Engine, script: &Path) -> Result<AST, String> {
    let name = script.display().to_string();
    let text = engine::script::read(script).map_err(|e| e.to_string())?;
    let mut ast = engine.compile(&text).map_err(|e| {
        let pos = e.position();
        let at = match pos.line() {
            Some(line) => format!(" (at {name}:{line}:{})", pos.position().unwrap_or(1)),
            None => String::new(),
        };
        format!("the script {name} does not compile: {}{at}", e.err_type())
    })?;
    ast.set_source(name);
    Ok(ast)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults {
            timeout: Duration::from_secs(600),
            grace: Duration::from_secs(3_600),
        }
    }

    #[test]
    fn compiles_every_script_and_reports_lines() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("good.rhai"), "print(\"hi\");").unwrap();
        std::fs::write(dir.path().join("bad.rhai"), "let x = ;\n").unwrap();
        let crontab = dir.path().join("crontab");
        std::fs::write(
            &crontab,
            "[timeout=none grace=5m] @hourly good.rhai\n\
             0 0 30 2 * good.rhai\n\
             @daily bad.rhai\n\
             @daily missing.rhai\n\
             [timeout=30s] @daily good.rhai\n\
             [overlap=never] @daily good.rhai\n",
        )
        .unwrap();
        let errors = load(&crontab, defaults(), rt.handle(), Utc::now()).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let file = crontab.display().to_string();
        assert_eq!(text.len(), 4, "{text:#?}");
        assert!(text[0].starts_with(&format!("{file}:2: the schedule `0 0 30 2 *` never fires")));
        assert!(
            text[1].starts_with(&format!("{file}:3: the script ")),
            "{}",
            text[1]
        );
        assert!(text[1].contains("does not compile") && text[1].contains("bad.rhai:1:"));
        assert!(
            text[2].starts_with(&format!("{file}:4: cannot read script ")),
            "{}",
            text[2]
        );
        assert!(
            text[3].starts_with(&format!("{file}:6: overlap=`never`")),
            "{}",
            text[3]
        );

        std::fs::write(
            &crontab,
            "[timeout=none grace=5m] @hourly good.rhai\n[timeout=30s] @daily good.rhai\n@reboot good.rhai\n",
        )
        .unwrap();
        let loaded = load(&crontab, defaults(), rt.handle(), Utc::now()).unwrap();
        let jobs = &loaded.jobs;
        assert_eq!(jobs[0].timeout, None);
        assert_eq!(jobs[0].grace, Duration::from_secs(300));
        assert_eq!(jobs[1].name(), "good#2");
        assert_eq!(jobs[1].timeout, Some(Duration::from_secs(30)));
        assert_eq!(jobs[2].timeout, Some(Duration::from_secs(600)));
        assert_eq!(jobs[2].describe_schedule(), "@reboot");
    }

    #[test]
    fn an_unreadable_crontab_is_one_error() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let errors = load(
            Path::new("/nonexistent/crontab"),
            defaults(),
            rt.handle(),
            Utc::now(),
        )
        .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0]
                .to_string()
                .starts_with("/nonexistent/crontab: cannot read the crontab")
        );
    }
}
