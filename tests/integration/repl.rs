//! `zavu-script repl` driven as a person would: the real binary in a pseudo-terminal,
//! keys typed (Tab, Enter, Ctrl-C, Ctrl-D), the screen read back. Every step waits for
//! what the person would wait for — a prompt, a result — never for a clock; the
//! timeouts are only there so a broken build fails instead of hanging.
//!
//! Results are chosen so they cannot be confused with the echo of what was typed
//! (`20 + 22` is expected to show `42`, which the input does not contain).

use crate::support::{TestSandbox, cmd, repo};
use rexpect::session::{Options, PtySession, spawn_with_options};
use std::path::Path;

const PROMPT: &str = "zavu[sandbox]> ";
const CONTINUE: &str = "...> ";
const TIMEOUT_MS: u64 = 10_000;

/// The REPL in a pseudo-terminal, against an in-process sandbox, with this state dir.
fn repl_in(state: &Path, args: &[&str], env: &[(&str, &str)]) -> PtySession {
    let mut c = cmd(state);
    c.current_dir(repo()).env("TERM", "xterm").args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    spawn_with_options(
        c,
        Options::new()
            .timeout_ms(Some(TIMEOUT_MS))
            .strip_ansi_escape_codes(true),
    )
    .expect("the REPL starts in a pty")
}

fn sandbox_repl(state: &Path) -> PtySession {
    let mut p = repl_in(state, &["--sandbox", "repl"], &[]);
    p.exp_string(PROMPT).expect("first prompt");
    p
}

/// Types keys; `\r` is Enter, `\t` Tab.
fn keys(p: &mut PtySession, text: &str) {
    p.send(text).expect("keys reach the REPL");
    p.flush().expect("keys reach the REPL");
}

/// Enters a line and waits for the next main prompt.
fn enter(p: &mut PtySession, line: &str) -> String {
    keys(p, &format!("{line}\r"));
    p.exp_string(PROMPT)
        .unwrap_or_else(|e| panic!("no prompt after {line:?}: {e}"))
}

fn leave_with_ctrl_d(mut p: PtySession) {
    p.send_control('d').expect("Ctrl-D reaches the REPL");
    p.exp_eof().expect("the REPL ends");
    // rexpect does not re-export nix's WaitStatus; its Debug form is `Exited(Pid(n), code)`.
    let status = format!("{:?}", p.process().wait().expect("the REPL exits"));
    assert!(
        status.starts_with("Exited(") && status.ends_with(", 0)"),
        "exit after Ctrl-D: {status}"
    );
}

#[test]
fn tab_completes_resources_methods_and_parameter_keys() {
    let state = tempfile::tempdir().unwrap();
    let mut p = sandbox_repl(state.path());

    // `zavu.inv` ⇥ → `zavu.invitations.`; `li` ⇥ → `list(`.
    keys(&mut p, "zavu.inv\t");
    p.exp_string("zavu.invitations.")
        .expect("resource completed");
    keys(&mut p, "li\t");
    p.exp_string("zavu.invitations.list(")
        .expect("method completed");
    keys(&mut p, ")\r");
    p.exp_string("(no items on this page)")
        .expect("the completed call ran");
    p.exp_string(PROMPT).unwrap();

    // Inside the parameters of create, `client` ⇥⇥ lists the three client keys.
    keys(&mut p, "let inv = zavu.invitations.create(#{ client\t\t");
    let listed = p.exp_string("clientPhone").expect("keys listed");
    assert!(listed.contains("clientName"), "{listed:?}");
    assert!(listed.contains("clientEmail"), "{listed:?}");
    // A unique prefix completes the key with its colon; keys already written are not
    // offered again.
    keys(&mut p, "Name: \"Acme Test\", expi\t");
    p.exp_string("expiresInDays: ").expect("key completed");
    keys(&mut p, "3 });\r");
    p.exp_string(PROMPT).unwrap();
    keys(&mut p, "inv.clientName + \"!\"\r");
    p.exp_string("\"Acme Test!\"")
        .expect("the invitation was created with the completed keys");
    p.exp_string(PROMPT).unwrap();

    // Map fields of a variable, and helper namespaces.
    keys(&mut p, "inv.expi\t");
    p.exp_string("inv.expiresAt").expect("field completed");
    keys(&mut p, "\x15"); // Ctrl-U: drop the line
    keys(&mut p, "cs\t");
    p.exp_string("csv::").expect("namespace completed");
    keys(&mut p, "\x15:he\t");
    p.exp_string(":help").expect("command completed");
    keys(&mut p, "\x15");
    leave_with_ctrl_d(p);
}

