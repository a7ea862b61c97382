//! `zavu.templates`: list, get, create, submit — a template is created as a draft,
//! submitted for WhatsApp's review with a sender, and can be sent once approved.

use super::host::{RhaiResult, Templates, Zavu};
use super::params::{Params, id_from_map, id_from_str, list_page, page_dynamic};
use crate::api::validate::{self, CREATE_TEMPLATE_KEYS, SUBMIT_TEMPLATE_KEYS, UnknownKeys};
use crate::engine::api_error::ScriptApiError;
use crate::engine::convert::to_dynamic;
use rhai::{Dynamic, Engine, ImmutableString, Map};
use serde_json::Value;

const CREATE: &str = "zavu.templates.create";
const SUBMIT: &str = "zavu.templates.submit";

fn get_template(z: &Zavu, id: String) -> RhaiResult<Dynamic> {
    Ok(to_dynamic(
        &z.call("zavu.templates.get", z.client.get_template(&id))?,
    ))
}

fn list_templates(z: &Zavu, map: &Map) -> RhaiResult<Dynamic> {
    const CALL: &str = "zavu.templates.list";
    let params = list_page(CALL, map)?;
    Ok(page_dynamic(
        z.call(CALL, z.client.list_templates(&params))?,
    ))
}

fn create_template(z: &Zavu, map: &Map) -> RhaiResult<Dynamic> {
    let p = Params::new(CREATE, map, CREATE_TEMPLATE_KEYS)?;
    let params = validate::create_template(&Value::Object(p.obj), UnknownKeys::Reject)
        .map_err(|errors| ScriptApiError::invalid_params(CREATE, &errors).into_err())?;
    Ok(to_dynamic(
        &z.call(CREATE, z.client.create_template(&params))?,
    ))
}

/// `submit(id, #{ senderId, category })` or `submit(#{ templateId, senderId, category })`.
fn submit_template(z: &Zavu, id: Option<String>, map: &Map) -> RhaiResult<Dynamic> {
    let mut allowed = SUBMIT_TEMPLATE_KEYS.to_vec();
    if id.is_none() {
        allowed.insert(0, "templateId");
    }
    let mut p = Params::new(SUBMIT, map, &allowed)?;
    let id = match id {
        Some(id) => id,
        None => {
            let id = p.required_id("templateId");
            p.obj.remove("templateId");
            id
        }
    };
    let params = p.check_with(|body| validate::submit_template(body, UnknownKeys::Reject))?;
    Ok(to_dynamic(
        &z.call(SUBMIT, z.client.submit_template(&id, &params))?,
    ))
}

pub(super) fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<Templates>("Templates")
        .register_fn("get", |t: &mut Templates, id: ImmutableString| {
            get_template(&t.0, id_from_str("zavu.templates.get", &id, "templateId")?)
        })
        .register_fn("get", |t: &mut Templates, map: Map| {
            get_template(&t.0, id_from_map("zavu.templates.get", &map, "templateId")?)
        })
        .register_fn("list", |t: &mut Templates| {
            list_templates(&t.0, &Map::new())
        })
        .register_fn("list", |t: &mut Templates, map: Map| {
            list_templates(&t.0, &map)
        })
        .register_fn("create", |t: &mut Templates, map: Map| {
            create_template(&t.0, &map)
        })
        .register_fn(
            "submit",
            |t: &mut Templates, id: ImmutableString, map: Map| {
                let id = id_from_str(SUBMIT, &id, "templateId")?;
                submit_template(&t.0, Some(id), &map)
            },
        )
        .register_fn("submit", |t: &mut Templates, map: Map| {
            submit_template(&t.0, None, &map)
        });
}
