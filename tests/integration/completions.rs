//! Shell completion as a person uses it: the script `zavu-script completions SHELL` prints,
//! sourced into a real bash and zsh in a pseudo-terminal with Tab pressed, and asked of a
//! real fish. The shells come from the test set-up (`tests/setup.sh`); a missing one fails
//! the test with that reason rather than passing it unchecked.

use crate::support::bin;
use rexpect::session::{Options, PtySession, spawn_with_options};
use std::process::Command;

const TIMEOUT_MS: u64 = 10_000;

/// `shell`'s path, or a failure that says how to get it.
fn shell(name: &str) -> String {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .expect("sh runs");
    let path = String::from_utf8_lossy(&found.stdout).trim().to_string();
    assert!(
        found.status.success() && !path.is_empty(),
        "{name} is not installed: run tests/setup.sh (it installs bash, zsh and fish)"
    );
    path
}

/// A directory whose `zavu-script` is the binary under test, for PATH.
fn bin_dir() -> String {
    bin().parent().expect("bin dir").display().to_string()
}

/// An interactive shell in a pty with the completion script loaded; `prompt` is what it
/// prints when ready.
fn interactive(program: &str, args: &[&str], setup: &[String], prompt: &str) -> PtySession {
    let mut c = Command::new(program);
    c.args(args)
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir()))
        .env("TERM", "dumb")
        .env("HOME", std::env::temp_dir());
    let mut p = spawn_with_options(
        c,
        Options::new()
            .timeout_ms(Some(TIMEOUT_MS))
            .strip_ansi_escape_codes(true),
    )
    .expect("the shell starts in a pty");
    for line in setup {
        p.send_line(line).expect("the shell reads");
    }
    p.send_line("echo READY-$((20+22))")
        .expect("the shell reads");
    p.exp_string("READY-42").expect("the shell is ready");
    p.exp_string(prompt).expect("a prompt");
    p
}

/// Leaves the shell the way a person would (an interactive shell ignores SIGTERM).
fn leave(mut p: PtySession) {
    p.send_control('u').unwrap();
    p.send_line("exit").unwrap();
    p.exp_eof().expect("the shell exits");
}

#[test]
fn bash_completes_subcommands_and_their_flags() {
    let bash = shell("bash");
    let mut p = interactive(
        &bash,
        &["--norc", "--noprofile", "-i"],
        &[
            "PS1='$ '".to_string(),
            "bind 'set show-all-if-ambiguous on' 2>/dev/null".to_string(),
            "source <(zavu-script completions bash)".to_string(),
        ],
        "$ ",
    );
    p.send("zavu-script campaign \t").unwrap();
    p.flush().unwrap();
    // The choices are listed in one row: `list  status  cleanup  help`.
    let shown = p.exp_string("help").expect("the choices");
    for word in ["list", "status", "cleanup"] {
        assert!(shown.contains(word), "{word} in {shown:?}");
    }
    assert!(
        !shown.contains("--api-key"),
        "flags wait for a dash: {shown:?}"
    );
    // Two flags start with `--j` for cron, two with `--r` for run: both are listed.
    p.send_control('u').unwrap();
    p.send("zavu-script cron --j\t").unwrap();
    p.flush().unwrap();
    p.exp_regex(r"--json-logs\s+--job-timeout|--job-timeout\s+--json-logs")
        .expect("cron's flags");
    p.send_control('u').unwrap();
    p.send("zavu-script run --r\t").unwrap();
    p.flush().unwrap();
    p.exp_regex(r"--reinvite\s+--rate|--rate\s+--reinvite")
        .expect("run's flags");
    leave(p);
}

#[test]
fn zsh_completes_subcommands_and_their_flags() {
    let zsh = shell("zsh");
    let mut p = interactive(
        &zsh,
        &["-f", "-i"],
        &[
            "PS1='%% '".to_string(),
            "autoload -U compinit && compinit -u".to_string(),
            "source <(zavu-script completions zsh)".to_string(),
        ],
        "% ",
    );
    p.send("zavu-script campaign \t").unwrap();
    p.flush().unwrap();
    let shown = p.exp_string("cleanup").expect("the subcommands are listed");
    let rest = p.exp_string("status").expect("the subcommands are listed");
    assert!(format!("{shown}{rest}").contains("list"), "{shown}{rest}");
    // zsh may be showing a menu: two Ctrl-Cs get back to an empty line.
    p.send_control('c').unwrap();
    leave(p);
}

#[test]
fn fish_completes_subcommands_and_their_flags() {
    let fish = shell("fish");
    let script = std::env::temp_dir().join(format!("zavu-script-{}.fish", std::process::id()));
    let text = Command::new(bin())
        .args(["completions", "fish"])
        .output()
        .expect("completions run");
    std::fs::write(&script, &text.stdout).unwrap();
    let ask = |line: &str| -> Vec<String> {
        let out = Command::new(&fish)
            .args(["--no-config", "-c"])
            .arg(format!(
                "source {}; complete -C {}",
                script.display(),
                shell_quote(line)
            ))
            .output()
            .expect("fish runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_string())
            .collect()
    };
    let words = ask("zavu-script campaign ");
    for w in ["list", "status", "cleanup"] {
        assert!(words.iter().any(|x| x == w), "{w} in {words:?}");
    }
    assert!(
        ask("zavu-script cron --")
            .iter()
            .any(|x| x == "--json-logs")
    );
    assert!(ask("zavu-script run --").iter().any(|x| x == "--reinvite"));
    let _ = std::fs::remove_file(&script);
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "\\'"))
}
