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
