//! The built-in sandbox: a local, stateful imitation of the Zavu API v1 that the official
//! SDKs cannot tell from the real service, plus a control plane, fault injection and an
//! invite page. `zavu-script sandbox` serves it; `--sandbox` and every test start one
//! in-process on port 0 through [`Sandbox::start`].
//!
//! It imports the wire types (`crate::api`) and nothing else of the project: never the
//! client, never the engine, so it stays an independent witness of the contract.
//!
//! `routes` is the table of every route; one file per resource holds its handlers
//! (`invitations`, `messages`, `senders`, `templates`, `account` for phone numbers, `me`
//! and balance, `webhook` for the project webhook); `gate` is what every request passes
//! (auth, rate limit, faults); `body` reads requests and `reply` writes answers; `wire`
//! guards the byte stream under HTTP; `store`, `cursor`, `seeds` and `hooks` keep the
//! data; `deliver` sends webhook events in the background and `delivery_log` remembers
//! each attempt.
//!
//! Imports: `api` only.

mod account;
mod body;
mod clock;
mod control;
mod cursor;
mod deliver;
mod delivery_log;
mod faults;
mod gate;
mod hooks;
mod invitations;
mod lifecycle;
mod messages;
mod page;
mod reply;
mod routes;
mod seeds;
mod senders;
mod server;
mod state;
mod stats;
mod store;
mod templates;
mod webhook;
mod wire;

pub use lifecycle::effective_status;
pub use seeds::{DEFAULT_SENDER_ID, SEED_PHONE_NUMBER_ID, SEED_TEMPLATE_ID};
pub use server::{DEFAULT_BUDGET_PER_MINUTE, DEFAULT_KEY, Sandbox, SandboxError, SandboxOptions};