#[test]
fn an_input_continues_until_its_brackets_balance() {
    let state = tempfile::tempdir().unwrap();
    let mut p = sandbox_repl(state.path());

    keys(&mut p, "let m = #{\r");
    p.exp_string(CONTINUE).expect("an open brace continues");
    keys(&mut p, "a: 40,\r");
    p.exp_string(CONTINUE).expect("still open");
    // The brace inside the string does not count.
    keys(&mut p, "b: \"}\" };\r");
    p.exp_string(PROMPT).expect("balanced: evaluated");
    keys(&mut p, "m.a + m.b.len() + 1\r");
    p.exp_string("42").expect("the multi-line map was kept");
    p.exp_string(PROMPT).unwrap();

    // A trailing backslash continues too.
    keys(&mut p, "let s = 1 + \\\r");
    p.exp_string(CONTINUE).expect("a backslash continues");
    keys(&mut p, "2;\r");
    p.exp_string(PROMPT).unwrap();
    keys(&mut p, "s * 100\r");
    p.exp_string("300").expect("continued input evaluated");
    p.exp_string(PROMPT).unwrap();

    // A stray closer is flagged and the line stays to be fixed.
    keys(&mut p, "let y = 1)\r");
    p.exp_string("closes nothing")
        .expect("stray closer flagged");
    keys(&mut p, "\x15");
    keys(&mut p, "6 * 9\r");
    p.exp_string("54").expect("the session goes on");
    p.exp_string(PROMPT).unwrap();
    leave_with_ctrl_d(p);
}

#[test]
fn an_api_error_shows_where_and_the_next_command_works() {
    let state = tempfile::tempdir().unwrap();
    let mut p = sandbox_repl(state.path());

    keys(&mut p, "zavu.invitations.get(\"nope\")\r");
    p.exp_string("API error: zavu.invitations.get: HTTP 404 not_found")
        .expect("the API error is shown");
    p.exp_string("--> <input 1>:1:18").expect("with its place");
    p.exp_string(PROMPT).expect("and the session goes on");

    keys(&mut p, "zavu.templates.get(\"tmpl_xyz789\").status\r");
    p.exp_string("\"approved\"").expect("the next call works");
    p.exp_string(PROMPT).unwrap();

    // A script mistake is reported the same way, and the session still goes on.
    keys(
        &mut p,
        "zavu.invitations.create(#{ clientEmial: \"a@b.co\" })\r",
    );
    p.exp_string("did you mean `clientEmail`?")
        .expect("a parameter mistake is named");
    p.exp_string(PROMPT).unwrap();
    keys(&mut p, "20 + 22\r");
    p.exp_string("42").unwrap();
    p.exp_string(PROMPT).unwrap();
    leave_with_ctrl_d(p);
}

