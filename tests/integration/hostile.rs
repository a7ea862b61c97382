//! Careless and hostile input, each answered with a clear message that names the problem
//! and the place — never a panic, never a silent skip — and no secret on any output.

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
        Some(&"created 1, skipped 0, invalid 1, failed 0")
    );
}
