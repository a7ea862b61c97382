//! The `zavu` object: the Zavu API as scripts see it, shaped like the official SDK docs —
//! `zavu.invitations.create(#{ clientName: "Acme Corp" })`,
//! `zavu.invitations.get(#{ invitationId: id })`, `zavu.messages.send(#{ …, "Zavu-Sender": id })`.
//!
//! Parameters are checked against the contract before anything is sent (unknown keys, wrong
//! types, bad values), and every failure is thrown as a catchable `ApiError`. Return values
//! follow the docs samples: `create` gives the invitation itself; `get`/`cancel` give
//! `#{ invitation }`; `list` gives `#{ items, nextCursor }` with `nextCursor` `()` on the
//! last page. This module turns script calls into client calls; it never builds HTTP.

use crate::api::message::{CHANNELS, LIST_STATUSES};
use crate::api::validate::{self, UnknownKeys};
use crate::api::{
    FieldError, Invitation, InvitationEnvelope, InvitationStatus, ListInvitations, ListMessages,
    ListPage, MessageEnvelope, Page,
};
use crate::client::{ApiClient, ApiKey, ClientError, ClientOptions, InvitationPager};
use crate::engine::api_error::ScriptApiError;
use crate::engine::bridge::{Bridge, Stopped};
use crate::engine::convert::{self, to_dynamic};
use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, Map, Position};
use serde_json::Value;
use std::future::Future;
use std::sync::{Arc, Mutex};

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// A resource of the `zavu` object, its Rhai type name, and its methods with their forms —
/// the one table behind dispatch errors, REPL completion and help.
pub struct ResourceSpec {
    pub name: &'static str,
    pub type_name: &'static str,
    pub methods: &'static [(&'static str, &'static str)],
}

pub const RESOURCES: &[ResourceSpec] = &[
    ResourceSpec {
        name: "invitations",
        type_name: "Invitations",
        methods: &[
            ("create", "create(params) → invitation"),
            ("get", "get(id) or get(#{ invitationId }) → #{ invitation }"),
            (
                "list",
                "list() or list(#{ status, limit, cursor }) → #{ items, nextCursor }",
            ),
            (
                "cancel",
                "cancel(id) or cancel(#{ invitationId }) → #{ invitation }",
            ),
            (
                "all",
                "all() or all(#{ status, limit }) → every invitation, page by page, for `for`",
            ),
        ],
    },
    ResourceSpec {
        name: "messages",
        type_name: "Messages",
        methods: &[
            (
                "send",
                "send(#{ to, channel, messageType, text, content, idempotencyKey, \"Zavu-Sender\", … }) → #{ message }",
            ),
            ("get", "get(id) or get(#{ messageId }) → #{ message }"),
            (
                "list",
                "list() or list(#{ status, to, channel, limit, cursor }) → #{ items, nextCursor }",
            ),
        ],
    },
    ResourceSpec {
        name: "senders",
        type_name: "Senders",
        methods: &[
            ("get", "get(id) or get(#{ senderId }) → sender"),
            (
                "list",
                "list() or list(#{ limit, cursor }) → #{ items, nextCursor }",
            ),
        ],
    },
    ResourceSpec {
        name: "templates",
        type_name: "Templates",
        methods: &[
            ("get", "get(id) or get(#{ templateId }) → template"),
            (
                "list",
                "list() or list(#{ limit, cursor }) → #{ items, nextCursor }",
            ),
        ],
    },
];

pub fn resource_names() -> Vec<&'static str> {
    RESOURCES.iter().map(|r| r.name).collect()
}

/// Builds the clients a script uses: the default one behind `zavu` (made on first use)
/// and the ones `zavu_client(#{…})` asks for.
pub struct ZavuHost {
    bridge: Arc<Bridge>,
    /// Where `zavu` points, and the settings every client of the run shares.
    api: Option<ClientOptions>,
    default: Mutex<Option<Zavu>>,
}

impl ZavuHost {
    pub fn new(bridge: Arc<Bridge>, api: Option<ClientOptions>) -> Self {
        ZavuHost {
            bridge,
            api,
            default: Mutex::new(None),
        }
    }

    pub fn bridge(&self) -> &Arc<Bridge> {
        &self.bridge
    }

    /// The client behind `zavu`.
    pub fn default_zavu(&self) -> RhaiResult<Zavu> {
        let mut slot = self.default.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(z) = slot.as_ref() {
            return Ok(z.clone());
        }
        let z = self.client_for(None, None)?;
        *slot = Some(z.clone());
        Ok(z)
    }

