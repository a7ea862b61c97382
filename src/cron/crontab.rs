//! The crontab file: lines of text in, jobs out, and every bad line reported as
//! `FILE:LINE: reason` — all of them at once, so one `--test` shows every mistake.
//!
//! ```text
//! # comment
//! CRON_TZ=Europe/Madrid                      # zone for the jobs below (until the next CRON_TZ=)
//! 0 9 * * MON-FRI followup.rhai              # m h dom mon dow script [args…]
//! */10 * * * * * heartbeat.rhai              # 6 fields: seconds first
//! @daily report.rhai --all                   # @hourly @daily @weekly @monthly @yearly @reboot
//! [name=sweep timeout=2m overlap=queue grace=30m] 0 * * * * sweep.rhai
//! ```
//!
//! The first token ending in `.rhai` is the script (relative to the crontab's directory);
//! the tokens before it are the schedule, the ones after it the script's `ARGS`. Tokens
//! may be quoted with `'…'` or `"…"`. This module only parses: it reads no script and
//! knows no clock.

use super::schedule::Schedule;
use crate::duration;
use chrono_tz::Tz;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One bad line (or the whole file, for line 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.reason)
        }
    }
}

/// When a job fires.
#[derive(Clone, Debug, PartialEq)]
pub enum When {
    Cron(Schedule),
    /// Once, when the scheduler starts.
    Reboot,
}

/// What to do when a job's time comes while its previous run is still going.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Overlap {
    /// Skip this time and log it.
    #[default]
    Skip,
    /// Run once more as soon as the current run ends (at most one waits).
    Queue,
    /// Start another run alongside.
    Allow,
}

impl fmt::Display for Overlap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Overlap::Skip => "skip",
            Overlap::Queue => "queue",
            Overlap::Allow => "allow",
        })
    }
}

/// A job's time limit, when the line sets one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    After(Duration),
    Never,
}

/// The `[key=value …]` options of a line; unset ones take the scheduler's defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobOptions {
    pub name: Option<String>,
    pub timeout: Option<Timeout>,
    pub overlap: Overlap,
    pub grace: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct JobSpec {
    /// Unique in the crontab: the `name=` option, else the script's file stem (with
    /// `#LINE` added when an earlier job already has that name).
    pub name: String,
    pub line: usize,
    pub when: When,
    /// The schedule as written (`*/5 * * * *`, `@daily`), for logs.
    pub schedule_text: String,
    /// The script as written on the line.
    pub script_text: String,
    /// The script's path, resolved against the crontab's directory.
    pub script: PathBuf,
    pub args: Vec<String>,
    pub options: JobOptions,
}

const OPTION_KEYS: &[&str] = &["name", "timeout", "overlap", "grace"];

/// Every job of a crontab, or every bad line. `file` is the name used in messages,
/// `dir` the directory scripts are relative to, `default_tz` the zone before any `CRON_TZ=`.
pub fn parse(
    file: &str,
    dir: &Path,
    text: &str,
    default_tz: Tz,
) -> Result<Vec<JobSpec>, Vec<LineError>> {
    let (jobs, errors) = parse_lines(file, dir, text, default_tz);
    if errors.is_empty() {
        Ok(jobs)
    } else {
        Err(errors)
    }
}

/// The good lines' jobs and the bad lines' errors, so a caller can check the good jobs
/// further and report everything at once.
pub fn parse_lines(
    file: &str,
    dir: &Path,
    text: &str,
    default_tz: Tz,
) -> (Vec<JobSpec>, Vec<LineError>) {
    let mut jobs: Vec<JobSpec> = vec![];
    let mut errors = vec![];
    let mut tz = default_tz;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |reason: String| LineError {
            file: file.to_string(),
            line,
            reason,
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            match parse_assignment(trimmed, default_tz) {
                Ok(zone) => tz = zone,
                Err(reason) => errors.push(err(reason)),
            }
            continue;
        }
        match parse_job(trimmed, line, dir, tz) {
            Ok(mut job) => {
                if let Some(name) = &job.options.name {
                    if let Some(other) = jobs.iter().find(|j| &j.name == name) {
                        errors.push(err(format!(
                            "the job name `{name}` is already used on line {}",
                            other.line
                        )));
                        continue;
                    }
                } else if jobs.iter().any(|j| j.name == job.name) {
                    job.name = format!("{}#{line}", job.name);
                }
                jobs.push(job);
            }
            Err(reason) => errors.push(err(reason)),
        }
    }
    (jobs, errors)
}

