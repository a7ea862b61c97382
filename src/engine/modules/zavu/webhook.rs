//! `zavu.webhook`: the project webhook — configure (create, or replace its URL and events;
//! the secret is kept), get, update, delete — and `verify`, which checks a delivery a
//! script got some other way (its `X-Zavu-Signature` header, raw body and the secret) and
//! says why one is not to be trusted. Configure and update are checked against the same
//! rules the sandbox applies before anything is sent.

use super::host::{RhaiResult, Webhook, Zavu};
use super::params::Params;
use crate::api::FieldError;
use crate::api::validate::{self, CONFIGURE_WEBHOOK_KEYS, UPDATE_WEBHOOK_KEYS, UnknownKeys};
use crate::api::webhook::{
    self, DEFAULT_TOLERANCE_SECONDS, Refused, STATUS_CHANGED, WebhookEnvelope,
};
use crate::engine::api_error::ScriptApiError;
use crate::engine::convert::{from_json, to_dynamic};
use rhai::{Dynamic, Engine, ImmutableString, Map};
use serde_json::Value;

const CONFIGURE: &str = "zavu.webhook.configure";
const UPDATE: &str = "zavu.webhook.update";
const VERIFY: &str = "zavu.webhook.verify";
pub const VERIFY_KEYS: &[&str] = &["header", "body", "secret", "toleranceSeconds"];

fn envelope(hook: crate::api::webhook::Webhook) -> Dynamic {
    to_dynamic(&WebhookEnvelope { webhook: hook })
}

/// `configure(#{ url, events })`; `events` defaults to every status change.
fn configure(z: &Zavu, map: &Map) -> RhaiResult<Dynamic> {
    let mut p = Params::new(CONFIGURE, map, CONFIGURE_WEBHOOK_KEYS)?;
    if !p.obj.contains_key("events") {
        p.obj
            .insert("events".into(), Value::from(vec![STATUS_CHANGED]));
    }
    let req = p.check_with(|body| validate::configure_webhook(body, UnknownKeys::Reject))?;
    let hook = z.call(
        CONFIGURE,
        z.client.configure_webhook(&req.url, Some(&req.events)),
    )?;
    Ok(envelope(hook))
}

fn get(z: &Zavu) -> RhaiResult<Dynamic> {
    Ok(envelope(
        z.call("zavu.webhook.get", z.client.get_webhook())?,
    ))
}

fn update(z: &Zavu, map: &Map) -> RhaiResult<Dynamic> {
    let p = Params::new(UPDATE, map, UPDATE_WEBHOOK_KEYS)?;
    let req = p.check_with(|body| validate::update_webhook(body, UnknownKeys::Reject))?;
    let body = serde_json::to_value(&req).unwrap_or(Value::Null);
    Ok(envelope(z.call(UPDATE, z.client.update_webhook(&body))?))
}

fn delete(z: &Zavu) -> RhaiResult<Dynamic> {
    z.call("zavu.webhook.delete", z.client.delete_webhook())?;
    Ok(Dynamic::UNIT)
}

fn no_params(call: &'static str, map: &Map) -> RhaiResult<()> {
    Params::new(call, map, &[])?.finish()
}

fn invalid(field: &str, message: &str) -> Box<rhai::EvalAltResult> {
    ScriptApiError::invalid_params(VERIFY, &[FieldError::new(&[field], message)]).into_err()
}

/// The raw body as bytes: a string, or a blob.
fn body_bytes(body: &Dynamic) -> RhaiResult<Vec<u8>> {
    if let Some(s) = body.read_lock::<ImmutableString>() {
        return Ok(s.as_bytes().to_vec());
    }
    if body.is_blob() {
        return Ok(body.clone().into_blob().unwrap_or_default());
    }
    Err(invalid(
        "body",
        &format!(
            "expected the raw body as a string or a blob, got {} — verify the bytes as they \
             arrived, not a map parsed from them",
            body.type_name()
        ),
    ))
}

