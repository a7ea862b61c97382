//! The words the REPL's API help is written in: what a parameter must be (a [`Rule`],
//! built from the contract's own constants so a changed limit shows up by itself), a
//! parameter, and one method's documentation. Data shapes only; the tables are in
//! [`super::api_docs`] and [`super::api_docs_after`].

use crate::api::InvitationStatus;
use crate::api::message::{CHANNELS, LIST_STATUSES, MESSAGE_TYPES};
use crate::api::validate::{
    CONNECTION_TYPES, DEFAULT_EXPIRES_IN_DAYS, DEFAULT_LIST_LIMIT, EXPIRES_IN_DAYS, LIST_LIMIT,
};
use std::fmt;

/// What a parameter must be, in the contract's terms.
#[derive(Clone, Copy, Debug)]
pub enum Rule {
    /// Said in words.
    Text(&'static str),
    MaxChars(usize),
    Email,
    E164,
    Days,
    CountryCodes,
    ConnectionType,
    InvitationStatus,
    MessageStatus,
    /// A channel; `with_auto` for send, which may leave the choice to the API.
    Channel {
        with_auto: bool,
    },
    MessageType,
    Limit,
    Cursor,
    /// An id, required.
    Id(&'static str),
    /// One of these values, with what it is for.
    OneOf(&'static str, &'static [&'static str]),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Text(t) => f.write_str(t),
            Rule::MaxChars(n) => write!(f, "at most {n} characters"),
            Rule::Email => f.write_str("an email address"),
            Rule::E164 => f.write_str("E.164 phone number, like +14155551234"),
            Rule::Days => write!(
                f,
                "{} to {} days, default {}",
                EXPIRES_IN_DAYS.start(),
                EXPIRES_IN_DAYS.end(),
                DEFAULT_EXPIRES_IN_DAYS
            ),
            Rule::CountryCodes => f.write_str(
                "2-letter ISO 3166-1 country codes the client may connect from, like [\"US\", \"MX\"]",
            ),
            Rule::ConnectionType => write!(
                f,
                "{} (default {}); messenger cannot be combined with phoneNumberId or allowedPhoneCountries",
                CONNECTION_TYPES.join(" | "),
                CONNECTION_TYPES[0]
            ),
            Rule::InvitationStatus => {
                let names: Vec<&str> = InvitationStatus::KNOWN.iter().map(|s| s.as_str()).collect();
                write!(f, "only invitations with this status: {}", names.join(" | "))
            }
            Rule::MessageStatus => write!(
                f,
                "only messages with this status: {}",
                LIST_STATUSES.join(" | ")
            ),
            Rule::Channel { with_auto: true } => write!(
                f,
                "{}; left out: email for an email address, sms for text, whatsapp otherwise",
                CHANNELS.join(" | ")
            ),
            Rule::Channel { with_auto: false } => {
                write!(f, "only this channel: {}", CHANNELS[1..].join(" | "))
            }
            Rule::MessageType => write!(f, "{} (default text)", MESSAGE_TYPES.join(" | ")),
            Rule::Limit => write!(
                f,
                "items per page, {} to {}, default {}",
                LIST_LIMIT.start(),
                LIST_LIMIT.end(),
                DEFAULT_LIST_LIMIT
            ),
            Rule::Cursor => {
                f.write_str("the previous page's nextCursor; left out or () for the first page")
            }
            Rule::Id(what) => write!(f, "required: the {what}'s id"),
            Rule::OneOf(what, values) => write!(f, "{what}: {}", values.join(" | ")),
        }
    }
}

impl Rule {
    /// The values the contract allows, when it lists them.
    pub fn values(&self) -> Vec<&'static str> {
        match self {
            Rule::ConnectionType => CONNECTION_TYPES.to_vec(),
            Rule::InvitationStatus => InvitationStatus::NAMES.to_vec(),
            Rule::MessageStatus => LIST_STATUSES.to_vec(),
            Rule::Channel { with_auto: true } => CHANNELS.to_vec(),
            Rule::Channel { with_auto: false } => CHANNELS[1..].to_vec(),
            Rule::MessageType => MESSAGE_TYPES.to_vec(),
            Rule::OneOf(_, values) => values.to_vec(),
            _ => vec![],
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub key: &'static str,
    pub kind: &'static str,
    pub rule: Rule,
}

pub(super) const fn p(key: &'static str, kind: &'static str, rule: Rule) -> Param {
    Param { key, kind, rule }
}

/// One method of the `zavu` object: what it does on the wire, the keys of its parameter
/// map, and an example.
pub struct MethodDoc {
    pub resource: &'static str,
    pub method: &'static str,
    pub summary: &'static str,
    pub http: &'static str,
    pub params: &'static [Param],
    pub example: &'static str,
}

pub(super) const LIST_PAGE: &[Param] = &[
    p("limit", "integer", Rule::Limit),
    p("cursor", "string", Rule::Cursor),
];