#[test]
fn variables_and_functions_persist_across_inputs() {
    let state = tempfile::tempdir().unwrap();
    let mut p = sandbox_repl(state.path());

    enter(&mut p, "let base = 40;");
    enter(&mut p, "fn add_two(x) { x + 2 }");
    keys(&mut p, "add_two(base)\r");
    p.exp_string("42")
        .expect("a function and a variable from earlier inputs");
    p.exp_string(PROMPT).unwrap();

    // An error inside that function quotes the input that defined it.
    enter(&mut p, "fn fails(x) {\r  zavu.invitations.cancel(x)\r}");
    keys(&mut p, "fails(\"nope\")\r");
    p.exp_string("--> <input 4>:2:20")
        .expect("the failing line is in the defining input");
    p.exp_string("= in fails, called at <input 5>:1:1")
        .expect("the call is in this one");
    p.exp_string(PROMPT).unwrap();

    keys(&mut p, ":vars\r");
    p.exp_string("base: i64 = 40")
        .expect(":vars lists the variable");
    p.exp_string("fn add_two(x)")
        .expect(":vars lists the function");
    p.exp_string(PROMPT).unwrap();

    // :load runs a script into the session.
    let script = state.path().join("helpers.rhai");
    std::fs::write(&script, "fn greet(n) { `hello ${n}` }\nlet loaded = 7;\n").unwrap();
    enter(&mut p, &format!(":load {}", script.display()));
    keys(&mut p, "greet(\"acme\") + \" \" + (loaded * 6)\r");
    p.exp_string("\"hello acme 42\"")
        .expect("the loaded script's function and variable");
    p.exp_string(PROMPT).unwrap();

    // :clear forgets them.
    enter(&mut p, ":clear");
    keys(&mut p, "base\r");
    p.exp_string("Variable not found: base").expect("forgotten");
    p.exp_string(PROMPT).unwrap();
    leave_with_ctrl_d(p);
}

#[test]
fn ctrl_c_cancels_the_running_call_or_the_line_and_the_session_goes_on() {
    let state = tempfile::tempdir().unwrap();
    let mut p = sandbox_repl(state.path());

    enter(&mut p, "let before = 41;");
    // "waiting" appears only once the input runs (the echo says "wai" + "ting").
    keys(
        &mut p,
        "print(\"wai\" + \"ting\"); sleep(30); print(\"never\")\r",
    );
    p.exp_string("waiting").expect("the input is running");
    p.send_control('c').unwrap();
    let out = p
        .exp_string("interrupted by Ctrl-C")
        .expect("a clear interruption");
    assert!(!out.contains("never"), "{out:?}");
    p.exp_string(PROMPT).expect("back at the prompt");
    keys(&mut p, "before + 1\r");
    p.exp_string("42").expect("the session kept its variables");
    p.exp_string(PROMPT).unwrap();

    // Ctrl-C while a create waits for its answer: it may have gone through, and the
    // message says how to look before creating again.
    enter(&mut p, "sandbox::faults(#{ latencyMs: 20000 });");
    keys(
        &mut p,
        "print(\"sen\" + \"ding\"); zavu.invitations.create(#{ clientName: \"Slow\" })\r",
    );
    p.exp_string("sending").expect("the create is on its way");
    p.send_control('c').unwrap();
    let out = p
        .exp_string("before creating it again")
        .expect("a warning that the create may have gone through");
    assert!(
        out.contains("while zavu.invitations.create was waiting for its answer")
            && out.contains("zavu.invitations.list(#{ limit: 5 })"),
        "{out:?}"
    );
    p.exp_string(PROMPT).expect("back at the prompt");
    enter(&mut p, "sandbox::faults(#{ latencyMs: () });");

    // At the prompt, Ctrl-C drops the line being typed.
    keys(&mut p, "this is not finished");
    p.send_control('c').unwrap();
    p.exp_string(PROMPT).unwrap();
    keys(&mut p, "6 * 7\r");
    p.exp_string("42").unwrap();
    p.exp_string(PROMPT).unwrap();
    leave_with_ctrl_d(p);
}

