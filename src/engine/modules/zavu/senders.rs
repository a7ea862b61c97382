//! `zavu.senders` and `zavu.templates`: what a follow-up needs to find the sender a
//! completed client connected and the template to send through it.

use super::host::{RhaiResult, Senders, Templates, Zavu};
use super::params::{id_from_map, id_from_str, list_page, page_dynamic};
use crate::engine::convert::to_dynamic;
use rhai::{Dynamic, Engine, ImmutableString, Map};

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
        .register_fn("list", |s: &mut Senders, map: Map| list_senders(&s.0, &map));

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
        });
}
