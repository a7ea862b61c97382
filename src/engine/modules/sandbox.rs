//! `sandbox::…`: drive a zavu-script sandbox from a script — complete an invitation as the
//! client would, approve or reject a submitted template as WhatsApp's review would, move
//! the clock, inject faults. For trying scripts offline and for demos;
//! against the real API these calls fail with a clear error.

use crate::client::{ApiClient, ClientError};
use crate::engine::api_error::ScriptApiError;
use crate::engine::bridge::Stopped;
use crate::engine::convert::{from_json, to_json};
use crate::engine::modules::zavu::{ZavuHost, stopped};
use futures::future::BoxFuture;
use rhai::{Dynamic, EvalAltResult, FuncRegistration, Map, Module};
use serde_json::{Value, json};
use std::sync::Arc;

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// Runs one control-plane call with the default client.
fn control(
    host: &ZavuHost,
    call: &str,
    f: impl FnOnce(ApiClient) -> BoxFuture<'static, Result<Value, ClientError>>,
) -> RhaiResult<Dynamic> {
    let client = host.default_zavu()?.client().clone();
    match host.bridge().block_on(f(client)) {
        Ok(Ok(v)) => Ok(from_json(&v)),
        Ok(Err(e)) => Err(ScriptApiError::from_client(call, &e).into_err()),
        Err(Stopped(reason)) => Err(stopped(reason)),
    }
}

pub fn module(host: Arc<ZavuHost>) -> Module {
    let mut m = Module::new();
    for (name, doc) in [
        (
            "view",
            "Opens the invitation's link as the client would (sets `viewedAt`).",
        ),
        (
            "start",
            "The client starts the signup: `pending`/`failed` → `in_progress`.",
        ),
        (
            "complete",
            "The client connects their account: → `completed`, creating a sender.",
        ),
    ] {
        let h = host.clone();
        FuncRegistration::new(name)
            .with_comments([
                format!("/// {doc} Returns `#{{ invitation }}`. Sandbox only."),
                "/// ```rhai".into(),
                format!("/// sandbox::{name}(inv.id);"),
                "/// ```".into(),
            ])
            .with_params_info(["invitation_id: &str", "Map"])
            .set_into_module(&mut m, move |id: &str| {
                let id = id.to_string();
                control(&h, &format!("sandbox::{name}"), move |c| {
                    Box::pin(async move { c.sandbox_drive(&id, name, json!({})).await })
                })
            });
    }
    let h = host.clone();
    FuncRegistration::new("fail")
        .with_comments([
            "/// The client gives up: → `failed` with this reason (e.g. `signup_abandoned`). Sandbox only.",
            "/// ```rhai",
            "/// sandbox::fail(inv.id, \"fb_cancelled\");",
            "/// ```",
        ])
        .with_params_info(["invitation_id: &str", "reason: &str", "Map"])
        .set_into_module(&mut m, move |id: &str, reason: &str| {
            let (id, body) = (id.to_string(), json!({ "reason": reason }));
            control(&h, "sandbox::fail", move |c| {
                Box::pin(async move { c.sandbox_drive(&id, "fail", body).await })
            })
        });
    for (name, approve, doc) in [
        (
            "approve_template",
            true,
            "WhatsApp approves a submitted template: `pending` → `approved`, so it can be sent.",
        ),
        (
            "reject_template",
            false,
            "WhatsApp rejects a submitted template: `pending` → `rejected`.",
        ),
    ] {
        let h = host.clone();
        FuncRegistration::new(name)
            .with_comments([
                format!("/// {doc} Returns the template. Sandbox only."),
                "/// ```rhai".into(),
                format!("/// sandbox::{name}(t.id);"),
                "/// ```".into(),
            ])
            .with_params_info(["template_id: &str", "Map"])
            .set_into_module(&mut m, move |id: &str| {
                let id = id.to_string();
                control(&h, &format!("sandbox::{name}"), move |c| {
                    Box::pin(async move { c.sandbox_review_template(&id, approve).await })
                })
            });
    }
    let h = host.clone();
    FuncRegistration::new("advance_clock")
        .with_comments([
            "/// Moves the sandbox's clock forward (expiry follows). Sandbox only.",
            "/// ```rhai",
            "/// sandbox::advance_clock(8 * 86400);",
            "/// ```",
        ])
        .with_params_info(["seconds: i64", "Map"])
        .set_into_module(&mut m, move |seconds: i64| {
            control(&h, "sandbox::advance_clock", move |c| {
                Box::pin(async move { c.sandbox_advance_clock(seconds).await })
            })
        });
    let h = host.clone();
    FuncRegistration::new("faults")
        .with_comments([
            "/// Sets fault injection (`errorRate`, `latencyMs`, `rateLimitPerMinute`, …; `()` turns one off). Sandbox only.",
            "/// ```rhai",
            "/// sandbox::faults(#{ errorRate: 0.1, latencyMs: 150 });",
            "/// ```",
        ])
        .with_params_info(["faults: Map", "Map"])
        .set_into_module(&mut m, move |faults: Map| -> RhaiResult<Dynamic> {
            // Here `()` means "turn this fault off", so it stays as JSON null.
            let body = to_json(&Dynamic::from_map(faults)).map_err(|e| format!("sandbox::faults: {e}"))?;
            control(&h, "sandbox::faults", move |c| {
                Box::pin(async move { c.sandbox_faults(&body).await })
            })
        });
    let h = host.clone();
    FuncRegistration::new("stats")
        .with_comments([
            "/// The sandbox's counters: requests by status, invitations by status, messages. Sandbox only.",
            "/// ```rhai",
            "/// print(sandbox::stats().invitations);",
            "/// ```",
        ])
        .with_params_info(["Map"])
        .set_into_module(&mut m, move || {
            control(&h, "sandbox::stats", |c| Box::pin(async move { c.sandbox_stats().await }))
        });
    let h = host;
    FuncRegistration::new("reset")
        .with_comments([
            "/// Forgets invitations, messages, created senders and faults; keeps the seeds. Sandbox only.",
            "/// ```rhai",
            "/// sandbox::reset();",
            "/// ```",
        ])
        .with_params_info(["Map"])
        .set_into_module(&mut m, move || {
            control(&h, "sandbox::reset", |c| Box::pin(async move { c.sandbox_reset().await }))
        });
    m
}