#[test]
fn history_is_kept_across_sessions_without_api_keys() {
    let state = tempfile::tempdir().unwrap();
    let mut p = sandbox_repl(state.path());

    keys(
        &mut p,
        "let other = zavu_client(#{ apiKey: \"zv_test_abcdef123\" });\r",
    );
    p.exp_string("not kept in history")
        .expect("the key line is refused");
    p.exp_string(PROMPT).unwrap();
    enter(&mut p, "let kept = 20;");
    // `!!` repeats the last remembered input: the key line never was one.
    keys(&mut p, "!!\r");
    p.exp_string("let kept = 20;").unwrap();
    p.exp_string(PROMPT).unwrap();
    keys(&mut p, "kept + 22\r");
    p.exp_string("42").unwrap();
    p.exp_string(PROMPT).unwrap();
    leave_with_ctrl_d(p);

    let file = state.path().join("repl_history");
    let text = std::fs::read_to_string(&file).expect("history written");
    assert!(text.contains("let kept = 20;"), "{text}");
    assert!(text.contains("kept + 22"), "{text}");
    assert!(
        !text.contains("zv_test_"),
        "a key literal reached history:\n{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "history file mode");
    }

    // The next session starts with it: Up brings back the last line.
    let mut p = sandbox_repl(state.path());
    keys(&mut p, "\x1b[A");
    p.exp_string("kept + 22").expect("history loaded");
    keys(&mut p, "\x15:history\r");
    let listed = p.exp_string(PROMPT).unwrap();
    assert!(listed.contains("let kept = 20;"), "{listed:?}");
    assert!(!listed.contains("zv_test_"), "{listed:?}");
    leave_with_ctrl_d(p);
}

#[test]
fn help_shows_each_parameter_rule_and_an_example() {
    let state = tempfile::tempdir().unwrap();
    let mut p = sandbox_repl(state.path());
    keys(&mut p, ":help zavu.invitations.create\r");
    let out = p.exp_string("Example").expect("help shown");
    for needle in [
        "clientName",
        "at most 100 characters",
        "clientEmail",
        "an email address",
        "E.164",
        "1 to 30 days, default 7",
        "allowedPhoneCountries",
        "phoneNumberId",
        "whatsapp_waba | messenger",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from {out:?}");
    }
    p.exp_string("zavu.invitations.create(#{ clientName: \"Acme Corp\"")
        .expect("an example");
    p.exp_string(PROMPT).unwrap();
    keys(&mut p, ":quit\r");
    p.exp_eof().expect(":quit leaves");
}

