//! Values crossing between Rhai and JSON. Maps become objects, arrays arrays, `()` null;
//! in request parameters a key whose value is `()` is left out altogether, so a script can
//! write `#{ cursor: cursor }` with a null cursor, as the SDK docs do.

use rhai::{Dynamic, Map};
use serde_json::Value;

/// A Rhai value as JSON. Values JSON cannot hold (functions, blobs, timestamps) are an
/// error naming their type.
pub fn to_json(value: &Dynamic) -> Result<Value, String> {
    rhai::serde::from_dynamic::<Value>(value).map_err(|e| {
        format!(
            "a value of type `{}` cannot be turned into JSON: {e}",
            value.type_name()
        )
    })
}

/// A JSON value as a Rhai value.
pub fn from_json(value: &Value) -> Dynamic {
    rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT)
}

/// Any serialisable value (an API object) as a Rhai value.
pub fn to_dynamic<T: serde::Serialize>(value: &T) -> Dynamic {
    match serde_json::to_value(value) {
        Ok(v) => from_json(&v),
        Err(_) => Dynamic::UNIT,
    }
}

/// Request parameters: the map as a JSON object without its `()` entries, at every depth.
pub fn params(map: &Map) -> Result<serde_json::Map<String, Value>, String> {
    let mut out = serde_json::Map::new();
    for (k, v) in map {
        if v.is_unit() {
            continue;
        }
        let json = if let Some(inner) = v.read_lock::<Map>() {
            Value::Object(params(&inner).map_err(|e| format!("{k}: {e}"))?)
        } else {
            to_json(v).map_err(|e| format!("{k}: {e}"))?
        };
        out.insert(k.to_string(), json);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unit_entries_are_left_out_of_params() {
        let engine = rhai::Engine::new();
        let map: Map = engine
            .eval(r#"#{ limit: 50, cursor: (), content: #{ templateId: "t", x: () } }"#)
            .unwrap();
        let p = params(&map).unwrap();
        assert_eq!(
            Value::Object(p),
            json!({"limit": 50, "content": {"templateId": "t"}})
        );
    }

    #[test]
    fn round_trips_nested_values() {
        let v = json!({"a": [1, 2.5, null, "x"], "b": {"c": true}});
        assert_eq!(to_json(&from_json(&v)).unwrap(), v);
    }
}
