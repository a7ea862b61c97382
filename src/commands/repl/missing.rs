//! Reading a property an API result does not have, in the REPL: `inv.clientname` says so —
//! with the nearest property it does have — instead of quietly giving `()`, which a person
//! at a prompt takes for "empty". Only maps that are API objects are held to this (an `id`
//! and a timestamp, or a page's `items` and `nextCursor`); the session's own maps keep
//! Rhai's rule that a missing property is `()`. Scripts keep it everywhere: an optional
//! field the API leaves out must read as `()` there.

use crate::api::validate::suggest;
use rhai::{Dynamic, Engine, EvalAltResult, Map, Position};

/// What kind of API object a map is, if it is one.
fn kind(map: &Map) -> Option<&'static str> {
    let has = |k: &str| map.contains_key(k);
    if has("items") && has("nextCursor") {
        return Some("page");
    }
    if !has("id") || !(has("createdAt") || has("updatedAt")) {
        return None;
    }
    Some(if has("token") && has("url") {
        "invitation"
    } else if has("messageType") {
        "message"
    } else if has("phoneNumber") && has("name") {
        "sender"
    } else if has("language") && has("body") {
        "template"
    } else {
        "result"
    })
}

/// The error for `prop` missing from an API object, or `None` for any other map.
pub fn complaint(map: &Map, prop: &str) -> Option<String> {
    let kind = kind(map)?;
    let keys: Vec<&str> = map.keys().map(|k| k.as_str()).collect();
    let hint = suggest(prop, &keys)
        .map(|k| format!(" — did you mean `{k}`?"))
        .unwrap_or_default();
    Some(format!(
        "the {kind} has no property `{prop}`{hint} (it has: {})",
        keys.join(", ")
    ))
}

pub fn register(engine: &mut Engine) {
    #[allow(deprecated)] // marked volatile, not deprecated
    engine.on_map_missing_property(|map, prop, _ctx| match complaint(map, prop) {
        Some(message) => Err(Box::new(EvalAltResult::ErrorRuntime(
            Dynamic::from(message),
            Position::NONE,
        ))),
        None => Ok(Dynamic::UNIT.into()),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_object_says_what_it_has_and_other_maps_stay_quiet() {
        let mut inv = Map::new();
        for k in ["id", "token", "url", "status", "clientName", "createdAt"] {
            inv.insert(k.into(), Dynamic::UNIT);
        }
        let said = complaint(&inv, "clientname").unwrap();
        assert!(
            said.starts_with(
                "the invitation has no property `clientname` — did you mean `clientName`?"
            ),
            "{said}"
        );
        let mut mine = Map::new();
        mine.insert("a".into(), Dynamic::UNIT);
        assert_eq!(complaint(&mine, "b"), None);
    }
}