    /// A client for `apiKey`/`baseUrl`, each defaulting to the current target's.
    pub fn client_for(&self, key: Option<String>, base: Option<String>) -> RhaiResult<Zavu> {
        let Some(api) = &self.api else {
            return Err("no API target: this command does not talk to the API".into());
        };
        let mut opts = api.clone();
        if let Some(key) = key {
            opts.api_key = ApiKey::new(key);
        }
        if let Some(base) = base {
            opts.base_url = base;
        }
        let client = ApiClient::new(opts).map_err(|e| {
            ScriptApiError::invalid_params(
                "zavu_client",
                &[FieldError::new(&["baseUrl"], e.reason)],
            )
            .into_err()
        })?;
        Ok(Zavu {
            client,
            bridge: self.bridge.clone(),
        })
    }
}

/// A handle on one project: a client and the bridge its calls cross.
#[derive(Clone)]
pub struct Zavu {
    client: ApiClient,
    bridge: Arc<Bridge>,
}

macro_rules! resource_types {
    ($($t:ident),*) => {$(
        #[derive(Clone)]
        pub struct $t(Zavu);
    )*};
}
resource_types!(Invitations, Messages, Senders, Templates);

impl Zavu {
    pub fn client(&self) -> &ApiClient {
        &self.client
    }

    /// Awaits a client call on the bridge, turning failures into script errors.
    fn call<T>(
        &self,
        call: &str,
        fut: impl Future<Output = Result<T, ClientError>>,
    ) -> RhaiResult<T> {
        match self.bridge.block_on(fut) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(ScriptApiError::from_client(call, &e).into_err()),
            Err(Stopped(reason)) => Err(stopped(reason)),
        }
    }

    fn describe(&self) -> String {
        format!(
            "Zavu client → {} (key {})",
            self.client.base_url(),
            self.client.key().redacted()
        )
    }
}

pub fn stopped(reason: String) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorTerminated(
        reason.into(),
        Position::NONE,
    ))
}

/// Parameters of one call, as JSON, with the call's name for error messages.
struct Params {
    call: &'static str,
    obj: serde_json::Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Params {
    fn new(call: &'static str, map: &Map, allowed: &[&str]) -> RhaiResult<Params> {
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

    fn string(&mut self, key: &str) -> Option<String> {
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

    fn one_of(&mut self, key: &str, allowed: &[&str]) -> Option<String> {
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

    fn limit(&mut self) -> Option<i64> {
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

    fn required_id(&mut self, key: &str) -> String {
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

    fn finish(self) -> RhaiResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ScriptApiError::invalid_params(self.call, &self.errors).into_err())
        }
    }
}

fn id_from_map(call: &'static str, map: &Map, key: &'static str) -> RhaiResult<String> {
    let mut p = Params::new(call, map, &[key])?;
    let id = p.required_id(key);
    p.finish()?;
    Ok(id)
}

fn id_from_str(call: &'static str, id: &str, key: &str) -> RhaiResult<String> {
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
fn page_dynamic<T: serde::Serialize>(page: Page<T>) -> Dynamic {
    let next = page.next().map(str::to_string);
    to_dynamic(&Page {
        items: page.items,
        next_cursor: next,
    })
}

fn list_page(call: &'static str, map: &Map) -> RhaiResult<ListPage> {
    let mut p = Params::new(call, map, &["limit", "cursor"])?;
    let out = ListPage {
        limit: p.limit(),
        cursor: p.string("cursor"),
    };
    p.finish()?;
    Ok(out)
}

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

// ---- invitations ----

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

// ---- messages ----

fn send_message(m: &mut Messages, map: Map) -> RhaiResult<Dynamic> {
    const CALL: &str = "zavu.messages.send";
    let mut allowed: Vec<&str> = validate::SEND_MESSAGE_KEYS.to_vec();
    allowed.push("Zavu-Sender");
    let mut p = Params::new(CALL, &map, &allowed)?;
    let sender = p.string("Zavu-Sender");
    p.obj.remove("Zavu-Sender");
    let mut errors = std::mem::take(&mut p.errors);
    let body = Value::Object(std::mem::take(&mut p.obj));
    let params = match validate::send_message(&body, UnknownKeys::Ignore) {
        Ok(params) if errors.is_empty() => params,
        Ok(_) => return Err(ScriptApiError::invalid_params(CALL, &errors).into_err()),
        Err(mut more) => {
            errors.append(&mut more);
            return Err(ScriptApiError::invalid_params(CALL, &errors).into_err());
        }
    };
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

// ---- senders and templates ----

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

// ---- more projects ----

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
            _ => describe!(Templates),
        }
    }
}
