//! How the front doors speak to a person: results on stdout as text or JSON, and yes/no
//! questions on the terminal. Operations return data; the doors format it here or beside
//! the call, and every question is asked the same way and accepts the same answers.

use crate::campaign::Confirm;
use std::io::{BufRead, IsTerminal, Write};

/// One JSON value on one line of stdout (for tools that read line by line).
pub fn json_line(value: &serde_json::Value) {
    println!("{value}");
}

/// One JSON value, indented, on stdout.
pub fn json_pretty(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// Asks on the terminal when there is one (stdin and stderr both a terminal); otherwise
/// nobody can be asked and callers refuse with a message that says how to go ahead.
pub fn terminal_confirm() -> Confirm {
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        Confirm::new(ask)
    } else {
        Confirm::default()
    }
}

/// `question [y/N] ` on stderr; `y` or `yes` in any case is yes, anything else no.
fn ask(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}
