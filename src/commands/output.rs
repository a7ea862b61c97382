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

/// Rows under a header line, each column as wide as its widest cell; numbers (columns
/// named in `right`) aligned to the right. For plain listings such as `campaign list`.
pub fn table(header: &[&str], right: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .chain([h.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let text: Vec<String> = cells
            .zip(header.iter().zip(&widths))
            .map(|(c, (h, w))| {
                if right.contains(h) {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        text.join("  ").trim_end().to_string()
    };
    let mut out = line(&mut header.iter().copied());
    for r in rows {
        out.push('\n');
        out.push_str(&line(&mut r.iter().map(String::as_str)));
    }
    out
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

#[cfg(test)]
mod tests {
    #[test]
    fn a_table_lines_its_columns_up_under_the_header() {
        let rows = vec![
            vec!["spring".to_string(), "1200".to_string(), "done".to_string()],
            vec!["a".to_string(), "7".to_string(), "".to_string()],
        ];
        assert_eq!(
            super::table(&["NAME", "ROWS", "OUTCOME"], &["ROWS"], &rows),
            "NAME    ROWS  OUTCOME\nspring  1200  done\na          7"
        );
    }
}
