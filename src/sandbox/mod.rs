//! The built-in sandbox: a local, stateful imitation of the Zavu API v1 that the official
//! SDKs cannot tell from the real service, plus a control plane, fault injection and an
//! invite page. `zavu-script sandbox` serves it; `--sandbox` and every test start one
//! in-process on port 0 through [`Sandbox::start`].
//!
//! It imports the wire types (`crate::api`) and nothing else of the project: never the
//! client, never the engine, so it stays an independent witness of the contract.
//!
//! Imports: `api` only.

mod clock;
mod control;
mod faults;
mod lifecycle;
mod page;
mod reply;
mod routes;
mod server;
mod state;
mod stats;
mod store;

pub use lifecycle::effective_status;
pub use server::{DEFAULT_KEY, Sandbox, SandboxError, SandboxOptions};
pub use store::{DEFAULT_SENDER_ID, SEED_PHONE_NUMBER_ID, SEED_TEMPLATE_ID};