/// `CRON_TZ=Area/City` (an empty value goes back to the default zone).
fn parse_assignment(line: &str, default_tz: Tz) -> Result<Tz, String> {
    let Some((name, value)) = line.split_once('=') else {
        return Err(format!(
            "expected a schedule (like `0 9 * * *` or `@daily`) or `CRON_TZ=Area/City`, found `{}`",
            line.split_whitespace().next().unwrap_or(line)
        ));
    };
    let name = name.trim();
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    if name != "CRON_TZ" {
        return Err(format!(
            "`{name}=` is not supported: the only setting a crontab line can make is \
             CRON_TZ=Area/City (scripts read the scheduler's environment with env())"
        ));
    }
    if value.is_empty() {
        return Ok(default_tz);
    }
    value.parse::<Tz>().map_err(|_| {
        format!("CRON_TZ: `{value}` is not a known time zone (use an IANA name such as Europe/Madrid or UTC)")
    })
}

fn parse_job(line: &str, lineno: usize, dir: &Path, tz: Tz) -> Result<JobSpec, String> {
    let (options, rest) = if let Some(after) = line.strip_prefix('[') {
        let Some(end) = after.find(']') else {
            return Err("the options group `[` is not closed with `]`".into());
        };
        (parse_options(&after[..end])?, &after[end + 1..])
    } else {
        (JobOptions::default(), line)
    };
    let tokens = tokenize(rest)?;
    let Some(at) = tokens.iter().position(|t| t.ends_with(".rhai")) else {
        return Err(
            "no script: after the schedule, a job names a script ending in `.rhai` \
             (like `0 9 * * * followup.rhai`)"
                .into(),
        );
    };
    let schedule: Vec<&str> = tokens[..at].iter().map(String::as_str).collect();
    let (when, schedule_text) = parse_when(&schedule, tz)?;
    let script_text = tokens[at].clone();
    let script = {
        let p = Path::new(&script_text);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            dir.join(p)
        }
    };
    let name = match &options.name {
        Some(n) => n.clone(),
        None => default_name(&script_text, lineno),
    };
    Ok(JobSpec {
        name,
        line: lineno,
        when,
        schedule_text,
        script_text,
        script,
        args: tokens[at + 1..].to_vec(),
        options,
    })
}

fn parse_when(fields: &[&str], tz: Tz) -> Result<(When, String), String> {
    let Some(first) = fields.first() else {
        return Err("no schedule before the script (like `0 9 * * *` or `@daily`)".into());
    };
    if let Some(word) = first.strip_prefix('@') {
        if fields.len() > 1 {
            return Err(format!(
                "`{first}` is a whole schedule; found more fields after it ({})",
                fields[1..].join(" ")
            ));
        }
        let expansion = match word.to_ascii_lowercase().as_str() {
            "reboot" => return Ok((When::Reboot, "@reboot".into())),
            "yearly" | "annually" => "0 0 1 1 *",
            "monthly" => "0 0 1 * *",
            "weekly" => "0 0 * * 0",
            "daily" | "midnight" => "0 0 * * *",
            "hourly" => "0 * * * *",
            _ => {
                return Err(format!(
                    "`{first}` is not a schedule: use @reboot, @hourly, @daily, @weekly, @monthly or @yearly"
                ));
            }
        };
        let f: Vec<&str> = expansion.split(' ').collect();
        let schedule = Schedule::parse(&f, tz)?;
        return Ok((When::Cron(schedule), first.to_string()));
    }
    let schedule = Schedule::parse(fields, tz)?;
    Ok((When::Cron(schedule), fields.join(" ")))
}

