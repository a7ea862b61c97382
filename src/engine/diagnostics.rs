//! Script errors as people read them: the message, `file:line:col`, the source line and a
//! caret, and for errors inside functions the chain of calls that led there. Also decides
//! what kind of failure it was (script bug, API failure, interruption) for the exit status.

use super::api_error::{ScriptApiError, StoppedMidCall};
use super::context::MemoryExceeded;
use super::modules::zavu::{RESOURCES, resource_names};
use crate::api::validate::suggest;
use rhai::{EvalAltResult, ParseError, Position};

/// What kind of failure ended a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    Script,
    Api,
    Interrupted,
}

pub fn classify(err: &EvalAltResult) -> FailureKind {
    match innermost(err) {
        EvalAltResult::ErrorRuntime(v, _) => match v.read_lock::<ScriptApiError>() {
            Some(e) if e.is_api_failure() => FailureKind::Api,
            _ => FailureKind::Script,
        },
        // Over the memory budget is the script's doing, like too many operations.
        EvalAltResult::ErrorTerminated(v, _) if v.is::<MemoryExceeded>() => FailureKind::Script,
        EvalAltResult::ErrorTerminated(..) => FailureKind::Interrupted,
        _ => FailureKind::Script,
    }
}

/// What stopped an interrupted run, in a sentence (`stopped: …`), when it says more than
/// the plain stop reason does — a call that may have gone through.
pub fn interruption(err: &EvalAltResult) -> Option<String> {
    match innermost(err) {
        EvalAltResult::ErrorTerminated(v, _) if v.is::<StoppedMidCall>() => {
            Some(v.clone_cast::<StoppedMidCall>().to_string())
        }
        _ => None,
    }
}

/// Whether a run was stopped for holding more than its memory budget.
pub fn is_memory_stop(err: &EvalAltResult) -> bool {
    matches!(innermost(err), EvalAltResult::ErrorTerminated(v, _) if v.is::<MemoryExceeded>())
}

fn innermost(err: &EvalAltResult) -> &EvalAltResult {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => innermost(inner),
        other => other,
    }
}

/// An error as one log-friendly line: the message and where it happened.
pub fn one_line(script: &str, err: &EvalAltResult) -> String {
    let mut e = err;
    let mut call_pos = Position::NONE;
    while let EvalAltResult::ErrorInFunctionCall(_, _, inner, pos) = e {
        call_pos = *pos;
        e = inner;
    }
    let pos = if e.position().is_none() {
        call_pos
    } else {
        e.position()
    };
    let message = message(e);
    match pos.line() {
        Some(line) => format!(
            "{message} (at {script}:{line}:{})",
            pos.position().unwrap_or(1)
        ),
        None => message,
    }
}

/// The human message of an error, without a position.
pub fn message(err: &EvalAltResult) -> String {
    match err {
        EvalAltResult::ErrorRuntime(v, _) => match v.read_lock::<ScriptApiError>() {
            Some(e) if e.is_api_failure() => format!("API error: {}", *e),
            Some(e) => format!("invalid parameters: {}", *e),
            None if v.is_string() => v.to_string(),
            None => format!("thrown: {v}"),
        },
        EvalAltResult::ErrorTerminated(v, _) if v.is::<MemoryExceeded>() => {
            v.clone_cast::<MemoryExceeded>().to_string()
        }
        EvalAltResult::ErrorTerminated(v, _) if v.is::<StoppedMidCall>() => {
            v.clone_cast::<StoppedMidCall>().to_string()
        }
        EvalAltResult::ErrorTerminated(reason, _) => format!("stopped: {reason}"),
        EvalAltResult::ErrorFunctionNotFound(sig, _) => function_not_found(sig),
        EvalAltResult::ErrorTooManyOperations(_) => {
            "the script ran too many operations (raise --max-operations if this is intended)".into()
        }
        EvalAltResult::ErrorStackOverflow(_) => {
            "functions called each other too deeply (raise --max-call-depth if this is intended)"
                .into()
        }
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            format!(
                "{what} is larger than the script limits allow (see --max-string-size, --max-array-size, --max-map-size, --max-memory)"
            )
        }
        other => {
            let text = other.to_string();
            let suffix = format!(" ({})", other.position());
            text.strip_suffix(&suffix).unwrap_or(&text).to_string()
        }
    }
}

