//! The scripting engine through the real binary: errors a script can catch, errors it
//! cannot (with their place and exit status), helpers, limits, Ctrl-C, and secrecy.

use crate::support::{KEY, TestSandbox, Zs, script};
use serde_json::{Value, json};
use std::io::Read;
use zavu_script::sandbox::SandboxOptions;

#[tokio::test(flavor = "multi_thread")]
async fn api_errors_are_catchable_with_status_code_message_details() {
    let sb = TestSandbox::start().await;
    let (_d, path) = script(
        r#"
try {
    zavu.invitations.get("missing");
} catch (err) {
    print(`${type_of(err)} ${err.status} ${err.code} | ${err.message}`);
}
try {
    zavu.invitations.create(#{ expiresInDays: 0 });
} catch (err) {
    print(`${err.status} ${err.code} ${err.details.errors[0].path[0]}`);
}
"#,
    );
    let done = Zs::against(&sb).args(["run"]).args([&path]).run().await;
    done.ok();
    assert_eq!(
        done.lines(),
        [
            "ApiError 404 not_found | Invitation 'missing' not found",
            "0 invalid_params expiresInDays"
        ]
    );
    // The bad create never reached the server.
    assert_eq!(sb.stats().await["byStatus"].get("400"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_uncaught_api_error_names_the_place_and_exits_3() {
    let sb = TestSandbox::start().await;
    let (_d, path) = script("let x = 1;\nlet r = zavu.invitations.cancel(\"nope\");\n");
    let done = Zs::against(&sb).args(["run"]).args([&path]).run().await;
    done.expect_code(3);
    let name = path.display().to_string();
    assert!(
        done.stderr
            .contains("error: API error: zavu.invitations.cancel: HTTP 404 not_found"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains(&format!("--> {name}:2:26")),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains("2 | let r = zavu.invitations.cancel(\"nope\");"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("  |                          ^"),
        "{}",
        done.stderr
    );
    assert_eq!(done.stdout, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn script_mistakes_exit_1_and_name_what_is_valid() {
    let sb = TestSandbox::start().await;
    for (text, expected) in [
        (
            "zavu.invitations.create(#{ clientEmial: \"a@b.co\" });",
            "clientEmial: unknown key — did you mean `clientEmail`?",
        ),
        (
            "zavu.invitations.create(#{ expiresInDays: \"7\" });",
            "expiresInDays: expected an integer, got a string",
        ),
        (
            "zavu.invitations.craete(#{});",
            "zavu.invitations has no method `craete` — did you mean `create`? (methods: create, get, list, cancel, all)",
        ),
        (
            "zavu.invitatons.list();",
            "zavu has no resource `invitatons` — did you mean `zavu.invitations`?",
        ),
        ("zavu.messages.send(#{ text: \"hi\" });", "to: required"),
        ("throw \"boom\";", "boom"),
    ] {
        let (_d, path) = script(text);
        let done = Zs::against(&sb).args(["run"]).args([&path]).run().await;
        done.expect_code(1);
        assert!(done.stderr.contains(expected), "{text}\n{}", done.stderr);
    }
    assert_eq!(
        sb.stats().await["requests"],
        json!(0),
        "nothing bad was sent"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_inside_functions_show_the_call_chain() {
    let sb = TestSandbox::start().await;
    let (_d, path) = script("fn look(id) {\n    zavu.invitations.get(id)\n}\nlook(\"nope\");\n");
    let done = Zs::against(&sb).args(["run"]).args([&path]).run().await;
    done.expect_code(3);
    let name = path.display().to_string();
    assert!(
        done.stderr.contains(&format!("--> {name}:2:22")),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains(&format!("= in look, called at {name}:4:1")),
        "{}",
        done.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_flag_prints_the_final_value_and_stdout_stays_clean() {
    let sb = TestSandbox::start().await;
    let (_d, path) = script(
        "let inv = zavu.invitations.create(#{ clientName: \"Acme\" });\n#{ id: inv.id, status: inv.status, n: 3 }\n",
    );
    let done = Zs::bare()
        .args(["--sandbox", "--json", "run"])
        .args([&path])
        .run()
        .await;
    done.ok();
    let v: Value = serde_json::from_str(&done.stdout).expect("stdout is only the JSON value");
    assert_eq!(v["status"], json!("pending"));
    assert_eq!(v["n"], json!(3));
    assert!(
        done.stderr
            .contains("in-process sandbox at http://127.0.0.1:"),
        "banner on stderr"
    );
    drop(sb);
}

#[tokio::test(flavor = "multi_thread")]
async fn all_is_a_lazy_iterator_over_every_page() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    for i in 0..130 {
        client
            .create_invitation(&zavu_script::api::CreateInvitation {
                client_email: Some(format!("c{i}@example.com")),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let (_d, path) = script(
        "let n = 0;\nlet seen = #{};\nfor inv in zavu.invitations.all(#{ limit: 100 }) { n += 1; seen[inv.id] = true; if n == 101 { break; } }\nprint(`${n} ${seen.len()}`);\nlet all = 0;\nfor inv in zavu.invitations.all() { all += 1; }\nprint(all);",
    );
    let done = Zs::against(&sb).args(["run"]).args([&path]).run().await;
    done.ok();
    assert_eq!(done.lines(), ["101 101", "130"]);
    // The first loop stopped after 101 items: two pages of 100, not more.
    let pages = sb.stats().await["byStatus"]["200"].as_u64().unwrap();
    assert_eq!(
        pages,
        2 + 3,
        "2 pages for the first loop, 3 of 50 for the second"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn zavu_client_reaches_another_project() {
    let home = TestSandbox::start().await;
    let other = TestSandbox::start_with(SandboxOptions {
        keys: vec!["zv_test_other".into()],
        ..Default::default()
    })
    .await;
    let (_d, path) = script(&format!(
        r#"
fn invite(client, email) {{ client.invitations.create(#{{ clientEmail: email }}) }}
let far = zavu_client(#{{ apiKey: "zv_test_other", baseUrl: "{}" }});
invite(far, "far@example.com");
invite(zavu, "home@example.com");
print(`${{far}}`);
"#,
        other.url()
    ));
    let done = Zs::against(&home).args(["run"]).args([&path]).run().await;
    done.ok();
    assert_eq!(home.invitation_count().await, 1);
    assert_eq!(other.invitation_count().await, 1);
    assert!(done.stdout.contains("key zv_test_…"), "{}", done.stdout);
    assert!(!done.stdout.contains("zv_test_other"));
}

#[tokio::test(flavor = "multi_thread")]
async fn helpers_csv_json_time_env_args() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(
        &input,
        "\u{feff}name,email,phone\r\n\"Acme, Inc\", a@acme.com ,\r\n=cmd,x@y.co,+14155551234\r\n",
    )
    .unwrap();
    let out = dir.path().join("out.csv");
    let (_d, path) = script(&format!(
        r#"
let rows = csv::read(ARGS[0]);
print(rows.len());
print(rows[0].name);
print(rows[0].phone == ());
print(json::stringify(json::parse("{{\"a\": [1, 2.5, null]}}")));
print(time::parse("2025-01-15T12:00:00.000Z"));
print(time::format(0));
print(env("ZS_TEST_VAR"));
print(env("ZS_TEST_UNSET") == ());
csv::write("{}", rows, ["name", "phone"]);
"#,
        out.display()
    ));
    let done = Zs::bare()
        .env("ZS_TEST_VAR", "hello")
        .args(["--sandbox", "run"])
        .args([path.as_os_str(), input.as_os_str()])
        .run()
        .await;
    done.ok();
    assert_eq!(
        done.lines(),
        [
            "2",
            "Acme, Inc",
            "true",
            r#"{"a":[1,2.5,null]}"#,
            "1736942400000",
            "1970-01-01T00:00:00.000Z",
            "hello",
            "true"
        ]
    );
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written, "name,phone\n\"Acme, Inc\",\n'=cmd,+14155551234\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    std::fs::write(&input, "a,b\n1,2\n3\n").unwrap();
    let (_d2, path) = script("csv::read(ARGS[0]);");
    let done = Zs::bare()
        .args(["--sandbox", "run"])
        .args([path.as_os_str(), input.as_os_str()])
        .run()
        .await;
    done.expect_code(1);
    assert!(
        done.stderr.contains(&format!(
            "{}:3: row has 1 field but the header has 2",
            input.display()
        )),
        "{}",
        done.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_compiles_without_running() {
    let (_d, ok) = script("#!/usr/bin/env zavu-script\nzavu.invitations.create(#{});\n");
    let done = Zs::bare().args(["check"]).args([&ok]).run().await;
    done.ok();
    let (_d2, bad) = script("#!/usr/bin/env zavu-script\nlet x = ;\n");
    let done = Zs::bare().args(["check"]).args([&bad]).run().await;
    done.expect_code(1);
    assert!(
        done.stderr.contains(&format!("--> {}:2:9", bad.display())),
        "{}",
        done.stderr
    );
    let done = Zs::bare().args(["check", "no/such/file.rhai"]).run().await;
    done.expect_code(2);
    assert!(done.stderr.contains("cannot read script no/such/file.rhai"));
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_stop_runaway_scripts() {
    let (_d, path) = script("let n = 0; loop { n += 1; }");
    let done = Zs::bare()
        .args(["--sandbox", "run", "--max-operations", "10000"])
        .args([&path])
        .run()
        .await;
    done.expect_code(1);
    assert!(
        done.stderr.contains("too many operations"),
        "{}",
        done.stderr
    );
    let (_d, path) = script("fn f(n) { f(n + 1) } f(0);");
    let done = Zs::bare()
        .args(["--sandbox", "run"])
        .args([&path])
        .run()
        .await;
    done.expect_code(1);
    assert!(done.stderr.contains("too deeply"), "{}", done.stderr);
    let (_d, path) = script("let s = \"x\"; loop { s += s; }");
    let done = Zs::bare()
        .args(["--sandbox", "run", "--max-string-size", "1000"])
        .args([&path])
        .run()
        .await;
    done.expect_code(1);
    assert!(
        done.stderr.contains("larger than the script limits allow"),
        "{}",
        done.stderr
    );
}

#[test]
fn ctrl_c_stops_a_running_script_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let (_d, path) = script("print(\"started\");\nsleep(30);\nprint(\"never\");\n");
    let mut child = crate::support::cmd(dir.path())
        .args(["--sandbox", "run"])
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 8];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"started\n");
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("stopped: interrupted by Ctrl-C"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}:2:1", path.display())),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_key_never_shows_even_with_debug() {
    let secret = "zv_test_s3cr3tvalue42";
    let sb = TestSandbox::start_with(SandboxOptions {
        keys: vec![secret.into()],
        ..Default::default()
    })
    .await;
    let (_d, path) = script(
        "print(zavu);\nlet inv = zavu.invitations.create(#{ clientName: \"Acme\" });\nzavu.invitations.get(\"nope\");\n",
    );
    let done = Zs::against(&sb)
        .env("ZAVUDEV_API_KEY", secret)
        .args(["--debug", "run"])
        .args([&path])
        .run()
        .await;
    done.expect_code(3);
    assert!(
        done.stderr.contains("→ POST"),
        "debug logs requests: {}",
        done.stderr
    );
    assert!(
        done.stderr.contains("authorization: Bearer zv_test_…"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("← 201"), "{}", done.stderr);
    for stream in [&done.stdout, &done.stderr] {
        assert!(!stream.contains("s3cr3tvalue42"), "key leaked:\n{stream}");
    }
    let _ = KEY;
}