fn parse_options(text: &str) -> Result<JobOptions, String> {
    let mut o = JobOptions::default();
    let mut seen: Vec<&str> = vec![];
    for item in text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
    {
        let Some((key, value)) = item.split_once('=') else {
            return Err(format!(
                "option `{item}` needs a value, like timeout=5m (options: {})",
                OPTION_KEYS.join(", ")
            ));
        };
        if seen.contains(&key) {
            return Err(format!("option `{key}` is given twice"));
        }
        match key {
            "name" => {
                let valid = !value.is_empty()
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                if !valid {
                    return Err(format!(
                        "name=`{value}`: a job name uses letters, digits, `-`, `_` and `.`"
                    ));
                }
                o.name = Some(value.to_string());
            }
            "timeout" => {
                o.timeout = Some(if matches!(value, "none" | "never") {
                    Timeout::Never
                } else {
                    let d = duration::parse(value).map_err(|e| format!("timeout: {e}"))?;
                    if d.is_zero() {
                        return Err(
                            "timeout: must be longer than 0s (or `none` for no limit)".into()
                        );
                    }
                    Timeout::After(d)
                });
            }
            "overlap" => {
                o.overlap = match value {
                    "skip" => Overlap::Skip,
                    "queue" => Overlap::Queue,
                    "allow" => Overlap::Allow,
                    _ => {
                        return Err(format!(
                            "overlap=`{value}`: use skip (the default), queue or allow"
                        ));
                    }
                };
            }
            "grace" => {
                o.grace = Some(duration::parse(value).map_err(|e| format!("grace: {e}"))?);
            }
            _ => {
                let hint = crate::api::validate::suggest(key, OPTION_KEYS)
                    .map(|s| format!(" — did you mean `{s}`?"))
                    .unwrap_or_default();
                return Err(format!(
                    "unknown option `{key}`{hint} (options: {})",
                    OPTION_KEYS.join(", ")
                ));
            }
        }
        seen.push(key);
    }
    Ok(o)
}

/// Splits on whitespace; `'…'` and `"…"` keep spaces inside one token.
fn tokenize(text: &str) -> Result<Vec<String>, String> {
    let mut tokens = vec![];
    let mut current = String::new();
    let mut in_token = false;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_token = true;
            }
            None if c.is_whitespace() => {
                if in_token {
                    tokens.push(std::mem::take(&mut current));
                    in_token = false;
                }
            }
            None => {
                current.push(c);
                in_token = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("a quote `{q}` is not closed"));
    }
    if in_token {
        tokens.push(current);
    }
    Ok(tokens)
}

