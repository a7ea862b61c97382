//! `zavu-script cron`, run as a real process: a bad crontab refused with `FILE:LINE`,
//! `--next` output, follow-ups on a one-second schedule against a sandbox (each welcome
//! sent once, each expired client re-invited once), timeouts, SIGTERM, SIGHUP and restarts.
//!
//! Tests wait for log lines with generous deadlines and assert what happened, never how
//! long it took.

use crate::support::{Running, TestSandbox, Zs, cmd, repo};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use zavu_script::api::CreateInvitation;

/// Long enough for a slow CI machine; a passing test never waits this long.
pub(crate) const PATIENCE: std::time::Duration = crate::support::PROCESS_PATIENCE;

/// A crontab and its scripts in a throwaway directory.
pub(crate) struct Tab {
    pub(crate) dir: tempfile::TempDir,
}

impl Tab {
    pub(crate) fn new(crontab: &str) -> Tab {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("crontab"), crontab).unwrap();
        Tab { dir }
    }

    pub(crate) fn script(self, name: &str, text: &str) -> Tab {
        std::fs::write(self.dir.path().join(name), text).unwrap();
        self
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.dir.path().join("crontab")
    }

    pub(crate) fn rewrite(&self, crontab: &str) {
        std::fs::write(self.path(), crontab).unwrap();
    }
}

impl Running {
    /// The scheduler against this sandbox, with a private state dir.
    pub(crate) fn against(sb: &TestSandbox, args: &[&str]) -> Running {
        let state = tempfile::tempdir().unwrap();
        let mut c = cmd(state.path());
        c.current_dir(repo())
            .env("ZAVUDEV_API_KEY", &sb.key)
            .env("ZAVUDEV_BASE_URL", sb.url())
            .arg("cron")
            .args(args);
        Running::spawn(c, Some(state))
    }

