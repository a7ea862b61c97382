//! The error value a script catches when an API call fails:
//! `try { … } catch (err) { err.status; err.code; err.message; err.details }`.
//!
//! It is a registered type (`ApiError`) rather than a bare map so that it prints as a
//! sentence, and so the runner can tell an unhandled API failure (exit 3) from a script
//! bug (exit 1). Parameter mistakes caught before a request is sent use the same type with
//! status 0 and code `invalid_params`, so one `catch` handles both.

use super::convert::from_json;
use crate::api::FieldError;
use crate::client::ClientError;
use rhai::{Dynamic, Engine, EvalAltResult, Position};
use serde_json::{Value, json};
use std::fmt;

#[derive(Clone, Debug)]
pub struct ScriptApiError {
    pub status: i64,
    pub code: String,
    pub message: String,
    pub details: Option<Value>,
    /// `zavu.invitations.create` — what the script called.
    pub call: String,
}

impl ScriptApiError {
    pub fn from_client(call: &str, e: &ClientError) -> Self {
        ScriptApiError {
            status: i64::from(e.status()),
            code: e.code().to_string(),
            message: e.message(),
            details: e.details(),
            call: call.to_string(),
        }
    }

    pub fn invalid_params(call: &str, errors: &[FieldError]) -> Self {
        ScriptApiError {
            status: 0,
            code: "invalid_params".into(),
            message: crate::api::validate::summarize(errors),
            details: Some(json!({ "errors": errors })),
            call: call.to_string(),
        }
    }

    /// Bad parameters are the script's mistake; everything else came from the API side.
    pub fn is_api_failure(&self) -> bool {
        self.code != "invalid_params"
    }

    pub fn into_err(self) -> Box<EvalAltResult> {
        Box::new(EvalAltResult::ErrorRuntime(
            Dynamic::from(self),
            Position::NONE,
        ))
    }
}

impl fmt::Display for ScriptApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            0 if self.code == "invalid_params" => write!(f, "{}: {}", self.call, self.message),
            0 => write!(f, "{}: {}: {}", self.call, self.code, self.message),
            s => write!(f, "{}: HTTP {s} {}: {}", self.call, self.code, self.message),
        }
    }
}

pub fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<ScriptApiError>("ApiError")
        .register_get("status", |e: &mut ScriptApiError| e.status)
        .register_get("code", |e: &mut ScriptApiError| e.code.clone())
        .register_get("message", |e: &mut ScriptApiError| e.message.clone())
        .register_get("details", |e: &mut ScriptApiError| {
            e.details.as_ref().map(from_json).unwrap_or(Dynamic::UNIT)
        })
        .register_get("call", |e: &mut ScriptApiError| e.call.clone())
        .register_fn("to_string", |e: &mut ScriptApiError| e.to_string())
        .register_fn("to_debug", |e: &mut ScriptApiError| e.to_string());
}

/// A run stopped (Ctrl-C, a timeout) while a call that may take effect was waiting for its
/// answer: the request may have been processed, and the person should look before doing it
/// again. The value such a run is terminated with.
#[derive(Clone, Debug)]
pub struct StoppedMidCall {
    pub reason: String,
    pub call: String,
    /// How to find out what happened.
    pub check: &'static str,
}

impl fmt::Display for StoppedMidCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stopped: {} while {} was waiting for its answer — it may have gone through; {}",
            self.reason, self.call, self.check
        )
    }
}

/// For a call that may take effect without an answer: how to check whether it did.
pub fn check_after_stop(call: &str) -> Option<&'static str> {
    Some(match call {
        "zavu.invitations.create" => {
            "look with zavu.invitations.list(#{ limit: 5 }) before creating it again"
        }
        "zavu.messages.send" => {
            "look with zavu.messages.list(#{ limit: 5 }) before sending it again (a send with an idempotencyKey is safe to repeat)"
        }
        "zavu.templates.create" => "look with zavu.templates.list() before creating it again",
        _ => return None,
    })
}
