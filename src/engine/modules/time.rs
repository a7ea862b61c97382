//! `time::now()` and friends: the current time in the API's own format (RFC 3339 UTC with
//! milliseconds), so scripts can compare it with `expiresAt` as text or as milliseconds.

use crate::api::Timestamp;
use rhai::{EvalAltResult, FuncRegistration, Module};

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

pub fn module() -> Module {
    let mut m = Module::new();
    FuncRegistration::new("now")
        .with_comments([
            "/// The current time as the API writes timestamps: `2025-01-15T12:00:00.000Z`.",
            "/// ```rhai",
            "/// print(`report generated ${time::now()}`);",
            "/// ```",
        ])
        .with_params_info(["String"])
        .set_into_module(&mut m, || Timestamp(chrono::Utc::now()).to_string());
    FuncRegistration::new("unix_ms")
        .with_comments([
            "/// Milliseconds since the Unix epoch.",
            "/// ```rhai",
            "/// let started = time::unix_ms();",
            "/// ```",
        ])
        .with_params_info(["i64"])
        .set_into_module(&mut m, || chrono::Utc::now().timestamp_millis());
    FuncRegistration::new("parse")
        .with_comments([
            "/// An RFC 3339 timestamp (like an invitation's `expiresAt`) as epoch milliseconds.",
            "/// ```rhai",
            "/// let left = time::parse(inv.expiresAt) - time::unix_ms();",
            "/// ```",
        ])
        .with_params_info(["text: &str", "i64"])
        .set_into_module(&mut m, |text: &str| -> RhaiResult<i64> {
            Timestamp::parse(text).map(|t| t.millis()).map_err(|e| {
                format!("time::parse: {text:?} is not an RFC 3339 timestamp: {e}").into()
            })
        });
    FuncRegistration::new("format")
        .with_comments([
            "/// Epoch milliseconds as an RFC 3339 UTC timestamp.",
            "/// ```rhai",
            "/// print(time::format(time::unix_ms() + 86400000));",
            "/// ```",
        ])
        .with_params_info(["ms: i64", "String"])
        .set_into_module(&mut m, |ms: i64| Timestamp::from_millis(ms).to_string());
    m
}
