//! A script file as the engine takes it: read (a byte-order mark dropped, a `#!` first line
//! blanked, not removed, so line numbers stay true), compiled with its name as the source, and a failed run turned
//! into a typed failure that says which kind it was — a script bug, an API failure nobody
//! handled, or an interruption — already rendered with `file:line:col` and a caret.
//!
//! Every front door that runs files (`run`, `check`, the REPL's `:load`, the scheduler)
//! goes through here. It renders; it does not print and does not choose exit statuses.

use super::diagnostics::{self, FailureKind};
use rhai::{AST, Engine, EvalAltResult};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("cannot read script {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Rendered with `file:line:col` and the source line.
    #[error("{0}")]
    Compile(String),
    /// A run that failed; the text is rendered with the script location.
    #[error("{text}")]
    Failed { kind: FailureKind, text: String },
}

/// A script file's text, with a UTF-8 byte-order mark (which some Windows editors write)
/// dropped and a `#!` first line blanked.
pub fn read(path: &Path) -> Result<String, ScriptError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    };
    Ok(if text.starts_with("#!") {
        match text.find('\n') {
            Some(i) => text[i..].to_string(),
            None => String::new(),
        }
    } else {
        text
    })
}

/// Compiles `text`, naming it `name` in errors and in the AST.
pub fn compile(engine: &Engine, name: &str, text: &str) -> Result<AST, ScriptError> {
    let mut ast = engine
        .compile(text)
        .map_err(|e| ScriptError::Compile(diagnostics::render_parse(name, text, &e)))?;
    ast.set_source(name);
    Ok(ast)
}

/// A failed run of the script `name` with source `text`, rendered and classified.
pub fn failure(name: &str, text: &str, err: &EvalAltResult) -> ScriptError {
    ScriptError::Failed {
        kind: diagnostics::classify(err),
        text: diagnostics::render(name, text, err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_and_a_shebang_are_not_code() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.rhai");
        std::fs::write(&p, "\u{feff}#!/usr/bin/env zavu-script run\nlet x = 1;\n").unwrap();
        assert_eq!(read(&p).unwrap(), "\nlet x = 1;\n");
        std::fs::write(&p, "\u{feff}let y = 2;").unwrap();
        assert_eq!(read(&p).unwrap(), "let y = 2;");
    }
}