/// The script's file stem, made fit for a name.
fn default_name(script: &str, line: usize) -> String {
    let stem = Path::new(script)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        format!("job{line}")
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, SecondsFormat, Utc};

    fn jobs(text: &str) -> Vec<JobSpec> {
        parse("crontab", Path::new("/etc/zs"), text, Tz::UTC).unwrap()
    }

    fn errors(text: &str) -> Vec<String> {
        parse("crontab", Path::new("/etc/zs"), text, Tz::UTC)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn first_fire(job: &JobSpec, from: &str) -> String {
        let When::Cron(s) = &job.when else {
            panic!("not a cron job")
        };
        let from = DateTime::parse_from_rfc3339(from)
            .unwrap()
            .with_timezone(&Utc);
        s.upcoming(from, 1)[0].to_rfc3339_opts(SecondsFormat::Secs, false)
    }

    #[test]
    fn five_and_six_field_lines_comments_and_args() {
        let js = jobs(
            "# follow-ups\n\n  0 9 * * MON-FRI followup.rhai\n*/10 * * * * * sub/beat.rhai --fast 'two words'\n",
        );
        assert_eq!(js.len(), 2);
        assert_eq!(js[0].name, "followup");
        assert_eq!(js[0].line, 3);
        assert_eq!(js[0].schedule_text, "0 9 * * MON-FRI");
        assert_eq!(js[0].script, Path::new("/etc/zs/followup.rhai"));
        assert!(js[0].args.is_empty());
        assert_eq!(js[1].name, "beat");
        assert_eq!(js[1].schedule_text, "*/10 * * * * *");
        assert_eq!(js[1].script, Path::new("/etc/zs/sub/beat.rhai"));
        assert_eq!(js[1].args, ["--fast", "two words"]);
        assert_eq!(
            first_fire(&js[1], "2026-01-01T00:00:01Z"),
            "2026-01-01T00:00:10+00:00"
        );
    }

    #[test]
    fn macros() {
        let js = jobs(
            "@hourly a.rhai\n@daily b.rhai\n@weekly c.rhai\n@monthly d.rhai\n@yearly e.rhai\n@reboot f.rhai\n@midnight g.rhai\n",
        );
        let from = "2026-01-07T10:30:00Z"; // a Wednesday
        assert_eq!(first_fire(&js[0], from), "2026-01-07T11:00:00+00:00");
        assert_eq!(first_fire(&js[1], from), "2026-01-08T00:00:00+00:00");
        assert_eq!(first_fire(&js[2], from), "2026-01-11T00:00:00+00:00");
        assert_eq!(first_fire(&js[3], from), "2026-02-01T00:00:00+00:00");
        assert_eq!(first_fire(&js[4], from), "2027-01-01T00:00:00+00:00");
        assert_eq!(js[5].when, When::Reboot);
        assert_eq!(first_fire(&js[6], from), "2026-01-08T00:00:00+00:00");
        assert_eq!(js[1].schedule_text, "@daily");
    }

    #[test]
    fn cron_tz_applies_to_the_jobs_below_it() {
        let js = jobs(
            "0 9 * * * utc.rhai\nCRON_TZ=Europe/Madrid\n0 9 * * * madrid.rhai\nCRON_TZ=\"America/New_York\"\n0 9 * * * ny.rhai\nCRON_TZ=\n0 9 * * * back.rhai\n",
        );
        let from = "2026-07-01T00:00:00Z";
        assert_eq!(first_fire(&js[0], from), "2026-07-01T09:00:00+00:00");
        assert_eq!(first_fire(&js[1], from), "2026-07-01T09:00:00+02:00");
        assert_eq!(first_fire(&js[2], from), "2026-07-01T09:00:00-04:00");
        assert_eq!(first_fire(&js[3], from), "2026-07-01T09:00:00+00:00");
    }

    #[test]
    fn options_and_names() {
        let js = jobs(
            "[name=welcome timeout=90s overlap=queue grace=2h] 0 9 * * * followup.rhai\n\
             [timeout=none,overlap=allow] @hourly followup.rhai\n\
             @daily report.rhai\n",
        );
        assert_eq!(js[0].name, "welcome");
        assert_eq!(
            js[0].options,
            JobOptions {
                name: Some("welcome".into()),
                timeout: Some(Timeout::After(Duration::from_secs(90))),
                overlap: Overlap::Queue,
                grace: Some(Duration::from_secs(7_200)),
            }
        );
        assert_eq!(js[1].name, "followup");
        assert_eq!(js[1].options.timeout, Some(Timeout::Never));
        assert_eq!(js[1].options.overlap, Overlap::Allow);
        assert_eq!(js[2].options, JobOptions::default());
        // A second job on the same script gets the line number in its name.
        let js = jobs("@hourly followup.rhai\n@daily followup.rhai a\n");
        assert_eq!(js[1].name, "followup#2");
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number() {
        let errs = errors(
            "# ok\n\
             0 9 * * * followup.rhai\n\
             0 9 * * 8 a.rhai\n\
             0 9 * * b.rhai\n\
             0 9 * * *\n\
             MAILTO=me@example.com\n\
             CRON_TZ=Mars/Olympus\n\
             @often c.rhai\n\
             [timeout=5] @daily d.rhai\n\
             [overlap=wait] @daily e.rhai\n\
             [retries=3] @daily f.rhai\n\
             [name=followup] @daily g.rhai\n\
             [timeout=5m @daily h.rhai\n\
             @daily i.rhai 'open\n\
             @daily @hourly j.rhai\n\
             [timout=5m] @daily k.rhai\n",
        );
        let expect = [
            "crontab:3: day-of-week `8`: `8` is not a day of the week",
            "crontab:4: a schedule has 5 fields",
            "crontab:5: no script",
            "crontab:6: `MAILTO=` is not supported",
            "crontab:7: CRON_TZ: `Mars/Olympus` is not a known time zone",
            "crontab:8: `@often` is not a schedule",
            "crontab:9: timeout: `5` needs a unit",
            "crontab:10: overlap=`wait`: use skip",
            "crontab:11: unknown option `retries`",
            "crontab:12: the job name `followup` is already used on line 2",
            "crontab:13: the options group `[` is not closed",
            "crontab:14: a quote `'` is not closed",
            "crontab:15: `@daily` is a whole schedule",
            "crontab:16: unknown option `timout` — did you mean `timeout`?",
        ];
        assert_eq!(errs.len(), expect.len(), "{errs:#?}");
        for (e, want) in errs.iter().zip(expect) {
            assert!(e.starts_with(want), "{e:?} should start with {want:?}");
        }
    }
}
