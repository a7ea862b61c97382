//! `zavu.invitations`: create, get, list, cancel, and `all` — every page, fetched as a
//! `for` loop reaches it.

use super::host::{Invitations, RhaiResult, Zavu, stopped};
use super::params::{Params, id_from_map, id_from_str, page_dynamic};
use crate::api::validate::{self, UnknownKeys};
use crate::api::{Invitation, InvitationEnvelope, InvitationStatus, ListInvitations};
use crate::client::InvitationPager;
use crate::engine::api_error::ScriptApiError;
use crate::engine::bridge::Stopped;
use crate::engine::convert::to_dynamic;
use rhai::{Dynamic, Engine, ImmutableString, Map};
use serde_json::Value;
use std::sync::{Arc, Mutex};

fn list_invitations_params(
    call: &'static str,
    map: &Map,
    allow_cursor: bool,
) -> RhaiResult<ListInvitations> {
    let allowed: &[&str] = if allow_cursor {
        &["status", "limit", "cursor"]
    } else {
        &["status", "limit"]
    };
    let mut p = Params::new(call, map, allowed)?;
    let out = ListInvitations {
        status: p.one_of("status", &InvitationStatus::NAMES),
        limit: p.limit(),
        cursor: if allow_cursor {
            p.string("cursor")
        } else {
            None
        },
    };
    p.finish()?;
    Ok(out)
}

fn create_invitation(inv: &mut Invitations, map: Map) -> RhaiResult<Dynamic> {
    const CALL: &str = "zavu.invitations.create";
    let obj = Params::new(CALL, &map, validate::CREATE_INVITATION_KEYS)?;
    let body = Value::Object(obj.obj);
    let params = validate::create_invitation(&body, UnknownKeys::Reject)
        .map_err(|errors| ScriptApiError::invalid_params(CALL, &errors).into_err())?;
    let z = &inv.0;
    let created: Invitation = z.call(CALL, z.client.create_invitation(&params))?;
    Ok(to_dynamic(&created))
}

fn get_invitation(z: &Zavu, id: String) -> RhaiResult<Dynamic> {
    let invitation = z.call("zavu.invitations.get", z.client.get_invitation(&id))?;
    Ok(to_dynamic(&InvitationEnvelope { invitation }))
}

fn cancel_invitation(z: &Zavu, id: String) -> RhaiResult<Dynamic> {
    let invitation = z.call("zavu.invitations.cancel", z.client.cancel_invitation(&id))?;
    Ok(to_dynamic(&InvitationEnvelope { invitation }))
}

fn list_invitations(z: &Zavu, map: &Map) -> RhaiResult<Dynamic> {
    const CALL: &str = "zavu.invitations.list";
    let params = list_invitations_params(CALL, map, true)?;
    Ok(page_dynamic(
        z.call(CALL, z.client.list_invitations(&params))?,
    ))
}

/// `for inv in zavu.invitations.all(#{ status: "pending" }) { … }`: pages are fetched
/// only as the loop reaches them.
#[derive(Clone)]
pub struct InvitationIter {
    pager: Arc<Mutex<InvitationPager>>,
    zavu: Zavu,
}

pub struct InvitationIterator {
    inner: InvitationIter,
    done: bool,
}

impl IntoIterator for InvitationIter {
    type Item = RhaiResult<Dynamic>;
    type IntoIter = InvitationIterator;
    fn into_iter(self) -> InvitationIterator {
        InvitationIterator {
            inner: self,
            done: false,
        }
    }
}

impl Iterator for InvitationIterator {
    type Item = RhaiResult<Dynamic>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut pager = self.inner.pager.lock().unwrap_or_else(|p| p.into_inner());
        let step = self.inner.zavu.bridge.block_on(pager.next());
        match step {
            Ok(Some(Ok(inv))) => Some(Ok(to_dynamic(&inv))),
            Ok(None) => {
                self.done = true;
                None
            }
            Ok(Some(Err(e))) => {
                self.done = true;
                Some(Err(
                    ScriptApiError::from_client("zavu.invitations.all", &e).into_err()
                ))
            }
            Err(Stopped(reason)) => {
                self.done = true;
                Some(Err(stopped(reason)))
            }
        }
    }
}

fn all_invitations(inv: &mut Invitations, map: Map) -> RhaiResult<InvitationIter> {
    let params = list_invitations_params("zavu.invitations.all", &map, false)?;
    Ok(InvitationIter {
        pager: Arc::new(Mutex::new(inv.0.client.invitations_all(params))),
        zavu: inv.0.clone(),
    })
}

pub(super) fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<Invitations>("Invitations")
        .register_fn("create", create_invitation)
        .register_fn("create", |i: &mut Invitations| {
            create_invitation(i, Map::new())
        })
        .register_fn("get", |i: &mut Invitations, id: ImmutableString| {
            get_invitation(
                &i.0,
                id_from_str("zavu.invitations.get", &id, "invitationId")?,
            )
        })
        .register_fn("get", |i: &mut Invitations, m: Map| {
            get_invitation(
                &i.0,
                id_from_map("zavu.invitations.get", &m, "invitationId")?,
            )
        })
        .register_fn("list", |i: &mut Invitations| {
            list_invitations(&i.0, &Map::new())
        })
        .register_fn("list", |i: &mut Invitations, m: Map| {
            list_invitations(&i.0, &m)
        })
        .register_fn("cancel", |i: &mut Invitations, id: ImmutableString| {
            cancel_invitation(
                &i.0,
                id_from_str("zavu.invitations.cancel", &id, "invitationId")?,
            )
        })
        .register_fn("cancel", |i: &mut Invitations, m: Map| {
            cancel_invitation(
                &i.0,
                id_from_map("zavu.invitations.cancel", &m, "invitationId")?,
            )
        })
        .register_fn("all", all_invitations)
        .register_fn("all", |i: &mut Invitations| all_invitations(i, Map::new()))
        .register_iterator_result::<InvitationIter, Dynamic>();
}
