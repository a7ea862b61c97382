//! What a script knows of its process: `ARGS` (set by the engine), `env(name)`, and
//! `sleep(seconds)`, which a Ctrl-C or a timeout interrupts.

use crate::engine::bridge::{Bridge, Stopped};
use crate::engine::modules::zavu::stopped;
use rhai::{Dynamic, Engine, EvalAltResult, FuncRegistration};
use std::sync::Arc;
use std::time::Duration;

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

fn sleep_for(bridge: &Bridge, seconds: f64) -> RhaiResult<()> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("sleep: {seconds} is not a number of seconds").into());
    }
    let wait = Duration::from_secs_f64(seconds.min(86_400.0));
    // The timer must be created inside the runtime, hence the async block.
    bridge
        .block_on(async move { tokio::time::sleep(wait).await })
        .map_err(|Stopped(reason)| stopped(reason))
}

pub fn register(engine: &mut Engine, bridge: Arc<Bridge>) {
    FuncRegistration::new("env")
        .with_comments([
            "/// The value of an environment variable, or `()` when it is not set.",
            "/// ```rhai",
            "/// let region = env(\"REGION\") ?? \"us\";",
            "/// ```",
        ])
        .with_params_info(["name: &str", "Dynamic"])
        .register_into_engine(engine, |name: &str| -> Dynamic {
            std::env::var(name)
                .map(Dynamic::from)
                .unwrap_or(Dynamic::UNIT)
        });
    let b = bridge.clone();
    FuncRegistration::new("sleep")
        .with_comments([
            "/// Waits this many seconds (fractions allowed); Ctrl-C interrupts it.",
            "/// ```rhai",
            "/// sleep(1.5);",
            "/// ```",
        ])
        .with_params_info(["seconds: f64", "()"])
        .register_into_engine(engine, move |seconds: f64| sleep_for(&b, seconds));
    FuncRegistration::new("sleep")
        .with_comments([
            "/// Waits this many whole seconds; Ctrl-C interrupts it.",
            "/// ```rhai",
            "/// sleep(2);",
            "/// ```",
        ])
        .with_params_info(["seconds: i64", "()"])
        .register_into_engine(engine, move |seconds: i64| {
            sleep_for(&bridge, seconds as f64)
        });
}