/// `#{ ok, scheme, code, reason, event }`: `ok` with the scheme that matched (`v2`, or
/// `v1` alone) and the parsed event; or not, with a `code` (`missing`, `malformed`,
/// `stale`, `mismatch`) and the reason in words.
pub fn verify(
    header: &Dynamic,
    body: &Dynamic,
    secret: &str,
    tolerance: i64,
) -> RhaiResult<Dynamic> {
    let header = if header.is_unit() {
        None
    } else if let Some(h) = header.read_lock::<ImmutableString>() {
        Some(h.to_string())
    } else {
        return Err(invalid(
            "header",
            &format!(
                "expected the X-Zavu-Signature header as a string (or () when there was none), got {}",
                header.type_name()
            ),
        ));
    };
    if secret.is_empty() {
        return Err(invalid("secret", "must not be empty"));
    }
    let bytes = body_bytes(body)?;
    let now = chrono::Utc::now().timestamp();
    let mut out = Map::new();
    match webhook::verify(header.as_deref(), &bytes, secret, now, tolerance) {
        Ok(scheme) => {
            out.insert("ok".into(), true.into());
            let name = match scheme {
                webhook::Scheme::V1 => "v1",
                webhook::Scheme::V2 => "v2",
            };
            out.insert("scheme".into(), name.into());
            out.insert("code".into(), Dynamic::UNIT);
            out.insert("reason".into(), Dynamic::UNIT);
            let event = serde_json::from_slice::<Value>(&bytes)
                .map(|v| from_json(&v))
                .unwrap_or(Dynamic::UNIT);
            out.insert("event".into(), event);
        }
        Err(refused) => {
            let code = match refused {
                Refused::Missing => "missing",
                Refused::Malformed(_) => "malformed",
                Refused::Stale { .. } => "stale",
                Refused::Mismatch => "mismatch",
            };
            out.insert("ok".into(), false.into());
            out.insert("scheme".into(), Dynamic::UNIT);
            out.insert("code".into(), code.into());
            out.insert("reason".into(), refused.to_string().into());
            out.insert("event".into(), Dynamic::UNIT);
        }
    }
    Ok(Dynamic::from_map(out))
}

fn verify_map(map: &Map) -> RhaiResult<Dynamic> {
    // Read by hand: a body may be a blob, which has no JSON form for `Params`.
    let mut errors = vec![];
    for key in map.keys() {
        if !VERIFY_KEYS.contains(&key.as_str()) {
            let hint = validate::suggest(key, VERIFY_KEYS)
                .map(|s| format!(" — did you mean `{s}`?"))
                .unwrap_or_default();
            errors.push(FieldError::new(
                &[key],
                format!("unknown key{hint} (valid keys: {})", VERIFY_KEYS.join(", ")),
            ));
        }
    }
    let secret = match map.get("secret").map(|s| s.clone().into_immutable_string()) {
        Some(Ok(s)) => s.to_string(),
        Some(Err(t)) => {
            errors.push(FieldError::new(
                &["secret"],
                format!("expected a string, got {t}"),
            ));
            String::new()
        }
        None => {
            errors.push(FieldError::new(
                &["secret"],
                "required: the webhook's secret",
            ));
            String::new()
        }
    };
    if !map.contains_key("body") {
        errors.push(FieldError::new(
            &["body"],
            "required: the raw body as it arrived",
        ));
    }
    let tolerance = match map.get("toleranceSeconds") {
        None => DEFAULT_TOLERANCE_SECONDS,
        Some(t) => match t.as_int() {
            Ok(n) if n > 0 => n,
            _ => {
                errors.push(FieldError::new(
                    &["toleranceSeconds"],
                    format!("expected a whole number of seconds above 0, got {t}"),
                ));
                0
            }
        },
    };
    if !errors.is_empty() {
        return Err(ScriptApiError::invalid_params(VERIFY, &errors).into_err());
    }
    let header = map.get("header").cloned().unwrap_or(Dynamic::UNIT);
    let body = map.get("body").cloned().unwrap_or(Dynamic::UNIT);
    verify(&header, &body, &secret, tolerance)
}

pub(super) fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<Webhook>("Webhook")
        .register_fn("configure", |w: &mut Webhook, map: Map| {
            configure(&w.0, &map)
        })
        .register_fn("configure", |w: &mut Webhook, url: ImmutableString| {
            let mut map = Map::new();
            map.insert("url".into(), url.into());
            configure(&w.0, &map)
        })
        .register_fn("get", |w: &mut Webhook| get(&w.0))
        .register_fn("get", |w: &mut Webhook, map: Map| {
            no_params("zavu.webhook.get", &map)?;
            get(&w.0)
        })
        .register_fn("update", |w: &mut Webhook, map: Map| update(&w.0, &map))
        .register_fn("delete", |w: &mut Webhook| delete(&w.0))
        .register_fn("delete", |w: &mut Webhook, map: Map| {
            no_params("zavu.webhook.delete", &map)?;
            delete(&w.0)
        })
        .register_fn(
            "verify",
            |_: &mut Webhook, header: Dynamic, body: Dynamic, secret: ImmutableString| {
                verify(&header, &body, &secret, DEFAULT_TOLERANCE_SECONDS)
            },
        )
        .register_fn("verify", |_: &mut Webhook, map: Map| verify_map(&map));
}