    /// The scheduler with an in-process sandbox and the given state dir.
    pub(crate) fn sandboxed(state_dir: &Path, args: &[&str]) -> Running {
        let mut c = cmd(state_dir);
        c.current_dir(repo()).args(["--sandbox", "cron"]).args(args);
        Running::spawn(c, None)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_crontab_is_refused_with_file_and_line() {
    let tab = Tab::new(
        "# follow-ups\n\
         0 9 * * * ok.rhai\n\
         0 9 * * 8 ok.rhai\n\
         [timeout=soon] @daily ok.rhai\n\
         @daily broken.rhai\n\
         @daily missing.rhai\n",
    )
    .script("ok.rhai", "print(1);")
    .script("broken.rhai", "let = 1;");
    let file = tab.path().display().to_string();
    let done = Zs::bare().args(["cron", &file, "--test"]).run().await;
    done.expect_code(2);
    let errors: Vec<&str> = done.stderr.lines().collect();
    assert!(
        errors[0].starts_with(&format!("{file}:3: day-of-week `8`")),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with(&format!("{file}:4: timeout: ")),
        "{errors:?}"
    );
    assert!(
        errors[2].starts_with(&format!("{file}:5: the script "))
            && errors[2].contains("does not compile"),
        "{errors:?}"
    );
    assert!(
        errors[3].starts_with(&format!("{file}:6: cannot read script ")),
        "{errors:?}"
    );
    assert!(
        errors[4].contains("4 errors; nothing was started"),
        "{errors:?}"
    );

    // Without --test it does not start either.
    let done = Zs::bare().args(["--sandbox", "cron", &file]).run().await;
    done.expect_code(2);
    assert!(done.stderr.contains(&format!("{file}:3: ")));
    assert!(!done.stderr.contains("loaded"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sample_crontab_passes_its_test() {
    let done = Zs::bare()
        .args(["cron", "scripts/crontab", "--test"])
        .run()
        .await;
    done.ok();
    assert_eq!(done.stderr.trim(), "scripts/crontab: ok (1 job)");
}

#[tokio::test(flavor = "multi_thread")]
async fn next_lists_fire_times_with_offsets() {
    let tab = Tab::new(
        "CRON_TZ=Europe/Madrid\n\
         [name=madrid] 30 2 * * * f.rhai\n\
         CRON_TZ=America/New_York\n\
         [name=new-york] 30 1 * * * f.rhai\n\
         CRON_TZ=UTC\n\
         [name=fridays-and-13ths] 0 9 13 * 5 f.rhai\n\
         [name=weekdays] 0 8 * * 1-5 f.rhai\n",
    )
    .script("f.rhai", "1");
    let done = Zs::bare()
        .args([
            "cron",
            &tab.path().display().to_string(),
            "--next",
            "3",
            "--now",
            "2026-03-28T12:00:00+01:00",
        ])
        .run()
        .await;
    done.ok();
    assert_eq!(
        done.lines(),
        [
            // 02:30 does not exist on 29 March in Madrid: once, at 03:00.
            "madrid 2026-03-29T03:00:00+02:00",
            "madrid 2026-03-30T02:30:00+02:00",
            "madrid 2026-03-31T02:30:00+02:00",
            "new-york 2026-03-29T01:30:00-04:00",
            "new-york 2026-03-30T01:30:00-04:00",
            "new-york 2026-03-31T01:30:00-04:00",
            // Fridays, or the 13th: 2026-04-13 is a Monday.
            "fridays-and-13ths 2026-04-03T09:00:00+00:00",
            "fridays-and-13ths 2026-04-10T09:00:00+00:00",
            "fridays-and-13ths 2026-04-13T09:00:00+00:00",
            "weekdays 2026-03-30T08:00:00+00:00",
            "weekdays 2026-03-31T08:00:00+00:00",
            "weekdays 2026-04-01T08:00:00+00:00",
        ]
    );

    // Around the autumn change in New York, 01:30 happens twice and fires once.
    let done = Zs::bare()
        .args([
            "cron",
            &tab.path().display().to_string(),
            "--next",
            "2",
            "--now",
            "2026-10-31T12:00:00Z",
        ])
        .run()
        .await;
    done.ok();
    let ny: Vec<&str> = done
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("new-york "))
        .collect();
    assert_eq!(
        ny,
        [
            "new-york 2026-11-01T01:30:00-04:00",
            "new-york 2026-11-02T01:30:00-05:00"
        ]
    );
}

fn client(name: &str, phone: Option<&str>) -> CreateInvitation {
    CreateInvitation {
        client_name: Some(name.into()),
        client_email: Some(format!("{}@example.com", name.to_lowercase())),
        client_phone: phone.map(String::from),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_followups_welcome_once_and_reinvite_once() {
    let sb = TestSandbox::start().await;
    let api = sb.client();
    let acme = api
        .create_invitation(&client("Acme", Some("+14155550101")))
        .await
        .unwrap();
    let globex = api
        .create_invitation(&client("Globex", Some("+14155550102")))
        .await
        .unwrap();
    api.create_invitation(&client("Initech", Some("+14155550103")))
        .await
        .unwrap();
    api.create_invitation(&client("Umbrella", None))
        .await
        .unwrap();
    sb.complete(&acme.id).await;
    sb.complete(&globex.id).await;
    // Past the default 7 days: Initech's and Umbrella's invitations expire.
    sb.advance_clock(8 * 86_400).await;

    let followup = repo().join("scripts/followup.rhai");
    let tab = Tab::new(&format!(
        "[name=followup] */1 * * * * * {}\n",
        followup.display()
    ));
    let mut cron = Running::against(&sb, &[&tab.path().display().to_string()]);
    // Three runs: the first does the work, the later ones must find nothing left to do.
    cron.wait_for("]: finished in", 3).await;
    cron.signal("TERM");
    assert_eq!(cron.exit_code().await, 0, "{}", cron.log().join("\n"));

    let log = cron.log();
    let ok_runs = cron.count("]: finished in") - cron.count(": failed");
    assert!(ok_runs >= 3, "{}", log.join("\n"));
    assert_eq!(
        cron.count("> welcomes: sent 2, already sent 0"),
        1,
        "{}",
        log.join("\n")
    );
    assert!(cron.count("> welcomes: sent 0, already sent 2") >= 2);
    assert_eq!(cron.count("> re-invitations: sent 2, already sent 0"), 1);
    assert!(cron.count("> re-invitations: sent 0, already sent 2") >= 2);
    assert_eq!(cron.count("> welcomed Acme"), 1);
    assert_eq!(cron.count("> welcomed Globex"), 1);

    // The server's own count: two welcomes, two new invitations, nothing twice.
    let stats = sb.stats().await;
    assert_eq!(stats["messages"], 2, "{stats}");
    assert_eq!(
        stats["invitations"],
        json!({"completed": 2, "expired": 2, "pending": 2}),
        "{stats}"
    );
    let messages = sb
        .raw(reqwest::Method::GET, "/v1/messages")
        .bearer_auth(&sb.key)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let mut sent: Vec<(String, String, String)> = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["to"].as_str().unwrap().to_string(),
                m["senderId"].as_str().unwrap().to_string(),
                m["content"]["templateId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    sent.sort();
    let acme_now = sb.client().get_invitation(&acme.id).await.unwrap();
    let globex_now = sb.client().get_invitation(&globex.id).await.unwrap();
    assert_eq!(
        sent,
        [
            (
                "+14155550101".to_string(),
                acme_now.sender_id.clone().unwrap(),
                "tmpl_xyz789".to_string()
            ),
            (
                "+14155550102".to_string(),
                globex_now.sender_id.clone().unwrap(),
                "tmpl_xyz789".to_string()
            ),
        ]
    );
    let pending = sb
        .client()
        .list_invitations(&zavu_script::api::ListInvitations {
            status: Some("pending".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut reinvited: Vec<String> = pending
        .items
        .iter()
        .map(|i| i.client_name.clone().unwrap_or_default())
        .collect();
    reinvited.sort();
    assert_eq!(reinvited, ["Initech", "Umbrella"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn followup_also_runs_on_its_own() {
    let done = Zs::bare()
        .args(["--sandbox", "run", "scripts/followup.rhai", "demo"])
        .run()
        .await;
    done.ok();
    let mut lines = done.lines();
    lines.sort();
    assert_eq!(lines.len(), 7, "{lines:?}");
    assert!(lines[0].starts_with("completed: 1"));
    assert!(lines[1].starts_with("expired: 2"));
    assert!(lines[2].starts_with("re-invitations: sent 2, already sent 0"));
    assert!(lines[3].starts_with("re-invited Globex ("));
    assert!(lines[4].starts_with("re-invited Initech ("));
    assert!(lines[5].starts_with("welcomed Acme Corp ("));
    assert!(lines[6].starts_with("welcomes: sent 1, already sent 0, no phone 0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_waits_for_the_running_job_and_exits_0() {
    let tab = Tab::new("@reboot slow.rhai\n").script(
        "slow.rhai",
        "print(\"begin\");\nsleep(2);\nprint(\"end\");\n",
    );
    let state = tempfile::tempdir().unwrap();
    let mut cron = Running::sandboxed(state.path(), &[&tab.path().display().to_string()]);
    cron.wait_for("slow[1]> begin", 1).await;
    cron.signal("TERM");
    assert_eq!(cron.exit_code().await, 0, "{}", cron.log().join("\n"));
    let waiting = cron.position("SIGTERM: no new runs; waiting up to 30s for 1 running job");
    let end = cron.position("slow[1]> end");
    let finished = cron.position("slow[1]: finished in");
    let stopped = cron.position("cron: SIGTERM: stopped");
    assert!(waiting < end && end < finished && finished < stopped);
    assert!(
        cron.log()[finished].ends_with(": ok"),
        "{}",
        cron.log()[finished]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_over_its_timeout_is_stopped_and_the_scheduler_goes_on() {
    let tab = Tab::new(
        "[timeout=1s] @reboot spin.rhai\n\
         [name=tick] */1 * * * * * tick.rhai\n",
    )
    .script("spin.rhai", "print(\"spinning\");\nloop { }\n")
    .script("tick.rhai", "print(\"tick\");\n");
    let state = tempfile::tempdir().unwrap();
    let mut cron = Running::sandboxed(state.path(), &[&tab.path().display().to_string()]);
    cron.wait_for("spin[1]: finished in", 1).await;
    let stopped = cron.position("spin[1]: finished in");
    assert!(
        cron.log()[stopped].contains(": timed out (limit 1s)"),
        "{}",
        cron.log()[stopped]
    );
    // Later runs of other jobs still happen.
    let ticks_before = cron.count("> tick");
    cron.wait_for("> tick", ticks_before + 1).await;
    cron.signal("INT");
    assert_eq!(cron.exit_code().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_only_a_valid_crontab() {
    let tab =
        Tab::new("[name=tick] */1 * * * * * tick.rhai\n").script("tick.rhai", "print(\"tick\");\n");
    let state = tempfile::tempdir().unwrap();
    let file = tab.path().display().to_string();
    let mut cron = Running::sandboxed(state.path(), &[&file]);
    cron.wait_for("tick[", 1).await;

    tab.rewrite("[name=tock] */1 * * * * 9 tick.rhai\n");
    cron.signal("HUP");
    cron.wait_for("still running the 1 job loaded before", 1)
        .await;
    assert_eq!(cron.count(&format!("{file}:1: day-of-week `9`")), 1);
    let runs = cron.count("tick[");
    cron.wait_for("tick[", runs + 1).await;

    tab.rewrite("[name=tock] */1 * * * * * tick.rhai\n");
    cron.signal("HUP");
    cron.wait_for("reloaded: 1 job", 1).await;
    cron.wait_for("tock[", 1).await;
    cron.signal("TERM");
    assert_eq!(cron.exit_code().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn after_downtime_a_missed_job_runs_once_or_is_skipped() {
    use zavu_script::cron::state::{CronState, JobState, StateFile};
    let tab = Tab::new(
        "[name=minutely] * * * * * m.rhai\n\
         [name=new-year] 0 0 1 1 * m.rhai\n",
    )
    .script("m.rhai", "print(\"ran\");\n");
    let state_dir = tempfile::tempdir().unwrap();
    // The scheduler was last here ten minutes ago (and two years ago for new-year).
    let now = chrono::Utc::now();
    let mut state = CronState::default();
    for (job, ago) in [("minutely", 600), ("new-year", 2 * 366 * 86_400)] {
        state.jobs.insert(
            job.into(),
            JobState {
                handled_until: Some(now - chrono::Duration::seconds(ago)),
                ..Default::default()
            },
        );
    }
    StateFile::for_crontab(state_dir.path(), &tab.path())
        .save(&state)
        .unwrap();

    let file = tab.path().display().to_string();
    let mut cron = Running::sandboxed(state_dir.path(), &[&file, "--missed-grace", "5m"]);
    cron.wait_for("minutely[1]: finished in", 1).await;
    cron.wait_for("new-year: missed its runs since", 1).await;
    cron.signal("TERM");
    assert_eq!(cron.exit_code().await, 0);
    // Ten missed minutes, one run.
    assert_eq!(
        cron.count("minutely[1]: started (catching up the run missed at"),
        1
    );
    assert!(
        cron.count("grace period: skipped") == 1,
        "{}",
        cron.log().join("\n")
    );
    assert_eq!(cron.count("new-year["), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_stay_json_with_debug_on() {
    let sb = TestSandbox::start().await;
    let tab = Tab::new("@reboot list.rhai\n")
        .script("list.rhai", "print(zavu.invitations.list().items.len());\n");
    // `--debug` is global: put it where a user would, before the subcommand.
    let state = tempfile::tempdir().unwrap();
    let mut c = cmd(state.path());
    c.current_dir(repo())
        .env("ZAVUDEV_API_KEY", &sb.key)
        .env("ZAVUDEV_BASE_URL", sb.url())
        .args(["--debug", "cron", "--json-logs"])
        .arg(tab.path());
    let mut cron = Running::spawn(c, Some(state));
    cron.wait_for("finished in", 1).await;
    cron.signal("TERM");
    assert_eq!(cron.exit_code().await, 0);
    let log = cron.log();
    assert!(
        log.iter()
            .any(|l| l.contains("GET ") && l.contains("/v1/invitations")),
        "the request was logged: {log:?}"
    );
    for line in &log {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        assert!(v.is_object(), "{line}");
        assert!(!line.contains('\u{1b}'), "no colour codes: {line:?}");
        assert!(!line.contains(&sb.key), "the key never shows: {line}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_scheduler_on_the_same_crontab_is_refused_naming_the_first() {
    let tab =
        Tab::new("[name=tick] */1 * * * * * tick.rhai\n").script("tick.rhai", "print(\"tick\");\n");
    let state = tempfile::tempdir().unwrap();
    let file = tab.path().display().to_string();
    let mut first = Running::sandboxed(state.path(), &[&file]);
    first.wait_for("tick[", 1).await;

    let mut c = cmd(state.path());
    c.current_dir(repo()).args(["--sandbox", "cron", &file]);
    let second = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    let pid = first.child.id().to_string();
    assert!(
        stderr.contains(&format!(
            "another zavu-script cron (process {pid}) is already running"
        )),
        "{stderr}"
    );
    // Another state directory is another scheduler, on purpose.
    let other = tempfile::tempdir().unwrap();
    let mut third = Running::sandboxed(other.path(), &[&file]);
    third.wait_for("tick[", 1).await;
    third.signal("TERM");
    assert_eq!(third.exit_code().await, 0);

    first.signal("TERM");
    assert_eq!(first.exit_code().await, 0);
    // The lock went with the process: a new one starts.
    let mut again = Running::sandboxed(state.path(), &[&file]);
    again.wait_for("tick[", 1).await;
    again.signal("TERM");
    assert_eq!(again.exit_code().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_common_signal_is_handled_on_purpose() {
    let tab =
        Tab::new("[name=tick] */1 * * * * * tick.rhai\n").script("tick.rhai", "print(\"tick\");\n");
    let state = tempfile::tempdir().unwrap();
    let file = tab.path().display().to_string();
    let mut cron = Running::sandboxed(state.path(), &[&file]);
    cron.wait_for("tick[", 1).await;

    // SIGUSR1: a status line; nothing stops.
    cron.signal("USR1");
    cron.wait_for("SIGUSR1: 1 job from", 1).await;
    assert!(cron.log().iter().any(|l| l.contains("; next: tick at ")));

    // SIGUSR2 reloads, as supercronic does.
    tab.rewrite("[name=tock] */1 * * * * * tick.rhai\n");
    cron.signal("USR2");
    cron.wait_for("SIGUSR2: reloading", 1).await;
    cron.wait_for("tock[", 1).await;

    // SIGQUIT stops gracefully, like SIGTERM: exit 0, with the state saved.
    cron.signal("QUIT");
    assert_eq!(cron.exit_code().await, 0, "{}", cron.log().join("\n"));
    cron.wait_for("SIGQUIT: stopped", 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_reloads_when_the_crontab_changes() {
    let tab =
        Tab::new("[name=tick] */1 * * * * * tick.rhai\n").script("tick.rhai", "print(\"tick\");\n");
    let state = tempfile::tempdir().unwrap();
    let file = tab.path().display().to_string();
    let mut cron = Running::sandboxed(state.path(), &[&file, "--watch"]);
    cron.wait_for("tick[", 1).await;

    // A broken edit is refused; the jobs loaded before go on.
    tab.rewrite("[name=tock] */1 * * * * 9 tick.rhai\n");
    cron.wait_for("the crontab changed: reloading", 1).await;
    cron.wait_for("still running the 1 job loaded before", 1)
        .await;
    // The fixed one replaces it, written the way editors do: a new file renamed over it.
    let tmp = tab.dir.path().join(".crontab.swp");
    std::fs::write(&tmp, "[name=tock] */1 * * * * * tick.rhai\n").unwrap();
    std::fs::rename(&tmp, tab.path()).unwrap();
    cron.wait_for("reloaded: 1 job", 1).await;
    cron.wait_for("tock[", 1).await;
    cron.signal("TERM");
    assert_eq!(cron.exit_code().await, 0);
}
