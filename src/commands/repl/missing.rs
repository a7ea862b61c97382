//! Reading a property an API result does not have, in the REPL: `inv.clientname` says so —
//! with the nearest property it does have — instead of quietly giving `()`, which a person
//! at a prompt takes for "empty". Only maps that are API objects are held to this (an `id`
//! and a timestamp, or a page's `items` and `nextCursor`); the session's own maps keep
//! Rhai's rule that a missing property is `()`. Scripts keep it everywhere: an optional
//! field the API leaves out must read as `()` there.

use crate::api::validate::suggest;
use rhai::{Dynamic, Engine, Map};

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

/// The map path and the property of an input that only reads a property: `inv.clientname`
/// gives `("inv", "clientname")`. Only a chain of plain names, so evaluating the path again
/// to look at the map has no side effects (no calls, no indexing expressions).
pub fn property_read(code: &str) -> Option<(&str, &str)> {
    let text = code.trim().trim_end_matches(';').trim_end();
    let (path, prop) = text.rsplit_once('.')?;
    let name = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    (path.split('.').all(name) && name(prop)).then_some((path, prop))
}

/// After an input that read `path.prop` and gave `()`: the complaint, when `path` is an API
/// object without `prop`. Checked after the fact, not with Rhai's missing-property hook,
/// because that hook also runs for assignments (`m.k = v`, `m["k"] = v`) and cannot tell
/// them from reads, so it would swallow every new key a session adds to its own maps.
pub fn after_read(
    engine: &Engine,
    scope: &mut rhai::Scope,
    code: &str,
    value: &Dynamic,
) -> Option<String> {
    if !value.is_unit() {
        return None;
    }
    let (path, prop) = property_read(code)?;
    let parent = engine
        .eval_expression_with_scope::<Dynamic>(scope, path)
        .ok()?;
    let map = parent.read_lock::<Map>()?;
    if map.contains_key(prop) {
        return None;
    }
    complaint(&map, prop)
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

    #[test]
    fn only_a_chain_of_plain_names_is_a_property_read() {
        assert_eq!(property_read("inv.clientname"), Some(("inv", "clientname")));
        assert_eq!(
            property_read(" __last.invitation.id ; "),
            Some(("__last.invitation", "id"))
        );
        assert_eq!(property_read("inv"), None);
        assert_eq!(property_read("f().x"), None);
        assert_eq!(property_read("m[\"k\"].x"), None);
        assert_eq!(property_read("m.k = 1"), None);
    }
}
