//! The house rules of `src/`, checked on the source itself: imports only run down the
//! layers (no circle, no arrow back up), a module never reaches into its parent, clap types
//! stay at the top, every file says what it owns, and no file grows past the size a person
//! reads in one sitting. A change that breaks a rule fails here with the file and the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Top-level modules by layer: a module may import only from a lower layer (or itself).
/// The call flow runs the other way: `cli` → `config` → `commands` → … → `client`.
const LAYERS: &[(&str, u8)] = &[
    ("api", 0),
    ("files", 0),
    ("duration", 0),
    ("memory", 0),
    ("stop", 0),
    ("state", 0),
    ("client", 1),
    ("sandbox", 1),
    ("campaign", 2),
    ("engine", 3),
    ("error", 4),
    ("service_log", 4),
    ("service_metrics", 4),
    ("cron", 5),
    ("listen", 5),
    ("cli", 6),
    ("config", 7),
    ("commands", 8),
];

/// Only these files may name clap types: the command line itself, the module that turns
/// it into plain settings, and the crate root that wires them.
const MAY_IMPORT_CLI: &[&str] = &["config.rs", "lib.rs"];

/// "No file over ~600 lines": the hard stop, with a little room for a last test.
const MAX_LINES: usize = 650;

struct Source {
    /// Relative to `src/`, with `/` separators.
    rel: String,
    text: String,
}

fn sources() -> Vec<Source> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<Source>) {
        for entry in std::fs::read_dir(dir).expect("read src/") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(root)
                    .expect("under src/")
                    .to_string_lossy()
                    .replace('\\', "/");
                let text = std::fs::read_to_string(&path).expect("read source");
                out.push(Source { rel, text });
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = vec![];
    walk(&root, &root, &mut out);
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    out
}

