//! Careless and hostile input, each answered with a clear message that names the problem
//! and the place — never a panic, never a silent skip, never a lost or doubled invitation:
//! CSVs with BOMs, CRLF, quoted newlines, bad headers, invalid UTF-8, huge cells and
//! formulas; ids that try to leave their route; odd limits; a thousand connections at once;
//! and, read back from every file a real session leaves behind, no API key anywhere.

use crate::support::{TestSandbox, Zs, script};

#[tokio::test(flavor = "multi_thread")]
async fn a_script_saved_with_a_byte_order_mark_runs() {
    let (_d, path) = script("\u{feff}print(\"with a BOM\");\n");
    let done = Zs::bare()
        .args(["--sandbox", "run"])
        .args([&path])
        .run()
        .await;
    done.ok();
    assert_eq!(done.lines(), ["with a BOM"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn debug_output_into_a_pipe_has_no_colour_codes_and_no_key() {
    let sb = TestSandbox::start().await;
    let (_d, path) = script("zavu.invitations.list();\n");
    let done = Zs::against(&sb)
        .args(["--debug", "run"])
        .args([&path])
        .run()
        .await;
    done.ok();
    assert!(done.stderr.contains("GET "), "{}", done.stderr);
    assert!(!done.stderr.contains('\u{1b}'), "{:?}", done.stderr);
    assert!(!done.stderr.contains(&sb.key), "{}", done.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_on_the_command_line_gets_one_warning() {
    let (_d, path) = script("print(1);\n");
    let done = Zs::bare()
        .args(["--sandbox", "--api-key", "zv_test_typed_by_hand", "run"])
        .args([&path])
        .run()
        .await;
    done.ok();
    let warnings: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", done.stderr);
    assert!(warnings[0].contains("ZAVUDEV_API_KEY") && warnings[0].contains("--api-key-file"));
    assert!(!done.stderr.contains("typed_by_hand"), "{}", done.stderr);

    // The same key from the environment is no reason to warn.
    let quiet = Zs::bare()
        .env("ZAVUDEV_API_KEY", "zv_test_from_env")
        .args(["--sandbox", "run"])
        .args([&path])
        .run()
        .await;
    quiet.ok();
    assert!(!quiet.stderr.contains("warning:"), "{}", quiet.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unterminated_quote_in_a_csv_is_named_with_its_line() {
    let sb = TestSandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("clients.csv");
    std::fs::write(
        &csv,
        "clientName,clientEmail\nAcme,a@acme.example\n\"Beta Corp,b@beta.example\nGamma,g@gamma.example\n",
    )
    .unwrap();
    let done = Zs::against(&sb)
        .args(["run", "scripts/onboard_from_csv.rhai"])
        .args([&csv])
        .run()
        .await;
    done.ok();
    assert!(
        done.stdout
            .contains("row 3: invalid: a quoted cell that starts on this line is never closed"),
        "{}",
        done.stdout
    );
    assert_eq!(
        done.lines().last(),
        Some(&"created 1, skipped 0, already invited 0, duplicate 0, invalid 1, failed 0")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_name_the_missing_argument_and_show_one_in_use() {
    // A key from the environment is not a flag the user forgot, nor one they typed.
    let done = Zs::bare()
        .env("ZAVUDEV_API_KEY", "zv_test_from_env")
        .env("ZAVUDEV_BASE_URL", "http://127.0.0.1:9")
        .args(["campaign", "cleanup"])
        .run()
        .await;
    done.expect_code(2);
    assert!(done.stderr.contains("<NAME>"), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("Usage: zavu-script campaign cleanup <NAME>"),
        "{}",
        done.stderr
    );
    assert!(!done.stderr.contains("--api-key"), "{}", done.stderr);
    assert!(!done.stderr.contains("--base-url"), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("Example: zavu-script campaign cleanup onboard-clients"),
        "{}",
        done.stderr
    );

    let run = Zs::bare().args(["run"]).run().await;
    run.expect_code(2);
    assert!(run.stderr.contains("<FILE>"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("Example: zavu-script --sandbox run scripts/onboard_from_csv.rhai"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn flags_beat_the_environment_without_a_conflict() {
    let (_d, path) = script("print(\"ran\");\n");
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "zv_test_from_file\n").unwrap();
    // Both from the environment: the file flag wins, --sandbox wins over the base URL.
    let done = Zs::bare()
        .env("ZAVUDEV_API_KEY", "zv_test_from_env")
        .env("ZAVUDEV_BASE_URL", "http://127.0.0.1:9")
        .args(["--sandbox", "--api-key-file"])
        .args([&key_file])
        .args(["run"])
        .args([&path])
        .run()
        .await;
    done.ok();
    assert_eq!(done.lines(), ["ran"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn campaign_status_with_no_name_lists_the_campaigns() {
    let sb = TestSandbox::start().await;
    let done = Zs::against(&sb).args(["campaign", "status"]).run().await;
    done.ok();
    assert!(done.stdout.contains("no campaigns yet"), "{}", done.stdout);
}

/// A CSV that is hostile in one way, and what the campaign must say about it.
struct CsvCase {
    what: &'static str,
    bytes: Vec<u8>,
    /// Exit status, and a phrase in stdout+stderr.
    code: i32,
    says: &'static str,
    /// Valid rows that must be invited exactly once.
    invited: usize,
}

fn csv_cases() -> Vec<CsvCase> {
    let header = "clientName,clientEmail\n";
    let mut big = header.as_bytes().to_vec();
    big.extend(std::iter::repeat_n(b'A', 200_000));
    big.extend(b",big@x.example\nOk,ok@x.example\n");
    let mut utf8 = header.as_bytes().to_vec();
    utf8.extend(b"Bad\xff\xfe,bad@x.example\nOk,ok@x.example\n");
    vec![
        CsvCase {
            what: "BOM and CRLF",
            bytes:
                b"\xEF\xBB\xBFclientName,clientEmail\r\nAcme,a@x.example\r\nBeta,b@x.example\r\n"
                    .to_vec(),
            code: 0,
            says: "created 2, skipped 0, already invited 0, duplicate 0, invalid 0, failed 0",
            invited: 2,
        },
        CsvCase {
            what: "a quoted newline",
            bytes: format!("{header}\"Acme\nHoldings\",a@x.example\nBeta,b@x.example\n")
                .into_bytes(),
            code: 0,
            says: "created 2, skipped 0, already invited 0, duplicate 0, invalid 0, failed 0",
            invited: 2,
        },
        CsvCase {
            what: "no header row",
            bytes: b"".to_vec(),
            code: 1,
            says: "the file has no header row",
            invited: 0,
        },
        CsvCase {
            what: "a header twice",
            bytes: b"clientName,clientEmail,clientEmail\nA,a@x.example,b@x.example\n".to_vec(),
            code: 1,
            says: "the header \"clientEmail\" appears twice",
            invited: 0,
        },
        CsvCase {
            what: "invalid UTF-8",
            bytes: utf8,
            code: 0,
            says: "row 2: invalid: the row is not valid UTF-8",
            invited: 1,
        },
        CsvCase {
            what: "a 200 KB cell",
            bytes: big,
            code: 0,
            says: "row 2: invalid: clientName: must be at most 100 characters (got 200000)",
            invited: 1,
        },
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_csvs_get_clear_errors_and_valid_rows_go_out_once() {
    for case in csv_cases() {
        let sb = TestSandbox::start().await;
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("clients.csv");
        std::fs::write(&csv, &case.bytes).unwrap();
        let done = Zs::against(&sb)
            .args(["run", "scripts/onboard_from_csv.rhai"])
            .args([&csv])
            .run()
            .await;
        let all = format!("{}{}", done.stdout, done.stderr);
        assert_eq!(done.code, case.code, "{}: {all}", case.what);
        assert!(all.contains(case.says), "{}: {all}", case.what);
        assert!(!all.contains("panicked"), "{}: {all}", case.what);
        assert_eq!(
            sb.invitation_count().await,
            case.invited as u64,
            "{}",
            case.what
        );
    }
    // Not a file at all.
    let dir = tempfile::tempdir().unwrap();
    for (path, says) in [
        (dir.path().to_path_buf(), "is a directory, not a CSV file"),
        (dir.path().join("missing.csv"), "No such file or directory"),
    ] {
        let done = Zs::bare()
            .args(["--sandbox", "run", "scripts/onboard_from_csv.rhai"])
            .args([&path])
            .run()
            .await;
        done.expect_code(1);
        assert!(done.stderr.contains(says), "{}", done.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn formula_cells_are_neutralised_in_the_report() {
    let sb = TestSandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("clients.csv");
    std::fs::write(
        &csv,
        "clientName,clientEmail,clientPhone\n=HYPERLINK(\"http://evil\"),a@x.example,+14155550001\n@SUM(A1),b@x.example,\n",
    )
    .unwrap();
    Zs::against(&sb)
        .args(["run", "scripts/onboard_from_csv.rhai"])
        .args([&csv])
        .run()
        .await
        .ok();
    // The names went to the API as typed; no report cell starts a formula.
    let report = std::fs::read_to_string(dir.path().join("onboard-clients.report.csv")).unwrap();
    // A formula starts with = or @, or with + or - followed by more than digits.
    let runs = |cell: &str| {
        cell.starts_with(['=', '@'])
            || (cell.starts_with(['+', '-'])
                && cell.len() > 1
                && !cell[1..].chars().all(|c| c.is_ascii_digit()))
    };
    for line in report.lines().skip(1) {
        for cell in line.split(',') {
            assert!(!runs(cell), "{cell} in {line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_ids_and_limits_are_refused_or_stay_on_their_route() {
    let sb = TestSandbox::start().await;
    let (_d, path) = script(
        r#"
let long = "x";
long.pad(5000, "y");
for id in ["../../_sandbox/reset", "a/b c", "%2F..%2F", long] {
    try { zavu.invitations.get(id); print("found?"); } catch (e) { print(`${e.status} ${e.code}`); }
}
for limit in [0, -1, 101] {
    try { zavu.invitations.list(#{ limit: limit }); } catch (e) { print(`limit ${limit}: ${e.code}`); }
}
try { zavu.invitations.get(""); } catch (e) { print(`empty: ${e.code}`); }
print(zavu.invitations.list().items.len());
"#,
    );
    let inv = sb
        .client()
        .create_invitation(&zavu_script::api::CreateInvitation::default())
        .await
        .unwrap();
    let done = Zs::against(&sb).args(["run"]).args([&path]).run().await;
    done.ok();
    assert_eq!(
        done.lines(),
        [
            "404 not_found",
            "404 not_found",
            "404 not_found",
            "404 not_found",
            "limit 0: invalid_params",
            "limit -1: invalid_params",
            "limit 101: invalid_params",
            "empty: invalid_params",
            "1",
        ],
        "{}",
        done.stderr
    );
    // The `../` id did not reach the control plane: the invitation is still there.
    assert_eq!(
        sb.client().get_invitation(&inv.id).await.unwrap().id,
        inv.id
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_connections_at_once_do_not_bring_the_sandbox_down() {
    let sb = TestSandbox::start().await;
    let url = format!("{}/v1/invitations?limit=1", sb.url());
    let key = sb.key.clone();
    // HTTP/1.1 without reuse: every request in flight holds a connection of its own.
    let c = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (c, url, key) = (c.clone(), url.clone(), key.clone());
            tokio::spawn(async move {
                c.get(&url)
                    .bearer_auth(&key)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    let mut ok = 0;
    let mut other = vec![];
    for t in tasks {
        match t.await.unwrap() {
            Ok(200) => ok += 1,
            r => other.push(format!("{r:?}")),
        }
    }
    assert_eq!(ok, 1000, "{other:?}");
    assert_eq!(
        sb.client()
            .list_invitations(&Default::default())
            .await
            .unwrap()
            .items
            .len(),
        0
    );
}

/// Every file a session of real use leaves behind, read back: the key is in none of them.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_key_is_in_no_file_the_tool_writes() {
    use rexpect::session::{Options, spawn_with_options};
    let secret = "zv_test_n0tInAnyF1le9876";
    let tail = "n0tInAnyF1le9876";
    let sb = TestSandbox::start_with(zavu_script::sandbox::SandboxOptions {
        keys: vec![secret.into()],
        ..Default::default()
    })
    .await;
    let state = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut seen = String::new();
    let zs = |args: &[&str]| {
        let mut c = crate::support::cmd(state.path());
        c.current_dir(crate::support::repo())
            .env("ZAVUDEV_API_KEY", secret)
            .env("ZAVUDEV_BASE_URL", sb.url())
            .args(args);
        c
    };

    // A campaign with --debug: journal, lock, report.
    let csv = work.path().join("clients.csv");
    std::fs::write(
        &csv,
        "clientName,clientEmail\nAcme,a@acme.example\nBeta,b@beta.example\n",
    )
    .unwrap();
    let mut c = zs(&["--debug", "run", "scripts/onboard_from_csv.rhai"]);
    c.arg(&csv);
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    seen += &String::from_utf8_lossy(&out.stdout);
    seen += &String::from_utf8_lossy(&out.stderr);

    // The script store, and a script that prints its client.
    let script = work.path().join("store.rhai");
    std::fs::write(
        &script,
        "store::set(\"last\", zavu.invitations.list().items.len()); print(zavu);\n",
    )
    .unwrap();
    let out = zs(&["run", &script.display().to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    seen += &String::from_utf8_lossy(&out.stdout);
    seen += &String::from_utf8_lossy(&out.stderr);

    // A REPL session in a terminal, whose history is kept — one input holds the key.
    let mut c = zs(&["repl"]);
    c.env("TERM", "xterm");
    let screen = tokio::task::spawn_blocking(move || {
        let mut p = spawn_with_options(
            c,
            Options::new()
                .timeout_ms(Some(60_000))
                .strip_ansi_escape_codes(true),
        )
        .unwrap();
        p.exp_string("]> ").unwrap();
        p.send_line(&format!(
            "let other = zavu_client(#{{ apiKey: \"{secret}\" }});"
        ))
        .unwrap();
        p.exp_string("]> ").unwrap();
        p.send_line("other.invitations.list().items.len() + 40")
            .unwrap();
        // The result (2 invitations + 40), not the echo of the input, then the prompt.
        let (shown, _) = p.exp_regex("\n42").unwrap();
        p.exp_string("]> ").unwrap();
        p.send_control('d').unwrap();
        p.exp_eof().unwrap();
        shown
    })
    .await
    .unwrap();
    seen += &screen;

    // The scheduler's JSON logs with --debug.
    let tab = work.path().join("crontab");
    std::fs::write(&tab, "@reboot job.rhai\n").unwrap();
    std::fs::write(work.path().join("job.rhai"), "print(zavu);\n").unwrap();
    let mut c = zs(&["--debug", "cron", "--json-logs"]);
    c.arg(&tab)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut log = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let finished = line.contains("finished in");
            log.push_str(&line);
            log.push('\n');
            if finished {
                break;
            }
        }
        log
    });
    let log = tokio::task::spawn_blocking(move || reader.join().unwrap())
        .await
        .unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    assert!(log.contains("finished in"), "{log}");
    seen += &log;

    // Everything written, and everything shown.
    let mut files = vec![];
    let mut dirs = vec![state.path().to_path_buf(), work.path().to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                files.push(p);
            }
        }
    }
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "journal.sqlite3",
        "repl_history",
        "onboard-clients.report.csv",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(tail), "the key is in {}", f.display());
    }
    assert!(!seen.contains(tail), "the key was shown:\n{seen}");
}
