//! `zavu.messages`: send (with `"Zavu-Sender"` taken out of the map into its header),
//! get and list.

use super::host::{Messages, RhaiResult, Zavu};
use super::params::{Params, id_from_map, id_from_str, page_dynamic};
use crate::api::message::{CHANNELS, LIST_STATUSES};
use crate::api::validate::{self, UnknownKeys};
use crate::api::{ListMessages, MessageEnvelope};
use crate::engine::convert::to_dynamic;
use rhai::{Dynamic, Engine, ImmutableString, Map};

fn send_message(m: &mut Messages, map: Map) -> RhaiResult<Dynamic> {
    const CALL: &str = "zavu.messages.send";
    let mut allowed: Vec<&str> = validate::SEND_MESSAGE_KEYS.to_vec();
    allowed.push("Zavu-Sender");
    let mut p = Params::new(CALL, &map, &allowed)?;
    let sender = p.string("Zavu-Sender");
    p.obj.remove("Zavu-Sender");
    let params = p.check_with(|body| validate::send_message(body, UnknownKeys::Reject))?;
    let z = &m.0;
    let message = z.call(CALL, z.client.send_message(&params, sender.as_deref()))?;
    Ok(to_dynamic(&MessageEnvelope { message }))
}

fn get_message(z: &Zavu, id: String) -> RhaiResult<Dynamic> {
    let message = z.call("zavu.messages.get", z.client.get_message(&id))?;
    Ok(to_dynamic(&MessageEnvelope { message }))
}

fn list_messages(z: &Zavu, map: &Map) -> RhaiResult<Dynamic> {
    const CALL: &str = "zavu.messages.list";
    let mut p = Params::new(CALL, map, &["status", "to", "channel", "limit", "cursor"])?;
    let params = ListMessages {
        status: p.one_of("status", LIST_STATUSES),
        to: p.string("to"),
        channel: p.one_of("channel", &CHANNELS[1..]),
        limit: p.limit(),
        cursor: p.string("cursor"),
    };
    p.finish()?;
    Ok(page_dynamic(z.call(CALL, z.client.list_messages(&params))?))
}

pub(super) fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<Messages>("Messages")
        .register_fn("send", send_message)
        .register_fn("get", |m: &mut Messages, id: ImmutableString| {
            get_message(&m.0, id_from_str("zavu.messages.get", &id, "messageId")?)
        })
        .register_fn("get", |m: &mut Messages, map: Map| {
            get_message(&m.0, id_from_map("zavu.messages.get", &map, "messageId")?)
        })
        .register_fn("list", |m: &mut Messages| list_messages(&m.0, &Map::new()))
        .register_fn("list", |m: &mut Messages, map: Map| {
            list_messages(&m.0, &map)
        });
}