/// The module path of a file: `client/mod.rs` → `[client]`, `client/url.rs` →
/// `[client, url]`, `lib.rs` → `[]`.
fn module_of(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// The code a file compiles outside its unit tests, without comments.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path a file names through `crate::` or `super::`, with `use` groups expanded:
/// `use crate::a::{b, c::d}` gives `crate::a::b` and `crate::a::c::d`.
fn paths(code: &str) -> Vec<(usize, Vec<String>)> {
    fn expand(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
        let tree = tree.trim();
        if let Some(inner) = tree.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(prefix, &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            expand(prefix, &inner[start..], out);
            return;
        }
        let mut path = prefix.to_vec();
        match tree.split_once("::{") {
            Some((head, rest)) => {
                path.extend(head.split("::").map(|s| s.trim().to_string()));
                expand(&path, &format!("{{{rest}"), out);
            }
            None => {
                let tree = tree.split(" as ").next().unwrap_or("").trim();
                if !tree.is_empty() {
                    path.extend(tree.split("::").map(|s| s.trim().to_string()));
                    out.push(path);
                }
            }
        }
    }
    let bytes = code.as_bytes();
    let mut out = vec![];
    for root in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(root) {
            let at = from + found;
            from = at + root.len();
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '(' || c == ':') {
                continue; // `pub(crate)`, `pub(super)`, or the middle of a longer path
            }
            // The path: names and `::`, ending with at most one balanced `{…}` group.
            let mut end = from;
            while let Some(&b) = bytes.get(end) {
                if b.is_ascii_alphanumeric() || b == b'_' || b == b':' {
                    end += 1;
                } else if b == b'{' {
                    let mut depth = 0;
                    while let Some(&b) = bytes.get(end) {
                        end += 1;
                        match b {
                            b'{' => depth += 1,
                            b'}' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                    break;
                } else {
                    break;
                }
            }
            let line = code[..at].matches('\n').count() + 1;
            let mut expanded = vec![];
            expand(
                &[root.trim_end_matches("::").to_string()],
                &code[from..end],
                &mut expanded,
            );
            out.extend(expanded.into_iter().map(|p| (line, p)));
        }
    }
    out
}

/// The module a path lands in: the longest prefix of it that is a module of the crate.
fn target_module(
    me: &[String],
    path: &[String],
    modules: &BTreeMap<Vec<String>, String>,
) -> Vec<String> {
    let (mut base, rest) = match path.first().map(String::as_str) {
        Some("crate") => (vec![], &path[1..]),
        Some("super") => {
            let mut m = me.to_vec();
            m.pop();
            (m, &path[1..])
        }
        _ => return vec![],
    };
    for seg in rest {
        let mut next = base.clone();
        next.push(seg.clone());
        if modules.contains_key(&next) {
            base = next;
        } else {
            break;
        }
    }
    base
}

fn layer(module: &[String]) -> Option<u8> {
    let top = module.first()?;
    LAYERS.iter().find(|(n, _)| n == top).map(|(_, l)| *l)
}

#[test]
fn imports_run_down_the_layers_and_never_into_a_parent() {
    let files = sources();
    let modules: BTreeMap<Vec<String>, String> = files
        .iter()
        .map(|s| (module_of(&s.rel), s.rel.clone()))
        .collect();
    let mut problems = vec![];
    for file in &files {
        if file.rel == "main.rs" || file.rel == "lib.rs" {
            continue;
        }
        let me = module_of(&file.rel);
        let Some(my_layer) = layer(&me) else {
            problems.push(format!(
                "src/{}: top-level module `{}` has no layer in LAYERS",
                file.rel, me[0]
            ));
            continue;
        };
        for (line, path) in paths(&code(&file.text)) {
            let target = target_module(&me, &path, &modules);
            let shown = path.join("::");
            if target.is_empty() {
                problems.push(format!(
                    "src/{}:{line}: `{shown}` reaches the crate root; import the module that owns it",
                    file.rel
                ));
                continue;
            }
            if target.first() == Some(&"cli".to_string())
                && me.first() != Some(&"cli".to_string())
                && !MAY_IMPORT_CLI.contains(&file.rel.as_str())
            {
                problems.push(format!(
                    "src/{}:{line}: `{shown}`: only config.rs turns clap types into settings",
                    file.rel
                ));
            }
            if target.first() != me.first() {
                let theirs = layer(&target).unwrap_or(u8::MAX);
                if theirs >= my_layer {
                    problems.push(format!(
                        "src/{}:{line}: `{shown}` points up or sideways ({} is layer {}, {} is layer {theirs})",
                        file.rel, me[0], my_layer, target[0]
                    ));
                }
            } else if target.len() < me.len() && me.starts_with(&target) {
                problems.push(format!(
                    "src/{}:{line}: `{shown}` reaches into a parent module ({}); move what both need into a sibling",
                    file.rel,
                    modules.get(&target).map(String::as_str).unwrap_or("?")
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_file_says_what_it_owns_and_stays_readable() {
    let mut problems = vec![];
    for file in sources() {
        if !file.text.starts_with("//!") {
            problems.push(format!(
                "src/{}: starts without a `//!` paragraph saying what it owns",
                file.rel
            ));
        }
        let lines = file.text.lines().count();
        if lines > MAX_LINES {
            problems.push(format!(
                "src/{}: {lines} lines (at most {MAX_LINES}); split it along a seam",
                file.rel
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_rule_checker_sees_what_it_checks() {
    // The checker itself: group expansion, `pub(crate)` skipped, parents resolved.
    let found = paths("use crate::a::{b, c::{d, e as f}};\npub(crate) fn x() {}\nuse super::g;");
    let shown: Vec<String> = found.iter().map(|(_, p)| p.join("::")).collect();
    assert_eq!(
        shown,
        [
            "crate::a::b",
            "crate::a::c::d",
            "crate::a::c::e",
            "super::g"
        ]
    );
    let modules: BTreeMap<Vec<String>, String> = [
        (vec!["a".to_string()], "a/mod.rs".to_string()),
        (vec!["a".into(), "b".into()], "a/b.rs".into()),
    ]
    .into_iter()
    .collect();
    let me = vec!["a".to_string(), "b".to_string()];
    assert_eq!(
        target_module(&me, &["super".into(), "Item".into()], &modules),
        ["a"]
    );
    assert_eq!(
        target_module(&me, &["crate".into(), "a".into(), "b".into()], &modules),
        ["a", "b"]
    );
}