#[test]
fn the_calls_after_onboarding_complete_and_have_help() {
    let state = tempfile::tempdir().unwrap();
    let mut p = sandbox_repl(state.path());
    // `zavu.pho` ⇥ → `zavu.phoneNumbers.`; `li` ⇥ → `list(`; the page shows as a table.
    keys(&mut p, "zavu.pho\t");
    p.exp_string("zavu.phoneNumbers.")
        .expect("resource completed");
    keys(&mut p, "li\t");
    p.exp_string("zavu.phoneNumbers.list(")
        .expect("method completed");
    keys(&mut p, ")\r");
    p.exp_string("pn_abc123").expect("the numbers are listed");
    p.exp_string(PROMPT).unwrap();
    // After `update(id, #{`, the keys offered are the update's, without the id.
    keys(&mut p, "zavu.senders.update(\"snd_default\", #{ webhookE\t");
    p.exp_string("webhookEvents: ")
        .expect("key completed after the id");
    keys(&mut p, "\x15zavu.me.get().isTestMode\r");
    p.exp_string("true").expect("me answered");
    p.exp_string(PROMPT).unwrap();
    keys(&mut p, ":help zavu.senders.update\r");
    let out = p.exp_string("Example").expect("help shown");
    for needle in [
        "PATCH /v1/senders/{senderId}",
        "webhookUrl",
        "\"\" removes the webhook",
        "invitation.status_changed",
        "v1 | v1+v2 | v2",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from {out:?}");
    }
    p.exp_string(PROMPT).unwrap();
    keys(&mut p, ":help zavu.templates.create\r");
    let out = p.exp_string("Example").expect("help shown");
    assert!(
        out.contains("UTILITY | MARKETING | AUTHENTICATION"),
        "{out:?}"
    );
    p.exp_string(PROMPT).unwrap();
    leave_with_ctrl_d(p);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_prompt_names_the_target_and_never_the_key() {
    let sb = TestSandbox::start().await;
    let (url, key) = (sb.url().to_string(), sb.key.clone());
    let port = url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    tokio::task::spawn_blocking(move || {
        let state = tempfile::tempdir().unwrap();
        let mut p = repl_in(
            state.path(),
            &["repl"],
            &[("ZAVUDEV_BASE_URL", &url), ("ZAVUDEV_API_KEY", &key)],
        );
        let prompt = format!("zavu[test 127.0.0.1:{port}]> ");
        let banner = p
            .exp_string(&prompt)
            .expect("the prompt names mode and host");
        keys(
            &mut p,
            "zavu.invitations.create(#{ clientName: \"Remote Co\" }).status\r",
        );
        let mut seen = p
            .exp_string("\"pending\"")
            .expect("calls reach the sandbox");
        seen.push_str(&p.exp_string(&prompt).unwrap());
        keys(&mut p, "zavu\r");
        seen.push_str(&p.exp_string("(key zv_test_").expect("the client, redacted"));
        seen.push_str(&p.exp_string(&prompt).unwrap());
        for text in [&banner, &seen] {
            assert!(!text.contains(&key), "the key was shown: {text:?}");
        }
        leave_with_ctrl_d(p);
    })
    .await
    .unwrap();
    assert_eq!(sb.invitation_count().await, 1);
}

/// The REPL with `input` piped in, as `zavu-script repl < file` runs it.
fn piped(args: &[&str], input: &str) -> crate::support::Done {
    use std::io::Write;
    let state = tempfile::tempdir().unwrap();
    let mut c = cmd(state.path());
    c.current_dir(repo())
        .args(["--sandbox", "repl"])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    crate::support::Done {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn piped_input_stops_at_the_first_error_unless_told_to_go_on() {
    let input =
        "print(\"one\");\nzavu.invitations.create(#{ expiresInDays: 99 });\nprint(\"two\");\n";
    let stopped = piped(&[], input);
    stopped.expect_code(1);
    assert_eq!(stopped.lines(), ["one"]);
    assert!(
        stopped.stderr.contains("stopped at the first error"),
        "{}",
        stopped.stderr
    );
    // `--keep-going` runs everything; the exit status is still the first error's.
    let went_on = piped(&["--keep-going"], input);
    went_on.expect_code(1);
    assert_eq!(went_on.lines(), ["one", "two"]);
    // An API error is 3, as from `run`.
    let api = piped(&[], "zavu.invitations.get(\"nope\");\nprint(\"never\");\n");
    api.expect_code(3);
    assert!(api.lines().is_empty());
    // A clean session is 0.
    piped(&[], "print(1 + 1);\n").ok();
}

#[test]
fn errors_are_numbered_as_history_numbers_them_and_help_suggests() {
    let done = piped(
        &["--keep-going"],
        ":help invitatons\nlet a = 1;\na.nope()\n:history\n",
    );
    assert!(
        done.stderr
            .contains("no help for `invitatons` — did you mean `:help zavu.invitations`?"),
        "{}",
        done.stderr
    );
    // The failing input is the third entry of the history, and the error names it so.
    assert!(done.stderr.contains("<input 3>:1:"), "{}", done.stderr);
    assert!(done.stdout.contains("   3  a.nope()"), "{}", done.stdout);
}

#[test]
fn a_missing_property_of_an_api_result_says_so_and_the_last_result_is_kept() {
    let done = piped(
        &["--keep-going"],
        "let inv = zavu.invitations.create(#{ clientName: \"A\" });\ninv.clientname\nlet mine = #{ a: 1 };\nprint(`${mine.b}`);\nmine.c = 3; mine[\"d\"] = 4;\nprint(mine.len());\n20 + 22\nprint(_ + 1);\nzavu.invitations.get(inv.id)\nprint(_.invitation.clientName);\n",
    );
    assert!(
        done.stderr
            .contains("the invitation has no property `clientname` — did you mean `clientName`?"),
        "{}",
        done.stderr
    );
    // The session's own maps keep Rhai's rule: a missing property is (); `_` is the last
    // result that was something.
    let lines = done.lines();
    assert_eq!(lines[0], "");
    // New keys land in the session's maps, by property and by index.
    assert_eq!(lines[1], "3");
    assert_eq!(lines[2], "42");
    assert_eq!(lines[3], "43");
    assert_eq!(lines.last(), Some(&"A"), "{}", done.stdout);
}
