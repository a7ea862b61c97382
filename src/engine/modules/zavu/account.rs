//! `zavu.phoneNumbers`, `zavu.me` and `zavu.balance`: the project's numbers (to find the
//! one to pre-assign with `phoneNumberId`), who the key belongs to, and what is left to
//! spend.

use super::host::{Balance, Me, PhoneNumbers, RhaiResult, Zavu};
use super::params::{Params, id_from_map, id_from_str, page_dynamic};
use crate::api::phone_number::STATUSES;
use crate::api::{ListPhoneNumbers, PhoneNumberEnvelope};
use crate::engine::convert::to_dynamic;
use rhai::{Dynamic, Engine, ImmutableString, Map};

fn get_phone_number(z: &Zavu, id: String) -> RhaiResult<Dynamic> {
    let phone_number = z.call("zavu.phoneNumbers.get", z.client.get_phone_number(&id))?;
    Ok(to_dynamic(&PhoneNumberEnvelope { phone_number }))
}

fn list_phone_numbers(z: &Zavu, map: &Map) -> RhaiResult<Dynamic> {
    const CALL: &str = "zavu.phoneNumbers.list";
    let mut p = Params::new(CALL, map, &["status", "limit", "cursor"])?;
    let params = ListPhoneNumbers {
        status: p.one_of("status", STATUSES),
        limit: p.limit(),
        cursor: p.string("cursor"),
    };
    p.finish()?;
    Ok(page_dynamic(
        z.call(CALL, z.client.list_phone_numbers(&params))?,
    ))
}

/// A call that takes no parameters refuses any it is given, as every call does.
fn no_params(call: &'static str, map: &Map) -> RhaiResult<()> {
    Params::new(call, map, &[])?.finish()
}

fn me(z: &Zavu) -> RhaiResult<Dynamic> {
    Ok(to_dynamic(&z.call("zavu.me.get", z.client.me())?))
}

fn balance(z: &Zavu) -> RhaiResult<Dynamic> {
    Ok(to_dynamic(&z.call("zavu.balance.get", z.client.balance())?))
}

pub(super) fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<PhoneNumbers>("PhoneNumbers")
        .register_fn("get", |p: &mut PhoneNumbers, id: ImmutableString| {
            get_phone_number(
                &p.0,
                id_from_str("zavu.phoneNumbers.get", &id, "phoneNumberId")?,
            )
        })
        .register_fn("get", |p: &mut PhoneNumbers, map: Map| {
            get_phone_number(
                &p.0,
                id_from_map("zavu.phoneNumbers.get", &map, "phoneNumberId")?,
            )
        })
        .register_fn("list", |p: &mut PhoneNumbers| {
            list_phone_numbers(&p.0, &Map::new())
        })
        .register_fn("list", |p: &mut PhoneNumbers, map: Map| {
            list_phone_numbers(&p.0, &map)
        });
    engine
        .register_type_with_name::<Me>("Me")
        .register_fn("get", |m: &mut Me| me(&m.0))
        .register_fn("get", |m: &mut Me, map: Map| {
            no_params("zavu.me.get", &map)?;
            me(&m.0)
        });
    engine
        .register_type_with_name::<Balance>("Balance")
        .register_fn("get", |b: &mut Balance| balance(&b.0))
        .register_fn("get", |b: &mut Balance, map: Map| {
            no_params("zavu.balance.get", &map)?;
            balance(&b.0)
        });
}
