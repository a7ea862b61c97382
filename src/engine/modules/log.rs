//! `log::info/warn/error(message)`: progress and problems on stderr (or the scheduler's
//! log), never mixed into what the script prints on stdout.

use crate::engine::context::{LogLevel, Sink};
use rhai::{Dynamic, FuncRegistration, Module};
use std::sync::Arc;

pub fn module(sink: Arc<dyn Sink>) -> Module {
    let mut m = Module::new();
    for (name, level, example) in [
        ("info", LogLevel::Info, "log::info(`invited ${n} clients`);"),
        (
            "warn",
            LogLevel::Warn,
            "log::warn(`row ${i}: no email, skipped`);",
        ),
        (
            "error",
            LogLevel::Error,
            "log::error(`could not reach the API: ${err}`);",
        ),
    ] {
        let sink = sink.clone();
        FuncRegistration::new(name)
            .with_comments([
                format!("/// Writes a {name} line to stderr (the log), not to stdout."),
                "/// ```rhai".to_string(),
                format!("/// {example}"),
                "/// ```".to_string(),
            ])
            .with_params_info(["message: Dynamic", "()"])
            .set_into_module(&mut m, move |message: Dynamic| {
                sink.log(level, &message.to_string());
            });
    }
    m
}
