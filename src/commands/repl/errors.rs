//! An error as the REPL shows it. A session's functions outlive the input that defined
//! them, so an error inside `fn f` defined in `<input 2>` and called from `<input 5>` must
//! quote input 2 at the failing line, and each "called at" must name the input the call
//! was written in. Rhai does not keep that provenance in a merged AST, so the REPL records
//! where each function came from, and this module renders with it — the message and the
//! caret are the engine's own (`diagnostics::render`), only the sources are chosen here.

use crate::engine::diagnostics;
use rhai::{EvalAltResult, Position};
use std::collections::HashMap;

/// The text of every input and loaded file of the session, and which one defined each
/// function.
#[derive(Default)]
pub struct Sources {
    texts: HashMap<String, String>,
    defined_in: HashMap<String, String>,
}

impl Sources {
    pub fn add(&mut self, name: &str, text: &str, functions: impl IntoIterator<Item = String>) {
        self.texts.insert(name.to_string(), text.to_string());
        for f in functions {
            self.defined_in.insert(f, name.to_string());
        }
    }

    pub fn clear(&mut self) {
        self.texts.clear();
        self.defined_in.clear();
    }

    fn of_function<'a>(
        &'a self,
        function: &str,
        fallback: (&'a str, &'a str),
    ) -> (&'a str, &'a str) {
        self.defined_in
            .get(function)
            .and_then(|name| Some((name.as_str(), self.texts.get(name)?.as_str())))
            .unwrap_or(fallback)
    }

    /// Renders `err` raised while running `name` (whose text is `text`).
    pub fn render(&self, name: &str, text: &str, err: Box<EvalAltResult>) -> String {
        let mut calls: Vec<(String, Position)> = vec![];
        let mut inner = err;
        loop {
            match *inner {
                EvalAltResult::ErrorInFunctionCall(f, _, next, pos) => {
                    calls.push((f, pos));
                    inner = next;
                }
                other => {
                    *inner = other;
                    break;
                }
            }
        }
        let Some((innermost, call_pos)) = calls.last().cloned() else {
            return diagnostics::render(name, text, &inner);
        };
        // The failing line is in the innermost function's input. An error with no place of
        // its own (an API call that failed) is shown at the call, which is written in the
        // input of the function that made it.
        let (src_name, src_text) = if inner.position().is_none() {
            inner.set_position(call_pos);
            match calls.len() {
                1 => (name, text),
                n => self.of_function(&calls[n - 2].0, (name, text)),
            }
        } else {
            self.of_function(&innermost, (name, text))
        };
        let mut out = diagnostics::render(src_name, src_text, &inner);
        // The first call is written in this input; each later one inside the function
        // called before it.
        for (i, (f, pos)) in calls.iter().enumerate().rev() {
            let Some(line) = pos.line() else { continue };
            let at = if i == 0 {
                name
            } else {
                self.of_function(&calls[i - 1].0, (name, text)).0
            };
            let shown = if f.starts_with("anon$") {
                "a closure"
            } else {
                f
            };
            out.push_str(&format!(
                "  = in {shown}, called at {at}:{line}:{}\n",
                pos.position().unwrap_or(1)
            ));
        }
        out
    }
}
