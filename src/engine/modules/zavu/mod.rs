//! The `zavu` object: the Zavu API as scripts see it, shaped like the official SDK docs —
//! `zavu.invitations.create(#{ clientName: "Acme Corp" })`,
//! `zavu.invitations.get(#{ invitationId: id })`, `zavu.messages.send(#{ …, "Zavu-Sender": id })`.
//!
//! Parameters are checked against the contract before anything is sent (unknown keys, wrong
//! types, bad values), and every failure is thrown as a catchable `ApiError`. Return values
//! follow the docs samples: `create` gives the invitation itself; `get`/`cancel` give
//! `#{ invitation }`; `list` gives `#{ items, nextCursor }` with `nextCursor` `()` on the
//! last page. This module turns script calls into client calls; it never builds HTTP.
//!
//! This file registers it all; [`host`] holds the clients behind `zavu`, [`resources`] the
//! one table of resources and methods, [`params`] checks a call's map, and one file per
//! resource (`invitations`, `messages`, `senders`, `templates`; `account` for
//! `phoneNumbers`, `me` and `balance`; `webhook` for the project webhook and `verify`)
//! holds its methods.

mod account;
mod host;
mod invitations;
mod messages;
mod params;
mod resources;
mod senders;
mod templates;
mod webhook;

pub use invitations::InvitationIter;
pub use resources::{RESOURCES, ResourceSpec, resource_names};

pub use host::{
    Balance, Invitations, Me, Messages, PhoneNumbers, Senders, Templates, Webhook, Zavu, ZavuHost,
    stopped,
};
pub use webhook::VERIFY_KEYS;

use crate::api::validate;
use host::RhaiResult;
use params::Params;
use rhai::{Dynamic, Engine, Map};
use std::sync::Arc;

/// `zavu_client(#{ apiKey, baseUrl })`: a client for another project. An omitted key or
/// base URL means the current one.
pub fn zavu_client(host: &ZavuHost, map: &Map) -> RhaiResult<Zavu> {
    let mut p = Params::new("zavu_client", map, &["apiKey", "baseUrl"])?;
    let key = p.string("apiKey");
    let base = p.string("baseUrl");
    p.finish()?;
    host.client_for(key, base)
}

fn resource_of(z: &Zavu, name: &str) -> RhaiResult<Dynamic> {
    Ok(match name {
        "invitations" => Dynamic::from(Invitations(z.clone())),
        "messages" => Dynamic::from(Messages(z.clone())),
        "senders" => Dynamic::from(Senders(z.clone())),
        "templates" => Dynamic::from(Templates(z.clone())),
        "phoneNumbers" => Dynamic::from(PhoneNumbers(z.clone())),
        "me" => Dynamic::from(Me(z.clone())),
        "balance" => Dynamic::from(Balance(z.clone())),
        "webhook" => Dynamic::from(Webhook(z.clone())),
        other => {
            let names = resource_names();
            let hint = validate::suggest(other, &names)
                .map(|s| format!(" — did you mean `zavu.{s}`?"))
                .unwrap_or_default();
            return Err(format!(
                "zavu has no resource `{other}`{hint} (resources: {})",
                names.join(", ")
            )
            .into());
        }
    })
}

/// Registers the `zavu` types and their methods, and `zavu_client`.
pub fn register(engine: &mut Engine, host: Arc<ZavuHost>) {
    engine
        .register_type_with_name::<Zavu>("Zavu")
        .register_fn("to_string", |z: &mut Zavu| z.describe())
        .register_fn("to_debug", |z: &mut Zavu| z.describe())
        // `zavu.invitations` and a misspelt `zavu.invitatons` both land here (property
        // access falls back to the indexer), so the error can name the valid resources.
        .register_indexer_get(|z: &mut Zavu, name: &str| resource_of(z, name))
        .register_fn("zavu_client", move |map: Map| zavu_client(&host, &map));
    invitations::register(engine);
    messages::register(engine);
    senders::register(engine);
    templates::register(engine);
    account::register(engine);
    webhook::register(engine);

    for spec in RESOURCES {
        let label = format!("zavu.{}", spec.name);
        macro_rules! describe {
            ($t:ty) => {{
                let (a, b) = (label.clone(), label.clone());
                engine.register_fn("to_string", move |_: &mut $t| a.clone());
                engine.register_fn("to_debug", move |_: &mut $t| b.clone());
            }};
        }
        match spec.type_name {
            "Invitations" => describe!(Invitations),
            "Messages" => describe!(Messages),
            "Senders" => describe!(Senders),
            "Templates" => describe!(Templates),
            "PhoneNumbers" => describe!(PhoneNumbers),
            "Me" => describe!(Me),
            "Webhook" => describe!(Webhook),
            _ => describe!(Balance),
        }
    }
}