/// `craete (Invitations, map)` → a sentence naming what exists.
fn function_not_found(sig: &str) -> String {
    let (name, args) = match sig.split_once(" (") {
        Some((n, rest)) => (n.trim(), rest.trim_end_matches(')')),
        None => (sig.trim(), ""),
    };
    let args: Vec<&str> = args
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect();
    let first = args.first().copied().unwrap_or("");
    if first == "Zavu" {
        let names = resource_names();
        return format!(
            "`zavu.{name}(…)` does not exist: zavu's methods live on its resources ({})",
            names
                .iter()
                .map(|n| format!("zavu.{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(spec) = RESOURCES.iter().find(|r| r.type_name == first) {
        let methods: Vec<&str> = spec.methods.iter().map(|(m, _)| *m).collect();
        if let Some((_, form)) = spec.methods.iter().find(|(m, _)| *m == name) {
            return format!(
                "zavu.{}.{name} cannot take ({}); use {form}",
                spec.name,
                args[1..].join(", ")
            );
        }
        let hint = suggest(name, &methods)
            .map(|s| format!(" — did you mean `{s}`?"))
            .unwrap_or_default();
        return format!(
            "zavu.{} has no method `{name}`{hint} (methods: {})",
            spec.name,
            methods.join(", ")
        );
    }
    format!("function not found: {sig}")
}

fn excerpt(source_name: &str, text: &str, pos: Position) -> String {
    let (Some(line), col) = (pos.line(), pos.position().unwrap_or(1)) else {
        return String::new();
    };
    let Some(src_line) = text.split('\n').nth(line - 1) else {
        return format!(" --> {source_name}:{line}:{col}\n");
    };
    let src_line = src_line.trim_end_matches('\r');
    let gutter = line.to_string().len();
    let pad: String = src_line
        .chars()
        .take(col.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!(
        "{:>w$}--> {source_name}:{line}:{col}\n{:>w$} |\n{line} | {src_line}\n{:>w$} | {pad}^\n",
        "",
        "",
        "",
        w = gutter
    )
}

/// A runtime error, rendered for stderr.
pub fn render(source_name: &str, text: &str, err: &EvalAltResult) -> String {
    // Walk into function calls, remembering where each was called from.
    let mut calls = vec![];
    let mut e = err;
    while let EvalAltResult::ErrorInFunctionCall(name, _, inner, pos) = e {
        calls.push((name.clone(), *pos));
        e = inner;
    }
    let mut out = format!("error: {}\n", message(e));
    let mut pos = e.position();
    // Parameters refused before sending: point at the offending key, not at the call.
    if let Some(at) = field_path(e).and_then(|path| key_position(text, pos, &path)) {
        pos = at;
    }
    if pos.is_none() {
        if let Some((_, call_pos)) = calls.last() {
            out.push_str(&excerpt(source_name, text, *call_pos));
        }
    } else {
        out.push_str(&excerpt(source_name, text, pos));
    }
    for (name, pos) in calls.iter().rev() {
        if let Some(line) = pos.line() {
            let shown = if name.starts_with("anon$") {
                "a closure"
            } else {
                name.as_str()
            };
            out.push_str(&format!(
                "  = in {shown}, called at {source_name}:{line}:{}\n",
                pos.position().unwrap_or(1)
            ));
        }
    }
    out
}

/// The path of the first field an API error names (`["content", "templateId"]`).
fn field_path(err: &EvalAltResult) -> Option<Vec<String>> {
    let EvalAltResult::ErrorRuntime(v, _) = err else {
        return None;
    };
    let api = v.read_lock::<ScriptApiError>()?;
    let path = api
        .details
        .as_ref()?
        .pointer("/errors/0/path")?
        .as_array()?;
    let keys: Vec<String> = path
        .iter()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    (!keys.is_empty()).then_some(keys)
}

/// Where the key `path` names is written, at or after `from`: each key of the path in
/// turn, as `key:` or `"key":`.
fn key_position(text: &str, from: Position, path: &[String]) -> Option<Position> {
    let (line, col) = (from.line()?, from.position().unwrap_or(1));
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum();
    let mut at = line_start
        + text[line_start..]
            .chars()
            .take(col - 1)
            .map(char::len_utf8)
            .sum::<usize>();
    for key in path {
        let found = [format!("{key}:"), format!("{key} :"), format!("\"{key}\"")]
            .iter()
            .filter_map(|needle| {
                text[at..]
                    .match_indices(needle.as_str())
                    .find_map(|(i, _)| {
                        let start = at + i;
                        // A whole key: not the tail of a longer name.
                        let before = text[..start].chars().next_back();
                        let whole = !before.is_some_and(|c| c.is_alphanumeric() || c == '_');
                        whole.then_some(start)
                    })
            })
            .min()?;
        at = found;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    Some(Position::new(line as u16, col as u16))
}

/// A compile error, rendered for stderr.
pub fn render_parse(source_name: &str, text: &str, err: &ParseError) -> String {
    let mut out = format!("error: {}\n", err.err_type());
    out.push_str(&excerpt(source_name, text, err.position()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_valid_methods_and_resources() {
        let m = function_not_found("craete (Invitations, map)");
        assert!(m.contains("did you mean `create`"), "{m}");
        assert!(m.contains("create, get, list, cancel, all"), "{m}");
        let m = function_not_found("get (Invitations, i64)");
        assert!(m.contains("cannot take (i64)"), "{m}");
        let m = function_not_found("create (Zavu, map)");
        assert!(m.contains("zavu.invitations"), "{m}");
    }

    #[test]
    fn a_refused_parameter_is_pointed_at_by_its_key() {
        let text =
            "let x = 1;\nzavu.invitations.create(#{ clientName: \"A\",\n  expiresInDays: 99 });";
        let call = Position::new(2, 18);
        let path = vec!["expiresInDays".to_string()];
        assert_eq!(key_position(text, call, &path), Some(Position::new(3, 3)));
        // Nested keys are found in turn; a longer name that ends the same is not the key.
        let text = "send(#{ xcontent: 1, content: #{ templateId: 2 } })";
        let path = vec!["content".to_string(), "templateId".to_string()];
        assert_eq!(
            key_position(text, Position::new(1, 1), &path),
            Some(Position::new(1, 34))
        );
        assert_eq!(
            key_position(text, Position::new(1, 1), &["nope".into()]),
            None
        );
    }

    #[test]
    fn points_at_the_place() {
        let engine = rhai::Engine::new();
        let text = "let a = 1;\nlet b = a +;\n";
        let err = engine.compile(text).unwrap_err();
        let out = render_parse("x.rhai", text, &err);
        assert!(out.contains("--> x.rhai:2:"), "{out}");
        assert!(out.contains("2 | let b = a +;"), "{out}");
        assert!(out.contains('^'));
    }

    #[test]
    fn errors_fit_on_one_line_with_their_place() {
        let engine = rhai::Engine::new();
        let err = engine
            .eval::<rhai::Dynamic>("fn f(x) {\n  x.nope()\n}\nf(1)")
            .unwrap_err();
        let line = one_line("s.rhai", &err);
        assert!(line.contains("(at s.rhai:2:"), "{line}");
        assert!(!line.contains('\n'));
        let err = engine.eval::<rhai::Dynamic>("throw \"boom\"").unwrap_err();
        assert_eq!(one_line("s.rhai", &err), "boom (at s.rhai:1:1)");
    }
}
