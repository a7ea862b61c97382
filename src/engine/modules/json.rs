//! `json::parse(text)` and `json::stringify(value[, pretty])`: JSON in and out of scripts,
//! with parse errors that name line and column.

use crate::engine::convert::{from_json, to_json};
use rhai::{Dynamic, EvalAltResult, FuncRegistration, Module};

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

fn parse(text: &str) -> RhaiResult<Dynamic> {
    serde_json::from_str::<serde_json::Value>(text)
        .map(|v| from_json(&v))
        .map_err(|e| format!("json::parse: line {} column {}: {e}", e.line(), e.column()).into())
}

fn stringify(value: Dynamic, pretty: bool) -> RhaiResult<String> {
    let json = to_json(&value).map_err(|e| format!("json::stringify: {e}"))?;
    let text = if pretty {
        serde_json::to_string_pretty(&json)
    } else {
        serde_json::to_string(&json)
    };
    text.map_err(|e| format!("json::stringify: {e}").into())
}

pub fn module() -> Module {
    let mut m = Module::new();
    FuncRegistration::new("parse")
        .with_comments([
            "/// Parses JSON text into maps, arrays, strings, numbers, booleans and `()`.",
            "/// ```rhai",
            "/// let v = json::parse(\"{\\\"a\\\": [1, 2]}\"); print(v.a[1]);",
            "/// ```",
        ])
        .with_params_info(["text: &str", "Dynamic"])
        .set_into_module(&mut m, parse);
    FuncRegistration::new("stringify")
        .with_comments([
            "/// Turns a value into compact JSON text.",
            "/// ```rhai",
            "/// print(json::stringify(#{ id: \"inv_1\", ok: true }));",
            "/// ```",
        ])
        .with_params_info(["value: Dynamic", "String"])
        .set_into_module(&mut m, |v: Dynamic| stringify(v, false));
    FuncRegistration::new("stringify")
        .with_comments([
            "/// Turns a value into JSON text, indented when `pretty` is true.",
            "/// ```rhai",
            "/// print(json::stringify(result, true));",
            "/// ```",
        ])
        .with_params_info(["value: Dynamic", "pretty: bool", "String"])
        .set_into_module(&mut m, stringify);
    m
}
