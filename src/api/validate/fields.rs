//! Reading fields out of one JSON object while collecting every problem, each with its
//! path: the reader every request rule in this module is written with.

use super::rules::suggest;
use crate::api::error::FieldError;
use serde_json::{Map, Value};

/// What to do with keys the contract does not name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownKeys {
    Ignore,
    Reject,
}

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Collects errors while reading fields out of one JSON object.
pub(super) struct Fields<'a> {
    pub obj: &'a Map<String, Value>,
    pub errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        // An explicit null is the same as leaving the field out.
        self.obj.get(key).filter(|v| !v.is_null())
    }

    pub fn fail(&mut self, path: &[&str], message: impl Into<String>) {
        self.errors.push(FieldError::new(path, message));
    }

    pub fn string(&mut self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.fail(
                    &[key],
                    format!("expected a string, got {}", type_name(other)),
                );
                None
            }
        }
    }

    pub fn integer(&mut self, key: &str) -> Option<i64> {
        let v = self.get(key)?;
        if let Some(i) = v.as_i64() {
            return Some(i);
        }
        if let Some(f) = v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15) {
            return Some(f as i64);
        }
        self.fail(&[key], format!("expected an integer, got {}", type_name(v)));
        None
    }

    pub fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                self.fail(
                    &[key],
                    format!("expected a boolean, got {}", type_name(other)),
                );
                None
            }
        }
    }

    pub fn object(&mut self, key: &str) -> Option<&'a Map<String, Value>> {
        match self.get(key)? {
            Value::Object(m) => Some(m),
            other => {
                self.fail(
                    &[key],
                    format!("expected an object, got {}", type_name(other)),
                );
                None
            }
        }
    }

    pub fn unknown_keys(&mut self, known: &[&str], policy: UnknownKeys) {
        if policy == UnknownKeys::Ignore {
            return;
        }
        for key in self.obj.keys() {
            if !known.contains(&key.as_str()) {
                let hint = suggest(key, known)
                    .map(|s| format!(" — did you mean `{s}`?"))
                    .unwrap_or_default();
                self.errors.push(FieldError::new(
                    &[key],
                    format!("unknown key{hint} (valid keys: {})", known.join(", ")),
                ));
            }
        }
    }
}

pub(super) fn as_object(body: &Value) -> Result<&Map<String, Value>, Vec<FieldError>> {
    match body {
        Value::Object(m) => Ok(m),
        other => Err(vec![FieldError {
            path: vec![],
            message: format!("expected a JSON object, got {}", type_name(other)),
        }]),
    }
}
