//! A call's parameter map checked before anything is sent: unknown keys refused with a
//! did-you-mean, wrong types and bad values named by their key, every problem of the call
//! gathered into one catchable `ApiError`; and the small shapes every resource shares
//! (an id given as a string or a map, a list page as scripts see it).

use crate::api::validate;
use crate::api::{FieldError, ListPage, Page};
use crate::engine::api_error::ScriptApiError;
use crate::engine::convert::{self, to_dynamic};
use rhai::{Dynamic, EvalAltResult, Map};
use serde_json::Value;

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// Parameters of one call, as JSON, with the call's name for error messages.
pub(super) struct Params {
    call: &'static str,
    pub obj: serde_json::Map<String, Value>,
    pub errors: Vec<FieldError>,
}

impl Params {
    pub fn new(call: &'static str, map: &Map, allowed: &[&str]) -> RhaiResult<Params> {
        let obj = convert::params(map).map_err(|e| {
            ScriptApiError::invalid_params(call, &[FieldError::new(&[], e)]).into_err()
        })?;
        let mut errors = vec![];
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                let hint = validate::suggest(key, allowed)
                    .map(|s| format!(" — did you mean `{s}`?"))
                    .unwrap_or_default();
                errors.push(FieldError::new(
                    &[key],
                    format!("unknown key{hint} (valid keys: {})", allowed.join(", ")),
                ));
            }
        }
        Ok(Params { call, obj, errors })
    }

    pub fn string(&mut self, key: &str) -> Option<String> {
        match self.obj.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.errors.push(FieldError::new(
                    &[key],
                    format!("expected a string, got {other}"),
                ));
                None
            }
        }
    }

    pub fn one_of(&mut self, key: &str, allowed: &[&str]) -> Option<String> {
        let v = self.string(key)?;
        if allowed.contains(&v.as_str()) {
            Some(v)
        } else {
            self.errors.push(FieldError::new(
                &[key],
                format!("must be one of {} (got {v:?})", allowed.join(", ")),
            ));
            None
        }
    }

    pub fn limit(&mut self) -> Option<i64> {
        let v = self.obj.get("limit")?.clone();
        match v.as_i64() {
            Some(l) => match validate::list_limit(Some(l)) {
                Ok(l) => Some(l),
                Err(e) => {
                    self.errors.push(e);
                    None
                }
            },
            None => {
                self.errors.push(FieldError::new(
                    &["limit"],
                    format!("expected an integer, got {v}"),
                ));
                None
            }
        }
    }

    pub fn required_id(&mut self, key: &str) -> String {
        match self.string(key) {
            Some(id) if !id.is_empty() => id,
            Some(_) => {
                self.errors
                    .push(FieldError::new(&[key], "must not be empty"));
                String::new()
            }
            None => {
                if !self.obj.contains_key(key) {
                    self.errors.push(FieldError::new(&[key], "required"));
                }
                String::new()
            }
        }
    }

    /// The map (what is left of it) checked by the contract's rule for the call, every
    /// problem of the call — unknown keys found here and the rule's own — in one error,
    /// one per field.
    pub fn check_with<T>(
        self,
        rule: impl FnOnce(&Value) -> Result<T, Vec<FieldError>>,
    ) -> RhaiResult<T> {
        let Params {
            call,
            obj,
            mut errors,
        } = self;
        match rule(&Value::Object(obj)) {
            Ok(v) if errors.is_empty() => Ok(v),
            Ok(_) => Err(ScriptApiError::invalid_params(call, &errors).into_err()),
            Err(more) => {
                for e in more {
                    if !errors.iter().any(|seen| seen.path == e.path) {
                        errors.push(e);
                    }
                }
                Err(ScriptApiError::invalid_params(call, &errors).into_err())
            }
        }
    }

    pub fn finish(self) -> RhaiResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ScriptApiError::invalid_params(self.call, &self.errors).into_err())
        }
    }
}

pub(super) fn id_from_map(call: &'static str, map: &Map, key: &'static str) -> RhaiResult<String> {
    let mut p = Params::new(call, map, &[key])?;
    let id = p.required_id(key);
    p.finish()?;
    Ok(id)
}

pub(super) fn id_from_str(call: &'static str, id: &str, key: &str) -> RhaiResult<String> {
    if id.is_empty() {
        return Err(ScriptApiError::invalid_params(
            call,
            &[FieldError::new(&[key], "must not be empty")],
        )
        .into_err());
    }
    Ok(id.to_string())
}

/// A list answer as scripts see it: `nextCursor` is `()` once there is no next page.
pub(super) fn page_dynamic<T: serde::Serialize>(page: Page<T>) -> Dynamic {
    let next = page.next().map(str::to_string);
    to_dynamic(&Page {
        items: page.items,
        next_cursor: next,
    })
}

pub(super) fn list_page(call: &'static str, map: &Map) -> RhaiResult<ListPage> {
    let mut p = Params::new(call, map, &["limit", "cursor"])?;
    let out = ListPage {
        limit: p.limit(),
        cursor: p.string("cursor"),
    };
    p.finish()?;
    Ok(out)
}
