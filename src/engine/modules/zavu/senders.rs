//! `zavu.senders`: list, get, update, delete — what a partner does with the sender a
//! completed invitation created (name it, make it the default, point its webhook at their
//! server).

use super::host::{RhaiResult, Senders, Zavu};
use super::params::{Params, id_from_map, id_from_str, list_page, page_dynamic};
use crate::api::validate::{self, UPDATE_SENDER_KEYS, UnknownKeys};
use crate::engine::convert::to_dynamic;
use rhai::{Dynamic, Engine, ImmutableString, Map};
use serde_json::Value;

const UPDATE: &str = "zavu.senders.update";

fn get_sender(z: &Zavu, id: String) -> RhaiResult<Dynamic> {
    Ok(to_dynamic(
        &z.call("zavu.senders.get", z.client.get_sender(&id))?,
    ))
}

fn list_senders(z: &Zavu, map: &Map) -> RhaiResult<Dynamic> {
    const CALL: &str = "zavu.senders.list";
    let params = list_page(CALL, map)?;
    Ok(page_dynamic(z.call(CALL, z.client.list_senders(&params))?))
}

/// `update(id, #{ … })` or `update(#{ senderId, … })`. In a script `webhookUrl: ""`
/// removes the webhook (the API's `null`, which a script map cannot hold).
fn update_sender(z: &Zavu, id: Option<String>, map: &Map) -> RhaiResult<Dynamic> {
    let mut allowed = UPDATE_SENDER_KEYS.to_vec();
    if id.is_none() {
        allowed.insert(0, "senderId");
    }
    let mut p = Params::new(UPDATE, map, &allowed)?;
    let id = match id {
        Some(id) => id,
        None => {
            let id = p.required_id("senderId");
            p.obj.remove("senderId");
            id
        }
    };
    if p.obj.get("webhookUrl").and_then(Value::as_str) == Some("") {
        p.obj.insert("webhookUrl".into(), Value::Null);
    }
    let update = p.check_with(|body| validate::update_sender(body, UnknownKeys::Reject))?;
    Ok(to_dynamic(
        &z.call(UPDATE, z.client.update_sender(&id, &update))?,
    ))
}

fn delete_sender(z: &Zavu, id: String) -> RhaiResult<Dynamic> {
    z.call("zavu.senders.delete", z.client.delete_sender(&id))?;
    Ok(Dynamic::UNIT)
}

pub(super) fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<Senders>("Senders")
        .register_fn("get", |s: &mut Senders, id: ImmutableString| {
            get_sender(&s.0, id_from_str("zavu.senders.get", &id, "senderId")?)
        })
        .register_fn("get", |s: &mut Senders, map: Map| {
            get_sender(&s.0, id_from_map("zavu.senders.get", &map, "senderId")?)
        })
        .register_fn("list", |s: &mut Senders| list_senders(&s.0, &Map::new()))
        .register_fn("list", |s: &mut Senders, map: Map| list_senders(&s.0, &map))
        .register_fn(
            "update",
            |s: &mut Senders, id: ImmutableString, map: Map| {
                let id = id_from_str(UPDATE, &id, "senderId")?;
                update_sender(&s.0, Some(id), &map)
            },
        )
        .register_fn("update", |s: &mut Senders, map: Map| {
            update_sender(&s.0, None, &map)
        })
        .register_fn("delete", |s: &mut Senders, id: ImmutableString| {
            delete_sender(&s.0, id_from_str("zavu.senders.delete", &id, "senderId")?)
        })
        .register_fn("delete", |s: &mut Senders, map: Map| {
            delete_sender(&s.0, id_from_map("zavu.senders.delete", &map, "senderId")?)
        });
}
